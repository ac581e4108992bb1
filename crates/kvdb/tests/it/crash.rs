//! Crash atomicity: a child process writes batches in a loop and is SIGKILLed at a random moment;
//! after reopening, every batch is entirely present or entirely absent, the batches present are a
//! prefix of those written, and every batch the durability setting promised to keep is there. (For
//! redb, a read-only open in between is refused as needing the repair it cannot make.)
//!
//! The child is this same test binary, re-executed to run the ignored test `crash::child_writer`
//! with the store described in an environment variable. SIGKILL stops the process between any two
//! instructions, mid-commit included, but leaves the operating system's page cache alone: these
//! tests prove atomicity and the process-crash guarantees, not what a power loss does (that needs a
//! fault-injecting storage layer, as in redb's own crash tests).

use std::io::{BufRead, BufReader, Write};
use std::os::unix::process::ExitStatusExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant, SystemTime};

use kvdb::{Durability, KeyValueStore, Namespace, WriteBatch};

use crate::data::{key, splitmix, value};

/// Tells the re-executed binary which store to write to: `backend:every:path`.
const CHILD_ENV: &str = "KVDB_CRASH_CHILD";
/// Entries per batch in `TrieNodes`, plus one marker in `Meta`: large enough that a commit takes a
/// while, so kills land inside commits too.
const ENTRIES: u64 = 64;
/// Kill rounds per configuration; each round continues the database the previous one crashed.
const ROUNDS: usize = 3;

fn open(backend: &str, every: u32, path: &Path) -> kvdb::Result<Box<dyn KeyValueStore>> {
    let durability = Durability::periodic(every);
    match backend {
        #[cfg(feature = "redb")]
        "redb" => Ok(Box::new(kvdb::RedbStore::open(path, kvdb::RedbOptions::new().durability(durability))?)),
        #[cfg(feature = "fjall")]
        "fjall" => {
            Ok(Box::new(kvdb::FjallStore::open(path, kvdb::FjallOptions::new().durability(durability))?))
        }
        other => panic!("unknown backend {other} (feature off?)"),
    }
}

fn batch(n: u64) -> WriteBatch {
    let mut batch = WriteBatch::with_capacity(ENTRIES as usize + 1);
    for j in 0..ENTRIES {
        batch.put(Namespace::TrieNodes, key(n * ENTRIES + j), value(n * ENTRIES + j, 300));
    }
    batch.put(Namespace::Meta, n.to_be_bytes().to_vec(), b"done".to_vec());
    batch
}

/// The child: continue the database from its first missing batch, acknowledging each batch on stdout
/// once `write` returned, until killed (or, as a safety net, after 20 s).
#[test]
#[ignore = "the child process of the crash tests, run by them"]
fn child_writer() -> kvdb::Result<()> {
    let spec = std::env::var(CHILD_ENV).expect("run by the crash tests, with KVDB_CRASH_CHILD set");
    let mut parts = spec.splitn(3, ':');
    let (backend, every, path) = (
        parts.next().expect("backend"),
        parts.next().and_then(|every| every.parse().ok()).expect("every"),
        parts.next().expect("path"),
    );
    let store = open(backend, every, Path::new(path))?;
    let start = store.count(Namespace::Meta)?;
    let mut stdout = std::io::stdout().lock();
    writeln!(stdout, "@start {start}").expect("stdout");
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut n = start;
    while Instant::now() < deadline {
        store.write(batch(n))?;
        writeln!(stdout, "@ack {n}").expect("stdout");
        stdout.flush().expect("stdout");
        n += 1;
    }
    Ok(())
}

/// What the parent saw of one child: where it started and the last batch it acknowledged.
struct Run {
    start: u64,
    last_acked: Option<u64>,
}

fn run_and_kill(backend: &str, every: u32, path: &Path, delay: Duration) -> Run {
    let exe = std::env::current_exe().expect("test binary");
    let mut child = Command::new(exe)
        .args(["crash::child_writer", "--exact", "--ignored", "--nocapture", "--test-threads=1"])
        .env(CHILD_ENV, format!("{backend}:{every}:{}", path.display()))
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("spawn the child");
    let stdout = child.stdout.take().expect("piped stdout");
    let (ready_tx, ready_rx) = std::sync::mpsc::channel();
    let reader = std::thread::spawn(move || {
        let (mut start, mut last_acked) = (None, None);
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            // libtest's own "test ... " text may precede a marker on the same line.
            if let Some((_, n)) = line.split_once("@start ") {
                start = n.parse().ok();
            } else if let Some((_, n)) = line.split_once("@ack ") {
                last_acked = n.parse::<u64>().ok();
                let _ = ready_tx.send(());
            }
        }
        (start, last_acked)
    });
    // Kill at a random moment after the first acknowledged batch (the store is open and writing).
    ready_rx.recv_timeout(Duration::from_secs(10)).expect("the child acknowledged a first batch");
    std::thread::sleep(delay);
    child.kill().expect("SIGKILL the child");
    let status = child.wait().expect("reap the child");
    assert_eq!(status.signal(), Some(9), "the child died of SIGKILL, mid-write, not by itself: {status:?}");
    let (start, last_acked) = reader.join().expect("stdout reader");
    Run { start: start.expect("the child reported its start"), last_acked }
}

