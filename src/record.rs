//! What a sync reported durable, kept in a small file beside the database: a resumed sync compares
//! it with what the database holds, and says so when the store rolled back further than a crash
//! should take it.

use std::path::{Path, PathBuf};

use downloader::Checkpoint;
use kvdb::KeyValueStore;

use crate::{Result, H256};

/// The file, in the database directory.
pub const PROGRESS_RECORD_FILE: &str = "sync-progress";

/// What the last sync into a database reported as durable.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProgressRecord {
    /// The root it was syncing.
    pub root: H256,
    /// Entries committed in all (earlier syncs included) as of its last durable commit.
    pub durable_entries: u64,
}

impl ProgressRecord {
    /// The record at `path`, if there is a readable one (a damaged or foreign file reads as none:
    /// it only informs a message).
    pub fn read(path: &Path) -> Option<Self> {
        let text = std::fs::read_to_string(path).ok()?;
        let mut root = None;
        let mut durable_entries = None;
        for line in text.lines() {
            match line.split_once('=') {
                Some(("root", value)) => root = crate::parse_root(value).ok(),
                Some(("durable_entries", value)) => durable_entries = value.parse().ok(),
                _ => {}
            }
        }
        Some(Self { root: root?, durable_entries: durable_entries? })
    }

    /// Writes the record at `path` (through a temporary file and a rename, so a crash leaves the
    /// old record or the new one).
    pub fn write(&self, path: &Path) -> std::io::Result<()> {
        let temporary = path.with_extension("tmp");
        let text = format!("root={:?}\ndurable_entries={}\n", self.root, self.durable_entries);
        std::fs::write(&temporary, text)?;
        std::fs::rename(&temporary, path)
    }
}

/// How a resumed sync found the database against what the last run reported durable.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct Recovery {
    /// Entries the database holds from earlier syncs (its checkpoint).
    pub found: u64,
    /// Entries the last run reported durable.
    pub reported: u64,
}

impl Recovery {
    /// Whether the store rolled back past what was reported durable (a crash should never take
    /// durable commits back: the storage engine fell back to an older commit).
    pub fn rolled_back(&self) -> bool {
        self.found < self.reported
    }
}

/// Compares the database with the record of the last sync of `root` (in `record`'s file), logging
/// what it finds: how much was recovered, and a warning if the store rolled back.
pub fn check_recovery(
    store: &dyn KeyValueStore,
    root: H256,
    record: Option<&PathBuf>,
) -> Result<Option<Recovery>> {
    let Some(last) = record.and_then(|path| ProgressRecord::read(path)) else { return Ok(None) };
    let found = Checkpoint::read(store)?.map_or(0, |checkpoint| checkpoint.entries());
    if last.root != root {
        return Ok(None);
    }
    let recovery = Recovery { found, reported: last.durable_entries };
    if recovery.rolled_back() {
        tracing::warn!(
            target: "statesync::sync",
            found,
            reported = last.durable_entries,
            lost = last.durable_entries - found,
            "the database rolled back past what the last run made durable: the lost entries are fetched again"
        );
    } else {
        tracing::info!(target: "statesync::sync", found, reported = last.durable_entries, "resuming: every entry the last run made durable is there");
    }
    Ok(Some(recovery))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_record_round_trips_and_garbage_reads_as_none() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(PROGRESS_RECORD_FILE);
        assert_eq!(ProgressRecord::read(&path), None);
        let record = ProgressRecord { root: H256::repeat_byte(9), durable_entries: 1234 };
        record.write(&path).unwrap();
        assert_eq!(ProgressRecord::read(&path), Some(record));
        std::fs::write(&path, b"not a record").unwrap();
        assert_eq!(ProgressRecord::read(&path), None);
    }

    #[test]
    fn a_store_behind_the_record_rolled_back() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(PROGRESS_RECORD_FILE);
        let root = H256::repeat_byte(1);
        ProgressRecord { root, durable_entries: 50 }.write(&path).unwrap();
        let store = kvdb::MemoryStore::new();
        let recovery = check_recovery(&store, root, Some(&path)).unwrap().expect("a record of this root");
        assert_eq!(recovery, Recovery { found: 0, reported: 50 });
        assert!(recovery.rolled_back());
        assert_eq!(check_recovery(&store, H256::repeat_byte(2), Some(&path)).unwrap(), None, "another root");
    }
}
