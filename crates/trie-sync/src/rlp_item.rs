//! A strict, allocation-free reader of RLP items, for decoding trie nodes on the sync hot path.
//!
//! Only canonical encodings are accepted (a single byte below 0x80 is never wrapped, lengths have no
//! leading zeros and use the long form only from 56 bytes), so every node has exactly one encoding.

use rlp::DecoderError;

/// One RLP item inside a larger input.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Item<'a> {
    /// Whether the item is a list (else a byte string).
    pub(crate) is_list: bool,
    /// The string's bytes, or the list's concatenated items.
    pub(crate) payload: &'a [u8],
    /// The whole item, header included.
    pub(crate) raw: &'a [u8],
}

/// Splits the first item off `input`, returning it and what follows it.
pub(crate) fn split_item(input: &[u8]) -> Result<(Item<'_>, &[u8]), DecoderError> {
    let (&prefix, after_prefix) = input.split_first().ok_or(DecoderError::RlpIsTooShort)?;
    let (is_list, header_len, payload_len) = match prefix {
        0x00..=0x7f => {
            return Ok((Item { is_list: false, payload: &input[..1], raw: &input[..1] }, after_prefix));
        }
        0x80..=0xb7 => {
            let len = usize::from(prefix - 0x80);
            if len == 1 && after_prefix.first().is_some_and(|&byte| byte < 0x80) {
                return Err(DecoderError::RlpInvalidIndirection);
            }
            (false, 1, len)
        }
        0xb8..=0xbf => {
            (false, 1 + usize::from(prefix - 0xb7), long_length(after_prefix, prefix - 0xb7, false)?)
        }
        0xc0..=0xf7 => (true, 1, usize::from(prefix - 0xc0)),
        0xf8..=0xff => {
            (true, 1 + usize::from(prefix - 0xf7), long_length(after_prefix, prefix - 0xf7, true)?)
        }
    };
    let end = header_len.checked_add(payload_len).ok_or(DecoderError::RlpIsTooBig)?;
    if input.len() < end {
        return Err(DecoderError::RlpIsTooShort);
    }
    let item = Item { is_list, payload: &input[header_len..end], raw: &input[..end] };
    Ok((item, &input[end..]))
}

/// Reads a long-form length of `len_of_len` big-endian bytes, rejecting leading zeros and lengths
/// that fit the short form.
fn long_length(bytes: &[u8], len_of_len: u8, list: bool) -> Result<usize, DecoderError> {
    let len_of_len = usize::from(len_of_len);
    let digits = bytes.get(..len_of_len).ok_or(DecoderError::RlpIsTooShort)?;
    if digits[0] == 0 {
        return Err(if list {
            DecoderError::RlpListLenWithZeroPrefix
        } else {
            DecoderError::RlpDataLenWithZeroPrefix
        });
    }
    if len_of_len > std::mem::size_of::<usize>() {
        return Err(DecoderError::RlpIsTooBig);
    }
    let len = digits.iter().fold(0usize, |len, &digit| (len << 8) | usize::from(digit));
    if len < 56 {
        return Err(DecoderError::RlpInvalidLength);
    }
    Ok(len)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn agrees_with_rlp_crate(encoded: &[u8]) {
        let (item, rest) = split_item(encoded).expect("a canonical encoding decodes");
        let theirs = rlp::Rlp::new(encoded);
        assert!(rest.is_empty(), "{encoded:02x?}");
        assert_eq!(item.is_list, theirs.is_list());
        if !item.is_list {
            assert_eq!(item.payload, theirs.data().unwrap());
        }
    }

    #[test]
    fn reads_strings_and_lists_of_every_header_form() {
        for len in [0usize, 1, 2, 55, 56, 255, 256, 70_000] {
            let data = vec![0x99u8; len];
            let encoded = rlp::encode(&data);
            let (item, rest) = split_item(&encoded).unwrap();
            assert!(!item.is_list && rest.is_empty());
            assert_eq!(item.payload, data.as_slice());
            agrees_with_rlp_crate(&encoded);

            let mut stream = rlp::RlpStream::new_list(1);
            stream.append(&data);
            let encoded = stream.out();
            let (item, rest) = split_item(&encoded).unwrap();
            assert!(item.is_list && rest.is_empty());
            assert_eq!(item.raw, &encoded[..]);
        }
        let (item, rest) = split_item(&[0x05, 0xaa]).unwrap();
        assert_eq!((item.payload, rest), (&[0x05u8][..], &[0xaau8][..]));
    }

    #[test]
    fn rejects_non_canonical_and_truncated_items() {
        assert_eq!(split_item(&[]).unwrap_err(), DecoderError::RlpIsTooShort);
        assert_eq!(split_item(&[0x81, 0x05]).unwrap_err(), DecoderError::RlpInvalidIndirection);
        assert_eq!(split_item(&[0xb8, 0x05, 1, 2, 3, 4, 5]).unwrap_err(), DecoderError::RlpInvalidLength);
        assert_eq!(split_item(&[0xb9, 0x00, 0x40]).unwrap_err(), DecoderError::RlpDataLenWithZeroPrefix);
        assert_eq!(split_item(&[0xf9, 0x00, 0x40]).unwrap_err(), DecoderError::RlpListLenWithZeroPrefix);
        assert_eq!(split_item(&[0x83, 1, 2]).unwrap_err(), DecoderError::RlpIsTooShort);
        assert_eq!(split_item(&[0xbb, 0xff, 0xff, 0xff, 0xff]).unwrap_err(), DecoderError::RlpIsTooShort);
    }
}
