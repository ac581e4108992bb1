//! Hashes handed out by the scheduler and not yet delivered, with the peers each was tried with.

use std::collections::VecDeque;

use foldhash::HashMap;
use kvdb::KeyValueStore;
use peers::PeerId;
use smallvec::SmallVec;
use trie_sync::{LeafCallback, NodeHash, TrieSync};

/// One outstanding hash.
#[derive(Debug, Default)]
struct Task {
    /// Peers that were asked for it and failed to deliver it (and may not be asked again): go-ethereum's
    /// `attempts`. A peer is removed again when its failure was a timeout, a partial answer or a
    /// dropped request (it may come back under the same id).
    attempts: SmallVec<[PeerId; 2]>,
    /// Whether it waits in the queue (rather than being in a request in flight).
    queued: bool,
}

/// Every hash the scheduler handed out that is not yet processed: queued for assignment, or in a request
/// in flight.
#[derive(Debug, Default)]
pub(crate) struct Tasks {
    tasks: HashMap<NodeHash, Task>,
    /// Queued hashes in assignment order (retries first, then the scheduler's deepest-first order). May
    /// hold hashes processed meanwhile (delivered by another peer): skipped when met.
    queue: VecDeque<NodeHash>,
}

impl Tasks {
    /// Up to `max` hashes to ask `peer` for: queued ones it has not failed yet, topped up from the
    /// scheduler. Each is recorded as tried with `peer`.
    pub(crate) fn fill<S: KeyValueStore, C: LeafCallback>(
        &mut self,
        peer: &PeerId,
        max: usize,
        scheduler: &mut TrieSync<S, C>,
    ) -> Vec<NodeHash> {
        let mut picked = Vec::with_capacity(max);
        let mut kept = VecDeque::with_capacity(self.queue.len());
        while let Some(hash) = self.queue.pop_front() {
            let Some(task) = self.tasks.get_mut(&hash).filter(|task| task.queued) else { continue };
            if picked.len() < max && !task.attempts.contains(peer) {
                task.queued = false;
                task.attempts.push(peer.clone());
                picked.push(hash);
            } else {
                kept.push_back(hash);
            }
        }
        self.queue = kept;
        if picked.len() < max {
            for hash in scheduler.missing(max - picked.len()) {
                let mut task = Task::default();
                task.attempts.push(peer.clone());
                self.tasks.insert(hash, task);
                picked.push(hash);
            }
        }
        picked
    }

    /// Of `hashes` (a request in flight with another peer), those still outstanding, in flight (not
    /// queued) and not yet tried with `peer`, recorded as tried with it: what to ask `peer` for in a
    /// hedged request. The first verified answer completes them; the other is then a duplicate.
    pub(crate) fn hedge(&mut self, peer: &PeerId, hashes: &[NodeHash], max: usize) -> Vec<NodeHash> {
        let mut picked = Vec::new();
        for hash in hashes {
            if picked.len() == max {
                break;
            }
            let Some(task) = self.tasks.get_mut(hash) else { continue };
            if task.queued || task.attempts.contains(peer) {
                continue;
            }
            task.attempts.push(peer.clone());
            picked.push(*hash);
        }
        picked
    }

    /// Forgets a processed hash, wherever it is.
    pub(crate) fn complete(&mut self, hash: &NodeHash) {
        self.tasks.remove(hash);
    }

    /// Puts an undelivered hash of `peer`'s request back in the queue, first in line. With
    /// `may_ask_again`, `peer` may be asked for it again. Returns whether it was still outstanding.
    pub(crate) fn retry(&mut self, hash: NodeHash, peer: &PeerId, may_ask_again: bool) -> bool {
        let Some(task) = self.tasks.get_mut(&hash) else { return false };
        if may_ask_again {
            task.attempts.retain(|tried| tried != peer);
        }
        if !task.queued {
            task.queued = true;
            self.queue.push_front(hash);
        }
        true
    }

