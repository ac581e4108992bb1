//! How a GetNodeData is answered from a store: shared by the TCP server and the in-process peer.

use std::sync::Arc;

use kvdb::{KeyValueStore, Namespace};
use primitive_types::H256;

/// Size at which a NodeData answer stops growing.
///
/// Keeps one answer's frame (and the time to send it) modest, so a large request cannot monopolise a
/// connection; soft because the first blob found is always sent, whatever its size, so every answer
/// makes progress. go-ethereum uses the same 2 MiB for its responses.
pub const SOFT_RESPONSE_BYTES: usize = 2 * 1024 * 1024;

/// The blobs a server answers `hashes` with: for each hash in request order, the trie node stored
/// under it, else the code stored under it; hashes found in neither are omitted. Stops before the blob
/// that would take the answer past [`SOFT_RESPONSE_BYTES`], except that the first blob found is always
/// included.
///
/// Does no hashing: the requester verifies what it gets.
pub fn answer_node_data(store: &dyn KeyValueStore, hashes: &[H256]) -> kvdb::Result<Vec<Vec<u8>>> {
    let mut blobs = Vec::new();
    let mut bytes = 0usize;
    for hash in hashes {
        let key = hash.as_bytes();
        let blob = match store.get(Namespace::TrieNodes, key)? {
            Some(blob) => blob,
            None => match store.get(Namespace::Code, key)? {
                Some(code) => code,
                None => continue,
            },
        };
        if !blobs.is_empty() && bytes + blob.len() > SOFT_RESPONSE_BYTES {
            break;
        }
        bytes += blob.len();
        blobs.push(blob);
    }
    Ok(blobs)
}

/// Why [`answer_node_data_blocking`] has no answer.
#[derive(Debug, thiserror::Error)]
pub enum LookupError {
    /// The store returned an error.
    #[error("store failed: {0}")]
    Store(#[from] kvdb::Error),
    /// The lookup task did not finish: the storage engine panicked (redb may, on a page damaged
    /// outside it), or the runtime is shutting down.
    #[error("the lookup failed: {0}")]
    Task(#[from] tokio::task::JoinError),
}

/// [`answer_node_data`] on tokio's blocking pool, as a server answers a peer: store reads block, so
/// they stay off the async workers, and a panicking engine ends only that task.
pub async fn answer_node_data_blocking(
    store: Arc<dyn KeyValueStore>,
    hashes: Vec<H256>,
) -> Result<Vec<Vec<u8>>, LookupError> {
    Ok(tokio::task::spawn_blocking(move || answer_node_data(store.as_ref(), &hashes)).await??)
}

#[cfg(test)]
mod tests {
    use super::*;
    use kvdb::{MemoryStore, WriteBatch};

    #[test]
    fn request_order_missing_omitted_code_served() {
        let store = MemoryStore::new();
        let mut batch = WriteBatch::new();
        batch.put(Namespace::TrieNodes, H256::repeat_byte(1).as_bytes().to_vec(), b"node-1".to_vec());
        batch.put(Namespace::Code, H256::repeat_byte(2).as_bytes().to_vec(), b"code-2".to_vec());
        batch.put(Namespace::TrieNodes, H256::repeat_byte(3).as_bytes().to_vec(), b"node-3".to_vec());
        batch.put(Namespace::Meta, H256::repeat_byte(4).as_bytes().to_vec(), b"meta".to_vec());
        store.write(batch).unwrap();
        let hashes = [3, 9, 2, 4, 1].map(H256::repeat_byte);
        let blobs = answer_node_data(&store, &hashes).unwrap();
        assert_eq!(blobs, vec![b"node-3".to_vec(), b"code-2".to_vec(), b"node-1".to_vec()]);
    }

    #[test]
    fn stops_before_the_soft_limit_but_always_sends_one() {
        let store = MemoryStore::new();
        let mut batch = WriteBatch::new();
        for i in 0..10u8 {
            batch.put(Namespace::Code, H256::repeat_byte(i).as_bytes().to_vec(), vec![i; 300 * 1024]);
        }
        batch.put(Namespace::Code, H256::repeat_byte(0xff).as_bytes().to_vec(), vec![0; 3 * 1024 * 1024]);
        store.write(batch).unwrap();
        let hashes: Vec<H256> = (0..10u8).map(H256::repeat_byte).collect();
        // 6 * 300 KiB = 1800 KiB fits; a 7th would make 2100 KiB > 2048 KiB.
        assert_eq!(answer_node_data(&store, &hashes).unwrap().len(), 6);
        let big_first = [H256::repeat_byte(0xff), H256::repeat_byte(0)];
        let blobs = answer_node_data(&store, &big_first).unwrap();
        assert_eq!(blobs.len(), 1);
        assert_eq!(blobs[0].len(), 3 * 1024 * 1024);
    }
}
