//! A devp2p session on an RLPx connection: the Hello exchange and capability negotiation,
//! then capability messages both ways while the base protocol (Ping/Pong, Disconnect) is
//! handled underneath.
//!
//! # Reader and writer
//! [`Session::into_split`] gives a [`SessionReader`] (the ingress half, owned by one task)
//! and a [`SessionWriter`] (the egress half, cheap to clone, shared by every task that
//! sends). The writer is an `Arc<tokio::sync::Mutex<..>>` around the egress cipher and
//! socket: each `send` seals and writes one whole frame under the lock, so frames never
//! interleave. The reader answers Ping and sends its own Pings through a clone of the same
//! writer, so a Pong waits at most for the frame being written.
//!
//! The session is driven by [`SessionReader::recv`]: keep one task calling it, or Pings are
//! neither answered nor sent.
//!
//! # Closing
//! Every error from `recv` is final: the reader drops its half and the writer's, so the
//! socket closes as soon as no `send` is in flight, and later calls return
//! [`Error::SessionClosed`]. [`SessionWriter::disconnect`] sends a Disconnect and closes.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite};
use tokio::sync::Mutex;
use tokio::time::{sleep_until, timeout, Instant};
use tracing::{debug, instrument, trace, warn};

use crate::capability::{
    negotiate, AdvertisedCapability, Capability, SharedCapability, BASE_PROTOCOL_MESSAGES,
};
use crate::disconnect::DisconnectReason;
use crate::error::{Error, Result};
use crate::hello::{Hello, MAX_HELLO_BYTES, P2P_VERSION};
use crate::node_key::{NodeId, NodeKey};
use crate::stream::{RlpxReader, RlpxStream, RlpxWriter, MAX_FRAME_BYTES, MAX_MESSAGE_BYTES};

/// Base protocol message ids.
const HELLO: u64 = 0x00;
const DISCONNECT: u64 = 0x01;
const PING: u64 = 0x02;
const PONG: u64 = 0x03;
/// Ping and Pong carry an empty list.
const EMPTY_LIST: [u8; 1] = [0xc0];

/// How long to wait for the socket when sending a Disconnect on the way out: the remote
/// may not be reading, and we are leaving anyway.
const DISCONNECT_WRITE_TIMEOUT: Duration = Duration::from_secs(2);

/// What a session says and how patient it is.
#[derive(Debug, Clone)]
pub struct P2pConfig {
    /// Our client name in Hello, e.g. "statesync/v0.1.0".
    pub client_id: String,
    /// The capabilities we speak, with their message counts.
    pub capabilities: Vec<Capability>,
    /// The TCP port we listen on, advertised in Hello (0: not listening).
    pub listen_port: u16,
    /// How often we Ping, to find a dead peer before a request times out (go-ethereum: 15 s).
    pub ping_interval: Duration,
    /// How long a Pong may take before the peer is considered gone.
    pub ping_timeout: Duration,
    /// How long the RLPx handshake and the Hello exchange may take together, so a peer
    /// that accepts the socket and says nothing does not hold a connection slot
    /// (go-ethereum: 5 s).
    pub handshake_timeout: Duration,
    /// The largest message payload (decompressed) we accept and send; the frame limit
    /// follows from it. At most [`MAX_MESSAGE_BYTES`] is useful.
    pub max_message_bytes: usize,
}

impl Default for P2pConfig {
    fn default() -> Self {
        P2pConfig {
            client_id: concat!("statesync/v", env!("CARGO_PKG_VERSION")).to_string(),
            capabilities: Vec::new(),
            listen_port: 0,
            ping_interval: Duration::from_secs(15),
            ping_timeout: Duration::from_secs(20),
            handshake_timeout: Duration::from_secs(5),
            max_message_bytes: MAX_MESSAGE_BYTES,
        }
    }
}

/// A capability message received.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Incoming {
    /// Index of its capability in [`Session::shared_capabilities`].
    pub capability: usize,
    /// The message id within the capability (absolute id minus the capability's offset).
    pub msg_id: u64,
    /// The payload, decompressed.
    pub payload: Vec<u8>,
}

/// An established devp2p session: the remote's Hello, the shared capabilities, and the
/// two halves.
pub struct Session {
    /// The remote's Hello.
    remote_hello: Hello,
    /// The ingress half.
    reader: SessionReader,
    /// The egress half.
    writer: SessionWriter,
}

