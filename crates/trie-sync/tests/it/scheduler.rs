//! The scheduler against go-ethereum's `trie/sync_test.go` and `core/state/sync_test.go` cases.

use std::collections::{BTreeMap, HashSet};

use kvdb::{KeyValueStore, MemoryStore, Namespace, WriteBatch};
use rlp::RlpStream;
use trie_sync::{
    keccak256, AccountLeafCallback, NoLeafCallback, NodeHash, SchedulerConfig, SyncError, TrieSync,
    VerifiedBlob, EMPTY_ROOT,
};

use crate::sync_harness::{
    assert_downward_closed, assert_same_state, build, drive, keys, node_paths, plain_sync, random_trie,
    state_sync, synthetic_state, synthetic_state_with, walk_state, Delivery, StateShape,
};

const SHARED: StateShape =
    StateShape { accounts: 400, storage_tries: 7, codes: 5, contract_every: 3, seed: 11 };

fn assert_no_hash_requested_twice(requested: &[NodeHash]) {
    let mut seen = HashSet::new();
    for hash in requested {
        assert!(seen.insert(*hash), "{hash:?} requested twice");
    }
}

#[test]
fn empty_root_needs_nothing() {
    let dest = MemoryStore::new();
    let mut sync = TrieSync::new(EMPTY_ROOT, &dest).unwrap();
    assert_eq!(sync.pending(), 0);
    assert!(sync.missing(100).is_empty());
    let mut state = TrieSync::with_callback(EMPTY_ROOT, &dest, AccountLeafCallback).unwrap();
    assert_eq!(state.pending(), 0);
    assert!(state.missing(100).is_empty());
}

#[test]
fn root_already_stored_needs_nothing() {
    let source = random_trie(50, 1);
    let mut sync = plain_sync(&source, &source.store);
    assert_eq!(sync.pending(), 0);
    assert!(sync.missing(10).is_empty());
}

fn sync_plain(delivery: Delivery, batch: usize) {
    let source = random_trie(1_000, 2);
    let dest = MemoryStore::new();
    let mut sync = plain_sync(&source, &dest);
    let run = drive(&mut sync, &source, batch, delivery, 3, |_, _| {});
    assert_no_hash_requested_twice(&run.requested);
    assert_eq!(run.requested.len(), source.entries(), "every node requested exactly once");
    assert_same_state(&source, &dest, &mut NoLeafCallback);
}

fn sync_state(delivery: Delivery, batch: usize) {
    let source = synthetic_state(SHARED);
    let dest = MemoryStore::new();
    let mut sync = state_sync(&source, &dest);
    let run = drive(&mut sync, &source, batch, delivery, 4, |_, _| {});
    assert_no_hash_requested_twice(&run.requested);
    assert_eq!(run.requested.len(), source.entries(), "every node and code blob requested exactly once");
    assert_same_state(&source, &dest, &mut AccountLeafCallback);
}

#[test]
fn iterative_individual_sync() {
    sync_plain(Delivery::All, 1);
    sync_state(Delivery::All, 1);
}

#[test]
fn iterative_batched_sync() {
    sync_plain(Delivery::All, 100);
    sync_state(Delivery::All, 100);
}

#[test]
fn iterative_delayed_sync() {
    sync_plain(Delivery::Half, 100);
    sync_state(Delivery::Half, 100);
}

#[test]
fn iterative_random_sync() {
    sync_plain(Delivery::Shuffled, 1);
    sync_plain(Delivery::Shuffled, 100);
    sync_state(Delivery::Shuffled, 100);
}

#[test]
fn iterative_random_delayed_sync() {
    sync_plain(Delivery::ShuffledHalf, 100);
    sync_state(Delivery::ShuffledHalf, 100);
}

#[test]
fn shared_storage_and_code_are_requested_once() {
    let source = synthetic_state(SHARED);
    let (_, code_keys) = (source.keys(Namespace::TrieNodes), source.keys(Namespace::Code));
    assert_eq!(code_keys.len(), SHARED.codes, "fixture: every code blob is shared");
    let dest = MemoryStore::new();
    let mut sync = state_sync(&source, &dest);
    let run = drive(&mut sync, &source, 64, Delivery::Shuffled, 5, |_, _| {});
    assert_no_hash_requested_twice(&run.requested);
    let codes_requested = run.requested.iter().filter(|hash| code_keys.contains(hash.as_bytes())).count();
    assert_eq!(codes_requested, SHARED.codes);
    let report = walk_state(&dest, source.root);
    assert_eq!(report.watched_leaves, SHARED.accounts as u64);
    assert_eq!(report.raw_entries, SHARED.codes as u64);
}

