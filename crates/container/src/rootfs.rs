//! Building the container's filesystem view inside its mount namespace:
//! the spec's mounts, device nodes, /dev symlinks, pivot_root, masked and
//! read-only paths. Runs in the container's init before it execs.
//!
//! Every destination is opened inside the rootfs with RESOLVE_IN_ROOT and
//! mounted through its fd, so no symlink in the rootfs can redirect a mount
//! to the host (CVE-2021-30465 class).

use std::collections::BTreeMap;
use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};

use cryo_sys::mount::{self as m};
use nix::sys::stat::SFlag;
use oci_spec::runtime::{LinuxDevice, LinuxDeviceType, Mount, Spec};

use crate::mount_options;

/// Errors inside the init are plain strings: they travel to the parent
/// over the sync socket and are printed as they are.
pub type InitResult<T> = std::result::Result<T, String>;

fn errno(context: impl std::fmt::Display, e: nix::errno::Errno) -> String {
    format!("{context}: {}", crate::error::errno_text(e))
}

pub struct RootfsPlan<'a> {
    pub spec: &'a Spec,
    pub rootfs: &'a Path,
    pub bundle: &'a Path,
    pub cgroup_paths: &'a BTreeMap<String, PathBuf>,
    pub in_user_ns: bool,
}

/// Default device nodes every container gets (runc's list).
const DEFAULT_DEVICES: &[(&str, u64, u64)] = &[
    ("/dev/null", 1, 3),
    ("/dev/zero", 1, 5),
    ("/dev/full", 1, 7),
    ("/dev/random", 1, 8),
    ("/dev/urandom", 1, 9),
    ("/dev/tty", 5, 0),
];

pub fn setup(plan: &RootfsPlan) -> InitResult<()> {
    let linux = plan.spec.linux().as_ref();
    // Nothing we mount may propagate back to the host.
    let root_prop = match linux.and_then(|l| l.rootfs_propagation().as_deref()) {
        Some(p) => mount_options::propagation(p)?,
        None => libc::MS_SLAVE | libc::MS_REC,
    };
    m::mount(None, Path::new("/"), None, root_prop, None).map_err(|e| errno("make / slave", e))?;
    make_parent_private(plan.rootfs)?;
    m::mount(
        Some(path_str(plan.rootfs)?),
        plan.rootfs,
        None,
        libc::MS_BIND | libc::MS_REC,
        None,
    )
    .map_err(|e| errno(format!("bind rootfs {}", plan.rootfs.display()), e))?;
    let root = m::open_dir(plan.rootfs).map_err(|e| errno("open rootfs", e))?;

    let mut dev_is_bind = false;
    for mnt in plan.spec.mounts().iter().flatten() {
        if mnt.destination() == Path::new("/dev") && is_bind(mnt) {
            dev_is_bind = true;
        }
        mount_one(plan, &root, mnt)?;
    }
    // runc creates a missing cwd; a failure surfaces at chdir time.
    if let Some(process) = plan.spec.process() {
        let _ = m::mkdir_all_in_root(&root, process.cwd(), 0o755);
    }
    if !dev_is_bind {
        create_devices(plan, &root)?;
        dev_symlinks(&root)?;
    }

    Ok(())
}

/// Makes the prepared rootfs the container's `/` (pivot_root, or a move
/// of the mount with `--no-pivot`).
pub fn pivot(rootfs: &Path, no_pivot: bool) -> InitResult<()> {
    let root = m::open_dir(rootfs).map_err(|e| errno("open rootfs", e))?;
    m::fchdir(&root).map_err(|e| errno("chdir rootfs", e))?;
    drop(root);
    if no_pivot {
        m::move_root_to_cwd().map_err(|e| errno("move rootfs to /", e))
    } else {
        m::pivot_to_cwd().map_err(|e| errno("pivot_root", e))
    }
}

