//! The cgroup roots a restore hands CRIU (`cg_root`): for each hierarchy,
//! the new container's cgroup as a path inside that hierarchy, so CRIU
//! restores the tree there instead of at the dumped path.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use cryo_cgroups::CgroupMount;

/// (controller name as CRIU matches it, path inside the hierarchy). The
/// unified hierarchy is the empty name, as in /proc/<pid>/cgroup.
pub fn roots(paths: &BTreeMap<String, PathBuf>, mounts: &[CgroupMount]) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for (ctrl, dir) in paths {
        let Some(m) = mounts
            .iter()
            .filter(|m| dir.starts_with(&m.mount_point))
            .max_by_key(|m| m.mount_point.as_os_str().len())
        else {
            continue;
        };
        let Ok(rel) = dir.strip_prefix(&m.mount_point) else {
            continue;
        };
        let inside = Path::new(&m.root).join(rel);
        let name = if ctrl == cryo_cgroups::UNIFIED_KEY || m.unified {
            String::new()
        } else {
            ctrl.clone()
        };
        out.push((name, inside.to_string_lossy().into_owned()));
    }
    out.sort();
    out.dedup();
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hierarchy_relative_paths() {
        let mounts = vec![
            CgroupMount {
                mount_point: "/sys/fs/cgroup/memory".into(),
                root: "/".into(),
                unified: false,
                subsystems: vec!["memory".into()],
            },
            CgroupMount {
                mount_point: "/sys/fs/cgroup/unified".into(),
                root: "/".into(),
                unified: true,
                subsystems: vec![],
            },
        ];
        let paths: BTreeMap<String, PathBuf> = [
            (
                "memory".to_string(),
                PathBuf::from("/sys/fs/cgroup/memory/cryo/x"),
            ),
            (
                "unified".to_string(),
                PathBuf::from("/sys/fs/cgroup/unified/cryo/x"),
            ),
        ]
        .into();
        assert_eq!(
            roots(&paths, &mounts),
            vec![
                (String::new(), "/cryo/x".to_string()),
                ("memory".to_string(), "/cryo/x".to_string())
            ]
        );
    }
}
