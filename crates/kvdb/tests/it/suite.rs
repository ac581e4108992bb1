//! Behaviour every store must have, written once over [`Backend`] and stamped out per backend by
//! [`suite!`].

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::thread;

use kvdb::{KeyValueStore, Namespace, WriteBatch};

use crate::backends::*;
use crate::data::{key, value};

type TestResult = Result<(), kvdb::Error>;

fn put_one(store: &impl KeyValueStore, namespace: Namespace, key: &[u8], value: &[u8]) -> TestResult {
    let mut batch = WriteBatch::new();
    batch.put(namespace, key.to_vec(), value.to_vec());
    store.write(batch)
}

fn entries(store: &impl KeyValueStore, namespace: Namespace) -> kvdb::Result<Vec<(Vec<u8>, Vec<u8>)>> {
    let mut entries = Vec::new();
    store.for_each(namespace, &mut |key, value| entries.push((key.to_vec(), value.to_vec())))?;
    Ok(entries)
}

pub(crate) fn get_contains_and_missing_keys<B: Backend>() -> TestResult {
    let dir = tempdir()?;
    let store = B::open(dir.path())?;
    assert_eq!(store.get(Namespace::TrieNodes, &key(1))?, None);
    assert!(!store.contains(Namespace::TrieNodes, &key(1))?);

    put_one(&store, Namespace::TrieNodes, &key(1), &value(1, 100))?;
    assert_eq!(store.get(Namespace::TrieNodes, &key(1))?, Some(value(1, 100)));
    assert!(store.contains(Namespace::TrieNodes, &key(1))?);
    assert_eq!(store.get(Namespace::TrieNodes, &key(2))?, None, "a neighbour key stays missing");
    assert!(!store.contains(Namespace::TrieNodes, &key(2))?);

    // An empty value is legal and distinct from absence.
    put_one(&store, Namespace::Meta, b"k", b"")?;
    assert_eq!(store.get(Namespace::Meta, b"k")?, Some(Vec::new()));
    assert!(store.contains(Namespace::Meta, b"k")?);
    Ok(())
}

/// Every backend refuses the keys fjall cannot hold, whole batch included, with the same typed error.
pub(crate) fn key_limits_refuse_the_whole_batch<B: Backend>() -> TestResult {
    let dir = tempdir()?;
    let store = B::open(dir.path())?;
    for bad_key in [Vec::new(), vec![7u8; kvdb::MAX_KEY_LEN + 1]] {
        let mut batch = WriteBatch::new();
        batch.put(Namespace::TrieNodes, key(1), value(1, 10));
        batch.put(Namespace::Code, bad_key.clone(), value(2, 10));
        let result = store.write(batch);
        assert!(
            matches!(result, Err(kvdb::Error::InvalidKey { namespace: Namespace::Code, len }) if len == bad_key.len()),
            "{result:?}"
        );
        assert!(!store.contains(Namespace::TrieNodes, &key(1))?, "nothing of a refused batch is written");
        assert_eq!(store.get(Namespace::Code, &bad_key)?, None, "reading such a key finds nothing");
        assert!(!store.contains(Namespace::Code, &bad_key)?);
    }
    let longest = vec![9u8; kvdb::MAX_KEY_LEN];
    put_one(&store, Namespace::Code, &longest, b"fits")?;
    assert_eq!(store.get(Namespace::Code, &longest)?, Some(b"fits".to_vec()));
    Ok(())
}