/// After pivot_root: masked paths, read-only paths, read-only root and the
/// final root propagation.
pub fn finish(spec: &Spec) -> InitResult<()> {
    let root = m::open_dir(Path::new("/")).map_err(|e| errno("open /", e))?;
    if let Some(linux) = spec.linux() {
        for p in linux.masked_paths().iter().flatten() {
            mask_path(&root, Path::new(p))?;
        }
        for p in linux.readonly_paths().iter().flatten() {
            readonly_path(&root, Path::new(p))?;
        }
    }
    if spec
        .root()
        .as_ref()
        .is_some_and(|r| r.readonly() == Some(true))
    {
        let flags = m::mount_flags(Path::new("/")).unwrap_or(0);
        m::mount(
            None,
            Path::new("/"),
            None,
            libc::MS_BIND | libc::MS_REMOUNT | libc::MS_RDONLY | flags,
            None,
        )
        .map_err(|e| errno("remount / read-only", e))?;
    }
    if let Some(p) = spec
        .linux()
        .as_ref()
        .and_then(|l| l.rootfs_propagation().as_deref())
    {
        let prop = mount_options::propagation(p)?;
        m::mount(None, Path::new("/"), None, prop, None)
            .map_err(|e| errno("set rootfs propagation", e))?;
    }
    Ok(())
}

fn path_str(p: &Path) -> InitResult<&str> {
    p.to_str()
        .ok_or_else(|| format!("path {} is not valid UTF-8", p.display()))
}

/// pivot_root refuses a rootfs whose parent mount is shared: make the
/// mount that holds the rootfs private in our namespace, but only if it is
/// still shared (a slave parent keeps `rslave` propagation working).
fn make_parent_private(rootfs: &Path) -> InitResult<()> {
    let info = std::fs::read_to_string("/proc/self/mountinfo")
        .map_err(|e| format!("read mountinfo: {e}"))?;
    let mut best: Option<(PathBuf, bool)> = None;
    for line in info.lines() {
        let fields: Vec<&str> = line.split(' ').collect();
        let Some(mp) = fields.get(4) else {
            continue;
        };
        let mp = PathBuf::from(unescape(mp));
        let shared = fields
            .iter()
            .skip(6)
            .take_while(|f| **f != "-")
            .any(|f| f.starts_with("shared:"));
        let longer = best
            .as_ref()
            .is_none_or(|b| mp.as_os_str().len() >= b.0.as_os_str().len());
        if rootfs.starts_with(&mp) && longer {
            best = Some((mp, shared));
        }
    }
    if let Some((mp, true)) = best {
        m::mount(None, &mp, None, libc::MS_PRIVATE, None)
            .map_err(|e| errno(format!("make {} private", mp.display()), e))?;
    }
    Ok(())
}

fn unescape(s: &str) -> String {
    s.replace("\\040", " ")
        .replace("\\011", "\t")
        .replace("\\012", "\n")
        .replace("\\134", "\\")
}

fn is_bind(mnt: &Mount) -> bool {
    mnt.typ().as_deref() == Some("bind")
        || mnt
            .options()
            .iter()
            .flatten()
            .any(|o| o == "bind" || o == "rbind")
}

