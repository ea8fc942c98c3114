//! `cryo restore` flags.

use std::path::PathBuf;

#[derive(clap::Args, Debug)]
#[command(args_override_self = true)]
pub struct Args {
    /// Path to an AF_UNIX socket that receives the restored pty master
    #[arg(long, value_name = "PATH")]
    pub console_socket: Option<PathBuf>,
    /// Path of the CRIU image files (default: ./checkpoint)
    #[arg(long, value_name = "DIR")]
    pub image_path: Option<PathBuf>,
    /// Path for work files and logs (default: the image path)
    #[arg(long, value_name = "DIR")]
    pub work_path: Option<PathBuf>,
    /// Allow open TCP connections
    #[arg(long)]
    pub tcp_established: bool,
    /// Close restored TCP connections
    #[arg(long)]
    pub tcp_close: bool,
    /// Allow external unix sockets
    #[arg(long)]
    pub ext_unix_sk: bool,
    /// Allow shell jobs
    #[arg(long)]
    pub shell_job: bool,
    /// Handle file locks, for safety
    #[arg(long)]
    pub file_locks: bool,
    /// cgroups mode: soft, full, strict or ignore (default: soft)
    #[arg(long, value_name = "MODE")]
    pub manage_cgroups_mode: Option<String>,
    /// Path to the root of the bundle directory
    #[arg(short = 'b', long, default_value = ".", value_name = "DIR")]
    pub bundle: PathBuf,
    /// Detach from the container's process
    #[arg(short = 'd', long)]
    pub detach: bool,
    /// File to write the restored init's pid to
    #[arg(long, value_name = "FILE")]
    pub pid_file: Option<PathBuf>,
    /// Accepted for runc compatibility: the restored init is always cryo's child
    #[arg(long)]
    pub no_subreaper: bool,
    /// Accepted for runc compatibility (CRIU sets up the root)
    #[arg(long)]
    pub no_pivot: bool,
    /// Accepted for runc compatibility (the keyring is restored by CRIU)
    #[arg(long)]
    pub no_new_keyring: bool,
    /// Create a namespace, but do not restore its properties (network)
    #[arg(long, value_name = "NS")]
    pub empty_ns: Vec<String>,
    /// Enable auto deduplication of memory images
    #[arg(long)]
    pub auto_dedup: bool,
    /// Use userfaultfd to lazily restore memory pages
    #[arg(long)]
    pub lazy_pages: bool,
    /// Quick startup: restore from the local images with lazy pages (the
    /// container runs before its memory is loaded); logs go to the container's
    /// state directory unless --work-path, so copies of one image can start at once
    #[arg(long)]
    pub lazy: bool,
    /// With --lazy-pages: ADDR:PORT of the page server of a lazy checkpoint;
    /// cryo runs CRIU's lazy-pages daemon to fetch the memory from it
    #[arg(long, value_name = "ADDR:PORT")]
    pub page_server: Option<String>,
    /// LSM profile for the restored process, TYPE:VALUE (e.g. selinux:...)
    #[arg(long, value_name = "TYPE:VALUE")]
    pub lsm_profile: Option<String>,
    /// LSM mount context for the restored mounts
    #[arg(long, value_name = "CONTEXT")]
    pub lsm_mount_context: Option<String>,
    /// Restore from a checkpoint archive (`checkpoint --export`), verified
    /// before anything is restored
    #[arg(long, value_name = "FILE", conflicts_with = "image_path")]
    pub import: Option<PathBuf>,
    /// Restore every container `checkpoint --all` saved under --image-root
    #[arg(long, requires = "image_root", conflicts_with_all = ["image_path", "import", "lazy", "lazy_pages"])]
    pub all: bool,
    /// Restore the pod `checkpoint --group` saved under --image-root: the
    /// namespace holder first, then the others joining its namespaces
    #[arg(long, requires = "image_root", conflicts_with_all = ["all", "image_path", "import", "lazy", "lazy_pages"])]
    pub group: bool,
    /// With --all or --group: the folder `checkpoint --all/--group --image-root` wrote
    #[arg(long, value_name = "DIR")]
    pub image_root: Option<PathBuf>,
    /// Output of --all: table or json
    #[arg(long, value_enum, default_value = "table")]
    pub format: super::all::Format,
    /// Container id
    #[arg(required_unless_present_any = ["all", "group"])]
    pub id: Option<String>,
}
