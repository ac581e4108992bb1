//! The sync loop's decisions, one request at a time.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use kvdb::{KeyValueStore, MemoryStore, Namespace};
use peers::{Capabilities, DisconnectReason, Peer, PeerError, PeerId, PeerRequest, PeerSet, RequestKind};
use state_sync::{
    Checkpoint, DropReason, Finished, Outcome, Request, StateSync, StateSyncConfig, StateSyncError,
    StateSyncReport, TrackerLink,
};
use tokio::task::JoinHandle;
use trie_sync::{NodeHash, SyntheticConfig, SyntheticState};

/// A peer the tracker never really asks: the test answers for it.
struct ScriptedPeer {
    id: PeerId,
    disconnected: AtomicBool,
}

#[async_trait]
impl Peer for ScriptedPeer {
    fn id(&self) -> &PeerId {
        &self.id
    }
    fn capabilities(&self) -> Capabilities {
        Capabilities::NODE_DATA
    }
    async fn request(&self, _: u64, _: PeerRequest) -> Result<(), PeerError> {
        Ok(())
    }
    async fn disconnect(&self, _: DisconnectReason) {
        self.disconnected.store(true, Ordering::SeqCst);
    }
}

struct Harness {
    entries: BTreeMap<NodeHash, Vec<u8>>,
    root: NodeHash,
    local: Arc<dyn KeyValueStore>,
    peers: Vec<Arc<ScriptedPeer>>,
    set: PeerSet,
    link: TrackerLink,
    handle: state_sync::StateSyncHandle,
    task: JoinHandle<Result<StateSyncReport, StateSyncError>>,
}

impl Harness {
    fn start(peer_ids: &[&str], config: StateSyncConfig) -> Self {
        let state = SyntheticState::generate(&SyntheticConfig::new(11, 60)).expect("state");
        let mut entries = state.nodes.clone();
        entries.extend(state.codes.clone());
        let set = PeerSet::default();
        let peers: Vec<Arc<ScriptedPeer>> = peer_ids
            .iter()
            .map(|id| {
                let peer =
                    Arc::new(ScriptedPeer { id: PeerId::new(id), disconnected: AtomicBool::new(false) });
                set.register(peer.clone()).expect("register");
                peer
            })
            .collect();
        let local: Arc<dyn KeyValueStore> = Arc::new(MemoryStore::new());
        let (sync, link) = StateSync::new(state.root, local.clone(), set.clone(), config).expect("new");
        let handle = sync.handle();
        let task = tokio::spawn(sync.run());
        Self { entries, root: state.root, local, peers, set, link, handle, task }
    }

    async fn next(&mut self) -> Request {
        self.link.requests.recv().await.expect("a request")
    }

    fn honest(&self, request: &Request) -> Outcome {
        let blobs = request.hashes().iter().filter_map(|h| self.entries.get(h).cloned()).collect();
        Outcome::Delivered { blobs, elapsed: Duration::from_millis(10) }
    }

    async fn finish(&self, request: Request, outcome: Outcome) {
        self.link.deliveries.reserve().await.expect("sync running").send(Finished { request, outcome });
    }

    /// Answers every request honestly until the sync ends.
    async fn serve_honestly(mut self) -> (Result<StateSyncReport, StateSyncError>, Arc<dyn KeyValueStore>) {
        while let Some(request) = self.link.requests.recv().await {
            let outcome = self.honest(&request);
            let Some(permit) = self.link.deliveries.reserve().await else { break };
            permit.send(Finished { request, outcome });
        }
        (self.task.await.expect("no panic"), self.local)
    }
}

