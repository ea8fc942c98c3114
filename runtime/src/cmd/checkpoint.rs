//! `cryo checkpoint`: runc's flags, the dump done by cryo-checkpoint.

use std::path::PathBuf;

use cryo_checkpoint::checkpoint::NetworkLock;
use cryo_checkpoint::{CgroupsMode, CheckpointOptions};
use cryo_cli::cli::checkpoint::Args;
use cryo_container::Store;

use super::{absolute, err, Outcome};

pub fn run(cli: &cryo_cli::Cli, store: &Store, a: &Args) -> Outcome {
    if a.all {
        let root = super::all::image_root(a.image_root.as_deref(), "--all")?;
        let base = options(cli, a, String::new(), PathBuf::new())?;
        let progress = crate::progress::Progress::new();
        let outcomes =
            cryo_checkpoint::all::checkpoint_all(store, &root, &base, &|s| progress.step(s))
                .map_err(err)?;
        progress.done();
        return super::all::report(&outcomes, a.format, "checkpointed");
    }
    if !a.group.is_empty() {
        let root = super::all::image_root(a.image_root.as_deref(), "--group")?;
        let base = options(cli, a, String::new(), PathBuf::new())?;
        let group = crate::progress::Progress::new()
            .run(
                format!("checkpointing the group {}", a.group.join(",")),
                || cryo_checkpoint::group::checkpoint_group(store, &a.group, &root, &base),
            )
            .map_err(err)?;
        let outcomes: Vec<_> = std::iter::once(&group.holder)
            .chain(&group.members)
            .map(|m| super::all::done(m.id.clone(), None))
            .collect();
        return super::all::report(&outcomes, a.format, "checkpointed");
    }
    let Some(id) = a.id.clone() else {
        return Err("checkpoint needs a container id (or --all, --group)".into());
    };
    // With --export and no --image-path the images are only a step on the
    // way to the archive: a private directory under the state root.
    let scratch = match (&a.export, &a.image_path) {
        (Some(_), None) => Some(cryo_checkpoint::archive::scratch_dir(
            store.root(),
            "export",
            &id,
        )),
        _ => None,
    };
    let image_path = match (&scratch, &a.image_path) {
        (Some(s), _) => s.clone(),
        (None, p) => absolute(p.as_deref().unwrap_or("checkpoint".as_ref())),
    };
    let what = if a.export.is_some() {
        "checkpointing and archiving"
    } else {
        "checkpointing"
    };
    let result = options(cli, a, id.clone(), image_path).and_then(|opts| {
        crate::progress::Progress::new()
            .run(format!("{what} {id}"), || {
                cryo_checkpoint::checkpoint(store, &opts)
            })
            .map_err(err)
            .map(|_| 0)
    });
    if let Some(s) = scratch {
        let _ = std::fs::remove_dir_all(s);
    }
    result
}

fn options(
    cli: &cryo_cli::Cli,
    a: &Args,
    id: String,
    image_path: PathBuf,
) -> Result<CheckpointOptions, String> {
    Ok(CheckpointOptions {
        id,
        criu: cli.criu.clone(),
        image_path,
        work_path: a.work_path.as_deref().map(absolute),
        parent_path: a.parent_path.clone(),
        leave_running: a.leave_running,
        tcp_established: a.tcp_established,
        tcp_skip_in_flight: a.tcp_skip_in_flight,
        ext_unix_sk: a.ext_unix_sk,
        shell_job: a.shell_job,
        lazy_pages: a.lazy_pages,
        status_fd: a.status_fd,
        page_server: a.page_server.clone(),
        file_locks: a.file_locks,
        link_remap: a.link_remap,
        pre_dump: a.pre_dump,
        manage_cgroups_mode: a
            .manage_cgroups_mode
            .as_deref()
            .map(str::parse::<CgroupsMode>)
            .transpose()
            .map_err(err)?,
        empty_ns: a.empty_ns.clone(),
        auto_dedup: a.auto_dedup,
        network_lock: a
            .network_lock
            .as_deref()
            .map(str::parse::<NetworkLock>)
            .transpose()
            .map_err(err)?,
        export: a.export.as_deref().map(absolute),
    })
}
