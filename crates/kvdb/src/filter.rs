//! A store wrapper that answers most lookups of absent keys from memory.
//!
//! A sync asks the store, once per child of every node it receives, whether the child is already
//! stored; in a fresh sync of hash-keyed tries the answer is almost always no, and each no costs a
//! walk down the engine's tree (redb's B-tree, or fjall's memtables and per-table filters). A
//! [`FilteredStore`] keeps a Bloom filter of every key the store holds, so a key the filter has never
//! seen is answered at the cost of one cache line, and only the rest go to the store.

use std::hash::BuildHasher;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::RwLock;
use std::time::Instant;

use foldhash::quality::FixedState;
use tracing::debug;

use crate::{BatchOp, KeyValueStore, Namespace, Result, WriteBatch};

/// Bits of filter per key a layer is sized for: with 512-bit blocks and [`PROBES`] probes, about
/// 0.4 % false positives at capacity.
const BITS_PER_KEY: u64 = 12;
/// Bit positions set per key, all inside one 512-bit block (one cache line).
const PROBES: u32 = 7;
/// Keys the first layer is sized for; each further layer holds twice as many as the one before.
const FIRST_LAYER_KEYS: u64 = 1 << 20;
/// `u64` words per block: 512 bits, one cache line.
const BLOCK_WORDS: usize = 8;

/// One fixed-size blocked Bloom filter: a key picks a block, then sets [`PROBES`] bits inside it.
#[derive(Debug)]
struct Layer {
    words: Box<[AtomicU64]>,
    blocks: u64,
    /// Keys this layer was sized for; past it, inserts go to a new layer.
    capacity: u64,
    len: AtomicU64,
}

impl Layer {
    fn with_capacity(capacity: u64) -> Self {
        let blocks = (capacity * BITS_PER_KEY).div_ceil(512).max(1);
        let words = (0..blocks as usize * BLOCK_WORDS).map(|_| AtomicU64::new(0)).collect();
        Self { words, blocks, capacity, len: AtomicU64::new(0) }
    }

    /// The first word of the block `hash` picks, and the bit positions (0..512) inside it.
    fn probes(&self, hash: Hash) -> (usize, impl Iterator<Item = usize>) {
        // Lemire's multiply-shift maps the high half onto 0..blocks without a division.
        let block = ((hash.block >> 32) * self.blocks) >> 32;
        let bits = hash.bits;
        let positions = (0..PROBES).map(move |probe| ((bits >> (probe * 9)) & 511) as usize);
        (block as usize * BLOCK_WORDS, positions)
    }

    fn insert(&self, hash: Hash) {
        let (base, positions) = self.probes(hash);
        for bit in positions {
            self.words[base + bit / 64].fetch_or(1 << (bit % 64), Ordering::Relaxed);
        }
        self.len.fetch_add(1, Ordering::Relaxed);
    }

    fn may_contain(&self, hash: Hash) -> bool {
        let (base, mut positions) = self.probes(hash);
        positions.all(|bit| self.words[base + bit / 64].load(Ordering::Relaxed) & (1 << (bit % 64)) != 0)
    }

    fn is_full(&self) -> bool {
        self.len.load(Ordering::Relaxed) >= self.capacity
    }

    fn bytes(&self) -> usize {
        self.words.len() * 8
    }
}

/// The two independent 64-bit hashes of a (namespace, key) pair a layer uses.
#[derive(Debug, Clone, Copy)]
struct Hash {
    block: u64,
    bits: u64,
}

/// A Bloom filter over (namespace, key) pairs that grows with what is inserted: a "no" is certain, a
/// "maybe" is wrong for a fraction of a percent of absent keys.
///
/// It is a series of blocked Bloom layers, each sized for twice the keys of the one before (a
/// scalable Bloom filter), so nothing needs to be known in advance and memory stays about 1.6 bytes
/// per key inserted (at most twice that just after a layer is added). Inserts and lookups take `&self`
/// and may run on several threads at once.
#[derive(Debug)]
pub struct KeyFilter {
    layers: RwLock<Vec<Layer>>,
    block_hasher: FixedState,
    bits_hasher: FixedState,
}

impl Default for KeyFilter {
    fn default() -> Self {
        Self::new()
    }
}

