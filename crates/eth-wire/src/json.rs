//! Readers for go-ethereum's JSON number and hex conventions, used by the genesis serde impls.
//!
//! go-ethereum writes genesis numbers in several ways: plain JSON numbers (`*big.Int` config
//! fields, possibly beyond 64 bits such as mainnet's terminal total difficulty), and strings
//! holding hex (`"0x42"`) or decimal (`math.HexOrDecimal64`). Every number here is read from
//! its raw JSON text, so no value passes through an `f64`.

use primitive_types::U256;
use serde::de::{Deserialize, Deserializer, Error as _};
use serde_json::value::RawValue;

/// The digits of a raw JSON number or string, and whether they are hex.
fn digits(raw: &str) -> Result<(&str, bool), String> {
    let text = raw.trim();
    let text = match text.strip_prefix('"') {
        Some(inner) => inner.strip_suffix('"').ok_or_else(|| format!("unterminated string {raw}"))?,
        None => text,
    };
    if let Some(hex) = text.strip_prefix("0x").or_else(|| text.strip_prefix("0X")) {
        if hex.is_empty() || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(format!("invalid hex number {raw}"));
        }
        return Ok((hex, true));
    }
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!("expected a non-negative integer, got {raw}"));
    }
    Ok((text, false))
}

fn parse_u64(raw: &str) -> Result<u64, String> {
    let (digits, hex) = digits(raw)?;
    let radix = if hex { 16 } else { 10 };
    u64::from_str_radix(digits, radix).map_err(|_| format!("{raw} does not fit in 64 bits"))
}

fn parse_u256(raw: &str) -> Result<U256, String> {
    let (digits, hex) = digits(raw)?;
    let parsed = if hex { U256::from_str_radix(digits, 16).ok() } else { U256::from_dec_str(digits).ok() };
    parsed.ok_or_else(|| format!("{raw} does not fit in 256 bits"))
}

fn raw<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Box<RawValue>>, D::Error> {
    Option::<Box<RawValue>>::deserialize(d)
}

/// An optional integer up to 64 bits: JSON number, `"0x.."` or decimal string.
pub(crate) fn opt_u64<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u64>, D::Error> {
    raw(d)?.map(|r| parse_u64(r.get()).map_err(D::Error::custom)).transpose()
}

/// An integer up to 64 bits, 0 when absent or null.
pub(crate) fn u64_or_zero<'de, D: Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
    opt_u64(d).map(Option::unwrap_or_default)
}

/// An optional integer up to 256 bits.
pub(crate) fn opt_u256<'de, D: Deserializer<'de>>(d: D) -> Result<Option<U256>, D::Error> {
    raw(d)?.map(|r| parse_u256(r.get()).map_err(D::Error::custom)).transpose()
}

/// `0x`-prefixed hex bytes (`hexutil.Bytes`), empty when absent.
pub(crate) fn hex_bytes<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
    let Some(text) = Option::<String>::deserialize(d)? else {
        return Ok(Vec::new());
    };
    let hex = text
        .strip_prefix("0x")
        .or_else(|| text.strip_prefix("0X"))
        .ok_or_else(|| D::Error::custom(format!("hex string without 0x prefix: {text}")))?;
    hex::decode(hex).map_err(|e| D::Error::custom(format!("invalid hex {text}: {e}")))
}

/// `0x`-prefixed hex of exactly `N` bytes (`common.Hash`, `common.Address`), zero when absent.
pub(crate) fn hex_fixed<'de, D: Deserializer<'de>, const N: usize>(d: D) -> Result<[u8; N], D::Error> {
    let bytes = hex_bytes(d)?;
    if bytes.is_empty() {
        return Ok([0; N]);
    }
    bytes
        .as_slice()
        .try_into()
        .map_err(|_| D::Error::custom(format!("expected {N} bytes of hex, got {}", bytes.len())))
}

/// Whether the field is present and not null (a section such as `"ethash": {}`).
pub(crate) fn present<'de, D: Deserializer<'de>>(d: D) -> Result<bool, D::Error> {
    raw(d).map(|r| r.is_some())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_in_every_go_ethereum_spelling() {
        assert_eq!(parse_u64("66").unwrap(), 66);
        assert_eq!(parse_u64("\"0x42\"").unwrap(), 66);
        assert_eq!(parse_u64("\"66\"").unwrap(), 66);
        assert!(parse_u64("-1").is_err());
        assert!(parse_u64("1.5").is_err());
        assert!(parse_u64("1e3").is_err());
        assert!(parse_u64("18446744073709551616").is_err());
        assert_eq!(
            parse_u256("58750000000000000000000").unwrap(),
            U256::from_dec_str("58750000000000000000000").unwrap()
        );
        assert_eq!(parse_u256("\"0x400000000\"").unwrap(), U256::from(17_179_869_184u64));
    }
}
