//! What a restore checks of an image directory before it makes anything
//! (state, cgroup, mounts), for images of any origin: the ones CRIU needs
//! first decode (inventory, process tree, every thread's core), the tasks
//! were dumped on this architecture, and every pages file holds the pages
//! its pagemap lists. CRIU would fail on each of these too, but later, and
//! with a line of its log; these errors name the file and what is wrong.
//! cryo's own checkpoints are also checked against their manifest
//! ([`crate::marker`]).

use std::path::Path;

use cryo_images::task::{task_state_name, CoreEntry};
use cryo_images::ImageDir;

use crate::error::{CheckpointError, Result};

/// CRIU's name (`core_entry.mtype`, as cryo-images spells it) of this
/// host's architecture.
pub fn host_arch() -> &'static str {
    match std::env::consts::ARCH {
        "powerpc64" => "ppc64",
        "s390x" => "s390",
        "mips64" => "mips",
        other => other,
    }
}

/// Refuses a thread dumped on another architecture.
fn check_arch(dir: &Path, core: &CoreEntry, tid: u32, host: &str) -> Result<()> {
    if core.arch == host {
        return Ok(());
    }
    let arch = if core.arch == "unknown" {
        "an unknown architecture"
    } else {
        core.arch
    };
    Err(CheckpointError::Invalid(format!(
        "checkpoint {} was made on {arch} (core-{tid}.img) and this host is {host}: \
         CRIU restores only on the architecture it dumped on",
        dir.display()
    )))
}

fn damaged(dir: &Path, e: cryo_images::ImageError) -> CheckpointError {
    CheckpointError::Invalid(format!(
        "checkpoint {} cannot be restored: {e}",
        dir.display()
    ))
}

/// Refuses images this host cannot restore. A directory without
/// `inventory.img` is left to CRIU (which says there is no checkpoint).
pub fn check(dir: &Path) -> Result<()> {
    if !dir.join("inventory.img").exists() {
        return Ok(());
    }
    let images = ImageDir::open(dir).map_err(|e| damaged(dir, e))?;
    images.inventory().map_err(|e| damaged(dir, e))?;
    let tree = images.pstree().map_err(|e| damaged(dir, e))?;
    let host = host_arch();
    for p in &tree {
        // CRIU reads a process's own core as core-<pid>.img. A zombie has
        // nothing else: CRIU runs no parasite in it, so its one thread's
        // id in pstree.img stays 0.
        let main = images.core(p.pid).map_err(|e| damaged(dir, e))?;
        check_arch(dir, &main, p.pid, host)?;
        let dead = main
            .task
            .as_ref()
            .is_some_and(|t| matches!(task_state_name(t.task_state), "dead" | "zombie"));
        if dead {
            continue;
        }
        for tid in p.threads.iter().filter(|t| **t != p.pid) {
            let core = images.core(*tid).map_err(|e| damaged(dir, e))?;
            check_arch(dir, &core, *tid, host)?;
        }
    }
    let page = nix::unistd::sysconf(nix::unistd::SysconfVar::PAGE_SIZE)
        .ok()
        .flatten()
        .and_then(|p| u64::try_from(p).ok())
        .unwrap_or(4096);
    for p in &tree {
        let Some(pm) = images.pagemap(p.pid).map_err(|e| damaged(dir, e))? else {
            continue;
        };
        let need = pm.present_pages().saturating_mul(page);
        let pages = format!("pages-{}.img", pm.pages_id);
        let have = std::fs::metadata(dir.join(&pages))
            .map(|m| m.len())
            .unwrap_or(0);
        if have < need {
            return Err(CheckpointError::Invalid(format!(
                "checkpoint {} cannot be restored: {pages} is truncated: pagemap-{}.img lists \
                 {} pages ({need} bytes), the file has {have} bytes",
                dir.display(),
                p.pid,
                pm.present_pages()
            )));
        }
    }
    Ok(())
}