pub(crate) fn namespaces_are_separate<B: Backend>() -> TestResult {
    let dir = tempdir()?;
    let store = B::open(dir.path())?;
    let mut batch = WriteBatch::new();
    for (n, namespace) in Namespace::ALL.into_iter().enumerate() {
        batch.put(namespace, key(7), value(n as u64, 10));
    }
    batch.put(Namespace::Code, key(8), value(8, 10));
    store.write(batch)?;
    for (n, namespace) in Namespace::ALL.into_iter().enumerate() {
        assert_eq!(store.get(namespace, &key(7))?, Some(value(n as u64, 10)), "{namespace}");
    }
    assert!(store.contains(Namespace::Code, &key(8))?);
    assert!(!store.contains(Namespace::TrieNodes, &key(8))?);
    assert!(!store.contains(Namespace::Meta, &key(8))?);

    let mut delete = WriteBatch::new();
    delete.delete(Namespace::Code, key(7));
    store.write(delete)?;
    assert_eq!(store.get(Namespace::Code, &key(7))?, None);
    assert_eq!(
        store.get(Namespace::TrieNodes, &key(7))?,
        Some(value(0, 10)),
        "delete stays in its namespace"
    );
    assert_eq!(store.count(Namespace::TrieNodes)?, 1);
    assert_eq!(store.count(Namespace::Code)?, 1);
    assert_eq!(store.count(Namespace::Meta)?, 1);
    Ok(())
}

pub(crate) fn batch_ops_apply_in_order<B: Backend>() -> TestResult {
    let dir = tempdir()?;
    let store = B::open(dir.path())?;
    let mut batch = WriteBatch::new();
    batch.put(Namespace::TrieNodes, key(1), b"first".to_vec());
    batch.put(Namespace::TrieNodes, key(1), b"second".to_vec()); // later put wins
    batch.put(Namespace::TrieNodes, key(2), b"doomed".to_vec());
    batch.delete(Namespace::TrieNodes, key(2)); // delete after put removes
    batch.delete(Namespace::TrieNodes, key(3));
    batch.put(Namespace::TrieNodes, key(3), b"reborn".to_vec()); // put after delete stays
    batch.delete(Namespace::TrieNodes, key(4)); // deleting a missing key is a no-op
    store.write(batch)?;
    assert_eq!(store.get(Namespace::TrieNodes, &key(1))?, Some(b"second".to_vec()));
    assert_eq!(store.get(Namespace::TrieNodes, &key(2))?, None);
    assert_eq!(store.get(Namespace::TrieNodes, &key(3))?, Some(b"reborn".to_vec()));
    assert_eq!(store.get(Namespace::TrieNodes, &key(4))?, None);
    assert_eq!(store.count(Namespace::TrieNodes)?, 2);

    // A later batch overwrites and deletes what an earlier one wrote.
    let mut batch = WriteBatch::new();
    batch.put(Namespace::TrieNodes, key(1), b"third".to_vec());
    batch.delete(Namespace::TrieNodes, key(3));
    store.write(batch)?;
    assert_eq!(store.get(Namespace::TrieNodes, &key(1))?, Some(b"third".to_vec()));
    assert_eq!(store.get(Namespace::TrieNodes, &key(3))?, None);
    Ok(())
}

pub(crate) fn empty_batch_changes_nothing<B: Backend>() -> TestResult {
    let dir = tempdir()?;
    let store = B::open(dir.path())?;
    store.write(WriteBatch::new())?;
    for namespace in Namespace::ALL {
        assert_eq!(store.count(namespace)?, 0);
    }
    put_one(&store, Namespace::Meta, b"progress", b"1")?;
    store.write(WriteBatch::new())?;
    assert_eq!(store.get(Namespace::Meta, b"progress")?, Some(b"1".to_vec()));
    assert_eq!(store.count(Namespace::Meta)?, 1);
    Ok(())
}

pub(crate) fn large_values_round_trip<B: Backend>() -> TestResult {
    let dir = tempdir()?;
    let store = B::open(dir.path())?;
    let big = value(42, 1 << 20);
    let mut batch = WriteBatch::new();
    batch.put(Namespace::Code, key(42), big.clone());
    batch.put(Namespace::Code, key(43), value(43, (1 << 20) + 17));
    store.write(batch)?;
    assert_eq!(store.get(Namespace::Code, &key(42))?.as_deref(), Some(big.as_slice()));
    assert_eq!(store.get(Namespace::Code, &key(43))?, Some(value(43, (1 << 20) + 17)));
    Ok(())
}

