//! Tests against the real CRIU at /usr/local/sbin/criu; they need root and
//! fail (never skip) when CRIU is missing.

use std::fs::File;
use std::os::fd::AsRawFd;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use cryo_criu::rpc::{Criu_opts, Criu_req, Criu_req_type};
use cryo_criu::{locate, read_log_errors, Criu, CriuError, Hooks, Notify};
use nix::sys::signal::{kill, Signal};
use nix::sys::wait::{waitpid, WaitStatus};
use nix::unistd::Pid;

const CRIU: &str = "/usr/local/sbin/criu";

fn criu() -> Criu {
    assert!(
        Path::new(CRIU).is_file(),
        "{CRIU} is missing: these tests need a real CRIU"
    );
    assert!(nix::unistd::geteuid().is_root(), "these tests need root");
    Criu::new(PathBuf::from(CRIU))
}

const CHILD_MARK: &str = "CRYO_CRIU_LOCATE_CHILD";

/// Run by `locate_works_with_empty_env` in a copy of this binary with an empty
/// environment; does nothing in a normal run.
#[test]
fn locate_child_with_empty_env() {
    if std::env::var_os(CHILD_MARK).is_none() {
        return;
    }
    assert!(std::env::var_os("PATH").is_none());
    match locate(None) {
        Ok(p) => println!("LOCATED={}", p.display()),
        Err(e) => println!("LOCATE-ERROR={e}"),
    }
}

#[test]
fn locate_works_with_empty_env() {
    let _ = criu();
    let exe = std::env::current_exe().expect("test binary path");
    let out = Command::new(exe)
        .env_clear()
        .env(CHILD_MARK, "1")
        .args([
            "--exact",
            "locate_child_with_empty_env",
            "--nocapture",
            "--test-threads=1",
        ])
        .stdin(Stdio::null())
        .output()
        .expect("run the test binary again");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}");
    assert!(
        stdout.contains(&format!("LOCATED={CRIU}\n")),
        "locate(None) without PATH: {stdout}"
    );
}

#[test]
fn locate_explicit() {
    let _ = criu();
    assert_eq!(
        locate(Some(Path::new(CRIU))).expect("explicit criu"),
        PathBuf::from(CRIU)
    );
    match locate(Some(Path::new("/nonexistent"))) {
        Err(e @ CriuError::NotFound(_)) => {
            assert!(e.to_string().contains("/nonexistent"), "{e}")
        }
        other => panic!("locate(/nonexistent): {other:?}"),
    }
    // With PATH as it is, the default location still comes first.
    assert_eq!(locate(None).expect("criu"), PathBuf::from(CRIU));
}

#[test]
fn version_is_4_or_later() {
    let v = criu().version().expect("VERSION request");
    println!("criu {v} ({}), gitid {:?}", v.number(), v.gitid);
    assert!(v.major >= 4, "{v}");
    assert!(v.number() >= 40000);
}

#[test]
fn features_check() {
    let f = criu().check_features().expect("FEATURE_CHECK request");
    println!("criu features: {f:?}");
}

#[test]
fn failing_request_is_typed() {
    // A DUMP of a pid that does not exist: CRIU answers success = false.
    let dir = tempfile::tempdir().expect("tempdir");
    let images = File::open(dir.path()).expect("open images dir");
    let mut opts = Criu_opts::new();
    opts.set_images_dir_fd(images.as_raw_fd());
    opts.set_pid(i32::MAX - 1);
    opts.set_log_file("dump.log".into());
    opts.set_log_level(4);
    let mut req = Criu_req::new();
    req.set_type(Criu_req_type::DUMP);
    req.opts = Some(opts).into();
    let mut hooks = Recorder::default();
    match criu().run(req, &[], &mut hooks) {
        Err(CriuError::Failed {
            request,
            errno,
            message,
        }) => {
            println!("failed as expected: errno {errno}, message {message:?}");
            assert_eq!(request, "DUMP");
        }
        other => panic!("dump of a missing pid: {other:?}"),
    }
    assert_eq!(hooks.spawned.len(), 1);
    assert!(dir.path().join("dump.log").exists());
}

#[test]
fn hook_error_aborts_spawn() {
    struct Refuse;
    impl Hooks for Refuse {
        fn spawned(&mut self, criu_pid: i32) -> Result<(), CriuError> {
            Err(CriuError::hook(format!("no cgroup for {criu_pid}")))
        }
    }
    let mut req = Criu_req::new();
    req.set_type(Criu_req_type::VERSION);
    match criu().run(req, &[], &mut Refuse) {
        Err(CriuError::Hook(e)) => assert!(e.to_string().starts_with("no cgroup for ")),
        other => panic!("{other:?}"),
    }
}

