//! The TCP server side: answers GetNodeData from a store, for any number of peers up to a cap.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use kvdb::KeyValueStore;
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinSet;
use tracing::Instrument;

use crate::frame::{read_message, FrameLimits, ReadError, MAX_REQUEST_FRAME_BYTES};
use crate::handshake::{handshake, send, send_disconnect};
use crate::{answer_node_data_blocking, DisconnectReason, Message, PeerError, PeerId, TcpConfig, WireError};

/// How long a refused connection (over the cap) is given to receive its Disconnect: short, since such
/// connections are not counted against the cap and could otherwise pile up.
const REFUSAL_WRITE_TIMEOUT: Duration = Duration::from_secs(1);

/// Pause after a failed accept (for example out of file descriptors), so the loop does not spin.
const ACCEPT_ERROR_BACKOFF: Duration = Duration::from_millis(100);

/// Settings of a [`NodeDataServer`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerConfig {
    /// Handshake, timeouts and frame deadlines, shared with the client side (except
    /// [`TcpConfig::idle_timeout`], the server's alone).
    pub tcp: TcpConfig,
    /// Connections served at once (handshaking ones included); more are sent Disconnect{too many peers}
    /// and closed, so the server's memory and store load stay bounded.
    pub max_peers: usize,
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self { tcp: TcpConfig::default(), max_peers: 50 }
    }
}

/// Stops a running [`NodeDataServer`]: cheap to clone, usable from anywhere.
#[derive(Debug, Clone)]
pub struct ShutdownHandle {
    signal: Arc<watch::Sender<bool>>,
}

impl ShutdownHandle {
    /// Asks the server to stop: it stops accepting, says Disconnect{quitting} to every peer between
    /// requests, and [`NodeDataServer::run`] returns once all connections are closed.
    pub fn shutdown(&self) {
        self.signal.send_replace(true);
    }
}

/// A wire v1 server answering GetNodeData from a [`KeyValueStore`] (trie nodes, then code).
///
/// Each connection: Status exchange within [`TcpConfig::handshake_timeout`] (a version or network
/// mismatch is told with Disconnect and closed), then GetNodeData answered one at a time, in order,
/// with [`answer_node_data`] (request order, missing hashes omitted, stopping before
/// [`SOFT_RESPONSE_BYTES`](crate::SOFT_RESPONSE_BYTES)). More than
/// [`MAX_HASHES_PER_REQUEST`](crate::MAX_HASHES_PER_REQUEST) hashes, a frame over
/// [`MAX_REQUEST_FRAME_BYTES`](crate::MAX_REQUEST_FRAME_BYTES) (16 KiB: refused from its header, so a
/// connection never buffers more), malformed messages and messages a client should not send are
/// breaches: Disconnect{protocol breach}, then close. A client silent for
/// [`TcpConfig::idle_timeout`] (60 s by default) between requests, or taking longer than
/// [`TcpConfig::frame_timeout`] (20 s) to finish a frame it began, is sent Disconnect{timeout} and
/// closed, so neither idle nor dripping clients can hold the [`ServerConfig::max_peers`] slots. A
/// client that closes the connection, even inside a frame, is just gone: no Disconnect is sent.
///
/// ```no_run
/// # async fn example(store: std::sync::Arc<dyn kvdb::KeyValueStore>) -> Result<(), peers::PeerError> {
/// use peers::{NodeDataServer, ServerConfig};
///
/// let server = NodeDataServer::bind("127.0.0.1:0".parse().unwrap(), store, ServerConfig::default()).await?;
/// let (addr, stop) = (server.local_addr(), server.shutdown_handle());
/// let running = tokio::spawn(server.run());
/// // ... peers connect to `addr` ...
/// stop.shutdown();
/// running.await.unwrap();
/// # Ok(())
/// # }
/// ```
pub struct NodeDataServer {
    listener: TcpListener,
    local_addr: SocketAddr,
    store: Arc<dyn KeyValueStore>,
    config: ServerConfig,
    shutdown: Arc<watch::Sender<bool>>,
}

impl std::fmt::Debug for NodeDataServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NodeDataServer")
            .field("local_addr", &self.local_addr)
            .field("config", &self.config)
            .finish()
    }
}

impl NodeDataServer {
    /// Listens on `addr` (port 0 picks a free port; see [`NodeDataServer::local_addr`]).
    pub async fn bind(
        addr: SocketAddr,
        store: Arc<dyn KeyValueStore>,
        config: ServerConfig,
    ) -> Result<Self, PeerError> {
        let listener = TcpListener::bind(addr).await.map_err(|source| PeerError::Bind { addr, source })?;
        let local_addr = listener.local_addr().map_err(|source| PeerError::Bind { addr, source })?;
        Ok(Self { listener, local_addr, store, config, shutdown: Arc::new(watch::channel(false).0) })
    }

    /// The address it listens on.
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// A handle that stops the server.
    pub fn shutdown_handle(&self) -> ShutdownHandle {
        ShutdownHandle { signal: self.shutdown.clone() }
    }

