//! `cryo run` flags (those of `create`, plus its own).

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
