//! Checkpoint and restore through CRIU, end to end: each test checkpoints a
//! container with live state and proves after restore that the state went
//! on (a counter kept counting from where it was, a pipe still carries
//! output, a TCP connection still answers, a lock is still held).
//!
//! These need root and CRIU 4.x (`make test` builds it to
//! /usr/local/sbin/criu); without them they fail rather than skip.

use std::io::{BufRead, BufReader};
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use cryo_e2e::*;
use serde_json::json;

const WAIT: Duration = Duration::from_secs(20);

fn path(p: &Path) -> &str {
    path_str(p)
}

/// `cryo restore -d` of `id` from `img` under bundle `b`.
fn restore_detached<'a>(
    rt: &'a Runtime,
    b: &Bundle,
    id: &str,
    img: &Path,
    extra: &[&str],
) -> Container<'a> {
    b.save();
    let c = rt.guard(id);
    let mut args = vec![
        "restore",
        "-d",
        "--bundle",
        b.path_str(),
        "--image-path",
        path(img),
    ];
    args.extend_from_slice(extra);
    args.push(id);
    let (out, _, _) = rt.output_detached(&args);
    assert!(out.success(), "restore failed\n{out}\n{}", restore_log(img));
    c
}

fn restore_log(img: &Path) -> String {
    let log = std::fs::read_to_string(img.join("restore.log")).unwrap_or_default();
    log.lines()
        .filter(|l| l.contains("Error") || l.contains("error"))
        .collect::<Vec<_>>()
        .join("\n")
}

fn checkpoint_ok(rt: &Runtime, id: &str, img: &Path, extra: &[&str]) {
    let mut args = vec!["checkpoint", "--image-path", path(img)];
    args.extend_from_slice(extra);
    args.push(id);
    rt.run_ok(&args);
}

/// The pid namespace inode of `pid` and its pid inside that namespace.
fn ns_pid(pid: i64) -> (String, String) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("read status");
    let nspid = status
        .lines()
        .find_map(|l| l.strip_prefix("NSpid:"))
        .expect("NSpid line")
        .split_whitespace()
        .last()
        .expect("NSpid value")
        .to_string();
    (ns_link(&pid.to_string(), "pid"), nspid)
}

#[test]
fn plain_checkpoint_and_restore_keeps_counting() {
    let rt = Runtime::cryo();
    let b = counter_bundle();
    let c = run_detached(&rt, &b, "ck-plain");
    wait_counter(&b, 20);
    let img = image_dir("plain");
    checkpoint_ok(&rt, &c.id, img.path(), &[]);
    let at = read_counter(&b);

    // Without --leave-running the container is gone, its state with it.
    let out = rt.run_fail(&["state", &c.id]);
    assert!(out.stderr.contains("container does not exist"), "{out}");
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(read_counter(&b), at, "counter moved while checkpointed");

    // The image is private and has what clients read.
    let mode = std::fs::metadata(img.path())
        .expect("stat image")
        .permissions()
        .mode()
        & 0o777;
    assert_eq!(mode, 0o700, "image dir mode");
    for f in [
        "inventory.img",
        "descriptors.json",
        "dump.log",
        "stats-dump",
    ] {
        assert!(img.path().join(f).exists(), "{f} missing from the image");
    }
    let fds: Vec<String> = serde_json::from_str(
        &std::fs::read_to_string(img.path().join("descriptors.json")).expect("read descriptors"),
    )
    .expect("descriptors.json is a JSON array of strings");
    assert_eq!(fds.len(), 3, "{fds:?}");

    let r = restore_detached(&rt, &b, &c.id, img.path(), &[]);
    assert_eq!(r.status(), "running");
    let pid = r.pid();
    assert!(!pid_is_dead(pid));
    for f in ["restore.log", "stats-restore"] {
        assert!(img.path().join(f).exists(), "{f} missing after restore");
    }
    assert_continues(&b, at);
    // The restored init is pid 1 of its own pid namespace.
    assert_eq!(ns_pid(pid).1, "1");
    // Masked paths are still masked, and exec works in the restored container.
    let out = rt.run_ok(&["exec", &r.id, "sh", "-c", "wc -c < /proc/keys; hostname"]);
    assert_eq!(
        out.stdout.split_whitespace().collect::<Vec<_>>(),
        ["0", "runc"],
        "{out}"
    );

    rt.run_ok(&["kill", &r.id, "KILL"]);
    r.wait_stopped();
    rt.run_ok(&["delete", &r.id]);
    assert!(rt.root_entries().is_empty(), "{:?}", rt.root_entries());
}

#[test]
fn leave_running_then_restore_a_copy() {
    let rt = Runtime::cryo();
    let b = counter_bundle();
    let c = run_detached(&rt, &b, "ck-leave");
    wait_counter(&b, 20);
    let img = image_dir("leave");
    checkpoint_ok(&rt, &c.id, img.path(), &["--leave-running"]);
    assert_eq!(c.status(), "running");
    let at = read_counter(&b);
    assert_continues(&b, at);

    // The original goes; the copy from the image carries its memory.
    rt.run_ok(&["delete", "--force", &c.id]);
    let at = read_counter(&b);
    let r = restore_detached(&rt, &b, &unique_id("ck-leave-copy"), img.path(), &[]);
    assert_eq!(r.status(), "running");
    // The copy resumes from the value at checkpoint time, below the last
    // value the original wrote: restored memory, not a fresh start.
    let mut v = at;
    wait_for(WAIT, "restored copy to write", || {
        v = read_counter(&b);
        v != at
    });
    assert!(
        v > 1 && v <= at + 40,
        "restored copy wrote {v} (checkpoint near {at})"
    );
}

#[test]
fn paused_container_checkpoints() {
    let rt = Runtime::cryo();
    let b = counter_bundle();
    let c = run_detached(&rt, &b, "ck-paused");
    wait_counter(&b, 10);
    rt.run_ok(&["pause", &c.id]);
    let at = read_counter(&b);
    let img = image_dir("paused");
    // As containerd does: pause, checkpoint --leave-running, resume.
    checkpoint_ok(&rt, &c.id, img.path(), &["--leave-running"]);
    assert_eq!(c.status(), "paused", "a paused container stays paused");
    assert_eq!(read_counter(&b), at);
    rt.run_ok(&["resume", &c.id]);
    assert_continues(&b, at);

    // A paused container checkpointed without --leave-running is gone.
    rt.run_ok(&["pause", &c.id]);
    let img2 = image_dir("paused2");
    checkpoint_ok(&rt, &c.id, img2.path(), &[]);
    rt.run_fail(&["state", &c.id]);
    let at = read_counter(&b);
    let r = restore_detached(&rt, &b, &c.id, img2.path(), &[]);
    if r.status() == "paused" {
        rt.run_ok(&["resume", &r.id]);
    }
    assert_continues(&b, at);
}

