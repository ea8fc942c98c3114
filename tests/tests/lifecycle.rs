//! Container lifecycle: create / start / state / kill / delete / run / list.
//!
//! Error strings asserted here are the exact words runc 1.1.5 prints (inside
//! its `time="..." level=error msg="..."` log line on stderr).

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use cryo_e2e::*;
use serde_json::{json, Value};

const STOP_TIMEOUT: Duration = Duration::from_secs(10);

#[test]
fn create_start_kill_delete() {
    let rt = Runtime::cryo();
    let b = Bundle::new(LONG_RUNNING);
    let c = rt.create(&b, "lifecycle");

    let st = c.state();
    assert_eq!(st["status"], "created", "state after create: {st}");
    let pid = st["pid"].as_i64().expect("pid is an integer");
    assert!(pid > 0, "pid after create must be > 0: {st}");
    assert!(
        !pid_is_dead(pid),
        "process {pid} reported by state does not exist"
    );

    c.start();
    let st = c.state();
    assert_eq!(st["status"], "running", "state after start: {st}");
    assert_eq!(st["pid"].as_i64(), Some(pid), "pid changed across start");

    c.kill("KILL");
    c.wait_stopped();
    wait_for(STOP_TIMEOUT, "container process to die", || {
        pid_is_dead(pid)
    });
    let st = c.state();
    // runc reports pid 0 for a stopped container.
    assert_eq!(st["pid"], json!(0), "pid of stopped container: {st}");

    c.delete();
    let out = rt.run_fail(&["state", &c.id]);
    assert!(
        out.stderr.contains("container does not exist"),
        "state after delete should say `container does not exist`\n{out}"
    );
    assert!(
        rt.root_entries().is_empty(),
        "root dir not empty after delete: {:?}",
        rt.root_entries()
    );
}

#[test]
fn kill_default_signal_is_sigterm() {
    let rt = Runtime::cryo();
    let mut b = Bundle::new(&[
        "sh",
        "-c",
        "trap 'echo term > /out/sig; exit 0' TERM; touch /out/ready; while :; do sleep 0.1; done",
    ]);
    b.out_dir();
    let c = rt.create(&b, "killdefault");
    c.start();
    b.wait_out("ready", STOP_TIMEOUT);
    rt.run_ok(&["kill", &c.id]);
    c.wait_stopped();
    assert_eq!(b.read_out("sig").trim(), "term");
}

fn kill_form_stops(name: &str, sig: &str) {
    let rt = Runtime::cryo();
    // `sleep` as PID 1 has no handlers: only SIGKILL can stop it.
    let b = Bundle::new(&["sleep", "1000"]);
    let c = rt.create(&b, name);
    c.start();
    c.wait_status("running", STOP_TIMEOUT);
    c.kill(sig);
    c.wait_stopped();
}

#[test]
fn kill_by_number() {
    kill_form_stops("kill9", "9");
}

#[test]
fn kill_by_short_name() {
    kill_form_stops("killname", "KILL");
}

#[test]
fn kill_by_sig_name() {
    kill_form_stops("killsigname", "SIGKILL");
}

#[test]
fn kill_delivers_named_signal() {
    let rt = Runtime::cryo();
    let mut b = Bundle::new(&[
        "sh",
        "-c",
        "trap 'echo usr1 > /out/sig' USR1; touch /out/ready; while :; do sleep 0.1; done",
    ]);
    b.out_dir();
    let c = rt.create(&b, "killusr1");
    c.start();
    b.wait_out("ready", STOP_TIMEOUT);
    c.kill("USR1");
    assert_eq!(b.wait_out("sig", STOP_TIMEOUT).trim(), "usr1");
    assert_eq!(c.status(), "running", "USR1 handler must not stop it");
}

#[test]
fn kill_created_container() {
    let rt = Runtime::cryo();
    let b = Bundle::new(LONG_RUNNING);
    let c = rt.create(&b, "killcreated");
    c.kill("KILL");
    c.wait_stopped();
}

