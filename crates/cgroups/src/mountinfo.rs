//! Parsing of `/proc/self/mountinfo` and `/proc/self/cgroup`, mode
//! detection, and resolution of an OCI `linux.cgroupsPath` into one
//! directory per hierarchy.
//!
//! Everything here is pure (works on strings) except [`read_mounts`] and
//! [`read_own_cgroups`], so it is unit-tested with fixtures.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::{CgroupError, CgroupMode};

/// Where the kernel describes our mount namespace.
pub const MOUNTINFO: &str = "/proc/self/mountinfo";
/// Where the kernel describes our own cgroup membership.
pub const PROC_SELF_CGROUP: &str = "/proc/self/cgroup";

/// The cgroup v1 controllers this driver joins (when mounted), plus the
/// named `name=systemd` hierarchy. `debug` and other named hierarchies are
/// left alone, as runc does.
pub const V1_SUBSYSTEMS: &[&str] = &[
    "cpu",
    "cpuacct",
    "cpuset",
    "memory",
    "devices",
    "freezer",
    "net_cls",
    "net_prio",
    "blkio",
    "perf_event",
    "hugetlb",
    "pids",
    "rdma",
    "misc",
    "name=systemd",
];

/// Key of the cgroup v2 (unified) directory in [`crate::CgroupDriver::paths`].
pub const UNIFIED_KEY: &str = "unified";

/// One cgroup filesystem mount from mountinfo.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CgroupMount {
    /// Where it is mounted (escapes like `\040` decoded).
    pub mount_point: PathBuf,
    /// The cgroup of the hierarchy that is the root of this mount (field 4).
    pub root: String,
    /// `true` for `cgroup2`, `false` for a v1 `cgroup` hierarchy.
    pub unified: bool,
    /// v1 only: the subsystems of the hierarchy from the super options, e.g.
    /// `["cpu", "cpuacct"]` or `["name=systemd"]`. Mount flags are dropped.
    pub subsystems: Vec<String>,
}

/// One line of `/proc/<pid>/cgroup`: `hierarchy-id:controller-list:path`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProcCgroup {
    /// Hierarchy id (0 for the unified hierarchy).
    pub hierarchy_id: u32,
    /// Controllers bound to the hierarchy (empty for v2), e.g. `["cpu","cpuacct"]`.
    pub controllers: Vec<String>,
    /// Path of the cgroup relative to the hierarchy root, e.g. `/user.slice`.
    pub path: String,
}

fn parse_err(path: &str, reason: String) -> CgroupError {
    CgroupError::Parse {
        path: PathBuf::from(path),
        reason,
    }
}

