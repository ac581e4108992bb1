//! The set of connected peers, their idle state and throughput, and membership notifications.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use tokio::sync::broadcast;

use crate::rate::{quantile_roundtrip, PeerRate, RoundTripEstimator};
use crate::{Peer, PeerError, PeerId, RateConfig};

/// Settings of a [`PeerSet`].
#[derive(Debug, Clone, PartialEq)]
pub struct PeerSetConfig {
    /// Throughput and round-trip estimation.
    pub rate: RateConfig,
    /// Join (and, separately, drop) notifications buffered per subscriber before a slow subscriber
    /// starts missing them; the set never waits for a subscriber.
    pub notification_buffer: usize,
}

impl Default for PeerSetConfig {
    fn default() -> Self {
        Self { rate: RateConfig::default(), notification_buffer: 256 }
    }
}

/// An idle peer and how many items to ask it for.
#[derive(Clone)]
pub struct IdlePeer {
    /// The peer.
    pub peer: Arc<dyn Peer>,
    /// Items it is estimated to deliver within the target round trip, in `[1, max_capacity]`.
    pub capacity: usize,
}

impl fmt::Debug for IdlePeer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IdlePeer").field("peer", self.peer.id()).field("capacity", &self.capacity).finish()
    }
}

/// What the set has measured about one peer, for reports.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PeerStats {
    /// Items per second (moving average).
    pub items_per_sec: f64,
    /// Round trip (moving average).
    pub roundtrip: Duration,
    /// Whether the peer has no node-data request in flight.
    pub idle: bool,
}

/// What a [`PeerSubscription`] yields.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PeerNotice {
    /// A peer joined (for a join subscription) or left (for a drop subscription).
    Peer(PeerId),
    /// The subscriber fell behind and `count` notices were lost; it should re-read the set
    /// ([`PeerSet::ids`], [`PeerSet::node_data_idle_peers`]) to catch up. Notices after this one are
    /// the oldest still buffered.
    Missed {
        /// How many notices were lost.
        count: u64,
    },
}

/// A subscription to peers joining or leaving a [`PeerSet`].
///
/// Bounded: the set buffers [`PeerSetConfig::notification_buffer`] notices per subscriber and never
/// waits for one; a subscriber that falls further behind gets [`PeerNotice::Missed`] instead of the
/// oldest notices.
#[derive(Debug)]
pub struct PeerSubscription {
    receiver: broadcast::Receiver<PeerId>,
}

impl PeerSubscription {
    /// The next notice; `None` once the set is dropped and the buffer drained.
    pub async fn recv(&mut self) -> Option<PeerNotice> {
        match self.receiver.recv().await {
            Ok(peer) => Some(PeerNotice::Peer(peer)),
            Err(broadcast::error::RecvError::Lagged(count)) => Some(PeerNotice::Missed { count }),
            Err(broadcast::error::RecvError::Closed) => None,
        }
    }

    /// The next notice if one is buffered, without waiting.
    pub fn try_recv(&mut self) -> Option<PeerNotice> {
        match self.receiver.try_recv() {
            Ok(peer) => Some(PeerNotice::Peer(peer)),
            Err(broadcast::error::TryRecvError::Lagged(count)) => Some(PeerNotice::Missed { count }),
            Err(_) => None,
        }
    }
}

/// The connected peers, shared by the sync layers: a cheap-to-clone handle.
///
/// For node-data requests it tracks which peers are idle and how much each can deliver
/// ([`PeerSet::node_data_idle_peers`], [`PeerSet::mark_busy`], [`PeerSet::set_node_data_idle`]), plus
/// the set-wide [`target_rtt`](PeerSet::target_rtt) and [`request_timeout`](PeerSet::request_timeout).
/// Methods are synchronous and short (an internal mutex); time is read from tokio's clock, so
/// `tokio::time::pause()` applies.
///
/// The set does not own connections: [`PeerSet::unregister`] does not disconnect the peer.
#[derive(Clone)]
pub struct PeerSet {
    shared: Arc<Shared>,
}

struct Shared {
    config: PeerSetConfig,
    state: Mutex<State>,
    /// Notices of joins, sent under the state lock so they are in the set's order.
    joins: broadcast::Sender<PeerId>,
    /// Notices of drops, likewise.
    drops: broadcast::Sender<PeerId>,
}

struct State {
    peers: BTreeMap<PeerId, Entry>,
    estimator: RoundTripEstimator,
}

struct Entry {
    peer: Arc<dyn Peer>,
    rate: PeerRate,
    /// No node-data request in flight.
    node_data_idle: bool,
}

impl Default for PeerSet {
    fn default() -> Self {
        Self::new(PeerSetConfig::default())
    }
}

impl fmt::Debug for PeerSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PeerSet").field("peers", &self.ids()).finish()
    }
}

/// Now, on tokio's clock (which tests can pause), as a std instant for the rate arithmetic.
fn now() -> Instant {
    tokio::time::Instant::now().into_std()
}

impl PeerSet {
    /// An empty set.
    pub fn new(config: PeerSetConfig) -> Self {
        let buffer = config.notification_buffer.max(1);
        let estimator = RoundTripEstimator::new(now(), &config.rate);
        Self {
            shared: Arc::new(Shared {
                state: Mutex::new(State { peers: BTreeMap::new(), estimator }),
                joins: broadcast::channel(buffer).0,
                drops: broadcast::channel(buffer).0,
                config,
            }),
        }
    }

