//! Behaviour tests: profiles are compiled here, in the test (parent)
//! process, and the program is installed by a child process, exactly as the
//! runtime does it (compile before fork, install right before execve).
//!
//! The child is this very test binary, re-executed with `CHILD_ROLE` set:
//! it runs only the `child_entry` test, which decodes the program passed in
//! the environment, installs it, checks what the role expects and exits
//! with 0 (all good) or 1 (details on stderr). No `unsafe` needed.

use std::io::{IoSliceMut, Read};
use std::os::fd::{AsFd, AsRawFd, RawFd};
use std::os::unix::net::{UnixDatagram, UnixListener};
use std::os::unix::process::CommandExt;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use cryo_seccomp::{
    compile, decode_bpf, filter_flags_supported, install_filter, listener_payload, parse_profile,
    send_listener_fd, set_no_new_privs, CompiledFilter, SECCOMP_FILTER_FLAG_NEW_LISTENER,
    SECCOMP_FILTER_FLAG_TSYNC,
};

const CHILD_ROLE: &str = "CRYO_SECCOMP_TEST_ROLE";
const CHILD_PROG: &str = "CRYO_SECCOMP_TEST_PROG";
const CHILD_FLAGS: &str = "CRYO_SECCOMP_TEST_FLAGS";
const CHILD_LISTENER: &str = "CRYO_SECCOMP_TEST_LISTENER";
const CHILD_METADATA: &str = "CRYO_SECCOMP_TEST_METADATA";

const PODMAN: &[u8] = include_bytes!("fixtures/podman-default-seccomp.json");

// ---------------------------------------------------------------- parent side

fn hex(prog: &[libc::sock_filter]) -> String {
    let mut s = String::with_capacity(prog.len() * 16);
    for i in prog {
        let mut b = Vec::with_capacity(8);
        b.extend_from_slice(&i.code.to_ne_bytes());
        b.push(i.jt);
        b.push(i.jf);
        b.extend_from_slice(&i.k.to_ne_bytes());
        for x in b {
            s.push_str(&format!("{x:02x}"));
        }
    }
    s
}

fn compile_json(json: &str) -> CompiledFilter {
    compile(&parse_profile(json.as_bytes()).expect("profile parses")).expect("profile compiles")
}

fn child(role: &str, f: &CompiledFilter) -> Command {
    let mut cmd = Command::new(std::env::current_exe().expect("current_exe"));
    cmd.args(["--exact", "child_entry", "--nocapture", "--test-threads=1"])
        .env(CHILD_ROLE, role)
        .env(CHILD_PROG, hex(&f.program))
        .env(CHILD_FLAGS, f.flags.to_string())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    if let Some(p) = &f.listener_path {
        cmd.env(CHILD_LISTENER, p);
    }
    if let Some(m) = &f.listener_metadata {
        cmd.env(CHILD_METADATA, m);
    }
    cmd
}

