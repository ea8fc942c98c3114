//! Container id rules. An id names a directory under the state root, so it must
//! never be able to address anything else.

/// Longest id accepted (runc accepts anything that fits a file name; we keep
/// ids short enough that `<root>/<id>/<file>` stays well below PATH_MAX).
pub const MAX_ID_LEN: usize = 1024;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum IdError {
    #[error("container id cannot be empty")]
    Empty,
    #[error("invalid container ID format: {0}")]
    Format(String),
    #[error("invalid container ID format: id is longer than {MAX_ID_LEN} bytes")]
    TooLong,
}

/// Accepts ids made of `[A-Za-z0-9_+.-]`, like runc, and refuses `.` and `..`.
pub fn validate_id(id: &str) -> Result<(), IdError> {
    if id.is_empty() {
        return Err(IdError::Empty);
    }
    if id.len() > MAX_ID_LEN {
        return Err(IdError::TooLong);
    }
    if id == "." || id == ".." {
        return Err(IdError::Format(id.to_string()));
    }
    let ok = id
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'+' | b'-' | b'.'));
    if !ok {
        return Err(IdError::Format(id.escape_debug().to_string()));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_runc_style_ids() {
        for id in [
            "abc",
            "a.b-c_d+e",
            "09cf33d8cfbe8f1a53c8ca06c57afe72dd5d9eb1a013987e74304cf6d79832cf",
        ] {
            assert_eq!(validate_id(id), Ok(()), "{id}");
        }
    }

    #[test]
    fn refuses_path_tricks() {
        for id in [
            "",
            ".",
            "..",
            "../x",
            "a/b",
            "/abs",
            "a\0b",
            "new\nline",
            "sp ace",
        ] {
            assert!(validate_id(id).is_err(), "{id:?} must be refused");
        }
        assert_eq!(
            validate_id(&"a".repeat(MAX_ID_LEN + 1)),
            Err(IdError::TooLong)
        );
    }
}
