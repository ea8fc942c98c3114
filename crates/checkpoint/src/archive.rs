//! Self-contained checkpoint archives: one zstd-compressed tar holding the
//! CRIU images, the bundle's config.json and a metadata document that lists
//! every file with its size and SHA-256.
//!
//! Layout (in this order):
//!
//! * `cryo-archive.json`: [`Metadata`] (format version, cryo and CRIU
//!   versions, kernel, cgroup mode, time, the container's id and
//!   annotations, CRIU's dump statistics) and the manifest;
//! * `config.json`: the bundle's config at checkpoint time;
//! * `images/<name>`: every file of the image directory (flat: CRIU writes
//!   no sub-directories).
//!
//! Archives are written 0600, atomically (temp file + rename). [`extract`]
//! refuses anything that does not match the manifest (a truncated,
//! corrupted or tampered archive), any path outside the layout, links,
//! devices and oversized entries, before a restore sees a single file.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::error::{CheckpointError, Ctx, Result};

pub const FORMAT: u32 = 1;
pub const METADATA: &str = "cryo-archive.json";
pub const CONFIG: &str = "config.json";
pub const IMAGES: &str = "images";
/// No single file of a checkpoint is bigger than this (memory dumps of
/// large containers included); it bounds what a hostile archive can make us
/// write.
pub const MAX_FILE: u64 = 64 << 30;
const MAX_METADATA: u64 = 16 << 20;

/// One file of the archive.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileEntry {
    pub size: u64,
    pub sha256: String,
}

/// What the archive says about itself.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Metadata {
    pub format: u32,
    pub cryo_version: String,
    pub criu_version: String,
    pub kernel: String,
    pub cgroup_mode: String,
    pub created: String,
    pub container_id: String,
    #[serde(default)]
    pub annotations: BTreeMap<String, String>,
    /// CRIU's dump statistics (`stats-dump`), when known.
    #[serde(default)]
    pub stats: BTreeMap<String, u64>,
    /// Path inside the archive → size and digest.
    pub files: BTreeMap<String, FileEntry>,
}

fn bad(archive: &Path, why: impl std::fmt::Display) -> CheckpointError {
    CheckpointError::Invalid(format!(
        "invalid checkpoint archive {}: {why}",
        archive.display()
    ))
}

