//! `cargo xtask bench e2e [--accounts N] [--seed S] [--backends memory,redb,fjall]`: one synthetic
//! state generated, served and synced into every backend, in one run, with the release binary.
//!
//! It generates the state into redb (`gen --accounts N --seed S`), starts [`SERVES`] `serve --listen
//! 127.0.0.1:0` processes (wire v1) on that database, then syncs the whole state from all of them
//! into each backend in turn, each into a fresh directory (`sync --backend B`). Each sync must fetch
//! exactly gen's nodes and code blobs. For `gen` and each sync it measures:
//!
//! - *wall*: the process from start to exit, and entries/s over it (the download alone is the
//!   report's `elapsed`; wall adds opening the store, connecting and the last commit);
//! - *peak RSS*: the process's `VmHWM` in `/proc/<pid>/status`, read every [`RSS_POLL`] while it
//!   runs (growth in its last [`RSS_POLL`] is missed: `VmHWM` is gone once it exits);
//! - *on disk*: the allocated size of its database directory after it exits, as `du` counts it;
//! - *in commits*: for a sync, the sum of its `committed ... elapsed=` debug events
//!   (`--log-level warn,state_sync=debug`), each from a batch handed to the store until the sync
//!   loop took it back written, their count, and their share of the wall time. Since commits overlap
//!   the network (one write in flight), that is the share of the sync with a write in flight: near
//!   100 % the store is the bottleneck. (Before, the loop awaited each write: the download stood
//!   still for that share.)
//!
//! and for each `serve`, its `VmHWM` after all syncs, just before it is stopped. It prints one
//! table, rates also as a ratio to the memory backend's, so the figures can be copied into
//! BENCHMARKS.md.

use std::fs::File;
use std::io::{BufRead, BufReader, Lines};
use std::path::Path;
use std::process::{ChildStdout, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, ensure, Context, Result};
use serde_json::Value;

use super::transports::path;
use crate::interop::{build_statesync, KillOnDrop};
use crate::render;
use crate::support::{count, thousands, ScratchDir};

/// Accounts of the synthetic state by default: ~2.9M entries, the first size.
const DEFAULT_ACCOUNTS: u64 = 500_000;
/// Seed of the synthetic state by default, the one the issue measured with.
const DEFAULT_SEED: u64 = 3;
/// The backends synced into by default, in this order; memory first, since the others' rates are
/// given as a ratio to it.
const BACKENDS: [&str; 3] = ["memory", "redb", "fjall"];
/// `serve` processes the syncs download from: several peers, as a real sync has, each its own process
/// (a read-only redb handle each) so each one's memory is measured.
const SERVES: usize = 4;
/// How often a running process's peak RSS is read: often enough to miss little at the end, rarely
/// enough to cost nothing.
const RSS_POLL: Duration = Duration::from_millis(100);
/// One MiB, for the table.
const MIB: f64 = 1024.0 * 1024.0;

/// Options of `cargo xtask bench e2e`.
struct Options {
    accounts: u64,
    seed: u64,
    backends: Vec<String>,
}

fn parse(args: &[String]) -> Result<Options> {
    let mut options = Options {
        accounts: DEFAULT_ACCOUNTS,
        seed: DEFAULT_SEED,
        backends: BACKENDS.map(String::from).to_vec(),
    };
    let mut args = args.iter();
    while let Some(arg) = args.next() {
        let mut value = |name: &str| args.next().with_context(|| format!("{name} needs a value"));
        match arg.as_str() {
            "--accounts" => options.accounts = value("--accounts")?.parse().context("--accounts N")?,
            "--seed" => options.seed = value("--seed")?.parse().context("--seed S")?,
            "--backends" => {
                options.backends = value("--backends")?.split(',').map(String::from).collect();
            }
            other => bail!(
                "bench e2e: unknown argument {other:?} (expected --accounts N, --seed S, --backends memory,redb,fjall)"
            ),
        }
    }
    ensure!(options.accounts > 0, "--accounts must be at least 1");
    for backend in &options.backends {
        ensure!(BACKENDS.contains(&backend.as_str()), "--backends: {backend:?} is not one of {BACKENDS:?}");
    }
    Ok(options)
}

/// What one `gen` or `sync` process did, as measured from outside.
struct Measured {
    /// Its `--json` report.
    report: Value,
    /// Start to exit.
    wall: Duration,
    /// The highest `VmHWM` read while it ran, in bytes.
    peak_rss: u64,
    /// Its stderr (its log).
    log: String,
}

