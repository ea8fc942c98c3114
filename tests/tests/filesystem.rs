//! Root filesystem, mounts, devices, masked and read-only paths.

use std::os::unix::fs::PermissionsExt;

use cryo_e2e::*;
use serde_json::json;

/// Runs `cat /proc/self/mountinfo` (plus `prefix` shell code first) in the container.
fn container_mounts(rt: &Runtime, b: &Bundle, name: &str) -> Vec<MountInfo> {
    parse_mountinfo(&rt.run_fg_ok(b, name))
}

fn mounts_bundle(extra_shell: &str) -> Bundle {
    let script = format!("{extra_shell} cat /proc/self/mountinfo");
    Bundle::new(&["sh", "-c", &script])
}

#[test]
fn readonly_rootfs() {
    let rt = Runtime::cryo();
    let mut b = Bundle::new(&[
        "sh",
        "-c",
        "touch /x 2>/dev/null && echo writable || echo readonly; cat /proc/self/mountinfo",
    ]);
    b.config_mut()["root"]["readonly"] = json!(true);
    let out = rt.run_fg_ok(&b, "rorootfs");
    assert!(out.starts_with("readonly\n"), "{out}");
    let mounts = parse_mountinfo(&out);
    let root = find_mount(&mounts, "/").expect("/ mount");
    assert!(root.has_opt("ro"), "{root:?}");
    assert!(!b.rootfs().join("x").exists());
}

#[test]
fn writable_rootfs() {
    let rt = Runtime::cryo();
    let b = Bundle::new(&["sh", "-c", "echo data > /written && cat /written"]);
    assert_eq!(rt.run_fg_ok(&b, "rwrootfs"), "data\n");
    assert_eq!(
        std::fs::read_to_string(b.rootfs().join("written")).expect("file in rootfs"),
        "data\n"
    );
}

/// Puts the bundle on a host tmpfs made `shared`, sets `rootfsPropagation`,
/// and mounts something under the rootfs on the host after `create`.
/// Returns (does the container see the late mount, the container's `/` mount).
fn propagation_case(name: &str, propagation: &str) -> (bool, MountInfo) {
    let rt = Runtime::cryo();
    let base = tempfile::Builder::new()
        .prefix("cryo-e2e-shared.")
        .tempdir()
        .expect("tempdir");
    let _base_mount = HostMount::tmpfs(base.path());
    host_ok("mount", &["--make-shared", path_str(base.path())]);
    let mut b = Bundle::new_in(
        base.path(),
        &[
            "sh",
            "-c",
            "while [ ! -e /out/go ]; do sleep 0.05; done; cat /proc/self/mountinfo",
        ],
    );
    b.out_dir();
    b.config_mut()["linux"]["rootfsPropagation"] = json!(propagation);
    std::fs::create_dir(b.rootfs().join("late")).expect("mkdir late");
    let c = rt.create(&b, name);
    c.start();
    let _late = HostMount::tmpfs(&b.rootfs().join("late"));
    std::fs::write(b.path().join("out/go"), "").expect("write go");
    c.wait_stopped();
    let mounts = parse_mountinfo(&c.stdout());
    let root = find_mount(&mounts, "/")
        .unwrap_or_else(|| panic!("no / mount in:\n{}", c.stdout()))
        .clone();
    (find_mount(&mounts, "/late").is_some(), root)
}

#[test]
fn rootfs_propagation_rslave() {
    let (seen, root) = propagation_case("proprslave", "rslave");
    assert!(
        root.optional.iter().any(|o| o.starts_with("master:")),
        "/ must be a slave mount: {root:?}"
    );
    assert!(
        seen,
        "host mount under the rootfs must propagate into an rslave root"
    );
}

#[test]
fn rootfs_propagation_rprivate() {
    let (seen, root) = propagation_case("proprprivate", "rprivate");
    assert!(
        root.optional.is_empty(),
        "/ must have no propagation peers: {root:?}"
    );
    assert!(!seen, "host mount must not propagate into an rprivate root");
}

#[test]
fn bind_mount_readonly() {
    let rt = Runtime::cryo();
    let host = tempfile::tempdir().expect("tempdir");
    std::fs::write(host.path().join("file"), "hello\n").expect("write");
    let mut b = Bundle::new(&[
        "sh",
        "-c",
        "cat /data/file; touch /data/new 2>/dev/null && echo writable || echo readonly",
    ]);
    b.add_bind(host.path(), "/data", &["ro"]);
    assert_eq!(rt.run_fg_ok(&b, "bindro"), "hello\nreadonly\n");
    assert!(!host.path().join("new").exists());
}

