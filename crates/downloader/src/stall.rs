//! The stall detector: a sync that makes no progress for long enough fails with a clear error.

use std::time::Duration;

use peers::H256;
use tokio::time::Instant;

use crate::{DownloadError, DownloaderConfig};

/// What the fetcher sees of a sync at one stall check.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Observed {
    /// Entries processed by the sync so far.
    pub(crate) processed: u64,
    /// Requests finalized by the fetcher so far (a running total over syncs).
    pub(crate) finalized: u64,
    /// Registered peers.
    pub(crate) peers: usize,
    /// Requests handed out by the sync and not yet back to it.
    pub(crate) in_flight: u64,
    /// Hashes the sync still has to fetch.
    pub(crate) pending: u64,
}

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
    /// Since when nothing has been in flight while work was pending and peers were registered: the
    /// peers cannot be asked (stuck busy), and no request will ever time out to say so.
    idle_since: Option<Instant>,
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
            idle_since: None,
        }
    }

    /// An error if the sync has stalled: no peers for the no-peers timeout; nothing processed over
    /// both the stall request count and the stall time; or nothing in flight for the stall time
    /// while work is pending and peers are registered.
    pub(crate) fn check(&mut self, root: H256, observed: Observed, now: Instant) -> Option<DownloadError> {
        let Observed { processed, finalized, peers, in_flight, pending } = observed;
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
        if peers > 0 && in_flight == 0 && pending > 0 {
            let since = *self.idle_since.get_or_insert(now);
            if now - since >= self.stall_time && idle >= self.stall_time {
                return Some(DownloadError::Stalled { root, requests, idle });
            }
        } else {
            self.idle_since = None;
        }
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

    /// A sync with a request in flight and work pending.
    fn busy(processed: u64, finalized: u64, peers: usize) -> Observed {
        Observed { processed, finalized, peers, in_flight: 1, pending: 10 }
    }

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
        assert!(detector.check(root, busy(0, 5, 1), start + Duration::from_secs(5)).is_none(), "too soon");
        assert!(
            detector.check(root, busy(0, 2, 1), start + Duration::from_secs(20)).is_none(),
            "too few requests"
        );
        assert!(
            detector.check(root, busy(1, 5, 1), start + Duration::from_secs(21)).is_none(),
            "progress resets"
        );
        assert!(detector.check(root, busy(1, 9, 1), start + Duration::from_secs(25)).is_none());
        let stalled = detector.check(root, busy(1, 9, 1), start + Duration::from_secs(31));
        assert!(matches!(stalled, Some(DownloadError::Stalled { requests: 4, .. })), "{stalled:?}");
    }

    #[tokio::test(start_paused = true)]
    async fn an_empty_peer_set_times_out() {
        let config =
            DownloaderConfig { no_peers_timeout: Duration::from_secs(30), ..DownloaderConfig::default() };
        let start = Instant::now();
        let mut detector = StallDetector::new(&config, 0);
        assert!(detector.check(H256::zero(), busy(0, 0, 0), start).is_none());
        assert!(
            detector.check(H256::zero(), busy(0, 0, 1), start + Duration::from_secs(20)).is_none(),
            "a peer came"
        );
        assert!(detector.check(H256::zero(), busy(0, 0, 0), start + Duration::from_secs(25)).is_none());
        let error = detector.check(H256::zero(), busy(0, 0, 0), start + Duration::from_secs(55));
        assert!(matches!(error, Some(DownloadError::NoPeers { .. })), "{error:?}");
    }

    #[tokio::test(start_paused = true)]
    async fn nothing_in_flight_with_work_pending_and_peers_stalls_on_time_alone() {
        let config = DownloaderConfig { stall_time: Duration::from_secs(10), ..DownloaderConfig::default() };
        let root = H256::zero();
        let start = Instant::now();
        let stuck = Observed { processed: 0, finalized: 0, peers: 1, in_flight: 0, pending: 10 };
        let mut detector = StallDetector::new(&config, 0);
        assert!(detector.check(root, stuck, start + Duration::from_secs(1)).is_none());
        assert!(
            detector.check(root, busy(0, 0, 1), start + Duration::from_secs(5)).is_none(),
            "a request in flight resets it"
        );
        assert!(detector.check(root, stuck, start + Duration::from_secs(6)).is_none());
        assert!(
            detector.check(root, stuck, start + Duration::from_secs(11)).is_none(),
            "stuck since 6 s, not since 1 s"
        );
        assert!(
            detector.check(root, Observed { pending: 0, ..stuck }, start + Duration::from_secs(12)).is_none(),
            "nothing pending: nothing to wait for"
        );
        assert!(detector.check(root, stuck, start + Duration::from_secs(13)).is_none());
        let stalled = detector.check(root, stuck, start + Duration::from_secs(23));
        assert!(matches!(stalled, Some(DownloadError::Stalled { requests: 0, .. })), "{stalled:?}");
    }
}