#[test]
fn every_commit_leaves_the_store_downward_closed() {
    for delivery in [Delivery::All, Delivery::ShuffledHalf] {
        let source = synthetic_state(StateShape { accounts: 150, ..SHARED });
        let dest = MemoryStore::new();
        let mut sync = state_sync(&source, &dest);
        let run = drive(&mut sync, &source, 20, delivery, 6, |store, _| {
            assert_downward_closed(store, &source.top_nodes, true);
        });
        assert!(run.commits > 5, "the test must observe several partial commits, saw {}", run.commits);
        assert_same_state(&source, &dest, &mut AccountLeafCallback);
    }
}

#[test]
fn deleting_any_stored_entry_is_detected_by_the_walk() {
    let source = synthetic_state(StateShape { accounts: 60, ..SHARED });
    let dest = MemoryStore::new();
    let mut sync = state_sync(&source, &dest);
    drive(&mut sync, &source, 50, Delivery::All, 7, |_, _| {});
    assert!(walk_state(&dest, source.root).is_complete());
    for namespace in [Namespace::TrieNodes, Namespace::Code] {
        for key in keys(&dest, namespace) {
            let value = dest.get(namespace, &key).unwrap().unwrap();
            let mut delete = WriteBatch::new();
            delete.delete(namespace, key.clone());
            dest.write(delete).unwrap();
            let report = walk_state(&dest, source.root);
            assert!(!report.is_complete(), "removing {namespace} entry {} went unnoticed", hex::encode(&key));
            assert_eq!(report.missing[0].hash.as_bytes(), key.as_slice());
            let mut restore = WriteBatch::new();
            restore.put(namespace, key, value);
            dest.write(restore).unwrap();
        }
    }
}

#[test]
fn requests_follow_depth_first_path_order() {
    let source = random_trie(600, 8);
    let paths = node_paths(&source);
    let dest = MemoryStore::new();
    let mut sync = plain_sync(&source, &dest);
    let run = drive(&mut sync, &source, 1, Delivery::All, 9, |_, _| {});
    let requested: Vec<&Vec<u8>> = run.requested.iter().map(|hash| &paths[hash]).collect();
    for pair in requested.windows(2) {
        assert!(pair[0] <= pair[1], "requested {:?} before {:?}", pair[0], pair[1]);
    }

    // In batches, every batch hands out deeper nodes before shallower ones.
    let dest = MemoryStore::new();
    let mut sync = plain_sync(&source, &dest);
    let mut delivered = 0;
    while sync.pending() > 0 {
        let batch = sync.missing(50);
        let depths: Vec<usize> = batch.iter().map(|hash| paths[hash].len()).collect();
        assert!(depths.windows(2).all(|d| d[0] >= d[1]), "batch not deepest-first: {depths:?}");
        for hash in batch {
            sync.process(VerifiedBlob::new(source.blob(&hash))).unwrap();
            delivered += 1;
        }
    }
    assert_eq!(delivered, source.entries());
}

#[test]
fn per_depth_cap_bounds_what_is_handed_out() {
    let source = random_trie(2_000, 10);
    let paths = node_paths(&source);
    let dest = MemoryStore::new();
    let config = SchedulerConfig { max_fetches_per_depth: 4 };
    let mut sync = TrieSync::with_config(source.root, &dest, NoLeafCallback, config).unwrap();
    let mut in_flight: Vec<NodeHash> = Vec::new();
    let mut steps = 0;
    while sync.pending() > 0 {
        in_flight.extend(sync.missing(1_000));
        let mut per_depth = BTreeMap::<usize, usize>::new();
        for hash in &in_flight {
            *per_depth.entry(paths[hash].len()).or_default() += 1;
        }
        assert!(per_depth.values().all(|&count| count <= 4), "cap exceeded: {per_depth:?}");
        assert!(!in_flight.is_empty(), "the cap must never starve the sync");
        let hash = in_flight.remove(0);
        sync.process(VerifiedBlob::new(source.blob(&hash))).unwrap();
        steps += 1;
    }
    assert_eq!(steps, source.entries());
}

