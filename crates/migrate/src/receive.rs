//! The destination side, `cryo migrate-receive --listen ADDR:PORT`.
//!
//! One migration at a time (a restore changes the process's directory and
//! stdio). What a session makes lives under `<root>/@migrate` (or
//! `--dir`): `bundles/<id>/` (config.json, and the rootfs when it was
//! copied) for as long as the container exists, and `<id>.<n>.in/` (the
//! images, private) until the source is done. A session that fails
//! removes both.

use std::io::Write;
use std::net::{SocketAddr, TcpListener};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use cryo_checkpoint::{CgroupsMode, RestoreOptions};
use cryo_container::Store;
use serde::Serialize;
use serde_json::{json, Value};

use crate::error::{Ctx, MigrateError, Result};
use crate::proto::{self, Conn, Msg, RestoreFlags, RootfsPlan, MAX_FILES, PROTOCOL};
use crate::util::ms;
use crate::{rootfs, util, Mode, Progress, DEFAULT_PORT};

#[derive(Debug, Clone)]
pub struct ReceiveOptions {
    /// `ADDR[:PORT]` to listen on.
    pub listen: String,
    /// Exit after the first migration (its outcome is the result).
    pub once: bool,
    pub criu: Option<PathBuf>,
    /// Use the source's rootfs path instead of receiving a copy (shared
    /// storage, or two roots on one machine).
    pub rootfs_from_source_path: bool,
    /// Where bundles and images in flight go (default `<root>/@migrate`).
    pub dir: Option<PathBuf>,
    /// Put the containers' cgroups under this path (their `cgroupsPath`,
    /// or cryo's default `/cryo/<id>`, is appended).
    pub cgroup_prefix: Option<String>,
    /// Most bytes of rootfs and images accepted in one migration.
    pub max_bytes: u64,
    /// Idle timeout on the connection.
    pub timeout: Duration,
}

impl ReceiveOptions {
    pub fn new(listen: &str) -> ReceiveOptions {
        ReceiveOptions {
            listen: listen.to_string(),
            once: false,
            criu: None,
            rootfs_from_source_path: false,
            dir: None,
            cgroup_prefix: None,
            max_bytes: 1 << 40,
            timeout: crate::IDLE_TIMEOUT,
        }
    }
}

/// One migration received.
#[derive(Debug, Clone, Serialize)]
pub struct Received {
    pub id: String,
    /// The source, as it connected from.
    pub from: String,
    pub mode: &'static str,
    /// The restored init.
    pub pid: i32,
    pub bundle: PathBuf,
    pub restore_ms: f64,
    /// From the connection to the source's `done`.
    pub total_ms: f64,
    /// Bytes on the connection, both ways.
    pub bytes: u64,
    pub warnings: Vec<String>,
}

/// What the receiver tells its caller.
pub trait Sessions {
    fn listening(&mut self, addr: &SocketAddr);
    fn progress(&mut self) -> &mut dyn Progress;
    fn finished(&mut self, result: &Result<Received>);
}

/// Listens and receives migrations, one at a time: forever, or with
/// `once` until the first ends (then its result is returned).
pub fn receive(store: &Store, opts: &ReceiveOptions, s: &mut dyn Sessions) -> Result<()> {
    let (host, port) = crate::host_port(&opts.listen, DEFAULT_PORT)?;
    let host = host.trim_start_matches('[').trim_end_matches(']');
    let listener = TcpListener::bind((host, port)).ctx(|| format!("listen on {}", opts.listen))?;
    let dir = crate::work_root(store.root(), opts.dir.as_deref())?;
    let bundles = dir.join("bundles");
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o711)
        .create(&bundles)
        .ctx(|| format!("create {}", bundles.display()))?;
    sweep_bundles(store, &bundles);
    let criu = cryo_criu::Criu::locate(opts.criu.as_deref())?;
    let addr = listener
        .local_addr()
        .ctx(|| "address of the listener".into())?;
    listener
        .set_nonblocking(true)
        .ctx(|| "set the listener non-blocking".into())?;
    s.listening(&addr);
    loop {
        let stream = match listener.accept() {
            Ok((stream, _)) => stream,
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                // Between migrations the only children are restored inits
                // and finished lazy-pages daemons.
                while let Ok(Some(_)) = cryo_sys::process::reap_any() {}
                util::readable(&listener, Duration::from_secs(1));
                continue;
            }
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e).ctx(|| "accept a connection".into()),
        };
        let _ = stream.set_nonblocking(false);
        let r = session(store, opts, &criu, &dir, stream, s.progress());
        s.finished(&r);
        if opts.once {
            return r.map(drop);
        }
    }
}

