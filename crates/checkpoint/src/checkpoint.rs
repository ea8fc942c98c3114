//! The dump path: from a running or paused container to an image
//! directory.

use std::os::fd::{AsRawFd, BorrowedFd, RawFd};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use cryo_container::store::{Frozen, Locked, ProcessId, Record};
use cryo_container::{ContainerError, Store};
use cryo_criu::rpc;
use cryo_faults::Point;
use cryo_oci::Status;
use oci_spec::runtime::LinuxNamespaceType;

use crate::error::{CheckpointError, Ctx, Result};
use crate::externals::{self, NET_NS_KEY, PID_NS_KEY};
use crate::{descriptors, CgroupsMode};

/// CRIU's network lock methods.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NetworkLock {
    Iptables,
    Nftables,
    Skip,
}

impl std::str::FromStr for NetworkLock {
    type Err = CheckpointError;
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "iptables" => Ok(NetworkLock::Iptables),
            "nftables" => Ok(NetworkLock::Nftables),
            "skip" => Ok(NetworkLock::Skip),
            _ => Err(CheckpointError::Invalid(format!(
                "invalid --network-lock value {s:?} (want iptables, nftables or skip)"
            ))),
        }
    }
}

impl NetworkLock {
    pub(crate) fn rpc(self) -> rpc::Criu_network_lock_method {
        use rpc::Criu_network_lock_method as M;
        match self {
            NetworkLock::Iptables => M::IPTABLES,
            NetworkLock::Nftables => M::NFTABLES,
            NetworkLock::Skip => M::SKIP,
        }
    }
}

#[derive(Debug, Default)]
pub struct CheckpointOptions {
    pub id: String,
    pub criu: Option<PathBuf>,
    pub image_path: PathBuf,
    /// Where dump.log and stats-dump go (default: the image path).
    pub work_path: Option<PathBuf>,
    /// A previous (pre-)dump, relative to the image path as CRIU wants it.
    pub parent_path: Option<PathBuf>,
    pub leave_running: bool,
    pub tcp_established: bool,
    pub tcp_skip_in_flight: bool,
    pub ext_unix_sk: bool,
    pub shell_job: bool,
    pub lazy_pages: bool,
    /// Our fd that gets a byte once a lazy dump's page server is ready.
    pub status_fd: Option<RawFd>,
    /// `ADDR:PORT` of a page server to send pages to (or, with lazy pages,
    /// where ours listens).
    pub page_server: Option<String>,
    pub file_locks: bool,
    pub link_remap: bool,
    pub pre_dump: bool,
    pub manage_cgroups_mode: Option<CgroupsMode>,
    pub empty_ns: Vec<String>,
    pub auto_dedup: bool,
    pub network_lock: Option<NetworkLock>,
    /// Also write a self-contained archive of the checkpoint here.
    pub export: Option<PathBuf>,
}

impl CheckpointOptions {
    /// The CRIU flags of `self` for one container of a batch (`--all`,
    /// `--group`): its id and image path, nothing per-container kept
    /// (work path, parent, export, lazy pages, status fd, pre-dump), and
    /// not leaving it running unless the caller says so.
    pub fn for_container(&self, id: &str, image_path: PathBuf) -> CheckpointOptions {
        CheckpointOptions {
            id: id.to_string(),
            image_path,
            criu: self.criu.clone(),
            tcp_established: self.tcp_established,
            tcp_skip_in_flight: self.tcp_skip_in_flight,
            ext_unix_sk: self.ext_unix_sk,
            shell_job: self.shell_job,
            file_locks: self.file_locks,
            link_remap: self.link_remap,
            manage_cgroups_mode: self.manage_cgroups_mode,
            empty_ns: self.empty_ns.clone(),
            auto_dedup: self.auto_dedup,
            network_lock: self.network_lock,
            ..CheckpointOptions::default()
        }
    }
}

