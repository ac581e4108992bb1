//! A strict RLP reader for peer input.
//!
//! The `rlp` crate's reader is lenient in places (its list iterator stops silently at a malformed item,
//! `data()` accepts non-canonical single bytes), so messages from peers are decoded here instead: every
//! length is bounds-checked against the input, only canonical encodings are accepted, and nothing
//! panics or allocates.

use crate::error::RlpProblem;

/// One RLP item: a byte string or a list, borrowing its payload from the input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Item<'a> {
    /// A byte string's content.
    Bytes(&'a [u8]),
    /// A list's payload: the concatenated encodings of its items.
    List(&'a [u8]),
}

impl<'a> Item<'a> {
    /// The item's content if it is a byte string.
    pub(crate) fn bytes(self) -> Result<&'a [u8], RlpProblem> {
        match self {
            Item::Bytes(bytes) => Ok(bytes),
            Item::List(_) => Err(RlpProblem::ExpectedBytes),
        }
    }

    /// A reader over the list's items if it is a list.
    pub(crate) fn list(self) -> Result<Items<'a>, RlpProblem> {
        match self {
            Item::List(payload) => Ok(Items { rest: payload }),
            Item::Bytes(_) => Err(RlpProblem::ExpectedList),
        }
    }

    /// The item as a canonical unsigned integer of at most 64 bits.
    pub(crate) fn uint(self) -> Result<u64, RlpProblem> {
        let bytes = self.bytes()?;
        if bytes.len() > 8 {
            return Err(RlpProblem::IntegerTooLarge);
        }
        if bytes.first() == Some(&0) {
            return Err(RlpProblem::IntegerLeadingZero);
        }
        Ok(bytes.iter().fold(0u64, |acc, &b| (acc << 8) | u64::from(b)))
    }
}

/// A cursor over consecutive RLP items (the payload of a list, or a whole message body).
#[derive(Debug, Clone)]
pub(crate) struct Items<'a> {
    rest: &'a [u8],
}

impl<'a> Items<'a> {
    /// A cursor over `input`.
    pub(crate) fn new(input: &'a [u8]) -> Self {
        Self { rest: input }
    }

    /// Bytes not yet consumed.
    pub(crate) fn remaining(&self) -> usize {
        self.rest.len()
    }

