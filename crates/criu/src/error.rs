//! Errors of the CRIU client.

use nix::errno::Errno;

#[derive(Debug, thiserror::Error)]
pub enum CriuError {
    /// No usable criu binary: the message names what was looked at.
    #[error("criu not found: {0}")]
    NotFound(String),
    /// A system call on our side failed.
    #[error("{context}: {}", errno_text(*source))]
    Sys { context: String, source: Errno },
    /// An I/O operation on our side failed (spawning criu, reading its answer).
    #[error("{context}: {}", io_text(source))]
    Io {
        context: String,
        source: std::io::Error,
    },
    /// A request could not be encoded or an answer could not be decoded.
    #[error("criu rpc: {0}")]
    Protobuf(#[from] protobuf::Error),
    /// CRIU answered the request with `success = false`.
    #[error("criu failed: type {request} errno {errno}{}", failed_message(message.as_deref()))]
    Failed {
        /// The request type, as CRIU's rpc.proto names it (`DUMP`, `RESTORE`, ...).
        request: String,
        /// `cr_errno` of the answer (0 when CRIU did not set it).
        errno: i32,
        /// `cr_errmsg` of the answer.
        message: Option<String>,
    },
    /// CRIU did not follow the protocol: an unexpected answer, a missing field,
    /// or an exit before the final answer.
    #[error("criu rpc: {0}")]
    Protocol(String),
    /// The caller passed something `run` cannot carry out.
    #[error("criu rpc: {0}")]
    InvalidArgument(String),
    /// An error of the caller's [`Hooks`](crate::Hooks), passed through as it is.
    #[error("{0}")]
    Hook(Box<dyn std::error::Error + Send + Sync + 'static>),
}

impl CriuError {
    /// Wraps any error of a hook (`CriuError::hook("no cgroup")` works too).
    pub fn hook(e: impl Into<Box<dyn std::error::Error + Send + Sync + 'static>>) -> Self {
        CriuError::Hook(e.into())
    }

    pub(crate) fn sys(context: impl Into<String>, source: Errno) -> Self {
        CriuError::Sys {
            context: context.into(),
            source,
        }
    }

    pub(crate) fn io(context: impl Into<String>, source: std::io::Error) -> Self {
        CriuError::Io {
            context: context.into(),
            source,
        }
    }
}

/// strerror text with a lower-case first letter, as Go prints errnos.
fn errno_text(e: Errno) -> String {
    let d = e.desc();
    let mut c = d.chars();
    match c.next() {
        Some(f) => f.to_lowercase().chain(c).collect(),
        None => String::new(),
    }
}

fn io_text(e: &std::io::Error) -> String {
    match e.raw_os_error() {
        Some(n) => errno_text(Errno::from_raw(n)),
        None => e.to_string(),
    }
}

fn failed_message(m: Option<&str>) -> String {
    match m {
        Some(m) if !m.is_empty() => format!(": {m}"),
        _ => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failed_wording() {
        let e = CriuError::Failed {
            request: "DUMP".into(),
            errno: 0,
            message: None,
        };
        assert_eq!(e.to_string(), "criu failed: type DUMP errno 0");
        let e = CriuError::Failed {
            request: "RESTORE".into(),
            errno: 2,
            message: Some("No such file".into()),
        };
        assert_eq!(
            e.to_string(),
            "criu failed: type RESTORE errno 2: No such file"
        );
        assert_eq!(CriuError::hook("boom").to_string(), "boom");
    }
}
