use cryo_cli::cli::state::Args;
use cryo_container::Store;

use super::{err, Outcome};

pub fn run(store: &Store, args: &Args) -> Outcome {
    let state = cryo_container::state(store, &args.id).map_err(err)?;
    let text = serde_json::to_string_pretty(&state).map_err(err)?;
    println!("{text}");
    Ok(0)
}
