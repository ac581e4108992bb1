//! Errors of the storage layer.

use std::path::PathBuf;

use crate::Namespace;

/// What went wrong in a store.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The file or directory exists but is not a database of the requested backend.
    #[error("{path} is not a {backend} database")]
    NotADatabase {
        /// Where the store was opened.
        path: PathBuf,
        /// The backend that was asked to open it.
        backend: &'static str,
    },
    /// Another process (or another handle in this one) holds the database open.
    #[error("{path} is already open in another process or handle")]
    Locked {
        /// Where the store was opened.
        path: PathBuf,
    },
    /// The location cannot be written: a read-only file system or missing permissions.
    #[error("{path} is not writable: {source}")]
    ReadOnly {
        /// Where the store was opened.
        path: PathBuf,
        /// The operating system's error.
        source: std::io::Error,
    },
    /// A write or flush on a store opened read-only (e.g. `RedbStore::open_read_only`); nothing was
    /// written.
    #[error("{path} is open read-only: writes are refused")]
    ReadOnlyStore {
        /// Where the store was opened.
        path: PathBuf,
    },
    /// A read-only open found a database that was not closed cleanly (its last writer crashed): the
    /// repair it needs writes, so open it for writing once first.
    #[error("{path} was not closed cleanly and needs a repair, which a read-only open cannot make: open it for writing once")]
    NeedsRepair {
        /// Where the store was opened.
        path: PathBuf,
    },
    /// An I/O error while opening or using the store.
    #[error("I/O error on {path}: {source}")]
    Io {
        /// Where the store lives.
        path: PathBuf,
        /// The operating system's error.
        source: std::io::Error,
    },
    /// The database file is damaged beyond what the backend's own recovery repairs.
    #[error("{backend} database is corrupted: {detail}")]
    Corrupted {
        /// The backend that found the damage.
        backend: &'static str,
        /// The backend's description of the damage.
        detail: String,
    },
    /// The backend failed in a way none of the other variants describes (e.g. out of space, or a
    /// transaction limit); `detail` is the backend's own message.
    #[error("{backend} backend failed during {operation}: {detail}")]
    Backend {
        /// The backend that failed.
        backend: &'static str,
        /// What the store was doing: "open", "read", "write", ...
        operation: &'static str,
        /// The backend's own message.
        detail: String,
    },
    /// A batch held an empty key or one longer than [`MAX_KEY_LEN`](crate::MAX_KEY_LEN); nothing of the
    /// batch was written.
    #[error("a key of {len} bytes in {namespace}: keys must be 1 to {max} bytes", max = crate::MAX_KEY_LEN)]
    InvalidKey {
        /// The namespace written to.
        namespace: Namespace,
        /// The key's length.
        len: usize,
    },
    /// A batch held a value longer than [`MAX_VALUE_LEN`](crate::MAX_VALUE_LEN); nothing of the batch
    /// was written.
    #[error("a value of {len} bytes in {namespace}: values must be at most {max} bytes", max = crate::MAX_VALUE_LEN)]
    ValueTooLarge {
        /// The namespace written to.
        namespace: Namespace,
        /// The value's length.
        len: usize,
    },
    /// A thread panicked while holding the in-memory store's lock; its content may be half-written.
    #[error("in-memory store lock poisoned by a panicking writer")]
    Poisoned,
}

/// The result type of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;
