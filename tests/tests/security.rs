//! Regression tests for runc's CVE classes: what a container must never be
//! able to reach or keep.

use std::os::unix::fs::PermissionsExt;
use std::time::Duration;

use cryo_e2e::*;
use serde_json::json;

fn file_hash(path: &std::path::Path) -> Vec<u8> {
    std::fs::read(path).expect("read binary")
}

/// CVE-2019-5736 class: the cryo binary can be neither reached nor
/// overwritten from inside a container, even when the container makes the
/// kernel execute `/proc/self/exe` of a cryo process.
#[test]
fn runtime_binary_cannot_be_overwritten_from_a_container() {
    let rt = Runtime::cryo();
    let before = file_hash(&cryo_bin());
    // A watcher inside the container tries to write to every non-busybox
    // executable it can see, for the whole test.
    let mut b = Bundle::new(&[
        "sh",
        "-c",
        "while :; do for p in /proc/[0-9]*; do e=$(readlink $p/exe 2>/dev/null) || continue; \
         case $e in *busybox*) ;; *) echo \"$e\" >> /out/seen; \
         (echo pwned > $p/exe) 2>/dev/null && echo WROTE >> /out/seen;; esac; done; done",
    ]);
    let out = b.out_dir();
    let evil = b.rootfs().join("bin/evil");
    std::fs::write(&evil, "#!/proc/self/exe\n").expect("write evil");
    std::fs::set_permissions(&evil, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    let id = unique_id("cve-2019-5736");
    let _g = rt.guard(&id);
    let (o, _, _) = rt.output_detached(&["run", "--detach", "--bundle", b.path_str(), &id]);
    assert!(o.success(), "{o}");
    for _ in 0..5 {
        // The kernel runs the exec'ing process's own binary as the script's
        // interpreter: that must be the sealed copy, and it just fails.
        let r = rt.output(&["exec", &id, "/bin/evil"]);
        assert!(!r.success(), "{r}");
    }
    // While cryo processes run, their executable is a copy no write can
    // reach: a read-only overlayfs (or, without overlayfs, a sealed memfd).
    let runner = std::process::Command::new(cryo_bin())
        .args([
            "--root",
            rt.root_path().to_str().expect("utf8"),
            "exec",
            &id,
            "sleep",
            "2",
        ])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("spawn exec");
    let pid = runner.id();
    wait_for(Duration::from_secs(5), "exec process re-executed", || {
        let exe = format!("/proc/{pid}/exe");
        let memfd = std::fs::read_link(&exe)
            .map(|p| p.to_string_lossy().starts_with("/memfd:cryo"))
            .unwrap_or(false);
        memfd || readonly_overlay(&exe)
    });
    let write = std::fs::OpenOptions::new()
        .write(true)
        .open(format!("/proc/{pid}/exe"));
    assert!(
        write.is_err(),
        "the running cryo's executable must not be writable"
    );
    let mut runner = runner;
    let _ = runner.wait();
    assert_eq!(file_hash(&cryo_bin()), before, "the cryo binary changed");
    let seen = std::fs::read_to_string(out.join("seen")).unwrap_or_default();
    assert!(
        !seen.contains("WROTE"),
        "a container process wrote an executable:\n{seen}"
    );
}

/// Whether `path` (followed) is on a read-only overlayfs.
fn readonly_overlay(path: &str) -> bool {
    let Ok(c) = std::ffi::CString::new(path) else {
        return false;
    };
    // SAFETY: statfs(2) and statvfs(3) write into zeroed structs we own and
    // read the NUL-terminated path, which outlives the calls.
    let (fs, vfs) = unsafe {
        let mut fs: libc::statfs = std::mem::zeroed();
        let mut vfs: libc::statvfs = std::mem::zeroed();
        if libc::statfs(c.as_ptr(), &mut fs) != 0 || libc::statvfs(c.as_ptr(), &mut vfs) != 0 {
            return false;
        }
        (fs, vfs)
    };
    fs.f_type == libc::OVERLAYFS_SUPER_MAGIC && vfs.f_flag & libc::ST_RDONLY != 0
}

/// CVE-2024-21626 class: no runtime fd and no host directory reaches the
/// container's process.
#[test]
fn no_runtime_fd_or_host_cwd_leaks_into_the_container() {
    let rt = Runtime::cryo();
    let b = Bundle::new(LONG_RUNNING);
    let c = rt.create(&b, "cve-2024-21626");
    c.start();
    let pid = c.pid();
    let fds: Vec<String> = std::fs::read_dir(format!("/proc/{pid}/fd"))
        .expect("fd dir")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    let mut fds: Vec<u32> = fds.iter().filter_map(|f| f.parse().ok()).collect();
    fds.sort();
    assert_eq!(
        fds,
        [0, 1, 2],
        "only stdio may be open in the container's init"
    );
    let cwd = std::fs::read_link(format!("/proc/{pid}/cwd")).expect("cwd");
    assert_eq!(
        cwd,
        std::path::Path::new("/"),
        "cwd is the container's /, not a host dir"
    );
    let root = std::fs::read_link(format!("/proc/{pid}/root")).expect("root");
    assert_eq!(
        root,
        std::path::Path::new("/"),
        "the init's root is its own rootfs"
    );
    // The same for an exec'd process.
    let out = rt.run_ok(&[
        "exec",
        &c.id,
        "sh",
        "-c",
        "ls /proc/self/fd; readlink /proc/self/cwd",
    ]);
    assert_eq!(
        out.stdout, "0\n1\n2\n3\n/\n",
        "ls itself holds fd 3 for the directory: {out}"
    );
}

/// CVE-2019-16884 class: a rootfs whose /proc is a symlink cannot redirect
/// the proc mount (and the masks that rely on it).
#[test]
fn proc_mount_over_a_symlink_is_refused() {
    let rt = Runtime::cryo();
    let b = Bundle::new(&["true"]);
    let proc_dir = b.rootfs().join("proc");
    std::fs::remove_dir(&proc_dir).expect("rmdir proc");
    std::fs::create_dir(b.rootfs().join("fakeproc")).expect("mkdir fakeproc");
    std::os::unix::fs::symlink("/fakeproc", &proc_dir).expect("symlink");
    let (_c, out) = rt.try_create(&b, "cve-2019-16884", &[]);
    assert_eq!(out.code(), Some(1), "{out}");
    assert!(out.stderr.contains("symlink"), "{out}");
    assert!(rt.root_entries().is_empty(), "{:?}", rt.root_entries());
}

/// CVE-2022-29162 class: no inheritable capabilities unless the spec asks,
/// for the init and for exec'd processes.
#[test]
fn inheritable_capabilities_are_not_granted_by_default() {
    let rt = Runtime::cryo();
    let b = Bundle::new(LONG_RUNNING);
    let c = rt.create(&b, "cve-2022-29162");
    c.start();
    let status = std::fs::read_to_string(format!("/proc/{}/status", c.pid())).expect("status");
    assert!(status.contains("CapInh:\t0000000000000000"), "{status}");
    let out = rt.run_ok(&[
        "exec",
        "--cap",
        "CAP_NET_ADMIN",
        &c.id,
        "grep",
        "CapInh",
        "/proc/self/status",
    ]);
    assert_eq!(out.stdout.trim(), "CapInh:\t0000000000000000", "{out}");
}

/// A mount destination through a symlink that points out of the rootfs
/// lands inside it, and the host directory stays untouched.
#[test]
fn mount_destination_symlink_to_host_path_stays_inside() {
    let rt = Runtime::cryo();
    let host_dir = tempfile::tempdir().expect("host dir");
    let marker = host_dir.path().join("x");
    let mut b = Bundle::new(&["sh", "-c", "ls /etc/link"]);
    std::os::unix::fs::symlink(host_dir.path(), b.rootfs().join("etc/link")).expect("symlink");
    let src = tempfile::tempdir().expect("src");
    std::fs::write(src.path().join("inside"), "").expect("write");
    b.config_mut()["mounts"]
        .as_array_mut()
        .expect("mounts")
        .push(json!({"destination": "/etc/link", "type": "bind", "source": src.path(), "options": ["rbind"]}));
    let out = rt.run_fg(&b, "symlinkhost", &[]);
    assert!(out.success(), "{out}");
    assert_eq!(out.stdout, "inside\n", "{out}");
    assert!(!marker.exists());
    assert_eq!(
        std::fs::read_dir(host_dir.path()).expect("readdir").count(),
        0,
        "host dir untouched"
    );
    // The mount landed at the symlink's target inside the rootfs.
    assert!(b
        .rootfs()
        .join(host_dir.path().strip_prefix("/").expect("abs"))
        .exists());
}
