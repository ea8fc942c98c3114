//! Harness for end-to-end tests.
//!
//! The runtime under test is taken from the `CRYO_BIN` environment variable
//! (an absolute path). Tests that compare against runc side by side also use
//! `RUNC_BIN` (default `/usr/sbin/runc`). Everything here needs root; when
//! `CRYO_BIN` is unset or we are not root, tests fail (they never skip).
//!
//! Main pieces:
//! * [`Runtime`]: a runtime binary plus a private `--root` state directory.
//! * [`Bundle`]: a temp bundle directory with a busybox rootfs and a
//!   `config.json` that starts out as runc's default spec
//!   (`tests/fixtures/runc-spec.json`, the output of `runc spec`).
//! * [`Container`]: a guard that runs `delete --force` on drop, so failing
//!   tests do not leak containers, cgroups or mounts.
//! * [`ConsoleSocket`]: receives the pty master sent via `--console-socket`.
//! * [`leaks`]: what a run can leave on the host, snapshotted and compared
//!   (`src/bin/leak-check.rs`, which `make test` runs around the suite).

pub mod leaks;

use std::cell::Cell;
use std::ffi::OsStr;
use std::fmt;
use std::io::Read;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::UnixListener;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use tempfile::TempDir;

/// runc 1.1.5's `runc spec` output, byte for byte.
pub const RUNC_DEFAULT_SPEC: &str = include_str!("../fixtures/runc-spec.json");

/// Default timeout for a single runtime invocation.
pub const CMD_TIMEOUT: Duration = Duration::from_secs(30);

/// A shell command line that runs until killed and exits 0 on SIGTERM.
///
/// PID 1 of a PID namespace ignores signals it has no handler for, so a
/// handler is required for SIGTERM to have any effect.
pub const LONG_RUNNING: &[&str] = &[
    "sh",
    "-c",
    "trap 'exit 0' TERM; while :; do sleep 0.1; done",
];

// ---------------------------------------------------------------------------
// Environment
// ---------------------------------------------------------------------------

/// The runtime under test (`CRYO_BIN`). Panics with a clear message if unset.
pub fn cryo_bin() -> PathBuf {
    let Some(v) = std::env::var_os("CRYO_BIN") else {
        panic!(
            "CRYO_BIN must be set to the absolute path of the runtime binary under test \
             (for example CRYO_BIN=/work/target/debug/cryo, or CRYO_BIN=/usr/sbin/runc to \
             validate the tests themselves). The e2e tests refuse to run without it."
        );
    };
    checked_bin("CRYO_BIN", PathBuf::from(v))
}

/// The cryo built with crash points (`CRYO_FAULT_BIN`, `make test` builds
/// it to `target/fault-injection/cryo`). Panics if unset, missing, or not a
/// fault-injection build: the crash tests fail rather than skip.
pub fn fault_bin() -> PathBuf {
    let Some(v) = std::env::var_os("CRYO_FAULT_BIN") else {
        panic!(
            "CRYO_FAULT_BIN must be set to the absolute path of cryo built with crash points: \
             cargo build --profile fault-injection -p cryo --features fault-injection, then \
             CRYO_FAULT_BIN=$PWD/target/fault-injection/cryo (make test does both)"
        );
    };
    let bin = checked_bin("CRYO_FAULT_BIN", PathBuf::from(v));
    let out = Command::new(&bin)
        .arg("--version")
        .output()
        .unwrap_or_else(|e| panic!("run {} --version: {e}", bin.display()));
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("fault-injection: enabled"),
        "CRYO_FAULT_BIN={} is not a fault-injection build (its --version does not say so)",
        bin.display()
    );
    bin
}

/// The reference runc binary (`RUNC_BIN`, default `/usr/sbin/runc`).
pub fn runc_bin() -> PathBuf {
    let p = std::env::var_os("RUNC_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/usr/sbin/runc"));
    checked_bin("RUNC_BIN", p)
}

fn checked_bin(var: &str, p: PathBuf) -> PathBuf {
    assert!(
        p.is_absolute(),
        "{var} must be an absolute path, got {}",
        p.display()
    );
    assert!(
        p.is_file(),
        "{var}={} does not exist or is not a regular file",
        p.display()
    );
    p
}

/// Panics unless running as root.
pub fn require_root() {
    // SAFETY: geteuid has no preconditions and cannot fail.
    let euid = unsafe { libc::geteuid() };
    assert_eq!(
        euid, 0,
        "the cryo e2e tests must run as root (euid is {euid}); they create namespaces, \
         mounts and cgroups"
    );
}

/// A container id that is unique to this test process.
pub fn unique_id(name: &str) -> String {
    format!("t{}-{}", std::process::id(), name)
}

