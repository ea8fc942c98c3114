//! cryo's own network lock for a pod's restore.
//!
//! A TCP connection between two pod members has one end in each member's
//! image. CRIU restores them one container at a time and takes a socket
//! out of repair mode when its container is done: the holder's end goes
//! live while the member's end does not exist yet, the kernel answers the
//! holder's next segment with a reset, and the connection is lost. CRIU's
//! own lock does not cover this: its lock rules are added with
//! `iptables-restore`, which is the nftables backend on Debian 12, while
//! the namespace's rules are dumped and restored with
//! `iptables-legacy-save`/`-restore`, so the restored namespace comes back
//! unlocked; and each restore ends with CRIU's unlock (the method comes
//! from the dump's inventory image, whatever the restore asks for).
//!
//! So for a group restore with `--tcp-established` cryo locks the
//! holder's restored network namespace itself, when CRIU reports the
//! namespaces set up (before any socket is restored), and unlocks it after
//! the last member is back. The rules have CRIU's shape in a chain of
//! cryo's own, `CRYO`, which CRIU's unlock (of its `CRIU` chain) leaves
//! alone: accept packets carrying CRIU's repair mark, drop the rest,
//! jumped to from INPUT and OUTPUT; applied with the same
//! `iptables-restore` both times. Segments dropped meanwhile are
//! retransmitted once it is lifted.

use std::io::Write;
use std::process::{Command, Stdio};

use crate::error::{CheckpointError, Result};

/// CRIU's `SOCCR_MARK`: packets CRIU itself sends while it repairs sockets.
const SOCCR_MARK: &str = "0xC114";

const TOOLS: [&str; 2] = ["iptables-restore", "ip6tables-restore"];

fn lock_script() -> String {
    format!(
        "*filter\n:CRYO - [0:0]\n-I INPUT -j CRYO\n-I OUTPUT -j CRYO\n\
         -A CRYO -m mark --mark {SOCCR_MARK} -j ACCEPT\n-A CRYO -j DROP\nCOMMIT\n"
    )
}

const DELETE_JUMPS: &str = "*filter\n:CRYO - [0:0]\n-D INPUT -j CRYO\n-D OUTPUT -j CRYO\nCOMMIT\n";
const DELETE_CHAIN: &str = "*filter\n:CRYO - [0:0]\n-X CRYO\nCOMMIT\n";

/// Runs `tool -w --noflush` in the network namespace of `pid` with
/// `script` on stdin; Ok(false) when it ran and failed.
fn apply(pid: i32, tool: &str, script: &str) -> Result<bool> {
    // Clients may call cryo with an empty environment.
    let mut child = Command::new("/usr/bin/nsenter")
        .env(
            "PATH",
            "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
        )
        .arg(format!("--net=/proc/{pid}/ns/net"))
        .args([tool, "-w", "--noflush"])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| {
            CheckpointError::Invalid(format!("run nsenter {tool} to lock the network: {e}"))
        })?;
    if let Some(mut stdin) = child.stdin.take() {
        // A tool that exits early closes the pipe; its status says why.
        let _ = stdin.write_all(script.as_bytes());
    }
    let status = child
        .wait()
        .map_err(|e| CheckpointError::Invalid(format!("wait for {tool}: {e}")))?;
    Ok(status.success())
}

/// Locks the network namespace of `pid`: IPv4 must succeed (the error
/// names the tool); IPv6 is best effort (a host without IPv6 has no
/// ip6tables to lock, and no IPv6 connection to lose).
pub fn lock(pid: i32) -> Result<()> {
    let script = lock_script();
    if !apply(pid, TOOLS[0], &script)? {
        return Err(CheckpointError::Invalid(format!(
            "could not lock the restored network namespace of pid {pid}: \
             `iptables-restore` failed (is iptables installed, with the xt_mark match?)"
        )));
    }
    let _ = apply(pid, TOOLS[1], &script);
    Ok(())
}

/// Removes the lock from the network namespace of `pid`. Missing rules
/// are fine (nothing was locked, or CRIU already unlocked).
pub fn unlock(pid: i32) {
    for tool in TOOLS {
        for script in [DELETE_JUMPS, DELETE_CHAIN] {
            let _ = apply(pid, tool, script);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lock_script_accepts_criu_marked_packets_then_drops() {
        let s = lock_script();
        let accept = s.find("--mark 0xC114 -j ACCEPT").expect("accept rule");
        let drop = s.find("-A CRYO -j DROP").expect("drop rule");
        assert!(accept < drop, "{s}");
        assert!(s.contains("-I INPUT -j CRYO") && s.contains("-I OUTPUT -j CRYO"));
        // Not CRIU's chain: CRIU's unlock must not lift cryo's lock.
        assert!(!s.contains("CRIU") && !DELETE_CHAIN.contains("CRIU"));
        assert!(s.ends_with("COMMIT\n"));
    }
}
