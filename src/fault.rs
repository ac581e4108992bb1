//! A store that lies: behind a real [`NodeDataServer`](peers::NodeDataServer) it makes a faulty peer,
//! for the demo and for tests of how sync copes (`serve --fault`, hidden from help).

use std::time::Duration;

use kvdb::{KeyValueStore, Namespace, WriteBatch};

/// How a faulty server's store misbehaves on reads. Writes pass through.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum StoreFault {
    /// Every blob read has one byte flipped: it hashes to nothing requested ("unexpected" data).
    Corrupt,
    /// Every other hash (by its last bit) reads as absent: partial answers.
    Partial,
    /// Nothing is found: empty answers.
    Empty,
    /// Every read takes 50 ms: a slow peer, answering late or timing out on large requests.
    Slow,
}

/// Time a [`StoreFault::Slow`] read takes.
const SLOW_READ: Duration = Duration::from_millis(50);

/// A [`KeyValueStore`] whose reads misbehave as its [`StoreFault`] says.
#[derive(Debug)]
pub struct FaultyStore<S> {
    inner: S,
    fault: StoreFault,
}

impl<S: KeyValueStore> FaultyStore<S> {
    /// Wraps `inner`, misbehaving with `fault`.
    pub fn new(inner: S, fault: StoreFault) -> Self {
        Self { inner, fault }
    }
}

impl<S: KeyValueStore> KeyValueStore for FaultyStore<S> {
    fn get(&self, namespace: Namespace, key: &[u8]) -> kvdb::Result<Option<Vec<u8>>> {
        match self.fault {
            StoreFault::Corrupt => Ok(self.inner.get(namespace, key)?.map(|mut blob| {
                if let Some(first) = blob.first_mut() {
                    *first ^= 0x80;
                }
                blob
            })),
            StoreFault::Partial if key.last().is_some_and(|b| b & 1 == 1) => Ok(None),
            StoreFault::Partial => self.inner.get(namespace, key),
            StoreFault::Empty => Ok(None),
            StoreFault::Slow => {
                std::thread::sleep(SLOW_READ);
                self.inner.get(namespace, key)
            }
        }
    }

    fn contains(&self, namespace: Namespace, key: &[u8]) -> kvdb::Result<bool> {
        Ok(self.get(namespace, key)?.is_some())
    }

    fn write(&self, batch: WriteBatch) -> kvdb::Result<()> {
        self.inner.write(batch)
    }

    fn write_reporting_durability(&self, batch: WriteBatch) -> kvdb::Result<bool> {
        self.inner.write_reporting_durability(batch)
    }

    fn for_each(&self, namespace: Namespace, visit: &mut dyn FnMut(&[u8], &[u8])) -> kvdb::Result<()> {
        self.inner.for_each(namespace, visit)
    }

    fn flush(&self) -> kvdb::Result<()> {
        self.inner.flush()
    }
}
