//! What a test run leaves behind on the host: a snapshot of the things
//! containers can leak (mounts, cgroups, network namespaces, runtime, CRIU
//! and container processes, files under cryo state roots), and the
//! difference between two snapshots. `src/bin/leak-check.rs` runs it before
//! and after `make test`'s suite; anything present before is ignored.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

/// One thing on the host. Two items are the same thing when kind and key
/// are equal; `detail` only helps a reader.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Item {
    pub kind: String,
    pub key: String,
    pub detail: String,
}

impl Item {
    fn new(kind: &str, key: impl Into<String>, detail: impl Into<String>) -> Item {
        Item {
            kind: kind.to_string(),
            key: one_line(&key.into()),
            detail: one_line(&detail.into()),
        }
    }
}

impl fmt::Display for Item {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.detail.is_empty() {
            write!(f, "{}: {}", self.kind, self.key)
        } else {
            write!(f, "{}: {} ({})", self.kind, self.key, self.detail)
        }
    }
}

fn one_line(s: &str) -> String {
    s.chars()
        .map(|c| if c == '\t' || c == '\n' { ' ' } else { c })
        .collect()
}

pub const MOUNT: &str = "mount";
pub const NSFS_MOUNT: &str = "namespace mount";
pub const CGROUP: &str = "cgroup";
pub const NETNS: &str = "network namespace";
pub const PROCESS: &str = "process";
pub const STATE: &str = "state file";

/// Everything found at one moment.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Snapshot {
    pub items: BTreeSet<Item>,
}

impl Snapshot {
    /// Looks at the host now.
    pub fn take() -> Snapshot {
        let mut items = BTreeSet::new();
        let mountinfo = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
        items.extend(mounts(&mountinfo));
        items.extend(cgroups(&mountinfo));
        items.extend(netns_entries(Path::new("/run/netns")));
        items.extend(processes());
        items.extend(state_files(&mountinfo));
        Snapshot { items }
    }

    /// One `kind<TAB>key<TAB>detail` line per item.
    pub fn to_text(&self) -> String {
        self.items
            .iter()
            .map(|i| format!("{}\t{}\t{}\n", i.kind, i.key, i.detail))
            .collect()
    }

    pub fn from_text(text: &str) -> Result<Snapshot, String> {
        let mut items = BTreeSet::new();
        for (n, line) in text.lines().enumerate() {
            if line.is_empty() {
                continue;
            }
            let mut f = line.splitn(3, '\t');
            match (f.next(), f.next(), f.next()) {
                (Some(kind), Some(key), detail) => {
                    items.insert(Item::new(kind, key, detail.unwrap_or("")));
                }
                _ => {
                    return Err(format!(
                        "line {}: not kind<TAB>key<TAB>detail: {line:?}",
                        n + 1
                    ))
                }
            }
        }
        Ok(Snapshot { items })
    }

    /// What `self` has that `before` had not: the leaks.
    pub fn new_since(&self, before: &Snapshot) -> Vec<Item> {
        let old: BTreeSet<(&str, &str)> = before
            .items
            .iter()
            .map(|i| (i.kind.as_str(), i.key.as_str()))
            .collect();
        self.items
            .iter()
            .filter(|i| !old.contains(&(i.kind.as_str(), i.key.as_str())))
            .cloned()
            .collect()
    }
}

/// The leaks as lines to print. What lies below a new state directory is
/// counted on the directory's line rather than listed (a bundle left
/// behind is one line, not its whole rootfs).
pub fn report_lines(leaks: &[Item]) -> Vec<String> {
    let new_dirs: BTreeSet<&Path> = leaks
        .iter()
        .filter(|i| i.kind == STATE)
        .map(|i| Path::new(&i.key))
        .collect();
    // The top-most new directory above `p`, if any.
    fn top_of<'a>(new_dirs: &BTreeSet<&'a Path>, p: &'a Path) -> Option<&'a Path> {
        p.ancestors()
            .skip(1)
            .filter(|a| new_dirs.contains(a))
            .last()
    }
    let mut below: BTreeMap<&Path, usize> = BTreeMap::new();
    for i in leaks.iter().filter(|i| i.kind == STATE) {
        if let Some(top) = top_of(&new_dirs, Path::new(&i.key)) {
            *below.entry(top).or_insert(0) += 1;
        }
    }
    leaks
        .iter()
        .filter(|i| i.kind != STATE || top_of(&new_dirs, Path::new(&i.key)).is_none())
        .map(|i| match below.get(Path::new(&i.key)) {
            Some(n) if i.kind == STATE => format!("{i} (and {n} more below it)"),
            _ => i.to_string(),
        })
        .collect()
}

