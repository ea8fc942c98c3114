//! `cryo update` flags.

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
