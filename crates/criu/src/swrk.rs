//! Spawning `criu swrk <fd>` and speaking its protocol: one encoded `Criu_req`
//! per SEQPACKET message, answered by NOTIFY messages (each wants a NOTIFY
//! reply) and then by one final `Criu_resp`.

use std::io::{self, IoSliceMut};
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use nix::errno::Errno;
use nix::sys::socket::{self, AddressFamily, ControlMessageOwned, MsgFlags, SockFlag, SockType};
use protobuf::Message;

use crate::rpc::{self, Criu_req_type};
use crate::{CriuError, Features, Notify, Version};

/// The largest message read from CRIU (runc and libcriu use the same).
const RECV_BUF: usize = 1 << 20;

/// What the caller does while a request runs.
pub trait Hooks {
    /// Called once after `criu swrk` is spawned and before the request is sent,
    /// with CRIU's pid (the caller moves CRIU into the container's cgroup here).
    /// An Err aborts: CRIU is killed and reaped, and `run` returns the error.
    fn spawned(&mut self, _criu_pid: i32) -> Result<(), CriuError> {
        Ok(())
    }

    /// One NOTIFY message. Ok lets CRIU continue (it is answered with
    /// `notify_success = true`); Err fails the request: CRIU is answered with
    /// `notify_success = false`, its messages are read (and later NOTIFYs passed
    /// here as well, e.g. `network-unlock` of its clean-up) until its final
    /// answer or exit, and `run` returns the first such Err.
    fn notify(&mut self, _n: Notify) -> Result<(), CriuError> {
        Ok(())
    }
}

/// Hooks that accept everything.
#[derive(Debug, Default, Clone, Copy)]
pub struct NoHooks;

impl Hooks for NoHooks {}

/// The name rpc.proto gives a request type (`DUMP`, `RESTORE`, ...).
pub fn request_name(t: Criu_req_type) -> String {
    format!("{t:?}")
}

fn type_name(t: Option<protobuf::EnumOrUnknown<Criu_req_type>>) -> String {
    match t.map(|t| t.enum_value()) {
        Some(Ok(t)) => request_name(t),
        Some(Err(n)) => format!("unknown type {n}"),
        None => "no type".to_string(),
    }
}

/// A criu binary to run requests with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Criu {
    path: PathBuf,
}

impl Criu {
    pub fn new(path: PathBuf) -> Self {
        Criu { path }
    }

