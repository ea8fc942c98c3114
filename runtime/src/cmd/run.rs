use cryo_container::Store;

use super::{err, Outcome};

#[derive(clap::Args, Debug)]
#[command(args_override_self = true)]
pub struct Args {
    #[command(flatten)]
    pub create: super::create::CreateArgs,
    /// Detach from the container's process
    #[arg(short = 'd', long)]
    pub detach: bool,
    /// Keep the container's state after it exits
    #[arg(long)]
    pub keep: bool,
    /// Accepted for runc compatibility: cryo stays the init's parent
    #[arg(long)]
    pub no_subreaper: bool,
}

pub fn run(cli: &crate::Cli, store: &Store, args: &Args) -> Outcome {
    super::create::check_cgroup_manager(cli)?;
    let opts = args.create.options();
    if args.detach {
        cryo_container::create(store, &opts).map_err(err)?;
        if let Err(e) = cryo_container::start(store, &opts.id) {
            let _ = cryo_container::delete(store, &opts.id, true);
            return Err(err(e));
        }
        return Ok(0);
    }
    // Foreground: block signals before forking so none is lost; the
    // container init unblocks them before it execs.
    cryo_sys::process::block_all_signals().map_err(|e| format!("block signals: {e}"))?;
    let created = cryo_container::create(store, &opts).map_err(err)?;
    if let Err(e) = cryo_container::start(store, &opts.id) {
        let _ = cryo_container::delete(store, &opts.id, true);
        return Err(err(e));
    }
    let code = cryo_container::wait_forwarding_signals(created.pid).map_err(err)?;
    if !args.keep {
        cryo_container::delete(store, &opts.id, true).map_err(err)?;
    }
    Ok(u8::try_from(code).unwrap_or(255))
}
