//! trie-sync's decoders of blobs peers send: `Node::decode` (every trie node fetched),
//! `StateAccount::decode` (every account leaf value), `hex_prefix_decode` (node paths).
//!
//! Properties: each codec is strict (one encoding per value), so whatever decodes re-encodes to
//! exactly the input bytes; a node's embedded children re-encode the same way.

#![no_main]

use libfuzzer_sys::fuzz_target;
use trie_sync::{hex_prefix_decode, hex_prefix_encode, ChildRef, Node, StateAccount};

fuzz_target!(|data: &[u8]| {
    if let Ok(node) = Node::decode(data) {
        assert_eq!(node.encode(), data, "a node re-encodes to its input: {node:?}");
        check_children(&node);
        // A parent would refer to it by hash if 32 bytes or more, else inline it.
        match ChildRef::for_encoded(data) {
            Ok(ChildRef::Hash(_)) => assert!(data.len() >= 32),
            Ok(ChildRef::Embedded(embedded)) => assert_eq!(*embedded, node),
            Err(error) => panic!("a decodable node is a valid child: {error}"),
        }
    }
    if let Ok(account) = StateAccount::decode(data) {
        assert_eq!(account.encode(), data, "an account re-encodes to its input: {account:?}");
    }
    if let Ok((nibbles, is_leaf)) = hex_prefix_decode(data) {
        assert!(nibbles.iter().all(|&nibble| nibble < 16));
        assert_eq!(hex_prefix_encode(&nibbles, is_leaf), data);
    }
});

/// Embedded children are nodes too, shorter than 32 bytes encoded, and decode from their encoding.
fn check_children(node: &Node) {
    let children: Vec<&ChildRef> = match node {
        Node::Branch { children, .. } => children.iter().flatten().collect(),
        Node::Extension { child, path } => {
            assert!(!path.is_empty());
            vec![child]
        }
        Node::Leaf { .. } => Vec::new(),
    };
    for child in children {
        if let ChildRef::Embedded(embedded) = child {
            let encoded = embedded.encode();
            assert!(encoded.len() < 32, "embedded child of {} bytes", encoded.len());
            assert_eq!(&Node::decode(&encoded).expect("an embedded child decodes"), &**embedded);
            check_children(embedded);
        }
    }
}
