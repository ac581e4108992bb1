//! `cargo xtask chaos [--accounts N] [--kills K] [--seed S] [--durable-every D] [--release|--debug]`:
//! SIGKILLs a `statesync sync` at K random instants, resumes it each time on the same database, then
//! verifies the result and reports what the kills cost.
//!
//! 1. Builds statesync (release by default; `--debug` takes the binary `cargo xtask ci` builds),
//!    `gen`s a synthetic state (`--accounts 175000`, the default, is about 1M entries: trie nodes plus
//!    code blobs, as gen's JSON report counts them) and serves it from [`PEERS`] `serve` processes on
//!    127.0.0.1:0 over wire v1.
//! 2. Syncs it once without a kill, into a scratch database, to measure how long a sync takes.
//! 3. Runs `sync --durable-every D` into the chaos database again and again. Before each run it draws
//!    `u` uniformly in (0, 1) from a generator seeded with `--seed`; once the run logs where it starts
//!    (its checkpoint), it is killed at `u` × [`KILL_SPAN`] × the clean sync's duration × the share of
//!    entries still missing, counted from its start: a random instant of the time it should need
//!    until done. After K kills, the last run is left to finish. `verify` must then find the state
//!    complete, with gen's counts. (A run that finishes before its instant anyway ends the chaos
//!    with fewer kills, which the report says.)
//! 4. Prints a table, a line per run, and the totals.
//!
//! What each run is judged on (the sync logs at `info,state_sync=debug`; the servers log each
//! answer at `peers::server=trace`, so the entries sent to each run are counted exactly):
//!
//! - found: the entries its checkpoint held when it started (its `state sync starting` line).
//! - fetched: the entries the peers sent while it ran (in flight at the kill included).
//! - durable: of what it committed (a `committed` line per write, in order), the entries up to its
//!   last durable commit as the settings define it: one marked `durable=true`, whether the sync
//!   flushed it (the first commit 5 s or more after the last durable one, and the last) or the store
//!   made it durable itself (every D-th write since the database was opened), or, counted here too
//!   for logs without the mark, every D-th write.
//! - window: what a kill may cost by the settings: fetched − durable, the entries fetched since the
//!   last durable commit (uncommitted, held in memory, or committed but not yet durable).
//! - lost: what it did cost: fetched − (the next run's found − found), the entries the next run had
//!   to fetch again. A resume that starts below the last durable point fetches more than the window:
//!   a failure (a durable commit was lost). So is a resume whose own progress record says so: the
//!   sync writes the durable entry count to `DIR/sync-progress` after each durable commit it makes,
//!   and logs `found` against that `reported` count when it resumes (`recovery` in its JSON report).
//! - A kill is survived if the next run does not fail: it starts (or completes) with no error and
//!   no panic. Any other exit than our SIGKILL or success is a failure.
//!
//! The refetch overhead is everything the peers sent over all runs minus the state's entries. The
//! command exits non-zero if a kill is not survived, a resume fetched more than its window, verify
//! fails, or the entries do not add up (the last run's resumed_from + fetched must be the state's
//! entries). Its work directory is removed, or kept and named when it fails.

use std::collections::VecDeque;
use std::ffi::OsStr;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use anyhow::{bail, ensure, Context, Result};
use serde_json::Value;

use crate::interop::{build_statesync, KillOnDrop};
use crate::render;
use crate::support::{count, json_report, thousands, ScratchDir};

/// Accounts of the default state: about 1M entries (trie nodes and code blobs) with gen's other
/// defaults, enough for a release sync of ~15 s on 2 cores, so that kills land deep in its work.
const DEFAULT_ACCOUNTS: u64 = 175_000;

/// Kills when `--kills` is not given: the figure.
const DEFAULT_KILLS: u32 = 20;

/// `sync --durable-every` when not given: the sync's own default (`statesync::BULK_DURABILITY_EVERY`).
const DEFAULT_DURABLE_EVERY: u32 = 16;

