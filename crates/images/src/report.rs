//! The forensic view of a checkpoint: [`inspect`] joins the images into
//! processes (with cmdlines read from the dumped memory), their memory and
//! open files, sockets with their owners, mounts and CRIU's statistics.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use serde::Serialize;

use crate::dir::{ImageDir, DEFAULT_PAGE_SIZE};
use crate::error::Result;
use crate::files::{self, FdInfo, FileEntry, FileKind};
use crate::mm::MmEntry;
use crate::pagemap::{split_nul, MemoryImage};
use crate::stats::{DumpStats, RestoreStats};
use crate::task::{self, TaskIds};

/// runc's record of the init's stdio, beside the images.
const DESCRIPTORS: &str = "descriptors.json";

/// argv and environ longer than this are not read (the kernel's limit for
/// both together is a quarter of the stack limit, 2 MiB by default).
const MAX_STRINGS: u64 = 4 << 20;

/// What [`inspect`] reads beyond the process tree, memory sizes and
/// statistics it always reads.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct InspectOptions {
    /// Each process's open files.
    pub files: bool,
    /// Every socket, with the processes holding it.
    pub sockets: bool,
    /// Every mount namespace's mounts.
    pub mounts: bool,
    /// Each process's memory mappings.
    pub vmas: bool,
    /// Each process's environment, read from its dumped memory. It often
    /// holds secrets, so it is read only when asked for.
    pub env: bool,
}

impl InspectOptions {
    /// Everything.
    pub fn all() -> InspectOptions {
        InspectOptions {
            files: true,
            sockets: true,
            mounts: true,
            vmas: true,
            env: true,
        }
    }
}

/// A checkpoint as [`inspect`] reads it.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub image_dir: String,
    /// `inventory_entry.img_version`.
    pub image_version: u32,
    /// The architecture of the dumped tasks (`core_entry.mtype`).
    pub arch: Option<&'static str>,
    /// The pid of the root of the tree (the container's init).
    pub root_pid: Option<u32>,
    pub page_size: u64,
    /// In tree order: each process before its children.
    pub processes: Vec<Process>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sockets: Option<Vec<Socket>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mounts: Option<Vec<Mount>>,
    /// `stats-dump`.
    pub stats: Option<DumpStats>,
    /// `stats-restore`, once the image was restored.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub restore_stats: Option<RestoreStats>,
    /// What could not be read, and why (missing optional images, argv
    /// pages that were not dumped).
    pub warnings: Vec<String>,
}

/// One process.
#[derive(Debug, Clone, Serialize)]
pub struct Process {
    pub pid: u32,
    pub ppid: u32,
    pub pgid: u32,
    pub sid: u32,
    /// Depth in the tree (the root is 0).
    pub depth: usize,
    pub threads: Vec<u32>,
    pub comm: String,
    /// `alive`, `stopped`, `zombie`, `dead`.
    pub state: &'static str,
    pub exit_code: u32,
    pub uid: Option<u32>,
    pub gid: Option<u32>,
    pub euid: Option<u32>,
    pub egid: Option<u32>,
    /// argv, read from the dumped memory at `[mm_arg_start, mm_arg_end)`;
    /// `None` when those pages are not in the image.
    pub cmdline: Option<Vec<String>>,
    /// The executable (`mm_entry.exe_file_id`).
    pub exe: Option<String>,
    pub cwd: Option<String>,
    pub root: Option<String>,
    pub ids: Option<TaskIds>,
    pub memory: Option<MemoryUsage>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub vmas: Option<Vec<Mapping>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub files: Option<Vec<OpenFile>>,
    /// environ at `[mm_env_start, mm_env_end)`: the environment the
    /// process was executed with (later setenv() calls are not there).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub env: Option<Vec<String>>,
}

impl Process {
    /// The cmdline joined with spaces, else `[comm]` as ps shows processes
    /// without one.
    pub fn command(&self) -> String {
        match &self.cmdline {
            Some(c) if !c.is_empty() => c.join(" "),
            _ => format!("[{}]", self.comm),
        }
    }
}

