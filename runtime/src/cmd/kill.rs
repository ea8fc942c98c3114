use cryo_cli::cli::kill::Args;
use cryo_container::Store;

use super::{err, Outcome};

pub fn run(store: &Store, args: &Args) -> Outcome {
    let sig = cryo_container::parse_signal(args.signal.trim_start_matches('-')).map_err(err)?;
    cryo_container::kill(store, &args.id, sig, args.all).map_err(err)?;
    Ok(0)
}
