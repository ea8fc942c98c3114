//! Hostile input on the command line and in the bundle: ids, paths with
//! `..` and symlinks, a symlinked bundle or rootfs, configs that ask for
//! host namespaces, devices and a writable /proc/sys, and configs with
//! unknown or unsupported fields. Where runc has a behaviour, the same
//! scenario runs against runc (`RUNC_BIN`, /usr/sbin/runc) and cryo must
//! match it; every test also states the expected outcome itself.

use std::path::Path;

use cryo_e2e::*;
use serde_json::json;

/// Both runtimes, the reference first (a failure on runc means the test's
/// premise is wrong, not cryo).
fn runtimes() -> [(&'static str, Runtime); 2] {
    [("runc", Runtime::runc()), ("cryo", Runtime::cryo())]
}

/// A long-running bundle whose processes carry `marker` in their command
/// line, so a test can tell whether anything of it is left running.
fn marked_bundle(marker: &str) -> Bundle {
    Bundle::new(&[
        "sh",
        "-c",
        &format!("trap 'exit 0' TERM; while :; do sleep 0.1; done # {marker}"),
    ])
}

/// Pids of processes whose command line contains `marker`.
fn processes_with(marker: &str) -> Vec<String> {
    let mut pids = Vec::new();
    for e in std::fs::read_dir("/proc").expect("read /proc").flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        if !name.bytes().all(|b| b.is_ascii_digit()) {
            continue;
        }
        let cmdline = std::fs::read(e.path().join("cmdline")).unwrap_or_default();
        if String::from_utf8_lossy(&cmdline).contains(marker) {
            pids.push(name);
        }
    }
    pids
}

/// The refusal left nothing behind: no state, no process.
fn assert_nothing_created(rt: &Runtime, what: &str, marker: &str) {
    assert!(
        rt.root_entries().is_empty(),
        "{what}: left {:?} in the state root",
        rt.root_entries()
    );
    let left = processes_with(marker);
    assert!(left.is_empty(), "{what}: processes left running: {left:?}");
}

fn p(path: &Path) -> &str {
    path_str(path)
}

#[test]
fn ids_with_newlines_or_longer_than_a_file_name_are_refused_like_runc() {
    let long = "a".repeat(300);
    let cases = [
        ("a\nb", "invalid container ID format"),
        ("tab\there", "invalid container ID format"),
        ("sp ace", "invalid container ID format"),
        // Valid characters, but no directory can have that name.
        (long.as_str(), "file name too long"),
    ];
    for (name, rt) in runtimes() {
        let marker = unique_id(&format!("badid-{name}"));
        let b = marked_bundle(&marker);
        for (id, msg) in cases {
            let _g = rt.guard(id);
            let (out, _, _) = rt.output_detached(&["create", "--bundle", b.path_str(), id]);
            assert_eq!(out.code(), Some(1), "{name}: id {id:?}\n{out}");
            assert!(
                out.stderr.contains(msg),
                "{name}: id {id:?}: want {msg:?}\n{out}"
            );
            assert_nothing_created(&rt, &format!("{name}: id {id:?}"), &marker);
        }
        // 255 bytes fits a file name: accepted by both.
        let max = "b".repeat(255);
        let g = rt.guard(&max);
        let (out, _, _) = rt.output_detached(&["create", "--bundle", b.path_str(), &max]);
        assert!(out.success(), "{name}: a 255-byte id\n{out}");
        drop(g);
    }
}

