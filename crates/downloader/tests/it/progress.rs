//! The progress gauge through a whole sync: never back, 100% exactly at completion, close to the
//! share of entries done, a resumed sync counting what the last one stored.

use std::sync::Arc;
use std::time::Duration;

use downloader::{Downloader, DownloaderConfig};
use kvdb::{KeyValueStore, MemoryStore, Namespace, WriteBatch};
use state_sync::PROGRESS_SHAPE_KEY;
use trie_sync::TrieSync;

use crate::fixtures::*;

/// Samples `share` every 250 ms (virtual; the sync estimates it at most every 200 ms) while `root` syncs into `local`; stops after `stop_at` of
/// the entries if below 1. Returns the samples: (share shown, share of entries done).
async fn watch(state: &State, local: &Arc<dyn KeyValueStore>, stop_at: f64) -> Vec<(f64, f64)> {
    let source = state.store();
    let (peers, inbox, _) = serve(&source, &honest(2, Duration::from_millis(500)));
    let downloader = Downloader::new(local.clone(), peers, inbox, DownloaderConfig::default());
    let handle = downloader.sync_state(state.root);
    let total = state.entries() as f64;
    let mut samples = Vec::new();
    loop {
        tokio::select! {
            _ = handle.finished() => break,
            _ = tokio::time::sleep(Duration::from_millis(250)) => {
                let progress = handle.progress();
                let done = (progress.processed + progress.resumed_from) as f64 / total;
                samples.push((progress.share, done));
                if done >= stop_at {
                    handle.cancel();
                }
            }
        }
    }
    let progress = handle.progress();
    let done = (progress.processed + progress.resumed_from) as f64 / total;
    samples.push((progress.share, done));
    let _ = handle.wait().await;
    samples
}

/// Checks the samples of one sync (never back; below 1.0 until the end, 1.0 exactly then) and
/// returns the worst distance between the gauge shown and the share of entries done, over the
/// samples with an estimate, and the share of entries done at the first of them.
fn check(samples: &[(f64, f64)], complete: bool) -> (f64, Option<f64>) {
    let mut worst = 0.0f64;
    let mut first_estimate_at = None;
    for pair in samples.windows(2) {
        assert!(pair[1].0 >= pair[0].0, "the gauge went back: {pair:?}");
    }
    for (index, &(shown, done)) in samples.iter().enumerate() {
        let last = index + 1 == samples.len();
        if last && complete {
            assert_eq!(shown, 1.0, "100% exactly at completion");
        } else {
            assert!(shown < 1.0, "100% before the end: {shown} at {done}");
        }
        if shown > 0.0 {
            worst = worst.max((shown - done).abs());
            first_estimate_at.get_or_insert(done);
        }
    }
    (worst, first_estimate_at)
}

/// How far the gauge may be from the share of entries done: the bar, at a size where it
/// holds for the scheduler's gauge over every seed tried (trie-sync's `progress` tests).
const TOLERANCE: f64 = 0.10;

/// Accounts of the states synced: about 90,000 entries. At a tenth of that, one storage trie can be
/// a tenth of the work, and no gauge foresees where it falls (trie-sync's `progress` tests).
const ACCOUNTS: usize = 16_000;

#[tokio::test(start_paused = true)]
async fn the_gauge_never_goes_back_and_reads_100_exactly_at_completion() {
    let state = synthetic(41, ACCOUNTS);
    let local: Arc<dyn KeyValueStore> = Arc::new(MemoryStore::new());
    let samples = watch(&state, &local, 2.0).await;
    assert!(samples.len() > 10, "{} samples", samples.len());
    let (worst, first) = check(&samples, true);
    let first = first.expect("an estimate");
    eprintln!("gauge: {ACCOUNTS} accounts, worst deviation {worst:.3}, first estimate at {first:.3}");
    // Measured 0.067.
    assert!(worst <= TOLERANCE, "worst deviation from the share of entries done: {worst:.3}");
    // The gauge waits until it has seen each level of the tries once: a round trip per level.
    assert!(first <= 0.25, "the first estimate came at {first:.3} of the entries");
}

/// Syncs `state` into a new store until half of it is done, then again to the end, `forget_shape`
/// deleting what the first run's gauge learnt before the second starts. Returns the second run's
/// samples.
async fn resumed_at_half(state: &State, forget_shape: bool) -> Vec<(f64, f64)> {
    let local: Arc<dyn KeyValueStore> = Arc::new(MemoryStore::new());
    let first = watch(state, &local, 0.5).await;
    check(&first, false);
    let shape = local.get(Namespace::Meta, PROGRESS_SHAPE_KEY).unwrap().expect("stored with the checkpoint");
    let mut scheduler = TrieSync::new(state.root, local.clone()).unwrap();
    assert!(scheduler.resume_progress(&shape), "a shape the scheduler takes");
    if forget_shape {
        let mut batch = WriteBatch::new();
        batch.delete(Namespace::Meta, PROGRESS_SHAPE_KEY.to_vec());
        local.write(batch).unwrap();
    }
    watch(state, &local, 2.0).await
}

#[tokio::test(start_paused = true)]
async fn a_resumed_sync_counts_what_the_last_one_committed() {
    let state = synthetic(42, ACCOUNTS);
    let second = resumed_at_half(&state, false).await;
    let (worst, first_at) = check(&second, true);
    eprintln!("gauge: resumed at half, worst deviation {worst:.3}, first estimate at {first_at:?}");
    let first_shown = second.iter().map(|(shown, _)| *shown).find(|shown| *shown > 0.0).expect("an estimate");
    assert!(first_shown > 0.2, "the resumed gauge starts from what was stored: {first_shown:.3}");
    // Measured 0.052 (over seeds 1 to 8: 0.020 to 0.088).
    assert!(worst <= TOLERANCE, "worst deviation from the share of entries done: {worst:.3}");
}

/// A resumed sync's scheduler sees only the part of the tries left, whose first storage tries are
/// those the interruption cut off mid-way (the big ones more likely): from that alone, on this
/// state, its gauge strays 0.109 from the share of entries done. Starting from the shape the last
/// run learnt (stored with each checkpoint), 0.045.
#[tokio::test(start_paused = true)]
async fn a_resumed_sync_starts_its_gauge_from_the_shape_the_last_one_learnt() {
    let state = synthetic(5, ACCOUNTS);
    let (with_shape, _) = check(&resumed_at_half(&state, false).await, true);
    let (without_shape, _) = check(&resumed_at_half(&state, true).await, true);
    eprintln!("gauge: resumed at half, worst deviation {with_shape:.3} with the last run's shape, {without_shape:.3} without");
    assert!(with_shape <= TOLERANCE, "worst deviation from the share of entries done: {with_shape:.3}");
    assert!(with_shape < without_shape, "{with_shape:.3} with the shape, {without_shape:.3} without");
}
