//! What the migration needs to know of CRIU's image files: which to send,
//! and how much memory a lazy dump left to its page server (from the
//! pagemap images: entries flagged `PE_LAZY`).

use std::path::{Path, PathBuf};

use crate::error::{Ctx, Result};

const IMG_COMMON_MAGIC: u32 = 0x5456_4319;
const PAGEMAP_MAGIC: u32 = 0x5608_4025;
/// pagemap.proto's flag of pages a lazy restore fetches on demand.
const PE_LAZY: u64 = 1 << 1;

/// The image directory's files to send, sorted by name: regular files,
/// without CRIU's logs (they stay with the side that wrote them).
pub fn files_to_send(dir: &Path) -> Result<Vec<(String, PathBuf, u64)>> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).ctx(|| format!("read {}", dir.display()))? {
        let e = e.ctx(|| format!("read {}", dir.display()))?;
        let Ok(name) = e.file_name().into_string() else {
            continue;
        };
        let meta = e
            .metadata()
            .ctx(|| format!("stat {}", e.path().display()))?;
        if !meta.is_file() || name.ends_with(".log") || name.ends_with(".tmp") {
            continue;
        }
        out.push((name, e.path(), meta.len()));
    }
    out.sort();
    Ok(out)
}

/// Bytes of memory the page server holds for a lazy restore: the lazy
/// pages of every `pagemap-*.img` in `dir`.
pub fn lazy_bytes(dir: &Path) -> u64 {
    let page = nix::unistd::sysconf(nix::unistd::SysconfVar::PAGE_SIZE)
        .ok()
        .flatten()
        .and_then(|p| u64::try_from(p).ok())
        .unwrap_or(4096);
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    entries
        .flatten()
        .filter(|e| {
            let n = e.file_name();
            let n = n.to_string_lossy();
            n.starts_with("pagemap-") && n.ends_with(".img")
        })
        .filter_map(|e| std::fs::read(e.path()).ok())
        .map(|b| lazy_pages(&b) * page)
        .sum()
}

/// Lazy pages in one pagemap image (0 for anything unreadable).
pub fn lazy_pages(img: &[u8]) -> u64 {
    let word = |at: usize| -> Option<u32> {
        let b = img.get(at..at + 4)?;
        Some(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    };
    if word(0) != Some(IMG_COMMON_MAGIC) || word(4) != Some(PAGEMAP_MAGIC) {
        return 0;
    }
    let mut at = 8;
    let mut first = true;
    let mut pages = 0u64;
    while let Some(len) = word(at) {
        let start = at + 4;
        let Some(body) = img.get(start..start + len as usize) else {
            break;
        };
        at = start + len as usize;
        if std::mem::take(&mut first) {
            continue; // pagemap_head
        }
        let (mut compat, mut nr, mut flags) = (0u64, None, 0u64);
        for (field, value) in varint_fields(body) {
            match field {
                2 => compat = value,
                4 => flags = value,
                5 => nr = Some(value),
                _ => {}
            }
        }
        if flags & PE_LAZY != 0 {
            pages += nr.unwrap_or(compat);
        }
    }
    pages
}

/// The varint fields of a protobuf message (others are skipped).
fn varint_fields(mut b: &[u8]) -> Vec<(u64, u64)> {
    let mut out = Vec::new();
    while let Some((key, rest)) = varint(b) {
        b = rest;
        let (field, wire) = (key >> 3, key & 7);
        match wire {
            0 => match varint(b) {
                Some((v, rest)) => {
                    out.push((field, v));
                    b = rest;
                }
                None => break,
            },
            1 => b = b.get(8..).unwrap_or(&[]),
            5 => b = b.get(4..).unwrap_or(&[]),
            2 => match varint(b) {
                Some((len, rest)) => b = rest.get(len as usize..).unwrap_or(&[]),
                None => break,
            },
            _ => break,
        }
    }
    out
}

fn varint(b: &[u8]) -> Option<(u64, &[u8])> {
    let mut v = 0u64;
    for (i, byte) in b.iter().enumerate().take(10) {
        v |= u64::from(byte & 0x7f) << (7 * i);
        if byte & 0x80 == 0 {
            return Some((v, &b[i + 1..]));
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn enc_varint(mut v: u64, out: &mut Vec<u8>) {
        loop {
            let b = (v & 0x7f) as u8;
            v >>= 7;
            if v == 0 {
                out.push(b);
                return;
            }
            out.push(b | 0x80);
        }
    }

    fn entry(fields: &[(u64, u64)]) -> Vec<u8> {
        let mut e = Vec::new();
        for (f, v) in fields {
            enc_varint(f << 3, &mut e);
            enc_varint(*v, &mut e);
        }
        e
    }

    #[test]
    fn counts_lazy_pagemap_entries() {
        let mut img = Vec::new();
        img.extend_from_slice(&IMG_COMMON_MAGIC.to_le_bytes());
        img.extend_from_slice(&PAGEMAP_MAGIC.to_le_bytes());
        for e in [
            entry(&[(1, 1)]),                                    // head
            entry(&[(1, 0x40_0000), (2, 3), (4, 6)]),            // lazy|present: 3
            entry(&[(1, 0x50_0000), (2, 5), (4, 4)]),            // present only
            entry(&[(1, 0x60_0000), (2, 0), (4, 2), (5, 1000)]), // lazy, nr_pages
        ] {
            img.extend_from_slice(&(e.len() as u32).to_le_bytes());
            img.extend_from_slice(&e);
        }
        assert_eq!(lazy_pages(&img), 1003);
        assert_eq!(lazy_pages(&img[..7]), 0);
        assert_eq!(lazy_pages(b"garbage!garbage!"), 0);
    }
}
