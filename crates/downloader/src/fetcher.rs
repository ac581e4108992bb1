//! The state fetcher task: runs one sync at a time and tracks its requests (go-ethereum's
//! `stateFetcher`, `runStateSync` and `spindownStateSync`).

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use kvdb::{FilteredStore, KeyValueStore};
use peers::{PeerError, PeerEvent, PeerEventReceiver, PeerId, PeerSet};
use state_sync::{
    DropReason, DroppedBecause, Finished, Outcome, Request, RequestReceiver, StateSync, StateSyncError,
    StateSyncHandle, TrackerLink,
};
use tokio::sync::{mpsc, Notify};
use tokio::time::{Instant, MissedTickBehavior};
use tracing::{debug, error, info, trace, warn};

use crate::handle::Job;
use crate::stall::{Observed, StallDetector};
use crate::{DownloadError, DownloaderConfig, SyncReport};

/// Sends that may be failing at once before their tasks wait for room; send failures are rare.
const SEND_FAILURE_BUFFER: usize = 64;

/// What the [`Downloader`](crate::Downloader) handles share with the fetcher task.
#[derive(Debug, Default)]
pub(crate) struct FetcherShared {
    /// The sync to run next: the latest asked for (an older one still waiting is superseded).
    next: Mutex<Option<Arc<Job>>>,
    /// Woken when `next` is set or the downloader closes.
    wake: Notify,
    /// Every downloader handle is gone: finish up and stop.
    closed: AtomicBool,
}

impl FetcherShared {
    /// Queues `job` as the next sync, superseding one that was queued and not started.
    pub(crate) fn submit(&self, job: Arc<Job>) {
        let root = job.root;
        let previous = self.next.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).replace(job);
        if let Some(previous) = previous {
            previous.finish(Err(DownloadError::Superseded { root: previous.root, by: root }));
        }
        if self.is_closed() {
            self.drain_closed();
        }
        self.wake.notify_one();
    }

    fn take_next(&self) -> Option<TakenJob> {
        self.next.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).take().map(TakenJob)
    }

    pub(crate) fn close(&self) {
        self.closed.store(true, Ordering::SeqCst);
        self.wake.notify_one();
    }

    fn is_closed(&self) -> bool {
        self.closed.load(Ordering::SeqCst)
    }

    /// Fails a queued job once nobody will run it.
    fn drain_closed(&self) {
        if let Some(job) = self.take_next() {
            job.finish(Err(DownloadError::ShutDown));
        }
    }
}

/// A job the fetcher has taken out of the queue. If the fetcher stops before finishing it (a panic
/// unwinds through it, or its future is dropped), dropping this finishes the job with an error, so
/// its [`SyncHandle`](crate::SyncHandle) never waits forever. A job already finished is left as is.
#[derive(Debug)]
struct TakenJob(Arc<Job>);

impl std::ops::Deref for TakenJob {
    type Target = Arc<Job>;

    fn deref(&self) -> &Arc<Job> {
        &self.0
    }
}

impl Drop for TakenJob {
    fn drop(&mut self) {
        self.0.finish(Err(stopped_error()));
    }
}

/// The error for a job the fetcher will never finish: [`DownloadError::Internal`] while a panic
/// unwinds, [`DownloadError::ShutDown`] otherwise (the fetcher's future was dropped).
fn stopped_error() -> DownloadError {
    if std::thread::panicking() {
        DownloadError::Internal { message: "the state fetcher task panicked".to_owned() }
    } else {
        DownloadError::ShutDown
    }
}

/// The message of a panic's payload (`panic!` gives a `&str` or a `String`).
fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    match (payload.downcast_ref::<&str>(), payload.downcast_ref::<String>()) {
        (Some(message), _) => (*message).to_owned(),
        (None, Some(message)) => message.clone(),
        (None, None) => "a panic without a message".to_owned(),
    }
}

/// Why [`Fetcher::run_state_sync`] stops a sync before it ends by itself.
#[derive(Debug)]
enum Stop {
    /// Another root was asked for.
    Switch(TakenJob),
    /// The handle cancelled it.
    Cancelled,
    /// The stall detector gave up.
    Stalled(DownloadError),
    /// The downloader closed.
    ShutDown,
}

