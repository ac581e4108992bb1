//! Wire v1 codec: round trips and hostile input.

use peers::{
    decode_frame_header, encode_frame, DisconnectReason, Message, RlpProblem, WireError, H256,
    MAX_FRAME_BYTES, MAX_HASHES_PER_REQUEST,
};
use proptest::prelude::*;
use rlp::RlpStream;

fn round_trip(message: Message) {
    let payload = message.encode();
    assert_eq!(Message::decode(&payload), Ok(message.clone()));
    let frame = encode_frame(&message).unwrap();
    let len = decode_frame_header(frame[..4].try_into().unwrap()).unwrap();
    assert_eq!(&frame[4..], &payload[..]);
    assert_eq!(len, payload.len());
}

/// A payload: `code` then `body` (already RLP).
fn payload(code: u8, body: &[u8]) -> Vec<u8> {
    let mut payload = vec![code];
    payload.extend_from_slice(body);
    payload
}

#[test]
fn status_and_disconnect_round_trip() {
    round_trip(Message::Status { version: 1, network_id: 0, head_root: H256::zero() });
    round_trip(Message::Status { version: 1, network_id: u64::MAX, head_root: H256::repeat_byte(0x5a) });
    for code in [0, 1, 2, 3, 4, 5, 6, 8, 0x0b, 0x10, 0x7f, 0x80, 1 << 40] {
        round_trip(Message::Disconnect { reason: DisconnectReason::from_code(code) });
    }
}

#[test]
fn codes_are_eth66s() {
    assert_eq!(Message::Status { version: 1, network_id: 1, head_root: H256::zero() }.encode()[0], 0x00);
    assert_eq!(Message::Disconnect { reason: DisconnectReason::Requested }.encode()[0], 0x01);
    assert_eq!(Message::GetNodeData { request_id: 1, hashes: vec![] }.encode()[0], 0x0d);
    assert_eq!(Message::NodeData { request_id: 1, blobs: vec![] }.encode()[0], 0x0e);
    // [request_id = 5, [hash]] exactly as eth/66 lays it out.
    let hash = H256::repeat_byte(0x11);
    let mut expected = vec![0x0d, 0xe3, 0x05, 0xe1, 0xa0];
    expected.extend_from_slice(hash.as_bytes());
    assert_eq!(Message::GetNodeData { request_id: 5, hashes: vec![hash] }.encode(), expected);
}

proptest! {
    #[test]
    fn get_node_data_round_trips(
        request_id in any::<u64>(),
        hashes in prop::collection::vec(any::<[u8; 32]>().prop_map(H256), 0..=MAX_HASHES_PER_REQUEST),
    ) {
        round_trip(Message::GetNodeData { request_id, hashes });
    }

    #[test]
    fn node_data_round_trips(
        request_id in any::<u64>(),
        blobs in prop::collection::vec(prop::collection::vec(any::<u8>(), 0..600), 0..40),
    ) {
        round_trip(Message::NodeData { request_id, blobs });
    }

    #[test]
    fn arbitrary_payloads_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..300)) {
        let _ = Message::decode(&bytes);
    }

    #[test]
    fn payloads_with_a_valid_code_never_panic(
        code in prop::sample::select(vec![0x00u8, 0x01, 0x0d, 0x0e]),
        body in prop::collection::vec(any::<u8>(), 0..300),
    ) {
        let _ = Message::decode(&payload(code, &body));
    }

    #[test]
    fn any_truncation_of_a_valid_message_is_an_error(
        blobs in prop::collection::vec(prop::collection::vec(any::<u8>(), 0..80), 1..10),
        cut in any::<prop::sample::Index>(),
    ) {
        let full = Message::NodeData { request_id: 9, blobs }.encode();
        let cut = 1 + cut.index(full.len() - 1);
        prop_assert!(Message::decode(&full[..cut]).is_err());
    }
}

#[test]
fn frame_header_over_16_mib_is_rejected() {
    let over = (MAX_FRAME_BYTES as u32 + 1).to_be_bytes();
    assert_eq!(
        decode_frame_header(over),
        Err(WireError::FrameTooLarge { len: MAX_FRAME_BYTES + 1, max: MAX_FRAME_BYTES })
    );
    assert_eq!(decode_frame_header([0, 0, 0, 0]), Err(WireError::EmptyFrame));
}

#[test]
fn oversized_messages_are_not_framed() {
    let blobs = vec![vec![0u8; 9 * 1024 * 1024], vec![0u8; 9 * 1024 * 1024]];
    assert!(matches!(
        encode_frame(&Message::NodeData { request_id: 1, blobs }),
        Err(WireError::FrameTooLarge { .. })
    ));
}

#[test]
fn unknown_code_and_empty_payload() {
    assert_eq!(Message::decode(&[0x02, 0xc0]), Err(WireError::UnknownCode { code: 0x02 }));
    assert_eq!(Message::decode(&[0xff]), Err(WireError::UnknownCode { code: 0xff }));
    assert_eq!(Message::decode(&[]), Err(WireError::EmptyFrame));
}

