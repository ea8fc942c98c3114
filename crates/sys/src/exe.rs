//! Protection of the cryo binary from the containers it runs
//! (CVE-2019-5736 class).
//!
//! A container can make the kernel execute `/proc/self/exe` of a cryo
//! process that is about to exec the container's program (a `#!/proc/self/exe`
//! script), and then write to that binary through `/proc/<pid>/exe`. So the
//! verbs that start processes in containers first re-execute cryo from a
//! copy no write can reach:
//!
//! * first choice, a read-only overlay: a detached (never attached to any
//!   mount namespace) overlayfs whose lower layers are the binary's own
//!   directory and an empty detached tmpfs, mounted read-only, and cryo
//!   re-executed from it with `execveat`. `/proc/self/exe` is then an
//!   overlay file, and opening it for writing fails with EROFS (an overlay
//!   with no upper layer cannot copy up). Nothing is copied: the pages are
//!   the installed file's page cache, so this costs a few syscalls where
//!   the copy below costs the binary's size in CPU and memory (about 4 ms
//!   and 2 MiB of RSS for cryo's 8 MB, see bench/results/lifecycle.md);
//! * otherwise (no overlayfs, a binary path overlayfs cannot take), a
//!   sealed memfd copy of the binary, as runc 1.1 does.

use std::ffi::CString;

use nix::errno::Errno;
use nix::fcntl::{FcntlArg, SealFlag};
use nix::sys::memfd::{memfd_create, MFdFlags};

const MEMFD_NAME: &str = "cryo";

/// Whether this process already runs from a copy no write can reach: a
/// read-only overlayfs or cryo's sealed memfd.
pub fn running_from_sealed_copy() -> bool {
    if let Ok(fs) = nix::sys::statfs::statfs("/proc/self/exe") {
        if fs.filesystem_type() == nix::sys::statfs::OVERLAYFS_SUPER_MAGIC
            && fs.flags().contains(nix::sys::statvfs::FsFlags::ST_RDONLY)
        {
            return true;
        }
    }
    std::fs::read_link("/proc/self/exe")
        .map(|p| {
            p.to_string_lossy()
                .starts_with(&format!("/memfd:{MEMFD_NAME}"))
        })
        .unwrap_or(false)
}

/// Re-executes the running binary, with the same arguments and
/// environment, from a read-only overlay of its directory, or if that
/// cannot be made, from a sealed memfd copy. Returns only on failure.
pub fn reexec_from_sealed_copy() -> Errno {
    let (args, env) = match args_and_env() {
        Ok(v) => v,
        Err(e) => return e,
    };
    if let Ok(exe) = readonly_overlay_exe() {
        // Only returns on failure; fall back to the copy then.
        let _ = nix::unistd::fexecve(&exe, &args, &env);
    }
    match reexec_memfd(&args, &env) {
        Ok(never) => match never {},
        Err(e) => e,
    }
}

enum Never {}

fn args_and_env() -> Result<(Vec<CString>, Vec<CString>), Errno> {
    let args: Vec<CString> = std::env::args_os()
        .map(|a| CString::new(a.into_encoded_bytes()).map_err(|_| Errno::EINVAL))
        .collect::<Result<_, _>>()?;
    let env: Vec<CString> = std::env::vars_os()
        .map(|(k, v)| {
            let mut kv = k.into_encoded_bytes();
            kv.push(b'=');
            kv.extend(v.into_encoded_bytes());
            CString::new(kv).map_err(|_| Errno::EINVAL)
        })
        .collect::<Result<_, _>>()?;
    Ok((args, env))
}

/// An `O_PATH` fd of the running binary seen through a detached,
/// read-only overlayfs of its directory.
fn readonly_overlay_exe() -> Result<std::os::fd::OwnedFd, Errno> {
    let exe = std::fs::read_link("/proc/self/exe").map_err(io_errno)?;
    let (Some(dir), Some(name)) = (exe.parent(), exe.file_name()) else {
        return Err(Errno::EINVAL);
    };
    let dir = dir.to_str().ok_or(Errno::EINVAL)?;
    // overlayfs splits lowerdir on ':' and unescapes '\'; such paths
    // are left to the memfd copy.
    if dir.contains([':', '\\', ',']) || !exe.is_absolute() {
        return Err(Errno::EINVAL);
    }
    // overlayfs without an upper layer wants two lower ones: the second
    // is an empty tmpfs, detached as well.
    let empty = crate::mount::detached_mount("tmpfs", &[], true)?;
    let lower = format!("{dir}:/proc/self/fd/{}", {
        use std::os::fd::AsRawFd;
        empty.as_raw_fd()
    });
    let overlay = crate::mount::detached_mount("overlay", &[("lowerdir", &lower)], true)?;
    let exe = nix::fcntl::openat(
        &overlay,
        name,
        nix::fcntl::OFlag::O_PATH | nix::fcntl::OFlag::O_CLOEXEC,
        nix::sys::stat::Mode::empty(),
    )?;
    Ok(exe)
}

fn reexec_memfd(args: &[CString], env: &[CString]) -> Result<Never, Errno> {
    let name = CString::new(MEMFD_NAME).map_err(|_| Errno::EINVAL)?;
    let memfd = memfd_create(
        name.as_c_str(),
        MFdFlags::MFD_CLOEXEC | MFdFlags::MFD_ALLOW_SEALING,
    )?;
    let mut src = std::fs::File::open("/proc/self/exe").map_err(io_errno)?;
    let mut dst = std::fs::File::from(memfd.try_clone().map_err(io_errno)?);
    std::io::copy(&mut src, &mut dst).map_err(io_errno)?;
    let seals = SealFlag::F_SEAL_SEAL
        | SealFlag::F_SEAL_SHRINK
        | SealFlag::F_SEAL_GROW
        | SealFlag::F_SEAL_WRITE;
    nix::fcntl::fcntl(&memfd, FcntlArg::F_ADD_SEALS(seals))?;
    match nix::unistd::fexecve(&memfd, args, env) {
        Err(e) => Err(e),
        Ok(never) => match never {},
    }
}

fn io_errno(e: std::io::Error) -> Errno {
    Errno::from_raw(e.raw_os_error().unwrap_or(libc::EIO))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;
    use std::os::fd::AsRawFd;

    /// The overlay view of the running binary has the same bytes and
    /// cannot be opened for writing (needs root, as CI has).
    #[test]
    fn readonly_overlay_copy_is_the_binary_and_refuses_writes() {
        let fd = readonly_overlay_exe().expect("overlay of the test binary");
        let via = format!("/proc/self/fd/{}", fd.as_raw_fd());
        let err = std::fs::OpenOptions::new()
            .write(true)
            .open(&via)
            .expect_err("writable");
        assert_eq!(err.raw_os_error(), Some(libc::EROFS), "{err}");
        let read = |p: &str| {
            let mut v = Vec::new();
            std::fs::File::open(p)
                .and_then(|mut f| f.read_to_end(&mut v))
                .expect("read");
            v
        };
        assert!(read(&via) == read("/proc/self/exe"), "different bytes");
    }
}
