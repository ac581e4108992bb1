//! The progress gauge of a sync: the scheduler's estimate of the share of work done.

use kvdb::{KeyValueStore, MemoryStore, Namespace, WriteBatch};
use trie_sync::{AccountLeafCallback, SyntheticConfig, SyntheticState, TrieSync, VerifiedBlob};

/// What [`drive_and_watch`] saw of the gauge.
struct Watched {
    /// Whether the sync completed (rather than stopping at `stop_at`).
    complete: bool,
    /// The worst distance between the gauge shown and the share of entries done.
    worst: f64,
    /// The share of entries done when the gauge first gave an estimate.
    first_estimate_at: Option<f64>,
}

/// Drives a sync of `state` into `store` the way the network does: up to `in_flight` hashes out at
/// once, half of them delivered per round (the rest late), a commit per round. Stops once `stop_at`
/// of the entries are stored or at completion. Checks the gauge after every round: never going
/// back, below 1.0 until the end and 1.0 exactly then, and within `tolerance` of the share of
/// entries stored or delivered.
fn drive_and_watch(
    state: &SyntheticState,
    store: &MemoryStore,
    in_flight: usize,
    stop_at: f64,
    tolerance: f64,
) -> Watched {
    let total = (state.nodes.len() + state.codes.len()) as f64;
    let stored_before =
        (store.count(Namespace::TrieNodes).unwrap() + store.count(Namespace::Code).unwrap()) as f64;
    let mut sync = TrieSync::with_callback(state.root, store, AccountLeafCallback).unwrap();
    let (mut outstanding, mut delivered, mut last, mut worst) = (Vec::new(), 0usize, 0.0f64, 0.0f64);
    let mut first_estimate_at = None;
    loop {
        let fresh = sync.missing(in_flight.saturating_sub(outstanding.len()));
        outstanding.extend(fresh);
        if outstanding.is_empty() {
            break;
        }
        let take = outstanding.len().div_ceil(2);
        for hash in outstanding.drain(..take).collect::<Vec<_>>() {
            let blob = state.nodes.get(&hash).or_else(|| state.codes.get(&hash)).expect("in the state");
            sync.process(VerifiedBlob::new(blob.clone())).unwrap();
            delivered += 1;
        }
        let mut batch = WriteBatch::new();
        sync.commit(&mut batch);
        store.write(batch).unwrap();
        // What a display shows: the highest estimate so far (an early estimate can dip when a level
        // of the trie is first seen).
        let Some(estimate) = sync.progress(stored_before as u64) else { continue };
        let shown = estimate.max(last);
        let share = (stored_before + delivered as f64) / total;
        first_estimate_at.get_or_insert(share);
        last = shown;
        if sync.pending() > 0 {
            assert!(shown < 1.0, "100% before the end: {} pending", sync.pending());
        }
        worst = worst.max((shown - share).abs());
        assert!(
            (shown - share).abs() <= tolerance,
            "gauge {shown:.3} vs share of work done {share:.3} ({delivered} delivered)"
        );
        let stored =
            (store.count(Namespace::TrieNodes).unwrap() + store.count(Namespace::Code).unwrap()) as f64;
        if sync.pending() > 0 && stored / total >= stop_at {
            return Watched { complete: false, worst, first_estimate_at };
        }
    }
    assert_eq!(sync.pending(), 0);
    assert_eq!(sync.progress(0), Some(1.0), "100% exactly at completion");
    Watched { complete: true, worst, first_estimate_at }
}

/// How far the shown gauge may be from the share of entries done, per size: the worst measured over
/// a sync plus a little. Measured: 0.101 at 2,000 accounts, 0.118 at 8,000, 0.083 at 30,000 (resumed
/// syncs are tested through the downloader, whose sync caps the first estimates of a resumed run by
/// its checkpoint). The synthetic states' storage tries are heavy-tailed (the largest of 1,000
/// slots, about 1,350 nodes, 9% of all the work at 2,000 accounts), and where such lumps fall in the
/// key space is not foreseeable from what came before them: a gauge that knew exactly how much work
/// each part of the key space done so far held, and expected the same of the rest, would be off by
/// 0.131 at 2,000 accounts, 0.146 at 8,000 and 0.109 at 30,000 on these states. This one does a
/// little better by not expecting the largest storage trie again and by smoothing its estimated
/// total; over other seeds it is still off by more than 0.10 at 2,000 and 8,000 accounts (see
/// [`gauge_over_seeds`]). The bigger the state, the smaller each lump.
const TOLERANCE: [(usize, usize, f64); 3] = [(2_000, 256, 0.11), (8_000, 1_024, 0.13), (30_000, 8_192, 0.10)];

/// The share of the entries done by the first estimate, at most: the gauge waits until it has seen
/// every level of the tries once, a round or two of the in-flight window per level.
const FIRST_ESTIMATE_BY: f64 = 0.2;

fn state(accounts: usize) -> SyntheticState {
    SyntheticState::generate(&SyntheticConfig::new(31, accounts)).unwrap()
}

#[test]
fn the_gauge_tracks_the_share_of_work_done_at_three_sizes() {
    for (accounts, in_flight, tolerance) in TOLERANCE {
        let state = state(accounts);
        let store = MemoryStore::new();
        let watched = drive_and_watch(&state, &store, in_flight, 2.0, tolerance);
        assert!(watched.complete);
        let first = watched.first_estimate_at.expect("an estimate before the end");
        eprintln!(
            "progress: {accounts} accounts, {in_flight} in flight: worst deviation {:.3}, first estimate at {first:.3}",
            watched.worst
        );
        assert!(first <= FIRST_ESTIMATE_BY, "the first estimate came at {first:.3} of the entries");
    }
}

/// The worst deviation over seeds 1 to 20 at four sizes, mean and max, for tuning the gauge (about
/// 20 s with `--release`): `cargo test --release -p trie-sync --test it gauge_over_seeds --
/// --ignored --nocapture`. Measured: 2,000 accounts (256 in flight) 0.150 / 0.282, 3,000 (512)
/// 0.102 / 0.225, 8,000 (1,024) 0.084 / 0.175, 30,000 (8,192) 0.056 / 0.119.
#[test]
#[ignore = "slow in a debug build; run by hand when tuning the gauge"]
fn gauge_over_seeds() {
    const SEEDS: u64 = 20;
    for (accounts, in_flight) in [(2_000, 256), (3_000, 512), (8_000, 1_024), (30_000, 8_192)] {
        let (mut sum, mut max) = (0.0, 0.0f64);
        for seed in 1..=SEEDS {
            let state = SyntheticState::generate(&SyntheticConfig::new(seed, accounts)).unwrap();
            let watched = drive_and_watch(&state, &MemoryStore::new(), in_flight, 2.0, 1.0);
            sum += watched.worst;
            max = max.max(watched.worst);
        }
        eprintln!(
            "progress over {SEEDS} seeds: {accounts} accounts, {in_flight} in flight: worst deviation mean {:.3}, max {max:.3}",
            sum / SEEDS as f64
        );
    }
}
