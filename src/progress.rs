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

/// Resolution of the bar: per-mille of the work.
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

/// How often a JSON progress line is printed (`sync --json --json-progress`).
const JSON_EVERY: Duration = Duration::from_secs(1);

/// Shows a sync's progress.
pub(crate) struct SyncDisplay {
    bar: Option<ProgressBar>,
    last_log: Option<Instant>,
    /// Print progress as JSON lines on stdout.
    json_lines: bool,
    last_json: Option<Instant>,
    /// The first share of work seen in this run, and when: the ETA counts from it, so a resumed
    /// sync is not credited with what earlier runs did.
    start: Option<(Instant, f64)>,
}

impl SyncDisplay {
    /// A bar when stderr is a terminal and the report is not JSON; log lines otherwise; with
    /// `json_lines`, also a JSON object per [`JSON_EVERY`] on stdout.
    pub(crate) fn new(json: bool, json_lines: bool) -> Self {
        let bar = (!json && std::io::stderr().is_terminal()).then(|| {
            let bar = ProgressBar::with_draw_target(Some(BAR_LENGTH), ProgressDrawTarget::stderr_with_hz(4));
            let style = ProgressStyle::with_template(
                "{spinner} {elapsed_precise} [{bar:30}] {percent:>3}% done, ETA {eta}  {msg}",
            )
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> ");
            bar.set_style(style);
            *BAR.lock().unwrap_or_else(|poisoned| poisoned.into_inner()) = Some(bar.clone());
            bar
        });
        Self { bar, last_log: None, json_lines, last_json: None, start: None }
    }

    /// Seconds left at this run's pace, from the share of work done.
    fn eta_secs(&mut self, share: Option<f64>) -> Option<f64> {
        let share = share?;
        let (since, first) = *self.start.get_or_insert((Instant::now(), share));
        let gained = share - first;
        (gained > 0.005 && share < 1.0).then(|| since.elapsed().as_secs_f64() * (1.0 - share) / gained)
    }

    /// Shows `status`.
    pub(crate) fn update(&mut self, status: &SyncStatus) {
        let progress = &status.progress;
        let eta_secs = self.eta_secs(status.share_done);
        if self.json_lines && self.last_json.is_none_or(|at| at.elapsed() >= JSON_EVERY) {
            self.last_json = Some(Instant::now());
            let line = serde_json::json!({ "progress": {
                "share": status.share_done,
                "eta_secs": eta_secs.map(f64::round),
                "processed": progress.processed,
                "resumed_from": progress.resumed_from,
                "pending": progress.pending,
                "in_flight": progress.in_flight,
                "bytes": progress.bytes,
                "rate": progress.rate.round(),
                "requests_hedged": progress.hedged,
                "peers": progress.peers,
                "elapsed_secs": progress.elapsed.as_secs_f64(),
            }});
            println!("{line}");
        }
        let summary = format!(
            "{} nodes, {}, {:.0}/s, {} pending, {} peers",
            progress.processed + progress.resumed_from,
            human_bytes(progress.bytes),
            progress.rate,
            progress.pending,
            progress.peers
        );
        if let Some(bar) = &self.bar {
            if let Some(done) = status.share_done {
                bar.set_position((done * BAR_LENGTH as f64) as u64);
            }
            bar.set_message(summary);
            return;
        }
        if self.last_log.is_some_and(|at| at.elapsed() < LOG_EVERY) {
            return;
        }
        self.last_log = Some(Instant::now());
        let done = status.share_done.map_or("?".to_string(), |done| format!("{:.1}%", done * 100.0));
        let eta = eta_secs.map_or("?".to_string(), |secs| format!("{secs:.0}s"));
        tracing::info!(
            target: "statesync::sync",
            processed = progress.processed,
            resumed_from = progress.resumed_from,
            pending = progress.pending,
            bytes = progress.bytes,
            rate = format!("{:.0}/s", progress.rate),
            peers = progress.peers,
            done,
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
