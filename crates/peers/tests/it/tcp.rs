//! The TCP transport end to end, against our server and against hostile ones.

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use kvdb::{KeyValueStore, Namespace, WriteBatch};
use peers::{
    encode_frame, peer_events, DisconnectCause, DisconnectReason, Message, Peer, PeerError, PeerEvent,
    PeerEventReceiver, PeerResponse, ServerConfig, TcpConfig, TcpPeer, WireError, H256, MAX_FRAME_BYTES,
    MAX_RESPONSE_FRAME_BYTES, SOFT_RESPONSE_BYTES,
};
use tokio::io::AsyncWriteExt;
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::time::Instant;

use crate::fixtures::*;

async fn next(inbox: &mut PeerEventReceiver) -> PeerEvent {
    next_within(inbox, Duration::from_secs(10)).await
}

/// The next event, waiting at most `limit` (in paused time: longer than the timeouts under test).
async fn next_within(inbox: &mut PeerEventReceiver, limit: Duration) -> PeerEvent {
    tokio::time::timeout(limit, inbox.recv()).await.expect("an event in time").expect("open")
}

/// Longer than any timeout under test: a test waiting this long has failed.
const PATIENCE: Duration = Duration::from_secs(600);

/// Written over the storage trait so that every backend can be stamped out below (a redb store joins
/// once kvdb has its redb backend).
async fn request_and_receive(store: std::sync::Arc<dyn KeyValueStore>) {
    let head_root = H256::repeat_byte(0x77);
    let config =
        ServerConfig { tcp: TcpConfig { head_root, ..TcpConfig::default() }, ..ServerConfig::default() };
    let server = serve(store, config).await;
    let (events, mut inbox) = peer_events(8);
    let peer = TcpPeer::connect(server.addr, TcpConfig::default(), events).await.unwrap();
    assert!(peer.id().as_str().starts_with(&format!("{}/", server.addr)), "{}", peer.id());
    assert_eq!(peer.remote_head_root(), head_root);

    peer.request_node_data(42, vec![node_hash(3), missing_hash(0), code_hash(), node_hash(0)]).await.unwrap();
    peer.request_node_data(43, vec![node_hash(1)]).await.unwrap();
    assert_eq!(
        next(&mut inbox).await,
        PeerEvent::Response {
            peer: peer.id().clone(),
            request_id: 42,
            response: PeerResponse::NodeData { blobs: vec![node_blob(3), code_blob(), node_blob(0)] }
        }
    );
    assert_eq!(
        next(&mut inbox).await,
        PeerEvent::Response {
            peer: peer.id().clone(),
            request_id: 43,
            response: PeerResponse::NodeData { blobs: vec![node_blob(1)] }
        }
    );

    peer.disconnect(DisconnectReason::Requested).await;
    assert_eq!(
        next(&mut inbox).await,
        PeerEvent::Disconnected {
            peer: peer.id().clone(),
            cause: DisconnectCause::Local { reason: DisconnectReason::Requested }
        }
    );
    let error = peer.request_node_data(44, vec![node_hash(1)]).await.unwrap_err();
    assert!(matches!(error, PeerError::Disconnected { .. }), "{error}");
    assert!(error.is_connection_lost());
    server.shut_down().await;
}

#[tokio::test]
async fn request_over_tcp_from_a_memory_store() {
    request_and_receive(store(5)).await;
}

#[tokio::test]
async fn too_large_requests_are_refused_locally() {
    let server = serve(store(1), ServerConfig::default()).await;
    let (events, _inbox) = peer_events(8);
    let peer = TcpPeer::connect(server.addr, TcpConfig::default(), events).await.unwrap();
    let error = peer.request_node_data(1, vec![H256::zero(); 385]).await.unwrap_err();
    assert!(matches!(error, PeerError::RequestTooLarge { count: 385, max: 384, .. }));
    // ...and the connection is still fine.
    peer.request_node_data(2, vec![node_hash(0)]).await.unwrap();
    server.shut_down().await;
}

#[tokio::test]
async fn server_shutdown_reaches_the_client_as_disconnected() {
    let server = serve(store(1), ServerConfig::default()).await;
    let (events, mut inbox) = peer_events(8);
    let peer = TcpPeer::connect(server.addr, TcpConfig::default(), events).await.unwrap();
    server.shut_down().await;
    assert_eq!(
        next(&mut inbox).await,
        PeerEvent::Disconnected {
            peer: peer.id().clone(),
            cause: DisconnectCause::Remote { reason: DisconnectReason::Quitting }
        }
    );
    assert!(peer.request_node_data(1, vec![node_hash(0)]).await.is_err());
}

