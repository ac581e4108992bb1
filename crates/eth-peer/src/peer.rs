//! An Ethereum peer over RLPx as a [`peers::Peer`]: node data by hash on eth/66.

use std::io;
use std::sync::Arc;

use async_trait::async_trait;
use eth_wire::{EthVersion, GetNodeData, Message, MessageId, NodeData, RequestId, Status};
use peers::{
    Breach, Capabilities, CloseSignal, CloseWatch, DisconnectCause, DisconnectReason, Peer, PeerError,
    PeerEvent, PeerEventSender, PeerId, PeerRequest, PeerResponse, SentRequests, MAX_HASHES_PER_REQUEST,
    MAX_UNREQUESTED_RESPONSES,
};
use rlpx::{Enode, NodeId, Session, SessionReader, SessionWriter};
use tokio::net::TcpStream;
use tokio::time::timeout;

use crate::handshake::{exchange_status, negotiated, no_usable_protocol, refusal, Negotiated};
use crate::{Error, EthConfig, Result};

/// A peer reached over RLPx speaking eth: connected, Status exchanged, with a reader task that turns
/// its answers into [`PeerEvent`]s and keeps it content (empty answers to its requests, gossip
/// ignored, pings answered by the session), also while the shared events channel is full.
///
/// It serves node data when eth/66 was negotiated; on eth/67 or later it serves nothing we can use
/// and refuses node-data requests with [`PeerError::Unsupported`] (GetNodeData is never sent).
/// Only answers to requests sent on this connection and not yet answered are forwarded; more than
/// [`MAX_UNREQUESTED_RESPONSES`] others close it as a protocol breach. Hostile input (bad MACs,
/// oversized frames or messages, malformed eth messages) closes it with
/// [`DisconnectCause::ProtocolBreach`]; a peer that stops answering pings with
/// [`DisconnectCause::Local`] (reason timeout).
pub struct EthPeer {
    id: PeerId,
    node_id: NodeId,
    client: String,
    version: EthVersion,
    status: Status,
    connection: Arc<Connection>,
}

/// What the handle and the reader task share.
struct Connection {
    writer: SessionWriter,
    /// The eth capability's index in the session.
    capability: usize,
    /// Request ids sent and not yet answered.
    sent: SentRequests,
    /// Set once to close the connection, with the reason to give.
    close: CloseSignal,
    config: EthConfig,
}

impl Connection {
    fn request_close(&self, reason: DisconnectReason) {
        self.close.request(reason);
    }

    fn is_closed(&self) -> bool {
        self.close.is_closed()
    }

    /// Sends one eth message within the write timeout; on failure the connection is closed.
    async fn send(&self, peer: &PeerId, id: MessageId, payload: &[u8]) -> Result<(), PeerError> {
        let sent = timeout(
            self.config.write_timeout,
            self.writer.send(self.capability, u64::from(id.id()), payload),
        );
        match sent.await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(error)) => {
                self.request_close(DisconnectReason::NetworkError);
                Err(match error {
                    rlpx::Error::Io { source } => PeerError::Io { peer: peer.clone(), source },
                    _ => PeerError::Disconnected { peer: peer.clone() },
                })
            }
            Err(_) => {
                self.request_close(DisconnectReason::Timeout);
                Err(PeerError::WriteTimeout { peer: peer.clone() })
            }
        }
    }
}

impl std::fmt::Debug for EthPeer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EthPeer")
            .field("id", &self.id)
            .field("client", &self.client)
            .field("version", &self.version)
            .finish_non_exhaustive()
    }
}

