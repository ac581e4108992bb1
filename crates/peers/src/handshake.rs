//! The Status handshake both sides of a TCP connection run first.

use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite};

use crate::frame::{read_message, write_message, FrameLimits, ReadError, MAX_REQUEST_FRAME_BYTES};
use crate::{DisconnectReason, Message, PeerError, PeerId, WireError, H256, PROTOCOL_VERSION};

/// Settings of a TCP connection, for the client ([`TcpPeer`](crate::TcpPeer)) and the server
/// ([`NodeDataServer`](crate::NodeDataServer)) alike.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TcpConfig {
    /// Our network; a peer on another one is disconnected during the handshake.
    pub network_id: u64,
    /// The state root we hold, sent in our Status (the zero hash for a client that holds none yet).
    pub head_root: H256,
    /// How long connecting plus the Status exchange may take, so a silent peer cannot hold a connection
    /// (or a server slot) open.
    pub handshake_timeout: Duration,
    /// How long one frame may take to write, so a peer that stops reading cannot block us forever; it
    /// is then disconnected.
    pub write_timeout: Duration,
    /// How long the rest of a frame may take to arrive once its first byte has, on both sides, so a
    /// peer dripping a byte a minute cannot hold a connection (and its half-read buffer) forever; it is
    /// then sent Disconnect{timeout} and closed. The default equals the default
    /// [`write_timeout`](Self::write_timeout): an honest sender that is not itself timing out delivers
    /// a frame within it.
    pub frame_timeout: Duration,
    /// Server side: how long a connection may stay silent between requests (after the handshake)
    /// before it is sent Disconnect{timeout} and closed, so idle or abandoned clients cannot occupy
    /// the server's [`max_peers`](crate::ServerConfig::max_peers) slots forever. The client does not
    /// use it: its requests are timed by the sync layer.
    pub idle_timeout: Duration,
}

impl Default for TcpConfig {
    fn default() -> Self {
        Self {
            network_id: 1,
            head_root: H256::zero(),
            handshake_timeout: Duration::from_secs(10),
            write_timeout: Duration::from_secs(20),
            frame_timeout: Duration::from_secs(20),
            idle_timeout: Duration::from_secs(60),
        }
    }
}

impl TcpConfig {
    /// How frames are read during the handshake: Status or Disconnect, both tiny, so the small cap.
    pub(crate) fn handshake_limits(&self) -> FrameLimits {
        FrameLimits {
            max_bytes: MAX_REQUEST_FRAME_BYTES,
            idle_timeout: None,
            frame_timeout: self.frame_timeout,
        }
    }
}

/// What the peer said about itself in its Status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct RemoteStatus {
    /// The state root it holds.
    pub(crate) head_root: H256,
}

/// Writes `message` within the write timeout.
pub(crate) async fn send<S: AsyncWrite + Unpin>(
    stream: &mut S,
    message: &Message,
    peer: &PeerId,
    timeout: Duration,
) -> Result<(), PeerError> {
    match tokio::time::timeout(timeout, write_message(stream, message)).await {
        Ok(Ok(())) => Ok(()),
        Ok(Err(source)) => Err(PeerError::Io { peer: peer.clone(), source }),
        Err(_) => Err(PeerError::WriteTimeout { peer: peer.clone() }),
    }
}

/// Sends Disconnect, ignoring failure: the connection is being closed anyway.
pub(crate) async fn send_disconnect<S: AsyncWrite + Unpin>(
    stream: &mut S,
    reason: DisconnectReason,
    peer: &PeerId,
    timeout: Duration,
) {
    let _ = send(stream, &Message::Disconnect { reason }, peer, timeout).await;
}

/// Sends our Status, reads the peer's and checks it; on a mismatch or breach, tells the peer why
/// (Disconnect) before failing. The caller closes the connection on error.
pub(crate) async fn handshake<S: AsyncRead + AsyncWrite + Unpin>(
    stream: &mut S,
    peer: &PeerId,
    config: &TcpConfig,
) -> Result<RemoteStatus, PeerError> {
    let exchange = async {
        let ours = Message::Status {
            version: PROTOCOL_VERSION,
            network_id: config.network_id,
            head_root: config.head_root,
        };
        send(stream, &ours, peer, config.write_timeout).await?;
        let (reason, error) = match read_message(stream, config.handshake_limits()).await {
            Ok(Some(Message::Status { version, network_id, head_root })) => {
                if version != PROTOCOL_VERSION {
                    let error = PeerError::VersionMismatch {
                        peer: peer.clone(),
                        ours: PROTOCOL_VERSION,
                        theirs: version,
                    };
                    (DisconnectReason::IncompatibleVersion, error)
                } else if network_id != config.network_id {
                    let error = PeerError::NetworkMismatch {
                        peer: peer.clone(),
                        ours: config.network_id,
                        theirs: network_id,
                    };
                    (DisconnectReason::NetworkMismatch, error)
                } else {
                    return Ok(RemoteStatus { head_root });
                }
            }
            Ok(Some(Message::Disconnect { reason })) => {
                return Err(PeerError::Refused { peer: peer.clone(), reason });
            }
            Ok(Some(other)) => {
                let source = WireError::UnexpectedMessage { message: other.name() };
                (
                    DisconnectReason::ProtocolBreach,
                    PeerError::Breach { peer: peer.clone(), source: source.into() },
                )
            }
            Ok(None) => {
                let source = std::io::ErrorKind::UnexpectedEof.into();
                return Err(PeerError::Io { peer: peer.clone(), source });
            }
            Err(ReadError::Wire(source)) => (
                DisconnectReason::ProtocolBreach,
                PeerError::Breach { peer: peer.clone(), source: source.into() },
            ),
            Err(ReadError::Io(source)) => return Err(PeerError::Io { peer: peer.clone(), source }),
            Err(ReadError::Idle | ReadError::FrameTimeout { .. }) => {
                (DisconnectReason::Timeout, PeerError::HandshakeTimeout { peer: peer.clone() })
            }
        };
        send_disconnect(stream, reason, peer, config.write_timeout).await;
        Err(error)
    };
    match tokio::time::timeout(config.handshake_timeout, exchange).await {
        Ok(result) => result,
        Err(_) => {
            send_disconnect(stream, DisconnectReason::Timeout, peer, config.write_timeout).await;
            Err(PeerError::HandshakeTimeout { peer: peer.clone() })
        }
    }
}
