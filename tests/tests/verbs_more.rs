//! The verbs beyond the lifecycle: `ps`, `events`, `update`, `features`.
//!
//! Error strings asserted here are runc 1.1.5's words. Two checks are
//! cryo-specific: `features` reports the time namespace, and `events`
//! exits 0 once the container has stopped (runc's never returns).

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::time::Duration;

use cryo_e2e::*;
use serde_json::{json, Value};

/// `sh` as the init with a `sleep` child that lives as long as the test.
const WITH_CHILD: &[&str] = &[
    "sh",
    "-c",
    "sleep 1000 & trap 'exit 0' TERM; while :; do sleep 0.1; done",
];

/// Host pids of the direct children of `pid`.
fn children(pid: i64) -> Vec<i64> {
    std::fs::read_to_string(format!("/proc/{pid}/task/{pid}/children"))
        .unwrap_or_default()
        .split_whitespace()
        .filter_map(|p| p.parse().ok())
        .collect()
}

/// The pid of the `sleep 1000` child of the container's init.
fn sleeper_child(init: i64) -> i64 {
    let mut found = None;
    wait_for(
        Duration::from_secs(5),
        "the init to fork its sleep 1000 child",
        || {
            found = children(init).into_iter().find(|c| {
                std::fs::read(format!("/proc/{c}/cmdline"))
                    .is_ok_and(|cmd| cmd.starts_with(b"sleep\x001000"))
            });
            found.is_some()
        },
    );
    found.unwrap_or_default()
}

fn ps_json(rt: &Runtime, id: &str) -> Vec<i64> {
    let out = rt.run_ok(&["ps", "--format", "json", id]);
    let v: Value = serde_json::from_str(&out.stdout)
        .unwrap_or_else(|e| panic!("ps --format json is not JSON: {e}\n{out}"));
    v.as_array()
        .unwrap_or_else(|| panic!("ps --format json is not an array\n{out}"))
        .iter()
        .map(|p| {
            p.as_i64()
                .unwrap_or_else(|| panic!("not a pid: {p}\n{out}"))
        })
        .collect()
}

fn cg_path(id: &str) -> String {
    format!("/cryo-e2e/{id}")
}

/// A background runtime process (e.g. a streaming `events`), killed on drop.
struct Background {
    child: Child,
    stdout: PathBuf,
}

impl Background {
    fn spawn(rt: &Runtime, args: &[&str], dir: &Path) -> Background {
        let stdout = dir.join("events.out");
        let mut cmd = rt.cmd(args);
        cmd.stdout(File::create(&stdout).expect("create events.out"));
        cmd.stderr(File::create(dir.join("events.err")).expect("create events.err"));
        let child = cmd.spawn().expect("spawn events");
        Background { child, stdout }
    }

    fn stdout(&self) -> String {
        std::fs::read_to_string(&self.stdout).unwrap_or_default()
    }
}

