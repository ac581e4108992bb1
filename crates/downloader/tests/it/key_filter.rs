//! The key filter in front of the store: a fresh sync asks the store about almost none of the children
//! it meets, and a resumed one still skips what is stored.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use downloader::{Downloader, DownloaderConfig};
use kvdb::{KeyValueStore, MemoryStore, Namespace, WriteBatch};
use primitive_types::U256;
use trie_sync::StateAccount;

use crate::fixtures::*;

/// A store that counts the lookups reaching it.
#[derive(Default)]
struct CountingStore {
    inner: MemoryStore,
    lookups: AtomicU64,
}

impl KeyValueStore for CountingStore {
    fn get(&self, namespace: Namespace, key: &[u8]) -> kvdb::Result<Option<Vec<u8>>> {
        self.lookups.fetch_add(1, Ordering::Relaxed);
        self.inner.get(namespace, key)
    }

    fn contains(&self, namespace: Namespace, key: &[u8]) -> kvdb::Result<bool> {
        self.lookups.fetch_add(1, Ordering::Relaxed);
        self.inner.contains(namespace, key)
    }

    fn write(&self, batch: WriteBatch) -> kvdb::Result<()> {
        self.inner.write(batch)
    }

    fn for_each(&self, namespace: Namespace, visit: &mut dyn FnMut(&[u8], &[u8])) -> kvdb::Result<()> {
        self.inner.for_each(namespace, visit)
    }
}

/// Syncs `state` into `local` and returns the lookups that reached it.
async fn lookups(state: &State, local: &Arc<CountingStore>, key_filter: bool) -> u64 {
    let source = state.store();
    let (peers, inbox, _) = serve(&source, &honest(2, std::time::Duration::ZERO));
    let before = local.lookups.load(Ordering::Relaxed);
    let config = DownloaderConfig { key_filter, commit_threshold: 64 << 10, ..DownloaderConfig::default() };
    let downloader = Downloader::new(local.clone(), peers, inbox, config);
    downloader.sync_state(state.root).wait().await.expect("the sync completes");
    assert_equals_source(&local.inner, state);
    local.lookups.load(Ordering::Relaxed) - before
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fresh_sync_answers_nearly_every_lookup_from_the_filter() {
    let state = synthetic(61, 2_000);
    let unfiltered = lookups(&state, &Arc::default(), false).await;
    let filtered = lookups(&state, &Arc::default(), true).await;
    // Without the filter the store is asked about every child (about one lookup per entry); with it,
    // only about the few the filter cannot rule out, and about the sync's own bookkeeping.
    assert!(
        unfiltered as usize >= state.entries() / 2,
        "{unfiltered} lookups for {} entries",
        state.entries()
    );
    assert!(filtered * 20 < unfiltered, "{filtered} lookups with the filter, {unfiltered} without");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn what_the_store_already_holds_is_loaded_into_the_filter_and_not_fetched_again() {
    // Accounts sharing one large storage trie, which the store already holds whole (as after an
    // interrupted sync): the filter must know it, or the sync would fetch it again.
    let (storage_root, storage) = storage_trie(9, 600);
    let mut accounts: Vec<(u64, StateAccount)> =
        (0..300u64).map(|seed| (seed, StateAccount::with_balance(U256::from(seed + 1)))).collect();
    for seed in 300..310u64 {
        accounts.push((seed, StateAccount { storage_root, ..StateAccount::with_balance(U256::one()) }));
    }
    let state = from_accounts(&accounts, &storage, &Default::default());
    let local = Arc::new(CountingStore::default());
    let mut batch = WriteBatch::new();
    for (hash, node) in &storage {
        batch.put(Namespace::TrieNodes, hash.as_bytes().to_vec(), node.clone());
    }
    local.inner.write(batch).unwrap();

    let source = state.store();
    let (peers, inbox, _) = serve(&source, &honest(2, std::time::Duration::ZERO));
    let downloader = Downloader::new(local.clone(), peers, inbox, DownloaderConfig::default());
    let report = downloader.sync_state(state.root).wait().await.expect("the sync completes");
    assert_equals_source(&local.inner, &state);
    assert_eq!(report.nodes as usize, state.nodes.len() - storage.len(), "only the missing nodes fetched");
}
