//! Why a command failed, and which exit code that is.

use std::net::SocketAddr;
use std::path::PathBuf;

use crate::{Backend, GenesisError, H256};

/// Exit code of a command that succeeded.
pub const EXIT_OK: i32 = 0;
/// Exit code of a command that ran and found a problem with the state (verify found a gap or a bad
/// blob, a sync did not complete) or failed inside (a store that stopped working).
pub const EXIT_FAILURE: i32 = 1;
/// Exit code of bad input: arguments, files, databases or peers that cannot be used as given. Nothing
/// stored is touched when a command fails this way.
pub const EXIT_BAD_INPUT: i32 = 2;

/// What went wrong running a command.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The text given as a state root is not `0x` and 64 hex digits.
    #[error("bad state root {input:?}: expected 0x followed by 64 hex digits")]
    BadRoot {
        /// What was given.
        input: String,
    },
    /// A command that reads or writes a database on disk was not told where (`--db`).
    #[error("{command} needs --db DIR")]
    NoDatabasePath {
        /// The command.
        command: &'static str,
    },
    /// A command that needs a database another process can read was given `--backend memory`.
    #[error(
        "{command} cannot use --backend memory: an in-memory store holds nothing another command can use"
    )]
    MemoryBackend {
        /// The command.
        command: &'static str,
    },
    /// The database directory cannot be created.
    #[error("cannot create database directory {path}: {source}")]
    CreateDir {
        /// The directory.
        path: PathBuf,
        /// The operating system's error.
        source: std::io::Error,
    },
    /// A command that reads an existing database found none at the path given.
    #[error("no {backend} database at {path}")]
    NoDatabase {
        /// Where it was looked for.
        path: PathBuf,
        /// The backend asked for.
        backend: Backend,
    },
    /// The database directory holds a database of another backend than the one asked for.
    #[error("{path} holds a {found} database, not {asked}: pass --backend {found}")]
    BackendMismatch {
        /// The directory.
        path: PathBuf,
        /// The backend whose files are there.
        found: Backend,
        /// The backend asked for.
        asked: Backend,
    },
    /// Opening the database failed: not a database, held by another process, not writable (bad
    /// input), or damaged beyond the storage engine's own recovery (a failure: see
    /// [`Error::is_store_damage`]).
    #[error("cannot open database: {source}{}", damage_hint(self))]
    OpenStore {
        /// Where it was opened.
        path: PathBuf,
        /// The storage layer's reason.
        source: kvdb::Error,
    },
    /// `gen` was pointed at a database that already holds trie nodes or code, other than exactly the
    /// state it generates. What is there may be an interrupted `gen`'s partial state, which a later
    /// sync would trust, so nothing is written.
    #[error(
        "{database} already holds {}: gen writes only into an empty database",
        match holds { Some(root) => format!("state {root:?}"), None => "trie nodes or code of an incomplete state".into() }
    )]
    NotEmpty {
        /// The database, as [`StoreLocation::describe`](crate::StoreLocation::describe) names it.
        database: String,
        /// The complete state it holds, if its recorded root is present.
        holds: Option<H256>,
    },
    /// A command that defaults to the database's recorded state root found none.
    #[error("{path} records no state root: pass --root")]
    NoRecordedRoot {
        /// The database directory.
        path: PathBuf,
    },
    /// The genesis file cannot be read or is malformed.
    #[error(transparent)]
    Genesis(#[from] GenesisError),
    /// The synthetic state's settings are invalid.
    #[error("bad synthetic state settings: {0}")]
    Synthetic(#[from] trie_sync::SyntheticError),
    /// The server cannot listen on the address given.
    #[error("cannot listen on {addr}: {source}")]
    Listen {
        /// The address.
        addr: SocketAddr,
        /// The operating system's error.
        source: std::io::Error,
    },
    /// A peer address does not parse or resolve.
    #[error("bad peer address {input:?}: {reason}")]
    BadPeerAddress {
        /// What was given.
        input: String,
        /// Why it is unusable.
        reason: String,
    },
    /// An `enode://` peer was given without the chain to meet it on.
    #[error("enode:// peers need the chain: pass --genesis FILE or --chain mainnet")]
    NoChain,
    /// The genesis file cannot describe a chain (config or header fields).
    #[error("bad chain in {path}: {reason}")]
    BadChain {
        /// The genesis file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// The node key file cannot be read or written.
    #[error("node key {path}: {source}")]
    NodeKey {
        /// The file.
        path: PathBuf,
        /// Why.
        source: rlpx::NodeKeyError,
    },
    /// Every peer that answered is of no use to us: another network, genesis or fork, or no protocol
    /// we speak (each one line).
    #[error("no usable peer: {reasons}")]
    IncompatiblePeers {
        /// Each peer's reason, `; `-separated.
        reasons: String,
    },
    /// None of the peers given could be connected to.
    #[error("no peer reachable: {reasons}")]
    NoPeers {
        /// Each peer's failure, `; `-separated.
        reasons: String,
    },
    /// None of the connected peers has the root node of the state asked for.
    #[error("none of the {peers} peers has state root {root:?}")]
    RootUnavailable {
        /// The state root.
        root: H256,
        /// How many peers were asked.
        peers: usize,
    },
    /// The sync was interrupted (SIGINT or SIGTERM); what was complete is committed.
    #[error("sync of {root:?} interrupted; what was complete is kept: run the same command to resume")]
    Interrupted {
        /// The state root.
        root: H256,
    },
    /// The sync started and then failed.
    #[error("sync failed: {failure}{hint}", failure = .0, hint = damage_hint(self))]
    Download(Box<downloader::DownloadError>),
    /// A verify walk found entries missing.
    #[error(
        "state {root:?} is incomplete: {missing} entries missing; `statesync sync --repair --root {root:?} --peer ADDR` fetches them"
    )]
    Incomplete {
        /// The state root.
        root: H256,
        /// How many entries are missing.
        missing: u64,
    },
    /// A verify walk found a stored blob that does not match its hash or does not decode.
    #[error("state {root:?} is damaged: {source}{}", damage_hint(self))]
    Damaged {
        /// The state root.
        root: H256,
        /// What the walk found.
        source: trie_sync::WalkError,
    },
    /// The storage engine panicked while a verify walk read the database. redb documents that it
    /// may on a file damaged outside it (a flipped page), and a read-only open cannot run its
    /// integrity check, so `verify` catches the panic (see [`verify`](crate::verify())).
    #[error(
        "state {root:?} is unreadable: the storage engine failed reading the database ({detail}){}",
        damage_hint(self)
    )]
    EngineFailed {
        /// The state root being walked.
        root: H256,
        /// The engine's panic message and where it panicked.
        detail: String,
    },
    /// The storage engine panicked reading the state root a database records as held (see
    /// [`recorded_root`](crate::recorded_root)), as [`Error::EngineFailed`] but before any walk.
    #[error(
        "the database is unreadable: the storage engine failed reading its recorded state root ({detail}){}",
        damage_hint(self)
    )]
    RecordedRootUnreadable {
        /// The engine's panic message and where it panicked.
        detail: String,
    },
    /// The store failed while a command was using it.
    #[error("database failed: {failure}{hint}", failure = .0, hint = damage_hint(self))]
    Store(#[from] kvdb::Error),
    /// A background task of the command failed (panicked or was cancelled).
    #[error("internal task failed: {0}")]
    Task(String),
    /// `gen` cannot write (or read back) the temporary files in which it sorts a state larger than
    /// its memory budget: a full disk, a directory that refuses files.
    #[error("cannot sort the state through temporary files in {dir}: {source}")]
    Spill {
        /// Where the files go: the database directory (the system's temporary directory for an
        /// in-memory store).
        dir: PathBuf,
        /// The operating system's error.
        source: std::io::Error,
    },
    /// The operating system refused something the command needed (a runtime, a signal handler, a
    /// temporary directory).
    #[error("{what}: {source}")]
    Io {
        /// What the command was doing.
        what: &'static str,
        /// The operating system's error.
        source: std::io::Error,
    },
}