#[test]
fn verbs_never_reach_outside_the_state_root() {
    for (name, rt) in runtimes() {
        // A directory next to the state root that looks like a container.
        let victim = rt
            .root_path()
            .parent()
            .expect("root has a parent")
            .join(unique_id(&format!("victim-{name}")));
        std::fs::create_dir(&victim).expect("mkdir victim");
        std::fs::write(victim.join("state.json"), "{}").expect("write victim state");
        std::fs::write(victim.join("keep"), "keep").expect("write victim file");
        let id = format!(
            "../{}",
            victim.file_name().and_then(|n| n.to_str()).expect("utf8")
        );
        for args in [
            vec!["state", id.as_str()],
            vec!["kill", id.as_str(), "KILL"],
            vec!["delete", "--force", id.as_str()],
            vec!["pause", id.as_str()],
            vec!["exec", id.as_str(), "true"],
            vec!["checkpoint", "--image-path", "/nonexistent", id.as_str()],
        ] {
            let out = rt.output(&args);
            // runc's exec exits 255 on its own errors, cryo's 1.
            assert!(
                out.code().is_some_and(|c| c != 0),
                "{name}: {args:?}\n{out}"
            );
            assert!(
                out.stderr.contains("invalid container ID format"),
                "{name}: {args:?}\n{out}"
            );
        }
        let mut left: Vec<String> = std::fs::read_dir(&victim)
            .expect("read victim")
            .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
            .collect();
        left.sort();
        assert_eq!(
            left,
            ["keep", "state.json"],
            "{name}: the victim dir changed"
        );
        std::fs::remove_dir_all(&victim).expect("remove victim");
    }
}

#[test]
fn pid_file_paths_behave_like_runc() {
    for (name, rt) in runtimes() {
        let marker = unique_id(&format!("pidfile-{name}"));
        let b = marked_bundle(&marker);
        let dir = tempfile::tempdir().expect("tmp");
        std::fs::create_dir(dir.path().join("sub")).expect("mkdir sub");

        // A pid file that is a symlink is replaced, never written through.
        let victim = dir.path().join("victim");
        std::fs::write(&victim, "VICTIM").expect("write victim");
        let link = dir.path().join("pid.link");
        std::os::unix::fs::symlink("victim", &link).expect("symlink");
        let c = rt.create_with(&b, &format!("pl-{name}"), &["--pid-file", p(&link)]);
        assert_eq!(
            std::fs::read_to_string(&victim).expect("read victim"),
            "VICTIM",
            "{name}: wrote through the symlink"
        );
        let meta = std::fs::symlink_metadata(&link).expect("lstat pid file");
        assert!(meta.is_file(), "{name}: pid file is {:?}", meta.file_type());
        let pid = std::fs::read_to_string(&link).expect("read pid file");
        assert_eq!(pid, c.pid().to_string(), "{name}");
        drop(c);

        // `..` is resolved by the kernel, as given.
        let dotdot = dir.path().join("sub/../dotdot.pid");
        let c = rt.create_with(&b, &format!("pd-{name}"), &["--pid-file", p(&dotdot)]);
        let pid = std::fs::read_to_string(dir.path().join("dotdot.pid")).expect("dotdot.pid");
        assert_eq!(pid, c.pid().to_string(), "{name}");
        drop(c);

        // Unwritable pid files fail create and leave nothing.
        for bad in [dir.path().join("sub"), dir.path().join("missing/x.pid")] {
            let (c, out) = rt.try_create(&b, &format!("pb-{name}"), &["--pid-file", p(&bad)]);
            assert_eq!(out.code(), Some(1), "{name}: {}\n{out}", bad.display());
            drop(c);
            assert_nothing_created(&rt, &format!("{name}: {}", bad.display()), &marker);
        }
        assert!(dir.path().join("sub").is_dir(), "{name}: sub was replaced");
    }
}

