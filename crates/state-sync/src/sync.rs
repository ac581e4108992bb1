//! One sync of one root: go-ethereum's `stateSync` (`loop`, `assignTasks`, `fillTasks`, `process`).

use std::sync::Arc;
use std::time::Duration;

use foldhash::{HashMap, HashSet};
use kvdb::{BatchOp, KeyValueStore, Namespace, WriteBatch};
use peers::{DisconnectReason, Peer, PeerId, PeerSet, RequestKind, MAX_HASHES_PER_REQUEST};
use tokio::sync::watch;
use tokio::time::{Instant, MissedTickBehavior};
use tracing::{debug, info, trace, warn};
use trie_sync::{
    AccountLeafCallback, NodeHash, SchedulerConfig, SyncError, TrieSync, VerifiedBlob, MAX_SHARE_BEFORE_DONE,
};

use crate::request::{link, DeliveryReceiver, RequestSender};
use crate::stats::Counters;
use crate::tasks::Tasks;
use crate::{
    Checkpoint, DropReason, DroppedBecause, Finished, Outcome, Request, Result, StateSyncConfig,
    StateSyncError, StateSyncProgress, StateSyncReport, TrackerLink, PROGRESS_SHAPE_KEY,
};

/// A batch being written to the store, off the sync loop.
#[derive(Debug)]
struct Write {
    /// The blocking write (and flush, when due); it yields whether the batch is durable.
    task: tokio::task::JoinHandle<kvdb::Result<bool>>,
    /// Entries in it.
    entries: usize,
    /// Trie nodes, code blobs and their bytes in it, counted once it lands.
    nodes: u64,
    codes: u64,
    bytes: u64,
    /// When it started.
    started: Instant,
    /// Entries committed in all (earlier syncs included) once it lands.
    committed_entries: u64,
}

/// Resolves when the write in `writing` lands, taking it out (never, if there is none). Cancel-safe:
/// the write stays in place until it has landed.
async fn landed(writing: &mut Option<Write>) -> (Write, Result<kvdb::Result<bool>, tokio::task::JoinError>) {
    let Some(write) = writing.as_mut() else { return std::future::pending().await };
    let result = (&mut write.task).await;
    let write = writing.take().expect("just polled");
    (write, result)
}

/// A request handed to the tracker and not yet back.
#[derive(Debug)]
struct InFlight {
    /// What it asks for.
    hashes: Vec<NodeHash>,
    /// When it was handed over.
    sent: Instant,
    /// Whether its hashes were already asked of another peer (a request is hedged once).
    hedged: bool,
}

/// How often the share of work done is estimated: it scans the scheduler's live requests.
const SHARE_EVERY: Duration = Duration::from_millis(200);

/// What a sync shares with its handles.
#[derive(Debug)]
struct Shared {
    /// The root being synced.
    root: NodeHash,
    /// Live counters, read by [`StateSyncHandle::progress`].
    counters: Counters,
    /// The checkpoint found at the start.
    resumed: Option<Checkpoint>,
    /// Set once to ask the loop to stop (go-ethereum's `cancel` channel with its `cancelOnce`).
    cancel: watch::Sender<bool>,
    /// Set once when the loop has ended and made its final commit (go-ethereum's `done`), by
    /// [`StateSync`]'s drop guard, so also when [`StateSync::run`] panics or its future is dropped.
    done: watch::Sender<bool>,
}

/// A cheap handle to a running [`StateSync`]: cancel it, watch its progress, wait for its end.
#[derive(Debug, Clone)]
pub struct StateSyncHandle {
    shared: Arc<Shared>,
}

impl StateSyncHandle {
    /// The root being synced.
    pub fn root(&self) -> NodeHash {
        self.shared.root
    }

    /// Asks the sync to stop; it commits what is complete and ends with [`StateSyncError::Cancelled`].
    /// Idempotent.
    pub fn cancel(&self) {
        self.shared.cancel.send_replace(true);
    }

    /// Whether [`cancel`](Self::cancel) was called.
    pub fn is_cancelled(&self) -> bool {
        *self.shared.cancel.borrow()
    }

