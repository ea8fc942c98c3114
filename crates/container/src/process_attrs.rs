//! Process attributes beyond credentials: personality, I/O priority,
//! scheduler and CPU affinity, translated from the spec to the syscalls.

use oci_spec::runtime::{
    IOPriorityClass, LinuxPersonality, LinuxPersonalityDomain, LinuxSchedulerFlag,
    LinuxSchedulerPolicy, Process,
};

use crate::rootfs::InitResult;

/// Parses a CPU list like `0-3,7`.
pub fn parse_cpu_list(s: &str) -> Result<Vec<usize>, String> {
    let mut out = Vec::new();
    for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let bad = || format!("invalid CPU list {s:?}");
        match part.split_once('-') {
            Some((a, b)) => {
                let (a, b): (usize, usize) =
                    (a.parse().map_err(|_| bad())?, b.parse().map_err(|_| bad())?);
                if a > b || b >= 1024 {
                    return Err(bad());
                }
                out.extend(a..=b);
            }
            None => {
                let c: usize = part.parse().map_err(|_| bad())?;
                if c >= 1024 {
                    return Err(bad());
                }
                out.push(c);
            }
        }
    }
    if out.is_empty() {
        return Err(format!("empty CPU list {s:?}"));
    }
    Ok(out)
}

pub fn apply_personality(p: Option<&LinuxPersonality>) -> InitResult<()> {
    let Some(p) = p else { return Ok(()) };
    if p.flags().as_ref().is_some_and(|f| !f.is_empty()) {
        return Err("linux.personality.flags are not supported by cryo".into());
    }
    let persona = match p.domain() {
        LinuxPersonalityDomain::PerLinux => 0,
        LinuxPersonalityDomain::PerLinux32 => 0x0008,
    };
    cryo_sys::process::set_personality(persona)
        .map_err(|e| format!("personality: {}", crate::error::errno_text(e)))
}

/// ioPriority and scheduler of `process`, applied to the calling process.
pub fn apply_priorities(process: &Process) -> InitResult<()> {
    if let Some(io) = process.io_priority() {
        let class = match io.class() {
            IOPriorityClass::IoprioClassRt => 1,
            IOPriorityClass::IoprioClassBe => 2,
            IOPriorityClass::IoprioClassIdle => 3,
        };
        if !(0..=7).contains(&io.priority()) {
            return Err(format!(
                "ioPriority.priority {} is out of range 0-7",
                io.priority()
            ));
        }
        cryo_sys::process::set_io_priority(class, io.priority() as u32)
            .map_err(|e| format!("ioprio_set: {}", crate::error::errno_text(e)))?;
    }
    if let Some(s) = process.scheduler() {
        let policy = match s.policy() {
            LinuxSchedulerPolicy::SchedOther => 0,
            LinuxSchedulerPolicy::SchedFifo => 1,
            LinuxSchedulerPolicy::SchedRr => 2,
            LinuxSchedulerPolicy::SchedBatch => 3,
            LinuxSchedulerPolicy::SchedIso => 4,
            LinuxSchedulerPolicy::SchedIdle => 5,
            LinuxSchedulerPolicy::SchedDeadline => 6,
        };
        let mut flags = 0u64;
        for f in s.flags().iter().flatten() {
            flags |= match f {
                LinuxSchedulerFlag::SchedResetOnFork => 0x01,
                LinuxSchedulerFlag::SchedFlagReclaim => 0x02,
                LinuxSchedulerFlag::SchedFlagDLOverrun => 0x04,
                LinuxSchedulerFlag::SchedFlagKeepPolicy => 0x08,
                LinuxSchedulerFlag::SchedFlagKeepParams => 0x10,
                LinuxSchedulerFlag::SchedFlagUtilClampMin => 0x20,
                LinuxSchedulerFlag::SchedFlagUtilClampMax => 0x40,
            };
        }
        let attr = cryo_sys::process::SchedAttr {
            policy,
            flags,
            nice: s.nice().unwrap_or(0),
            priority: s.priority().unwrap_or(0).max(0) as u32,
            runtime: s.runtime().unwrap_or(0),
            deadline: s.deadline().unwrap_or(0),
            period: s.period().unwrap_or(0),
            ..Default::default()
        };
        cryo_sys::process::set_scheduler(attr)
            .map_err(|e| format!("sched_setattr: {}", crate::error::errno_text(e)))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::parse_cpu_list;

    #[test]
    fn cpu_lists() {
        assert_eq!(parse_cpu_list("0-3,7"), Ok(vec![0, 1, 2, 3, 7]));
        assert_eq!(parse_cpu_list("1"), Ok(vec![1]));
        assert!(parse_cpu_list("3-1").is_err());
        assert!(parse_cpu_list("x").is_err());
        assert!(parse_cpu_list("").is_err());
    }
}
