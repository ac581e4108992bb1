//! The node's identity: its secp256k1 secret key ([`NodeKey`]) and public node id ([`NodeId`]).

use std::fmt;
use std::path::Path;
use std::str::FromStr;

use k256::elliptic_curve::sec1::ToEncodedPoint;
use k256::{PublicKey, SecretKey};
use rand_core::OsRng;

use crate::error::{EnodeError, NodeKeyError};

/// A node's public identity: its secp256k1 public key as 64 bytes (x || y, without the
/// 0x04 prefix of SEC1), as in `enode://` URLs and the Hello message.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct NodeId(pub [u8; 64]);

impl NodeId {
    /// The 64 bytes.
    pub fn as_bytes(&self) -> &[u8; 64] {
        &self.0
    }

    /// The node id of a public key.
    pub(crate) fn from_public_key(key: &PublicKey) -> Self {
        let point = key.to_encoded_point(false);
        let mut id = [0u8; 64];
        id.copy_from_slice(&point.as_bytes()[1..]);
        NodeId(id)
    }

    /// The public key, or `None` when the bytes are not a point of the curve.
    pub(crate) fn to_public_key(self) -> Option<PublicKey> {
        public_key_from_64(&self.0)
    }

    /// Whether the 64 bytes are a point of secp256k1.
    pub fn is_valid(&self) -> bool {
        self.to_public_key().is_some()
    }
}

/// Parses a 64-byte uncompressed point (without the SEC1 prefix).
pub(crate) fn public_key_from_64(bytes: &[u8]) -> Option<PublicKey> {
    if bytes.len() != 64 {
        return None;
    }
    let mut sec1 = [0u8; 65];
    sec1[0] = 0x04;
    sec1[1..].copy_from_slice(bytes);
    PublicKey::from_sec1_bytes(&sec1).ok()
}

impl fmt::Display for NodeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&hex::encode(self.0))
    }
}

impl fmt::Debug for NodeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Short form: node ids show up in many log lines.
        write!(f, "NodeId({}…)", &hex::encode(&self.0[..8]))
    }
}

impl FromStr for NodeId {
    type Err = EnodeError;

    /// Parses 128 hex digits (an optional `0x` is accepted) and checks the point is on
    /// the curve.
    fn from_str(s: &str) -> Result<Self, EnodeError> {
        let digits = s.strip_prefix("0x").unwrap_or(s);
        if !digits.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(EnodeError::BadHex);
        }
        if digits.len() != 128 {
            return Err(EnodeError::WrongLength { got: digits.len() });
        }
        let mut id = [0u8; 64];
        hex::decode_to_slice(digits, &mut id).map_err(|_| EnodeError::BadHex)?;
        let id = NodeId(id);
        if !id.is_valid() {
            return Err(EnodeError::NotOnCurve);
        }
        Ok(id)
    }
}

/// A node's secret key: its identity on the network. The file format is go-ethereum's
/// `nodekey`: 64 hex digits, no `0x`, no newline.
#[derive(Clone)]
pub struct NodeKey {
    /// The secp256k1 secret scalar.
    secret: SecretKey,
}

impl NodeKey {
    /// A fresh random key from the operating system's generator.
    pub fn generate() -> Self {
        NodeKey { secret: SecretKey::random(&mut OsRng) }
    }

    /// A key from its 32 big-endian bytes; fails for zero or values not below the order.
    pub fn from_bytes(bytes: &[u8; 32]) -> Result<Self, NodeKeyError> {
        SecretKey::from_slice(bytes).map(|secret| NodeKey { secret }).map_err(|_| NodeKeyError::OutOfRange)
    }

    /// A key from 64 hex digits (surrounding whitespace, such as a final newline, is
    /// ignored).
    pub fn from_hex(text: &str) -> Result<Self, NodeKeyError> {
        let digits = text.trim();
        if digits.len() != 64 {
            return Err(NodeKeyError::BadHex);
        }
        let mut bytes = [0u8; 32];
        hex::decode_to_slice(digits, &mut bytes).map_err(|_| NodeKeyError::BadHex)?;
        Self::from_bytes(&bytes)
    }

    /// The key as 64 lower-case hex digits, the file format.
    pub fn to_hex(&self) -> String {
        hex::encode(self.secret.to_bytes())
    }

    /// Loads a key file in go-ethereum's format.
    pub fn load(path: impl AsRef<Path>) -> Result<Self, NodeKeyError> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path)
            .map_err(|source| NodeKeyError::Io { path: path.to_owned(), source })?;
        Self::from_hex(&text)
    }

    /// Saves the key in go-ethereum's format, readable by its owner only (on Unix).
    pub fn save(&self, path: impl AsRef<Path>) -> Result<(), NodeKeyError> {
        let path = path.as_ref();
        let io_err = |source| NodeKeyError::Io { path: path.to_owned(), source };
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create(true).truncate(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            options.mode(0o600);
        }
        let mut file = options.open(path).map_err(io_err)?;
        std::io::Write::write_all(&mut file, self.to_hex().as_bytes()).map_err(io_err)
    }

    /// The public node id.
    pub fn id(&self) -> NodeId {
        NodeId::from_public_key(&self.secret.public_key())
    }

    /// The secret key, for the handshake.
    pub(crate) fn secret(&self) -> &SecretKey {
        &self.secret
    }
}

impl fmt::Debug for NodeKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Never print the secret.
        f.debug_struct("NodeKey").field("id", &self.id()).finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_key_has_known_address() {
        // go-ethereum's crypto tests: this key's address is keccak256(node id)[12..].
        use sha3::{Digest, Keccak256};
        let key =
            NodeKey::from_hex("289c2857d4598e37fb9647507e47a309d6133539bf21a8b9cb6df88fd5232032\n").unwrap();
        let hash = Keccak256::digest(key.id().as_bytes());
        assert_eq!(hex::encode(&hash[12..]), "970e8128ab834e8eac17ab8e3812f010678cf791");
        assert_eq!(key.to_hex(), "289c2857d4598e37fb9647507e47a309d6133539bf21a8b9cb6df88fd5232032");
    }

    #[test]
    fn node_id_round_trips_and_rejects_off_curve() {
        let id = NodeKey::generate().id();
        assert_eq!(id.to_string().parse::<NodeId>().unwrap(), id);
        let mut off = id.0;
        off[63] ^= 1;
        assert_eq!(NodeId(off).to_string().parse::<NodeId>(), Err(EnodeError::NotOnCurve));
        assert_eq!("zz".parse::<NodeId>(), Err(EnodeError::BadHex));
        assert_eq!("abcd".parse::<NodeId>(), Err(EnodeError::WrongLength { got: 4 }));
    }

    #[test]
    fn zero_key_is_refused() {
        assert!(matches!(NodeKey::from_bytes(&[0; 32]), Err(NodeKeyError::OutOfRange)));
        assert!(matches!(NodeKey::from_hex("00"), Err(NodeKeyError::BadHex)));
    }
}
