//! `events`: runc's event stream of a container: `stats` samples (the
//! `data` object of runc's `types.Event`) and `oom` notifications.
//!
//! OOM detection:
//! * cgroup v1 memory: an eventfd registered for `memory.oom_control`
//!   through `cgroup.event_control` (as runc does), so an `oom` event is
//!   emitted as soon as the kernel reports one; as a safety net, when the
//!   container stops, the `oom_kill` counter of `memory.oom_control` is
//!   compared with its value at the start and one `oom` event is emitted
//!   if it grew while the eventfd reported nothing.
//! * cgroup v2 (or if the registration fails): the `oom_kill` counter of
//!   `memory.events` (v1: `memory.oom_control`) is polled at every wake-up
//!   (at least once a second and at each interval), one `oom` event per
//!   kill counted.
//!
//! Unlike runc 1.1.5, whose `events` never returns, [`watch`] ends (and
//! `cryo events` exits 0) once the container has stopped.

use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::time::{Duration, Instant};

use cryo_cgroups::oom::OomSource;
use cryo_cgroups::CgroupStats;
use cryo_oci::Status;
use serde::Serialize;

use crate::error::{ContainerError, Context, Result};
use crate::store::{Record, Store};

/// One event of a container.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// A statistics sample.
    Stats(Box<CgroupStats>),
    /// The kernel reported an out-of-memory condition in the container's
    /// memory cgroup.
    Oom,
}

/// runc's `intel_rdt` stats: always empty (cryo has no Intel RDT support).
#[derive(Serialize)]
struct NoIntelRdt {}

/// runc's `types.Stats`: the cgroup statistics plus `intel_rdt` and
/// `network_interfaces` (always empty / null, as runc reports them for a
/// container without Intel RDT and without the `--stats` network hooks).
#[derive(Serialize)]
struct StatsData<'a> {
    #[serde(flatten)]
    cgroup: &'a CgroupStats,
    intel_rdt: NoIntelRdt,
    network_interfaces: Option<()>,
}

#[derive(Serialize)]
struct EventJson<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    id: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    data: Option<StatsData<'a>>,
}

impl Event {
    /// The event as runc prints it: one line of JSON without the newline,
    /// `{"type":"stats","id":ID,"data":{...}}` or `{"type":"oom","id":ID}`.
    pub fn to_json(&self, id: &str) -> Result<String> {
        let doc = match self {
            Event::Stats(s) => EventJson {
                kind: "stats",
                id,
                data: Some(StatsData {
                    cgroup: s,
                    intel_rdt: NoIntelRdt {},
                    network_interfaces: None,
                }),
            },
            Event::Oom => EventJson {
                kind: "oom",
                id,
                data: None,
            },
        };
        serde_json::to_string(&doc).map_err(|e| ContainerError::Invalid(e.to_string()))
    }
}

/// Reads the container's record and fails, in runc's words, if it stopped.
fn running_record(store: &Store, id: &str) -> Result<Record> {
    let rec = store.read(id)?;
    if rec.status() == Status::Stopped {
        return Err(ContainerError::NotRunningId(id.to_string()));
    }
    Ok(rec)
}

/// One statistics sample (`events --stats`) of a container that has not
/// stopped.
pub fn stats(store: &Store, id: &str) -> Result<CgroupStats> {
    let rec = running_record(store, id)?;
    Ok(cryo_cgroups::from_paths(rec.cgroup_paths.clone())?.stats()?)
}

/// The v1 OOM eventfd and the `memory.oom_control` file it is registered
/// for (which must stay open).
struct OomEventfd {
    eventfd: OwnedFd,
    _oom_control: std::fs::File,
}

fn register_oom_eventfd(src: &OomSource) -> Option<OomEventfd> {
    let path = src.oom_control_file()?;
    let oom_control = std::fs::File::open(path).ok()?;
    let eventfd = cryo_sys::event::eventfd().ok()?;
    src.register_eventfd(eventfd.as_raw_fd(), oom_control.as_raw_fd())
        .ok()?;
    Some(OomEventfd {
        eventfd,
        _oom_control: oom_control,
    })
}

