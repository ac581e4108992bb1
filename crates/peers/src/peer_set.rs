//! The set of connected peers, their idle state and throughput, and membership notifications.

use std::collections::{BTreeMap, VecDeque};
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use tokio::sync::broadcast;

use crate::rate::{quantile_roundtrip, PeerRate, RoundTripEstimator};
use crate::{Capabilities, Peer, PeerError, PeerId, RateConfig, RequestKind};

/// Measured round trips kept per kind for [`PeerSet::hedge_delay`]: enough for a stable high
/// percentile, few enough to follow a set whose speed changes.
const HEDGE_WINDOW: usize = 128;

/// The percentile of recent round trips after which a request counts as late, worth hedging: most
/// answers come before it, so a hedge is rarely wasted, and a silent peer costs about one of it.
const HEDGE_PERCENTILE: f64 = 0.95;

/// Round trips measured before [`HEDGE_PERCENTILE`] is trusted; until then the delay is
/// [`INITIAL_HEDGE_DELAY`].
const HEDGE_MIN_SAMPLES: usize = 8;

/// The hedge delay before enough round trips are measured (the first requests of a sync): long
/// enough for a loaded loopback or LAN peer, far shorter than a request timeout.
const INITIAL_HEDGE_DELAY: Duration = Duration::from_millis(500);

/// The shortest hedge delay: below it, a hedge races answers already on the wire.
const MIN_HEDGE_DELAY: Duration = Duration::from_millis(5);

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

/// What the set has measured about one peer for one kind of request, for reports.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PeerStats {
    /// Items per second (moving average).
    pub items_per_sec: f64,
    /// Round trip (moving average).
    pub roundtrip: Duration,
    /// Whether the peer has no request of this kind in flight (no lease out).
    pub idle: bool,
}

/// What a [`PeerSubscription`] yields.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PeerNotice {
    /// A peer joined (for a join subscription) or left (for a drop subscription).
    Peer(PeerId),
    /// The subscriber fell behind and `count` notices were lost; it should re-read the set
    /// ([`PeerSet::ids`], [`PeerSet::idle_peers`]) to catch up. Notices after this one are
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
/// It tracks which peers are idle and how much each can deliver, per [`RequestKind`] ([`PeerSet::idle_peers`], [`PeerSet::lease`] and the [`Lease`] it returns), plus
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
    /// Request ids handed out so far: one counter for everyone who asks this set's peers anything,
    /// so answers never match the wrong asker (a probe before a sync, the sync, the next sync).
    request_ids: AtomicU64,
}

struct State {
    peers: BTreeMap<PeerId, Entry>,
    estimator: RoundTripEstimator,
    /// The latest measured round trips of answers that delivered something, per
    /// [`RequestKind::index`], at most [`HEDGE_WINDOW`] each: what [`PeerSet::hedge_delay`] reads.
    recent_rtts: [VecDeque<Duration>; RequestKind::ALL.len()],
    /// The next registration's [`Entry::generation`].
    next_generation: u64,
}

struct Entry {
    peer: Arc<dyn Peer>,
    /// What the peer serves, read once when it registered.
    capabilities: Capabilities,
    /// Which registration this is: a lease of an earlier connection under the same id must not
    /// release (or measure) this one.
    generation: u64,
    /// Throughput and round trip per [`RequestKind::index`].
    rates: [PeerRate; RequestKind::ALL.len()],
    /// A [`Lease`] is out for the kind ([`RequestKind::index`]): the peer is busy with it.
    leased: [bool; RequestKind::ALL.len()],
}

impl Entry {
    /// The peer's throughput and round trip for one kind of request.
    fn rate(&self, kind: RequestKind) -> &PeerRate {
        &self.rates[kind.index()]
    }
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
                state: Mutex::new(State {
                    peers: BTreeMap::new(),
                    estimator,
                    recent_rtts: Default::default(),
                    next_generation: 0,
                }),
                request_ids: AtomicU64::new(0),
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

