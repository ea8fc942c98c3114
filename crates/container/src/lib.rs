//! Container lifecycle for cryo: the state store, `create` (the processes
//! that become the container and its rootfs), and the verbs on an existing
//! container.

pub mod create;
pub mod error;
pub mod events;
pub mod exec;
pub mod features;
pub mod hooks;
mod init;
pub mod lifecycle;
pub mod mount_options;
mod process_attrs;
pub mod ps;
mod rootfs;
pub mod store;
mod sync;
pub mod update;

pub use create::{create, CreateOptions, Created};
pub use error::{ContainerError, Result};
pub use events::{stats, watch, Event};
pub use exec::{exec, ExecOptions, Execed};
pub use features::{features, Features};
pub use lifecycle::{
    delete, destroy_locked, kill, list, parse_signal, pause, resume, start, state,
    wait_forwarding_signals,
};
pub use ps::{processes, ps_table};
pub use store::Store;
pub use update::{update, UpdateRequest};
