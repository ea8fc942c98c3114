//! runc-compatible statistics (`runc events --stats` JSON, the `data`
//! object of a `"type":"stats"` event). Field names and `omitempty`
//! behaviour follow runc's `types/events.go`; intel_rdt,
//! network_interfaces and PSI are not reported.

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::driver::{FsCgroup, Target};
use crate::resources::host_hugepage_sizes;
use crate::{fs, CgroupError};

fn is_zero(v: &u64) -> bool {
    *v == 0
}

/// All statistics of a container's cgroup.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct CgroupStats {
    /// CPU usage and throttling.
    pub cpu: CpuStats,
    /// cpuset settings (v1; on v2 only the effective cpus and mems).
    pub cpuset: CpusetStats,
    /// Memory usage.
    pub memory: MemoryStats,
    /// Number of tasks.
    pub pids: PidsStats,
    /// Block I/O.
    pub blkio: BlkioStats,
    /// Huge page usage per page size name (`2MB`, `1GB`).
    pub hugetlb: BTreeMap<String, HugetlbStats>,
}

/// `cpu`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct CpuStats {
    /// Usage in nanoseconds.
    pub usage: CpuUsage,
    /// CFS throttling.
    pub throttling: Throttling,
}

/// `cpu.usage` (nanoseconds).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct CpuUsage {
    /// Total CPU time.
    #[serde(skip_serializing_if = "is_zero")]
    pub total: u64,
    /// Per CPU total (v1 only).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub percpu: Vec<u64>,
    /// Per CPU kernel time (v1 only).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub percpu_kernel: Vec<u64>,
    /// Per CPU user time (v1 only).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub percpu_user: Vec<u64>,
    /// Time in kernel mode.
    pub kernel: u64,
    /// Time in user mode.
    pub user: u64,
}

/// `cpu.throttling`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct Throttling {
    /// Enforcement periods elapsed.
    #[serde(skip_serializing_if = "is_zero")]
    pub periods: u64,
    /// Periods in which the group was throttled.
    #[serde(skip_serializing_if = "is_zero")]
    pub throttled_periods: u64,
    /// Total throttled time in nanoseconds.
    #[serde(skip_serializing_if = "is_zero")]
    pub throttled_time: u64,
}

/// `cpuset` (runc's `CPUSet`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct CpusetStats {
    /// CPUs the cgroup may use.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub cpus: Vec<u16>,
    /// cpuset.cpu_exclusive.
    pub cpu_exclusive: u64,
    /// Memory nodes the cgroup may use.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub mems: Vec<u16>,
    /// cpuset.mem_hardwall.
    pub mem_hardwall: u64,
    /// cpuset.mem_exclusive.
    pub mem_exclusive: u64,
    /// cpuset.memory_migrate.
    pub memory_migrate: u64,
    /// cpuset.memory_spread_page.
    pub memory_spread_page: u64,
    /// cpuset.memory_spread_slab.
    pub memory_spread_slab: u64,
    /// cpuset.memory_pressure.
    pub memory_pressure: u64,
    /// cpuset.sched_load_balance.
    pub sched_load_balance: u64,
    /// cpuset.sched_relax_domain_level (-1: system default).
    pub sched_relax_domain_level: i64,
}

/// A usage/limit quadruple of `memory`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct MemoryEntry {
    /// Limit in bytes (`u64::MAX` when unlimited on v2).
    pub limit: u64,
    /// Current usage.
    #[serde(skip_serializing_if = "is_zero")]
    pub usage: u64,
    /// Peak usage.
    #[serde(skip_serializing_if = "is_zero")]
    pub max: u64,
    /// Times the limit was hit.
    pub failcnt: u64,
}

