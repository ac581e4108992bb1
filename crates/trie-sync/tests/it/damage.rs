//! `find_damage` against an oracle computed from the source state: which entries are damaged, which
//! stored nodes sit above them (across the account trie, storage tries and shared code), and that
//! deleting both and syncing again fetches exactly them.

use std::collections::{BTreeSet, HashMap, HashSet};

use kvdb::{KeyValueStore, MemoryStore, Namespace, WriteBatch};
use trie_sync::{
    find_damage, keccak256, walk, AccountLeafCallback, ChildRef, Damage, EntryKind, Node, NodeHash,
    StateAccount, EMPTY_CODE_HASH, EMPTY_ROOT,
};

use crate::sync_harness::{
    assert_same_state, drive, keys, state_sync, synthetic_state, Delivery, Source, StateShape,
};

/// Storage tries and code shared by many accounts (each code by about 27 of them).
const SHARED: StateShape =
    StateShape { accounts: 400, storage_tries: 7, codes: 5, contract_every: 3, seed: 23 };

type Entry = (NodeHash, EntryKind);

/// The state of `source` as a graph: every entry's hash children, an account leaf's storage root
/// and code included (the oracle; built from the node codec alone, not from the walk).
fn references(source: &Source) -> HashMap<Entry, Vec<Entry>> {
    let mut graph = HashMap::new();
    let mut stack = vec![(source.root, true)];
    while let Some((hash, top)) = stack.pop() {
        if graph.contains_key(&(hash, EntryKind::TrieNode)) {
            continue;
        }
        let blob = source.store.get(Namespace::TrieNodes, hash.as_bytes()).unwrap().unwrap();
        let mut out = Vec::new();
        let mut values = Vec::new();
        refs(&Node::decode(&blob).unwrap(), &mut out, &mut values);
        let mut entries: Vec<Entry> = out.iter().map(|child| (*child, EntryKind::TrieNode)).collect();
        stack.extend(out.into_iter().map(|child| (child, top)));
        if top {
            for value in values {
                let account = StateAccount::decode(&value).unwrap();
                if account.storage_root != EMPTY_ROOT {
                    entries.push((account.storage_root, EntryKind::TrieNode));
                    stack.push((account.storage_root, false));
                }
                if account.code_hash != EMPTY_CODE_HASH {
                    entries.push((account.code_hash, EntryKind::RawEntry));
                    graph.entry((account.code_hash, EntryKind::RawEntry)).or_insert_with(Vec::new);
                }
            }
        }
        graph.insert((hash, EntryKind::TrieNode), entries);
    }
    graph
}

fn refs(node: &Node, children: &mut Vec<NodeHash>, values: &mut Vec<Vec<u8>>) {
    let child = |child: &ChildRef, children: &mut Vec<NodeHash>, values: &mut Vec<Vec<u8>>| match child {
        ChildRef::Hash(hash) => children.push(*hash),
        ChildRef::Embedded(node) => refs(node, children, values),
    };
    match node {
        Node::Leaf { value, .. } => values.push(value.clone()),
        Node::Extension { child: next, .. } => child(next, children, values),
        Node::Branch { children: slots, value } => {
            for next in slots.iter().flatten() {
                child(next, children, values);
            }
            if let Some(value) = value {
                values.push(value.clone());
            }
        }
    }
}

/// Every entry with one of `damaged` somewhere below it.
fn oracle_ancestors(graph: &HashMap<Entry, Vec<Entry>>, damaged: &HashSet<Entry>) -> HashSet<NodeHash> {
    fn above(
        entry: Entry,
        graph: &HashMap<Entry, Vec<Entry>>,
        damaged: &HashSet<Entry>,
        memo: &mut HashMap<Entry, bool>,
    ) -> bool {
        if let Some(known) = memo.get(&entry) {
            return *known;
        }
        let mut result = false;
        for child in &graph[&entry] {
            // Evaluate every child, so the memo covers the whole graph.
            let below = damaged.contains(child) | above(*child, graph, damaged, memo);
            result |= below;
        }
        memo.insert(entry, result);
        result
    }
    let mut memo = HashMap::new();
    graph
        .keys()
        .filter(|entry| entry.1 == EntryKind::TrieNode && above(**entry, graph, damaged, &mut memo))
        .map(|entry| entry.0)
        .collect()
}

/// A complete copy of `source`.
fn copy_of(source: &Source) -> MemoryStore {
    let dest = MemoryStore::new();
    let mut batch = WriteBatch::new();
    for namespace in [Namespace::TrieNodes, Namespace::Code] {
        source
            .store
            .for_each(namespace, &mut |key, value| batch.put(namespace, key.to_vec(), value.to_vec()))
            .unwrap();
    }
    dest.write(batch).unwrap();
    dest
}

