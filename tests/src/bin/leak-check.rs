//! `leak-check snapshot FILE` records what is on the host (mounts, cgroups,
//! network namespaces, runtime/CRIU/container processes, files under cryo
//! state roots); `leak-check compare FILE` lists everything that exists now
//! and did not then, and exits 1 if there is anything. `make test` runs it
//! around the whole suite.
//!
//! compare looks again for up to `--settle SECS` (default 5) while there
//! are leaks, so a process or mount that is being torn down right then is
//! not reported.

use std::process::ExitCode;
use std::time::{Duration, Instant};

use cryo_e2e::leaks::Snapshot;

const USAGE: &str = "usage: leak-check snapshot FILE | leak-check compare FILE [--settle SECS]";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match run(&args) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("leak-check: {e}");
            ExitCode::from(2)
        }
    }
}

fn run(args: &[String]) -> Result<ExitCode, String> {
    match args {
        [cmd, file] if cmd == "snapshot" => {
            let s = Snapshot::take();
            std::fs::write(file, s.to_text()).map_err(|e| format!("write {file}: {e}"))?;
            println!(
                "leak-check: {} things on the host recorded in {file}",
                s.items.len()
            );
            Ok(ExitCode::SUCCESS)
        }
        [cmd, file, rest @ ..] if cmd == "compare" => {
            let settle = match rest {
                [] => Duration::from_secs(5),
                [flag, secs] if flag == "--settle" => Duration::from_secs_f64(
                    secs.parse::<f64>()
                        .ok()
                        .filter(|s| s.is_finite() && *s >= 0.0)
                        .ok_or_else(|| format!("--settle wants seconds, got {secs:?}"))?,
                ),
                _ => return Err(USAGE.into()),
            };
            let text = std::fs::read_to_string(file).map_err(|e| format!("read {file}: {e}"))?;
            let before = Snapshot::from_text(&text).map_err(|e| format!("{file}: {e}"))?;
            let deadline = Instant::now() + settle;
            let leaks = loop {
                let leaks = Snapshot::take().new_since(&before);
                if leaks.is_empty() || Instant::now() >= deadline {
                    break leaks;
                }
                std::thread::sleep(Duration::from_millis(500));
            };
            if leaks.is_empty() {
                println!("leak-check: nothing left behind since the snapshot in {file}");
                return Ok(ExitCode::SUCCESS);
            }
            println!(
                "leak-check: {} things left behind since the snapshot in {file}:",
                leaks.len()
            );
            for l in cryo_e2e::leaks::report_lines(&leaks) {
                println!("  {l}");
            }
            Ok(ExitCode::from(1))
        }
        _ => Err(USAGE.into()),
    }
}
