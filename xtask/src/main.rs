//! Workspace tasks, run as `cargo xtask <command>`.
//!
//! - `ci`: what CI runs: format check, clippy with warnings denied, every test of the workspace.
//! - `bench`: the criterion benches of the workspace, then a table of the results
//!   (`cargo xtask bench [criterion args, e.g. a filter]`; `cargo xtask bench --report` prints the
//!   table of the last saved results without running anything). `cargo xtask bench transports
//!   [--accounts N] [--runs R] [--backend memory|redb]` syncs one state from one `statesync serve`
//!   over wire v1 and over RLPx, alternating, and prints a table of both.
//! - `interop`: statesync against go-ethereum v1.13.2 and v1.17.10 on loopback (built once into a
//!   cache outside the repository): genesis roots compared, and a sync from each once statesync
//!   speaks RLPx (`cargo xtask interop [--release] [--require-sync]`).
//! - `fuzz`: each cargo-fuzz target of `fuzz/` for a while on its seed corpus, then a table of
//!   executions per target (`cargo xtask fuzz [--seconds N] [TARGET...]`); fails on a crash.
//! - `chaos`: SIGKILLs a sync at K random instants, resuming it each time, then verifies it and
//!   reports kills survived, durable commits lost and the refetch overhead (`cargo xtask chaos
//!   [--accounts N] [--kills K] [--seed S] [--durable-every D] [--release|--debug]`).

mod bench;
mod chaos;
mod ci;
mod fuzz;
mod interop;
mod support;

use std::process::Command;

use anyhow::{bail, Context, Result};

fn main() -> Result<()> {
    let mut args = std::env::args().skip(1);
    let task = args.next();
    let rest: Vec<String> = args.collect();
    match task.as_deref() {
        Some("ci") => ci::run(&rest),
        Some("bench") => bench::run(&rest),
        Some("interop") => interop::run(&rest),
        Some("fuzz") => fuzz::run(&rest),
        Some("chaos") => chaos::run(&rest),
        _ => {
            eprintln!("usage: cargo xtask <ci|bench|interop|fuzz|chaos> [args]");
            eprintln!("  ci      fmt --check, clippy -D warnings, all tests (what CI runs)");
            eprintln!("  bench   criterion benches of every crate, then a results table; extra args go to criterion");
            eprintln!("          bench transports [--accounts N] [--runs R] [--backend memory|redb]: one sync per transport");
            eprintln!("          bench e2e [--accounts N] [--seed S] [--backends memory,redb,fjall]: gen, then one sync per");
            eprintln!("          backend from 4 serves: wall, entries/s, ratio to memory, peak RSS, disk, time in commits");
            eprintln!("  interop statesync against go-ethereum v1.13.2 and v1.17.10 on loopback (geth built once into");
            eprintln!("          $STATESYNC_INTEROP_CACHE or ~/.cache/statesync-interop; needs go); [--release] [--require-sync]");
            eprintln!("  fuzz    [--seconds N] [TARGET...]: each cargo-fuzz target of fuzz/ for N s (default 30) on its");
            eprintln!(
                "          seed corpus, then a table; installs cargo-fuzz if missing; fails on a crash"
            );
            eprintln!("  chaos   [--accounts N] [--kills K] [--seed S] [--durable-every D] [--release|--debug]: SIGKILL a");
            eprintln!("          sync at K random instants (default 20, ~1M entries), resume, verify; table of the cost");
            bail!("unknown or missing task {task:?}");
        }
    }
}

/// A `cargo` command, using the cargo that runs us so toolchain overrides carry over.
fn cargo() -> Command {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut command = Command::new(cargo);
    command.current_dir(workspace_root());
    command
}

fn workspace_root() -> std::path::PathBuf {
    let manifest_dir = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    manifest_dir.parent().map(|p| p.to_path_buf()).unwrap_or(manifest_dir)
}

/// Runs `command`, failing with its rendering when it exits unsuccessfully.
fn run_command(mut command: Command) -> Result<()> {
    eprintln!("$ {}", render(&command));
    let status = command.status().with_context(|| format!("starting {}", render(&command)))?;
    if !status.success() {
        bail!("{} failed with {status}", render(&command));
    }
    Ok(())
}

fn render(command: &Command) -> String {
    let mut line = command.get_program().to_string_lossy().into_owned();
    for arg in command.get_args() {
        line.push(' ');
        line.push_str(&arg.to_string_lossy());
    }
    line
}