/// Poll `cond` every 20ms until it is true; panic with `what` after `timeout`.
pub fn wait_for(timeout: Duration, what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + timeout;
    loop {
        if cond() {
            return;
        }
        if Instant::now() >= deadline {
            panic!("timed out after {timeout:?} waiting for: {what}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The state letter of a task (`R`, `S`, `D`, `Z`, ...) from
/// `/proc/<tid>/stat`, or None if it does not exist.
pub fn proc_state(tid: impl std::fmt::Display) -> Option<String> {
    let stat = std::fs::read_to_string(format!("/proc/{tid}/stat")).ok()?;
    // The state field follows the parenthesised comm, which may contain spaces.
    let after = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
    Some(after.split_whitespace().next().unwrap_or("?").to_string())
}

/// True if `pid` no longer exists (or is a zombie).
pub fn pid_is_dead(pid: i64) -> bool {
    proc_state(pid).is_none_or(|s| s == "Z" || s == "X")
}

/// `readlink /proc/<pid>/ns/<ns>`, e.g. `net:[4026531840]`.
pub fn ns_link(pid: &str, ns: &str) -> String {
    let p = format!("/proc/{pid}/ns/{ns}");
    std::fs::read_link(&p)
        .unwrap_or_else(|e| panic!("readlink {p}: {e}"))
        .to_string_lossy()
        .into_owned()
}

/// Checks that `s` looks like an RFC 3339 timestamp (`YYYY-MM-DDTHH:MM:SS[.frac](Z|±HH:MM)`).
pub fn is_rfc3339(s: &str) -> bool {
    let b = s.as_bytes();
    if b.len() < 20 {
        return false;
    }
    let digits = |r: std::ops::Range<usize>| b[r].iter().all(u8::is_ascii_digit);
    if !(digits(0..4)
        && b[4] == b'-'
        && digits(5..7)
        && b[7] == b'-'
        && digits(8..10)
        && (b[10] == b'T' || b[10] == b't')
        && digits(11..13)
        && b[13] == b':'
        && digits(14..16)
        && b[16] == b':'
        && digits(17..19))
    {
        return false;
    }
    let mut rest = &s[19..];
    if let Some(r) = rest.strip_prefix('.') {
        let n = r.bytes().take_while(u8::is_ascii_digit).count();
        if n == 0 {
            return false;
        }
        rest = &r[n..];
    }
    if rest == "Z" || rest == "z" {
        return true;
    }
    let rb = rest.as_bytes();
    rb.len() == 6
        && (rb[0] == b'+' || rb[0] == b'-')
        && rb[1..3].iter().all(u8::is_ascii_digit)
        && rb[3] == b':'
        && rb[4..6].iter().all(u8::is_ascii_digit)
}

// ---------------------------------------------------------------------------
// Running commands
// ---------------------------------------------------------------------------

/// Result of a finished command.
#[derive(Debug)]
pub struct Out {
    pub cmdline: String,
    pub status: ExitStatus,
    pub stdout: String,
    pub stderr: String,
}

impl Out {
    /// Exit code (None if killed by a signal).
    pub fn code(&self) -> Option<i32> {
        self.status.code()
    }
    pub fn success(&self) -> bool {
        self.status.success()
    }
}

impl fmt::Display for Out {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "command: {}\nstatus: {}\n--- stdout ---\n{}\n--- stderr ---\n{}\n--------------",
            self.cmdline, self.status, self.stdout, self.stderr
        )
    }
}

fn cmdline(cmd: &Command) -> String {
    let mut s = cmd.get_program().to_string_lossy().into_owned();
    for a in cmd.get_args() {
        s.push(' ');
        let a = a.to_string_lossy();
        if a.is_empty() || a.contains(char::is_whitespace) {
            s.push_str(&format!("{a:?}"));
        } else {
            s.push_str(&a);
        }
    }
    s
}

/// Wait for `child` with a deadline; kill it and panic on timeout.
pub fn wait_child(child: &mut Child, timeout: Duration, what: &str) -> ExitStatus {
    let deadline = Instant::now() + timeout;
    loop {
        match child.try_wait() {
            Ok(Some(st)) => return st,
            Ok(None) => {}
            Err(e) => panic!("waiting for {what}: {e}"),
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{what} did not exit within {timeout:?}; killed it");
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Run `cmd` with piped stdout/stderr, capturing both, with a timeout.
///
/// stdin is left as configured on `cmd` (the [`Runtime::cmd`] default is /dev/null).
pub fn output_timeout(mut cmd: Command, timeout: Duration) -> Out {
    let line = cmdline(&cmd);
    cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
    let mut child = cmd
        .spawn()
        .unwrap_or_else(|e| panic!("failed to spawn `{line}`: {e}"));
    let (tx, rx) = mpsc::channel::<(u8, Vec<u8>)>();
    for (idx, pipe) in [
        (
            1u8,
            child
                .stdout
                .take()
                .map(|p| Box::new(p) as Box<dyn Read + Send>),
        ),
        (
            2u8,
            child
                .stderr
                .take()
                .map(|p| Box::new(p) as Box<dyn Read + Send>),
        ),
    ] {
        let tx = tx.clone();
        if let Some(mut pipe) = pipe {
            std::thread::spawn(move || {
                let mut buf = Vec::new();
                let _ = pipe.read_to_end(&mut buf);
                let _ = tx.send((idx, buf));
            });
        }
    }
    drop(tx);
    let start = Instant::now();
    let status = wait_child(&mut child, timeout, &format!("`{line}`"));
    let mut stdout = Vec::new();
    let mut stderr = Vec::new();
    for _ in 0..2 {
        let left = timeout.saturating_sub(start.elapsed()) + Duration::from_secs(2);
        match rx.recv_timeout(left) {
            Ok((1, b)) => stdout = b,
            Ok((_, b)) => stderr = b,
            Err(_) => panic!(
                "`{line}` exited ({status}) but its stdout/stderr were still held open by \
                 another process (a container inheriting the runtime's stdio?)"
            ),
        }
    }
    Out {
        cmdline: line,
        status,
        stdout: String::from_utf8_lossy(&stdout).into_owned(),
        stderr: String::from_utf8_lossy(&stderr).into_owned(),
    }
}

/// Make `cmd`'s child see each `(src, dst)` pair as file descriptor `dst`
/// (without close-on-exec). Sources are first moved above 100 so pairs may overlap.
pub fn map_fds(cmd: &mut Command, pairs: &[(RawFd, RawFd)]) {
    let pairs = pairs.to_vec();
    // SAFETY: the closure only calls async-signal-safe functions (fcntl, dup2,
    // close) and does not allocate.
    unsafe {
        cmd.pre_exec(move || {
            let mut tmp = [0 as RawFd; 16];
            assert!(pairs.len() <= tmp.len());
            for (i, (src, _)) in pairs.iter().enumerate() {
                let fd = libc::fcntl(*src, libc::F_DUPFD_CLOEXEC, 100);
                if fd < 0 {
                    return Err(std::io::Error::last_os_error());
                }
                tmp[i] = fd;
            }
            for (i, (_, dst)) in pairs.iter().enumerate() {
                if libc::dup2(tmp[i], *dst) < 0 {
                    return Err(std::io::Error::last_os_error());
                }
                libc::close(tmp[i]);
            }
            Ok(())
        });
    }
}

// ---------------------------------------------------------------------------
// Runtime
// ---------------------------------------------------------------------------

/// A runtime binary with its own private `--root` directory.
pub struct Runtime {
    pub bin: PathBuf,
    pub root: TempDir,
    scratch: TempDir,
    counter: Cell<u32>,
}

impl Runtime {
    /// The runtime under test (`CRYO_BIN`). Also checks we are root.
    pub fn cryo() -> Runtime {
        let bin = cryo_bin();
        require_root();
        Runtime::new(bin)
    }

    /// The reference runc (`RUNC_BIN`). Also checks we are root.
    pub fn runc() -> Runtime {
        let bin = runc_bin();
        require_root();
        Runtime::new(bin)
    }

    pub fn new(bin: PathBuf) -> Runtime {
        let root = tempfile::Builder::new()
            .prefix("cryo-e2e-root.")
            .tempdir()
            .expect("create runtime root dir");
        let scratch = tempfile::Builder::new()
            .prefix("cryo-e2e-io.")
            .tempdir()
            .expect("create scratch dir");
        Runtime {
            bin,
            root,
            scratch,
            counter: Cell::new(0),
        }
    }

    pub fn root_path(&self) -> &Path {
        self.root.path()
    }

    /// `<bin> --root <root> args...` with stdin from /dev/null.
    pub fn cmd<S: AsRef<OsStr>>(&self, args: &[S]) -> Command {
        let mut c = Command::new(&self.bin);
        c.arg("--root").arg(self.root.path());
        for a in args {
            c.arg(a);
        }
        c.stdin(Stdio::null());
        c
    }

    /// Run and capture output (does not check the status).
    pub fn output<S: AsRef<OsStr>>(&self, args: &[S]) -> Out {
        output_timeout(self.cmd(args), CMD_TIMEOUT)
    }

    /// Run, capture output, assert exit status 0.
    pub fn run_ok<S: AsRef<OsStr>>(&self, args: &[S]) -> Out {
        let out = self.output(args);
        assert!(out.success(), "expected success\n{out}");
        out
    }

    /// Run, capture output, assert a non-zero exit status.
    pub fn run_fail<S: AsRef<OsStr>>(&self, args: &[S]) -> Out {
        let out = self.output(args);
        assert!(
            out.code().is_some_and(|c| c != 0),
            "expected failure (non-zero exit)\n{out}"
        );
        out
    }

    /// Run a command whose children may keep the runtime's stdio open (create,
    /// run --detach): stdout/stderr go to files, which are read once the
    /// runtime process exits. Returns the result plus the two file paths.
    pub fn output_detached<S: AsRef<OsStr>>(&self, args: &[S]) -> (Out, PathBuf, PathBuf) {
        let n = self.counter.get() + 1;
        self.counter.set(n);
        let so = self.scratch.path().join(format!("{n}.stdout"));
        let se = self.scratch.path().join(format!("{n}.stderr"));
        let mut cmd = self.cmd(args);
        let line = cmdline(&cmd);
        cmd.stdout(std::fs::File::create(&so).expect("create stdout file"));
        cmd.stderr(std::fs::File::create(&se).expect("create stderr file"));
        let mut child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("failed to spawn `{line}`: {e}"));
        let status = wait_child(&mut child, CMD_TIMEOUT, &format!("`{line}`"));
        let out = Out {
            cmdline: line,
            status,
            stdout: std::fs::read_to_string(&so).unwrap_or_default(),
            stderr: std::fs::read_to_string(&se).unwrap_or_default(),
        };
        (out, so, se)
    }

    /// Guard for a container id (runs `delete --force` on drop).
    pub fn guard(&self, id: &str) -> Container<'_> {
        Container {
            rt: self,
            id: id.to_string(),
            stdout_path: None,
            stderr_path: None,
        }
    }

    /// `create --bundle <bundle> [extra...] <unique id>`; asserts success.
    /// The container's stdout/stderr go to files readable via [`Container::stdout`].
    pub fn create(&self, bundle: &Bundle, name: &str) -> Container<'_> {
        self.create_with(bundle, name, &[])
    }

    pub fn create_with(&self, bundle: &Bundle, name: &str, extra: &[&str]) -> Container<'_> {
        let (c, out) = self.try_create(bundle, name, extra);
        assert!(out.success(), "create failed\n{out}");
        c
    }

    /// Like [`Runtime::create_with`] but returns the outcome unchecked.
    pub fn try_create(&self, bundle: &Bundle, name: &str, extra: &[&str]) -> (Container<'_>, Out) {
        bundle.save();
        let mut c = self.guard(&unique_id(name));
        let mut args: Vec<&str> = vec!["create", "--bundle", bundle.path_str()];
        args.extend_from_slice(extra);
        args.push(&c.id);
        let (out, so, se) = self.output_detached(&args);
        c.stdout_path = Some(so);
        c.stderr_path = Some(se);
        (c, out)
    }

    /// `run --bundle <bundle> [extra...] <unique id>` in the foreground,
    /// capturing the container's stdout/stderr (it inherits the runtime's stdio).
    pub fn run_fg(&self, bundle: &Bundle, name: &str, extra: &[&str]) -> Out {
        bundle.save();
        let c = self.guard(&unique_id(name));
        let mut args: Vec<&str> = vec!["run", "--bundle", bundle.path_str()];
        args.extend_from_slice(extra);
        args.push(&c.id);
        let out = self.output(&args);
        drop(c);
        out
    }

    /// [`Runtime::run_fg`] and assert exit status 0; returns the container's stdout.
    pub fn run_fg_ok(&self, bundle: &Bundle, name: &str) -> String {
        let out = self.run_fg(bundle, name, &[]);
        assert!(out.success(), "run failed\n{out}");
        out.stdout
    }

    /// `state <id>` parsed as JSON; panics on failure.
    pub fn state(&self, id: &str) -> Value {
        let out = self.run_ok(&["state", id]);
        serde_json::from_str(&out.stdout)
            .unwrap_or_else(|e| panic!("state output is not JSON: {e}\n{out}"))
    }

    pub fn status(&self, id: &str) -> String {
        self.state(id)["status"]
            .as_str()
            .unwrap_or_else(|| panic!("state of {id} has no string status"))
            .to_string()
    }

    pub fn wait_status(&self, id: &str, want: &str, timeout: Duration) {
        let deadline = Instant::now() + timeout;
        let last = loop {
            let st = self.status(id);
            if st == want {
                return;
            }
            if Instant::now() >= deadline {
                break st;
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        panic!("container {id} did not reach status {want:?} within {timeout:?} (last: {last:?})");
    }

    /// Entries of the root directory (should be empty after all containers are gone).
    pub fn root_entries(&self) -> Vec<String> {
        let mut v: Vec<String> = std::fs::read_dir(self.root.path())
            .expect("read root dir")
            .map(|e| {
                e.expect("dir entry")
                    .file_name()
                    .to_string_lossy()
                    .into_owned()
            })
            .collect();
        v.sort();
        v
    }
}

/// A root that is not empty once the test is done holds something a verb
/// left behind: it is kept (with a warning) rather than removed with the
/// temp dir, so `leak-check` reports it.
impl Drop for Runtime {
    fn drop(&mut self) {
        // Migrations make their work directory on demand and leave it
        // (empty) like the root itself: that is not left behind.
        let work = self.root.path().join("@migrate");
        let _ = std::fs::remove_dir(work.join("bundles"));
        let _ = std::fs::remove_dir(work);
        let left = std::fs::read_dir(self.root.path()).map_or(0, |d| d.count());
        if left > 0 {
            eprintln!(
                "warning: runtime root {} still has {left} entries; kept for inspection",
                self.root.path().display()
            );
            self.root.disable_cleanup(true);
        }
    }
}

/// A container id plus a guard that force-deletes it on drop.
pub struct Container<'a> {
    pub rt: &'a Runtime,
    pub id: String,
    stdout_path: Option<PathBuf>,
    stderr_path: Option<PathBuf>,
}

impl Container<'_> {
    pub fn state(&self) -> Value {
        self.rt.state(&self.id)
    }
    pub fn status(&self) -> String {
        self.rt.status(&self.id)
    }
    pub fn pid(&self) -> i64 {
        let st = self.state();
        st["pid"]
            .as_i64()
            .unwrap_or_else(|| panic!("state has no integer pid: {st}"))
    }
    pub fn start(&self) -> Out {
        self.rt.run_ok(&["start", &self.id])
    }
    pub fn kill(&self, sig: &str) -> Out {
        self.rt.run_ok(&["kill", &self.id, sig])
    }
    pub fn delete(&self) -> Out {
        self.rt.run_ok(&["delete", &self.id])
    }
    pub fn wait_status(&self, want: &str, timeout: Duration) {
        self.rt.wait_status(&self.id, want, timeout)
    }
    /// Wait until stopped.
    pub fn wait_stopped(&self) {
        self.wait_status("stopped", Duration::from_secs(10))
    }
    /// What the container (and the runtime's create) wrote to stdout so far.
    pub fn stdout(&self) -> String {
        self.stdout_path
            .as_ref()
            .and_then(|p| std::fs::read_to_string(p).ok())
            .unwrap_or_default()
    }
    pub fn stderr(&self) -> String {
        self.stderr_path
            .as_ref()
            .and_then(|p| std::fs::read_to_string(p).ok())
            .unwrap_or_default()
    }
}

impl Drop for Container<'_> {
    fn drop(&mut self) {
        let _ = output_timeout(
            self.rt.cmd(&["delete", "--force", self.id.as_str()]),
            CMD_TIMEOUT,
        );
    }
}

