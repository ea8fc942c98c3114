//! Live migration between two "hosts" on one machine: two cryo roots, each
//! side's cryo run in its own network namespace (`nsenter --net`), the two
//! namespaces joined by a veth pair with 169.254.77.1/30 (source) and
//! 169.254.77.2/30 (destination). Those addresses exist only inside the
//! two namespaces. The containers have network namespaces of their own;
//! CRIU's page server runs in the source cryo's namespace.
//!
//! Each test proves the state went on (a counter keeps counting from where
//! it was, on the destination) and that the source copy is gone, or, for a
//! failure, that the container still runs on the source, counting.
//!
//! These need root and CRIU 4.x with userfaultfd; without them they fail
//! rather than skip.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use cryo_e2e::*;
use serde_json::{json, Value};

const WAIT: Duration = Duration::from_secs(20);
const SOURCE_ADDR: &str = "169.254.77.1";
const DEST_ADDR: &str = "169.254.77.2";
const DEST: &str = "169.254.77.2:7740";

static SEQ: AtomicU32 = AtomicU32::new(0);

/// Two network namespaces joined by a veth pair, and the cgroup prefix the
/// destination puts its containers under (both hosts share one cgroup
/// tree). All removed on drop.
struct Hosts {
    a: String,
    b: String,
    cgroup_prefix: String,
}

impl Hosts {
    fn new() -> Hosts {
        let pid = std::process::id();
        let n = SEQ.fetch_add(1, Ordering::SeqCst);
        let h = Hosts {
            a: format!("cryo-mig-a-{pid}-{n}"),
            b: format!("cryo-mig-b-{pid}-{n}"),
            cgroup_prefix: format!("/cryo-mig-b-{pid}-{n}"),
        };
        let (va, vb) = (format!("cm{pid}a{n}"), format!("cm{pid}b{n}"));
        host_ok("ip", &["netns", "add", &h.a]);
        host_ok("ip", &["netns", "add", &h.b]);
        host_ok(
            "ip",
            &["link", "add", &va, "type", "veth", "peer", "name", &vb],
        );
        host_ok("ip", &["link", "set", &va, "netns", &h.a]);
        host_ok("ip", &["link", "set", &vb, "netns", &h.b]);
        for (ns, dev, addr) in [(&h.a, &va, SOURCE_ADDR), (&h.b, &vb, DEST_ADDR)] {
            host_ok(
                "ip",
                &["-n", ns, "addr", "add", &format!("{addr}/30"), "dev", dev],
            );
            host_ok("ip", &["-n", ns, "link", "set", dev, "up"]);
            host_ok("ip", &["-n", ns, "link", "set", "lo", "up"]);
        }
        h
    }

    /// `rt`'s cryo with `args`, run in namespace `ns`.
    fn cmd(&self, ns: &str, rt: &Runtime, args: &[&str]) -> Command {
        let mut c = Command::new("nsenter");
        c.arg(format!("--net=/run/netns/{ns}"))
            .arg(&rt.bin)
            .arg("--root")
            .arg(rt.root_path())
            .args(args)
            .stdin(Stdio::null());
        c
    }

    /// `cryo migrate ... ID` on the source, to the destination.
    fn migrate(&self, rt: &Runtime, id: &str, extra: &[&str]) -> Out {
        let mut args = vec!["migrate", "--to", DEST, "--format", "json"];
        args.extend_from_slice(extra);
        args.push(id);
        output_timeout(self.cmd(&self.a, rt, &args), Duration::from_secs(60))
    }
}

impl Drop for Hosts {
    fn drop(&mut self) {
        for ns in [&self.a, &self.b] {
            let _ = Command::new("ip")
                .args(["netns", "del", ns])
                .stderr(Stdio::null())
                .status();
        }
        if let Ok(hierarchies) = std::fs::read_dir("/sys/fs/cgroup") {
            for h in hierarchies.flatten() {
                remove_cgroup_tree(&h.path().join(self.cgroup_prefix.trim_start_matches('/')));
            }
        }
    }
}