fn assert_child_ok(role: &str, out: &Output) {
    assert!(
        out.status.success(),
        "child role {role} failed: {:?}\nstdout:\n{}\nstderr:\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

fn run_child(role: &str, f: &CompiledFilter) {
    let out = child(role, f).output().expect("spawn child");
    assert_child_ok(role, &out);
}

// ----------------------------------------------------------------- child side

/// Entry point of the re-executed child; a no-op in the normal test run.
#[test]
fn child_entry() {
    let Ok(role) = std::env::var(CHILD_ROLE) else {
        return;
    };
    let code = match child_main(&role) {
        Ok(()) => 0,
        Err(msg) => {
            eprintln!("child role {role}: {msg}");
            1
        }
    };
    std::process::exit(code);
}

fn unhex(s: &str) -> Result<Vec<u8>, String> {
    (0..s.len())
        .step_by(2)
        .map(|i| {
            s.get(i..i + 2)
                .and_then(|h| u8::from_str_radix(h, 16).ok())
                .ok_or_else(|| format!("bad hex at {i}"))
        })
        .collect()
}

fn expect_errno<T: std::fmt::Debug>(
    what: &str,
    r: Result<T, std::io::Error>,
    errno: i32,
) -> Result<(), String> {
    match r {
        Err(e) if e.raw_os_error() == Some(errno) => Ok(()),
        other => Err(format!("{what}: expected errno {errno}, got {other:?}")),
    }
}

fn expect_ok<T, E: std::fmt::Debug>(what: &str, r: Result<T, E>) -> Result<(), String> {
    r.map(drop)
        .map_err(|e| format!("{what}: expected success, got {e:?}"))
}

fn child_main(role: &str) -> Result<(), String> {
    let var = |k: &str| std::env::var(k).map_err(|e| format!("{k}: {e}"));
    let prog = decode_bpf(&unhex(&var(CHILD_PROG)?)?).map_err(|e| e.to_string())?;
    let flags: u32 = var(CHILD_FLAGS)?
        .parse()
        .map_err(|e| format!("flags: {e}"))?;
    let listener_path = std::env::var_os(CHILD_LISTENER);
    let metadata = std::env::var(CHILD_METADATA).ok();

    if role == "podman-true" {
        // Before the filter: a private UTS namespace for this thread, so the
        // sethostname probe below can never touch the host's name.
        nix::sched::unshare(nix::sched::CloneFlags::CLONE_NEWUTS)
            .map_err(|e| format!("unshare(CLONE_NEWUTS): {e}"))?;
    }
    if role == "no-nnp-root" {
        // Root (CAP_SYS_ADMIN) may install without no_new_privs.
        let nnp = nix::sys::prctl::get_no_new_privs().map_err(|e| e.to_string())?;
        if nnp {
            return Err(String::from("no_new_privs unexpectedly set"));
        }
    } else {
        set_no_new_privs().map_err(|e| format!("set_no_new_privs: {e}"))?;
    }
    // ------- install: from here on the filter is in force -------
    let listener = install_filter(&prog, flags).map_err(|e| format!("install_filter: {e}"))?;

    match role {
        "errno" | "no-nnp-root" => {
            if listener.is_some() {
                return Err(String::from("unexpected listener fd"));
            }
            let dir =
                std::env::temp_dir().join(format!("cryo-seccomp-mkdir-{}", std::process::id()));
            expect_errno("mkdir", std::fs::create_dir(&dir), libc::EPERM)?;
            expect_errno("getcwd", std::env::current_dir(), 42)?;
            expect_ok("stat /", std::fs::metadata("/"))?;
        }
        "args" => {
            let me = nix::unistd::Pid::this();
            let kill = |sig: Option<nix::sys::signal::Signal>| {
                nix::sys::signal::kill(me, sig).map_err(std::io::Error::from)
            };
            // Two conditions on arg 1 split into two rules: either matches.
            expect_errno("kill(self, 0)", kill(None), 44)?;
            expect_errno(
                "kill(self, SIGWINCH)",
                kill(Some(nix::sys::signal::Signal::SIGWINCH)),
                44,
            )?;
            // SIGURG is ignored by default: harmless when allowed.
            expect_ok(
                "kill(self, SIGURG)",
                kill(Some(nix::sys::signal::Signal::SIGURG)),
            )?;
            // AF_INET && (type & 0xf) == SOCK_DGRAM, in one rule.
            expect_errno("udp socket", std::net::UdpSocket::bind("127.0.0.1:0"), 45)?;
            expect_ok("tcp socket", std::net::TcpListener::bind("127.0.0.1:0"))?;
            expect_ok("unix dgram socket", UnixDatagram::unbound())?;
        }
        "default-errno" => {
            // Only exit/exit_group/write/... are allowed.
            expect_errno("getcwd", std::env::current_dir(), libc::EPERM)?;
            expect_errno("stat /", std::fs::metadata("/"), libc::EPERM)?;
        }
        "podman-true" => {
            if listener.is_some() {
                return Err(String::from("unexpected listener fd"));
            }
            // Unconditional SCMP_ACT_ERRNO(EPERM) rule of the profile. The
            // thread has a private UTS namespace (unshared before the filter
            // went in), so this would be harmless even if it were allowed.
            expect_errno(
                "sethostname (private uts ns)",
                nix::unistd::sethostname("cryo-seccomp-test").map_err(std::io::Error::from),
                libc::EPERM,
            )?;
            // setns is listed twice, ALLOW then ERRNO(EPERM), without
            // conditions: libseccomp keeps the first rule, so it is allowed
            // (as with runc and crun). Joining our own namespace is a no-op.
            let uts = std::fs::File::open("/proc/thread-self/ns/uts").map_err(|e| e.to_string())?;
            expect_ok(
                "setns(own uts)",
                nix::sched::setns(uts.as_fd(), nix::sched::CloneFlags::CLONE_NEWUTS),
            )?;
            // Conditional rule: socket(AF_NETLINK, *, NETLINK_AUDIT) -> EINVAL.
            expect_errno(
                "socket(AF_NETLINK, NETLINK_AUDIT)",
                nix::sys::socket::socket(
                    nix::sys::socket::AddressFamily::Netlink,
                    nix::sys::socket::SockType::Raw,
                    nix::sys::socket::SockFlag::SOCK_CLOEXEC,
                    nix::sys::socket::SockProtocol::NetlinkAudit,
                )
                .map_err(std::io::Error::from),
                libc::EINVAL,
            )?;
            expect_ok(
                "socket(AF_NETLINK, NETLINK_ROUTE)",
                nix::sys::socket::socket(
                    nix::sys::socket::AddressFamily::Netlink,
                    nix::sys::socket::SockType::Raw,
                    nix::sys::socket::SockFlag::SOCK_CLOEXEC,
                    nix::sys::socket::SockProtocol::NetlinkRoute,
                ),
            )?;
            // What a container does next: execve. Only returns on failure.
            let e = Command::new("/bin/true").exec();
            return Err(format!("exec /bin/true: {e}"));
        }
        "notify" => {
            let fd = listener.ok_or("no listener fd although NEW_LISTENER was requested")?;
            let path = listener_path.ok_or("no listener path")?;
            let state = serde_json::json!({"ociVersion": "1.2.0", "id": "seccomp-test", "status": "creating"});
            let payload = listener_payload(
                "1.2.0",
                i32::try_from(std::process::id()).map_err(|e| e.to_string())?,
                metadata.as_deref(),
                &state,
            )
            .map_err(|e| e.to_string())?;
            send_listener_fd(path.as_ref(), fd.as_fd(), &payload).map_err(|e| e.to_string())?;
            drop(fd);
            // Blocks until the agent (the parent test) answers -46.
            expect_errno("getcwd (notified)", std::env::current_dir(), 46)?;
        }
        other => return Err(format!("unknown role {other}")),
    }
    Ok(())
}

// ---------------------------------------------------------------------- tests

#[test]
fn errno_rules_apply_in_child() {
    // TSYNC too: libtest's child has more than one thread.
    let f = compile_json(
        r#"{"defaultAction":"SCMP_ACT_ALLOW","flags":["SECCOMP_FILTER_FLAG_TSYNC"],"syscalls":[
            {"names":["mkdir","mkdirat"],"action":"SCMP_ACT_ERRNO"},
            {"names":["getcwd"],"action":"SCMP_ACT_ERRNO","errnoRet":42}]}"#,
    );
    assert_eq!(f.flags, SECCOMP_FILTER_FLAG_TSYNC);
    run_child("errno", &f);
}

