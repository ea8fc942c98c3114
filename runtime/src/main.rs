//! `cryo`: an OCI container runtime with runc's command line.
//!
//! This binary only parses arguments, calls the libraries and prints; every
//! verb lives in its own module under `cmd/`.

mod args;
mod cmd;
mod log;
mod progress;

use std::process::ExitCode;

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
    Create(cmd::create::CreateArgs),
    /// Start a created container
    Start(cmd::start::Args),
    /// Create and start a container
    Run(cmd::run::Args),
    /// Execute a new process inside a container
    Exec(cmd::exec::Args),
    /// Output the state of a container
    State(cmd::state::Args),
    /// List containers started by cryo with the given root
    List(cmd::list::Args),
    /// Send a signal to a container's init process
    Kill(cmd::kill::Args),
    /// Delete a container and everything it holds
    Delete(cmd::delete::Args),
    /// Create a new specification file
    Spec(cmd::spec::Args),
    /// Suspend every process of a container (cgroup freezer)
    Pause(cmd::pause::Args),
    /// Resume a paused container
    Resume(cmd::pause::Args),
    /// Display the processes running inside a container
    Ps(cmd::ps::Args),
    /// Display container events: OOM notifications and resource usage statistics
    Events(cmd::events::Args),
    /// Update the resource limits of a container
    Update(cmd::update::Args),
    /// Show the enabled features (the OCI features document)
    Features(cmd::features::Args),
    /// Checkpoint a running container (CRIU)
    Checkpoint(cmd::checkpoint::Args),
    /// Restore a container from a checkpoint (CRIU)
    Restore(cmd::restore::Args),
    /// Move a running container to another host (post-copy or stop-and-copy)
    Migrate(cmd::migrate::Args),
    /// Receive migrated containers (the destination of `migrate`)
    MigrateReceive(cmd::migrate::ReceiveArgs),
    /// Show what a checkpoint holds, read from its images without running anything
    Inspect(cmd::inspect::Args),
}

fn main() -> ExitCode {
    let argv = args::normalize(
        std::env::args_os().collect(),
        &<Cli as clap::CommandFactory>::command(),
    );
    let cli = match Cli::try_parse_from(argv) {
        Ok(cli) => cli,
        Err(e) => {
            if let Some(flag) = args::missing_value_flag(&e) {
                // Go's flag package wording: Podman probes `restore
                // --lsm-mount-context` for it.
                eprintln!("flag needs an argument: -{flag}");
                return ExitCode::from(1);
            }
            let _ = e.print();
            return match e.kind() {
                clap::error::ErrorKind::DisplayHelp | clap::error::ErrorKind::DisplayVersion => {
                    ExitCode::SUCCESS
                }
                _ => ExitCode::from(1),
            };
        }
    };
    let logger = log::Logger::new(cli.log.clone(), cli.log_format, cli.debug);
    if cli.version {
        cmd::version::print();
        return ExitCode::SUCCESS;
    }
    let Some(command) = &cli.command else {
        let _ = <Cli as clap::CommandFactory>::command().print_help();
        return ExitCode::SUCCESS;
    };
    // Verbs that start processes in a container run from a sealed copy of
    // the binary, so no container can reach the installed one.
    if matches!(
        command,
        Command::Create(_) | Command::Run(_) | Command::Exec(_)
    ) && !cryo_sys::exe::running_from_sealed_copy()
    {
        let e = cryo_sys::exe::reexec_from_sealed_copy();
        logger.error(&format!("re-execute cryo from a sealed copy: {e}"));
        return ExitCode::from(1);
    }
    let store = cryo_container::Store::new(&cli.root);
    let result = match command {
        Command::Create(a) => cmd::create::run(&cli, &store, a),
        Command::Start(a) => cmd::start::run(&store, a),
        Command::Run(a) => cmd::run::run(&cli, &store, a),
        Command::Exec(a) => cmd::exec::run(&store, a),
        Command::State(a) => cmd::state::run(&store, a),
        Command::List(a) => cmd::list::run(&store, a),
        Command::Kill(a) => cmd::kill::run(&store, a),
        Command::Delete(a) => cmd::delete::run(&store, a),
        Command::Spec(a) => cmd::spec::run(a),
        Command::Pause(a) => cmd::pause::pause(&store, a),
        Command::Resume(a) => cmd::pause::resume(&store, a),
        Command::Ps(a) => cmd::ps::run(&store, a),
        Command::Events(a) => cmd::events::run(&store, a),
        Command::Update(a) => cmd::update::run(&cli, &store, a),
        Command::Features(a) => cmd::features::run(a),
        Command::Checkpoint(a) => cmd::checkpoint::run(&cli, &store, a),
        Command::Restore(a) => cmd::restore::run(&cli, &store, a),
        Command::Migrate(a) => cmd::migrate::run(&cli, &store, a),
        Command::MigrateReceive(a) => cmd::migrate::receive(&cli, &store, a),
        Command::Inspect(a) => cmd::inspect::run(a),
    };
    for w in cryo_container::hooks::take_warnings() {
        logger.warn(&w);
    }
    match result {
        Ok(code) => ExitCode::from(code),
        Err(msg) => {
            logger.error(&msg);
            ExitCode::from(1)
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn cli_definition_is_consistent() {
        <super::Cli as clap::CommandFactory>::command().debug_assert();
    }
}
