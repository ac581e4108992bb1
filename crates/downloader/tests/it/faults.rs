//! Every fault of the in-process peer, alone and next to an honest peer.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use downloader::{DownloadError, Downloader, DownloaderConfig, DropReason};
use kvdb::{KeyValueStore, MemoryStore};
use peers::{
    Behaviour, Capabilities, DisconnectReason, Fault, Peer, PeerError, PeerId, PeerRequest, RequestKind,
};
use tokio::time::Instant;

use crate::fixtures::*;

const LATENCY: Duration = Duration::from_millis(100);

/// How a faulty peer must end up next to an honest one.
#[derive(Debug, Clone, Copy)]
enum Fate {
    /// Dropped, for a reason matching the predicate.
    Dropped(fn(&DropReason) -> bool),
    /// Kept, but with its throughput estimate at zero (asked for one item at a time).
    Starved,
    /// Kept and useful (it delivers, if less or later than asked).
    Useful,
}

fn faults() -> Vec<(&'static str, Fault, Fate)> {
    use Fate::*;
    vec![
        ("never-answer", Fault::NeverAnswer, Dropped(|r| matches!(r, DropReason::Stalling { .. }))),
        ("answer-empty", Fault::AnswerEmpty, Starved),
        ("every-other", Fault::EveryOther, Useful),
        ("first-only", Fault::FirstOnly { count: 1 }, Useful),
        ("garbage", Fault::Garbage, Dropped(|r| matches!(r, DropReason::UnrequestedData { .. }))),
        ("unrequested", Fault::Unrequested, Dropped(|r| matches!(r, DropReason::UnrequestedData { .. }))),
        ("wrong-request-id", Fault::WrongRequestId, Dropped(|r| matches!(r, DropReason::Stalling { .. }))),
        ("answer-twice", Fault::AnswerTwice, Useful),
        (
            "disconnect",
            Fault::DisconnectMidRequest,
            Dropped(|r| matches!(r, DropReason::Disconnected { .. })),
        ),
        ("trickle-slow", Fault::Trickle { delay: Duration::from_secs(1), items: 2 }, Useful),
        (
            "trickle-stalling",
            Fault::Trickle { delay: Duration::from_secs(600), items: 1 },
            Dropped(|r| matches!(r, DropReason::Stalling { .. })),
        ),
    ]
}

/// Without hedging: these tests watch how each fault is detected (a timeout, a stall, junk), and
/// hedging would finish the sync first, before a silent or stalling peer is found out. Hedging has
/// its own tests (`hedging.rs`).
fn config() -> DownloaderConfig {
    DownloaderConfig {
        no_peers_timeout: Duration::from_secs(30),
        hedge: false,
        ..DownloaderConfig::default()
    }
}

#[tokio::test(start_paused = true)]
async fn each_fault_next_to_an_honest_peer() {
    let state = synthetic(3, 300);
    for (name, fault, fate) in faults() {
        // The faulty peer first in id order, so it wins ties for work.
        let behaviours = [
            ("a-faulty", Behaviour::faulty(fault).with_latency(LATENCY).with_seed(9)),
            ("b-honest", Behaviour::honest().with_latency(LATENCY)),
        ];
        let (result, local, handles, peers) = sync_from(&state, &behaviours, config()).await;
        let report = result.unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_equals_source(local.as_ref(), &state);
        assert!(handles[0].requests_received() > 0, "{name}: the faulty peer was never asked");
        let dropped: Vec<_> = report.peers_dropped.iter().filter(|(p, _)| p.as_str() == "a-faulty").collect();
        match fate {
            Fate::Dropped(reason) => {
                assert!(
                    dropped.len() == 1 && reason(&dropped[0].1),
                    "{name}: expected a drop, got {:?}",
                    report.peers_dropped
                );
                assert!(peers.get(&"a-faulty".into()).is_none(), "{name}: still registered");
            }
            Fate::Starved => {
                assert!(dropped.is_empty(), "{name}: dropped {dropped:?}");
                let stats = peers.stats(&"a-faulty".into(), RequestKind::NodeData).expect("registered");
                assert_eq!(stats.items_per_sec, 0.0, "{name}: not starved");
            }
            Fate::Useful => assert!(dropped.is_empty(), "{name}: dropped {dropped:?}"),
        }
        assert!(
            report.peers_dropped.iter().all(|(p, _)| p.as_str() != "b-honest"),
            "{name}: honest peer dropped: {:?}",
            report.peers_dropped
        );
    }
}

