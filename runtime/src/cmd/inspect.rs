//! `cryo inspect`: a checkpoint's processes, memory, open files, sockets,
//! mounts and dump statistics, read from its CRIU images by cryo-images
//! without running anything. An archive is verified and unpacked by
//! cryo-checkpoint's archive module first.

use std::fmt::Write as _;
use std::path::PathBuf;

use cryo_checkpoint::archive::Metadata;
use cryo_cli::cli::inspect::{Args, Format};
use cryo_images::{InspectOptions, Report};

use super::{absolute, err, write_stdout, Outcome};

/// A checkpoint that never finished is refused (see cryo_checkpoint::marker).
fn check_finished(images: &std::path::Path) -> Result<(), String> {
    cryo_checkpoint::marker::check(images, cryo_checkpoint::marker::Use::Inspect).map_err(err)
}

pub fn run(a: &Args) -> Outcome {
    let path = absolute(&a.image_dir);
    let opts = InspectOptions {
        files: a.files,
        sockets: a.sockets,
        mounts: a.mounts,
        vmas: a.memory,
        env: a.env,
    };
    // An archive (`checkpoint --export`) is verified and unpacked into a
    // private directory first, and removed again afterwards.
    let (report, archive) = if path.is_file() {
        let scratch = private_scratch()?;
        let dest = scratch.join("archive");
        let result = cryo_checkpoint::archive::extract(&path, &dest)
            .map_err(err)
            .and_then(|meta| {
                let images = dest.join(cryo_checkpoint::archive::IMAGES);
                check_finished(&images)?;
                cryo_images::inspect(&images, &opts)
                    .map_err(err)
                    .map(|r| (r, meta))
            });
        let _ = std::fs::remove_dir_all(&scratch);
        let (mut report, meta) = result?;
        report.image_dir = path.display().to_string();
        (report, Some(meta))
    } else {
        check_finished(&path)?;
        (cryo_images::inspect(&path, &opts).map_err(err)?, None)
    };
    let text = match a.format {
        Format::Json => {
            let doc = JsonReport {
                report: &report,
                archive: archive.as_ref(),
            };
            format!("{}\n", serde_json::to_string_pretty(&doc).map_err(err)?)
        }
        Format::Table => table_report(&report, archive.as_ref(), a),
    };
    write_stdout(&text)?;
    if a.format == Format::Table {
        for w in &report.warnings {
            eprintln!("warning: {w}");
        }
    }
    Ok(0)
}

/// The JSON document: the report, and an archive's own metadata.
#[derive(serde::Serialize)]
struct JsonReport<'a> {
    #[serde(flatten)]
    report: &'a Report,
    #[serde(skip_serializing_if = "Option::is_none")]
    archive: Option<&'a Metadata>,
}

/// A new directory only root can enter, under the temp dir (made with a
/// plain mkdir, so nothing that already exists there is used).
fn private_scratch() -> Result<PathBuf, String> {
    use std::os::unix::fs::DirBuilderExt;
    let base = std::env::temp_dir();
    let mut last = None;
    for attempt in 0..16u32 {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0);
        let dir = base.join(format!(
            "cryo-inspect.{}.{nanos:x}{attempt}",
            std::process::id()
        ));
        match std::fs::DirBuilder::new().mode(0o700).create(&dir) {
            Ok(()) => return Ok(dir),
            Err(e) => last = Some(format!("create {}: {e}", dir.display())),
        }
    }
    Err(last.unwrap_or_else(|| "create a scratch directory".into()))
}

