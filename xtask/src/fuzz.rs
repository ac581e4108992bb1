//! `cargo xtask fuzz [--seconds N] [TARGET...]`: runs the cargo-fuzz targets of `fuzz/` (all, or
//! those named) for N seconds each (default 30), one after the other, then prints a table of
//! what libFuzzer reported: executions, executions per second, corpus size, result.
//!
//! - cargo-fuzz is installed first if missing (`cargo install cargo-fuzz --locked`, into
//!   `~/.cargo/bin`). It needs nightly flags (sanitizers), which stable accepts with
//!   `RUSTC_BOOTSTRAP=1`; targets build with debug assertions (overflow checks included) in
//!   `fuzz/target`, whatever `CARGO_TARGET_DIR` says.
//! - The committed seeds in `fuzz/corpus/<target>` are only read: libFuzzer writes the inputs it
//!   finds into its first corpus directory, here `fuzz/target/corpus/<target>` (gitignored), so
//!   local runs build on earlier ones while the repository stays as committed.
//! - libFuzzer's output goes to `fuzz/target/logs/<target>.log`; its tail is printed on a failure.
//! - A crash (panic, failed assertion, sanitizer report), an input running over
//!   [`INPUT_TIMEOUT_SECS`] or an allocation over [`MALLOC_LIMIT_MB`] fails the target; the
//!   command then exits non-zero after the table, naming the input cargo-fuzz saved in
//!   `fuzz/artifacts/<target>/`. Replay one with `cargo fuzz run <target> <input>`.

use std::fs;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

use anyhow::{bail, Context, Result};

use crate::support::thousands;
use crate::{cargo, render, run_command, workspace_root};

/// How long each target runs when `--seconds` is not given.
const DEFAULT_SECONDS: u64 = 30;

/// One input taking longer than this is a hang: every decoder is linear in its input, and
/// inputs are a few KiB.
const INPUT_TIMEOUT_SECS: u64 = 10;

/// The largest single allocation allowed, in MiB: the largest bound our decoders allow
/// (rlpx's 16 MiB decompressed message) with room to spare; more means a peer-chosen size
/// reached an allocation unchecked.
const MALLOC_LIMIT_MB: u64 = 64;

/// Lines of libFuzzer's output printed when a target fails.
const FAILURE_TAIL_LINES: usize = 60;

/// What one target's run gave.
struct Outcome {
    target: String,
    /// libFuzzer's `stat::number_of_executed_units`.
    executions: Option<u64>,
    /// libFuzzer's `stat::average_exec_per_sec`.
    per_second: Option<u64>,
    /// Inputs in the corpus at the end, and their total size, from libFuzzer's last status line.
    corpus: Option<String>,
    /// `None` when the run passed; else what happened and the saved input, if any.
    failure: Option<String>,
}

pub(crate) fn run(args: &[String]) -> Result<()> {
    let (seconds, requested) = parse_args(args)?;
    let fuzz_dir = workspace_root().join("fuzz");
    let all = list_targets(&fuzz_dir)?;
    let targets = if requested.is_empty() { all.clone() } else { requested };
    if let Some(unknown) = targets.iter().find(|target| !all.contains(target)) {
        bail!("no fuzz target {unknown:?}; the targets are {}", all.join(", "));
    }
    ensure_cargo_fuzz()?;

    let started = Instant::now();
    eprintln!(
        "xtask fuzz: cargo fuzz runs with RUSTC_BOOTSTRAP=1 (its nightly flags on stable) and \
         CARGO_TARGET_DIR={}",
        fuzz_dir.join("target").display()
    );
    if targets == all {
        // One build of every target, before the clock of the first target starts.
        let mut build = cargo_fuzz(&fuzz_dir);
        build.args(["build", "--debug-assertions"]);
        run_command(build)?;
    }
    let mut outcomes = Vec::new();
    for target in &targets {
        outcomes.push(run_target(&fuzz_dir, target, seconds)?);
    }
    print_table(&outcomes);
    eprintln!("xtask fuzz: {} targets in {:.0?}", outcomes.len(), started.elapsed());
    let failed: Vec<&Outcome> = outcomes.iter().filter(|outcome| outcome.failure.is_some()).collect();
    if !failed.is_empty() {
        for outcome in &failed {
            eprintln!("{}: {}", outcome.target, outcome.failure.as_deref().unwrap_or_default());
        }
        bail!("{} of {} fuzz targets failed", failed.len(), outcomes.len());
    }
    Ok(())
}

