//! How much of a sync is done, estimated from the hashed key space of the account trie.
//!
//! Account keys are keccak-256 hashes, so accounts spread uniformly over the key space, and sync
//! commits a node only after its whole subtrie (storage and code included): a node present in the
//! database means its slice of the key space is complete. So the top nodes of the account trie (the
//! root's children and grandchildren, up to 256 slices) are a completion gauge: poll which are
//! present, weigh each by the share of key space under it.

use std::collections::HashMap;

use kvdb::{KeyValueStore, Namespace};
use trie_sync::{ChildRef, Node, H256};

/// Slices of the key space whose presence is polled, each with the share of key space under it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct KeySpaceGauge {
    slices: Vec<(H256, f64)>,
}

impl KeySpaceGauge {
    /// The gauge of the trie whose root node is `root_node`, expanded one level further through the
    /// nodes in `known` (the root's children fetched up front; missing ones stay one slice).
    pub fn new(root_node: &[u8], known: &HashMap<H256, Vec<u8>>) -> Self {
        let mut slices = Vec::new();
        for (hash, weight) in children(root_node, 1.0) {
            match known.get(&hash) {
                Some(node) => {
                    let below = children(node, weight);
                    if below.is_empty() {
                        slices.push((hash, weight));
                    } else {
                        slices.extend(below);
                    }
                }
                None => slices.push((hash, weight)),
            }
        }
        // Shares of embedded children and of values held in the expanded nodes are complete as soon as
        // their parent is; spread what is not covered by a slice evenly so the sum is 1.
        let covered: f64 = slices.iter().map(|(_, w)| w).sum();
        if covered > 0.0 {
            for (_, weight) in &mut slices {
                *weight /= covered;
            }
        }
        Self { slices }
    }

    /// The hashes of the root's children referenced by hash (to fetch before building the gauge).
    pub fn root_children(root_node: &[u8]) -> Vec<H256> {
        children(root_node, 1.0).into_iter().map(|(hash, _)| hash).collect()
    }

    /// Share of the key space complete in `store`, in `0.0..=1.0`; `None` if the gauge has no slices
    /// (a trie too small to split) or the store fails.
    pub fn fraction(&self, store: &dyn KeyValueStore) -> Option<f64> {
        if self.slices.is_empty() {
            return None;
        }
        let mut done = 0.0;
        for (hash, weight) in &self.slices {
            if store.contains(Namespace::TrieNodes, hash.as_bytes()).ok()? {
                done += weight;
            }
        }
        Some(done.clamp(0.0, 1.0))
    }

    /// How many slices it polls.
    pub fn len(&self) -> usize {
        self.slices.len()
    }

    /// Whether it polls nothing.
    pub fn is_empty(&self) -> bool {
        self.slices.is_empty()
    }
}

/// The children of `node` referenced by hash, each with its share of `weight`: a sixteenth per branch
/// slot, all of it through an extension.
fn children(node: &[u8], weight: f64) -> Vec<(H256, f64)> {
    match Node::decode(node) {
        Ok(Node::Branch { children, .. }) => children
            .iter()
            .filter_map(|child| match child {
                Some(ChildRef::Hash(hash)) => Some((*hash, weight / 16.0)),
                _ => None,
            })
            .collect(),
        Ok(Node::Extension { child: ChildRef::Hash(hash), .. }) => vec![(hash, weight)],
        _ => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use kvdb::{MemoryStore, WriteBatch};
    use trie_sync::{build_secure_trie, StateAccount};

    use super::*;

    #[test]
    fn the_gauge_fills_as_slices_are_stored() {
        let accounts =
            (0u64..3_000).map(|i| (i.to_be_bytes(), StateAccount::with_balance(i.into()).encode()));
        let (root, nodes) = build_secure_trie(accounts).unwrap();
        let nodes: HashMap<H256, Vec<u8>> = nodes.into_iter().collect();
        let gauge = KeySpaceGauge::new(&nodes[&root], &nodes);
        assert_eq!(gauge.len(), 256, "a 3,000-leaf trie is full at depth 2");
        let store = MemoryStore::new();
        assert_eq!(gauge.fraction(&store), Some(0.0));
        let mut batch = WriteBatch::new();
        for (hash, _) in gauge.slices.iter().take(64) {
            batch.put(Namespace::TrieNodes, hash.as_bytes().to_vec(), nodes[hash].clone());
        }
        store.write(batch).unwrap();
        let fraction = gauge.fraction(&store).unwrap();
        assert!((fraction - 0.25).abs() < 1e-9, "{fraction}");
    }
}