/// The children of `pid` (host pids) and the state letter of each.
fn children_states(pid: i64) -> Vec<(i64, String)> {
    let kids =
        std::fs::read_to_string(format!("/proc/{pid}/task/{pid}/children")).unwrap_or_default();
    kids.split_whitespace()
        .filter_map(|k| k.parse::<i64>().ok())
        .map(|k| (k, proc_state(k).unwrap_or_else(|| "?".into())))
        .collect()
}

#[test]
fn a_container_with_a_zombie_restores_with_it() {
    // The child exits at once and its parent (sleep, exec'd over the
    // shell) never reaps it. CRIU dumps a zombie with only core-<pid>.img
    // and a thread id of 0 in pstree.img; restore must accept that and
    // bring the zombie back.
    let rt = Runtime::cryo();
    let b = Bundle::new(&["sh", "-c", "sleep 0 & exec sleep 1000"]);
    let c = run_detached(&rt, &b, "ck-zombie");
    let pid = c.pid();
    wait_for(WAIT, "a zombie child of the container's init", || {
        children_states(pid).iter().any(|(_, s)| s == "Z")
    });
    let img = image_dir("zombie");
    checkpoint_ok(&rt, &c.id, img.path(), &[]);
    let r = restore_detached(&rt, &b, &c.id, img.path(), &[]);
    assert_eq!(r.status(), "running");
    let kids = children_states(r.pid());
    assert_eq!(
        kids.iter().map(|(_, s)| s.as_str()).collect::<Vec<_>>(),
        ["Z"],
        "children of the restored init: {kids:?}"
    );
    // What `inspect` reports of the zombie: one thread, its own pid.
    let out = rt.run_ok(&["inspect", "--format", "json", path(img.path())]);
    let v: serde_json::Value = serde_json::from_str(&out.stdout).expect("inspect json");
    let zombie = v["processes"]
        .as_array()
        .and_then(|ps| ps.iter().find(|p| p["state"] == "dead"))
        .unwrap_or_else(|| panic!("no dead process in inspect's report\n{out}"));
    assert_eq!(zombie["threads"], json!([zombie["pid"]]), "{zombie}");
}

