//! The leaf callback: how a user of the scheduler adds dependencies found in leaf values.

use crate::NodeHash;

/// A leaf value reached while processing a node, handed to the [`LeafCallback`].
#[derive(Debug, Clone, Copy)]
pub struct Leaf<'a> {
    /// The full nibble path from the root of the trie the sync started at, including the path prefix
    /// of a subtrie (for a storage slot: the 64 nibbles of the account, then the slot's nibbles).
    pub path: &'a [u8],
    /// The leaf's value (for an account trie, the RLP of the account).
    pub value: &'a [u8],
    /// The hash of the stored node that contains this leaf, which becomes the parent of anything the
    /// callback adds.
    pub parent: NodeHash,
}

/// A dependency the callback found in a leaf; the node containing the leaf is committed only after
/// the dependency is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LeafAction {
    /// A subtrie rooted at `root` (an account's storage trie). The empty root is skipped.
    SubTrie {
        /// The subtrie's root hash.
        root: NodeHash,
        /// Whether the callback runs for the subtrie's leaves too (false for storage tries).
        notify_leaves: bool,
    },
    /// A blob that is not a trie node (contract code). The empty code hash is skipped.
    RawEntry {
        /// keccak-256 of the blob.
        hash: NodeHash,
    },
}

/// Called for every leaf value of a trie whose leaves are watched, to add what the value refers to.
///
/// The callback pushes onto `actions` instead of calling back into the scheduler, so it never
/// needs to borrow it. An `Err` means the leaf value is malformed; since the value was verified by
/// hash, that means the state itself is corrupt, and the scheduler reports it naming the node.
pub trait LeafCallback {
    /// Inspects one leaf and appends the dependencies to schedule.
    fn on_leaf(&mut self, leaf: &Leaf<'_>, actions: &mut Vec<LeafAction>) -> Result<(), rlp::DecoderError>;
}

impl<F> LeafCallback for F
where
    F: FnMut(&Leaf<'_>, &mut Vec<LeafAction>) -> Result<(), rlp::DecoderError>,
{
    fn on_leaf(&mut self, leaf: &Leaf<'_>, actions: &mut Vec<LeafAction>) -> Result<(), rlp::DecoderError> {
        self(leaf, actions)
    }
}

/// A callback that adds nothing: for syncing a plain trie.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoLeafCallback;

impl LeafCallback for NoLeafCallback {
    fn on_leaf(&mut self, _leaf: &Leaf<'_>, _actions: &mut Vec<LeafAction>) -> Result<(), rlp::DecoderError> {
        Ok(())
    }
}