/// Memory sizes of one process, in bytes unless named pages.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct MemoryUsage {
    pub vmas: usize,
    /// All mappings (vdso, vvar and vsyscall left out).
    pub mapped: u64,
    /// Anonymous mappings (heap, stack, private and shared anonymous).
    pub anonymous: u64,
    /// File mappings.
    pub file_backed: u64,
    /// Pages written to the image (`PE_PRESENT`).
    pub pages_dumped: u64,
    pub bytes_dumped: u64,
    /// Pages left on a page server (`--lazy-pages`): not in the image.
    pub pages_lazy: u64,
    /// Pages left in the parent image.
    pub pages_in_parent: u64,
}

/// One memory mapping.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Mapping {
    pub start: u64,
    pub end: u64,
    pub size: u64,
    /// `rw-p`, as /proc/PID/maps.
    pub perms: String,
    /// `heap`, `stack`, `anon`, `file`, `vdso`, ...
    pub kind: &'static str,
    /// The mapped file, for file mappings.
    pub path: Option<String>,
    pub offset: u64,
}

/// One open descriptor.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OpenFile {
    pub fd: u32,
    /// `reg`, `pipe`, `inetsk`, `unixsk`, `tty`, `eventfd`, ... (fd_types).
    #[serde(rename = "type")]
    pub fd_type: &'static str,
    pub file_id: u32,
    pub cloexec: bool,
    /// A regular file's path, as the process saw it (or `file[MNT:INODE]`
    /// for a file declared external).
    pub path: Option<String>,
    /// For a file declared external at dump time (cryo's and runc's stdio
    /// on a host file): the host path `descriptors.json` recorded.
    pub host_path: Option<String>,
    /// `r`, `w`, `rw` (with `a` for append).
    pub access: Option<String>,
    pub pos: Option<u64>,
    /// For a pipe or fifo: the pipe's inode, shared by both ends.
    pub pipe_id: Option<u32>,
    /// For a socket: its inode (see [`Report::sockets`]).
    pub socket_ino: Option<u32>,
    /// What it is, in one line as lsof's NAME column:
    /// `/out/held.txt`, `pipe:[537077]`,
    /// `tcp 127.0.0.1:56126->127.0.0.1:7777 (ESTABLISHED)`.
    pub name: String,
}

/// One socket.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Socket {
    pub ino: u32,
    pub file_id: u32,
    /// `inet`, `inet6`, `unix`.
    pub family: &'static str,
    /// `stream`, `dgram`, ...
    #[serde(rename = "type")]
    pub sock_type: &'static str,
    /// `tcp`, `udp`, ... (inet sockets).
    pub proto: Option<&'static str>,
    /// `LISTEN`, `ESTABLISHED`, `CLOSE`, ...
    pub state: &'static str,
    pub local_addr: Option<String>,
    pub local_port: Option<u32>,
    pub remote_addr: Option<String>,
    pub remote_port: Option<u32>,
    /// A unix socket's name (`@name` when abstract).
    pub path: Option<String>,
    /// A unix socket's peer inode.
    pub peer: Option<u32>,
    /// Bytes queued (`tcp-stream-*.img`, with `--tcp-established`).
    pub recv_queue: Option<u32>,
    pub send_queue: Option<u32>,
    pub netns_id: Option<u32>,
    /// The descriptors it is open under.
    pub owners: Vec<FdOwner>,
}

impl Socket {
    /// `127.0.0.1:7777`, `[::1]:80`, `*:8888` for a wildcard, or the unix
    /// name.
    pub fn local(&self) -> String {
        endpoint(&self.local_addr, self.local_port, &self.path)
    }

