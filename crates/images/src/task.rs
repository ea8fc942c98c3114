//! The process tree and per-task images: `inventory.img`, `pstree.img`,
//! `core-<tid>.img`, `ids-<pid>.img`, `fs-<pid>.img`.
//!
//! Field numbers are those of CRIU 4.2's images/inventory.proto,
//! pstree.proto, core.proto, creds.proto and fs.proto.

use serde::Serialize;

use crate::error::WireError;
use crate::wire::Message;

/// `inventory_entry` (inventory.proto): what the dump as a whole is.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Inventory {
    /// `img_version = 1`: 2 (`CRTOOLS_IMAGES_V1_1`) for all current CRIUs.
    pub img_version: u32,
    /// `fdinfo_per_id = 2`: fdinfo images are named by files id, not pid.
    pub fdinfo_per_id: bool,
    /// `root_ids = 3`: the namespace and object ids of the dumping side.
    pub root_ids: Option<TaskIds>,
    /// `ns_per_id = 4`
    pub ns_per_id: bool,
    /// `root_cg_set = 5`
    pub root_cg_set: Option<u32>,
    /// `lsmtype = 6` (enum lsmtype: NO_LSM, SELINUX, APPARMOR)
    pub lsm: Option<&'static str>,
    /// `dump_uptime = 8`
    pub dump_uptime: Option<u64>,
    /// `pre_dump_mode = 9`
    pub pre_dump_mode: Option<u32>,
    /// `tcp_close = 10`
    pub tcp_close: bool,
    /// `network_lock_method = 11`
    pub network_lock_method: Option<u32>,
    /// `plugins_entry = 12` (`plugins_entry.plugins = 12`)
    pub plugins: Vec<String>,
    /// `dump_criu_run_id = 13`
    pub dump_criu_run_id: Option<String>,
}

impl Inventory {
    pub fn decode(m: Message<'_>) -> Result<Inventory, WireError> {
        let mut inv = Inventory::default();
        let mut version = None;
        for f in m.fields() {
            let f = f?;
            match f.number {
                1 => version = Some(f.u32()?),
                2 => inv.fdinfo_per_id = f.bool()?,
                3 => inv.root_ids = Some(TaskIds::decode(f.message()?)?),
                4 => inv.ns_per_id = f.bool()?,
                5 => inv.root_cg_set = Some(f.u32()?),
                6 => {
                    inv.lsm = Some(match f.u32()? {
                        0 => "none",
                        1 => "selinux",
                        2 => "apparmor",
                        _ => "unknown",
                    })
                }
                8 => inv.dump_uptime = Some(f.u64()?),
                9 => inv.pre_dump_mode = Some(f.u32()?),
                10 => inv.tcp_close = f.bool()?,
                11 => inv.network_lock_method = Some(f.u32()?),
                12 => {
                    for p in f.message()?.fields() {
                        let p = p?;
                        if p.number == 12 {
                            inv.plugins.push(p.string()?);
                        }
                    }
                }
                13 => inv.dump_criu_run_id = Some(f.string()?),
                _ => {}
            }
        }
        inv.img_version = version.ok_or_else(|| m.missing("inventory_entry", "img_version", 1))?;
        Ok(inv)
    }
}

/// `task_kobj_ids_entry` (core.proto): which kernel objects and namespaces
/// a task shares; processes with equal ids share the object.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct TaskIds {
    /// `vm_id = 1`
    pub vm_id: u32,
    /// `files_id = 2`: names `fdinfo-<files_id>.img`.
    pub files_id: u32,
    /// `fs_id = 3`
    pub fs_id: u32,
    /// `sighand_id = 4`
    pub sighand_id: u32,
    /// `pid_ns_id = 5`
    pub pid_ns_id: Option<u32>,
    /// `net_ns_id = 6`
    pub net_ns_id: Option<u32>,
    /// `ipc_ns_id = 7`
    pub ipc_ns_id: Option<u32>,
    /// `uts_ns_id = 8`
    pub uts_ns_id: Option<u32>,
    /// `mnt_ns_id = 9`: names `mountpoints-<mnt_ns_id>.img`.
    pub mnt_ns_id: Option<u32>,
    /// `user_ns_id = 10`
    pub user_ns_id: Option<u32>,
    /// `cgroup_ns_id = 11`
    pub cgroup_ns_id: Option<u32>,
    /// `time_ns_id = 12`
    pub time_ns_id: Option<u32>,
}

