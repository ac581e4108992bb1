//! How far a sync is, estimated from the shape of the trie seen so far: what
//! [`TrieSync::progress`](crate::TrieSync::progress) reads.

use std::collections::HashMap;

use crate::NodeHash;

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
/// up. A depth too few nodes were delivered at yet would count as leaves, hiding everything below
/// it: so no estimate is made while a depth with [`WAIT_FOR_REFERENCED`] or more referred-to nodes
/// has had fewer than half that many delivered (see [`is_informed`](Self::is_informed)).
///
/// Storage tries and code are shared: accounts refer to a storage root or a code hash that an
/// account before them already brought. Early in a sync nearly every reference is to something new;
/// later more and more of them are to something held, so the rate of new storage tries seen so far
/// overstates the rate still to come (by a quarter on the synthetic states, where a fifth of the
/// contracts share a storage trie: counting only new references, the gauge lagged the work done by
/// 0.05 to 0.07 in mid-sync at 120,000 accounts, on every seed). So the account trie's shape leaves
/// storage tries and code out; the gauge counts every reference to them, new or not, and how often
/// each was referred to. The references still to come follow from the account trie's shape, how
/// many of them will be to something new from how many things were referred to once, twice, and so
/// on (see [`unseen_items`]), and each new storage trie is expected to hold the mean seen.
///
/// Storage tries are heavy-tailed: one of them can be a tenth of all the work of a small state, and
/// where such lumps fall is not foreseeable. The estimated total work moves toward each new
/// estimate gradually (see [`estimate`](Self::estimate)), so that a stretch of small tries or a
/// lump just seen does not swing it at once.
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
    /// References from account leaves to storage roots and to code, new or not, per depth of the
    /// referring node: with `children`, how many references are still to come.
    shared_refs: [Vec<u64>; 2],
    /// How often each storage root and code hash was referred to so far.
    sightings: [Sightings; 2],
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

/// How quickly the estimated total follows new estimates: it moves `1 - exp(-grown / (SMOOTHING *
/// scale))` of the way, `grown` the work done since the last estimate and `scale` the smaller of the
/// work done and the work the new estimate expects left: about 60% of the way while the work done
/// grows by 15% early in a sync, or by 15% of what is left near its end (when what is left is
/// small, the estimate of it is close; following the work done there, the gauge lagged by 0.12 at
/// the end of a resumed sync, 0.05 of a fresh one), however often it is asked. Tuned over 20 seeds
/// of the synthetic states (0.1 to 0.25 do about as well).
const SMOOTHING: f64 = 0.15;

/// The most a share of work done is estimated at before nothing remains: an estimate never reads
/// 100% while anything is pending.
pub const MAX_SHARE_BEFORE_DONE: f64 = 0.999;

/// Depths with a node delivered before an estimate is made at all.
const MIN_DEPTHS_SEEN: usize = 4;