pub(crate) fn many_keys_round_trip<B: Backend>() -> TestResult {
    let dir = tempdir()?;
    let store = B::open(dir.path())?;
    const BATCHES: u64 = 10;
    const PER_BATCH: u64 = 2_000;
    for b in 0..BATCHES {
        let mut batch = WriteBatch::with_capacity(PER_BATCH as usize);
        for n in b * PER_BATCH..(b + 1) * PER_BATCH {
            batch.put(Namespace::TrieNodes, key(n), value(n, 100 + (n % 400) as usize));
        }
        store.write(batch)?;
    }
    assert_eq!(store.count(Namespace::TrieNodes)?, BATCHES * PER_BATCH);
    for n in (0..BATCHES * PER_BATCH).step_by(7) {
        assert_eq!(
            store.get(Namespace::TrieNodes, &key(n))?,
            Some(value(n, 100 + (n % 400) as usize)),
            "key {n}"
        );
    }
    assert!(!store.contains(Namespace::TrieNodes, &key(BATCHES * PER_BATCH))?);
    Ok(())
}

pub(crate) fn for_each_visits_in_ascending_key_order<B: Backend>() -> TestResult {
    let dir = tempdir()?;
    let store = B::open(dir.path())?;
    let mut expected: Vec<(Vec<u8>, Vec<u8>)> = (0..500).map(|n| (key(n), value(n, 40))).collect();
    // Two batches, so the order cannot come from a single sorted insertion.
    for chunk in expected.chunks(250) {
        let mut batch = WriteBatch::new();
        for (key, value) in chunk {
            batch.put(Namespace::TrieNodes, key.clone(), value.clone());
        }
        store.write(batch)?;
    }
    put_one(&store, Namespace::Code, &key(0), b"other namespace")?;
    expected.sort();
    let visited = entries(&store, Namespace::TrieNodes)?;
    assert_eq!(visited.len(), expected.len());
    assert!(visited.windows(2).all(|pair| pair[0].0 < pair[1].0), "keys strictly ascending");
    assert_eq!(visited, expected);
    assert_eq!(entries(&store, Namespace::Meta)?, Vec::new());
    Ok(())
}

pub(crate) fn count_follows_puts_and_deletes<B: Backend>() -> TestResult {
    let dir = tempdir()?;
    let store = B::open(dir.path())?;
    let mut batch = WriteBatch::new();
    for n in 0..100 {
        batch.put(Namespace::TrieNodes, key(n), value(n, 8));
    }
    for n in 0..3 {
        batch.put(Namespace::Meta, key(n), value(n, 8));
    }
    store.write(batch)?;
    assert_eq!(store.count(Namespace::TrieNodes)?, 100);
    assert_eq!(store.count(Namespace::Meta)?, 3);
    assert_eq!(store.count(Namespace::Code)?, 0);

    let mut batch = WriteBatch::new();
    for n in 0..40 {
        batch.delete(Namespace::TrieNodes, key(n));
    }
    batch.put(Namespace::TrieNodes, key(50), value(0, 8)); // overwrite: no new entry
    store.write(batch)?;
    assert_eq!(store.count(Namespace::TrieNodes)?, 60);
    let mut visited = 0u64;
    store.for_each(Namespace::TrieNodes, &mut |_, _| visited += 1)?;
    assert_eq!(visited, 60, "count agrees with for_each");
    Ok(())
}

