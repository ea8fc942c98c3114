//! Process creation and lifecycle: fork variants, namespaces, signals,
//! credentials, limits, and waiting on processes that are not our children.

use std::ffi::CString;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};

use nix::errno::Errno;
use nix::sched::CloneFlags;
use nix::unistd::Pid;

/// Result of a fork, seen from either side.
pub enum Forked {
    Parent(Pid),
    Child,
}

/// Forks the calling process.
///
/// The caller must be single-threaded (cryo never starts threads before it
/// forks a container process), so the child may keep running Rust code.
pub fn fork() -> Result<Forked, Errno> {
    // SAFETY: cryo is single-threaded whenever it forks, so the child owns a
    // consistent copy of every lock and allocator state.
    match unsafe { nix::unistd::fork() }? {
        nix::unistd::ForkResult::Parent { child } => Ok(Forked::Parent(child)),
        nix::unistd::ForkResult::Child => Ok(Forked::Child),
    }
}

/// Forks with `CLONE_PARENT`: the new process becomes a sibling of the
/// caller (a child of the caller's parent). Used so the container init is a
/// direct child of `cryo create`/`cryo run`, which can then wait for it.
pub fn fork_sibling() -> Result<Forked, Errno> {
    let flags = (libc::CLONE_PARENT | libc::SIGCHLD) as libc::c_ulong;
    // SAFETY: the raw clone syscall with a NULL stack behaves like fork(2):
    // the child continues on a copy of the caller's stack. The caller is
    // single-threaded (see `fork`).
    let ret = unsafe { libc::syscall(libc::SYS_clone, flags, 0usize, 0usize, 0usize, 0usize) };
    match ret {
        -1 => Err(Errno::last()),
        0 => Ok(Forked::Child),
        pid => Ok(Forked::Parent(Pid::from_raw(pid as i32))),
    }
}

/// Leaves the current process immediately, without running destructors or
/// flushing stdio buffers shared with the parent (for forked children).
pub fn exit_now(code: i32) -> ! {
    // SAFETY: _exit never returns and touches no Rust state.
    unsafe { libc::_exit(code) }
}

pub fn unshare(flags: i32) -> Result<(), Errno> {
    nix::sched::unshare(CloneFlags::from_bits_retain(flags))
}

/// Joins the namespace behind `fd` (a `/proc/<pid>/ns/*` or bind-mounted ns file).
pub fn setns(fd: &OwnedFd, nstype: i32) -> Result<(), Errno> {
    nix::sched::setns(fd, CloneFlags::from_bits_retain(nstype))
}

pub fn kill(pid: i32, sig: i32) -> Result<(), Errno> {
    // SAFETY: kill(2) has no memory arguments.
    Errno::result(unsafe { libc::kill(pid, sig) }).map(drop)
}

/// Kills the calling process with SIGKILL, at once: no destructor, atexit
/// handler or buffered output runs (the test-only fault points of
/// cryo-faults, which stand for a crash or an OOM kill).
pub fn kill_self() -> ! {
    // SAFETY: getpid(2) has no arguments and cannot fail; kill(2) has no
    // memory arguments. SIGKILL of ourselves does not return.
    unsafe {
        libc::kill(libc::getpid(), libc::SIGKILL);
    }
    // Not reached; if it were, aborting is the nearest thing to SIGKILL.
    std::process::abort()
}

/// Waits for a child; returns its exit code, or 128+signal like a shell.
pub fn wait_child(pid: i32) -> Result<i32, Errno> {
    use nix::sys::wait::{waitpid, WaitStatus};
    loop {
        match waitpid(Pid::from_raw(pid), None) {
            Ok(WaitStatus::Exited(_, code)) => return Ok(code),
            Ok(WaitStatus::Signaled(_, sig, _)) => return Ok(128 + sig as i32),
            Ok(_) => continue,
            Err(Errno::EINTR) => continue,
            Err(e) => return Err(e),
        }
    }
}

/// Reaps any exited child without blocking; returns (pid, code) if one was.
pub fn reap_any() -> Result<Option<(i32, i32)>, Errno> {
    use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
    match waitpid(Pid::from_raw(-1), Some(WaitPidFlag::WNOHANG)) {
        Ok(WaitStatus::Exited(p, code)) => Ok(Some((p.as_raw(), code))),
        Ok(WaitStatus::Signaled(p, sig, _)) => Ok(Some((p.as_raw(), 128 + sig as i32))),
        Ok(_) => Ok(None),
        Err(Errno::ECHILD) => Ok(None),
        Err(e) => Err(e),
    }
}

