//! Wire protocol v1 messages and their RLP codec.
//!
//! A message is a code byte followed by one RLP item (see DESIGN.md, "Wire format (v1)"). Decoding is
//! strict: an unknown code, malformed or non-canonical RLP, bytes after the item, a hash that is not 32
//! bytes, a wrong number of list items or more hashes than [`MAX_HASHES_PER_REQUEST`] are each a typed
//! [`WireError`]; nothing panics on hostile input.

use std::fmt;

use primitive_types::H256;
use rlp::RlpStream;

use crate::error::RlpProblem;
use crate::rlp_reader::{Item, Items};
use crate::WireError;

/// The protocol version this crate speaks, sent in [`Message::Status`]; a peer with another version is
/// disconnected with [`DisconnectReason::IncompatibleVersion`].
pub const PROTOCOL_VERSION: u64 = 1;

/// Most hashes one GetNodeData may carry (and so most blobs one NodeData may carry).
///
/// Bounds the work and memory one request costs a server (go-ethereum serves at most 384 node data
/// items per request, and our peers' capacities are clamped to it); a request with more is a protocol
/// breach, as is a response with more blobs than any request could ask for.
pub const MAX_HASHES_PER_REQUEST: usize = 384;

/// The message codes of wire v1, the same as eth/66's.
mod code {
    pub(super) const STATUS: u8 = 0x00;
    pub(super) const DISCONNECT: u8 = 0x01;
    pub(super) const GET_NODE_DATA: u8 = 0x0d;
    pub(super) const NODE_DATA: u8 = 0x0e;
}

/// Why a connection is closed, sent in [`Message::Disconnect`] as an unsigned integer.
///
/// The numbers are devp2p's disconnect reasons where one fits, so that logs read the same as a real
/// Ethereum client's; a number we do not know is kept as [`DisconnectReason::Other`] rather than being
/// a protocol breach, so that a newer peer's reasons do not break older ones.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum DisconnectReason {
    /// Closed on request, for no fault of the peer (0x00).
    Requested,
    /// A network error on the connection (0x01).
    NetworkError,
    /// The peer broke the wire protocol (0x02).
    ProtocolBreach,
    /// The peer is of no use: it has nothing we need, or answers nothing (0x03).
    Useless,
    /// The side closing has reached its connection cap (0x04).
    TooManyPeers,
    /// The peer is already connected (0x05).
    AlreadyConnected,
    /// The peer speaks another protocol version (0x06).
    IncompatibleVersion,
    /// The side closing is shutting down (0x08).
    Quitting,
    /// The peer timed out or stalled: a handshake or request did not complete in time (0x0b).
    Timeout,
    /// The peer is on another network id (0x10, devp2p's "subprotocol-specific" reason).
    NetworkMismatch,
    /// A reason code this version does not know.
    Other(u64),
}

impl DisconnectReason {
    /// The reason's number on the wire.
    pub fn code(self) -> u64 {
        match self {
            DisconnectReason::Requested => 0x00,
            DisconnectReason::NetworkError => 0x01,
            DisconnectReason::ProtocolBreach => 0x02,
            DisconnectReason::Useless => 0x03,
            DisconnectReason::TooManyPeers => 0x04,
            DisconnectReason::AlreadyConnected => 0x05,
            DisconnectReason::IncompatibleVersion => 0x06,
            DisconnectReason::Quitting => 0x08,
            DisconnectReason::Timeout => 0x0b,
            DisconnectReason::NetworkMismatch => 0x10,
            DisconnectReason::Other(code) => code,
        }
    }

    /// The reason with number `code` (unknown numbers become [`DisconnectReason::Other`]).
    pub fn from_code(code: u64) -> Self {
        match code {
            0x00 => DisconnectReason::Requested,
            0x01 => DisconnectReason::NetworkError,
            0x02 => DisconnectReason::ProtocolBreach,
            0x03 => DisconnectReason::Useless,
            0x04 => DisconnectReason::TooManyPeers,
            0x05 => DisconnectReason::AlreadyConnected,
            0x06 => DisconnectReason::IncompatibleVersion,
            0x08 => DisconnectReason::Quitting,
            0x0b => DisconnectReason::Timeout,
            0x10 => DisconnectReason::NetworkMismatch,
            other => DisconnectReason::Other(other),
        }
    }
}

