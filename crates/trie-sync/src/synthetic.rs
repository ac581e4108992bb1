//! Reproducible synthetic Ethereum states for tests, benches, the CLI's `gen` and networked tests.
//!
//! A state has an account trie whose leaves are [`StateAccount`]s. A fraction of the accounts are
//! contracts: each has code, taken from a pool so that several contracts share one blob, and most have a
//! storage trie. Storage sizes are skewed (the first storage trie has `max_slots` slots, the rest are
//! mostly a handful), and some contracts reuse another contract's storage trie outright, so the same
//! subtrie hangs under several accounts: the case sync must fetch once.
//!
//! Every key has its preimage, as in a real state: an account's key is keccak256 of its address, a
//! slot's key keccak256 of its 32-byte slot index, and storage values are non-zero words stored as the
//! RLP of their big-endian bytes without leading zeros, as go-ethereum stores them. So a state is also
//! a list of accounts ([`SyntheticState::accounts`]) that a go-ethereum genesis `alloc` can express; a
//! shared storage trie is then two accounts with identical storage contents, which give identical
//! hash-keyed subtries.
//!
//! The same [`SyntheticConfig`] always gives the same state: the generator uses its own fixed
//! pseudo-random function (SplitMix64) rather than a library RNG whose algorithm may change between
//! releases and silently change every `gen --seed` state.

use std::collections::BTreeMap;

use primitive_types::U256;

use crate::{build_trie, keccak256, NodeHash, StateAccount, SyntheticError};

/// Share of contracts without storage (code only), so sync also sees code with an empty storage root.
const CODE_ONLY_SHARE: f64 = 0.1;

/// Share of contracts with storage that reuse an earlier contract's storage trie (identical subtries).
const SHARED_STORAGE_SHARE: f64 = 0.2;

/// Contracts per distinct code blob, on average: how much code sharing there is.
const CONTRACTS_PER_CODE: usize = 4;

/// Code blob sizes in bytes, `MIN..MAX`: real code is up to 24 KiB, smaller keeps big states cheap.
const MIN_CODE_LEN: u64 = 16;
const MAX_CODE_LEN: u64 = 1024;

/// Exponent skewing storage sizes: a trie gets `max_slots ^ (u ^ SKEW)` slots for uniform `u`, so about
/// 5% of storage tries have more than a third of `max_slots` slots and most have a few.
const STORAGE_SIZE_SKEW: i32 = 8;

/// What to generate.
#[derive(Debug, Clone, PartialEq)]
pub struct SyntheticConfig {
    /// Seed of the pseudo-random choices; the same config gives the same state.
    pub seed: u64,
    /// Number of accounts (leaves of the account trie).
    pub accounts: usize,
    /// Fraction of accounts that are contracts, in `0.0..=1.0`.
    pub contract_fraction: f64,
    /// Slots of the largest storage trie; 0 gives contracts without storage.
    pub max_slots: usize,
}

impl SyntheticConfig {
    /// `accounts` accounts from `seed`, a fifth of them contracts, storage tries up to 1,000 slots.
    pub fn new(seed: u64, accounts: usize) -> Self {
        SyntheticConfig { seed, accounts, contract_fraction: 0.2, max_slots: 1_000 }
    }
}

/// What a generated state is made of.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SyntheticStats {
    /// Leaves of the account trie.
    pub accounts: usize,
    /// Accounts with code.
    pub contracts: usize,
    /// Contracts with a non-empty storage root (shared or not).
    pub contracts_with_storage: usize,
    /// Distinct storage tries (distinct non-empty storage roots).
    pub storage_tries: usize,
    /// Slots over the distinct storage tries.
    pub storage_slots: usize,
    /// Nodes of the account trie, as emitted (before deduplication with storage nodes).
    pub account_nodes: usize,
}

/// An account of a synthetic state with the preimage of its key: what a genesis `alloc` entry says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyntheticAccount {
    /// The address; the account's key in the trie is keccak256 of it.
    pub address: [u8; 20],
    /// Nonce, balance, storage root and code hash, as the account leaf holds them.
    pub account: StateAccount,
    /// Index in [`SyntheticState::storages`] of the contents of its storage trie; `None` when the
    /// storage root is empty. Accounts sharing a storage trie share the index.
    pub storage: Option<usize>,
}

