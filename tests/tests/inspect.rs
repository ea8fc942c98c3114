//! `cryo inspect` end to end: the forensic workflow. A real container is
//! checkpointed with `--leave-running` (it keeps running), then its images
//! are read offline: the process tree with cmdlines from the dumped memory,
//! open files, TCP sockets, mounts, CRIU's dump statistics and the
//! environment, as JSON and as tables.
//!
//! These need root and CRIU 4.x (`make test` builds it to
//! /usr/local/sbin/criu); without them they fail rather than skip.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, Instant, SystemTime};

use cryo_e2e::*;
use serde_json::Value;

const WAIT: Duration = Duration::from_secs(20);

/// Holds /out/held.txt open on fd 3; a listener on 8888; a connection to
/// a server on 7777 in the same container; a child `sleep 1000`.
const SCRIPT: &str = "exec 3>/out/held.txt; nc -l -p 8888 & \
    sleep 100000 | nc -l -p 7777 >/dev/null & sleep 1000 & sleep 0.3; \
    sleep 100000 | nc 127.0.0.1 7777 & wait";

const SECRET: &str = "INSPECT_SECRET=s3cr3t-value";

/// True once the container has the connection to 7777 established and the
/// listener on 8888 (from its /proc/net, through exec).
fn sockets_ready(rt: &Runtime, id: &str) -> bool {
    let out = rt.output(&["exec", id, "cat", "/proc/net/tcp", "/proc/net/tcp6"]);
    if !out.success() {
        return false;
    }
    let lines: Vec<Vec<&str>> = out
        .stdout
        .lines()
        .map(|l| l.split_whitespace().collect())
        .collect();
    let has = |field: usize, port: &str, state: &str| {
        lines
            .iter()
            .any(|f| f.len() > 3 && f[field].ends_with(&format!(":{port}")) && f[3] == state)
    };
    // 7777 = 0x1E61 (a connected client), 8888 = 0x22B8 (LISTEN = 0A).
    has(2, "1E61", "01") && has(1, "22B8", "0A")
}

/// Name, size and mtime of each file: inspect must leave the images as
/// they are.
fn snapshot(dir: &Path) -> BTreeMap<String, (u64, SystemTime)> {
    std::fs::read_dir(dir)
        .expect("read image dir")
        .map(|e| {
            let e = e.expect("dir entry");
            let m = e.metadata().expect("stat");
            (
                e.file_name().to_string_lossy().into_owned(),
                (m.len(), m.modified().expect("mtime")),
            )
        })
        .collect()
}

fn json(rt: &Runtime, args: &[&str]) -> Value {
    let mut a = vec!["inspect", "--format", "json"];
    a.extend_from_slice(args);
    let out = rt.run_ok(&a);
    serde_json::from_str(&out.stdout)
        .unwrap_or_else(|e| panic!("inspect output is not JSON: {e}\n{out}"))
}

fn strs(v: &Value) -> Vec<&str> {
    v.as_array()
        .unwrap_or_else(|| panic!("not an array: {v}"))
        .iter()
        .map(|s| s.as_str().unwrap_or_else(|| panic!("not a string: {s}")))
        .collect()
}