/// `serve` processes the state is synced from: two keep the sync multi-peer while leaving the
/// sync one core of the two the CI machine has.
const PEERS: usize = 2;

/// Log filter of each sync: its progress and recovery lines, and a `committed` line per write.
const SYNC_LOG: &str = "info,state_sync=debug";

/// Log filter of each server: an `answered ... served=N` line per request.
const SERVE_LOG: &str = "warn,peers::server=trace";

/// Kill instants are drawn over this share of the time a run should need to finish, not all of
/// it: a resume runs about as fast as the clean sync (±10 %), so a draw near the end would often
/// come after it finished, and the kill would not land.
const KILL_SPAN: f64 = 0.8;

/// A run that neither finishes nor is killed within this many clean-sync durations is hung.
const HANG_FACTOR: u32 = 10;

/// After a kill, how long the servers get to finish answering the dead connection before their
/// logs are cut for the next run (so its late answers count against the run that asked).
const SETTLE: Duration = Duration::from_millis(200);

/// What the command was asked to do.
struct Options {
    accounts: u64,
    kills: u32,
    seed: u64,
    durable_every: u32,
    release: bool,
}

fn parse_args(args: &[String]) -> Result<Options> {
    let mut options = Options {
        accounts: DEFAULT_ACCOUNTS,
        kills: DEFAULT_KILLS,
        seed: 1,
        durable_every: DEFAULT_DURABLE_EVERY,
        release: true,
    };
    let mut args = args.iter();
    while let Some(arg) = args.next() {
        let mut value = |name: &str| -> Result<u64> {
            let text = args.next().with_context(|| format!("chaos: {name} needs a value"))?;
            text.parse().with_context(|| format!("chaos: {name} {text:?} is not a number"))
        };
        match arg.as_str() {
            "--accounts" => options.accounts = value("--accounts")?,
            "--kills" => options.kills = u32::try_from(value("--kills")?)?,
            "--seed" => options.seed = value("--seed")?,
            "--durable-every" => options.durable_every = u32::try_from(value("--durable-every")?)?,
            "--release" => options.release = true,
            "--debug" => options.release = false,
            other => bail!(
                "chaos: unknown argument {other:?} (expected --accounts N, --kills K, --seed S, \
                 --durable-every D, --release, --debug)"
            ),
        }
    }
    ensure!(options.accounts > 0, "chaos: --accounts must be at least 1");
    ensure!(options.durable_every > 0, "chaos: --durable-every must be at least 1");
    Ok(options)
}

/// `cargo xtask chaos ...`.
pub(crate) fn run(args: &[String]) -> Result<()> {
    let options = parse_args(args)?;
    let binary = build_statesync(options.release)?;
    let mut work = ScratchDir::create("chaos")?;
    let started = Instant::now();
    let result = chaos(&binary, &options, &work.path, started);
    if result.is_err() {
        eprintln!("xtask chaos: failed; databases and logs are kept in {}", work.path.display());
        work.keep();
    }
    result
}

/// The state under test, as `gen` reported it.
struct State {
    root: String,
    accounts: u64,
    nodes: u64,
    codes: u64,
}

impl State {
    /// Entries a sync fetches: trie nodes and code blobs.
    fn entries(&self) -> u64 {
        self.nodes + self.codes
    }
}

