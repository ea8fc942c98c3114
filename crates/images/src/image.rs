//! The framing of a CRIU image file (criu/image.c, criu/protobuf.c):
//!
//! * a head of u32 magics: `inventory.img` has only its own magic
//!   (`INVENTORY_MAGIC`); every other image starts with `IMG_COMMON_MAGIC`
//!   (`IMG_SERVICE_MAGIC` for service files such as `stats-dump`) followed
//!   by the image type's magic (criu/include/magic.h). Images of format v1
//!   lack the common magic; they are accepted too;
//! * then entries, each a u32 little-endian size and that many bytes of one
//!   protobuf message, until the end of the file.
//!
//! Some images carry raw data after an entry (`tcp-stream-*.img`,
//! `pipes-data.img`); their readers take only the first entry.

use std::path::{Path, PathBuf};

use crate::error::{ImageError, Result, WireError};
use crate::wire::Message;

/// `IMG_COMMON_MAGIC`: the first u32 of every image but the inventory.
pub const IMG_COMMON_MAGIC: u32 = 0x5456_4319;
/// `IMG_SERVICE_MAGIC`: the first u32 of service files (`stats-*`, irmap cache).
pub const IMG_SERVICE_MAGIC: u32 = 0x5510_5940;

/// Protobuf images are small (a few KiB each); refuse to load a file that
/// could only be a mistake into memory.
const MAX_IMAGE_BYTES: u64 = 512 << 20;

/// What heads an image file before its type magic.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Head {
    /// Only the type magic (inventory.img).
    None,
    /// `IMG_COMMON_MAGIC`, then the type magic.
    Common,
    /// `IMG_SERVICE_MAGIC`, then the type magic.
    Service,
}

/// An image type: its name (for messages) and magics.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Kind {
    pub name: &'static str,
    pub magic: u32,
    pub head: Head,
}

impl Kind {
    const fn common(name: &'static str, magic: u32) -> Kind {
        Kind {
            name,
            magic,
            head: Head::Common,
        }
    }
    pub const INVENTORY: Kind = Kind {
        name: "inventory",
        magic: 0x5831_3116,
        head: Head::None,
    };
    pub const PSTREE: Kind = Kind::common("pstree", 0x5027_3030);
    pub const CORE: Kind = Kind::common("core", 0x5505_3847);
    pub const IDS: Kind = Kind::common("ids", 0x5443_2030);
    pub const MM: Kind = Kind::common("mm", 0x5749_2820);
    pub const PAGEMAP: Kind = Kind::common("pagemap", 0x5608_4025);
    pub const FDINFO: Kind = Kind::common("fdinfo", 0x5621_3732);
    pub const FILES: Kind = Kind::common("files", 0x5630_3138);
    pub const FS: Kind = Kind::common("fs", 0x5140_3912);
    pub const MNTS: Kind = Kind::common("mountpoints", 0x5556_3928);
    pub const TCP_STREAM: Kind = Kind::common("tcp-stream", 0x5146_5506);
    /// Images of CRIU before files.img (one per file type).
    pub const REG_FILES: Kind = Kind::common("reg-files", 0x5036_3636);
    pub const INETSK: Kind = Kind::common("inetsk", 0x5644_3851);
    pub const UNIXSK: Kind = Kind::common("unixsk", 0x5437_3943);
    pub const PIPES: Kind = Kind::common("pipes", 0x5651_3555);
    pub const STATS: Kind = Kind {
        name: "stats",
        magic: 0x5709_3306,
        head: Head::Service,
    };
}

/// A protobuf image file read into memory.
#[derive(Debug)]
pub struct ImageFile {
    path: PathBuf,
    data: Vec<u8>,
    /// Offset of the first entry (after the magics).
    body: usize,
}

