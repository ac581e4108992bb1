//! Message decoding by id and version, EIP-2481's vectors, empty answers, hostile input.

use eth_wire::{
    decode, encode_empty_response, BlockOrigin, Error, EthVersion, GetBlockHeaders, GetNodeData, Message,
    MessageId, NodeData, RequestId, MAX_NODE_DATA_ITEMS,
};
use primitive_types::H256;
use proptest::prelude::*;

fn bytes(hex: &str) -> Vec<u8> {
    hex::decode(hex).unwrap()
}

/// EIP-2481's two example hashes: 0xdeadc0de and 0xfeedbeef, left-padded to 32 bytes.
fn eip2481_hashes() -> Vec<H256> {
    vec![H256::from_low_u64_be(0xdeadc0de), H256::from_low_u64_be(0xfeedbeef)]
}

const HASHES_1111: &str = "f847820457f842a000000000000000000000000000000000000000000000000000000000deadc0dea000000000000000000000000000000000000000000000000000000000feedbeef";

#[test]
fn eip2481_get_node_data_and_node_data_vectors() {
    let request = GetNodeData { request_id: RequestId(1111), hashes: eip2481_hashes() };
    assert_eq!(hex::encode(request.encode()), HASHES_1111);
    let decoded = decode(EthVersion::Eth66, 0x0d, &bytes(HASHES_1111)).unwrap();
    assert_eq!(decoded, Message::GetNodeData(request));

    let response =
        NodeData { request_id: RequestId(1111), nodes: vec![bytes("deadc0de"), bytes("feedbeef")] };
    assert_eq!(hex::encode(response.encode()), "ce820457ca84deadc0de84feedbeef");
    let decoded = decode(EthVersion::Eth66, 0x0e, &bytes("ce820457ca84deadc0de84feedbeef")).unwrap();
    assert_eq!(decoded, Message::NodeData(response));
}

#[test]
fn eip2481_get_block_headers_vectors() {
    let by_hash = GetBlockHeaders {
        request_id: RequestId(1111),
        origin: BlockOrigin::Hash(H256::from_low_u64_be(0xdeadc0de)),
        amount: 5,
        skip: 5,
        reverse: false,
    };
    let want = "e8820457e4a000000000000000000000000000000000000000000000000000000000deadc0de050580";
    assert_eq!(hex::encode(by_hash.encode()), want);
    assert_eq!(GetBlockHeaders::decode(&bytes(want)).unwrap(), by_hash);

    let by_number = GetBlockHeaders { origin: BlockOrigin::Number(9999), ..by_hash };
    assert_eq!(hex::encode(by_number.encode()), "ca820457c682270f050580");
    for version in EthVersion::ALL {
        assert_eq!(
            decode(version, 0x03, &bytes("ca820457c682270f050580")).unwrap(),
            Message::GetBlockHeaders(by_number)
        );
    }
    // an origin of 9 bytes is neither a number nor a hash
    assert!(GetBlockHeaders::decode(&bytes("cb820457c7890102030405060708090580")).is_err());
    // reverse must be 0 or 1
    assert!(GetBlockHeaders::decode(&bytes("ca820457c682270f050502")).is_err());
}

#[test]
fn requests_get_empty_answers_with_the_same_request_id() {
    // EIP-2481's GetBlockBodies / GetReceipts / GetPooledTransactions vectors share one payload
    for (id, answer) in [
        (MessageId::GetBlockBodies, MessageId::BlockBodies),
        (MessageId::GetReceipts, MessageId::Receipts),
        (MessageId::GetPooledTransactions, MessageId::PooledTransactions),
    ] {
        for version in EthVersion::ALL {
            let message = decode(version, id.id(), &bytes(HASHES_1111)).unwrap();
            assert_eq!(message.id(), id);
            let reply = message.empty_answer().unwrap();
            assert_eq!(reply.id, answer);
            assert_eq!(hex::encode(&reply.payload), "c4820457c0", "EIP-2481's empty answer");
        }
    }
    let headers = decode(EthVersion::Eth69, 0x03, &bytes("ca820457c682270f050580")).unwrap();
    let reply = headers.empty_answer().unwrap();
    assert_eq!((reply.id, reply.payload), (MessageId::BlockHeaders, encode_empty_response(RequestId(1111))));
    let node_data = decode(EthVersion::Eth66, 0x0d, &bytes(HASHES_1111)).unwrap();
    assert_eq!(node_data.empty_answer().unwrap().id, MessageId::NodeData);
    // a response is not answered
    let response = decode(EthVersion::Eth66, 0x04, &bytes("c4820457c0")).unwrap();
    assert_eq!(
        response,
        Message::UnrequestedResponse { id: MessageId::BlockHeaders, request_id: RequestId(1111) }
    );
    assert!(response.empty_answer().is_none());
}

