//! The container's side of `create`: the code that runs in the processes
//! cryo forks, up to the execve of the user's program.
//!
//! Stage 1 (a plain fork of `cryo create`) joins and creates namespaces;
//! because a new pid (or time) namespace applies only to children, it forks
//! stage 2 as a sibling (CLONE_PARENT) so the container init is a direct
//! child of `cryo create`/`cryo run`, reports that pid and exits. Stage 2 is
//! the init: it builds the rootfs, drops privileges, tells the parent it is
//! ready and waits on the start socket for `cryo start`, then execs.

use std::collections::BTreeMap;
use std::ffi::CString;
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use cryo_sys::process as p;
use oci_spec::runtime::{LinuxNamespaceType, Spec};

use crate::hooks::{self, HookKind};
use crate::rootfs::{self, InitResult};
use crate::sync::SyncSocket;

pub const CLONE_NEWTIME: i32 = 0x80;

/// Everything the forked processes need, prepared by the parent.
pub struct InitPlan<'a> {
    pub id: String,
    pub spec: &'a Spec,
    pub bundle: PathBuf,
    pub rootfs: PathBuf,
    pub namespaces: NamespacePlan,
    pub console: Option<OwnedFd>,
    pub listener: Option<OwnedFd>,
    pub preserve_fds: i32,
    pub no_pivot: bool,
    pub no_new_keyring: bool,
    pub cgroup_paths: BTreeMap<String, PathBuf>,
    pub seccomp: Option<&'a cryo_seccomp::CompiledFilter>,
}

/// Namespaces to join (opened fds) and to create (clone flags).
#[derive(Default)]
pub struct NamespacePlan {
    pub join_user: Option<OwnedFd>,
    pub join: Vec<(i32, OwnedFd)>,
    pub new_user: bool,
    pub new_flags: i32,
    pub has_mount_ns: bool,
    pub has_uts_ns: bool,
}

pub fn ns_flag(t: LinuxNamespaceType) -> i32 {
    match t {
        LinuxNamespaceType::Mount => libc::CLONE_NEWNS,
        LinuxNamespaceType::Cgroup => libc::CLONE_NEWCGROUP,
        LinuxNamespaceType::Uts => libc::CLONE_NEWUTS,
        LinuxNamespaceType::Ipc => libc::CLONE_NEWIPC,
        LinuxNamespaceType::User => libc::CLONE_NEWUSER,
        LinuxNamespaceType::Pid => libc::CLONE_NEWPID,
        LinuxNamespaceType::Network => libc::CLONE_NEWNET,
        LinuxNamespaceType::Time => CLONE_NEWTIME,
    }
}

/// Stage 1. Never returns: exits after reporting the init's pid.
pub fn stage1(plan: InitPlan, sync: SyncSocket) -> ! {
    let code = match stage1_inner(plan, &sync) {
        Ok(()) => 0,
        Err(e) => {
            let _ = sync.send(&format!("error {e}"));
            1
        }
    };
    p::exit_now(code)
}

fn errno(context: impl std::fmt::Display, e: nix::errno::Errno) -> String {
    format!("{context}: {}", crate::error::errno_text(e))
}