/// A request in flight.
#[derive(Debug)]
struct Active {
    /// Its id on the wire: answers carrying another id are not for it.
    id: u64,
    request: Request,
    sent: Instant,
    deadline: Instant,
}

/// A request whose send failed, reported by its sending task.
#[derive(Debug)]
struct SendFailure {
    peer: PeerId,
    id: u64,
    error: PeerError,
}

/// The state fetcher: owns the peer event stream and the in-flight requests, and runs syncs.
pub(crate) struct Fetcher {
    shared: Arc<FetcherShared>,
    store: Arc<dyn KeyValueStore>,
    peers: PeerSet,
    /// Answers and disconnections from every transport (bounded).
    events: PeerEventReceiver,
    /// Whether any transport can still send events (after `None`, the branch is disabled).
    events_open: bool,
    config: DownloaderConfig,
    /// In-flight requests, at most one per peer (each holds its peer's lease).
    active: HashMap<PeerId, Active>,
    /// Failed sends come back here from their tasks.
    send_failures: mpsc::Receiver<SendFailure>,
    send_failures_tx: mpsc::Sender<SendFailure>,
    /// Requests finalized (any outcome) so far, for the stall detector.
    finalized: u64,
    /// Whether `store` is wrapped in its key filter yet (done when the first sync starts).
    filtered: bool,
}

/// The fetcher's drop guard: however its task ends (returning, a panic, its future dropped), the
/// downloader is closed and a queued job is failed, so no [`SyncHandle`](crate::SyncHandle) and no
/// later [`Downloader::sync_state`](crate::Downloader::sync_state) waits forever. (The job running
/// and one switched to are failed by their own [`TakenJob`] guards.)
impl Drop for Fetcher {
    fn drop(&mut self) {
        self.shared.closed.store(true, Ordering::SeqCst);
        self.shared.drain_closed();
    }
}

impl Fetcher {
    pub(crate) fn new(
        shared: Arc<FetcherShared>,
        store: Arc<dyn KeyValueStore>,
        peers: PeerSet,
        events: PeerEventReceiver,
        config: DownloaderConfig,
    ) -> Self {
        let (send_failures_tx, send_failures) = mpsc::channel(SEND_FAILURE_BUFFER);
        Self {
            shared,
            store,
            peers,
            events,
            events_open: true,
            config,
            active: HashMap::new(),
            send_failures,
            send_failures_tx,
            finalized: 0,
            filtered: false,
        }
    }

    /// Puts the key filter in front of the store, once, if the config asks for it: a pass over the
    /// store, so it waits for the first sync rather than slowing [`Downloader::new`](crate::Downloader::new).
    fn filter_store(&mut self) -> kvdb::Result<()> {
        if self.filtered || !self.config.key_filter {
            return Ok(());
        }
        // FilteredStore::new logs the keys loaded, the filter's size and the time it took.
        self.store = Arc::new(FilteredStore::new(self.store.clone())?);
        self.filtered = true;
        Ok(())
    }

    /// go-ethereum's `stateFetcher`: waits for a sync to run, runs it (and those that supersede it),
    /// and between syncs keeps the peer set current.
    pub(crate) async fn run(mut self) {
        loop {
            if self.shared.is_closed() {
                self.shared.drain_closed();
                debug!(target: "downloader", "state fetcher stopped");
                return;
            }
            let mut next = self.shared.take_next();
            if next.is_none() {
                tokio::select! {
                    _ = self.shared.wake.notified() => {}
                    event = self.events.recv(), if self.events_open => self.on_idle_event(event),
                }
                continue;
            }
            while let Some(job) = next.take() {
                next = self.run_state_sync(job).await;
            }
        }
    }

    /// An event while no sync runs: answers are stale, disconnections leave the set.
    fn on_idle_event(&mut self, event: Option<PeerEvent>) {
        match event {
            None => self.events_open = false,
            Some(PeerEvent::Response { peer, request_id, response }) => {
                debug!(target: "downloader", %peer, request_id, items = response.items(), "answer while idle, discarded");
            }
            Some(PeerEvent::Disconnected { peer, cause }) => {
                debug!(target: "downloader", %peer, %cause, "peer disconnected");
                self.peers.unregister(&peer);
            }
        }
    }

