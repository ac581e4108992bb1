//! A peer in the same process, answering from a store through tokio tasks, with fault injection.

use std::io;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use kvdb::{KeyValueStore, Namespace};
use primitive_types::H256;

use crate::{
    answer_node_data, Capabilities, DisconnectCause, DisconnectReason, Peer, PeerError, PeerEvent,
    PeerEventSender, PeerId, PeerRequest, PeerResponse, MAX_HASHES_PER_REQUEST,
};

/// How an [`InProcessPeer`] misbehaves once its honest requests are used up
/// ([`Behaviour::honest_requests`]). Each fault applies to every request from then on.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum Fault {
    /// None: answers every request after the latency with what [`answer_node_data`] gives.
    #[default]
    Honest,
    /// Accepts requests and never answers them (the requester must time out).
    NeverAnswer,
    /// Answers with no blobs.
    AnswerEmpty,
    /// Answers only the requested hashes at even positions (the 1st, 3rd, 5th...).
    EveryOther,
    /// Answers only the first `count` requested hashes.
    FirstOnly {
        /// How many of the requested hashes are answered.
        count: usize,
    },
    /// Answers with as many blobs as were requested, each 1 to 100 random bytes (seeded by
    /// [`Behaviour::seed`]): data that hashes to nothing requested and is not even valid RLP.
    Garbage,
    /// Answers with real entries of its store that were not requested (trie nodes, in key order, as many
    /// as were requested if it has that many): valid data, wrong hashes. Walks the store for each
    /// request, so it is meant for test-sized stores.
    Unrequested,
    /// Answers honestly but with a request id that was never sent (the real one with its top bit
    /// flipped).
    WrongRequestId,
    /// Sends the honest answer twice, back to back.
    AnswerTwice,
    /// Accepts the request, then after the latency drops the connection without answering: emits
    /// [`PeerEvent::Disconnected`] (cause `ConnectionLost`) and refuses requests from then on.
    DisconnectMidRequest,
    /// A slow, stingy peer: answers each request only after `delay` (instead of the latency), and with
    /// only the first `items` blobs of the honest answer. With a `delay` near the requester's timeout
    /// and `items` ≤ 2 this is what go-ethereum calls a stalling peer. (A wire v1 request gets one
    /// answer, so trickling is one late, small answer rather than many partial ones.)
    Trickle {
        /// How long after the request the answer comes.
        delay: Duration,
        /// How many blobs it carries at most.
        items: usize,
    },
}

/// How an [`InProcessPeer`] behaves.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Behaviour {
    /// Time between a request and its answer (tokio time, so `tokio::time::pause()` makes it free).
    pub latency: Duration,
    /// The misbehaviour.
    pub fault: Fault,
    /// Requests answered honestly before the fault applies, to model a peer that turns bad mid-sync.
    pub honest_requests: u64,
    /// Seed of the random bytes of [`Fault::Garbage`]: the same seed gives the same bytes.
    pub seed: u64,
}

impl Behaviour {
    /// An honest peer without latency.
    pub fn honest() -> Self {
        Self::default()
    }

    /// A peer with `fault` from the first request on, without latency.
    pub fn faulty(fault: Fault) -> Self {
        Self { fault, ..Self::default() }
    }

    /// The same behaviour with `latency`.
    pub fn with_latency(self, latency: Duration) -> Self {
        Self { latency, ..self }
    }

    /// The same behaviour, honest for the first `requests` requests.
    pub fn honest_for(self, requests: u64) -> Self {
        Self { honest_requests: requests, ..self }
    }

    /// The same behaviour with a random seed.
    pub fn with_seed(self, seed: u64) -> Self {
        Self { seed, ..self }
    }
}