#[tokio::test(start_paused = true)]
async fn a_hash_failed_with_every_peer_ends_the_sync_naming_it() {
    let mut harness = Harness::start(&["a", "b"], StateSyncConfig::default());
    let first = harness.next().await;
    assert_eq!((first.peer_id().as_str(), first.hashes()), ("a", &[harness.root][..]));
    let empty = Outcome::Delivered { blobs: vec![], elapsed: Duration::from_millis(5) };
    harness.finish(first, empty.clone()).await;
    let second = harness.next().await;
    assert_eq!(second.peer_id().as_str(), "b", "a failed the root: it is not asked again");
    assert_eq!(second.hashes(), &[harness.root][..]);
    harness.finish(second, empty).await;
    match harness.task.await.expect("no panic") {
        Err(StateSyncError::NodeUnavailable { hash, tries: 2, peers: 2 }) => assert_eq!(hash, harness.root),
        other => panic!("expected NodeUnavailable, got {other:?}"),
    }
}

#[tokio::test(start_paused = true)]
async fn a_timed_out_request_of_two_items_or_fewer_drops_the_peer() {
    let mut harness = Harness::start(&["a", "b"], StateSyncConfig::default());
    let first = harness.next().await;
    assert_eq!(first.len(), 1);
    harness.finish(first, Outcome::TimedOut { elapsed: Duration::from_secs(10) }).await;
    let second = harness.next().await;
    assert_eq!(second.peer_id().as_str(), "b");
    assert!(harness.peers[0].disconnected.load(Ordering::SeqCst), "the stalling peer is disconnected");
    let outcome = harness.honest(&second);
    harness.finish(second, outcome).await;
    let (result, local) = harness.serve_honestly().await;
    let report = result.expect("b completes the sync");
    assert_eq!(report.peers_dropped, vec![(PeerId::new("a"), DropReason::Stalling { items: 1 })]);
    assert!(local.count(Namespace::TrieNodes).unwrap() > 0);
}

#[tokio::test(start_paused = true)]
async fn garbage_drops_the_peer_and_its_hashes_go_to_another() {
    let mut harness = Harness::start(&["a", "b"], StateSyncConfig::default());
    let first = harness.next().await;
    let garbage = Outcome::Delivered { blobs: vec![vec![0xde, 0xad], vec![1; 40]], elapsed: Duration::ZERO };
    harness.finish(first, garbage).await;
    let second = harness.next().await;
    assert_eq!((second.peer_id().as_str(), second.hashes()), ("b", &[harness.root][..]));
    assert_eq!(harness.handle.progress().unexpected, 2);
    assert_eq!(harness.handle.progress().retried, 1);
    let outcome = harness.honest(&second);
    harness.finish(second, outcome).await;
    let entries = harness.entries.len() as u64;
    let (result, local) = harness.serve_honestly().await;
    let report = result.expect("sync");
    assert_eq!(report.peers_dropped, vec![(PeerId::new("a"), DropReason::UnrequestedData { blobs: 2 })]);
    assert_eq!(local.count(Namespace::TrieNodes).unwrap() + local.count(Namespace::Code).unwrap(), entries);
}

#[tokio::test(start_paused = true)]
async fn partial_answers_let_the_peer_be_asked_again() {
    let mut harness = Harness::start(&["a"], StateSyncConfig::default());
    let root = harness.next().await;
    let outcome = harness.honest(&root);
    harness.finish(root, outcome).await;
    let children = harness.next().await;
    assert!(!children.is_empty());
    // Deliver only the first child: the peer delivered something, so it may be asked for the rest.
    let Outcome::Delivered { mut blobs, elapsed } = harness.honest(&children) else { unreachable!() };
    blobs.truncate(1);
    let rest: Vec<NodeHash> = children.hashes()[1..].to_vec();
    harness.finish(children, Outcome::Delivered { blobs, elapsed }).await;
    if !rest.is_empty() {
        let again = harness.next().await;
        assert_eq!(again.peer_id().as_str(), "a");
        assert!(
            rest.iter().all(|h| again.hashes().contains(h)),
            "the undelivered hashes are asked again first"
        );
        let outcome = harness.honest(&again);
        harness.finish(again, outcome).await;
    }
    let (result, _) = harness.serve_honestly().await;
    assert!(result.expect("sync").peers_dropped.is_empty());
}

