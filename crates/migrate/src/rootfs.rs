//! The rootfs as a tar stream: GNU tar on both sides (ownership, modes,
//! hard links, sparse files, xattrs and ACLs; on extraction tar refuses
//! absolute names and `..`, and defers symlinks that point outside).

use std::io::Read;
use std::path::Path;
use std::process::{Child, ChildStderr, Command, Stdio};

use crate::error::{Ctx, MigrateError, Result};

pub const TAR: &str = "/bin/tar";

/// `tar -c` of `dir`, its archive on the child's stdout.
pub fn spawn_create(dir: &Path) -> Result<Child> {
    Command::new(TAR)
        .args([
            "--create",
            "--file=-",
            "--numeric-owner",
            "--xattrs",
            "--xattrs-include=*",
            "--acls",
            "--sparse",
            "--one-file-system",
            "--directory",
        ])
        .arg(dir)
        .arg(".")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .ctx(|| format!("run {TAR}"))
}

/// `tar -x` into `dir`, the archive from the child's stdin.
pub fn spawn_extract(dir: &Path) -> Result<Child> {
    Command::new(TAR)
        .args([
            "--extract",
            "--file=-",
            "--numeric-owner",
            "--same-owner",
            "--same-permissions",
            "--xattrs",
            "--xattrs-include=*",
            "--acls",
            "--directory",
        ])
        .arg(dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .ctx(|| format!("run {TAR}"))
}

/// Drains a child's stderr on a thread (tar can warn a lot), keeping the
/// last lines.
pub fn drain(err: Option<ChildStderr>) -> std::thread::JoinHandle<String> {
    std::thread::spawn(move || {
        let mut s = String::new();
        if let Some(mut e) = err {
            let mut buf = Vec::new();
            let _ = e.read_to_end(&mut buf);
            s = String::from_utf8_lossy(&buf).into_owned();
        }
        let lines: Vec<&str> = s.lines().collect();
        let skip = lines.len().saturating_sub(5);
        lines[skip..].join("; ")
    })
}

/// Waits for tar. Exit 1 of `tar -c` means files changed while they were
/// read (the container runs meanwhile): accepted.
pub fn finish(mut child: Child, err: std::thread::JoinHandle<String>, create: bool) -> Result<()> {
    let status = child.wait().ctx(|| format!("wait for {TAR}"))?;
    let msg = err.join().unwrap_or_default();
    match status.code() {
        Some(0) => Ok(()),
        Some(1) if create => Ok(()),
        _ => Err(MigrateError::Invalid(format!(
            "{TAR} {} failed ({status}): {msg}",
            if create { "--create" } else { "--extract" }
        ))),
    }
}