/// The egress half of a session; clones share the same connection.
#[derive(Clone)]
pub struct SessionWriter {
    inner: Arc<WriterShared>,
}

/// What the writer clones and the reader share.
struct WriterShared {
    /// The egress half; `None` once the session is closed.
    writer: Mutex<Option<RlpxWriter>>,
    /// Set by a reader that failed while a send held the lock: that send drops the writer
    /// when it finishes.
    closing: AtomicBool,
    /// The negotiated capabilities, in offset order.
    shared: Vec<SharedCapability>,
    /// The remote, for logs.
    remote: NodeId,
}

/// The ingress half of a session: receives capability messages and runs the base
/// protocol.
pub struct SessionReader {
    /// The ingress half; `None` once the session is closed.
    reader: Option<RlpxReader>,
    /// For Pongs, Pings and closing.
    writer: SessionWriter,
    /// How often we Ping.
    ping_interval: Duration,
    /// How long a Pong may take.
    ping_timeout: Duration,
    /// When the next Ping is due.
    next_ping: Instant,
    /// When the Pong to our outstanding Ping is due.
    pong_deadline: Option<Instant>,
}

impl Session {
    /// Dials: the RLPx handshake as initiator with `remote`, then the Hello exchange. The
    /// remote's Hello must carry `remote` as its id.
    #[instrument(skip_all, fields(%remote))]
    pub async fn connect<IO>(io: IO, key: &NodeKey, remote: NodeId, config: &P2pConfig) -> Result<Self>
    where
        IO: AsyncRead + AsyncWrite + Unpin + Send + Sync + 'static,
    {
        let work = async {
            let stream = RlpxStream::connect(io, key, remote).await?;
            Self::establish(stream, key, config).await
        };
        timeout(config.handshake_timeout, work)
            .await
            .map_err(|_| Error::HandshakeTimeout { timeout: config.handshake_timeout })?
    }

    /// Accepts: the RLPx handshake as recipient, then the Hello exchange.
    #[instrument(skip_all)]
    pub async fn accept<IO>(io: IO, key: &NodeKey, config: &P2pConfig) -> Result<Self>
    where
        IO: AsyncRead + AsyncWrite + Unpin + Send + Sync + 'static,
    {
        let work = async {
            let stream = RlpxStream::accept(io, key).await?;
            Self::establish(stream, key, config).await
        };
        timeout(config.handshake_timeout, work)
            .await
            .map_err(|_| Error::HandshakeTimeout { timeout: config.handshake_timeout })?
    }

    /// The Hello exchange on an RLPx stream.
    async fn establish(mut stream: RlpxStream, key: &NodeKey, config: &P2pConfig) -> Result<Self> {
        let remote = stream.remote_id();
        let ours = Hello {
            protocol_version: P2P_VERSION,
            client_id: config.client_id.clone(),
            capabilities: config
                .capabilities
                .iter()
                .map(|c| AdvertisedCapability { name: c.name.clone(), version: c.version })
                .collect(),
            listen_port: config.listen_port.into(),
            id: key.id(),
        };
        // Nothing before the Hello may be large.
        stream.reader_mut().set_max_frame_bytes(MAX_HELLO_BYTES);
        stream.reader_mut().set_max_message_bytes(MAX_HELLO_BYTES);
        stream.send(HELLO, &ours.encode()).await?;
        let (id, payload) = stream.recv().await?;
        let theirs = match id {
            HELLO => Hello::decode(&payload)?,
            DISCONNECT => return Err(Error::Disconnected { reason: DisconnectReason::decode(&payload) }),
            got => return Err(Error::UnexpectedMessage { expected: "Hello", got }),
        };
        // From here on the remote has our Hello, so it expects compression.
        stream.set_snappy(theirs.protocol_version >= 5);
        if theirs.id != remote {
            warn!(target: "rlpx::session", %remote, got = %theirs.id, "Hello id is not the handshake's key");
            disconnect_quietly(&mut stream, DisconnectReason::UnexpectedIdentity).await;
            return Err(Error::UnexpectedIdentity { expected: Box::new(remote), got: Box::new(theirs.id) });
        }
        let shared = negotiate(&config.capabilities, &theirs.capabilities);
        if shared.is_empty() && !config.capabilities.is_empty() {
            disconnect_quietly(&mut stream, DisconnectReason::UselessPeer).await;
            return Err(Error::NoSharedCapability { hello: Box::new(theirs) });
        }
        let max_frame = if theirs.protocol_version >= 5 {
            snap::raw::max_compress_len(config.max_message_bytes)
        } else {
            config.max_message_bytes
        }
        .saturating_add(9);
        stream.reader_mut().set_max_frame_bytes(max_frame.min(MAX_FRAME_BYTES));
        stream.reader_mut().set_max_message_bytes(config.max_message_bytes);
        stream.writer_mut().set_max_message_bytes(config.max_message_bytes);
        debug!(
            target: "rlpx::session",
            %remote,
            client = %theirs.client_id,
            version = theirs.protocol_version,
            shared = ?shared.iter().map(|c| format!("{}/{}", c.name, c.version)).collect::<Vec<_>>(),
            "session established"
        );

        let (reader, writer) = stream.into_split();
        let writer = SessionWriter {
            inner: Arc::new(WriterShared {
                writer: Mutex::new(Some(writer)),
                closing: AtomicBool::new(false),
                shared,
                remote,
            }),
        };
        let now = Instant::now();
        let reader = SessionReader {
            reader: Some(reader),
            writer: writer.clone(),
            ping_interval: config.ping_interval,
            ping_timeout: config.ping_timeout,
            next_ping: now + config.ping_interval,
            pong_deadline: None,
        };
        Ok(Session { remote_hello: theirs, reader, writer })
    }