#[test]
fn three_copies_from_one_image_at_once() {
    let rt = Runtime::cryo();
    let b = counter_bundle();
    let c = run_detached(&rt, &b, "ck-copies");
    wait_counter(&b, 10);
    let img = image_dir("copies");
    checkpoint_ok(&rt, &c.id, img.path(), &[]);
    // Each copy writes to its own out dir: same image, different bundles.
    let copies: Vec<(Bundle, String)> = (0..3)
        .map(|i| {
            let mut cb = Bundle::new(&["sh", "-c", COUNTER]);
            let out = cb.out_dir();
            // The shell may have been writing counter.tmp at dump time: CRIU
            // reopens it by path.
            std::fs::write(out.join("counter.tmp"), "").expect("write counter.tmp");
            cb.save();
            (cb, unique_id(&format!("ck-copy{i}")))
        })
        .collect();
    let bin = rt.bin.clone();
    let root = rt.root_path().to_path_buf();
    let handles: Vec<_> = copies
        .iter()
        .map(|(cb, id)| {
            let mut cmd = Command::new(&bin);
            cmd.arg("--root").arg(&root);
            cmd.args([
                "restore",
                "-d",
                "--bundle",
                cb.path_str(),
                "--image-path",
                path(img.path()),
                id,
            ]);
            cmd.stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::piped());
            cmd.spawn().expect("spawn restore")
        })
        .collect();
    let guards: Vec<_> = copies.iter().map(|(_, id)| rt.guard(id)).collect();
    for h in handles {
        let out = h.wait_with_output().expect("wait restore");
        assert!(
            out.status.success(),
            "restore failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let mut pidns = std::collections::BTreeSet::new();
    for ((cb, _), g) in copies.iter().zip(&guards) {
        assert_eq!(g.status(), "running");
        let (ns, inner) = ns_pid(g.pid());
        assert_eq!(inner, "1");
        pidns.insert(ns);
        let v = wait_counter(cb, 12);
        assert!(v >= 10, "copy started from scratch: {v}");
    }
    assert_eq!(pidns.len(), 3, "each copy has its own pid namespace");
}

#[test]
fn stdout_pipe_from_parent_is_replugged() {
    let rt = Runtime::cryo();
    let b = Bundle::new(&[
        "sh",
        "-c",
        "i=0; while :; do i=$((i+1)); echo $i; sleep 0.05; done",
    ]);
    b.save();
    let id = unique_id("ck-pipe");
    let _g = rt.guard(&id);
    let spawn = |args: &[&str]| {
        let mut cmd = rt.cmd(args);
        cmd.stdout(Stdio::piped()).stderr(Stdio::null());
        cmd.spawn().expect("spawn cryo")
    };
    let mut child = spawn(&["run", "-d", "--bundle", b.path_str(), &id]);
    let mut lines = BufReader::new(child.stdout.take().expect("stdout pipe")).lines();
    assert!(child.wait().expect("wait run").success());
    let mut last = 0u64;
    while last < 10 {
        last = lines
            .next()
            .expect("a line")
            .expect("read line")
            .trim()
            .parse()
            .expect("number");
    }
    let img = image_dir("pipe");
    checkpoint_ok(&rt, &id, img.path(), &[]);
    let desc = std::fs::read_to_string(img.path().join("descriptors.json")).expect("descriptors");
    assert!(desc.contains("pipe:["), "stdout was a pipe: {desc}");
    // Drain what the old pipe still holds.
    let old: Vec<u64> = lines.map_while(|l| l.ok()?.trim().parse().ok()).collect();
    let at = old.last().copied().unwrap_or(last);

    let mut child = spawn(&[
        "restore",
        "-d",
        "--bundle",
        b.path_str(),
        "--image-path",
        path(img.path()),
        &id,
    ]);
    let mut lines = BufReader::new(child.stdout.take().expect("stdout pipe")).lines();
    assert!(
        child.wait().expect("wait restore").success(),
        "{}",
        restore_log(img.path())
    );
    let next: u64 = lines
        .next()
        .expect("a line after restore")
        .expect("read")
        .trim()
        .parse()
        .expect("number");
    assert_eq!(
        next,
        at + 1,
        "the restored container goes on writing into the new pipe"
    );
    rt.run_ok(&["delete", "--force", &id]);
}

#[test]
fn bind_mount_source_may_move_between_checkpoint_and_restore() {
    let rt = Runtime::cryo();
    let mut b = Bundle::new(&[
        "sh",
        "-c",
        "i=0; while :; do i=$((i+1)); echo $i > /data/n; sleep 0.05; done",
    ]);
    let first = tempfile::tempdir().expect("tmp");
    let second = tempfile::tempdir().expect("tmp");
    b.add_bind(first.path(), "/data", &[]);
    let c = run_detached(&rt, &b, "ck-bind");
    let n = || -> u64 {
        std::fs::read_to_string(first.path().join("n"))
            .ok()
            .and_then(|s| s.trim().parse().ok())
            .unwrap_or(0)
    };
    wait_for(WAIT, "counter in the first dir", || n() >= 10);
    let img = image_dir("bind");
    checkpoint_ok(&rt, &c.id, img.path(), &[]);
    let at = n();

    // The restore-time bundle binds another directory at /data (with the
    // file the shell may have had open at dump time: CRIU reopens by path).
    std::fs::write(second.path().join("n"), "0\n").expect("write n");
    let mounts = b.config_mut()["mounts"].as_array_mut().expect("mounts");
    for m in mounts.iter_mut() {
        if m["destination"] == "/data" {
            m["source"] = json!(path(second.path()));
        }
    }
    let _r = restore_detached(&rt, &b, &c.id, img.path(), &[]);
    let p = second.path().join("n");
    let mut v = 0;
    wait_for(WAIT, "counter in the second dir", || {
        v = std::fs::read_to_string(&p)
            .ok()
            .and_then(|s| s.trim().parse().ok())
            .unwrap_or(0);
        v > 0
    });
    assert!(v > at, "counter restarted in the new dir: {v} <= {at}");
    std::thread::sleep(Duration::from_millis(200));
    assert_eq!(n(), at, "the old dir is not written any more");
}

#[test]
fn pre_dump_fails_cleanly_without_soft_dirty() {
    let rt = Runtime::cryo();
    let b = counter_bundle();
    let c = run_detached(&rt, &b, "ck-predump");
    wait_counter(&b, 5);
    let img = image_dir("predump");
    let out = rt.run_fail(&[
        "checkpoint",
        "--pre-dump",
        "--image-path",
        path(img.path()),
        &c.id,
    ]);
    assert!(
        out.stderr.contains("pre-dump") && out.stderr.contains("soft-dirty"),
        "the error says why\n{out}"
    );
    assert_eq!(c.status(), "running");
    assert!(
        !img.path().join("inventory.img").exists(),
        "no image left behind"
    );
    let at = read_counter(&b);
    assert_continues(&b, at);
}

/// A named network namespace with loopback up, removed on drop.
struct NetNs(String);

impl NetNs {
    fn new(name: &str) -> NetNs {
        let n = format!("cryo-{}-{}", name, std::process::id());
        host_ok("ip", &["netns", "add", &n]);
        host_ok("ip", &["-n", &n, "link", "set", "lo", "up"]);
        NetNs(n)
    }
    fn path(&self) -> String {
        format!("/run/netns/{}", self.0)
    }
}

impl Drop for NetNs {
    fn drop(&mut self) {
        let _ = Command::new("ip").args(["netns", "del", &self.0]).status();
    }
}

/// A container in `ns` whose client streams a counter over one TCP
/// connection to a server in the same container, which writes what it
/// receives to /out/recv.
fn tcp_bundle(ns: &NetNs) -> Bundle {
    let mut b = Bundle::new(&[
        "sh",
        "-c",
        "sleep 100000 | nc -l -p 7777 > /out/recv & sleep 0.3; i=0; while :; do i=$((i+1)); echo $i; sleep 0.05; done | nc 127.0.0.1 7777",
    ]);
    b.out_dir();
    b.remove_namespace("network");
    b.add_namespace("network", Some(&ns.path()));
    b.save();
    b
}

fn last_received(b: &Bundle) -> u64 {
    b.read_out("recv")
        .lines()
        .filter_map(|l| l.trim().parse().ok())
        .next_back()
        .unwrap_or(0)
}

#[test]
fn established_tcp_connection_survives_with_tcp_established() {
    let rt = Runtime::cryo();
    let ns = NetNs::new("tcp");
    let b = tcp_bundle(&ns);
    let c = run_detached(&rt, &b, "ck-tcp");
    wait_for(WAIT, "data over the connection", || last_received(&b) >= 10);
    let img = image_dir("tcp");
    checkpoint_ok(&rt, &c.id, img.path(), &["--tcp-established"]);
    let at = last_received(&b);
    let r = restore_detached(&rt, &b, &c.id, img.path(), &["--tcp-established"]);
    // The same connection carries on: the server (which accepts once) gets
    // the numbers after `at`, in order.
    wait_for(WAIT, "data after restore", || last_received(&b) > at + 5);
    let got: Vec<u64> = b
        .read_out("recv")
        .lines()
        .filter_map(|l| l.trim().parse().ok())
        .collect();
    let expect: Vec<u64> = (1..=got.len() as u64).collect();
    assert_eq!(got, expect, "the stream has no gap or restart");
    // The restored init is in the namespace it joined by path.
    let want = std::fs::metadata(ns.path())
        .map(|m| std::os::unix::fs::MetadataExt::ino(&m))
        .expect("stat netns");
    let link = ns_link(&r.pid().to_string(), "net");
    assert!(
        link.contains(&want.to_string()),
        "restored netns {link}, want inode {want}"
    );
}

#[test]
fn failed_dump_leaves_the_container_running() {
    let rt = Runtime::cryo();
    let ns = NetNs::new("tcpfail");
    let b = tcp_bundle(&ns);
    let c = run_detached(&rt, &b, "ck-fail");
    wait_for(WAIT, "data over the connection", || last_received(&b) >= 5);
    let img = image_dir("fail");
    let out = rt.run_fail(&["checkpoint", "--image-path", path(img.path()), &c.id]);
    // The error quotes CRIU's log.
    assert!(out.stderr.contains("tcp-established"), "{out}");
    assert!(out.stderr.contains("dump.log"), "{out}");
    assert_eq!(c.status(), "running");
    let at = last_received(&b);
    wait_for(WAIT, "connection still carrying data", || {
        last_received(&b) > at + 3
    });
}

/// Takes an flock on /out/lock, then counts like COUNTER.
const LOCKER_C: &str = r#"
#include <stdio.h>
#include <fcntl.h>
#include <unistd.h>
#include <sys/file.h>
int main(void) {
    int fd = open("/out/lock", O_RDWR | O_CREAT, 0644);
    if (fd < 0 || flock(fd, LOCK_EX) != 0) return 1;
    for (unsigned long i = 1;; i++) {
        FILE *f = fopen("/out/counter.tmp", "w");
        if (!f) return 2;
        fprintf(f, "%lu\n", i);
        fclose(f);
        rename("/out/counter.tmp", "/out/counter");
        usleep(50000);
    }
}
"#;

#[test]
fn file_locks_are_kept() {
    let rt = Runtime::cryo();
    let mut b = Bundle::new(&["/locker"]);
    let locker = static_program("locker", LOCKER_C);
    std::fs::copy(&locker, b.rootfs().join("locker")).expect("copy locker");
    b.out_dir();
    let c = run_detached(&rt, &b, "ck-locks");
    wait_counter(&b, 10);
    let lock = b.path().join("out/lock");
    let held = || {
        !Command::new("flock")
            .args(["-n", path(&lock), "true"])
            .status()
            .expect("flock")
            .success()
    };
    assert!(held(), "container holds the lock");
    let img = image_dir("locks");
    checkpoint_ok(&rt, &c.id, img.path(), &["--file-locks"]);
    assert!(!held(), "lock released while checkpointed");
    let at = read_counter(&b);
    let _r = restore_detached(&rt, &b, &c.id, img.path(), &["--file-locks"]);
    assert!(held(), "restored container holds the lock again");
    assert_continues(&b, at);
}

fn proc_cgroup_has(pid: i64, path: &str) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/cgroup"))
        .unwrap_or_default()
        .lines()
        .any(|l| l.ends_with(path))
}

