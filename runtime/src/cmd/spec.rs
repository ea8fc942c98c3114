use std::path::PathBuf;

use super::Outcome;

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

pub fn run(args: &Args) -> Outcome {
    if args.rootless {
        return Err("spec --rootless is not supported by cryo yet".into());
    }
    let path = args.bundle.join("config.json");
    if path.exists() {
        return Err("File config.json exists. Remove it first.".into());
    }
    std::fs::write(&path, cryo_oci::default_spec_json())
        .map_err(|e| format!("write {}: {e}", path.display()))?;
    Ok(0)
}
