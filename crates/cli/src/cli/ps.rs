//! `cryo ps` arguments.

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
