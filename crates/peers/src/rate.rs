//! Throughput and round-trip estimation, after go-ethereum's `p2p/msgrate`.
//!
//! Each peer has a [`PeerRate`]: items per second (an exponentially weighted moving average, each
//! measurement weighing [`RateConfig::measurement_impact`]) and a round-trip EWMA. The capacity handed
//! to a peer is its items/s times the set's target round trip, slightly overestimated so it can grow,
//! clamped to `[1, max_capacity]`. The set keeps a [`RoundTripEstimator`]: a target round trip pulled
//! periodically towards a low quantile of the peers' round trips, and a confidence in it that grows
//! with every tuning and shrinks when a peer joins; the request timeout is the round trip scaled up
//! and divided by the confidence, capped.
//!
//! Everything here is pure arithmetic on explicit durations and instants, so it is tested without
//! clocks.

use std::time::{Duration, Instant};

use crate::MAX_HASHES_PER_REQUEST;

/// The tuning of throughput and round-trip estimation. The defaults are go-ethereum's.
#[derive(Debug, Clone, PartialEq)]
pub struct RateConfig {
    /// Weight of one measurement in a peer's averages: closer to 0 reacts slower to real changes but
    /// shrugs off hiccups (0.1 served Ethereum well).
    pub measurement_impact: f64,
    /// Factor by which capacity overshoots the measured throughput, so that a peer is sometimes asked
    /// for a little more than it has shown it can do and does not lock into a low value.
    pub capacity_overestimation: f64,
    /// Lowest round trip targeted: each request costs two latencies plus lookups, so a target must leave
    /// room for meaningful work.
    pub rtt_min_estimate: Duration,
    /// Highest round trip targeted (and the starting estimate): covers the worst links without letting
    /// one stall the pipeline for long.
    pub rtt_max_estimate: Duration,
    /// Factor applied to the estimated round trip to get the target: many round trips are workable, and
    /// smaller requests make a steadier stream, so aim a little below the estimate.
    pub rtt_pushdown_factor: f64,
    /// Floor of the confidence, so that churn cannot blow the timeout up without bound.
    pub rtt_min_confidence: f64,
    /// Multiplier from round trip to request timeout: slack for a loaded peer, while still enforcing
    /// behaviour close to the median peer's.
    pub ttl_scaling: f64,
    /// Ceiling of the request timeout, whatever the estimates say.
    pub ttl_limit: Duration,
    /// Number of peers from which a new peer no longer lowers the confidence: with this many measured,
    /// one more does not change the picture.
    pub tuning_confidence_cap: usize,
    /// Weight of a new quantile measurement when the target round trip is re-tuned, to keep it from
    /// jumping around.
    pub tuning_impact: f64,
    /// Largest capacity handed out: a request may not carry more hashes than the protocol allows.
    pub max_capacity: usize,
}

impl Default for RateConfig {
    fn default() -> Self {
        Self {
            measurement_impact: 0.1,
            capacity_overestimation: 1.01,
            rtt_min_estimate: Duration::from_secs(2),
            rtt_max_estimate: Duration::from_secs(20),
            rtt_pushdown_factor: 0.9,
            rtt_min_confidence: 0.1,
            ttl_scaling: 3.0,
            ttl_limit: Duration::from_secs(60),
            tuning_confidence_cap: 10,
            tuning_impact: 0.25,
            max_capacity: MAX_HASHES_PER_REQUEST,
        }
    }
}

/// One peer's measured throughput and round trip.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct PeerRate {
    /// Items delivered per second (EWMA). Items rather than bytes: serving costs mostly one lookup per
    /// item, whatever its size.
    pub(crate) items_per_sec: f64,
    /// How long the peer takes to answer (EWMA); only meaningful to compare peers, since requests are
    /// sized to a common target.
    pub(crate) roundtrip: Duration,
}