fn chaos(binary: &Path, options: &Options, work: &Path, started: Instant) -> Result<()> {
    let timer = Instant::now();
    let generated = json_command(
        binary,
        [OsStr::new("gen"), OsStr::new("--db"), work.join("source").as_os_str()]
            .into_iter()
            .chain([OsStr::new("--accounts"), OsStr::new(&options.accounts.to_string())])
            .chain([OsStr::new("--seed"), OsStr::new(&options.seed.to_string())]),
    )?;
    let state = State {
        root: generated["root"].as_str().context("gen reported no root")?.to_string(),
        accounts: count(&generated, "accounts")?,
        nodes: count(&generated, "nodes")?,
        codes: count(&generated, "codes")?,
    };
    let total = state.entries();
    println!(
        "gen: {} accounts, {} trie nodes + {} code blobs = {} entries, root {} ({:.1} s)",
        state.accounts,
        state.nodes,
        state.codes,
        thousands(total),
        state.root,
        timer.elapsed().as_secs_f64()
    );

    let mut servers = Vec::new();
    for index in 0..PEERS {
        servers.push(Server::start(binary, &work.join("source"), &work.join(format!("serve-{index}.log")))?);
    }
    let peers: Vec<String> = servers.iter().map(|server| server.addr.clone()).collect();
    println!("serving it from {} (wire v1)", peers.join(", "));
    let sync = SyncCommand {
        binary: binary.to_path_buf(),
        root: state.root.clone(),
        peers,
        durable_every: options.durable_every,
    };

    // The clean sync: how long a whole sync takes, the scale of the kill instants.
    let mark = served_marks(&servers)?;
    let clean = sync.run(&work.join("clean"), &work.join("sync-clean.log"), None, Duration::MAX)?;
    let clean_fetched = served_since(&servers, &mark)?;
    let clean_time = clean.ran;
    match &clean.end {
        End::Completed(report) => {
            let fetched = count(report, "nodes")? + count(report, "codes")?;
            ensure!(fetched == total, "the clean sync fetched {fetched} entries, the state has {total}");
        }
        other => bail!("the clean sync did not complete: {other:?}"),
    }
    let _ = std::fs::remove_dir_all(work.join("clean"));
    println!(
        "clean sync (--durable-every {}): {:.1} s, the peers sent {} entries",
        options.durable_every,
        clean_time.as_secs_f64(),
        thousands(clean_fetched)
    );

    // The chaos: kill, resume, until `kills` kills landed; then the last run finishes.
    let db = work.join("synced");
    let mut random = SplitMix64(options.seed);
    let mut runs: Vec<Run> = Vec::new();
    let mut kills = 0;
    let hang = clean_time * HANG_FACTOR + Duration::from_secs(60);
    loop {
        let kill_at = (kills < options.kills).then(|| KillAt { share: random.unit(), clean_time, total });
        let mark = served_marks(&servers)?;
        let log = work.join(format!("sync-{}.log", runs.len() + 1));
        let mut run = sync.run(&db, &log, kill_at, hang)?;
        if matches!(run.end, End::Killed) {
            std::thread::sleep(SETTLE);
        }
        run.fetched = served_since(&servers, &mark)?;
        let (number, end) = (runs.len() + 1, run.end.clone());
        runs.push(run);
        match end {
            End::Killed => {
                kills += 1;
                eprintln!("chaos: run {number} killed ({kills} of {})", options.kills);
            }
            End::Completed(_) => break,
            End::Failed { .. } => break,
        }
    }

    let verified = if matches!(runs.last().map(|run| &run.end), Some(End::Completed(_))) {
        Some(json_command(
            binary,
            [OsStr::new("verify"), OsStr::new("--db"), db.as_os_str()]
                .into_iter()
                .chain([OsStr::new("--root"), OsStr::new(&state.root)]),
        )?)
    } else {
        None
    };
    let summary = Summary::new(&runs, &state, options.durable_every);
    summary.print(&runs, options, &state, clean_time, clean_fetched, kills);
    let verify_ok = match &verified {
        Some(verify) => {
            let complete = verify["complete"] == Value::Bool(true);
            let counts = (count(verify, "accounts")?, count(verify, "nodes")?, count(verify, "codes")?);
            let expected = (state.accounts, state.nodes, state.codes);
            println!(
                "verify: {}, (accounts, nodes, codes) {counts:?}{}",
                if complete { "complete" } else { "INCOMPLETE" },
                if counts == expected {
                    " = gen's".to_string()
                } else {
                    format!(" but gen has {expected:?}")
                }
            );
            complete && counts == expected
        }
        None => {
            println!("verify: not run, the last sync did not complete");
            false
        }
    };
    println!("wall time: {:.1} s (build excluded)", started.elapsed().as_secs_f64());

    let mut failures = summary.failures.clone();
    if !verify_ok {
        failures.push("verify did not find the state complete with gen's counts".to_string());
    }
    if kills < options.kills {
        println!(
            "note: only {kills} of {} kills landed: the sync completed before the next kill instant",
            options.kills
        );
    }
    if failures.is_empty() {
        println!("xtask chaos: {kills} kills survived, no durable commit lost, verify complete");
        Ok(())
    } else {
        for failure in &failures {
            eprintln!("chaos: FAILED: {failure}");
        }
        bail!("{} failure(s)", failures.len())
    }
}

