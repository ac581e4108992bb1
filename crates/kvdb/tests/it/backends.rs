//! The backends the generic suite runs against, each able to open a store in a test directory.

use std::path::Path;

use kvdb::{KeyValueStore, MemoryStore};

/// A way to open a store in `dir`; for the on-disk backends, opening the same `dir` again finds what
/// was written before.
pub(crate) trait Backend {
    /// The store type.
    type Store: KeyValueStore + 'static;
    /// Opens (or creates) the store kept in `dir`.
    fn open(dir: &Path) -> kvdb::Result<Self::Store>;
}

pub(crate) struct Memory;

impl Backend for Memory {
    type Store = MemoryStore;
    fn open(_dir: &Path) -> kvdb::Result<MemoryStore> {
        Ok(MemoryStore::new())
    }
}

#[cfg(feature = "redb")]
pub(crate) use self::redb_backends::*;

#[cfg(feature = "redb")]
mod redb_backends {
    use super::*;
    use kvdb::{Durability, RedbOptions, RedbStore};

    /// redb with a durable commit per batch.
    pub(crate) struct RedbImmediate;

    impl Backend for RedbImmediate {
        type Store = RedbStore;
        fn open(dir: &Path) -> kvdb::Result<RedbStore> {
            RedbStore::open(dir.join("db.redb"), RedbOptions::new().durability(Durability::Immediate))
        }
    }

    /// redb with the options that change how it commits and opens: quick repair (two-phase commits
    /// that save the allocator state) and a checksum check of the whole file on every open.
    pub(crate) struct RedbQuickRepair;

    impl Backend for RedbQuickRepair {
        type Store = RedbStore;
        fn open(dir: &Path) -> kvdb::Result<RedbStore> {
            let options = RedbOptions::new().quick_repair(true).check_integrity_on_open(true);
            RedbStore::open(dir.join("db.redb"), options)
        }
    }

    /// redb with a durable commit every 4 batches, and a small cache to exercise eviction.
    pub(crate) struct RedbPeriodic;

    impl Backend for RedbPeriodic {
        type Store = RedbStore;
        fn open(dir: &Path) -> kvdb::Result<RedbStore> {
            let options = RedbOptions::new().durability(Durability::periodic(4)).cache_size(1 << 20);
            RedbStore::open(dir.join("db.redb"), options)
        }
    }
}

#[cfg(feature = "fjall")]
pub(crate) use self::fjall_backends::*;

#[cfg(feature = "fjall")]
mod fjall_backends {
    use super::*;
    use kvdb::{Durability, FjallOptions, FjallStore};

    /// fjall with a synced journal per batch.
    pub(crate) struct FjallImmediate;

    impl Backend for FjallImmediate {
        type Store = FjallStore;
        fn open(dir: &Path) -> kvdb::Result<FjallStore> {
            FjallStore::open(dir.join("db"), FjallOptions::new().durability(Durability::Immediate))
        }
    }

    /// fjall with a synced journal every 4 batches.
    pub(crate) struct FjallPeriodic;

    impl Backend for FjallPeriodic {
        type Store = FjallStore;
        fn open(dir: &Path) -> kvdb::Result<FjallStore> {
            FjallStore::open(dir.join("db"), FjallOptions::new().durability(Durability::periodic(4)))
        }
    }
}
