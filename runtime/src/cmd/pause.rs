use cryo_container::Store;

use super::{err, Outcome};

#[derive(clap::Args, Debug)]
#[command(args_override_self = true)]
pub struct Args {
    /// Container id
    pub id: String,
}

pub fn pause(store: &Store, args: &Args) -> Outcome {
    cryo_container::pause(store, &args.id).map_err(err)?;
    Ok(0)
}

pub fn resume(store: &Store, args: &Args) -> Outcome {
    cryo_container::resume(store, &args.id).map_err(err)?;
    Ok(0)
}
