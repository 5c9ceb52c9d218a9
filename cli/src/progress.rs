//! The progress line on stderr. It shows only on a terminal, and never on
//! the terminal the records go to; log lines are printed above it, so the
//! two never share a line.

use std::io::{self, IsTerminal, Write};
use std::path::Path;
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use indicatif::{ProgressBar, ProgressStyle};

/// The line shown now, for [`LogWriter`].
static SHOWN: Mutex<Option<ProgressBar>> = Mutex::new(None);

/// Whether a progress line shows: not with `--quiet`, only when stderr is
/// a terminal, and not when the records are written to that terminal.
pub fn wanted(quiet: bool, stderr_terminal: bool, records_to_terminal: bool) -> bool {
    !quiet && stderr_terminal && !records_to_terminal
}

/// A progress line, cleared when dropped.
#[derive(Debug)]
pub struct Line {
    bar: ProgressBar,
}

impl Line {
    /// A line for a run whose records go to `output` (`None`: stdout),
    /// with a bar when the number of requests is known.
    pub fn start(quiet: bool, output: Option<&Path>, planned: Option<u64>) -> Option<Line> {
        let stdout = Path::new("/dev/stdout");
        let to_terminal = match output {
            None => io::stdout().is_terminal(),
            Some(path) if path == stdout => io::stdout().is_terminal(),
            Some(path) => path.starts_with("/dev/tty") || path.starts_with("/dev/pts"),
        };
        Line::show(
            wanted(quiet, io::stderr().is_terminal(), to_terminal),
            planned,
        )
    }

    /// A line with a fixed message, for `bench`, which writes no records.
    pub fn message(quiet: bool, text: &'static str) -> Option<Line> {
        let line = Line::show(wanted(quiet, io::stderr().is_terminal(), false), None)?;
        line.bar.set_message(text);
        Some(line)
    }

    fn show(wanted: bool, planned: Option<u64>) -> Option<Line> {
        if !wanted {
            return None;
        }
        let (bar, template) = match planned {
            Some(total) => (
                ProgressBar::new(total),
                "{spinner} {elapsed} [{bar:24}] {pos}/{len} requests · {msg}",
            ),
            None => (ProgressBar::new_spinner(), "{spinner} {elapsed} {msg}"),
        };
        bar.set_style(
            ProgressStyle::with_template(template)
                .unwrap_or_else(|_| ProgressStyle::default_spinner())
                .progress_chars("=> "),
        );
        bar.enable_steady_tick(Duration::from_millis(120));
        *SHOWN.lock().unwrap_or_else(PoisonError::into_inner) = Some(bar.clone());
        Some(Line { bar })
    }

    pub fn update(&self, progress: &hydrant_engine::Progress) {
        if self.bar.length().is_some() {
            self.bar.set_position(progress.requests);
        }
        self.bar.set_message(message(
            progress,
            self.bar.elapsed(),
            self.bar.length().is_some(),
        ));
    }
}

impl Drop for Line {
    fn drop(&mut self) {
        *SHOWN.lock().unwrap_or_else(PoisonError::into_inner) = None;
        self.bar.finish_and_clear();
    }
}

/// What the line says: records, requests (unless the bar counts them),
/// bytes and the rate of records.
pub fn message(progress: &hydrant_engine::Progress, elapsed: Duration, bar: bool) -> String {
    let seconds = elapsed.as_secs_f64();
    let rate = if seconds > 0.0 {
        progress.records as f64 / seconds
    } else {
        0.0
    };
    let requests = if bar {
        String::new()
    } else {
        format!("{} requests · ", progress.requests)
    };
    format!(
        "{} records · {requests}{} · {} records/s",
        progress.records,
        crate::commands::human_bytes(progress.bytes),
        human_count(rate)
    )
}

fn human_count(n: f64) -> String {
    match n {
        n if n >= 1e6 => format!("{:.2} M", n / 1e6),
        n if n >= 1e3 => format!("{:.1} k", n / 1e3),
        n => format!("{n:.0}"),
    }
}

/// The log lines written so far, so that the summary does not repeat a
/// warning its reader has just seen: the first MiB of them, as a run
/// logging at `debug` writes without end (a warning logged past it is
/// said again).
static LOGGED: Mutex<String> = Mutex::new(String::new());
const LOGGED_AT_MOST: usize = 1 << 20;

/// Whether a log line has said `text`.
pub fn logged(text: &str) -> bool {
    LOGGED
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .contains(text)
}

/// stderr for log lines: above the progress line while one shows.
#[derive(Debug, Clone, Copy, Default)]
pub struct LogWriter;

impl Write for LogWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let mut logged = LOGGED.lock().unwrap_or_else(PoisonError::into_inner);
        if logged.len() + buf.len() <= LOGGED_AT_MOST {
            logged.push_str(&String::from_utf8_lossy(buf));
        }
        drop(logged);
        let shown = SHOWN.lock().unwrap_or_else(PoisonError::into_inner).clone();
        match shown {
            Some(bar) => bar.suspend(|| io::stderr().write_all(buf))?,
            None => io::stderr().write_all(buf)?,
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        io::stderr().flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_line_shows_only_on_a_terminal_that_gets_no_records() {
        assert!(wanted(false, true, false));
        assert!(!wanted(true, true, false), "--quiet");
        assert!(!wanted(false, false, false), "stderr is a pipe or file");
        assert!(
            !wanted(false, true, true),
            "records go to the same terminal"
        );
    }

    #[test]
    fn the_message_gives_records_requests_bytes_and_rate() {
        let mut progress = hydrant_engine::Progress::default();
        progress.records = 250_000;
        progress.requests = 250;
        progress.bytes = 120_000_000;
        let text = message(&progress, Duration::from_secs(2), false);
        assert_eq!(
            text,
            "250000 records · 250 requests · 114.4 MiB · 125.0 k records/s"
        );
        let text = message(&progress, Duration::from_secs(2), true);
        assert_eq!(text, "250000 records · 114.4 MiB · 125.0 k records/s");
    }
}
