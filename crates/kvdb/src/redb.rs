//! The redb backend: one durable file, the embedded default.

use std::fmt;
use std::io::ErrorKind;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::RwLock;

use ::redb::{ReadableDatabase, ReadableTable, ReadableTableMetadata, TableDefinition};
use tracing::debug;

use crate::operation::Operation;
use crate::{BatchOp, Durability, Error, KeyValueStore, Namespace, Result, WriteBatch};

const BACKEND: &str = "redb";

/// The table holding `namespace`: one per namespace, named after [`Namespace::name`].
const fn table(namespace: Namespace) -> TableDefinition<'static, &'static [u8], &'static [u8]> {
    TableDefinition::new(namespace.name())
}

/// How a [`RedbStore`] is opened. Build it with [`RedbOptions::new`] and the setters.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RedbOptions {
    /// When batches reach the disk; see [`RedbStore`] for what a crash loses under each setting.
    durability: Durability,
    /// Bytes of memory redb may use to cache pages; `None` keeps redb's default (1 GiB).
    cache_size_bytes: Option<usize>,
    /// Trade a slower commit for a near-instant reopen after a crash (see [`RedbOptions::quick_repair`]).
    quick_repair: bool,
    /// Verify every page checksum on open (see [`RedbOptions::check_integrity_on_open`]).
    check_integrity_on_open: bool,
}

impl RedbOptions {
    /// The defaults: [`Durability::Immediate`], redb's default cache, no quick repair, no integrity
    /// check on open.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets when batches become durable.
    pub fn durability(mut self, durability: Durability) -> Self {
        self.durability = durability;
        self
    }

    /// Sets how many bytes of pages redb caches in memory (redb's default: 1 GiB).
    pub fn cache_size(mut self, bytes: usize) -> Self {
        self.cache_size_bytes = Some(bytes);
        self
    }

    /// With `true`, each durable commit also saves the allocator state (and commits in two phases),
    /// so reopening after a crash is almost instant instead of a walk over the whole file. Worth it
    /// for large databases; it makes each durable commit slower.
    pub fn quick_repair(mut self, enabled: bool) -> Self {
        self.quick_repair = enabled;
        self
    }

    /// With `true`, opening verifies the checksum of every page, so a file damaged outside redb is
    /// reported as [`Error::Corrupted`] instead of being trusted (redb documents that opening a file
    /// damaged that way without the check may panic). It reads the whole file on every open. It does
    /// not apply to [`RedbStore::open_read_only`]: redb's check writes.
    pub fn check_integrity_on_open(mut self, enabled: bool) -> Self {
        self.check_integrity_on_open = enabled;
        self
    }
}

/// A [`KeyValueStore`] in one [redb](https://docs.rs/redb) file, one table per [`Namespace`].
///
/// A batch is one redb write transaction. redb writes copy-on-write pages and switches to the new
/// tree by flipping a checksummed commit slot, so a batch is all-or-nothing after any crash, and
/// readers (each `get` is its own read transaction) see all of a batch or none of it.
///
/// What a crash can lose:
/// - [`Durability::Immediate`]: nothing acknowledged. Each batch is committed with
///   `redb::Durability::Immediate`, i.e. fsynced before [`KeyValueStore::write`] returns.
/// - [`Durability::Periodic`]: the batches in between are committed with `redb::Durability::None`:
///   visible to readers at once but held in this process until the next durable commit. A crash of
///   the process or of the machine loses every batch since the last durable one (fewer than `every`
///   batches, or the batches since the last [`KeyValueStore::flush`]); batches up to the last durable
///   one survive. redb cannot reuse freed pages until a durable commit, so the file grows a little
///   faster between them.
///
/// Dropping the store closes the file cleanly, which makes pending non-durable batches durable;
/// call [`KeyValueStore::flush`] to get an error instead of redb's best effort.
///
/// A writable handle has the file to itself (redb locks the whole file): a second open, in this
/// process or another, fails with [`Error::Locked`]. Any number of handles opened with
/// [`RedbStore::open_read_only`], in this process or others, may share the file instead (a shared
/// lock); they and a writable handle exclude each other, whichever comes second getting
/// [`Error::Locked`].
#[derive(Debug)]
pub struct RedbStore {
    /// Behind a lock only for [`KeyValueStore::compact`], which needs redb's handle to itself; every
    /// other operation shares it.
    db: RwLock<Handle>,
    /// Where the file lives, for error messages.
    path: PathBuf,
    durability: Durability,
    /// Batches written since open, numbering them for [`Durability::Periodic`].
    batches: AtomicU64,
    quick_repair: bool,
}

