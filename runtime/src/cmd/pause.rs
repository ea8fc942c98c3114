use cryo_cli::cli::pause::Args;
use cryo_container::Store;

use super::{err, Outcome};

pub fn pause(store: &Store, args: &Args) -> Outcome {
    cryo_container::pause(store, &args.id).map_err(err)?;
    Ok(0)
}

pub fn resume(store: &Store, args: &Args) -> Outcome {
    cryo_container::resume(store, &args.id).map_err(err)?;
    Ok(0)
}