#[test]
fn root_and_bundle_paths_through_symlinks_and_dotdot_behave_like_runc() {
    for (name, rt) in runtimes() {
        let b = Bundle::new(LONG_RUNNING);
        let t = tempfile::tempdir().expect("tmp");
        let real = t.path().join("real");
        std::fs::create_dir_all(t.path().join("sub")).expect("mkdir sub");
        std::fs::create_dir(&real).expect("mkdir real");
        std::os::unix::fs::symlink("real", t.path().join("root-link")).expect("symlink root");
        let blink = t.path().join("bundle-link");
        std::os::unix::fs::symlink(b.path(), &blink).expect("symlink bundle");
        let id = unique_id(&format!("paths-{name}"));
        let via_link = t.path().join("root-link");
        let via_dotdot = t.path().join("sub/../real");

        // Created under a symlinked --root from a symlinked bundle ...
        let log = t.path().join("create.stderr");
        let mut c = std::process::Command::new(&rt.bin);
        c.args(["--root", p(&via_link), "create", "--bundle", p(&blink), &id])
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::fs::File::create(&log).expect("create log"));
        let status = c.status().expect("spawn create");
        let cleanup = |root: &Path| {
            let _ = std::process::Command::new(&rt.bin)
                .args(["--root", p(root), "delete", "--force", &id])
                .output();
        };
        if !status.success() {
            cleanup(&real);
            panic!(
                "{name}: create through symlinks failed: {status}\n{}",
                std::fs::read_to_string(&log).unwrap_or_default()
            );
        }
        // ... the container lives in the real directory, reachable by any
        // spelling of it, and its bundle and rootfs are the resolved paths.
        let in_real = real.join(&id).is_dir();
        let state = output_timeout(
            {
                let mut s = std::process::Command::new(&rt.bin);
                s.args(["--root", p(&via_dotdot), "state", &id]);
                s
            },
            CMD_TIMEOUT,
        );
        cleanup(&real);
        assert!(in_real, "{name}: no {}", real.join(&id).display());
        assert!(state.success(), "{name}: {state}");
        let v: serde_json::Value = serde_json::from_str(&state.stdout).expect("state JSON");
        let canonical = std::fs::canonicalize(b.path()).expect("canonical bundle");
        assert_eq!(v["bundle"], json!(p(&canonical)), "{name}: {v}");
        assert_eq!(
            v["rootfs"],
            json!(p(&canonical.join("rootfs"))),
            "{name}: {v}"
        );
        let left: Vec<_> = std::fs::read_dir(&real).expect("read real root").collect();
        assert!(left.is_empty(), "{name}: delete left {left:?}");
        assert!(
            std::fs::symlink_metadata(t.path().join("root-link"))
                .expect("lstat")
                .file_type()
                .is_symlink(),
            "{name}: the --root symlink was replaced"
        );
    }
}

/// The bundle's rootfs (relative `rootfs`, or `root.path` as given) made
/// into each hostile shape; returns what root.path should be.
fn rootfs_case(b: &mut Bundle, case: &str, outside: &Path) -> String {
    let rootfs = b.rootfs();
    match case {
        "symlink-inside" => {
            std::fs::rename(&rootfs, b.path().join("real-rootfs")).expect("rename");
            std::os::unix::fs::symlink("real-rootfs", &rootfs).expect("symlink");
            "rootfs".into()
        }
        "symlink-outside" => {
            let target = outside.join("rootfs");
            std::fs::rename(&rootfs, &target).expect("move rootfs out");
            std::os::unix::fs::symlink(&target, &rootfs).expect("symlink");
            "rootfs".into()
        }
        "through-symlinked-dir" => {
            // root.path = "link/rootfs", link -> the bundle itself.
            std::os::unix::fs::symlink(".", b.path().join("link")).expect("symlink");
            "link/rootfs".into()
        }
        "dotdot-lexical" => {
            // "sub/../rootfs" with sub a symlink elsewhere: the kernel would
            // find the decoy next to sub's target, but `..` is taken by the
            // text (as runc's filepath.Join does): the bundle's rootfs.
            std::fs::create_dir_all(outside.join("x")).expect("mkdir");
            build_rootfs(&outside.join("rootfs"));
            std::fs::write(outside.join("rootfs/etc/group"), "decoy\n").expect("write decoy");
            std::os::unix::fs::symlink(outside.join("x"), b.path().join("sub")).expect("symlink");
            "sub/../rootfs".into()
        }
        "dotdot-plain" => {
            std::fs::create_dir(b.path().join("sub")).expect("mkdir sub");
            "sub/../rootfs".into()
        }
        "absolute" => p(&rootfs).to_string(),
        other => panic!("unknown case {other}"),
    }
}