impl EthPeer {
    /// Dials `enode`, runs the RLPx handshake, Hello and Status exchanges, and starts the reader task,
    /// which sends this peer's answers and its disconnection to `events`.
    ///
    /// Fails with [`Error::NoUsableProtocol`] if the peer shares no eth version with us (its Hello
    /// says what it offers), [`Error::Status`] if it is on another network, genesis or fork.
    #[tracing::instrument(target = "eth_peer", skip_all, fields(peer = %enode.addr))]
    pub async fn connect(enode: &Enode, config: &EthConfig, events: PeerEventSender) -> Result<Arc<EthPeer>> {
        let addr = enode.addr;
        let stream = match timeout(config.dial_timeout, TcpStream::connect(addr)).await {
            Ok(Ok(stream)) => stream,
            Ok(Err(source)) => return Err(Error::Connect { addr, source }),
            Err(_) => {
                let source = io::Error::new(io::ErrorKind::TimedOut, "dial timed out");
                return Err(Error::Connect { addr, source });
            }
        };
        let _ = stream.set_nodelay(true);
        let session = match Session::connect(stream, &config.node_key, enode.id, &config.p2p()).await {
            Ok(session) => session,
            Err(rlpx::Error::NoSharedCapability { hello }) => return Err(no_usable_protocol(&hello, config)),
            Err(error) => return Err(error.into()),
        };
        Self::start(session, config, events).await
    }

    /// Runs the eth handshake on an established session and starts the reader task.
    pub(crate) async fn start(
        session: Session,
        config: &EthConfig,
        events: PeerEventSender,
    ) -> Result<Arc<Self>> {
        let negotiated = match negotiated(&session, config) {
            Ok(negotiated) => negotiated,
            Err(error) => {
                let _ = session.disconnect(rlpx::DisconnectReason::UselessPeer).await;
                return Err(error);
            }
        };
        let node_id = session.remote_id();
        let (mut reader, writer, hello) = session.into_split();
        let status = match exchange_status(&mut reader, &writer, &hello.client_id, negotiated, config).await {
            Ok(status) => status,
            Err(error) => {
                let _ = timeout(config.write_timeout, writer.disconnect(refusal(&error))).await;
                return Err(error);
            }
        };
        let Negotiated { capability, version } = negotiated;
        let id = PeerId::from(format!("{}@{}", short_id(&node_id), hello.client_id));
        let connection = Arc::new(Connection {
            writer,
            capability,
            sent: SentRequests::default(),
            close: CloseSignal::default(),
            config: config.clone(),
        });
        tracing::info!(
            target: "eth_peer", peer = %id, client = %hello.client_id, version = version.number(),
            network = status.network_id, "eth peer connected"
        );
        let task = read_loop(id.clone(), version, reader, connection.clone(), events);
        tokio::spawn(task);
        Ok(Arc::new(EthPeer { id, node_id, client: hello.client_id, version, status, connection }))
    }

    /// The eth version negotiated.
    pub fn version(&self) -> EthVersion {
        self.version
    }

    /// The peer's node id (its enode's public key).
    pub fn node_id(&self) -> NodeId {
        self.node_id
    }

    /// The Status the peer sent.
    pub fn status(&self) -> &Status {
        &self.status
    }

    /// Whether the connection is closed (or closing).
    pub fn is_closed(&self) -> bool {
        self.connection.is_closed()
    }
}

/// The first 8 hex digits of a node id, as peer ids show it.
fn short_id(id: &NodeId) -> String {
    id.to_string().chars().take(8).collect()
}

/// Dropping the last handle closes the connection (the reader task then reports it).
impl Drop for EthPeer {
    fn drop(&mut self) {
        self.connection.request_close(DisconnectReason::Requested);
    }
}

#[async_trait]
impl Peer for EthPeer {
    fn id(&self) -> &PeerId {
        &self.id
    }

    fn capabilities(&self) -> Capabilities {
        if self.version.has_node_data() {
            Capabilities::NODE_DATA
        } else {
            Capabilities::NONE
        }
    }

    fn client(&self) -> Option<&str> {
        Some(&self.client)
    }

    async fn request(&self, request_id: u64, request: PeerRequest) -> Result<(), PeerError> {
        if !self.version.has_node_data() {
            return Err(PeerError::Unsupported { peer: self.id.clone(), kind: request.kind() });
        }
        let hashes = request.into_node_data_hashes(&self.id, MAX_HASHES_PER_REQUEST)?;
        if self.is_closed() {
            return Err(PeerError::Disconnected { peer: self.id.clone() });
        }
        self.connection.sent.track(request_id);
        let payload = GetNodeData { request_id: RequestId(request_id), hashes }.encode();
        self.connection.send(&self.id, MessageId::GetNodeData, &payload).await
    }

