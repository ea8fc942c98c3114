//! The restore path: from a bundle and an image directory to a running
//! container with cryo state. This is the second way a container comes to
//! exist, beside `create`, and shares its state store, cgroup driver and
//! hooks.
//!
//! Order, as runc does it: state directory (the id is taken), cgroup
//! created with the bundle's resources, the rootfs bound at
//! `<state>/criu-root` (CRIU wants its root to be a mountpoint), CRIU spawned
//! and moved into the cgroup before it gets the request, prestart and
//! createRuntime hooks at `setup-namespaces`, the state written at
//! `post-restore`. A failure at any step removes everything again.

use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd, RawFd};
use std::path::{Path, PathBuf};

use cryo_container::store::{Locked, Pending, ProcessId, Record};
use cryo_container::Store;
use cryo_criu::{rpc, CriuError, Notify};
use cryo_faults::Point;
use cryo_oci::Status;
use oci_spec::runtime::{LinuxNamespaceType, Spec};

use crate::error::{CheckpointError, Ctx, Result};
use crate::externals::{self, NET_NS_KEY, PID_NS_KEY};
use crate::{descriptors, fdno, CgroupsMode};

const CRIU_ROOT: &str = "criu-root";

#[derive(Debug, Default)]
pub struct RestoreOptions {
    pub id: String,
    pub criu: Option<PathBuf>,
    pub bundle: PathBuf,
    pub image_path: PathBuf,
    /// Where restore.log and stats-restore go (default: the image path).
    pub work_path: Option<PathBuf>,
    pub pid_file: Option<PathBuf>,
    pub console_socket: Option<PathBuf>,
    pub tcp_established: bool,
    pub tcp_close: bool,
    pub ext_unix_sk: bool,
    pub shell_job: bool,
    pub file_locks: bool,
    pub manage_cgroups_mode: Option<CgroupsMode>,
    pub empty_ns: Vec<String>,
    pub auto_dedup: bool,
    pub lazy_pages: bool,
    /// With `lazy_pages`: `ADDR:PORT` of the page server holding the memory
    /// (a lazy `checkpoint --page-server`); cryo runs CRIU's lazy-pages
    /// daemon to fetch from it. Without it the caller runs that daemon, as
    /// with runc.
    pub page_server: Option<String>,
    /// Lazy restore from local images (quick startup): cryo runs CRIU's
    /// lazy-pages daemon on the image directory, the container runs before
    /// its memory is loaded. Implies `lazy_pages`.
    pub lazy_local: bool,
    /// Restore for `create` (the `org.cryo.restore-from` annotation): the
    /// restored container is frozen and shows as `created` until `start`.
    pub start_frozen: bool,
    /// Namespaces to join instead of the paths in the bundle's config
    /// (a pod member joins its restored holder's: `net` →
    /// `/proc/<new pid>/ns/net`). The type must be in the config already.
    pub namespace_paths: Vec<(LinuxNamespaceType, PathBuf)>,
    /// CRIU's network lock method.
    pub network_lock: Option<crate::checkpoint::NetworkLock>,
    /// cryo locks the restored network namespace itself when CRIU has set
    /// up the namespaces, before any socket is restored, and leaves it
    /// locked: the caller unlocks it ([`crate::netlock::unlock`]). A pod
    /// holder's, until its members are back.
    pub hold_network_locked: bool,
    /// `TYPE:VALUE` (e.g. `selinux:...`).
    pub lsm_profile: Option<String>,
    pub lsm_mount_context: Option<String>,
    /// The images came in an archive (`restore --import`, a `create` whose
    /// annotation names one): made elsewhere, by whoever wrote the archive.
    /// A stdio file outside the container that the images name is then
    /// reopened by path only if it is a character device (`/dev/null`, a
    /// tty), never a host file (see [`descriptors::restore_fd_for`]).
    pub from_archive: bool,
}

