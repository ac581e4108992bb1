//! Where a command's database lives and how it is opened: one directory, one backend.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use kvdb::{
    Durability, FjallOptions, FjallStore, KeyValueStore, MemoryStore, Namespace, RedbOptions, RedbStore,
    WriteBatch,
};

use crate::{Error, Result, H256};

/// File of the redb backend inside the database directory.
pub const REDB_FILE: &str = "state.redb";
/// Directory of the fjall backend inside the database directory.
pub const FJALL_DIR: &str = "fjall";

/// Key in [`Namespace::Meta`] of the state root the database holds completely (written by `gen` and
/// at the end of a complete `sync`), so `serve` can announce it and `verify` can default to it.
pub const HEAD_ROOT_KEY: &[u8] = b"statesync/head_root";

/// Batches between durable commits while writing a state: a crash loses at most the last few, which
/// a resumed sync re-fetches, and each saves an fsync.
pub const BULK_DURABILITY_EVERY: u32 = 16;

/// Bytes of pages redb may cache while `gen` writes. gen writes each table's keys in ascending
/// order, so a write touches only the right edge of the B-tree and a page written is not read again;
/// redb's default cache (1 GiB) would fill with such pages and count toward gen's memory.
pub const GEN_CACHE_BYTES: usize = 64 << 20;

/// Bytes of page cache a redb database gets unless `--cache-mib` says otherwise (redb's own default,
/// 1 GiB, made a sync's or a serve's memory grow past 1.5 GiB at 11.6M entries).
pub const DEFAULT_REDB_CACHE_BYTES: usize = 256 << 20;

/// Bytes of page cache a redb database opened read-only (by `serve` and `verify`) gets unless
/// `--cache-mib` says otherwise. Their reads are random: once the file outgrows the cache, a
/// bigger cache buys almost no hits and costs memory. Serving 11.6M entries (a 1.4 GiB file) to a
/// sync, each of 4 `serve` processes peaked at 487-546 MiB with 256 MiB of cache, 201-226 MiB with
/// 128 and 91-107 MiB with 32, for the same CPU (23.6-24.8 s each); `verify` of it peaked at 302
/// MiB with 256 and 167 MiB with 128 in the same time. At 1M entries (136 MiB) 128 still holds
/// the file; 64 made the serves' CPU 35 % higher.
pub const DEFAULT_REDB_READ_CACHE_BYTES: usize = 128 << 20;

/// Bytes of block cache a fjall database gets unless `--cache-mib` says otherwise.
pub const DEFAULT_FJALL_CACHE_BYTES: usize = 64 << 20;

/// A storage engine a command can use.
///
/// Without `--backend`, a command uses the engine of the database already in `--db`; a new database
/// gets the engine that suits the command that creates it: fjall for `sync`, redb for `gen`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Backend {
    /// One durable redb file, `DIR/state.redb`: several `serve` processes (and a `verify`) can read
    /// it at once. The default for `gen`, whose sorted writes suit a B-tree, and whose database is
    /// made to be served.
    Redb,
    /// A fjall LSM directory, `DIR/fjall/`, opened by one process at a time. The default for `sync`:
    /// a sync writes random hash keys, which the LSM takes at about twice redb's rate, in a third of
    /// redb's disk space (BENCHMARKS.md, "End to end at scale").
    Fjall,
    /// In memory, gone when the command exits: for dry runs and benchmarks.
    Memory,
}

impl fmt::Display for Backend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Backend::Redb => "redb",
            Backend::Fjall => "fjall",
            Backend::Memory => "memory",
        })
    }
}

/// Whether a command creates the database or needs one to exist.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OpenMode {
    /// Create the directory and database if absent (`gen`, `sync`); writes are periodically durable
    /// and the command flushes at the end.
    Create,
    /// The database must exist, and is opened for writing (tools and tests that alter it).
    Existing,
    /// The database must exist, and is opened read-only (`serve`, `verify`): a redb database is
    /// shared with any other reader, so several `serve` processes and a `verify` can use one
    /// database at once, while a writer (`gen`, `sync`) is kept out. A redb file left unclean by a
    /// crashed writer is first repaired by a brief writable open. fjall has no read-only mode: its
    /// directory is opened for writing, by one process at a time.
    ReadOnly,
}

/// Where a command's database is: a backend and, unless in memory, a directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoreLocation {
    /// The engine.
    pub backend: Backend,
    /// The database directory (`--db`); unused for [`Backend::Memory`].
    pub dir: Option<PathBuf>,
    /// Bytes of the engine's page or block cache; `None`: [`DEFAULT_REDB_CACHE_BYTES`] (read-only:
    /// [`DEFAULT_REDB_READ_CACHE_BYTES`]) or [`DEFAULT_FJALL_CACHE_BYTES`] (and a smaller one for `gen`, see [`GEN_CACHE_BYTES`]).
    pub cache_bytes: Option<usize>,
}

