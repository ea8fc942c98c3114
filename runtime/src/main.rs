//! `cryo`: an OCI container runtime with runc's command line.
//!
//! This binary only parses arguments (with cryo-cli: crates/cli), calls the
//! libraries and prints; every verb lives in its own module under
//! `cmd/`.

mod cmd;
mod log;
mod progress;

use std::process::ExitCode;

use cryo_cli::Command;

fn main() -> ExitCode {
    let cli = match cryo_cli::parse(std::env::args_os().collect()) {
        Ok(cli) => cli,
        Err(e) => {
            e.print();
            return ExitCode::from(e.exit_code());
        }
    };
    let logger = log::Logger::new(cli.log.clone(), cli.log_format, cli.debug);
    if cli.version {
        cmd::version::print();
        return ExitCode::SUCCESS;
    }
    let Some(command) = &cli.command else {
        let _ = cryo_cli::command().print_help();
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
        let (msg, code) = failure(command, format!("re-execute cryo from a sealed copy: {e}"));
        logger.error(&msg);
        return ExitCode::from(code);
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
            let (msg, code) = failure(command, msg);
            logger.error(&msg);
            ExitCode::from(code)
        }
    }
}

/// The message and exit code of a failed verb. As runc does, `exec`
/// says "exec failed: ..." and exits 255, so that a client can tell the
/// runtime's failure from the status of the process it ran; every other
/// verb exits 1.
fn failure(command: &Command, msg: String) -> (String, u8) {
    match command {
        Command::Exec(_) if msg.starts_with("exec failed: ") => (msg, 255),
        Command::Exec(_) => (format!("exec failed: {msg}"), 255),
        _ => (msg, 1),
    }
}