#[test]
fn arg_conditions_apply_in_child() {
    let f = compile_json(&format!(
        r#"{{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[
            {{"names":["kill"],"action":"SCMP_ACT_ERRNO","errnoRet":44,"args":[
                {{"index":1,"value":0,"op":"SCMP_CMP_EQ"}},{{"index":1,"value":{winch},"op":"SCMP_CMP_EQ"}}]}},
            {{"names":["socket"],"action":"SCMP_ACT_ERRNO","errnoRet":45,"args":[
                {{"index":0,"value":{inet},"op":"SCMP_CMP_EQ"}},
                {{"index":1,"value":15,"valueTwo":{dgram},"op":"SCMP_CMP_MASKED_EQ"}}]}}]}}"#,
        winch = libc::SIGWINCH,
        inet = libc::AF_INET,
        dgram = libc::SOCK_DGRAM,
    ));
    run_child("args", &f);
}

#[test]
fn default_errno_with_allow_list() {
    let f = compile_json(
        r#"{"defaultAction":"SCMP_ACT_ERRNO","syscalls":[
            {"names":["exit","exit_group","write","futex","munmap","sigaltstack","rt_sigprocmask"],
             "action":"SCMP_ACT_ALLOW"}]}"#,
    );
    run_child("default-errno", &f);
}

