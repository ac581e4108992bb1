//! Property tests of [`trie_sync::TrieBuilder`] against two oracles: alloy-trie's `HashBuilder` (an
//! independent implementation; it takes only keys of which none is a prefix of another, so those
//! properties use one key length per case), and, for keys that are prefixes of others (branch values),
//! a naive recursive reference built on the crate's `Node` codec. Every property also checks the emitted
//! nodes (canonical, hashed to their key, complete, children first) and walks them back into the input.

use std::collections::BTreeMap;

use alloy_trie::{HashBuilder, Nibbles};
use proptest::collection::{btree_map, vec};
use proptest::prelude::*;
use trie_sync::{build_trie, keccak256, secure_key, to_nibbles, ChildRef, Node, NodeHash, TrieBuilder};

use crate::trie_check::{check_nodes, entries};

type Pairs = BTreeMap<Vec<u8>, Vec<u8>>;

/// The root per alloy-trie.
fn alloy_root(pairs: &Pairs) -> NodeHash {
    let mut builder = HashBuilder::default();
    for (key, value) in pairs {
        builder.add_leaf(Nibbles::unpack(key), value);
    }
    NodeHash::from(builder.root().0)
}

/// The root per a naive recursive construction from the whole sorted key set.
fn reference_root(pairs: &Pairs) -> NodeHash {
    let items: Vec<(Vec<u8>, &[u8])> = pairs.iter().map(|(k, v)| (to_nibbles(k), v.as_slice())).collect();
    if items.is_empty() {
        return trie_sync::EMPTY_ROOT;
    }
    keccak256(reference_node(&items, 0).encode())
}

/// The node holding `items` (sorted, non-empty, all sharing their first `depth` nibbles) below `depth`.
fn reference_node(items: &[(Vec<u8>, &[u8])], depth: usize) -> Node {
    if let [(path, value)] = items {
        return Node::Leaf { path: path[depth..].to_vec(), value: value.to_vec() };
    }
    let (first, last) = (&items[0].0[depth..], &items[items.len() - 1].0[depth..]);
    let common = first.iter().zip(last).take_while(|(a, b)| a == b).count();
    if common > 0 {
        let child = reference_node(items, depth + common);
        return Node::Extension { path: first[..common].to_vec(), child: reference_ref(&child) };
    }
    let mut children: Box<[Option<ChildRef>; 16]> = Box::default();
    let mut value = None;
    let mut rest = items;
    if rest[0].0.len() == depth {
        value = Some(rest[0].1.to_vec());
        rest = &rest[1..];
    }
    for (nibble, slot) in children.iter_mut().enumerate() {
        let count = rest.iter().take_while(|(path, _)| path[depth] as usize == nibble).count();
        if count > 0 {
            *slot = Some(reference_ref(&reference_node(&rest[..count], depth + 1)));
            rest = &rest[count..];
        }
    }
    Node::Branch { children, value }
}

fn reference_ref(node: &Node) -> ChildRef {
    ChildRef::for_encoded(&node.encode()).expect("a node we encoded decodes")
}

/// Builds `pairs`, checks the emitted nodes and the walk, and returns the root.
fn build_and_check(pairs: &Pairs) -> NodeHash {
    let (root, nodes) = build_trie(pairs).expect("a BTreeMap is sorted and distinct");
    check_nodes("proptest", root, &nodes);
    let walked: Pairs = entries(root, &nodes).into_iter().collect();
    assert_eq!(&walked, pairs, "walking the built trie");
    root
}

fn value() -> impl Strategy<Value = Vec<u8>> {
    // Mostly short values, so that small subtries are embedded; some long enough to force hashing.
    prop_oneof![3 => vec(any::<u8>(), 1..8), 1 => vec(any::<u8>(), 8..100)]
}

/// Byte-keys of one length per case, drawn from a small alphabet so that keys share long prefixes
/// (extensions, deep branches) or from all bytes (wide branches).
fn same_length_pairs() -> impl Strategy<Value = Pairs> {
    (1usize..=32, any::<bool>()).prop_flat_map(|(len, narrow)| {
        let byte = if narrow {
            prop::sample::select(vec![0x00u8, 0x01, 0x10, 0xf0]).boxed()
        } else {
            any::<u8>().boxed()
        };
        btree_map(vec(byte, len), value(), 0..80)
    })
}

/// Variable-length keys, many of them prefixes of others (including the empty key).
fn prefix_pairs() -> impl Strategy<Value = Pairs> {
    btree_map(vec(prop::sample::select(vec![0x00u8, 0x01, 0x12, 0xff]), 0..5), value(), 0..60)
}

proptest! {
    #[test]
    fn root_matches_alloy_for_same_length_keys(pairs in same_length_pairs()) {
        prop_assert_eq!(build_and_check(&pairs), alloy_root(&pairs));
    }

    #[test]
    fn root_matches_alloy_for_secure_account_like_tries(
        accounts in btree_map(any::<u64>(), vec(any::<u8>(), 60..80), 0..300)
    ) {
        let pairs: Pairs = accounts
            .iter()
            .map(|(id, value)| (secure_key(&id.to_be_bytes()).as_bytes().to_vec(), value.clone()))
            .collect();
        prop_assert_eq!(build_and_check(&pairs), alloy_root(&pairs));
    }

    #[test]
    fn root_matches_the_reference_for_prefix_keys(pairs in prefix_pairs()) {
        prop_assert_eq!(build_and_check(&pairs), reference_root(&pairs));
    }

    #[test]
    fn reference_agrees_with_alloy(pairs in same_length_pairs()) {
        // Guards the reference itself, so the prefix-key property is not checked against a wrong oracle.
        prop_assert_eq!(reference_root(&pairs), alloy_root(&pairs));
    }

    #[test]
    fn rejects_any_out_of_order_key(pairs in btree_map(vec(any::<u8>(), 0..4), value(), 2..20), pick in any::<prop::sample::Index>()) {
        let keys: Vec<&Vec<u8>> = pairs.keys().collect();
        let later = pick.index(keys.len() - 1) + 1;
        let mut builder = TrieBuilder::new(|_, _: &[u8]| {});
        for key in &keys[..=later] {
            builder.insert(key, b"v").expect("sorted prefix");
        }
        // Any key at or before the last one inserted is refused.
        let earlier = pick.index(later + 1);
        prop_assert!(builder.insert(keys[earlier], b"v").is_err());
    }
}
