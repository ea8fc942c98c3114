//! Concurrency: many cryo processes working on one state root at once, and
//! verbs racing on one container. Nothing may deadlock (every command has a
//! timeout), every verb either succeeds or fails with a clear error (exit
//! status 1 and a non-empty message), and the state stays whole: `list`
//! parses at every moment, and at the end nothing is left in the root or in
//! the cgroup hierarchies.
//!
//! These need root and CRIU 4.x; without them they fail rather than skip.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use cryo_e2e::*;
use serde_json::Value;

/// A counter that writes every 0.2 s: fifty of them leave the two cores
/// to the runtime and CRIU.
const SLOW_COUNTER: &str = "i=0; while :; do i=$((i+1)); echo $i > /out/counter.tmp; mv /out/counter.tmp /out/counter; sleep 0.2; done";

fn slow_counter_bundle() -> Bundle {
    let mut b = Bundle::new(&["sh", "-c", SLOW_COUNTER]);
    b.out_dir();
    b.save();
    b
}

/// The runtime as threads share it: binary, root and a directory for the
/// stdio files of detached verbs.
#[derive(Clone)]
struct Cli {
    bin: PathBuf,
    root: PathBuf,
    io: PathBuf,
    seq: Arc<AtomicU64>,
}

impl Cli {
    fn of(rt: &Runtime, io: &Path) -> Cli {
        Cli {
            bin: rt.bin.clone(),
            root: rt.root_path().to_path_buf(),
            io: io.to_path_buf(),
            seq: Arc::new(AtomicU64::new(0)),
        }
    }

    fn cmd(&self, args: &[&str]) -> Command {
        let mut c = Command::new(&self.bin);
        c.arg("--root").arg(&self.root).args(args);
        c.stdin(Stdio::null());
        c
    }

    /// Runs a verb that leaves no process behind holding its stdio.
    fn run(&self, args: &[&str]) -> Out {
        output_timeout(self.cmd(args), CMD_TIMEOUT)
    }

    /// Runs a verb whose container keeps the runtime's stdio (create,
    /// restore -d): stdout and stderr go to files.
    fn run_detached(&self, args: &[&str]) -> Out {
        let n = self.seq.fetch_add(1, Ordering::Relaxed);
        let so = self.io.join(format!("{n}.stdout"));
        let se = self.io.join(format!("{n}.stderr"));
        let mut cmd = self.cmd(args);
        let line = format!("{} {}", self.bin.display(), args.join(" "));
        cmd.stdout(std::fs::File::create(&so).expect("create stdout file"));
        cmd.stderr(std::fs::File::create(&se).expect("create stderr file"));
        let mut child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("spawn `{line}`: {e}"));
        let status = wait_child(&mut child, CMD_TIMEOUT, &format!("`{line}`"));
        Out {
            cmdline: line,
            status,
            stdout: std::fs::read_to_string(&so).unwrap_or_default(),
            stderr: std::fs::read_to_string(&se).unwrap_or_default(),
        }
    }

    fn ok(&self, args: &[&str]) -> Out {
        let out = self.run(args);
        assert!(out.success(), "expected success\n{out}");
        out
    }

    fn ok_detached(&self, args: &[&str]) -> Out {
        let out = self.run_detached(args);
        assert!(out.success(), "expected success\n{out}");
        out
    }

    /// `list --format json`, which must parse at any moment.
    fn list(&self) -> Vec<Value> {
        let out = self.ok(&["list", "--format", "json"]);
        match serde_json::from_str::<Value>(&out.stdout) {
            Ok(Value::Null) => Vec::new(),
            Ok(Value::Array(v)) => v,
            other => panic!("list --format json is not a JSON array or null: {other:?}\n{out}"),
        }
    }

    /// The status of `id`, or None if it does not exist; anything else
    /// (a failure of another kind, unparsable output) panics.
    fn status(&self, id: &str) -> Option<String> {
        let out = self.run(&["state", id]);
        if !out.success() {
            let msg = clear_error(&out);
            assert!(msg.contains("does not exist"), "state failed oddly\n{out}");
            return None;
        }
        let v: Value = serde_json::from_str(&out.stdout)
            .unwrap_or_else(|e| panic!("state is not JSON: {e}\n{out}"));
        Some(
            v["status"]
                .as_str()
                .unwrap_or_else(|| panic!("state has no status\n{out}"))
                .to_string(),
        )
    }
}

