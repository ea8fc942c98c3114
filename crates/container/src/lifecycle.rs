//! The verbs that act on an existing container: start, state, list, kill,
//! delete, and waiting on a foreground container for `run`.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use cryo_oci::{State, Status};
use cryo_sys::process as p;

use crate::hooks::HookKind;

use cryo_faults::Point;

use crate::error::{ContainerError, Context, Result};
use crate::store::{Locked, Pending, Record, Store, FROZEN_FILE, START_SOCKET};

/// Lets the init exec the user's program.
pub fn start(store: &Store, id: &str) -> Result<()> {
    let locked = store.lock(id)?;
    let mut rec = locked.load()?;
    match rec.status() {
        Status::Created => {}
        Status::Stopped => return Err(ContainerError::StartStopped),
        _ => return Err(ContainerError::StartRunning),
    }
    if rec.frozen_until_start {
        // Restored by create: its processes exist already, frozen.
        cryo_cgroups::from_paths(rec.cgroup_paths.clone())?.thaw()?;
        // A crash from here on: the thawed cgroup shows it started.
        rec.started = true;
        rec.frozen_until_start = false;
        locked.save(&rec)?;
        run_warning_hooks(&rec, HookKind::Poststart, Status::Running);
        return Ok(());
    }
    let sock_path = locked.dir.join(START_SOCKET);
    // An init killed meanwhile (a racing `kill`) stops answering: once it
    // is gone (a moment at most), say so.
    let stopped_or = |e: ContainerError| {
        if let Ok(fd) = p::pidfd_open(rec.init_pid) {
            let _ = p::pidfd_wait(&fd, 500);
        }
        if rec.status() == Status::Stopped {
            ContainerError::StartStopped
        } else {
            e
        }
    };
    let conn = cryo_sys::socket::connect(&sock_path, true)
        .ctx(|| "connect to container init".into())
        .map_err(stopped_or)?;
    cryo_sys::socket::send(&conn, b"start")
        .ctx(|| "signal container init".into())
        .map_err(stopped_or)?;
    // The init's end closes on a successful exec (close-on-exec); otherwise
    // it sends the reason first.
    let mut buf = vec![0u8; 4096];
    let n = cryo_sys::socket::recv(&conn, &mut buf)
        .ctx(|| "wait for container init".into())
        .map_err(stopped_or)?;
    if n > 0 {
        return Err(ContainerError::Init(format!(
            "unable to start container process: {}",
            String::from_utf8_lossy(&buf[..n])
        )));
    }
    // A crash from here on: the init's new executable shows it started.
    cryo_faults::point(Point::StartAfterExec);
    rec.started = true;
    locked.save(&rec)?;
    let _ = std::fs::remove_file(&sock_path);
    run_warning_hooks(&rec, HookKind::Poststart, Status::Running);
    Ok(())
}

pub fn state(store: &Store, id: &str) -> Result<State> {
    let rec = store.read(id)?;
    recover_frozen_unlocked(store, id, &rec);
    // runc leaves `owner` empty in `state` (only `list` fills it in).
    Ok(rec.state(String::new()))
}

pub fn list(store: &Store) -> Result<Vec<State>> {
    let mut out = Vec::new();
    for id in store.ids()? {
        let dir = store.dir(&id);
        if let Ok(rec) = crate::store::read_record(&dir) {
            recover_frozen_unlocked(store, &id, &rec);
            out.push(rec.state(crate::store::owner_of(&dir)));
        }
    }
    Ok(out)
}

/// [`recover_frozen`] for the verbs that read state without the lock
/// (`state`, `list`): only if a freeze mark is there and no verb holds the
/// lock (a checkpoint in progress does).
fn recover_frozen_unlocked(store: &Store, id: &str, rec: &Record) {
    if !store.dir(id).join(FROZEN_FILE).exists() {
        return;
    }
    if let Some(locked) = store.try_lock(id) {
        recover_frozen(&locked, rec);
    }
}

/// Undoes the freeze of a checkpoint that was killed before it thawed the
/// container (the freeze mark is there though nobody holds the lock):
/// thaws the cgroup once the CRIU it started is gone too. A CRIU whose
/// client died stops at its next notification and resumes the tasks;
/// until then the container shows `paused`. A container the user paused
/// is never marked, so it stays paused.
pub fn recover_frozen(locked: &Locked, rec: &Record) {
    let Some(mark) = locked.frozen_mark() else {
        return;
    };
    if mark.criu.is_some_and(|c| c.alive()) {
        return;
    }
    let thawed = cryo_cgroups::from_paths(rec.cgroup_paths.clone())
        .map(|cg| cg.thaw().is_ok())
        .unwrap_or(false);
    if thawed {
        let _ = locked.clear_frozen();
    }
}

