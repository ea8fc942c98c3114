use cryo_container::Store;

use super::{err, write_stdout, Outcome};

#[derive(clap::Args, Debug)]
#[command(args_override_self = true)]
pub struct Args {
    /// Output format: table (the host ps, filtered) or json (an array of pids)
    #[arg(short = 'f', long, default_value = "table")]
    pub format: String,
    /// Container id
    pub id: String,
    /// Options for the host ps (default -ef)
    #[arg(
        trailing_var_arg = true,
        allow_hyphen_values = true,
        value_name = "PS OPTIONS"
    )]
    pub ps_args: Vec<String>,
}

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
