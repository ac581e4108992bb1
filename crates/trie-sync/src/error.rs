//! Errors of the trie codec and the sync scheduler.

use crate::NodeHash;

/// Why bytes are not a canonical trie node.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum NodeError {
    /// The bytes are not valid RLP (truncated, bad length prefix, non-canonical length).
    #[error("malformed RLP: {0}")]
    Rlp(#[from] rlp::DecoderError),
    /// A node is an RLP list; this is a byte string.
    #[error("node is not an RLP list")]
    NotAList,
    /// Bytes follow the node's RLP item.
    #[error("{extra} trailing bytes after the node")]
    TrailingBytes {
        /// How many bytes follow the item.
        extra: usize,
    },
    /// A node has 2 items (leaf, extension) or 17 (branch).
    #[error("node has {count} items, expected 2 or 17")]
    WrongItemCount {
        /// Items found.
        count: usize,
    },
    /// A path is a byte string, not a list.
    #[error("node path is a list")]
    PathIsList,
    /// A hex-prefix path has no flag byte.
    #[error("empty hex-prefix path")]
    EmptyPath,
    /// The hex-prefix flag nibble is above 3.
    #[error("hex-prefix flag nibble {flag} is not 0..=3")]
    BadPathFlag {
        /// The flag nibble found.
        flag: u8,
    },
    /// An even-length hex-prefix path has a non-zero padding nibble.
    #[error("hex-prefix padding nibble is {padding}, not 0")]
    BadPathPadding {
        /// The padding nibble found.
        padding: u8,
    },
    /// An extension node with an empty path (it would be a no-op).
    #[error("extension node with an empty path")]
    EmptyExtensionPath,
    /// An extension node whose child slot is empty.
    #[error("extension node without a child")]
    MissingExtensionChild,
    /// A child reference that is a byte string of neither 0 nor 32 bytes.
    #[error("child reference of {len} bytes, expected 32")]
    BadReferenceLength {
        /// Length found.
        len: usize,
    },
    /// An inline child node of 32 bytes or more (it must be referenced by hash).
    #[error("embedded node of {len} bytes, must be under 32")]
    EmbeddedTooLarge {
        /// Length of the embedded node's RLP.
        len: usize,
    },
    /// A value slot holds a list instead of a byte string.
    #[error("value is a list, not a byte string")]
    ValueIsList,
}

/// Why the scheduler refused a delivery or an addition.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SyncError {
    /// Nothing with this hash is requested: an unexpected (or late, already committed) delivery.
    #[error("node {hash:?} was not requested")]
    NotRequested {
        /// Hash of the delivered blob.
        hash: NodeHash,
    },
    /// The blob was delivered before and is waiting for its children or to be committed.
    #[error("node {hash:?} was already processed")]
    AlreadyProcessed {
        /// Hash of the delivered blob.
        hash: NodeHash,
    },
    /// A requested hash's blob is not a valid trie node. The bytes match the hash, so the state
    /// itself is corrupt (no peer can forge such a blob); the sync cannot complete.
    #[error("node {hash:?} is malformed: {source}")]
    BadNode {
        /// Hash of the node.
        hash: NodeHash,
        /// What is wrong with it.
        source: NodeError,
    },
    /// The leaf callback rejected a leaf value of a node (e.g. an account that does not decode).
    #[error("leaf in node {hash:?} is malformed: {source}")]
    BadLeaf {
        /// Hash of the node containing the leaf.
        hash: NodeHash,
        /// The callback's decoding error.
        source: rlp::DecoderError,
    },
    /// A subtrie or raw entry named a parent that is not a pending node request.
    #[error("parent {parent:?} is not a pending request")]
    UnknownParent {
        /// The parent named.
        parent: NodeHash,
    },
    /// The store failed while checking what is already held.
    #[error("store: {0}")]
    Store(#[from] kvdb::Error),
}

impl SyncError {
    /// Whether this is a duplicate delivery (counted, harmless).
    pub fn is_duplicate(&self) -> bool {
        matches!(self, SyncError::AlreadyProcessed { .. })
    }

    /// Whether this is a delivery of something never requested (counted; harmless by itself).
    pub fn is_unexpected(&self) -> bool {
        matches!(self, SyncError::NotRequested { .. })
    }

    /// Whether the sync cannot go on: the state is corrupt or the store failed.
    pub fn is_fatal(&self) -> bool {
        matches!(
            self,
            SyncError::BadNode { .. }
                | SyncError::BadLeaf { .. }
                | SyncError::Store(_)
                | SyncError::UnknownParent { .. }
        )
    }
}

/// The result type of this crate's scheduler.
pub type Result<T, E = SyncError> = std::result::Result<T, E>;

/// What kind of stored entry an error is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EntryKind {
    /// A trie node, in [`kvdb::Namespace::TrieNodes`].
    TrieNode,
    /// A raw entry such as contract code, in [`kvdb::Namespace::Code`].
    RawEntry,
}

impl std::fmt::Display for EntryKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            EntryKind::TrieNode => "trie node",
            EntryKind::RawEntry => "raw entry",
        })
    }
}

/// Why a walk could not go on: the store holds something wrong, or failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum WalkError {
    /// A stored blob does not hash to its key.
    #[error("{kind} stored under {hash:?} hashes to {actual:?}")]
    HashMismatch {
        /// The key it is stored under.
        hash: NodeHash,
        /// Its actual keccak-256.
        actual: NodeHash,
        /// Whether it is a trie node or a raw entry.
        kind: EntryKind,
    },
    /// A stored trie node does not decode.
    #[error("stored node {hash:?} is malformed: {source}")]
    BadNode {
        /// The node's hash.
        hash: NodeHash,
        /// What is wrong with it.
        source: NodeError,
    },
    /// The leaf callback rejected a leaf value.
    #[error("leaf in stored node {hash:?} is malformed: {source}")]
    BadLeaf {
        /// The node holding the leaf.
        hash: NodeHash,
        /// The callback's error.
        source: rlp::DecoderError,
    },
    /// The store failed.
    #[error("store: {0}")]
    Store(#[from] kvdb::Error),
}

/// Why a [`TrieBuilder`] rejected an insertion.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum BuildError {
    /// Keys must come in strictly ascending byte order: the builder finalises a subtrie as soon as the
    /// next key leaves it, so a late key cannot be placed.
    #[error("key {key:02x?} is not after the previous key {previous:02x?}")]
    Unsorted {
        /// The key inserted before.
        previous: Vec<u8>,
        /// The offending key.
        key: Vec<u8>,
    },
    /// The same key twice: a trie maps each key to one value.
    #[error("key {key:02x?} inserted twice")]
    DuplicateKey {
        /// The repeated key.
        key: Vec<u8>,
    },
    /// An empty value: in an Ethereum trie storing an empty value means deleting the key, so there is no
    /// node that could hold it.
    #[error("empty value for key {key:02x?}")]
    EmptyValue {
        /// The key with the empty value.
        key: Vec<u8>,
    },
}

#[cfg(feature = "synthetic")]
/// Why a [`SyntheticConfig`] cannot be generated.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum SyntheticError {
    /// The contract fraction is not a number in `0.0..=1.0`.
    #[error("contract fraction {fraction} is not in 0..=1")]
    BadContractFraction {
        /// The fraction given.
        fraction: f64,
    },
    /// Not even the list of account keys (40 bytes per account) can be allocated.
    #[error("cannot allocate room for {accounts} accounts")]
    TooManyAccounts {
        /// The number of accounts asked for.
        accounts: usize,
    },
}