/// What a checkpoint did.
#[derive(Debug)]
pub struct Checkpointed {
    pub image_path: PathBuf,
    pub work_path: PathBuf,
    /// Whether the container still exists (leave-running or pre-dump).
    pub still_running: bool,
}

/// Splits `ADDR:PORT` (IPv6 as `[::1]:PORT`).
pub fn parse_address(s: &str) -> Result<(String, i32)> {
    let bad = || CheckpointError::Invalid(format!("invalid address {s:?} (want ADDR:PORT)"));
    let (host, port) = s.rsplit_once(':').ok_or_else(bad)?;
    let port: u16 = port.parse().map_err(|_| bad())?;
    let host = host.trim_start_matches('[').trim_end_matches(']');
    Ok((host.to_string(), i32::from(port)))
}

pub fn checkpoint(store: &Store, opts: &CheckpointOptions) -> Result<Checkpointed> {
    let locked = store.lock(&opts.id)?;
    let rec = locked.load()?;
    match rec.status() {
        Status::Running | Status::Paused => {}
        _ => return Err(ContainerError::NotRunning.into()),
    }
    let (criu, image_path, work_path) = dump_record(&rec, Some(&locked), opts)?;

    let export_error = match &opts.export {
        Some(dest) if !opts.pre_dump => export(&criu, &rec, &image_path, &work_path, dest).err(),
        _ => None,
    };
    let still_running = opts.leave_running || opts.pre_dump;
    cryo_faults::point(Point::CheckpointBeforeDestroy);
    if !still_running {
        // CRIU has killed the tasks; remove what is left of the container.
        cryo_container::destroy_locked(locked, &rec)?;
    }
    if let Some(e) = export_error {
        return Err(CheckpointError::Invalid(format!(
            "the checkpoint is complete in {}, but writing the archive failed: {e}",
            image_path.display()
        )));
    }
    Ok(Checkpointed {
        image_path,
        work_path,
        still_running,
    })
}