    async fn disconnect(&self, reason: DisconnectReason) {
        self.connection.request_close(reason);
    }
}

/// How the reader task ends the connection: the cause it reports and the Disconnect it sends (none
/// when the peer closed it or the session is already gone).
type Ending = (DisconnectCause, Option<DisconnectReason>);

/// The ending for a protocol breach.
fn breach(error: impl std::error::Error + Send + Sync + 'static) -> Ending {
    (DisconnectCause::ProtocolBreach { error: Breach::new(error) }, Some(DisconnectReason::ProtocolBreach))
}

/// The ending when we close with `reason`.
fn closed_locally(reason: DisconnectReason) -> Ending {
    (DisconnectCause::Local { reason }, Some(reason))
}

/// The ending for an error of the session.
fn session_ended(error: rlpx::Error) -> Ending {
    match error {
        rlpx::Error::Disconnected { reason } => {
            let reason = reason
                .map_or(DisconnectReason::Requested, |r| DisconnectReason::from_code(u64::from(r.code())));
            (DisconnectCause::Remote { reason }, None)
        }
        error if error.is_timeout() => {
            let reason = DisconnectReason::Timeout;
            (DisconnectCause::Local { reason }, Some(reason))
        }
        rlpx::Error::Io { source } => (DisconnectCause::ConnectionLost { kind: source.kind() }, None),
        rlpx::Error::Closed | rlpx::Error::Truncated { .. } => {
            (DisconnectCause::ConnectionLost { kind: io::ErrorKind::UnexpectedEof }, None)
        }
        error if error.is_peer_fault() => breach(error),
        _ => (DisconnectCause::ConnectionLost { kind: io::ErrorKind::Other }, None),
    }
}

/// An eth message that is not part of what the peer may send us.
#[derive(Debug, thiserror::Error)]
#[error("unexpected {message} after the handshake")]
struct Unexpected {
    message: &'static str,
}

/// More answers to requests never sent (or already answered) than tolerated.
#[derive(Debug, thiserror::Error)]
#[error("{count} NodeData answers to requests never sent or already answered, at most {max} tolerated")]
struct UnrequestedAnswers {
    count: usize,
    max: usize,
}

/// What the reader did with one read: an answer to forward, nothing more to do, or the end.
enum Handled {
    /// An answer to one of our requests, for the shared events channel.
    Forward(PeerEvent),
    /// Answered (the peer's requests), ignored (gossip) or dropped (unrequested answers).
    Done,
    /// The connection ends.
    End(Ending),
}

/// The reader task's view of the connection: who it reads for and what it has counted.
struct ReaderTask {
    peer: PeerId,
    version: EthVersion,
    connection: Arc<Connection>,
    /// Answers dropped so far as unrequested; past [`MAX_UNREQUESTED_RESPONSES`] the peer is in
    /// breach.
    unrequested: usize,
}

impl ReaderTask {
    /// Handles what [`SessionReader::recv`] returned: answers to our requests are to be forwarded,
    /// the peer's requests get empty answers, gossip is ignored.
    async fn handle(&mut self, incoming: rlpx::Result<rlpx::Incoming>) -> Handled {
        let incoming = match incoming {
            Ok(incoming) => incoming,
            Err(error) => return Handled::End(session_ended(error)),
        };
        if incoming.capability != self.connection.capability {
            return Handled::Done;
        }
        let Ok(id) = u8::try_from(incoming.msg_id) else {
            return Handled::End(breach(rlpx::Error::InvalidMessageId));
        };
        let message = match eth_wire::decode(self.version, id, &incoming.payload) {
            Ok(message) => message,
            Err(error) => return Handled::End(breach(error)),
        };
        let peer = &self.peer;
        match message {
            Message::NodeData(NodeData { request_id, nodes }) => {
                let request_id = request_id.0;
                if !self.connection.sent.settle(request_id) {
                    self.unrequested += 1;
                    let unrequested = self.unrequested;
                    tracing::debug!(target: "eth_peer", %peer, request_id, unrequested, "dropped an unrequested answer");
                    if unrequested > MAX_UNREQUESTED_RESPONSES {
                        let max = MAX_UNREQUESTED_RESPONSES;
                        return Handled::End(breach(UnrequestedAnswers { count: unrequested, max }));
                    }
                    return Handled::Done;
                }
                let response = PeerResponse::NodeData { blobs: nodes };
                Handled::Forward(PeerEvent::Response { peer: peer.clone(), request_id, response })
            }
            Message::Status(_) => Handled::End(breach(Unexpected { message: "Status" })),
            message => {
                if let Some(answer) = message.empty_answer() {
                    // We hold no chain: every request gets an empty answer, so the peer does not
                    // time us out. A failed send closes the connection; the next read reports it.
                    let _ = self.connection.send(peer, answer.id, &answer.payload).await;
                }
                // Announcements and gossip: ignored.
                Handled::Done
            }
        }
    }

