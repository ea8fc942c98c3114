//! Mounts and safe path resolution inside a container's rootfs.
//!
//! Paths inside the rootfs are opened with `openat2(RESOLVE_IN_ROOT)`, so
//! symlinks (even ones swapped in during setup) resolve as if the rootfs were
//! `/` and can never lead out of it; mounts then target the opened fd through
//! `/proc/self/fd/N` rather than a path that could change underneath us.

use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::path::{Component, Path, PathBuf};

use nix::errno::Errno;
use nix::fcntl::{OFlag, OpenHow, ResolveFlag};
use nix::mount::MsFlags;
use nix::sys::stat::{Mode, SFlag};

/// mount(2). `flags` are raw MS_* bits.
pub fn mount(
    source: Option<&str>,
    target: &Path,
    fstype: Option<&str>,
    flags: u64,
    data: Option<&str>,
) -> Result<(), Errno> {
    nix::mount::mount(
        source,
        target,
        fstype,
        MsFlags::from_bits_retain(flags),
        data,
    )
}

pub fn umount_detach(target: &Path) -> Result<(), Errno> {
    nix::mount::umount2(target, nix::mount::MntFlags::MNT_DETACH)
}

/// Mount points of our mount namespace at or below `dir`, deepest first
/// (the order to unmount them in), read from /proc/self/mountinfo.
pub fn mount_points_under(dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    let text = std::fs::read_to_string("/proc/self/mountinfo")?;
    let mut out: Vec<PathBuf> = text
        .lines()
        .filter_map(|l| l.split(' ').nth(4))
        .map(|p| PathBuf::from(unescape_mountinfo(p)))
        .filter(|p| p.starts_with(dir))
        .collect();
    out.sort_by_key(|p| std::cmp::Reverse(p.components().count()));
    out.dedup();
    Ok(out)
}

