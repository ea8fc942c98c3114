//! `ps`: the host pids of a container's processes, and runc's table made
//! by running the host `ps` and keeping the rows of those pids.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use cryo_oci::Status;

use crate::error::{ContainerError, Result};
use crate::store::Store;

/// Host pids of every process in the container's cgroup (and its child
/// cgroups), sorted. A stopped container whose cgroup is already gone has
/// none, as with runc.
pub fn processes(store: &Store, id: &str) -> Result<Vec<i32>> {
    let rec = store.read(id)?;
    let cg = cryo_cgroups::from_paths(rec.cgroup_paths.clone())?;
    match cg.processes() {
        Ok(pids) => Ok(pids),
        Err(e) if e.is_not_found() && rec.status() == Status::Stopped => Ok(Vec::new()),
        Err(e) => Err(e.into()),
    }
}

/// Runs the host `ps` with `args` (`-ef` when empty) and keeps its header
/// and the rows whose PID column is one of `pids` (runc's `ps` table).
pub fn ps_table(pids: &[i32], args: &[String]) -> Result<String> {
    let default = ["-ef".to_string()];
    let args = if args.is_empty() { &default[..] } else { args };
    let Some(ps) = find_ps() else {
        return Err(ContainerError::PsFailed {
            status: "exec: \"ps\": executable file not found in $PATH".into(),
            output: String::new(),
        });
    };
    let out = Command::new(ps)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| ContainerError::PsFailed {
            status: format!("exec: \"ps\": {}", crate::error::io_text(&e)),
            output: String::new(),
        })?;
    // Go's CombinedOutput: both streams (here stdout first).
    let mut text = String::from_utf8_lossy(&out.stdout).into_owned();
    text.push_str(&String::from_utf8_lossy(&out.stderr));
    if !out.status.success() {
        let status = match out.status.code() {
            Some(c) => format!("exit status {c}"),
            None => "signal: killed".to_string(),
        };
        return Err(ContainerError::PsFailed {
            status,
            output: text,
        });
    }
    filter_ps_output(&text, pids)
}

/// `ps` from $PATH, else from the usual directories (clients may run the
/// runtime with an empty environment).
fn find_ps() -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(["/usr/bin", "/bin", "/usr/local/bin"].map(PathBuf::from))
        .map(|d| d.join("ps"))
        .find(|p| is_executable(p))
}

fn is_executable(p: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

/// Keeps the header line of `ps` output and the rows whose PID column (found
/// by name in the header) holds one of `pids`. Every kept line ends with a
/// newline.
pub fn filter_ps_output(output: &str, pids: &[i32]) -> Result<String> {
    let mut lines = output.split('\n');
    let header = lines.next().unwrap_or_default();
    let pid_index = header
        .split_whitespace()
        .position(|t| t == "PID")
        .ok_or(ContainerError::PsNoPidField)?;
    let mut out = format!("{header}\n");
    for line in lines.filter(|l| !l.is_empty()) {
        let field = line.split_whitespace().nth(pid_index).unwrap_or_default();
        let pid: i32 = field.parse().map_err(|_| {
            ContainerError::PsBadPid(format!("strconv.Atoi: parsing {field:?}: invalid syntax"))
        })?;
        if pids.contains(&pid) {
            out.push_str(line);
            out.push('\n');
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    const PS_EF: &str = "UID        PID  PPID  C STIME TTY          TIME CMD\n\
root         1     0  0 00:01 ?        00:00:01 /sbin/init\n\
root     18135     1  1 00:26 ?        00:00:00 sh -c sleep 1000\n\
root     18145 18135  0 00:26 ?        00:00:00 sleep 1000\n";

    #[test]
    fn keeps_header_and_container_rows() {
        let t = filter_ps_output(PS_EF, &[18135, 18145]).expect("filter");
        let lines: Vec<&str> = t.lines().collect();
        assert_eq!(lines.len(), 3);
        assert!(lines[0].starts_with("UID        PID"));
        assert!(lines[1].contains("sh -c sleep 1000"));
        assert!(lines[2].contains("18145 18135"));
        let none = filter_ps_output(PS_EF, &[]).expect("filter");
        assert_eq!(
            none,
            "UID        PID  PPID  C STIME TTY          TIME CMD\n"
        );
    }

    #[test]
    fn pid_column_is_found_by_name() {
        let out = "  PID COMMAND\n    1 init\n   42 sh\n";
        assert_eq!(
            filter_ps_output(out, &[42]).expect("filter"),
            "  PID COMMAND\n   42 sh\n"
        );
        let err = filter_ps_output("COMMAND\nsh\n", &[1]).expect_err("no PID");
        assert_eq!(err.to_string(), "couldn't find PID field in ps output");
        let err = filter_ps_output("PID X\nabc y\n", &[1]).expect_err("bad pid");
        assert_eq!(
            err.to_string(),
            "unable to parse pid: strconv.Atoi: parsing \"abc\": invalid syntax"
        );
    }
}
