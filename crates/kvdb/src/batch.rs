//! Atomic write batches.

use crate::{Error, Namespace, Result};

/// Longest key a store accepts, in bytes. Keys must also be non-empty.
///
/// These are fjall's limits, enforced by every backend so that code tested against
/// [`MemoryStore`](crate::MemoryStore) never meets a key a production backend refuses. Sync's keys are
/// 32-byte hashes and short metadata names, far inside them.
pub const MAX_KEY_LEN: usize = u16::MAX as usize;

/// Largest value a store accepts, in bytes: redb's limit (3 GiB), the tighter of the on-disk backends.
pub const MAX_VALUE_LEN: usize = 3 << 30;

/// Whether `key` is one a store can hold (non-empty, at most [`MAX_KEY_LEN`] bytes). Reads of any other
/// key find nothing without asking the backend, which may refuse it.
pub(crate) fn key_is_valid(key: &[u8]) -> bool {
    !key.is_empty() && key.len() <= MAX_KEY_LEN
}

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

impl BatchOp {
    /// The key space the operation writes to.
    pub fn namespace(&self) -> Namespace {
        match self {
            BatchOp::Put { namespace, .. } | BatchOp::Delete { namespace, .. } => *namespace,
        }
    }

    /// The key the operation writes.
    pub fn key(&self) -> &[u8] {
        match self {
            BatchOp::Put { key, .. } | BatchOp::Delete { key, .. } => key,
        }
    }
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

    /// Makes room for at least `additional` more operations.
    pub fn reserve(&mut self, additional: usize) {
        self.ops.reserve(additional);
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

    /// Checks every key and value against [`MAX_KEY_LEN`] and [`MAX_VALUE_LEN`], so a backend refuses
    /// the whole batch before writing any of it.
    pub(crate) fn check_limits(&self) -> Result<()> {
        for op in &self.ops {
            let (namespace, key) = match op {
                BatchOp::Put { namespace, key, value } => {
                    if value.len() > MAX_VALUE_LEN {
                        return Err(Error::ValueTooLarge { namespace: *namespace, len: value.len() });
                    }
                    (namespace, key)
                }
                BatchOp::Delete { namespace, key } => (namespace, key),
            };
            if !key_is_valid(key) {
                return Err(Error::InvalidKey { namespace: *namespace, len: key.len() });
            }
        }
        Ok(())
    }

    /// Consumes the batch into its operations.
    pub fn into_ops(self) -> Vec<BatchOp> {
        self.ops
    }

    /// Consumes the batch into its operations ordered by namespace and key, operations on one key
    /// keeping their order (a stable sort), so applying them in this order gives the same result.
    ///
    /// Both on-disk engines write a batch of random hash keys faster in key order: each redb insert
    /// lands on or beside the B-tree leaf the one before dirtied, and fjall's skiplist search for
    /// the next key walks nodes the last one brought into cache.
    pub fn into_ops_in_key_order(self) -> Vec<BatchOp> {
        let mut ops = self.ops;
        ops.sort_by(|a, b| (a.namespace(), a.key()).cmp(&(b.namespace(), b.key())));
        ops
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

    #[test]
    fn limits_refuse_empty_and_overlong_keys() {
        let mut batch = WriteBatch::new();
        batch.put(Namespace::Code, vec![1; MAX_KEY_LEN], vec![]);
        assert!(batch.check_limits().is_ok());
        batch.delete(Namespace::Meta, vec![]);
        assert!(matches!(
            batch.check_limits(),
            Err(Error::InvalidKey { namespace: Namespace::Meta, len: 0 })
        ));
        batch.clear();
        batch.put(Namespace::TrieNodes, vec![1; MAX_KEY_LEN + 1], vec![]);
        assert!(matches!(batch.check_limits(), Err(Error::InvalidKey { len, .. }) if len == MAX_KEY_LEN + 1));
    }

    #[test]
    fn key_order_keeps_the_order_of_operations_on_one_key() {
        let mut batch = WriteBatch::new();
        batch.put(Namespace::Meta, b"b".to_vec(), b"1".to_vec());
        batch.put(Namespace::TrieNodes, b"z".to_vec(), b"2".to_vec());
        batch.delete(Namespace::Meta, b"b".to_vec());
        batch.put(Namespace::Meta, b"a".to_vec(), b"3".to_vec());
        batch.put(Namespace::Meta, b"b".to_vec(), b"4".to_vec());
        let ops = batch.into_ops_in_key_order();
        let seen: Vec<(Namespace, Vec<u8>, Option<Vec<u8>>)> = ops
            .into_iter()
            .map(|op| match op {
                BatchOp::Put { namespace, key, value } => (namespace, key, Some(value)),
                BatchOp::Delete { namespace, key } => (namespace, key, None),
            })
            .collect();
        assert_eq!(
            seen,
            vec![
                (Namespace::TrieNodes, b"z".to_vec(), Some(b"2".to_vec())),
                (Namespace::Meta, b"a".to_vec(), Some(b"3".to_vec())),
                (Namespace::Meta, b"b".to_vec(), Some(b"1".to_vec())),
                (Namespace::Meta, b"b".to_vec(), None),
                (Namespace::Meta, b"b".to_vec(), Some(b"4".to_vec())),
            ]
        );
    }
}
