//! The downloader handle.

use std::sync::Arc;

use kvdb::KeyValueStore;
use peers::{PeerEventReceiver, PeerSet, H256};
use tracing::debug;

use crate::fetcher::{Fetcher, FetcherShared};
use crate::handle::Job;
use crate::{DownloaderConfig, SyncHandle};

/// Owns the peer set's event stream and the lifetime of state syncs: a cheap-to-clone handle to one
/// state fetcher task, which runs one sync at a time.
///
/// Dropping the last clone stops the task (a running sync ends with
/// [`DownloadError::ShutDown`](crate::DownloadError::ShutDown) after its final commit).
#[derive(Debug, Clone)]
pub struct Downloader {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    shared: Arc<FetcherShared>,
    peers: PeerSet,
}

impl Drop for Inner {
    fn drop(&mut self) {
        self.shared.close();
    }
}

impl Downloader {
    /// Spawns the state fetcher task on the current tokio runtime (panics outside one, as
    /// `tokio::spawn` does). `events` must be the receiver the peers' transports send to.
    pub fn new(
        store: Arc<dyn KeyValueStore>,
        peers: PeerSet,
        events: PeerEventReceiver,
        config: DownloaderConfig,
    ) -> Self {
        let shared = Arc::new(FetcherShared::default());
        let fetcher = Fetcher::new(shared.clone(), store, peers.clone(), events, config);
        tokio::spawn(fetcher.run());
        debug!(target: "downloader", "state fetcher started");
        Self { inner: Arc::new(Inner { shared, peers }) }
    }

    /// Starts syncing `root`; if a sync is running, switches over to the new root (the pivot moved):
    /// the running sync commits what it has complete and ends with
    /// [`DownloadError::Superseded`](crate::DownloadError::Superseded), its in-flight requests are
    /// drained, and the new sync starts, reusing everything committed. A sync asked for and not yet
    /// started is superseded the same way.
    pub fn sync_state(&self, root: H256) -> SyncHandle {
        let job = Job::new(root);
        self.inner.shared.submit(job.clone());
        SyncHandle { job, peers: self.inner.peers.clone() }
    }

    /// The peer set syncs draw from: register peers here.
    pub fn peers(&self) -> &PeerSet {
        &self.inner.peers
    }
}
