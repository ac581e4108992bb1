//! Hashes: the keccak-256 that addresses every node and code blob, and the well-known empty values.

use sha3::{Digest, Keccak256};

/// A 32-byte keccak-256 hash (re-exported from `primitive-types` so every crate shares one type).
pub use primitive_types::H256;

/// The hash of a trie node's RLP encoding, which is also its database key (the "hash scheme").
pub type NodeHash = H256;

/// keccak256(rlp("")): the root of an empty trie; an account with this storage root has no storage.
pub const EMPTY_ROOT: H256 = H256([
    0x56, 0xe8, 0x1f, 0x17, 0x1b, 0xcc, 0x55, 0xa6, 0xff, 0x83, 0x45, 0xe6, 0x92, 0xc0, 0xf8, 0x6e, 0x5b,
    0x48, 0xe0, 0x1b, 0x99, 0x6c, 0xad, 0xc0, 0x01, 0x62, 0x2f, 0xb5, 0xe3, 0x63, 0xb4, 0x21,
]);

/// keccak256(""): the code hash of an account without code.
pub const EMPTY_CODE_HASH: H256 = H256([
    0xc5, 0xd2, 0x46, 0x01, 0x86, 0xf7, 0x23, 0x3c, 0x92, 0x7e, 0x7d, 0xb2, 0xdc, 0xc7, 0x03, 0xc0, 0xe5,
    0x00, 0xb6, 0x53, 0xca, 0x82, 0x27, 0x3b, 0x7b, 0xfa, 0xd8, 0x04, 0x5d, 0x85, 0xa4, 0x70,
]);

/// keccak-256 of `data`.
pub fn keccak256(data: impl AsRef<[u8]>) -> H256 {
    H256(Keccak256::digest(data.as_ref()).into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_constants_are_the_hashes_they_name() {
        assert_eq!(keccak256([0x80u8]), EMPTY_ROOT);
        assert_eq!(keccak256([]), EMPTY_CODE_HASH);
    }
}