    /// Whether the sync has ended.
    pub fn is_done(&self) -> bool {
        *self.shared.done.borrow()
    }

    /// Waits until the sync has ended: its final commit written, or [`StateSync::run`] panicked or was
    /// dropped (or the sync was dropped without being run).
    pub async fn done(&self) {
        let mut done = self.shared.done.subscribe();
        // The sender lives in `shared`, which outlives this borrow: no error.
        let _ = done.wait_for(|done| *done).await;
    }

    /// A snapshot of the counters.
    pub fn progress(&self) -> StateSyncProgress {
        self.shared.counters.snapshot(self.shared.root, self.shared.resumed)
    }

    /// Records that the tracker dropped `peer` (for the report); `false` if it was already recorded.
    pub fn record_drop(&self, peer: &PeerId, reason: DropReason) -> bool {
        self.shared.counters.record_drop(peer, reason)
    }

    /// Peers dropped so far, and why.
    pub fn peers_dropped(&self) -> Vec<(PeerId, DropReason)> {
        self.shared.counters.dropped()
    }
}

/// One sync of the state at one root, from untrusted peers, into a store.
///
/// Joins the [`TrieSync`] scheduler (with the account-leaf callback, so storage tries and code are
/// followed) to a [`PeerSet`]: [`run`](Self::run) assigns hashes to idle peers sized by their
/// capacity, hands the [`Request`]s to a tracker through [`TrackerLink`], processes what comes back
/// ([`Finished`]), and commits complete entries to the store in batches of about
/// [`StateSyncConfig::commit_threshold`] bytes, with a [`Checkpoint`] in the same batch.
pub struct StateSync {
    /// The scheduler: what is missing, and where delivered blobs go.
    scheduler: TrieSync<Arc<dyn KeyValueStore>, AccountLeafCallback>,
    /// Where commits are written (the scheduler reads it too).
    store: Arc<dyn KeyValueStore>,
    /// Connected peers: who is idle, their capacities; misbehaving peers are removed from it.
    peers: PeerSet,
    /// Hashes handed out and not yet delivered, with the peers each was tried with.
    tasks: Tasks,
    config: StateSyncConfig,
    /// Requests go to the tracker here.
    requests: RequestSender,
    /// Finished requests come back here (go-ethereum's `deliver`).
    deliveries: DeliveryReceiver,
    /// Requests handed to the tracker and not yet back, by peer (a peer has at most one node-data
    /// request: its lease): what each asks and since when, for hedging.
    in_flight: HashMap<PeerId, InFlight>,
    /// When the oldest unhedged request becomes late enough to hedge, if a peer is idle for it.
    next_hedge: Option<Instant>,
    /// When the share of work done was last estimated (it scans the scheduler's requests).
    last_share: Option<Instant>,
    /// The highest share of work done estimated so far (what is shown: it never goes back).
    share: f64,
    /// When a commit was last made durable (flushed, or durable by the store's own setting); `None`
    /// before the first.
    last_durable: Option<Instant>,
    /// The batch being written, if any: one at a time.
    writing: Option<Write>,
    /// Entries processed since the last commit (go-ethereum's `numUncommitted`).
    uncommitted_entries: u64,
    /// Their bytes (go-ethereum's `bytesUncommitted`): a commit is due past the threshold.
    uncommitted_bytes: usize,
    /// Totals over every sync into the store, written with each commit.
    checkpoint: Checkpoint,
    /// A write failed: the scheduler no longer holds what it handed over, so nothing more may be
    /// committed (it could hold nodes whose children were in the lost batch).
    store_failed: bool,
    shared: Arc<Shared>,
}

/// The drop guard behind [`StateSyncHandle::done`]: however the sync ends (returning from
/// [`run`](StateSync::run), a panic unwinding through it, its future dropped), its handles learn it.
impl Drop for StateSync {
    fn drop(&mut self) {
        self.shared.done.send_replace(true);
    }
}

impl std::fmt::Debug for StateSync {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StateSync")
            .field("root", &self.shared.root)
            .field("pending", &self.scheduler.pending())
            .field("in_flight", &self.in_flight.len())
            .finish_non_exhaustive()
    }
}

