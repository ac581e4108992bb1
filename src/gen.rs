//! `statesync gen`: write a state into a database, from a synthetic generator or a genesis file.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use kvdb::{KeyValueStore, Namespace, WriteBatch};
use trie_sync::{NodeHash, SyntheticConfig, SyntheticState};

use crate::store::{record_root, recorded_root};
use crate::{Error, GenesisState, Result, StoreLocation, H256};

/// Entries per write batch: large enough to amortise a commit, small enough to bound memory.
const ENTRIES_PER_BATCH: usize = 20_000;

/// Where a state comes from.
#[derive(Debug, Clone, PartialEq)]
pub enum StateSource {
    /// A reproducible synthetic state.
    Synthetic(SyntheticConfig),
    /// The `alloc` of a go-ethereum style genesis file.
    Genesis(PathBuf),
}

/// What `gen` wrote.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct GenReport {
    /// The state root, `0x` and 64 hex digits.
    pub root: String,
    /// Accounts in the state.
    pub accounts: u64,
    /// Accounts with code.
    pub contracts: u64,
    /// Storage slots over the distinct storage tries.
    pub storage_slots: u64,
    /// Distinct trie nodes written.
    pub nodes: u64,
    /// Distinct code blobs written.
    pub codes: u64,
    /// Bytes of nodes and code written (0 when `already_present`).
    pub bytes: u64,
    /// The database already held exactly this state, complete, so nothing was written.
    pub already_present: bool,
    /// Time taken, generation and writing.
    #[serde(serialize_with = "crate::report::serialize_secs")]
    pub elapsed: Duration,
}

/// A generated state, before it is written.
struct BuiltState {
    root: NodeHash,
    nodes: Vec<(NodeHash, Vec<u8>)>,
    codes: Vec<(NodeHash, Vec<u8>)>,
    accounts: u64,
    contracts: u64,
    storage_slots: u64,
}

/// Builds the state `source` describes and writes it into `store`, the root node last (so a present
/// root means a complete state, as sync assumes), with the root recorded as the one the database holds.
///
/// `store` must hold no trie nodes and no code: what is there may be the remains of an interrupted
/// `gen` (a storage-trie root without its children, which a later `sync` would take for complete), so
/// anything else fails with [`Error::NotEmpty`] naming `location`, before anything is written. The
/// exception is a store that already holds exactly this state, recorded as complete: then nothing is
/// written and the report says [`GenReport::already_present`].
pub fn generate(
    store: &dyn KeyValueStore,
    source: &StateSource,
    location: &StoreLocation,
) -> Result<GenReport> {
    let started = Instant::now();
    let held = held_state(store, location)?;
    let state = match source {
        StateSource::Synthetic(config) => {
            let state = SyntheticState::generate(config)?;
            BuiltState {
                root: state.root,
                accounts: state.stats.accounts as u64,
                contracts: state.stats.contracts as u64,
                storage_slots: state.stats.storage_slots as u64,
                nodes: state.nodes.into_iter().collect(),
                codes: state.codes.into_iter().collect(),
            }
        }
        StateSource::Genesis(path) => {
            let state = GenesisState::read(path)?;
            let mut nodes = state.nodes;
            nodes.sort_unstable_by_key(|(hash, _)| *hash);
            nodes.dedup_by_key(|(hash, _)| *hash);
            BuiltState {
                root: state.root,
                accounts: state.accounts as u64,
                contracts: state.contracts as u64,
                storage_slots: state.storage_slots as u64,
                codes: state.codes.into_iter().collect(),
                nodes,
            }
        }
    };
    tracing::debug!(target: "statesync::gen", nodes = state.nodes.len(), codes = state.codes.len(), "built");
    if let Some(held) = held {
        if held != state.root {
            return Err(Error::NotEmpty { database: location.describe(), holds: Some(held) });
        }
    }
    let mut report = GenReport {
        root: format!("{:?}", state.root),
        accounts: state.accounts,
        contracts: state.contracts,
        storage_slots: state.storage_slots,
        nodes: state.nodes.len() as u64,
        codes: state.codes.len() as u64,
        bytes: 0,
        already_present: held.is_some(),
        elapsed: Duration::ZERO,
    };
    if report.already_present {
        tracing::debug!(target: "statesync::gen", root = %report.root, "already present");
        report.elapsed = started.elapsed();
        return Ok(report);
    }
    let root_node = state.nodes.iter().position(|(hash, _)| *hash == state.root);
    let mut batch = WriteBatch::with_capacity(ENTRIES_PER_BATCH);
    let flush_if_full = |batch: &mut WriteBatch, force: bool| -> Result<()> {
        if force || batch.len() >= ENTRIES_PER_BATCH {
            store.write(std::mem::take(batch))?;
        }
        Ok(())
    };
    for (hash, code) in &state.codes {
        report.bytes += code.len() as u64;
        batch.put(Namespace::Code, hash.as_bytes().to_vec(), code.clone());
        flush_if_full(&mut batch, false)?;
    }
    for (index, (hash, node)) in state.nodes.iter().enumerate() {
        report.bytes += node.len() as u64;
        if Some(index) == root_node {
            continue;
        }
        batch.put(Namespace::TrieNodes, hash.as_bytes().to_vec(), node.clone());
        flush_if_full(&mut batch, false)?;
    }
    flush_if_full(&mut batch, true)?;
    if let Some(index) = root_node {
        let (hash, node) = &state.nodes[index];
        batch.put(Namespace::TrieNodes, hash.as_bytes().to_vec(), node.clone());
    }
    record_root(&mut batch, state.root);
    store.write(batch)?;
    store.flush()?;
    report.elapsed = started.elapsed();
    Ok(report)
}

/// The complete state `store` holds, if it holds any trie node or code: `None` for an empty store,
/// `Some(root)` for one whose recorded root node is present; [`Error::NotEmpty`] for anything else.
fn held_state(store: &dyn KeyValueStore, location: &StoreLocation) -> Result<Option<H256>> {
    if store.count(Namespace::TrieNodes)? == 0 && store.count(Namespace::Code)? == 0 {
        return Ok(None);
    }
    match recorded_root(store)? {
        Some(root) if store.contains(Namespace::TrieNodes, root.as_bytes())? => Ok(Some(root)),
        _ => Err(Error::NotEmpty { database: location.describe(), holds: None }),
    }
}