    /// The peer's address, `*:*` when there is none (a listening or
    /// unconnected socket), `peer:INO` for a connected unix socket.
    pub fn remote(&self) -> String {
        if self.family == "unix" {
            return match self.peer {
                Some(p) => format!("peer:{p}"),
                None => String::new(),
            };
        }
        if self.remote_port == Some(0) {
            return "*:*".into();
        }
        endpoint(&self.remote_addr, self.remote_port, &None)
    }
}

fn endpoint(addr: &Option<String>, port: Option<u32>, path: &Option<String>) -> String {
    match (addr, port) {
        (Some(a), Some(p)) => {
            let a = match a.as_str() {
                "0.0.0.0" | "::" => "*".to_string(),
                a if a.contains(':') => format!("[{a}]"),
                a => a.to_string(),
            };
            format!("{a}:{p}")
        }
        _ => path.clone().unwrap_or_default(),
    }
}

/// A process and descriptor a file is open under.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FdOwner {
    pub pid: u32,
    pub fd: u32,
}

/// One mount.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Mount {
    pub mnt_ns_id: u32,
    pub mnt_id: u32,
    pub parent_mnt_id: u32,
    pub mountpoint: String,
    pub fstype: String,
    pub source: String,
    /// The directory of the filesystem mounted there (a bind mount's source).
    pub root: String,
    /// Per-mount flags as options (`rw,nosuid,relatime`).
    pub flags: String,
    /// Superblock options.
    pub options: String,
    pub dev: String,
    /// The key it was declared external under at dump time.
    pub external: Option<String>,
}