/// Parses `9`, `KILL`, `SIGKILL`, `sigkill`.
pub fn parse_signal(s: &str) -> Result<i32> {
    if let Ok(n) = s.parse::<i32>() {
        if (1..=64).contains(&n) {
            return Ok(n);
        }
        return Err(ContainerError::Invalid(format!(
            "invalid signal number {n}"
        )));
    }
    let upper = s.to_ascii_uppercase();
    let name = if upper.starts_with("SIG") {
        upper
    } else {
        format!("SIG{upper}")
    };
    name.parse::<nix::sys::signal::Signal>()
        .map(|sig| sig as i32)
        .map_err(|_| ContainerError::Invalid(format!("unknown signal {s:?}")))
}

pub fn kill(store: &Store, id: &str, sig: i32, all: bool) -> Result<()> {
    let locked = store.lock(id)?;
    let rec = locked.load()?;
    if rec.status() == Status::Stopped {
        return Err(ContainerError::NotRunning);
    }
    if all {
        signal_all(&rec, sig)
    } else {
        p::kill(rec.init_pid, sig).ctx(|| "kill container init".into())
    }
}

/// Signals every process of the container's cgroup, frozen so none can fork
/// away meanwhile.
fn signal_all(rec: &Record, sig: i32) -> Result<()> {
    let cg = cryo_cgroups::from_paths(rec.cgroup_paths.clone())?;
    let was_frozen = cg.is_frozen().unwrap_or(false);
    if !was_frozen {
        let _ = cg.freeze();
    }
    for pid in cg.processes()? {
        let _ = p::kill(pid, sig);
    }
    if !was_frozen || sig == libc::SIGKILL {
        let _ = cg.thaw();
    }
    Ok(())
}

pub fn delete(store: &Store, id: &str, force: bool) -> Result<()> {
    let locked = match store.lock(id) {
        Err(ContainerError::NotExist) => {
            // A create or restore killed before it wrote state.json leaves
            // a directory without state (and, for restore, CRIU's root
            // mount): like runc, remove it.
            remove_stale_dir(store, id);
            return Err(ContainerError::NotExist);
        }
        other => other?,
    };
    let rec = locked.load()?;
    match rec.status() {
        Status::Stopped | Status::Created => {}
        status if !force => {
            return Err(ContainerError::DeleteNotStopped {
                id: id.to_string(),
                status: status.to_string(),
            })
        }
        _ => {}
    }
    destroy(&rec)?;
    locked.remove()?;
    run_warning_hooks(&rec, HookKind::Poststop, Status::Stopped);
    Ok(())
}

/// Removes the state directory of `id` if it has no state file and no
/// verb is working on it, with what the killed create or restore recorded
/// in `pending.json`: its processes, cgroup and CRIU's cgroup yard, and
/// anything mounted in the directory (CRIU's root).
///
/// A symbolic link in its place is removed, not followed (runc's `delete
/// --force` removes it too).
fn remove_stale_dir(store: &Store, id: &str) {
    if store.is_symlink(id) {
        let _ = std::fs::remove_file(store.dir(id));
        return;
    }
    if let Some(locked) = store.lock_stale(id) {
        if let Some(pending) = locked.pending() {
            remove_pending(&pending);
        }
        let _ = locked.remove();
    }
}

/// How long a killed restore's CRIU gets to stop by itself.
const CRIU_STOP_WAIT: Duration = Duration::from_secs(10);

fn remove_pending(p: &Pending) {
    // A restore's CRIU whose client is gone fails at its next notification
    // and undoes its own work (restored tasks, cgroup yard); killing it
    // mid-way would leave its mounts. Give it the time, then kill.
    if let Some(criu) = p.criu {
        let deadline = Instant::now() + CRIU_STOP_WAIT;
        while criu.alive() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
    }
    if !p.cgroup_paths.is_empty() {
        if let Ok(cg) = cryo_cgroups::from_paths(p.cgroup_paths.clone()) {
            let _ = kill_and_remove_cgroup(&*cg);
        }
    }
    if let Some(work) = &p.criu_work {
        remove_criu_yards(work);
    }
}

/// Kills every process of a cgroup (frozen meanwhile, so none forks away;
/// thawed for SIGKILL to act) and removes it, retrying while the
/// processes die.
pub fn kill_and_remove_cgroup(cg: &dyn cryo_cgroups::CgroupDriver) -> Result<()> {
    let _ = cg.freeze();
    for pid in cg.processes().unwrap_or_default() {
        let _ = p::kill(pid, libc::SIGKILL);
    }
    let _ = cg.thaw();
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        match cg.destroy() {
            Ok(()) => return Ok(()),
            Err(e) if Instant::now() > deadline => return Err(e.into()),
            Err(_) => {
                for pid in cg.processes().unwrap_or_default() {
                    let _ = p::kill(pid, libc::SIGKILL);
                }
                std::thread::sleep(Duration::from_millis(10));
            }
        }
    }
}

