//! `statesync gen`: write a state into a database, from a synthetic generator or a genesis file.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use kvdb::{KeyValueStore, Namespace, WriteBatch};
use serde_json::{Map, Value};
use trie_sync::{NodeHash, SyntheticConfig, SyntheticItem, SyntheticState, EMPTY_CODE_HASH};

use crate::spill::SortedSpill;
use crate::store::{record_root, recorded_root};
use crate::{Backend, Error, GenesisError, GenesisState, Result, StoreLocation, H256};

/// Entries per write batch: large enough to amortise a commit, small enough to bound memory.
const ENTRIES_PER_BATCH: usize = 20_000;

/// Bytes of entries `gen` buffers before it sorts them into a temporary file: with the generator's
/// ~40 bytes per account, this bounds gen's memory whatever the state's size. The state is generated
/// in trie order and written in key order, merged back from those files (one per this many bytes).
const SORT_BUDGET_BYTES: usize = 64 << 20;

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

/// A generated state, its entries aside.
struct BuiltState {
    root: NodeHash,
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
///
/// A synthetic state is never held whole: it is generated in key order of its accounts
/// ([`SyntheticState::stream`], about 40 bytes of memory per account), sorted by key through
/// unnamed temporary files in `location`'s directory (the system's temporary directory for a store
/// in memory; [`Error::Spill`] if they cannot be written) with a fixed buffer, and written in key
/// order, which a B-tree store takes as appends.
pub fn generate(
    store: &dyn KeyValueStore,
    source: &StateSource,
    location: &StoreLocation,
) -> Result<GenReport> {
    generate_sorting_in(store, source, location, SORT_BUDGET_BYTES)
}

/// [`generate`], buffering `sort_budget` bytes of entries per temporary file.
fn generate_sorting_in(
    store: &dyn KeyValueStore,
    source: &StateSource,
    location: &StoreLocation,
    sort_budget: usize,
) -> Result<GenReport> {
    let started = Instant::now();
    let held = held_state(store, location)?;
    let mut entries = SortedSpill::new(sort_dir(location), sort_budget);
    let state = match source {
        StateSource::Synthetic(config) => {
            let summary = SyntheticState::stream(config, |item| match item {
                SyntheticItem::Node { hash, rlp } => entries.push(Namespace::TrieNodes, hash, rlp),
                SyntheticItem::Code { hash, code } => entries.push(Namespace::Code, hash, code),
                SyntheticItem::Storage { .. } | SyntheticItem::Account(_) => Ok(()),
            })?;
            BuiltState {
                root: summary.root,
                accounts: summary.stats.accounts as u64,
                contracts: summary.stats.contracts as u64,
                storage_slots: summary.stats.storage_slots as u64,
            }
        }
        StateSource::Genesis(path) => {
            let state = GenesisState::read(path)?;
            for (hash, node) in &state.nodes {
                entries.push(Namespace::TrieNodes, *hash, node)?;
            }
            for (hash, code) in &state.codes {
                entries.push(Namespace::Code, *hash, code)?;
            }
            BuiltState {
                root: state.root,
                accounts: state.accounts as u64,
                contracts: state.contracts as u64,
                storage_slots: state.storage_slots as u64,
            }
        }
    };
    tracing::debug!(target: "statesync::gen", root = ?state.root, "built");
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
        nodes: 0,
        codes: 0,
        bytes: 0,
        already_present: held.is_some(),
        elapsed: Duration::ZERO,
    };
    // Entries come sorted and each once, so they are counted here; a state already present is only
    // counted. The root node is held back for the last write.
    let writing = !report.already_present;
    let mut batch = WriteBatch::with_capacity(ENTRIES_PER_BATCH);
    let mut root_node = None;
    let mut bytes = 0;
    entries.drain(|namespace, hash, value| {
        if namespace == Namespace::Code {
            report.codes += 1;
        } else {
            report.nodes += 1;
        }
        bytes += value.len() as u64;
        if !writing {
            return Ok(());
        }
        if namespace == Namespace::TrieNodes && hash == state.root {
            root_node = Some(value.to_vec());
            return Ok(());
        }
        batch.put(namespace, hash.as_bytes().to_vec(), value.to_vec());
        if batch.len() >= ENTRIES_PER_BATCH {
            store.write(std::mem::take(&mut batch))?;
        }
        Ok(())
    })?;
    tracing::debug!(target: "statesync::gen", nodes = report.nodes, codes = report.codes, "counted");
    if report.already_present {
        tracing::debug!(target: "statesync::gen", root = %report.root, "already present");
        report.elapsed = started.elapsed();
        return Ok(report);
    }
    report.bytes = bytes;
    store.write(std::mem::take(&mut batch))?;
    if let Some(node) = root_node {
        batch.put(Namespace::TrieNodes, state.root.as_bytes().to_vec(), node);
    }
    record_root(&mut batch, state.root);
    store.write(batch)?;
    store.flush()?;
    report.elapsed = started.elapsed();
    Ok(report)
}

