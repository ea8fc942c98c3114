//! cgroup v1 specifics: cpuset initialisation, resource files, freezer.

use std::path::Path;
use std::thread::sleep;
use std::time::{Duration, Instant};

use oci_spec::runtime::{
    LinuxBlockIo, LinuxCpu, LinuxDeviceCgroup, LinuxHugepageLimit, LinuxMemory,
};

use crate::fs::{self, EBUSY};
use crate::resources::{blkio_device_line, device_rule_line, hugetlb_page_size_name};
use crate::CgroupError;

/// EINVAL, without a libc dependency.
const EINVAL: i32 = 22;

/// A new v1 cpuset cgroup starts with empty cpuset.cpus/cpuset.mems and
/// refuses tasks until they are set: copy them from the nearest ancestor
/// that has them, filling every empty level on the way down (runc's
/// `ensureParent`/`copyIfNeeded`).
pub(crate) fn ensure_cpuset(dir: &Path, mount: Option<&Path>) -> Result<(), CgroupError> {
    for file in ["cpuset.cpus", "cpuset.mems"] {
        inherit(dir, file, mount)?;
    }
    Ok(())
}

fn inherit(dir: &Path, file: &str, mount: Option<&Path>) -> Result<String, CgroupError> {
    let path = dir.join(file);
    let current = fs::read_trim(&path)?;
    if !current.is_empty() || Some(dir) == mount {
        return Ok(current);
    }
    let parent = dir.parent().ok_or_else(|| CgroupError::Parse {
        path: path.clone(),
        reason: "empty and no parent cgroup to inherit from".to_owned(),
    })?;
    let value = inherit(parent, file, mount)?;
    if !value.is_empty() {
        fs::write(&path, &value)?;
    }
    Ok(value)
}

fn set_memory_limit(dir: &Path, limit: i64) -> Result<(), CgroupError> {
    if limit == 0 {
        return Ok(());
    }
    match fs::write(&dir.join("memory.limit_in_bytes"), &limit.to_string()) {
        Err(e) if e.raw_os_error() == Some(EBUSY) => {
            let usage = fs::read_u64(&dir.join("memory.usage_in_bytes")).unwrap_or(0);
            let peak = fs::read_u64(&dir.join("memory.max_usage_in_bytes")).unwrap_or(0);
            Err(CgroupError::MemoryLimitBusy { limit, usage, peak })
        }
        other => other,
    }
}

fn set_memsw_limit(dir: &Path, swap: i64) -> Result<(), CgroupError> {
    if swap == 0 {
        return Ok(());
    }
    fs::write(&dir.join("memory.memsw.limit_in_bytes"), &swap.to_string())
}

/// memory.* (v1). The kernel rejects memory > memory+swap, so the order of
/// the two writes depends on whether the limit goes up or down (runc's
/// `setMemoryAndSwap`).
pub(crate) fn set_memory(dir: &Path, m: &LinuxMemory) -> Result<(), CgroupError> {
    let limit = m.limit().unwrap_or(0);
    let mut swap = m.swap().unwrap_or(0);
    if limit == -1 && swap == 0 && dir.join("memory.memsw.limit_in_bytes").exists() {
        swap = -1;
    }
    let mut done = false;
    if limit != 0 && swap != 0 {
        let current = fs::read_u64(&dir.join("memory.limit_in_bytes"))?;
        if swap == -1 || u64::try_from(swap).is_ok_and(|s| current < s) {
            set_memsw_limit(dir, swap)?;
            set_memory_limit(dir, limit)?;
            done = true;
        }
    }
    if !done {
        set_memory_limit(dir, limit)?;
        set_memsw_limit(dir, swap)?;
    }
    if let Some(r) = m.reservation().filter(|r| *r != 0) {
        fs::write(&dir.join("memory.soft_limit_in_bytes"), &r.to_string())?;
    }
    // memory.kmem.limit_in_bytes (m.kernel) is deprecated and ignored, as in runc.
    if let Some(k) = m.kernel_tcp().filter(|k| *k != 0) {
        fs::write(&dir.join("memory.kmem.tcp.limit_in_bytes"), &k.to_string())?;
    }
    if let Some(s) = m.swappiness() {
        fs::write(&dir.join("memory.swappiness"), &s.to_string())?;
    }
    if m.disable_oom_killer() == Some(true) {
        fs::write(&dir.join("memory.oom_control"), "1")?;
    }
    Ok(())
}

