//! EIP-2124 fork ids: go-ethereum's `core/forkid` mainnet vectors (creation and validation).

use eth_wire::{Chain, ChainConfig, ForkId, ForkIdError, ForkSchedule, GethRules, Head};
use primitive_types::H256;

fn id(hash: u32, next: u64) -> ForkId {
    ForkId { hash: hash.to_be_bytes(), next }
}

fn head(number: u64, timestamp: u64) -> Head {
    Head { number, timestamp }
}

#[test]
fn mainnet_fork_ids_match_go_ethereum() {
    // go-ethereum v1.17 core/forkid/forkid_test.go TestCreation, mainnet (the first rows are
    // EIP-2124's own vectors)
    let cases = [
        (0, 0, id(0xfc64ec04, 1150000)),
        (1149999, 0, id(0xfc64ec04, 1150000)),
        (1150000, 0, id(0x97c2c34c, 1920000)),
        (1919999, 0, id(0x97c2c34c, 1920000)),
        (1920000, 0, id(0x91d1f948, 2463000)),
        (2462999, 0, id(0x91d1f948, 2463000)),
        (2463000, 0, id(0x7a64da13, 2675000)),
        (2674999, 0, id(0x7a64da13, 2675000)),
        (2675000, 0, id(0x3edd5b10, 4370000)),
        (4369999, 0, id(0x3edd5b10, 4370000)),
        (4370000, 0, id(0xa00bc324, 7280000)),
        (7279999, 0, id(0xa00bc324, 7280000)),
        (7280000, 0, id(0x668db0af, 9069000)),
        (9068999, 0, id(0x668db0af, 9069000)),
        (9069000, 0, id(0x879d6e30, 9200000)),
        (9199999, 0, id(0x879d6e30, 9200000)),
        (9200000, 0, id(0xe029e991, 12244000)),
        (12243999, 0, id(0xe029e991, 12244000)),
        (12244000, 0, id(0x0eb440f6, 12965000)),
        (12964999, 0, id(0x0eb440f6, 12965000)),
        (12965000, 0, id(0xb715077d, 13773000)),
        (13772999, 0, id(0xb715077d, 13773000)),
        (13773000, 0, id(0x20c327fc, 15050000)),
        (15049999, 0, id(0x20c327fc, 15050000)),
        (15050000, 0, id(0xf0afd0e3, 1681338455)),
        (20000000, 1681338454, id(0xf0afd0e3, 1681338455)),
        (20000000, 1681338455, id(0xdce96c2d, 1710338135)),
        (30000000, 1710338134, id(0xdce96c2d, 1710338135)),
        (30000000, 1710338135, id(0x9f3d2254, 1746612311)),
        (30000000, 1746022486, id(0x9f3d2254, 1746612311)),
        (30000000, 1746612311, id(0xc376cf8b, 1764798551)),
        (30000000, 1764798550, id(0xc376cf8b, 1764798551)),
        (30000000, 1764798551, id(0x5167e2a6, 1765290071)),
        (30000000, 1765290070, id(0x5167e2a6, 1765290071)),
        (30000000, 1765290071, id(0xcba2a1c0, 1767747671)),
        (30000000, 1767747670, id(0xcba2a1c0, 1767747671)),
        (30000000, 1767747671, id(0x07c9462e, 0)),
        (50000000, 2000000000, id(0x07c9462e, 0)),
    ];
    let chain = Chain::mainnet();
    for (number, timestamp, want) in cases {
        assert_eq!(chain.fork_id(head(number, timestamp)), want, "head {number}/{timestamp}");
    }
}

#[test]
fn private_chain_without_forks_is_the_crc32_of_its_genesis_hash() {
    let genesis = H256::repeat_byte(0xab);
    let want = crc32fast::hash(genesis.as_bytes());
    // forks at block 0 and at or before the genesis time are the genesis rules, not forks
    let schedule = ForkSchedule::new([0, 0, 0], [1_000, 900], 1_000);
    assert!(schedule.blocks().is_empty() && schedule.times().is_empty());
    assert_eq!(schedule.fork_id(genesis, head(5, 2_000)), id(want, 0));
}

#[test]
fn time_fork_at_or_before_genesis_is_skipped() {
    // go-ethereum TestTimeBasedForkInGenesis: shanghai at/before genesis time is no fork
    let time = 1_690_475_657;
    let genesis = H256::repeat_byte(7);
    let crc = crc32fast::hash(genesis.as_bytes());
    for (shanghai, cancun, next) in
        [(time - 1, time + 1, time + 1), (time, time + 1, time + 1), (time + 1, time + 2, time + 1)]
    {
        let config = ChainConfig {
            london_block: Some(0),
            shanghai_time: Some(shanghai),
            cancun_time: Some(cancun),
            ..ChainConfig::default()
        };
        let schedule = config.fork_schedule(GethRules::V1_17, time);
        assert_eq!(schedule.fork_id(genesis, head(0, time)), id(crc, next));
    }
}

