use cryo_cli::cli::run::Args;
use cryo_container::Store;

use super::{err, Outcome};

pub fn run(cli: &cryo_cli::Cli, store: &Store, args: &Args) -> Outcome {
    super::create::check_cgroup_manager(cli)?;
    let mut opts = super::create::options(&args.create);
    let id = opts.id.clone();
    if let Some(from) = super::create::restore_source(&opts) {
        return run_restored(cli, store, args, &opts, &from);
    }
    if args.detach {
        cryo_container::create(store, &opts).map_err(err)?;
        if let Err(e) = cryo_container::start(store, &id) {
            let _ = cryo_container::delete(store, &id, true);
            return Err(err(e));
        }
        return Ok(0);
    }
    // A foreground container with a terminal and no console socket gets its
    // pty proxied to our stdio, as with runc.
    let mut console_peer = None;
    if opts.console_socket.is_none() {
        let (ours, theirs) =
            cryo_sys::pty::socket_pair().map_err(|e| format!("console socketpair: {e}"))?;
        opts.console_fd = Some(theirs);
        console_peer = Some(ours);
    }
    // Block signals before forking so none is lost; the container init
    // unblocks them before it execs.
    cryo_sys::process::block_all_signals().map_err(|e| format!("block signals: {e}"))?;
    let created = cryo_container::create(store, &opts).map_err(err)?;
    drop(opts.console_fd.take());
    let terminal = created
        .record
        .config
        .process()
        .as_ref()
        .and_then(|p| p.terminal())
        == Some(true);
    let proxy = match (terminal, console_peer) {
        (true, Some(peer)) => match proxy_console(&peer) {
            Ok(raw) => raw,
            Err(e) => {
                let _ = cryo_container::delete(store, &id, true);
                return Err(e);
            }
        },
        _ => None,
    };
    if let Err(e) = cryo_container::start(store, &id) {
        let _ = cryo_container::delete(store, &id, true);
        return Err(err(e));
    }
    let code = cryo_container::wait_forwarding_signals(created.pid).map_err(err)?;
    if let Some((raw, output)) = proxy {
        // The slave is gone with the container: the copy ends at EIO.
        let _ = output.join();
        drop(raw);
    }
    if !args.keep {
        cryo_container::delete(store, &id, true).map_err(err)?;
    }
    Ok(u8::try_from(code).unwrap_or(255))
}

/// `run` of a bundle annotated `org.cryo.restore-from`: restore (frozen),
/// start (thaw), then detach or wait like any `run`.
fn run_restored(
    cli: &cryo_cli::Cli,
    store: &Store,
    args: &Args,
    opts: &cryo_container::CreateOptions,
    from: &std::path::Path,
) -> Outcome {
    let id = opts.id.clone();
    if !args.detach {
        cryo_sys::process::block_all_signals().map_err(|e| format!("block signals: {e}"))?;
    }
    let pid = super::create::create_by_restore(cli, store, opts, from)?;
    if let Err(e) = cryo_container::start(store, &id) {
        let _ = cryo_container::delete(store, &id, true);
        return Err(err(e));
    }
    if args.detach {
        return Ok(0);
    }
    super::restore::wait_restored(store, &id, pid, args.keep)
}

/// Receives the pty master and copies between it and our stdio.
pub type Proxy = (Option<cryo_sys::pty::RawMode>, std::thread::JoinHandle<()>);

pub fn proxy_console(peer: &std::os::fd::OwnedFd) -> Result<Option<Proxy>, String> {
    let mut buf = [0u8; 256];
    let (_, master) =
        cryo_sys::fd::recv_fd(peer, &mut buf).map_err(|e| format!("receive pty master: {e}"))?;
    let master = master.ok_or("container did not send its pty master")?;
    if let Some((rows, cols)) = cryo_sys::pty::get_winsize(&std::io::stdin()) {
        let _ = cryo_sys::pty::set_winsize(&master, rows, cols);
    }
    let raw = cryo_sys::pty::stdin_raw();
    let out = std::fs::File::from(master);
    let mut input = out
        .try_clone()
        .map_err(|e| format!("dup pty master: {e}"))?;
    let mut output = out;
    std::thread::spawn(move || {
        let _ = std::io::copy(&mut std::io::stdin(), &mut input);
    });
    let output = std::thread::spawn(move || {
        let _ = std::io::copy(&mut output, &mut std::io::stdout());
    });
    Ok(Some((raw, output)))
}
