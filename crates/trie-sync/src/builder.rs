//! A streaming trie builder: sorted key/value pairs in, the root hash and every hash-addressed node out.
//!
//! [`TrieBuilder`] never holds the trie as a tree. It keeps only the branch nodes along the path of the
//! last inserted key (at most one per nibble of the key), so memory is bounded by key length, not by the
//! number of leaves: it builds multi-million-leaf test states. The idea is go-ethereum's `StackTrie` and
//! alloy-trie's `HashBuilder`; unlike the latter it also accepts keys that are prefixes of other keys
//! (branch values), which the non-secure Ethereum trie test vectors need.
//!
//! Every node whose RLP is 32 bytes or longer is handed to the sink as `(keccak256(rlp), rlp)`, and so is
//! the root whatever its length (a root is always looked up by hash). Smaller nodes are embedded in their
//! parent and never emitted on their own. Nodes are emitted children first: a parent is emitted only
//! after every node it references by hash, the order the sync scheduler commits in. The stream is not
//! deduplicated: two identical subtries at different positions (same remaining path, same value) are
//! emitted once each, under the same hash; a store keyed by hash absorbs that.

use crate::nibbles::hex_prefix_encode_into;
use crate::{keccak256, BuildError, NodeHash, EMPTY_ROOT, H256};

/// Length of a hash reference; a node whose RLP is at least this long is referenced by hash.
const HASH_LEN: usize = 32;

/// RLP of the empty byte string: an empty child slot or an absent branch value.
const RLP_EMPTY: u8 = 0x80;

/// How a parent refers to a finished child: the child's hash, or its whole RLP when shorter than 32
/// bytes. Both fit in 32 bytes, so a slot lives inline in its branch without a heap allocation.
#[derive(Clone, Copy)]
struct ChildSlot {
    /// 0 = empty slot, 32 = `bytes` is a hash, 1..=31 = `bytes[..len]` is an embedded node's RLP.
    len: u8,
    bytes: [u8; HASH_LEN],
}

impl ChildSlot {
    const EMPTY: ChildSlot = ChildSlot { len: 0, bytes: [0; HASH_LEN] };

    fn hash(hash: &H256) -> Self {
        ChildSlot { len: HASH_LEN as u8, bytes: hash.0 }
    }

    fn embedded(rlp: &[u8]) -> Self {
        debug_assert!(rlp.len() < HASH_LEN);
        let mut bytes = [0; HASH_LEN];
        bytes[..rlp.len()].copy_from_slice(rlp);
        ChildSlot { len: rlp.len() as u8, bytes }
    }

    /// Bytes this slot takes inside its parent's RLP.
    fn encoded_len(&self) -> usize {
        match self.len as usize {
            0 => 1,
            HASH_LEN => 1 + HASH_LEN,
            len => len,
        }
    }

    fn write(&self, out: &mut Vec<u8>) {
        match self.len as usize {
            0 => out.push(RLP_EMPTY),
            HASH_LEN => {
                out.push(RLP_EMPTY + HASH_LEN as u8);
                out.extend_from_slice(&self.bytes);
            }
            len => out.extend_from_slice(&self.bytes[..len]),
        }
    }
}

/// An unfinished branch node on the path of the last key: more children may still arrive.
struct Frame {
    /// Nibble position this branch splits on; its path from the root is `key[..depth]`.
    depth: usize,
    /// Finished children, indexed by the nibble at `depth`.
    children: [ChildSlot; 16],
    /// Value of the key that ends exactly here (a key that is a prefix of later keys).
    value: Option<Vec<u8>>,
}

/// The most recently finished node on the path of the last key, not yet attached to its parent.
#[derive(Clone, Copy)]
enum Pending {
    /// Nothing inserted yet.
    Nothing,
    /// The last key's leaf; its path and value are in `TrieBuilder::key` / `TrieBuilder::value`.
    Leaf,
    /// A finished branch at nibble position `depth` on the last key's path, referenced by `slot`.
    Branch { depth: usize, slot: ChildSlot },
}

