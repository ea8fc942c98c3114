//! Dumped memory: `pagemap-<pid>.img` (images/pagemap.proto) says which
//! pages of the address space were written, `pages-<pages_id>.img` holds
//! them back to back in pagemap order.
//!
//! A pagemap is a `pagemap_head` followed by `pagemap_entry`s. Only entries
//! flagged `PE_PRESENT` have their pages in the pages file (criu/pagemap.c
//! advances the file offset for those only); `PE_PARENT` pages are in the
//! parent (pre-dump) image, `PE_LAZY` alone ones were left on a page server.

use std::fs::File;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::error::{ImageError, Result, WireError};
use crate::image::ImageFile;
use crate::wire::Message;

/// Pagemap entry flags (criu/include/pagemap.h).
pub const PE_PARENT: u32 = 1 << 0;
pub const PE_LAZY: u32 = 1 << 1;
pub const PE_PRESENT: u32 = 1 << 2;

/// A decoded `pagemap-<pid>.img`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Pagemap {
    /// `pagemap_head.pages_id = 1`: names `pages-<pages_id>.img`.
    pub pages_id: u32,
    pub entries: Vec<PagemapEntry>,
}

/// `pagemap_entry` (pagemap.proto).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct PagemapEntry {
    /// `vaddr = 1`
    pub vaddr: u64,
    /// `nr_pages = 5`, or `compat_nr_pages = 2` in older images.
    pub nr_pages: u64,
    /// `flags = 4`: `PE_*`; older images without it are `PE_PRESENT`, or
    /// `PE_PARENT` when `in_parent = 3` is set (init_compat_pagemap_entry).
    pub flags: u32,
}

impl PagemapEntry {
    pub fn decode(m: Message<'_>) -> Result<PagemapEntry, WireError> {
        let (mut vaddr, mut compat, mut nr, mut flags, mut in_parent) =
            (None, None, None, None, false);
        for f in m.fields() {
            let f = f?;
            match f.number {
                1 => vaddr = Some(f.u64()?),
                2 => compat = Some(f.u32()?),
                3 => in_parent = f.bool()?,
                4 => flags = Some(f.u32()?),
                5 => nr = Some(f.u64()?),
                _ => {}
            }
        }
        let vaddr = vaddr.ok_or_else(|| m.missing("pagemap_entry", "vaddr", 1))?;
        let compat = compat.ok_or_else(|| m.missing("pagemap_entry", "compat_nr_pages", 2))?;
        let flags = if in_parent {
            flags.unwrap_or(0) | PE_PARENT
        } else {
            flags.unwrap_or(PE_PRESENT)
        };
        Ok(PagemapEntry {
            vaddr,
            nr_pages: nr.unwrap_or(u64::from(compat)),
            flags,
        })
    }

    pub fn present(&self) -> bool {
        self.flags & PE_PRESENT != 0
    }
}

impl Pagemap {
    /// Decodes a pagemap image: its head, then its entries.
    pub fn from_image(img: &ImageFile) -> Result<Pagemap> {
        let mut entries = img.entries();
        let mut pm = Pagemap::default();
        let head = match entries.next() {
            Some(m) => m?,
            None => {
                return Err(ImageError::Truncated {
                    path: img.path().to_path_buf(),
                    offset: 8,
                    detail: "no pagemap_head".into(),
                })
            }
        };
        let mut id = None;
        for f in head.fields() {
            let f = f.map_err(|e| e.in_file(img.path()))?;
            if f.number == 1 {
                id = Some(f.u32().map_err(|e| e.in_file(img.path()))?);
            }
        }
        pm.pages_id = id.ok_or_else(|| {
            head.missing("pagemap_head", "pages_id", 1)
                .in_file(img.path())
        })?;
        for m in entries {
            pm.entries
                .push(PagemapEntry::decode(m?).map_err(|e| e.in_file(img.path()))?);
        }
        Ok(pm)
    }

    /// Pages written to the pages file.
    pub fn present_pages(&self) -> u64 {
        self.pages_with(PE_PRESENT)
    }

    /// Pages left in the parent image (pre-dump).
    pub fn parent_pages(&self) -> u64 {
        self.pages_with(PE_PARENT)
    }

    /// Pages that can be served lazily (present or not).
    pub fn lazy_pages(&self) -> u64 {
        self.pages_with(PE_LAZY)
    }

    /// Pages left on a page server (`PE_LAZY` without `PE_PRESENT`): the
    /// image does not have them.
    pub fn remote_pages(&self) -> u64 {
        self.entries
            .iter()
            .filter(|e| e.flags & PE_LAZY != 0 && !e.present())
            .fold(0u64, |n, e| n.saturating_add(e.nr_pages))
    }

    fn pages_with(&self, flag: u32) -> u64 {
        self.entries
            .iter()
            .filter(|e| e.flags & flag != 0)
            .fold(0u64, |n, e| n.saturating_add(e.nr_pages))
    }
}

/// Pages are read from the pages file in pieces of at most this size.
const READ_CHUNK: u64 = 1 << 20;