#[test]
fn bind_mount_readwrite() {
    let rt = Runtime::cryo();
    let host = tempfile::tempdir().expect("tempdir");
    let mut b = Bundle::new(&["sh", "-c", "echo from-container > /data/new"]);
    b.add_bind(host.path(), "/data", &["rw"]);
    rt.run_fg_ok(&b, "bindrw");
    assert_eq!(
        std::fs::read_to_string(host.path().join("new")).expect("written through bind"),
        "from-container\n"
    );
}

#[test]
fn bind_mount_file() {
    let rt = Runtime::cryo();
    let host = tempfile::tempdir().expect("tempdir");
    let f = host.path().join("single");
    std::fs::write(&f, "one file\n").expect("write");
    let mut b = Bundle::new(&["cat", "/etc/single"]);
    b.add_bind(&f, "/etc/single", &["ro"]);
    assert_eq!(rt.run_fg_ok(&b, "bindfile"), "one file\n");
}

#[test]
fn bind_mount_nosuid_nodev_noexec() {
    let rt = Runtime::cryo();
    let host = tempfile::tempdir().expect("tempdir");
    std::fs::copy("/bin/busybox", host.path().join("bb")).expect("copy");
    std::fs::set_permissions(
        host.path().join("bb"),
        std::fs::Permissions::from_mode(0o755),
    )
    .expect("chmod");
    let mut b = mounts_bundle("/mnt/bb true 2>/dev/null && echo EXECUTED;");
    b.add_bind(host.path(), "/mnt", &["nosuid", "nodev", "noexec"]);
    let out = rt.run_fg_ok(&b, "bindflags");
    assert!(!out.contains("EXECUTED"), "noexec not enforced:\n{out}");
    let mounts = parse_mountinfo(&out);
    let m = find_mount(&mounts, "/mnt").unwrap_or_else(|| panic!("/mnt not mounted:\n{out}"));
    for o in ["nosuid", "nodev", "noexec"] {
        assert!(m.has_opt(o), "{o} missing: {m:?}");
    }
}

#[test]
fn tmpfs_mount_with_options() {
    let rt = Runtime::cryo();
    let mut b = mounts_bundle("");
    b.add_mount(
        "/scratch",
        "tmpfs",
        "tmpfs",
        &["nosuid", "size=1024k", "mode=750"],
    );
    let mounts = container_mounts(&rt, &b, "tmpfsopts");
    let m = find_mount(&mounts, "/scratch").expect("/scratch mounted");
    assert_eq!(m.fstype, "tmpfs");
    assert!(m.has_opt("nosuid"), "{m:?}");
    assert!(m.has_super_opt("size=1024k"), "{m:?}");
    assert!(m.has_super_opt("mode=750"), "{m:?}");
}

#[test]
fn mount_destination_is_created() {
    let rt = Runtime::cryo();
    let mut b = Bundle::new(&["sh", "-c", "test -d /a/b/c && echo ok"]);
    b.add_mount("/a/b/c", "tmpfs", "tmpfs", &[]);
    assert_eq!(rt.run_fg_ok(&b, "mkdest"), "ok\n");
}