/// Opens a pidfd for a process that may not be our child.
pub fn pidfd_open(pid: i32) -> Result<OwnedFd, Errno> {
    // SAFETY: pidfd_open takes two integers and returns a new fd we own.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) };
    if fd < 0 {
        return Err(Errno::last());
    }
    // SAFETY: the kernel just returned this fd and nobody else owns it.
    Ok(unsafe { OwnedFd::from_raw_fd(fd as RawFd) })
}

/// Waits until the process behind `pidfd` exits, at most `timeout_ms`.
/// Returns true if it exited.
pub fn pidfd_wait(pidfd: &OwnedFd, timeout_ms: i32) -> Result<bool, Errno> {
    let mut pfd = libc::pollfd {
        fd: pidfd.as_raw_fd(),
        events: libc::POLLIN,
        revents: 0,
    };
    loop {
        // SAFETY: `pfd` is a valid pollfd array of length 1 for the call.
        let r = unsafe { libc::poll(&mut pfd, 1, timeout_ms) };
        if r < 0 {
            if Errno::last() == Errno::EINTR {
                continue;
            }
            return Err(Errno::last());
        }
        return Ok(r > 0);
    }
}

/// Sends a signal through a pidfd (no pid-reuse race).
pub fn pidfd_kill(pidfd: &OwnedFd, sig: i32) -> Result<(), Errno> {
    // SAFETY: NULL siginfo is allowed; no other memory arguments.
    let r = unsafe {
        libc::syscall(
            libc::SYS_pidfd_send_signal,
            pidfd.as_raw_fd(),
            sig,
            std::ptr::null::<u8>(),
            0,
        )
    };
    Errno::result(r).map(drop)
}

pub fn set_child_subreaper() -> Result<(), Errno> {
    nix::sys::prctl::set_child_subreaper(true)
}

/// Marks the process non-dumpable so container processes cannot open its
/// /proc entries (exe, mem, fds) while it runs cryo's code.
pub fn set_dumpable(on: bool) -> Result<(), Errno> {
    nix::sys::prctl::set_dumpable(on)
}

pub fn set_no_new_privs() -> Result<(), Errno> {
    nix::sys::prctl::set_no_new_privs()
}

/// Kill this process when its parent dies (used by helpers, not the init).
pub fn set_parent_death_signal(sig: i32) -> Result<(), Errno> {
    // SAFETY: prctl(PR_SET_PDEATHSIG) takes integers only.
    Errno::result(unsafe { libc::prctl(libc::PR_SET_PDEATHSIG, sig as libc::c_ulong, 0, 0, 0) })
        .map(drop)
}

pub fn setsid() -> Result<(), Errno> {
    nix::unistd::setsid().map(drop)
}

pub fn sethostname(name: &str) -> Result<(), Errno> {
    nix::unistd::sethostname(name)
}

pub fn setdomainname(name: &str) -> Result<(), Errno> {
    // SAFETY: the pointer and length describe `name`'s bytes for the call.
    Errno::result(unsafe { libc::setdomainname(name.as_ptr().cast(), name.len()) }).map(drop)
}

pub fn umask(mask: u32) {
    nix::sys::stat::umask(nix::sys::stat::Mode::from_bits_truncate(mask));
}

/// Sets a resource limit on the calling process.
pub fn setrlimit(resource: i32, soft: u64, hard: u64) -> Result<(), Errno> {
    let lim = libc::rlimit64 {
        rlim_cur: soft,
        rlim_max: hard,
    };
    // SAFETY: `lim` is a valid rlimit64 for the call; old limit pointer NULL.
    Errno::result(unsafe {
        libc::prlimit64(
            0,
            resource as libc::__rlimit_resource_t,
            &lim,
            std::ptr::null_mut(),
        )
    })
    .map(drop)
}

/// Sets real, effective and saved ids and the supplementary groups.
pub fn set_credentials(uid: u32, gid: u32, groups: &[u32], set_groups: bool) -> Result<(), Errno> {
    use nix::unistd::{Gid, Uid};
    if set_groups {
        let g: Vec<Gid> = groups.iter().map(|g| Gid::from_raw(*g)).collect();
        nix::unistd::setgroups(&g)?;
    }
    nix::unistd::setresgid(Gid::from_raw(gid), Gid::from_raw(gid), Gid::from_raw(gid))?;
    nix::unistd::setresuid(Uid::from_raw(uid), Uid::from_raw(uid), Uid::from_raw(uid))
}

/// Replaces the process image. Returns only on failure.
pub fn execve(path: &CString, args: &[CString], env: &[CString]) -> Errno {
    match nix::unistd::execve(path, args, env) {
        Err(e) => e,
        Ok(never) => match never {},
    }
}

