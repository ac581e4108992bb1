//! The node-data server, driven by a raw client.

use std::sync::Arc;
use std::time::Duration;

use tokio::io::AsyncWriteExt;

use kvdb::{KeyValueStore, MemoryStore, Namespace, WriteBatch};
use peers::{
    peer_events, DisconnectReason, Message, PeerError, ServerConfig, TcpConfig, TcpPeer, H256,
    MAX_FRAME_BYTES, MAX_HASHES_PER_REQUEST, MAX_REQUEST_FRAME_BYTES,
};
use tokio::time::Instant;

use crate::fixtures::*;

#[tokio::test]
async fn answers_in_request_order_omitting_missing_and_serving_code() {
    let server = serve(store(10), ServerConfig::default()).await;
    let mut client = RawClient::handshaken(server.addr).await;
    let hashes =
        vec![node_hash(7), missing_hash(0), code_hash(), node_hash(2), missing_hash(1), node_hash(7)];
    client.send(&Message::GetNodeData { request_id: 99, hashes }).await;
    let expected = vec![node_blob(7), code_blob(), node_blob(2), node_blob(7)];
    assert_eq!(client.recv().await, Received::Message(Message::NodeData { request_id: 99, blobs: expected }));
    // Several requests on one connection, answered in order.
    for id in 0..5u64 {
        client.send(&Message::GetNodeData { request_id: id, hashes: vec![node_hash(id)] }).await;
    }
    for id in 0..5u64 {
        let answer = Message::NodeData { request_id: id, blobs: vec![node_blob(id)] };
        assert_eq!(client.recv().await, Received::Message(answer));
    }
    // Nothing held: an empty answer, not an error.
    client.send(&Message::GetNodeData { request_id: 5, hashes: vec![missing_hash(3)] }).await;
    assert_eq!(client.recv().await, Received::Message(Message::NodeData { request_id: 5, blobs: vec![] }));
    server.shut_down().await;
}

#[tokio::test]
async fn answers_stop_before_2_mib() {
    let store = Arc::new(MemoryStore::new());
    let mut batch = WriteBatch::new();
    for i in 0..10u8 {
        batch.put(Namespace::TrieNodes, H256::repeat_byte(i).as_bytes().to_vec(), vec![i; 300 * 1024]);
    }
    store.write(batch).unwrap();
    let server = serve(store, ServerConfig::default()).await;
    let mut client = RawClient::handshaken(server.addr).await;
    let hashes: Vec<H256> = (0..10u8).map(H256::repeat_byte).collect();
    client.send(&Message::GetNodeData { request_id: 1, hashes: hashes.clone() }).await;
    match client.recv().await {
        Received::Message(Message::NodeData { request_id: 1, blobs }) => {
            assert_eq!(blobs.len(), 6, "6 x 300 KiB fit in 2 MiB, 7 do not");
            assert_eq!(blobs, (0..6u8).map(|i| vec![i; 300 * 1024]).collect::<Vec<_>>());
        }
        other => panic!("{other:?}"),
    }
    // The requester asks again for the rest.
    client.send(&Message::GetNodeData { request_id: 2, hashes: hashes[6..].to_vec() }).await;
    match client.recv().await {
        Received::Message(Message::NodeData { request_id: 2, blobs }) => assert_eq!(blobs.len(), 4),
        other => panic!("{other:?}"),
    }
    server.shut_down().await;
}

#[tokio::test]
async fn more_than_384_hashes_is_a_breach() {
    let server = serve(store(1), ServerConfig::default()).await;
    let mut client = RawClient::handshaken(server.addr).await;
    let hashes = vec![node_hash(0); MAX_HASHES_PER_REQUEST + 1];
    client.send(&Message::GetNodeData { request_id: 1, hashes }).await;
    client.expect_disconnect(DisconnectReason::ProtocolBreach).await;
    server.shut_down().await;
}

#[tokio::test]
async fn breaches_close_the_connection() {
    let server = serve(store(1), ServerConfig::default()).await;
    let bad_payloads: Vec<Vec<u8>> = vec![
        vec![0x02, 0xc0],       // unknown code
        vec![0x0d, 0xc5, 0x01], // truncated RLP
        {
            let mut p = Message::GetNodeData { request_id: 1, hashes: vec![] }.encode();
            p.push(0); // trailing byte
            p
        },
        Message::NodeData { request_id: 1, blobs: vec![] }.encode(), // servers are not answered
        status(1, 1).encode(),                                       // Status twice
    ];
    for payload in bad_payloads {
        let mut client = RawClient::handshaken(server.addr).await;
        client.send_payload(&payload).await;
        client.expect_disconnect(DisconnectReason::ProtocolBreach).await;
    }
    server.shut_down().await;
}

