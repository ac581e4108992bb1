//! The trie sync scheduler: which hashes are missing, and what to do with each delivered blob.

use std::cmp::Ordering;
use std::collections::hash_map::Entry;
use std::collections::BinaryHeap;
use std::hash::{BuildHasher, Hasher};
use std::mem::size_of;

use kvdb::{KeyValueStore, Namespace, WriteBatch};
use smallvec::SmallVec;
use tracing::trace;

use crate::gauge::{Shared, WorkGauge};
use crate::{
    ChildRef, Leaf, LeafAction, LeafCallback, NoLeafCallback, Node, NodeHash, SyncError, VerifiedBlob,
    EMPTY_CODE_HASH, EMPTY_ROOT,
};

/// How many nodes of one depth may be handed out and not yet complete (fetched, or processed but
/// still waiting for their subtrie) before [`TrieSync::missing`] stops expanding: it bounds the
/// requests and the nodes waiting on their children held in memory, since a trie level can be
/// millions of nodes wide. go-ethereum uses the same figure.
pub const DEFAULT_MAX_FETCHES_PER_DEPTH: usize = 16_384;

/// Settings of a [`TrieSync`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SchedulerConfig {
    /// See [`DEFAULT_MAX_FETCHES_PER_DEPTH`]; at least 1.
    pub max_fetches_per_depth: usize,
}

impl Default for SchedulerConfig {
    fn default() -> Self {
        Self { max_fetches_per_depth: DEFAULT_MAX_FETCHES_PER_DEPTH }
    }
}

/// Whether a request is for a trie node or a raw blob (code); they live in separate namespaces.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
enum Kind {
    Node,
    Code,
}

impl Kind {
    fn namespace(self) -> Namespace {
        match self {
            Kind::Node => Namespace::TrieNodes,
            Kind::Code => Namespace::Code,
        }
    }
}

/// Index of a request in the scheduler's slab.
type Slot = u32;

/// A nibble path, inline up to 80 nibbles: an account (64) plus the top of its storage trie, which
/// covers nearly every node of a real state without a heap allocation per request.
pub(crate) type NibblePath = SmallVec<[u8; 80]>;

/// Leaf values found in one node with their full paths: almost always one (a leaf node) or none.
pub(crate) type LeafValues<'a> = SmallVec<[(NibblePath, &'a [u8]); 2]>;

/// A scheduled retrieval: from being added until it and everything below it is complete.
#[derive(Debug)]
struct Request {
    hash: NodeHash,
    kind: Kind,
    /// Nibbles from the sync root (a subtrie's requests carry the path of the leaf that added it):
    /// the depth orders the queue and leaf callbacks see full paths.
    path: NibblePath,
    /// The delivered bytes, held from processing until every dependency is complete.
    data: Option<Vec<u8>>,
    /// Requests waiting for this one; a parent appears once per reference it holds.
    parents: SmallVec<[Slot; 2]>,
    /// Dependencies not yet complete; the request completes when this is 0 after processing.
    deps: u32,
    /// Whether the leaf callback runs for leaves found in this node and its descendants.
    notify_leaves: bool,
    /// Whether `missing` returned it, so its depth counts toward the per-depth fetch cap.
    handed_out: bool,
    /// Entries completed below it so far (a child shared with another parent counts for both):
    /// what the progress gauge learns subtrie sizes from.
    size: u64,
    /// Which request this is, over the scheduler's life: its queue entry names it, so an entry left
    /// behind by a request whose slot was freed (and perhaps reused) is recognised as stale.
    seq: u64,
}

/// An entry of the priority queue of requests not yet handed out: small (32 bytes), so the heap moves
/// little; the request it names is found by slot, without a hash lookup.
#[derive(Debug, PartialEq, Eq)]
struct Queued {
    priority: u128,
    slot: Slot,
    /// The request's [`Request::seq`]: the entry is stale if the slot now holds another.
    seq: u64,
}

impl Ord for Queued {
    fn cmp(&self, other: &Self) -> Ordering {
        // Max-heap: highest priority first; ties go to the older request, so the order is
        // deterministic.
        self.priority.cmp(&other.priority).then_with(|| other.seq.cmp(&self.seq))
    }
}