/// A server that handshakes, then sends `after` raw bytes and keeps the connection open.
async fn hostile_server(after: Vec<u8>) -> SocketAddr {
    scripted_server(|mut client| async move {
        client.send_raw(&after).await;
        // Hold the connection open until the client closes it.
        let _ = client.recv().await;
        let _ = client.recv().await;
    })
    .await
}

async fn breach_from_server(after: Vec<u8>) -> DisconnectCause {
    let addr = hostile_server(after).await;
    let (events, mut inbox) = peer_events(8);
    let peer = TcpPeer::connect(addr, TcpConfig::default(), events).await.unwrap();
    match next(&mut inbox).await {
        PeerEvent::Disconnected { peer: id, cause } => {
            assert_eq!(&id, peer.id());
            cause
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn a_server_announcing_a_huge_frame_is_dropped_at_once() {
    let cause = breach_from_server((MAX_FRAME_BYTES as u32 + 1).to_be_bytes().to_vec()).await;
    assert_eq!(
        cause,
        DisconnectCause::ProtocolBreach {
            error: WireError::FrameTooLarge { len: MAX_FRAME_BYTES + 1, max: MAX_FRAME_BYTES }.into()
        }
    );
    assert!(cause.is_peer_fault());
}

#[tokio::test]
async fn a_server_sending_garbage_or_a_second_status_is_dropped() {
    let cause = breach_from_server(vec![0, 0, 0, 2, 0x33, 0xc0]).await;
    assert_eq!(
        cause,
        DisconnectCause::ProtocolBreach { error: WireError::UnknownCode { code: 0x33 }.into() }
    );
    let cause = breach_from_server(encode_frame(&status(1, 1)).unwrap()).await;
    assert_eq!(
        cause,
        DisconnectCause::ProtocolBreach { error: WireError::UnexpectedMessage { message: "Status" }.into() }
    );
}

#[tokio::test]
async fn a_server_closing_mid_frame_is_a_lost_connection() {
    let addr = scripted_server(|mut client| async move {
        client.send_raw(&[0, 0, 0, 50, 0x0e]).await;
        client.stream.shutdown().await.unwrap();
    })
    .await;
    let (events, mut inbox) = peer_events(8);
    let _peer = TcpPeer::connect(addr, TcpConfig::default(), events).await.unwrap();
    match next(&mut inbox).await {
        PeerEvent::Disconnected { cause, .. } => {
            assert_eq!(cause, DisconnectCause::ConnectionLost { kind: io::ErrorKind::UnexpectedEof });
            assert!(!cause.is_peer_fault());
        }
        other => panic!("{other:?}"),
    }
}

/// A server that handshakes, then follows `script`.
async fn scripted_server<F, Fut>(script: F) -> SocketAddr
where
    F: FnOnce(RawClient) -> Fut + Send + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let (stream, _) = listener.accept().await.unwrap();
        // Every message leaves at once (no Nagle delay waiting for an ACK), as paused-time tests need.
        stream.set_nodelay(true).unwrap();
        let mut client = RawClient { stream };
        client.send(&status(1, 1)).await;
        let _ = client.recv().await;
        script(client).await;
    });
    addr
}

/// A NodeData answer with one blob naming its request.
fn answer(request_id: u64) -> Message {
    Message::NodeData { request_id, blobs: vec![format!("answer-{request_id}").into_bytes()] }
}

fn answered(peer: &TcpPeer, request_id: u64) -> PeerEvent {
    let Message::NodeData { blobs, .. } = answer(request_id) else { unreachable!() };
    PeerEvent::Response { peer: peer.id().clone(), request_id, response: PeerResponse::NodeData { blobs } }
}

#[tokio::test]
async fn a_response_of_one_large_blob_is_accepted() {
    // Over the soft limit plus the largest mainnet contract: only a single-blob answer can be this
    // large, and an honest server sends it (see MAX_RESPONSE_FRAME_BYTES).
    assert_eq!(MAX_RESPONSE_FRAME_BYTES, MAX_FRAME_BYTES);
    let big = vec![0x5b; SOFT_RESPONSE_BYTES + 1024 * 1024];
    let source = store(1);
    let mut batch = WriteBatch::new();
    batch.put(Namespace::Code, H256::repeat_byte(0xb1).as_bytes().to_vec(), big.clone());
    source.write(batch).unwrap();
    let server = serve(source, ServerConfig::default()).await;
    let (events, mut inbox) = peer_events(8);
    let peer = TcpPeer::connect(server.addr, TcpConfig::default(), events).await.unwrap();
    peer.request_node_data(1, vec![H256::repeat_byte(0xb1), node_hash(0)]).await.unwrap();
    assert_eq!(
        next(&mut inbox).await,
        PeerEvent::Response {
            peer: peer.id().clone(),
            request_id: 1,
            response: PeerResponse::NodeData { blobs: vec![big] }
        }
    );
    server.shut_down().await;
}

