//! `update`: changes the resource limits of a live container.
//!
//! As in runc 1.1.5 only these settings are updated (everything else in the
//! resources document — devices, hugepage limits, blkio throttles, network,
//! rdma, swappiness, disableOOMKiller — is ignored):
//! `memory.{limit,reservation,swap}`, `cpu.{shares,quota,period,
//! realtimeRuntime,realtimePeriod,cpus,mems,idle}`, `blockIO.weight`,
//! `pids.limit` and `unified`. A zero (or empty) value means "unchanged".
//! `memory.kernel`/`kernelTCP` are accepted and ignored with a warning.
//!
//! Unlike runc, where the flags are ignored once `--resources` is given,
//! the flags are applied on top of the document.

use std::num::IntErrorKind;

use cryo_oci::Status;
use oci_spec::runtime::{LinuxBlockIo, LinuxCpu, LinuxMemory, LinuxPids, LinuxResources};

use crate::error::{ContainerError, Result};
use crate::store::Store;

/// runc's warning when kernel memory limits are given.
pub const KERNEL_MEMORY_WARNING: &str = "Kernel memory settings are ignored and will be removed";

/// What `update` was asked to do: the resources document and the flags, as
/// given on the command line (values are parsed here, with runc's errors).
#[derive(Debug, Default, Clone)]
pub struct UpdateRequest {
    /// The `--resources` document (OCI `LinuxResources` JSON).
    pub resources: Option<Vec<u8>>,
    pub blkio_weight: Option<u16>,
    pub cpu_period: Option<String>,
    pub cpu_quota: Option<String>,
    pub cpu_shares: Option<String>,
    pub cpu_rt_period: Option<String>,
    pub cpu_rt_runtime: Option<String>,
    pub cpuset_cpus: Option<String>,
    pub cpuset_mems: Option<String>,
    pub kernel_memory: Option<String>,
    pub kernel_memory_tcp: Option<String>,
    pub memory: Option<String>,
    pub memory_reservation: Option<String>,
    pub memory_swap: Option<String>,
    pub pids_limit: Option<i64>,
    pub l3_cache_schema: Option<String>,
    pub mem_bw_schema: Option<String>,
}

/// Parses a size the way runc's flags do (docker/go-units `RAMInBytes`):
/// a decimal number, an optional space, then an optional binary unit
/// `k`/`m`/`g`/`t`/`p` (any case) optionally followed by `i` and/or `b`:
/// `64m`, `1.5g`, `64 MiB`, `100`, `64KB`.
pub fn ram_in_bytes(s: &str) -> std::result::Result<i64, String> {
    let invalid = || format!("invalid size: '{s}'");
    let b = s.as_bytes();
    let mut i = 0;
    let digits = |i: &mut usize| {
        let start = *i;
        while *i < b.len() && b[*i].is_ascii_digit() {
            *i += 1;
        }
        *i > start
    };
    if !digits(&mut i) {
        return Err(invalid());
    }
    while i < b.len() && b[i] == b'.' {
        i += 1;
        if !digits(&mut i) {
            return Err(invalid());
        }
    }
    let number = &s[..i];
    if i < b.len() && b[i] == b' ' {
        i += 1;
    }
    let mut mult: f64 = 1.0;
    if let Some(u) = b.get(i).map(u8::to_ascii_lowercase) {
        let exp = match u {
            b'k' => Some(1),
            b'm' => Some(2),
            b'g' => Some(3),
            b't' => Some(4),
            b'p' => Some(5),
            _ => None,
        };
        if let Some(e) = exp {
            mult = 1024f64.powi(e);
            i += 1;
        }
    }
    if b.get(i).is_some_and(|c| c.eq_ignore_ascii_case(&b'i')) {
        i += 1;
    }
    if b.get(i).is_some_and(|c| c.eq_ignore_ascii_case(&b'b')) {
        i += 1;
    }
    if i != b.len() {
        return Err(invalid());
    }
    let value: f64 = number
        .parse()
        .map_err(|_| format!("strconv.ParseFloat: parsing {number:?}: invalid syntax"))?;
    // Go's int64(float64) truncates; saturate instead of wrapping.
    Ok((value * mult) as i64)
}

