//! What [`KeyValueStore::write_reporting_durability`] tells: exactly the batches the durability
//! setting makes durable, counted as `write` counts them, through the wrappers too.

use std::path::Path;
use std::sync::Arc;

use kvdb::{Durability, FilteredStore, KeyValueStore, MemoryStore, Namespace, WriteBatch};

use crate::data::{key, value};

fn batch(n: u64) -> WriteBatch {
    let mut batch = WriteBatch::new();
    batch.put(Namespace::TrieNodes, key(n), value(n, 40));
    batch
}

/// Opens a store in `dir` with `durability`, writes with every way of writing, and checks what each
/// batch is reported as.
#[cfg_attr(not(any(feature = "redb", feature = "fjall")), allow(dead_code))]
fn reports_exactly_the_durable_batches<S: KeyValueStore + 'static>(
    open: impl Fn(&Path, Durability) -> kvdb::Result<S>,
) {
    let dir = tempfile::tempdir().expect("temporary directory");
    let store = Arc::new(open(&dir.path().join("periodic"), Durability::periodic(3)).expect("open"));
    let mut reported = Vec::new();
    for n in 0..4 {
        reported.push(store.write_reporting_durability(batch(n)).expect("write"));
    }
    // Plain writes count toward the period too.
    store.write(batch(4)).expect("write");
    assert!(!store.write_reporting_durability(WriteBatch::new()).expect("empty"), "nothing written");
    reported.push(store.write_reporting_durability(batch(5)).expect("write"));
    // Through an `Arc` and a key filter.
    let filtered = FilteredStore::new(store.clone()).expect("filter");
    for n in 6..9 {
        reported.push(filtered.write_reporting_durability(batch(n)).expect("write"));
    }
    assert_eq!(reported, [false, false, true, false, true, false, false, true], "every third batch");
    assert_eq!(store.get(Namespace::TrieNodes, &key(8)).expect("read"), Some(value(8, 40)));

    let store = open(&dir.path().join("immediate"), Durability::Immediate).expect("open");
    for n in 0..3 {
        assert!(store.write_reporting_durability(batch(n)).expect("write"), "every batch");
    }
}

#[cfg(feature = "redb")]
#[test]
fn redb_reports_the_batches_it_makes_durable() {
    reports_exactly_the_durable_batches(|path, durability| {
        kvdb::RedbStore::open(path, kvdb::RedbOptions::new().durability(durability))
    });
}

#[cfg(feature = "fjall")]
#[test]
fn fjall_reports_the_batches_it_makes_durable() {
    reports_exactly_the_durable_batches(|path, durability| {
        kvdb::FjallStore::open(path, kvdb::FjallOptions::new().durability(durability))
    });
}

#[test]
fn memory_reports_nothing_durable() {
    let store = MemoryStore::new();
    assert!(!store.write_reporting_durability(batch(1)).expect("write"));
    assert_eq!(store.get(Namespace::TrieNodes, &key(1)).expect("read"), Some(value(1, 40)));
}
