//! What transports report back: answers and lost connections, over a bounded channel.

use std::io;

use tokio::sync::mpsc;

use crate::{Breach, DisconnectReason, PeerId, PeerResponse};

/// Something a peer's transport reports to the sync layer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PeerEvent {
    /// An answer arrived. The receiver matches it to a request (and discards an answer whose
    /// `request_id` matches nothing in flight, such as a late answer to a request it gave up on). The
    /// TCP and RLPx transports forward only answers to request ids they sent and have not seen
    /// answered yet; the in-process test peer forwards whatever its faults produce.
    Response {
        /// Who answered.
        peer: PeerId,
        /// The request id the answer carries.
        request_id: u64,
        /// The answer, unverified: the receiver must hash blobs and check proofs.
        response: PeerResponse,
    },
    /// The peer's connection ended; it will send nothing more and refuses requests. Sent exactly once
    /// per peer, whichever side ended the connection.
    Disconnected {
        /// The peer.
        peer: PeerId,
        /// Why the connection ended.
        cause: DisconnectCause,
    },
}

impl PeerEvent {
    /// The peer the event is about.
    pub fn peer(&self) -> &PeerId {
        match self {
            PeerEvent::Response { peer, .. } | PeerEvent::Disconnected { peer, .. } => peer,
        }
    }
}

/// Why a peer's connection ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DisconnectCause {
    /// We closed it: with [`Peer::disconnect`](crate::Peer::disconnect), by dropping the last handle, or
    /// (reason [`DisconnectReason::Timeout`]) because the peer stalled: left a frame unfinished for
    /// longer than [`TcpConfig::frame_timeout`](crate::TcpConfig::frame_timeout), or (RLPx) did not
    /// answer a ping.
    Local {
        /// The reason we gave.
        reason: DisconnectReason,
    },
    /// The peer closed it with a Disconnect message.
    Remote {
        /// The reason it gave.
        reason: DisconnectReason,
    },
    /// The peer broke the protocol; we closed the connection.
    ProtocolBreach {
        /// What it sent, as its transport's typed error.
        error: Breach,
    },
    /// The connection failed or was closed without a Disconnect message (`UnexpectedEof` when the peer
    /// just closed it).
    ConnectionLost {
        /// The kind of I/O error.
        kind: io::ErrorKind,
    },
}

impl DisconnectCause {
    /// Whether the peer is to blame (it broke the protocol).
    pub fn is_peer_fault(&self) -> bool {
        matches!(self, DisconnectCause::ProtocolBreach { .. })
    }
}

impl std::fmt::Display for DisconnectCause {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DisconnectCause::Local { reason } => write!(f, "we disconnected: {reason}"),
            DisconnectCause::Remote { reason } => write!(f, "peer disconnected: {reason}"),
            DisconnectCause::ProtocolBreach { error } => write!(f, "protocol breach: {error}"),
            DisconnectCause::ConnectionLost { kind } => write!(f, "connection lost: {kind}"),
        }
    }
}

/// A bounded channel for [`PeerEvent`]s: every transport of one peer set sends into clones of the
/// [`PeerEventSender`]; the sync layer owns the [`PeerEventReceiver`].
///
/// Bounded on purpose: a transport that produces events faster than the sync layer consumes them waits
/// (a TCP reader stops reading its socket, yet still closes when asked), so peer-supplied data never
/// piles up in memory. `capacity`
/// is in events (each at most one frame); 0 is taken as 1.
pub fn peer_events(capacity: usize) -> (PeerEventSender, PeerEventReceiver) {
    let (sender, receiver) = mpsc::channel(capacity.max(1));
    (PeerEventSender { sender }, PeerEventReceiver { receiver })
}

/// The sending half of [`peer_events`], cloned into each transport.
#[derive(Debug, Clone)]
pub struct PeerEventSender {
    sender: mpsc::Sender<PeerEvent>,
}

impl PeerEventSender {
    /// Sends `event`, waiting while the channel is full. Returns `false` (and drops the event) if the
    /// receiver is gone.
    pub async fn send(&self, event: PeerEvent) -> bool {
        self.sender.send(event).await.is_ok()
    }

    /// Whether the receiver is gone.
    pub fn is_closed(&self) -> bool {
        self.sender.is_closed()
    }
}

/// The receiving half of [`peer_events`].
#[derive(Debug)]
pub struct PeerEventReceiver {
    receiver: mpsc::Receiver<PeerEvent>,
}

impl PeerEventReceiver {
    /// The next event; `None` once every sender is gone and the channel is drained.
    pub async fn recv(&mut self) -> Option<PeerEvent> {
        self.receiver.recv().await
    }

    /// The next event if one is ready, without waiting.
    pub fn try_recv(&mut self) -> Option<PeerEvent> {
        self.receiver.try_recv().ok()
    }
}