#[test]
fn resume_fetches_only_what_was_not_committed() {
    let source = synthetic_state(SHARED);
    let dest = MemoryStore::new();
    {
        // A first run that stops (crashes) after a few commits, losing its in-memory state.
        let mut sync = state_sync(&source, &dest);
        for _ in 0..12 {
            for hash in sync.missing(40) {
                sync.process(VerifiedBlob::new(source.blob(&hash))).unwrap();
            }
            let mut batch = WriteBatch::new();
            sync.commit(&mut batch);
            dest.write(batch).unwrap();
        }
        // Hand out more and process part of it without committing: lost in the crash.
        for hash in sync.missing(40).into_iter().take(20) {
            sync.process(VerifiedBlob::new(source.blob(&hash))).unwrap();
        }
    }
    let stored: usize = keys(&dest, Namespace::TrieNodes).len() + keys(&dest, Namespace::Code).len();
    assert!(stored > 0 && stored < source.entries(), "the first run must stop part-way ({stored})");
    assert_downward_closed(&dest, &source.top_nodes, true);

    let mut sync = state_sync(&source, &dest);
    let run = drive(&mut sync, &source, 100, Delivery::Shuffled, 12, |_, _| {});
    assert_no_hash_requested_twice(&run.requested);
    assert_eq!(run.requested.len(), source.entries() - stored, "resume fetches exactly what is not stored");
    for hash in &run.requested {
        let held = source.store.contains(Namespace::TrieNodes, hash.as_bytes()).unwrap()
            || source.store.contains(Namespace::Code, hash.as_bytes()).unwrap();
        assert!(held, "requested {hash:?} that the source does not have");
    }
    assert_same_state(&source, &dest, &mut AccountLeafCallback);
}

#[test]
fn moving_target_fetches_only_the_difference() {
    let state_a = synthetic_state(SHARED);
    // B: the same accounts, a few with another balance (a later block).
    let state_b = synthetic_state_with(SHARED, |index| if index % 50 == 0 { 1 } else { 0 });
    assert_ne!(state_a.root, state_b.root);
    let dest = MemoryStore::new();
    drive(&mut state_sync(&state_a, &dest), &state_a, 100, Delivery::All, 13, |_, _| {});

    let nodes_a = state_a.keys(Namespace::TrieNodes);
    let nodes_b = state_b.keys(Namespace::TrieNodes);
    let new_in_b: HashSet<&Vec<u8>> = nodes_b.difference(&nodes_a).collect();
    assert!(!new_in_b.is_empty() && new_in_b.len() < nodes_b.len() / 2, "fixture: B shares most of A");

    let mut sync = state_sync(&state_b, &dest);
    let run = drive(&mut sync, &state_b, 100, Delivery::Shuffled, 14, |_, _| {});
    let requested: HashSet<Vec<u8>> = run.requested.iter().map(|hash| hash.as_bytes().to_vec()).collect();
    assert_eq!(requested.len(), run.requested.len());
    assert_eq!(requested, new_in_b.into_iter().cloned().collect::<HashSet<_>>());
    assert!(walk_state(&dest, state_b.root).is_complete());
    assert!(walk_state(&dest, state_a.root).is_complete(), "A stays intact");
}

#[test]
fn undelivered_requests_stay_pending() {
    let source = random_trie(300, 15);
    let dest = MemoryStore::new();
    let mut sync = plain_sync(&source, &dest);
    let root = sync.missing(10);
    assert_eq!(root, vec![source.root]);
    assert_eq!(sync.pending(), 1);
    assert!(sync.missing(10).is_empty(), "a handed-out hash is not handed out again");
    sync.process(VerifiedBlob::new(source.blob(&source.root))).unwrap();
    let children = sync.missing(100);
    assert!(!children.is_empty());
    assert_eq!(sync.pending(), children.len() + 1, "root waits for its children");
    let mut batch = WriteBatch::new();
    assert_eq!(sync.commit(&mut batch), 0, "nothing complete yet: the root must wait");
}

#[test]
fn unexpected_and_duplicate_deliveries_are_typed() {
    let source = random_trie(300, 16);
    let dest = MemoryStore::new();
    let mut sync = plain_sync(&source, &dest);
    let junk = VerifiedBlob::new(b"not requested".to_vec());
    let junk_hash = junk.hash();
    match sync.process(junk) {
        Err(SyncError::NotRequested { hash }) => assert_eq!(hash, junk_hash),
        other => panic!("expected NotRequested, got {other:?}"),
    }
    let root_blob = VerifiedBlob::new(source.blob(&source.root));
    sync.process(root_blob.clone()).unwrap();
    let error = sync.process(root_blob).unwrap_err();
    assert!(error.is_duplicate() && !error.is_fatal(), "{error:?}");

    // A leaf delivered before it was handed out is accepted (it is verified), and only once.
    let child = sync.missing(1)[0];
    let blob = VerifiedBlob::new(source.blob(&child));
    sync.process(blob.clone()).unwrap();
    assert!(sync.process(blob).unwrap_err().is_duplicate());
}

