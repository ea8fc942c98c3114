//! The source side, `cryo migrate ID --to HOST[:PORT]`.
//!
//! Until the freeze nothing has happened to the container. From the freeze
//! on, every failure goes through [`Source::rollback`]: abort CRIU's page
//! server if it waits for a client, wait for the dump to end (CRIU leaves
//! the tasks alive and frozen: `leave_running` on a container cryo froze
//! first), thaw. Only a `restored` answer from the destination makes the
//! source delete its copy.

use std::io::Read;
use std::net::{IpAddr, TcpListener, TcpStream, ToSocketAddrs};
use std::os::fd::{IntoRawFd, RawFd};
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use cryo_checkpoint::{CgroupsMode, CheckpointOptions, Checkpointed};
use cryo_container::Store;
use cryo_oci::Status;

use crate::error::{Ctx, MigrateError, Result};
use crate::proto::{Conn, Msg, RestoreFlags, RootfsPlan, PROTOCOL};
use crate::util::ms;
use crate::{images, rootfs, util, Bytes, Mode, Progress, Report, DEFAULT_PORT};

#[derive(Debug, Clone)]
pub struct MigrateOptions {
    pub id: String,
    /// `HOST[:PORT]` of the destination's `migrate-receive`.
    pub to: String,
    pub mode: Mode,
    pub criu: Option<PathBuf>,
    /// Where the images are written before they are sent (default
    /// `<root>/@migrate`).
    pub work_dir: Option<PathBuf>,
    /// `ADDR[:PORT]` the page server listens on, as the destination
    /// reaches it (default: our address on the migration connection, and
    /// a free port).
    pub page_server: Option<String>,
    /// CRIU options for dump and restore alike.
    pub flags: RestoreFlags,
    pub link_remap: bool,
    pub connect_timeout: Duration,
    /// Idle timeout on the connection.
    pub timeout: Duration,
}

impl MigrateOptions {
    pub fn new(id: &str, to: &str) -> MigrateOptions {
        MigrateOptions {
            id: id.to_string(),
            to: to.to_string(),
            mode: Mode::Auto,
            criu: None,
            work_dir: None,
            page_server: None,
            flags: RestoreFlags::default(),
            link_remap: false,
            connect_timeout: Duration::from_secs(10),
            timeout: crate::IDLE_TIMEOUT,
        }
    }
}

/// The longest the source waits for the destination's restore.
const RESTORE_TIMEOUT: Duration = Duration::from_secs(600);
/// How long an aborted lazy dump may take to end before its CRIU is killed.
const ABORT_GRACE: Duration = Duration::from_secs(20);