/// rmdir of a cgroup directory tree, leaves first.
fn remove_cgroup_tree(dir: &Path) {
    if let Ok(entries) = std::fs::read_dir(dir) {
        for e in entries.flatten() {
            if e.file_type().is_ok_and(|t| t.is_dir()) {
                remove_cgroup_tree(&e.path());
            }
        }
    }
    let _ = std::fs::remove_dir(dir);
}

/// `cryo migrate-receive --once` on the destination, killed on drop.
struct Receiver {
    child: Child,
    stdout: Option<std::thread::JoinHandle<String>>,
    stderr: Option<std::thread::JoinHandle<String>>,
}

impl Receiver {
    /// On the destination, its containers' cgroups under the prefix.
    fn start(hosts: &Hosts, rt: &Runtime, extra: &[&str]) -> Receiver {
        let mut args = vec!["--cgroup-prefix", hosts.cgroup_prefix.as_str()];
        args.extend_from_slice(extra);
        Receiver::start_in(hosts, &hosts.b, DEST, rt, &args)
    }

    fn start_in(hosts: &Hosts, ns: &str, listen: &str, rt: &Runtime, extra: &[&str]) -> Receiver {
        let mut args = vec![
            "migrate-receive",
            "--listen",
            listen,
            "--once",
            "--format",
            "json",
        ];
        args.extend_from_slice(extra);
        let mut cmd = hosts.cmd(ns, rt, &args);
        cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
        let mut child = cmd.spawn().expect("spawn migrate-receive");
        let mut out = child.stdout.take().expect("stdout");
        let stdout = std::thread::spawn(move || {
            let mut s = String::new();
            let _ = out.read_to_string(&mut s);
            s
        });
        let (tx, rx) = mpsc::channel();
        let err = child.stderr.take().expect("stderr");
        let stderr = std::thread::spawn(move || {
            let mut all = String::new();
            for line in BufReader::new(err).lines().map_while(Result::ok) {
                if line.contains("listening on") {
                    let _ = tx.send(());
                }
                all.push_str(&line);
                all.push('\n');
            }
            all
        });
        let mut r = Receiver {
            child,
            stdout: Some(stdout),
            stderr: Some(stderr),
        };
        if rx.recv_timeout(WAIT).is_err() {
            let (status, out, err) = r.finish();
            panic!("migrate-receive did not listen ({status})\n{out}\n{err}");
        }
        r
    }

