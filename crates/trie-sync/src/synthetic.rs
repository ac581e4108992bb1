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
//! A state can be had whole, in memory ([`SyntheticState::generate`]), or streamed piece by piece in
//! key order without being held ([`SyntheticState::stream`]), which is how `gen` writes states of
//! millions of accounts in bounded memory; the first is the second collected.
//!
//! The same [`SyntheticConfig`] always gives the same state: the generator uses its own fixed
//! pseudo-random function (SplitMix64) rather than a library RNG whose algorithm may change between
//! releases and silently change every `gen --seed` state.

use std::cell::RefCell;
use std::collections::BTreeMap;

use primitive_types::U256;

use crate::{keccak256, NodeHash, StateAccount, SyntheticError, TrieBuilder};

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

/// One piece of a synthetic state, as [`SyntheticState::stream`] hands them out.
///
/// Accounts come in key order. Before each account come the nodes of its storage trie and its code,
/// unless an earlier account already brought them, and the account-trie nodes it completes come
/// after it. The state root's node is the last [`SyntheticItem::Node`].
#[derive(Debug, Clone, Copy)]
pub enum SyntheticItem<'a> {
    /// A trie node stored by hash, of the account trie or of a storage trie; children come before
    /// their parents. Each distinct storage trie is built once, however many accounts share it, but
    /// two distinct tries holding an identical subtrie (the same slots and values under the same
    /// path) give that subtrie's nodes once each: a consumer counting distinct nodes merges by hash.
    Node {
        /// keccak256 of `rlp`.
        hash: NodeHash,
        /// The node's RLP.
        rlp: &'a [u8],
    },
    /// A contract code blob, once per distinct blob, before the first account that uses it.
    Code {
        /// keccak256 of `code`.
        hash: NodeHash,
        /// The code.
        code: &'a [u8],
    },
    /// The contents of a distinct storage trie, once, after its nodes.
    Storage {
        /// Its index in [`SyntheticState::storages`] (the order the tries were drawn in, not the
        /// order they come in).
        index: usize,
        /// Its root and slots.
        storage: &'a SyntheticStorage,
    },
    /// An account leaf, in key order, after its storage trie's nodes and its code.
    Account(&'a SyntheticAccount),
}

/// What [`SyntheticState::stream`] gave, once everything is out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SyntheticSummary {
    /// The state root (root of the account trie); [`EMPTY_ROOT`](crate::EMPTY_ROOT) for no accounts.
    pub root: NodeHash,
    /// What the state is made of.
    pub stats: SyntheticStats,
}

impl SyntheticState {
    /// Generates the state `config` describes, in memory: [`SyntheticState::stream`] collected.
    pub fn generate(config: &SyntheticConfig) -> Result<Self, SyntheticError> {
        let mut nodes = BTreeMap::new();
        let mut codes = BTreeMap::new();
        let mut accounts = Vec::new();
        let mut storages = BTreeMap::new();
        let summary = Self::stream(config, |item| {
            match item {
                SyntheticItem::Node { hash, rlp } => {
                    nodes.insert(hash, rlp.to_vec());
                }
                SyntheticItem::Code { hash, code } => {
                    codes.insert(hash, code.to_vec());
                }
                SyntheticItem::Storage { index, storage } => {
                    storages.insert(index, storage.clone());
                }
                SyntheticItem::Account(account) => accounts.push(account.clone()),
            }
            Ok::<_, SyntheticError>(())
        })?;
        Ok(SyntheticState {
            root: summary.root,
            nodes,
            codes,
            stats: summary.stats,
            accounts,
            // Every storage trie is some account's, so every index in 0..storage_tries came.
            storages: storages.into_values().collect(),
        })
    }

