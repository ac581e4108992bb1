//! go-ethereum style genesis files: the `alloc` section as a state.
//!
//! `alloc` maps an address (20 bytes of hex, `0x` optional) to an account: `balance` and `nonce` as
//! decimal or `0x`-hex quantities (strings, or JSON numbers), `code` as hex bytes, `storage` as a map
//! from slot to value (hex of up to 32 bytes, left-padded, as go-ethereum reads them). As go-ethereum
//! does, a zero storage value is no entry at all, the account trie is keyed by keccak256(address) and
//! each storage trie by keccak256(slot), and a storage value is stored as the RLP of the value with its
//! leading zero bytes stripped.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use primitive_types::U256;
use serde_json::Value;
#[cfg(test)]
use trie_sync::EMPTY_ROOT;
use trie_sync::{build_secure_trie, keccak256, NodeHash, StateAccount};

/// Why a genesis file cannot be used.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum GenesisError {
    /// The file cannot be read.
    #[error("cannot read genesis file {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The operating system's error.
        source: std::io::Error,
    },
    /// The file cannot be written (`gen --export-genesis`).
    #[error("cannot write genesis file {path}: {source}")]
    Write {
        /// The file.
        path: PathBuf,
        /// The operating system's error.
        source: std::io::Error,
    },
    /// The file is not JSON.
    #[error("genesis file {path} is not valid JSON: {source}")]
    Json {
        /// The file.
        path: PathBuf,
        /// Where and why parsing failed.
        source: serde_json::Error,
    },
    /// The file has no `alloc` object.
    #[error("genesis file {path} has no \"alloc\" object")]
    NoAlloc {
        /// The file.
        path: PathBuf,
    },
    /// An entry of `alloc` is malformed.
    #[error("genesis file {path}: account {address}: {problem}")]
    BadAccount {
        /// The file.
        path: PathBuf,
        /// The account's key as written in the file.
        address: String,
        /// What is wrong with it.
        problem: String,
    },
}

/// A state built from a genesis file: its root, every trie node and every code blob.
#[derive(Debug, Clone)]
pub struct GenesisState {
    /// The state root.
    pub root: NodeHash,
    /// Trie nodes (account trie and storage tries), children before parents, possibly repeated (two
    /// identical storage tries give the same nodes twice).
    pub nodes: Vec<(NodeHash, Vec<u8>)>,
    /// Contract code by hash.
    pub codes: BTreeMap<NodeHash, Vec<u8>>,
    /// Accounts in `alloc`.
    pub accounts: usize,
    /// Accounts with code.
    pub contracts: usize,
    /// Non-zero storage slots over all accounts.
    pub storage_slots: usize,
}

impl GenesisState {
    /// Reads and builds the state of the genesis file at `path`.
    pub fn read(path: &Path) -> Result<Self, GenesisError> {
        let text = std::fs::read_to_string(path)
            .map_err(|source| GenesisError::Read { path: path.into(), source })?;
        Self::parse(&text, path)
    }

    /// Builds the state of genesis JSON `text`; `path` names it in errors.
    pub fn parse(text: &str, path: &Path) -> Result<Self, GenesisError> {
        let json: Value =
            serde_json::from_str(text).map_err(|source| GenesisError::Json { path: path.into(), source })?;
        let alloc = json
            .get("alloc")
            .and_then(Value::as_object)
            .ok_or(GenesisError::NoAlloc { path: path.into() })?;
        let mut nodes = Vec::new();
        let mut codes = BTreeMap::new();
        let mut leaves: Vec<([u8; 20], Vec<u8>)> = Vec::with_capacity(alloc.len());
        let mut storage_slots = 0;
        let mut contracts = 0;
        let mut seen = std::collections::HashSet::new();
        for (key, entry) in alloc {
            let bad = |problem: String| GenesisError::BadAccount {
                path: path.into(),
                address: key.clone(),
                problem,
            };
            let address: [u8; 20] = parse_hex(key, 20, false)
                .map_err(|e| bad(format!("address: {e}")))?
                .try_into()
                .map_err(|_| bad("address: not 20 bytes".into()))?;
            if !seen.insert(address) {
                return Err(bad("the address appears twice".into()));
            }
            let entry = entry.as_object().ok_or_else(|| bad("not a JSON object".into()))?;
            let mut account = StateAccount::with_balance(U256::zero());
            if let Some(balance) = entry.get("balance") {
                account.balance = parse_quantity(balance).map_err(|e| bad(format!("balance: {e}")))?;
            }
            if let Some(nonce) = entry.get("nonce") {
                let nonce = parse_quantity(nonce).map_err(|e| bad(format!("nonce: {e}")))?;
                account.nonce =
                    u64::try_from(nonce).map_err(|_| bad("nonce: does not fit 64 bits".into()))?;
            }
            if let Some(code) = entry.get("code") {
                let code = code.as_str().ok_or_else(|| bad("code: not a string".into()))?;
                let code = parse_hex(code, usize::MAX, false).map_err(|e| bad(format!("code: {e}")))?;
                if !code.is_empty() {
                    contracts += 1;
                    account.code_hash = keccak256(&code);
                    codes.insert(account.code_hash, code);
                }
            }
            if let Some(storage) = entry.get("storage") {
                let storage = storage.as_object().ok_or_else(|| bad("storage: not a JSON object".into()))?;
                let mut slots = Vec::with_capacity(storage.len());
                for (slot, value) in storage {
                    let slot_bytes =
                        parse_hex(slot, 32, true).map_err(|e| bad(format!("storage slot {slot}: {e}")))?;
                    let value = value
                        .as_str()
                        .ok_or_else(|| bad(format!("storage slot {slot}: value is not a string")))?;
                    let value = parse_hex(value, 32, true)
                        .map_err(|e| bad(format!("storage slot {slot}: value: {e}")))?;
                    let trimmed: Vec<u8> = value.iter().copied().skip_while(|b| *b == 0).collect();
                    if trimmed.is_empty() {
                        continue; // a zero value is no entry
                    }
                    slots.push((slot_bytes, rlp::encode(&trimmed).to_vec()));
                }
                let (storage_root, storage_nodes) = build_secure_trie(slots.iter().map(|(k, v)| (k, v)))
                    .map_err(|e| bad(format!("storage: {e}")))?;
                storage_slots += slots.len();
                account.storage_root = storage_root;
                nodes.extend(storage_nodes);
            }
            leaves.push((address, account.encode()));
        }
        let (root, account_nodes) = build_secure_trie(leaves.iter().map(|(k, v)| (k, v))).map_err(|e| {
            GenesisError::BadAccount { path: path.into(), address: "(all)".into(), problem: e.to_string() }
        })?;
        nodes.extend(account_nodes);
        Ok(GenesisState { root, nodes, codes, accounts: leaves.len(), contracts, storage_slots })
    }
}

