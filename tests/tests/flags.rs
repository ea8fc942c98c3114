//! Flags of create/run/kill not covered elsewhere: --no-pivot,
//! --no-new-keyring, kill --all and --systemd-cgroup on a host without
//! systemd.

use std::time::Duration;

use cryo_e2e::*;

/// A container that counts the session keyrings named after it (cryo names
/// them `_ses.<id>`) in /proc/keys, which the default spec masks: unmasked here.
fn keyring_bundle(name: &str) -> Bundle {
    let pattern = format!("_ses.t[0-9]*-{name}:");
    let script = format!("grep -c '{pattern}' /proc/keys || true");
    let mut b = Bundle::new(&["sh", "-c", &script]);
    let masked = b.config_mut()["linux"]["maskedPaths"]
        .as_array()
        .expect("maskedPaths")
        .iter()
        .filter(|p| p.as_str() != Some("/proc/keys"))
        .cloned()
        .collect::<Vec<_>>();
    b.config_mut()["linux"]["maskedPaths"] = serde_json::Value::Array(masked);
    b
}

#[test]
fn new_session_keyring_by_default() {
    let rt = Runtime::cryo();
    let b = keyring_bundle("keyring");
    let out = rt.run_fg_ok(&b, "keyring");
    assert_eq!(
        out.trim(),
        "1",
        "the container must see its own _ses keyring: {out}"
    );
}

#[test]
fn no_new_keyring_keeps_callers_keyring() {
    let rt = Runtime::cryo();
    let b = keyring_bundle("nokeyring");
    let out = rt.run_fg(&b, "nokeyring", &["--no-new-keyring"]);
    assert!(out.success(), "{out}");
    assert_eq!(
        out.stdout.trim(),
        "0",
        "no _ses keyring may be created: {out}"
    );
}

#[test]
fn no_pivot_uses_a_moved_root() {
    let rt = Runtime::cryo();
    let b = Bundle::new(&["sh", "-c", "cat /etc/passwd | head -1; ls / | grep -c . "]);
    let out = rt.run_fg(&b, "nopivot", &["--no-pivot"]);
    assert!(out.success(), "{out}");
    assert!(out.stdout.starts_with("root:"), "{out}");
    // The container sees its rootfs as /, not the host's.
    let entries: usize = out
        .stdout
        .lines()
        .nth(1)
        .and_then(|l| l.trim().parse().ok())
        .unwrap_or(0);
    let host_entries = std::fs::read_dir("/").expect("readdir /").count();
    let rootfs_entries = std::fs::read_dir(b.rootfs())
        .expect("readdir rootfs")
        .count();
    assert_eq!(
        entries, rootfs_entries,
        "host / has {host_entries} entries\n{out}"
    );
}

#[test]
fn kill_all_signals_every_process() {
    let rt = Runtime::cryo();
    // No pid namespace: the init's death alone would not stop the child.
    let mut b = Bundle::new(&["sh", "-c", "sleep 1000 & echo $! > /out/child; wait"]);
    b.out_dir();
    let ns = b.config_mut()["linux"]["namespaces"]
        .as_array()
        .expect("namespaces")
        .iter()
        .filter(|n| n["type"] != "pid")
        .cloned()
        .collect::<Vec<_>>();
    b.config_mut()["linux"]["namespaces"] = serde_json::Value::Array(ns);
    let c = rt.create(&b, "killall");
    c.start();
    let child_file = b.path().join("out/child");
    wait_for(Duration::from_secs(10), "child pid", || child_file.exists());
    let child: i64 = std::fs::read_to_string(&child_file)
        .expect("child pid")
        .trim()
        .parse()
        .expect("pid");
    let out = rt.run_ok(&["kill", "--all", &c.id, "KILL"]);
    assert!(out.stderr.is_empty(), "{out}");
    wait_for(Duration::from_secs(10), "child killed", || {
        pid_is_dead(child)
    });
    c.wait_stopped();
}

#[test]
fn systemd_cgroup_without_systemd_is_a_clear_error() {
    if std::path::Path::new("/run/systemd/system").exists() {
        panic!("this test expects a host without systemd (the CI machines have none)");
    }
    let rt = Runtime::cryo();
    let b = Bundle::new(&["true"]);
    let id = unique_id("systemdcg");
    let _g = rt.guard(&id);
    let out = rt.run_fail(&["--systemd-cgroup", "run", "--bundle", b.path_str(), &id]);
    assert!(out.stderr.contains("systemd"), "{out}");
    assert!(
        rt.root_entries().is_empty(),
        "nothing may be created: {:?}",
        rt.root_entries()
    );
}