impl TaskIds {
    pub fn decode(m: Message<'_>) -> Result<TaskIds, WireError> {
        let mut ids = TaskIds::default();
        for f in m.fields() {
            let f = f?;
            match f.number {
                1 => ids.vm_id = f.u32()?,
                2 => ids.files_id = f.u32()?,
                3 => ids.fs_id = f.u32()?,
                4 => ids.sighand_id = f.u32()?,
                5 => ids.pid_ns_id = Some(f.u32()?),
                6 => ids.net_ns_id = Some(f.u32()?),
                7 => ids.ipc_ns_id = Some(f.u32()?),
                8 => ids.uts_ns_id = Some(f.u32()?),
                9 => ids.mnt_ns_id = Some(f.u32()?),
                10 => ids.user_ns_id = Some(f.u32()?),
                11 => ids.cgroup_ns_id = Some(f.u32()?),
                12 => ids.time_ns_id = Some(f.u32()?),
                _ => {}
            }
        }
        Ok(ids)
    }
}

/// `pstree_entry` (pstree.proto): one process. Pids are as seen in the
/// dumped pid namespace (the container's init is 1).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct PstreeEntry {
    /// `pid = 1`
    pub pid: u32,
    /// `ppid = 2` (0 for the root of the tree)
    pub ppid: u32,
    /// `pgid = 3`
    pub pgid: u32,
    /// `sid = 4`
    pub sid: u32,
    /// `threads = 5`: thread ids, the main thread's (the pid) included.
    pub threads: Vec<u32>,
}

impl PstreeEntry {
    pub fn decode(m: Message<'_>) -> Result<PstreeEntry, WireError> {
        let mut e = PstreeEntry::default();
        let (mut pid, mut ppid, mut pgid, mut sid) = (None, None, None, None);
        for f in m.fields() {
            let f = f?;
            match f.number {
                1 => pid = Some(f.u32()?),
                2 => ppid = Some(f.u32()?),
                3 => pgid = Some(f.u32()?),
                4 => sid = Some(f.u32()?),
                5 => f.push_u32s(&mut e.threads)?,
                _ => {}
            }
        }
        let msg = "pstree_entry";
        e.pid = pid.ok_or_else(|| m.missing(msg, "pid", 1))?;
        e.ppid = ppid.ok_or_else(|| m.missing(msg, "ppid", 2))?;
        e.pgid = pgid.ok_or_else(|| m.missing(msg, "pgid", 3))?;
        e.sid = sid.ok_or_else(|| m.missing(msg, "sid", 4))?;
        Ok(e)
    }
}

/// `core_entry` (core.proto) of one thread: `core-<tid>.img`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct CoreEntry {
    /// `mtype = 1` (enum march)
    pub arch: &'static str,
    /// `tc = 3`: set for a process's main thread only.
    pub task: Option<TaskCore>,
    /// `ids = 4`: older CRIUs; newer ones write `ids-<pid>.img`.
    pub ids: Option<TaskIds>,
    /// `thread_core = 5`
    pub thread: Option<ThreadCore>,
}

impl CoreEntry {
    pub fn decode(m: Message<'_>) -> Result<CoreEntry, WireError> {
        let mut c = CoreEntry {
            arch: "unknown",
            ..CoreEntry::default()
        };
        for f in m.fields() {
            let f = f?;
            match f.number {
                1 => {
                    c.arch = match f.u32()? {
                        1 => "x86_64",
                        2 => "arm",
                        3 => "aarch64",
                        4 => "ppc64",
                        5 => "s390",
                        6 => "mips",
                        7 => "loongarch64",
                        8 => "riscv64",
                        _ => "unknown",
                    }
                }
                3 => c.task = Some(TaskCore::decode(f.message()?)?),
                4 => c.ids = Some(TaskIds::decode(f.message()?)?),
                5 => c.thread = Some(ThreadCore::decode(f.message()?)?),
                _ => {}
            }
        }
        Ok(c)
    }
}

/// `task_core_entry` (core.proto): per-process state.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct TaskCore {
    /// `task_state = 1`: see [`task_state_name`].
    pub task_state: u32,
    /// `exit_code = 2` (of a zombie)
    pub exit_code: u32,
    /// `personality = 3`
    pub personality: u32,
    /// `flags = 4` (the kernel's PF_* flags)
    pub flags: u32,
    /// `comm = 6`
    pub comm: String,
    /// `loginuid = 13`
    pub loginuid: Option<u32>,
    /// `oom_score_adj = 14`
    pub oom_score_adj: Option<i32>,
    /// `child_subreaper = 18`
    pub child_subreaper: bool,
    /// `stop_signo = 21` (of a stopped task)
    pub stop_signo: Option<u32>,
}

