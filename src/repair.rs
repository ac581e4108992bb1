//! `statesync sync --repair`: remove what is damaged in a stored state, so the sync that follows
//! fetches exactly that again.
//!
//! A sync stops at every stored node, trusting that its whole subtrie is stored (the commit-order
//! invariant). A damaged entry breaks that trust for every stored node above it, so [`repair`]
//! deletes the damaged entries and all those ancestors in one atomic batch; an ordinary sync of the
//! same root then goes down each damaged path, fetches the few nodes on it and the damaged subtries,
//! and skips every intact sibling because it is stored.

use std::collections::HashSet;
use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use downloader::Checkpoint;
use kvdb::{KeyValueStore, Namespace, WriteBatch};
use trie_sync::{
    find_damage, keccak256, namespace_of, AccountLeafCallback, DamagedEntry, EntryKind, WalkError,
};

use crate::store::{recorded_root, HEAD_ROOT_KEY};
use crate::verify::nibble_path;
use crate::{sync, Error, Result, SyncOptions, SyncStatus, SyncSummary, H256};

/// What a repair found and removed.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct RepairReport {
    /// The state root walked.
    pub root: String,
    /// Damaged entries the walk found, each once: missing, not matching their hash, not decoding,
    /// or on a page the store reports corrupt.
    pub damaged: u64,
    /// Of those, how many were missing (nothing to delete).
    pub missing: u64,
    /// Intact stored trie nodes with damage below them, removed so that the sync goes down to it:
    /// the paths from the root to each damaged entry, through the account leaf of a damaged storage
    /// trie or code (of every account that has it).
    pub ancestors: u64,
    /// Stored entries not matching their hash that the walk could not reach (below other damage, or
    /// of another state), found by a scan of the whole database, removed.
    pub corrupt_elsewhere: u64,
    /// Entries removed in all: the stored damaged ones, the ancestors, the corrupt ones elsewhere.
    pub removed: u64,
    /// Whether the scan for corrupt entries read the whole database. It runs only when the walk
    /// found damage; `false` then means the store reported a corrupt page during it (run the repair
    /// again if `verify` still finds damage after the sync).
    pub scanned: bool,
    /// Trie nodes the walk read intact (the last walk's, after [`repair_and_sync`]).
    pub nodes_walked: u64,
    /// Walks made: one for [`repair`]; for [`repair_and_sync`], one per sync plus the last one,
    /// which found nothing damaged.
    pub walks: u32,
    /// The first damaged entries, in walk order.
    pub entries: Vec<DamagedReport>,
    /// Time the walk, the scan and the removal took.
    #[serde(serialize_with = "crate::report::serialize_secs")]
    pub elapsed: Duration,
}

impl RepairReport {
    /// Whether nothing was damaged (and nothing was removed).
    pub fn is_clean(&self) -> bool {
        self.damaged == 0
    }

    /// How many entries the sync that follows must fetch at least: the damaged ones and their
    /// ancestors. It fetches more only where entries below a damaged node were damaged too (the walk
    /// cannot see below one).
    pub fn to_fetch(&self) -> u64 {
        self.damaged + self.ancestors
    }
}

/// One damaged entry, for people and JSON.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct DamagedReport {
    /// Its hash, `0x` and 64 hex digits.
    pub hash: String,
    /// `"trie node"` or `"code"`.
    pub kind: &'static str,
    /// What is wrong with it: `missing`, `hashes to 0x…`, `malformed: …`, `unreadable (…)`.
    pub damage: String,
    /// The nibble path where it is referenced, as hex digits (`-` for the root).
    pub path: String,
}

impl From<&DamagedEntry> for DamagedReport {
    fn from(entry: &DamagedEntry) -> Self {
        DamagedReport {
            hash: format!("{:?}", entry.hash),
            kind: match entry.kind {
                EntryKind::TrieNode => "trie node",
                EntryKind::RawEntry => "code",
            },
            damage: entry.damage.to_string(),
            path: nibble_path(&entry.path),
        }
    }
}