    /// A queued hash every one of `connected` (non-empty) has failed, with its tries.
    pub(crate) fn failed_with_all(&self, connected: &[PeerId]) -> Option<(NodeHash, usize)> {
        if connected.is_empty() {
            return None;
        }
        self.queue.iter().find_map(|hash| {
            let task = self.tasks.get(hash).filter(|task| task.queued)?;
            connected.iter().all(|peer| task.attempts.contains(peer)).then_some((*hash, task.attempts.len()))
        })
    }

    /// Hashes waiting for a peer.
    pub(crate) fn queued(&self) -> usize {
        self.tasks.values().filter(|task| task.queued).count()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use kvdb::{MemoryStore, Namespace, WriteBatch};
    use trie_sync::{build_trie, NodeHash};

    fn scheduler_with_children() -> (TrieSync<MemoryStore>, Vec<(NodeHash, Vec<u8>)>) {
        let pairs: Vec<(Vec<u8>, Vec<u8>)> =
            (0u8..40).map(|i| (vec![i; 32], vec![i.wrapping_add(1); 40])).collect();
        let (root, nodes) = build_trie(pairs.iter().map(|(k, v)| (k, v))).unwrap();
        (TrieSync::new(root, MemoryStore::new()).unwrap(), nodes)
    }

    #[test]
    fn a_failed_peer_is_not_asked_again_unless_allowed() {
        let (mut scheduler, _) = scheduler_with_children();
        let mut tasks = Tasks::default();
        let (a, b) = (PeerId::new("a"), PeerId::new("b"));
        let root = tasks.fill(&a, 4, &mut scheduler);
        assert_eq!(root.len(), 1);
        assert!(tasks.retry(root[0], &a, false));
        assert!(
            tasks.fill(&a, 4, &mut scheduler).is_empty(),
            "a failed it and the scheduler has nothing else"
        );
        assert_eq!(tasks.failed_with_all(std::slice::from_ref(&a)), Some((root[0], 1)));
        assert!(tasks.failed_with_all(&[a.clone(), b.clone()]).is_none());
        assert_eq!(tasks.fill(&b, 4, &mut scheduler), root);
        assert!(tasks.retry(root[0], &b, true));
        assert_eq!(tasks.fill(&b, 4, &mut scheduler), root, "b timed out: it may be asked again");
        tasks.complete(&root[0]);
        assert!(!tasks.retry(root[0], &b, true), "processed meanwhile: not requeued");
        assert!(tasks.hedge(&a, &root, 4).is_empty(), "processed: nothing to hedge");
        assert_eq!(tasks.queued(), 0);
        let mut batch = WriteBatch::new();
        scheduler.commit(&mut batch);
        assert!(batch
            .ops()
            .iter()
            .all(|op| !matches!(op, kvdb::BatchOp::Put { namespace: Namespace::Meta, .. })));
    }
}

#[cfg(test)]
mod hedge_tests {
    use super::*;
    use kvdb::MemoryStore;
    use trie_sync::build_trie;

    #[test]
    fn a_hedge_takes_only_in_flight_hashes_the_peer_has_not_tried() {
        let pairs: Vec<(Vec<u8>, Vec<u8>)> = (0u8..40).map(|i| (vec![i; 32], vec![i; 40])).collect();
        let (root, _) = build_trie(pairs.iter().map(|(k, v)| (k, v))).unwrap();
        let mut scheduler = TrieSync::new(root, MemoryStore::new()).unwrap();
        let mut tasks = Tasks::default();
        let (slow, idle) = (PeerId::new("slow"), PeerId::new("idle"));
        let asked = tasks.fill(&slow, 4, &mut scheduler);
        assert_eq!(asked, vec![root]);
        assert!(tasks.hedge(&slow, &asked, 4).is_empty(), "never hedged against itself");
        assert_eq!(tasks.hedge(&idle, &asked, 4), asked);
        assert!(tasks.hedge(&idle, &asked, 4).is_empty(), "already asked of it");
        // The hedge failed: the hash goes back to the queue, and a queued hash is not hedged.
        assert!(tasks.retry(root, &idle, false));
        assert!(tasks.hedge(&PeerId::new("third"), &asked, 4).is_empty());
        assert_eq!(tasks.queued(), 1);
    }
}