/// Where `gen` sorts a state through temporary files: the database directory, on the disk the state
/// is going to anyway; the system's temporary directory for a store in memory.
fn sort_dir(location: &StoreLocation) -> PathBuf {
    match (location.backend, &location.dir) {
        (Backend::Memory, _) | (_, None) => std::env::temp_dir(),
        (_, Some(dir)) => dir.clone(),
    }
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

/// Chain id, and the network id to run a node with, of the private chain that [`export_genesis`]
/// writes: not a public network's, so a node started from the file never meets a public peer.
pub const EXPORT_CHAIN_ID: u64 = 1337;

/// What `gen --export-genesis` wrote.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ExportReport {
    /// The genesis file.
    pub path: PathBuf,
    /// The state root the file's `alloc` gives, `0x` and 64 hex digits.
    pub root: String,
    /// Accounts in `alloc`.
    pub accounts: u64,
    /// Accounts with code.
    pub contracts: u64,
    /// Storage slots over the distinct storage tries (an account sharing another's storage trie
    /// repeats its slots in the file but not in this count, as in `gen`'s).
    pub storage_slots: u64,
    /// Distinct trie nodes of the state.
    pub nodes: u64,
    /// Distinct code blobs of the state.
    pub codes: u64,
    /// Size of the file.
    pub bytes: u64,
    /// Time taken, generation and writing.
    #[serde(serialize_with = "crate::report::serialize_secs")]
    pub elapsed: Duration,
}

/// Writes the synthetic state `config` describes as a go-ethereum genesis file at `path` (replacing
/// it), so that another client loads the very state `gen` generates: `geth init` of the file gives
/// the root `gen --accounts` gives, and `gen --genesis` of it the same root and counts.
///
/// The chain is a private one ([`genesis_chain_config`]), merged from its genesis block. A file that
/// cannot be written is [`GenesisError::Write`].
pub fn export_genesis(config: &SyntheticConfig, path: &Path) -> Result<ExportReport> {
    let started = Instant::now();
    let state = SyntheticState::generate(config)?;
    let genesis = synthetic_genesis(&state);
    let write_error = |source| Error::Genesis(GenesisError::Write { path: path.into(), source });
    let text = serde_json::to_vec_pretty(&genesis).map_err(|e| write_error(e.into()))?;
    std::fs::write(path, &text).map_err(write_error)?;
    Ok(ExportReport {
        path: path.into(),
        root: format!("{:?}", state.root),
        accounts: state.stats.accounts as u64,
        contracts: state.stats.contracts as u64,
        storage_slots: state.stats.storage_slots as u64,
        nodes: state.nodes.len() as u64,
        codes: state.codes.len() as u64,
        bytes: text.len() as u64,
        elapsed: started.elapsed(),
    })
}

