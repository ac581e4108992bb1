//! Settings of a state sync.

use std::time::Duration;

/// Default [`StateSyncConfig::commit_threshold`]: 4 MiB.
///
/// From `crates/kvdb/benches/bulk_insert.rs` (redb, durable every batch): a batch of ~325 KiB costs
/// ~21 µs per entry, ~3.2 MiB ~15 µs, ~32 MiB ~9 µs. Batches of a few MiB get most of the gain over
/// go-ethereum's 100 KiB while keeping one write at ~150 ms (the loop waits for it) and the window a
/// crash loses small; larger batches gain more throughput at the cost of longer pauses and more memory.
pub const DEFAULT_COMMIT_THRESHOLD: usize = 4 << 20;

/// The default [`StateSyncConfig::durable_interval`]: a few seconds of work, against one fsync.
pub const DEFAULT_DURABLE_INTERVAL: Duration = Duration::from_secs(5);

/// Settings of one [`StateSync`](crate::StateSync).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StateSyncConfig {
    /// Bytes of entries processed since the last commit after which the sync commits (go-ethereum's
    /// ideal batch size): bounds memory and what a crash loses, against per-write overhead.
    pub commit_threshold: usize,
    /// Requests in flight at once, across peers (each peer has at most one): bounds the data in
    /// transit and what a pivot move discards.
    pub max_in_flight: usize,
    /// How often the progress line is logged.
    pub progress_interval: Duration,
    /// Finished requests buffered between the tracker and the sync.
    pub channel_capacity: usize,
    /// The scheduler's per-depth fetch cap (see [`trie_sync::DEFAULT_MAX_FETCHES_PER_DEPTH`]).
    pub max_fetches_per_depth: usize,
    /// Hedge late requests: when every hash left is in flight and a peer is idle, ask it for the
    /// hashes of a request older than [`PeerSet::hedge_delay`](peers::PeerSet::hedge_delay), so a
    /// silent peer costs a high percentile of the round trips rather than a request timeout.
    pub hedge: bool,
    /// The longest a sync works between durable commits: a commit at least this long after the last
    /// durable one is flushed, whatever the store's durability setting, so a sync interrupted
    /// (killed, or the machine lost) more often than the store's periodic durability would allow
    /// still advances. A crash loses at most this much work, plus one commit.
    pub durable_interval: Duration,
}

impl Default for StateSyncConfig {
    fn default() -> Self {
        Self {
            commit_threshold: DEFAULT_COMMIT_THRESHOLD,
            max_in_flight: 64,
            progress_interval: Duration::from_secs(8),
            channel_capacity: 64,
            max_fetches_per_depth: trie_sync::DEFAULT_MAX_FETCHES_PER_DEPTH,
            hedge: true,
            durable_interval: DEFAULT_DURABLE_INTERVAL,
        }
    }
}
