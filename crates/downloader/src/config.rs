//! Settings of the downloader.

use std::time::Duration;

use state_sync::{StateSyncConfig, DEFAULT_COMMIT_THRESHOLD};

/// Settings of a [`Downloader`](crate::Downloader).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DownloaderConfig {
    /// Bytes processed after which a sync commits (see [`DEFAULT_COMMIT_THRESHOLD`] for why 4 MiB).
    pub commit_threshold: usize,
    /// Lower bound of the request timeout: the peer set derives it from measured round trips, and a
    /// run of fast answers must not make one slow answer a timeout.
    pub min_request_timeout: Duration,
    /// Upper bound of the request timeout: a silent peer holds its share of the work at most this long.
    pub max_request_timeout: Duration,
    /// Stall detection: requests finished with nothing processed, ...
    pub stall_requests: u64,
    /// ... and time without anything processed; both reached ⇒ [`DownloadError::Stalled`](crate::DownloadError).
    /// Also on time alone: nothing processed and no request in flight for this long while work is
    /// pending and peers are registered (they cannot be asked, and no timeout would ever say so) ⇒
    /// [`DownloadError::Stalled`](crate::DownloadError).
    pub stall_time: Duration,
    /// How long the peer set may stay empty during a sync before it fails with
    /// [`DownloadError::NoPeers`](crate::DownloadError).
    pub no_peers_timeout: Duration,
    /// How often the stall detector looks.
    pub stall_check_interval: Duration,
    /// Requests in flight at once across peers.
    pub max_in_flight: usize,
    /// How often a sync logs its progress line.
    pub progress_interval: Duration,
    /// Hedge late requests (see [`StateSyncConfig::hedge`]); on by default.
    pub hedge: bool,
    /// The longest a sync works between durable commits (see
    /// [`StateSyncConfig::durable_interval`]).
    pub durable_interval: Duration,
    /// Keep a Bloom filter of the stored keys in front of the store ([`kvdb::FilteredStore`]), so
    /// the scheduler's "is this child stored?" lookups, nearly all misses in a fresh sync, are
    /// answered from memory (about 1.6 bytes per stored key). The filter is filled from the store
    /// when the first sync starts, one pass over it. On by default.
    pub key_filter: bool,
}

impl Default for DownloaderConfig {
    fn default() -> Self {
        Self {
            commit_threshold: DEFAULT_COMMIT_THRESHOLD,
            min_request_timeout: Duration::from_secs(2),
            max_request_timeout: Duration::from_secs(60),
            stall_requests: 64,
            stall_time: Duration::from_secs(120),
            no_peers_timeout: Duration::from_secs(60),
            stall_check_interval: Duration::from_secs(1),
            max_in_flight: 64,
            progress_interval: Duration::from_secs(8),
            hedge: true,
            durable_interval: state_sync::DEFAULT_DURABLE_INTERVAL,
            key_filter: true,
        }
    }
}

impl DownloaderConfig {
    pub(crate) fn state_sync(&self) -> StateSyncConfig {
        StateSyncConfig {
            commit_threshold: self.commit_threshold,
            max_in_flight: self.max_in_flight,
            progress_interval: self.progress_interval,
            hedge: self.hedge,
            durable_interval: self.durable_interval,
            ..StateSyncConfig::default()
        }
    }

    pub(crate) fn clamp_timeout(&self, timeout: Duration) -> Duration {
        timeout.clamp(self.min_request_timeout, self.max_request_timeout.max(self.min_request_timeout))
    }
}