    /// go-ethereum's `runStateSync`: runs `job`'s sync until it ends or another root is asked for,
    /// tracking every request it makes; returns the job to switch to, if any.
    #[tracing::instrument(target = "downloader", name = "run_state_sync", skip_all, fields(root = ?job.root))]
    async fn run_state_sync(&mut self, job: TakenJob) -> Option<TakenJob> {
        let root = job.root;
        if job.is_cancelled() {
            job.finish(Err(DownloadError::Cancelled { root }));
            return None;
        }
        if let Err(error) = self.filter_store() {
            job.finish(Err(DownloadError::Store(error)));
            return None;
        }
        let (sync, link) =
            match StateSync::new(root, self.store.clone(), self.peers.clone(), self.config.state_sync()) {
                Ok(started) => started,
                Err(error) => {
                    job.finish(Err(DownloadError::from_state_sync(root, error)));
                    return None;
                }
            };
        let handle = sync.handle();
        job.set_sync(handle.clone());
        let mut task = tokio::spawn(sync.run());
        let TrackerLink { mut requests, deliveries } = link;
        // Finished requests waiting to be handed to the sync (go-ethereum's `finished`); bounded by
        // the requests the sync made, at most one in flight per peer.
        let mut finished: VecDeque<Finished> = VecDeque::new();
        let mut stall = StallDetector::new(&self.config, self.finalized);
        let mut stall_check =
            tokio::time::interval(self.config.stall_check_interval.max(std::time::Duration::from_millis(1)));
        stall_check.set_missed_tick_behavior(MissedTickBehavior::Delay);
        let mut job_cancel = job.cancel.subscribe();
        let mut stop: Option<Stop> = None;

        let joined = loop {
            let deadline = self.next_deadline();
            tokio::select! {
                joined = &mut task => break joined,
                _ = self.shared.wake.notified(), if stop.is_none() => {
                    if self.shared.is_closed() {
                        stop = Some(Stop::ShutDown);
                    } else if let Some(next) = self.shared.take_next() {
                        info!(target: "downloader", from = ?root, to = ?next.root, "pivot moved: switching state sync");
                        stop = Some(Stop::Switch(next));
                    }
                    if stop.is_some() {
                        handle.cancel();
                    }
                }
                _ = cancelled(&mut job_cancel), if stop.is_none() => {
                    stop = Some(Stop::Cancelled);
                    handle.cancel();
                }
                Some(permit) = deliveries.reserve(), if !finished.is_empty() => {
                    permit.send(finished.pop_front().expect("checked non-empty"));
                }
                Some(request) = requests.recv() => self.track(request, &mut finished),
                event = self.events.recv(), if self.events_open => self.on_event(event, &mut finished, Some(&handle)),
                _ = sleep_until(deadline), if deadline.is_some() => self.expire(&mut finished),
                Some(failure) = self.send_failures.recv() => self.on_send_failure(failure, &mut finished),
                _ = stall_check.tick(), if stop.is_none() => {
                    let progress = handle.progress();
                    let observed = Observed {
                        processed: progress.processed,
                        finalized: self.finalized,
                        peers: self.peers.len(),
                        in_flight: progress.in_flight,
                        pending: progress.pending,
                    };
                    if let Some(error) = stall.check(root, observed, Instant::now()) {
                        warn!(target: "downloader", %error, "giving up");
                        stop = Some(Stop::Stalled(error));
                        handle.cancel();
                    }
                }
            }
        };
        let ended = match joined {
            Ok(ended) => ended,
            Err(join) if join.is_panic() => {
                // A bug (or a store that panics): fail the job with the panic's message, then let the
                // panic stop the fetcher; its drop guard closes it and fails what is queued.
                let payload = join.into_panic();
                let message = format!("the state sync task panicked: {}", panic_message(payload.as_ref()));
                error!(target: "downloader", %message, "state fetcher stopping");
                job.finish(Err(DownloadError::Internal { message }));
                std::panic::resume_unwind(payload)
            }
            Err(_) => Err(StateSyncError::Cancelled),
        };
        let mut next = None;
        let result = match (ended, stop) {
            (Ok(report), stop) => {
                if let Some(Stop::Switch(job)) = stop {
                    next = Some(job);
                }
                let mut report = SyncReport::new(report);
                report.peers_dropped = handle.peers_dropped();
                Ok(report)
            }
            (Err(StateSyncError::Cancelled), Some(stop)) => Err(match stop {
                Stop::Switch(job) => {
                    let by = job.root;
                    next = Some(job);
                    DownloadError::Superseded { root, by }
                }
                Stop::Cancelled => DownloadError::Cancelled { root },
                Stop::Stalled(error) => error,
                Stop::ShutDown => DownloadError::ShutDown,
            }),
            (Err(error), stop) => {
                if let Some(Stop::Switch(job)) = stop {
                    next = Some(job);
                }
                Err(DownloadError::from_state_sync(root, error))
            }
        };
        job.finish(result);
        self.spindown(requests, finished).await;
        next
    }