fn table_report(r: &Report, archive: Option<&Metadata>, a: &Args) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "Checkpoint {}: {} process{}, CRIU image v{}{}",
        r.image_dir,
        r.processes.len(),
        if r.processes.len() == 1 { "" } else { "es" },
        r.image_version,
        r.arch.map(|a| format!(", {a}")).unwrap_or_default()
    );
    if let Some(m) = archive {
        let _ = writeln!(
            out,
            "Archive of container {} made {} by cryo {} with CRIU {} on kernel {}",
            m.container_id, m.created, m.cryo_version, m.criu_version, m.kernel
        );
    }
    if a.summary() {
        section(&mut out, "PROCESSES", &summary_table(r));
        section(&mut out, "DUMP STATISTICS", &stats_table(r));
        out.push_str("\nMore: --ps --files --sockets --mounts --memory --env\n");
        return out;
    }
    if a.ps {
        section(&mut out, "PROCESSES", &ps_table(r));
    }
    if a.files {
        section(&mut out, "OPEN FILES", &files_table(r));
    }
    if a.sockets {
        section(&mut out, "SOCKETS", &sockets_table(r));
    }
    if a.mounts {
        section(&mut out, "MOUNTS", &mounts_table(r));
    }
    if a.memory {
        section(&mut out, "MEMORY", &memory_text(r));
    }
    if a.env {
        section(&mut out, "ENVIRONMENT", &env_text(r));
    }
    out
}

fn section(out: &mut String, title: &str, body: &str) {
    let _ = write!(out, "\n{title}\n{body}");
}

/// Columns separated by two spaces, padded to the widest cell; the last
/// column is not padded.
fn table(headers: &[&str], rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = headers.iter().map(|h| h.chars().count()).collect();
    for r in rows {
        for (i, c) in r.iter().enumerate() {
            if let Some(w) = widths.get_mut(i) {
                *w = (*w).max(c.chars().count());
            }
        }
    }
    let mut out = String::new();
    let line = |out: &mut String, cells: &mut dyn Iterator<Item = &str>| {
        let cells: Vec<&str> = cells.collect();
        let mut s = String::new();
        for (i, c) in cells.iter().enumerate() {
            if i + 1 == cells.len() {
                s.push_str(c);
            } else {
                let pad = widths[i].saturating_sub(c.chars().count());
                s.push_str(c);
                s.extend(std::iter::repeat_n(' ', pad + 2));
            }
        }
        out.push_str(s.trim_end());
        out.push('\n');
    };
    line(&mut out, &mut headers.iter().copied());
    for r in rows {
        line(&mut out, &mut r.iter().map(String::as_str));
    }
    out
}

/// `4.0K`, `196K`, `2.5M`, as `ls -h`.
fn human(bytes: u64) -> String {
    const UNITS: [&str; 5] = ["K", "M", "G", "T", "P"];
    if bytes < 1024 {
        return format!("{bytes}B");
    }
    let mut v = bytes as f64 / 1024.0;
    let mut u = 0;
    while v >= 1024.0 && u + 1 < UNITS.len() {
        v /= 1024.0;
        u += 1;
    }
    if v < 10.0 {
        format!("{v:.1}{}", UNITS[u])
    } else {
        format!("{v:.0}{}", UNITS[u])
    }
}

fn opt<T: ToString>(v: Option<T>) -> String {
    v.map(|v| v.to_string()).unwrap_or_else(|| "-".into())
}

/// The command with `ps f`'s tree marks.
fn tree_command(p: &cryo_images::Process) -> String {
    if p.depth == 0 {
        p.command()
    } else {
        format!("{}\\_ {}", "   ".repeat(p.depth - 1), p.command())
    }
}

fn summary_table(r: &Report) -> String {
    let rows: Vec<Vec<String>> = r
        .processes
        .iter()
        .map(|p| {
            let m = p.memory.as_ref();
            vec![
                p.pid.to_string(),
                p.ppid.to_string(),
                opt(p.uid),
                p.state.to_string(),
                m.map_or("-".into(), |m| human(m.mapped)),
                m.map_or("-".into(), |m| human(m.anonymous)),
                m.map_or("-".into(), |m| human(m.bytes_dumped)),
                tree_command(p),
            ]
        })
        .collect();
    table(
        &[
            "PID", "PPID", "UID", "STATE", "MAPPED", "ANON", "DUMPED", "COMMAND",
        ],
        &rows,
    )
}

