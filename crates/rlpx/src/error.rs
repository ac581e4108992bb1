//! The errors of the crate: [`Error`] for everything on the wire, [`EnodeError`] and
//! [`NodeKeyError`] for parsing node addresses and key files.

use std::time::Duration;

use crate::disconnect::DisconnectReason;
use crate::node_key::NodeId;

/// The result of the wire operations of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What went wrong on an RLPx connection. Every error but [`Error::UnknownCapability`],
/// [`Error::MessageIdOutOfRange`] and [`Error::MessageTooLarge`] on send leaves the connection
/// unusable: drop it. [`Error::is_peer_fault`] tells whether the remote broke the protocol.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The socket failed (reset, broken pipe...).
    #[error("i/o error: {source}")]
    Io {
        /// The underlying error.
        #[from]
        source: std::io::Error,
    },

    /// The remote closed the connection cleanly between two frames.
    #[error("connection closed by the remote")]
    Closed,

    /// The remote closed the connection in the middle of a handshake packet or a frame.
    #[error("connection closed mid-{during}: needed {needed} bytes, got {got}")]
    Truncated {
        /// What was being read: "auth", "ack", "frame".
        during: &'static str,
        /// Bytes the current item needs.
        needed: usize,
        /// Bytes of it that arrived.
        got: usize,
    },

    /// An EIP-8 handshake packet announced more bytes than we accept.
    #[error("handshake packet of {size} bytes, limit {max}")]
    HandshakeTooLarge {
        /// The size the packet's prefix announced.
        size: usize,
        /// [`crate::MAX_HANDSHAKE_BYTES`].
        max: usize,
    },

    /// An EIP-8 handshake packet announced fewer bytes than any valid one has.
    #[error("handshake packet of {size} bytes, at least {min} needed")]
    HandshakeTooSmall {
        /// The size the packet's prefix announced.
        size: usize,
        /// The smallest valid size.
        min: usize,
    },

    /// An ECIES message could not be decrypted: too short, or not starting with an
    /// uncompressed curve point.
    #[error("malformed ECIES message: {reason}")]
    MalformedEcies {
        /// What was wrong with it.
        reason: &'static str,
    },

    /// The HMAC of an ECIES message did not match: it was not sealed to our key, or was
    /// tampered with.
    #[error("ECIES message authentication failed")]
    EciesMac,

    /// A public key received in the handshake is not a point of secp256k1.
    #[error("invalid secp256k1 public key in {field}")]
    InvalidPublicKey {
        /// Which key: "auth initiator key", "ack ephemeral key", "ECIES ephemeral key"...
        field: &'static str,
    },

    /// The auth signature could not be parsed or recovered.
    #[error("invalid auth signature")]
    InvalidSignature,

    /// A handshake body (auth or ack) is not the RLP the spec describes.
    #[error("malformed {packet}: {reason}")]
    MalformedHandshake {
        /// "auth" or "ack".
        packet: &'static str,
        /// What was wrong with it.
        reason: &'static str,
    },

    /// The header MAC of a frame did not match: tampered, or not from our session.
    #[error("bad frame header MAC")]
    BadHeaderMac,

    /// The MAC of a frame's body did not match.
    #[error("bad frame MAC")]
    BadFrameMac,

    /// A frame header announced more bytes than we accept; refused before reading them.
    #[error("frame of {size} bytes announced, limit {max}")]
    FrameTooLarge {
        /// The announced frame size.
        size: usize,
        /// The limit in force (see [`crate::MAX_FRAME_BYTES`]).
        max: usize,
    },

    /// A message (decompressed, or to send) is larger than the limit.
    #[error("message of {size} bytes, limit {max}")]
    MessageTooLarge {
        /// The size of the message (for a received compressed one: its declared
        /// decompressed size).
        size: usize,
        /// The limit in force (see [`crate::MAX_MESSAGE_BYTES`]).
        max: usize,
    },

    /// A snappy-compressed payload could not be decompressed.
    #[error("invalid snappy payload: {source}")]
    Snappy {
        /// The decoder's error.
        source: snap::Error,
    },

    /// A frame does not start with a canonical RLP unsigned integer message id.
    #[error("invalid message id encoding")]
    InvalidMessageId,

    /// A base protocol message (Hello, Disconnect) is not the RLP the spec describes.
    #[error("malformed {message} message: {source}")]
    MalformedMessage {
        /// "Hello", "Disconnect".
        message: &'static str,
        /// The RLP decoder's error.
        source: rlp::DecoderError,
    },

    /// A message arrived where the protocol allows only another (e.g. anything but Hello
    /// or Disconnect as the first message).
    #[error("expected {expected}, got message id {got:#x}")]
    UnexpectedMessage {
        /// What was expected.
        expected: &'static str,
        /// The id that arrived.
        got: u64,
    },

    /// The Hello's node id is not 64 bytes or not a curve point.
    #[error("Hello carries an invalid node id")]
    InvalidNodeId,

    /// The remote's identity is not the one expected: the Hello's node id differs from
    /// the key the handshake proved, or from the key we dialed.
    #[error("unexpected identity: expected {expected}, got {got}")]
    UnexpectedIdentity {
        /// The node id we expected (boxed: 64 bytes would bloat every `Result`).
        expected: Box<NodeId>,
        /// The node id the remote presented.
        got: Box<NodeId>,
    },

    /// None of our capabilities is shared with the remote; its Hello says what it speaks.
    #[error("no shared capability with {} (it offers {})", hello.client_id, offered(hello))]
    NoSharedCapability {
        /// The remote's Hello (boxed: it is large).
        hello: Box<crate::Hello>,
    },

    /// A message id beyond the base protocol and every shared capability.
    #[error("message id {id:#x} belongs to no shared capability")]
    UnknownMessageId {
        /// The absolute message id received.
        id: u64,
    },

    /// `send` named a capability index outside the shared list (a local bug).
    #[error("no shared capability at index {index}")]
    UnknownCapability {
        /// The index given.
        index: usize,
    },

    /// `send` gave a message id beyond the capability's message count (a local bug).
    #[error("message id {msg_id} out of range for {capability} ({messages} messages)")]
    MessageIdOutOfRange {
        /// The capability's name.
        capability: String,
        /// The id within the capability.
        msg_id: u64,
        /// The capability's message count.
        messages: u64,
    },

    /// The remote sent Disconnect.
    #[error("disconnected by the remote: {}", reason.map_or_else(|| "no or unknown reason".to_string(), |r| r.to_string()))]
    Disconnected {
        /// Its reason, `None` when it sent none or one outside the devp2p list.
        reason: Option<DisconnectReason>,
    },

    /// The remote did not answer our Ping in time.
    #[error("no Pong within {timeout:?}")]
    PingTimeout {
        /// The configured [`crate::P2pConfig::ping_timeout`].
        timeout: Duration,
    },

    /// The RLPx handshake and Hello exchange did not complete in time.
    #[error("handshake not completed within {timeout:?}")]
    HandshakeTimeout {
        /// The configured [`crate::P2pConfig::handshake_timeout`].
        timeout: Duration,
    },

    /// The session was already closed (by an earlier error or `disconnect`).
    #[error("session closed")]
    SessionClosed,

    /// An earlier `send` was cancelled mid-frame, so the egress stream is out of step.
    #[error("an earlier send was cancelled mid-frame")]
    WriterPoisoned,
}

