//! The TCP transport, client side: a connected [`Peer`] speaking wire v1.

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;

use async_trait::async_trait;
use tokio::io::AsyncWriteExt;
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::TcpStream;
use tokio::sync::Mutex;
use tracing::Instrument;

use crate::frame::{read_message, FrameLimits, ReadError, MAX_RESPONSE_FRAME_BYTES};
use crate::handshake::{handshake, send, send_disconnect};
use crate::{
    Capabilities, CloseSignal, CloseWatch, DisconnectCause, DisconnectReason, Message, Peer, PeerError,
    PeerEvent, PeerEventSender, PeerId, PeerRequest, PeerResponse, SentRequests, TcpConfig, WireError, H256,
    MAX_HASHES_PER_REQUEST, MAX_UNREQUESTED_RESPONSES,
};

/// A peer reached over TCP: connected, handshaken, with a reader task turning its frames into
/// [`PeerEvent`]s.
///
/// Requests are written under a lock (one frame at a time) within [`TcpConfig::write_timeout`]. Only
/// answers to requests sent on this connection and not yet answered are forwarded: an answer that
/// comes after the sync layer gave up on its request is still delivered (the receiver discards it),
/// but NodeData with a request id never sent, or a second answer to one, is dropped, and more than 8
/// of those end the connection as a protocol breach
/// ([`WireError::UnrequestedResponses`](crate::WireError::UnrequestedResponses)). Frames are read up
/// to [`MAX_RESPONSE_FRAME_BYTES`](crate::MAX_RESPONSE_FRAME_BYTES); one the peer began must be
/// complete within [`TcpConfig::frame_timeout`], else we close the connection with Disconnect{timeout}
/// (cause [`DisconnectCause::Local`]).
///
/// The reader task ends the connection on EOF (also inside a frame: a lost connection, not a breach),
/// on an I/O error, on a Disconnect from the peer, on any protocol breach (answering
/// Disconnect{protocol breach}), on a stalled frame, or when we disconnect or drop the last handle,
/// even while it waits for room in a full events channel; it then emits one
/// [`PeerEvent::Disconnected`].
pub struct TcpPeer {
    id: PeerId,
    remote_addr: SocketAddr,
    remote_head_root: H256,
    connection: Arc<Connection>,
}

/// What the handle and the reader task share.
struct Connection {
    /// The write half; `None` once the connection is closed.
    writer: Mutex<Option<OwnedWriteHalf>>,
    /// Set (once) when we close the connection, with the reason to send; the reader task watches it.
    close: CloseSignal,
    /// Request ids written and not yet answered.
    in_flight: SentRequests,
    config: TcpConfig,
}

impl std::fmt::Debug for TcpPeer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TcpPeer").field("id", &self.id).field("remote_addr", &self.remote_addr).finish()
    }
}

impl TcpPeer {
    /// Connects to `addr`, exchanges Status (a version or network mismatch fails, after telling the peer
    /// with Disconnect), and starts the reader task reporting to `events`. The peer's id is
    /// `remote-address/local-port`: unique per connection, even for two connections to one server.
    #[tracing::instrument(target = "peers::tcp", skip_all, fields(%addr))]
    pub async fn connect(
        addr: SocketAddr,
        config: TcpConfig,
        events: PeerEventSender,
    ) -> Result<Arc<TcpPeer>, PeerError> {
        let id = PeerId::from(addr);
        let mut stream = match tokio::time::timeout(config.handshake_timeout, TcpStream::connect(addr)).await
        {
            Ok(Ok(stream)) => stream,
            Ok(Err(source)) => return Err(PeerError::Io { peer: id, source }),
            Err(_) => return Err(PeerError::HandshakeTimeout { peer: id }),
        };
        // The id names this connection, not just the server: two connections to one address must not
        // share an id, or one's disconnect would unregister the other from a peer set.
        let id = match stream.local_addr() {
            Ok(local) => PeerId::new(format!("{addr}/{}", local.port())),
            Err(_) => id,
        };
        // Requests are small and latency-bound: send them at once.
        let _ = stream.set_nodelay(true);
        let status = match handshake(&mut stream, &id, &config).await {
            Ok(status) => status,
            Err(error) => {
                let _ = stream.shutdown().await;
                return Err(error);
            }
        };
        tracing::debug!(target: "peers::tcp", peer = %id, "connected");
        let (reader, writer) = stream.into_split();
        let close = CloseSignal::default();
        let closed = close.watch();
        let connection = Arc::new(Connection {
            writer: Mutex::new(Some(writer)),
            close,
            in_flight: SentRequests::default(),
            config,
        });
        let task = read_loop(id.clone(), reader, connection.clone(), closed, events);
        tokio::spawn(task.instrument(tracing::debug_span!(target: "peers::tcp", "reader", peer = %id)));
        Ok(Arc::new(TcpPeer { id, remote_addr: addr, remote_head_root: status.head_root, connection }))
    }

    /// The peer's address.
    pub fn remote_addr(&self) -> SocketAddr {
        self.remote_addr
    }

    /// The state root the peer announced in its Status.
    pub fn remote_head_root(&self) -> H256 {
        self.remote_head_root
    }

    /// Whether we have closed the connection (the peer closing it shows as a
    /// [`PeerEvent::Disconnected`] and failing requests).
    pub fn is_closed(&self) -> bool {
        self.connection.close.is_closed()
    }
}

impl Drop for TcpPeer {
    fn drop(&mut self) {
        // Stops the reader task, which says goodbye to the peer.
        self.connection.request_close(DisconnectReason::Requested);
    }
}

impl Connection {
    /// Asks the reader task to close the connection with `reason`, unless it is already closing.
    fn request_close(&self, reason: DisconnectReason) {
        self.close.request(reason);
    }

