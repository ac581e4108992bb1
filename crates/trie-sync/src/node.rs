//! The Merkle-Patricia node codec: branch, extension and leaf nodes, strictly decoded.

use rlp::RlpStream;

use crate::nibbles::{hex_prefix_decode, hex_prefix_encode};
use crate::rlp_item::{split_item, Item};
use crate::{keccak256, NodeError, NodeHash};

/// Length of a hash reference to a child node.
const HASH_LEN: usize = 32;

/// Items in a branch node: 16 children and a value.
const BRANCH_ITEMS: usize = 17;

/// How a node refers to a child.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChildRef {
    /// The child's RLP is 32 bytes or longer, so it is stored separately under its hash.
    Hash(NodeHash),
    /// The child's RLP is shorter than 32 bytes, so it is inlined in its parent.
    Embedded(Box<Node>),
}

impl ChildRef {
    /// How a parent refers to a child whose RLP encoding is `encoded`: by hash if it is 32 bytes or
    /// longer, inline otherwise.
    pub fn for_encoded(encoded: &[u8]) -> Result<Self, NodeError> {
        if encoded.len() >= HASH_LEN {
            Ok(ChildRef::Hash(keccak256(encoded)))
        } else {
            Ok(ChildRef::Embedded(Box::new(Node::decode(encoded)?)))
        }
    }
}

/// A decoded trie node. Paths are nibbles (one per byte, `0..16`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Node {
    /// 16 children, one per next nibble, and the value of a key ending here.
    Branch {
        /// Child per nibble.
        children: Box<[Option<ChildRef>; 16]>,
        /// Value of the key that ends at this node, if any.
        value: Option<Vec<u8>>,
    },
    /// A shared path segment leading to one child (a branch in a canonical trie).
    Extension {
        /// The shared nibbles; never empty.
        path: Vec<u8>,
        /// The node the path leads to.
        child: ChildRef,
    },
    /// The rest of a key's path and its value.
    Leaf {
        /// The remaining nibbles of the key; may be empty.
        path: Vec<u8>,
        /// The stored value.
        value: Vec<u8>,
    },
}

impl Node {
    /// Decodes one node from its RLP encoding, rejecting anything non-canonical: see [`NodeError`].
    pub fn decode(encoded: &[u8]) -> Result<Self, NodeError> {
        let (item, rest) = split_item(encoded)?;
        if !rest.is_empty() {
            return Err(NodeError::TrailingBytes { extra: rest.len() });
        }
        Self::decode_item(item)
    }

    fn decode_item(item: Item<'_>) -> Result<Self, NodeError> {
        if !item.is_list {
            return Err(NodeError::NotAList);
        }
        let mut items = [item; BRANCH_ITEMS];
        let mut count = 0;
        let mut rest = item.payload;
        while !rest.is_empty() {
            let (next, after) = split_item(rest)?;
            if count < BRANCH_ITEMS {
                items[count] = next;
            }
            count += 1;
            rest = after;
        }
        match count {
            2 => {
                let (path, second) = (items[0], items[1]);
                if path.is_list {
                    return Err(NodeError::PathIsList);
                }
                let (path, is_leaf) = hex_prefix_decode(path.payload)?;
                if is_leaf {
                    Ok(Node::Leaf { path, value: value_bytes(second)?.to_vec() })
                } else if path.is_empty() {
                    Err(NodeError::EmptyExtensionPath)
                } else {
                    let child = decode_child(second)?.ok_or(NodeError::MissingExtensionChild)?;
                    Ok(Node::Extension { path, child })
                }
            }
            BRANCH_ITEMS => {
                let mut children: Box<[Option<ChildRef>; 16]> = Box::default();
                for (child, item) in children.iter_mut().zip(items) {
                    *child = decode_child(item)?;
                }
                let value = value_bytes(items[16])?;
                let value = (!value.is_empty()).then(|| value.to_vec());
                Ok(Node::Branch { children, value })
            }
            count => Err(NodeError::WrongItemCount { count }),
        }
    }

    /// The node's RLP encoding.
    pub fn encode(&self) -> Vec<u8> {
        let mut stream = RlpStream::new();
        self.encode_into(&mut stream);
        stream.out().to_vec()
    }

    fn encode_into(&self, stream: &mut RlpStream) {
        match self {
            Node::Branch { children, value } => {
                stream.begin_list(BRANCH_ITEMS);
                for child in children.iter() {
                    match child {
                        None => {
                            stream.append_empty_data();
                        }
                        Some(child) => encode_child(child, stream),
                    }
                }
                match value {
                    Some(value) => stream.append(value),
                    None => stream.append_empty_data(),
                };
            }
            Node::Extension { path, child } => {
                stream.begin_list(2);
                stream.append(&hex_prefix_encode(path, false));
                encode_child(child, stream);
            }
            Node::Leaf { path, value } => {
                stream.begin_list(2);
                stream.append(&hex_prefix_encode(path, true));
                stream.append(value);
            }
        }
    }
}