fn go_int_error(value: &str, unsigned: bool, e: &std::num::ParseIntError) -> String {
    let func = if unsigned { "ParseUint" } else { "ParseInt" };
    let why = match e.kind() {
        IntErrorKind::PosOverflow | IntErrorKind::NegOverflow => "value out of range",
        _ => "invalid syntax",
    };
    format!("strconv.{func}: parsing {value:?}: {why}")
}

fn flag_error(flag: &str, reason: String) -> ContainerError {
    ContainerError::InvalidFlag {
        flag: flag.to_string(),
        reason,
    }
}

/// A flag's value, `None` when not given or empty (runc treats "" as unset).
fn given(v: &Option<String>) -> Option<&str> {
    v.as_deref().filter(|s| !s.is_empty())
}

fn parse_u64_flag(flag: &str, v: &Option<String>) -> Result<Option<u64>> {
    given(v)
        .map(|s| {
            s.parse()
                .map_err(|e| flag_error(flag, go_int_error(s, true, &e)))
        })
        .transpose()
}

fn parse_i64_flag(flag: &str, v: &Option<String>) -> Result<Option<i64>> {
    given(v)
        .map(|s| {
            s.parse()
                .map_err(|e| flag_error(flag, go_int_error(s, false, &e)))
        })
        .transpose()
}

fn parse_size_flag(flag: &str, v: &Option<String>) -> Result<Option<i64>> {
    given(v)
        .map(|s| {
            if s == "-1" {
                Ok(-1)
            } else {
                ram_in_bytes(s).map_err(|r| flag_error(flag, r))
            }
        })
        .transpose()
}

/// The resources an update asks for: the document, then the flags on top.
/// Returns them with the warnings to print.
pub fn requested_resources(req: &UpdateRequest) -> Result<(LinuxResources, Vec<String>)> {
    let mut r: LinuxResources = match &req.resources {
        Some(bytes) => serde_json::from_slice(bytes)
            .map_err(|e| ContainerError::ResourcesJson(e.to_string()))?,
        None => LinuxResources::default(),
    };
    let mut mem = r.memory().unwrap_or_default();
    let size_flags = [
        ("memory", &req.memory),
        ("memory-swap", &req.memory_swap),
        ("kernel-memory", &req.kernel_memory),
        ("kernel-memory-tcp", &req.kernel_memory_tcp),
        ("memory-reservation", &req.memory_reservation),
    ];
    for (flag, value) in size_flags {
        if let Some(v) = parse_size_flag(flag, value)? {
            match flag {
                "memory" => mem.set_limit(Some(v)),
                "memory-swap" => mem.set_swap(Some(v)),
                "kernel-memory" => mem.set_kernel(Some(v)),
                "kernel-memory-tcp" => mem.set_kernel_tcp(Some(v)),
                _ => mem.set_reservation(Some(v)),
            };
        }
    }
    let mut cpu = r.cpu().clone().unwrap_or_default();
    if let Some(v) = parse_u64_flag("cpu-period", &req.cpu_period)? {
        cpu.set_period(Some(v));
    }
    if let Some(v) = parse_u64_flag("cpu-rt-period", &req.cpu_rt_period)? {
        cpu.set_realtime_period(Some(v));
    }
    if let Some(v) = parse_u64_flag("cpu-share", &req.cpu_shares)? {
        cpu.set_shares(Some(v));
    }
    if let Some(v) = parse_i64_flag("cpu-quota", &req.cpu_quota)? {
        cpu.set_quota(Some(v));
    }
    if let Some(v) = parse_i64_flag("cpu-rt-runtime", &req.cpu_rt_runtime)? {
        cpu.set_realtime_runtime(Some(v));
    }
    if let Some(v) = given(&req.cpuset_cpus) {
        cpu.set_cpus(Some(v.to_string()));
    }
    if let Some(v) = given(&req.cpuset_mems) {
        cpu.set_mems(Some(v.to_string()));
    }
    if let Some(w) = req.blkio_weight.filter(|w| *w != 0) {
        let mut b = r.block_io().clone().unwrap_or_default();
        b.set_weight(Some(w));
        r.set_block_io(Some(b));
    }
    if let Some(limit) = req.pids_limit.filter(|l| *l != 0) {
        let mut p = LinuxPids::default();
        p.set_limit(limit);
        r.set_pids(Some(p));
    }
    let mut warnings = Vec::new();
    if mem.kernel().is_some_and(|v| v != 0) || mem.kernel_tcp().is_some_and(|v| v != 0) {
        warnings.push(KERNEL_MEMORY_WARNING.to_string());
    }
    r.set_memory(Some(mem));
    r.set_cpu(Some(cpu));
    Ok((r, warnings))
}