#[test]
fn validation_matches_go_ethereum() {
    use ForkIdError::*;
    let stale = |remote_next, local_next| Err(RemoteStale { remote_next, local_next });
    let mut legacy = Chain::mainnet_config();
    legacy.shanghai_time = None;
    legacy.cancun_time = None;
    legacy.prague_time = None;
    legacy.osaka_time = None;
    legacy.bpo1_time = None;
    legacy.bpo2_time = None;
    let legacy = legacy.fork_schedule(GethRules::V1_17, 0);
    let mainnet = Chain::mainnet().forks;
    let genesis = Chain::mainnet().genesis_hash;
    let crc_then = |base: u32, fork: u64| {
        let mut hasher = crc32fast::Hasher::new_with_initial(base);
        hasher.update(&fork.to_be_bytes());
        hasher.finalize()
    };
    // go-ethereum TestValidation (subset): (schedule, head, remote, expected)
    let cases: Vec<(&ForkSchedule, Head, ForkId, Result<(), ForkIdError>)> = vec![
        (&legacy, head(15050000, 0), id(0xf0afd0e3, 0), Ok(())),
        (&legacy, head(15050000, 0), id(0xf0afd0e3, u64::MAX), Ok(())),
        (&legacy, head(7279999, 0), id(0xa00bc324, 0), Ok(())),
        (&legacy, head(7279999, 0), id(0xa00bc324, 7280000), Ok(())),
        (&legacy, head(7279999, 0), id(0xa00bc324, u64::MAX), Ok(())),
        (&legacy, head(7280000, 0), id(0xa00bc324, 7280000), Ok(())),
        (&legacy, head(7987396, 0), id(0xa00bc324, 7280000), Ok(())),
        (&legacy, head(7987396, 0), id(0x3edd5b10, 4370000), Ok(())),
        (&legacy, head(7279999, 0), id(0x668db0af, 0), Ok(())),
        (&legacy, head(4369999, 0), id(0xa00bc324, 0), Ok(())),
        (&legacy, head(7987396, 0), id(0xa00bc324, 0), stale(0, 7280000)),
        (&legacy, head(7987396, 0), id(0x5cddc0e1, 0), Err(LocalIncompatibleOrStale)),
        (&legacy, head(7279999, 0), id(0x5cddc0e1, 0), Err(LocalIncompatibleOrStale)),
        (&legacy, head(7987396, 0), id(0xafec6b27, 0), Err(LocalIncompatibleOrStale)),
        (&legacy, head(88888888, 0), id(0xf0afd0e3, 88888888), Err(LocalIncompatibleOrStale)),
        (&legacy, head(7279999, 0), id(0xa00bc324, 7279999), Err(LocalIncompatibleOrStale)),
        (&mainnet, head(15050000, 0), id(0xf0afd0e3, 0), Ok(())),
        (&mainnet, head(15050000, 0), id(0xf0afd0e3, 1681338455), Ok(())),
        (&mainnet, head(15050000, 0), id(0xf0afd0e3, u64::MAX), Ok(())),
        (&mainnet, head(20000000, 1681338455), id(0xf0afd0e3, 1681338455), Ok(())),
        (&mainnet, head(20123456, 1681338456), id(0xf0afd0e3, 1681338455), Ok(())),
        (&mainnet, head(20000000, 1681338455), id(0x20c327fc, 15050000), Ok(())),
        (&mainnet, head(15050000, 0), id(0xdce96c2d, 0), Ok(())),
        (&mainnet, head(13773000, 0), id(0xf0afd0e3, 0), Ok(())),
        (&mainnet, head(20000000, 1681338455), id(0xf0afd0e3, 0), stale(0, 1681338455)),
        (&mainnet, head(15050000, 0), id(crc_then(0xf0afd0e3, u64::MAX), 0), Err(LocalIncompatibleOrStale)),
        (&mainnet, head(888888888, 1660000000), id(0xf0afd0e3, 1660000000), Err(LocalIncompatibleOrStale)),
        (&mainnet, head(19999999, 1667999999), id(0xf0afd0e3, 1667999999), Err(LocalIncompatibleOrStale)),
        (&mainnet, head(20000000, 1681338455), id(0xdce96c2d, 0), Ok(())),
        (&mainnet, head(20000000, 1668000000), id(0xdce96c2d, 1710338135), Ok(())),
        (&mainnet, head(21123456, 1710338136), id(0xdce96c2d, 1710338135), Ok(())),
        (&mainnet, head(0, 0), id(0x3edd5b10, 1710338135), Ok(())),
        (&mainnet, head(21000000, 1700000000), id(0x9f3d2254, 0), Ok(())),
        (&mainnet, head(21000000, 1678000000), id(0xc376cf8b, 0), Ok(())),
        (&mainnet, head(21000000, 1710338135), id(0xdce96c2d, 0), stale(0, 1710338135)),
        (&mainnet, head(20000000, 1681338455), id(0x12345678, 0), Err(LocalIncompatibleOrStale)),
        (&mainnet, head(88888888, 8888888888), id(0x07c9462e, 8888888888), Err(LocalIncompatibleOrStale)),
        (&mainnet, head(20999999, 1699999999), id(0x71147644, 1700000000), Err(LocalIncompatibleOrStale)),
    ];
    for (i, (schedule, at, remote, want)) in cases.into_iter().enumerate() {
        let got = schedule.filter(genesis, at).validate(remote);
        assert_eq!(got, want, "case {i}: head {at:?}, remote {remote}");
    }
}