impl PartialOrd for Queued {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

/// Queue priority of a path: deeper first (so subtries complete, and leave memory, early), then
/// left to right along the first 16 nibbles (a depth-first walk). The depth keeps all 32 bits it
/// needs: a child must always sort before its parent's siblings, or a capped level could block the
/// very children that would free it.
fn priority(path: &[u8]) -> u128 {
    let depth = u32::try_from(path.len()).unwrap_or(u32::MAX);
    let mut order = 0u64;
    for (index, nibble) in path.iter().take(16).enumerate() {
        order |= u64::from(15 - (nibble & 0x0f)) << (60 - 4 * index);
    }
    (u128::from(depth) << 64) | u128::from(order)
}

/// A map keyed by node hash, hashed with [`HashState`].
type HashMap<V> = std::collections::HashMap<NodeHash, V, HashState>;

/// Hashes the keys of the scheduler's maps, keccak-256 hashes, from their first 8 bytes mixed with a
/// per-map random seed: those bytes are as uniform as the whole hash, so hashing all 32 (foldhash's
/// long-input path) bought nothing. A peer cannot aim keys at one bucket: the keys are hashes of
/// nodes it does not choose (every node is checked against the hash its parent names), and the
/// seed is unknown to it.
#[derive(Debug, Clone)]
struct HashState {
    seed: u64,
}

impl Default for HashState {
    fn default() -> Self {
        Self { seed: foldhash::fast::RandomState::default().hash_one(0u64) }
    }
}

impl BuildHasher for HashState {
    type Hasher = PrefixHasher;

    #[inline]
    fn build_hasher(&self) -> PrefixHasher {
        PrefixHasher { state: self.seed }
    }
}

/// See [`HashState`]. Correct for any input (each write is folded in), fast for one 32-byte hash.
#[derive(Debug)]
struct PrefixHasher {
    state: u64,
}

impl Hasher for PrefixHasher {
    #[inline]
    fn write(&mut self, bytes: &[u8]) {
        let mut word = [0u8; 8];
        let len = bytes.len().min(8);
        word[..len].copy_from_slice(&bytes[..len]);
        self.state = fold(self.state ^ u64::from_le_bytes(word), bytes.len() as u64);
    }

    #[inline]
    fn finish(&self) -> u64 {
        fold(self.state, 0x243f_6a88_85a3_08d3)
    }
}

/// Multiplies to 128 bits and folds the halves together: every input bit reaches every output bit.
#[inline]
fn fold(value: u64, salt: u64) -> u64 {
    let product = u128::from(value) * u128::from(salt ^ 0x9e37_79b9_7f4a_7c15);
    (product as u64) ^ ((product >> 64) as u64)
}

/// Complete blobs waiting to be written: everything below each of them is complete too.
#[derive(Debug, Default)]
struct MemBatch {
    nodes: HashMap<Vec<u8>>,
    codes: HashMap<Vec<u8>>,
    bytes: usize,
}

impl MemBatch {
    fn contains(&self, kind: Kind, hash: &NodeHash) -> bool {
        match kind {
            Kind::Node => self.nodes.contains_key(hash),
            Kind::Code => self.codes.contains_key(hash),
        }
    }

    fn insert(&mut self, kind: Kind, hash: NodeHash, data: Vec<u8>) {
        self.bytes += data.len() + size_of::<NodeHash>();
        match kind {
            Kind::Node => self.nodes.insert(hash, data),
            Kind::Code => self.codes.insert(hash, data),
        };
    }