#[test]
fn a_rootfs_that_is_or_goes_through_a_symlink_is_refused_like_runc() {
    for (name, rt) in runtimes() {
        for case in ["symlink-inside", "symlink-outside", "through-symlinked-dir"] {
            let marker = unique_id(&format!("rootfs-{name}-{case}"));
            let mut b = marked_bundle(&marker);
            let outside = tempfile::tempdir().expect("tmp");
            let root_path = rootfs_case(&mut b, case, outside.path());
            b.config_mut()["root"]["path"] = json!(root_path);
            let (c, out) = rt.try_create(&b, "rootfs", &[]);
            assert_eq!(out.code(), Some(1), "{name}: {case}\n{out}");
            assert!(
                out.stderr.contains("not an absolute path, or a symlink"),
                "{name}: {case}\n{out}"
            );
            drop(c);
            assert_nothing_created(&rt, &format!("{name}: {case}"), &marker);
        }
        // `..` (taken lexically), and an absolute path, are fine.
        for case in ["dotdot-plain", "dotdot-lexical", "absolute"] {
            let mut b = Bundle::new(&["cat", "/etc/group"]);
            let outside = tempfile::tempdir().expect("tmp");
            let root_path = rootfs_case(&mut b, case, outside.path());
            b.config_mut()["root"]["path"] = json!(root_path);
            let out = rt.run_fg(&b, "rootfs-ok", &[]);
            assert!(out.success(), "{name}: {case}\n{out}");
            assert!(out.stdout.starts_with("root:x:0:"), "{name}: {case}\n{out}");
        }
    }
}

#[test]
fn mount_destination_with_dotdot_stays_inside_the_rootfs() {
    for (name, rt) in runtimes() {
        let victim = tempfile::Builder::new()
            .prefix("cryo-e2e-victim.")
            .tempdir()
            .expect("tmp");
        let src = tempfile::tempdir().expect("src");
        std::fs::write(src.path().join("payload"), "payload\n").expect("write");
        let dest = format!("/../../../..{}/x", p(victim.path()));
        let mut b = Bundle::new(&["cat", &format!("{}/x/payload", p(victim.path()))]);
        b.add_bind(src.path(), &dest, &[]);
        let out = rt.run_fg(&b, "dotdotdest", &[]);
        assert!(out.success(), "{name}: {out}");
        assert_eq!(out.stdout, "payload\n", "{name}: {out}");
        let leaked: Vec<_> = std::fs::read_dir(victim.path()).expect("readdir").collect();
        assert!(
            leaked.is_empty(),
            "{name}: the host dir changed: {leaked:?}"
        );
        let inside = b
            .rootfs()
            .join(p(victim.path()).trim_start_matches('/'))
            .join("x");
        assert!(inside.is_dir(), "{name}: {} should exist", inside.display());
    }
}

const NAMESPACES: [(&str, &str); 7] = [
    ("pid", "pid"),
    ("network", "net"),
    ("ipc", "ipc"),
    ("uts", "uts"),
    ("mount", "mnt"),
    ("cgroup", "cgroup"),
    ("user", "user"),
];