fn u32_at(data: &[u8], at: usize) -> Option<u32> {
    let b = data.get(at..at.checked_add(4)?)?;
    Some(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
}

impl ImageFile {
    /// Reads `path` and checks its magics against `kind`.
    pub fn read(path: &Path, kind: Kind) -> Result<ImageFile> {
        let meta = std::fs::metadata(path).map_err(|e| ImageError::io(path, e))?;
        if meta.len() > MAX_IMAGE_BYTES {
            return Err(ImageError::TooLarge {
                path: path.to_path_buf(),
                size: meta.len(),
            });
        }
        let data = std::fs::read(path).map_err(|e| ImageError::io(path, e))?;
        ImageFile::from_bytes(path, data, kind)
    }

    /// Like [`ImageFile::read`], but `Ok(None)` when the file does not exist.
    pub fn read_if_exists(path: &Path, kind: Kind) -> Result<Option<ImageFile>> {
        match std::fs::symlink_metadata(path) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            _ => ImageFile::read(path, kind).map(Some),
        }
    }

    /// An image of the bytes `data` (read from `path`, named in errors).
    pub fn from_bytes(path: &Path, data: Vec<u8>, kind: Kind) -> Result<ImageFile> {
        let bad =
            |offset: u64, found: u32, expected: u32, what: &'static str| ImageError::BadMagic {
                path: path.to_path_buf(),
                offset,
                found,
                expected,
                what,
            };
        let truncated = |have: usize, want: usize| ImageError::Truncated {
            path: path.to_path_buf(),
            offset: have as u64,
            detail: format!(
                "{have} bytes, shorter than the {want}-byte head of a {} image",
                kind.name
            ),
        };
        let first = u32_at(&data, 0).ok_or_else(|| truncated(data.len(), 4))?;
        let body = match kind.head {
            Head::None if first == kind.magic => 4,
            Head::None => return Err(bad(0, first, kind.magic, kind.name)),
            // v1 images: the type magic without the common one.
            Head::Common | Head::Service if first == kind.magic => 4,
            Head::Common | Head::Service => {
                let (head, what) = match kind.head {
                    Head::Service => (IMG_SERVICE_MAGIC, "service image head"),
                    _ => (IMG_COMMON_MAGIC, "image head"),
                };
                if first != head {
                    return Err(bad(0, first, head, what));
                }
                let second = u32_at(&data, 4).ok_or_else(|| truncated(data.len(), 8))?;
                if second != kind.magic {
                    return Err(bad(4, second, kind.magic, kind.name));
                }
                8
            }
        };
        Ok(ImageFile {
            path: path.to_path_buf(),
            data,
            body,
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The entries, in order. The iterator ends after the first error.
    pub fn entries(&self) -> Entries<'_> {
        Entries {
            file: self,
            at: self.body,
            index: 0,
            done: false,
        }
    }

    /// Decodes every entry with `decode`.
    pub fn decode_all<T>(
        &self,
        mut decode: impl FnMut(Message<'_>) -> Result<T, WireError>,
    ) -> Result<Vec<T>> {
        let mut out = Vec::new();
        for m in self.entries() {
            out.push(decode(m?).map_err(|e| e.in_file(&self.path))?);
        }
        Ok(out)
    }

    /// Decodes the first entry with `decode`; an image without one is
    /// truncated.
    pub fn decode_first<T>(
        &self,
        decode: impl FnOnce(Message<'_>) -> Result<T, WireError>,
    ) -> Result<T> {
        match self.entries().next() {
            Some(m) => decode(m?).map_err(|e| e.in_file(&self.path)),
            None => Err(ImageError::Truncated {
                path: self.path.clone(),
                offset: self.body as u64,
                detail: "no entry after the magic".into(),
            }),
        }
    }
}

/// The entries of an [`ImageFile`].
pub struct Entries<'a> {
    file: &'a ImageFile,
    at: usize,
    index: usize,
    done: bool,
}

impl<'a> Iterator for Entries<'a> {
    type Item = Result<Message<'a>>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        let data = &self.file.data;
        let left = data.len().saturating_sub(self.at);
        if left == 0 {
            self.done = true;
            return None;
        }
        let index = self.index;
        self.index += 1;
        let truncated = |detail: String| ImageError::Truncated {
            path: self.file.path.clone(),
            offset: self.at as u64,
            detail,
        };
        let Some(size) = u32_at(data, self.at) else {
            self.done = true;
            return Some(Err(truncated(format!(
                "entry {index}: {left} bytes where a 4-byte size was expected"
            ))));
        };
        let start = self.at + 4;
        let size = size as usize;
        if size > left - 4 {
            self.done = true;
            return Some(Err(truncated(format!(
                "entry {index}: size {size} but only {} bytes follow",
                left - 4
            ))));
        }
        self.at = start + size;
        Some(Ok(Message::new(&data[start..start + size], start as u64)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::enc::{image, Msg};

    #[test]
    fn heads_and_entries() {
        let e1 = Msg::new().varint(1, 1);
        let e2 = Msg::new().varint(1, 2);
        let data = image(&[IMG_COMMON_MAGIC, Kind::PSTREE.magic], &[&e1, &e2]);
        let f = ImageFile::from_bytes(Path::new("pstree.img"), data.clone(), Kind::PSTREE)
            .expect("valid");
        let ms: Vec<Message> = f.entries().collect::<Result<_>>().expect("entries");
        assert_eq!(ms.len(), 2);
        assert_eq!(ms[0].offset(), 12);
        assert_eq!(ms[1].offset(), 12 + 2 + 4);

        // The inventory has a single magic.
        let inv = image(&[Kind::INVENTORY.magic], &[&e1]);
        ImageFile::from_bytes(Path::new("inventory.img"), inv, Kind::INVENTORY).expect("inventory");

        // Another type's image is refused, naming the file and offset.
        let err = ImageFile::from_bytes(Path::new("/i/core-1.img"), data.clone(), Kind::CORE)
            .expect_err("wrong magic");
        assert_eq!(err.offset(), Some(4));
        assert!(
            err.to_string()
                .starts_with("/i/core-1.img: bad magic at offset 4"),
            "{err}"
        );

        // A cut entry.
        let cut = data[..data.len() - 1].to_vec();
        let f = ImageFile::from_bytes(Path::new("p.img"), cut, Kind::PSTREE).expect("head ok");
        let err = f.entries().find_map(Result::err).expect("truncated");
        assert_eq!(err.offset(), Some(14), "{err}");
        assert!(
            err.to_string()
                .contains("entry 1: size 2 but only 1 bytes follow"),
            "{err}"
        );
        // A cut size.
        let mut cut = data.clone();
        cut.extend_from_slice(&[1, 0]);
        let f = ImageFile::from_bytes(Path::new("p.img"), cut, Kind::PSTREE).expect("head ok");
        let err = f.entries().find_map(Result::err).expect("truncated");
        assert!(
            err.to_string()
                .contains("entry 2: 2 bytes where a 4-byte size"),
            "{err}"
        );
        // Shorter than the head.
        let err = ImageFile::from_bytes(Path::new("p.img"), vec![0x19, 0x43], Kind::PSTREE)
            .expect_err("short");
        assert!(matches!(err, ImageError::Truncated { .. }), "{err}");
    }
}
