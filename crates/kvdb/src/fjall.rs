//! The fjall backend: an LSM engine in a directory, proving that backends swap behind the trait.

use std::fmt;
use std::io::ErrorKind;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use ::fjall::compaction::Leveled;
use ::fjall::config::CompressionPolicy;
use ::fjall::{KeyspaceCreateOptions, PersistMode, Readable};
use tracing::debug;

use crate::batch::key_is_valid;
use crate::operation::Operation;
use crate::{BatchOp, Durability, Error, KeyValueStore, Namespace, Result, WriteBatch};

const BACKEND: &str = "fjall";

/// The file fjall writes first into every database directory; its absence marks a directory that
/// fjall did not create (fjall 3's on-disk layout).
const VERSION_MARKER: &str = "version";

/// How a [`FjallStore`] is opened. Build it with [`FjallOptions::new`] and the setters.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FjallOptions {
    /// When batches reach the disk; see [`FjallStore`] for what a crash loses under each setting.
    durability: Durability,
    /// Bytes of block cache; `None` keeps fjall's default.
    cache_size_bytes: Option<u64>,
}

impl FjallOptions {
    /// The defaults: [`Durability::Immediate`] and fjall's default cache.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets when batches become durable.
    pub fn durability(mut self, durability: Durability) -> Self {
        self.durability = durability;
        self
    }

    /// Sets how many bytes of blocks fjall caches in memory.
    pub fn cache_size(mut self, bytes: u64) -> Self {
        self.cache_size_bytes = Some(bytes);
        self
    }
}

/// A [`KeyValueStore`] in a [fjall](https://docs.rs/fjall) directory, one keyspace per [`Namespace`].
///
/// A batch is one fjall write batch: written to the journal between a start marker and an end
/// marker carrying a checksum, and published to readers only once every item is in the memtables, so
/// readers see all of a batch or none of it, and journal recovery drops a batch whose end marker or
/// checksum is missing.
///
/// What a crash can lose:
/// - [`Durability::Immediate`]: nothing acknowledged; each batch's journal write is fsynced
///   (`PersistMode::SyncAll`) before [`KeyValueStore::write`] returns.
/// - [`Durability::Periodic`]: the batches in between are only handed to the operating system
///   (`PersistMode::Buffer`). A crash of the process loses nothing acknowledged; a power loss or
///   operating-system crash loses the batches since the last durable one (fewer than `every`, or
///   since the last [`KeyValueStore::flush`]).
///
/// Dropping the store makes fjall try a final fsync of its journal; call [`KeyValueStore::flush`] to
/// get an error instead of its best effort.
///
/// Only one handle may have the directory open at a time: a second open fails with
/// [`Error::Locked`].
///
/// There is no read-only open, unlike `RedbStore::open_read_only`: fjall 3 has no read-only mode.
/// Every open takes the directory's lock exclusively and may write (journal recovery, keyspace
/// creation), so several processes cannot read one directory at once; threads of one process share
/// one handle instead.
pub struct FjallStore {
    db: fjall::Database,
    /// One keyspace per namespace, indexed by [`Namespace::index`].
    keyspaces: Vec<fjall::Keyspace>,
    /// Where the directory lives, for error messages.
    path: PathBuf,
    durability: Durability,
    /// Batches written since open, numbering them for [`Durability::Periodic`].
    batches: AtomicU64,
}

impl fmt::Debug for FjallStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FjallStore")
            .field("path", &self.path)
            .field("durability", &self.durability)
            .finish_non_exhaustive()
    }
}

