//! Where a container's out-of-memory kills can be observed.
//!
//! * cgroup v1: the memory cgroup's `memory.oom_control` can be registered
//!   with an eventfd through `cgroup.event_control`; the kernel then
//!   signals the eventfd on every OOM in the cgroup (and once more when the
//!   cgroup is removed). `memory.oom_control` also counts kills
//!   (`oom_kill N`, Linux 4.13+).
//! * cgroup v2: `memory.events` counts them (`oom_kill N`).
//!
//! This module only names the files and reads/writes them; creating the
//! eventfd is the caller's business (cryo-sys).

use std::path::{Path, PathBuf};

use crate::mountinfo::UNIFIED_KEY;
use crate::stats::parse_flat_keyed;
use crate::{fs, CgroupDriver, CgroupError};

/// The memory cgroup directory of a container and its layout.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OomSource {
    /// A cgroup v1 memory cgroup.
    V1(PathBuf),
    /// A cgroup v2 directory.
    V2(PathBuf),
}

impl OomSource {
    /// The memory cgroup of `cg`: its v1 memory hierarchy directory if it
    /// has one, else its v2 directory; None when neither is known.
    pub fn of(cg: &dyn CgroupDriver) -> Option<OomSource> {
        let paths = cg.paths();
        if let Some(d) = paths.get("memory") {
            return Some(OomSource::V1(d.clone()));
        }
        paths.get(UNIFIED_KEY).map(|d| OomSource::V2(d.clone()))
    }

    /// The cgroup directory.
    pub fn dir(&self) -> &Path {
        match self {
            OomSource::V1(d) | OomSource::V2(d) => d,
        }
    }

    /// The file whose `oom_kill` line counts OOM kills.
    pub fn counter_file(&self) -> PathBuf {
        match self {
            OomSource::V1(d) => d.join("memory.oom_control"),
            OomSource::V2(d) => d.join("memory.events"),
        }
    }

    /// OOM kills in the cgroup so far (0 when the kernel does not count
    /// them or the file is gone).
    pub fn oom_kills(&self) -> Result<u64, CgroupError> {
        let content = fs::read_opt(&self.counter_file())?.unwrap_or_default();
        Ok(parse_flat_keyed(&content)
            .get("oom_kill")
            .copied()
            .unwrap_or(0))
    }

    /// v1 only: the file an eventfd registration is about
    /// (`memory.oom_control`); the caller opens it and passes its fd to
    /// [`OomSource::register_eventfd`].
    pub fn oom_control_file(&self) -> Option<PathBuf> {
        match self {
            OomSource::V1(d) => Some(d.join("memory.oom_control")),
            OomSource::V2(_) => None,
        }
    }

    /// v1 only: asks the kernel to signal `eventfd` on every OOM of the
    /// cgroup, by writing `"<eventfd> <oom_control fd>"` to
    /// `cgroup.event_control`. Both fds must stay open while watching.
    pub fn register_eventfd(&self, eventfd: i32, oom_control_fd: i32) -> Result<(), CgroupError> {
        match self {
            OomSource::V1(d) => fs::write(
                &d.join("cgroup.event_control"),
                &format!("{eventfd} {oom_control_fd}"),
            ),
            OomSource::V2(d) => Err(CgroupError::Unsupported(format!(
                "{}: cgroup v2 has no cgroup.event_control",
                d.display()
            ))),
        }
    }

    /// Whether the cgroup directory still exists (a v1 eventfd is also
    /// signalled when the cgroup is removed).
    pub fn exists(&self) -> bool {
        self.dir().join("cgroup.procs").exists()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    #[test]
    fn picks_the_memory_hierarchy() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let mem = tmp.path().join("memory/c");
        let uni = tmp.path().join("unified/c");
        std::fs::create_dir_all(&mem).expect("mkdir");
        std::fs::create_dir_all(&uni).expect("mkdir");
        let hybrid = crate::from_paths(BTreeMap::from([
            ("memory".to_owned(), mem.clone()),
            (UNIFIED_KEY.to_owned(), uni.clone()),
        ]))
        .expect("paths");
        let src = OomSource::of(hybrid.as_ref()).expect("source");
        assert_eq!(src, OomSource::V1(mem.clone()));
        assert_eq!(src.oom_kills().expect("missing file is 0"), 0);
        std::fs::write(
            mem.join("memory.oom_control"),
            "oom_kill_disable 0\nunder_oom 0\noom_kill 3\n",
        )
        .expect("write");
        assert_eq!(src.oom_kills().expect("count"), 3);
        assert!(!src.exists());

        let v2 = crate::from_paths(BTreeMap::from([(UNIFIED_KEY.to_owned(), uni.clone())]))
            .expect("paths");
        let src = OomSource::of(v2.as_ref()).expect("source");
        assert_eq!(src.oom_control_file(), None);
        std::fs::write(
            uni.join("memory.events"),
            "low 0\nhigh 0\nmax 5\noom 2\noom_kill 1\n",
        )
        .expect("write");
        assert_eq!(src.oom_kills().expect("count"), 1);
        assert!(src.register_eventfd(3, 4).is_err());
    }
}
