//! Errors of a migration, worded for the CLI.

use cryo_checkpoint::CheckpointError;
use cryo_container::ContainerError;

#[derive(Debug, thiserror::Error)]
pub enum MigrateError {
    #[error("{0}")]
    Invalid(String),
    /// The peer broke the protocol (or is not cryo).
    #[error("protocol error: {0}")]
    Protocol(String),
    /// The other side reported a failure.
    #[error("{0}")]
    Remote(String),
    /// The connection went away or fell silent.
    #[error("{0}")]
    Disconnected(String),
    #[error(transparent)]
    Checkpoint(#[from] CheckpointError),
    #[error(transparent)]
    Container(#[from] ContainerError),
    #[error(transparent)]
    Criu(#[from] cryo_criu::CriuError),
    #[error("{context}: {}", cryo_container::error::io_text(source))]
    Io {
        context: String,
        source: std::io::Error,
    },
    /// A failure after the container was frozen, and what became of it.
    #[error("{cause}; {outcome}")]
    RolledBack {
        cause: Box<MigrateError>,
        outcome: String,
    },
}

pub type Result<T> = std::result::Result<T, MigrateError>;

pub(crate) trait Ctx<T> {
    fn ctx(self, context: impl FnOnce() -> String) -> Result<T>;
}

impl<T> Ctx<T> for std::result::Result<T, std::io::Error> {
    fn ctx(self, context: impl FnOnce() -> String) -> Result<T> {
        self.map_err(|source| MigrateError::Io {
            context: context(),
            source,
        })
    }
}