#[test]
fn a_delivery_matching_a_pending_but_not_handed_out_request_is_used() {
    let source = random_trie(300, 17);
    let dest = MemoryStore::new();
    let mut sync = plain_sync(&source, &dest);
    sync.missing(1);
    sync.process(VerifiedBlob::new(source.blob(&source.root))).unwrap();
    let all = sync.missing(1_000);
    // Deliver every child in reverse, including ones the caller never asked a peer for.
    for hash in all.iter().rev() {
        sync.process(VerifiedBlob::new(source.blob(hash))).unwrap();
    }
    let run = drive(&mut sync, &source, 100, Delivery::All, 18, |_, _| {});
    assert!(
        !run.requested.iter().any(|hash| all.contains(hash)),
        "delivered hashes are not handed out again"
    );
    assert_same_state(&source, &dest, &mut NoLeafCallback);
}

/// A branch referencing `child`, as the root of a tiny trie.
fn branch_over(child: NodeHash) -> Vec<u8> {
    let mut stream = RlpStream::new_list(17);
    stream.append(&child.as_bytes());
    stream.append(&child.as_bytes());
    for _ in 2..17 {
        stream.append_empty_data();
    }
    stream.out().to_vec()
}

#[test]
fn malformed_node_is_an_error_naming_it_and_stays_pending() {
    let garbage = vec![0xc3, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07];
    let garbage_hash = keccak256(&garbage);
    let root_rlp = branch_over(garbage_hash);
    let dest = MemoryStore::new();
    let mut sync = TrieSync::new(keccak256(&root_rlp), &dest).unwrap();
    sync.missing(1);
    sync.process(VerifiedBlob::new(root_rlp)).unwrap();
    assert_eq!(sync.missing(5), vec![garbage_hash], "one request for a child referenced twice");
    let error = sync.process(VerifiedBlob::new(garbage)).unwrap_err();
    match &error {
        SyncError::BadNode { hash, .. } => assert_eq!(*hash, garbage_hash),
        other => panic!("expected BadNode, got {other:?}"),
    }
    assert!(error.is_fatal());
    assert!(error.to_string().contains(&format!("{garbage_hash:?}")), "message names the hash: {error}");
    assert_eq!(sync.pending(), 2, "the bad node stays requested");
}

#[test]
fn malformed_account_is_an_error_naming_its_node() {
    let mut accounts = BTreeMap::new();
    accounts.insert(keccak256(b"a").as_bytes().to_vec(), b"this is not an account at all....".to_vec());
    accounts.insert(keccak256(b"b").as_bytes().to_vec(), b"neither is this one, it is longer".to_vec());
    let (root, nodes) = build(&accounts);
    let blobs: std::collections::HashMap<NodeHash, Vec<u8>> = nodes.into_iter().collect();
    let dest = MemoryStore::new();
    let mut sync = TrieSync::with_callback(root, &dest, AccountLeafCallback).unwrap();
    let mut failure = None;
    while let Some(hash) = sync.missing(1).pop() {
        if let Err(error) = sync.process(VerifiedBlob::new(blobs[&hash].clone())) {
            failure = Some((hash, error));
            break;
        }
    }
    let (hash, error) = failure.expect("a malformed account must be reported");
    assert!(matches!(error, SyncError::BadLeaf { hash: named, .. } if named == hash), "{error:?}");
}

#[test]
fn sub_trie_with_unknown_parent_is_refused() {
    let dest = MemoryStore::new();
    let mut sync = TrieSync::new(EMPTY_ROOT, &dest).unwrap();
    let parent = keccak256(b"nobody");
    let error = sync.add_sub_trie(keccak256(b"x"), &[], Some(parent), false).unwrap_err();
    assert!(matches!(error, SyncError::UnknownParent { parent: p } if p == parent));
    assert_eq!(sync.pending(), 0, "nothing scheduled on error");
}