/// One row of the table.
struct Row {
    run: String,
    entries: u64,
    wall: Duration,
    peak_rss: u64,
    /// Allocated bytes of its database directory; `None` for the memory backend.
    on_disk: Option<u64>,
    /// Time in store writes and their count; `None` for `gen`, or a log without commit events.
    commits: Option<(Duration, usize)>,
}

impl Row {
    fn rate(&self) -> f64 {
        self.entries as f64 / self.wall.as_secs_f64()
    }
}

/// Runs the whole measurement and prints its table.
pub(crate) fn run(args: &[String]) -> Result<()> {
    let options = parse(args)?;
    let binary = build_statesync(true)?;
    let work = ScratchDir::create("bench-e2e")?;
    let source = work.path.join("source");
    let load_before = load_average();

    let (accounts, seed) = (options.accounts.to_string(), options.seed.to_string());
    eprintln!("gen: {accounts} accounts, seed {seed}, into redb ...");
    let generated = measure(
        &binary,
        &["--backend", "redb", "gen", "--db", path(&source)?, "--accounts", &accounts, "--seed", &seed],
        &work.path.join("gen"),
    )?;
    let root = generated.report["root"].as_str().context("gen reported no root")?.to_string();
    let (nodes, codes) = (count(&generated.report, "nodes")?, count(&generated.report, "codes")?);
    let (entries, bytes) = (nodes + codes, count(&generated.report, "bytes")?);
    let mut rows = vec![Row {
        run: "`gen` into redb".to_string(),
        entries,
        wall: generated.wall,
        peak_rss: generated.peak_rss,
        on_disk: Some(disk_usage(&source)?),
        commits: None,
    }];
    eprintln!("state {root}: {entries} entries in {:.1} s", generated.wall.as_secs_f64());

    let mut serves = Vec::with_capacity(SERVES);
    for _ in 0..SERVES {
        serves.push(Serve::start(&binary, &source)?);
    }
    let addresses: Vec<&str> = serves.iter().map(|serve| serve.address.as_str()).collect();
    eprintln!("serving on {}", addresses.join(", "));

    for backend in &options.backends {
        let db = work.path.join(format!("synced-{backend}"));
        let mut args = vec!["--log-level", "warn,state_sync=debug", "--backend", backend, "sync"];
        args.extend(["--db", path(&db)?, "--root", root.as_str()]);
        for address in &addresses {
            args.extend(["--peer", address]);
        }
        eprintln!("sync into {backend} ...");
        let synced = measure(&binary, &args, &work.path.join(format!("sync-{backend}")))?;
        let fetched = count(&synced.report, "nodes")? + count(&synced.report, "codes")?;
        ensure!(
            fetched == entries && count(&synced.report, "resumed_from")? == 0,
            "sync into {backend} fetched {fetched} of {entries} entries: {}",
            synced.report
        );
        let row = Row {
            run: format!("sync → {backend}"),
            entries: fetched,
            wall: synced.wall,
            peak_rss: synced.peak_rss,
            on_disk: if backend == "memory" { None } else { Some(disk_usage(&db)?) },
            commits: commit_time(&synced.log),
        };
        eprintln!(
            "sync into {backend}: {:.1} s, {:.0} entries/s, peak RSS {:.0} MiB",
            row.wall.as_secs_f64(),
            row.rate(),
            row.peak_rss as f64 / MIB
        );
        rows.push(row);
        let _ = std::fs::remove_dir_all(&db);
    }
    let serve_rss: Vec<u64> =
        serves.iter().map(|serve| peak_rss(serve.child.0.id())).collect::<Result<_>>()?;
    drop(serves);
    let load_after = load_average();

    println!(
        "{} accounts (seed {}): {entries} entries ({nodes} trie nodes + {codes} code blobs, {:.0} MiB), \
         {SERVES} serve processes on loopback (wire v1), release build; load average {load_before} before, \
         {load_after} after",
        options.accounts,
        options.seed,
        bytes as f64 / MIB
    );
    println!();
    print_table(&rows, &serve_rss);
    Ok(())
}