#[test]
fn forensic_inspection_of_a_container_left_running() {
    let rt = Runtime::cryo();
    let mut b = Bundle::new(&["sh", "-c", SCRIPT]);
    b.out_dir();
    let env = b.config_mut()["process"]["env"]
        .as_array_mut()
        .expect("process.env");
    env.push(Value::from(SECRET));
    let c = run_detached(&rt, &b, "insp");
    let deadline = Instant::now() + WAIT;
    while !sockets_ready(&rt, &c.id) {
        assert!(
            Instant::now() < deadline,
            "the workload's sockets did not come up"
        );
        std::thread::sleep(Duration::from_millis(100));
    }

    let img = image_dir("live");
    let imgp = path_str(img.path());
    rt.run_ok(&[
        "checkpoint",
        "--image-path",
        imgp,
        "--leave-running",
        "--tcp-established",
        &c.id,
    ]);
    // The forensic workflow: the container goes on running.
    assert_eq!(c.status(), "running");
    let pid = c.pid();
    assert!(
        !pid_is_dead(pid),
        "init died after checkpoint --leave-running"
    );
    let before = snapshot(img.path());

    let r = json(
        &rt,
        &[
            "--ps",
            "--files",
            "--sockets",
            "--mounts",
            "--memory",
            "--env",
            imgp,
        ],
    );
    assert_eq!(r["root_pid"], 1, "{r:#}");
    assert_eq!(r["warnings"], Value::Array(vec![]), "{:#}", r["warnings"]);
    let procs = r["processes"].as_array().expect("processes");

    // The process tree with real cmdlines, read from the dumped memory.
    let sh = &procs[0];
    assert_eq!(
        (sh["pid"].as_u64(), sh["ppid"].as_u64()),
        (Some(1), Some(0))
    );
    assert_eq!(sh["comm"], "sh");
    assert_eq!(strs(&sh["cmdline"]), ["sh", "-c", SCRIPT]);
    assert_eq!(sh["state"], "alive");
    assert_eq!(sh["uid"], 0);
    assert_eq!(sh["exe"], "/bin/busybox");
    let sleep = procs
        .iter()
        .find(|p| p["cmdline"].as_array().is_some() && strs(&p["cmdline"]) == ["sleep", "1000"])
        .unwrap_or_else(|| panic!("no `sleep 1000` among {procs:#?}"));
    assert_eq!(sleep["ppid"], 1);
    assert_eq!(sleep["comm"], "sleep");
    assert_eq!(sleep["depth"], 1);
    assert!(
        procs.len() >= 6,
        "sh, 2 nc servers, nc client, sleeps: {procs:#?}"
    );

    // Memory per process, and its mappings.
    let mem = &sh["memory"];
    assert!(mem["mapped"].as_u64() > Some(0), "{mem}");
    assert!(mem["anonymous"].as_u64() > Some(0), "{mem}");
    assert!(mem["pages_dumped"].as_u64() > Some(0), "{mem}");
    let vmas = sh["vmas"].as_array().expect("vmas");
    assert!(vmas.iter().any(|v| v["kind"] == "stack"), "{vmas:#?}");
    assert!(
        vmas.iter()
            .any(|v| v["path"] == "/bin/busybox" && v["perms"] == "r-xp"),
        "{vmas:#?}"
    );

    // The file the shell holds open.
    let files = sh["files"].as_array().expect("files");
    let held = files
        .iter()
        .find(|f| f["fd"] == 3)
        .unwrap_or_else(|| panic!("no fd 3 in {files:#?}"));
    assert_eq!(
        (&held["type"], &held["path"], &held["access"]),
        (
            &Value::from("reg"),
            &Value::from("/out/held.txt"),
            &Value::from("w")
        )
    );

    // The sockets: a listener and both ends of the loopback connection.
    let sockets = r["sockets"].as_array().expect("sockets");
    let listen = sockets
        .iter()
        .find(|s| s["state"] == "LISTEN" && s["local_port"] == 8888)
        .unwrap_or_else(|| panic!("no listener on 8888 in {sockets:#?}"));
    assert_eq!(
        (&listen["proto"], &listen["type"]),
        (&Value::from("tcp"), &Value::from("stream"))
    );
    let owner = listen["owners"][0]["pid"].as_u64().expect("listener owner");
    let owner = procs
        .iter()
        .find(|p| p["pid"] == owner)
        .expect("owner process");
    assert_eq!(strs(&owner["cmdline"]), ["nc", "-l", "-p", "8888"]);
    let client = sockets
        .iter()
        .find(|s| s["state"] == "ESTABLISHED" && s["remote_port"] == 7777)
        .unwrap_or_else(|| panic!("no connection to 7777 in {sockets:#?}"));
    assert_eq!(client["remote_addr"], "127.0.0.1", "{client:#}");
    let server = sockets
        .iter()
        .find(|s| {
            s["state"] == "ESTABLISHED"
                && s["local_port"] == 7777
                && s["remote_port"] == client["local_port"]
        })
        .unwrap_or_else(|| panic!("no server end for {client} in {sockets:#?}"));
    assert!(!server["owners"].as_array().expect("owners").is_empty());
    // --tcp-established dumps the queues (tcp-stream-*.img).
    assert!(client["send_queue"].is_u64(), "{client:#}");

    // The mounts.
    let mounts = r["mounts"].as_array().expect("mounts");
    let fstype = |mp: &str| {
        mounts
            .iter()
            .find(|m| m["mountpoint"] == mp)
            .map(|m| m["fstype"].as_str().unwrap_or("").to_string())
            .unwrap_or_else(|| panic!("no mount at {mp} in {mounts:#?}"))
    };
    assert_eq!(fstype("/proc"), "proc");
    assert_eq!(fstype("/sys"), "sysfs");
    assert_eq!(fstype("/dev"), "tmpfs");
    assert_eq!(fstype("/dev/pts"), "devpts");
    fstype("/");
    let out_mount = mounts
        .iter()
        .find(|m| m["mountpoint"] == "/out")
        .expect("/out");
    assert_eq!(
        out_mount["external"], "/out",
        "bind mounts are external: {out_mount}"
    );

    // CRIU's dump statistics.
    let st = &r["stats"];
    assert!(st["frozen_time"].as_u64() > Some(0), "{st}");
    assert!(st["pages_written"].as_u64() > Some(0), "{st}");
    assert!(
        st["pages_scanned"].as_u64() >= st["pages_written"].as_u64(),
        "{st}"
    );

    // The environment of config.json's process.env.
    assert!(strs(&sh["env"]).contains(&SECRET), "{:#}", sh["env"]);

    // Without --env it is not read at all.
    let plain = rt.run_ok(&["inspect", "--format", "json", imgp]);
    assert!(!plain.stdout.contains("s3cr3t"), "{plain}");
    let plain: Value = serde_json::from_str(&plain.stdout).expect("JSON");
    assert!(plain["processes"][0].get("env").is_none());
    assert!(plain.get("sockets").is_none() && plain.get("mounts").is_none());

    // The tables for people. The summary: tree, cmdlines, memory, stats.
    let out = rt.run_ok(&["inspect", imgp]);
    let t = &out.stdout;
    assert!(
        t.lines().any(|l| l.split_whitespace().collect::<Vec<_>>()
            == ["PID", "PPID", "UID", "STATE", "MAPPED", "ANON", "DUMPED", "COMMAND"]),
        "{t}"
    );
    assert!(
        t.lines()
            .any(|l| l.starts_with("1 ") && l.ends_with(SCRIPT)),
        "{t}"
    );
    assert!(t.lines().any(|l| l.ends_with("\\_ sleep 1000")), "{t}");
    assert!(t.contains("DUMP STATISTICS"), "{t}");
    assert!(
        t.lines()
            .any(|l| l.starts_with("frozen time") && l.ends_with(" ms")),
        "{t}"
    );
    assert!(t.lines().any(|l| l.starts_with("pages written")), "{t}");
    assert!(!t.contains("s3cr3t"), "{t}");

    let out = rt.run_ok(&[
        "inspect",
        "--ps",
        "--files",
        "--sockets",
        "--mounts",
        "--memory",
        "--env",
        imgp,
    ]);
    let t = &out.stdout;
    for section in [
        "PROCESSES",
        "OPEN FILES",
        "SOCKETS",
        "MOUNTS",
        "MEMORY",
        "ENVIRONMENT",
    ] {
        assert!(t.lines().any(|l| l == section), "no {section} in\n{t}");
    }
    let row = |cells: &[&str]| {
        t.lines().any(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            cells.iter().all(|c| f.contains(c))
        })
    };
    assert!(row(&["1", "sh", "3", "reg", "w", "/out/held.txt"]), "{t}");
    assert!(row(&["inet6", "tcp", "LISTEN", "*:8888", "*:*"]), "{t}");
    assert!(
        row(&["inet", "tcp", "ESTABLISHED", "127.0.0.1:7777"]),
        "{t}"
    );
    assert!(row(&["/proc", "proc"]), "{t}");
    assert!(row(&["/sys", "sysfs"]), "{t}");
    assert!(row(&["/out", "/out"]), "{t}");
    assert!(t.lines().any(|l| l.trim() == SECRET), "{t}");
    assert!(
        t.lines().any(|l| l.contains("stack") && l.contains("rw-p")),
        "{t}"
    );

    // Nothing in the image directory changed, and the container still runs.
    assert_eq!(snapshot(img.path()), before, "inspect wrote to the images");
    assert_eq!(c.status(), "running");
    let ps = rt.run_ok(&["ps", &c.id]);
    assert!(ps.stdout.contains("sleep 1000"), "{ps}");
}

