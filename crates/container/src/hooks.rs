//! OCI lifecycle hooks: running a hook binary with the container state on
//! its stdin, its own args and env, and a timeout.
//!
//! Where each kind runs (runtime spec 1.0.2):
//! - prestart, createRuntime: by `create`, in the runtime's namespaces,
//!   after the container's namespaces and mounts exist, before pivot_root;
//! - createContainer: by the container init, in the container's
//!   namespaces, before pivot_root;
//! - startContainer: by the init after `start`, just before the user's
//!   program, path resolved in the container;
//! - poststart: by `start` once the program runs; poststop: by `delete`.
//!
//! A failing prestart, createRuntime, createContainer or startContainer
//! hook fails its verb (and the container is torn down); a failing
//! poststart or poststop hook is logged and the lifecycle goes on.

use std::io::{Read, Write};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use oci_spec::runtime::{Hook, Hooks};

/// Which hooks of the spec to run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HookKind {
    Prestart,
    CreateRuntime,
    CreateContainer,
    StartContainer,
    Poststart,
    Poststop,
}

impl HookKind {
    pub fn name(self) -> &'static str {
        match self {
            HookKind::Prestart => "prestart",
            HookKind::CreateRuntime => "createRuntime",
            HookKind::CreateContainer => "createContainer",
            HookKind::StartContainer => "startContainer",
            HookKind::Poststart => "poststart",
            HookKind::Poststop => "poststop",
        }
    }

    pub fn of(self, hooks: &Hooks) -> &[Hook] {
        let list = match self {
            HookKind::Prestart => hooks.prestart(),
            HookKind::CreateRuntime => hooks.create_runtime(),
            HookKind::CreateContainer => hooks.create_container(),
            HookKind::StartContainer => hooks.start_container(),
            HookKind::Poststart => hooks.poststart(),
            HookKind::Poststop => hooks.poststop(),
        };
        list.as_deref().unwrap_or(&[])
    }
}

/// Runs every hook of `kind` in order; stops at the first failure.
pub fn run_all(hooks: Option<&Hooks>, kind: HookKind, state: &[u8]) -> Result<(), String> {
    let Some(hooks) = hooks else { return Ok(()) };
    for (i, hook) in kind.of(hooks).iter().enumerate() {
        run_one(hook, state)
            .map_err(|e| format!("error running {} hook #{i}: {e}", kind.name()))?;
    }
    Ok(())
}

/// Runs one hook: `path` with `args` (args[0] is argv[0]) and exactly
/// `env`, the state JSON on stdin; kills it after `timeout` seconds.
pub fn run_one(hook: &Hook, state: &[u8]) -> Result<(), String> {
    let path = hook.path();
    let mut cmd = Command::new(path);
    let args = hook.args().as_deref().unwrap_or(&[]);
    if let Some((argv0, rest)) = args.split_first() {
        use std::os::unix::process::CommandExt;
        cmd.arg0(argv0);
        cmd.args(rest);
    }
    cmd.env_clear();
    for kv in hook.env().iter().flatten() {
        if let Some((k, v)) = kv.split_once('=') {
            cmd.env(k, v);
        }
    }
    cmd.stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd
        .spawn()
        .map_err(|e| format!("{}: {}", path.display(), crate::error::io_text(&e)))?;
    if let Some(mut stdin) = child.stdin.take() {
        // A hook that does not read its stdin must not make us fail.
        let _ = stdin.write_all(state);
    }
    // Drain its output while it runs so a chatty hook cannot block on a full pipe.
    let drain = |pipe: Option<Box<dyn std::io::Read + Send>>| {
        std::thread::spawn(move || {
            let mut buf = Vec::new();
            if let Some(mut p) = pipe {
                let _ = p.read_to_end(&mut buf);
            }
            buf
        })
    };
    let out_reader = drain(
        child
            .stdout
            .take()
            .map(|p| Box::new(p) as Box<dyn std::io::Read + Send>),
    );
    let err_reader = drain(
        child
            .stderr
            .take()
            .map(|p| Box::new(p) as Box<dyn std::io::Read + Send>),
    );
    let deadline = hook
        .timeout()
        .filter(|t| *t > 0)
        .map(|t| Instant::now() + Duration::from_secs(t as u64));
    loop {
        match child.try_wait() {
            Ok(Some(status)) => {
                let stdout = out_reader.join().unwrap_or_default();
                let stderr = err_reader.join().unwrap_or_default();
                if status.success() {
                    return Ok(());
                }
                let mut msg = format!("{}: {status}", path.display());
                let stderr = String::from_utf8_lossy(&stderr);
                let stdout = String::from_utf8_lossy(&stdout);
                for text in [stdout.trim(), stderr.trim()] {
                    if !text.is_empty() {
                        msg.push_str(&format!(", output: {text}"));
                    }
                }
                return Err(msg);
            }
            Ok(None) => {}
            Err(e) => return Err(format!("wait for {}: {e}", path.display())),
        }
        if deadline.is_some_and(|d| Instant::now() >= d) {
            let _ = child.kill();
            let _ = child.wait();
            return Err(format!("{}: timed out", path.display()));
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// The OCI state as hooks read it: only the spec's fields (no runc extras).
pub fn state_json(state: &cryo_oci::State) -> crate::error::Result<Vec<u8>> {
    let mut v = serde_json::json!({
        "ociVersion": state.oci_version,
        "id": state.id,
        "status": state.status,
        "pid": state.pid,
        "bundle": state.bundle,
    });
    if !state.annotations.is_empty() {
        v["annotations"] = serde_json::json!(state.annotations);
    }
    serde_json::to_vec(&v).map_err(|e| crate::error::ContainerError::Invalid(e.to_string()))
}

static WARNINGS: std::sync::Mutex<Vec<String>> = std::sync::Mutex::new(Vec::new());

/// Records a warning for the CLI to print (failed poststart/poststop hooks).
pub fn warn(msg: String) {
    if let Ok(mut w) = WARNINGS.lock() {
        w.push(msg);
    }
}

/// Warnings recorded since the last call.
pub fn take_warnings() -> Vec<String> {
    WARNINGS
        .lock()
        .map(|mut w| std::mem::take(&mut *w))
        .unwrap_or_default()
}
