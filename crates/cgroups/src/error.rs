//! Typed errors of the cgroup driver.
//!
//! Messages follow runc's style: lowercase, prefixed with `cgroup:`, and the
//! OS error rendered the way Go prints it (`invalid argument`, not
//! `Invalid argument (os error 22)`), e.g.
//! `cgroup: write /sys/fs/cgroup/memory/x/memory.limit_in_bytes: invalid argument`.

use std::fmt;
use std::io;
use std::path::PathBuf;

/// Everything that can go wrong in this crate.
#[derive(Debug, thiserror::Error)]
pub enum CgroupError {
    /// Reading a cgroup (or procfs) file failed.
    #[error("cgroup: read {}: {}", .path.display(), OsMsg(.source))]
    Read {
        /// The file.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: io::Error,
    },
    /// Writing a cgroup control file failed.
    #[error("cgroup: write {}: {}", .path.display(), OsMsg(.source))]
    Write {
        /// The file.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: io::Error,
    },
    /// Creating a cgroup directory failed.
    #[error("cgroup: mkdir {}: {}", .path.display(), OsMsg(.source))]
    Mkdir {
        /// The directory.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: io::Error,
    },
    /// Removing a cgroup directory failed (after retries on EBUSY).
    #[error("cgroup: rmdir {}: {}", .path.display(), OsMsg(.source))]
    Rmdir {
        /// The directory.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: io::Error,
    },
    /// A file (mountinfo, /proc/self/cgroup, a stat file) had unexpected content.
    #[error("cgroup: parse {}: {reason}", .path.display())]
    Parse {
        /// The file that was parsed.
        path: PathBuf,
        /// What was wrong.
        reason: String,
    },
    /// The cgroups path (OCI `linux.cgroupsPath`) or a stored path is not acceptable.
    #[error("cgroup: invalid cgroups path {path:?}: {reason}")]
    InvalidPath {
        /// The offending path.
        path: String,
        /// Why it was rejected.
        reason: String,
    },
    /// No cgroup filesystem is mounted at all.
    #[error("cgroup: no cgroup filesystem is mounted (see /proc/self/mountinfo)")]
    NoCgroupFs,
    /// A controller a resource needs is not mounted on this host.
    #[error("cgroup: controller {controller} is not mounted")]
    NotMounted {
        /// The controller (e.g. `memory`).
        controller: String,
    },
    /// A cgroup v2 controller is not enabled for the cgroup (its files are missing).
    #[error(
        "cgroup: controller {controller} is not available in {} (not enabled in the parent's cgroup.subtree_control)",
        .path.display()
    )]
    ControllerUnavailable {
        /// The controller (e.g. `hugetlb`).
        controller: String,
        /// The cgroup directory.
        path: PathBuf,
    },
    /// A resource setting that this driver or this host cannot apply.
    #[error("cgroup: {0}")]
    Unsupported(String),
    /// A resource value that is invalid in itself.
    #[error("cgroup: invalid {what}: {reason}")]
    InvalidValue {
        /// Which setting.
        what: String,
        /// Why.
        reason: String,
    },
    /// The memory limit could not be lowered below the current usage (EBUSY).
    #[error(
        "cgroup: unable to set memory limit to {limit} (current usage: {usage}, peak usage: {peak})"
    )]
    MemoryLimitBusy {
        /// Requested limit.
        limit: i64,
        /// Current usage in bytes.
        usage: u64,
        /// Peak usage in bytes.
        peak: u64,
    },
    /// Freezing did not complete; the cgroup was thawed back.
    #[error("cgroup: freeze {}: {reason} (the cgroup was thawed back)", .path.display())]
    FreezeFailed {
        /// The freezer (v1) or unified (v2) directory.
        path: PathBuf,
        /// What happened.
        reason: String,
    },
}

/// Renders an [`io::Error`] like Go's `syscall.Errno.Error()`: the OS text in
/// lowercase without the `(os error N)` suffix Rust appends.
struct OsMsg<'a>(&'a io::Error);

impl fmt::Display for OsMsg<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let text = self.0.to_string();
        let text = match (self.0.raw_os_error(), text.rfind(" (os error ")) {
            (Some(_), Some(idx)) => &text[..idx],
            _ => text.as_str(),
        };
        let mut chars = text.chars();
        if let Some(first) = chars.next() {
            for c in first.to_lowercase() {
                f.write_fmt(format_args!("{c}"))?;
            }
            f.write_str(chars.as_str())?;
        }
        Ok(())
    }
}

impl CgroupError {
    /// The underlying OS error number, if this error wraps one.
    pub fn raw_os_error(&self) -> Option<i32> {
        match self {
            Self::Read { source, .. }
            | Self::Write { source, .. }
            | Self::Mkdir { source, .. }
            | Self::Rmdir { source, .. } => source.raw_os_error(),
            _ => None,
        }
    }

    /// True when the error is a missing file or directory (ENOENT).
    pub fn is_not_found(&self) -> bool {
        match self {
            Self::Read { source, .. }
            | Self::Write { source, .. }
            | Self::Mkdir { source, .. }
            | Self::Rmdir { source, .. } => source.kind() == io::ErrorKind::NotFound,
            _ => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_are_runc_style() {
        let e = CgroupError::Write {
            path: PathBuf::from("/sys/fs/cgroup/memory/x/memory.limit_in_bytes"),
            source: io::Error::from_raw_os_error(22),
        };
        assert_eq!(
            e.to_string(),
            "cgroup: write /sys/fs/cgroup/memory/x/memory.limit_in_bytes: invalid argument"
        );
        assert_eq!(e.raw_os_error(), Some(22));
        let e = CgroupError::Read {
            path: PathBuf::from("/x"),
            source: io::Error::from_raw_os_error(2),
        };
        assert_eq!(e.to_string(), "cgroup: read /x: no such file or directory");
        assert!(e.is_not_found());
        let e = CgroupError::Read {
            path: PathBuf::from("/x"),
            source: io::Error::other("Custom thing"),
        };
        assert_eq!(e.to_string(), "cgroup: read /x: custom thing");
    }
}
