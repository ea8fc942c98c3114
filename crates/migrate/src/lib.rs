//! cryo-migrate: live migration of a running container to another host.
//!
//! * [`migrate()`] (the source, `cryo migrate ID --to HOST[:PORT]`) sends
//!   the container's config and rootfs, freezes it, dumps it with CRIU and
//!   sends the images; the destination restores; the source deletes its
//!   copy once the destination runs it (and, post-copy, has all of its
//!   memory).
//! * [`receive()`] (the destination, `cryo migrate-receive --listen
//!   ADDR:PORT`) prepares a bundle, receives the images and restores.
//!
//! Two modes:
//!
//! * post-copy: a lazy dump leaves the memory in the frozen tasks and
//!   serves it from CRIU's page server; the destination restores at once
//!   and its lazy-pages daemon pulls the pages (on fault, and the rest in
//!   the background). The frozen time does not grow with memory size.
//! * stop-and-copy: a full dump, every page in the images. For kernels
//!   (or CRIUs) without userfaultfd, on either side.
//!
//! The source freezes the container itself (cgroup freezer) before CRIU
//! dumps it with `leave_running`, so CRIU leaves it frozen whatever
//! happens, and only cryo decides its fate: delete it once the destination
//! reported a running copy, else thaw it. A failure at any step before
//! that leaves the container running on the source. See docs/migrate.md.

pub mod error;
pub mod images;
pub mod proto;
mod receive;
mod rootfs;
mod source;
mod util;

use cryo_checkpoint::checkpoint::NetworkLock;
use std::path::{Path, PathBuf};
use std::time::Duration;

use cryo_container::{ContainerError, Store};
use serde::Serialize;

pub use error::{MigrateError, Result};
pub use proto::{RestoreFlags, RootfsPlan};
pub use receive::{receive, ReceiveOptions, Received, Sessions};
pub use source::{migrate, MigrateOptions};

/// The port `migrate-receive` listens on and `migrate --to HOST` connects
/// to by default.
pub const DEFAULT_PORT: u16 = 7740;
/// The directory under the state root where migrations keep their work
/// (images in flight, received bundles). Its name is not a valid container
/// id, so it can never clash with a container.
pub const WORK_DIR: &str = "@migrate";

/// The annotation a receiver with `--cgroup-prefix` leaves on the config
/// it rewrote: the container's own `linux.cgroupsPath` ("" for none). The
/// prefix is where this host put it, not part of the container: a
/// migration out sends the config as it was.
pub const CGROUPS_PATH_ANNOTATION: &str = "org.cryo.migrate.cgroups-path";

/// The config to send: as the container came, without a receiver's
/// `--cgroup-prefix`.
pub fn config_to_send(spec: &oci_spec::runtime::Spec) -> Result<serde_json::Value> {
    let mut c =
        serde_json::to_value(spec).map_err(|e| MigrateError::Invalid(format!("config: {e}")))?;
    let original = c
        .get_mut("annotations")
        .and_then(|a| a.as_object_mut())
        .and_then(|a| a.remove(CGROUPS_PATH_ANNOTATION));
    if let Some(orig) = original {
        if c["annotations"].as_object().is_some_and(|a| a.is_empty()) {
            if let Some(o) = c.as_object_mut() {
                o.remove("annotations");
            }
        }
        if let Some(linux) = c.get_mut("linux").and_then(|l| l.as_object_mut()) {
            match orig.as_str() {
                Some(p) if !p.is_empty() => {
                    linux.insert("cgroupsPath".into(), serde_json::json!(p));
                }
                _ => {
                    linux.remove("cgroupsPath");
                }
            }
        }
    }
    Ok(c)
}

/// `--mode`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Mode {
    /// Post-copy if both sides can, else stop-and-copy.
    #[default]
    Auto,
    PostCopy,
    StopAndCopy,
}

impl Mode {
    pub fn name(self) -> &'static str {
        match self {
            Mode::Auto => "auto",
            Mode::PostCopy => "post-copy",
            Mode::StopAndCopy => "stop-and-copy",
        }
    }
}

impl std::str::FromStr for Mode {
    type Err = MigrateError;
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "auto" => Ok(Mode::Auto),
            "post-copy" | "postcopy" | "lazy" => Ok(Mode::PostCopy),
            "stop-and-copy" | "stop" => Ok(Mode::StopAndCopy),
            _ => Err(MigrateError::Invalid(format!(
                "invalid --mode {s:?} (want auto, post-copy or stop-and-copy)"
            ))),
        }
    }
}

/// What a migration reports (`--format json` prints it as is).
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub id: String,
    /// The destination, as connected to.
    pub to: String,
    /// `post-copy` or `stop-and-copy`.
    pub mode: &'static str,
    /// From the freeze to the destination's copy running: the time the
    /// container ran nowhere.
    pub frozen_ms: f64,
    /// The whole migration, connecting included.
    pub total_ms: f64,
    /// Post-copy: from the destination's copy running until all of its
    /// memory went over (0 for stop-and-copy).
    pub post_copy_ms: f64,
    /// CRIU's dump (post-copy: until the page server was ready).
    pub dump_ms: f64,
    /// The destination's restore.
    pub restore_ms: f64,
    /// Every byte moved: the connection both ways plus the pages served.
    pub bytes: u64,
    pub bytes_detail: Bytes,
    /// The restored init's pid on the destination.
    pub destination_pid: i32,
    pub warnings: Vec<String>,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct Bytes {
    /// The rootfs tar stream (0 when the destination shares the path).
    pub rootfs: u64,
    /// Image files sent.
    pub images: u64,
    /// Memory the page server sent the destination's lazy-pages daemon.
    pub lazy_pages: u64,
    /// Everything on the migration connection, both ways (framing,
    /// config and images included).
    pub connection: u64,
}