pub fn migrate(store: &Store, opts: &MigrateOptions, p: &mut dyn Progress) -> Result<Report> {
    let started = Instant::now();
    let id = opts.id.as_str();
    cryo_oci::validate_id(id).map_err(|e| MigrateError::Invalid(e.to_string()))?;
    let rec = store.lock(id)?.load()?;
    match rec.status() {
        Status::Running => {}
        Status::Paused => {
            return Err(MigrateError::Invalid(format!(
                "container {id} is paused: resume it first (the migration freezes it itself)"
            )))
        }
        s => {
            return Err(MigrateError::Invalid(format!(
                "container {id} is {s}: only a running container can be migrated"
            )))
        }
    }
    let manage_cgroups_mode = opts
        .flags
        .manage_cgroups_mode
        .as_deref()
        .map(str::parse::<CgroupsMode>)
        .transpose()?;
    let criu = cryo_criu::Criu::locate(opts.criu.as_deref())?;
    let lazy_here = match opts.mode {
        Mode::StopAndCopy => Err("not asked for".to_string()),
        _ => lazy_possible(&criu),
    };
    if let (Mode::PostCopy, Err(why)) = (opts.mode, &lazy_here) {
        return Err(MigrateError::Invalid(format!(
            "post-copy is not possible here: {why}; use --mode stop-and-copy"
        )));
    }

    p.step(&format!("connecting to {}", opts.to));
    let (host, port) = crate::host_port(&opts.to, DEFAULT_PORT)?;
    let mut conn = Conn::new(connect(&host, port, opts.connect_timeout)?)?;
    conn.set_read_timeout(Some(opts.timeout));
    conn.send_magic()?;
    conn.send(&Msg::Hello {
        protocol: PROTOCOL,
        id: id.to_string(),
        rootfs_path: rec.rootfs.to_string_lossy().into_owned(),
        post_copy: lazy_here.is_ok(),
    })?;
    let (lazy_there, plan) = match conn.recv("welcome")? {
        Msg::Welcome {
            protocol,
            lazy_pages,
            rootfs,
        } => {
            if protocol != PROTOCOL {
                return Err(MigrateError::Protocol(format!(
                    "the destination speaks protocol {protocol}, we speak {PROTOCOL}"
                )));
            }
            (lazy_pages, rootfs)
        }
        other => return Err(unexpected(&other, "welcome")),
    };
    let post_copy = lazy_here.is_ok() && lazy_there;
    if opts.mode == Mode::PostCopy && !post_copy {
        let why = "post-copy is not possible: the destination cannot restore lazily \
                   (CRIU's lazy_pages feature check failed there); use --mode stop-and-copy";
        conn.fail(why);
        return Err(MigrateError::Invalid(why.into()));
    }

    // The bundle: config, and the rootfs unless the destination shares it.
    let config = crate::config_to_send(&rec.config)?;
    conn.send(&Msg::Config { config })?;
    let mut bytes = Bytes::default();
    if plan == RootfsPlan::Copy {
        p.step("sending the rootfs");
        bytes.rootfs = send_rootfs(&mut conn, &rec.rootfs, p)?;
    }
    match conn.recv("bundle_ready")? {
        Msg::BundleReady => {}
        other => return Err(unexpected(&other, "bundle_ready")),
    }
    let ps = match post_copy {
        true => Some(page_server_addr(&conn, opts.page_server.as_deref())?),
        false => None,
    };
    let work_root = crate::work_root(store.root(), opts.work_dir.as_deref())?;
    let work =
        cryo_checkpoint::private_dir(&work_root.join(format!("{id}.{}.out", std::process::id())))?;
    let _work_guard = RemoveOnDrop(work.clone());

    let mut ck = CheckpointOptions {
        id: id.to_string(),
        criu: opts.criu.clone(),
        image_path: work.clone(),
        leave_running: true,
        tcp_established: opts.flags.tcp_established,
        network_lock: crate::network_lock(&opts.flags),
        ext_unix_sk: opts.flags.ext_unix_sk,
        shell_job: opts.flags.shell_job,
        file_locks: opts.flags.file_locks,
        link_remap: opts.link_remap,
        manage_cgroups_mode,
        ..Default::default()
    };

    // From here on the container is frozen: every failure rolls back.
    p.step("freezing the container");
    let frozen_at = Instant::now();
    cryo_container::pause(store, id)?;
    let mut src = Source {
        store,
        id,
        conn,
        dump: None,
        in_doubt: false,
    };
    let dumped_at;
    if let Some(addr) = &ps {
        p.step("dumping (all but memory)");
        ck.lazy_pages = true;
        ck.page_server = Some(addr.clone());
        let dump = match LazyDump::start(store, ck, addr) {
            Ok(d) => src.dump.insert(d),
            Err(e) => return Err(src.rollback(e)),
        };
        if let Err(e) = dump.wait_ready(p) {
            return Err(src.rollback(e));
        }
        dumped_at = Instant::now();
        bytes.lazy_pages = images::lazy_bytes(&work);
    } else {
        p.step("dumping");
        if let Err(e) = cryo_checkpoint::checkpoint(store, &ck) {
            return Err(src.rollback(e.into()));
        }
        dumped_at = Instant::now();
    }
    let dump_ms = ms(dumped_at - frozen_at);

    p.step("sending the images");
    bytes.images = match src.send_images(&work, p) {
        Ok(n) => n,
        Err(e) => return Err(src.rollback(e)),
    };
    p.step("restoring on the destination");
    let (pid, restore_ms) = match src.restore(ps.clone(), &opts.flags) {
        Ok(r) => r,
        Err(e) => return Err(src.rollback(e)),
    };
    let running_at = Instant::now();
    let frozen_ms = ms(running_at - frozen_at);

    let mut post_copy_ms = 0.0;
    if let Some(dump) = src.dump.take() {
        p.step("serving memory to the destination");
        let served = dump.finish(p);
        post_copy_ms = ms(running_at.elapsed());
        if let Err(e) = served {
            // The destination's copy may lack pages: ours is whole.
            let _ = src.conn.send(&Msg::Abort {
                reason: format!("the source's page server failed: {e}"),
            });
            return Err(src.rollback(MigrateError::Invalid(format!(
                "post-copy failed after the destination started: {e}; \
                 the destination was told to remove its copy"
            ))));
        }
    }

    // The destination runs the container: let go of ours.
    p.step("deleting the source copy");
    let mut warnings = Vec::new();
    if let Err(e) = cryo_container::delete(store, id, true) {
        warnings.push(format!(
            "the container runs on the destination, but deleting it here failed: {e}; \
             run `cryo delete --force {id}`"
        ));
    }
    let migrated_in = work_root.join("bundles").join(id);
    if rec.bundle == migrated_in {
        let _ = std::fs::remove_dir_all(&migrated_in);
    }
    if let Err(e) = src.conn.send(&Msg::Done) {
        warnings.push(format!("could not tell the destination we are done: {e}"));
    }
    bytes.connection = src.conn.sent + src.conn.received;
    Ok(Report {
        id: id.to_string(),
        to: src.conn.peer().to_string(),
        mode: if ps.is_some() {
            Mode::PostCopy.name()
        } else {
            Mode::StopAndCopy.name()
        },
        frozen_ms,
        total_ms: ms(started.elapsed()),
        post_copy_ms,
        dump_ms,
        restore_ms,
        bytes: bytes.connection + bytes.lazy_pages,
        bytes_detail: bytes,
        destination_pid: pid,
        warnings,
    })
}

