//! Open files: `fdinfo-<files_id>.img` maps fd numbers to file ids,
//! `files.img` describes each file (images/fdinfo.proto, regfile.proto,
//! sk-inet.proto, sk-unix.proto, pipe.proto, fifo.proto, tty.proto,
//! ns.proto, memfd.proto, pidfd.proto), `tcp-stream-<ino>.img` the queues
//! of a TCP connection (tcp-stream.proto).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use serde::Serialize;

use crate::error::WireError;
use crate::wire::Message;

/// The name of an `fd_types` value (fdinfo.proto).
pub fn fd_type_name(t: u32) -> &'static str {
    match t {
        1 => "reg",
        2 => "pipe",
        3 => "fifo",
        4 => "inetsk",
        5 => "unixsk",
        6 => "eventfd",
        7 => "eventpoll",
        8 => "inotify",
        9 => "signalfd",
        10 => "packetsk",
        11 => "tty",
        12 => "fanotify",
        13 => "netlinksk",
        14 => "ns",
        15 => "tunf",
        16 => "ext",
        17 => "timerfd",
        18 => "memfd",
        19 => "bpfmap",
        20 => "pidfd",
        _ => "unknown",
    }
}

/// `fdinfo_entry` (fdinfo.proto): one open descriptor.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct FdInfo {
    /// `id = 1`: the file's id in files.img.
    pub id: u32,
    /// `flags = 2`: descriptor flags (`FD_CLOEXEC` = 1).
    pub flags: u32,
    /// `type = 3` (enum fd_types)
    pub fd_type: u32,
    /// `fd = 4`
    pub fd: u32,
}

impl FdInfo {
    pub fn decode(m: Message<'_>) -> Result<FdInfo, WireError> {
        let (mut id, mut flags, mut ty, mut fd) = (None, None, None, None);
        for f in m.fields() {
            let f = f?;
            match f.number {
                1 => id = Some(f.u32()?),
                2 => flags = Some(f.u32()?),
                3 => ty = Some(f.u32()?),
                4 => fd = Some(f.u32()?),
                _ => {}
            }
        }
        let msg = "fdinfo_entry";
        Ok(FdInfo {
            id: id.ok_or_else(|| m.missing(msg, "id", 1))?,
            flags: flags.ok_or_else(|| m.missing(msg, "flags", 2))?,
            fd_type: ty.ok_or_else(|| m.missing(msg, "type", 3))?,
            fd: fd.ok_or_else(|| m.missing(msg, "fd", 4))?,
        })
    }

    pub fn cloexec(&self) -> bool {
        self.flags & 1 != 0
    }
}

/// `file_entry` (fdinfo.proto) of files.img: one open file description.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FileEntry {
    /// `type = 1` (enum fd_types)
    pub fd_type: u32,
    /// `id = 2`
    pub id: u32,
    pub kind: FileKind,
}

/// The per-type part of a [`FileEntry`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum FileKind {
    /// `reg = 3`
    Reg(RegFile),
    /// `isk = 4`
    Inet(InetSocket),
    /// `usk = 16`
    Unix(UnixSocket),
    /// `pipe = 18` (`pipe_entry`: `pipe_id = 2`, `flags = 3`)
    Pipe { pipe_id: u32, flags: u32 },
    /// `fifo = 17` (`fifo_entry`: `pipe_id = 2`, `regf_id = 3`)
    Fifo { pipe_id: u32, regf_id: Option<u32> },
    /// `tty = 19` (`tty_file_entry`: `tty_info_id = 2`, `regf_id = 6`)
    Tty {
        tty_info_id: u32,
        regf_id: Option<u32>,
    },
    /// `nsf = 5` (`ns_file_entry`: `ns_id = 2`, `ns_cflag = 3`)
    Ns { ns_id: u32, ns_cflag: u32 },
    /// `memfd = 20` (`memfd_file_entry`: `inode_id = 5`)
    Memfd { inode_id: u32 },
    /// `pidfd = 22` (`pidfd_entry`: `ino = 2`, `nspid = 4`)
    Pidfd { ino: u32, nspid: i32 },
    /// `ext = 15`: a file CRIU was told is external.
    Ext,
    /// Types this crate does not decode further (eventfd, epoll, inotify,
    /// signalfd, timerfd, packet and netlink sockets, tun, bpf maps).
    Other,
}

