//! What a container's dump must declare external to CRIU, and how those
//! names map back to host objects at restore.
//!
//! CRIU dumps a mount namespace whole, except mounts whose source lies
//! outside the container's root: those are "external" and travel as a name.
//! At dump, each `ext_mnt` maps a mountpoint (inside the container) to the
//! name written to the image; at restore, each maps a name from the image to
//! a host path. The names are runc's, so images move between runc and cryo:
//!
//! * a bind mount of the spec: its destination, restored from the source of
//!   the restore-time bundle (so the source may move);
//! * a masked file (bound from /dev/null): the name `/dev/null`;
//! * each cgroup v1 hierarchy bound under a `cgroup` mount: its mountpoint
//!   (`/sys/fs/cgroup/memory`), restored from the new container's cgroup;
//!   on a v2-only host the bound cgroup2 directory, likewise;
//! * the host `/sys` bound when the container has no network namespace;
//! * device nodes bound from the host (user namespaces, where mknod fails).
//!
//! Namespaces the spec joins by path (network, pid) are external too:
//! `net[<inode>]:extRootNetNS` at dump, an inherited fd at restore.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use oci_spec::runtime::{LinuxNamespaceType, Mount, Spec};

/// The image name of every masked file.
pub const DEV_NULL: &str = "/dev/null";
/// runc's keys for namespaces that came from a path.
pub const NET_NS_KEY: &str = "extRootNetNS";
pub const PID_NS_KEY: &str = "extRootPidNS";

/// One `ext_mnt` pair: `key` → `val` as CRIU takes them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExtMount {
    pub key: String,
    pub val: String,
}

fn ext(key: impl Into<String>, val: impl Into<String>) -> ExtMount {
    ExtMount {
        key: key.into(),
        val: val.into(),
    }
}

pub fn is_bind(m: &Mount) -> bool {
    m.typ().as_deref() == Some("bind")
        || m.options()
            .iter()
            .flatten()
            .any(|o| o == "bind" || o == "rbind")
}

fn lexical_clean(p: &Path) -> String {
    let mut out = PathBuf::from("/");
    for c in p.components() {
        match c {
            std::path::Component::Normal(n) => out.push(n),
            std::path::Component::ParentDir => {
                out.pop();
            }
            _ => {}
        }
    }
    out.to_string_lossy().into_owned()
}

fn namespaces(spec: &Spec) -> impl Iterator<Item = &oci_spec::runtime::LinuxNamespace> {
    spec.linux()
        .as_ref()
        .and_then(|l| l.namespaces().as_ref())
        .into_iter()
        .flatten()
}

/// Whether the spec creates a namespace of this type (not joined by path).
pub fn creates_ns(spec: &Spec, t: LinuxNamespaceType) -> bool {
    namespaces(spec)
        .any(|n| n.typ() == t && n.path().as_ref().is_none_or(|p| p.as_os_str().is_empty()))
}

/// The path of a namespace the spec joins, if it joins one of this type.
pub fn joined_ns(spec: &Spec, t: LinuxNamespaceType) -> Option<PathBuf> {
    namespaces(spec)
        .find(|n| n.typ() == t)
        .and_then(|n| n.path().clone())
        .filter(|p| !p.as_os_str().is_empty())
}

/// The mountpoint names (inside the container) of the cgroup hierarchies
/// cryo binds under a `cgroup` mount at `dest`, with the host directory of
/// each, for the container whose cgroup is `paths`.
pub fn cgroup_binds(dest: &Path, paths: &BTreeMap<String, PathBuf>) -> Vec<(String, PathBuf)> {
    let v2_only = paths.len() == 1 && paths.contains_key(cryo_cgroups::UNIFIED_KEY);
    if v2_only {
        return paths
            .values()
            .map(|dir| (lexical_clean(dest), dir.clone()))
            .collect();
    }
    let mut seen = std::collections::BTreeSet::new();
    let mut out = Vec::new();
    // Only v1 hierarchies are bound on a hybrid host (see cryo-container).
    for (ctrl, dir) in paths {
        if ctrl == cryo_cgroups::UNIFIED_KEY {
            continue;
        }
        let Ok(rel) = dir.strip_prefix("/sys/fs/cgroup") else {
            continue;
        };
        let Some(name) = rel.components().next() else {
            continue;
        };
        let name = PathBuf::from(name.as_os_str());
        if seen.insert(name.clone()) {
            out.push((lexical_clean(&dest.join(&name)), dir.clone()));
        }
    }
    out
}