#[test]
fn delete_force_running() {
    let rt = Runtime::cryo();
    let b = Bundle::new(&["sleep", "1000"]);
    let c = rt.create(&b, "delforce");
    c.start();
    let pid = c.pid();
    rt.run_ok(&["delete", "--force", &c.id]);
    let out = rt.run_fail(&["state", &c.id]);
    assert!(out.stderr.contains("container does not exist"), "{out}");
    wait_for(STOP_TIMEOUT, "container process to die", || {
        pid_is_dead(pid)
    });
    assert!(rt.root_entries().is_empty(), "{:?}", rt.root_entries());
}

#[test]
fn delete_running_without_force_fails() {
    let rt = Runtime::cryo();
    let b = Bundle::new(&["sleep", "1000"]);
    let c = rt.create(&b, "delnoforce");
    c.start();
    let out = rt.run_fail(&["delete", &c.id]);
    assert_eq!(out.code(), Some(1), "{out}");
    let want = format!(
        "cannot delete container {} that is not stopped: running",
        c.id
    );
    assert!(out.stderr.contains(&want), "want {want:?}\n{out}");
    assert_eq!(c.status(), "running");
}

/// runc quirk: `delete` (without --force) of a *created* container succeeds:
/// it kills the init process and removes the container.
#[test]
fn delete_created_container_succeeds() {
    let rt = Runtime::cryo();
    let b = Bundle::new(LONG_RUNNING);
    let c = rt.create(&b, "delcreated");
    let pid = c.pid();
    c.delete();
    rt.run_fail(&["state", &c.id]);
    wait_for(STOP_TIMEOUT, "init process to die", || pid_is_dead(pid));
}

#[test]
fn delete_nonexistent_fails() {
    let rt = Runtime::cryo();
    let out = rt.run_fail(&["delete", &unique_id("nosuch")]);
    assert_eq!(out.code(), Some(1), "{out}");
    assert!(out.stderr.contains("container does not exist"), "{out}");
}

#[test]
fn kill_stopped_container_fails() {
    let rt = Runtime::cryo();
    let b = Bundle::new(&["true"]);
    let c = rt.create(&b, "killstopped");
    c.start();
    c.wait_stopped();
    let out = rt.run_fail(&["kill", &c.id, "KILL"]);
    assert_eq!(out.code(), Some(1), "{out}");
    assert!(out.stderr.contains("container not running"), "{out}");
}

#[test]
fn start_twice_and_start_stopped_fail() {
    let rt = Runtime::cryo();
    let b = Bundle::new(&["sleep", "1000"]);
    let c = rt.create(&b, "starttwice");
    c.start();
    let out = rt.run_fail(&["start", &c.id]);
    assert!(
        out.stderr
            .contains("cannot start an already running container"),
        "{out}"
    );
    c.kill("KILL");
    c.wait_stopped();
    let out = rt.run_fail(&["start", &c.id]);
    assert!(
        out.stderr
            .contains("cannot start a container that has stopped"),
        "{out}"
    );
}

#[test]
fn create_duplicate_id_fails() {
    let rt = Runtime::cryo();
    let b = Bundle::new(LONG_RUNNING);
    let c = rt.create(&b, "dup");
    let (out, _, _) = rt.output_detached(&["create", "--bundle", b.path_str(), &c.id]);
    assert_eq!(out.code(), Some(1), "{out}");
    assert!(
        out.stderr
            .contains("container with given ID already exists"),
        "{out}"
    );
    assert_eq!(
        c.status(),
        "created",
        "original container must be untouched"
    );
}

#[test]
fn state_of_nonexistent_fails() {
    let rt = Runtime::cryo();
    let out = rt.run_fail(&["state", &unique_id("nosuch")]);
    assert_eq!(out.code(), Some(1), "{out}");
    assert!(out.stderr.contains("container does not exist"), "{out}");
    assert!(out.stdout.is_empty(), "{out}");
}