impl TaskCore {
    pub fn decode(m: Message<'_>) -> Result<TaskCore, WireError> {
        let mut t = TaskCore::default();
        let (mut state, mut comm) = (None, None);
        for f in m.fields() {
            let f = f?;
            match f.number {
                1 => state = Some(f.u32()?),
                2 => t.exit_code = f.u32()?,
                3 => t.personality = f.u32()?,
                4 => t.flags = f.u32()?,
                6 => comm = Some(f.string()?),
                13 => t.loginuid = Some(f.u32()?),
                14 => t.oom_score_adj = Some(f.i32()?),
                18 => t.child_subreaper = f.bool()?,
                21 => t.stop_signo = Some(f.u32()?),
                _ => {}
            }
        }
        t.task_state = state.ok_or_else(|| m.missing("task_core_entry", "task_state", 1))?;
        t.comm = comm.ok_or_else(|| m.missing("task_core_entry", "comm", 6))?;
        Ok(t)
    }
}

/// The name of a `task_core_entry.task_state` (compel/include/uapi/task-state.h).
pub fn task_state_name(state: u32) -> &'static str {
    match state {
        1 => "alive",
        2 => "dead",
        3 => "stopped",
        6 => "zombie",
        _ => "unknown",
    }
}

/// `thread_core_entry` (core.proto): per-thread state.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ThreadCore {
    /// `sched_nice = 3`
    pub sched_nice: Option<i32>,
    /// `sched_policy = 4`
    pub sched_policy: Option<u32>,
    /// `pdeath_sig = 8`
    pub pdeath_sig: Option<u32>,
    /// `creds = 10`
    pub creds: Option<Creds>,
    /// `seccomp_mode = 11` (0 disabled, 1 strict, 2 filter)
    pub seccomp_mode: Option<u32>,
    /// `comm = 13`
    pub comm: Option<String>,
}

impl ThreadCore {
    pub fn decode(m: Message<'_>) -> Result<ThreadCore, WireError> {
        let mut t = ThreadCore::default();
        for f in m.fields() {
            let f = f?;
            match f.number {
                3 => t.sched_nice = Some(f.sint32()?),
                4 => t.sched_policy = Some(f.u32()?),
                8 => t.pdeath_sig = Some(f.u32()?),
                10 => t.creds = Some(Creds::decode(f.message()?)?),
                11 => t.seccomp_mode = Some(f.u32()?),
                13 => t.comm = Some(f.string()?),
                _ => {}
            }
        }
        Ok(t)
    }
}

/// `creds_entry` (creds.proto). Capability sets are the kernel's two u32
/// words joined into one mask.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Creds {
    /// `uid = 1` .. `fsgid = 8`
    pub uid: u32,
    pub gid: u32,
    pub euid: u32,
    pub egid: u32,
    pub suid: u32,
    pub sgid: u32,
    pub fsuid: u32,
    pub fsgid: u32,
    /// `cap_inh = 9`
    pub cap_inh: u64,
    /// `cap_prm = 10`
    pub cap_prm: u64,
    /// `cap_eff = 11`
    pub cap_eff: u64,
    /// `cap_bnd = 12`
    pub cap_bnd: u64,
    /// `secbits = 13`
    pub secbits: u32,
    /// `groups = 14`: supplementary groups.
    pub groups: Vec<u32>,
    /// `lsm_profile = 15`
    pub lsm_profile: Option<String>,
    /// `no_new_privs = 18`
    pub no_new_privs: Option<u32>,
    /// `cap_amb = 19`
    pub cap_amb: u64,
}

fn cap_mask(words: &[u32]) -> u64 {
    let lo = words.first().copied().unwrap_or(0);
    let hi = words.get(1).copied().unwrap_or(0);
    u64::from(lo) | (u64::from(hi) << 32)
}