/// Builds a Merkle-Patricia trie from key/value pairs inserted in ascending key order, handing every
/// node stored by hash to `sink` (children before parents) and returning the root from
/// [`finish`](Self::finish).
///
/// ```
/// use trie_sync::{keccak256, TrieBuilder};
///
/// let mut nodes = Vec::new();
/// let mut builder = TrieBuilder::new(|hash, rlp: &[u8]| nodes.push((hash, rlp.to_vec())));
/// builder.insert(b"doe", b"reindeer")?;
/// builder.insert(b"dog", b"puppy")?;
/// builder.insert(b"dogglesworth", b"cat")?;
/// let root = builder.finish();
/// assert_eq!(format!("{root:x}"), "8aad789dff2f538bca5d8ea56e8abe10f4c7ba3a5dea95fea4cd6e7c3a1168d3");
/// assert!(nodes.iter().all(|(hash, rlp)| keccak256(rlp) == *hash));
/// assert_eq!(nodes.last().map(|(hash, _)| *hash), Some(root));
/// # Ok::<(), trie_sync::BuildError>(())
/// ```
pub struct TrieBuilder<S> {
    /// Receives `(hash, rlp)` of every node stored by hash.
    sink: S,
    /// Nibbles of the last inserted key.
    key: Vec<u8>,
    /// Value of the last inserted key, while it is still the pending leaf.
    value: Vec<u8>,
    /// Scratch buffer for the next key's nibbles, swapped with `key` to avoid reallocating.
    next_key: Vec<u8>,
    /// Open branches along `key`, strictly deeper towards the top.
    frames: Vec<Frame>,
    pending: Pending,
    /// Scratch buffer for encoding a node.
    rlp: Vec<u8>,
    /// Scratch buffer for a hex-prefix path.
    path: Vec<u8>,
}

impl<S: FnMut(NodeHash, &[u8])> TrieBuilder<S> {
    /// A builder for an empty trie that hands each node stored by hash to `sink`.
    pub fn new(sink: S) -> Self {
        TrieBuilder {
            sink,
            key: Vec::with_capacity(2 * HASH_LEN),
            value: Vec::new(),
            next_key: Vec::with_capacity(2 * HASH_LEN),
            frames: Vec::with_capacity(2 * HASH_LEN),
            pending: Pending::Nothing,
            rlp: Vec::with_capacity(1024),
            path: Vec::with_capacity(HASH_LEN + 1),
        }
    }

    /// Adds `key` → `value`. `key` must sort strictly after the previous key (byte order, a prefix
    /// sorting first) and `value` must not be empty; otherwise nothing changes and the error says why.
    pub fn insert(&mut self, key: &[u8], value: &[u8]) -> Result<(), BuildError> {
        if value.is_empty() {
            return Err(BuildError::EmptyValue { key: key.to_vec() });
        }
        self.next_key.clear();
        self.next_key.extend(key.iter().flat_map(|byte| [byte >> 4, byte & 0x0f]));
        if !matches!(self.pending, Pending::Nothing) {
            match self.key.cmp(&self.next_key) {
                std::cmp::Ordering::Less => {}
                std::cmp::Ordering::Equal => return Err(BuildError::DuplicateKey { key: key.to_vec() }),
                std::cmp::Ordering::Greater => {
                    return Err(BuildError::Unsorted { previous: pack(&self.key), key: key.to_vec() })
                }
            }
            let common = self.key.iter().zip(&self.next_key).take_while(|(a, b)| a == b).count();
            self.collapse_deeper_than(Some(common));
            if common == self.key.len() {
                // The previous key is a prefix of this one: its value moves into a branch at its end.
                // No frame is that deep yet: frames sit strictly inside the previous key.
                self.frames.push(Frame {
                    depth: common,
                    children: [ChildSlot::EMPTY; 16],
                    value: Some(std::mem::take(&mut self.value)),
                });
            } else {
                let slot = self.attach_pending(common + 1);
                let nibble = self.key[common] as usize;
                match self.frames.last_mut() {
                    Some(frame) if frame.depth == common => frame.children[nibble] = slot,
                    _ => {
                        let mut children = [ChildSlot::EMPTY; 16];
                        children[nibble] = slot;
                        self.frames.push(Frame { depth: common, children, value: None });
                    }
                }
            }
        }
        std::mem::swap(&mut self.key, &mut self.next_key);
        self.value.clear();
        self.value.extend_from_slice(value);
        self.pending = Pending::Leaf;
        Ok(())
    }

