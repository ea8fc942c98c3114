use cryo_cli::cli::exec::Args;
use cryo_container::{ExecOptions, Store};

use super::{absolute, err, Outcome};

fn build_process(store: &Store, a: &Args) -> Result<oci_spec::runtime::Process, String> {
    if a.process_label.as_deref().is_some_and(|s| !s.is_empty()) {
        return Err("--process-label: SELinux is not supported by cryo on this host".into());
    }
    if a.apparmor.as_deref().is_some_and(|s| !s.is_empty()) {
        return Err("--apparmor: AppArmor is not supported by cryo on this host".into());
    }
    if let Some(path) = &a.process {
        return cryo_oci::load_process(&absolute(path)).map_err(err);
    }
    if a.command.is_empty() {
        return Err(
            "exec: no command given (pass arguments after the container id or --process)".into(),
        );
    }
    let mut p = cryo_container::exec::base_process(store, &a.id).map_err(err)?;
    p.set_args(Some(a.command.clone()));
    p.set_terminal(Some(a.tty));
    p.set_console_size(None);
    if !a.env.is_empty() {
        let mut env = p.env().clone().unwrap_or_default();
        env.extend(a.env.iter().cloned());
        p.set_env(Some(env));
    }
    if let Some(cwd) = &a.cwd {
        p.set_cwd(cwd.clone());
    }
    if let Some(u) = &a.user {
        let (uid, gid) = match u.split_once(':') {
            Some((u, g)) => (u, Some(g)),
            None => (u.as_str(), None),
        };
        let mut user = p.user().clone();
        user.set_uid(
            uid.parse()
                .map_err(|_| format!("--user {u}: uid must be a number"))?,
        );
        user.set_gid(match gid {
            Some(g) => g
                .parse()
                .map_err(|_| format!("--user {u}: gid must be a number"))?,
            None => 0,
        });
        p.set_user(user);
    }
    if !a.additional_gids.is_empty() {
        let mut user = p.user().clone();
        user.set_additional_gids(Some(a.additional_gids.clone()));
        p.set_user(user);
    }
    if a.no_new_privs {
        p.set_no_new_privileges(Some(true));
    }
    if !a.cap.is_empty() {
        use std::str::FromStr;
        let mut caps = p.capabilities().clone().unwrap_or_default();
        let extra: Vec<oci_spec::runtime::Capability> = a
            .cap
            .iter()
            .map(|c| {
                // oci-spec parses the names without the CAP_ prefix.
                let upper = c.to_ascii_uppercase();
                let bare = upper.strip_prefix("CAP_").unwrap_or(&upper);
                oci_spec::runtime::Capability::from_str(bare)
                    .map_err(|_| format!("unknown capability {c:?}"))
            })
            .collect::<Result<_, _>>()?;
        let add = |set: Option<&oci_spec::runtime::Capabilities>| {
            let mut s = set.cloned().unwrap_or_default();
            s.extend(extra.iter().copied());
            Some(s)
        };
        caps.set_bounding(add(caps.bounding().as_ref()));
        caps.set_effective(add(caps.effective().as_ref()));
        caps.set_permitted(add(caps.permitted().as_ref()));
        p.set_capabilities(Some(caps));
    }
    Ok(p)
}

pub fn run(store: &Store, a: &Args) -> Outcome {
    let process = build_process(store, a)?;
    let terminal = process.terminal() == Some(true);
    let mut opts = ExecOptions {
        id: a.id.clone(),
        process,
        console_socket: a.console_socket.as_deref().map(absolute),
        console_fd: None,
        pid_file: a.pid_file.as_deref().map(absolute),
        preserve_fds: a.preserve_fds,
        ignore_paused: a.ignore_paused,
    };
    if a.detach {
        cryo_container::exec(store, &opts).map_err(err)?;
        return Ok(0);
    }
    let mut console_peer = None;
    if terminal && opts.console_socket.is_none() {
        let (ours, theirs) =
            cryo_sys::pty::socket_pair().map_err(|e| format!("console socketpair: {e}"))?;
        opts.console_fd = Some(theirs);
        console_peer = Some(ours);
    }
    cryo_sys::process::block_all_signals().map_err(|e| format!("block signals: {e}"))?;
    let execed = cryo_container::exec(store, &opts).map_err(err)?;
    drop(opts.console_fd.take());
    let proxy = match console_peer {
        Some(peer) => super::run::proxy_console(&peer)?,
        None => None,
    };
    let code = cryo_container::wait_forwarding_signals(execed.pid).map_err(err)?;
    if let Some((raw, output)) = proxy {
        let _ = output.join();
        drop(raw);
    }
    Ok(u8::try_from(code).unwrap_or(255))
}
