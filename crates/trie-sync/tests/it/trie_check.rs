//! Independent checks of what the builder emitted: every node is canonical and hashes to its key,
//! children come before parents, and walking the nodes from the root gives back the key/value pairs.

use std::collections::HashMap;

use trie_sync::{from_nibbles, keccak256, ChildRef, Node, NodeHash, EMPTY_ROOT};

/// How many emitted nodes are of each kind, and how many nodes sit embedded inside them.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub(crate) struct NodeCounts {
    pub(crate) branches: usize,
    pub(crate) extensions: usize,
    pub(crate) leaves: usize,
    /// Nodes embedded in an emitted node (under 32 bytes, so not stored on their own).
    pub(crate) embedded: usize,
}

impl NodeCounts {
    pub(crate) fn emitted(&self) -> usize {
        self.branches + self.extensions + self.leaves
    }
}

/// Checks the emitted `(hash, rlp)` list of a trie with root `root`, panicking with `context` and the
/// offending hash: each node decodes strictly, re-encodes to the same bytes and hashes to its key;
/// each child referenced by hash was emitted earlier (so the set is complete and in commit order);
/// the root is emitted last; nodes other than the root are at least 32 bytes.
pub(crate) fn check_nodes(context: &str, root: NodeHash, nodes: &[(NodeHash, Vec<u8>)]) -> NodeCounts {
    let mut counts = NodeCounts::default();
    if root == EMPTY_ROOT {
        assert!(nodes.is_empty(), "{context}: empty trie emitted {} nodes", nodes.len());
        return counts;
    }
    assert_eq!(nodes.last().map(|(hash, _)| *hash), Some(root), "{context}: root is not emitted last");
    let mut seen = std::collections::HashSet::new();
    for (index, (hash, rlp)) in nodes.iter().enumerate() {
        assert_eq!(keccak256(rlp), *hash, "{context}: node {hash:?} does not hash to its key");
        assert!(rlp.len() >= 32 || index + 1 == nodes.len(), "{context}: {hash:?} is embeddable but emitted");
        let node =
            Node::decode(rlp).unwrap_or_else(|e| panic!("{context}: node {hash:?} does not decode: {e}"));
        assert_eq!(&node.encode(), rlp, "{context}: node {hash:?} does not re-encode to its bytes");
        match &node {
            Node::Branch { .. } => counts.branches += 1,
            Node::Extension { .. } => counts.extensions += 1,
            Node::Leaf { .. } => counts.leaves += 1,
        }
        visit_children(&node, &mut |child| match child {
            ChildRef::Hash(child) => {
                assert!(
                    seen.contains(child),
                    "{context}: {hash:?} references {child:?}, not emitted before it"
                )
            }
            ChildRef::Embedded(inner) => {
                counts.embedded += 1;
                assert!(inner.encode().len() < 32, "{context}: {hash:?} embeds a node of 32 bytes or more");
            }
        });
        seen.insert(*hash);
    }
    counts
}

/// Calls `f` on every child reference of `node`, recursing into embedded nodes.
fn visit_children(node: &Node, f: &mut dyn FnMut(&ChildRef)) {
    let children: Vec<&ChildRef> = match node {
        Node::Branch { children, .. } => children.iter().flatten().collect(),
        Node::Extension { child, .. } => vec![child],
        Node::Leaf { .. } => Vec::new(),
    };
    for child in children {
        f(child);
        if let ChildRef::Embedded(inner) = child {
            visit_children(inner, f);
        }
    }
}

/// Walks the trie under `root` through `nodes` in key order and returns every `(key, value)`.
/// Panics if a referenced node is missing or a key is not a whole number of bytes.
pub(crate) fn entries(root: NodeHash, nodes: &[(NodeHash, Vec<u8>)]) -> Vec<(Vec<u8>, Vec<u8>)> {
    let mut out = Vec::new();
    if root == EMPTY_ROOT {
        return out;
    }
    let by_hash: HashMap<NodeHash, &[u8]> = nodes.iter().map(|(hash, rlp)| (*hash, rlp.as_slice())).collect();
    let mut path = Vec::new();
    walk(&ChildRef::Hash(root), &by_hash, &mut path, &mut out);
    out
}

fn walk(
    child: &ChildRef,
    nodes: &HashMap<NodeHash, &[u8]>,
    path: &mut Vec<u8>,
    out: &mut Vec<(Vec<u8>, Vec<u8>)>,
) {
    let node = match child {
        ChildRef::Hash(hash) => {
            let rlp = nodes.get(hash).unwrap_or_else(|| panic!("node {hash:?} missing"));
            Node::decode(rlp).expect("emitted nodes decode")
        }
        ChildRef::Embedded(node) => (**node).clone(),
    };
    let key = |path: &[u8]| from_nibbles(path).expect("keys are whole bytes");
    match node {
        Node::Branch { children, value } => {
            if let Some(value) = value {
                out.push((key(path), value));
            }
            for (nibble, child) in children.iter().enumerate() {
                if let Some(child) = child {
                    path.push(nibble as u8);
                    walk(child, nodes, path, out);
                    path.pop();
                }
            }
        }
        Node::Extension { path: segment, child } => {
            path.extend_from_slice(&segment);
            walk(&child, nodes, path, out);
            path.truncate(path.len() - segment.len());
        }
        Node::Leaf { path: segment, value } => {
            path.extend_from_slice(&segment);
            out.push((key(path), value));
            path.truncate(path.len() - segment.len());
        }
    }
}