#[test]
fn host_namespaces_are_shared_exactly_as_listed() {
    for (name, rt) in runtimes() {
        for listed in [
            vec!["mount"],
            vec!["mount", "uts", "ipc", "network", "cgroup"],
        ] {
            let mut b = Bundle::new(LONG_RUNNING);
            b.config_mut()["linux"]["namespaces"] = json!(listed
                .iter()
                .map(|t| json!({"type": t}))
                .collect::<Vec<_>>());
            if !listed.contains(&"uts") {
                // A hostname needs a uts namespace of its own: the host's is
                // never renamed.
                let (c, out) = rt.try_create(&b, "hostns-hostname", &[]);
                assert_eq!(out.code(), Some(1), "{name}: {out}");
                assert!(
                    out.stderr
                        .contains("unable to set hostname without a private UTS namespace"),
                    "{name}: {out}"
                );
                drop(c);
                assert!(rt.root_entries().is_empty(), "{name}");
                b.config_mut()
                    .as_object_mut()
                    .expect("config object")
                    .remove("hostname");
            }
            let c = rt.create(&b, "hostns");
            let pid = c.pid().to_string();
            for (typ, link) in NAMESPACES {
                let (host, ctr) = (ns_link("self", link), ns_link(&pid, link));
                if listed.contains(&typ) {
                    assert_ne!(host, ctr, "{name}: {typ} listed in {listed:?}: must be new");
                } else {
                    assert_eq!(
                        host, ctr,
                        "{name}: {typ} not in {listed:?}: must be the host's"
                    );
                }
            }
            // In the host pid namespace the init has one pid only (a new
            // namespace would add its own, 1).
            let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("status");
            let nspid = status
                .lines()
                .find(|l| l.starts_with("NSpid:"))
                .unwrap_or_default()
                .to_string();
            assert_eq!(nspid.split_whitespace().count(), 2, "{name}: {nspid}");
        }
    }
}

#[test]
fn only_the_listed_devices_are_created() {
    let mut outputs = Vec::new();
    for (name, rt) in runtimes() {
        let mut b = Bundle::new(&[
            "sh",
            "-c",
            "find /dev -xdev | sort; find /dev -type b | sort; stat -c '%n %F %t:%T %a' /dev/loop0",
        ]);
        b.config_mut()["linux"]["devices"] = json!([{
            "path": "/dev/loop0", "type": "b", "major": 7, "minor": 0,
            "fileMode": 0o660, "uid": 0, "gid": 0
        }]);
        let out = rt.run_fg(&b, "devices", &[]);
        assert!(out.success(), "{name}: {out}");
        outputs.push((name, out.stdout));
    }
    let want = "/dev\n/dev/fd\n/dev/full\n/dev/loop0\n/dev/mqueue\n/dev/null\n/dev/ptmx\n\
                /dev/pts\n/dev/random\n/dev/shm\n/dev/stderr\n/dev/stdin\n/dev/stdout\n\
                /dev/tty\n/dev/urandom\n/dev/zero\n\
                /dev/loop0\n\
                /dev/loop0 block special file 7:0 660\n";
    for (name, got) in &outputs {
        assert_eq!(
            got, want,
            "{name}: /dev holds more or less than the config lists"
        );
    }
}