/// The CRIU dump of a container whose lock the caller holds (`locked`, to
/// mark a freeze of ours; None if the caller froze it). Returns the CRIU
/// used and the image and work paths; the container's state is left to
/// the caller (CRIU killed its tasks unless `leave_running`).
///
/// The image directory is marked incomplete before CRIU starts and
/// finished ([`crate::marker`]) only once CRIU succeeded: a dump that fails
/// or is killed never leaves images that look restorable.
pub fn dump_record(
    rec: &Record,
    locked: Option<&Locked>,
    opts: &CheckpointOptions,
) -> Result<(cryo_criu::Criu, PathBuf, PathBuf)> {
    let criu = cryo_criu::Criu::new(cryo_criu::locate(opts.criu.as_deref())?);
    if opts.pre_dump || opts.lazy_pages {
        let features = criu.check_features()?;
        if opts.pre_dump && !features.mem_track {
            return Err(CheckpointError::KernelLacks(
                "pre-dump is not possible here: the kernel does not track memory changes \
                 (CRIU's mem_track feature check failed: no soft-dirty bits, \
                 CONFIG_MEM_SOFT_DIRTY); checkpoint without --pre-dump"
                    .into(),
            ));
        }
        if opts.lazy_pages && !features.lazy_pages {
            return Err(CheckpointError::KernelLacks(
                "lazy pages are not possible here: CRIU's lazy_pages feature check failed \
                 (the kernel lacks userfaultfd)"
                    .into(),
            ));
        }
    }
    if opts.lazy_pages {
        crate::lazy::check_page_server_pipes()?;
    }
    let empty_ns = crate::empty_ns_flags(&opts.empty_ns)?;
    let page_server = opts.page_server.as_deref().map(parse_address).transpose()?;
    if opts.lazy_pages && page_server.is_none() {
        return Err(CheckpointError::Invalid(
            "--lazy-pages needs --page-server ADDR:PORT for the restore side to fetch pages from"
                .into(),
        ));
    }

    let image_path = crate::private_dir(&opts.image_path)?;
    let work_path = match &opts.work_path {
        Some(w) => crate::private_dir(w)?,
        None => image_path.clone(),
    };
    let images_fd = crate::open_dir(&image_path)?;
    let work_fd = crate::open_dir(&work_path)?;
    crate::marker::begin(&image_path)?;
    descriptors::write(&image_path, &descriptors::of_process(rec.init_pid))?;
    let external_stdio = descriptors::external_stdio(rec.init_pid);
    descriptors::write_external(&image_path, &external_stdio)?;

    let mut o = rpc::Criu_opts::new();
    // CRIU opens these through /proc/<our pid>/fd: our numbers, not mapped.
    o.images_dir_fd = Some(images_fd.as_raw_fd());
    o.work_dir_fd = Some(work_fd.as_raw_fd());
    o.pid = Some(rec.init_pid);
    o.log_file = Some(
        if opts.pre_dump {
            "pre-dump.log"
        } else {
            "dump.log"
        }
        .into(),
    );
    o.log_level = Some(4);
    o.root = Some(rec.rootfs.to_string_lossy().into_owned());
    o.manage_cgroups = Some(true);
    if let Some(m) = opts.manage_cgroups_mode {
        o.manage_cgroups_mode = Some(m.rpc().into());
    }
    o.notify_scripts = Some(true);
    o.leave_running = Some(opts.leave_running || opts.pre_dump);
    o.tcp_established = Some(opts.tcp_established);
    o.tcp_skip_in_flight = Some(opts.tcp_skip_in_flight);
    o.ext_unix_sk = Some(opts.ext_unix_sk);
    o.shell_job = Some(opts.shell_job);
    o.file_locks = Some(opts.file_locks);
    o.link_remap = Some(opts.link_remap);
    o.auto_dedup = Some(opts.auto_dedup);
    o.lazy_pages = Some(opts.lazy_pages);
    // A terminal's master is outside the container (with whoever got it
    // from the console socket): CRIU dumps the slave alone.
    o.orphan_pts_master =
        Some(rec.config.process().as_ref().and_then(|p| p.terminal()) == Some(true));
    if opts.pre_dump {
        o.track_mem = Some(true);
    }
    if let Some(p) = &opts.parent_path {
        o.parent_img = Some(p.to_string_lossy().into_owned());
    }
    if let Some((host, port)) = page_server {
        let mut ps = rpc::Criu_page_server_info::new();
        ps.address = Some(host);
        ps.port = Some(port);
        o.ps = Some(ps).into();
    }
    if empty_ns != 0 {
        o.empty_ns = Some(empty_ns);
    }
    if let Some(n) = opts.network_lock {
        o.network_lock = Some(n.rpc().into());
    }
    if let Some(dir) = freezer_dir(rec) {
        o.freeze_cgroup = Some(dir.to_string_lossy().into_owned());
    }
    o.config_file = crate::config_file(rec.config.annotations().as_ref());
    let pid = rec.init_pid;
    for e in externals::dump_mounts(&rec.config, &rec.cgroup_paths, |p| masked_is_file(pid, p)) {
        let mut m = rpc::Ext_mount_map::new();
        m.key = Some(e.key);
        m.val = Some(e.val);
        o.ext_mnt.push(m);
    }
    for (t, name, key) in [
        (LinuxNamespaceType::Network, "net", NET_NS_KEY),
        (LinuxNamespaceType::Pid, "pid", PID_NS_KEY),
    ] {
        if let Some(path) = externals::joined_ns(&rec.config, t) {
            let ino = std::fs::metadata(&path)
                .ctx(|| format!("stat namespace {}", path.display()))?
                .ino();
            o.external.push(format!("{name}[{ino}]:{key}"));
        }
    }

    for e in &external_stdio {
        o.external.push(e.key.clone());
    }

    let mut req = rpc::Criu_req::new();
    req.type_ = Some(
        if opts.pre_dump {
            rpc::Criu_req_type::PRE_DUMP
        } else {
            rpc::Criu_req_type::DUMP
        }
        .into(),
    );
    req.opts = Some(o).into();

    let fds: Vec<(RawFd, BorrowedFd<'_>)> = Vec::new();
    let log = work_path.join(if opts.pre_dump {
        "pre-dump.log"
    } else {
        "dump.log"
    });
    let request = if opts.pre_dump { "pre-dump" } else { "dump" };
    // Freeze first, with the cgroup driver's tight poll: CRIU, finding the
    // cgroup still FREEZING right after its own write, sleeps 100 ms
    // (criu/seize.c) before it looks again; a cgroup it finds frozen costs
    // it nothing. CRIU leaves a cgroup it found frozen frozen, so what we
    // froze is thawed again unless the tasks are gone.
    //
    // The freeze is marked in the state directory first: if we die before
    // we thaw, the next verb does it (cryo_container::lifecycle::recover_frozen).
    let cgroup = cryo_cgroups::from_paths(rec.cgroup_paths.clone())?;
    let mut we_froze = false;
    if !cgroup.is_frozen().unwrap_or(true) {
        if let Some(l) = locked {
            l.mark_frozen(&Frozen::default())?;
        }
        we_froze = cgroup.freeze().is_ok();
        if !we_froze {
            if let Some(l) = locked {
                let _ = l.clear_frozen();
            }
        }
    }
    cryo_faults::point(Point::CheckpointAfterFreeze);
    let dumped = criu.run(
        req,
        &fds,
        &mut DumpHooks {
            status_fd: opts.status_fd,
            frozen_by_us: locked.filter(|_| we_froze),
            image_path: &image_path,
        },
    );
    if dumped.is_ok() {
        cryo_faults::point(Point::CheckpointAfterDump);
    }
    let keeps_running = opts.leave_running || opts.pre_dump || opts.lazy_pages;
    if we_froze && (dumped.is_err() || keeps_running) && cgroup.thaw().is_ok() {
        if let Some(l) = locked {
            let _ = l.clear_frozen();
        }
    }
    dumped
        .map_err(|e| out_of_space(crate::criu_failed(request, e, log), &image_path, &work_path))?;
    let state = if opts.pre_dump {
        crate::marker::State::PreDump
    } else if opts.lazy_pages {
        crate::marker::State::Lazy
    } else {
        crate::marker::State::Complete
    };
    crate::marker::finish(&image_path, state)?;
    Ok((criu, image_path, work_path))
}

/// Below this much free space a failed dump is taken to have run out of it.
const NEARLY_FULL: u64 = 256 << 10;

/// A dump that failed on a full filesystem says so: CRIU's own log of the
/// failure is often lost, being written to the same full filesystem.
fn out_of_space(e: CheckpointError, images: &Path, work: &Path) -> CheckpointError {
    for dir in [images, work] {
        let Ok(st) = nix::sys::statvfs::statvfs(dir) else {
            continue;
        };
        let free = st.blocks_available().saturating_mul(st.fragment_size());
        let size = st.blocks().saturating_mul(st.fragment_size());
        if free < NEARLY_FULL {
            return CheckpointError::NoSpace {
                dir: dir.to_path_buf(),
                free,
                size,
                source: Box::new(e),
            };
        }
    }
    e
}

/// Writes the archive of a finished dump: its images, the config the
/// container was created from, and what is worth knowing about where it
/// came from.
fn export(
    criu: &cryo_criu::Criu,
    rec: &Record,
    images: &Path,
    work: &Path,
    dest: &Path,
) -> Result<()> {
    let config = work.join(".cryo-export-config.json");
    let json = serde_json::to_vec_pretty(&rec.config)
        .map_err(|e| CheckpointError::Invalid(e.to_string()))?;
    crate::write_private(&config, &json)?;
    let meta = crate::archive::Metadata {
        format: crate::archive::FORMAT,
        cryo_version: env!("CARGO_PKG_VERSION").to_string(),
        criu_version: criu.version().map(|v| v.to_string()).unwrap_or_default(),
        kernel: std::fs::read_to_string("/proc/sys/kernel/osrelease")
            .map(|s| s.trim().to_string())
            .unwrap_or_default(),
        cgroup_mode: cryo_cgroups::detect_mode()
            .map(|m| format!("{m:?}").to_lowercase())
            .unwrap_or_default(),
        created: cryo_oci::time::rfc3339(std::time::SystemTime::now()),
        container_id: rec.id.clone(),
        annotations: rec.annotations.clone().into_iter().collect(),
        stats: crate::archive::dump_stats(&work.join("stats-dump")),
        files: Default::default(),
    };
    let r = crate::archive::create(dest, images, &config, meta);
    let _ = std::fs::remove_file(&config);
    r.map(drop)
}

/// What cryo does while CRIU dumps: name CRIU in the mark of our freeze
/// (a `recover_frozen` after our death waits for it), and tell `--status-fd`
/// when a lazy dump's page server is ready (CRIU's status-ready
/// notification), the images marked lazy first.
struct DumpHooks<'a> {
    status_fd: Option<RawFd>,
    frozen_by_us: Option<&'a Locked>,
    image_path: &'a Path,
}