#[test]
fn podman_default_profile_loads_and_runs_true() {
    let f = compile(&parse_profile(PODMAN).expect("podman profile parses"))
        .expect("podman profile compiles");
    run_child("podman-true", &f);
}

#[test]
fn root_installs_without_no_new_privs() {
    assert!(
        nix::unistd::geteuid().is_root(),
        "this test needs root (CAP_SYS_ADMIN), run the suite as root"
    );
    let f = compile_json(
        r#"{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[
            {"names":["mkdir","mkdirat"],"action":"SCMP_ACT_ERRNO"},
            {"names":["getcwd"],"action":"SCMP_ACT_ERRNO","errnoRet":42}]}"#,
    );
    run_child("no-nnp-root", &f);
}

#[test]
fn install_rejects_empty_and_oversized_programs() {
    // Fails before any seccomp(2) call: nothing is attached to this process.
    let e = install_filter(&[], 0).err().and_then(|e| e.raw_os_error());
    assert_eq!(e, Some(libc::EINVAL));
    let nop = libc::sock_filter {
        code: 0x06,
        jt: 0,
        jf: 0,
        k: 0x7fff_0000,
    };
    let big = vec![nop; cryo_seccomp::BPF_MAXINSNS + 1];
    let e = install_filter(&big, 0).err().and_then(|e| e.raw_os_error());
    assert_eq!(e, Some(libc::EINVAL));
}

#[test]
fn kernel_flag_probe() {
    assert!(filter_flags_supported(0));
    assert!(filter_flags_supported(SECCOMP_FILTER_FLAG_TSYNC));
    assert!(filter_flags_supported(SECCOMP_FILTER_FLAG_NEW_LISTENER));
    assert!(!filter_flags_supported(1 << 31));
    // The kernel refuses TSYNC|NEW_LISTENER without TSYNC_ESRCH.
    assert!(!filter_flags_supported(
        SECCOMP_FILTER_FLAG_TSYNC | SECCOMP_FILTER_FLAG_NEW_LISTENER
    ));
}