impl FjallStore {
    /// Opens the database directory at `path`, creating it (and its keyspaces) if it does not exist or
    /// is empty.
    ///
    /// Errors: [`Error::NotADatabase`] if `path` is a file, or a non-empty directory that fjall did not
    /// create (it would otherwise scatter its files among someone else's); [`Error::Locked`] if it is
    /// already open; [`Error::ReadOnly`] if it cannot be created or written.
    pub fn open(path: impl AsRef<Path>, options: FjallOptions) -> Result<Self> {
        let path = path.as_ref().to_path_buf();
        check_location(&path)?;
        let mut builder = fjall::Database::builder(&path).worker_threads(worker_threads());
        if let Some(bytes) = options.cache_size_bytes {
            builder = builder.cache_size(bytes);
        }
        let db = builder.open().map_err(|err| map_error(&path, Operation::Open, err))?;
        let mut keyspaces = Vec::with_capacity(Namespace::ALL.len());
        for namespace in Namespace::ALL {
            let keyspace = db
                .keyspace(namespace.name(), || keyspace_options(namespace))
                .map_err(|err| map_error(&path, Operation::Open, err))?;
            keyspaces.push(keyspace);
        }
        // The keyspaces must exist durably before a batch's journal entries refer to them.
        db.persist(PersistMode::SyncAll).map_err(|err| map_error(&path, Operation::Open, err))?;
        debug!(target: "kvdb::fjall", path = %path.display(), durability = ?options.durability, "opened");
        Ok(Self { db, keyspaces, path, durability: options.durability, batches: AtomicU64::new(0) })
    }

    /// Where the database directory lives.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The durability setting the store was opened with.
    pub fn durability(&self) -> Durability {
        self.durability
    }

    fn keyspace(&self, namespace: Namespace) -> Result<&fjall::Keyspace> {
        // Every namespace gets a keyspace in `open`; a miss would be a bug here, reported, not a panic.
        self.keyspaces.get(namespace.index()).ok_or_else(|| Error::Backend {
            backend: BACKEND,
            operation: "read",
            detail: format!("no keyspace for namespace {namespace}"),
        })
    }

    fn error(&self, operation: Operation, err: fjall::Error) -> Error {
        map_error(&self.path, operation, err)
    }
}

impl KeyValueStore for FjallStore {
    // Reads go through a snapshot: `Keyspace::get` reads at the newest sequence number, which shows a
    // batch still being applied to the memtables (caught by the suite's concurrent-readers test),
    // while a snapshot only sees published batches.
    fn get(&self, namespace: Namespace, key: &[u8]) -> Result<Option<Vec<u8>>> {
        if !key_is_valid(key) {
            return Ok(None); // fjall asserts on such keys; no batch can have stored one
        }
        let keyspace = self.keyspace(namespace)?;
        let value = self.db.snapshot().get(keyspace, key).map_err(|err| self.error(Operation::Read, err))?;
        Ok(value.map(|value| value.to_vec()))
    }

    fn contains(&self, namespace: Namespace, key: &[u8]) -> Result<bool> {
        if !key_is_valid(key) {
            return Ok(false);
        }
        let keyspace = self.keyspace(namespace)?;
        self.db.snapshot().contains_key(keyspace, key).map_err(|err| self.error(Operation::Read, err))
    }

    fn write(&self, batch: WriteBatch) -> Result<()> {
        self.write_reporting_durability(batch).map(drop)
    }

    fn write_reporting_durability(&self, batch: WriteBatch) -> Result<bool> {
        if batch.is_empty() {
            return Ok(false);
        }
        batch.check_limits()?;
        let sequence = self.batches.fetch_add(1, Ordering::Relaxed);
        let durable = self.durability.is_durable(sequence);
        let mode = if durable { PersistMode::SyncAll } else { PersistMode::Buffer };
        let mut fjall_batch = self.db.batch().durability(Some(mode));
        for op in batch.into_ops_in_key_order() {
            match op {
                BatchOp::Put { namespace, key, value } => {
                    fjall_batch.insert(self.keyspace(namespace)?, key, value)
                }
                BatchOp::Delete { namespace, key } => fjall_batch.remove(self.keyspace(namespace)?, key),
            }
        }
        fjall_batch.commit().map_err(|err| self.error(Operation::Write, err))?;
        Ok(durable)
    }