    /// The remote's Hello (client id, capabilities, node id).
    pub fn remote_hello(&self) -> &Hello {
        &self.remote_hello
    }

    /// The remote's node id.
    pub fn remote_id(&self) -> NodeId {
        self.writer.inner.remote
    }

    /// The capabilities both sides speak, in message-id order.
    pub fn shared_capabilities(&self) -> &[SharedCapability] {
        self.writer.shared_capabilities()
    }

    /// Sends message `msg_id` of the shared capability at index `capability`.
    pub async fn send(&self, capability: usize, msg_id: u64, payload: &[u8]) -> Result<()> {
        self.writer.send(capability, msg_id, payload).await
    }

    /// Receives the next capability message, handling the base protocol meanwhile.
    pub async fn recv(&mut self) -> Result<Incoming> {
        self.reader.recv().await
    }

    /// Sends a Disconnect with `reason` and closes.
    pub async fn disconnect(self, reason: DisconnectReason) -> Result<()> {
        self.writer.disconnect(reason).await
    }

    /// Splits into the reader (for one task) and the writer (cloneable); the Hello is
    /// returned too.
    pub fn into_split(self) -> (SessionReader, SessionWriter, Hello) {
        (self.reader, self.writer, self.remote_hello)
    }
}

/// Best-effort Disconnect during the Hello exchange.
async fn disconnect_quietly(stream: &mut RlpxStream, reason: DisconnectReason) {
    let _ = timeout(DISCONNECT_WRITE_TIMEOUT, stream.send(DISCONNECT, &reason.encode())).await;
}

impl SessionWriter {
    /// The capabilities both sides speak, in message-id order.
    pub fn shared_capabilities(&self) -> &[SharedCapability] {
        &self.inner.shared
    }

    /// The index of the shared capability named `name`.
    pub fn capability_index(&self, name: &str) -> Option<usize> {
        self.inner.shared.iter().position(|c| c.name == name)
    }

    /// The remote's node id.
    pub fn remote_id(&self) -> NodeId {
        self.inner.remote
    }

    /// Sends message `msg_id` of the shared capability at index `capability`.
    pub async fn send(&self, capability: usize, msg_id: u64, payload: &[u8]) -> Result<()> {
        let cap = self.inner.shared.get(capability).ok_or(Error::UnknownCapability { index: capability })?;
        if msg_id >= cap.messages {
            return Err(Error::MessageIdOutOfRange {
                capability: cap.name.clone(),
                msg_id,
                messages: cap.messages,
            });
        }
        self.send_raw(cap.offset + msg_id, payload).await
    }