#[tokio::test]
async fn an_oversized_frame_is_refused_without_reading_its_body() {
    let server = serve(store(1), ServerConfig::default()).await;
    let mut client = RawClient::handshaken(server.addr).await;
    // Announce 16 MiB + 1 and send nothing more, keeping the connection open: a server that tried to
    // read the body would wait forever (recv panics after 10 s).
    client.send_raw(&(MAX_FRAME_BYTES as u32 + 1).to_be_bytes()).await;
    client.expect_disconnect(DisconnectReason::ProtocolBreach).await;
    server.shut_down().await;
}

#[tokio::test]
async fn a_client_closing_inside_a_frame_is_just_gone() {
    let server = serve(store(1), ServerConfig::default()).await;
    let mut client = RawClient::handshaken(server.addr).await;
    client.send_raw(&[0, 0, 0, 100, 0x0d, 0xc0]).await;
    client.stream.shutdown().await.unwrap();
    // EOF inside a frame is a crashed peer, not a hostile one: no Disconnect{protocol breach}, just
    // the connection closing.
    assert_eq!(client.recv().await, Received::Closed);
    server.shut_down().await;
}

/// Longer than any timeout under test: a test waiting this long has failed.
const PATIENCE: Duration = Duration::from_secs(600);

#[tokio::test(start_paused = true)]
async fn a_client_silent_between_requests_is_told_timeout() {
    let server = serve(store(2), ServerConfig::default()).await;
    assert_eq!(ServerConfig::default().tcp.idle_timeout, Duration::from_secs(60));
    let mut client = RawClient::handshaken(server.addr).await;
    // Requests 40 s apart keep the connection: the idle timeout counts from the last request.
    for request_id in 1..=3 {
        tokio::time::sleep(Duration::from_secs(40)).await;
        client.send(&Message::GetNodeData { request_id, hashes: vec![node_hash(0)] }).await;
        match client.recv().await {
            Received::Message(Message::NodeData { request_id: id, blobs }) => {
                assert_eq!((id, blobs), (request_id, vec![node_blob(0)]))
            }
            other => panic!("{other:?}"),
        }
    }
    let quiet_since = Instant::now();
    assert_eq!(
        client.recv_within(PATIENCE).await,
        Received::Message(Message::Disconnect { reason: DisconnectReason::Timeout })
    );
    assert_eq!(quiet_since.elapsed().as_secs(), 60);
    assert_eq!(client.recv().await, Received::Closed);
    server.shut_down().await;
}

#[tokio::test(start_paused = true)]
async fn the_idle_timeout_is_configurable_and_frees_the_slot() {
    let tcp = TcpConfig { idle_timeout: Duration::from_secs(5), ..TcpConfig::default() };
    let server = serve(store(1), ServerConfig { tcp, max_peers: 1 }).await;
    let mut silent = RawClient::handshaken(server.addr).await;
    let start = Instant::now();
    assert_eq!(
        silent.recv_within(PATIENCE).await,
        Received::Message(Message::Disconnect { reason: DisconnectReason::Timeout })
    );
    assert_eq!(start.elapsed().as_secs(), 5);
    assert_eq!(silent.recv().await, Received::Closed);
    // The only slot is free again.
    let mut next = RawClient::handshaken(server.addr).await;
    next.send(&Message::GetNodeData { request_id: 1, hashes: vec![node_hash(0)] }).await;
    assert!(matches!(next.recv().await, Received::Message(Message::NodeData { request_id: 1, .. })));
    server.shut_down().await;
}

#[tokio::test(start_paused = true)]
async fn a_client_dripping_a_frame_is_told_timeout_after_the_frame_timeout() {
    let server = serve(store(1), ServerConfig::default()).await;
    assert_eq!(ServerConfig::default().tcp.frame_timeout, Duration::from_secs(20));
    let mut client = RawClient::handshaken(server.addr).await;
    // A 100-byte GetNodeData, one byte every 6 s: the connection is never idle, the frame never done.
    client.send_raw(&[0, 0, 0, 100, 0x0d]).await;
    let header_sent = Instant::now();
    for _ in 0..3 {
        tokio::time::sleep(Duration::from_secs(6)).await;
        client.send_raw(&[0xf8]).await;
    }
    assert_eq!(
        client.recv_within(PATIENCE).await,
        Received::Message(Message::Disconnect { reason: DisconnectReason::Timeout })
    );
    assert_eq!(header_sent.elapsed().as_secs(), 20);
    assert_eq!(client.recv().await, Received::Closed);
    server.shut_down().await;
}

