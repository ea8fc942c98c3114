//! CRIU's lazy-pages daemon for post-copy restores: it owns the restored
//! tasks' userfaultfds and fills their memory on demand, from a remote page
//! server (a lazy dump elsewhere) or from the local images.
//!
//! It talks to the restoring CRIU through `lazy-pages.socket` in the work
//! directory, so both run with the same work path; it exits by itself once
//! every page is in.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::error::{CheckpointError, Ctx, Result};

pub const SOCKET: &str = "lazy-pages.socket";
/// The pipe size CRIU's lazy page server asks for (F_SETPIPE_SZ of
/// `PIPE_MAX_SIZE` pages, which the kernel rounds up to 4 MiB).
pub const PAGE_SERVER_PIPE_SIZE: u64 = 4 << 20;
pub const LOG: &str = "lazy-pages.log";

/// The daemon's command line.
pub fn daemon_args(images: &Path, work: &Path, page_server: Option<(&str, i32)>) -> Vec<String> {
    let mut args = vec![
        "lazy-pages".to_string(),
        "--images-dir".into(),
        images.to_string_lossy().into_owned(),
        "--work-dir".into(),
        work.to_string_lossy().into_owned(),
        "--log-file".into(),
        LOG.into(),
        "-v4".into(),
    ];
    if let Some((host, port)) = page_server {
        args.extend([
            "--page-server".into(),
            "--address".into(),
            host.to_string(),
            "--port".into(),
            port.to_string(),
        ]);
    }
    args
}

/// Starts the daemon and waits until its socket is there. The daemon is
/// left to finish on its own (it outlives a detached restore).
pub fn start_daemon(
    criu: &Path,
    images: &Path,
    work: &Path,
    page_server: Option<(&str, i32)>,
) -> Result<()> {
    let sock = work.join(SOCKET);
    match std::fs::remove_file(&sock) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(e).ctx(|| format!("remove stale {}", sock.display())),
    }
    let mut child = Command::new(criu)
        .args(daemon_args(images, work, page_server))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .ctx(|| format!("run {} lazy-pages", criu.display()))?;
    let deadline = Instant::now() + Duration::from_secs(10);
    while !sock.exists() {
        if let Ok(Some(status)) = child.try_wait() {
            return Err(CheckpointError::CriuFailed {
                request: "lazy-pages",
                detail: format!(
                    "the lazy-pages daemon exited ({status}); see {}",
                    work.join(LOG).display()
                ),
                log: cryo_criu::read_log_errors(&work.join(LOG), 6),
                log_path: work.join(LOG),
            });
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            return Err(CheckpointError::Invalid(format!(
                "the lazy-pages daemon did not create {} within 10s",
                sock.display()
            )));
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    Ok(())
}

/// Checks that a lazy dump's page server can size its pipes. Above
/// `fs.pipe-max-size` that needs CAP_SYS_RESOURCE; without both, CRIU's
/// page server fails on the first page request ("splice: Bad file
/// descriptor", after an unchecked F_SETPIPE_SZ), long after the dump froze
/// the container. Refuse up front instead.
pub fn check_page_server_pipes() -> Result<()> {
    let max: u64 = std::fs::read_to_string("/proc/sys/fs/pipe-max-size")
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(0);
    if max >= PAGE_SERVER_PIPE_SIZE || has_cap_sys_resource() {
        return Ok(());
    }
    Err(CheckpointError::KernelLacks(format!(
        "lazy pages are not possible with fs.pipe-max-size={max} and no CAP_SYS_RESOURCE: \
         CRIU's page server needs {PAGE_SERVER_PIPE_SIZE}-byte pipes; \
         run `sysctl -w fs.pipe-max-size={PAGE_SERVER_PIPE_SIZE}` (make deps does)"
    )))
}

fn has_cap_sys_resource() -> bool {
    const CAP_SYS_RESOURCE: u32 = 24;
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("CapEff:"))
                .and_then(|v| u64::from_str_radix(v.trim(), 16).ok())
        })
        .is_some_and(|caps| caps & (1 << CAP_SYS_RESOURCE) != 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn command_line() {
        let a = daemon_args(Path::new("/i"), Path::new("/w"), Some(("127.0.0.1", 27)));
        assert_eq!(
            a.join(" "),
            "lazy-pages --images-dir /i --work-dir /w --log-file lazy-pages.log -v4 --page-server --address 127.0.0.1 --port 27"
        );
        assert!(!daemon_args(Path::new("/i"), Path::new("/w"), None)
            .contains(&"--page-server".to_string()));
    }
}