impl RestoreOptions {
    /// The CRIU flags of `self` for one container of a batch (`--all`,
    /// `--group`), restored detached from `image_path` under `bundle`.
    pub fn for_container(&self, id: &str, bundle: &Path, image_path: PathBuf) -> RestoreOptions {
        RestoreOptions {
            id: id.to_string(),
            bundle: bundle.to_path_buf(),
            image_path,
            criu: self.criu.clone(),
            tcp_established: self.tcp_established,
            tcp_close: self.tcp_close,
            ext_unix_sk: self.ext_unix_sk,
            shell_job: self.shell_job,
            file_locks: self.file_locks,
            manage_cgroups_mode: self.manage_cgroups_mode,
            empty_ns: self.empty_ns.clone(),
            auto_dedup: self.auto_dedup,
            lsm_profile: self.lsm_profile.clone(),
            lsm_mount_context: self.lsm_mount_context.clone(),
            ..RestoreOptions::default()
        }
    }
}

/// A restored, running container.
#[derive(Debug)]
pub struct Restored {
    pub pid: i32,
    pub record: Record,
}

pub fn restore(store: &Store, opts: &RestoreOptions) -> Result<Restored> {
    // Images that cannot be restored are refused before anything exists.
    check_images(&opts.image_path, opts.lazy_pages || opts.lazy_local)?;
    let locked = store.create_dir(&opts.id)?;
    let mut undo = Undo {
        locked: Some(locked),
        cgroup: None,
        criu_root: None,
        criu_work: None,
        pid: None,
    };
    let restored = restore_inner(opts, &mut undo)?;
    undo.disarm();
    Ok(restored)
}

/// Refuses an image directory a restore cannot use: an unfinished or
/// damaged cryo checkpoint ([`crate::marker`]), or images this host cannot
/// restore ([`crate::preflight`]).
pub fn check_images(image_path: &Path, lazy_pages: bool) -> Result<()> {
    crate::marker::check(image_path, crate::marker::Use::Restore { lazy_pages })?;
    crate::preflight::check(image_path)
}

/// Removes everything a failed restore made.
struct Undo {
    locked: Option<Locked>,
    cgroup: Option<Box<dyn cryo_cgroups::CgroupDriver>>,
    criu_root: Option<PathBuf>,
    /// CRIU's work directory, where a CRIU killed mid-way leaves its
    /// cgroup yard mounted.
    criu_work: Option<PathBuf>,
    pid: Option<i32>,
}

impl Undo {
    fn disarm(&mut self) {
        if let Some(root) = self.criu_root.take() {
            unmount_criu_root(&root);
        }
        self.locked = None;
        self.cgroup = None;
        self.criu_work = None;
        self.pid = None;
    }
}

impl Drop for Undo {
    fn drop(&mut self) {
        if let Some(pid) = self.pid {
            let _ = cryo_sys::process::kill(pid, libc::SIGKILL);
            let _ = cryo_sys::process::wait_child(pid);
        }
        if let Some(root) = self.criu_root.take() {
            unmount_criu_root(&root);
        }
        if let Some(cg) = &self.cgroup {
            let _ = cryo_container::lifecycle::kill_and_remove_cgroup(&**cg);
        }
        if let Some(work) = &self.criu_work {
            cryo_container::lifecycle::remove_criu_yards(work);
        }
        if let Some(l) = self.locked.take() {
            let _ = l.remove();
        }
    }
}

fn unmount_criu_root(root: &Path) {
    let _ = cryo_sys::mount::umount_detach(root);
    let _ = std::fs::remove_dir(root);
}