fn print_table(rows: &[Row], serve_rss: &[u64]) {
    let memory_rate = rows.iter().find(|row| row.run == "sync → memory").map(Row::rate);
    println!("| run | entries | wall | entries/s | / memory | peak RSS | on disk | in commits |");
    println!("|---|---|---|---|---|---|---|---|");
    for row in rows {
        let ratio = match memory_rate {
            Some(memory) if row.run.starts_with("sync") => format!("{:.2}", row.rate() / memory),
            _ => "—".to_string(),
        };
        let commits = match row.commits {
            Some((time, commits)) => format!(
                "{:.1} s ({:.0} %, {commits} commits)",
                time.as_secs_f64(),
                100.0 * time.as_secs_f64() / row.wall.as_secs_f64()
            ),
            None => "—".to_string(),
        };
        println!(
            "| {} | {} | {:.1} s | {} | {ratio} | {} | {} | {commits} |",
            row.run,
            thousands(row.entries),
            row.wall.as_secs_f64(),
            kilo(row.rate()),
            mib(row.peak_rss),
            row.on_disk.map_or("—".to_string(), mib),
        );
    }
    if let (Some(low), Some(high)) = (serve_rss.iter().min(), serve_rss.iter().max()) {
        println!(
            "| each of the {} `serve` (after all syncs) | — | — | — | — | {} – {} | — | — |",
            serve_rss.len(),
            mib(*low),
            mib(*high)
        );
    }
}

/// One `statesync serve` on a free port of loopback.
struct Serve {
    child: KillOnDrop,
    address: String,
    /// The rest of its stdout, kept open so that nothing it prints there fails.
    _stdout: Lines<BufReader<ChildStdout>>,
}

impl Serve {
    fn start(binary: &Path, db: &Path) -> Result<Self> {
        let mut serve = Command::new(binary);
        serve
            .args(["--log-level", "warn", "serve", "--db", path(db)?, "--listen", "127.0.0.1:0"])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit());
        let mut child = KillOnDrop(serve.spawn().with_context(|| format!("starting {}", render(&serve)))?);
        let mut lines = BufReader::new(child.0.stdout.take().context("serve's stdout")?).lines();
        let address = lines.next().context("serve exited before printing its address")??.trim().to_string();
        Ok(Serve { child, address, _stdout: lines })
    }
}

/// Runs `statesync --json args` to completion, stdout and stderr into files named after `output`,
/// reading its peak RSS while it runs. It must succeed.
fn measure(binary: &Path, args: &[&str], output: &Path) -> Result<Measured> {
    let (stdout_path, stderr_path) = (output.with_extension("json"), output.with_extension("log"));
    let mut command = Command::new(binary);
    command
        .arg("--json")
        .args(args)
        .stdin(Stdio::null())
        .stdout(File::create(&stdout_path).with_context(|| format!("creating {}", stdout_path.display()))?)
        .stderr(File::create(&stderr_path).with_context(|| format!("creating {}", stderr_path.display()))?);
    let started = Instant::now();
    let mut child = command.spawn().with_context(|| format!("starting {}", render(&command)))?;
    let (peak, done) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicBool::new(false)));
    let poller = {
        let (peak, done, pid) = (peak.clone(), done.clone(), child.id());
        std::thread::spawn(move || {
            while !done.load(Ordering::Relaxed) {
                // Fails once the process has exited; the last value read stands.
                if let Ok(rss) = peak_rss(pid) {
                    peak.fetch_max(rss, Ordering::Relaxed);
                }
                std::thread::sleep(RSS_POLL);
            }
        })
    };
    let status = child.wait();
    let wall = started.elapsed();
    done.store(true, Ordering::Relaxed);
    let _ = poller.join();
    let status = status.with_context(|| format!("waiting for {}", render(&command)))?;
    let log = std::fs::read_to_string(&stderr_path).unwrap_or_default();
    ensure!(status.success(), "{} failed with {status}:\n{log}", render(&command));
    let stdout = std::fs::read(&stdout_path).with_context(|| format!("reading {}", stdout_path.display()))?;
    let report = serde_json::from_slice(&stdout)
        .with_context(|| format!("{} printed no JSON report", render(&command)))?;
    Ok(Measured { report, wall, peak_rss: peak.load(Ordering::Relaxed), log })
}

/// The peak resident set (`VmHWM`) of a running process, in bytes.
fn peak_rss(pid: u32) -> Result<u64> {
    let status_path = format!("/proc/{pid}/status");
    let status = std::fs::read_to_string(&status_path).with_context(|| format!("reading {status_path}"))?;
    vm_hwm(&status).with_context(|| format!("no VmHWM in {status_path}"))
}