#[derive(Default)]
struct Recorder {
    spawned: Vec<i32>,
    scripts: Vec<String>,
    post_restore: Option<i32>,
    /// Fail this script.
    refuse: Option<&'static str>,
}

impl Hooks for Recorder {
    fn spawned(&mut self, criu_pid: i32) -> Result<(), CriuError> {
        assert!(Path::new(&format!("/proc/{criu_pid}")).exists());
        self.spawned.push(criu_pid);
        Ok(())
    }

    fn notify(&mut self, n: Notify) -> Result<(), CriuError> {
        self.scripts.push(n.script().to_string());
        if let Notify::PostRestore { pid } = &n {
            self.post_restore = Some(*pid);
        }
        if self.refuse == Some(n.script()) {
            return Err(CriuError::hook(format!("refused {}", n.script())));
        }
        Ok(())
    }
}

fn read_counter(path: &Path) -> u64 {
    std::fs::read_to_string(path)
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(0)
}

fn wait_counter_above(path: &Path, above: u64, timeout: Duration) -> u64 {
    let start = Instant::now();
    loop {
        let v = read_counter(path);
        if v > above || start.elapsed() > timeout {
            return v;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

const COUNTER_MARK: &str = "CRYO_CRIU_COUNTER_FILE";

/// The task to dump, run by `spawn_counter` in a copy of this binary: writes
/// 1, 2, 3, ... to the counter file, one every 100 ms; does nothing in a
/// normal run. (A shell loop would fork `sleep` children: a dump kills them
/// too, and the zombies, orphaned to this machine's pid 1, keep their pids a
/// while, so the restore of the tree fails with "Can't fork for N: File exists".)
#[test]
fn counter_child() {
    let Some(path) = std::env::var_os(COUNTER_MARK) else {
        return;
    };
    let mut i = 0u64;
    loop {
        i += 1;
        let _ = std::fs::write(&path, format!("{i}\n"));
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// A task of ours: SIGKILLed and reaped when dropped (a failing test leaves
/// nothing running).
struct Task {
    pid: Pid,
    reaped: bool,
}

impl Task {
    fn alive(&self) -> bool {
        !self.reaped && kill(self.pid, None).is_ok() && !zombie(self.pid)
    }

    fn kill_and_reap(&mut self) -> nix::Result<WaitStatus> {
        let _ = kill(self.pid, Signal::SIGKILL);
        self.reap()
    }

    fn reap(&mut self) -> nix::Result<WaitStatus> {
        let r = waitpid(self.pid, None);
        self.reaped = true;
        r
    }
}

impl Drop for Task {
    fn drop(&mut self) {
        if !self.reaped {
            let _ = self.kill_and_reap();
        }
    }
}

fn zombie(pid: Pid) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .map(|s| {
            s.rsplit_once(") ")
                .is_some_and(|(_, rest)| rest.starts_with('Z'))
        })
        .unwrap_or(false)
}

/// Spawns the counter in its own session, stdio on /dev/null.
// The Task reaps it by pid (CRIU kills it and restores it under the same pid).
#[allow(clippy::zombie_processes)]
fn spawn_counter(counter: &Path) -> Task {
    let exe = std::env::current_exe().expect("test binary path");
    let mut cmd = Command::new(exe);
    cmd.env_clear()
        .env(COUNTER_MARK, counter)
        .args([
            "--exact",
            "counter_child",
            "--test-threads=1",
            "--nocapture",
        ])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    // SAFETY: setsid(2) is async-signal-safe and touches no memory of ours.
    unsafe {
        cmd.pre_exec(|| nix::unistd::setsid().map(drop).map_err(Into::into));
    }
    let child = cmd.spawn().expect("spawn the counter");
    Task {
        pid: Pid::from_raw(i32::try_from(child.id()).expect("pid")),
        reaped: false,
    }
}

fn log_tail(dir: &Path, name: &str) -> String {
    read_log_errors(&dir.join(name), 10).join("\n")
}

/// CRIU opens `images_dir_fd` as /proc/<our pid>/fd/N: it is our fd number,
/// not one passed to CRIU.
fn dump_req(images: &File, pid: i32, leave_running: bool) -> Criu_req {
    let mut opts = Criu_opts::new();
    opts.set_images_dir_fd(images.as_raw_fd());
    opts.set_pid(pid);
    opts.set_log_file("dump.log".into());
    opts.set_log_level(4);
    opts.set_leave_running(leave_running);
    opts.set_notify_scripts(true);
    let mut req = Criu_req::new();
    req.set_type(Criu_req_type::DUMP);
    req.opts = Some(opts).into();
    req
}

#[test]
fn dump_and_restore_a_process() {
    let criu = criu();
    let tmp = tempfile::tempdir().expect("tempdir");
    let images_path = tmp.path().join("images");
    std::fs::create_dir(&images_path).expect("mkdir images");
    let counter = tmp.path().join("counter");

    let mut task = spawn_counter(&counter);
    let pid = task.pid.as_raw();
    assert!(wait_counter_above(&counter, 2, Duration::from_secs(10)) > 2);

    let images = File::open(&images_path).expect("open images dir");

    // A post-dump hook that fails: CRIU resumes the task and the error is ours.
    let mut hooks = Recorder {
        refuse: Some("post-dump"),
        ..Recorder::default()
    };
    match criu.run(dump_req(&images, pid, true), &[], &mut hooks) {
        Err(CriuError::Hook(e)) => assert_eq!(e.to_string(), "refused post-dump"),
        other => panic!(
            "dump with a failing hook: {other:?}\n{}",
            log_tail(&images_path, "dump.log")
        ),
    }
    println!("notifies of the refused dump: {:?}", hooks.scripts);
    assert!(task.alive(), "task died after a failed dump");
    let before = read_counter(&counter);
    assert!(wait_counter_above(&counter, before, Duration::from_secs(5)) > before);
    for f in std::fs::read_dir(&images_path).expect("images") {
        let p = f.expect("image").path();
        if p.extension().is_some_and(|e| e == "img") {
            std::fs::remove_file(p).expect("clean images");
        }
    }

    // The real dump.
    let mut hooks = Recorder::default();
    let resp = criu
        .run(dump_req(&images, pid, false), &[], &mut hooks)
        .unwrap_or_else(|e| panic!("dump: {e}\n{}", log_tail(&images_path, "dump.log")));
    println!("dump response: {resp:?}; notifies: {:?}", hooks.scripts);
    assert!(resp.success());
    assert_eq!(resp.type_(), Criu_req_type::DUMP);
    assert_eq!(hooks.spawned.len(), 1);
    assert!(
        hooks.scripts.iter().any(|s| s == "pre-dump"),
        "{:?}",
        hooks.scripts
    );
    assert!(
        hooks.scripts.iter().any(|s| s == "post-dump"),
        "{:?}",
        hooks.scripts
    );
    // leave_running = false: CRIU killed the task.
    let status = task.reap();
    assert!(
        matches!(status, Ok(WaitStatus::Signaled(_, Signal::SIGKILL, _))),
        "{status:?}"
    );
    assert!(!Path::new(&format!("/proc/{pid}")).exists());
    let at_dump = read_counter(&counter);
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(read_counter(&counter), at_dump, "the task still runs");

    // Restore it as our child.
    let mut opts = Criu_opts::new();
    opts.set_images_dir_fd(images.as_raw_fd());
    opts.set_log_file("restore.log".into());
    opts.set_log_level(4);
    opts.set_rst_sibling(true);
    opts.set_notify_scripts(true);
    let mut req = Criu_req::new();
    req.set_type(Criu_req_type::RESTORE);
    req.opts = Some(opts).into();
    let mut hooks = Recorder::default();
    let resp = criu
        .run(req, &[], &mut hooks)
        .unwrap_or_else(|e| panic!("restore: {e}\n{}", log_tail(&images_path, "restore.log")));
    println!("restore response: {resp:?}; notifies: {:?}", hooks.scripts);
    assert!(resp.success());
    assert_eq!(resp.type_(), Criu_req_type::RESTORE);
    let restored = resp.restore.pid();
    assert!(restored > 0, "{resp:?}");
    assert_eq!(restored, pid, "criu restores the same pid");
    assert_eq!(hooks.spawned.len(), 1);
    assert_eq!(hooks.post_restore, Some(restored), "{:?}", hooks.scripts);
    let mut task = Task {
        pid: Pid::from_raw(restored),
        reaped: false,
    };
    assert!(task.alive(), "restored task is gone");

    let after = wait_counter_above(&counter, at_dump + 2, Duration::from_secs(10));
    let reaped = task.kill_and_reap();
    assert!(
        after > at_dump + 2,
        "counter stuck at {after} (dump at {at_dump})"
    );
    assert!(
        matches!(reaped, Ok(WaitStatus::Signaled(p, Signal::SIGKILL, _)) if p.as_raw() == restored),
        "restored task is our child: {reaped:?}"
    );
}
