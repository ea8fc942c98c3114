//! `cryo-checkpoint.json`: whether an image directory holds a finished
//! checkpoint, and what it held when it was finished.
//!
//! The rule, for every image directory restore, `create` from a checkpoint,
//! `--import` and inspect are given:
//!
//! * no marker: the images were not written by cryo's checkpoint (runc's,
//!   or an older cryo's): they are taken as they are, after the checks of
//!   [`crate::preflight`], and CRIU decides;
//! * `incomplete`: cryo's checkpoint wrote this before it started CRIU and
//!   never got to say it finished (the dump failed, the disk was full,
//!   cryo was killed): refused;
//! * `pre-dump`: memory only, the parent of a later dump: not restorable
//!   on its own;
//! * `lazy`: everything but the memory, which a page server holds
//!   (`checkpoint --lazy-pages`): restorable with `--lazy-pages` only;
//! * `complete`: written last, atomically, once CRIU succeeded; it lists
//!   every image file with its size (and the SHA-256 of all but the memory
//!   pages): a file that is missing, shorter or longer, or changed is
//!   refused before anything is made.

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::error::{CheckpointError, Ctx, Result};

pub const FILE: &str = "cryo-checkpoint.json";
const FORMAT: u32 = 1;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum State {
    Incomplete,
    PreDump,
    Lazy,
    Complete,
}

/// One image file of a complete checkpoint.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    pub size: u64,
    /// Absent for the memory pages (`pages-*.img`): hashing gigabytes of
    /// memory on every checkpoint and restore costs more than it is worth.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sha256: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Marker {
    pub format: u32,
    pub state: State,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub files: BTreeMap<String, Entry>,
}

/// What a restore wants of the images.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Use {
    Restore { lazy_pages: bool },
    Inspect,
}

/// Marks `dir` as holding a checkpoint in progress (before CRIU writes a
/// byte). A directory that held a finished checkpoint stops looking
/// finished from here on.
pub fn begin(dir: &Path) -> Result<()> {
    write(
        dir,
        &Marker {
            format: FORMAT,
            state: State::Incomplete,
            files: BTreeMap::new(),
        },
    )
}

/// Marks `dir` finished: `state` (pre-dump, lazy or complete) and, for a
/// complete one, the manifest of its image files.
pub fn finish(dir: &Path, state: State) -> Result<()> {
    let files = if state == State::Complete {
        manifest(dir)?
    } else {
        BTreeMap::new()
    };
    write(
        dir,
        &Marker {
            format: FORMAT,
            state,
            files,
        },
    )
}

fn write(dir: &Path, m: &Marker) -> Result<()> {
    let json = serde_json::to_vec_pretty(m).map_err(|e| CheckpointError::Invalid(e.to_string()))?;
    crate::write_private(&dir.join(FILE), &json)
}

/// The marker of `dir`; None if it has none (a foreign image).
pub fn read(dir: &Path) -> Result<Option<Marker>> {
    let path = dir.join(FILE);
    let bytes = match std::fs::read(&path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e).ctx(|| format!("read {}", path.display())),
    };
    let m: Marker = serde_json::from_slice(&bytes).map_err(|e| {
        CheckpointError::Invalid(format!(
            "checkpoint {} is unreadable: {}: {e}",
            dir.display(),
            path.display()
        ))
    })?;
    if m.format != FORMAT {
        return Err(CheckpointError::Invalid(format!(
            "checkpoint {} has format {} in {FILE}; this cryo reads format {FORMAT}",
            dir.display(),
            m.format
        )));
    }
    Ok(Some(m))
}

/// Refuses `dir` unless it may be used as `want` says; a complete
/// checkpoint's files are checked against its manifest.
pub fn check(dir: &Path, want: Use) -> Result<()> {
    let Some(m) = read(dir)? else {
        return Ok(());
    };
    let refuse = |why: &str| {
        Err(CheckpointError::Invalid(format!(
            "checkpoint {} {why}",
            dir.display()
        )))
    };
    match (m.state, want) {
        (State::Incomplete, _) => refuse(
            "is incomplete: the checkpoint that wrote it did not finish \
             (it failed, ran out of space or was killed); it cannot be used",
        ),
        (State::PreDump, Use::Restore { .. }) => refuse(
            "is a pre-dump (memory only): restore the checkpoint that was made \
             with --parent-path pointing at it",
        ),
        (State::Lazy, Use::Restore { lazy_pages: false }) => refuse(
            "holds no memory: it was made with --lazy-pages, its memory is served \
             by the checkpoint's page server; restore it with --lazy-pages --page-server",
        ),
        (State::Complete, Use::Restore { .. }) => verify(dir, &m.files),
        _ => Ok(()),
    }
}

