//! Request-id messages (EIP-2481): GetBlockHeaders, the by-hash requests, GetNodeData/NodeData,
//! and the empty answers that keep a peer content.

use std::fmt;

use primitive_types::H256;
use rlp::RlpStream;

use crate::codec::{request_id, Item, List};
use crate::{Error, MessageId, Result};

/// Most hashes a GetNodeData may carry, and most nodes a NodeData may carry: go-ethereum's
/// `maxNodeDataServe` (v1.13.2), the most a geth peer serves per request. go-ethereum truncates
/// longer requests; we reject them as [`Error::TooManyItems`], bounding what one message can
/// make us allocate, and never ask for more ourselves.
pub const MAX_NODE_DATA_ITEMS: usize = 1024;

/// The request id pairing a response with its request (EIP-2481), chosen by the requester and
/// echoed by the responder.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct RequestId(pub u64);

impl fmt::Display for RequestId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "#{}", self.0)
    }
}

/// A message ready for the transport: its id (relative to the eth capability's offset) and its
/// RLP payload (before snappy compression, which is the transport's business).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EncodedMessage {
    /// Which message.
    pub id: MessageId,
    /// The RLP payload.
    pub payload: Vec<u8>,
}

/// `[request_id, []]`: the empty answer to any request.
pub fn encode_empty_response(request_id: RequestId) -> Vec<u8> {
    let mut stream = RlpStream::new_list(2);
    stream.append(&request_id.0).begin_list(0);
    stream.out().to_vec()
}

/// Where a header query starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BlockOrigin {
    /// The block with this hash.
    Hash(H256),
    /// The canonical block with this number.
    Number(u64),
}

/// GetBlockHeaders: `[request_id, [origin, amount, skip, reverse]]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GetBlockHeaders {
    /// Echoed in the answer.
    pub request_id: RequestId,
    /// The first block.
    pub origin: BlockOrigin,
    /// Most headers to return.
    pub amount: u64,
    /// Blocks to skip between consecutive headers.
    pub skip: u64,
    /// Whether numbers fall (towards genesis) rather than rise.
    pub reverse: bool,
}

impl GetBlockHeaders {
    const NAME: &'static str = "GetBlockHeaders";

    /// The RLP payload.
    pub fn encode(&self) -> Vec<u8> {
        let mut stream = RlpStream::new_list(2);
        stream.append(&self.request_id.0).begin_list(4);
        match self.origin {
            BlockOrigin::Hash(hash) => stream.append(&hash),
            BlockOrigin::Number(number) => stream.append(&number),
        };
        stream.append(&self.amount).append(&self.skip).append(&self.reverse);
        stream.out().to_vec()
    }

    /// Decodes the payload. The origin is a hash if 32 bytes long, a number if at most 8, as
    /// go-ethereum's `HashOrNumber`; anything else is malformed.
    pub fn decode(payload: &[u8]) -> Result<GetBlockHeaders> {
        let mut outer = List::parse(Self::NAME, payload)?;
        let request_id = request_id(&mut outer, Self::NAME)?;
        let mut query = outer.next_item()?.list(Self::NAME)?;
        let origin_item = query.next_item()?;
        let origin = match origin_item.bytes(Self::NAME)?.len() {
            32 => BlockOrigin::Hash(origin_item.h256(Self::NAME)?),
            0..=8 => BlockOrigin::Number(origin_item.u64(Self::NAME)?),
            _ => {
                return Err(Error::malformed(
                    Self::NAME,
                    rlp::DecoderError::Custom("origin neither a hash nor a number"),
                ))
            }
        };
        let amount = query.next_item()?.u64(Self::NAME)?;
        let skip = query.next_item()?.u64(Self::NAME)?;
        let reverse = query.next_item()?.bool(Self::NAME)?;
        query.finish();
        outer.finish();
        Ok(GetBlockHeaders { request_id, origin, amount, skip, reverse })
    }
}

/// A request by a list of hashes that we answer empty (GetBlockBodies, GetReceipts,
/// GetPooledTransactions): the hashes are checked and counted but not kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HashRequest {
    /// Echoed in the answer.
    pub request_id: RequestId,
    /// How many hashes the peer asked for.
    pub hash_count: usize,
}

impl HashRequest {
    /// Decodes `[request_id, [hash, ...]]`, each hash 32 bytes.
    pub(crate) fn decode(message: &'static str, payload: &[u8]) -> Result<HashRequest> {
        let mut outer = List::parse(message, payload)?;
        let request_id = request_id(&mut outer, message)?;
        let mut hashes = outer.next_item()?.list(message)?;
        let mut hash_count = 0;
        while !hashes.is_empty() {
            hashes.next_item()?.h256(message)?;
            hash_count += 1;
        }
        outer.finish();
        Ok(HashRequest { request_id, hash_count })
    }
}

/// GetNodeData (eth/66 only): `[request_id, [hash, ...]]`, trie nodes or contract code by hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GetNodeData {
    /// Echoed in the answer.
    pub request_id: RequestId,
    /// The keccak-256 hashes of the nodes or code wanted; at most [`MAX_NODE_DATA_ITEMS`] when
    /// decoded.
    pub hashes: Vec<H256>,
}

impl GetNodeData {
    const NAME: &'static str = "GetNodeData";

    /// The RLP payload.
    pub fn encode(&self) -> Vec<u8> {
        let mut stream = RlpStream::new_list(2);
        stream.append(&self.request_id.0).append_list(&self.hashes);
        stream.out().to_vec()
    }

    /// Decodes the payload, rejecting more than [`MAX_NODE_DATA_ITEMS`] hashes.
    pub fn decode(payload: &[u8]) -> Result<GetNodeData> {
        let mut outer = List::parse(Self::NAME, payload)?;
        let request_id = request_id(&mut outer, Self::NAME)?;
        let hashes = outer.next_item()?.list(Self::NAME)?.collect(MAX_NODE_DATA_ITEMS, Item::h256)?;
        outer.finish();
        Ok(GetNodeData { request_id, hashes })
    }
}

/// NodeData (eth/66 only): `[request_id, [node, ...]]`, the blobs found for a GetNodeData, in
/// request order, missing ones left out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeData {
    /// The request's id.
    pub request_id: RequestId,
    /// The RLP-encoded trie nodes or code; at most [`MAX_NODE_DATA_ITEMS`] when decoded.
    pub nodes: Vec<Vec<u8>>,
}

impl NodeData {
    const NAME: &'static str = "NodeData";

    /// The RLP payload.
    pub fn encode(&self) -> Vec<u8> {
        let mut stream = RlpStream::new_list(2);
        stream.append(&self.request_id.0).begin_list(self.nodes.len());
        for node in &self.nodes {
            stream.append(node);
        }
        stream.out().to_vec()
    }

    /// Decodes the payload, rejecting more than [`MAX_NODE_DATA_ITEMS`] nodes.
    pub fn decode(payload: &[u8]) -> Result<NodeData> {
        let mut outer = List::parse(Self::NAME, payload)?;
        let request_id = request_id(&mut outer, Self::NAME)?;
        let nodes = outer
            .next_item()?
            .list(Self::NAME)?
            .collect(MAX_NODE_DATA_ITEMS, |item, message| item.bytes(message).map(<[u8]>::to_vec))?;
        outer.finish();
        Ok(NodeData { request_id, nodes })
    }
}