/// The message of a failed verb, which must be a clean failure: exit
/// status 1 (no signal, no panic) and a non-empty runc-style error line.
fn clear_error(out: &Out) -> String {
    assert_eq!(
        out.code(),
        Some(1),
        "expected a clean failure (exit 1)\n{out}"
    );
    assert!(
        !out.stderr.contains("panicked"),
        "the runtime panicked\n{out}"
    );
    let msg = out
        .stderr
        .lines()
        .find_map(|l| l.split_once("level=error msg=").map(|(_, m)| m))
        .map(|m| m.trim().trim_matches('"').to_string())
        .unwrap_or_default();
    assert!(
        !msg.trim().is_empty(),
        "failure without an error message\n{out}"
    );
    msg
}

/// Whether a failed checkpoint hit the kernel's limit on file descriptors
/// in flight over unix sockets. The count is per user (root, for every
/// runtime and CRIU on the host) and is checked against the container
/// task's RLIMIT_NOFILE, as CRIU's parasite in the container (no
/// CAP_SYS_RESOURCE) sends the task's fds: while more than 1024 are in
/// flight anywhere on the host (other dumps and restores at once), a dump
/// fails with "Can't retrieve FD from socket" / "send_fds failed (-109)"
/// (ETOOMANYREFS), and leaves the container as it was.
fn hit_inflight_fd_limit(out: &Out) -> bool {
    !out.success()
        && (out.stderr.contains("Can't retrieve FD") || out.stderr.contains("send_fds failed"))
}

/// `checkpoint ARGS...`, once more (up to three tries) when it failed on
/// the in-flight fd limit; that failure must be a clear one, and the
/// container still there.
fn checkpoint(cli: &Cli, args: &[&str], id: &str) -> Out {
    let mut full = vec!["checkpoint"];
    full.extend_from_slice(args);
    full.push(id);
    let mut out = cli.run(&full);
    for _ in 0..2 {
        if !hit_inflight_fd_limit(&out) {
            break;
        }
        clear_error(&out);
        let st = cli.status(id);
        assert!(
            matches!(st.as_deref(), Some("running") | Some("paused")),
            "a dump that failed left {id} {st:?}\n{out}"
        );
        eprintln!("{id}: checkpoint hit the in-flight fd limit; again");
        std::thread::sleep(Duration::from_millis(200));
        out = cli.run(&full);
    }
    out
}

/// Small pseudo-random delays (xorshift, seeded from the clock).
struct Jitter(u64);

impl Jitter {
    fn new() -> Jitter {
        let t = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(1);
        Jitter(t | 1)
    }
    fn ms(&mut self, max: u64) -> Duration {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        Duration::from_millis(self.0 % (max + 1))
    }
}

/// Runs `a` and `b` at the same moment (each after its own delay) and
/// returns both outcomes.
fn race<A, B, RA, RB>(da: Duration, a: A, db: Duration, b: B) -> (RA, RB)
where
    A: FnOnce() -> RA + Send,
    B: FnOnce() -> RB + Send,
    RA: Send,
    RB: Send,
{
    let barrier = Barrier::new(2);
    std::thread::scope(|s| {
        let ha = s.spawn(|| {
            barrier.wait();
            std::thread::sleep(da);
            a()
        });
        let hb = s.spawn(|| {
            barrier.wait();
            std::thread::sleep(db);
            b()
        });
        let ra = ha.join();
        let rb = hb.join();
        match (ra, rb) {
            (Ok(ra), Ok(rb)) => (ra, rb),
            (Err(e), _) | (_, Err(e)) => std::panic::resume_unwind(e),
        }
    })
}

/// Nothing of `ids` is left: not in `list`, not in the root, no cgroup.
fn assert_all_gone(rt: &Runtime, cli: &Cli, ids: &[String]) {
    let listed = cli.list();
    assert!(listed.is_empty(), "containers left: {listed:?}");
    assert!(
        rt.root_entries().is_empty(),
        "left in the state root: {:?}",
        rt.root_entries()
    );
    for id in ids {
        let dirs = leaks::cgroup_dirs(&format!("/cryo/{id}"));
        assert!(dirs.is_empty(), "cgroups of {id} left: {dirs:?}");
    }
}

