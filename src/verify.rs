//! `statesync verify`: walk a stored state from its root, re-hashing everything.

use std::time::{Duration, Instant};

use kvdb::KeyValueStore;
use trie_sync::{walk, AccountLeafCallback, MissingEntry, H256};

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
pub fn verify(store: &dyn KeyValueStore, root: H256, max_missing: usize) -> Result<VerifyReport> {
    let started = Instant::now();
    let walked = walk(store, root, &mut AccountLeafCallback, max_missing).map_err(|source| match source {
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
