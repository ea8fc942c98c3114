//! CLI surface: spec, --version, flag spellings, id validation, logging.

use std::process::Stdio;

use cryo_e2e::*;
use serde_json::{json, Value};

#[test]
fn spec_writes_runc_default_config() {
    let rt = Runtime::cryo();
    let dir = tempfile::tempdir().expect("tempdir");
    let d = path_str(dir.path());
    let out = rt.run_ok(&["spec", "--bundle", d]);
    assert!(out.stdout.is_empty(), "{out}");
    let text = std::fs::read_to_string(dir.path().join("config.json")).expect("config.json");
    let mut got: Value = serde_json::from_str(&text).expect("config.json is JSON");
    let want: Value = serde_json::from_str(RUNC_DEFAULT_SPEC).expect("fixture");
    // The only intended difference: the runtime names the default hostname after itself.
    assert!(got["hostname"].is_string(), "hostname must be set: {got}");
    got["hostname"] = want["hostname"].clone();
    assert_eq!(
        got, want,
        "spec output must equal runc's default spec (but for the hostname)"
    );
    let names: Vec<_> = std::fs::read_dir(dir.path())
        .expect("readdir")
        .map(|e| e.expect("entry").file_name())
        .collect();
    assert_eq!(names, ["config.json"], "spec must only write config.json");
}

#[test]
fn spec_defaults_to_current_dir() {
    let rt = Runtime::cryo();
    let dir = tempfile::tempdir().expect("tempdir");
    let mut cmd = rt.cmd(&["spec"]);
    cmd.current_dir(dir.path());
    let out = output_timeout(cmd, CMD_TIMEOUT);
    assert!(out.success(), "{out}");
    assert!(dir.path().join("config.json").is_file());
}

#[test]
fn spec_refuses_to_overwrite() {
    let rt = Runtime::cryo();
    let dir = tempfile::tempdir().expect("tempdir");
    let cfg = dir.path().join("config.json");
    std::fs::write(&cfg, "precious").expect("write");
    let out = rt.run_fail(&["spec", "--bundle", path_str(dir.path())]);
    assert_eq!(out.code(), Some(1), "{out}");
    assert!(
        out.stderr
            .contains("File config.json exists. Remove it first"),
        "{out}"
    );
    assert_eq!(std::fs::read_to_string(&cfg).expect("read"), "precious");
}

#[test]
fn version_output() {
    let rt = Runtime::cryo();
    for flag in ["--version", "-v"] {
        let out = rt.run_ok(&[flag]);
        let mut lines = out.stdout.lines();
        let first: Vec<&str> = lines.next().unwrap_or("").split(' ').collect();
        assert!(
            first.len() == 3
                && !first[0].is_empty()
                && first[1] == "version"
                && !first[2].is_empty(),
            "first line must be `<name> version <version>`\n{out}"
        );
        let rest: Vec<&str> = lines.collect();
        assert!(
            rest.iter().any(|l| l.starts_with("commit: ")),
            "missing `commit:` line\n{out}"
        );
        let spec = rest
            .iter()
            .find_map(|l| l.strip_prefix("spec: "))
            .unwrap_or_else(|| panic!("missing `spec:` line\n{out}"));
        assert!(spec.starts_with("1."), "spec version {spec:?}");
    }
}

#[test]
fn bundle_flag_forms() {
    let rt = Runtime::cryo();
    let b = Bundle::new(LONG_RUNNING);
    let bp = b.path_str().to_string();
    let eq_long = format!("--bundle={bp}");
    let eq_single = format!("-bundle={bp}");
    let forms: Vec<(&str, Vec<&str>)> = vec![
        ("eqlong", vec![eq_long.as_str()]),
        ("long", vec!["--bundle", &bp]),
        ("single", vec!["-bundle", &bp]),
        ("eqsingle", vec![eq_single.as_str()]),
        ("short", vec!["-b", &bp]),
    ];
    for (name, flags) in forms {
        let id = unique_id(&format!("flag-{name}"));
        let g = rt.guard(&id);
        let mut args = vec!["create"];
        args.extend(flags.iter().copied());
        args.push(&id);
        let (out, _, _) = rt.output_detached(&args);
        assert!(out.success(), "flag form {name}\n{out}");
        assert_eq!(g.state()["bundle"], json!(bp), "flag form {name}");
        g.delete();
    }
}

#[test]
fn repeated_flags_last_wins() {
    let rt = Runtime::cryo();
    let b = Bundle::new(&["sleep", "1000"]);
    let id = unique_id("repeated");
    let g = rt.guard(&id);
    let (out, _, _) = rt.output_detached(&[
        "run",
        "--detach",
        "--detach",
        "--bundle",
        "/nonexistent-cryo-e2e",
        "--bundle",
        b.path_str(),
        &id,
    ]);
    assert!(out.success(), "{out}");
    assert_eq!(g.status(), "running");
    assert_eq!(g.state()["bundle"], json!(b.path_str()));
}