    /// Writes `message`; on failure the connection is closed.
    async fn write(&self, peer: &PeerId, message: &Message) -> Result<(), PeerError> {
        let mut writer = self.writer.lock().await;
        let Some(half) = writer.as_mut() else { return Err(PeerError::Disconnected { peer: peer.clone() }) };
        let result = send(half, message, peer, self.config.write_timeout).await;
        if let Err(error) = &result {
            *writer = None;
            let reason = match error {
                PeerError::WriteTimeout { .. } => DisconnectReason::Timeout,
                _ => DisconnectReason::NetworkError,
            };
            drop(writer);
            self.request_close(reason);
        }
        result
    }
}

#[async_trait]
impl Peer for TcpPeer {
    fn id(&self) -> &PeerId {
        &self.id
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities::NODE_DATA
    }

    async fn request(&self, request_id: u64, request: PeerRequest) -> Result<(), PeerError> {
        let hashes = request.into_node_data_hashes(&self.id, MAX_HASHES_PER_REQUEST)?;
        if self.is_closed() {
            return Err(PeerError::Disconnected { peer: self.id.clone() });
        }
        self.connection.in_flight.track(request_id);
        self.connection.write(&self.id, &Message::GetNodeData { request_id, hashes }).await
    }

    async fn disconnect(&self, reason: DisconnectReason) {
        self.connection.request_close(reason);
    }
}

/// How the reader task ends the connection: the cause it reports and the Disconnect it sends (none
/// when the peer closed it).
type Ending = (DisconnectCause, Option<DisconnectReason>);

/// The ending when we close the connection with `reason`.
fn closed_locally(reason: DisconnectReason) -> Ending {
    (DisconnectCause::Local { reason }, Some(reason))
}

/// The ending for a protocol breach.
fn breach(error: WireError) -> Ending {
    (DisconnectCause::ProtocolBreach { error: error.into() }, Some(DisconnectReason::ProtocolBreach))
}

/// Reads frames until the connection ends, forwarding answers to requests we sent; then closes the
/// write half (saying Disconnect when we are the ones closing) and emits Disconnected.
async fn read_loop(
    peer: PeerId,
    mut reader: OwnedReadHalf,
    connection: Arc<Connection>,
    mut closed: CloseWatch,
    events: PeerEventSender,
) {
    let limits = FrameLimits {
        max_bytes: MAX_RESPONSE_FRAME_BYTES,
        idle_timeout: None,
        frame_timeout: connection.config.frame_timeout,
    };
    let mut unrequested = 0usize;
    let (cause, goodbye): Ending = loop {
        let read = tokio::select! {
            biased;
            reason = closed.closed() => break closed_locally(reason),
            read = read_message(&mut reader, limits) => read,
        };
        match read {
            Ok(Some(Message::NodeData { request_id, blobs })) => {
                if !connection.in_flight.settle(request_id) {
                    unrequested += 1;
                    tracing::debug!(target: "peers::tcp", %peer, request_id, unrequested, "dropped an unrequested answer");
                    if unrequested > MAX_UNREQUESTED_RESPONSES {
                        break breach(WireError::UnrequestedResponses {
                            count: unrequested,
                            max: MAX_UNREQUESTED_RESPONSES,
                        });
                    }
                    continue;
                }
                let response = PeerResponse::NodeData { blobs };
                let event = PeerEvent::Response { peer: peer.clone(), request_id, response };
                // The channel is shared and bounded: while it is full, still obey a close.
                tokio::select! {
                    biased;
                    reason = closed.closed() => break closed_locally(reason),
                    sent = events.send(event) => if !sent {
                        // Nobody listens any more.
                        break (
                            DisconnectCause::Local { reason: DisconnectReason::Requested },
                            Some(DisconnectReason::Requested),
                        );
                    },
                }
            }
            Ok(Some(Message::GetNodeData { request_id, .. })) => {
                // A client serves nothing: answer with no blobs, as a server missing every hash would.
                let _ = connection.write(&peer, &Message::NodeData { request_id, blobs: Vec::new() }).await;
            }
            Ok(Some(Message::Disconnect { reason })) => break (DisconnectCause::Remote { reason }, None),
            Ok(Some(message @ Message::Status { .. })) => {
                break breach(WireError::UnexpectedMessage { message: message.name() });
            }
            Ok(None) => break (DisconnectCause::ConnectionLost { kind: io::ErrorKind::UnexpectedEof }, None),
            Err(ReadError::Wire(error)) => break breach(error),
            Err(ReadError::Io(error)) => {
                break (DisconnectCause::ConnectionLost { kind: error.kind() }, None)
            }
            Err(ReadError::FrameTimeout { expected, got }) => {
                tracing::debug!(target: "peers::tcp", %peer, expected, got, "frame stalled");
                let reason = DisconnectReason::Timeout;
                break (DisconnectCause::Local { reason }, Some(reason));
            }
            Err(ReadError::Idle) => {
                // Not asked for (no idle timeout on the client side); treated as a stall all the same.
                let reason = DisconnectReason::Timeout;
                break (DisconnectCause::Local { reason }, Some(reason));
            }
        }
    };
    // Refuse requests from now on, then close the write half.
    connection.request_close(DisconnectReason::Requested);
    let writer = connection.writer.lock().await.take();
    if let Some(mut writer) = writer {
        if let Some(reason) = goodbye {
            send_disconnect(&mut writer, reason, &peer, connection.config.write_timeout).await;
        }
        let _ = writer.shutdown().await;
    }
    tracing::debug!(target: "peers::tcp", %peer, %cause, "disconnected");
    events.send(PeerEvent::Disconnected { peer, cause }).await;
}
