//! cgroup v2 specifics (pure v2 hosts, and the unified directory of hybrid
//! hosts): subtree_control, resource files with runc's conversions, freezer.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::thread::sleep;
use std::time::{Duration, Instant};

use oci_spec::runtime::{LinuxBlockIo, LinuxCpu, LinuxHugepageLimit, LinuxMemory};

use crate::fs;
use crate::resources::{
    blkio_device_line, blkio_weight_to_io_weight, host_hugepage_sizes, hugetlb_page_size_name,
    io_max_line, memory_swap_to_v2, num_to_v2, shares_to_weight,
};
use crate::CgroupError;

const EINVAL: i32 = 22;

/// Writes a v2 control file. A missing file (ENOENT) for a controller that
/// is not in the cgroup's `cgroup.controllers` becomes
/// [`CgroupError::ControllerUnavailable`].
pub(crate) fn write(
    dir: &Path,
    controller: &str,
    file: &str,
    value: &str,
) -> Result<(), CgroupError> {
    match fs::write(&dir.join(file), value) {
        Err(e) if e.is_not_found() => Err(missing(dir, controller, e)),
        other => other,
    }
}

fn missing(dir: &Path, controller: &str, err: CgroupError) -> CgroupError {
    if controller == "cgroup" {
        return err;
    }
    match fs::read_opt(&dir.join("cgroup.controllers")) {
        Ok(Some(list)) if !list.split_whitespace().any(|c| c == controller) => {
            CgroupError::ControllerUnavailable {
                controller: controller.to_owned(),
                path: dir.to_path_buf(),
            }
        }
        _ => err,
    }
}

/// The topmost ancestor of `dir` that is still on the cgroup2 filesystem
/// (only used when the mount point is unknown, after `from_paths`).
fn find_mount(dir: &Path) -> PathBuf {
    let mut top = dir.to_path_buf();
    let mut cur = dir.parent();
    while let Some(p) = cur {
        if !p.join("cgroup.controllers").exists() {
            break;
        }
        top = p.to_path_buf();
        cur = p.parent();
    }
    top
}

/// Enables every controller available at the mount root in the
/// `cgroup.subtree_control` of each ancestor of `dir` (mount root included,
/// `dir` itself excluded, since it will hold processes), as runc's
/// `CreateCgroupPath` does. When the combined write fails (e.g. an ancestor
/// with processes, or cpu with realtime tasks) each controller is tried on
/// its own; failures are ignored here and surface in `apply` as
/// [`CgroupError::ControllerUnavailable`].
pub(crate) fn enable_controllers(dir: &Path, mount: Option<&Path>) -> Result<(), CgroupError> {
    let mount = mount.map_or_else(|| find_mount(dir), Path::to_path_buf);
    let Ok(rel) = dir.strip_prefix(&mount) else {
        return Err(CgroupError::InvalidPath {
            path: dir.to_string_lossy().into_owned(),
            reason: format!("not below the cgroup2 mount {}", mount.display()),
        });
    };
    let available = fs::read(&mount.join("cgroup.controllers"))?;
    let wanted: Vec<String> = available
        .split_whitespace()
        .map(|c| format!("+{c}"))
        .collect();
    if wanted.is_empty() {
        return Ok(());
    }
    let all = wanted.join(" ");
    let levels = rel.components().count();
    let mut cur = mount;
    for (i, comp) in rel.components().enumerate() {
        let file = cur.join("cgroup.subtree_control");
        if fs::write(&file, &all).is_err() {
            for one in &wanted {
                let _ = fs::write(&file, one);
            }
        }
        if i + 1 < levels {
            cur.push(comp);
        }
    }
    Ok(())
}

/// memory.* (v2): memory.max, memory.low, memory.swap.max (= swap - memory).
/// swappiness, disableOOMKiller and kernel/kernelTCP have no v2 files and
/// are ignored, as runc does.
pub(crate) fn set_memory(dir: &Path, m: &LinuxMemory) -> Result<(), CgroupError> {
    let limit = m.limit().unwrap_or(0);
    let swap = memory_swap_to_v2(m.swap().unwrap_or(0), limit)?;
    // swap first: it may only be valid together with the new memory.max
    if swap != 0 {
        match write(dir, "memory", "memory.swap.max", &num_to_v2(swap)) {
            // no swap accounting: "unlimited" is fine to skip
            Err(e) if e.is_not_found() && swap == -1 => {}
            other => other?,
        }
    }
    if limit != 0 {
        if m.check_before_update() == Some(true) && limit > 0 {
            if let Some(current) = fs::read_u64_opt(&dir.join("memory.current"))? {
                if u64::try_from(limit).is_ok_and(|l| current > l) {
                    return Err(CgroupError::InvalidValue {
                        what: "memory limit".to_owned(),
                        reason: format!(
                            "{limit} is lower than the current usage {current} (checkBeforeUpdate)"
                        ),
                    });
                }
            }
        }
        write(dir, "memory", "memory.max", &num_to_v2(limit))?;
    }
    if let Some(r) = m.reservation().filter(|r| *r != 0) {
        write(dir, "memory", "memory.low", &num_to_v2(r))?;
    }
    Ok(())
}