/// Makes the state at `root` in `store` ready to be repaired by a sync of the same root: walks it
/// from the root re-hashing everything, then, if anything is damaged, in one atomic batch deletes
/// every damaged entry, every stored node above one, and every stored entry that does not match its
/// hash (a scan of the whole database finds those the walk cannot reach), marks the sync checkpoint
/// incomplete, and unrecords `root` as the state held completely. Lists the first `max_listed`
/// damaged entries.
///
/// Nothing is written when nothing is damaged. A crash leaves the store as it was or wholly
/// prepared; either way, running the repair again (or the sync) carries on.
///
/// Errors: [`Error::Store`] if the store fails; [`Error::Damaged`] if a leaf of a node that matches
/// its hash does not decode (the state itself is malformed: fetching it again cannot help).
pub fn repair(store: &dyn KeyValueStore, root: H256, max_listed: usize) -> Result<RepairReport> {
    let started = Instant::now();
    let found = find_damage(store, root, &mut AccountLeafCallback).map_err(|source| match source {
        WalkError::Store(error) => Error::Store(error),
        source => Error::Damaged { root, source },
    })?;
    let mut report = RepairReport {
        root: format!("{root:?}"),
        damaged: found.damaged.len() as u64,
        missing: found.damaged.iter().filter(|entry| !entry.damage.is_stored()).count() as u64,
        ancestors: found.ancestors.len() as u64,
        corrupt_elsewhere: 0,
        removed: 0,
        scanned: false,
        nodes_walked: found.nodes,
        walks: 1,
        entries: found.damaged.iter().take(max_listed).map(DamagedReport::from).collect(),
        elapsed: Duration::ZERO,
    };
    if found.is_clean() {
        report.elapsed = started.elapsed();
        return Ok(report);
    }

    let mut batch = WriteBatch::new();
    report.removed = found.delete_damaged(&mut batch);
    // Below a damaged node the walk sees nothing, and a corrupt entry there would be trusted by the
    // sync (it is stored); the scan finds those.
    let known: HashSet<(Namespace, &[u8])> =
        found.damaged.iter().map(|entry| (namespace_of(entry.kind), entry.hash.as_bytes())).collect();
    report.scanned = true;
    for namespace in [Namespace::TrieNodes, Namespace::Code] {
        let mut corrupt = Vec::new();
        let scanned = store.for_each(namespace, &mut |key, value| {
            if keccak256(value).as_bytes() != key && !known.contains(&(namespace, key)) {
                corrupt.push(key.to_vec());
            }
        });
        match scanned {
            Ok(()) => {}
            Err(kvdb::Error::Corrupted { backend, detail }) => {
                tracing::warn!(target: "statesync::repair", %namespace, backend, detail, "scan for corrupt entries stopped at a corrupt page");
                report.scanned = false;
            }
            Err(error) => return Err(error.into()),
        }
        report.corrupt_elsewhere += corrupt.len() as u64;
        for key in corrupt {
            batch.delete(namespace, key);
        }
    }
    report.removed += report.corrupt_elsewhere;
    if let Some(mut checkpoint) = Checkpoint::read(store)? {
        if checkpoint.complete {
            checkpoint.complete = false;
            checkpoint.put(&mut batch);
        }
    }
    if recorded_root(store)? == Some(root) {
        batch.delete(Namespace::Meta, HEAD_ROOT_KEY.to_vec());
    }
    store.write(batch)?;
    store.flush()?;
    tracing::info!(
        target: "statesync::repair",
        ?root,
        damaged = report.damaged,
        ancestors = report.ancestors,
        corrupt_elsewhere = report.corrupt_elsewhere,
        removed = report.removed,
        "removed the damaged entries and the nodes above them"
    );
    report.elapsed = started.elapsed();
    Ok(report)
}

/// Syncs after a repair at most this many times: each sync fetches every damaged entry the walk
/// before it could see, so damage hidden below other damage (a missing account leaf whose own
/// storage trie is damaged too) shows up in the next walk, one level deeper each time.
pub const MAX_REPAIR_SYNCS: u32 = 8;

/// `sync --repair`: [`repair`] the state of `options.root` in `store`, [`sync`] it, and walk it again
/// to verify it, repairing and syncing again while that walk finds damage the first one could not
/// see (at most [`MAX_REPAIR_SYNCS`] syncs). The summary adds up the syncs; its
/// [`repair`](SyncSummary::repair) adds up what each walk found and removed.
///
/// The walks are not interruptible; `interrupt` stops a sync as in [`sync`].
///
/// Errors: as [`repair`] and [`sync`]; [`Error::Incomplete`] if damage is still found after the
/// last sync.
pub async fn repair_and_sync(
    store: Arc<dyn KeyValueStore>,
    options: &SyncOptions,
    observe: &mut (dyn FnMut(&SyncStatus) + Send),
    interrupt: impl Future<Output = ()>,
) -> Result<SyncSummary> {
    tokio::pin!(interrupt);
    let root = options.root;
    let walk = |store: Arc<dyn KeyValueStore>| async move {
        tokio::task::spawn_blocking(move || repair(store.as_ref(), root, MAX_LISTED))
            .await
            .map_err(|error| Error::Task(error.to_string()))?
    };
    let mut found = walk(store.clone()).await?;
    let mut total: Option<SyncSummary> = None;
    let mut still_damaged = found.damaged;
    for _ in 0..MAX_REPAIR_SYNCS {
        let synced = sync(store.clone(), options, observe, interrupt.as_mut()).await?;
        let first_clean = total.is_none() && found.is_clean();
        let mut summary = match total.take() {
            None => synced,
            Some(before) => before.then(synced),
        };
        if first_clean {
            // Nothing was damaged and nothing removed: that walk was the verification.
            summary.repair = Some(found);
            return Ok(summary);
        }
        let again = walk(store.clone()).await?;
        still_damaged = again.damaged;
        found = found.then(again);
        if still_damaged == 0 {
            summary.repair = Some(found);
            return Ok(summary);
        }
        total = Some(summary);
    }
    Err(Error::Incomplete { root, missing: still_damaged })
}

