//! `descriptors.json`: what the container's fds 0-2 were at dump time, in
//! runc's format (a JSON array of `/proc/<pid>/fd/N` link targets, e.g.
//! `["/dev/null","pipe:[91543]","pipe:[91544]"]`). Restore uses it to plug
//! pipes the container had into the caller's stdio.

use std::path::Path;

use crate::error::{CheckpointError, Ctx, Result};

pub const FILE: &str = "descriptors.json";
/// cryo's sidecar: the external names of stdio files that live outside the
/// container's mounts (a host /dev/null or log file), so restore can plug
/// the caller's fds in their place.
pub const EXTERNAL_STDIO_FILE: &str = "cryo-stdio.json";

/// One of fds 0-2 that CRIU must treat as external.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ExternalStdio {
    pub fd: i32,
    /// CRIU's name for it: `file[<mnt_id hex>:<inode hex>]`.
    pub key: String,
    /// Its host path and `st_mode` at dump time: CRIU restores it only into
    /// an fd of the same mode.
    #[serde(default)]
    pub path: String,
    #[serde(default)]
    pub mode: u32,
}

/// The fds 0-2 of `pid` that are files on a mount the container does not
/// have (CRIU cannot dump them by path).
pub fn external_stdio(pid: i32) -> Vec<ExternalStdio> {
    use std::os::unix::fs::MetadataExt;
    let mounts: std::collections::HashSet<u64> =
        std::fs::read_to_string(format!("/proc/{pid}/mountinfo"))
            .unwrap_or_default()
            .lines()
            .filter_map(|l| l.split(' ').next()?.parse().ok())
            .collect();
    let mut out = Vec::new();
    for fd in 0..3 {
        let Ok(target) = std::fs::read_link(format!("/proc/{pid}/fd/{fd}")) else {
            continue;
        };
        if is_inherited(&target.to_string_lossy()) {
            continue;
        }
        let Some(mnt_id) = std::fs::read_to_string(format!("/proc/{pid}/fdinfo/{fd}"))
            .ok()
            .and_then(|s| fdinfo_mnt_id(&s))
        else {
            continue;
        };
        if mounts.contains(&mnt_id) {
            continue;
        }
        let Ok(meta) = std::fs::metadata(format!("/proc/{pid}/fd/{fd}")) else {
            continue;
        };
        out.push(ExternalStdio {
            fd,
            key: format!("file[{mnt_id:x}:{:x}]", meta.ino()),
            path: target.to_string_lossy().into_owned(),
            mode: meta.mode(),
        });
    }
    out
}

fn fdinfo_mnt_id(fdinfo: &str) -> Option<u64> {
    fdinfo
        .lines()
        .find_map(|l| l.strip_prefix("mnt_id:"))
        .and_then(|v| v.trim().parse().ok())
}

pub fn write_external(dir: &Path, ext: &[ExternalStdio]) -> Result<()> {
    let json = serde_json::to_vec(ext).map_err(|e| CheckpointError::Invalid(e.to_string()))?;
    crate::write_private(&dir.join(EXTERNAL_STDIO_FILE), &json)
}

/// The sidecar of a cryo image; a runc image has none.
pub fn read_external(dir: &Path) -> Result<Vec<ExternalStdio>> {
    let path = dir.join(EXTERNAL_STDIO_FILE);
    let bytes = match std::fs::read(&path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e).ctx(|| format!("open {}", path.display())),
    };
    parse_external(&bytes).map_err(|e| CheckpointError::Invalid(format!("{}: {e}", path.display())))
}

/// Parses a `cryo-stdio.json` sidecar: at most one entry for each of fds
/// 0-2, each keyed by a CRIU file name.
pub fn parse_external(bytes: &[u8]) -> std::result::Result<Vec<ExternalStdio>, String> {
    let v: Vec<ExternalStdio> = serde_json::from_slice(bytes).map_err(|e| e.to_string())?;
    let mut seen = [false; 3];
    for e in &v {
        let slot = usize::try_from(e.fd)
            .ok()
            .and_then(|i| seen.get_mut(i))
            .ok_or_else(|| format!("bad entry: fd {} is not one of 0-2", e.fd))?;
        if std::mem::replace(slot, true) {
            return Err(format!("bad entry: fd {} is listed twice", e.fd));
        }
        if !e.key.starts_with("file[") {
            return Err(format!("bad entry: fd {} has key {:?}", e.fd, e.key));
        }
    }
    Ok(v)
}

/// Reads the link targets of fds 0-2 of `pid` (an fd that is closed reads
/// as an empty string, like runc).
pub fn of_process(pid: i32) -> Vec<String> {
    (0..3)
        .map(|fd| {
            std::fs::read_link(format!("/proc/{pid}/fd/{fd}"))
                .map(|p| p.to_string_lossy().into_owned())
                .unwrap_or_default()
        })
        .collect()
}