#[test]
fn bad_rlp_is_typed() {
    // A list announcing 5 bytes with 1 present.
    assert_eq!(
        Message::decode(&[0x0d, 0xc5, 0x01]),
        Err(WireError::Rlp { message: "GetNodeData", field: "body", problem: RlpProblem::Truncated })
    );
    // No body at all.
    assert_eq!(
        Message::decode(&[0x0e]),
        Err(WireError::Rlp { message: "NodeData", field: "body", problem: RlpProblem::Truncated })
    );
    // A body that is a string, not a list.
    assert_eq!(
        Message::decode(&[0x01, 0x80]),
        Err(WireError::Rlp { message: "Disconnect", field: "body", problem: RlpProblem::ExpectedList })
    );
    // A request id with a leading zero.
    let mut body = RlpStream::new_list(2);
    body.append(&vec![0u8, 1]).begin_list(0);
    assert_eq!(
        Message::decode(&payload(0x0d, &body.out())),
        Err(WireError::Rlp {
            message: "GetNodeData",
            field: "request_id",
            problem: RlpProblem::IntegerLeadingZero
        })
    );
    // A hash list that is a string.
    let mut body = RlpStream::new_list(2);
    body.append(&1u64).append(&vec![1u8, 2, 3]);
    assert_eq!(
        Message::decode(&payload(0x0d, &body.out())),
        Err(WireError::Rlp { message: "GetNodeData", field: "hashes", problem: RlpProblem::ExpectedList })
    );
    // A blob that is a list.
    let mut body = RlpStream::new_list(2);
    body.append(&1u64).begin_list(1).begin_list(0);
    assert_eq!(
        Message::decode(&payload(0x0e, &body.out())),
        Err(WireError::Rlp { message: "NodeData", field: "blob", problem: RlpProblem::ExpectedBytes })
    );
}

#[test]
fn trailing_bytes_are_rejected() {
    let mut bytes = Message::GetNodeData { request_id: 1, hashes: vec![H256::zero()] }.encode();
    bytes.push(0x00);
    assert_eq!(
        Message::decode(&bytes),
        Err(WireError::TrailingBytes { message: "GetNodeData", field: "body", extra: 1 })
    );
}

#[test]
fn wrong_item_counts_are_rejected() {
    let mut body = RlpStream::new_list(2);
    body.append(&1u64).append(&1u64);
    assert_eq!(
        Message::decode(&payload(0x00, &body.out())),
        Err(WireError::ItemCount { message: "Status", expected: 3, got: 2 })
    );
    let mut body = RlpStream::new_list(3);
    body.append(&1u64).begin_list(0).append(&1u64);
    assert_eq!(
        Message::decode(&payload(0x0d, &body.out())),
        Err(WireError::ItemCount { message: "GetNodeData", expected: 2, got: 3 })
    );
    assert_eq!(
        Message::decode(&[0x01, 0xc0]),
        Err(WireError::ItemCount { message: "Disconnect", expected: 1, got: 0 })
    );
}

#[test]
fn more_than_384_hashes_or_blobs_is_a_breach() {
    let hashes = vec![H256::zero(); MAX_HASHES_PER_REQUEST + 1];
    let bytes = Message::GetNodeData { request_id: 1, hashes }.encode();
    assert_eq!(Message::decode(&bytes), Err(WireError::TooManyHashes { count: 385, max: 384 }));
    let exactly = Message::GetNodeData { request_id: 1, hashes: vec![H256::zero(); MAX_HASHES_PER_REQUEST] };
    assert_eq!(Message::decode(&exactly.encode()), Ok(exactly));

    let blobs = vec![vec![]; MAX_HASHES_PER_REQUEST + 1];
    let bytes = Message::NodeData { request_id: 1, blobs }.encode();
    assert_eq!(Message::decode(&bytes), Err(WireError::TooManyBlobs { count: 385, max: 384 }));
}

#[test]
fn hashes_must_be_32_bytes() {
    let mut body = RlpStream::new_list(2);
    body.append(&1u64).begin_list(2).append(&H256::zero().as_bytes()).append(&vec![7u8; 31]);
    assert_eq!(
        Message::decode(&payload(0x0d, &body.out())),
        Err(WireError::HashLength { index: 1, got: 31 })
    );
    let mut body = RlpStream::new_list(3);
    body.append(&1u64).append(&1u64).append(&vec![7u8; 33]);
    assert_eq!(Message::decode(&payload(0x00, &body.out())), Err(WireError::HeadRootLength { got: 33 }));
}

#[test]
fn non_canonical_encodings_are_rejected() {
    // The single byte 0x05 wrapped as 0x81 0x05, as a request id (found while framing the body's items).
    let bytes = [0x0d, 0xc3, 0x81, 0x05, 0xc0];
    assert_eq!(
        Message::decode(&bytes),
        Err(WireError::Rlp {
            message: "GetNodeData",
            field: "body",
            problem: RlpProblem::NonCanonicalSingleByte
        })
    );
    // A 2-item list in the long form.
    let bytes = [0x0d, 0xf8, 0x02, 0x01, 0xc0];
    assert_eq!(
        Message::decode(&bytes),
        Err(WireError::Rlp {
            message: "GetNodeData",
            field: "body",
            problem: RlpProblem::NonCanonicalLength
        })
    );
    // A request id longer than 8 bytes.
    let mut body = RlpStream::new_list(2);
    body.append(&vec![1u8; 9]).begin_list(0);
    assert_eq!(
        Message::decode(&payload(0x0e, &body.out())),
        Err(WireError::Rlp {
            message: "NodeData",
            field: "request_id",
            problem: RlpProblem::IntegerTooLarge
        })
    );
}
