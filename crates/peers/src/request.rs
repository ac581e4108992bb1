//! What can be asked of a peer and what comes back, whatever the transport and protocol: node data
//! by hash (eth/66's GetNodeData, wire v1) and snap/1's ranges, bytecodes and trie nodes by path.

use std::fmt;

use primitive_types::H256;

use crate::{PeerError, PeerId};

/// The kinds of request a peer may serve. Idleness and throughput are tracked per kind: a peer
/// answering an account range may still take a bytecode request, and its rate for one says little
/// about the other (go-ethereum's snap syncer keeps one idle set per kind).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum RequestKind {
    /// Blobs (trie nodes and code) by hash: eth/66's GetNodeData, wire v1.
    NodeData,
    /// A range of accounts of a state root, with its proof (snap/1 GetAccountRange).
    AccountRange,
    /// Ranges of storage slots of accounts, with proofs (snap/1 GetStorageRanges).
    StorageRanges,
    /// Contract code by hash (snap/1 GetByteCodes).
    ByteCodes,
    /// Trie nodes by path, for healing (snap/1 GetTrieNodes).
    TrieNodes,
}

impl RequestKind {
    /// Every kind, in a fixed order (the index of [`RequestKind::index`]).
    pub const ALL: [RequestKind; 5] = [
        RequestKind::NodeData,
        RequestKind::AccountRange,
        RequestKind::StorageRanges,
        RequestKind::ByteCodes,
        RequestKind::TrieNodes,
    ];

    /// The kind's position in [`RequestKind::ALL`], for per-kind tables.
    pub fn index(self) -> usize {
        self as usize
    }

    /// The kind's name, as logs and reports show it.
    pub fn name(self) -> &'static str {
        match self {
            RequestKind::NodeData => "node data",
            RequestKind::AccountRange => "account range",
            RequestKind::StorageRanges => "storage ranges",
            RequestKind::ByteCodes => "bytecodes",
            RequestKind::TrieNodes => "trie nodes",
        }
    }
}

impl fmt::Display for RequestKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The kinds of request a peer serves: what its transport and the protocols negotiated with it allow
/// (a wire v1 peer serves node data; an RLPx peer on eth/66 node data, one with snap/1 the four snap
/// kinds, one on eth/67+ without snap none of them).
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Capabilities {
    /// One bit per [`RequestKind::index`].
    bits: u8,
}

impl Capabilities {
    /// Serves nothing.
    pub const NONE: Capabilities = Capabilities { bits: 0 };
    /// Node data only (wire v1, eth/66).
    pub const NODE_DATA: Capabilities = Capabilities { bits: 1 };
    /// snap/1's four kinds.
    pub const SNAP: Capabilities = Capabilities { bits: 0b11110 };

    /// These capabilities with `kind` added.
    pub const fn with(self, kind: RequestKind) -> Self {
        Capabilities { bits: self.bits | 1 << kind as u8 }
    }

    /// The union of two sets.
    pub const fn union(self, other: Capabilities) -> Self {
        Capabilities { bits: self.bits | other.bits }
    }

    /// Whether `kind` is served.
    pub fn serves(self, kind: RequestKind) -> bool {
        self.bits & (1 << kind.index()) != 0
    }

    /// Whether nothing is served.
    pub fn is_empty(self) -> bool {
        self.bits == 0
    }

    /// The kinds served, in [`RequestKind::ALL`] order.
    pub fn kinds(self) -> impl Iterator<Item = RequestKind> {
        RequestKind::ALL.into_iter().filter(move |kind| self.serves(*kind))
    }
}

impl fmt::Debug for Capabilities {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_set().entries(self.kinds()).finish()
    }
}

impl fmt::Display for Capabilities {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_empty() {
            return f.write_str("nothing");
        }
        for (i, kind) in self.kinds().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            f.write_str(kind.name())?;
        }
        Ok(())
    }
}

