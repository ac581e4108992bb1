//! `cargo xtask ci`: the checks a submission must pass.

use anyhow::Result;

use crate::{cargo, run_command};

/// Format check, clippy with warnings as errors, then every test of every crate with all features.
pub(crate) fn run(extra_test_args: &[String]) -> Result<()> {
    let mut fmt = cargo();
    fmt.args(["fmt", "--all", "--", "--check"]);
    run_command(fmt)?;

    let mut clippy = cargo();
    clippy.args(["clippy", "--workspace", "--all-targets", "--all-features", "--", "-D", "warnings"]);
    run_command(clippy)?;

    let mut test = cargo();
    test.args(["test", "--workspace", "--all-features"]);
    if !extra_test_args.is_empty() {
        test.arg("--").args(extra_test_args);
    }
    run_command(test)?;
    eprintln!("xtask ci: all checks passed");
    Ok(())
}