impl PeerRate {
    /// A peer starting from the given estimates (the set's mean throughput and quantile round trip, so
    /// a newcomer is neither favoured nor an outlier).
    pub(crate) fn new(items_per_sec: f64, roundtrip: Duration) -> Self {
        Self { items_per_sec, roundtrip }
    }

    /// How many items to ask the peer for so that it answers in about `target_rtt`.
    pub(crate) fn capacity(&self, target_rtt: Duration, config: &RateConfig) -> usize {
        let throughput = self.items_per_sec * target_rtt.as_secs_f64();
        // +1 so that a tiny throughput still rounds up past the overestimation.
        let capacity = (1.0 + config.capacity_overestimation * throughput).ceil();
        // `as` saturates (and maps NaN to 0), the clamp does the rest.
        (capacity as usize).clamp(1, config.max_capacity.max(1))
    }

    /// Folds in one request's outcome: `delivered` items after `elapsed`.
    ///
    /// Nothing delivered (a timeout, or a peer without the data) slashes the throughput to zero, as
    /// go-ethereum does: the peer's next requests are of one item, and its capacity grows back from
    /// there as it delivers. The round trip is not updated then, since no answer was timed.
    pub(crate) fn update(&mut self, delivered: usize, elapsed: Duration, config: &RateConfig) {
        if delivered == 0 {
            self.items_per_sec = 0.0;
            return;
        }
        let elapsed = elapsed.max(Duration::from_nanos(1));
        let measured = delivered as f64 / elapsed.as_secs_f64();
        let impact = config.measurement_impact;
        self.items_per_sec = (1.0 - impact) * self.items_per_sec + impact * measured;
        self.roundtrip = Duration::from_secs_f64(
            (1.0 - impact) * self.roundtrip.as_secs_f64() + impact * elapsed.as_secs_f64(),
        );
    }
}

/// The set-wide round-trip target and request timeout.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct RoundTripEstimator {
    /// Best guess of a stable round trip across the peers; re-tuned at most once per its own length so
    /// that hiccups and peer churn do not make it jump.
    roundtrip: Duration,
    /// How sure we are of `roundtrip`, in `[rtt_min_confidence, 1]`: grows halfway to 1 at each tuning,
    /// shrinks when peers join; the timeout is divided by it.
    confidence: f64,
    /// When `roundtrip` was last tuned.
    tuned: Instant,
}

impl RoundTripEstimator {
    /// An estimator starting at the maximal round trip, fully confident (no peer yet to doubt).
    pub(crate) fn new(now: Instant, config: &RateConfig) -> Self {
        Self { roundtrip: config.rtt_max_estimate, confidence: 1.0, tuned: now }
    }

    /// The round trip to size requests for: the estimate, pushed down.
    pub(crate) fn target_rtt(&self, config: &RateConfig) -> Duration {
        self.roundtrip.mul_f64(config.rtt_pushdown_factor)
    }

    /// How long to wait for an answer before giving up on it.
    pub(crate) fn request_timeout(&self, config: &RateConfig) -> Duration {
        let scaled = config.ttl_scaling * self.roundtrip.as_secs_f64() / self.confidence;
        if !scaled.is_finite() || scaled >= config.ttl_limit.as_secs_f64() {
            return config.ttl_limit;
        }
        Duration::from_secs_f64(scaled)
    }

    /// The current confidence.
    pub(crate) fn confidence(&self) -> f64 {
        self.confidence
    }

    /// Re-tunes the target from the peers' round trips if a whole target round trip has passed since the
    /// last tuning; otherwise does nothing. Returns whether it tuned.
    pub(crate) fn tune(
        &mut self,
        now: Instant,
        peer_rtts: impl IntoIterator<Item = Duration>,
        config: &RateConfig,
    ) -> bool {
        if now.saturating_duration_since(self.tuned) <= self.roundtrip {
            return false;
        }
        let quantile = quantile_roundtrip(peer_rtts, config);
        let impact = config.tuning_impact;
        self.roundtrip = Duration::from_secs_f64(
            (1.0 - impact) * self.roundtrip.as_secs_f64() + impact * quantile.as_secs_f64(),
        );
        self.confidence += (1.0 - self.confidence) / 2.0;
        self.tuned = now;
        true
    }

