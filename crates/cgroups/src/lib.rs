//! cryo-cgroups: a small cgroupfs driver for cgroup v1, v2 and hybrid hosts.
//!
//! * [`open`] resolves an OCI `linux.cgroupsPath` against the mounted
//!   hierarchies (one read of `/proc/self/mountinfo`, plus
//!   `/proc/self/cgroup` for relative paths) without touching cgroupfs.
//! * [`CgroupDriver::create`] makes the directories, [`CgroupDriver::apply`]
//!   writes `linux.resources`, [`CgroupDriver::add_process`] joins a pid.
//! * [`CgroupDriver::paths`] is what the container state stores;
//!   [`from_paths`] re-opens a driver from it.
//!
//! Each controller is routed to its v1 hierarchy when it has one and to the
//! unified (v2) directory otherwise, so a hybrid host whose hugetlb
//! controller lives in the v2 hierarchy works. See `docs/cgroups.md`.
//!
//! The crate has no unsafe code.

#![forbid(unsafe_code)]

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

mod driver;
mod error;
mod fs;
pub mod mountinfo;
pub mod oom;
pub mod resources;
pub mod stats;
mod v1;
mod v2;

pub use driver::FsCgroup;
pub use error::CgroupError;
pub use fs::parse_u64_or_max;
pub use mountinfo::{
    parse_cgroups_path, parse_mountinfo, parse_proc_cgroup, CgroupMount, ProcCgroup, UNIFIED_KEY,
};
pub use resources::{
    blkio_device_line, blkio_weight_to_io_weight, device_rule_line, hugepage_dir_to_size_name,
    hugetlb_page_size_name, io_max_line, memory_swap_to_v2, page_size_name_from_bytes,
    shares_to_weight,
};
pub use stats::{
    BlkioEntry, BlkioStats, CgroupStats, CpuStats, CpuUsage, CpusetStats, HugetlbStats,
    MemoryEntry, MemoryStats, PidsStats, Throttling,
};

/// How the host mounts cgroups.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CgroupMode {
    /// Only cgroup v1 hierarchies ("legacy").
    V1,
    /// Only the cgroup v2 unified hierarchy.
    V2,
    /// v1 controller hierarchies plus a cgroup2 mount (which may hold some
    /// controllers, e.g. hugetlb).
    Hybrid,
}

/// Detects the host's cgroup mode from `/proc/self/mountinfo`.
pub fn detect_mode() -> Result<CgroupMode, CgroupError> {
    mountinfo::mode_from_mounts(&mountinfo::read_mounts()?)
}

/// A container's cgroup, across every hierarchy it lives in.
pub trait CgroupDriver: Send + Sync + std::fmt::Debug {
    /// The host mode the driver was opened for.
    fn mode(&self) -> CgroupMode;

    /// `mkdir -p` in every hierarchy (v1: every mounted subsystem hierarchy
    /// including `name=systemd`; v2/hybrid: the unified directory too).
    /// v1 cpuset.cpus/mems are copied from the nearest configured ancestor;
    /// on v2 the available controllers are enabled in the ancestors'
    /// `cgroup.subtree_control`.
    fn create(&self) -> Result<(), CgroupError>;

    /// Writes `linux.resources`. Unset fields are left untouched. Settings
    /// that cannot be honoured (device rules on v2, rdma, net_cls/net_prio
    /// not mounted, unified on a v1-only host, realtime on v2) are rejected
    /// with [`CgroupError::Unsupported`] before anything is written.
    fn apply(&self, r: &oci_spec::runtime::LinuxResources) -> Result<(), CgroupError>;

    /// Moves `pid` into the cgroup in every hierarchy.
    fn add_process(&self, pid: i32) -> Result<(), CgroupError>;

    /// Pids in the cgroup and its children, sorted (freezer, pids or memory
    /// hierarchy on v1/hybrid, the unified directory on v2).
    fn processes(&self) -> Result<Vec<i32>, CgroupError>;

    /// Freezes the cgroup and waits until it is frozen.
    fn freeze(&self) -> Result<(), CgroupError>;

    /// Thaws the cgroup.
    fn thaw(&self) -> Result<(), CgroupError>;

    /// Whether the cgroup is frozen.
    fn is_frozen(&self) -> Result<bool, CgroupError>;

    /// Removes every directory (children first), retrying briefly on EBUSY.
    /// Missing directories are fine.
    fn destroy(&self) -> Result<(), CgroupError>;

    /// Controller (`memory`, `cpu`, `name=systemd`, [`UNIFIED_KEY`] for the
    /// v2 directory) -> directory.
    fn paths(&self) -> BTreeMap<String, PathBuf>;

    /// runc-compatible statistics.
    fn stats(&self) -> Result<CgroupStats, CgroupError>;
}

/// Opens the cgroup for an OCI `linux.cgroupsPath`.
///
/// An absolute path is taken relative to each hierarchy's mount root; a
/// relative path is joined under the cgroup the calling process is in for
/// that hierarchy (read from `/proc/self/cgroup`), as runc does. Paths that
/// are empty, contain `..` components or NUL, or name the root itself are
/// rejected. Only mountinfo (and for relative paths /proc/self/cgroup) is
/// read; cgroupfs is not touched.
pub fn open(cgroups_path: &str) -> Result<Box<dyn CgroupDriver>, CgroupError> {
    open_fs(cgroups_path).map(|d| Box::new(d) as Box<dyn CgroupDriver>)
}

/// [`open`] returning the concrete driver.
pub fn open_fs(cgroups_path: &str) -> Result<FsCgroup, CgroupError> {
    // Validate before any I/O.
    let parsed = mountinfo::parse_cgroups_path(cgroups_path)?;
    let mounts = mountinfo::read_mounts()?;
    let own = if parsed.absolute {
        Vec::new()
    } else {
        mountinfo::read_own_cgroups()?
    };
    let (mode, resolved) = mountinfo::resolve(&mounts, &own, cgroups_path)?;
    Ok(FsCgroup::new(mode, resolved))
}

/// Re-opens a driver from the map [`CgroupDriver::paths`] returned (no path
/// resolution, no I/O). The mode is inferred from the keys: only
/// [`UNIFIED_KEY`] is v2, v1 keys plus [`UNIFIED_KEY`] hybrid, else v1.
pub fn from_paths(paths: BTreeMap<String, PathBuf>) -> Result<Box<dyn CgroupDriver>, CgroupError> {
    driver::from_paths(paths).map(|d| Box::new(d) as Box<dyn CgroupDriver>)
}