pub fn write(dir: &Path, fds: &[String]) -> Result<()> {
    let json = serde_json::to_vec(fds).map_err(|e| CheckpointError::Invalid(e.to_string()))?;
    crate::write_private(&dir.join(FILE), &json)
}

pub fn read(dir: &Path) -> Result<Vec<String>> {
    let path = dir.join(FILE);
    let bytes = std::fs::read(&path).ctx(|| format!("open {}", path.display()))?;
    parse(&bytes).map_err(|e| CheckpointError::Invalid(format!("{}: {e}", path.display())))
}

pub fn parse(bytes: &[u8]) -> std::result::Result<Vec<String>, String> {
    let v: Vec<String> = serde_json::from_slice(bytes).map_err(|e| e.to_string())?;
    if v.len() > 1024 {
        return Err("too many descriptors".into());
    }
    Ok(v)
}

/// Whether a dumped descriptor is one the restoring caller must provide
/// (pipes, sockets and the like have no path CRIU could reopen).
pub fn is_inherited(target: &str) -> bool {
    target.starts_with("pipe:[") || target.starts_with("socket:[")
}

/// The fd a restore hands CRIU for a stdio file that was external at dump:
/// the caller's own fd when it has the dumped mode (CRIU insists), else the
/// dumped path reopened when it still has that mode (a host /dev/null, a
/// log file), else an error naming the mismatch.
///
/// Without `host_files` (images from an archive, whose `cryo-stdio.json`
/// whoever wrote the archive chose) only a character device is reopened:
/// a regular file would hand the restored container a host file of the
/// archive's choosing, open for appending.
pub fn restore_fd_for(e: &ExternalStdio, host_files: bool) -> Result<Option<std::os::fd::OwnedFd>> {
    use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
    let ours = std::fs::metadata(format!("/proc/self/fd/{}", e.fd))
        .map(|m| m.mode())
        .ok();
    if e.mode == 0 || ours == Some(e.mode) {
        return Ok(None);
    }
    let same_path = std::fs::metadata(&e.path).map(|m| m.mode()).ok() == Some(e.mode);
    if !e.path.starts_with('/') || !same_path {
        return Err(CheckpointError::Invalid(format!(
            "fd {} of the checkpointed container was {} (mode {:o}); restore needs an fd {} of that type",
            e.fd, e.path, e.mode, e.fd
        )));
    }
    if !host_files && e.mode & libc::S_IFMT != libc::S_IFCHR {
        return Err(CheckpointError::Invalid(format!(
            "fd {} of the checkpointed container was the host file {}: a checkpoint from an \
             archive does not reopen host files; restore with fd {} open on a file of that type",
            e.fd, e.path, e.fd
        )));
    }
    let f = std::fs::OpenOptions::new()
        .read(e.fd == 0)
        .append(e.fd != 0)
        .custom_flags(libc::O_CLOEXEC | libc::O_NOFOLLOW)
        .open(&e.path)
        .ctx(|| format!("reopen {} for fd {}", e.path, e.fd))?;
    Ok(Some(f.into()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_runc_format() {
        let v = parse(br#"["/dev/null","pipe:[91543]","pipe:[91544]"]"#).expect("parse");
        assert_eq!(v.len(), 3);
        assert!(!is_inherited(&v[0]));
        assert!(is_inherited(&v[1]));
        assert!(parse(b"{}").is_err());
        assert!(parse(b"[1]").is_err());
    }

    #[test]
    fn fdinfo_mount_id() {
        assert_eq!(
            fdinfo_mnt_id("pos:\t0\nflags:\t0100002\nmnt_id:\t24\nino:\t5\n"),
            Some(24)
        );
        assert_eq!(fdinfo_mnt_id("pos:\t0\n"), None);
    }

    #[test]
    fn external_sidecar_is_validated() -> std::io::Result<()> {
        let t = tempfile::tempdir()?;
        assert!(read_external(t.path())
            .map_err(std::io::Error::other)?
            .is_empty());
        let v = vec![ExternalStdio {
            fd: 0,
            key: "file[18:5]".into(),
            path: "/dev/null".into(),
            mode: 0o20666,
        }];
        write_external(t.path(), &v).map_err(std::io::Error::other)?;
        assert_eq!(read_external(t.path()).map_err(std::io::Error::other)?, v);
        std::fs::write(
            t.path().join(EXTERNAL_STDIO_FILE),
            br#"[{"fd":7,"key":"file[1:2]"}]"#,
        )?;
        assert!(read_external(t.path()).is_err());
        for bad in [
            &br#"[{"fd":-1,"key":"file[1:2]"}]"#[..],
            br#"[{"fd":1,"key":"pipe:[3]"}]"#,
            br#"[{"fd":1,"key":"file[1:2]"},{"fd":1,"key":"file[1:3]"}]"#,
            br#"{}"#,
        ] {
            assert!(
                parse_external(bad).is_err(),
                "{}",
                String::from_utf8_lossy(bad)
            );
        }
        Ok(())
    }
}