pub(crate) fn sha256_file(path: &Path) -> Result<(u64, String)> {
    let mut f = std::fs::File::open(path).ctx(|| format!("open {}", path.display()))?;
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 16];
    let mut size = 0u64;
    loop {
        let n = f
            .read(&mut buf)
            .ctx(|| format!("read {}", path.display()))?;
        if n == 0 {
            break;
        }
        size += n as u64;
        h.update(&buf[..n]);
    }
    Ok((size, hex(&h.finalize())))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The regular files of an image directory, sorted (CRIU leaves sockets and
/// its cgroup yard directory behind at times: those are not images).
fn image_files(dir: &Path) -> Result<Vec<String>> {
    let mut names = Vec::new();
    for e in std::fs::read_dir(dir).ctx(|| format!("read {}", dir.display()))? {
        let e = e.ctx(|| format!("read {}", dir.display()))?;
        let ft = e
            .file_type()
            .ctx(|| format!("stat {}", e.path().display()))?;
        if !ft.is_file() {
            continue;
        }
        if let Some(n) = e.file_name().to_str() {
            if valid_name(n) {
                names.push(n.to_string());
            }
        }
    }
    names.sort();
    Ok(names)
}

/// A flat file name: no separators, not `.`/`..`, printable, bounded.
pub fn valid_name(n: &str) -> bool {
    !n.is_empty()
        && n.len() <= 255
        && n != "."
        && n != ".."
        && !n.contains('/')
        && n.chars().all(|c| !c.is_control())
}

/// Writes `dest` from an image directory and a bundle config. Returns the
/// metadata written.
pub fn create(dest: &Path, images: &Path, config: &Path, mut meta: Metadata) -> Result<Metadata> {
    let names = image_files(images)?;
    meta.format = FORMAT;
    meta.files.clear();
    let (size, sha256) = sha256_file(config)?;
    meta.files
        .insert(CONFIG.to_string(), FileEntry { size, sha256 });
    for n in &names {
        let (size, sha256) = sha256_file(&images.join(n))?;
        meta.files
            .insert(format!("{IMAGES}/{n}"), FileEntry { size, sha256 });
    }
    let json =
        serde_json::to_vec_pretty(&meta).map_err(|e| CheckpointError::Invalid(e.to_string()))?;

    let tmp = dest.with_file_name(format!(
        ".{}.tmp{}",
        dest.file_name()
            .and_then(|n| n.to_str())
            .unwrap_or("archive"),
        std::process::id()
    ));
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(true)
        .write(true)
        .mode(0o600)
        .custom_flags(libc::O_CLOEXEC)
        .open(&tmp)
        .ctx(|| format!("create {}", tmp.display()))?;
    let written = (|| -> std::io::Result<()> {
        let enc = zstd::Encoder::new(file, 3)?;
        let mut tar = tar::Builder::new(enc);
        tar.mode(tar::HeaderMode::Deterministic);
        let mut header = tar::Header::new_gnu();
        header.set_size(json.len() as u64);
        header.set_mode(0o600);
        header.set_cksum();
        tar.append_data(&mut header, METADATA, json.as_slice())?;
        tar.append_path_with_name(config, CONFIG)?;
        for n in &names {
            tar.append_path_with_name(images.join(n), format!("{IMAGES}/{n}"))?;
        }
        let enc = tar.into_inner()?;
        let file = enc.finish()?;
        file.sync_all()
    })();
    if let Err(e) = written {
        let _ = std::fs::remove_file(&tmp);
        return Err(e).ctx(|| format!("write {}", dest.display()));
    }
    std::fs::rename(&tmp, dest).ctx(|| format!("rename {}", dest.display()))?;
    Ok(meta)
}

/// A scratch directory in the state root `root` for unpacking
/// (`kind` "import") or packing ("export") an archive of `id`:
/// `.<kind>-<id>-<pid>-<nanoseconds>`, not yet created. Scratch dirs of
/// either kind left by cryo processes that are gone (killed mid-way) are
/// removed first.
pub fn scratch_dir(root: &Path, kind: &str, id: &str) -> PathBuf {
    remove_stale_scratch(root);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    root.join(format!(".{kind}-{id}-{}-{nanos}", std::process::id()))
}

/// The pid in a scratch dir's name, if it is one.
fn scratch_owner(name: &str) -> Option<u32> {
    let rest = name
        .strip_prefix(".import-")
        .or_else(|| name.strip_prefix(".export-"))?;
    let mut parts = rest.rsplitn(3, '-');
    let (_nanos, pid) = (parts.next()?, parts.next()?);
    parts.next()?;
    pid.parse().ok()
}

fn remove_stale_scratch(root: &Path) {
    let Ok(entries) = std::fs::read_dir(root) else {
        return;
    };
    for e in entries.flatten() {
        let Some(pid) = e.file_name().to_str().and_then(scratch_owner) else {
            continue;
        };
        let is_dir = e.file_type().is_ok_and(|t| t.is_dir());
        if is_dir && !Path::new(&format!("/proc/{pid}")).exists() {
            let _ = std::fs::remove_dir_all(e.path());
        }
    }
}

/// Unpacks and verifies `archive` into `dest` (created 0700; must not
/// exist): the images land in `dest/images`, the config at
/// `dest/config.json`. On any mismatch `dest` is removed again and nothing
/// is left.
pub fn extract(archive: &Path, dest: &Path) -> Result<Metadata> {
    // Missing parents are made private; an existing one (the state root)
    // keeps its mode.
    if let Some(parent) = dest.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(parent)
            .ctx(|| format!("create {}", parent.display()))?;
    }
    // Not recursive and not over an existing one: a failure below removes
    // `dest`, which must then be ours.
    match std::fs::DirBuilder::new().mode(0o700).create(dest) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            return Err(CheckpointError::Invalid(format!(
                "cannot unpack {} into {}: it already exists",
                archive.display(),
                dest.display()
            )))
        }
        Err(e) => return Err(e).ctx(|| format!("create {}", dest.display())),
    }
    let r = extract_inner(archive, dest);
    if r.is_err() {
        let _ = std::fs::remove_dir_all(dest);
    }
    r
}

