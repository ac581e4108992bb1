//! Peers for statesync: who we download state from, and how we talk to them.
//!
//! This crate knows messages and connections, not tries: it moves requests for blobs by hash and the
//! blobs that come back, and leaves verifying them (hashing) to the sync layers above.
//!
//! Good starting points:
//! - [`Peer`]: the transport abstraction the sync layers use, whatever the transport (wire v1 over
//!   TCP here, RLPx in its own crates). A peer states its [`Capabilities`] (the [`RequestKind`]s it
//!   serves); requests ([`PeerRequest`]: node data by hash, snap/1's ranges, bytecodes and trie
//!   nodes) are fire-and-forget, and answers ([`PeerResponse`]) and lost connections come back as
//!   [`PeerEvent`]s on a bounded channel made by [`peer_events`].
//! - [`PeerSet`]: the connected peers, which are idle for each kind of request, how many items each
//!   should be asked for (throughput × target round trip, after go-ethereum's `msgrate`), the request
//!   timeout, request ids, and subscriptions to joins and drops. A peer is made busy only by a
//!   [`Lease`] ([`PeerSet::lease`]), which sets it idle again exactly once, however the request ends.
//! - [`Exchange`]: one-off requests outside a sync (a root probe): send, match answers, deadline.
//! - Errors that fit any transport: [`PeerError`], [`DisconnectCause`] and [`DisconnectReason`]
//!   (devp2p's reasons), with a transport's own protocol breaches kept typed inside [`Breach`].
//! - Wire v1: [`TcpPeer`]; the server side, [`NodeDataServer`], answering from any
//!   [`kvdb::KeyValueStore`] through [`answer_node_data`]; the codec: [`Message`], [`encode_frame`],
//!   [`decode_frame_header`], with the limits [`MAX_FRAME_BYTES`], [`MAX_HASHES_PER_REQUEST`] and
//!   [`SOFT_RESPONSE_BYTES`].
//! - For tests (feature `test-utils`): `InProcessPeer`, a peer in this process with fault injection.
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
//! use std::time::Duration;
//!
//! use peers::{Capabilities, PeerId, PeerSet, RequestKind, TcpConfig, TcpPeer};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! # let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
//! # let (store, addr) = (std::sync::Arc::new(kvdb::MemoryStore::new()), listener.local_addr()?);
//! # drop(listener);
//! # let server = peers::NodeDataServer::bind(addr, store, peers::ServerConfig::default()).await?;
//! # tokio::spawn(server.run());
//! // A wire v1 peer, registered in a set.
//! let (events, mut inbox) = peers::peer_events(16);
//! let peer = TcpPeer::connect(addr, TcpConfig::default(), events).await?;
//! assert_eq!(peers::Peer::capabilities(peer.as_ref()), Capabilities::NODE_DATA);
//! let set = PeerSet::default();
//! set.register(peer.clone())?;
//!
//! // Lease the best idle peer for node data, ask it, and release it with what it delivered.
//! let best = set.idle_peers(RequestKind::NodeData).remove(0);
//! let lease = set.lease(best.peer.id(), RequestKind::NodeData).expect("idle");
//! assert!(set.lease(best.peer.id(), RequestKind::NodeData).is_none(), "busy while leased");
//! lease.peer().request_node_data(set.next_request_id(), vec![peers::H256::repeat_byte(7)]).await?;
//! let answer = inbox.recv().await.expect("an answer");
//! assert!(matches!(answer, peers::PeerEvent::Response { .. }));
//! lease.release(0, Duration::from_millis(5));
//! assert!(set.stats(&PeerId::from(best.peer.id().as_str()), RequestKind::NodeData).unwrap().idle);
//! # Ok(())
//! # }
//! ```
//!
//! # Features
//! - `test-utils`: `InProcessPeer`, `Behaviour` and `Fault`: a peer that answers from a store in
//!   this process, with latency and faults (garbage, silence, partial, unrequested, wrong ids...),
//!   for the tests of the crates above this one. Not for production use.

mod answer;
mod close;
mod error;
mod event;
mod exchange;
mod frame;
mod handshake;
mod id;
#[cfg(feature = "test-utils")]
mod in_process;
mod message;
mod peer;
mod peer_set;
mod rate;
mod request;
mod rlp_reader;
mod sent;
mod server;
mod tcp;

pub use answer::{answer_node_data, answer_node_data_blocking, LookupError, SOFT_RESPONSE_BYTES};
pub use close::{CloseSignal, CloseWatch};
pub use error::{Breach, PeerError, Result, RlpProblem, WireError};
pub use event::{peer_events, DisconnectCause, PeerEvent, PeerEventReceiver, PeerEventSender};
pub use exchange::{Exchange, Reply};
pub use frame::{
    decode_frame_header, encode_frame, FRAME_HEADER_BYTES, MAX_FRAME_BYTES, MAX_REQUEST_FRAME_BYTES,
    MAX_RESPONSE_FRAME_BYTES,
};
pub use handshake::TcpConfig;
pub use id::PeerId;
#[cfg(feature = "test-utils")]
pub use in_process::{Behaviour, Fault, InProcessPeer};
pub use message::{DisconnectReason, Message, MAX_HASHES_PER_REQUEST, PROTOCOL_VERSION};
pub use peer::Peer;
pub use peer_set::{IdlePeer, Lease, PeerNotice, PeerSet, PeerSetConfig, PeerStats, PeerSubscription};
pub use primitive_types::H256;
pub use rate::RateConfig;
pub use request::{Capabilities, PeerRequest, PeerResponse, RequestKind};
pub use sent::{SentRequests, MAX_TRACKED_REQUESTS, MAX_UNREQUESTED_RESPONSES};
pub use server::{NodeDataServer, ServerConfig, ShutdownHandle};
pub use tcp::TcpPeer;
