//! Address spaces: `mm-<pid>.img` (images/mm.proto, vma.proto).

use serde::Serialize;

use crate::error::WireError;
use crate::wire::Message;

/// `mm_entry` (mm.proto): one process's address space.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct MmEntry {
    /// `mm_start_code = 1`
    pub start_code: u64,
    /// `mm_end_code = 2`
    pub end_code: u64,
    /// `mm_start_data = 3`
    pub start_data: u64,
    /// `mm_end_data = 4`
    pub end_data: u64,
    /// `mm_start_stack = 5`
    pub start_stack: u64,
    /// `mm_start_brk = 6`
    pub start_brk: u64,
    /// `mm_brk = 7`
    pub brk: u64,
    /// `mm_arg_start = 8`: the argv strings start here in the process's memory.
    pub arg_start: u64,
    /// `mm_arg_end = 9`
    pub arg_end: u64,
    /// `mm_env_start = 10`: the environment strings of the exec.
    pub env_start: u64,
    /// `mm_env_end = 11`
    pub env_end: u64,
    /// `exe_file_id = 12`: the executable, a file id of files.img.
    pub exe_file_id: u32,
    /// `vmas = 14`
    pub vmas: Vec<Vma>,
    /// `dumpable = 15`
    pub dumpable: Option<i32>,
}

impl MmEntry {
    pub fn decode(m: Message<'_>) -> Result<MmEntry, WireError> {
        let mut e = MmEntry::default();
        let mut seen = [false; 12];
        for f in m.fields() {
            let f = f?;
            if (1..=12).contains(&f.number) {
                seen[f.number as usize - 1] = true;
            }
            match f.number {
                1 => e.start_code = f.u64()?,
                2 => e.end_code = f.u64()?,
                3 => e.start_data = f.u64()?,
                4 => e.end_data = f.u64()?,
                5 => e.start_stack = f.u64()?,
                6 => e.start_brk = f.u64()?,
                7 => e.brk = f.u64()?,
                8 => e.arg_start = f.u64()?,
                9 => e.arg_end = f.u64()?,
                10 => e.env_start = f.u64()?,
                11 => e.env_end = f.u64()?,
                12 => e.exe_file_id = f.u32()?,
                14 => e.vmas.push(Vma::decode(f.message()?)?),
                15 => e.dumpable = Some(f.i32()?),
                _ => {}
            }
        }
        // The ones this crate relies on.
        for (n, name) in [(8, "mm_arg_start"), (9, "mm_arg_end"), (12, "exe_file_id")] {
            if !seen[n as usize - 1] {
                return Err(m.missing("mm_entry", name, n));
            }
        }
        Ok(e)
    }
}

/// `vma_entry.prot` bits (mmap's PROT_*).
pub mod prot {
    pub const READ: u32 = 0x1;
    pub const WRITE: u32 = 0x2;
    pub const EXEC: u32 = 0x4;
}

/// `vma_entry.flags` bits (mmap's MAP_*).
pub mod map {
    pub const SHARED: u32 = 0x1;
    pub const PRIVATE: u32 = 0x2;
    pub const ANONYMOUS: u32 = 0x20;
    pub const GROWSDOWN: u32 = 0x100;
}

/// `vma_entry.status` bits (criu/include/image.h `VMA_*`).
pub mod status {
    pub const AREA_REGULAR: u32 = 1 << 0;
    pub const AREA_STACK: u32 = 1 << 1;
    pub const AREA_VSYSCALL: u32 = 1 << 2;
    pub const AREA_VDSO: u32 = 1 << 3;
    pub const AREA_HEAP: u32 = 1 << 5;
    pub const FILE_PRIVATE: u32 = 1 << 6;
    pub const FILE_SHARED: u32 = 1 << 7;
    pub const ANON_SHARED: u32 = 1 << 8;
    pub const ANON_PRIVATE: u32 = 1 << 9;
    pub const AREA_SYSVIPC: u32 = 1 << 10;
    pub const AREA_SOCKET: u32 = 1 << 11;
    pub const AREA_VVAR: u32 = 1 << 12;
    pub const AREA_AIORING: u32 = 1 << 13;
    pub const AREA_MEMFD: u32 = 1 << 14;
    pub const AREA_SHSTK: u32 = 1 << 15;
    pub const AREA_GUARD: u32 = 1 << 16;
    pub const AREA_UPROBES: u32 = 1 << 17;
    pub const UNSUPP: u32 = 1 << 31;
}

/// `vma_entry` (vma.proto): one mapping.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Vma {
    /// `start = 1`
    pub start: u64,
    /// `end = 2`
    pub end: u64,
    /// `pgoff = 3`: offset in the mapped file.
    pub pgoff: u64,
    /// `shmid = 4`: for a file mapping, the file id in files.img.
    pub shmid: u64,
    /// `prot = 5`: [`prot`] bits.
    pub prot: u32,
    /// `flags = 6`: [`map`] bits.
    pub flags: u32,
    /// `status = 7`: [`status`] bits.
    pub status: u32,
    /// `madv = 9`
    pub madv: Option<u64>,
}

