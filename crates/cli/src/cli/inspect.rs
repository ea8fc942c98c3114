//! `cryo inspect` flags.

use std::path::PathBuf;

#[derive(Copy, Clone, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Table,
    Json,
}

#[derive(clap::Args, Debug)]
#[command(args_override_self = true)]
pub struct Args {
    /// Output format: a table for people, json for programs
    #[arg(short = 'f', long, value_enum, default_value = "table")]
    pub format: Format,
    /// The process tree in detail (ids, credentials, executable, cwd)
    #[arg(long)]
    pub ps: bool,
    /// Open files of each process
    #[arg(long)]
    pub files: bool,
    /// Sockets with addresses, states and the processes holding them
    #[arg(long)]
    pub sockets: bool,
    /// Mounts
    #[arg(long)]
    pub mounts: bool,
    /// Memory mappings of each process
    #[arg(long)]
    pub memory: bool,
    /// Environment of each process (read from its memory: may show secrets)
    #[arg(long)]
    pub env: bool,
    /// The image directory of a checkpoint (`cryo checkpoint --image-path`),
    /// or an archive (`cryo checkpoint --export`)
    #[arg(value_name = "IMAGE_DIR|ARCHIVE")]
    pub image_dir: PathBuf,
}

impl Args {
    /// No section was asked for: print the summary.
    pub fn summary(&self) -> bool {
        !(self.ps || self.files || self.sockets || self.mounts || self.memory || self.env)
    }
}
