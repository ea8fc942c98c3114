//! The migration protocol: one TCP connection, opened by the source.
//!
//! The source first sends the 8 bytes [`MAGIC`]; then both sides exchange
//! frames. A frame is a 1-byte kind and a 4-byte big-endian length, then
//! that many bytes:
//!
//! * [`KIND_MSG`]: a control message, JSON ([`Msg`], tagged by `"type"`),
//!   at most [`MAX_MSG`] bytes;
//! * [`KIND_DATA`]: a chunk of the stream announced by the last message
//!   (`file` or `rootfs`), at most [`MAX_CHUNK`] bytes;
//! * [`KIND_END`]: the end of that stream (length 0).
//!
//! The conversation (S = source, D = destination):
//!
//! ```text
//! S: hello{protocol,id,rootfs_path,post_copy}   D: welcome{protocol,lazy_pages,rootfs} | failed
//! S: config{config}  [S: rootfs + DATA.. END]   D: bundle_ready | failed
//!    (the source freezes the container and dumps it)
//! S: file{name,size} + DATA.. END   (each image file)
//! S: restore{page_server,flags}                 D: restoring
//!                                               D: restored{pid,restore_ms} | failed
//!    (post-copy: the destination's lazy-pages daemon pulls the memory
//!     from the source's CRIU page server, on its own connection)
//! S: done | abort{reason}
//! ```
//!
//! Either side may send `failed{message}` instead of what is expected and
//! close; a closed connection counts as a failure.

use std::io::{BufReader, BufWriter, Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::error::{Ctx, MigrateError, Result};

/// What the source sends before the first frame.
pub const MAGIC: &[u8; 8] = b"CRYOMIG\x01";
/// The protocol version in `hello` and `welcome`; a peer of another
/// version is refused.
pub const PROTOCOL: u32 = 1;
pub const KIND_MSG: u8 = 1;
pub const KIND_DATA: u8 = 2;
pub const KIND_END: u8 = 3;
/// Largest control message (a config.json with a large seccomp profile
/// fits many times over).
pub const MAX_MSG: usize = 16 << 20;
/// Largest data chunk.
pub const MAX_CHUNK: usize = 1 << 20;
/// Longest image file name accepted (a file name, not a path).
pub const MAX_NAME: usize = 255;
/// Most image files accepted in one migration.
pub const MAX_FILES: usize = 100_000;

/// How the destination gets the container's root filesystem.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum RootfsPlan {
    /// The source sends it as a tar stream into the destination's bundle.
    Copy,
    /// The destination uses the source's rootfs path as is (shared
    /// storage, or two roots on one machine).
    Shared,
}

/// CRIU options that must be the same at dump and restore.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RestoreFlags {
    #[serde(default)]
    pub tcp_established: bool,
    #[serde(default)]
    pub ext_unix_sk: bool,
    #[serde(default)]
    pub shell_job: bool,
    #[serde(default)]
    pub file_locks: bool,
    #[serde(default)]
    pub manage_cgroups_mode: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Msg {
    Hello {
        protocol: u32,
        id: String,
        /// The container's rootfs on the source (absolute).
        rootfs_path: String,
        /// Whether the source can serve memory lazily.
        post_copy: bool,
    },
    Welcome {
        protocol: u32,
        /// Whether the destination can restore lazily (userfaultfd).
        lazy_pages: bool,
        rootfs: RootfsPlan,
    },
    Config {
        config: serde_json::Value,
    },
    /// A tar stream of the rootfs follows.
    Rootfs,
    BundleReady,
    /// An image file of `size` bytes follows.
    File {
        name: String,
        size: u64,
    },
    Restore {
        /// `ADDR:PORT` of the source's page server (post-copy), or none
        /// (every page is in the images).
        page_server: Option<String>,
        #[serde(default)]
        flags: RestoreFlags,
    },
    /// Every image is in: the destination starts its restore now.
    Restoring,
    Restored {
        pid: i32,
        restore_ms: f64,
    },
    /// The source let go of its copy: the container is the destination's.
    Done,
    /// The source keeps the container: the destination must remove its copy.
    Abort {
        reason: String,
    },
    Failed {
        message: String,
    },
}