/// Why post-copy is not possible here, if it is not.
fn lazy_possible(criu: &cryo_criu::Criu) -> std::result::Result<(), String> {
    match criu.check_features() {
        Ok(f) if f.lazy_pages => {}
        Ok(_) => return Err("CRIU's lazy_pages feature check failed (no userfaultfd)".into()),
        Err(e) => return Err(format!("CRIU's feature check failed: {e}")),
    }
    cryo_checkpoint::lazy::check_page_server_pipes().map_err(|e| e.to_string())
}

fn connect(host: &str, port: u16, timeout: Duration) -> Result<TcpStream> {
    let addrs: Vec<_> = (host, port)
        .to_socket_addrs()
        .ctx(|| format!("resolve {host}"))?
        .collect();
    let mut last = None;
    for a in &addrs {
        match TcpStream::connect_timeout(a, timeout) {
            Ok(s) => return Ok(s),
            Err(e) => last = Some((a, e)),
        }
    }
    match last {
        Some((a, e)) => Err(e).ctx(|| format!("connect to {a}")),
        None => Err(MigrateError::Invalid(format!("{host} has no address"))),
    }
}

fn unexpected(m: &Msg, want: &str) -> MigrateError {
    MigrateError::Protocol(format!("got {} while waiting for {want}", m.name()))
}

/// The page server's `ADDR:PORT`: the explicit one, else our end of the
/// migration connection (the destination reached us from there) and a
/// port that is free now.
fn page_server_addr(conn: &Conn, explicit: Option<&str>) -> Result<String> {
    let local = conn
        .stream()
        .local_addr()
        .ctx(|| "local address of the connection".into())?;
    let (ip, port): (IpAddr, u16) = match explicit {
        Some(s) => {
            let (h, port) = crate::host_port(s, 0)?;
            let ip = h.parse().map_err(|_| {
                MigrateError::Invalid(format!("--page-server {s:?}: want an IP address"))
            })?;
            (ip, port)
        }
        None => (local.ip(), 0),
    };
    let port = match port {
        0 => TcpListener::bind((ip, 0))
            .and_then(|l| l.local_addr())
            .ctx(|| format!("find a free port on {ip}"))?
            .port(),
        p => p,
    };
    Ok(crate::join_host_port(ip, port))
}

fn send_rootfs(conn: &mut Conn, dir: &Path, p: &mut dyn Progress) -> Result<u64> {
    conn.send(&Msg::Rootfs)?;
    let mut tar = rootfs::spawn_create(dir)?;
    let err = rootfs::drain(tar.stderr.take());
    let sent = match tar.stdout.take() {
        Some(mut out) => conn.send_stream(&mut out, &mut |n| p.bytes(n, None)),
        None => Err(MigrateError::Invalid("tar has no stdout".into())),
    };
    let sent = match sent {
        Ok(n) => n,
        Err(e) => {
            let _ = tar.kill();
            let _ = tar.wait();
            return Err(e);
        }
    };
    if let Err(e) = rootfs::finish(tar, err, true) {
        conn.fail(&format!("the source could not archive the rootfs: {e}"));
        return Err(e);
    }
    Ok(sent)
}

struct RemoveOnDrop(PathBuf);

