//! Nibble paths and their hex-prefix ("compact") encoding.

use crate::NodeError;

/// Splits `bytes` into nibbles, high nibble first: `[0xab]` becomes `[0xa, 0xb]`.
pub fn to_nibbles(bytes: &[u8]) -> Vec<u8> {
    let mut nibbles = Vec::with_capacity(bytes.len() * 2);
    for byte in bytes {
        nibbles.push(byte >> 4);
        nibbles.push(byte & 0x0f);
    }
    nibbles
}

/// Packs an even number of nibbles back into bytes; `None` if the count is odd.
pub fn from_nibbles(nibbles: &[u8]) -> Option<Vec<u8>> {
    if nibbles.len() % 2 != 0 {
        return None;
    }
    Some(nibbles.chunks_exact(2).map(|pair| (pair[0] << 4) | (pair[1] & 0x0f)).collect())
}

/// Hex-prefix encodes a nibble path (Yellow Paper, appendix C): the first nibble carries the
/// leaf flag (2) and the odd-length flag (1); an even path gets a zero padding nibble.
pub fn hex_prefix_encode(nibbles: &[u8], is_leaf: bool) -> Vec<u8> {
    let mut out = Vec::with_capacity(nibbles.len() / 2 + 1);
    hex_prefix_encode_into(nibbles, is_leaf, &mut out);
    out
}

/// [`hex_prefix_encode`] into a reused buffer (cleared first), for encoders on a hot path.
pub(crate) fn hex_prefix_encode_into(nibbles: &[u8], is_leaf: bool, out: &mut Vec<u8>) {
    out.clear();
    let flag = if is_leaf { 0x20 } else { 0x00 };
    let rest = if nibbles.len() % 2 == 1 {
        out.push(flag | 0x10 | nibbles[0]);
        &nibbles[1..]
    } else {
        out.push(flag);
        nibbles
    };
    out.extend(rest.chunks_exact(2).map(|pair| (pair[0] << 4) | pair[1]));
}

/// Decodes a hex-prefix path into `(nibbles, is_leaf)`.
///
/// Rejects an empty encoding, a flag nibble above 3, and a non-zero padding nibble on an even path:
/// each has exactly one canonical encoding, and anything else is a forged or corrupt node.
pub fn hex_prefix_decode(encoded: &[u8]) -> Result<(Vec<u8>, bool), NodeError> {
    let (&first, rest) = encoded.split_first().ok_or(NodeError::EmptyPath)?;
    let flag = first >> 4;
    if flag > 3 {
        return Err(NodeError::BadPathFlag { flag });
    }
    let is_leaf = flag & 0x2 != 0;
    let odd = flag & 0x1 != 0;
    let mut nibbles = Vec::with_capacity(rest.len() * 2 + 1);
    if odd {
        nibbles.push(first & 0x0f);
    } else if first & 0x0f != 0 {
        return Err(NodeError::BadPathPadding { padding: first & 0x0f });
    }
    for byte in rest {
        nibbles.push(byte >> 4);
        nibbles.push(byte & 0x0f);
    }
    Ok((nibbles, is_leaf))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_prefix_round_trips_every_flag_combination() {
        let paths: [&[u8]; 4] = [&[], &[1], &[1, 2], &[0xf, 0, 0xa]];
        for path in paths {
            for leaf in [false, true] {
                let encoded = hex_prefix_encode(path, leaf);
                assert_eq!(hex_prefix_decode(&encoded).unwrap(), (path.to_vec(), leaf));
            }
        }
    }

    #[test]
    fn hex_prefix_matches_the_yellow_paper_examples() {
        assert_eq!(hex_prefix_encode(&[1, 2, 3, 4, 5], false), vec![0x11, 0x23, 0x45]);
        assert_eq!(hex_prefix_encode(&[0, 1, 2, 3, 4, 5], false), vec![0x00, 0x01, 0x23, 0x45]);
        assert_eq!(hex_prefix_encode(&[0, 0xf, 1, 0xc, 0xb, 8], true), vec![0x20, 0x0f, 0x1c, 0xb8]);
        assert_eq!(hex_prefix_encode(&[0xf, 1, 0xc, 0xb, 8], true), vec![0x3f, 0x1c, 0xb8]);
    }

    #[test]
    fn hex_prefix_rejects_non_canonical_encodings() {
        assert!(matches!(hex_prefix_decode(&[]), Err(NodeError::EmptyPath)));
        assert!(matches!(hex_prefix_decode(&[0x40]), Err(NodeError::BadPathFlag { flag: 4 })));
        assert!(matches!(hex_prefix_decode(&[0x05, 0x12]), Err(NodeError::BadPathPadding { padding: 5 })));
    }

    #[test]
    fn nibbles_round_trip() {
        assert_eq!(to_nibbles(&[0xab, 0x01]), vec![0xa, 0xb, 0x0, 0x1]);
        assert_eq!(from_nibbles(&[0xa, 0xb, 0x0, 0x1]), Some(vec![0xab, 0x01]));
        assert_eq!(from_nibbles(&[1]), None);
    }
}