/// `VmHWM:   123456 kB` of a `/proc/<pid>/status`, in bytes.
fn vm_hwm(status: &str) -> Option<u64> {
    let line = status.lines().find_map(|line| line.strip_prefix("VmHWM:"))?;
    let kib = line.trim().strip_suffix("kB")?.trim().parse::<u64>().ok()?;
    Some(kib * 1024)
}

/// Bytes allocated to the files below `dir` (what `du` counts: sparse or preallocated files by what
/// they occupy).
fn disk_usage(dir: &Path) -> Result<u64> {
    use std::os::unix::fs::MetadataExt;
    let mut total = 0;
    for entry in std::fs::read_dir(dir).with_context(|| format!("reading {}", dir.display()))? {
        let entry = entry?;
        let metadata = entry.metadata()?;
        total += if metadata.is_dir() { disk_usage(&entry.path())? } else { metadata.blocks() * 512 };
    }
    Ok(total)
}

/// The summed `elapsed` of the `committed` debug events of a sync's log, and their count.
fn commit_time(log: &str) -> Option<(Duration, usize)> {
    let mut total = Duration::ZERO;
    let mut commits = 0;
    for line in log.lines().filter(|line| line.contains(": committed ")) {
        let Some(elapsed) = line.split_whitespace().find_map(|field| field.strip_prefix("elapsed=")) else {
            continue;
        };
        total += debug_duration(elapsed)?;
        commits += 1;
    }
    (commits > 0).then_some((total, commits))
}

/// A `Duration` as its `Debug` prints it: `1.5s`, `12.3ms`, `800µs`, `50ns`.
fn debug_duration(text: &str) -> Option<Duration> {
    let (number, unit) = text.split_at(text.find(|c: char| c.is_ascii_alphabetic() || c == 'µ')?);
    let seconds_per_unit = match unit {
        "s" => 1.0,
        "ms" => 1e-3,
        "µs" => 1e-6,
        "ns" => 1e-9,
        _ => return None,
    };
    Some(Duration::from_secs_f64(number.parse::<f64>().ok()? * seconds_per_unit))
}

/// The 1-minute load average, as `/proc/loadavg` gives it (`?` where there is none).
fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|text| text.split_whitespace().next().map(String::from))
        .unwrap_or_else(|| "?".to_string())
}

fn mib(bytes: u64) -> String {
    format!("{} MiB", thousands((bytes as f64 / MIB).round() as u64))
}

fn kilo(rate: f64) -> String {
    format!("{:.0} K", rate / 1e3)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn options_default_and_refuse_unknown_arguments() {
        let options = parse(&[]).unwrap();
        assert_eq!((options.accounts, options.seed, options.backends.len()), (500_000, 3, 3));
        let args: Vec<String> =
            ["--accounts", "200", "--backends", "memory,fjall"].map(String::from).to_vec();
        let options = parse(&args).unwrap();
        assert_eq!(
            (options.accounts, options.backends),
            (200, vec!["memory".to_string(), "fjall".to_string()])
        );
        assert!(parse(&["--fast".to_string()]).is_err());
        assert!(parse(&["--backends".to_string(), "rocksdb".to_string()]).is_err());
    }

    #[test]
    fn reads_peak_rss_commit_times_and_figures() {
        let status = "Name:\tstatesync\nVmPeak:\t  900 kB\nVmHWM:\t    2048 kB\nVmRSS:\t 1024 kB\n";
        assert_eq!(vm_hwm(status), Some(2 * 1024 * 1024));
        assert_eq!(vm_hwm("Name:\tx\n"), None);

        let log = "\
2026-12-01T10:00:00.1Z DEBUG state_sync{root=0xab}: state_sync: committed entries=10 bytes=20 durable=false elapsed=1.5s
2026-12-01T10:00:00.2Z DEBUG state_sync{root=0xab}: state_sync: hedging a late request late=a peer=b items=3
2026-12-01T10:00:00.3Z DEBUG state_sync{root=0xab}: state_sync: committed entries=10 bytes=20 durable=true elapsed=250ms
2026-12-01T10:00:00.4Z DEBUG state_sync{root=0xab}: state_sync: committed entries=1 bytes=2 durable=true elapsed=500µs";
        assert_eq!(commit_time(log), Some((Duration::from_micros(1_750_500), 3)));
        assert_eq!(commit_time("no commits here"), None);

        assert_eq!(mib(1_110 * 1024 * 1024), "1,110 MiB");
    }
}
