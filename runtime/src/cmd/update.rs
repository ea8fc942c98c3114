use std::io::Read;

use cryo_cli::cli::update::Args;
use cryo_container::{Store, UpdateRequest};

use super::{err, Outcome};

fn read_resources(path: &str) -> Result<Vec<u8>, String> {
    let mut buf = Vec::new();
    let res = if path == "-" {
        std::io::stdin().read_to_end(&mut buf).map(drop)
    } else {
        std::fs::File::open(path)
            .map_err(|e| format!("open {path}: {}", cryo_container::error::io_text(&e)))?
            .read_to_end(&mut buf)
            .map(drop)
    };
    res.map_err(|e| format!("read {path}: {}", cryo_container::error::io_text(&e)))?;
    Ok(buf)
}

pub fn run(cli: &cryo_cli::Cli, store: &Store, args: &Args) -> Outcome {
    let resources = match args.resources.as_deref().filter(|p| !p.is_empty()) {
        Some(path) => Some(read_resources(path)?),
        None => None,
    };
    let req = UpdateRequest {
        resources,
        blkio_weight: args.blkio_weight,
        cpu_period: args.cpu_period.clone(),
        cpu_quota: args.cpu_quota.clone(),
        cpu_shares: args.cpu_share.clone(),
        cpu_rt_period: args.cpu_rt_period.clone(),
        cpu_rt_runtime: args.cpu_rt_runtime.clone(),
        cpuset_cpus: args.cpuset_cpus.clone(),
        cpuset_mems: args.cpuset_mems.clone(),
        kernel_memory: args.kernel_memory.clone(),
        kernel_memory_tcp: args.kernel_memory_tcp.clone(),
        memory: args.memory.clone(),
        memory_reservation: args.memory_reservation.clone(),
        memory_swap: args.memory_swap.clone(),
        pids_limit: args.pids_limit,
        l3_cache_schema: args.l3_cache_schema.clone(),
        mem_bw_schema: args.mem_bw_schema.clone(),
    };
    let warnings = cryo_container::update(store, &args.id, &req).map_err(err)?;
    let logger = crate::log::Logger::new(cli.log.clone(), cli.log_format, cli.debug);
    for w in warnings {
        logger.warn(&w);
    }
    Ok(0)
}