    /// `Criu::new(locate(explicit)?)`.
    pub fn locate(explicit: Option<&Path>) -> Result<Self, CriuError> {
        crate::locate(explicit).map(Criu::new)
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Asks CRIU for its version (VERSION request).
    pub fn version(&self) -> Result<Version, CriuError> {
        let mut req = rpc::Criu_req::new();
        req.set_type(Criu_req_type::VERSION);
        let resp = self.run(req, &[], &mut NoHooks)?;
        match resp.version.as_ref() {
            Some(v) => Version::from_rpc(v),
            None => Err(CriuError::Protocol(
                "criu answered the VERSION request without a version".into(),
            )),
        }
    }

    /// Asks CRIU which of mem_track, lazy_pages and pidfd_store this kernel
    /// and CRIU support (FEATURE_CHECK request).
    pub fn check_features(&self) -> Result<Features, CriuError> {
        let mut want = rpc::Criu_features::new();
        want.set_mem_track(true);
        want.set_lazy_pages(true);
        want.set_pidfd_store(true);
        let mut req = rpc::Criu_req::new();
        req.set_type(Criu_req_type::FEATURE_CHECK);
        req.features = protobuf::MessageField::some(want);
        let resp = self.run(req, &[], &mut NoHooks)?;
        match resp.features.as_ref() {
            Some(f) => Ok(Features::from_rpc(f)),
            None => Err(CriuError::Protocol(
                "criu answered the FEATURE_CHECK request without features".into(),
            )),
        }
    }

    /// Runs one request (DUMP, PRE_DUMP, RESTORE, ...) to completion in a new
    /// `criu swrk`.
    ///
    /// `fds` are passed to CRIU: each `(number, fd)` makes our `fd` CRIU's fd
    /// `number`; numbers must be 3 or more and distinct. These are for the
    /// fields CRIU uses as its own fds: `inherit_fd[].fd`, `ps.fd`, ... CRIU
    /// gets no other fd of ours, and /dev/null as stdin, stdout and stderr (it
    /// logs to its log file).
    ///
    /// `images_dir_fd`, `work_dir_fd` and `status_fd` are different: CRIU
    /// opens them as `/proc/<our pid>/fd/N` (the peer of its socket), so they
    /// are the numbers of fds open in our process, and need no entry in `fds`.
    ///
    /// Only CRIU's own pid is waited for: the tasks a RESTORE with `rst_sibling`
    /// makes our children are left to the caller.
    pub fn run(
        &self,
        req: rpc::Criu_req,
        fds: &[(RawFd, BorrowedFd<'_>)],
        hooks: &mut dyn Hooks,
    ) -> Result<rpc::Criu_resp, CriuError> {
        let request = req.type_;
        let name = type_name(request);
        let msg = req.write_to_bytes()?;

        let (ours, theirs) = socket::socketpair(
            AddressFamily::Unix,
            SockType::SeqPacket,
            None,
            SockFlag::SOCK_CLOEXEC,
        )
        .map_err(|e| CriuError::sys("socketpair", e))?;
        let mut child = self.spawn(theirs.as_raw_fd(), fds)?;
        drop(theirs);

        let started = match i32::try_from(child.id()) {
            Ok(pid) => hooks.spawned(pid),
            Err(_) => Err(CriuError::Protocol(format!(
                "criu pid {} out of range",
                child.id()
            ))),
        };
        if let Err(e) = started {
            // Killing or reaping a child we own can only fail if it is gone already.
            let _ = child.kill();
            let _ = child.wait();
            return Err(e);
        }

        let mut failed = None;
        let end = converse(&ours, &msg, hooks, &mut failed);
        // Closing our end makes a CRIU that still waits for us give up and exit.
        drop(ours);
        let status = child.wait();

        match end {
            Ok(End::Answer(resp)) => {
                if let Some(e) = failed {
                    return Err(e);
                }
                if !resp.success() {
                    return Err(CriuError::Failed {
                        request: name,
                        errno: resp.cr_errno(),
                        message: resp.cr_errmsg.clone().filter(|m| !m.is_empty()),
                    });
                }
                if resp.type_ != request {
                    return Err(CriuError::Protocol(format!(
                        "criu answered a {name} request with a {} response",
                        type_name(resp.type_)
                    )));
                }
                Ok(resp)
            }
            Ok(End::Eof) => {
                if let Some(e) = failed {
                    return Err(e);
                }
                let how = match status {
                    Ok(s) => s.to_string(),
                    Err(e) => format!("its exit status is unknown: {e}"),
                };
                Err(CriuError::Protocol(format!(
                    "criu exited before answering the {name} request ({how})"
                )))
            }
            Err(e) => Err(failed.unwrap_or(e)),
        }
    }

    fn spawn(&self, sock: RawFd, fds: &[(RawFd, BorrowedFd<'_>)]) -> Result<Child, CriuError> {
        let mut pairs: Vec<(RawFd, RawFd)> = Vec::with_capacity(fds.len() + 1);
        // Command puts /dev/null on the child's 0-2 before `pre_exec` runs,
        // so a source that is one of our stdio fds is copied above 2 first;
        // the copies live until the child has exec'd.
        let mut stdio_copies: Vec<OwnedFd> = Vec::new();
        for (target, fd) in fds {
            if *target < 3 {
                return Err(CriuError::InvalidArgument(format!(
                    "fd {target} cannot be passed to criu: 0, 1 and 2 are its stdio"
                )));
            }
            if pairs.iter().any(|(t, _)| t == target) {
                return Err(CriuError::InvalidArgument(format!(
                    "fd {target} is passed to criu twice"
                )));
            }
            let src = if fd.as_raw_fd() < 3 {
                let copy = fd
                    .try_clone_to_owned()
                    .map_err(|e| CriuError::io(format!("dup fd {}", fd.as_raw_fd()), e))?;
                let raw = copy.as_raw_fd();
                stdio_copies.push(copy);
                raw
            } else {
                fd.as_raw_fd()
            };
            pairs.push((*target, src));
        }
        let mut sock_target: RawFd = 3;
        while pairs.iter().any(|(t, _)| *t == sock_target) {
            sock_target += 1;
        }
        pairs.push((sock_target, sock));
        let highest = pairs.iter().map(|(t, _)| *t).max().unwrap_or(sock_target);
        let floor = highest.checked_add(1).ok_or_else(|| {
            CriuError::InvalidArgument(format!("fd {highest} cannot be passed to criu"))
        })?;
        let mut dups: Vec<RawFd> = vec![-1; pairs.len()];

        let mut cmd = Command::new(&self.path);
        cmd.arg("swrk")
            .arg(sock_target.to_string())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        // SAFETY: the closure runs in the forked child before exec, where only
        // async-signal-safe calls are allowed: it makes only libc fcntl(2) and
        // dup2(2) calls, reads errno, and stores into `dups`, which was allocated
        // here, before the fork; it neither allocates nor takes locks.
        unsafe {
            cmd.pre_exec(move || map_fds(&pairs, &mut dups, floor));
        }
        let child = cmd
            .spawn()
            .map_err(|e| CriuError::io(format!("running {} swrk", self.path.display()), e));
        drop(stdio_copies);
        child
    }
}

/// In the child: makes each `pairs[i].1` fd number `pairs[i].0` without
/// FD_CLOEXEC. All sources are first copied (close-on-exec) to numbers above
/// every target, so a source whose number is another pair's target is not
/// overwritten before it is used; those copies vanish at exec. Every other fd
/// above 2 is made close-on-exec, the targets are not.
fn map_fds(pairs: &[(RawFd, RawFd)], dups: &mut [RawFd], floor: RawFd) -> io::Result<()> {
    for (slot, (_, src)) in dups.iter_mut().zip(pairs) {
        // SAFETY: fcntl(F_DUPFD_CLOEXEC) takes and returns plain fd numbers and
        // touches no memory; a bad `src` only makes it fail with EBADF.
        let fd = unsafe { libc::fcntl(*src, libc::F_DUPFD_CLOEXEC, floor) };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        *slot = fd;
    }
    for (dup, (target, _)) in dups.iter().zip(pairs) {
        // SAFETY: dup2 takes plain fd numbers and touches no memory. `target`
        // is a number the caller gave to criu, so what the child had there may
        // be replaced (at worst std's close-on-exec pipe for exec errors, which
        // then only loses that report); `dup` is above every target, so it is
        // never `target` itself and is still open here.
        if unsafe { libc::dup2(*dup, *target) } < 0 {
            return Err(io::Error::last_os_error());
        }
    }
    // Fds we did not open (inherited without FD_CLOEXEC by our own process)
    // must not reach criu either: mark everything above stdio close-on-exec,
    // then clear the flag on the targets again. Kernels before 5.11 lack
    // close_range; there only our own fds are kept from criu (they are all
    // close-on-exec).
    // SAFETY: close_range(CLOSE_RANGE_CLOEXEC) only sets fd flags; it takes
    // plain integers and touches no memory.
    let marked = unsafe {
        libc::syscall(
            libc::SYS_close_range,
            3 as libc::c_uint,
            libc::c_uint::MAX,
            libc::CLOSE_RANGE_CLOEXEC,
        )
    };
    if marked == 0 {
        for (target, _) in pairs {
            // SAFETY: F_SETFD takes plain integers and touches no memory;
            // `target` was made by dup2 above.
            if unsafe { libc::fcntl(*target, libc::F_SETFD, 0) } < 0 {
                return Err(io::Error::last_os_error());
            }
        }
    }
    Ok(())
}

enum End {
    Answer(rpc::Criu_resp),
    /// CRIU closed its end (exited) without a final answer.
    Eof,
}

/// Sends the request, then answers NOTIFYs until the final answer or EOF.
/// The first error of a NOTIFY (mapping or hook) goes to `failed`.
fn converse(
    sock: &OwnedFd,
    msg: &[u8],
    hooks: &mut dyn Hooks,
    failed: &mut Option<CriuError>,
) -> Result<End, CriuError> {
    match send(sock, msg) {
        Ok(()) => {}
        Err(Errno::EPIPE | Errno::ECONNRESET) => return Ok(End::Eof),
        Err(e) => return Err(CriuError::sys("sending the request to criu", e)),
    }
    let mut buf = vec![0u8; RECV_BUF];
    loop {
        let (n, fd) = recv(sock, &mut buf)?;
        if n == 0 {
            return Ok(End::Eof);
        }
        let resp = rpc::Criu_resp::parse_from_bytes(&buf[..n])?;
        if resp.type_() != Criu_req_type::NOTIFY {
            return Ok(End::Answer(resp));
        }
        let result = match resp.notify.as_ref() {
            Some(n) => Notify::from_script(n.script(), n.pid(), fd).and_then(|n| hooks.notify(n)),
            None => Err(CriuError::Protocol(
                "criu sent a NOTIFY message without a notification".into(),
            )),
        };
        let ok = result.is_ok();
        if let Err(e) = result {
            failed.get_or_insert(e);
        }
        let mut reply = rpc::Criu_req::new();
        reply.set_type(Criu_req_type::NOTIFY);
        reply.set_notify_success(ok);
        match send(sock, &reply.write_to_bytes()?) {
            // A CRIU that is gone shows as EOF on the next read.
            Ok(()) | Err(Errno::EPIPE | Errno::ECONNRESET) => {}
            Err(e) => return Err(CriuError::sys("answering a criu notification", e)),
        }
    }
}

fn send(sock: &OwnedFd, msg: &[u8]) -> Result<(), Errno> {
    loop {
        match socket::send(sock.as_raw_fd(), msg, MsgFlags::MSG_NOSIGNAL) {
            Err(Errno::EINTR) => continue,
            Ok(n) if n != msg.len() => return Err(Errno::EMSGSIZE),
            Ok(_) => return Ok(()),
            Err(e) => return Err(e),
        }
    }
}

/// Reads one message; returns its length (0 at EOF or reset) and the fd that
/// came with it, if any (close-on-exec).
fn recv(sock: &OwnedFd, buf: &mut [u8]) -> Result<(usize, Option<OwnedFd>), CriuError> {
    // CRIU sends at most one fd; room for a few more keeps a surprise from
    // truncating the control data.
    let mut cmsg = nix::cmsg_space!([RawFd; 4]);
    loop {
        let mut iov = [IoSliceMut::new(buf)];
        let msg = match socket::recvmsg::<()>(
            sock.as_raw_fd(),
            &mut iov,
            Some(&mut cmsg),
            MsgFlags::MSG_CMSG_CLOEXEC,
        ) {
            Err(Errno::EINTR) => continue,
            // A peer that closes with our message unread resets the
            // connection instead of ending it: criu is gone either way.
            Err(Errno::ECONNRESET) => return Ok((0, None)),
            Err(e) => return Err(CriuError::sys("reading from criu", e)),
            Ok(m) => m,
        };
        let mut received = Vec::new();
        let ctrunc = match msg.cmsgs() {
            Ok(cmsgs) => {
                for c in cmsgs {
                    if let ControlMessageOwned::ScmRights(fds) = c {
                        for fd in fds {
                            // SAFETY: the kernel has just installed `fd` in our fd
                            // table for this message; nothing else refers to it,
                            // so it is ours to own and close.
                            received.push(unsafe { OwnedFd::from_raw_fd(fd) });
                        }
                    }
                }
                false
            }
            Err(_) => true,
        };
        if ctrunc {
            return Err(CriuError::Protocol(
                "criu sent more file descriptors than expected".into(),
            ));
        }
        if msg.flags.contains(MsgFlags::MSG_TRUNC) {
            return Err(CriuError::Protocol(format!(
                "criu sent a message larger than {RECV_BUF} bytes"
            )));
        }
        let bytes = msg.bytes;
        if received.len() > 1 {
            return Err(CriuError::Protocol(format!(
                "criu sent {} file descriptors with one message",
                received.len()
            )));
        }
        return Ok((bytes, received.pop()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    /// Runs `sh -c script` with `fds` mapped like criu's, returns its stdout.
    fn run_mapped(script: &str, fds: &[(RawFd, BorrowedFd<'_>)]) -> io::Result<String> {
        let pairs: Vec<(RawFd, RawFd)> = fds.iter().map(|(t, f)| (*t, f.as_raw_fd())).collect();
        let floor = pairs.iter().map(|(t, _)| *t).max().unwrap_or(2) + 1;
        let mut dups = vec![-1; pairs.len()];
        let mut cmd = Command::new("/bin/sh");
        cmd.arg("-c")
            .arg(script)
            .stdout(Stdio::piped())
            .stdin(Stdio::null());
        // SAFETY: as in `Criu::spawn`: only fcntl/dup2 in the child, no allocation.
        unsafe {
            cmd.pre_exec(move || map_fds(&pairs, &mut dups, floor));
        }
        let mut child = cmd.spawn()?;
        let mut out = String::new();
        if let Some(mut o) = child.stdout.take() {
            o.read_to_string(&mut out)?;
        }
        child.wait()?;
        Ok(out)
    }

    #[test]
    fn fd_map_handles_collisions() -> io::Result<()> {
        let dir = tempfile::tempdir()?;
        let a = dir.path().join("a");
        let b = dir.path().join("b");
        std::fs::write(&a, "A")?;
        std::fs::write(&b, "B")?;
        let fa = std::fs::File::open(&a)?;
        let fb = std::fs::File::open(&b)?;
        let (ra, rb) = (fa.as_raw_fd(), fb.as_raw_fd());
        // Swap the two numbers: each source is the other's target.
        let fds = [
            (rb, std::os::fd::AsFd::as_fd(&fa)),
            (ra, std::os::fd::AsFd::as_fd(&fb)),
        ];
        let out = run_mapped(&format!("cat /proc/self/fd/{rb} /proc/self/fd/{ra}"), &fds)?;
        assert_eq!(out, "AB");
        Ok(())
    }

    #[test]
    fn fd_map_clears_cloexec_and_leaks_nothing() -> io::Result<()> {
        let f = std::fs::File::open("/dev/null")?;
        // An fd of ours without FD_CLOEXEC, as an fd inherited from our parent is.
        let inherited = OwnedFd::from(std::fs::File::open("/dev/null")?);
        // SAFETY: F_SETFD on an fd we own; touches no memory.
        let r = unsafe { libc::fcntl(inherited.as_raw_fd(), libc::F_SETFD, 0) };
        assert_eq!(r, 0);
        let fds = [(40, std::os::fd::AsFd::as_fd(&f))];
        // The fds of the shell (listed by its child ls): its stdio and 40 only.
        let out = run_mapped("ls /proc/$$/fd; true", &fds)?;
        let mut got: Vec<i32> = out
            .split_whitespace()
            .filter_map(|s| s.parse().ok())
            .collect();
        got.sort_unstable();
        assert_eq!(got, [0, 1, 2, 40], "inherited {}", inherited.as_raw_fd());
        Ok(())
    }

    /// A stand-in criu that checks its arguments and exits without answering.
    #[test]
    fn criu_exiting_early_is_a_protocol_error() -> io::Result<()> {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir()?;
        let fake = dir.path().join("criu");
        std::fs::write(
            &fake,
            "#!/bin/sh\n[ \"$1\" = swrk ] && [ -S /proc/self/fd/$2 ] && [ -d /proc/self/fd/9 ] && exit 7\nexit 1\n",
        )?;
        std::fs::set_permissions(&fake, std::fs::Permissions::from_mode(0o755))?;
        let d = std::fs::File::open(dir.path())?;
        let mut req = rpc::Criu_req::new();
        req.set_type(Criu_req_type::DUMP);
        let mut spawned = None;
        struct Record<'a>(&'a mut Option<i32>);
        impl Hooks for Record<'_> {
            fn spawned(&mut self, criu_pid: i32) -> Result<(), CriuError> {
                *self.0 = Some(criu_pid);
                Ok(())
            }
        }
        let r = Criu::new(fake).run(
            req,
            &[(9, std::os::fd::AsFd::as_fd(&d))],
            &mut Record(&mut spawned),
        );
        match r {
            Err(CriuError::Protocol(m)) => assert_eq!(
                m,
                "criu exited before answering the DUMP request (exit status: 7)"
            ),
            other => panic!("{other:?}"),
        }
        assert!(spawned.is_some_and(|p| p > 0));
        Ok(())
    }

    #[test]
    fn bad_fd_maps_are_refused() -> io::Result<()> {
        let f = std::fs::File::open("/dev/null")?;
        let criu = Criu::new(PathBuf::from("/nonexistent/criu"));
        let fd = std::os::fd::AsFd::as_fd(&f);
        let mut req = rpc::Criu_req::new();
        req.set_type(Criu_req_type::VERSION);
        let r = criu.run(req.clone(), &[(2, fd)], &mut NoHooks);
        assert!(matches!(r, Err(CriuError::InvalidArgument(_))), "{r:?}");
        let r = criu.run(req.clone(), &[(5, fd), (5, fd)], &mut NoHooks);
        assert!(matches!(r, Err(CriuError::InvalidArgument(_))), "{r:?}");
        let r = criu.run(req, &[], &mut NoHooks);
        assert!(matches!(r, Err(CriuError::Io { .. })), "{r:?}");
        // A request without its required type is not sent.
        let r = criu.run(rpc::Criu_req::new(), &[], &mut NoHooks);
        assert!(matches!(r, Err(CriuError::Protobuf(_))), "{r:?}");
        Ok(())
    }
}