fn extract_inner(archive: &Path, dest: &Path) -> Result<Metadata> {
    let file = std::fs::File::open(archive).ctx(|| format!("open {}", archive.display()))?;
    let dec = zstd::Decoder::new(file).map_err(|e| bad(archive, e))?;
    let mut tar = tar::Archive::new(dec);
    let entries = tar.entries().map_err(|e| bad(archive, e))?;
    let images = dest.join(IMAGES);
    crate::private_dir(&images)?;
    let mut meta: Option<Metadata> = None;
    let mut seen: BTreeMap<String, FileEntry> = BTreeMap::new();
    for entry in entries {
        let mut entry = entry.map_err(|e| bad(archive, e))?;
        if entry.header().entry_type() != tar::EntryType::Regular {
            return Err(bad(archive, "holds something other than regular files"));
        }
        let name = entry
            .path()
            .map_err(|e| bad(archive, e))?
            .to_str()
            .map(str::to_string)
            .ok_or_else(|| bad(archive, "a file name is not UTF-8"))?;
        let size = entry.header().size().map_err(|e| bad(archive, e))?;
        if name == METADATA {
            if meta.is_some() || !seen.is_empty() {
                return Err(bad(archive, "the metadata is not the first and only one"));
            }
            if size > MAX_METADATA {
                return Err(bad(archive, "oversized metadata"));
            }
            let mut buf = Vec::new();
            entry.read_to_end(&mut buf).map_err(|e| bad(archive, e))?;
            let m: Metadata =
                serde_json::from_slice(&buf).map_err(|e| bad(archive, format!("metadata: {e}")))?;
            if m.format != FORMAT {
                return Err(bad(
                    archive,
                    format!("format {} (this cryo reads {FORMAT})", m.format),
                ));
            }
            cryo_oci::validate_id(&m.container_id)
                .map_err(|e| bad(archive, format!("metadata: {e}")))?;
            meta = Some(m);
            continue;
        }
        let Some(m) = meta.as_ref() else {
            return Err(bad(archive, "no metadata first"));
        };
        let Some(want) = m.files.get(&name) else {
            return Err(bad(archive, format!("{name:?} is not in the manifest")));
        };
        let target: PathBuf = if name == CONFIG {
            dest.join(CONFIG)
        } else {
            match name.strip_prefix("images/") {
                Some(n) if valid_name(n) => images.join(n),
                _ => return Err(bad(archive, format!("unexpected path {name:?}"))),
            }
        };
        if size != want.size || size > MAX_FILE || seen.contains_key(&name) {
            return Err(bad(
                archive,
                format!("{name}: size {size}, manifest says {}", want.size),
            ));
        }
        let mut out = std::fs::OpenOptions::new()
            .create_new(true)
            .write(true)
            .mode(0o600)
            .custom_flags(libc::O_CLOEXEC | libc::O_NOFOLLOW)
            .open(&target)
            .ctx(|| format!("create {}", target.display()))?;
        let mut h = Sha256::new();
        let mut buf = vec![0u8; 1 << 16];
        let mut got = 0u64;
        loop {
            let n = entry
                .read(&mut buf)
                .map_err(|e| bad(archive, format!("{name}: {e}")))?;
            if n == 0 {
                break;
            }
            got += n as u64;
            h.update(&buf[..n]);
            out.write_all(&buf[..n])
                .ctx(|| format!("write {}", target.display()))?;
        }
        let digest = hex(&h.finalize());
        if got != want.size || digest != want.sha256 {
            return Err(bad(
                archive,
                format!("{name} does not match its checksum (tampered or corrupt)"),
            ));
        }
        seen.insert(
            name,
            FileEntry {
                size: got,
                sha256: digest,
            },
        );
    }
    let meta = meta.ok_or_else(|| bad(archive, "no metadata (empty or truncated)"))?;
    if let Some(missing) = meta.files.keys().find(|k| !seen.contains_key(*k)) {
        return Err(bad(archive, format!("{missing} is missing (truncated?)")));
    }
    Ok(meta)
}