    /// go-ethereum's `spindownStateSync`: after a sync ends, releases the leases of its untracked and
    /// undelivered requests, and waits for every request in flight to be answered, time out or be
    /// dropped, releasing its lease, so the next sync starts with a clean slate.
    async fn spindown(&mut self, mut requests: RequestReceiver, finished: VecDeque<Finished>) {
        requests.close();
        // Never sent: dropping the request releases its lease, measuring nothing.
        while let Some(request) = requests.try_recv() {
            drop(request);
        }
        let mut finished = finished;
        trace!(target: "downloader", active = self.active.len(), finished = finished.len(), "spinning down");
        loop {
            for done in finished.drain(..) {
                done.release_peer();
            }
            if self.active.is_empty() {
                break;
            }
            let deadline = self.next_deadline();
            tokio::select! {
                event = self.events.recv(), if self.events_open => self.on_event(event, &mut finished, None),
                _ = sleep_until(deadline), if deadline.is_some() => self.expire(&mut finished),
                Some(failure) = self.send_failures.recv() => self.on_send_failure(failure, &mut finished),
            }
        }
    }

    /// Starts tracking `request` and sends it. A request still in flight to the same peer is
    /// finalized as dropped first, never silently overwritten.
    fn track(&mut self, request: Request, finished: &mut VecDeque<Finished>) {
        let peer_id = request.peer_id().clone();
        if let Some(old) = self.active.remove(&peer_id) {
            warn!(target: "downloader", peer = %peer_id, old = old.id, "busy peer assigned a new request");
            self.finalize(old.request, Outcome::Dropped { cause: DroppedBecause::Replaced }, finished);
        }
        // Ids come from the peer set, unique for its life, so a late answer to an old sync's request
        // (or to a probe before the sync) never matches a new one.
        let id = self.peers.next_request_id();
        let timeout = self.config.clamp_timeout(self.peers.request_timeout());
        let sent = Instant::now();
        let (peer, wire) = (request.peer().clone(), request.to_peer_request());
        trace!(target: "downloader", peer = %peer_id, id, items = request.len(), ?timeout, "requesting");
        self.active.insert(peer_id.clone(), Active { id, request, sent, deadline: sent + timeout });
        let failures = self.send_failures_tx.clone();
        // Sent from a task: a transport's write may wait (up to its write timeout), the loop must not.
        tokio::spawn(async move {
            if let Err(error) = peer.request(id, wire).await {
                let _ = failures.send(SendFailure { peer: peer_id, id, error }).await;
            }
        });
    }

    /// A peer event during a sync (`handle` is `None` while spinning down).
    fn on_event(
        &mut self,
        event: Option<PeerEvent>,
        finished: &mut VecDeque<Finished>,
        handle: Option<&StateSyncHandle>,
    ) {
        match event {
            None => self.events_open = false,
            Some(PeerEvent::Response { peer, request_id, response }) => {
                match (self.active.get(&peer), response.into_node_data()) {
                    (Some(active), Some(blobs)) if active.id == request_id => {
                        let active = self.active.remove(&peer).expect("just found");
                        let elapsed = active.sent.elapsed();
                        self.finalize(active.request, Outcome::Delivered { blobs, elapsed }, finished);
                    }
                    _ => {
                        // Late (timed out), repeated, never asked for, or not node data.
                        debug!(target: "downloader", %peer, request_id, "unrequested answer, discarded");
                    }
                }
            }
            Some(PeerEvent::Disconnected { peer, cause }) => {
                debug!(target: "downloader", %peer, %cause, "peer disconnected");
                self.peers.unregister(&peer);
                if let Some(handle) = handle {
                    handle.record_drop(&peer, DropReason::Disconnected { cause });
                }
                if let Some(active) = self.active.remove(&peer) {
                    self.finalize(
                        active.request,
                        Outcome::Dropped { cause: DroppedBecause::PeerDisconnected },
                        finished,
                    );
                }
            }
        }
    }

