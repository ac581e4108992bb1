//! `cargo xtask interop`: statesync against real go-ethereum nodes on loopback.
//!
//! 1. Builds the go-ethereum releases of [`GETH_RELEASES`] with `go install`, once, into a cache
//!    outside the repository (`$STATESYNC_INTEROP_CACHE`, else `$XDG_CACHE_HOME/statesync-interop`,
//!    else `~/.cache/statesync-interop`), as `geth-<version>/geth`; a cached binary that reports its
//!    version is reused. Nothing of go-ethereum enters the repository.
//! 2. Builds `statesync` and writes two genesis files into a temporary directory: mainnet's allocation
//!    (`mainnet.json` of the test vectors) under the private chain of `gen --export-genesis`, and
//!    `gen --accounts 20000 --export-genesis`, a synthetic state with contracts, storage and shared
//!    code. `statesync gen --genesis` of each gives our root and counts.
//! 3. For each release and file: `geth init` (hash scheme), then starts geth on 127.0.0.1 (discovery
//!    off, `--syncmode full`, network id 1337, free ports), reads its enode and genesis block over
//!    IPC, and checks that geth's genesis state root is ours.
//! 4. Once `statesync sync` reaches RLPx peers (it takes `--genesis`), syncs the root from geth and
//!    verifies it: from v1.13 (which serves `GetNodeData`) the same root, node and code counts as
//!    `gen`; v1.17 (eth/69, no node data) must be refused with exit code 2 and a message saying the
//!    peer serves no node data.
//! 5. Once `statesync serve` takes `--rlpx`, our RLPx server to our RLPx sync, end to end through
//!    the binary: the synthetic state served, synced, verified, counts compared with `gen`.
//!
//! Until statesync has them, steps 4 and 5 report themselves skipped, or fail with `--require-sync`.
//!
//! Options: `--release` builds statesync in release mode (faster syncs, slower build; by default the
//! debug binary `cargo xtask ci` builds is used);
//! `--require-sync` fails instead of skipping step 4. Needs `go` (1.26 builds both releases).

use std::ffi::OsStr;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, ensure, Context, Result};
use serde_json::Value;

use crate::support::{count, json_report, tail, ScratchDir};
use crate::{cargo, render, run_command, workspace_root};

/// A go-ethereum release to test against, and how it must answer a node-data sync.
struct GethRelease {
    /// The module version `go install` builds (`@v1.13.2`).
    version: &'static str,
    /// Whether it serves eth/66 `GetNodeData`: v1.13.2 is the last release that does (with the hash
    /// scheme); later releases speak eth/68-69 without it, so a sync from them must fail cleanly.
    serves_node_data: bool,
}

/// The releases `interop` runs: the last one that serves node data, and the newest.
const GETH_RELEASES: [GethRelease; 2] = [
    GethRelease { version: "v1.13.2", serves_node_data: true },
    GethRelease { version: "v1.17.10", serves_node_data: false },
];

/// Network id geth runs with: the chain id of `gen --export-genesis`'s private chain
/// (`statesync::EXPORT_CHAIN_ID`), so no public peer ever matches.
const NETWORK_ID: &str = "1337";

/// Accounts of the synthetic genesis: enough for a trie several levels deep with contracts, storage
/// tries and shared code, small enough for a debug build on 2 cores.
const SYNTHETIC_ACCOUNTS: &str = "20000";

/// How long geth may take to open its IPC endpoint after start.
const GETH_START_TIMEOUT: Duration = Duration::from_secs(60);

/// Environment variable naming the cache directory of the geth builds.
const CACHE_ENV: &str = "STATESYNC_INTEROP_CACHE";

