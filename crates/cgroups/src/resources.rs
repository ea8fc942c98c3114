//! Applying OCI `LinuxResources`: validation, routing of each resource to
//! the hierarchy that holds its controller (v1 directory or the unified
//! one), and the pure v1 -> v2 conversions runc uses.

use std::fmt::Display;

use oci_spec::runtime::{
    LinuxBlockIo, LinuxCpu, LinuxDeviceCgroup, LinuxDeviceType, LinuxMemory, LinuxResources,
};

use crate::driver::{FsCgroup, Target};
use crate::{fs, v1, v2, CgroupError};

/// The error for device rules on cgroup v2.
pub const DEVICES_V2_UNSUPPORTED: &str = "device control (linux.resources.devices) on cgroup v2 \
     needs an eBPF program attached to the cgroup, which cryo does not load yet";

/// runc's `ConvertCPUSharesToCgroupV2Value`: maps cpu.shares [2, 262144]
/// onto cpu.weight [1, 10000]. 0 means unset and stays 0.
pub fn shares_to_weight(shares: u64) -> u64 {
    match shares {
        0 => 0,
        s if s <= 2 => 1,
        s if s >= 262_144 => 10_000,
        s => 1 + ((s - 2) * 9999) / 262_142,
    }
}

/// runc's `ConvertBlkIOToIOWeightValue`: blkio.weight [10, 1000] onto
/// io.weight [1, 10000]. 0 means unset and stays 0.
pub fn blkio_weight_to_io_weight(weight: u64) -> u64 {
    if weight == 0 {
        return 0;
    }
    1 + (weight.saturating_sub(10)) * 9999 / 990
}

/// runc's `ConvertMemorySwapToCgroupV2Value`: the OCI (v1) swap value is
/// memory+swap, v2's memory.swap.max is swap alone. 0 = unset, -1 = max.
pub fn memory_swap_to_v2(swap: i64, memory: i64) -> Result<i64, CgroupError> {
    let invalid = |reason: &str| CgroupError::InvalidValue {
        what: "memory swap".to_owned(),
        reason: reason.to_owned(),
    };
    // "memory unlimited, swap unset" means both unlimited, as on v1.
    if memory == -1 && swap == 0 {
        return Ok(-1);
    }
    if swap == -1 || swap == 0 {
        return Ok(swap);
    }
    if memory == 0 || memory == -1 {
        return Err(invalid("unable to set swap limit without memory limit"));
    }
    if memory < 0 {
        return Err(invalid(&format!("invalid memory value: {memory}")));
    }
    if swap < memory {
        return Err(invalid("memory+swap limit should be >= memory limit"));
    }
    Ok(swap - memory)
}

/// A v2 value: negative (-1) is `max`.
pub fn num_to_v2(v: i64) -> String {
    if v < 0 {
        "max".to_owned()
    } else {
        v.to_string()
    }
}

/// The kernel's name for a huge page size in bytes, as used in hugetlb
/// control file names (`mem_fmt` in mm/hugetlb_cgroup.c): `1GB`, `2MB`, `64KB`.
pub fn page_size_name_from_bytes(bytes: u64) -> String {
    const K: u64 = 1024;
    if bytes >= K * K * K {
        format!("{}GB", bytes / (K * K * K))
    } else if bytes >= K * K {
        format!("{}MB", bytes / (K * K))
    } else {
        format!("{}KB", bytes / K)
    }
}

/// Normalises an OCI hugepage `pageSize` ("2MB", "1GB", "64KB"; also
/// accepted: "2MiB", "2048kB", "2M", or a plain byte count) to the name
/// used in the control files ("2MB").
pub fn hugetlb_page_size_name(page_size: &str) -> Result<String, CgroupError> {
    let invalid = || CgroupError::InvalidValue {
        what: "hugepage size".to_owned(),
        reason: format!("{page_size:?} is not of the form <size><unit>B, e.g. 2MB or 1GB"),
    };
    let s = page_size.trim();
    let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (num, unit) = s.split_at(split);
    let num: u64 = num.parse().map_err(|_| invalid())?;
    let mult: u64 = match unit.to_ascii_uppercase().as_str() {
        "" | "B" => 1,
        "K" | "KB" | "KIB" => 1 << 10,
        "M" | "MB" | "MIB" => 1 << 20,
        "G" | "GB" | "GIB" => 1 << 30,
        "T" | "TB" | "TIB" => 1 << 40,
        _ => return Err(invalid()),
    };
    let bytes = num.checked_mul(mult).ok_or_else(invalid)?;
    if bytes < 1024 {
        return Err(invalid());
    }
    Ok(page_size_name_from_bytes(bytes))
}

