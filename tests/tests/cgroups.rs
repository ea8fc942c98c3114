//! cgroup setup on this v1/v2 hybrid host: v1 controllers under
//! /sys/fs/cgroup/<controller>, cgroup2 at /sys/fs/cgroup/unified.

use std::path::Path;

use cryo_e2e::*;
use serde_json::json;

const V1_CONTROLLERS: [&str; 8] = [
    "cpu", "cpuacct", "cpuset", "memory", "devices", "freezer", "blkio", "pids",
];

fn cg_path(id: &str) -> String {
    format!("/cryo-e2e/{id}")
}

/// The cgroup2 mount of this hybrid host; runc also places the container in
/// `<unified>/<cgroupsPath>` (it shows up as `0::<path>` in /proc/<pid>/cgroup).
const UNIFIED: &str = "/sys/fs/cgroup/unified";

fn assert_removed(path: &str) {
    for sub in V1_CONTROLLERS {
        let d = cgroup_v1_dir(sub, path);
        assert!(!d.exists(), "{} still exists after delete", d.display());
    }
    let d = Path::new(UNIFIED).join(path.trim_start_matches('/'));
    assert!(!d.exists(), "{} still exists after delete", d.display());
}

fn procs(sub: &str, path: &str) -> Vec<String> {
    let f = cgroup_v1_dir(sub, path).join("cgroup.procs");
    std::fs::read_to_string(&f)
        .unwrap_or_else(|e| panic!("read {}: {e}", f.display()))
        .lines()
        .map(String::from)
        .collect()
}

#[test]
fn resources_are_written_and_removed() {
    let rt = Runtime::cryo();
    let mut b = Bundle::new(LONG_RUNNING);
    let id = unique_id("cgres");
    let path = cg_path(&id);
    b.config_mut()["linux"]["cgroupsPath"] = json!(path);
    b.config_mut()["linux"]["resources"] = json!({
        "devices": [{"allow": false, "access": "rwm"}],
        "memory": {"limit": 67108864, "reservation": 33554432, "swap": 134217728},
        "cpu": {"shares": 512, "quota": 50000, "period": 100000, "cpus": "0", "mems": "0"},
        "pids": {"limit": 50},
    });
    let c = rt.create(&b, "cgres");
    assert_eq!(c.id, id);
    let pid = c.pid().to_string();
    let read = |sub: &str, file: &str| read_trim(&cgroup_v1_dir(sub, &path).join(file));
    assert_eq!(read("memory", "memory.limit_in_bytes"), "67108864");
    assert_eq!(read("memory", "memory.soft_limit_in_bytes"), "33554432");
    assert_eq!(read("memory", "memory.memsw.limit_in_bytes"), "134217728");
    assert_eq!(read("cpu", "cpu.shares"), "512");
    assert_eq!(read("cpu", "cpu.cfs_quota_us"), "50000");
    assert_eq!(read("cpu", "cpu.cfs_period_us"), "100000");
    assert_eq!(read("cpuset", "cpuset.cpus"), "0");
    assert_eq!(read("cpuset", "cpuset.mems"), "0");
    assert_eq!(read("pids", "pids.max"), "50");
    for sub in V1_CONTROLLERS {
        assert_eq!(
            procs(sub, &path),
            [pid.as_str()],
            "init must be the only process in the {sub} cgroup"
        );
    }
    let self_cg = std::fs::read_to_string(format!("/proc/{pid}/cgroup")).expect("cgroup");
    assert!(
        self_cg.lines().any(|l| l == format!("0::{path}")),
        "init must also be in the unified hierarchy at {path}:\n{self_cg}"
    );
    c.start();
    c.wait_status("running", std::time::Duration::from_secs(5));
    rt.run_ok(&["delete", "--force", &c.id]);
    assert_removed(&path);
}

#[test]
fn cgroup_is_removed_after_normal_exit_and_delete() {
    let rt = Runtime::cryo();
    let mut b = Bundle::new(&["true"]);
    let id = unique_id("cgexit");
    let path = cg_path(&id);
    b.config_mut()["linux"]["cgroupsPath"] = json!(path);
    b.config_mut()["linux"]["resources"]["pids"] = json!({"limit": 10});
    let c = rt.create(&b, "cgexit");
    assert!(cgroup_v1_dir("pids", &path).is_dir());
    c.start();
    c.wait_stopped();
    c.delete();
    assert_removed(&path);
}