#[tokio::test(start_paused = true)]
async fn each_fault_alone_ends_in_bounded_time_storing_only_verified_data() {
    let state = synthetic(4, 100);
    for (name, fault, fate) in faults() {
        let behaviours = [("faulty", Behaviour::faulty(fault).with_latency(LATENCY).with_seed(5))];
        let started = Instant::now();
        let (result, local, _, _) = sync_from(&state, &behaviours, config()).await;
        let took = started.elapsed();
        assert!(took < Duration::from_secs(30 * 60), "{name}: took {took:?} of virtual time");
        assert_only_verified(local.as_ref(), &state);
        match (fate, result) {
            (Fate::Useful, Ok(_)) => assert_equals_source(local.as_ref(), &state),
            (Fate::Useful, Err(e)) => panic!("{name}: a useful peer alone must complete: {e}"),
            (Fate::Dropped(_), Err(DownloadError::NoPeers { .. })) => {}
            (Fate::Starved, Err(DownloadError::NodeUnavailable { hash, .. })) => {
                assert_eq!(hash, state.root, "{name}: the first node asked for is the root");
            }
            (fate, result) => panic!("{name}: {fate:?} peer alone ended with {result:?}"),
        }
    }
}

/// Many faulty peers of every kind with two honest ones: the sync completes.
#[tokio::test(start_paused = true)]
async fn all_faults_mixed_with_two_honest_peers() {
    let state = synthetic(5, 500);
    let names: Vec<String> = faults().iter().map(|(name, _, _)| format!("faulty-{name}")).collect();
    let mut behaviours: Vec<(&str, Behaviour)> = faults()
        .into_iter()
        .zip(&names)
        .map(|((_, fault, _), name)| (name.as_str(), Behaviour::faulty(fault).with_latency(LATENCY)))
        .collect();
    behaviours.push(("honest-1", Behaviour::honest().with_latency(LATENCY)));
    behaviours.push(("honest-2", Behaviour::honest().with_latency(Duration::from_millis(250))));
    let (result, local, _, _) = sync_from(&state, &behaviours, config()).await;
    let report = result.expect("sync completes with honest peers present");
    assert_equals_source(local.as_ref(), &state);
    assert!(report.peers_dropped.iter().all(|(p, _)| p.as_str().starts_with("faulty")));
    assert!(report.peers_dropped.len() >= 5, "{:?}", report.peers_dropped);
}

/// No peer has one code blob: the sync fails naming it, in bounded virtual time.
#[tokio::test(start_paused = true)]
async fn a_node_no_peer_has_fails_the_sync_naming_it() {
    let mut state = shared_storage_and_code();
    let (&missing, _) = state.codes.iter().next().expect("a code blob");
    let full = state.clone();
    state.codes.remove(&missing);
    let source = state.store();
    let (peers, inbox, _) = serve(&source, &honest(4, LATENCY));
    let local: std::sync::Arc<dyn kvdb::KeyValueStore> = std::sync::Arc::new(kvdb::MemoryStore::new());
    let downloader = downloader::Downloader::new(local.clone(), peers, inbox, config());
    let started = Instant::now();
    let result = downloader.sync_state(full.root).wait().await;
    assert!(started.elapsed() < Duration::from_secs(300), "took {:?}", started.elapsed());
    match result {
        Err(error @ DownloadError::NodeUnavailable { .. }) => {
            assert_eq!(error.hash(), Some(missing));
            assert!(error.is_retryable());
            assert!(error.to_string().contains(&format!("{missing:?}")), "{error}");
        }
        other => panic!("expected NodeUnavailable, got {other:?}"),
    }
    assert_only_verified(local.as_ref(), &full);
}

