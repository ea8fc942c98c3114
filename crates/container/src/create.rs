//! `create` (and the first half of `run`): from a bundle to a container
//! whose init waits for `start`.

use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};

use cryo_faults::Point;
use cryo_sys::process as p;
use oci_spec::runtime::{LinuxNamespaceType, Spec};

use crate::error::{ContainerError, Context, Result};
use crate::hooks::HookKind;
use crate::init::{self, InitPlan, NamespacePlan};
use crate::store::{Locked, Record, Store, START_SOCKET};
use crate::sync;

#[derive(Debug, Default)]
pub struct CreateOptions {
    pub id: String,
    pub bundle: PathBuf,
    pub pid_file: Option<PathBuf>,
    pub console_socket: Option<PathBuf>,
    /// An already connected console socket (foreground `run` with a tty).
    pub console_fd: Option<OwnedFd>,
    pub preserve_fds: u32,
    pub no_pivot: bool,
    pub no_new_keyring: bool,
}

/// A container whose init is waiting for `start`.
pub struct Created {
    pub pid: i32,
    pub record: Record,
}

/// Default cgroup path when the spec has none.
fn default_cgroup_path(id: &str) -> String {
    format!("/cryo/{id}")
}

/// The cgroup path of a container: the spec's `linux.cgroupsPath`, else
/// `/cryo/<id>`.
pub fn cgroup_path_for(spec: &Spec, id: &str) -> String {
    spec.linux()
        .as_ref()
        .and_then(|l| l.cgroups_path().as_ref())
        .map(|p| p.to_string_lossy().into_owned())
        .unwrap_or_else(|| default_cgroup_path(id))
}

/// The rootfs of a bundle's spec, canonical (relative paths are relative
/// to the bundle). As with runc, `..` in the path is taken by the text
/// (Go's `filepath.Join`/`Clean`), and a rootfs that is a symlink or is
/// reached through one is refused: config.json must name the directory.
pub fn resolve_rootfs(bundle: &Path, spec: &Spec) -> Result<PathBuf> {
    let root_path = spec
        .root()
        .as_ref()
        .map(|r| r.path().clone())
        .unwrap_or_default();
    let rootfs = lexically_clean(&bundle.join(root_path));
    let real = std::fs::canonicalize(&rootfs).ctx(|| format!("rootfs {}", rootfs.display()))?;
    if real != rootfs {
        return Err(ContainerError::Invalid(format!(
            "invalid rootfs {}: not an absolute path, or a symlink",
            rootfs.display()
        )));
    }
    Ok(real)
}

/// Absolute `p` with `.` and `..` components and repeated or trailing
/// slashes resolved by the text alone (`/..` is `/`).
fn lexically_clean(p: &Path) -> PathBuf {
    use std::path::Component;
    let mut out = PathBuf::new();
    for c in p.components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir => {
                out.pop();
            }
            other => out.push(other.as_os_str()),
        }
    }
    out
}

pub fn create(store: &Store, opts: &CreateOptions) -> Result<Created> {
    let locked = store.create_dir(&opts.id)?;
    cryo_faults::point(Point::CreateAfterStateDir);
    let mut cleanup = Cleanup {
        locked: Some(locked),
        cgroup: None,
        pid: None,
    };
    let created = create_inner(opts, &mut cleanup)?;
    cleanup.disarm();
    Ok(created)
}

/// Undoes a half-finished create: nothing of a failed create stays behind.
struct Cleanup {
    locked: Option<Locked>,
    cgroup: Option<Box<dyn cryo_cgroups::CgroupDriver>>,
    pid: Option<i32>,
}

impl Cleanup {
    fn disarm(&mut self) {
        self.locked = None;
        self.cgroup = None;
        self.pid = None;
    }
}

impl Drop for Cleanup {
    fn drop(&mut self) {
        if let Some(pid) = self.pid {
            let _ = p::kill(pid, libc::SIGKILL);
            let _ = p::wait_child(pid);
        }
        if let Some(cg) = &self.cgroup {
            // An init that never reported its pid is still in the cgroup
            // (every container process is): kill what is there, then remove it.
            for pid in cg.processes().unwrap_or_default() {
                let _ = p::kill(pid, libc::SIGKILL);
            }
            for _ in 0..100 {
                if cg.destroy().is_ok() {
                    break;
                }
                std::thread::sleep(std::time::Duration::from_millis(10));
            }
        }
        if let Some(l) = self.locked.take() {
            let _ = l.remove();
        }
    }
}

