//! A client and a server over loopback RLPx: handshake, node data, chain mismatches, hostile peers.

use std::sync::Arc;
use std::time::Duration;

use eth_peer::{Error, EthConfig, EthPeer, EthServer, EthServerConfig};
use eth_wire::{Chain, EthVersion};
use kvdb::{KeyValueStore, MemoryStore, Namespace, WriteBatch};
use peers::{
    peer_events, Capabilities, DisconnectCause, Peer, PeerError, PeerEvent, PeerEventReceiver, PeerRequest,
    PeerResponse, RequestKind,
};
use rlpx::{Capability, Enode, NodeKey, P2pConfig, Session};
use trie_sync::keccak256;

fn config(chain: Chain) -> EthConfig {
    EthConfig::new(Arc::new(NodeKey::generate()), chain)
}

fn store_with(blobs: &[Vec<u8>]) -> Arc<dyn KeyValueStore> {
    let store = MemoryStore::new();
    let mut batch = WriteBatch::new();
    for blob in blobs {
        batch.put(Namespace::TrieNodes, keccak256(blob).as_bytes().to_vec(), blob.clone());
    }
    store.write(batch).expect("write");
    Arc::new(store)
}

async fn server(store: Arc<dyn KeyValueStore>, chain: Chain) -> Enode {
    let config = EthServerConfig { eth: config(chain), max_peers: 4 };
    let server = EthServer::bind("127.0.0.1:0".parse().unwrap(), store, config).await.expect("bind");
    let enode = server.enode();
    tokio::spawn(server.run());
    enode
}

async fn next(inbox: &mut PeerEventReceiver) -> PeerEvent {
    tokio::time::timeout(Duration::from_secs(10), inbox.recv()).await.expect("in time").expect("an event")
}