/// When to kill a run: at `share` of the time it should need to finish, once it says where it
/// starts from.
#[derive(Clone, Copy)]
struct KillAt {
    /// Drawn uniformly in (0, 1).
    share: f64,
    /// How long a whole sync took.
    clean_time: Duration,
    /// The state's entries.
    total: u64,
}

impl KillAt {
    /// The kill instant, from the run's start, for a run that found `found` entries committed: a
    /// share of the clean sync's time scaled to the entries still missing.
    fn delay(&self, found: u64) -> Duration {
        let missing = self.total.saturating_sub(found) as f64 / self.total.max(1) as f64;
        self.clean_time.mul_f64(self.share * KILL_SPAN * missing)
    }
}

/// How a run ended.
#[derive(Clone, Debug)]
enum End {
    /// By our SIGKILL.
    Killed,
    /// By itself, successfully, with this JSON report.
    Completed(Value),
    /// By itself, with an error, or with a panic: the database did not survive the last kill, or
    /// the sync has a bug.
    Failed { status: String, stderr_tail: String },
}

/// One `statesync sync` process.
struct Run {
    end: End,
    /// From its start to its end.
    ran: Duration,
    /// Its checkpoint's entries when it started, if it got that far.
    found: Option<u64>,
    /// What its progress record said the last run made durable, and what it found (the `resuming`
    /// or `rolled back` line).
    recovery: Option<(u64, u64)>,
    /// Its writes, in order: entries and whether the sync flushed it.
    commits: Vec<(u64, bool)>,
    /// Entries the peers sent while it ran.
    fetched: u64,
}

impl Run {
    /// Entries it committed, durable or not.
    fn committed(&self) -> u64 {
        self.commits.iter().map(|(entries, _)| entries).sum()
    }

    /// Entries it committed up to its last durable write, as `--durable-every` and the sync's own
    /// flushes define it.
    fn durable(&self, durable_every: u32) -> u64 {
        let mut sum = 0;
        let mut durable = 0;
        for (index, &(entries, flushed)) in self.commits.iter().enumerate() {
            sum += entries;
            if flushed || (index as u64 + 1) % u64::from(durable_every) == 0 {
                durable = sum;
            }
        }
        durable
    }
}

/// How to start `statesync sync` for this state.
struct SyncCommand {
    binary: PathBuf,
    root: String,
    peers: Vec<String>,
    durable_every: u32,
}

