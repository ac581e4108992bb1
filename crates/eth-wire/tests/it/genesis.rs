//! Genesis files: the header go-ethereum builds from them, and the chain config.

use eth_wire::{
    Chain, ChainConfig, Genesis, GethRules, EMPTY_REQUESTS_HASH, EMPTY_ROOT_HASH, MAINNET_GENESIS_HASH,
};
use primitive_types::{H256, U256};

fn h256(hex: &str) -> H256 {
    H256::from_slice(&hex::decode(hex.trim_start_matches("0x")).unwrap())
}

const MAINNET_STATE_ROOT: &str = "d7f8974fb5ac78d9ac099b9ad5018bedc2ce0a72dad1827a1709da30580f0544";

/// Mainnet's genesis file, as go-ethereum's `DefaultGenesisBlock` (alloc left out).
const MAINNET_GENESIS_JSON: &str = r#"{
    "config": {
        "chainId": 1, "homesteadBlock": 1150000, "daoForkBlock": 1920000, "daoForkSupport": true,
        "eip150Block": 2463000, "eip155Block": 2675000, "eip158Block": 2675000,
        "byzantiumBlock": 4370000, "constantinopleBlock": 7280000, "petersburgBlock": 7280000,
        "istanbulBlock": 9069000, "muirGlacierBlock": 9200000, "berlinBlock": 12244000,
        "londonBlock": 12965000, "arrowGlacierBlock": 13773000, "grayGlacierBlock": 15050000,
        "terminalTotalDifficulty": 58750000000000000000000,
        "shanghaiTime": 1681338455, "cancunTime": 1710338135, "pragueTime": 1746612311,
        "osakaTime": 1764798551, "bpo1Time": 1765290071, "bpo2Time": 1767747671,
        "depositContractAddress": "0x00000000219ab540356cbb839cbe05303d7705fa",
        "ethash": {},
        "blobSchedule": {"cancun": {"target": 3, "max": 6, "baseFeeUpdateFraction": 3338477}}
    },
    "nonce": "0x42",
    "timestamp": "0x0",
    "extraData": "0x11bbe8db4e347b4e8c937c1c8370e4b5ed33adb3db69cbdb7a38e1e50b1b82fa",
    "gasLimit": "0x1388",
    "difficulty": "0x400000000",
    "mixHash": "0x0000000000000000000000000000000000000000000000000000000000000000",
    "coinbase": "0x0000000000000000000000000000000000000000",
    "alloc": {"000d836201318ec6899a67540690382780743280": {"balance": "0xad78ebc5ac6200000"}}
}"#;

#[test]
fn mainnet_genesis_hash_from_its_header_fields() {
    let genesis = Genesis::from_json(MAINNET_GENESIS_JSON).unwrap();
    for rules in [GethRules::V1_13_2, GethRules::V1_17] {
        let header = genesis.header(h256(MAINNET_STATE_ROOT), rules);
        assert_eq!(header.hash(), MAINNET_GENESIS_HASH, "{rules:?}");
        assert_eq!(header.gas_limit, 5000);
        assert_eq!(header.difficulty, U256::from(17_179_869_184u64));
        assert_eq!(header.base_fee_per_gas, None, "London is not at block 0 on mainnet");
    }
    assert_eq!(
        hex::encode(MAINNET_GENESIS_HASH),
        "d4e56740f876aef8c010b86a40d5f56745a118d0906a34e69aec8c0db1cb8fa3"
    );
}

#[test]
fn mainnet_config_parses_to_the_preset() {
    let genesis = Genesis::from_json(MAINNET_GENESIS_JSON).unwrap();
    let config = genesis.config.clone().unwrap();
    assert_eq!(config, Chain::mainnet_config());
    assert_eq!(
        config.terminal_total_difficulty,
        Some(U256::from_dec_str("58750000000000000000000").unwrap()),
        "read exactly, not through an f64"
    );
    let chain = Chain::from_genesis(&genesis, h256(MAINNET_STATE_ROOT), 1, GethRules::V1_17);
    assert_eq!(chain, Chain::mainnet());
    // v1.13.2 knows no Osaka/BPO forks: its mainnet schedule ends at Prague
    let old = config.fork_schedule(GethRules::V1_13_2, 0);
    assert_eq!(old.times(), &[1681338455, 1710338135, 1746612311]);
    assert_eq!(chain.forks.times().len(), 6);
    assert_eq!(chain.forks.blocks().len(), 12, "duplicates (EIP-155/158, Petersburg) merged");
}

/// A post-merge dev genesis with every fork through Prague at genesis.
fn dev_genesis(extra: &str) -> Genesis {
    let json = format!(
        r#"{{
        "config": {{
            "chainId": 1337, "homesteadBlock": 0, "eip150Block": 0, "eip155Block": 0,
            "eip158Block": 0, "byzantiumBlock": 0, "constantinopleBlock": 0,
            "petersburgBlock": 0, "istanbulBlock": 0, "berlinBlock": 0, "londonBlock": 0,
            "mergeNetsplitBlock": 0, "terminalTotalDifficulty": 0,
            "shanghaiTime": 0, "cancunTime": 0, "pragueTime": 0 {extra}
        }},
        "gasLimit": "30000000", "difficulty": "0x0", "timestamp": 0,
        "alloc": {{}}
    }}"#
    );
    Genesis::from_json(&json).unwrap()
}

