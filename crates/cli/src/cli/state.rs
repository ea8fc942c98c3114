//! `cryo state` arguments.

#[derive(clap::Args, Debug)]
#[command(args_override_self = true)]
pub struct Args {
    /// Container id
    pub id: String,
}