impl SyncCommand {
    /// Runs one sync into `db`, its stderr copied to `log`, killed as `kill_at` says (or never),
    /// failed as hung after `hang`.
    fn run(&self, db: &Path, log: &Path, kill_at: Option<KillAt>, hang: Duration) -> Result<Run> {
        let mut command = Command::new(&self.binary);
        command
            .args(["--json", "--log-level", SYNC_LOG, "sync", "--db"])
            .arg(db)
            .args(["--root", &self.root]);
        for peer in &self.peers {
            command.args(["--peer", peer]);
        }
        command.args(["--durable-every", &self.durable_every.to_string()]);
        command.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped());
        let started = Instant::now();
        let mut child =
            KillOnDrop(command.spawn().with_context(|| format!("starting {}", render(&command)))?);
        let stdout = child.0.stdout.take().context("sync's stdout")?;
        let stdout = std::thread::spawn(move || {
            let mut text = String::new();
            let _ = BufReader::new(stdout).read_to_string(&mut text);
            text
        });
        let stderr = child.0.stderr.take().context("sync's stderr")?;
        let (sender, lines) = mpsc::channel::<String>();
        let reader = std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(std::result::Result::ok) {
                if sender.send(line).is_err() {
                    break;
                }
            }
        });

        let mut seen = Vec::new();
        let mut deadline = None;
        let mut killed = false;
        let status = loop {
            if let Some(status) = child.0.try_wait()? {
                break status;
            }
            match lines.recv_timeout(Duration::from_millis(20)) {
                Ok(line) => {
                    if let (Some(kill_at), None) = (kill_at, deadline) {
                        if let Some(found) = starting_found(&line) {
                            deadline = Some(started + kill_at.delay(found));
                        }
                    }
                    seen.push(line);
                }
                Err(mpsc::RecvTimeoutError::Timeout) => {}
                Err(mpsc::RecvTimeoutError::Disconnected) => std::thread::sleep(Duration::from_millis(20)),
            }
            if deadline.is_some_and(|at| Instant::now() >= at) {
                child.0.kill().context("SIGKILL of the sync")?;
                killed = true;
                break child.0.wait()?;
            }
            if started.elapsed() > hang {
                bail!("{} neither finished nor was killed within {hang:?}: hung", render(&command));
            }
        };
        let ran = started.elapsed();
        let _ = reader.join();
        seen.extend(lines.try_iter());
        let stdout = stdout.join().unwrap_or_default();
        std::fs::write(log, seen.join("\n") + "\n").with_context(|| format!("writing {}", log.display()))?;

        let panicked = seen.iter().any(|line| line.contains("panicked at"));
        // Killed by our signal (no exit code); a run that ended by itself just before is judged as
        // one that was not killed.
        let end = if killed && status.code().is_none() && !panicked {
            End::Killed
        } else if status.success() && !panicked {
            let report = stdout.lines().rev().find_map(|line| serde_json::from_str::<Value>(line).ok());
            End::Completed(report.context("the sync succeeded but printed no JSON report")?)
        } else {
            End::Failed { status: status.to_string(), stderr_tail: tail(&seen, 15) }
        };
        Ok(Run {
            end,
            ran,
            found: seen.iter().find_map(|line| starting_found(line)),
            recovery: seen.iter().find_map(|line| recovery(line)),
            commits: seen.iter().filter_map(|line| commit(line)).collect(),
            fetched: 0,
        })
    }
}

/// The figures over all runs, and what failed.
struct Summary {
    /// Per run: found (known or carried over), lost, window and whether it went beyond the window.
    rows: Vec<Row>,
    /// Entries the peers sent over all runs.
    fetched: u64,
    /// Kills the next run survived.
    survived: u32,
    /// Resumes that fetched more than the last run's window (started below its last durable point).
    beyond_window: u32,
    /// Resumes whose progress record says the database rolled back.
    rollbacks: u32,
    failures: Vec<String>,
}

/// A line of the table, beyond what [`Run`] holds.
struct Row {
    found: u64,
    lost: u64,
    window: Option<u64>,
    beyond: bool,
}