#[test]
fn manage_cgroups_ignore_restores_into_another_cgroup() {
    let rt = Runtime::cryo();
    let mut b = counter_bundle();
    let first = format!("/cryo-e2e/{}", unique_id("cga"));
    let second = format!("/cryo-e2e/{}", unique_id("cgb"));
    b.config_mut()["linux"]["cgroupsPath"] = json!(first);
    let c = run_detached(&rt, &b, "ck-cg");
    assert!(proc_cgroup_has(c.pid(), &first));
    wait_counter(&b, 10);
    let img = image_dir("cg");
    checkpoint_ok(&rt, &c.id, img.path(), &["--manage-cgroups-mode", "ignore"]);
    let at = read_counter(&b);
    b.config_mut()["linux"]["cgroupsPath"] = json!(second);
    let r = restore_detached(
        &rt,
        &b,
        &c.id,
        img.path(),
        &["--manage-cgroups-mode", "ignore"],
    );
    let pid = r.pid();
    assert!(proc_cgroup_has(pid, &second), "restored into {second}");
    assert!(!proc_cgroup_has(pid, &first));
    assert_continues(&b, at);
    let st = rt.run_ok(&["ps", "--format", "json", &r.id]);
    assert!(
        st.stdout.contains(&pid.to_string()),
        "ps sees the restored init\n{st}"
    );
}

#[test]
fn empty_network_namespace_on_restore() {
    let rt = Runtime::cryo();
    let b = counter_bundle();
    let c = run_detached(&rt, &b, "ck-emptyns");
    wait_counter(&b, 10);
    let before = ns_link(&c.pid().to_string(), "net");
    // Hold the old namespace open: once the checkpoint ends the container,
    // the kernel would otherwise be free to give its inode number to the
    // namespace the restore creates, and the comparison below would mean
    // nothing.
    let _old_netns = std::fs::File::open(format!("/proc/{}/ns/net", c.pid())).expect("open netns");
    let img = image_dir("emptyns");
    checkpoint_ok(&rt, &c.id, img.path(), &["--empty-ns", "network"]);
    assert!(
        !img.path().read_dir().expect("ls").any(|e| {
            e.map(|e| e.file_name().to_string_lossy().starts_with("netns-"))
                .unwrap_or(false)
        }),
        "the network namespace was not dumped"
    );
    let at = read_counter(&b);
    let r = restore_detached(&rt, &b, &c.id, img.path(), &["--empty-ns", "network"]);
    let after = ns_link(&r.pid().to_string(), "net");
    assert_ne!(before, after);
    assert_ne!(after, ns_link("self", "net"), "not the host's namespace");
    assert_continues(&b, at);
    // An unsupported namespace is refused by name, before anything happens.
    let out = rt.run_fail(&[
        "checkpoint",
        "--empty-ns",
        "pid",
        "--image-path",
        path(img.path()),
        &r.id,
    ]);
    assert!(
        out.stderr.contains("pid") && out.stderr.contains("only"),
        "{out}"
    );
    assert_eq!(r.status(), "running");
}

#[test]
fn restore_errors_leave_nothing_behind() {
    let rt = Runtime::cryo();
    let b = counter_bundle();
    let empty = image_dir("empty");
    std::fs::write(
        empty.path().join("descriptors.json"),
        "[\"/dev/null\",\"/dev/null\",\"/dev/null\"]",
    )
    .expect("write");
    let id = unique_id("ck-bad");
    let _g = rt.guard(&id);
    let out = rt.run_fail(&[
        "restore",
        "-d",
        "--bundle",
        b.path_str(),
        "--image-path",
        path(empty.path()),
        &id,
    ]);
    assert!(out.stderr.contains("criu failed: restore"), "{out}");
    let out = rt.run_fail(&["state", &id]);
    assert!(out.stderr.contains("container does not exist"), "{out}");
    assert!(rt.root_entries().is_empty(), "{:?}", rt.root_entries());
    assert!(
        !Path::new(&cgroup_v1_dir("memory", &format!("cryo/{id}"))).exists(),
        "cgroup removed"
    );

    // Podman probes pod-restore support by this wording.
    let out = rt.run_fail(&["restore", "--lsm-mount-context"]);
    assert!(out.stderr.contains("flag needs an argument"), "{out}");
    // And runs `checkpoint --help` before every checkpoint.
    rt.run_ok(&["checkpoint", "--help"]);
    // Checkpoint of a container that does not exist.
    let out = rt.run_fail(&["checkpoint", "--image-path", path(empty.path()), "nope"]);
    assert!(out.stderr.contains("container does not exist"), "{out}");
}

