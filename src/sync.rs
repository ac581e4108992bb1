//! `statesync sync`: download a state from peers into a database, resumably.

use std::future::Future;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use downloader::{DownloadError, Downloader, DownloaderConfig, SyncProgress};
use kvdb::{KeyValueStore, Namespace, WriteBatch};
use peers::TcpConfig;
use trie_sync::EMPTY_ROOT;

use crate::store::{record_root, recorded_root};
use crate::{connect_peers, probe_root, ConnectedPeer, Error, PeerAddress, Result, H256};
use eth_peer::EthConfig;

/// How often the observer hears about progress.
const PROGRESS_TICK: Duration = Duration::from_millis(250);

/// Settings of `sync`.
#[derive(Debug, Clone)]
pub struct SyncOptions {
    /// The state root to download.
    pub root: H256,
    /// Peers to download from.
    pub peers: Vec<PeerAddress>,
    /// Network id for wire v1's Status handshake.
    pub network_id: u64,
    /// Who we are to RLPx peers and the chain we meet them on; needed when any peer is RLPx.
    pub eth: Option<EthConfig>,
    /// Where to keep the [`ProgressRecord`](crate::ProgressRecord) (beside the database): read at the
    /// start to say what was recovered, updated at every durable commit. `None`: no record.
    pub progress_record: Option<PathBuf>,
    /// Request sizing, timeouts, commit threshold, stall detection.
    pub downloader: DownloaderConfig,
}

/// A peer dropped during the sync, and why.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct DroppedPeer {
    /// The peer (its address).
    pub peer: String,
    /// Why it was dropped.
    pub reason: String,
}

/// What a complete sync did.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct SyncSummary {
    /// The state root, `0x` and 64 hex digits.
    pub root: String,
    /// Whether the database already held the whole state (nothing was fetched, no peer contacted).
    pub already_complete: bool,
    /// Trie nodes fetched and stored.
    pub nodes: u64,
    /// Code blobs fetched and stored.
    pub codes: u64,
    /// Bytes stored.
    pub bytes: u64,
    /// Blobs received again after being processed.
    pub duplicate: u64,
    /// Blobs that hashed to nothing requested (a peer lying or confused).
    pub unexpected: u64,
    /// Hashes asked again after a peer failed to deliver them.
    pub retried: u64,
    /// Requests sent.
    pub requests: u64,
    /// Of those, hedged requests: hashes in flight with a late peer, asked of an idle one too.
    pub hedged: u64,
    /// Entries an earlier, interrupted sync into the same database had already committed.
    pub resumed_from: u64,
    /// How long the download took.
    #[serde(serialize_with = "crate::report::serialize_secs")]
    pub elapsed: Duration,
    /// Peers connected at the start.
    pub peers_connected: usize,
    /// Who they are: id, address and (RLPx) the client they run.
    pub peers: Vec<ConnectedPeer>,
    /// Peers that could not be connected to, and why.
    pub peers_unreachable: Vec<String>,
    /// Peers dropped during the sync, and why.
    pub peers_dropped: Vec<DroppedPeer>,
    /// What `--repair` found damaged and removed before the sync (the caller fills it in; see
    /// [`repair`](crate::repair)).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub repair: Option<crate::RepairReport>,
    /// For a resumed sync with a progress record: what the database held against what the last run
    /// reported durable.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub recovery: Option<crate::Recovery>,
}

/// What an observer of a running sync is shown, a few times a second.
#[derive(Debug, Clone, PartialEq)]
pub struct SyncStatus {
    /// The downloader's counters.
    pub progress: SyncProgress,
    /// Share of the work done (the downloader's [`SyncProgress::share`]), once estimated.
    pub share_done: Option<f64>,
}