fn stage1_inner(mut plan: InitPlan, sync: &SyncSocket) -> InitResult<()> {
    // The parent moves us into the cgroup first; wait for it.
    sync.expect("go").map_err(|e| e.to_string())?;
    p::set_dumpable(false).map_err(|e| errno("prctl dumpable", e))?;
    let ns = std::mem::take(&mut plan.namespaces);
    if let Some(fd) = &ns.join_user {
        p::setns(fd, libc::CLONE_NEWUSER).map_err(|e| errno("join user namespace", e))?;
    }
    for (flag, fd) in &ns.join {
        p::setns(fd, *flag).map_err(|e| errno(format!("join namespace {}", ns_name(*flag)), e))?;
    }
    if ns.new_user {
        p::unshare(libc::CLONE_NEWUSER).map_err(|e| errno("unshare user namespace", e))?;
        sync.send("idmap").map_err(|e| e.to_string())?;
        sync.expect("idmap-done").map_err(|e| e.to_string())?;
    }
    if ns.new_user || ns.join_user.is_some() {
        p::set_credentials(0, 0, &[], false)
            .map_err(|e| errno("become root in the user namespace", e))?;
    }
    if ns.new_flags != 0 {
        p::unshare(ns.new_flags).map_err(|e| errno("unshare namespaces", e))?;
    }
    if ns.new_flags & libc::CLONE_NEWNET != 0 {
        // A new network namespace gets its loopback up, as with runc.
        cryo_sys::net::loopback_up().map_err(|e| errno("bring up lo", e))?;
    }
    if ns.new_flags & CLONE_NEWTIME != 0 {
        write_time_offsets(plan.spec)?;
    }
    // Stage 1 and the init both write to the one sync socket, and the
    // parent must read the init's pid before anything the init says: the
    // init waits until stage 1 is done (its end of this pipe closed).
    // Without this, a stage 1 descheduled right after the fork (many
    // creates at once on few cores) let "ready" arrive first, and create
    // failed with "container init did not report its pid".
    let (pid_sent_r, pid_sent_w) =
        nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).map_err(|e| errno("create pipe", e))?;
    match p::fork_sibling().map_err(|e| errno("fork container init", e))? {
        p::Forked::Parent(pid) => {
            drop(pid_sent_r);
            sync.send(&format!("pid {}", pid.as_raw()))
                .map_err(|e| e.to_string())?;
            drop(pid_sent_w);
            Ok(())
        }
        p::Forked::Child => {
            drop(pid_sent_w);
            wait_closed(pid_sent_r);
            let code = match stage2(
                plan,
                ns.new_user || ns.join_user.is_some(),
                ns.has_mount_ns,
                ns.has_uts_ns,
                sync,
            ) {
                Ok(never) => match never {},
                Err(e) => {
                    let _ = sync.send(&format!("error {e}"));
                    1
                }
            };
            p::exit_now(code)
        }
    }
}

/// Blocks until every writer of the pipe `r` has closed it.
fn wait_closed(r: OwnedFd) {
    let mut buf = [0u8; 1];
    loop {
        match nix::unistd::read(&r, &mut buf) {
            Err(nix::errno::Errno::EINTR) | Ok(1..) => continue,
            Ok(0) | Err(_) => return,
        }
    }
}

fn ns_name(flag: i32) -> &'static str {
    match flag {
        libc::CLONE_NEWNS => "mnt",
        libc::CLONE_NEWCGROUP => "cgroup",
        libc::CLONE_NEWUTS => "uts",
        libc::CLONE_NEWIPC => "ipc",
        libc::CLONE_NEWUSER => "user",
        libc::CLONE_NEWPID => "pid",
        libc::CLONE_NEWNET => "net",
        CLONE_NEWTIME => "time",
        _ => "unknown",
    }
}

fn write_time_offsets(spec: &Spec) -> InitResult<()> {
    let Some(offsets) = spec
        .linux()
        .as_ref()
        .and_then(|l| l.time_offsets().as_ref())
    else {
        return Ok(());
    };
    let mut text = String::new();
    for (clock, off) in offsets {
        let clock = match clock.as_str() {
            "monotonic" | "boottime" => clock.as_str(),
            other => {
                return Err(format!(
                    "timeOffsets: unknown clock {other:?} (monotonic or boottime)"
                ))
            }
        };
        text.push_str(&format!(
            "{clock} {} {}\n",
            off.secs().unwrap_or(0),
            off.nanosecs().unwrap_or(0)
        ));
    }
    std::fs::write("/proc/self/timens_offsets", text)
        .map_err(|e| format!("write timens_offsets: {}", crate::error::io_text(&e)))
}

enum Never {}