#[test]
fn post_merge_genesis_header_fields_per_release() {
    let genesis = dev_genesis("");
    let root = EMPTY_ROOT_HASH;
    let new = genesis.header(root, GethRules::V1_17);
    assert_eq!(new.base_fee_per_gas, Some(U256::from(1_000_000_000u64)));
    assert_eq!(new.withdrawals_root, Some(EMPTY_ROOT_HASH));
    assert_eq!(new.blob_gas_used, Some(0));
    assert_eq!(new.excess_blob_gas, Some(0));
    assert_eq!(new.parent_beacon_root, Some(H256::zero()));
    assert_eq!(new.requests_hash, Some(EMPTY_REQUESTS_HASH));
    assert_eq!(new.block_access_list_hash, None);
    let old = genesis.header(root, GethRules::V1_13_2);
    assert_eq!(old.requests_hash, None, "v1.13.2's header has no requests hash");
    assert_ne!(old.hash(), new.hash());
    // field counts in the RLP list: 15 legacy + base fee, withdrawals, 2 blob, beacon (+ requests)
    assert_eq!(rlp::Rlp::new(&old.encode()).item_count().unwrap(), 20);
    assert_eq!(rlp::Rlp::new(&new.encode()).item_count().unwrap(), 21);
}

#[test]
fn absent_optional_fields_before_a_present_one_are_written_empty() {
    // a pre-London, pre-Cancun genesis giving excessBlobGas: v1.17 writes it, and empty
    // base fee, withdrawals root and blob gas used before it
    let json = r#"{"config": {"chainId": 5, "ethash": {}}, "excessBlobGas": "0x10",
                   "difficulty": "0x1", "gasLimit": "0x1"}"#;
    let genesis = Genesis::from_json(json).unwrap();
    let header = genesis.header(H256::zero(), GethRules::V1_17);
    let bytes = header.encode();
    let list = rlp::Rlp::new(&bytes);
    assert_eq!(list.item_count().unwrap(), 19);
    for i in 15..18 {
        assert_eq!(list.at(i).unwrap().as_raw(), &[0x80], "field {i}");
    }
    assert_eq!(list.val_at::<u64>(18).unwrap(), 16);
    let old = genesis.header(H256::zero(), GethRules::V1_13_2);
    assert_eq!(rlp::Rlp::new(&old.encode()).item_count().unwrap(), 15);
}

#[test]
fn defaults_follow_go_ethereum() {
    let genesis = Genesis::from_json(r#"{"config": {"chainId": 7}}"#).unwrap();
    let old = genesis.header(H256::zero(), GethRules::V1_13_2);
    let new = genesis.header(H256::zero(), GethRules::V1_17);
    assert_eq!(old.gas_limit, 4_712_388);
    assert_eq!(old.difficulty, U256::from(131_072u64), "v1.13.2: zero mix hash");
    assert_eq!(new.difficulty, U256::zero(), "v1.17: config without ethash");
    let with_ethash = Genesis::from_json(r#"{"config": {"ethash": {}}}"#).unwrap();
    assert_eq!(with_ethash.header(H256::zero(), GethRules::V1_17).difficulty, U256::from(131_072u64));
    // London at 0 with an explicit base fee keeps it
    let json = r#"{"config": {"londonBlock": 0}, "baseFeePerGas": "0x7"}"#;
    let header = Genesis::from_json(json).unwrap().header(H256::zero(), GethRules::V1_17);
    assert_eq!(header.base_fee_per_gas, Some(U256::from(7)));
}

#[test]
fn holesky_genesis_hash() {
    // Holesky: London at genesis, so the header carries the initial base fee
    let json = r#"{"config": {"chainId": 17000, "homesteadBlock": 0, "eip150Block": 0,
        "eip155Block": 0, "eip158Block": 0, "byzantiumBlock": 0, "constantinopleBlock": 0,
        "petersburgBlock": 0, "istanbulBlock": 0, "berlinBlock": 0, "londonBlock": 0,
        "mergeNetsplitBlock": 0, "terminalTotalDifficulty": 0, "shanghaiTime": 1696000704,
        "cancunTime": 1707305664, "ethash": {}},
        "nonce": "0x1234", "gasLimit": "0x17d7840", "difficulty": "0x1",
        "timestamp": 1695902100}"#;
    let genesis = Genesis::from_json(json).unwrap();
    let header = genesis
        .header(h256("69d8c9d72f6fa4ad42d4702b433707212f90db395eb54dc20bc85de253788783"), GethRules::V1_17);
    assert_eq!(header.base_fee_per_gas, Some(U256::from(1_000_000_000u64)));
    assert_eq!(header.hash(), h256("b5f7f912443c940f21fd611f12828d75b534364ed9e95ca4e307729a4661bde4"));
}

#[test]
fn bad_genesis_json_is_a_typed_error_naming_the_problem() {
    for (json, needle) in [
        (r#"{"config": {"londonBlock": -1}}"#, "non-negative"),
        (r#"{"config": {"londonBlock": 1.5}}"#, "non-negative"),
        (r#"{"gasLimit": "0xzz"}"#, "hex"),
        (r#"{"extraData": "1234"}"#, "0x"),
        (r#"{"mixHash": "0x1234"}"#, "32 bytes"),
        (r#"{"nonce": 18446744073709551616}"#, "64 bits"),
        ("not json", "expected"),
    ] {
        let err = Genesis::from_json(json).unwrap_err();
        assert!(err.to_string().contains(needle), "{json}: {err}");
    }
    assert_eq!(Genesis::from_json("{}").unwrap(), Genesis::default());
    assert_eq!(Genesis::from_json(r#"{"config": {}}"#).unwrap().config, Some(ChainConfig::default()));
}
