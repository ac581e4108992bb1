//! Merkle-Patricia trie sync, synchronous and I/O-free. (Overview filled in as the crate grows.)

mod account;
mod blob;
mod builder;
mod error;
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
pub use builder::{build_secure_trie, build_trie, secure_key, trie_root, BuildError, TrieBuilder};
pub use error::{NodeError, SyncError};
pub use hash::{keccak256, NodeHash, EMPTY_CODE_HASH, EMPTY_ROOT, H256};
pub use leaf::{Leaf, LeafAction, LeafCallback, NoLeafCallback};
pub use nibbles::{from_nibbles, hex_prefix_decode, hex_prefix_encode, to_nibbles};
pub use node::{ChildRef, Node};
pub use scheduler::{SchedulerConfig, TrieSync, DEFAULT_MAX_FETCHES_PER_DEPTH};
#[cfg(feature = "synthetic")]
pub use synthetic::{SyntheticConfig, SyntheticError, SyntheticState, SyntheticStats};
pub use verify::{walk, MissingEntry, WalkError, WalkReport};