// ---------------------------------------------------------------------------
// Mounts
// ---------------------------------------------------------------------------

/// (mount point, fstype, source) of each mountinfo line, with mountinfo's
/// octal escapes left as they are.
fn mount_entries(mountinfo: &str) -> Vec<(String, String, String)> {
    mountinfo
        .lines()
        .filter_map(|l| {
            let f: Vec<&str> = l.split(' ').collect();
            let dash = f.iter().position(|x| *x == "-")?;
            if dash < 6 || f.len() < dash + 3 {
                return None;
            }
            Some((
                f[4].to_string(),
                f[dash + 1].to_string(),
                f[dash + 2].to_string(),
            ))
        })
        .collect()
}

/// Every mount of this (the host's) mount namespace. The same mount stacked
/// twice at one place counts twice (`#2`), so a second copy is a leak too.
pub fn mounts(mountinfo: &str) -> Vec<Item> {
    let mut seen: BTreeMap<(String, String, String), usize> = BTreeMap::new();
    let mut out = Vec::new();
    for e in mount_entries(mountinfo) {
        let n = seen.entry(e.clone()).or_insert(0);
        *n += 1;
        let (mp, fstype, source) = e;
        let mut key = format!("{mp} {fstype} {source}");
        if *n > 1 {
            key.push_str(&format!(" #{n}"));
        }
        // A bind-mounted namespace file (ip netns, a pinned netns) is its
        // own kind: what leaks there is a namespace.
        let kind = if fstype == "nsfs" { NSFS_MOUNT } else { MOUNT };
        out.push(Item::new(kind, key, ""));
    }
    out
}

// ---------------------------------------------------------------------------
// Cgroups
// ---------------------------------------------------------------------------

/// Mount points of every cgroup v1 hierarchy and of the cgroup2 mount.
pub fn cgroup_mounts(mountinfo: &str) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = mount_entries(mountinfo)
        .into_iter()
        .filter(|(_, fstype, _)| fstype == "cgroup" || fstype == "cgroup2")
        .map(|(mp, _, _)| PathBuf::from(mp))
        .collect();
    out.sort();
    out.dedup();
    out
}

/// Parent cgroups with fixed names that are created once and kept, the
/// way runc keeps the parents of its cgroups: cryo's default parent, the
/// e2e tests' parent, and podman's cgroupfs parents. They are ignored
/// while no process is in them; every cgroup below them is checked.
pub const KEPT_PARENTS: &[&str] = &["cryo", "cryo-e2e", "libpod_parent", "libpod_parent/conmon"];

/// Every cgroup directory of every hierarchy (the roots excluded).
pub fn cgroups(mountinfo: &str) -> Vec<Item> {
    let mut out = Vec::new();
    for root in cgroup_mounts(mountinfo) {
        let mut stack = vec![root.clone()];
        while let Some(dir) = stack.pop() {
            let Ok(entries) = std::fs::read_dir(&dir) else {
                continue;
            };
            for e in entries.flatten() {
                if e.file_type().map(|t| t.is_dir()).unwrap_or(false) {
                    stack.push(e.path());
                }
            }
            if dir == root {
                continue;
            }
            let rel = dir.strip_prefix(&root).unwrap_or(&dir).to_string_lossy();
            let procs = std::fs::read_to_string(dir.join("cgroup.procs")).unwrap_or_default();
            let n = procs.lines().count();
            if n == 0 && KEPT_PARENTS.contains(&rel.as_ref()) {
                continue;
            }
            let detail = if n == 0 {
                String::new()
            } else {
                format!("{n} processes")
            };
            out.push(Item::new(CGROUP, dir.to_string_lossy(), detail));
        }
    }
    out
}