impl FileEntry {
    pub fn decode(m: Message<'_>) -> Result<FileEntry, WireError> {
        let (mut ty, mut id, mut kind) = (None, None, None);
        for f in m.fields() {
            let f = f?;
            kind = match f.number {
                1 => {
                    ty = Some(f.u32()?);
                    continue;
                }
                2 => {
                    id = Some(f.u32()?);
                    continue;
                }
                3 => Some(FileKind::Reg(RegFile::decode(f.message()?)?)),
                4 => Some(FileKind::Inet(InetSocket::decode(f.message()?)?)),
                5 => {
                    let v = small_fields(f.message()?, &[2, 3])?;
                    Some(FileKind::Ns {
                        ns_id: v[0].unwrap_or(0),
                        ns_cflag: v[1].unwrap_or(0),
                    })
                }
                15 => Some(FileKind::Ext),
                16 => Some(FileKind::Unix(UnixSocket::decode(f.message()?)?)),
                17 => {
                    let v = small_fields(f.message()?, &[2, 3])?;
                    Some(FileKind::Fifo {
                        pipe_id: v[0].unwrap_or(0),
                        regf_id: v[1],
                    })
                }
                18 => Some(pipe_kind(f.message()?)?),
                19 => {
                    let v = small_fields(f.message()?, &[2, 6])?;
                    Some(FileKind::Tty {
                        tty_info_id: v[0].unwrap_or(0),
                        regf_id: v[1],
                    })
                }
                20 => {
                    let v = small_fields(f.message()?, &[5])?;
                    Some(FileKind::Memfd {
                        inode_id: v[0].unwrap_or(0),
                    })
                }
                22 => {
                    let mut ino = 0;
                    let mut nspid = 0;
                    for g in f.message()?.fields() {
                        let g = g?;
                        match g.number {
                            2 => ino = g.u32()?,
                            4 => nspid = g.i32()?,
                            _ => {}
                        }
                    }
                    Some(FileKind::Pidfd { ino, nspid })
                }
                _ => kind,
            };
        }
        Ok(FileEntry {
            fd_type: ty.ok_or_else(|| m.missing("file_entry", "type", 1))?,
            id: id.ok_or_else(|| m.missing("file_entry", "id", 2))?,
            kind: kind.unwrap_or(FileKind::Other),
        })
    }

    /// A files.img-style entry from an image of CRIU before files.img
    /// (reg-files.img, inetsk.img, unixsk.img, pipes.img).
    pub fn legacy(fd_type: u32, kind: FileKind, id: u32) -> FileEntry {
        FileEntry { fd_type, id, kind }
    }

    pub fn type_name(&self) -> &'static str {
        fd_type_name(self.fd_type)
    }
}

/// `pipe_entry` (pipe.proto) as a [`FileKind`]; also the entries of
/// legacy pipes.img.
pub fn pipe_kind(m: Message<'_>) -> Result<FileKind, WireError> {
    let v = small_fields(m, &[2, 3])?;
    Ok(FileKind::Pipe {
        pipe_id: v[0].unwrap_or(0),
        flags: v[1].unwrap_or(0),
    })
}

/// The `id = 1` field every per-type file message starts with.
pub fn entry_id(m: Message<'_>) -> Result<u32, WireError> {
    let v = small_fields(m, &[1])?;
    v[0].ok_or_else(|| m.missing("file", "id", 1))
}

/// The uint32 fields `numbers` of `m`.
fn small_fields<const N: usize>(
    m: Message<'_>,
    numbers: &[u32; N],
) -> Result<[Option<u32>; N], WireError> {
    let mut out = [None; N];
    for f in m.fields() {
        let f = f?;
        if let Some(i) = numbers.iter().position(|n| *n == f.number) {
            out[i] = Some(f.u32()?);
        }
    }
    Ok(out)
}

