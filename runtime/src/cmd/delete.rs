use cryo_cli::cli::delete::Args;
use cryo_container::{ContainerError, Store};

use super::{err, Outcome};

pub fn run(store: &Store, args: &Args) -> Outcome {
    match cryo_migrate::delete(store, &args.id, args.force) {
        // As runc: `delete --force` of a container that is gone succeeds
        // (podman deletes after a checkpoint, which already removed it).
        Err(ContainerError::NotExist) if args.force => Ok(0),
        r => r.map(|()| 0).map_err(err),
    }
}
