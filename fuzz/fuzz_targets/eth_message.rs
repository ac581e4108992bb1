//! eth-wire's decoders: `decode(version, id, payload)` for every `EthVersion` and every id
//! byte (unknown ones included), `Status::decode` and `ForkId::decode`.
//!
//! The first byte picks the version (low 2 bits) and the decoder (next 2 bits); for `decode`,
//! the second byte is the message id.
//!
//! Properties: a decoded message has the id it was decoded as and exists in the version;
//! messages with an encoder (Status, GetBlockHeaders, GetNodeData, NodeData, ForkId) re-encode
//! to bytes that decode to the same value; item counts stay within `MAX_NODE_DATA_ITEMS`; a
//! request's empty answer decodes as the matching response with the same request id.

#![no_main]

use eth_wire::{
    decode, EthVersion, ForkId, GetBlockHeaders, GetNodeData, Message, MessageId, NodeData, Status,
    MAX_NODE_DATA_ITEMS,
};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&selector, rest)) = data.split_first() else { return };
    let version = EthVersion::ALL[usize::from(selector % 4)];
    match (selector >> 2) % 4 {
        0 | 1 => {
            let Some((&id, payload)) = rest.split_first() else { return };
            if let Ok(message) = decode(version, id, payload) {
                check_message(version, id, &message);
            }
        }
        2 => {
            if let Ok(status) = Status::decode(version, rest) {
                assert_eq!(Status::decode(version, &status.encode()).expect("re-encoded Status"), status);
            }
        }
        _ => {
            if let Ok(fork_id) = ForkId::decode(rest) {
                assert_eq!(ForkId::decode(&fork_id.encode()).expect("re-encoded fork id"), fork_id);
            }
        }
    }
});

fn check_message(version: EthVersion, id: u8, message: &Message) {
    assert_eq!(message.id().id(), id);
    assert!(MessageId::from_id(id).expect("a known id").exists_in(version));
    match message {
        Message::Status(status) => {
            assert_eq!(Status::decode(version, &status.encode()).expect("re-encoded Status"), *status);
        }
        Message::GetBlockHeaders(request) => {
            assert_eq!(GetBlockHeaders::decode(&request.encode()).expect("re-encoded request"), *request);
        }
        Message::GetNodeData(request) => {
            assert!(request.hashes.len() <= MAX_NODE_DATA_ITEMS);
            assert_eq!(GetNodeData::decode(&request.encode()).expect("re-encoded request"), *request);
        }
        Message::NodeData(response) => {
            assert!(response.nodes.len() <= MAX_NODE_DATA_ITEMS);
            assert_eq!(NodeData::decode(&response.encode()).expect("re-encoded response"), *response);
        }
        _ => {}
    }
    if let Some(answer) = message.empty_answer() {
        let request_id = match message {
            Message::GetBlockHeaders(request) => request.request_id,
            Message::GetBlockBodies(request)
            | Message::GetReceipts(request)
            | Message::GetPooledTransactions(request) => request.request_id,
            Message::GetNodeData(request) => request.request_id,
            other => panic!("an answer to {other:?}"),
        };
        match decode(version, answer.id.id(), &answer.payload).expect("our empty answer decodes") {
            Message::NodeData(response) => {
                assert_eq!(response.request_id, request_id);
                assert!(response.nodes.is_empty());
            }
            Message::UnrequestedResponse { request_id: echoed, .. } => assert_eq!(echoed, request_id),
            other => panic!("{other:?} answers {message:?}"),
        }
    }
}
