//! What [`Downloader::sync_state`](crate::Downloader::sync_state) returns: a handle to one sync, its
//! progress and its report.

use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use peers::{PeerId, PeerSet, H256};
use state_sync::{Checkpoint, DropReason, StateSyncHandle, StateSyncReport};
use tokio::sync::watch;
use tokio::time::Instant;

use crate::DownloadError;

/// One requested sync, shared by its [`SyncHandle`] and the state fetcher task.
#[derive(Debug)]
pub(crate) struct Job {
    pub(crate) root: H256,
    /// Set once by [`SyncHandle::cancel`].
    pub(crate) cancel: watch::Sender<bool>,
    /// Set once the result is in `result`.
    done: watch::Sender<bool>,
    result: Mutex<Option<Result<SyncReport, DownloadError>>>,
    /// The running sync, once the fetcher has started it (kept after it ends, for its counters).
    sync: Mutex<Option<StateSyncHandle>>,
    requested: Instant,
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl Job {
    pub(crate) fn new(root: H256) -> Arc<Self> {
        Arc::new(Self {
            root,
            cancel: watch::channel(false).0,
            done: watch::channel(false).0,
            result: Mutex::new(None),
            sync: Mutex::new(None),
            requested: Instant::now(),
        })
    }

    pub(crate) fn is_cancelled(&self) -> bool {
        *self.cancel.borrow()
    }

    pub(crate) fn set_sync(&self, sync: StateSyncHandle) {
        *lock(&self.sync) = Some(sync);
    }

    /// Publishes the result; only the first call counts.
    pub(crate) fn finish(&self, result: Result<SyncReport, DownloadError>) {
        if *self.done.borrow() {
            return;
        }
        *lock(&self.result) = Some(result);
        self.done.send_replace(true);
    }
}

/// A sync started by [`Downloader::sync_state`](crate::Downloader::sync_state): wait for it, cancel it,
/// watch its progress.
#[derive(Debug)]
pub struct SyncHandle {
    pub(crate) job: Arc<Job>,
    pub(crate) peers: PeerSet,
}

impl SyncHandle {
    /// The root this sync is for.
    pub fn root(&self) -> H256 {
        self.job.root
    }

    /// Waits for the sync to end: the report of a complete sync, or why it did not complete.
    pub async fn wait(self) -> Result<SyncReport, DownloadError> {
        self.finished().await;
        lock(&self.job.result).take().unwrap_or(Err(DownloadError::ShutDown))
    }

    /// Waits for the sync to end without taking its result (then [`progress`](Self::progress) gives the
    /// final counters, and [`wait`](Self::wait) returns at once).
    pub async fn finished(&self) {
        let mut done = self.job.done.subscribe();
        // The sender lives in the job, which this handle keeps alive: no error.
        let _ = done.wait_for(|done| *done).await;
    }

    /// Whether the sync has ended.
    pub fn is_finished(&self) -> bool {
        *self.job.done.borrow()
    }

    /// Stops the sync: it commits what is complete and ends with [`DownloadError::Cancelled`].
    /// Idempotent; does nothing once the sync has ended.
    pub fn cancel(&self) {
        self.job.cancel.send_replace(true);
    }