    /// Serves until shut down through a [`ShutdownHandle`], then waits for every connection to close.
    #[tracing::instrument(target = "peers::server", skip_all, fields(addr = %self.local_addr))]
    pub async fn run(self) {
        let mut stop = self.shutdown.subscribe();
        let mut connections = JoinSet::new();
        tracing::info!(target: "peers::server", max_peers = self.config.max_peers, "serving node data");
        loop {
            tokio::select! {
                _ = stopped(&mut stop) => break,
                Some(_) = connections.join_next(), if !connections.is_empty() => {}
                accepted = self.listener.accept() => {
                    let (stream, remote) = match accepted {
                        Ok(accepted) => accepted,
                        Err(error) => {
                            tracing::warn!(target: "peers::server", %error, "accept failed");
                            tokio::time::sleep(ACCEPT_ERROR_BACKOFF).await;
                            continue;
                        }
                    };
                    let peer = PeerId::from(remote);
                    if connections.len() >= self.config.max_peers {
                        tracing::info!(target: "peers::server", %peer, peers = connections.len(), "refused: too many peers");
                        tokio::spawn(refuse(stream, peer));
                        continue;
                    }
                    let span = tracing::info_span!(target: "peers::server", "connection", %peer);
                    let serve = serve_connection(stream, peer, self.store.clone(), self.config.tcp.clone(), stop.clone());
                    connections.spawn(serve.instrument(span));
                }
            }
        }
        tracing::info!(target: "peers::server", peers = connections.len(), "shutting down");
        while connections.join_next().await.is_some() {}
    }
}

/// Resolves once shutdown is asked for (or the server is gone).
async fn stopped(stop: &mut watch::Receiver<bool>) {
    let _ = stop.wait_for(|stopped| *stopped).await;
}

/// Tells a connection over the cap that we have too many peers, and closes it.
async fn refuse(mut stream: TcpStream, peer: PeerId) {
    send_disconnect(&mut stream, DisconnectReason::TooManyPeers, &peer, REFUSAL_WRITE_TIMEOUT).await;
    let _ = stream.shutdown().await;
}

/// Serves one connection until it ends or the server stops.
async fn serve_connection(
    mut stream: TcpStream,
    peer: PeerId,
    store: Arc<dyn KeyValueStore>,
    config: TcpConfig,
    mut stop: watch::Receiver<bool>,
) {
    let _ = stream.set_nodelay(true);
    tracing::info!(target: "peers::server", "peer connected");
    if let Err(error) = handshake(&mut stream, &peer, &config).await {
        tracing::info!(target: "peers::server", %error, "handshake failed");
        let _ = stream.shutdown().await;
        return;
    }
    // Requests are small: anything larger than the largest legitimate one is refused from its header.
    let limits = FrameLimits {
        max_bytes: MAX_REQUEST_FRAME_BYTES,
        idle_timeout: Some(config.idle_timeout),
        frame_timeout: config.frame_timeout,
    };
    let mut requests = 0u64;
    let mut blobs_served = 0u64;
    let outcome: String = loop {
        let read = tokio::select! {
            biased;
            _ = stopped(&mut stop) => {
                send_disconnect(&mut stream, DisconnectReason::Quitting, &peer, config.write_timeout).await;
                break "server shutting down".into();
            }
            read = read_message(&mut stream, limits) => read,
        };
        let breach = match read {
            Ok(Some(Message::GetNodeData { request_id, hashes })) => {
                let count = hashes.len();
                let blobs = match answer_node_data_blocking(store.clone(), hashes).await {
                    Ok(blobs) => blobs,
                    Err(error) => {
                        tracing::error!(target: "peers::server", %error, "answering with nothing");
                        Vec::new()
                    }
                };
                tracing::trace!(target: "peers::server", request_id, requested = count, served = blobs.len(), "answered");
                requests += 1;
                blobs_served += blobs.len() as u64;
                if let Err(error) =
                    send(&mut stream, &Message::NodeData { request_id, blobs }, &peer, config.write_timeout)
                        .await
                {
                    break format!("write failed: {error}");
                }
                continue;
            }
            Ok(Some(Message::Disconnect { reason })) => break format!("peer disconnected: {reason}"),
            Ok(Some(other)) => WireError::UnexpectedMessage { message: other.name() },
            Ok(None) => break "peer closed the connection".into(),
            Err(ReadError::Wire(error)) => error,
            Err(ReadError::Io(error)) => break format!("read failed: {error}"),
            Err(ReadError::Idle) => {
                send_disconnect(&mut stream, DisconnectReason::Timeout, &peer, config.write_timeout).await;
                break format!("idle for {:?}", config.idle_timeout);
            }
            Err(ReadError::FrameTimeout { expected, got }) => {
                send_disconnect(&mut stream, DisconnectReason::Timeout, &peer, config.write_timeout).await;
                break format!("frame stalled: {got} of {expected} bytes in {:?}", config.frame_timeout);
            }
        };
        send_disconnect(&mut stream, DisconnectReason::ProtocolBreach, &peer, config.write_timeout).await;
        break format!("protocol breach: {breach}");
    };
    let _ = stream.shutdown().await;
    tracing::info!(target: "peers::server", requests, blobs_served, %outcome, "peer disconnected");
}