/// cpu.* (v2): weight from shares, cpu.max from quota/period, idle, burst.
pub(crate) fn set_cpu(dir: &Path, c: &LinuxCpu) -> Result<(), CgroupError> {
    if let Some(shares) = c.shares().filter(|s| *s != 0) {
        write(
            dir,
            "cpu",
            "cpu.weight",
            &shares_to_weight(shares).to_string(),
        )?;
    }
    if let Some(idle) = c.idle() {
        write(dir, "cpu", "cpu.idle", &idle.to_string())?;
    }
    let quota = c.quota().unwrap_or(0);
    let period = c.period().unwrap_or(0);
    let mut burst_pending = None;
    if let Some(burst) = c.burst() {
        match write(dir, "cpu", "cpu.max.burst", &burst.to_string()) {
            // may need the new quota first: retry afterwards
            Err(e) if e.raw_os_error() == Some(EINVAL) && quota != 0 => {
                burst_pending = Some(burst);
            }
            other => other?,
        }
    }
    if quota != 0 || period != 0 {
        let mut value = if quota > 0 {
            quota.to_string()
        } else if quota < 0 {
            "max".to_owned()
        } else {
            // only the period changes: keep the current quota
            let cur = fs::read_trim(&dir.join("cpu.max"))?;
            cur.split_whitespace().next().unwrap_or("max").to_owned()
        };
        if period != 0 {
            value.push(' ');
            value.push_str(&period.to_string());
        }
        write(dir, "cpu", "cpu.max", &value)?;
        if let Some(burst) = burst_pending {
            write(dir, "cpu", "cpu.max.burst", &burst.to_string())?;
        }
    }
    Ok(())
}

/// io.* (v2): io.bfq.weight when BFQ is there, else io.weight (converted);
/// per-device weights need BFQ (skipped without it, as runc does); throttles
/// go to io.max. Leaf weights have no v2 equivalent.
pub(crate) fn set_io(dir: &Path, b: &LinuxBlockIo) -> Result<(), CgroupError> {
    let weight_devices = b.weight_device().as_deref().unwrap_or_default();
    let bfq = (b.weight().is_some_and(|w| w != 0) || !weight_devices.is_empty())
        && dir.join("io.bfq.weight").exists();
    if let Some(w) = b.weight().filter(|w| *w != 0) {
        if bfq {
            write(dir, "io", "io.bfq.weight", &w.to_string())?;
        } else {
            let v = blkio_weight_to_io_weight(u64::from(w));
            write(dir, "io", "io.weight", &v.to_string())?;
        }
    }
    if bfq {
        for d in weight_devices {
            if let Some(w) = d.weight() {
                let line = blkio_device_line(d.major(), d.minor(), w);
                write(dir, "io", "io.bfq.weight", &line)?;
            }
        }
    }
    let throttles = [
        (b.throttle_read_bps_device(), "rbps"),
        (b.throttle_write_bps_device(), "wbps"),
        (b.throttle_read_iops_device(), "riops"),
        (b.throttle_write_iops_device(), "wiops"),
    ];
    for (devs, key) in throttles {
        for d in devs.iter().flatten() {
            let line = io_max_line(d.major(), d.minor(), key, d.rate());
            write(dir, "io", "io.max", &line)?;
        }
    }
    Ok(())
}

/// Maps ENOENT on a hugetlb file to "page size not supported".
pub(crate) fn unsupported_page_size(err: CgroupError, name: &str) -> CgroupError {
    if !err.is_not_found() {
        return err;
    }
    let sizes = host_hugepage_sizes();
    if sizes.iter().any(|s| s == name) {
        return err;
    }
    CgroupError::InvalidValue {
        what: "hugepage size".to_owned(),
        reason: format!(
            "{name} is not supported by this host (available: {})",
            if sizes.is_empty() {
                "none".to_owned()
            } else {
                sizes.join(", ")
            }
        ),
    }
}

