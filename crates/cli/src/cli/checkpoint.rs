//! `cryo checkpoint` flags.

use std::path::PathBuf;

#[derive(clap::Args, Debug)]
#[command(args_override_self = true)]
pub struct Args {
    /// Path for saving CRIU image files (default: ./checkpoint)
    #[arg(long, value_name = "DIR")]
    pub image_path: Option<PathBuf>,
    /// Path for saving work files and logs (default: the image path)
    #[arg(long, value_name = "DIR")]
    pub work_path: Option<PathBuf>,
    /// Path of previous CRIU images (a pre-dump), relative to the image path
    #[arg(long, value_name = "DIR")]
    pub parent_path: Option<PathBuf>,
    /// Leave the process running after checkpointing
    #[arg(long)]
    pub leave_running: bool,
    /// Allow open TCP connections
    #[arg(long)]
    pub tcp_established: bool,
    /// Skip in-flight TCP connections
    #[arg(long)]
    pub tcp_skip_in_flight: bool,
    /// Allow external unix sockets
    #[arg(long)]
    pub ext_unix_sk: bool,
    /// Allow shell jobs
    #[arg(long)]
    pub shell_job: bool,
    /// Use userfaultfd to lazily restore memory pages (needs --page-server)
    #[arg(long)]
    pub lazy_pages: bool,
    /// File descriptor that gets a byte once the lazy-pages server is ready
    #[arg(long, value_name = "FD")]
    pub status_fd: Option<i32>,
    /// ADDRESS:PORT of the page server
    #[arg(long, value_name = "ADDR:PORT")]
    pub page_server: Option<String>,
    /// Handle file locks, for safety
    #[arg(long)]
    pub file_locks: bool,
    /// Allow CRIU to link-remap deleted files
    #[arg(long)]
    pub link_remap: bool,
    /// Dump the container's memory only, leaving it running (needs the kernel's memory tracking)
    #[arg(long)]
    pub pre_dump: bool,
    /// cgroups mode: soft, full, strict or ignore (default: soft)
    #[arg(long, value_name = "MODE")]
    pub manage_cgroups_mode: Option<String>,
    /// Create a namespace, but do not restore its properties (network)
    #[arg(long, value_name = "NS")]
    pub empty_ns: Vec<String>,
    /// Enable auto deduplication of memory images
    #[arg(long)]
    pub auto_dedup: bool,
    /// Network lock method: iptables, nftables or skip
    #[arg(long, value_name = "METHOD")]
    pub network_lock: Option<String>,
    /// Also write the checkpoint as one self-contained archive (zstd tar, 0600)
    #[arg(long, value_name = "FILE")]
    pub export: Option<PathBuf>,
    /// Checkpoint every running container, each into <--image-root>/<id>
    #[arg(long, requires = "image_root", conflicts_with_all = ["image_path", "export", "pre_dump", "lazy_pages"])]
    pub all: bool,
    /// Checkpoint these containers (a pod sharing namespaces) as one
    /// consistent cut into --image-root
    #[arg(long, value_name = "ID,ID,...", value_delimiter = ',', requires = "image_root",
          conflicts_with_all = ["all", "image_path", "export", "pre_dump", "lazy_pages"])]
    pub group: Vec<String>,
    /// With --all or --group: the folder that gets one sub-folder per container
    #[arg(long, value_name = "DIR")]
    pub image_root: Option<PathBuf>,
    /// Output of --all: table or json
    #[arg(long, value_enum, default_value = "table")]
    pub format: super::all::Format,
    /// Container id
    #[arg(required_unless_present_any = ["all", "group"])]
    pub id: Option<String>,
}
