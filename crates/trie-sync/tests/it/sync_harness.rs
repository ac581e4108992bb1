//! Sources to sync from and a driver that runs the scheduler against them with a chosen delivery
//! pattern, recording what it requested.

use std::collections::{BTreeMap, HashMap, HashSet};

use kvdb::{KeyValueStore, MemoryStore, Namespace, WriteBatch};
use primitive_types::U256;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use trie_sync::{
    keccak256, walk, AccountLeafCallback, LeafCallback, Node, NodeHash, StateAccount, TrieSync, VerifiedBlob,
    WalkReport, EMPTY_ROOT,
};

/// Builds a trie from sorted pairs: its root and every node stored by hash.
pub(crate) fn build(pairs: &BTreeMap<Vec<u8>, Vec<u8>>) -> (NodeHash, Vec<(NodeHash, Vec<u8>)>) {
    trie_sync::build_trie(pairs.iter().map(|(k, v)| (k.as_slice(), v.as_slice())))
        .expect("sorted unique keys")
}

/// A complete state (or plain trie) to sync from.
pub(crate) struct Source {
    pub(crate) root: NodeHash,
    pub(crate) store: MemoryStore,
    /// Hashes of the nodes of the top trie (for a state: the account trie), excluding subtries.
    pub(crate) top_nodes: HashSet<NodeHash>,
}

impl Source {
    fn new(root: NodeHash, top: Vec<(NodeHash, Vec<u8>)>) -> Self {
        let store = MemoryStore::new();
        let top_nodes = top.iter().map(|(hash, _)| *hash).collect();
        put_nodes(&store, top);
        Self { root, store, top_nodes }
    }

    /// Every entry of a namespace as a set of keys.
    pub(crate) fn keys(&self, namespace: Namespace) -> HashSet<Vec<u8>> {
        keys(&self.store, namespace)
    }

    /// The blob stored under `hash`, trie node or code.
    pub(crate) fn blob(&self, hash: &NodeHash) -> Vec<u8> {
        self.store
            .get(Namespace::TrieNodes, hash.as_bytes())
            .unwrap()
            .or_else(|| self.store.get(Namespace::Code, hash.as_bytes()).unwrap())
            .unwrap_or_else(|| panic!("source lacks {hash:?}"))
    }

    /// Number of trie nodes plus code blobs.
    pub(crate) fn entries(&self) -> usize {
        self.keys(Namespace::TrieNodes).len() + self.keys(Namespace::Code).len()
    }
}

pub(crate) fn keys(store: &MemoryStore, namespace: Namespace) -> HashSet<Vec<u8>> {
    let mut keys = HashSet::new();
    store
        .for_each(namespace, &mut |key, _| {
            keys.insert(key.to_vec());
        })
        .unwrap();
    keys
}

fn put_nodes(store: &MemoryStore, nodes: Vec<(NodeHash, Vec<u8>)>) {
    let mut batch = WriteBatch::new();
    for (hash, rlp) in nodes {
        batch.put(Namespace::TrieNodes, hash.as_bytes().to_vec(), rlp);
    }
    store.write(batch).unwrap();
}

/// A plain trie of `count` random keys (of random length, so some keys are prefixes of others and
/// branches hold values) with random short values (so some nodes are embedded).
pub(crate) fn random_trie(count: usize, seed: u64) -> Source {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut pairs = BTreeMap::new();
    while pairs.len() < count {
        let key_len = rng.random_range(1..=12);
        let key: Vec<u8> = (0..key_len).map(|_| rng.random()).collect();
        let value_len = rng.random_range(1..=40);
        let value: Vec<u8> = (0..value_len).map(|_| rng.random()).collect();
        pairs.insert(key, value);
    }
    let (root, nodes) = build(&pairs);
    Source::new(root, nodes)
}

/// How the accounts of a synthetic state look.
#[derive(Clone, Copy)]
pub(crate) struct StateShape {
    pub(crate) accounts: usize,
    /// Distinct storage tries; account `i` that is a contract uses storage trie `i % storage_tries`,
    /// so tries are shared by many accounts.
    pub(crate) storage_tries: usize,
    /// Distinct code blobs, shared the same way.
    pub(crate) codes: usize,
    /// One account in `contract_every` is a contract.
    pub(crate) contract_every: usize,
    pub(crate) seed: u64,
}

/// A state whose storage tries and code are shared by many accounts; balances are offset by
/// `balance_offset` so a second state with another offset differs in every account leaf.
pub(crate) fn synthetic_state(shape: StateShape) -> Source {
    synthetic_state_with(shape, |_| 0)
}

