//! go-ethereum's chain configuration (the genesis JSON's `config` object) and the fork schedule
//! it implies.

use primitive_types::U256;
use serde::Deserialize;

use crate::{json, ForkSchedule};

/// Which go-ethereum release's rules to reproduce where they differ: the fork fields a release
/// knows (a release ignores JSON fields it does not know, so they are no forks to it), and how
/// it builds the genesis header ([`Genesis::header`](crate::Genesis::header)).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum GethRules {
    /// go-ethereum v1.13.2 (our eth/66 GetNodeData interop peer): time forks Shanghai, Cancun,
    /// Prague and Verkle; a genesis header never carries a requests hash.
    V1_13_2,
    /// go-ethereum v1.17.x: time forks Shanghai to Osaka, BPO1-5, Amsterdam, Bogota, UBT.
    V1_17,
}

/// The fork activation points of go-ethereum's `params.ChainConfig`, as in a genesis file's
/// `config` object. Unknown fields (clique, blobSchedule...) are ignored.
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ChainConfig {
    /// EIP-155 chain id (replay protection); not part of the fork id.
    #[serde(default, deserialize_with = "json::opt_u64")]
    pub chain_id: Option<u64>,
    /// Homestead.
    #[serde(default, deserialize_with = "json::opt_u64")]
    pub homestead_block: Option<u64>,
    /// The DAO fork (a fork id entry whether or not the node supports it).
    #[serde(default, deserialize_with = "json::opt_u64")]
    pub dao_fork_block: Option<u64>,
    /// Whether the node follows the DAO fork's state change; not part of the fork id.
    #[serde(default)]
    pub dao_fork_support: bool,
    /// Tangerine Whistle.
    #[serde(default, deserialize_with = "json::opt_u64", rename = "eip150Block")]
    pub eip150_block: Option<u64>,
    /// Spurious Dragon, replay protection.
    #[serde(default, deserialize_with = "json::opt_u64", rename = "eip155Block")]
    pub eip155_block: Option<u64>,
    /// Spurious Dragon, state clearing.
    #[serde(default, deserialize_with = "json::opt_u64", rename = "eip158Block")]
    pub eip158_block: Option<u64>,
    /// Byzantium.
    #[serde(default, deserialize_with = "json::opt_u64")]
    pub byzantium_block: Option<u64>,
    /// Constantinople.
    #[serde(default, deserialize_with = "json::opt_u64")]
    pub constantinople_block: Option<u64>,
    /// Petersburg.
    #[serde(default, deserialize_with = "json::opt_u64")]
    pub petersburg_block: Option<u64>,
    /// Istanbul.
    #[serde(default, deserialize_with = "json::opt_u64")]
    pub istanbul_block: Option<u64>,
    /// Muir Glacier (difficulty bomb delay).
    #[serde(default, deserialize_with = "json::opt_u64")]
    pub muir_glacier_block: Option<u64>,
    /// Berlin.
    #[serde(default, deserialize_with = "json::opt_u64")]
    pub berlin_block: Option<u64>,
    /// London (EIP-1559: a genesis at or after it has a base fee).
    #[serde(default, deserialize_with = "json::opt_u64")]
    pub london_block: Option<u64>,
    /// Arrow Glacier (difficulty bomb delay).
    #[serde(default, deserialize_with = "json::opt_u64")]
    pub arrow_glacier_block: Option<u64>,
    /// Gray Glacier (difficulty bomb delay).
    #[serde(default, deserialize_with = "json::opt_u64")]
    pub gray_glacier_block: Option<u64>,
    /// A virtual fork after the Merge, to split networks.
    #[serde(default, deserialize_with = "json::opt_u64")]
    pub merge_netsplit_block: Option<u64>,
    /// Shanghai (withdrawals).
    #[serde(default, deserialize_with = "json::opt_u64")]
    pub shanghai_time: Option<u64>,
    /// Cancun (blobs, beacon root).
    #[serde(default, deserialize_with = "json::opt_u64")]
    pub cancun_time: Option<u64>,
    /// Prague (execution requests).
    #[serde(default, deserialize_with = "json::opt_u64")]
    pub prague_time: Option<u64>,
    /// Osaka (v1.17 only).
    #[serde(default, deserialize_with = "json::opt_u64")]
    pub osaka_time: Option<u64>,
    /// Blob-parameter-only fork 1 (v1.17 only).
    #[serde(default, deserialize_with = "json::opt_u64", rename = "bpo1Time")]
    pub bpo1_time: Option<u64>,
    /// Blob-parameter-only fork 2 (v1.17 only).
    #[serde(default, deserialize_with = "json::opt_u64", rename = "bpo2Time")]
    pub bpo2_time: Option<u64>,
    /// Blob-parameter-only fork 3 (v1.17 only).
    #[serde(default, deserialize_with = "json::opt_u64", rename = "bpo3Time")]
    pub bpo3_time: Option<u64>,
    /// Blob-parameter-only fork 4 (v1.17 only).
    #[serde(default, deserialize_with = "json::opt_u64", rename = "bpo4Time")]
    pub bpo4_time: Option<u64>,
    /// Blob-parameter-only fork 5 (v1.17 only).
    #[serde(default, deserialize_with = "json::opt_u64", rename = "bpo5Time")]
    pub bpo5_time: Option<u64>,
    /// Amsterdam (v1.17 only; a genesis after it has a block access list hash and slot number).
    #[serde(default, deserialize_with = "json::opt_u64")]
    pub amsterdam_time: Option<u64>,
    /// Bogota (v1.17 only).
    #[serde(default, deserialize_with = "json::opt_u64")]
    pub bogota_time: Option<u64>,
    /// The binary-trie transition (v1.17 only).
    #[serde(default, deserialize_with = "json::opt_u64", rename = "ubtTime")]
    pub ubt_time: Option<u64>,
    /// The Verkle transition (v1.13.2 only; v1.17 replaced it with `ubtTime`).
    #[serde(default, deserialize_with = "json::opt_u64")]
    pub verkle_time: Option<u64>,
    /// Total difficulty that ends proof of work (the Merge); not part of the fork id.
    #[serde(default, deserialize_with = "json::opt_u256")]
    pub terminal_total_difficulty: Option<U256>,
    /// Whether the config has an `ethash` section: v1.17 gives a genesis without an explicit
    /// difficulty a difficulty of 0 when it has not.
    #[serde(default, deserialize_with = "json::present")]
    pub ethash: bool,
}

