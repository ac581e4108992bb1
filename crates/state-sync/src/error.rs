//! Errors of one state sync.

use trie_sync::{NodeHash, SyncError};

/// Why a state sync ended without completing.
///
/// Exhaustive on purpose: the downloader maps every variant, and a new one should make it decide.
#[derive(Debug, thiserror::Error)]
pub enum StateSyncError {
    /// The sync was cancelled through its handle (or its tracker went away for good).
    #[error("state sync cancelled")]
    Cancelled,
    /// Every connected peer was asked for this hash and none delivered it: nobody we know has it.
    #[error("node {hash:?} failed with every connected peer ({tries} tries, {peers} peers)")]
    NodeUnavailable {
        /// The hash nobody delivered.
        hash: NodeHash,
        /// Peers it was tried with (those still connected and those gone).
        tries: usize,
        /// Peers connected when the sync gave up.
        peers: usize,
    },
    /// A peer sent bytes that hash to this requested node but are not a valid trie node (or hold an
    /// account that does not decode). No peer can forge bytes with a given hash, so the state itself
    /// is corrupt: the sync ends at the first such blob, and the peer that relayed it is not blamed.
    #[error("state is corrupt at {hash:?}: {source}")]
    CorruptState {
        /// The node that does not decode.
        hash: NodeHash,
        /// What the scheduler found wrong with it.
        source: SyncError,
    },
    /// The store failed; what was committed before stays valid (the batch is atomic).
    #[error("store: {0}")]
    Store(#[from] kvdb::Error),
    /// The scheduler refused to go on for a reason other than the store (a bug rather than bad data).
    #[error("scheduler: {0}")]
    Scheduler(SyncError),
}

impl StateSyncError {
    /// Whether the sync ended because it was asked to.
    pub fn is_cancelled(&self) -> bool {
        matches!(self, StateSyncError::Cancelled)
    }

    /// Whether trying again later (with other peers) could succeed: the data was merely unavailable.
    pub fn is_retryable(&self) -> bool {
        matches!(self, StateSyncError::NodeUnavailable { .. })
    }

    /// Whether the local database is at fault (trying again with other peers will not help).
    pub fn is_local(&self) -> bool {
        matches!(self, StateSyncError::Store(_) | StateSyncError::Scheduler(_))
    }
}

impl From<SyncError> for StateSyncError {
    fn from(error: SyncError) -> Self {
        match error {
            SyncError::Store(error) => StateSyncError::Store(error),
            other => StateSyncError::Scheduler(other),
        }
    }
}

/// The result type of this crate.
pub type Result<T, E = StateSyncError> = std::result::Result<T, E>;
