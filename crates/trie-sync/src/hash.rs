//! Hashes: the keccak-256 that addresses every node and code blob, and the well-known empty values.

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

/// Bytes absorbed per keccak-f[1600] permutation by keccak-256 (1600 bits less twice the 256-bit
/// capacity).
const RATE: usize = 136;

/// keccak-256 of `data` (Ethereum's: the original Keccak padding, not SHA3-256's).
///
/// A one-shot sponge over the `keccak` crate's permutation (the one `sha3` uses): whole blocks are
/// XORed into the state straight from `data`, and only the last partial block is copied, once. The
/// `sha3` crate's streaming hasher copies every block through its buffer, which made it a fifth of the
/// scheduler's time; its results are cross-checked against this one in the tests.
pub fn keccak256(data: impl AsRef<[u8]>) -> H256 {
    let data = data.as_ref();
    let mut state = [0u64; 25];
    let mut blocks = data.chunks_exact(RATE);
    for block in &mut blocks {
        absorb(&mut state, block);
        keccak::f1600(&mut state);
    }
    let rest = blocks.remainder();
    let mut last = [0u8; RATE];
    last[..rest.len()].copy_from_slice(rest);
    last[rest.len()] ^= 0x01;
    last[RATE - 1] ^= 0x80;
    absorb(&mut state, &last);
    keccak::f1600(&mut state);
    let mut out = [0u8; 32];
    for (bytes, lane) in out.chunks_exact_mut(8).zip(state) {
        bytes.copy_from_slice(&lane.to_le_bytes());
    }
    H256(out)
}

/// XORs one block of [`RATE`] bytes into the state's first lanes (little-endian).
fn absorb(state: &mut [u64; 25], block: &[u8]) {
    for (lane, bytes) in state.iter_mut().zip(block.chunks_exact(8)) {
        let mut word = [0u8; 8];
        word.copy_from_slice(bytes);
        *lane ^= u64::from_le_bytes(word);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use sha3::{Digest, Keccak256};

    #[test]
    fn empty_constants_are_the_hashes_they_name() {
        assert_eq!(keccak256([0x80u8]), EMPTY_ROOT);
        assert_eq!(keccak256([]), EMPTY_CODE_HASH);
    }

    #[test]
    fn known_answers() {
        // keccak256("abc") and of 200 bytes of 0xa3 (two blocks, the second partial).
        assert_eq!(
            format!("{:x}", keccak256(b"abc")),
            "4e03657aea45a94fc7d47ba826c8d667c0d1e6e33a64a036ec44f58fa12d6c45"
        );
        assert_eq!(keccak256([0xa3u8; 200]), H256(Keccak256::digest([0xa3u8; 200]).into()));
    }

    #[test]
    fn agrees_with_sha3_at_every_length_around_the_block_boundaries() {
        let data: Vec<u8> = (0..1200u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8).collect();
        for len in (0..=600).chain([815, 816, 817, 951, 952, 953, 1200]) {
            let expected = H256(Keccak256::digest(&data[..len]).into());
            assert_eq!(keccak256(&data[..len]), expected, "length {len}");
        }
    }
}
