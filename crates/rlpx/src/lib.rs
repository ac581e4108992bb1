//! RLPx, the encrypted transport of Ethereum execution clients, and the devp2p base
//! protocol on top of it, following the devp2p spec (`rlpx.md`) and EIP-8. It knows
//! nothing of eth: a capability is a name, a version and a number of message ids, and its
//! messages are opaque payloads.
//!
//! What it does:
//! - the ECIES handshake of EIP-8, as initiator and recipient (the recipient also reads
//!   pre-EIP-8 packets), and the session secrets;
//! - the frame codec: AES-256-CTR, the keccak/AES header and frame MACs, message ids;
//! - snappy compression of payloads (p2p version 5), with the decompressed size checked
//!   before decompressing;
//! - Hello, capability negotiation and message-id offsets, Ping/Pong, Disconnect.
//!
//! Hostile input ends in a typed [`Error`] (see [`Error::is_peer_fault`]) and a closed
//! connection; every size the remote announces is bounded before it is read (see the
//! `MAX_*` constants).
//!
//! # Where to start
//! - [`NodeKey`] (our identity, go-ethereum's `nodekey` file format), [`NodeId`] and
//!   [`Enode`] (`enode://id@ip:port`).
//! - [`Session`]: [`Session::connect`] / [`Session::accept`] over any tokio
//!   `AsyncRead + AsyncWrite` (a `TcpStream`), configured by [`P2pConfig`]; then
//!   [`Session::send`] / [`Session::recv`], or [`Session::into_split`] into a
//!   [`SessionReader`] for one task and a cloneable [`SessionWriter`] for the others.
//! - [`RlpxStream`]: the raw transport under a session (handshake, frames, snappy), for
//!   tests and tools that speak the base protocol themselves.
//!
//! # Example
//! ```
//! use rlpx::{Capability, NodeKey, P2pConfig, Session};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), rlpx::Error> {
//! let (dialer_io, listener_io) = tokio::io::duplex(64 * 1024); // or two ends of a TcpStream
//! let (alice, bob) = (NodeKey::generate(), NodeKey::generate());
//! let bob_id = bob.id();
//! let config = P2pConfig { capabilities: vec![Capability::new("demo", 1, 4)], ..P2pConfig::default() };
//!
//! let listener = tokio::spawn({
//!     let config = config.clone();
//!     async move {
//!         let mut session = Session::accept(listener_io, &bob, &config).await?;
//!         session.recv().await
//!     }
//! });
//!
//! let session = Session::connect(dialer_io, &alice, bob_id, &config).await?;
//! assert_eq!(session.shared_capabilities()[0].offset, 0x10);
//! session.send(0, 2, b"hello").await?; // message 2 of "demo"
//! let incoming = listener.await.expect("listener task")?;
//! assert_eq!((incoming.capability, incoming.msg_id), (0, 2));
//! assert_eq!(incoming.payload, b"hello");
//! # Ok(())
//! # }
//! ```
//!
//! # Features
//! - `fuzzing`: the `fuzzing` module, entry points over `&[u8]` for the fuzz targets in
//!   `fuzz/` (handshake packets and bodies read with the EIP-8 test keys, frames sealed and
//!   opened with fixed secrets, message and Disconnect decoding). Not for production use.
//!
//! The cryptography comes from RustCrypto crates (k256, aes, ctr, hmac, sha2, sha3), pure Rust.

mod capability;
mod disconnect;
mod ecies;
mod enode;
mod error;
mod frame;
#[cfg(feature = "fuzzing")]
pub mod fuzzing;
mod handshake;
mod hello;
mod node_key;
mod session;
mod stream;

pub use capability::{negotiate, AdvertisedCapability, Capability, SharedCapability, BASE_PROTOCOL_MESSAGES};
pub use disconnect::DisconnectReason;
pub use enode::Enode;
pub use error::{EnodeError, Error, NodeKeyError, Result};
pub use handshake::MAX_HANDSHAKE_BYTES;
pub use hello::{Hello, MAX_HELLO_BYTES, P2P_VERSION};
pub use node_key::{NodeId, NodeKey};
pub use session::{Incoming, P2pConfig, Session, SessionReader, SessionWriter};
pub use stream::{RlpxReader, RlpxStream, RlpxWriter, MAX_FRAME_BYTES, MAX_MESSAGE_BYTES};
