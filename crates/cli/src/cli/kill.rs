//! `cryo kill` arguments.

#[derive(clap::Args, Debug)]
#[command(args_override_self = true)]
pub struct Args {
    /// Send the signal to every process of the container
    #[arg(short = 'a', long)]
    pub all: bool,
    /// Container id
    pub id: String,
    /// Signal name or number (default SIGTERM)
    #[arg(default_value = "SIGTERM", allow_hyphen_values = true)]
    pub signal: String,
}
