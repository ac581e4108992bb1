//! Throwaway: time each phase of a full sync of the bench state.
use kvdb::{KeyValueStore, MemoryStore, WriteBatch};
use primitive_types::U256;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, Instant};
use trie_sync::{build_trie, keccak256, AccountLeafCallback, NodeHash, StateAccount, TrieSync, VerifiedBlob};
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

fn main() {
    let (root, blobs) = state();
    let store = MemoryStore::new();
    let mut sync = TrieSync::with_callback(root, &store, AccountLeafCallback).unwrap();
    let mut order = Vec::new();
    loop {
        let hashes = sync.missing(REQUEST);
        if hashes.is_empty() {
            break;
        }
        for hash in hashes {
            order.push(blobs[&hash].clone());
            sync.process(VerifiedBlob::new(blobs[&hash].clone())).unwrap();
        }
        if sync.uncommitted().1 > 4 << 20 {
            let mut b = WriteBatch::new();
            sync.commit(&mut b);
            store.write(b).unwrap();
        }
    }
    drop(sync);
    drop(store);
    for _ in 0..3 {
        let replay = order.clone();
        let store = MemoryStore::new();
        let (mut t_missing, mut t_hash, mut t_process, mut t_commit, mut t_write) =
            (Duration::ZERO, Duration::ZERO, Duration::ZERO, Duration::ZERO, Duration::ZERO);
        let all = Instant::now();
        let mut sync = TrieSync::with_callback(root, &store, AccountLeafCallback).unwrap();
        let mut replay = replay.into_iter();
        loop {
            let t = Instant::now();
            let hashes = sync.missing(REQUEST);
            t_missing += t.elapsed();
            if hashes.is_empty() {
                break;
            }
            for _ in hashes {
                let blob = replay.next().unwrap();
                let t = Instant::now();
                let blob = VerifiedBlob::new(blob);
                t_hash += t.elapsed();
                let t = Instant::now();
                sync.process(blob).unwrap();
                t_process += t.elapsed();
            }
            if sync.uncommitted().1 > 4 << 20 {
                let t = Instant::now();
                let mut b = WriteBatch::new();
                sync.commit(&mut b);
                t_commit += t.elapsed();
                let t = Instant::now();
                store.write(b).unwrap();
                t_write += t.elapsed();
            }
        }
        let total = all.elapsed();
        println!("total {total:?} missing {t_missing:?} hash {t_hash:?} process {t_process:?} commit {t_commit:?} write {t_write:?} -> {:.0} entries/s", blobs.len() as f64 / total.as_secs_f64());
        std::mem::forget(store);
    }
}
