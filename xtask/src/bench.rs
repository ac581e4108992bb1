//! `cargo xtask bench`: every criterion bench of the workspace, then one table of the results;
//! `cargo xtask bench transports`: one state synced over wire v1 and over RLPx (see [`transports`]);
//! `cargo xtask bench e2e`: one state generated, served and synced into every backend (see [`e2e`]).

mod e2e;
mod transports;

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use serde_json::Value;

use crate::{cargo, render, run_command, workspace_root};

/// Runs the benches of every crate with all features (extra `args` go to criterion, e.g. a filter),
/// then prints a table of every result criterion saved, so figures can be copied into BENCHMARKS.md.
/// `--report` only prints the table of results already saved.
pub(crate) fn run(args: &[String]) -> Result<()> {
    match args.first().map(String::as_str) {
        Some("transports") => return transports::run(&args[1..]),
        Some("e2e") => return e2e::run(&args[1..]),
        _ => {}
    }
    let criterion_dir = target_dir()?.join("criterion");
    if args.iter().any(|arg| arg == "--report") {
        return print_table(&criterion_dir);
    }
    let mut bench = cargo();
    bench.args(["bench", "--workspace", "--all-features"]);
    if !args.is_empty() {
        bench.arg("--").args(args);
    }
    run_command(bench)?;
    print_table(&criterion_dir)
}

/// Cargo's target directory (where criterion saves its results), as `CARGO_TARGET_DIR` or the
/// configuration may have moved it.
fn target_dir() -> Result<PathBuf> {
    let mut metadata = cargo();
    metadata.args(["metadata", "--format-version", "1", "--no-deps"]);
    let output = metadata.output().with_context(|| format!("starting {}", render(&metadata)))?;
    anyhow::ensure!(output.status.success(), "{} failed with {}", render(&metadata), output.status);
    let metadata: Value = serde_json::from_slice(&output.stdout).context("parsing cargo metadata")?;
    match metadata["target_directory"].as_str() {
        Some(dir) => Ok(dir.into()),
        None => Ok(workspace_root().join("target")),
    }
}

/// One saved criterion result.
struct Row {
    id: String,
    mean_seconds: f64,
    elements: Option<f64>,
    bytes: Option<f64>,
}

fn print_table(criterion_dir: &Path) -> Result<()> {
    let mut rows = Vec::new();
    collect(criterion_dir, &mut rows)?;
    rows.sort_by(|a, b| a.id.cmp(&b.id));
    println!("| bench | mean time | throughput |");
    println!("|---|---|---|");
    for row in rows {
        let throughput = match (row.elements, row.bytes) {
            (Some(elements), _) => format!("{}/s", si(elements / row.mean_seconds, "elem")),
            (None, Some(bytes)) => format!("{}/s", si(bytes / row.mean_seconds, "B")),
            (None, None) => "-".to_string(),
        };
        println!("| {} | {} | {} |", row.id, duration(row.mean_seconds), throughput);
    }
    Ok(())
}

/// Finds every `new/benchmark.json` + `new/estimates.json` pair below `dir`.
fn collect(dir: &Path, rows: &mut Vec<Row>) -> Result<()> {
    let Ok(entries) = std::fs::read_dir(dir) else { return Ok(()) };
    for entry in entries {
        let path = entry?.path();
        if !path.is_dir() {
            continue;
        }
        let (benchmark, estimates) = (path.join("new/benchmark.json"), path.join("new/estimates.json"));
        if benchmark.is_file() && estimates.is_file() {
            rows.push(row(&benchmark, &estimates)?);
        } else {
            collect(&path, rows)?;
        }
    }
    Ok(())
}

fn row(benchmark: &Path, estimates: &Path) -> Result<Row> {
    let read = |path: &Path| -> Result<Value> {
        let text = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
        serde_json::from_str(&text).with_context(|| format!("parsing {}", path.display()))
    };
    let (benchmark, estimates) = (read(benchmark)?, read(estimates)?);
    let id = benchmark["full_id"].as_str().unwrap_or("?").to_string();
    let mean_seconds = estimates["mean"]["point_estimate"].as_f64().unwrap_or(f64::NAN) / 1e9;
    let throughput = &benchmark["throughput"];
    Ok(Row {
        id,
        mean_seconds,
        elements: throughput["Elements"].as_f64(),
        bytes: throughput["Bytes"].as_f64().or_else(|| throughput["BytesDecimal"].as_f64()),
    })
}

fn duration(seconds: f64) -> String {
    match seconds {
        s if s >= 1.0 => format!("{s:.3} s"),
        s if s >= 1e-3 => format!("{:.2} ms", s * 1e3),
        s if s >= 1e-6 => format!("{:.2} µs", s * 1e6),
        s => format!("{:.1} ns", s * 1e9),
    }
}

fn si(value: f64, unit: &str) -> String {
    match value {
        v if v >= 1e9 => format!("{:.2} G{unit}", v / 1e9),
        v if v >= 1e6 => format!("{:.2} M{unit}", v / 1e6),
        v if v >= 1e3 => format!("{:.1} K{unit}", v / 1e3),
        v => format!("{v:.1} {unit}"),
    }
}
