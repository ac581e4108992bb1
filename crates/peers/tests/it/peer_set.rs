//! The peer set: membership notices, idle peers and capacities.

use std::sync::Arc;
use std::time::Duration;

use peers::{
    peer_events, Capabilities, InProcessPeer, Peer, PeerError, PeerId, PeerNotice, PeerSet, PeerSetConfig,
    RequestKind,
};

use crate::fixtures::*;

fn peer(name: &str) -> Arc<InProcessPeer> {
    let (events, _inbox) = peer_events(1);
    InProcessPeer::new(name, store(0), events)
}

/// One node-data request of `name`'s, answered with `delivered` items after `elapsed`.
fn measure(set: &PeerSet, name: &str, delivered: usize, elapsed: Duration) {
    set.lease(&name.into(), RequestKind::NodeData).expect("idle").release(delivered, elapsed);
}

#[tokio::test]
async fn joins_and_drops_are_notified() {
    let set = PeerSet::default();
    let mut joins = set.subscribe_joins();
    let mut drops = set.subscribe_drops();
    set.register(peer("a")).unwrap();
    set.register(peer("b")).unwrap();
    let error = set.register(peer("a")).unwrap_err();
    assert!(matches!(&error, PeerError::AlreadyRegistered { peer } if peer.as_str() == "a"));
    assert_eq!(set.len(), 2);
    assert_eq!(set.ids(), vec![PeerId::from("a"), PeerId::from("b")]);
    assert_eq!(set.get(&"b".into()).unwrap().id().as_str(), "b");

    assert!(set.unregister(&"a".into()).is_some());
    assert!(set.unregister(&"a".into()).is_none(), "a second unregister is a no-op");
    assert_eq!(set.len(), 1);
    assert!(set.get(&"a".into()).is_none());

    assert_eq!(joins.recv().await, Some(PeerNotice::Peer("a".into())));
    assert_eq!(joins.recv().await, Some(PeerNotice::Peer("b".into())));
    assert_eq!(joins.try_recv(), None, "a failed register is not a join");
    assert_eq!(drops.recv().await, Some(PeerNotice::Peer("a".into())));
    assert_eq!(drops.try_recv(), None);

    drop(set);
    assert_eq!(joins.recv().await, None, "the subscription ends with the set");
}

#[tokio::test]
async fn a_slow_subscriber_does_not_block_the_set_and_learns_what_it_missed() {
    let set = PeerSet::new(PeerSetConfig { notification_buffer: 4, ..PeerSetConfig::default() });
    let mut joins = set.subscribe_joins();
    let _never_read = set.subscribe_drops();
    for i in 0..100 {
        set.register(peer(&format!("p{i:03}"))).unwrap();
    }
    for i in 0..100 {
        set.unregister(&format!("p{i:03}").into()).unwrap();
    }
    assert!(set.is_empty());
    // 96 notices were lost; the 4 newest are still there.
    assert_eq!(joins.recv().await, Some(PeerNotice::Missed { count: 96 }));
    for i in 96..100 {
        assert_eq!(joins.recv().await, Some(PeerNotice::Peer(format!("p{i:03}").into())));
    }
    assert_eq!(joins.try_recv(), None);
}