/// `cargo xtask interop [--release] [--require-sync]`.
pub(crate) fn run(args: &[String]) -> Result<()> {
    let mut release = false;
    let mut require_sync = false;
    for arg in args {
        match arg.as_str() {
            "--release" => release = true,
            "--require-sync" => require_sync = true,
            other => bail!("interop: unknown argument {other:?} (expected --release, --require-sync)"),
        }
    }
    let started = Instant::now();
    let cache = cache_dir()?;
    let mut gethes = Vec::new();
    for release in &GETH_RELEASES {
        let (binary, built) = ensure_geth(&cache, release.version)?;
        gethes.push((release, binary, built));
    }
    let statesync = Statesync { binary: build_statesync(release)? };
    // Genesis files, databases and geth data directories.
    let mut work = ScratchDir::create("interop")?;
    let result = run_checks(&statesync, &gethes, &work.path, require_sync);
    match &result {
        Ok(()) => println!("xtask interop: all checks passed in {:.1} s", started.elapsed().as_secs_f64()),
        Err(_) => {
            work.keep();
            eprintln!(
                "xtask interop: failed; geth data directories and logs are kept in {}",
                work.path.display()
            );
        }
    }
    result
}

/// Everything after the builds: genesis files, then each geth release against each file.
fn run_checks(
    statesync: &Statesync,
    gethes: &[(&GethRelease, PathBuf, bool)],
    work: &Path,
    require_sync: bool,
) -> Result<()> {
    for (release, binary, built) in gethes {
        let how = if *built { "built" } else { "cached" };
        println!("geth {} ({how}): {}", release.version, binary.display());
    }
    let genesis_files = prepare_genesis_files(statesync, work)?;
    let sync_ready = statesync.sync_speaks_rlpx()?;
    if !sync_ready {
        let why = "`statesync sync` takes no --genesis yet, so it cannot reach RLPx peers";
        if require_sync {
            bail!("--require-sync: {why}");
        }
        println!("sync from geth: skipped ({why}); only genesis roots are compared");
    }
    for (release, binary, _) in gethes {
        for genesis in &genesis_files {
            check_geth(statesync, release, binary, genesis, work, sync_ready)?;
        }
    }
    if statesync.serves_rlpx()? {
        let synthetic =
            genesis_files.iter().find(|file| file.name == "synthetic").context("no synthetic file")?;
        sync_from_ourselves(statesync, synthetic, work)
            .context("statesync serve --rlpx to statesync sync")?;
    } else if require_sync {
        bail!("--require-sync: `statesync serve` has no --rlpx yet");
    } else {
        println!("statesync serve --rlpx to statesync sync: skipped (`statesync serve` has no --rlpx yet)");
    }
    Ok(())
}

/// A genesis file and what `statesync gen --genesis` makes of it.
struct GenesisFile {
    /// Short name for directories and the transcript (`mainnet`, `synthetic`).
    name: &'static str,
    /// The file.
    path: PathBuf,
    /// The database `statesync gen --genesis` wrote it into (served to our own RLPx sync).
    db: PathBuf,
    /// Our state root of its alloc.
    root: String,
    /// Accounts, distinct trie nodes and code blobs of our state.
    accounts: u64,
    nodes: u64,
    codes: u64,
}