#[tokio::test(start_paused = true)]
async fn a_server_dripping_a_response_is_dropped_after_the_frame_timeout() {
    let (told, heard) = oneshot::channel();
    let addr = scripted_server(|mut server| async move {
        let request_id = server.expect_request().await;
        let mut frame = encode_frame(&answer(request_id)).unwrap();
        frame.truncate(6);
        server.send_raw(&frame).await;
        let _ = told.send(server.recv_within(PATIENCE).await);
    })
    .await;
    let (events, mut inbox) = peer_events(8);
    let peer = TcpPeer::connect(addr, TcpConfig::default(), events).await.unwrap();
    peer.request_node_data(1, vec![node_hash(0)]).await.unwrap();
    let start = Instant::now();
    assert_eq!(
        next_within(&mut inbox, PATIENCE).await,
        PeerEvent::Disconnected {
            peer: peer.id().clone(),
            cause: DisconnectCause::Local { reason: DisconnectReason::Timeout }
        }
    );
    assert_eq!(start.elapsed().as_secs(), 20);
    assert_eq!(
        heard.await.unwrap(),
        Received::Message(Message::Disconnect { reason: DisconnectReason::Timeout })
    );
}

#[tokio::test]
async fn late_answers_are_delivered_and_unrequested_ones_dropped() {
    let addr = scripted_server(|mut server| async move {
        let first = server.expect_request().await;
        let second = server.expect_request().await;
        // Out of order (as if the first had timed out at the requester), then a duplicate and an id
        // never sent: both dropped by the transport.
        for message in [answer(second), answer(first), answer(first), answer(77)] {
            server.send(&message).await;
        }
        let third = server.expect_request().await;
        server.send(&answer(third)).await;
        let _ = server.recv_within(PATIENCE).await;
    })
    .await;
    let (events, mut inbox) = peer_events(8);
    let peer = TcpPeer::connect(addr, TcpConfig::default(), events).await.unwrap();
    peer.request_node_data(1, vec![node_hash(0)]).await.unwrap();
    peer.request_node_data(2, vec![node_hash(1)]).await.unwrap();
    assert_eq!(next(&mut inbox).await, answered(&peer, 2));
    assert_eq!(next(&mut inbox).await, answered(&peer, 1));
    peer.request_node_data(3, vec![node_hash(2)]).await.unwrap();
    assert_eq!(next(&mut inbox).await, answered(&peer, 3));
    assert!(!peer.is_closed());
}

#[tokio::test]
async fn a_flooding_server_cannot_crowd_out_another_peers_answers() {
    let (told, heard) = oneshot::channel();
    let flooder = scripted_server(|mut server| async move {
        for request_id in 1000..1050 {
            if !server.try_send(&answer(request_id)).await {
                break;
            }
        }
        let _ = told.send(server.recv_within(PATIENCE).await);
    })
    .await;
    let honest = serve(store(1), ServerConfig::default()).await;
    // One small channel shared by both peers, and nobody reading it until both are connected.
    let (events, mut inbox) = peer_events(2);
    let flooding = TcpPeer::connect(flooder, TcpConfig::default(), events.clone()).await.unwrap();
    let peer = TcpPeer::connect(honest.addr, TcpConfig::default(), events).await.unwrap();
    peer.request_node_data(1, vec![node_hash(0)]).await.unwrap();

    let mut got = vec![next(&mut inbox).await, next(&mut inbox).await];
    got.sort_by_key(|event| event.peer() != flooding.id());
    assert_eq!(
        got,
        vec![
            PeerEvent::Disconnected {
                peer: flooding.id().clone(),
                cause: DisconnectCause::ProtocolBreach {
                    error: WireError::UnrequestedResponses { count: 9, max: 8 }.into()
                }
            },
            PeerEvent::Response {
                peer: peer.id().clone(),
                request_id: 1,
                response: PeerResponse::NodeData { blobs: vec![node_blob(0)] }
            },
        ]
    );
    assert_eq!(
        heard.await.unwrap(),
        Received::Message(Message::Disconnect { reason: DisconnectReason::ProtocolBreach })
    );
    honest.shut_down().await;
}