fn ps_table(r: &Report) -> String {
    let rows: Vec<Vec<String>> = r
        .processes
        .iter()
        .map(|p| {
            let state = if p.state == "zombie" {
                format!("zombie({})", p.exit_code)
            } else {
                p.state.to_string()
            };
            vec![
                p.pid.to_string(),
                p.ppid.to_string(),
                p.pgid.to_string(),
                p.sid.to_string(),
                opt(p.uid),
                opt(p.gid),
                state,
                p.threads.len().to_string(),
                p.comm.clone(),
                opt(p.exe.as_deref()),
                opt(p.cwd.as_deref()),
                tree_command(p),
            ]
        })
        .collect();
    table(
        &[
            "PID", "PPID", "PGID", "SID", "UID", "GID", "STATE", "THREADS", "COMM", "EXE", "CWD",
            "COMMAND",
        ],
        &rows,
    )
}

fn files_table(r: &Report) -> String {
    let mut rows = Vec::new();
    for p in &r.processes {
        for f in p.files.iter().flatten() {
            rows.push(vec![
                p.pid.to_string(),
                p.comm.clone(),
                f.fd.to_string(),
                f.fd_type.to_string(),
                opt(f.access.as_deref()),
                opt(f.pos),
                f.name.clone(),
            ]);
        }
    }
    table(
        &["PID", "COMM", "FD", "TYPE", "ACCESS", "POS", "NAME"],
        &rows,
    )
}

fn sockets_table(r: &Report) -> String {
    let comm = |pid: u32| {
        r.processes
            .iter()
            .find(|p| p.pid == pid)
            .map(|p| p.comm.as_str())
            .unwrap_or("?")
    };
    let rows: Vec<Vec<String>> = r
        .sockets
        .iter()
        .flatten()
        .map(|s| {
            let queues = match (s.recv_queue, s.send_queue) {
                (None, None) => "-".to_string(),
                (r, w) => format!("{}/{}", opt(r), opt(w)),
            };
            let owners: Vec<String> = s
                .owners
                .iter()
                .map(|o| format!("{}({})/fd{}", o.pid, comm(o.pid), o.fd))
                .collect();
            vec![
                s.ino.to_string(),
                s.family.to_string(),
                s.sock_type.to_string(),
                opt(s.proto),
                s.state.to_string(),
                s.local(),
                s.remote(),
                queues,
                owners.join(","),
            ]
        })
        .collect();
    table(
        &[
            "INO",
            "FAMILY",
            "TYPE",
            "PROTO",
            "STATE",
            "LOCAL",
            "REMOTE",
            "RECV/SEND-Q",
            "OWNERS",
        ],
        &rows,
    )
}

fn mounts_table(r: &Report) -> String {
    let namespaces: std::collections::BTreeSet<u32> =
        r.mounts.iter().flatten().map(|m| m.mnt_ns_id).collect();
    let rows: Vec<Vec<String>> = r
        .mounts
        .iter()
        .flatten()
        .map(|m| {
            let mut row = vec![];
            if namespaces.len() > 1 {
                row.push(m.mnt_ns_id.to_string());
            }
            row.extend([
                m.mnt_id.to_string(),
                m.parent_mnt_id.to_string(),
                m.mountpoint.clone(),
                m.fstype.clone(),
                m.source.clone(),
                m.root.clone(),
                m.flags.clone(),
                opt(m.external.as_deref()),
                if m.options.is_empty() {
                    "-".into()
                } else {
                    m.options.clone()
                },
            ]);
            row
        })
        .collect();
    let mut headers = vec![];
    if namespaces.len() > 1 {
        headers.push("MNT_NS");
    }
    headers.extend([
        "ID",
        "PARENT",
        "MOUNTPOINT",
        "FSTYPE",
        "SOURCE",
        "ROOT",
        "FLAGS",
        "EXTERNAL",
        "OPTIONS",
    ]);
    table(&headers, &rows)
}

