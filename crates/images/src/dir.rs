//! An image directory: which file holds what (criu/image-desc.c names),
//! and a reader for each.

use std::path::{Path, PathBuf};

use crate::error::{ImageError, Result};
use crate::files::{self, FdInfo, FileEntry, FileKind, InetSocket, RegFile, TcpStream, UnixSocket};
use crate::image::{ImageFile, Kind};
use crate::mm::MmEntry;
use crate::mnt::MntEntry;
use crate::pagemap::{MemoryImage, Pagemap};
use crate::stats::{DumpStats, RestoreStats, StatsEntry};
use crate::task::{CoreEntry, FsEntry, Inventory, PstreeEntry, TaskIds};

/// The symlink to the parent (pre-dump) images (criu/include/image.h
/// `CR_PARENT_LINK`).
pub const PARENT_LINK: &str = "parent";

/// How many parent images are followed for `PE_PARENT` pages.
const MAX_PARENTS: usize = 16;

/// The page size when the pages files do not tell (x86_64's).
pub const DEFAULT_PAGE_SIZE: u64 = 4096;

/// A CRIU image directory, read on demand. Nothing is executed and
/// nothing is written.
#[derive(Debug, Clone)]
pub struct ImageDir {
    path: PathBuf,
}

impl ImageDir {
    /// Opens `path`, which must hold an `inventory.img`.
    pub fn open(path: impl AsRef<Path>) -> Result<ImageDir> {
        let path = path.as_ref().to_path_buf();
        let meta = std::fs::metadata(&path).map_err(|e| ImageError::io(&path, e))?;
        if !meta.is_dir() {
            return Err(ImageError::NotImageDir(path));
        }
        if !path.join("inventory.img").exists() {
            return Err(ImageError::NotImageDir(path));
        }
        Ok(ImageDir { path })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The path of image `name` in the directory.
    pub fn file(&self, name: &str) -> PathBuf {
        self.path.join(name)
    }

    fn required(&self, name: &str, kind: Kind, what: &str) -> Result<ImageFile> {
        let path = self.file(name);
        match ImageFile::read_if_exists(&path, kind)? {
            Some(f) => Ok(f),
            None => Err(ImageError::Missing {
                path,
                what: what.to_string(),
            }),
        }
    }

    fn optional(&self, name: &str, kind: Kind) -> Result<Option<ImageFile>> {
        ImageFile::read_if_exists(&self.file(name), kind)
    }

    /// `inventory.img`.
    pub fn inventory(&self) -> Result<Inventory> {
        self.required("inventory.img", Kind::INVENTORY, "CRIU writes it first")?
            .decode_first(Inventory::decode)
    }

    /// `pstree.img`: every process, the root first.
    pub fn pstree(&self) -> Result<Vec<PstreeEntry>> {
        self.required("pstree.img", Kind::PSTREE, "the process tree of every dump")?
            .decode_all(PstreeEntry::decode)
    }

    /// `core-<tid>.img`.
    pub fn core(&self, tid: u32) -> Result<CoreEntry> {
        self.required(
            &format!("core-{tid}.img"),
            Kind::CORE,
            &format!("thread {tid} is in pstree.img"),
        )?
        .decode_first(CoreEntry::decode)
    }

    /// The ids of process `pid`: from its core (older CRIUs) or `ids-<pid>.img`.
    pub fn ids(&self, pid: u32, core: &CoreEntry) -> Result<Option<TaskIds>> {
        if let Some(ids) = &core.ids {
            return Ok(Some(ids.clone()));
        }
        self.optional(&format!("ids-{pid}.img"), Kind::IDS)?
            .map(|f| f.decode_first(TaskIds::decode))
            .transpose()
    }

    /// `fs-<pid>.img`: cwd and root.
    pub fn fs(&self, pid: u32) -> Result<Option<FsEntry>> {
        self.optional(&format!("fs-{pid}.img"), Kind::FS)?
            .map(|f| f.decode_first(FsEntry::decode))
            .transpose()
    }

    /// `mm-<pid>.img` (none for zombies).
    pub fn mm(&self, pid: u32) -> Result<Option<MmEntry>> {
        self.optional(&format!("mm-{pid}.img"), Kind::MM)?
            .map(|f| f.decode_first(MmEntry::decode))
            .transpose()
    }

    /// `pagemap-<pid>.img`.
    pub fn pagemap(&self, pid: u32) -> Result<Option<Pagemap>> {
        self.optional(&format!("pagemap-{pid}.img"), Kind::PAGEMAP)?
            .map(|f| Pagemap::from_image(&f))
            .transpose()
    }

    /// The size of `pages-<pages_id>.img`, if it exists.
    fn pages_len(&self, pages_id: u32) -> Result<Option<u64>> {
        let p = self.file(&format!("pages-{pages_id}.img"));
        match std::fs::metadata(&p) {
            Ok(m) => Ok(Some(m.len())),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(ImageError::io(p, e)),
        }
    }

    /// The page size of a pagemap's pages: the pages file holds exactly
    /// its present pages, so its size tells (4 KiB on x86_64, up to 64 KiB
    /// on aarch64 and ppc64). [`DEFAULT_PAGE_SIZE`] when it cannot tell.
    pub fn page_size(&self, pagemap: &Pagemap) -> Result<u64> {
        let present = pagemap.present_pages();
        let Some(len) = self.pages_len(pagemap.pages_id)? else {
            return Ok(DEFAULT_PAGE_SIZE);
        };
        if present == 0 || len % present != 0 {
            return Ok(DEFAULT_PAGE_SIZE);
        }
        let size = len / present;
        Ok(
            if size.is_power_of_two() && (4096..=1 << 16).contains(&size) {
                size
            } else {
                DEFAULT_PAGE_SIZE
            },
        )
    }

    /// The dumped memory of process `pid`, following the `parent` link for
    /// pages a pre-dump holds. `None` when there is no pagemap (zombies).
    pub fn memory(&self, pid: u32) -> Result<Option<MemoryImage>> {
        self.memory_at(pid, 0)
    }

    fn memory_at(&self, pid: u32, depth: usize) -> Result<Option<MemoryImage>> {
        let Some(pm) = self.pagemap(pid)? else {
            return Ok(None);
        };
        let parent = if pm.parent_pages() > 0 && depth < MAX_PARENTS {
            match ImageDir::open(self.file(PARENT_LINK)) {
                Ok(p) => p.memory_at(pid, depth + 1)?,
                Err(_) => None,
            }
        } else {
            None
        };
        let page_size = self.page_size(&pm)?;
        MemoryImage::new(
            &pm,
            &self.file(&format!("pagemap-{pid}.img")),
            self.file(&format!("pages-{}.img", pm.pages_id)),
            page_size,
            parent,
        )
        .map(Some)
    }

    /// The open descriptors of a files table: `fdinfo-<files_id>.img`
    /// (`fdinfo-<pid>.img` when the inventory lacks `fdinfo_per_id`).
    pub fn fdinfo(&self, id: u32) -> Result<Option<Vec<FdInfo>>> {
        self.optional(&format!("fdinfo-{id}.img"), Kind::FDINFO)?
            .map(|f| f.decode_all(FdInfo::decode))
            .transpose()
    }

    /// Every file description: `files.img`, or for images of CRIU before
    /// it, `reg-files.img`, `inetsk.img`, `unixsk.img` and `pipes.img`.
    pub fn files(&self) -> Result<Vec<FileEntry>> {
        if let Some(f) = self.optional("files.img", Kind::FILES)? {
            return f.decode_all(FileEntry::decode);
        }
        let mut out = Vec::new();
        if let Some(f) = self.optional("reg-files.img", Kind::REG_FILES)? {
            out.extend(f.decode_all(|m| {
                let id = files::entry_id(m)?;
                Ok(FileEntry::legacy(1, FileKind::Reg(RegFile::decode(m)?), id))
            })?);
        }
        if let Some(f) = self.optional("inetsk.img", Kind::INETSK)? {
            out.extend(f.decode_all(|m| {
                let s = InetSocket::decode(m)?;
                let id = s.id;
                Ok(FileEntry::legacy(4, FileKind::Inet(s), id))
            })?);
        }
        if let Some(f) = self.optional("unixsk.img", Kind::UNIXSK)? {
            out.extend(f.decode_all(|m| {
                let s = UnixSocket::decode(m)?;
                let id = s.id;
                Ok(FileEntry::legacy(5, FileKind::Unix(s), id))
            })?);
        }
        if let Some(f) = self.optional("pipes.img", Kind::PIPES)? {
            out.extend(f.decode_all(|m| {
                let id = files::entry_id(m)?;
                Ok(FileEntry::legacy(2, files::pipe_kind(m)?, id))
            })?);
        }
        Ok(out)
    }

    /// `mountpoints-<mnt_ns_id>.img`.
    pub fn mounts(&self, mnt_ns_id: u32) -> Result<Option<Vec<MntEntry>>> {
        self.optional(&format!("mountpoints-{mnt_ns_id}.img"), Kind::MNTS)?
            .map(|f| f.decode_all(MntEntry::decode))
            .transpose()
    }

    /// The ids of the mount namespaces that have a `mountpoints-*.img`.
    pub fn mount_namespaces(&self) -> Result<Vec<u32>> {
        let rd = std::fs::read_dir(&self.path).map_err(|e| ImageError::io(&self.path, e))?;
        let mut ids = Vec::new();
        for ent in rd {
            let ent = ent.map_err(|e| ImageError::io(&self.path, e))?;
            let name = ent.file_name();
            let Some(name) = name.to_str() else { continue };
            if let Some(id) = name
                .strip_prefix("mountpoints-")
                .and_then(|s| s.strip_suffix(".img"))
                .and_then(|s| s.parse().ok())
            {
                ids.push(id);
            }
        }
        ids.sort_unstable();
        Ok(ids)
    }

    /// `tcp-stream-<ino in hex>.img` of an established connection (only
    /// with `--tcp-established`).
    pub fn tcp_stream(&self, ino: u32) -> Result<Option<TcpStream>> {
        self.optional(&format!("tcp-stream-{ino:x}.img"), Kind::TCP_STREAM)?
            .map(|f| f.decode_first(TcpStream::decode))
            .transpose()
    }

    /// `stats-dump`. It is written to the work directory, which is the
    /// image directory unless `--work-path` said otherwise.
    pub fn dump_stats(&self) -> Result<Option<DumpStats>> {
        Ok(self
            .optional("stats-dump", Kind::STATS)?
            .map(|f| f.decode_first(StatsEntry::decode))
            .transpose()?
            .and_then(|s| s.dump))
    }

    /// `stats-restore`, present once the image was restored.
    pub fn restore_stats(&self) -> Result<Option<RestoreStats>> {
        Ok(self
            .optional("stats-restore", Kind::STATS)?
            .map(|f| f.decode_first(StatsEntry::decode))
            .transpose()?
            .and_then(|s| s.restore))
    }
}