    /// Generates the state `config` describes (the state [`SyntheticState::generate`] gives) and hands
    /// it to `sink` piece by piece, in the order [`SyntheticItem`] describes, without holding it:
    /// memory is about 40 bytes per account (its key and where its pseudo-random draws start), 40 per
    /// code blob and 60 per distinct storage trie, plus one storage trie's slots at a time.
    ///
    /// A first pass draws every account as [`SyntheticState::generate`] always has, in draw order,
    /// skipping over the draws of storage slots and keeping only where each account, storage trie and
    /// code blob starts in the pseudo-random sequence (SplitMix64 can start anywhere in it). A second
    /// pass redraws the accounts in key order from those positions and streams them through
    /// [`TrieBuilder`]s, building each storage trie and code blob when its first account needs it.
    ///
    /// Fails with what `sink` fails with, or with [`SyntheticError`] for a bad config, before
    /// anything reaches `sink`.
    pub fn stream<E, F>(config: &SyntheticConfig, mut sink: F) -> Result<SyntheticSummary, E>
    where
        E: From<SyntheticError>,
        F: FnMut(SyntheticItem<'_>) -> Result<(), E>,
    {
        let plan = Plan::draw(config)?;
        plan.emit(&mut sink)
    }

    /// Number of entries a sync of this state must store: trie nodes plus code blobs.
    pub fn entries(&self) -> usize {
        self.nodes.len() + self.codes.len()
    }
}

/// Where a code blob of the pool starts in the pseudo-random sequence, and its hash.
struct CodeSeed {
    hash: NodeHash,
    /// Draws made before the blob's.
    draws: u64,
}

/// Where a distinct storage trie starts in the pseudo-random sequence.
struct StorageSeed {
    /// Draws made before the account that drew this trie: tells, for any account, how many tries
    /// existed when it was drawn (they are drawn in this order).
    creator: u64,
    /// Draws made before the trie's own.
    draws: u64,
    slots: usize,
}

/// An account's key and where its draws start: all the second pass keeps per account.
struct AccountSeed {
    key: NodeHash,
    /// Draws made before the account's.
    draws: u64,
}

/// What the first pass found: enough to redraw every account, storage trie and code blob in any order.
struct Plan<'a> {
    config: &'a SyntheticConfig,
    codes: Vec<CodeSeed>,
    storages: Vec<StorageSeed>,
    /// Sorted by key.
    accounts: Vec<AccountSeed>,
    /// Everything but `account_nodes`, which the second pass counts.
    stats: SyntheticStats,
}

/// An account as drawn, before its storage trie is built.
struct AccountDraw {
    address: [u8; 20],
    /// Without its code hash and storage root, which `code` and `storage` give.
    account: StateAccount,
    /// Index into the code pool, for a contract.
    code: Option<usize>,
    storage: StorageDraw,
}

/// An account's storage, as drawn.
enum StorageDraw {
    /// The empty storage root.
    Empty,
    /// The storage trie of that index, drawn by an earlier account.
    Shared(usize),
    /// A new storage trie of this many slots, drawn right after the account.
    New { slots: usize },
}

impl<'a> Plan<'a> {
    /// The first pass: draws the code pool and every account in draw order.
    fn draw(config: &'a SyntheticConfig) -> Result<Self, SyntheticError> {
        let fraction = config.contract_fraction;
        if !(0.0..=1.0).contains(&fraction) {
            return Err(SyntheticError::BadContractFraction { fraction });
        }
        let mut accounts = Vec::new();
        accounts
            .try_reserve_exact(config.accounts)
            .map_err(|_| SyntheticError::TooManyAccounts { accounts: config.accounts })?;
        let mut rng = SplitMix64::new(config.seed);
        let expected_contracts = (config.accounts as f64 * fraction).ceil() as usize;
        let mut blob = Vec::new();
        let codes: Vec<CodeSeed> = (0..expected_contracts.div_ceil(CONTRACTS_PER_CODE).max(1))
            .map(|index| {
                let draws = rng.draws;
                code_blob(&mut rng, index, &mut blob);
                CodeSeed { hash: keccak256(&blob), draws }
            })
            .collect();
        let mut stats = SyntheticStats { accounts: config.accounts, ..SyntheticStats::default() };
        let mut storages: Vec<StorageSeed> = Vec::new();
        // Addresses never repeat, so no account is drawn twice: an address's first 8 bytes are one
        // SplitMix64 output, and its outputs are distinct (a bijection of a counter) for 2^64 draws.
        // Keys, their keccak256, are then distinct too.
        for _ in 0..config.accounts {
            let draws = rng.draws;
            let drawn = draw_account(&mut rng, config, codes.len(), storages.len());
            if drawn.code.is_some() {
                stats.contracts += 1;
            }
            match drawn.storage {
                StorageDraw::Empty => {}
                StorageDraw::Shared(_) => stats.contracts_with_storage += 1,
                StorageDraw::New { slots } => {
                    storages.push(StorageSeed { creator: draws, draws: rng.draws, slots });
                    rng.skip(storage_draws(slots));
                    stats.storage_slots += slots;
                    stats.contracts_with_storage += 1;
                }
            }
            accounts.push(AccountSeed { key: keccak256(drawn.address), draws });
        }
        stats.storage_tries = storages.len();
        accounts.sort_unstable_by_key(|seed| seed.key);
        Ok(Plan { config, codes, storages, accounts, stats })
    }

