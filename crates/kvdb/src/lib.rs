//! The storage layer of statesync: a small key-value trait and the backends behind it.
//!
//! Sync needs point reads ([`KeyValueStore::get`], [`KeyValueStore::contains`]) and atomic
//! [`WriteBatch`]es over separate [`Namespace`]s (trie nodes, code, sync metadata). Nothing here knows
//! about tries.
//!
//! Start from [`KeyValueStore`] and a backend:
//! - [`MemoryStore`]: in memory, for tests and throwaway syncs.
//! - `RedbStore` (feature `redb`, on by default): one durable [redb](https://docs.rs/redb) file; the
//!   embedded default. Opened with `RedbOptions`, for writing or, shared by several processes,
//!   read-only (`RedbStore::open_read_only`).
//! - `FjallStore` (feature `fjall`): a [fjall](https://docs.rs/fjall) LSM directory, proof that the
//!   trait swaps cleanly. Opened with `FjallOptions`.
//!
//! [`FilteredStore`] wraps any of them with a Bloom filter of the keys it holds, so the lookups of
//! absent keys a fresh sync makes by the million are answered from memory.
//!
//! Every backend applies a [`WriteBatch`] atomically (readers and crashes see all of it or none of
//! it), and the on-disk ones take a [`Durability`] setting that trades how many of the latest batches
//! a crash may lose for write throughput. Keys are 1 to [`MAX_KEY_LEN`] bytes in every backend.
//!
//! ```
//! use kvdb::{KeyValueStore, MemoryStore, Namespace, WriteBatch};
//!
//! let store = MemoryStore::new();
//! let mut batch = WriteBatch::new();
//! batch.put(Namespace::TrieNodes, b"hash".to_vec(), b"node".to_vec());
//! store.write(batch)?;
//! assert_eq!(store.get(Namespace::TrieNodes, b"hash")?, Some(b"node".to_vec()));
//! assert!(!store.contains(Namespace::Code, b"hash")?);
//! # Ok::<(), kvdb::Error>(())
//! ```
//!
//! On disk, with a durable commit every 16 batches and an explicit [`KeyValueStore::flush`] at a
//! checkpoint:
//!
//! ```
//! # #[cfg(feature = "redb")]
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use kvdb::{Durability, KeyValueStore, Namespace, RedbOptions, RedbStore, WriteBatch};
//!
//! let dir = tempfile::tempdir()?;
//! let options = RedbOptions::new().durability(Durability::periodic(16));
//! let store = RedbStore::open(dir.path().join("state.redb"), options)?;
//! let mut batch = WriteBatch::new();
//! batch.put(Namespace::Meta, b"progress".to_vec(), 42u64.to_be_bytes().to_vec());
//! store.write(batch)?;
//! store.flush()?; // everything so far survives a power loss
//! drop(store);
//!
//! let store = RedbStore::open(dir.path().join("state.redb"), RedbOptions::new())?;
//! assert_eq!(store.get(Namespace::Meta, b"progress")?, Some(42u64.to_be_bytes().to_vec()));
//! # Ok(())
//! # }
//! # #[cfg(not(feature = "redb"))]
//! # fn main() {}
//! ```
//!
//! # Features
//! - `redb` (default): the [redb](https://docs.rs/redb) backend, `RedbStore`.
//! - `fjall`: the [fjall](https://docs.rs/fjall) backend, `FjallStore`.

mod batch;
mod durability;
mod error;
mod filter;
#[cfg(feature = "fjall")]
mod fjall;
mod memory;
mod namespace;
#[cfg(any(feature = "redb", feature = "fjall"))]
mod operation;
#[cfg(feature = "redb")]
mod redb;
mod store;

#[cfg(feature = "fjall")]
pub use self::fjall::{FjallOptions, FjallStore};
#[cfg(feature = "redb")]
pub use self::redb::{RedbOptions, RedbStore};
pub use batch::{BatchOp, WriteBatch, MAX_KEY_LEN, MAX_VALUE_LEN};
pub use durability::Durability;
pub use error::{Error, Result};
pub use filter::{FilteredStore, KeyFilter};
pub use memory::MemoryStore;
pub use namespace::Namespace;
pub use store::KeyValueStore;