#[test]
fn default_spec_mounts() {
    let rt = Runtime::cryo();
    let b = mounts_bundle("");
    let mounts = container_mounts(&rt, &b, "defmounts");
    let expect = [
        ("/proc", "proc"),
        ("/dev", "tmpfs"),
        ("/dev/pts", "devpts"),
        ("/dev/shm", "tmpfs"),
        ("/dev/mqueue", "mqueue"),
        ("/sys", "sysfs"),
    ];
    for (mp, fs) in expect {
        let m = find_mount(&mounts, mp).unwrap_or_else(|| panic!("{mp} not mounted: {mounts:?}"));
        assert_eq!(m.fstype, fs, "{m:?}");
    }
    let sys = find_mount(&mounts, "/sys").expect("/sys");
    assert!(sys.has_opt("ro"), "/sys must be read-only: {sys:?}");
    for o in ["nosuid", "nodev", "noexec"] {
        assert!(sys.has_opt(o), "/sys {o}: {sys:?}");
    }
    let dev = find_mount(&mounts, "/dev").expect("/dev");
    assert!(dev.has_opt("nosuid"));
    assert!(dev.has_super_opt("mode=755"), "{dev:?}");
    let pts = find_mount(&mounts, "/dev/pts").expect("/dev/pts");
    assert!(pts.has_super_opt("ptmxmode=666"), "{pts:?}");
    assert!(pts.has_super_opt("mode=620"), "{pts:?}");
    assert!(pts.has_super_opt("gid=5"), "{pts:?}");
    let shm = find_mount(&mounts, "/dev/shm").expect("/dev/shm");
    assert!(shm.has_super_opt("size=65536k"), "{shm:?}");
    // /sys/fs/cgroup: a mount point with cgroup hierarchies at or below it.
    assert!(
        find_mount(&mounts, "/sys/fs/cgroup").is_some(),
        "/sys/fs/cgroup is not a mount point"
    );
    assert!(
        mounts
            .iter()
            .any(|m| m.mount_point.starts_with("/sys/fs/cgroup")
                && (m.fstype == "cgroup" || m.fstype == "cgroup2")),
        "no cgroup filesystem under /sys/fs/cgroup: {mounts:?}"
    );
    // The container's cgroup mounts are read-only (spec option "ro").
    for m in mounts
        .iter()
        .filter(|m| m.fstype == "cgroup" || m.fstype == "cgroup2")
    {
        assert!(m.has_opt("ro"), "cgroup mount must be ro: {m:?}");
    }
}

#[test]
fn cgroup_mount_shows_hierarchies() {
    let rt = Runtime::cryo();
    let b = Bundle::new(&["sh", "-c", "ls /sys/fs/cgroup; ls /sys/fs/cgroup/memory"]);
    let out = rt.run_fg_ok(&b, "cgmount");
    // This host is a v1/v2 hybrid: v1 controllers are visible by name.
    for d in ["memory", "cpu", "pids", "devices"] {
        assert!(out.lines().any(|l| l == d), "{d} missing:\n{out}");
    }
    assert!(out.contains("memory.limit_in_bytes"), "{out}");
}

#[test]
fn default_devices() {
    let rt = Runtime::cryo();
    let b = Bundle::new(&[
        "sh",
        "-c",
        "for d in null zero full random urandom tty; do \
           if [ -c /dev/$d ]; then stat -c \"$d %t:%T %a\" /dev/$d; else echo \"$d missing\"; fi; \
         done; \
         for l in fd stdin stdout stderr ptmx; do echo \"$l -> $(readlink /dev/$l)\"; done; \
         head -c 4 /dev/zero | od -An -tx1; echo hi > /dev/null && echo null-ok",
    ]);
    let out = rt.run_fg_ok(&b, "devices");
    let want = "null 1:3 666\n\
                zero 1:5 666\n\
                full 1:7 666\n\
                random 1:8 666\n\
                urandom 1:9 666\n\
                tty 5:0 666\n\
                fd -> /proc/self/fd\n\
                stdin -> /proc/self/fd/0\n\
                stdout -> /proc/self/fd/1\n\
                stderr -> /proc/self/fd/2\n\
                ptmx -> pts/ptmx\n \
                00 00 00 00\n\
                null-ok\n";
    assert_eq!(out, want);
}

#[test]
fn spec_device_is_created() {
    let rt = Runtime::cryo();
    let mut b = Bundle::new(&[
        "sh",
        "-c",
        "stat -c '%F %t:%T %a %u:%g' /dev/mynull; echo x > /dev/mynull && echo write-ok",
    ]);
    b.config_mut()["linux"]["devices"] = json!([{
        "path": "/dev/mynull", "type": "c", "major": 1, "minor": 3,
        "fileMode": 0o640, "uid": 0, "gid": 0
    }]);
    b.config_mut()["linux"]["resources"]["devices"] = json!([
        {"allow": false, "access": "rwm"},
        {"allow": true, "type": "c", "major": 1, "minor": 3, "access": "rwm"}
    ]);
    assert_eq!(
        rt.run_fg_ok(&b, "specdev"),
        "character special file 1:3 640 0:0\nwrite-ok\n"
    );
}

