//! Unix sockets addressed by path, for the start socket and console sockets.
//! Long paths (sun_path holds 108 bytes) are reached through an O_PATH fd of
//! their directory: `/proc/self/fd/N/name` is always short.

use std::os::fd::{AsRawFd, OwnedFd};
use std::path::Path;

use nix::errno::Errno;
use nix::sys::socket::{self, AddressFamily, Backlog, SockFlag, SockType, UnixAddr};

fn short_path<T>(path: &Path, f: impl FnOnce(&Path) -> Result<T, Errno>) -> Result<T, Errno> {
    if path.as_os_str().len() < 100 {
        return f(path);
    }
    let dir = path.parent().ok_or(Errno::ENAMETOOLONG)?;
    let name = path.file_name().ok_or(Errno::ENAMETOOLONG)?;
    let dirfd = crate::mount::open_dir(dir)?;
    let short = crate::mount::fd_path(&dirfd).join(name);
    f(&short)
}

/// A listening SOCK_SEQPACKET socket bound at `path` (close-on-exec).
pub fn listen_seqpacket(path: &Path) -> Result<OwnedFd, Errno> {
    let fd = socket::socket(
        AddressFamily::Unix,
        SockType::SeqPacket,
        SockFlag::SOCK_CLOEXEC,
        None,
    )?;
    short_path(path, |p| socket::bind(fd.as_raw_fd(), &UnixAddr::new(p)?))?;
    socket::listen(&fd, Backlog::new(4).map_err(|_| Errno::EINVAL)?)?;
    Ok(fd)
}

/// Connects to the unix socket at `path` with the given type (close-on-exec).
pub fn connect(path: &Path, seqpacket: bool) -> Result<OwnedFd, Errno> {
    let ty = if seqpacket {
        SockType::SeqPacket
    } else {
        SockType::Stream
    };
    let fd = socket::socket(AddressFamily::Unix, ty, SockFlag::SOCK_CLOEXEC, None)?;
    short_path(path, |p| {
        socket::connect(fd.as_raw_fd(), &UnixAddr::new(p)?)
    })?;
    Ok(fd)
}

pub fn send(fd: &OwnedFd, msg: &[u8]) -> Result<usize, Errno> {
    socket::send(fd.as_raw_fd(), msg, socket::MsgFlags::MSG_NOSIGNAL)
}

pub fn recv(fd: &OwnedFd, buf: &mut [u8]) -> Result<usize, Errno> {
    loop {
        match socket::recv(fd.as_raw_fd(), buf, socket::MsgFlags::empty()) {
            Err(Errno::EINTR) => continue,
            r => return r,
        }
    }
}
