//! Container lifecycle for cryo: the state store, `create` (the processes
//! that become the container and its rootfs), and the verbs on an existing
//! container.

pub mod create;
pub mod error;
mod init;
pub mod lifecycle;
pub mod mount_options;
mod rootfs;
pub mod store;
mod sync;

pub use create::{create, CreateOptions, Created};
pub use error::{ContainerError, Result};
pub use lifecycle::{
    delete, kill, list, parse_signal, pause, resume, start, state, wait_forwarding_signals,
};
pub use store::Store;
