//! How a running sync is shown: a progress bar on a terminal, log lines otherwise; and a log writer
//! that keeps log lines from tearing the bar.

use std::io::{IsTerminal, Write};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use statesync::report::human_bytes;
use statesync::SyncStatus;

/// The bar being drawn, if any: log lines are written around it.
static BAR: Mutex<Option<ProgressBar>> = Mutex::new(None);

/// How often a log line reports progress when there is no terminal.
const LOG_EVERY: Duration = Duration::from_secs(5);

/// Resolution of the bar: per-mille of the key space.
const BAR_LENGTH: u64 = 1_000;

/// Writes log output to stderr, suspending the progress bar (if one is drawn) meanwhile.
pub(crate) struct LogWriter;

impl Write for LogWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let bar = BAR.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).clone();
        match bar {
            Some(bar) => bar.suspend(|| std::io::stderr().write_all(buf))?,
            None => std::io::stderr().write_all(buf)?,
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        std::io::stderr().flush()
    }
}

/// Shows a sync's progress.
pub(crate) struct SyncDisplay {
    bar: Option<ProgressBar>,
    last_log: Option<Instant>,
}

impl SyncDisplay {
    /// A bar when stderr is a terminal and the report is not JSON; log lines otherwise.
    pub(crate) fn new(json: bool) -> Self {
        let bar = (!json && std::io::stderr().is_terminal()).then(|| {
            let bar = ProgressBar::with_draw_target(Some(BAR_LENGTH), ProgressDrawTarget::stderr_with_hz(4));
            let style = ProgressStyle::with_template(
                "{spinner} {elapsed_precise} [{bar:30}] {percent:>3}% of key space, ETA {eta}  {msg}",
            )
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> ");
            bar.set_style(style);
            *BAR.lock().unwrap_or_else(|poisoned| poisoned.into_inner()) = Some(bar.clone());
            bar
        });
        Self { bar, last_log: None }
    }

    /// Shows `status`.
    pub(crate) fn update(&mut self, status: &SyncStatus) {
        let progress = &status.progress;
        let summary = format!(
            "{} nodes, {}, {:.0}/s, {} pending, {} peers",
            progress.processed + progress.resumed_from,
            human_bytes(progress.bytes),
            progress.rate,
            progress.pending,
            progress.peers
        );
        if let Some(bar) = &self.bar {
            if let Some(done) = status.key_space_done {
                bar.set_position((done * BAR_LENGTH as f64) as u64);
            }
            bar.set_message(summary);
            return;
        }
        if self.last_log.is_some_and(|at| at.elapsed() < LOG_EVERY) {
            return;
        }
        self.last_log = Some(Instant::now());
        let key_space = status.key_space_done.map_or("?".to_string(), |done| format!("{:.1}%", done * 100.0));
        let eta = match status.key_space_done {
            Some(done) if done > 0.01 && done < 1.0 => {
                let secs = progress.elapsed.as_secs_f64() * (1.0 - done) / done;
                format!("{secs:.0}s")
            }
            _ => "?".into(),
        };
        tracing::info!(
            target: "statesync::sync",
            processed = progress.processed,
            resumed_from = progress.resumed_from,
            pending = progress.pending,
            bytes = progress.bytes,
            rate = format!("{:.0}/s", progress.rate),
            peers = progress.peers,
            key_space,
            eta,
            "progress"
        );
    }

    /// Removes the bar.
    pub(crate) fn finish(&mut self) {
        if let Some(bar) = self.bar.take() {
            bar.finish_and_clear();
            *BAR.lock().unwrap_or_else(|poisoned| poisoned.into_inner()) = None;
        }
    }
}
