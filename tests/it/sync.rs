//! End to end through the real binary: `gen` → `serve` processes → `sync` → `verify`; a second `sync`
//! does nothing; a faulty peer is survived; each bad input to `sync` is exit 2 with one line. The
//! `serve` processes of a test share one database (each opens it read-only).

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::{mpsc, Arc, Mutex};
use std::time::{Duration, Instant};

use statesync::kvdb::{Durability, KeyValueStore, Namespace, RedbOptions, WriteBatch};

use crate::cli::{path, run, vectors_or_skip, Server, BIN, MAINNET_ROOT};

/// Syncs `root` from `servers` into `db`, verifies it, syncs again (a no-op), and returns the first
/// sync's JSON report.
fn sync_verify_resync(db: &Path, root: &str, servers: &[&Server]) -> serde_json::Value {
    let mut args = vec!["--json", "sync", "--db", path(db), "--root", root];
    for server in servers {
        args.extend(["--peer", server.addr.as_str()]);
    }
    let first = run(&args).success();
    let report: serde_json::Value = serde_json::from_str(first.stdout.trim()).expect("sync --json report");
    assert_eq!(report["root"], root);
    assert_eq!(report["already_complete"], false);

    let verify = run(&["--json", "verify", "--db", path(db), "--root", root]).success();
    let verified: serde_json::Value = serde_json::from_str(verify.stdout.trim()).unwrap();
    assert_eq!(verified["complete"], true);
    assert_eq!(
        verified["nodes"], report["nodes"],
        "every stored node is reachable, every reachable node stored"
    );
    assert_eq!(verified["codes"], report["codes"]);

    let again = run(&args[1..]).success();
    assert!(again.stdout.contains("already complete"), "{}", again.stdout);
    report
}

/// Generates a synthetic state into `db`: gen's JSON report and the root.
fn gen_synthetic(db: &Path, accounts: u32, seed: u32) -> (serde_json::Value, String) {
    let (accounts, seed) = (accounts.to_string(), seed.to_string());
    let gen = run(&["--json", "gen", "--db", path(db), "--accounts", &accounts, "--seed", &seed]).success();
    let generated: serde_json::Value = serde_json::from_str(gen.stdout.trim()).expect("gen --json report");
    let root = generated["root"].as_str().expect("a root").to_string();
    (generated, root)
}

#[test]
fn synthetic_state_syncs_from_two_servers_verifies_and_resync_is_a_no_op() {
    let dir = tempfile::tempdir().unwrap();
    let source = dir.path().join("source");
    let (generated, root) = gen_synthetic(&source, 3000, 9);
    let (a, b) = (Server::start(&source, &[]), Server::start(&source, &[]));
    let report = sync_verify_resync(&dir.path().join("synced"), &root, &[&a, &b]);
    assert_eq!(report["nodes"], generated["nodes"]);
    assert_eq!(report["codes"], generated["codes"]);
    assert_eq!(report["peers_connected"], 2);
    // The peers are no longer needed once the state is complete.
    drop((a, b));
    run(&["sync", "--db", path(&dir.path().join("synced")), "--root", &root, "--peer", "127.0.0.1:1"])
        .success();
}

#[test]
fn mainnet_genesis_syncs_from_two_servers_and_verifies() {
    let Some(vectors) = vectors_or_skip("mainnet_genesis_syncs_from_two_servers_and_verifies") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let source = dir.path().join("source");
    let genesis = vectors.join("mainnet.json");
    let gen = run(&["gen", "--db", path(&source), "--genesis", path(&genesis)]).success();
    assert_eq!(gen.last_line(), MAINNET_ROOT);
    let (a, b) = (Server::start(&source, &[]), Server::start(&source, &[]));
    let report = sync_verify_resync(&dir.path().join("synced"), MAINNET_ROOT, &[&a, &b]);
    assert_eq!(report["nodes"], 12356);
}

