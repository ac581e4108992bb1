//! Faults of the local store, injected through a wrapper (as redb's `tests/crash_consistency.rs`
//! does): a write that panics or fails must end the sync with an error, never hang a handle.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use downloader::{DownloadError, Downloader, DownloaderConfig};
use kvdb::{KeyValueStore, MemoryStore, Namespace, WriteBatch};
use peers::Behaviour;

use crate::fixtures::*;

/// What [`FaultyStore`] does to a write from the chosen one on.
#[derive(Debug, Clone, Copy)]
pub(crate) enum WriteFault {
    /// The write panics (a bug in a backend, or an invariant it asserts).
    Panic,
    /// The write fails with a backend error; nothing of the batch is written.
    Error,
}

/// A store whose `n`th write (counting from 1) and every later one fail as [`WriteFault`] says;
/// reads and earlier writes go to the inner store.
pub(crate) struct FaultyStore {
    inner: MemoryStore,
    fail_from: u64,
    fault: WriteFault,
    writes: AtomicU64,
}

impl FaultyStore {
    pub(crate) fn new(fail_from: u64, fault: WriteFault) -> Arc<Self> {
        Arc::new(Self { inner: MemoryStore::new(), fail_from, fault, writes: AtomicU64::new(0) })
    }

    /// Writes attempted so far (those that failed included).
    pub(crate) fn writes(&self) -> u64 {
        self.writes.load(Ordering::SeqCst)
    }
}

impl KeyValueStore for FaultyStore {
    fn get(&self, namespace: Namespace, key: &[u8]) -> kvdb::Result<Option<Vec<u8>>> {
        self.inner.get(namespace, key)
    }

    fn write(&self, batch: WriteBatch) -> kvdb::Result<()> {
        let n = self.writes.fetch_add(1, Ordering::SeqCst) + 1;
        if n < self.fail_from {
            return self.inner.write(batch);
        }
        match self.fault {
            WriteFault::Panic => panic!("injected panic in write {n}"),
            WriteFault::Error => Err(kvdb::Error::Backend {
                backend: "faulty",
                operation: "write",
                detail: format!("injected failure of write {n}"),
            }),
        }
    }

    fn for_each(&self, namespace: Namespace, visit: &mut dyn FnMut(&[u8], &[u8])) -> kvdb::Result<()> {
        self.inner.for_each(namespace, visit)
    }
}

/// Far more virtual time than any of these syncs needs: reaching it means a handle hung.
const HANG: Duration = Duration::from_secs(3600);

fn config() -> DownloaderConfig {
    DownloaderConfig { commit_threshold: 1, no_peers_timeout: Duration::from_secs(30), ..Default::default() }
}

#[tokio::test(start_paused = true)]
async fn a_panicking_store_write_fails_the_sync_and_every_later_one() {
    let state = synthetic(12, 100);
    let (peers, inbox, _) = serve(&state.store(), &honest(2, Duration::from_millis(50)));
    let local = FaultyStore::new(2, WriteFault::Panic);
    let downloader = Downloader::new(local.clone(), peers, inbox, config());
    let result = tokio::time::timeout(HANG, downloader.sync_state(state.root).wait()).await.expect("no hang");
    match result {
        Err(error @ DownloadError::Internal { .. }) => {
            assert!(error.is_fatal());
            assert!(error.to_string().contains("injected panic in write 2"), "{error}");
        }
        other => panic!("expected Internal, got {other:?}"),
    }
    assert_eq!(local.writes(), 2, "the sync stopped at the panicking write");
    let later = tokio::time::timeout(HANG, downloader.sync_state(state.root).wait()).await.expect("no hang");
    assert!(matches!(later, Err(DownloadError::ShutDown)), "{later:?}");
}

