//! Test states, sources, peers and the checks every sync test makes.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use downloader::{DownloadError, Downloader, DownloaderConfig, SyncReport};
use kvdb::{KeyValueStore, MemoryStore, Namespace, WriteBatch};
use peers::{peer_events, Behaviour, InProcessPeer, PeerEventReceiver, PeerSet};
use primitive_types::U256;
use trie_sync::{
    build_trie, keccak256, secure_key, walk, AccountLeafCallback, NodeHash, StateAccount, SyntheticConfig,
    SyntheticState, EMPTY_ROOT,
};

/// A state as a source serves it: its root and every entry under it.
#[derive(Debug, Clone, Default)]
pub(crate) struct State {
    pub(crate) root: NodeHash,
    pub(crate) nodes: BTreeMap<NodeHash, Vec<u8>>,
    pub(crate) codes: BTreeMap<NodeHash, Vec<u8>>,
}

impl State {
    pub(crate) fn entries(&self) -> usize {
        self.nodes.len() + self.codes.len()
    }

    /// Keys of every entry, nodes and codes tagged apart.
    pub(crate) fn keys(&self) -> BTreeSet<(bool, NodeHash)> {
        self.nodes.keys().map(|h| (false, *h)).chain(self.codes.keys().map(|h| (true, *h))).collect()
    }

    pub(crate) fn store(&self) -> Arc<dyn KeyValueStore> {
        let store = Arc::new(MemoryStore::new());
        self.write_into(store.as_ref());
        store
    }

    pub(crate) fn write_into(&self, store: &dyn KeyValueStore) {
        let mut batch = WriteBatch::new();
        for (hash, node) in &self.nodes {
            batch.put(Namespace::TrieNodes, hash.as_bytes().to_vec(), node.clone());
        }
        for (hash, code) in &self.codes {
            batch.put(Namespace::Code, hash.as_bytes().to_vec(), code.clone());
        }
        store.write(batch).expect("write source");
    }
}

pub(crate) fn empty() -> State {
    State { root: EMPTY_ROOT, ..State::default() }
}

/// Accounts `(key seed, account)` into a state, with the given storage tries and codes.
pub(crate) fn from_accounts(
    accounts: &[(u64, StateAccount)],
    storage: &BTreeMap<NodeHash, Vec<u8>>,
    codes: &BTreeMap<NodeHash, Vec<u8>>,
) -> State {
    let mut pairs: Vec<(NodeHash, Vec<u8>)> =
        accounts.iter().map(|(seed, account)| (secure_key(&seed.to_be_bytes()), account.encode())).collect();
    pairs.sort();
    let (root, nodes) = build_trie(pairs.iter().map(|(k, v)| (k.as_bytes(), v))).expect("trie");
    let mut state = State { root, nodes: nodes.into_iter().collect(), codes: BTreeMap::new() };
    let used: BTreeSet<NodeHash> = accounts.iter().map(|(_, a)| a.code_hash).collect();
    state.codes = codes.iter().filter(|(h, _)| used.contains(h)).map(|(h, c)| (*h, c.clone())).collect();
    let roots: BTreeSet<NodeHash> = accounts.iter().map(|(_, a)| a.storage_root).collect();
    if roots.iter().any(|r| *r != EMPTY_ROOT) {
        state.nodes.extend(storage.iter().map(|(h, n)| (*h, n.clone())));
    }
    state
}

pub(crate) fn one_account() -> State {
    from_accounts(
        &[(1, StateAccount::with_balance(U256::from(1_000u64)))],
        &BTreeMap::new(),
        &BTreeMap::new(),
    )
}

/// A storage trie of `slots` slots seeded by `seed`.
pub(crate) fn storage_trie(seed: u64, slots: u64) -> (NodeHash, BTreeMap<NodeHash, Vec<u8>>) {
    let mut pairs: Vec<(NodeHash, Vec<u8>)> =
        (0..slots).map(|i| (keccak256((seed * 1_000 + i).to_be_bytes()), rlp_u64(seed + i + 1))).collect();
    pairs.sort();
    let (root, nodes) = build_trie(pairs.iter().map(|(k, v)| (k.as_bytes(), v))).expect("trie");
    (root, nodes.into_iter().collect())
}

fn rlp_u64(value: u64) -> Vec<u8> {
    let bytes = value.to_be_bytes();
    let trimmed: Vec<u8> = bytes.iter().copied().skip_while(|b| *b == 0).collect();
    if trimmed.len() == 1 && trimmed[0] < 0x80 {
        trimmed
    } else {
        let mut out = vec![0x80 + trimmed.len() as u8];
        out.extend(trimmed);
        out
    }
}

/// Accounts sharing one storage trie and one code blob, plus plain accounts.
pub(crate) fn shared_storage_and_code() -> State {
    let (storage_root, storage) = storage_trie(7, 40);
    let code = b"shared contract code, long enough to be a real blob".repeat(4);
    let code_hash = keccak256(&code);
    let codes: BTreeMap<_, _> = [(code_hash, code)].into_iter().collect();
    let mut accounts = Vec::new();
    for seed in 0..6u64 {
        let account =
            StateAccount { nonce: seed, storage_root, code_hash, ..StateAccount::with_balance(U256::one()) };
        accounts.push((seed, account));
    }
    for seed in 6..12u64 {
        accounts.push((seed, StateAccount::with_balance(U256::from(seed))));
    }
    from_accounts(&accounts, &storage, &codes)
}