impl StateSync {
    /// A sync of `root` into `store`, asking `peers`, not started yet: spawn [`run`](Self::run) and
    /// serve the returned [`TrackerLink`].
    ///
    /// Reads the [`Checkpoint`] left by earlier syncs (progress then counts on from it) and schedules
    /// the root unless it is already stored. Fails only if the store does.
    pub fn new(
        root: NodeHash,
        store: Arc<dyn KeyValueStore>,
        peers: PeerSet,
        config: StateSyncConfig,
    ) -> Result<(Self, TrackerLink)> {
        let resumed = Checkpoint::read(store.as_ref())?;
        let scheduler_config = SchedulerConfig { max_fetches_per_depth: config.max_fetches_per_depth };
        let mut scheduler =
            TrieSync::with_config(root, store.clone(), AccountLeafCallback, scheduler_config)?;
        if resumed.is_some_and(|checkpoint| checkpoint.root == root && !checkpoint.complete) {
            // An unreadable or older shape is only a worse gauge: the sync goes on without it.
            if let Some(shape) = store.get(Namespace::Meta, PROGRESS_SHAPE_KEY)? {
                let restored = scheduler.resume_progress(&shape);
                debug!(target: "state_sync", restored, bytes = shape.len(), "progress gauge carried over");
            }
        }
        let (requests, deliveries, tracker) = link(config.channel_capacity);
        let checkpoint = Checkpoint { root, complete: false, ..resumed.unwrap_or_default() };
        let shared = Arc::new(Shared {
            root,
            counters: Counters::new(),
            resumed,
            cancel: watch::channel(false).0,
            done: watch::channel(false).0,
        });
        let mut sync = Self {
            scheduler,
            store,
            peers,
            tasks: Tasks::default(),
            config,
            requests,
            deliveries,
            in_flight: HashMap::default(),
            next_hedge: None,
            last_share: None,
            share: 0.0,
            // None: the first commit of every run is durable, so a sync killed every few seconds
            // still advances (with the clock started at the run's start, runs killed before their
            // first durable commit, ~6 s in, kept nothing).
            last_durable: None,
            writing: None,
            uncommitted_entries: 0,
            uncommitted_bytes: 0,
            checkpoint,
            store_failed: false,
            shared,
        };
        sync.publish();
        Ok((sync, tracker))
    }

    /// A handle to cancel the sync and watch it.
    pub fn handle(&self) -> StateSyncHandle {
        StateSyncHandle { shared: self.shared.clone() }
    }

    /// Runs the sync to its end: every entry under the root stored, or an error. Whatever the end, the
    /// complete entries are committed before it returns (unless the store itself failed); if that
    /// final commit fails, its [`StateSyncError::Store`] is returned in place of why the sync ended.
    #[tracing::instrument(target = "state_sync", name = "state_sync", skip_all, fields(root = ?self.shared.root))]
    pub async fn run(mut self) -> Result<StateSyncReport> {
        info!(target: "state_sync", pending = self.scheduler.pending(), resumed = ?self.shared.resumed, "state sync starting");
        let ended = self.sync_loop().await;
        // Requests the tracker finished but the loop never took (it ended first): their peers would
        // stay busy forever. Later ones stay with the tracker, which releases them as it spins down.
        self.deliveries.close();
        while let Some(finished) = self.deliveries.try_recv() {
            self.in_flight.remove(finished.request.peer_id());
            finished.release_peer();
        }
        let committed = if self.store_failed { Ok(()) } else { self.commit(true).await };
        let result = match (ended, committed) {
            (ended, Ok(())) => ended,
            // A lost final commit outranks why the loop ended (even a cancel): progress the caller
            // believes committed is gone.
            (ended, Err(error)) => {
                if let Err(ended) = ended {
                    warn!(target: "state_sync", %ended, %error, "the final commit failed after the sync ended");
                }
                Err(error)
            }
        };
        self.publish();
        let progress = self.handle().progress();
        match &result {
            Ok(()) => info!(
                target: "state_sync",
                processed = progress.processed,
                nodes = progress.committed_nodes,
                codes = progress.committed_codes,
                duplicate = progress.duplicate,
                unexpected = progress.unexpected,
                elapsed = ?progress.elapsed,
                "state sync complete"
            ),
            Err(error) => {
                warn!(target: "state_sync", %error, processed = progress.processed, "state sync ended")
            }
        }
        // `done` is set when `self` drops, right after this.
        result.map(|()| StateSyncReport { progress, peers_dropped: self.shared.counters.dropped() })
    }