impl Error {
    /// Whether the command was given something it cannot use (exit code [`EXIT_BAD_INPUT`]) rather
    /// than failing on usable input.
    pub fn is_bad_input(&self) -> bool {
        match self {
            Error::BadRoot { .. }
            | Error::NoDatabasePath { .. }
            | Error::MemoryBackend { .. }
            | Error::CreateDir { .. }
            | Error::BackendMismatch { .. }
            | Error::NoDatabase { .. }
            | Error::NoRecordedRoot { .. }
            | Error::NotEmpty { .. }
            | Error::Genesis(_)
            | Error::Synthetic(_)
            | Error::Listen { .. }
            | Error::BadPeerAddress { .. }
            | Error::NoChain
            | Error::BadChain { .. }
            | Error::NodeKey { .. }
            | Error::IncompatiblePeers { .. }
            | Error::NoPeers { .. }
            | Error::RootUnavailable { .. } => true,
            Error::OpenStore { .. } => !self.is_store_damage(),
            Error::Interrupted { .. }
            | Error::Download(_)
            | Error::Incomplete { .. }
            | Error::Damaged { .. }
            | Error::EngineFailed { .. }
            | Error::RecordedRootUnreadable { .. }
            | Error::Store(_)
            | Error::Task(_)
            | Error::Spill { .. }
            | Error::Io { .. } => false,
        }
    }