/// Nodes referred to at a depth that hold an estimate back until half as many were delivered there.
/// Every level of the state's tries is that wide at the start of a sync (the storage levels too:
/// each account leaf brings a storage root), and counting one as leaves made the first estimates
/// run ahead of the truth by up to 0.12 at 30,000 accounts, which a display that never goes back
/// kept showing. Nor is one node enough: the first of a new level is often a small trie's (1
/// delivered of 515 referred to at depth 65, at 30,000 accounts), and taking it for the level made
/// the first estimates run up to 0.14 ahead; waiting for 8 brings the worst over 20 seeds at 30,000
/// accounts from 0.14 to 0.08, for a round trip or two more before the first estimate. A handful
/// of nodes at a new depth (two accounts sharing a long key prefix, the deepest branch of one
/// storage trie) hold little work, and asking for them can wait behind deeper requests, so they do
/// not hold it back.
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
            shared_refs: [vec![0; DEPTHS], vec![0; DEPTHS]],
            sightings: Default::default(),
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
        self.nodes[depth(path_len)] += 1;
    }

    /// An estimate of the heap memory held: the counts per depth (the children's matrix most of
    /// it) and the tallies of sightings.
    pub(crate) fn memory_bytes(&self) -> usize {
        let per_depth = self.nodes.capacity()
            + self.codes.capacity()
            + self.completed.capacity()
            + self.completed_entries.capacity()
            + self.referenced.capacity()
            + self.shared_refs.iter().map(Vec::capacity).sum::<usize>();
        let children: usize = self.children.iter().map(Vec::capacity).sum();
        // hashbrown: one control byte per bucket.
        let sightings: usize =
            self.sightings.iter().map(|s| s.counts.capacity() * (size_of::<(NodeHash, u32)>() + 1)).sum();
        (per_depth + children) * size_of::<u64>() + sightings
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
    }

    /// Records that an account leaf in a node delivered at `path_len` refers to `hash`, a storage
    /// root (`Shared::StorageRoot`) or a code hash, whether it is new work or not (`held`: it is
    /// stored already).
    pub(crate) fn referred(&mut self, path_len: usize, hash: &NodeHash, shared: Shared, held: bool) {
        self.shared_refs[shared as usize][depth(path_len)] += 1;
        self.sightings[shared as usize].saw(hash, held);
    }

    /// Whether enough of the tries was seen to estimate from: nodes at [`MIN_DEPTHS_SEEN`] depths
    /// (the root and the levels below it, and so the fan-out near the root), and half of
    /// [`WAIT_FOR_REFERENCED`] at every depth where that many nodes or more were referred to. At
    /// the start of a sync that takes a few round trips, about one per level (the deepest requests
    /// go first); later it is false only briefly, while a level first referred to (the deep levels
    /// of a big storage trie) waits for its first nodes.
    pub(crate) fn is_informed(&self) -> bool {
        let depths_seen = self.nodes.iter().filter(|&&nodes| nodes > 0).count();
        let unseen = |(&referenced, &nodes): (&u64, &u64)| {
            referenced >= WAIT_FOR_REFERENCED && 2 * nodes < WAIT_FOR_REFERENCED
        };
        depths_seen >= MIN_DEPTHS_SEEN && !self.referenced.iter().zip(&self.nodes).any(unseen)
    }

    /// Records a subtrie completed: its root node at `path_len`, `entries` in all.
    pub(crate) fn completed(&mut self, path_len: usize, entries: u64) {
        self.completed[depth(path_len)] += 1;
        self.completed_entries[depth(path_len)] += entries;
    }

    /// The expected work (entries) under a trie node at each depth, itself included: from the
    /// fan-out seen below each depth, or the mean size of the subtries completed at it when that is
    /// larger (both run low: the fan-out misses that big subtries hold big subtries, and small ones
    /// complete first). Once account leaves were seen, an account-trie node's leaves out the storage
    /// tries and code its accounts refer to: [`unseen_work`](Self::unseen_work) counts those.
    pub(crate) fn expected(&self) -> Vec<f64> {
        let mut expected = vec![1.0; DEPTHS];
        for d in (0..DEPTHS).rev() {
            let seen = self.nodes[d];
            if seen == 0 {
                continue;
            }
            // Under the account trie, the storage tries and code referred to are counted apart, by
            // `unseen_work`, when account leaves were seen.
            let apart = d < STORAGE_ROOT_DEPTH && self.sightings.iter().any(|s| s.refs > 0);
            let (codes, deepest) = if apart { (0, STORAGE_ROOT_DEPTH) } else { (self.codes[d], DEPTHS) };
            let mut below = codes as f64;
            for (c, &count) in self.children[d].iter().enumerate().take(deepest).skip(d + 1) {
                below += count as f64 * expected[c];
            }
            expected[d] = 1.0 + below / seen as f64;
            // (A completed account subtrie's entries hold its storage tries and code, counted apart.)
            if self.completed[d] >= MIN_COMPLETED && !apart {
                let mean = self.completed_entries[d] as f64 / self.completed[d] as f64;
                expected[d] = expected[d].max(mean);
            }
        }
        expected
    }

    /// The references to storage roots and code expected under an account-trie node at each depth
    /// (`[storage roots, code]`, zero from the depth of storage roots down), from the fan-out seen.
    pub(crate) fn expected_references(&self) -> Vec<[f64; 2]> {
        let mut expected = vec![[0.0; 2]; STORAGE_ROOT_DEPTH];
        for d in (0..STORAGE_ROOT_DEPTH).rev() {
            let seen = self.nodes[d];
            if seen == 0 {
                continue;
            }
            for shared in [Shared::StorageRoot, Shared::Code] {
                let i = shared as usize;
                let mut below = self.shared_refs[i][d] as f64;
                for (c, &count) in self.children[d].iter().enumerate().take(STORAGE_ROOT_DEPTH).skip(d + 1) {
                    below += count as f64 * expected[c][i];
                }
                expected[d][i] = below / seen as f64;
            }
        }
        expected
    }

    /// The work expected in storage tries and code not referred to yet, given `future`, the
    /// references to storage roots and to code expected under the account-trie nodes not yet
    /// delivered, and `expected`, the work expected under a node at each depth (from
    /// [`expected`](Self::expected): at the depth of storage roots, a storage trie's).
    pub(crate) fn unseen_work(&self, future: [f64; 2], expected: &[f64]) -> f64 {
        let [storage, code] = [Shared::StorageRoot, Shared::Code].map(|shared| {
            let sightings = &self.sightings[shared as usize];
            match sightings.refs {
                0 => 0.0,
                refs => {
                    unseen_items(&sightings.repeats(), refs as f64, future[shared as usize] / refs as f64)
                }
            }
        });
        storage * expected[STORAGE_ROOT_DEPTH] + code
    }

    /// The share of the work done, in `0.0..=1.0`: `before` entries completed by earlier syncs into
    /// the same store and those delivered here, against the estimated total work. That total is
    /// those plus `remaining`, the work expected under the requests not yet delivered, smoothed: it
    /// moves from the last estimate's toward this one by how much the work done grew since, against
    /// the work done or left (see [`SMOOTHING`]). Exactly 1.0 when nothing remains; below it otherwise.
    pub(crate) fn estimate(&mut self, remaining: f64, before: u64) -> f64 {
        if remaining <= 0.0 {
            return 1.0;
        }
        let done = (before + self.delivered) as f64;
        let latest = done + remaining;
        let total = match self.total {
            Some(last) if last.done > 0.0 => {
                let follow = 1.0 - (-(done - last.done) / (SMOOTHING * done.min(remaining))).exp();
                last.total + follow * (latest - last.total)
            }
            _ => latest,
        };
        self.total = Some(Smoothed { done, total });
        (done / total).min(MAX_SHARE_BEFORE_DONE)
    }
}