fn restore_inner(opts: &RestoreOptions, undo: &mut Undo) -> Result<Restored> {
    let bundle =
        std::fs::canonicalize(&opts.bundle).ctx(|| format!("bundle {}", opts.bundle.display()))?;
    let mut spec = cryo_oci::load_spec(&bundle)?;
    override_namespace_paths(&mut spec, &opts.namespace_paths)?;
    cryo_container::create::check_supported(&spec)?;
    let terminal = spec.process().as_ref().and_then(|p| p.terminal()) == Some(true);
    if terminal && opts.console_socket.is_none() {
        return Err(CheckpointError::Invalid(
            "cannot restore a container with a terminal without --console-socket".into(),
        ));
    }
    let image_path = std::fs::canonicalize(&opts.image_path)
        .ctx(|| format!("image path {}", opts.image_path.display()))?;
    let work_path = match &opts.work_path {
        Some(w) => crate::private_dir(w)?,
        None => image_path.clone(),
    };
    let stdio = descriptors::read(&image_path)?;
    let external_stdio = descriptors::read_external(&image_path)?;
    let criu = cryo_criu::Criu::new(cryo_criu::locate(opts.criu.as_deref())?);
    let empty_ns = crate::empty_ns_flags(&opts.empty_ns)?;
    let page_server = opts
        .page_server
        .as_deref()
        .map(crate::checkpoint::parse_address)
        .transpose()?;
    let lazy_pages = opts.lazy_pages || opts.lazy_local;
    if opts.lazy_local && page_server.is_some() {
        return Err(CheckpointError::Invalid(
            "--lazy restores from local images; --page-server fetches from a remote one: pick one"
                .into(),
        ));
    }
    if page_server.is_some() && !lazy_pages {
        return Err(CheckpointError::Invalid(
            "restore --page-server needs --lazy-pages (memory is fetched from the page server on demand)".into(),
        ));
    }
    let rootfs = cryo_container::create::resolve_rootfs(&bundle, &spec)?;
    std::env::set_current_dir(&bundle).ctx(|| format!("chdir {}", bundle.display()))?;
    let dir = undo
        .locked
        .as_ref()
        .map(|l| l.dir.clone())
        .ok_or_else(|| CheckpointError::Invalid("internal: restore lost its lock".into()))?;

    // The cgroup, with the bundle's limits, before CRIU puts anything in it.
    // What is made from here on is recorded first, for `delete` to remove
    // if this restore is killed before it writes the state.
    let cgroup = cryo_cgroups::open(&cryo_container::create::cgroup_path_for(&spec, &opts.id))?;
    let mut pending = Pending {
        cgroup_paths: cgroup.paths(),
        criu_work: Some(work_path.clone()),
        criu: None,
    };
    {
        let locked = undo.locked.as_ref().ok_or_else(lost_lock)?;
        locked.save_pending(&pending)?;
    }
    undo.criu_work = Some(work_path.clone());
    cgroup.create()?;
    let cgroup = &**undo.cgroup.insert(cgroup);
    if let Some(res) = spec.linux().as_ref().and_then(|l| l.resources().as_ref()) {
        cgroup.apply(&cryo_container::create::with_default_devices(res))?;
    }
    let cgroup_paths = cgroup.paths();
    cryo_faults::point(Point::RestoreAfterCgroup);

    prepare_mountpoints(&spec, &bundle, &rootfs)?;
    let criu_root = dir.join(CRIU_ROOT);
    std::fs::create_dir_all(&criu_root).ctx(|| format!("mkdir {}", criu_root.display()))?;
    let rootfs_str = rootfs.to_str().ok_or_else(|| {
        CheckpointError::Invalid(format!("rootfs {} is not UTF-8", rootfs.display()))
    })?;
    cryo_sys::mount::mount(
        Some(rootfs_str),
        &criu_root,
        None,
        libc::MS_BIND | libc::MS_REC,
        None,
    )
    .ctx(|| format!("bind {} on {}", rootfs.display(), criu_root.display()))?;
    undo.criu_root = Some(criu_root.clone());
    cryo_faults::point(Point::RestoreAfterMount);

    let images_fd = crate::open_dir(&image_path)?;
    let work_fd = crate::open_dir(&work_path)?;
    let console = match &opts.console_socket {
        Some(p) if terminal => Some(
            cryo_sys::socket::connect(p, false)
                .ctx(|| format!("connect console socket {}", p.display()))?,
        ),
        _ => None,
    };

    let mut o = rpc::Criu_opts::new();
    // CRIU opens these through /proc/<our pid>/fd: our numbers, not mapped.
    o.images_dir_fd = Some(images_fd.as_raw_fd());
    o.work_dir_fd = Some(work_fd.as_raw_fd());
    o.log_file = Some("restore.log".into());
    o.log_level = Some(4);
    o.root = Some(criu_root.to_string_lossy().into_owned());
    o.manage_cgroups = Some(true);
    if let Some(m) = opts.manage_cgroups_mode {
        o.manage_cgroups_mode = Some(m.rpc().into());
    }
    o.notify_scripts = Some(true);
    // The restored init becomes our child, not CRIU's.
    o.rst_sibling = Some(true);
    o.tcp_established = Some(opts.tcp_established);
    o.tcp_close = Some(opts.tcp_close);
    o.ext_unix_sk = Some(opts.ext_unix_sk);
    o.shell_job = Some(opts.shell_job);
    o.file_locks = Some(opts.file_locks);
    o.auto_dedup = Some(opts.auto_dedup);
    o.lazy_pages = Some(lazy_pages);
    o.leave_stopped = Some(opts.start_frozen);
    if let Some(n) = opts.network_lock {
        o.network_lock = Some(n.rpc().into());
    }
    o.orphan_pts_master = Some(terminal);
    if empty_ns != 0 {
        o.empty_ns = Some(empty_ns);
    }
    o.lsm_profile = opts.lsm_profile.clone();
    o.lsm_mount_context = opts.lsm_mount_context.clone();
    o.config_file = crate::config_file(spec.annotations().as_ref());
    for e in externals::restore_mounts(&spec, &bundle, &cgroup_paths) {
        let mut m = rpc::Ext_mount_map::new();
        m.key = Some(e.key);
        m.val = Some(e.val);
        o.ext_mnt.push(m);
    }
    let mounts = cryo_cgroups::mountinfo::read_mounts()?;
    for (ctrl, path) in crate::cgroot::roots(&cgroup_paths, &mounts) {
        let mut r = rpc::Cgroup_root::new();
        r.ctrl = Some(ctrl);
        r.path = Some(path);
        o.cg_root.push(r);
    }

    let mut fds: Vec<(RawFd, BorrowedFd<'_>)> = Vec::new();
    // Pipes and sockets the container had on fds 0-2 become ours.
    for (i, target) in stdio.iter().enumerate().take(3) {
        if descriptors::is_inherited(target) {
            let n = fdno::STDIO + i as i32;
            let mut inh = rpc::Inherit_fd::new();
            inh.key = Some(target.clone());
            inh.fd = Some(n);
            o.inherit_fd.push(inh);
            fds.push((n, cryo_sys::fd::borrow(i as RawFd)));
        }
    }
    // Stdio files from outside the container (a host /dev/null) become
    // the caller's fds as well.
    let reopened: Vec<(i32, Option<OwnedFd>)> = external_stdio
        .iter()
        .map(|e| Ok((e.fd, descriptors::restore_fd_for(e, !opts.from_archive)?)))
        .collect::<Result<_>>()?;
    for (e, (_, substitute)) in external_stdio.iter().zip(&reopened) {
        let n = fdno::STDIO + e.fd;
        let mut inh = rpc::Inherit_fd::new();
        inh.key = Some(e.key.clone());
        inh.fd = Some(n);
        o.inherit_fd.push(inh);
        fds.retain(|(t, _)| *t != n);
        match substitute {
            Some(fd) => fds.push((n, fd.as_fd())),
            None => fds.push((n, cryo_sys::fd::borrow(e.fd))),
        }
    }
    let mut ns_fds: Vec<(RawFd, OwnedFd, &str)> = Vec::new();
    for (t, n, key) in [
        (LinuxNamespaceType::Network, fdno::NET_NS, NET_NS_KEY),
        (LinuxNamespaceType::Pid, fdno::PID_NS, PID_NS_KEY),
    ] {
        if let Some(path) = externals::joined_ns(&spec, t) {
            let f =
                std::fs::File::open(&path).ctx(|| format!("open namespace {}", path.display()))?;
            ns_fds.push((n, OwnedFd::from(f), key));
        }
    }
    for (n, _, key) in &ns_fds {
        let mut inh = rpc::Inherit_fd::new();
        inh.key = Some((*key).to_string());
        inh.fd = Some(*n);
        o.inherit_fd.push(inh);
    }
    for (t, name) in [
        (LinuxNamespaceType::Ipc, "ipc"),
        (LinuxNamespaceType::Uts, "uts"),
    ] {
        if let Some(path) = externals::joined_ns(&spec, t) {
            let mut j = rpc::Join_namespace::new();
            j.ns = Some(name.to_string());
            j.ns_file = Some(path.to_string_lossy().into_owned());
            o.join_ns.push(j);
        }
    }
    for (n, fd, _) in &ns_fds {
        fds.push((*n, fd.as_fd()));
    }

    let mut req = rpc::Criu_req::new();
    req.type_ = Some(rpc::Criu_req_type::RESTORE.into());
    req.opts = Some(o).into();

    if let Some((host, port)) = &page_server {
        crate::lazy::start_daemon(criu.path(), &image_path, &work_path, Some((host, *port)))?;
    } else if opts.lazy_local {
        crate::lazy::start_daemon(criu.path(), &image_path, &work_path, None)?;
    }

    let mut hooks = RestoreHooks {
        id: &opts.id,
        bundle: &bundle,
        spec: &spec,
        cgroup,
        console: console.as_ref(),
        lock_network: opts.hold_network_locked,
        locked: undo.locked.as_ref().ok_or_else(lost_lock)?,
        pending: &mut pending,
        pid: None,
        error: None,
    };
    let res = criu.run(req, &fds, &mut hooks);
    let hook_pid = hooks.pid;
    let hook_error = hooks.error.take();
    let resp = match (res, hook_error) {
        (_, Some(e)) => {
            undo.pid = hook_pid;
            return Err(e);
        }
        (Err(e), None) => {
            undo.pid = hook_pid;
            // Asked only now: a feature check before every lazy restore
            // costs a CRIU run (~60 ms) on the quick-startup path.
            if lazy_pages && criu.check_features().is_ok_and(|f| !f.lazy_pages) {
                return Err(CheckpointError::KernelLacks(
                    "lazy pages are not possible here: CRIU's lazy_pages feature check failed \
                     (the kernel lacks userfaultfd)"
                        .into(),
                ));
            }
            return Err(crate::criu_failed(
                "restore",
                e,
                work_path.join("restore.log"),
            ));
        }
        (Ok(r), None) => r,
    };
    cryo_faults::point(Point::RestoreAfterCriu);
    let pid = resp
        .restore
        .as_ref()
        .and_then(|r| r.pid)
        .or(hook_pid)
        .filter(|p| *p > 0)
        .ok_or_else(|| CheckpointError::Invalid("criu did not report the restored pid".into()))?;
    undo.pid = Some(pid);
    let start_time = cryo_sys::process::proc_start_time(pid)
        .map(|(t, _)| t)
        .ok_or_else(|| CheckpointError::Invalid("the restored container exited at once".into()))?;

    let record = Record {
        id: opts.id.clone(),
        init_pid: pid,
        init_start_time: start_time,
        bundle: bundle.clone(),
        rootfs,
        created: cryo_oci::time::rfc3339_nano(std::time::SystemTime::now()),
        annotations: spec
            .annotations()
            .clone()
            .unwrap_or_default()
            .into_iter()
            .collect(),
        started: !opts.start_frozen,
        frozen_until_start: opts.start_frozen,
        own_pid_ns: externals::creates_ns(&spec, LinuxNamespaceType::Pid),
        cgroup_paths,
        // Restored tasks run their own programs; `start` of a frozen one
        // shows in its thawed cgroup.
        init_exe: None,
        config: spec.clone(),
    };
    if opts.start_frozen {
        // CRIU left every task stopped (SIGSTOP): freeze them, then let the
        // SIGCONT wait in the frozen cgroup until `start` thaws it. Nothing
        // of the container runs before `start`.
        cgroup.freeze()?;
        for p in cgroup.processes()? {
            let _ = cryo_sys::process::kill(p, libc::SIGCONT);
        }
    }
    if let Some(pf) = &opts.pid_file {
        cryo_container::create::write_pid_file(pf, pid)?;
    }
    let locked = undo.locked.as_ref().ok_or_else(lost_lock)?;
    locked.save(&record)?;
    cryo_faults::point(Point::RestoreAfterState);
    Ok(Restored { pid, record })
}

fn lost_lock() -> CheckpointError {
    CheckpointError::Invalid("internal: restore lost its lock".into())
}

fn override_namespace_paths(
    spec: &mut Spec,
    paths: &[(LinuxNamespaceType, PathBuf)],
) -> Result<()> {
    if paths.is_empty() {
        return Ok(());
    }
    let mut namespaces = spec
        .linux()
        .as_ref()
        .and_then(|l| l.namespaces().clone())
        .unwrap_or_default();
    for (t, path) in paths {
        let ns = namespaces
            .iter_mut()
            .find(|n| n.typ() == *t)
            .ok_or_else(|| {
                CheckpointError::Invalid(format!(
                    "the bundle's config has no {t:?} namespace to join"
                ))
            })?;
        ns.set_path(Some(path.clone()));
    }
    let mut linux = spec.linux().clone().unwrap_or_default();
    linux.set_namespaces(Some(namespaces));
    spec.set_linux(Some(linux));
    Ok(())
}

/// Mountpoints of the bundle's bind mounts, made inside the rootfs (never
/// following its symlinks out) when a fresh rootfs lacks them.
fn prepare_mountpoints(spec: &Spec, bundle: &Path, rootfs: &Path) -> Result<()> {
    let root = crate::open_dir(rootfs)?;
    for m in spec.mounts().iter().flatten() {
        if !externals::is_bind(m) {
            continue;
        }
        let dest = m.destination();
        if cryo_sys::mount::open_in_root(&root, dest).is_ok() {
            continue;
        }
        let src = m.source().clone().unwrap_or_default();
        let src = if src.is_absolute() {
            src
        } else {
            bundle.join(src)
        };
        let is_file = std::fs::metadata(&src)
            .map(|md| !md.is_dir())
            .unwrap_or(false);
        cryo_sys::mount::make_mountpoint(&root, dest, is_file)
            .ctx(|| format!("create mountpoint {}", dest.display()))?;
    }
    Ok(())
}

/// What cryo does while CRIU restores.
struct RestoreHooks<'a> {
    id: &'a str,
    bundle: &'a Path,
    spec: &'a Spec,
    cgroup: &'a dyn cryo_cgroups::CgroupDriver,
    console: Option<&'a OwnedFd>,
    /// Lock the restored network namespace at setup-namespaces.
    lock_network: bool,
    locked: &'a Locked,
    pending: &'a mut Pending,
    pid: Option<i32>,
    error: Option<CheckpointError>,
}

