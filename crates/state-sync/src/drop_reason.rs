//! Why a peer was dropped during a sync.

use std::fmt;

use peers::DisconnectCause;

/// Why a peer was disconnected and removed from the peer set during a sync, for the report.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum DropReason {
    /// A request of at most two items timed out: go-ethereum's "stalling" peer, of no use now.
    Stalling {
        /// Items the request asked for.
        items: usize,
    },
    /// It answered with blobs of which none was asked of it (random bytes, or other nodes).
    UnrequestedData {
        /// Blobs in the answer.
        blobs: usize,
    },
    /// A request could not be sent to it (its connection cannot carry requests; not necessarily its
    /// fault).
    SendFailed,
    /// Its connection ended (whoever ended it).
    Disconnected {
        /// Why the connection ended.
        cause: DisconnectCause,
    },
}

impl DropReason {
    /// Whether the peer misbehaved (as opposed to merely losing its connection).
    pub fn is_peer_fault(&self) -> bool {
        match self {
            DropReason::Stalling { .. } | DropReason::UnrequestedData { .. } => true,
            DropReason::SendFailed => false,
            DropReason::Disconnected { cause } => cause.is_peer_fault(),
        }
    }
}

impl fmt::Display for DropReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DropReason::Stalling { items } => write!(f, "stalling: a request of {items} items timed out"),
            DropReason::UnrequestedData { blobs } => {
                write!(f, "sent {blobs} blobs, none of them requested")
            }
            DropReason::SendFailed => f.write_str("a request could not be sent to it"),
            DropReason::Disconnected { cause } => write!(f, "disconnected: {cause}"),
        }
    }
}
