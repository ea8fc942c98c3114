//! Full disks and bad images: a checkpoint that runs out of space fails
//! clearly, leaves the container running and its images marked
//! incomplete; a restore from truncated, corrupted or other-architecture
//! images fails clearly before anything of a container exists.
//!
//! (Damaged `--export` archives: tests/tests/archive.rs.)
//!
//! Needs root and CRIU; fails without them.

use std::path::{Path, PathBuf};
use std::process::Command;

use cryo_e2e::*;
use serde_json::Value;

fn restore_args<'a>(b: &'a Bundle, img: &'a Path, id: &'a str) -> Vec<&'a str> {
    vec![
        "restore",
        "-d",
        "--bundle",
        b.path_str(),
        "--image-path",
        path_str(img),
        id,
    ]
}

/// Asserts nothing of container `id` exists: no state, state directory,
/// cgroup or mount under the state directory.
fn assert_no_container(rt: &Runtime, id: &str, what: &str) {
    let out = rt.output(&["state", id]);
    assert!(
        !out.success() && out.stderr.contains("does not exist"),
        "{what}: {out}"
    );
    let dir = rt.root_path().join(id);
    assert!(!dir.exists(), "{what}: {} left", dir.display());
    for e in std::fs::read_dir("/sys/fs/cgroup")
        .expect("cgroupfs")
        .flatten()
    {
        let cg = e.path().join("cryo").join(id);
        assert!(!cg.exists(), "{what}: cgroup {} left", cg.display());
    }
    let mounts = std::fs::read_to_string("/proc/self/mountinfo").expect("mountinfo");
    assert!(!mounts.contains(path_str(&dir)), "{what}: a mount is left");
}

/// A tmpfs of `size` at `at`, unmounted on drop.
fn small_tmpfs(at: &Path, size: &str) -> HostMount {
    host_ok(
        "mount",
        &[
            "-t",
            "tmpfs",
            "-o",
            &format!("size={size},mode=0700"),
            "tmpfs",
            path_str(at),
        ],
    );
    HostMount(at.to_path_buf())
}

/// A checkpoint of a container with 16 MiB of memory into a 2 MiB tmpfs:
/// a clear error about the space, the container still counting, the images
/// marked incomplete (restore and inspect refuse them).
#[test]
fn checkpoint_into_a_full_filesystem() {
    let rt = Runtime::cryo();
    let b = memhog_bundle(16);
    let c = run_detached(&rt, &b, "full-disk");
    wait_counter(&b, 3);
    let mnt = tempfile::tempdir().expect("tempdir");
    let _tmpfs = small_tmpfs(mnt.path(), "2m");
    let img = mnt.path().join("img");
    let out = rt.run_fail(&["checkpoint", "--image-path", path_str(&img), &c.id]);
    assert!(
        out.stderr.contains("no space left for the checkpoint")
            && out.stderr.contains(path_str(&img)),
        "{out}"
    );
    assert_eq!(c.status(), "running", "{out}");
    let at = read_counter(&b);
    assert_continues(&b, at);

    let id = unique_id("from-full");
    let _g = rt.guard(&id);
    let (r, _, _) = rt.output_detached(&restore_args(&b, &img, &id));
    assert!(
        !r.success() && r.stderr.contains("is incomplete"),
        "restore from the partial images\n{r}"
    );
    assert_no_container(&rt, &id, "restore from the partial images");
    let inspect = rt.run_fail(&["inspect", path_str(&img)]);
    assert!(inspect.stderr.contains("is incomplete"), "{inspect}");
}

/// A copy of image directory `src`.
fn copy_of(src: &Path, name: &str) -> tempfile::TempDir {
    let dst = image_dir(name);
    host_ok(
        "cp",
        &["-a", &format!("{}/.", path_str(src)), path_str(dst.path())],
    );
    dst
}

fn truncate(p: &Path, len: u64) {
    std::fs::OpenOptions::new()
        .write(true)
        .open(p)
        .and_then(|f| f.set_len(len))
        .unwrap_or_else(|e| panic!("truncate {}: {e}", p.display()));
}

fn flip_byte(p: &Path, at: usize) {
    let mut bytes = std::fs::read(p).expect("read image");
    bytes[at] ^= 0x5a;
    std::fs::write(p, bytes).expect("write image");
}

/// The largest `pages-*.img` of a directory.
fn largest_pages(dir: &Path) -> PathBuf {
    std::fs::read_dir(dir)
        .expect("read image dir")
        .flatten()
        .filter(|e| {
            let n = e.file_name().to_string_lossy().into_owned();
            n.starts_with("pages-") && n.ends_with(".img")
        })
        .max_by_key(|e| e.metadata().map(|m| m.len()).unwrap_or(0))
        .map(|e| e.path())
        .expect("a pages image")
}