/// `memory`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct MemoryStats {
    /// Page cache (v1 `cache`, v2 `file`).
    #[serde(skip_serializing_if = "is_zero")]
    pub cache: u64,
    /// Memory.
    pub usage: MemoryEntry,
    /// Memory+swap (v1 memsw semantics, also on v2).
    pub swap: MemoryEntry,
    /// Kernel memory (v1 only).
    pub kernel: MemoryEntry,
    /// Kernel TCP buffers (v1 only).
    #[serde(rename = "kernelTCP")]
    pub kernel_tcp: MemoryEntry,
    /// memory.stat as is.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub raw: BTreeMap<String, u64>,
}

/// `pids`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct PidsStats {
    /// Tasks now.
    #[serde(skip_serializing_if = "is_zero")]
    pub current: u64,
    /// Limit (0 when unlimited).
    #[serde(skip_serializing_if = "is_zero")]
    pub limit: u64,
}

/// One `blkio` entry.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct BlkioEntry {
    /// Device major.
    #[serde(skip_serializing_if = "is_zero")]
    pub major: u64,
    /// Device minor.
    #[serde(skip_serializing_if = "is_zero")]
    pub minor: u64,
    /// `Read`, `Write`, `Sync`, `Async`, `Discard`, `Total`.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub op: String,
    /// Bytes or operations.
    #[serde(skip_serializing_if = "is_zero")]
    pub value: u64,
}

/// `blkio`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct BlkioStats {
    /// Bytes transferred per device and operation.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub io_service_bytes_recursive: Vec<BlkioEntry>,
    /// I/O operations per device and operation.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub io_serviced_recursive: Vec<BlkioEntry>,
}

/// One `hugetlb` entry.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct HugetlbStats {
    /// Bytes in use.
    #[serde(skip_serializing_if = "is_zero")]
    pub usage: u64,
    /// Peak usage (v1 only).
    #[serde(skip_serializing_if = "is_zero")]
    pub max: u64,
    /// Times the limit was hit.
    pub failcnt: u64,
}

/// Parses "key value" lines (memory.stat, cpu.stat, cpuacct.stat,
/// memory.events ...). Lines that do not parse are skipped.
pub fn parse_flat_keyed(content: &str) -> BTreeMap<String, u64> {
    content
        .lines()
        .filter_map(|l| {
            let mut it = l.split_whitespace();
            let k = it.next()?;
            let v = it.next()?.parse().ok()?;
            Some((k.to_owned(), v))
        })
        .collect()
}

/// Parses a whitespace-separated list of numbers (cpuacct.usage_percpu).
pub fn parse_u64_list(content: &str) -> Vec<u64> {
    content
        .split_whitespace()
        .filter_map(|s| s.parse().ok())
        .collect()
}

/// Parses a cpuset list (`0-3,5`) into its members; malformed parts are
/// skipped.
pub fn parse_cpuset_list(content: &str) -> Vec<u16> {
    let mut out = Vec::new();
    for part in content
        .trim()
        .split(',')
        .map(str::trim)
        .filter(|p| !p.is_empty())
    {
        match part.split_once('-') {
            Some((a, b)) => {
                if let (Ok(a), Ok(b)) = (a.parse::<u16>(), b.parse::<u16>()) {
                    out.extend(a..=b);
                }
            }
            None => {
                if let Ok(v) = part.parse() {
                    out.push(v);
                }
            }
        }
    }
    out
}

/// Parses cpuacct.usage_all (`cpu user system` header, then one line per
/// CPU) into (percpu kernel, percpu user).
pub fn parse_cpuacct_usage_all(content: &str) -> (Vec<u64>, Vec<u64>) {
    let mut kernel = Vec::new();
    let mut user = Vec::new();
    for line in content.lines().skip(1) {
        let f: Vec<u64> = parse_u64_list(line);
        if f.len() == 3 {
            user.push(f[1]);
            kernel.push(f[2]);
        }
    }
    (kernel, user)
}

