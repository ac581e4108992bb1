//! Bulk insert throughput per backend and batch size: what the sync layer's commit-batch size is
//! chosen from.
//!
//! Entries look like trie nodes: a 32-byte pseudo-random key and a 100..=500-byte value (about 300
//! bytes on average), all deterministic. Each iteration writes one batch of fresh keys into a store
//! that keeps growing (as during a sync) until it holds [`MAX_ENTRIES`], when it is replaced by an
//! empty one outside the timed section, to bound memory and disk use.
//!
//! Run: `cargo bench -p kvdb --all-features --bench bulk_insert`.

use std::path::Path;
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, SamplingMode, Throughput};
use kvdb::{KeyValueStore, MemoryStore, Namespace, WriteBatch};

/// Entries per batch to compare: from fsync-bound small batches to ~33 MB ones.
const BATCH_ENTRIES: [u64; 4] = [100, 1_000, 10_000, 100_000];
/// A store is replaced once it holds this many entries (~330 MB), to bound memory and disk use.
const MAX_ENTRIES: u64 = 1_000_000;
/// Batches per durable commit in the periodic configurations.
#[cfg(any(feature = "redb", feature = "fjall"))]
const PERIODIC_EVERY: u32 = 16;

fn splitmix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

fn value_len(n: u64) -> usize {
    100 + (splitmix(n) % 401) as usize
}

/// Batch of `entries` entries numbered from `first`: keys spread uniformly like hashes.
fn batch(first: u64, entries: u64) -> WriteBatch {
    let mut batch = WriteBatch::with_capacity(entries as usize);
    for n in first..first + entries {
        let mut key = [0u8; 32];
        for (i, chunk) in key.chunks_exact_mut(8).enumerate() {
            chunk.copy_from_slice(&splitmix(n.wrapping_mul(4).wrapping_add(i as u64)).to_le_bytes());
        }
        let mut value = vec![0u8; value_len(n)];
        for (i, chunk) in value.chunks_mut(8).enumerate() {
            let word = splitmix(n ^ ((i as u64) << 40)).to_le_bytes();
            chunk.copy_from_slice(&word[..chunk.len()]);
        }
        batch.put(Namespace::TrieNodes, key.to_vec(), value);
    }
    batch
}

/// Bytes of keys and values in a batch of `entries` entries (the same for every `first` on average).
fn batch_bytes(entries: u64) -> usize {
    batch(0, entries).size_bytes()
}

type Open = fn(&Path) -> Box<dyn KeyValueStore>;

fn backends() -> Vec<(&'static str, Open)> {
    #[cfg_attr(not(any(feature = "redb", feature = "fjall")), allow(unused_mut))]
    let mut backends: Vec<(&'static str, Open)> = vec![("memory", |_| Box::new(MemoryStore::new()))];
    #[cfg(feature = "redb")]
    {
        use kvdb::{Durability, RedbOptions, RedbStore};
        backends.push(("redb_immediate", |dir| {
            let options = RedbOptions::new().durability(Durability::Immediate);
            Box::new(RedbStore::open(dir.join("bench.redb"), options).expect("open redb"))
        }));
        backends.push(("redb_periodic16", |dir| {
            let options = RedbOptions::new().durability(Durability::periodic(PERIODIC_EVERY));
            Box::new(RedbStore::open(dir.join("bench.redb"), options).expect("open redb"))
        }));
    }
    #[cfg(feature = "fjall")]
    {
        use kvdb::{Durability, FjallOptions, FjallStore};
        backends.push(("fjall_immediate", |dir| {
            let options = FjallOptions::new().durability(Durability::Immediate);
            Box::new(FjallStore::open(dir.join("bench-fjall"), options).expect("open fjall"))
        }));
        backends.push(("fjall_periodic16", |dir| {
            let options = FjallOptions::new().durability(Durability::periodic(PERIODIC_EVERY));
            Box::new(FjallStore::open(dir.join("bench-fjall"), options).expect("open fjall"))
        }));
    }
    backends
}

/// A store that is replaced by a fresh one (in a fresh directory) when it grows past [`MAX_ENTRIES`].
struct GrowingStore {
    open: Open,
    store: Option<Box<dyn KeyValueStore>>,
    dir: Option<tempfile::TempDir>,
    written: u64,
}

impl GrowingStore {
    fn new(open: Open) -> Self {
        Self { open, store: None, dir: None, written: 0 }
    }

    /// The store to write `entries` more entries into, replaced first if it would outgrow the cap.
    fn store_for(&mut self, entries: u64) -> &dyn KeyValueStore {
        if self.store.is_none() || self.written + entries > MAX_ENTRIES {
            self.store = None; // close before the directory goes
            let dir = tempfile::tempdir().expect("bench tempdir");
            self.store = Some((self.open)(dir.path()));
            self.dir = Some(dir);
            self.written = 0;
        }
        self.written += entries;
        self.store.as_deref().expect("opened above")
    }
}

fn bulk_insert(c: &mut Criterion) {
    for entries in BATCH_ENTRIES {
        let kib = batch_bytes(entries) / 1024;
        let mut group = c.benchmark_group(format!("bulk_insert/{entries}_entries_{kib}KiB"));
        group
            .throughput(Throughput::Elements(entries))
            .sampling_mode(SamplingMode::Flat)
            .sample_size(10)
            .warm_up_time(Duration::from_millis(500))
            .measurement_time(Duration::from_secs(3));
        for (name, open) in backends() {
            let mut store = GrowingStore::new(open);
            let mut next = 0u64;
            group.bench_function(BenchmarkId::from_parameter(name), |b| {
                b.iter_custom(|iters| {
                    let mut elapsed = Duration::ZERO;
                    for _ in 0..iters {
                        let batch = batch(next, entries);
                        next += entries;
                        let target = store.store_for(entries);
                        let started = Instant::now();
                        target.write(batch).expect("write batch");
                        elapsed += started.elapsed();
                    }
                    elapsed
                })
            });
        }
        group.finish();
    }
}

criterion_group!(benches, bulk_insert);
criterion_main!(benches);