    /// Lowers the confidence because a peer joined (`peers` is the count including it), so that fresh
    /// measurements weigh more; with a single peer the confidence is 1, and from
    /// [`RateConfig::tuning_confidence_cap`] peers on it is left alone.
    pub(crate) fn detune(&mut self, peers: usize, config: &RateConfig) {
        if peers <= 1 {
            self.confidence = 1.0;
            return;
        }
        if peers >= config.tuning_confidence_cap {
            return;
        }
        let peers = peers as f64;
        self.confidence = (self.confidence * (peers - 1.0) / peers).max(config.rtt_min_confidence);
    }
}

/// The round trip a new peer starts with and the target is tuned towards: not the median but the
/// `⌊√n⌋`-th smallest of the `n` peers' round trips (go-ethereum's choice, biased towards the faster
/// peers), clamped to `[rtt_min_estimate, rtt_max_estimate]`; the maximum when there is no peer.
pub(crate) fn quantile_roundtrip(
    peer_rtts: impl IntoIterator<Item = Duration>,
    config: &RateConfig,
) -> Duration {
    let mut rtts: Vec<Duration> = peer_rtts.into_iter().collect();
    rtts.sort_unstable();
    let picked = match rtts.len() {
        0 => config.rtt_max_estimate,
        1 => rtts[0],
        n => rtts[((n as f64).sqrt() as usize).min(n - 1)],
    };
    picked.clamp(config.rtt_min_estimate, config.rtt_max_estimate.max(config.rtt_min_estimate))
}

#[cfg(test)]
mod tests {
    use super::*;

    const SEC: Duration = Duration::from_secs(1);

    fn config() -> RateConfig {
        RateConfig::default()
    }

    #[test]
    fn a_peer_without_measurements_gets_one_item() {
        let rate = PeerRate::new(0.0, 20 * SEC);
        assert_eq!(rate.capacity(18 * SEC, &config()), 1);
    }

    #[test]
    fn throughput_is_an_ewma_and_capacity_overestimates_it() {
        let mut rate = PeerRate::new(0.0, 20 * SEC);
        rate.update(100, SEC, &config());
        // 0.9 * 0 + 0.1 * 100 items/s.
        assert!((rate.items_per_sec - 10.0).abs() < 1e-9);
        // ceil(1 + 1.01 * 10 * 2) = ceil(21.2) = 22.
        assert_eq!(rate.capacity(2 * SEC, &config()), 22);
        rate.update(100, SEC, &config());
        assert!((rate.items_per_sec - 19.0).abs() < 1e-9);
        // Round trip: 0.9 * 20s + 0.1 * 1s, then again.
        assert_eq!(rate.roundtrip, Duration::from_secs_f64(0.9 * (0.9 * 20.0 + 0.1) + 0.1));
    }

    #[test]
    fn capacity_is_clamped_to_the_request_limit() {
        let mut rate = PeerRate::new(0.0, SEC);
        rate.update(384, Duration::ZERO, &config());
        assert_eq!(rate.capacity(2 * SEC, &config()), MAX_HASHES_PER_REQUEST);
        let nan = PeerRate::new(f64::NAN, SEC);
        assert_eq!(nan.capacity(2 * SEC, &config()), 1);
    }

    #[test]
    fn nothing_delivered_slashes_throughput_but_keeps_roundtrip() {
        let mut rate = PeerRate::new(150.0, 3 * SEC);
        // ceil(1 + 1.01 * 150 * 2) = 304.
        assert_eq!(rate.capacity(2 * SEC, &config()), 304);
        rate.update(0, 60 * SEC, &config());
        assert_eq!(rate.items_per_sec, 0.0);
        assert_eq!(rate.roundtrip, 3 * SEC);
        assert_eq!(rate.capacity(2 * SEC, &config()), 1);
        // ...and grows back as the peer delivers.
        rate.update(1, Duration::from_millis(10), &config());
        assert_eq!(rate.capacity(2 * SEC, &config()), 22);
    }