#[test]
fn run_returns_exit_status_and_deletes() {
    let rt = Runtime::cryo();
    let b = Bundle::new(&["sh", "-c", "echo hello-from-run; exit 3"]);
    let out = rt.run_fg(&b, "runexit", &[]);
    assert_eq!(out.code(), Some(3), "{out}");
    assert_eq!(out.stdout, "hello-from-run\n", "{out}");
    let out = rt.run_fail(&["state", &unique_id("runexit")]);
    assert!(out.stderr.contains("container does not exist"), "{out}");
    assert!(rt.root_entries().is_empty(), "{:?}", rt.root_entries());
}

#[test]
fn run_exit_zero_and_stderr() {
    let rt = Runtime::cryo();
    let b = Bundle::new(&["sh", "-c", "echo to-stderr >&2"]);
    let out = rt.run_fg(&b, "runzero", &[]);
    assert_eq!(out.code(), Some(0), "{out}");
    assert_eq!(out.stderr, "to-stderr\n", "{out}");
}

#[test]
fn run_keep_leaves_stopped_container() {
    let rt = Runtime::cryo();
    let b = Bundle::new(&["true"]);
    let id = unique_id("runkeep");
    let _g = rt.guard(&id);
    let out = rt.output(&["run", "--keep", "--bundle", b.path_str(), &id]);
    assert!(out.success(), "{out}");
    assert_eq!(rt.status(&id), "stopped");
}

#[test]
fn run_detach() {
    let rt = Runtime::cryo();
    let b = Bundle::new(&["sleep", "1000"]);
    let id = unique_id("rundetach");
    let g = rt.guard(&id);
    let t0 = Instant::now();
    let (out, _, _) = rt.output_detached(&["run", "--detach", "--bundle", b.path_str(), &id]);
    assert!(out.success(), "{out}");
    assert!(
        t0.elapsed() < Duration::from_secs(10),
        "run --detach must return without waiting"
    );
    assert_eq!(g.status(), "running");
    assert!(!pid_is_dead(g.pid()));
    g.kill("KILL");
    g.wait_stopped();
    g.delete();
}

#[test]
fn run_forwards_sigterm() {
    let rt = Runtime::cryo();
    let mut b = Bundle::new(&[
        "sh",
        "-c",
        "trap 'exit 7' TERM; touch /out/ready; while :; do sleep 0.1; done",
    ]);
    b.out_dir();
    b.save();
    let id = unique_id("runsigterm");
    let _g = rt.guard(&id);
    let mut cmd = rt.cmd(&["run", "--bundle", b.path_str(), &id]);
    cmd.stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null());
    let mut child = cmd.spawn().expect("spawn run");
    b.wait_out("ready", STOP_TIMEOUT);
    // SAFETY: plain kill(2) on our own child's pid.
    let r = unsafe { libc::kill(child.id() as libc::pid_t, libc::SIGTERM) };
    assert_eq!(r, 0);
    let st = wait_child(&mut child, STOP_TIMEOUT, "run after SIGTERM");
    assert_eq!(
        st.code(),
        Some(7),
        "run must forward SIGTERM and exit with the container's status"
    );
}

#[test]
fn run_reports_signal_death_as_128_plus_signal() {
    let rt = Runtime::cryo();
    // A child of PID 1 killed by SIGKILL would not do; make PID 1 itself die:
    // it can't be killed by its own signals, so have the host kill it.
    let mut b = Bundle::new(&["sh", "-c", "touch /out/ready; while :; do sleep 0.1; done"]);
    b.out_dir();
    b.save();
    let id = unique_id("runsig");
    let _g = rt.guard(&id);
    let mut cmd = rt.cmd(&["run", "--bundle", b.path_str(), &id]);
    cmd.stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null());
    let mut child = cmd.spawn().expect("spawn run");
    b.wait_out("ready", STOP_TIMEOUT);
    let killer = rt.run_ok(&["kill", &id, "KILL"]);
    drop(killer);
    let st = wait_child(&mut child, STOP_TIMEOUT, "run after kill");
    assert_eq!(st.code(), Some(128 + 9));
}