fn nonzero_i64(v: Option<i64>) -> Option<i64> {
    v.filter(|v| *v != 0)
}

fn nonzero_u64(v: Option<u64>) -> Option<u64> {
    v.filter(|v| *v != 0)
}

fn nonempty(v: &Option<String>) -> Option<String> {
    v.clone().filter(|s| !s.is_empty())
}

/// The part of `r` that `update` acts on (see the module doc), with the
/// unset (zero, empty) values dropped. `None` parts are left as they are.
pub fn updatable(r: &LinuxResources) -> LinuxResources {
    let mut out = LinuxResources::default();
    if let Some(m) = r.memory() {
        let mut n = LinuxMemory::default();
        n.set_limit(nonzero_i64(m.limit()));
        n.set_reservation(nonzero_i64(m.reservation()));
        n.set_swap(nonzero_i64(m.swap()));
        if n != LinuxMemory::default() {
            out.set_memory(Some(n));
        }
    }
    if let Some(c) = r.cpu() {
        let mut n = LinuxCpu::default();
        n.set_shares(nonzero_u64(c.shares()));
        n.set_quota(nonzero_i64(c.quota()));
        n.set_period(nonzero_u64(c.period()));
        n.set_realtime_runtime(nonzero_i64(c.realtime_runtime()));
        n.set_realtime_period(nonzero_u64(c.realtime_period()));
        n.set_cpus(nonempty(c.cpus()));
        n.set_mems(nonempty(c.mems()));
        n.set_idle(c.idle());
        if n != LinuxCpu::default() {
            out.set_cpu(Some(n));
        }
    }
    if let Some(w) = r
        .block_io()
        .as_ref()
        .and_then(|b| b.weight())
        .filter(|w| *w != 0)
    {
        let mut n = LinuxBlockIo::default();
        n.set_weight(Some(w));
        out.set_block_io(Some(n));
    }
    if let Some(p) = r.pids().filter(|p| p.limit() != 0) {
        out.set_pids(Some(p));
    }
    if let Some(u) = r.unified().as_ref().filter(|u| !u.is_empty()) {
        out.set_unified(Some(u.clone()));
    }
    out
}