#[derive(Debug, Clone, Copy)]
struct Run {
    start: u64,
    end: u64,
    flags: u32,
    /// Offset of `start`'s page in the pages file (present runs).
    file_off: u64,
}

/// Reads a process's dumped memory by virtual address.
#[derive(Debug)]
pub struct MemoryImage {
    pages_path: PathBuf,
    pages: Option<File>,
    runs: Vec<Run>,
    page_size: u64,
    parent: Option<Box<MemoryImage>>,
}

impl MemoryImage {
    /// Memory of `pagemap` (read from `pagemap_path`) with its pages in
    /// `pages_path` (which may be missing when nothing is present), pages of
    /// `page_size` bytes, and `parent` for `PE_PARENT` pages.
    pub fn new(
        pagemap: &Pagemap,
        pagemap_path: &Path,
        pages_path: PathBuf,
        page_size: u64,
        parent: Option<MemoryImage>,
    ) -> Result<MemoryImage> {
        let mut runs = Vec::with_capacity(pagemap.entries.len());
        let mut off = 0u64;
        let overflow = |e: &PagemapEntry| ImageError::Corrupt {
            path: pagemap_path.to_path_buf(),
            offset: 0,
            detail: format!(
                "pagemap entry at 0x{:x} with {} pages runs past the end of the address space",
                e.vaddr, e.nr_pages
            ),
        };
        for e in &pagemap.entries {
            let len = e
                .nr_pages
                .checked_mul(page_size)
                .ok_or_else(|| overflow(e))?;
            let end = e.vaddr.checked_add(len).ok_or_else(|| overflow(e))?;
            runs.push(Run {
                start: e.vaddr,
                end,
                flags: e.flags,
                file_off: off,
            });
            if e.present() {
                off = off.checked_add(len).ok_or_else(|| overflow(e))?;
            }
        }
        runs.sort_by_key(|r| r.start);
        let pages = match File::open(&pages_path) {
            Ok(f) => Some(f),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && off == 0 => None,
            Err(e) => return Err(ImageError::io(pages_path, e)),
        };
        Ok(MemoryImage {
            pages_path,
            pages,
            runs,
            page_size,
            parent: parent.map(Box::new),
        })
    }

    pub fn page_size(&self) -> u64 {
        self.page_size
    }

    /// The `len` bytes at `addr`, or `Ok(None)` when some of them are not
    /// in the image (never dumped, or left on a page server).
    pub fn read(&self, addr: u64, len: u64) -> Result<Option<Vec<u8>>> {
        let Some(end) = addr.checked_add(len) else {
            return Ok(None);
        };
        let mut out = Vec::new();
        let mut cur = addr;
        while cur < end {
            let i = self.runs.partition_point(|r| r.end <= cur);
            let Some(run) = self.runs.get(i).filter(|r| r.start <= cur) else {
                return Ok(None);
            };
            let n = end.min(run.end) - cur;
            if run.flags & PE_PRESENT != 0 {
                let Some(file) = &self.pages else {
                    return Ok(None);
                };
                // In chunks, so what is allocated follows what the file has.
                let mut done = 0u64;
                while done < n {
                    let chunk = (n - done).min(READ_CHUNK);
                    let off = run.file_off + (cur - run.start) + done;
                    let old = out.len();
                    out.resize(old + chunk as usize, 0);
                    file.read_exact_at(&mut out[old..], off).map_err(|e| {
                        if e.kind() == std::io::ErrorKind::UnexpectedEof {
                            ImageError::Truncated {
                                path: self.pages_path.clone(),
                                offset: off,
                                detail: format!(
                                    "the memory at 0x{:x} is past the end of the file",
                                    cur + done
                                ),
                            }
                        } else {
                            ImageError::io(&self.pages_path, e)
                        }
                    })?;
                    done += chunk;
                }
            } else if run.flags & PE_PARENT != 0 {
                match self.parent.as_ref().map(|p| p.read(cur, n)).transpose()? {
                    Some(Some(b)) => out.extend_from_slice(&b),
                    _ => return Ok(None),
                }
            } else {
                return Ok(None);
            }
            cur += n;
        }
        Ok(Some(out))
    }
}