/// Rewrites `core-1.img` to claim another architecture: its first entry's
/// `mtype` (field 1, the first byte pair after the two magics and the size)
/// becomes AARCH64 (3). With `manifest`, the checkpoint's manifest is made
/// to agree, as on a checkpoint really made on aarch64.
fn claim_aarch64(dir: &Path, manifest: bool) {
    let core = dir.join("core-1.img");
    let mut bytes = std::fs::read(&core).expect("read core");
    assert_eq!(
        &bytes[12..14],
        &[0x08, 0x01],
        "core-1.img: mtype x86_64 first"
    );
    bytes[13] = 0x03;
    std::fs::write(&core, &bytes).expect("write core");
    if !manifest {
        return;
    }
    let out = Command::new("sha256sum")
        .arg(&core)
        .output()
        .expect("sha256sum");
    let sum = String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .next()
        .expect("a digest")
        .to_string();
    let marker = dir.join("cryo-checkpoint.json");
    let mut m: Value =
        serde_json::from_str(&std::fs::read_to_string(&marker).expect("marker")).expect("JSON");
    m["files"]["core-1.img"]["sha256"] = Value::String(sum);
    std::fs::write(&marker, m.to_string()).expect("write marker");
}

/// Truncated, corrupted and other-architecture images, of cryo's (with
/// its manifest) and foreign ones (without: as runc writes them): each
/// restore fails with an error naming the damage, and no container is
/// left. The undamaged image then restores.
#[test]
fn damaged_images_are_refused_and_leave_nothing() {
    let rt = Runtime::cryo();
    let b = counter_bundle();
    let c = run_detached(&rt, &b, "bad-src");
    wait_counter(&b, 5);
    let good = image_dir("good");
    rt.run_ok(&["checkpoint", "--image-path", path_str(good.path()), &c.id]);
    drop(c);

    type Damage = fn(&Path);
    let cases: &[(&str, Damage, bool, &str)] = &[
        (
            "pages cut in half",
            |d| {
                let p = largest_pages(d);
                let len = std::fs::metadata(&p).map(|m| m.len()).unwrap_or(0);
                truncate(&p, len / 2);
            },
            true,
            "is truncated",
        ),
        (
            "inventory.img removed",
            |d| std::fs::remove_file(d.join("inventory.img")).expect("rm"),
            true,
            "inventory.img is missing",
        ),
        (
            "inventory.img cut",
            |d| truncate(&d.join("inventory.img"), 10),
            true,
            "inventory.img is truncated",
        ),
        (
            "core-1.img corrupted",
            |d| flip_byte(&d.join("core-1.img"), 40),
            true,
            "core-1.img is corrupted",
        ),
        (
            "pstree.img corrupted",
            |d| flip_byte(&d.join("pstree.img"), 14),
            true,
            "pstree.img is corrupted",
        ),
        (
            "made on aarch64",
            |d| claim_aarch64(d, true),
            true,
            "was made on aarch64 (core-1.img) and this host is x86_64",
        ),
        // Foreign images (no manifest): what cryo can tell from the
        // images themselves.
        (
            "foreign, pages cut in half",
            |d| {
                let p = largest_pages(d);
                let len = std::fs::metadata(&p).map(|m| m.len()).unwrap_or(0);
                truncate(&p, len / 2);
            },
            false,
            "is truncated: pagemap-",
        ),
        (
            "foreign, inventory.img cut",
            |d| truncate(&d.join("inventory.img"), 10),
            false,
            "inventory.img: truncated",
        ),
        (
            "foreign, made on aarch64",
            |d| claim_aarch64(d, false),
            false,
            "was made on aarch64",
        ),
    ];
    for (i, (what, damage, cryo_image, want)) in cases.iter().enumerate() {
        let img = copy_of(good.path(), "damaged");
        if !cryo_image {
            std::fs::remove_file(img.path().join("cryo-checkpoint.json")).expect("rm marker");
        }
        damage(img.path());
        let id = unique_id(&format!("bad-{i}"));
        let _g = rt.guard(&id);
        let (out, _, _) = rt.output_detached(&restore_args(&b, img.path(), &id));
        assert!(
            !out.success() && out.stderr.contains(want),
            "{what}: want an error with {want:?}\n{out}"
        );
        assert_no_container(&rt, &id, what);
    }
    assert!(rt.root_entries().is_empty(), "{:?}", rt.root_entries());

    let id = unique_id("bad-good");
    let _g = rt.guard(&id);
    let at = read_counter(&b);
    let (out, _, _) = rt.output_detached(&restore_args(&b, good.path(), &id));
    assert!(out.success(), "the undamaged image restores\n{out}");
    assert_continues(&b, at);
}
