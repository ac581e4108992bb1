//! Commits overlap the network: the sync keeps delivering while a batch is written, and stops asking
//! for more when the store falls behind, so memory stays bounded.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use downloader::{Downloader, DownloaderConfig, SyncProgress};
use kvdb::{KeyValueStore, MemoryStore, Namespace, WriteBatch};

use crate::fixtures::*;

/// A store whose writes take `delay` (a slow disk), and which says when one is under way.
struct SlowStore {
    inner: MemoryStore,
    delay: Duration,
    writing: AtomicBool,
    writes: AtomicU64,
}

impl KeyValueStore for SlowStore {
    fn get(&self, namespace: Namespace, key: &[u8]) -> kvdb::Result<Option<Vec<u8>>> {
        self.inner.get(namespace, key)
    }

    fn write(&self, batch: WriteBatch) -> kvdb::Result<()> {
        self.writing.store(true, Ordering::SeqCst);
        std::thread::sleep(self.delay);
        let written = self.inner.write(batch);
        self.writes.fetch_add(1, Ordering::SeqCst);
        self.writing.store(false, Ordering::SeqCst);
        written
    }

    fn for_each(&self, namespace: Namespace, visit: &mut dyn FnMut(&[u8], &[u8])) -> kvdb::Result<()> {
        self.inner.for_each(namespace, visit)
    }
}

/// Commit threshold of these syncs: small, so there are many commits.
const THRESHOLD: usize = 128 << 10;

/// Syncs `state` into a store whose writes take `delay`, sampling (write under way, writes done,
/// progress) every 5 ms of real time (the writes sleep for real).
async fn sync_slowly(
    state: &State,
    delay: Duration,
    peers: usize,
) -> (Vec<(bool, u64, SyncProgress)>, Arc<SlowStore>) {
    let source = state.store();
    let (peers, inbox, _) = serve(&source, &honest(peers, Duration::ZERO));
    let local = Arc::new(SlowStore {
        inner: MemoryStore::new(),
        delay,
        writing: AtomicBool::new(false),
        writes: AtomicU64::new(0),
    });
    let config = DownloaderConfig { commit_threshold: THRESHOLD, ..DownloaderConfig::default() };
    let downloader = Downloader::new(local.clone(), peers, inbox, config);
    let handle = downloader.sync_state(state.root);
    let mut samples = Vec::new();
    loop {
        tokio::select! {
            _ = handle.finished() => break,
            _ = tokio::time::sleep(Duration::from_millis(5)) => {
                let writing = local.writing.load(Ordering::SeqCst);
                samples.push((writing, local.writes.load(Ordering::SeqCst), handle.progress()));
            }
        }
    }
    handle.wait().await.expect("the sync completes");
    assert_equals_source(&local.inner, state);
    (samples, local)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sync_keeps_delivering_while_a_slow_write_is_in_flight() {
    let state = synthetic(51, 3_000);
    let (samples, local) = sync_slowly(&state, Duration::from_millis(200), 2).await;
    assert!(local.writes.load(Ordering::SeqCst) >= 3, "several commits");
    // Two samples inside one write (under way in both, no write finished between them) with more
    // entries processed in the second: the loop went on while the store was busy.
    let overlapped = samples.windows(2).any(|pair| {
        let ((w0, n0, p0), (w1, n1, p1)) = (&pair[0], &pair[1]);
        *w0 && *w1 && n0 == n1 && p1.processed > p0.processed
    });
    assert!(overlapped, "no delivery was processed while a write was under way");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn memory_stays_bounded_when_the_store_is_slower_than_the_peers() {
    let state = synthetic(52, 2_500);
    let (samples, _) = sync_slowly(&state, Duration::from_secs(1), 4).await;
    let most = samples.iter().map(|(_, _, progress)| progress.uncommitted_bytes).max().unwrap_or(0);
    // A full batch waiting beside the one being written, plus what the requests already in flight
    // bring once it is full (4 peers, one request each, of at most 384 of these blobs, ~250 bytes
    // on average): about 3.5 thresholds. Without the backpressure a second of writing lets the
    // peers pile up several times that.
    let bound = 4 * THRESHOLD as u64;
    assert!(most <= bound, "{most} bytes held uncommitted, more than {bound}");
    assert!(most >= THRESHOLD as u64, "the store did fall behind: {most}");
}