/// Parses a v1 blkio `*_recursive` file (`8:0 Read 4096`); the `Total`
/// summary line without a device is dropped.
pub fn parse_blkio_recursive(content: &str) -> Vec<BlkioEntry> {
    let mut out = Vec::new();
    for line in content.lines() {
        let f: Vec<&str> = line.split_whitespace().collect();
        let [dev, op, value] = f[..] else { continue };
        let Some((maj, min)) = dev.split_once(':') else {
            continue;
        };
        let (Ok(major), Ok(minor), Ok(value)) = (maj.parse(), min.parse(), value.parse()) else {
            continue;
        };
        out.push(BlkioEntry {
            major,
            minor,
            op: op.to_owned(),
            value,
        });
    }
    out
}

/// Parses v2 io.stat (`8:0 rbytes=1 wbytes=2 rios=3 wios=4 dbytes=5 dios=6`)
/// into (service bytes, serviced) entries with v1 op names, as runc does.
pub fn parse_io_stat(content: &str) -> (Vec<BlkioEntry>, Vec<BlkioEntry>) {
    let mut bytes = Vec::new();
    let mut ios = Vec::new();
    for line in content.lines() {
        let mut f = line.split_whitespace();
        let Some((maj, min)) = f.next().and_then(|d| d.split_once(':')) else {
            continue;
        };
        let (Ok(major), Ok(minor)) = (maj.parse(), min.parse()) else {
            continue;
        };
        for item in f {
            let Some((k, v)) = item.split_once('=') else {
                continue;
            };
            let Ok(value) = v.parse() else { continue };
            let (table, op) = match k {
                "rbytes" => (&mut bytes, "Read"),
                "wbytes" => (&mut bytes, "Write"),
                "dbytes" => (&mut bytes, "Discard"),
                "rios" => (&mut ios, "Read"),
                "wios" => (&mut ios, "Write"),
                "dios" => (&mut ios, "Discard"),
                _ => continue,
            };
            table.push(BlkioEntry {
                major,
                minor,
                op: op.to_owned(),
                value,
            });
        }
    }
    (bytes, ios)
}

fn opt_u64(dir: &Path, file: &str) -> Result<u64, CgroupError> {
    Ok(fs::read_u64_opt(&dir.join(file))?.unwrap_or(0))
}

fn opt_keyed(dir: &Path, file: &str) -> Result<BTreeMap<String, u64>, CgroupError> {
    Ok(fs::read_opt(&dir.join(file))?
        .map(|s| parse_flat_keyed(&s))
        .unwrap_or_default())
}

fn opt_string(dir: &Path, file: &str) -> Result<String, CgroupError> {
    Ok(fs::read_opt(&dir.join(file))?.unwrap_or_default())
}

/// cgroup v1 cpuacct.stat is in USER_HZ ticks; runc assumes 100 Hz.
const NANOS_PER_TICK: u64 = 1_000_000_000 / 100;

fn v1_memory_entry(dir: &Path, prefix: &str) -> Result<MemoryEntry, CgroupError> {
    Ok(MemoryEntry {
        usage: opt_u64(dir, &format!("{prefix}.usage_in_bytes"))?,
        max: opt_u64(dir, &format!("{prefix}.max_usage_in_bytes"))?,
        failcnt: opt_u64(dir, &format!("{prefix}.failcnt"))?,
        limit: opt_u64(dir, &format!("{prefix}.limit_in_bytes"))?,
    })
}