/// Damaged entries listed in a report, per walk.
const MAX_LISTED: usize = 10;

impl RepairReport {
    /// This report followed by `next`, a later walk's: counts add up, the listing is the first
    /// entries of both, `nodes_walked` is the later walk's.
    fn then(mut self, next: RepairReport) -> RepairReport {
        self.damaged += next.damaged;
        self.missing += next.missing;
        self.ancestors += next.ancestors;
        self.corrupt_elsewhere += next.corrupt_elsewhere;
        self.removed += next.removed;
        self.scanned &= next.scanned || next.is_clean();
        self.nodes_walked = next.nodes_walked;
        self.walks += next.walks;
        let room = MAX_LISTED.saturating_sub(self.entries.len());
        self.entries.extend(next.entries.into_iter().take(room));
        self.elapsed += next.elapsed;
        self
    }
}

impl SyncSummary {
    /// This sync followed by `next`, another sync of the same root: what was fetched adds up, the
    /// peers are `next`'s.
    fn then(self, next: SyncSummary) -> SyncSummary {
        SyncSummary {
            already_complete: self.already_complete && next.already_complete,
            nodes: self.nodes + next.nodes,
            codes: self.codes + next.codes,
            bytes: self.bytes + next.bytes,
            duplicate: self.duplicate + next.duplicate,
            unexpected: self.unexpected + next.unexpected,
            retried: self.retried + next.retried,
            requests: self.requests + next.requests,
            hedged: self.hedged + next.hedged,
            elapsed: self.elapsed + next.elapsed,
            peers_unreachable: if next.already_complete {
                self.peers_unreachable
            } else {
                next.peers_unreachable
            },
            ..next
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{generate, verify, Backend, OpenMode, StateSource, StoreLocation};
    use trie_sync::SyntheticConfig;

    #[test]
    fn a_clean_state_is_left_alone_and_damage_is_removed_with_its_ancestors() {
        let location = StoreLocation { backend: Backend::Memory, dir: None, cache_bytes: None };
        let store = location.open("gen", OpenMode::Create, false).unwrap();
        let generated =
            generate(store.as_ref(), &StateSource::Synthetic(SyntheticConfig::new(3, 300)), &location)
                .unwrap();
        let root = crate::parse_root(&generated.root).unwrap();
        let clean = repair(store.as_ref(), root, 10).unwrap();
        assert!(clean.is_clean());
        assert_eq!((clean.removed, clean.scanned), (0, false));
        assert_eq!(recorded_root(store.as_ref()).unwrap(), Some(root));

        // Corrupt a code blob: the scan is not needed to find it, but runs; the root is unrecorded.
        let mut code = None;
        store.for_each(Namespace::Code, &mut |key, _| code = code.take().or(Some(key.to_vec()))).unwrap();
        let mut batch = WriteBatch::new();
        batch.put(Namespace::Code, code.clone().unwrap(), b"garbage".to_vec());
        store.write(batch).unwrap();
        let repaired = repair(store.as_ref(), root, 10).unwrap();
        assert_eq!((repaired.damaged, repaired.missing, repaired.corrupt_elsewhere), (1, 0, 0));
        assert!(repaired.scanned);
        assert!(repaired.ancestors >= 2, "at least the root and an account leaf: {repaired:?}");
        assert_eq!(repaired.removed, 1 + repaired.ancestors);
        assert_eq!(repaired.entries[0].kind, "code");
        assert!(repaired.entries[0].damage.starts_with("hashes to 0x"), "{:?}", repaired.entries[0]);
        assert_eq!(store.get(Namespace::Code, &code.unwrap()).unwrap(), None);
        assert_eq!(recorded_root(store.as_ref()).unwrap(), None);
        let walked = verify(store.as_ref(), root, 10).unwrap();
        assert_eq!(walked.missing_count, 1, "only the root is missing now: {walked:?}");
    }
}