impl KeyFilter {
    /// An empty filter.
    pub fn new() -> Self {
        Self {
            layers: RwLock::new(vec![Layer::with_capacity(FIRST_LAYER_KEYS)]),
            block_hasher: FixedState::with_seed(0x5157_a7e5_0000_0001),
            bits_hasher: FixedState::with_seed(0x5157_a7e5_0000_0002),
        }
    }

    fn hash(&self, namespace: Namespace, key: &[u8]) -> Hash {
        Hash {
            block: self.block_hasher.hash_one((namespace.index(), key)),
            bits: self.bits_hasher.hash_one((namespace.index(), key)),
        }
    }

    /// Adds `key` of `namespace`.
    pub fn insert(&self, namespace: Namespace, key: &[u8]) {
        let hash = self.hash(namespace, key);
        let full = {
            let layers = self.layers.read().unwrap_or_else(|poisoned| poisoned.into_inner());
            // The vector is never empty: it starts with one layer and only grows.
            let Some(last) = layers.last() else { return };
            last.insert(hash);
            last.is_full()
        };
        if full {
            let mut layers = self.layers.write().unwrap_or_else(|poisoned| poisoned.into_inner());
            if let Some(last) = layers.last().filter(|last| last.is_full()) {
                let capacity = last.capacity.saturating_mul(2);
                layers.push(Layer::with_capacity(capacity));
            }
        }
    }

    /// `false` if `key` of `namespace` was certainly never inserted; `true` if it may have been.
    pub fn may_contain(&self, namespace: Namespace, key: &[u8]) -> bool {
        let hash = self.hash(namespace, key);
        let layers = self.layers.read().unwrap_or_else(|poisoned| poisoned.into_inner());
        layers.iter().rev().any(|layer| layer.may_contain(hash))
    }

    /// Keys inserted so far (each insert counts, repeated keys included).
    pub fn len(&self) -> u64 {
        let layers = self.layers.read().unwrap_or_else(|poisoned| poisoned.into_inner());
        layers.iter().map(|layer| layer.len.load(Ordering::Relaxed)).sum()
    }

    /// Whether nothing was inserted yet.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Bytes of memory the filter's bits take.
    pub fn bytes(&self) -> usize {
        let layers = self.layers.read().unwrap_or_else(|poisoned| poisoned.into_inner());
        layers.iter().map(Layer::bytes).sum()
    }
}

/// A [`KeyValueStore`] in front of another that answers `contains` and `get` of keys its
/// [`KeyFilter`] has never seen without asking the inner store.
///
/// [`FilteredStore::new`] fills the filter with every key the inner store holds (one pass over each
/// namespace, so opening a large store takes a while), and every batch written through the wrapper
/// adds its keys before it reaches the inner store. Lookups of present keys, and the rare absent key
/// the filter cannot rule out, go to the inner store as before, so answers are the inner store's
/// own: exact, as long as every write goes through the wrapper. A key written to the inner store
/// behind the wrapper's back may be reported absent; deleted keys stay in the filter (a Bloom filter
/// cannot forget) and simply cost a lookup.
///
/// Memory: about 1.6 bytes per stored key (see [`KeyFilter`]), e.g. 19 MiB for 11.6 million keys.
#[derive(Debug)]
pub struct FilteredStore<S> {
    inner: S,
    filter: KeyFilter,
}

impl<S: KeyValueStore> FilteredStore<S> {
    /// Wraps `inner`, reading every key it holds into the filter.
    ///
    /// Fails if reading the inner store does.
    pub fn new(inner: S) -> Result<Self> {
        let started = Instant::now();
        let filter = KeyFilter::new();
        for namespace in Namespace::ALL {
            inner.for_each(namespace, &mut |key, _| filter.insert(namespace, key))?;
        }
        debug!(
            target: "kvdb::filter",
            keys = filter.len(),
            bytes = filter.bytes(),
            elapsed = ?started.elapsed(),
            "key filter loaded"
        );
        Ok(Self { inner, filter })
    }

    /// The wrapped store.
    pub fn inner(&self) -> &S {
        &self.inner
    }

    /// The filter, for its size.
    pub fn filter(&self) -> &KeyFilter {
        &self.filter
    }
}

impl<S: KeyValueStore> KeyValueStore for FilteredStore<S> {
    fn get(&self, namespace: Namespace, key: &[u8]) -> Result<Option<Vec<u8>>> {
        if !self.filter.may_contain(namespace, key) {
            return Ok(None);
        }
        self.inner.get(namespace, key)
    }