#[test]
fn container_sees_its_memory_limit() {
    let rt = Runtime::cryo();
    // Without a cgroup namespace, /proc/self/cgroup shows the host path.
    let mut b = Bundle::new(&["sh", "-c", "grep -E '^[0-9]+:memory:' /proc/self/cgroup"]);
    let id = unique_id("cgself");
    let path = cg_path(&id);
    b.config_mut()["linux"]["cgroupsPath"] = json!(path);
    b.config_mut()["linux"]["resources"]["memory"] = json!({"limit": 67108864});
    let out = rt.run_fg_ok(&b, "cgself");
    assert!(out.trim().ends_with(&format!(":memory:{path}")), "{out}");
    assert_removed(&path);
}

#[test]
fn pids_limit_is_enforced() {
    let rt = Runtime::cryo();
    // busybox sh exits ("can't fork") when fork fails.
    let mut b = Bundle::new(&[
        "sh",
        "-c",
        "for i in 1 2 3 4 5 6 7 8; do sleep 5 & done; echo all-started",
    ]);
    let id = unique_id("cgpids");
    b.config_mut()["linux"]["cgroupsPath"] = json!(cg_path(&id));
    b.config_mut()["linux"]["resources"]["pids"] = json!({"limit": 4});
    let out = rt.run_fg(&b, "cgpids", &[]);
    assert!(
        !out.stdout.contains("all-started"),
        "pids limit not enforced\n{out}"
    );
    assert!(out.stderr.contains("can't fork"), "{out}");
    assert_removed(&cg_path(&id));
}

#[test]
fn device_cgroup_rules() {
    let rt = Runtime::cryo();
    let mut b = Bundle::new(&[
        "sh",
        "-c",
        "head -c 1 /dev/kmsgx >/dev/null 2>&1 && echo kmsg-readable || echo kmsg-denied; \
         echo x > /dev/mynull && echo mynull-ok; touch /out/ready; \
         while :; do sleep 0.1; done",
    ]);
    b.out_dir();
    let id = unique_id("cgdev");
    let path = cg_path(&id);
    b.config_mut()["linux"]["cgroupsPath"] = json!(path);
    b.config_mut()["linux"]["devices"] = json!([
        {"path": "/dev/kmsgx", "type": "c", "major": 1, "minor": 11, "fileMode": 0o666},
        {"path": "/dev/mynull", "type": "c", "major": 1, "minor": 3, "fileMode": 0o666},
    ]);
    b.config_mut()["linux"]["resources"]["devices"] = json!([
        {"allow": false, "access": "rwm"},
        {"allow": true, "type": "c", "major": 1, "minor": 3, "access": "rwm"},
        {"allow": true, "type": "c", "major": 4, "minor": 1, "access": "rw"},
    ]);
    let c = rt.create(&b, "cgdev");
    let list = read_trim(&cgroup_v1_dir("devices", &path).join("devices.list"));
    let rules: Vec<&str> = list.lines().collect();
    assert!(
        !rules.contains(&"a *:* rwm"),
        "deny-all not applied:\n{list}"
    );
    assert!(rules.contains(&"c 1:3 rwm"), "{list}");
    assert!(rules.contains(&"c 4:1 rw"), "{list}");
    assert!(
        !rules.iter().any(|r| r.starts_with("c 1:11 ")),
        "kmsg must not be allowed:\n{list}"
    );
    c.start();
    b.wait_out("ready", std::time::Duration::from_secs(10));
    assert_eq!(c.stdout(), "kmsg-denied\nmynull-ok\n");
    rt.run_ok(&["delete", "--force", &c.id]);
    assert_removed(&path);
}

fn first_block_device() -> (u64, u64) {
    let mut devs: Vec<(String, String)> = std::fs::read_dir("/sys/block")
        .expect("/sys/block")
        .map(|e| {
            let e = e.expect("entry");
            let name = e.file_name().to_string_lossy().into_owned();
            let dev = read_trim(&e.path().join("dev"));
            (name, dev)
        })
        .collect();
    // Prefer a real disk over loop/zram/ram devices.
    devs.sort_by_key(|(n, _)| {
        (
            n.starts_with("loop") || n.starts_with("zram") || n.starts_with("ram"),
            n.clone(),
        )
    });
    let (_, dev) = devs.first().expect("at least one block device");
    let (ma, mi) = dev.split_once(':').expect("major:minor");
    (ma.parse().expect("major"), mi.parse().expect("minor"))
}