/// A redb builder with `options`' cache size, for a `path` that is not a directory.
fn builder(path: &Path, options: &RedbOptions) -> Result<redb::Builder> {
    if path.is_dir() {
        return Err(Error::NotADatabase { path: path.to_path_buf(), backend: BACKEND });
    }
    let mut builder = redb::Database::builder();
    if let Some(bytes) = options.cache_size_bytes {
        builder.set_cache_size(bytes);
    }
    Ok(builder)
}

impl RedbStore {
    /// Opens the database file at `path`, creating it (and its tables) if it does not exist or is
    /// empty.
    ///
    /// Errors: [`Error::NotADatabase`] if `path` is a directory or a file that is not a redb database;
    /// [`Error::Locked`] if it is already open; [`Error::ReadOnly`] if it cannot be created or opened
    /// for writing; [`Error::Corrupted`] if redb finds damage it cannot repair.
    pub fn open(path: impl AsRef<Path>, options: RedbOptions) -> Result<Self> {
        let path = path.as_ref().to_path_buf();
        let mut builder = builder(&path, &options)?;
        builder.set_check_integrity_on_open(options.check_integrity_on_open);
        let db = builder.create(&path).map_err(|err| map_error(&path, Operation::Open, err))?;
        let store = Self {
            db: RwLock::new(Handle::Writable(db)),
            path,
            durability: options.durability,
            batches: AtomicU64::new(0),
            quick_repair: options.quick_repair,
        };
        store.create_tables()?;
        debug!(target: "kvdb::redb", path = %store.path.display(), durability = ?store.durability, "opened");
        Ok(store)
    }

    /// Opens the existing database file at `path` for reading only, sharing it with any other
    /// read-only handles (in this process or others) while keeping writers out.
    ///
    /// Nothing is created or changed on disk: [`KeyValueStore::write`] and [`KeyValueStore::flush`]
    /// fail with [`Error::ReadOnlyStore`]. Of `options`, only the cache size applies; durability and
    /// quick repair concern writes, and redb cannot run the integrity check of
    /// [`RedbOptions::check_integrity_on_open`] without writing, so a read-only open skips it.
    ///
    /// Errors: [`Error::Io`] (kind `NotFound`) if there is no file at `path`; [`Error::NotADatabase`]
    /// if `path` is a directory or a file that is not a redb database; [`Error::Locked`] if a writable
    /// handle has it open; [`Error::NeedsRepair`] if it was not closed cleanly (its last writer
    /// crashed), since the repair would write.
    pub fn open_read_only(path: impl AsRef<Path>, options: RedbOptions) -> Result<Self> {
        let path = path.as_ref().to_path_buf();
        let db = builder(&path, &options)?.open_read_only(&path).map_err(|err| match err {
            redb::DatabaseError::RepairAborted => Error::NeedsRepair { path: path.clone() },
            err => map_error(&path, Operation::Open, err),
        })?;
        debug!(target: "kvdb::redb", path = %path.display(), "opened read-only");
        Ok(Self {
            db: RwLock::new(Handle::ReadOnly(db)),
            path,
            durability: options.durability,
            batches: AtomicU64::new(0),
            quick_repair: options.quick_repair,
        })
    }

    /// Whether the store was opened with [`RedbStore::open_read_only`].
    fn is_read_only(&self) -> bool {
        matches!(*self.handle(), Handle::ReadOnly(_))
    }

