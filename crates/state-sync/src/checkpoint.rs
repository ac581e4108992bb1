//! Sync progress persisted in the store, so a restart can report where it left off.

use kvdb::{KeyValueStore, Namespace, WriteBatch};
use trie_sync::NodeHash;

/// Key of the checkpoint in [`Namespace::Meta`].
pub const CHECKPOINT_KEY: &[u8] = b"state-sync/checkpoint";

/// Version byte first in the encoding, so a later layout can be told apart (and an unknown one
/// ignored rather than misread).
const VERSION: u8 = 1;

/// Encoded length: version, root, four counters, the completion flag.
const ENCODED_LEN: usize = 1 + 32 + 4 * 8 + 1;

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
}

impl Checkpoint {
    /// The checkpoint in `store`, if a sync has written one (an unknown layout reads as none).
    pub fn read(store: &dyn KeyValueStore) -> kvdb::Result<Option<Checkpoint>> {
        Ok(store.get(Namespace::Meta, CHECKPOINT_KEY)?.as_deref().and_then(Self::decode))
    }

    /// Adds the checkpoint to `batch`.
    pub(crate) fn put(&self, batch: &mut WriteBatch) {
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
        out
    }

    fn decode(bytes: &[u8]) -> Option<Checkpoint> {
        if bytes.len() != ENCODED_LEN || bytes[0] != VERSION {
            return None;
        }
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
            complete: bytes[ENCODED_LEN - 1] == 1,
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
        };
        let mut batch = WriteBatch::new();
        checkpoint.put(&mut batch);
        store.write(batch).unwrap();
        assert_eq!(Checkpoint::read(&store).unwrap(), Some(checkpoint));
        assert_eq!(checkpoint.entries(), 9);
    }

    #[test]
    fn unknown_layouts_read_as_none() {
        assert_eq!(Checkpoint::decode(&[2; ENCODED_LEN]), None);
        assert_eq!(Checkpoint::decode(&[VERSION; 5]), None);
    }
}