/// Steps a long migration reports, for a progress display.
pub trait Progress {
    /// A new step began.
    fn step(&mut self, what: &str);
    /// Bytes of the current step done, of `total` when known.
    fn bytes(&mut self, _done: u64, _total: Option<u64>) {}
    /// Called every so often while waiting.
    fn tick(&mut self) {}
}

/// A progress sink that shows nothing.
#[derive(Debug, Default, Clone, Copy)]
pub struct Quiet;

impl Progress for Quiet {
    fn step(&mut self, _what: &str) {}
}

/// Idle timeout on the connection: the longest either side waits for the
/// other while nothing else is going on.
pub const IDLE_TIMEOUT: Duration = Duration::from_secs(120);

/// `cryo delete`: the container, and the bundle a migration brought in for
/// it (`<root>/@migrate/bundles/<id>`), which only that container used.
/// Without this, received bundles stayed until the next `migrate-receive`
/// swept them.
pub fn delete(store: &Store, id: &str, force: bool) -> std::result::Result<(), ContainerError> {
    let bundle = cryo_container::state(store, id).ok().map(|s| s.bundle);
    cryo_container::delete(store, id, force)?;
    let received = store.root().join(WORK_DIR).join("bundles").join(id);
    if bundle.is_some_and(|b| b == received) {
        let _ = std::fs::remove_dir_all(&received);
    }
    Ok(())
}

/// `<root>/@migrate`, private.
pub(crate) fn work_root(state_root: &Path, explicit: Option<&Path>) -> Result<PathBuf> {
    let dir = match explicit {
        Some(d) => d.to_path_buf(),
        None => state_root.join(WORK_DIR),
    };
    Ok(cryo_checkpoint::private_dir(&dir)?)
}

/// CRIU's network lock for a migration, the same on both sides.
///
/// The lock keeps packets away from TCP connections between their dump
/// and their restore. Without `--tcp-established` there are none (CRIU
/// refuses to dump an established connection), so the lock would only
/// cost time inside the frozen window: an iptables-restore at each end of
/// the dump and of the restore, about 60 ms apiece here (see
/// bench/results/migrate.md). So it is skipped then, and CRIU's default
/// is kept when connections move.
pub(crate) fn network_lock(flags: &proto::RestoreFlags) -> Option<NetworkLock> {
    (!flags.tcp_established).then_some(NetworkLock::Skip)
}

/// Splits `HOST[:PORT]` (IPv6 as `[ADDR]:PORT` or a bare address).
pub fn host_port(s: &str, default_port: u16) -> Result<(String, u16)> {
    let bad = || MigrateError::Invalid(format!("invalid address {s:?} (want HOST[:PORT])"));
    if s.is_empty() {
        return Err(bad());
    }
    if let Some(rest) = s.strip_prefix('[') {
        let (host, tail) = rest.split_once(']').ok_or_else(bad)?;
        let port = match tail.strip_prefix(':') {
            Some(p) => p.parse().map_err(|_| bad())?,
            None if tail.is_empty() => default_port,
            None => return Err(bad()),
        };
        return Ok((host.to_string(), port));
    }
    match s.rsplit_once(':') {
        // A bare IPv6 address has more than one colon.
        Some((h, _)) if h.contains(':') => Ok((s.to_string(), default_port)),
        Some((h, p)) if !h.is_empty() => Ok((h.to_string(), p.parse().map_err(|_| bad())?)),
        Some(_) => Err(bad()),
        None => Ok((s.to_string(), default_port)),
    }
}

/// `ADDR:PORT` as CRIU's page server options want it written.
pub(crate) fn join_host_port(ip: std::net::IpAddr, port: u16) -> String {
    match ip {
        std::net::IpAddr::V4(a) => format!("{a}:{port}"),
        std::net::IpAddr::V6(a) => format!("[{a}]:{port}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses() {
        let hp = |s: &str| host_port(s, 7740).ok();
        assert_eq!(hp("10.0.0.2"), Some(("10.0.0.2".into(), 7740)));
        assert_eq!(hp("h:99"), Some(("h".into(), 99)));
        assert_eq!(hp("[::1]:5"), Some(("::1".into(), 5)));
        assert_eq!(hp("[::1]"), Some(("::1".into(), 7740)));
        assert_eq!(hp("fe80::1"), Some(("fe80::1".into(), 7740)));
        assert_eq!(hp("h:"), None);
        assert_eq!(hp(":5"), None);
        assert_eq!(hp("h:70000"), None);
        assert_eq!(hp(""), None);
        assert_eq!(
            join_host_port(
                "::1"
                    .parse()
                    .unwrap_or(std::net::Ipv6Addr::LOCALHOST.into()),
                3
            ),
            "[::1]:3"
        );
    }

    #[test]
    fn modes() {
        assert_eq!("post-copy".parse::<Mode>().ok(), Some(Mode::PostCopy));
        assert_eq!(
            "stop-and-copy".parse::<Mode>().ok(),
            Some(Mode::StopAndCopy)
        );
        assert!("fast".parse::<Mode>().is_err());
    }
}