#[tokio::test(start_paused = true)]
async fn commits_past_the_threshold_and_on_cancel_with_the_checkpoint() {
    let config = StateSyncConfig { commit_threshold: 1, ..StateSyncConfig::default() };
    let mut harness = Harness::start(&["a"], config);
    for _ in 0..6 {
        let request = harness.next().await;
        let outcome = harness.honest(&request);
        harness.finish(request, outcome).await;
    }
    // Let the sync process the last delivery (and commit).
    let request = harness.next().await;
    let stored = |store: &dyn KeyValueStore| {
        store.count(Namespace::TrieNodes).unwrap() + store.count(Namespace::Code).unwrap()
    };
    let checkpoint = Checkpoint::read(harness.local.as_ref()).unwrap().expect("committed with a checkpoint");
    assert_eq!(checkpoint.entries(), stored(harness.local.as_ref()));
    assert!(checkpoint.entries() > 0);
    harness.handle.cancel();
    harness.handle.cancel();
    drop(request);
    harness.handle.done().await;
    assert!(harness.handle.is_done());
    let local = harness.local.clone();
    let result = harness.task.await.expect("no panic");
    assert!(matches!(result, Err(StateSyncError::Cancelled)), "{result:?}");
    let last = Checkpoint::read(local.as_ref()).unwrap().expect("checkpoint");
    assert_eq!(last.entries(), stored(local.as_ref()), "the final commit counts what it stores");
    assert!(!last.complete);
}

/// With a threshold never reached, nothing is stored while the sync runs; cancelling forces the
/// final commit, so everything processed whose subtrie is complete is kept (parents still waiting for
/// children are not), and the checkpoint counts it.
#[tokio::test(start_paused = true)]
async fn cancel_forces_a_commit_of_everything_processed() {
    let config = StateSyncConfig { commit_threshold: usize::MAX, ..StateSyncConfig::default() };
    let mut harness = Harness::start(&["a"], config);
    let stored = |store: &dyn KeyValueStore| {
        store.count(Namespace::TrieNodes).unwrap() + store.count(Namespace::Code).unwrap()
    };
    for _ in 0..4 {
        let request = harness.next().await;
        let outcome = harness.honest(&request);
        harness.finish(request, outcome).await;
    }
    // The fifth request means the fourth delivery was processed.
    let request = harness.next().await;
    assert_eq!(stored(harness.local.as_ref()), 0, "nothing committed below the threshold");
    let processed = harness.handle.progress().processed;
    assert!(processed > 0);
    harness.handle.cancel();
    drop(request);
    let local = harness.local.clone();
    let result = harness.task.await.expect("no panic");
    assert!(matches!(result, Err(StateSyncError::Cancelled)), "{result:?}");
    let checkpoint = Checkpoint::read(local.as_ref()).unwrap().expect("the forced commit wrote a checkpoint");
    let stored = stored(local.as_ref());
    assert!(stored > 0 && stored <= processed, "{stored} stored of {processed} processed");
    assert_eq!(checkpoint.entries(), stored);
    assert_eq!(checkpoint.processed, processed);
    assert!(!checkpoint.complete);
}

/// A delivery the tracker handed over but the loop never took (it saw the cancel first) still sets
/// its peer idle, credited with what it delivered: an ended sync leaves no peer busy.
#[tokio::test(start_paused = true)]
async fn a_delivery_left_in_the_channel_when_the_sync_ends_releases_its_peer() {
    let mut harness = Harness::start(&["a"], StateSyncConfig::default());
    let request = harness.next().await;
    let id = PeerId::new("a");
    assert!(
        !harness.set.stats(&id, RequestKind::NodeData).expect("registered").idle,
        "busy with the request"
    );
    // Handed over, then cancelled, before the sync task runs again: its loop takes the cancel first.
    let outcome = harness.honest(&request);
    harness.finish(request, outcome).await;
    harness.handle.cancel();
    let result = harness.task.await.expect("no panic");
    assert!(matches!(result, Err(StateSyncError::Cancelled)), "{result:?}");
    let stats = harness.set.stats(&id, RequestKind::NodeData).expect("registered");
    assert!(stats.idle, "released");
    assert!(stats.items_per_sec > 0.0, "credited with what it delivered");
}