/// cpu.* (v1).
pub(crate) fn set_cpu(dir: &Path, c: &LinuxCpu) -> Result<(), CgroupError> {
    if let Some(shares) = c.shares().filter(|s| *s != 0) {
        let path = dir.join("cpu.shares");
        fs::write(&path, &shares.to_string())?;
        // The kernel clamps silently; tell the user like runc does.
        let got = fs::read_u64(&path)?;
        if got != shares {
            let bound = if shares > got { "maximum" } else { "minimum" };
            return Err(CgroupError::InvalidValue {
                what: "cpu shares".to_owned(),
                reason: format!("{shares}: the {bound} allowed cpu-shares is {got}"),
            });
        }
    }
    let quota = c.quota().unwrap_or(0);
    let mut period_pending = None;
    if let Some(period) = c.period().filter(|p| *p != 0) {
        let path = dir.join("cpu.cfs_period_us");
        match fs::write(&path, &period.to_string()) {
            // A smaller period may be rejected while the old quota/new period
            // exceeds the parent: retry after setting the quota.
            Err(e) if e.raw_os_error() == Some(EINVAL) && quota != 0 => {
                period_pending = Some(period);
            }
            other => other?,
        }
    }
    if quota != 0 {
        fs::write(&dir.join("cpu.cfs_quota_us"), &quota.to_string())?;
        if let Some(period) = period_pending {
            fs::write(&dir.join("cpu.cfs_period_us"), &period.to_string())?;
        }
    }
    if let Some(burst) = c.burst() {
        fs::write(&dir.join("cpu.cfs_burst_us"), &burst.to_string())?;
    }
    if let Some(p) = c.realtime_period().filter(|p| *p != 0) {
        fs::write(&dir.join("cpu.rt_period_us"), &p.to_string())?;
    }
    if let Some(r) = c.realtime_runtime().filter(|r| *r != 0) {
        fs::write(&dir.join("cpu.rt_runtime_us"), &r.to_string())?;
    }
    if let Some(idle) = c.idle() {
        fs::write(&dir.join("cpu.idle"), &idle.to_string())?;
    }
    Ok(())
}

/// blkio.* (v1). Weights go to the BFQ files when the kernel has them
/// (CFQ is gone since 5.0), as runc does.
pub(crate) fn set_blkio(dir: &Path, b: &LinuxBlockIo) -> Result<(), CgroupError> {
    let has_weight = b.weight().is_some_and(|w| w != 0)
        || b.weight_device()
            .as_ref()
            .is_some_and(|d| d.iter().any(|d| d.weight().is_some()));
    let (weight_file, weight_dev_file) = if has_weight && dir.join("blkio.bfq.weight").exists() {
        ("blkio.bfq.weight", "blkio.bfq.weight_device")
    } else {
        ("blkio.weight", "blkio.weight_device")
    };
    if let Some(w) = b.weight().filter(|w| *w != 0) {
        fs::write(&dir.join(weight_file), &w.to_string())?;
    }
    if let Some(w) = b.leaf_weight().filter(|w| *w != 0) {
        fs::write(&dir.join("blkio.leaf_weight"), &w.to_string())?;
    }
    for d in b.weight_device().iter().flatten() {
        if let Some(w) = d.weight() {
            let line = blkio_device_line(d.major(), d.minor(), w);
            fs::write(&dir.join(weight_dev_file), &line)?;
        }
        if let Some(w) = d.leaf_weight() {
            let line = blkio_device_line(d.major(), d.minor(), w);
            fs::write(&dir.join("blkio.leaf_weight_device"), &line)?;
        }
    }
    let throttles = [
        (
            b.throttle_read_bps_device(),
            "blkio.throttle.read_bps_device",
        ),
        (
            b.throttle_write_bps_device(),
            "blkio.throttle.write_bps_device",
        ),
        (
            b.throttle_read_iops_device(),
            "blkio.throttle.read_iops_device",
        ),
        (
            b.throttle_write_iops_device(),
            "blkio.throttle.write_iops_device",
        ),
    ];
    for (devs, file) in throttles {
        for d in devs.iter().flatten() {
            let line = blkio_device_line(d.major(), d.minor(), d.rate());
            fs::write(&dir.join(file), &line)?;
        }
    }
    Ok(())
}

/// hugetlb.<size>.limit_in_bytes (v1), and the .rsvd variant when present.
pub(crate) fn set_hugetlb(dir: &Path, limits: &[LinuxHugepageLimit]) -> Result<(), CgroupError> {
    for l in limits {
        let name = hugetlb_page_size_name(l.page_size())?;
        let value = l.limit().to_string();
        fs::write(&dir.join(format!("hugetlb.{name}.limit_in_bytes")), &value)
            .map_err(|e| crate::v2::unsupported_page_size(e, &name))?;
        match fs::write(
            &dir.join(format!("hugetlb.{name}.rsvd.limit_in_bytes")),
            &value,
        ) {
            Err(e) if e.is_not_found() => {}
            other => other?,
        }
    }
    Ok(())
}