/// The directories named `path` (e.g. `/cryo/<id>`) that exist in any
/// cgroup hierarchy.
pub fn cgroup_dirs(path: &str) -> Vec<PathBuf> {
    let mountinfo = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    cgroup_mounts(&mountinfo)
        .into_iter()
        .map(|m| m.join(path.trim_start_matches('/')))
        .filter(|p| p.is_dir())
        .collect()
}

// ---------------------------------------------------------------------------
// Network namespaces
// ---------------------------------------------------------------------------

/// Names `ip netns` knows (entries of /run/netns).
pub fn netns_entries(dir: &Path) -> Vec<Item> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    entries
        .flatten()
        .map(|e| Item::new(NETNS, e.path().to_string_lossy(), ""))
        .collect()
}

// ---------------------------------------------------------------------------
// Processes
// ---------------------------------------------------------------------------

/// A process as /proc shows it.
#[derive(Debug, Clone)]
pub struct Proc {
    pub pid: i32,
    pub comm: String,
    pub start_time: u64,
    pub cmdline: String,
    pub pid_ns: String,
}

/// Reads /proc/<pid>; None for kernel threads and vanished processes.
pub fn read_proc(pid: i32) -> Option<Proc> {
    let base = PathBuf::from(format!("/proc/{pid}"));
    let stat = std::fs::read_to_string(base.join("stat")).ok()?;
    let open = stat.find('(')?;
    let close = stat.rfind(')')?;
    let comm = stat.get(open + 1..close)?.to_string();
    let rest: Vec<&str> = stat.get(close + 2..)?.split_whitespace().collect();
    // Field 3 (state) is rest[0]; field 22 (starttime) is rest[19].
    let start_time = rest.get(19)?.parse().ok()?;
    let raw = std::fs::read(base.join("cmdline")).ok()?;
    if raw.is_empty() {
        // Kernel threads have no command line (nor do zombies, which are
        // gone once reaped).
        return None;
    }
    let cmdline = String::from_utf8_lossy(&raw)
        .trim_end_matches('\0')
        .replace('\0', " ");
    let pid_ns = std::fs::read_link(base.join("ns/pid"))
        .map(|p| p.to_string_lossy().into_owned())
        .unwrap_or_default();
    Some(Proc {
        pid,
        comm,
        start_time,
        cmdline,
        pid_ns,
    })
}

/// Command names of the runtime, CRIU and what the integration clients
/// start per container or keep as daemons.
const WATCHED_COMMS: &[&str] = &[
    "cryo",
    "criu",
    "conmon",
    "containerd",
    "containerd-shim",
    "dockerd",
    "docker-proxy",
    "podman",
    "runc",
];

/// Why `p` is worth watching, if it is: a runtime, CRIU (or its lazy-pages
/// daemon) or client process, or any process of another pid namespace (a
/// container's).
pub fn watched(p: &Proc, host_pid_ns: &str) -> Option<&'static str> {
    if p.comm == "criu" && p.cmdline.contains("lazy-pages") {
        return Some("lazy-pages daemon");
    }
    if let Some(c) = WATCHED_COMMS.iter().find(|c| **c == p.comm) {
        return Some(match *c {
            "cryo" => "cryo",
            "criu" => "criu",
            _ => "client",
        });
    }
    if p.comm.starts_with("containerd-shim") {
        return Some("client");
    }
    if !p.pid_ns.is_empty() && p.pid_ns != host_pid_ns {
        return Some("container");
    }
    None
}

/// The watched processes, keyed by pid and start time (a reused pid is
/// another process).
pub fn processes() -> Vec<Item> {
    let me = std::process::id() as i32;
    let host_ns = std::fs::read_link("/proc/self/ns/pid")
        .map(|p| p.to_string_lossy().into_owned())
        .unwrap_or_default();
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for e in entries.flatten() {
        let Some(pid) = e.file_name().to_str().and_then(|s| s.parse::<i32>().ok()) else {
            continue;
        };
        if pid == me {
            continue;
        }
        let Some(p) = read_proc(pid) else {
            continue;
        };
        if let Some(why) = watched(&p, &host_ns) {
            out.push(Item::new(
                PROCESS,
                format!("{} {}", p.pid, p.start_time),
                format!("{why}: {}: {}", p.comm, p.cmdline),
            ));
        }
    }
    out
}

