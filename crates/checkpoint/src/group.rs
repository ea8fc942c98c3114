//! Pod checkpoints: several containers that share namespaces, like a
//! Kubernetes pod (one holds the network, IPC and UTS namespaces, the
//! others join them by path), checkpointed as one consistent cut and
//! restored together.
//!
//! Checkpoint: lock every member (in id order, so two group verbs cannot
//! deadlock), freeze every cgroup, then dump each container in turn with
//! CRIU leaving it frozen (`leave_running` over a frozen cgroup): no member
//! runs while another is dumped. Namespaces a member joins by path are
//! external in its dump (network) or joined at restore (IPC, UTS). Only when
//! every dump succeeded are they all destroyed (or, with `leave_running`,
//! thawed); any failure thaws them all and removes the partial images.
//!
//! Restore: the holder first (its namespaces come back with it), then each
//! member, joining the holder's new namespaces (`/proc/<pid>/ns/<type>`)
//! instead of the paths in its config.
//!
//! Layout of `--image-root DIR`: `group.json` ([`Group`]), and per container
//! `DIR/<id>/images/`.

use std::collections::BTreeMap;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use oci_spec::runtime::LinuxNamespaceType;
use serde::{Deserialize, Serialize};

use cryo_container::store::{Locked, Record};
use cryo_container::Store;
use cryo_oci::Status;

use crate::error::{CheckpointError, Ctx, Result};
use crate::{CheckpointOptions, RestoreOptions};

pub const GROUP_FILE: &str = "group.json";

/// The namespaces pod members share with their holder.
const SHARED: &[(&str, LinuxNamespaceType)] = &[
    ("net", LinuxNamespaceType::Network),
    ("ipc", LinuxNamespaceType::Ipc),
    ("uts", LinuxNamespaceType::Uts),
];

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Member {
    pub id: String,
    pub bundle: PathBuf,
    /// Namespace names (`net`, `ipc`, `uts`) it shares with the holder.
    pub joins: Vec<String>,
}

/// What `group.json` holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Group {
    pub holder: Member,
    pub members: Vec<Member>,
    pub checkpointed: String,
}

fn ns_inode(pid: i32, name: &str) -> Option<u64> {
    std::fs::metadata(format!("/proc/{pid}/ns/{name}"))
        .ok()
        .map(|m| m.ino())
}

/// Which container holds the namespaces the others join: the one whose
/// config creates (does not join) its network namespace and whose network
/// namespace the others share.
fn plan(records: &[Record]) -> Result<(usize, Vec<Vec<String>>)> {
    let holder = records
        .iter()
        .position(|r| {
            crate::externals::creates_ns(&r.config, LinuxNamespaceType::Network)
                && records.iter().filter(|o| o.id != r.id).all(|o| {
                    ns_inode(o.init_pid, "net").is_some()
                        && ns_inode(o.init_pid, "net") == ns_inode(r.init_pid, "net")
                })
        })
        .ok_or_else(|| {
            CheckpointError::Invalid(
                "no container of the group holds a network namespace all the others join by path"
                    .into(),
            )
        })?;
    let h = &records[holder];
    let mut joins = Vec::new();
    for r in records {
        let mut j = Vec::new();
        if r.id != h.id {
            for (name, t) in SHARED {
                let joined = crate::externals::joined_ns(&r.config, *t).is_some();
                let same = ns_inode(r.init_pid, name).is_some()
                    && ns_inode(r.init_pid, name) == ns_inode(h.init_pid, name);
                if joined && same {
                    j.push((*name).to_string());
                }
            }
        }
        joins.push(j);
    }
    Ok((holder, joins))
}

