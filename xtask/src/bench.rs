//! `cargo xtask bench`: every criterion bench of the workspace.

use anyhow::Result;

use crate::{cargo, run_command};

/// Runs the benches of every crate with all features, passing `args` on to criterion.
pub(crate) fn run(args: &[String]) -> Result<()> {
    let mut bench = cargo();
    bench.args(["bench", "--workspace", "--all-features"]);
    if !args.is_empty() {
        bench.arg("--").args(args);
    }
    run_command(bench)
}
