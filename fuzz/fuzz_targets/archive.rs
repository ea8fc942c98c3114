//! Checkpoint archives (`restore --import`, `create` from an archive,
//! `inspect`): bytes → `cryo_checkpoint::archive::extract` into a fresh
//! directory: zstd, the tar headers (GNU/ustar/PAX, long names, entry
//! types), the `cryo-archive.json` metadata and manifest, names, sizes and
//! SHA-256 of every file.
//!
//! The first input byte picks the form of the rest: odd, it is the archive
//! file as is (`.tar.zst`); even, it is the tar stream, which the target
//! compresses first, so mutations reach the tar and manifest checks instead
//! of stopping at zstd's frame checksum.
//!
//! Checked beyond "no panic": whatever the archive holds, nothing is created
//! outside the destination directory; a refused archive leaves no
//! destination behind; an accepted one is exactly the layout
//! (`config.json` and `images/<flat name>`: regular files with one link,
//! no symlinks, no devices, no other directories), every file in the
//! manifest with its size, and nothing the manifest does not list.
#![no_main]

use std::io::Read;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use cryo_checkpoint::archive::{self, Metadata};
use libfuzzer_sys::fuzz_target;

/// A compressed input that inflates beyond this is not tried: a few bytes of
/// zstd can stand for gigabytes, and extract bounds files by the manifest
/// (up to `archive::MAX_FILE`), not by the archive's size.
const MAX_INFLATED: u64 = 16 << 20;

fn scratch_base() -> PathBuf {
    // tmpfs when there is one: every run writes and removes a few files.
    let shm = Path::new("/dev/shm");
    if shm.is_dir() {
        shm.to_path_buf()
    } else {
        std::env::temp_dir()
    }
}

/// Every path below `dir`, relative to it, with its metadata (not followed).
fn walk(dir: &Path, rel: &Path, out: &mut Vec<(PathBuf, std::fs::Metadata)>) {
    let entries = std::fs::read_dir(dir).expect("read a scratch dir");
    for e in entries {
        let e = e.expect("read a scratch dir entry");
        let path = e.path();
        let meta = std::fs::symlink_metadata(&path).expect("lstat a scratch entry");
        let r = rel.join(e.file_name());
        if meta.is_dir() {
            out.push((r.clone(), meta));
            walk(&path, &r, out);
        } else {
            out.push((r, meta));
        }
    }
}

fn inflated_size(data: &[u8]) -> u64 {
    let Ok(dec) = zstd::stream::read::Decoder::new(data) else {
        return 0;
    };
    let mut sink = std::io::sink();
    // A decoding error counts what came before it: extract must refuse it.
    std::io::copy(&mut dec.take(MAX_INFLATED + 1), &mut sink).unwrap_or(0)
}

fn check_accepted(dest: &Path, meta: &Metadata) {
    let mut tree = Vec::new();
    walk(dest, Path::new(""), &mut tree);
    let mut files = 0usize;
    for (rel, m) in &tree {
        let name = rel.to_str().expect("extract wrote a non-UTF-8 name");
        if name == archive::IMAGES {
            assert!(m.is_dir(), "{name} is not a directory");
            continue;
        }
        assert!(
            m.file_type().is_file(),
            "{name}: not a regular file ({:?})",
            m.file_type()
        );
        assert_eq!(m.nlink(), 1, "{name}: a hard link");
        assert_eq!(m.mode() & 0o7777, 0o600, "{name}: mode {:o}", m.mode());
        let layout = name == archive::CONFIG
            || name
                .strip_prefix("images/")
                .is_some_and(archive::valid_name);
        assert!(layout, "{name:?} is outside the layout");
        let want = meta
            .files
            .get(name)
            .unwrap_or_else(|| panic!("{name:?} is not in the manifest"));
        assert_eq!(m.len(), want.size, "{name}: size");
        files += 1;
    }
    assert_eq!(files, meta.files.len(), "manifest files missing: {meta:?}");
    assert!(cryo_oci::validate_id(&meta.container_id).is_ok());
    assert_eq!(meta.format, archive::FORMAT);
}

fuzz_target!(|data: &[u8]| {
    let Some((&form, body)) = data.split_first() else {
        return;
    };
    let bytes = if form & 1 == 1 {
        if inflated_size(body) > MAX_INFLATED {
            return;
        }
        body.to_vec()
    } else {
        zstd::encode_all(body, 1).expect("zstd compresses in memory")
    };

    let scratch = tempfile::Builder::new()
        .prefix("cryo-fuzz-archive.")
        .tempdir_in(scratch_base())
        .expect("scratch dir");
    let root = scratch.path();
    let file = root.join("in.tar.zst");
    std::fs::write(&file, &bytes).expect("write the archive");
    // dest two levels down: a `..` that got through would land in `a` or
    // in the scratch dir, where the walk below sees it.
    let parent = root.join("a/b");
    std::fs::create_dir_all(&parent).expect("mkdir a/b");
    let dest = parent.join("dest");

    let result = archive::extract(&file, &dest);

    let mut tree = Vec::new();
    walk(root, Path::new(""), &mut tree);
    for (rel, m) in &tree {
        let ok = rel == Path::new("in.tar.zst")
            || rel == Path::new("a")
            || rel == Path::new("a/b")
            || (result.is_ok() && rel.starts_with("a/b/dest"));
        assert!(
            ok,
            "extract created {} ({:?}) outside its destination; result {result:?}",
            rel.display(),
            m.file_type()
        );
    }
    assert_eq!(
        std::fs::read(&file).expect("re-read the archive"),
        bytes,
        "extract changed the archive"
    );
    match result {
        Ok(meta) => check_accepted(&dest, &meta),
        Err(e) => {
            // Printed to users.
            assert!(!e.to_string().is_empty());
        }
    }
});