#[test]
fn foreground_restore_waits_and_exits_with_the_status() {
    let rt = Runtime::cryo();
    let b = Bundle::new(&["sh", "-c", "i=0; while [ ! -e /out/stop ]; do i=$((i+1)); echo $i > /out/counter; sleep 0.05; done; exit 7"]);
    let mut b = b;
    b.out_dir();
    let c = run_detached(&rt, &b, "ck-fg");
    wait_counter(&b, 5);
    let img = image_dir("fg");
    checkpoint_ok(&rt, &c.id, img.path(), &[]);
    let at = read_counter(&b);
    let mut cmd = rt.cmd(&[
        "restore",
        "--bundle",
        b.path_str(),
        "--image-path",
        path(img.path()),
        &c.id,
    ]);
    // The dumped stdio were files; a stdout of another type is refused by
    // CRIU, so the dump-time files are reopened.
    cmd.stdout(Stdio::null()).stderr(Stdio::null());
    let mut child = cmd.spawn().expect("spawn restore");
    assert_continues(&b, at);
    assert_eq!(c.status(), "running");
    std::fs::write(b.path().join("out/stop"), "").expect("write stop");
    let t = Instant::now();
    let status = wait_child(&mut child, WAIT, "foreground restore");
    assert_eq!(status.code(), Some(7), "exit status of the container");
    assert!(t.elapsed() < WAIT);
    let out = rt.run_fail(&["state", &c.id]);
    assert!(
        out.stderr.contains("container does not exist"),
        "deleted after exit\n{out}"
    );
}

/// Reads from a pty master until a line holding a number above `above`
/// appears; returns the numbers read.
fn read_numbers_until(master: &std::os::fd::OwnedFd, above: u64) -> Vec<u64> {
    use std::os::fd::AsRawFd;
    let deadline = Instant::now() + WAIT;
    let mut text = String::new();
    let mut buf = [0u8; 4096];
    loop {
        let nums: Vec<u64> = text
            .split(['\r', '\n'])
            .filter_map(|l| l.trim().parse().ok())
            .collect();
        if nums.iter().any(|n| *n > above) {
            return nums;
        }
        assert!(
            Instant::now() < deadline,
            "no number above {above} on the pty: {text:?}"
        );
        let mut pfd = libc::pollfd {
            fd: master.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        };
        // SAFETY: pfd is a valid pollfd for the duration of the call.
        let r = unsafe { libc::poll(&mut pfd, 1, 200) };
        if r <= 0 {
            continue;
        }
        // SAFETY: buf is valid for writes of its length.
        let n = unsafe { libc::read(master.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len()) };
        assert!(n > 0, "pty read: {}", std::io::Error::last_os_error());
        text.push_str(&String::from_utf8_lossy(&buf[..n as usize]));
    }
}

#[test]
fn tty_container_restores_through_a_console_socket() {
    let rt = Runtime::cryo();
    let mut b = Bundle::new(&[
        "sh",
        "-c",
        "i=0; while :; do i=$((i+1)); echo $i; sleep 0.05; done",
    ]);
    b.config_mut()["process"]["terminal"] = json!(true);
    let console = ConsoleSocket::new();
    let c = rt.create_with(&b, "ck-tty", &["--console-socket", console.path_str()]);
    let master = console.recv_master(WAIT);
    c.start();
    let before = read_numbers_until(&master, 10);
    let img = image_dir("tty");
    checkpoint_ok(&rt, &c.id, img.path(), &[]);
    drop(master);
    let at = before.last().copied().unwrap_or(0);

    let console2 = ConsoleSocket::new();
    let r = restore_detached(
        &rt,
        &b,
        &c.id,
        img.path(),
        &["--console-socket", console2.path_str()],
    );
    let master = console2.recv_master(WAIT);
    let after = read_numbers_until(&master, at + 5);
    let first = after.first().copied().unwrap_or(0);
    assert!(
        first > at / 2,
        "the shell went on counting ({first} after {at}), not restarted"
    );
    assert_eq!(r.status(), "running");
    // Without a console socket, a terminal container cannot be restored.
    let out = rt.run_fail(&[
        "restore",
        "-d",
        "--bundle",
        b.path_str(),
        "--image-path",
        path(img.path()),
        &unique_id("ck-tty2"),
    ]);
    assert!(out.stderr.contains("console-socket"), "{out}");
}

/// Runs `args` of `rt` with stdio on pipes (runc can checkpoint a container
/// only if its stdio are pipes or inside the container); returns the pipe
/// ends, which keep the container's stdio open.
fn with_pipes(
    rt: &Runtime,
    args: &[&str],
) -> (
    std::process::ChildStdin,
    std::process::ChildStdout,
    std::process::ChildStderr,
) {
    let mut cmd = rt.cmd(args);
    cmd.stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().expect("spawn runtime");
    let pipes = (
        child.stdin.take().expect("stdin"),
        child.stdout.take().expect("stdout"),
        child.stderr.take().expect("stderr"),
    );
    let status = wait_child(&mut child, WAIT, &format!("{args:?}"));
    assert!(status.success(), "{args:?} failed: {status}");
    pipes
}

/// The image layout is runc's: a runc checkpoint restores with cryo, and a
/// cryo checkpoint restores with runc, for a plain container.
#[test]
fn images_move_between_runc_and_cryo() {
    let cryo = Runtime::cryo();
    let runc = Runtime::runc();
    for (from, to, name) in [
        (&runc, &cryo, "runc-to-cryo"),
        (&cryo, &runc, "cryo-to-runc"),
    ] {
        let b = counter_bundle();
        let id = unique_id(name);
        let _g = from.guard(&id);
        let _pipes = with_pipes(from, &["run", "-d", "--bundle", b.path_str(), &id]);
        wait_counter(&b, 10);
        let img = image_dir(name);
        checkpoint_ok(from, &id, img.path(), &[]);
        let at = read_counter(&b);
        let r = to.guard(&id);
        let _pipes2 = with_pipes(
            to,
            &[
                "restore",
                "-d",
                "--bundle",
                b.path_str(),
                "--image-path",
                path(img.path()),
                &id,
            ],
        );
        assert_eq!(r.status(), "running", "{name}");
        assert_continues(&b, at);
    }
}

