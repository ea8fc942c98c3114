//! Mounts: `mountpoints-<mnt_ns_id>.img` (images/mnt.proto).

use serde::Serialize;

use crate::error::WireError;
use crate::wire::Message;

/// `mnt_entry` (mnt.proto): one mount of a mount namespace.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct MntEntry {
    /// `fstype = 1` (enum fstype); see [`MntEntry::fstype_name`].
    pub fstype: u32,
    /// `mnt_id = 2`
    pub mnt_id: u32,
    /// `root_dev = 3`: the kernel's `MAJOR << 20 | MINOR`.
    pub root_dev: u32,
    /// `parent_mnt_id = 4`
    pub parent_mnt_id: u32,
    /// `flags = 5`: per-mount `MS_*` flags.
    pub flags: u32,
    /// `root = 6`: the mounted directory of the filesystem.
    pub root: String,
    /// `mountpoint = 7`: where it is mounted, in the namespace.
    pub mountpoint: String,
    /// `source = 8`
    pub source: String,
    /// `options = 9`: superblock options.
    pub options: String,
    /// `shared_id = 10`
    pub shared_id: Option<u32>,
    /// `master_id = 11`
    pub master_id: Option<u32>,
    /// `ext_mount = 13`
    pub ext_mount: bool,
    /// `fsname = 14`: the filesystem name when `fstype` is AUTO.
    pub fsname: Option<String>,
    /// `deleted = 16`
    pub deleted: bool,
    /// `sb_flags = 17`: superblock `MS_*` flags.
    pub sb_flags: Option<u32>,
    /// `ext_key = 18`: the key it was declared external under (a bind
    /// mount's destination, for cryo and runc).
    pub ext_key: Option<String>,
}

impl MntEntry {
    pub fn decode(m: Message<'_>) -> Result<MntEntry, WireError> {
        let mut e = MntEntry::default();
        let (mut fstype, mut id, mut mp) = (None, None, None);
        for f in m.fields() {
            let f = f?;
            match f.number {
                1 => fstype = Some(f.u32()?),
                2 => id = Some(f.u32()?),
                3 => e.root_dev = f.u32()?,
                4 => e.parent_mnt_id = f.u32()?,
                5 => e.flags = f.u32()?,
                6 => e.root = f.string()?,
                7 => mp = Some(f.string()?),
                8 => e.source = f.string()?,
                9 => e.options = f.string()?,
                10 => e.shared_id = Some(f.u32()?),
                11 => e.master_id = Some(f.u32()?),
                13 => e.ext_mount = f.bool()?,
                14 => e.fsname = Some(f.string()?),
                16 => e.deleted = f.bool()?,
                17 => e.sb_flags = Some(f.u32()?),
                18 => e.ext_key = Some(f.string()?),
                _ => {}
            }
        }
        e.fstype = fstype.ok_or_else(|| m.missing("mnt_entry", "fstype", 1))?;
        e.mnt_id = id.ok_or_else(|| m.missing("mnt_entry", "mnt_id", 2))?;
        e.mountpoint = mp.ok_or_else(|| m.missing("mnt_entry", "mountpoint", 7))?;
        Ok(e)
    }

    /// The filesystem type as CRIU names it (criu/filesystems.c). CRIU has
    /// no code of its own for most disk filesystems (ext4, xfs, btrfs):
    /// the image records them as `FSTYPE__UNSUPPORTED` (0), shown as
    /// `other`; that only means CRIU mounts them back by binding rather
    /// than by content.
    pub fn fstype_name(&self) -> String {
        let name = match self.fstype {
            0 => "other",
            1 => "proc",
            2 => "sysfs",
            3 => "devtmpfs",
            4 => "binfmt_misc",
            5 => "tmpfs",
            6 => "devpts",
            7 => "simfs",
            8 => "pstore",
            9 => "securityfs",
            10 => "fusectl",
            11 => "debugfs",
            12 => "cgroup",
            13 => "aufs",
            14 => "mqueue",
            15 => "fuse",
            16 => return self.fsname.clone().unwrap_or_else(|| "auto".into()),
            17 => "overlay",
            18 => "autofs",
            19 => "tracefs",
            23 => "cgroup2",
            _ => "unknown",
        };
        match &self.fsname {
            Some(n) if !n.is_empty() => n.clone(),
            _ => name.to_string(),
        }
    }

    /// The per-mount flags as mount options (`ro,nosuid,nodev,relatime`).
    pub fn flags_text(&self) -> String {
        mount_flags_text(self.flags)
    }

    /// `MAJOR:MINOR` of `root_dev`.
    pub fn dev(&self) -> String {
        format!("{}:{}", self.root_dev >> 20, self.root_dev & 0xfffff)
    }
}

/// `MS_*` mount flags as mount options, `ro` or `rw` first.
pub fn mount_flags_text(flags: u32) -> String {
    const NAMES: [(u32, &str); 9] = [
        (0x2, "nosuid"),
        (0x4, "nodev"),
        (0x8, "noexec"),
        (0x10, "sync"),
        (0x80, "dirsync"),
        (0x400, "noatime"),
        (0x800, "nodiratime"),
        (0x20_0000, "relatime"),
        (0x100_0000, "strictatime"),
    ];
    let mut out = vec![if flags & 1 != 0 { "ro" } else { "rw" }];
    for (bit, name) in NAMES {
        if flags & bit != 0 {
            out.push(name);
        }
    }
    out.join(",")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::enc::Msg;

    pub(crate) fn mnt(id: u32, fstype: u32, mp: &str, source: &str, flags: u32) -> Msg {
        Msg::new()
            .varint(1, u64::from(fstype))
            .varint(2, u64::from(id))
            .varint(3, 40)
            .varint(4, 68)
            .varint(5, u64::from(flags))
            .string(6, "/")
            .string(7, mp)
            .string(8, source)
            .string(9, "")
    }

    #[test]
    fn mount_entry() {
        let m = mnt(69, 1, "/proc", "proc", 0x20_0000 | 0xe);
        let e = MntEntry::decode(Message::new(&m.0, 0)).expect("decodes");
        assert_eq!(
            (e.mountpoint.as_str(), e.fstype_name().as_str()),
            ("/proc", "proc")
        );
        assert_eq!(e.flags_text(), "rw,nosuid,nodev,noexec,relatime");
        assert_eq!(e.dev(), "0:40");
        let auto = MntEntry {
            fstype: 16,
            fsname: Some("ext4".into()),
            ..MntEntry::default()
        };
        assert_eq!(auto.fstype_name(), "ext4");
    }
}
