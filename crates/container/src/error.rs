//! Errors of container operations, worded like runc's where clients match them.

use std::path::PathBuf;

use cryo_sys::Errno;

#[derive(Debug, thiserror::Error)]
pub enum ContainerError {
    #[error("container does not exist")]
    NotExist,
    #[error("container with given ID already exists: {0}")]
    Exists(String),
    #[error("container not running")]
    NotRunning,
    #[error("cannot start a container that has stopped")]
    StartStopped,
    #[error("cannot start an already running container")]
    StartRunning,
    #[error("cannot delete container {id} that is not stopped: {status}")]
    DeleteNotStopped { id: String, status: String },
    #[error(transparent)]
    Id(#[from] cryo_oci::IdError),
    #[error(transparent)]
    Spec(#[from] cryo_oci::SpecError),
    #[error(transparent)]
    Cgroup(#[from] cryo_cgroups::CgroupError),
    #[error(transparent)]
    Seccomp(#[from] cryo_seccomp::SeccompError),
    #[error("{context}: {}", errno_text(*source))]
    Sys { context: String, source: Errno },
    #[error("{context}: {}", io_text(source))]
    Io {
        context: String,
        source: std::io::Error,
    },
    #[error("{path}: {message}")]
    Corrupt { path: PathBuf, message: String },
    /// An error reported by the container's init process, already worded.
    #[error("{0}")]
    Init(String),
    #[error("{0}")]
    Invalid(String),
    #[error("{0} is not supported by cryo")]
    Unsupported(String),
    /// `events` on a stopped container (runc's wording).
    #[error("container with id {0} is not running")]
    NotRunningId(String),
    /// The host `ps` of `cryo ps` failed: Go's `exit status N: <output>`.
    #[error("{status}: {output}")]
    PsFailed { status: String, output: String },
    /// The header of the host `ps` output has no PID column.
    #[error("couldn't find PID field in ps output")]
    PsNoPidField,
    /// A row of the host `ps` output has no number in its PID column.
    #[error("unable to parse pid: {0}")]
    PsBadPid(String),
    /// A value of an `update` flag (runc's wording:
    /// `invalid value for memory: invalid size: '64x'`).
    #[error("invalid value for {flag}: {reason}")]
    InvalidFlag { flag: String, reason: String },
    /// The resources document of `update --resources` is not valid.
    #[error("{0}")]
    ResourcesJson(String),
    /// Intel RDT settings (`update --l3-cache-schema/--mem-bw-schema`).
    #[error("{0}: Intel RDT is not supported by cryo")]
    IntelRdt(&'static str),
}

pub type Result<T> = std::result::Result<T, ContainerError>;

/// Adds a context string to low-level errors.
pub trait Context<T> {
    fn ctx(self, context: impl FnOnce() -> String) -> Result<T>;
}

impl<T> Context<T> for std::result::Result<T, Errno> {
    fn ctx(self, context: impl FnOnce() -> String) -> Result<T> {
        self.map_err(|source| ContainerError::Sys {
            context: context(),
            source,
        })
    }
}

impl<T> Context<T> for std::result::Result<T, std::io::Error> {
    fn ctx(self, context: impl FnOnce() -> String) -> Result<T> {
        self.map_err(|source| ContainerError::Io {
            context: context(),
            source,
        })
    }
}

/// The kernel's message for an errno in Go's wording (lowercase, as runc
/// prints it): "no such file or directory".
pub fn errno_text(e: Errno) -> String {
    let d = e.desc();
    let mut c = d.chars();
    match c.next() {
        Some(f) => f.to_lowercase().chain(c).collect(),
        None => String::new(),
    }
}

/// An io::Error worded like Go's (no "(os error N)" suffix).
pub fn io_text(e: &std::io::Error) -> String {
    match e.raw_os_error() {
        Some(n) => errno_text(Errno::from_raw(n)),
        None => e.to_string(),
    }
}
