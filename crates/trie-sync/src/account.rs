//! Ethereum accounts: the leaf values of the state trie, and the callback that follows them.

use primitive_types::U256;
use rlp::{Decodable, DecoderError, Encodable, Rlp, RlpStream};

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

    /// Decodes an account leaf value, rejecting trailing bytes and malformed fields.
    pub fn decode(value: &[u8]) -> Result<Self, DecoderError> {
        let rlp = Rlp::new(value);
        let info = rlp.payload_info()?;
        if info.header_len + info.value_len != value.len() {
            return Err(DecoderError::RlpInconsistentLengthAndData);
        }
        rlp.as_val()
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

impl Decodable for StateAccount {
    fn decode(rlp: &Rlp<'_>) -> Result<Self, DecoderError> {
        if rlp.item_count()? != 4 {
            return Err(DecoderError::RlpIncorrectListLen);
        }
        Ok(Self {
            nonce: rlp.val_at(0)?,
            balance: rlp.val_at(1)?,
            storage_root: rlp.val_at(2)?,
            code_hash: rlp.val_at(3)?,
        })
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