/// hugetlb.<size>.max (v2), and hugetlb.<size>.rsvd.max when present.
pub(crate) fn set_hugetlb(dir: &Path, limits: &[LinuxHugepageLimit]) -> Result<(), CgroupError> {
    for l in limits {
        let name = hugetlb_page_size_name(l.page_size())?;
        let value = num_to_v2(l.limit());
        write(dir, "hugetlb", &format!("hugetlb.{name}.max"), &value)
            .map_err(|e| unsupported_page_size(e, &name))?;
        match fs::write(&dir.join(format!("hugetlb.{name}.rsvd.max")), &value) {
            Err(e) if e.is_not_found() => {}
            other => other?,
        }
    }
    Ok(())
}

/// Checks a `linux.resources.unified` key: a plain `controller.parameter`
/// file name (runc's rules).
pub(crate) fn validate_unified_key(key: &str) -> Result<(), CgroupError> {
    let bad = |reason: &str| CgroupError::InvalidValue {
        what: format!("unified resource {key:?}"),
        reason: reason.to_owned(),
    };
    if key.contains('/') || key.contains('\0') {
        return Err(bad("must be a file name (no slashes)"));
    }
    if key.find('.').is_none_or(|i| i == 0) || key.ends_with('.') {
        return Err(bad("must be of the form CONTROLLER.PARAMETER"));
    }
    Ok(())
}

/// Writes `linux.resources.unified` key/values as files (sorted by key).
pub(crate) fn set_unified(
    dir: &Path,
    unified: &HashMap<String, String>,
) -> Result<(), CgroupError> {
    let mut keys: Vec<&String> = unified.keys().collect();
    keys.sort();
    for key in keys {
        validate_unified_key(key)?;
        let controller = key.split('.').next().unwrap_or_default();
        write(dir, controller, key, &unified[key])?;
    }
    Ok(())
}

fn events_frozen(dir: &Path) -> Result<bool, CgroupError> {
    let events = fs::read(&dir.join("cgroup.events"))?;
    Ok(events.lines().any(|l| l.trim() == "frozen 1"))
}

fn freeze_file_missing(dir: &Path, err: CgroupError) -> CgroupError {
    if err.is_not_found() && dir.is_dir() {
        CgroupError::Unsupported(format!(
            "{}/cgroup.freeze does not exist: the cgroup v2 freezer needs Linux 5.2 or newer",
            dir.display()
        ))
    } else {
        err
    }
}

/// Writes `cgroup.freeze=1` and waits (up to 10 s) until `cgroup.events`
/// says `frozen 1`; on timeout thaws back and fails.
pub(crate) fn freeze(dir: &Path) -> Result<(), CgroupError> {
    fs::write(&dir.join("cgroup.freeze"), "1").map_err(|e| freeze_file_missing(dir, e))?;
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut delay = Duration::from_micros(500);
    loop {
        if events_frozen(dir)? {
            return Ok(());
        }
        if Instant::now() > deadline {
            let _ = fs::write(&dir.join("cgroup.freeze"), "0");
            return Err(CgroupError::FreezeFailed {
                path: dir.to_path_buf(),
                reason: "timed out waiting for cgroup.events to report frozen 1".to_owned(),
            });
        }
        sleep(delay);
        delay = (delay * 2).min(Duration::from_millis(10));
    }
}

/// Writes `cgroup.freeze=0`.
pub(crate) fn thaw(dir: &Path) -> Result<(), CgroupError> {
    fs::write(&dir.join("cgroup.freeze"), "0").map_err(|e| freeze_file_missing(dir, e))
}

/// `cgroup.freeze` reads 1 (a kernel without the file is never frozen).
pub(crate) fn is_frozen(dir: &Path) -> Result<bool, CgroupError> {
    match fs::read_trim(&dir.join("cgroup.freeze")) {
        Ok(v) => Ok(v == "1"),
        Err(e) if e.is_not_found() && dir.is_dir() => Ok(false),
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unified_keys() {
        assert!(validate_unified_key("memory.max").is_ok());
        assert!(validate_unified_key("hugetlb.2MB.max").is_ok());
        assert!(validate_unified_key("../memory.max").is_err());
        assert!(validate_unified_key("memory").is_err());
        assert!(validate_unified_key(".max").is_err());
        assert!(validate_unified_key("memory.").is_err());
    }
}
