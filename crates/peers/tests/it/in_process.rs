//! The in-process peer: honest answers and each fault mode, in paused (virtual) time.

use std::sync::Arc;
use std::time::Duration;

use peers::{
    peer_events, Behaviour, DisconnectCause, DisconnectReason, Fault, InProcessPeer, Peer, PeerError,
    PeerEvent, PeerEventReceiver, PeerResponse, H256,
};
use tokio::time::Instant;

use crate::fixtures::*;

const LATENCY: Duration = Duration::from_millis(100);

fn peer_with(behaviour: Behaviour) -> (Arc<InProcessPeer>, PeerEventReceiver) {
    let (events, inbox) = peer_events(16);
    (InProcessPeer::with_behaviour("p", store(20), events, behaviour), inbox)
}

/// The next event, or `None` if nothing comes within an hour of virtual time.
async fn next(inbox: &mut PeerEventReceiver) -> Option<PeerEvent> {
    tokio::time::timeout(Duration::from_secs(3600), inbox.recv()).await.ok().flatten()
}

/// Requests `hashes` as request 7 and returns the blobs of the answer and when it came.
async fn answer(
    peer: &InProcessPeer,
    inbox: &mut PeerEventReceiver,
    hashes: Vec<H256>,
) -> (Vec<Vec<u8>>, Duration) {
    let start = Instant::now();
    peer.request_node_data(7, hashes).await.unwrap();
    match next(inbox).await {
        Some(PeerEvent::Response { peer: id, request_id: 7, response: PeerResponse::NodeData { blobs } }) => {
            assert_eq!(id.as_str(), "p");
            (blobs, start.elapsed())
        }
        other => panic!("expected an answer to request 7, got {other:?}"),
    }
}

fn hashes(range: std::ops::Range<u64>) -> Vec<H256> {
    range.map(node_hash).collect()
}

fn blobs(range: impl IntoIterator<Item = u64>) -> Vec<Vec<u8>> {
    range.into_iter().map(node_blob).collect()
}

#[tokio::test(start_paused = true)]
async fn honest_peer_answers_after_its_latency() {
    let (peer, mut inbox) = peer_with(Behaviour::honest().with_latency(LATENCY));
    let mut requested = hashes(0..3);
    requested.insert(1, missing_hash(0));
    requested.push(code_hash());
    let (got, after) = answer(&peer, &mut inbox, requested).await;
    let mut expected = blobs(0..3);
    expected.push(code_blob());
    assert_eq!(got, expected);
    assert_eq!(after, LATENCY);
    assert_eq!(peer.requests_received(), 1);
}

#[tokio::test(start_paused = true)]
async fn never_answer_sends_nothing() {
    let (peer, mut inbox) = peer_with(Behaviour::faulty(Fault::NeverAnswer));
    peer.request_node_data(7, hashes(0..3)).await.unwrap();
    assert_eq!(next(&mut inbox).await, None);
}

#[tokio::test(start_paused = true)]
async fn answer_empty_sends_no_blobs() {
    let (peer, mut inbox) = peer_with(Behaviour::faulty(Fault::AnswerEmpty).with_latency(LATENCY));
    let (got, after) = answer(&peer, &mut inbox, hashes(0..3)).await;
    assert!(got.is_empty());
    assert_eq!(after, LATENCY);
}

#[tokio::test(start_paused = true)]
async fn subsets_answer_every_other_or_the_first_few() {
    let (peer, mut inbox) = peer_with(Behaviour::faulty(Fault::EveryOther));
    assert_eq!(answer(&peer, &mut inbox, hashes(0..7)).await.0, blobs([0, 2, 4, 6]));
    let (peer, mut inbox) = peer_with(Behaviour::faulty(Fault::FirstOnly { count: 2 }));
    assert_eq!(answer(&peer, &mut inbox, hashes(0..7)).await.0, blobs([0, 1]));
    assert_eq!(answer(&peer, &mut inbox, hashes(5..6)).await.0, blobs([5]));
}

#[tokio::test(start_paused = true)]
async fn garbage_is_random_bytes_reproducible_by_seed() {
    let (peer, mut inbox) = peer_with(Behaviour::faulty(Fault::Garbage).with_seed(42));
    let first = answer(&peer, &mut inbox, hashes(0..5)).await.0;
    assert_eq!(first.len(), 5);
    assert!(first.iter().all(|blob| (1..=100).contains(&blob.len())));
    assert!(first.iter().all(|blob| !blobs(0..20).contains(blob)));
    let (twin, mut twin_inbox) = peer_with(Behaviour::faulty(Fault::Garbage).with_seed(42));
    assert_eq!(answer(&twin, &mut twin_inbox, hashes(0..5)).await.0, first);
    let (other, mut other_inbox) = peer_with(Behaviour::faulty(Fault::Garbage).with_seed(43));
    assert_ne!(answer(&other, &mut other_inbox, hashes(0..5)).await.0, first);
}

#[tokio::test(start_paused = true)]
async fn unrequested_answers_real_blobs_of_other_hashes() {
    let (peer, mut inbox) = peer_with(Behaviour::faulty(Fault::Unrequested));
    let requested = hashes(0..4);
    let got = answer(&peer, &mut inbox, requested).await.0;
    assert_eq!(got.len(), 4);
    let stored = blobs(0..20);
    for blob in &got {
        assert!(stored.contains(blob), "a real stored blob");
        assert!(!blobs(0..4).contains(blob), "but not a requested one");
    }
}