#[test]
fn blkio_throttle_and_weight() {
    let rt = Runtime::cryo();
    let mut b = Bundle::new(LONG_RUNNING);
    let id = unique_id("cgblkio");
    let path = cg_path(&id);
    let (major, minor) = first_block_device();
    b.config_mut()["linux"]["cgroupsPath"] = json!(path);
    let mut blkio = json!({
        "throttleReadBpsDevice": [{"major": major, "minor": minor, "rate": 1048576}],
        "throttleWriteIOPSDevice": [{"major": major, "minor": minor, "rate": 300}],
    });
    // Weights need CFQ (blkio.weight) or BFQ (blkio.bfq.weight, which only
    // exists in non-root cgroups; the root has blkio.bfq.io_service_bytes).
    // This host has BFQ; runc writes blkio.bfq.weight when it exists.
    let root = Path::new("/sys/fs/cgroup/blkio");
    let weight_supported =
        root.join("blkio.weight").exists() || root.join("blkio.bfq.io_service_bytes").exists();
    if weight_supported {
        blkio["weight"] = json!(500);
    }
    b.config_mut()["linux"]["resources"]["blockIO"] = blkio;
    let c = rt.create(&b, "cgblkio");
    let dir = cgroup_v1_dir("blkio", &path);
    assert_eq!(
        read_trim(&dir.join("blkio.throttle.read_bps_device")),
        format!("{major}:{minor} 1048576")
    );
    assert_eq!(
        read_trim(&dir.join("blkio.throttle.write_iops_device")),
        format!("{major}:{minor} 300")
    );
    if weight_supported {
        let f = ["blkio.bfq.weight", "blkio.weight"]
            .into_iter()
            .map(|f| dir.join(f))
            .find(|p| p.exists())
            .expect("a blkio weight file in the container cgroup");
        let w = read_trim(&f);
        assert!(
            w.split_whitespace().any(|x| x == "500"),
            "{}: {w}",
            f.display()
        );
    }
    rt.run_ok(&["delete", "--force", &c.id]);
    assert_removed(&path);
}

#[test]
fn freezer_pause_resume() {
    let rt = Runtime::cryo();
    let b = Bundle::new(LONG_RUNNING);
    let c = rt.create(&b, "pause");
    c.start();
    rt.run_ok(&["pause", &c.id]);
    assert_eq!(c.status(), "paused");
    rt.run_ok(&["resume", &c.id]);
    assert_eq!(c.status(), "running");
}

#[test]
fn a_container_throttled_by_its_cpu_quota_pauses() {
    // Busy loops held to 1 ms of CPU per 100 ms period: a runnable task
    // may wait most of a period before it can reach the refrigerator, so a
    // freeze must keep the cgroup frozen for that long rather than thaw
    // and retry every few milliseconds.
    let rt = Runtime::cryo();
    let mut b = Bundle::new(&[
        "sh",
        "-c",
        "for i in 1 2 3; do (while :; do :; done) & done; while :; do :; done",
    ]);
    let id = unique_id("throttled");
    let path = cg_path(&id);
    b.config_mut()["linux"]["cgroupsPath"] = json!(path);
    b.config_mut()["linux"]["resources"] = json!({
        "cpu": {"quota": 1000, "period": 100000},
    });
    let c = rt.create(&b, "throttled");
    c.start();
    wait_for(
        std::time::Duration::from_secs(20),
        "the four busy loops",
        || procs("freezer", &path).len() == 4,
    );
    for round in 0..5 {
        let out = rt.output(&["pause", &c.id]);
        assert!(out.success(), "round {round}: pause failed\n{out}");
        assert_eq!(c.status(), "paused");
        assert_eq!(
            read_trim(&cgroup_v1_dir("freezer", &path).join("freezer.state")),
            "FROZEN"
        );
        rt.run_ok(&["resume", &c.id]);
        assert_eq!(c.status(), "running");
    }
    rt.run_ok(&["delete", "--force", &c.id]);
    assert_removed(&path);
}