/// Stage 2: the container init.
fn stage2(
    plan: InitPlan,
    in_user_ns: bool,
    has_mount_ns: bool,
    has_uts_ns: bool,
    sync: &SyncSocket,
) -> InitResult<Never> {
    let spec = plan.spec;
    let process = spec.process().as_ref().ok_or("process must be specified")?;
    p::setsid().map_err(|e| errno("setsid", e))?;
    if !plan.no_new_keyring {
        // ENOSYS/EACCES: no keyrings here (e.g. a seccomp profile denies keyctl).
        match p::join_session_keyring(&format!("_ses.{}", plan.id)) {
            Ok(()) | Err(nix::errno::Errno::ENOSYS) | Err(nix::errno::Errno::EACCES) => {}
            Err(e) => return Err(errno("join session keyring", e)),
        }
    }
    // Device nodes and mountpoints get exactly the modes asked for.
    cryo_sys::process::umask(0);

    if has_mount_ns {
        rootfs::setup(&rootfs::RootfsPlan {
            spec,
            rootfs: &plan.rootfs,
            bundle: &plan.bundle,
            cgroup_paths: &plan.cgroup_paths,
            in_user_ns,
        })?;
    } else {
        return Err(
            "a mount namespace is required (linux.namespaces must include \"mount\")".into(),
        );
    }

    // Hooks: prestart and createRuntime run in the parent (runtime
    // namespaces) now that our namespaces and mounts exist; it answers with
    // the state document the in-container hooks get on stdin.
    let hooks = spec.hooks().as_ref();
    let mut hook_state = Vec::new();
    if hooks.is_some_and(|h| {
        [
            HookKind::Prestart,
            HookKind::CreateRuntime,
            HookKind::CreateContainer,
            HookKind::StartContainer,
        ]
        .iter()
        .any(|k| !k.of(h).is_empty())
    }) {
        sync.send("hooks").map_err(|e| e.to_string())?;
        match sync.recv().map_err(|e| e.to_string())? {
            Some(m) if m.starts_with("state ") => hook_state = m.into_bytes().split_off(6),
            Some(m) => return Err(m.strip_prefix("error ").unwrap_or(&m).to_string()),
            None => return Err("sync: parent closed while running hooks".into()),
        }
        hooks::run_all(hooks, HookKind::CreateContainer, &hook_state)?;
    }
    rootfs::pivot(&plan.rootfs, plan.no_pivot)?;

    // Sysctls go to the container's own /proc.
    if let Some(sysctl) = spec.linux().as_ref().and_then(|l| l.sysctl().as_ref()) {
        for (k, v) in sysctl {
            write_sysctl(k, v)?;
        }
    }
    rootfs::finish(spec)?;

    if let Some(h) = spec.hostname().as_deref() {
        if !h.is_empty() {
            if !has_uts_ns {
                return Err("unable to set hostname without a private UTS namespace".into());
            }
            p::sethostname(h).map_err(|e| errno("sethostname", e))?;
        }
    }
    if let Some(d) = spec.domainname().as_deref() {
        if !d.is_empty() {
            if !has_uts_ns {
                return Err("unable to set domainname without a private UTS namespace".into());
            }
            p::setdomainname(d).map_err(|e| errno("setdomainname", e))?;
        }
    }

    crate::process_attrs::apply_personality(
        spec.linux().as_ref().and_then(|l| l.personality().as_ref()),
    )?;
    let ready = prepare_process(
        process,
        plan.console.as_ref(),
        plan.preserve_fds,
        in_user_ns,
        plan.seccomp,
        sync,
    )?;
    let (path, args, env, arg0, seccomp_pending) = (
        ready.path,
        ready.args,
        ready.env,
        ready.arg0,
        ready.seccomp_pending,
    );

    let listener = plan.listener.as_ref().ok_or("no start socket")?;
    sync.send("ready").map_err(|e| e.to_string())?;
    let conn = wait_for_start(listener)?;
    if let Err(e) = hooks::run_all(hooks, HookKind::StartContainer, &hook_state) {
        let _ = nix::sys::socket::send(
            conn.as_raw_fd(),
            e.as_bytes(),
            nix::sys::socket::MsgFlags::MSG_NOSIGNAL,
        );
        return Err(e);
    }
    p::reset_signals().map_err(|e| errno("reset signals", e))?;
    if let Some(filter) = seccomp_pending {
        if let Err(e) = install_seccomp(filter, sync) {
            let _ = nix::sys::socket::send(
                conn.as_raw_fd(),
                e.as_bytes(),
                nix::sys::socket::MsgFlags::MSG_NOSIGNAL,
            );
            return Err(e);
        }
    }
    let err = p::execve(&path, &args, &env);
    let msg = format!("exec {:?}: {}", arg0, crate::error::errno_text(err));
    let _ = nix::sys::socket::send(
        conn.as_raw_fd(),
        msg.as_bytes(),
        nix::sys::socket::MsgFlags::MSG_NOSIGNAL,
    );
    Err(msg)
}

