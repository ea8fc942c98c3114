//! Namespaces, hostname and domainname.

use std::time::Duration;

use cryo_e2e::*;
use serde_json::json;

#[test]
fn new_namespaces_differ_from_host() {
    let rt = Runtime::cryo();
    let mut b = Bundle::new(LONG_RUNNING);
    b.add_namespace("cgroup", None);
    let c = rt.create(&b, "nsdiff");
    let pid = c.pid().to_string();
    for ns in ["uts", "ipc", "net", "pid", "mnt", "cgroup"] {
        let host = ns_link("self", ns);
        let ctr = ns_link(&pid, ns);
        assert_ne!(host, ctr, "{ns} namespace must be new");
    }
    // No user namespace was requested.
    assert_eq!(ns_link("self", "user"), ns_link(&pid, "user"));
}

#[test]
fn unrequested_namespace_is_shared_with_host() {
    let rt = Runtime::cryo();
    let mut b = Bundle::new(LONG_RUNNING);
    b.remove_namespace("ipc");
    b.remove_namespace("network");
    let c = rt.create(&b, "nsshared");
    let pid = c.pid().to_string();
    assert_eq!(ns_link("self", "ipc"), ns_link(&pid, "ipc"));
    assert_eq!(ns_link("self", "net"), ns_link(&pid, "net"));
    assert_ne!(ns_link("self", "uts"), ns_link(&pid, "uts"));
}

#[test]
fn process_is_pid_1() {
    let rt = Runtime::cryo();
    let b = Bundle::new(&["sh", "-c", "echo $$"]);
    assert_eq!(rt.run_fg_ok(&b, "pid1").trim(), "1");
}

#[test]
fn hostname_is_set() {
    let rt = Runtime::cryo();
    let mut b = Bundle::new(&["sh", "-c", "hostname; cat /proc/sys/kernel/hostname"]);
    b.config_mut()["hostname"] = json!("cryo-e2e-host");
    assert_eq!(
        rt.run_fg_ok(&b, "hostname"),
        "cryo-e2e-host\ncryo-e2e-host\n"
    );
}

// `domainname` is tested in beyond_runc.rs: runc 1.1.5 ignores it.

#[test]
fn join_existing_netns_by_path() {
    let rt = Runtime::cryo();
    let holder = HostProcess::spawn("unshare", &["--net", "sleep", "1000"]);
    let hp = holder.pid().to_string();
    let host_net = ns_link("self", "net");
    wait_for(
        Duration::from_secs(5),
        "unshare to enter a new netns",
        || {
            std::fs::read_link(format!("/proc/{hp}/ns/net"))
                .map(|l| l.to_string_lossy() != host_net)
                .unwrap_or(false)
        },
    );
    let target = ns_link(&hp, "net");
    let mut b = Bundle::new(LONG_RUNNING);
    b.add_namespace("network", Some(&format!("/proc/{hp}/ns/net")));
    let c = rt.create(&b, "joinnet");
    assert_eq!(ns_link(&c.pid().to_string(), "net"), target);
}

#[test]
fn join_host_uts_by_path_keeps_hostname() {
    // Joining a UTS namespace by path must not change its hostname unless one
    // is configured: run with no `hostname` in the spec.
    let rt = Runtime::cryo();
    let holder = HostProcess::spawn("unshare", &["--uts", "sleep", "1000"]);
    let hp = holder.pid().to_string();
    let host_uts = ns_link("self", "uts");
    wait_for(
        Duration::from_secs(5),
        "unshare to enter a new utsns",
        || {
            std::fs::read_link(format!("/proc/{hp}/ns/uts"))
                .map(|l| l.to_string_lossy() != host_uts)
                .unwrap_or(false)
        },
    );
    let mut b = Bundle::new(&["cat", "/proc/sys/kernel/hostname"]);
    b.add_namespace("uts", Some(&format!("/proc/{hp}/ns/uts")));
    b.config_mut()
        .as_object_mut()
        .expect("object")
        .remove("hostname");
    let host_name = read_trim(std::path::Path::new("/proc/sys/kernel/hostname"));
    assert_eq!(rt.run_fg_ok(&b, "joinuts").trim(), host_name);
}

#[test]
fn user_namespace_mappings() {
    let rt = Runtime::cryo();
    let mut b = Bundle::new(LONG_RUNNING);
    b.set_args(&[
        "sh",
        "-c",
        "cat /proc/self/uid_map /proc/self/gid_map; id -u; id -g; stat -c %u:%g /bin/busybox",
    ]);
    b.add_namespace("user", None);
    b.config_mut()["linux"]["uidMappings"] =
        json!([{"containerID": 0, "hostID": 100000, "size": 65536}]);
    b.config_mut()["linux"]["gidMappings"] =
        json!([{"containerID": 0, "hostID": 100000, "size": 65536}]);
    host_ok(
        "chown",
        &["-R", "-h", "100000:100000", path_str(&b.rootfs())],
    );
    let out = rt.run_fg_ok(&b, "userns");
    let lines: Vec<String> = out
        .lines()
        .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
        .collect();
    assert_eq!(
        lines,
        ["0 100000 65536", "0 100000 65536", "0", "0", "0:0"],
        "raw output: {out:?}"
    );
}

#[test]
fn user_namespace_seen_from_host() {
    let rt = Runtime::cryo();
    let mut b = Bundle::new(LONG_RUNNING);
    b.add_namespace("user", None);
    b.config_mut()["linux"]["uidMappings"] =
        json!([{"containerID": 0, "hostID": 200000, "size": 1000}]);
    b.config_mut()["linux"]["gidMappings"] =
        json!([{"containerID": 0, "hostID": 200000, "size": 1000}]);
    host_ok(
        "chown",
        &["-R", "-h", "200000:200000", path_str(&b.rootfs())],
    );
    let c = rt.create(&b, "usernshost");
    let pid = c.pid().to_string();
    assert_ne!(ns_link("self", "user"), ns_link(&pid, "user"));
    let map = read_trim(std::path::Path::new(&format!("/proc/{pid}/uid_map")));
    assert_eq!(
        map.split_whitespace().collect::<Vec<_>>(),
        ["0", "200000", "1000"]
    );
    // The container's root is host uid 200000.
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("status");
    let uid_line = status
        .lines()
        .find(|l| l.starts_with("Uid:"))
        .expect("Uid line");
    assert!(
        uid_line.split_whitespace().nth(1) == Some("200000"),
        "{uid_line}"
    );
}

#[test]
fn cgroup_namespace_root_view() {
    let rt = Runtime::cryo();
    let mut b = Bundle::new(&["cat", "/proc/self/cgroup"]);
    b.add_namespace("cgroup", None);
    let out = rt.run_fg_ok(&b, "cgroupns");
    assert!(!out.trim().is_empty());
    for l in out.lines() {
        assert!(
            l.ends_with(":/"),
            "inside a cgroup namespace every cgroup path is `/`: {out}"
        );
    }
}

/// A container with a network namespace of its own has its loopback up,
/// as under runc (Podman's `--network none` relies on it).
#[test]
fn new_network_namespace_has_loopback_up() {
    let rt = Runtime::cryo();
    let b = Bundle::new(&["cat", "/sys/class/net/lo/flags"]);
    let out = rt.run_fg_ok(&b, "lo-up");
    let flags = u32::from_str_radix(out.trim().trim_start_matches("0x"), 16).expect("hex flags");
    assert_eq!(flags & 1, 1, "IFF_UP not set on lo: {out}");
}
