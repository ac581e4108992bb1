//! The Ethereum `TrieTests` vectors and the mainnet genesis state, built with [`trie_sync::build_trie`].
//!
//! Each case's operations (insert, or delete for a `null` value) are applied in order to a map, and the
//! final map is built in key order; a mismatch names the file and the case. Every case's emitted nodes are
//! also checked (canonical, hashed, complete, children first) and walked back into the map.

use std::collections::BTreeMap;
use std::path::Path;

use serde_json::Value;
use trie_sync::{build_trie, secure_key, Node, NodeHash};

use crate::fixtures::{mainnet_genesis_pairs, read_json, vectors_dir_or_skip, MAINNET_GENESIS_ROOT};
use crate::trie_check::{check_nodes, entries};

/// A vector string: `0x…` is hex, anything else the raw ASCII bytes.
fn bytes_of(text: &str) -> Vec<u8> {
    match text.strip_prefix("0x") {
        Some(hex) => hex::decode(hex).unwrap_or_else(|e| panic!("bad hex {text:?}: {e}")),
        None => text.as_bytes().to_vec(),
    }
}

fn hash_of(text: &str) -> NodeHash {
    NodeHash::from_slice(&bytes_of(text))
}

/// The `(key, value)` operations of a case: a list of pairs (ordered) or an object (any order).
fn operations(case: &Value) -> Vec<(Vec<u8>, Option<Vec<u8>>)> {
    let value_of = |value: &Value| value.as_str().map(bytes_of);
    match &case["in"] {
        Value::Array(items) => items
            .iter()
            .map(|item| (bytes_of(item[0].as_str().expect("key is a string")), value_of(&item[1])))
            .collect(),
        Value::Object(items) => items.iter().map(|(key, value)| (bytes_of(key), value_of(value))).collect(),
        other => panic!("unexpected \"in\": {other}"),
    }
}

/// Runs every case of `file`; `secure` hashes keys first. Returns how many cases ran.
fn run_file(dir: &Path, file: &str, secure: bool) -> usize {
    let cases = read_json(dir, file);
    let cases = cases.as_object().unwrap_or_else(|| panic!("{file}: not an object of cases"));
    let mut failures = Vec::new();
    for (name, case) in cases {
        let context = format!("{file} / {name}");
        let mut map = BTreeMap::new();
        for (key, value) in operations(case) {
            let key = if secure { secure_key(&key).as_bytes().to_vec() } else { key };
            // In an Ethereum trie an empty value is a deletion, as `null` is.
            match value.filter(|value| !value.is_empty()) {
                Some(value) => map.insert(key, value),
                None => map.remove(&key),
            };
        }
        let (root, nodes) = build_trie(&map).unwrap_or_else(|e| panic!("{context}: {e}"));
        let expected = hash_of(case["root"].as_str().expect("root is a string"));
        if root != expected {
            failures.push(format!("{context}: root {root:?}, expected {expected:?}"));
            continue;
        }
        check_nodes(&context, root, &nodes);
        let walked: BTreeMap<_, _> = entries(root, &nodes).into_iter().collect();
        assert_eq!(walked, map, "{context}: walking the built trie does not give back its pairs");
    }
    assert!(failures.is_empty(), "{} case(s) failed:\n{}", failures.len(), failures.join("\n"));
    cases.len()
}

macro_rules! vector_file_test {
    ($test:ident, $file:literal, secure = $secure:literal, cases = $cases:literal) => {
        #[test]
        fn $test() {
            let Some(dir) = vectors_dir_or_skip(stringify!($test)) else { return };
            assert_eq!(run_file(&dir, $file, $secure), $cases, "{}: case count changed", $file);
        }
    };
}

vector_file_test!(trietest, "trietest.json", secure = false, cases = 5);
vector_file_test!(trietest_secure, "trietest_secureTrie.json", secure = true, cases = 3);
vector_file_test!(trieanyorder, "trieanyorder.json", secure = false, cases = 7);
vector_file_test!(trieanyorder_secure, "trieanyorder_secureTrie.json", secure = true, cases = 7);
vector_file_test!(hex_encoded_securetrie, "hex_encoded_securetrie_test.json", secure = true, cases = 3);

/// `trietestnextprev.json` is about iterating a trie (the key before and after a probe). We have no
/// iterator, but the vectors still test something of ours: the key order of the trie we build. Walk the
/// built trie's nodes in order and answer each probe from the walked key list.
#[test]
fn trietestnextprev_from_the_built_trie_walk() {
    let Some(dir) = vectors_dir_or_skip("trietestnextprev_from_the_built_trie_walk") else { return };
    let cases = read_json(&dir, "trietestnextprev.json");
    let cases = cases.as_object().expect("an object of cases");
    let mut probes = 0;
    for (name, case) in cases {
        let mut keys: Vec<Vec<u8>> = case["in"]
            .as_array()
            .expect("\"in\" is a list of keys")
            .iter()
            .map(|key| bytes_of(key.as_str().expect("key is a string")))
            .collect();
        keys.sort();
        // The values are irrelevant to the probes; each key stores itself (non-empty).
        let (root, nodes) = build_trie(keys.iter().map(|key| (key, key))).expect("sorted distinct keys");
        let walked: Vec<Vec<u8>> = entries(root, &nodes).into_iter().map(|(key, _)| key).collect();
        assert_eq!(walked, keys, "{name}: walk order");
        for probe in case["tests"].as_array().expect("\"tests\" is a list") {
            let [at, prev, next] = [0, 1, 2].map(|i| bytes_of(probe[i].as_str().expect("probe strings")));
            let got_prev = walked.iter().rev().find(|key| **key < at).cloned().unwrap_or_default();
            let got_next = walked.iter().find(|key| **key > at).cloned().unwrap_or_default();
            assert_eq!((got_prev, got_next), (prev, next), "{name}: probe {probe}");
            probes += 1;
        }
    }
    assert!(probes > 0, "no probes ran");
}

/// Mainnet genesis: 8,893 accounts give the known state root. Every node of this trie is stored by hash:
/// with 64-nibble secure keys and ~70-byte account values no leaf, extension or branch is under 32 bytes,
/// so nothing is embedded and the emitted nodes are the whole trie.
#[test]
fn mainnet_genesis_root_and_node_counts() {
    let Some(_) = vectors_dir_or_skip("mainnet_genesis_root_and_node_counts") else { return };
    let pairs = mainnet_genesis_pairs();
    assert_eq!(pairs.len(), 8_893);
    let (root, nodes) = build_trie(pairs.iter().map(|(k, v)| (k, v))).expect("sorted distinct keys");
    assert_eq!(format!("{root:x}"), MAINNET_GENESIS_ROOT);
    let counts = check_nodes("mainnet genesis", root, &nodes);
    assert_eq!(nodes.len(), 12_356, "emitted nodes");
    assert_eq!(counts.leaves, 8_893);
    assert_eq!(counts.branches, 3_367);
    assert_eq!(counts.extensions, 96);
    assert_eq!(counts.embedded, 0);
    assert_eq!(counts.emitted(), nodes.len());
    let distinct: std::collections::HashSet<_> = nodes.iter().map(|(hash, _)| *hash).collect();
    assert_eq!(distinct.len(), nodes.len(), "a node emitted twice");
    let Node::Branch { .. } = Node::decode(&nodes[nodes.len() - 1].1).expect("root decodes") else {
        panic!("mainnet genesis root is not a branch")
    };
    assert_eq!(entries(root, &nodes), pairs, "walking the genesis trie");
}