/// As [`synthetic_state`], with a balance change per account index (to make a "next block" state).
pub(crate) fn synthetic_state_with(shape: StateShape, balance_delta: impl Fn(usize) -> u64) -> Source {
    let mut rng = StdRng::seed_from_u64(shape.seed);
    let mut subtries = Vec::new();
    let mut storage_roots = Vec::new();
    for trie in 0..shape.storage_tries {
        let mut slots = BTreeMap::new();
        let size = 1 + (trie * 37) % 200;
        for _ in 0..size {
            let slot: [u8; 32] = rng.random();
            let value: u64 = rng.random_range(1..u64::MAX);
            slots.insert(keccak256(slot).as_bytes().to_vec(), rlp::encode(&value).to_vec());
        }
        let (root, nodes) = build(&slots);
        storage_roots.push(root);
        subtries.extend(nodes);
    }
    let codes: Vec<Vec<u8>> =
        (0..shape.codes).map(|i| (0..64 + i * 7).map(|_| rng.random::<u8>()).collect()).collect();

    let mut accounts = BTreeMap::new();
    for index in 0..shape.accounts {
        let address: [u8; 20] = rng.random();
        let mut account =
            StateAccount::with_balance(U256::from(rng.random::<u64>() / 2 + balance_delta(index)));
        if shape.contract_every > 0 && index % shape.contract_every == 0 {
            if !storage_roots.is_empty() {
                account.storage_root = storage_roots[index % storage_roots.len()];
            }
            if !codes.is_empty() {
                account.code_hash = keccak256(&codes[index % codes.len()]);
            }
            account.nonce = 1;
        }
        accounts.insert(keccak256(address).as_bytes().to_vec(), account.encode());
    }
    let (root, nodes) = build(&accounts);
    let source = Source::new(root, nodes);
    put_nodes(&source.store, subtries);
    let mut batch = WriteBatch::new();
    for code in codes {
        batch.put(Namespace::Code, keccak256(&code).as_bytes().to_vec(), code);
    }
    source.store.write(batch).unwrap();
    source
}

/// Which of the outstanding hashes to deliver in one round.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Delivery {
    /// All of them, in the order requested.
    All,
    /// All of them, shuffled.
    Shuffled,
    /// Only the first half (rounded up); the rest wait for a later round.
    Half,
    /// A random half, shuffled.
    ShuffledHalf,
}

/// What a driven sync did.
#[derive(Debug, Default)]
pub(crate) struct Run {
    /// Every hash `missing` returned, in order.
    pub(crate) requested: Vec<NodeHash>,
    /// How many times `commit` wrote a non-empty batch.
    pub(crate) commits: usize,
}

/// Drives `sync` to completion: asks for up to `batch` hashes, delivers them from `source` per
/// `delivery`, commits into the scheduler's store after each round, and calls `after_commit` with
/// the keys just written.
pub(crate) fn drive<S, C>(
    sync: &mut TrieSync<S, C>,
    source: &Source,
    batch: usize,
    delivery: Delivery,
    seed: u64,
    mut after_commit: impl FnMut(&S, &[Vec<u8>]),
) -> Run
where
    S: KeyValueStore,
    C: LeafCallback,
{
    let mut rng = StdRng::seed_from_u64(seed);
    let mut run = Run::default();
    let mut outstanding: Vec<NodeHash> = Vec::new();
    for _round in 0..1_000_000 {
        let room = batch.saturating_sub(outstanding.len());
        let fresh = sync.missing(room);
        run.requested.extend(&fresh);
        outstanding.extend(fresh);
        if outstanding.is_empty() {
            assert_eq!(sync.pending(), 0, "nothing outstanding but the scheduler has pending requests");
            break;
        }
        if matches!(delivery, Delivery::Shuffled | Delivery::ShuffledHalf) {
            outstanding.shuffle(&mut rng);
        }
        let take = match delivery {
            Delivery::All | Delivery::Shuffled => outstanding.len(),
            Delivery::Half | Delivery::ShuffledHalf => outstanding.len().div_ceil(2),
        };
        for hash in outstanding.drain(..take).collect::<Vec<_>>() {
            sync.process(VerifiedBlob::new(source.blob(&hash))).unwrap();
        }
        let mut write = WriteBatch::new();
        if sync.commit(&mut write) > 0 {
            let keys: Vec<Vec<u8>> = write
                .ops()
                .iter()
                .map(|op| match op {
                    kvdb::BatchOp::Put { key, .. } | kvdb::BatchOp::Delete { key, .. } => key.clone(),
                })
                .collect();
            sync.store().write(write).unwrap();
            run.commits += 1;
            after_commit(sync.store(), &keys);
        }
    }
    assert_eq!(sync.pending(), 0, "sync did not finish");
    run
}

/// Asserts that `dest` holds exactly what `source` holds and that a walk from the root finds
/// everything.
pub(crate) fn assert_same_state(source: &Source, dest: &MemoryStore, callback: &mut dyn LeafCallback) {
    for namespace in [Namespace::TrieNodes, Namespace::Code] {
        let (want, got) = (source.keys(namespace), keys(dest, namespace));
        assert_eq!(
            got.len(),
            want.len(),
            "{namespace}: stored {} entries, source has {}",
            got.len(),
            want.len()
        );
        assert!(got == want, "{namespace}: stored set differs from the source's");
    }
    let report = walk(dest, source.root, callback, 8).unwrap();
    assert!(report.is_complete(), "walk found missing entries: {:?}", report.missing);
}