#[test]
fn a_peer_sending_corrupt_blobs_is_dropped_and_the_sync_completes() {
    let dir = tempfile::tempdir().unwrap();
    let source = dir.path().join("source");
    let root = run(&["gen", "--db", path(&source), "--accounts", "2000"]).success().last_line().to_string();
    let honest = Server::start(&source, &[]);
    let liar = Server::start(&source, &["--fault", "corrupt"]);
    let report = sync_verify_resync(&dir.path().join("synced"), &root, &[&liar, &honest]);
    let dropped = report["peers_dropped"].as_array().unwrap();
    assert!(
        dropped.iter().any(|d| d["peer"].as_str().unwrap().starts_with(&format!("{}/", liar.addr))
            && d["reason"].as_str().unwrap().contains("none of them requested")),
        "{report}"
    );
}

#[test]
fn sync_bad_inputs_are_exit_2_with_one_line_and_leave_the_database_intact() {
    let dir = tempfile::tempdir().unwrap();
    let source = dir.path().join("source");
    let root = run(&["gen", "--db", path(&source), "--accounts", "300"]).success().last_line().to_string();
    let synced = dir.path().join("synced");
    let db = path(&synced);
    let server = Server::start(&source, &[]);

    run(&["sync", "--db", db, "--root", "0xabc", "--peer", &server.addr])
        .bad_input("bad state root \"0xabc\"");
    run(&["sync", "--db", db, "--root", &root, "--peer", "nowhere"])
        .bad_input("bad peer address \"nowhere\"");
    run(&["sync", "--db", db, "--root", &root, "--peer", "127.0.0.1:1", "--peer", "127.0.0.1:2"])
        .bad_input("no peer reachable: 127.0.0.1:");
    let unknown = format!("0x{}", "11".repeat(32));
    run(&["sync", "--db", db, "--root", &unknown, "--peer", &server.addr])
        .bad_input(&format!("none of the 1 peers has state root {unknown}"));

    let full = Server::start(&source, &["--max-peers", "0"]);
    run(&["sync", "--db", db, "--root", &root, "--peer", &full.addr])
        .bad_input("refused the connection: too many peers");
    let elsewhere = Server::start(&source, &["--network-id", "5"]);
    run(&["sync", "--db", db, "--root", &root, "--peer", &elsewhere.addr]).bad_input("network");

    // None of that stored anything (not even an empty database); a good sync still completes.
    assert!(!synced.exists(), "a refused sync left a database behind");
    run(&["sync", "--db", db, "--root", &root, "--peer", &server.addr]).success();
    run(&["verify", "--db", db, "--root", &root]).success();
}