pub(crate) fn synthetic(seed: u64, accounts: usize) -> State {
    let generated = SyntheticState::generate(&SyntheticConfig::new(seed, accounts)).expect("synthetic");
    State { root: generated.root, nodes: generated.nodes, codes: generated.codes }
}

fn vectors_dir() -> PathBuf {
    std::env::var_os("STATESYNC_VECTORS")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/vectors"))
}

/// Mainnet genesis (balances only), or `None` (printing why) when the vectors are missing outside CI.
pub(crate) fn mainnet_genesis(test: &str) -> Option<State> {
    let dir = vectors_dir();
    if !dir.is_dir() {
        assert!(
            std::env::var_os("CI").is_none(),
            "{test}: vectors not found at {}; CI requires them",
            dir.display()
        );
        eprintln!("SKIPPED {test}: vectors not found at {} (set STATESYNC_VECTORS)", dir.display());
        return None;
    }
    let path = dir.join("mainnet.json");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
    let genesis: serde_json::Value = serde_json::from_str(&text).expect("mainnet.json parses");
    let alloc = genesis["alloc"].as_object().expect("alloc object");
    let mut pairs: Vec<(NodeHash, Vec<u8>)> = alloc
        .iter()
        .map(|(address, account)| {
            let address = hex::decode(address.trim_start_matches("0x")).expect("hex address");
            let balance = account["balance"].as_str().expect("balance string");
            let balance = match balance.strip_prefix("0x") {
                Some(hex) => U256::from_str_radix(hex, 16).expect("hex balance"),
                None => U256::from_dec_str(balance).expect("decimal balance"),
            };
            (secure_key(&address), StateAccount::with_balance(balance).encode())
        })
        .collect();
    pairs.sort();
    let (root, nodes) = build_trie(pairs.iter().map(|(k, v)| (k.as_bytes(), v))).expect("trie");
    assert_eq!(
        hex::encode(root.as_bytes()),
        "d7f8974fb5ac78d9ac099b9ad5018bedc2ce0a72dad1827a1709da30580f0544",
        "mainnet genesis root"
    );
    Some(State { root, nodes: nodes.into_iter().collect(), codes: BTreeMap::new() })
}

/// In-process peers serving `source`, registered in a new set.
pub(crate) fn serve(
    source: &Arc<dyn KeyValueStore>,
    behaviours: &[(&str, Behaviour)],
) -> (PeerSet, PeerEventReceiver, Vec<Arc<InProcessPeer>>) {
    let (events, inbox) = peer_events(64);
    let peers = PeerSet::default();
    let handles = behaviours
        .iter()
        .map(|(id, behaviour)| {
            let peer = InProcessPeer::with_behaviour(*id, source.clone(), events.clone(), behaviour.clone());
            peers.register(peer.clone()).expect("distinct ids");
            peer
        })
        .collect();
    (peers, inbox, handles)
}

/// Syncs `state` from in-process peers with `behaviours` into a fresh memory store.
pub(crate) async fn sync_from(
    state: &State,
    behaviours: &[(&str, Behaviour)],
    config: DownloaderConfig,
) -> (Result<SyncReport, DownloadError>, Arc<dyn KeyValueStore>, Vec<Arc<InProcessPeer>>, PeerSet) {
    let source = state.store();
    let (peers, inbox, handles) = serve(&source, behaviours);
    let local: Arc<dyn KeyValueStore> = Arc::new(MemoryStore::new());
    let downloader = Downloader::new(local.clone(), peers.clone(), inbox, config);
    let result = downloader.sync_state(state.root).wait().await;
    (result, local, handles, peers)
}

/// Keys of the trie nodes and code in `store`.
pub(crate) fn stored_keys(store: &dyn KeyValueStore) -> BTreeSet<(bool, NodeHash)> {
    let mut keys = BTreeSet::new();
    for (namespace, is_code) in [(Namespace::TrieNodes, false), (Namespace::Code, true)] {
        store
            .for_each(namespace, &mut |key, _| {
                keys.insert((is_code, NodeHash::from_slice(key)));
            })
            .expect("read store");
    }
    keys
}

/// Invariant 1: the store holds exactly the state's entries, and a walk finds it complete.
pub(crate) fn assert_equals_source(store: &dyn KeyValueStore, state: &State) {
    assert_eq!(stored_keys(store), state.keys(), "stored entries differ from the source's");
    let report = walk(store, state.root, &mut AccountLeafCallback, 8).expect("walk");
    assert!(report.is_complete(), "walk finds entries missing: {:?}", report.missing);
}

/// Invariant 2: everything stored hashes to its key and belongs to the state.
pub(crate) fn assert_only_verified(store: &dyn KeyValueStore, state: &State) {
    for (namespace, is_code) in [(Namespace::TrieNodes, false), (Namespace::Code, true)] {
        store
            .for_each(namespace, &mut |key, value| {
                let hash = NodeHash::from_slice(key);
                assert_eq!(keccak256(value), hash, "stored blob does not hash to its key");
                assert!(state.keys().contains(&(is_code, hash)), "stored entry {hash:?} is not in the state");
            })
            .expect("read store");
    }
}

/// `n` honest peers with `latency`.
pub(crate) fn honest(n: usize, latency: Duration) -> Vec<(&'static str, Behaviour)> {
    const IDS: [&str; 4] = ["honest-0", "honest-1", "honest-2", "honest-3"];
    IDS[..n].iter().map(|id| (*id, Behaviour::honest().with_latency(latency))).collect()
}