fn cpu_stats(cg: &FsCgroup, s: &mut CgroupStats) -> Result<(), CgroupError> {
    let usage = &mut s.cpu.usage;
    match cg.target("cpuacct") {
        Ok(Target::V1(dir)) => {
            usage.total = opt_u64(dir, "cpuacct.usage")?;
            usage.percpu = parse_u64_list(&opt_string(dir, "cpuacct.usage_percpu")?);
            let (k, u) = parse_cpuacct_usage_all(&opt_string(dir, "cpuacct.usage_all")?);
            usage.percpu_kernel = k;
            usage.percpu_user = u;
            let st = opt_keyed(dir, "cpuacct.stat")?;
            usage.user = st.get("user").copied().unwrap_or(0) * NANOS_PER_TICK;
            usage.kernel = st.get("system").copied().unwrap_or(0) * NANOS_PER_TICK;
        }
        Ok(Target::V2(dir)) => {
            let st = opt_keyed(dir, "cpu.stat")?;
            let us = |k: &str| st.get(k).copied().unwrap_or(0) * 1000;
            usage.total = us("usage_usec");
            usage.user = us("user_usec");
            usage.kernel = us("system_usec");
            s.cpu.throttling = Throttling {
                periods: st.get("nr_periods").copied().unwrap_or(0),
                throttled_periods: st.get("nr_throttled").copied().unwrap_or(0),
                throttled_time: us("throttled_usec"),
            };
        }
        Err(_) => {}
    }
    if let Ok(Target::V1(dir)) = cg.target("cpu") {
        let st = opt_keyed(dir, "cpu.stat")?;
        s.cpu.throttling = Throttling {
            periods: st.get("nr_periods").copied().unwrap_or(0),
            throttled_periods: st.get("nr_throttled").copied().unwrap_or(0),
            throttled_time: st.get("throttled_time").copied().unwrap_or(0),
        };
    }
    Ok(())
}

fn cpuset_stats(cg: &FsCgroup, s: &mut CgroupStats) -> Result<(), CgroupError> {
    let c = &mut s.cpuset;
    match cg.target("cpuset") {
        Ok(Target::V1(dir)) => {
            c.cpus = parse_cpuset_list(&opt_string(dir, "cpuset.cpus")?);
            c.mems = parse_cpuset_list(&opt_string(dir, "cpuset.mems")?);
            c.cpu_exclusive = opt_u64(dir, "cpuset.cpu_exclusive")?;
            c.mem_hardwall = opt_u64(dir, "cpuset.mem_hardwall")?;
            c.mem_exclusive = opt_u64(dir, "cpuset.mem_exclusive")?;
            c.memory_migrate = opt_u64(dir, "cpuset.memory_migrate")?;
            c.memory_spread_page = opt_u64(dir, "cpuset.memory_spread_page")?;
            c.memory_spread_slab = opt_u64(dir, "cpuset.memory_spread_slab")?;
            c.memory_pressure = opt_u64(dir, "cpuset.memory_pressure")?;
            c.sched_load_balance = opt_u64(dir, "cpuset.sched_load_balance")?;
            let level = opt_string(dir, "cpuset.sched_relax_domain_level")?;
            c.sched_relax_domain_level = level.trim().parse().unwrap_or(0);
        }
        Ok(Target::V2(dir)) => {
            c.cpus = parse_cpuset_list(&opt_string(dir, "cpuset.cpus.effective")?);
            c.mems = parse_cpuset_list(&opt_string(dir, "cpuset.mems.effective")?);
        }
        Err(_) => {}
    }
    Ok(())
}

fn memory_stats(cg: &FsCgroup, s: &mut CgroupStats) -> Result<(), CgroupError> {
    let m = &mut s.memory;
    match cg.target("memory") {
        Ok(Target::V1(dir)) => {
            m.raw = opt_keyed(dir, "memory.stat")?;
            m.cache = m.raw.get("cache").copied().unwrap_or(0);
            m.usage = v1_memory_entry(dir, "memory")?;
            m.swap = v1_memory_entry(dir, "memory.memsw")?;
            m.kernel = v1_memory_entry(dir, "memory.kmem")?;
            m.kernel_tcp = v1_memory_entry(dir, "memory.kmem.tcp")?;
        }
        Ok(Target::V2(dir)) => {
            m.raw = opt_keyed(dir, "memory.stat")?;
            m.cache = m.raw.get("file").copied().unwrap_or(0);
            let events = opt_keyed(dir, "memory.events")?;
            m.usage = MemoryEntry {
                usage: opt_u64(dir, "memory.current")?,
                max: opt_u64(dir, "memory.peak")?,
                limit: opt_u64(dir, "memory.max")?,
                failcnt: events.get("max").copied().unwrap_or(0),
            };
            // v1 reports memory+swap: do the same (runc).
            let swap_events = opt_keyed(dir, "memory.swap.events")?;
            let swap_limit = opt_u64(dir, "memory.swap.max")?;
            m.swap = MemoryEntry {
                usage: opt_u64(dir, "memory.swap.current")?.saturating_add(m.usage.usage),
                max: opt_u64(dir, "memory.swap.peak")?,
                limit: if swap_limit == u64::MAX {
                    u64::MAX
                } else {
                    swap_limit.saturating_add(m.usage.limit)
                },
                failcnt: swap_events.get("max").copied().unwrap_or(0),
            };
        }
        Err(_) => {}
    }
    Ok(())
}

