//! One-off requests through the peer layer: leases, request ids from the set, answers matched.

use std::time::Duration;

use peers::{
    peer_events, Behaviour, Exchange, Fault, InProcessPeer, PeerError, PeerId, PeerRequest, PeerResponse,
    PeerSet, Reply, RequestKind,
};
use tokio::time::Instant;

use crate::fixtures::*;

#[tokio::test(start_paused = true)]
async fn answers_are_matched_to_their_request_and_the_lease_ends_with_them() {
    let (events, mut inbox) = peer_events(16);
    let set = PeerSet::default();
    set.register(InProcessPeer::new("honest", store(4), events.clone())).unwrap();
    // Answers under a request id it was never sent: the exchange must not take them.
    let liar = Behaviour::faulty(Fault::WrongRequestId);
    set.register(InProcessPeer::with_behaviour("liar", store(4), events, liar)).unwrap();
    let mut exchange = Exchange::new(&set, &mut inbox);
    for id in ["honest", "liar"] {
        exchange.send(&PeerId::from(id), PeerRequest::node_data(vec![node_hash(1)])).await.unwrap();
    }
    // Busy while its request is outstanding: a second one is refused before anything is sent.
    let again = exchange.send(&"honest".into(), PeerRequest::node_data(vec![node_hash(2)])).await;
    assert!(matches!(again, Err(PeerError::Busy { kind: RequestKind::NodeData, .. })), "{again:?}");
    let unknown = exchange.send(&"nobody".into(), PeerRequest::node_data(vec![node_hash(2)])).await;
    assert!(matches!(unknown, Err(PeerError::Disconnected { .. })), "{unknown:?}");
    let snap = PeerRequest::ByteCodes { hashes: vec![code_hash()], bytes: 1 << 20 };
    let unsupported = exchange.send(&"liar".into(), snap).await;
    assert!(matches!(unsupported, Err(PeerError::Unsupported { kind: RequestKind::ByteCodes, .. })));

    let deadline = Instant::now() + Duration::from_secs(5);
    match exchange.next(deadline).await {
        Some(Reply::Answered { peer, response, .. }) => {
            assert_eq!(peer.as_str(), "honest");
            assert_eq!(response, PeerResponse::NodeData { blobs: vec![node_blob(1)] });
        }
        other => panic!("expected the honest answer, got {other:?}"),
    }
    assert_eq!(exchange.outstanding(), 1, "the liar's answer matched nothing");
    assert_eq!(exchange.next(deadline).await, None, "nothing more before the deadline");
    assert_eq!(Instant::now(), deadline);
    drop(exchange);
    assert!(set.stats(&"honest".into(), RequestKind::NodeData).unwrap().idle);
    assert!(set.stats(&"liar".into(), RequestKind::NodeData).unwrap().idle, "given up: released");
}

#[tokio::test(start_paused = true)]
async fn a_peer_that_disconnects_ends_its_request_and_leaves_the_set() {
    let (events, mut inbox) = peer_events(16);
    let set = PeerSet::default();
    let gone = Behaviour::faulty(Fault::DisconnectMidRequest);
    set.register(InProcessPeer::with_behaviour("gone", store(2), events, gone)).unwrap();
    let mut exchange = Exchange::new(&set, &mut inbox);
    exchange.send(&"gone".into(), PeerRequest::node_data(vec![node_hash(0)])).await.unwrap();
    let reply = exchange.next(Instant::now() + Duration::from_secs(5)).await;
    assert!(
        matches!(reply, Some(Reply::Disconnected { ref peer, .. }) if peer.as_str() == "gone"),
        "{reply:?}"
    );
    assert_eq!(exchange.outstanding(), 0);
    assert!(set.is_empty(), "unregistered");
}
