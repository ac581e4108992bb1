//! The scheduler's processing rate on a state of over a million nodes, keccak verification included,
//! beside the rate of keccak + decode alone on the same nodes (the floor any scheduler pays).
//!
//! `cargo bench -p trie-sync --bench scheduler`

use std::collections::{BTreeMap, HashMap};
use std::hint::black_box;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use kvdb::{KeyValueStore, MemoryStore, WriteBatch};
use primitive_types::U256;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use trie_sync::{
    build_trie, keccak256, AccountLeafCallback, Node, NodeHash, StateAccount, TrieSync, VerifiedBlob,
};

/// Accounts in the bench state: with their branches and a few storage tries, just over 1M nodes.
const ACCOUNTS: usize = 760_000;
/// One account in this many is a contract with a storage trie and code.
const CONTRACT_EVERY: usize = 20;
/// Hashes asked for per round, as one peer request of the wire protocol's maximum.
const REQUEST: usize = 384;

/// A deterministic state: root and every blob by hash.
fn state() -> (NodeHash, HashMap<NodeHash, Vec<u8>>) {
    let mut rng = StdRng::seed_from_u64(42);
    let mut blobs = HashMap::new();
    let mut storage_roots = Vec::new();
    for _ in 0..64 {
        let mut slots = BTreeMap::new();
        for _ in 0..rng.random_range(1..400) {
            let slot: [u8; 32] = rng.random();
            slots.insert(keccak256(slot), rlp::encode(&rng.random::<u64>()).to_vec());
        }
        let (root, nodes) = build_trie(slots.iter().map(|(k, v)| (k.as_bytes(), v.as_slice()))).unwrap();
        storage_roots.push(root);
        blobs.extend(nodes);
    }
    let mut code_hashes = Vec::new();
    for len in 0..32 {
        let code: Vec<u8> = (0..100 + len * 50).map(|_| rng.random()).collect();
        code_hashes.push(keccak256(&code));
        blobs.insert(keccak256(&code), code);
    }
    let mut accounts = BTreeMap::new();
    for index in 0..ACCOUNTS {
        let mut account = StateAccount::with_balance(U256::from(rng.random::<u64>()));
        if index % CONTRACT_EVERY == 0 {
            account.nonce = 1;
            let contract = index / CONTRACT_EVERY;
            account.storage_root = storage_roots[contract % storage_roots.len()];
            account.code_hash = code_hashes[contract % code_hashes.len()];
        }
        let address: [u8; 20] = rng.random();
        accounts.insert(keccak256(address), account.encode());
    }
    let (root, nodes) = build_trie(accounts.iter().map(|(k, v)| (k.as_bytes(), v.as_slice()))).unwrap();
    blobs.extend(nodes);
    (root, blobs)
}

/// The blobs in the order the scheduler asks for them. The scheduler is deterministic, so a timed
/// run can be fed from this list front to back, as a peer's response arrives in one buffer, instead
/// of paying a random lookup into a million-entry map per blob (which would measure the harness).
fn request_order(root: NodeHash, blobs: &HashMap<NodeHash, Vec<u8>>) -> Vec<Vec<u8>> {
    let store = MemoryStore::new();
    let mut sync = TrieSync::with_callback(root, &store, AccountLeafCallback).unwrap();
    let mut order = Vec::with_capacity(blobs.len());
    loop {
        let hashes = sync.missing(REQUEST);
        if hashes.is_empty() {
            break;
        }
        for hash in hashes {
            order.push(blobs[&hash].clone());
            sync.process(VerifiedBlob::new(blobs[&hash].clone())).unwrap();
        }
        commit_if_large(&mut sync, &store);
    }
    order
}

/// Commits once the uncommitted bytes pass 4 MiB, as a sync loop with a batch threshold does.
fn commit_if_large(sync: &mut TrieSync<&MemoryStore, AccountLeafCallback>, store: &MemoryStore) {
    if sync.uncommitted().1 > 4 << 20 {
        let mut batch = WriteBatch::new();
        sync.commit(&mut batch);
        store.write(batch).unwrap();
    }
}

/// Syncs the whole state into a fresh memory store, fed with `replay` (see [`request_order`]);
/// returns blobs processed and the store (dropped by criterion outside the timing).
fn sync_all(root: NodeHash, replay: Vec<Vec<u8>>) -> (usize, MemoryStore) {
    let store = MemoryStore::new();
    let mut sync = TrieSync::with_callback(root, &store, AccountLeafCallback).unwrap();
    let mut replay = replay.into_iter();
    let mut processed = 0;
    loop {
        let hashes = sync.missing(REQUEST);
        if hashes.is_empty() {
            break;
        }
        for _ in hashes {
            let blob = replay.next().expect("replay shorter than the sync");
            sync.process(VerifiedBlob::new(blob)).expect("the scheduler asked in the recorded order");
            processed += 1;
        }
        commit_if_large(&mut sync, &store);
    }
    let mut batch = WriteBatch::new();
    sync.commit(&mut batch);
    store.write(batch).unwrap();
    assert_eq!(sync.pending(), 0);
    drop(sync);
    (processed, store)
}

fn bench(c: &mut Criterion) {
    let (root, blobs) = state();
    let count = blobs.len();
    assert!(count > 1_000_000, "bench state must have over 1M entries, has {count}");
    let replay = request_order(root, &blobs);
    assert_eq!(replay.len(), count);

    let mut group = c.benchmark_group("scheduler");
    group.sample_size(10).measurement_time(Duration::from_secs(30)).warm_up_time(Duration::from_secs(1));
    group.throughput(Throughput::Elements(count as u64));
    group.bench_function(format!("sync_{count}_entries_memory_store"), |b| {
        b.iter_batched(
            || replay.clone(),
            |blobs| {
                let (processed, store) = sync_all(root, blobs);
                assert_eq!(processed, count);
                store
            },
            BatchSize::PerIteration,
        )
    });
    group.bench_function(format!("keccak_decode_only_{count}_entries"), |b| {
        b.iter_batched(
            || replay.clone(),
            |replay| {
                for blob in replay {
                    let blob = VerifiedBlob::new(blob);
                    black_box(blob.hash());
                    // Code blobs do not decode as nodes; the cost of trying is part of the floor.
                    let _ = black_box(Node::decode(blob.data()));
                }
            },
            BatchSize::PerIteration,
        )
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
