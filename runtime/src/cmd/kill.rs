use cryo_container::Store;

use super::{err, Outcome};

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

pub fn run(store: &Store, args: &Args) -> Outcome {
    let sig = cryo_container::parse_signal(args.signal.trim_start_matches('-')).map_err(err)?;
    cryo_container::kill(store, &args.id, sig, args.all).map_err(err)?;
    Ok(0)
}
