//! Errors of checkpoint and restore, worded for the CLI (runc-style).

use cryo_container::ContainerError;
use cryo_criu::CriuError;

#[derive(Debug, thiserror::Error)]
pub enum CheckpointError {
    #[error(transparent)]
    Container(#[from] ContainerError),
    #[error(transparent)]
    Cgroup(#[from] cryo_cgroups::CgroupError),
    #[error(transparent)]
    Spec(#[from] cryo_oci::SpecError),
    /// CRIU could not be found or spoken to.
    #[error(transparent)]
    Criu(#[from] CriuError),
    /// CRIU answered the request with a failure; `log` holds the error
    /// lines of its log file.
    #[error("criu failed: {request}: {detail}{}", quote_log(log))]
    CriuFailed {
        request: &'static str,
        detail: String,
        log_path: std::path::PathBuf,
        log: Vec<String>,
    },
    /// A dump failed with its filesystem (nearly) full.
    #[error(
        "no space left for the checkpoint on the filesystem of {} ({free} of {size} bytes free): \
         the container is left as it was and the images there are marked incomplete\n{source}",
        dir.display()
    )]
    NoSpace {
        dir: std::path::PathBuf,
        free: u64,
        size: u64,
        source: Box<CheckpointError>,
    },
    /// The kernel lacks what the requested feature needs.
    #[error("{0}")]
    KernelLacks(String),
    #[error("{0}")]
    Invalid(String),
    #[error("{0} is not supported by cryo")]
    Unsupported(String),
    #[error("{context}: {}", cryo_container::error::io_text(source))]
    Io {
        context: String,
        source: std::io::Error,
    },
    #[error("{context}: {}", cryo_container::error::errno_text(*source))]
    Sys {
        context: String,
        source: nix::errno::Errno,
    },
}

fn quote_log(lines: &[String]) -> String {
    if lines.is_empty() {
        return String::new();
    }
    let mut s = String::from("\n");
    for l in lines {
        s.push_str("  ");
        s.push_str(l);
        s.push('\n');
    }
    s.truncate(s.trim_end().len());
    s
}

pub type Result<T> = std::result::Result<T, CheckpointError>;

pub(crate) trait Ctx<T> {
    fn ctx(self, context: impl FnOnce() -> String) -> Result<T>;
}

impl<T> Ctx<T> for std::result::Result<T, std::io::Error> {
    fn ctx(self, context: impl FnOnce() -> String) -> Result<T> {
        self.map_err(|source| CheckpointError::Io {
            context: context(),
            source,
        })
    }
}

impl<T> Ctx<T> for std::result::Result<T, nix::errno::Errno> {
    fn ctx(self, context: impl FnOnce() -> String) -> Result<T> {
        self.map_err(|source| CheckpointError::Sys {
            context: context(),
            source,
        })
    }
}