    /// Finalizes every request past its deadline as timed out.
    fn expire(&mut self, finished: &mut VecDeque<Finished>) {
        let now = Instant::now();
        let expired: Vec<PeerId> = self
            .active
            .iter()
            .filter(|(_, active)| active.deadline <= now)
            .map(|(peer, _)| peer.clone())
            .collect();
        for peer in expired {
            let active = self.active.remove(&peer).expect("just listed");
            debug!(target: "downloader", %peer, id = active.id, items = active.request.len(), "request timed out");
            let elapsed = now - active.sent;
            self.finalize(active.request, Outcome::TimedOut { elapsed }, finished);
        }
    }

    fn on_send_failure(&mut self, failure: SendFailure, finished: &mut VecDeque<Finished>) {
        let SendFailure { peer, id, error } = failure;
        debug!(target: "downloader", %peer, id, %error, "request send failed");
        if error.is_connection_lost() {
            self.peers.unregister(&peer);
        }
        if self.active.get(&peer).is_some_and(|active| active.id == id) {
            let active = self.active.remove(&peer).expect("just found");
            self.finalize(active.request, Outcome::Dropped { cause: DroppedBecause::SendFailed }, finished);
        }
    }

    fn finalize(&mut self, request: Request, outcome: Outcome, finished: &mut VecDeque<Finished>) {
        self.finalized += 1;
        finished.push_back(Finished { request, outcome });
    }

    /// The earliest deadline in flight.
    fn next_deadline(&self) -> Option<Instant> {
        self.active.values().map(|active| active.deadline).min()
    }
}

/// Sleeps until `deadline` (forever if `None`; the branch using it is then disabled).
async fn sleep_until(deadline: Option<Instant>) {
    match deadline {
        Some(deadline) => tokio::time::sleep_until(deadline).await,
        None => std::future::pending().await,
    }
}

