//! What RLPx peers need of us: the chain we are on (for the eth Status handshake) and our node key.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use eth_peer::EthConfig;
use eth_wire::{Chain, Genesis, GethRules};
use rlpx::NodeKey;

use crate::{Error, GenesisState, Result};

/// Where our node key lives in a database directory when `--node-key` is not given: generated once,
/// then reused, so the enode stays the same across runs.
pub const NODE_KEY_FILE: &str = "nodekey";

/// The go-ethereum release whose genesis rules (header fields, which time forks count) we follow.
/// The two differ only for chains with Prague or later active at genesis, or with time forks
/// v1.13.2 does not know; v1.17's are the rules of every current client.
pub const GETH_RULES: GethRules = GethRules::V1_17;

/// The chain an RLPx peer must share with us.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChainSpec {
    /// Ethereum mainnet.
    Mainnet,
    /// A go-ethereum genesis file: its hash (header and state root) and its fork schedule.
    Genesis(PathBuf),
}

/// The chain of `spec`; `network_id` defaults to the genesis file's chain id (as go-ethereum ≥ 1.14
/// does) or 1 for mainnet. Computing a genesis file's hash builds its state trie.
pub fn load_chain(spec: &ChainSpec, network_id: Option<u64>) -> Result<Chain> {
    match spec {
        ChainSpec::Mainnet => {
            let mut chain = Chain::mainnet();
            chain.network_id = network_id.unwrap_or(chain.network_id);
            Ok(chain)
        }
        ChainSpec::Genesis(path) => {
            let text = std::fs::read_to_string(path)
                .map_err(|source| crate::GenesisError::Read { path: path.clone(), source })?;
            let bad = |reason: String| Error::BadChain { path: path.clone(), reason };
            let genesis = Genesis::from_json(&text).map_err(|error| bad(error.to_string()))?;
            let chain_id = genesis.config.as_ref().and_then(|config| config.chain_id);
            let Some(network_id) = network_id.or(chain_id) else {
                return Err(bad("no config.chainId: pass --network-id".into()));
            };
            let state = GenesisState::parse(&text, path)?;
            Ok(Chain::from_genesis(&genesis, state.root, network_id, GETH_RULES))
        }
    }
}

/// Our node key: read from `explicit` (created there if absent), else from [`NODE_KEY_FILE`] in the
/// database directory (created there once), else a new one for this run only.
pub fn load_node_key(explicit: Option<&Path>, db_dir: Option<&Path>) -> Result<NodeKey> {
    let Some(path) = explicit.map(Path::to_path_buf).or_else(|| db_dir.map(|dir| dir.join(NODE_KEY_FILE)))
    else {
        return Ok(NodeKey::generate());
    };
    if path.exists() {
        return NodeKey::load(&path).map_err(|source| Error::NodeKey { path, source });
    }
    let key = NodeKey::generate();
    key.save(&path).map_err(|source| Error::NodeKey { path: path.clone(), source })?;
    tracing::info!(target: "statesync", path = %path.display(), "generated a node key");
    Ok(key)
}

/// Our eth settings for `chain` as `key`, saying we are statesync.
pub fn eth_config(key: NodeKey, chain: Chain) -> EthConfig {
    let mut config = EthConfig::new(Arc::new(key), chain);
    config.p2p.client_id = format!("statesync/v{}", env!("CARGO_PKG_VERSION"));
    config
}

/// The chain of a synthetic state, as `gen --export-genesis` writes it: chain id
/// [`EXPORT_CHAIN_ID`](crate::EXPORT_CHAIN_ID), the exported config and header fields, and `root`
/// as the genesis state root. Our own RLPx peers meet on it (the demo).
pub fn synthetic_chain(root: crate::H256) -> Chain {
    let mut genesis = crate::gen::genesis_header();
    genesis.insert("config".into(), crate::genesis_chain_config());
    let text = serde_json::Value::Object(genesis).to_string();
    // Our own fixed JSON: it parses (the tests say so), and a default genesis would do otherwise.
    let genesis = Genesis::from_json(&text).unwrap_or_default();
    Chain::from_genesis(&genesis, root, crate::EXPORT_CHAIN_ID, GETH_RULES)
}
