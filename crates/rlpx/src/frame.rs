//! The RLPx frame codec (rlpx.md, "Framing" and "MAC"), without I/O: [`Egress`] seals a
//! frame, [`Ingress`] opens one in two steps (header, then body) so a reader can refuse an
//! oversized frame before reading its body.
//!
//! A frame is `header-ciphertext (16) || header-mac (16) || frame-ciphertext (padded to
//! 16) || frame-mac (16)`, encrypted with AES-256-CTR (zero IV, one keystream per
//! direction across headers and bodies) and authenticated by the MAC below.

use aes::cipher::{BlockEncrypt, KeyInit, KeyIvInit, StreamCipher};
use aes::Aes256;
use sha3::{Digest, Keccak256};

use crate::error::{Error, Result};
use crate::handshake::Secrets;

/// AES-256 in big-endian counter mode.
type Aes256Ctr = ctr::Ctr128BE<Aes256>;

/// Bytes of a frame header plus its MAC.
pub(crate) const HEADER_BYTES: usize = 32;
/// Bytes of a frame MAC.
pub(crate) const MAC_BYTES: usize = 16;

/// The header-data we send: `rlp([capability-id, context-id])` with both zero, as every
/// client does now that multiplexing is unused. Received header-data is ignored.
const HEADER_DATA: [u8; 3] = [0xc2, 0x80, 0x80];

/// Rounds a frame size up to the 16-byte padding of the frame cipher.
pub(crate) fn padded(size: usize) -> usize {
    size.div_ceil(16) * 16
}

/// One direction's MAC: a running keccak-256 over the ciphertext, mixed with AES-256-ECB
/// of the mac-secret over its digest.
struct FrameMac {
    /// AES-256 keyed with the mac-secret; one block at a time (ECB).
    cipher: Aes256,
    /// The running keccak-256 state.
    hash: Keccak256,
}

impl FrameMac {
    fn new(mac_secret: &[u8; 32], hash: Keccak256) -> Self {
        FrameMac { cipher: Aes256::new(mac_secret.into()), hash }
    }

    /// The current digest, leaving the state as it is.
    fn digest(&self) -> [u8; 32] {
        self.hash.clone().finalize().into()
    }

    /// `seed = aes(mac-secret, digest[:16]) ^ input; update(seed); digest[:16]`.
    fn mix(&mut self, input: &[u8; 16]) -> [u8; 16] {
        let mut block = [0u8; 16];
        block.copy_from_slice(&self.digest()[..16]);
        self.cipher.encrypt_block((&mut block).into());
        for (b, i) in block.iter_mut().zip(input) {
            *b ^= i;
        }
        self.hash.update(block);
        let mut mac = [0u8; 16];
        mac.copy_from_slice(&self.digest()[..16]);
        mac
    }

    /// The header-mac of a header ciphertext.
    fn header(&mut self, header_ciphertext: &[u8; 16]) -> [u8; 16] {
        self.mix(header_ciphertext)
    }

    /// The frame-mac of a (padded) frame ciphertext.
    fn frame(&mut self, frame_ciphertext: &[u8]) -> [u8; 16] {
        self.hash.update(frame_ciphertext);
        let mut seed = [0u8; 16];
        seed.copy_from_slice(&self.digest()[..16]);
        self.mix(&seed)
    }
}

