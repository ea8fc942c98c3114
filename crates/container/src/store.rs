//! The state store: one directory per container under the state root
//! (`/run/cryo/<id>`), holding `state.json` (written atomically), a lock
//! file that serialises verbs on the container, and the start socket.
//!
//! Two more files make a crash of cryo (SIGKILL, OOM) recoverable:
//!
//! * `pending.json`, written by create and restore before they make
//!   anything outside the directory (the cgroup, CRIU's mounts): a
//!   directory without `state.json` but with it is what a killed create or
//!   restore left, and `delete` removes what it names ([`Pending`]);
//! * `frozen-by-checkpoint.json`, written before a checkpoint freezes the
//!   container and removed when it thaws it: a checkpoint that died in
//!   between left the container frozen, and the next verb (or `state`)
//!   thaws it once CRIU is gone too ([`Frozen`]).

use std::collections::{BTreeMap, HashMap};
use std::fs;
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use cryo_oci::{State, Status};
use serde::{Deserialize, Serialize};

use crate::error::{ContainerError, Context, Result};

pub const STATE_FILE: &str = "state.json";
pub const LOCK_FILE: &str = "lock";
pub const START_SOCKET: &str = "start.sock";
pub const PENDING_FILE: &str = "pending.json";
pub const FROZEN_FILE: &str = "frozen-by-checkpoint.json";

/// A process named so that pid reuse is noticed: its pid and its start
/// time (field 22 of /proc/<pid>/stat).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProcessId {
    pub pid: i32,
    pub start_time: u64,
}

impl ProcessId {
    /// `pid` as it is now, if it exists.
    pub fn of(pid: i32) -> Option<ProcessId> {
        cryo_sys::process::proc_start_time(pid).map(|(start_time, _)| ProcessId { pid, start_time })
    }

    /// Whether this very process still runs (not a zombie, not a new
    /// process under the same pid).
    pub fn alive(&self) -> bool {
        matches!(cryo_sys::process::proc_start_time(self.pid),
            Some((t, zombie)) if t == self.start_time && !zombie)
    }
}

/// What a create or restore in progress has made outside its state
/// directory, for `delete` to remove if it is killed before `state.json`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Pending {
    /// Controller → cgroup directory (written before the cgroup is made).
    pub cgroup_paths: BTreeMap<String, PathBuf>,
    /// A restore's CRIU work directory: CRIU mounts its cgroup yard
    /// (`.criu.cgyard.*`) there while it restores.
    #[serde(default)]
    pub criu_work: Option<PathBuf>,
    /// A restore's CRIU, once started.
    #[serde(default)]
    pub criu: Option<ProcessId>,
}

/// A checkpoint froze the container (it was not paused before); `criu` is
/// the CRIU dumping it, once started.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Frozen {
    #[serde(default)]
    pub criu: Option<ProcessId>,
}

/// What cryo remembers about a container between verbs.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Record {
    pub id: String,
    /// Host pid of the container's init process.
    pub init_pid: i32,
    /// Start time of the init (from /proc/<pid>/stat) to detect pid reuse.
    pub init_start_time: u64,
    pub bundle: PathBuf,
    pub rootfs: PathBuf,
    pub created: String,
    #[serde(default)]
    pub annotations: HashMap<String, String>,
    /// Whether `start` has let the init exec the user process.
    pub started: bool,
    /// A container restored by `create` (the `org.cryo.restore-from`
    /// annotation) waits frozen in its cgroup; `start` thaws it.
    #[serde(default)]
    pub frozen_until_start: bool,
    /// Whether the container has a pid namespace of its own (killing the
    /// init then kills everything in it).
    pub own_pid_ns: bool,
    /// Controller → cgroup directory.
    pub cgroup_paths: BTreeMap<String, PathBuf>,
    /// Device and inode of the init's executable before `start` (cryo's
    /// own image): once they differ the init has exec'd the program,
    /// whatever `started` says (a `start` killed before it recorded it).
    #[serde(default)]
    pub init_exe: Option<(u64, u64)>,
    /// The config the container was created from.
    pub config: oci_spec::runtime::Spec,
}

impl Record {
    /// The live status, derived from the kernel rather than stored.
    pub fn status(&self) -> Status {
        match cryo_sys::process::proc_start_time(self.init_pid) {
            Some((start, zombie)) if start == self.init_start_time && !zombie => {}
            _ => return Status::Stopped,
        }
        let cgroup = cryo_cgroups::from_paths(self.cgroup_paths.clone()).ok();
        let frozen = || {
            cgroup
                .as_ref()
                .is_some_and(|cg| cg.is_frozen().unwrap_or(false))
        };
        if !self.started && !self.start_happened(&frozen) {
            return Status::Created;
        }
        if frozen() {
            return Status::Paused;
        }
        Status::Running
    }

