//! File descriptors: closing what the container must not inherit, and
//! passing descriptors over unix sockets (SCM_RIGHTS).

use std::io::IoSlice;
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};

use nix::errno::Errno;
use nix::sys::socket::{self, ControlMessage, ControlMessageOwned, MsgFlags};

/// Marks every fd from `first` upwards close-on-exec, so only 0..first
/// survive the container's execve (CVE-2024-21626 class).
pub fn cloexec_from(first: RawFd) -> Result<(), Errno> {
    // SAFETY: close_range takes integers only; CLOSE_RANGE_CLOEXEC closes nothing now.
    let r = unsafe {
        libc::syscall(
            libc::SYS_close_range,
            first as u32,
            u32::MAX,
            libc::CLOSE_RANGE_CLOEXEC,
        )
    };
    Errno::result(r).map(drop)
}

/// Clears close-on-exec on one fd (for fds passed to the container).
pub fn clear_cloexec(fd: RawFd) -> Result<(), Errno> {
    use nix::fcntl::{fcntl, FcntlArg, FdFlag};
    fcntl(borrow(fd), FcntlArg::F_SETFD(FdFlag::empty())).map(drop)
}

/// Closes, in a forked child, an fd whose owner is a value of the parent's
/// that the child never drops (it leaves by exec or `_exit`): a lock file's
/// fd, so the child does not keep the lock alive should the parent die.
/// Unlike dropping the owner, this does not release the lock the parent
/// holds (flock(2) locks go with the last fd of the open file, or an
/// explicit unlock).
pub fn close_inherited(fd: RawFd) {
    // SAFETY: close(2) takes an integer; the value owning `fd` in this
    // (forked) process is never used or dropped again, so nothing uses the
    // number after it is closed.
    unsafe {
        libc::close(fd);
    }
}

/// Duplicates `fd` onto `target` (dup2), leaving `target` inheritable.
pub fn dup_onto(fd: RawFd, target: RawFd) -> Result<(), Errno> {
    // SAFETY: dup2 takes integers only.
    Errno::result(unsafe { libc::dup2(fd, target) }).map(drop)
}

/// Takes ownership of an inherited raw fd number (e.g. `--preserve-fds`).
///
/// # Safety
/// The caller guarantees `fd` is open and owned by nobody else in this process.
pub unsafe fn own(fd: RawFd) -> OwnedFd {
    // SAFETY: guaranteed by the caller.
    unsafe { OwnedFd::from_raw_fd(fd) }
}

/// Borrows a raw fd number known to be open for the duration of a call
/// (stdio, or an fd the caller got from the kernel).
pub fn borrow(fd: RawFd) -> BorrowedFd<'static> {
    // SAFETY: callers only pass fds that stay open for the process lifetime
    // or for the duration of their use; BorrowedFd does not close it.
    unsafe { BorrowedFd::borrow_raw(fd) }
}

/// Sends `payload` and the descriptor `fd` over the unix socket `sock`.
pub fn send_fd(sock: &impl AsRawFd, payload: &[u8], fd: RawFd) -> Result<(), Errno> {
    let fds = [fd];
    let cmsg = [ControlMessage::ScmRights(&fds)];
    let iov = [IoSlice::new(payload)];
    socket::sendmsg::<()>(sock.as_raw_fd(), &iov, &cmsg, MsgFlags::empty(), None).map(drop)
}

/// Receives a message and at most one descriptor from `sock`.
pub fn recv_fd(sock: &impl AsRawFd, buf: &mut [u8]) -> Result<(usize, Option<OwnedFd>), Errno> {
    let mut iov = [std::io::IoSliceMut::new(buf)];
    let mut space = nix::cmsg_space!([RawFd; 1]);
    let msg = socket::recvmsg::<()>(
        sock.as_raw_fd(),
        &mut iov,
        Some(&mut space),
        MsgFlags::MSG_CMSG_CLOEXEC,
    )?;
    let mut got = None;
    for c in msg.cmsgs()? {
        if let ControlMessageOwned::ScmRights(fds) = c {
            for f in fds {
                // SAFETY: SCM_RIGHTS just installed this fd in our table.
                let owned = unsafe { OwnedFd::from_raw_fd(f) };
                if got.is_none() {
                    got = Some(owned);
                }
            }
        }
    }
    Ok((msg.bytes, got))
}

/// Whether an fd number is open in this process.
pub fn is_open(fd: RawFd) -> bool {
    nix::fcntl::fcntl(borrow(fd), nix::fcntl::FcntlArg::F_GETFD).is_ok()
}
