//! A go-ethereum genesis file's header fields, and the genesis header built from them exactly as
//! go-ethereum's `Genesis.ToBlock` does.

use primitive_types::{H160, H256, U256};
use serde::Deserialize;

use crate::header::{EMPTY_LIST_HASH, EMPTY_REQUESTS_HASH, EMPTY_ROOT_HASH};
use crate::{json, ChainConfig, ConfigError, GethRules, Header};

/// Gas limit of a genesis that gives none (or 0): go-ethereum's `params.GenesisGasLimit`.
pub const GENESIS_GAS_LIMIT: u64 = 4_712_388;

/// Difficulty of a genesis that gives none (under the conditions in
/// [`Genesis::header`]): go-ethereum's `params.GenesisDifficulty`.
pub const GENESIS_DIFFICULTY: u64 = 131_072;

/// Base fee of a London genesis that gives none: go-ethereum's `params.InitialBaseFee`, 1 gwei.
pub const INITIAL_BASE_FEE: u64 = 1_000_000_000;

/// A go-ethereum genesis file, without its `alloc` (the state, whose root is computed
/// elsewhere). Every field is optional; absent ones take go-ethereum's defaults. Numbers may be
/// JSON numbers, `"0x…"` hex or decimal strings.
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Genesis {
    /// The chain's fork configuration; `None` when the file has no `config`.
    #[serde(default)]
    pub config: Option<ChainConfig>,
    /// Proof-of-work nonce.
    #[serde(default, deserialize_with = "json::u64_or_zero")]
    pub nonce: u64,
    /// Unix time of the genesis block.
    #[serde(default, deserialize_with = "json::u64_or_zero")]
    pub timestamp: u64,
    /// Extra data.
    #[serde(default, deserialize_with = "json::hex_bytes")]
    pub extra_data: Vec<u8>,
    /// Gas limit; 0 means [`GENESIS_GAS_LIMIT`].
    #[serde(default, deserialize_with = "json::u64_or_zero")]
    pub gas_limit: u64,
    /// Difficulty; absent means a default that depends on the release (see
    /// [`Genesis::header`]).
    #[serde(default, deserialize_with = "json::opt_u256")]
    pub difficulty: Option<U256>,
    /// Mix digest.
    #[serde(default, deserialize_with = "json::hex_fixed")]
    pub mix_hash: [u8; 32],
    /// Fee recipient.
    #[serde(default, deserialize_with = "json::hex_fixed")]
    pub coinbase: [u8; 20],
    /// Block number (0 for every real genesis).
    #[serde(default, deserialize_with = "json::u64_or_zero")]
    pub number: u64,
    /// Gas used.
    #[serde(default, deserialize_with = "json::u64_or_zero")]
    pub gas_used: u64,
    /// Parent hash.
    #[serde(default, deserialize_with = "json::hex_fixed")]
    pub parent_hash: [u8; 32],
    /// Base fee; for a London genesis, absent means [`INITIAL_BASE_FEE`].
    #[serde(default, deserialize_with = "json::opt_u256")]
    pub base_fee_per_gas: Option<U256>,
    /// Excess blob gas; for a Cancun genesis, absent means 0.
    #[serde(default, deserialize_with = "json::opt_u64")]
    pub excess_blob_gas: Option<u64>,
    /// Blob gas used; for a Cancun genesis, absent means 0.
    #[serde(default, deserialize_with = "json::opt_u64")]
    pub blob_gas_used: Option<u64>,
    /// Beacon slot number; for an Amsterdam genesis (v1.17), absent means 0.
    #[serde(default, deserialize_with = "json::opt_u64")]
    pub slot_number: Option<u64>,
}

impl Genesis {
    /// Reads a go-ethereum genesis JSON file (the `alloc` and unknown fields are ignored).
    pub fn from_json(json: &str) -> Result<Genesis, ConfigError> {
        Ok(serde_json::from_str(json)?)
    }