/// Writes the two genesis files into `work` and computes our root and counts of each.
fn prepare_genesis_files(statesync: &Statesync, work: &Path) -> Result<Vec<GenesisFile>> {
    let synthetic_path = work.join("synthetic.json");
    let timer = Instant::now();
    let exported = statesync.json([
        OsStr::new("gen"),
        OsStr::new("--accounts"),
        OsStr::new(SYNTHETIC_ACCOUNTS),
        OsStr::new("--export-genesis"),
        synthetic_path.as_os_str(),
    ])?;
    println!(
        "exported synthetic genesis: {} accounts, {} contracts, {} storage slots, {} MiB, root {} ({:.1} s)",
        exported["accounts"],
        exported["contracts"],
        exported["storage_slots"],
        exported["bytes"].as_u64().unwrap_or_default() >> 20,
        text(&exported["root"]),
        timer.elapsed().as_secs_f64(),
    );

    // Mainnet's allocation under the exported file's private chain config and genesis header: the
    // state is mainnet's, the chain is one that a current geth starts without a beacon client.
    let vectors = std::env::var_os("STATESYNC_VECTORS")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace_root().join("../shared/vectors"));
    let mainnet_source = vectors.join("mainnet.json");
    let mainnet: Value = read_json(&mainnet_source)?;
    let mut private: Value = read_json(&synthetic_path)?;
    private["alloc"] = mainnet.get("alloc").cloned().context("mainnet.json has no alloc")?;
    let mainnet_path = work.join("mainnet-private.json");
    std::fs::write(&mainnet_path, serde_json::to_vec_pretty(&private)?)
        .with_context(|| format!("writing {}", mainnet_path.display()))?;

    let mut files = Vec::new();
    for (name, path) in [("mainnet", mainnet_path), ("synthetic", synthetic_path)] {
        let timer = Instant::now();
        let db = work.join(format!("gen-{name}"));
        let report = statesync.json([
            OsStr::new("gen"),
            OsStr::new("--db"),
            db.as_os_str(),
            OsStr::new("--genesis"),
            path.as_os_str(),
        ])?;
        let file = GenesisFile {
            name,
            root: text(&report["root"]),
            accounts: count(&report, "accounts")?,
            nodes: count(&report, "nodes")?,
            codes: count(&report, "codes")?,
            path,
            db,
        };
        println!(
            "statesync gen --genesis {name}: root {}, {} accounts, {} trie nodes, {} code blobs ({:.1} s)",
            file.root,
            file.accounts,
            file.nodes,
            file.codes,
            timer.elapsed().as_secs_f64()
        );
        if name == "synthetic" {
            for field in ["root", "nodes", "codes", "accounts"] {
                ensure!(
                    report[field] == exported[field],
                    "gen --genesis of the exported file gives {field} {} but the synthetic state has {}",
                    report[field],
                    exported[field]
                );
            }
        }
        files.push(file);
    }
    Ok(files)
}

/// One release against one genesis file: init, start, compare the genesis root, sync if possible.
fn check_geth(
    statesync: &Statesync,
    release: &GethRelease,
    binary: &Path,
    genesis: &GenesisFile,
    work: &Path,
    sync_ready: bool,
) -> Result<()> {
    let label = format!("geth {} / {}", release.version, genesis.name);
    let datadir = work.join(format!("geth-{}-{}", release.version, genesis.name));
    let timer = Instant::now();
    let mut init = Command::new(binary);
    init.arg("init").arg("--datadir").arg(&datadir).args(["--state.scheme", "hash"]).arg(&genesis.path);
    let output = init.output().with_context(|| format!("starting {}", render(&init)))?;
    std::fs::create_dir_all(&datadir)?;
    std::fs::write(datadir.join("init.log"), [&output.stdout[..], &output.stderr[..]].concat())?;
    ensure!(
        output.status.success(),
        "{} failed with {}:\n{}",
        render(&init),
        output.status,
        tail(&String::from_utf8_lossy(&output.stderr), 20)
    );
    println!("{label}: $ {} ({:.1} s)", render(&init), timer.elapsed().as_secs_f64());

    let timer = Instant::now();
    let node = GethNode::start(binary, &datadir)?;
    println!("{label}: $ {} ({:.1} s to IPC)", node.command_line, timer.elapsed().as_secs_f64());
    let enode = node.enode()?;
    let block: Value = serde_json::from_str(&node.attach("JSON.stringify(eth.getBlock(0))")?)
        .context("geth's genesis block is not JSON")?;
    let (hash, state_root) = (text(&block["hash"]), text(&block["stateRoot"]));
    println!("{label}: enode {enode}");
    println!("{label}: genesis block {hash}, state root {state_root}");
    ensure!(
        state_root == genesis.root,
        "{label}: geth's genesis state root {state_root} differs from statesync's {}",
        genesis.root
    );
    println!("{label}: state root = statesync gen --genesis: ok");

    if sync_ready {
        sync_from_geth(statesync, release, genesis, &enode, work)
            .with_context(|| format!("{label}: sync"))?;
    }
    let warnings = node.warnings();
    drop(node);
    for warning in warnings {
        println!("{label}: geth said: {warning}");
    }
    Ok(())
}