fn mount_one(plan: &RootfsPlan, root: &OwnedFd, mnt: &Mount) -> InitResult<()> {
    let dest = mnt.destination();
    let opts = mount_options::parse(mnt.options().as_deref().unwrap_or(&[]))?;
    let typ = mnt.typ().as_deref().unwrap_or("");
    if is_bind(mnt) {
        return bind_mount(plan, root, mnt, &opts);
    }
    if typ == "cgroup" || typ == "cgroup2" {
        return mount_cgroup(plan, root, dest, &opts);
    }
    if typ == "proc" || typ == "sysfs" {
        // A /proc or /sys that is a symlink could point the mount (and the
        // masks that rely on it) anywhere (CVE-2019-16884 class): refuse.
        if m::has_symlink_in_root(root, dest)
            .map_err(|e| errno(format!("check {}", dest.display()), e))?
        {
            return Err(format!(
                "mount destination {} for {typ} is or passes through a symlink, which is not allowed",
                dest.display()
            ));
        }
    }
    let target = m::make_mountpoint(root, dest, false)
        .map_err(|e| errno(format!("mkdir {}", dest.display()), e))?;
    let source = mnt
        .source()
        .as_ref()
        .and_then(|s| s.to_str())
        .unwrap_or(typ);
    let data = (!opts.data.is_empty()).then_some(opts.data.as_str());
    let mut flags = opts.flags & !libc::MS_REMOUNT;
    if typ == "proc" || typ == "sysfs" {
        // Must be a real directory, not something a symlink points at (CVE-2019-16884 class).
        if m::fd_kind(&target).map_err(|e| errno(format!("stat {}", dest.display()), e))?
            != SFlag::S_IFDIR
        {
            return Err(format!(
                "mount destination {} for {typ} is not a directory",
                dest.display()
            ));
        }
    }
    let res = m::mount(Some(source), &m::fd_path(&target), Some(typ), flags, data);
    match res {
        Ok(()) => {}
        Err(nix::errno::Errno::EPERM | nix::errno::Errno::EBUSY) if typ == "sysfs" => {
            // No network namespace of our own (or a user namespace): bind the host's /sys.
            flags |= libc::MS_BIND | libc::MS_REC;
            m::mount(
                Some("/sys"),
                &m::fd_path(&target),
                None,
                flags & !libc::MS_RDONLY,
                None,
            )
            .map_err(|e| errno(format!("bind /sys on {}", dest.display()), e))?;
            if opts.flags & libc::MS_RDONLY != 0 {
                let t = m::open_in_root(root, dest).map_err(|e| errno("reopen /sys", e))?;
                let _ = m::mount(
                    None,
                    &m::fd_path(&t),
                    None,
                    libc::MS_BIND
                        | libc::MS_REMOUNT
                        | libc::MS_RDONLY
                        | libc::MS_NOSUID
                        | libc::MS_NODEV
                        | libc::MS_NOEXEC,
                    None,
                );
            }
        }
        Err(e) => {
            return Err(errno(
                format!("mount {source} ({typ}) on {}", dest.display()),
                e,
            ))
        }
    }
    if opts.propagation != 0 {
        let t = m::open_in_root(root, dest)
            .map_err(|e| errno(format!("reopen {}", dest.display()), e))?;
        m::mount(None, &m::fd_path(&t), None, opts.propagation, None)
            .map_err(|e| errno(format!("set propagation of {}", dest.display()), e))?;
    }
    Ok(())
}

fn bind_mount(
    plan: &RootfsPlan,
    root: &OwnedFd,
    mnt: &Mount,
    opts: &mount_options::MountOptions,
) -> InitResult<()> {
    let dest = mnt.destination();
    let src = mnt
        .source()
        .as_ref()
        .ok_or_else(|| format!("bind mount on {} has no source", dest.display()))?;
    let src = if src.is_absolute() {
        src.clone()
    } else {
        plan.bundle.join(src)
    };
    let meta = std::fs::metadata(&src)
        .map_err(|e| format!("stat {}: {}", src.display(), crate::error::io_text(&e)))?;
    let target = m::make_mountpoint(root, dest, !meta.is_dir())
        .map_err(|e| errno(format!("create mountpoint {}", dest.display()), e))?;
    let mut flags = libc::MS_BIND;
    if opts.recursive {
        flags |= libc::MS_REC;
    }
    m::mount(
        Some(path_str(&src)?),
        &m::fd_path(&target),
        None,
        flags,
        None,
    )
    .map_err(|e| errno(format!("bind {} on {}", src.display(), dest.display()), e))?;
    let remount = opts.flags & !libc::MS_REMOUNT;
    if remount != 0 || opts.propagation != 0 {
        let mounted = m::open_in_root(root, dest)
            .map_err(|e| errno(format!("reopen {}", dest.display()), e))?;
        let p = m::fd_path(&mounted);
        if remount != 0 {
            // Keep flags the kernel locked on the source (matters in user namespaces).
            let locked = if plan.in_user_ns {
                m::mount_flags(&p).unwrap_or(0)
                    & (libc::MS_NOSUID | libc::MS_NODEV | libc::MS_NOEXEC | libc::MS_RDONLY)
            } else {
                0
            };
            m::mount(
                None,
                &p,
                None,
                libc::MS_BIND | libc::MS_REMOUNT | remount | locked,
                None,
            )
            .map_err(|e| errno(format!("remount {}", dest.display()), e))?;
        }
        if opts.propagation != 0 {
            m::mount(None, &p, None, opts.propagation, None)
                .map_err(|e| errno(format!("set propagation of {}", dest.display()), e))?;
        }
    }
    Ok(())
}

