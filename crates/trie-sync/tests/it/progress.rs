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

/// How far the shown gauge may be from the share of entries done: the bar.
const TOLERANCE: f64 = 0.10;

/// The gauge is held to [`TOLERANCE`] at three sizes (a test each, so they run side by side).
/// Measured on seed 31: 0.065 at 16,000 accounts, 0.045 at 30,000, 0.025 at 60,000; over seeds 1
/// to 20 (see [`gauge_over_seeds`]) at most 0.087, 0.075 and 0.033.
fn tracks_the_share_of_work_done(accounts: usize, in_flight: usize) {
    let state = state(accounts);
    let store = MemoryStore::new();
    let watched = drive_and_watch(&state, &store, in_flight, 2.0, TOLERANCE);
    assert!(watched.complete);
    let first = watched.first_estimate_at.expect("an estimate before the end");
    eprintln!(
        "progress: {accounts} accounts, {in_flight} in flight: worst deviation {:.3}, first estimate at {first:.3}",
        watched.worst
    );
    assert!(first <= FIRST_ESTIMATE_BY, "the first estimate came at {first:.3} of the entries");
}

/// The share of the entries done by the first estimate, at most: the gauge waits until it has seen
/// every level of the tries (8 nodes of each wide one), a round or two of the in-flight window per
/// level.
const FIRST_ESTIMATE_BY: f64 = 0.2;

fn state(accounts: usize) -> SyntheticState {
    SyntheticState::generate(&SyntheticConfig::new(31, accounts)).unwrap()
}

#[test]
fn the_gauge_tracks_the_share_of_work_done_at_16_000_accounts() {
    tracks_the_share_of_work_done(16_000, 2_048);
}

#[test]
fn the_gauge_tracks_the_share_of_work_done_at_30_000_accounts() {
    tracks_the_share_of_work_done(30_000, 4_096);
}

#[test]
fn the_gauge_tracks_the_share_of_work_done_at_60_000_accounts() {
    tracks_the_share_of_work_done(60_000, 8_192);
}

/// A small state is led by its largest storage tries: at 2,000 accounts the largest (1,000 slots,
/// about 1,350 nodes) is 9% of all the work, and where such lumps fall in the key space is not
/// foreseeable from what came before them. (A rough simulation of the generator's storage sizes,
/// outside this repository, put even a gauge told the generator's mean work per account more than
/// 0.10 off on about half of the seeds at this size, and on 3% at 8,000.) The gauge stays
/// monotonic and reads 100% exactly at the end; its distance from the share of entries done is
/// 0.111 on this seed, up to 0.32 over seeds 1 to 20 (mean 0.15), and is held here to what it is,
/// so that it does not grow.
#[test]
fn a_small_state_is_led_by_its_largest_storage_tries() {
    let watched = drive_and_watch(&state(2_000), &MemoryStore::new(), 256, 2.0, 0.12);
    assert!(watched.complete);
    eprintln!("progress: 2000 accounts, 256 in flight: worst deviation {:.3}", watched.worst);
}

/// The worst deviation over seeds 1 to 20 at six sizes, mean and max, for tuning the gauge (about
/// 2 minutes with `--release`): `cargo test --release -p trie-sync --test it gauge_over_seeds --
/// --ignored --nocapture`. Measured (mean / max): 2,000 accounts (256 in flight) 0.145 / 0.315,
/// 8,000 (1,024) 0.077 / 0.192, 16,000 (2,048) 0.052 / 0.087, 30,000 (4,096) 0.038 / 0.075, 60,000
/// (8,192) 0.023 / 0.033, 120,000 (8,192) 0.015 / 0.024. Before the gauge counted shared storage
/// tries and code apart: 0.150 / 0.282, 0.084 / 0.175, 0.069 / 0.114, (30,000 with 8,192 in flight)
/// 0.056 / 0.119, 0.052 / 0.075, 0.054 / 0.066 (at 60,000 and more it lagged the work done by 0.05
/// to 0.07 on every seed).
#[test]
#[ignore = "slow in a debug build; run by hand when tuning the gauge"]
fn gauge_over_seeds() {
    const SEEDS: u64 = 20;
    for (accounts, in_flight) in
        [(2_000, 256), (8_000, 1_024), (16_000, 2_048), (30_000, 4_096), (60_000, 8_192), (120_000, 8_192)]
    {
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
