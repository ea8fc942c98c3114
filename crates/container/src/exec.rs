//! `exec`: run another process inside a running container, in all of its
//! namespaces and its cgroup, with the process's own user, caps and limits.

use std::os::fd::OwnedFd;
use std::path::PathBuf;

use cryo_oci::Status;
use cryo_sys::process as p;
use oci_spec::runtime::{LinuxNamespaceType, Process};

use crate::error::{ContainerError, Context, Result};
use crate::init::{self, ExecPlan};
use crate::store::Store;
use crate::sync;

#[derive(Debug, Default)]
pub struct ExecOptions {
    pub id: String,
    pub process: Process,
    pub console_socket: Option<PathBuf>,
    /// An already connected console socket (foreground exec with a tty).
    pub console_fd: Option<OwnedFd>,
    pub pid_file: Option<PathBuf>,
    pub preserve_fds: u32,
    pub ignore_paused: bool,
}

/// The process is running; `pid` is its host pid (a child of the caller).
pub struct Execed {
    pub pid: i32,
}

/// The container's configured process, used as the base of an exec.
pub fn base_process(store: &Store, id: &str) -> Result<Process> {
    let locked = store.lock(id)?;
    let rec = locked.load()?;
    rec.config
        .process()
        .clone()
        .ok_or_else(|| ContainerError::Invalid("container has no process".into()))
}

pub fn exec(store: &Store, opts: &ExecOptions) -> Result<Execed> {
    let locked = store.lock(&opts.id)?;
    let rec = locked.load()?;
    match rec.status() {
        Status::Running | Status::Created => {}
        Status::Paused if opts.ignore_paused => {}
        Status::Paused => {
            return Err(ContainerError::Invalid(
                "cannot exec in a paused container (use --ignore-paused to override)".into(),
            ))
        }
        _ => {
            return Err(ContainerError::Invalid(
                "cannot exec in a stopped container".into(),
            ))
        }
    }
    let process = &opts.process;
    if process.args().as_ref().is_none_or(|a| a.is_empty()) {
        return Err(ContainerError::Invalid("args must not be empty".into()));
    }
    let terminal = process.terminal() == Some(true);
    if terminal && opts.console_socket.is_none() && opts.console_fd.is_none() {
        return Err(ContainerError::Invalid(
            "cannot allocate tty if cryo will detach without setting console socket".into(),
        ));
    }
    if !terminal && opts.console_socket.is_some() {
        return Err(ContainerError::Invalid(
            "cannot use console socket if cryo will not detach or allocate tty".into(),
        ));
    }
    let linux = rec.config.linux().as_ref();
    let seccomp = linux
        .and_then(|l| l.seccomp().as_ref())
        .map(cryo_seccomp::compile)
        .transpose()?;

    // Join what the init is in: /proc/<init>/ns/* for every namespace the
    // config lists, user first (it grants the rights for the others) and
    // mount last among those that change the view of /proc.
    let mut order: Vec<LinuxNamespaceType> = linux
        .and_then(|l| l.namespaces().as_ref())
        .into_iter()
        .flatten()
        .map(|n| n.typ())
        .collect();
    order.sort_by_key(|t| match t {
        LinuxNamespaceType::User => 0,
        LinuxNamespaceType::Mount => 2,
        _ => 1,
    });
    let in_user_ns = order.contains(&LinuxNamespaceType::User);
    let mut namespaces = Vec::new();
    for t in order {
        let name = match t {
            LinuxNamespaceType::Mount => "mnt",
            LinuxNamespaceType::Cgroup => "cgroup",
            LinuxNamespaceType::Uts => "uts",
            LinuxNamespaceType::Ipc => "ipc",
            LinuxNamespaceType::User => "user",
            LinuxNamespaceType::Pid => "pid",
            LinuxNamespaceType::Network => "net",
            LinuxNamespaceType::Time => "time",
        };
        let path = format!("/proc/{}/ns/{name}", rec.init_pid);
        let f = std::fs::File::open(&path).ctx(|| format!("open {path}"))?;
        namespaces.push((init::ns_flag(t), OwnedFd::from(f)));
    }
    let console = match (&opts.console_socket, &opts.console_fd) {
        (Some(path), _) => Some(
            cryo_sys::socket::connect(path, false)
                .ctx(|| format!("connect console socket {}", path.display()))?,
        ),
        (None, Some(fd)) => Some(fd.try_clone().ctx(|| "dup console socket".into())?),
        (None, None) => None,
    };
    let cgroup = cryo_cgroups::from_paths(rec.cgroup_paths.clone())?;
    let cpu_list = |s: &Option<String>| -> Result<Option<Vec<usize>>> {
        s.as_deref()
            .map(crate::process_attrs::parse_cpu_list)
            .transpose()
            .map_err(ContainerError::Invalid)
    };
    let affinity = process.exec_cpu_affinity().as_ref();
    let initial_cpus = cpu_list(affinity.map_or(&None, |a| a.initial()))?;
    let final_cpus = cpu_list(affinity.map_or(&None, |a| a.cpu_affinity_final()))?;
    // execCPUAffinity.initial: where cryo's own forks run until the
    // process joins the container's cgroup.
    if let Some(cpus) = &initial_cpus {
        p::set_cpu_affinity(cpus).ctx(|| "set initial CPU affinity".into())?;
    }
    let plan = ExecPlan {
        process,
        personality: linux.and_then(|l| l.personality().as_ref()),
        final_cpus,
        namespaces,
        console,
        preserve_fds: opts.preserve_fds as i32,
        in_user_ns,
        seccomp: seccomp.as_ref(),
    };
    let (parent_sync, child_sync) = sync::pair()?;
    let stage1 = match p::fork().ctx(|| "fork".into())? {
        p::Forked::Child => {
            drop(parent_sync);
            locked.close_in_child();
            init::exec_stage1(plan, child_sync)
        }
        p::Forked::Parent(pid) => pid.as_raw(),
    };
    drop(child_sync);
    drop(plan);
    cryo_faults::point(cryo_faults::Point::ExecAfterFork);
    let frozen = rec.status() == Status::Paused;
    let result = drive(&parent_sync, stage1, &*cgroup, frozen);
    let _ = p::wait_child(stage1);
    let pid = match result {
        Ok(pid) => pid,
        Err((pid, e)) => {
            if let Some(pid) = pid {
                let _ = p::kill(pid, libc::SIGKILL);
                let _ = p::wait_child(pid);
            }
            return Err(e);
        }
    };
    cryo_faults::point(cryo_faults::Point::ExecAfterSpawn);
    if let Some(pf) = &opts.pid_file {
        crate::create::write_pid_file(pf, pid)?;
    }
    Ok(Execed { pid })
}

