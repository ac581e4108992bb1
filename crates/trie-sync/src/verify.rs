//! Walking a stored trie from its root: is everything there, and does every blob match its hash?
//!
//! One walker serves two callers: [`walk`] (verification: gaps are counted, a bad blob stops it) and
//! [`find_damage`](crate::find_damage) (repair: every damaged entry is recorded with the stored
//! nodes above it, and the walk goes on around it).

use std::collections::{HashMap, HashSet};

use kvdb::{KeyValueStore, Namespace};

use crate::damage::{Damage, DamagedEntry};
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
    let mut missing = Vec::new();
    let mut missing_count = 0u64;
    let walked = Walker::new(store, callback, false).run(root, &mut |entry| match entry.damage {
        Damage::Missing => {
            missing_count += 1;
            if missing.len() < max_missing {
                missing.push(MissingEntry {
                    hash: entry.hash,
                    raw: entry.kind == EntryKind::RawEntry,
                    path: entry.path,
                });
            }
            Ok(())
        }
        Damage::HashMismatch { actual } => {
            Err(WalkError::HashMismatch { hash: entry.hash, actual, kind: entry.kind })
        }
        Damage::Malformed(source) => Err(WalkError::BadNode { hash: entry.hash, source }),
        Damage::Unreadable { backend, detail } => {
            Err(WalkError::Store(kvdb::Error::Corrupted { backend, detail }))
        }
    })?;
    Ok(WalkReport {
        nodes: walked.counts.nodes,
        raw_entries: walked.counts.raw_entries,
        watched_leaves: walked.counts.watched_leaves,
        other_leaves: walked.counts.other_leaves,
        bytes: walked.counts.bytes,
        missing,
        missing_count,
    })
}

/// What the walker read.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct WalkCounts {
    /// Trie nodes read intact (see [`WalkReport::nodes`]).
    pub(crate) nodes: u64,
    /// Raw entries read intact, each distinct one once.
    pub(crate) raw_entries: u64,
    /// Leaves of watched tries.
    pub(crate) watched_leaves: u64,
    /// Leaves of the other subtries.
    pub(crate) other_leaves: u64,
    /// Bytes of the intact entries read.
    pub(crate) bytes: u64,
}

/// What a finished walk hands back besides what its damage handler saw.
#[derive(Debug, Default)]
pub(crate) struct Walked {
    /// What was read intact.
    pub(crate) counts: WalkCounts,
    /// Stored trie nodes with damage somewhere below them, each once, in walk order (only when the
    /// walker tracks ancestors).
    pub(crate) ancestors: Vec<NodeHash>,
}

/// A node of the current path from the root, read intact.
#[derive(Debug, Clone, Copy)]
struct Link {
    hash: NodeHash,
    /// Damage was found below it. Marks form a prefix of the chain: marking stops at the first
    /// marked link, since everything above it is marked already.
    marked: bool,
    /// It is the root of a subtrie added by a leaf, whose outcome other referrers look up.
    dependency: bool,
}

/// A trie node waiting to be read.
#[derive(Debug)]
struct Pending {
    hash: NodeHash,
    path: NibblePath,
    /// Whether the callback runs for the leaves below it.
    watched: bool,
    /// Length of the chain of its ancestors: the chain is cut back to this before it is read.
    level: usize,
    /// It is the root of a subtrie added by a leaf.
    dependency: bool,
}

/// What is known of a subtrie or raw entry added by a leaf, for the other leaves that add it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    /// Added, not walked to the end yet.
    Pending,
    /// Walked; nothing below it is damaged.
    Intact,
    /// It, or something below it, is damaged.
    Damaged,
}

/// The walk itself: a depth-first walk over an explicit stack that keeps the chain of intact nodes
/// from the root to the current one, so a damaged entry knows every stored node above it, across
/// tries (a storage node's chain runs through the account leaf's node up to the state root).
struct Walker<'a, S: ?Sized, C: ?Sized> {
    store: &'a S,
    callback: &'a mut C,
    /// Whether to collect the nodes above damage (repair) or not (verification, which need not pay
    /// for a set that grows with the damage).
    track_ancestors: bool,
    counts: WalkCounts,
    chain: Vec<Link>,
    ancestors: Vec<NodeHash>,
    ancestor_set: HashSet<NodeHash>,
    /// Subtries and raw entries added by leaves: each is walked once however many leaves add it,
    /// and a damaged one makes every referrer's chain an ancestor.
    dependencies: HashMap<(NodeHash, EntryKind), Outcome>,
    /// Referrers of a dependency not yet walked to the end (possible only when a callback adds a
    /// watched subtrie that adds the same dependency again): its chain, resolved when the walk ends.
    deferred: Vec<(NodeHash, Vec<NodeHash>)>,
}