/// Reads the image directory `dir` into a [`Report`].
pub fn inspect(dir: impl AsRef<Path>, opts: &InspectOptions) -> Result<Report> {
    let dir = ImageDir::open(dir)?;
    let inventory = dir.inventory()?;
    let pstree = dir.pstree()?;
    let files = dir.files()?;
    let by_id: HashMap<u32, &FileEntry> = files.iter().map(|f| (f.id, f)).collect();
    let reg_name = |id: u32| match by_id.get(&id).map(|f| &f.kind) {
        Some(FileKind::Reg(r)) => Some(r.name.clone()),
        _ => None,
    };
    let mut warnings = Vec::new();
    let mut arch = None;
    let mut page_size = None;
    let mut fdinfos: HashMap<u32, Vec<FdInfo>> = HashMap::new();
    let mut host_files = HashMap::new();
    let mut processes = Vec::new();
    let depths = depths(&pstree);

    for (i, pe) in pstree.iter().enumerate() {
        let core = dir.core(pe.pid)?;
        arch.get_or_insert(core.arch);
        let tc = core.task.clone().unwrap_or_default();
        let creds = core.thread.as_ref().and_then(|t| t.creds.clone());
        let ids = dir.ids(pe.pid, &core)?;
        let fs = dir.fs(pe.pid)?;
        let mm = dir.mm(pe.pid)?;
        let pagemap = dir.pagemap(pe.pid)?;
        let mem = match &mm {
            Some(_) => dir.memory(pe.pid)?,
            None => None,
        };
        if let Some(m) = &mem {
            page_size.get_or_insert(m.page_size());
        }
        let ps = mem
            .as_ref()
            .map_or(DEFAULT_PAGE_SIZE, MemoryImage::page_size);

        let mut cmdline = None;
        let mut env = None;
        if let Some(mm) = &mm {
            cmdline = read_strings(mem.as_ref(), mm.arg_start, mm.arg_end)?;
            if cmdline.is_none() && mm.arg_end > mm.arg_start {
                warnings.push(format!(
                    "pid {}: argv at 0x{:x} is not in the dumped memory",
                    pe.pid, mm.arg_start
                ));
            }
            if opts.env {
                env = read_strings(mem.as_ref(), mm.env_start, mm.env_end)?;
                if env.is_none() && mm.env_end > mm.env_start {
                    warnings.push(format!(
                        "pid {}: environ at 0x{:x} is not in the dumped memory",
                        pe.pid, mm.env_start
                    ));
                }
            }
        }

        let memory = mm.as_ref().map(|mm| {
            let mut u = usage(mm);
            if let Some(pm) = &pagemap {
                u.pages_dumped = pm.present_pages();
                u.bytes_dumped = u.pages_dumped.saturating_mul(ps);
                u.pages_lazy = pm.remote_pages();
                u.pages_in_parent = pm.parent_pages();
            }
            u
        });
        let vmas = match (&mm, opts.vmas) {
            (Some(mm), true) => Some(
                mm.vmas
                    .iter()
                    .map(|v| Mapping {
                        start: v.start,
                        end: v.end,
                        size: v.len(),
                        perms: v.perms(),
                        kind: v.kind(),
                        path: if v.is_file() {
                            u32::try_from(v.shmid).ok().and_then(reg_name)
                        } else {
                            None
                        },
                        offset: v.pgoff,
                    })
                    .collect(),
            ),
            _ => None,
        };

        let fd_key = match (&ids, inventory.fdinfo_per_id) {
            (Some(ids), true) => ids.files_id,
            _ => pe.pid,
        };
        let fds = match fdinfos.entry(fd_key) {
            std::collections::hash_map::Entry::Occupied(e) => e.into_mut(),
            std::collections::hash_map::Entry::Vacant(e) => {
                e.insert(dir.fdinfo(fd_key)?.unwrap_or_default())
            }
        };
        if i == 0 {
            host_files = external_stdio(&dir, fds, &by_id);
        }
        let files = if opts.files {
            Some(
                fds.iter()
                    .map(|fd| open_file(fd, &by_id, &host_files))
                    .collect(),
            )
        } else {
            None
        };

        processes.push(Process {
            pid: pe.pid,
            ppid: pe.ppid,
            pgid: pe.pgid,
            sid: pe.sid,
            depth: depths[i],
            // A zombie's one thread id is 0 in pstree.img (CRIU learns
            // thread ids from its parasite, which never runs in a zombie).
            threads: pe
                .threads
                .iter()
                .map(|&t| if t == 0 { pe.pid } else { t })
                .collect(),
            comm: tc.comm.clone(),
            state: task::task_state_name(tc.task_state),
            exit_code: tc.exit_code,
            uid: creds.as_ref().map(|c| c.uid),
            gid: creds.as_ref().map(|c| c.gid),
            euid: creds.as_ref().map(|c| c.euid),
            egid: creds.as_ref().map(|c| c.egid),
            cmdline,
            exe: mm.as_ref().and_then(|m| reg_name(m.exe_file_id)),
            cwd: fs.as_ref().and_then(|f| reg_name(f.cwd_id)),
            root: fs.as_ref().and_then(|f| reg_name(f.root_id)),
            ids,
            memory,
            vmas,
            files,
            env,
        });
    }
    let processes = tree_order(processes);

    let sockets = if opts.sockets {
        Some(sockets(&dir, &files, &processes, &fdinfos, &inventory)?)
    } else {
        None
    };

    let mounts = if opts.mounts {
        let mut out = Vec::new();
        for ns in dir.mount_namespaces()? {
            for m in dir.mounts(ns)?.unwrap_or_default() {
                out.push(Mount {
                    mnt_ns_id: ns,
                    mnt_id: m.mnt_id,
                    parent_mnt_id: m.parent_mnt_id,
                    fstype: m.fstype_name(),
                    flags: m.flags_text(),
                    dev: m.dev(),
                    mountpoint: m.mountpoint,
                    source: m.source,
                    root: m.root,
                    options: m.options,
                    external: m.ext_key,
                });
            }
        }
        Some(mount_tree_order(out))
    } else {
        None
    };

    let stats = dir.dump_stats()?;
    if stats.is_none() {
        warnings.push(format!(
            "{}: no stats-dump (CRIU writes it to the work directory; was --work-path elsewhere?)",
            dir.path().display()
        ));
    }
    Ok(Report {
        image_dir: dir.path().display().to_string(),
        image_version: inventory.img_version,
        arch,
        root_pid: pstree.first().map(|p| p.pid),
        page_size: page_size.unwrap_or(DEFAULT_PAGE_SIZE),
        processes,
        sockets,
        mounts,
        stats,
        restore_stats: dir.restore_stats()?,
        warnings,
    })
}