impl Summary {
    fn new(runs: &[Run], state: &State, durable_every: u32) -> Self {
        let total = state.entries();
        // A run that did not get as far as its start line committed nothing: it found what the next
        // run that did finds (or, for an already complete state, everything).
        let mut found = vec![0; runs.len()];
        let mut next = total;
        for (index, run) in runs.iter().enumerate().rev() {
            next = run.found.unwrap_or(match &run.end {
                End::Completed(report) if report["already_complete"] == Value::Bool(true) => total,
                _ => next,
            });
            found[index] = next;
        }
        let mut summary = Summary {
            rows: Vec::new(),
            fetched: 0,
            survived: 0,
            beyond_window: 0,
            rollbacks: 0,
            failures: Vec::new(),
        };
        for (index, run) in runs.iter().enumerate() {
            let number = index + 1;
            summary.fetched += run.fetched;
            let next_found = found.get(index + 1).copied().unwrap_or(total);
            let kept = next_found.saturating_sub(found[index]);
            let (window, beyond) = match run.end {
                End::Killed => {
                    let durable = run.durable(durable_every);
                    let beyond = next_found < found[index] + durable;
                    (Some(run.fetched.saturating_sub(durable)), beyond)
                }
                _ => (None, false),
            };
            if beyond {
                summary.beyond_window += 1;
                summary.failures.push(format!(
                    "run {} started from {next_found} entries, below run {number}'s last durable point {}",
                    number + 1,
                    found[index] + run.durable(durable_every)
                ));
            }
            if let Some((found, reported)) = run.recovery {
                if found < reported {
                    summary.rollbacks += 1;
                    summary.failures.push(format!(
                        "run {number} found {found} entries where its progress record says {reported} were durable"
                    ));
                }
            }
            match &run.end {
                End::Killed => {
                    if matches!(
                        runs.get(index + 1).map(|next| &next.end),
                        Some(End::Killed | End::Completed(_))
                    ) {
                        summary.survived += 1;
                    }
                }
                End::Completed(report) => {
                    let resumed = count(report, "resumed_from").unwrap_or_default();
                    let fetched = count(report, "nodes").unwrap_or_default()
                        + count(report, "codes").unwrap_or_default();
                    let already = report["already_complete"] == Value::Bool(true);
                    if !already && resumed + fetched != total {
                        summary.failures.push(format!(
                            "run {number} resumed from {resumed} entries and fetched {fetched}: {} in all, the state has {total}",
                            resumed + fetched
                        ));
                    }
                }
                End::Failed { status, stderr_tail } => summary.failures.push(format!(
                    "run {number} failed ({status}){}:\n{stderr_tail}",
                    if index > 0 { " after the previous run was killed" } else { "" }
                )),
            }
            summary.rows.push(Row {
                found: found[index],
                lost: run.fetched.saturating_sub(kept),
                window,
                beyond,
            });
        }
        summary
    }

    fn print(
        &self,
        runs: &[Run],
        options: &Options,
        state: &State,
        clean_time: Duration,
        clean_fetched: u64,
        kills: u32,
    ) {
        let total = state.entries();
        println!();
        println!(
            "chaos: {} accounts ({} entries), {PEERS} peers, sync --durable-every {}, {} kills, seed {}, {} build",
            options.accounts,
            thousands(total),
            options.durable_every,
            options.kills,
            options.seed,
            if options.release { "release" } else { "debug" }
        );
        println!(
            "{:>4}  {:<18} {:>11} {:>11} {:>11} {:>11} {:>11} {:>11} {:>11}  beyond window",
            "run", "end", "found", "record", "fetched", "committed", "durable", "window", "lost"
        );
        for (index, (run, row)) in runs.iter().zip(&self.rows).enumerate() {
            let end = match &run.end {
                End::Killed => format!("killed at {:.2} s", run.ran.as_secs_f64()),
                End::Completed(_) => format!("done in {:.2} s", run.ran.as_secs_f64()),
                End::Failed { .. } => "FAILED".to_string(),
            };
            let record = run.recovery.map_or("-".to_string(), |(_, reported)| thousands(reported));
            let found = match run.found {
                Some(found) => thousands(found),
                None => format!("({})", thousands(row.found)),
            };
            let durable = match run.end {
                End::Killed => thousands(run.durable(options.durable_every)),
                _ => "-".to_string(),
            };
            println!(
                "{:>4}  {:<18} {:>11} {:>11} {:>11} {:>11} {:>11} {:>11} {:>11}  {}",
                index + 1,
                end,
                found,
                record,
                thousands(run.fetched),
                thousands(run.committed()),
                durable,
                row.window.map_or("-".to_string(), thousands),
                thousands(row.lost),
                match (&run.end, row.beyond) {
                    (End::Killed, true) => "YES",
                    (End::Killed, false) => "no",
                    _ => "-",
                }
            );
        }
        println!(
            "found: checkpoint at the start ((n): killed before it said, so as the next run found); record: \
             what the progress record said was durable; fetched: sent by the peers during the run (its root \
             probe included: one entry a peer); \
             durable: committed up to the last durable write; window = fetched - durable; lost = fetched - \
             (next found - found)"
        );
        let overhead = self.fetched.saturating_sub(total);
        println!("clean sync: {:.1} s, {} entries sent", clean_time.as_secs_f64(), thousands(clean_fetched));
        println!("kills survived: {} of {kills}", self.survived);
        println!(
            "resumes that fetched more than the uncommitted window: {}; rollbacks per the progress record: {}",
            self.beyond_window, self.rollbacks
        );
        println!(
            "refetch overhead: {} entries sent over {} runs for {} in the state: {} ({:.1} %)",
            thousands(self.fetched),
            runs.len(),
            thousands(total),
            thousands(overhead),
            overhead as f64 * 100.0 / total.max(1) as f64
        );
    }
}