#[tokio::test]
async fn a_request_frame_over_16_kib_is_refused_from_its_header() {
    assert_eq!(MAX_REQUEST_FRAME_BYTES, 16 * 1024);
    let server = serve(store(1), ServerConfig::default()).await;
    // The largest legitimate request is served...
    let mut client = RawClient::handshaken(server.addr).await;
    let hashes = vec![node_hash(0); MAX_HASHES_PER_REQUEST];
    client.send(&Message::GetNodeData { request_id: u64::MAX, hashes }).await;
    assert!(matches!(client.recv().await, Received::Message(Message::NodeData { request_id: u64::MAX, .. })));
    // ...and a frame one byte over the cap is a breach before its body arrives (the connection stays
    // open: a server that waited for the body would never answer).
    client.send_raw(&(MAX_REQUEST_FRAME_BYTES as u32 + 1).to_be_bytes()).await;
    client.expect_disconnect(DisconnectReason::ProtocolBreach).await;
    // The same cap holds for the first frame, in place of Status.
    let mut client = RawClient::connect(server.addr).await;
    assert!(matches!(client.recv().await, Received::Message(Message::Status { .. })));
    client.send_raw(&(MAX_REQUEST_FRAME_BYTES as u32 + 1).to_be_bytes()).await;
    client.expect_disconnect(DisconnectReason::ProtocolBreach).await;
    server.shut_down().await;
}

#[tokio::test]
async fn status_mismatches_close_the_connection() {
    let server = serve(store(1), ServerConfig::default()).await;

    let mut client = RawClient::connect(server.addr).await;
    client.send(&status(2, 1)).await;
    assert!(matches!(client.recv().await, Received::Message(Message::Status { .. })));
    client.expect_disconnect(DisconnectReason::IncompatibleVersion).await;

    let mut client = RawClient::connect(server.addr).await;
    client.send(&status(1, 5)).await;
    assert!(matches!(client.recv().await, Received::Message(Message::Status { .. })));
    client.expect_disconnect(DisconnectReason::NetworkMismatch).await;

    // Not starting with Status is a breach.
    let mut client = RawClient::connect(server.addr).await;
    client.send(&Message::GetNodeData { request_id: 1, hashes: vec![] }).await;
    assert!(matches!(client.recv().await, Received::Message(Message::Status { .. })));
    client.expect_disconnect(DisconnectReason::ProtocolBreach).await;

    // The client side reports the mismatch as the peer's fault.
    let (events, _inbox) = peer_events(4);
    let config = TcpConfig { network_id: 5, ..TcpConfig::default() };
    let error = TcpPeer::connect(server.addr, config, events).await.unwrap_err();
    assert!(matches!(error, PeerError::NetworkMismatch { ours: 5, theirs: 1, .. }), "{error}");
    assert!(error.is_peer_fault());
    server.shut_down().await;
}

#[tokio::test]
async fn a_silent_client_is_dropped_after_the_handshake_timeout() {
    let tcp = TcpConfig { handshake_timeout: Duration::from_millis(200), ..TcpConfig::default() };
    let server = serve(store(1), ServerConfig { tcp, max_peers: 4 }).await;
    let mut client = RawClient::connect(server.addr).await;
    assert!(matches!(client.recv().await, Received::Message(Message::Status { .. })));
    client.expect_disconnect(DisconnectReason::Timeout).await;
    server.shut_down().await;
}

#[tokio::test]
async fn connections_over_the_cap_are_told_too_many_peers() {
    let server = serve(store(1), ServerConfig { max_peers: 2, ..ServerConfig::default() }).await;
    let mut first = RawClient::handshaken(server.addr).await;
    let _second = RawClient::handshaken(server.addr).await;

    let mut third = RawClient::connect(server.addr).await;
    third.expect_disconnect(DisconnectReason::TooManyPeers).await;
    let (events, _inbox) = peer_events(4);
    let error = TcpPeer::connect(server.addr, TcpConfig::default(), events).await.unwrap_err();
    assert!(matches!(error, PeerError::Refused { reason: DisconnectReason::TooManyPeers, .. }), "{error}");
    assert!(!error.is_peer_fault());

    // The first still works; once it leaves, a slot frees up.
    first.send(&Message::GetNodeData { request_id: 3, hashes: vec![node_hash(0)] }).await;
    assert_eq!(
        first.recv().await,
        Received::Message(Message::NodeData { request_id: 3, blobs: vec![node_blob(0)] })
    );
    first.send(&Message::Disconnect { reason: DisconnectReason::Requested }).await;
    assert_eq!(first.recv().await, Received::Closed);
    let mut again = None;
    for _ in 0..50 {
        let mut client = RawClient::connect(server.addr).await;
        client.send(&status(1, 1)).await;
        if let Received::Message(Message::Status { .. }) = client.recv().await {
            again = Some(client);
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(again.is_some(), "a slot frees up when a peer leaves");
    server.shut_down().await;
}

#[tokio::test]
async fn shutdown_says_quitting_and_waits_for_connections() {
    let server = serve(store(1), ServerConfig::default()).await;
    let mut client = RawClient::handshaken(server.addr).await;
    server.stop.shutdown();
    client.expect_disconnect(DisconnectReason::Quitting).await;
    tokio::time::timeout(Duration::from_secs(10), server.task).await.unwrap().unwrap();
}