    /// go-ethereum's `loop`: until nothing is pending, commit when due, assign work to idle peers, then
    /// wait for a delivery, a peer joining or leaving, or cancellation.
    async fn sync_loop(&mut self) -> Result<()> {
        let mut joins = self.peers.subscribe_joins();
        let mut drops = self.peers.subscribe_drops();
        let mut cancel = self.shared.cancel.subscribe();
        let mut progress = tokio::time::interval_at(
            Instant::now() + self.config.progress_interval,
            self.config.progress_interval.max(Duration::from_millis(1)),
        );
        progress.set_missed_tick_behavior(MissedTickBehavior::Delay);

        while self.scheduler.pending() > 0 {
            if *cancel.borrow() {
                return Err(StateSyncError::Cancelled);
            }
            self.commit(false).await?;
            // Disk backpressure: while a write is in flight and the next batch is already full, ask
            // for nothing more (verified data would pile up in memory); the write landing wakes us.
            let store_behind =
                self.writing.is_some() && self.uncommitted_bytes >= self.config.commit_threshold;
            if !store_behind {
                self.assign_tasks(&mut cancel).await?;
            }
            self.check_available()?;
            self.publish();
            tokio::select! {
                biased;
                _ = cancelled(&mut cancel) => return Err(StateSyncError::Cancelled),
                finished = self.deliveries.recv() => match finished {
                    Some(finished) => self.process(finished).await?,
                    // The tracker is gone: nothing more can be fetched.
                    None => return Err(StateSyncError::Cancelled),
                },
                Some(_) = joins.recv() => trace!(target: "state_sync", "peer joined"),
                Some(_) = drops.recv() => trace!(target: "state_sync", "peer left"),
                (write, result) = landed(&mut self.writing), if self.writing.is_some() => {
                    self.written(write, result)?;
                }
                _ = sleep_until(self.next_hedge), if self.next_hedge.is_some() => {
                    trace!(target: "state_sync", "a request is late: hedging")
                }
                _ = progress.tick() => self.log_progress(),
            }
        }
        Ok(())
    }

    /// go-ethereum's `assignTasks`/`fillTasks`: gives every idle peer up to its capacity of hashes it
    /// has not failed, and hands the requests to the tracker; then, if peers are left idle with
    /// nothing to ask, hedges late requests ([`Self::hedge_tasks`]).
    async fn assign_tasks(&mut self, cancel: &mut watch::Receiver<bool>) -> Result<()> {
        let mut starved = Vec::new();
        for idle in self.peers.idle_peers(RequestKind::NodeData) {
            if self.in_flight.len() >= self.config.max_in_flight.max(1) {
                return Ok(());
            }
            // The lease is the peer's busy mark; dropping it (nothing to ask, or the request never
            // sent) sets the peer idle again, measuring nothing.
            let Some(lease) = self.peers.lease(idle.peer.id(), RequestKind::NodeData) else { continue };
            let max = lease.capacity().clamp(1, MAX_HASHES_PER_REQUEST);
            let hashes = self.tasks.fill(idle.peer.id(), max, &mut self.scheduler);
            if hashes.is_empty() {
                starved.push(lease);
                continue;
            }
            trace!(target: "state_sync", peer = %idle.peer.id(), items = hashes.len(), "assigning");
            self.send(Request::new(lease, hashes), cancel).await?;
        }
        self.next_hedge = None;
        if self.config.hedge && !starved.is_empty() {
            self.hedge_tasks(starved, cancel).await?;
        }
        Ok(())
    }