/// What a dump declares external. `masked_file` tells whether a masked path
/// is a file in the running container (directories are masked by a tmpfs
/// CRIU dumps itself).
pub fn dump_mounts(
    spec: &Spec,
    cgroup_paths: &BTreeMap<String, PathBuf>,
    masked_file: impl Fn(&Path) -> bool,
) -> Vec<ExtMount> {
    let mut out = Vec::new();
    for (dest, _) in mount_sources(spec, Path::new("/"), cgroup_paths) {
        out.push(ext(dest.clone(), dest));
    }
    for p in spec
        .linux()
        .as_ref()
        .and_then(|l| l.masked_paths().as_ref())
        .into_iter()
        .flatten()
    {
        if masked_file(Path::new(p)) {
            out.push(ext(lexical_clean(Path::new(p)), DEV_NULL));
        }
    }
    dedup(out)
}

/// What a restore maps: each external name to its host path under the
/// restore-time bundle and cgroup.
pub fn restore_mounts(
    spec: &Spec,
    bundle: &Path,
    cgroup_paths: &BTreeMap<String, PathBuf>,
) -> Vec<ExtMount> {
    let mut out: Vec<ExtMount> = mount_sources(spec, bundle, cgroup_paths)
        .into_iter()
        .map(|(dest, src)| ext(dest, src.to_string_lossy().into_owned()))
        .collect();
    if spec
        .linux()
        .as_ref()
        .and_then(|l| l.masked_paths().as_ref())
        .is_some_and(|m| !m.is_empty())
    {
        out.push(ext(DEV_NULL, DEV_NULL));
    }
    dedup(out)
}

fn dedup(v: Vec<ExtMount>) -> Vec<ExtMount> {
    let mut seen = std::collections::HashSet::new();
    v.into_iter()
        .filter(|e| seen.insert(e.key.clone()))
        .collect()
}

/// (destination inside the container, host source) of every mount whose
/// source is outside the rootfs, in the order the container mounts them.
fn mount_sources(
    spec: &Spec,
    bundle: &Path,
    cgroup_paths: &BTreeMap<String, PathBuf>,
) -> Vec<(String, PathBuf)> {
    let own_net = creates_ns(spec, LinuxNamespaceType::Network);
    let own_user = creates_ns(spec, LinuxNamespaceType::User)
        || joined_ns(spec, LinuxNamespaceType::User).is_some();
    let mut out = Vec::new();
    let mut dev_is_bind = false;
    for m in spec.mounts().iter().flatten() {
        let dest = m.destination();
        let typ = m.typ().as_deref().unwrap_or("");
        if is_bind(m) {
            if dest == Path::new("/dev") {
                dev_is_bind = true;
            }
            let src = m.source().clone().unwrap_or_default();
            let src = if src.is_absolute() {
                src
            } else {
                bundle.join(src)
            };
            out.push((lexical_clean(dest), src));
        } else if typ == "cgroup" || typ == "cgroup2" {
            out.extend(cgroup_binds(dest, cgroup_paths));
        } else if typ == "sysfs" && (!own_net || own_user) {
            // cryo binds the host's /sys where it cannot mount a sysfs.
            out.push((lexical_clean(dest), PathBuf::from("/sys")));
        }
    }
    if own_user && !dev_is_bind {
        for d in device_paths(spec) {
            out.push((lexical_clean(&d), d));
        }
    }
    out
}