/// A [`Peer`] living in this process: answers from a store with the same [`answer_node_data`] as the
/// TCP server, after a latency, from a tokio task, possibly misbehaving as its [`Behaviour`] says.
///
/// Meant for tests and demos. Randomness is seeded and time is tokio's, so runs under
/// `tokio::time::pause()` are deterministic and instant.
pub struct InProcessPeer {
    id: PeerId,
    store: Arc<dyn KeyValueStore>,
    events: PeerEventSender,
    behaviour: Behaviour,
    link: Arc<Link>,
}

/// State shared with the answering tasks.
struct Link {
    /// The connection is gone: no more answers, requests refused.
    closed: AtomicBool,
    /// Held while checking `closed` and sending an event, so that nothing is sent after Disconnected.
    gate: tokio::sync::Mutex<()>,
    /// Requests accepted so far, to know when the honest ones are used up.
    requests: AtomicU64,
    /// Source of [`Fault::Garbage`]'s bytes.
    rng: Mutex<SplitMix64>,
}

impl std::fmt::Debug for InProcessPeer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("InProcessPeer").field("id", &self.id).field("behaviour", &self.behaviour).finish()
    }
}

impl InProcessPeer {
    /// An honest peer serving `store`, reporting to `events`.
    pub fn new(id: impl Into<PeerId>, store: Arc<dyn KeyValueStore>, events: PeerEventSender) -> Arc<Self> {
        Self::with_behaviour(id, store, events, Behaviour::honest())
    }

    /// A peer serving `store` as `behaviour` says, reporting to `events`.
    pub fn with_behaviour(
        id: impl Into<PeerId>,
        store: Arc<dyn KeyValueStore>,
        events: PeerEventSender,
        behaviour: Behaviour,
    ) -> Arc<Self> {
        let link = Arc::new(Link {
            closed: AtomicBool::new(false),
            gate: tokio::sync::Mutex::new(()),
            requests: AtomicU64::new(0),
            rng: Mutex::new(SplitMix64(behaviour.seed)),
        });
        Arc::new(Self { id: id.into(), store, events, behaviour, link })
    }

    /// Its behaviour.
    pub fn behaviour(&self) -> &Behaviour {
        &self.behaviour
    }

    /// How many requests it has accepted.
    pub fn requests_received(&self) -> u64 {
        self.link.requests.load(Ordering::SeqCst)
    }

    /// Whether its connection is closed.
    pub fn is_disconnected(&self) -> bool {
        self.link.closed.load(Ordering::SeqCst)
    }

    /// What to send for one request: a delay, then the answers (possibly none).
    fn plan(&self, fault: &Fault, request_id: u64, hashes: &[H256]) -> Result<Plan, PeerError> {
        let honest = |hashes: &[H256]| answer_node_data(self.store.as_ref(), hashes);
        let latency = self.behaviour.latency;
        let answer = |blobs| Plan::Answers { delay: latency, request_id, answers: vec![blobs] };
        Ok(match fault {
            Fault::Honest => answer(honest(hashes)?),
            Fault::NeverAnswer => Plan::Answers { delay: latency, request_id, answers: vec![] },
            Fault::AnswerEmpty => answer(Vec::new()),
            Fault::EveryOther => {
                let even: Vec<H256> = hashes.iter().step_by(2).copied().collect();
                answer(honest(&even)?)
            }
            Fault::FirstOnly { count } => answer(honest(&hashes[..(*count).min(hashes.len())])?),
            Fault::Garbage => {
                let mut rng = self.link.rng.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
                answer(
                    hashes
                        .iter()
                        .map(|_| {
                            let len = 1 + (rng.next() % 100) as usize;
                            rng.bytes(len)
                        })
                        .collect(),
                )
            }
            Fault::Unrequested => {
                let mut blobs = Vec::new();
                self.store.for_each(Namespace::TrieNodes, &mut |key, value| {
                    if blobs.len() < hashes.len() && !hashes.iter().any(|h| h.as_bytes() == key) {
                        blobs.push(value.to_vec());
                    }
                })?;
                answer(blobs)
            }
            Fault::WrongRequestId => Plan::Answers {
                delay: latency,
                request_id: request_id ^ (1 << 63),
                answers: vec![honest(hashes)?],
            },
            Fault::AnswerTwice => {
                let blobs = honest(hashes)?;
                Plan::Answers { delay: latency, request_id, answers: vec![blobs.clone(), blobs] }
            }
            Fault::DisconnectMidRequest => Plan::Disconnect { delay: latency },
            Fault::Trickle { delay, items } => {
                let mut blobs = honest(hashes)?;
                blobs.truncate(*items);
                Plan::Answers { delay: *delay, request_id, answers: vec![blobs] }
            }
        })
    }
}