/// Streams the container's events to `emit` until the container stops:
/// a `stats` event every `interval` (the first one after one interval, as
/// runc) and an `oom` event whenever the kernel reports one. Returns
/// `Ok(())` once the container has stopped; an error from `emit` (e.g.
/// stdout closed) ends the stream with that error. Fails like runc for a
/// container that is already stopped.
pub fn watch(
    store: &Store,
    id: &str,
    interval: Duration,
    emit: &mut dyn FnMut(&Event) -> Result<()>,
) -> Result<()> {
    if interval.is_zero() {
        return Err(ContainerError::Invalid(
            "duration interval must be greater than 0".into(),
        ));
    }
    let rec = running_record(store, id)?;
    let cg = cryo_cgroups::from_paths(rec.cgroup_paths.clone())?;
    // The pidfd becomes readable when the init exits. Re-check the status
    // after opening it, so it cannot be a recycled pid.
    let pidfd = cryo_sys::process::pidfd_open(rec.init_pid).ok();
    if rec.status() == Status::Stopped {
        return Ok(());
    }
    let oom = OomSource::of(cg.as_ref());
    let mut oom_seen = oom.as_ref().map_or(0, |o| o.oom_kills().unwrap_or(0));
    let oom_eventfd = oom.as_ref().and_then(register_oom_eventfd);
    let mut oom_events = 0u64;
    // Without an eventfd or pidfd, wake up at least once a second to poll.
    let max_sleep = if oom_eventfd.is_some() && pidfd.is_some() {
        interval
    } else {
        interval.min(Duration::from_secs(1))
    };
    let mut next_stats = Instant::now() + interval;
    loop {
        let now = Instant::now();
        let sleep = next_stats.saturating_duration_since(now).min(max_sleep);
        let mut fds: Vec<BorrowedFd<'_>> = Vec::new();
        if let Some(fd) = &pidfd {
            fds.push(fd.as_fd());
        }
        if let Some(o) = &oom_eventfd {
            fds.push(o.eventfd.as_fd());
        }
        let timeout_ms = i32::try_from(sleep.as_millis().max(1)).unwrap_or(i32::MAX);
        let ready = cryo_sys::event::poll_readable(&fds, timeout_ms)
            .ctx(|| "wait for container events".into())?;
        let init_exited = pidfd.is_some() && ready.first() == Some(&true);
        let oom_ready = oom_eventfd.is_some() && ready.last() == Some(&true);

        if let (true, Some(o), Some(src)) = (oom_ready, &oom_eventfd, &oom) {
            cryo_sys::event::read_counter(o.eventfd.as_fd())
                .ctx(|| "read the OOM eventfd".into())?;
            // The eventfd also fires when the cgroup is removed.
            if !src.exists() {
                return Ok(());
            }
            oom_events += 1;
            emit(&Event::Oom)?;
        }
        if oom_eventfd.is_none() {
            if let Some(src) = &oom {
                let kills = src.oom_kills().unwrap_or(oom_seen);
                while oom_seen < kills {
                    oom_seen += 1;
                    emit(&Event::Oom)?;
                }
            }
        }
        if init_exited || rec.status() == Status::Stopped {
            // A kill the eventfd did not report (e.g. it raced the exit).
            if let (Some(_), Some(src), 0) = (&oom_eventfd, &oom, oom_events) {
                if src.oom_kills().unwrap_or(oom_seen) > oom_seen {
                    emit(&Event::Oom)?;
                }
            }
            return Ok(());
        }
        if Instant::now() >= next_stats {
            // Like runc, a failed sample is skipped, not fatal.
            if let Ok(s) = cg.stats() {
                emit(&Event::Stats(Box::new(s)))?;
            }
            next_stats += interval;
            if next_stats <= Instant::now() {
                next_stats = Instant::now() + interval;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_shapes_match_runc() {
        assert_eq!(
            Event::Oom.to_json("c1").expect("json"),
            r#"{"type":"oom","id":"c1"}"#
        );
        let mut s = CgroupStats::default();
        s.pids.current = 3;
        let text = Event::Stats(Box::new(s)).to_json("c1").expect("json");
        assert!(
            text.starts_with(r#"{"type":"stats","id":"c1","data":{"cpu":{"#),
            "{text}"
        );
        assert!(
            text.ends_with(r#""intel_rdt":{},"network_interfaces":null}}"#),
            "{text}"
        );
        let v: serde_json::Value = serde_json::from_str(&text).expect("parse");
        assert_eq!(v["data"]["pids"]["current"], 3);
        let keys: Vec<&String> = v["data"].as_object().expect("object").keys().collect();
        assert_eq!(keys.len(), 8, "{keys:?}");
        // runc's order: cpu, cpuset, memory, pids, blkio, hugetlb, ...
        let cpuset = text.find(r#""cpuset""#).expect("cpuset");
        let memory = text.find(r#""memory""#).expect("memory");
        let hugetlb = text.find(r#""hugetlb""#).expect("hugetlb");
        assert!(cpuset < memory && memory < hugetlb);
    }
}
