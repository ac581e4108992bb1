//! Requests a sync hands to its tracker, and what the tracker hands back.
//!
//! A sync ([`StateSync`](crate::StateSync)) decides what to ask which peer; a *tracker* (the
//! downloader's `run_state_sync`) sends it, times it and matches the answer, then hands the finished
//! request back. Both directions are bounded channels wrapped here, so no tokio type shows in the API.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use peers::{Lease, Peer, PeerId, PeerRequest};
use tokio::sync::mpsc;
use trie_sync::{keccak256, NodeHash};

/// A batch of hashes to ask one peer for, made by the sync for its tracker.
///
/// It holds the peer's [`Lease`]: the peer stays busy with node data as long as the request lives,
/// and is set idle exactly once, when the request is processed
/// ([`Finished::release_peer`], or the sync's own judgement) or, whatever else ends it, dropped.
pub struct Request {
    /// Who to ask, leased for node data.
    lease: Lease,
    /// What to ask for, at most the peer's capacity and the protocol's per-request limit.
    hashes: Vec<NodeHash>,
}

impl fmt::Debug for Request {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Request").field("peer", self.peer_id()).field("items", &self.hashes.len()).finish()
    }
}

impl Request {
    /// A request for `hashes` to the leased peer. Syncs make them; public so a tracker's tests can
    /// too.
    pub fn new(lease: Lease, hashes: Vec<NodeHash>) -> Self {
        Self { lease, hashes }
    }

    /// The peer to ask.
    pub fn peer(&self) -> &Arc<dyn Peer> {
        self.lease.peer()
    }

    /// The peer's id.
    pub fn peer_id(&self) -> &PeerId {
        self.lease.peer_id()
    }

    /// The hashes asked for.
    pub fn hashes(&self) -> &[NodeHash] {
        &self.hashes
    }

    /// The request as the peer layer sends it.
    pub fn to_peer_request(&self) -> PeerRequest {
        PeerRequest::NodeData { hashes: self.hashes.clone() }
    }

    /// How many hashes are asked for.
    pub fn len(&self) -> usize {
        self.hashes.len()
    }

    /// Whether no hash is asked for (the sync never makes such a request).
    pub fn is_empty(&self) -> bool {
        self.hashes.is_empty()
    }

    /// The lease and the hashes, to end the lease with a measurement.
    pub(crate) fn into_parts(self) -> (Lease, Vec<NodeHash>) {
        (self.lease, self.hashes)
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
#[derive(Debug)]
pub struct Finished {
    /// The request.
    pub request: Request,
    /// How it ended.
    pub outcome: Outcome,
}

impl Finished {
    /// Ends the lease of a finished request that will not be processed, with what it measured: an
    /// answer is credited only with the blobs that hash to a hash asked for (junk must not raise a
    /// peer's capacity), a timeout with nothing; a request dropped (never sent, or its peer gone)
    /// measures nothing. Dropping a `Finished` also releases its peer, measuring nothing.
    pub fn release_peer(self) {
        let (lease, hashes) = self.request.into_parts();
        match self.outcome {
            Outcome::Delivered { blobs, elapsed } => {
                let asked: foldhash::HashSet<&NodeHash> = hashes.iter().collect();
                let delivered = blobs.iter().filter(|blob| asked.contains(&keccak256(blob))).count();
                lease.release(delivered, elapsed);
            }
            Outcome::TimedOut { elapsed } => lease.release_timed_out(elapsed),
            Outcome::Dropped { .. } => drop(lease),
        }
    }
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
    /// `None` if the sync has ended: the tracker then ends the request's lease itself, with
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
