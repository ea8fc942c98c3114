use std::path::PathBuf;

use cryo_cli::cli::create::CreateArgs;
use cryo_container::{CreateOptions, Store};

use super::{absolute, err, Outcome};

/// What the library needs from the flags, paths made absolute.
pub fn options(args: &CreateArgs) -> CreateOptions {
    CreateOptions {
        id: args.id.clone(),
        bundle: absolute(&args.bundle),
        pid_file: args.pid_file.as_deref().map(absolute),
        console_socket: args.console_socket.as_deref().map(absolute),
        console_fd: None,
        preserve_fds: args.preserve_fds,
        no_pivot: args.no_pivot,
        no_new_keyring: args.no_new_keyring,
    }
}

/// Refuses --systemd-cgroup on hosts without systemd, before anything is made.
pub fn check_cgroup_manager(cli: &cryo_cli::Cli) -> Result<(), String> {
    if cli.systemd_cgroup && !std::path::Path::new("/run/systemd/system").exists() {
        return Err("systemd cgroup flag passed, but systemd support for managing cgroups is not available: systemd is not running on this host".into());
    }
    Ok(())
}

pub fn run(cli: &cryo_cli::Cli, store: &Store, args: &CreateArgs) -> Outcome {
    check_cgroup_manager(cli)?;
    let opts = options(args);
    match restore_source(&opts) {
        Some(from) => create_by_restore(cli, store, &opts, &from).map(drop)?,
        None => cryo_container::create(store, &opts)
            .map(drop)
            .map_err(err)?,
    }
    Ok(0)
}

/// The checkpoint a bundle asks to be created from (the
/// `org.cryo.restore-from` annotation). A bundle whose config cannot be
/// read is left to `create`, which reports why.
pub fn restore_source(opts: &CreateOptions) -> Option<PathBuf> {
    let spec = cryo_oci::load_spec(&opts.bundle).ok()?;
    cryo_checkpoint::from_create::source(&spec)
}

/// `create` by restoring a checkpoint: the container waits frozen, shown
/// as `created`, until `start`. Returns the restored init's pid.
pub fn create_by_restore(
    cli: &cryo_cli::Cli,
    store: &Store,
    opts: &CreateOptions,
    from: &std::path::Path,
) -> Result<i32, String> {
    if opts.preserve_fds > 0 {
        return Err(format!(
            "--preserve-fds with {} is not supported by cryo (a restored process keeps its own fds)",
            cryo_checkpoint::from_create::RESTORE_FROM
        ));
    }
    let restore = cryo_checkpoint::RestoreOptions {
        id: opts.id.clone(),
        criu: cli.criu.clone(),
        bundle: opts.bundle.clone(),
        pid_file: opts.pid_file.clone(),
        console_socket: opts.console_socket.clone(),
        ..Default::default()
    };
    cryo_checkpoint::from_create::create_from_checkpoint(store, from, restore)
        .map(|r| r.pid)
        .map_err(err)
}