    /// The second pass: redraws the accounts in key order and hands the state to `sink`.
    fn emit<E, F>(self, sink: &mut F) -> Result<SyntheticSummary, E>
    where
        F: FnMut(SyntheticItem<'_>) -> Result<(), E>,
    {
        let Plan { config, codes, storages, accounts, mut stats } = self;
        let mut roots: Vec<Option<NodeHash>> = vec![None; storages.len()];
        let mut codes_sent = vec![false; codes.len()];
        let mut blob = Vec::new();
        // The account trie's nodes wait here until the sink is free of the storage tries' builders.
        let finished = RefCell::new(FinishedNodes::default());
        let mut account_trie = TrieBuilder::new(|hash, rlp: &[u8]| finished.borrow_mut().push(hash, rlp));
        let mut account_nodes = 0;
        for seed in &accounts {
            let mut rng = SplitMix64::at(config.seed, seed.draws);
            let storages_before = storages.partition_point(|storage| storage.creator < seed.draws);
            let drawn = draw_account(&mut rng, config, codes.len(), storages_before);
            let mut account = drawn.account;
            if let Some(index) = drawn.code {
                let code = &codes[index];
                account.code_hash = code.hash;
                if !codes_sent[index] {
                    codes_sent[index] = true;
                    code_blob(&mut SplitMix64::at(config.seed, code.draws), index, &mut blob);
                    sink(SyntheticItem::Code { hash: code.hash, code: &blob })?;
                }
            }
            let storage = match drawn.storage {
                StorageDraw::Empty => None,
                StorageDraw::Shared(index) => Some(index),
                StorageDraw::New { .. } => Some(storages_before),
            };
            if let Some(index) = storage {
                account.storage_root = match roots[index] {
                    Some(root) => root,
                    None => {
                        let trie = &storages[index];
                        let mut rng = SplitMix64::at(config.seed, trie.draws);
                        let storage = storage_trie(&mut rng, trie.slots, sink)?;
                        sink(SyntheticItem::Storage { index, storage: &storage })?;
                        roots[index] = Some(storage.root);
                        storage.root
                    }
                };
            }
            let entry = SyntheticAccount { address: drawn.address, account, storage };
            sink(SyntheticItem::Account(&entry))?;
            account_trie
                .insert(seed.key.as_bytes(), &entry.account.encode())
                .expect("keys are sorted and distinct and account RLP is never empty");
            account_nodes += finished.borrow_mut().drain(sink)?;
        }
        let root = account_trie.finish();
        account_nodes += finished.borrow_mut().drain(sink)?;
        stats.account_nodes = account_nodes;
        Ok(SyntheticSummary { root, stats })
    }
}

/// Nodes a [`TrieBuilder`] finished, held until they can go to the sink.
#[derive(Default)]
struct FinishedNodes {
    /// Their RLP, one after the other.
    rlp: Vec<u8>,
    /// Each node's hash and where its RLP ends in `rlp`.
    nodes: Vec<(NodeHash, usize)>,
}

impl FinishedNodes {
    fn push(&mut self, hash: NodeHash, rlp: &[u8]) {
        self.rlp.extend_from_slice(rlp);
        self.nodes.push((hash, self.rlp.len()));
    }