/// Constant-time equality of two MACs.
fn macs_equal(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Our outgoing direction: the frame cipher and the egress MAC.
pub(crate) struct Egress {
    cipher: Aes256Ctr,
    mac: FrameMac,
}

/// The remote's direction: the frame cipher and the ingress MAC.
pub(crate) struct Ingress {
    cipher: Aes256Ctr,
    mac: FrameMac,
}

/// Both directions from the handshake's secrets.
pub(crate) fn split(secrets: Secrets) -> (Ingress, Egress) {
    let zero_iv = [0u8; 16];
    let ingress = Ingress {
        cipher: Aes256Ctr::new(&secrets.aes.into(), &zero_iv.into()),
        mac: FrameMac::new(&secrets.mac, secrets.ingress_mac),
    };
    let egress = Egress {
        cipher: Aes256Ctr::new(&secrets.aes.into(), &zero_iv.into()),
        mac: FrameMac::new(&secrets.mac, secrets.egress_mac),
    };
    (ingress, egress)
}

impl Egress {
    /// Appends the sealed frame of `frame_data` (message id and payload) to `out`.
    /// `frame_data` must be below 2^24 bytes (checked by the caller).
    pub(crate) fn seal(&mut self, frame_data: &[u8], out: &mut Vec<u8>) {
        let size = frame_data.len();
        debug_assert!(size < 1 << 24);
        let mut header = [0u8; 16];
        header[..3].copy_from_slice(&(size as u32).to_be_bytes()[1..]);
        header[3..6].copy_from_slice(&HEADER_DATA);
        self.cipher.apply_keystream(&mut header);
        out.extend_from_slice(&header);
        out.extend_from_slice(&self.mac.header(&header));

        let start = out.len();
        out.extend_from_slice(frame_data);
        out.resize(start + padded(size), 0);
        self.cipher.apply_keystream(&mut out[start..]);
        let frame_mac = self.mac.frame(&out[start..]);
        out.extend_from_slice(&frame_mac);
    }
}

impl Ingress {
    /// Checks a header's MAC, decrypts it and returns the frame size it announces.
    pub(crate) fn open_header(&mut self, header: &[u8; HEADER_BYTES]) -> Result<usize> {
        let mut ciphertext = [0u8; 16];
        ciphertext.copy_from_slice(&header[..16]);
        let expected = self.mac.header(&ciphertext);
        if !macs_equal(&expected, &header[16..]) {
            return Err(Error::BadHeaderMac);
        }
        self.cipher.apply_keystream(&mut ciphertext);
        Ok(u32::from_be_bytes([0, ciphertext[0], ciphertext[1], ciphertext[2]]) as usize)
    }

    /// Checks a (padded) body's MAC and decrypts it in place.
    pub(crate) fn open_body(&mut self, body: &mut [u8], frame_mac: &[u8]) -> Result<()> {
        let expected = self.mac.frame(body);
        if !macs_equal(&expected, frame_mac) {
            return Err(Error::BadFrameMac);
        }
        self.cipher.apply_keystream(body);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A keccak state whose digest is fixed would be needed for go-ethereum's golden frame
    /// (it fakes the hash); instead check a seal/open round trip across two sessions with
    /// mirrored secrets, and that the MAC catches tampering.
    fn pair() -> ((Ingress, Egress), (Ingress, Egress)) {
        let make = |egress: &[u8], ingress: &[u8]| Secrets {
            aes: [1; 32],
            mac: [2; 32],
            egress_mac: Keccak256::new().chain_update(egress),
            ingress_mac: Keccak256::new().chain_update(ingress),
            remote: crate::NodeKey::generate().id(),
        };
        (split(make(b"a", b"b")), split(make(b"b", b"a")))
    }

    #[test]
    fn seal_then_open() {
        let ((_, mut a_out), (mut b_in, _)) = pair();
        for data in [&b""[..], b"\x08\xc4\x01\x02\x03\x04", &[7u8; 100][..]] {
            let mut wire = Vec::new();
            a_out.seal(data, &mut wire);
            assert_eq!(wire.len(), HEADER_BYTES + padded(data.len()) + MAC_BYTES);
            let size = b_in.open_header(wire[..32].try_into().unwrap()).unwrap();
            assert_eq!(size, data.len());
            let (body, mac) = wire[32..].split_at_mut(padded(size));
            b_in.open_body(body, mac).unwrap();
            assert_eq!(&body[..size], data);
        }
    }

    #[test]
    fn ciphertext_matches_go_ethereum_golden_frame() {
        // go-ethereum's TestFrameReadWrite: aes-secret = keccak256(""), message id 8 with
        // payload rlp([1, 2, 3, 4]). Its MAC states are faked there, so only the
        // ciphertext (header layout, padding, one CTR keystream across header and body) is
        // comparable: bytes 0..16 and 32..48.
        let empty: [u8; 32] = Keccak256::digest([]).into();
        let (_, mut egress) = split(Secrets {
            aes: empty,
            mac: empty,
            egress_mac: Keccak256::new(),
            ingress_mac: Keccak256::new(),
            remote: crate::NodeKey::generate().id(),
        });
        let mut wire = Vec::new();
        egress.seal(&[0x08, 0xc4, 0x01, 0x02, 0x03, 0x04], &mut wire);
        assert_eq!(hex::encode(&wire[..16]), "00828ddae471818bb0bfa6b551d1cb42");
        assert_eq!(hex::encode(&wire[32..48]), "ba628a4ba590cb43f7848f41c4382885");
        assert_eq!(wire.len(), 64);
    }

    #[test]
    fn tampering_is_caught() {
        let ((_, mut a_out), (mut b_in, _)) = pair();
        let mut wire = Vec::new();
        a_out.seal(b"hello", &mut wire);
        let mut bad_header = wire.clone();
        bad_header[0] ^= 1;
        let ((_, _), (mut fresh_in, _)) = pair();
        assert!(matches!(
            fresh_in.open_header(bad_header[..32].try_into().unwrap()),
            Err(Error::BadHeaderMac)
        ));

        wire[40] ^= 1;
        b_in.open_header(wire[..32].try_into().unwrap()).unwrap();
        let (body, mac) = wire[32..].split_at_mut(16);
        assert!(matches!(b_in.open_body(body, mac), Err(Error::BadFrameMac)));
    }
}
