//! runc-style logging: errors go to stderr as a bare line, and with `--log`
//! also to the log file as `{"level":"error","msg":...,"time":...}` (json)
//! or `time="..." level=error msg="..."` (text), which the containerd shim
//! and conmon read.

use std::io::Write;
use std::path::PathBuf;

use cryo_cli::LogFormat;

pub struct Logger {
    file: Option<PathBuf>,
    format: LogFormat,
    #[allow(dead_code)]
    debug: bool,
}

impl Logger {
    pub fn new(file: Option<PathBuf>, format: LogFormat, debug: bool) -> Self {
        Logger {
            file,
            format,
            debug,
        }
    }

    fn line(&self, level: &str, msg: &str) -> String {
        let time = cryo_oci::time::rfc3339(std::time::SystemTime::now());
        match self.format {
            LogFormat::Json => {
                let v = serde_json::json!({ "level": level, "msg": msg, "time": time });
                format!("{v}\n")
            }
            LogFormat::Text => format!("time={time:?} level={level} msg={:?}\n", msg),
        }
    }

    /// A warning, as runc's logrus prints it: to the log file with
    /// `--log`, else to stderr.
    pub fn warn(&self, msg: &str) {
        let line = self.line("warning", msg);
        match &self.file {
            Some(path) => {
                let file = std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(path);
                if let Ok(mut f) = file {
                    let _ = f.write_all(line.as_bytes());
                }
            }
            None => {
                let _ = std::io::stderr().write_all(line.as_bytes());
            }
        }
    }

    /// Like runc: with `--log`, the log file gets the formatted line and
    /// stderr the bare message; without it, stderr gets the formatted line.
    pub fn error(&self, msg: &str) {
        match &self.file {
            Some(path) => {
                let file = std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(path);
                if let Ok(mut f) = file {
                    let _ = f.write_all(self.line("error", msg).as_bytes());
                }
                let _ = writeln!(std::io::stderr(), "{msg}");
            }
            None => {
                let _ = std::io::stderr().write_all(self.line("error", msg).as_bytes());
            }
        }
    }
}
