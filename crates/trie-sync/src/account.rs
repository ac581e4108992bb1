//! Ethereum accounts: the leaf values of the state trie, and the callback that follows them.

use primitive_types::U256;
use rlp::{DecoderError, Encodable, RlpStream};

use crate::rlp_item::split_item;
use crate::{Leaf, LeafAction, LeafCallback, NodeHash, EMPTY_CODE_HASH, EMPTY_ROOT};

/// An account as stored in the state trie: `rlp([nonce, balance, storage_root, code_hash])`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StateAccount {
    /// Transactions sent (or contracts created).
    pub nonce: u64,
    /// Balance in wei.
    pub balance: U256,
    /// Root of the account's storage trie; [`EMPTY_ROOT`] when it has no storage.
    pub storage_root: NodeHash,
    /// keccak-256 of the account's code; [`EMPTY_CODE_HASH`] when it has none.
    pub code_hash: NodeHash,
}

impl StateAccount {
    /// An account with a balance and nothing else.
    pub fn with_balance(balance: U256) -> Self {
        Self { nonce: 0, balance, storage_root: EMPTY_ROOT, code_hash: EMPTY_CODE_HASH }
    }

    /// The account's RLP, the value of its leaf.
    pub fn encode(&self) -> Vec<u8> {
        rlp::encode(self).to_vec()
    }

    /// Decodes an account leaf value strictly: a list of exactly four items, canonical integers (no
    /// leading zeros; nonce at most 8 bytes, balance at most 32), 32-byte hashes, no trailing bytes.
    pub fn decode(value: &[u8]) -> Result<Self, DecoderError> {
        let (list, rest) = split_item(value)?;
        if !rest.is_empty() {
            return Err(DecoderError::RlpInconsistentLengthAndData);
        }
        if !list.is_list {
            return Err(DecoderError::RlpExpectedToBeList);
        }
        let mut fields = [&[][..]; 4];
        let mut remaining = list.payload;
        for field in &mut fields {
            let (item, after) = split_item(remaining)?;
            if item.is_list {
                return Err(DecoderError::RlpExpectedToBeData);
            }
            *field = item.payload;
            remaining = after;
        }
        if !remaining.is_empty() {
            return Err(DecoderError::RlpIncorrectListLen);
        }
        let [nonce, balance, storage_root, code_hash] = fields;
        Ok(Self {
            nonce: canonical_uint(nonce, 8)?.iter().fold(0u64, |acc, &byte| (acc << 8) | u64::from(byte)),
            balance: U256::from_big_endian(canonical_uint(balance, 32)?),
            storage_root: hash_field(storage_root)?,
            code_hash: hash_field(code_hash)?,
        })
    }
}

/// An RLP integer's bytes: at most `max` bytes, no leading zero (zero is the empty string).
fn canonical_uint(bytes: &[u8], max: usize) -> Result<&[u8], DecoderError> {
    if bytes.len() > max {
        return Err(DecoderError::RlpIsTooBig);
    }
    if bytes.first() == Some(&0) {
        return Err(DecoderError::RlpInvalidIndirection);
    }
    Ok(bytes)
}

fn hash_field(bytes: &[u8]) -> Result<NodeHash, DecoderError> {
    match bytes.len() {
        32 => Ok(NodeHash::from_slice(bytes)),
        _ if bytes.len() < 32 => Err(DecoderError::RlpIsTooShort),
        _ => Err(DecoderError::RlpIsTooBig),
    }
}

impl Encodable for StateAccount {
    fn rlp_append(&self, stream: &mut RlpStream) {
        stream.begin_list(4);
        stream.append(&self.nonce);
        stream.append(&self.balance);
        stream.append(&self.storage_root);
        stream.append(&self.code_hash);
    }
}

/// The state trie's leaf callback (go-ethereum's `NewStateSync`): each account leaf adds its storage
/// trie unless empty, and its code unless empty. Storage leaves are not watched.
#[derive(Debug, Clone, Copy, Default)]
pub struct AccountLeafCallback;