    /// A live snapshot (cheap: atomic counters).
    pub fn progress(&self) -> SyncProgress {
        let peers = self.peers.len();
        match lock(&self.job.sync).as_ref() {
            Some(sync) => {
                let progress = sync.progress();
                SyncProgress {
                    root: self.job.root,
                    started: true,
                    processed: progress.processed,
                    pending: progress.pending,
                    queued: progress.queued,
                    in_flight: progress.in_flight,
                    retried: progress.retried,
                    hedged: progress.hedged,
                    share: progress.share,
                    durable_entries: progress.durable_entries,
                    uncommitted_bytes: progress.uncommitted_bytes,
                    duplicate: progress.duplicate,
                    unexpected: progress.unexpected,
                    bytes: progress.bytes,
                    committed: progress.committed_nodes + progress.committed_codes,
                    resumed_from: progress.resumed.map_or(0, |checkpoint| checkpoint.entries()),
                    rate: progress.rate(),
                    peers,
                    elapsed: progress.elapsed,
                }
            }
            None => SyncProgress {
                root: self.job.root,
                started: false,
                processed: 0,
                pending: 0,
                queued: 0,
                in_flight: 0,
                retried: 0,
                hedged: 0,
                share: 0.0,
                durable_entries: 0,
                uncommitted_bytes: 0,
                duplicate: 0,
                unexpected: 0,
                bytes: 0,
                committed: 0,
                resumed_from: 0,
                rate: 0.0,
                peers,
                elapsed: self.job.requested.elapsed(),
            },
        }
    }
}

/// A snapshot of a sync.
#[derive(Debug, Clone, PartialEq)]
pub struct SyncProgress {
    /// The root being synced.
    pub root: H256,
    /// Whether the fetcher has started it (a sync waits while the previous one spins down).
    pub started: bool,
    /// Entries (trie nodes and code) verified and accepted.
    pub processed: u64,
    /// Entries known to be needed and not yet complete; it grows while the trie is discovered, so
    /// `processed / (processed + pending)` over-estimates the fraction done early on.
    pub pending: u64,
    /// Hashes waiting for a peer.
    pub queued: u64,
    /// Requests in flight.
    pub in_flight: u64,
    /// Hashes re-queued after a peer failed to deliver them.
    pub retried: u64,
    /// Hedged requests: items in flight with a late peer, asked of an idle one too.
    pub hedged: u64,
    /// Share of the work done, earlier syncs into the store included, in `0.0..=1.0`: never goes
    /// back, 1.0 exactly at completion (see [`state_sync::StateSyncProgress::share`]).
    pub share: f64,
    /// Entries committed in all, earlier syncs included, as of the last durable commit (0 before
    /// the first).
    pub durable_entries: u64,
    /// Bytes verified and not yet handed to the store (held in memory): bounded by the disk
    /// backpressure to about two commit thresholds plus the answers in flight.
    pub uncommitted_bytes: u64,
    /// Blobs received again after being processed.
    pub duplicate: u64,
    /// Blobs that hash to nothing requested.
    pub unexpected: u64,
    /// Bytes of entries processed.
    pub bytes: u64,
    /// Entries committed by this sync.
    pub committed: u64,
    /// Entries committed by earlier syncs into the same store (from the checkpoint).
    pub resumed_from: u64,
    /// Entries processed per second since the start.
    pub rate: f64,
    /// Peers connected.
    pub peers: usize,
    /// Time since the sync started (or, before that, since it was requested).
    pub elapsed: Duration,
}

/// What a completed sync did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyncReport {
    /// The root synced.
    pub root: H256,
    /// Trie nodes fetched and stored by this sync.
    pub nodes: u64,
    /// Code blobs fetched and stored by this sync.
    pub codes: u64,
    /// Bytes of the entries stored.
    pub bytes: u64,
    /// Entries verified and accepted (equals `nodes + codes` for a sync that ran uninterrupted).
    pub processed: u64,
    /// Blobs received again after being processed.
    pub duplicate: u64,
    /// Blobs that hashed to nothing requested.
    pub unexpected: u64,
    /// Hashes re-queued after a peer failed to deliver them.
    pub retried: u64,
    /// Requests sent.
    pub requests: u64,
    /// Of those, hedged requests (items in flight with a late peer, asked of an idle one too).
    pub hedged: u64,
    /// How long the sync ran.
    pub elapsed: Duration,
    /// Peers dropped during the sync, and why.
    pub peers_dropped: Vec<(PeerId, DropReason)>,
    /// The checkpoint earlier syncs into the store had left, if any (what this one resumed from).
    pub resumed: Option<Checkpoint>,
}

impl SyncReport {
    pub(crate) fn new(report: StateSyncReport) -> Self {
        let progress = report.progress;
        Self {
            root: progress.root,
            nodes: progress.committed_nodes,
            codes: progress.committed_codes,
            bytes: progress.committed_bytes,
            processed: progress.processed,
            duplicate: progress.duplicate,
            unexpected: progress.unexpected,
            retried: progress.retried,
            requests: progress.requests,
            hedged: progress.hedged,
            elapsed: progress.elapsed,
            peers_dropped: report.peers_dropped,
            resumed: progress.resumed,
        }
    }
}