// ---------------------------------------------------------------------------
// Bundles
// ---------------------------------------------------------------------------

fn busybox_path() -> PathBuf {
    std::env::var_os("BUSYBOX")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/bin/busybox"))
}

fn busybox_applets() -> &'static [String] {
    static APPLETS: OnceLock<Vec<String>> = OnceLock::new();
    APPLETS.get_or_init(|| {
        let bb = busybox_path();
        let out = Command::new(&bb)
            .arg("--list")
            .output()
            .unwrap_or_else(|e| panic!("running {} --list: {e}", bb.display()));
        assert!(out.status.success(), "{} --list failed", bb.display());
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty() && *l != "busybox" && !l.contains('/'))
            .map(String::from)
            .collect()
    })
}

/// Populate `dir` with a minimal busybox root filesystem.
pub fn build_rootfs(dir: &Path) {
    let mk = |p: &str, mode: u32| {
        let d = dir.join(p);
        std::fs::create_dir_all(&d).unwrap_or_else(|e| panic!("mkdir {}: {e}", d.display()));
        std::fs::set_permissions(&d, std::fs::Permissions::from_mode(mode))
            .unwrap_or_else(|e| panic!("chmod {}: {e}", d.display()));
    };
    mk("", 0o755);
    for d in [
        "bin",
        "proc",
        "sys",
        "dev",
        "etc",
        "root",
        "home/user",
        "mnt",
    ] {
        mk(d, 0o755);
    }
    mk("tmp", 0o1777);
    let bb = busybox_path();
    let dst = dir.join("bin/busybox");
    std::fs::copy(&bb, &dst).unwrap_or_else(|e| panic!("copy {}: {e}", bb.display()));
    std::fs::set_permissions(&dst, std::fs::Permissions::from_mode(0o755)).expect("chmod busybox");
    for a in busybox_applets() {
        std::os::unix::fs::symlink("busybox", dir.join("bin").join(a))
            .unwrap_or_else(|e| panic!("symlink applet {a}: {e}"));
    }
    std::fs::write(
        dir.join("etc/passwd"),
        "root:x:0:0:root:/root:/bin/sh\nuser:x:1000:1000:user:/home/user:/bin/sh\n",
    )
    .expect("write passwd");
    std::fs::write(dir.join("etc/group"), "root:x:0:\nuser:x:1000:\n").expect("write group");
}