/// The contents of one distinct storage trie, with the preimages of its keys.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyntheticStorage {
    /// The trie's root.
    pub root: NodeHash,
    /// Slot index (the key is keccak256 of it) and value, never zero, in generation order.
    pub slots: Vec<([u8; 32], U256)>,
}

/// A generated state: everything a full node would serve for `root`.
#[derive(Debug, Clone)]
pub struct SyntheticState {
    /// The state root (root of the account trie).
    pub root: NodeHash,
    /// Every node of the account trie and of every storage trie, by hash, deduplicated.
    pub nodes: BTreeMap<NodeHash, Vec<u8>>,
    /// Every contract code blob, by keccak-256 hash.
    pub codes: BTreeMap<NodeHash, Vec<u8>>,
    /// What the state is made of.
    pub stats: SyntheticStats,
    /// Every account with its address, ordered by key (keccak256 of the address), as in the trie.
    pub accounts: Vec<SyntheticAccount>,
    /// The distinct storage tries' contents, which [`SyntheticAccount::storage`] points into.
    pub storages: Vec<SyntheticStorage>,
}

impl SyntheticState {
    /// Generates the state `config` describes.
    pub fn generate(config: &SyntheticConfig) -> Result<Self, SyntheticError> {
        let fraction = config.contract_fraction;
        if !(0.0..=1.0).contains(&fraction) {
            return Err(SyntheticError::BadContractFraction { fraction });
        }
        let mut rng = SplitMix64(config.seed);
        let mut nodes = BTreeMap::new();
        let mut stats = SyntheticStats { accounts: config.accounts, ..SyntheticStats::default() };

        let expected_contracts = (config.accounts as f64 * fraction).ceil() as usize;
        let codes: Vec<(NodeHash, Vec<u8>)> = (0..expected_contracts.div_ceil(CONTRACTS_PER_CODE).max(1))
            .map(|index| {
                let mut code = (index as u64).to_be_bytes().to_vec();
                let len = rng.range(MIN_CODE_LEN, MAX_CODE_LEN) as usize;
                code.resize(len.max(code.len()), 0);
                rng.fill(&mut code[8..]);
                (keccak256(&code), code)
            })
            .collect();
        let mut used_codes = BTreeMap::new();
        let mut storages: Vec<SyntheticStorage> = Vec::new();

        let mut accounts: BTreeMap<NodeHash, SyntheticAccount> = BTreeMap::new();
        while accounts.len() < config.accounts {
            let mut address = [0u8; 20];
            rng.fill(&mut address);
            let key = keccak256(address);
            if accounts.contains_key(&key) {
                continue;
            }
            let balance = U256::from(rng.next() as u128 * rng.next() as u128) >> rng.below(128);
            let mut account = StateAccount::with_balance(balance);
            let mut storage = None;
            if rng.chance(fraction) {
                stats.contracts += 1;
                account.nonce = 1 + rng.below(100);
                let (code_hash, code) = &codes[rng.below(codes.len() as u64) as usize];
                account.code_hash = *code_hash;
                used_codes.insert(*code_hash, code.clone());
                storage = if config.max_slots == 0 || rng.chance(CODE_ONLY_SHARE) {
                    None
                } else if !storages.is_empty() && rng.chance(SHARED_STORAGE_SHARE) {
                    Some(rng.below(storages.len() as u64) as usize)
                } else {
                    let slots = if storages.is_empty() {
                        config.max_slots
                    } else {
                        let skewed = rng.unit().powi(STORAGE_SIZE_SKEW);
                        ((config.max_slots as f64).powf(skewed).round() as usize).clamp(1, config.max_slots)
                    };
                    storages.push(storage_trie(&mut rng, slots, &mut nodes));
                    stats.storage_slots += slots;
                    Some(storages.len() - 1)
                };
                if let Some(index) = storage {
                    account.storage_root = storages[index].root;
                    stats.contracts_with_storage += 1;
                }
            } else {
                account.nonce = rng.below(1_000);
            }
            accounts.insert(key, SyntheticAccount { address, account, storage });
        }
        stats.storage_tries = storages.len();

        let leaves: Vec<(NodeHash, Vec<u8>)> =
            accounts.iter().map(|(key, entry)| (*key, entry.account.encode())).collect();
        let (root, account_nodes) = build_trie(leaves.iter().map(|(key, value)| (key.as_bytes(), value)))
            .expect("BTreeMap keys are sorted and distinct and account RLP is never empty");
        stats.account_nodes = account_nodes.len();
        nodes.extend(account_nodes);
        Ok(SyntheticState {
            root,
            nodes,
            codes: used_codes,
            stats,
            accounts: accounts.into_values().collect(),
            storages,
        })
    }

