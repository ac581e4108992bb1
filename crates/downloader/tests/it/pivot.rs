//! Pivot moves and cancellation: what is committed is reused, never fetched again.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

use downloader::{Checkpoint, DownloadError, Downloader, DownloaderConfig};
use kvdb::{KeyValueStore, MemoryStore};
use peers::Behaviour;
use primitive_types::U256;
use trie_sync::{keccak256, StateAccount, EMPTY_CODE_HASH};

use crate::fixtures::*;

const LATENCY: Duration = Duration::from_millis(100);

/// State A (300 accounts, a tenth with one of five storage tries and code) and B: A with five
/// balances changed and three accounts added.
fn states() -> (State, State) {
    let mut storage = BTreeMap::new();
    let mut roots = Vec::new();
    for seed in 1..=5 {
        let (root, nodes) = storage_trie(seed, 30 * seed);
        storage.extend(nodes);
        roots.push(root);
    }
    let codes: BTreeMap<_, _> = (0u8..3)
        .map(|i| {
            let code = vec![i; 100];
            (keccak256(&code), code)
        })
        .collect();
    let code_hashes: Vec<_> = codes.keys().copied().collect();
    let mut accounts: Vec<(u64, StateAccount)> = (0..300u64)
        .map(|seed| {
            let mut account = StateAccount::with_balance(U256::from(seed * 7 + 1));
            if seed % 10 == 0 {
                account.storage_root = roots[(seed / 10) as usize % roots.len()];
                account.code_hash = code_hashes[(seed / 10) as usize % code_hashes.len()];
            }
            (seed, account)
        })
        .collect();
    let a = from_accounts(&accounts, &storage, &codes);
    for (seed, account) in accounts.iter_mut().filter(|(seed, _)| seed % 60 == 7) {
        account.balance = U256::from(*seed * 1_000);
    }
    for seed in 1_000..1_003u64 {
        accounts.push((
            seed,
            StateAccount { code_hash: EMPTY_CODE_HASH, ..StateAccount::with_balance(U256::one()) },
        ));
    }
    let b = from_accounts(&accounts, &storage, &codes);
    (a, b)
}

fn union_source(a: &State, b: &State) -> Arc<dyn KeyValueStore> {
    let store = a.store();
    b.write_into(store.as_ref());
    store
}

fn config() -> DownloaderConfig {
    // Small batches, so a sync stopped midway has committed part of its state.
    DownloaderConfig { commit_threshold: 4 << 10, ..DownloaderConfig::default() }
}

#[tokio::test(start_paused = true)]
async fn after_a_completes_b_fetches_only_what_a_lacks() {
    let (a, b) = states();
    let only_b: BTreeSet<_> = b.keys().difference(&a.keys()).copied().collect();
    assert!(!only_b.is_empty() && only_b.len() * 5 < b.entries(), "B shares most of A");
    let source = union_source(&a, &b);
    let (peers, inbox, _) = serve(&source, &honest(2, LATENCY));
    let local: Arc<dyn KeyValueStore> = Arc::new(MemoryStore::new());
    let downloader = Downloader::new(local.clone(), peers, inbox, config());
    let report_a = downloader.sync_state(a.root).wait().await.expect("A");
    assert_eq!(report_a.processed as usize, a.entries());
    let report_b = downloader.sync_state(b.root).wait().await.expect("B");
    assert_eq!(report_b.processed as usize, only_b.len(), "B fetched exactly the nodes A lacks");
    assert_eq!((report_b.nodes + report_b.codes) as usize, only_b.len());
    assert_eq!(report_b.resumed.map(|c| c.entries()), Some(a.entries() as u64));
    let union: BTreeSet<_> = a.keys().union(&b.keys()).copied().collect();
    assert_eq!(stored_keys(local.as_ref()), union);
    assert_equals_source_subset(local.as_ref(), &b);
}