fn parse_args(args: &[String]) -> Result<(u64, Vec<String>)> {
    let mut seconds = DEFAULT_SECONDS;
    let mut targets = Vec::new();
    let mut args = args.iter();
    while let Some(arg) = args.next() {
        let value = match arg.strip_prefix("--seconds") {
            Some("") => args.next().context("--seconds needs a number")?.as_str(),
            Some(rest) if rest.starts_with('=') => &rest[1..],
            _ if arg.starts_with('-') => {
                bail!("unknown option {arg:?}; usage: cargo xtask fuzz [--seconds N] [TARGET...]")
            }
            _ => {
                targets.push(arg.clone());
                continue;
            }
        };
        seconds = value.parse().with_context(|| format!("--seconds {value:?} is not a whole number"))?;
        if seconds == 0 {
            bail!("--seconds must be at least 1");
        }
    }
    Ok((seconds, targets))
}

/// The targets: the files of `fuzz/fuzz_targets`, sorted.
fn list_targets(fuzz_dir: &Path) -> Result<Vec<String>> {
    let dir = fuzz_dir.join("fuzz_targets");
    let mut targets = Vec::new();
    for entry in fs::read_dir(&dir).with_context(|| format!("reading {}", dir.display()))? {
        let path = entry?.path();
        if path.extension().is_some_and(|ext| ext == "rs") {
            if let Some(stem) = path.file_stem() {
                targets.push(stem.to_string_lossy().into_owned());
            }
        }
    }
    targets.sort();
    Ok(targets)
}

/// Installs cargo-fuzz when `cargo fuzz` does not answer.
fn ensure_cargo_fuzz() -> Result<()> {
    let mut probe = cargo();
    probe.args(["fuzz", "--version"]).stdout(Stdio::null()).stderr(Stdio::null());
    if probe.status().is_ok_and(|status| status.success()) {
        return Ok(());
    }
    eprintln!("xtask fuzz: cargo-fuzz is missing; installing it with cargo install (into ~/.cargo/bin)");
    let mut install = cargo();
    install.args(["install", "cargo-fuzz", "--locked"]);
    run_command(install)
}

/// `cargo fuzz`, with what it needs on a stable toolchain and its build kept in `fuzz/target`.
fn cargo_fuzz(fuzz_dir: &Path) -> Command {
    let mut command = cargo();
    command.env("RUSTC_BOOTSTRAP", "1").env("CARGO_TARGET_DIR", fuzz_dir.join("target"));
    command.arg("fuzz");
    command
}

fn run_target(fuzz_dir: &Path, target: &str, seconds: u64) -> Result<Outcome> {
    let seeds = fuzz_dir.join("corpus").join(target);
    let work = fuzz_dir.join("target/corpus").join(target);
    let logs = fuzz_dir.join("target/logs");
    for dir in [&work, &logs] {
        fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    let mut command = cargo_fuzz(fuzz_dir);
    command.args(["run", "--debug-assertions", target]).arg(&work);
    // A new target may have no seeds yet: libFuzzer refuses a missing directory.
    if seeds.is_dir() {
        command.arg(&seeds);
    }
    command.arg("--").args([
        format!("-max_total_time={seconds}"),
        format!("-timeout={INPUT_TIMEOUT_SECS}"),
        format!("-malloc_limit_mb={MALLOC_LIMIT_MB}"),
        "-print_final_stats=1".to_string(),
    ]);
    eprintln!("$ {}", render(&command));
    eprintln!(
        "xtask fuzz: {target} for {seconds} s (output in {})",
        logs.join(format!("{target}.log")).display()
    );
    let output = run_logged(command, &logs.join(format!("{target}.log")))?;
    let mut outcome = parse_output(target, &output.lines);
    if !output.success {
        let input = saved_input(&output.lines);
        outcome.failure = Some(match input {
            Some(input) => format!("failed ({}); input saved to {input}", input_kind(&input)),
            None => "failed; no input saved (see the log above)".to_string(),
        });
        let tail = output.lines.len().saturating_sub(FAILURE_TAIL_LINES);
        for line in &output.lines[tail..] {
            eprintln!("  {line}");
        }
    }
    Ok(outcome)
}

/// A finished command's output lines (stdout and stderr) and whether it exited successfully.
struct Output {
    lines: Vec<String>,
    success: bool,
}

/// Runs `command` with stdout and stderr into `log`, keeping the lines for parsing.
fn run_logged(mut command: Command, log: &Path) -> Result<Output> {
    let file = fs::File::create(log).with_context(|| format!("creating {}", log.display()))?;
    command.stdout(file.try_clone()?).stderr(Stdio::piped());
    let mut child = command.spawn().with_context(|| format!("starting {}", render(&command)))?;
    let stderr = child.stderr.take().context("stderr is piped")?;
    let mut lines = Vec::new();
    let mut writer = std::io::BufWriter::new(file);
    for line in BufReader::new(stderr).lines() {
        // libFuzzer may print bytes of an input; keep going on anything not UTF-8.
        let line = line.unwrap_or_else(|_| "<not UTF-8>".to_string());
        writeln!(writer, "{line}")?;
        lines.push(line);
    }
    let status = child.wait()?;
    Ok(Output { lines, success: status.success() })
}

/// The figures of libFuzzer's final stats and last status line.
fn parse_output(target: &str, lines: &[String]) -> Outcome {
    let stat = |name: &str| {
        lines.iter().rev().find_map(|line| {
            line.strip_prefix(&format!("stat::{name}:")).and_then(|value| value.trim().parse().ok())
        })
    };
    let corpus = lines.iter().rev().find_map(|line| {
        let after = line.split(" corp: ").nth(1)?;
        let (count, bytes) = after.split_whitespace().next()?.split_once('/')?;
        Some(format!("{count} ({bytes})"))
    });
    Outcome {
        target: target.to_string(),
        executions: stat("number_of_executed_units"),
        per_second: stat("average_exec_per_sec"),
        corpus,
        failure: None,
    }
}

/// Where libFuzzer saved the input that failed.
fn saved_input(lines: &[String]) -> Option<String> {
    lines.iter().find_map(|line| {
        let path = line.split("Test unit written to ").nth(1)?;
        Some(path.trim().to_string())
    })
}

/// What kind of failure an input's file name records (libFuzzer's prefixes).
fn input_kind(input: &str) -> &'static str {
    let name = PathBuf::from(input).file_name().map(|name| name.to_string_lossy().into_owned());
    match name.as_deref().unwrap_or_default().split('-').next() {
        Some("crash") => "crash",
        Some("timeout") => "an input over the time limit",
        Some("oom") => "out of memory or an allocation over the limit",
        Some("leak") => "leak",
        _ => "failure",
    }
}