/// devices.allow / devices.deny (v1), rule by rule in order.
pub(crate) fn set_devices(dir: &Path, rules: &[LinuxDeviceCgroup]) -> Result<(), CgroupError> {
    for rule in rules {
        let file = if rule.allow() {
            "devices.allow"
        } else {
            "devices.deny"
        };
        fs::write(&dir.join(file), &device_rule_line(rule))?;
    }
    Ok(())
}

const FROZEN: &str = "FROZEN";
const THAWED: &str = "THAWED";

/// Freezes a v1 freezer cgroup and waits until it reads FROZEN.
///
/// FROZEN is re-written at every look, which also freezes tasks forked
/// after the previous write (a v1 cgroup can miss those and stay in
/// FREEZING). The looks start a few microseconds apart, so a quick freeze
/// costs little, and back off to 10 ms. If the cgroup stays FREEZING for
/// a second it is thawed for 10 ms and frozen again (as runc does, more
/// often, for tasks that keep appearing). After 10 s it is thawed back and
/// an error names the tasks that did not freeze.
///
/// The cgroup stays frozen between looks: a freeze that thawed every few
/// milliseconds could never finish on a loaded host, where a runnable
/// task may wait longer than that for a CPU to reach the refrigerator.
pub(crate) fn freeze(dir: &Path) -> Result<(), CgroupError> {
    let state_file = dir.join("freezer.state");
    let start = Instant::now();
    let deadline = start + Duration::from_secs(10);
    let mut since_thaw = start;
    let mut delay = Duration::from_micros(10);
    loop {
        fs::write(&state_file, FROZEN)?;
        let state = fs::read_trim(&state_file)?;
        match state.as_str() {
            FROZEN => return Ok(()),
            "FREEZING" => {}
            other => {
                let _ = fs::write(&state_file, THAWED);
                return Err(CgroupError::FreezeFailed {
                    path: dir.to_path_buf(),
                    reason: format!("unexpected freezer state {other:?} after writing FROZEN"),
                });
            }
        }
        let now = Instant::now();
        if now > deadline {
            break;
        }
        if now.duration_since(since_thaw) >= Duration::from_secs(1) {
            let _ = fs::write(&state_file, THAWED);
            sleep(Duration::from_millis(10));
            since_thaw = Instant::now();
            delay = Duration::from_micros(10);
            continue;
        }
        sleep(delay);
        delay = (delay * 2).min(Duration::from_millis(10));
    }
    let stuck = not_frozen(dir);
    let _ = fs::write(&state_file, THAWED);
    Err(CgroupError::FreezeFailed {
        path: dir.to_path_buf(),
        reason: format!("timed out: the cgroup stayed FREEZING{stuck}"),
    })
}

/// Names the tasks of a FREEZING cgroup that are not in the refrigerator
/// (up to five: thread id, comm, state letter and wait channel), so that
/// a freeze that times out says what held it up.
fn not_frozen(dir: &Path) -> String {
    let Ok(tasks) = fs::read(&dir.join("tasks")) else {
        return String::new();
    };
    let mut held: Vec<String> = Vec::new();
    let mut more = 0;
    for tid in tasks.split_whitespace() {
        let proc_file = |f: &str| std::fs::read_to_string(format!("/proc/{tid}/{f}"));
        let wchan = proc_file("wchan").unwrap_or_default();
        if wchan.trim() == "__refrigerator" {
            continue;
        }
        if held.len() == 5 {
            more += 1;
            continue;
        }
        // stat: "tid (comm) S ...": comm may hold spaces, the state follows
        // the last ')'.
        let stat = proc_file("stat").unwrap_or_default();
        let comm = stat
            .split_once('(')
            .and_then(|(_, r)| r.rsplit_once(')'))
            .map_or("?", |(c, _)| c);
        let state = stat
            .rsplit_once(')')
            .and_then(|(_, r)| r.split_whitespace().next())
            .unwrap_or("?");
        let wchan = if wchan.trim().is_empty() || wchan.trim() == "0" {
            "running"
        } else {
            wchan.trim()
        };
        held.push(format!("{tid} ({comm}) {state} in {wchan}"));
    }
    if held.is_empty() {
        return String::new();
    }
    let more = if more > 0 {
        format!(" and {more} more")
    } else {
        String::new()
    };
    format!("; not frozen: {}{more}", held.join(", "))
}

/// Thaws a v1 freezer cgroup.
pub(crate) fn thaw(dir: &Path) -> Result<(), CgroupError> {
    fs::write(&dir.join("freezer.state"), THAWED)
}

/// `freezer.state` reads FROZEN.
pub(crate) fn is_frozen(dir: &Path) -> Result<bool, CgroupError> {
    Ok(fs::read_trim(&dir.join("freezer.state"))? == FROZEN)
}
