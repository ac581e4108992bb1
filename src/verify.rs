//! `statesync verify`: walk a stored state from its root, re-hashing everything.

use std::time::{Duration, Instant};

use kvdb::KeyValueStore;
use trie_sync::{walk, AccountLeafCallback, MissingEntry, H256};

use crate::engine_panic::catch_engine_panic;
use crate::{Error, Result};

/// What a verify walk found.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct VerifyReport {
    /// The state root walked.
    pub root: String,
    /// Whether nothing is missing.
    pub complete: bool,
    /// Accounts (leaves of the account trie).
    pub accounts: u64,
    /// Storage slots (leaves of the distinct storage tries).
    pub storage_slots: u64,
    /// Trie nodes read and re-hashed.
    pub nodes: u64,
    /// Code blobs read and re-hashed.
    pub codes: u64,
    /// Bytes read.
    pub bytes: u64,
    /// Entries missing in all.
    pub missing_count: u64,
    /// The first missing entries, in walk order.
    pub missing: Vec<MissingReport>,
    /// Time the walk took.
    #[serde(serialize_with = "crate::report::serialize_secs")]
    pub elapsed: Duration,
}

/// One missing entry, for people and JSON.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct MissingReport {
    /// Its hash, `0x` and 64 hex digits.
    pub hash: String,
    /// `"trie node"` or `"code"`.
    pub kind: &'static str,
    /// The nibble path where it is referenced, as hex digits (`-` for the root).
    pub path: String,
}

impl From<&MissingEntry> for MissingReport {
    fn from(entry: &MissingEntry) -> Self {
        MissingReport {
            hash: format!("{:?}", entry.hash),
            kind: if entry.raw { "code" } else { "trie node" },
            path: nibble_path(&entry.path),
        }
    }
}

/// A nibble path as hex digits, `-` for the root's.
pub(crate) fn nibble_path(path: &[u8]) -> String {
    let path: String =
        path.iter().map(|nibble| char::from_digit(u32::from(*nibble), 16).unwrap_or('?')).collect();
    if path.is_empty() {
        "-".into()
    } else {
        path
    }
}

/// Walks the state at `root` in `store`, recording up to `max_missing` missing entries.
///
/// A gap is not an error here (the report says what is missing; see [`VerifyReport::complete`]); a
/// stored blob that does not match its hash or decode is [`Error::Damaged`].
///
/// A storage engine that panics during the walk is [`Error::EngineFailed`] (exit 1, naming
/// `sync --repair` and a new directory), not a crash of the caller. `verify` opens redb read-only so
/// it can run beside `serve` processes, and redb cannot check a file's pages without a writable open;
/// redb documents that a file damaged outside it may then make it panic (a flipped 4 KiB page does:
/// "entered unreachable code" in its B-tree lookup). The panic is caught here, at the verify
/// boundary, rather than answered by falling back to a writable open with redb's integrity check:
/// that open would be refused while any `serve` holds the file, and its check may write (it repairs
/// what it can), which is `sync --repair`'s job, not a read-only command's; the message sends the
/// user there. The panic is silenced only on the walking thread (a hook installed once per process
/// passes every other panic to the hook it replaced). After [`Error::EngineFailed`] the store may be
/// in any state: drop it.
pub fn verify(store: &dyn KeyValueStore, root: H256, max_missing: usize) -> Result<VerifyReport> {
    let started = Instant::now();
    let walked = catch_engine_panic(|| walk(store, root, &mut AccountLeafCallback, max_missing))
        .map_err(|detail| {
            tracing::debug!(target: "statesync::verify", ?root, %detail, "the storage engine panicked during the walk");
            Error::EngineFailed { root, detail }
        })?
        .map_err(|source| match source {
            trie_sync::WalkError::Store(error) => Error::Store(error),
            source => Error::Damaged { root, source },
        })?;
    Ok(VerifyReport {
        root: format!("{root:?}"),
        complete: walked.is_complete(),
        accounts: walked.watched_leaves,
        storage_slots: walked.other_leaves,
        nodes: walked.nodes,
        codes: walked.raw_entries,
        bytes: walked.bytes,
        missing_count: walked.missing_count,
        missing: walked.missing.iter().map(MissingReport::from).collect(),
        elapsed: started.elapsed(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A store whose reads panic, as redb's do on a page damaged outside it.
    struct PanickingStore;

    impl KeyValueStore for PanickingStore {
        fn get(&self, _: kvdb::Namespace, _: &[u8]) -> kvdb::Result<Option<Vec<u8>>> {
            panic!("Invalid page type byte")
        }

        fn write(&self, _: kvdb::WriteBatch) -> kvdb::Result<()> {
            Ok(())
        }

        fn for_each(&self, _: kvdb::Namespace, _: &mut dyn FnMut(&[u8], &[u8])) -> kvdb::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn a_panicking_engine_is_a_damaged_database_not_a_crash() {
        let root = H256::repeat_byte(7);
        let error = verify(&PanickingStore, root, 10).expect_err("the walk cannot read");
        assert!(matches!(&error, Error::EngineFailed { root: r, .. } if *r == root), "{error:?}");
        assert!(error.is_store_damage());
        assert_eq!(error.exit_code(), crate::EXIT_FAILURE);
        let message = error.to_string();
        assert!(message.contains("Invalid page type byte"), "{message}");
        assert!(message.contains("src/verify.rs"), "the panic's location: {message}");
        assert!(message.contains("start over with a new --db directory"), "{message}");
        assert!(!crate::engine_panic::is_catching(), "the flag is reset");
    }

    /// `verify` without `--root`, `serve` and `sync` read the recorded root before any walk: a
    /// panic there is a damaged database too, not a crash.
    #[test]
    fn a_panicking_engine_reading_the_recorded_root_is_a_damaged_database() {
        let error = crate::recorded_root(&PanickingStore).expect_err("the engine cannot read");
        assert!(matches!(&error, Error::RecordedRootUnreadable { .. }), "{error:?}");
        assert!(error.is_store_damage());
        assert_eq!(error.exit_code(), crate::EXIT_FAILURE);
        let message = error.to_string();
        assert!(message.contains("Invalid page type byte"), "{message}");
        assert!(message.contains("sync --repair"), "{message}");
        assert!(!crate::engine_panic::is_catching(), "the flag is reset");
    }
}