/// A bundle directory: `rootfs/` (busybox) and `config.json`.
pub struct Bundle {
    dir: TempDir,
    path_str: String,
    config: Value,
}

impl Bundle {
    /// A bundle in the system temp dir running `args`.
    ///
    /// The config is runc's default spec with: `process.args = args`,
    /// `process.terminal = false` and `root.readonly = false`.
    pub fn new(args: &[&str]) -> Bundle {
        Bundle::new_in(&std::env::temp_dir(), args)
    }

    /// Like [`Bundle::new`] but the bundle directory is created inside `parent`.
    pub fn new_in(parent: &Path, args: &[&str]) -> Bundle {
        let dir = tempfile::Builder::new()
            .prefix("cryo-e2e-bundle.")
            .tempdir_in(parent)
            .expect("create bundle dir");
        // Must be traversable by other (e.g. user-namespaced) uids.
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755))
            .expect("chmod bundle");
        build_rootfs(&dir.path().join("rootfs"));
        let mut config: Value =
            serde_json::from_str(RUNC_DEFAULT_SPEC).expect("fixture runc-spec.json is JSON");
        config["process"]["args"] = json!(args);
        config["process"]["terminal"] = json!(false);
        config["root"]["readonly"] = json!(false);
        let path_str = dir
            .path()
            .to_str()
            .expect("bundle path is UTF-8")
            .to_string();
        let b = Bundle {
            dir,
            path_str,
            config,
        };
        b.save();
        b
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }
    pub fn path_str(&self) -> &str {
        &self.path_str
    }
    pub fn rootfs(&self) -> PathBuf {
        self.dir.path().join("rootfs")
    }
    pub fn config(&self) -> &Value {
        &self.config
    }
    pub fn config_mut(&mut self) -> &mut Value {
        &mut self.config
    }
    /// Write `config.json` (the create/run helpers also do this).
    pub fn save(&self) {
        let s = serde_json::to_string_pretty(&self.config).expect("serialize config");
        std::fs::write(self.dir.path().join("config.json"), s).expect("write config.json");
    }

    pub fn set_args(&mut self, args: &[&str]) {
        self.config["process"]["args"] = json!(args);
    }

    fn array_mut(&mut self, ptr: &str) -> &mut Vec<Value> {
        let mut cur = &mut self.config;
        for part in ptr.split('/').filter(|p| !p.is_empty()) {
            if cur.get(part).is_none_or(Value::is_null) {
                cur[part] = json!({});
            }
            cur = &mut cur[part];
        }
        if !cur.is_array() {
            *cur = json!([]);
        }
        cur.as_array_mut().expect("just made it an array")
    }

    pub fn add_mount(&mut self, destination: &str, typ: &str, source: &str, options: &[&str]) {
        self.array_mut("mounts").push(json!({
            "destination": destination,
            "type": typ,
            "source": source,
            "options": options,
        }));
    }

    /// Bind-mount host path `host` at `destination` with `rbind` plus `extra` options.
    pub fn add_bind(&mut self, host: &Path, destination: &str, extra: &[&str]) {
        let mut opts = vec!["rbind"];
        opts.extend_from_slice(extra);
        let src = host.to_str().expect("utf-8 path").to_string();
        self.add_mount(destination, "bind", &src, &opts);
    }

    pub fn add_namespace(&mut self, typ: &str, path: Option<&str>) {
        self.remove_namespace(typ);
        let ns = match path {
            Some(p) => json!({"type": typ, "path": p}),
            None => json!({"type": typ}),
        };
        self.array_mut("linux/namespaces").push(ns);
    }

    pub fn remove_namespace(&mut self, typ: &str) {
        self.array_mut("linux/namespaces")
            .retain(|n| n["type"].as_str() != Some(typ));
    }

    /// A host directory `<bundle>/out` (mode 0777) bind-mounted read-write at
    /// `/out` in the container. Idempotent. Returns the host path.
    pub fn out_dir(&mut self) -> PathBuf {
        let host = self.dir.path().join("out");
        if !host.exists() {
            std::fs::create_dir(&host).expect("mkdir out");
            std::fs::set_permissions(&host, std::fs::Permissions::from_mode(0o777))
                .expect("chmod out");
            self.add_mount(
                "/out",
                "bind",
                &format!("{}/out", self.path_str),
                &["rbind", "rw"],
            );
        }
        host
    }

    /// Read `<bundle>/out/<name>` ("" if it does not exist).
    pub fn read_out(&self, name: &str) -> String {
        std::fs::read_to_string(self.dir.path().join("out").join(name)).unwrap_or_default()
    }

    /// Wait until the container created `/out/<name>`, and return its contents.
    pub fn wait_out(&self, name: &str, timeout: Duration) -> String {
        let p = self.dir.path().join("out").join(name);
        wait_for(timeout, &format!("container to write /out/{name}"), || {
            p.exists()
        });
        std::fs::read_to_string(&p).unwrap_or_default()
    }
}

