//! Deterministic keys and values shared by the tests.

/// A 32-byte key (like a node hash) for entry `n`: distinct for distinct `n`, and not in `n`'s order,
/// so tests notice a store that returns entries in insertion order instead of key order.
pub(crate) fn key(n: u64) -> Vec<u8> {
    let mut key = Vec::with_capacity(32);
    let mut state = n.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ 0xD1B5_4A32_D192_ED03;
    for _ in 0..4 {
        state = splitmix(state);
        key.extend_from_slice(&state.to_be_bytes());
    }
    // The first 8 bytes decide the order; keep `n` in the last 8 so keys never collide.
    key[24..].copy_from_slice(&n.to_be_bytes());
    key
}

/// A value of `len` bytes derived from `n`, so a value read back can be checked against its key.
pub(crate) fn value(n: u64, len: usize) -> Vec<u8> {
    let mut state = n ^ 0xA076_1D64_78BD_642F;
    let mut value = Vec::with_capacity(len + 8);
    while value.len() < len {
        state = splitmix(state);
        value.extend_from_slice(&state.to_le_bytes());
    }
    value.truncate(len);
    value
}

/// SplitMix64: a tiny, well-mixed generator so the tests need no `rand`.
pub(crate) fn splitmix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}