/// CRIU's dump statistics as name → value, from `stats-dump` (a CRIU image:
/// magic pair, then one size-prefixed StatsEntry whose field 1 is the
/// DumpStatsEntry; field numbers from CRIU's images/stats.proto).
pub fn dump_stats(path: &Path) -> BTreeMap<String, u64> {
    const NAMES: &[(u32, &str)] = &[
        (1, "freezing_time"),
        (2, "frozen_time"),
        (3, "memdump_time"),
        (4, "memwrite_time"),
        (5, "pages_scanned"),
        (6, "pages_skipped_parent"),
        (7, "pages_written"),
        (8, "irmap_resolve"),
        (9, "pages_lazy"),
        (10, "page_pipes"),
        (11, "page_pipe_bufs"),
        (12, "shpages_scanned"),
        (13, "shpages_skipped_parent"),
        (14, "shpages_written"),
    ];
    let mut out = BTreeMap::new();
    let Ok(bytes) = std::fs::read(path) else {
        return out;
    };
    // Two magics, then the entry size.
    let Some(body) = bytes.get(12..) else {
        return out;
    };
    let Some(dump) = protobuf_field(body, 1) else {
        return out;
    };
    let mut is = protobuf::CodedInputStream::from_bytes(dump);
    while let Ok(Some(tag)) = is.read_raw_tag_or_eof() {
        let (field, wire) = (tag >> 3, tag & 7);
        if wire != 0 {
            break;
        }
        let Ok(v) = is.read_uint64() else { break };
        if let Some((_, n)) = NAMES.iter().find(|(f, _)| *f == field) {
            out.insert((*n).to_string(), v);
        }
    }
    out
}

/// The bytes of the first length-delimited `field` of a protobuf message.
fn protobuf_field(msg: &[u8], field: u32) -> Option<&[u8]> {
    let mut pos = 0usize;
    while pos < msg.len() {
        let (tag, n) = varint(&msg[pos..])?;
        pos += n;
        let (f, wire) = ((tag >> 3) as u32, tag & 7);
        match wire {
            0 => pos += varint(&msg[pos..])?.1,
            1 => pos += 8,
            5 => pos += 4,
            2 => {
                let (len, n) = varint(&msg[pos..])?;
                pos += n;
                let end = pos.checked_add(usize::try_from(len).ok()?)?;
                let data = msg.get(pos..end)?;
                if f == field {
                    return Some(data);
                }
                pos = end;
            }
            _ => return None,
        }
    }
    None
}