/// A process ready to exec: privileges dropped, cwd set, program found.
pub(crate) struct Prepared<'a> {
    pub path: CString,
    pub args: Vec<CString>,
    pub env: Vec<CString>,
    pub arg0: String,
    /// A seccomp filter still to install right before execve.
    pub seccomp_pending: Option<&'a cryo_seccomp::CompiledFilter>,
}

/// What the container init and `exec` processes share: terminal, limits,
/// credentials, capabilities, no_new_privs, umask, cwd, program lookup and
/// closing every fd the process must not inherit.
pub(crate) fn prepare_process<'a>(
    process: &oci_spec::runtime::Process,
    console: Option<&OwnedFd>,
    preserve_fds: i32,
    in_user_ns: bool,
    seccomp: Option<&'a cryo_seccomp::CompiledFilter>,
    sync: &SyncSocket,
) -> InitResult<Prepared<'a>> {
    if process.terminal() == Some(true) {
        setup_terminal(console, process)?;
    }
    crate::process_attrs::apply_priorities(process)?;

    if let Some(score) = process.oom_score_adj() {
        std::fs::write("/proc/self/oom_score_adj", score.to_string()).map_err(|e| {
            format!(
                "set oom_score_adj to {score}: {}",
                crate::error::io_text(&e)
            )
        })?;
    }
    for rl in process.rlimits().iter().flatten() {
        let res = rlimit_number(&format!("{:?}", rl.typ()))?;
        p::setrlimit(res, rl.soft(), rl.hard())
            .map_err(|e| errno(format!("setrlimit {:?}", rl.typ()), e))?;
    }

    // Build the exec arguments before dropping privileges.
    let args: Vec<CString> = process
        .args()
        .iter()
        .flatten()
        .map(|a| {
            CString::new(a.as_str()).map_err(|_| format!("argument {a:?} contains a NUL byte"))
        })
        .collect::<InitResult<_>>()?;
    let mut env: Vec<CString> = process
        .env()
        .iter()
        .flatten()
        .map(|e| CString::new(e.as_str()).map_err(|_| format!("env {e:?} contains a NUL byte")))
        .collect::<InitResult<_>>()?;
    // Like runc: HOME comes from the container's /etc/passwd when unset.
    if !env.iter().any(|e| e.as_bytes().starts_with(b"HOME=")) {
        let home = home_of(process.user().uid()).unwrap_or_else(|| "/".to_string());
        env.push(CString::new(format!("HOME={home}")).map_err(|_| "HOME contains NUL")?);
    }

    // Credentials and capabilities.
    let user = process.user();
    let caps = process.capabilities().as_ref();
    let set_mask = |set: Option<&oci_spec::runtime::Capabilities>| -> InitResult<u64> {
        let names: Vec<String> = set.into_iter().flatten().map(|c| c.to_string()).collect();
        cryo_oci::caps::mask(names.iter().map(|s| s.as_str()))
            .map_err(|n| format!("unknown capability {n:?}"))
    };
    let bounding = set_mask(caps.and_then(|c| c.bounding().as_ref()))?;
    let effective = set_mask(caps.and_then(|c| c.effective().as_ref()))?;
    let permitted = set_mask(caps.and_then(|c| c.permitted().as_ref()))?;
    let inheritable = set_mask(caps.and_then(|c| c.inheritable().as_ref()))?;
    let ambient = set_mask(caps.and_then(|c| c.ambient().as_ref()))?;

    // Without no_new_privs the filter must go on while we still hold
    // CAP_SYS_ADMIN; with it, as late as possible (after the start wait),
    // unless the agent needs the notify fd before `create` returns.
    let nnp = process.no_new_privileges() == Some(true);
    let mut seccomp_pending = seccomp;
    if let Some(filter) = seccomp_pending.filter(|f| !nnp || f.notify) {
        if nnp {
            p::set_no_new_privs().map_err(|e| errno("set no_new_privs", e))?;
        }
        install_seccomp(filter, sync)?;
        seccomp_pending = None;
    }
    cryo_sys::caps::drop_bounding(bounding).map_err(|e| errno("drop bounding capabilities", e))?;
    cryo_sys::caps::set_keep_caps(true).map_err(|e| errno("keep capabilities", e))?;
    let groups: Vec<u32> = user.additional_gids().iter().flatten().copied().collect();
    let setgroups_allowed = !in_user_ns
        || std::fs::read_to_string("/proc/self/setgroups")
            .map(|s| s.trim() != "deny")
            .unwrap_or(true);
    p::set_credentials(user.uid(), user.gid(), &groups, setgroups_allowed)
        .map_err(|e| errno(format!("set user {}:{}", user.uid(), user.gid()), e))?;
    cryo_sys::caps::set_keep_caps(false).map_err(|e| errno("clear keep capabilities", e))?;
    cryo_sys::caps::set_caps(effective, permitted, inheritable)
        .map_err(|e| errno("set capabilities", e))?;
    cryo_sys::caps::set_ambient(ambient).map_err(|e| errno("set ambient capabilities", e))?;
    if process.no_new_privileges() == Some(true) {
        p::set_no_new_privs().map_err(|e| errno("set no_new_privs", e))?;
    }
    cryo_sys::process::umask(user.umask().unwrap_or(0o022));

    let cwd = process.cwd();
    std::env::set_current_dir(cwd).map_err(|e| {
        format!(
            "chdir to cwd ({:?}) set in config.json failed: {}",
            cwd.display().to_string(),
            crate::error::io_text(&e)
        )
    })?;
    let arg0 = process
        .args()
        .as_ref()
        .and_then(|a| a.first())
        .ok_or("args must not be empty")?;
    let path = look_path(arg0, process.env().as_deref().unwrap_or(&[]))?;

    // Only 0-2 and the preserved fds may reach the container (CVE-2024-21626 class).
    cryo_sys::fd::cloexec_from(3 + preserve_fds).map_err(|e| errno("close fds", e))?;

    Ok(Prepared {
        path,
        args,
        env,
        arg0: arg0.clone(),
        seccomp_pending,
    })
}

