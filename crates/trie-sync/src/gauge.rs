//! How far a sync is, estimated from the shape of the trie seen so far: what
//! [`TrieSync::progress`](crate::TrieSync::progress) reads.

/// Depths (path lengths in nibbles) told apart: an account path (64) plus a storage path (64), and a
/// last slot for anything deeper.
const DEPTHS: usize = 130;

/// The depth of a storage trie's root: an account path's length, the depth its leaf's storage hangs at.
const STORAGE_ROOT_DEPTH: usize = 64;

/// The shape of the tries a sync has seen: for every depth, how many nodes were delivered there
/// and how many new children (trie nodes, storage tries, code: neither held nor requested already)
/// they referred to at each depth below.
///
/// The work under a node not yet delivered is estimated from that shape: 1 for itself, plus its
/// expected children, each with the work expected under a node of its depth, from the deepest level
/// up. A depth nothing was delivered at yet would count as a leaf, hiding everything below it: so
/// no estimate is made while a depth holding [`WAIT_FOR_REFERENCED`] or more referred-to nodes has
/// had none delivered (see [`is_informed`](Self::is_informed)).
///
/// Storage tries are heavy-tailed: one of them can be a tenth of all the work. Whenever that lump
/// falls, the shape seen before it expects too little of the rest and the shape seen after it too
/// much, until the many small tries after it outweigh it. So the largest storage trie completed
/// counts once, as done, and not in what a storage root still to come is expected to hold; and the
/// estimated total work moves toward each new estimate gradually (see [`estimate`](Self::estimate)),
/// so that a stretch of small tries or a lump just seen does not swing it at once.
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
    /// Trie nodes referred to (new requests), per depth: with `nodes`, which depths hold work not
    /// seen yet.
    referenced: Vec<u64>,
    /// Depths with a node delivered.
    depths_seen: usize,
    /// Depths with [`WAIT_FOR_REFERENCED`] or more nodes referred to and none delivered yet: the
    /// work below them is unknown.
    unseen_depths: usize,
    /// Entries in the largest storage trie completed so far: a lump not expected again.
    largest_storage: u64,
    /// The estimated total work (entries) at the last [`estimate`](Self::estimate), and the work
    /// done then: each new estimate moves it part of the way.
    total: Option<Smoothed>,
}

/// The total work as [`WorkGauge::estimate`] last gave it.
#[derive(Debug, Clone, Copy)]
struct Smoothed {
    /// Entries done (earlier syncs' included) at that estimate.
    done: f64,
    /// The estimated total work then.
    total: f64,
}

/// How quickly the estimated total follows new estimates: it moves `1 - (before / now)^(1 /
/// SMOOTHING)` of the way, `before` and `now` the work done at the last estimate and at this one: about
/// 60% of the way while the work done grows by 15%, however often it is asked. Tuned over 20 seeds of
/// the synthetic states (0.1 to 0.25 do about as well).
const SMOOTHING: f64 = 0.15;

/// Depths with a node delivered before an estimate is made at all.
const MIN_DEPTHS_SEEN: usize = 4;