/// Version byte first in [`WorkGauge::snapshot`], so another layout is told apart and ignored.
const SNAPSHOT_VERSION: u8 = 1;

impl WorkGauge {
    /// The shape learnt so far, for a later sync of the same trie to start from
    /// ([`restore`](Self::restore)): every count per depth, and how many storage roots and code
    /// hashes were referred to once, twice, and so on (not which). A few KiB.
    pub(crate) fn snapshot(&self) -> Vec<u8> {
        let mut out = vec![SNAPSHOT_VERSION, DEPTHS as u8];
        let per_depth =
            [&self.nodes, &self.codes, &self.completed, &self.completed_entries, &self.referenced];
        for counts in per_depth.into_iter().chain(&self.shared_refs) {
            counts.iter().for_each(|&count| put_varint(&mut out, count));
        }
        let children: Vec<(usize, usize, u64)> = (0..DEPTHS)
            .flat_map(|d| (0..DEPTHS).map(move |c| (d, c)))
            .map(|(d, c)| (d, c, self.children[d][c]))
            .filter(|&(_, _, count)| count > 0)
            .collect();
        put_varint(&mut out, children.len() as u64);
        for (d, c, count) in children {
            out.extend([d as u8, c as u8]);
            put_varint(&mut out, count);
        }
        for sightings in &self.sightings {
            put_varint(&mut out, sightings.refs);
            sightings.repeats().iter().for_each(|&items| put_varint(&mut out, items.round() as u64));
        }
        out
    }

    /// A gauge that knows what `snapshot` (from [`snapshot`](Self::snapshot)) knew, with nothing
    /// delivered yet; `None` if it is not a snapshot this version wrote.
    pub(crate) fn restore(snapshot: &[u8]) -> Option<Self> {
        let mut bytes = snapshot;
        let mut gauge = WorkGauge::default();
        let header = take(&mut bytes, 2)?;
        if header != [SNAPSHOT_VERSION, DEPTHS as u8] {
            return None;
        }
        let WorkGauge { nodes, codes, completed, completed_entries, referenced, shared_refs, .. } =
            &mut gauge;
        let [storage_refs, code_refs] = shared_refs;
        for counts in [nodes, codes, completed, completed_entries, referenced, storage_refs, code_refs] {
            for count in counts.iter_mut() {
                *count = take_varint(&mut bytes)?;
            }
        }
        for _ in 0..take_varint(&mut bytes)? {
            let at = take(&mut bytes, 2)?;
            let (d, c) = (at[0] as usize, at[1] as usize);
            *gauge.children.get_mut(d)?.get_mut(c)? = take_varint(&mut bytes)?;
        }
        for sightings in &mut gauge.sightings {
            sightings.refs = take_varint(&mut bytes)?;
            for carried in &mut sightings.carried[1..] {
                *carried = take_varint(&mut bytes)? as f64;
            }
        }
        bytes.is_empty().then_some(gauge)
    }
}