#[tokio::test(start_paused = true)]
async fn idle_peers_are_sorted_by_capacity_and_busy_ones_excluded() {
    let set = PeerSet::default();
    for name in ["fast", "slow", "medium", "fresh"] {
        set.register(peer(name)).unwrap();
    }
    // Every peer starts at the set's mean throughput: nothing measured yet, so one item each,
    // in id order.
    let idle = set.idle_peers(RequestKind::NodeData);
    let order: Vec<_> = idle.iter().map(|p| (p.peer.id().to_string(), p.capacity)).collect();
    assert_eq!(
        order,
        [("fast", 1), ("fresh", 1), ("medium", 1), ("slow", 1)].map(|(n, c)| (n.to_string(), c))
    );

    for (name, delivered) in [("fast", 300), ("medium", 100), ("slow", 10)] {
        measure(&set, name, delivered, Duration::from_secs(1));
    }
    let target = set.target_rtt();
    assert_eq!(target, Duration::from_secs(18), "no tuning yet: 0.9 x 20 s");
    let idle = set.idle_peers(RequestKind::NodeData);
    let names: Vec<_> = idle.iter().map(|p| p.peer.id().to_string()).collect();
    assert_eq!(names, ["fast", "medium", "slow", "fresh"]);
    let capacities: Vec<_> = idle.iter().map(|p| p.capacity).collect();
    // fast: 30 items/s x 18 s overestimated = 547 -> clamped to 384; medium: ceil(1 + 1.01 x 10 x 18)
    // = 183; slow: ceil(1 + 1.01 x 1 x 18) = 20; fresh: 1.
    assert_eq!(capacities, [384, 183, 20, 1]);

    let fast = set.lease(&"fast".into(), RequestKind::NodeData).expect("idle");
    let _slow = set.lease(&"slow".into(), RequestKind::NodeData).expect("idle");
    assert!(set.lease(&"fast".into(), RequestKind::NodeData).is_none(), "leased once at a time");
    let names: Vec<_> =
        set.idle_peers(RequestKind::NodeData).iter().map(|p| p.peer.id().to_string()).collect();
    assert_eq!(names, ["medium", "fresh"]);
    assert!(!set.stats(&"fast".into(), RequestKind::NodeData).unwrap().idle);

    // A timeout (nothing delivered) makes the peer idle again with the minimum capacity.
    fast.release_timed_out(set.request_timeout());
    let idle = set.idle_peers(RequestKind::NodeData);
    let fast = idle.iter().find(|p| p.peer.id().as_str() == "fast").unwrap();
    assert_eq!(fast.capacity, 1);
    // Unknown peers cannot be leased.
    assert!(set.lease(&"nobody".into(), RequestKind::NodeData).is_none());
}

#[tokio::test(start_paused = true)]
async fn a_newcomer_starts_from_the_mean_throughput() {
    let set = PeerSet::default();
    set.register(peer("a")).unwrap();
    set.register(peer("b")).unwrap();
    measure(&set, "a", 100, Duration::from_secs(1)); // 10 items/s
    measure(&set, "b", 300, Duration::from_secs(1)); // 30 items/s
    set.register(peer("c")).unwrap();
    let stats = set.stats(&"c".into(), RequestKind::NodeData).unwrap();
    assert!((stats.items_per_sec - 20.0).abs() < 1e-9);
    assert!(stats.idle);
}

#[tokio::test(start_paused = true)]
async fn target_rtt_and_timeout_tune_towards_measured_round_trips() {
    let set = PeerSet::default();
    set.register(peer("a")).unwrap();
    assert_eq!(set.target_rtt(), Duration::from_secs(18));
    assert_eq!(set.request_timeout(), Duration::from_secs(60));
    // The peer answers in 2 s, many times, while (virtual) time passes.
    for _ in 0..200 {
        let lease = set.lease(&"a".into(), RequestKind::NodeData).expect("idle");
        tokio::time::advance(Duration::from_secs(2)).await;
        lease.release(50, Duration::from_secs(2));
        let _ = set.target_rtt();
    }
    let target = set.target_rtt();
    assert!(target < Duration::from_secs(3), "target {target:?} converges towards 0.9 x 2 s");
    let timeout = set.request_timeout();
    assert!(timeout < Duration::from_secs(8), "timeout {timeout:?} converges towards 3 x 2 s");
    assert!(timeout >= Duration::from_secs(6));
}