/// Picks, in key order, the first trie node of `source` that `pick` accepts.
fn first_node(source: &Source, mut pick: impl FnMut(NodeHash, &Node) -> bool) -> NodeHash {
    let keys: BTreeSet<Vec<u8>> = keys(&source.store, Namespace::TrieNodes).into_iter().collect();
    keys.into_iter()
        .map(|key| NodeHash::from_slice(&key))
        .find(|hash| pick(*hash, &Node::decode(&source.blob(hash)).unwrap()))
        .expect("the fixture has such a node")
}

#[test]
fn damage_is_found_with_every_stored_node_above_it_and_a_sync_refetches_exactly_those() {
    let source = synthetic_state(SHARED);
    let graph = references(&source);
    let dest = copy_of(&source);
    assert!(find_damage(&dest, source.root, &mut AccountLeafCallback).unwrap().is_clean());

    // A storage-trie leaf (corrupted), an account leaf without storage or code (deleted), an inner
    // branch of the account trie (deleted), and a code blob shared by many accounts (corrupted).
    let storage_leaf = first_node(&source, |hash, node| {
        !source.top_nodes.contains(&hash) && matches!(node, Node::Leaf { .. })
    });
    let plain_account = first_node(&source, |hash, node| match node {
        Node::Leaf { value, .. } if source.top_nodes.contains(&hash) => {
            let account = StateAccount::decode(value).unwrap();
            account.storage_root == EMPTY_ROOT && account.code_hash == EMPTY_CODE_HASH
        }
        _ => false,
    });
    let inner_branch = first_node(&source, |hash, node| {
        source.top_nodes.contains(&hash)
            && hash != source.root
            && matches!(node, Node::Branch { .. })
            && !graph[&(hash, EntryKind::TrieNode)].contains(&(plain_account, EntryKind::TrieNode))
    });
    let mut codes: Vec<Vec<u8>> = keys(&source.store, Namespace::Code).into_iter().collect();
    codes.sort();
    let shared_code = NodeHash::from_slice(&codes[0]);
    let referrers = graph.values().filter(|refs| refs.contains(&(shared_code, EntryKind::RawEntry))).count();
    assert!(referrers >= 2, "the fixture's code is shared (by {referrers} accounts)");

    let mut batch = WriteBatch::new();
    let mut flipped = source.blob(&storage_leaf);
    flipped[5] ^= 0x40;
    batch.put(Namespace::TrieNodes, storage_leaf.as_bytes().to_vec(), flipped);
    batch.delete(Namespace::TrieNodes, plain_account.as_bytes().to_vec());
    batch.delete(Namespace::TrieNodes, inner_branch.as_bytes().to_vec());
    batch.put(Namespace::Code, shared_code.as_bytes().to_vec(), b"not the code".to_vec());
    dest.write(batch).unwrap();
    let damaged: HashSet<Entry> = [
        (storage_leaf, EntryKind::TrieNode),
        (plain_account, EntryKind::TrieNode),
        (inner_branch, EntryKind::TrieNode),
        (shared_code, EntryKind::RawEntry),
    ]
    .into();

    let report = find_damage(&dest, source.root, &mut AccountLeafCallback).unwrap();
    let found: HashSet<Entry> = report.damaged.iter().map(|entry| (entry.hash, entry.kind)).collect();
    assert_eq!(found, damaged, "each damaged entry, once");
    for entry in &report.damaged {
        let expected = if entry.hash == storage_leaf {
            Damage::HashMismatch {
                actual: keccak256(dest.get(Namespace::TrieNodes, entry.hash.as_bytes()).unwrap().unwrap()),
            }
        } else if entry.hash == shared_code {
            Damage::HashMismatch { actual: keccak256(b"not the code") }
        } else {
            Damage::Missing
        };
        assert_eq!(entry.damage, expected, "{:?}", entry.hash);
    }
    let storage_path = &report.damaged.iter().find(|entry| entry.hash == storage_leaf).unwrap().path;
    assert!(storage_path.len() > 64, "a storage node's path runs through its account: {storage_path:?}");

    let ancestors: HashSet<NodeHash> = report.ancestors.iter().copied().collect();
    assert_eq!(ancestors.len(), report.ancestors.len(), "each ancestor once");
    assert_eq!(ancestors, oracle_ancestors(&graph, &damaged));
    assert!(ancestors.contains(&source.root));
    // Above the storage leaf: nodes of its storage trie and of the account trie.
    let storage_ancestors = oracle_ancestors(&graph, &[(storage_leaf, EntryKind::TrieNode)].into());
    assert!(storage_ancestors.iter().any(|hash| !source.top_nodes.contains(hash)));
    assert!(storage_ancestors.iter().any(|hash| source.top_nodes.contains(hash)));
    // Above the shared code: the leaf node of every account that has it.
    let code_holders: Vec<&Entry> = graph
        .iter()
        .filter(|(_, refs)| refs.contains(&(shared_code, EntryKind::RawEntry)))
        .map(|(entry, _)| entry)
        .collect();
    assert_eq!(code_holders.len(), referrers);
    assert!(code_holders.iter().all(|entry| ancestors.contains(&entry.0)));

    // Delete them, sync the same root: it asks for exactly the damaged entries and their ancestors.
    let mut batch = WriteBatch::new();
    let deleted = report.delete_damaged(&mut batch);
    assert_eq!(deleted, 2 + ancestors.len() as u64, "the two corrupt entries and every ancestor");
    dest.write(batch).unwrap();
    let mut sync = state_sync(&source, &dest);
    let run = drive(&mut sync, &source, 64, Delivery::Shuffled, 3, |_, _| {});
    let requested: HashSet<NodeHash> = run.requested.iter().copied().collect();
    assert_eq!(requested.len(), run.requested.len(), "nothing requested twice");
    let expected: HashSet<NodeHash> =
        damaged.iter().map(|entry| entry.0).chain(ancestors.iter().copied()).collect();
    assert_eq!(requested, expected);
    assert!(walk(&dest, source.root, &mut AccountLeafCallback, 8).unwrap().is_complete());
    assert_same_state(&source, &dest, &mut AccountLeafCallback);
    assert!(find_damage(&dest, source.root, &mut AccountLeafCallback).unwrap().is_clean());
}