    /// Hedged requests: every hash left is in flight (the `idle` peers found nothing to do), so each
    /// idle peer is asked for the hashes of the oldest request of another peer that is late (older
    /// than the peer set's [`hedge_delay`](PeerSet::hedge_delay)) and not hedged yet, minus those it
    /// already failed. The first verified answer wins; the other then counts as duplicate, never
    /// against its peer. Sets [`Self::next_hedge`] when the next request becomes late.
    async fn hedge_tasks(
        &mut self,
        idle: Vec<peers::Lease>,
        cancel: &mut watch::Receiver<bool>,
    ) -> Result<()> {
        let delay = self.peers.hedge_delay(RequestKind::NodeData);
        let now = Instant::now();
        for lease in idle {
            if self.in_flight.len() >= self.config.max_in_flight.max(1) {
                break;
            }
            let oldest = self
                .in_flight
                .iter_mut()
                .filter(|(peer, flight)| *peer != lease.peer_id() && !flight.hedged)
                .min_by_key(|(_, flight)| flight.sent);
            let Some((late_peer, flight)) = oldest else { break };
            let due = flight.sent + delay;
            if due > now {
                self.next_hedge = Some(due);
                break;
            }
            let max = lease.capacity().clamp(1, MAX_HASHES_PER_REQUEST);
            let hashes = self.tasks.hedge(lease.peer_id(), &flight.hashes, max);
            // Hedged once, even if this peer could take none of its hashes (it failed them).
            flight.hedged = true;
            if hashes.is_empty() {
                continue;
            }
            debug!(
                target: "state_sync", late = %late_peer, peer = %lease.peer_id(), items = hashes.len(),
                waited = ?now - flight.sent, ?delay, "hedging a late request"
            );
            Counters::add(&self.shared.counters.hedged, 1);
            self.send(Request::new(lease, hashes), cancel).await?;
        }
        Ok(())
    }

    /// Hands `request` to the tracker (waiting while it is behind), recording it in flight.
    async fn send(&mut self, request: Request, cancel: &mut watch::Receiver<bool>) -> Result<()> {
        let (peer, hashes) = (request.peer_id().clone(), request.hashes().to_vec());
        tokio::select! {
            biased;
            _ = cancelled(cancel) => return Err(StateSyncError::Cancelled),
            sent = self.requests.send(request) => {
                if sent.is_err() {
                    return Err(StateSyncError::Cancelled);
                }
            }
        }
        self.in_flight.insert(peer, InFlight { hashes, sent: Instant::now(), hedged: false });
        Counters::add(&self.shared.counters.requests, 1);
        Ok(())
    }

    /// Fails the sync if a queued hash was tried with every connected peer.
    fn check_available(&mut self) -> Result<()> {
        let connected = self.peers.ids();
        match self.tasks.failed_with_all(&connected) {
            None => Ok(()),
            Some((hash, tries)) => {
                Err(StateSyncError::NodeUnavailable { hash, tries, peers: connected.len() })
            }
        }
    }