/// A `cgroup` mount: a tmpfs at the destination with each hierarchy's
/// container cgroup bind-mounted under its usual name (v1 / hybrid), or the
/// container's cgroup2 directory bound at the destination (v2).
fn mount_cgroup(
    plan: &RootfsPlan,
    root: &OwnedFd,
    dest: &Path,
    opts: &mount_options::MountOptions,
) -> InitResult<()> {
    let ro = opts.flags & libc::MS_RDONLY != 0;
    let base = opts.flags & (libc::MS_NOSUID | libc::MS_NODEV | libc::MS_NOEXEC);
    let v2_only = plan.cgroup_paths.len() == 1 && plan.cgroup_paths.contains_key("unified");
    let target = m::make_mountpoint(root, dest, false)
        .map_err(|e| errno(format!("mkdir {}", dest.display()), e))?;
    if v2_only {
        let src = &plan.cgroup_paths["unified"];
        m::mount(
            Some(path_str(src)?),
            &m::fd_path(&target),
            None,
            libc::MS_BIND,
            None,
        )
        .map_err(|e| errno(format!("bind cgroup on {}", dest.display()), e))?;
        let t = m::open_in_root(root, dest).map_err(|e| errno("reopen cgroup", e))?;
        let ro_flag = if ro { libc::MS_RDONLY } else { 0 };
        m::mount(
            None,
            &m::fd_path(&t),
            None,
            libc::MS_BIND | libc::MS_REMOUNT | base | ro_flag,
            None,
        )
        .map_err(|e| errno("remount cgroup", e))?;
        return Ok(());
    }
    m::mount(
        Some("tmpfs"),
        &m::fd_path(&target),
        Some("tmpfs"),
        base,
        Some("mode=755"),
    )
    .map_err(|e| errno(format!("mount tmpfs on {}", dest.display()), e))?;
    let mut done = std::collections::BTreeSet::new();
    // As runc: on a hybrid host only the v1 hierarchies are bound (the
    // container's view, and so its checkpoint images, match runc's).
    for (ctrl, dir) in plan.cgroup_paths {
        if ctrl == "unified" {
            continue;
        }
        // /sys/fs/cgroup/<name>/<path...>: <name> is the hierarchy's mount name.
        let Ok(rel) = dir.strip_prefix("/sys/fs/cgroup") else {
            continue;
        };
        let Some(name) = rel.components().next() else {
            continue;
        };
        let name = PathBuf::from(name.as_os_str());
        if !done.insert(name.clone()) {
            continue;
        }
        let sub = dest.join(&name);
        let t = m::make_mountpoint(root, &sub, false)
            .map_err(|e| errno(format!("mkdir {}", sub.display()), e))?;
        m::mount(
            Some(path_str(dir)?),
            &m::fd_path(&t),
            None,
            libc::MS_BIND,
            None,
        )
        .map_err(|e| errno(format!("bind {} on {}", dir.display(), sub.display()), e))?;
        let t = m::open_in_root(root, &sub).map_err(|e| errno("reopen cgroup", e))?;
        let ro_flag = if ro { libc::MS_RDONLY } else { 0 };
        m::mount(
            None,
            &m::fd_path(&t),
            None,
            libc::MS_BIND | libc::MS_REMOUNT | base | ro_flag,
            None,
        )
        .map_err(|e| errno(format!("remount {}", sub.display()), e))?;
        // Co-mounted controllers (cpu,cpuacct) get symlinks like on the host.
        if let Some(n) = name.to_str() {
            if n.contains(',') {
                let dir_fd =
                    m::open_in_root(root, dest).map_err(|e| errno("open cgroup dir", e))?;
                for part in n.split(',') {
                    let _ = m::symlink_at(Path::new(n), &dir_fd, Path::new(part));
                }
            }
        }
    }
    if ro {
        let t = m::open_in_root(root, dest).map_err(|e| errno("reopen cgroup tmpfs", e))?;
        m::mount(
            None,
            &m::fd_path(&t),
            None,
            libc::MS_REMOUNT | libc::MS_RDONLY | base,
            Some("mode=755"),
        )
        .map_err(|e| errno("remount cgroup tmpfs read-only", e))?;
    }
    Ok(())
}