/// Appends `value` as a LEB128 varint.
fn put_varint(out: &mut Vec<u8>, mut value: u64) {
    while value >= 0x80 {
        out.push(value as u8 | 0x80);
        value >>= 7;
    }
    out.push(value as u8);
}

/// Reads a LEB128 varint of at most 10 bytes off the front of `bytes`.
fn take_varint(bytes: &mut &[u8]) -> Option<u64> {
    let mut value = 0u64;
    for shift in (0..70).step_by(7) {
        let (&byte, rest) = bytes.split_first()?;
        *bytes = rest;
        if shift == 63 && byte & 0x7e != 0 {
            return None;
        }
        value |= u64::from(byte & 0x7f) << shift;
        if byte & 0x80 == 0 {
            return Some(value);
        }
    }
    None
}

/// Takes `len` bytes off the front of `bytes`.
fn take<'a>(bytes: &mut &'a [u8], len: usize) -> Option<&'a [u8]> {
    if bytes.len() < len {
        return None;
    }
    let (head, rest) = bytes.split_at(len);
    *bytes = rest;
    Some(head)
}

/// What an account leaf refers to that other accounts may refer to as well.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Shared {
    /// A storage trie's root.
    StorageRoot = 0,
    /// A code hash.
    Code = 1,
}

/// Items (storage roots, code hashes) of a kind kept apart in [`Sightings`] before half of them are
/// dropped: about 1.3 MiB each.
const SIGHTINGS_KEPT: usize = 1 << 14;

/// Times referred to told apart in [`Sightings::repeats`]; more counts as this many.
const MAX_REPEATS: usize = 31;

/// How often each item of one kind was referred to, on a sample of the items: those whose hash
/// starts with `shift` zero bits (all of them at first; one bit more whenever [`SIGHTINGS_KEPT`] are
/// held, so memory stays bounded on any state), which stand for `2^shift` items each.
#[derive(Debug, Clone, Default)]
struct Sightings {
    /// References to items of this kind, sampled or not.
    refs: u64,
    /// The sampled items and how often each was referred to.
    counts: HashMap<NodeHash, u32>,
    /// Sampled items by times referred to: `by_count[j]` were referred to `j` times (the last slot:
    /// that many or more).
    by_count: [u64; MAX_REPEATS + 1],
    /// Zero bits a sampled hash starts with.
    shift: u32,
    /// Items by times referred to carried over from an earlier sync (a resumed one's), not sampled:
    /// `carried[j]` were referred to `j` times.
    carried: [f64; MAX_REPEATS + 1],
}

impl Sightings {
    fn sampled(hash: &NodeHash, shift: u32) -> bool {
        let prefix = u64::from_be_bytes(hash[..8].try_into().expect("8 bytes"));
        shift == 0 || prefix >> (64 - shift) == 0
    }

    /// Counts a reference to `hash`. One to an item `held` in the store but not in the tally, while
    /// items referred to once were carried over, was most likely one of those (the earlier sync
    /// referred to it): it counts as its second.
    fn saw(&mut self, hash: &NodeHash, held: bool) {
        self.refs += 1;
        if !Self::sampled(hash, self.shift) {
            return;
        }
        let count = self.counts.entry(*hash).or_insert(0);
        if *count == 0 && held && self.carried[1] > 0.0 {
            // Its earlier reference moves out of what was carried over and into the tally.
            let stands_for = (1u64 << self.shift) as f64;
            self.carried[1] = (self.carried[1] - stands_for).max(0.0);
            *count = 1;
            self.by_count[1] += 1;
        }
        let before = (*count as usize).min(MAX_REPEATS);
        *count = count.saturating_add(1);
        let after = (*count as usize).min(MAX_REPEATS);
        if before > 0 {
            self.by_count[before] -= 1;
        }
        self.by_count[after] += 1;
        self.sample_down();
    }