#[test]
fn proc_sys_and_masked_paths_follow_the_config_exactly() {
    let script = "grep ' /proc/sys ' /proc/self/mountinfo | cut -d' ' -f6 | cut -d, -f1; \
                  echo hostile-test > /proc/sys/kernel/domainname 2>/dev/null && cat /proc/sys/kernel/domainname; \
                  if [ -c /proc/timer_list ]; then echo masked; else echo visible; fi";
    let host_domain = read_trim(Path::new("/proc/sys/kernel/domainname"));
    for (name, rt) in runtimes() {
        // Default config: /proc/sys is read-only and /proc/timer_list masked.
        let mut b = Bundle::new(&["sh", "-c", script]);
        let uts = b.config()["linux"]["namespaces"]
            .as_array()
            .expect("namespaces")
            .iter()
            .any(|n| n["type"] == "uts");
        assert!(
            uts,
            "the test writes domainname: it needs its own uts namespace"
        );
        let out = rt.run_fg(&b, "procsys", &[]);
        assert!(out.success(), "{name}: {out}");
        assert_eq!(out.stdout, "ro\nmasked\n", "{name}: {out}");

        // Neither listed: writable /proc/sys (in the container's own uts
        // namespace) and the real /proc/timer_list, as written.
        b.config_mut()["linux"]["readonlyPaths"] = json!([]);
        b.config_mut()["linux"]["maskedPaths"] = json!([]);
        let out = rt.run_fg(&b, "procsys-rw", &[]);
        assert!(out.success(), "{name}: {out}");
        assert_eq!(out.stdout, "hostile-test\nvisible\n", "{name}: {out}");

        // Listing only /proc/sys/kernel keeps exactly that read-only.
        b.config_mut()["linux"]["readonlyPaths"] = json!(["/proc/sys/kernel"]);
        b.set_args(&[
            "sh",
            "-c",
            "grep -c ' /proc/sys ' /proc/self/mountinfo; \
             grep ' /proc/sys/kernel ' /proc/self/mountinfo | cut -d' ' -f6 | cut -d, -f1",
        ]);
        let out = rt.run_fg(&b, "procsys-kernel", &[]);
        assert!(out.success(), "{name}: {out}");
        assert_eq!(out.stdout, "0\nro\n", "{name}: {out}");
    }
    assert_eq!(
        read_trim(Path::new("/proc/sys/kernel/domainname")),
        host_domain,
        "the host's domainname changed"
    );
}

#[test]
fn unknown_properties_are_ignored_like_runc() {
    for (name, rt) in runtimes() {
        let mut b = Bundle::new(&["cat", "/etc/group"]);
        let c = b.config_mut();
        c["x-vendor-extension"] = json!({"nested": [1, {"deep": null}]});
        c["process"]["fooBar"] = json!(true);
        c["linux"]["notAField"] = json!("x");
        c["root"]["alsoUnknown"] = json!(1);
        c["mounts"][0]["whatever"] = json!([]);
        let out = rt.run_fg(&b, "unknown", &[]);
        assert!(out.success(), "{name}: {out}");
        assert!(out.stdout.starts_with("root:x:0:"), "{name}: {out}");
    }
}

#[test]
fn unsupported_values_are_refused_naming_the_field() {
    let rt = Runtime::cryo();
    type Patch = fn(&mut serde_json::Value);
    let cases: [(&str, Patch, &str); 12] = [
        (
            "rlimit",
            |c| c["process"]["rlimits"] = json!([{"type": "RLIMIT_BOGUS", "hard": 1, "soft": 1}]),
            "process.rlimits[0].type",
        ),
        (
            "capability",
            |c| c["process"]["capabilities"]["bounding"] = json!(["CAP_BOGUS"]),
            "process.capabilities.bounding[0]",
        ),
        (
            "personality",
            |c| c["linux"]["personality"] = json!({"domain": "LINUX_BOGUS"}),
            "linux.personality.domain",
        ),
        (
            "devicetype",
            |c| {
                c["linux"]["devices"] =
                    json!([{"path": "/dev/x", "type": "z", "major": 1, "minor": 3}])
            },
            "linux.devices[0].type",
        ),
        (
            "ioprio",
            |c| c["process"]["ioPriority"] = json!({"class": "IOPRIO_CLASS_BOGUS", "priority": 1}),
            "process.ioPriority.class",
        ),
        (
            "scheduler",
            |c| c["process"]["scheduler"] = json!({"policy": "SCHED_BOGUS"}),
            "process.scheduler.policy",
        ),
        (
            "mpolmode",
            |c| c["linux"]["memoryPolicy"] = json!({"mode": "MPOL_BOGUS"}),
            "linux.memoryPolicy.mode",
        ),
        (
            "mpolbind",
            |c| c["linux"]["memoryPolicy"] = json!({"mode": "MPOL_BIND", "nodes": "0"}),
            "linux.memoryPolicy is not supported",
        ),
        (
            "netdevices",
            |c| c["linux"]["netDevices"] = json!({"eth0": {"name": "ctr0"}}),
            "linux.netDevices is not supported",
        ),
        (
            "propagation",
            |c| c["linux"]["rootfsPropagation"] = json!("bogus"),
            r#"rootfsPropagation \"bogus\""#,
        ),
        (
            "dupns",
            |c| {
                c["linux"]["namespaces"]
                    .as_array_mut()
                    .expect("namespaces")
                    .push(json!({"type": "pid"}))
            },
            "listed twice",
        ),
        (
            "idmap",
            |c| {
                c["mounts"].as_array_mut().expect("mounts").push(json!({
                    "destination": "/mnt", "type": "bind", "source": "/tmp",
                    "options": ["rbind", "idmap"]
                }))
            },
            r#"mount option \"idmap\" is not supported"#,
        ),
    ];
    for (case, patch, want) in cases {
        let marker = unique_id(&format!("unsupported-{case}"));
        let mut b = marked_bundle(&marker);
        patch(b.config_mut());
        let (c, out) = rt.try_create(&b, case, &[]);
        assert_eq!(out.code(), Some(1), "{case}\n{out}");
        assert!(out.stderr.contains(want), "{case}: want {want:?}\n{out}");
        assert!(!out.stderr.contains("panicked"), "{case}\n{out}");
        let cgroup = cgroup_v1_dir("memory", &format!("/cryo/{}", c.id));
        drop(c);
        assert_nothing_created(&rt, case, &marker);
        assert!(!cgroup.exists(), "{case}: left {}", cgroup.display());
    }
}

