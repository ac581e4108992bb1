//! What we say to Ethereum peers and how patient we are.

use std::sync::Arc;
use std::time::Duration;

use eth_wire::{Chain, EthVersion};
use rlpx::{Capability, NodeKey, P2pConfig};

/// How we present ourselves to Ethereum peers.
#[derive(Debug, Clone)]
pub struct EthConfig {
    /// Our node key: our identity on the network (the enode's public key).
    pub node_key: Arc<NodeKey>,
    /// The chain we are on: network id, genesis hash and fork schedule for the Status handshake.
    pub chain: Chain,
    /// The eth versions we offer. Both sides pick the highest they share, and GetNodeData exists only
    /// up to eth/66, so a node-data sync offers eth/66 alone (the default).
    pub versions: Vec<EthVersion>,
    /// The base protocol: client id, ping interval and timeout, handshake timeout, message size cap.
    /// Its capability list is filled from `versions`.
    pub p2p: P2pConfig,
    /// How long dialing the TCP connection may take.
    pub dial_timeout: Duration,
    /// How long the peer has to send its Status once the session is up.
    pub status_timeout: Duration,
    /// How long writing one message may take before the peer counts as stalled (it stopped reading).
    pub write_timeout: Duration,
}

impl EthConfig {
    /// eth/66 on `chain` as `node_key`, with go-ethereum's timeouts.
    pub fn new(node_key: Arc<NodeKey>, chain: Chain) -> Self {
        Self {
            node_key,
            chain,
            versions: vec![EthVersion::Eth66],
            p2p: P2pConfig::default(),
            dial_timeout: Duration::from_secs(10),
            status_timeout: Duration::from_secs(10),
            write_timeout: Duration::from_secs(20),
        }
    }

    /// The base-protocol settings with our eth capabilities.
    pub(crate) fn p2p(&self) -> P2pConfig {
        let mut p2p = self.p2p.clone();
        p2p.capabilities = self
            .versions
            .iter()
            .map(|version| Capability::new("eth", version.number(), u64::from(version.message_count())))
            .collect();
        p2p
    }

    /// What we offer, as `eth/66, ...`.
    pub(crate) fn offered(&self) -> String {
        self.versions.iter().map(|v| format!("eth/{}", v.number())).collect::<Vec<_>>().join(", ")
    }
}