    /// go-ethereum's `process`: hashes and processes each delivered blob, judges the peer, and puts
    /// what was not delivered back in the queue.
    async fn process(&mut self, finished: Finished) -> Result<()> {
        let Finished { request, outcome } = finished;
        self.in_flight.remove(request.peer_id());
        let peer_handle = request.peer().clone();
        let peer = request.peer_id().clone();
        let (lease, hashes) = request.into_parts();
        let asked: HashSet<NodeHash> = hashes.iter().copied().collect();
        let mut delivered: HashSet<NodeHash> = HashSet::default();
        let mut fault = None;
        let mut may_ask_again: bool;
        match outcome {
            Outcome::Delivered { blobs, elapsed } => {
                let count = blobs.len();
                let mut fatal = None;
                let (mut processed, mut duplicate, mut unexpected, mut bytes) = (0u64, 0u64, 0u64, 0usize);
                for data in blobs {
                    let blob = VerifiedBlob::new(data);
                    let (hash, len) = (blob.hash(), blob.len());
                    let was_asked = asked.contains(&hash);
                    match self.scheduler.process(blob) {
                        Ok(()) => {
                            processed += 1;
                            bytes += len;
                            self.tasks.complete(&hash);
                            if was_asked {
                                delivered.insert(hash);
                            }
                        }
                        Err(error) if error.is_duplicate() => {
                            duplicate += 1;
                            if was_asked {
                                delivered.insert(hash);
                            }
                        }
                        // Asked of this peer, but delivered by another meanwhile and committed: an
                        // honest answer, late. Only blobs asked of nobody are unexpected.
                        Err(error) if error.is_unexpected() && was_asked => {
                            duplicate += 1;
                            delivered.insert(hash);
                        }
                        Err(error) if error.is_unexpected() => unexpected += 1,
                        Err(error) => {
                            // Bytes that hash to a requested node but do not decode cannot be forged:
                            // the state itself is corrupt, and the peer only relayed it. Anything
                            // else is the store's failure (or a bug). Either way the sync ends here.
                            fatal = Some(match error {
                                SyncError::BadNode { .. } | SyncError::BadLeaf { .. } => {
                                    StateSyncError::CorruptState { hash, source: error }
                                }
                                other => other.into(),
                            });
                            break;
                        }
                    }
                }
                // What was processed before a fatal blob counts (the final commit stores it).
                let counters = &self.shared.counters;
                Counters::add(&counters.processed, processed);
                Counters::add(&counters.duplicate, duplicate);
                Counters::add(&counters.unexpected, unexpected);
                Counters::add(&counters.bytes, bytes as u64);
                self.uncommitted_entries += processed;
                self.uncommitted_bytes += bytes;
                if let Some(error) = fatal {
                    // Not the peer's fault: it goes back to the set, idle, for whatever runs next.
                    lease.release(delivered.len(), elapsed);
                    return Err(error);
                }
                if count > 0 && delivered.is_empty() {
                    fault = Some(DropReason::UnrequestedData { blobs: count });
                }
                trace!(
                    target: "state_sync", %peer, asked = asked.len(), delivered = delivered.len(),
                    processed, duplicate, unexpected, ?elapsed, "delivery"
                );
                lease.release(delivered.len(), elapsed);
                // A peer that delivered something may have been cut short by a size limit: it may be
                // asked for the rest again.
                may_ask_again = !delivered.is_empty();
            }
            Outcome::TimedOut { elapsed } => {
                debug!(target: "state_sync", %peer, items = hashes.len(), ?elapsed, "request timed out");
                if hashes.len() <= 2 {
                    // Two items is the least requested: if even that times out, the peer is of no use.
                    fault = Some(DropReason::Stalling { items: hashes.len() });
                }
                lease.release_timed_out(elapsed);
                may_ask_again = true;
            }
            Outcome::Dropped { cause } => {
                debug!(target: "state_sync", %peer, items = hashes.len(), ?cause, "request dropped");
                // Measures nothing: the peer is gone, or never got the request.
                drop(lease);
                // Says nothing about the data: the peer may be asked again (a peer that reconnects
                // comes back under the same id).
                may_ask_again = true;
                // A request that could not be sent leaves the peer busy with nothing in flight: no
                // answer, no timeout would ever free it. Drop this connection, if it is still the
                // one registered (a lost connection is unregistered by the tracker).
                if cause == DroppedBecause::SendFailed
                    && self.peers.get(&peer).is_some_and(|registered| same_peer(&registered, &peer_handle))
                {
                    fault = Some(DropReason::SendFailed);
                }
            }
        }
        if let Some(reason) = fault {
            // A peer at fault is not asked for these hashes again; one that merely could not be
            // reached may be, should it come back.
            may_ask_again &= !reason.is_peer_fault();
            self.drop_peer(&peer_handle, reason).await;
        }
        let mut retried = 0;
        for hash in &hashes {
            if !delivered.contains(hash) && self.tasks.retry(*hash, &peer, may_ask_again) {
                retried += 1;
            }
        }
        Counters::add(&self.shared.counters.retried, retried);
        Ok(())
    }

