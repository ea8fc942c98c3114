use cryo_container::Store;

use super::{err, Outcome};

#[derive(clap::Args, Debug)]
#[command(args_override_self = true)]
pub struct Args {
    /// Kill the container first if it is still running
    #[arg(short = 'f', long)]
    pub force: bool,
    /// Container id
    pub id: String,
}

pub fn run(store: &Store, args: &Args) -> Outcome {
    cryo_container::delete(store, &args.id, args.force).map_err(err)?;
    Ok(0)
}
