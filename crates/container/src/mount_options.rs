//! Translating OCI mount options (`["nosuid","ro","mode=755"]`) into mount(2)
//! flags, propagation flags and the filesystem data string.

/// What a list of OCI mount options means to mount(2).
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct MountOptions {
    /// MS_* flags for the mount itself (and the remount of a bind mount).
    pub flags: u64,
    /// MS_PRIVATE/MS_SHARED/MS_SLAVE/MS_UNBINDABLE (+MS_REC), applied after.
    pub propagation: u64,
    /// Comma-joined filesystem-specific options (`mode=755,size=65536k`).
    pub data: String,
    /// `bind` or `rbind` was given.
    pub bind: bool,
    /// `rbind`: recursive bind.
    pub recursive: bool,
}

/// Every option [`parse`] turns into mount(2) flags, propagation or bind
/// semantics (anything else goes to the filesystem data string), sorted:
/// the `mountOptions` of `cryo features`.
pub const KNOWN: &[&str] = &[
    "async",
    "atime",
    "bind",
    "defaults",
    "dev",
    "diratime",
    "dirsync",
    "exec",
    "loud",
    "mand",
    "noatime",
    "nodev",
    "nodiratime",
    "noexec",
    "nomand",
    "norelatime",
    "nostrictatime",
    "nosuid",
    "private",
    "rbind",
    "relatime",
    "remount",
    "ro",
    "rprivate",
    "rshared",
    "rslave",
    "runbindable",
    "rw",
    "shared",
    "silent",
    "slave",
    "strictatime",
    "suid",
    "sync",
    "unbindable",
];

/// Options cryo recognises but cannot honour; refused with a clear error.
const UNSUPPORTED: &[&str] = &["idmap", "ridmap", "tmpcopyup"];

pub fn parse(options: &[String]) -> Result<MountOptions, String> {
    let mut o = MountOptions::default();
    let mut data = Vec::new();
    for opt in options {
        let (set, clear): (u64, u64) = match opt.as_str() {
            "defaults" => (0, 0),
            "ro" => (libc::MS_RDONLY, 0),
            "rw" => (0, libc::MS_RDONLY),
            "suid" => (0, libc::MS_NOSUID),
            "nosuid" => (libc::MS_NOSUID, 0),
            "dev" => (0, libc::MS_NODEV),
            "nodev" => (libc::MS_NODEV, 0),
            "exec" => (0, libc::MS_NOEXEC),
            "noexec" => (libc::MS_NOEXEC, 0),
            "sync" => (libc::MS_SYNCHRONOUS, 0),
            "async" => (0, libc::MS_SYNCHRONOUS),
            "dirsync" => (libc::MS_DIRSYNC, 0),
            "remount" => (libc::MS_REMOUNT, 0),
            "mand" => (libc::MS_MANDLOCK, 0),
            "nomand" => (0, libc::MS_MANDLOCK),
            "atime" => (0, libc::MS_NOATIME),
            "noatime" => (libc::MS_NOATIME, 0),
            "diratime" => (0, libc::MS_NODIRATIME),
            "nodiratime" => (libc::MS_NODIRATIME, 0),
            "relatime" => (libc::MS_RELATIME, 0),
            "norelatime" => (0, libc::MS_RELATIME),
            "strictatime" => (libc::MS_STRICTATIME, 0),
            "nostrictatime" => (0, libc::MS_STRICTATIME),
            "silent" => (libc::MS_SILENT, 0),
            "loud" => (0, libc::MS_SILENT),
            "bind" => {
                o.bind = true;
                (0, 0)
            }
            "rbind" => {
                o.bind = true;
                o.recursive = true;
                (0, 0)
            }
            p @ ("private" | "rprivate" | "shared" | "rshared" | "slave" | "rslave"
            | "unbindable" | "runbindable") => {
                let base = match p.trim_start_matches('r') {
                    "private" => libc::MS_PRIVATE,
                    "shared" => libc::MS_SHARED,
                    "slave" => libc::MS_SLAVE,
                    _ => libc::MS_UNBINDABLE,
                };
                let rec = if p.starts_with('r') { libc::MS_REC } else { 0 };
                o.propagation = base | rec;
                (0, 0)
            }
            u if UNSUPPORTED.contains(&u) => {
                return Err(format!("mount option {u:?} is not supported"))
            }
            other => {
                data.push(other.to_string());
                (0, 0)
            }
        };
        o.flags = (o.flags | set) & !clear;
    }
    o.data = data.join(",");
    Ok(o)
}

/// Propagation flags named by `rootfsPropagation`.
pub fn propagation(name: &str) -> Result<u64, String> {
    let o = parse(&[name.to_string()])?;
    if o.propagation == 0 {
        return Err(format!(
            "rootfsPropagation {name:?} is not a propagation mode"
        ));
    }
    Ok(o.propagation)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(opts: &[&str]) -> MountOptions {
        parse(&opts.iter().map(|s| s.to_string()).collect::<Vec<_>>()).expect("parse")
    }

    #[test]
    fn flags_and_data_split() {
        let o = p(&["nosuid", "strictatime", "mode=755", "size=65536k"]);
        assert_eq!(o.flags, libc::MS_NOSUID | libc::MS_STRICTATIME);
        assert_eq!(o.data, "mode=755,size=65536k");
        assert!(!o.bind);
    }

    #[test]
    fn later_options_win() {
        assert_eq!(p(&["ro", "rw"]).flags & libc::MS_RDONLY, 0);
        assert_eq!(p(&["rw", "ro"]).flags & libc::MS_RDONLY, libc::MS_RDONLY);
    }

    #[test]
    fn bind_and_propagation() {
        let o = p(&["rbind", "rprivate", "ro"]);
        assert!(o.bind && o.recursive);
        assert_eq!(o.propagation, libc::MS_PRIVATE | libc::MS_REC);
        assert_eq!(p(&["bind", "slave"]).propagation, libc::MS_SLAVE);
        assert_eq!(
            p(&["runbindable"]).propagation,
            libc::MS_UNBINDABLE | libc::MS_REC
        );
        assert_eq!(p(&["unbindable"]).propagation, libc::MS_UNBINDABLE);
    }

    #[test]
    fn known_options_are_recognised() {
        assert!(
            KNOWN.windows(2).all(|w| w[0] < w[1]),
            "sorted, no duplicates"
        );
        for opt in KNOWN {
            let o = parse(&[opt.to_string()]).expect("known option parses");
            assert!(
                o.data.is_empty(),
                "{opt} must not end up in the data string"
            );
        }
        for opt in UNSUPPORTED {
            assert!(!KNOWN.contains(opt));
        }
    }

    #[test]
    fn unsupported_is_an_error() {
        assert!(parse(&["idmap".to_string()]).is_err());
        assert!(propagation("nosuid").is_err());
        assert_eq!(propagation("rslave"), Ok(libc::MS_SLAVE | libc::MS_REC));
    }
}
