//! Walking a stored trie from its root: is everything there, and does every blob match its hash?

use std::collections::HashSet;

use kvdb::{KeyValueStore, Namespace};

use crate::scheduler::{collect, LeafValues, NibblePath};
use crate::{
    keccak256, EntryKind, Leaf, LeafAction, LeafCallback, Node, NodeHash, WalkError, EMPTY_CODE_HASH,
    EMPTY_ROOT,
};

/// Something the walk expected in the store and did not find.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MissingEntry {
    /// The hash that is absent.
    pub hash: NodeHash,
    /// Whether it is a raw blob (code) rather than a trie node.
    pub raw: bool,
    /// Nibble path at which it is referenced (for a subtrie, prefixed with the leaf's path).
    pub path: Vec<u8>,
}

/// What a walk found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WalkReport {
    /// Trie nodes read, re-hashed and decoded. A subtrie added by several leaves (a storage trie
    /// shared by many accounts) is walked once; identical subtrees inside one trie are walked, and
    /// counted, once per place they occur.
    pub nodes: u64,
    /// Raw blobs (code) read and re-hashed (each distinct blob once).
    pub raw_entries: u64,
    /// Leaves of watched tries (for the state trie: accounts).
    pub watched_leaves: u64,
    /// Leaves of subtries not watched (for the state trie: storage slots of distinct storage tries).
    pub other_leaves: u64,
    /// Bytes of nodes and blobs read.
    pub bytes: u64,
    /// The first missing entries found, in walk order (at most the limit given to [`walk`]).
    pub missing: Vec<MissingEntry>,
    /// How many entries were missing in all (may exceed `missing.len()`).
    pub missing_count: u64,
}

impl WalkReport {
    /// Whether nothing is missing.
    pub fn is_complete(&self) -> bool {
        self.missing_count == 0
    }
}

/// Walks the trie at `root` in `store`, re-hashing every node and following, through `callback`,
/// the subtries and raw entries its leaves refer to (pass
/// [`AccountLeafCallback`](crate::AccountLeafCallback) for the state). Missing entries are recorded
/// (the first `max_missing` of them in full) and the walk goes on around them; a blob that does not
/// match its hash or does not decode stops it with an error.
///
/// Memory: the walk keeps a stack of pending hashes and the set of subtrie roots and raw entries seen
/// (so a storage trie or code shared by many accounts is read once).
pub fn walk<S, C>(
    store: &S,
    root: NodeHash,
    callback: &mut C,
    max_missing: usize,
) -> Result<WalkReport, WalkError>
where
    S: KeyValueStore + ?Sized,
    C: LeafCallback + ?Sized,
{
    let mut report = WalkReport::default();
    let mut seen_dependencies: HashSet<(NodeHash, bool)> = HashSet::new();
    // (hash, path, watched leaves?)
    let mut stack: Vec<(NodeHash, NibblePath, bool)> = Vec::new();
    if root != EMPTY_ROOT {
        stack.push((root, NibblePath::new(), true));
    }
    let mut actions = Vec::new();
    let missing = |report: &mut WalkReport, hash, raw, path: &[u8]| {
        report.missing_count += 1;
        if report.missing.len() < max_missing {
            report.missing.push(MissingEntry { hash, raw, path: path.to_vec() });
        }
    };

    while let Some((hash, path, watched)) = stack.pop() {
        let Some(data) = store.get(Namespace::TrieNodes, hash.as_bytes())? else {
            missing(&mut report, hash, false, &path);
            continue;
        };
        let actual = keccak256(&data);
        if actual != hash {
            return Err(WalkError::HashMismatch { hash, actual, kind: EntryKind::TrieNode });
        }
        report.nodes += 1;
        report.bytes += data.len() as u64;
        let node = Node::decode(&data).map_err(|source| WalkError::BadNode { hash, source })?;
        let mut children = Vec::new();
        let mut leaves = LeafValues::new();
        let mut node_path = path.clone();
        collect(&node, &mut node_path, &mut children, &mut leaves);
        // Reverse so the leftmost child is walked first.
        for (child, child_path) in children.into_iter().rev() {
            stack.push((child, child_path, watched));
        }
        if !watched {
            report.other_leaves += leaves.len() as u64;
            continue;
        }
        report.watched_leaves += leaves.len() as u64;
        for (leaf_path, value) in leaves {
            actions.clear();
            let leaf = Leaf { path: &leaf_path, value, parent: hash };
            callback.on_leaf(&leaf, &mut actions).map_err(|source| WalkError::BadLeaf { hash, source })?;
            for action in actions.drain(..) {
                match action {
                    LeafAction::SubTrie { root, notify_leaves } => {
                        if root != EMPTY_ROOT && seen_dependencies.insert((root, false)) {
                            stack.push((root, leaf_path.clone(), notify_leaves));
                        }
                    }
                    LeafAction::RawEntry { hash: code } => {
                        if code == EMPTY_CODE_HASH || !seen_dependencies.insert((code, true)) {
                            continue;
                        }
                        match store.get(Namespace::Code, code.as_bytes())? {
                            None => missing(&mut report, code, true, &leaf_path),
                            Some(blob) => {
                                let actual = keccak256(&blob);
                                if actual != code {
                                    return Err(WalkError::HashMismatch {
                                        hash: code,
                                        actual,
                                        kind: EntryKind::RawEntry,
                                    });
                                }
                                report.raw_entries += 1;
                                report.bytes += blob.len() as u64;
                            }
                        }
                    }
                }
            }
        }
    }
    Ok(report)
}