/// `hugepages-2048kB` (a directory of /sys/kernel/mm/hugepages) -> `2MB`.
pub fn hugepage_dir_to_size_name(dir_name: &str) -> Option<String> {
    let kb = dir_name
        .strip_prefix("hugepages-")?
        .strip_suffix("kB")?
        .parse::<u64>()
        .ok()?;
    Some(page_size_name_from_bytes(kb.checked_mul(1024)?))
}

/// The host's huge page sizes as control-file names, e.g. `["1GB", "2MB"]`.
pub fn host_hugepage_sizes() -> Vec<String> {
    let mut out: Vec<String> = std::fs::read_dir("/sys/kernel/mm/hugepages")
        .map(|rd| {
            rd.filter_map(Result::ok)
                .filter_map(|e| hugepage_dir_to_size_name(&e.file_name().to_string_lossy()))
                .collect()
        })
        .unwrap_or_default();
    out.sort();
    out
}

/// A v1 blkio device line: `8:0 500`.
pub fn blkio_device_line(major: i64, minor: i64, value: impl Display) -> String {
    format!("{major}:{minor} {value}")
}

/// A v2 io.max line: `8:0 rbps=1048576`.
pub fn io_max_line(major: i64, minor: i64, key: &str, rate: u64) -> String {
    format!("{major}:{minor} {key}={rate}")
}

/// A v1 devices.allow/deny line: `c 1:3 rwm`, `a *:* rwm`. A missing type
/// is `a`, missing numbers are `*`, a missing access is `rwm`.
pub fn device_rule_line(rule: &LinuxDeviceCgroup) -> String {
    let typ = rule.typ().unwrap_or(LinuxDeviceType::A).as_str().to_owned();
    let num = |n: Option<i64>| match n {
        Some(n) if n >= 0 => n.to_string(),
        _ => "*".to_owned(),
    };
    let access = match rule.access().as_deref() {
        Some(a) if !a.is_empty() => a.to_owned(),
        _ => "rwm".to_owned(),
    };
    format!("{typ} {}:{} {access}", num(rule.major()), num(rule.minor()))
}

/// Writes into a controller file of `t`, with v2 error mapping.
pub(crate) fn put(
    t: Target<'_>,
    controller: &str,
    file: &str,
    value: &str,
) -> Result<(), CgroupError> {
    match t {
        Target::V1(dir) => fs::write(&dir.join(file), value),
        Target::V2(dir) => v2::write(dir, controller, file, value),
    }
}

pub(crate) fn memory_is_set(m: &LinuxMemory) -> bool {
    m.limit().is_some_and(|v| v != 0)
        || m.reservation().is_some_and(|v| v != 0)
        || m.swap().is_some_and(|v| v != 0)
        || m.kernel_tcp().is_some_and(|v| v != 0)
        || m.swappiness().is_some()
        || m.disable_oom_killer() == Some(true)
}

pub(crate) fn cpu_is_set(c: &LinuxCpu) -> bool {
    c.shares().is_some_and(|v| v != 0)
        || c.quota().is_some_and(|v| v != 0)
        || c.period().is_some_and(|v| v != 0)
        || c.burst().is_some()
        || c.idle().is_some()
        || cpu_rt_is_set(c)
}

pub(crate) fn cpu_rt_is_set(c: &LinuxCpu) -> bool {
    c.realtime_runtime().is_some_and(|v| v != 0) || c.realtime_period().is_some_and(|v| v != 0)
}

pub(crate) fn cpuset_is_set(c: &LinuxCpu) -> bool {
    c.cpus().as_deref().is_some_and(|s| !s.is_empty())
        || c.mems().as_deref().is_some_and(|s| !s.is_empty())
}

pub(crate) fn blkio_is_set(b: &LinuxBlockIo) -> bool {
    let nonempty = |v: &Option<Vec<_>>| v.as_ref().is_some_and(|v: &Vec<_>| !v.is_empty());
    b.weight().is_some_and(|v| v != 0)
        || b.leaf_weight().is_some_and(|v| v != 0)
        || b.weight_device().as_ref().is_some_and(|v| !v.is_empty())
        || nonempty(b.throttle_read_bps_device())
        || nonempty(b.throttle_write_bps_device())
        || nonempty(b.throttle_read_iops_device())
        || nonempty(b.throttle_write_iops_device())
}