    /// The redb handle, shared (a poisoned lock only means a panic elsewhere; the handle is intact).
    fn handle(&self) -> std::sync::RwLockReadGuard<'_, Handle> {
        self.db.read().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Where the database file lives.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The durability setting the store was opened with.
    pub fn durability(&self) -> Durability {
        self.durability
    }

    /// Creates the table of every namespace, durably, so readers never meet a missing table.
    fn create_tables(&self) -> Result<()> {
        let txn = self.begin_write(true)?;
        for namespace in Namespace::ALL {
            txn.open_table(table(namespace)).map_err(|err| self.error(Operation::Open, err))?;
        }
        txn.commit().map_err(|err| self.error(Operation::Open, err))
    }

    fn begin_write(&self, durable: bool) -> Result<redb::WriteTransaction> {
        let handle = self.handle();
        let Handle::Writable(db) = &*handle else {
            return Err(Error::ReadOnlyStore { path: self.path.clone() });
        };
        let mut txn = db.begin_write().map_err(|err| self.error(Operation::Write, err))?;
        let durability = if durable { redb::Durability::Immediate } else { redb::Durability::None };
        txn.set_durability(durability).map_err(|err| self.error(Operation::Write, err))?;
        txn.set_quick_repair(self.quick_repair);
        Ok(txn)
    }

    /// The committed table of `namespace`; `None` if the file lacks it, which only a read-only handle
    /// on a file that no writable [`RedbStore`] opened can meet (the table then reads as empty).
    fn read_table(
        &self,
        namespace: Namespace,
    ) -> Result<Option<redb::ReadOnlyTable<&'static [u8], &'static [u8]>>> {
        let txn = match &*self.handle() {
            Handle::Writable(db) => db.begin_read(),
            Handle::ReadOnly(db) => db.begin_read(),
        }
        .map_err(|err| self.error(Operation::Read, err))?;
        match txn.open_table(table(namespace)) {
            Ok(table) => Ok(Some(table)),
            Err(redb::TableError::TableDoesNotExist(_)) => Ok(None),
            Err(err) => Err(self.error(Operation::Read, err)),
        }
    }

    fn error(&self, operation: Operation, err: impl Into<redb::Error>) -> Error {
        map_error(&self.path, operation, err)
    }
}

impl KeyValueStore for RedbStore {
    fn get(&self, namespace: Namespace, key: &[u8]) -> Result<Option<Vec<u8>>> {
        let Some(table) = self.read_table(namespace)? else { return Ok(None) };
        let value = table.get(key).map_err(|err| self.error(Operation::Read, err))?;
        Ok(value.map(|guard| guard.value().to_vec()))
    }

    fn contains(&self, namespace: Namespace, key: &[u8]) -> Result<bool> {
        let Some(table) = self.read_table(namespace)? else { return Ok(false) };
        Ok(table.get(key).map_err(|err| self.error(Operation::Read, err))?.is_some())
    }

    /// Fails with [`Error::ReadOnlyStore`] on a read-only store, even for an empty batch.
    fn write(&self, batch: WriteBatch) -> Result<()> {
        self.write_reporting_durability(batch).map(drop)
    }

    /// Fails with [`Error::ReadOnlyStore`] on a read-only store, even for an empty batch.
    fn write_reporting_durability(&self, batch: WriteBatch) -> Result<bool> {
        if self.is_read_only() {
            return Err(Error::ReadOnlyStore { path: self.path.clone() });
        }
        if batch.is_empty() {
            return Ok(false);
        }
        batch.check_limits()?;
        // Concurrent writers may take numbers in one order and commit in the other; the number only
        // spaces the durable commits, so that merely shifts which batch is the durable one.
        let sequence = self.batches.fetch_add(1, Ordering::Relaxed);
        let durable = self.durability.is_durable(sequence);
        let txn = self.begin_write(durable)?;
        {
            let mut tables = Vec::with_capacity(Namespace::ALL.len());
            for namespace in Namespace::ALL {
                tables
                    .push(txn.open_table(table(namespace)).map_err(|err| self.error(Operation::Write, err))?);
            }
            for op in batch.into_ops_in_key_order() {
                let result = match op {
                    BatchOp::Put { namespace, key, value } => {
                        tables[namespace.index()].insert(key.as_slice(), value.as_slice()).map(drop)
                    }
                    BatchOp::Delete { namespace, key } => {
                        tables[namespace.index()].remove(key.as_slice()).map(drop)
                    }
                };
                // Dropping the uncommitted transaction on error aborts the whole batch.
                result.map_err(|err| self.error(Operation::Write, err))?;
            }
        }
        txn.commit().map_err(|err| self.error(Operation::Write, err))?;
        Ok(durable)
    }

