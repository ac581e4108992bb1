//! The downloader: owns the peer set's events and the lifetime of state syncs (go-ethereum's
//! `stateFetcher` and `runStateSync`).
//!
//! Good starting points:
//! - [`Downloader`]: [`Downloader::new`] spawns the state fetcher task; [`Downloader::sync_state`]
//!   starts a sync of a root and returns a [`SyncHandle`]. One sync runs at a time; asking for a new
//!   root while one runs switches over (the pivot moved), and everything committed is reused.
//! - [`SyncHandle`]: [`wait`](SyncHandle::wait) for a [`SyncReport`] or a [`DownloadError`],
//!   [`cancel`](SyncHandle::cancel) (idempotent), [`progress`](SyncHandle::progress) snapshots.
//! - [`DownloaderConfig`]: commit threshold, request timeout bounds, stall detection, in-flight cap.
//!
//! Inside, the fetcher tracks every request of the running sync ([`state_sync::StateSync`]): one in
//! flight per peer, each with a deadline; an answer whose request id matches nothing in flight is
//! discarded; a peer's disconnection finalizes its request at once and removes it from the set; a new
//! request to a peer with one in flight finalizes the old one as dropped; when a sync ends, its
//! requests in flight are drained and their peers set idle. A stall detector ends a sync that
//! processes nothing over [`DownloaderConfig::stall_requests`] requests and
//! [`DownloaderConfig::stall_time`], or has no peers for [`DownloaderConfig::no_peers_timeout`].
//!
//! ```
//! use std::sync::Arc;
//!
//! use downloader::{Downloader, DownloaderConfig};
//! use kvdb::{KeyValueStore, MemoryStore, Namespace, WriteBatch};
//! use peers::{peer_events, Behaviour, Fault, InProcessPeer, PeerSet};
//! use trie_sync::{build_secure_trie, StateAccount};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! // A source state, served by two honest peers and one that answers garbage.
//! let accounts = (0u64..200).map(|i| (i.to_be_bytes(), StateAccount::with_balance(i.into()).encode()));
//! let (root, nodes) = build_secure_trie(accounts)?;
//! let source = Arc::new(MemoryStore::new());
//! let mut batch = WriteBatch::new();
//! for (hash, node) in &nodes {
//!     batch.put(Namespace::TrieNodes, hash.as_bytes().to_vec(), node.clone());
//! }
//! source.write(batch)?;
//!
//! let (events, inbox) = peer_events(64);
//! let peers = PeerSet::default();
//! peers.register(InProcessPeer::new("honest-1", source.clone(), events.clone()))?;
//! peers.register(InProcessPeer::new("honest-2", source.clone(), events.clone()))?;
//! let garbage = Behaviour::faulty(Fault::Garbage);
//! peers.register(InProcessPeer::with_behaviour("garbage", source.clone(), events, garbage))?;
//!
//! let local: Arc<dyn KeyValueStore> = Arc::new(MemoryStore::new());
//! let downloader = Downloader::new(local.clone(), peers, inbox, DownloaderConfig::default());
//! let report = downloader.sync_state(root).wait().await?;
//! assert_eq!(report.nodes, nodes.len() as u64);
//! assert_eq!(local.count(Namespace::TrieNodes)?, nodes.len() as u64);
//! # Ok(())
//! # }
//! ```
//!
//! # Features
//! None.

mod config;
mod downloader;
mod error;
mod fetcher;
mod handle;
mod stall;

pub use config::DownloaderConfig;
pub use downloader::Downloader;
pub use error::{DownloadError, Result};
pub use handle::{SyncHandle, SyncProgress, SyncReport};
pub use peers::PeerId;
pub use state_sync::{Checkpoint, DropReason, DEFAULT_COMMIT_THRESHOLD};