impl Drop for Background {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn ps_json_lists_the_init_and_its_child() {
    let rt = Runtime::cryo();
    let b = Bundle::new(WITH_CHILD);
    let c = rt.create(&b, "psjson");
    let init = c.pid();
    assert_eq!(ps_json(&rt, &c.id), [init], "created: only the init");
    c.start();
    let child = sleeper_child(init);
    let pids = ps_json(&rt, &c.id);
    assert!(pids.contains(&init), "init {init} missing from {pids:?}");
    assert!(pids.contains(&child), "child {child} missing from {pids:?}");
    let me = i64::from(std::process::id());
    assert!(
        !pids.contains(&me),
        "the test process is not in the container"
    );
}

#[test]
fn ps_table_keeps_the_header_and_only_container_rows() {
    let rt = Runtime::cryo();
    let b = Bundle::new(WITH_CHILD);
    let c = rt.create(&b, "pstable");
    c.start();
    let init = c.pid();
    let child = sleeper_child(init);
    let pids = ps_json(&rt, &c.id);

    let out = rt.run_ok(&["ps", &c.id]);
    let mut lines = out.stdout.lines();
    let header = lines.next().unwrap_or_default();
    let cols: Vec<&str> = header.split_whitespace().collect();
    assert_eq!(
        cols.first().copied(),
        Some("UID"),
        "default is ps -ef\n{out}"
    );
    let pid_col = cols
        .iter()
        .position(|c| *c == "PID")
        .unwrap_or_else(|| panic!("no PID column\n{out}"));
    let rows: Vec<i64> = lines
        .map(|l| {
            l.split_whitespace()
                .nth(pid_col)
                .and_then(|p| p.parse().ok())
                .unwrap_or_else(|| panic!("bad row {l:?}\n{out}"))
        })
        .collect();
    assert!(
        rows.contains(&init) && rows.contains(&child),
        "{rows:?}\n{out}"
    );
    for r in &rows {
        assert!(
            pids.contains(r) || pid_is_dead(*r),
            "row of pid {r} is not a container process ({pids:?})\n{out}"
        );
    }

    // Everything after the id goes to the host ps.
    let out = rt.run_ok(&["ps", &c.id, "-o", "pid,comm"]);
    let mut lines = out.stdout.lines();
    let header: Vec<&str> = lines
        .next()
        .unwrap_or_default()
        .split_whitespace()
        .collect();
    assert_eq!(header, ["PID", "COMMAND"], "{out}");
    let comms: Vec<String> = lines
        .filter_map(|l| l.split_whitespace().nth(1).map(String::from))
        .collect();
    assert!(comms.iter().any(|c| c == "sh"), "{out}");
    assert!(comms.iter().all(|c| c == "sh" || c == "sleep"), "{out}");

    let out = rt.run_fail(&["ps", &c.id, "-o", "comm"]);
    assert!(
        out.stderr.contains("couldn't find PID field in ps output"),
        "{out}"
    );
    let out = rt.run_fail(&["ps", "--format", "xml", &c.id]);
    assert!(out.stderr.contains("invalid format option"), "{out}");
}

#[test]
fn events_stats_prints_one_stats_event() {
    let rt = Runtime::cryo();
    let b = Bundle::new(WITH_CHILD);
    let c = rt.create(&b, "evstats");
    c.start();
    sleeper_child(c.pid());
    let out = rt.run_ok(&["events", "--stats", &c.id]);
    assert_eq!(out.stdout.lines().count(), 1, "one line\n{out}");
    let ev: Value = serde_json::from_str(&out.stdout)
        .unwrap_or_else(|e| panic!("events --stats is not JSON: {e}\n{out}"));
    assert_eq!(ev["type"], "stats", "{ev}");
    assert_eq!(ev["id"], json!(c.id), "{ev}");
    let data = &ev["data"];
    let usage = data["memory"]["usage"]["usage"].as_u64().unwrap_or(0);
    assert!(usage > 0, "memory.usage.usage must be > 0: {data}");
    let current = data["pids"]["current"].as_u64().unwrap_or(0);
    assert!(current >= 1, "pids.current must be >= 1: {data}");
    for key in [
        "cpu",
        "cpuset",
        "memory",
        "pids",
        "blkio",
        "hugetlb",
        "intel_rdt",
    ] {
        assert!(data[key].is_object(), "data.{key} missing: {data}");
    }
    assert!(data["network_interfaces"].is_null(), "{data}");
    assert!(
        data["cpu"]["usage"]["total"].as_u64().unwrap_or(0) > 0,
        "{data}"
    );
}

#[test]
fn events_of_a_stopped_container_fail_like_runc() {
    let rt = Runtime::cryo();
    let b = Bundle::new(&["true"]);
    let c = rt.create(&b, "evstopped");
    c.start();
    c.wait_stopped();
    let id = c.id.as_str();
    for args in [&["events", "--stats", id][..], &["events", id][..]] {
        let out = rt.run_fail(args);
        assert!(
            out.stderr
                .contains(&format!("container with id {} is not running", c.id)),
            "{out}"
        );
    }
    let out = rt.run_fail(&["events", "--interval", "0s", &c.id]);
    assert!(
        out.stderr
            .contains("duration interval must be greater than 0"),
        "{out}"
    );
}

#[test]
fn update_memory_and_pids_through_flags_and_stdin() {
    let rt = Runtime::cryo();
    let mut b = Bundle::new(LONG_RUNNING);
    let id = unique_id("update");
    let path = cg_path(&id);
    b.config_mut()["linux"]["cgroupsPath"] = json!(path);
    b.config_mut()["linux"]["resources"]["memory"] = json!({"limit": 134217728});
    let c = rt.create(&b, "update");
    assert_eq!(c.id, id);
    c.start();
    let read = |sub: &str, file: &str| read_trim(&cgroup_v1_dir(sub, &path).join(file));
    assert_eq!(read("memory", "memory.limit_in_bytes"), "134217728");

    rt.run_ok(&["update", "--memory", "64m", &c.id]);
    assert_eq!(read("memory", "memory.limit_in_bytes"), "67108864");

    let doc = b.path().join("resources.json");
    std::fs::write(&doc, r#"{"pids":{"limit":20}}"#).expect("write resources.json");
    let mut cmd = rt.cmd(&["update", "-r", "-", &c.id]);
    cmd.stdin(Stdio::from(File::open(&doc).expect("open resources.json")));
    let out = output_timeout(cmd, CMD_TIMEOUT);
    assert!(out.success(), "update -r -\n{out}");
    assert_eq!(read("pids", "pids.max"), "20");
    // The earlier update is kept.
    assert_eq!(read("memory", "memory.limit_in_bytes"), "67108864");

    // From a file, with unit suffixes and cpu settings.
    std::fs::write(
        &doc,
        r#"{"cpu":{"shares":512,"quota":20000,"period":100000},"memory":{"reservation":33554432}}"#,
    )
    .expect("write resources.json");
    rt.run_ok(&["update", "--resources", path_str(&doc), &c.id]);
    assert_eq!(read("cpu", "cpu.shares"), "512");
    assert_eq!(read("cpu", "cpu.cfs_quota_us"), "20000");
    assert_eq!(read("memory", "memory.soft_limit_in_bytes"), "33554432");

    let out = rt.run_fail(&["update", "--memory", "64x", &c.id]);
    assert!(
        out.stderr
            .contains("invalid value for memory: invalid size: '64x'"),
        "{out}"
    );
    let out = rt.run_fail(&["update", "--l3-cache-schema", "L3:0=f", &c.id]);
    assert!(out.stderr.contains("l3 cache schema"), "{out}");
    assert_eq!(read("memory", "memory.limit_in_bytes"), "67108864");
    let out = rt.run_fail(&["update", "--memory", "64m", "nonexistent-ctr"]);
    assert!(out.stderr.contains("container does not exist"), "{out}");
}

#[test]
fn update_of_a_stopped_container_fails() {
    let rt = Runtime::cryo();
    let b = Bundle::new(&["true"]);
    let c = rt.create(&b, "updstopped");
    c.start();
    c.wait_stopped();
    let out = rt.run_fail(&["update", "--memory", "64m", &c.id]);
    assert!(out.stderr.contains("container not running"), "{out}");
}

#[test]
fn features_document() {
    let rt = Runtime::cryo();
    let out = rt.run_ok(&["features"]);
    let f: Value = serde_json::from_str(&out.stdout)
        .unwrap_or_else(|e| panic!("features is not JSON: {e}\n{out}"));
    assert_eq!(f["ociVersionMin"], "1.0.0", "{f}");
    assert!(f["ociVersionMax"].is_string(), "{f}");
    assert!(f["mountOptions"].is_array(), "{f}");
    let ns = f["linux"]["namespaces"].as_array().expect("namespaces");
    for want in [
        "cgroup", "ipc", "mount", "network", "pid", "time", "user", "uts",
    ] {
        assert!(ns.contains(&json!(want)), "namespace {want} missing: {f}");
    }
    assert_eq!(f["linux"]["seccomp"]["enabled"], true, "{f}");
    let caps = f["linux"]["capabilities"].as_array().expect("capabilities");
    assert!(caps.contains(&json!("CAP_SYS_ADMIN")), "{f}");
    assert!(f["linux"]["cgroup"]["v1"].as_bool().is_some(), "{f}");
    // Pretty-printed like runc's (4-space indent).
    assert!(out.stdout.starts_with("{\n    \"ociVersionMin\""), "{out}");
}

#[test]
fn oom_kill_produces_an_oom_event() {
    let rt = Runtime::cryo();
    let mut b = Bundle::new(&["sh", "-c", "x=a; while :; do x=$x$x; done"]);
    // No swap either, so the limit is hit quickly.
    b.config_mut()["linux"]["resources"]["memory"] = json!({"limit": 16777216, "swap": 16777216});
    let c = rt.create(&b, "oom");
    let events = Background::spawn(&rt, &["events", "--interval", "1s", &c.id], b.path());
    // Let events register its OOM notification before the memory hog runs.
    std::thread::sleep(Duration::from_millis(500));
    c.start();
    wait_for(Duration::from_secs(30), "an oom event", || {
        events.stdout().lines().any(|l| {
            serde_json::from_str::<Value>(l).is_ok_and(|v| v == json!({"type": "oom", "id": c.id}))
        })
    });
    c.wait_stopped();
    let mut events = events;
    let status = wait_child(&mut events.child, Duration::from_secs(15), "events");
    assert!(
        status.success(),
        "events must exit 0 once the container stopped: {status}\n{}",
        events.stdout()
    );
}
