//! Quoting CRIU's log files in error messages.

use std::path::Path;

/// The last `max` error lines of a CRIU log (`dump.log`, `restore.log`, ...):
/// lines that contain `Error` or `error`, or that start with `(` (CRIU's
/// timestamp) and contain `Err`. Like
/// `(00.123456) Error (criu/cr-dump.c:1234): Dump files (*.img) ...`.
/// A missing or unreadable log gives no lines.
pub fn read_log_errors(log: &Path, max: usize) -> Vec<String> {
    match std::fs::read(log) {
        Ok(bytes) => error_lines(&String::from_utf8_lossy(&bytes), max),
        Err(_) => Vec::new(),
    }
}

/// What `ip address restore` prints for every restored network namespace:
/// the kernel gave `lo` its addresses already. Not a failure (CRIU goes
/// on), so not worth quoting ahead of the real error.
const NOISE: &[&str] = &[
    "Error: ipv4: Address already assigned.",
    "Error: ipv6: address already assigned.",
];

fn error_lines(text: &str, max: usize) -> Vec<String> {
    let mut lines: Vec<String> = text
        .lines()
        .filter(|l| !NOISE.contains(&l.trim()))
        .filter(|l| {
            l.contains("Error") || l.contains("error") || (l.starts_with('(') && l.contains("Err"))
        })
        .map(|l| l.trim_end().to_string())
        .collect();
    let skip = lines.len().saturating_sub(max);
    lines.drain(..skip);
    lines
}

#[cfg(test)]
mod tests {
    use super::*;

    const LOG: &str = "\
(00.000001) Version: 4.2.1 (gitid 0)
(00.000100) Dumping task (pid: 42)
(00.001000) Error (criu/cr-dump.c:1234): Dump files (*.img) exist
(00.002000) Warn  (criu/kerndat.c:1):  something
(00.003000) Err: kernel says no
some line with an error in it
(00.004000) Error (criu/cr-dump.c:2000): Dumping FAILED.
(00.005000) Unlock network
";

    #[test]
    fn picks_error_lines() {
        assert_eq!(
            error_lines(LOG, 10),
            vec![
                "(00.001000) Error (criu/cr-dump.c:1234): Dump files (*.img) exist",
                "(00.003000) Err: kernel says no",
                "some line with an error in it",
                "(00.004000) Error (criu/cr-dump.c:2000): Dumping FAILED.",
            ]
        );
    }

    #[test]
    fn skips_the_loopback_address_noise_of_ip_restore() {
        let log = "Error: ipv4: Address already assigned.\n\
                   Error: ipv6: address already assigned.\n\
                   (00.25) Error (criu/uffd.c:1306): uffd: Failed sending\n";
        assert_eq!(
            error_lines(log, 5),
            vec!["(00.25) Error (criu/uffd.c:1306): uffd: Failed sending"]
        );
    }

    #[test]
    fn keeps_the_last_max() {
        assert_eq!(
            error_lines(LOG, 2),
            vec![
                "some line with an error in it",
                "(00.004000) Error (criu/cr-dump.c:2000): Dumping FAILED.",
            ]
        );
        assert!(error_lines(LOG, 0).is_empty());
        assert!(error_lines("all fine\n", 5).is_empty());
    }

    #[test]
    fn reads_a_file() -> std::io::Result<()> {
        let dir = tempfile::tempdir()?;
        let p = dir.path().join("dump.log");
        let mut bytes = LOG.as_bytes().to_vec();
        bytes.extend_from_slice(b"(00.006000) Error \xff bad utf8\n");
        std::fs::write(&p, bytes)?;
        let got = read_log_errors(&p, 1);
        assert_eq!(got.len(), 1);
        assert!(got[0].starts_with("(00.006000) Error "), "{got:?}");
        assert!(read_log_errors(&dir.path().join("missing.log"), 5).is_empty());
        Ok(())
    }
}
