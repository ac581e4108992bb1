//! A strict RLP reader for peer input, and helpers shared by the message codecs.
//!
//! The `rlp` crate's lazy `Rlp` view stops iterating a list at the first malformed item, which
//! would let a peer hide garbage at the end of a list; this reader walks every byte and rejects
//! anything go-ethereum's decoder rejects at this level: truncated items, non-canonical lengths,
//! single bytes wrapped in a string header, integers with leading zeros. Encoding uses
//! `rlp::RlpStream`, whose output is canonical.

use primitive_types::{H256, U256};
use rlp::DecoderError;

use crate::{Error, RequestId, Result};

/// One RLP item: a byte string or a list, borrowing its payload.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Item<'a> {
    /// A byte string's content.
    Bytes(&'a [u8]),
    /// A list's payload (the concatenated encodings of its items).
    List(&'a [u8]),
}

/// Splits the first item off `input`: the item and the bytes after it.
fn split_item(input: &[u8]) -> std::result::Result<(Item<'_>, &[u8]), DecoderError> {
    let (&first, rest) = input.split_first().ok_or(DecoderError::RlpIsTooShort)?;
    let (is_list, header_len, payload_len) = match first {
        0x00..=0x7f => return Ok((Item::Bytes(&input[..1]), rest)),
        0x80..=0xb7 => (false, 1, usize::from(first - 0x80)),
        0xb8..=0xbf => {
            let len_of_len = usize::from(first - 0xb7);
            (false, 1 + len_of_len, long_length(rest, len_of_len)?)
        }
        0xc0..=0xf7 => (true, 1, usize::from(first - 0xc0)),
        0xf8..=0xff => {
            let len_of_len = usize::from(first - 0xf7);
            (true, 1 + len_of_len, long_length(rest, len_of_len)?)
        }
    };
    let end = header_len.checked_add(payload_len).ok_or(DecoderError::RlpInvalidLength)?;
    if input.len() < end {
        return Err(DecoderError::RlpIsTooShort);
    }
    let payload = &input[header_len..end];
    if is_list {
        return Ok((Item::List(payload), &input[end..]));
    }
    if payload.len() == 1 && payload[0] < 0x80 {
        // a single byte below 0x80 is its own encoding
        return Err(DecoderError::RlpInvalidIndirection);
    }
    Ok((Item::Bytes(payload), &input[end..]))
}

/// The length in a long-form header: `len_of_len` big-endian bytes, no leading zero, above 55.
fn long_length(bytes: &[u8], len_of_len: usize) -> std::result::Result<usize, DecoderError> {
    let digits = bytes.get(..len_of_len).ok_or(DecoderError::RlpIsTooShort)?;
    if digits[0] == 0 {
        return Err(DecoderError::RlpDataLenWithZeroPrefix);
    }
    if len_of_len > std::mem::size_of::<usize>() {
        return Err(DecoderError::RlpInvalidLength);
    }
    let length = digits.iter().fold(0usize, |acc, &b| (acc << 8) | usize::from(b));
    if length <= 55 {
        return Err(DecoderError::RlpInvalidIndirection);
    }
    Ok(length)
}

impl<'a> Item<'a> {
    /// The single item making up all of `payload`, for decoding `message`.
    pub(crate) fn parse(message: &'static str, payload: &'a [u8]) -> Result<Item<'a>> {
        let (item, rest) = split_item(payload).map_err(|e| Error::malformed(message, e))?;
        if !rest.is_empty() {
            return Err(Error::TrailingBytes { message, extra: rest.len() });
        }
        Ok(item)
    }

    /// The items of a list.
    pub(crate) fn list(self, message: &'static str) -> Result<List<'a>> {
        match self {
            Item::List(payload) => Ok(List { message, payload }),
            Item::Bytes(_) => Err(Error::malformed(message, DecoderError::RlpExpectedToBeList)),
        }
    }

    /// A byte string's content.
    pub(crate) fn bytes(self, message: &'static str) -> Result<&'a [u8]> {
        match self {
            Item::Bytes(bytes) => Ok(bytes),
            Item::List(_) => Err(Error::malformed(message, DecoderError::RlpExpectedToBeData)),
        }
    }

    /// A big-endian integer of at most 8 bytes without leading zeros.
    pub(crate) fn u64(self, message: &'static str) -> Result<u64> {
        let bytes = self.integer_bytes(message, 8)?;
        Ok(bytes.iter().fold(0u64, |acc, &b| (acc << 8) | u64::from(b)))
    }

    /// A big-endian integer of at most 4 bytes without leading zeros.
    pub(crate) fn u32(self, message: &'static str) -> Result<u32> {
        let bytes = self.integer_bytes(message, 4)?;
        Ok(bytes.iter().fold(0u32, |acc, &b| (acc << 8) | u32::from(b)))
    }

    /// A big-endian integer of at most 32 bytes without leading zeros.
    pub(crate) fn u256(self, message: &'static str) -> Result<U256> {
        let bytes = self.integer_bytes(message, 32)?;
        Ok(U256::from_big_endian(bytes))
    }

    /// A boolean: the integer 0 or 1.
    pub(crate) fn bool(self, message: &'static str) -> Result<bool> {
        match self.u64(message)? {
            0 => Ok(false),
            1 => Ok(true),
            _ => Err(Error::malformed(message, DecoderError::Custom("boolean other than 0 or 1"))),
        }
    }

    /// Exactly `N` bytes.
    pub(crate) fn fixed<const N: usize>(self, message: &'static str) -> Result<[u8; N]> {
        self.bytes(message)?.try_into().map_err(|_| Error::malformed(message, DecoderError::RlpInvalidLength))
    }

    /// A 32-byte hash.
    pub(crate) fn h256(self, message: &'static str) -> Result<H256> {
        self.fixed::<32>(message).map(H256)
    }

    fn integer_bytes(self, message: &'static str, max: usize) -> Result<&'a [u8]> {
        let bytes = self.bytes(message)?;
        if bytes.len() > max {
            return Err(Error::malformed(message, DecoderError::RlpIsTooBig));
        }
        if bytes.first() == Some(&0) {
            return Err(Error::malformed(message, DecoderError::RlpInvalidIndirection));
        }
        Ok(bytes)
    }
}

/// A list's items, read front to back; every item is checked, none skipped.
#[derive(Debug, Clone, Copy)]
pub(crate) struct List<'a> {
    message: &'static str,
    payload: &'a [u8],
}

impl<'a> List<'a> {
    /// The top-level list making up all of `payload`.
    pub(crate) fn parse(message: &'static str, payload: &'a [u8]) -> Result<List<'a>> {
        Item::parse(message, payload)?.list(message)
    }

    /// The next item; a typed error when the list is exhausted or malformed.
    pub(crate) fn next_item(&mut self) -> Result<Item<'a>> {
        if self.payload.is_empty() {
            return Err(Error::malformed(self.message, DecoderError::RlpIncorrectListLen));
        }
        let (item, rest) = split_item(self.payload).map_err(|e| Error::malformed(self.message, e))?;
        self.payload = rest;
        Ok(item)
    }

    /// Whether every item has been read.
    pub(crate) fn is_empty(&self) -> bool {
        self.payload.is_empty()
    }

    /// Counts the remaining items, checking each is well formed, stopping with
    /// [`Error::TooManyItems`] past `limit`.
    pub(crate) fn count(self, limit: usize) -> Result<usize> {
        let mut rest = self;
        let mut count = 0;
        while !rest.is_empty() {
            rest.next_item()?;
            count += 1;
            if count > limit {
                return Err(Error::TooManyItems {
                    message: self.message,
                    count: self.count(usize::MAX)?,
                    limit,
                });
            }
        }
        Ok(count)
    }

    /// The remaining items, each read with `read`, at most `limit` of them.
    pub(crate) fn collect<T>(
        self,
        limit: usize,
        read: impl Fn(Item<'a>, &'static str) -> Result<T>,
    ) -> Result<Vec<T>> {
        let count = self.count(limit)?;
        let mut rest = self;
        let mut out = Vec::with_capacity(count);
        while !rest.is_empty() {
            out.push(read(rest.next_item()?, self.message)?);
        }
        Ok(out)
    }

    /// Ignores whatever items remain: devp2p's forward-compatibility rule (EIP-8) lets newer
    /// peers append fields to a message's list. They were not checked, so this is only used
    /// after the fields this crate knows.
    pub(crate) fn finish(self) {}
}