#[test]
fn independent_sub_tries_and_raw_entries_complete() {
    let first = random_trie(200, 19);
    let second = random_trie(200, 20);
    let code = b"some contract code".to_vec();
    let dest = MemoryStore::new();
    let mut sync = TrieSync::new(first.root, &dest).unwrap();
    sync.add_sub_trie(second.root, &[], None, false).unwrap();
    sync.add_raw_entry(keccak256(&code), &[], None).unwrap();
    sync.add_raw_entry(trie_sync::EMPTY_CODE_HASH, &[], None).unwrap();
    sync.add_sub_trie(EMPTY_ROOT, &[], None, false).unwrap();
    let mut delivered = 0;
    while sync.pending() > 0 {
        for hash in sync.missing(64) {
            let blob = if hash == keccak256(&code) {
                code.clone()
            } else if first.store.contains(Namespace::TrieNodes, hash.as_bytes()).unwrap() {
                first.blob(&hash)
            } else {
                second.blob(&hash)
            };
            sync.process(VerifiedBlob::new(blob)).unwrap();
            delivered += 1;
        }
    }
    let mut batch = WriteBatch::new();
    sync.commit(&mut batch);
    dest.write(batch).unwrap();
    assert_eq!(delivered, first.entries() + second.entries() + 1, "empty root and empty code are skipped");
    assert_eq!(dest.get(Namespace::Code, keccak256(&code).as_bytes()).unwrap(), Some(code));
    assert!(trie_sync::walk(&dest, first.root, &mut NoLeafCallback, 1).unwrap().is_complete());
    assert!(trie_sync::walk(&dest, second.root, &mut NoLeafCallback, 1).unwrap().is_complete());
}

#[test]
fn memory_figure_tracks_held_data() {
    let source = random_trie(2_000, 21);
    let dest = MemoryStore::new();
    let mut sync = plain_sync(&source, &dest);
    let start = sync.memory_bytes();
    for _ in 0..5 {
        for hash in sync.missing(200) {
            sync.process(VerifiedBlob::new(source.blob(&hash))).unwrap();
        }
    }
    let (count, bytes) = sync.uncommitted();
    assert!(count > 0 && bytes > 0);
    let loaded = sync.memory_bytes();
    assert!(loaded > start + bytes, "memory {loaded} must include the {bytes} uncommitted bytes");
    let mut batch = WriteBatch::new();
    sync.commit(&mut batch);
    assert_eq!(sync.uncommitted(), (0, 0));
    // It keeps only the keys of the batch being written (a hash and a control byte each, in a set at
    // most 7/8 full and at most twice as large as needed).
    let keys = count * (32 + 1) * 2 * 8 / 7;
    assert!(sync.memory_bytes() + bytes <= loaded + keys, "commit releases the batch's data");
}

#[test]
fn a_node_that_is_also_a_code_blob_fills_both() {
    // A contract whose code equals the RLP of a storage trie node it also needs.
    let mut slots = BTreeMap::new();
    slots.insert(vec![0x11; 32], vec![0x22; 40]);
    let (storage_root, storage_nodes) = build(&slots);
    let code = storage_nodes[0].1.clone();
    let account =
        trie_sync::StateAccount { nonce: 1, balance: 5u64.into(), storage_root, code_hash: keccak256(&code) };
    let mut accounts = BTreeMap::new();
    accounts.insert(vec![0x33; 32], account.encode());
    let (root, account_nodes) = build(&accounts);
    let dest = MemoryStore::new();
    let mut sync = TrieSync::with_callback(root, &dest, AccountLeafCallback).unwrap();
    sync.missing(1);
    sync.process(VerifiedBlob::new(account_nodes[0].1.clone())).unwrap();
    assert_eq!(sync.missing(10), vec![storage_root], "one request serves the node and the code");
    sync.process(VerifiedBlob::new(code.clone())).unwrap();
    assert_eq!(sync.pending(), 0);
    let mut batch = WriteBatch::new();
    assert_eq!(sync.commit(&mut batch), 3);
    dest.write(batch).unwrap();
    assert_eq!(dest.get(Namespace::Code, storage_root.as_bytes()).unwrap(), Some(code));
}

#[test]
fn a_child_referenced_twice_completes_its_parent_once() {
    let leaf = trie_sync::Node::Leaf { path: vec![1, 2, 3], value: vec![0x42; 40] }.encode();
    let leaf_hash = keccak256(&leaf);
    let root_rlp = branch_over(leaf_hash);
    let root = keccak256(&root_rlp);
    let dest = MemoryStore::new();
    let mut sync = TrieSync::new(root, &dest).unwrap();
    sync.missing(1);
    sync.process(VerifiedBlob::new(root_rlp.clone())).unwrap();
    assert_eq!(sync.missing(10), vec![leaf_hash]);
    sync.process(VerifiedBlob::new(leaf.clone())).unwrap();
    assert_eq!(sync.pending(), 0, "the root completes once its one child (referenced twice) does");
    let mut batch = WriteBatch::new();
    assert_eq!(sync.commit(&mut batch), 2, "root and child, each once");
    dest.write(batch).unwrap();
    assert_eq!(dest.get(Namespace::TrieNodes, root.as_bytes()).unwrap(), Some(root_rlp));
    assert!(trie_sync::walk(&dest, root, &mut NoLeafCallback, 1).unwrap().is_complete());
}