/// Checks everything that can be rejected without touching the cgroup, so a
/// failing `apply` does not leave half of the settings written.
fn validate(cg: &FsCgroup, r: &LinuxResources) -> Result<(), CgroupError> {
    if r.devices().as_ref().is_some_and(|d| !d.is_empty())
        && matches!(cg.target("devices")?, Target::V2(_))
    {
        return Err(CgroupError::Unsupported(DEVICES_V2_UNSUPPORTED.to_owned()));
    }
    if let Some(net) = r.network() {
        if net.class_id().is_some() && !cg.has_v1("net_cls") {
            return Err(CgroupError::Unsupported(
                "network classID needs the net_cls cgroup v1 controller, which is not mounted"
                    .to_owned(),
            ));
        }
        if net.priorities().as_ref().is_some_and(|p| !p.is_empty()) && !cg.has_v1("net_prio") {
            return Err(CgroupError::Unsupported(
                "network priorities need the net_prio cgroup v1 controller, which is not mounted"
                    .to_owned(),
            ));
        }
    }
    if r.rdma().as_ref().is_some_and(|m| !m.is_empty()) {
        return Err(CgroupError::Unsupported(
            "rdma resource limits are not supported by cryo".to_owned(),
        ));
    }
    if let Some(unified) = r.unified().as_ref().filter(|u| !u.is_empty()) {
        if cg.unified_dir().is_none() {
            return Err(CgroupError::Unsupported(
                "unified (cgroup v2) resources were given but this host has no cgroup v2 hierarchy"
                    .to_owned(),
            ));
        }
        for key in unified.keys() {
            v2::validate_unified_key(key)?;
        }
    }
    if let Some(cpu) = r.cpu() {
        if cpu_rt_is_set(cpu) && matches!(cg.target("cpu")?, Target::V2(_)) {
            return Err(CgroupError::Unsupported(
                "realtime cpu settings (realtimeRuntime, realtimePeriod) are not supported on cgroup v2"
                    .to_owned(),
            ));
        }
    }
    if let Some(limits) = r.hugepage_limits() {
        for l in limits {
            hugetlb_page_size_name(l.page_size())?;
        }
    }
    if let Some(m) = r.memory() {
        if let Some(s) = m.swappiness() {
            if s > 100 {
                return Err(CgroupError::InvalidValue {
                    what: "memory swappiness".to_owned(),
                    reason: format!("{s}: valid range is 0-100"),
                });
            }
        }
        if memory_is_set(m) && matches!(cg.target("memory")?, Target::V2(_)) {
            memory_swap_to_v2(m.swap().unwrap_or(0), m.limit().unwrap_or(0))?;
        }
    }
    Ok(())
}

