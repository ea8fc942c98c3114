//! Handing the `SCMP_ACT_NOTIFY` listener fd to the seccomp agent at
//! `listenerPath`, as runtime-spec describes: one message on a unix stream
//! socket carrying the container process state (JSON) and, as `SCM_RIGHTS`,
//! the listener fd named `"seccompFd"` in the state's `fds`.

use std::io::{IoSlice, Write};
use std::os::fd::{AsRawFd, BorrowedFd};
use std::os::unix::net::UnixStream;
use std::path::Path;

use nix::sys::socket::{sendmsg, ControlMessage, MsgFlags};
use serde::Serialize;

use crate::SeccompError;

/// Builds the runtime-spec `ContainerProcessState` payload:
/// `{"ociVersion", "fds": ["seccompFd"], "pid", "metadata"?, "state"}`,
/// where `state` is the container's state as `cryo state` prints it,
/// `pid` the container process as seen by the runtime, `metadata` the
/// profile's `listenerMetadata`.
pub fn listener_payload<S: Serialize>(
    oci_version: &str,
    pid: i32,
    metadata: Option<&str>,
    state: &S,
) -> Result<Vec<u8>, SeccompError> {
    let mut v = serde_json::json!({
        "ociVersion": oci_version,
        "fds": [oci_spec::runtime::SECCOMP_FD_NAME],
        "pid": pid,
        "state": state,
    });
    if let (Some(m), Some(obj)) = (metadata, v.as_object_mut()) {
        obj.insert(String::from("metadata"), serde_json::Value::from(m));
    }
    serde_json::to_vec(&v).map_err(SeccompError::Json)
}

/// Connects to the agent's socket `path` and sends `payload` (see
/// [`listener_payload`]; must not be empty) with `listener` attached as
/// `SCM_RIGHTS`. The agent owns its copy of the fd afterwards; the caller
/// may close its own.
pub fn send_listener_fd(
    path: &Path,
    listener: BorrowedFd<'_>,
    payload: &[u8],
) -> Result<(), SeccompError> {
    let io = |what: String| move |source| SeccompError::Io { what, source };
    let what = || {
        format!(
            "linux.seccomp.listenerPath: sending the listener fd to {}",
            path.display()
        )
    };
    if payload.is_empty() {
        return Err(io(what())(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            "empty payload (the fd would not be sent)",
        )));
    }
    let mut sock = UnixStream::connect(path).map_err(io(what()))?;
    let fds = [listener.as_raw_fd()];
    let cmsg = [ControlMessage::ScmRights(&fds)];
    let iov = [IoSlice::new(payload)];
    let sent = sendmsg::<()>(sock.as_raw_fd(), &iov, &cmsg, MsgFlags::MSG_NOSIGNAL, None)
        .map_err(|e| io(what())(std::io::Error::from(e)))?;
    // A stream socket may take the message in parts: the fd went with the first.
    sock.write_all(payload.get(sent..).unwrap_or_default())
        .map_err(io(what()))?;
    Ok(())
}
