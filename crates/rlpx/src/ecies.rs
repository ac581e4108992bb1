//! ECIES as RLPx uses it to seal the handshake packets (devp2p rlpx.md, "ECIES Encryption"):
//! secp256k1 ECDH, the NIST SP 800-56 concat-KDF over SHA-256, AES-128-CTR and
//! HMAC-SHA256, laid out as `R (65 bytes) || iv (16) || ciphertext || tag (32)`.

use aes::cipher::{KeyIvInit, StreamCipher};
use hmac::{Hmac, Mac};
use k256::{PublicKey, SecretKey};
use rand_core::{OsRng, RngCore};
use sha2::{Digest, Sha256};

use crate::error::{Error, Result};
use crate::node_key::{public_key_from_64, NodeId};

/// AES-128 in big-endian counter mode: go's `cipher.NewCTR` over a 16-byte block.
type Aes128Ctr = ctr::Ctr128BE<aes::Aes128>;

/// Bytes ECIES adds to a message: the ephemeral public key, the IV, the HMAC tag.
pub(crate) const OVERHEAD: usize = 65 + 16 + 32;

/// The x coordinate of the ECDH point of `secret` and `public`.
pub(crate) fn ecdh_x(secret: &SecretKey, public: &PublicKey) -> [u8; 32] {
    let shared = k256::ecdh::diffie_hellman(secret.to_nonzero_scalar(), public.as_affine());
    let mut x = [0u8; 32];
    x.copy_from_slice(shared.raw_secret_bytes());
    x
}

/// The concat-KDF of NIST SP 800-56 with SHA-256 and no "other info", for 32 bytes: one
/// round, `sha256(counter=1 as u32 BE || z)`.
fn concat_kdf(z: &[u8; 32]) -> [u8; 32] {
    let mut hasher = Sha256::new();
    hasher.update(1u32.to_be_bytes());
    hasher.update(z);
    hasher.finalize().into()
}

/// The encryption key and the MAC key (`sha256` of the KDF's second half) from a shared x.
fn derive_keys(z: &[u8; 32]) -> ([u8; 16], [u8; 32]) {
    let k = concat_kdf(z);
    let mut ke = [0u8; 16];
    ke.copy_from_slice(&k[..16]);
    let km: [u8; 32] = Sha256::digest(&k[16..]).into();
    (ke, km)
}

/// The HMAC-SHA256 over `iv || ciphertext` followed by the authenticated `shared_data`
/// (the EIP-8 size prefix, or nothing for pre-EIP-8 packets).
fn tag_mac(km: &[u8; 32], iv_and_ciphertext: &[u8], shared_data: &[u8]) -> Hmac<Sha256> {
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(km).expect("HMAC takes any key length");
    mac.update(iv_and_ciphertext);
    mac.update(shared_data);
    mac
}

/// Seals `plaintext` to `remote` with a fresh ephemeral key and IV.
pub(crate) fn encrypt(remote: &PublicKey, plaintext: &[u8], shared_data: &[u8]) -> Vec<u8> {
    let ephemeral = SecretKey::random(&mut OsRng);
    let mut iv = [0u8; 16];
    OsRng.fill_bytes(&mut iv);
    encrypt_with(remote, plaintext, shared_data, &ephemeral, iv)
}

/// [`encrypt`] with the randomness given (for tests).
pub(crate) fn encrypt_with(
    remote: &PublicKey,
    plaintext: &[u8],
    shared_data: &[u8],
    ephemeral: &SecretKey,
    iv: [u8; 16],
) -> Vec<u8> {
    let (ke, km) = derive_keys(&ecdh_x(ephemeral, remote));
    let mut out = Vec::with_capacity(plaintext.len() + OVERHEAD);
    out.push(0x04);
    out.extend_from_slice(NodeId::from_public_key(&ephemeral.public_key()).as_bytes());
    let body_start = out.len();
    out.extend_from_slice(&iv);
    let cipher_start = out.len();
    out.extend_from_slice(plaintext);
    Aes128Ctr::new(&ke.into(), &iv.into()).apply_keystream(&mut out[cipher_start..]);
    let tag = tag_mac(&km, &out[body_start..], shared_data).finalize().into_bytes();
    out.extend_from_slice(&tag);
    out
}

/// Opens a message sealed to `key`, checking its tag (in constant time) before decrypting.
pub(crate) fn decrypt(key: &SecretKey, message: &[u8], shared_data: &[u8]) -> Result<Vec<u8>> {
    if message.len() <= OVERHEAD {
        return Err(Error::MalformedEcies { reason: "shorter than its overhead" });
    }
    if message[0] != 0x04 {
        return Err(Error::MalformedEcies { reason: "ephemeral key is not an uncompressed point" });
    }
    let ephemeral = public_key_from_64(&message[1..65])
        .ok_or(Error::InvalidPublicKey { field: "ECIES ephemeral key" })?;
    let (ke, km) = derive_keys(&ecdh_x(key, &ephemeral));
    let tag_start = message.len() - 32;
    tag_mac(&km, &message[65..tag_start], shared_data)
        .verify_slice(&message[tag_start..])
        .map_err(|_| Error::EciesMac)?;
    let mut iv = [0u8; 16];
    iv.copy_from_slice(&message[65..81]);
    let mut plaintext = message[81..tag_start].to_vec();
    Aes128Ctr::new(&ke.into(), &iv.into()).apply_keystream(&mut plaintext);
    Ok(plaintext)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_tamper() {
        let key = SecretKey::random(&mut OsRng);
        let sealed = encrypt(&key.public_key(), b"hello ecies", b"\x01\x02");
        assert_eq!(sealed.len(), 11 + OVERHEAD);
        assert_eq!(decrypt(&key, &sealed, b"\x01\x02").unwrap(), b"hello ecies");
        // Other authenticated data, a flipped ciphertext byte, another key: all refused.
        assert!(matches!(decrypt(&key, &sealed, b"\x01\x03"), Err(Error::EciesMac)));
        let mut flipped = sealed.clone();
        flipped[90] ^= 1;
        assert!(matches!(decrypt(&key, &flipped, b"\x01\x02"), Err(Error::EciesMac)));
        let other = SecretKey::random(&mut OsRng);
        assert!(matches!(decrypt(&other, &sealed, b"\x01\x02"), Err(Error::EciesMac)));
        assert!(matches!(decrypt(&key, &sealed[..OVERHEAD], b""), Err(Error::MalformedEcies { .. })));
    }
}