/// Readers in several threads while a writer commits batches that each write the same counter first
/// to `TrieNodes`, then to many filler keys, then to `Meta`.
///
/// Two `get`s are two reads, not one snapshot, so a reader may see a newer batch in its second read;
/// what it must never see is the second read older than the first (`Meta` < `TrieNodes`): that would
/// mean it saw the start of a batch without its end. `for_each` is one read, so each scan must see the
/// filler keys of exactly one batch.
pub(crate) fn concurrent_readers_see_whole_batches<B: Backend>() -> TestResult {
    const BATCHES: u64 = 150;
    const FILLERS: u64 = 50;
    let dir = tempdir()?;
    let store = Arc::new(B::open(dir.path())?);
    let counter_key = b"counter".to_vec();
    let done = Arc::new(AtomicBool::new(false));
    // Reads completed by all readers; the writer waits for it to move after each batch so reads
    // really interleave with writes, even on a loaded machine where a fast store (memory) could
    // otherwise finish every batch before a reader thread is scheduled.
    let reads = Arc::new(AtomicU64::new(0));

    let readers: Vec<_> = (0..3)
        .map(|_| {
            let (store, done, counter_key) = (Arc::clone(&store), Arc::clone(&done), counter_key.clone());
            let reads = Arc::clone(&reads);
            thread::spawn(move || -> kvdb::Result<u64> {
                let mut observations = 0;
                while !done.load(Ordering::Acquire) {
                    let first = store.get(Namespace::TrieNodes, &counter_key)?.map(decode);
                    let last = store.get(Namespace::Meta, &counter_key)?.map(decode);
                    assert!(last >= first, "saw the start of batch {first:?} without its end ({last:?})");
                    // One scan: every filler of the Code namespace carries the same batch number.
                    let mut seen = Vec::new();
                    store.for_each(Namespace::Code, &mut |_, value| seen.push(decode(value.to_vec())))?;
                    if let Some(first) = seen.first() {
                        assert!(seen.iter().all(|n| n == first), "a scan mixed batches: {seen:?}");
                        assert_eq!(seen.len() as u64, FILLERS, "a scan saw part of a batch");
                    }
                    observations += 1;
                    reads.fetch_add(1, Ordering::AcqRel);
                }
                Ok(observations)
            })
        })
        .collect();

    for n in 1..=BATCHES {
        let mut batch = WriteBatch::new();
        batch.put(Namespace::TrieNodes, counter_key.clone(), n.to_be_bytes().to_vec());
        for filler in 0..FILLERS {
            batch.put(Namespace::Code, key(filler), n.to_be_bytes().to_vec());
        }
        batch.put(Namespace::Meta, counter_key.clone(), n.to_be_bytes().to_vec());
        let before = reads.load(Ordering::Acquire);
        store.write(batch)?;
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(2);
        while reads.load(Ordering::Acquire) == before && std::time::Instant::now() < deadline {
            thread::yield_now();
        }
    }
    done.store(true, Ordering::Release);
    for reader in readers {
        let observations = reader.join().map_err(|_| kvdb::Error::Poisoned)??;
        assert!(observations > 0, "a reader never read");
    }
    assert_eq!(store.get(Namespace::Meta, &counter_key)?.map(decode), Some(BATCHES));
    Ok(())
}

fn decode(bytes: Vec<u8>) -> u64 {
    let mut array = [0u8; 8];
    array.copy_from_slice(&bytes);
    u64::from_be_bytes(array)
}

/// Write, drop without `flush`, reopen: a clean close keeps everything, whatever the durability.
#[cfg(any(feature = "redb", feature = "fjall"))]
pub(crate) fn reopen_keeps_data<B: Backend>() -> TestResult {
    let dir = tempdir()?;
    {
        let store = B::open(dir.path())?;
        for b in 0..5u64 {
            let mut batch = WriteBatch::new();
            for n in b * 100..(b + 1) * 100 {
                batch.put(Namespace::TrieNodes, key(n), value(n, 200));
            }
            batch.put(Namespace::Meta, b"progress".to_vec(), b.to_be_bytes().to_vec());
            store.write(batch)?;
        }
        let mut batch = WriteBatch::new();
        batch.delete(Namespace::TrieNodes, key(0));
        batch.put(Namespace::Code, key(1), value(1, 3000));
        store.write(batch)?;
    }
    let store = B::open(dir.path())?;
    assert_eq!(store.count(Namespace::TrieNodes)?, 499);
    assert_eq!(store.get(Namespace::TrieNodes, &key(0))?, None);
    for n in 1..500 {
        assert_eq!(store.get(Namespace::TrieNodes, &key(n))?, Some(value(n, 200)), "key {n}");
    }
    assert_eq!(store.get(Namespace::Code, &key(1))?, Some(value(1, 3000)));
    assert_eq!(store.get(Namespace::Meta, b"progress")?, Some(4u64.to_be_bytes().to_vec()));
    // And the reopened store takes new writes.
    put_one(&store, Namespace::Meta, b"progress", b"5")?;
    store.flush()?;
    drop(store);
    let store = B::open(dir.path())?;
    assert_eq!(store.get(Namespace::Meta, b"progress")?, Some(b"5".to_vec()));
    Ok(())
}