#[tokio::test(start_paused = true)]
async fn wrong_request_id_answers_under_an_id_never_sent() {
    let (peer, mut inbox) = peer_with(Behaviour::faulty(Fault::WrongRequestId));
    peer.request_node_data(7, hashes(0..2)).await.unwrap();
    match next(&mut inbox).await {
        Some(PeerEvent::Response { request_id, response: PeerResponse::NodeData { blobs: got }, .. }) => {
            assert_ne!(request_id, 7);
            assert_eq!(got, blobs(0..2));
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test(start_paused = true)]
async fn answer_twice_sends_the_answer_twice() {
    let (peer, mut inbox) = peer_with(Behaviour::faulty(Fault::AnswerTwice).with_latency(LATENCY));
    let (first, _) = answer(&peer, &mut inbox, hashes(0..2)).await;
    match next(&mut inbox).await {
        Some(PeerEvent::Response {
            request_id: 7,
            response: PeerResponse::NodeData { blobs: second },
            ..
        }) => assert_eq!(second, first),
        other => panic!("{other:?}"),
    }
    assert_eq!(next(&mut inbox).await, None);
}

#[tokio::test(start_paused = true)]
async fn disconnect_mid_request_drops_the_connection_and_refuses_requests() {
    let (peer, mut inbox) = peer_with(Behaviour::faulty(Fault::DisconnectMidRequest).with_latency(LATENCY));
    let start = Instant::now();
    peer.request_node_data(7, hashes(0..2)).await.unwrap();
    assert_eq!(
        next(&mut inbox).await,
        Some(PeerEvent::Disconnected {
            peer: "p".into(),
            cause: DisconnectCause::ConnectionLost { kind: std::io::ErrorKind::ConnectionReset }
        })
    );
    assert_eq!(start.elapsed(), LATENCY);
    assert!(peer.is_disconnected());
    let error = peer.request_node_data(8, hashes(0..2)).await.unwrap_err();
    assert!(matches!(error, PeerError::Disconnected { .. }));
    assert_eq!(next(&mut inbox).await, None, "nothing after Disconnected");
}

#[tokio::test(start_paused = true)]
async fn trickle_answers_late_with_few_items() {
    let delay = Duration::from_secs(30);
    let (peer, mut inbox) =
        peer_with(Behaviour::faulty(Fault::Trickle { delay, items: 2 }).with_latency(LATENCY));
    let (got, after) = answer(&peer, &mut inbox, hashes(0..10)).await;
    assert_eq!(got, blobs(0..2));
    assert_eq!(after, delay);
}

#[tokio::test(start_paused = true)]
async fn a_peer_can_turn_bad_after_some_honest_requests() {
    let (peer, mut inbox) = peer_with(Behaviour::faulty(Fault::AnswerEmpty).honest_for(2));
    assert_eq!(answer(&peer, &mut inbox, hashes(0..2)).await.0, blobs(0..2));
    assert_eq!(answer(&peer, &mut inbox, hashes(2..4)).await.0, blobs(2..4));
    assert!(answer(&peer, &mut inbox, hashes(4..6)).await.0.is_empty());
}

#[tokio::test(start_paused = true)]
async fn local_disconnect_cancels_pending_answers_and_is_reported_once() {
    let (peer, mut inbox) = peer_with(Behaviour::honest().with_latency(LATENCY));
    peer.request_node_data(7, hashes(0..2)).await.unwrap();
    peer.disconnect(DisconnectReason::Useless).await;
    peer.disconnect(DisconnectReason::Requested).await;
    assert_eq!(
        next(&mut inbox).await,
        Some(PeerEvent::Disconnected {
            peer: "p".into(),
            cause: DisconnectCause::Local { reason: DisconnectReason::Useless }
        })
    );
    assert_eq!(
        next(&mut inbox).await,
        None,
        "the pending answer is not delivered, and one Disconnected only"
    );
    assert!(peer.request_node_data(8, hashes(0..1)).await.is_err());
}

#[tokio::test(start_paused = true)]
async fn concurrent_requests_with_latency_arrive_in_virtual_time() {
    let (peer, mut inbox) = peer_with(Behaviour::honest().with_latency(Duration::from_secs(5)));
    let start = Instant::now();
    for id in 0..10u64 {
        peer.request_node_data(id, vec![node_hash(id)]).await.unwrap();
    }
    let mut seen = Vec::new();
    for _ in 0..10 {
        match next(&mut inbox).await {
            Some(PeerEvent::Response { request_id, response: PeerResponse::NodeData { blobs }, .. }) => {
                assert_eq!(blobs, vec![node_blob(request_id)]);
                seen.push(request_id);
            }
            other => panic!("{other:?}"),
        }
    }
    seen.sort();
    assert_eq!(seen, (0..10).collect::<Vec<_>>());
    assert_eq!(start.elapsed(), Duration::from_secs(5), "answered concurrently, not one after another");
}

#[tokio::test]
async fn too_large_requests_are_refused() {
    let (peer, _inbox) = peer_with(Behaviour::honest());
    let error = peer.request_node_data(1, vec![H256::zero(); 385]).await.unwrap_err();
    assert!(matches!(error, PeerError::RequestTooLarge { count: 385, .. }));
    assert!(!error.is_peer_fault());
    assert_eq!(peer.requests_received(), 0);
}