/// `reg_file_entry` (regfile.proto): a regular file, directory or device.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct RegFile {
    /// `name = 6`: the path in the process's mount namespace, or a name
    /// like `file[MNT:INODE]` for a file declared external.
    pub name: String,
    /// `flags = 2`: open flags (`O_WRONLY`, `O_APPEND`, ...).
    pub flags: u32,
    /// `pos = 3`: the file offset.
    pub pos: u64,
    /// `mnt_id = 7`
    pub mnt_id: Option<i32>,
    /// `size = 8`
    pub size: Option<u64>,
    /// `ext = 9`: declared external at dump time.
    pub ext: bool,
    /// `mode = 10`: `st_mode`.
    pub mode: Option<u32>,
}

impl RegFile {
    pub fn decode(m: Message<'_>) -> Result<RegFile, WireError> {
        let mut r = RegFile::default();
        let mut name = None;
        for f in m.fields() {
            let f = f?;
            match f.number {
                2 => r.flags = f.u32()?,
                3 => r.pos = f.u64()?,
                6 => name = Some(f.string()?),
                7 => r.mnt_id = Some(f.sint32()?),
                8 => r.size = Some(f.u64()?),
                9 => r.ext = f.bool()?,
                10 => r.mode = Some(f.u32()?),
                _ => {}
            }
        }
        r.name = name.ok_or_else(|| m.missing("reg_file_entry", "name", 6))?;
        Ok(r)
    }

    /// `r`, `w` or `rw` (and `a` for O_APPEND), from the open flags.
    pub fn access(&self) -> String {
        let mut s = match self.flags & 3 {
            0 => "r",
            1 => "w",
            _ => "rw",
        }
        .to_string();
        if self.flags & 0o2000 != 0 {
            s.push('a');
        }
        s
    }

    /// `file`, `dir`, `chr`, `blk`, `fifo`, `sock`, `link` from `mode`.
    pub fn file_type(&self) -> &'static str {
        match self.mode.map(|m| m & 0o170000) {
            Some(0o100000) => "file",
            Some(0o040000) => "dir",
            Some(0o020000) => "chr",
            Some(0o060000) => "blk",
            Some(0o010000) => "fifo",
            Some(0o140000) => "sock",
            Some(0o120000) => "link",
            _ => "file",
        }
    }
}

/// Socket families (`AF_*`).
pub fn family_name(f: u32) -> &'static str {
    match f {
        1 => "unix",
        2 => "inet",
        10 => "inet6",
        16 => "netlink",
        17 => "packet",
        _ => "unknown",
    }
}

/// Socket types (`SOCK_*`).
pub fn sock_type_name(t: u32) -> &'static str {
    match t {
        1 => "stream",
        2 => "dgram",
        3 => "raw",
        4 => "rdm",
        5 => "seqpacket",
        10 => "packet",
        _ => "unknown",
    }
}

/// Protocols of inet sockets (`IPPROTO_*`).
pub fn proto_name(p: u32) -> &'static str {
    match p {
        0 => "ip",
        1 => "icmp",
        6 => "tcp",
        17 => "udp",
        58 => "icmpv6",
        132 => "sctp",
        136 => "udplite",
        _ => "unknown",
    }
}

/// Socket states: the kernel's TCP states, which unix sockets use too.
pub fn sock_state_name(s: u32) -> &'static str {
    match s {
        1 => "ESTABLISHED",
        2 => "SYN_SENT",
        3 => "SYN_RECV",
        4 => "FIN_WAIT1",
        5 => "FIN_WAIT2",
        6 => "TIME_WAIT",
        7 => "CLOSE",
        8 => "CLOSE_WAIT",
        9 => "LAST_ACK",
        10 => "LISTEN",
        11 => "CLOSING",
        12 => "NEW_SYN_RECV",
        _ => "UNKNOWN",
    }
}