/// `flush` succeeds with and without pending batches, and the data stays readable.
pub(crate) fn flush_keeps_data<B: Backend>() -> TestResult {
    let dir = tempdir()?;
    let store = B::open(dir.path())?;
    store.flush()?;
    put_one(&store, Namespace::Code, &key(9), &value(9, 64))?;
    store.flush()?;
    store.flush()?;
    assert_eq!(store.get(Namespace::Code, &key(9))?, Some(value(9, 64)));
    Ok(())
}

/// `compact` keeps every entry readable, before and after a reopen.
#[cfg(any(feature = "redb", feature = "fjall"))]
pub(crate) fn compact_keeps_data<B: Backend>() -> TestResult {
    let dir = tempdir()?;
    {
        let store = B::open(dir.path())?;
        for b in 0..4u64 {
            let mut batch = WriteBatch::new();
            for n in b * 250..(b + 1) * 250 {
                batch.put(Namespace::TrieNodes, key(n), value(n, 100));
            }
            batch.put(Namespace::Meta, b"progress".to_vec(), b.to_be_bytes().to_vec());
            store.write(batch)?;
        }
        store.compact()?;
        store.compact()?; // nothing left to settle
        assert_eq!(store.count(Namespace::TrieNodes)?, 1000);
        put_one(&store, Namespace::Code, &key(7), &value(7, 64))?;
    }
    let store = B::open(dir.path())?;
    assert_eq!(store.count(Namespace::TrieNodes)?, 1000);
    assert!((0..1000).all(|n| store.get(Namespace::TrieNodes, &key(n)).ok() == Some(Some(value(n, 100)))));
    assert_eq!(store.get(Namespace::Code, &key(7))?, Some(value(7, 64)));
    assert_eq!(store.get(Namespace::Meta, b"progress")?, Some(3u64.to_be_bytes().to_vec()));
    Ok(())
}

/// fjall's `compact` moves the memtables into tables, so the journals behind them are deleted (a
/// journal is sealed once past 64 MB, and deleted once every keyspace has flushed what it holds).
#[cfg(feature = "fjall")]
#[test]
fn fjall_compact_deletes_the_flushed_journals() -> TestResult {
    use std::os::unix::fs::MetadataExt;
    /// Bytes the journal files take on disk.
    fn journal_bytes(dir: &std::path::Path) -> u64 {
        let entries = std::fs::read_dir(dir).expect("the database directory");
        entries
            .filter_map(|entry| entry.ok())
            .filter(|entry| entry.path().extension().is_some_and(|ext| ext == "jnl"))
            .map(|entry| entry.metadata().map(|m| m.blocks() * 512).unwrap_or(0))
            .sum()
    }
    let dir = tempdir()?;
    let path = dir.path().join("db");
    let store = kvdb::FjallStore::open(&path, kvdb::FjallOptions::new())?;
    for b in 0..40u64 {
        let mut batch = WriteBatch::new();
        for n in b * 500..(b + 1) * 500 {
            batch.put(Namespace::TrieNodes, key(n), value(n, 4000));
        }
        batch.put(Namespace::Meta, b"progress".to_vec(), b.to_be_bytes().to_vec());
        store.write(batch)?;
    }
    store.flush()?;
    let before = journal_bytes(&path);
    assert!(before > 64_000_000, "{before} bytes of journal before");
    store.compact()?;
    let after = journal_bytes(&path);
    assert!(after * 4 < before, "{after} bytes of journal after compact, {before} before");
    assert_eq!(store.count(Namespace::TrieNodes)?, 20_000);
    Ok(())
}

