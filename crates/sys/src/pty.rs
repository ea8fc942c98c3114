//! Pseudo-terminals for containers with `process.terminal`.

use std::os::fd::{AsRawFd, OwnedFd};

use nix::errno::Errno;
use nix::fcntl::OFlag;

/// Opens a new pty pair through the devpts visible at /dev/ptmx (the
/// container's own, after pivot_root). Returns (master, slave, slave path).
pub fn open_pty() -> Result<(OwnedFd, OwnedFd, String), Errno> {
    let master = nix::pty::posix_openpt(OFlag::O_RDWR | OFlag::O_NOCTTY | OFlag::O_CLOEXEC)?;
    nix::pty::grantpt(&master)?;
    nix::pty::unlockpt(&master)?;
    let name = nix::pty::ptsname_r(&master)?;
    let slave = nix::fcntl::open(
        name.as_str(),
        OFlag::O_RDWR | OFlag::O_NOCTTY,
        nix::sys::stat::Mode::empty(),
    )?;
    let master_fd = nix::unistd::dup(&master)?;
    nix::fcntl::fcntl(
        &master_fd,
        nix::fcntl::FcntlArg::F_SETFD(nix::fcntl::FdFlag::FD_CLOEXEC),
    )?;
    Ok((master_fd, slave, name))
}

/// Makes `tty` the controlling terminal of the calling session leader.
pub fn set_controlling_tty(tty: &OwnedFd) -> Result<(), Errno> {
    // SAFETY: TIOCSCTTY takes an integer argument.
    Errno::result(unsafe { libc::ioctl(tty.as_raw_fd(), libc::TIOCSCTTY, 0) }).map(drop)
}

/// Sets the window size of a terminal.
pub fn set_winsize(tty: &impl AsRawFd, rows: u16, cols: u16) -> Result<(), Errno> {
    let ws = libc::winsize {
        ws_row: rows,
        ws_col: cols,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    // SAFETY: `ws` is a valid winsize for the duration of the ioctl.
    Errno::result(unsafe { libc::ioctl(tty.as_raw_fd(), libc::TIOCSWINSZ, &ws) }).map(drop)
}