    /// Finishes every open node, emits the root node (even if shorter than 32 bytes) and returns the
    /// root hash; [`EMPTY_ROOT`] with nothing emitted if no key was inserted.
    pub fn finish(mut self) -> NodeHash {
        if matches!(self.pending, Pending::Nothing) {
            return EMPTY_ROOT;
        }
        self.collapse_deeper_than(None);
        match self.pending {
            Pending::Branch { depth: 0, slot } if slot.len as usize == HASH_LEN => H256(slot.bytes),
            Pending::Branch { depth: 0, slot } => {
                let rlp = &slot.bytes[..slot.len as usize];
                let hash = keccak256(rlp);
                (self.sink)(hash, rlp);
                hash
            }
            _ => {
                self.encode_pending(0);
                let hash = keccak256(&self.rlp);
                (self.sink)(hash, &self.rlp);
                hash
            }
        }
    }

    /// Closes every open branch deeper than nibble position `depth` (all of them for `None`), deepest
    /// first, each taking the pending node as its child; the last one closed becomes the pending node.
    fn collapse_deeper_than(&mut self, depth: Option<usize>) {
        while let Some(frame_depth) = self.frames.last().map(|frame| frame.depth) {
            if depth.is_some_and(|depth| frame_depth <= depth) {
                break;
            }
            let child = self.attach_pending(frame_depth + 1);
            let Some(mut frame) = self.frames.pop() else { break };
            frame.children[self.key[frame_depth] as usize] = child;
            encode_branch(&frame, &mut self.rlp);
            let slot = self.emit_if_hashed();
            self.pending = Pending::Branch { depth: frame_depth, slot };
        }
    }

    /// The slot through which a parent whose child paths start at nibble `start` refers to the
    /// pending node: the leaf with its path from `start`, a branch directly, or an extension from
    /// `start` to a deeper branch.
    fn attach_pending(&mut self, start: usize) -> ChildSlot {
        match self.pending {
            Pending::Branch { depth, slot } if depth == start => slot,
            _ => {
                self.encode_pending(start);
                self.emit_if_hashed()
            }
        }
    }

    /// Encodes the pending leaf, or an extension from `start` to the pending branch, into `self.rlp`.
    fn encode_pending(&mut self, start: usize) {
        match self.pending {
            Pending::Leaf => {
                hex_prefix_encode_into(&self.key[start..], true, &mut self.path);
                encode_pair(
                    &self.path,
                    |out| write_bytes(out, &self.value),
                    bytes_len(&self.value),
                    &mut self.rlp,
                );
            }
            Pending::Branch { depth, slot } => {
                hex_prefix_encode_into(&self.key[start..depth], false, &mut self.path);
                encode_pair(&self.path, |out| slot.write(out), slot.encoded_len(), &mut self.rlp);
            }
            Pending::Nothing => unreachable!("callers check that something was inserted"),
        }
    }

    /// Turns the node in `self.rlp` into a child slot, emitting it if it is stored by hash.
    fn emit_if_hashed(&mut self) -> ChildSlot {
        if self.rlp.len() >= HASH_LEN {
            let hash = keccak256(&self.rlp);
            (self.sink)(hash, &self.rlp);
            ChildSlot::hash(&hash)
        } else {
            ChildSlot::embedded(&self.rlp)
        }
    }
}

/// Packs nibbles back into bytes (keys are whole bytes, so the count is even).
fn pack(nibbles: &[u8]) -> Vec<u8> {
    nibbles.chunks(2).map(|pair| (pair[0] << 4) | pair.get(1).copied().unwrap_or(0)).collect()
}

/// Encodes a two-item node (leaf or extension) `[path, second]` into `out`, where `write_second`
/// appends the second item's `second_len` bytes of RLP.
fn encode_pair(path: &[u8], write_second: impl FnOnce(&mut Vec<u8>), second_len: usize, out: &mut Vec<u8>) {
    out.clear();
    write_list_header(out, bytes_len(path) + second_len);
    write_bytes(out, path);
    write_second(out);
}

/// Encodes a branch node into `out`.
fn encode_branch(frame: &Frame, out: &mut Vec<u8>) {
    out.clear();
    let value_len = frame.value.as_deref().map_or(1, bytes_len);
    let payload = frame.children.iter().map(ChildSlot::encoded_len).sum::<usize>() + value_len;
    write_list_header(out, payload);
    for child in &frame.children {
        child.write(out);
    }
    match &frame.value {
        Some(value) => write_bytes(out, value),
        None => out.push(RLP_EMPTY),
    }
}

/// Length of the RLP encoding of the byte string `bytes`.
fn bytes_len(bytes: &[u8]) -> usize {
    match bytes {
        [byte] if *byte < RLP_EMPTY => 1,
        _ => length_header_len(bytes.len()) + bytes.len(),
    }
}