/// Decodes the octal escapes (`\040` space, `\011` tab, `\012` newline,
/// `\134` backslash) the kernel uses in mountinfo paths.
pub fn unescape_mount_path(s: &str) -> String {
    if !s.contains('\\') {
        return s.to_owned();
    }
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'\\' && i + 4 <= bytes.len() {
            let oct = &bytes[i + 1..i + 4];
            if oct.iter().all(|b| (b'0'..=b'7').contains(b)) {
                let v = oct
                    .iter()
                    .fold(0u32, |acc, b| acc * 8 + u32::from(b - b'0'));
                if let Ok(byte) = u8::try_from(v) {
                    out.push(byte);
                    i += 4;
                    continue;
                }
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Parses mountinfo content and returns the cgroup/cgroup2 mounts in
/// mount order. Other filesystems are skipped.
pub fn parse_mountinfo(content: &str) -> Result<Vec<CgroupMount>, CgroupError> {
    let mut mounts = Vec::new();
    for line in content.lines() {
        if line.is_empty() {
            continue;
        }
        // id parent maj:min root mountpoint opts [optional...] - fstype source superopts
        let (pre, post) = line
            .split_once(" - ")
            .ok_or_else(|| parse_err(MOUNTINFO, format!("missing separator in line {line:?}")))?;
        let mut post_fields = post.split(' ');
        let fstype = post_fields.next().unwrap_or_default();
        let unified = match fstype {
            "cgroup2" => true,
            "cgroup" => false,
            _ => continue,
        };
        let pre_fields: Vec<&str> = pre.split(' ').collect();
        if pre_fields.len() < 6 {
            return Err(parse_err(
                MOUNTINFO,
                format!("too few fields in line {line:?}"),
            ));
        }
        let _source = post_fields.next();
        let super_opts = post_fields.next().unwrap_or_default();
        let subsystems = if unified {
            Vec::new()
        } else {
            super_opts
                .split(',')
                .filter(|o| V1_SUBSYSTEMS.contains(o) || o.starts_with("name="))
                .map(str::to_owned)
                .collect()
        };
        mounts.push(CgroupMount {
            mount_point: PathBuf::from(unescape_mount_path(pre_fields[4])),
            root: unescape_mount_path(pre_fields[3]),
            unified,
            subsystems,
        });
    }
    Ok(mounts)
}

/// Parses `/proc/<pid>/cgroup` content.
pub fn parse_proc_cgroup(content: &str) -> Result<Vec<ProcCgroup>, CgroupError> {
    let mut out = Vec::new();
    for line in content.lines() {
        if line.is_empty() {
            continue;
        }
        let mut parts = line.splitn(3, ':');
        let (Some(id), Some(ctrls), Some(path)) = (parts.next(), parts.next(), parts.next()) else {
            return Err(parse_err(
                PROC_SELF_CGROUP,
                format!("malformed line {line:?}"),
            ));
        };
        let hierarchy_id = id
            .parse()
            .map_err(|_| parse_err(PROC_SELF_CGROUP, format!("bad hierarchy id in {line:?}")))?;
        out.push(ProcCgroup {
            hierarchy_id,
            controllers: ctrls
                .split(',')
                .filter(|c| !c.is_empty())
                .map(str::to_owned)
                .collect(),
            path: path.to_owned(),
        });
    }
    Ok(out)
}

fn has_real_v1_controller(m: &CgroupMount) -> bool {
    !m.unified && m.subsystems.iter().any(|s| !s.starts_with("name="))
}

/// Decides the host's cgroup mode from its cgroup mounts:
/// a cgroup2 mount and no v1 controller hierarchy is [`CgroupMode::V2`]
/// (stray named v1 hierarchies are ignored), both is
/// [`CgroupMode::Hybrid`], only v1 is [`CgroupMode::V1`].
pub fn mode_from_mounts(mounts: &[CgroupMount]) -> Result<CgroupMode, CgroupError> {
    let has_v2 = mounts.iter().any(|m| m.unified);
    let has_v1_ctrl = mounts.iter().any(has_real_v1_controller);
    let has_v1 = mounts
        .iter()
        .any(|m| !m.unified && !m.subsystems.is_empty());
    match (has_v2, has_v1_ctrl, has_v1) {
        (true, false, _) => Ok(CgroupMode::V2),
        (true, true, _) => Ok(CgroupMode::Hybrid),
        (false, _, true) => Ok(CgroupMode::V1),
        (false, _, false) => Err(CgroupError::NoCgroupFs),
    }
}

/// Reads and parses `/proc/self/mountinfo` (cgroup mounts only).
pub fn read_mounts() -> Result<Vec<CgroupMount>, CgroupError> {
    let content = std::fs::read_to_string(MOUNTINFO).map_err(|source| CgroupError::Read {
        path: PathBuf::from(MOUNTINFO),
        source,
    })?;
    parse_mountinfo(&content)
}

/// Reads and parses `/proc/self/cgroup`.
pub fn read_own_cgroups() -> Result<Vec<ProcCgroup>, CgroupError> {
    let content =
        std::fs::read_to_string(PROC_SELF_CGROUP).map_err(|source| CgroupError::Read {
            path: PathBuf::from(PROC_SELF_CGROUP),
            source,
        })?;
    parse_proc_cgroup(&content)
}

/// A validated OCI cgroups path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CgroupsPath {
    /// Absolute paths are relative to each hierarchy root; relative ones to
    /// the caller's own cgroup.
    pub absolute: bool,
    /// Normalised components (no empty, `.` or `..`).
    pub components: Vec<String>,
}

/// Validates an OCI `linux.cgroupsPath`: rejects empty paths, NUL bytes,
/// `..` components and paths that name the root (or own) cgroup itself.
pub fn parse_cgroups_path(path: &str) -> Result<CgroupsPath, CgroupError> {
    let invalid = |reason: &str| CgroupError::InvalidPath {
        path: path.to_owned(),
        reason: reason.to_owned(),
    };
    if path.is_empty() {
        return Err(invalid("path is empty"));
    }
    if path.contains('\0') {
        return Err(invalid("path contains a NUL byte"));
    }
    let mut components = Vec::new();
    for c in path.split('/') {
        match c {
            "" | "." => {}
            ".." => return Err(invalid("path contains a \"..\" component")),
            c => components.push(c.to_owned()),
        }
    }
    if components.is_empty() {
        return Err(invalid(
            "path names the hierarchy root (or the caller's own cgroup), not a new cgroup",
        ));
    }
    Ok(CgroupsPath {
        absolute: path.starts_with('/'),
        components,
    })
}

/// Where a driver's directories are, as computed by [`resolve`].
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ResolvedPaths {
    /// v1 subsystem (or `name=systemd`) -> cgroup directory. Co-mounted
    /// subsystems share a directory.
    pub v1: BTreeMap<String, PathBuf>,
    /// v1 subsystem -> mount point of its hierarchy.
    pub v1_mounts: BTreeMap<String, PathBuf>,
    /// The cgroup v2 directory (v2 and hybrid hosts).
    pub unified: Option<PathBuf>,
    /// Mount point of the cgroup2 filesystem.
    pub unified_mount: Option<PathBuf>,
}

fn join_components<'a>(base: &Path, comps: impl IntoIterator<Item = &'a str>) -> PathBuf {
    let mut p = base.to_path_buf();
    for c in comps {
        if !c.is_empty() && c != "." {
            p.push(c);
        }
    }
    p
}

/// The directory for `path` in the hierarchy mounted by `mount`, given the
/// caller's own cgroup in that hierarchy (needed for relative paths only).
fn dir_in(
    mount: &CgroupMount,
    own: Option<&str>,
    path: &CgroupsPath,
    what: &str,
) -> Result<PathBuf, CgroupError> {
    let base = if path.absolute {
        mount.mount_point.clone()
    } else {
        let own = own.ok_or_else(|| {
            parse_err(
                PROC_SELF_CGROUP,
                format!("no entry for the {what} hierarchy"),
            )
        })?;
        // The mount shows the hierarchy from `root` down: strip it.
        let rel = if mount.root == "/" {
            own
        } else {
            match own.strip_prefix(mount.root.as_str()) {
                Some(rest) if rest.is_empty() || rest.starts_with('/') => rest,
                _ => own,
            }
        };
        join_components(&mount.mount_point, rel.split('/'))
    };
    Ok(join_components(
        &base,
        path.components.iter().map(String::as_str),
    ))
}

/// Resolves a cgroups path against the host's cgroup mounts.
///
/// `own` is the caller's `/proc/self/cgroup`; it is only consulted for
/// relative paths (pass an empty slice for absolute ones).
pub fn resolve(
    mounts: &[CgroupMount],
    own: &[ProcCgroup],
    cgroups_path: &str,
) -> Result<(CgroupMode, ResolvedPaths), CgroupError> {
    let path = parse_cgroups_path(cgroups_path)?;
    let mode = mode_from_mounts(mounts)?;
    let mut out = ResolvedPaths::default();
    if mode != CgroupMode::V2 {
        for m in mounts.iter().filter(|m| !m.unified) {
            for sub in &m.subsystems {
                if !V1_SUBSYSTEMS.contains(&sub.as_str()) || out.v1.contains_key(sub) {
                    continue;
                }
                let own_path = own
                    .iter()
                    .find(|c| c.hierarchy_id != 0 && c.controllers.iter().any(|x| x == sub))
                    .map(|c| c.path.as_str());
                let dir = dir_in(m, own_path, &path, sub)?;
                out.v1.insert(sub.clone(), dir);
                out.v1_mounts.insert(sub.clone(), m.mount_point.clone());
            }
        }
    }
    if mode != CgroupMode::V1 {
        if let Some(m) = mounts.iter().find(|m| m.unified) {
            let own_path = own
                .iter()
                .find(|c| c.hierarchy_id == 0 && c.controllers.is_empty())
                .map(|c| c.path.as_str());
            out.unified = Some(dir_in(m, own_path, &path, "unified")?);
            out.unified_mount = Some(m.mount_point.clone());
        }
    }
    Ok((mode, out))
}

#[cfg(test)]
pub(crate) mod fixtures {
    /// This project's CI host: hybrid, cpu and cpuacct separate, hugetlb in v2.
    pub const HYBRID_SPLIT: &str = "\
22 27 0:21 / /proc rw,relatime - proc proc rw
23 27 0:22 / /sys rw,relatime - sysfs sysfs rw
27 1 254:0 / / rw,relatime - ext4 /dev/vda rw,discard
31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu
33 31 0:30 / /sys/fs/cgroup/cpuacct rw,relatime - cgroup cgroup rw,cpuacct
34 31 0:31 / /sys/fs/cgroup/cpuset rw,relatime - cgroup cgroup rw,cpuset
35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
36 31 0:33 / /sys/fs/cgroup/devices rw,relatime - cgroup cgroup rw,devices
37 31 0:34 / /sys/fs/cgroup/freezer rw,relatime - cgroup cgroup rw,freezer
38 31 0:35 / /sys/fs/cgroup/blkio rw,relatime - cgroup cgroup rw,blkio
39 31 0:36 / /sys/fs/cgroup/pids rw,relatime - cgroup cgroup rw,pids
40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,name=systemd
41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
";
    pub const HYBRID_SPLIT_SELF: &str = "\
9:name=systemd:/
8:pids:/
7:blkio:/
6:freezer:/
5:devices:/
4:memory:/process_api/8a5b
3:cpuset:/
2:cpuacct:/
1:cpu:/
0::/
";

    /// A pure v2 host (systemd), process in a user slice.
    pub const V2_ONLY: &str = "\
21 26 0:20 / /sys rw,nosuid,nodev,noexec,relatime shared:7 - sysfs sysfs rw
26 1 259:2 / / rw,relatime shared:1 - ext4 /dev/nvme0n1p2 rw,errors=remount-ro
30 21 0:26 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime shared:9 - cgroup2 cgroup2 rw,nsdelegate,memory_recursiveprot
";
    pub const V2_ONLY_SELF: &str = "0::/user.slice/user-1000.slice/session-3.scope\n";

    /// A pure v1 host with cpu,cpuacct and net_cls,net_prio co-mounted.
    pub const V1_COMOUNT: &str = "\
25 18 0:22 / /sys/fs/cgroup ro,nosuid,nodev,noexec shared:9 - tmpfs tmpfs ro,mode=755
26 25 0:23 / /sys/fs/cgroup/systemd rw,nosuid,nodev,noexec,relatime shared:10 - cgroup cgroup rw,xattr,release_agent=/lib/systemd/systemd-cgroups-agent,name=systemd
29 25 0:26 / /sys/fs/cgroup/cpu,cpuacct rw,nosuid,nodev,noexec,relatime shared:13 - cgroup cgroup rw,cpu,cpuacct
30 25 0:27 / /sys/fs/cgroup/net_cls,net_prio rw,nosuid,nodev,noexec,relatime shared:14 - cgroup cgroup rw,net_cls,net_prio
31 25 0:28 / /sys/fs/cgroup/memory rw,nosuid,nodev,noexec,relatime shared:15 - cgroup cgroup rw,memory
32 25 0:29 / /sys/fs/cgroup/cpuset rw,nosuid,nodev,noexec,relatime shared:16 - cgroup cgroup rw,cpuset,clone_children
33 25 0:30 / /sys/fs/cgroup/hugetlb rw,nosuid,nodev,noexec,relatime shared:17 - cgroup cgroup rw,hugetlb
34 25 0:31 / /sys/fs/cgroup/freezer rw,nosuid,nodev,noexec,relatime shared:18 - cgroup cgroup rw,freezer
35 25 0:32 / /sys/fs/cgroup/pids rw,nosuid,nodev,noexec,relatime shared:19 - cgroup cgroup rw,pids
36 25 0:33 / /sys/fs/cgroup/debug rw,nosuid,nodev,noexec,relatime shared:20 - cgroup cgroup rw,debug
37 25 0:34 / /sys/fs/cgroup/my\\040dir rw,relatime - cgroup cgroup rw,name=other
";
    pub const V1_COMOUNT_SELF: &str = "\
12:name=other:/
11:debug:/
10:pids:/user.slice/user-1000.slice/session-2.scope
9:freezer:/
8:hugetlb:/
7:cpuset:/
6:memory:/user.slice/user-1000.slice/session-2.scope
5:net_cls,net_prio:/
4:cpu,cpuacct:/user.slice
1:name=systemd:/user.slice/user-1000.slice/session-2.scope
";
}

#[cfg(test)]
mod tests {
    use super::fixtures::*;
    use super::*;

    fn p(s: &str) -> PathBuf {
        PathBuf::from(s)
    }

    #[test]
    fn parses_hybrid_with_separate_cpu_and_cpuacct() {
        let mounts = parse_mountinfo(HYBRID_SPLIT).expect("parse");
        assert_eq!(mounts.len(), 10);
        assert_eq!(mounts[0].mount_point, p("/sys/fs/cgroup/cpu"));
        assert_eq!(mounts[0].subsystems, vec!["cpu"]);
        assert_eq!(mounts[1].subsystems, vec!["cpuacct"]);
        assert_eq!(mounts[8].subsystems, vec!["name=systemd"]);
        assert!(mounts[9].unified);
        assert_eq!(mode_from_mounts(&mounts).expect("mode"), CgroupMode::Hybrid);
    }

    #[test]
    fn parses_v2_only() {
        let mounts = parse_mountinfo(V2_ONLY).expect("parse");
        assert_eq!(mounts.len(), 1);
        assert!(mounts[0].unified);
        assert_eq!(mounts[0].mount_point, p("/sys/fs/cgroup"));
        assert_eq!(mode_from_mounts(&mounts).expect("mode"), CgroupMode::V2);
    }

    #[test]
    fn parses_v1_comounted() {
        let mounts = parse_mountinfo(V1_COMOUNT).expect("parse");
        let cpu = mounts
            .iter()
            .find(|m| m.subsystems.contains(&"cpu".to_owned()))
            .expect("cpu");
        assert_eq!(cpu.subsystems, vec!["cpu", "cpuacct"]);
        assert_eq!(cpu.mount_point, p("/sys/fs/cgroup/cpu,cpuacct"));
        // mount flags such as xattr/release_agent/clone_children are dropped
        let sd = &mounts[0];
        assert_eq!(sd.subsystems, vec!["name=systemd"]);
        let cs = mounts
            .iter()
            .find(|m| m.subsystems.contains(&"cpuset".to_owned()))
            .expect("cpuset");
        assert_eq!(cs.subsystems, vec!["cpuset"]);
        // escaped mount point
        let other = mounts.last().expect("last");
        assert_eq!(other.mount_point, p("/sys/fs/cgroup/my dir"));
        assert_eq!(mode_from_mounts(&mounts).expect("mode"), CgroupMode::V1);
    }

    #[test]
    fn mode_edge_cases() {
        assert!(matches!(
            mode_from_mounts(&[]),
            Err(CgroupError::NoCgroupFs)
        ));
        // v2 host with a stray name=systemd v1 mount stays V2
        let mut mounts = parse_mountinfo(V2_ONLY).expect("parse");
        mounts.push(CgroupMount {
            mount_point: p("/sys/fs/cgroup/systemd"),
            root: "/".into(),
            unified: false,
            subsystems: vec!["name=systemd".into()],
        });
        assert_eq!(mode_from_mounts(&mounts).expect("mode"), CgroupMode::V2);
        assert!(parse_mountinfo("garbage line").is_err());
    }

    #[test]
    fn parses_proc_cgroup() {
        let own = parse_proc_cgroup(V1_COMOUNT_SELF).expect("parse");
        assert_eq!(own.len(), 10);
        assert_eq!(own[7].controllers, vec!["net_cls", "net_prio"]);
        assert_eq!(own[9].controllers, vec!["name=systemd"]);
        let v2 = parse_proc_cgroup(V2_ONLY_SELF).expect("parse");
        assert_eq!(
            v2,
            vec![ProcCgroup {
                hierarchy_id: 0,
                controllers: vec![],
                path: "/user.slice/user-1000.slice/session-3.scope".into()
            }]
        );
        // a path may contain ':'
        let odd = parse_proc_cgroup("0::/a:b\n").expect("parse");
        assert_eq!(odd[0].path, "/a:b");
        assert!(parse_proc_cgroup("nonsense").is_err());
    }

    #[test]
    fn validates_cgroups_path() {
        assert!(parse_cgroups_path("").is_err());
        assert!(parse_cgroups_path("/").is_err());
        assert!(parse_cgroups_path(".").is_err());
        assert!(parse_cgroups_path("/a/../b").is_err());
        assert!(parse_cgroups_path("..").is_err());
        assert!(parse_cgroups_path("/a\0b").is_err());
        let ok = parse_cgroups_path("//a/./b/").expect("ok");
        assert!(ok.absolute);
        assert_eq!(ok.components, vec!["a", "b"]);
        // "..foo" is a legal name
        assert!(parse_cgroups_path("a/..foo").is_ok());
    }

    #[test]
    fn resolves_absolute_on_hybrid() {
        let mounts = parse_mountinfo(HYBRID_SPLIT).expect("parse");
        let (mode, r) = resolve(&mounts, &[], "/cryo/abc").expect("resolve");
        assert_eq!(mode, CgroupMode::Hybrid);
        assert_eq!(r.v1["cpu"], p("/sys/fs/cgroup/cpu/cryo/abc"));
        assert_eq!(r.v1["cpuacct"], p("/sys/fs/cgroup/cpuacct/cryo/abc"));
        assert_eq!(r.v1["name=systemd"], p("/sys/fs/cgroup/systemd/cryo/abc"));
        assert_eq!(r.v1_mounts["memory"], p("/sys/fs/cgroup/memory"));
        assert_eq!(r.v1.len(), 9);
        assert_eq!(r.unified, Some(p("/sys/fs/cgroup/unified/cryo/abc")));
        assert_eq!(r.unified_mount, Some(p("/sys/fs/cgroup/unified")));
    }

    #[test]
    fn resolves_relative_on_hybrid() {
        let mounts = parse_mountinfo(HYBRID_SPLIT).expect("parse");
        let own = parse_proc_cgroup(HYBRID_SPLIT_SELF).expect("parse");
        let (_, r) = resolve(&mounts, &own, "ctr").expect("resolve");
        assert_eq!(
            r.v1["memory"],
            p("/sys/fs/cgroup/memory/process_api/8a5b/ctr")
        );
        assert_eq!(r.v1["cpu"], p("/sys/fs/cgroup/cpu/ctr"));
        assert_eq!(r.unified, Some(p("/sys/fs/cgroup/unified/ctr")));
    }

    #[test]
    fn resolves_on_v2_only() {
        let mounts = parse_mountinfo(V2_ONLY).expect("parse");
        let own = parse_proc_cgroup(V2_ONLY_SELF).expect("parse");
        let (mode, r) = resolve(&mounts, &own, "cryo/x").expect("resolve");
        assert_eq!(mode, CgroupMode::V2);
        assert!(r.v1.is_empty());
        assert_eq!(
            r.unified,
            Some(p(
                "/sys/fs/cgroup/user.slice/user-1000.slice/session-3.scope/cryo/x"
            ))
        );
        let (_, r) = resolve(&mounts, &[], "/machine.slice/x").expect("resolve");
        assert_eq!(r.unified, Some(p("/sys/fs/cgroup/machine.slice/x")));
    }

    #[test]
    fn resolves_on_v1_comounted() {
        let mounts = parse_mountinfo(V1_COMOUNT).expect("parse");
        let own = parse_proc_cgroup(V1_COMOUNT_SELF).expect("parse");
        let (mode, r) = resolve(&mounts, &own, "x").expect("resolve");
        assert_eq!(mode, CgroupMode::V1);
        assert_eq!(r.v1["cpu"], p("/sys/fs/cgroup/cpu,cpuacct/user.slice/x"));
        assert_eq!(r.v1["cpuacct"], r.v1["cpu"]);
        assert_eq!(r.v1["net_prio"], p("/sys/fs/cgroup/net_cls,net_prio/x"));
        assert_eq!(
            r.v1["name=systemd"],
            p("/sys/fs/cgroup/systemd/user.slice/user-1000.slice/session-2.scope/x")
        );
        assert!(!r.v1.contains_key("debug"));
        assert!(!r.v1.contains_key("name=other"));
        assert_eq!(r.unified, None);
    }

    #[test]
    fn relative_path_strips_mount_root() {
        // inside a container: the hierarchy is mounted from /docker/abc
        let mi = "40 31 0:37 /docker/abc /sys/fs/cgroup rw - cgroup2 cgroup2 rw\n";
        let mounts = parse_mountinfo(mi).expect("parse");
        let own = parse_proc_cgroup("0::/docker/abc/sub\n").expect("parse");
        let (_, r) = resolve(&mounts, &own, "ctr").expect("resolve");
        assert_eq!(r.unified, Some(p("/sys/fs/cgroup/sub/ctr")));
        // relative path but no own entry for the hierarchy
        assert!(resolve(&mounts, &[], "ctr").is_err());
    }
}