fn create_devices(plan: &RootfsPlan, root: &OwnedFd) -> InitResult<()> {
    let mut devices: Vec<DevSpec> = DEFAULT_DEVICES
        .iter()
        .map(|(p, maj, min)| (PathBuf::from(p), SFlag::S_IFCHR, *maj, *min, 0o666, None))
        .collect();
    for d in plan
        .spec
        .linux()
        .as_ref()
        .and_then(|l| l.devices().as_ref())
        .into_iter()
        .flatten()
    {
        devices.retain(|x| x.0 != d.path().as_path());
        devices.push(spec_device(d)?);
    }
    for (path, kind, major, minor, perm, owner) in devices {
        let parent = path.parent().unwrap_or(Path::new("/dev"));
        let name = path
            .file_name()
            .ok_or_else(|| format!("bad device path {}", path.display()))?;
        let dir = m::mkdir_all_in_root(root, parent, 0o755)
            .map_err(|e| errno(format!("mkdir {}", parent.display()), e))?;
        let dirfd = nix::fcntl::openat(
            &dir,
            ".",
            nix::fcntl::OFlag::O_DIRECTORY | nix::fcntl::OFlag::O_CLOEXEC,
            nix::sys::stat::Mode::empty(),
        )
        .map_err(|e| errno(format!("open {}", parent.display()), e))?;
        if m::open_in_root(root, &path).is_ok() {
            let _ = nix::unistd::unlinkat(&dirfd, name, nix::unistd::UnlinkatFlags::NoRemoveDir);
        }
        let made = if plan.in_user_ns {
            Err(nix::errno::Errno::EPERM)
        } else {
            m::mknod_at(&dirfd, Path::new(name), kind, perm, major, minor)
        };
        match made {
            Ok(()) => {
                if let Some((uid, gid)) = owner {
                    let _ = nix::unistd::fchownat(
                        &dirfd,
                        name,
                        Some(nix::unistd::Uid::from_raw(uid)),
                        Some(nix::unistd::Gid::from_raw(gid)),
                        nix::fcntl::AtFlags::AT_SYMLINK_NOFOLLOW,
                    );
                }
            }
            Err(nix::errno::Errno::EPERM) => {
                // In a user namespace mknod is not allowed: bind the host node.
                let t = m::make_mountpoint(root, &path, true)
                    .map_err(|e| errno(format!("create {}", path.display()), e))?;
                m::mount(
                    Some(path_str(&path)?),
                    &m::fd_path(&t),
                    None,
                    libc::MS_BIND,
                    None,
                )
                .map_err(|e| errno(format!("bind device {}", path.display()), e))?;
            }
            Err(e) => return Err(errno(format!("mknod {}", path.display()), e)),
        }
    }
    Ok(())
}

type DevSpec = (PathBuf, SFlag, u64, u64, u32, Option<(u32, u32)>);

fn spec_device(d: &LinuxDevice) -> InitResult<DevSpec> {
    let kind = match d.typ() {
        LinuxDeviceType::C | LinuxDeviceType::U => SFlag::S_IFCHR,
        LinuxDeviceType::B => SFlag::S_IFBLK,
        LinuxDeviceType::P => SFlag::S_IFIFO,
        LinuxDeviceType::A => {
            return Err(format!(
                "device {}: type \"a\" is not a device node type",
                d.path().display()
            ))
        }
    };
    if !d.path().starts_with("/dev") {
        return Err(format!(
            "device path {} is outside /dev",
            d.path().display()
        ));
    }
    let owner = match (d.uid(), d.gid()) {
        (None, None) => None,
        (u, g) => Some((u.unwrap_or(0), g.unwrap_or(0))),
    };
    Ok((
        d.path().clone(),
        kind,
        d.major() as u64,
        d.minor() as u64,
        d.file_mode().unwrap_or(0o666),
        owner,
    ))
}

