//! The Status message: both layouts, and validation against ours.

use eth_wire::{
    decode, BlockRange, Chain, Error, EthVersion, ForkIdError, HandshakeError, Message, Status, StatusHead,
};
use primitive_types::{H256, U256};

fn checked(theirs: &Status, ours: &Status, chain: &Chain) -> Result<(), HandshakeError> {
    theirs.validate(ours, &chain.fork_filter(chain.genesis_head()))
}

#[test]
fn both_layouts_round_trip_and_are_decoded_by_negotiated_version() {
    let chain = Chain::mainnet();
    for version in EthVersion::ALL {
        let ours = chain.genesis_status(version);
        let bytes = ours.encode();
        assert_eq!(Status::decode(version, &bytes).unwrap(), ours, "eth/{version}");
        let expected_fields = if version.has_block_range() { 7 } else { 6 };
        assert_eq!(rlp::Rlp::new(&bytes).item_count().unwrap(), expected_fields);
        assert!(matches!(decode(version, 0, &bytes).unwrap(), Message::Status(s) if s == ours));
    }
    // an eth/68 Status is not a valid eth/69 one, nor the other way round
    let legacy = chain.genesis_status(EthVersion::Eth68).encode();
    assert!(Status::decode(EthVersion::Eth69, &legacy).is_err());
    let new = chain.genesis_status(EthVersion::Eth69).encode();
    assert!(Status::decode(EthVersion::Eth68, &new).is_err());
}

#[test]
fn eth68_status_layout_is_exact() {
    let status = Status {
        version: 68,
        network_id: 1,
        genesis: H256::repeat_byte(0x22),
        fork_id: eth_wire::ForkId { hash: [1, 2, 3, 4], next: 5 },
        head: StatusHead::TotalDifficulty {
            total_difficulty: U256::from(0x0400),
            best_hash: H256::repeat_byte(0x11),
        },
    };
    let want = format!(
        "f84e{}{}{}{}{}{}",
        "44",
        "01",
        "820400",
        format_args!("a0{}", "11".repeat(32)),
        format_args!("a0{}", "22".repeat(32)),
        "c6840102030405"
    );
    assert_eq!(hex::encode(status.encode()), want);
}

#[test]
fn eth69_status_field_order_is_genesis_forkid_then_range() {
    let range = BlockRange { earliest: 3, latest: 9, latest_hash: H256::repeat_byte(0x33) };
    let status = Status {
        version: 69,
        network_id: 7,
        genesis: H256::repeat_byte(0x22),
        fork_id: eth_wire::ForkId { hash: [9; 4], next: 0 },
        head: StatusHead::BlockRange(range),
    };
    let bytes = status.encode();
    let list = rlp::Rlp::new(&bytes);
    assert_eq!(list.val_at::<u32>(0).unwrap(), 69);
    assert_eq!(list.val_at::<u64>(1).unwrap(), 7);
    assert_eq!(list.val_at::<H256>(2).unwrap(), H256::repeat_byte(0x22));
    assert!(list.at(3).unwrap().is_list());
    assert_eq!(list.val_at::<u64>(4).unwrap(), 3);
    assert_eq!(list.val_at::<u64>(5).unwrap(), 9);
    assert_eq!(list.val_at::<H256>(6).unwrap(), H256::repeat_byte(0x33));
}

#[test]
fn each_mismatch_is_its_own_error() {
    let chain = Chain::mainnet();
    let ours = chain.genesis_status(EthVersion::Eth66);
    assert!(checked(&ours, &ours, &chain).is_ok());

    let mut other = ours;
    other.network_id = 5;
    let err = checked(&other, &ours, &chain).unwrap_err();
    assert!(matches!(err, HandshakeError::NetworkMismatch { ours: 1, theirs: 5 }));
    assert_eq!(err.to_string(), "peer on network 5, we are on 1");

    let mut other = ours;
    other.version = 67;
    assert!(matches!(
        checked(&other, &ours, &chain),
        Err(HandshakeError::VersionMismatch { ours: 66, theirs: 67 })
    ));

    let mut other = ours;
    other.genesis = H256::repeat_byte(1);
    assert!(matches!(
        checked(&other, &ours, &chain),
        Err(HandshakeError::GenesisMismatch { theirs, .. }) if theirs == H256::repeat_byte(1)
    ));

    let mut other = ours;
    other.fork_id.hash = [0x12, 0x34, 0x56, 0x78];
    assert!(matches!(
        checked(&other, &ours, &chain),
        Err(HandshakeError::ForkRejected { source: ForkIdError::LocalIncompatibleOrStale, .. })
    ));

    // a synced mainnet peer (past BPO2) is accepted by us at genesis (rule 3: we are syncing)
    let mut synced = ours;
    synced.fork_id = chain.fork_id(eth_wire::Head { number: 23_000_000, timestamp: 1_800_000_000 });
    assert!(checked(&synced, &ours, &chain).is_ok());
}

#[test]
fn eth69_block_range_is_checked() {
    let chain = Chain::mainnet();
    let ours = chain.genesis_status(EthVersion::Eth69);
    let mut other = ours;
    other.head =
        StatusHead::BlockRange(BlockRange { earliest: 10, latest: 9, latest_hash: H256::repeat_byte(1) });
    assert!(matches!(
        checked(&other, &ours, &chain),
        Err(HandshakeError::InvalidBlockRange { earliest: 10, latest: 9 })
    ));
    other.head = StatusHead::BlockRange(BlockRange { earliest: 0, latest: 9, latest_hash: H256::zero() });
    let err = checked(&other, &ours, &chain).unwrap_err();
    assert!(matches!(err, HandshakeError::ZeroLatestHash));
    assert!(!err.is_incompatible_chain());
}

#[test]
fn malformed_status_is_a_typed_error() {
    let good = Chain::mainnet().genesis_status(EthVersion::Eth68).encode();
    // truncated
    assert!(matches!(
        Status::decode(EthVersion::Eth68, &good[..good.len() - 1]),
        Err(Error::Malformed { .. })
    ));
    // trailing garbage
    let mut long = good.clone();
    long.push(0x80);
    assert!(matches!(Status::decode(EthVersion::Eth68, &long), Err(Error::TrailingBytes { extra: 1, .. })));
    // a version beyond u32
    let mut stream = rlp::RlpStream::new_list(6);
    stream.append(&(1u64 << 40)).append(&1u64).append(&0u64);
    stream.append(&H256::zero()).append(&H256::zero());
    stream.begin_list(2).append(&vec![0u8; 4]).append(&0u64);
    assert!(Status::decode(EthVersion::Eth68, &stream.out()).is_err());
}
