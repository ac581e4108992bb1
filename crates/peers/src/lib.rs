//! Peers for statesync: who we download state from, and how we talk to them.
//!
//! This crate knows messages and connections, not tries: it moves requests for blobs by hash and the
//! blobs that come back, and leaves verifying them (hashing) to the sync layers above.
//!
//! Good starting points:
//! - [`Peer`]: the transport abstraction the sync layers use. Requests are fire-and-forget; answers and
//!   lost connections come back as [`PeerEvent`]s on a bounded channel made by [`peer_events`].
//! - [`PeerSet`]: the connected peers, which are idle, how many items each should be asked for
//!   (throughput × target round trip, after go-ethereum's `msgrate`), the request timeout, and
//!   subscriptions to joins and drops.
//! - Transports: [`InProcessPeer`] (with fault injection, for tests) and [`TcpPeer`]; and the server
//!   side, [`NodeDataServer`], answering from any [`kvdb::KeyValueStore`] through [`answer_node_data`].
//! - The wire protocol v1 codec: [`Message`], [`encode_frame`], [`decode_frame_header`], with the
//!   limits [`MAX_FRAME_BYTES`], [`MAX_HASHES_PER_REQUEST`] and [`SOFT_RESPONSE_BYTES`].
//!
//! # Limits and timeouts of the TCP transport
//! Everything a peer sends is bounded in size and in time ([`TcpConfig`] holds the timeouts):
//! - Frames: 16 MiB ([`MAX_FRAME_BYTES`]) is the wire spec's ceiling, checked from a frame's header
//!   before its body is read. A server reads requests, and both sides read the handshake, with a
//!   16 KiB cap ([`MAX_REQUEST_FRAME_BYTES`]; the largest legitimate GetNodeData is 12,688 bytes); a
//!   client reads responses up to the ceiling ([`MAX_RESPONSE_FRAME_BYTES`]: one blob may be large).
//!   A larger frame is a protocol breach.
//! - Time: the handshake must finish within `handshake_timeout` (10 s by default); a frame, once its
//!   first byte arrived, within `frame_timeout` (20 s); writing a frame within `write_timeout`
//!   (20 s); and a server drops a client silent for `idle_timeout` (60 s) between requests. A stall
//!   is answered with Disconnect{timeout}.
//! - A connection that ends, even inside a frame, is a lost connection
//!   ([`DisconnectCause::ConnectionLost`]), not a breach: the peer crashed or lost its link.
//! - [`TcpPeer`] forwards only answers to requests it sent and has not seen answered; it drops others
//!   and closes the connection as a breach after 8 of them, so a flooding peer cannot fill the shared
//!   events channel. A full channel never keeps a [`TcpPeer`] from closing when asked.
//!
//! ```
//! use std::sync::Arc;
//! use std::time::Duration;
//!
//! use kvdb::{KeyValueStore, MemoryStore, Namespace, WriteBatch};
//! use peers::{peer_events, InProcessPeer, Peer, PeerEvent, PeerSet, H256};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! // A store holding one node (its key would be the keccak-256 of its bytes).
//! let store = Arc::new(MemoryStore::new());
//! let hash = H256::repeat_byte(7);
//! let mut batch = WriteBatch::new();
//! batch.put(Namespace::TrieNodes, hash.as_bytes().to_vec(), b"node".to_vec());
//! store.write(batch)?;
//!
//! // One peer serving it, in this process, registered in a set.
//! let (events, mut inbox) = peer_events(16);
//! let set = PeerSet::default();
//! set.register(InProcessPeer::new("honest", store, events))?;
//!
//! // Ask the best idle peer for as many hashes as its capacity allows.
//! let best = set.node_data_idle_peers().remove(0);
//! assert!(best.capacity >= 1);
//! set.mark_busy(best.peer.id());
//! best.peer.request_node_data(1, vec![hash]).await?;
//!
//! // The answer arrives as an event; the caller verifies it and reports the delivery.
//! match inbox.recv().await {
//!     Some(PeerEvent::NodeData { peer, request_id: 1, blobs }) => {
//!         assert_eq!(blobs, vec![b"node".to_vec()]);
//!         set.set_node_data_idle(&peer, blobs.len(), Duration::from_millis(5));
//!     }
//!     other => panic!("unexpected {other:?}"),
//! }
//! # Ok(())
//! # }
//! ```
//!
//! # Features
//! None: the TCP transport and server use tokio, which every user of this crate needs anyway.

mod answer;
mod error;
mod event;
mod frame;
mod handshake;
mod id;
mod in_process;
mod message;
mod peer;
mod peer_set;
mod rate;
mod rlp_reader;
mod server;
mod tcp;

pub use answer::{answer_node_data, SOFT_RESPONSE_BYTES};
pub use error::{PeerError, Result, RlpProblem, WireError};
pub use event::{peer_events, DisconnectCause, PeerEvent, PeerEventReceiver, PeerEventSender};
pub use frame::{
    decode_frame_header, encode_frame, FRAME_HEADER_BYTES, MAX_FRAME_BYTES, MAX_REQUEST_FRAME_BYTES,
    MAX_RESPONSE_FRAME_BYTES,
};
pub use handshake::TcpConfig;
pub use id::PeerId;
pub use in_process::{Behaviour, Fault, InProcessPeer};
pub use message::{DisconnectReason, Message, MAX_HASHES_PER_REQUEST, PROTOCOL_VERSION};
pub use peer::Peer;
pub use peer_set::{IdlePeer, PeerNotice, PeerSet, PeerSetConfig, PeerStats, PeerSubscription};
pub use primitive_types::H256;
pub use rate::RateConfig;
pub use server::{NodeDataServer, ServerConfig, ShutdownHandle};
pub use tcp::TcpPeer;
