//! The stall detector: a sync that makes no progress for long enough fails with a clear error.

use std::time::Duration;

use peers::H256;
use tokio::time::Instant;

use crate::{DownloadError, DownloaderConfig};

/// Watches a sync's processed count, the requests finished and the peer count.
#[derive(Debug)]
pub(crate) struct StallDetector {
    stall_requests: u64,
    stall_time: Duration,
    no_peers_timeout: Duration,
    /// Processed count at the last progress.
    processed: u64,
    /// Requests finalized (a running total) at the last progress.
    finalized_at_progress: u64,
    last_progress: Instant,
    /// Since when the peer set has been empty.
    no_peers_since: Option<Instant>,
}

impl StallDetector {
    pub(crate) fn new(config: &DownloaderConfig, finalized: u64) -> Self {
        Self {
            stall_requests: config.stall_requests,
            stall_time: config.stall_time,
            no_peers_timeout: config.no_peers_timeout,
            processed: 0,
            finalized_at_progress: finalized,
            last_progress: Instant::now(),
            no_peers_since: None,
        }
    }

    /// An error if the sync has stalled: no peers for the no-peers timeout, or nothing processed over
    /// both the stall request count and the stall time.
    pub(crate) fn check(
        &mut self,
        root: H256,
        processed: u64,
        finalized: u64,
        peers: usize,
        now: Instant,
    ) -> Option<DownloadError> {
        if processed > self.processed {
            self.processed = processed;
            self.finalized_at_progress = finalized;
            self.last_progress = now;
        }
        if peers == 0 {
            let since = *self.no_peers_since.get_or_insert(now);
            let waited = now - since;
            if waited >= self.no_peers_timeout {
                return Some(DownloadError::NoPeers { root, waited });
            }
        } else {
            self.no_peers_since = None;
        }
        let requests = finalized - self.finalized_at_progress;
        let idle = now - self.last_progress;
        (requests >= self.stall_requests && idle >= self.stall_time).then_some(DownloadError::Stalled {
            root,
            requests,
            idle,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn needs_both_requests_and_time_without_progress() {
        let config = DownloaderConfig {
            stall_requests: 3,
            stall_time: Duration::from_secs(10),
            ..DownloaderConfig::default()
        };
        let root = H256::zero();
        let start = Instant::now();
        let mut detector = StallDetector::new(&config, 0);
        assert!(detector.check(root, 0, 5, 1, start + Duration::from_secs(5)).is_none(), "too soon");
        assert!(detector.check(root, 0, 2, 1, start + Duration::from_secs(20)).is_none(), "too few requests");
        assert!(detector.check(root, 1, 5, 1, start + Duration::from_secs(21)).is_none(), "progress resets");
        assert!(detector.check(root, 1, 9, 1, start + Duration::from_secs(25)).is_none());
        let stalled = detector.check(root, 1, 9, 1, start + Duration::from_secs(31));
        assert!(matches!(stalled, Some(DownloadError::Stalled { requests: 4, .. })), "{stalled:?}");
    }

    #[tokio::test(start_paused = true)]
    async fn an_empty_peer_set_times_out() {
        let config =
            DownloaderConfig { no_peers_timeout: Duration::from_secs(30), ..DownloaderConfig::default() };
        let start = Instant::now();
        let mut detector = StallDetector::new(&config, 0);
        assert!(detector.check(H256::zero(), 0, 0, 0, start).is_none());
        assert!(
            detector.check(H256::zero(), 0, 0, 1, start + Duration::from_secs(20)).is_none(),
            "a peer came"
        );
        assert!(detector.check(H256::zero(), 0, 0, 0, start + Duration::from_secs(25)).is_none());
        let error = detector.check(H256::zero(), 0, 0, 0, start + Duration::from_secs(55));
        assert!(matches!(error, Some(DownloadError::NoPeers { .. })), "{error:?}");
    }
}