/// Post-copy on one host: the dump serves memory from a page server on
/// loopback, the restore runs before its memory arrived and fetches it.
#[test]
fn lazy_pages_through_a_page_server_on_loopback() {
    use std::io::Read;
    use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
    let rt = Runtime::cryo();
    let b = counter_bundle();
    let c = run_detached(&rt, &b, "ck-lazy");
    wait_counter(&b, 10);
    let img = image_dir("lazy");
    let port = 20000 + (std::process::id() % 20000);
    let server = format!("127.0.0.1:{port}");
    let mut fds = [0; 2];
    // SAFETY: fds is a valid array of two ints for pipe2 to fill.
    assert_eq!(unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) }, 0);
    // SAFETY: pipe2 just returned these two fds; nobody else owns them.
    let (status_r, status_w) =
        unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) };
    let mut cmd = rt.cmd(&[
        "checkpoint",
        "--lazy-pages",
        "--page-server",
        &server,
        "--status-fd",
        "3",
        "--image-path",
        path(img.path()),
        &c.id,
    ]);
    map_fds(&mut cmd, &[(status_w.as_raw_fd(), 3)]);
    cmd.stdout(Stdio::null()).stderr(Stdio::piped());
    let mut dump = cmd.spawn().expect("spawn lazy checkpoint");
    drop(status_w);
    // The dump signals once its page server is up (with the memory still
    // in the frozen tasks).
    let mut pfd = libc::pollfd {
        fd: status_r.as_raw_fd(),
        events: libc::POLLIN,
        revents: 0,
    };
    // SAFETY: pfd is a valid pollfd for the duration of the call.
    let ready = unsafe { libc::poll(&mut pfd, 1, WAIT.as_millis() as i32) };
    if ready != 1 {
        let _ = dump.kill();
        panic!("the lazy dump did not signal its status fd within {WAIT:?}");
    }
    let mut byte = [0u8; 1];
    let mut r = std::fs::File::from(status_r);
    assert_eq!(
        r.read(&mut byte).expect("read status fd"),
        1,
        "no status from the lazy dump"
    );
    let at = read_counter(&b);

    let id = unique_id("ck-lazy-r");
    let restored = restore_detached(
        &rt,
        &b,
        &id,
        img.path(),
        &["--lazy-pages", "--page-server", &server],
    );
    assert_eq!(restored.status(), "running");
    assert_continues(&b, at);
    // Once every page went over, the dump finishes and the source is gone.
    let status = wait_child(&mut dump, WAIT, "lazy checkpoint");
    let mut err = String::new();
    if let Some(mut e) = dump.stderr.take() {
        let _ = e.read_to_string(&mut err);
    }
    assert!(status.success(), "lazy checkpoint failed: {err}");
    let out = rt.run_fail(&["state", &c.id]);
    assert!(out.stderr.contains("container does not exist"), "{out}");
    assert_continues(&b, read_counter(&b));
}

/// Touches `argv[1]` MiB, then counts like COUNTER.
/// Whether a CRIU working for `img` is still running (its cwd is the image
/// directory, its work path).
fn criu_running_in(img: &Path) -> bool {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return false;
    };
    dir.flatten().any(|e| {
        std::fs::read_to_string(e.path().join("cmdline")).is_ok_and(|c| c.starts_with("criu"))
            && std::fs::read_link(e.path().join("cwd")).is_ok_and(|cwd| cwd == img)
    })
}

/// SIGKILL of cryo in the middle of a dump: the container is then either
/// still running with correct state, or cleanly deletable.
#[test]
fn kill_9_during_dump_leaves_the_container_usable() {
    let rt = Runtime::cryo();
    let b = memhog_bundle(400);
    let c = run_detached(&rt, &b, "ck-kill9");
    wait_counter(&b, 5);
    let img = image_dir("kill9");
    let mut cmd = rt.cmd(&["checkpoint", "--image-path", path(img.path()), &c.id]);
    cmd.stdout(Stdio::null()).stderr(Stdio::null());
    let mut child = cmd.spawn().expect("spawn checkpoint");
    // Kill it once CRIU is at work on the container.
    wait_for(WAIT, "CRIU to start dumping", || {
        img.path().join("dump.log").exists()
            && std::fs::metadata(img.path().join("dump.log"))
                .map(|m| m.len() > 4096)
                .unwrap_or(false)
    });
    child.kill().expect("SIGKILL cryo");
    let _ = child.wait();
    // CRIU notices its client is gone at the next notification and stops.
    // cryo froze the cgroup before CRIU started (it saves CRIU a 100 ms
    // poll) and marked that it did: the next verb (here `state`) thaws it
    // once CRIU is gone. A container that was running is running again.
    wait_for(WAIT, "CRIU to let go of the container", || {
        !criu_running_in(img.path())
    });
    let status = c.status();
    match status.as_str() {
        "running" => {
            let at = read_counter(&b);
            assert_continues(&b, at);
            rt.run_ok(&["delete", "--force", &c.id]);
        }
        "stopped" => {
            rt.run_ok(&["delete", "--force", &c.id]);
        }
        other => panic!("container left {other} after cryo was killed mid-dump"),
    }
    rt.run_fail(&["state", &c.id]);
    assert!(rt.root_entries().is_empty(), "{:?}", rt.root_entries());
    assert!(
        !Path::new(&cgroup_v1_dir("memory", &format!("cryo/{}", c.id))).exists(),
        "cgroup left behind"
    );
}

#[test]
fn restore_runs_prestart_and_create_runtime_hooks() {
    let rt = Runtime::cryo();
    let mut b = counter_bundle();
    let c = run_detached(&rt, &b, "ck-hooks");
    wait_counter(&b, 5);
    let img = image_dir("hooks");
    checkpoint_ok(&rt, &c.id, img.path(), &[]);
    let out = b.path().join("out");
    let hook = |name: &str| json!({"path": "/bin/sh", "args": ["sh", "-c", format!("cat > {}/{name}.json", path(&out))]});
    b.config_mut()["hooks"] =
        json!({"prestart": [hook("prestart")], "createRuntime": [hook("createRuntime")]});
    let r = restore_detached(&rt, &b, &c.id, img.path(), &[]);
    let pid = r.pid();
    for name in ["prestart", "createRuntime"] {
        let text = std::fs::read_to_string(out.join(format!("{name}.json")))
            .unwrap_or_else(|e| panic!("{name} hook did not run: {e}"));
        let st: serde_json::Value = serde_json::from_str(&text).expect("hook state is JSON");
        assert_eq!(st["id"], json!(c.id), "{name}: {st}");
        assert_eq!(
            st["pid"],
            json!(pid),
            "{name} got the restored init's pid: {st}"
        );
    }
    // A failing hook fails the restore and leaves nothing.
    let id = unique_id("ck-hookfail");
    b.config_mut()["hooks"] = json!({"prestart": [{"path": "/bin/false"}]});
    b.save();
    let out = rt.run_fail(&[
        "restore",
        "-d",
        "--bundle",
        b.path_str(),
        "--image-path",
        path(img.path()),
        &id,
    ]);
    assert!(out.stderr.contains("prestart"), "{out}");
    rt.run_fail(&["state", &id]);
}