/// `inet_sk_entry` (sk-inet.proto): a TCP, UDP or raw socket.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct InetSocket {
    /// `id = 1`
    pub id: u32,
    /// `ino = 2`: the socket inode; names `tcp-stream-<ino in hex>.img`.
    pub ino: u32,
    /// `family = 3`
    pub family: u32,
    /// `type = 4`
    pub sock_type: u32,
    /// `proto = 5`
    pub proto: u32,
    /// `state = 6`
    pub state: u32,
    /// `src_port = 7`
    pub src_port: u32,
    /// `dst_port = 8`
    pub dst_port: u32,
    /// `backlog = 10`
    pub backlog: u32,
    /// `src_addr = 11`: the address as the kernel's `__be32` words.
    pub src_addr: Vec<u32>,
    /// `dst_addr = 12`
    pub dst_addr: Vec<u32>,
    /// `v6only = 15`
    pub v6only: Option<bool>,
    /// `ifname = 17`
    pub ifname: Option<String>,
    /// `ns_id = 18`: the network namespace.
    pub ns_id: Option<u32>,
    /// `shutdown = 19` (enum sk_shutdown)
    pub shutdown: Option<u32>,
}

impl InetSocket {
    pub fn decode(m: Message<'_>) -> Result<InetSocket, WireError> {
        let mut s = InetSocket::default();
        let mut seen = [false; 8];
        for f in m.fields() {
            let f = f?;
            if (1..=8).contains(&f.number) {
                seen[f.number as usize - 1] = true;
            }
            match f.number {
                1 => s.id = f.u32()?,
                2 => s.ino = f.u32()?,
                3 => s.family = f.u32()?,
                4 => s.sock_type = f.u32()?,
                5 => s.proto = f.u32()?,
                6 => s.state = f.u32()?,
                7 => s.src_port = f.u32()?,
                8 => s.dst_port = f.u32()?,
                10 => s.backlog = f.u32()?,
                11 => f.push_u32s(&mut s.src_addr)?,
                12 => f.push_u32s(&mut s.dst_addr)?,
                15 => s.v6only = Some(f.bool()?),
                17 => s.ifname = Some(f.string()?),
                18 => s.ns_id = Some(f.u32()?),
                19 => s.shutdown = Some(f.u32()?),
                _ => {}
            }
        }
        const NAMES: [&str; 8] = [
            "id", "ino", "family", "type", "proto", "state", "src_port", "dst_port",
        ];
        for (i, seen) in seen.iter().enumerate() {
            if !seen {
                return Err(m.missing("inet_sk_entry", NAMES[i], i as u32 + 1));
            }
        }
        Ok(s)
    }

    pub fn src(&self) -> Option<IpAddr> {
        ip(&self.src_addr)
    }

    pub fn dst(&self) -> Option<IpAddr> {
        ip(&self.dst_addr)
    }
}

/// An address of `inet_sk_entry`: one word for IPv4, four for IPv6. Each
/// word is the kernel's network-order bytes read as a u32 of the dumping
/// host (little-endian on x86_64, aarch64, riscv64).
fn ip(words: &[u32]) -> Option<IpAddr> {
    match words {
        [a] => Some(IpAddr::V4(Ipv4Addr::from(a.to_le_bytes()))),
        [a, b, c, d] => {
            let mut o = [0u8; 16];
            for (i, w) in [a, b, c, d].iter().enumerate() {
                o[i * 4..i * 4 + 4].copy_from_slice(&w.to_le_bytes());
            }
            Some(IpAddr::V6(Ipv6Addr::from(o)))
        }
        _ => None,
    }
}

/// `unix_sk_entry` (sk-unix.proto).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct UnixSocket {
    /// `id = 1`
    pub id: u32,
    /// `ino = 2`
    pub ino: u32,
    /// `type = 3`
    pub sock_type: u32,
    /// `state = 4`
    pub state: u32,
    /// `backlog = 7`
    pub backlog: u32,
    /// `peer = 8`: the peer's inode (0: none).
    pub peer: u32,
    /// `name = 11`: the bound path; abstract names start with a NUL.
    #[serde(serialize_with = "ser_lossy")]
    pub name: Vec<u8>,
    /// `name_dir = 14`: the directory a relative name is in.
    pub name_dir: Option<String>,
    /// `deleted = 15`: the bound file was unlinked.
    pub deleted: bool,
    /// `ns_id = 16`
    pub ns_id: Option<u32>,
}

