//! The in-memory backend.

use std::hash::BuildHasher;
use std::sync::RwLock;

use crate::{BatchOp, Error, KeyValueStore, Namespace, Result, WriteBatch};

/// A hash table (foldhash: fast, seeded per store), not a B-tree: sync does point lookups of random
/// 32-byte keys, where a B-tree pays a pointer chase per key comparison; only
/// [`KeyValueStore::for_each`] needs order, and sorts.
///
/// Each entry keeps its key's hash, so a growing table moves entries without reading their keys: with
/// the key behind a pointer, every entry moved was a cache miss (rehashing was 7 % of trie-sync's
/// scheduler bench; the hash costs no memory, the entry stays at 48 bytes).
type Table = hashbrown::HashTable<Entry>;

/// One stored key and value, with the hash of the key.
#[derive(Debug)]
struct Entry {
    hash: u64,
    key: Box<[u8]>,
    value: Vec<u8>,
}

/// Tables per namespace. A namespace is split by the first byte of the key (the keys of trie nodes and
/// code are hashes, so this spreads them evenly): growing to a million entries then rehashes many
/// small tables, each small enough to stay in cache while it is rebuilt, instead of one table of
/// tens of MiB whose every move is a cache miss. In trie-sync's scheduler bench (1M entries) this
/// took the sync from 503K to 573K entries/s; 64 shards gave 564K, 4096 gave 519K.
const SHARDS: usize = 256;

/// One namespace's tables.
#[derive(Debug)]
struct Shards(Box<[Table]>);

impl Default for Shards {
    fn default() -> Self {
        Self((0..SHARDS).map(|_| Table::new()).collect())
    }
}

impl Entry {
    /// Whether this is the entry of `key`, whose hash is `hash` (compared first: a different hash
    /// settles it without reading the key).
    fn is(&self, hash: u64, key: &[u8]) -> bool {
        self.hash == hash && *self.key == *key
    }
}

impl Shards {
    fn find(&self, hash: u64, key: &[u8]) -> Option<&Entry> {
        self.0[shard(key)].find(hash, |entry| entry.is(hash, key))
    }

    fn insert(&mut self, hash: u64, key: Vec<u8>, value: Vec<u8>) {
        let table = &mut self.0[shard(&key)];
        match table.entry(hash, |entry| entry.is(hash, &key), |entry| entry.hash) {
            hashbrown::hash_table::Entry::Occupied(mut occupied) => occupied.get_mut().value = value,
            hashbrown::hash_table::Entry::Vacant(vacant) => {
                vacant.insert(Entry { hash, key: key.into_boxed_slice(), value });
            }
        }
    }

    fn remove(&mut self, hash: u64, key: &[u8]) {
        let table = &mut self.0[shard(key)];
        if let Ok(occupied) = table.find_entry(hash, |entry| entry.is(hash, key)) {
            occupied.remove();
        }
    }
}

/// The shard of `key`: its first byte (0 for the empty key).
fn shard(key: &[u8]) -> usize {
    key.first().map_or(0, |&byte| usize::from(byte))
}

/// A store that lives in memory only: for tests, benches and throwaway syncs.
///
/// A batch is applied under one write lock, so readers see all of it or none of it.
#[derive(Debug, Default)]
pub struct MemoryStore {
    tables: RwLock<[Shards; Namespace::ALL.len()]>,
    hasher: foldhash::fast::RandomState,
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    fn hash(&self, key: &[u8]) -> u64 {
        self.hasher.hash_one(key)
    }

    fn read(&self) -> Result<std::sync::RwLockReadGuard<'_, [Shards; Namespace::ALL.len()]>> {
        self.tables.read().map_err(|_| Error::Poisoned)
    }
}

impl KeyValueStore for MemoryStore {
    fn get(&self, namespace: Namespace, key: &[u8]) -> Result<Option<Vec<u8>>> {
        let hash = self.hash(key);
        Ok(self.read()?[namespace.index()].find(hash, key).map(|entry| entry.value.clone()))
    }

    fn contains(&self, namespace: Namespace, key: &[u8]) -> Result<bool> {
        let hash = self.hash(key);
        Ok(self.read()?[namespace.index()].find(hash, key).is_some())
    }

    fn write(&self, batch: WriteBatch) -> Result<()> {
        batch.check_limits()?;
        let mut tables = self.tables.write().map_err(|_| Error::Poisoned)?;
        for op in batch.into_ops() {
            match op {
                BatchOp::Put { namespace, key, value } => {
                    tables[namespace.index()].insert(self.hash(&key), key, value);
                }
                BatchOp::Delete { namespace, key } => {
                    tables[namespace.index()].remove(self.hash(&key), &key);
                }
            }
        }
        Ok(())
    }

    fn for_each(&self, namespace: Namespace, visit: &mut dyn FnMut(&[u8], &[u8])) -> Result<()> {
        let tables = self.read()?;
        let mut entries: Vec<&Entry> = tables[namespace.index()].0.iter().flatten().collect();
        entries.sort_unstable_by(|a, b| a.key.cmp(&b.key));
        for entry in entries {
            visit(&entry.key, &entry.value);
        }
        Ok(())
    }

    fn count(&self, namespace: Namespace) -> Result<u64> {
        Ok(self.read()?[namespace.index()].0.iter().map(|table| table.len() as u64).sum())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Keys of every shard and of several lengths, one of them a prefix of another: each is found in
    /// its shard, deleted from it, counted once, and visited in key order across shards.
    #[test]
    fn keys_across_shards_and_lengths() -> Result<()> {
        let store = MemoryStore::new();
        let mut keys: Vec<Vec<u8>> = (0..=255u8).rev().map(|byte| vec![byte, 7]).collect();
        keys.extend([vec![7], vec![7, 7, 7], vec![255; 64]]);
        let mut batch = WriteBatch::new();
        for key in &keys {
            batch.put(Namespace::Code, key.clone(), key.clone());
        }
        store.write(batch)?;
        assert_eq!(store.count(Namespace::Code)?, keys.len() as u64);
        for key in &keys {
            assert_eq!(store.get(Namespace::Code, key)?.as_ref(), Some(key));
        }
        assert!(store.contains(Namespace::Code, &[7, 7])?, "the key [7, 7] is in the shard of 7");
        assert!(!store.contains(Namespace::TrieNodes, &[7])?);
        let mut visited = Vec::new();
        store.for_each(Namespace::Code, &mut |key, _| visited.push(key.to_vec()))?;
        keys.sort();
        assert_eq!(visited, keys);

        let mut batch = WriteBatch::new();
        batch.delete(Namespace::Code, vec![7]);
        batch.delete(Namespace::Code, vec![0, 7]);
        store.write(batch)?;
        assert!(!store.contains(Namespace::Code, &[7])?);
        assert!(!store.contains(Namespace::Code, &[0, 7])?);
        assert!(store.contains(Namespace::Code, &[7, 7, 7])?);
        assert_eq!(store.count(Namespace::Code)?, keys.len() as u64 - 2);
        Ok(())
    }
}