    /// Sends a Disconnect with `reason` (waiting a bounded time for the socket) and closes.
    pub async fn disconnect(&self, reason: DisconnectReason) -> Result<()> {
        let mut guard = self.inner.writer.lock().await;
        let Some(mut writer) = guard.take() else {
            return Err(Error::SessionClosed);
        };
        debug!(target: "rlpx::session", remote = %self.inner.remote, %reason, "disconnecting");
        let sent = timeout(DISCONNECT_WRITE_TIMEOUT, async {
            writer.send(DISCONNECT, &reason.encode()).await?;
            writer.shutdown().await
        })
        .await;
        match sent {
            Ok(result) => result,
            Err(_) => Ok(()), // the remote is not reading; we close anyway
        }
    }

    /// Sends one message by absolute id.
    async fn send_raw(&self, id: u64, payload: &[u8]) -> Result<()> {
        let mut guard = self.inner.writer.lock().await;
        if self.inner.closing.load(Ordering::Acquire) {
            *guard = None;
        }
        let writer = guard.as_mut().ok_or(Error::SessionClosed)?;
        let result = writer.send(id, payload).await;
        if result.is_err() || self.inner.closing.load(Ordering::Acquire) {
            *guard = None;
        }
        result
    }

    /// Drops the egress half now, or (if a send holds it) as soon as that send is done.
    fn close(&self) {
        self.inner.closing.store(true, Ordering::Release);
        if let Ok(mut guard) = self.inner.writer.try_lock() {
            *guard = None;
        }
    }
}

/// What the reader's wait ended with.
enum Event {
    Message(Result<(u64, Vec<u8>)>),
    Timer,
}

impl SessionReader {
    /// The capabilities both sides speak, in message-id order.
    pub fn shared_capabilities(&self) -> &[SharedCapability] {
        self.writer.shared_capabilities()
    }

    /// The remote's node id.
    pub fn remote_id(&self) -> NodeId {
        self.writer.inner.remote
    }

    /// Receives the next capability message. Meanwhile it answers Pings, sends ours every
    /// ping interval, and fails with [`Error::PingTimeout`] when a Pong is late. A
    /// Disconnect from the remote is [`Error::Disconnected`]. Any error closes the session.
    /// Cancel-safe.
    pub async fn recv(&mut self) -> Result<Incoming> {
        let result = self.next_incoming().await;
        if let Err(error) = &result {
            if self.reader.is_some() {
                debug!(target: "rlpx::session", remote = %self.remote_id(), %error, "closing session");
                self.reader = None;
                self.writer.close();
            }
        }
        result
    }

    async fn next_incoming(&mut self) -> Result<Incoming> {
        loop {
            let reader = self.reader.as_mut().ok_or(Error::SessionClosed)?;
            let deadline = self.pong_deadline.unwrap_or(self.next_ping);
            let event = tokio::select! {
                message = reader.recv() => Event::Message(message),
                _ = sleep_until(deadline) => Event::Timer,
            };
            let (id, payload) = match event {
                Event::Message(message) => message?,
                Event::Timer => {
                    if self.pong_deadline.is_some() {
                        return Err(Error::PingTimeout { timeout: self.ping_timeout });
                    }
                    trace!(target: "rlpx::session", remote = %self.remote_id(), "ping");
                    self.writer.send_raw(PING, &EMPTY_LIST).await?;
                    let now = Instant::now();
                    self.pong_deadline = Some(now + self.ping_timeout);
                    self.next_ping = now + self.ping_interval;
                    continue;
                }
            };
            match id {
                PING => {
                    trace!(target: "rlpx::session", remote = %self.remote_id(), "pong");
                    self.writer.send_raw(PONG, &EMPTY_LIST).await?;
                }
                PONG => self.pong_deadline = None,
                DISCONNECT => {
                    let reason = DisconnectReason::decode(&payload);
                    debug!(target: "rlpx::session", remote = %self.remote_id(), ?reason, "remote disconnected");
                    return Err(Error::Disconnected { reason });
                }
                // A second Hello and the reserved base ids are ignored, as go-ethereum does.
                id if id < BASE_PROTOCOL_MESSAGES => {
                    trace!(target: "rlpx::session", id, "ignoring base protocol message");
                }
                id => {
                    let shared = self.writer.shared_capabilities();
                    let capability =
                        shared.iter().position(|c| c.contains(id)).ok_or(Error::UnknownMessageId { id })?;
                    return Ok(Incoming { capability, msg_id: id - shared[capability].offset, payload });
                }
            }
        }
    }
}