    fn len(&self) -> usize {
        self.nodes.len() + self.codes.len()
    }
}

/// A child found while processing a node, not yet held anywhere.
#[derive(Debug)]
struct Dependency {
    hash: NodeHash,
    kind: Kind,
    path: NibblePath,
    notify_leaves: bool,
}

/// The Merkle-Patricia trie sync scheduler (go-ethereum's `trie.Sync`, hash scheme).
///
/// Synchronous and free of I/O but for point reads of the store: the caller asks [`missing`] for
/// hashes to fetch, hands each fetched blob to [`process`] as a [`VerifiedBlob`], and periodically
/// moves complete blobs into a [`WriteBatch`] with [`commit`] and writes it. The sync is done when
/// [`pending`] is 0 and the last commit is written.
///
/// A node is moved to the batch only after all its children (and the storage tries and code its
/// leaves refer to) are in the batch or the store, so a node in the store implies its whole subtrie
/// is there: a restart, or a sync of a newer root, skips it entirely.
///
/// [`missing`]: TrieSync::missing
/// [`process`]: TrieSync::process
/// [`commit`]: TrieSync::commit
/// [`pending`]: TrieSync::pending
#[derive(Debug)]
pub struct TrieSync<S, C = NoLeafCallback> {
    /// Where complete blobs end up; consulted so nothing already held is requested.
    store: S,
    /// Finds storage tries and code in leaf values.
    callback: C,
    config: SchedulerConfig,
    /// Live requests; freed slots are reused through `free`.
    requests: Vec<Option<Request>>,
    free: Vec<Slot>,
    /// Pending trie node requests by hash: one request per hash however many parents refer to it.
    nodes: HashMap<Slot>,
    /// Pending raw (code) requests by hash.
    codes: HashMap<Slot>,
    /// Requests not yet handed out; may hold stale entries (processed early, or completed), skipped
    /// on pop.
    queue: BinaryHeap<Queued>,
    /// The next [`Request::seq`].
    next_seq: u64,
    /// Handed-out requests not yet complete, per depth, for the per-depth cap.
    fetches: Vec<usize>,
    membatch: MemBatch,
    /// Bytes of data held by processed requests waiting on dependencies.
    waiting_bytes: usize,
    /// Reused buffer for the callback's actions.
    actions: Vec<LeafAction>,
    /// The shape of the tries seen so far, for [`Self::progress`].
    gauge: WorkGauge,
    /// The last batch [`commit`](Self::commit) moved out, keys only (its values were moved into the
    /// caller's batch): the caller may still be writing it, so its keys count as held until the next
    /// commit (the caller writes one batch at a time, so by then it is in the store). It is the
    /// batch's own maps, kept rather than rebuilt: commit inserts nothing per blob.
    writing: MemBatch,
    /// Reused buffers of the hot path, so processing a node allocates little.
    scratch_children: Vec<(NodeHash, NibblePath)>,
    scratch_dependencies: Vec<Dependency>,
    /// What an account leaf refers to (storage roots, code), new or not, and whether it is held:
    /// for the gauge.
    scratch_referred: Vec<(NodeHash, Kind, bool)>,
    scratch_ready: Vec<Slot>,
}

impl<S: KeyValueStore> TrieSync<S> {
    /// A scheduler for the plain trie at `root`, with no leaf callback.
    pub fn new(root: NodeHash, store: S) -> Result<Self, SyncError> {
        Self::with_callback(root, store, NoLeafCallback)
    }
}

impl<S: KeyValueStore, C: LeafCallback> TrieSync<S, C> {
    /// A scheduler for the trie at `root` whose leaves go through `callback` (for the state trie:
    /// [`AccountLeafCallback`](crate::AccountLeafCallback)). Nothing is scheduled if `root` is the
    /// empty root or already in the store.
    pub fn with_callback(root: NodeHash, store: S, callback: C) -> Result<Self, SyncError> {
        Self::with_config(root, store, callback, SchedulerConfig::default())
    }

    /// As [`with_callback`](Self::with_callback), with explicit settings.
    pub fn with_config(
        root: NodeHash,
        store: S,
        callback: C,
        config: SchedulerConfig,
    ) -> Result<Self, SyncError> {
        let mut sync = Self {
            store,
            callback,
            config: SchedulerConfig { max_fetches_per_depth: config.max_fetches_per_depth.max(1) },
            requests: Vec::new(),
            free: Vec::new(),
            nodes: HashMap::default(),
            codes: HashMap::default(),
            queue: BinaryHeap::new(),
            next_seq: 0,
            fetches: Vec::new(),
            membatch: MemBatch::default(),
            waiting_bytes: 0,
            actions: Vec::new(),
            gauge: WorkGauge::default(),
            writing: MemBatch::default(),
            scratch_children: Vec::new(),
            scratch_dependencies: Vec::new(),
            scratch_referred: Vec::new(),
            scratch_ready: Vec::new(),
        };
        sync.add_sub_trie(root, &[], None, true)?;
        Ok(sync)
    }