impl Drop for RemoveOnDrop {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A migration past the freeze.
struct Source<'a> {
    store: &'a Store,
    id: &'a str,
    conn: Conn,
    dump: Option<LazyDump>,
    /// The restore request went out and no answer came back: the
    /// destination may be running the container.
    in_doubt: bool,
}

impl Source<'_> {
    fn send_images(&mut self, dir: &Path, p: &mut dyn Progress) -> Result<u64> {
        let files = images::files_to_send(dir)?;
        let total: u64 = files.iter().map(|(_, _, n)| n).sum();
        let mut done = 0u64;
        for (name, path, size) in files {
            self.conn.send(&Msg::File {
                name: name.clone(),
                size,
            })?;
            let mut f = std::fs::File::open(&path).ctx(|| format!("open {}", path.display()))?;
            let sent = self.conn.send_stream(&mut (&mut f).take(size), &mut |n| {
                p.bytes(done + n, Some(total))
            })?;
            if sent != size {
                return Err(MigrateError::Invalid(format!(
                    "{} changed size while it was sent",
                    path.display()
                )));
            }
            done += sent;
        }
        Ok(done)
    }

    fn restore(&mut self, page_server: Option<String>, flags: &RestoreFlags) -> Result<(i32, f64)> {
        self.conn.send(&Msg::Restore {
            page_server,
            flags: flags.clone(),
        })?;
        match self.conn.recv("restoring") {
            Ok(Msg::Restoring) => {}
            Ok(other) => return Err(unexpected(&other, "restoring")),
            Err(e) => return Err(e),
        }
        // From here until its answer, the destination may be running it.
        self.in_doubt = true;
        self.conn.set_read_timeout(Some(RESTORE_TIMEOUT));
        let answer = self.conn.recv("restored");
        match answer {
            Ok(Msg::Restored { pid, restore_ms }) => {
                self.in_doubt = false;
                Ok((pid, restore_ms))
            }
            Ok(other) => Err(unexpected(&other, "restored")),
            // The destination's own words ("restore on the destination
            // failed: ...").
            Err(e @ MigrateError::Remote(_)) => {
                self.in_doubt = false;
                Err(e)
            }
            // Lost, or garbled: no answer.
            Err(e) => Err(e),
        }
    }

    /// Undoes the freeze: the lazy dump is ended, the container thawed
    /// (unless the destination may be running it).
    fn rollback(&mut self, cause: MigrateError) -> MigrateError {
        let mut notes = Vec::new();
        if self.in_doubt && self.dump.as_ref().is_some_and(LazyDump::never_served) {
            // Post-copy, and no lazy-pages daemon ever came for the memory:
            // whatever the destination did, its copy cannot run.
            self.in_doubt = false;
        }
        if self.in_doubt {
            // It may be running there: ask it to remove its copy, but keep
            // ours frozen, so that two never run.
            let _ = self.conn.send(&Msg::Abort {
                reason: format!("the source gave up: {cause}"),
            });
        } else {
            self.conn.fail(&format!("the source gave up: {cause}"));
        }
        if let Some(dump) = self.dump.take() {
            if let Err(e) = dump.abort(self.in_doubt) {
                notes.push(format!("ending the lazy dump: {e}"));
            }
        }
        let id = self.id;
        let outcome = if self.in_doubt {
            format!(
                "the destination did not answer the restore request and may be running the \
                 container: it is left paused here; check the destination, then run \
                 `cryo resume {id}` or `cryo delete --force {id}` here"
            )
        } else {
            match cryo_container::resume(self.store, id) {
                Ok(()) => "the container runs here again".to_string(),
                Err(e) => match cryo_container::state(self.store, id) {
                    Ok(s) if s.status == Status::Running => {
                        "the container runs here again".to_string()
                    }
                    _ => format!("resuming it failed: {e}; run `cryo resume {id}`"),
                },
            }
        };
        notes.push(outcome);
        MigrateError::RolledBack {
            cause: Box::new(cause),
            outcome: notes.join("; "),
        }
    }
}

/// A lazy dump running on its own thread: CRIU dumps all but memory, then
/// serves the memory from its page server until a lazy restore fetched it.
struct LazyDump {
    /// The dump thread; taken by [`LazyDump::join`].
    handle: Option<JoinHandle<cryo_checkpoint::Result<Checkpointed>>>,
    done: mpsc::Receiver<()>,
    status: std::fs::File,
    /// The write end CRIU's status-ready hook closes; ours to close when
    /// the hook never ran.
    status_w: Option<RawFd>,
    addr: String,
    ready: bool,
}