/// The design's third invariant through the real binary: a sync killed (SIGKILL) right after a
/// durable commit, restarted on the same database, completes and fetches only what was not committed.
#[test]
fn a_killed_sync_resumes_and_fetches_only_what_was_not_committed() {
    let dir = tempfile::tempdir().unwrap();
    let source = dir.path().join("source");
    let (generated, root) = gen_synthetic(&source, 1000, 4);
    let total = generated["nodes"].as_u64().unwrap() + generated["codes"].as_u64().unwrap();
    let synced = dir.path().join("synced");

    // A slow peer (50 ms a blob) keeps the first sync running long after its first commits; each
    // delivery is committed, and each commit made durable, so what the kill interrupts is known.
    let slow = Server::start(&source, &["--fault", "slow"]);
    let mut first = Command::new(BIN)
        .args(["--log-level", "warn,state_sync=debug", "sync", "--db", path(&synced), "--root", &root])
        .args(["--peer", &slow.addr, "--commit-bytes", "1", "--durable-every", "1"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawning statesync sync");
    let stderr = first.stderr.take().expect("piped stderr");
    let (lines, committed_lines) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if line.contains("committed entries=") && !line.contains("committed entries=0 ") {
                let _ = lines.send(line);
            }
        }
    });
    let commit = committed_lines.recv_timeout(Duration::from_secs(120));
    first.kill().expect("SIGKILL");
    let status = first.wait().expect("waiting for the killed sync");
    let commit = commit.expect("a commit within 120 s");
    assert!(!status.success(), "the first sync was killed before it completed ({commit})");
    drop(slow);

    // As if the storage engine had fallen back to an older commit than the last run made durable:
    // the record beside the database claims more than the database holds.
    let record = synced.join("sync-progress");
    std::fs::write(&record, format!("root={root}\ndurable_entries={}\n", total * 2)).unwrap();

    let honest = Server::start(&source, &[]);
    let second = run(&["--json", "sync", "--db", path(&synced), "--root", &root, "--peer", &honest.addr]);
    let second = second.success();
    let report: serde_json::Value = serde_json::from_str(second.stdout.trim()).unwrap();
    let resumed = report["resumed_from"].as_u64().unwrap();
    assert_eq!(report["recovery"]["reported"].as_u64(), Some(total * 2), "{report}");
    assert_eq!(report["recovery"]["found"].as_u64(), Some(resumed), "{report}");
    assert!(second.stderr.contains("rolled back"), "the rollback is warned about: {}", second.stderr);
    // The completed sync's record: everything durable.
    let written = std::fs::read_to_string(&record).unwrap();
    assert!(written.contains(&format!("durable_entries={total}")), "{written}");
    let fetched = report["nodes"].as_u64().unwrap() + report["codes"].as_u64().unwrap();
    assert!(resumed > 0, "the durable commits survived the kill ({commit}): {report}");
    assert_eq!(fetched + resumed, total, "nothing committed is fetched again: {report}");
    let verify = run(&["--json", "verify", "--db", path(&synced), "--root", &root]).success();
    let verified: serde_json::Value = serde_json::from_str(verify.stdout.trim()).unwrap();
    assert_eq!(verified["complete"], true);
    assert_eq!(verified["nodes"], generated["nodes"]);
    assert_eq!(verified["codes"], generated["codes"]);
}

#[test]
fn demo_runs_small_and_reports_json() {
    let demo = run(&["--json", "demo", "--accounts", "2000"]).success();
    let report: serde_json::Value = serde_json::from_str(demo.stdout.trim()).expect("demo --json report");
    assert_eq!(report["verify"]["complete"], true);
    assert_eq!(report["same_entries_as_source"], true);
    assert_eq!(report["peers"].as_array().unwrap().len(), 4);
    assert_eq!(report["verify"]["accounts"], 2000);
}

/// A redb store whose every third write is durable on its own (`Durability::Periodic`), each write
/// slowed so a small sync makes many commits over a few seconds, remembering when each durable point
/// was made and the entries it made durable.
struct DurablePoints {
    inner: statesync::kvdb::RedbStore,
    points: Mutex<Vec<(Instant, u64)>>,
}

impl DurablePoints {
    /// Time each write takes.
    const WRITE: Duration = Duration::from_millis(20);

    fn mark(&self) {
        let checkpoint = statesync::downloader::Checkpoint::read(&self.inner).expect("checkpoint");
        let entries = checkpoint.map_or(0, |checkpoint| checkpoint.entries());
        self.points.lock().unwrap().push((Instant::now(), entries));
    }
}

impl KeyValueStore for DurablePoints {
    fn get(&self, namespace: Namespace, key: &[u8]) -> statesync::kvdb::Result<Option<Vec<u8>>> {
        self.inner.get(namespace, key)
    }

    fn write(&self, batch: WriteBatch) -> statesync::kvdb::Result<()> {
        self.write_reporting_durability(batch).map(drop)
    }

    fn write_reporting_durability(&self, batch: WriteBatch) -> statesync::kvdb::Result<bool> {
        std::thread::sleep(Self::WRITE);
        let durable = self.inner.write_reporting_durability(batch)?;
        if durable {
            self.mark();
        }
        Ok(durable)
    }

    fn flush(&self) -> statesync::kvdb::Result<()> {
        self.inner.flush()?;
        self.mark();
        Ok(())
    }

