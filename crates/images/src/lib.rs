//! cryo-images: reads CRIU image directories without running anything.
//!
//! A checkpoint (`cryo checkpoint --image-path DIR`) is a directory of
//! CRIU image files: a magic head, then protobuf messages each prefixed
//! with its u32 size ([`image`]). This crate decodes the ones a forensic
//! look needs straight from the protobuf wire format ([`wire`], on the
//! `protobuf` crate's `CodedInputStream`) with the field numbers of CRIU
//! 4.2's `images/*.proto`, cited at each field:
//!
//! | image | decoded as |
//! | --- | --- |
//! | `inventory.img` | [`task::Inventory`] |
//! | `pstree.img` | [`task::PstreeEntry`] |
//! | `core-<tid>.img`, `ids-<pid>.img`, `fs-<pid>.img` | [`task::CoreEntry`], [`task::TaskIds`], [`task::FsEntry`] |
//! | `mm-<pid>.img` | [`mm::MmEntry`] with its [`mm::Vma`]s |
//! | `pagemap-<pid>.img` + `pages-<id>.img` | [`pagemap::Pagemap`], [`pagemap::MemoryImage`] (memory by address) |
//! | `fdinfo-<id>.img`, `files.img` | [`files::FdInfo`], [`files::FileEntry`] (regular files, pipes, inet and unix sockets, ...) |
//! | `tcp-stream-<ino>.img` | [`files::TcpStream`] |
//! | `mountpoints-<id>.img` | [`mnt::MntEntry`] |
//! | `stats-dump`, `stats-restore` | [`stats::DumpStats`], [`stats::RestoreStats`] |
//!
//! [`ImageDir`] reads any of them by pid or id; [`inspect`] joins them into
//! a [`Report`]: the process tree with the cmdlines read from the dumped
//! memory, per-process memory sizes, open files, sockets with addresses,
//! states and owners, mounts, and CRIU's dump statistics.
//!
//! Images are untrusted input: every length and offset is checked, a
//! truncated or corrupt file is an [`ImageError`] naming the file and the
//! byte offset, never a panic. Images hold the checkpointed memory,
//! secrets included; the environment is only read when asked
//! ([`InspectOptions::env`]).

pub mod dir;
pub mod error;
pub mod files;
pub mod image;
pub mod mm;
pub mod mnt;
pub mod pagemap;
pub mod report;
pub mod stats;
pub mod task;
pub mod wire;

pub use dir::ImageDir;
pub use error::{ImageError, Result, WireError};
pub use report::{
    inspect, FdOwner, InspectOptions, Mapping, MemoryUsage, Mount, OpenFile, Process, Report,
    Socket,
};

#[cfg(test)]
mod tests;
