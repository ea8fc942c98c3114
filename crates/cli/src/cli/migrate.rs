//! `cryo migrate` and `cryo migrate-receive` flags.

use std::path::PathBuf;

#[derive(Copy, Clone, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Text,
    Json,
}

#[derive(clap::Args, Debug)]
#[command(args_override_self = true)]
pub struct Args {
    /// HOST[:PORT] of the destination's `cryo migrate-receive` (port 7740 by default)
    #[arg(long, value_name = "HOST[:PORT]")]
    pub to: String,
    /// post-copy (memory follows the running container), stop-and-copy
    /// (memory in the images), or auto: post-copy when both sides can
    #[arg(long, default_value = "auto", value_name = "MODE")]
    pub mode: String,
    /// ADDR[:PORT] the page server listens on, as the destination reaches
    /// it (default: this side's address on the migration connection)
    #[arg(long, value_name = "ADDR[:PORT]")]
    pub page_server: Option<String>,
    /// Directory for the images before they are sent (default: <root>/@migrate)
    #[arg(long, value_name = "DIR")]
    pub work_dir: Option<PathBuf>,
    /// Allow open TCP connections
    #[arg(long)]
    pub tcp_established: bool,
    /// Allow external unix sockets
    #[arg(long)]
    pub ext_unix_sk: bool,
    /// Allow shell jobs
    #[arg(long)]
    pub shell_job: bool,
    /// Handle file locks
    #[arg(long)]
    pub file_locks: bool,
    /// Allow CRIU to link-remap deleted files
    #[arg(long)]
    pub link_remap: bool,
    /// cgroups mode: soft, full, strict or ignore (default: soft)
    #[arg(long, value_name = "MODE")]
    pub manage_cgroups_mode: Option<String>,
    /// Seconds either side waits for the other before giving up
    #[arg(long, default_value_t = 120, value_name = "SECONDS")]
    pub timeout: u64,
    /// Output format: text or json
    #[arg(long, value_enum, default_value = "text")]
    pub format: Format,
    /// Container id
    pub id: String,
}

#[derive(clap::Args, Debug)]
#[command(args_override_self = true)]
pub struct ReceiveArgs {
    /// ADDR[:PORT] to listen on (port 7740 by default)
    #[arg(long, value_name = "ADDR[:PORT]")]
    pub listen: String,
    /// Exit after one migration, with its outcome as the exit status
    #[arg(long)]
    pub once: bool,
    /// Use the source's rootfs path as is instead of receiving a copy
    /// (shared storage, or two roots on one machine)
    #[arg(long)]
    pub rootfs_from_source_path: bool,
    /// Directory for received bundles and images (default: <root>/@migrate)
    #[arg(long, value_name = "DIR")]
    pub dir: Option<PathBuf>,
    /// Put migrated containers' cgroups under this path
    #[arg(long, value_name = "PATH")]
    pub cgroup_prefix: Option<String>,
    /// Most bytes of rootfs and images accepted per migration
    #[arg(long, value_name = "BYTES")]
    pub max_bytes: Option<u64>,
    /// Seconds to wait for the source before giving up
    #[arg(long, default_value_t = 120, value_name = "SECONDS")]
    pub timeout: u64,
    /// Output format: text or json (one object per migration)
    #[arg(long, value_enum, default_value = "text")]
    pub format: Format,
}