    fn contains(&self, namespace: Namespace, key: &[u8]) -> Result<bool> {
        if !self.filter.may_contain(namespace, key) {
            return Ok(false);
        }
        self.inner.contains(namespace, key)
    }

    fn write(&self, batch: WriteBatch) -> Result<()> {
        self.write_reporting_durability(batch).map(drop)
    }

    fn write_reporting_durability(&self, batch: WriteBatch) -> Result<bool> {
        // Before the write: a reader that finds the key in the inner store must never have been told
        // it is absent a moment later.
        for op in batch.ops() {
            if let BatchOp::Put { namespace, key, .. } = op {
                self.filter.insert(*namespace, key);
            }
        }
        self.inner.write_reporting_durability(batch)
    }

    fn for_each(&self, namespace: Namespace, visit: &mut dyn FnMut(&[u8], &[u8])) -> Result<()> {
        self.inner.for_each(namespace, visit)
    }

    fn flush(&self) -> Result<()> {
        self.inner.flush()
    }

    fn compact(&self) -> Result<()> {
        self.inner.compact()
    }

    fn count(&self, namespace: Namespace) -> Result<u64> {
        self.inner.count(namespace)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::MemoryStore;

    fn key(i: u64) -> [u8; 32] {
        let mut key = [0u8; 32];
        key[..8].copy_from_slice(&i.to_le_bytes());
        key[24..].copy_from_slice(&i.wrapping_mul(0x9e37_79b9_7f4a_7c15).to_be_bytes());
        key
    }

    #[test]
    fn never_forgets_a_key_across_layers_and_rarely_claims_an_absent_one() {
        let filter = KeyFilter::new();
        let inserted = 3 * FIRST_LAYER_KEYS + 17; // three layers
        for i in 0..inserted {
            filter.insert(Namespace::TrieNodes, &key(i));
        }
        assert_eq!(filter.len(), inserted);
        assert!((0..inserted).all(|i| filter.may_contain(Namespace::TrieNodes, &key(i))));
        let probes = 200_000;
        let false_positives = (inserted..inserted + probes)
            .filter(|&i| filter.may_contain(Namespace::TrieNodes, &key(i)))
            .count();
        let rate = false_positives as f64 / probes as f64;
        assert!(rate < 0.02, "false positive rate {rate}");
        // The same key in another namespace is a different entry.
        let other = (0..probes).filter(|&i| filter.may_contain(Namespace::Code, &key(i))).count();
        assert!((other as f64 / probes as f64) < 0.02, "{other} code keys claimed");
        // About 1.6 bytes per key, at most twice that right after a layer is added.
        assert!(filter.bytes() as u64 <= inserted * 4, "{} bytes", filter.bytes());
    }

    #[test]
    fn answers_like_the_inner_store_and_loads_what_it_holds() -> Result<()> {
        let inner = MemoryStore::new();
        let mut batch = WriteBatch::new();
        batch.put(Namespace::TrieNodes, key(1).to_vec(), b"one".to_vec());
        inner.write(batch)?;

        let store = FilteredStore::new(inner)?;
        assert_eq!(store.filter().len(), 1);
        assert_eq!(store.get(Namespace::TrieNodes, &key(1))?, Some(b"one".to_vec()));
        assert!(!store.contains(Namespace::TrieNodes, &key(2))?);

        let mut batch = WriteBatch::new();
        batch.put(Namespace::TrieNodes, key(2).to_vec(), b"two".to_vec());
        batch.put(Namespace::Code, key(3).to_vec(), b"code".to_vec());
        store.write(batch)?;
        assert!(store.contains(Namespace::TrieNodes, &key(2))?);
        assert!(store.contains(Namespace::Code, &key(3))?);
        assert!(!store.contains(Namespace::TrieNodes, &key(3))?);
        assert_eq!(store.get(Namespace::Code, &key(3))?, Some(b"code".to_vec()));

        let mut batch = WriteBatch::new();
        batch.delete(Namespace::TrieNodes, key(2).to_vec());
        store.write(batch)?;
        assert!(!store.contains(Namespace::TrieNodes, &key(2))?, "the inner store answers for a deleted key");
        assert_eq!(store.count(Namespace::TrieNodes)?, 1);
        Ok(())
    }
}