type DriveError = (Option<i32>, ContainerError);

/// Places stage 1 in the cgroup, then follows the children until the
/// program is exec'd (the sync socket closes) or an error arrives. In a
/// frozen cgroup (`--ignore-paused`) the process would freeze before it
/// could exec: it joins the cgroup last instead, and stays frozen until
/// `resume`.
fn drive(
    sync: &sync::SyncSocket,
    stage1: i32,
    cgroup: &dyn cryo_cgroups::CgroupDriver,
    frozen: bool,
) -> std::result::Result<i32, DriveError> {
    if !frozen {
        cgroup.add_process(stage1).map_err(|e| (None, e.into()))?;
    }
    sync.send("go").map_err(|e| (None, e))?;
    let mut pid = None;
    loop {
        match sync.recv_with_fd().map_err(|e| (pid, e))? {
            Some((m, _)) if m.starts_with("pid ") => {
                let n = m[4..]
                    .parse()
                    .map_err(|_| (None, ContainerError::Init(format!("bad pid message {m:?}"))))?;
                pid = Some(n);
            }
            Some((m, _)) if m == "seccomp-fd" => {}
            Some((m, _)) => {
                let msg = m.strip_prefix("error ").unwrap_or(&m).to_string();
                return Err((
                    pid,
                    ContainerError::Init(format!("unable to start container process: {msg}")),
                ));
            }
            None => break,
        }
    }
    if let (true, Some(pid)) = (frozen, pid) {
        cgroup.add_process(pid).map_err(|e| (Some(pid), e.into()))?;
    }
    pid.ok_or((
        None,
        ContainerError::Init("unable to start container process: exec process exited early".into()),
    ))
}