    /// Schedules the trie at `root` (reached at nibble `path`) as a dependency of the pending node
    /// request `parent`, or on its own if `parent` is `None`.
    ///
    /// Skips the empty root and anything already in the store or waiting to be committed; if the root
    /// is already requested, only links the extra parent, so a trie shared by many accounts is fetched
    /// once.
    pub fn add_sub_trie(
        &mut self,
        root: NodeHash,
        path: &[u8],
        parent: Option<NodeHash>,
        notify_leaves: bool,
    ) -> Result<(), SyncError> {
        self.add_dependency(root, Kind::Node, path, parent, notify_leaves)
    }

    /// Schedules a raw blob (contract code) with hash `hash`, as a dependency of the pending node
    /// request `parent` (or on its own). Skips the empty code hash and anything already held; links
    /// the extra parent if it is already requested.
    pub fn add_raw_entry(
        &mut self,
        hash: NodeHash,
        path: &[u8],
        parent: Option<NodeHash>,
    ) -> Result<(), SyncError> {
        self.add_dependency(hash, Kind::Code, path, parent, false)
    }

    fn add_dependency(
        &mut self,
        hash: NodeHash,
        kind: Kind,
        path: &[u8],
        parent: Option<NodeHash>,
        notify_leaves: bool,
    ) -> Result<(), SyncError> {
        let parent = match parent {
            Some(parent) => {
                Some(self.nodes.get(&parent).copied().ok_or(SyncError::UnknownParent { parent })?)
            }
            None => None,
        };
        if self.is_held(hash, kind)? {
            return Ok(());
        }
        let dependency = Dependency { hash, kind, path: NibblePath::from_slice(path), notify_leaves };
        self.link(dependency, parent);
        if let Some(parent) = parent {
            self.request_mut(parent).deps += 1;
        }
        Ok(())
    }

    /// Up to `max` hashes to fetch next, deepest first, each handed out once.
    ///
    /// Returns fewer (possibly none) while the deepest queued level already has
    /// [`SchedulerConfig::max_fetches_per_depth`] requests handed out and not complete: a request
    /// frees its room when it and its whole subtrie are complete, so delivering the deeper hashes
    /// handed out earlier makes progress. The caller keeps hashes it failed to fetch and retries them
    /// itself.
    pub fn missing(&mut self, max: usize) -> Vec<NodeHash> {
        let mut hashes = Vec::with_capacity(max.min(self.queue.len()));
        while hashes.len() < max {
            let Some(&Queued { slot, seq, .. }) = self.queue.peek() else { break };
            let live = self.requests.get(slot as usize).and_then(Option::as_ref);
            let Some(request) = live.filter(|request| request.seq == seq) else {
                self.queue.pop();
                continue;
            };
            if request.handed_out || request.data.is_some() {
                self.queue.pop();
                continue;
            }
            let depth = request.path.len();
            if self.fetches.get(depth).copied().unwrap_or(0) >= self.config.max_fetches_per_depth {
                break;
            }
            let (hash, kind) = (request.hash, request.kind);
            self.queue.pop();
            self.hand_out(slot);
            // One fetch serves a hash pending both as a node and as code: hand out the twin too. It
            // counts toward its own depth's cap but is not held back by it, since its fetch is free.
            let twin = match kind {
                Kind::Node => self.slot_of(Kind::Code, &hash),
                Kind::Code => self.slot_of(Kind::Node, &hash),
            };
            if let Some(twin) = twin.filter(|&twin| !self.request(twin).handed_out) {
                self.hand_out(twin);
            }
            hashes.push(hash);
        }
        hashes
    }

    /// Marks a request handed out, counting it toward its depth's cap.
    fn hand_out(&mut self, slot: Slot) {
        let depth = self.request(slot).path.len();
        if self.fetches.len() <= depth {
            self.fetches.resize(depth + 1, 0);
        }
        self.fetches[depth] += 1;
        self.request_mut(slot).handed_out = true;
    }

