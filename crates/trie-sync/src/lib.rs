//! Merkle-Patricia trie sync, synchronous and I/O-free. (Overview filled in as the crate grows.)

mod error;
mod hash;
mod nibbles;
mod node;

pub use error::NodeError;
pub use hash::{keccak256, NodeHash, EMPTY_CODE_HASH, EMPTY_ROOT, H256};
pub use nibbles::{from_nibbles, hex_prefix_decode, hex_prefix_encode, to_nibbles};
pub use node::{ChildRef, Node};
