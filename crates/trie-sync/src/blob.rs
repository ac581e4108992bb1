//! Blobs whose hash has been computed from their bytes.

use crate::{keccak256, NodeHash};

/// A blob together with the keccak-256 of its bytes, computed here: the only way to hand data to the
/// scheduler, so nothing reaches the database under a hash it does not have.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedBlob {
    hash: NodeHash,
    data: Vec<u8>,
}

impl VerifiedBlob {
    /// Hashes `data`.
    pub fn new(data: Vec<u8>) -> Self {
        Self { hash: keccak256(&data), data }
    }

    /// keccak-256 of the data.
    pub fn hash(&self) -> NodeHash {
        self.hash
    }

    /// The bytes.
    pub fn data(&self) -> &[u8] {
        &self.data
    }

    /// Length of the data in bytes.
    pub fn len(&self) -> usize {
        self.data.len()
    }

    /// Whether the data is empty.
    pub fn is_empty(&self) -> bool {
        self.data.is_empty()
    }

    /// The hash and the bytes.
    pub fn into_parts(self) -> (NodeHash, Vec<u8>) {
        (self.hash, self.data)
    }
}