fn create_inner(opts: &CreateOptions, cleanup: &mut Cleanup) -> Result<Created> {
    let bundle =
        std::fs::canonicalize(&opts.bundle).ctx(|| format!("bundle {}", opts.bundle.display()))?;
    let spec = cryo_oci::load_spec(&bundle)?;
    check_supported(&spec)?;
    let terminal = spec.process().as_ref().and_then(|p| p.terminal()) == Some(true);
    if terminal && opts.console_socket.is_none() && opts.console_fd.is_none() {
        return Err(ContainerError::Invalid(
            "cannot allocate tty if cryo will detach without setting console socket".into(),
        ));
    }
    if !terminal && opts.console_socket.is_some() {
        return Err(ContainerError::Invalid(
            "cannot use console socket if cryo will not detach or allocate tty".into(),
        ));
    }
    let rootfs = resolve_rootfs(&bundle, &spec)?;
    // Relative bind sources are relative to the bundle, as with runc.
    std::env::set_current_dir(&bundle).ctx(|| format!("chdir {}", bundle.display()))?;

    let Some(locked) = cleanup.locked.as_ref() else {
        return Err(ContainerError::Invalid(
            "internal: create lost its lock".into(),
        ));
    };
    let dir = locked.dir.clone();

    // The cgroup, with its limits, exists before any container process does.
    let linux = spec.linux().as_ref();
    let cg_path = cgroup_path_for(&spec, &opts.id);
    let cgroup = cryo_cgroups::open(&cg_path)?;
    // Recorded before it exists: a create killed from here on leaves a
    // directory `delete` knows how to clean.
    locked.save_pending(&crate::store::Pending {
        cgroup_paths: cgroup.paths(),
        ..Default::default()
    })?;
    cgroup.create()?;
    cleanup.cgroup = Some(cgroup);
    let cgroup = cleanup
        .cgroup
        .as_ref()
        .ok_or_else(|| ContainerError::Invalid("internal: cgroup".into()))?;
    if let Some(res) = linux.and_then(|l| l.resources().as_ref()) {
        cgroup.apply(&with_default_devices(res))?;
    }
    cryo_faults::point(Point::CreateAfterCgroup);

    // A bad profile fails here, before any process exists.
    let seccomp = linux
        .and_then(|l| l.seccomp().as_ref())
        .map(cryo_seccomp::compile)
        .transpose()?;
    let namespaces = plan_namespaces(&spec)?;
    let own_pid_ns = namespaces.new_flags & libc::CLONE_NEWPID != 0;
    let console = match (&opts.console_socket, &opts.console_fd) {
        (Some(path), _) => Some(
            cryo_sys::socket::connect(path, false)
                .ctx(|| format!("connect console socket {}", path.display()))?,
        ),
        (None, Some(fd)) => Some(fd.try_clone().ctx(|| "dup console socket".into())?),
        (None, None) => None,
    };
    let start_path = dir.join(START_SOCKET);
    let listener = cryo_sys::socket::listen_seqpacket(&start_path)
        .ctx(|| format!("bind {}", start_path.display()))?;
    let uid_maps = id_map_text(linux.and_then(|l| l.uid_mappings().as_ref()));
    let gid_maps = id_map_text(linux.and_then(|l| l.gid_mappings().as_ref()));
    let new_user = namespaces.new_user;

    let plan = InitPlan {
        id: opts.id.clone(),
        spec: &spec,
        bundle: bundle.clone(),
        rootfs: rootfs.clone(),
        namespaces,
        console,
        listener: Some(listener),
        preserve_fds: opts.preserve_fds as i32,
        no_pivot: opts.no_pivot,
        no_new_keyring: opts.no_new_keyring,
        cgroup_paths: cgroup.paths(),
        seccomp: seccomp.as_ref(),
    };

    let (parent_sync, child_sync) = sync::pair()?;
    let stage1_pid = match p::fork().ctx(|| "fork".into())? {
        p::Forked::Child => {
            drop(parent_sync);
            locked.close_in_child();
            init::stage1(plan, child_sync)
        }
        p::Forked::Parent(pid) => pid.as_raw(),
    };
    drop(child_sync);
    drop(plan);
    let stage1_guard = ChildGuard(Some(stage1_pid));

    cgroup.add_process(stage1_pid)?;
    parent_sync.send("go")?;
    let mut init_pid = None;
    let mut seccomp_listener = None;
    loop {
        let msg = parent_sync.recv_with_fd()?;
        let msg = match msg {
            Some((m, Some(fd))) if m == "seccomp-fd" => {
                seccomp_listener = Some(fd);
                continue;
            }
            other => other.map(|(m, _)| m),
        };
        match msg {
            Some(m) if m == "idmap" => {
                if new_user {
                    write_id_maps(stage1_pid, &uid_maps, &gid_maps)?;
                }
                parent_sync.send("idmap-done")?;
            }
            Some(m) if m.starts_with("pid ") => {
                let pid: i32 = m[4..]
                    .parse()
                    .map_err(|_| ContainerError::Init(format!("bad pid message {m:?}")))?;
                init_pid = Some(pid);
                cleanup.pid = Some(pid);
                cryo_faults::point(Point::CreateAfterClone);
            }
            Some(m) if m == "hooks" => {
                let pid =
                    init_pid.ok_or_else(|| ContainerError::Init("hooks before pid".into()))?;
                let state =
                    hook_state_for(&opts.id, &bundle, &spec, pid, cryo_oci::Status::Creating)?;
                let hooks = spec.hooks().as_ref();
                crate::hooks::run_all(hooks, HookKind::Prestart, &state)
                    .and_then(|()| crate::hooks::run_all(hooks, HookKind::CreateRuntime, &state))
                    .map_err(ContainerError::Init)?;
                let mut msg = b"state ".to_vec();
                msg.extend_from_slice(&state);
                parent_sync.send(&String::from_utf8_lossy(&msg))?;
            }
            Some(m) if m == "ready" => break,
            Some(m) => {
                return Err(ContainerError::Init(format!(
                    "unable to start container process: {}",
                    m.strip_prefix("error ").unwrap_or(&m)
                )))
            }
            None => {
                return Err(ContainerError::Init(
                    "unable to start container process: container init exited unexpectedly".into(),
                ))
            }
        }
    }
    drop(stage1_guard);
    let pid = init_pid
        .ok_or_else(|| ContainerError::Init("container init did not report its pid".into()))?;
    let start_time = cryo_sys::process::proc_start_time(pid)
        .map(|(t, _)| t)
        .ok_or_else(|| ContainerError::Init("container init exited before it was ready".into()))?;

    let record = Record {
        id: opts.id.clone(),
        init_pid: pid,
        init_start_time: start_time,
        bundle,
        rootfs,
        created: cryo_oci::time::rfc3339_nano(std::time::SystemTime::now()),
        annotations: spec
            .annotations()
            .clone()
            .unwrap_or_default()
            .into_iter()
            .collect(),
        started: false,
        frozen_until_start: false,
        own_pid_ns,
        cgroup_paths: cgroup.paths(),
        // Still cryo's image: the init waits for `start` to exec.
        init_exe: crate::store::exe_of(pid),
        config: spec.clone(),
    };
    if let (Some(fd), Some(filter)) = (&seccomp_listener, &seccomp) {
        send_seccomp_listener(filter, fd, &record, &locked.owner())?;
    }
    if let Some(pf) = &opts.pid_file {
        write_pid_file(pf, pid)?;
    }
    locked.save(&record)?;
    cryo_faults::point(Point::CreateAfterState);
    Ok(Created { pid, record })
}

