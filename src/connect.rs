//! Before a sync: connecting to the peers given, and checking that one of them has the root.

use std::collections::HashMap;
use std::net::{SocketAddr, ToSocketAddrs};
use std::time::Duration;

use peers::{peer_events, PeerEvent, PeerEventReceiver, PeerId, PeerSet, TcpConfig, TcpPeer};
use tokio::task::JoinSet;
use trie_sync::keccak256;

use crate::{Error, Result, H256};

/// Room for peer events per connected peer: answers wait here while the sync processes others.
const EVENTS_PER_PEER: usize = 64;

/// How long the peers have to answer whether they hold the root.
const ROOT_PROBE_TIMEOUT: Duration = Duration::from_secs(10);

/// Request ids of the root probe, counted down from the top of the id space so they never meet the
/// ids of the sync's own requests (counted up).
const PROBE_REQUEST_ID_BASE: u64 = u64::MAX;

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
/// Peers that disconnect meanwhile are unregistered; every other event is consumed (they can only be
/// answers to the probe, since nothing else has asked anything yet).
pub async fn probe_root(peers: &mut ConnectedPeers, root: H256) -> Result<RootProbe> {
    let ids = peers.set.ids();
    let mut asked: Vec<(PeerId, u64)> = Vec::new();
    for (index, id) in ids.iter().enumerate() {
        let Some(peer) = peers.set.get(id) else { continue };
        let request_id = PROBE_REQUEST_ID_BASE - index as u64;
        if peer.request_node_data(request_id, vec![root]).await.is_ok() {
            asked.push((id.clone(), request_id));
        } else {
            peers.set.unregister(id);
        }
    }
    let total = ids.len();
    let mut found = None;
    let deadline = tokio::time::Instant::now() + ROOT_PROBE_TIMEOUT;
    while !asked.is_empty() && found.is_none() {
        let event = match tokio::time::timeout_at(deadline, peers.events.recv()).await {
            Ok(Some(event)) => event,
            Ok(None) | Err(_) => break,
        };
        match event {
            PeerEvent::NodeData { peer, request_id, blobs } => {
                if asked.iter().any(|(id, rid)| *id == peer && *rid == request_id) {
                    asked.retain(|(id, _)| *id != peer);
                    found = blobs
                        .into_iter()
                        .find(|blob| keccak256(blob) == root)
                        .map(|root_node| RootProbe { root_node, holder: peer });
                }
            }
            PeerEvent::Disconnected { peer, cause } => {
                tracing::warn!(target: "statesync::sync", %peer, %cause, "peer disconnected");
                asked.retain(|(id, _)| *id != peer);
                peers.set.unregister(&peer);
            }
        }
    }
    found.ok_or(Error::RootUnavailable { root, peers: total })
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
    let Some(handle) = peers.set.get(peer) else { return delivered };
    let request_id = PROBE_REQUEST_ID_BASE / 2;
    if hashes.is_empty() || handle.request_node_data(request_id, hashes.clone()).await.is_err() {
        return delivered;
    }
    let deadline = tokio::time::Instant::now() + ROOT_PROBE_TIMEOUT;
    while let Ok(Some(event)) = tokio::time::timeout_at(deadline, peers.events.recv()).await {
        match event {
            PeerEvent::NodeData { peer: from, request_id: id, blobs }
                if from == *peer && id == request_id =>
            {
                for blob in blobs {
                    let hash = keccak256(&blob);
                    if hashes.contains(&hash) {
                        delivered.insert(hash, blob);
                    }
                }
                break;
            }
            PeerEvent::NodeData { .. } => {}
            PeerEvent::Disconnected { peer: gone, cause } => {
                tracing::warn!(target: "statesync::sync", peer = %gone, %cause, "peer disconnected");
                peers.set.unregister(&gone);
                if gone == *peer {
                    break;
                }
            }
        }
    }
    delivered
}
