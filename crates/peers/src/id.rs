//! Peer identities.

use std::fmt;
use std::sync::Arc;

/// The identity of a connected peer: cheap to clone (a shared string), ordered and hashable, so it can
/// key maps and appear in logs.
///
/// Transports choose the text: the TCP transport uses the remote socket address, an in-process peer
/// whatever name the test gives it, RLPx would use the node id.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PeerId(Arc<str>);

impl PeerId {
    /// A peer id with the given text.
    pub fn new(id: impl AsRef<str>) -> Self {
        Self(Arc::from(id.as_ref()))
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for PeerId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for PeerId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PeerId({})", self.0)
    }
}

impl From<&str> for PeerId {
    fn from(id: &str) -> Self {
        Self::new(id)
    }
}

impl From<String> for PeerId {
    fn from(id: String) -> Self {
        Self(Arc::from(id))
    }
}

impl From<std::net::SocketAddr> for PeerId {
    fn from(addr: std::net::SocketAddr) -> Self {
        Self::from(addr.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clones_share_text_and_compare_equal() {
        let a = PeerId::new("peer-1");
        let b = a.clone();
        assert_eq!(a, b);
        assert_eq!(a.to_string(), "peer-1");
        assert!(PeerId::from("a") < PeerId::from("b"));
        let addr: std::net::SocketAddr = "127.0.0.1:30303".parse().unwrap();
        assert_eq!(PeerId::from(addr).as_str(), "127.0.0.1:30303");
    }
}