#[test]
fn criu_config_file_from_the_annotation() {
    let rt = Runtime::cryo();
    let mut b = counter_bundle();
    let conf = b.path().join("criu.conf");
    // A config that breaks the dump on purpose proves CRIU read it.
    std::fs::write(&conf, "no-such-criu-option\n").expect("write conf");
    b.config_mut()["annotations"] = json!({"org.criu.config": path(&conf)});
    let c = run_detached(&rt, &b, "ck-conf");
    wait_counter(&b, 5);
    let img = image_dir("conf");
    let out = rt.run_fail(&["checkpoint", "--image-path", path(img.path()), &c.id]);
    assert_eq!(c.status(), "running", "{out}");
    // An empty annotation means no config file: the dump works.
    b.config_mut()["annotations"] = json!({"org.criu.config": ""});
    let c2 = run_detached(&rt, &b, "ck-conf2");
    checkpoint_ok(&rt, &c2.id, img.path(), &[]);
}

/// What a restore killed before it wrote its state leaves (a state
/// directory with CRIU's root still bound) goes with `delete --force`.
#[test]
fn delete_force_removes_what_a_killed_restore_left() {
    let rt = Runtime::cryo();
    let id = unique_id("ck-stale");
    let dir = rt.root_path().join(&id);
    let root = dir.join("criu-root");
    std::fs::create_dir_all(&root).expect("mkdir");
    let src = tempfile::tempdir().expect("tmp");
    host_ok("mount", &["--bind", path(src.path()), path(&root)]);
    rt.run_ok(&["delete", "--force", &id]);
    assert!(!dir.exists(), "stale state directory removed");
    let mounts = std::fs::read_to_string("/proc/self/mountinfo").expect("mountinfo");
    assert!(!mounts.contains(path(&root)), "criu-root unmounted");
}

/// Quick startup: one warmed-up checkpoint restored lazily as several
/// containers at once (new ids, own pid and network namespaces), each
/// running before its memory is loaded and each carrying the warm state.
#[test]
fn lazy_restore_of_copies_from_local_images() {
    let rt = Runtime::cryo();
    let b = memhog_bundle(64);
    let c = run_detached(&rt, &b, "ck-quick");
    wait_counter(&b, 10);
    let img = image_dir("quick");
    checkpoint_ok(&rt, &c.id, img.path(), &[]);
    let at = read_counter(&b);
    let copies: Vec<(Bundle, String)> = (0..3)
        .map(|i| {
            let mut cb = Bundle::new(&["/memhog", "64"]);
            std::fs::copy(b.rootfs().join("memhog"), cb.rootfs().join("memhog")).expect("copy");
            let out = cb.out_dir();
            std::fs::write(out.join("counter.tmp"), "").expect("write counter.tmp");
            cb.save();
            (cb, unique_id(&format!("ck-quick{i}")))
        })
        .collect();
    let guards: Vec<_> = copies
        .iter()
        .map(|(cb, id)| restore_detached(&rt, cb, id, img.path(), &["--lazy"]))
        .collect();
    let mut netns = std::collections::BTreeSet::new();
    for ((cb, _), g) in copies.iter().zip(&guards) {
        assert_eq!(g.status(), "running");
        netns.insert(ns_link(&g.pid().to_string(), "net"));
        let v = wait_counter(cb, at + 3);
        assert!(v > at, "copy did not start from the warm state");
    }
    assert_eq!(netns.len(), 3, "each copy has its own network namespace");
}

/// Surviving a reboot: every container checkpointed into per-id folders,
/// cryo's whole state root removed (what a reboot does to /run), all of
/// them restored.
#[test]
fn checkpoint_all_and_restore_all_across_a_wiped_state_root() {
    let rt = Runtime::cryo();
    let bundles: Vec<Bundle> = (0..3).map(|_| counter_bundle()).collect();
    let containers: Vec<_> = bundles
        .iter()
        .enumerate()
        .map(|(i, b)| run_detached(&rt, b, &format!("ck-all{i}")))
        .collect();
    // A stopped container is not checkpointed (nothing runs in it).
    let quick = Bundle::new(&["sh", "-c", "exit 0"]);
    let stopped = rt.create(&quick, "ck-all-stopped");
    stopped.start();
    stopped.wait_stopped();
    for b in &bundles {
        wait_counter(b, 5);
    }
    let root = image_dir("all");
    let out = rt.run_ok(&[
        "checkpoint",
        "--all",
        "--image-root",
        path(root.path()),
        "--format",
        "json",
    ]);
    let outcomes: serde_json::Value = serde_json::from_str(&out.stdout).expect("JSON outcomes");
    assert_eq!(outcomes.as_array().map(Vec::len), Some(3), "{outcomes}");
    assert!(
        outcomes
            .as_array()
            .into_iter()
            .flatten()
            .all(|o| o["ok"] == json!(true)),
        "{outcomes}"
    );
    let at: Vec<u64> = bundles.iter().map(read_counter).collect();
    for c in &containers {
        assert!(root.path().join(&c.id).join("container.json").exists());
        rt.run_fail(&["state", &c.id]);
    }
    // The reboot: /run is gone, and with it cryo's state.
    rt.run_ok(&["delete", "--force", &stopped.id]);
    std::fs::remove_dir_all(rt.root_path()).expect("wipe the state root");

    let out = rt.run_ok(&["restore", "--all", "--image-root", path(root.path())]);
    for (c, (b, at)) in containers.iter().zip(bundles.iter().zip(at)) {
        assert!(
            out.stdout
                .lines()
                .any(|l| l.starts_with(&c.id) && l.contains("restored")),
            "{out}"
        );
        assert_eq!(c.status(), "running");
        assert_continues(b, at);
    }
    // Again: each id is taken now, each reported as failed, exit status 1.
    let out = rt.run_fail(&["restore", "--all", "--image-root", path(root.path())]);
    assert!(out.stdout.contains("already exists"), "{out}");
}

/// Restore through create: a bundle annotated `org.cryo.restore-from`
/// becomes a container restored from that checkpoint, `created` (frozen)
/// until `start`, so an unmodified client can start from a checkpoint.
#[test]
fn create_restores_from_the_annotated_checkpoint() {
    let rt = Runtime::cryo();
    let mut b = counter_bundle();
    let c = run_detached(&rt, &b, "ck-via-create");
    wait_counter(&b, 10);
    let img = image_dir("via-create");
    let archive_dir = tempfile::tempdir().expect("tmp");
    let archive = archive_dir.path().join(format!("{}.tar.zst", c.id));
    checkpoint_ok(&rt, &c.id, img.path(), &["--export", path(&archive)]);
    let at = read_counter(&b);

    b.config_mut()["annotations"] = json!({"org.cryo.restore-from": path(img.path())});
    let created = rt.create(&b, "ck-created");
    assert_eq!(created.status(), "created");
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(read_counter(&b), at, "nothing runs before start");
    created.start();
    assert_eq!(created.status(), "running");
    assert_continues(&b, at);
    rt.run_ok(&["delete", "--force", &created.id]);

    // `run` from an archive.
    let at = read_counter(&b);
    b.config_mut()["annotations"] = json!({"org.cryo.restore-from": path(&archive)});
    let r = run_detached(&rt, &b, "ck-run-archive");
    assert_eq!(r.status(), "running");
    let mut v = at;
    wait_for(WAIT, "the archive's counter", || {
        v = read_counter(&b);
        v != at
    });
    assert!(v > 1, "restored, not started fresh: {v}");
    rt.run_ok(&["delete", "--force", &r.id]);

    // A checkpoint others could have written is refused, and nothing is left.
    std::fs::set_permissions(img.path(), std::fs::Permissions::from_mode(0o777)).expect("chmod");
    b.config_mut()["annotations"] = json!({"org.cryo.restore-from": path(img.path())});
    let (g, out) = rt.try_create(&b, "ck-untrusted", &[]);
    assert!(
        !out.success() && out.stderr.contains("writable by group or others"),
        "{out}"
    );
    rt.run_fail(&["state", &g.id]);
}