    fn state(&self) -> MutexGuard<'_, State> {
        // No code under this lock panics; if something did, the state is still consistent.
        self.shared.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Adds `peer`, idle, starting from the set's mean throughput and quantile round trip; notifies
    /// join subscribers. Fails if a peer with the same id is registered.
    pub fn register(&self, peer: Arc<dyn Peer>) -> Result<(), PeerError> {
        let config = &self.shared.config.rate;
        let mut state = self.state();
        let id = peer.id().clone();
        if state.peers.contains_key(&id) {
            return Err(PeerError::AlreadyRegistered { peer: id });
        }
        let count = state.peers.len();
        let mean = if count == 0 {
            0.0
        } else {
            state.peers.values().map(|e| e.rate.items_per_sec).sum::<f64>() / count as f64
        };
        let roundtrip = quantile_roundtrip(state.peers.values().map(|e| e.rate.roundtrip), config);
        state
            .peers
            .insert(id.clone(), Entry { peer, rate: PeerRate::new(mean, roundtrip), node_data_idle: true });
        let peers = state.peers.len();
        state.estimator.detune(peers, config);
        tracing::debug!(target: "peers::set", peer = %id, peers, "peer registered");
        // An error only means nobody subscribes.
        let _ = self.shared.joins.send(id);
        Ok(())
    }

    /// Removes the peer (without disconnecting it) and notifies drop subscribers; returns it, or `None`
    /// if it was not registered.
    pub fn unregister(&self, id: &PeerId) -> Option<Arc<dyn Peer>> {
        let mut state = self.state();
        let entry = state.peers.remove(id)?;
        tracing::debug!(target: "peers::set", peer = %id, peers = state.peers.len(), "peer unregistered");
        let _ = self.shared.drops.send(id.clone());
        Some(entry.peer)
    }

    /// Notices of peers joining from now on.
    pub fn subscribe_joins(&self) -> PeerSubscription {
        PeerSubscription { receiver: self.shared.joins.subscribe() }
    }

    /// Notices of peers leaving from now on.
    pub fn subscribe_drops(&self) -> PeerSubscription {
        PeerSubscription { receiver: self.shared.drops.subscribe() }
    }

    /// Number of registered peers.
    pub fn len(&self) -> usize {
        self.state().peers.len()
    }

    /// Whether no peer is registered.
    pub fn is_empty(&self) -> bool {
        self.state().peers.is_empty()
    }

    /// The peer with this id.
    pub fn get(&self, id: &PeerId) -> Option<Arc<dyn Peer>> {
        self.state().peers.get(id).map(|entry| entry.peer.clone())
    }

    /// The ids of all registered peers, in order.
    pub fn ids(&self) -> Vec<PeerId> {
        self.state().peers.keys().cloned().collect()
    }

    /// Measurements of one peer.
    pub fn stats(&self, id: &PeerId) -> Option<PeerStats> {
        self.state().peers.get(id).map(|entry| PeerStats {
            items_per_sec: entry.rate.items_per_sec,
            roundtrip: entry.rate.roundtrip,
            idle: entry.node_data_idle,
        })
    }

    /// The peers with no node-data request in flight, each with how many items to ask it for (its
    /// capacity for the current target round trip), highest capacity first (ties by id).
    pub fn node_data_idle_peers(&self) -> Vec<IdlePeer> {
        let config = &self.shared.config.rate;
        let mut state = self.state();
        let target = Self::tuned(&mut state, config).target_rtt(config);
        let mut idle: Vec<IdlePeer> = state
            .peers
            .values()
            .filter(|entry| entry.node_data_idle)
            .map(|entry| IdlePeer { peer: entry.peer.clone(), capacity: entry.rate.capacity(target, config) })
            .collect();
        // Stable sort over the id-ordered map: equal capacities stay in id order.
        idle.sort_by_key(|idle| std::cmp::Reverse(idle.capacity));
        idle
    }

    /// Records that a node-data request was sent to the peer: it is no longer idle. Unknown peers
    /// (already unregistered) are ignored.
    pub fn mark_busy(&self, id: &PeerId) {
        if let Some(entry) = self.state().peers.get_mut(id) {
            entry.node_data_idle = false;
        }
    }

    /// Records the outcome of the peer's node-data request: `delivered` useful items after `elapsed`
    /// (0 after a timeout, which slashes its capacity to one item), and marks it idle. Unknown peers are
    /// ignored.
    pub fn set_node_data_idle(&self, id: &PeerId, delivered: usize, elapsed: Duration) {
        let config = &self.shared.config.rate;
        if let Some(entry) = self.state().peers.get_mut(id) {
            entry.rate.update(delivered, elapsed, config);
            entry.node_data_idle = true;
        }
    }

    /// The round trip requests are sized for.
    pub fn target_rtt(&self) -> Duration {
        let config = &self.shared.config.rate;
        Self::tuned(&mut self.state(), config).target_rtt(config)
    }

    /// How long to wait for an answer before treating the request as timed out.
    pub fn request_timeout(&self) -> Duration {
        let config = &self.shared.config.rate;
        Self::tuned(&mut self.state(), config).request_timeout(config)
    }

    /// The estimator, re-tuned first if it is due.
    fn tuned<'s>(state: &'s mut State, config: &RateConfig) -> &'s RoundTripEstimator {
        let State { peers, estimator } = state;
        if estimator.tune(now(), peers.values().map(|e| e.rate.roundtrip), config) {
            tracing::trace!(
                target: "peers::set",
                target_rtt = ?estimator.target_rtt(config),
                timeout = ?estimator.request_timeout(config),
                confidence = estimator.confidence(),
                "re-tuned round trip"
            );
        }
        estimator
    }
}