/// The state document hooks get on stdin while the container is created
/// (or restored).
pub fn hook_state_for(
    id: &str,
    bundle: &Path,
    spec: &Spec,
    pid: i32,
    status: cryo_oci::Status,
) -> Result<Vec<u8>> {
    let state = cryo_oci::State {
        oci_version: cryo_oci::OCI_VERSION.to_string(),
        id: id.to_string(),
        pid,
        status,
        bundle: bundle.to_path_buf(),
        rootfs: PathBuf::new(),
        created: String::new(),
        annotations: spec
            .annotations()
            .clone()
            .unwrap_or_default()
            .into_iter()
            .collect(),
        owner: String::new(),
    };
    crate::hooks::state_json(&state)
}

/// Hands the seccomp notify fd to the agent at `listenerPath`, with the
/// container's state as the runtime spec describes.
fn send_seccomp_listener(
    filter: &cryo_seccomp::CompiledFilter,
    fd: &OwnedFd,
    record: &Record,
    owner: &str,
) -> Result<()> {
    use std::os::fd::AsFd;
    let Some(path) = &filter.listener_path else {
        return Ok(());
    };
    let mut state = record.state(owner.to_string());
    state.status = cryo_oci::Status::Creating;
    let payload = cryo_seccomp::listener_payload(
        cryo_oci::OCI_VERSION,
        record.init_pid,
        filter.listener_metadata.as_deref(),
        &state,
    )?;
    cryo_seccomp::send_listener_fd(path, fd.as_fd(), &payload)?;
    Ok(())
}