// ---------------------------------------------------------------------------
// State roots
// ---------------------------------------------------------------------------

/// Where state roots are looked for: cryo's default root, the e2e tests'
/// private roots (`Runtime` keeps one that is not empty when dropped), and
/// any directory under /run holding a cryo container directory (the roots
/// Podman, containerd and Docker pass with `--root`).
pub fn state_roots(mountinfo: &str) -> Vec<PathBuf> {
    let mut roots = BTreeSet::new();
    roots.insert(PathBuf::from("/run/cryo"));
    if let Ok(entries) = std::fs::read_dir(std::env::temp_dir()) {
        for e in entries.flatten() {
            if e.file_name()
                .to_string_lossy()
                .starts_with("cryo-e2e-root.")
            {
                roots.insert(e.path());
            }
        }
    }
    let mount_points = mount_points(mountinfo);
    let mut stack = vec![(PathBuf::from("/run"), 0)];
    while let Some((dir, depth)) = stack.pop() {
        if is_container_dir(&dir) {
            if let Some(parent) = dir.parent() {
                roots.insert(parent.to_path_buf());
            }
            continue;
        }
        if depth >= 8 {
            continue;
        }
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for e in entries.flatten() {
            let p = e.path();
            if e.file_type().map(|t| t.is_dir()).unwrap_or(false) && !mount_points.contains(&p) {
                stack.push((p, depth + 1));
            }
        }
    }
    roots.into_iter().collect()
}

/// A cryo container directory: its lock plus its state, the start socket
/// of a create in progress, or the rootfs mount of a restore in progress.
fn is_container_dir(dir: &Path) -> bool {
    dir.join("lock").is_file()
        && (dir.join("start.sock").exists()
            || dir.join("criu-root").is_dir()
            || std::fs::read_to_string(dir.join("state.json"))
                .is_ok_and(|s| s.contains("\"init_pid\"")))
}

fn mount_points(mountinfo: &str) -> BTreeSet<PathBuf> {
    mount_entries(mountinfo)
        .into_iter()
        .map(|(mp, _, _)| PathBuf::from(mp))
        .collect()
}

