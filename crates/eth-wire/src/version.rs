//! The eth protocol versions this crate speaks and what each one contains.

use std::fmt;

use crate::{Error, Result};

/// A version of the eth protocol, as negotiated in the RLPx Hello's capability list.
///
/// go-ethereum v1.13.2 offers eth/66-68 (GetNodeData only on eth/66); v1.17 offers eth/68-69
/// (and later versions, which this crate does not implement, so they are never negotiated).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum EthVersion {
    /// eth/66 (EIP-2481): request ids; the last version with GetNodeData/NodeData.
    Eth66,
    /// eth/67 (EIP-4938): GetNodeData and NodeData removed.
    Eth67,
    /// eth/68 (EIP-5793): NewPooledTransactionHashes carries types and sizes.
    Eth68,
    /// eth/69 (EIP-7642): Status without total difficulty, with the served block range;
    /// BlockRangeUpdate added.
    Eth69,
}

impl EthVersion {
    /// Every version, oldest first.
    pub const ALL: [EthVersion; 4] =
        [EthVersion::Eth66, EthVersion::Eth67, EthVersion::Eth68, EthVersion::Eth69];

    /// The version from its number in a capability list.
    pub fn from_number(version: u32) -> Result<Self> {
        match version {
            66 => Ok(EthVersion::Eth66),
            67 => Ok(EthVersion::Eth67),
            68 => Ok(EthVersion::Eth68),
            69 => Ok(EthVersion::Eth69),
            _ => Err(Error::UnsupportedVersion { version }),
        }
    }

    /// The version's number, as in the capability list and the Status message.
    pub fn number(self) -> u32 {
        match self {
            EthVersion::Eth66 => 66,
            EthVersion::Eth67 => 67,
            EthVersion::Eth68 => 68,
            EthVersion::Eth69 => 69,
        }
    }

    /// How many message ids the version reserves, which is how far the next capability's ids are
    /// offset (devp2p capability multiplexing). Ids 0x0b and 0x0c are unused but reserved, and
    /// eth/67-68 keep 0x0d/0x0e reserved after removing GetNodeData: 17 for eth/66-68, 18 for
    /// eth/69 (BlockRangeUpdate is 0x11), as go-ethereum's `protocolLengths`.
    pub fn message_count(self) -> u8 {
        match self {
            EthVersion::Eth66 | EthVersion::Eth67 | EthVersion::Eth68 => 17,
            EthVersion::Eth69 => 18,
        }
    }

    /// Whether GetNodeData/NodeData exist in this version (eth/66 only).
    pub fn has_node_data(self) -> bool {
        self == EthVersion::Eth66
    }

    /// Whether the Status message uses eth/69's layout (block range instead of total
    /// difficulty) and BlockRangeUpdate exists.
    pub fn has_block_range(self) -> bool {
        self >= EthVersion::Eth69
    }
}

impl fmt::Display for EthVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.number())
    }
}

impl TryFrom<u32> for EthVersion {
    type Error = Error;

    fn try_from(version: u32) -> Result<Self> {
        EthVersion::from_number(version)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_round_trip_and_unknown_versions_are_errors() {
        for version in EthVersion::ALL {
            assert_eq!(EthVersion::from_number(version.number()).unwrap(), version);
        }
        for bad in [0, 65, 70, 72] {
            let err = EthVersion::from_number(bad).unwrap_err();
            assert!(matches!(err, Error::UnsupportedVersion { version } if version == bad));
            assert!(!err.is_peer_fault());
        }
    }
}