/// Removes received bundles whose container no longer exists.
fn sweep_bundles(store: &Store, bundles: &Path) {
    let Ok(entries) = std::fs::read_dir(bundles) else {
        return;
    };
    for e in entries.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        if cryo_oci::validate_id(&name).is_ok() && !store.dir(&name).exists() {
            let _ = std::fs::remove_dir_all(e.path());
        }
    }
}

/// What a failed session removes.
struct Cleanup<'a> {
    store: &'a Store,
    id: String,
    bundle: Option<PathBuf>,
    images: Option<PathBuf>,
    /// The restored container (removed only when the source aborts).
    container: bool,
}

impl Drop for Cleanup<'_> {
    fn drop(&mut self) {
        if self.container {
            let _ = cryo_container::delete(self.store, &self.id, true);
        }
        if let Some(images) = self.images.take() {
            util::kill_and_reap(&util::children_with(&[
                "lazy-pages",
                &images.to_string_lossy(),
            ]));
            let _ = std::fs::remove_dir_all(images);
        }
        if let Some(b) = self.bundle.take() {
            let _ = std::fs::remove_dir_all(b);
        }
    }
}

fn refuse<T>(conn: &mut Conn, msg: String) -> Result<T> {
    conn.fail(&msg);
    Err(MigrateError::Invalid(msg))
}