    /// Accepts a delivered blob.
    ///
    /// A trie node is decoded, its leaves go through the callback, and its children not yet held
    /// are scheduled; once nothing below it is outstanding it joins the batch to commit, and its
    /// parents are told. A blob matching a pending raw request completes it at once.
    ///
    /// Errors: [`SyncError::NotRequested`] for a blob nothing asked for, [`SyncError::AlreadyProcessed`]
    /// for a repeat, [`SyncError::BadNode`] / [`SyncError::BadLeaf`] naming the node if it does not
    /// decode (the request stays pending), [`SyncError::Store`] if the store fails (nothing changes).
    pub fn process(&mut self, blob: VerifiedBlob) -> Result<(), SyncError> {
        let (hash, data) = blob.into_parts();
        let unfilled =
            |sync: &Self, kind| sync.slot_of(kind, &hash).filter(|&s| sync.request(s).data.is_none());
        let code = unfilled(self, Kind::Code);
        let node = unfilled(self, Kind::Node);
        match (code, node) {
            (None, None) => {
                let seen = self.membatch.contains(Kind::Node, &hash)
                    || self.membatch.contains(Kind::Code, &hash)
                    || self.is_being_written(Kind::Node, &hash)
                    || self.is_being_written(Kind::Code, &hash)
                    || self.nodes.contains_key(&hash)
                    || self.codes.contains_key(&hash);
                if seen {
                    Err(SyncError::AlreadyProcessed { hash })
                } else {
                    Err(SyncError::NotRequested { hash })
                }
            }
            (Some(code), None) => {
                self.fill(code, data);
                Ok(())
            }
            (code, Some(node)) => {
                self.process_node(node, &data)?;
                if let Some(code) = code {
                    self.fill(code, data.clone());
                }
                self.fill(node, data);
                Ok(())
            }
        }
    }

    /// Decodes the node in `slot` and schedules what it depends on; does not store `data` yet.
    fn process_node(&mut self, slot: Slot, data: &[u8]) -> Result<(), SyncError> {
        let request = self.request(slot);
        let (hash, notify_leaves, depth) = (request.hash, request.notify_leaves, request.path.len());
        let node = Node::decode(data).map_err(|source| SyncError::BadNode { hash, source })?;

        let mut path = request.path.clone();
        let mut children = std::mem::take(&mut self.scratch_children);
        let mut leaves = LeafValues::new();
        children.clear();
        collect(&node, &mut path, &mut children, &mut leaves);

        // Find every dependency before changing anything, so a store or callback error leaves the
        // scheduler as it was.
        let mut dependencies = std::mem::take(&mut self.scratch_dependencies);
        dependencies.clear();
        for (child, path) in children.drain(..) {
            if !self.is_held(child, Kind::Node)? {
                dependencies.push(Dependency { hash: child, kind: Kind::Node, path, notify_leaves });
            }
        }
        self.scratch_children = children;
        let mut referred = std::mem::take(&mut self.scratch_referred);
        referred.clear();
        if notify_leaves {
            for (path, value) in leaves {
                self.actions.clear();
                let leaf = Leaf { path: &path, value, parent: hash };
                self.callback
                    .on_leaf(&leaf, &mut self.actions)
                    .map_err(|source| SyncError::BadLeaf { hash, source })?;
                for index in 0..self.actions.len() {
                    let (hash, kind, notify_leaves) = match self.actions[index] {
                        LeafAction::SubTrie { root, notify_leaves } => (root, Kind::Node, notify_leaves),
                        LeafAction::RawEntry { hash } => (hash, Kind::Code, false),
                    };
                    let held = self.is_held(hash, kind)?;
                    referred.push((hash, kind, held));
                    if !held {
                        dependencies.push(Dependency { hash, kind, path: path.clone(), notify_leaves });
                    }
                }
            }
        }

        for (hash, kind, held) in referred.drain(..) {
            let shared = match kind {
                Kind::Node => Shared::StorageRoot,
                Kind::Code => Shared::Code,
            };
            self.gauge.referred(depth, &hash, shared, held);
        }
        self.scratch_referred = referred;
        let count = dependencies.len() as u32;
        for dependency in dependencies.drain(..) {
            let (child_depth, is_node) = (dependency.path.len(), dependency.kind == Kind::Node);
            if self.link(dependency, Some(slot)) {
                // New work (not already pending under another parent): the gauge learns the shape.
                self.gauge.child(depth, child_depth, is_node);
            }
        }
        self.scratch_dependencies = dependencies;
        self.request_mut(slot).deps += count;
        trace!(target: "trie_sync::scheduler", ?hash, dependencies = count, "processed node");
        Ok(())
    }