    /// Whether `start` did its work though the record does not say so (it
    /// was killed between letting the container go and saving that): the
    /// init runs another executable than the one it was created with, or
    /// the cgroup of a container restored by `create` is thawed.
    fn start_happened(&self, frozen: &dyn Fn() -> bool) -> bool {
        if self.frozen_until_start {
            return !frozen();
        }
        match self.init_exe {
            Some(exe) => exe_of(self.init_pid).is_some_and(|now| now != exe),
            None => false,
        }
    }

    /// runc's state document.
    pub fn state(&self, owner: String) -> State {
        let status = self.status();
        State {
            oci_version: cryo_oci::OCI_VERSION.to_string(),
            id: self.id.clone(),
            pid: if status == Status::Stopped {
                0
            } else {
                self.init_pid
            },
            status,
            bundle: self.bundle.clone(),
            rootfs: self.rootfs.clone(),
            created: self.created.clone(),
            annotations: self.annotations.clone(),
            owner,
        }
    }
}

/// Device and inode of the executable process `pid` runs.
pub fn exe_of(pid: i32) -> Option<(u64, u64)> {
    fs::metadata(format!("/proc/{pid}/exe"))
        .ok()
        .map(|m| (m.dev(), m.ino()))
}

/// The state root directory.
#[derive(Debug, Clone)]
pub struct Store {
    root: PathBuf,
}

/// An exclusive lock on one container, held until dropped.
#[derive(Debug)]
pub struct Locked {
    pub dir: PathBuf,
    _lock: nix::fcntl::Flock<fs::File>,
}

impl Store {
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Store { root: root.into() }
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    pub fn dir(&self, id: &str) -> PathBuf {
        self.root.join(id)
    }

    /// Whether the entry of `id` in the root is a symbolic link. cryo never
    /// makes one; a verb treats it as no container (as runc, which resolves
    /// ids inside its root, does), so nothing it locks, reads or removes is
    /// reached through the link.
    pub fn is_symlink(&self, id: &str) -> bool {
        fs::symlink_metadata(self.dir(id)).is_ok_and(|m| m.file_type().is_symlink())
    }

    fn ensure_root(&self) -> Result<()> {
        fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(&self.root)
            .ctx(|| format!("create state root {}", self.root.display()))
    }

    /// The directory of an existing entry `id`: a valid id whose entry is
    /// not a symbolic link ([`Store::is_symlink`]). Whether it holds a
    /// container is for the caller to see.
    fn container_dir(&self, id: &str) -> Result<PathBuf> {
        cryo_oci::validate_id(id)?;
        if self.is_symlink(id) {
            return Err(ContainerError::NotExist);
        }
        Ok(self.dir(id))
    }

    /// The record of `id`, read without its lock (`state`, `ps`, `events`).
    pub fn read(&self, id: &str) -> Result<Record> {
        read_record(&self.container_dir(id)?)
    }

