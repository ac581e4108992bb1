//! Requests a sync hands to its tracker, and what the tracker hands back.
//!
//! A sync ([`StateSync`](crate::StateSync)) decides what to ask which peer; a *tracker* (the
//! downloader's `run_state_sync`) sends it, times it and matches the answer, then hands the finished
//! request back. Both directions are bounded channels wrapped here, so no tokio type shows in the API.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use peers::{Peer, PeerId, PeerSet};
use tokio::sync::mpsc;
use trie_sync::{keccak256, NodeHash};

/// A batch of hashes to ask one peer for, made by the sync for its tracker.
#[derive(Clone)]
pub struct Request {
    /// Who to ask.
    peer: Arc<dyn Peer>,
    /// What to ask for, at most the peer's capacity and the protocol's per-request limit.
    hashes: Vec<NodeHash>,
}

impl fmt::Debug for Request {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Request").field("peer", self.peer.id()).field("items", &self.hashes.len()).finish()
    }
}

impl Request {
    /// A request for `hashes` to `peer`. Syncs make them; public so a tracker's tests can too.
    pub fn new(peer: Arc<dyn Peer>, hashes: Vec<NodeHash>) -> Self {
        Self { peer, hashes }
    }

    /// Sets the peer idle after this request was never sent (or never reached it), with a neutral
    /// measurement: the capacity it was given.
    pub fn release_peer(&self, peers: &PeerSet) {
        release(peers, self.peer_id(), self.len());
    }

    /// The peer to ask.
    pub fn peer(&self) -> &Arc<dyn Peer> {
        &self.peer
    }

    /// The peer's id.
    pub fn peer_id(&self) -> &PeerId {
        self.peer.id()
    }

    /// The hashes asked for.
    pub fn hashes(&self) -> &[NodeHash] {
        &self.hashes
    }

    /// How many hashes are asked for.
    pub fn len(&self) -> usize {
        self.hashes.len()
    }

    /// Whether no hash is asked for (the sync never makes such a request).
    pub fn is_empty(&self) -> bool {
        self.hashes.is_empty()
    }
}

/// How a tracked request ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// The peer answered (possibly partially, possibly with junk: the sync hashes every blob).
    Delivered {
        /// The blobs, unverified.
        blobs: Vec<Vec<u8>>,
        /// Time from sending to the answer.
        elapsed: Duration,
    },
    /// No answer came in time.
    TimedOut {
        /// How long the tracker waited.
        elapsed: Duration,
    },
    /// The request can no longer be answered.
    Dropped {
        /// Why.
        cause: DroppedBecause,
    },
}

/// Why a request was finalized without an answer or a timeout.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DroppedBecause {
    /// The peer's connection ended.
    PeerDisconnected,
    /// Sending the request failed.
    SendFailed,
    /// A new request was tracked for the same peer while this one was in flight (it would otherwise be
    /// silently lost, and the sync would wait for its hashes forever).
    Replaced,
}

/// A request and how it ended, handed back to the sync.
#[derive(Debug, Clone)]
pub struct Finished {
    /// The request.
    pub request: Request,
    /// How it ended.
    pub outcome: Outcome,
}

impl Finished {
    /// Sets the peer of a finished request that will not be processed idle, with what it measured,
    /// so it is not left busy: an answer is credited only with the blobs that hash to a hash asked
    /// for (junk must not raise a peer's capacity), a timeout with nothing, and a request that could
    /// not be sent gives the peer back with the capacity it was given. A request dropped because its
    /// peer left, or because a newer request replaced it, leaves the peer alone: it is gone, or busy
    /// with that newer request.
    pub fn release_peer(&self, peers: &PeerSet) {
        let peer = self.request.peer_id();
        match &self.outcome {
            Outcome::Delivered { blobs, elapsed } => {
                let asked: foldhash::HashSet<&NodeHash> = self.request.hashes().iter().collect();
                let delivered = blobs.iter().filter(|blob| asked.contains(&keccak256(blob))).count();
                peers.set_node_data_idle(peer, delivered, *elapsed);
            }
            Outcome::TimedOut { elapsed } => peers.set_node_data_idle(peer, 0, *elapsed),
            Outcome::Dropped { cause: DroppedBecause::SendFailed } => self.request.release_peer(peers),
            Outcome::Dropped { cause: DroppedBecause::PeerDisconnected | DroppedBecause::Replaced } => {}
        }
    }
}

