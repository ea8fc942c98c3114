//! Process and fd helpers of both sides.

use std::os::fd::{AsFd, AsRawFd, OwnedFd, RawFd};
use std::time::{Duration, Instant};

use crate::error::{Ctx, Result};

/// Our children (of every thread) whose command line contains each of
/// `words` (CRIU rewrites its own, e.g. to `criu: dump --rpc -t PID`).
pub fn children_with(words: &[&str]) -> Vec<i32> {
    let mut out = Vec::new();
    let Ok(tasks) = std::fs::read_dir("/proc/self/task") else {
        return out;
    };
    for t in tasks.flatten() {
        let Ok(list) = std::fs::read_to_string(t.path().join("children")) else {
            continue;
        };
        for pid in list
            .split_whitespace()
            .filter_map(|p| p.parse::<i32>().ok())
        {
            let Ok(cmd) = std::fs::read(format!("/proc/{pid}/cmdline")) else {
                continue;
            };
            let cmd = String::from_utf8_lossy(&cmd).replace('\0', " ");
            if words.iter().all(|w| cmd.contains(w)) && !out.contains(&pid) {
                out.push(pid);
            }
        }
    }
    out
}

/// Whether a TCP connection to our local `port` is established (in our
/// network namespace).
pub fn established_on(port: u16) -> bool {
    let want = format!(":{port:04X}");
    ["/proc/self/net/tcp", "/proc/self/net/tcp6"]
        .iter()
        .any(|f| {
            std::fs::read_to_string(f).is_ok_and(|s| {
                s.lines().skip(1).any(|l| {
                    let cols: Vec<&str> = l.split_whitespace().collect();
                    cols.len() > 3 && cols[1].ends_with(&want) && cols[3] == "01"
                })
            })
        })
}

/// Kills children of ours and reaps them.
pub fn kill_and_reap(pids: &[i32]) {
    for &pid in pids {
        let _ = cryo_sys::process::kill(pid, libc::SIGKILL);
        let _ = cryo_sys::process::wait_child(pid);
    }
}

/// Waits up to `timeout` for children of ours to exit, then reaps them;
/// returns those still running.
pub fn wait_children(pids: &[i32], timeout: Duration) -> Vec<i32> {
    let deadline = Instant::now() + timeout;
    let mut left = Vec::new();
    for &pid in pids {
        let exited = match cryo_sys::process::pidfd_open(pid) {
            Ok(fd) => {
                let ms = deadline
                    .saturating_duration_since(Instant::now())
                    .as_millis();
                cryo_sys::process::pidfd_wait(&fd, i32::try_from(ms).unwrap_or(i32::MAX))
                    .unwrap_or(true)
            }
            Err(_) => true,
        };
        if exited {
            let _ = cryo_sys::process::wait_child(pid);
        } else {
            left.push(pid);
        }
    }
    left
}

/// Runs `f` with /dev/null on fds 0-2: a restore plugs the caller's stdio
/// into the container, and a migrated container must not get the
/// receiver's.
pub fn with_null_stdio<T>(f: impl FnOnce() -> T) -> Result<T> {
    let null = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/null")
        .ctx(|| "open /dev/null".into())?;
    let mut saved: Vec<OwnedFd> = Vec::new();
    for fd in 0..3 {
        saved.push(
            cryo_sys::fd::borrow(fd)
                .try_clone_to_owned()
                .ctx(|| format!("save fd {fd}"))?,
        );
    }
    for fd in 0..3 {
        cryo_sys::fd::dup_onto(null.as_raw_fd(), fd)
            .map_err(std::io::Error::from)
            .ctx(|| format!("put /dev/null on fd {fd}"))?;
    }
    let out = f();
    for (fd, s) in saved.iter().enumerate() {
        let _ = cryo_sys::fd::dup_onto(s.as_raw_fd(), fd as RawFd);
    }
    Ok(out)
}

/// Waits up to `timeout` for `fd` to be readable (or hung up).
pub fn readable(fd: &impl AsFd, timeout: Duration) -> bool {
    use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
    let mut fds = [PollFd::new(fd.as_fd(), PollFlags::POLLIN)];
    let ms = u16::try_from(timeout.as_millis()).unwrap_or(u16::MAX);
    matches!(poll(&mut fds, PollTimeout::from(ms)), Ok(n) if n > 0)
}

/// Milliseconds, to the microsecond.
pub fn ms(d: Duration) -> f64 {
    (d.as_micros() as f64) / 1000.0
}