    /// Adds `peer`, idle, with the [`capabilities`](Peer::capabilities) it states now, starting each
    /// kind from the set's mean throughput and quantile round trip for it; notifies join subscribers.
    /// Fails if a peer with the same id is registered.
    pub fn register(&self, peer: Arc<dyn Peer>) -> Result<(), PeerError> {
        let config = &self.shared.config.rate;
        let mut state = self.state();
        let id = peer.id().clone();
        if state.peers.contains_key(&id) {
            return Err(PeerError::AlreadyRegistered { peer: id });
        }
        let count = state.peers.len();
        let rates = RequestKind::ALL.map(|kind| {
            let mean = if count == 0 {
                0.0
            } else {
                state.peers.values().map(|e| e.rate(kind).items_per_sec).sum::<f64>() / count as f64
            };
            let roundtrip = quantile_roundtrip(state.peers.values().map(|e| e.rate(kind).roundtrip), config);
            PeerRate::new(mean, roundtrip)
        });
        let capabilities = peer.capabilities();
        let generation = state.next_generation;
        state.next_generation += 1;
        state.peers.insert(
            id.clone(),
            Entry { peer, capabilities, generation, rates, leased: [false; RequestKind::ALL.len()] },
        );
        let peers = state.peers.len();
        state.estimator.detune(peers, config);
        tracing::debug!(target: "peers::set", peer = %id, peers, %capabilities, "peer registered");
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

    /// Measurements of one peer for one kind of request.
    pub fn stats(&self, id: &PeerId, kind: RequestKind) -> Option<PeerStats> {
        self.state().peers.get(id).map(|entry| PeerStats {
            items_per_sec: entry.rate(kind).items_per_sec,
            roundtrip: entry.rate(kind).roundtrip,
            idle: !entry.leased[kind.index()],
        })
    }

    /// What the peer serves, as it stated when it registered.
    pub fn capabilities(&self, id: &PeerId) -> Option<Capabilities> {
        self.state().peers.get(id).map(|entry| entry.capabilities)
    }

    /// The peers that serve `kind` and have no request of that kind in flight, each with how many
    /// items to ask it for (its capacity for the current target round trip), highest capacity first
    /// (ties by id). Take a [`lease`](Self::lease) before asking one.
    pub fn idle_peers(&self, kind: RequestKind) -> Vec<IdlePeer> {
        let config = &self.shared.config.rate;
        let mut state = self.state();
        let target = Self::tuned(&mut state, config).target_rtt(config);
        let mut idle: Vec<IdlePeer> = state
            .peers
            .values()
            .filter(|entry| entry.capabilities.serves(kind) && !entry.leased[kind.index()])
            .map(|entry| IdlePeer {
                peer: entry.peer.clone(),
                capacity: entry.rate(kind).capacity(target, config),
            })
            .collect();
        // Stable sort over the id-ordered map: equal capacities stay in id order.
        idle.sort_by_key(|idle| std::cmp::Reverse(idle.capacity));
        idle
    }

    /// Makes the peer busy with a request of `kind`: the one way to, so that a peer is never asked
    /// twice at once. `None` if the peer is not registered, does not serve `kind`, or is busy with
    /// it already. The [`Lease`] sets it idle again when released or dropped, exactly once.
    pub fn lease(&self, id: &PeerId, kind: RequestKind) -> Option<Lease> {
        let config = &self.shared.config.rate;
        let mut state = self.state();
        let target = Self::tuned(&mut state, config).target_rtt(config);
        let entry = state.peers.get_mut(id)?;
        if !entry.capabilities.serves(kind) || entry.leased[kind.index()] {
            return None;
        }
        entry.leased[kind.index()] = true;
        let capacity = entry.rate(kind).capacity(target, config);
        Some(Lease {
            set: self.clone(),
            peer: entry.peer.clone(),
            kind,
            generation: entry.generation,
            capacity,
            released: false,
        })
    }

    /// A request id no one else asking this set's peers has used.
    pub fn next_request_id(&self) -> u64 {
        self.shared.request_ids.fetch_add(1, Ordering::Relaxed) + 1
    }

    /// Ends a lease: records `measured` (useful items, elapsed) if given, and sets the peer idle for
    /// the kind, if the registration the lease was taken on is still there.
    fn release(&self, lease: &Lease, measured: Option<(usize, Duration)>) {
        let config = &self.shared.config.rate;
        let mut state = self.state();
        if let Some(entry) = state.peers.get_mut(lease.peer.id()) {
            if entry.generation == lease.generation {
                if let Some((delivered, elapsed)) = measured {
                    entry.rates[lease.kind.index()].update(delivered, elapsed, config);
                }
                entry.leased[lease.kind.index()] = false;
            }
        }
        if let Some((_, elapsed)) = measured.filter(|(delivered, _)| *delivered > 0) {
            let window = &mut state.recent_rtts[lease.kind.index()];
            if window.len() == HEDGE_WINDOW {
                window.pop_front();
            }
            window.push_back(elapsed);
        }
    }

    /// How long a request of `kind` may go unanswered before it is worth asking another idle peer
    /// for the same items (a hedged request): the [`HEDGE_PERCENTILE`] of the latest round trips of
    /// answers that delivered something, over every peer, at least [`MIN_HEDGE_DELAY`] and at most
    /// the request timeout; [`INITIAL_HEDGE_DELAY`] until [`HEDGE_MIN_SAMPLES`] are measured.
    pub fn hedge_delay(&self, kind: RequestKind) -> Duration {
        let config = &self.shared.config.rate;
        let mut state = self.state();
        let timeout = Self::tuned(&mut state, config).request_timeout(config);
        let window = &state.recent_rtts[kind.index()];
        let delay = if window.len() < HEDGE_MIN_SAMPLES {
            INITIAL_HEDGE_DELAY
        } else {
            let mut sorted: Vec<Duration> = window.iter().copied().collect();
            sorted.sort_unstable();
            let rank = ((sorted.len() as f64 * HEDGE_PERCENTILE).ceil() as usize).clamp(1, sorted.len());
            sorted[rank - 1]
        };
        delay.max(MIN_HEDGE_DELAY).min(timeout)
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
        let State { peers, estimator, .. } = state;
        // The set's round trips are node data's, the kind whose requests time out by this estimate.
        let roundtrips = peers.values().map(|e| e.rate(RequestKind::NodeData).roundtrip);
        if estimator.tune(now(), roundtrips, config) {
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

/// A peer made busy with one request of one kind, from [`PeerSet::lease`].
///
/// Released exactly once, whatever ends the request: [`release`](Self::release) with what the
/// answer measured, [`release_timed_out`](Self::release_timed_out), or dropping it, which sets the
/// peer idle and measures nothing (a request that never reached the peer, or whose answer is not
/// going to be judged, says nothing of its throughput). A lease taken before the peer left the set
/// (and perhaps came back under the same id) releases nothing.
#[must_use = "dropping a lease sets its peer idle at once"]
pub struct Lease {
    set: PeerSet,
    peer: Arc<dyn Peer>,
    kind: RequestKind,
    /// [`Entry::generation`] of the registration leased.
    generation: u64,
    /// The peer's capacity for the kind when leased.
    capacity: usize,
    released: bool,
}

impl Lease {
    /// The peer leased.
    pub fn peer(&self) -> &Arc<dyn Peer> {
        &self.peer
    }

    /// Its id.
    pub fn peer_id(&self) -> &PeerId {
        self.peer.id()
    }

    /// The kind of request it is busy with.
    pub fn kind(&self) -> RequestKind {
        self.kind
    }

    /// Items the peer is estimated to deliver within the target round trip (its capacity for the
    /// kind when leased), in `[1, max_capacity]`.
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// Whether the lease is for this connection (not an earlier or later one under the same id).
    pub fn is_for(&self, peer: &Arc<dyn Peer>) -> bool {
        std::ptr::addr_eq(Arc::as_ptr(&self.peer), Arc::as_ptr(peer))
    }

    /// Sets the peer idle, crediting it with `delivered` useful items after `elapsed`.
    pub fn release(mut self, delivered: usize, elapsed: Duration) {
        self.released = true;
        self.set.release(&self, Some((delivered, elapsed)));
    }

    /// Sets the peer idle after its request timed out: nothing delivered, which slashes its capacity.
    pub fn release_timed_out(self, elapsed: Duration) {
        self.release(0, elapsed);
    }
}

impl Drop for Lease {
    fn drop(&mut self) {
        if !self.released {
            self.released = true;
            self.set.release(self, None);
        }
    }
}

impl fmt::Debug for Lease {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Lease")
            .field("peer", self.peer.id())
            .field("kind", &self.kind)
            .field("capacity", &self.capacity)
            .finish_non_exhaustive()
    }
}