/// Reaps stage 1 (which exits once it has forked the init).
struct ChildGuard(Option<i32>);

impl Drop for ChildGuard {
    fn drop(&mut self) {
        if let Some(pid) = self.0.take() {
            let _ = p::wait_child(pid);
        }
    }
}

/// Device rules as runc applies them: the spec's rules, then the devices
/// every container may use (null, zero, full, tty, random, urandom, ptys,
/// tun, mknod of anything). Device nodes listed in `linux.devices` are not
/// allowed implicitly: the spec's rules decide, as with runc.
pub fn with_default_devices(
    res: &oci_spec::runtime::LinuxResources,
) -> oci_spec::runtime::LinuxResources {
    use oci_spec::runtime::{LinuxDeviceCgroup, LinuxDeviceType as T};
    let Some(rules) = res.devices() else {
        return res.clone();
    };
    let rule = |typ: T, major: Option<i64>, minor: Option<i64>, access: &str| {
        let mut r = LinuxDeviceCgroup::default();
        r.set_allow(true)
            .set_typ(Some(typ))
            .set_major(major)
            .set_minor(minor)
            .set_access(Some(access.to_string()));
        r
    };
    let mut all = rules.clone();
    all.extend([
        rule(T::C, None, None, "m"),
        rule(T::B, None, None, "m"),
        rule(T::C, Some(1), Some(3), "rwm"),
        rule(T::C, Some(1), Some(5), "rwm"),
        rule(T::C, Some(1), Some(7), "rwm"),
        rule(T::C, Some(1), Some(8), "rwm"),
        rule(T::C, Some(1), Some(9), "rwm"),
        rule(T::C, Some(5), Some(0), "rwm"),
        rule(T::C, Some(5), Some(1), "rwm"),
        rule(T::C, Some(5), Some(2), "rwm"),
        rule(T::C, Some(136), None, "rwm"),
        rule(T::C, Some(10), Some(200), "rwm"),
    ]);
    let mut out = res.clone();
    out.set_devices(Some(all));
    out
}

/// Refuses spec fields cryo does not implement, naming them.
pub fn check_supported(spec: &Spec) -> Result<()> {
    if let Some(linux) = spec.linux() {
        if linux.intel_rdt().is_some() {
            return Err(ContainerError::Unsupported("linux.intelRdt".into()));
        }
        // Parsed, but nothing would move a host interface into the
        // container or set a NUMA policy: refused rather than ignored.
        if linux.net_devices().as_ref().is_some_and(|d| !d.is_empty()) {
            return Err(ContainerError::Unsupported("linux.netDevices".into()));
        }
        if let Some(mp) = linux.memory_policy() {
            let default = mp.mode() == oci_spec::runtime::MemoryPolicyModeType::MpolDefault
                && mp.nodes().as_deref().is_none_or(str::is_empty)
                && mp.flags().as_ref().is_none_or(|f| f.is_empty());
            if !default {
                return Err(ContainerError::Unsupported("linux.memoryPolicy".into()));
            }
        }
    }
    if let Some(proc_) = spec.process() {
        if proc_
            .apparmor_profile()
            .as_deref()
            .is_some_and(|s| !s.is_empty())
        {
            return Err(ContainerError::Unsupported(
                "process.apparmorProfile (AppArmor is not enabled on this host)".into(),
            ));
        }
        if proc_
            .selinux_label()
            .as_deref()
            .is_some_and(|s| !s.is_empty())
        {
            return Err(ContainerError::Unsupported(
                "process.selinuxLabel (SELinux is not enabled on this host)".into(),
            ));
        }
    }
    if spec
        .linux()
        .as_ref()
        .and_then(|l| l.mount_label().as_deref())
        .is_some_and(|s| !s.is_empty())
    {
        return Err(ContainerError::Unsupported(
            "linux.mountLabel (SELinux is not enabled on this host)".into(),
        ));
    }
    Ok(())
}