fn session(
    store: &Store,
    opts: &ReceiveOptions,
    criu: &cryo_criu::Criu,
    dir: &Path,
    stream: std::net::TcpStream,
    p: &mut dyn Progress,
) -> Result<Received> {
    let started = Instant::now();
    let mut conn = Conn::new(stream)?;
    conn.set_read_timeout(Some(opts.timeout));
    conn.recv_magic()?;
    let (id, rootfs_path) = match conn.recv("hello")? {
        Msg::Hello {
            protocol,
            id,
            rootfs_path,
            ..
        } => {
            if protocol != PROTOCOL {
                return refuse(
                    &mut conn,
                    format!("the source speaks protocol {protocol}, we speak {PROTOCOL}"),
                );
            }
            (id, rootfs_path)
        }
        other => return Err(unexpected(&other, "hello")),
    };
    if let Err(e) = cryo_oci::validate_id(&id) {
        return refuse(&mut conn, e.to_string());
    }
    p.step(&format!("receiving {id} from {}", conn.peer()));
    if store.dir(&id).exists() {
        return refuse(
            &mut conn,
            format!("container {id} already exists on the destination"),
        );
    }
    let plan = if opts.rootfs_from_source_path {
        let p = Path::new(&rootfs_path);
        if !p.is_absolute() || !p.is_dir() {
            return refuse(
                &mut conn,
                format!("the rootfs {rootfs_path} is not a directory on the destination"),
            );
        }
        RootfsPlan::Shared
    } else {
        RootfsPlan::Copy
    };
    let lazy_pages = criu.check_features().is_ok_and(|f| f.lazy_pages);
    conn.send(&Msg::Welcome {
        protocol: PROTOCOL,
        lazy_pages,
        rootfs: plan,
    })?;
    let config = match conn.recv("config")? {
        Msg::Config { config } => config,
        other => return Err(unexpected(&other, "config")),
    };
    let config = match edit_config(
        config,
        plan,
        &rootfs_path,
        &id,
        opts.cgroup_prefix.as_deref(),
    )
    .and_then(|c| check_cgroup_free(&c, &id).map(|()| c))
    {
        Ok(c) => c,
        Err(e) => return refuse(&mut conn, e.to_string()),
    };

    // The bundle.
    let bundle = dir.join("bundles").join(&id);
    if bundle.exists() {
        // Left by a container of this id that is gone (it does not exist).
        std::fs::remove_dir_all(&bundle).ctx(|| format!("remove stale {}", bundle.display()))?;
    }
    std::fs::DirBuilder::new()
        .mode(0o755)
        .create(&bundle)
        .ctx(|| format!("create {}", bundle.display()))?;
    let mut cleanup = Cleanup {
        store,
        id: id.clone(),
        bundle: Some(bundle.clone()),
        images: None,
        container: false,
    };
    let config_bytes = serde_json::to_vec_pretty(&config)
        .map_err(|e| MigrateError::Invalid(format!("config: {e}")))?;
    std::fs::write(bundle.join("config.json"), config_bytes)
        .ctx(|| format!("write {}/config.json", bundle.display()))?;
    let mut budget = opts.max_bytes;
    if plan == RootfsPlan::Copy {
        match conn.recv("rootfs")? {
            Msg::Rootfs => {}
            other => return Err(unexpected(&other, "rootfs")),
        }
        p.step("receiving the rootfs");
        let n = receive_rootfs(&mut conn, &bundle.join("rootfs"), budget, p)?;
        budget -= n;
    }
    conn.send(&Msg::BundleReady)?;

    // The images.
    let images = cryo_checkpoint::private_dir(&dir.join(format!(
        "{id}.{}.in",
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0)
    )))?;
    cleanup.images = Some(images.clone());
    let mut files = 0usize;
    let mut received = 0u64;
    p.step("receiving the images");
    let (page_server, flags) = loop {
        match conn.recv("file or restore")? {
            Msg::File { name, size } => {
                proto::check_file_name(&name)?;
                files += 1;
                if files > MAX_FILES || size > budget {
                    return refuse(
                        &mut conn,
                        format!(
                            "the images exceed the destination's limits ({MAX_FILES} files, \
                             {} bytes)",
                            opts.max_bytes
                        ),
                    );
                }
                let path = images.join(&name);
                let mut f = std::fs::OpenOptions::new()
                    .write(true)
                    .create_new(true)
                    .mode(0o600)
                    .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
                    .open(&path)
                    .ctx(|| format!("create {}", path.display()))?;
                let base = received;
                let n =
                    conn.recv_stream(&mut f, size, Some(size), &mut |n| p.bytes(base + n, None))?;
                budget -= n;
                received += n;
            }
            Msg::Restore { page_server, flags } => break (page_server, flags),
            other => return Err(unexpected(&other, "file or restore")),
        }
    };

    // The restore. Once the source heard `restoring`, a lost connection
    // leaves it in doubt (it keeps its copy frozen); before, it resumes.
    conn.send(&Msg::Restoring)?;
    p.step(if page_server.is_some() {
        "restoring (post-copy)"
    } else {
        "restoring"
    });
    let restore_started = Instant::now();
    let restored = match restore(
        store,
        opts,
        &id,
        &bundle,
        &images,
        page_server.clone(),
        &flags,
    ) {
        Ok(r) => r,
        Err(e) => {
            let msg = format!("restore on the destination failed: {e}");
            drop(cleanup);
            conn.fail(&msg);
            return Err(MigrateError::Invalid(msg));
        }
    };
    let restore_ms = ms(restore_started.elapsed());
    cleanup.container = true;
    let mut warnings = Vec::new();
    let daemons = util::children_with(&["lazy-pages", &images.to_string_lossy()]);
    if let Err(e) = conn.send(&Msg::Restored {
        pid: restored.pid,
        restore_ms,
    }) {
        warnings.push(format!("could not tell the source it runs here: {e}"));
    }
    if page_server.is_some() {
        p.step("receiving memory (post-copy)");
    }
    // Post-copy lasts as long as the memory takes to come over.
    conn.set_read_timeout(None);
    match conn.recv("done") {
        Ok(Msg::Done) => {
            let left = util::wait_children(&daemons, Duration::from_secs(10));
            if !left.is_empty() {
                warnings.push(format!(
                    "the lazy-pages daemon (pid {left:?}) is still running; its images stay in {}",
                    images.display()
                ));
                cleanup.images = None;
            }
        }
        Ok(Msg::Abort { reason }) | Err(MigrateError::Remote(reason)) => {
            // `cleanup` removes the container.
            return Err(MigrateError::Remote(format!(
                "the source aborted the migration, the copy here was removed: {reason}"
            )));
        }
        Ok(other) => {
            warnings.push(format!("got {} while waiting for done", other.name()));
            cleanup.images = None;
        }
        Err(e) => {
            // The source is gone after it heard we run the container: it
            // is ours.
            warnings.push(format!("the source did not say it was done: {e}"));
            if daemons
                .iter()
                .any(|&d| Path::new(&format!("/proc/{d}")).exists())
            {
                cleanup.images = None;
            }
        }
    }
    cleanup.container = false;
    cleanup.bundle = None;
    let bytes = conn.sent + conn.received;
    Ok(Received {
        id,
        from: conn.peer().to_string(),
        mode: if page_server.is_some() {
            Mode::PostCopy.name()
        } else {
            Mode::StopAndCopy.name()
        },
        pid: restored.pid,
        bundle,
        restore_ms,
        total_ms: ms(started.elapsed()),
        bytes,
        warnings,
    })
}