    /// Whether the database is damaged: the storage engine reports corruption, or a stored entry
    /// does not match its hash. This is a failure (exit code [`EXIT_FAILURE`]), not bad input; the
    /// message says what to do (`sync --repair`, or a new database directory).
    pub fn is_store_damage(&self) -> bool {
        let corrupted = |error: &kvdb::Error| matches!(error, kvdb::Error::Corrupted { .. });
        match self {
            Error::OpenStore { source, .. } | Error::Store(source) => corrupted(source),
            Error::Damaged { .. } | Error::EngineFailed { .. } | Error::RecordedRootUnreadable { .. } => true,
            Error::Download(error) => match error.as_ref() {
                downloader::DownloadError::Store(source) => corrupted(source),
                downloader::DownloadError::Scheduler(trie_sync::SyncError::Store(source)) => {
                    corrupted(source)
                }
                _ => false,
            },
            _ => false,
        }
    }

    /// The process exit code for this error.
    pub fn exit_code(&self) -> i32 {
        if self.is_bad_input() {
            EXIT_BAD_INPUT
        } else {
            EXIT_FAILURE
        }
    }
}

/// The result type of the command implementations.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What to do about a damaged database, appended to the messages of errors that report one.
fn damage_hint(error: &Error) -> &'static str {
    match error {
        // The engine cannot open the file: nothing in it can be read, so nothing can be repaired.
        Error::OpenStore { .. } if error.is_store_damage() => {
            ": the database is damaged beyond what its storage engine recovers, so nothing in it can be read; start over with a new --db directory"
        }
        // A page the engine cannot read: `sync --repair` opens the file with the engine's page-by-page
        // check, which may recover an earlier commit or refuse the file.
        Error::EngineFailed { .. } | Error::RecordedRootUnreadable { .. } => {
            ": a file damaged outside its storage engine makes it fail this way; `statesync sync --repair --root HASH --peer ADDR` checks every page first and repairs what the engine can recover (it says when nothing can be), or start over with a new --db directory"
        }
        _ if error.is_store_damage() => {
            "; to fix it, `statesync sync --repair --root HASH --peer ADDR` fetches what is damaged again from peers, or start over with a new --db directory"
        }
        _ => "",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn corrupted() -> kvdb::Error {
        kvdb::Error::Corrupted { backend: "redb", detail: "bad page".into() }
    }

    #[test]
    fn a_damaged_database_is_a_failure_that_says_what_to_do() {
        let open = Error::OpenStore { path: "db/state.redb".into(), source: corrupted() };
        assert_eq!(open.exit_code(), EXIT_FAILURE);
        assert!(open.to_string().contains("start over with a new --db directory"), "{open}");
        let read = Error::Store(corrupted());
        assert_eq!(read.exit_code(), EXIT_FAILURE);
        assert!(read.to_string().contains("sync --repair"), "{read}");
        let sync = Error::Download(Box::new(downloader::DownloadError::Store(corrupted())));
        assert_eq!(sync.exit_code(), EXIT_FAILURE);
        assert!(sync.to_string().contains("sync --repair"), "{sync}");
        let locked =
            Error::OpenStore { path: "db".into(), source: kvdb::Error::Locked { path: "db".into() } };
        assert_eq!(locked.exit_code(), EXIT_BAD_INPUT, "a held database is still bad input");
        assert!(!locked.to_string().contains("--repair"), "{locked}");
        assert!(!Error::Store(kvdb::Error::Poisoned).to_string().contains("--repair"));
        let unreadable = Error::EngineFailed { root: H256::zero(), detail: "bad page".into() };
        assert_eq!(unreadable.exit_code(), EXIT_FAILURE);
        assert!(unreadable.to_string().contains("start over with a new --db directory"), "{unreadable}");
    }
}