/// Mounts with each parent before its children (siblings by mount id),
/// per namespace, as /proc/PID/mountinfo lists them.
fn mount_tree_order(mut mounts: Vec<Mount>) -> Vec<Mount> {
    mounts.sort_by_key(|m| (m.mnt_ns_id, m.mnt_id));
    let ids: std::collections::HashSet<(u32, u32)> =
        mounts.iter().map(|m| (m.mnt_ns_id, m.mnt_id)).collect();
    let mut children: BTreeMap<(u32, Option<u32>), Vec<usize>> = BTreeMap::new();
    for (i, m) in mounts.iter().enumerate() {
        let parent = (m.parent_mnt_id != m.mnt_id && ids.contains(&(m.mnt_ns_id, m.parent_mnt_id)))
            .then_some(m.parent_mnt_id);
        children.entry((m.mnt_ns_id, parent)).or_default().push(i);
    }
    let mut order = Vec::with_capacity(mounts.len());
    let mut seen = vec![false; mounts.len()];
    let roots: Vec<usize> = children
        .iter()
        .filter(|((_, p), _)| p.is_none())
        .flat_map(|(_, v)| v.iter().copied())
        .collect();
    let mut stack: Vec<usize> = roots.into_iter().rev().collect();
    while let Some(i) = stack.pop() {
        if std::mem::replace(&mut seen[i], true) {
            continue;
        }
        order.push(i);
        let key = (mounts[i].mnt_ns_id, Some(mounts[i].mnt_id));
        if let Some(c) = children.get(&key) {
            stack.extend(c.iter().rev());
        }
    }
    order.extend((0..mounts.len()).filter(|&i| !seen[i]));
    let mut slots: Vec<Option<Mount>> = mounts.into_iter().map(Some).collect();
    order.into_iter().filter_map(|i| slots[i].take()).collect()
}

/// Each entry's depth in the tree (by ppid; parents missing from the dump
/// make a root).
fn depths(pstree: &[crate::task::PstreeEntry]) -> Vec<usize> {
    let parent: HashMap<u32, u32> = pstree.iter().map(|p| (p.pid, p.ppid)).collect();
    pstree
        .iter()
        .map(|p| {
            let mut d = 0;
            let mut cur = p.ppid;
            while let Some(&pp) = parent.get(&cur) {
                d += 1;
                if d > pstree.len() {
                    break; // a cycle in a corrupt image
                }
                cur = pp;
            }
            d
        })
        .collect()
}

/// Processes ordered depth first, children by pid, so a tree can be drawn.
fn tree_order(procs: Vec<Process>) -> Vec<Process> {
    let pids: std::collections::HashSet<u32> = procs.iter().map(|p| p.pid).collect();
    let mut children: BTreeMap<Option<u32>, Vec<usize>> = BTreeMap::new();
    for (i, p) in procs.iter().enumerate() {
        let parent = if pids.contains(&p.ppid) && p.ppid != p.pid {
            Some(p.ppid)
        } else {
            None
        };
        children.entry(parent).or_default().push(i);
    }
    for v in children.values_mut() {
        v.sort_by_key(|&i| procs[i].pid);
    }
    let mut order = Vec::with_capacity(procs.len());
    let mut seen = vec![false; procs.len()];
    let mut stack: Vec<usize> = children.get(&None).cloned().unwrap_or_default();
    stack.reverse();
    while let Some(i) = stack.pop() {
        if std::mem::replace(&mut seen[i], true) {
            continue;
        }
        order.push(i);
        if let Some(c) = children.get(&Some(procs[i].pid)) {
            stack.extend(c.iter().rev());
        }
    }
    // Anything a corrupt tree left out (cycles) goes last, as it came.
    order.extend((0..procs.len()).filter(|&i| !seen[i]));
    let mut slots: Vec<Option<Process>> = procs.into_iter().map(Some).collect();
    order.into_iter().filter_map(|i| slots[i].take()).collect()
}

