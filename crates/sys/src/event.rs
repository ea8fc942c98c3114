//! Waiting on several kernel notifications at once, for `cryo events`: an
//! eventfd (the cgroup v1 OOM notification of `cgroup.event_control`) and
//! a pidfd (the container's init exiting).

use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};

use nix::errno::Errno;

/// A new eventfd (counter 0, close-on-exec, blocking reads).
pub fn eventfd() -> Result<OwnedFd, Errno> {
    // SAFETY: eventfd takes two integers and returns a new fd or -1.
    let fd = unsafe { libc::eventfd(0, libc::EFD_CLOEXEC) };
    if fd < 0 {
        return Err(Errno::last());
    }
    // SAFETY: the kernel just returned this fd and nobody else owns it.
    Ok(unsafe { OwnedFd::from_raw_fd(fd as RawFd) })
}

/// Reads (and resets) an eventfd's counter. Blocks while it is 0, so call
/// it only after [`poll_readable`] said the fd is readable.
pub fn read_counter(fd: BorrowedFd<'_>) -> Result<u64, Errno> {
    let mut buf = [0u8; 8];
    loop {
        // SAFETY: `buf` is a valid writable buffer of 8 bytes for the call.
        let r = unsafe { libc::read(fd.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len()) };
        if r < 0 {
            if Errno::last() == Errno::EINTR {
                continue;
            }
            return Err(Errno::last());
        }
        if r != 8 {
            return Err(Errno::EIO);
        }
        return Ok(u64::from_ne_bytes(buf));
    }
}

/// Waits up to `timeout_ms` (-1: forever) until one of `fds` is readable
/// (or hung up). Returns, per fd, whether it is ready; all false on timeout.
pub fn poll_readable(fds: &[BorrowedFd<'_>], timeout_ms: i32) -> Result<Vec<bool>, Errno> {
    let mut pfds: Vec<libc::pollfd> = fds
        .iter()
        .map(|fd| libc::pollfd {
            fd: fd.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        })
        .collect();
    let n = libc::nfds_t::try_from(pfds.len()).map_err(|_| Errno::EINVAL)?;
    loop {
        // SAFETY: `pfds` is a valid array of `n` pollfd entries for the call.
        let r = unsafe { libc::poll(pfds.as_mut_ptr(), n, timeout_ms) };
        if r < 0 {
            if Errno::last() == Errno::EINTR {
                continue;
            }
            return Err(Errno::last());
        }
        return Ok(pfds.iter().map(|p| p.revents != 0).collect());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::fd::AsFd;

    #[test]
    fn eventfd_counts_and_polls() {
        let fd = eventfd().expect("eventfd");
        let ready = poll_readable(&[fd.as_fd()], 0).expect("poll");
        assert_eq!(ready, vec![false]);
        let one = 3u64.to_ne_bytes();
        // SAFETY: `one` is a valid 8-byte buffer; `fd` is open.
        let w = unsafe { libc::write(fd.as_raw_fd(), one.as_ptr().cast(), one.len()) };
        assert_eq!(w, 8);
        let ready = poll_readable(&[fd.as_fd()], 1000).expect("poll");
        assert_eq!(ready, vec![true]);
        assert_eq!(read_counter(fd.as_fd()).expect("read"), 3);
    }
}