/// What an answering task does.
enum Plan {
    /// Sleeps `delay`, then sends each answer as a NodeData with `request_id`.
    Answers { delay: Duration, request_id: u64, answers: Vec<Vec<Vec<u8>>> },
    /// Sleeps `delay`, then drops the connection.
    Disconnect { delay: Duration },
}

impl Link {
    /// Closes the link and emits Disconnected, once; later calls do nothing. Returns immediately: the
    /// event is sent from a task, so a caller that is also the events' receiver cannot deadlock.
    fn close(self: &Arc<Self>, peer: PeerId, events: PeerEventSender, cause: DisconnectCause) {
        if self.closed.swap(true, Ordering::SeqCst) {
            return;
        }
        let link = self.clone();
        tokio::spawn(async move {
            let _gate = link.gate.lock().await;
            tracing::debug!(target: "peers::in_process", %peer, %cause, "disconnected");
            events.send(PeerEvent::Disconnected { peer, cause }).await;
        });
    }
}

#[async_trait]
impl Peer for InProcessPeer {
    fn id(&self) -> &PeerId {
        &self.id
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities::NODE_DATA
    }

    async fn request(&self, request_id: u64, request: PeerRequest) -> Result<(), PeerError> {
        let hashes = request.into_node_data_hashes(&self.id, MAX_HASHES_PER_REQUEST)?;
        if self.is_disconnected() {
            return Err(PeerError::Disconnected { peer: self.id.clone() });
        }
        let seen = self.link.requests.fetch_add(1, Ordering::SeqCst);
        let fault =
            if seen < self.behaviour.honest_requests { &Fault::Honest } else { &self.behaviour.fault };
        let plan = self.plan(fault, request_id, &hashes)?;
        let (peer, events, link) = (self.id.clone(), self.events.clone(), self.link.clone());
        tokio::spawn(async move {
            match plan {
                Plan::Answers { delay, request_id, answers } => {
                    if answers.is_empty() {
                        return;
                    }
                    if !delay.is_zero() {
                        tokio::time::sleep(delay).await;
                    }
                    for blobs in answers {
                        let _gate = link.gate.lock().await;
                        if link.closed.load(Ordering::SeqCst) {
                            return;
                        }
                        let response = PeerResponse::NodeData { blobs };
                        let event = PeerEvent::Response { peer: peer.clone(), request_id, response };
                        if !events.send(event).await {
                            return;
                        }
                    }
                }
                Plan::Disconnect { delay } => {
                    if !delay.is_zero() {
                        tokio::time::sleep(delay).await;
                    }
                    let cause = DisconnectCause::ConnectionLost { kind: io::ErrorKind::ConnectionReset };
                    link.close(peer, events, cause);
                }
            }
        });
        Ok(())
    }

    async fn disconnect(&self, reason: DisconnectReason) {
        self.link.close(self.id.clone(), self.events.clone(), DisconnectCause::Local { reason });
    }
}

/// A small, seedable, reproducible random generator (SplitMix64): enough for garbage bytes, and its
/// output never changes with a dependency's version.
struct SplitMix64(u64);

impl SplitMix64 {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn bytes(&mut self, len: usize) -> Vec<u8> {
        (0..len).map(|_| self.next() as u8).collect()
    }
}
