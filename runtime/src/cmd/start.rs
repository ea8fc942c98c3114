use cryo_cli::cli::start::Args;
use cryo_container::Store;

use super::{err, Outcome};

pub fn run(store: &Store, args: &Args) -> Outcome {
    cryo_container::start(store, &args.id).map_err(err)?;
    Ok(0)
}