#[test]
fn ids_outside_the_version_are_typed_errors() {
    for version in [EthVersion::Eth67, EthVersion::Eth68, EthVersion::Eth69] {
        for id in [0x0d, 0x0e] {
            assert!(matches!(
                decode(version, id, &bytes(HASHES_1111)),
                Err(Error::NotInVersion { version: v, .. }) if v == version
            ));
        }
    }
    let range = "e3010aa00000000000000000000000000000000000000000000000000000000000000001";
    for version in [EthVersion::Eth66, EthVersion::Eth67, EthVersion::Eth68] {
        assert!(matches!(decode(version, 0x11, &bytes(range)), Err(Error::NotInVersion { .. })));
    }
    assert!(
        matches!(decode(EthVersion::Eth69, 0x11, &bytes(range)), Ok(Message::BlockRangeUpdate(r)) if r.latest == 10)
    );
    for id in [0x0b, 0x0c, 0x12, 0xff] {
        assert!(matches!(
            decode(EthVersion::Eth69, id, &bytes("c0")),
            Err(Error::UnknownMessage { id: got, .. }) if got == id
        ));
    }
}

#[test]
fn announcements_are_recognised_and_ignored() {
    for id in [
        MessageId::NewBlockHashes,
        MessageId::Transactions,
        MessageId::NewBlock,
        MessageId::NewPooledTransactionHashes,
    ] {
        assert_eq!(
            decode(EthVersion::Eth68, id.id(), &bytes("c3c20102")).unwrap(),
            Message::Announcement(id)
        );
        // but must still be one well-formed list
        assert!(decode(EthVersion::Eth68, id.id(), &bytes("c3c201")).is_err());
        assert!(decode(EthVersion::Eth68, id.id(), &bytes("c0c0")).is_err());
    }
}

#[test]
fn node_data_counts_are_capped() {
    let request = GetNodeData { request_id: RequestId(1), hashes: vec![H256::zero(); MAX_NODE_DATA_ITEMS] };
    assert!(GetNodeData::decode(&request.encode()).is_ok());
    let over = GetNodeData { hashes: vec![H256::zero(); MAX_NODE_DATA_ITEMS + 1], ..request };
    assert!(matches!(
        decode(EthVersion::Eth66, 0x0d, &over.encode()),
        Err(Error::TooManyItems { count, limit: MAX_NODE_DATA_ITEMS, .. }) if count == MAX_NODE_DATA_ITEMS + 1
    ));
    let nodes = NodeData { request_id: RequestId(1), nodes: vec![vec![1]; MAX_NODE_DATA_ITEMS + 1] };
    assert!(matches!(NodeData::decode(&nodes.encode()), Err(Error::TooManyItems { .. })));
    // a hash of 31 bytes is malformed, not silently dropped
    assert!(matches!(
        GetNodeData::decode(&bytes(
            "e3820457df9e000000000000000000000000000000000000000000000000000000deadc0"
        )),
        Err(Error::Malformed { .. })
    ));
}

proptest! {
    #[test]
    fn decode_never_panics(id in 0u8..0x14, version in 0usize..4, payload in proptest::collection::vec(any::<u8>(), 0..200)) {
        let version = EthVersion::ALL[version];
        if let Err(err) = decode(version, id, &payload) {
            prop_assert!(err.is_peer_fault());
        }
    }

    #[test]
    fn node_data_round_trips(request_id in any::<u64>(), nodes in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..80), 0..20)) {
        let message = NodeData { request_id: RequestId(request_id), nodes };
        prop_assert_eq!(NodeData::decode(&message.encode()).unwrap(), message);
    }

    #[test]
    fn mutated_valid_messages_never_panic(flip in 0usize..80, byte in any::<u8>()) {
        let mut payload = bytes(HASHES_1111);
        let at = flip % payload.len();
        payload[at] = byte;
        for id in [0x03u8, 0x05, 0x0d, 0x0e] {
            let _ = decode(EthVersion::Eth66, id, &payload);
        }
    }
}
