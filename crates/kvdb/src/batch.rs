//! Atomic write batches.

use crate::Namespace;

/// One change in a [`WriteBatch`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BatchOp {
    /// Set `key` in `namespace` to `value`.
    Put {
        /// The key space written to.
        namespace: Namespace,
        /// The key.
        key: Vec<u8>,
        /// The value.
        value: Vec<u8>,
    },
    /// Remove `key` from `namespace` (a no-op if absent).
    Delete {
        /// The key space written to.
        namespace: Namespace,
        /// The key.
        key: Vec<u8>,
    },
}

/// Changes applied all together or not at all by [`KeyValueStore::write`](crate::KeyValueStore::write).
///
/// Operations apply in the order they were added, so a later `put` of a key wins over an earlier one.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WriteBatch {
    ops: Vec<BatchOp>,
    /// Bytes of keys and values held, so callers can flush at a size threshold without walking the ops.
    size_bytes: usize,
}

impl WriteBatch {
    /// An empty batch.
    pub fn new() -> Self {
        Self::default()
    }

    /// An empty batch with room for `ops` operations.
    pub fn with_capacity(ops: usize) -> Self {
        Self { ops: Vec::with_capacity(ops), size_bytes: 0 }
    }

    /// Sets `key` to `value` in `namespace`.
    pub fn put(&mut self, namespace: Namespace, key: impl Into<Vec<u8>>, value: impl Into<Vec<u8>>) {
        let (key, value) = (key.into(), value.into());
        self.size_bytes += key.len() + value.len();
        self.ops.push(BatchOp::Put { namespace, key, value });
    }

    /// Removes `key` from `namespace`.
    pub fn delete(&mut self, namespace: Namespace, key: impl Into<Vec<u8>>) {
        let key = key.into();
        self.size_bytes += key.len();
        self.ops.push(BatchOp::Delete { namespace, key });
    }

    /// Number of operations.
    pub fn len(&self) -> usize {
        self.ops.len()
    }

    /// Whether the batch holds no operation.
    pub fn is_empty(&self) -> bool {
        self.ops.is_empty()
    }

    /// Bytes of keys and values held.
    pub fn size_bytes(&self) -> usize {
        self.size_bytes
    }

    /// The operations, in the order they apply.
    pub fn ops(&self) -> &[BatchOp] {
        &self.ops
    }

    /// Removes every operation, keeping the allocation.
    pub fn clear(&mut self) {
        self.ops.clear();
        self.size_bytes = 0;
    }

    /// Consumes the batch into its operations.
    pub fn into_ops(self) -> Vec<BatchOp> {
        self.ops
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn size_counts_keys_and_values() {
        let mut batch = WriteBatch::new();
        batch.put(Namespace::Code, vec![1, 2], vec![3, 4, 5]);
        batch.delete(Namespace::Meta, b"abc".to_vec());
        assert_eq!(batch.len(), 2);
        assert_eq!(batch.size_bytes(), 2 + 3 + 3);
        batch.clear();
        assert!(batch.is_empty());
        assert_eq!(batch.size_bytes(), 0);
    }
}