/// `stored` with the set values of `update` (an [`updatable`] result)
/// written over it: what the container's record keeps.
pub fn merged(stored: &LinuxResources, update: &LinuxResources) -> LinuxResources {
    let mut out = stored.clone();
    if let Some(u) = update.memory() {
        let mut m = out.memory().unwrap_or_default();
        if u.limit().is_some() {
            m.set_limit(u.limit());
        }
        if u.reservation().is_some() {
            m.set_reservation(u.reservation());
        }
        if u.swap().is_some() {
            m.set_swap(u.swap());
        }
        out.set_memory(Some(m));
    }
    if let Some(u) = update.cpu() {
        let mut c = out.cpu().clone().unwrap_or_default();
        if u.shares().is_some() {
            c.set_shares(u.shares());
        }
        if u.quota().is_some() {
            c.set_quota(u.quota());
        }
        if u.period().is_some() {
            c.set_period(u.period());
        }
        if u.realtime_runtime().is_some() {
            c.set_realtime_runtime(u.realtime_runtime());
        }
        if u.realtime_period().is_some() {
            c.set_realtime_period(u.realtime_period());
        }
        if u.cpus().is_some() {
            c.set_cpus(u.cpus().clone());
        }
        if u.mems().is_some() {
            c.set_mems(u.mems().clone());
        }
        if u.idle().is_some() {
            c.set_idle(u.idle());
        }
        out.set_cpu(Some(c));
    }
    if let Some(w) = update.block_io().as_ref().and_then(|b| b.weight()) {
        let mut b = out.block_io().clone().unwrap_or_default();
        b.set_weight(Some(w));
        out.set_block_io(Some(b));
    }
    if let Some(p) = update.pids() {
        out.set_pids(Some(*p));
    }
    if let Some(u) = update.unified() {
        let mut all = out.unified().clone().unwrap_or_default();
        all.extend(u.iter().map(|(k, v)| (k.clone(), v.clone())));
        out.set_unified(Some(all));
    }
    out
}