impl Error {
    /// Whether the remote broke the protocol (bad cryptography, malformed or oversized
    /// data, wrong identity, unanswered pings): a peer to drop and not to redial soon.
    /// Network failures, clean closes, Disconnects and local bugs are not peer faults.
    pub fn is_peer_fault(&self) -> bool {
        match self {
            Error::Io { .. }
            | Error::Closed
            | Error::Truncated { .. }
            | Error::Disconnected { .. }
            | Error::HandshakeTimeout { .. }
            | Error::UnknownCapability { .. }
            | Error::MessageIdOutOfRange { .. }
            | Error::SessionClosed
            | Error::WriterPoisoned => false,
            Error::HandshakeTooLarge { .. }
            | Error::HandshakeTooSmall { .. }
            | Error::MalformedEcies { .. }
            | Error::EciesMac
            | Error::InvalidPublicKey { .. }
            | Error::InvalidSignature
            | Error::MalformedHandshake { .. }
            | Error::BadHeaderMac
            | Error::BadFrameMac
            | Error::FrameTooLarge { .. }
            | Error::MessageTooLarge { .. }
            | Error::Snappy { .. }
            | Error::InvalidMessageId
            | Error::MalformedMessage { .. }
            | Error::UnexpectedMessage { .. }
            | Error::InvalidNodeId
            | Error::UnexpectedIdentity { .. }
            | Error::NoSharedCapability { .. }
            | Error::UnknownMessageId { .. }
            | Error::PingTimeout { .. } => true,
        }
    }

    /// Whether the error is a timeout (handshake or ping).
    pub fn is_timeout(&self) -> bool {
        matches!(self, Error::PingTimeout { .. } | Error::HandshakeTimeout { .. })
    }
}

/// Why an `enode://` URL or a node id could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum EnodeError {
    /// It does not start with `enode://`.
    #[error("missing enode:// scheme")]
    MissingScheme,
    /// There is no `@host:port` after the node id.
    #[error("missing @host:port")]
    MissingAddress,
    /// The node id is not hexadecimal.
    #[error("node id is not hex")]
    BadHex,
    /// The node id does not have 128 hex digits (64 bytes).
    #[error("node id has {got} hex digits, expected 128")]
    WrongLength {
        /// The number of hex digits found.
        got: usize,
    },
    /// The node id is not a point of secp256k1.
    #[error("node id is not a valid secp256k1 public key")]
    NotOnCurve,
    /// The address has no `:port`.
    #[error("missing port in {addr:?}")]
    MissingPort {
        /// The address part given.
        addr: String,
    },
    /// The port is not a number in 0..=65535.
    #[error("invalid port {port:?}")]
    BadPort {
        /// The port part given.
        port: String,
    },
    /// The host is not an IP address (DNS names are not resolved here).
    #[error("host {host:?} is not an IP address")]
    NotAnIp {
        /// The host part given.
        host: String,
    },
    /// A query other than `?discport=N`, or a discport that is not a port number.
    #[error("invalid query {query:?}")]
    BadQuery {
        /// The query given.
        query: String,
    },
}

/// Why a node key could not be loaded or saved.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum NodeKeyError {
    /// The key file could not be read or written.
    #[error("key file {path}: {source}")]
    Io {
        /// The file.
        path: std::path::PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// The key is not 64 hex digits.
    #[error("key is not 64 hex digits")]
    BadHex,
    /// The key is zero or not below the curve order.
    #[error("key is not a valid secp256k1 secret key")]
    OutOfRange,
}

/// A Hello's capabilities as `name/version, ...`.
fn offered(hello: &crate::Hello) -> String {
    let caps: Vec<String> = hello.capabilities.iter().map(|c| format!("{}/{}", c.name, c.version)).collect();
    if caps.is_empty() {
        "nothing".to_owned()
    } else {
        caps.join(", ")
    }
}