impl LeafCallback for AccountLeafCallback {
    fn on_leaf(&mut self, leaf: &Leaf<'_>, actions: &mut Vec<LeafAction>) -> Result<(), DecoderError> {
        let account = StateAccount::decode(leaf.value)?;
        if account.storage_root != EMPTY_ROOT {
            actions.push(LeafAction::SubTrie { root: account.storage_root, notify_leaves: false });
        }
        if account.code_hash != EMPTY_CODE_HASH {
            actions.push(LeafAction::RawEntry { hash: account.code_hash });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keccak256;

    #[test]
    fn account_round_trips() {
        let account = StateAccount {
            nonce: 7,
            balance: U256::from(10u64).pow(U256::from(20u64)),
            storage_root: keccak256(b"storage"),
            code_hash: keccak256(b"code"),
        };
        assert_eq!(StateAccount::decode(&account.encode()).unwrap(), account);
    }

    #[test]
    fn account_with_trailing_bytes_is_rejected() {
        let mut encoded = StateAccount::with_balance(U256::one()).encode();
        encoded.push(0);
        assert!(StateAccount::decode(&encoded).is_err());
    }

    #[test]
    fn account_decode_is_strict() {
        let valid = StateAccount::with_balance(U256::from(300u64)).encode();
        assert!(StateAccount::decode(&valid).is_ok());
        let mut stream = RlpStream::new_list(4);
        stream.append(&vec![0u8, 1]).append(&U256::one()).append(&EMPTY_ROOT).append(&EMPTY_CODE_HASH);
        assert_eq!(
            StateAccount::decode(&stream.out()),
            Err(DecoderError::RlpInvalidIndirection),
            "leading zero"
        );
        let mut stream = RlpStream::new_list(4);
        stream.append(&vec![1u8; 9]).append(&U256::one()).append(&EMPTY_ROOT).append(&EMPTY_CODE_HASH);
        assert_eq!(StateAccount::decode(&stream.out()), Err(DecoderError::RlpIsTooBig), "nonce over 8 bytes");
        let mut stream = RlpStream::new_list(4);
        stream.append(&1u64).append(&U256::one()).append(&vec![1u8; 31]).append(&EMPTY_CODE_HASH);
        assert!(StateAccount::decode(&stream.out()).is_err(), "short storage root");
        let mut stream = RlpStream::new_list(5);
        stream.append(&1u64).append(&U256::one()).append(&EMPTY_ROOT).append(&EMPTY_CODE_HASH).append(&1u8);
        assert_eq!(StateAccount::decode(&stream.out()), Err(DecoderError::RlpIncorrectListLen));
        let mut stream = RlpStream::new_list(3);
        stream.append(&1u64).append(&U256::one()).append(&EMPTY_ROOT);
        assert!(StateAccount::decode(&stream.out()).is_err(), "three fields");
        assert!(StateAccount::decode(&[0x80]).is_err(), "a string");
    }

    #[test]
    fn callback_skips_empty_storage_and_code() {
        let mut actions = Vec::new();
        let plain = StateAccount::with_balance(U256::one()).encode();
        let leaf = Leaf { path: &[], value: &plain, parent: NodeHash::zero() };
        AccountLeafCallback.on_leaf(&leaf, &mut actions).unwrap();
        assert!(actions.is_empty());

        let contract = StateAccount {
            storage_root: keccak256(b"s"),
            code_hash: keccak256(b"c"),
            ..StateAccount::with_balance(U256::zero())
        }
        .encode();
        let leaf = Leaf { path: &[], value: &contract, parent: NodeHash::zero() };
        AccountLeafCallback.on_leaf(&leaf, &mut actions).unwrap();
        assert_eq!(
            actions,
            vec![
                LeafAction::SubTrie { root: keccak256(b"s"), notify_leaves: false },
                LeafAction::RawEntry { hash: keccak256(b"c") },
            ]
        );
    }
}