impl StoreLocation {
    /// The redb database in `dir`.
    pub fn redb(dir: impl Into<PathBuf>) -> Self {
        Self { backend: Backend::Redb, dir: Some(dir.into()), cache_bytes: None }
    }

    /// The fjall database in `dir`.
    pub fn fjall(dir: impl Into<PathBuf>) -> Self {
        Self { backend: Backend::Fjall, dir: Some(dir.into()), cache_bytes: None }
    }

    /// The database in `dir` with the backend `asked` (`--backend`), or, when none was asked, the
    /// backend of the database already in `dir`, and `new` for a new one. So `--backend` only matters
    /// when a database is created: `serve --db DIR` finds what `sync --db DIR` made.
    pub fn detect(asked: Option<Backend>, dir: Option<PathBuf>, new: Backend) -> Self {
        let backend = asked.unwrap_or_else(|| match dir.as_deref() {
            Some(dir) if dir.join(REDB_FILE).exists() => Backend::Redb,
            Some(dir) if dir.join(FJALL_DIR).exists() => Backend::Fjall,
            _ => new,
        });
        Self { backend, dir, cache_bytes: None }
    }

    /// The same location with `bytes` of engine cache.
    pub fn with_cache(mut self, bytes: Option<usize>) -> Self {
        self.cache_bytes = bytes;
        self
    }

    /// Opens the store for `command`.
    ///
    /// Errors (all bad input): no `--db`; `memory` for a command whose database must outlive it
    /// (`persistent`); a directory that cannot be created; another backend's files in the directory;
    /// no database there in [`OpenMode::Existing`] or [`OpenMode::ReadOnly`]; a database that cannot
    /// be opened (not a database, held by another process, not writable).
    pub fn open(
        &self,
        command: &'static str,
        mode: OpenMode,
        persistent: bool,
    ) -> Result<Arc<dyn KeyValueStore>> {
        self.open_durable_every(command, mode, persistent, BULK_DURABILITY_EVERY)
    }

    /// [`open`](Self::open), choosing how often the batches of [`OpenMode::Create`] are made durable:
    /// every `every`-th (0 or 1: each one). A crash (a kill as much as a power loss) loses at most the
    /// batches since the last durable one; the other modes make every batch durable.
    pub fn open_durable_every(
        &self,
        command: &'static str,
        mode: OpenMode,
        persistent: bool,
        every: u32,
    ) -> Result<Arc<dyn KeyValueStore>> {
        self.open_with(command, mode, persistent, every, false)
    }

    /// [`open_durable_every`](Self::open_durable_every) for `sync --repair`: a writable redb file is
    /// checked page by page first (it reads the whole file), so pages damaged outside redb are
    /// reported as corrupt instead of crashing the engine later.
    pub fn open_for_repair(&self, command: &'static str, every: u32) -> Result<Arc<dyn KeyValueStore>> {
        self.open_with(command, OpenMode::Create, false, every, true)
    }

    /// [`open`](Self::open) for `gen` ([`OpenMode::Create`]): unless the location sets its own cache,
    /// the engine caches at most [`GEN_CACHE_BYTES`].
    pub fn open_for_gen(&self) -> Result<Arc<dyn KeyValueStore>> {
        let location = self.clone().with_cache(self.cache_bytes.or(Some(GEN_CACHE_BYTES)));
        location.open_with("gen", OpenMode::Create, false, BULK_DURABILITY_EVERY, false)
    }

    fn open_with(
        &self,
        command: &'static str,
        mode: OpenMode,
        persistent: bool,
        every: u32,
        check_integrity: bool,
    ) -> Result<Arc<dyn KeyValueStore>> {
        if self.backend == Backend::Memory {
            if persistent {
                return Err(Error::MemoryBackend { command });
            }
            return Ok(Arc::new(MemoryStore::new()));
        }
        let dir = self.dir.as_deref().ok_or(Error::NoDatabasePath { command })?;
        let (ours, theirs) = match self.backend {
            Backend::Fjall => (dir.join(FJALL_DIR), (dir.join(REDB_FILE), Backend::Redb)),
            _ => (dir.join(REDB_FILE), (dir.join(FJALL_DIR), Backend::Fjall)),
        };
        if !ours.exists() && theirs.0.exists() {
            return Err(Error::BackendMismatch {
                path: dir.to_path_buf(),
                found: theirs.1,
                asked: self.backend,
            });
        }
        match mode {
            OpenMode::Existing | OpenMode::ReadOnly if !ours.exists() => {
                return Err(Error::NoDatabase { path: dir.to_path_buf(), backend: self.backend });
            }
            OpenMode::Existing | OpenMode::ReadOnly => {}
            OpenMode::Create => create_dir(dir)?,
        }
        let durability = match mode {
            OpenMode::Create => Durability::periodic(every),
            OpenMode::Existing | OpenMode::ReadOnly => Durability::Immediate,
        };
        let opened: kvdb::Result<Arc<dyn KeyValueStore>> = match (self.backend, mode) {
            (Backend::Fjall, _) => {
                let cache = self.cache_bytes.unwrap_or(DEFAULT_FJALL_CACHE_BYTES);
                let options = FjallOptions::new().durability(durability).cache_size(cache as u64);
                FjallStore::open(&ours, options).map(|s| Arc::new(s) as _)
            }
            (_, OpenMode::ReadOnly) => {
                open_redb_read_only(&ours, self.cache_bytes.unwrap_or(DEFAULT_REDB_READ_CACHE_BYTES))
                    .map(|s| Arc::new(s) as _)
            }
            _ => {
                let cache = self.cache_bytes.unwrap_or(DEFAULT_REDB_CACHE_BYTES);
                let options = RedbOptions::new()
                    .durability(durability)
                    .check_integrity_on_open(check_integrity)
                    .cache_size(cache);
                RedbStore::open(&ours, options).map(|s| Arc::new(s) as _)
            }
        };
        opened.map_err(|source| Error::OpenStore { path: ours, source })
    }