    /// Stores `data` in the processed request `slot` and completes it if nothing is outstanding.
    fn fill(&mut self, slot: Slot, data: Vec<u8>) {
        self.waiting_bytes += data.len();
        let Self { requests, gauge, .. } = self;
        if let Some(Some(request)) = requests.get(slot as usize) {
            gauge.delivered(request.path.len(), request.kind == Kind::Node);
        }
        let request = self.request_mut(slot);
        request.data = Some(data);
        if request.deps == 0 {
            self.complete(slot);
        }
    }

    /// Moves a request whose dependencies are all complete into the batch, then any parent this
    /// completes in turn.
    fn complete(&mut self, slot: Slot) {
        let mut ready = std::mem::take(&mut self.scratch_ready);
        ready.push(slot);
        while let Some(slot) = ready.pop() {
            let Some(request) = self.requests[slot as usize].take() else { continue };
            self.free.push(slot);
            match request.kind {
                Kind::Node => self.nodes.remove(&request.hash),
                Kind::Code => self.codes.remove(&request.hash),
            };
            if request.handed_out {
                self.fetches[request.path.len()] -= 1;
            }
            let data = request.data.unwrap_or_default();
            self.waiting_bytes -= data.len();
            let size = request.size + 1;
            if request.kind == Kind::Node {
                self.gauge.completed(request.path.len(), size);
            }
            self.membatch.insert(request.kind, request.hash, data);
            for (index, parent) in request.parents.into_iter().enumerate() {
                let parent_request = self.request_mut(parent);
                parent_request.deps -= 1;
                if index == 0 {
                    // Its size counts once, for the parent that scheduled it.
                    parent_request.size += size;
                }
                if parent_request.deps == 0 && parent_request.data.is_some() {
                    ready.push(parent);
                }
            }
        }
        self.scratch_ready = ready;
    }

    /// Schedules `dependency` (or links `parent` to the existing request for it); returns whether
    /// it made a new request.
    fn link(&mut self, dependency: Dependency, parent: Option<Slot>) -> bool {
        let Dependency { hash, kind, path, notify_leaves } = dependency;
        let index = match kind {
            Kind::Node => &mut self.nodes,
            Kind::Code => &mut self.codes,
        };
        let slot = match index.entry(hash) {
            Entry::Occupied(existing) => {
                let slot = *existing.get();
                if let Some(parent) = parent {
                    self.request_mut(slot).parents.push(parent);
                }
                return false;
            }
            Entry::Vacant(vacant) => {
                let slot = match self.free.pop() {
                    Some(slot) => slot,
                    None => {
                        self.requests.push(None);
                        (self.requests.len() - 1) as Slot
                    }
                };
                vacant.insert(slot);
                slot
            }
        };
        let seq = self.next_seq;
        self.next_seq += 1;
        self.queue.push(Queued { priority: priority(&path), slot, seq });
        self.requests[slot as usize] = Some(Request {
            hash,
            kind,
            path,
            data: None,
            parents: parent.into_iter().collect(),
            deps: 0,
            notify_leaves,
            handed_out: false,
            size: 0,
            seq,
        });
        true
    }

    /// Whether `hash` needs no request: empty, waiting in the batch, or in the store.
    fn is_held(&self, hash: NodeHash, kind: Kind) -> Result<bool, SyncError> {
        let empty = match kind {
            Kind::Node => EMPTY_ROOT,
            Kind::Code => EMPTY_CODE_HASH,
        };
        Ok(hash == empty
            || self.membatch.contains(kind, &hash)
            || self.is_being_written(kind, &hash)
            || self.store.contains(kind.namespace(), hash.as_bytes())?)
    }

    /// Whether `hash` is in the batch the last [`commit`](Self::commit) moved out.
    fn is_being_written(&self, kind: Kind, hash: &NodeHash) -> bool {
        match kind {
            Kind::Node => self.writing.nodes.contains_key(hash),
            Kind::Code => self.writing.codes.contains_key(hash),
        }
    }