    /// Disconnects and unregisters a misbehaving peer, recording why.
    async fn drop_peer(&mut self, peer: &Arc<dyn Peer>, reason: DropReason) {
        warn!(target: "state_sync", peer = %peer.id(), %reason, "dropping peer");
        self.shared.counters.record_drop(peer.id(), reason.clone());
        self.peers.unregister(peer.id());
        let disconnect = match reason {
            DropReason::Stalling { .. } => DisconnectReason::Timeout,
            DropReason::UnrequestedData { .. } => DisconnectReason::ProtocolBreach,
            DropReason::SendFailed => DisconnectReason::NetworkError,
            DropReason::Disconnected { .. } => DisconnectReason::Requested,
        };
        peer.disconnect(disconnect).await;
    }

    /// go-ethereum's `commit`, overlapped with the network: when forced or past the threshold, and no
    /// write is in flight, moves complete entries and the checkpoint into one batch and starts writing
    /// it off the async threads ([`Self::writing`]); the loop goes on delivering meanwhile, and the
    /// write is taken back when it lands ([`Self::written`]). One write at a time, so batches land in
    /// order. Forced (the end of the sync), it waits for the write in flight, then writes what is left
    /// and waits for that too.
    async fn commit(&mut self, force: bool) -> Result<()> {
        if force {
            self.finish_write().await?;
        }
        if self.writing.is_some() || (!force && self.uncommitted_bytes < self.config.commit_threshold) {
            return Ok(());
        }
        let mut batch = WriteBatch::new();
        let entries = self.scheduler.commit(&mut batch);
        let (mut nodes, mut codes) = (0u64, 0u64);
        for op in batch.ops() {
            match op {
                BatchOp::Put { namespace: Namespace::TrieNodes, .. } => nodes += 1,
                BatchOp::Put { namespace: Namespace::Code, .. } => codes += 1,
                _ => {}
            }
        }
        let bytes = batch.size_bytes() as u64 - 32 * (nodes + codes);
        self.checkpoint.processed += self.uncommitted_entries;
        self.checkpoint.nodes += nodes;
        self.checkpoint.codes += codes;
        self.checkpoint.bytes += bytes;
        self.checkpoint.complete = self.scheduler.pending() == 0;
        if self.share > 0.0 {
            self.checkpoint.estimated_total = (self.entries_done() as f64 / self.share) as u64;
        }
        self.uncommitted_entries = 0;
        self.uncommitted_bytes = 0;
        if entries == 0 && !force {
            return Ok(());
        }
        self.checkpoint.put(&mut batch);
        batch.put(Namespace::Meta, PROGRESS_SHAPE_KEY.to_vec(), self.scheduler.progress_snapshot());
        let store = self.store.clone();
        let started = Instant::now();
        // Durable at least every `durable_interval` of work, whatever the store's own durability
        // setting (which may make only every n-th batch durable): an often-interrupted sync still
        // advances. The store says which of its writes are durable anyway, so those are counted
        // (and published as durable) too, and need no flush.
        let flush = force || self.last_durable.is_none_or(|at| started - at >= self.config.durable_interval);
        let task = tokio::task::spawn_blocking(move || {
            let durable = store.write_reporting_durability(batch)?;
            if flush && !durable {
                store.flush()?;
            }
            Ok::<bool, kvdb::Error>(durable || flush)
        });
        let committed_entries = self.checkpoint.entries();
        self.writing = Some(Write { task, entries, nodes, codes, bytes, started, committed_entries });
        if force {
            self.finish_write().await?;
        }
        Ok(())
    }

    /// Waits for the write in flight, if any, and takes it back.
    async fn finish_write(&mut self) -> Result<()> {
        let Some(write) = self.writing.take() else { return Ok(()) };
        let mut task = write.task;
        let result = (&mut task).await;
        self.written(Write { task, ..write }, result)
    }

