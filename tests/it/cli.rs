//! Running the real binary: commands, servers that are always killed, the test vectors.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

/// The binary under test.
pub(crate) const BIN: &str = env!("CARGO_BIN_EXE_statesync");

/// Mainnet genesis state root.
pub(crate) const MAINNET_ROOT: &str = "0xd7f8974fb5ac78d9ac099b9ad5018bedc2ce0a72dad1827a1709da30580f0544";

/// A `statesync` command with quiet logs.
pub(crate) fn statesync(args: &[&str]) -> Command {
    let mut command = Command::new(BIN);
    command.args(["--log-level", "warn"]).args(args).stdin(Stdio::null());
    command
}

/// What a finished command did.
#[derive(Debug)]
pub(crate) struct Run {
    pub(crate) code: Option<i32>,
    pub(crate) stdout: String,
    pub(crate) stderr: String,
}

impl From<Output> for Run {
    fn from(output: Output) -> Self {
        Run {
            code: output.status.code(),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        }
    }
}

impl Run {
    /// Panics with the output unless the command exited with `code`.
    pub(crate) fn expect_code(self, code: i32) -> Self {
        assert_eq!(self.code, Some(code), "exit code; stdout:\n{}\nstderr:\n{}", self.stdout, self.stderr);
        self
    }

    /// Panics with the output unless the command exited 0.
    pub(crate) fn success(self) -> Self {
        self.expect_code(0)
    }

    /// Asserts a bad-input failure: exit code 2, one line on stderr containing `needle`, no panic.
    pub(crate) fn bad_input(self, needle: &str) -> Self {
        let run = self.expect_code(2);
        let lines: Vec<&str> = run.stderr.lines().filter(|l| !l.trim().is_empty()).collect();
        assert_eq!(lines.len(), 1, "one line on stderr, got:\n{}", run.stderr);
        assert!(lines[0].starts_with("error: "), "stderr: {}", run.stderr);
        assert!(lines[0].contains(needle), "stderr {:?} should mention {needle:?}", run.stderr);
        assert!(!run.stderr.contains("panicked"), "{}", run.stderr);
        run
    }

    /// The last line of stdout (gen's root).
    pub(crate) fn last_line(&self) -> &str {
        self.stdout.lines().last().unwrap_or_default().trim()
    }
}

/// Runs `statesync args` to completion.
pub(crate) fn run(args: &[&str]) -> Run {
    statesync(args).output().expect("spawning statesync").into()
}

/// A `statesync serve` process, killed when dropped (even when the test panics).
pub(crate) struct Server {
    child: Child,
    /// The address it listens on, read from the first line of its stdout.
    pub(crate) addr: String,
    /// Its `enode://` URL, read from the second line of its stdout when started with `--rlpx`.
    pub(crate) enode: Option<String>,
}

impl Server {
    /// Starts `serve --db DIR --listen 127.0.0.1:0 extra...` and waits for its address (and its
    /// enode, when `extra` has `--rlpx`).
    pub(crate) fn start(db: &Path, extra: &[&str]) -> Server {
        let mut child = statesync(&["serve", "--db", path(db), "--listen", "127.0.0.1:0"])
            .args(extra)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("spawning statesync serve");
        let stdout = child.stdout.take().expect("piped stdout");
        let mut line = String::new();
        // Dropping `guard` kills the child if reading the address fails.
        let mut guard = Server { child, addr: String::new(), enode: None };
        let mut stdout = BufReader::new(stdout);
        stdout.read_line(&mut line).expect("reading serve's address");
        assert!(!line.trim().is_empty(), "serve printed no address");
        guard.addr = line.trim().to_string();
        if extra.contains(&"--rlpx") {
            line.clear();
            stdout.read_line(&mut line).expect("reading serve's enode");
            assert!(line.starts_with("enode://"), "serve printed {line:?} where its enode was expected");
            guard.enode = Some(line.trim().to_string());
        }
        guard
    }

    /// Sends SIGTERM and waits for a clean exit, returning its code.
    pub(crate) fn terminate(mut self) -> Option<i32> {
        let pid = self.child.id().to_string();
        let _ = Command::new("kill").args(["-TERM", &pid]).status();
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Some(status) = self.child.try_wait().expect("waiting for serve") {
                return status.code();
            }
            assert!(Instant::now() < deadline, "serve did not exit on SIGTERM");
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A path as `&str` for arguments (test paths are UTF-8).
pub(crate) fn path(path: &Path) -> &str {
    path.to_str().expect("UTF-8 temp path")
}

/// The test-vector folder (`$STATESYNC_VECTORS`, else `../shared/vectors`); `None` (with a note) when
/// absent outside CI; in CI its absence fails the test.
pub(crate) fn vectors_or_skip(test: &str) -> Option<PathBuf> {
    let dir = std::env::var_os("STATESYNC_VECTORS")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/vectors"));
    if dir.is_dir() {
        return Some(dir);
    }
    assert!(
        std::env::var_os("CI").is_none(),
        "{test}: vectors not found at {}; CI requires them",
        dir.display()
    );
    eprintln!("SKIPPED {test}: vectors not found at {} (set STATESYNC_VECTORS)", dir.display());
    None
}