    /// Samples one bit more once more than [`SIGHTINGS_KEPT`] items are held.
    fn sample_down(&mut self) {
        if self.counts.len() > SIGHTINGS_KEPT && self.shift < 63 {
            self.shift += 1;
            let shift = self.shift;
            self.counts.retain(|hash, _| Self::sampled(hash, shift));
            self.by_count = [0; MAX_REPEATS + 1];
            for &count in self.counts.values() {
                self.by_count[(count as usize).min(MAX_REPEATS)] += 1;
            }
        }
    }

    /// Items referred to `j` times, for `j` from 1 (`repeats()[j - 1]`), scaled up from the sample.
    fn repeats(&self) -> Vec<f64> {
        let scale = (1u64 << self.shift) as f64;
        self.by_count[1..]
            .iter()
            .zip(&self.carried[1..])
            .map(|(&items, carried)| items as f64 * scale + carried)
            .collect()
    }
}

/// How many items not referred to yet the references still to come will refer to: `repeats[j - 1]`
/// items were referred to `j` times so far in `refs` references, and `ahead` references are still
/// to come per reference made so far. The classic species problem: each item's references fall at
/// random places of the key space, a share `x = 1 / (1 + ahead)` of it done, so an item referred to
/// `m` times in all is unseen with probability `(1 - x)^m`. Good and Toulmin's alternating sum
/// `sum_j -(-ahead)^j * repeats[j - 1]` is unbiased for that but swings wildly once `ahead` exceeds
/// 1 (the first half of a sync); there the sum is damped as Orlitsky, Suresh and Wu's smoothed
/// Good-Toulmin estimator does (PNAS 2016, binomial smoothing), which errs low when few items have
/// been seen twice, so the sum's first two terms (exact when no item is referred to more than
/// twice) stand in when larger. At most `ahead * repeats[0]`: every item referred to once so far
/// referred to once in all.
fn unseen_items(repeats: &[f64], refs: f64, ahead: f64) -> f64 {
    let once = repeats.first().copied().unwrap_or(0.0);
    if ahead <= 0.0 || once <= 0.0 {
        return 0.0;
    }
    let term = |j: usize, weight: f64| -(-ahead).powi(j as i32) * weight * repeats.get(j - 1).unwrap_or(&0.0);
    let estimate = if ahead <= 1.0 {
        (1..=repeats.len()).map(|j| term(j, 1.0)).sum::<f64>()
    } else {
        let terms =
            (0.5 * (refs * ahead * ahead / (ahead - 1.0)).log(3.0)).ceil().clamp(1.0, repeats.len() as f64);
        let (terms, p) = (terms as usize, 2.0 / (ahead + 2.0));
        let smoothed = (1..=terms).map(|j| term(j, binomial_tail(terms, p, j))).sum::<f64>();
        let two = term(1, 1.0) + term(2, 1.0);
        smoothed.max(two)
    };
    estimate.clamp(0.0, ahead * once)
}

