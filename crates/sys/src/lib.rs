//! Thin, commented wrappers over the system calls cryo needs. Every `unsafe`
//! block of the project lives in this crate, each with a `SAFETY:` comment;
//! the other crates only call the safe functions exported here.

pub mod caps;
pub mod event;
pub mod exe;
pub mod fd;
pub mod mount;
pub mod net;
pub mod process;
pub mod pty;
pub mod seccomp;
pub mod socket;

pub use nix::errno::Errno;
pub use nix::unistd::Pid;
