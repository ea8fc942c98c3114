//! Capability sets: bounding (prctl), ambient (prctl), and
//! effective/permitted/inheritable (capset).

use nix::errno::Errno;

/// Highest capability number the running kernel knows.
pub fn last_cap() -> u32 {
    std::fs::read_to_string("/proc/sys/kernel/cap_last_cap")
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(40)
}

/// Drops every capability not in `keep` from the bounding set.
pub fn drop_bounding(keep: u64) -> Result<(), Errno> {
    for cap in 0..=last_cap() {
        if keep & (1u64 << cap) == 0 {
            // SAFETY: prctl(PR_CAPBSET_DROP) takes integers only.
            let r = unsafe { libc::prctl(libc::PR_CAPBSET_DROP, cap as libc::c_ulong, 0, 0, 0) };
            if r < 0 && Errno::last() != Errno::EINVAL {
                return Err(Errno::last());
            }
        }
    }
    Ok(())
}

/// Keeps permitted capabilities across a uid change away from 0.
pub fn set_keep_caps(on: bool) -> Result<(), Errno> {
    nix::sys::prctl::set_keepcaps(on)
}

#[repr(C)]
struct CapHeader {
    version: u32,
    pid: i32,
}

#[repr(C)]
#[derive(Clone, Copy, Default)]
struct CapData {
    effective: u32,
    permitted: u32,
    inheritable: u32,
}

const LINUX_CAPABILITY_VERSION_3: u32 = 0x2008_0522;

/// Sets the effective, permitted and inheritable sets of the calling thread.
pub fn set_caps(effective: u64, permitted: u64, inheritable: u64) -> Result<(), Errno> {
    let mut header = CapHeader {
        version: LINUX_CAPABILITY_VERSION_3,
        pid: 0,
    };
    let data = [
        CapData {
            effective: effective as u32,
            permitted: permitted as u32,
            inheritable: inheritable as u32,
        },
        CapData {
            effective: (effective >> 32) as u32,
            permitted: (permitted >> 32) as u32,
            inheritable: (inheritable >> 32) as u32,
        },
    ];
    // SAFETY: header and the two-element data array match the kernel's
    // _LINUX_CAPABILITY_VERSION_3 layout and live across the call.
    let r = unsafe {
        libc::syscall(
            libc::SYS_capset,
            &mut header as *mut CapHeader,
            data.as_ptr(),
        )
    };
    Errno::result(r).map(drop)
}

/// Clears the ambient set, then raises each capability in `ambient`. A
/// capability missing from the permitted or inheritable set cannot be raised
/// (EPERM); like runc, such a request is skipped rather than fatal.
pub fn set_ambient(ambient: u64) -> Result<(), Errno> {
    // SAFETY: prctl(PR_CAP_AMBIENT) takes integers only.
    let r = unsafe {
        libc::prctl(
            libc::PR_CAP_AMBIENT,
            libc::PR_CAP_AMBIENT_CLEAR_ALL as libc::c_ulong,
            0,
            0,
            0,
        )
    };
    Errno::result(r)?;
    for cap in 0..=last_cap() {
        if ambient & (1u64 << cap) != 0 {
            // SAFETY: prctl(PR_CAP_AMBIENT) takes integers only.
            let r = unsafe {
                libc::prctl(
                    libc::PR_CAP_AMBIENT,
                    libc::PR_CAP_AMBIENT_RAISE as libc::c_ulong,
                    cap as libc::c_ulong,
                    0,
                    0,
                )
            };
            match Errno::result(r) {
                Ok(_) | Err(Errno::EPERM) => {}
                Err(e) => return Err(e),
            }
        }
    }
    Ok(())
}
