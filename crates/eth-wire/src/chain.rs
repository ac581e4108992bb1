//! A chain as the eth handshake sees it: network id, genesis, fork schedule.

use primitive_types::{H256, U256};

use crate::{
    BlockRange, ChainConfig, ConfigError, EthVersion, ForkFilter, ForkId, ForkSchedule, Genesis, GethRules,
    Head, Status, StatusHead,
};

/// Ethereum mainnet's genesis block hash.
pub const MAINNET_GENESIS_HASH: H256 = H256([
    0xd4, 0xe5, 0x67, 0x40, 0xf8, 0x76, 0xae, 0xf8, 0xc0, 0x10, 0xb8, 0x6a, 0x40, 0xd5, 0xf5, 0x67, 0x45,
    0xa1, 0x18, 0xd0, 0x90, 0x6a, 0x34, 0xe6, 0x9a, 0xec, 0x8c, 0x0d, 0xb1, 0xcb, 0x8f, 0xa3,
]);

/// Everything the Status handshake needs to know about our chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Chain {
    /// The network id peers must announce (1 on mainnet; on a private chain whatever
    /// `--networkid` the nodes run with).
    pub network_id: u64,
    /// Hash of the genesis block.
    pub genesis_hash: H256,
    /// Difficulty of the genesis block: our total difficulty in an eth/66-68 Status while we hold
    /// no blocks beyond it.
    pub genesis_difficulty: U256,
    /// Timestamp of the genesis block: our head's time while we hold no blocks beyond it.
    pub genesis_timestamp: u64,
    /// The forks, for the fork id and its filter.
    pub forks: ForkSchedule,
}

impl Chain {
    /// Ethereum mainnet with every fork go-ethereum v1.17 schedules (Frontier to BPO2).
    pub fn mainnet() -> Chain {
        Chain {
            network_id: 1,
            genesis_hash: MAINNET_GENESIS_HASH,
            genesis_difficulty: U256::from(17_179_869_184u64),
            genesis_timestamp: 0,
            forks: Chain::mainnet_config().fork_schedule(GethRules::V1_17, 0),
        }
    }

    /// Mainnet's fork configuration, as go-ethereum's `params.MainnetChainConfig`.
    pub fn mainnet_config() -> ChainConfig {
        ChainConfig {
            chain_id: Some(1),
            homestead_block: Some(1_150_000),
            dao_fork_block: Some(1_920_000),
            dao_fork_support: true,
            eip150_block: Some(2_463_000),
            eip155_block: Some(2_675_000),
            eip158_block: Some(2_675_000),
            byzantium_block: Some(4_370_000),
            constantinople_block: Some(7_280_000),
            petersburg_block: Some(7_280_000),
            istanbul_block: Some(9_069_000),
            muir_glacier_block: Some(9_200_000),
            berlin_block: Some(12_244_000),
            london_block: Some(12_965_000),
            arrow_glacier_block: Some(13_773_000),
            gray_glacier_block: Some(15_050_000),
            terminal_total_difficulty: U256::from_dec_str("58750000000000000000000").ok(),
            shanghai_time: Some(1_681_338_455),
            cancun_time: Some(1_710_338_135),
            prague_time: Some(1_746_612_311),
            osaka_time: Some(1_764_798_551),
            bpo1_time: Some(1_765_290_071),
            bpo2_time: Some(1_767_747_671),
            ethash: true,
            ..ChainConfig::default()
        }
    }

    /// A chain from a go-ethereum genesis file, its state root (computed elsewhere from the
    /// `alloc`) and the network id the nodes run with, under the rules of go-ethereum release
    /// `rules` (which differ for Prague genesis headers and for the time forks known).
    pub fn from_genesis_json(
        json: &str,
        state_root: H256,
        network_id: u64,
        rules: GethRules,
    ) -> Result<Chain, ConfigError> {
        Ok(Chain::from_genesis(&Genesis::from_json(json)?, state_root, network_id, rules))
    }

    /// As [`from_genesis_json`](Self::from_genesis_json), from a parsed genesis.
    pub fn from_genesis(genesis: &Genesis, state_root: H256, network_id: u64, rules: GethRules) -> Chain {
        let header = genesis.header(state_root, rules);
        let forks = genesis
            .config
            .as_ref()
            .map(|config| config.fork_schedule(rules, genesis.timestamp))
            .unwrap_or_default();
        Chain {
            network_id,
            genesis_hash: header.hash(),
            genesis_difficulty: header.difficulty,
            genesis_timestamp: genesis.timestamp,
            forks,
        }
    }

    /// Our head while we hold only the genesis block.
    pub fn genesis_head(&self) -> Head {
        Head { number: 0, timestamp: self.genesis_timestamp }
    }

    /// Our fork id at `head`.
    pub fn fork_id(&self, head: Head) -> ForkId {
        self.forks.fork_id(self.genesis_hash, head)
    }

    /// The filter for peers' fork ids, our head being at `head`.
    pub fn fork_filter(&self, head: Head) -> ForkFilter {
        self.forks.filter(self.genesis_hash, head)
    }

    /// The Status a node holding only the genesis block sends (a state-sync client has no
    /// chain): head and latest block are the genesis, the fork id is the genesis one.
    pub fn genesis_status(&self, version: EthVersion) -> Status {
        let head = if version.has_block_range() {
            StatusHead::BlockRange(BlockRange { earliest: 0, latest: 0, latest_hash: self.genesis_hash })
        } else {
            StatusHead::TotalDifficulty {
                total_difficulty: self.genesis_difficulty,
                best_hash: self.genesis_hash,
            }
        };
        Status {
            version: version.number(),
            network_id: self.network_id,
            genesis: self.genesis_hash,
            fork_id: self.fork_id(self.genesis_head()),
            head,
        }
    }
}