/// The entries a run's checkpoint held, from its `state sync starting ... resumed=...` line.
fn starting_found(line: &str) -> Option<u64> {
    if !line.contains("state sync starting") {
        return None;
    }
    let resumed = &line[line.find("resumed=")? + "resumed=".len()..];
    if resumed.starts_with("None") {
        return Some(0);
    }
    // `Some(Checkpoint { root: .., processed: .., nodes: N, codes: C, .. })`
    let number = |name: &str| -> Option<u64> {
        let rest = &resumed[resumed.find(name)? + name.len()..];
        rest.split(|c: char| !c.is_ascii_digit()).next()?.parse().ok()
    };
    Some(number(" nodes: ")? + number(" codes: ")?)
}

/// `(found, reported)` of a resumed sync's recovery line.
fn recovery(line: &str) -> Option<(u64, u64)> {
    if !(line.contains("resuming:") || line.contains("rolled back")) {
        return None;
    }
    Some((field(line, "found")?, field(line, "reported")?))
}

/// `(entries, durable)` of a `committed` line.
fn commit(line: &str) -> Option<(u64, bool)> {
    if !line.contains("state_sync: committed ") {
        return None;
    }
    Some((field(line, "entries")?, line.contains(" durable=true")))
}

/// The number of a ` name=N` field of a log line.
fn field(line: &str, name: &str) -> Option<u64> {
    let key = format!(" {name}=");
    let rest = &line[line.find(&key)? + key.len()..];
    rest.split(|c: char| !c.is_ascii_digit()).next()?.parse().ok()
}

/// A running `statesync serve`, killed when dropped.
struct Server {
    _child: KillOnDrop,
    addr: String,
    log: PathBuf,
}

impl Server {
    fn start(binary: &Path, db: &Path, log: &Path) -> Result<Self> {
        let mut command = Command::new(binary);
        command
            .args(["--log-level", SERVE_LOG, "serve", "--db"])
            .arg(db)
            .args(["--listen", "127.0.0.1:0"])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(log).with_context(|| format!("creating {}", log.display()))?);
        let command_line = render(&command);
        let mut child = KillOnDrop(command.spawn().with_context(|| format!("starting {command_line}"))?);
        let stdout = child.0.stdout.take().context("serve's stdout")?;
        let mut addr = String::new();
        BufReader::new(stdout).read_line(&mut addr)?;
        let addr = addr.trim().to_string();
        ensure!(!addr.is_empty(), "{command_line} exited before printing its address");
        Ok(Server { _child: child, addr, log: log.to_path_buf() })
    }
}

/// Where each server's log ends now.
fn served_marks(servers: &[Server]) -> Result<Vec<u64>> {
    servers.iter().map(|server| Ok(std::fs::metadata(&server.log)?.len())).collect()
}

