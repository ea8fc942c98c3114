//! Restore through `create`: a bundle whose config.json carries the
//! annotation `org.cryo.restore-from=PATH` (an image directory or an
//! archive) is restored by `cryo create` / `cryo run` instead of started
//! fresh, so an unmodified client (Podman, containerd) can start a container
//! from a checkpoint. The restored container waits frozen, `created` in its
//! state, until `start` thaws it.
//!
//! Security stance: the checkpoint decides what runs, with the bundle's
//! namespaces and cgroup, so only checkpoints root controls are used: PATH
//! must be absolute, owned by root and not writable by group or others (an
//! archive file, or an image directory). Archives are verified whole
//! before anything is restored (see [`crate::archive`]).

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use cryo_container::Store;

use crate::error::{CheckpointError, Ctx, Result};
use crate::{RestoreOptions, Restored};

pub const RESTORE_FROM: &str = "org.cryo.restore-from";

/// The checkpoint a spec asks to be restored from, if any.
pub fn source(spec: &oci_spec::runtime::Spec) -> Option<PathBuf> {
    spec.annotations()
        .as_ref()
        .and_then(|a| a.get(RESTORE_FROM))
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
}

/// Refuses a checkpoint root does not control.
pub fn check_trusted(path: &Path) -> Result<std::fs::Metadata> {
    let refuse =
        |why: &str| CheckpointError::Invalid(format!("{RESTORE_FROM}={}: {why}", path.display()));
    if !path.is_absolute() {
        return Err(refuse("the path must be absolute"));
    }
    let meta = std::fs::metadata(path).ctx(|| format!("{RESTORE_FROM}={}", path.display()))?;
    if meta.uid() != 0 {
        return Err(refuse(
            "not owned by root (refused: it would decide what runs)",
        ));
    }
    if meta.mode() & 0o022 != 0 {
        return Err(refuse("writable by group or others (refused)"));
    }
    if !meta.is_dir() && !meta.is_file() {
        return Err(refuse("neither an image directory nor an archive"));
    }
    Ok(meta)
}

/// Creates container `opts.id` by restoring `from` (frozen until start).
pub fn create_from_checkpoint(
    store: &Store,
    from: &Path,
    mut opts: RestoreOptions,
) -> Result<Restored> {
    let meta = check_trusted(from)?;
    opts.start_frozen = true;
    if meta.is_dir() {
        opts.image_path = from.to_path_buf();
        return crate::restore(store, &opts);
    }
    cryo_oci::validate_id(&opts.id).map_err(cryo_container::ContainerError::from)?;
    let dir = crate::archive::scratch_dir(store.root(), "import", &opts.id);
    crate::archive::extract(from, &dir)?;
    opts.image_path = dir.join(crate::archive::IMAGES);
    opts.from_archive = true;
    if opts.work_path.is_none() {
        opts.work_path = Some(store.dir(&opts.id).join("restore"));
    }
    let r = crate::restore(store, &opts);
    let _ = std::fs::remove_dir_all(&dir);
    r
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn untrusted_sources_are_refused() -> std::io::Result<()> {
        let t = tempfile::tempdir()?;
        let d = t.path().join("img");
        std::fs::create_dir(&d)?;
        std::fs::set_permissions(&d, std::fs::Permissions::from_mode(0o777))?;
        let e = check_trusted(&d)
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(e.contains("writable by group or others"), "{e}");
        std::fs::set_permissions(&d, std::fs::Permissions::from_mode(0o700))?;
        assert!(check_trusted(&d).is_ok() || nix::unistd::getuid().as_raw() != 0);
        let e = check_trusted(Path::new("rel/path"))
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(e.contains("absolute"), "{e}");
        Ok(())
    }
}