#[tokio::test]
async fn node_data_is_served_over_rlpx_eth66() {
    let blobs: Vec<Vec<u8>> = (0u8..10).map(|i| vec![0xc2, 0x80 + i, 0x01]).collect();
    let enode = server(store_with(&blobs), Chain::mainnet()).await;
    let (events, mut inbox) = peer_events(8);
    let peer = EthPeer::connect(&enode, &config(Chain::mainnet()), events).await.expect("connect");
    assert_eq!(peer.version(), EthVersion::Eth66);
    assert_eq!(peer.capabilities(), Capabilities::NODE_DATA);
    assert!(peer.client().expect("a client id").starts_with("statesync/"));
    assert_eq!(peer.node_id(), enode.id);

    let mut hashes: Vec<_> = blobs.iter().map(keccak256).collect();
    hashes.push(keccak256(b"missing"));
    peer.request(7, PeerRequest::node_data(hashes)).await.expect("send");
    match next(&mut inbox).await {
        PeerEvent::Response { request_id: 7, response: PeerResponse::NodeData { blobs: got }, .. } => {
            assert_eq!(got, blobs, "every blob held, in request order, the missing one omitted")
        }
        other => panic!("{other:?}"),
    }
    let snap = PeerRequest::ByteCodes { hashes: vec![], bytes: 1 };
    let refused = peer.request(8, snap).await;
    assert!(
        matches!(refused, Err(PeerError::Unsupported { kind: RequestKind::ByteCodes, .. })),
        "{refused:?}"
    );
    peer.disconnect(peers::DisconnectReason::Requested).await;
    match next(&mut inbox).await {
        PeerEvent::Disconnected { cause: DisconnectCause::Local { .. }, .. } => {}
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn a_peer_on_another_network_or_genesis_is_refused_as_incompatible() {
    let enode = server(store_with(&[]), Chain::mainnet()).await;
    let mut other_network = Chain::mainnet();
    other_network.network_id = 5;
    let (events, _inbox) = peer_events(8);
    let error = EthPeer::connect(&enode, &config(other_network), events.clone()).await.expect_err("refused");
    assert!(error.is_incompatible(), "{error}");
    assert!(error.to_string().contains("network"), "{error}");

    let mut other_genesis = Chain::mainnet();
    other_genesis.genesis_hash = keccak256(b"another chain");
    let error = EthPeer::connect(&enode, &config(other_genesis), events).await.expect_err("refused");
    assert!(matches!(error, Error::Status { .. }) && error.is_incompatible(), "{error}");
    assert!(error.to_string().contains("genesis"), "{error}");
}

#[tokio::test]
async fn a_peer_without_eth66_is_refused_naming_what_it_offers() {
    // A node that speaks only eth/69 and snap/1, as current go-ethereum does.
    let key = NodeKey::generate();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let enode = Enode { id: key.id(), addr: listener.local_addr().unwrap() };
    tokio::spawn(async move {
        let (stream, _) = listener.accept().await.unwrap();
        let p2p = P2pConfig {
            client_id: "Geth/v1.17.0".into(),
            capabilities: vec![Capability::new("eth", 69, 18), Capability::new("snap", 1, 8)],
            ..P2pConfig::default()
        };
        let _ = Session::accept(stream, &key, &p2p).await;
    });
    let (events, _inbox) = peer_events(8);
    let error = EthPeer::connect(&enode, &config(Chain::mainnet()), events).await.expect_err("refused");
    assert!(error.is_incompatible(), "{error}");
    let message = error.to_string();
    assert!(
        message.contains("Geth/v1.17.0") && message.contains("eth/69") && message.contains("snap/1"),
        "{message}"
    );
    assert!(message.contains("no node data"), "{message}");
}

#[tokio::test]
async fn requests_of_a_real_client_get_empty_answers_and_its_gossip_is_ignored() {
    // We play a client that asks our peer for headers (as go-ethereum does after the handshake),
    // then check the peer still works.
    let key = NodeKey::generate();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let enode = Enode { id: key.id(), addr: listener.local_addr().unwrap() };
    let chain = Chain::mainnet();
    let remote_chain = chain.clone();
    let remote = tokio::spawn(async move {
        let (stream, _) = listener.accept().await.unwrap();
        let p2p = P2pConfig { capabilities: vec![Capability::new("eth", 66, 17)], ..P2pConfig::default() };
        let mut session = Session::accept(stream, &key, &p2p).await.expect("session");
        let status = remote_chain.genesis_status(EthVersion::Eth66);
        session.send(0, 0x00, &status.encode()).await.unwrap();
        let their_status = session.recv().await.unwrap();
        assert_eq!(their_status.msg_id, 0x00);
        // Transactions gossip (ignored), then GetBlockHeaders [id 0x0457, [origin 1, amount 5, 0, 0]].
        session.send(0, 0x02, &[0xc0]).await.unwrap();
        let get_headers = [0xc9, 0x82, 0x04, 0x57, 0xc5, 0x01, 0x05, 0x80, 0x80, 0x80];
        session.send(0, 0x03, &get_headers[..]).await.unwrap();
        let answer = session.recv().await.unwrap();
        (answer.msg_id, answer.payload)
    });
    let (events, _inbox) = peer_events(8);
    let peer = EthPeer::connect(&enode, &config(chain), events).await.expect("connect");
    let (id, payload) = remote.await.unwrap();
    assert_eq!(id, 0x04, "BlockHeaders");
    assert_eq!(payload, vec![0xc4, 0x82, 0x04, 0x57, 0xc0], "the same request id, no headers");
    assert!(!peer.is_closed());
}

/// A store whose reads panic, as redb's do on a page damaged outside it.
struct PanickingStore;

impl KeyValueStore for PanickingStore {
    fn get(&self, _: Namespace, _: &[u8]) -> kvdb::Result<Option<Vec<u8>>> {
        panic!("Invalid page type byte")
    }

    fn write(&self, _: WriteBatch) -> kvdb::Result<()> {
        Ok(())
    }

    fn for_each(&self, _: Namespace, _: &mut dyn FnMut(&[u8], &[u8])) -> kvdb::Result<()> {
        Ok(())
    }
}

/// A storage engine panicking in a lookup ends that connection with a Disconnect, and the server goes
/// on serving: the panic stays in the blocking lookup task.
#[tokio::test]
async fn a_panicking_store_ends_the_connection_not_the_server() {
    let enode = server(Arc::new(PanickingStore), Chain::mainnet()).await;
    for attempt in 0..2 {
        let (events, mut inbox) = peer_events(8);
        let peer = EthPeer::connect(&enode, &config(Chain::mainnet()), events).await.expect("connect");
        peer.request(1, PeerRequest::node_data(vec![keccak256(b"anything")])).await.expect("send");
        match next(&mut inbox).await {
            PeerEvent::Disconnected { cause: DisconnectCause::Remote { reason }, .. } => {
                assert_eq!(reason, peers::DisconnectReason::Requested, "attempt {attempt}")
            }
            other => panic!("attempt {attempt}: {other:?}"),
        }
    }
}