#[test]
fn console_socket_and_image_paths_behave_like_runc() {
    for (name, rt) in runtimes() {
        let t = tempfile::tempdir().expect("tmp");
        let marker = unique_id(&format!("paths2-{name}"));

        // A console socket that is no socket: refused, nothing left.
        let mut tty = marked_bundle(&marker);
        tty.config_mut()["process"]["terminal"] = json!(true);
        std::fs::write(t.path().join("file"), "x").expect("write");
        std::os::unix::fs::symlink("/nonexistent-cryo-sock", t.path().join("dangling"))
            .expect("symlink");
        for s in ["file", "dangling", "missing/../file"] {
            let sock = t.path().join(s);
            let (c, out) = rt.try_create(&tty, "consock", &["--console-socket", p(&sock)]);
            assert_eq!(out.code(), Some(1), "{name}: {s}\n{out}");
            drop(c);
            assert_nothing_created(&rt, &format!("{name}: console socket {s}"), &marker);
        }

        // Restoring from no image directory: refused, nothing left.
        let b = marked_bundle(&marker);
        for img in ["sub/../no-images", "file"] {
            let id = unique_id(&format!("img-{name}"));
            let _g = rt.guard(&id);
            let dir = t.path().join(img);
            let (out, _, _) = rt.output_detached(&[
                "restore",
                "--image-path",
                p(&dir),
                "--bundle",
                b.path_str(),
                "--detach",
                &id,
            ]);
            assert_eq!(out.code(), Some(1), "{name}: {img}\n{out}");
            assert_nothing_created(&rt, &format!("{name}: image path {img}"), &marker);
        }
        // runc creates the missing image directory (and `sub`) before it
        // fails; cryo creates nothing.
        if name == "cryo" {
            assert!(!t.path().join("sub").exists(), "cryo created sub");
            assert!(
                !t.path().join("no-images").exists(),
                "cryo created no-images"
            );
        }

        // A checkpoint through a symlink (and `..`) lands in its target and
        // leaves the symlink as it was (runc does the same, but CRIU cannot
        // dump its container here: its stdio are host files, which only
        // cryo declares external).
        if name == "runc" {
            continue;
        }
        let c = rt.create(&b, "ckpath");
        c.start();
        std::fs::create_dir(t.path().join("real")).expect("mkdir real");
        std::fs::create_dir(t.path().join("sub2")).expect("mkdir sub2");
        std::os::unix::fs::symlink("real", t.path().join("link")).expect("symlink");
        let via = t.path().join("sub2/../link");
        rt.run_ok(&["checkpoint", "--image-path", p(&via), &c.id]);
        assert!(
            t.path().join("real/inventory.img").is_file(),
            "{name}: no images in the symlink's target"
        );
        assert!(
            std::fs::symlink_metadata(t.path().join("link"))
                .expect("lstat")
                .file_type()
                .is_symlink(),
            "{name}: the image path symlink was replaced"
        );
        drop(c);
        assert!(rt.root_entries().is_empty(), "{name}");
    }
}