impl Vma {
    pub fn decode(m: Message<'_>) -> Result<Vma, WireError> {
        let mut v = Vma::default();
        let (mut start, mut end) = (None, None);
        for f in m.fields() {
            let f = f?;
            match f.number {
                1 => start = Some(f.u64()?),
                2 => end = Some(f.u64()?),
                3 => v.pgoff = f.u64()?,
                4 => v.shmid = f.u64()?,
                5 => v.prot = f.u32()?,
                6 => v.flags = f.u32()?,
                7 => v.status = f.u32()?,
                9 => v.madv = Some(f.u64()?),
                _ => {}
            }
        }
        v.start = start.ok_or_else(|| m.missing("vma_entry", "start", 1))?;
        v.end = end.ok_or_else(|| m.missing("vma_entry", "end", 2))?;
        if v.end < v.start {
            return Err(WireError::new(
                m.offset(),
                format!("vma_entry: end 0x{:x} below start 0x{:x}", v.end, v.start),
            ));
        }
        Ok(v)
    }

    /// Size in bytes.
    pub fn len(&self) -> u64 {
        self.end.saturating_sub(self.start)
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// A kernel-provided mapping (vdso, vvar, vsyscall), not the process's memory.
    pub fn is_special(&self) -> bool {
        self.status & (status::AREA_VDSO | status::AREA_VVAR | status::AREA_VSYSCALL) != 0
    }

    /// Anonymous memory (private or shared): what only the image holds.
    pub fn is_anonymous(&self) -> bool {
        !self.is_special() && self.status & (status::ANON_PRIVATE | status::ANON_SHARED) != 0
    }

    /// A mapping of a file; [`Vma::shmid`] is then its file id.
    pub fn is_file(&self) -> bool {
        self.status & (status::FILE_PRIVATE | status::FILE_SHARED) != 0
    }

    /// `r-xp`, as /proc/PID/maps writes the protection and sharing.
    pub fn perms(&self) -> String {
        let b = |bit: u32, c: char| if self.prot & bit != 0 { c } else { '-' };
        let shared = if self.flags & map::SHARED != 0 {
            's'
        } else {
            'p'
        };
        [
            b(prot::READ, 'r'),
            b(prot::WRITE, 'w'),
            b(prot::EXEC, 'x'),
            shared,
        ]
        .iter()
        .collect()
    }

    /// What the mapping is: `heap`, `stack`, `vdso`, `vvar`, `vsyscall`,
    /// `file`, `file-shared`, `anon`, `anon-shared`, `sysvipc`, `socket`,
    /// `aio`, `memfd`.
    pub fn kind(&self) -> &'static str {
        let s = self.status;
        if s & status::AREA_VSYSCALL != 0 {
            "vsyscall"
        } else if s & status::AREA_VDSO != 0 {
            "vdso"
        } else if s & status::AREA_VVAR != 0 {
            "vvar"
        } else if s & status::AREA_HEAP != 0 {
            "heap"
        } else if s & status::AREA_STACK != 0 || self.flags & map::GROWSDOWN != 0 {
            "stack"
        } else if s & status::AREA_SYSVIPC != 0 {
            "sysvipc"
        } else if s & status::AREA_SOCKET != 0 {
            "socket"
        } else if s & status::AREA_AIORING != 0 {
            "aio"
        } else if s & status::AREA_MEMFD != 0 {
            "memfd"
        } else if s & status::FILE_SHARED != 0 {
            "file-shared"
        } else if s & status::FILE_PRIVATE != 0 {
            "file"
        } else if s & status::ANON_SHARED != 0 {
            "anon-shared"
        } else {
            "anon"
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::enc::Msg;

    pub(crate) fn vma(start: u64, end: u64, prot: u32, flags: u32, status: u32) -> Msg {
        Msg::new()
            .varint(1, start)
            .varint(2, end)
            .varint(3, 0)
            .varint(4, 0)
            .varint(5, u64::from(prot))
            .varint(6, u64::from(flags))
            .varint(7, u64::from(status))
            .sint(8, -1)
    }

    #[test]
    fn mm_with_vmas() {
        let heap = vma(
            0x1000,
            0x3000,
            3,
            map::PRIVATE | map::ANONYMOUS,
            status::AREA_REGULAR | status::AREA_HEAP | status::ANON_PRIVATE,
        );
        let vdso = vma(
            0x7000,
            0x8000,
            5,
            map::PRIVATE | map::ANONYMOUS,
            status::AREA_REGULAR | status::AREA_VDSO | status::ANON_PRIVATE,
        );
        let mut m = Msg::new();
        for n in 1..=11 {
            m = m.varint(n, n as u64 * 0x10);
        }
        let m = m.varint(12, 3).msg(14, &heap).msg(14, &vdso).varint(15, 1);
        let mm = MmEntry::decode(Message::new(&m.0, 0)).expect("decodes");
        assert_eq!((mm.arg_start, mm.arg_end, mm.exe_file_id), (0x80, 0x90, 3));
        assert_eq!(mm.vmas.len(), 2);
        assert_eq!(mm.vmas[0].kind(), "heap");
        assert_eq!(mm.vmas[0].perms(), "rw-p");
        assert!(mm.vmas[0].is_anonymous());
        assert_eq!(mm.vmas[0].len(), 0x2000);
        assert_eq!(mm.vmas[1].kind(), "vdso");
        assert!(!mm.vmas[1].is_anonymous());
    }

    #[test]
    fn inverted_vma_is_corrupt() {
        let m = vma(0x3000, 0x1000, 0, 0, 0);
        assert!(Vma::decode(Message::new(&m.0, 0)).is_err());
    }
}