    /// The next item, or `None` at the end of the input.
    pub(crate) fn next_item(&mut self) -> Result<Option<Item<'a>>, RlpProblem> {
        let Some(&first) = self.rest.first() else { return Ok(None) };
        let (item, consumed) = match first {
            0x00..=0x7f => (Item::Bytes(&self.rest[..1]), 1),
            0x80..=0xb7 => {
                let len = usize::from(first - 0x80);
                let content = self.take(1, len)?;
                if len == 1 && content[0] < 0x80 {
                    return Err(RlpProblem::NonCanonicalSingleByte);
                }
                (Item::Bytes(content), 1 + len)
            }
            0xb8..=0xbf => {
                let len_of_len = usize::from(first - 0xb7);
                let len = self.long_length(len_of_len)?;
                (Item::Bytes(self.take(1 + len_of_len, len)?), 1 + len_of_len + len)
            }
            0xc0..=0xf7 => {
                let len = usize::from(first - 0xc0);
                (Item::List(self.take(1, len)?), 1 + len)
            }
            0xf8..=0xff => {
                let len_of_len = usize::from(first - 0xf7);
                let len = self.long_length(len_of_len)?;
                (Item::List(self.take(1 + len_of_len, len)?), 1 + len_of_len + len)
            }
        };
        self.rest = &self.rest[consumed..];
        Ok(Some(item))
    }

    /// The next item; running out of input is `Truncated`.
    pub(crate) fn expect_item(&mut self) -> Result<Item<'a>, RlpProblem> {
        self.next_item()?.ok_or(RlpProblem::Truncated)
    }

    /// `len` bytes starting `offset` bytes into the rest of the input.
    fn take(&self, offset: usize, len: usize) -> Result<&'a [u8], RlpProblem> {
        let end = offset.checked_add(len).ok_or(RlpProblem::LengthOverflow)?;
        self.rest.get(offset..end).ok_or(RlpProblem::Truncated)
    }

    /// The big-endian length of `len_of_len` bytes after the first byte, checked to be canonical.
    fn long_length(&self, len_of_len: usize) -> Result<usize, RlpProblem> {
        let bytes = self.take(1, len_of_len)?;
        if bytes[0] == 0 {
            return Err(RlpProblem::NonCanonicalLength);
        }
        if len_of_len > std::mem::size_of::<usize>() {
            return Err(RlpProblem::LengthOverflow);
        }
        let len = bytes.iter().fold(0usize, |acc, &b| (acc << 8) | usize::from(b));
        if len < 56 {
            return Err(RlpProblem::NonCanonicalLength);
        }
        Ok(len)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(input: &[u8]) -> Result<Item<'_>, RlpProblem> {
        Items::new(input).expect_item()
    }

    #[test]
    fn reads_what_the_rlp_crate_writes() {
        let long = vec![7u8; 1000];
        let mut stream = rlp::RlpStream::new_list(3);
        stream.append(&300u64).append(&long).begin_list(0);
        let bytes = stream.out();
        let mut items = one(&bytes).unwrap().list().unwrap();
        assert_eq!(items.expect_item().unwrap().uint(), Ok(300));
        assert_eq!(items.expect_item().unwrap().bytes(), Ok(&long[..]));
        assert_eq!(items.expect_item().unwrap().list().unwrap().remaining(), 0);
        assert_eq!(items.next_item(), Ok(None));
    }

    #[test]
    fn rejects_non_canonical_and_truncated_input() {
        assert_eq!(one(&[0x81, 0x05]), Err(RlpProblem::NonCanonicalSingleByte));
        assert_eq!(one(&[0xb8, 0x02, 1, 2]), Err(RlpProblem::NonCanonicalLength));
        assert_eq!(one(&[0xb9, 0x00, 0x40]), Err(RlpProblem::NonCanonicalLength));
        assert_eq!(one(&[0x83, 1, 2]), Err(RlpProblem::Truncated));
        assert_eq!(one(&[0xc2, 0x01]), Err(RlpProblem::Truncated));
        assert_eq!(one(&[0xb9, 0x01, 0x00, 1]), Err(RlpProblem::Truncated));
        assert_eq!(one(&[0xf9, 0x01, 0x00, 1]), Err(RlpProblem::Truncated));
        assert_eq!(
            one(&[0xbf, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]),
            Err(RlpProblem::LengthOverflow)
        );
        assert_eq!(one(&[0x82, 0x00, 0x01]).unwrap().uint(), Err(RlpProblem::IntegerLeadingZero));
        assert_eq!(one(&[0x89, 1, 2, 3, 4, 5, 6, 7, 8, 9]).unwrap().uint(), Err(RlpProblem::IntegerTooLarge));
        assert_eq!(one(&[0x80]).unwrap().uint(), Ok(0));
        assert_eq!(one(&[0xc0]).unwrap().bytes(), Err(RlpProblem::ExpectedBytes));
        assert_eq!(one(&[0x80]).unwrap().list().map(|_| ()), Err(RlpProblem::ExpectedList));
    }

    #[test]
    fn never_panics_on_arbitrary_bytes() {
        // A cheap deterministic sweep; the wire proptests cover random input more widely.
        for len in 0..6usize {
            for seed in 0..2000u32 {
                let input: Vec<u8> = (0..len)
                    .map(|i| (seed.wrapping_mul(2654435761).rotate_left(i as u32 * 7)) as u8)
                    .collect();
                let mut items = Items::new(&input);
                while let Ok(Some(item)) = items.next_item() {
                    let _ = item.uint();
                    if let Ok(mut inner) = item.list() {
                        while let Ok(Some(_)) = inner.next_item() {}
                    }
                }
            }
        }
    }
}