    fn for_each(&self, namespace: Namespace, visit: &mut dyn FnMut(&[u8], &[u8])) -> Result<()> {
        // The iterator reads one snapshot, so a concurrent batch is seen whole or not at all.
        for guard in self.keyspace(namespace)?.iter() {
            let (key, value) = guard.into_inner().map_err(|err| self.error(Operation::Read, err))?;
            visit(&key, &value);
        }
        Ok(())
    }

    fn flush(&self) -> Result<()> {
        self.db.persist(PersistMode::SyncAll).map_err(|err| self.error(Operation::Flush, err))
    }

    /// Moves every memtable into tables (waiting for the flushes), so the journals they came from
    /// can be deleted, then persists. A journal file goes only once every keyspace has flushed what
    /// it holds of it, and the metadata keyspace, with its few small writes, never fills a memtable:
    /// without this, a sync of 233 MiB of entries ended with 380 MiB of journals beside 330 MiB of
    /// tables.
    fn compact(&self) -> Result<()> {
        for keyspace in &self.keyspaces {
            keyspace.rotate_memtable_and_wait().map_err(|err| self.error(Operation::Flush, err))?;
        }
        // fjall's worker deletes a journal just after the flush that frees it, which can be after
        // the wait above returns: give it a moment, so the journals are gone when this returns (the
        // one being written to stays).
        let deadline = Instant::now() + JOURNAL_DELETION_WAIT;
        while self.db.journal_count() > 1 && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(5));
        }
        self.flush()
    }

    fn count(&self, namespace: Namespace) -> Result<u64> {
        let len = self.keyspace(namespace)?.len().map_err(|err| self.error(Operation::Read, err))?;
        Ok(len as u64)
    }
}

/// How long [`KeyValueStore::compact`] waits at most for fjall to delete the journals its flushes
/// freed (it takes milliseconds).
const JOURNAL_DELETION_WAIT: Duration = Duration::from_secs(2);

/// Background threads fjall flushes and compacts with: its default (the cores, at most 4), but at
/// least 3. With several workers, fjall 3.1's worker 0 leaves compactions to the others: a compaction
/// request it receives goes back on the queue, and it takes the next message, which is that request
/// again while every other worker is busy. With 2 workers (its default on 2 cores) worker 0 so spins
/// for as long as worker 1 compacts; with 3 the third worker takes the request back off the queue.
/// A sync of 11.6M entries into fjall on 2 cores, alternating runs: 87.2 and 88.0 s with 3 workers
/// against 92.3 and 92.8 s with 2, 68.7 and 69.6 s of user CPU against 74.2 and 76.4, the same peak
/// memory (460-466 MiB against 457-460). One worker would not spin, but its flushes wait behind its
/// compactions (one run: 523 MiB peak).
fn worker_threads() -> usize {
    let cores = std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get);
    cores.clamp(3, 4)
}

/// L0 runs after which the trie-node keyspace compacts into L1 (fjall's default: 4); see
/// [`keyspace_options`].
const TRIE_NODES_L0_RUNS: u8 = 12;

/// Bytes of the trie-node keyspace's memtable (fjall's default: 64 MiB); see [`keyspace_options`].
const TRIE_NODES_MEMTABLE_BYTES: u64 = 32 << 20;

