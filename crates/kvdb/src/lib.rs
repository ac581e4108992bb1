//! The storage layer of statesync: a small key-value trait and the backends behind it.
//!
//! Sync needs point reads ([`KeyValueStore::get`], [`KeyValueStore::contains`]) and atomic
//! [`WriteBatch`]es over separate [`Namespace`]s (trie nodes, code, sync metadata). Nothing here knows
//! about tries.
//!
//! Start from [`KeyValueStore`] and a backend:
//! - [`MemoryStore`]: in memory, for tests and throwaway syncs.
//! - `RedbStore` (feature `redb`, on by default): one durable file; the embedded default.
//! - `FjallStore` (feature `fjall`): an LSM engine in a directory.
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
//! # Features
//! - `redb` (default): the [redb](https://docs.rs/redb) backend.
//! - `fjall`: the [fjall](https://docs.rs/fjall) backend.

mod batch;
mod error;
mod memory;
mod namespace;
mod store;

pub use batch::{BatchOp, WriteBatch};
pub use error::{Error, Result};
pub use memory::MemoryStore;
pub use namespace::Namespace;
pub use store::KeyValueStore;
