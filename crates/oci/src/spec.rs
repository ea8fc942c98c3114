//! Loading `config.json` (and `exec --process` files) with errors that name
//! the offending field, plus the checks that must fail before anything is
//! created.

use std::path::{Path, PathBuf};

use oci_spec::runtime::{Process, Spec};

/// Larger config files are refused rather than read into memory.
pub const MAX_CONFIG_BYTES: u64 = 16 * 1024 * 1024;

#[derive(Debug, thiserror::Error)]
pub enum SpecError {
    #[error("open {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: file is larger than {MAX_CONFIG_BYTES} bytes")]
    TooLarge { path: PathBuf },
    #[error("{path}: invalid JSON at field `{field}`: {message}")]
    Parse {
        path: PathBuf,
        field: String,
        message: String,
    },
    #[error("config.json: {0}")]
    Invalid(String),
}

fn read_limited(path: &Path) -> Result<Vec<u8>, SpecError> {
    use std::io::Read;
    let file = std::fs::File::open(path).map_err(|source| SpecError::Read {
        path: path.into(),
        source,
    })?;
    let mut buf = Vec::new();
    file.take(MAX_CONFIG_BYTES + 1)
        .read_to_end(&mut buf)
        .map_err(|source| SpecError::Read {
            path: path.into(),
            source,
        })?;
    if buf.len() as u64 > MAX_CONFIG_BYTES {
        return Err(SpecError::TooLarge { path: path.into() });
    }
    Ok(buf)
}

/// Parses JSON into `T`, reporting the JSON path of the first bad field.
pub fn parse_json<T: serde::de::DeserializeOwned>(
    path: &Path,
    bytes: &[u8],
) -> Result<T, SpecError> {
    let de = &mut serde_json::Deserializer::from_slice(bytes);
    serde_path_to_error::deserialize(de).map_err(|e| {
        let field = e.path().to_string();
        SpecError::Parse {
            path: path.into(),
            field,
            message: e.into_inner().to_string(),
        }
    })
}

/// Parses the bytes of a `config.json` (`path` names it in errors).
/// Not generic, so its callers (fuzz targets too) share one copy of the
/// large deserializer.
pub fn parse_spec(path: &Path, bytes: &[u8]) -> Result<Spec, SpecError> {
    parse_json(path, bytes)
}

/// Parses the bytes of an `exec --process` file.
pub fn parse_process(path: &Path, bytes: &[u8]) -> Result<Process, SpecError> {
    parse_json(path, bytes)
}

/// Loads and validates `<bundle>/config.json`.
pub fn load_spec(bundle: &Path) -> Result<Spec, SpecError> {
    let path = bundle.join("config.json");
    let spec = parse_spec(&path, &read_limited(&path)?)?;
    validate(&spec)?;
    Ok(spec)
}

/// Loads a process JSON file as passed to `exec --process`.
pub fn load_process(path: &Path) -> Result<Process, SpecError> {
    parse_process(path, &read_limited(path)?)
}

/// The checks runc makes before creating anything.
pub fn validate(spec: &Spec) -> Result<(), SpecError> {
    let root = spec
        .root()
        .as_ref()
        .ok_or_else(|| SpecError::Invalid("root must be specified".into()))?;
    if root.path().as_os_str().is_empty() {
        return Err(SpecError::Invalid("root.path is empty".into()));
    }
    let process = spec
        .process()
        .as_ref()
        .ok_or_else(|| SpecError::Invalid("process must be specified".into()))?;
    if process.args().as_ref().is_none_or(|a| a.is_empty()) {
        return Err(SpecError::Invalid("args must not be empty".into()));
    }
    if !process.cwd().is_absolute() {
        return Err(SpecError::Invalid(format!(
            "cwd {:?} is not an absolute path",
            process.cwd()
        )));
    }
    if let Some(mounts) = spec.mounts() {
        for m in mounts {
            if !m.destination().is_absolute() {
                return Err(SpecError::Invalid(format!(
                    "mount destination {:?} is not absolute",
                    m.destination()
                )));
            }
        }
    }
    Ok(())
}

/// The default `config.json` written by `cryo spec` (runc's, hostname "cryo").
pub fn default_spec_json() -> &'static str {
    include_str!("default-spec.json")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_spec_parses_and_validates() {
        let spec: Spec =
            parse_json(Path::new("default"), default_spec_json().as_bytes()).expect("parse");
        validate(&spec).expect("valid");
        assert_eq!(spec.hostname().as_deref(), Some("cryo"));
    }

    #[test]
    fn errors_name_the_field() {
        let bad = r#"{"ociVersion":"1.0.2","root":{"path":"rootfs"},"process":{"cwd":"/","user":{"uid":"zero","gid":0},"args":["sh"]}}"#;
        let err =
            parse_json::<Spec>(Path::new("config.json"), bad.as_bytes()).expect_err("must fail");
        assert!(err.to_string().contains("process.user.uid"), "{err}");
    }

    #[test]
    fn missing_args_is_invalid() {
        let s = r#"{"ociVersion":"1.0.2","root":{"path":"rootfs"},"process":{"cwd":"/","user":{"uid":0,"gid":0},"args":[]}}"#;
        let spec: Spec = parse_json(Path::new("c"), s.as_bytes()).expect("parse");
        assert!(validate(&spec).is_err());
    }
}