impl<'a, S, C> Walker<'a, S, C>
where
    S: KeyValueStore + ?Sized,
    C: LeafCallback + ?Sized,
{
    fn new(store: &'a S, callback: &'a mut C, track_ancestors: bool) -> Self {
        Self {
            store,
            callback,
            track_ancestors,
            counts: WalkCounts::default(),
            chain: Vec::new(),
            ancestors: Vec::new(),
            ancestor_set: HashSet::new(),
            dependencies: HashMap::new(),
            deferred: Vec::new(),
        }
    }

    /// Walks from `root`, handing every damaged entry (once per place it is referenced) to
    /// `on_damage`, which decides whether the walk goes on (`Ok`) or stops.
    fn run(
        mut self,
        root: NodeHash,
        on_damage: &mut dyn FnMut(DamagedEntry) -> Result<(), WalkError>,
    ) -> Result<Walked, WalkError> {
        let mut stack: Vec<Pending> = Vec::new();
        if root != EMPTY_ROOT {
            stack.push(Pending {
                hash: root,
                path: NibblePath::new(),
                watched: true,
                level: 0,
                dependency: false,
            });
        }
        let mut actions = Vec::new();
        let mut children = Vec::new();
        while let Some(pending) = stack.pop() {
            self.unwind(pending.level);
            let hash = pending.hash;
            let node = match self.read_node(hash)? {
                Ok(node) => node,
                Err(damage) => {
                    self.damaged(hash, EntryKind::TrieNode, &pending.path, damage, on_damage)?;
                    if pending.dependency {
                        self.dependencies.insert((hash, EntryKind::TrieNode), Outcome::Damaged);
                    }
                    continue;
                }
            };
            self.chain.push(Link { hash, marked: false, dependency: pending.dependency });
            let level = self.chain.len();
            let mut leaves = LeafValues::new();
            let mut node_path = pending.path;
            children.clear();
            collect(&node, &mut node_path, &mut children, &mut leaves);
            // Reverse so the leftmost child is walked first.
            for (child, child_path) in children.drain(..).rev() {
                stack.push(Pending {
                    hash: child,
                    path: child_path,
                    watched: pending.watched,
                    level,
                    dependency: false,
                });
            }
            if !pending.watched {
                self.counts.other_leaves += leaves.len() as u64;
                continue;
            }
            self.counts.watched_leaves += leaves.len() as u64;
            for (leaf_path, value) in leaves {
                actions.clear();
                let leaf = Leaf { path: &leaf_path, value, parent: hash };
                self.callback
                    .on_leaf(&leaf, &mut actions)
                    .map_err(|source| WalkError::BadLeaf { hash, source })?;
                for action in actions.drain(..) {
                    match action {
                        LeafAction::SubTrie { root, notify_leaves } => {
                            if root == EMPTY_ROOT || self.known(root, EntryKind::TrieNode) {
                                continue;
                            }
                            self.dependencies.insert((root, EntryKind::TrieNode), Outcome::Pending);
                            stack.push(Pending {
                                hash: root,
                                path: leaf_path.clone(),
                                watched: notify_leaves,
                                level,
                                dependency: true,
                            });
                        }
                        LeafAction::RawEntry { hash: code } => {
                            if code == EMPTY_CODE_HASH || self.known(code, EntryKind::RawEntry) {
                                continue;
                            }
                            let outcome = match self.read_raw(code)? {
                                Ok(()) => Outcome::Intact,
                                Err(damage) => {
                                    self.damaged(code, EntryKind::RawEntry, &leaf_path, damage, on_damage)?;
                                    Outcome::Damaged
                                }
                            };
                            self.dependencies.insert((code, EntryKind::RawEntry), outcome);
                        }
                    }
                }
            }
        }
        self.unwind(0);
        Ok(self.finish())
    }

    /// Reads, re-hashes and decodes a trie node.
    fn read_node(&mut self, hash: NodeHash) -> Result<Result<Node, Damage>, WalkError> {
        let data = match self.read(Namespace::TrieNodes, hash)? {
            Ok(data) => data,
            Err(damage) => return Ok(Err(damage)),
        };
        match Node::decode(&data) {
            Ok(node) => {
                self.counts.nodes += 1;
                self.counts.bytes += data.len() as u64;
                Ok(Ok(node))
            }
            Err(source) => Ok(Err(Damage::Malformed(source))),
        }
    }

    /// Reads and re-hashes a raw entry.
    fn read_raw(&mut self, hash: NodeHash) -> Result<Result<(), Damage>, WalkError> {
        let data = match self.read(Namespace::Code, hash)? {
            Ok(data) => data,
            Err(damage) => return Ok(Err(damage)),
        };
        self.counts.raw_entries += 1;
        self.counts.bytes += data.len() as u64;
        Ok(Ok(()))
    }

    /// The blob stored under `hash` if it is there and hashes to it; a page the store reports
    /// corrupt is damage of this entry, any other store failure ends the walk.
    fn read(&self, namespace: Namespace, hash: NodeHash) -> Result<Result<Vec<u8>, Damage>, WalkError> {
        let data = match self.store.get(namespace, hash.as_bytes()) {
            Ok(Some(data)) => data,
            Ok(None) => return Ok(Err(Damage::Missing)),
            Err(kvdb::Error::Corrupted { backend, detail }) => {
                return Ok(Err(Damage::Unreadable { backend, detail }));
            }
            Err(error) => return Err(error.into()),
        };
        let actual = keccak256(&data);
        if actual != hash {
            return Ok(Err(Damage::HashMismatch { actual }));
        }
        Ok(Ok(data))
    }

    /// Whether a dependency was added before; if so, the current node's chain is an ancestor of
    /// whatever damage it holds (now, or once it is walked, for one still pending).
    fn known(&mut self, hash: NodeHash, kind: EntryKind) -> bool {
        match self.dependencies.get(&(hash, kind)) {
            None => false,
            Some(Outcome::Intact) => true,
            Some(Outcome::Damaged) => {
                self.mark_chain();
                true
            }
            Some(Outcome::Pending) => {
                if self.track_ancestors {
                    self.deferred.push((hash, self.chain.iter().map(|link| link.hash).collect()));
                }
                true
            }
        }
    }

    /// Records a damaged entry below the current chain.
    fn damaged(
        &mut self,
        hash: NodeHash,
        kind: EntryKind,
        path: &[u8],
        damage: Damage,
        on_damage: &mut dyn FnMut(DamagedEntry) -> Result<(), WalkError>,
    ) -> Result<(), WalkError> {
        self.mark_chain();
        on_damage(DamagedEntry { hash, kind, path: path.to_vec(), damage })
    }

    /// Marks every node of the current chain as an ancestor of damage.
    fn mark_chain(&mut self) {
        if !self.track_ancestors {
            return;
        }
        for link in self.chain.iter_mut().rev() {
            if link.marked {
                break;
            }
            link.marked = true;
            if self.ancestor_set.insert(link.hash) {
                self.ancestors.push(link.hash);
            }
        }
    }

    /// Cuts the chain back to `level` links: the nodes cut off are walked to the end, so a subtrie
    /// root among them now knows its outcome.
    fn unwind(&mut self, level: usize) {
        while self.chain.len() > level {
            let link = self.chain.pop().expect("longer than level");
            if link.dependency {
                let outcome = if link.marked { Outcome::Damaged } else { Outcome::Intact };
                self.dependencies.insert((link.hash, EntryKind::TrieNode), outcome);
            }
        }
    }

    /// Resolves the deferred referrers and hands back what was found.
    fn finish(mut self) -> Walked {
        for (dependency, chain) in std::mem::take(&mut self.deferred) {
            if self.dependencies.get(&(dependency, EntryKind::TrieNode)) == Some(&Outcome::Damaged) {
                for hash in chain {
                    if self.ancestor_set.insert(hash) {
                        self.ancestors.push(hash);
                    }
                }
            }
        }
        Walked { counts: self.counts, ancestors: self.ancestors }
    }
}

/// Walks the trie at `root` with `callback`, handing each damaged entry to `on_damage` and
/// collecting the stored nodes above damage: the engine of [`find_damage`](crate::find_damage).
pub(crate) fn walk_tracking_ancestors<S, C>(
    store: &S,
    root: NodeHash,
    callback: &mut C,
    on_damage: &mut dyn FnMut(DamagedEntry) -> Result<(), WalkError>,
) -> Result<Walked, WalkError>
where
    S: KeyValueStore + ?Sized,
    C: LeafCallback + ?Sized,
{
    Walker::new(store, callback, true).run(root, on_damage)
}