/// Entries the servers sent since `marks`: the `served=N` of their `answered` lines.
fn served_since(servers: &[Server], marks: &[u64]) -> Result<u64> {
    let mut served = 0;
    for (server, &mark) in servers.iter().zip(marks) {
        let text = std::fs::read(&server.log).with_context(|| format!("reading {}", server.log.display()))?;
        let text = String::from_utf8_lossy(text.get(mark as usize..).unwrap_or_default());
        // A line still being written is counted by the next cut: only whole lines here.
        let whole = &text[..text.rfind('\n').map_or(0, |end| end + 1)];
        served += whole
            .lines()
            .filter(|line| line.contains(" answered "))
            .filter_map(|line| field(line, "served"))
            .sum::<u64>();
    }
    Ok(served)
}

/// Runs `statesync --json args`, which must succeed, and parses its report.
fn json_command<'a>(binary: &Path, args: impl IntoIterator<Item = &'a OsStr>) -> Result<Value> {
    let mut command = Command::new(binary);
    command.arg("--json").args(args);
    json_report(command)
}

/// The last `lines` of `seen`.
fn tail(seen: &[String], lines: usize) -> String {
    let kept: VecDeque<&String> = seen.iter().rev().take(lines).collect();
    kept.into_iter().rev().cloned().collect::<Vec<_>>().join("\n")
}

/// The kill instants' generator: SplitMix64, enough for uniform draws, with no dependency.
struct SplitMix64(u64);

impl SplitMix64 {
    /// Uniform in (0, 1).
    fn unit(&mut self) -> f64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^= z >> 31;
        ((z >> 11) as f64 + 0.5) / (1u64 << 53) as f64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_sync_log_lines() {
        let start = "2026-12-01T14:38:14.714293Z  INFO state_sync{root=0x66ed}: state_sync: state sync starting \
                     pending=1 resumed=Some(Checkpoint { root: 0x66ed, processed: 9, nodes: 100, codes: 7, bytes: 5, \
                     complete: false, estimated_total: 900 })";
        assert_eq!(starting_found(start), Some(107));
        assert_eq!(starting_found("... state_sync: state sync starting pending=1 resumed=None"), Some(0));
        let committed = "DEBUG state_sync{root=0x66}: state_sync: committed entries=49462 bytes=4312156 durable=true elapsed=1ms";
        assert_eq!(commit(committed), Some((49462, true)));
        let resuming = "INFO statesync::sync: resuming: every entry the last run made durable is there found=10 reported=8";
        assert_eq!(recovery(resuming), Some((10, 8)));
        let served = "TRACE run{addr=1}:connection{peer=2}: peers::server: answered request_id=651 requested=384 served=380";
        assert_eq!(field(served, "served"), Some(380));
    }

    #[test]
    fn durable_point_follows_flushes_and_the_store_period() {
        let run = |commits: Vec<(u64, bool)>| Run {
            end: End::Killed,
            ran: Duration::ZERO,
            found: Some(0),
            recovery: None,
            commits,
            fetched: 0,
        };
        let commits = vec![(10, false), (20, false), (30, true), (40, false), (50, false)];
        assert_eq!(run(commits.clone()).durable(16), 60, "the flushed third write");
        assert_eq!(run(commits.clone()).durable(2), 100, "the fourth write is the store's");
        assert_eq!(run(commits).durable(1), 150, "every write");
    }

    #[test]
    fn draws_are_uniform_and_seeded() {
        let draws: Vec<f64> = {
            let mut random = SplitMix64(7);
            (0..1000).map(|_| random.unit()).collect()
        };
        assert!(draws.iter().all(|&u| u > 0.0 && u < 1.0));
        let mean = draws.iter().sum::<f64>() / draws.len() as f64;
        assert!((mean - 0.5).abs() < 0.05, "{mean}");
        assert_eq!(SplitMix64(7).unit(), draws[0]);
    }
}
