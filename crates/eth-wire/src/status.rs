//! The Status message (eth/66-68 and eth/69 layouts) and its validation against ours.

use primitive_types::{H256, U256};
use rlp::RlpStream;

use crate::codec::List;
use crate::{EthVersion, ForkFilter, ForkId, HandshakeError, Result};

const STATUS: &str = "Status";

/// The range of blocks a peer serves (eth/69's Status tail, and BlockRangeUpdate).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BlockRange {
    /// The first block whose body and receipts the peer serves (history may be pruned).
    pub earliest: u64,
    /// The peer's latest block.
    pub latest: u64,
    /// Hash of the latest block.
    pub latest_hash: H256,
}

impl BlockRange {
    /// go-ethereum's check: `earliest <= latest` and a nonzero latest hash.
    pub fn validate(&self) -> std::result::Result<(), HandshakeError> {
        if self.earliest > self.latest {
            return Err(HandshakeError::InvalidBlockRange { earliest: self.earliest, latest: self.latest });
        }
        if self.latest_hash.is_zero() {
            return Err(HandshakeError::ZeroLatestHash);
        }
        Ok(())
    }

    pub(crate) fn read(list: &mut List<'_>, message: &'static str) -> Result<BlockRange> {
        Ok(BlockRange {
            earliest: list.next_item()?.u64(message)?,
            latest: list.next_item()?.u64(message)?,
            latest_hash: list.next_item()?.h256(message)?,
        })
    }
}

/// What a Status says about the sender's chain head: it changed in eth/69.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StatusHead {
    /// eth/66-68: total difficulty and hash of the best block.
    TotalDifficulty {
        /// Total difficulty of the best block.
        total_difficulty: U256,
        /// Hash of the best block.
        best_hash: H256,
    },
    /// eth/69 (EIP-7642): the block range served.
    BlockRange(BlockRange),
}

/// The Status message, the first message each side sends on the eth capability.
///
/// eth/66-68: `[version, networkid, td, blockhash, genesis, forkid]`;
/// eth/69: `[version, networkid, genesis, forkid, earliestBlock, latestBlock, latestBlockHash]`.
/// The layout is chosen by the negotiated version when decoding and by [`StatusHead`] when
/// encoding; build ours with [`Chain::genesis_status`](crate::Chain::genesis_status) so that the
/// two agree.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Status {
    /// The protocol version as written in the message (a peer may write another one than the
    /// negotiated version; [`validate`](Self::validate) rejects that).
    pub version: u32,
    /// The network id.
    pub network_id: u64,
    /// Hash of the genesis block.
    pub genesis: H256,
    /// The sender's EIP-2124 fork id.
    pub fork_id: ForkId,
    /// The sender's head (eth/66-68) or served block range (eth/69).
    pub head: StatusHead,
}

impl Status {
    /// The RLP payload, in the layout of [`Status::head`].
    pub fn encode(&self) -> Vec<u8> {
        let mut stream = RlpStream::new();
        match &self.head {
            StatusHead::TotalDifficulty { total_difficulty, best_hash } => {
                stream.begin_list(6);
                stream
                    .append(&self.version)
                    .append(&self.network_id)
                    .append(total_difficulty)
                    .append(best_hash)
                    .append(&self.genesis);
                self.fork_id.append_to(&mut stream);
            }
            StatusHead::BlockRange(range) => {
                stream.begin_list(7);
                stream.append(&self.version).append(&self.network_id).append(&self.genesis);
                self.fork_id.append_to(&mut stream);
                stream.append(&range.earliest).append(&range.latest).append(&range.latest_hash);
            }
        }
        stream.out().to_vec()
    }

    /// Decodes a peer's Status in the layout of the negotiated `version`. Fields appended after
    /// the known ones are ignored (EIP-8 forward compatibility).
    pub fn decode(version: EthVersion, payload: &[u8]) -> Result<Status> {
        let mut list = List::parse(STATUS, payload)?;
        let protocol = list.next_item()?.u32(STATUS)?;
        let network_id = list.next_item()?.u64(STATUS)?;
        let status = if version.has_block_range() {
            let genesis = list.next_item()?.h256(STATUS)?;
            let fork_id = ForkId::read(list.next_item()?)?;
            let range = BlockRange::read(&mut list, STATUS)?;
            Status { version: protocol, network_id, genesis, fork_id, head: StatusHead::BlockRange(range) }
        } else {
            let total_difficulty = list.next_item()?.u256(STATUS)?;
            let best_hash = list.next_item()?.h256(STATUS)?;
            let genesis = list.next_item()?.h256(STATUS)?;
            let fork_id = ForkId::read(list.next_item()?)?;
            Status {
                version: protocol,
                network_id,
                genesis,
                fork_id,
                head: StatusHead::TotalDifficulty { total_difficulty, best_hash },
            }
        };
        list.finish();
        Ok(status)
    }

    /// Checks a peer's Status (`self`) against `ours`, in go-ethereum's order: network id,
    /// protocol version, genesis, fork id (with `forks`, our EIP-2124 filter at our head), and
    /// for eth/69 the block range.
    pub fn validate(&self, ours: &Status, forks: &ForkFilter) -> std::result::Result<(), HandshakeError> {
        if self.network_id != ours.network_id {
            return Err(HandshakeError::NetworkMismatch { ours: ours.network_id, theirs: self.network_id });
        }
        if self.version != ours.version {
            return Err(HandshakeError::VersionMismatch { ours: ours.version, theirs: self.version });
        }
        if self.genesis != ours.genesis {
            return Err(HandshakeError::GenesisMismatch { ours: ours.genesis, theirs: self.genesis });
        }
        forks
            .validate(self.fork_id)
            .map_err(|source| HandshakeError::ForkRejected { remote: self.fork_id, source })?;
        if let StatusHead::BlockRange(range) = &self.head {
            range.validate()?;
        }
        Ok(())
    }
}
