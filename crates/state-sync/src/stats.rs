//! Live counters of a sync, its progress snapshots and its final report.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Duration;

use peers::PeerId;
use tokio::time::Instant;
use trie_sync::NodeHash;

use crate::{Checkpoint, DropReason};

/// Counters shared between the sync loop (the only writer) and its handles (readers of snapshots).
#[derive(Debug)]
pub(crate) struct Counters {
    pub(crate) processed: AtomicU64,
    pub(crate) duplicate: AtomicU64,
    pub(crate) unexpected: AtomicU64,
    pub(crate) retried: AtomicU64,
    pub(crate) bytes: AtomicU64,
    pub(crate) pending: AtomicU64,
    pub(crate) queued: AtomicU64,
    pub(crate) in_flight: AtomicU64,
    pub(crate) requests: AtomicU64,
    pub(crate) hedged: AtomicU64,
    /// The highest share of work done estimated so far, as `f64` bits (0 until the first estimate).
    pub(crate) share: AtomicU64,
    /// Entries committed in all (earlier syncs included) as of the last durable commit.
    pub(crate) durable_entries: AtomicU64,
    pub(crate) committed_nodes: AtomicU64,
    pub(crate) committed_codes: AtomicU64,
    pub(crate) committed_bytes: AtomicU64,
    pub(crate) uncommitted_bytes: AtomicU64,
    /// Peers dropped during the sync, by the sync itself or by its tracker.
    pub(crate) dropped: Mutex<Vec<(PeerId, DropReason)>>,
    pub(crate) started: Instant,
}

impl Counters {
    pub(crate) fn new() -> Self {
        Self {
            processed: AtomicU64::new(0),
            duplicate: AtomicU64::new(0),
            unexpected: AtomicU64::new(0),
            retried: AtomicU64::new(0),
            bytes: AtomicU64::new(0),
            pending: AtomicU64::new(0),
            queued: AtomicU64::new(0),
            in_flight: AtomicU64::new(0),
            requests: AtomicU64::new(0),
            hedged: AtomicU64::new(0),
            share: AtomicU64::new(0),
            durable_entries: AtomicU64::new(0),
            committed_nodes: AtomicU64::new(0),
            committed_codes: AtomicU64::new(0),
            committed_bytes: AtomicU64::new(0),
            uncommitted_bytes: AtomicU64::new(0),
            dropped: Mutex::new(Vec::new()),
            started: Instant::now(),
        }
    }

    pub(crate) fn add(counter: &AtomicU64, amount: u64) {
        counter.fetch_add(amount, Ordering::Relaxed);
    }

    pub(crate) fn set(counter: &AtomicU64, value: u64) {
        counter.store(value, Ordering::Relaxed);
    }

    /// Records a dropped peer, once per peer (the first reason wins: ours over the disconnect it causes).
    pub(crate) fn record_drop(&self, peer: &PeerId, reason: DropReason) -> bool {
        let mut dropped = self.dropped.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if dropped.iter().any(|(known, _)| known == peer) {
            return false;
        }
        dropped.push((peer.clone(), reason));
        true
    }

    pub(crate) fn dropped(&self) -> Vec<(PeerId, DropReason)> {
        self.dropped.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).clone()
    }

    pub(crate) fn snapshot(&self, root: NodeHash, resumed: Option<Checkpoint>) -> StateSyncProgress {
        let get = |counter: &AtomicU64| counter.load(Ordering::Relaxed);
        StateSyncProgress {
            root,
            processed: get(&self.processed),
            pending: get(&self.pending),
            queued: get(&self.queued),
            in_flight: get(&self.in_flight),
            retried: get(&self.retried),
            duplicate: get(&self.duplicate),
            unexpected: get(&self.unexpected),
            bytes: get(&self.bytes),
            requests: get(&self.requests),
            hedged: get(&self.hedged),
            share: f64::from_bits(get(&self.share)),
            durable_entries: get(&self.durable_entries),
            committed_nodes: get(&self.committed_nodes),
            committed_codes: get(&self.committed_codes),
            committed_bytes: get(&self.committed_bytes),
            uncommitted_bytes: get(&self.uncommitted_bytes),
            resumed,
            elapsed: self.started.elapsed(),
        }
    }
}

/// A snapshot of a running (or finished) sync.
#[derive(Debug, Clone, PartialEq)]
pub struct StateSyncProgress {
    /// The root being synced.
    pub root: NodeHash,
    /// Entries verified and accepted by the scheduler.
    pub processed: u64,
    /// Entries known to be needed and not yet complete (handed out or not): shrinks to 0 at the end,
    /// but grows while the trie is discovered, so it is a lower bound of the work left.
    pub pending: u64,
    /// Hashes waiting for a peer (go-ethereum's "retry").
    pub queued: u64,
    /// Requests in flight.
    pub in_flight: u64,
    /// Hashes put back in the queue because a peer did not deliver them.
    pub retried: u64,
    /// Blobs delivered again after being processed.
    pub duplicate: u64,
    /// Blobs that hash to nothing requested.
    pub unexpected: u64,
    /// Bytes of the entries processed.
    pub bytes: u64,
    /// Requests sent.
    pub requests: u64,
    /// Of those, hedged requests: items already in flight with a late peer, asked of an idle one.
    pub hedged: u64,
    /// Share of the work done, in `0.0..=1.0`, counting what earlier syncs into the store did: the
    /// scheduler's estimate ([`trie_sync::TrieSync::progress`]), never going back, 1.0 exactly when
    /// the sync is complete. 0.0 until the first estimate.
    pub share: f64,
    /// Entries committed in all, earlier syncs into the store included, as of the last commit made
    /// durable: what a crash of the machine cannot take back (0 until this sync's first one).
    pub durable_entries: u64,
    /// Trie nodes committed by this sync.
    pub committed_nodes: u64,
    /// Code blobs committed by this sync.
    pub committed_codes: u64,
    /// Bytes committed by this sync.
    pub committed_bytes: u64,
    /// Bytes processed since the last commit (what a crash now would lose).
    pub uncommitted_bytes: u64,
    /// The checkpoint found in the store when the sync started: what earlier syncs had done.
    pub resumed: Option<Checkpoint>,
    /// Time since the sync started.
    pub elapsed: Duration,
}

impl StateSyncProgress {
    /// Entries processed per second since the start.
    pub fn rate(&self) -> f64 {
        let seconds = self.elapsed.as_secs_f64();
        if seconds > 0.0 {
            self.processed as f64 / seconds
        } else {
            0.0
        }
    }
}

/// What a completed sync did.
#[derive(Debug, Clone, PartialEq)]
pub struct StateSyncReport {
    /// The final progress snapshot (pending is 0).
    pub progress: StateSyncProgress,
    /// Peers dropped during the sync and why.
    pub peers_dropped: Vec<(PeerId, DropReason)>,
}
