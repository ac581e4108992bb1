//! Errors of the peer layer: what went wrong talking to a peer ([`PeerError`]), a protocol breach
//! of any transport ([`Breach`]), and wire v1's own breaches ([`WireError`]).

use std::fmt;
use std::net::SocketAddr;
use std::sync::Arc;

use crate::{DisconnectReason, PeerId, RequestKind};

/// A protocol breach of whatever transport found it, kept as that transport's own typed error (wire
/// v1's [`WireError`], RLPx's or eth's errors): the peer layer needs only to know that the peer is
/// at fault and to show why; whoever wants the detail downcasts ([`Breach::downcast_ref`]).
///
/// Cheap to clone; two breaches are equal when they read the same.
#[derive(Clone)]
pub struct Breach(Arc<dyn std::error::Error + Send + Sync + 'static>);

impl Breach {
    /// Wraps a transport's error.
    pub fn new(error: impl std::error::Error + Send + Sync + 'static) -> Self {
        Breach(Arc::new(error))
    }

    /// The transport's error, if it is a `T`.
    pub fn downcast_ref<T: std::error::Error + 'static>(&self) -> Option<&T> {
        self.0.downcast_ref::<T>()
    }
}

impl fmt::Display for Breach {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

impl fmt::Debug for Breach {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.0, f)
    }
}

impl PartialEq for Breach {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.0, &other.0) || self.0.to_string() == other.0.to_string()
    }
}

impl Eq for Breach {}

impl std::error::Error for Breach {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.0.source()
    }
}

impl From<WireError> for Breach {
    fn from(error: WireError) -> Self {
        Breach::new(error)
    }
}

/// What is wrong with an RLP item, in a way callers can match on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum RlpProblem {
    /// The input ends inside the item (its header announces more bytes than there are).
    Truncated,
    /// The item was expected to be a list but is a byte string.
    ExpectedList,
    /// The item was expected to be a byte string but is a list.
    ExpectedBytes,
    /// A single byte below 0x80 wrapped in a string header (it must encode as itself).
    NonCanonicalSingleByte,
    /// A length written in the long form although it fits the short one, or with a leading zero byte.
    NonCanonicalLength,
    /// A length that does not fit this machine's address space.
    LengthOverflow,
    /// An integer with a leading zero byte (integers are minimal big-endian).
    IntegerLeadingZero,
    /// An integer longer than 8 bytes.
    IntegerTooLarge,
}

impl std::fmt::Display for RlpProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            RlpProblem::Truncated => "truncated item",
            RlpProblem::ExpectedList => "expected a list",
            RlpProblem::ExpectedBytes => "expected a byte string",
            RlpProblem::NonCanonicalSingleByte => "single byte below 0x80 not encoded as itself",
            RlpProblem::NonCanonicalLength => "non-canonical length prefix",
            RlpProblem::LengthOverflow => "length overflows",
            RlpProblem::IntegerLeadingZero => "integer with a leading zero byte",
            RlpProblem::IntegerTooLarge => "integer longer than 8 bytes",
        })
    }
}