impl Msg {
    pub fn name(&self) -> &'static str {
        match self {
            Msg::Hello { .. } => "hello",
            Msg::Welcome { .. } => "welcome",
            Msg::Config { .. } => "config",
            Msg::Rootfs => "rootfs",
            Msg::BundleReady => "bundle_ready",
            Msg::File { .. } => "file",
            Msg::Restore { .. } => "restore",
            Msg::Restoring => "restoring",
            Msg::Restored { .. } => "restored",
            Msg::Done => "done",
            Msg::Abort { .. } => "abort",
            Msg::Failed { .. } => "failed",
        }
    }
}

/// One frame as read.
#[derive(Debug)]
pub enum Frame {
    Msg(Msg),
    /// A data chunk of this many bytes, now at the front of the buffer.
    Data(usize),
    End,
}

/// Checks an image file name from the peer: a plain file name.
pub fn check_file_name(name: &str) -> Result<()> {
    let bad = name.is_empty()
        || name.len() > MAX_NAME
        || name == "."
        || name == ".."
        || name.contains('/')
        || name.contains('\0');
    if bad {
        return Err(MigrateError::Protocol(format!(
            "invalid image file name {:?}",
            name.escape_debug().to_string()
        )));
    }
    Ok(())
}

/// Both directions of the connection, counting the bytes that went over.
pub struct Conn {
    r: BufReader<TcpStream>,
    w: BufWriter<TcpStream>,
    pub sent: u64,
    pub received: u64,
    peer: String,
}

impl Conn {
    pub fn new(stream: TcpStream) -> Result<Conn> {
        let _ = stream.set_nodelay(true);
        let peer = stream
            .peer_addr()
            .map(|a| a.to_string())
            .unwrap_or_else(|_| "peer".into());
        let r = stream.try_clone().ctx(|| "clone the connection".into())?;
        Ok(Conn {
            r: BufReader::with_capacity(256 << 10, r),
            w: BufWriter::with_capacity(256 << 10, stream),
            sent: 0,
            received: 0,
            peer,
        })
    }

    pub fn peer(&self) -> &str {
        &self.peer
    }

    pub fn stream(&self) -> &TcpStream {
        self.w.get_ref()
    }

    /// Timeout of each read (None: wait forever).
    pub fn set_read_timeout(&self, t: Option<Duration>) {
        let _ = self.r.get_ref().set_read_timeout(t);
    }

    pub fn send_magic(&mut self) -> Result<()> {
        self.write(MAGIC)?;
        self.flush()
    }

    pub fn recv_magic(&mut self) -> Result<()> {
        let mut m = [0u8; 8];
        self.read_exact(&mut m, "greeting")?;
        if &m != MAGIC {
            return Err(MigrateError::Protocol(format!(
                "{} is not a cryo migration peer (bad greeting)",
                self.peer
            )));
        }
        Ok(())
    }

    fn write(&mut self, b: &[u8]) -> Result<()> {
        let peer = &self.peer;
        self.w.write_all(b).ctx(|| format!("send to {peer}"))?;
        self.sent += b.len() as u64;
        Ok(())
    }

    fn flush(&mut self) -> Result<()> {
        let peer = &self.peer;
        self.w.flush().ctx(|| format!("send to {peer}"))
    }

    fn header(&mut self, kind: u8, len: usize) -> Result<()> {
        let len = u32::try_from(len)
            .map_err(|_| MigrateError::Invalid(format!("frame of {len} bytes")))?;
        let mut h = [0u8; 5];
        h[0] = kind;
        h[1..].copy_from_slice(&len.to_be_bytes());
        self.write(&h)
    }

    /// Sends a control message (and everything buffered before it).
    pub fn send(&mut self, m: &Msg) -> Result<()> {
        let body = serde_json::to_vec(m).map_err(|e| MigrateError::Invalid(e.to_string()))?;
        if body.len() > MAX_MSG {
            return Err(MigrateError::Invalid(format!(
                "{} message of {} bytes is larger than {MAX_MSG}",
                m.name(),
                body.len()
            )));
        }
        self.header(KIND_MSG, body.len())?;
        self.write(&body)?;
        self.flush()
    }

    /// Sends one chunk of a stream (buffered).
    pub fn send_data(&mut self, b: &[u8]) -> Result<()> {
        for chunk in b.chunks(MAX_CHUNK) {
            self.header(KIND_DATA, chunk.len())?;
            self.write(chunk)?;
        }
        Ok(())
    }

