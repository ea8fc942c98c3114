//! CRIU's NOTIFY messages ("action scripts" in RPC mode), typed.

use std::os::fd::OwnedFd;

use crate::CriuError;

/// One NOTIFY message; the script name of `Criu_notify` selects the variant.
/// CRIU sends them only when the request sets `opts.notify_scripts`.
#[derive(Debug)]
pub enum Notify {
    /// `pre-dump`: before the tasks are frozen and dumped.
    PreDump,
    /// `post-dump`: the dump is written; the tasks are still frozen.
    PostDump,
    /// `network-lock`: lock the container's network (before dumping it).
    NetworkLock,
    /// `network-unlock`: undo `network-lock` (after a failed or leave-running dump).
    NetworkUnlock,
    /// `setup-namespaces`: the restored init `pid` has its namespaces; set them up
    /// (network, ...) from outside.
    SetupNamespaces { pid: i32 },
    /// `post-setup-namespaces`.
    PostSetupNamespaces,
    /// `pre-resume`: restored, right before the tasks resume.
    PreResume,
    /// `post-resume`: the restored tasks run.
    PostResume,
    /// `post-restore`: the restore is done; `pid` is the restored init.
    PostRestore { pid: i32 },
    /// `orphan-pts-master`: the master of the restored container's console pty
    /// (sent with the message, needs `opts.orphan_pts_master`).
    OrphanPtsMaster { master: OwnedFd },
    /// `status-ready`: a lazy-pages restore / page server is ready.
    StatusReady,
    /// Any other script name (`pre-restore`, `pre-stream`, `query-ext-files`, ...).
    Other { script: String, pid: i32 },
}

impl Notify {
    /// Maps a NOTIFY message to its variant. `fd` is the fd that came with the
    /// message (SCM_RIGHTS), if any: it is kept only for `orphan-pts-master`,
    /// which must have one.
    pub fn from_script(script: &str, pid: i32, fd: Option<OwnedFd>) -> Result<Notify, CriuError> {
        Ok(match script {
            "pre-dump" => Notify::PreDump,
            "post-dump" => Notify::PostDump,
            "network-lock" => Notify::NetworkLock,
            "network-unlock" => Notify::NetworkUnlock,
            "setup-namespaces" => Notify::SetupNamespaces { pid },
            "post-setup-namespaces" => Notify::PostSetupNamespaces,
            "pre-resume" => Notify::PreResume,
            "post-resume" => Notify::PostResume,
            "post-restore" => Notify::PostRestore { pid },
            "orphan-pts-master" => match fd {
                Some(master) => Notify::OrphanPtsMaster { master },
                None => {
                    return Err(CriuError::Protocol(
                        "criu sent orphan-pts-master without a file descriptor".into(),
                    ))
                }
            },
            "status-ready" => Notify::StatusReady,
            other => Notify::Other {
                script: other.to_string(),
                pid,
            },
        })
    }

    /// The script name CRIU gave this message.
    pub fn script(&self) -> &str {
        match self {
            Notify::PreDump => "pre-dump",
            Notify::PostDump => "post-dump",
            Notify::NetworkLock => "network-lock",
            Notify::NetworkUnlock => "network-unlock",
            Notify::SetupNamespaces { .. } => "setup-namespaces",
            Notify::PostSetupNamespaces => "post-setup-namespaces",
            Notify::PreResume => "pre-resume",
            Notify::PostResume => "post-resume",
            Notify::PostRestore { .. } => "post-restore",
            Notify::OrphanPtsMaster { .. } => "orphan-pts-master",
            Notify::StatusReady => "status-ready",
            Notify::Other { script, .. } => script,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(script: &str, pid: i32) -> Notify {
        match Notify::from_script(script, pid, None) {
            Ok(n) => n,
            Err(e) => panic!("{script}: {e}"),
        }
    }

    #[test]
    fn script_names_map_to_variants() {
        assert!(matches!(map("pre-dump", 0), Notify::PreDump));
        assert!(matches!(map("post-dump", 0), Notify::PostDump));
        assert!(matches!(map("network-lock", 0), Notify::NetworkLock));
        assert!(matches!(map("network-unlock", 0), Notify::NetworkUnlock));
        assert!(matches!(
            map("setup-namespaces", 77),
            Notify::SetupNamespaces { pid: 77 }
        ));
        assert!(matches!(
            map("post-setup-namespaces", 0),
            Notify::PostSetupNamespaces
        ));
        assert!(matches!(map("pre-resume", 0), Notify::PreResume));
        assert!(matches!(map("post-resume", 0), Notify::PostResume));
        assert!(matches!(
            map("post-restore", 4242),
            Notify::PostRestore { pid: 4242 }
        ));
        assert!(matches!(map("status-ready", 0), Notify::StatusReady));
        match map("pre-restore", 3) {
            Notify::Other { script, pid } => assert_eq!((script.as_str(), pid), ("pre-restore", 3)),
            other => panic!("{other:?}"),
        }
        for s in [
            "pre-dump",
            "post-dump",
            "network-lock",
            "network-unlock",
            "setup-namespaces",
            "post-setup-namespaces",
            "pre-resume",
            "post-resume",
            "post-restore",
            "status-ready",
            "query-ext-files",
        ] {
            assert_eq!(map(s, 1).script(), s);
        }
    }

    #[test]
    fn orphan_pts_master_needs_an_fd() -> std::io::Result<()> {
        assert!(matches!(
            Notify::from_script("orphan-pts-master", 0, None),
            Err(CriuError::Protocol(_))
        ));
        let fd = OwnedFd::from(std::fs::File::open("/dev/null")?);
        match Notify::from_script("orphan-pts-master", 0, Some(fd)) {
            Ok(n @ Notify::OrphanPtsMaster { .. }) => assert_eq!(n.script(), "orphan-pts-master"),
            other => panic!("{other:?}"),
        }
        // An fd that comes with any other message is dropped (closed).
        let fd = OwnedFd::from(std::fs::File::open("/dev/null")?);
        assert!(matches!(
            Notify::from_script("post-dump", 0, Some(fd)),
            Ok(Notify::PostDump)
        ));
        Ok(())
    }
}