/// What a sync from a peer must end in.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Expect {
    /// A complete state: `verify` passes with `gen`'s account, node and code counts.
    Complete,
    /// A clean refusal: exit code 2, saying the peer serves no node data.
    NoNodeData,
}

/// Syncs `genesis`'s root from the geth at `enode` over RLPx and checks the outcome `release` must
/// give: a complete state with `gen`'s counts, or a clean refusal (exit 2, "no node data").
fn sync_from_geth(
    statesync: &Statesync,
    release: &GethRelease,
    genesis: &GenesisFile,
    enode: &str,
    work: &Path,
) -> Result<()> {
    let label = format!("geth {} / {}", release.version, genesis.name);
    let db = work.join(format!("sync-{}-{}", release.version, genesis.name));
    let expect = if release.serves_node_data { Expect::Complete } else { Expect::NoNodeData };
    sync_from_peer(statesync, &label, genesis, enode, &db, expect)
}

/// Our RLPx server to our RLPx sync, end to end through the binary: `statesync serve --rlpx` of the
/// database `gen --genesis` wrote, then `statesync sync --peer <its enode>` and `verify`.
fn sync_from_ourselves(statesync: &Statesync, genesis: &GenesisFile, work: &Path) -> Result<()> {
    let label = format!("statesync serve --rlpx / {}", genesis.name);
    let log = work.join("serve-rlpx.log");
    let mut command = Command::new(&statesync.binary);
    command
        .arg("serve")
        .arg("--db")
        .arg(&genesis.db)
        .args(["--listen", "127.0.0.1:0", "--rlpx", "127.0.0.1:0", "--genesis"])
        .arg(&genesis.path)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(std::fs::File::create(&log)?);
    let command_line = render(&command);
    let mut server = KillOnDrop(command.spawn().with_context(|| format!("starting {command_line}"))?);
    // The wire v1 address on the first line of stdout, the enode on the second.
    let stdout = server.0.stdout.take().context("serve's stdout")?;
    let mut lines = std::io::BufRead::lines(std::io::BufReader::new(stdout));
    let mut next_line = || -> Result<String> {
        match lines.next() {
            Some(line) => Ok(line?),
            None => {
                bail!("{command_line} exited before printing its enode:\n{}", tail(&read_lossy(&log), 20))
            }
        }
    };
    let _wire_v1 = next_line()?;
    let enode = next_line()?;
    ensure!(enode.starts_with("enode://"), "{command_line} printed {enode:?} where its enode was expected");
    println!("{label}: $ {command_line}");
    println!("{label}: enode {enode}");
    sync_from_peer(statesync, &label, genesis, &enode, &work.join("sync-from-ourselves"), Expect::Complete)
}

/// `statesync sync` of `genesis`'s root from `enode` into `db`, then the check `expect` says.
fn sync_from_peer(
    statesync: &Statesync,
    label: &str,
    genesis: &GenesisFile,
    enode: &str,
    db: &Path,
    expect: Expect,
) -> Result<()> {
    let timer = Instant::now();
    let output = statesync.output([
        OsStr::new("sync"),
        OsStr::new("--db"),
        db.as_os_str(),
        OsStr::new("--root"),
        OsStr::new(&genesis.root),
        OsStr::new("--peer"),
        OsStr::new(enode),
        OsStr::new("--genesis"),
        genesis.path.as_os_str(),
        OsStr::new("--network-id"),
        OsStr::new(NETWORK_ID),
    ])?;
    let stderr = String::from_utf8_lossy(&output.stderr);
    if expect == Expect::NoNodeData {
        ensure!(
            output.status.code() == Some(2),
            "expected exit code 2 (peer serves no node data), got {}:\n{}",
            output.status,
            tail(&stderr, 20)
        );
        ensure!(
            stderr.to_lowercase().contains("node data"),
            "exit code 2 but the message does not say the peer serves no node data:\n{}",
            tail(&stderr, 20)
        );
        println!(
            "{label}: sync refused as expected, exit 2 ({:.1} s): {}",
            timer.elapsed().as_secs_f64(),
            tail(&stderr, 1)
        );
        return Ok(());
    }
    ensure!(output.status.success(), "statesync sync failed with {}:\n{}", output.status, tail(&stderr, 30));
    let synced = timer.elapsed();
    let timer = Instant::now();
    let verify = statesync.json([
        OsStr::new("verify"),
        OsStr::new("--db"),
        db.as_os_str(),
        OsStr::new("--root"),
        OsStr::new(&genesis.root),
    ])?;
    ensure!(verify["complete"] == Value::Bool(true), "verify: the synced state is incomplete: {verify}");
    let got = (count(&verify, "accounts")?, count(&verify, "nodes")?, count(&verify, "codes")?);
    ensure!(
        got == (genesis.accounts, genesis.nodes, genesis.codes),
        "synced (accounts, nodes, codes) {got:?}, gen has {:?}",
        (genesis.accounts, genesis.nodes, genesis.codes)
    );
    println!(
        "{label}: synced {} trie nodes and {} code blobs in {:.1} s; verify complete in {:.1} s, counts = gen",
        got.1,
        got.2,
        synced.as_secs_f64(),
        timer.elapsed().as_secs_f64()
    );
    Ok(())
}