/// Unmounts and removes the cgroup yards (`.criu.cgyard.XXXXXX`, a tmpfs
/// with the cgroup hierarchies mounted in it) a CRIU killed while it
/// restored left in its work directory `work`. Yards of a CRIU that still
/// works there (its cwd is `work`) cannot be told apart from the dead
/// one's: while one runs, nothing is touched.
pub fn remove_criu_yards(work: &Path) {
    let Ok(mounts) = cryo_sys::mount::mount_points_under(work) else {
        return;
    };
    let yards: Vec<PathBuf> = mounts
        .into_iter()
        .filter(|m| {
            m.parent() == Some(work)
                && m.file_name()
                    .and_then(|n| n.to_str())
                    .is_some_and(|n| n.starts_with(".criu.cgyard."))
        })
        .collect();
    if yards.is_empty() || process_works_in(work) {
        return;
    }
    for y in yards {
        if cryo_sys::mount::unmount_all_under(&y).is_ok() {
            let _ = std::fs::remove_dir(&y);
        }
    }
}

/// Whether a process has `dir` as its working directory.
fn process_works_in(dir: &Path) -> bool {
    let Ok(procs) = std::fs::read_dir("/proc") else {
        return true;
    };
    procs.flatten().any(|e| {
        e.file_name()
            .to_str()
            .is_some_and(|n| n.parse::<u32>().is_ok())
            && std::fs::read_link(e.path().join("cwd")).is_ok_and(|cwd| cwd == dir)
    })
}

/// poststart and poststop hooks: a failure is a warning, not an error.
fn run_warning_hooks(rec: &Record, kind: HookKind, status: Status) {
    let hooks = rec.config.hooks().as_ref();
    if hooks.is_none_or(|h| kind.of(h).is_empty()) {
        return;
    }
    let mut state = rec.state(String::new());
    state.status = status;
    match crate::hooks::state_json(&state) {
        Ok(json) => {
            if let Err(e) = crate::hooks::run_all(hooks, kind, &json) {
                crate::hooks::warn(e);
            }
        }
        Err(e) => crate::hooks::warn(e.to_string()),
    }
}

/// Deletes a container whose lock the caller holds (checkpoint without
/// `--leave-running`): kills what is left, removes its cgroup and state.
pub fn destroy_locked(locked: crate::store::Locked, rec: &Record) -> Result<()> {
    destroy(rec)?;
    locked.remove()?;
    run_warning_hooks(rec, HookKind::Poststop, Status::Stopped);
    Ok(())
}

/// Kills whatever is left of the container and removes its cgroup.
fn destroy(rec: &Record) -> Result<()> {
    let alive = rec.status() != Status::Stopped;
    let cg = cryo_cgroups::from_paths(rec.cgroup_paths.clone())?;
    if alive {
        let pidfd = p::pidfd_open(rec.init_pid).ok();
        match &pidfd {
            Some(fd) => {
                let _ = p::pidfd_kill(fd, libc::SIGKILL);
            }
            None => {
                let _ = p::kill(rec.init_pid, libc::SIGKILL);
            }
        }
        // A frozen cgroup must thaw for SIGKILL to take effect.
        let _ = cg.thaw();
        if let Some(fd) = &pidfd {
            let _ = p::pidfd_wait(fd, 10_000);
        }
    }
    if !rec.own_pid_ns || alive {
        // Without a pid namespace of its own, the init's death kills nothing else.
        let _ = signal_all(rec, libc::SIGKILL);
    }
    cryo_faults::point(Point::DeleteAfterKill);
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        match cg.destroy() {
            Ok(()) => break,
            Err(e) if Instant::now() > deadline => return Err(e.into()),
            Err(_) => std::thread::sleep(Duration::from_millis(10)),
        }
    }
    cryo_faults::point(Point::DeleteAfterCgroup);
    Ok(())
}

/// `run` in the foreground: forwards signals to the init and returns its
/// exit status once it exits. All signals must already be blocked.
pub fn wait_forwarding_signals(pid: i32) -> Result<i32> {
    loop {
        let sig = p::wait_signal().ctx(|| "wait for signals".into())?;
        if sig == libc::SIGCHLD {
            while let Some((child, code)) = p::reap_any().ctx(|| "reap".into())? {
                if child == pid {
                    return Ok(code);
                }
            }
            continue;
        }
        if sig == libc::SIGWINCH || sig == libc::SIGURG {
            continue;
        }
        let _ = p::kill(pid, sig);
    }
}

/// Freezes every process of a running container (cgroup freezer).
pub fn pause(store: &Store, id: &str) -> Result<()> {
    let locked = store.lock(id)?;
    let rec = locked.load()?;
    match rec.status() {
        Status::Running => {}
        Status::Paused => return Err(ContainerError::Invalid("container already paused".into())),
        _ => return Err(ContainerError::NotRunning),
    }
    cryo_cgroups::from_paths(rec.cgroup_paths.clone())?.freeze()?;
    Ok(())
}

/// Thaws a paused container.
pub fn resume(store: &Store, id: &str) -> Result<()> {
    let locked = store.lock(id)?;
    let rec = locked.load()?;
    if rec.status() != Status::Paused {
        return Err(ContainerError::Invalid("container not paused".into()));
    }
    cryo_cgroups::from_paths(rec.cgroup_paths.clone())?.thaw()?;
    Ok(())
}
