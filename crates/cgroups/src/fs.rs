//! Small helpers around cgroupfs file I/O that attach paths to errors.
//!
//! Control files are opened `O_WRONLY|O_TRUNC` like runc does, but *without*
//! `O_CREAT`: cgroupfs answers `O_CREAT` on a missing file with EACCES, which
//! would hide the real reason (ENOENT: controller not enabled / unknown file).

use std::fs::{self, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::thread::sleep;
use std::time::Duration;

use crate::CgroupError;

/// EBUSY, without a libc dependency.
pub(crate) const EBUSY: i32 = 16;

/// Reads a whole file.
pub(crate) fn read(path: &Path) -> Result<String, CgroupError> {
    fs::read_to_string(path).map_err(|source| CgroupError::Read {
        path: path.to_path_buf(),
        source,
    })
}

/// Reads a whole file, `None` if it does not exist.
pub(crate) fn read_opt(path: &Path) -> Result<Option<String>, CgroupError> {
    match fs::read_to_string(path) {
        Ok(s) => Ok(Some(s)),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(source) => Err(CgroupError::Read {
            path: path.to_path_buf(),
            source,
        }),
    }
}

/// Reads a file and trims surrounding whitespace.
pub(crate) fn read_trim(path: &Path) -> Result<String, CgroupError> {
    read(path).map(|s| s.trim().to_owned())
}

/// Parses a single unsigned number (or `max`, as `u64::MAX`) from a file.
pub(crate) fn read_u64(path: &Path) -> Result<u64, CgroupError> {
    let s = read_trim(path)?;
    parse_u64_or_max(&s).ok_or_else(|| CgroupError::Parse {
        path: path.to_path_buf(),
        reason: format!("expected a number, got {s:?}"),
    })
}

/// Like [`read_u64`] but `None` for a missing file.
pub(crate) fn read_u64_opt(path: &Path) -> Result<Option<u64>, CgroupError> {
    match read_opt(path)? {
        None => Ok(None),
        Some(s) => {
            let s = s.trim();
            parse_u64_or_max(s)
                .map(Some)
                .ok_or_else(|| CgroupError::Parse {
                    path: path.to_path_buf(),
                    reason: format!("expected a number, got {s:?}"),
                })
        }
    }
}

/// `max` -> `u64::MAX`, a number -> itself. Negative numbers (v1 `-1`) are
/// treated as unlimited too.
pub fn parse_u64_or_max(s: &str) -> Option<u64> {
    if s == "max" {
        return Some(u64::MAX);
    }
    s.parse::<u64>()
        .ok()
        .or_else(|| s.parse::<i64>().ok().filter(|v| *v < 0).map(|_| u64::MAX))
}

/// Writes `value` into an existing control file.
pub(crate) fn write(path: &Path, value: &str) -> Result<(), CgroupError> {
    let res = OpenOptions::new()
        .write(true)
        .truncate(true)
        .open(path)
        .and_then(|mut f| f.write_all(value.as_bytes()));
    res.map_err(|source| CgroupError::Write {
        path: path.to_path_buf(),
        source,
    })
}

/// `mkdir -p`.
pub(crate) fn mkdir_all(path: &Path) -> Result<(), CgroupError> {
    fs::create_dir_all(path).map_err(|source| CgroupError::Mkdir {
        path: path.to_path_buf(),
        source,
    })
}

/// Removes a cgroup directory and every child cgroup below it, deepest
/// first. A missing directory is fine. Each `rmdir` is retried briefly on
/// EBUSY (a cgroup whose last process just exited can stay busy for a
/// moment), like runc's `RemovePath`, unless cgroup.procs still lists
/// processes.
pub(crate) fn remove_cgroup_tree(dir: &Path) -> Result<(), CgroupError> {
    let entries = match fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(source) => {
            return Err(CgroupError::Read {
                path: dir.to_path_buf(),
                source,
            })
        }
    };
    let mut children: Vec<PathBuf> = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|source| CgroupError::Read {
            path: dir.to_path_buf(),
            source,
        })?;
        if entry.file_type().map(|t| t.is_dir()).unwrap_or(false) {
            children.push(entry.path());
        }
    }
    for child in &children {
        remove_cgroup_tree(child)?;
    }
    rmdir_retry(dir)
}

fn rmdir_retry(dir: &Path) -> Result<(), CgroupError> {
    let mut delay = Duration::from_millis(10);
    let mut attempt = 0;
    loop {
        match fs::remove_dir(dir) {
            Ok(()) => return Ok(()),
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
            // Retry only while no live process is listed: a populated
            // cgroup will not become empty by waiting.
            Err(e) if e.raw_os_error() == Some(EBUSY) && attempt < 5 && !has_procs(dir) => {
                attempt += 1;
                sleep(delay);
                delay *= 2;
            }
            Err(source) => {
                return Err(CgroupError::Rmdir {
                    path: dir.to_path_buf(),
                    source,
                })
            }
        }
    }
}

fn has_procs(dir: &Path) -> bool {
    fs::read_to_string(dir.join("cgroup.procs")).is_ok_and(|s| !s.trim().is_empty())
}

/// Reads `cgroup.procs` of `dir` and of every cgroup below it.
pub(crate) fn collect_pids(dir: &Path, out: &mut Vec<i32>) -> Result<(), CgroupError> {
    let procs = dir.join("cgroup.procs");
    let content = read(&procs)?;
    for line in content.lines() {
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        let pid = line.parse::<i32>().map_err(|_| CgroupError::Parse {
            path: procs.clone(),
            reason: format!("bad pid {line:?}"),
        })?;
        out.push(pid);
    }
    let entries = fs::read_dir(dir).map_err(|source| CgroupError::Read {
        path: dir.to_path_buf(),
        source,
    })?;
    for entry in entries {
        let entry = entry.map_err(|source| CgroupError::Read {
            path: dir.to_path_buf(),
            source,
        })?;
        if entry.file_type().map(|t| t.is_dir()).unwrap_or(false) {
            match collect_pids(&entry.path(), out) {
                // a child cgroup removed while we walk
                Err(e) if e.is_not_found() => {}
                other => other?,
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_max() {
        assert_eq!(parse_u64_or_max("max"), Some(u64::MAX));
        assert_eq!(parse_u64_or_max("12"), Some(12));
        assert_eq!(parse_u64_or_max("-1"), Some(u64::MAX));
        assert_eq!(parse_u64_or_max("x"), None);
    }

    #[test]
    fn write_does_not_create() {
        let dir = tempfile::tempdir().expect("tempdir");
        let p = dir.path().join("memory.max");
        let err = write(&p, "1").expect_err("must not create");
        assert!(err.is_not_found(), "{err}");
        fs::write(&p, "").expect("create");
        write(&p, "42").expect("write");
        assert_eq!(read_trim(&p).expect("read"), "42");
        assert_eq!(read_u64(&p).expect("num"), 42);
        assert_eq!(read_u64_opt(&dir.path().join("nope")).expect("opt"), None);
    }

    #[test]
    fn remove_tree_is_idempotent() {
        let dir = tempfile::tempdir().expect("tempdir");
        let cg = dir.path().join("a");
        fs::create_dir_all(cg.join("b/c")).expect("mkdir");
        remove_cgroup_tree(&cg).expect("rm");
        assert!(!cg.exists());
        remove_cgroup_tree(&cg).expect("rm again");
    }
}
