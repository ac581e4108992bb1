//! `cargo xtask bench transports [--accounts N] [--runs R] [--backend memory|redb]`: one state synced
//! from one `statesync serve` over wire v1 and over RLPx, in one run, with the release binary.
//!
//! It generates a synthetic state (`gen --export-genesis`, so both sides share its genesis file),
//! starts one `serve --listen 127.0.0.1:0 --rlpx 127.0.0.1:0 --genesis FILE` on it, then syncs the
//! whole state R times over each transport, alternating which goes first in each round, each time into
//! a fresh store of `--backend` (memory by default, so the store does not hide the transport; redb
//! in a fresh temporary directory otherwise). Each sync must fetch exactly gen's nodes and code blobs.
//! It prints a table per transport: wall seconds of the `sync` process (start to exit: over RLPx this
//! includes hashing the genesis file's state to know the chain, the handshakes, the download and the
//! last commit) and seconds of the download alone (the sync report's `elapsed`), min and median
//! each; entries/s of the median download, and RLPx's rate over wire v1's, of downloads and walls.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Instant;

use anyhow::{bail, ensure, Context, Result};
use serde_json::Value;

use crate::interop::{build_statesync, KillOnDrop};
use crate::render;
use crate::support::{count, json_report, ScratchDir};

/// Accounts of the synthetic state by default: the demo's size.
const DEFAULT_ACCOUNTS: u64 = 50_000;
/// Syncs per transport by default: enough for a median on a shared machine.
const DEFAULT_RUNS: usize = 3;

/// The two transports compared, as the table names them.
const TRANSPORTS: [&str; 2] = ["wire v1", "RLPx"];

/// Options of `cargo xtask bench transports`.
struct Options {
    accounts: u64,
    runs: usize,
    backend: String,
}

fn parse(args: &[String]) -> Result<Options> {
    let mut options =
        Options { accounts: DEFAULT_ACCOUNTS, runs: DEFAULT_RUNS, backend: "memory".to_string() };
    let mut args = args.iter();
    while let Some(arg) = args.next() {
        let mut value = |name: &str| args.next().with_context(|| format!("{name} needs a value"));
        match arg.as_str() {
            "--accounts" => options.accounts = value("--accounts")?.parse().context("--accounts N")?,
            "--runs" => options.runs = value("--runs")?.parse().context("--runs R")?,
            "--backend" => options.backend = value("--backend")?.clone(),
            other => bail!(
                "bench transports: unknown argument {other:?} (expected --accounts N, --runs R, --backend memory|redb)"
            ),
        }
    }
    ensure!(options.runs > 0, "--runs must be at least 1");
    ensure!(["memory", "redb"].contains(&options.backend.as_str()), "--backend is memory or redb");
    Ok(options)
}