fn memory_text(r: &Report) -> String {
    let mut out = String::new();
    for (i, p) in r.processes.iter().enumerate() {
        if i > 0 {
            out.push('\n');
        }
        match &p.memory {
            Some(m) => {
                let _ = writeln!(
                    out,
                    "pid {} ({}): {} mappings, {} mapped, {} anonymous, {} file, {} dumped ({} pages{}{})",
                    p.pid,
                    p.comm,
                    m.vmas,
                    human(m.mapped),
                    human(m.anonymous),
                    human(m.file_backed),
                    human(m.bytes_dumped),
                    m.pages_dumped,
                    if m.pages_lazy > 0 {
                        format!(", {} left on the page server", m.pages_lazy)
                    } else {
                        String::new()
                    },
                    if m.pages_in_parent > 0 {
                        format!(", {} in the parent", m.pages_in_parent)
                    } else {
                        String::new()
                    },
                );
            }
            None => {
                let _ = writeln!(out, "pid {} ({}): no memory image", p.pid, p.comm);
                continue;
            }
        }
        let rows: Vec<Vec<String>> = p
            .vmas
            .iter()
            .flatten()
            .map(|v| {
                vec![
                    format!("  {:012x}-{:012x}", v.start, v.end),
                    human(v.size),
                    v.perms.clone(),
                    v.kind.to_string(),
                    match &v.path {
                        Some(path) if v.offset > 0 => format!("{path} @0x{:x}", v.offset),
                        Some(path) => path.clone(),
                        None => String::new(),
                    },
                ]
            })
            .collect();
        out.push_str(&table(&["  RANGE", "SIZE", "PERMS", "KIND", "FILE"], &rows));
    }
    out
}

fn env_text(r: &Report) -> String {
    let mut out = String::new();
    for p in &r.processes {
        let _ = writeln!(out, "pid {} ({}):", p.pid, p.comm);
        match &p.env {
            Some(env) if !env.is_empty() => {
                for e in env {
                    let _ = writeln!(out, "  {e}");
                }
            }
            Some(_) => out.push_str("  (empty)\n"),
            None => out.push_str("  (not in the image)\n"),
        }
    }
    out
}

fn stats_table(r: &Report) -> String {
    let Some(s) = &r.stats else {
        return "no stats-dump in the image directory\n".into();
    };
    let ms = |us: u32| format!("{:.2} ms", f64::from(us) / 1000.0);
    let pages = |n: u64| format!("{n} ({})", human(n.saturating_mul(r.page_size)));
    let rows = vec![
        vec!["freezing time".into(), ms(s.freezing_time)],
        vec!["frozen time".into(), ms(s.frozen_time)],
        vec!["memory dump time".into(), ms(s.memdump_time)],
        vec!["memory write time".into(), ms(s.memwrite_time)],
        vec!["pages scanned".into(), s.pages_scanned.to_string()],
        vec!["pages written".into(), pages(s.pages_written)],
        vec![
            "pages unchanged (parent)".into(),
            s.pages_skipped_parent.to_string(),
        ],
        vec!["pages lazy".into(), s.pages_lazy.to_string()],
    ];
    let t = table(&["", ""], &rows);
    // No header line for a list of key/value pairs.
    t.split_once('\n')
        .map(|(_, rest)| rest.to_string())
        .unwrap_or(t)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn human_sizes() {
        assert_eq!(human(0), "0B");
        assert_eq!(human(4096), "4.0K");
        assert_eq!(human(200 * 1024), "200K");
        assert_eq!(human(5 * 1024 * 1024 / 2), "2.5M");
    }

    #[test]
    fn table_pads_all_but_the_last_column() {
        let t = table(
            &["A", "BB", "C"],
            &[vec!["xyz".into(), "1".into(), "end".into()]],
        );
        assert_eq!(t, "A    BB  C\nxyz  1   end\n");
    }
}
