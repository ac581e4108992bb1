//! Ethereum peers for statesync: the eth protocol ([`eth_wire`]) over RLPx ([`rlpx`]), joined into
//! the transport-neutral [`peers::Peer`].
//!
//! Good starting points:
//! - [`EthPeer::connect`]: dial an `enode://` URL, run the RLPx handshake, Hello and the eth Status
//!   exchange, and get a [`peers::Peer`] that serves node data (GetNodeData) when eth/66 was
//!   negotiated. It keeps a real client content: its requests get empty answers, its gossip is
//!   ignored, pings are answered.
//! - [`EthServer`]: the other side, answering GetNodeData on eth/66 from any
//!   [`kvdb::KeyValueStore`], as go-ethereum v1.13 did.
//! - [`EthConfig`]: our node key, the chain (network id, genesis, forks: [`eth_wire::Chain`]) and the
//!   eth versions offered. Both sides pick the highest eth version they share and GetNodeData exists
//!   only up to eth/66, so a node-data sync offers eth/66 alone; a peer that speaks only later
//!   versions fails with [`Error::NoUsableProtocol`], which names what it offers.
//!
//! ```
//! use std::sync::Arc;
//!
//! use eth_peer::{EthConfig, EthPeer, EthServer, EthServerConfig};
//! use eth_wire::Chain;
//! use peers::{peer_events, Peer, PeerEvent, PeerRequest, PeerResponse};
//! use rlpx::NodeKey;
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let chain = Chain::mainnet();
//! // A server with an empty store, and a client.
//! let store = Arc::new(kvdb::MemoryStore::new());
//! let server_config = EthServerConfig { eth: EthConfig::new(Arc::new(NodeKey::generate()), chain.clone()), max_peers: 4 };
//! let server = EthServer::bind("127.0.0.1:0".parse()?, store, server_config).await?;
//! let enode = server.enode();
//! tokio::spawn(server.run());
//!
//! let (events, mut inbox) = peer_events(8);
//! let peer = EthPeer::connect(&enode, &EthConfig::new(Arc::new(NodeKey::generate()), chain), events).await?;
//! assert_eq!(peer.version().number(), 66);
//! peer.request(1, PeerRequest::node_data(vec![peers::H256::repeat_byte(1)])).await?;
//! match inbox.recv().await {
//!     Some(PeerEvent::Response { request_id: 1, response: PeerResponse::NodeData { blobs }, .. }) => {
//!         assert!(blobs.is_empty(), "the store holds nothing")
//!     }
//!     other => panic!("{other:?}"),
//! }
//! # Ok(())
//! # }
//! ```
//!
//! # Features
//! None.

mod config;
mod error;
mod handshake;
mod peer;
mod server;

pub use config::EthConfig;
pub use error::{Error, Result};
pub use peer::EthPeer;
pub use server::{EthServer, EthServerConfig, EthShutdown};