#[test]
fn odd_entries_in_the_state_root_are_skipped_by_list() {
    for (name, rt) in runtimes() {
        let root = rt.root_path();
        // Names no id can have, and a container dir with a corrupt state.
        std::fs::create_dir(root.join("bad\nname")).expect("mkdir");
        std::fs::write(root.join("bad\nname/state.json"), "{}").expect("write");
        std::fs::create_dir(root.join("sp ace")).expect("mkdir");
        std::fs::create_dir(root.join("garbage")).expect("mkdir");
        std::fs::write(root.join("garbage/state.json"), "{not json").expect("write");
        std::fs::write(root.join("a-file"), "x").expect("write");
        let out = rt.run_ok(&["list", "-q"]);
        assert_eq!(out.stdout, "", "{name}: {out}");
        let out = rt.run_ok(&["list", "--format", "json"]);
        assert_eq!(out.stdout.trim(), "null", "{name}: {out}");
        // The corrupt one is reported, not acted on.
        let out = rt.run_fail(&["state", "garbage"]);
        assert_eq!(out.code(), Some(1), "{name}: {out}");
        assert!(root.join("garbage/state.json").exists(), "{name}");
        for e in ["bad\nname", "sp ace", "garbage", "a-file"] {
            let p = root.join(e);
            let _ = std::fs::remove_dir_all(&p).or_else(|_| std::fs::remove_file(&p));
        }
    }
}

#[test]
fn a_symlink_in_the_state_root_is_no_container() {
    // An entry named like an id that is a symbolic link (cryo never makes
    // one) is not followed: not to a real container's directory in the
    // root, whose container verbs on the link must not touch, and not to
    // a directory outside, where nothing may be created.
    for (name, rt) in runtimes() {
        let b = Bundle::new(LONG_RUNNING);
        let real = rt.create(&b, "sym-real");
        real.start();
        let root = rt.root_path();
        let outside = tempfile::tempdir().expect("tempdir");
        std::os::unix::fs::symlink(root.join(&real.id), root.join("linked"))
            .expect("symlink to the real container");
        std::os::unix::fs::symlink(outside.path(), root.join("linked-out"))
            .expect("symlink outside");
        for link in ["linked", "linked-out"] {
            for verb in [
                vec!["state", link],
                vec!["kill", link, "KILL"],
                vec!["pause", link],
            ] {
                let out = rt.run_fail(&verb);
                assert!(
                    out.stderr.contains("container does not exist"),
                    "{name}: {verb:?}\n{out}"
                );
            }
            rt.run_ok(&["delete", "--force", link]);
            assert!(
                std::fs::symlink_metadata(root.join(link)).is_err(),
                "{name}: delete --force {link} left the link"
            );
        }
        let listed = rt.run_ok(&["list", "-q"]);
        assert_eq!(listed.stdout.trim(), real.id, "{name}: {listed}");
        assert_eq!(real.status(), "running", "{name}: the real container");
        let left: Vec<_> = std::fs::read_dir(outside.path())
            .expect("read outside")
            .flatten()
            .map(|e| e.file_name())
            .collect();
        assert!(left.is_empty(), "{name}: made outside the root: {left:?}");
    }
}