/// The seccomp agent: accepts the child's connection, checks the payload,
/// takes the listener fd and answers the notified `getcwd` with `-46`.
fn agent(listener: UnixListener, child_pid: u32) -> Result<(), String> {
    let (mut conn, _) = listener.accept().map_err(|e| format!("accept: {e}"))?;
    let mut buf = vec![0u8; 64 * 1024];
    let mut iov = [IoSliceMut::new(&mut buf)];
    let mut space = nix::cmsg_space!([RawFd; 1]);
    let msg = nix::sys::socket::recvmsg::<()>(
        conn.as_raw_fd(),
        &mut iov,
        Some(&mut space),
        nix::sys::socket::MsgFlags::MSG_CMSG_CLOEXEC,
    )
    .map_err(|e| format!("recvmsg: {e}"))?;
    let mut fds = Vec::new();
    for c in msg.cmsgs().map_err(|e| e.to_string())? {
        if let nix::sys::socket::ControlMessageOwned::ScmRights(v) = c {
            fds.extend(v);
        }
    }
    let n = msg.bytes;
    let mut payload = buf.get(..n).unwrap_or_default().to_vec();
    // The rest of the payload, if the stream split it (the child keeps the
    // connection open until it exits, so read only with a short timeout).
    conn.set_read_timeout(Some(Duration::from_millis(200)))
        .map_err(|e| e.to_string())?;
    let mut rest = Vec::new();
    let _ = conn.read_to_end(&mut rest);
    payload.extend(rest);
    let [fd] = fds[..] else {
        return Err(format!("expected exactly one fd, got {fds:?}"));
    };
    let answer = (|| -> Result<(), String> {
        let v: serde_json::Value =
            serde_json::from_slice(&payload).map_err(|e| format!("payload is not JSON: {e}"))?;
        if v["fds"] != serde_json::json!(["seccompFd"])
            || v["metadata"] != "hello-agent"
            || v["ociVersion"] != "1.2.0"
            || v["state"]["id"] != "seccomp-test"
            || v["pid"].as_i64() != Some(i64::from(child_pid))
        {
            return Err(format!("unexpected payload {v}"));
        }
        let req = libseccomp::ScmpNotifReq::receive(fd).map_err(|e| format!("receive: {e}"))?;
        let name = req.data.syscall.get_name().map_err(|e| e.to_string())?;
        // req.pid is the notifying thread's id: one of the child's tasks.
        let task = format!("/proc/{child_pid}/task/{}", req.pid);
        if name != "getcwd" || !std::path::Path::new(&task).exists() {
            return Err(format!(
                "notified {name} from tid {}, expected getcwd from a thread of {child_pid}",
                req.pid
            ));
        }
        libseccomp::ScmpNotifResp::new_error(req.id, -46, libseccomp::ScmpNotifRespFlags::empty())
            .respond(fd)
            .map_err(|e| format!("respond: {e}"))
    })();
    let _ = nix::unistd::close(fd);
    answer
}

#[test]
fn notify_listener_round_trip() {
    let dir = tempfile::tempdir().expect("tempdir");
    let sock = dir.path().join("agent.sock");
    let listener = UnixListener::bind(&sock).expect("bind agent socket");
    let f = compile_json(&format!(
        r#"{{"defaultAction":"SCMP_ACT_ALLOW","listenerPath":"{}","listenerMetadata":"hello-agent",
            "syscalls":[{{"names":["getcwd"],"action":"SCMP_ACT_NOTIFY"}}]}}"#,
        sock.display()
    ));
    assert!(f.notify);
    assert_ne!(f.flags & SECCOMP_FILTER_FLAG_NEW_LISTENER, 0);

    let mut proc = child("notify", &f).spawn().expect("spawn child");
    let pid = proc.id();
    // The agent runs in a thread so that a broken child cannot hang the
    // test: we give up on it after the deadline (and kill the child).
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(agent(listener, pid));
    });
    let timeout = Duration::from_secs(30);
    let agent_result = rx
        .recv_timeout(timeout)
        .unwrap_or_else(|_| Err(String::from("agent timed out")));
    let deadline = Instant::now() + timeout;
    let exited = loop {
        match proc.try_wait() {
            Ok(Some(_)) => break true,
            Ok(None) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(20)),
            _ => {
                let _ = proc.kill();
                break false;
            }
        }
    };
    let out = proc.wait_with_output().expect("child output");
    if let Err(e) = agent_result {
        panic!(
            "agent side: {e}\nchild stderr:\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    assert!(exited, "child did not exit in time");
    assert_child_ok("notify", &out);
}