fn install_seccomp(filter: &cryo_seccomp::CompiledFilter, sync: &SyncSocket) -> InitResult<()> {
    let listener = filter
        .install()
        .map_err(|e| format!("load seccomp filter: {}", crate::error::io_text(&e)))?;
    if let Some(fd) = listener {
        sync.send_fd("seccomp-fd", &fd).map_err(|e| e.to_string())?;
    }
    Ok(())
}

/// The home directory of `uid` in the container's /etc/passwd.
fn home_of(uid: u32) -> Option<String> {
    let passwd = std::fs::read_to_string("/etc/passwd").ok()?;
    passwd.lines().find_map(|l| {
        let f: Vec<&str> = l.split(':').collect();
        (f.len() >= 6 && f[2].parse::<u32>().ok() == Some(uid)).then(|| f[5].to_string())
    })
}

fn write_sysctl(key: &str, value: &str) -> InitResult<()> {
    if key.is_empty()
        || key.contains('/') && key.contains('.')
        || key.split(['.', '/']).any(|c| c == ".." || c.is_empty())
    {
        return Err(format!("sysctl {key:?} is not a valid key"));
    }
    let path = Path::new("/proc/sys").join(key.replace('.', "/"));
    std::fs::write(&path, value)
        .map_err(|e| format!("write sysctl {key}={value}: {}", crate::error::io_text(&e)))
}

