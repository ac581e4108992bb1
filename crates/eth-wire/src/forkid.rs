//! EIP-2124 fork identifiers: computing ours from the genesis hash and the fork schedule, and
//! the filter that decides whether a peer's is compatible.

use std::fmt;

use primitive_types::H256;
use rlp::RlpStream;

use crate::codec::Item;
use crate::{ForkIdError, Result};

/// go-ethereum's cut-off between block numbers and timestamps in a fork id's `next` (mainnet's
/// genesis timestamp): a remote `next` above it is a timestamp, so rule 1a compares it with our
/// head's time. A heuristic from `core/forkid`, needed while block forks turned into time forks.
const TIMESTAMP_THRESHOLD: u64 = 1_438_269_973;

/// A fork identifier (EIP-2124): where a node's chain stands among the forks it knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ForkId {
    /// CRC32 (IEEE) of the genesis hash followed by every passed fork's block number or
    /// timestamp as 8 big-endian bytes.
    pub hash: [u8; 4],
    /// The next fork the node knows (a block number, or a timestamp for forks since Shanghai),
    /// or 0 when it knows none.
    pub next: u64,
}

impl ForkId {
    /// RLP: `[hash: 4 bytes, next: integer]`.
    pub fn encode(&self) -> Vec<u8> {
        let mut stream = RlpStream::new();
        self.append_to(&mut stream);
        stream.out().to_vec()
    }

    /// Decodes [`encode`](Self::encode)'s output.
    pub fn decode(bytes: &[u8]) -> Result<ForkId> {
        ForkId::read(Item::parse("fork id", bytes)?)
    }

    pub(crate) fn append_to(&self, stream: &mut RlpStream) {
        stream.begin_list(2);
        stream.append(&self.hash.as_slice());
        stream.append(&self.next);
    }

    pub(crate) fn read(item: Item<'_>) -> Result<ForkId> {
        const MESSAGE: &str = "fork id";
        let mut list = item.list(MESSAGE)?;
        let hash = list.next_item()?.fixed::<4>(MESSAGE)?;
        let next = list.next_item()?.u64(MESSAGE)?;
        list.finish();
        Ok(ForkId { hash, next })
    }
}

impl fmt::Display for ForkId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{{hash: 0x{}, next: {}}}", hex::encode(self.hash), self.next)
    }
}

/// Where a chain's head stands, as the fork rules see it: forks up to the Merge are scheduled by
/// block number, later ones by timestamp.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Head {
    /// The head block's number.
    pub number: u64,
    /// The head block's timestamp.
    pub timestamp: u64,
}

/// The forks of a chain in the order that EIP-2124 checksums them: block-number forks ascending,
/// then timestamp forks ascending, without duplicates (several forks at one block count once),
/// without block forks at 0 and without time forks at or before the genesis timestamp (those
/// are the genesis rules, not forks), as go-ethereum's `gatherForks`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ForkSchedule {
    /// Block numbers of the block-scheduled forks (Homestead ... Gray Glacier, MergeNetsplit).
    blocks: Vec<u64>,
    /// Timestamps of the time-scheduled forks (Shanghai and later).
    times: Vec<u64>,
}

impl ForkSchedule {
    /// The schedule from the raw activation points, in any order, duplicates allowed.
    pub fn new(
        blocks: impl IntoIterator<Item = u64>,
        times: impl IntoIterator<Item = u64>,
        genesis_timestamp: u64,
    ) -> ForkSchedule {
        let mut blocks: Vec<u64> = blocks.into_iter().filter(|&b| b != 0).collect();
        blocks.sort_unstable();
        blocks.dedup();
        let mut times: Vec<u64> = times.into_iter().filter(|&t| t > genesis_timestamp).collect();
        times.sort_unstable();
        times.dedup();
        ForkSchedule { blocks, times }
    }

    /// The block-number forks, ascending.
    pub fn blocks(&self) -> &[u64] {
        &self.blocks
    }

    /// The timestamp forks, ascending.
    pub fn times(&self) -> &[u64] {
        &self.times
    }

    /// The fork id of a chain with this schedule, from `genesis`, at `head`.
    pub fn fork_id(&self, genesis: H256, head: Head) -> ForkId {
        let mut hasher = crc32fast::Hasher::new();
        hasher.update(genesis.as_bytes());
        for &fork in &self.blocks {
            if fork > head.number {
                return ForkId { hash: checksum(&hasher), next: fork };
            }
            hasher.update(&fork.to_be_bytes());
        }
        for &fork in &self.times {
            if fork > head.timestamp {
                return ForkId { hash: checksum(&hasher), next: fork };
            }
            hasher.update(&fork.to_be_bytes());
        }
        ForkId { hash: checksum(&hasher), next: 0 }
    }