    /// The genesis header for a state root computed elsewhere, as go-ethereum `rules` builds it
    /// (`core/genesis.go`, `ToBlock` in v1.13.2, `toBlockWithRoot` in v1.17):
    /// - gas limit 0 → [`GENESIS_GAS_LIMIT`];
    /// - no difficulty → v1.13.2: [`GENESIS_DIFFICULTY`] if the mix hash is zero, else 0;
    ///   v1.17: 0 if there is a config without an `ethash` section, else as v1.13.2;
    /// - the base fee given is always written; London at block 0 without one →
    ///   [`INITIAL_BASE_FEE`];
    /// - Shanghai active (London at the genesis number and `shanghaiTime` ≤ timestamp) → the
    ///   empty withdrawals root;
    /// - Cancun active → blob gas used and excess blob gas (default 0) and a zero parent beacon
    ///   root; before Cancun, v1.17 still writes an excess blob gas that the file gives;
    /// - Prague active → the empty requests hash (v1.17 only: v1.13.2's header has no such
    ///   field, so its hash of a Prague genesis differs);
    /// - Amsterdam active (v1.17) → the empty block access list hash and the slot number
    ///   (default 0).
    pub fn header(&self, state_root: H256, rules: GethRules) -> Header {
        let no_config = ChainConfig::default();
        let config = self.config.as_ref().unwrap_or(&no_config);
        let v1_17 = rules == GethRules::V1_17;
        let mix_hash = H256(self.mix_hash);
        let difficulty = match self.difficulty {
            Some(difficulty) => difficulty,
            None if v1_17 && self.config.is_some() && !config.ethash => U256::zero(),
            None if mix_hash.is_zero() => U256::from(GENESIS_DIFFICULTY),
            None => U256::zero(),
        };
        let mut header = Header {
            parent_hash: H256(self.parent_hash),
            uncles_hash: EMPTY_LIST_HASH,
            coinbase: H160(self.coinbase),
            state_root,
            transactions_root: EMPTY_ROOT_HASH,
            receipts_root: EMPTY_ROOT_HASH,
            logs_bloom: [0; 256],
            difficulty,
            number: self.number,
            gas_limit: if self.gas_limit == 0 { GENESIS_GAS_LIMIT } else { self.gas_limit },
            gas_used: self.gas_used,
            timestamp: self.timestamp,
            extra_data: self.extra_data.clone(),
            mix_hash,
            nonce: self.nonce.to_be_bytes(),
            base_fee_per_gas: self.base_fee_per_gas,
            withdrawals_root: None,
            blob_gas_used: None,
            excess_blob_gas: None,
            parent_beacon_root: None,
            requests_hash: None,
            block_access_list_hash: None,
            slot_number: None,
        };
        if self.config.is_some() && config.london_at_genesis() {
            header.base_fee_per_gas = Some(self.base_fee_per_gas.unwrap_or(U256::from(INITIAL_BASE_FEE)));
        }
        let (number, time) = (self.number, self.timestamp);
        if config.time_fork_active(config.shanghai_time, number, time) {
            header.withdrawals_root = Some(EMPTY_ROOT_HASH);
        }
        if config.time_fork_active(config.cancun_time, number, time) {
            header.parent_beacon_root = Some(H256::zero());
            header.excess_blob_gas = Some(self.excess_blob_gas.unwrap_or(0));
            header.blob_gas_used = Some(self.blob_gas_used.unwrap_or(0));
        } else if v1_17 {
            header.excess_blob_gas = self.excess_blob_gas;
        }
        if v1_17 && config.time_fork_active(config.prague_time, number, time) {
            header.requests_hash = Some(EMPTY_REQUESTS_HASH);
        }
        if v1_17 && config.time_fork_active(config.amsterdam_time, number, time) {
            header.slot_number = Some(self.slot_number.unwrap_or(0));
            header.block_access_list_hash = Some(EMPTY_LIST_HASH);
        }
        header
    }
}