    /// Moves every complete blob into `batch` (trie nodes and code into their namespaces) and returns
    /// how many. The caller must write the batch; if that fails the sync must restart from the store,
    /// since the blobs are no longer held here.
    ///
    /// The caller may keep processing blobs while it writes the batch (one write at a time: the
    /// batch must be in the store before the next `commit`): until the next `commit`, the blobs just
    /// moved out still count as held, so nothing in them is asked for again, and nodes completed
    /// meanwhile go into the next batch, written after this one, which keeps the store consistent.
    pub fn commit(&mut self, batch: &mut WriteBatch) -> usize {
        let count = self.membatch.len();
        batch.reserve(count);
        // The batch moved out last time is in the store now: its maps, emptied, take the next blobs.
        std::mem::swap(&mut self.membatch, &mut self.writing);
        self.membatch.nodes.clear();
        self.membatch.codes.clear();
        for (hash, data) in &mut self.writing.nodes {
            batch.put(Namespace::TrieNodes, hash.as_bytes().to_vec(), std::mem::take(data));
        }
        for (hash, data) in &mut self.writing.codes {
            batch.put(Namespace::Code, hash.as_bytes().to_vec(), std::mem::take(data));
        }
        self.writing.bytes = 0;
        count
    }

    /// Requests not yet complete (handed out or not): 0 means everything is fetched.
    pub fn pending(&self) -> usize {
        self.nodes.len() + self.codes.len()
    }

    /// The share of the sync's work done, in `0.0..=1.0`, for a progress gauge: the entries delivered
    /// (plus `before`, what earlier syncs into the same store completed, from their checkpoint)
    /// against those plus the work expected under every request not yet delivered, from the fan-out
    /// seen at each depth so far (see the module `gauge`). 1.0 exactly when nothing is pending, below
    /// it before.
    ///
    /// `None` while a depth with 16 or more nodes requested at it has had none delivered: the first
    /// round trips of a sync, about one per level of the tries, and briefly later when a depth is
    /// first reached (the deep levels of a big storage trie). The work below such a depth is
    /// unknown, and counting it as nothing made the first estimates run ahead. An estimate can dip a
    /// little when a level is first seen: a display keeps the highest value shown. Each estimate
    /// moves the estimated total work part of the way from the last one's, by how much the work done
    /// grew since (so how often it is called matters little). Scans the live requests: call it a few
    /// times a second, not per blob.
    pub fn progress(&mut self, before: u64) -> Option<f64> {
        if !self.gauge.is_informed() && self.pending() > 0 {
            return None;
        }
        let expected = self.gauge.expected();
        let references = self.gauge.expected_references();
        let (mut remaining, mut future) = (0.0, [0.0; 2]);
        for request in self.requests.iter().flatten().filter(|request| request.data.is_none()) {
            if request.kind == Kind::Code {
                remaining += 1.0;
                continue;
            }
            let depth = request.path.len();
            remaining += expected[depth.min(expected.len() - 1)];
            if let Some(ahead) = references.get(depth) {
                future[0] += ahead[0];
                future[1] += ahead[1];
            }
        }
        remaining += self.gauge.unseen_work(future, &expected);
        Some(self.gauge.estimate(remaining, before))
    }

    /// What the progress gauge has learnt of the tries' shape, for a later sync of the same root
    /// into the same store to start from ([`resume_progress`](Self::resume_progress)): a resumed
    /// sync then estimates from all of the tries seen so far rather than from the part left, whose
    /// first storage tries are those an interruption cut off mid-way (the big ones more likely). A
    /// few KiB: store it with each commit.
    pub fn progress_snapshot(&self) -> Vec<u8> {
        self.gauge.snapshot()
    }

    /// Starts the progress gauge from `snapshot`, a [`progress_snapshot`](Self::progress_snapshot)
    /// of an earlier sync of the same root into the same store; call it before processing anything.
    /// False, and the gauge as it was, if `snapshot` is not one (another version's, or damaged).
    pub fn resume_progress(&mut self, snapshot: &[u8]) -> bool {
        match WorkGauge::restore(snapshot) {
            Some(gauge) => {
                self.gauge = gauge;
                true
            }
            None => false,
        }
    }

    /// Complete blobs waiting for [`commit`](Self::commit), and their bytes.
    pub fn uncommitted(&self) -> (usize, usize) {
        (self.membatch.len(), self.membatch.bytes)
    }

