//! Any eth message, decoded by id and negotiated version.

use crate::codec::{request_id, List};
use crate::request::{encode_empty_response, HashRequest};
use crate::{
    BlockRange, EncodedMessage, Error, EthVersion, GetBlockHeaders, GetNodeData, MessageId, NodeData,
    RequestId, Result, Status,
};

/// A decoded eth message. Messages a state-sync client has no use for are recognised (so that
/// they are not mistaken for protocol violations) but not decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Message {
    /// The handshake.
    Status(Status),
    /// A header query; answer with [`Message::empty_answer`].
    GetBlockHeaders(GetBlockHeaders),
    /// A body query; answer empty.
    GetBlockBodies(HashRequest),
    /// A receipts query; answer empty.
    GetReceipts(HashRequest),
    /// A pooled transactions query; answer empty.
    GetPooledTransactions(HashRequest),
    /// A trie node / code query (eth/66); answer empty unless serving.
    GetNodeData(GetNodeData),
    /// Trie nodes or code answering our GetNodeData (eth/66).
    NodeData(NodeData),
    /// eth/69's announcement of the block range the peer serves.
    BlockRangeUpdate(BlockRange),
    /// A gossip message ignored after checking it is one well-formed RLP list:
    /// NewBlockHashes, Transactions, NewBlock or NewPooledTransactionHashes.
    Announcement(MessageId),
    /// An answer to a request we never send (BlockHeaders, BlockBodies, PooledTransactions,
    /// Receipts): only its request id is read.
    UnrequestedResponse {
        /// Which response.
        id: MessageId,
        /// Its request id.
        request_id: RequestId,
    },
}

impl Message {
    /// Which message this is.
    pub fn id(&self) -> MessageId {
        match self {
            Message::Status(_) => MessageId::Status,
            Message::GetBlockHeaders(_) => MessageId::GetBlockHeaders,
            Message::GetBlockBodies(_) => MessageId::GetBlockBodies,
            Message::GetReceipts(_) => MessageId::GetReceipts,
            Message::GetPooledTransactions(_) => MessageId::GetPooledTransactions,
            Message::GetNodeData(_) => MessageId::GetNodeData,
            Message::NodeData(_) => MessageId::NodeData,
            Message::BlockRangeUpdate(_) => MessageId::BlockRangeUpdate,
            Message::Announcement(id) | Message::UnrequestedResponse { id, .. } => *id,
        }
    }

    /// For a request, the empty answer that keeps the peer content (a peer that gets no answer
    /// times out and may drop us): the matching response id with `[request_id, []]`. `None`
    /// for anything that is not a request.
    pub fn empty_answer(&self) -> Option<EncodedMessage> {
        let (id, request_id) = match self {
            Message::GetBlockHeaders(request) => (MessageId::BlockHeaders, request.request_id),
            Message::GetBlockBodies(request) => (MessageId::BlockBodies, request.request_id),
            Message::GetReceipts(request) => (MessageId::Receipts, request.request_id),
            Message::GetPooledTransactions(request) => (MessageId::PooledTransactions, request.request_id),
            Message::GetNodeData(request) => (MessageId::NodeData, request.request_id),
            _ => return None,
        };
        Some(EncodedMessage { id, payload: encode_empty_response(request_id) })
    }
}

/// Decodes message `id` (relative to the eth capability's offset) of the negotiated `version`.
///
/// Errors: [`Error::UnknownMessage`] for ids eth never defined, [`Error::NotInVersion`] for
/// messages of other versions (GetNodeData/NodeData after eth/66: a peer that negotiated eth/67+
/// is never sent one and must never send one), [`Error::Malformed`] / [`Error::TrailingBytes`]
/// for bad RLP, [`Error::TooManyItems`] past [`MAX_NODE_DATA_ITEMS`](crate::MAX_NODE_DATA_ITEMS).
pub fn decode(version: EthVersion, id: u8, payload: &[u8]) -> Result<Message> {
    let message = MessageId::from_id(id).ok_or(Error::UnknownMessage { id, version })?;
    if !message.exists_in(version) {
        return Err(Error::NotInVersion { message, version });
    }
    let name = message.name();
    Ok(match message {
        MessageId::Status => Message::Status(Status::decode(version, payload)?),
        MessageId::GetBlockHeaders => Message::GetBlockHeaders(GetBlockHeaders::decode(payload)?),
        MessageId::GetBlockBodies => Message::GetBlockBodies(HashRequest::decode(name, payload)?),
        MessageId::GetReceipts => Message::GetReceipts(HashRequest::decode(name, payload)?),
        MessageId::GetPooledTransactions => {
            Message::GetPooledTransactions(HashRequest::decode(name, payload)?)
        }
        MessageId::GetNodeData => Message::GetNodeData(GetNodeData::decode(payload)?),
        MessageId::NodeData => Message::NodeData(NodeData::decode(payload)?),
        MessageId::BlockRangeUpdate => {
            let mut list = List::parse(name, payload)?;
            let range = BlockRange::read(&mut list, name)?;
            list.finish();
            Message::BlockRangeUpdate(range)
        }
        MessageId::NewBlockHashes
        | MessageId::Transactions
        | MessageId::NewBlock
        | MessageId::NewPooledTransactionHashes => {
            List::parse(name, payload)?;
            Message::Announcement(message)
        }
        MessageId::BlockHeaders
        | MessageId::BlockBodies
        | MessageId::PooledTransactions
        | MessageId::Receipts => {
            let mut list = List::parse(name, payload)?;
            Message::UnrequestedResponse { id: message, request_id: request_id(&mut list, name)? }
        }
    })
}