/// Appends the RLP encoding of the byte string `bytes`.
fn write_bytes(out: &mut Vec<u8>, bytes: &[u8]) {
    match bytes {
        [byte] if *byte < RLP_EMPTY => out.push(*byte),
        _ => {
            write_length_header(out, RLP_EMPTY, bytes.len());
            out.extend_from_slice(bytes);
        }
    }
}

fn write_list_header(out: &mut Vec<u8>, payload: usize) {
    write_length_header(out, 0xc0, payload);
}

/// Bytes of the header for a payload of `len` bytes.
fn length_header_len(len: usize) -> usize {
    if len <= 55 {
        1
    } else {
        1 + len_of_len(len)
    }
}

fn len_of_len(len: usize) -> usize {
    (usize::BITS as usize - len.leading_zeros() as usize).div_ceil(8)
}

/// Appends an RLP header with base byte `base` (0x80 string, 0xc0 list) for a payload of `len` bytes.
fn write_length_header(out: &mut Vec<u8>, base: u8, len: usize) {
    if len <= 55 {
        out.push(base + len as u8);
    } else {
        let len_len = len_of_len(len);
        out.push(base + 55 + len_len as u8);
        out.extend_from_slice(&len.to_be_bytes()[std::mem::size_of::<usize>() - len_len..]);
    }
}

/// The root of the trie holding `pairs`, which must be sorted by key (see [`TrieBuilder::insert`]).
pub fn trie_root<K, V>(pairs: impl IntoIterator<Item = (K, V)>) -> Result<NodeHash, BuildError>
where
    K: AsRef<[u8]>,
    V: AsRef<[u8]>,
{
    let mut builder = TrieBuilder::new(|_, _: &[u8]| {});
    for (key, value) in pairs {
        builder.insert(key.as_ref(), value.as_ref())?;
    }
    Ok(builder.finish())
}

/// The root of the trie holding `pairs` (sorted by key) and every node stored by hash, as
/// `(hash, rlp)` children first, the root node last.
#[allow(clippy::type_complexity)]
pub fn build_trie<K, V>(
    pairs: impl IntoIterator<Item = (K, V)>,
) -> Result<(NodeHash, Vec<(NodeHash, Vec<u8>)>), BuildError>
where
    K: AsRef<[u8]>,
    V: AsRef<[u8]>,
{
    let mut nodes = Vec::new();
    let mut builder = TrieBuilder::new(|hash, rlp: &[u8]| nodes.push((hash, rlp.to_vec())));
    for (key, value) in pairs {
        builder.insert(key.as_ref(), value.as_ref())?;
    }
    let root = builder.finish();
    Ok((root, nodes))
}

/// The key under which a secure trie (Ethereum's state and storage tries) stores `key`:
/// keccak256(key), which spreads keys evenly and bounds every path to 64 nibbles.
pub fn secure_key(key: &[u8]) -> H256 {
    keccak256(key)
}

