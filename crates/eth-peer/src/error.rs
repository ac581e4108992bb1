//! Why connecting to an Ethereum peer failed.

use std::net::SocketAddr;

use eth_wire::HandshakeError;

/// What went wrong connecting to (or accepting) an Ethereum peer over RLPx.
///
/// [`Error::is_incompatible`] tells a peer we can never use (another network, genesis or fork, no
/// protocol we speak) from one that failed this time (unreachable, timed out, broke the protocol).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The TCP connection could not be made.
    #[error("cannot connect to {addr}: {source}")]
    Connect {
        /// The peer's address.
        addr: SocketAddr,
        /// The operating system's error.
        source: std::io::Error,
    },
    /// Binding the server's listening socket failed.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address asked for.
        addr: SocketAddr,
        /// The operating system's error.
        source: std::io::Error,
    },
    /// The RLPx handshake, the Hello exchange or the session failed.
    #[error("{source}")]
    Rlpx {
        /// RLPx's error.
        #[from]
        source: rlpx::Error,
    },
    /// The peer speaks none of the eth versions we offered. The Hello tells what it does speak.
    #[error("{client} offers {offered}: no node data (GetNodeData needs eth/66; we offer {wanted})")]
    NoUsableProtocol {
        /// The peer's client id, from its Hello.
        client: String,
        /// The capabilities it offered, as `name/version` joined by ", ".
        offered: String,
        /// What we offered, likewise.
        wanted: String,
    },
    /// The peer's Status does not fit ours: another network, genesis or fork, or malformed.
    #[error("{client}: {source}")]
    Status {
        /// The peer's client id.
        client: String,
        /// What did not fit.
        source: HandshakeError,
    },
    /// The peer's first eth message was not a well-formed Status.
    #[error("{client} sent a bad Status: {source}")]
    BadStatus {
        /// The peer's client id.
        client: String,
        /// Why it was refused.
        source: eth_wire::Error,
    },
    /// The peer sent something other than Status first.
    #[error("{client} sent eth message {id:#04x} before its Status")]
    NoStatus {
        /// The peer's client id.
        client: String,
        /// The message id it sent.
        id: u64,
    },
    /// The peer did not complete the eth handshake in time.
    #[error("{client} did not send its Status within {timeout:?}")]
    StatusTimeout {
        /// The peer's client id.
        client: String,
        /// How long we waited.
        timeout: std::time::Duration,
    },
}

impl Error {
    /// Whether the peer can never be used by us (another network, genesis or fork, or no protocol we
    /// speak): retrying will not help, and a command should say so as bad input.
    pub fn is_incompatible(&self) -> bool {
        match self {
            Error::NoUsableProtocol { .. } => true,
            Error::Status { source, .. } => source.is_incompatible_chain(),
            Error::Rlpx { source } => matches!(source, rlpx::Error::NoSharedCapability { .. }),
            _ => false,
        }
    }
}

/// The result type of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;
