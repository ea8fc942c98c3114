//! One module per verb: parse its flags, call the library, print.

pub mod all;
pub mod checkpoint;
pub mod create;
pub mod delete;
pub mod events;
pub mod exec;
pub mod features;
pub mod inspect;
pub mod kill;
pub mod list;
pub mod migrate;
pub mod pause;
pub mod ps;
pub mod restore;
pub mod run;
pub mod spec;
pub mod start;
pub mod state;
pub mod update;
pub mod version;

use std::path::{Path, PathBuf};

/// A verb's outcome: its exit code, or the message to log and exit 1 with.
pub type Outcome = Result<u8, String>;

/// Makes a user-given path absolute against the current directory, before
/// cryo changes directory.
pub fn absolute(p: &Path) -> PathBuf {
    if p.is_absolute() {
        p.to_path_buf()
    } else {
        std::env::current_dir()
            .map(|c| c.join(p))
            .unwrap_or_else(|_| p.to_path_buf())
    }
}

pub fn err(e: impl std::fmt::Display) -> String {
    e.to_string()
}

/// Writes `text` to stdout. A closed pipe (`cryo features | head`) is not
/// an error: the reader has what it wanted.
pub fn write_stdout(text: &str) -> Result<(), String> {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => Err(format!("write stdout: {e}")),
        _ => Ok(()),
    }
}