/// The freezer state of a container's cgroup and what each of its tasks
/// is doing (state letter and wait channel), for a failure message.
fn container_tasks(cgroup: &str) -> String {
    let dir = cgroup_v1_dir("freezer", cgroup);
    let state = std::fs::read_to_string(dir.join("freezer.state")).unwrap_or_default();
    let mut out = format!("freezer.state {}", state.trim());
    let tasks = std::fs::read_to_string(dir.join("tasks")).unwrap_or_default();
    for t in tasks.split_whitespace() {
        let state = proc_state(t).unwrap_or_else(|| "gone".into());
        let wchan = std::fs::read_to_string(format!("/proc/{t}/wchan")).unwrap_or_default();
        out.push_str(&format!("\n  task {t}: {state}, wchan {}", wchan.trim()));
    }
    out
}

fn panic_text(e: &(dyn std::any::Any + Send)) -> String {
    e.downcast_ref::<String>()
        .cloned()
        .or_else(|| e.downcast_ref::<&str>().map(|s| s.to_string()))
        .unwrap_or_else(|| "(no message)".into())
}

/// One container through create, start, checkpoint, restore and delete;
/// returns how long it took.
fn full_cycle(cli: &Cli, b: &Bundle, id: &str, img: &Path) -> Duration {
    let t0 = Instant::now();
    cli.ok_detached(&["create", "--bundle", b.path_str(), id]);
    cli.ok(&["start", id]);
    wait_counter(b, 2);
    let out = checkpoint(cli, &["--image-path", path_str(img)], id);
    assert!(out.success(), "checkpoint failed\n{out}");
    let at = read_counter(b);
    assert_eq!(cli.status(id), None, "{id} still exists after checkpoint");
    cli.ok_detached(&[
        "restore",
        "-d",
        "--bundle",
        b.path_str(),
        "--image-path",
        path_str(img),
        id,
    ]);
    assert_eq!(
        cli.status(id).as_deref(),
        Some("running"),
        "{id} after restore"
    );
    // The restored counter goes on from where the checkpoint stopped it.
    // Fifty restores on two cores can hold a counter back for a while
    // (hence a minute, not the usual 20 s); if it does not move, say what
    // its tasks were doing.
    if let Err(e) =
        std::panic::catch_unwind(|| assert_continues_within(b, at, Duration::from_secs(60)))
    {
        panic!(
            "{}\n{}",
            panic_text(&*e),
            container_tasks(&format!("/cryo/{id}"))
        );
    }
    cli.ok(&["delete", "--force", id]);
    t0.elapsed()
}