/// Applies `req` to the container's cgroup and records the new values in
/// its state (so later verbs see them). Returns the warnings to print.
///
/// Errors, in runc's order: an unknown container; an unparsable document or
/// flag value; Intel RDT schemas (not supported; nothing is changed); a
/// stopped container ("container not running").
pub fn update(store: &Store, id: &str, req: &UpdateRequest) -> Result<Vec<String>> {
    let locked = store.lock(id)?;
    let mut rec = locked.load()?;
    let (requested, warnings) = requested_resources(req)?;
    if given(&req.l3_cache_schema).is_some() {
        return Err(ContainerError::IntelRdt(
            "Intel RDT/CAT: l3 cache schema is not enabled",
        ));
    }
    if given(&req.mem_bw_schema).is_some() {
        return Err(ContainerError::IntelRdt(
            "Intel RDT/MBA: memory bandwidth schema is not enabled",
        ));
    }
    if rec.status() == Status::Stopped {
        return Err(ContainerError::NotRunning);
    }
    let stored = rec
        .config
        .linux()
        .as_ref()
        .and_then(|l| l.resources().clone())
        .unwrap_or_default();
    let mut apply = updatable(&requested);
    // A swap limit alone is relative to the memory limit already in force
    // (v1 write order, v2 memory.swap.max = swap - memory).
    if let Some(m) = apply.memory_mut() {
        if m.swap().is_some() && m.limit().is_none() {
            m.set_limit(stored.memory().and_then(|s| nonzero_i64(s.limit())));
        }
    }
    cryo_cgroups::from_paths(rec.cgroup_paths.clone())?.apply(&apply)?;
    let new = merged(&stored, &apply);
    let mut linux = rec.config.linux().clone().unwrap_or_default();
    linux.set_resources(Some(new));
    rec.config.set_linux(Some(linux));
    locked.save(&rec)?;
    Ok(warnings)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_parse_like_go_units() {
        assert_eq!(ram_in_bytes("64m"), Ok(64 << 20));
        assert_eq!(ram_in_bytes("1g"), Ok(1 << 30));
        assert_eq!(ram_in_bytes("1.5g"), Ok(1_610_612_736));
        assert_eq!(ram_in_bytes("64 MiB"), Ok(64 << 20));
        assert_eq!(ram_in_bytes("64MB"), Ok(64 << 20));
        assert_eq!(ram_in_bytes("64kib"), Ok(65536));
        assert_eq!(ram_in_bytes("100"), Ok(100));
        assert_eq!(ram_in_bytes("100b"), Ok(100));
        assert_eq!(ram_in_bytes("1P"), Ok(1 << 50));
        assert_eq!(ram_in_bytes("64x"), Err("invalid size: '64x'".into()));
        assert_eq!(ram_in_bytes("-5"), Err("invalid size: '-5'".into()));
        assert_eq!(ram_in_bytes("abc"), Err("invalid size: 'abc'".into()));
        assert_eq!(ram_in_bytes(""), Err("invalid size: ''".into()));
        assert!(ram_in_bytes("1.2.3").is_err());
    }

    #[test]
    fn flags_go_over_the_document() {
        let req = UpdateRequest {
            resources: Some(br#"{"memory":{"limit":1048576},"pids":{"limit":20}}"#.to_vec()),
            memory: Some("64m".into()),
            cpu_shares: Some("512".into()),
            cpuset_cpus: Some("0".into()),
            ..Default::default()
        };
        let (r, warnings) = requested_resources(&req).expect("parse");
        assert!(warnings.is_empty());
        assert_eq!(r.memory().and_then(|m| m.limit()), Some(64 << 20));
        assert_eq!(r.pids().map(|p| p.limit()), Some(20));
        assert_eq!(r.cpu().as_ref().and_then(|c| c.shares()), Some(512));

        let bad = UpdateRequest {
            cpu_shares: Some("abc".into()),
            ..Default::default()
        };
        assert_eq!(
            requested_resources(&bad).expect_err("bad").to_string(),
            "invalid value for cpu-share: strconv.ParseUint: parsing \"abc\": invalid syntax"
        );
        let bad = UpdateRequest {
            memory: Some("64x".into()),
            ..Default::default()
        };
        assert_eq!(
            requested_resources(&bad).expect_err("bad").to_string(),
            "invalid value for memory: invalid size: '64x'"
        );
        let kmem = UpdateRequest {
            kernel_memory: Some("10m".into()),
            ..Default::default()
        };
        let (_, warnings) = requested_resources(&kmem).expect("parse");
        assert_eq!(warnings, [KERNEL_MEMORY_WARNING]);
        let bad = UpdateRequest {
            resources: Some(b"{\"pids\":{\"limit\":20}".to_vec()),
            ..Default::default()
        };
        assert!(matches!(
            requested_resources(&bad),
            Err(ContainerError::ResourcesJson(_))
        ));
    }

    #[test]
    fn zero_means_unchanged_and_merge_keeps_the_rest() {
        let stored: LinuxResources = serde_json::from_str(
            r#"{"memory":{"limit":1000,"swap":2000},"cpu":{"shares":100,"cpus":"0"},
                "pids":{"limit":5},"devices":[{"allow":false,"access":"rwm"}]}"#,
        )
        .expect("stored");
        let req: LinuxResources = serde_json::from_str(
            r#"{"memory":{"limit":0,"reservation":500},"cpu":{"shares":0,"quota":2000,"cpus":""},
                "pids":{"limit":0},"blockIO":{"weight":300},
                "devices":[{"allow":true,"access":"rwm"}],"hugepageLimits":[{"pageSize":"2MB","limit":1}]}"#,
        )
        .expect("req");
        let u = updatable(&req);
        assert!(u.devices().is_none() && u.hugepage_limits().is_none());
        assert!(u.pids().is_none());
        let m = u.memory().expect("memory");
        assert_eq!(
            (m.limit(), m.reservation(), m.swap()),
            (None, Some(500), None)
        );
        let c = u.cpu().as_ref().expect("cpu");
        assert_eq!(
            (c.shares(), c.quota(), c.cpus().as_deref()),
            (None, Some(2000), None)
        );
        let n = merged(&stored, &u);
        let m = n.memory().expect("memory");
        assert_eq!(
            (m.limit(), m.reservation(), m.swap()),
            (Some(1000), Some(500), Some(2000))
        );
        let c = n.cpu().as_ref().expect("cpu");
        assert_eq!(
            (c.shares(), c.quota(), c.cpus().as_deref()),
            (Some(100), Some(2000), Some("0"))
        );
        assert_eq!(n.pids().map(|p| p.limit()), Some(5));
        assert_eq!(n.block_io().as_ref().and_then(|b| b.weight()), Some(300));
        assert_eq!(n.devices().as_ref().map(Vec::len), Some(1));
    }
}
