//! `cryo list` flags.

#[derive(clap::Args, Debug)]
#[command(args_override_self = true)]
pub struct Args {
    /// Output format: table or json
    #[arg(short = 'f', long, default_value = "table")]
    pub format: String,
    /// Print only container ids
    #[arg(short = 'q', long)]
    pub quiet: bool,
}
