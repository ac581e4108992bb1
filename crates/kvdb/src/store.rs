//! The storage trait.

use std::sync::Arc;

use crate::{Namespace, Result, WriteBatch};

/// What state sync needs from a database: point reads and atomic write batches over [`Namespace`]s.
///
/// Implementations are `Send + Sync` and are shared through `Arc`; reads may run concurrently with a
/// write, and see either all of a batch or none of it.
pub trait KeyValueStore: Send + Sync {
    /// The value stored under `key` in `namespace`, if any.
    fn get(&self, namespace: Namespace, key: &[u8]) -> Result<Option<Vec<u8>>>;

    /// Whether `key` is present in `namespace`.
    ///
    /// Backends override this when they can answer without copying the value out.
    fn contains(&self, namespace: Namespace, key: &[u8]) -> Result<bool> {
        Ok(self.get(namespace, key)?.is_some())
    }

    /// Applies every operation of `batch`, atomically: after a crash either all of it is visible or
    /// none of it is.
    fn write(&self, batch: WriteBatch) -> Result<()>;

    /// Applies `batch` as [`write`](Self::write) does, and tells whether it is durable once this
    /// returns (under [`Durability::Periodic`](crate::Durability::Periodic) only every n-th batch
    /// is). A durable batch makes every earlier one durable too, since the batches that survive a
    /// crash are a prefix of those written; so a caller that reports what is durable (a sync's
    /// progress record) learns it here instead of guessing the store's cadence.
    ///
    /// The default writes and answers `false`, "not known to be durable": it never claims too much,
    /// which is right for stores that are never durable and for wrappers that do not pass it on.
    fn write_reporting_durability(&self, batch: WriteBatch) -> Result<bool> {
        self.write(batch)?;
        Ok(false)
    }

    /// Calls `visit` with every entry of `namespace`, in ascending key order.
    ///
    /// Meant for verification, tests and tools, not for the sync hot path: it reads the whole namespace.
    fn for_each(&self, namespace: Namespace, visit: &mut dyn FnMut(&[u8], &[u8])) -> Result<()>;

    /// Makes every write so far durable, whatever the durability setting of the store.
    ///
    /// Stores that are always durable (or never, such as the in-memory one) do nothing.
    fn flush(&self) -> Result<()> {
        Ok(())
    }

    /// Brings the store's files into their settled form after a bulk load, e.g. at the end of a sync:
    /// the fjall backend moves its memtables into tables, so its journals can be deleted. Everything
    /// written so far is durable afterwards. Stores with nothing to settle do what
    /// [`KeyValueStore::flush`] does.
    fn compact(&self) -> Result<()> {
        self.flush()
    }

    /// Number of entries in `namespace` (walks it; see [`KeyValueStore::for_each`]).
    fn count(&self, namespace: Namespace) -> Result<u64> {
        let mut count = 0u64;
        self.for_each(namespace, &mut |_, _| count += 1)?;
        Ok(count)
    }
}

impl<S: KeyValueStore + ?Sized> KeyValueStore for Arc<S> {
    fn get(&self, namespace: Namespace, key: &[u8]) -> Result<Option<Vec<u8>>> {
        (**self).get(namespace, key)
    }
    fn contains(&self, namespace: Namespace, key: &[u8]) -> Result<bool> {
        (**self).contains(namespace, key)
    }
    fn write(&self, batch: WriteBatch) -> Result<()> {
        (**self).write(batch)
    }
    fn write_reporting_durability(&self, batch: WriteBatch) -> Result<bool> {
        (**self).write_reporting_durability(batch)
    }
    fn for_each(&self, namespace: Namespace, visit: &mut dyn FnMut(&[u8], &[u8])) -> Result<()> {
        (**self).for_each(namespace, visit)
    }
    fn flush(&self) -> Result<()> {
        (**self).flush()
    }
    fn compact(&self) -> Result<()> {
        (**self).compact()
    }
    fn count(&self, namespace: Namespace) -> Result<u64> {
        (**self).count(namespace)
    }
}

impl<S: KeyValueStore + ?Sized> KeyValueStore for &S {
    fn get(&self, namespace: Namespace, key: &[u8]) -> Result<Option<Vec<u8>>> {
        (**self).get(namespace, key)
    }
    fn contains(&self, namespace: Namespace, key: &[u8]) -> Result<bool> {
        (**self).contains(namespace, key)
    }
    fn write(&self, batch: WriteBatch) -> Result<()> {
        (**self).write(batch)
    }
    fn write_reporting_durability(&self, batch: WriteBatch) -> Result<bool> {
        (**self).write_reporting_durability(batch)
    }
    fn for_each(&self, namespace: Namespace, visit: &mut dyn FnMut(&[u8], &[u8])) -> Result<()> {
        (**self).for_each(namespace, visit)
    }
    fn flush(&self) -> Result<()> {
        (**self).flush()
    }
    fn compact(&self) -> Result<()> {
        (**self).compact()
    }
    fn count(&self, namespace: Namespace) -> Result<u64> {
        (**self).count(namespace)
    }
}