/// Nodes referred to at a depth nothing was delivered at yet that hold the first estimate back.
/// Every level of the state's tries is that wide at the start of a sync (the storage levels too:
/// each account leaf brings a storage root), and counting one as leaves made the first estimates
/// run ahead of the truth by up to 0.12 at 30,000 accounts, which a display that never goes back
/// kept showing. A handful of nodes at a new depth (two accounts sharing a long key prefix, the
/// deepest branch of one storage trie) hold little work, and asking for them can wait behind
/// deeper requests, so they do not hold it back.
const WAIT_FOR_REFERENCED: u64 = 16;

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
            referenced: vec![0; DEPTHS],
            depths_seen: 0,
            unseen_depths: 0,
            largest_storage: 0,
            total: None,
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
        if !is_node {
            return;
        }
        let depth = depth(path_len);
        self.nodes[depth] += 1;
        if self.nodes[depth] == 1 {
            self.depths_seen += 1;
            if self.referenced[depth] >= WAIT_FOR_REFERENCED {
                self.unseen_depths -= 1;
            }
        }
    }

    /// Records that a node delivered at `path_len` refers to a trie node at `child_len` (or, with
    /// `is_node` false, to a code blob) that is new work: neither held nor requested already.
    pub(crate) fn child(&mut self, path_len: usize, child_len: usize, is_node: bool) {
        if !is_node {
            self.codes[depth(path_len)] += 1;
            return;
        }
        let child = depth(child_len).max(depth(path_len));
        self.children[depth(path_len)][child] += 1;
        self.referenced[child] += 1;
        if self.referenced[child] == WAIT_FOR_REFERENCED && self.nodes[child] == 0 {
            self.unseen_depths += 1;
        }
    }

    /// Whether enough of the tries was seen to estimate from: nodes at [`MIN_DEPTHS_SEEN`] depths
    /// (the root and the levels below it, and so the fan-out near the root), and at every depth
    /// where [`WAIT_FOR_REFERENCED`] nodes or more were referred to. At the start of a sync that
    /// takes a few round trips, about one per level (the deepest requests go first); later it is
    /// false only briefly, while a level first referred to (the deep levels of a big storage trie)
    /// waits for its first node.
    pub(crate) fn is_informed(&self) -> bool {
        self.depths_seen >= MIN_DEPTHS_SEEN && self.unseen_depths == 0
    }

    /// Records a subtrie completed: its root node at `path_len`, `entries` in all.
    pub(crate) fn completed(&mut self, path_len: usize, entries: u64) {
        self.completed[depth(path_len)] += 1;
        self.completed_entries[depth(path_len)] += entries;
        if depth(path_len) == STORAGE_ROOT_DEPTH {
            self.largest_storage = self.largest_storage.max(entries);
        }
    }

    /// The expected work (entries) under a trie node at each depth, itself included: from the
    /// fan-out seen below each depth, or the mean size of the subtries completed at it when that is
    /// larger (both run low: the fan-out misses that big subtries hold big subtries, and small ones
    /// complete first). At the depth of storage roots, both leave the largest storage trie
    /// completed out: it is done, and one like it is not expected again.
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
            // The largest storage trie completed: its entries, and its root among those seen, left out.
            let (lump, lumps) = match self.largest_storage {
                entries if d == STORAGE_ROOT_DEPTH && entries > 0 && seen > 1 => (entries, 1),
                _ => (0, 0),
            };
            if lumps > 0 {
                let rest = expected[d] * seen as f64 - lump as f64;
                expected[d] = (rest / (seen - lumps) as f64).max(1.0);
            }
            if self.completed[d] >= MIN_COMPLETED {
                let mean = (self.completed_entries[d] - lump) as f64 / (self.completed[d] - lumps) as f64;
                expected[d] = expected[d].max(mean);
            }
        }
        expected
    }

    /// The share of the work done, in `0.0..=1.0`: `before` entries completed by earlier syncs into
    /// the same store and those delivered here, against the estimated total work. That total is
    /// those plus `remaining`, the work expected under the requests not yet delivered, smoothed: it
    /// moves from the last estimate's toward this one by how much the work done grew since (see
    /// [`SMOOTHING`]). Exactly 1.0 when nothing remains; below it otherwise.
    pub(crate) fn estimate(&mut self, remaining: f64, before: u64) -> f64 {
        if remaining <= 0.0 {
            return 1.0;
        }
        let done = (before + self.delivered) as f64;
        let latest = done + remaining;
        let total = match self.total {
            Some(last) if last.done > 0.0 => {
                let follow = 1.0 - (last.done / done).powf(1.0 / SMOOTHING);
                last.total + follow * (latest - last.total)
            }
            _ => latest,
        };
        self.total = Some(Smoothed { done, total });
        (done / total).min(0.999)
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

    /// The top of a state as a sync sees it: the root with 16 children at depth 1, one of them
    /// delivered with 16 children at depth 2, one of those delivered with a storage root at depth
    /// 64, which `storage_root` describes before it is delivered.
    fn top_of_a_state(storage_root: impl FnOnce(&mut WorkGauge)) -> WorkGauge {
        let mut gauge = WorkGauge::default();
        for _ in 0..16 {
            gauge.child(0, 1, true);
        }
        gauge.delivered(0, true);
        for _ in 0..16 {
            gauge.child(1, 2, true);
        }
        gauge.delivered(1, true);
        gauge.child(2, 64, true);
        gauge.delivered(2, true);
        assert!(!gauge.is_informed(), "three depths seen");
        storage_root(&mut gauge);
        gauge.delivered(64, true);
        gauge
    }

    #[test]
    fn no_estimate_while_a_level_of_referred_nodes_was_never_seen() {
        assert!(top_of_a_state(|_| {}).is_informed(), "four depths seen, none waiting");

        let branch = |gauge: &mut WorkGauge| {
            for _ in 0..WAIT_FOR_REFERENCED {
                gauge.child(64, 65, true);
            }
        };
        let mut gauge = top_of_a_state(branch);
        assert!(!gauge.is_informed(), "16 nodes referred to at depth 65, none delivered");
        gauge.delivered(65, true);
        assert!(gauge.is_informed(), "depth 65 seen");
        for _ in 0..WAIT_FOR_REFERENCED {
            gauge.child(65, 66, true);
        }
        assert!(!gauge.is_informed(), "a new level waits for its first node");
        gauge.delivered(66, true);
        assert!(gauge.is_informed());
    }

    #[test]
    fn the_largest_storage_trie_is_not_expected_again() {
        let mut gauge = WorkGauge::default();
        // Four one-node storage tries and one of 101 entries (its root and 100 children).
        for _ in 0..4 {
            gauge.delivered(STORAGE_ROOT_DEPTH, true);
            gauge.completed(STORAGE_ROOT_DEPTH, 1);
        }
        gauge.delivered(STORAGE_ROOT_DEPTH, true);
        for _ in 0..100 {
            gauge.child(STORAGE_ROOT_DEPTH, STORAGE_ROOT_DEPTH + 1, true);
            gauge.delivered(STORAGE_ROOT_DEPTH + 1, true);
        }
        // 105 entries under five roots, less the largest trie completed so far (1) and its root.
        assert_eq!(gauge.expected()[STORAGE_ROOT_DEPTH], 26.0, "the lump counts until it completes");
        gauge.completed(STORAGE_ROOT_DEPTH, 101);
        assert_eq!(gauge.expected()[STORAGE_ROOT_DEPTH], 1.0, "the other four");
    }

    #[test]
    fn the_estimated_total_follows_new_estimates_gradually() {
        let mut gauge = WorkGauge { delivered: 100, ..WorkGauge::default() };
        assert_eq!(gauge.estimate(900.0, 0), 0.1, "the first estimate as it is");
        gauge.delivered = 110;
        // The total estimated drops from 1,000 to 500: the total moves 1 - (100 / 110)^(1 / 0.15),
        // about 47% of the way.
        let share = gauge.estimate(390.0, 0);
        let follow = 1.0 - (100.0f64 / 110.0).powf(1.0 / SMOOTHING);
        assert!((share - 110.0 / (1000.0 - follow * 500.0)).abs() < 1e-12, "{share}");
        assert!(share > 0.11 && share < 0.22, "{share}");
        assert_eq!(gauge.estimate(390.0, 0), share, "asked again with nothing done since: the same");
    }

    #[test]
    fn a_few_nodes_at_a_new_depth_do_not_hold_the_estimate_back() {
        let few = |gauge: &mut WorkGauge| {
            for _ in 1..WAIT_FOR_REFERENCED {
                gauge.child(64, 65, true);
            }
        };
        assert!(top_of_a_state(few).is_informed(), "15 nodes at depth 65 never seen");
    }
}