#[test]
fn code_added_after_its_node_twin_completed_is_still_fetched() {
    let leaf = trie_sync::Node::Leaf { path: vec![4], value: vec![0x17; 40] }.encode();
    let twin = keccak256(&leaf);
    let dest = MemoryStore::new();
    let mut sync = TrieSync::new(twin, &dest).unwrap();
    sync.missing(1);
    sync.process(VerifiedBlob::new(leaf.clone())).unwrap();
    assert_eq!(sync.pending(), 0, "the node completed and waits in the batch");
    sync.add_raw_entry(twin, &[], None).unwrap();
    assert_eq!(sync.missing(10), vec![twin], "code lives in another namespace: it must be fetched");
    sync.process(VerifiedBlob::new(leaf.clone())).unwrap();
    let mut batch = WriteBatch::new();
    assert_eq!(sync.commit(&mut batch), 2);
    dest.write(batch).unwrap();
    assert_eq!(dest.get(Namespace::Code, twin.as_bytes()).unwrap(), Some(leaf.clone()));
    assert_eq!(dest.get(Namespace::TrieNodes, twin.as_bytes()).unwrap(), Some(leaf));
}

#[test]
fn paths_deeper_than_255_nibbles_do_not_stall_a_capped_sync() {
    // Keys of 160 bytes (320 nibbles) sharing long prefixes: nodes deeper than 255 nibbles.
    let mut pairs = BTreeMap::new();
    for i in 0u8..40 {
        let mut key = vec![0xab; 160];
        key[130 + usize::from(i % 20)] = i;
        key[159] = i.wrapping_mul(37);
        pairs.insert(key, vec![i; 40]);
    }
    let (root, nodes) = build(&pairs);
    let blobs: std::collections::HashMap<NodeHash, Vec<u8>> = nodes.into_iter().collect();
    let dest = MemoryStore::new();
    let config = SchedulerConfig { max_fetches_per_depth: 1 };
    let mut sync = TrieSync::with_config(root, &dest, NoLeafCallback, config).unwrap();
    let mut outstanding: Vec<NodeHash> = Vec::new();
    let mut steps = 0;
    while sync.pending() > 0 {
        outstanding.extend(sync.missing(100));
        let hash = outstanding.pop().expect("the scheduler must always hand out something while pending");
        sync.process(VerifiedBlob::new(blobs[&hash].clone())).unwrap();
        steps += 1;
        assert!(steps <= blobs.len(), "more deliveries than nodes");
    }
    assert_eq!(steps, blobs.len());
}

/// A caller that keeps processing while it writes a committed batch (the sync overlaps its writes
/// with the network): what the batch holds is not asked for again meanwhile, and once every batch is
/// written, in order, the store is the source's state.
#[test]
fn blobs_of_a_batch_still_being_written_are_held_and_not_asked_again() {
    let source = synthetic_state(SHARED);
    let dest = MemoryStore::new();
    let mut sync = state_sync(&source, &dest);
    let mut requested = Vec::new();
    // The batch "being written": committed out of the scheduler, written only a round later.
    let mut writing: Option<WriteBatch> = None;
    for _round in 0..100_000 {
        let hashes = sync.missing(16);
        if hashes.is_empty() && sync.pending() == 0 {
            break;
        }
        requested.extend(hashes.iter().copied());
        for hash in hashes {
            sync.process(VerifiedBlob::new(source.blob(&hash))).unwrap();
        }
        // The previous batch lands now, just before the next commit (one write at a time).
        if let Some(batch) = writing.take() {
            dest.write(batch).unwrap();
        }
        let mut batch = WriteBatch::new();
        if sync.commit(&mut batch) > 0 {
            writing = Some(batch);
        }
    }
    if let Some(batch) = writing.take() {
        dest.write(batch).unwrap();
    }
    assert_eq!(sync.pending(), 0);
    assert_no_hash_requested_twice(&requested);
    assert_same_state(&source, &dest, &mut AccountLeafCallback);
}
