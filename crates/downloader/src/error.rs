//! Errors of the downloader.

use std::time::Duration;

use peers::H256;
use state_sync::StateSyncError;
use trie_sync::{NodeHash, SyncError};

/// Why a sync started with [`Downloader::sync_state`](crate::Downloader::sync_state) did not complete.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DownloadError {
    /// [`SyncHandle::cancel`](crate::SyncHandle::cancel) was called.
    #[error("sync of {root:?} cancelled")]
    Cancelled {
        /// The root that was being synced.
        root: H256,
    },
    /// Another root was asked for while this one ran (the pivot moved); what this sync committed is
    /// reused by the next.
    #[error("sync of {root:?} superseded by {by:?}")]
    Superseded {
        /// The root that was being synced.
        root: H256,
        /// The root synced instead.
        by: H256,
    },
    /// No peer was connected for [`DownloaderConfig::no_peers_timeout`](crate::DownloaderConfig).
    #[error("sync of {root:?}: no peers for {waited:?}")]
    NoPeers {
        /// The root that was being synced.
        root: H256,
        /// How long the peer set was empty.
        waited: Duration,
    },
    /// Nothing was processed over [`DownloaderConfig::stall_requests`](crate::DownloaderConfig)
    /// requests and [`DownloaderConfig::stall_time`](crate::DownloaderConfig).
    #[error("sync of {root:?} stalled: nothing processed in {requests} requests over {idle:?}")]
    Stalled {
        /// The root that was being synced.
        root: H256,
        /// Requests finished since the last progress.
        requests: u64,
        /// Time since the last progress.
        idle: Duration,
    },
    /// Every connected peer failed to deliver this node.
    #[error(
        "sync of {root:?}: node {hash:?} failed with every connected peer ({tries} tries, {peers} peers)"
    )]
    NodeUnavailable {
        /// The root that was being synced.
        root: H256,
        /// The node nobody delivered.
        hash: NodeHash,
        /// Peers it was tried with.
        tries: usize,
        /// Peers connected at the end.
        peers: usize,
    },
    /// A peer sent bytes that hash to this requested node but do not decode as one (or hold an
    /// account that does not decode). No peer can forge bytes with a given hash, so the state itself
    /// is corrupt: the sync ends at the first such blob, without blaming the peer.
    #[error("sync of {root:?}: state is corrupt at {hash:?}: {source}")]
    CorruptState {
        /// The root that was being synced.
        root: H256,
        /// The node.
        hash: NodeHash,
        /// What is wrong with it.
        source: SyncError,
    },
    /// The local store failed.
    #[error("store: {0}")]
    Store(#[from] kvdb::Error),
    /// The scheduler refused to go on (a bug rather than bad data).
    #[error("scheduler: {0}")]
    Scheduler(SyncError),
    /// Every [`Downloader`](crate::Downloader) handle was dropped (or the runtime is shutting down)
    /// before the sync completed, or the state fetcher task had stopped on an
    /// [`Internal`](DownloadError::Internal) error.
    #[error("the downloader shut down")]
    ShutDown,
    /// The state fetcher task stopped on a panic (a bug, or a store whose write panicked) while this
    /// sync ran. The downloader is closed: every later sync ends with
    /// [`ShutDown`](DownloadError::ShutDown). What was committed before stays valid.
    #[error("internal error, the downloader stopped: {message}")]
    Internal {
        /// What panicked, with the panic's message when it had one.
        message: String,
    },
}

impl DownloadError {
    /// Whether the sync stopped because it was asked to (cancelled, superseded, shut down).
    pub fn is_cancelled(&self) -> bool {
        matches!(
            self,
            DownloadError::Cancelled { .. } | DownloadError::Superseded { .. } | DownloadError::ShutDown
        )
    }

    /// Whether a later attempt, with other or more peers, may succeed.
    pub fn is_retryable(&self) -> bool {
        matches!(
            self,
            DownloadError::NoPeers { .. }
                | DownloadError::Stalled { .. }
                | DownloadError::NodeUnavailable { .. }
        )
    }

    /// Whether the local database, the state itself or the downloader is broken: retrying will not
    /// help.
    pub fn is_fatal(&self) -> bool {
        matches!(
            self,
            DownloadError::Store(_)
                | DownloadError::Scheduler(_)
                | DownloadError::CorruptState { .. }
                | DownloadError::Internal { .. }
        )
    }

    /// The hash of the node the error is about, if any.
    pub fn hash(&self) -> Option<NodeHash> {
        match self {
            DownloadError::NodeUnavailable { hash, .. } | DownloadError::CorruptState { hash, .. } => {
                Some(*hash)
            }
            _ => None,
        }
    }

    pub(crate) fn from_state_sync(root: H256, error: StateSyncError) -> Self {
        match error {
            StateSyncError::Cancelled => DownloadError::Cancelled { root },
            StateSyncError::NodeUnavailable { hash, tries, peers } => {
                DownloadError::NodeUnavailable { root, hash, tries, peers }
            }
            StateSyncError::CorruptState { hash, source } => {
                DownloadError::CorruptState { root, hash, source }
            }
            StateSyncError::Store(error) => DownloadError::Store(error),
            StateSyncError::Scheduler(error) => DownloadError::Scheduler(error),
        }
    }
}

/// The result type of this crate.
pub type Result<T, E = DownloadError> = std::result::Result<T, E>;