/// Sets a peer idle after a request that was never sent (or never reached it), with a neutral
/// measurement: its items over the target round trip, the capacity it was given.
pub(crate) fn release(peers: &PeerSet, peer: &PeerId, items: usize) {
    peers.set_node_data_idle(peer, items.max(1), peers.target_rtt());
}

/// The tracker's end of a sync: requests to send come out of `requests`, finished ones go back
/// through `deliveries`.
#[derive(Debug)]
pub struct TrackerLink {
    /// Requests the sync wants sent, in order.
    pub requests: RequestReceiver,
    /// Where finished requests go back to the sync.
    pub deliveries: DeliverySender,
}

pub(crate) fn link(capacity: usize) -> (RequestSender, DeliveryReceiver, TrackerLink) {
    let (request_tx, request_rx) = mpsc::channel(capacity.max(1));
    let (delivery_tx, delivery_rx) = mpsc::channel(capacity.max(1));
    (
        RequestSender(request_tx),
        DeliveryReceiver(delivery_rx),
        TrackerLink { requests: RequestReceiver(request_rx), deliveries: DeliverySender(delivery_tx) },
    )
}

/// The sync's side of the request channel.
#[derive(Debug)]
pub(crate) struct RequestSender(mpsc::Sender<Request>);

impl RequestSender {
    /// Sends, waiting while the tracker is behind; gives the request back if the tracker is gone.
    pub(crate) async fn send(&self, request: Request) -> Result<(), Request> {
        self.0.send(request).await.map_err(|error| error.0)
    }
}

/// The tracker's side of the request channel (bounded).
#[derive(Debug)]
pub struct RequestReceiver(mpsc::Receiver<Request>);

impl RequestReceiver {
    /// The next request; `None` once the sync has ended and the channel is drained.
    pub async fn recv(&mut self) -> Option<Request> {
        self.0.recv().await
    }

    /// The next request if one is waiting.
    pub fn try_recv(&mut self) -> Option<Request> {
        self.0.try_recv().ok()
    }

    /// Refuses further requests; those already sent can still be received (to set their peers idle).
    pub fn close(&mut self) {
        self.0.close();
    }
}

/// The tracker's side of the delivery channel (bounded): reserve a slot, then send.
#[derive(Debug, Clone)]
pub struct DeliverySender(mpsc::Sender<Finished>);

impl DeliverySender {
    /// Waits for room, so a tracker can offer a delivery inside a `select!` without blocking on it.
    /// `None` if the sync has ended: the tracker then sets the request's peer idle itself, with
    /// [`Finished::release_peer`].
    pub async fn reserve(&self) -> Option<DeliveryPermit<'_>> {
        self.0.reserve().await.ok().map(DeliveryPermit)
    }

    /// Whether the sync has ended (nothing sent will be processed).
    pub fn is_closed(&self) -> bool {
        self.0.is_closed()
    }
}

/// Room for one delivery, from [`DeliverySender::reserve`].
#[derive(Debug)]
pub struct DeliveryPermit<'a>(mpsc::Permit<'a, Finished>);

impl DeliveryPermit<'_> {
    /// Hands `finished` to the sync.
    pub fn send(self, finished: Finished) {
        self.0.send(finished);
    }
}

/// The sync's side of the delivery channel.
#[derive(Debug)]
pub(crate) struct DeliveryReceiver(mpsc::Receiver<Finished>);

impl DeliveryReceiver {
    pub(crate) async fn recv(&mut self) -> Option<Finished> {
        self.0.recv().await
    }

    /// Refuses further deliveries (the tracker keeps them and releases their peers itself); those
    /// already sent can still be received.
    pub(crate) fn close(&mut self) {
        self.0.close();
    }

    /// The next delivery if one is waiting.
    pub(crate) fn try_recv(&mut self) -> Option<Finished> {
        self.0.try_recv().ok()
    }
}
