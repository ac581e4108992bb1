//! The crate's errors: decoding peer bytes ([`Error`]), the Status handshake ([`HandshakeError`]),
//! the EIP-2124 fork id filter ([`ForkIdError`]) and genesis JSON ([`ConfigError`]).

use primitive_types::H256;

use crate::{EthVersion, ForkId, MessageId};

/// A `Result` whose error defaults to this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Why a message could not be decoded (or a version number was not understood).
///
/// Every variant but [`Error::UnsupportedVersion`] means the peer sent bytes no correct eth
/// implementation sends; see [`Error::is_peer_fault`].
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The message id is not one the eth protocol (any version this crate knows) defines.
    #[error("unknown eth message id {id:#04x} on eth/{version}")]
    UnknownMessage {
        /// The id as received, relative to the eth capability's offset.
        id: u8,
        /// The negotiated version.
        version: EthVersion,
    },
    /// The message exists in the eth protocol but not in the negotiated version: GetNodeData and
    /// NodeData on eth/67 and later, BlockRangeUpdate before eth/69.
    #[error("{message} does not exist in eth/{version}")]
    NotInVersion {
        /// The message received.
        message: MessageId,
        /// The negotiated version.
        version: EthVersion,
    },
    /// The payload is not valid RLP, or not the shape the message must have.
    #[error("malformed {message}: {source}")]
    Malformed {
        /// What was being decoded ("Status", "fork id", "GetNodeData"...).
        message: &'static str,
        /// What the RLP decoder found wrong.
        source: rlp::DecoderError,
    },
    /// The payload holds a valid RLP item followed by bytes that belong to no item.
    #[error("malformed {message}: {extra} trailing bytes after the RLP item")]
    TrailingBytes {
        /// What was being decoded.
        message: &'static str,
        /// How many bytes follow the item.
        extra: usize,
    },
    /// A list holds more items than this crate accepts for that message (a bound on the memory a
    /// peer can make us allocate, and on the work one request can cost us).
    #[error("{message} carries {count} items, more than the limit of {limit}")]
    TooManyItems {
        /// What was being decoded.
        message: &'static str,
        /// Items in the list.
        count: usize,
        /// The limit for this message.
        limit: usize,
    },
    /// A protocol version number this crate does not implement (not a peer fault: the caller
    /// chose it, e.g. from a capability list).
    #[error("eth/{version} is not supported (eth/66 to eth/69 are)")]
    UnsupportedVersion {
        /// The version number asked for.
        version: u32,
    },
}

impl Error {
    /// Whether the peer that sent the bytes is at fault (and should be dropped), as opposed to
    /// the caller having asked for something this crate does not do.
    pub fn is_peer_fault(&self) -> bool {
        !matches!(self, Error::UnsupportedVersion { .. })
    }

    pub(crate) fn malformed(message: &'static str, source: rlp::DecoderError) -> Self {
        Error::Malformed { message, source }
    }
}

/// Why a remote Status was rejected by [`Status::validate`](crate::Status::validate). Each is a
/// reason to disconnect; the messages are written for the CLI ("peer on network 5, we are on 1").
#[derive(Debug, thiserror::Error)]
pub enum HandshakeError {
    /// The peer's Status names another protocol version than the one both sides negotiated.
    #[error("peer's Status is for eth/{theirs}, we negotiated eth/{ours}")]
    VersionMismatch {
        /// The version in our Status (the negotiated one).
        ours: u32,
        /// The version field of the peer's Status.
        theirs: u32,
    },
    /// The peer is on another network.
    #[error("peer on network {theirs}, we are on {ours}")]
    NetworkMismatch {
        /// Our network id.
        ours: u64,
        /// The peer's network id.
        theirs: u64,
    },
    /// The peer's chain starts from another genesis block.
    #[error("peer's genesis is {theirs:?}, ours is {ours:?}")]
    GenesisMismatch {
        /// Our genesis hash.
        ours: H256,
        /// The peer's genesis hash.
        theirs: H256,
    },
    /// The peer's fork id fails the EIP-2124 filter.
    #[error("peer's fork id {remote} rejected: {source}")]
    ForkRejected {
        /// The fork id the peer announced.
        remote: ForkId,
        /// Which rule rejected it.
        source: ForkIdError,
    },
    /// An eth/69 Status whose block range is empty or reversed (go-ethereum rejects it too).
    #[error("peer's block range is invalid: earliest {earliest} > latest {latest}")]
    InvalidBlockRange {
        /// The first block the peer says it can serve.
        earliest: u64,
        /// The peer's latest block.
        latest: u64,
    },
    /// An eth/69 Status with a zero latest block hash (go-ethereum rejects it too).
    #[error("peer's latest block hash is zero")]
    ZeroLatestHash,
}

impl HandshakeError {
    /// Whether the peer is simply on another chain or version (nothing wrong with it, just not
    /// useful), as opposed to a peer announcing an impossible block range.
    pub fn is_incompatible_chain(&self) -> bool {
        !matches!(self, HandshakeError::InvalidBlockRange { .. } | HandshakeError::ZeroLatestHash)
    }
}

/// The two EIP-2124 rejections, named as in the EIP and go-ethereum's `core/forkid`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ForkIdError {
    /// The remote's checksum is one of our past states, but the fork it expects next is not the
    /// one we passed: it runs old software that does not know a fork we made (rule 2).
    #[error("remote needs update: it expects the next fork at {remote_next}, ours was at {local_next}")]
    RemoteStale {
        /// The next fork the remote announced.
        remote_next: u64,
        /// The fork we passed after the remote's checksum.
        local_next: u64,
    },
    /// The remote's checksum matches none of our past or future states, or it announces a fork
    /// our head has already passed without us forking: the chains diverged (rules 1a and 4).
    #[error("local incompatible or needs update")]
    LocalIncompatibleOrStale,
}

/// Why a go-ethereum genesis JSON file could not be read.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// Not JSON, or a field is not what go-ethereum accepts there (the message names the field).
    #[error("invalid genesis JSON: {source}")]
    Json {
        /// The parser's error, with line and column.
        #[from]
        source: serde_json::Error,
    },
}