    /// Ends a stream.
    pub fn send_end(&mut self) -> Result<()> {
        self.header(KIND_END, 0)?;
        self.flush()
    }

    /// Sends what `src` yields as a stream, calling `tick` with the bytes
    /// sent so far; returns the total.
    pub fn send_stream(&mut self, src: &mut dyn Read, tick: &mut dyn FnMut(u64)) -> Result<u64> {
        let mut buf = vec![0u8; MAX_CHUNK];
        let mut total = 0u64;
        loop {
            let n = match src.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e).ctx(|| "read the data to send".into()),
            };
            self.send_data(&buf[..n])?;
            total += n as u64;
            tick(total);
        }
        self.send_end()?;
        Ok(total)
    }

    fn read_exact(&mut self, b: &mut [u8], what: &str) -> Result<()> {
        match self.r.read_exact(b) {
            Ok(()) => {
                self.received += b.len() as u64;
                Ok(())
            }
            Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => {
                Err(MigrateError::Disconnected(format!(
                    "{} closed the connection (waiting for {what})",
                    self.peer
                )))
            }
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) =>
            {
                Err(MigrateError::Disconnected(format!(
                    "{} did not answer in time (waiting for {what})",
                    self.peer
                )))
            }
            Err(e) => Err(MigrateError::Disconnected(format!(
                "receive from {} (waiting for {what}): {}",
                self.peer,
                cryo_container::error::io_text(&e)
            ))),
        }
    }

    /// Reads one frame; a data chunk is left in `buf`.
    pub fn recv_frame(&mut self, buf: &mut Vec<u8>, what: &str) -> Result<Frame> {
        let mut h = [0u8; 5];
        self.read_exact(&mut h, what)?;
        let len = u32::from_be_bytes([h[1], h[2], h[3], h[4]]) as usize;
        match h[0] {
            KIND_MSG => {
                if len > MAX_MSG {
                    return Err(MigrateError::Protocol(format!(
                        "message of {len} bytes (at most {MAX_MSG})"
                    )));
                }
                buf.resize(len, 0);
                self.read_exact(buf, what)?;
                let m: Msg = serde_json::from_slice(buf)
                    .map_err(|e| MigrateError::Protocol(format!("bad message: {e}")))?;
                Ok(Frame::Msg(m))
            }
            KIND_DATA => {
                if len > MAX_CHUNK {
                    return Err(MigrateError::Protocol(format!(
                        "data chunk of {len} bytes (at most {MAX_CHUNK})"
                    )));
                }
                buf.resize(len, 0);
                self.read_exact(buf, what)?;
                Ok(Frame::Data(len))
            }
            KIND_END if len == 0 => Ok(Frame::End),
            k => Err(MigrateError::Protocol(format!(
                "unknown frame kind {k} (length {len})"
            ))),
        }
    }

    /// Reads a control message; a peer's `failed` becomes an error.
    pub fn recv(&mut self, what: &str) -> Result<Msg> {
        let mut buf = Vec::new();
        match self.recv_frame(&mut buf, what)? {
            Frame::Msg(Msg::Failed { message }) => Err(MigrateError::Remote(message)),
            Frame::Msg(m) => Ok(m),
            Frame::Data(_) | Frame::End => Err(MigrateError::Protocol(format!(
                "stream data while waiting for {what}"
            ))),
        }
    }

    /// Receives a stream into `dst`, refusing more than `limit` bytes (and,
    /// with `exact`, any other length); returns its length.
    pub fn recv_stream(
        &mut self,
        dst: &mut dyn Write,
        limit: u64,
        exact: Option<u64>,
        tick: &mut dyn FnMut(u64),
    ) -> Result<u64> {
        let mut buf = Vec::with_capacity(MAX_CHUNK);
        let mut total = 0u64;
        loop {
            match self.recv_frame(&mut buf, "stream data")? {
                Frame::Data(n) => {
                    total += n as u64;
                    if total > limit || exact.is_some_and(|e| total > e) {
                        return Err(MigrateError::Protocol(format!(
                            "stream longer than {} bytes",
                            exact.unwrap_or(limit)
                        )));
                    }
                    dst.write_all(&buf[..n])
                        .ctx(|| "write the received data".into())?;
                    tick(total);
                }
                Frame::End => break,
                Frame::Msg(Msg::Failed { message }) => return Err(MigrateError::Remote(message)),
                Frame::Msg(m) => {
                    return Err(MigrateError::Protocol(format!(
                        "{} message inside a stream",
                        m.name()
                    )))
                }
            }
        }
        if let Some(e) = exact {
            if total != e {
                return Err(MigrateError::Protocol(format!(
                    "stream of {total} bytes, announced {e}"
                )));
            }
        }
        Ok(total)
    }

    /// Tells the peer why we stop (best effort).
    pub fn fail(&mut self, message: &str) {
        let _ = self.send(&Msg::Failed {
            message: message.to_string(),
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::TcpListener;

    #[test]
    fn names_are_plain_file_names() {
        for ok in ["core-1.img", "pages-1.img", "descriptors.json", ".x"] {
            assert!(check_file_name(ok).is_ok(), "{ok}");
        }
        let long = "a".repeat(MAX_NAME + 1);
        for bad in ["", ".", "..", "../x", "a/b", "/etc", "a\0b", long.as_str()] {
            assert!(check_file_name(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn messages_are_tagged_json() -> std::result::Result<(), serde_json::Error> {
        let m = Msg::File {
            name: "core-1.img".into(),
            size: 3,
        };
        let s = serde_json::to_string(&m)?;
        assert_eq!(s, r#"{"type":"file","name":"core-1.img","size":3}"#);
        assert_eq!(serde_json::from_str::<Msg>(&s)?, m);
        let w: Msg = serde_json::from_str(
            r#"{"type":"welcome","protocol":1,"lazy_pages":true,"rootfs":"copy"}"#,
        )?;
        assert_eq!(
            w,
            Msg::Welcome {
                protocol: 1,
                lazy_pages: true,
                rootfs: RootfsPlan::Copy
            }
        );
        assert!(serde_json::from_str::<Msg>(r#"{"type":"nope"}"#).is_err());
        Ok(())
    }

    fn pair() -> Result<(Conn, Conn)> {
        let l = TcpListener::bind("127.0.0.1:0").ctx(|| "bind".into())?;
        let addr = l.local_addr().ctx(|| "addr".into())?;
        let a = TcpStream::connect(addr).ctx(|| "connect".into())?;
        let (b, _) = l.accept().ctx(|| "accept".into())?;
        Ok((Conn::new(a)?, Conn::new(b)?))
    }

    #[test]
    fn streams_and_limits() -> Result<()> {
        let (mut a, mut b) = pair()?;
        a.send_magic()?;
        b.recv_magic()?;
        let data = vec![7u8; MAX_CHUNK * 2 + 5];
        a.send(&Msg::Rootfs)?;
        a.send_stream(&mut &data[..], &mut |_| {})?;
        assert_eq!(b.recv("rootfs")?, Msg::Rootfs);
        let mut got = Vec::new();
        let n = b.recv_stream(&mut got, u64::MAX, Some(data.len() as u64), &mut |_| {})?;
        assert_eq!(n as usize, data.len());
        assert_eq!(got, data);
        // Longer than announced: refused.
        a.send_stream(&mut &data[..10], &mut |_| {})?;
        let e = b.recv_stream(&mut Vec::new(), u64::MAX, Some(4), &mut |_| {});
        assert!(matches!(e, Err(MigrateError::Protocol(_))), "{e:?}");
        // A peer's failure is an error with its message.
        let (mut a, mut b) = pair()?;
        a.fail("no room");
        match b.recv("welcome") {
            Err(MigrateError::Remote(m)) => assert_eq!(m, "no room"),
            other => panic!("{other:?}"),
        }
        assert!(a.sent > 0 && b.received == a.sent);
        Ok(())
    }

    #[test]
    fn bad_frames_are_protocol_errors() -> Result<()> {
        let (a, mut b) = pair()?;
        let mut raw = a.stream().try_clone().ctx(|| "clone".into())?;
        raw.write_all(b"NOTCRYO!").ctx(|| "write".into())?;
        assert!(matches!(b.recv_magic(), Err(MigrateError::Protocol(_))));
        // A huge length is refused before anything is allocated.
        raw.write_all(&[KIND_MSG, 0xff, 0xff, 0xff, 0xff])
            .ctx(|| "write".into())?;
        assert!(matches!(b.recv("x"), Err(MigrateError::Protocol(_))));
        drop(raw);
        drop(a);
        assert!(matches!(b.recv("x"), Err(MigrateError::Disconnected(_))));
        Ok(())
    }
}