/// `P(X >= at_least)` for `X` binomial with `trials` trials of probability `p`.
fn binomial_tail(trials: usize, p: f64, at_least: usize) -> f64 {
    let mut choose = 1.0;
    let mut tail = 0.0;
    for successes in 0..=trials {
        if successes > 0 {
            choose = choose * (trials - successes + 1) as f64 / successes as f64;
        }
        if successes >= at_least {
            tail += choose * p.powi(successes as i32) * (1.0 - p).powi((trials - successes) as i32);
        }
    }
    tail
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A root delivered with 16 children at depth 1, one of them delivered with 16 leaves at depth 2.
    fn root_and_a_branch() -> WorkGauge {
        let mut gauge = WorkGauge::default();
        gauge.delivered(0, true);
        for _ in 0..16 {
            gauge.child(0, 1, true);
            gauge.child(1, 2, true);
        }
        gauge.delivered(1, true);
        gauge
    }

    #[test]
    fn the_work_under_a_node_follows_the_fan_out_seen_below() {
        // One of the leaves refers to a code blob and a one-node storage trie at depth 64.
        let mut gauge = root_and_a_branch();
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

    /// The top of a state as a sync sees it: the root with 16 children at depth 1, half of them
    /// delivered, the first with 16 children at depth 2, half of those delivered, one with a storage
    /// root at depth 64, which `storage_root` describes before it is delivered.
    fn top_of_a_state(storage_root: impl FnOnce(&mut WorkGauge)) -> WorkGauge {
        let mut gauge = WorkGauge::default();
        for _ in 0..16 {
            gauge.child(0, 1, true);
        }
        gauge.delivered(0, true);
        for _ in 0..16 {
            gauge.child(1, 2, true);
        }
        for _ in 0..8 {
            gauge.delivered(1, true);
        }
        gauge.child(2, 64, true);
        for _ in 0..7 {
            gauge.delivered(2, true);
        }
        gauge.delivered(64, true);
        assert!(!gauge.is_informed(), "7 of the 16 nodes referred to at depth 2 delivered");
        gauge.delivered(2, true);
        storage_root(&mut gauge);
        gauge
    }

    #[test]
    fn no_estimate_until_half_a_level_of_referred_nodes_was_seen() {
        assert!(top_of_a_state(|_| {}).is_informed(), "four depths seen, half of each");

        let branch = |gauge: &mut WorkGauge| {
            for _ in 0..WAIT_FOR_REFERENCED {
                gauge.child(64, 65, true);
            }
        };
        let mut gauge = top_of_a_state(branch);
        assert!(!gauge.is_informed(), "16 nodes referred to at depth 65, none delivered");
        for _ in 0..7 {
            gauge.delivered(65, true);
        }
        assert!(!gauge.is_informed(), "7 of 16 delivered at depth 65");
        gauge.delivered(65, true);
        assert!(gauge.is_informed(), "half of depth 65 seen");
        for _ in 0..200 {
            gauge.child(65, 66, true);
        }
        assert!(!gauge.is_informed(), "a new level waits for its first nodes");
        for _ in 1..WAIT_FOR_REFERENCED / 2 {
            gauge.delivered(66, true);
        }
        assert!(!gauge.is_informed(), "7 of 200 delivered at depth 66");
        gauge.delivered(66, true);
        assert!(gauge.is_informed(), "8 of 200");
    }

    #[test]
    fn the_estimated_total_follows_new_estimates_gradually() {
        let mut gauge = WorkGauge { delivered: 100, ..WorkGauge::default() };
        assert_eq!(gauge.estimate(900.0, 0), 0.1, "the first estimate as it is");
        gauge.delivered = 110;
        // The total estimated drops from 1,000 to 500: the total moves 1 - exp(-10 / (0.15 * 110)),
        // about 45% of the way.
        let share = gauge.estimate(390.0, 0);
        let follow = 1.0 - (-10.0f64 / (SMOOTHING * 110.0)).exp();
        assert!((share - 110.0 / (1000.0 - follow * 500.0)).abs() < 1e-12, "{share}");
        assert!(share > 0.11 && share < 0.22, "{share}");
        assert_eq!(gauge.estimate(390.0, 0), share, "asked again with nothing done since: the same");

        // Near the end the scale is the work left: 10 entries done with 10 left follow the new
        // estimate 1 - exp(-10 / 1.5) of the way, nearly all.
        let mut gauge = WorkGauge { delivered: 1_000, ..WorkGauge::default() };
        assert_eq!(gauge.estimate(1_000.0, 0), 0.5);
        gauge.delivered = 1_010;
        let share = gauge.estimate(10.0, 0);
        assert!(share > 0.98 && share < 1_010.0 / 1_020.0, "{share}");
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

    #[test]
    fn account_leaves_storage_and_code_are_counted_apart() {
        // Two leaves delivered, both referring to one storage trie of 11 entries (a root and 10
        // leaves), the first also to a code blob.
        let mut gauge = root_and_a_branch();
        let (storage, code) = (crate::keccak256(b"storage"), crate::keccak256(b"code"));
        gauge.delivered(2, true);
        gauge.referred(2, &storage, Shared::StorageRoot, false);
        gauge.referred(2, &code, Shared::Code, false);
        gauge.child(2, 64, true);
        gauge.child(2, 64, false);
        gauge.delivered(2, true);
        gauge.referred(2, &storage, Shared::StorageRoot, false);
        gauge.delivered(64, true);
        for _ in 0..10 {
            gauge.child(64, 65, true);
            gauge.delivered(65, true);
        }
        let expected = gauge.expected();
        assert_eq!(expected[64], 11.0);
        assert_eq!(expected[2], 1.0, "a leaf, its storage and code apart");
        assert_eq!(expected[1], 17.0);
        let references = gauge.expected_references();
        assert_eq!(references[2], [1.0, 0.5], "per leaf: a storage root, half a code hash");
        assert_eq!(references[1], [16.0, 8.0]);
        // The 14 leaves left under the depth-1 node: 14 references to storage roots to come per 2
        // made, all to the one trie seen twice: none new. 7 to code per 1 made, to one seen once: 7.
        let future = [14.0 * references[2][0], 14.0 * references[2][1]];
        assert_eq!(gauge.unseen_work(future, &expected), 7.0);
    }

    #[test]
    fn a_snapshot_carries_the_shape_into_a_resumed_sync() {
        let mut gauge = top_of_a_state(|gauge| {
            for _ in 0..40 {
                gauge.child(64, 65, true);
            }
        });
        for i in 0..20u64 {
            gauge.delivered(65, true);
            gauge.completed(65, 1);
            gauge.referred(2, &crate::keccak256(i.to_be_bytes()), Shared::StorageRoot, false);
        }
        gauge.referred(2, &crate::keccak256(0u64.to_be_bytes()), Shared::StorageRoot, false);
        gauge.referred(2, &crate::keccak256(b"code"), Shared::Code, false);
        let snapshot = gauge.snapshot();
        assert!(snapshot.len() < 4_096, "{} bytes", snapshot.len());
        let restored = WorkGauge::restore(&snapshot).expect("its own snapshot");
        assert_eq!(restored.expected(), gauge.expected());
        assert_eq!(restored.expected_references(), gauge.expected_references());
        assert_eq!(restored.is_informed(), gauge.is_informed());
        assert_eq!(restored.delivered, 0, "nothing delivered in the new sync yet");
        let future = [30.0, 5.0];
        assert_eq!(
            restored.unseen_work(future, &restored.expected()),
            gauge.unseen_work(future, &gauge.expected())
        );
        assert_eq!(restored.sightings[0].repeats()[..3], [19.0, 1.0, 0.0]);
        assert!(restored.sightings[0].counts.is_empty(), "which items: not carried");

        // A held storage root the new sync's tally has not seen was most likely one of the 19
        // referred to once: it counts as referred to twice; referred to again, three times.
        let mut restored = restored;
        let held = crate::keccak256(5u64.to_be_bytes());
        restored.referred(3, &held, Shared::StorageRoot, true);
        assert_eq!(restored.sightings[0].repeats()[..3], [18.0, 2.0, 0.0]);
        restored.referred(3, &held, Shared::StorageRoot, true);
        assert_eq!(restored.sightings[0].repeats()[..3], [18.0, 1.0, 1.0]);
    }

    #[test]
    fn a_damaged_snapshot_is_refused() {
        let snapshot = top_of_a_state(|_| {}).snapshot();
        assert!(WorkGauge::restore(&snapshot).is_some());
        assert!(WorkGauge::restore(&[]).is_none());
        assert!(WorkGauge::restore(&snapshot[..snapshot.len() - 1]).is_none(), "cut short");
        assert!(WorkGauge::restore(&[&snapshot[..], &[0]].concat()).is_none(), "a byte too many");
        let mut other_version = snapshot.clone();
        other_version[0] = SNAPSHOT_VERSION + 1;
        assert!(WorkGauge::restore(&other_version).is_none());
        let mut other_depths = snapshot.clone();
        other_depths[1] = DEPTHS as u8 + 1;
        assert!(WorkGauge::restore(&other_depths).is_none());
        assert!(WorkGauge::restore(&[SNAPSHOT_VERSION, DEPTHS as u8, 0xff, 0xff]).is_none());
        let mut varint = Vec::new();
        put_varint(&mut varint, u64::MAX);
        assert_eq!(take_varint(&mut &varint[..]), Some(u64::MAX));
        assert_eq!(take_varint(&mut &[0xff; 11][..]), None, "longer than 10 bytes");
        assert_eq!(
            take_varint(&mut &[0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02][..]),
            None,
            "over 64 bits"
        );
    }

    #[test]
    fn items_seen_once_or_twice_give_the_unseen_exactly() {
        let mut repeats = vec![0.0; MAX_REPEATS];
        // 100 items referred to once in 100 references, 3 more references to come per one made:
        // with nothing referred to twice, each of those 300 is expected to be to something new.
        repeats[0] = 100.0;
        assert_eq!(unseen_items(&repeats, 100.0, 3.0), 300.0);
        // Half the key space done (1 reference to come per one made), 400 items referred to twice
        // in all: expected 200 seen once, 100 seen twice, and a quarter of them, 100, unseen.
        repeats[0] = 200.0;
        repeats[1] = 100.0;
        assert_eq!(unseen_items(&repeats, 400.0, 1.0), 100.0);
        assert_eq!(unseen_items(&repeats, 400.0, 0.0), 0.0, "nothing to come");
        assert_eq!(unseen_items(&[0.0; MAX_REPEATS], 0.0, 5.0), 0.0, "nothing seen");
    }

    /// Items referred to `m` times each, `m` drawn from `multiplicity`, their references at random
    /// places of the key space; the first `done` of it seen. Returns the items seen `j` times and the
    /// references seen, the references still to come, and the items not seen yet.
    fn species(
        seed: u64,
        items: usize,
        done: f64,
        multiplicity: impl Fn(f64) -> usize,
    ) -> (Vec<f64>, f64, f64, f64) {
        let mut state = seed;
        let mut next = move || {
            state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
            let mut z = state;
            z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
            ((z ^ (z >> 31)) >> 11) as f64 / (1u64 << 53) as f64
        };
        let (mut repeats, mut seen_refs, mut future_refs, mut unseen) =
            (vec![0.0; MAX_REPEATS], 0.0, 0.0, 0.0);
        for _ in 0..items {
            let m = multiplicity(next());
            let seen = (0..m).filter(|_| next() < done).count();
            seen_refs += seen as f64;
            future_refs += (m - seen) as f64;
            match seen {
                0 => unseen += 1.0,
                j => repeats[j.min(MAX_REPEATS) - 1] += 1.0,
            }
        }
        (repeats, seen_refs, future_refs, unseen)
    }

    #[test]
    fn the_unseen_items_follow_from_how_often_the_seen_ones_were_referred_to() {
        // Like the synthetic states' storage tries (a fifth shared, a few widely) and code (about 4
        // accounts per code blob).
        let storage = |u: f64| {
            if u < 0.8 {
                1
            } else if u < 0.95 {
                2
            } else {
                3 + (u * 100.0) as usize % 5
            }
        };
        let code = |u: f64| 1 + (u * 8.0) as usize;
        for (name, multiplicity) in [("storage", &storage as &dyn Fn(f64) -> usize), ("code", &code)] {
            for done in [0.25, 0.5, 0.75] {
                let (repeats, refs, future, unseen) = species(7, 20_000, done, multiplicity);
                let estimate = unseen_items(&repeats, refs, future / refs);
                let naive = repeats.iter().sum::<f64>() * future / refs;
                let error = (estimate - unseen).abs() / unseen;
                assert!(error < 0.1, "{name} at {done}: {estimate:.0} unseen estimated, {unseen} in truth");
                assert!(
                    (naive - unseen) / unseen > 0.2,
                    "{name} at {done}: the seen rate overstates the rest"
                );
            }
        }
    }

    #[test]
    fn sightings_keep_a_bounded_sample_that_stands_for_all() {
        let mut gauge = WorkGauge::default();
        let hash = |i: u64| crate::keccak256(i.to_be_bytes());
        // 100,000 code hashes, every fourth referred to twice.
        let items = 100_000u64;
        for i in 0..items {
            gauge.referred(3, &hash(i), Shared::Code, false);
            if i % 4 == 0 {
                gauge.referred(3, &hash(i), Shared::Code, false);
            }
        }
        let sightings = &gauge.sightings[Shared::Code as usize];
        assert!(sightings.counts.len() <= SIGHTINGS_KEPT, "{} kept", sightings.counts.len());
        assert!(sightings.shift >= 3, "sampled down: shift {}", sightings.shift);
        assert_eq!(sightings.refs, items + items / 4);
        let repeats = sightings.repeats();
        let (once, twice) = (items as f64 * 0.75, items as f64 * 0.25);
        assert!((repeats[0] - once).abs() / once < 0.05, "{} seen once, {once} in truth", repeats[0]);
        assert!((repeats[1] - twice).abs() / twice < 0.08, "{} seen twice, {twice} in truth", repeats[1]);
        assert_eq!(repeats[2..].iter().sum::<f64>(), 0.0);
        let memory = gauge.memory_bytes();
        assert!(memory > SIGHTINGS_KEPT * 36 && memory < 2 << 20, "{memory} bytes");
    }
}