    /// Waits for it to exit: status, stdout, stderr.
    fn finish(&mut self) -> (ExitStatus, String, String) {
        let status = wait_child(&mut self.child, WAIT, "migrate-receive");
        let out = self
            .stdout
            .take()
            .and_then(|h| h.join().ok())
            .unwrap_or_default();
        let err = self
            .stderr
            .take()
            .and_then(|h| h.join().ok())
            .unwrap_or_default();
        (status, out, err)
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn json_of(out: &Out) -> Value {
    serde_json::from_str(out.stdout.trim())
        .unwrap_or_else(|e| panic!("migrate printed no JSON report: {e}\n{out}"))
}

fn number(v: &Value, key: &str) -> f64 {
    v[key]
        .as_f64()
        .unwrap_or_else(|| panic!("report has no number {key}: {v}"))
}

/// The checks every successful migration shares; returns the report.
#[allow(clippy::too_many_arguments)]
fn assert_migrated(
    a: &Runtime,
    b: &Runtime,
    recv: &mut Receiver,
    out: &Out,
    bundle: &Bundle,
    id: &str,
    before: u64,
    mode: &str,
) -> Value {
    assert!(out.success(), "migrate failed\n{out}");
    let report = json_of(out);
    let (status, rout, rerr) = recv.finish();
    assert!(status.success(), "migrate-receive failed\n{rout}\n{rerr}");
    assert_eq!(report["mode"], json!(mode), "{report}");
    assert_eq!(report["id"], json!(id));
    let frozen = number(&report, "frozen_ms");
    let total = number(&report, "total_ms");
    assert!(frozen > 0.0 && total >= frozen, "{report}");
    assert!(number(&report, "bytes") > 0.0, "{report}");
    // The source copy is gone, the destination runs it and counts on.
    let gone = a.run_fail(&["state", id]);
    assert!(gone.stderr.contains("container does not exist"), "{gone}");
    assert_eq!(b.status(id), "running");
    let pid = b.state(id)["pid"].as_i64().expect("pid");
    assert_eq!(report["destination_pid"], json!(pid), "{report}");
    let received: Value = serde_json::from_str(rout.trim())
        .unwrap_or_else(|e| panic!("migrate-receive printed no JSON: {e}\n{rout}\n{rerr}"));
    assert_eq!(received["pid"], json!(pid), "{received}");
    assert_eq!(received["mode"], json!(mode), "{received}");
    assert_continues(bundle, before);
    assert!(
        read_counter(bundle) > before,
        "counter went back after the migration"
    );
    report
}

#[test]
fn post_copy_migration_keeps_counting_on_the_destination() {
    let hosts = Hosts::new();
    let a = Runtime::cryo();
    let b = Runtime::cryo();
    let bundle = counter_bundle();
    let c = run_detached(&a, &bundle, "mig-post");
    let _dest = b.guard(&c.id);
    wait_counter(&bundle, 10);
    // The rootfs goes over as a tar stream.
    let mut recv = Receiver::start(&hosts, &b, &[]);
    let before = read_counter(&bundle);
    let out = hosts.migrate(&a, &c.id, &["--mode", "post-copy"]);
    let report = assert_migrated(&a, &b, &mut recv, &out, &bundle, &c.id, before, "post-copy");
    let bytes = &report["bytes_detail"];
    assert!(bytes["rootfs"].as_u64() > Some(0), "{report}");
    assert!(bytes["lazy_pages"].as_u64() > Some(0), "{report}");
    // The destination runs from its copy of the rootfs.
    let rootfs = b.state(&c.id)["rootfs"].as_str().unwrap_or("").to_string();
    let copy = b
        .root_path()
        .join("@migrate/bundles")
        .join(&c.id)
        .join("rootfs");
    assert_eq!(Path::new(&rootfs), copy, "restored from the copy");
    assert!(copy.join("bin/busybox").is_file());
    // It is in its own cgroup, under the destination's prefix.
    let pid = b.state(&c.id)["pid"].as_i64().expect("pid");
    let cg = std::fs::read_to_string(format!("/proc/{pid}/cgroup")).expect("read cgroup");
    assert!(cg.contains(&hosts.cgroup_prefix), "{cg}");
    // Nothing of the migration is left on the source.
    let work = a.root_path().join("@migrate");
    let left: Vec<_> = std::fs::read_dir(&work)
        .map(|d| d.flatten().map(|e| e.file_name()).collect())
        .unwrap_or_default();
    assert!(left.is_empty(), "left in {}: {left:?}", work.display());
    // Deleting the migrated container removes the bundle it came with.
    b.run_ok(&["delete", "--force", &c.id]);
    assert!(
        !copy.parent().is_some_and(Path::exists),
        "the received bundle outlived its container"
    );
}

#[test]
fn stop_and_copy_migration_keeps_counting_on_the_destination() {
    let hosts = Hosts::new();
    let a = Runtime::cryo();
    let b = Runtime::cryo();
    let bundle = counter_bundle();
    let c = run_detached(&a, &bundle, "mig-stop");
    let _dest = b.guard(&c.id);
    wait_counter(&bundle, 10);
    // Both roots are on one machine: the destination may use the path.
    let mut recv = Receiver::start(&hosts, &b, &["--rootfs-from-source-path"]);
    let before = read_counter(&bundle);
    let out = hosts.migrate(&a, &c.id, &["--mode", "stop-and-copy"]);
    let report = assert_migrated(
        &a,
        &b,
        &mut recv,
        &out,
        &bundle,
        &c.id,
        before,
        "stop-and-copy",
    );
    let bytes = &report["bytes_detail"];
    assert_eq!(bytes["rootfs"], json!(0), "{report}");
    assert_eq!(bytes["lazy_pages"], json!(0), "{report}");
    assert!(bytes["images"].as_u64() > Some(0), "{report}");
    let rootfs = b.state(&c.id)["rootfs"].as_str().unwrap_or("").to_string();
    assert_eq!(
        Path::new(&rootfs),
        std::fs::canonicalize(bundle.rootfs()).expect("canonical rootfs")
    );
}

/// There and back: post-copy to B, then stop-and-copy back to A (whose
/// receiver uses no cgroup prefix). The config goes back as it came (B's
/// prefix is B's business), and B's received bundle goes with the
/// container.
#[test]
fn migrating_there_and_back() {
    let hosts = Hosts::new();
    let a = Runtime::cryo();
    let b = Runtime::cryo();
    let bundle = counter_bundle();
    let c = run_detached(&a, &bundle, "mig-back");
    let _dest = b.guard(&c.id);
    wait_counter(&bundle, 5);
    let mut recv = Receiver::start(&hosts, &b, &[]);
    let before = read_counter(&bundle);
    let out = hosts.migrate(&a, &c.id, &[]);
    assert_migrated(&a, &b, &mut recv, &out, &bundle, &c.id, before, "post-copy");
    let received = b.root_path().join("@migrate/bundles").join(&c.id);
    assert!(received.join("config.json").is_file());

    let mut back = Receiver::start_in(&hosts, &hosts.a, &format!("{SOURCE_ADDR}:7740"), &a, &[]);
    let before = read_counter(&bundle);
    let mut cmd = hosts.cmd(
        &hosts.b,
        &b,
        &[
            "migrate",
            "--to",
            SOURCE_ADDR,
            "--mode",
            "stop-and-copy",
            "--format",
            "json",
            &c.id,
        ],
    );
    cmd.stdin(Stdio::null());
    let out = output_timeout(cmd, Duration::from_secs(60));
    assert!(out.success(), "migrate back failed\n{out}");
    let (status, rout, rerr) = back.finish();
    assert!(status.success(), "{rout}\n{rerr}");
    assert_eq!(a.status(&c.id), "running");
    b.run_fail(&["state", &c.id]);
    assert!(
        !received.exists(),
        "B kept the bundle of a container it let go"
    );
    let st = a.state(&c.id);
    let pid = st["pid"].as_i64().expect("pid");
    let cg = std::fs::read_to_string(format!("/proc/{pid}/cgroup")).expect("read cgroup");
    assert!(
        !cg.contains(&hosts.cgroup_prefix),
        "B's prefix came back: {cg}"
    );
    assert!(cg.contains(&format!("/cryo/{}", c.id)), "{cg}");
    assert!(
        st["annotations"]
            .get("org.cryo.migrate.cgroups-path")
            .is_none(),
        "{st}"
    );
    assert_continues(&bundle, before);
}

/// Whether a `criu lazy-pages` working for `root` runs.
fn lazy_daemon_running(root: &Path) -> bool {
    let root = root.to_string_lossy().into_owned();
    std::fs::read_dir("/proc").is_ok_and(|d| {
        d.flatten().any(|e| {
            std::fs::read(e.path().join("cmdline")).is_ok_and(|c| {
                let c = String::from_utf8_lossy(&c).replace('\0', " ");
                c.contains("lazy-pages") && c.contains(&root)
            })
        })
    })
}

/// A restore that fails on the destination (its prestart hook refuses)
/// after the source froze and dumped the container: the source thaws it,
/// in both modes, and the destination keeps nothing.
#[test]
fn failed_restore_on_the_destination_leaves_the_container_running_here() {
    let hosts = Hosts::new();
    let a = Runtime::cryo();
    let b = Runtime::cryo();
    for mode in ["post-copy", "stop-and-copy"] {
        let mut bundle = counter_bundle();
        let gate = bundle.path().join("gate");
        std::fs::write(&gate, "").expect("write gate");
        bundle.config_mut()["hooks"] = json!({"prestart": [{
            "path": "/bin/sh",
            "args": ["sh", "-c", format!("cat >/dev/null; test -e {}", path_str(&gate))],
        }]});
        let c = run_detached(&a, &bundle, &format!("mig-fail-{mode}"));
        let _dest = b.guard(&c.id);
        wait_counter(&bundle, 5);
        // The hook passed on the source; it fails from now on.
        std::fs::remove_file(&gate).expect("remove gate");
        let mut recv = Receiver::start(&hosts, &b, &["--rootfs-from-source-path"]);
        let started = Instant::now();
        let out = hosts.migrate(&a, &c.id, &["--mode", mode]);
        assert!(!out.success(), "{mode}: migrate should fail\n{out}");
        assert!(
            out.stderr.contains("restore on the destination failed")
                && out.stderr.contains("prestart"),
            "{mode}: {out}"
        );
        assert!(
            out.stderr.contains("the container runs here again"),
            "{mode}: {out}"
        );
        assert!(
            started.elapsed() < WAIT,
            "{mode}: the rollback took too long"
        );
        let (status, rout, rerr) = recv.finish();
        assert!(!status.success(), "{mode}: receiver\n{rout}\n{rerr}");
        // Running on the source, counting on from where it was.
        assert_eq!(c.status(), "running", "{mode}");
        assert_continues(&bundle, read_counter(&bundle));
        // Nothing on the destination: no container, bundle or daemon.
        b.run_fail(&["state", &c.id]);
        assert!(
            !b.root_path().join("@migrate/bundles").join(&c.id).exists(),
            "{mode}: bundle left"
        );
        assert!(
            !lazy_daemon_running(b.root_path()),
            "{mode}: lazy-pages daemon left"
        );
        let left: Vec<_> = std::fs::read_dir(b.root_path().join("@migrate"))
            .map(|d| d.flatten().map(|e| e.file_name()).collect())
            .unwrap_or_default();
        assert_eq!(left, vec![std::ffi::OsString::from("bundles")], "{mode}");
    }
}

/// Runs `f` on a thread inside network namespace `ns`.
fn in_netns<T: Send + 'static>(
    ns: &str,
    f: impl FnOnce() -> T + Send + 'static,
) -> std::thread::JoinHandle<T> {
    let path = PathBuf::from(format!("/run/netns/{ns}"));
    std::thread::spawn(move || {
        let f_ns = std::fs::File::open(&path).expect("open netns");
        // SAFETY: setns takes an fd we own and a flag; it changes the
        // network namespace of this thread only.
        let r = unsafe { libc::setns(f_ns.as_raw_fd(), libc::CLONE_NEWNET) };
        assert_eq!(r, 0, "setns: {}", std::io::Error::last_os_error());
        f()
    })
}

fn write_frame(s: &mut TcpStream, kind: u8, body: &[u8]) {
    let mut h = vec![kind];
    h.extend_from_slice(&(body.len() as u32).to_be_bytes());
    h.extend_from_slice(body);
    s.write_all(&h).expect("write frame");
}

/// Reads one frame: kind and body.
fn read_frame(s: &mut TcpStream) -> (u8, Vec<u8>) {
    let mut h = [0u8; 5];
    s.read_exact(&mut h).expect("read frame header");
    let len = u32::from_be_bytes([h[1], h[2], h[3], h[4]]) as usize;
    let mut body = vec![0u8; len];
    s.read_exact(&mut body).expect("read frame body");
    (h[0], body)
}

/// Where a fake destination hangs up.
#[derive(Clone, Copy, Debug)]
enum HangUp {
    /// At the first image file: the container is frozen and dumped.
    AtTheImages,
    /// Right after it said it starts restoring.
    WhileRestoring,
}

/// A destination that speaks the protocol until `at`, then hangs up (a
/// receiver dying mid-way). Returns the id the source sent.
fn fake_receiver(ns: &str, at: HangUp) -> std::thread::JoinHandle<String> {
    let (ready_tx, ready_rx) = mpsc::channel();
    let fake = in_netns(ns, move || {
        let l = TcpListener::bind(DEST).expect("bind the fake receiver");
        let _ = ready_tx.send(());
        let (mut s, _) = l.accept().expect("accept");
        s.set_read_timeout(Some(WAIT)).expect("timeout");
        let mut magic = [0u8; 8];
        s.read_exact(&mut magic).expect("magic");
        assert_eq!(&magic[..7], b"CRYOMIG");
        let (_, hello) = read_frame(&mut s);
        let hello: Value = serde_json::from_slice(&hello).expect("hello is JSON");
        assert_eq!(hello["type"], "hello");
        let welcome =
            json!({"type": "welcome", "protocol": 1, "lazy_pages": true, "rootfs": "shared"});
        write_frame(&mut s, 1, welcome.to_string().as_bytes());
        let (_, config) = read_frame(&mut s);
        let config: Value = serde_json::from_slice(&config).expect("config is JSON");
        assert_eq!(config["type"], "config");
        write_frame(&mut s, 1, br#"{"type":"bundle_ready"}"#);
        loop {
            let (kind, body) = read_frame(&mut s);
            if kind != 1 {
                continue;
            }
            let m: Value = serde_json::from_slice(&body).expect("message is JSON");
            match (at, m["type"].as_str()) {
                (HangUp::AtTheImages, Some("file")) => break,
                (HangUp::WhileRestoring, Some("restore")) => {
                    write_frame(&mut s, 1, br#"{"type":"restoring"}"#);
                    std::thread::sleep(Duration::from_millis(200));
                    break;
                }
                _ => {}
            }
        }
        hello["id"].as_str().unwrap_or("").to_string()
    });
    ready_rx
        .recv_timeout(WAIT)
        .expect("fake receiver listening");
    fake
}

/// Receivers that hang up after the source froze the container, before
/// and during their restore. The source must end its lazy dump (whose
/// page server waits for a client that never comes: no daemon ever
/// fetched memory, so no copy can run there) and thaw the container.
#[test]
fn receiver_hanging_up_after_the_freeze_leaves_the_container_running() {
    let hosts = Hosts::new();
    let a = Runtime::cryo();
    let bundle = counter_bundle();
    let c = run_detached(&a, &bundle, "mig-hangup");
    wait_counter(&bundle, 5);
    for at in [HangUp::AtTheImages, HangUp::WhileRestoring] {
        let fake = fake_receiver(&hosts.b, at);
        let started = Instant::now();
        let out = hosts.migrate(&a, &c.id, &["--mode", "post-copy"]);
        let id = fake.join().expect("fake receiver");
        assert_eq!(id, c.id);
        assert!(!out.success(), "{at:?}: migrate should fail\n{out}");
        assert!(
            out.stderr.contains("the container runs here again"),
            "{at:?}: {out}"
        );
        assert!(
            started.elapsed() < WAIT,
            "{at:?}: the rollback took too long\n{out}"
        );
        assert_eq!(c.status(), "running", "{at:?}");
        assert_continues(&bundle, read_counter(&bundle));
    }
    // And it can still be migrated for real.
    let b = Runtime::cryo();
    let _dest = b.guard(&c.id);
    let mut recv = Receiver::start(&hosts, &b, &["--rootfs-from-source-path"]);
    let before = read_counter(&bundle);
    let out = hosts.migrate(&a, &c.id, &[]);
    assert_migrated(&a, &b, &mut recv, &out, &bundle, &c.id, before, "post-copy");
}

/// The destination refuses an id it already has, before anything happens
/// to the container.
#[test]
fn destination_refuses_an_id_it_already_has() {
    let hosts = Hosts::new();
    let a = Runtime::cryo();
    let b = Runtime::cryo();
    let bundle = counter_bundle();
    let c = run_detached(&a, &bundle, "mig-dup");
    wait_counter(&bundle, 5);
    // The same id on the destination, in a cgroup of its own.
    let mut other = Bundle::new(LONG_RUNNING);
    other.config_mut()["linux"]["cgroupsPath"] = json!(format!("{}/other", hosts.cgroup_prefix));
    other.save();
    let theirs = b.guard(&c.id);
    let (o, _, _) = b.output_detached(&["run", "-d", "--bundle", other.path_str(), &c.id]);
    assert!(o.success(), "{o}");
    let mut recv = Receiver::start(&hosts, &b, &[]);
    let out = hosts.migrate(&a, &c.id, &[]);
    assert!(!out.success(), "migrate should fail\n{out}");
    assert!(
        out.stderr.contains("already exists on the destination"),
        "{out}"
    );
    let (status, _, _) = recv.finish();
    assert!(!status.success());
    assert_eq!(c.status(), "running");
    assert_continues(&bundle, read_counter(&bundle));
    assert_eq!(theirs.status(), "running");
}