    /// The EIP-2124 filter for peers of a chain with this schedule, our head being at `head`.
    pub fn filter(&self, genesis: H256, head: Head) -> ForkFilter {
        let forks: Vec<u64> = self.blocks.iter().chain(&self.times).copied().collect();
        let mut sums = Vec::with_capacity(forks.len() + 1);
        let mut hasher = crc32fast::Hasher::new();
        hasher.update(genesis.as_bytes());
        sums.push(checksum(&hasher));
        for fork in &forks {
            hasher.update(&fork.to_be_bytes());
            sums.push(checksum(&hasher));
        }
        ForkFilter {
            forks,
            // Without time forks, the never-passed sentinel after the last fork is compared with
            // the head's block number; otherwise with its timestamp (go-ethereum's rule).
            block_forks: self.blocks.len() + usize::from(self.times.is_empty()),
            sums,
            head,
        }
    }
}

fn checksum(hasher: &crc32fast::Hasher) -> [u8; 4] {
    hasher.clone().finalize().to_be_bytes()
}

/// Decides whether a remote fork id is compatible with our chain at our head (EIP-2124's rules,
/// with go-ethereum's extension to timestamp forks). Build a new one when the head moves.
#[derive(Debug, Clone)]
pub struct ForkFilter {
    /// Every fork, block forks first, then time forks.
    forks: Vec<u64>,
    /// How many leading entries of `forks` (plus the sentinel) are compared with the head's
    /// number rather than its timestamp.
    block_forks: usize,
    /// Checksum after 0, 1, ... all forks: `sums[i]` is the fork hash before `forks[i]`.
    sums: Vec<[u8; 4]>,
    /// Our head when the filter was built.
    head: Head,
}

impl ForkFilter {
    /// Accepts or rejects a remote fork id:
    /// 1. Same checksum as our current state: accept, unless the remote announces a next fork
    ///    our head has already passed (1a: reject).
    /// 2. The remote's checksum is one of our past states: accept if its next fork is the one we
    ///    passed next, else it is stale (reject).
    /// 3. The remote's checksum is one of our future states: accept (we are syncing).
    /// 4. Anything else: reject.
    pub fn validate(&self, remote: ForkId) -> std::result::Result<(), ForkIdError> {
        let Head { number, timestamp } = self.head;
        let sentinel = std::iter::once(u64::MAX);
        for (i, fork) in self.forks.iter().copied().chain(sentinel).enumerate() {
            let head = if i < self.block_forks { number } else { timestamp };
            if head >= fork {
                continue;
            }
            // forks[i] is the first fork we have not passed: sums[i] is our current state
            if self.sums[i] == remote.hash {
                let passed =
                    head >= remote.next || (remote.next > TIMESTAMP_THRESHOLD && timestamp >= remote.next);
                if remote.next > 0 && passed {
                    return Err(ForkIdError::LocalIncompatibleOrStale);
                }
                return Ok(());
            }
            if let Some(j) = self.sums[..i].iter().position(|s| *s == remote.hash) {
                if self.forks[j] != remote.next {
                    return Err(ForkIdError::RemoteStale {
                        remote_next: remote.next,
                        local_next: self.forks[j],
                    });
                }
                return Ok(());
            }
            if self.sums[i + 1..].contains(&remote.hash) {
                return Ok(());
            }
            return Err(ForkIdError::LocalIncompatibleOrStale);
        }
        // unreachable: no head passes the u64::MAX sentinel; go-ethereum accepts here too
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schedule_drops_genesis_forks_and_duplicates() {
        let schedule = ForkSchedule::new([0, 5, 5, 3, 0], [100, 50, 100, 10, 7], 10);
        assert_eq!(schedule.blocks(), &[3, 5]);
        assert_eq!(schedule.times(), &[50, 100]);
    }

    #[test]
    fn fork_id_rlp_matches_go_ethereum() {
        // go-ethereum core/forkid TestEncoding
        let cases = [
            (ForkId { hash: [0; 4], next: 0 }, "c6840000000080"),
            (ForkId { hash: 0xdeadbeef_u32.to_be_bytes(), next: 0xbaddcafe }, "ca84deadbeef84baddcafe"),
            (ForkId { hash: [0xff; 4], next: u64::MAX }, "ce84ffffffff88ffffffffffffffff"),
        ];
        for (id, want) in cases {
            assert_eq!(hex::encode(id.encode()), want);
            assert_eq!(ForkId::decode(&hex::decode(want).unwrap()).unwrap(), id);
        }
        // a 3-byte hash is not a fork id
        assert!(ForkId::decode(&hex::decode("c583aabbcc80").unwrap()).is_err());
    }
}