/// A peer set that never has a peer: NoPeers after the configured time.
#[tokio::test(start_paused = true)]
async fn no_peers_at_all_ends_with_no_peers() {
    let state = one_account();
    let started = Instant::now();
    let (result, _, _, _) = sync_from(&state, &[], config()).await;
    assert!(matches!(result, Err(DownloadError::NoPeers { .. })), "{result:?}");
    assert!(started.elapsed() <= Duration::from_secs(32), "{:?}", started.elapsed());
}

/// Peers that answer but never with anything useful are caught by the stall detector (here before
/// every peer has failed the root, which would end the sync with NodeUnavailable at ~4 s).
#[tokio::test(start_paused = true)]
async fn the_stall_detector_ends_a_sync_without_progress() {
    let state = synthetic(6, 100);
    let behaviours: Vec<(&str, Behaviour)> = ["p0", "p1", "p2", "p3"]
        .into_iter()
        .map(|id| (id, Behaviour::faulty(Fault::AnswerEmpty).with_latency(Duration::from_secs(1))))
        .collect();
    let config = DownloaderConfig {
        stall_requests: 2,
        stall_time: Duration::from_millis(500),
        stall_check_interval: Duration::from_millis(100),
        ..config()
    };
    let started = Instant::now();
    let (result, _, _, _) = sync_from(&state, &behaviours, config).await;
    match result {
        Err(error @ DownloadError::Stalled { .. }) => {
            assert!(error.is_retryable());
            let DownloadError::Stalled { requests, idle, .. } = error else { unreachable!() };
            assert!(requests >= 2 && idle >= Duration::from_millis(500), "{requests} {idle:?}");
        }
        other => panic!("expected Stalled, got {other:?}"),
    }
    assert!(started.elapsed() < Duration::from_secs(3), "{:?}", started.elapsed());
}

/// A requested node whose stored bytes hash correctly but are not a node: no peer can forge those, so
/// the state is corrupt. The sync ends at once naming it, and no peer is blamed.
#[tokio::test(start_paused = true)]
async fn an_undecodable_node_ends_the_sync_as_corrupt_state_without_blaming_peers() {
    // A three-item list: well-formed RLP, but neither a branch (17 items) nor a short node (2).
    let bad = vec![0xc3, 0x01, 0x02, 0x03];
    let bad_hash = trie_sync::keccak256(&bad);
    // A branch whose first two children are that blob.
    let mut payload = Vec::new();
    for slot in 0..17 {
        if slot < 2 {
            payload.push(0xa0);
            payload.extend_from_slice(bad_hash.as_bytes());
        } else {
            payload.push(0x80);
        }
    }
    let mut branch = vec![0xf8, payload.len() as u8];
    branch.extend(payload);
    let root = trie_sync::keccak256(&branch);
    let state =
        State { root, nodes: [(root, branch), (bad_hash, bad)].into_iter().collect(), ..State::default() };
    let started = Instant::now();
    let (result, local, handles, peers) = sync_from(&state, &honest(2, LATENCY), config()).await;
    assert!(started.elapsed() < Duration::from_secs(5), "took {:?}", started.elapsed());
    match result {
        Err(error @ DownloadError::CorruptState { .. }) => {
            assert_eq!(error.hash(), Some(bad_hash));
            assert!(error.is_fatal() && !error.is_retryable(), "{error}");
        }
        other => panic!("expected CorruptState, got {other:?}"),
    }
    assert_eq!(peers.len(), 2, "no peer dropped for relaying the corrupt state");
    assert!(handles.iter().all(|peer| !peer.is_disconnected()), "no peer disconnected");
    assert!(!stored_keys(local.as_ref()).contains(&(false, bad_hash)), "the bad blob is not stored");
}

/// A peer to which no request can be sent, for a reason that is not a lost connection (so the
/// tracker does not unregister it by itself).
struct UnsendablePeer {
    id: PeerId,
    disconnected: AtomicBool,
}

impl UnsendablePeer {
    fn new(id: &str) -> Arc<Self> {
        Arc::new(Self { id: PeerId::new(id), disconnected: AtomicBool::new(false) })
    }
}