/// A breach of wire protocol v1 found while reading a frame or decoding a message.
///
/// Every variant is the sender's fault: a connection that produces one is closed with
/// [`DisconnectReason::ProtocolBreach`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum WireError {
    /// A frame header announced more than [`MAX_FRAME_BYTES`](crate::MAX_FRAME_BYTES); the body was not
    /// read.
    #[error("frame of {len} bytes exceeds the {max}-byte limit")]
    FrameTooLarge {
        /// The length the header announced.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// A frame of length zero: it has no message code.
    #[error("empty frame")]
    EmptyFrame,
    /// The connection ended inside a frame.
    ///
    /// No longer produced by this crate: a connection ending inside a frame is a peer that crashed or
    /// lost its link, not a hostile one, and is reported as a lost connection
    /// ([`DisconnectCause::ConnectionLost`](crate::DisconnectCause::ConnectionLost) with
    /// `UnexpectedEof`). Kept so that code matching on it still compiles.
    #[error("connection ended inside a frame: expected {expected} bytes, got {got}")]
    TruncatedFrame {
        /// Bytes the frame (header or body) should have had.
        expected: usize,
        /// Bytes that arrived.
        got: usize,
    },
    /// The message code is not one of wire v1.
    #[error("unknown message code {code:#04x}")]
    UnknownCode {
        /// The code received.
        code: u8,
    },
    /// The body is not well-formed, canonical RLP of the expected shape.
    #[error("bad RLP in {message} {field}: {problem}")]
    Rlp {
        /// The message being decoded.
        message: &'static str,
        /// The field being decoded.
        field: &'static str,
        /// What is wrong.
        problem: RlpProblem,
    },
    /// Bytes follow the message's RLP item, inside the frame or inside a list.
    #[error("{extra} trailing bytes after {message} {field}")]
    TrailingBytes {
        /// The message being decoded.
        message: &'static str,
        /// The item the bytes follow.
        field: &'static str,
        /// How many bytes are left over.
        extra: usize,
    },
    /// A list has the wrong number of items.
    #[error("{message} has {got} items, expected {expected}")]
    ItemCount {
        /// The message being decoded.
        message: &'static str,
        /// Items expected.
        expected: usize,
        /// Items found.
        got: usize,
    },
    /// A hash in GetNodeData is not 32 bytes long.
    #[error("hash {index} of GetNodeData is {got} bytes, expected 32")]
    HashLength {
        /// Position of the hash in the request.
        index: usize,
        /// Its length.
        got: usize,
    },
    /// Status' head root is not 32 bytes long.
    #[error("Status head root is {got} bytes, expected 32")]
    HeadRootLength {
        /// Its length.
        got: usize,
    },
    /// A well-formed message that is not allowed at this point: Status after the handshake, NodeData
    /// sent to a server, anything but Status or Disconnect as the first message.
    #[error("unexpected {message}")]
    UnexpectedMessage {
        /// The message's name.
        message: &'static str,
    },
    /// GetNodeData asked for more than [`MAX_HASHES_PER_REQUEST`](crate::MAX_HASHES_PER_REQUEST) hashes.
    #[error("GetNodeData with {count} hashes, at most {max} allowed")]
    TooManyHashes {
        /// Hashes requested.
        count: usize,
        /// The limit.
        max: usize,
    },
    /// The peer kept sending NodeData for request ids we never sent it, or had already seen answered:
    /// more such answers than the transport tolerates. They were dropped without reaching the sync
    /// layer; past the tolerance the peer is only wasting our bandwidth (or flooding us).
    #[error("{count} NodeData answers to requests never sent or already answered, at most {max} tolerated")]
    UnrequestedResponses {
        /// Such answers received.
        count: usize,
        /// How many are tolerated.
        max: usize,
    },
    /// NodeData carried more blobs than any request may ask for
    /// ([`MAX_HASHES_PER_REQUEST`](crate::MAX_HASHES_PER_REQUEST)).
    #[error("NodeData with {count} blobs, at most {max} allowed")]
    TooManyBlobs {
        /// Blobs received.
        count: usize,
        /// The limit.
        max: usize,
    },
}