// ---------------------------------------------------------------------------
// The counter workload (checkpoint, restore, migration)
// ---------------------------------------------------------------------------

/// How long a counter test waits for the container to move.
pub const COUNTER_WAIT: Duration = Duration::from_secs(20);

/// A shell loop that counts in memory and writes each value to /out/counter.
/// A restarted (rather than restored or migrated) container would start
/// again at 1.
pub const COUNTER: &str = "i=0; while :; do i=$((i+1)); echo $i > /out/counter.tmp; mv /out/counter.tmp /out/counter; sleep 0.05; done";

/// A bundle running [`COUNTER`] with `/out` bound from the bundle.
pub fn counter_bundle() -> Bundle {
    let mut b = Bundle::new(&["sh", "-c", COUNTER]);
    b.out_dir();
    b.save();
    b
}

/// A private temp directory for checkpoint images (`cryo-e2e-img-<name>.*`),
/// removed on drop.
pub fn image_dir(name: &str) -> TempDir {
    tempfile::Builder::new()
        .prefix(&format!("cryo-e2e-img-{name}."))
        .tempdir()
        .expect("create image dir")
}

/// Saves `b` and starts it with `run -d` under a new id made from `name`;
/// the guard deletes it on drop.
pub fn run_detached<'a>(rt: &'a Runtime, b: &Bundle, name: &str) -> Container<'a> {
    b.save();
    let c = rt.guard(&unique_id(name));
    let (out, _, _) = rt.output_detached(&["run", "-d", "--bundle", b.path_str(), &c.id]);
    assert!(out.success(), "run -d failed\n{out}");
    c
}

