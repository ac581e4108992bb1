//! What the commands that run the statesync binary share: a scratch directory, running a command
//! for its JSON report, reading counts from one, and printing them.

use std::path::PathBuf;
use std::process::Command;

use anyhow::{ensure, Context, Result};
use serde_json::Value;

use crate::render;

/// A fresh `statesync-{name}-{pid}` directory in the system's temporary directory, removed on drop
/// unless [`keep`](Self::keep) was called (to leave a failed run's databases and logs).
pub(crate) struct ScratchDir {
    pub(crate) path: PathBuf,
    keep: bool,
}

impl ScratchDir {
    pub(crate) fn create(name: &str) -> Result<Self> {
        let path = std::env::temp_dir().join(format!("statesync-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir_all(&path).with_context(|| format!("creating {}", path.display()))?;
        Ok(ScratchDir { path, keep: false })
    }

    /// Leaves the directory in place when dropped.
    pub(crate) fn keep(&mut self) {
        self.keep = true;
    }
}

impl Drop for ScratchDir {
    fn drop(&mut self) {
        if !self.keep {
            let _ = std::fs::remove_dir_all(&self.path);
        }
    }
}

/// Runs `command` (a statesync command given `--json`), which must succeed, and parses the report it
/// prints; a failure shows the last 20 lines of its stderr.
pub(crate) fn json_report(mut command: Command) -> Result<Value> {
    let output = command.output().with_context(|| format!("starting {}", render(&command)))?;
    ensure!(
        output.status.success(),
        "{} failed with {}:\n{}",
        render(&command),
        output.status,
        tail(&String::from_utf8_lossy(&output.stderr), 20)
    );
    serde_json::from_slice(&output.stdout)
        .with_context(|| format!("{} printed no JSON report", render(&command)))
}

/// The count `field` of a JSON report.
pub(crate) fn count(report: &Value, field: &str) -> Result<u64> {
    report[field].as_u64().with_context(|| format!("report has no count {field:?}: {report}"))
}

/// The last `lines` lines of `text`.
pub(crate) fn tail(text: &str, lines: usize) -> String {
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

/// `1234567` as `1,234,567`.
pub(crate) fn thousands(value: u64) -> String {
    let digits = value.to_string();
    let mut out = String::new();
    for (index, digit) in digits.chars().enumerate() {
        if index > 0 && (digits.len() - index) % 3 == 0 {
            out.push(',');
        }
        out.push(digit);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thousands_and_tails() {
        assert_eq!(thousands(1_234_567), "1,234,567");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(12), "12");
        assert_eq!(thousands(2_890_087), "2,890,087");
        assert_eq!(tail("a\nb\nc", 2), "b\nc");
        assert_eq!(tail("a", 5), "a");
    }

    #[test]
    fn a_scratch_dir_is_removed_unless_kept() {
        let dir = ScratchDir::create("support-test").unwrap();
        let path = dir.path.clone();
        assert!(path.is_dir());
        drop(dir);
        assert!(!path.exists());
        let mut kept = ScratchDir::create("support-test").unwrap();
        kept.keep();
        let path = kept.path.clone();
        drop(kept);
        assert!(path.is_dir());
        std::fs::remove_dir_all(path).unwrap();
    }
}