    #[test]
    fn quantile_is_the_sqrt_n_th_smallest_clamped() {
        let c = config();
        assert_eq!(quantile_roundtrip([], &c), 20 * SEC);
        assert_eq!(quantile_roundtrip([5 * SEC], &c), 5 * SEC);
        assert_eq!(quantile_roundtrip([SEC / 2], &c), 2 * SEC);
        assert_eq!(quantile_roundtrip([60 * SEC], &c), 20 * SEC);
        // n = 4: index 2 of [3, 4, 7, 9].
        assert_eq!(quantile_roundtrip([9 * SEC, 3 * SEC, 7 * SEC, 4 * SEC], &c), 7 * SEC);
        // n = 9: index 3.
        let rtts = (1..=9).map(|s| (s + 2) * SEC);
        assert_eq!(quantile_roundtrip(rtts, &c), 6 * SEC);
    }

    #[test]
    fn target_and_timeout_start_from_the_maximum() {
        let c = config();
        let est = RoundTripEstimator::new(Instant::now(), &c);
        assert_eq!(est.target_rtt(&c), 18 * SEC);
        // 3 * 20s / 1 = 60s, the limit.
        assert_eq!(est.request_timeout(&c), 60 * SEC);
    }

    #[test]
    fn tuning_waits_one_roundtrip_then_moves_a_quarter_towards_the_quantile() {
        let c = config();
        let t0 = Instant::now();
        let mut est = RoundTripEstimator::new(t0, &c);
        est.detune(2, &c);
        assert_eq!(est.confidence(), 0.5);
        assert!(!est.tune(t0 + 20 * SEC, [4 * SEC, 4 * SEC], &c));
        assert!(est.tune(t0 + 21 * SEC, [4 * SEC, 4 * SEC], &c));
        // 0.75 * 20 + 0.25 * 4 = 16s; confidence 0.5 -> 0.75.
        assert_eq!(est.target_rtt(&c), (16 * SEC).mul_f64(0.9));
        assert_eq!(est.confidence(), 0.75);
        assert_eq!(est.request_timeout(&c), 60 * SEC);
        // Many tunings later the estimate converges to the quantile and confidence to 1.
        let mut now = t0 + 21 * SEC;
        for _ in 0..60 {
            now += 21 * SEC;
            est.tune(now, [4 * SEC, 4 * SEC], &c);
        }
        assert!((est.roundtrip.as_secs_f64() - 4.0).abs() < 1e-3);
        assert!((est.request_timeout(&c).as_secs_f64() - 12.0).abs() < 1e-2);
    }

    #[test]
    fn detune_lowers_confidence_per_join_within_bounds() {
        let c = config();
        let mut est = RoundTripEstimator::new(Instant::now(), &c);
        est.detune(1, &c);
        assert_eq!(est.confidence(), 1.0);
        est.detune(2, &c);
        est.detune(3, &c);
        // 1 * 1/2 * 2/3
        assert!((est.confidence() - 1.0 / 3.0).abs() < 1e-12);
        for peers in 4..10 {
            est.detune(peers, &c);
        }
        assert!((est.confidence() - 1.0 / 9.0).abs() < 1e-12);
        est.detune(10, &c);
        assert!((est.confidence() - 1.0 / 9.0).abs() < 1e-12, "no detuning from the cap on");
        est.detune(2, &c);
        assert_eq!(est.confidence(), c.rtt_min_confidence);
        // With low confidence the timeout hits the limit.
        assert_eq!(est.request_timeout(&c), 60 * SEC);
    }
}