/// The genesis file of `state`: [`genesis_chain_config`] and a genesis block whose `alloc` is exactly
/// the state.
///
/// Each account lists `balance` and `nonce` as `0x` quantities, `code` when it has some, and its
/// storage trie's slots as full 32-byte words, slot index to value. go-ethereum hashes the address
/// and the slot index into the trie keys and stores a value as the RLP of its bytes without leading
/// zeros, as the generator does; a value is never zero, which a genesis file could not express (zero
/// is no entry). Accounts that share a storage trie in the generator list the same slots, which gives
/// the same, hash-keyed, subtrie.
pub fn synthetic_genesis(state: &SyntheticState) -> Value {
    let storages: Vec<Map<String, Value>> = state
        .storages
        .iter()
        .map(|storage| {
            storage
                .slots
                .iter()
                .map(|(slot, value)| {
                    let word = format!("0x{}", hex::encode(value.to_big_endian()));
                    (format!("0x{}", hex::encode(slot)), Value::String(word))
                })
                .collect()
        })
        .collect();
    let mut alloc = Map::new();
    for entry in &state.accounts {
        let account = &entry.account;
        let mut fields = Map::new();
        fields.insert("balance".into(), format!("{:#x}", account.balance).into());
        fields.insert("nonce".into(), format!("{:#x}", account.nonce).into());
        if account.code_hash != EMPTY_CODE_HASH {
            let code = &state.codes[&account.code_hash];
            fields.insert("code".into(), format!("0x{}", hex::encode(code)).into());
        }
        if let Some(index) = entry.storage {
            fields.insert("storage".into(), Value::Object(storages[index].clone()));
        }
        alloc.insert(format!("0x{}", hex::encode(entry.address)), Value::Object(fields));
    }
    let mut genesis = genesis_header();
    genesis.insert("config".into(), genesis_chain_config());
    genesis.insert("alloc".into(), Value::Object(alloc));
    Value::Object(genesis)
}

/// The `config` of an exported genesis file: chain [`EXPORT_CHAIN_ID`], every fork up to Shanghai
/// active from block 0 (time 0), and merged at genesis (terminal total difficulty 0, already passed).
/// go-ethereum v1.13.2 (the last serving `GetNodeData`) and v1.17 both load it and compute the same
/// genesis block; v1.17 refuses a chain without a terminal total difficulty ("Geth only supports PoS
/// networks"). Cancun is left out: v1.17 would then require a `blobSchedule` that v1.13 does not
/// know, and the state does not depend on it.
pub fn genesis_chain_config() -> Value {
    let mut config = Map::new();
    config.insert("chainId".into(), EXPORT_CHAIN_ID.into());
    for fork in [
        "homesteadBlock",
        "eip150Block",
        "eip155Block",
        "eip158Block",
        "byzantiumBlock",
        "constantinopleBlock",
        "petersburgBlock",
        "istanbulBlock",
        "muirGlacierBlock",
        "berlinBlock",
        "londonBlock",
        "arrowGlacierBlock",
        "grayGlacierBlock",
        "mergeNetsplitBlock",
    ] {
        config.insert(fork.into(), 0.into());
    }
    config.insert("shanghaiTime".into(), 0.into());
    config.insert("terminalTotalDifficulty".into(), 0.into());
    config.insert("terminalTotalDifficultyPassed".into(), true.into());
    Value::Object(config)
}

