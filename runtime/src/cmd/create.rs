use std::path::PathBuf;

use cryo_container::{CreateOptions, Store};

use super::{absolute, err, Outcome};

#[derive(clap::Args, Debug, Clone)]
#[command(args_override_self = true)]
pub struct CreateArgs {
    /// Path to the root of the bundle directory
    #[arg(short = 'b', long, default_value = ".", value_name = "DIR")]
    pub bundle: PathBuf,
    /// Path to an AF_UNIX socket that receives the pty master
    #[arg(long, value_name = "PATH")]
    pub console_socket: Option<PathBuf>,
    /// File to write the container init's pid to
    #[arg(long, value_name = "FILE")]
    pub pid_file: Option<PathBuf>,
    /// Pass N additional file descriptors (from fd 3) to the container
    #[arg(long, default_value_t = 0, value_name = "N")]
    pub preserve_fds: u32,
    /// Do not use pivot_root to jail the process inside the rootfs
    #[arg(long)]
    pub no_pivot: bool,
    /// Do not create a new session keyring for the container
    #[arg(long)]
    pub no_new_keyring: bool,
    /// Container id
    pub id: String,
}

impl CreateArgs {
    pub fn options(&self) -> CreateOptions {
        CreateOptions {
            id: self.id.clone(),
            bundle: absolute(&self.bundle),
            pid_file: self.pid_file.as_deref().map(absolute),
            console_socket: self.console_socket.as_deref().map(absolute),
            console_fd: None,
            preserve_fds: self.preserve_fds,
            no_pivot: self.no_pivot,
            no_new_keyring: self.no_new_keyring,
        }
    }
}

/// Refuses --systemd-cgroup on hosts without systemd, before anything is made.
pub fn check_cgroup_manager(cli: &crate::Cli) -> Result<(), String> {
    if cli.systemd_cgroup && !std::path::Path::new("/run/systemd/system").exists() {
        return Err("systemd cgroup flag passed, but systemd support for managing cgroups is not available: systemd is not running on this host".into());
    }
    Ok(())
}

pub fn run(cli: &crate::Cli, store: &Store, args: &CreateArgs) -> Outcome {
    check_cgroup_manager(cli)?;
    let opts = args.options();
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
    cli: &crate::Cli,
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
