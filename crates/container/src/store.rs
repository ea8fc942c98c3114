//! The state store: one directory per container under the state root
//! (`/run/cryo/<id>`), holding `state.json` (written atomically), a lock
//! file that serialises verbs on the container, and the start socket.

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
        if !self.started {
            return Status::Created;
        }
        if let Ok(cg) = cryo_cgroups::from_paths(self.cgroup_paths.clone()) {
            if cg.is_frozen().unwrap_or(false) {
                return Status::Paused;
            }
        }
        Status::Running
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

    fn ensure_root(&self) -> Result<()> {
        fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(&self.root)
            .ctx(|| format!("create state root {}", self.root.display()))
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
        cryo_oci::validate_id(id)?;
        let dir = self.dir(id);
        if !dir.join(STATE_FILE).exists() {
            return Err(ContainerError::NotExist);
        }
        let locked = lock_dir(dir)?;
        // A concurrent delete may have removed it while we waited.
        if !locked.dir.join(STATE_FILE).exists() {
            return Err(ContainerError::NotExist);
        }
        Ok(locked)
    }

    /// Locks the directory of `id` if it exists without a state file and
    /// nobody holds its lock (a create or restore in progress does): what
    /// a killed create or restore left behind.
    pub fn lock_stale(&self, id: &str) -> Option<Locked> {
        cryo_oci::validate_id(id).ok()?;
        let dir = self.dir(id);
        if !dir.is_dir() || dir.join(STATE_FILE).exists() {
            return None;
        }
        let file = open_lock_file(&dir).ok()?;
        let lock =
            nix::fcntl::Flock::lock(file, nix::fcntl::FlockArg::LockExclusiveNonblock).ok()?;
        (!dir.join(STATE_FILE).exists()).then_some(Locked { dir, _lock: lock })
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
                if cryo_oci::validate_id(name).is_ok() && entry.path().join(STATE_FILE).exists() {
                    ids.push(name.to_string());
                }
            }
        }
        ids.sort();
        Ok(ids)
    }
}

fn open_lock_file(dir: &Path) -> std::io::Result<fs::File> {
    fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .mode(0o600)
        .custom_flags(libc::O_CLOEXEC)
        .open(dir.join(LOCK_FILE))
}

fn lock_dir(dir: PathBuf) -> Result<Locked> {
    let file = open_lock_file(&dir).ctx(|| format!("open lock in {}", dir.display()))?;
    let lock = nix::fcntl::Flock::lock(file, nix::fcntl::FlockArg::LockExclusive)
        .map_err(|(_, e)| e)
        .ctx(|| format!("lock {}", dir.display()))?;
    Ok(Locked { dir, _lock: lock })
}

impl Locked {
    pub fn load(&self) -> Result<Record> {
        read_record(&self.dir)
    }

    /// Writes state.json atomically (temp file + fsync-free rename: /run is
    /// tmpfs, and a torn write is impossible with rename).
    pub fn save(&self, rec: &Record) -> Result<()> {
        let bytes = encode_record(rec).map_err(|e| ContainerError::Invalid(e.to_string()))?;
        write_private(&self.dir.join(STATE_FILE), &bytes)
    }

    /// Removes the container's directory (the lock goes with it).
    pub fn remove(self) -> Result<()> {
        match fs::remove_dir_all(&self.dir) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(e).ctx(|| format!("remove {}", self.dir.display())),
        }
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