/// A request to a peer. Transports translate it into their protocol's message; one whose kind the
/// peer does not serve is refused with [`PeerError::Unsupported`](crate::PeerError::Unsupported)
/// before anything is sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PeerRequest {
    /// Blobs by hash (trie nodes and code alike).
    NodeData {
        /// The hashes, at most the transport's per-request limit.
        hashes: Vec<H256>,
    },
    /// Accounts of the state at `root` with hashed keys in `origin..=limit`, up to `bytes` of answer.
    AccountRange {
        /// The state root.
        root: H256,
        /// The first account hash wanted.
        origin: H256,
        /// The last account hash wanted.
        limit: H256,
        /// A soft cap on the answer's size.
        bytes: u64,
    },
    /// Storage slots of `accounts` (under the state at `root`), from `origin` to `limit` for the
    /// first account and whole for the rest, up to `bytes` of answer.
    StorageRanges {
        /// The state root.
        root: H256,
        /// The accounts' hashes.
        accounts: Vec<H256>,
        /// The first slot hash wanted (of the first account).
        origin: H256,
        /// The last slot hash wanted (of the first account).
        limit: H256,
        /// A soft cap on the answer's size.
        bytes: u64,
    },
    /// Contract code by hash, up to `bytes` of answer.
    ByteCodes {
        /// The code hashes.
        hashes: Vec<H256>,
        /// A soft cap on the answer's size.
        bytes: u64,
    },
    /// Trie nodes of the state at `root` by path: each group is an account path, then storage paths
    /// under it (snap/1's encoding of paths, compact-encoded nibbles).
    TrieNodes {
        /// The state root.
        root: H256,
        /// Path groups.
        paths: Vec<Vec<Vec<u8>>>,
        /// A soft cap on the answer's size.
        bytes: u64,
    },
}

impl PeerRequest {
    /// A node-data request for `hashes`.
    pub fn node_data(hashes: Vec<H256>) -> Self {
        PeerRequest::NodeData { hashes }
    }

    /// The hashes of a node-data request of at most `max` hashes, for a transport that serves node
    /// data only: another kind is refused with [`PeerError::Unsupported`], more hashes with
    /// [`PeerError::RequestTooLarge`], both before anything is sent.
    pub fn into_node_data_hashes(self, peer: &PeerId, max: usize) -> Result<Vec<H256>, PeerError> {
        match self {
            PeerRequest::NodeData { hashes } if hashes.len() > max => {
                Err(PeerError::RequestTooLarge { peer: peer.clone(), count: hashes.len(), max })
            }
            PeerRequest::NodeData { hashes } => Ok(hashes),
            other => Err(PeerError::Unsupported { peer: peer.clone(), kind: other.kind() }),
        }
    }

    /// The request's kind.
    pub fn kind(&self) -> RequestKind {
        match self {
            PeerRequest::NodeData { .. } => RequestKind::NodeData,
            PeerRequest::AccountRange { .. } => RequestKind::AccountRange,
            PeerRequest::StorageRanges { .. } => RequestKind::StorageRanges,
            PeerRequest::ByteCodes { .. } => RequestKind::ByteCodes,
            PeerRequest::TrieNodes { .. } => RequestKind::TrieNodes,
        }
    }

    /// Items asked for: hashes, accounts or paths (1 for an account range); what throughput counts.
    pub fn items(&self) -> usize {
        match self {
            PeerRequest::NodeData { hashes } | PeerRequest::ByteCodes { hashes, .. } => hashes.len(),
            PeerRequest::AccountRange { .. } => 1,
            PeerRequest::StorageRanges { accounts, .. } => accounts.len(),
            PeerRequest::TrieNodes { paths, .. } => paths.iter().map(|group| group.len().max(1)).sum(),
        }
    }
}