    fn for_each(
        &self,
        namespace: Namespace,
        visit: &mut dyn FnMut(&[u8], &[u8]),
    ) -> statesync::kvdb::Result<()> {
        self.inner.for_each(namespace, visit)
    }
}

/// The progress record beside the database, read as a kill at that instant would leave it, at
/// every instant of a sync whose store makes every third commit durable on its own: it is always
/// exactly one of the durable points (never ahead of what a crash keeps, so a resume never warns
/// of a rollback that did not happen), and never behind the last durable point made a second
/// earlier (the sync records progress every 250 ms; its own flushes come only every 5 s).
#[test]
fn the_progress_record_follows_every_durable_commit_and_never_leads() {
    let dir = tempfile::tempdir().unwrap();
    let source = dir.path().join("source");
    let (generated, root) = gen_synthetic(&source, 2000, 6);
    let total = generated["nodes"].as_u64().unwrap() + generated["codes"].as_u64().unwrap();
    let server = Server::start(&source, &[]);
    let synced = dir.path().join("synced");
    std::fs::create_dir_all(&synced).unwrap();
    let options = RedbOptions::new().durability(Durability::periodic(3));
    let inner = statesync::kvdb::RedbStore::open(synced.join(statesync::REDB_FILE), options).unwrap();
    let store = Arc::new(DurablePoints { inner, points: Mutex::new(Vec::new()) });
    let record_path = synced.join(statesync::PROGRESS_RECORD_FILE);
    let options = statesync::SyncOptions {
        root: statesync::parse_root(&root).unwrap(),
        peers: statesync::resolve_peers(std::slice::from_ref(&server.addr)).unwrap(),
        network_id: 1,
        eth: None,
        progress_record: Some(record_path.clone()),
        downloader: statesync::downloader::DownloaderConfig { commit_threshold: 1, ..Default::default() },
    };

    let done = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let syncing = {
        let (store, done) = (store.clone(), done.clone());
        std::thread::spawn(move || {
            let runtime = tokio::runtime::Runtime::new().unwrap();
            let summary =
                runtime.block_on(statesync::sync(store, &options, &mut |_| {}, std::future::pending()));
            done.store(true, std::sync::atomic::Ordering::SeqCst);
            summary
        })
    };
    let mut reads = 0;
    let mut advanced = std::collections::BTreeSet::new();
    while !done.load(std::sync::atomic::Ordering::SeqCst) {
        std::thread::sleep(Duration::from_millis(50));
        // The record first, then the points: a point recorded is one already made.
        let read_at = Instant::now();
        let Some(record) = statesync::ProgressRecord::read(&record_path) else { continue };
        let points = store.points.lock().unwrap().clone();
        assert!(
            points.iter().any(|(_, entries)| *entries == record.durable_entries),
            "the record says {} entries are durable; the durable points: {:?}",
            record.durable_entries,
            points.iter().map(|point| point.1).collect::<Vec<_>>()
        );
        let mut due =
            points.iter().filter(|(made, _)| read_at.duration_since(*made) >= Duration::from_secs(1));
        if let Some((made, entries)) = due.next_back() {
            assert!(
                record.durable_entries >= *entries,
                "the record says {} entries, {:?} after {entries} were made durable",
                record.durable_entries,
                read_at.duration_since(*made)
            );
        }
        advanced.insert(record.durable_entries);
        reads += 1;
    }
    let summary = syncing.join().unwrap().expect("the sync completes");
    assert_eq!(summary.nodes + summary.codes, total);
    let points = store.points.lock().unwrap().len();
    eprintln!("{reads} reads of the record saw {} values; {points} durable points", advanced.len());
    assert!(
        reads >= 10 && advanced.len() >= 4,
        "{reads} reads saw the record at {advanced:?}; {points} durable points"
    );
    let record = statesync::ProgressRecord::read(&record_path).expect("a record");
    assert_eq!(record.durable_entries, total, "the last commit is durable and recorded");
}
