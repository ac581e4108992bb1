//! The eth message ids (relative to the capability's offset) and which versions have them.

use std::fmt;

use crate::EthVersion;

/// An eth message kind, with its id as the discriminant (eth/66+ numbering).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum MessageId {
    /// The handshake: network, genesis, fork id and head or block range.
    Status = 0x00,
    /// Announcement of new block hashes (ignored after the merge).
    NewBlockHashes = 0x01,
    /// Full transactions, gossiped.
    Transactions = 0x02,
    /// A request for block headers.
    GetBlockHeaders = 0x03,
    /// The answer to GetBlockHeaders.
    BlockHeaders = 0x04,
    /// A request for block bodies by hash.
    GetBlockBodies = 0x05,
    /// The answer to GetBlockBodies.
    BlockBodies = 0x06,
    /// Propagation of a whole block (ignored after the merge).
    NewBlock = 0x07,
    /// Announcement of transaction hashes in the peer's pool.
    NewPooledTransactionHashes = 0x08,
    /// A request for pooled transactions by hash.
    GetPooledTransactions = 0x09,
    /// The answer to GetPooledTransactions.
    PooledTransactions = 0x0a,
    /// A request for trie nodes or code by hash (eth/66 only).
    GetNodeData = 0x0d,
    /// The answer to GetNodeData (eth/66 only).
    NodeData = 0x0e,
    /// A request for receipts by block hash.
    GetReceipts = 0x0f,
    /// The answer to GetReceipts.
    Receipts = 0x10,
    /// The range of blocks the peer serves (eth/69 and later).
    BlockRangeUpdate = 0x11,
}

impl MessageId {
    /// Every message id, in id order.
    pub const ALL: [MessageId; 16] = [
        MessageId::Status,
        MessageId::NewBlockHashes,
        MessageId::Transactions,
        MessageId::GetBlockHeaders,
        MessageId::BlockHeaders,
        MessageId::GetBlockBodies,
        MessageId::BlockBodies,
        MessageId::NewBlock,
        MessageId::NewPooledTransactionHashes,
        MessageId::GetPooledTransactions,
        MessageId::PooledTransactions,
        MessageId::GetNodeData,
        MessageId::NodeData,
        MessageId::GetReceipts,
        MessageId::Receipts,
        MessageId::BlockRangeUpdate,
    ];

    /// The kind for an id, whatever the version; `None` for ids eth never defined (0x0b, 0x0c,
    /// 0x12 and above).
    pub fn from_id(id: u8) -> Option<MessageId> {
        MessageId::ALL.into_iter().find(|m| m.id() == id)
    }

    /// The id on the wire, relative to the eth capability's offset.
    pub fn id(self) -> u8 {
        self as u8
    }

    /// The message's name in the spec.
    pub fn name(self) -> &'static str {
        match self {
            MessageId::Status => "Status",
            MessageId::NewBlockHashes => "NewBlockHashes",
            MessageId::Transactions => "Transactions",
            MessageId::GetBlockHeaders => "GetBlockHeaders",
            MessageId::BlockHeaders => "BlockHeaders",
            MessageId::GetBlockBodies => "GetBlockBodies",
            MessageId::BlockBodies => "BlockBodies",
            MessageId::NewBlock => "NewBlock",
            MessageId::NewPooledTransactionHashes => "NewPooledTransactionHashes",
            MessageId::GetPooledTransactions => "GetPooledTransactions",
            MessageId::PooledTransactions => "PooledTransactions",
            MessageId::GetNodeData => "GetNodeData",
            MessageId::NodeData => "NodeData",
            MessageId::GetReceipts => "GetReceipts",
            MessageId::Receipts => "Receipts",
            MessageId::BlockRangeUpdate => "BlockRangeUpdate",
        }
    }

    /// Whether the message exists in `version`.
    pub fn exists_in(self, version: EthVersion) -> bool {
        match self {
            MessageId::GetNodeData | MessageId::NodeData => version.has_node_data(),
            MessageId::BlockRangeUpdate => version.has_block_range(),
            _ => true,
        }
    }
}

impl fmt::Display for MessageId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({:#04x})", self.name(), self.id())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_fit_each_versions_message_count() {
        for version in EthVersion::ALL {
            for message in MessageId::ALL {
                if message.exists_in(version) {
                    assert!(message.id() < version.message_count(), "{message} in eth/{version}");
                }
            }
        }
        assert_eq!(MessageId::from_id(0x0b), None);
        assert_eq!(MessageId::from_id(0x12), None);
        assert_eq!(MessageId::from_id(0x0e), Some(MessageId::NodeData));
    }
}