fn ser_lossy<S: serde::Serializer>(b: &[u8], s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&String::from_utf8_lossy(b))
}

impl UnixSocket {
    pub fn decode(m: Message<'_>) -> Result<UnixSocket, WireError> {
        let mut s = UnixSocket::default();
        let (mut id, mut ino) = (None, None);
        for f in m.fields() {
            let f = f?;
            match f.number {
                1 => id = Some(f.u32()?),
                2 => ino = Some(f.u32()?),
                3 => s.sock_type = f.u32()?,
                4 => s.state = f.u32()?,
                7 => s.backlog = f.u32()?,
                8 => s.peer = f.u32()?,
                11 => s.name = f.bytes()?.to_vec(),
                14 => s.name_dir = Some(f.string()?),
                15 => s.deleted = f.bool()?,
                16 => s.ns_id = Some(f.u32()?),
                _ => {}
            }
        }
        s.id = id.ok_or_else(|| m.missing("unix_sk_entry", "id", 1))?;
        s.ino = ino.ok_or_else(|| m.missing("unix_sk_entry", "ino", 2))?;
        Ok(s)
    }

    /// The name as `ss` shows it: a path, `@name` for an abstract socket,
    /// empty when unbound.
    pub fn display_name(&self) -> String {
        match self.name.split_first() {
            None => String::new(),
            Some((0, rest)) => format!("@{}", String::from_utf8_lossy(rest)),
            Some(_) => {
                let name = String::from_utf8_lossy(&self.name).into_owned();
                match &self.name_dir {
                    Some(d) if !name.starts_with('/') && !d.is_empty() => {
                        format!("{}/{name}", d.trim_end_matches('/'))
                    }
                    _ => name,
                }
            }
        }
    }
}

/// `tcp_stream_entry` (tcp-stream.proto): the queues of a connection
/// dumped with `--tcp-established`. The queued bytes follow the entry.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct TcpStream {
    /// `inq_len = 1`: bytes received, not yet read by the process.
    pub inq_len: u32,
    /// `outq_len = 3`: bytes in the send queue (sent unacked and unsent).
    pub outq_len: u32,
    /// `unsq_len = 12`: of those, bytes not sent yet.
    pub unsq_len: Option<u32>,
}