fn unexpected(m: &Msg, want: &str) -> MigrateError {
    MigrateError::Protocol(format!("got {} while waiting for {want}", m.name()))
}

fn restore(
    store: &Store,
    opts: &ReceiveOptions,
    id: &str,
    bundle: &Path,
    images: &Path,
    page_server: Option<String>,
    flags: &RestoreFlags,
) -> Result<cryo_checkpoint::Restored> {
    let manage_cgroups_mode = flags
        .manage_cgroups_mode
        .as_deref()
        .map(str::parse::<CgroupsMode>)
        .transpose()?;
    let ro = RestoreOptions {
        id: id.to_string(),
        criu: opts.criu.clone(),
        bundle: bundle.to_path_buf(),
        image_path: images.to_path_buf(),
        tcp_established: flags.tcp_established,
        network_lock: crate::network_lock(flags),
        ext_unix_sk: flags.ext_unix_sk,
        shell_job: flags.shell_job,
        file_locks: flags.file_locks,
        manage_cgroups_mode,
        lazy_pages: page_server.is_some(),
        page_server,
        ..Default::default()
    };
    let restored = util::with_null_stdio(|| cryo_checkpoint::restore(store, &ro))??;
    Ok(restored)
}

fn receive_rootfs(conn: &mut Conn, dir: &Path, limit: u64, p: &mut dyn Progress) -> Result<u64> {
    std::fs::DirBuilder::new()
        .mode(0o755)
        .create(dir)
        .ctx(|| format!("create {}", dir.display()))?;
    let mut tar = rootfs::spawn_extract(dir)?;
    let err = rootfs::drain(tar.stderr.take());
    let got = match tar.stdin.take() {
        Some(mut input) => {
            let r = conn.recv_stream(&mut input, limit, None, &mut |n| p.bytes(n, None));
            let _ = input.flush();
            r
        }
        None => Err(MigrateError::Invalid("tar has no stdin".into())),
    };
    let got = match got {
        Ok(n) => n,
        Err(e) => {
            let _ = tar.kill();
            let _ = tar.wait();
            return Err(e);
        }
    };
    rootfs::finish(tar, err, false)?;
    Ok(got)
}