#[test]
fn global_flags_single_dash() {
    let rt = Runtime::cryo();
    let root = path_str(rt.root_path()).to_string();
    let mut cmd = std::process::Command::new(&rt.bin);
    cmd.args(["-root", &root, "list", "-q"])
        .stdin(Stdio::null());
    let out = output_timeout(cmd, CMD_TIMEOUT);
    assert!(out.success(), "{out}");
    assert_eq!(out.stdout, "", "{out}");
}

#[test]
fn invalid_container_ids_are_refused() {
    let rt = Runtime::cryo();
    let b = Bundle::new(LONG_RUNNING);
    let escape = format!("../{}", unique_id("escape"));
    let long = "a".repeat(1025);
    let cases: Vec<(&str, Option<&str>)> = vec![
        (escape.as_str(), Some("invalid container ID format")),
        ("a/b", Some("invalid container ID format")),
        ("..", Some("invalid container ID format")),
        ("", Some("container id cannot be empty")),
        // runc fails later with "... file name too long"; only failure is required.
        (long.as_str(), None),
    ];
    for (id, msg) in cases {
        let _g = rt.guard(id);
        let (out, _, _) = rt.output_detached(&["create", "--bundle", b.path_str(), id]);
        assert_eq!(out.code(), Some(1), "id {id:?}\n{out}");
        if let Some(msg) = msg {
            assert!(out.stderr.contains(msg), "id {id:?}: want {msg:?}\n{out}");
        }
        assert!(
            rt.root_entries().is_empty(),
            "id {id:?} left {:?} in the root dir",
            rt.root_entries()
        );
    }
    let outside = rt
        .root_path()
        .parent()
        .expect("parent")
        .join(unique_id("escape"));
    assert!(!outside.exists(), "{} was created", outside.display());
}

#[test]
fn log_json_on_error_appends() {
    let rt = Runtime::cryo();
    let dir = tempfile::tempdir().expect("tempdir");
    let log = dir.path().join("log.json");
    std::fs::write(&log, "{\"previous\":true}\n").expect("write");
    let id = unique_id("nosuch");
    let out = rt.run_fail(&[
        "--log",
        path_str(&log),
        "--log-format",
        "json",
        "start",
        &id,
    ]);
    assert_eq!(out.code(), Some(1), "{out}");
    // With --log the message still reaches stderr (runc prints it bare there).
    assert!(out.stderr.contains("container does not exist"), "{out}");
    let text = std::fs::read_to_string(&log).expect("log");
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(
        lines[0], "{\"previous\":true}",
        "log must be appended to:\n{text}"
    );
    let last: Value = serde_json::from_str(lines[lines.len() - 1])
        .unwrap_or_else(|e| panic!("last log line not JSON ({e}):\n{text}"));
    assert_eq!(last["level"], "error", "{text}");
    assert_eq!(last["msg"], "container does not exist", "{text}");
    assert!(
        is_rfc3339(last["time"].as_str().unwrap_or("")),
        "time not RFC3339: {text}"
    );
}

/// Checks a logrus text line: `time="<rfc3339>" level=error msg="<msg>"`.
fn assert_text_log_line(line: &str, msg: &str) {
    let rest = line
        .strip_prefix("time=\"")
        .unwrap_or_else(|| panic!("log line must start with time=\": {line:?}"));
    let (time, rest) = rest
        .split_once('"')
        .unwrap_or_else(|| panic!("unterminated time: {line:?}"));
    assert!(is_rfc3339(time), "time not RFC3339 in {line:?}");
    assert_eq!(rest, format!(" level=error msg=\"{msg}\""), "{line:?}");
}

#[test]
fn log_text_on_error() {
    let rt = Runtime::cryo();
    let dir = tempfile::tempdir().expect("tempdir");
    let log = dir.path().join("log.txt");
    let id = unique_id("nosuch");
    let out = rt.run_fail(&["--log", path_str(&log), "start", &id]);
    assert_eq!(out.code(), Some(1), "{out}");
    let text = std::fs::read_to_string(&log).expect("log");
    let line = text.lines().last().unwrap_or_default();
    assert_text_log_line(line, "container does not exist");
}

#[test]
fn errors_go_to_stderr_as_log_lines() {
    let rt = Runtime::cryo();
    let out = rt.run_fail(&["start", &unique_id("nosuch")]);
    assert_eq!(out.code(), Some(1), "{out}");
    assert!(out.stdout.is_empty(), "{out}");
    let line = out.stderr.lines().last().unwrap_or_default();
    assert_text_log_line(line, "container does not exist");
}

#[test]
fn create_with_missing_bundle_fails_cleanly() {
    let rt = Runtime::cryo();
    let dir = tempfile::tempdir().expect("tempdir");
    let id = unique_id("nobundle");
    let _g = rt.guard(&id);
    let (out, _, _) = rt.output_detached(&["create", "--bundle", path_str(dir.path()), &id]);
    assert_eq!(out.code(), Some(1), "{out}");
    assert!(out.stderr.contains("config.json"), "{out}");
    assert!(rt.root_entries().is_empty(), "{:?}", rt.root_entries());
}