/// The last value the counter wrote (0 before the first).
pub fn read_counter(b: &Bundle) -> u64 {
    b.read_out("counter").trim().parse().unwrap_or(0)
}

/// Waits until the counter reached at least `n`, returns its value.
pub fn wait_counter(b: &Bundle, n: u64) -> u64 {
    let mut v = 0;
    wait_for(COUNTER_WAIT, &format!("counter to reach {n}"), || {
        v = read_counter(b);
        v >= n
    });
    v
}

/// Asserts the counter goes on from `at` (never restarting from 1): the
/// first new value seen is above `at`, and it keeps growing.
pub fn assert_continues(b: &Bundle, at: u64) {
    assert_continues_within(b, at, COUNTER_WAIT);
}

/// [`assert_continues`], waiting up to `wait` for each step (for tests
/// that load the host on purpose).
pub fn assert_continues_within(b: &Bundle, at: u64, wait: Duration) {
    let mut first = at;
    wait_for(wait, "counter to move", || {
        first = read_counter(b);
        first != at && first != 0
    });
    assert!(first > at, "counter restarted: {first} after {at}");
    let mut later = first;
    wait_for(wait, &format!("counter to reach {}", first + 3), || {
        later = read_counter(b);
        later >= first + 3
    });
}

/// A static C program holding `argv[1]` MiB of memory (every page
/// written) that counts into /out/counter like [`COUNTER`].
pub const MEMHOG_C: &str = r#"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
int main(int argc, char **argv) {
    size_t mb = argc > 1 ? strtoul(argv[1], 0, 10) : 64;
    char *p = malloc(mb << 20);
    if (!p) return 1;
    for (size_t i = 0; i < (mb << 20); i += 4096) p[i] = (char)(i >> 12) | 1;
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

/// A bundle running [`MEMHOG_C`] with `mb` MiB, counting into /out.
pub fn memhog_bundle(mb: u32) -> Bundle {
    let mut b = Bundle::new(&["/memhog", &mb.to_string()]);
    std::fs::copy(
        static_program("memhog", MEMHOG_C),
        b.rootfs().join("memhog"),
    )
    .expect("copy memhog");
    b.out_dir();
    b.save();
    b
}

// ---------------------------------------------------------------------------
// Host helpers
// ---------------------------------------------------------------------------

/// Compiles a small static C program (once per test process) and returns
/// its path; test rootfses get a copy.
pub fn static_program(name: &str, source: &str) -> PathBuf {
    static DIR: OnceLock<TempDir> = OnceLock::new();
    let dir = DIR.get_or_init(|| {
        tempfile::Builder::new()
            .prefix("cryo-e2e-progs.")
            .tempdir()
            .expect("create program dir")
    });
    let bin = dir.path().join(name);
    if bin.exists() {
        return bin;
    }
    let src = dir.path().join(format!("{name}.c"));
    std::fs::write(&src, source).expect("write C source");
    let tmp = dir.path().join(format!(".{name}.{}", std::process::id()));
    let out = Command::new("gcc")
        .args(["-static", "-O2", "-o"])
        .arg(&tmp)
        .arg(&src)
        .output()
        .unwrap_or_else(|e| panic!("run gcc: {e}"));
    assert!(
        out.status.success(),
        "gcc {name}.c failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    std::fs::rename(&tmp, &bin).expect("rename program");
    bin
}

/// One parsed line of /proc/<pid>/mountinfo.
#[derive(Debug, Clone)]
pub struct MountInfo {
    pub root: String,
    pub mount_point: String,
    pub mount_options: Vec<String>,
    pub optional: Vec<String>,
    pub fstype: String,
    pub source: String,
    pub super_options: Vec<String>,
}

impl MountInfo {
    pub fn has_opt(&self, o: &str) -> bool {
        self.mount_options.iter().any(|x| x == o)
    }
    pub fn has_super_opt(&self, o: &str) -> bool {
        self.super_options.iter().any(|x| x == o)
    }
}

/// Parse mountinfo text.
pub fn parse_mountinfo(text: &str) -> Vec<MountInfo> {
    text.lines()
        .filter_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            let dash = f.iter().position(|x| *x == "-")?;
            if dash < 6 || f.len() < dash + 3 {
                return None;
            }
            Some(MountInfo {
                root: f[3].to_string(),
                mount_point: f[4].to_string(),
                mount_options: f[5].split(',').map(String::from).collect(),
                optional: f[6..dash].iter().map(|s| s.to_string()).collect(),
                fstype: f[dash + 1].to_string(),
                source: f[dash + 2].to_string(),
                super_options: f
                    .get(dash + 3)
                    .map(|s| s.split(',').map(String::from).collect())
                    .unwrap_or_default(),
            })
        })
        .collect()
}