#[test]
fn fifty_containers_through_the_full_cycle_at_once() {
    const N: usize = 50;
    let rt = Runtime::cryo();
    let io = tempfile::tempdir().expect("io dir");
    let cli = Cli::of(&rt, io.path());
    let bundles: Vec<Bundle> = (0..N).map(|_| slow_counter_bundle()).collect();
    let ids: Vec<String> = (0..N).map(|i| unique_id(&format!("cc{i}"))).collect();
    let imgs: Vec<tempfile::TempDir> = (0..N).map(|_| image_dir("cc")).collect();
    // Whatever fails, nothing stays behind.
    let _guards: Vec<Container> = ids.iter().map(|id| rt.guard(id)).collect();

    let done = AtomicBool::new(false);
    let start = Instant::now();
    let barrier = Barrier::new(N);
    let (results, lists) = std::thread::scope(|s| {
        // Readers meanwhile: the state documents are never half written.
        let watcher = s.spawn(|| {
            let mut n = 0;
            while !done.load(Ordering::Relaxed) {
                for c in cli.list() {
                    let st = c["status"].as_str().unwrap_or_default();
                    assert!(
                        ["creating", "created", "running", "paused", "stopped"].contains(&st),
                        "odd status in list: {c}"
                    );
                }
                n += 1;
                std::thread::sleep(Duration::from_millis(100));
            }
            n
        });
        let workers: Vec<_> = (0..N)
            .map(|i| {
                let (cli, b, id, img, barrier) =
                    (&cli, &bundles[i], &ids[i], imgs[i].path(), &barrier);
                s.spawn(move || {
                    barrier.wait();
                    full_cycle(cli, b, id, img)
                })
            })
            .collect();
        let results: Vec<Result<Duration, String>> = workers
            .into_iter()
            .map(|h| h.join().map_err(|e| panic_text(&*e)))
            .collect();
        done.store(true, Ordering::Relaxed);
        let lists = watcher.join().map_err(|e| panic_text(&*e));
        (results, lists)
    });
    let wall = start.elapsed();
    let failures: Vec<String> = results
        .iter()
        .zip(&ids)
        .filter_map(|(r, id)| r.as_ref().err().map(|e| format!("{id}: {e}")))
        .collect();
    assert!(
        failures.is_empty(),
        "{} of {N} cycles failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
    let lists = lists.unwrap_or_else(|e| panic!("list while the cycles ran: {e}"));
    let mut times: Vec<Duration> = results.into_iter().flatten().collect();
    times.sort();
    eprintln!(
        "{N} full cycles in {wall:?} (per container: median {:?}, max {:?}); list ran {lists} times meanwhile",
        times[N / 2],
        times[N - 1]
    );
    assert_all_gone(&rt, &cli, &ids);
}

/// How many times each race runs, with fresh timing each time.
const ROUNDS: usize = 8;

#[test]
fn delete_force_during_start() {
    let rt = Runtime::cryo();
    let io = tempfile::tempdir().expect("io dir");
    let cli = Cli::of(&rt, io.path());
    let b = slow_counter_bundle();
    let mut j = Jitter::new();
    let mut started = 0;
    for round in 0..ROUNDS {
        let id = unique_id(&format!("ds{round}"));
        let _g = rt.guard(&id);
        cli.ok_detached(&["create", "--bundle", b.path_str(), &id]);
        let (start, delete) = race(
            j.ms(15),
            || cli.run(&["start", &id]),
            j.ms(15),
            || cli.run(&["delete", "--force", &id]),
        );
        // A forced delete of an existing container always succeeds.
        assert!(delete.success(), "delete --force failed\n{delete}");
        if start.success() {
            started += 1;
        } else {
            let msg = clear_error(&start);
            assert!(
                msg.contains("does not exist"),
                "start failed oddly\n{start}"
            );
        }
        assert_eq!(cli.status(&id), None, "{id} is still there");
        assert_all_gone(&rt, &cli, std::slice::from_ref(&id));
    }
    eprintln!("delete --force during start: start won {started} of {ROUNDS}");
}

#[test]
fn kill_during_start() {
    let rt = Runtime::cryo();
    let io = tempfile::tempdir().expect("io dir");
    let cli = Cli::of(&rt, io.path());
    let b = slow_counter_bundle();
    let mut j = Jitter::new();
    let mut started = 0;
    for round in 0..ROUNDS {
        let id = unique_id(&format!("ks{round}"));
        let _g = rt.guard(&id);
        cli.ok_detached(&["create", "--bundle", b.path_str(), &id]);
        let (start, kill) = race(
            j.ms(15),
            || cli.run(&["start", &id]),
            j.ms(15),
            || cli.run(&["kill", &id, "KILL"]),
        );
        // Created or running, the container is there to be killed.
        assert!(kill.success(), "kill failed\n{kill}");
        if start.success() {
            started += 1;
        } else {
            let msg = clear_error(&start);
            assert!(
                msg.contains("has stopped"),
                "start of a killed container failed oddly\n{start}"
            );
        }
        wait_for(Duration::from_secs(10), "killed container to stop", || {
            cli.status(&id).as_deref() == Some("stopped")
        });
        cli.ok(&["delete", &id]);
        assert_all_gone(&rt, &cli, std::slice::from_ref(&id));
    }
    eprintln!("kill during start: start won {started} of {ROUNDS}");
}

#[test]
fn two_deletes_of_one_container() {
    let rt = Runtime::cryo();
    let io = tempfile::tempdir().expect("io dir");
    let cli = Cli::of(&rt, io.path());
    let b = slow_counter_bundle();
    let mut j = Jitter::new();
    for round in 0..ROUNDS {
        let id = unique_id(&format!("dd{round}"));
        let _g = rt.guard(&id);
        cli.ok_detached(&["create", "--bundle", b.path_str(), &id]);
        if round % 2 == 1 {
            // A running container: both deletes are forced, and like
            // runc's, a forced delete of a container that is gone succeeds.
            cli.ok(&["start", &id]);
            let (a, c) = race(
                j.ms(5),
                || cli.run(&["delete", "--force", &id]),
                j.ms(5),
                || cli.run(&["delete", "--force", &id]),
            );
            assert!(
                a.success() && c.success(),
                "both forced deletes succeed\n{a}\n{c}"
            );
        } else {
            // A created one: plain deletes, exactly one finds it.
            let (a, c) = race(
                j.ms(5),
                || cli.run(&["delete", &id]),
                j.ms(5),
                || cli.run(&["delete", &id]),
            );
            assert!(
                a.success() != c.success(),
                "exactly one delete must win\n{a}\n{c}"
            );
            let loser = if a.success() { &c } else { &a };
            let msg = clear_error(loser);
            assert!(
                msg.contains("does not exist"),
                "the losing delete failed oddly\n{loser}"
            );
        }
        assert_all_gone(&rt, &cli, std::slice::from_ref(&id));
    }
}

#[test]
fn verbs_racing_a_delete() {
    let rt = Runtime::cryo();
    let io = tempfile::tempdir().expect("io dir");
    let cli = Cli::of(&rt, io.path());
    let b = slow_counter_bundle();
    let mut j = Jitter::new();
    for round in 0..3 * ROUNDS {
        let id = unique_id(&format!("vd{round}"));
        let _g = rt.guard(&id);
        cli.ok_detached(&["create", "--bundle", b.path_str(), &id]);
        let delays: Vec<Duration> = (0..8).map(|_| j.ms(10)).collect();
        let barrier = Barrier::new(delays.len() + 1);
        let (delete, others) = std::thread::scope(|s| {
            let verbs = [
                "pause", "kill", "pause", "start", "pause", "kill", "pause", "resume",
            ];
            let hs: Vec<_> = verbs
                .iter()
                .zip(&delays)
                .map(|(&verb, d)| {
                    let (cli, id, barrier) = (&cli, &id, &barrier);
                    s.spawn(move || {
                        barrier.wait();
                        std::thread::sleep(*d);
                        cli.run(&[verb, id])
                    })
                })
                .collect();
            barrier.wait();
            let delete = cli.run(&["delete", "--force", &id]);
            let others: Vec<Out> = hs
                .into_iter()
                .map(|h| h.join().expect("verb thread"))
                .collect();
            (delete, others)
        });
        assert!(delete.success(), "delete --force failed\n{delete}");
        // Whatever came first, a verb that lost to the delete says why.
        for out in others.iter().filter(|o| !o.success()) {
            let msg = clear_error(out);
            assert!(
                [
                    "does not exist",
                    "not running",
                    "not paused",
                    "already paused",
                    "has stopped"
                ]
                .iter()
                .any(|m| msg.contains(m)),
                "a verb racing delete failed oddly\n{out}"
            );
        }
        assert_all_gone(&rt, &cli, std::slice::from_ref(&id));
    }
}

#[test]
fn kill_during_checkpoint() {
    let rt = Runtime::cryo();
    let io = tempfile::tempdir().expect("io dir");
    let cli = Cli::of(&rt, io.path());
    let mut j = Jitter::new();
    let (mut checkpointed, mut killed) = (0, 0);
    for round in 0..ROUNDS {
        let b = slow_counter_bundle();
        let id = unique_id(&format!("kc{round}"));
        let _g = rt.guard(&id);
        let img = image_dir("kc");
        cli.ok_detached(&["create", "--bundle", b.path_str(), &id]);
        cli.ok(&["start", &id]);
        wait_counter(&b, 2);
        // The kill lands anywhere from before the dump to well into it.
        let (ck, kill) = race(
            j.ms(60),
            || cli.run(&["checkpoint", "--image-path", path_str(img.path()), &id]),
            j.ms(80),
            || cli.run(&["kill", &id, "KILL"]),
        );
        match (ck.success(), kill.success()) {
            (true, false) => {
                // The dump won: the container is gone, so is what kill wanted.
                checkpointed += 1;
                let msg = clear_error(&kill);
                assert!(msg.contains("does not exist"), "kill failed oddly\n{kill}");
                assert_eq!(cli.status(&id), None);
                // The image is whole: the restored counter goes on.
                let at = read_counter(&b);
                cli.ok_detached(&[
                    "restore",
                    "-d",
                    "--bundle",
                    b.path_str(),
                    "--image-path",
                    path_str(img.path()),
                    &id,
                ]);
                assert_continues(&b, at);
                cli.ok(&["delete", "--force", &id]);
            }
            (false, true) => {
                // The kill won: checkpoint found nothing (or a dying tree)
                // to dump, and the container is still there, stopped.
                killed += 1;
                clear_error(&ck);
                wait_for(Duration::from_secs(10), "killed container to stop", || {
                    cli.status(&id).as_deref() == Some("stopped")
                });
                cli.ok(&["delete", &id]);
            }
            _ => panic!("exactly one of checkpoint and kill must succeed\n{ck}\n{kill}"),
        }
        assert_all_gone(&rt, &cli, std::slice::from_ref(&id));
    }
    eprintln!("kill during checkpoint: checkpoint won {checkpointed}, kill won {killed}");
}

#[test]
fn two_restores_of_one_id() {
    let rt = Runtime::cryo();
    let io = tempfile::tempdir().expect("io dir");
    let cli = Cli::of(&rt, io.path());
    let b = slow_counter_bundle();
    let id = unique_id("rr");
    let _g = rt.guard(&id);
    let mut j = Jitter::new();
    cli.ok_detached(&["create", "--bundle", b.path_str(), &id]);
    cli.ok(&["start", &id]);
    wait_counter(&b, 2);
    // One counter through every round: each winner goes on from the last.
    for round in 0..ROUNDS {
        let img = image_dir("rr");
        let out = checkpoint(&cli, &["--image-path", path_str(img.path())], &id);
        assert!(out.success(), "round {round}: checkpoint failed\n{out}");
        let at = read_counter(&b);
        let restore = || {
            cli.run_detached(&[
                "restore",
                "-d",
                "--bundle",
                b.path_str(),
                "--image-path",
                path_str(img.path()),
                &id,
            ])
        };
        let (a, c) = race(j.ms(10), restore, j.ms(10), restore);
        assert!(
            a.success() != c.success(),
            "round {round}: exactly one restore must win\n{a}\n{c}"
        );
        let loser = if a.success() { &c } else { &a };
        let msg = clear_error(loser);
        assert!(
            msg.contains("already exists"),
            "the losing restore failed oddly\n{loser}"
        );
        assert_eq!(cli.status(&id).as_deref(), Some("running"));
        assert_continues(&b, at);
    }
    cli.ok(&["delete", "--force", &id]);
    assert_all_gone(&rt, &cli, std::slice::from_ref(&id));
}

#[test]
fn checkpoint_racing_pause_and_resume() {
    let rt = Runtime::cryo();
    let io = tempfile::tempdir().expect("io dir");
    let cli = Cli::of(&rt, io.path());
    let b = slow_counter_bundle();
    let id = unique_id("cp");
    let _g = rt.guard(&id);
    let mut j = Jitter::new();
    cli.ok_detached(&["create", "--bundle", b.path_str(), &id]);
    cli.ok(&["start", &id]);
    wait_counter(&b, 2);
    for round in 0..ROUNDS {
        let img = image_dir("cp");
        let pause_for = j.ms(100);
        let (ck, (pause, resume)) = race(
            j.ms(30),
            || {
                checkpoint(
                    &cli,
                    &["--leave-running", "--image-path", path_str(img.path())],
                    &id,
                )
            },
            j.ms(30),
            || {
                let pause = cli.run(&["pause", &id]);
                std::thread::sleep(pause_for);
                (pause, cli.run(&["resume", &id]))
            },
        );
        // Checkpointing a paused container is fine, and pause then resume
        // always find it (running, then paused) whatever the dump did.
        assert!(ck.success(), "round {round}: checkpoint failed\n{ck}");
        assert!(pause.success(), "round {round}: pause failed\n{pause}");
        assert!(resume.success(), "round {round}: resume failed\n{resume}");
        assert_eq!(cli.status(&id).as_deref(), Some("running"));
        let at = read_counter(&b);
        assert_continues(&b, at);
    }
    cli.ok(&["delete", "--force", &id]);
    assert_all_gone(&rt, &cli, std::slice::from_ref(&id));
}
