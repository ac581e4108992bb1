//! The node-data server, driven by a raw client.

use std::sync::Arc;
use std::time::Duration;

use tokio::io::AsyncWriteExt;

use kvdb::{KeyValueStore, MemoryStore, Namespace, WriteBatch};
use peers::{
    peer_events, DisconnectReason, Message, PeerError, ServerConfig, TcpConfig, TcpPeer, H256,
    MAX_FRAME_BYTES, MAX_HASHES_PER_REQUEST,
};

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
async fn a_truncated_frame_ends_the_connection() {
    let server = serve(store(1), ServerConfig::default()).await;
    let mut client = RawClient::handshaken(server.addr).await;
    client.send_raw(&[0, 0, 0, 100, 0x0d, 0xc0]).await;
    client.stream.shutdown().await.unwrap();
    // The server reads EOF inside the frame: a breach, answered with Disconnect if the socket still
    // takes it, and closed.
    let mut closed = false;
    for _ in 0..2 {
        match client.recv().await {
            Received::Closed => {
                closed = true;
                break;
            }
            Received::Message(Message::Disconnect { reason: DisconnectReason::ProtocolBreach }) => {}
            other => panic!("{other:?}"),
        }
    }
    assert!(closed);
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
