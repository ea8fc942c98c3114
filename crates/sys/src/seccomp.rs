//! Installing a pre-compiled seccomp BPF program with the raw `seccomp(2)`
//! system call.
//!
//! The program is compiled (by `cryo-seccomp`, with libseccomp) in the
//! runtime's parent process before it forks; the container's init process
//! only calls [`set_no_new_privs`] (unless it keeps `CAP_SYS_ADMIN`) and
//! [`install_filter`] right before `execve`, so its work between fork and
//! exec stays tiny: no libseccomp, no parsing, no allocation.

use std::io;
use std::os::fd::{FromRawFd, OwnedFd};

/// `SECCOMP_SET_MODE_FILTER` operation of `seccomp(2)`.
pub const SECCOMP_SET_MODE_FILTER: u32 = 1;
/// Synchronize all threads of the process to the new filter.
pub const SECCOMP_FILTER_FLAG_TSYNC: u32 = 1 << 0;
/// Log every action except `SECCOMP_RET_ALLOW` (Linux 4.14).
pub const SECCOMP_FILTER_FLAG_LOG: u32 = 1 << 1;
/// Disable the Speculative Store Bypass mitigation (Linux 4.17).
pub const SECCOMP_FILTER_FLAG_SPEC_ALLOW: u32 = 1 << 2;
/// Return a user-notification listener fd (Linux 5.0).
pub const SECCOMP_FILTER_FLAG_NEW_LISTENER: u32 = 1 << 3;
/// With `TSYNC`, fail with `ESRCH` instead of returning a thread id;
/// required by the kernel to combine `TSYNC` with `NEW_LISTENER` (Linux 5.7).
pub const SECCOMP_FILTER_FLAG_TSYNC_ESRCH: u32 = 1 << 4;
/// Notified tasks wait killably once the listener received the request
/// (Linux 5.19); only valid together with `NEW_LISTENER`.
pub const SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV: u32 = 1 << 5;

/// Kernel limit on the number of instructions of one classic BPF program
/// (`BPF_MAXINSNS`).
pub const BPF_MAXINSNS: usize = 4096;

/// Sets `PR_SET_NO_NEW_PRIVS` on the calling thread (inherited by children
/// and kept across `execve`). Required before [`install_filter`] unless the
/// caller has `CAP_SYS_ADMIN` in its user namespace.
pub fn set_no_new_privs() -> io::Result<()> {
    // SAFETY: prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) takes integers only and
    // touches no memory of this process.
    let r = unsafe { libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1 as libc::c_ulong, 0, 0, 0) };
    if r == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// Attaches the classic-BPF seccomp program `prog` to the calling thread
/// (to every thread of the process with [`SECCOMP_FILTER_FLAG_TSYNC`]) with
/// `seccomp(SECCOMP_SET_MODE_FILTER, flags, &prog)`.
///
/// Returns the user-notification listener fd (close-on-exec, as the kernel
/// creates it) when `flags` contains [`SECCOMP_FILTER_FLAG_NEW_LISTENER`],
/// `None` otherwise.
///
/// Preconditions (checked by the kernel, which fails with `EACCES`): the
/// caller either has set no_new_privs ([`set_no_new_privs`]) or has
/// `CAP_SYS_ADMIN` in its user namespace. `TSYNC` together with
/// `NEW_LISTENER` also needs [`SECCOMP_FILTER_FLAG_TSYNC_ESRCH`] (`EINVAL`
/// otherwise); `cryo-seccomp` adds it.
///
/// Meant to run in the forked container child right before `execve`: it
/// performs exactly one system call and never allocates (errors are plain
/// OS error codes). A program longer than [`BPF_MAXINSNS`] instructions or
/// empty fails with `EINVAL`; a `TSYNC` failure without `TSYNC_ESRCH` (the
/// kernel returns the id of the thread that could not be synchronized) is
/// reported as `ESRCH`.
pub fn install_filter(prog: &[libc::sock_filter], flags: u32) -> io::Result<Option<OwnedFd>> {
    if prog.is_empty() || prog.len() > BPF_MAXINSNS {
        return Err(io::Error::from_raw_os_error(libc::EINVAL));
    }
    let Ok(len) = u16::try_from(prog.len()) else {
        return Err(io::Error::from_raw_os_error(libc::EINVAL));
    };
    let fprog = libc::sock_fprog {
        len,
        // The kernel only reads the program; the field is `*mut` in the C ABI.
        filter: prog.as_ptr().cast_mut(),
    };
    // SAFETY: `fprog` points to `len` valid, initialized `sock_filter`s
    // borrowed from `prog` for the duration of the call; the kernel copies the
    // program and writes nothing to our memory. The other arguments are
    // plain integers.
    let r = unsafe {
        libc::syscall(
            libc::SYS_seccomp,
            SECCOMP_SET_MODE_FILTER as libc::c_ulong,
            flags as libc::c_ulong,
            &fprog as *const libc::sock_fprog,
        )
    };
    if r < 0 {
        return Err(io::Error::last_os_error());
    }
    if flags & SECCOMP_FILTER_FLAG_NEW_LISTENER != 0 {
        let Ok(raw) = i32::try_from(r) else {
            return Err(io::Error::from_raw_os_error(libc::EBADF));
        };
        // SAFETY: with NEW_LISTENER a successful seccomp() returns a freshly
        // installed fd that nothing else in this process owns.
        return Ok(Some(unsafe { OwnedFd::from_raw_fd(raw) }));
    }
    if r > 0 {
        // TSYNC without TSYNC_ESRCH: `r` is the id of a thread that could
        // not be synchronized and the filter was not attached.
        return Err(io::Error::from_raw_os_error(libc::ESRCH));
    }
    Ok(None)
}

/// Whether the running kernel accepts the filter-flag combination `flags`
/// for `SECCOMP_SET_MODE_FILTER`.
///
/// Probes with a NULL program, the way libseccomp does: the kernel checks
/// the flags first (`EINVAL` when unknown or badly combined) and only then
/// reads the program (`EFAULT`), so nothing is ever attached. Any other
/// outcome (e.g. `ENOSYS`, seccomp compiled out) counts as unsupported.
pub fn filter_flags_supported(flags: u32) -> bool {
    // SAFETY: a NULL `args` pointer is never dereferenced in user space; the
    // kernel's copy_from_user fails with EFAULT, after the flags check.
    let r = unsafe {
        libc::syscall(
            libc::SYS_seccomp,
            SECCOMP_SET_MODE_FILTER as libc::c_ulong,
            flags as libc::c_ulong,
            std::ptr::null::<libc::sock_fprog>(),
        )
    };
    r < 0 && io::Error::last_os_error().raw_os_error() == Some(libc::EFAULT)
}
