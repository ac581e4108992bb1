//! Sync progress persisted in the store, so a restart can report where it left off.

use kvdb::{KeyValueStore, Namespace, WriteBatch};
use trie_sync::NodeHash;

/// Key of the checkpoint in [`Namespace::Meta`].
pub const CHECKPOINT_KEY: &[u8] = b"state-sync/checkpoint";

/// Key in [`Namespace::Meta`] of what the progress gauge learnt of the tries' shape
/// ([`TrieSync::progress_snapshot`](trie_sync::TrieSync::progress_snapshot)), written with each
/// checkpoint: a resumed sync of the same root starts its gauge from it.
pub const PROGRESS_SHAPE_KEY: &[u8] = b"state-sync/progress-shape";

/// Version byte first in the encoding, so a later layout can be told apart (and an unknown one
/// ignored rather than misread). Version 1 had no estimated total.
const VERSION: u8 = 2;

/// Encoded length: version, root, four counters, the completion flag, the estimated total.
const ENCODED_LEN: usize = 1 + 32 + 4 * 8 + 1 + 8;

/// Encoded length of version 1 (still read).
const ENCODED_LEN_V1: usize = 1 + 32 + 4 * 8 + 1;

/// What the syncs into a store have done so far, written in the same atomic batch as the entries it
/// counts (so it never claims more than is stored).
///
/// Counters add up over every sync into the store (restarts and pivot moves alike).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Checkpoint {
    /// Root of the sync that wrote it last.
    pub root: NodeHash,
    /// Entries verified and handed to the scheduler (go-ethereum's persisted "processed" count; an
    /// entry processed but lost with an uncommitted batch counts again when fetched again).
    pub processed: u64,
    /// Trie nodes committed.
    pub nodes: u64,
    /// Code blobs committed.
    pub codes: u64,
    /// Bytes of the entries committed.
    pub bytes: u64,
    /// Whether the sync of `root` completed.
    pub complete: bool,
    /// The entries the state was estimated to hold in all, when this was written (from the progress
    /// gauge; 0 if unknown): a resumed sync's gauge does not claim more than its entries over it
    /// before it has seen enough of the trie again.
    pub estimated_total: u64,
}

impl Checkpoint {
    /// The checkpoint in `store`, if a sync has written one (an unknown layout reads as none).
    pub fn read(store: &dyn KeyValueStore) -> kvdb::Result<Option<Checkpoint>> {
        Ok(store.get(Namespace::Meta, CHECKPOINT_KEY)?.as_deref().and_then(Self::decode))
    }

    /// Adds the checkpoint to `batch`.
    pub fn put(&self, batch: &mut WriteBatch) {
        batch.put(Namespace::Meta, CHECKPOINT_KEY.to_vec(), self.encode());
    }

    /// Entries committed in all.
    pub fn entries(&self) -> u64 {
        self.nodes + self.codes
    }

    fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(ENCODED_LEN);
        out.push(VERSION);
        out.extend_from_slice(self.root.as_bytes());
        for counter in [self.processed, self.nodes, self.codes, self.bytes] {
            out.extend_from_slice(&counter.to_be_bytes());
        }
        out.push(u8::from(self.complete));
        out.extend_from_slice(&self.estimated_total.to_be_bytes());
        out
    }

    fn decode(bytes: &[u8]) -> Option<Checkpoint> {
        let estimated_total = match (bytes.len(), bytes.first()) {
            (ENCODED_LEN, Some(&VERSION)) => {
                u64::from_be_bytes(bytes[ENCODED_LEN - 8..].try_into().expect("8 bytes"))
            }
            (ENCODED_LEN_V1, Some(1)) => 0,
            _ => return None,
        };
        let counter = |index: usize| {
            let start = 33 + 8 * index;
            u64::from_be_bytes(bytes[start..start + 8].try_into().expect("8 bytes"))
        };
        Some(Checkpoint {
            root: NodeHash::from_slice(&bytes[1..33]),
            processed: counter(0),
            nodes: counter(1),
            codes: counter(2),
            bytes: counter(3),
            complete: bytes[ENCODED_LEN_V1 - 1] == 1,
            estimated_total,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use kvdb::MemoryStore;

    #[test]
    fn round_trips_through_a_store() {
        let store = MemoryStore::new();
        assert_eq!(Checkpoint::read(&store).unwrap(), None);
        let checkpoint = Checkpoint {
            root: NodeHash::repeat_byte(3),
            processed: 10,
            nodes: 7,
            codes: 2,
            bytes: 999,
            complete: true,
            estimated_total: 12,
        };
        let mut batch = WriteBatch::new();
        checkpoint.put(&mut batch);
        store.write(batch).unwrap();
        assert_eq!(Checkpoint::read(&store).unwrap(), Some(checkpoint));
        assert_eq!(checkpoint.entries(), 9);
    }

    #[test]
    fn unknown_layouts_read_as_none() {
        assert_eq!(Checkpoint::decode(&[3; ENCODED_LEN]), None);
        assert_eq!(Checkpoint::decode(&[VERSION; 5]), None);
        assert_eq!(Checkpoint::decode(&[1; ENCODED_LEN]), None, "version 1 is shorter");
    }

    #[test]
    fn version_1_reads_with_no_estimated_total() {
        let mut v1 = vec![1u8];
        v1.extend_from_slice(NodeHash::repeat_byte(4).as_bytes());
        for counter in [5u64, 3, 1, 100] {
            v1.extend_from_slice(&counter.to_be_bytes());
        }
        v1.push(0);
        let read = Checkpoint::decode(&v1).expect("version 1");
        assert_eq!((read.processed, read.nodes, read.codes, read.bytes), (5, 3, 1, 100));
        assert!(!read.complete);
        assert_eq!(read.estimated_total, 0);
    }
}
