//! Self-contained checkpoint archives (`checkpoint --export`,
//! `restore --import`): one 0600 file that restores anywhere, refused
//! whole when truncated or tampered with.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::time::Duration;

use cryo_e2e::*;

const WAIT: Duration = Duration::from_secs(20);

fn p(path: &Path) -> &str {
    path_str(path)
}

/// `restore -d --import ARCHIVE --bundle BUNDLE ID`.
fn import_args<'a>(archive: &'a Path, b: &'a Bundle, id: &'a str) -> [&'a str; 7] {
    [
        "restore",
        "-d",
        "--import",
        p(archive),
        "--bundle",
        b.path_str(),
        id,
    ]
}

#[test]
fn export_then_import_restores_the_container() {
    let rt = Runtime::cryo();
    let mut b = Bundle::new(&["sh", "-c", COUNTER]);
    b.out_dir();
    b.config_mut()["annotations"] = serde_json::json!({"org.example/owner": "tests"});
    b.save();
    let c = rt.guard(&unique_id("ar"));
    let (out, _, _) = rt.output_detached(&["run", "-d", "--bundle", b.path_str(), &c.id]);
    assert!(out.success(), "{out}");
    wait_for(WAIT, "counter", || read_counter(&b) >= 10);
    let dir = tempfile::tempdir().expect("tmp");
    let archive = dir.path().join("web.tar.zst");
    rt.run_ok(&["checkpoint", "--export", p(&archive), &c.id]);
    let at = read_counter(&b);
    rt.run_fail(&["state", &c.id]);
    let mode = std::fs::metadata(&archive)
        .expect("archive")
        .permissions()
        .mode()
        & 0o777;
    assert_eq!(mode, 0o600, "archive mode");
    // No image directory is left behind without --image-path.
    assert!(rt.root_entries().is_empty(), "{:?}", rt.root_entries());
    // Its metadata says where it came from.
    let listing = host_ok(
        "sh",
        &[
            "-c",
            &format!("zstd -dc {} | tar -xOf - cryo-archive.json", p(&archive)),
        ],
    );
    let meta: serde_json::Value = serde_json::from_str(&listing).expect("metadata JSON");
    assert_eq!(meta["container_id"], serde_json::json!(c.id));
    assert!(
        meta["criu_version"]
            .as_str()
            .is_some_and(|v| v.starts_with('4')),
        "{meta}"
    );
    assert_eq!(meta["annotations"]["org.example/owner"], "tests");
    assert!(
        meta["stats"]["frozen_time"].as_u64().is_some_and(|t| t > 0),
        "{meta}"
    );
    assert!(
        meta["files"]["images/inventory.img"]["sha256"].is_string(),
        "{meta}"
    );

    let id = unique_id("ar-copy");
    let r = rt.guard(&id);
    let (out, _, _) = rt.output_detached(&import_args(&archive, &b, &id));
    assert!(out.success(), "{out}");
    assert_eq!(r.status(), "running");
    let mut v = at;
    wait_for(WAIT, "counter after import", || {
        v = read_counter(&b);
        v != at
    });
    assert!(v > at, "counter restarted: {v} after {at}");
    assert_eq!(
        rt.root_entries(),
        vec![id.clone()],
        "the unpacked images are gone"
    );
}

#[test]
fn truncated_or_tampered_archives_are_refused() {
    let rt = Runtime::cryo();
    let mut b = Bundle::new(&["sh", "-c", COUNTER]);
    b.out_dir();
    b.save();
    let c = rt.guard(&unique_id("ar-bad"));
    let (out, _, _) = rt.output_detached(&["run", "-d", "--bundle", b.path_str(), &c.id]);
    assert!(out.success(), "{out}");
    wait_for(WAIT, "counter", || read_counter(&b) >= 3);
    let dir = tempfile::tempdir().expect("tmp");
    let archive = dir.path().join("a.tar.zst");
    rt.run_ok(&[
        "checkpoint",
        "--leave-running",
        "--export",
        p(&archive),
        &c.id,
    ]);
    assert_eq!(c.status(), "running", "--leave-running with --export");
    let bytes = std::fs::read(&archive).expect("read archive");

    let truncated = dir.path().join("t.tar.zst");
    std::fs::write(&truncated, &bytes[..bytes.len() * 2 / 3]).expect("write");
    // Tampered: re-pack with one image changed but the original manifest.
    let x = dir.path().join("x");
    std::fs::create_dir(&x).expect("mkdir");
    host_ok(
        "sh",
        &[
            "-c",
            &format!("cd {} && zstd -dc {} | tar -xf -", p(&x), p(&archive)),
        ],
    );
    let inv = x.join("images/inventory.img");
    let mut img = std::fs::read(&inv).expect("read inventory");
    let last = img.len() - 1;
    img[last] ^= 0xff;
    std::fs::write(&inv, img).expect("write");
    let tampered = dir.path().join("e.tar.zst");
    host_ok(
        "sh",
        &[
            "-c",
            &format!(
                "cd {} && tar -cf - cryo-archive.json config.json images/* | zstd -q -o {}",
                p(&x),
                p(&tampered)
            ),
        ],
    );
    let garbage = dir.path().join("g.tar.zst");
    std::fs::write(&garbage, b"not an archive at all").expect("write");

    for (bad, want) in [
        (&truncated, "invalid checkpoint archive"),
        (&tampered, "checksum"),
        (&garbage, "invalid checkpoint archive"),
    ] {
        let id = unique_id("ar-refused");
        let _g = rt.guard(&id);
        let out = rt.run_fail(&import_args(bad, &b, &id));
        assert!(out.stderr.contains(want), "{}: {out}", bad.display());
        let out = rt.run_fail(&["state", &id]);
        assert!(out.stderr.contains("container does not exist"), "{out}");
        assert_eq!(
            rt.root_entries(),
            vec![c.id.clone()],
            "nothing left by a refused import"
        );
    }
}

#[test]
fn an_imported_checkpoint_does_not_reopen_host_files() {
    // The container's stdout and stderr are host files (run -d with them
    // redirected). Restored from an archive with stdout on a pipe, the
    // types differ: restoring from an image directory would reopen the
    // files by path, but an archive's list of host paths is whatever its
    // writer put there, so the import refuses, by name, and leaves nothing.
    let rt = Runtime::cryo();
    let mut b = Bundle::new(&["sh", "-c", COUNTER]);
    b.out_dir();
    b.save();
    let c = rt.guard(&unique_id("ar-host"));
    let (out, host_stdout, _) = rt.output_detached(&["run", "-d", "--bundle", b.path_str(), &c.id]);
    assert!(out.success(), "{out}");
    wait_for(WAIT, "counter", || read_counter(&b) >= 3);
    let dir = tempfile::tempdir().expect("tmp");
    let archive = dir.path().join("host.tar.zst");
    rt.run_ok(&["checkpoint", "--export", p(&archive), &c.id]);
    let id = unique_id("ar-host-copy");
    let _r = rt.guard(&id);
    let out = rt.run_fail(&import_args(&archive, &b, &id));
    assert!(
        out.stderr.contains("does not reopen host files")
            && out.stderr.contains(path_str(&host_stdout)),
        "{out}"
    );
    rt.run_fail(&["state", &id]);
    assert!(rt.root_entries().is_empty(), "{:?}", rt.root_entries());
    // With its stdio on files, as at the checkpoint, the import restores.
    let (out, _, _) = rt.output_detached(&import_args(&archive, &b, &id));
    assert!(out.success(), "{out}");
    assert_continues(&b, read_counter(&b));
}
