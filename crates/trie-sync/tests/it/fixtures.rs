//! Shared test data: where the Ethereum test vectors live, and the mainnet genesis state as trie pairs.

use std::path::PathBuf;

use primitive_types::U256;
use trie_sync::{secure_key, StateAccount};

/// Environment variable that overrides where the test vectors are looked for.
pub(crate) const VECTORS_ENV: &str = "STATESYNC_VECTORS";

/// The test-vector folder: `$STATESYNC_VECTORS` if set, else `shared/vectors` next to the workspace
/// (`<workspace>/../shared/vectors`). `None` if that folder does not exist.
pub(crate) fn vectors_dir() -> Option<PathBuf> {
    let dir = std::env::var_os(VECTORS_ENV).map(PathBuf::from).unwrap_or_else(default_vectors_dir);
    dir.is_dir().then_some(dir)
}

fn default_vectors_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/vectors")
}

/// [`vectors_dir`] for a test that needs the vectors: in CI (`CI` set) their absence is a failure;
/// elsewhere the test prints why it is skipped and the caller returns.
pub(crate) fn vectors_dir_or_skip(test: &str) -> Option<PathBuf> {
    let dir = vectors_dir();
    if dir.is_none() {
        let looked = std::env::var_os(VECTORS_ENV).map(PathBuf::from).unwrap_or_else(default_vectors_dir);
        assert!(
            std::env::var_os("CI").is_none(),
            "{test}: vectors not found at {} (set {VECTORS_ENV}); CI requires them",
            looked.display()
        );
        eprintln!("SKIPPED {test}: vectors not found at {} (set {VECTORS_ENV})", looked.display());
    }
    dir
}

/// Reads and parses one JSON file of the vectors folder, panicking with the path on failure.
pub(crate) fn read_json(dir: &std::path::Path, file: &str) -> serde_json::Value {
    let path = dir.join(file);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("parsing {}: {e}", path.display()))
}

/// Mainnet genesis state root (execution-specs `mainnet.json`).
pub(crate) const MAINNET_GENESIS_ROOT: &str =
    "d7f8974fb5ac78d9ac099b9ad5018bedc2ce0a72dad1827a1709da30580f0544";

/// The funded accounts of mainnet genesis, `(address, balance)`, in file order.
///
/// Panics if the vectors are missing: call [`vectors_dir_or_skip`] first.
pub(crate) fn mainnet_genesis_balances() -> Vec<([u8; 20], U256)> {
    let dir =
        vectors_dir().unwrap_or_else(|| panic!("mainnet genesis: vectors not found (set {VECTORS_ENV})"));
    let genesis = read_json(&dir, "mainnet.json");
    let alloc = genesis["alloc"].as_object().expect("mainnet.json has an \"alloc\" object");
    alloc
        .iter()
        .map(|(address, account)| {
            let bytes = hex::decode(address.trim_start_matches("0x")).expect("address is hex");
            let address: [u8; 20] = bytes.try_into().expect("address is 20 bytes");
            let balance = account["balance"].as_str().expect("balance is a string");
            (address, parse_quantity(balance))
        })
        .collect()
}

/// A genesis quantity: `0x`-prefixed hex or decimal (both appear in genesis files in the wild).
pub(crate) fn parse_quantity(text: &str) -> U256 {
    let parsed = match text.strip_prefix("0x") {
        Some(hex) => U256::from_str_radix(hex, 16).ok(),
        None => U256::from_dec_str(text).ok(),
    };
    parsed.unwrap_or_else(|| panic!("bad quantity {text:?}"))
}

/// The mainnet genesis account trie as `(keccak256(address), rlp(account))` pairs, sorted by key:
/// ready for [`trie_sync::build_trie`].
pub(crate) fn mainnet_genesis_pairs() -> Vec<(Vec<u8>, Vec<u8>)> {
    let mut pairs: Vec<(Vec<u8>, Vec<u8>)> = mainnet_genesis_balances()
        .into_iter()
        .map(|(address, balance)| {
            (secure_key(&address).as_bytes().to_vec(), StateAccount::with_balance(balance).encode())
        })
        .collect();
    pairs.sort_unstable();
    pairs
}
