//! Merkle-Patricia trie sync: which node hashes are missing, verifying and decoding what arrives,
//! and committing children before parents, so a partly synced database is always consistent.
//!
//! This crate is synchronous and does no I/O beyond point reads of a [`kvdb::KeyValueStore`]: the
//! caller fetches, the scheduler decides. It is go-ethereum's `trie/sync.go` (hash scheme) in Rust, and
//! is what the networked `state-sync` crate drives.
//!
//! # Good starting points
//! - [`TrieSync`]: the scheduler. [`TrieSync::missing`] gives hashes to fetch, [`TrieSync::process`]
//!   takes each fetched blob as a [`VerifiedBlob`] (hashed on construction, so nothing unverified can
//!   be stored), [`TrieSync::commit`] moves complete nodes into a [`kvdb::WriteBatch`].
//! - [`AccountLeafCallback`]: the [`LeafCallback`] for Ethereum's state trie; each account leaf adds
//!   its storage trie and code, fetched once however many accounts share them.
//! - [`walk`]: re-hash and walk a stored state from its root, reporting what is missing.
//! - [`find_damage`]: the same walk for a repair: every missing, corrupt or malformed entry and every
//!   stored node above one, which must go before a sync can fetch them again.
//! - [`TrieBuilder`] / [`build_trie`]: compute a root and every node from sorted key/value pairs.
//! - [`Node`]: the strict node codec.
//!
//! # Example: sync a trie from another store
//! ```
//! use kvdb::{KeyValueStore, MemoryStore, Namespace, WriteBatch};
//! use trie_sync::{build_trie, walk, NoLeafCallback, TrieSync, VerifiedBlob};
//!
//! // A source trie, as a peer would hold it.
//! let pairs = (0u32..500).map(|i| (i.to_be_bytes(), vec![7u8; 40]));
//! let (root, nodes) = build_trie(pairs)?;
//! let peer: std::collections::HashMap<_, _> = nodes.into_iter().collect();
//!
//! let local = MemoryStore::new();
//! let mut sync = TrieSync::new(root, &local)?;
//! while sync.pending() > 0 {
//!     for hash in sync.missing(384) {
//!         sync.process(VerifiedBlob::new(peer[&hash].clone()))?;
//!     }
//!     let mut batch = WriteBatch::new();
//!     sync.commit(&mut batch);
//!     local.write(batch)?;
//! }
//! assert!(walk(&local, root, &mut NoLeafCallback, 10)?.is_complete());
//! assert_eq!(local.count(Namespace::TrieNodes)?, peer.len() as u64);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # Features
//! - `synthetic`: [`SyntheticState`], a reproducible generator of Ethereum-like states (accounts,
//!   shared storage tries and code) for tests, benches and the CLI's `gen`, held in memory or streamed
//!   in key order in bounded memory ([`SyntheticState::stream`]).

mod account;
mod blob;
mod builder;
mod damage;
mod error;
mod gauge;
mod hash;
mod leaf;
mod nibbles;
mod node;
mod rlp_item;
mod scheduler;
#[cfg(feature = "synthetic")]
mod synthetic;
mod verify;

pub use account::{AccountLeafCallback, StateAccount};
pub use blob::VerifiedBlob;
pub use builder::{build_secure_trie, build_trie, secure_key, trie_root, TrieBuilder};
pub use damage::{find_damage, namespace_of, Damage, DamageReport, DamagedEntry};
#[cfg(feature = "synthetic")]
pub use error::SyntheticError;
pub use error::{BuildError, EntryKind, NodeError, Result, SyncError, WalkError};
pub use gauge::MAX_SHARE_BEFORE_DONE;
pub use hash::{keccak256, NodeHash, EMPTY_CODE_HASH, EMPTY_ROOT, H256};
pub use leaf::{Leaf, LeafAction, LeafCallback, NoLeafCallback};
pub use nibbles::{from_nibbles, hex_prefix_decode, hex_prefix_encode, to_nibbles};
pub use node::{ChildRef, Node};
pub use scheduler::{SchedulerConfig, TrieSync, DEFAULT_MAX_FETCHES_PER_DEPTH};
#[cfg(feature = "synthetic")]
pub use synthetic::{
    SyntheticAccount, SyntheticConfig, SyntheticItem, SyntheticState, SyntheticStats, SyntheticStorage,
    SyntheticSummary,
};
pub use verify::{walk, MissingEntry, WalkReport};