#[tokio::test(start_paused = true)]
async fn a_lease_is_released_exactly_once_however_it_ends() {
    let set = PeerSet::default();
    set.register(peer("a")).unwrap();
    let idle = |set: &PeerSet| set.stats(&"a".into(), RequestKind::NodeData).unwrap().idle;

    // Released with a measurement.
    let lease = set.lease(&"a".into(), RequestKind::NodeData).expect("idle");
    assert!(!idle(&set));
    lease.release(100, Duration::from_secs(1));
    assert!(idle(&set));
    let rate = set.stats(&"a".into(), RequestKind::NodeData).unwrap().items_per_sec;
    assert!((rate - 10.0).abs() < 1e-9, "measured: {rate}");

    // Dropped: idle again, nothing measured.
    let lease = set.lease(&"a".into(), RequestKind::NodeData).expect("idle");
    assert_eq!(lease.capacity(), 183, "ceil(1 + 1.01 x 10 items/s x 18 s target)");
    drop(lease);
    assert!(idle(&set));
    assert_eq!(set.stats(&"a".into(), RequestKind::NodeData).unwrap().items_per_sec, rate);

    // A lease outliving its peer's registration releases nothing of the next connection under the
    // same id.
    let old = set.lease(&"a".into(), RequestKind::NodeData).expect("idle");
    set.unregister(&"a".into());
    set.register(peer("a")).unwrap();
    let new = set.lease(&"a".into(), RequestKind::NodeData).expect("the new connection is idle");
    drop(old);
    assert!(!idle(&set), "the new connection's lease still holds it");
    assert!(set.lease(&"a".into(), RequestKind::NodeData).is_none());
    drop(new);
    assert!(idle(&set));
}

#[tokio::test(start_paused = true)]
async fn leases_and_rates_are_per_kind_and_only_for_kinds_served() {
    let set = PeerSet::default();
    set.register(peer("a")).unwrap();
    assert_eq!(set.capabilities(&"a".into()), Some(Capabilities::NODE_DATA));
    assert_eq!(peer("x").capabilities(), Capabilities::NODE_DATA);
    // The in-process peer serves node data only: no snap lease, no snap idle list.
    assert!(set.lease(&"a".into(), RequestKind::AccountRange).is_none());
    assert!(set.idle_peers(RequestKind::ByteCodes).is_empty());
    let _busy = set.lease(&"a".into(), RequestKind::NodeData).expect("idle");
    assert!(set.idle_peers(RequestKind::NodeData).is_empty());
    let other_kind = set.stats(&"a".into(), RequestKind::TrieNodes).unwrap();
    assert!(other_kind.idle, "busy with node data only");
    // Request ids are unique across everyone asking the set's peers.
    let (first, second) = (set.next_request_id(), set.clone().next_request_id());
    assert!(second > first);
}

#[tokio::test(start_paused = true)]
async fn the_hedge_delay_is_a_high_percentile_of_recent_round_trips() {
    let set = PeerSet::default();
    set.register(peer("a")).unwrap();
    set.register(peer("b")).unwrap();
    let initial = set.hedge_delay(RequestKind::NodeData);
    assert_eq!(initial, Duration::from_millis(500), "nothing measured yet");
    // 19 answers in 10 ms and one in 200 ms: the 95th percentile is 10 ms.
    for i in 0..20 {
        let elapsed = if i == 7 { Duration::from_millis(200) } else { Duration::from_millis(10) };
        measure(&set, if i % 2 == 0 { "a" } else { "b" }, 10, elapsed);
    }
    assert_eq!(set.hedge_delay(RequestKind::NodeData), Duration::from_millis(10));
    // Timeouts and empty answers say nothing of round trips; other kinds keep their own window.
    for _ in 0..20 {
        measure(&set, "a", 0, Duration::from_secs(60));
    }
    assert_eq!(set.hedge_delay(RequestKind::NodeData), Duration::from_millis(10));
    assert_eq!(set.hedge_delay(RequestKind::TrieNodes), initial);
    // A set that turned slow moves it: 108 of the 128 latest round trips took 300 ms.
    for _ in 0..108 {
        measure(&set, "b", 10, Duration::from_millis(300));
    }
    assert_eq!(set.hedge_delay(RequestKind::NodeData), Duration::from_millis(300));
}