impl cryo_criu::Hooks for DumpHooks<'_> {
    fn spawned(&mut self, criu_pid: i32) -> std::result::Result<(), cryo_criu::CriuError> {
        if let Some(l) = self.frozen_by_us {
            let mark = Frozen {
                criu: ProcessId::of(criu_pid),
            };
            l.mark_frozen(&mark)
                .map_err(|e| cryo_criu::CriuError::hook(e.to_string()))?;
        }
        cryo_faults::point(Point::CheckpointAfterCriuSpawned);
        Ok(())
    }

    fn notify(&mut self, n: cryo_criu::Notify) -> std::result::Result<(), cryo_criu::CriuError> {
        match n {
            cryo_criu::Notify::NetworkLock => cryo_faults::point(Point::CheckpointMidDump),
            cryo_criu::Notify::PostDump => cryo_faults::point(Point::CheckpointAtPostDump),
            _ => {}
        }
        if !matches!(n, cryo_criu::Notify::StatusReady) {
            return Ok(());
        }
        // Everything but the memory is written: a lazy restore can use it.
        crate::marker::finish(self.image_path, crate::marker::State::Lazy)
            .map_err(|e| cryo_criu::CriuError::hook(e.to_string()))?;
        if let Some(fd) = self.status_fd.take() {
            let _ = nix::unistd::write(cryo_sys::fd::borrow(fd), b"\0");
            let _ = nix::unistd::close(fd);
        }
        Ok(())
    }
}

/// The cgroup CRIU freezes the container through: the v1 freezer
/// hierarchy, else the unified directory.
fn freezer_dir(rec: &Record) -> Option<&Path> {
    rec.cgroup_paths
        .get("freezer")
        .or_else(|| rec.cgroup_paths.get(cryo_cgroups::UNIFIED_KEY))
        .map(PathBuf::as_path)
}

/// Whether a masked path is a file (bound from /dev/null) in the running
/// container, seen through its root.
fn masked_is_file(pid: i32, p: &Path) -> bool {
    let rel = p.strip_prefix("/").unwrap_or(p);
    // Not following a final symlink: the container controls its files.
    std::fs::symlink_metadata(Path::new(&format!("/proc/{pid}/root")).join(rel))
        .map(|m| !m.is_dir())
        .unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses() {
        assert_eq!(
            parse_address("127.0.0.1:27").ok(),
            Some(("127.0.0.1".into(), 27))
        );
        assert_eq!(parse_address("[::1]:9").ok(), Some(("::1".into(), 9)));
        assert!(parse_address("nohost").is_err());
        assert!(parse_address("h:99999").is_err());
    }
}
