use cryo_cli::cli::features::Args;
use serde::Serialize;

use super::{err, write_stdout, Outcome};

/// Prints the OCI features document, indented like runc's (4 spaces).
pub fn run(_args: &Args) -> Outcome {
    let mut f = cryo_container::features();
    f.annotations
        .insert("org.cryo.version".into(), env!("CARGO_PKG_VERSION").into());
    f.annotations
        .insert("org.cryo.commit".into(), env!("CRYO_COMMIT").into());
    let mut out = Vec::new();
    let fmt = serde_json::ser::PrettyFormatter::with_indent(b"    ");
    let mut ser = serde_json::Serializer::with_formatter(&mut out, fmt);
    f.serialize(&mut ser).map_err(err)?;
    out.push(b'\n');
    write_stdout(&String::from_utf8_lossy(&out))?;
    Ok(0)
}
