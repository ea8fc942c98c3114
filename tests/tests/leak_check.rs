//! The leak check that `make test` runs around the suite can fail: one
//! real leak of each kind it watches is made on the host, and
//! `leak-check compare` must list every one (and exit 1); once they are
//! removed it must list none of them.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use cryo_e2e::*;

/// A program that sleeps whatever its name and arguments: copies of it
/// pose as CRIU, cryo and a lazy-pages daemon.
const SLEEPER: &str = "#include <unistd.h>\nint main(void) { sleep(120); return 0; }\n";

fn leak_check(args: &[&str]) -> Out {
    let mut c = Command::new(env!("CARGO_BIN_EXE_leak-check"));
    c.args(args).stdin(Stdio::null());
    output_timeout(c, Duration::from_secs(60))
}

fn spawn_as(prog: &Path, args: &[&str]) -> HostProcess {
    HostProcess::spawn(path_str(prog), args)
}

#[test]
fn compare_reports_every_kind_of_leak_and_then_none() {
    require_root();
    let tmp = tempfile::tempdir().expect("tempdir");
    let snap = tmp.path().join("before.txt");
    let out = leak_check(&["snapshot", path_str(&snap)]);
    assert!(out.success(), "{out}");

    let tag = format!("cryo-leak-test-{}", std::process::id());
    // A mount.
    let mnt = tmp.path().join("mnt");
    std::fs::create_dir(&mnt).expect("mkdir mnt");
    let mount = HostMount::tmpfs(&mnt);
    // A cgroup in every hierarchy (v1 and the unified one).
    let mountinfo = std::fs::read_to_string("/proc/self/mountinfo").expect("mountinfo");
    let cgroups: Vec<PathBuf> = leaks::cgroup_mounts(&mountinfo)
        .into_iter()
        .map(|m| m.join(&tag))
        .collect();
    assert!(cgroups.len() >= 2, "cgroup mounts: {cgroups:?}");
    for cg in &cgroups {
        std::fs::create_dir(cg).unwrap_or_else(|e| panic!("mkdir {}: {e}", cg.display()));
    }
    // A network namespace (a /run/netns entry and its nsfs mount).
    host_ok("ip", &["netns", "add", &tag]);
    // Processes: fake CRIU, cryo and lazy-pages daemon, and a process in
    // a pid namespace of its own (as a container's are).
    let sleeper = static_program("sleeper", SLEEPER);
    let criu = tmp.path().join("criu");
    let cryo = tmp.path().join("cryo");
    std::fs::copy(&sleeper, &criu).expect("copy criu");
    std::fs::copy(&sleeper, &cryo).expect("copy cryo");
    let p_criu = spawn_as(&criu, &["swrk", "3"]);
    let p_lazy = spawn_as(&criu, &["lazy-pages", "--page-server"]);
    let p_cryo = spawn_as(&cryo, &["run", "x"]);
    let p_ns = HostProcess::spawn(
        "unshare",
        &["--pid", "--fork", "--kill-child", path_str(&sleeper)],
    );
    // A container directory left in a state root.
    let rt = Runtime::cryo();
    let stray = rt.root_path().join(&tag);
    std::fs::create_dir(&stray).expect("mkdir stray");
    std::fs::write(stray.join("lock"), "").expect("write lock");
    std::fs::write(stray.join("state.json"), r#"{"init_pid":1}"#).expect("write state");
    wait_for(
        Duration::from_secs(5),
        "the pid-namespace child to run",
        || {
            std::fs::read_to_string(format!("/proc/{}/task/{}/children", p_ns.pid(), p_ns.pid()))
                .is_ok_and(|c| !c.trim().is_empty())
        },
    );

    let out = leak_check(&["compare", path_str(&snap), "--settle", "0"]);
    assert_eq!(out.code(), Some(1), "leaks must fail the check\n{out}");
    let mut expected = vec![
        format!("mount: {} tmpfs tmpfs", mnt.display()),
        format!("network namespace: /run/netns/{tag}"),
        format!("namespace mount: /run/netns/{tag} nsfs"),
        format!("process: {} ", p_criu.pid()),
        format!("(criu: criu: {} swrk 3)", criu.display()),
        format!("process: {} ", p_lazy.pid()),
        format!(
            "(lazy-pages daemon: criu: {} lazy-pages --page-server)",
            criu.display()
        ),
        format!("process: {} ", p_cryo.pid()),
        format!("(cryo: cryo: {} run x)", cryo.display()),
        "(container: sleeper: ".to_string(),
        // lock and state.json, counted on the directory's line.
        format!("state file: {} (and 2 more below it)", stray.display()),
    ];
    expected.extend(cgroups.iter().map(|c| format!("cgroup: {}", c.display())));
    for e in &expected {
        assert!(out.stdout.contains(e.as_str()), "missing {e:?}\n{out}");
    }

    // Gone again: none of it is reported.
    drop((p_criu, p_lazy, p_cryo, p_ns, mount));
    host_ok("ip", &["netns", "delete", &tag]);
    for cg in &cgroups {
        std::fs::remove_dir(cg).unwrap_or_else(|e| panic!("rmdir {}: {e}", cg.display()));
    }
    std::fs::remove_dir_all(&stray).expect("remove stray");
    let out = leak_check(&["compare", path_str(&snap), "--settle", "5"]);
    for e in expected.iter().chain(std::iter::once(&tag)) {
        assert!(
            !out.stdout.contains(e.as_str()),
            "{e:?} still reported\n{out}"
        );
    }
    drop(rt);
}

#[test]
fn usage_errors_exit_2() {
    for args in [&[][..], &["compare"], &["snapshot"], &["frobnicate", "x"]] {
        let out = leak_check(args);
        assert_eq!(out.code(), Some(2), "{out}");
        assert!(out.stderr.contains("usage: leak-check"), "{out}");
    }
    let out = leak_check(&["compare", "/nonexistent/snapshot"]);
    assert_eq!(out.code(), Some(2), "{out}");
    assert!(out.stderr.contains("/nonexistent/snapshot"), "{out}");
}