fn pids_stats(cg: &FsCgroup, s: &mut CgroupStats) -> Result<(), CgroupError> {
    if let Ok(Target::V1(dir) | Target::V2(dir)) = cg.target("pids") {
        s.pids.current = opt_u64(dir, "pids.current")?;
        let limit = opt_u64(dir, "pids.max")?;
        s.pids.limit = if limit == u64::MAX { 0 } else { limit };
    }
    Ok(())
}

fn blkio_stats(cg: &FsCgroup, s: &mut CgroupStats) -> Result<(), CgroupError> {
    match cg.target("blkio") {
        Ok(Target::V1(dir)) => {
            // CFQ (old kernels), then BFQ, then the throttle policy's counters.
            for prefix in ["blkio", "blkio.bfq", "blkio.throttle"] {
                let bytes = parse_blkio_recursive(&opt_string(
                    dir,
                    &format!("{prefix}.io_service_bytes_recursive"),
                )?);
                let ios = parse_blkio_recursive(&opt_string(
                    dir,
                    &format!("{prefix}.io_serviced_recursive"),
                )?);
                if !bytes.is_empty() || !ios.is_empty() || prefix == "blkio.throttle" {
                    s.blkio.io_service_bytes_recursive = bytes;
                    s.blkio.io_serviced_recursive = ios;
                    break;
                }
            }
        }
        Ok(Target::V2(dir)) => {
            let (bytes, ios) = parse_io_stat(&opt_string(dir, "io.stat")?);
            s.blkio.io_service_bytes_recursive = bytes;
            s.blkio.io_serviced_recursive = ios;
        }
        Err(_) => {}
    }
    Ok(())
}

fn hugetlb_stats(cg: &FsCgroup, s: &mut CgroupStats) -> Result<(), CgroupError> {
    let target = match cg.target("hugetlb") {
        Ok(t) => t,
        Err(_) => return Ok(()),
    };
    for size in host_hugepage_sizes() {
        let entry = match target {
            Target::V1(dir) => HugetlbStats {
                usage: opt_u64(dir, &format!("hugetlb.{size}.usage_in_bytes"))?,
                max: opt_u64(dir, &format!("hugetlb.{size}.max_usage_in_bytes"))?,
                failcnt: opt_u64(dir, &format!("hugetlb.{size}.failcnt"))?,
            },
            Target::V2(dir) => {
                let current = fs::read_u64_opt(&dir.join(format!("hugetlb.{size}.current")))?;
                let Some(usage) = current else {
                    // controller not enabled here
                    continue;
                };
                let events = opt_keyed(dir, &format!("hugetlb.{size}.events"))?;
                HugetlbStats {
                    usage,
                    max: 0,
                    failcnt: events.get("max").copied().unwrap_or(0),
                }
            }
        };
        s.hugetlb.insert(size, entry);
    }
    Ok(())
}

