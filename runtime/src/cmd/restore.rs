//! `cryo restore`: runc's flags; the restore done by cryo-checkpoint, then
//! either detach (the restored init is reparented to our caller) or wait
//! for it like `run`.

use std::path::PathBuf;

use cryo_checkpoint::{CgroupsMode, RestoreOptions};
use cryo_cli::cli::restore::Args;
use cryo_container::Store;

use super::{absolute, err, Outcome};

pub fn run(cli: &cryo_cli::Cli, store: &Store, a: &Args) -> Outcome {
    super::create::check_cgroup_manager(cli)?;
    if a.all {
        let root = super::all::image_root(a.image_root.as_deref(), "--all")?;
        let base = options(cli, store, a, String::new(), PathBuf::new())?;
        let progress = crate::progress::Progress::new();
        let outcomes =
            cryo_checkpoint::all::restore_all(store, &root, &base, &|s| progress.step(s))
                .map_err(err)?;
        progress.done();
        return super::all::report(&outcomes, a.format, "restored");
    }
    if a.group {
        let root = super::all::image_root(a.image_root.as_deref(), "--group")?;
        let base = options(cli, store, a, String::new(), PathBuf::new())?;
        let pids = crate::progress::Progress::new()
            .run("restoring the group", || {
                cryo_checkpoint::group::restore_group(store, &root, &base)
            })
            .map_err(err)?;
        let outcomes: Vec<_> = pids
            .into_iter()
            .map(|(id, pid)| super::all::done(id, Some(pid)))
            .collect();
        return super::all::report(&outcomes, a.format, "restored");
    }
    let Some(id) = a.id.clone() else {
        return Err("restore needs a container id (or --all, --group)".into());
    };
    // An archive is unpacked and verified into a private directory under the
    // state root first; a bad archive is refused before anything else.
    let unpacked = match &a.import {
        Some(archive) => {
            cryo_oci::validate_id(&id).map_err(err)?;
            let dir = cryo_checkpoint::archive::scratch_dir(store.root(), "import", &id);
            crate::progress::Progress::new()
                .run(
                    format!("verifying and unpacking {}", archive.display()),
                    || cryo_checkpoint::archive::extract(&absolute(archive), &dir),
                )
                .map_err(err)?;
            Some(dir)
        }
        None => None,
    };
    let image_path = match &unpacked {
        Some(dir) => dir.join(cryo_checkpoint::archive::IMAGES),
        None => absolute(a.image_path.as_deref().unwrap_or("checkpoint".as_ref())),
    };
    let result = options(cli, store, a, id, image_path).and_then(|opts| run_with(store, a, &opts));
    // Lazy pages are still read from the images after restore returns.
    if let Some(dir) = unpacked.filter(|_| !a.lazy_pages && !a.lazy) {
        let _ = std::fs::remove_dir_all(dir);
    }
    result
}

fn options(
    cli: &cryo_cli::Cli,
    store: &Store,
    a: &Args,
    id: String,
    image_path: PathBuf,
) -> Result<RestoreOptions, String> {
    Ok(RestoreOptions {
        work_path: match (&a.work_path, a.lazy) {
            (Some(w), _) => Some(absolute(w)),
            // Each lazy restore has its own daemon socket and logs (in the
            // container's state directory, gone with the container).
            (None, true) => Some(store.dir(&id).join("lazy")),
            (None, false) => None,
        },
        id,
        criu: cli.criu.clone(),
        bundle: absolute(&a.bundle),
        image_path,
        pid_file: a.pid_file.as_deref().map(absolute),
        console_socket: a.console_socket.as_deref().map(absolute),
        tcp_established: a.tcp_established,
        tcp_close: a.tcp_close,
        ext_unix_sk: a.ext_unix_sk,
        shell_job: a.shell_job,
        file_locks: a.file_locks,
        manage_cgroups_mode: a
            .manage_cgroups_mode
            .as_deref()
            .map(str::parse::<CgroupsMode>)
            .transpose()
            .map_err(err)?,
        empty_ns: a.empty_ns.clone(),
        auto_dedup: a.auto_dedup,
        lazy_pages: a.lazy_pages,
        page_server: a.page_server.clone(),
        lazy_local: a.lazy,
        start_frozen: false,
        namespace_paths: Vec::new(),
        network_lock: None,
        hold_network_locked: false,
        lsm_profile: a.lsm_profile.clone(),
        lsm_mount_context: a.lsm_mount_context.clone(),
        from_archive: a.import.is_some(),
    })
}

fn run_with(store: &Store, a: &Args, opts: &RestoreOptions) -> Outcome {
    let restored = crate::progress::Progress::new()
        .run(format!("restoring {}", opts.id), || {
            cryo_checkpoint::restore(store, opts)
        })
        .map_err(err)?;
    if a.detach {
        return Ok(0);
    }
    wait_restored(store, &opts.id, restored.pid, false)
}

/// Waits for a restored container in the foreground, as `run` does:
/// forwards signals to its init (our child, CRIU's `rst_sibling`), then
/// deletes it unless `keep`, and exits with its status. One SIGCHLD raised
/// after blocking the signals catches an init that exited before.
pub fn wait_restored(store: &Store, id: &str, pid: i32, keep: bool) -> Outcome {
    cryo_sys::process::block_all_signals().map_err(|e| format!("block signals: {e}"))?;
    let _ = cryo_sys::process::kill(
        std::process::id() as i32,
        nix::sys::signal::Signal::SIGCHLD as i32,
    );
    let code = cryo_container::wait_forwarding_signals(pid).map_err(err)?;
    if !keep {
        cryo_container::delete(store, id, true).map_err(err)?;
    }
    Ok(u8::try_from(code).unwrap_or(255))
}
