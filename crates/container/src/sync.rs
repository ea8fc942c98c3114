//! The channel between `cryo create` and the processes it forks: a
//! SOCK_SEQPACKET socketpair carrying one short text message per packet.

use std::os::fd::{AsFd, OwnedFd};

use nix::sys::socket::{self, AddressFamily, MsgFlags, SockFlag, SockType};

use crate::error::{ContainerError, Context, Result};

pub struct SyncSocket {
    fd: OwnedFd,
}

pub fn pair() -> Result<(SyncSocket, SyncSocket)> {
    let (a, b) = socket::socketpair(
        AddressFamily::Unix,
        SockType::SeqPacket,
        None,
        SockFlag::SOCK_CLOEXEC,
    )
    .ctx(|| "create sync socketpair".into())?;
    Ok((SyncSocket { fd: a }, SyncSocket { fd: b }))
}

impl SyncSocket {
    pub fn send(&self, msg: &str) -> Result<()> {
        socket::send(
            self.fd.as_fd().as_raw_fd_compat(),
            msg.as_bytes(),
            MsgFlags::MSG_NOSIGNAL,
        )
        .ctx(|| "sync: send".into())
        .map(drop)
    }

    /// Sends a message with a file descriptor attached.
    pub fn send_fd(&self, msg: &str, fd: &OwnedFd) -> Result<()> {
        use std::os::fd::AsRawFd;
        cryo_sys::fd::send_fd(&self.fd, msg.as_bytes(), fd.as_raw_fd())
            .ctx(|| "sync: send fd".into())
    }

    /// Next message and the descriptor sent with it, if any.
    pub fn recv_with_fd(&self) -> Result<Option<(String, Option<OwnedFd>)>> {
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            match cryo_sys::fd::recv_fd(&self.fd, &mut buf) {
                Ok((0, _)) => return Ok(None),
                Ok((n, fd)) => {
                    return Ok(Some((String::from_utf8_lossy(&buf[..n]).into_owned(), fd)))
                }
                Err(nix::errno::Errno::EINTR) => continue,
                Err(e) => return Err(e).ctx(|| "sync: receive".into()),
            }
        }
    }

    /// Next message; `None` when the peer has closed the channel.
    pub fn recv(&self) -> Result<Option<String>> {
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            match socket::recv(
                self.fd.as_fd().as_raw_fd_compat(),
                &mut buf,
                MsgFlags::empty(),
            ) {
                Ok(0) => return Ok(None),
                Ok(n) => return Ok(Some(String::from_utf8_lossy(&buf[..n]).into_owned())),
                Err(nix::errno::Errno::EINTR) => continue,
                Err(e) => return Err(e).ctx(|| "sync: receive".into()),
            }
        }
    }

    /// Waits for exactly `expected`; an `error ...` message becomes the error.
    pub fn expect(&self, expected: &str) -> Result<()> {
        match self.recv()? {
            Some(m) if m == expected => Ok(()),
            Some(m) => Err(ContainerError::Init(
                m.strip_prefix("error ").unwrap_or(&m).to_string(),
            )),
            None => Err(ContainerError::Init(format!(
                "sync: peer closed while waiting for {expected:?}"
            ))),
        }
    }
}

trait RawCompat {
    fn as_raw_fd_compat(&self) -> std::os::fd::RawFd;
}

impl RawCompat for std::os::fd::BorrowedFd<'_> {
    fn as_raw_fd_compat(&self) -> std::os::fd::RawFd {
        use std::os::fd::AsRawFd;
        self.as_raw_fd()
    }
}