/// Every file and directory below the state roots (not the roots: an empty
/// root is nothing left behind). Mounts inside are not entered; they are
/// mounts.
pub fn state_files(mountinfo: &str) -> Vec<Item> {
    let mount_points = mount_points(mountinfo);
    let mut out = Vec::new();
    for root in state_roots(mountinfo) {
        let dev = std::fs::symlink_metadata(&root).map(|m| m.dev()).ok();
        let mut stack = vec![root];
        while let Some(dir) = stack.pop() {
            let Ok(entries) = std::fs::read_dir(&dir) else {
                continue;
            };
            for e in entries.flatten() {
                let p = e.path();
                out.push(Item::new(STATE, p.to_string_lossy(), ""));
                let md = std::fs::symlink_metadata(&p);
                let same_fs = md.as_ref().is_ok_and(|m| Some(m.dev()) == dev);
                if md.is_ok_and(|m| m.is_dir()) && same_fs && !mount_points.contains(&p) {
                    stack.push(p);
                }
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const MOUNTINFO: &str = "\
22 1 8:1 / / rw,relatime shared:1 - ext4 /dev/sda1 rw
31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
90 22 0:50 / /tmp/a rw - tmpfs tmpfs rw
91 90 0:51 / /tmp/a rw - tmpfs tmpfs rw
92 26 0:4 net:[4026532300] /run/netns/x rw - nsfs nsfs rw
";

    #[test]
    fn mounts_count_stacked_copies_and_name_namespace_files() {
        let m = mounts(MOUNTINFO);
        let keys: Vec<&str> = m.iter().map(|i| i.key.as_str()).collect();
        assert!(keys.contains(&"/tmp/a tmpfs tmpfs"), "{keys:?}");
        assert!(keys.contains(&"/tmp/a tmpfs tmpfs #2"), "{keys:?}");
        let ns: Vec<&Item> = m.iter().filter(|i| i.kind == NSFS_MOUNT).collect();
        assert_eq!(ns.len(), 1, "{m:?}");
        assert_eq!(ns[0].key, "/run/netns/x nsfs nsfs");
    }

    #[test]
    fn cgroup_mounts_are_v1_hierarchies_and_cgroup2() {
        assert_eq!(
            cgroup_mounts(MOUNTINFO),
            vec![
                PathBuf::from("/sys/fs/cgroup/memory"),
                PathBuf::from("/sys/fs/cgroup/unified")
            ]
        );
    }

    #[test]
    fn new_since_reports_only_what_is_new_whatever_the_detail() {
        let before = Snapshot {
            items: [
                Item::new(MOUNT, "/a tmpfs tmpfs", ""),
                Item::new(PROCESS, "10 500", "cryo: cryo run"),
            ]
            .into(),
        };
        let now = Snapshot {
            items: [
                Item::new(MOUNT, "/a tmpfs tmpfs", ""),
                Item::new(MOUNT, "/a tmpfs tmpfs #2", ""),
                // Same process, its command line changed: not new.
                Item::new(PROCESS, "10 500", "cryo: cryo"),
                // Same pid, another start time: a new process.
                Item::new(PROCESS, "10 900", "criu: criu swrk 3"),
                Item::new(CGROUP, "/sys/fs/cgroup/memory/cryo/x", ""),
            ]
            .into(),
        };
        let new: Vec<String> = now
            .new_since(&before)
            .iter()
            .map(|i| format!("{}|{}", i.kind, i.key))
            .collect();
        assert_eq!(
            new,
            vec![
                "cgroup|/sys/fs/cgroup/memory/cryo/x",
                "mount|/a tmpfs tmpfs #2",
                "process|10 900"
            ]
        );
        assert!(before.new_since(&before).is_empty());
    }

    #[test]
    fn text_round_trips_and_bad_lines_are_errors() {
        let s = Snapshot {
            items: [
                Item::new(STATE, "/run/cryo/x/state.json", ""),
                Item::new(PROCESS, "1 2", "criu: a\tb\nc"),
            ]
            .into(),
        };
        let back = Snapshot::from_text(&s.to_text()).expect("parses");
        assert_eq!(back, s);
        assert!(Snapshot::from_text("just one field\n").is_err());
    }

    #[test]
    fn report_lines_fold_what_is_below_a_new_state_directory() {
        let leaks = vec![
            Item::new(CGROUP, "/sys/fs/cgroup/memory/cryo/x", ""),
            Item::new(STATE, "/run/cryo/a", ""),
            Item::new(STATE, "/run/cryo/a/lock", ""),
            Item::new(STATE, "/run/cryo/a/rootfs", ""),
            Item::new(STATE, "/run/cryo/a/rootfs/bin", ""),
            Item::new(STATE, "/run/cryo/b", ""),
        ];
        assert_eq!(
            report_lines(&leaks),
            vec![
                "cgroup: /sys/fs/cgroup/memory/cryo/x",
                "state file: /run/cryo/a (and 3 more below it)",
                "state file: /run/cryo/b",
            ]
        );
    }

    #[test]
    fn watched_processes() {
        let p = |comm: &str, cmdline: &str, ns: &str| Proc {
            pid: 5,
            comm: comm.into(),
            start_time: 1,
            cmdline: cmdline.into(),
            pid_ns: ns.into(),
        };
        let host = "pid:[1]";
        assert_eq!(watched(&p("criu", "criu swrk 3", host), host), Some("criu"));
        assert_eq!(
            watched(&p("criu", "criu lazy-pages --page-server", host), host),
            Some("lazy-pages daemon")
        );
        assert_eq!(watched(&p("cryo", "cryo run x", host), host), Some("cryo"));
        assert_eq!(
            watched(&p("containerd-shim", "containerd-shim-runc-v2", host), host),
            Some("client")
        );
        assert_eq!(
            watched(&p("sh", "sh -c x", "pid:[2]"), host),
            Some("container")
        );
        assert_eq!(watched(&p("bash", "bash", host), host), None);
    }
}