impl TcpStream {
    pub fn decode(m: Message<'_>) -> Result<TcpStream, WireError> {
        let mut t = TcpStream::default();
        for f in m.fields() {
            let f = f?;
            match f.number {
                1 => t.inq_len = f.u32()?,
                3 => t.outq_len = f.u32()?,
                12 => t.unsq_len = Some(f.u32()?),
                _ => {}
            }
        }
        Ok(t)
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::wire::enc::Msg;

    pub fn fown() -> Msg {
        Msg::new()
            .varint(1, 0)
            .varint(2, 0)
            .varint(3, 0)
            .varint(4, 0)
            .varint(5, 0)
    }

    pub fn reg(id: u32, name: &str, flags: u32) -> Msg {
        let r = Msg::new()
            .varint(1, u64::from(id))
            .varint(2, u64::from(flags))
            .varint(3, 5)
            .msg(5, &fown())
            .string(6, name)
            .sint(7, 85)
            .varint(10, 0o100644);
        Msg::new().varint(1, 1).varint(2, u64::from(id)).msg(3, &r)
    }

    pub fn inet(id: u32, state: u32, src: &[u64], sport: u32, dst: &[u64], dport: u32) -> Msg {
        let family = if src.len() == 4 { 10 } else { 2 };
        let mut s = Msg::new()
            .varint(1, u64::from(id))
            .varint(2, 5000 + u64::from(id))
            .varint(3, family)
            .varint(4, 1)
            .varint(5, 6)
            .varint(6, u64::from(state))
            .varint(7, u64::from(sport))
            .varint(8, u64::from(dport))
            .varint(9, 2)
            .varint(10, 0);
        // CRIU (protobuf-c) writes repeated fields unpacked.
        for w in src {
            s = s.varint(11, *w);
        }
        for w in dst {
            s = s.varint(12, *w);
        }
        let s = s.msg(13, &fown()).msg(14, &Msg::new());
        Msg::new().varint(1, 4).varint(2, u64::from(id)).msg(4, &s)
    }

    #[test]
    fn regular_file_entry() {
        let m = reg(4, "/out/held.txt", 0o100001);
        let e = FileEntry::decode(Message::new(&m.0, 0)).expect("decodes");
        assert_eq!((e.id, e.type_name()), (4, "reg"));
        let FileKind::Reg(r) = e.kind else {
            panic!("not reg: {e:?}")
        };
        assert_eq!(r.name, "/out/held.txt");
        assert_eq!((r.access().as_str(), r.pos, r.mnt_id), ("w", 5, Some(85)));
        assert_eq!(r.file_type(), "file");
    }

    #[test]
    fn inet_sockets_v4_and_v6() {
        // 127.0.0.1 is the bytes 7f 00 00 01, a little-endian u32 0x0100007f.
        let m = inet(8, 1, &[0x0100_007f], 56126, &[0x0100_007f], 7777);
        let e = FileEntry::decode(Message::new(&m.0, 0)).expect("decodes");
        let FileKind::Inet(s) = e.kind else {
            panic!("not inet: {e:?}")
        };
        assert_eq!(s.src(), Some("127.0.0.1".parse().expect("ip")));
        assert_eq!((s.src_port, s.dst_port), (56126, 7777));
        assert_eq!(sock_state_name(s.state), "ESTABLISHED");
        assert_eq!(
            (
                family_name(s.family),
                sock_type_name(s.sock_type),
                proto_name(s.proto)
            ),
            ("inet", "stream", "tcp")
        );
        // ::ffff:127.0.0.1
        let m = inet(
            9,
            10,
            &[0, 0, 0xffff_0000, 0x0100_007f],
            7777,
            &[0, 0, 0, 0],
            0,
        );
        let e = FileEntry::decode(Message::new(&m.0, 0)).expect("decodes");
        let FileKind::Inet(s) = e.kind else {
            panic!("not inet: {e:?}")
        };
        assert_eq!(
            s.src().map(|a| a.to_string()).as_deref(),
            Some("::ffff:127.0.0.1")
        );
        assert_eq!(s.dst().map(|a| a.to_string()).as_deref(), Some("::"));
        assert_eq!(sock_state_name(s.state), "LISTEN");
    }

    #[test]
    fn unix_socket_names() {
        let mut u = UnixSocket {
            name: b"\0abstract".to_vec(),
            ..UnixSocket::default()
        };
        assert_eq!(u.display_name(), "@abstract");
        u.name = b"sock".to_vec();
        u.name_dir = Some("/run/app/".into());
        assert_eq!(u.display_name(), "/run/app/sock");
        let m = Msg::new()
            .varint(1, 3)
            .varint(2, 99)
            .varint(3, 1)
            .varint(4, 10)
            .bytes(11, b"/tmp/s");
        let f = Msg::new().varint(1, 5).varint(2, 3).msg(16, &m);
        let e = FileEntry::decode(Message::new(&f.0, 0)).expect("decodes");
        let FileKind::Unix(u) = e.kind else {
            panic!("not unix: {e:?}")
        };
        assert_eq!((u.ino, u.display_name().as_str()), (99, "/tmp/s"));
    }

    #[test]
    fn pipes_and_unknown_types() {
        let p = Msg::new()
            .varint(1, 12)
            .varint(2, 537077)
            .varint(3, 1)
            .msg(4, &fown());
        let f = Msg::new().varint(1, 2).varint(2, 12).msg(18, &p);
        let e = FileEntry::decode(Message::new(&f.0, 0)).expect("decodes");
        assert_eq!(
            e.kind,
            FileKind::Pipe {
                pipe_id: 537077,
                flags: 1
            }
        );
        let f = Msg::new()
            .varint(1, 6)
            .varint(2, 13)
            .msg(8, &Msg::new().varint(1, 13));
        let e = FileEntry::decode(Message::new(&f.0, 0)).expect("decodes");
        assert_eq!((&e.kind, e.type_name()), (&FileKind::Other, "eventfd"));
    }
}
