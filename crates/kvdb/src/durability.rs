//! How much of what was written a crash may take back: a setting of the on-disk backends.

use std::num::NonZeroU32;

/// When a write batch becomes durable (survives a power loss or an operating-system crash).
///
/// Whatever the setting, a batch is atomic: after any crash each batch is either entirely present or
/// entirely absent, and the batches that survive are a prefix of those written (nothing later survives
/// while something earlier is lost). The setting only chooses how long that prefix is guaranteed to be,
/// trading it for write throughput: an `fsync` per batch costs milliseconds on most disks.
///
/// [`KeyValueStore::flush`](crate::KeyValueStore::flush) always makes every batch written so far durable.
/// Each backend documents exactly what a crash can lose under each setting.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Durability {
    /// Every batch is durable when [`KeyValueStore::write`](crate::KeyValueStore::write) returns.
    ///
    /// The safe default: a crash loses nothing that was acknowledged.
    #[default]
    Immediate,
    /// Only every `every`-th batch (counted from when the store was opened) and every
    /// [`flush`](crate::KeyValueStore::flush) is made durable; the batches in between are committed
    /// without waiting for the disk.
    ///
    /// A crash can lose at most the batches written since the last durable one (fewer than `every`,
    /// plus any written after the last `flush`). Sync re-fetches such lost nodes, so for it this is a
    /// cheap loss.
    Periodic {
        /// How many batches share one durable commit.
        every: NonZeroU32,
    },
}

impl Durability {
    /// `Periodic { every }`, or `Immediate` when `every` is 0 or 1 (a durable commit every batch).
    pub const fn periodic(every: u32) -> Self {
        match NonZeroU32::new(every) {
            Some(every) if every.get() > 1 => Durability::Periodic { every },
            _ => Durability::Immediate,
        }
    }

    /// Whether the batch numbered `sequence` (0 for the first batch after open) is a durable one.
    #[cfg_attr(not(any(feature = "redb", feature = "fjall")), allow(dead_code))]
    pub(crate) fn is_durable(self, sequence: u64) -> bool {
        match self {
            Durability::Immediate => true,
            Durability::Periodic { every } => (sequence + 1) % u64::from(every.get()) == 0,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn periodic_makes_every_nth_batch_durable() {
        let durability = Durability::periodic(3);
        let durable: Vec<u64> = (0..9).filter(|&n| durability.is_durable(n)).collect();
        assert_eq!(durable, vec![2, 5, 8]);
    }

    #[test]
    fn periodic_of_zero_or_one_is_immediate() {
        assert_eq!(Durability::periodic(0), Durability::Immediate);
        assert_eq!(Durability::periodic(1), Durability::Immediate);
        assert!((0..5).all(|n| Durability::Immediate.is_durable(n)));
    }
}