    /// Creates the container's directory; fails if the id is taken.
    pub fn create_dir(&self, id: &str) -> Result<Locked> {
        cryo_oci::validate_id(id)?;
        self.ensure_root()?;
        let dir = self.dir(id);
        match fs::DirBuilder::new().mode(0o711).create(&dir) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                return Err(ContainerError::Exists(id.to_string()))
            }
            Err(e) => return Err(e).ctx(|| format!("create {}", dir.display())),
        }
        lock_dir(dir)
    }

    /// Locks an existing container.
    pub fn lock(&self, id: &str) -> Result<Locked> {
        let dir = self.container_dir(id)?;
        loop {
            if !dir.join(STATE_FILE).exists() {
                return Err(ContainerError::NotExist);
            }
            // The lock file exists as long as the container does. Opening
            // it without O_CREAT: a lock file made in a directory that a
            // delete is removing would make the delete fail (not empty).
            let file = match open_lock_file(&dir, false) {
                Ok(f) => f,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                    return Err(ContainerError::NotExist)
                }
                Err(e) => return Err(e).ctx(|| format!("open lock in {}", dir.display())),
            };
            let lock = nix::fcntl::Flock::lock(file, nix::fcntl::FlockArg::LockExclusive)
                .map_err(|(_, e)| e)
                .ctx(|| format!("lock {}", dir.display()))?;
            // A concurrent delete may have removed it while we waited, and
            // a create may have made another container of that id since:
            // its lock is another file, so look again.
            if !dir.join(STATE_FILE).exists() {
                return Err(ContainerError::NotExist);
            }
            if is_lock_of(&lock, &dir) {
                return Ok(Locked { dir, _lock: lock });
            }
        }
    }

    /// Locks the directory of `id` if it exists without a state file and
    /// nobody holds its lock (a create or restore in progress does): what
    /// a killed create or restore left behind.
    pub fn lock_stale(&self, id: &str) -> Option<Locked> {
        let dir = self.container_dir(id).ok()?;
        if !dir.is_dir() || dir.join(STATE_FILE).exists() {
            return None;
        }
        let file = open_lock_file(&dir, true).ok()?;
        let lock =
            nix::fcntl::Flock::lock(file, nix::fcntl::FlockArg::LockExclusiveNonblock).ok()?;
        (!dir.join(STATE_FILE).exists()).then_some(Locked { dir, _lock: lock })
    }

    /// Locks `id` without waiting; None if a verb holds it (or it is gone).
    pub fn try_lock(&self, id: &str) -> Option<Locked> {
        let dir = self.container_dir(id).ok()?;
        let file = open_lock_file(&dir, false).ok()?;
        let lock =
            nix::fcntl::Flock::lock(file, nix::fcntl::FlockArg::LockExclusiveNonblock).ok()?;
        is_lock_of(&lock, &dir).then_some(Locked { dir, _lock: lock })
    }

    /// Ids of every container in the root, sorted.
    pub fn ids(&self) -> Result<Vec<String>> {
        let mut ids = Vec::new();
        let entries = match fs::read_dir(&self.root) {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(ids),
            Err(e) => return Err(e).ctx(|| format!("read {}", self.root.display())),
        };
        for entry in entries.flatten() {
            if let Some(name) = entry.file_name().to_str() {
                let linked = entry.file_type().is_ok_and(|t| t.is_symlink());
                if cryo_oci::validate_id(name).is_ok()
                    && !linked
                    && entry.path().join(STATE_FILE).exists()
                {
                    ids.push(name.to_string());
                }
            }
        }
        ids.sort();
        Ok(ids)
    }
}

fn open_lock_file(dir: &Path, create: bool) -> std::io::Result<fs::File> {
    fs::OpenOptions::new()
        .create(create)
        .truncate(false)
        .write(true)
        .mode(0o600)
        .custom_flags(libc::O_CLOEXEC)
        .open(dir.join(LOCK_FILE))
}

/// Whether `lock` is (still) the lock file of `dir`.
fn is_lock_of(lock: &fs::File, dir: &Path) -> bool {
    match (lock.metadata(), fs::metadata(dir.join(LOCK_FILE))) {
        (Ok(a), Ok(b)) => a.dev() == b.dev() && a.ino() == b.ino(),
        _ => false,
    }
}

/// Creates and locks the lock file of a new container directory.
fn lock_dir(dir: PathBuf) -> Result<Locked> {
    let file = open_lock_file(&dir, true).ctx(|| format!("open lock in {}", dir.display()))?;
    let lock = nix::fcntl::Flock::lock(file, nix::fcntl::FlockArg::LockExclusive)
        .map_err(|(_, e)| e)
        .ctx(|| format!("lock {}", dir.display()))?;
    Ok(Locked { dir, _lock: lock })
}

impl Locked {
    /// The record; a freeze a killed checkpoint left is undone first (see
    /// [`crate::lifecycle::recover_frozen`]).
    pub fn load(&self) -> Result<Record> {
        let rec = read_record(&self.dir)?;
        crate::lifecycle::recover_frozen(self, &rec);
        Ok(rec)
    }

    /// Writes state.json atomically (temp file + fsync-free rename: /run is
    /// tmpfs, and a torn write is impossible with rename). From then on the
    /// record says what to remove, and `pending.json` goes.
    pub fn save(&self, rec: &Record) -> Result<()> {
        let bytes = encode_record(rec).map_err(|e| ContainerError::Invalid(e.to_string()))?;
        write_private(&self.dir.join(STATE_FILE), &bytes)?;
        remove_if_exists(&self.dir.join(PENDING_FILE))
    }

    /// Records what a create or restore is about to make outside the
    /// directory (before it makes it).
    pub fn save_pending(&self, pending: &Pending) -> Result<()> {
        let bytes =
            serde_json::to_vec(pending).map_err(|e| ContainerError::Invalid(e.to_string()))?;
        write_private(&self.dir.join(PENDING_FILE), &bytes)
    }

    /// What a killed create or restore recorded (None if nothing, or
    /// unreadable: then there is nothing to go by).
    pub fn pending(&self) -> Option<Pending> {
        let bytes = fs::read(self.dir.join(PENDING_FILE)).ok()?;
        serde_json::from_slice(&bytes).ok()
    }

    /// Records that a checkpoint froze the container (before it freezes
    /// it), and later which CRIU works on it.
    pub fn mark_frozen(&self, frozen: &Frozen) -> Result<()> {
        let bytes =
            serde_json::to_vec(frozen).map_err(|e| ContainerError::Invalid(e.to_string()))?;
        write_private(&self.dir.join(FROZEN_FILE), &bytes)
    }