fn crash_rounds(backend: &str, every: u32) {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join(format!("{backend}-{every}"));
    let seed = SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).map_or(1, |d| d.as_nanos() as u64);
    let mut expected_start = 0;
    for round in 0..ROUNDS {
        let delay = Duration::from_millis(20 + splitmix(seed ^ round as u64) % 280);
        let run = run_and_kill(backend, every, &path, delay);
        assert_eq!(
            run.start, expected_start,
            "the child continued from the batches found after the last crash"
        );
        let last_acked = run.last_acked.expect("at least one acknowledged batch");

        // A read-only handle cannot make the repair a crashed writer leaves behind, so it says so
        // (and leaves the file for the writable reopen below to repair).
        #[cfg(feature = "redb")]
        if backend == "redb" {
            let result = kvdb::RedbStore::open_read_only(&path, kvdb::RedbOptions::new());
            assert!(matches!(result, Err(kvdb::Error::NeedsRepair { .. })), "{result:?}");
        }

        let store = open(backend, every, &path).expect("reopen after the crash");
        // Each batch entirely present or entirely absent, and the present ones a prefix.
        let mut present = 0u64;
        for n in 0..=last_acked + 1 {
            let found = (0..ENTRIES)
                .filter(|j| store.contains(Namespace::TrieNodes, &key(n * ENTRIES + j)).expect("read"))
                .count() as u64;
            let marker = store.contains(Namespace::Meta, &n.to_be_bytes()).expect("read");
            assert!(
                (found == 0 && !marker) || (found == ENTRIES && marker),
                "{backend} every {every}, round {round}: batch {n} is torn ({found}/{ENTRIES} entries, marker {marker})"
            );
            if found == ENTRIES {
                assert_eq!(
                    present, n,
                    "{backend} every {every}: batch {n} survived but an earlier one did not"
                );
                present += 1;
                assert_eq!(
                    store.get(Namespace::TrieNodes, &key(n * ENTRIES)).expect("read"),
                    Some(value(n * ENTRIES, 300))
                );
            }
        }
        assert_eq!(
            store.count(Namespace::TrieNodes).expect("count"),
            present * ENTRIES,
            "no entries beyond the batches checked"
        );

        // What the durability setting promised to keep: every acknowledged batch up to the last
        // durable one (for redb periodic); every acknowledged batch (for immediate, and for fjall,
        // whose non-durable batches still reach the operating system before `write` returns).
        let promised = match (backend, Durability::periodic(every)) {
            ("redb", Durability::Periodic { every }) => {
                let every = u64::from(every.get());
                // Durable batches are those whose number since this child's open is a multiple of `every`.
                (run.start..=last_acked)
                    .rfind(|n| (n - run.start + 1) % every == 0)
                    .map_or(run.start, |n| n + 1)
            }
            _ => last_acked + 1,
        };
        assert!(
            present >= promised,
            "{backend} every {every}, round {round}: {present} batches survived, {promised} were promised"
        );
        eprintln!(
            "{backend} every {every}, round {round}: killed after {delay:?}; started at {}, acked up to {last_acked}, {present} survived ({promised} promised)",
            run.start
        );
        expected_start = present;
        drop(store);
        #[cfg(feature = "redb")]
        if backend == "redb" {
            let reader = kvdb::RedbStore::open_read_only(&path, kvdb::RedbOptions::new())
                .expect("read-only once a writer repaired and closed it");
            assert_eq!(reader.count(Namespace::Meta).expect("count"), present);
        }
    }
}

#[cfg(feature = "redb")]
#[test]
fn redb_immediate_batches_are_atomic_across_sigkill() {
    crash_rounds("redb", 1);
}

#[cfg(feature = "redb")]
#[test]
fn redb_periodic_batches_are_atomic_across_sigkill() {
    crash_rounds("redb", 8);
}

#[cfg(feature = "fjall")]
#[test]
fn fjall_immediate_batches_are_atomic_across_sigkill() {
    crash_rounds("fjall", 1);
}

#[cfg(feature = "fjall")]
#[test]
fn fjall_periodic_batches_are_atomic_across_sigkill() {
    crash_rounds("fjall", 8);
}
