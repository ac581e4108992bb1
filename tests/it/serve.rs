//! `serve`: answers wire v1 from its database, announces its root, stops cleanly on SIGTERM, and
//! shares its database with other `serve` processes and `verify`.

use std::sync::Arc;
use std::time::Duration;

use statesync::peers::{
    peer_events, DisconnectCause, DisconnectReason, Peer, PeerEvent, PeerResponse, TcpConfig, TcpPeer,
};
use statesync::trie_sync::keccak256;

use crate::cli::{path, run, Server};

#[test]
fn serve_answers_node_data_and_stops_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let root = run(&["gen", "--db", path(dir.path()), "--accounts", "100"]).success().last_line().to_string();
    let root = statesync::parse_root(&root).unwrap();
    let server = Server::start(dir.path(), &[]);
    let addr = server.addr.parse().unwrap();
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    runtime.block_on(async {
        let (events, mut inbox) = peer_events(8);
        let peer: Arc<TcpPeer> = TcpPeer::connect(addr, TcpConfig::default(), events).await.unwrap();
        assert_eq!(peer.remote_head_root(), root, "serve announces the recorded root");
        peer.request_node_data(7, vec![root]).await.unwrap();
        match inbox.recv().await {
            Some(PeerEvent::Response {
                request_id: 7, response: PeerResponse::NodeData { blobs }, ..
            }) => {
                assert_eq!(blobs.len(), 1);
                assert_eq!(keccak256(&blobs[0]), root);
            }
            other => panic!("unexpected {other:?}"),
        }
    });
    assert_eq!(server.terminate(), Some(0));
}

#[test]
fn two_serves_and_a_verify_share_one_database() {
    let dir = tempfile::tempdir().unwrap();
    let root = run(&["gen", "--db", path(dir.path()), "--accounts", "300"]).success().last_line().to_string();
    let (first, second) = (Server::start(dir.path(), &[]), Server::start(dir.path(), &[]));
    let verify = run(&["--json", "verify", "--db", path(dir.path())]).success();
    let report: serde_json::Value = serde_json::from_str(verify.stdout.trim()).unwrap();
    assert_eq!((&report["root"], &report["complete"]), (&serde_json::json!(root), &serde_json::json!(true)));
    assert_eq!(report["accounts"], 300);

    // Both servers answer from it while verify runs beside them.
    let root = statesync::parse_root(&root).unwrap();
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    for server in [&first, &second] {
        runtime.block_on(async {
            let (events, mut inbox) = peer_events(8);
            let addr = server.addr.parse().unwrap();
            let peer: Arc<TcpPeer> = TcpPeer::connect(addr, TcpConfig::default(), events).await.unwrap();
            peer.request_node_data(1, vec![root]).await.unwrap();
            match inbox.recv().await {
                Some(PeerEvent::Response { response: PeerResponse::NodeData { blobs }, .. }) => {
                    assert_eq!(keccak256(&blobs[0]), root)
                }
                other => panic!("unexpected {other:?}"),
            }
        });
    }
    assert_eq!(first.terminate(), Some(0));
    run(&["verify", "--db", path(dir.path())]).success();
    assert_eq!(second.terminate(), Some(0));
}

#[test]
fn serve_disconnects_a_client_silent_past_the_idle_timeout() {
    let dir = tempfile::tempdir().unwrap();
    run(&["gen", "--db", path(dir.path()), "--accounts", "10"]).success();
    let server = Server::start(dir.path(), &["--idle-timeout", "1"]);
    let addr = server.addr.parse().unwrap();
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    runtime.block_on(async {
        let (events, mut inbox) = peer_events(8);
        let started = std::time::Instant::now();
        let _peer: Arc<TcpPeer> = TcpPeer::connect(addr, TcpConfig::default(), events).await.unwrap();
        let event = tokio::time::timeout(Duration::from_secs(30), inbox.recv()).await.expect("disconnected");
        match event {
            Some(PeerEvent::Disconnected { cause: DisconnectCause::Remote { reason }, .. }) => {
                assert_eq!(reason, DisconnectReason::Timeout);
            }
            other => panic!("unexpected {other:?}"),
        }
        let waited = started.elapsed();
        assert!(waited >= Duration::from_millis(900), "disconnected after {waited:?}, before the timeout");
        assert!(waited < Duration::from_secs(20), "the 1 s idle timeout, not the 60 s default: {waited:?}");
    });
    run(&["serve", "--db", path(dir.path()), "--idle-timeout", "0"]).expect_code(2);
}
