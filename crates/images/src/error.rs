//! Errors of reading an image directory. Every error about a file names it,
//! and errors about its contents give the byte offset where reading failed.

use std::path::PathBuf;

/// The result of the readers of this crate.
pub type Result<T, E = ImageError> = std::result::Result<T, E>;

#[derive(Debug, thiserror::Error)]
pub enum ImageError {
    /// The directory has no `inventory.img`: it is not a CRIU image directory.
    #[error("{}: not a CRIU image directory (no inventory.img)", .0.display())]
    NotImageDir(PathBuf),
    /// A file could not be opened or read.
    #[error("{}: {}", path.display(), io_text(source))]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    /// A file CRIU always writes is missing.
    #[error("{}: missing ({what})", path.display())]
    Missing { path: PathBuf, what: String },
    /// The file does not start with the magic of its image type.
    #[error(
        "{}: bad magic at offset {offset}: 0x{found:08x}, expected 0x{expected:08x} ({what})",
        path.display()
    )]
    BadMagic {
        path: PathBuf,
        offset: u64,
        found: u32,
        expected: u32,
        what: &'static str,
    },
    /// The file ends inside a size prefix, an entry or a page.
    #[error("{}: truncated at offset {offset}: {detail}", path.display())]
    Truncated {
        path: PathBuf,
        offset: u64,
        detail: String,
    },
    /// An entry is not a valid protobuf message of its type.
    #[error("{}: corrupt at offset {offset}: {detail}", path.display())]
    Corrupt {
        path: PathBuf,
        offset: u64,
        detail: String,
    },
    /// The file is larger than any image of its kind CRIU writes.
    #[error("{}: {size} bytes is too large for a CRIU image file", path.display())]
    TooLarge { path: PathBuf, size: u64 },
}

impl ImageError {
    /// The file the error is about, if any.
    pub fn path(&self) -> &std::path::Path {
        match self {
            ImageError::NotImageDir(p) => p,
            ImageError::Io { path, .. }
            | ImageError::Missing { path, .. }
            | ImageError::BadMagic { path, .. }
            | ImageError::Truncated { path, .. }
            | ImageError::Corrupt { path, .. }
            | ImageError::TooLarge { path, .. } => path,
        }
    }

    /// The byte offset in the file where reading failed, for errors about
    /// the file's contents.
    pub fn offset(&self) -> Option<u64> {
        match self {
            ImageError::BadMagic { offset, .. }
            | ImageError::Truncated { offset, .. }
            | ImageError::Corrupt { offset, .. } => Some(*offset),
            _ => None,
        }
    }

    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> ImageError {
        ImageError::Io {
            path: path.into(),
            source,
        }
    }
}

/// An io::Error without the "(os error N)" suffix, lower-cased like the rest
/// of cryo's messages ("no such file or directory").
fn io_text(e: &std::io::Error) -> String {
    let s = e.to_string();
    let s = match s.rfind(" (os error ") {
        Some(i) if s.ends_with(')') => s[..i].to_string(),
        _ => s,
    };
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_lowercase().chain(c).collect(),
        None => s,
    }
}

/// A protobuf decoding failure inside one entry: the absolute offset in the
/// file and what was wrong. The image reader turns it into
/// [`ImageError::Corrupt`] naming the file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WireError {
    pub offset: u64,
    pub detail: String,
}

impl WireError {
    pub(crate) fn new(offset: u64, detail: impl Into<String>) -> WireError {
        WireError {
            offset,
            detail: detail.into(),
        }
    }

    pub(crate) fn in_file(self, path: &std::path::Path) -> ImageError {
        ImageError::Corrupt {
            path: path.to_path_buf(),
            offset: self.offset,
            detail: self.detail,
        }
    }
}

impl std::fmt::Display for WireError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "at offset {}: {}", self.offset, self.detail)
    }
}

impl std::error::Error for WireError {}