#[test]
fn a_damaged_storage_trie_shared_by_many_accounts_marks_every_one_of_them() {
    let source = synthetic_state(SHARED);
    let graph = references(&source);
    let dest = copy_of(&source);
    // The root of a shared storage trie, missing: every account that has it is above the damage,
    // though the walk reads the trie (and finds it missing) once.
    let storage_root = graph
        .iter()
        .filter(|(entry, _)| source.top_nodes.contains(&entry.0))
        .flat_map(|(_, refs)| {
            refs.iter().filter(|r| r.1 == EntryKind::TrieNode && !source.top_nodes.contains(&r.0))
        })
        .map(|r| r.0)
        .min()
        .unwrap();
    let mut batch = WriteBatch::new();
    batch.delete(Namespace::TrieNodes, storage_root.as_bytes().to_vec());
    dest.write(batch).unwrap();

    let report = find_damage(&dest, source.root, &mut AccountLeafCallback).unwrap();
    assert_eq!(report.damaged.len(), 1);
    assert_eq!((report.damaged[0].hash, &report.damaged[0].damage), (storage_root, &Damage::Missing));
    let ancestors: HashSet<NodeHash> = report.ancestors.iter().copied().collect();
    assert_eq!(ancestors, oracle_ancestors(&graph, &[(storage_root, EntryKind::TrieNode)].into()));
    let holders = graph.values().filter(|refs| refs.contains(&(storage_root, EntryKind::TrieNode))).count();
    assert!(holders >= 2, "the storage trie is shared (by {holders} accounts)");
}

#[test]
fn a_blob_that_hashes_right_but_is_no_node_is_malformed() {
    // A branch whose child is stored under its hash but is not a node.
    let garbage = vec![0x80u8; 40];
    let child = keccak256(&garbage);
    // Two children, so the branch is canonical.
    let branch = {
        let mut s = rlp::RlpStream::new_list(17);
        s.append(&child.as_bytes());
        s.append(&child.as_bytes());
        for _ in 0..15 {
            s.append_empty_data();
        }
        s.out().to_vec()
    };
    let root = keccak256(&branch);
    let store = MemoryStore::new();
    let mut batch = WriteBatch::new();
    batch.put(Namespace::TrieNodes, root.as_bytes().to_vec(), branch);
    batch.put(Namespace::TrieNodes, child.as_bytes().to_vec(), garbage);
    store.write(batch).unwrap();
    let report = find_damage(&store, root, &mut trie_sync::NoLeafCallback).unwrap();
    assert_eq!(report.damaged.len(), 1, "one entry, though referenced twice: {:?}", report.damaged);
    assert!(matches!(report.damaged[0].damage, Damage::Malformed(_)), "{:?}", report.damaged[0]);
    assert_eq!(report.ancestors, vec![root]);
    let mut batch = WriteBatch::new();
    assert_eq!(report.delete_damaged(&mut batch), 2);
}