    /// Hands the held nodes to `sink`, in the order they were finished; returns how many there were.
    fn drain<E, F>(&mut self, sink: &mut F) -> Result<usize, E>
    where
        F: FnMut(SyntheticItem<'_>) -> Result<(), E>,
    {
        let mut start = 0;
        let count = self.nodes.len();
        let result = self.nodes.iter().try_for_each(|&(hash, end)| {
            let rlp = &self.rlp[start..end];
            start = end;
            sink(SyntheticItem::Node { hash, rlp })
        });
        self.rlp.clear();
        self.nodes.clear();
        result.map(|()| count)
    }
}

/// Draws one account: its address, balance and nonce, and for a contract its code and storage, given
/// the size of the code pool and how many storage tries were drawn before it. The draws of a new
/// storage trie's slots come after and are not made here.
fn draw_account(
    rng: &mut SplitMix64,
    config: &SyntheticConfig,
    codes: usize,
    storages: usize,
) -> AccountDraw {
    let mut address = [0u8; 20];
    rng.fill(&mut address);
    let balance = U256::from(rng.next() as u128 * rng.next() as u128) >> rng.below(128);
    let mut account = StateAccount::with_balance(balance);
    if !rng.chance(config.contract_fraction) {
        account.nonce = rng.below(1_000);
        return AccountDraw { address, account, code: None, storage: StorageDraw::Empty };
    }
    account.nonce = 1 + rng.below(100);
    let code = rng.below(codes as u64) as usize;
    let storage = if config.max_slots == 0 || rng.chance(CODE_ONLY_SHARE) {
        StorageDraw::Empty
    } else if storages > 0 && rng.chance(SHARED_STORAGE_SHARE) {
        StorageDraw::Shared(rng.below(storages as u64) as usize)
    } else {
        let slots = if storages == 0 {
            config.max_slots
        } else {
            let skewed = rng.unit().powi(STORAGE_SIZE_SKEW);
            ((config.max_slots as f64).powf(skewed).round() as usize).clamp(1, config.max_slots)
        };
        StorageDraw::New { slots }
    };
    AccountDraw { address, account, code: Some(code), storage }
}

/// Draws code blob `index` of the pool into `code`: the index's 8 big-endian bytes, then random bytes
/// up to a random length.
fn code_blob(rng: &mut SplitMix64, index: usize, code: &mut Vec<u8>) {
    code.clear();
    code.extend_from_slice(&(index as u64).to_be_bytes());
    let len = rng.range(MIN_CODE_LEN, MAX_CODE_LEN) as usize;
    code.resize(len.max(code.len()), 0);
    rng.fill(&mut code[8..]);
}

/// Draws [`storage_trie`] makes for `slots` slots: the first slot index, then three per slot.
fn storage_draws(slots: usize) -> u64 {
    1 + 3 * slots as u64
}

/// Builds a storage trie of `slots` slots (keys keccak256 of the 32-byte slot index, values non-zero
/// RLP integers of varied widths), hands its nodes to `sink` and returns its contents and root. Makes
/// exactly [`storage_draws`] draws.
fn storage_trie<E, F>(rng: &mut SplitMix64, slots: usize, sink: &mut F) -> Result<SyntheticStorage, E>
where
    F: FnMut(SyntheticItem<'_>) -> Result<(), E>,
{
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
    let mut failed = None;
    let mut builder = TrieBuilder::new(|hash, rlp: &[u8]| {
        if failed.is_none() {
            failed = sink(SyntheticItem::Node { hash, rlp }).err();
        }
    });
    for (key, value) in &pairs {
        builder.insert(key.as_bytes(), value).expect("sorted distinct slot hashes and non-empty RLP values");
    }
    let root = builder.finish();
    match failed {
        Some(error) => Err(error),
        None => Ok(SyntheticStorage { root, slots }),
    }
}

/// SplitMix64 (Steele, Lea, Flood 2014): tiny, fast, and fixed forever, so a seed always means the same
/// state.
/// Its state is a counter (`seed + draws * GAMMA`), so a generator can start anywhere in the sequence:
/// the streaming generator redraws accounts, storage tries and code blobs out of draw order.
struct SplitMix64 {
    seed: u64,
    /// Outputs drawn so far: the position in the sequence.
    draws: u64,
}

impl SplitMix64 {
    /// The step of the counter: odd, so 2^64 steps visit every state once.
    const GAMMA: u64 = 0x9e37_79b9_7f4a_7c15;

    fn new(seed: u64) -> Self {
        Self::at(seed, 0)
    }

    /// The generator of `seed` after `draws` draws.
    fn at(seed: u64, draws: u64) -> Self {
        SplitMix64 { seed, draws }
    }

    /// Moves on as if `draws` draws had been made.
    fn skip(&mut self, draws: u64) {
        self.draws = self.draws.wrapping_add(draws);
    }

    fn next(&mut self) -> u64 {
        self.draws = self.draws.wrapping_add(1);
        let mut z = self.seed.wrapping_add(self.draws.wrapping_mul(Self::GAMMA));
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
    use crate::{build_trie, ChildRef, Node, EMPTY_CODE_HASH, EMPTY_ROOT};

    /// The generator as it was before it streamed (commit f40ad43), kept verbatim as the oracle of
    /// the streaming one: it draws in the same order and holds everything in maps.
    fn in_memory_generate(config: &SyntheticConfig) -> Result<SyntheticState, SyntheticError> {
        let fraction = config.contract_fraction;
        if !(0.0..=1.0).contains(&fraction) {
            return Err(SyntheticError::BadContractFraction { fraction });
        }
        let mut rng = SplitMix64::new(config.seed);
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
                    storages.push(in_memory_storage_trie(&mut rng, slots, &mut nodes));
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

    /// The storage trie builder of [`in_memory_generate`].
    fn in_memory_storage_trie(
        rng: &mut SplitMix64,
        slots: usize,
        nodes: &mut BTreeMap<NodeHash, Vec<u8>>,
    ) -> SyntheticStorage {
        let first = rng.next();
        let slots: Vec<([u8; 32], U256)> = (0..slots as u64)
            .map(|i| {
                let mut index = [0u8; 32];
                index[24..].copy_from_slice(&first.wrapping_add(i.wrapping_mul(7)).to_be_bytes());
                let value = (U256::from(rng.next()) << 64 | U256::from(rng.next())) >> rng.below(128);
                let value = if value.is_zero() { U256::one() } else { value };
                (index, value)
            })
            .collect();
        let mut pairs: Vec<(NodeHash, Vec<u8>)> =
            slots.iter().map(|(index, value)| (keccak256(index), rlp::encode(value).to_vec())).collect();
        pairs.sort_unstable_by_key(|(key, _)| *key);
        let (root, trie_nodes) = build_trie(pairs.iter().map(|(key, value)| (key.as_bytes(), value)))
            .expect("sorted distinct slot hashes and non-empty RLP values");
        nodes.extend(trie_nodes);
        SyntheticStorage { root, slots }
    }

    #[test]
    fn the_streamed_state_is_the_in_memory_generators_state() {
        let configs = [
            SyntheticConfig::new(1, 0),
            SyntheticConfig::new(2, 1),
            SyntheticConfig { contract_fraction: 1.0, ..SyntheticConfig::new(3, 1) },
            SyntheticConfig::new(4, 2),
            SyntheticConfig { max_slots: 200, ..SyntheticConfig::new(5, 17) },
            SyntheticConfig { max_slots: 200, ..SyntheticConfig::new(7, 300) },
            SyntheticConfig { contract_fraction: 1.0, max_slots: 50, ..SyntheticConfig::new(8, 400) },
            SyntheticConfig { contract_fraction: 0.0, ..SyntheticConfig::new(9, 250) },
            SyntheticConfig { max_slots: 0, ..SyntheticConfig::new(10, 250) },
            SyntheticConfig { max_slots: 1, contract_fraction: 0.7, ..SyntheticConfig::new(11, 250) },
            SyntheticConfig::new(12, 3_000),
        ];
        for config in &configs {
            let expected = in_memory_generate(config).unwrap();

            // Streamed, item by item.
            let mut nodes = BTreeMap::new();
            let mut codes = BTreeMap::new();
            let mut accounts = Vec::new();
            let mut storages = BTreeMap::new();
            let mut last_node = None;
            let summary = SyntheticState::stream(config, |item| {
                match item {
                    SyntheticItem::Node { hash, rlp } => {
                        assert_eq!(keccak256(rlp), hash);
                        nodes.insert(hash, rlp.to_vec());
                        last_node = Some(hash);
                    }
                    SyntheticItem::Code { hash, code } => {
                        assert!(codes.insert(hash, code.to_vec()).is_none(), "code {hash:?} came twice");
                    }
                    SyntheticItem::Storage { index, storage } => {
                        assert!(nodes.contains_key(&storage.root), "storage trie {index} before its nodes");
                        assert!(storages.insert(index, storage.clone()).is_none(), "trie {index} came twice");
                    }
                    SyntheticItem::Account(entry) => {
                        let account = &entry.account;
                        assert!(
                            account.storage_root == EMPTY_ROOT || nodes.contains_key(&account.storage_root)
                        );
                        assert!(
                            account.code_hash == EMPTY_CODE_HASH || codes.contains_key(&account.code_hash)
                        );
                        accounts.push(entry.clone());
                    }
                }
                Ok::<_, SyntheticError>(())
            })
            .unwrap();
            assert_eq!(summary.root, expected.root, "{config:?}");
            assert_eq!(summary.stats, expected.stats, "{config:?}");
            assert_eq!(nodes, expected.nodes, "{config:?}");
            assert_eq!(codes, expected.codes, "{config:?}");
            assert_eq!(accounts, expected.accounts, "{config:?}");
            assert_eq!(storages.into_values().collect::<Vec<_>>(), expected.storages, "{config:?}");
            let root_last = if config.accounts == 0 { None } else { Some(expected.root) };
            assert_eq!(last_node, root_last, "the root node comes last: {config:?}");

            // Collected.
            let generated = SyntheticState::generate(config).unwrap();
            assert_eq!(
                (generated.root, &generated.nodes, &generated.codes, generated.stats),
                (expected.root, &expected.nodes, &expected.codes, expected.stats)
            );
            assert_eq!((&generated.accounts, &generated.storages), (&expected.accounts, &expected.storages));
        }
        // Not vacuous: states above share storage tries and code.
        let shared = in_memory_generate(&configs[6]).unwrap();
        let stats = shared.stats;
        assert!(stats.storage_tries < stats.contracts_with_storage, "{stats:?}");
        assert!(shared.codes.len() < stats.contracts, "{stats:?}");
        assert_eq!(in_memory_generate(&configs[0]).unwrap().root, EMPTY_ROOT);
    }

    #[test]
    fn a_failing_sink_stops_the_stream_with_its_error() {
        #[derive(Debug, PartialEq)]
        enum Failure {
            Sink(usize),
            Synthetic(SyntheticError),
        }
        impl From<SyntheticError> for Failure {
            fn from(error: SyntheticError) -> Self {
                Failure::Synthetic(error)
            }
        }
        let config = SyntheticConfig { max_slots: 100, ..SyntheticConfig::new(6, 200) };
        let mut nodes = 0;
        let result = SyntheticState::stream(&config, |item| match item {
            SyntheticItem::Node { .. } if nodes == 50 => Err(Failure::Sink(nodes)),
            SyntheticItem::Node { .. } => {
                nodes += 1;
                Ok(())
            }
            _ => Ok(()),
        });
        assert_eq!(result, Err(Failure::Sink(50)));
        assert_eq!(nodes, 50, "nothing more reached the sink");
        let bad = SyntheticConfig { contract_fraction: -0.5, ..config };
        let result =
            SyntheticState::stream(&bad, |_| -> Result<(), Failure> { panic!("bad config streamed") });
        assert_eq!(result, Err(Failure::Synthetic(SyntheticError::BadContractFraction { fraction: -0.5 })));
    }

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
