//! The eth wire protocol's messages as pure codecs: no sockets, no async, no I/O, so every
//! decoder can be fuzzed. An RLPx transport (crate `rlpx`) carries the bytes; this crate says
//! what they mean.
//!
//! What is here:
//! - [`Status`] for eth/66-68 and eth/69 (EIP-7642), with [`Status::validate`] checking a peer's
//!   network id, genesis and fork id against ours, each mismatch a [`HandshakeError`] variant.
//! - [`ForkId`] (EIP-2124): [`ForkSchedule::fork_id`] computes ours, [`ForkFilter`] judges theirs.
//! - [`Chain`]: network id, genesis hash and fork schedule; [`Chain::mainnet`], or
//!   [`Chain::from_genesis_json`] from a go-ethereum genesis file ([`Genesis`], [`ChainConfig`])
//!   and a state root computed elsewhere, reproducing go-ethereum's genesis header
//!   ([`Genesis::header`]) under the rules of v1.13.2 or v1.17 ([`GethRules`]).
//! - [`decode`] any eth message into a [`Message`] for the negotiated [`EthVersion`];
//!   request-id messages (EIP-2481): [`GetNodeData`] / [`NodeData`] in full, and the requests a
//!   peer sends us ([`GetBlockHeaders`], [`HashRequest`]) well enough to give an
//!   [empty answer](Message::empty_answer) with the same [`RequestId`].
//!
//! Message ids here are relative to the eth capability's offset; [`EthVersion::message_count`]
//! says how many it occupies. Payloads are the RLP before snappy compression.
//!
//! ```
//! use eth_wire::{decode, Chain, EthVersion, Message, HandshakeError};
//!
//! let chain = Chain::mainnet();
//! let ours = chain.genesis_status(EthVersion::Eth68);
//!
//! // What a peer on mainnet would send (here: ours), decoded and checked.
//! let Message::Status(theirs) = decode(EthVersion::Eth68, 0x00, &ours.encode())? else {
//!     unreachable!()
//! };
//! theirs.validate(&ours, &chain.fork_filter(chain.genesis_head()))?;
//!
//! // A peer on another network is rejected with a typed error.
//! let mut goerli = theirs;
//! goerli.network_id = 5;
//! let err = goerli.validate(&ours, &chain.fork_filter(chain.genesis_head())).unwrap_err();
//! assert!(matches!(err, HandshakeError::NetworkMismatch { ours: 1, theirs: 5 }));
//! assert_eq!(err.to_string(), "peer on network 5, we are on 1");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! Cargo features: none.

mod chain;
mod chain_config;
mod codec;
mod error;
mod forkid;
mod genesis;
mod header;
mod json;
mod message;
mod message_id;
mod request;
mod status;
mod version;

pub use chain::{Chain, MAINNET_GENESIS_HASH};
pub use chain_config::{ChainConfig, GethRules};
pub use error::{ConfigError, Error, ForkIdError, HandshakeError, Result};
pub use forkid::{ForkFilter, ForkId, ForkSchedule, Head};
pub use genesis::{Genesis, GENESIS_DIFFICULTY, GENESIS_GAS_LIMIT, INITIAL_BASE_FEE};
pub use header::{Header, EMPTY_LIST_HASH, EMPTY_REQUESTS_HASH, EMPTY_ROOT_HASH};
pub use message::{decode, Message};
pub use message_id::MessageId;
pub use request::{
    encode_empty_response, BlockOrigin, EncodedMessage, GetBlockHeaders, GetNodeData, HashRequest, NodeData,
    RequestId, MAX_NODE_DATA_ITEMS,
};
pub use status::{BlockRange, Status, StatusHead};
pub use version::EthVersion;