/// The image files a manifest covers: regular files but CRIU's logs and
/// statistics (restore writes its own there later), dot files (temporary)
/// and the marker.
fn covered(name: &str) -> bool {
    !(name == FILE || name.starts_with('.') || name.ends_with(".log") || name.starts_with("stats-"))
}

fn is_pages(name: &str) -> bool {
    name.starts_with("pages-") && name.ends_with(".img")
}

fn manifest(dir: &Path) -> Result<BTreeMap<String, Entry>> {
    let mut files = BTreeMap::new();
    for e in std::fs::read_dir(dir).ctx(|| format!("read {}", dir.display()))? {
        let e = e.ctx(|| format!("read {}", dir.display()))?;
        let ft = e
            .file_type()
            .ctx(|| format!("stat {}", e.path().display()))?;
        let Some(name) = e.file_name().to_str().map(str::to_string) else {
            continue;
        };
        if !ft.is_file() || !covered(&name) {
            continue;
        }
        let entry = if is_pages(&name) {
            let size = e
                .metadata()
                .ctx(|| format!("stat {}", e.path().display()))?
                .len();
            Entry { size, sha256: None }
        } else {
            let (size, sha) = crate::archive::sha256_file(&e.path())?;
            Entry {
                size,
                sha256: Some(sha),
            }
        };
        files.insert(name, entry);
    }
    Ok(files)
}

fn verify(dir: &Path, files: &BTreeMap<String, Entry>) -> Result<()> {
    let bad = |name: &str, why: String| {
        Err(CheckpointError::Invalid(format!(
            "checkpoint image {} {why}; the checkpoint is damaged and cannot be restored",
            dir.join(name).display()
        )))
    };
    for (name, want) in files {
        if !crate::archive::valid_name(name) {
            return bad(name, "has an invalid name in the manifest".into());
        }
        let path = dir.join(name);
        let size = match std::fs::symlink_metadata(&path) {
            Ok(m) if m.is_file() => m.len(),
            Ok(_) => return bad(name, "is not a regular file".into()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return bad(name, "is missing".into())
            }
            Err(e) => return Err(e).ctx(|| format!("stat {}", path.display())),
        };
        if size < want.size {
            return bad(
                name,
                format!(
                    "is truncated: {size} bytes, the checkpoint wrote {}",
                    want.size
                ),
            );
        }
        if size != want.size {
            return bad(
                name,
                format!("has {size} bytes, the checkpoint wrote {}", want.size),
            );
        }
        if let Some(sha) = &want.sha256 {
            let (_, now) = crate::archive::sha256_file(&path)?;
            if &now != sha {
                return bad(
                    name,
                    "is corrupted: its content is not what the checkpoint wrote (SHA-256 differs)"
                        .into(),
                );
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err_of(r: Result<()>) -> String {
        r.err().map(|e| e.to_string()).unwrap_or_default()
    }

    #[test]
    fn states_and_manifest() -> std::result::Result<(), Box<dyn std::error::Error>> {
        let t = tempfile::tempdir()?;
        let d = t.path();
        let restore = Use::Restore { lazy_pages: false };
        // Foreign (no marker): accepted.
        std::fs::write(d.join("core-1.img"), b"core")?;
        check(d, restore)?;
        begin(d)?;
        assert!(err_of(check(d, restore)).contains("is incomplete"));
        assert!(err_of(check(d, Use::Inspect)).contains("is incomplete"));
        std::fs::write(d.join("pages-1.img"), vec![0u8; 8192])?;
        std::fs::write(d.join("dump.log"), b"log")?;
        finish(d, State::Complete)?;
        let m = read(d)?.ok_or("no marker")?;
        assert_eq!(m.state, State::Complete);
        assert!(m.files["core-1.img"].sha256.is_some());
        assert_eq!(m.files["pages-1.img"].sha256, None);
        assert!(!m.files.contains_key("dump.log"));
        check(d, restore)?;
        // Logs and other files may come and go.
        std::fs::write(d.join("restore.log"), b"x")?;
        std::fs::write(d.join("podman.dump"), b"x")?;
        check(d, restore)?;

        std::fs::write(d.join("core-1.img"), b"corf")?;
        assert!(err_of(check(d, restore)).contains("is corrupted"));
        std::fs::write(d.join("core-1.img"), b"core")?;
        std::fs::write(d.join("pages-1.img"), vec![0u8; 4096])?;
        assert!(err_of(check(d, restore)).contains("is truncated"));
        std::fs::remove_file(d.join("pages-1.img"))?;
        assert!(err_of(check(d, restore)).contains("is missing"));

        finish(d, State::Lazy)?;
        assert!(err_of(check(d, restore)).contains("--lazy-pages"));
        check(d, Use::Restore { lazy_pages: true })?;
        finish(d, State::PreDump)?;
        assert!(err_of(check(d, restore)).contains("pre-dump"));
        check(d, Use::Inspect)?;
        Ok(())
    }
}