impl RestoreHooks<'_> {
    fn fail(&mut self, e: CheckpointError) -> CriuError {
        let msg = e.to_string();
        self.error.get_or_insert(e);
        CriuError::hook(msg)
    }
}

impl cryo_criu::Hooks for RestoreHooks<'_> {
    fn spawned(&mut self, criu_pid: i32) -> std::result::Result<(), CriuError> {
        // Restored tasks start in CRIU's cgroup.
        self.cgroup
            .add_process(criu_pid)
            .map_err(|e| self.fail(e.into()))?;
        // A `delete` after a crash of ours waits for this CRIU to stop by
        // itself (it undoes its own mounts) before it kills what is left.
        self.pending.criu = ProcessId::of(criu_pid);
        self.locked
            .save_pending(self.pending)
            .map_err(|e| self.fail(e.into()))?;
        cryo_faults::point(Point::RestoreAfterCriuSpawned);
        Ok(())
    }

    fn notify(&mut self, n: Notify) -> std::result::Result<(), CriuError> {
        match n {
            Notify::SetupNamespaces { pid } => {
                cryo_faults::point(Point::RestoreMidRestore);
                self.pid = Some(pid);
                if self.lock_network {
                    crate::netlock::lock(pid).map_err(|e| self.fail(e))?;
                }
                let hooks = self.spec.hooks().as_ref();
                if hooks.is_none() {
                    return Ok(());
                }
                let state = cryo_container::create::hook_state_for(
                    self.id,
                    self.bundle,
                    self.spec,
                    pid,
                    Status::Creating,
                )
                .map_err(|e| self.fail(e.into()))?;
                cryo_container::hooks::run_all(
                    hooks,
                    cryo_container::hooks::HookKind::Prestart,
                    &state,
                )
                .and_then(|()| {
                    cryo_container::hooks::run_all(
                        hooks,
                        cryo_container::hooks::HookKind::CreateRuntime,
                        &state,
                    )
                })
                .map_err(|e| self.fail(CheckpointError::Invalid(e)))
            }
            Notify::PostRestore { pid } => {
                self.pid = Some(pid);
                Ok(())
            }
            Notify::OrphanPtsMaster { master } => {
                let Some(sock) = self.console else {
                    return Ok(());
                };
                use std::os::fd::AsRawFd;
                cryo_sys::fd::send_fd(sock, b"/dev/ptmx", master.as_raw_fd())
                    .ctx(|| "send the restored pty master to the console socket".into())
                    .map_err(|e| self.fail(e))
            }
            _ => Ok(()),
        }
    }
}
