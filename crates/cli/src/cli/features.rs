//! `cryo features` (no flags).

#[derive(clap::Args, Debug)]
#[command(args_override_self = true)]
pub struct Args {}
