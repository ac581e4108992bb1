//! End to end over TCP: a node-data server over redb, a client syncing into a fresh redb store.

use std::sync::Arc;
use std::time::Duration;

use downloader::{Downloader, DownloaderConfig};
use kvdb::{KeyValueStore, RedbOptions, RedbStore};
use peers::{peer_events, NodeDataServer, PeerSet, ServerConfig, TcpConfig, TcpPeer};

use crate::fixtures::*;

#[tokio::test]
async fn sync_over_tcp_between_redb_stores() {
    let state = synthetic(8, 500);
    let dir = tempfile::tempdir().expect("tempdir");
    let source: Arc<dyn KeyValueStore> =
        Arc::new(RedbStore::open(dir.path().join("source.redb"), RedbOptions::new()).expect("open source"));
    state.write_into(source.as_ref());
    let local: Arc<dyn KeyValueStore> =
        Arc::new(RedbStore::open(dir.path().join("local.redb"), RedbOptions::new()).expect("open local"));

    let server = NodeDataServer::bind("127.0.0.1:0".parse().unwrap(), source, ServerConfig::default())
        .await
        .expect("bind");
    let (addr, stop) = (server.local_addr(), server.shutdown_handle());
    let serving = tokio::spawn(server.run());

    let (events, inbox) = peer_events(64);
    let peers = PeerSet::default();
    // Two connections to the one server: each is a peer of its own (ids are per connection).
    for _ in 0..2 {
        let peer = TcpPeer::connect(addr, TcpConfig::default(), events.clone()).await.expect("connect");
        peers.register(peer).expect("register");
    }
    assert_eq!(peers.len(), 2);
    let downloader = Downloader::new(local.clone(), peers, inbox, DownloaderConfig::default());
    let report = tokio::time::timeout(Duration::from_secs(60), downloader.sync_state(state.root).wait())
        .await
        .expect("sync within 60 s")
        .expect("sync");
    assert_eq!(report.processed as usize, state.entries());
    assert!(report.peers_dropped.is_empty(), "{:?}", report.peers_dropped);
    assert_equals_source(local.as_ref(), &state);

    drop(downloader);
    stop.shutdown();
    tokio::time::timeout(Duration::from_secs(10), serving).await.expect("server stops").expect("server task");
}