/// Checkpoints the containers `ids` as one group under `image_root`.
pub fn checkpoint_group(
    store: &Store,
    ids: &[String],
    image_root: &Path,
    base: &CheckpointOptions,
) -> Result<Group> {
    if ids.len() < 2 {
        return Err(CheckpointError::Invalid(
            "--group needs at least two container ids".into(),
        ));
    }
    let mut sorted: Vec<&String> = ids.iter().collect();
    sorted.sort();
    sorted.dedup();
    if sorted.len() != ids.len() {
        return Err(CheckpointError::Invalid(
            "--group lists a container twice".into(),
        ));
    }
    let root = crate::private_dir(image_root)?;
    if root.join(GROUP_FILE).exists() {
        return Err(CheckpointError::Invalid(format!(
            "{} already holds a group checkpoint",
            root.display()
        )));
    }
    // Locks in id order; the checkpoint then works on the records.
    let mut locks: Vec<Locked> = Vec::new();
    let mut records: Vec<Record> = Vec::new();
    for id in &sorted {
        let l = store.lock(id)?;
        let r = l.load()?;
        if !matches!(r.status(), Status::Running | Status::Paused) {
            return Err(cryo_container::ContainerError::NotRunningId((*id).clone()).into());
        }
        locks.push(l);
        records.push(r);
    }
    let (holder, joins) = plan(&records)?;

    let cgroups: Vec<_> = records
        .iter()
        .map(|r| cryo_cgroups::from_paths(r.cgroup_paths.clone()))
        .collect::<std::result::Result<_, _>>()?;
    let was_paused: Vec<bool> = cgroups
        .iter()
        .map(|c| c.is_frozen().unwrap_or(false))
        .collect();
    let thaw_all = |cgroups: &[Box<dyn cryo_cgroups::CgroupDriver>]| {
        for ((c, paused), l) in cgroups.iter().zip(&was_paused).zip(&locks) {
            if !paused && c.thaw().is_ok() {
                let _ = l.clear_frozen();
            }
        }
    };
    // The cut: nothing of the pod runs from here on. Each freeze of ours
    // is marked first, for the next verb to undo if we die.
    for ((c, paused), l) in cgroups.iter().zip(&was_paused).zip(&locks) {
        if !paused {
            if let Err(e) = l.mark_frozen(&cryo_container::store::Frozen::default()) {
                thaw_all(&cgroups);
                return Err(e.into());
            }
        }
        if let Err(e) = c.freeze() {
            thaw_all(&cgroups);
            return Err(e.into());
        }
    }
    let dumped = dump_all(&root, &records, base);
    if let Err(e) = dumped {
        thaw_all(&cgroups);
        for r in &records {
            let _ = std::fs::remove_dir_all(root.join(&r.id));
        }
        return Err(e);
    }
    let member = |i: usize| Member {
        id: records[i].id.clone(),
        bundle: records[i].bundle.clone(),
        joins: joins[i].clone(),
    };
    let group = Group {
        holder: member(holder),
        members: (0..records.len())
            .filter(|i| *i != holder)
            .map(member)
            .collect(),
        checkpointed: cryo_oci::time::rfc3339(std::time::SystemTime::now()),
    };
    let json =
        serde_json::to_vec_pretty(&group).map_err(|e| CheckpointError::Invalid(e.to_string()))?;
    crate::write_private(&root.join(GROUP_FILE), &json)?;
    if base.leave_running {
        thaw_all(&cgroups);
    } else {
        // Members first: the holder's namespaces go last.
        let mut order: Vec<usize> = (0..records.len()).filter(|i| *i != holder).collect();
        order.push(holder);
        let mut locks: Vec<Option<Locked>> = locks.into_iter().map(Some).collect();
        for i in order {
            if let Some(l) = locks[i].take() {
                cryo_container::destroy_locked(l, &records[i])?;
            }
        }
    }
    Ok(group)
}

fn dump_all(root: &Path, records: &[Record], base: &CheckpointOptions) -> Result<()> {
    for r in records {
        let mut opts = base.for_container(&r.id, root.join(&r.id).join("images"));
        // Every member stays frozen until all are dumped.
        opts.leave_running = true;
        crate::checkpoint::dump_record(r, None, &opts)?;
    }
    Ok(())
}

/// Restores a group: the holder, then its members in its namespaces.
/// Returns id → pid. If a member fails, the ones restored are deleted again.
pub fn restore_group(
    store: &Store,
    image_root: &Path,
    base: &RestoreOptions,
) -> Result<BTreeMap<String, i32>> {
    let path = image_root.join(GROUP_FILE);
    let bytes = std::fs::read(&path).ctx(|| format!("read {}", path.display()))?;
    let group: Group = serde_json::from_slice(&bytes)
        .map_err(|e| CheckpointError::Invalid(format!("{}: {e}", path.display())))?;
    for m in std::iter::once(&group.holder).chain(&group.members) {
        cryo_oci::validate_id(&m.id).map_err(cryo_container::ContainerError::from)?;
    }
    let one = |m: &Member, namespace_paths: Vec<(LinuxNamespaceType, PathBuf)>| RestoreOptions {
        namespace_paths,
        ..base.for_container(&m.id, &m.bundle, image_root.join(&m.id).join("images"))
    };
    // A connection between two members must not see its other end
    // missing: with --tcp-established the holder's network namespace is
    // locked from before its sockets exist until every member is back
    // (see crate::netlock for why CRIU's own lock does not do it).
    let locked = base.tcp_established;
    let mut holder_opts = one(&group.holder, Vec::new());
    holder_opts.hold_network_locked = locked;
    let holder = crate::restore(store, &holder_opts)?;
    let mut pids = BTreeMap::new();
    pids.insert(group.holder.id.clone(), holder.pid);
    for m in &group.members {
        let paths = m
            .joins
            .iter()
            .filter_map(|name| {
                SHARED
                    .iter()
                    .find(|(n, _)| n == name)
                    .map(|(n, t)| (*t, PathBuf::from(format!("/proc/{}/ns/{n}", holder.pid))))
            })
            .collect();
        match crate::restore(store, &one(m, paths)) {
            Ok(r) => {
                pids.insert(m.id.clone(), r.pid);
            }
            Err(e) => {
                for id in pids.keys().rev() {
                    let _ = cryo_container::delete(store, id, true);
                }
                return Err(CheckpointError::Invalid(format!(
                    "restore of group member {}: {e}",
                    m.id
                )));
            }
        }
    }
    if locked {
        crate::netlock::unlock(holder.pid);
    }
    Ok(pids)
}
