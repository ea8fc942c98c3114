//! Protection of the cryo binary from the containers it runs
//! (CVE-2019-5736 class).
//!
//! A container can make the kernel execute `/proc/self/exe` of a cryo
//! process that is about to exec the container's program (a `#!/proc/self/exe`
//! script), and then write to that binary through `/proc/<pid>/exe`. So the
//! verbs that start processes in containers first re-execute cryo from a
//! sealed memfd copy of itself: `/proc/self/exe` then names an anonymous,
//! write-sealed file, and the installed binary is never reachable.

use std::ffi::CString;

use nix::errno::Errno;
use nix::fcntl::{FcntlArg, SealFlag};
use nix::sys::memfd::{memfd_create, MFdFlags};

const MEMFD_NAME: &str = "cryo";

/// Whether this process already runs from cryo's sealed memfd.
pub fn running_from_sealed_copy() -> bool {
    std::fs::read_link("/proc/self/exe")
        .map(|p| {
            p.to_string_lossy()
                .starts_with(&format!("/memfd:{MEMFD_NAME}"))
        })
        .unwrap_or(false)
}

/// Copies the running binary into a sealed memfd and re-executes it with
/// the same arguments and environment. Returns only on failure.
pub fn reexec_from_sealed_copy() -> Errno {
    match reexec_inner() {
        Ok(never) => match never {},
        Err(e) => e,
    }
}

enum Never {}

fn reexec_inner() -> Result<Never, Errno> {
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
    match nix::unistd::fexecve(&memfd, &args, &env) {
        Err(e) => Err(e),
        Ok(never) => match never {},
    }
}

fn io_errno(e: std::io::Error) -> Errno {
    Errno::from_raw(e.raw_os_error().unwrap_or(libc::EIO))
}