/// Runs the comparison and prints its table.
pub(crate) fn run(args: &[String]) -> Result<()> {
    let options = parse(args)?;
    let binary = build_statesync(true)?;
    // The run's state, genesis file and synced databases.
    let work = ScratchDir::create("bench-transports")?;
    let (source, genesis) = (work.path.join("source"), work.path.join("genesis.json"));

    let accounts = options.accounts.to_string();
    let generated = json(
        &binary,
        &["gen", "--db", path(&source)?, "--accounts", &accounts, "--export-genesis", path(&genesis)?],
    )?;
    let root = generated["root"].as_str().context("gen reported no root")?.to_string();
    let entries = count(&generated, "nodes")? + count(&generated, "codes")?;
    eprintln!("state {root}: {entries} entries ({accounts} accounts)");

    let mut serve = Command::new(&binary);
    serve
        .args(["--log-level", "warn", "serve", "--db", path(&source)?])
        .args(["--listen", "127.0.0.1:0", "--rlpx", "127.0.0.1:0", "--genesis", path(&genesis)?])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit());
    let mut server = KillOnDrop(serve.spawn().with_context(|| format!("starting {}", render(&serve)))?);
    let mut lines = BufReader::new(server.0.stdout.take().context("serve's stdout")?).lines();
    let mut next_line = || -> Result<String> {
        Ok(lines.next().context("serve exited before printing its addresses")??.trim().to_string())
    };
    let wire_addr = next_line()?;
    let enode = next_line()?;
    ensure!(enode.starts_with("enode://"), "serve printed {enode:?} where its enode was expected");
    eprintln!("serving on {wire_addr} (wire v1) and {enode} (RLPx)");

    // (wall, download) seconds of each sync, per transport
    let mut times: [Vec<(f64, f64)>; 2] = [Vec::new(), Vec::new()];
    for round in 0..options.runs {
        let order = if round % 2 == 0 { [0, 1] } else { [1, 0] };
        for transport in order {
            let db = work.path.join(format!("synced-{round}-{transport}"));
            let mut args = vec!["--backend", options.backend.as_str(), "sync", "--root", root.as_str()];
            if options.backend != "memory" {
                args.extend(["--db", path(&db)?]);
            }
            match transport {
                0 => args.extend(["--peer", wire_addr.as_str()]),
                _ => args.extend(["--peer", enode.as_str(), "--genesis", path(&genesis)?]),
            }
            let started = Instant::now();
            let report = json(&binary, &args)?;
            let wall = started.elapsed().as_secs_f64();
            let fetched = count(&report, "nodes")? + count(&report, "codes")?;
            ensure!(
                fetched == entries && count(&report, "resumed_from")? == 0,
                "{} sync fetched {fetched} of {entries} entries: {report}",
                TRANSPORTS[transport]
            );
            let download = report["elapsed"].as_f64().with_context(|| format!("no elapsed: {report}"))?;
            eprintln!(
                "round {}: {} wall {wall:.3} s, download {download:.3} s",
                round + 1,
                TRANSPORTS[transport]
            );
            times[transport].push((wall, download));
            let _ = std::fs::remove_dir_all(&db);
        }
    }
    drop(server);

    println!(
        "{} accounts, {entries} entries, {} syncs per transport into {}, one serve on loopback",
        options.accounts,
        options.runs,
        if options.backend == "memory" {
            "memory".to_string()
        } else {
            format!("a fresh {}", options.backend)
        }
    );
    println!();
    println!("| transport | entries | wall s (min / median) | download s (min / median) | entries/s (median download) | RLPx / wire (download, wall) |");
    println!("|---|---|---|---|---|---|");
    let wall: Vec<Vec<f64>> = times.iter().map(|runs| runs.iter().map(|t| t.0).collect()).collect();
    let download: Vec<Vec<f64>> = times.iter().map(|runs| runs.iter().map(|t| t.1).collect()).collect();
    for transport in 0..TRANSPORTS.len() {
        let ratio = match transport {
            0 => "1.00".to_string(),
            _ => format!(
                "{:.2}, {:.2}",
                median(&download[0]) / median(&download[transport]),
                median(&wall[0]) / median(&wall[transport])
            ),
        };
        println!(
            "| {} | {entries} | {:.3} / {:.3} | {:.3} / {:.3} | {:.0} | {ratio} |",
            TRANSPORTS[transport],
            min(&wall[transport]),
            median(&wall[transport]),
            min(&download[transport]),
            median(&download[transport]),
            entries as f64 / median(&download[transport]),
        );
    }
    Ok(())
}

/// Runs `statesync --log-level warn --json args`, which must succeed, and parses its report.
fn json(binary: &Path, args: &[&str]) -> Result<Value> {
    let mut command = Command::new(binary);
    command.args(["--log-level", "warn", "--json"]).args(args).stdin(Stdio::null());
    json_report(command)
}

fn min(values: &[f64]) -> f64 {
    values.iter().copied().fold(f64::INFINITY, f64::min)
}

fn median(values: &[f64]) -> f64 {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    let middle = sorted.len() / 2;
    if sorted.len() % 2 == 0 {
        (sorted[middle - 1] + sorted[middle]) / 2.0
    } else {
        sorted[middle]
    }
}

pub(super) fn path(path: &Path) -> Result<&str> {
    path.to_str().with_context(|| format!("{} is not UTF-8", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn median_of_odd_and_even_counts() {
        assert_eq!(median(&[3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(&[4.0, 1.0, 3.0, 2.0]), 2.5);
    }

    #[test]
    fn options_default_and_refuse_unknown_arguments() {
        let options = parse(&[]).unwrap();
        assert_eq!((options.accounts, options.runs, options.backend.as_str()), (50_000, 3, "memory"));
        let args: Vec<String> = ["--accounts", "200", "--backend", "redb"].map(String::from).to_vec();
        assert_eq!(parse(&args).unwrap().accounts, 200);
        assert!(parse(&["--fast".to_string()]).is_err());
        assert!(parse(&["--backend".to_string(), "fjall".to_string()]).is_err());
    }
}