fn read_strings(mem: Option<&MemoryImage>, start: u64, end: u64) -> Result<Option<Vec<String>>> {
    let Some(mem) = mem else {
        return Ok(None);
    };
    if end <= start || end - start > MAX_STRINGS {
        return Ok(None);
    }
    Ok(mem.read(start, end - start)?.map(|b| split_nul(&b)))
}

fn usage(mm: &MmEntry) -> MemoryUsage {
    let mut u = MemoryUsage {
        vmas: mm.vmas.len(),
        ..MemoryUsage::default()
    };
    for v in mm.vmas.iter().filter(|v| !v.is_special()) {
        u.mapped = u.mapped.saturating_add(v.len());
        if v.is_anonymous() {
            u.anonymous = u.anonymous.saturating_add(v.len());
        } else if v.is_file() {
            u.file_backed = u.file_backed.saturating_add(v.len());
        }
    }
    u
}

/// runc's `descriptors.json` (cryo writes it too): what the init's fds 0-2
/// were on the host at checkpoint time. For those CRIU was told are
/// external, it is the only record of what they were: file id -> host path.
fn external_stdio(
    dir: &ImageDir,
    root_fds: &[FdInfo],
    by_id: &HashMap<u32, &FileEntry>,
) -> HashMap<u32, String> {
    let mut out = HashMap::new();
    let Ok(text) = std::fs::read_to_string(dir.file(DESCRIPTORS)) else {
        return out;
    };
    let Ok(paths) = serde_json::from_str::<Vec<String>>(&text) else {
        return out;
    };
    for fd in root_fds {
        let Some(path) = paths.get(fd.fd as usize) else {
            continue;
        };
        if let Some(FileKind::Reg(r)) = by_id.get(&fd.id).map(|e| &e.kind) {
            if r.ext {
                out.insert(fd.id, path.clone());
            }
        }
    }
    out
}

fn open_file(
    fd: &FdInfo,
    by_id: &HashMap<u32, &FileEntry>,
    host_files: &HashMap<u32, String>,
) -> OpenFile {
    let mut f = OpenFile {
        fd: fd.fd,
        fd_type: files::fd_type_name(fd.fd_type),
        file_id: fd.id,
        cloexec: fd.cloexec(),
        host_path: host_files.get(&fd.id).cloned(),
        path: None,
        access: None,
        pos: None,
        pipe_id: None,
        socket_ino: None,
        name: String::new(),
    };
    f.name = match by_id.get(&fd.id).map(|e| &e.kind) {
        Some(FileKind::Reg(r)) => {
            f.path = Some(r.name.clone());
            f.access = Some(r.access());
            f.pos = Some(r.pos);
            if let Some(host) = &f.host_path {
                format!("{host} (host file, external {})", r.name)
            } else if r.ext {
                format!("{} (external)", r.name)
            } else {
                r.name.clone()
            }
        }
        Some(FileKind::Pipe { pipe_id, .. }) => {
            f.pipe_id = Some(*pipe_id);
            format!("pipe:[{pipe_id}]")
        }
        Some(FileKind::Fifo { pipe_id, regf_id }) => {
            f.pipe_id = Some(*pipe_id);
            let path = regf_id.and_then(|id| match by_id.get(&id).map(|e| &e.kind) {
                Some(FileKind::Reg(r)) => Some(r.name.clone()),
                _ => None,
            });
            f.path.clone_from(&path);
            path.unwrap_or_else(|| format!("fifo:[{pipe_id}]"))
        }
        Some(FileKind::Inet(s)) => {
            f.socket_ino = Some(s.ino);
            inet_summary(s)
        }
        Some(FileKind::Unix(u)) => {
            f.socket_ino = Some(u.ino);
            let name = u.display_name();
            format!(
                "unix {}{} ({})",
                files::sock_type_name(u.sock_type),
                if name.is_empty() {
                    String::new()
                } else {
                    format!(" {name}")
                },
                files::sock_state_name(u.state)
            )
        }
        Some(FileKind::Tty { tty_info_id, .. }) => format!("tty (tty-info {tty_info_id})"),
        Some(FileKind::Ext) => "external".to_string(),
        Some(FileKind::Ns { ns_id, .. }) => format!("ns:[{ns_id}]"),
        Some(FileKind::Memfd { inode_id }) => format!("memfd (inode {inode_id})"),
        Some(FileKind::Pidfd { nspid, .. }) => format!("pidfd:{nspid}"),
        Some(FileKind::Other) => format!("{}:[{}]", f.fd_type, fd.id),
        None => format!("{} (file {} not in files.img)", f.fd_type, fd.id),
    };
    f
}