impl fmt::Display for DisconnectReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DisconnectReason::Requested => f.write_str("disconnect requested"),
            DisconnectReason::NetworkError => f.write_str("network error"),
            DisconnectReason::ProtocolBreach => f.write_str("protocol breach"),
            DisconnectReason::Useless => f.write_str("useless peer"),
            DisconnectReason::TooManyPeers => f.write_str("too many peers"),
            DisconnectReason::AlreadyConnected => f.write_str("already connected"),
            DisconnectReason::IncompatibleVersion => f.write_str("incompatible protocol version"),
            DisconnectReason::Quitting => f.write_str("quitting"),
            DisconnectReason::Timeout => f.write_str("timeout"),
            DisconnectReason::NetworkMismatch => f.write_str("network mismatch"),
            DisconnectReason::Other(code) => write!(f, "reason {code:#x}"),
        }
    }
}

/// One message of wire protocol v1.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Message {
    /// The first message each side sends: who it is and what it serves (code 0x00).
    Status {
        /// The protocol version, [`PROTOCOL_VERSION`].
        version: u64,
        /// The network the peer is on; peers of different networks do not talk.
        network_id: u64,
        /// The state root the sender holds (informational for now).
        head_root: H256,
    },
    /// The sender closes the connection, and why (code 0x01).
    Disconnect {
        /// Why.
        reason: DisconnectReason,
    },
    /// A request for the blobs (trie nodes or code) with the given hashes (code 0x0d).
    GetNodeData {
        /// Chosen by the requester, echoed in the answer so it can match answer to request.
        request_id: u64,
        /// At most [`MAX_HASHES_PER_REQUEST`].
        hashes: Vec<H256>,
    },
    /// An answer to [`Message::GetNodeData`] (code 0x0e): the blobs the server holds, in request order,
    /// missing ones omitted; possibly fewer than asked for.
    NodeData {
        /// The request's id.
        request_id: u64,
        /// The blobs; the receiver hashes them to know which is which.
        blobs: Vec<Vec<u8>>,
    },
}

impl Message {
    /// The message's code byte.
    pub fn code(&self) -> u8 {
        match self {
            Message::Status { .. } => code::STATUS,
            Message::Disconnect { .. } => code::DISCONNECT,
            Message::GetNodeData { .. } => code::GET_NODE_DATA,
            Message::NodeData { .. } => code::NODE_DATA,
        }
    }

    /// The message's name, for logs and errors.
    pub fn name(&self) -> &'static str {
        match self {
            Message::Status { .. } => "Status",
            Message::Disconnect { .. } => "Disconnect",
            Message::GetNodeData { .. } => "GetNodeData",
            Message::NodeData { .. } => "NodeData",
        }
    }

    /// The payload of the message's frame: the code byte, then the RLP body.
    pub fn encode(&self) -> Vec<u8> {
        let mut stream = RlpStream::new();
        match self {
            Message::Status { version, network_id, head_root } => {
                stream.begin_list(3).append(version).append(network_id).append(&head_root.as_bytes());
            }
            Message::Disconnect { reason } => {
                stream.begin_list(1).append(&reason.code());
            }
            Message::GetNodeData { request_id, hashes } => {
                stream.begin_list(2).append(request_id).begin_list(hashes.len());
                for hash in hashes {
                    stream.append(&hash.as_bytes());
                }
            }
            Message::NodeData { request_id, blobs } => {
                stream.begin_list(2).append(request_id).begin_list(blobs.len());
                for blob in blobs {
                    stream.append(&blob.as_slice());
                }
            }
        }
        let body = stream.out();
        let mut payload = Vec::with_capacity(1 + body.len());
        payload.push(self.code());
        payload.extend_from_slice(&body);
        payload
    }

    /// Decodes a frame's payload (code byte and RLP body), strictly.
    pub fn decode(payload: &[u8]) -> Result<Message, WireError> {
        let (&code, body) = payload.split_first().ok_or(WireError::EmptyFrame)?;
        let name = match code {
            code::STATUS => "Status",
            code::DISCONNECT => "Disconnect",
            code::GET_NODE_DATA => "GetNodeData",
            code::NODE_DATA => "NodeData",
            code => return Err(WireError::UnknownCode { code }),
        };
        let mut top = Items::new(body);
        let item = top.expect_item().map_err(rlp_error(name, "body"))?;
        if top.remaining() > 0 {
            return Err(WireError::TrailingBytes { message: name, field: "body", extra: top.remaining() });
        }
        let mut fields = Fields::new(name, item)?;
        let message = match code {
            code::STATUS => {
                fields.expect_count(3)?;
                let version = fields.uint("version")?;
                let network_id = fields.uint("network_id")?;
                let root = fields.bytes("head_root")?;
                if root.len() != 32 {
                    return Err(WireError::HeadRootLength { got: root.len() });
                }
                Message::Status { version, network_id, head_root: H256::from_slice(root) }
            }
            code::DISCONNECT => {
                fields.expect_count(1)?;
                Message::Disconnect { reason: DisconnectReason::from_code(fields.uint("reason")?) }
            }
            code::GET_NODE_DATA => {
                fields.expect_count(2)?;
                let request_id = fields.uint("request_id")?;
                let mut list = fields.list("hashes")?;
                let count = count_items(&list).map_err(rlp_error(name, "hashes"))?;
                if count > MAX_HASHES_PER_REQUEST {
                    return Err(WireError::TooManyHashes { count, max: MAX_HASHES_PER_REQUEST });
                }
                let mut hashes = Vec::with_capacity(count);
                for index in 0..count {
                    let hash = list.expect_item().and_then(Item::bytes).map_err(rlp_error(name, "hash"))?;
                    if hash.len() != 32 {
                        return Err(WireError::HashLength { index, got: hash.len() });
                    }
                    hashes.push(H256::from_slice(hash));
                }
                Message::GetNodeData { request_id, hashes }
            }
            _ => {
                fields.expect_count(2)?;
                let request_id = fields.uint("request_id")?;
                let mut list = fields.list("blobs")?;
                let count = count_items(&list).map_err(rlp_error(name, "blobs"))?;
                if count > MAX_HASHES_PER_REQUEST {
                    return Err(WireError::TooManyBlobs { count, max: MAX_HASHES_PER_REQUEST });
                }
                let mut blobs = Vec::with_capacity(count);
                for _ in 0..count {
                    let blob = list.expect_item().and_then(Item::bytes).map_err(rlp_error(name, "blob"))?;
                    blobs.push(blob.to_vec());
                }
                Message::NodeData { request_id, blobs }
            }
        };
        Ok(message)
    }
}