fn list_rows(out: &str) -> Vec<Vec<String>> {
    out.lines()
        .map(|l| l.split_whitespace().map(String::from).collect())
        .collect()
}

#[test]
fn list_table() {
    let rt = Runtime::cryo();
    let b = Bundle::new(LONG_RUNNING);
    let c = rt.create(&b, "listtable");
    let out = rt.run_ok(&["list"]);
    let rows = list_rows(&out.stdout);
    assert_eq!(
        rows[0],
        ["ID", "PID", "STATUS", "BUNDLE", "CREATED", "OWNER"],
        "{out}"
    );
    assert_eq!(rows.len(), 2, "{out}");
    let r = &rows[1];
    assert_eq!(r.len(), 6, "{out}");
    assert_eq!(r[0], c.id);
    assert_eq!(r[1], c.pid().to_string());
    assert_eq!(r[2], "created");
    assert_eq!(r[3], b.path_str());
    assert!(is_rfc3339(&r[4]), "CREATED column not RFC3339: {}", r[4]);
    assert_eq!(r[5], "root");
    // Columns are aligned: every row's fields start at the header's offsets.
    let header = out.stdout.lines().next().unwrap_or_default();
    let line = out.stdout.lines().nth(1).unwrap_or_default();
    for col in ["PID", "STATUS", "BUNDLE", "CREATED", "OWNER"] {
        let off = header.find(col).unwrap_or(0);
        assert!(
            line.len() > off && line.as_bytes()[off - 1] == b' ' && line.as_bytes()[off] != b' ',
            "column {col} misaligned:\n{header}\n{line}"
        );
    }
}

#[test]
fn list_empty_prints_header_only() {
    let rt = Runtime::cryo();
    let out = rt.run_ok(&["list"]);
    assert_eq!(
        list_rows(&out.stdout),
        vec![vec!["ID", "PID", "STATUS", "BUNDLE", "CREATED", "OWNER"]],
        "{out}"
    );
}

#[test]
fn list_json() {
    let rt = Runtime::cryo();
    let b = Bundle::new(LONG_RUNNING);
    let c = rt.create(&b, "listjson");
    let out = rt.run_ok(&["list", "--format", "json"]);
    let v: Value = serde_json::from_str(&out.stdout).expect("list json parses");
    let arr = v.as_array().expect("list --format json is an array");
    assert_eq!(arr.len(), 1, "{out}");
    let e = &arr[0];
    let keys: BTreeSet<&str> = e
        .as_object()
        .expect("object")
        .keys()
        .map(String::as_str)
        .collect();
    let want: BTreeSet<&str> = [
        "ociVersion",
        "id",
        "pid",
        "status",
        "bundle",
        "rootfs",
        "created",
        "owner",
    ]
    .into();
    assert_eq!(keys, want, "{out}");
    assert_eq!(e["id"], json!(c.id));
    assert_eq!(e["pid"], json!(c.pid()));
    assert_eq!(e["status"], "created");
    assert_eq!(e["bundle"], json!(b.path_str()));
    assert_eq!(e["rootfs"], json!(format!("{}/rootfs", b.path_str())));
    assert!(is_rfc3339(e["created"].as_str().unwrap_or("")), "{e}");
    // runc quirk: `list` fills in the owner ("root") while `state` leaves it "".
    assert_eq!(e["owner"], "root");
    assert_eq!(
        e["ociVersion"],
        b.config()["ociVersion"],
        "ociVersion comes from the bundle's config"
    );
}

/// runc quirk: with no containers, `list --format json` prints `null`, not `[]`.
#[test]
fn list_json_empty_is_null() {
    let rt = Runtime::cryo();
    let out = rt.run_ok(&["list", "--format", "json"]);
    assert_eq!(out.stdout.trim(), "null", "{out}");
}

