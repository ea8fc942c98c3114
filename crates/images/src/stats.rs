//! CRIU's statistics: `stats-dump` and `stats-restore` (images/stats.proto),
//! service files written to the work directory.

use serde::Serialize;

use crate::error::WireError;
use crate::wire::Message;

/// `dump_stats_entry` (stats.proto). Times are in microseconds
/// (criu/stats.c), pages in pages.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct DumpStats {
    /// `freezing_time = 1`: freezing the tasks.
    pub freezing_time: u32,
    /// `frozen_time = 2`: how long the tasks stayed frozen.
    pub frozen_time: u32,
    /// `memdump_time = 3`: collecting memory.
    pub memdump_time: u32,
    /// `memwrite_time = 4`: writing it.
    pub memwrite_time: u32,
    /// `pages_scanned = 5`
    pub pages_scanned: u64,
    /// `pages_skipped_parent = 6`: unchanged since the parent (pre-dump).
    pub pages_skipped_parent: u64,
    /// `pages_written = 7`
    pub pages_written: u64,
    /// `irmap_resolve = 8`
    pub irmap_resolve: Option<u32>,
    /// `pages_lazy = 9`
    pub pages_lazy: u64,
    /// `page_pipes = 10`
    pub page_pipes: Option<u64>,
    /// `page_pipe_bufs = 11`
    pub page_pipe_bufs: Option<u64>,
    /// `shpages_scanned = 12`
    pub shpages_scanned: Option<u64>,
    /// `shpages_skipped_parent = 13`
    pub shpages_skipped_parent: Option<u64>,
    /// `shpages_written = 14`
    pub shpages_written: Option<u64>,
}

impl DumpStats {
    pub fn decode(m: Message<'_>) -> Result<DumpStats, WireError> {
        let mut s = DumpStats::default();
        let mut seen = [false; 9];
        for f in m.fields() {
            let f = f?;
            if (1..=9).contains(&f.number) {
                seen[f.number as usize - 1] = true;
            }
            match f.number {
                1 => s.freezing_time = f.u32()?,
                2 => s.frozen_time = f.u32()?,
                3 => s.memdump_time = f.u32()?,
                4 => s.memwrite_time = f.u32()?,
                5 => s.pages_scanned = f.u64()?,
                6 => s.pages_skipped_parent = f.u64()?,
                7 => s.pages_written = f.u64()?,
                8 => s.irmap_resolve = Some(f.u32()?),
                9 => s.pages_lazy = f.u64()?,
                10 => s.page_pipes = Some(f.u64()?),
                11 => s.page_pipe_bufs = Some(f.u64()?),
                12 => s.shpages_scanned = Some(f.u64()?),
                13 => s.shpages_skipped_parent = Some(f.u64()?),
                14 => s.shpages_written = Some(f.u64()?),
                _ => {}
            }
        }
        for (n, name) in [
            (2, "frozen_time"),
            (5, "pages_scanned"),
            (7, "pages_written"),
        ] {
            if !seen[n as usize - 1] {
                return Err(m.missing("dump_stats_entry", name, n));
            }
        }
        Ok(s)
    }
}

/// `restore_stats_entry` (stats.proto).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct RestoreStats {
    /// `pages_compared = 1`
    pub pages_compared: u64,
    /// `pages_skipped_cow = 2`
    pub pages_skipped_cow: u64,
    /// `forking_time = 3` (µs)
    pub forking_time: u32,
    /// `restore_time = 4` (µs)
    pub restore_time: u32,
    /// `pages_restored = 5`
    pub pages_restored: Option<u64>,
}

impl RestoreStats {
    pub fn decode(m: Message<'_>) -> Result<RestoreStats, WireError> {
        let mut s = RestoreStats::default();
        for f in m.fields() {
            let f = f?;
            match f.number {
                1 => s.pages_compared = f.u64()?,
                2 => s.pages_skipped_cow = f.u64()?,
                3 => s.forking_time = f.u32()?,
                4 => s.restore_time = f.u32()?,
                5 => s.pages_restored = Some(f.u64()?),
                _ => {}
            }
        }
        Ok(s)
    }
}

/// `stats_entry` (stats.proto): `dump = 1`, `restore = 2`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct StatsEntry {
    pub dump: Option<DumpStats>,
    pub restore: Option<RestoreStats>,
}

impl StatsEntry {
    pub fn decode(m: Message<'_>) -> Result<StatsEntry, WireError> {
        let mut s = StatsEntry::default();
        for f in m.fields() {
            let f = f?;
            match f.number {
                1 => s.dump = Some(DumpStats::decode(f.message()?)?),
                2 => s.restore = Some(RestoreStats::decode(f.message()?)?),
                _ => {}
            }
        }
        Ok(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::image::{ImageFile, Kind, IMG_SERVICE_MAGIC};
    use crate::wire::enc::{image, Msg};

    #[test]
    fn stats_dump_as_criu_writes_it() {
        // The bytes of a real stats-dump (CRIU 4.2.1, x86_64).
        let bytes: &[u8] = &[
            0x40, 0x59, 0x10, 0x55, 0x06, 0x33, 0x09, 0x57, 0x24, 0x00, 0x00, 0x00, 0x0a, 0x22,
            0x08, 0xb5, 0x08, 0x10, 0xf2, 0xaf, 0x0a, 0x18, 0xcd, 0x1b, 0x20, 0x92, 0x05, 0x28,
            0xa5, 0x01, 0x30, 0x00, 0x38, 0x74, 0x40, 0x00, 0x48, 0x00, 0x50, 0x1c, 0x58, 0x1c,
            0x60, 0x00, 0x68, 0x00, 0x70, 0x00,
        ];
        let img = ImageFile::from_bytes("stats-dump".as_ref(), bytes.to_vec(), Kind::STATS)
            .expect("service magic");
        let s = img.decode_first(StatsEntry::decode).expect("decodes");
        let d = s.dump.expect("dump stats");
        assert_eq!((d.freezing_time, d.frozen_time), (1077, 169970));
        assert_eq!((d.memdump_time, d.memwrite_time), (3533, 658));
        assert_eq!((d.pages_scanned, d.pages_written), (165, 116));
        assert_eq!(d.page_pipes, Some(28));

        // Without pages_written it is corrupt, and the error says where.
        let dump = Msg::new().varint(2, 10).varint(5, 1);
        let data = image(
            &[IMG_SERVICE_MAGIC, Kind::STATS.magic],
            &[&Msg::new().msg(1, &dump)],
        );
        let img = ImageFile::from_bytes("stats-dump".as_ref(), data, Kind::STATS).expect("head");
        let err = img.decode_first(StatsEntry::decode).expect_err("missing");
        assert_eq!(err.offset(), Some(14), "{err}");
        assert!(err.to_string().contains("pages_written (7)"), "{err}");
    }
}