/// The device nodes a container gets (defaults and the spec's).
fn device_paths(spec: &Spec) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = [
        "/dev/null",
        "/dev/zero",
        "/dev/full",
        "/dev/random",
        "/dev/urandom",
        "/dev/tty",
    ]
    .iter()
    .map(PathBuf::from)
    .collect();
    for d in spec
        .linux()
        .as_ref()
        .and_then(|l| l.devices().as_ref())
        .into_iter()
        .flatten()
    {
        if !v.contains(d.path()) {
            v.push(d.path().clone());
        }
    }
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(json: &str) -> Spec {
        serde_json::from_str(json).expect("test spec")
    }

    fn base(extra_mounts: &str, ns: &str, masked: &str) -> Spec {
        spec(&format!(
            r#"{{"ociVersion":"1.0.2","root":{{"path":"rootfs"}},
            "mounts":[{{"destination":"/proc","type":"proc","source":"proc"}},
                      {{"destination":"/sys","type":"sysfs","source":"sysfs"}},
                      {{"destination":"/sys/fs/cgroup","type":"cgroup","source":"cgroup"}}{extra_mounts}],
            "linux":{{"namespaces":[{ns}],"maskedPaths":[{masked}]}}}}"#
        ))
    }

    fn cg() -> BTreeMap<String, PathBuf> {
        [
            ("memory", "/sys/fs/cgroup/memory/cryo/a"),
            ("cpu", "/sys/fs/cgroup/cpu,cpuacct/cryo/a"),
            ("cpuacct", "/sys/fs/cgroup/cpu,cpuacct/cryo/a"),
            ("unified", "/sys/fs/cgroup/unified/cryo/a"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), PathBuf::from(v)))
        .collect()
    }

    #[test]
    fn binds_cgroups_and_masks_are_external_at_dump() {
        let s = base(
            r#",{"destination":"/data/../data","type":"bind","source":"/srv/x","options":["rbind"]},
                {"destination":"/etc/hosts","source":"hosts","options":["bind","ro"]}"#,
            r#"{"type":"pid"},{"type":"network"},{"type":"mount"}"#,
            r#""/proc/kcore","/proc/acpi""#,
        );
        let got = dump_mounts(&s, &cg(), |p| p == Path::new("/proc/kcore"));
        let keys: Vec<(&str, &str)> = got
            .iter()
            .map(|e| (e.key.as_str(), e.val.as_str()))
            .collect();
        assert_eq!(
            keys,
            vec![
                ("/sys/fs/cgroup/cpu,cpuacct", "/sys/fs/cgroup/cpu,cpuacct"),
                ("/sys/fs/cgroup/memory", "/sys/fs/cgroup/memory"),
                ("/data", "/data"),
                ("/etc/hosts", "/etc/hosts"),
                ("/proc/kcore", "/dev/null"),
            ]
        );
    }

    #[test]
    fn restore_maps_names_to_new_sources() {
        let s = base(
            r#",{"destination":"/data","type":"bind","source":"/srv/new","options":["rbind"]},
                {"destination":"/etc/hosts","source":"hosts","options":["bind"]}"#,
            r#"{"type":"pid"},{"type":"network"}"#,
            r#""/proc/kcore""#,
        );
        let got = restore_mounts(&s, Path::new("/b"), &cg());
        assert!(got.contains(&ext("/data", "/srv/new")));
        assert!(got.contains(&ext("/etc/hosts", "/b/hosts")));
        assert!(got.contains(&ext(
            "/sys/fs/cgroup/memory",
            "/sys/fs/cgroup/memory/cryo/a"
        )));
        assert!(got.contains(&ext("/dev/null", "/dev/null")));
        assert!(!got.iter().any(|e| e.key == "/sys"));
    }

    #[test]
    fn host_sys_is_external_without_a_network_namespace() {
        let s = base("", r#"{"type":"pid"}"#, "");
        let got = dump_mounts(&s, &cg(), |_| true);
        assert!(got.contains(&ext("/sys", "/sys")));
    }

    #[test]
    fn v2_only_cgroup_is_one_bind() {
        let paths: BTreeMap<String, PathBuf> = [(
            "unified".to_string(),
            PathBuf::from("/sys/fs/cgroup/cryo/a"),
        )]
        .into();
        assert_eq!(
            cgroup_binds(Path::new("/sys/fs/cgroup"), &paths),
            vec![(
                "/sys/fs/cgroup".to_string(),
                PathBuf::from("/sys/fs/cgroup/cryo/a")
            )]
        );
    }

    #[test]
    fn joined_namespaces() {
        let s = base(
            "",
            r#"{"type":"network","path":"/run/netns/x"},{"type":"pid"}"#,
            "",
        );
        assert_eq!(
            joined_ns(&s, LinuxNamespaceType::Network),
            Some(PathBuf::from("/run/netns/x"))
        );
        assert!(joined_ns(&s, LinuxNamespaceType::Pid).is_none());
        assert!(creates_ns(&s, LinuxNamespaceType::Pid));
        assert!(!creates_ns(&s, LinuxNamespaceType::Network));
    }
}