    /// The freeze of a checkpoint is undone (or the container is gone).
    pub fn clear_frozen(&self) -> Result<()> {
        remove_if_exists(&self.dir.join(FROZEN_FILE))
    }

    /// The mark of a checkpoint's freeze, if there is one (an unreadable
    /// one counts, without CRIU).
    pub fn frozen_mark(&self) -> Option<Frozen> {
        match fs::read(self.dir.join(FROZEN_FILE)) {
            Ok(b) => Some(serde_json::from_slice(&b).unwrap_or_default()),
            Err(_) => None,
        }
    }

    /// Removes the container's directory (the lock goes with it). Anything
    /// mounted below it (CRIU's root of a restore, a cgroup yard) is
    /// unmounted first; if that fails the directory stays: a recursive
    /// removal must never reach into another filesystem (the rootfs bound
    /// at criu-root would be emptied).
    pub fn remove(self) -> Result<()> {
        cryo_sys::mount::unmount_all_under(&self.dir).map_err(|(at, e)| {
            ContainerError::Invalid(format!(
                "{} is still mounted ({}): not removing {}",
                at.display(),
                crate::error::errno_text(e),
                self.dir.display()
            ))
        })?;
        let mut tries = 0;
        loop {
            match fs::remove_dir_all(&self.dir) {
                Ok(()) => return Ok(()),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
                // A racing `delete` looking for a stale directory may have
                // made a lock file in it meanwhile: remove that too.
                Err(e) if e.kind() == std::io::ErrorKind::DirectoryNotEmpty && tries < 10 => {
                    tries += 1;
                }
                Err(e) => return Err(e).ctx(|| format!("remove {}", self.dir.display())),
            }
        }
    }

    /// In a child forked while the lock is held (a container's init, an
    /// exec's stage 1): closes the child's copy of the lock's fd without
    /// releasing the parent's lock. Otherwise a child outliving a killed
    /// parent keeps the container locked, and nothing can clean it up.
    pub fn close_in_child(&self) {
        use std::os::fd::AsRawFd;
        cryo_sys::fd::close_inherited(self._lock.as_raw_fd());
    }

    /// Owner of the state directory, as a user name when known (runc's `owner`).
    pub fn owner(&self) -> String {
        owner_of(&self.dir)
    }
}

/// Writes `path` readable by root only, atomically (a temp file beside it,
/// then rename: readers see the old or the new content, never a part).
pub fn write_private(path: &Path, bytes: &[u8]) -> Result<()> {
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("file");
    let tmp = path.with_file_name(format!(".{name}.tmp"));
    let mut f = fs::OpenOptions::new()
        .create(true)
        .truncate(true)
        .write(true)
        .mode(0o600)
        .custom_flags(libc::O_CLOEXEC)
        .open(&tmp)
        .ctx(|| format!("write {}", tmp.display()))?;
    f.write_all(bytes)
        .ctx(|| format!("write {}", tmp.display()))?;
    fs::rename(&tmp, path).ctx(|| format!("rename {}", tmp.display()))
}

fn remove_if_exists(path: &Path) -> Result<()> {
    match fs::remove_file(path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e).ctx(|| format!("remove {}", path.display())),
    }
}

pub fn read_record(dir: &Path) -> Result<Record> {
    let path = dir.join(STATE_FILE);
    let bytes = match fs::read(&path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Err(ContainerError::NotExist),
        Err(e) => return Err(e).ctx(|| format!("read {}", path.display())),
    };
    parse_record(&bytes).map_err(|e| ContainerError::Corrupt {
        path,
        message: e.to_string(),
    })
}

/// Parses the bytes of a `state.json`.
pub fn parse_record(bytes: &[u8]) -> serde_json::Result<Record> {
    serde_json::from_slice(bytes)
}

/// The bytes [`Locked::save`] writes for `rec`.
pub fn encode_record(rec: &Record) -> serde_json::Result<Vec<u8>> {
    serde_json::to_vec(rec)
}

pub fn owner_of(dir: &Path) -> String {
    let uid = fs::metadata(dir).map(|m| m.uid()).unwrap_or(0);
    user_name(uid).unwrap_or_else(|| format!("#{uid}"))
}

fn user_name(uid: u32) -> Option<String> {
    let passwd = fs::read_to_string("/etc/passwd").ok()?;
    passwd.lines().find_map(|l| {
        let mut f = l.split(':');
        let name = f.next()?;
        let id: u32 = f.nth(1)?.parse().ok()?;
        (id == uid).then(|| name.to_string())
    })
}
