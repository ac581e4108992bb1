//! One state sync of one root: the [`trie_sync`] scheduler joined to [`peers`], in the spirit of
//! go-ethereum's `stateSync` (`eth/downloader/statesync.go`).
//!
//! Good starting points:
//! - [`StateSync`]: the sync. [`StateSync::run`] loops until every node, storage trie and code blob
//!   under the root is stored: it commits when [`StateSyncConfig::commit_threshold`] bytes are
//!   waiting, assigns hashes to idle peers sized by their capacity (never re-asking a peer for a hash
//!   it failed to deliver, unless it timed out, delivered part of its request or its request was
//!   dropped), and processes
//!   finished requests: every blob is hashed and handed to the scheduler; duplicates and unexpected
//!   blobs are counted; a peer that sends only unrequested data, or lets a request of ≤ 2 items time
//!   out, or whose request cannot be sent, is dropped; a hash that failed with every connected peer
//!   ends the sync with [`StateSyncError::NodeUnavailable`] naming it; a blob that hashes to a
//!   requested node but does not decode ends it at once with [`StateSyncError::CorruptState`] (no
//!   peer can forge it: the state is corrupt).
//! - [`TrackerLink`]: how a sync talks to whoever sends its [`Request`]s and times them (the
//!   `downloader` crate's `run_state_sync`): requests out, [`Finished`] requests back, both bounded.
//! - [`StateSyncHandle`]: cancel (idempotent), wait for the end, [`StateSyncProgress`] snapshots.
//! - [`Checkpoint`]: the progress persisted in [`kvdb::Namespace::Meta`] with every commit, in the same
//!   atomic batch as the entries, so a restart reports where it left off.
//!
//! A sync with the simplest possible tracker (one peer, one request at a time, no timeouts):
//!
//! ```
//! use std::sync::Arc;
//! use std::time::Duration;
//!
//! use kvdb::{KeyValueStore, MemoryStore, Namespace, WriteBatch};
//! use peers::{peer_events, InProcessPeer, PeerEvent, PeerResponse, PeerSet};
//! use state_sync::{Finished, Outcome, StateSync, StateSyncConfig};
//! use trie_sync::{build_secure_trie, StateAccount};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! // A source holding a small state, served by one in-process peer.
//! let accounts = (0u64..50).map(|i| (i.to_be_bytes(), StateAccount::with_balance(i.into()).encode()));
//! let (root, nodes) = build_secure_trie(accounts)?;
//! let source = Arc::new(MemoryStore::new());
//! let mut batch = WriteBatch::new();
//! for (hash, node) in &nodes {
//!     batch.put(Namespace::TrieNodes, hash.as_bytes().to_vec(), node.clone());
//! }
//! source.write(batch)?;
//! let (events, mut inbox) = peer_events(16);
//! let peers = PeerSet::default();
//! peers.register(InProcessPeer::new("source", source, events))?;
//!
//! // The sync, into an empty store.
//! let local: Arc<dyn KeyValueStore> = Arc::new(MemoryStore::new());
//! let (sync, mut link) = StateSync::new(root, local.clone(), peers.clone(), StateSyncConfig::default())?;
//! let running = tokio::spawn(sync.run());
//!
//! // The tracker: send each request, hand the answer back.
//! while let Some(request) = link.requests.recv().await {
//!     let request_id = peers.next_request_id();
//!     request.peer().request(request_id, request.to_peer_request()).await?;
//!     let Some(PeerEvent::Response { response: PeerResponse::NodeData { blobs }, .. }) = inbox.recv().await
//!     else {
//!         break;
//!     };
//!     let outcome = Outcome::Delivered { blobs, elapsed: Duration::from_millis(1) };
//!     let Some(permit) = link.deliveries.reserve().await else { break };
//!     permit.send(Finished { request, outcome });
//! }
//! let report = running.await??;
//! assert_eq!(report.progress.committed_nodes, nodes.len() as u64);
//! assert_eq!(local.count(Namespace::TrieNodes)?, nodes.len() as u64);
//! # Ok(())
//! # }
//! ```
//!
//! # Features
//! None.

mod checkpoint;
mod config;
mod drop_reason;
mod error;
mod request;
mod stats;
mod sync;
mod tasks;

pub use checkpoint::{Checkpoint, CHECKPOINT_KEY, PROGRESS_SHAPE_KEY};
pub use config::{StateSyncConfig, DEFAULT_COMMIT_THRESHOLD, DEFAULT_DURABLE_INTERVAL};
pub use drop_reason::DropReason;
pub use error::{Result, StateSyncError};
pub use request::{
    DeliveryPermit, DeliverySender, DroppedBecause, Finished, Outcome, Request, RequestReceiver, TrackerLink,
};
pub use stats::{StateSyncProgress, StateSyncReport};
pub use sync::{StateSync, StateSyncHandle};
