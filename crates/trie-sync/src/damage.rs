//! Finding what a repair must remove: damaged entries, and every stored node above one.
//!
//! The commit-order invariant says a stored node implies its whole subtrie is stored, and a sync
//! stops at any stored node. A damaged entry (missing, not matching its hash, not decoding) breaks
//! that for every stored node above it, in its own trie and, for a storage trie or code, in the
//! account trie through every account leaf that refers to it. [`find_damage`] lists both, so a
//! caller can delete them in one batch and let an ordinary sync of the same root fetch exactly them,
//! skipping every intact sibling subtrie.

use std::collections::HashSet;

use kvdb::{KeyValueStore, Namespace, WriteBatch};

use crate::verify::walk_tracking_ancestors;
use crate::{EntryKind, LeafCallback, NodeError, NodeHash, WalkError};

/// What is wrong with an entry a walk expected.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Damage {
    /// It is not in the store.
    Missing,
    /// It is stored, but its blob hashes to `actual`, not to its key.
    HashMismatch {
        /// keccak-256 of what is stored.
        actual: NodeHash,
    },
    /// It is stored and matches its hash, but is not a trie node.
    Malformed(NodeError),
    /// The store reports the page holding it corrupt.
    Unreadable {
        /// The storage backend.
        backend: &'static str,
        /// The backend's description of the damage.
        detail: String,
    },
}

impl Damage {
    /// Whether something is stored under the key (and must be deleted before it can be fetched).
    pub fn is_stored(&self) -> bool {
        !matches!(self, Damage::Missing)
    }
}

impl std::fmt::Display for Damage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Damage::Missing => f.write_str("missing"),
            Damage::HashMismatch { actual } => write!(f, "hashes to {actual:?}"),
            Damage::Malformed(source) => write!(f, "malformed: {source}"),
            Damage::Unreadable { backend, detail } => write!(f, "unreadable ({backend}: {detail})"),
        }
    }
}

/// An entry a walk found damaged.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DamagedEntry {
    /// Its hash (its key in the store).
    pub hash: NodeHash,
    /// A trie node ([`Namespace::TrieNodes`]) or a raw entry such as code ([`Namespace::Code`]).
    pub kind: EntryKind,
    /// Nibble path at which it is referenced (for a subtrie or code, prefixed with the leaf's path).
    pub path: Vec<u8>,
    /// What is wrong with it.
    pub damage: Damage,
}

/// What [`find_damage`] found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DamageReport {
    /// Trie nodes read intact.
    pub nodes: u64,
    /// Raw entries read intact (each distinct one once).
    pub raw_entries: u64,
    /// Bytes of the intact entries read.
    pub bytes: u64,
    /// Every damaged entry, each once (at the first place the walk met it), in walk order. Entries
    /// below a damaged node cannot be reached, so are not listed: a sync finds them.
    pub damaged: Vec<DamagedEntry>,
    /// Every intact stored trie node with damage below it, each once, in walk order: the chain from
    /// the root down to each damaged entry, through the account leaf's node for a storage trie or
    /// code, and through every account that refers to a damaged shared storage trie or code.
    pub ancestors: Vec<NodeHash>,
}

impl DamageReport {
    /// Whether nothing is damaged.
    pub fn is_clean(&self) -> bool {
        self.damaged.is_empty()
    }

    /// Adds to `batch` the deletion of every damaged entry that is stored and of every ancestor, so
    /// that a sync of the same root fetches them again; returns how many entries it deletes.
    pub fn delete_damaged(&self, batch: &mut WriteBatch) -> u64 {
        let mut deleted = 0;
        for entry in self.damaged.iter().filter(|entry| entry.damage.is_stored()) {
            batch.delete(namespace_of(entry.kind), entry.hash.as_bytes().to_vec());
            deleted += 1;
        }
        for hash in &self.ancestors {
            batch.delete(Namespace::TrieNodes, hash.as_bytes().to_vec());
            deleted += 1;
        }
        deleted
    }
}

/// The namespace entries of `kind` are stored in.
pub fn namespace_of(kind: EntryKind) -> Namespace {
    match kind {
        EntryKind::TrieNode => Namespace::TrieNodes,
        EntryKind::RawEntry => Namespace::Code,
    }
}

/// Walks the trie at `root` in `store` as [`walk`](crate::walk) does, re-hashing every node and
/// following `callback`'s subtries and raw entries, but goes on around every damaged entry and
/// records it, with every stored node above it (see [`DamageReport`]).
///
/// Errors: the store failing (other than a corrupt page, which is damage of the entry read), or
/// the callback rejecting a leaf of a node that matches its hash (the state itself is malformed;
/// fetching it again cannot help).
///
/// Memory: as [`walk`](crate::walk), plus the chain of nodes from the root to the current one, and
/// the damaged entries and ancestors found.
pub fn find_damage<S, C>(store: &S, root: NodeHash, callback: &mut C) -> Result<DamageReport, WalkError>
where
    S: KeyValueStore + ?Sized,
    C: LeafCallback + ?Sized,
{
    let mut damaged = Vec::new();
    let mut seen = HashSet::new();
    let walked = walk_tracking_ancestors(store, root, callback, &mut |entry| {
        if seen.insert((entry.hash, entry.kind)) {
            damaged.push(entry);
        }
        Ok(())
    })?;
    Ok(DamageReport {
        nodes: walked.counts.nodes,
        raw_entries: walked.counts.raw_entries,
        bytes: walked.counts.bytes,
        damaged,
        ancestors: walked.ancestors,
    })
}