/// Gathers the statistics of every mounted controller. Missing files
/// (controller not mounted or not enabled) leave their fields at zero.
pub(crate) fn collect(cg: &FsCgroup) -> Result<CgroupStats, CgroupError> {
    let mut s = CgroupStats::default();
    cpu_stats(cg, &mut s)?;
    cpuset_stats(cg, &mut s)?;
    memory_stats(cg, &mut s)?;
    pids_stats(cg, &mut s)?;
    blkio_stats(cg, &mut s)?;
    hugetlb_stats(cg, &mut s)?;
    Ok(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_keyed_and_lists() {
        let m = parse_flat_keyed("cache 4096\nrss 8192\nbad\nx y\n");
        assert_eq!(m.len(), 2);
        assert_eq!(m["cache"], 4096);
        assert_eq!(parse_u64_list("1 2 3 \n"), vec![1, 2, 3]);
        let (k, u) = parse_cpuacct_usage_all("cpu user system\n0 100 10\n1 200 20\n");
        assert_eq!(k, vec![10, 20]);
        assert_eq!(u, vec![100, 200]);
    }

    #[test]
    fn parses_cpuset_lists() {
        assert_eq!(parse_cpuset_list("0-3,5\n"), vec![0, 1, 2, 3, 5]);
        assert_eq!(parse_cpuset_list("0"), vec![0]);
        assert!(parse_cpuset_list("\n").is_empty());
        assert_eq!(parse_cpuset_list("x,2"), vec![2]);
    }

    #[test]
    fn parses_blkio() {
        let v1 = parse_blkio_recursive("8:0 Read 4096\n8:0 Write 0\n8:0 Total 4096\nTotal 4096\n");
        assert_eq!(v1.len(), 3);
        assert_eq!(
            v1[0],
            BlkioEntry {
                major: 8,
                minor: 0,
                op: "Read".into(),
                value: 4096
            }
        );
        let (b, i) = parse_io_stat("254:0 rbytes=10 wbytes=20 rios=1 wios=2 dbytes=0 dios=0\n");
        assert_eq!(b.len(), 3);
        assert_eq!(b[1].op, "Write");
        assert_eq!(b[1].value, 20);
        assert_eq!(i[0].value, 1);
        assert_eq!(i[0].major, 254);
    }

    #[test]
    fn json_matches_runc_field_names() {
        let mut s = CgroupStats::default();
        s.cpu.usage.total = 5;
        s.cpu.usage.percpu = vec![2, 3];
        s.cpu.throttling.throttled_periods = 1;
        s.memory.usage.limit = 10;
        s.memory.raw.insert("cache".into(), 1);
        s.pids.current = 2;
        s.hugetlb.insert(
            "2MB".into(),
            HugetlbStats {
                usage: 0,
                max: 0,
                failcnt: 0,
            },
        );
        let v = serde_json::to_value(&s).expect("json");
        assert_eq!(v["cpu"]["usage"]["total"], 5);
        assert_eq!(v["cpu"]["usage"]["percpu"][1], 3);
        assert_eq!(v["cpu"]["usage"]["kernel"], 0);
        assert!(v["cpu"]["usage"].get("percpu_kernel").is_none());
        assert_eq!(v["cpu"]["throttling"]["throttledPeriods"], 1);
        assert_eq!(v["memory"]["usage"]["limit"], 10);
        assert_eq!(v["memory"]["usage"]["failcnt"], 0);
        assert!(v["memory"]["usage"].get("usage").is_none());
        assert!(v["memory"].get("kernelTCP").is_some());
        assert_eq!(v["memory"]["raw"]["cache"], 1);
        assert_eq!(v["pids"]["current"], 2);
        assert!(v["pids"].get("limit").is_none());
        assert_eq!(v["hugetlb"]["2MB"]["failcnt"], 0);
        assert!(v["blkio"].as_object().is_some_and(|o| o.is_empty()));
        assert!(v["cpuset"].get("cpus").is_none());
        assert_eq!(v["cpuset"]["sched_relax_domain_level"], 0);
        let back: CgroupStats = serde_json::from_value(v).expect("back");
        assert_eq!(back, s);
    }
}
