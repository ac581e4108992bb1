//! Before a sync: connecting to the peers given, and checking that one of them has the root.

use std::collections::HashMap;
use std::net::{SocketAddr, ToSocketAddrs};
use std::time::Duration;

use peers::{
    peer_events, Exchange, PeerEventReceiver, PeerId, PeerRequest, PeerSet, Reply, TcpConfig, TcpPeer,
};
use tokio::task::JoinSet;
use trie_sync::keccak256;

use crate::{Error, Result, H256};

/// Room for peer events per connected peer: answers wait here while the sync processes others.
const EVENTS_PER_PEER: usize = 64;

/// How long the peers have to answer whether they hold the root.
const ROOT_PROBE_TIMEOUT: Duration = Duration::from_secs(10);

/// Resolves each `--peer` argument (`host:port`) to one socket address.
pub fn resolve_peers(inputs: &[String]) -> Result<Vec<SocketAddr>> {
    inputs
        .iter()
        .map(|input| {
            let bad = |reason: String| Error::BadPeerAddress { input: input.clone(), reason };
            let mut addrs = input.to_socket_addrs().map_err(|error| bad(error.to_string()))?;
            addrs.next().ok_or_else(|| bad("resolves to no address".into()))
        })
        .collect()
}

/// Connected peers, registered in a set, with the channel their events come on.
#[derive(Debug)]
pub struct ConnectedPeers {
    /// The peers that completed the handshake.
    pub set: PeerSet,
    /// Their answers and disconnections.
    pub events: PeerEventReceiver,
    /// The peers that could not be connected to, and why (one line each).
    pub failed: Vec<String>,
}

/// Connects to every address at once; fails with [`Error::NoPeers`] if none can be connected.
pub async fn connect_peers(addrs: &[SocketAddr], config: &TcpConfig) -> Result<ConnectedPeers> {
    let (sender, events) = peer_events(EVENTS_PER_PEER * addrs.len().max(1));
    let mut connecting = JoinSet::new();
    for &addr in addrs {
        let (config, sender) = (config.clone(), sender.clone());
        connecting.spawn(async move { (addr, TcpPeer::connect(addr, config, sender).await) });
    }
    drop(sender);
    let set = PeerSet::default();
    let mut failed = Vec::new();
    while let Some(joined) = connecting.join_next().await {
        let (addr, connected) = joined.map_err(|error| Error::Task(error.to_string()))?;
        match connected {
            Ok(peer) => {
                tracing::info!(target: "statesync::sync", %addr, head_root = ?peer.remote_head_root(), "peer connected");
                if let Err(error) = set.register(peer) {
                    failed.push(format!("{addr}: {error}"));
                }
            }
            Err(error) => {
                tracing::info!(target: "statesync::sync", %addr, %error, "cannot connect to peer");
                failed.push(format!("{addr}: {error}"));
            }
        }
    }
    if set.is_empty() {
        return Err(Error::NoPeers { reasons: failed.join("; ") });
    }
    Ok(ConnectedPeers { set, events, failed })
}

/// The root node as a peer delivered it, and who.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RootProbe {
    /// The root node's RLP (verified: it hashes to the root).
    pub root_node: Vec<u8>,
    /// The peer that delivered it.
    pub holder: PeerId,
}

/// Asks every connected peer for the root node and waits for the first that delivers it (at most
/// [`ROOT_PROBE_TIMEOUT`]); fails with [`Error::RootUnavailable`] if none does.
///
/// Goes through the peer layer's [`Exchange`]: leases and request ids from the set, answers matched
/// there; peers that disconnect meanwhile are unregistered.
pub async fn probe_root(peers: &mut ConnectedPeers, root: H256) -> Result<RootProbe> {
    let ids = peers.set.ids();
    let total = ids.len();
    let mut exchange = Exchange::new(&peers.set, &mut peers.events);
    for id in &ids {
        if let Err(error) = exchange.send(id, PeerRequest::node_data(vec![root])).await {
            tracing::info!(target: "statesync::sync", peer = %id, %error, "cannot ask for the root");
        }
    }
    let deadline = tokio::time::Instant::now() + ROOT_PROBE_TIMEOUT;
    while let Some(reply) = exchange.next(deadline).await {
        match reply {
            Reply::Answered { peer, response, .. } => {
                let blobs = response.into_node_data().unwrap_or_default();
                if let Some(root_node) = blobs.into_iter().find(|blob| keccak256(blob) == root) {
                    return Ok(RootProbe { root_node, holder: peer });
                }
            }
            Reply::Disconnected { peer, cause } => {
                tracing::warn!(target: "statesync::sync", %peer, %cause, "peer disconnected");
            }
        }
    }
    Err(Error::RootUnavailable { root, peers: total })
}

/// Asks `peer` for `hashes` once and returns what it delivered that hashes right (best effort: an
/// empty map after [`ROOT_PROBE_TIMEOUT`] or a disconnect). Used before the sync starts, for the
/// [`KeySpaceGauge`](crate::KeySpaceGauge)'s top nodes.
pub async fn fetch_nodes(
    peers: &mut ConnectedPeers,
    peer: &PeerId,
    hashes: Vec<H256>,
) -> HashMap<H256, Vec<u8>> {
    let mut delivered = HashMap::new();
    if hashes.is_empty() {
        return delivered;
    }
    let mut exchange = Exchange::new(&peers.set, &mut peers.events);
    if exchange.send(peer, PeerRequest::node_data(hashes.clone())).await.is_err() {
        return delivered;
    }
    let deadline = tokio::time::Instant::now() + ROOT_PROBE_TIMEOUT;
    match exchange.next(deadline).await {
        Some(Reply::Answered { response, .. }) => {
            for blob in response.into_node_data().unwrap_or_default() {
                let hash = keccak256(&blob);
                if hashes.contains(&hash) {
                    delivered.insert(hash, blob);
                }
            }
        }
        Some(Reply::Disconnected { peer: gone, cause }) => {
            tracing::warn!(target: "statesync::sync", peer = %gone, %cause, "peer disconnected");
        }
        None => {}
    }
    delivered
}