    /// An estimate of the heap memory held: the allocated capacity of the request slab, the indexes,
    /// the queue and the batch maps (which keep their capacity after a commit), path and parent lists
    /// that outgrew their inline space, data waiting on children, the batch not yet committed, and
    /// the progress gauge (at most a few MiB).
    pub fn memory_bytes(&self) -> usize {
        let map_entry = |key_value: usize| key_value + 1; // hashbrown: one control byte per bucket
        let spilled: usize = self
            .requests
            .iter()
            .flatten()
            .map(|request| {
                let path = if request.path.spilled() { request.path.capacity() } else { 0 };
                let parents = if request.parents.spilled() {
                    request.parents.capacity() * size_of::<Slot>()
                } else {
                    0
                };
                path + parents
            })
            .sum();
        self.requests.capacity() * size_of::<Option<Request>>()
            + self.free.capacity() * size_of::<Slot>()
            + (self.nodes.capacity() + self.codes.capacity()) * map_entry(size_of::<(NodeHash, Slot)>())
            + self.queue.capacity() * size_of::<Queued>()
            + (self.membatch.nodes.capacity()
                + self.membatch.codes.capacity()
                + self.writing.nodes.capacity()
                + self.writing.codes.capacity())
                * map_entry(size_of::<(NodeHash, Vec<u8>)>())
            + spilled
            + self.waiting_bytes
            + self.membatch.bytes
            + self.gauge.memory_bytes()
    }

    /// The store the scheduler checks and the caller writes to.
    pub fn store(&self) -> &S {
        &self.store
    }

    fn slot_of(&self, kind: Kind, hash: &NodeHash) -> Option<Slot> {
        match kind {
            Kind::Node => self.nodes.get(hash).copied(),
            Kind::Code => self.codes.get(hash).copied(),
        }
    }

    fn request(&self, slot: Slot) -> &Request {
        self.requests[slot as usize].as_ref().expect("slot of a live request")
    }

    fn request_mut(&mut self, slot: Slot) -> &mut Request {
        self.requests[slot as usize].as_mut().expect("slot of a live request")
    }
}

/// Walks a node and its embedded children, collecting hash-referenced children and leaf values with
/// their full paths. `path` is the node's own path; it is restored before returning.
pub(crate) fn collect<'a>(
    node: &'a Node,
    path: &mut NibblePath,
    children: &mut Vec<(NodeHash, NibblePath)>,
    leaves: &mut LeafValues<'a>,
) {
    let base = path.len();
    match node {
        Node::Leaf { path: rest, value } => {
            path.extend_from_slice(rest);
            leaves.push((path.clone(), value));
        }
        Node::Extension { path: rest, child } => {
            path.extend_from_slice(rest);
            collect_child(child, path, children, leaves);
        }
        Node::Branch { children: slots, value } => {
            for (nibble, child) in slots.iter().enumerate() {
                if let Some(child) = child {
                    path.push(nibble as u8);
                    collect_child(child, path, children, leaves);
                    path.truncate(base);
                }
            }
            if let Some(value) = value {
                leaves.push((path.clone(), value));
            }
        }
    }
    path.truncate(base);
}

fn collect_child<'a>(
    child: &'a ChildRef,
    path: &mut NibblePath,
    children: &mut Vec<(NodeHash, NibblePath)>,
    leaves: &mut LeafValues<'a>,
) {
    match child {
        ChildRef::Hash(hash) => children.push((*hash, path.clone())),
        ChildRef::Embedded(node) => collect(node, path, children, leaves),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn priority_prefers_deeper_then_leftmost() {
        assert!(priority(&[0, 0]) > priority(&[0]));
        assert!(priority(&[0]) > priority(&[1]));
        assert!(priority(&[1, 15]) > priority(&[15]));
        assert!(priority(&[3, 1]) > priority(&[3, 2]));
    }

    #[test]
    fn priority_keeps_depth_order_beyond_255_nibbles() {
        let parent_sibling = vec![0u8; 256];
        let child = vec![15u8; 300];
        assert!(priority(&child) > priority(&parent_sibling));
        assert!(priority(&vec![0u8; 70_000]) > priority(&vec![0u8; 69_999]));
    }

    #[test]
    fn queue_pops_highest_priority_first() {
        let mut queue = BinaryHeap::new();
        for (priority, seq) in [(1, 0), (3, 1), (2, 2), (3, 3)] {
            queue.push(Queued { priority, slot: seq as Slot, seq });
        }
        let order: Vec<(u128, u64)> =
            std::iter::from_fn(|| queue.pop().map(|q| (q.priority, q.seq))).collect();
        assert_eq!(order, vec![(3, 1), (3, 3), (2, 2), (1, 0)], "ties go to the older request");
    }
}