/// The pivot moves while A runs: A ends superseded, B completes, and across both syncs nothing is
/// fetched twice beyond A's in-flight window (what A had verified but not yet committed).
#[tokio::test(start_paused = true)]
async fn pivot_move_mid_sync_reuses_what_a_committed() {
    let (a, b) = states();
    let source = union_source(&a, &b);
    let (peers, inbox, _) = serve(&source, &[("one", Behaviour::honest().with_latency(LATENCY))]);
    let local: Arc<dyn KeyValueStore> = Arc::new(MemoryStore::new());
    let downloader = Downloader::new(local.clone(), peers, inbox, config());
    let sync_a = downloader.sync_state(a.root);
    while sync_a.progress().processed < (a.entries() / 2) as u64 {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let sync_b = downloader.sync_state(b.root);
    sync_a.finished().await;
    let progress_a = sync_a.progress();
    match sync_a.wait().await {
        Err(DownloadError::Superseded { root, by }) => assert_eq!((root, by), (a.root, b.root)),
        other => panic!("A should be superseded, got {other:?}"),
    }
    let report_b = sync_b.wait().await.expect("B completes");
    assert_equals_source_subset(local.as_ref(), &b);

    let union: BTreeSet<_> = a.keys().union(&b.keys()).copied().collect();
    let stored = stored_keys(local.as_ref());
    assert!(stored.is_subset(&union), "nothing outside A and B stored");
    let window = progress_a.processed - progress_a.committed;
    assert!(progress_a.committed > 0, "A committed part of its state before the switch");
    assert!(
        progress_a.processed + report_b.processed <= union.len() as u64 + window,
        "fetched {} + {} for {} distinct entries, window {window}",
        progress_a.processed,
        report_b.processed,
        union.len()
    );
    let only_b = b.keys().difference(&a.keys()).count() as u64;
    assert!(report_b.processed < b.entries() as u64, "B reused A's commits");
    assert!(report_b.processed <= only_b + (a.entries() as u64 - progress_a.committed));
}

/// Cancel midway, then a new downloader on the same store completes, fetching nothing committed.
#[tokio::test(start_paused = true)]
async fn cancel_then_resume_fetches_nothing_already_committed() {
    let (a, _) = states();
    let source = a.store();
    let local: Arc<dyn KeyValueStore> = Arc::new(MemoryStore::new());
    {
        let (peers, inbox, _) = serve(&source, &[("one", Behaviour::honest().with_latency(LATENCY))]);
        let downloader = Downloader::new(local.clone(), peers, inbox, config());
        let sync = downloader.sync_state(a.root);
        while sync.progress().processed < (a.entries() / 2) as u64 {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        sync.cancel();
        sync.cancel(); // idempotent
        let result = sync.wait().await;
        assert!(matches!(result, Err(DownloadError::Cancelled { .. })), "{result:?}");
    }
    let checkpoint = Checkpoint::read(local.as_ref()).expect("read").expect("a checkpoint was written");
    let committed = stored_keys(local.as_ref()).len() as u64;
    assert_eq!(checkpoint.entries(), committed, "the checkpoint counts exactly what is stored");
    assert!(committed > 0 && committed < a.entries() as u64);
    assert!(!checkpoint.complete);

    let (peers, inbox, _) = serve(&source, &honest(2, LATENCY));
    let downloader = Downloader::new(local.clone(), peers, inbox, config());
    let report = downloader.sync_state(a.root).wait().await.expect("resumed sync");
    assert_eq!(report.processed, a.entries() as u64 - committed, "fetched only what was not committed");
    assert_eq!(report.resumed, Some(checkpoint));
    assert_equals_source(local.as_ref(), &a);
    let done = Checkpoint::read(local.as_ref()).expect("read").expect("checkpoint");
    assert!(done.complete);
    assert_eq!(done.entries(), a.entries() as u64);
}

/// B complete in the store, and a walk of it finds nothing missing.
fn assert_equals_source_subset(store: &dyn KeyValueStore, state: &State) {
    let stored = stored_keys(store);
    assert!(state.keys().is_subset(&stored), "entries of the state missing");
    let report = trie_sync::walk(store, state.root, &mut trie_sync::AccountLeafCallback, 8).expect("walk");
    assert!(report.is_complete(), "{:?}", report.missing);
}