#[tokio::test(start_paused = true)]
async fn a_failed_final_commit_after_cancel_is_reported() {
    let state = synthetic(13, 100);
    let (peers, inbox, handles) =
        serve(&state.store(), &[("honest", Behaviour::honest().with_latency(Duration::from_millis(50)))]);
    // Nothing is committed before the end: the forced commit on cancel is the first write.
    let config = DownloaderConfig { commit_threshold: usize::MAX, ..config() };
    let local = FaultyStore::new(1, WriteFault::Error);
    let downloader = Downloader::new(local.clone(), peers, inbox, config);
    let sync = downloader.sync_state(state.root);
    while sync.progress().processed < 3 {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(handles[0].requests_received() >= 3);
    sync.cancel();
    let result = tokio::time::timeout(HANG, sync.wait()).await.expect("no hang");
    match result {
        Err(error @ DownloadError::Store(_)) => assert!(error.is_fatal()),
        other => panic!("the lost final commit must be reported, got {other:?}"),
    }
    assert_eq!(local.writes(), 1);
}

/// A memory store that counts writes and flushes (each flush makes everything so far durable).
#[derive(Default)]
struct CountingStore {
    inner: MemoryStore,
    writes: AtomicU64,
    flushes: AtomicU64,
}

impl KeyValueStore for CountingStore {
    fn get(&self, namespace: Namespace, key: &[u8]) -> kvdb::Result<Option<Vec<u8>>> {
        self.inner.get(namespace, key)
    }

    fn write(&self, batch: WriteBatch) -> kvdb::Result<()> {
        self.writes.fetch_add(1, Ordering::SeqCst);
        self.inner.write(batch)
    }

    fn flush(&self) -> kvdb::Result<()> {
        self.flushes.fetch_add(1, Ordering::SeqCst);
        self.inner.flush()
    }

    fn for_each(&self, namespace: Namespace, visit: &mut dyn FnMut(&[u8], &[u8])) -> kvdb::Result<()> {
        self.inner.for_each(namespace, visit)
    }
}

/// Whatever the store's own durability setting, the sync makes a commit durable at least every
/// `durable_interval` of work, and its last commit too.
#[tokio::test(start_paused = true)]
async fn commits_are_made_durable_every_few_seconds_of_work() {
    let state = synthetic(13, 400);
    let (peers, inbox, _) = serve(&state.store(), &honest(1, Duration::from_millis(400)));
    let local = Arc::new(CountingStore::default());
    let config = DownloaderConfig { durable_interval: Duration::from_secs(2), ..config() };
    let downloader = Downloader::new(local.clone(), peers, inbox, config);
    let started = tokio::time::Instant::now();
    let report = downloader.sync_state(state.root).wait().await.expect("sync completes");
    let took = started.elapsed();
    let (writes, flushes) = (local.writes.load(Ordering::SeqCst), local.flushes.load(Ordering::SeqCst));
    assert!(took >= Duration::from_secs(6), "long enough to need several: {took:?}");
    assert!(writes > flushes, "not every commit is flushed: {writes} writes, {flushes} flushes");
    let at_least = took.as_secs() / 2;
    assert!(flushes >= at_least, "{flushes} flushes in {took:?} at one per 2 s of work ({report:?})");
    assert!(
        flushes <= writes.min(took.as_secs() / 2 + 2),
        "{flushes} flushes for {writes} writes in {took:?}"
    );
}

/// A memory store that makes every `every`-th write durable on its own (as redb and fjall do under
/// `Durability::Periodic`) and says so, and remembers the entries its checkpoint held at each durable
/// point (those writes, and flushes).
struct PeriodicStore {
    inner: MemoryStore,
    every: u64,
    writes: AtomicU64,
    durable_points: std::sync::Mutex<Vec<u64>>,
}

impl PeriodicStore {
    fn new(every: u64) -> Self {
        Self {
            inner: MemoryStore::new(),
            every,
            writes: AtomicU64::new(0),
            durable_points: Default::default(),
        }
    }

    /// Marks what the store holds now as durable.
    fn durable_point(&self) {
        let checkpoint = downloader::Checkpoint::read(&self.inner).expect("read checkpoint");
        let entries = checkpoint.map_or(0, |checkpoint| checkpoint.entries());
        self.durable_points.lock().unwrap().push(entries);
    }

    fn durable_points(&self) -> Vec<u64> {
        self.durable_points.lock().unwrap().clone()
    }
}

impl KeyValueStore for PeriodicStore {
    fn get(&self, namespace: Namespace, key: &[u8]) -> kvdb::Result<Option<Vec<u8>>> {
        self.inner.get(namespace, key)
    }

    fn write(&self, batch: WriteBatch) -> kvdb::Result<()> {
        self.write_reporting_durability(batch).map(drop)
    }

    fn write_reporting_durability(&self, batch: WriteBatch) -> kvdb::Result<bool> {
        let n = self.writes.fetch_add(1, Ordering::SeqCst) + 1;
        self.inner.write(batch)?;
        let durable = n % self.every == 0;
        if durable {
            self.durable_point();
        }
        Ok(durable)
    }

    fn flush(&self) -> kvdb::Result<()> {
        self.durable_point();
        Ok(())
    }

    fn for_each(&self, namespace: Namespace, visit: &mut dyn FnMut(&[u8], &[u8])) -> kvdb::Result<()> {
        self.inner.for_each(namespace, visit)
    }
}

/// The store's own periodic durable commits count as durable: `durable_entries` (what the CLI's
/// progress record copies) follows each within a sample or two, and is always exactly a durable
/// point, never entries a crash could still take back. The sync itself flushes only its first and
/// last commits here (its time-based flush is an hour away).
#[tokio::test(start_paused = true)]
async fn the_stores_own_durable_commits_are_published_as_durable() {
    let state = synthetic(14, 300);
    let (peers, inbox, _) = serve(&state.store(), &honest(2, Duration::from_millis(50)));
    let local = Arc::new(PeriodicStore::new(3));
    let config = DownloaderConfig { durable_interval: Duration::from_secs(3600), ..config() };
    let downloader = Downloader::new(local.clone(), peers, inbox, config);
    let handle = downloader.sync_state(state.root);
    // (durable_entries shown, the durable points the store had made by then)
    let mut samples: Vec<(u64, u64)> = Vec::new();
    loop {
        tokio::select! {
            _ = handle.finished() => break,
            _ = tokio::time::sleep(Duration::from_millis(20)) => {
                // Read the store after the progress, so a point published is one already made.
                let shown = handle.progress().durable_entries;
                let points = local.durable_points();
                assert!(
                    shown == 0 || points.contains(&shown),
                    "{shown} shown as durable is not a durable point of the store: {points:?}"
                );
                samples.push((shown, points.last().copied().unwrap_or(0)));
            }
        }
    }
    handle.wait().await.expect("sync completes");
    for (index, window) in samples.windows(3).enumerate() {
        let (made, (shown, _)) = (window[0].1, window[2]);
        assert!(
            shown >= made,
            "sample {}: durable point {made} not shown two samples later ({shown})",
            index + 2
        );
    }
    let mut shown: Vec<u64> = samples.iter().map(|(shown, _)| *shown).filter(|&shown| shown > 0).collect();
    shown.dedup();
    assert!(shown.len() >= 5, "the store's own durable points were shown as the sync went: {shown:?}");
    let flushes_and_writes = local.durable_points().len() as u64;
    let writes = local.writes.load(Ordering::SeqCst);
    assert!(writes >= 15, "{writes} writes");
    assert!(flushes_and_writes <= writes / 3 + 2, "no more flushes than the first and the last");
}
