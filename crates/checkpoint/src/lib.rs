//! cryo-checkpoint: checkpoint and restore of cryo containers through CRIU.
//!
//! * [`checkpoint()`] dumps a running (or paused) container with CRIU into
//!   an image directory, declaring external what the dump cannot carry
//!   ([`externals`]), and destroys the container only after a successful
//!   dump (unless `leave_running`).
//! * [`restore()`] is the other way a container comes to exist, beside
//!   `create`: from a bundle and an image directory to a running container
//!   with cryo state, its cgroup prepared and CRIU placed in it first.
//!
//! Images are runc-compatible (the same external names and
//! `descriptors.json`), so a runc checkpoint restores with cryo and back.

pub mod all;
pub mod archive;
pub mod cgroot;
pub mod checkpoint;
pub mod descriptors;
pub mod error;
pub mod externals;
pub mod from_create;
pub mod group;
pub mod lazy;
pub mod marker;
pub mod netlock;
pub mod preflight;
pub mod restore;

use std::os::fd::OwnedFd;
use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
use std::path::{Path, PathBuf};

pub use checkpoint::{checkpoint, CheckpointOptions, Checkpointed};
pub use error::{CheckpointError, Result};
pub use restore::{restore, RestoreOptions, Restored};

use error::Ctx;

/// The CRIU config file cryo reads by default (runc reads runc.conf).
pub const CONFIG_FILE: &str = "/etc/criu/cryo.conf";
/// runc's annotation naming a CRIU config file ("" for none).
pub const CONFIG_ANNOTATION: &str = "org.criu.config";

/// CRIU's `--manage-cgroups-mode`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CgroupsMode {
    Soft,
    Full,
    Strict,
    Ignore,
}

impl std::str::FromStr for CgroupsMode {
    type Err = CheckpointError;
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "soft" => Ok(CgroupsMode::Soft),
            "full" => Ok(CgroupsMode::Full),
            "strict" => Ok(CgroupsMode::Strict),
            "ignore" => Ok(CgroupsMode::Ignore),
            _ => Err(CheckpointError::Invalid(format!(
                "invalid --manage-cgroups-mode value {s:?} (want soft, full, strict or ignore)"
            ))),
        }
    }
}

impl CgroupsMode {
    fn rpc(self) -> cryo_criu::rpc::Criu_cg_mode {
        use cryo_criu::rpc::Criu_cg_mode as M;
        match self {
            CgroupsMode::Soft => M::SOFT,
            CgroupsMode::Full => M::FULL,
            CgroupsMode::Strict => M::STRICT,
            CgroupsMode::Ignore => M::IGNORE,
        }
    }
}

/// `--empty-ns` names to clone flags. CRIU can leave only the network
/// namespace empty.
pub fn empty_ns_flags(names: &[String]) -> Result<u32> {
    let mut flags = 0u32;
    for n in names {
        match n.as_str() {
            "network" | "net" => flags |= libc::CLONE_NEWNET as u32,
            other => {
                return Err(CheckpointError::Unsupported(format!(
                    "--empty-ns {other:?} (only \"network\" can be left empty)"
                )))
            }
        }
    }
    Ok(flags)
}

/// The CRIU config file for a container: runc's annotation if present (an
/// empty value means none), else /etc/criu/cryo.conf if it exists.
pub fn config_file(
    annotations: Option<&std::collections::HashMap<String, String>>,
) -> Option<String> {
    if let Some(v) = annotations.and_then(|a| a.get(CONFIG_ANNOTATION)) {
        return (!v.is_empty()).then(|| v.clone());
    }
    Path::new(CONFIG_FILE)
        .exists()
        .then(|| CONFIG_FILE.to_string())
}

/// Creates `dir` (and parents) and makes it private (0700): images hold the
/// container's memory.
pub fn private_dir(dir: &Path) -> Result<PathBuf> {
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .ctx(|| format!("create {}", dir.display()))?;
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
        .ctx(|| format!("chmod {}", dir.display()))?;
    std::fs::canonicalize(dir).ctx(|| format!("resolve {}", dir.display()))
}

/// Opens a directory as an fd to hand to CRIU.
pub(crate) fn open_dir(dir: &Path) -> Result<OwnedFd> {
    cryo_sys::mount::open_dir(dir).ctx(|| format!("open {}", dir.display()))
}

/// Writes a file readable by root only, atomically.
pub(crate) fn write_private(path: &Path, bytes: &[u8]) -> Result<()> {
    Ok(cryo_container::store::write_private(path, bytes)?)
}

/// CRIU's failure, with the error lines of its log.
pub(crate) fn criu_failed(
    request: &'static str,
    e: cryo_criu::CriuError,
    log: PathBuf,
) -> CheckpointError {
    let message = match e {
        cryo_criu::CriuError::Failed { errno, message, .. } => match (message, errno) {
            (Some(m), _) if !m.is_empty() => m,
            (_, 0) => "failed".to_string(),
            (_, n) => cryo_container::error::errno_text(nix::errno::Errno::from_raw(n)),
        },
        cryo_criu::CriuError::Protocol(m) => m,
        other => return CheckpointError::Criu(other),
    };
    let lines = log_errors(&log);
    CheckpointError::CriuFailed {
        request,
        // The log's lines say more than CRIU's one-line message.
        detail: if lines.is_empty() {
            message
        } else {
            format!("see {}", log.display())
        },
        log: lines,
        log_path: log,
    }
}

/// The error lines of a CRIU log worth showing: CRIU's complaint that it
/// cannot raise RLIMIT_NOFILE (hosts without CAP_SYS_RESOURCE) is harmless.
fn log_errors(log: &Path) -> Vec<String> {
    let mut lines = cryo_criu::read_log_errors(log, 12);
    lines.retain(|l| !l.contains("RLIMIT_NOFILE for self"));
    let skip = lines.len().saturating_sub(6);
    lines.drain(..skip);
    lines
}

/// The fd numbers CRIU sees for what cryo hands it.
pub(crate) mod fdno {
    pub const STDIO: i32 = 110;
    pub const NET_NS: i32 = 120;
    pub const PID_NS: i32 = 121;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn modes_and_empty_ns() {
        assert_eq!(
            "ignore".parse::<CgroupsMode>().ok(),
            Some(CgroupsMode::Ignore)
        );
        assert!("bogus".parse::<CgroupsMode>().is_err());
        assert_eq!(
            empty_ns_flags(&["network".into()]).ok(),
            Some(libc::CLONE_NEWNET as u32)
        );
        let e = empty_ns_flags(&["pid".into()])
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(e.contains("\"pid\""), "{e}");
    }

    #[test]
    fn config_annotation_wins() {
        let mut a = std::collections::HashMap::new();
        a.insert(CONFIG_ANNOTATION.to_string(), "/x.conf".to_string());
        assert_eq!(config_file(Some(&a)).as_deref(), Some("/x.conf"));
        a.insert(CONFIG_ANNOTATION.to_string(), String::new());
        assert_eq!(config_file(Some(&a)), None);
    }

    #[test]
    fn private_dir_is_0700() -> std::io::Result<()> {
        let t = tempfile::tempdir()?;
        let d = t.path().join("a/b");
        private_dir(&d).map_err(std::io::Error::other)?;
        let mode = std::fs::metadata(&d)?.permissions().mode() & 0o777;
        assert_eq!(mode, 0o700);
        Ok(())
    }
}