fn plan_namespaces(spec: &Spec) -> Result<NamespacePlan> {
    let mut plan = NamespacePlan::default();
    let mut seen = std::collections::HashSet::new();
    for ns in spec
        .linux()
        .as_ref()
        .and_then(|l| l.namespaces().as_ref())
        .into_iter()
        .flatten()
    {
        let flag = init::ns_flag(ns.typ());
        if !seen.insert(flag) {
            return Err(ContainerError::Invalid(format!(
                "namespace {:?} is listed twice",
                ns.typ()
            )));
        }
        match ns.typ() {
            LinuxNamespaceType::Mount => plan.has_mount_ns = true,
            LinuxNamespaceType::Uts => plan.has_uts_ns = true,
            _ => {}
        }
        match ns.path() {
            Some(path) if !path.as_os_str().is_empty() => {
                let fd = open_ns(path)?;
                if ns.typ() == LinuxNamespaceType::User {
                    plan.join_user = Some(fd);
                } else {
                    plan.join.push((flag, fd));
                }
            }
            _ => {
                if ns.typ() == LinuxNamespaceType::User {
                    plan.new_user = true;
                } else {
                    plan.new_flags |= flag;
                }
            }
        }
    }
    if plan.new_user
        && spec
            .linux()
            .as_ref()
            .and_then(|l| l.uid_mappings().as_ref())
            .is_none_or(|m| m.is_empty())
    {
        return Err(ContainerError::Invalid(
            "a new user namespace needs linux.uidMappings".into(),
        ));
    }
    Ok(plan)
}

fn open_ns(path: &Path) -> Result<OwnedFd> {
    use std::os::unix::fs::OpenOptionsExt;
    let f = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_CLOEXEC)
        .open(path)
        .ctx(|| format!("open namespace {}", path.display()))?;
    Ok(OwnedFd::from(f))
}

fn id_map_text(maps: Option<&Vec<oci_spec::runtime::LinuxIdMapping>>) -> String {
    maps.into_iter()
        .flatten()
        .map(|m| format!("{} {} {}\n", m.container_id(), m.host_id(), m.size()))
        .collect()
}

fn write_id_maps(pid: i32, uid: &str, gid: &str) -> Result<()> {
    if !gid.is_empty() {
        std::fs::write(format!("/proc/{pid}/gid_map"), gid).ctx(|| "write gid_map".into())?;
    }
    if !uid.is_empty() {
        std::fs::write(format!("/proc/{pid}/uid_map"), uid).ctx(|| "write uid_map".into())?;
    }
    Ok(())
}

/// The pid file holds the bare pid, no newline, written atomically.
pub fn write_pid_file(path: &Path, pid: i32) -> Result<()> {
    let tmp = path.with_file_name(format!(
        ".{}.tmp",
        path.file_name().and_then(|n| n.to_str()).unwrap_or("pid")
    ));
    std::fs::write(&tmp, pid.to_string()).ctx(|| format!("write {}", tmp.display()))?;
    std::fs::rename(&tmp, path).ctx(|| format!("rename {}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::lexically_clean as clean;
    use std::path::Path;

    #[test]
    fn lexical_clean_is_go_filepath_clean() {
        for (p, want) in [
            ("/a/b/../c", "/a/c"),
            ("/a/./b//c/", "/a/b/c"),
            ("/../..", "/"),
            ("/a/b/../../..", "/"),
            ("/", "/"),
        ] {
            assert_eq!(clean(Path::new(p)), Path::new(want), "{p}");
        }
    }
}