/// The last (top-most) mount at `mount_point`, if any.
pub fn find_mount<'a>(mounts: &'a [MountInfo], mount_point: &str) -> Option<&'a MountInfo> {
    mounts.iter().rev().find(|m| m.mount_point == mount_point)
}

/// Path of a cgroup v1 directory, e.g. `cgroup_v1_dir("memory", "/cryo-e2e/x")`.
pub fn cgroup_v1_dir(subsystem: &str, path: &str) -> PathBuf {
    PathBuf::from("/sys/fs/cgroup")
        .join(subsystem)
        .join(path.trim_start_matches('/'))
}

/// Read a cgroup file, trimmed.
pub fn read_trim(p: &Path) -> String {
    std::fs::read_to_string(p)
        .unwrap_or_else(|e| panic!("read {}: {e}", p.display()))
        .trim()
        .to_string()
}

/// Runs a host command and asserts success.
pub fn host_ok(prog: &str, args: &[&str]) -> String {
    let mut c = Command::new(prog);
    c.args(args).stdin(Stdio::null());
    let out = output_timeout(c, CMD_TIMEOUT);
    assert!(out.success(), "host command failed\n{out}");
    out.stdout
}

/// A host mount that is lazily unmounted on drop.
pub struct HostMount(pub PathBuf);

impl HostMount {
    /// `mount -t tmpfs tmpfs <at>`
    pub fn tmpfs(at: &Path) -> HostMount {
        let p = at.to_str().expect("utf-8");
        host_ok("mount", &["-t", "tmpfs", "-o", "size=64m", "tmpfs", p]);
        HostMount(at.to_path_buf())
    }
}

impl Drop for HostMount {
    fn drop(&mut self) {
        let _ = Command::new("umount")
            .arg("-l")
            .arg(&self.0)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
}

/// A host process that is killed on drop (e.g. a namespace holder).
pub struct HostProcess(pub Child);

impl HostProcess {
    pub fn spawn(prog: &str, args: &[&str]) -> HostProcess {
        let child = Command::new(prog)
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("spawn {prog}: {e}"));
        HostProcess(child)
    }
    pub fn pid(&self) -> u32 {
        self.0.id()
    }
}