    /// The directory, for messages ("in memory" without one).
    pub fn describe(&self) -> String {
        match (&self.backend, &self.dir) {
            (Backend::Memory, _) | (_, None) => "memory".into(),
            (backend, Some(dir)) => format!("{} ({backend})", dir.display()),
        }
    }
}

/// Opens the redb file at `path` read-only; if a crashed writer left it needing a repair (which a
/// read-only open cannot make), repairs it first by opening and closing it for writing, as `sync` or
/// `gen` would on their next run.
fn open_redb_read_only(path: &Path, cache_bytes: usize) -> kvdb::Result<RedbStore> {
    let options = RedbOptions::new().cache_size(cache_bytes);
    match RedbStore::open_read_only(path, options.clone()) {
        Err(kvdb::Error::NeedsRepair { .. }) => {
            tracing::info!(target: "statesync::store", path = %path.display(), "not closed cleanly: repairing before opening read-only");
            drop(RedbStore::open(path, options.clone())?);
            RedbStore::open_read_only(path, options)
        }
        opened => opened,
    }
}

fn create_dir(dir: &Path) -> Result<()> {
    if dir.exists() && !dir.is_dir() {
        let source = std::io::Error::new(std::io::ErrorKind::AlreadyExists, "a file is in the way");
        return Err(Error::CreateDir { path: dir.to_path_buf(), source });
    }
    std::fs::create_dir_all(dir).map_err(|source| Error::CreateDir { path: dir.to_path_buf(), source })
}

/// The state root recorded in `store` as held completely, if any. An engine that panics reading it
/// (redb may, on a file damaged outside it) is [`Error::RecordedRootUnreadable`], not a crash.
pub fn recorded_root(store: &dyn KeyValueStore) -> Result<Option<H256>> {
    let value = crate::engine_panic::catch_engine_panic(|| store.get(Namespace::Meta, HEAD_ROOT_KEY))
        .map_err(|detail| Error::RecordedRootUnreadable { detail })??;
    Ok(value.filter(|v| v.len() == 32).map(|v| H256::from_slice(&v)))
}

/// Adds the recording of `root` as the state held completely to `batch`.
pub fn record_root(batch: &mut WriteBatch, root: H256) {
    batch.put(Namespace::Meta, HEAD_ROOT_KEY.to_vec(), root.as_bytes().to_vec());
}

/// Parses a state root: `0x` (optional) and exactly 64 hex digits.
pub fn parse_root(input: &str) -> Result<H256> {
    let digits = input.strip_prefix("0x").or_else(|| input.strip_prefix("0X")).unwrap_or(input);
    let bad = || Error::BadRoot { input: input.to_string() };
    if digits.len() != 64 {
        return Err(bad());
    }
    let bytes = hex::decode(digits).map_err(|_| bad())?;
    Ok(H256::from_slice(&bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roots_parse_with_and_without_prefix() {
        let hex = "d7f8974fb5ac78d9ac099b9ad5018bedc2ce0a72dad1827a1709da30580f0544";
        assert_eq!(parse_root(hex).unwrap(), parse_root(&format!("0x{hex}")).unwrap());
        assert!(matches!(parse_root("0x1234"), Err(Error::BadRoot { .. })));
        assert!(matches!(parse_root(&format!("0x{}", "zz".repeat(32))), Err(Error::BadRoot { .. })));
    }

    #[test]
    fn memory_is_refused_where_it_must_persist() {
        let location = StoreLocation { backend: Backend::Memory, dir: None, cache_bytes: None };
        assert!(matches!(location.open("serve", OpenMode::ReadOnly, true), Err(Error::MemoryBackend { .. })));
        assert!(location.open("gen", OpenMode::Create, false).is_ok());
    }
}