/// Walks the state at `root` in `store`.
pub(crate) fn walk_state(store: &MemoryStore, root: NodeHash) -> WalkReport {
    walk(store, root, &mut AccountLeafCallback, 8).unwrap()
}

/// Checks that the stored set is closed downward: every stored node's hash children are stored, and
/// for nodes of the top trie (`top_nodes`), so are the storage tries and code of its account leaves.
/// This is the commit-order invariant: a stored node implies its whole subtrie is stored.
pub(crate) fn assert_downward_closed(store: &MemoryStore, top_nodes: &HashSet<NodeHash>, accounts: bool) {
    let mut entries = Vec::new();
    store
        .for_each(Namespace::TrieNodes, &mut |key, value| entries.push((key.to_vec(), value.to_vec())))
        .unwrap();
    for (key, value) in entries {
        let hash = NodeHash::from_slice(&key);
        let node = Node::decode(&value).unwrap();
        let mut children = Vec::new();
        let mut leaves = Vec::new();
        node_refs(&node, &mut children, &mut leaves);
        for child in children {
            assert!(
                store.contains(Namespace::TrieNodes, child.as_bytes()).unwrap(),
                "stored node {hash:?} has child {child:?} missing"
            );
        }
        if accounts && top_nodes.contains(&hash) {
            for leaf in leaves {
                let account = StateAccount::decode(&leaf).unwrap();
                if account.storage_root != EMPTY_ROOT {
                    assert!(
                        store.contains(Namespace::TrieNodes, account.storage_root.as_bytes()).unwrap(),
                        "stored node {hash:?} has an account whose storage trie is missing"
                    );
                }
                if account.code_hash != trie_sync::EMPTY_CODE_HASH {
                    assert!(
                        store.contains(Namespace::Code, account.code_hash.as_bytes()).unwrap(),
                        "stored node {hash:?} has an account whose code is missing"
                    );
                }
            }
        }
    }
}

fn node_refs(node: &Node, children: &mut Vec<NodeHash>, leaves: &mut Vec<Vec<u8>>) {
    let visit =
        |child: &trie_sync::ChildRef, children: &mut Vec<NodeHash>, leaves: &mut Vec<Vec<u8>>| match child {
            trie_sync::ChildRef::Hash(hash) => children.push(*hash),
            trie_sync::ChildRef::Embedded(node) => node_refs(node, children, leaves),
        };
    match node {
        Node::Leaf { value, .. } => leaves.push(value.clone()),
        Node::Extension { child, .. } => visit(child, children, leaves),
        Node::Branch { children: slots, value } => {
            for child in slots.iter().flatten() {
                visit(child, children, leaves);
            }
            if let Some(value) = value {
                leaves.push(value.clone());
            }
        }
    }
}

/// The nibble path of every node of the top trie of `source` (first path found, for shared nodes).
pub(crate) fn node_paths(source: &Source) -> HashMap<NodeHash, Vec<u8>> {
    let mut paths = HashMap::new();
    let mut stack = vec![(source.root, Vec::new())];
    while let Some((hash, path)) = stack.pop() {
        let Some(data) = source.store.get(Namespace::TrieNodes, hash.as_bytes()).unwrap() else { continue };
        if paths.contains_key(&hash) {
            continue;
        }
        paths.insert(hash, path.clone());
        let node = Node::decode(&data).unwrap();
        child_paths(&node, path, &mut stack);
    }
    paths
}

fn child_paths(node: &Node, path: Vec<u8>, out: &mut Vec<(NodeHash, Vec<u8>)>) {
    let child = |child: &trie_sync::ChildRef, path: Vec<u8>, out: &mut Vec<(NodeHash, Vec<u8>)>| match child {
        trie_sync::ChildRef::Hash(hash) => out.push((*hash, path)),
        trie_sync::ChildRef::Embedded(node) => child_paths(node, path, out),
    };
    match node {
        Node::Leaf { .. } => {}
        Node::Extension { path: rest, child: next } => child(next, [path.as_slice(), rest].concat(), out),
        Node::Branch { children, .. } => {
            for (nibble, slot) in children.iter().enumerate() {
                if let Some(next) = slot {
                    child(next, [path.as_slice(), &[nibble as u8]].concat(), out);
                }
            }
        }
    }
}

/// A scheduler for the plain trie of `source` over `dest`.
pub(crate) fn plain_sync<'a>(source: &Source, dest: &'a MemoryStore) -> TrieSync<&'a MemoryStore> {
    TrieSync::new(source.root, dest).unwrap()
}

/// A scheduler for the state of `source` over `dest`.
pub(crate) fn state_sync<'a>(
    source: &Source,
    dest: &'a MemoryStore,
) -> TrieSync<&'a MemoryStore, AccountLeafCallback> {
    TrieSync::with_callback(source.root, dest, AccountLeafCallback).unwrap()
}