impl Drop for HostProcess {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

// ---------------------------------------------------------------------------
// Console socket
// ---------------------------------------------------------------------------

/// A listening AF_UNIX socket for `--console-socket`.
pub struct ConsoleSocket {
    _dir: TempDir,
    path: PathBuf,
    listener: UnixListener,
}

impl Default for ConsoleSocket {
    fn default() -> Self {
        Self::new()
    }
}

impl ConsoleSocket {
    pub fn new() -> ConsoleSocket {
        let dir = tempfile::Builder::new()
            .prefix("cryo-e2e-console.")
            .tempdir()
            .expect("tempdir");
        let path = dir.path().join("console.sock");
        let listener = UnixListener::bind(&path).expect("bind console socket");
        listener.set_nonblocking(true).expect("nonblocking");
        ConsoleSocket {
            _dir: dir,
            path,
            listener,
        }
    }

    pub fn path_str(&self) -> &str {
        self.path.to_str().expect("utf-8")
    }

    /// Accept one connection and receive the pty master fd (SCM_RIGHTS).
    pub fn recv_master(&self, timeout: Duration) -> OwnedFd {
        let deadline = Instant::now() + timeout;
        let stream = loop {
            match self.listener.accept() {
                Ok((s, _)) => break s,
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                    assert!(
                        Instant::now() < deadline,
                        "no connection on the console socket within {timeout:?}"
                    );
                    std::thread::sleep(Duration::from_millis(10));
                }
                Err(e) => panic!("accept on console socket: {e}"),
            }
        };
        stream.set_nonblocking(false).expect("blocking");
        stream
            .set_read_timeout(Some(timeout))
            .expect("read timeout");
        recv_fd(stream.as_raw_fd())
    }
}

fn recv_fd(sock: RawFd) -> OwnedFd {
    let mut data = [0u8; 4096];
    let mut iov = libc::iovec {
        iov_base: data.as_mut_ptr().cast(),
        iov_len: data.len(),
    };
    // 8-byte aligned buffer large enough for a few fds.
    let mut cmsg_buf = [0u64; 16];
    // SAFETY: msghdr is a plain C struct; all-zero is a valid value.
    let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
    msg.msg_iov = &mut iov;
    msg.msg_iovlen = 1;
    msg.msg_control = cmsg_buf.as_mut_ptr().cast();
    msg.msg_controllen = std::mem::size_of_val(&cmsg_buf) as _;
    // SAFETY: msg points at valid buffers that outlive the call.
    let n = unsafe { libc::recvmsg(sock, &mut msg, libc::MSG_CMSG_CLOEXEC) };
    assert!(
        n >= 0,
        "recvmsg on console socket: {}",
        std::io::Error::last_os_error()
    );
    let mut fds = Vec::new();
    // SAFETY: msg was filled in by recvmsg; CMSG_* walk the control buffer we own.
    unsafe {
        let mut cmsg = libc::CMSG_FIRSTHDR(&msg);
        while !cmsg.is_null() {
            if (*cmsg).cmsg_level == libc::SOL_SOCKET && (*cmsg).cmsg_type == libc::SCM_RIGHTS {
                let payload = (*cmsg).cmsg_len as usize - libc::CMSG_LEN(0) as usize;
                let count = payload / std::mem::size_of::<RawFd>();
                let p = libc::CMSG_DATA(cmsg).cast::<RawFd>();
                for i in 0..count {
                    fds.push(std::ptr::read_unaligned(p.add(i)));
                }
            }
            cmsg = libc::CMSG_NXTHDR(&msg, cmsg);
        }
    }
    assert_eq!(
        fds.len(),
        1,
        "expected exactly one fd over the console socket, got {fds:?}"
    );
    // SAFETY: the kernel just installed this fd in our table; we own it.
    unsafe { OwnedFd::from_raw_fd(fds[0]) }
}

/// Read from a pty master until the slave side is closed (EIO/EOF) or timeout.
pub fn read_pty(master: &OwnedFd, timeout: Duration) -> String {
    let deadline = Instant::now() + timeout;
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            panic!(
                "pty not closed within {timeout:?}; read so far: {:?}",
                String::from_utf8_lossy(&out)
            );
        }
        let mut pfd = libc::pollfd {
            fd: master.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        };
        // SAFETY: pfd is a valid pollfd for the duration of the call.
        let r = unsafe { libc::poll(&mut pfd, 1, left.as_millis().min(1000) as i32) };
        if r < 0 {
            let e = std::io::Error::last_os_error();
            if e.kind() == std::io::ErrorKind::Interrupted {
                continue;
            }
            panic!("poll pty: {e}");
        }
        if r == 0 {
            continue;
        }
        // SAFETY: buf is a valid writable buffer of the given length.
        let n = unsafe { libc::read(master.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len()) };
        if n > 0 {
            out.extend_from_slice(&buf[..n as usize]);
        } else if n == 0 {
            break;
        } else {
            let e = std::io::Error::last_os_error();
            match e.raw_os_error() {
                Some(libc::EIO) => break,
                Some(libc::EINTR) | Some(libc::EAGAIN) => continue,
                _ => panic!("read pty: {e}"),
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Bytes of a path as &str (panics on non-UTF-8).
pub fn path_str(p: &Path) -> &str {
    p.to_str()
        .unwrap_or_else(|| panic!("non-UTF-8 path {:?}", OsStr::as_bytes(p.as_os_str())))
}
