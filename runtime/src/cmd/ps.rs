use cryo_cli::cli::ps::Args;
use cryo_container::Store;

use super::{err, write_stdout, Outcome};

pub fn run(store: &Store, args: &Args) -> Outcome {
    let pids = cryo_container::processes(store, &args.id).map_err(err)?;
    let text = match args.format.as_str() {
        // runc encodes Go's nil slice: `null` when there is no process.
        "json" if pids.is_empty() => "null\n".to_string(),
        "json" => format!("{}\n", serde_json::to_string(&pids).map_err(err)?),
        "table" => cryo_container::ps_table(&pids, &args.ps_args).map_err(err)?,
        _ => return Err("invalid format option".into()),
    };
    write_stdout(&text)?;
    Ok(0)
}
