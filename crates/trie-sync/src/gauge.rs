//! How far a sync is, estimated from the shape of the trie seen so far: what
//! [`TrieSync::progress`](crate::TrieSync::progress) reads.

/// Depths (path lengths in nibbles) told apart: an account path (64) plus a storage path (64), and a
/// last slot for anything deeper.
const DEPTHS: usize = 130;

/// The shape of the tries a sync has seen: for every depth, how many nodes were delivered there
/// and how many children (trie nodes, storage tries, code) they referred to at each depth below, held
/// already or not.
///
/// The work under a node not yet delivered is estimated from that shape: 1 for itself, plus its
/// expected children, each with the work expected under a node of its depth, from the deepest level
/// up. A depth nothing was delivered at yet counts as a leaf, so early estimates of the work left
/// are low, and they rise to the truth as each level is seen; in a state of many accounts the levels
/// near the root are seen first, so the estimate is close early on.
#[derive(Debug, Clone)]
pub(crate) struct WorkGauge {
    /// Trie nodes delivered, per depth.
    nodes: Vec<u64>,
    /// Children referred to by the nodes delivered at depth `d`, at depth `c`: `children[d][c]`.
    children: Vec<Vec<u64>>,
    /// Code blobs referred to by the nodes delivered, per depth of the referring node.
    codes: Vec<u64>,
    /// Subtries completed, per depth of their root node.
    completed: Vec<u64>,
    /// Entries in those subtries, per depth.
    completed_entries: Vec<u64>,
    /// Entries (nodes and code) delivered in all.
    delivered: u64,
}

/// Depths with a node delivered before an estimate is made at all.
const MIN_DEPTHS_SEEN: usize = 4;

/// Subtries completed at a depth before their mean size is trusted over the fan-out estimate.
const MIN_COMPLETED: u64 = 16;

impl Default for WorkGauge {
    fn default() -> Self {
        Self {
            nodes: vec![0; DEPTHS],
            children: vec![vec![0; DEPTHS]; DEPTHS],
            codes: vec![0; DEPTHS],
            completed: vec![0; DEPTHS],
            completed_entries: vec![0; DEPTHS],
            delivered: 0,
        }
    }
}

/// The depth slot of a path.
fn depth(path_len: usize) -> usize {
    path_len.min(DEPTHS - 1)
}

impl WorkGauge {
    /// Records an entry delivered (a trie node at `depth`, or a code blob).
    pub(crate) fn delivered(&mut self, path_len: usize, is_node: bool) {
        self.delivered += 1;
        if is_node {
            self.nodes[depth(path_len)] += 1;
        }
    }

    /// Records that a node delivered at `path_len` refers to a trie node at `child_len` (or, with
    /// `is_node` false, to a code blob), whether or not it is held already.
    pub(crate) fn child(&mut self, path_len: usize, child_len: usize, is_node: bool) {
        if is_node {
            self.children[depth(path_len)][depth(child_len).max(depth(path_len))] += 1;
        } else {
            self.codes[depth(path_len)] += 1;
        }
    }

    /// Whether enough of the tries was seen to estimate from: nodes at [`MIN_DEPTHS_SEEN`] depths
    /// (the root and the levels below it, and so the fan-out near the root).
    pub(crate) fn is_informed(&self) -> bool {
        self.nodes.iter().filter(|&&count| count > 0).count() >= MIN_DEPTHS_SEEN
    }

    /// Records a subtrie completed: its root node at `path_len`, `entries` in all.
    pub(crate) fn completed(&mut self, path_len: usize, entries: u64) {
        self.completed[depth(path_len)] += 1;
        self.completed_entries[depth(path_len)] += entries;
    }

    /// The expected work (entries) under a trie node at each depth, itself included: from the
    /// fan-out seen below each depth, or the mean size of the subtries completed at it when that is
    /// larger (both run low: the fan-out misses that big subtries hold big subtries, and small ones
    /// complete first).
    pub(crate) fn expected(&self) -> Vec<f64> {
        let mut expected = vec![1.0; DEPTHS];
        for d in (0..DEPTHS).rev() {
            let seen = self.nodes[d];
            if seen == 0 {
                continue;
            }
            let mut below = self.codes[d] as f64;
            for (c, &count) in self.children[d].iter().enumerate().skip(d + 1) {
                below += count as f64 * expected[c];
            }
            expected[d] = 1.0 + below / seen as f64;
            if self.completed[d] >= MIN_COMPLETED {
                let mean = self.completed_entries[d] as f64 / self.completed[d] as f64;
                expected[d] = expected[d].max(mean);
            }
        }
        expected
    }

    /// The share of the work done, in `0.0..=1.0`: `before` entries completed by earlier syncs into
    /// the same store and those delivered here, against those plus `remaining`, the work expected
    /// under the requests not yet delivered. Exactly 1.0 when nothing remains; below it otherwise.
    pub(crate) fn estimate(&self, remaining: f64, before: u64) -> f64 {
        if remaining <= 0.0 {
            return 1.0;
        }
        let done = (before + self.delivered) as f64;
        (done / (done + remaining)).min(0.999)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_work_under_a_node_follows_the_fan_out_seen_below() {
        let mut gauge = WorkGauge::default();
        // A root with 16 children at depth 1, one of them delivered with 16 leaves at depth 2, one
        // of which refers to a code blob and a one-node storage trie at depth 64.
        gauge.delivered(0, true);
        for _ in 0..16 {
            gauge.child(0, 1, true);
            gauge.child(1, 2, true);
        }
        gauge.delivered(1, true);
        gauge.delivered(2, true);
        gauge.child(2, 64, true);
        gauge.child(2, 64, false);
        gauge.delivered(64, true);
        let expected = gauge.expected();
        assert_eq!(expected[64], 1.0);
        assert_eq!(expected[2], 3.0, "itself, its code and its storage node");
        assert_eq!(expected[1], 1.0 + 16.0 * 3.0);
        assert_eq!(expected[0], 1.0 + 16.0 * 49.0);
        assert_eq!(gauge.estimate(0.0, 0), 1.0);
        let share = gauge.estimate(15.0 * 49.0, 0);
        assert!((share - 4.0 / (4.0 + 735.0)).abs() < 1e-12, "{share}");
        assert!(gauge.estimate(1e-9, 10_000) < 1.0, "below 1 until nothing remains");
    }
}