impl ChainConfig {
    /// The block-number forks in go-ethereum's field order (duplicates and zeros included).
    pub fn block_forks(&self) -> Vec<u64> {
        [
            self.homestead_block,
            self.dao_fork_block,
            self.eip150_block,
            self.eip155_block,
            self.eip158_block,
            self.byzantium_block,
            self.constantinople_block,
            self.petersburg_block,
            self.istanbul_block,
            self.muir_glacier_block,
            self.berlin_block,
            self.london_block,
            self.arrow_glacier_block,
            self.gray_glacier_block,
            self.merge_netsplit_block,
        ]
        .into_iter()
        .flatten()
        .collect()
    }

    /// The timestamp forks that the go-ethereum release `rules` knows.
    pub fn time_forks(&self, rules: GethRules) -> Vec<u64> {
        let known: &[Option<u64>] = match rules {
            GethRules::V1_13_2 => &[self.shanghai_time, self.cancun_time, self.prague_time, self.verkle_time],
            GethRules::V1_17 => &[
                self.shanghai_time,
                self.cancun_time,
                self.prague_time,
                self.osaka_time,
                self.bpo1_time,
                self.bpo2_time,
                self.bpo3_time,
                self.bpo4_time,
                self.bpo5_time,
                self.amsterdam_time,
                self.bogota_time,
                self.ubt_time,
            ],
        };
        known.iter().flatten().copied().collect()
    }

    /// The EIP-2124 fork schedule of a chain with this config and genesis timestamp.
    pub fn fork_schedule(&self, rules: GethRules, genesis_timestamp: u64) -> ForkSchedule {
        ForkSchedule::new(self.block_forks(), self.time_forks(rules), genesis_timestamp)
    }

    /// Whether London is active at block 0 (go-ethereum's `IsLondon(0)`).
    pub(crate) fn london_at_genesis(&self) -> bool {
        self.london_block == Some(0)
    }

    /// Whether a time fork is active at a block: London active at its number (go-ethereum checks
    /// `IsLondon(number)` first for every time fork) and the fork's time reached.
    pub(crate) fn time_fork_active(&self, fork: Option<u64>, number: u64, timestamp: u64) -> bool {
        self.london_block.is_some_and(|london| london <= number) && fork.is_some_and(|t| t <= timestamp)
    }
}