/// redb's `compact` gives back the space copy-on-write commits of random keys leave behind.
#[cfg(feature = "redb")]
#[test]
fn redb_compact_shrinks_a_file_of_random_inserts() -> TestResult {
    let dir = tempdir()?;
    let path = dir.path().join("db.redb");
    let options = kvdb::RedbOptions::new().durability(kvdb::Durability::periodic(8));
    let store = kvdb::RedbStore::open(&path, options)?;
    let mut n = 0u64;
    for _ in 0..64 {
        let mut batch = WriteBatch::new();
        for _ in 0..500 {
            // Spread over the key space, as hashes are.
            n += 1;
            batch.put(
                Namespace::TrieNodes,
                n.wrapping_mul(0x9e37_79b9_7f4a_7c15).to_be_bytes().to_vec(),
                value(n, 100),
            );
        }
        store.write(batch)?;
    }
    store.flush()?;
    let before =
        std::fs::metadata(&path).map_err(|source| kvdb::Error::Io { path: path.clone(), source })?.len();
    store.compact()?;
    let after =
        std::fs::metadata(&path).map_err(|source| kvdb::Error::Io { path: path.clone(), source })?.len();
    assert!(after < before * 3 / 4, "{after} bytes after compact, {before} before");
    assert_eq!(store.count(Namespace::TrieNodes)?, n);
    drop(store);
    let store = kvdb::RedbStore::open(&path, kvdb::RedbOptions::new())?;
    assert_eq!(
        store.get(Namespace::TrieNodes, &7u64.wrapping_mul(0x9e37_79b9_7f4a_7c15).to_be_bytes())?,
        Some(value(7, 100))
    );
    Ok(())
}

fn tempdir() -> kvdb::Result<tempfile::TempDir> {
    tempfile::tempdir().map_err(|source| kvdb::Error::Io { path: std::env::temp_dir(), source })
}

/// Stamps out the suite for one backend: `suite!(module_name, BackendType)`; with a third argument
/// `persistent`, also the tests that drop and reopen the store.
macro_rules! suite {
    ($module:ident, $backend:ty $(, $persistent:ident)?) => {
        mod $module {
            use super::*;

            #[test]
            fn get_contains_and_missing_keys() -> TestResult {
                super::get_contains_and_missing_keys::<$backend>()
            }
            #[test]
            fn key_limits_refuse_the_whole_batch() -> TestResult {
                super::key_limits_refuse_the_whole_batch::<$backend>()
            }
            #[test]
            fn namespaces_are_separate() -> TestResult {
                super::namespaces_are_separate::<$backend>()
            }
            #[test]
            fn batch_ops_apply_in_order() -> TestResult {
                super::batch_ops_apply_in_order::<$backend>()
            }
            #[test]
            fn empty_batch_changes_nothing() -> TestResult {
                super::empty_batch_changes_nothing::<$backend>()
            }
            #[test]
            fn large_values_round_trip() -> TestResult {
                super::large_values_round_trip::<$backend>()
            }
            #[test]
            fn many_keys_round_trip() -> TestResult {
                super::many_keys_round_trip::<$backend>()
            }
            #[test]
            fn for_each_visits_in_ascending_key_order() -> TestResult {
                super::for_each_visits_in_ascending_key_order::<$backend>()
            }
            #[test]
            fn count_follows_puts_and_deletes() -> TestResult {
                super::count_follows_puts_and_deletes::<$backend>()
            }
            #[test]
            fn concurrent_readers_see_whole_batches() -> TestResult {
                super::concurrent_readers_see_whole_batches::<$backend>()
            }
            #[test]
            fn flush_keeps_data() -> TestResult {
                super::flush_keeps_data::<$backend>()
            }
            $(
                #[test]
                fn reopen_keeps_data() -> TestResult {
                    let _ = stringify!($persistent);
                    super::reopen_keeps_data::<$backend>()
                }
                #[test]
                fn compact_keeps_data() -> TestResult {
                    let _ = stringify!($persistent);
                    super::compact_keeps_data::<$backend>()
                }
            )?
        }
    };
}

suite!(memory, Memory);
#[cfg(feature = "redb")]
suite!(redb_immediate, RedbImmediate, persistent);
#[cfg(feature = "redb")]
suite!(redb_periodic, RedbPeriodic, persistent);
#[cfg(feature = "redb")]
suite!(redb_quick_repair, RedbQuickRepair, persistent);
#[cfg(feature = "fjall")]
suite!(fjall_immediate, FjallImmediate, persistent);
#[cfg(feature = "fjall")]
suite!(fjall_periodic, FjallPeriodic, persistent);
