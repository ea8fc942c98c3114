//! Output format of `checkpoint --all`/`restore --all` and group operations.

#[derive(Copy, Clone, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Table,
    Json,
}