fn dev_symlinks(root: &OwnedFd) -> InitResult<()> {
    let dev =
        m::mkdir_all_in_root(root, Path::new("/dev"), 0o755).map_err(|e| errno("mkdir /dev", e))?;
    let dirfd = nix::fcntl::openat(
        &dev,
        ".",
        nix::fcntl::OFlag::O_DIRECTORY | nix::fcntl::OFlag::O_CLOEXEC,
        nix::sys::stat::Mode::empty(),
    )
    .map_err(|e| errno("open /dev", e))?;
    let mut links = vec![
        ("/proc/self/fd", "fd"),
        ("/proc/self/fd/0", "stdin"),
        ("/proc/self/fd/1", "stdout"),
        ("/proc/self/fd/2", "stderr"),
    ];
    if Path::new("/proc/kcore").exists() {
        links.push(("/proc/kcore", "core"));
    }
    for (target, name) in links {
        match m::symlink_at(Path::new(target), &dirfd, Path::new(name)) {
            Ok(()) | Err(nix::errno::Errno::EEXIST) => {}
            Err(e) => return Err(errno(format!("symlink /dev/{name}"), e)),
        }
    }
    // /dev/ptmx must be the container's devpts instance.
    let _ = nix::unistd::unlinkat(&dirfd, "ptmx", nix::unistd::UnlinkatFlags::NoRemoveDir);
    m::symlink_at(Path::new("pts/ptmx"), &dirfd, Path::new("ptmx"))
        .map_err(|e| errno("symlink /dev/ptmx", e))?;
    Ok(())
}

fn mask_path(root: &OwnedFd, p: &Path) -> InitResult<()> {
    let fd = match m::open_in_root(root, p) {
        Ok(fd) => fd,
        Err(nix::errno::Errno::ENOENT) => return Ok(()),
        Err(e) => return Err(errno(format!("open masked path {}", p.display()), e)),
    };
    let kind = m::fd_kind(&fd).map_err(|e| errno(format!("stat {}", p.display()), e))?;
    let res = if kind == SFlag::S_IFDIR {
        m::mount(
            Some("tmpfs"),
            &m::fd_path(&fd),
            Some("tmpfs"),
            libc::MS_RDONLY,
            None,
        )
    } else {
        m::mount(
            Some("/dev/null"),
            &m::fd_path(&fd),
            None,
            libc::MS_BIND,
            None,
        )
    };
    res.map_err(|e| errno(format!("mask {}", p.display()), e))
}

fn readonly_path(root: &OwnedFd, p: &Path) -> InitResult<()> {
    let fd = match m::open_in_root(root, p) {
        Ok(fd) => fd,
        Err(nix::errno::Errno::ENOENT) => return Ok(()),
        Err(e) => return Err(errno(format!("open readonly path {}", p.display()), e)),
    };
    let at = m::fd_path(&fd);
    m::mount(
        Some(path_str(&at)?),
        &at,
        None,
        libc::MS_BIND | libc::MS_REC,
        None,
    )
    .map_err(|e| errno(format!("bind {} read-only", p.display()), e))?;
    let fd = m::open_in_root(root, p).map_err(|e| errno(format!("reopen {}", p.display()), e))?;
    let path = m::fd_path(&fd);
    let flags = m::mount_flags(&path).unwrap_or(0);
    m::mount(
        None,
        &path,
        None,
        libc::MS_BIND | libc::MS_REMOUNT | libc::MS_RDONLY | flags,
        None,
    )
    .map_err(|e| errno(format!("remount {} read-only", p.display()), e))
}