/// The received config.json as this host's bundle has it: the rootfs
/// where it now is, the cgroup under `--cgroup-prefix`.
fn edit_config(
    mut config: Value,
    plan: RootfsPlan,
    rootfs_path: &str,
    id: &str,
    cgroup_prefix: Option<&str>,
) -> Result<Value> {
    let spec: oci_spec::runtime::Spec = serde_json::from_value(config.clone())
        .map_err(|e| MigrateError::Invalid(format!("the source's config.json: {e}")))?;
    cryo_container::create::check_supported(&spec)?;
    let cgroup = cryo_container::create::cgroup_path_for(&spec, id);
    let own = spec
        .linux()
        .as_ref()
        .and_then(|l| l.cgroups_path().as_ref())
        .map(|p| p.to_string_lossy().into_owned())
        .unwrap_or_default();
    let obj = config
        .as_object_mut()
        .ok_or_else(|| MigrateError::Invalid("the source's config.json is not an object".into()))?;
    let root = obj.entry("root").or_insert_with(|| json!({}));
    root["path"] = json!(match plan {
        RootfsPlan::Copy => "rootfs",
        RootfsPlan::Shared => rootfs_path,
    });
    if let Some(prefix) = cgroup_prefix {
        if cgroup.contains(':') {
            return Err(MigrateError::Invalid(format!(
                "--cgroup-prefix does not apply to the systemd cgroup path {cgroup:?}"
            )));
        }
        let linux = obj.entry("linux").or_insert_with(|| json!({}));
        linux["cgroupsPath"] = json!(format!(
            "/{}/{}",
            prefix.trim_matches('/'),
            cgroup.trim_start_matches('/')
        ));
        let notes = obj.entry("annotations").or_insert_with(|| json!({}));
        notes[crate::CGROUPS_PATH_ANNOTATION] = json!(own);
    }
    Ok(config)
}

/// Refuses a cgroup that already has processes here (another container's:
/// the restored one would share its limits and freezer).
fn check_cgroup_free(config: &Value, id: &str) -> Result<()> {
    let spec: oci_spec::runtime::Spec = serde_json::from_value(config.clone())
        .map_err(|e| MigrateError::Invalid(format!("config: {e}")))?;
    let path = cryo_container::create::cgroup_path_for(&spec, id);
    let busy = cryo_cgroups::open(&path)
        .and_then(|c| c.processes())
        .is_ok_and(|p| !p.is_empty());
    if busy {
        return Err(MigrateError::Invalid(format!(
            "cgroup {path} already has processes on the destination \
             (migrate-receive --cgroup-prefix puts migrated containers elsewhere)"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec() -> Value {
        json!({
            "ociVersion": "1.0.2",
            "root": {"path": "rootfs", "readonly": true},
            "process": {"cwd": "/", "args": ["sh"], "user": {"uid": 0, "gid": 0}},
            "linux": {}
        })
    }

    #[test]
    fn config_follows_the_plan() -> Result<()> {
        let c = edit_config(spec(), RootfsPlan::Shared, "/src/rootfs", "x", None)?;
        assert_eq!(c["root"]["path"], "/src/rootfs");
        assert_eq!(c["root"]["readonly"], true);
        assert!(c["linux"].get("cgroupsPath").is_none());
        let c = edit_config(spec(), RootfsPlan::Copy, "/src/rootfs", "x", Some("/b/"))?;
        assert_eq!(c["root"]["path"], "rootfs");
        assert_eq!(c["linux"]["cgroupsPath"], "/b/cryo/x");
        // Sent on, the config is the container's own again.
        let parsed: oci_spec::runtime::Spec =
            serde_json::from_value(c).map_err(|e| MigrateError::Invalid(e.to_string()))?;
        let back = crate::config_to_send(&parsed)?;
        assert!(back["linux"].get("cgroupsPath").is_none(), "{back}");
        assert!(back.get("annotations").is_none(), "{back}");
        let mut s = spec();
        s["linux"]["cgroupsPath"] = json!("/pods/x");
        let c = edit_config(s, RootfsPlan::Copy, "/r", "x", Some("host-b"))?;
        assert_eq!(c["linux"]["cgroupsPath"], "/host-b/pods/x");
        let parsed: oci_spec::runtime::Spec =
            serde_json::from_value(c).map_err(|e| MigrateError::Invalid(e.to_string()))?;
        assert_eq!(
            crate::config_to_send(&parsed)?["linux"]["cgroupsPath"],
            "/pods/x"
        );
        let mut s = spec();
        s["linux"]["cgroupsPath"] = json!("system.slice:cryo:x");
        assert!(edit_config(s, RootfsPlan::Copy, "/r", "x", Some("/b")).is_err());
        assert!(edit_config(json!([1]), RootfsPlan::Copy, "/r", "x", None).is_err());
        Ok(())
    }
}