#[async_trait::async_trait]
impl Peer for UnsendablePeer {
    fn id(&self) -> &PeerId {
        &self.id
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities::NODE_DATA
    }

    async fn request(&self, _: u64, request: PeerRequest) -> Result<(), PeerError> {
        Err(PeerError::RequestTooLarge { peer: self.id.clone(), count: request.items(), max: 0 })
    }

    async fn disconnect(&self, _: DisconnectReason) {
        self.disconnected.store(true, Ordering::SeqCst);
    }
}

/// A peer whose sends always fail is dropped rather than left busy forever: alone, the sync ends
/// with NoPeers instead of hanging.
#[tokio::test(start_paused = true)]
async fn a_peer_that_cannot_be_sent_to_alone_is_dropped_and_the_sync_ends() {
    let state = synthetic(14, 50);
    let (peers, inbox, _) = serve(&state.store(), &[]);
    let unsendable = UnsendablePeer::new("unsendable");
    peers.register(unsendable.clone()).expect("register");
    let local: Arc<dyn KeyValueStore> = Arc::new(MemoryStore::new());
    let downloader = Downloader::new(local, peers.clone(), inbox, config());
    let result = tokio::time::timeout(Duration::from_secs(3600), downloader.sync_state(state.root).wait())
        .await
        .expect("the sync ends");
    assert!(matches!(result, Err(DownloadError::NoPeers { .. })), "{result:?}");
    assert!(unsendable.disconnected.load(Ordering::SeqCst), "disconnected");
    assert!(peers.is_empty(), "unregistered");
}

/// Next to an honest peer, the unsendable one is dropped (as SendFailed, not the peer's fault) and
/// the sync completes.
#[tokio::test(start_paused = true)]
async fn a_peer_that_cannot_be_sent_to_is_dropped_next_to_an_honest_one() {
    let state = synthetic(15, 200);
    let (peers, inbox, _) = serve(&state.store(), &honest(1, LATENCY));
    // First in id order: it is asked for the root first.
    let unsendable = UnsendablePeer::new("a-unsendable");
    peers.register(unsendable.clone()).expect("register");
    let local: Arc<dyn KeyValueStore> = Arc::new(MemoryStore::new());
    let downloader = Downloader::new(local.clone(), peers.clone(), inbox, config());
    let report = downloader.sync_state(state.root).wait().await.expect("the honest peer completes it");
    assert_equals_source(local.as_ref(), &state);
    assert_eq!(report.peers_dropped, vec![(PeerId::new("a-unsendable"), DropReason::SendFailed)]);
    assert!(!DropReason::SendFailed.is_peer_fault());
    assert!(unsendable.disconnected.load(Ordering::SeqCst));
    assert_eq!(peers.ids(), vec![PeerId::new("honest-0")]);
}

/// An answer that arrives after its sync ended is hashed before its peer is credited: junk does not
/// raise a peer's capacity.
#[tokio::test(start_paused = true)]
async fn junk_answered_during_spindown_is_not_credited() {
    let state = synthetic(16, 50);
    let behaviours = [("garbage", Behaviour::faulty(Fault::Garbage).with_latency(LATENCY))];
    let (peers, inbox, handles) = serve(&state.store(), &behaviours);
    let local: Arc<dyn KeyValueStore> = Arc::new(MemoryStore::new());
    let downloader = Downloader::new(local, peers.clone(), inbox, config());
    let sync = downloader.sync_state(state.root);
    while handles[0].requests_received() == 0 {
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    sync.cancel();
    assert!(matches!(sync.wait().await, Err(DownloadError::Cancelled { .. })));
    let id = PeerId::new("garbage");
    // The answer comes after the latency, while the fetcher spins down; then the peer is idle.
    let idle = async {
        while !peers.stats(&id, RequestKind::NodeData).expect("registered").idle {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    };
    tokio::time::timeout(Duration::from_secs(600), idle).await.expect("the peer is set idle after spindown");
    assert_eq!(
        peers.stats(&id, RequestKind::NodeData).expect("registered").items_per_sec,
        0.0,
        "junk credited"
    );
}