/// Maps an RLP problem in `field` of `message` to a [`WireError`].
fn rlp_error(message: &'static str, field: &'static str) -> impl Fn(RlpProblem) -> WireError {
    move |problem| WireError::Rlp { message, field, problem }
}

/// The number of items left in `items`, checking that each is well-framed (so a count of `n` means
/// `n` items can be read without error at the framing level).
fn count_items(items: &Items<'_>) -> Result<usize, RlpProblem> {
    let mut cursor = items.clone();
    let mut count = 0;
    while cursor.next_item()?.is_some() {
        count += 1;
    }
    Ok(count)
}

/// The fields of a message's top-level list, read in order.
struct Fields<'a> {
    message: &'static str,
    items: Items<'a>,
}

impl<'a> Fields<'a> {
    fn new(message: &'static str, body: Item<'a>) -> Result<Self, WireError> {
        Ok(Self { message, items: body.list().map_err(rlp_error(message, "body"))? })
    }

    fn expect_count(&self, expected: usize) -> Result<(), WireError> {
        let got = count_items(&self.items).map_err(rlp_error(self.message, "body"))?;
        if got != expected {
            return Err(WireError::ItemCount { message: self.message, expected, got });
        }
        Ok(())
    }

    fn item(&mut self, field: &'static str) -> Result<Item<'a>, WireError> {
        self.items.expect_item().map_err(rlp_error(self.message, field))
    }

    fn uint(&mut self, field: &'static str) -> Result<u64, WireError> {
        self.item(field)?.uint().map_err(rlp_error(self.message, field))
    }

    fn bytes(&mut self, field: &'static str) -> Result<&'a [u8], WireError> {
        self.item(field)?.bytes().map_err(rlp_error(self.message, field))
    }

    fn list(&mut self, field: &'static str) -> Result<Items<'a>, WireError> {
        self.item(field)?.list().map_err(rlp_error(self.message, field))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn disconnect_reasons_round_trip_through_their_codes() {
        for code in 0..0x20 {
            assert_eq!(DisconnectReason::from_code(code).code(), code);
        }
        assert_eq!(DisconnectReason::from_code(0x04), DisconnectReason::TooManyPeers);
    }

    #[test]
    fn status_matches_a_hand_written_encoding() {
        let message = Message::Status { version: 1, network_id: 1, head_root: H256::repeat_byte(0xab) };
        let mut expected = vec![0x00, 0xe3, 0x01, 0x01, 0xa0];
        expected.extend_from_slice(&[0xab; 32]);
        assert_eq!(message.encode(), expected);
        assert_eq!(Message::decode(&expected), Ok(message));
    }

    #[test]
    fn empty_lists_round_trip() {
        for message in [
            Message::GetNodeData { request_id: 0, hashes: vec![] },
            Message::NodeData { request_id: u64::MAX, blobs: vec![vec![]] },
        ] {
            assert_eq!(Message::decode(&message.encode()), Ok(message));
        }
    }
}