    fn for_each(&self, namespace: Namespace, visit: &mut dyn FnMut(&[u8], &[u8])) -> Result<()> {
        let Some(table) = self.read_table(namespace)? else { return Ok(()) };
        for entry in table.iter().map_err(|err| self.error(Operation::Read, err))? {
            let (key, value) = entry.map_err(|err| self.error(Operation::Read, err))?;
            visit(key.value(), value.value());
        }
        Ok(())
    }

    /// Commits an empty transaction durably: redb then persists every earlier non-durable commit.
    /// Fails with [`Error::ReadOnlyStore`] on a read-only store.
    fn flush(&self) -> Result<()> {
        let txn = self.begin_write(true)?;
        txn.commit().map_err(|err| self.error(Operation::Flush, err))
    }

    /// Flushes, then compacts the file: redb moves pages toward the start and truncates the end,
    /// repeating while that gains anything. Copy-on-write commits of random keys leave the file 2-3x
    /// the size of what it holds (a sync of 233 MiB of entries: 1.1 GiB). Reads and writes wait
    /// while it runs. Fails with [`Error::ReadOnlyStore`] on a read-only store.
    fn compact(&self) -> Result<()> {
        self.flush()?;
        let mut handle = self.db.write().unwrap_or_else(|poisoned| poisoned.into_inner());
        let Handle::Writable(db) = &mut *handle else {
            return Err(Error::ReadOnlyStore { path: self.path.clone() });
        };
        let started = std::time::Instant::now();
        let mut rounds = 0;
        while db.compact().map_err(|err| self.error(Operation::Flush, err))? {
            rounds += 1;
        }
        debug!(target: "kvdb::redb", path = %self.path.display(), rounds, elapsed = ?started.elapsed(), "compacted");
        Ok(())
    }

    fn count(&self, namespace: Namespace) -> Result<u64> {
        let Some(table) = self.read_table(namespace)? else { return Ok(0) };
        table.len().map_err(|err| self.error(Operation::Read, err))
    }
}

/// The redb handle a [`RedbStore`] reads (and, if writable, writes) through.
enum Handle {
    /// From [`RedbStore::open`]: holds the file's lock exclusively.
    Writable(redb::Database),
    /// From [`RedbStore::open_read_only`]: shares the file's lock with other read-only handles.
    ReadOnly(redb::ReadOnlyDatabase),
}

impl fmt::Debug for Handle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Handle::Writable(_) => "Writable",
            Handle::ReadOnly(_) => "ReadOnly",
        })
    }
}

/// Classifies a redb error into our [`Error`].
fn map_error(path: &Path, operation: Operation, err: impl Into<redb::Error>) -> Error {
    let path = path.to_path_buf();
    match err.into() {
        redb::Error::DatabaseAlreadyOpen | redb::Error::LockProtocolMismatch => Error::Locked { path },
        redb::Error::Corrupted(detail) => Error::Corrupted { backend: BACKEND, detail },
        redb::Error::Io(source) => match source.kind() {
            // redb reports a file without its magic header as InvalidData (since redb 2.4).
            ErrorKind::InvalidData | ErrorKind::IsADirectory if operation == Operation::Open => {
                Error::NotADatabase { path, backend: BACKEND }
            }
            ErrorKind::PermissionDenied | ErrorKind::ReadOnlyFilesystem => Error::ReadOnly { path, source },
            _ => Error::Io { path, source },
        },
        other => Error::Backend { backend: BACKEND, operation: operation.name(), detail: other.to_string() },
    }
}