/// A child process, killed and reaped when dropped: on success, on error and on panic alike.
pub(crate) struct KillOnDrop(pub(crate) Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A running geth, killed when dropped.
struct GethNode {
    child: KillOnDrop,
    binary: PathBuf,
    ipc: PathBuf,
    log: PathBuf,
    command_line: String,
}

impl GethNode {
    /// Starts geth on the initialised `datadir` and waits until its IPC endpoint answers.
    fn start(binary: &Path, datadir: &Path) -> Result<Self> {
        let ipc = datadir.join("geth.ipc");
        let log = datadir.join("geth.log");
        let mut command = Command::new(binary);
        command
            .arg("--datadir")
            .arg(datadir)
            .args(["--networkid", NETWORK_ID, "--syncmode", "full", "--state.scheme", "hash"])
            // Loopback only: no discovery, advertise 127.0.0.1, accept peers from loopback only.
            .args(["--nodiscover", "--nat", "extip:127.0.0.1", "--netrestrict", "127.0.0.0/8"])
            .args(["--port", &free_port()?.to_string(), "--maxpeers", "4"])
            .args(["--authrpc.addr", "127.0.0.1", "--authrpc.port", &free_port()?.to_string()])
            .arg("--ipcpath")
            .arg(&ipc)
            .args(["--cache", "128", "--verbosity", "3"]);
        let command_line = render(&command);
        let log_file = std::fs::File::create(&log)?;
        command.stdin(Stdio::null()).stdout(log_file.try_clone()?).stderr(log_file);
        let child = command.spawn().with_context(|| format!("starting {command_line}"))?;
        let mut node = GethNode { child: KillOnDrop(child), binary: binary.into(), ipc, log, command_line };
        let deadline = Instant::now() + GETH_START_TIMEOUT;
        loop {
            if let Some(status) = node.child.0.try_wait()? {
                bail!("geth exited with {status} while starting:\n{}", node.log_tail(30));
            }
            if node.ipc.exists() && node.attach("admin.nodeInfo.enode").is_ok() {
                return Ok(node);
            }
            if Instant::now() > deadline {
                bail!("geth opened no IPC endpoint within {GETH_START_TIMEOUT:?}:\n{}", node.log_tail(30));
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    /// Evaluates `expression` in geth's JavaScript console over IPC; returns the result, a JSON value
    /// (a string comes back quoted, and is unquoted here).
    fn attach(&self, expression: &str) -> Result<String> {
        let mut command = Command::new(&self.binary);
        command.arg("attach").args(["--exec", expression]).arg(&self.ipc);
        let output = command.output().with_context(|| format!("starting {}", render(&command)))?;
        let stdout = String::from_utf8_lossy(&output.stdout);
        ensure!(
            output.status.success(),
            "{} failed: {}",
            render(&command),
            String::from_utf8_lossy(&output.stderr)
        );
        let line = stdout.lines().rev().find(|line| !line.trim().is_empty()).unwrap_or_default().trim();
        match serde_json::from_str::<Value>(line) {
            Ok(Value::String(text)) => Ok(text),
            _ => Ok(line.to_string()),
        }
    }

    /// The node's enode URL, without the `?discport=0` discovery is off anyway.
    fn enode(&self) -> Result<String> {
        let enode = self.attach("admin.nodeInfo.enode")?;
        ensure!(enode.starts_with("enode://"), "geth's admin.nodeInfo.enode is not an enode: {enode}");
        Ok(enode.split('?').next().unwrap_or_default().to_string())
    }

    /// The distinct warnings and errors geth logged so far (message only, without fields).
    fn warnings(&self) -> Vec<String> {
        let log = read_lossy(&self.log);
        let mut seen = Vec::new();
        for line in log.lines().filter(|line| line.starts_with("WARN") || line.starts_with("ERROR")) {
            // `WARN [12-01|13:27:48.413] Message   key=value ...`: keep the level and the message.
            let message = line.split_once("] ").map(|(_, rest)| rest).unwrap_or(line);
            let message = message.split("  ").next().unwrap_or(message).trim();
            let entry = format!("{} {message}", &line[..line.find(' ').unwrap_or(0)]);
            if !seen.contains(&entry) {
                seen.push(entry);
            }
        }
        seen
    }

    fn log_tail(&self, lines: usize) -> String {
        tail(&read_lossy(&self.log), lines)
    }
}

/// The statesync binary under test.
struct Statesync {
    binary: PathBuf,
}

impl Statesync {
    /// Runs `statesync args`, capturing its output.
    fn output<'a>(&self, args: impl IntoIterator<Item = &'a OsStr>) -> Result<Output> {
        let mut command = Command::new(&self.binary);
        command.args(args);
        command.output().with_context(|| format!("starting {}", render(&command)))
    }

    /// Runs `statesync --json args`, which must succeed, and parses its report.
    fn json<'a>(&self, args: impl IntoIterator<Item = &'a OsStr>) -> Result<Value> {
        let mut command = Command::new(&self.binary);
        command.arg("--json").args(args);
        json_report(command)
    }

    /// Whether `statesync serve` can serve over RLPx (`--rlpx ADDR`).
    fn serves_rlpx(&self) -> Result<bool> {
        let output = self.output([OsStr::new("serve"), OsStr::new("--help")])?;
        Ok(String::from_utf8_lossy(&output.stdout).contains("--rlpx"))
    }

    /// Whether `statesync sync` can reach RLPx peers: it then takes `--genesis FILE`, the chain whose
    /// genesis hash and fork id the eth Status handshake must match.
    fn sync_speaks_rlpx(&self) -> Result<bool> {
        let output = self.output([OsStr::new("sync"), OsStr::new("--help")])?;
        Ok(String::from_utf8_lossy(&output.stdout).contains("--genesis"))
    }
}

/// Builds the statesync binary and returns its path.
///
/// By default it is the binary `cargo xtask ci`'s `cargo test --workspace --all-features` builds for
/// the integration tests: asking cargo for exactly that build (`--no-run`) costs nothing after `ci`,
/// where a plain `cargo build` would resolve features without the test-only ones (tokio's
/// `test-util`) and recompile half the workspace. `release` builds a release binary instead.
pub(crate) fn build_statesync(release: bool) -> Result<PathBuf> {
    let mut build = cargo();
    if release {
        build.args(["build", "--release", "--bin", "statesync"]);
    } else {
        build.args(["test", "--workspace", "--all-features", "--no-run"]);
    }
    build.args(["--message-format", "json-render-diagnostics"]);
    eprintln!("$ {}", render(&build));
    let output =
        build.stderr(Stdio::inherit()).output().with_context(|| format!("starting {}", render(&build)))?;
    ensure!(output.status.success(), "{} failed with {}", render(&build), output.status);
    for line in String::from_utf8_lossy(&output.stdout).lines() {
        let Ok(message) = serde_json::from_str::<Value>(line) else { continue };
        // The binary itself, not the unit-test harness of `src/main.rs` (also a "statesync" bin).
        let is_bin =
            message["target"]["kind"].as_array().is_some_and(|kinds| kinds.iter().any(|k| k == "bin"));
        let is_test_harness = message["profile"]["test"] == Value::Bool(true);
        if message["reason"] == "compiler-artifact"
            && message["target"]["name"] == "statesync"
            && is_bin
            && !is_test_harness
        {
            if let Some(executable) = message["executable"].as_str() {
                return Ok(executable.into());
            }
        }
    }
    bail!("{} reported no statesync executable", render(&build))
}

/// The cache directory of the geth builds.
fn cache_dir() -> Result<PathBuf> {
    if let Some(dir) = std::env::var_os(CACHE_ENV) {
        return Ok(dir.into());
    }
    let base = match std::env::var_os("XDG_CACHE_HOME") {
        Some(dir) if !dir.is_empty() => PathBuf::from(dir),
        _ => PathBuf::from(std::env::var_os("HOME").context("neither $HOME nor $XDG_CACHE_HOME is set")?)
            .join(".cache"),
    };
    Ok(base.join("statesync-interop"))
}

/// The geth binary of `version` in `cache`, built first unless a binary there reports that version;
/// the flag says whether it was built now.
fn ensure_geth(cache: &Path, version: &str) -> Result<(PathBuf, bool)> {
    let dir = cache.join(format!("geth-{version}"));
    let binary = dir.join("geth");
    if reports_version(&binary, version) {
        return Ok((binary, false));
    }
    // Build into a directory of our own, then move into place: a concurrent or interrupted build
    // never leaves a half-written binary where the next run would trust it.
    let staging = cache.join(format!(".building-geth-{version}-{}", std::process::id()));
    std::fs::create_dir_all(&staging).with_context(|| format!("creating {}", staging.display()))?;
    let go = std::env::var_os("GO").unwrap_or_else(|| "go".into());
    let mut install = Command::new(go);
    install
        .current_dir(&staging)
        .env("GOBIN", &staging)
        // v1.13's dependencies reach into the runtime with go:linkname, which Go 1.23+ refuses
        // unless told not to check.
        .args(["install", "-ldflags=-checklinkname=0"])
        .arg(format!("github.com/ethereum/go-ethereum/cmd/geth@{version}"));
    let timer = Instant::now();
    run_command(install).with_context(|| format!("building geth {version} (needs the go command)"))?;
    std::fs::create_dir_all(&dir)?;
    std::fs::rename(staging.join("geth"), &binary)
        .with_context(|| format!("moving the geth build into {}", binary.display()))?;
    let _ = std::fs::remove_dir_all(&staging);
    ensure!(reports_version(&binary, version), "{} does not report version {version}", binary.display());
    eprintln!("built geth {version} in {:.0} s", timer.elapsed().as_secs_f64());
    Ok((binary, true))
}

/// Whether `binary` exists and `geth version` says it is `version`.
fn reports_version(binary: &Path, version: &str) -> bool {
    let Ok(output) = Command::new(binary).arg("version").output() else { return false };
    let expected = format!("Version: {}-stable", version.trim_start_matches('v'));
    output.status.success()
        && String::from_utf8_lossy(&output.stdout).lines().any(|line| line.trim() == expected)
}

/// A TCP port free on loopback right now (the OS picks it; geth binds it a moment later).
fn free_port() -> Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

/// A log file's text, empty if it cannot be read (it only decorates an error).
fn read_lossy(path: &Path) -> String {
    String::from_utf8_lossy(&std::fs::read(path).unwrap_or_default()).into_owned()
}

fn read_json(path: &Path) -> Result<Value> {
    let text = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    serde_json::from_slice(&text).with_context(|| format!("{} is not JSON", path.display()))
}

/// A JSON string's text, or the JSON itself for anything else.
fn text(value: &Value) -> String {
    value.as_str().map(str::to_string).unwrap_or_else(|| value.to_string())
}