fn rlimit_number(name: &str) -> InitResult<i32> {
    let n = match name
        .trim_start_matches("Rlimit")
        .to_ascii_uppercase()
        .as_str()
    {
        "CPU" => libc::RLIMIT_CPU,
        "FSIZE" => libc::RLIMIT_FSIZE,
        "DATA" => libc::RLIMIT_DATA,
        "STACK" => libc::RLIMIT_STACK,
        "CORE" => libc::RLIMIT_CORE,
        "RSS" => libc::RLIMIT_RSS,
        "NPROC" => libc::RLIMIT_NPROC,
        "NOFILE" => libc::RLIMIT_NOFILE,
        "MEMLOCK" => libc::RLIMIT_MEMLOCK,
        "AS" => libc::RLIMIT_AS,
        "LOCKS" => libc::RLIMIT_LOCKS,
        "SIGPENDING" => libc::RLIMIT_SIGPENDING,
        "MSGQUEUE" => libc::RLIMIT_MSGQUEUE,
        "NICE" => libc::RLIMIT_NICE,
        "RTPRIO" => libc::RLIMIT_RTPRIO,
        "RTTIME" => libc::RLIMIT_RTTIME,
        other => return Err(format!("unknown rlimit {other:?}")),
    };
    Ok(n as i32)
}

/// Resolves the program like Go's exec.LookPath, with the container's PATH.
fn look_path(arg0: &str, env: &[String]) -> InitResult<CString> {
    let check = |p: &Path| -> Result<(), std::io::Error> {
        let md = std::fs::metadata(p)?;
        if md.is_dir() || md.permissions().mode() & 0o111 == 0 {
            return Err(std::io::Error::from_raw_os_error(libc::EACCES));
        }
        Ok(())
    };
    let found = if arg0.contains('/') {
        check(Path::new(arg0)).map_err(|e| {
            if e.raw_os_error() == Some(libc::EACCES) {
                format!("exec: {arg0:?}: permission denied")
            } else {
                format!("exec: {arg0:?}: stat {arg0}: {}", crate::error::io_text(&e))
            }
        })?;
        PathBuf::from(arg0)
    } else {
        let path_var = env
            .iter()
            .rev()
            .find_map(|e| e.strip_prefix("PATH="))
            .unwrap_or("/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin");
        let mut hit = None;
        for dir in path_var.split(':') {
            let dir = if dir.is_empty() { "." } else { dir };
            let cand = Path::new(dir).join(arg0);
            if check(&cand).is_ok() {
                hit = Some(cand);
                break;
            }
        }
        hit.ok_or_else(|| format!("exec: {arg0:?}: executable file not found in $PATH"))?
    };
    CString::new(found.as_os_str().as_encoded_bytes())
        .map_err(|_| "program path contains NUL".to_string())
}

fn setup_terminal(
    console: Option<&OwnedFd>,
    process: &oci_spec::runtime::Process,
) -> InitResult<()> {
    let sock = console.ok_or("process.terminal is true but no --console-socket was given")?;
    let (master, slave, name) = cryo_sys::pty::open_pty().map_err(|e| errno("open pty", e))?;
    if let Some(size) = process.console_size() {
        let _ = cryo_sys::pty::set_winsize(&slave, size.height() as u16, size.width() as u16);
    }
    cryo_sys::fd::send_fd(sock, name.as_bytes(), master.as_raw_fd())
        .map_err(|e| errno("send pty master to console socket", e))?;
    drop(master);
    for fd in 0..3 {
        cryo_sys::fd::dup_onto(slave.as_raw_fd(), fd).map_err(|e| errno("dup tty", e))?;
    }
    cryo_sys::pty::set_controlling_tty(&slave).map_err(|e| errno("set controlling tty", e))?;
    Ok(())
}