fn print_table(outcomes: &[Outcome]) {
    let number = |value: Option<u64>| value.map_or_else(|| "?".to_string(), thousands);
    println!("| target | executions | exec/s | corpus (inputs, bytes) | result |");
    println!("|---|---:|---:|---|---|");
    for outcome in outcomes {
        let result = if outcome.failure.is_some() { "FAILED" } else { "ok" };
        println!(
            "| {} | {} | {} | {} | {} |",
            outcome.target,
            number(outcome.executions),
            number(outcome.per_second),
            outcome.corpus.as_deref().unwrap_or("?"),
            result
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_libfuzzer_stats_and_saved_input() {
        let lines: Vec<String> = [
            "#1024\tpulse  cov: 10 ft: 12 corp: 5/100b exec/s: 512 rss: 40Mb",
            "#90000\tDONE   cov: 812 ft: 2101 corp: 214/9876b lim: 4096 exec/s: 3000 rss: 90Mb",
            "Done 90000 runs in 31 second(s)",
            "stat::number_of_executed_units: 90000",
            "stat::average_exec_per_sec:     2903",
            "artifact_prefix='/f/artifacts/x/'; Test unit written to /f/artifacts/x/crash-ab12",
        ]
        .map(String::from)
        .to_vec();
        let outcome = parse_output("x", &lines);
        assert_eq!(outcome.executions, Some(90_000));
        assert_eq!(outcome.per_second, Some(2903));
        assert_eq!(outcome.corpus.as_deref(), Some("214 (9876b)"));
        assert_eq!(saved_input(&lines).as_deref(), Some("/f/artifacts/x/crash-ab12"));
        assert_eq!(input_kind("/f/artifacts/x/crash-ab12"), "crash");
        assert_eq!(input_kind("/f/artifacts/x/oom-ab12"), "out of memory or an allocation over the limit");
    }

    #[test]
    fn parses_seconds_and_targets() {
        let args = |list: &[&str]| list.iter().map(|arg| arg.to_string()).collect::<Vec<_>>();
        assert_eq!(parse_args(&[]).unwrap(), (DEFAULT_SECONDS, vec![]));
        assert_eq!(parse_args(&args(&["--seconds", "5", "a", "b"])).unwrap(), (5, args(&["a", "b"])));
        assert_eq!(parse_args(&args(&["a", "--seconds=7"])).unwrap(), (7, args(&["a"])));
        assert!(parse_args(&args(&["--seconds"])).is_err());
        assert!(parse_args(&args(&["--seconds", "0"])).is_err());
        assert!(parse_args(&args(&["--fast"])).is_err());
    }
}