/// Blocks (or unblocks) every signal for the calling thread; returns the old mask.
pub fn block_all_signals() -> Result<nix::sys::signal::SigSet, Errno> {
    use nix::sys::signal::{SigSet, SigmaskHow};
    let mut old = SigSet::empty();
    nix::sys::signal::pthread_sigmask(
        SigmaskHow::SIG_SETMASK,
        Some(&SigSet::all()),
        Some(&mut old),
    )?;
    Ok(old)
}

/// Clears the signal mask and resets every handled signal to its default,
/// so the container starts from a clean signal state.
pub fn reset_signals() -> Result<(), Errno> {
    use nix::sys::signal::{sigaction, SaFlags, SigAction, SigHandler, SigSet, SigmaskHow, Signal};
    let dfl = SigAction::new(SigHandler::SigDfl, SaFlags::empty(), SigSet::empty());
    for sig in Signal::iterator() {
        if sig == Signal::SIGKILL || sig == Signal::SIGSTOP {
            continue;
        }
        // SAFETY: installing SIG_DFL is always sound.
        let _ = unsafe { sigaction(sig, &dfl) };
    }
    nix::sys::signal::pthread_sigmask(SigmaskHow::SIG_SETMASK, Some(&SigSet::empty()), None)
}

/// Waits for the next blocked signal (all signals must be blocked first).
pub fn wait_signal() -> Result<i32, Errno> {
    let set = nix::sys::signal::SigSet::all();
    set.wait().map(|s| s as i32)
}

/// Reads a process's start time (field 22 of /proc/<pid>/stat) and whether
/// it is a zombie; None if the process does not exist.
pub fn proc_start_time(pid: i32) -> Option<(u64, bool)> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let after = stat.rsplit_once(')')?.1;
    let mut fields = after.split_whitespace();
    let state = fields.next()?;
    let start = fields.nth(18)?.parse().ok()?;
    Some((start, state == "Z" || state == "X"))
}

/// Joins a new anonymous-to-the-host session keyring named `name`, so the
/// container does not share the caller's session keyring.
pub fn join_session_keyring(name: &str) -> Result<(), Errno> {
    const KEYCTL_JOIN_SESSION_KEYRING: libc::c_long = 1;
    let name = CString::new(name).map_err(|_| Errno::EINVAL)?;
    // SAFETY: `name` is a valid NUL-terminated string for the duration of the call.
    let r = unsafe { libc::syscall(libc::SYS_keyctl, KEYCTL_JOIN_SESSION_KEYRING, name.as_ptr()) };
    Errno::result(r).map(drop)
}

/// personality(2): PER_LINUX (0) or PER_LINUX32 (8).
pub fn set_personality(persona: u64) -> Result<(), Errno> {
    // SAFETY: personality takes one integer and returns the old persona.
    let r = unsafe { libc::personality(persona as libc::c_ulong) };
    Errno::result(r).map(drop)
}

/// ioprio_set(IOPRIO_WHO_PROCESS, self, class << 13 | level).
pub fn set_io_priority(class: u32, level: u32) -> Result<(), Errno> {
    const IOPRIO_WHO_PROCESS: libc::c_long = 1;
    let prio = ((class as libc::c_long) << 13) | level as libc::c_long;
    // SAFETY: ioprio_set takes integers only.
    let r = unsafe { libc::syscall(libc::SYS_ioprio_set, IOPRIO_WHO_PROCESS, 0, prio) };
    Errno::result(r).map(drop)
}

/// Binds the calling process to `cpus`.
pub fn set_cpu_affinity(cpus: &[usize]) -> Result<(), Errno> {
    let mut set = nix::sched::CpuSet::new();
    for c in cpus {
        set.set(*c)?;
    }
    nix::sched::sched_setaffinity(Pid::from_raw(0), &set)
}

/// The kernel's `struct sched_attr` (sched_setattr(2)).
#[repr(C)]
#[derive(Default)]
pub struct SchedAttr {
    pub size: u32,
    pub policy: u32,
    pub flags: u64,
    pub nice: i32,
    pub priority: u32,
    pub runtime: u64,
    pub deadline: u64,
    pub period: u64,
    pub util_min: u32,
    pub util_max: u32,
}

/// sched_setattr(2) on the calling thread.
pub fn set_scheduler(mut attr: SchedAttr) -> Result<(), Errno> {
    attr.size = std::mem::size_of::<SchedAttr>() as u32;
    // SAFETY: `attr` is a valid sched_attr whose size field matches its layout.
    let r = unsafe { libc::syscall(libc::SYS_sched_setattr, 0, &attr as *const SchedAttr, 0) };
    Errno::result(r).map(drop)
}