fn encode_child(child: &ChildRef, stream: &mut RlpStream) {
    match child {
        ChildRef::Hash(hash) => {
            stream.append(&hash.as_bytes());
        }
        ChildRef::Embedded(node) => {
            stream.append_raw(&node.encode(), 1);
        }
    }
}

/// A value slot: must be a byte string, not a list.
fn value_bytes(item: Item<'_>) -> Result<&[u8], NodeError> {
    if item.is_list {
        return Err(NodeError::ValueIsList);
    }
    Ok(item.payload)
}

/// A child slot: empty, a 32-byte hash, or an inline node shorter than 32 bytes.
fn decode_child(item: Item<'_>) -> Result<Option<ChildRef>, NodeError> {
    if item.is_list {
        if item.raw.len() >= HASH_LEN {
            return Err(NodeError::EmbeddedTooLarge { len: item.raw.len() });
        }
        return Ok(Some(ChildRef::Embedded(Box::new(Node::decode_item(item)?))));
    }
    match item.payload.len() {
        0 => Ok(None),
        HASH_LEN => Ok(Some(ChildRef::Hash(NodeHash::from_slice(item.payload)))),
        len => Err(NodeError::BadReferenceLength { len }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn leaf(path: &[u8], value: &[u8]) -> Node {
        Node::Leaf { path: path.to_vec(), value: value.to_vec() }
    }

    #[test]
    fn leaf_round_trips() {
        let node = leaf(&[1, 2, 3], b"value");
        assert_eq!(Node::decode(&node.encode()).unwrap(), node);
    }

    #[test]
    fn branch_with_embedded_and_hashed_children_round_trips() {
        let mut children: Box<[Option<ChildRef>; 16]> = Box::default();
        children[0] = Some(ChildRef::Embedded(Box::new(leaf(&[5], b"x"))));
        children[7] = Some(ChildRef::Hash(keccak256(b"child")));
        let node = Node::Branch { children, value: Some(b"v".to_vec()) };
        let encoded = node.encode();
        assert_eq!(Node::decode(&encoded).unwrap(), node);
    }

    #[test]
    fn extension_round_trips() {
        let node = Node::Extension { path: vec![0xa], child: ChildRef::Hash(keccak256(b"b")) };
        assert_eq!(Node::decode(&node.encode()).unwrap(), node);
    }

    #[test]
    fn rejects_trailing_bytes() {
        let mut encoded = leaf(&[1], b"v").encode();
        encoded.push(0);
        assert!(matches!(Node::decode(&encoded), Err(NodeError::TrailingBytes { extra: 1 })));
    }

    #[test]
    fn rejects_wrong_item_count() {
        let mut stream = RlpStream::new_list(3);
        stream.append(&1u8).append(&2u8).append(&3u8);
        assert!(matches!(Node::decode(&stream.out()), Err(NodeError::WrongItemCount { count: 3 })));
    }

    #[test]
    fn rejects_a_string_where_a_node_belongs() {
        assert!(matches!(Node::decode(&[0x83, 1, 2, 3]), Err(NodeError::NotAList)));
    }

    #[test]
    fn rejects_bad_path_flag() {
        let mut stream = RlpStream::new_list(2);
        stream.append(&vec![0x41u8]).append(&b"v".to_vec());
        assert!(matches!(Node::decode(&stream.out()), Err(NodeError::BadPathFlag { flag: 4 })));
    }

    #[test]
    fn rejects_reference_of_wrong_length() {
        let mut stream = RlpStream::new_list(2);
        stream.append(&hex_prefix_encode(&[1], false)).append(&vec![7u8; 31]);
        assert!(matches!(Node::decode(&stream.out()), Err(NodeError::BadReferenceLength { len: 31 })));
    }

    #[test]
    fn rejects_embedded_node_of_32_bytes_or_more() {
        let big = leaf(&[1], &[9u8; 40]).encode();
        let mut stream = RlpStream::new_list(2);
        stream.append(&hex_prefix_encode(&[1], false)).append_raw(&big, 1);
        assert!(matches!(Node::decode(&stream.out()), Err(NodeError::EmbeddedTooLarge { .. })));
    }

    #[test]
    fn rejects_extension_with_empty_path() {
        let mut stream = RlpStream::new_list(2);
        stream.append(&hex_prefix_encode(&[], false)).append(&keccak256(b"x").as_bytes());
        assert!(matches!(Node::decode(&stream.out()), Err(NodeError::EmptyExtensionPath)));
    }

    #[test]
    fn rejects_list_as_value() {
        let mut stream = RlpStream::new_list(2);
        stream.append(&hex_prefix_encode(&[1], true)).begin_list(0);
        assert!(matches!(Node::decode(&stream.out()), Err(NodeError::ValueIsList)));
    }

    #[test]
    fn rejects_truncated_input() {
        let encoded = leaf(&[1, 2], b"value").encode();
        assert!(matches!(Node::decode(&encoded[..encoded.len() - 1]), Err(NodeError::Rlp(_))));
        assert!(Node::decode(&[]).is_err());
    }
}
