//! `cryo migrate` (source) and `cryo migrate-receive` (destination): live
//! migration done by cryo-migrate. Reports go to stdout (`--format json`
//! for programs), a progress line to stderr when it is a terminal.

use std::io::{IsTerminal, Write};
use std::time::{Duration, Instant};

use cryo_cli::cli::migrate::{Args, Format, ReceiveArgs};
use cryo_container::Store;
use cryo_migrate::{MigrateOptions, Progress, ReceiveOptions, Received, Report, RestoreFlags};

use super::{absolute, err, write_stdout, Outcome};

pub fn run(cli: &cryo_cli::Cli, store: &Store, a: &Args) -> Outcome {
    let mut opts = MigrateOptions::new(&a.id, &a.to);
    opts.mode = a.mode.parse().map_err(err)?;
    opts.criu = cli.criu.clone();
    opts.work_dir = a.work_dir.as_deref().map(absolute);
    opts.page_server = a.page_server.clone();
    opts.flags = RestoreFlags {
        tcp_established: a.tcp_established,
        ext_unix_sk: a.ext_unix_sk,
        shell_job: a.shell_job,
        file_locks: a.file_locks,
        manage_cgroups_mode: a.manage_cgroups_mode.clone(),
    };
    opts.link_remap = a.link_remap;
    opts.timeout = Duration::from_secs(a.timeout.max(1));
    let mut progress = Tty::new();
    let result = cryo_migrate::migrate(store, &opts, &mut progress);
    progress.clear();
    let report = result.map_err(err)?;
    match a.format {
        Format::Json => write_stdout(&format!(
            "{}\n",
            serde_json::to_string(&report).map_err(err)?
        ))?,
        Format::Text => write_stdout(&report_text(&report))?,
    }
    for w in &report.warnings {
        eprintln!("cryo migrate: warning: {w}");
    }
    Ok(0)
}

pub fn receive(cli: &cryo_cli::Cli, store: &Store, a: &ReceiveArgs) -> Outcome {
    super::create::check_cgroup_manager(cli)?;
    let mut opts = ReceiveOptions::new(&a.listen);
    opts.once = a.once;
    opts.criu = cli.criu.clone();
    opts.rootfs_from_source_path = a.rootfs_from_source_path;
    opts.dir = a.dir.as_deref().map(absolute);
    opts.cgroup_prefix = a.cgroup_prefix.clone();
    if let Some(m) = a.max_bytes {
        opts.max_bytes = m;
    }
    opts.timeout = Duration::from_secs(a.timeout.max(1));
    let mut sessions = Sessions {
        format: a.format,
        progress: Tty::new(),
        once: a.once,
    };
    cryo_migrate::receive(store, &opts, &mut sessions).map_err(err)?;
    Ok(0)
}

struct Sessions {
    format: Format,
    progress: Tty,
    once: bool,
}

impl cryo_migrate::Sessions for Sessions {
    fn listening(&mut self, addr: &std::net::SocketAddr) {
        eprintln!("cryo migrate-receive: listening on {addr}");
    }

    fn progress(&mut self) -> &mut dyn Progress {
        &mut self.progress
    }

    fn finished(&mut self, result: &cryo_migrate::Result<Received>) {
        self.progress.clear();
        match result {
            Ok(r) => {
                let text = match self.format {
                    Format::Json => serde_json::to_string(r)
                        .map(|s| s + "\n")
                        .unwrap_or_default(),
                    Format::Text => received_text(r),
                };
                let _ = write_stdout(&text);
                for w in &r.warnings {
                    eprintln!("cryo migrate-receive: warning: {w}");
                }
            }
            // With --once the error is the command's and is logged as such.
            Err(e) if !self.once => eprintln!("cryo migrate-receive: migration failed: {e}"),
            Err(_) => {}
        }
    }
}

fn report_text(r: &Report) -> String {
    let b = &r.bytes_detail;
    let mut s = format!("migrated {} to {} ({})\n", r.id, r.to, r.mode);
    s += &format!("  frozen       {}\n", duration(r.frozen_ms));
    s += &format!("  total        {}\n", duration(r.total_ms));
    if r.mode == "post-copy" {
        s += &format!("  post-copy    {}\n", duration(r.post_copy_ms));
    }
    s += &format!(
        "  moved        {} (rootfs {}, images {}, lazy pages {})\n",
        size(r.bytes),
        size(b.rootfs),
        size(b.images),
        size(b.lazy_pages)
    );
    s += &format!("  destination  pid {}\n", r.destination_pid);
    s
}

fn received_text(r: &Received) -> String {
    format!(
        "received {} from {} ({}): pid {}, restore {}, total {}, {} moved, bundle {}\n",
        r.id,
        r.from,
        r.mode,
        r.pid,
        duration(r.restore_ms),
        duration(r.total_ms),
        size(r.bytes),
        r.bundle.display()
    )
}

fn duration(ms: f64) -> String {
    if ms >= 1000.0 {
        format!("{:.2} s", ms / 1000.0)
    } else {
        format!("{ms:.1} ms")
    }
}

fn size(b: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = b as f64;
    let mut u = 0;
    while v >= 1024.0 && u < UNITS.len() - 1 {
        v /= 1024.0;
        u += 1;
    }
    if u == 0 {
        format!("{b} B")
    } else {
        format!("{v:.1} {}", UNITS[u])
    }
}

/// A one-line progress display on stderr, only when stderr is a terminal.
struct Tty {
    on: bool,
    step: String,
    step_started: Instant,
    drawn: Option<Instant>,
}

impl Tty {
    fn new() -> Tty {
        Tty {
            on: std::io::stderr().is_terminal(),
            step: String::new(),
            step_started: Instant::now(),
            drawn: None,
        }
    }

    fn draw(&mut self, detail: &str, force: bool) {
        if !self.on {
            return;
        }
        let now = Instant::now();
        if !force
            && self
                .drawn
                .is_some_and(|d| now - d < Duration::from_millis(100))
        {
            return;
        }
        self.drawn = Some(now);
        let secs = self.step_started.elapsed().as_secs_f64();
        let mut e = std::io::stderr().lock();
        let _ = write!(e, "\r\x1b[K{}{detail} ({secs:.1}s)", self.step);
        let _ = e.flush();
    }

    fn clear(&mut self) {
        if self.on && self.drawn.is_some() {
            let mut e = std::io::stderr().lock();
            let _ = write!(e, "\r\x1b[K");
            let _ = e.flush();
            self.drawn = None;
        }
    }
}

impl Progress for Tty {
    fn step(&mut self, what: &str) {
        self.step = what.to_string();
        self.step_started = Instant::now();
        self.draw("…", true);
    }

    fn bytes(&mut self, done: u64, total: Option<u64>) {
        let d = match total {
            Some(t) => format!(": {} of {}", size(done), size(t)),
            None => format!(": {}", size(done)),
        };
        self.draw(&d, false);
    }

    fn tick(&mut self) {
        self.draw("…", false);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn human_units() {
        assert_eq!(size(12), "12 B");
        assert_eq!(size(3 << 20), "3.0 MiB");
        assert_eq!(duration(12.34), "12.3 ms");
        assert_eq!(duration(2500.0), "2.50 s");
    }
}