#[test]
fn list_quiet() {
    let rt = Runtime::cryo();
    let b = Bundle::new(LONG_RUNNING);
    let c1 = rt.create(&b, "listq1");
    let c2 = rt.create(&b, "listq2");
    let out = rt.run_ok(&["list", "-q"]);
    let mut got: Vec<&str> = out.stdout.lines().collect();
    got.sort();
    let mut want = vec![c1.id.as_str(), c2.id.as_str()];
    want.sort();
    assert_eq!(got, want, "{out}");
    let out = rt.run_ok(&["list", "--quiet"]);
    assert_eq!(out.stdout.lines().count(), 2, "{out}");
}

#[test]
fn state_json_fields() {
    let rt = Runtime::cryo();
    let b = Bundle::new(LONG_RUNNING);
    let c = rt.create(&b, "statejson");
    let out = rt.run_ok(&["state", &c.id]);
    let st: Value = serde_json::from_str(&out.stdout).expect("state json");
    let obj = st.as_object().expect("object");
    let keys: BTreeSet<&str> = obj.keys().map(String::as_str).collect();
    let want: BTreeSet<&str> = [
        "ociVersion",
        "id",
        "pid",
        "status",
        "bundle",
        "rootfs",
        "created",
        "owner",
    ]
    .into();
    // `annotations` is omitted when the config has none.
    assert_eq!(keys, want, "{out}");
    assert_eq!(st["ociVersion"], b.config()["ociVersion"]);
    assert_eq!(st["id"], json!(c.id));
    assert!(st["pid"].as_i64().is_some_and(|p| p > 0));
    assert_eq!(st["status"], "created");
    assert_eq!(st["bundle"], json!(b.path_str()));
    assert_eq!(st["rootfs"], json!(format!("{}/rootfs", b.path_str())));
    assert!(is_rfc3339(st["created"].as_str().unwrap_or("")), "{st}");
    // runc quirk: `state` prints owner "" (list prints "root").
    assert_eq!(st["owner"], "");
    // runc pretty-prints state with two-space indentation.
    assert!(out.stdout.starts_with("{\n  \"ociVersion\""), "{out}");
}

#[test]
fn state_includes_annotations_when_present() {
    let rt = Runtime::cryo();
    let mut b = Bundle::new(LONG_RUNNING);
    b.config_mut()["annotations"] = json!({"org.example.key": "value", "other": "x"});
    let c = rt.create(&b, "stateanno");
    let st = c.state();
    assert_eq!(
        st["annotations"],
        json!({"org.example.key": "value", "other": "x"}),
        "{st}"
    );
}

#[test]
fn pid_file_has_bare_pid() {
    let rt = Runtime::cryo();
    let b = Bundle::new(LONG_RUNNING);
    let pf = b.path().join("container.pid");
    let c = rt.create_with(&b, "pidfile", &["--pid-file", path_str(&pf)]);
    let content = std::fs::read_to_string(&pf).expect("pid file written");
    assert_eq!(
        content,
        c.pid().to_string(),
        "pid file must contain exactly the pid, no newline"
    );
}

#[test]
fn pid_file_relative_path() {
    let rt = Runtime::cryo();
    let b = Bundle::new(LONG_RUNNING);
    let id = unique_id("pidfilerel");
    let g = rt.guard(&id);
    let mut cmd = rt.cmd(&["create", "--pid-file", "rel.pid", &id]);
    // Default bundle is the current directory; the pid file is relative to it too.
    cmd.current_dir(b.path());
    let err_path = b.path().join("create.stderr");
    let err_file = std::fs::File::create(&err_path).expect("stderr file");
    cmd.stdout(std::process::Stdio::null()).stderr(err_file);
    let mut child = cmd.spawn().expect("spawn create");
    let st = wait_child(&mut child, CMD_TIMEOUT, "create");
    assert!(
        st.success(),
        "create failed: {}",
        std::fs::read_to_string(&err_path).unwrap_or_default()
    );
    let content = std::fs::read_to_string(b.path().join("rel.pid")).expect("pid file");
    assert_eq!(content, g.pid().to_string());
    assert_eq!(g.state()["bundle"], json!(b.path_str()));
}