    /// Sends `event` to the shared events channel, which is bounded and may stay full while the sync
    /// is slow to take answers, and keeps reading the session meanwhile, so the peer's Pings are
    /// answered and ours sent (a go-ethereum peer that hears nothing for 30 s hangs up), its
    /// requests answered and its gossip ignored.
    ///
    /// Memory stays bounded: besides `event`, at most one more answer is held. When a second answer
    /// arrives while `event` waits (the sync had two requests with this peer, e.g. one it gave up
    /// on), the session is read no further until `event` is taken, as every answer waited before.
    /// When the session ends meanwhile, what was read before the end is still forwarded, then the
    /// ending is returned. A close asked for (from any handle) ends it at once, dropping what waits.
    async fn forward(
        &mut self,
        event: PeerEvent,
        reader: &mut SessionReader,
        events: &PeerEventSender,
        close: &mut CloseWatch,
    ) -> Result<(), Ending> {
        let mut waiting = Some(event);
        let mut ended = None;
        while let Some(event) = waiting.take() {
            let send = events.send(event);
            tokio::pin!(send);
            loop {
                tokio::select! {
                    biased;
                    reason = close.closed() => return Err(closed_locally(reason)),
                    sent = &mut send => {
                        if !sent {
                            let reason = DisconnectReason::Requested;
                            return Err((DisconnectCause::Local { reason }, Some(reason)));
                        }
                        break;
                    }
                    incoming = reader.recv(), if waiting.is_none() && ended.is_none() => {
                        match self.handle(incoming).await {
                            Handled::Forward(next) => waiting = Some(next),
                            Handled::Done => {}
                            Handled::End(ending) => ended = Some(ending),
                        }
                    }
                }
            }
        }
        ended.map_or(Ok(()), Err)
    }
}

/// Reads messages until the connection ends: forwards answers to our requests (still reading while
/// the events channel is full, see [`ReaderTask::forward`]), answers the peer's requests with nothing,
/// ignores gossip; then says Disconnect if we are the ones closing, and emits one
/// [`PeerEvent::Disconnected`].
async fn read_loop(
    peer: PeerId,
    version: EthVersion,
    mut reader: SessionReader,
    connection: Arc<Connection>,
    events: PeerEventSender,
) {
    let mut close = connection.close.watch();
    let mut state = ReaderTask { peer, version, connection, unrequested: 0 };
    let (cause, goodbye): Ending = loop {
        let incoming = tokio::select! {
            biased;
            reason = close.closed() => break closed_locally(reason),
            incoming = reader.recv() => incoming,
        };
        let event = match state.handle(incoming).await {
            Handled::Forward(event) => event,
            Handled::Done => continue,
            Handled::End(ending) => break ending,
        };
        if let Err(ending) = state.forward(event, &mut reader, &events, &mut close).await {
            break ending;
        }
    };
    let ReaderTask { peer, connection, .. } = state;
    connection.request_close(DisconnectReason::Requested);
    if let Some(reason) = goodbye {
        let reason = rlpx::DisconnectReason::from_code(reason.code() as u8)
            .unwrap_or(rlpx::DisconnectReason::Requested);
        let _ = timeout(connection.config.write_timeout, connection.writer.disconnect(reason)).await;
    }
    tracing::debug!(target: "eth_peer", %peer, %cause, "disconnected");
    events.send(PeerEvent::Disconnected { peer, cause }).await;
}
