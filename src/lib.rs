//! statesync: download the complete Ethereum state trie of a state root from untrusted peers, verify
//! every node against its keccak-256 hash, and store it in an embedded database, resumably.
//!
//! This crate is the `statesync` command and a thin library over the layered crates it re-exports:
//! - [`kvdb`]: the storage trait and its backends (in-memory, redb, fjall);
//! - [`trie_sync`]: the node codec, trie builder, verification walk and sync scheduler (synchronous);
//! - [`peers`]: the transport-neutral peer layer, the wire v1 protocol over TCP, the node-data server;
//! - [`rlpx`], [`eth_wire`] and [`eth_peer`]: RLPx, the eth protocol's messages, and Ethereum peers
//!   (and a server) built from them.
//!
//! The commands are functions here, so tests and the demo run them in-process: [`generate`] (`gen`),
//! [`BoundServer`] (`serve`), [`verify`] (`verify`), [`repair`] (what `sync --repair` does before it
//! syncs). Each fails with an [`Error`] that knows its exit
//! code ([`Error::exit_code`]): 2 for bad input, 1 for a failure on usable input.
//!
//! ```
//! use statesync::{generate, verify, Backend, OpenMode, StateSource, StoreLocation};
//! use statesync::trie_sync::SyntheticConfig;
//!
//! let location = StoreLocation { backend: Backend::Memory, dir: None, cache_bytes: None };
//! let store = location.open("gen", OpenMode::Create, false)?;
//! let generated = generate(store.as_ref(), &StateSource::Synthetic(SyntheticConfig::new(7, 100)), &location)?;
//! let root = statesync::parse_root(&generated.root)?;
//! let report = verify(store.as_ref(), root, 10)?;
//! assert!(report.complete);
//! assert_eq!(report.accounts, 100);
//! # Ok::<(), statesync::Error>(())
//! ```
//!
//! # Features
//! None: every backend is built in, since the command picks one at run time (`--backend`).

mod chain;
mod connect;
mod demo;
mod engine_panic;
mod error;
mod fault;
mod gen;
mod genesis;
mod record;
mod repair;
pub mod report;
mod serve;
mod spill;
mod store;
mod sync;
mod verify;

pub use chain::{
    eth_config, load_chain, load_node_key, synthetic_chain, ChainSpec, GETH_RULES, NODE_KEY_FILE,
};
pub use connect::{
    connect_peers, probe_root, resolve_peers, ConnectedPeer, ConnectedPeers, PeerAddress, RootProbe,
};
pub use demo::{demo, DemoOptions, DemoReport};
pub use error::{Error, Result, EXIT_BAD_INPUT, EXIT_FAILURE, EXIT_OK};
pub use fault::{FaultyStore, StoreFault};
pub use gen::{
    export_genesis, generate, genesis_chain_config, synthetic_genesis, ExportReport, GenReport, StateSource,
    EXPORT_CHAIN_ID,
};
pub use genesis::{GenesisError, GenesisState};
pub use record::{check_recovery, ProgressRecord, Recovery, PROGRESS_RECORD_FILE};
pub use repair::{repair, repair_and_sync, DamagedReport, RepairReport, MAX_REPAIR_SYNCS};
pub use serve::{shutdown_signal, BoundRlpxServer, BoundServer, ServeOptions};
pub use store::{
    parse_root, record_root, recorded_root, Backend, OpenMode, StoreLocation, BULK_DURABILITY_EVERY,
    DEFAULT_FJALL_CACHE_BYTES, DEFAULT_REDB_CACHE_BYTES, DEFAULT_REDB_READ_CACHE_BYTES, FJALL_DIR,
    GEN_CACHE_BYTES, HEAD_ROOT_KEY, REDB_FILE,
};
pub use sync::{sync, DroppedPeer, SyncOptions, SyncStatus, SyncSummary};
pub use trie_sync::H256;
pub use verify::{verify, MissingReport, VerifyReport};

pub use downloader;
pub use eth_peer;
pub use eth_wire;
pub use kvdb;
pub use peers;
pub use rlpx;
pub use trie_sync;

/// The README's examples, compiled and run as doctests.
#[doc = include_str!("../README.md")]
#[cfg(doctest)]
pub struct ReadmeDoctests;