/// The leading request id of an eth/66+ request or response.
pub(crate) fn request_id(list: &mut List<'_>, message: &'static str) -> Result<RequestId> {
    list.next_item()?.u64(message).map(RequestId)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rejects_non_canonical_and_truncated_items() {
        // 0x81 0x05: single byte below 0x80 wrapped in a header
        assert!(Item::parse("t", &[0x81, 0x05]).is_err());
        // long form for a 3-byte string
        assert!(Item::parse("t", &[0xb8, 0x03, 1, 2, 3]).is_err());
        // string claims 4 bytes, has 2
        assert!(Item::parse("t", &[0x84, 1, 2]).is_err());
        // trailing byte after a complete item
        assert!(matches!(Item::parse("t", &[0x80, 0x80]), Err(Error::TrailingBytes { extra: 1, .. })));
        // integer with a leading zero
        assert!(Item::parse("t", &[0x82, 0x00, 0x01]).unwrap().u64("t").is_err());
        // a list whose last item is truncated inside the list's payload
        let mut list = List::parse("t", &[0xc3, 0x01, 0x82, 0x01]).unwrap();
        assert_eq!(list.next_item().unwrap().u64("t").unwrap(), 1);
        assert!(list.next_item().is_err());
    }

    #[test]
    fn reads_what_rlp_stream_writes() {
        let mut stream = rlp::RlpStream::new_list(3);
        stream.append(&0x1234_5678_9abc_u64).append(&(U256::from(1) << 200)).append(&vec![7u8; 60]);
        let bytes = stream.out();
        let mut list = List::parse("t", &bytes).unwrap();
        assert_eq!(list.next_item().unwrap().u64("t").unwrap(), 0x1234_5678_9abc);
        assert_eq!(list.next_item().unwrap().u256("t").unwrap(), U256::from(1) << 200);
        assert_eq!(list.next_item().unwrap().bytes("t").unwrap(), &[7u8; 60][..]);
        assert!(list.is_empty());
    }

    #[test]
    fn count_stops_past_the_limit() {
        let mut stream = rlp::RlpStream::new_list(5);
        for i in 0..5u64 {
            stream.append(&i);
        }
        let bytes = stream.out();
        let list = List::parse("t", &bytes).unwrap();
        assert_eq!(list.count(5).unwrap(), 5);
        assert!(matches!(list.count(4), Err(Error::TooManyItems { count: 5, limit: 4, .. })));
    }
}