/// Undoes mountinfo's octal escapes (`\040` for a space, ...).
fn unescape_mountinfo(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let octal = b
            .get(i + 1..i + 4)
            .filter(|d| b[i] == b'\\' && d.iter().all(|c| (b'0'..=b'7').contains(c)))
            .map(|d| d.iter().fold(0u32, |v, c| v * 8 + u32::from(c - b'0')))
            .and_then(|v| u8::try_from(v).ok());
        match octal {
            Some(c) => {
                out.push(c);
                i += 4;
            }
            None => {
                out.push(b[i]);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Unmounts (detached) everything mounted at or below `dir`, deepest first,
/// and checks nothing is left: a directory that is about to be removed
/// recursively must not have another filesystem (a container's rootfs, a
/// cgroup hierarchy) under it. Errors name the mount that stayed.
pub fn unmount_all_under(dir: &Path) -> Result<(), (PathBuf, Errno)> {
    let list = |dir: &Path| mount_points_under(dir).map_err(|e| (dir.to_path_buf(), io_errno(&e)));
    let mounted = list(dir)?;
    if mounted.is_empty() {
        // The common case (every delete): nothing to undo or to look again for.
        return Ok(());
    }
    for m in mounted {
        match umount_detach(&m) {
            Ok(()) | Err(Errno::EINVAL) | Err(Errno::ENOENT) => {}
            Err(e) => return Err((m, e)),
        }
    }
    match list(dir)?.into_iter().next() {
        Some(left) => Err((left, Errno::EBUSY)),
        None => Ok(()),
    }
}

fn io_errno(e: &std::io::Error) -> Errno {
    Errno::from_raw(e.raw_os_error().unwrap_or(libc::EIO))
}

/// The path that names an open fd for mount(2): `/proc/self/fd/N`.
pub fn fd_path(fd: &impl AsRawFd) -> PathBuf {
    PathBuf::from(format!("/proc/self/fd/{}", fd.as_raw_fd()))
}

/// Opens a directory as an O_PATH handle.
pub fn open_dir(path: &Path) -> Result<OwnedFd, Errno> {
    nix::fcntl::open(
        path,
        OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
}

fn how(flags: OFlag) -> OpenHow {
    OpenHow::new()
        .flags(flags | OFlag::O_CLOEXEC)
        .resolve(ResolveFlag::RESOLVE_IN_ROOT | ResolveFlag::RESOLVE_NO_MAGICLINKS)
}

/// Opens `rel` (absolute paths are taken as relative) inside `root` as O_PATH.
pub fn open_in_root(root: &impl AsFd, rel: &Path) -> Result<OwnedFd, Errno> {
    let rel = strip_root(rel);
    nix::fcntl::openat2(root.as_fd(), rel.as_path(), how(OFlag::O_PATH))
}

/// Opens `rel` inside `root` with explicit flags (e.g. O_RDONLY for reading).
pub fn open_in_root_with(root: &impl AsFd, rel: &Path, flags: OFlag) -> Result<OwnedFd, Errno> {
    let rel = strip_root(rel);
    nix::fcntl::openat2(root.as_fd(), rel.as_path(), how(flags))
}

fn strip_root(p: &Path) -> PathBuf {
    let mut out = PathBuf::from(".");
    for c in p.components() {
        match c {
            Component::Normal(n) => out.push(n),
            Component::ParentDir => out.push(".."),
            _ => {}
        }
    }
    out
}

/// Creates every missing directory of `rel` inside `root` (symlinks resolved
/// within the root) and returns an O_PATH fd of the last one.
pub fn mkdir_all_in_root(root: &impl AsFd, rel: &Path, mode: u32) -> Result<OwnedFd, Errno> {
    use std::collections::VecDeque;
    use std::ffi::OsString;
    let dir_how = || how(OFlag::O_PATH | OFlag::O_DIRECTORY);
    let as_path = |parts: &[OsString]| -> PathBuf {
        let mut p = PathBuf::from(".");
        p.extend(parts);
        p
    };
    // `done` holds real directories only, so ".." may simply pop.
    let mut done: Vec<OsString> = Vec::new();
    let mut todo: VecDeque<OsString> = strip_root(rel)
        .components()
        .skip(1)
        .map(|c| c.as_os_str().to_os_string())
        .collect();
    let mut links = 0;
    let mut fd = nix::fcntl::openat2(root.as_fd(), ".", dir_how())?;
    while let Some(name) = todo.pop_front() {
        if name == ".." {
            done.pop();
            fd = nix::fcntl::openat2(root.as_fd(), as_path(&done).as_path(), dir_how())?;
            continue;
        }
        let mut next = done.clone();
        next.push(name.clone());
        match nix::fcntl::openat2(root.as_fd(), as_path(&next).as_path(), dir_how()) {
            Ok(f) => {
                fd = f;
                done = next;
            }
            Err(Errno::ENOENT) => {
                // A dangling symlink: create its target, still inside the root.
                if let Ok(target) = nix::fcntl::readlinkat(&fd, name.as_os_str()) {
                    links += 1;
                    if links > 40 {
                        return Err(Errno::ELOOP);
                    }
                    let target = PathBuf::from(target);
                    if target.is_absolute() {
                        done.clear();
                        fd = nix::fcntl::openat2(root.as_fd(), ".", dir_how())?;
                    }
                    let parts: Vec<OsString> = strip_root(&target)
                        .components()
                        .skip(1)
                        .map(|c| c.as_os_str().to_os_string())
                        .collect();
                    for c in parts.into_iter().rev() {
                        todo.push_front(c);
                    }
                    continue;
                }
                match nix::sys::stat::mkdirat(&fd, name.as_os_str(), Mode::from_bits_truncate(mode))
                {
                    Ok(()) | Err(Errno::EEXIST) => {}
                    Err(e) => return Err(e),
                }
                fd = nix::fcntl::openat2(root.as_fd(), as_path(&next).as_path(), dir_how())?;
                done = next;
            }
            Err(e) => return Err(e),
        }
    }
    Ok(fd)
}

/// Ensures a mountpoint exists at `rel` inside `root`: a directory, or an
/// empty regular file when `file` is set. Returns an O_PATH fd to it.
pub fn make_mountpoint(root: &impl AsFd, rel: &Path, file: bool) -> Result<OwnedFd, Errno> {
    if let Ok(fd) = open_in_root(root, rel) {
        return Ok(fd);
    }
    if !file {
        return mkdir_all_in_root(root, rel, 0o755);
    }
    let parent = rel.parent().unwrap_or(Path::new("/"));
    let dir = mkdir_all_in_root(root, parent, 0o755)?;
    let name = rel.file_name().ok_or(Errno::EINVAL)?;
    // Re-open the parent as a real directory fd to create the file in it.
    let dirfd = nix::fcntl::openat(
        &dir,
        ".",
        OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
        Mode::empty(),
    )?;
    match nix::fcntl::openat(
        &dirfd,
        name,
        OFlag::O_CREAT | OFlag::O_EXCL | OFlag::O_NOFOLLOW | OFlag::O_WRONLY | OFlag::O_CLOEXEC,
        Mode::from_bits_truncate(0o644),
    ) {
        Ok(f) => drop(f),
        Err(Errno::EEXIST) => {}
        Err(e) => return Err(e),
    }
    open_in_root(root, rel)
}

/// Creates a device node (or replaces nothing if it exists) inside the dir `dir`.
pub fn mknod_at(
    dir: &impl AsFd,
    name: &Path,
    kind: SFlag,
    perm: u32,
    major: u64,
    minor: u64,
) -> Result<(), Errno> {
    let dev = nix::sys::stat::makedev(major, minor);
    nix::sys::stat::mknodat(dir.as_fd(), name, kind, Mode::from_bits_truncate(perm), dev)
}

pub fn symlink_at(target: &Path, dir: &impl AsFd, name: &Path) -> Result<(), Errno> {
    nix::unistd::symlinkat(target, dir.as_fd(), name)
}

/// File type of an opened path.
pub fn fd_kind(fd: &impl AsFd) -> Result<SFlag, Errno> {
    let st = nix::sys::stat::fstat(fd.as_fd())?;
    Ok(SFlag::from_bits_truncate(st.st_mode & SFlag::S_IFMT.bits()))
}

/// Moves the root of the mount namespace to the current directory's mount
/// and detaches the old root (the `pivot_root(".", ".")` idiom).
pub fn pivot_to_cwd() -> Result<(), Errno> {
    nix::unistd::pivot_root(".", ".")?;
    nix::mount::umount2(".", nix::mount::MntFlags::MNT_DETACH)?;
    nix::unistd::chdir("/")
}

/// chroot-style switch used with `--no-pivot`: move the rootfs mount over `/`.
pub fn move_root_to_cwd() -> Result<(), Errno> {
    nix::mount::mount(Some("."), "/", None::<&str>, MsFlags::MS_MOVE, None::<&str>)?;
    nix::unistd::chroot(".")?;
    nix::unistd::chdir("/")
}

pub fn chdir(p: &Path) -> Result<(), Errno> {
    nix::unistd::chdir(p)
}

pub fn fchdir(fd: &impl AsFd) -> Result<(), Errno> {
    nix::unistd::fchdir(fd.as_fd())
}

/// Mount flags of the mount containing `path` (statvfs f_flag → MS_* bits
/// that matter for a read-only remount).
pub fn mount_flags(path: &Path) -> Result<u64, Errno> {
    use nix::sys::statvfs::{statvfs, FsFlags};
    let f = statvfs(path)?.flags();
    let mut ms = 0u64;
    for (fs, m) in [
        (FsFlags::ST_RDONLY, libc::MS_RDONLY),
        (FsFlags::ST_NOSUID, libc::MS_NOSUID),
        (FsFlags::ST_NODEV, libc::MS_NODEV),
        (FsFlags::ST_NOEXEC, libc::MS_NOEXEC),
        (FsFlags::ST_NOATIME, libc::MS_NOATIME),
        (FsFlags::ST_NODIRATIME, libc::MS_NODIRATIME),
        (FsFlags::ST_RELATIME, libc::MS_RELATIME),
    ] {
        if f.contains(fs) {
            ms |= m;
        }
    }
    Ok(ms)
}

pub fn cstr_of(s: &str) -> Result<std::ffi::CString, Errno> {
    std::ffi::CString::new(s).map_err(|_| Errno::EINVAL)
}

/// Whether any component of `rel` inside `root` is a symlink (ELOOP from
/// RESOLVE_NO_SYMLINKS). A missing path is not a symlink.
pub fn has_symlink_in_root(root: &impl AsFd, rel: &Path) -> Result<bool, Errno> {
    let how = OpenHow::new()
        .flags(OFlag::O_PATH | OFlag::O_CLOEXEC)
        .resolve(ResolveFlag::RESOLVE_IN_ROOT | ResolveFlag::RESOLVE_NO_SYMLINKS);
    match nix::fcntl::openat2(root.as_fd(), strip_root(rel).as_path(), how) {
        Ok(_) | Err(Errno::ENOENT) => Ok(false),
        Err(Errno::ELOOP) => Ok(true),
        Err(e) => Err(e),
    }
}

// The new mount API (fsopen/fsconfig/fsmount), for a detached mount: one
// that exists only as an fd and is never attached to a mount namespace.
const FSOPEN_CLOEXEC: libc::c_uint = 1;
const FSCONFIG_SET_STRING: libc::c_uint = 1;
const FSCONFIG_CMD_CREATE: libc::c_uint = 6;
const FSMOUNT_CLOEXEC: libc::c_uint = 1;
const MOUNT_ATTR_RDONLY: libc::c_uint = 0x1;
const MOUNT_ATTR_NOSUID: libc::c_uint = 0x2;
const MOUNT_ATTR_NODEV: libc::c_uint = 0x4;

/// A new, detached mount of filesystem `fstype` with string options
/// `opts` (nosuid, nodev, and read-only if asked): its root as an fd.
/// It goes away with the last fd or file opened through it.
pub fn detached_mount(
    fstype: &str,
    opts: &[(&str, &str)],
    readonly: bool,
) -> Result<OwnedFd, Errno> {
    use std::os::fd::FromRawFd;
    let fstype = cstr_of(fstype)?;
    // SAFETY: fsopen(2) reads the NUL-terminated `fstype`, which outlives
    // the call; it returns a new fd or -1.
    let fs = unsafe { libc::syscall(libc::SYS_fsopen, fstype.as_ptr(), FSOPEN_CLOEXEC) };
    if fs < 0 {
        return Err(Errno::last());
    }
    // SAFETY: `fs` is a new fd that nothing else owns.
    let fs = unsafe { OwnedFd::from_raw_fd(fs as libc::c_int) };
    for (k, v) in opts {
        let (k, v) = (cstr_of(k)?, cstr_of(v)?);
        // SAFETY: fsconfig(2) reads the NUL-terminated key and value, which
        // outlive the call; `fs` is a valid fs context fd.
        let r = unsafe {
            libc::syscall(
                libc::SYS_fsconfig,
                fs.as_raw_fd(),
                FSCONFIG_SET_STRING,
                k.as_ptr(),
                v.as_ptr(),
                0,
            )
        };
        if r < 0 {
            return Err(Errno::last());
        }
    }
    // SAFETY: FSCONFIG_CMD_CREATE takes no key or value (null pointers).
    let r = unsafe {
        libc::syscall(
            libc::SYS_fsconfig,
            fs.as_raw_fd(),
            FSCONFIG_CMD_CREATE,
            std::ptr::null::<libc::c_char>(),
            std::ptr::null::<libc::c_void>(),
            0,
        )
    };
    if r < 0 {
        return Err(Errno::last());
    }
    let mut attrs = MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV;
    if readonly {
        attrs |= MOUNT_ATTR_RDONLY;
    }
    // SAFETY: fsmount(2) on a created fs context fd; plain integer
    // arguments; returns a new fd or -1.
    let m = unsafe { libc::syscall(libc::SYS_fsmount, fs.as_raw_fd(), FSMOUNT_CLOEXEC, attrs) };
    if m < 0 {
        return Err(Errno::last());
    }
    // SAFETY: `m` is a new fd that nothing else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(m as libc::c_int) })
}

#[cfg(test)]
mod tests {
    #[test]
    fn mountinfo_escapes() {
        assert_eq!(super::unescape_mountinfo("/a\\040b\\011c"), "/a b\tc");
        assert_eq!(super::unescape_mountinfo("/x\\04"), "/x\\04");
        assert_eq!(super::unescape_mountinfo("/plain"), "/plain");
    }
}