impl Creds {
    pub fn decode(m: Message<'_>) -> Result<Creds, WireError> {
        let mut c = Creds::default();
        let mut ids = [None; 8];
        let mut caps: [Vec<u32>; 5] = Default::default();
        for f in m.fields() {
            let f = f?;
            match f.number {
                n @ 1..=8 => ids[n as usize - 1] = Some(f.u32()?),
                9 => f.push_u32s(&mut caps[0])?,
                10 => f.push_u32s(&mut caps[1])?,
                11 => f.push_u32s(&mut caps[2])?,
                12 => f.push_u32s(&mut caps[3])?,
                13 => c.secbits = f.u32()?,
                14 => f.push_u32s(&mut c.groups)?,
                15 => c.lsm_profile = Some(f.string()?),
                18 => c.no_new_privs = Some(f.u32()?),
                19 => f.push_u32s(&mut caps[4])?,
                _ => {}
            }
        }
        const NAMES: [&str; 8] = [
            "uid", "gid", "euid", "egid", "suid", "sgid", "fsuid", "fsgid",
        ];
        let mut v = [0u32; 8];
        for (i, id) in ids.iter().enumerate() {
            v[i] = id.ok_or_else(|| m.missing("creds_entry", NAMES[i], i as u32 + 1))?;
        }
        [
            c.uid, c.gid, c.euid, c.egid, c.suid, c.sgid, c.fsuid, c.fsgid,
        ] = v;
        c.cap_inh = cap_mask(&caps[0]);
        c.cap_prm = cap_mask(&caps[1]);
        c.cap_eff = cap_mask(&caps[2]);
        c.cap_bnd = cap_mask(&caps[3]);
        c.cap_amb = cap_mask(&caps[4]);
        Ok(c)
    }
}

/// `fs_entry` (fs.proto): a process's cwd and root, as file ids of files.img.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct FsEntry {
    /// `cwd_id = 1`
    pub cwd_id: u32,
    /// `root_id = 2`
    pub root_id: u32,
    /// `umask = 3`
    pub umask: Option<u32>,
}

impl FsEntry {
    pub fn decode(m: Message<'_>) -> Result<FsEntry, WireError> {
        let mut e = FsEntry::default();
        for f in m.fields() {
            let f = f?;
            match f.number {
                1 => e.cwd_id = f.u32()?,
                2 => e.root_id = f.u32()?,
                3 => e.umask = Some(f.u32()?),
                _ => {}
            }
        }
        Ok(e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::enc::Msg;

    #[test]
    fn pstree_entry_with_threads() {
        let m = Msg::new()
            .varint(1, 5)
            .varint(2, 1)
            .varint(3, 1)
            .varint(4, 1)
            .varint(5, 5)
            .varint(5, 6);
        let e = PstreeEntry::decode(Message::new(&m.0, 0)).expect("decodes");
        assert_eq!(
            e,
            PstreeEntry {
                pid: 5,
                ppid: 1,
                pgid: 1,
                sid: 1,
                threads: vec![5, 6]
            }
        );
        // A required field missing is an error naming it.
        let m = Msg::new().varint(1, 5);
        let err = PstreeEntry::decode(Message::new(&m.0, 9)).expect_err("no ppid");
        assert_eq!(err.offset, 9);
        assert!(err.detail.contains("ppid (2)"), "{err}");
    }

    #[test]
    fn core_with_task_thread_and_creds() {
        let creds = Msg::new()
            .varint(1, 1000)
            .varint(2, 1001)
            .varint(3, 1000)
            .varint(4, 1001)
            .varint(5, 1000)
            .varint(6, 1001)
            .varint(7, 1000)
            .varint(8, 1001)
            .packed(11, &[0xffff_ffff, 0x1ff])
            .varint(13, 0)
            .varint(14, 27);
        let tc = Msg::new()
            .varint(1, 6)
            .varint(2, 137)
            .varint(3, 0)
            .varint(4, 0)
            .varint(5, 0)
            .string(6, "sleep")
            .varint(14, -1000i64 as u64);
        let th = Msg::new()
            .varint(1, 0)
            .varint(2, 0)
            .sint(3, -5)
            .msg(10, &creds)
            .string(13, "sleep");
        let core = Msg::new().varint(1, 1).msg(3, &tc).msg(5, &th);
        let c = CoreEntry::decode(Message::new(&core.0, 0)).expect("decodes");
        assert_eq!(c.arch, "x86_64");
        let t = c.task.expect("task core");
        assert_eq!(
            (t.comm.as_str(), t.task_state, t.exit_code),
            ("sleep", 6, 137)
        );
        assert_eq!(task_state_name(t.task_state), "zombie");
        assert_eq!(t.oom_score_adj, Some(-1000));
        let th = c.thread.expect("thread core");
        assert_eq!(th.sched_nice, Some(-5));
        let cr = th.creds.expect("creds");
        assert_eq!(
            (cr.uid, cr.gid, cr.groups.as_slice()),
            (1000, 1001, &[27][..])
        );
        assert_eq!(cr.cap_eff, 0x1ff_ffff_ffff);
    }
}