/// Lets every task run until it blocks, in paused time: each short sleep parks the runtime once,
/// which polls the sockets once (loopback writes are already readable) and runs what that woke, so
/// a hundred rounds carry any short exchange through. (A single long sleep would not: the paused
/// clock may jump to it in the same park that finds the first socket event.)
async fn settle() {
    for _ in 0..100 {
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
}

/// Fills a one-slot events channel with an answer and blocks the reader on a second, then closes the
/// peer with `close`: the connection must close at once, without anyone draining the channel.
async fn close_while_the_channel_is_full(
    close: impl FnOnce(Arc<TcpPeer>) -> std::pin::Pin<Box<dyn Future<Output = ()>>>,
) {
    let (told, heard) = oneshot::channel();
    let addr = scripted_server(|mut server| async move {
        for _ in 0..2 {
            let request_id = server.expect_request().await;
            server.send(&answer(request_id)).await;
        }
        let _ = told.send((server.recv_within(PATIENCE).await, server.recv_within(PATIENCE).await));
    })
    .await;
    let (events, mut inbox) = peer_events(1);
    let peer = TcpPeer::connect(addr, TcpConfig::default(), events).await.unwrap();
    let id = peer.id().clone();
    peer.request_node_data(1, vec![node_hash(0)]).await.unwrap();
    peer.request_node_data(2, vec![node_hash(0)]).await.unwrap();
    // The server answers both; the reader queues the first and then waits for room for the second.
    settle().await;

    close(peer).await;
    let heard = tokio::time::timeout(PATIENCE, heard).await.expect("the server hears the close").unwrap();
    assert_eq!(
        heard,
        (Received::Message(Message::Disconnect { reason: DisconnectReason::Requested }), Received::Closed)
    );
    let PeerEvent::Response { request_id: 1, .. } = next(&mut inbox).await else {
        panic!("the first answer")
    };
    assert_eq!(
        next(&mut inbox).await,
        PeerEvent::Disconnected {
            peer: id,
            cause: DisconnectCause::Local { reason: DisconnectReason::Requested }
        }
    );
}

#[tokio::test(start_paused = true)]
async fn disconnect_works_while_the_events_channel_is_full() {
    close_while_the_channel_is_full(|peer| {
        Box::pin(async move { peer.disconnect(DisconnectReason::Requested).await })
    })
    .await;
}

#[tokio::test(start_paused = true)]
async fn dropping_the_handle_works_while_the_events_channel_is_full() {
    close_while_the_channel_is_full(|peer| Box::pin(async move { drop(peer) })).await;
}

#[tokio::test]
async fn a_server_that_never_answers_status_times_out() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let (_stream, _) = listener.accept().await.unwrap();
        tokio::time::sleep(Duration::from_secs(5)).await;
    });
    let (events, _inbox) = peer_events(8);
    let config = TcpConfig { handshake_timeout: Duration::from_millis(200), ..TcpConfig::default() };
    let error = TcpPeer::connect(addr, config, events).await.unwrap_err();
    assert!(matches!(error, PeerError::HandshakeTimeout { .. }), "{error}");
    assert!(error.is_peer_fault());
}

#[tokio::test]
async fn dropping_the_handle_closes_the_connection() {
    let server = serve(store(1), ServerConfig { max_peers: 1, ..ServerConfig::default() }).await;
    let (events, mut inbox) = peer_events(8);
    let peer = TcpPeer::connect(server.addr, TcpConfig::default(), events.clone()).await.unwrap();
    let id = peer.id().clone();
    drop(peer);
    assert_eq!(
        next(&mut inbox).await,
        PeerEvent::Disconnected {
            peer: id,
            cause: DisconnectCause::Local { reason: DisconnectReason::Requested }
        }
    );
    // The server's only slot frees up.
    let mut connected = false;
    for _ in 0..50 {
        if TcpPeer::connect(server.addr, TcpConfig::default(), events.clone()).await.is_ok() {
            connected = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(connected);
    server.shut_down().await;
}

#[tokio::test]
async fn two_connections_to_one_server_have_distinct_ids() {
    let server = serve(std::sync::Arc::new(kvdb::MemoryStore::new()), ServerConfig::default()).await;
    let (events, _receiver) = peer_events(8);
    let first = TcpPeer::connect(server.addr, TcpConfig::default(), events.clone()).await.unwrap();
    let second = TcpPeer::connect(server.addr, TcpConfig::default(), events).await.unwrap();
    assert_ne!(first.id(), second.id(), "a peer set must be able to hold both");
    assert_eq!(first.remote_addr(), second.remote_addr());
}