/// Resolves once the job is cancelled.
async fn cancelled(cancel: &mut tokio::sync::watch::Receiver<bool>) {
    if cancel.wait_for(|cancelled| *cancelled).await.is_err() {
        std::future::pending::<()>().await;
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use kvdb::MemoryStore;
    use peers::{
        peer_events, Capabilities, DisconnectCause, DisconnectReason, Peer, PeerEventSender, PeerRequest,
        PeerResponse, RequestKind, H256,
    };

    use super::*;

    /// A peer that accepts every request and never answers (the tests answer for it).
    struct SilentPeer(PeerId);

    #[async_trait::async_trait]
    impl Peer for SilentPeer {
        fn id(&self) -> &PeerId {
            &self.0
        }
        fn capabilities(&self) -> Capabilities {
            Capabilities::NODE_DATA
        }
        async fn request(&self, _: u64, _: PeerRequest) -> Result<(), PeerError> {
            Ok(())
        }
        async fn disconnect(&self, _: DisconnectReason) {}
    }

    fn fetcher() -> (Fetcher, Arc<dyn Peer>, PeerEventSender) {
        let peers = PeerSet::default();
        let peer: Arc<dyn Peer> = Arc::new(SilentPeer(PeerId::new("a")));
        peers.register(peer.clone()).expect("register");
        let (events_tx, events) = peer_events(8);
        let store: Arc<dyn KeyValueStore> = Arc::new(MemoryStore::new());
        let fetcher = Fetcher::new(Arc::default(), store, peers, events, DownloaderConfig::default());
        (fetcher, peer, events_tx)
    }

    /// A request to `peer`, leased from `set`.
    fn request(set: &PeerSet, peer: &Arc<dyn Peer>, first: u8) -> Request {
        let lease = set.lease(peer.id(), RequestKind::NodeData).expect("idle");
        Request::new(lease, vec![H256::repeat_byte(first), H256::repeat_byte(first + 1)])
    }

    fn finished_outcome(finished: &mut VecDeque<Finished>) -> (Vec<H256>, Outcome) {
        let done = finished.pop_front().expect("a finished request");
        (done.request.hashes().to_vec(), done.outcome)
    }

    #[tokio::test(start_paused = true)]
    async fn a_new_request_to_a_busy_peer_finalizes_the_old_one_as_dropped() {
        let (mut fetcher, peer, _events) = fetcher();
        let mut finished = VecDeque::new();
        fetcher.track(request(&fetcher.peers.clone(), &peer, 1), &mut finished);
        assert!(finished.is_empty());
        // A lease makes a second request to a busy peer impossible within one set; a tracker serving
        // two sets (or a bug) could still see one, so it is leased from another set here.
        let elsewhere = PeerSet::default();
        elsewhere.register(peer.clone()).expect("register");
        fetcher.track(request(&elsewhere, &peer, 10), &mut finished);
        let (hashes, outcome) = finished_outcome(&mut finished);
        assert_eq!(hashes[0], H256::repeat_byte(1), "the old request comes back");
        assert!(matches!(outcome, Outcome::Dropped { cause: DroppedBecause::Replaced }), "{outcome:?}");
        let active = fetcher.active.get(peer.id()).expect("the new one is in flight");
        assert_eq!(active.request.hashes()[0], H256::repeat_byte(10));
        assert_eq!(fetcher.finalized, 1);
    }

    #[tokio::test(start_paused = true)]
    async fn answers_under_other_ids_are_discarded_and_the_request_stays_in_flight() {
        let (mut fetcher, peer, _events) = fetcher();
        let mut finished = VecDeque::new();
        fetcher.track(request(&fetcher.peers.clone(), &peer, 1), &mut finished);
        let id = fetcher.active[peer.id()].id;
        for (who, request_id) in [(peer.id().clone(), id + 1), (PeerId::new("stranger"), id)] {
            let response = PeerResponse::NodeData { blobs: vec![vec![0x80]] };
            let event = PeerEvent::Response { peer: who, request_id, response };
            fetcher.on_event(Some(event), &mut finished, None);
        }
        assert!(finished.is_empty(), "nothing matched");
        assert!(fetcher.active.contains_key(peer.id()));
        let response = PeerResponse::NodeData { blobs: vec![vec![0x80]] };
        let event = PeerEvent::Response { peer: peer.id().clone(), request_id: id, response };
        fetcher.on_event(Some(event), &mut finished, None);
        let (_, outcome) = finished_outcome(&mut finished);
        assert!(matches!(outcome, Outcome::Delivered { ref blobs, .. } if blobs.len() == 1), "{outcome:?}");
        assert!(fetcher.active.is_empty());
    }

    #[tokio::test(start_paused = true)]
    async fn a_disconnection_finalizes_the_request_at_once_and_unregisters_the_peer() {
        let (mut fetcher, peer, _events) = fetcher();
        let mut finished = VecDeque::new();
        fetcher.track(request(&fetcher.peers.clone(), &peer, 1), &mut finished);
        let cause = DisconnectCause::Remote { reason: DisconnectReason::Quitting };
        let event = PeerEvent::Disconnected { peer: peer.id().clone(), cause };
        fetcher.on_event(Some(event), &mut finished, None);
        let (_, outcome) = finished_outcome(&mut finished);
        assert!(
            matches!(outcome, Outcome::Dropped { cause: DroppedBecause::PeerDisconnected }),
            "{outcome:?}"
        );
        assert!(fetcher.active.is_empty());
        assert!(fetcher.peers.get(peer.id()).is_none(), "unregistered");
    }

    #[tokio::test(start_paused = true)]
    async fn a_request_past_its_deadline_times_out_and_not_before() {
        let (mut fetcher, peer, _events) = fetcher();
        let mut finished = VecDeque::new();
        fetcher.track(request(&fetcher.peers.clone(), &peer, 1), &mut finished);
        let deadline = fetcher.next_deadline().expect("a deadline");
        tokio::time::sleep_until(deadline - Duration::from_millis(1)).await;
        fetcher.expire(&mut finished);
        assert!(finished.is_empty(), "too early");
        tokio::time::sleep_until(deadline).await;
        fetcher.expire(&mut finished);
        let (_, outcome) = finished_outcome(&mut finished);
        assert!(matches!(outcome, Outcome::TimedOut { .. }), "{outcome:?}");
        assert_eq!(fetcher.next_deadline(), None, "no timer left");
    }
}