impl LazyDump {
    fn start(store: &Store, mut ck: CheckpointOptions, addr: &str) -> Result<LazyDump> {
        let (r, w) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC)
            .map_err(std::io::Error::from)
            .ctx(|| "pipe".into())?;
        let w = w.into_raw_fd();
        ck.status_fd = Some(w);
        let (tx, done) = mpsc::channel();
        let store = store.clone();
        let handle = std::thread::Builder::new()
            .name("lazy-dump".into())
            .spawn(move || {
                let r = cryo_checkpoint::checkpoint(&store, &ck);
                let _ = tx.send(());
                r
            })
            .ctx(|| "start the dump thread".into())?;
        Ok(LazyDump {
            handle: Some(handle),
            done,
            status: std::fs::File::from(r),
            status_w: Some(w),
            addr: addr.to_string(),
            ready: false,
        })
    }

    /// Whether the page server still waits for its first client.
    fn never_served(&self) -> bool {
        self.ready && !self.finished() && !util::established_on(self.port())
    }

    fn port(&self) -> u16 {
        self.addr
            .rsplit_once(':')
            .and_then(|(_, p)| p.parse::<u16>().ok())
            .unwrap_or(0)
    }

    fn finished(&self) -> bool {
        !matches!(self.done.try_recv(), Err(mpsc::TryRecvError::Empty))
    }

    /// Reads the status byte if it is there.
    fn poll_status(&mut self, wait: Duration) -> bool {
        if !util::readable(&self.status, wait) {
            return false;
        }
        let mut b = [0u8; 1];
        if matches!(self.status.read(&mut b), Ok(1)) {
            // The hook wrote it and closed its end.
            self.status_w = None;
            self.ready = true;
        }
        self.ready
    }

    /// Waits until the page server is ready (CRIU's status-ready).
    fn wait_ready(&mut self, p: &mut dyn Progress) -> Result<()> {
        loop {
            if self.poll_status(Duration::from_millis(50)) {
                return Ok(());
            }
            if self.finished() {
                if self.poll_status(Duration::ZERO) {
                    return Ok(());
                }
                self.close_status_w();
                return Err(MigrateError::Invalid(
                    "the lazy dump ended before its page server was ready".into(),
                ));
            }
            p.tick();
        }
    }

    /// Closes our copy of the write end if the hook never took it. Only
    /// once the dump thread has ended (or cannot reach the hook any more)
    /// is "never took it" final: before that the hook might still close
    /// the fd itself, and a second close could hit an fd reused since.
    fn close_status_w(&mut self) {
        if let Some(w) = self.status_w.take() {
            let _ = nix::unistd::close(w);
        }
    }

    fn join(mut self) -> Result<Checkpointed> {
        let joined = self.handle.take().map(JoinHandle::join);
        if !self.ready && !self.poll_status(Duration::ZERO) {
            self.close_status_w();
        }
        match joined {
            Some(Ok(r)) => Ok(r?),
            Some(Err(_)) => Err(MigrateError::Invalid("the dump thread panicked".into())),
            None => Err(MigrateError::Invalid(
                "the dump thread was joined twice".into(),
            )),
        }
    }

    /// Waits for the page server to have served everything.
    fn finish(self, p: &mut dyn Progress) -> Result<Checkpointed> {
        while let Err(mpsc::RecvTimeoutError::Timeout) =
            self.done.recv_timeout(Duration::from_millis(200))
        {
            p.tick();
        }
        self.join()
    }

    /// Ends the dump early. A page server still waiting for its client is
    /// given one that leaves at once; a client that is connected is let
    /// finish while `patient` (it may be a running restore), else given
    /// [`ABORT_GRACE`]; after that CRIU is killed. CRIU leaves the tasks
    /// alive either way (`leave_running`).
    fn abort(self, patient: bool) -> Result<()> {
        if self.finished() {
            return self.join().map(drop);
        }
        let connected = self.ready && util::established_on(self.port());
        if self.ready && !connected {
            if let Ok(Some(a)) = self.addr.to_socket_addrs().map(|mut a| a.next()) {
                drop(TcpStream::connect_timeout(&a, Duration::from_secs(2)));
            }
        }
        let grace = if patient && connected {
            Duration::from_secs(3600)
        } else {
            ABORT_GRACE
        };
        if let Err(mpsc::RecvTimeoutError::Timeout) = self.done.recv_timeout(grace) {
            util::kill_and_reap(&util::children_with(&["criu", "dump"]));
        }
        self.join().map(drop)
    }
}
