//! OCI hooks: each kind runs at its point of the lifecycle, in its
//! namespace context, with the state JSON on stdin, its args, env and
//! timeout; failures fail the verbs the runtime spec says they fail.

use std::time::{Duration, Instant};

use cryo_e2e::*;
use serde_json::{json, Value};

/// A hook that appends `<name> <arg1> $FOO <state id>` to `log` (a path
/// valid where the hook runs) and saves its stdin next to it.
fn recorder(name: &str, log: &str) -> Value {
    let script = format!(
        "read -r state; echo \"$state\" > {log}.{name}.json; \
         echo \"{name} $1 $FOO\" >> {log}"
    );
    json!({
        "path": "/bin/sh",
        "args": ["sh", "-c", script, "argv0-ignored", "first-arg"],
        "env": ["FOO=bar"],
    })
}

#[test]
fn every_hook_runs_in_order_with_state_args_and_env() {
    let rt = Runtime::cryo();
    let mut b = Bundle::new(&["sh", "-c", "echo running >> /out/log"]);
    let out = b.out_dir();
    let host_log = out.join("log");
    let host = host_log.to_str().expect("utf8").to_string();
    b.config_mut()["hooks"] = json!({
        "prestart": [recorder("prestart", &host)],
        "createRuntime": [recorder("createRuntime", &host)],
        // Before pivot_root, in the container's mount namespace: host paths still resolve.
        "createContainer": [recorder("createContainer", &host)],
        // After pivot_root: the path and the log are the container's.
        "startContainer": [recorder("startContainer", "/out/log")],
        "poststart": [recorder("poststart", &host)],
        "poststop": [recorder("poststop", &host)],
    });
    let c = rt.create(&b, "hooks");
    let id = c.id.clone();
    c.start();
    c.wait_stopped();
    c.delete();
    let log = std::fs::read_to_string(&host_log).expect("hook log");
    let names: Vec<&str> = log
        .lines()
        .map(|l| l.split(' ').next().unwrap_or(""))
        .collect();
    // poststart runs after the program started, so it may come before or after its output.
    let mut without_poststart: Vec<&str> = names
        .iter()
        .copied()
        .filter(|n| *n != "poststart")
        .collect();
    without_poststart.dedup();
    assert_eq!(
        without_poststart,
        [
            "prestart",
            "createRuntime",
            "createContainer",
            "startContainer",
            "running",
            "poststop"
        ],
        "{log}"
    );
    assert!(names.contains(&"poststart"), "{log}");
    for line in log.lines().filter(|l| !l.starts_with("running")) {
        assert!(
            line.ends_with(" first-arg bar"),
            "args and env must reach the hook: {line}"
        );
    }
    for kind in [
        "prestart",
        "createRuntime",
        "createContainer",
        "poststart",
        "poststop",
    ] {
        let state: Value = serde_json::from_str(
            &std::fs::read_to_string(out.join(format!("log.{kind}.json"))).expect("state file"),
        )
        .expect("state JSON");
        assert_eq!(state["id"], json!(id), "{kind}: {state}");
        assert!(
            state["pid"].is_number() && state["bundle"].is_string(),
            "{kind}: {state}"
        );
    }
    let poststop: Value = serde_json::from_str(
        &std::fs::read_to_string(out.join("log.poststop.json")).expect("poststop state"),
    )
    .expect("JSON");
    assert_eq!(poststop["status"], "stopped");
}

#[test]
fn failing_prestart_hook_fails_create_and_leaves_nothing() {
    let rt = Runtime::cryo();
    let mut b = Bundle::new(LONG_RUNNING);
    b.config_mut()["hooks"] = json!({"prestart": [{"path": "/bin/false", "args": ["false"]}]});
    let cg = format!("/cryo-e2e/{}", unique_id("hookfail"));
    b.config_mut()["linux"]["cgroupsPath"] = json!(cg);
    let (_c, out) = rt.try_create(&b, "hookfail", &[]);
    assert_eq!(out.code(), Some(1), "{out}");
    assert!(
        out.stderr.contains("prestart"),
        "the error names the hook: {out}"
    );
    assert!(rt.root_entries().is_empty(), "{:?}", rt.root_entries());
    assert!(
        !std::path::Path::new(&format!("/sys/fs/cgroup/memory{cg}")).exists(),
        "the cgroup must be removed"
    );
}

#[test]
fn hook_timeout_is_enforced() {
    let rt = Runtime::cryo();
    let mut b = Bundle::new(LONG_RUNNING);
    b.config_mut()["hooks"] =
        json!({"createRuntime": [{"path": "/bin/sleep", "args": ["sleep", "30"], "timeout": 1}]});
    let started = Instant::now();
    let (_c, out) = rt.try_create(&b, "hooktimeout", &[]);
    assert_eq!(out.code(), Some(1), "{out}");
    assert!(out.stderr.contains("timed out"), "{out}");
    assert!(
        started.elapsed() < Duration::from_secs(15),
        "took {:?}",
        started.elapsed()
    );
    assert!(rt.root_entries().is_empty(), "{:?}", rt.root_entries());
}

#[test]
fn failing_start_container_hook_fails_start() {
    let rt = Runtime::cryo();
    let mut b = Bundle::new(&["sh", "-c", "echo program-ran > /out/ran"]);
    let out_dir = b.out_dir();
    b.config_mut()["hooks"] =
        json!({"startContainer": [{"path": "/bin/false", "args": ["false"]}]});
    let c = rt.create(&b, "hookstart");
    let out = rt.run_fail(&["start", &c.id]);
    assert!(out.stderr.contains("startContainer"), "{out}");
    std::thread::sleep(Duration::from_millis(300));
    assert!(!out_dir.join("ran").exists(), "the program must not run");
}

#[test]
fn failing_poststop_hook_is_only_a_warning() {
    let rt = Runtime::cryo();
    let mut b = Bundle::new(&["true"]);
    b.config_mut()["hooks"] = json!({"poststop": [{"path": "/bin/false", "args": ["false"]}]});
    let c = rt.create(&b, "hookpoststop");
    c.start();
    c.wait_stopped();
    let out = rt.run_ok(&["delete", &c.id]);
    assert!(
        out.stderr.contains("poststop"),
        "a warning is printed: {out}"
    );
    assert!(rt.root_entries().is_empty(), "{:?}", rt.root_entries());
}
