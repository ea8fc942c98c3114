//! Every container at once, for surviving a reboot: `checkpoint --all
//! --image-root DIR` dumps each running (or paused) container into
//! `DIR/<id>/` with what restoring it needs, and `restore --all --image-root
//! DIR` brings them all back once the host is up again (with /run, and so
//! cryo's state root, wiped by the reboot).
//!
//! Per container, `DIR/<id>/`:
//! * `images/`: the CRIU images;
//! * `container.json`: [`Saved`]: the id, the bundle path, when;
//! * `config.json`: the config the container was created from, for
//!   reference (restore uses the bundle's, as any restore does).
//!
//! One container failing does not stop the others; each gets an outcome.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use cryo_container::Store;
use cryo_oci::Status;

use crate::error::{CheckpointError, Ctx, Result};
use crate::{CheckpointOptions, RestoreOptions};

pub const SAVED: &str = "container.json";
pub const IMAGES: &str = "images";

/// What `checkpoint --all` remembers of each container.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Saved {
    pub id: String,
    pub bundle: PathBuf,
    pub checkpointed: String,
}

/// The result for one container.
#[derive(Debug, Clone, Serialize)]
pub struct Outcome {
    pub id: String,
    pub ok: bool,
    /// The pid of a restored container.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pid: Option<i32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// Checkpoints every running or paused container of `store` under
/// `image_root`. `base` gives the CRIU flags (its id and paths are
/// ignored).
/// `step` hears of each container as its turn comes (a progress display).
pub fn checkpoint_all(
    store: &Store,
    image_root: &Path,
    base: &CheckpointOptions,
    step: &dyn Fn(&str),
) -> Result<Vec<Outcome>> {
    let root = crate::private_dir(image_root)?;
    let mut out = Vec::new();
    for state in cryo_container::list(store)? {
        if !matches!(state.status, Status::Running | Status::Paused) {
            continue;
        }
        let id = state.id.clone();
        step(&format!("checkpointing {id}"));
        let r = checkpoint_one(store, &root, base, &id, &state.bundle);
        out.push(match r {
            Ok(()) => Outcome {
                id,
                ok: true,
                pid: None,
                error: None,
            },
            Err(e) => Outcome {
                id,
                ok: false,
                pid: None,
                error: Some(e.to_string()),
            },
        });
    }
    Ok(out)
}

fn checkpoint_one(
    store: &Store,
    root: &Path,
    base: &CheckpointOptions,
    id: &str,
    bundle: &Path,
) -> Result<()> {
    let dir = root.join(id);
    if dir.exists() {
        return Err(CheckpointError::Invalid(format!(
            "{} already exists: remove it or use another --image-root",
            dir.display()
        )));
    }
    crate::private_dir(&dir)?;
    let saved = Saved {
        id: id.to_string(),
        bundle: bundle.to_path_buf(),
        checkpointed: cryo_oci::time::rfc3339(std::time::SystemTime::now()),
    };
    let json =
        serde_json::to_vec_pretty(&saved).map_err(|e| CheckpointError::Invalid(e.to_string()))?;
    crate::write_private(&dir.join(SAVED), &json)?;
    if let Ok(config) = std::fs::read(bundle.join("config.json")) {
        crate::write_private(&dir.join("config.json"), &config)?;
    }
    let mut opts = base.for_container(id, dir.join(IMAGES));
    opts.leave_running = base.leave_running;
    let r = crate::checkpoint(store, &opts).map(drop);
    if r.is_err() {
        // A failed dump leaves the container running; no folder claims it.
        let _ = std::fs::remove_dir_all(&dir);
    }
    r
}

/// The saved containers under `image_root`, sorted by id.
pub fn saved(image_root: &Path) -> Result<Vec<Saved>> {
    let mut v = Vec::new();
    for e in std::fs::read_dir(image_root).ctx(|| format!("read {}", image_root.display()))? {
        let e = e.ctx(|| format!("read {}", image_root.display()))?;
        let p = e.path().join(SAVED);
        let Ok(bytes) = std::fs::read(&p) else {
            continue;
        };
        let s: Saved = serde_json::from_slice(&bytes)
            .map_err(|err| CheckpointError::Invalid(format!("{}: {err}", p.display())))?;
        cryo_oci::validate_id(&s.id)
            .map_err(|err| CheckpointError::Invalid(format!("{}: {err}", p.display())))?;
        if e.file_name().to_str() != Some(s.id.as_str()) {
            return Err(CheckpointError::Invalid(format!(
                "{}: id {:?} does not match its folder",
                p.display(),
                s.id
            )));
        }
        v.push(s);
    }
    v.sort_by(|a, b| a.id.cmp(&b.id));
    Ok(v)
}

/// Restores every container saved under `image_root` (detached). The
/// folders stay: they are the user's, and a second run finds the restored
/// ids taken and reports just that.
pub fn restore_all(
    store: &Store,
    image_root: &Path,
    base: &RestoreOptions,
    step: &dyn Fn(&str),
) -> Result<Vec<Outcome>> {
    let mut out = Vec::new();
    for s in saved(image_root)? {
        step(&format!("restoring {}", s.id));
        let dir = image_root.join(&s.id);
        let opts = base.for_container(&s.id, &s.bundle, dir.join(IMAGES));
        out.push(match crate::restore(store, &opts) {
            Ok(r) => Outcome {
                id: s.id,
                ok: true,
                pid: Some(r.pid),
                error: None,
            },
            Err(e) => Outcome {
                id: s.id,
                ok: false,
                pid: None,
                error: Some(e.to_string()),
            },
        });
    }
    Ok(out)
}
