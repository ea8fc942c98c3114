//! Printing the per-container outcomes of `checkpoint --all` and
//! `restore --all`.

use std::path::{Path, PathBuf};

use cryo_checkpoint::all::Outcome as One;
use cryo_cli::cli::all::Format;

use super::{absolute, write_stdout, Outcome};

/// The absolute `--image-root` that `--all` or `--group` (`batch`) needs.
pub fn image_root(root: Option<&Path>, batch: &str) -> Result<PathBuf, String> {
    root.map(absolute)
        .ok_or_else(|| format!("{batch} needs --image-root"))
}

/// The row of a container a group verb handled (a group succeeds or fails
/// as a whole).
pub fn done(id: String, pid: Option<i32>) -> One {
    One {
        id,
        ok: true,
        pid,
        error: None,
    }
}

/// Prints the outcomes; fails (exit 1) if any container failed.
pub fn report(outcomes: &[One], format: Format, done: &str) -> Outcome {
    let text = match format {
        Format::Json => {
            let mut s = serde_json::to_string_pretty(outcomes).map_err(|e| e.to_string())?;
            s.push('\n');
            s
        }
        Format::Table => {
            let mut s = format!("{:<24} {:<14} {}\n", "ID", "RESULT", "DETAIL");
            for o in outcomes {
                let (result, detail) = match (&o.error, o.pid) {
                    (Some(e), _) => ("failed", e.replace('\n', " ")),
                    (None, Some(pid)) => (done, format!("pid {pid}")),
                    (None, None) => (done, String::new()),
                };
                s.push_str(&format!("{:<24} {:<14} {}\n", o.id, result, detail));
            }
            s
        }
    };
    write_stdout(&text)?;
    let failed = outcomes.iter().filter(|o| !o.ok).count();
    if failed > 0 {
        return Err(format!("{failed} of {} containers failed", outcomes.len()));
    }
    Ok(0)
}