#[test]
fn inspect_errors_and_archives() {
    let rt = Runtime::cryo();
    let b = Bundle::new(&["sh", "-c", "sleep 1000 & wait"]);
    let c = run_detached(&rt, &b, "insp-err");
    wait_for(WAIT, "the child sleep", || {
        rt.output(&["ps", &c.id]).stdout.contains("sleep 1000")
    });
    let img = image_dir("err");
    let imgp = path_str(img.path());
    let archive = format!("{imgp}.tar.zst");
    let _rm = HostFileGuard(archive.clone());
    rt.run_ok(&[
        "checkpoint",
        "--image-path",
        imgp,
        "--leave-running",
        "--export",
        &archive,
        &c.id,
    ]);
    assert_eq!(c.status(), "running");

    // An archive is verified, unpacked aside, inspected and removed.
    let r = json(&rt, &[&archive]);
    assert_eq!(r["image_dir"], archive.as_str());
    assert_eq!(
        r["archive"]["container_id"],
        c.id.as_str(),
        "{:#}",
        r["archive"]
    );
    let cmds: Vec<Vec<&str>> = r["processes"]
        .as_array()
        .expect("processes")
        .iter()
        .map(|p| strs(&p["cmdline"]))
        .collect();
    assert_eq!(
        cmds,
        [vec!["sh", "-c", "sleep 1000 & wait"], vec!["sleep", "1000"]]
    );
    let t = rt.run_ok(&["inspect", &archive]).stdout;
    assert!(t.contains(&format!("Archive of container {}", c.id)), "{t}");

    // A file that is not an archive.
    let junk = img.path().join("descriptors.json");
    let out = rt.run_fail(&["inspect", path_str(&junk)]);
    assert!(out.stderr.contains("invalid checkpoint archive"), "{out}");

    // Not an image directory.
    let empty = image_dir("empty");
    let out = rt.run_fail(&["inspect", path_str(empty.path())]);
    assert!(out.stderr.contains("not a CRIU image directory"), "{out}");
    let out = rt.run_fail(&["inspect", "/nonexistent/cryo-images"]);
    assert!(out.stderr.contains("no such file or directory"), "{out}");

    // A truncated image: an error naming the file and the offset.
    let bad = image_dir("bad");
    for e in std::fs::read_dir(img.path()).expect("read images") {
        let e = e.expect("entry");
        std::fs::copy(e.path(), bad.path().join(e.file_name())).expect("copy");
    }
    let core = bad.path().join("core-1.img");
    let bytes = std::fs::read(&core).expect("read core");
    std::fs::write(&core, &bytes[..bytes.len() / 2]).expect("truncate core");
    let out = rt.run_fail(&["inspect", path_str(bad.path())]);
    assert!(
        out.stderr
            .contains(&format!("{}: truncated at offset 8", core.display())),
        "{out}"
    );
    // A scrambled one: a corrupt entry, still no panic.
    let mut scrambled = bytes.clone();
    for b in scrambled.iter_mut().skip(12).take(12) {
        *b = 0xff;
    }
    std::fs::write(&core, &scrambled).expect("scramble core");
    let out = rt.run_fail(&["inspect", path_str(bad.path())]);
    assert!(
        out.stderr.contains("core-1.img: corrupt at offset"),
        "{out}"
    );
    assert_eq!(out.code(), Some(1), "{out}");
}

/// Removes a host file on drop.
struct HostFileGuard(String);

impl Drop for HostFileGuard {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}