/// The genesis block's header fields of an exported file: zero difficulty (merged at genesis), a
/// 30M gas limit and London's initial base fee, everything else zero.
pub(crate) fn genesis_header() -> Map<String, Value> {
    let zero_hash = format!("0x{}", "0".repeat(64));
    let zero_address = format!("0x{}", "0".repeat(40));
    [
        ("nonce", "0x0"),
        ("timestamp", "0x0"),
        ("extraData", "0x"),
        ("gasLimit", "0x1c9c380"),
        ("difficulty", "0x0"),
        ("baseFeePerGas", "0x3b9aca00"),
        ("mixHash", zero_hash.as_str()),
        ("coinbase", zero_address.as_str()),
    ]
    .into_iter()
    .map(|(field, value)| (field.to_string(), Value::String(value.into())))
    .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    fn stored(store: &dyn KeyValueStore, namespace: Namespace) -> BTreeMap<NodeHash, Vec<u8>> {
        let mut entries = BTreeMap::new();
        store
            .for_each(namespace, &mut |key, value| {
                entries.insert(NodeHash::from_slice(key), value.to_vec());
            })
            .unwrap();
        entries
    }

    #[test]
    fn gen_writes_exactly_the_in_memory_state_however_it_sorts() {
        let dir = tempfile::tempdir().unwrap();
        let configs = [
            SyntheticConfig::new(1, 0),
            SyntheticConfig { contract_fraction: 1.0, ..SyntheticConfig::new(2, 1) },
            SyntheticConfig { max_slots: 200, ..SyntheticConfig::new(3, 700) },
        ];
        for (index, config) in configs.iter().enumerate() {
            let state = SyntheticState::generate(config).unwrap();
            let source = StateSource::Synthetic(config.clone());
            // In memory (one run), and through many temporary files in a redb database's directory.
            let memory = StoreLocation { backend: Backend::Memory, dir: None, cache_bytes: None };
            let redb = StoreLocation::redb(dir.path().join(index.to_string()));
            for (location, budget) in [(memory, SORT_BUDGET_BYTES), (redb, 4 << 10)] {
                let store = location.open_for_gen().unwrap();
                let report = generate_sorting_in(store.as_ref(), &source, &location, budget).unwrap();
                assert_eq!(stored(store.as_ref(), Namespace::TrieNodes), state.nodes, "{config:?}");
                assert_eq!(stored(store.as_ref(), Namespace::Code), state.codes, "{config:?}");
                assert_eq!(recorded_root(store.as_ref()).unwrap(), Some(state.root));
                let bytes = state.nodes.values().chain(state.codes.values()).map(Vec::len).sum::<usize>();
                assert_eq!(
                    (report.root, report.nodes, report.codes, report.bytes, report.already_present),
                    (
                        format!("{:?}", state.root),
                        state.nodes.len() as u64,
                        state.codes.len() as u64,
                        bytes as u64,
                        false
                    )
                );
                assert_eq!(
                    (report.accounts, report.contracts, report.storage_slots),
                    (config.accounts as u64, state.stats.contracts as u64, state.stats.storage_slots as u64)
                );
                // Again: nothing written, the same counts (a store of the empty state holds nothing,
                // so it is written again, as ever).
                let again = generate_sorting_in(store.as_ref(), &source, &location, budget).unwrap();
                assert_eq!(again.already_present, config.accounts > 0);
                assert_eq!((again.nodes, again.codes), (report.nodes, report.codes));
                assert_eq!(again.bytes, if again.already_present { 0 } else { report.bytes });
            }
            assert_eq!(
                std::fs::read_dir(dir.path().join(index.to_string())).unwrap().count(),
                1,
                "only the database"
            );
        }
    }

    #[test]
    fn the_exported_alloc_is_the_synthetic_state() {
        let config =
            SyntheticConfig { contract_fraction: 0.5, max_slots: 100, ..SyntheticConfig::new(3, 300) };
        let state = SyntheticState::generate(&config).unwrap();
        let text = synthetic_genesis(&state).to_string();
        let reread = GenesisState::parse(&text, Path::new("exported.json")).unwrap();
        assert_eq!(reread.root, state.root);
        assert_eq!((reread.accounts, reread.contracts), (state.stats.accounts, state.stats.contracts));
        let mut nodes: Vec<NodeHash> = reread.nodes.iter().map(|(hash, _)| *hash).collect();
        nodes.sort_unstable();
        nodes.dedup();
        assert_eq!(nodes, state.nodes.keys().copied().collect::<Vec<_>>());
        assert_eq!(reread.codes, state.codes);
        assert!(state.stats.storage_tries < state.stats.contracts_with_storage, "no storage trie is shared");
    }
}
