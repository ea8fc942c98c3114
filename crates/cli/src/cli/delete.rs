//! `cryo delete` flags.

#[derive(clap::Args, Debug)]
#[command(args_override_self = true)]
pub struct Args {
    /// Kill the container first if it is still running
    #[arg(short = 'f', long)]
    pub force: bool,
    /// Container id
    pub id: String,
}