/// Applies `r` to the cgroup. Unset fields are left untouched.
pub(crate) fn apply(cg: &FsCgroup, r: &LinuxResources) -> Result<(), CgroupError> {
    validate(cg, r)?;

    if let Some(cpu) = r.cpu().as_ref().filter(|c| cpuset_is_set(c)) {
        let t = cg.target("cpuset")?;
        if let Some(cpus) = cpu.cpus().as_deref().filter(|s| !s.is_empty()) {
            put(t, "cpuset", "cpuset.cpus", cpus)?;
        }
        if let Some(mems) = cpu.mems().as_deref().filter(|s| !s.is_empty()) {
            put(t, "cpuset", "cpuset.mems", mems)?;
        }
    }
    if let Some(devices) = r.devices().as_ref().filter(|d| !d.is_empty()) {
        match cg.target("devices")? {
            Target::V1(dir) => v1::set_devices(dir, devices)?,
            Target::V2(_) => {
                return Err(CgroupError::Unsupported(DEVICES_V2_UNSUPPORTED.to_owned()))
            }
        }
    }
    if let Some(m) = r.memory().as_ref().filter(|m| memory_is_set(m)) {
        match cg.target("memory")? {
            Target::V1(dir) => v1::set_memory(dir, m)?,
            Target::V2(dir) => v2::set_memory(dir, m)?,
        }
    }
    if let Some(cpu) = r.cpu().as_ref().filter(|c| cpu_is_set(c)) {
        match cg.target("cpu")? {
            Target::V1(dir) => v1::set_cpu(dir, cpu)?,
            Target::V2(dir) => v2::set_cpu(dir, cpu)?,
        }
    }
    if let Some(pids) = r.pids() {
        let limit = pids.limit();
        if limit != 0 {
            let value = if limit > 0 {
                limit.to_string()
            } else {
                "max".to_owned()
            };
            put(cg.target("pids")?, "pids", "pids.max", &value)?;
        }
    }
    if let Some(b) = r.block_io().as_ref().filter(|b| blkio_is_set(b)) {
        match cg.target("blkio")? {
            Target::V1(dir) => v1::set_blkio(dir, b)?,
            Target::V2(dir) => v2::set_io(dir, b)?,
        }
    }
    if let Some(limits) = r.hugepage_limits().as_ref().filter(|l| !l.is_empty()) {
        match cg.target("hugetlb")? {
            Target::V1(dir) => v1::set_hugetlb(dir, limits)?,
            Target::V2(dir) => v2::set_hugetlb(dir, limits)?,
        }
    }
    if let Some(net) = r.network() {
        if let (Some(id), Some(dir)) = (net.class_id(), cg.v1_dir("net_cls")) {
            fs::write(&dir.join("net_cls.classid"), &id.to_string())?;
        }
        if let (Some(prios), Some(dir)) = (net.priorities(), cg.v1_dir("net_prio")) {
            for p in prios {
                fs::write(
                    &dir.join("net_prio.ifpriomap"),
                    &format!("{} {}", p.name(), p.priority()),
                )?;
            }
        }
    }
    if let (Some(unified), Some(dir)) = (r.unified(), cg.unified_dir()) {
        v2::set_unified(dir, unified)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use oci_spec::runtime::LinuxDeviceCgroupBuilder;

    #[test]
    fn shares_conversion_matches_runc() {
        assert_eq!(shares_to_weight(0), 0);
        assert_eq!(shares_to_weight(2), 1);
        assert_eq!(shares_to_weight(1024), 39);
        assert_eq!(shares_to_weight(512), 20);
        assert_eq!(shares_to_weight(262_144), 10_000);
        assert_eq!(shares_to_weight(1_000_000), 10_000);
    }

    #[test]
    fn blkio_conversion_matches_runc() {
        assert_eq!(blkio_weight_to_io_weight(0), 0);
        assert_eq!(blkio_weight_to_io_weight(10), 1);
        assert_eq!(blkio_weight_to_io_weight(500), 4950);
        assert_eq!(blkio_weight_to_io_weight(1000), 10_000);
    }

    #[test]
    fn swap_conversion_matches_runc() {
        assert_eq!(memory_swap_to_v2(0, 0).expect("ok"), 0);
        assert_eq!(memory_swap_to_v2(0, -1).expect("ok"), -1);
        assert_eq!(memory_swap_to_v2(-1, 100).expect("ok"), -1);
        assert_eq!(memory_swap_to_v2(300, 100).expect("ok"), 200);
        assert_eq!(memory_swap_to_v2(100, 100).expect("ok"), 0);
        assert!(memory_swap_to_v2(50, 100).is_err());
        assert!(memory_swap_to_v2(50, 0).is_err());
        assert!(memory_swap_to_v2(50, -1).is_err());
        assert_eq!(num_to_v2(-1), "max");
        assert_eq!(num_to_v2(5), "5");
    }

    #[test]
    fn hugetlb_names() {
        assert_eq!(hugetlb_page_size_name("2MB").expect("ok"), "2MB");
        assert_eq!(hugetlb_page_size_name("1GB").expect("ok"), "1GB");
        assert_eq!(hugetlb_page_size_name("64KB").expect("ok"), "64KB");
        assert_eq!(hugetlb_page_size_name("2MiB").expect("ok"), "2MB");
        assert_eq!(hugetlb_page_size_name("2048kB").expect("ok"), "2MB");
        assert_eq!(hugetlb_page_size_name("2097152").expect("ok"), "2MB");
        assert_eq!(hugetlb_page_size_name("16GB").expect("ok"), "16GB");
        assert!(hugetlb_page_size_name("").is_err());
        assert!(hugetlb_page_size_name("MB").is_err());
        assert!(hugetlb_page_size_name("2XB").is_err());
        assert!(hugetlb_page_size_name("12B").is_err());
        assert_eq!(
            hugepage_dir_to_size_name("hugepages-2048kB").as_deref(),
            Some("2MB")
        );
        assert_eq!(
            hugepage_dir_to_size_name("hugepages-1048576kB").as_deref(),
            Some("1GB")
        );
        assert_eq!(
            hugepage_dir_to_size_name("hugepages-64kB").as_deref(),
            Some("64KB")
        );
        assert_eq!(hugepage_dir_to_size_name("other"), None);
    }

    #[test]
    fn device_lines() {
        assert_eq!(blkio_device_line(8, 0, 500), "8:0 500");
        assert_eq!(io_max_line(8, 16, "wiops", 100), "8:16 wiops=100");
        let deny_all = LinuxDeviceCgroupBuilder::default()
            .allow(false)
            .access("rwm")
            .build()
            .expect("build");
        assert_eq!(device_rule_line(&deny_all), "a *:* rwm");
        let null = LinuxDeviceCgroupBuilder::default()
            .allow(true)
            .typ(LinuxDeviceType::C)
            .major(1)
            .minor(3)
            .access("rw")
            .build()
            .expect("build");
        assert_eq!(device_rule_line(&null), "c 1:3 rw");
        let any_minor = LinuxDeviceCgroupBuilder::default()
            .allow(true)
            .typ(LinuxDeviceType::C)
            .major(136)
            .build()
            .expect("build");
        assert_eq!(device_rule_line(&any_minor), "c 136:* rwm");
    }
}
