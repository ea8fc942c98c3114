//! `cryo spec` flags.

use std::path::PathBuf;

#[derive(clap::Args, Debug)]
#[command(args_override_self = true)]
pub struct Args {
    /// Directory to write config.json in
    #[arg(short = 'b', long, default_value = ".", value_name = "DIR")]
    pub bundle: PathBuf,
    /// Generate a configuration for a rootless container (not supported yet)
    #[arg(long)]
    pub rootless: bool,
}
