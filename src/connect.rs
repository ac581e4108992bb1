//! Before a sync: connecting to the peers given, and checking that one of them has the root.

use std::net::{SocketAddr, ToSocketAddrs};
use std::sync::Arc;
use std::time::Duration;

use eth_peer::{EthConfig, EthPeer};
use peers::{
    peer_events, Exchange, Peer, PeerEventReceiver, PeerId, PeerRequest, PeerSet, Reply, TcpConfig, TcpPeer,
};
use rlpx::Enode;
use tokio::task::JoinSet;
use trie_sync::keccak256;

use crate::{Error, Result, H256};

/// Room for peer events per connected peer: answers wait here while the sync processes others.
const EVENTS_PER_PEER: usize = 64;

/// How long the peers have to answer whether they hold the root.
const ROOT_PROBE_TIMEOUT: Duration = Duration::from_secs(10);

/// A peer to connect to: wire v1 over TCP, or an Ethereum node over RLPx.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PeerAddress {
    /// A wire v1 server (`host:port`).
    Wire(SocketAddr),
    /// An Ethereum node (`enode://PUBKEY@HOST:PORT`), spoken to with RLPx and eth/66.
    Rlpx(Enode),
}

impl PeerAddress {
    /// Whether this is an RLPx peer.
    pub fn is_rlpx(&self) -> bool {
        matches!(self, PeerAddress::Rlpx(_))
    }
}

impl std::fmt::Display for PeerAddress {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PeerAddress::Wire(addr) => write!(f, "{addr}"),
            PeerAddress::Rlpx(enode) => write!(f, "{enode}"),
        }
    }
}

/// Parses each `--peer` argument: `enode://PUBKEY@HOST:PORT` (RLPx) or `host:port` (wire v1),
/// resolved to one socket address.
pub fn resolve_peers(inputs: &[String]) -> Result<Vec<PeerAddress>> {
    inputs
        .iter()
        .map(|input| {
            let bad = |reason: String| Error::BadPeerAddress { input: input.clone(), reason };
            if input.starts_with("enode://") {
                return input.parse::<Enode>().map(PeerAddress::Rlpx).map_err(|error| bad(error.to_string()));
            }
            let mut addrs = input.to_socket_addrs().map_err(|error| bad(error.to_string()))?;
            addrs.next().map(PeerAddress::Wire).ok_or_else(|| bad("resolves to no address".into()))
        })
        .collect()
}

/// A connected peer, for reports.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ConnectedPeer {
    /// Its id in the peer set.
    pub id: String,
    /// The address it was reached at.
    pub address: String,
    /// The software it says it runs (RLPx peers), if known.
    pub client: Option<String>,
}

/// Connected peers, registered in a set, with the channel their events come on.
#[derive(Debug)]
pub struct ConnectedPeers {
    /// The peers that completed the handshake.
    pub set: PeerSet,
    /// Their answers and disconnections.
    pub events: PeerEventReceiver,
    /// Who they are.
    pub connected: Vec<ConnectedPeer>,
    /// The peers that could not be connected to, and why (one line each).
    pub failed: Vec<String>,
}

/// Connects to every peer at once (RLPx ones with `eth`, which they need); fails with
/// [`Error::IncompatiblePeers`] if none can be used and at least one is on another chain or serves
/// nothing we can use, else [`Error::NoPeers`] if none can be connected.
pub async fn connect_peers(
    addrs: &[PeerAddress],
    config: &TcpConfig,
    eth: Option<&EthConfig>,
) -> Result<ConnectedPeers> {
    if eth.is_none() && addrs.iter().any(PeerAddress::is_rlpx) {
        return Err(Error::NoChain);
    }
    let (sender, events) = peer_events(EVENTS_PER_PEER * addrs.len().max(1));
    let mut connecting = JoinSet::new();
    for addr in addrs {
        let (addr, config, eth, sender) = (addr.clone(), config.clone(), eth.cloned(), sender.clone());
        connecting.spawn(async move {
            let connected = match (&addr, eth) {
                (PeerAddress::Wire(socket), _) => TcpPeer::connect(*socket, config, sender)
                    .await
                    .map(|peer| peer as Arc<dyn Peer>)
                    .map_err(|error| (false, error.to_string())),
                (PeerAddress::Rlpx(enode), Some(eth)) => match EthPeer::connect(enode, &eth, sender).await {
                    Ok(peer) if peer.capabilities().is_empty() => Err((
                        true,
                        format!(
                            "{} speaks eth/{}: no node data",
                            peer.client().unwrap_or("?"),
                            peer.version().number()
                        ),
                    )),
                    Ok(peer) => Ok(peer as Arc<dyn Peer>),
                    Err(error) => Err((error.is_incompatible(), error.to_string())),
                },
                (PeerAddress::Rlpx(_), None) => Err((true, "no chain given".to_owned())),
            };
            (addr, connected)
        });
    }
    drop(sender);
    let set = PeerSet::default();
    let (mut connected, mut failed, mut incompatible) = (Vec::new(), Vec::new(), Vec::new());
    while let Some(joined) = connecting.join_next().await {
        let (addr, result) = joined.map_err(|error| Error::Task(error.to_string()))?;
        match result {
            Ok(peer) => {
                let client = peer.client().map(str::to_owned);
                tracing::info!(target: "statesync::sync", %addr, peer = %peer.id(), client = client.as_deref().unwrap_or("-"), "peer connected");
                let id = peer.id().to_string();
                match set.register(peer) {
                    Ok(()) => connected.push(ConnectedPeer { id, address: addr.to_string(), client }),
                    Err(error) => failed.push(format!("{addr}: {error}")),
                }
            }
            Err((is_incompatible, reason)) => {
                tracing::info!(target: "statesync::sync", %addr, %reason, "cannot use peer");
                if is_incompatible {
                    incompatible.push(format!("{addr}: {reason}"));
                }
                failed.push(format!("{addr}: {reason}"));
            }
        }
    }
    if set.is_empty() {
        if !incompatible.is_empty() {
            return Err(Error::IncompatiblePeers { reasons: incompatible.join("; ") });
        }
        return Err(Error::NoPeers { reasons: failed.join("; ") });
    }
    Ok(ConnectedPeers { set, events, connected, failed })
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