fn inet_summary(s: &files::InetSocket) -> String {
    let sk = inet_socket(s, 0);
    let proto = sk.proto.unwrap_or("inet");
    let v6 = if s.family == 10 { "6" } else { "" };
    if sk.remote_port == Some(0) {
        format!("{proto}{v6} {} ({})", sk.local(), sk.state)
    } else {
        format!("{proto}{v6} {}->{} ({})", sk.local(), sk.remote(), sk.state)
    }
}

fn inet_socket(s: &files::InetSocket, file_id: u32) -> Socket {
    Socket {
        ino: s.ino,
        file_id,
        family: files::family_name(s.family),
        sock_type: files::sock_type_name(s.sock_type),
        proto: Some(files::proto_name(s.proto)),
        state: files::sock_state_name(s.state),
        local_addr: s.src().map(|a| a.to_string()),
        local_port: Some(s.src_port),
        remote_addr: s.dst().map(|a| a.to_string()),
        remote_port: Some(s.dst_port),
        path: None,
        peer: None,
        recv_queue: None,
        send_queue: None,
        netns_id: s.ns_id,
        owners: Vec::new(),
    }
}

fn sockets(
    dir: &ImageDir,
    files: &[FileEntry],
    processes: &[Process],
    fdinfos: &HashMap<u32, Vec<FdInfo>>,
    inventory: &crate::task::Inventory,
) -> Result<Vec<Socket>> {
    // Who holds each file id.
    let mut owners: HashMap<u32, Vec<FdOwner>> = HashMap::new();
    for p in processes {
        let key = match (&p.ids, inventory.fdinfo_per_id) {
            (Some(ids), true) => ids.files_id,
            _ => p.pid,
        };
        for fd in fdinfos.get(&key).map(Vec::as_slice).unwrap_or(&[]) {
            owners.entry(fd.id).or_default().push(FdOwner {
                pid: p.pid,
                fd: fd.fd,
            });
        }
    }
    let mut out = Vec::new();
    for f in files {
        let mut sk = match &f.kind {
            FileKind::Inet(s) => {
                let mut sk = inet_socket(s, f.id);
                if s.state == 1 {
                    if let Some(t) = dir.tcp_stream(s.ino)? {
                        sk.recv_queue = Some(t.inq_len);
                        sk.send_queue = Some(t.outq_len);
                    }
                }
                sk
            }
            FileKind::Unix(u) => Socket {
                ino: u.ino,
                file_id: f.id,
                family: "unix",
                sock_type: files::sock_type_name(u.sock_type),
                proto: None,
                state: files::sock_state_name(u.state),
                local_addr: None,
                local_port: None,
                remote_addr: None,
                remote_port: None,
                path: Some(u.display_name()),
                peer: (u.peer != 0).then_some(u.peer),
                recv_queue: None,
                send_queue: None,
                netns_id: u.ns_id,
                owners: Vec::new(),
            },
            _ => continue,
        };
        sk.owners = owners.remove(&f.id).unwrap_or_default();
        out.push(sk);
    }
    Ok(out)
}