    /// Number of entries a sync of this state must store: trie nodes plus code blobs.
    pub fn entries(&self) -> usize {
        self.nodes.len() + self.codes.len()
    }
}

/// Builds a storage trie of `slots` slots (keys keccak256 of the 32-byte slot index, values non-zero
/// RLP integers of varied widths), adds its nodes to `nodes` and returns its contents and root.
fn storage_trie(
    rng: &mut SplitMix64,
    slots: usize,
    nodes: &mut BTreeMap<NodeHash, Vec<u8>>,
) -> SyntheticStorage {
    // Slots are spread over a sparse index space, as mappings are; distinct by construction (`first`,
    // then distinct multiples of 7 added modulo 2^64, `slots` being far below 2^64).
    let first = rng.next();
    let slots: Vec<([u8; 32], U256)> = (0..slots as u64)
        .map(|i| {
            let mut index = [0u8; 32];
            index[24..].copy_from_slice(&first.wrapping_add(i.wrapping_mul(7)).to_be_bytes());
            let value = (U256::from(rng.next()) << 64 | U256::from(rng.next())) >> rng.below(128);
            // Zero is no entry at all in a real state (and in a genesis file): never emit it.
            let value = if value.is_zero() { U256::one() } else { value };
            (index, value)
        })
        .collect();
    // The RLP of a U256 is its big-endian bytes without leading zeros: what go-ethereum stores.
    let mut pairs: Vec<(NodeHash, Vec<u8>)> =
        slots.iter().map(|(index, value)| (keccak256(index), rlp::encode(value).to_vec())).collect();
    pairs.sort_unstable_by_key(|(key, _)| *key);
    let (root, trie_nodes) = build_trie(pairs.iter().map(|(key, value)| (key.as_bytes(), value)))
        .expect("sorted distinct slot hashes and non-empty RLP values");
    nodes.extend(trie_nodes);
    SyntheticStorage { root, slots }
}

/// SplitMix64 (Steele, Lea, Flood 2014): tiny, fast, and fixed forever, so a seed always means the same
/// state.
struct SplitMix64(u64);

impl SplitMix64 {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in `0..bound` (`bound > 0`), by multiply-shift.
    fn below(&mut self, bound: u64) -> u64 {
        ((self.next() as u128 * bound as u128) >> 64) as u64
    }

    /// Uniform in `low..high`.
    fn range(&mut self, low: u64, high: u64) -> u64 {
        low + self.below(high - low)
    }