/// How the keyspace of `namespace` is created. Trie nodes:
/// - are keccak hashes and RLP holding mostly hashes, which lz4 cannot shrink, so their blocks are
///   not compressed (fjall compresses its last level by default; on a 2.9M-entry sync that took a
///   second of CPU and saved nothing on disk);
/// - arrive under random keys, so every L0 run overlaps all of L1 and each L0→L1 compaction rewrites
///   L1: compacting after 8 runs of 64 MiB in L0 instead of fjall's 4 halved those rewrites. A sync
///   of 11.6M entries, alternating runs: 99.1 and 100.1 s against 108.2 and 109.1 s, 81.5 and 81.3 s
///   of user CPU against 94.9 and 96.1, 35 % fewer bytes written, the same size on disk;
/// - fill memtables of 32 MiB, not 64, and compact after 12 runs: up to 4 memtables (3 sealed, waiting
///   for their flush) are held in memory, which with 64 MiB ones took a sync of 11.6M entries to
///   465-530 MiB at its peak. 11.6M entries from 4 serves, alternating runs: 86.9 and 86.3 s against
///   84.4 and 92.1 s, peak RSS 396 and 398 MiB against 481 and 465, 11 % more bytes written, 2 % less
///   on disk. (16 MiB memtables with 4 runs had cost 20 % more CPU; 12 runs of 32 MiB still leave
///   8 runs before fjall stalls writes at 20.)
fn keyspace_options(namespace: Namespace) -> KeyspaceCreateOptions {
    let options = KeyspaceCreateOptions::default();
    match namespace {
        Namespace::TrieNodes => options
            .max_memtable_size(TRIE_NODES_MEMTABLE_BYTES)
            .data_block_compression_policy(CompressionPolicy::all(fjall::CompressionType::None))
            .compaction_strategy(Arc::new(Leveled::default().with_l0_threshold(TRIE_NODES_L0_RUNS))),
        Namespace::Code | Namespace::Meta => options,
    }
}

/// Refuses a location fjall would misuse: a file, or a non-empty directory without fjall's marker.
fn check_location(path: &Path) -> Result<()> {
    let metadata = match std::fs::metadata(path) {
        Ok(metadata) => metadata,
        Err(err) if err.kind() == ErrorKind::NotFound => return Ok(()),
        Err(source) => return Err(io_error(path, source)),
    };
    if !metadata.is_dir() {
        return Err(Error::NotADatabase { path: path.to_path_buf(), backend: BACKEND });
    }
    if path.join(VERSION_MARKER).exists() {
        return Ok(());
    }
    let mut entries = std::fs::read_dir(path).map_err(|source| io_error(path, source))?;
    match entries.next() {
        None => Ok(()),
        Some(_) => Err(Error::NotADatabase { path: path.to_path_buf(), backend: BACKEND }),
    }
}

fn io_error(path: &Path, source: std::io::Error) -> Error {
    let path = path.to_path_buf();
    match source.kind() {
        ErrorKind::PermissionDenied | ErrorKind::ReadOnlyFilesystem => Error::ReadOnly { path, source },
        _ => Error::Io { path, source },
    }
}

/// Classifies a fjall error into our [`Error`].
fn map_error(path: &Path, operation: Operation, err: fjall::Error) -> Error {
    match err {
        fjall::Error::Locked => Error::Locked { path: path.to_path_buf() },
        fjall::Error::InvalidVersion(_) if operation == Operation::Open => {
            Error::NotADatabase { path: path.to_path_buf(), backend: BACKEND }
        }
        fjall::Error::Io(source) => match source.kind() {
            ErrorKind::NotADirectory if operation == Operation::Open => {
                Error::NotADatabase { path: path.to_path_buf(), backend: BACKEND }
            }
            _ => io_error(path, source),
        },
        fjall::Error::Storage(fjall::LsmError::Io(source)) => io_error(path, source),
        fjall::Error::Storage(
            fjall::LsmError::Decompress(_)
            | fjall::LsmError::Unrecoverable
            | fjall::LsmError::ChecksumMismatch { .. }
            | fjall::LsmError::InvalidTag(_)
            | fjall::LsmError::InvalidTrailer
            | fjall::LsmError::InvalidHeader(_),
        ) => Error::Corrupted { backend: BACKEND, detail: format!("{err:?}") },
        fjall::Error::JournalRecovery(_)
        | fjall::Error::InvalidTrailer
        | fjall::Error::InvalidTag(_)
        | fjall::Error::Decompress(_)
        | fjall::Error::Unrecoverable => Error::Corrupted { backend: BACKEND, detail: format!("{err:?}") },
        other => {
            Error::Backend { backend: BACKEND, operation: operation.name(), detail: format!("{other:?}") }
        }
    }
}