/// [`build_trie`] for a secure trie: hashes each key with [`secure_key`] and sorts, so `pairs` may come
/// in any order. Two equal keys are a [`BuildError::DuplicateKey`] (naming the hashed key).
#[allow(clippy::type_complexity)]
pub fn build_secure_trie<K, V>(
    pairs: impl IntoIterator<Item = (K, V)>,
) -> Result<(NodeHash, Vec<(NodeHash, Vec<u8>)>), BuildError>
where
    K: AsRef<[u8]>,
    V: AsRef<[u8]>,
{
    let mut hashed: Vec<(H256, V)> =
        pairs.into_iter().map(|(key, value)| (secure_key(key.as_ref()), value)).collect();
    hashed.sort_unstable_by_key(|(key, _)| *key);
    build_trie(hashed.iter().map(|(key, value)| (key.as_bytes(), value.as_ref())))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{ChildRef, Node};

    fn root(pairs: &[(&[u8], &[u8])]) -> NodeHash {
        trie_root(pairs.iter().copied()).unwrap()
    }

    #[test]
    fn empty_trie_is_the_empty_root_and_emits_nothing() {
        let (root, nodes) = build_trie(std::iter::empty::<(&[u8], &[u8])>()).unwrap();
        assert_eq!(root, EMPTY_ROOT);
        assert!(nodes.is_empty());
    }

    #[test]
    fn single_short_leaf_root_is_emitted_although_under_32_bytes() {
        let (root, nodes) = build_trie([(b"A".as_slice(), b"a".as_slice())]).unwrap();
        let expected = Node::Leaf { path: vec![4, 1], value: b"a".to_vec() }.encode();
        assert!(expected.len() < 32);
        assert_eq!(nodes, vec![(keccak256(&expected), expected)]);
        assert_eq!(root, nodes[0].0);
    }

    #[test]
    fn small_branch_root_is_emitted_and_its_children_embedded() {
        let (root, nodes) = build_trie([(&[0x10u8][..], &b"a"[..]), (&[0x20u8][..], &b"b"[..])]).unwrap();
        assert_eq!(nodes.len(), 1);
        assert_eq!(nodes[0].0, root);
        let Node::Branch { children, value: None } = Node::decode(&nodes[0].1).unwrap() else {
            panic!("root is not a branch")
        };
        assert!(matches!(children[1], Some(ChildRef::Embedded(_))));
        assert!(matches!(children[2], Some(ChildRef::Embedded(_))));
    }

    #[test]
    fn extension_root_over_a_branch() {
        // Keys share the nibbles 1,2 then split: extension [1,2] -> branch.
        let big = [7u8; 40];
        let (root, nodes) =
            build_trie([(&[0x12u8, 0x30][..], &big[..]), (&[0x12u8, 0x40][..], &big[..])]).unwrap();
        let (last_hash, last_rlp) = nodes.last().unwrap();
        assert_eq!(*last_hash, root);
        let Node::Extension { path, child: ChildRef::Hash(child) } = Node::decode(last_rlp).unwrap() else {
            panic!("root is not an extension to a hashed branch")
        };
        assert_eq!(path, vec![1, 2]);
        assert!(nodes.iter().any(|(hash, _)| *hash == child));
    }

    #[test]
    fn rejects_unsorted_duplicate_and_empty() {
        let mut builder = TrieBuilder::new(|_, _: &[u8]| {});
        builder.insert(b"b", b"1").unwrap();
        assert_eq!(
            builder.insert(b"a", b"1"),
            Err(BuildError::Unsorted { previous: b"b".to_vec(), key: b"a".to_vec() })
        );
        assert_eq!(builder.insert(b"b", b"2"), Err(BuildError::DuplicateKey { key: b"b".to_vec() }));
        assert_eq!(builder.insert(b"c", b""), Err(BuildError::EmptyValue { key: b"c".to_vec() }));
        // A rejected insertion changes nothing.
        builder.insert(b"c", b"3").unwrap();
        assert_eq!(builder.finish(), root(&[(b"b", b"1"), (b"c", b"3")]));
    }

    #[test]
    fn prefix_keys_become_branch_values() {
        // ethereum/tests trieanyorder "foo".
        let root = root(&[(b"foo", b"bar"), (b"food", b"bass")]);
        assert_eq!(format!("{root:x}"), "17beaa1648bafa633cda809c90c04af50fc8aed3cb40d16efbddee6fdf63c4c3");
    }

    #[test]
    fn empty_key_is_a_root_branch_value() {
        let (root, nodes) = build_trie([(&b""[..], &b"v"[..]), (&b"a"[..], &b"w"[..])]).unwrap();
        let Node::Branch { value, .. } = Node::decode(&nodes.last().unwrap().1).unwrap() else {
            panic!("root is not a branch")
        };
        assert_eq!(value, Some(b"v".to_vec()));
        assert_eq!(nodes.last().unwrap().0, root);
    }

    #[test]
    fn long_values_get_multi_byte_length_headers() {
        let value = vec![0xabu8; 70_000];
        let (_, nodes) = build_trie([(&b"k"[..], &value[..])]).unwrap();
        let Node::Leaf { value: decoded, .. } = Node::decode(&nodes[0].1).unwrap() else {
            panic!("not a leaf")
        };
        assert_eq!(decoded, value);
    }

    #[test]
    fn secure_trie_is_order_independent_and_rejects_duplicates() {
        let a = build_secure_trie([(b"x", b"1"), (b"y", b"2")]).unwrap();
        let b = build_secure_trie([(b"y", b"2"), (b"x", b"1")]).unwrap();
        assert_eq!(a, b);
        assert!(matches!(
            build_secure_trie([(b"x", b"1"), (b"x", b"2")]),
            Err(BuildError::DuplicateKey { .. })
        ));
    }
}