/// Makes `member` join the network, IPC and UTS namespaces of the pod
/// holder `holder_pid` by path (and drop its own hostname, which needs a
/// UTS namespace of its own), as a pod's containers do.
fn join_pod(member: &mut Bundle, holder_pid: i64) {
    for ns in ["network", "ipc", "uts"] {
        let name = if ns == "network" { "net" } else { ns };
        member.remove_namespace(ns);
        member.add_namespace(ns, Some(&format!("/proc/{holder_pid}/ns/{name}")));
    }
    member
        .config_mut()
        .as_object_mut()
        .expect("config")
        .remove("hostname");
}

/// A pod: the holder owns the network, IPC and UTS namespaces, the member
/// joins them by path. One group checkpoint, one group restore: both go on
/// counting, and the member is back in the holder's (new) namespaces.
#[test]
fn pod_group_checkpoint_and_restore() {
    let rt = Runtime::cryo();
    let holder = counter_bundle();
    let h = run_detached(&rt, &holder, "ck-pod-holder");
    let hp = h.pid();
    let mut member = counter_bundle();
    join_pod(&mut member, hp);
    let m = run_detached(&rt, &member, "ck-pod-member");
    assert_eq!(
        ns_link(&m.pid().to_string(), "net"),
        ns_link(&hp.to_string(), "net")
    );
    wait_counter(&holder, 10);
    wait_counter(&member, 10);

    let root = image_dir("pod");
    let ids = format!("{},{}", m.id, h.id);
    let out = rt.run_ok(&[
        "checkpoint",
        "--group",
        &ids,
        "--image-root",
        path(root.path()),
    ]);
    assert!(
        out.stdout.contains(&h.id) && out.stdout.contains(&m.id),
        "{out}"
    );
    rt.run_fail(&["state", &h.id]);
    rt.run_fail(&["state", &m.id]);
    let (hat, mat) = (read_counter(&holder), read_counter(&member));

    let out = rt.run_ok(&["restore", "--group", "--image-root", path(root.path())]);
    assert!(out.stdout.contains("restored"), "{out}");
    assert_eq!(h.status(), "running");
    assert_eq!(m.status(), "running");
    let (hp, mp) = (h.pid(), m.pid());
    for ns in ["net", "ipc", "uts"] {
        assert_eq!(
            ns_link(&mp.to_string(), ns),
            ns_link(&hp.to_string(), ns),
            "member shares the holder's {ns}"
        );
    }
    assert_ne!(
        ns_link(&mp.to_string(), "pid"),
        ns_link(&hp.to_string(), "pid")
    );
    assert_continues(&holder, hat);
    assert_continues(&member, mat);

    // A group whose containers share nothing is refused, and they keep running.
    let a = run_detached(&rt, &counter_bundle(), "ck-pod-a");
    let b2 = counter_bundle();
    let bb = run_detached(&rt, &b2, "ck-pod-b");
    let root2 = image_dir("pod2");
    let out = rt.run_fail(&[
        "checkpoint",
        "--group",
        &format!("{},{}", a.id, bb.id),
        "--image-root",
        path(root2.path()),
    ]);
    assert!(out.stderr.contains("holds a network namespace"), "{out}");
    assert_eq!(a.status(), "running");
    assert_continues(&b2, read_counter(&b2));
}

/// A pod whose two members talk over TCP (the member's client to the
/// holder's server, on the shared namespace's loopback): with
/// `--tcp-established` the one connection carries on after the group
/// restore, with no gap and no restart.
#[test]
fn tcp_connection_between_pod_members_survives_group_restore() {
    let rt = Runtime::cryo();
    let mut holder = Bundle::new(&["sh", "-c", "sleep 100000 | nc -l -p 7778 > /out/recv"]);
    holder.out_dir();
    holder.save();
    let h = run_detached(&rt, &holder, "ck-podtcp-holder");
    let hp = h.pid();
    let mut member = Bundle::new(&[
        "sh",
        "-c",
        "sleep 0.3; i=0; while :; do i=$((i+1)); echo $i; sleep 0.05; done | nc 127.0.0.1 7778",
    ]);
    join_pod(&mut member, hp);
    let m = run_detached(&rt, &member, "ck-podtcp-member");
    wait_for(WAIT, "data over the connection", || {
        last_received(&holder) >= 10
    });

    let root = image_dir("podtcp");
    let ids = format!("{},{}", h.id, m.id);
    rt.run_ok(&[
        "checkpoint",
        "--tcp-established",
        "--group",
        &ids,
        "--image-root",
        path(root.path()),
    ]);
    let at = last_received(&holder);
    rt.run_ok(&[
        "restore",
        "--tcp-established",
        "--group",
        "--image-root",
        path(root.path()),
    ]);
    assert_eq!(h.status(), "running");
    assert_eq!(m.status(), "running");
    wait_for(WAIT, "data after the group restore", || {
        last_received(&holder) > at + 5
    });
    let got: Vec<u64> = holder
        .read_out("recv")
        .lines()
        .filter_map(|l| l.trim().parse().ok())
        .collect();
    let expect: Vec<u64> = (1..=got.len() as u64).collect();
    assert_eq!(got, expect, "the stream has no gap or restart");
    // cryo's lock is gone once the group is back.
    let rules = std::process::Command::new("nsenter")
        .arg(format!("--net=/proc/{}/ns/net", h.pid()))
        .args(["iptables", "-S"])
        .output()
        .expect("iptables -S");
    let rules = String::from_utf8_lossy(&rules.stdout);
    assert!(!rules.contains("CRYO"), "lock left behind:\n{rules}");
}
