//! A one-line progress display on stderr for verbs that can take seconds
//! (checkpoint and restore of several containers, archives), shown only
//! when stderr is a terminal: clients reading our output see nothing of it.

use std::io::{IsTerminal, Write};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Redraws "<step>… (N.Ns)" every 200 ms from a helper thread until the
/// step is done or the display is dropped.
pub struct Progress {
    on: bool,
    current: Arc<Mutex<Option<(String, Instant)>>>,
    stop: Arc<AtomicBool>,
    ticker: Option<std::thread::JoinHandle<()>>,
}

fn draw(text: &str, since: Instant) {
    let mut e = std::io::stderr().lock();
    let _ = write!(e, "\r\x1b[K{text}… ({:.1}s)", since.elapsed().as_secs_f64());
    let _ = e.flush();
}

fn clear() {
    let mut e = std::io::stderr().lock();
    let _ = write!(e, "\r\x1b[K");
    let _ = e.flush();
}

impl Progress {
    pub fn new() -> Progress {
        Progress::with(std::io::stderr().is_terminal())
    }

    fn with(on: bool) -> Progress {
        let current: Arc<Mutex<Option<(String, Instant)>>> = Arc::new(Mutex::new(None));
        let stop = Arc::new(AtomicBool::new(false));
        let ticker = on.then(|| {
            let (current, stop) = (current.clone(), stop.clone());
            std::thread::spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    std::thread::sleep(Duration::from_millis(200));
                    if let Ok(c) = current.lock() {
                        if let Some((text, since)) = c.as_ref() {
                            draw(text, *since);
                        }
                    }
                }
            })
        });
        Progress {
            on,
            current,
            stop,
            ticker,
        }
    }

    /// Starts a step ("checkpointing web").
    pub fn step(&self, text: impl Into<String>) {
        if !self.on {
            return;
        }
        let text = text.into();
        let since = Instant::now();
        draw(&text, since);
        if let Ok(mut c) = self.current.lock() {
            *c = Some((text, since));
        }
    }

    /// Ends the current step, clearing the line.
    pub fn done(&self) {
        if !self.on {
            return;
        }
        if let Ok(mut c) = self.current.lock() {
            *c = None;
        }
        clear();
    }

    /// Runs `f` as one step.
    pub fn run<T>(&self, text: impl Into<String>, f: impl FnOnce() -> T) -> T {
        self.step(text);
        let r = f();
        self.done();
        r
    }
}

impl Default for Progress {
    fn default() -> Self {
        Progress::new()
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.ticker.take() {
            let _ = t.join();
        }
        if self.on {
            clear();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn off_when_not_a_terminal_runs_the_step() {
        let p = Progress::with(false);
        assert_eq!(p.run("x", || 7), 7);
        assert!(p.ticker.is_none());
    }
}
