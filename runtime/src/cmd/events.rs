use std::io::Write;
use std::time::Duration;

use cryo_cli::cli::events::Args;
use cryo_container::{ContainerError, Event, Store};

use super::{err, Outcome};

pub fn run(store: &Store, args: &Args) -> Outcome {
    if args.interval <= 0 {
        return Err("duration interval must be greater than 0".into());
    }
    let print = |e: &Event| -> cryo_container::Result<()> {
        let line = e.to_json(&args.id)?;
        let mut out = std::io::stdout().lock();
        writeln!(out, "{line}")
            .and_then(|()| out.flush())
            .map_err(|source| ContainerError::Io {
                context: "write event".into(),
                source,
            })
    };
    if args.stats {
        let s = cryo_container::stats(store, &args.id).map_err(err)?;
        return match print(&Event::Stats(Box::new(s))) {
            Err(ContainerError::Io { source, .. })
                if source.kind() == std::io::ErrorKind::BrokenPipe =>
            {
                Ok(0)
            }
            other => other.map(|()| 0).map_err(err),
        };
    }
    let nanos = u64::try_from(args.interval).unwrap_or(u64::MAX);
    let mut emit = print;
    match cryo_container::watch(store, &args.id, Duration::from_nanos(nanos), &mut emit) {
        // The reader went away (`cryo events ID | head -1`): done.
        Err(ContainerError::Io { source, .. })
            if source.kind() == std::io::ErrorKind::BrokenPipe =>
        {
            Ok(0)
        }
        other => other.map(|()| 0).map_err(err),
    }
}
