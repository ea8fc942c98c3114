//! cryo's command line: the clap definition of every verb and its flags.
//! What each verb does lives in the binary (`runtime/src/cmd/`); this is
//! only what the command line can say.

pub mod all;
pub mod checkpoint;
pub mod create;
pub mod delete;
pub mod events;
pub mod exec;
pub mod features;
pub mod inspect;
pub mod kill;
pub mod list;
pub mod migrate;
pub mod pause;
pub mod ps;
pub mod restore;
pub mod run;
pub mod spec;
pub mod start;
pub mod state;
pub mod update;

use clap::{Parser, Subcommand, ValueEnum};

#[derive(Parser, Debug)]
#[command(
    name = "cryo",
    about = "An OCI container runtime with first-class checkpoint/restore",
    disable_version_flag = true,
    args_override_self = true
)]
pub struct Cli {
    /// Root directory for storage of container state (tmpfs recommended)
    #[arg(long, default_value = "/run/cryo", value_name = "DIR")]
    pub root: std::path::PathBuf,
    /// Append errors and debug messages to this file instead of stderr
    #[arg(long, value_name = "FILE")]
    pub log: Option<std::path::PathBuf>,
    /// Format of the log file
    #[arg(long, value_enum, default_value = "text")]
    pub log_format: LogFormat,
    /// Log debug messages
    #[arg(long)]
    pub debug: bool,
    /// Use systemd to manage cgroups (needs a running systemd)
    #[arg(long)]
    pub systemd_cgroup: bool,
    /// Path of the criu binary for checkpoint and restore
    #[arg(long, value_name = "PATH")]
    pub criu: Option<std::path::PathBuf>,
    /// Accepted for runc compatibility (true|false|auto)
    #[arg(long, value_name = "VALUE")]
    pub rootless: Option<String>,
    /// Print the version
    #[arg(short = 'v', long)]
    pub version: bool,
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Copy, Clone, Debug, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Create a container
    Create(create::CreateArgs),
    /// Start a created container
    Start(start::Args),
    /// Create and start a container
    Run(run::Args),
    /// Execute a new process inside a container
    Exec(exec::Args),
    /// Output the state of a container
    State(state::Args),
    /// List containers started by cryo with the given root
    List(list::Args),
    /// Send a signal to a container's init process
    Kill(kill::Args),
    /// Delete a container and everything it holds
    Delete(delete::Args),
    /// Create a new specification file
    Spec(spec::Args),
    /// Suspend every process of a container (cgroup freezer)
    Pause(pause::Args),
    /// Resume a paused container
    Resume(pause::Args),
    /// Display the processes running inside a container
    Ps(ps::Args),
    /// Display container events: OOM notifications and resource usage statistics
    Events(events::Args),
    /// Update the resource limits of a container
    Update(update::Args),
    /// Show the enabled features (the OCI features document)
    Features(features::Args),
    /// Checkpoint a running container (CRIU)
    Checkpoint(checkpoint::Args),
    /// Restore a container from a checkpoint (CRIU)
    Restore(restore::Args),
    /// Move a running container to another host (post-copy or stop-and-copy)
    Migrate(migrate::Args),
    /// Receive migrated containers (the destination of `migrate`)
    MigrateReceive(migrate::ReceiveArgs),
    /// Show what a checkpoint holds, read from its images without running anything
    Inspect(inspect::Args),
}
