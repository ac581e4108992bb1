//! The in-memory backend.

use std::sync::RwLock;

use crate::{BatchOp, Error, KeyValueStore, Namespace, Result, WriteBatch};

/// A hash map (foldhash: fast, seeded per map), not a B-tree: sync does point lookups of random 32-byte keys, where a B-tree pays a
/// pointer chase per key comparison; only [`KeyValueStore::for_each`] needs order, and sorts.
type Table = foldhash::HashMap<Vec<u8>, Vec<u8>>;

/// A store that lives in memory only: for tests, benches and throwaway syncs.
///
/// A batch is applied under one write lock, so readers see all of it or none of it.
#[derive(Debug, Default)]
pub struct MemoryStore {
    tables: RwLock<[Table; Namespace::ALL.len()]>,
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    fn read(&self) -> Result<std::sync::RwLockReadGuard<'_, [Table; Namespace::ALL.len()]>> {
        self.tables.read().map_err(|_| Error::Poisoned)
    }
}

impl KeyValueStore for MemoryStore {
    fn get(&self, namespace: Namespace, key: &[u8]) -> Result<Option<Vec<u8>>> {
        Ok(self.read()?[namespace.index()].get(key).cloned())
    }

    fn contains(&self, namespace: Namespace, key: &[u8]) -> Result<bool> {
        Ok(self.read()?[namespace.index()].contains_key(key))
    }

    fn write(&self, batch: WriteBatch) -> Result<()> {
        batch.check_limits()?;
        let mut tables = self.tables.write().map_err(|_| Error::Poisoned)?;
        for op in batch.into_ops() {
            match op {
                BatchOp::Put { namespace, key, value } => {
                    tables[namespace.index()].insert(key, value);
                }
                BatchOp::Delete { namespace, key } => {
                    tables[namespace.index()].remove(&key);
                }
            }
        }
        Ok(())
    }

    fn for_each(&self, namespace: Namespace, visit: &mut dyn FnMut(&[u8], &[u8])) -> Result<()> {
        let tables = self.read()?;
        let mut entries: Vec<(&Vec<u8>, &Vec<u8>)> = tables[namespace.index()].iter().collect();
        entries.sort_unstable_by(|a, b| a.0.cmp(b.0));
        for (key, value) in entries {
            visit(key, value);
        }
        Ok(())
    }

    fn count(&self, namespace: Namespace) -> Result<u64> {
        Ok(self.read()?[namespace.index()].len() as u64)
    }
}