    /// Uniform in `[0, 1)`.
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }

    fn chance(&mut self, probability: f64) -> bool {
        self.unit() < probability
    }

    fn fill(&mut self, bytes: &mut [u8]) {
        for chunk in bytes.chunks_mut(8) {
            chunk.copy_from_slice(&self.next().to_le_bytes()[..chunk.len()]);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{ChildRef, Node, EMPTY_CODE_HASH, EMPTY_ROOT};

    fn state(seed: u64, accounts: usize) -> SyntheticState {
        SyntheticState::generate(&SyntheticConfig { max_slots: 200, ..SyntheticConfig::new(seed, accounts) })
            .unwrap()
    }

    #[test]
    fn same_seed_same_state_other_seed_other_state() {
        let a = state(7, 300);
        let b = state(7, 300);
        assert_eq!((a.root, &a.nodes, &a.codes), (b.root, &b.nodes, &b.codes));
        assert_ne!(state(8, 300).root, a.root);
    }

    #[test]
    fn the_state_is_complete_and_has_shared_storage_and_code() {
        let state = state(1, 2_000);
        let stats = state.stats;
        assert_eq!(stats.accounts, 2_000);
        assert!(stats.contracts > 300 && stats.contracts < 500, "{stats:?}");
        assert!(stats.storage_tries < stats.contracts_with_storage, "no storage trie is shared: {stats:?}");
        assert!(state.codes.len() < stats.contracts, "no code is shared: {stats:?}");
        assert!(stats.storage_slots >= 200, "the first storage trie has max_slots: {stats:?}");

        // Walk from the root: every hash reference resolves, every account's storage root and code too,
        // and every stored node is reached (nothing extra).
        let mut reached = std::collections::HashSet::new();
        let mut stack = vec![(state.root, true)];
        let mut leaves = 0;
        while let Some((hash, is_account_trie)) = stack.pop() {
            if !reached.insert(hash) {
                continue;
            }
            let rlp = state.nodes.get(&hash).unwrap_or_else(|| panic!("missing node {hash:?}"));
            assert_eq!(keccak256(rlp), hash);
            let mut pending = vec![Node::decode(rlp).unwrap()];
            while let Some(node) = pending.pop() {
                let children: Vec<ChildRef> = match node {
                    Node::Branch { children, .. } => children.into_iter().flatten().collect(),
                    Node::Extension { child, .. } => vec![child],
                    Node::Leaf { value, .. } => {
                        if is_account_trie {
                            leaves += 1;
                            let account = StateAccount::decode(&value).unwrap();
                            if account.storage_root != EMPTY_ROOT {
                                stack.push((account.storage_root, false));
                            }
                            if account.code_hash != EMPTY_CODE_HASH {
                                let code = &state.codes[&account.code_hash];
                                assert_eq!(keccak256(code), account.code_hash);
                            }
                        }
                        Vec::new()
                    }
                };
                for child in children {
                    match child {
                        ChildRef::Hash(hash) => stack.push((hash, is_account_trie)),
                        ChildRef::Embedded(node) => pending.push(*node),
                    }
                }
            }
        }
        assert_eq!(leaves, 2_000);
        assert_eq!(reached.len(), state.nodes.len(), "nodes not reachable from the root");
    }

    #[test]
    fn the_preimages_rebuild_the_same_state() {
        let state = state(5, 1_000);
        assert_eq!(state.accounts.len(), 1_000);
        assert_eq!(state.storages.len(), state.stats.storage_tries);
        let mut shared = std::collections::HashSet::new();
        let mut leaves = Vec::new();
        for entry in &state.accounts {
            let storage_root = match entry.storage {
                None => EMPTY_ROOT,
                Some(index) => {
                    shared.insert(index);
                    let storage = &state.storages[index];
                    let slots = storage.slots.iter().map(|(slot, value)| {
                        assert!(!value.is_zero(), "a zero value is no entry");
                        (slot.to_vec(), rlp::encode(value).to_vec())
                    });
                    crate::build_secure_trie(slots).unwrap().0
                }
            };
            assert_eq!(storage_root, entry.account.storage_root);
            leaves.push((entry.address, entry.account.encode()));
        }
        assert_eq!(shared.len(), state.storages.len(), "every storage trie is used");
        let keys: Vec<NodeHash> = state.accounts.iter().map(|entry| keccak256(entry.address)).collect();
        assert!(keys.windows(2).all(|pair| pair[0] < pair[1]), "accounts are ordered by key");
        assert_eq!(crate::build_secure_trie(leaves).unwrap().0, state.root);
    }

    #[test]
    fn rejects_a_fraction_outside_zero_to_one() {
        let config = SyntheticConfig { contract_fraction: 1.5, ..SyntheticConfig::new(1, 10) };
        assert_eq!(
            SyntheticState::generate(&config).unwrap_err(),
            SyntheticError::BadContractFraction { fraction: 1.5 }
        );
    }

    #[test]
    fn no_contracts_means_no_code_and_no_storage() {
        let config = SyntheticConfig { contract_fraction: 0.0, ..SyntheticConfig::new(3, 100) };
        let state = SyntheticState::generate(&config).unwrap();
        assert!(state.codes.is_empty());
        assert_eq!(state.stats.storage_tries, 0);
        assert_eq!(state.nodes.len(), state.stats.account_nodes);
    }
}
