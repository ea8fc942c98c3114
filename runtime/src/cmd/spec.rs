use cryo_cli::cli::spec::Args;

use super::Outcome;

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
