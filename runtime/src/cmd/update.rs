use std::io::Read;

use cryo_container::{Store, UpdateRequest};

use super::{err, Outcome};

#[derive(clap::Args, Debug)]
#[command(args_override_self = true, allow_negative_numbers = true)]
pub struct Args {
    /// Path to a file with the resources to update (OCI LinuxResources
    /// JSON), or '-' to read them from the standard input; the other flags
    /// apply on top
    #[arg(short = 'r', long, value_name = "FILE")]
    pub resources: Option<String>,
    /// Per cgroup weight, range is from 10 to 1000
    #[arg(long, value_name = "N")]
    pub blkio_weight: Option<u16>,
    /// CPU CFS period (usecs) used for hardcapping; 0 for the system default
    #[arg(long, value_name = "N")]
    pub cpu_period: Option<String>,
    /// CPU CFS hardcap limit (usecs): allowed cpu time in a given period
    #[arg(long, value_name = "N")]
    pub cpu_quota: Option<String>,
    /// CPU shares (relative weight vs. other containers)
    #[arg(long = "cpu-share", visible_alias = "cpu-shares", value_name = "N")]
    pub cpu_share: Option<String>,
    /// CPU realtime period (usecs) used for hardcapping
    #[arg(long, value_name = "N")]
    pub cpu_rt_period: Option<String>,
    /// CPU realtime hardcap limit (usecs): allowed cpu time in a given period
    #[arg(long, value_name = "N")]
    pub cpu_rt_runtime: Option<String>,
    /// CPU(s) to use
    #[arg(long, value_name = "LIST")]
    pub cpuset_cpus: Option<String>,
    /// Memory node(s) to use
    #[arg(long, value_name = "LIST")]
    pub cpuset_mems: Option<String>,
    /// Kernel memory limit (ignored, as in runc)
    #[arg(long, value_name = "BYTES", hide = true)]
    pub kernel_memory: Option<String>,
    /// Kernel TCP memory limit (ignored, as in runc)
    #[arg(long, value_name = "BYTES", hide = true)]
    pub kernel_memory_tcp: Option<String>,
    /// Memory limit (bytes, or with a unit: 64m, 1g)
    #[arg(long, value_name = "BYTES")]
    pub memory: Option<String>,
    /// Memory reservation or soft_limit
    #[arg(long, value_name = "BYTES")]
    pub memory_reservation: Option<String>,
    /// Total memory usage (memory + swap); '-1' for unlimited swap
    #[arg(long, value_name = "BYTES")]
    pub memory_swap: Option<String>,
    /// Maximum number of pids allowed in the container
    #[arg(long, value_name = "N")]
    pub pids_limit: Option<i64>,
    /// Intel RDT/CAT L3 cache schema (not supported by cryo)
    #[arg(long, value_name = "SCHEMA")]
    pub l3_cache_schema: Option<String>,
    /// Intel RDT/MBA memory bandwidth schema (not supported by cryo)
    #[arg(long, value_name = "SCHEMA")]
    pub mem_bw_schema: Option<String>,
    /// Container id
    pub id: String,
}

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

pub fn run(cli: &crate::Cli, store: &Store, args: &Args) -> Outcome {
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