fn varint(b: &[u8]) -> Option<(u64, usize)> {
    let mut v = 0u64;
    for (i, byte) in b.iter().enumerate().take(10) {
        v |= u64::from(byte & 0x7f) << (7 * i);
        if byte & 0x80 == 0 {
            return Some((v, i + 1));
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn meta() -> Metadata {
        Metadata {
            format: FORMAT,
            cryo_version: "0.1.0".into(),
            criu_version: "4.2.1".into(),
            kernel: "6.18".into(),
            cgroup_mode: "hybrid".into(),
            created: "2026-12-01T00:00:00Z".into(),
            container_id: "web".into(),
            annotations: BTreeMap::new(),
            stats: BTreeMap::new(),
            files: BTreeMap::new(),
        }
    }

    fn fixture() -> std::io::Result<(tempfile::TempDir, PathBuf)> {
        let t = tempfile::tempdir()?;
        let img = t.path().join("img");
        std::fs::create_dir(&img)?;
        std::fs::write(img.join("inventory.img"), b"inventory")?;
        std::fs::write(img.join("pages-1.img"), vec![7u8; 100_000])?;
        std::fs::write(t.path().join("config.json"), b"{}")?;
        let archive = t.path().join("a.tar.zst");
        create(&archive, &img, &t.path().join("config.json"), meta())
            .map_err(std::io::Error::other)?;
        Ok((t, archive))
    }

    #[test]
    fn round_trip_and_mode() -> std::io::Result<()> {
        use std::os::unix::fs::PermissionsExt;
        let (t, archive) = fixture()?;
        assert_eq!(
            std::fs::metadata(&archive)?.permissions().mode() & 0o777,
            0o600
        );
        let out = t.path().join("out");
        let m = extract(&archive, &out).map_err(std::io::Error::other)?;
        assert_eq!(m.container_id, "web");
        assert_eq!(
            std::fs::read(out.join("images/pages-1.img"))?,
            vec![7u8; 100_000]
        );
        assert_eq!(std::fs::read(out.join("config.json"))?, b"{}");
        Ok(())
    }

    #[test]
    fn truncated_and_tampered_archives_are_refused() -> std::io::Result<()> {
        let (t, archive) = fixture()?;
        let bytes = std::fs::read(&archive)?;
        let cut = t.path().join("cut.tar.zst");
        std::fs::write(&cut, &bytes[..bytes.len() / 2])?;
        let out = t.path().join("o1");
        assert!(extract(&cut, &out).is_err());
        assert!(!out.exists(), "nothing left after a refused archive");

        // Re-pack with one image changed but the old manifest.
        let dir = t.path().join("x");
        extract(&archive, &dir).map_err(std::io::Error::other)?;
        std::fs::write(dir.join("images/pages-1.img"), vec![8u8; 100_000])?;
        let m: Metadata = {
            let f = std::fs::File::open(&archive)?;
            let mut a = tar::Archive::new(zstd::Decoder::new(f)?);
            let mut e = a
                .entries()?
                .next()
                .ok_or_else(|| std::io::Error::other("empty"))??;
            let mut s = String::new();
            e.read_to_string(&mut s)?;
            serde_json::from_str(&s)?
        };
        let evil = t.path().join("evil.tar.zst");
        {
            let f = std::fs::File::create(&evil)?;
            let mut b = tar::Builder::new(zstd::Encoder::new(f, 1)?);
            let json = serde_json::to_vec(&m)?;
            let mut h = tar::Header::new_gnu();
            h.set_size(json.len() as u64);
            h.set_mode(0o600);
            h.set_cksum();
            b.append_data(&mut h, METADATA, json.as_slice())?;
            b.append_path_with_name(dir.join("config.json"), CONFIG)?;
            b.append_path_with_name(dir.join("images/inventory.img"), "images/inventory.img")?;
            b.append_path_with_name(dir.join("images/pages-1.img"), "images/pages-1.img")?;
            b.into_inner()?.finish()?;
        }
        let e = extract(&evil, &t.path().join("o2"))
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(e.contains("checksum"), "{e}");
        Ok(())
    }

    #[test]
    fn paths_outside_the_layout_are_refused() {
        for n in ["", ".", "..", "a/b", "x\n"] {
            assert!(!valid_name(n), "{n:?}");
        }
        assert!(valid_name("core-1.img"));
    }

    #[test]
    fn stats_decoding() {
        // magic, magic, size, StatsEntry{dump: {frozen_time: 300, pages_written: 5}}
        let mut b = vec![0u8; 8];
        let dump = [0x10, 0xac, 0x02, 0x38, 0x05];
        let entry = [&[0x0a, dump.len() as u8][..], &dump[..]].concat();
        b.extend_from_slice(&(entry.len() as u32).to_le_bytes());
        b.extend_from_slice(&entry);
        let t = tempfile::tempdir().expect("tmp");
        let p = t.path().join("stats-dump");
        std::fs::write(&p, b).expect("write");
        let s = dump_stats(&p);
        assert_eq!(s.get("frozen_time"), Some(&300));
        assert_eq!(s.get("pages_written"), Some(&5));
    }

    #[test]
    fn scratch_names_and_their_owner() {
        assert_eq!(scratch_owner(".import-my-id-123-456789"), Some(123));
        assert_eq!(scratch_owner(".export-x-9-1"), Some(9));
        assert_eq!(scratch_owner(".import-x-notapid-1"), None);
        assert_eq!(scratch_owner(".import-1"), None);
        assert_eq!(scratch_owner("import-x-1-2"), None);
        assert_eq!(scratch_owner("a-container"), None);
        let t = tempfile::tempdir().expect("tempdir");
        let name = scratch_dir(t.path(), "import", "c-1");
        let file = name
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default();
        assert_eq!(scratch_owner(file), Some(std::process::id()), "{file}");
    }

    #[test]
    fn stale_scratch_of_gone_processes_is_removed() -> std::io::Result<()> {
        let t = tempfile::tempdir()?;
        // pid_max is at most 2^22: no process has this pid.
        let stale = t.path().join(".import-c-99999999-1");
        let live = t.path().join(format!(".export-c-{}-1", std::process::id()));
        let container = t.path().join("c");
        for d in [&stale, &live, &container] {
            std::fs::create_dir(d)?;
        }
        let _ = scratch_dir(t.path(), "export", "c");
        assert!(!stale.exists());
        assert!(live.exists() && container.exists());
        Ok(())
    }

    #[test]
    fn extract_refuses_an_existing_destination() -> std::io::Result<()> {
        let t = tempfile::tempdir()?;
        let dest = t.path().join("there");
        std::fs::create_dir(&dest)?;
        std::fs::write(dest.join("keep"), "x")?;
        let e = extract(&t.path().join("no-such.tar.zst"), &dest)
            .map(|_| ())
            .map_err(|e| e.to_string());
        assert!(
            e.as_ref().is_err_and(|m| m.contains("already exists")),
            "{e:?}"
        );
        assert!(
            dest.join("keep").exists(),
            "the existing one was left alone"
        );
        Ok(())
    }
}
