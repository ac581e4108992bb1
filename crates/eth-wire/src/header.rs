//! The block header as go-ethereum encodes it, with the optional fields forks added since London.

use primitive_types::{H160, H256, U256};
use rlp::RlpStream;
use sha3::{Digest, Keccak256};

/// Root of an empty Merkle-Patricia trie: keccak256(rlp("")). The transactions, receipts and
/// withdrawals roots of a block without any.
pub const EMPTY_ROOT_HASH: H256 = H256([
    0x56, 0xe8, 0x1f, 0x17, 0x1b, 0xcc, 0x55, 0xa6, 0xff, 0x83, 0x45, 0xe6, 0x92, 0xc0, 0xf8, 0x6e, 0x5b,
    0x48, 0xe0, 0x1b, 0x99, 0x6c, 0xad, 0xc0, 0x01, 0x62, 0x2f, 0xb5, 0xe3, 0x63, 0xb4, 0x21,
]);

/// keccak256(rlp([])): the uncles hash of a block without uncles, and (EIP-7928) the block
/// access list hash of an empty access list.
pub const EMPTY_LIST_HASH: H256 = H256([
    0x1d, 0xcc, 0x4d, 0xe8, 0xde, 0xc7, 0x5d, 0x7a, 0xab, 0x85, 0xb5, 0x67, 0xb6, 0xcc, 0xd4, 0x1a, 0xd3,
    0x12, 0x45, 0x1b, 0x94, 0x8a, 0x74, 0x13, 0xf0, 0xa1, 0x42, 0xfd, 0x40, 0xd4, 0x93, 0x47,
]);

/// sha256(""): the requests hash (EIP-7685) of a block without execution requests.
pub const EMPTY_REQUESTS_HASH: H256 = H256([
    0xe3, 0xb0, 0xc4, 0x42, 0x98, 0xfc, 0x1c, 0x14, 0x9a, 0xfb, 0xf4, 0xc8, 0x99, 0x6f, 0xb9, 0x24, 0x27,
    0xae, 0x41, 0xe4, 0x64, 0x9b, 0x93, 0x4c, 0xa4, 0x95, 0x99, 0x1b, 0x78, 0x52, 0xb8, 0x55,
]);

/// A block header. Its hash is the block hash; the genesis block's hash is what the Status
/// message and the fork id carry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Header {
    /// Hash of the parent block (zero for a genesis).
    pub parent_hash: H256,
    /// Hash of the uncle list.
    pub uncles_hash: H256,
    /// Fee recipient.
    pub coinbase: H160,
    /// State trie root after the block.
    pub state_root: H256,
    /// Transactions trie root.
    pub transactions_root: H256,
    /// Receipts trie root.
    pub receipts_root: H256,
    /// Bloom filter of the receipts' logs.
    pub logs_bloom: [u8; 256],
    /// Proof-of-work difficulty (0 after the Merge).
    pub difficulty: U256,
    /// Block number.
    pub number: u64,
    /// Gas limit.
    pub gas_limit: u64,
    /// Gas used.
    pub gas_used: u64,
    /// Unix time.
    pub timestamp: u64,
    /// Arbitrary extra data.
    pub extra_data: Vec<u8>,
    /// Proof-of-work mix digest (prevRandao after the Merge).
    pub mix_hash: H256,
    /// Proof-of-work nonce, always encoded as 8 bytes.
    pub nonce: [u8; 8],
    /// EIP-1559 base fee (London).
    pub base_fee_per_gas: Option<U256>,
    /// EIP-4895 withdrawals root (Shanghai).
    pub withdrawals_root: Option<H256>,
    /// EIP-4844 blob gas used (Cancun).
    pub blob_gas_used: Option<u64>,
    /// EIP-4844 excess blob gas (Cancun).
    pub excess_blob_gas: Option<u64>,
    /// EIP-4788 parent beacon block root (Cancun).
    pub parent_beacon_root: Option<H256>,
    /// EIP-7685 requests hash (Prague).
    pub requests_hash: Option<H256>,
    /// EIP-7928 block access list hash (Amsterdam).
    pub block_access_list_hash: Option<H256>,
    /// EIP-7843 slot number (Amsterdam).
    pub slot_number: Option<u64>,
}

/// One optional trailing field, for encoding.
enum Optional<'a> {
    Integer(U256),
    Hash(&'a H256),
}

impl Header {
    /// The RLP encoding, as go-ethereum's (`rlp:"optional"` fields): the fields after the nonce
    /// are written up to the last one present; an absent one before it is written empty (0x80).
    pub fn encode(&self) -> Vec<u8> {
        let optional: [Option<Optional<'_>>; 8] = [
            self.base_fee_per_gas.map(Optional::Integer),
            self.withdrawals_root.as_ref().map(Optional::Hash),
            self.blob_gas_used.map(|v| Optional::Integer(v.into())),
            self.excess_blob_gas.map(|v| Optional::Integer(v.into())),
            self.parent_beacon_root.as_ref().map(Optional::Hash),
            self.requests_hash.as_ref().map(Optional::Hash),
            self.block_access_list_hash.as_ref().map(Optional::Hash),
            self.slot_number.map(|v| Optional::Integer(v.into())),
        ];
        let written = optional.iter().rposition(Option::is_some).map_or(0, |last| last + 1);
        let mut stream = RlpStream::new_list(15 + written);
        stream
            .append(&self.parent_hash)
            .append(&self.uncles_hash)
            .append(&self.coinbase)
            .append(&self.state_root)
            .append(&self.transactions_root)
            .append(&self.receipts_root)
            .append(&self.logs_bloom.as_slice())
            .append(&self.difficulty)
            .append(&self.number)
            .append(&self.gas_limit)
            .append(&self.gas_used)
            .append(&self.timestamp)
            .append(&self.extra_data)
            .append(&self.mix_hash)
            .append(&self.nonce.as_slice());
        for field in &optional[..written] {
            match field {
                Some(Optional::Integer(value)) => stream.append(value),
                Some(Optional::Hash(hash)) => stream.append(*hash),
                None => stream.append_empty_data(),
            };
        }
        stream.out().to_vec()
    }

    /// keccak256 of the encoding: the block hash.
    pub fn hash(&self) -> H256 {
        H256(Keccak256::digest(self.encode()).into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_hashes_are_what_they_claim() {
        assert_eq!(H256(Keccak256::digest([0x80u8]).into()), EMPTY_ROOT_HASH, "keccak(rlp(\"\"))");
        assert_eq!(H256(Keccak256::digest([0xc0u8]).into()), EMPTY_LIST_HASH, "keccak(rlp([]))");
        assert_eq!(
            hex::encode(EMPTY_REQUESTS_HASH),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
            "sha256 of nothing"
        );
    }
}