/// Hex bytes, `0x` optional; at most `max` bytes; `left_pad` pads to `max` bytes (slots and values).
fn parse_hex(text: &str, max: usize, left_pad: bool) -> Result<Vec<u8>, String> {
    let digits = text.strip_prefix("0x").or_else(|| text.strip_prefix("0X")).unwrap_or(text);
    let digits = if digits.len() % 2 == 1 { format!("0{digits}") } else { digits.to_string() };
    let mut bytes = hex::decode(&digits).map_err(|e| format!("{text:?} is not hex ({e})"))?;
    if bytes.len() > max {
        return Err(format!("{text:?} is longer than {max} bytes"));
    }
    if left_pad && bytes.len() < max {
        let mut padded = vec![0u8; max - bytes.len()];
        padded.append(&mut bytes);
        bytes = padded;
    }
    Ok(bytes)
}

/// A quantity: a decimal or `0x`-hex string, or a non-negative JSON integer.
fn parse_quantity(value: &Value) -> Result<U256, String> {
    match value {
        Value::Number(number) => {
            number.as_u64().map(U256::from).ok_or_else(|| format!("{number} is not a non-negative integer"))
        }
        Value::String(text) => {
            let parsed = match text.strip_prefix("0x").or_else(|| text.strip_prefix("0X")) {
                Some(hex) if !hex.is_empty() => U256::from_str_radix(hex, 16).ok(),
                Some(_) => None,
                None => U256::from_dec_str(text).ok(),
            };
            parsed.ok_or_else(|| format!("{text:?} is not a decimal or 0x-hex number of at most 256 bits"))
        }
        other => Err(format!("{other} is not a number")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<GenesisState, GenesisError> {
        GenesisState::parse(text, Path::new("test.json"))
    }

    #[test]
    fn empty_alloc_is_the_empty_trie() {
        assert_eq!(parse(r#"{"alloc":{}}"#).unwrap().root, EMPTY_ROOT);
    }

    #[test]
    fn decimal_and_hex_balances_agree() {
        let hex =
            parse(r#"{"alloc":{"0x0000000000000000000000000000000000000001":{"balance":"0x10"}}}"#).unwrap();
        let dec =
            parse(r#"{"alloc":{"0000000000000000000000000000000000000001":{"balance":"16"}}}"#).unwrap();
        assert_eq!(hex.root, dec.root);
    }

    #[test]
    fn zero_storage_values_are_no_entries_and_short_slots_are_padded() {
        let plain = parse(r#"{"alloc":{"0x0000000000000000000000000000000000000001":{"balance":"1","storage":{"0x01":"0x02"}}}}"#).unwrap();
        let with_zero = parse(r#"{"alloc":{"0x0000000000000000000000000000000000000001":{"balance":"1","storage":{"0x0000000000000000000000000000000000000000000000000000000000000001":"0x0000000000000000000000000000000000000000000000000000000000000002","0x03":"0x00"}}}}"#).unwrap();
        assert_eq!(plain.root, with_zero.root);
        assert_eq!(plain.storage_slots, 1);
    }

    #[test]
    fn malformed_entries_name_the_account() {
        let err = parse(r#"{"alloc":{"0x01":{"balance":"1"}}}"#).unwrap_err();
        assert!(err.to_string().contains("0x01"), "{err}");
        let err = parse(r#"{"alloc":{"0x0000000000000000000000000000000000000001":{"balance":"lots"}}}"#)
            .unwrap_err();
        assert!(err.to_string().contains("balance"), "{err}");
        assert!(matches!(parse("{"), Err(GenesisError::Json { .. })));
        assert!(matches!(parse("{}"), Err(GenesisError::NoAlloc { .. })));
    }
}