    /// Takes back a write that landed: counts it, or fails the sync if the store failed (nothing more
    /// may be committed: the scheduler no longer holds what it handed over).
    ///
    /// A durable write (flushed, or made durable by the store's own setting) publishes its entries
    /// as [`StateSyncProgress::durable_entries`], and only once it has landed: what a progress
    /// record copies from there is never ahead of what a crash keeps.
    fn written(
        &mut self,
        write: Write,
        result: Result<kvdb::Result<bool>, tokio::task::JoinError>,
    ) -> Result<()> {
        let written = match result {
            Ok(written) => written,
            Err(join) => std::panic::resume_unwind(join.into_panic()),
        };
        let durable = match written {
            Ok(durable) => durable,
            Err(error) => {
                self.store_failed = true;
                return Err(error.into());
            }
        };
        let Write { entries, nodes, codes, bytes, started, committed_entries, .. } = write;
        if durable {
            self.last_durable = Some(started);
            Counters::set(&self.shared.counters.durable_entries, committed_entries);
        }
        let counters = &self.shared.counters;
        Counters::add(&counters.committed_nodes, nodes);
        Counters::add(&counters.committed_codes, codes);
        Counters::add(&counters.committed_bytes, bytes);
        debug!(target: "state_sync", entries, bytes, durable, elapsed = ?started.elapsed(), "committed");
        Ok(())
    }

    /// Entries done in all: those earlier syncs into the store completed, and those this one
    /// processed (what the share of work done counts).
    fn entries_done(&self) -> u64 {
        let before = self.shared.resumed.map_or(0, |checkpoint| checkpoint.entries());
        before + self.shared.counters.processed.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Copies the loop's gauges into the shared counters; the share of work done at most every
    /// [`SHARE_EVERY`] (and at the end).
    fn publish(&mut self) {
        let now = Instant::now();
        let done = self.scheduler.pending() == 0;
        if done || self.last_share.is_none_or(|at| now - at >= SHARE_EVERY) {
            self.last_share = Some(now);
            let resumed = self.shared.resumed.unwrap_or_default();
            let before = resumed.entries();
            // A resumed sync sees the trie again from the top, and until it is back where the last
            // run stopped its scheduler takes what is held for work left: at first (until it has
            // redone a quarter of what the last runs did) and while its scheduler has no estimate,
            // the share is its entries over the last run's estimated total.
            let by_last_run = match resumed.estimated_total {
                0 => None,
                total => Some((self.entries_done() as f64 / total as f64).min(MAX_SHARE_BEFORE_DONE)),
            };
            let estimate = match by_last_run {
                _ if done => Some(1.0),
                Some(share) if self.entries_done() - before < before / 4 => Some(share),
                _ => self.scheduler.progress(before).or(by_last_run),
            };
            if let Some(estimate) = estimate {
                self.share = self.share.max(estimate);
                Counters::set(&self.shared.counters.share, self.share.to_bits());
            }
        }
        let counters = &self.shared.counters;
        Counters::set(&counters.pending, self.scheduler.pending() as u64);
        Counters::set(&counters.queued, self.tasks.queued() as u64);
        Counters::set(&counters.in_flight, self.in_flight.len() as u64);
        Counters::set(&counters.uncommitted_bytes, self.uncommitted_bytes as u64);
    }

    /// The periodic progress line (go-ethereum's "Imported new state entries").
    fn log_progress(&self) {
        let progress = self.handle().progress();
        info!(
            target: "state_sync",
            processed = progress.processed,
            pending = progress.pending,
            retry = progress.queued,
            in_flight = progress.in_flight,
            duplicate = progress.duplicate,
            unexpected = progress.unexpected,
            committed = progress.committed_nodes + progress.committed_codes,
            rate = format_args!("{:.0}/s", progress.rate()),
            "state sync progress"
        );
    }
}

/// Resolves once `cancel` is set (the value's guard is not held across an await, so the future is Send).
async fn cancelled(cancel: &mut watch::Receiver<bool>) {
    // The sender lives as long as the sync: no error.
    let _ = cancel.wait_for(|cancelled| *cancelled).await;
}

/// Sleeps until `deadline` (forever if `None`; the branch using it is then disabled).
async fn sleep_until(deadline: Option<Instant>) {
    match deadline {
        Some(deadline) => tokio::time::sleep_until(deadline).await,
        None => std::future::pending().await,
    }
}

/// Whether two handles are the same connection (a peer that reconnects gets a new one, same id).
fn same_peer(a: &Arc<dyn Peer>, b: &Arc<dyn Peer>) -> bool {
    std::ptr::addr_eq(Arc::as_ptr(a), Arc::as_ptr(b))
}
