//! Features runc 1.1.5 does not support on this host. These fail against
//! runc and are meant to run against cryo only.
//!
//! * `time_namespace_offsets`: runc 1.1.5 has no time namespace support
//!   (it fails with `namespace {"time" ""} does not exist`); timeOffsets
//!   arrived in runc 1.2.
//! * `hugetlb_limit_on_hybrid_host`: hugetlb is only available on the
//!   cgroup2 mount (/sys/fs/cgroup/unified) of this hybrid host; runc's v1
//!   manager fails with `cannot set hugetlb limit: container could not join
//!   or create cgroup`.
//! * `domainname_is_set`: runc 1.1.5 ignores the spec's `domainname`
//!   (the container sees `(none)`).

use cryo_e2e::*;
use serde_json::json;

#[test]
fn time_namespace_offsets() {
    let rt = Runtime::cryo();
    let mut b = Bundle::new(&[
        "sh",
        "-c",
        "cat /proc/self/timens_offsets; cat /proc/uptime",
    ]);
    b.add_namespace("time", None);
    b.config_mut()["linux"]["timeOffsets"] = json!({
        "monotonic": {"secs": 86400, "nanosecs": 0},
        "boottime": {"secs": 172800, "nanosecs": 0},
    });
    let host_uptime = |s: &str| -> f64 {
        s.split_whitespace()
            .next()
            .and_then(|x| x.parse().ok())
            .expect("uptime")
    };
    let before = host_uptime(&std::fs::read_to_string("/proc/uptime").expect("uptime"));
    let out = rt.run_fg_ok(&b, "timens");
    let after = host_uptime(&std::fs::read_to_string("/proc/uptime").expect("uptime"));
    let lines: Vec<&str> = out.lines().collect();
    let offsets: Vec<String> = lines[..2]
        .iter()
        .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
        .collect();
    assert!(offsets.contains(&"monotonic 86400 0".to_string()), "{out}");
    assert!(offsets.contains(&"boottime 172800 0".to_string()), "{out}");
    // /proc/uptime follows CLOCK_BOOTTIME, shifted by the boottime offset.
    let inside = host_uptime(lines[2]);
    assert!(
        inside >= before + 172800.0 - 1.0 && inside <= after + 172800.0 + 1.0,
        "uptime inside {inside}, host {before}..{after}"
    );
}

#[test]
fn hugetlb_limit_on_hybrid_host() {
    let rt = Runtime::cryo();
    let mut b = Bundle::new(LONG_RUNNING);
    let id = unique_id("hugetlb");
    let path = format!("/cryo-e2e/{id}");
    b.config_mut()["linux"]["cgroupsPath"] = json!(path);
    b.config_mut()["linux"]["resources"]["hugepageLimits"] =
        json!([{"pageSize": "2MB", "limit": 4194304}]);
    let c = rt.create(&b, "hugetlb");
    let dir = std::path::Path::new("/sys/fs/cgroup/unified").join(path.trim_start_matches('/'));
    assert_eq!(read_trim(&dir.join("hugetlb.2MB.max")), "4194304");
    let procs = read_trim(&dir.join("cgroup.procs"));
    assert_eq!(procs, c.pid().to_string());
    rt.run_ok(&["delete", "--force", &c.id]);
    assert!(!dir.exists(), "{} still exists", dir.display());
}

#[test]
fn domainname_is_set() {
    let rt = Runtime::cryo();
    let mut b = Bundle::new(&["cat", "/proc/sys/kernel/domainname"]);
    b.config_mut()["domainname"] = json!("example.org");
    assert_eq!(rt.run_fg_ok(&b, "domainname").trim(), "example.org");
}