#[test]
fn masked_paths() {
    let rt = Runtime::cryo();
    let mut b = Bundle::new(&[
        "sh",
        "-c",
        "echo \"file=[$(cat /secretfile)]\"; echo \"dir=[$(ls -A /secretdir)]\"; \
         echo \"timer_list=$(wc -c < /proc/timer_list)\"; echo \"acpi=[$(ls -A /proc/acpi)]\"; \
         touch /secretdir/new 2>/dev/null && echo dir-writable; true",
    ]);
    std::fs::write(b.rootfs().join("secretfile"), "SECRET").expect("write");
    std::fs::create_dir(b.rootfs().join("secretdir")).expect("mkdir");
    std::fs::write(b.rootfs().join("secretdir/inner"), "SECRET").expect("write");
    let masked = b.config_mut()["linux"]["maskedPaths"]
        .as_array_mut()
        .expect("maskedPaths array");
    masked.push(json!("/secretfile"));
    masked.push(json!("/secretdir"));
    masked.push(json!("/does/not/exist"));
    let out = rt.run_fg_ok(&b, "masked");
    assert_eq!(out, "file=[]\ndir=[]\ntimer_list=0\nacpi=[]\n", "{out}");
    // Host files untouched.
    assert_eq!(
        std::fs::read_to_string(b.rootfs().join("secretdir/inner")).expect("read"),
        "SECRET"
    );
}

#[test]
fn readonly_paths() {
    let rt = Runtime::cryo();
    let mut b = Bundle::new(&[
        "sh",
        "-c",
        "echo x > /proc/sys/kernel/domainname 2>/dev/null && echo procsys-writable; \
         touch /rodir/new 2>/dev/null && echo rodir-writable; \
         cat /rodir/f; touch /rwfile && echo rootfs-writable",
    ]);
    std::fs::create_dir(b.rootfs().join("rodir")).expect("mkdir");
    std::fs::write(b.rootfs().join("rodir/f"), "readable\n").expect("write");
    b.config_mut()["linux"]["readonlyPaths"]
        .as_array_mut()
        .expect("readonlyPaths array")
        .push(json!("/rodir"));
    assert_eq!(rt.run_fg_ok(&b, "ropaths"), "readable\nrootfs-writable\n");
}

#[test]
fn mount_destination_symlink_stays_in_rootfs() {
    let rt = Runtime::cryo();
    let victim = tempfile::Builder::new()
        .prefix("cryo-e2e-victim.")
        .tempdir()
        .expect("tempdir");
    let victim_path = path_str(victim.path()).to_string();
    let src = tempfile::tempdir().expect("tempdir");
    std::fs::write(src.path().join("payload"), "payload\n").expect("write");
    let mut b = Bundle::new(&["cat", "/etc/evil/x/payload"]);
    std::os::unix::fs::symlink(
        format!("/../../../..{victim_path}"),
        b.rootfs().join("etc/evil"),
    )
    .expect("symlink");
    b.add_bind(src.path(), "/etc/evil/x", &[]);
    let out = rt.run_fg_ok(&b, "symlinkdest");
    assert_eq!(out, "payload\n");
    let leaked: Vec<_> = std::fs::read_dir(victim.path()).expect("readdir").collect();
    assert!(
        leaked.is_empty(),
        "host dir {victim_path} was modified: {leaked:?}"
    );
    let host_mounts =
        parse_mountinfo(&std::fs::read_to_string("/proc/self/mountinfo").expect("mountinfo"));
    assert!(
        !host_mounts
            .iter()
            .any(|m| m.mount_point.starts_with(&victim_path)),
        "a mount landed on the host"
    );
    // The symlink was resolved inside the rootfs.
    let inside = b
        .rootfs()
        .join(victim_path.trim_start_matches('/'))
        .join("x");
    assert!(inside.is_dir(), "{} should exist", inside.display());
}

#[test]
fn proc_is_usable() {
    let rt = Runtime::cryo();
    let b = Bundle::new(&["sh", "-c", "cat /proc/1/comm; ls /proc | grep -c '^[0-9]'"]);
    let out = rt.run_fg_ok(&b, "procusable");
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[0], "sh");
    // Only the container's own processes are visible (sh, ls, grep, maybe a subshell).
    let n: usize = lines[1].parse().expect("count");
    assert!(n <= 4, "saw {n} processes in a new pid namespace:\n{out}");
}