/// What went wrong talking to a peer.
///
/// [`PeerError::is_peer_fault`] tells the sync loop whether to blame (and drop) the peer;
/// [`PeerError::is_connection_lost`] whether the peer is gone anyway.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PeerError {
    /// The peer broke the protocol of its transport.
    #[error("peer {peer} broke the protocol: {source}")]
    Breach {
        /// The peer.
        peer: PeerId,
        /// The breach, typed by the transport.
        source: Breach,
    },
    /// An I/O error on the peer's connection (connect, read or write).
    #[error("I/O error with peer {peer}: {source}")]
    Io {
        /// The peer (its address for TCP).
        peer: PeerId,
        /// The operating system's error.
        source: std::io::Error,
    },
    /// The peer did not complete the Status handshake in time.
    #[error("peer {peer} did not complete the handshake in time")]
    HandshakeTimeout {
        /// The peer.
        peer: PeerId,
    },
    /// A write to the peer did not complete in time (it stopped reading); the connection was closed.
    #[error("peer {peer} stopped reading: write timed out")]
    WriteTimeout {
        /// The peer.
        peer: PeerId,
    },
    /// The peer speaks another protocol version.
    #[error("peer {peer} speaks protocol version {theirs}, we speak {ours}")]
    VersionMismatch {
        /// The peer.
        peer: PeerId,
        /// Our version.
        ours: u64,
        /// Theirs.
        theirs: u64,
    },
    /// The peer is on another network.
    #[error("peer {peer} is on network {theirs}, we are on {ours}")]
    NetworkMismatch {
        /// The peer.
        peer: PeerId,
        /// Our network id.
        ours: u64,
        /// Theirs.
        theirs: u64,
    },
    /// The peer sent Disconnect during the handshake (for example because it has too many peers).
    #[error("peer {peer} refused the connection: {reason}")]
    Refused {
        /// The peer.
        peer: PeerId,
        /// The reason it gave.
        reason: DisconnectReason,
    },
    /// The peer's connection is closed; no request can be sent.
    #[error("peer {peer} is disconnected")]
    Disconnected {
        /// The peer.
        peer: PeerId,
    },
    /// A request for more hashes than the protocol allows was about to be sent (a bug of the caller,
    /// not of the peer).
    #[error("request for {count} hashes to {peer}, at most {max} allowed")]
    RequestTooLarge {
        /// The peer.
        peer: PeerId,
        /// Hashes in the request.
        count: usize,
        /// The limit.
        max: usize,
    },
    /// The peer does not serve this kind of request (say, node data from a peer that negotiated
    /// eth/67 or later); nothing was sent.
    #[error("peer {peer} does not serve {kind} requests")]
    Unsupported {
        /// The peer.
        peer: PeerId,
        /// The kind asked for.
        kind: RequestKind,
    },
    /// The peer is already busy with a request of this kind (a [`Lease`](crate::Lease) is out).
    #[error("peer {peer} is busy with a {kind} request")]
    Busy {
        /// The peer.
        peer: PeerId,
        /// The kind asked for.
        kind: RequestKind,
    },
    /// A peer with this id is already in the peer set.
    #[error("peer {peer} is already registered")]
    AlreadyRegistered {
        /// The peer.
        peer: PeerId,
    },
    /// Binding the server's listening socket failed.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address asked for.
        addr: SocketAddr,
        /// The operating system's error.
        source: std::io::Error,
    },
    /// The store the server answers from failed.
    #[error("store failed while answering: {source}")]
    Store {
        /// The storage layer's error.
        #[from]
        source: kvdb::Error,
    },
}

impl PeerError {
    /// Whether the peer misbehaved (broke the protocol, is on another network or version, stalled the
    /// handshake or stopped reading): the sync loop should drop it and not count on it again.
    pub fn is_peer_fault(&self) -> bool {
        matches!(
            self,
            PeerError::Breach { .. }
                | PeerError::HandshakeTimeout { .. }
                | PeerError::WriteTimeout { .. }
                | PeerError::VersionMismatch { .. }
                | PeerError::NetworkMismatch { .. }
        )
    }

    /// Whether the connection to the peer is gone (whoever's fault): requests to it can no longer
    /// succeed, and it should be unregistered.
    pub fn is_connection_lost(&self) -> bool {
        self.is_peer_fault()
            || matches!(
                self,
                PeerError::Io { .. } | PeerError::Disconnected { .. } | PeerError::Refused { .. }
            )
    }

    /// The peer the error is about, when there is one.
    pub fn peer(&self) -> Option<&PeerId> {
        match self {
            PeerError::Breach { peer, .. }
            | PeerError::Io { peer, .. }
            | PeerError::HandshakeTimeout { peer }
            | PeerError::WriteTimeout { peer }
            | PeerError::VersionMismatch { peer, .. }
            | PeerError::NetworkMismatch { peer, .. }
            | PeerError::Refused { peer, .. }
            | PeerError::Disconnected { peer }
            | PeerError::RequestTooLarge { peer, .. }
            | PeerError::Unsupported { peer, .. }
            | PeerError::Busy { peer, .. }
            | PeerError::AlreadyRegistered { peer } => Some(peer),
            PeerError::Bind { .. } | PeerError::Store { .. } => None,
        }
    }
}

/// The result type of this crate.
pub type Result<T, E = PeerError> = std::result::Result<T, E>;