/// Downloads the state `options.root` into `store` from `options.peers`, calling `observe` with its
/// progress, until complete or until `interrupt` resolves (then what is complete stays committed and
/// the error is [`Error::Interrupted`]).
///
/// If `store` already holds the root node, the state is complete (sync commits a node only after its
/// whole subtrie), so nothing is fetched and no peer is contacted.
///
/// Errors: [`Error::NoPeers`] if no peer can be connected to, [`Error::RootUnavailable`] if none has
/// the root (both before anything is written), [`Error::Download`] if the sync fails midway.
pub async fn sync(
    store: Arc<dyn KeyValueStore>,
    options: &SyncOptions,
    observe: &mut (dyn FnMut(&SyncStatus) + Send),
    interrupt: impl Future<Output = ()>,
) -> Result<SyncSummary> {
    let root = options.root;
    let started = Instant::now();
    if root == EMPTY_ROOT || store.contains(Namespace::TrieNodes, root.as_bytes())? {
        if recorded_root(store.as_ref())? != Some(root) {
            let mut batch = WriteBatch::new();
            record_root(&mut batch, root);
            store.write(batch)?;
            store.flush()?;
        }
        return Ok(SyncSummary::already_complete(root, started.elapsed()));
    }

    let recovery = crate::check_recovery(store.as_ref(), root, options.progress_record.as_ref())?;
    let tcp = TcpConfig { network_id: options.network_id, ..TcpConfig::default() };
    let mut peers = connect_peers(&options.peers, &tcp, options.eth.as_ref()).await?;
    probe_root(&mut peers, root).await?;
    let peers_connected = peers.set.len();
    tracing::info!(target: "statesync::sync", ?root, peers = peers_connected, "syncing");

    let downloader = Downloader::new(store.clone(), peers.set, peers.events, options.downloader.clone());
    let handle = downloader.sync_state(root);
    let mut ticker = tokio::time::interval(PROGRESS_TICK);
    let mut last_recorded = 0;
    let mut interrupted = false;
    tokio::pin!(interrupt);
    loop {
        tokio::select! {
            _ = handle.finished() => break,
            _ = &mut interrupt, if !interrupted => {
                tracing::warn!(target: "statesync::sync", "interrupted: committing what is complete");
                interrupted = true;
                handle.cancel();
            }
            _ = ticker.tick() => {
                let progress = handle.progress();
                if progress.durable_entries > last_recorded {
                    last_recorded = progress.durable_entries;
                    record_progress(options, root, last_recorded);
                }
                let share_done = (progress.share > 0.0).then_some(progress.share);
                observe(&SyncStatus { progress, share_done });
            }
        }
    }
    // The final commit (made whatever ended the sync) is durable: record it before anything else.
    let last = handle.progress();
    if last.durable_entries > last_recorded {
        record_progress(options, root, last.durable_entries);
    }
    observe(&SyncStatus { progress: last, share_done: Some(1.0) });
    let report = match handle.wait().await {
        Ok(report) => report,
        Err(DownloadError::Cancelled { .. }) if interrupted => return Err(Error::Interrupted { root }),
        Err(DownloadError::NodeUnavailable { hash, peers, .. }) if hash == root => {
            return Err(Error::RootUnavailable { root, peers });
        }
        Err(error) => return Err(Error::Download(Box::new(error))),
    };
    let mut batch = WriteBatch::new();
    record_root(&mut batch, root);
    store.write(batch)?;
    // Settled, not only flushed: a complete state is kept for a while, and fjall's journals would
    // otherwise stay beside its tables.
    store.compact()?;
    Ok(SyncSummary {
        root: format!("{root:?}"),
        already_complete: false,
        nodes: report.nodes,
        codes: report.codes,
        bytes: report.bytes,
        duplicate: report.duplicate,
        unexpected: report.unexpected,
        retried: report.retried,
        requests: report.requests,
        hedged: report.hedged,
        resumed_from: report.resumed.map_or(0, |checkpoint| checkpoint.entries()),
        elapsed: report.elapsed,
        peers_connected,
        peers: peers.connected,
        peers_unreachable: peers.failed,
        peers_dropped: report
            .peers_dropped
            .iter()
            .map(|(peer, reason)| DroppedPeer { peer: peer.to_string(), reason: reason.to_string() })
            .collect(),
        repair: None,
        recovery,
    })
}

/// Updates the progress record, if the sync keeps one (a failure only costs a later message).
fn record_progress(options: &SyncOptions, root: H256, durable_entries: u64) {
    if let Some(path) = &options.progress_record {
        if let Err(error) = (crate::ProgressRecord { root, durable_entries }).write(path) {
            tracing::debug!(target: "statesync::sync", %error, path = %path.display(), "cannot update the progress record");
        }
    }
}

impl SyncSummary {
    fn already_complete(root: H256, elapsed: Duration) -> Self {
        SyncSummary {
            root: format!("{root:?}"),
            already_complete: true,
            nodes: 0,
            codes: 0,
            bytes: 0,
            duplicate: 0,
            unexpected: 0,
            retried: 0,
            requests: 0,
            hedged: 0,
            resumed_from: 0,
            elapsed,
            peers_connected: 0,
            peers: Vec::new(),
            peers_unreachable: Vec::new(),
            peers_dropped: Vec::new(),
            repair: None,
            recovery: None,
        }
    }
}