/// Blocks until `cryo start` connects and asks to start.
fn wait_for_start(listener: &OwnedFd) -> InitResult<OwnedFd> {
    use nix::sys::socket::{accept4, recv, MsgFlags, SockFlag};
    loop {
        let conn = match accept4(listener, SockFlag::SOCK_CLOEXEC) {
            Ok(fd) => fd,
            Err(nix::errno::Errno::EINTR) => continue,
            Err(e) => return Err(errno("accept start", e)),
        };
        let mut buf = [0u8; 16];
        match recv(conn.as_raw_fd(), &mut buf, MsgFlags::empty()) {
            Ok(n) if &buf[..n] == b"start" => return Ok(conn),
            _ => continue,
        }
    }
}

/// What an `exec` process needs, prepared by the parent.
pub struct ExecPlan<'a> {
    pub process: &'a oci_spec::runtime::Process,
    pub personality: Option<&'a oci_spec::runtime::LinuxPersonality>,
    /// execCPUAffinity.final: CPUs the program runs on.
    pub final_cpus: Option<Vec<usize>>,
    /// The container's namespaces to join, user first, mount last.
    pub namespaces: Vec<(i32, OwnedFd)>,
    pub console: Option<OwnedFd>,
    pub preserve_fds: i32,
    pub in_user_ns: bool,
    pub seccomp: Option<&'a cryo_seccomp::CompiledFilter>,
}

/// Stage 1 of `exec`: join the container's namespaces, then fork the
/// process that execs (a sibling, so `cryo exec` can wait for it).
pub fn exec_stage1(plan: ExecPlan, sync: SyncSocket) -> ! {
    let code = match exec_stage1_inner(plan, &sync) {
        Ok(()) => 0,
        Err(e) => {
            let _ = sync.send(&format!("error {e}"));
            1
        }
    };
    p::exit_now(code)
}

fn exec_stage1_inner(plan: ExecPlan, sync: &SyncSocket) -> InitResult<()> {
    sync.expect("go").map_err(|e| e.to_string())?;
    p::set_dumpable(false).map_err(|e| errno("prctl dumpable", e))?;
    for (flag, fd) in &plan.namespaces {
        p::setns(fd, *flag).map_err(|e| errno(format!("join namespace {}", ns_name(*flag)), e))?;
    }
    match p::fork_sibling().map_err(|e| errno("fork exec process", e))? {
        p::Forked::Parent(pid) => {
            sync.send(&format!("pid {}", pid.as_raw()))
                .map_err(|e| e.to_string())?;
            Ok(())
        }
        p::Forked::Child => {
            let code = match exec_stage2(&plan, sync) {
                Ok(never) => match never {},
                Err(e) => {
                    let _ = sync.send(&format!("error {e}"));
                    1
                }
            };
            p::exit_now(code)
        }
    }
}

/// Stage 2 of `exec`: inside every namespace; becomes the user's program.
/// On success the sync socket closes with the execve (close-on-exec).
fn exec_stage2(plan: &ExecPlan, sync: &SyncSocket) -> InitResult<Never> {
    let process = plan.process;
    if process.terminal() == Some(true) {
        p::setsid().map_err(|e| errno("setsid", e))?;
    }
    crate::process_attrs::apply_personality(plan.personality)?;
    if let Some(cpus) = &plan.final_cpus {
        p::set_cpu_affinity(cpus).map_err(|e| errno("set CPU affinity", e))?;
    }
    let ready = prepare_process(
        process,
        plan.console.as_ref(),
        plan.preserve_fds,
        plan.in_user_ns,
        plan.seccomp,
        sync,
    )?;
    p::reset_signals().map_err(|e| errno("reset signals", e))?;
    if let Some(filter) = ready.seccomp_pending {
        install_seccomp(filter, sync)?;
    }
    let err = p::execve(&ready.path, &ready.args, &ready.env);
    Err(format!(
        "exec {:?}: {}",
        ready.arg0,
        crate::error::errno_text(err)
    ))
}
