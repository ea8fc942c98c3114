//! Side by side: the same container under CRYO_BIN and RUNC_BIN (separate
//! roots), comparing the shape of `state` and `list` output.

use std::collections::BTreeMap;

use cryo_e2e::*;
use serde_json::Value;

fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "bool",
        Value::Number(n) if n.is_i64() || n.is_u64() => "integer",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

fn shape(v: &Value) -> BTreeMap<String, &'static str> {
    v.as_object()
        .unwrap_or_else(|| panic!("expected a JSON object, got {v}"))
        .iter()
        .map(|(k, v)| (k.clone(), type_name(v)))
        .collect()
}

struct Pair {
    cryo: Runtime,
    runc: Runtime,
}

impl Pair {
    fn new() -> Pair {
        Pair {
            cryo: Runtime::cryo(),
            runc: Runtime::runc(),
        }
    }
}

#[test]
fn state_keys_and_types_match() {
    let p = Pair::new();
    let mut b = Bundle::new(LONG_RUNNING);
    let cc = p.cryo.create(&b, "parity-state-cryo");
    let rc = p.runc.create(&b, "parity-state-runc");
    assert_eq!(shape(&cc.state()), shape(&rc.state()), "created");
    cc.start();
    rc.start();
    assert_eq!(shape(&cc.state()), shape(&rc.state()), "running");
    cc.kill("KILL");
    rc.kill("KILL");
    cc.wait_stopped();
    rc.wait_stopped();
    assert_eq!(shape(&cc.state()), shape(&rc.state()), "stopped");
    let (sc, sr) = (cc.state(), rc.state());
    for k in ["ociVersion", "status", "pid", "owner"] {
        assert_eq!(sc[k], sr[k], "{k}");
    }

    // With annotations.
    b.config_mut()["annotations"] = serde_json::json!({"k": "v"});
    let cc = p.cryo.create(&b, "parity-anno-cryo");
    let rc = p.runc.create(&b, "parity-anno-runc");
    assert_eq!(shape(&cc.state()), shape(&rc.state()), "with annotations");
    assert_eq!(cc.state()["annotations"], rc.state()["annotations"]);
}

fn header_and_rows(out: &str) -> (String, Vec<usize>) {
    let mut lines = out.lines();
    let header = lines.next().unwrap_or_default().to_string();
    let cols = lines.map(|l| l.split_whitespace().count()).collect();
    (
        header.split_whitespace().collect::<Vec<_>>().join(" "),
        cols,
    )
}

#[test]
fn list_header_and_columns_match() {
    let p = Pair::new();
    let b = Bundle::new(LONG_RUNNING);
    let _cc = p.cryo.create(&b, "parity-list-cryo");
    let _rc = p.runc.create(&b, "parity-list-runc");
    let oc = p.cryo.run_ok(&["list"]);
    let or = p.runc.run_ok(&["list"]);
    assert_eq!(header_and_rows(&oc.stdout), header_and_rows(&or.stdout));
    // Header padding follows the widest cell, and the CREATED cells of two
    // containers differ in width (trailing zeros of the nanoseconds are
    // trimmed), so the byte-for-byte comparison is on empty lists below.
    // Empty lists too.
    let ec = Runtime::cryo();
    let er = Runtime::runc();
    assert_eq!(ec.run_ok(&["list"]).stdout, er.run_ok(&["list"]).stdout);
    assert_eq!(
        ec.run_ok(&["list", "--format", "json"]).stdout,
        er.run_ok(&["list", "--format", "json"]).stdout
    );
}

#[test]
fn list_json_keys_match() {
    let p = Pair::new();
    let b = Bundle::new(LONG_RUNNING);
    let _cc = p.cryo.create(&b, "parity-json-cryo");
    let _rc = p.runc.create(&b, "parity-json-runc");
    let parse = |rt: &Runtime| -> Value {
        let out = rt.run_ok(&["list", "--format", "json"]);
        serde_json::from_str(&out.stdout).unwrap_or_else(|e| panic!("{e}\n{out}"))
    };
    let (jc, jr) = (parse(&p.cryo), parse(&p.runc));
    let (ac, ar) = (jc.as_array().expect("array"), jr.as_array().expect("array"));
    assert_eq!(ac.len(), 1);
    assert_eq!(ar.len(), 1);
    assert_eq!(shape(&ac[0]), shape(&ar[0]));
    assert_eq!(ac[0]["owner"], ar[0]["owner"]);
    assert_eq!(ac[0]["status"], ar[0]["status"]);
}

#[test]
fn error_messages_match() {
    let p = Pair::new();
    let strip = |s: &str| -> String {
        // Drop the time="..." prefix, keep `level=... msg="..."`.
        s.lines()
            .map(|l| match l.split_once("\" level=") {
                Some((_, rest)) if l.starts_with("time=\"") => format!("level={rest}"),
                _ => l.to_string(),
            })
            .collect::<Vec<_>>()
            .join("\n")
    };
    for args in [
        vec!["state", "nosuch"],
        vec!["start", "nosuch"],
        vec!["kill", "nosuch"],
        vec!["delete", "nosuch"],
    ] {
        let oc = p.cryo.output(&args);
        let or = p.runc.output(&args);
        assert_eq!(oc.code(), or.code(), "{args:?}: exit codes\n{oc}\n{or}");
        assert_eq!(strip(&oc.stderr), strip(&or.stderr), "{args:?}");
        assert_eq!(oc.stdout, or.stdout, "{args:?}");
    }
}

#[test]
fn exec_failures_match() {
    // runc's exec says "exec failed: ..." and exits 255 whatever went
    // wrong, so that a client can tell it from the exit status of the
    // process it ran; conmon and the containerd shim rely on that.
    let p = Pair::new();
    let b = Bundle::new(LONG_RUNNING);
    let cc = p.cryo.create(&b, "parity-exec-cryo");
    let rc = p.runc.create(&b, "parity-exec-runc");
    cc.start();
    rc.start();
    let msg = |o: &Out| -> String {
        let line = o.stderr.lines().last().unwrap_or_default().to_string();
        line.split_once("msg=")
            .map_or(line.clone(), |(_, m)| m.to_string())
    };
    // (flags, command): the id goes between them.
    let cases: [(&[&str], &[&str]); 3] = [
        (&[], &["/nonexistent"]),
        (&["--cwd", "/nope"], &["true"]),
        (&[], &["sh", "-c", "exit 3"]),
    ];
    for (flags, cmd) in cases {
        let run = |rt: &Runtime, id: &str| {
            let mut full = vec!["exec"];
            full.extend_from_slice(flags);
            full.push(id);
            full.extend_from_slice(cmd);
            rt.output(&full)
        };
        let (oc, or) = (run(&p.cryo, &cc.id), run(&p.runc, &rc.id));
        assert_eq!(
            oc.code(),
            or.code(),
            "{flags:?} {cmd:?}: exit codes\n{oc}\n{or}"
        );
        assert_eq!(msg(&oc), msg(&or), "{flags:?} {cmd:?}\n{oc}\n{or}");
    }
    let oc = p.cryo.output(&["exec", "nosuch", "true"]);
    let or = p.runc.output(&["exec", "nosuch", "true"]);
    assert_eq!(oc.code(), Some(255), "{oc}");
    assert_eq!(oc.code(), or.code(), "exit codes\n{oc}\n{or}");
    assert_eq!(msg(&oc), msg(&or), "{oc}\n{or}");
}