/// A peer's answer, unverified: the receiver hashes blobs and checks proofs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PeerResponse {
    /// Blobs answering a [`PeerRequest::NodeData`]: some of those asked for, in any order.
    NodeData {
        /// The blobs.
        blobs: Vec<Vec<u8>>,
    },
    /// Accounts answering a [`PeerRequest::AccountRange`], with the range's boundary proof.
    AccountRange {
        /// (account hash, slim account RLP), in increasing hash order.
        accounts: Vec<(H256, Vec<u8>)>,
        /// Trie nodes proving the range's edges.
        proof: Vec<Vec<u8>>,
    },
    /// Slots answering a [`PeerRequest::StorageRanges`], one list per account served.
    StorageRanges {
        /// Per account: (slot hash, value RLP), in increasing hash order.
        slots: Vec<Vec<(H256, Vec<u8>)>>,
        /// Trie nodes proving the last range's edges (empty when it is whole).
        proof: Vec<Vec<u8>>,
    },
    /// Code answering a [`PeerRequest::ByteCodes`].
    ByteCodes {
        /// The code blobs.
        codes: Vec<Vec<u8>>,
    },
    /// Nodes answering a [`PeerRequest::TrieNodes`], in request order.
    TrieNodes {
        /// The nodes.
        nodes: Vec<Vec<u8>>,
    },
}

impl PeerResponse {
    /// The kind of request this answers.
    pub fn kind(&self) -> RequestKind {
        match self {
            PeerResponse::NodeData { .. } => RequestKind::NodeData,
            PeerResponse::AccountRange { .. } => RequestKind::AccountRange,
            PeerResponse::StorageRanges { .. } => RequestKind::StorageRanges,
            PeerResponse::ByteCodes { .. } => RequestKind::ByteCodes,
            PeerResponse::TrieNodes { .. } => RequestKind::TrieNodes,
        }
    }

    /// Items delivered: blobs, accounts, slot lists or nodes.
    pub fn items(&self) -> usize {
        match self {
            PeerResponse::NodeData { blobs } => blobs.len(),
            PeerResponse::AccountRange { accounts, .. } => accounts.len(),
            PeerResponse::StorageRanges { slots, .. } => slots.len(),
            PeerResponse::ByteCodes { codes } => codes.len(),
            PeerResponse::TrieNodes { nodes } => nodes.len(),
        }
    }

    /// The blobs of a node-data answer, `None` for any other kind.
    pub fn into_node_data(self) -> Option<Vec<Vec<u8>>> {
        match self {
            PeerResponse::NodeData { blobs } => Some(blobs),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn capabilities_hold_exactly_the_kinds_added() {
        assert!(Capabilities::NODE_DATA.serves(RequestKind::NodeData));
        assert!(!Capabilities::NODE_DATA.serves(RequestKind::AccountRange));
        assert!(!Capabilities::SNAP.serves(RequestKind::NodeData));
        assert_eq!(Capabilities::SNAP.kinds().count(), 4);
        let both = Capabilities::SNAP.union(Capabilities::NODE_DATA);
        assert_eq!(both.kinds().collect::<Vec<_>>(), RequestKind::ALL.to_vec());
        assert!(Capabilities::NONE.is_empty());
        assert_eq!(Capabilities::NONE.to_string(), "nothing");
        assert_eq!(Capabilities::NONE.with(RequestKind::ByteCodes).to_string(), "bytecodes");
        for (i, kind) in RequestKind::ALL.into_iter().enumerate() {
            assert_eq!(kind.index(), i);
        }
    }

    #[test]
    fn requests_and_responses_name_their_kind_and_count_items() {
        let request = PeerRequest::node_data(vec![H256::zero(); 3]);
        assert_eq!((request.kind(), request.items()), (RequestKind::NodeData, 3));
        let paths = vec![vec![vec![1u8]], vec![vec![2u8], vec![3u8], vec![4u8]]];
        let request = PeerRequest::TrieNodes { root: H256::zero(), paths, bytes: 1 };
        assert_eq!((request.kind(), request.items()), (RequestKind::TrieNodes, 4));
        let response = PeerResponse::NodeData { blobs: vec![vec![1], vec![2]] };
        assert_eq!((response.kind(), response.items()), (RequestKind::NodeData, 2));
        assert_eq!(response.into_node_data(), Some(vec![vec![1], vec![2]]));
        assert_eq!(PeerResponse::ByteCodes { codes: vec![] }.into_node_data(), None);
    }
}