/// Splits NUL-separated strings (argv, environ) as /proc/PID/cmdline does:
/// a trailing NUL ends the last string, empty strings in between are kept.
pub fn split_nul(bytes: &[u8]) -> Vec<String> {
    let bytes = bytes.strip_suffix(&[0]).unwrap_or(bytes);
    if bytes.is_empty() {
        return Vec::new();
    }
    bytes
        .split(|b| *b == 0)
        .map(|s| String::from_utf8_lossy(s).into_owned())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::image::{Kind, IMG_COMMON_MAGIC};
    use crate::wire::enc::{image, Msg};

    fn entry(vaddr: u64, nr: u64, flags: u32) -> Msg {
        Msg::new()
            .varint(1, vaddr)
            .varint(2, 0)
            .varint(4, u64::from(flags))
            .varint(5, nr)
    }

    #[test]
    fn reads_memory_across_present_runs() {
        let dir = tempfile::tempdir().expect("tempdir");
        let head = Msg::new().varint(1, 7);
        let e1 = entry(0x10000, 1, PE_PRESENT);
        let e2 = entry(0x20000, 1, PE_LAZY); // not in the file
        let e3 = entry(0x30000, 2, PE_PRESENT | PE_LAZY);
        let data = image(
            &[IMG_COMMON_MAGIC, Kind::PAGEMAP.magic],
            &[&head, &e1, &e2, &e3],
        );
        let pm_path = dir.path().join("pagemap-1.img");
        let img = ImageFile::from_bytes(&pm_path, data, Kind::PAGEMAP).expect("head");
        let pm = Pagemap::from_image(&img).expect("pagemap");
        assert_eq!(pm.pages_id, 7);
        assert_eq!((pm.present_pages(), pm.lazy_pages()), (3, 3));
        assert_eq!(pm.remote_pages(), 1);

        let ps = 4096u64;
        let mut pages = vec![b'a'; ps as usize];
        pages.extend(vec![b'b'; ps as usize]);
        pages.extend(vec![b'c'; ps as usize]);
        // argv at the end of the first page of the third run, into the next.
        let at = (ps - 3) as usize;
        pages[ps as usize + at..ps as usize + at + 8].copy_from_slice(b"sh\0-c\0x\0");
        let pages_path = dir.path().join("pages-7.img");
        std::fs::write(&pages_path, &pages).expect("write pages");
        let mem = MemoryImage::new(&pm, &pm_path, pages_path.clone(), ps, None).expect("memory");

        assert_eq!(mem.read(0x10000, 2).expect("read"), Some(b"aa".to_vec()));
        let argv = mem
            .read(0x30000 + at as u64, 8)
            .expect("read")
            .expect("present");
        assert_eq!(split_nul(&argv), ["sh", "-c", "x"]);
        // Lazy-only and unmapped pages are not in the image.
        assert_eq!(mem.read(0x20000, 1).expect("read"), None);
        assert_eq!(mem.read(0x5000, 1).expect("read"), None);
        assert_eq!(
            mem.read(0x10ffe, 4).expect("read"),
            None,
            "runs into a hole"
        );

        // A pages file cut short is an error naming it and the offset.
        std::fs::write(&pages_path, &pages[..ps as usize + 10]).expect("truncate");
        let err = mem.read(0x30000, 16).expect_err("truncated");
        assert_eq!(err.path(), pages_path);
        assert_eq!(err.offset(), Some(ps));
    }

    #[test]
    fn compat_entries_and_parent_pages() {
        // No flags: present; in_parent: parent.
        let m = Msg::new().varint(1, 0x1000).varint(2, 3);
        let e = PagemapEntry::decode(Message::new(&m.0, 0)).expect("decodes");
        assert_eq!((e.nr_pages, e.flags), (3, PE_PRESENT));
        let m = Msg::new().varint(1, 0x1000).varint(2, 3).varint(3, 1);
        let e = PagemapEntry::decode(Message::new(&m.0, 0)).expect("decodes");
        assert_eq!(e.flags, PE_PARENT);

        let dir = tempfile::tempdir().expect("tempdir");
        let parent_pm = Pagemap {
            pages_id: 1,
            entries: vec![PagemapEntry {
                vaddr: 0x1000,
                nr_pages: 1,
                flags: PE_PRESENT,
            }],
        };
        std::fs::write(dir.path().join("p.img"), vec![b'p'; 4096]).expect("write");
        let parent = MemoryImage::new(
            &parent_pm,
            Path::new("parent/pagemap-1.img"),
            dir.path().join("p.img"),
            4096,
            None,
        )
        .expect("parent");
        let child_pm = Pagemap {
            pages_id: 2,
            entries: vec![PagemapEntry {
                vaddr: 0x1000,
                nr_pages: 1,
                flags: PE_PARENT,
            }],
        };
        let child = MemoryImage::new(
            &child_pm,
            Path::new("pagemap-1.img"),
            dir.path().join("none.img"),
            4096,
            Some(parent),
        )
        .expect("child without a pages file");
        assert_eq!(child.read(0x1ffe, 2).expect("read"), Some(b"pp".to_vec()));
    }

    #[test]
    fn overflowing_entry_is_corrupt_not_a_panic() {
        let pm = Pagemap {
            pages_id: 1,
            entries: vec![PagemapEntry {
                vaddr: u64::MAX - 10,
                nr_pages: u64::MAX / 2,
                flags: PE_PRESENT,
            }],
        };
        let err = MemoryImage::new(&pm, Path::new("pm.img"), "x".into(), 4096, None)
            .expect_err("overflow");
        assert!(
            err.to_string()
                .contains("past the end of the address space"),
            "{err}"
        );
    }

    #[test]
    fn split_nul_like_proc_cmdline() {
        assert_eq!(split_nul(b"a\0\0b\0"), ["a", "", "b"]);
        assert_eq!(split_nul(b"a"), ["a"]);
        assert!(split_nul(b"").is_empty());
        assert!(split_nul(b"\0").is_empty());
    }
}
