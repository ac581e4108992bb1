//! The RLPx handshake of EIP-8 (devp2p rlpx.md, "Initial Handshake"): the initiator sends
//! `auth`, the recipient answers `ack`, both sealed with ECIES, and both sides derive the
//! session [`Secrets`] from the ephemeral ECDH, the two nonces and the two packets.
//!
//! The recipient also reads the pre-EIP-8 ("legacy") fixed-size packets and answers a
//! legacy auth with a legacy ack, as the spec asks; we always send EIP-8.

use k256::ecdsa::{RecoveryId, Signature, SigningKey, VerifyingKey};
use k256::{PublicKey, SecretKey};
use rand_core::{OsRng, RngCore};
use rlp::{Rlp, RlpStream};
use sha3::{Digest, Keccak256};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tracing::debug;

use crate::ecies;
use crate::error::{Error, Result};
use crate::node_key::{public_key_from_64, NodeId, NodeKey};

/// The largest EIP-8 handshake packet we read: the 2-byte size prefix could announce
/// 64 KiB, but an auth is about 400 bytes with padding; go-ethereum refuses above 2 KiB too.
pub const MAX_HANDSHAKE_BYTES: usize = 2048;

/// A pre-EIP-8 auth: ECIES of `sig (65) || keccak(ephemeral pubkey) (32) || pubkey (64)
/// || nonce (32) || 0x00`.
const LEGACY_AUTH_BYTES: usize = 194 + ecies::OVERHEAD;
/// A pre-EIP-8 ack: ECIES of `ephemeral pubkey (64) || nonce (32) || 0x00`.
const LEGACY_ACK_BYTES: usize = 97 + ecies::OVERHEAD;

/// The version we put in auth and ack.
const HANDSHAKE_VERSION: u64 = 4;

/// The secrets of an established session (rlpx.md, "Secrets").
pub(crate) struct Secrets {
    /// AES-256-CTR key of the frame cipher, both directions (IV zero).
    pub(crate) aes: [u8; 32],
    /// AES-256 key of the MAC construction.
    pub(crate) mac: [u8; 32],
    /// Keccak-256 state of our outgoing MAC.
    pub(crate) egress_mac: Keccak256,
    /// Keccak-256 state of the remote's MAC.
    pub(crate) ingress_mac: Keccak256,
    /// The remote's static public key, proven by the handshake.
    pub(crate) remote: NodeId,
}

/// The fields of an auth body we use (extra list elements are ignored, per EIP-8).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Auth {
    /// Recoverable signature by the initiator's ephemeral key over
    /// `static-shared-secret ^ initiator-nonce`.
    pub(crate) signature: [u8; 65],
    /// The initiator's static public key.
    pub(crate) initiator: [u8; 64],
    /// The initiator's nonce.
    pub(crate) nonce: [u8; 32],
    /// Its auth-vsn (4; larger values are accepted for forward compatibility).
    pub(crate) version: u64,
}

/// The fields of an ack body we use.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Ack {
    /// The recipient's ephemeral public key.
    pub(crate) ephemeral: [u8; 64],
    /// The recipient's nonce.
    pub(crate) nonce: [u8; 32],
    /// Its ack-vsn.
    pub(crate) version: u64,
}

/// Which packet is being read, for legacy sizes and error messages.
#[derive(Clone, Copy)]
enum Packet {
    Auth,
    Ack,
}

impl Packet {
    fn name(self) -> &'static str {
        match self {
            Packet::Auth => "auth",
            Packet::Ack => "ack",
        }
    }

    fn legacy_bytes(self) -> usize {
        match self {
            Packet::Auth => LEGACY_AUTH_BYTES,
            Packet::Ack => LEGACY_ACK_BYTES,
        }
    }
}

/// A packet as received: its bytes (which feed the MACs) and its plaintext.
pub(crate) struct Opened {
    /// The bytes on the wire, size prefix included.
    pub(crate) packet: Vec<u8>,
    /// The decrypted body.
    pub(crate) plaintext: Vec<u8>,
    /// Whether it was a pre-EIP-8 packet.
    pub(crate) legacy: bool,
}

/// Runs the initiator side over `io`, dialing the node `remote`.
pub(crate) async fn initiate<IO>(io: &mut IO, key: &NodeKey, remote: NodeId) -> Result<Secrets>
where
    IO: AsyncRead + AsyncWrite + Unpin,
{
    let remote_key = remote.to_public_key().ok_or(Error::InvalidPublicKey { field: "dialed node id" })?;
    let ephemeral = SecretKey::random(&mut OsRng);
    let nonce = random_nonce();
    let auth = make_auth(key, &remote_key, &ephemeral, nonce)?;
    let auth_packet = seal_eip8(&remote_key, &encode_auth(&auth));
    io.write_all(&auth_packet).await?;
    io.flush().await?;

    let opened = read_packet(io, key, Packet::Ack).await?;
    let ack =
        if opened.legacy { decode_legacy_ack(&opened.plaintext)? } else { decode_ack(&opened.plaintext)? };
    let remote_ephemeral =
        public_key_from_64(&ack.ephemeral).ok_or(Error::InvalidPublicKey { field: "ack ephemeral key" })?;
    debug!(target: "rlpx::handshake", %remote, legacy = opened.legacy, version = ack.version, "ack received");
    Ok(derive_secrets(
        true,
        &ephemeral,
        &remote_ephemeral,
        &nonce,
        &ack.nonce,
        &auth_packet,
        &opened.packet,
        remote,
    ))
}

/// Runs the recipient side over `io`.
pub(crate) async fn respond<IO>(io: &mut IO, key: &NodeKey) -> Result<Secrets>
where
    IO: AsyncRead + AsyncWrite + Unpin,
{
    let opened = read_packet(io, key, Packet::Auth).await?;
    let auth =
        if opened.legacy { decode_legacy_auth(&opened.plaintext)? } else { decode_auth(&opened.plaintext)? };
    let (remote, remote_ephemeral) = recover_initiator(key, &auth)?;
    if opened.legacy {
        // A legacy auth also carries keccak(ephemeral pubkey): it must match the signer.
        let hash = Keccak256::digest(NodeId::from_public_key(&remote_ephemeral).as_bytes());
        if hash[..] != opened.plaintext[65..97] {
            return Err(Error::InvalidSignature);
        }
    }
    let ephemeral = SecretKey::random(&mut OsRng);
    let nonce = random_nonce();
    let ack = Ack {
        ephemeral: *NodeId::from_public_key(&ephemeral.public_key()).as_bytes(),
        nonce,
        version: HANDSHAKE_VERSION,
    };
    let remote_key = remote.to_public_key().ok_or(Error::InvalidPublicKey { field: "auth initiator key" })?;
    let ack_packet = if opened.legacy {
        let mut body = Vec::with_capacity(97);
        body.extend_from_slice(&ack.ephemeral);
        body.extend_from_slice(&ack.nonce);
        body.push(0);
        ecies::encrypt(&remote_key, &body, &[])
    } else {
        seal_eip8(&remote_key, &encode_ack(&ack))
    };
    io.write_all(&ack_packet).await?;
    io.flush().await?;
    debug!(target: "rlpx::handshake", %remote, legacy = opened.legacy, version = auth.version, "auth accepted");
    Ok(derive_secrets(
        false,
        &ephemeral,
        &remote_ephemeral,
        &auth.nonce,
        &nonce,
        &opened.packet,
        &ack_packet,
        remote,
    ))
}

fn random_nonce() -> [u8; 32] {
    let mut nonce = [0u8; 32];
    OsRng.fill_bytes(&mut nonce);
    nonce
}

fn xor32(a: &[u8; 32], b: &[u8; 32]) -> [u8; 32] {
    std::array::from_fn(|i| a[i] ^ b[i])
}

/// Builds the auth: the signature by `ephemeral` over `ecdh(static keys) ^ nonce`.
fn make_auth(key: &NodeKey, remote: &PublicKey, ephemeral: &SecretKey, nonce: [u8; 32]) -> Result<Auth> {
    let token = xor32(&ecies::ecdh_x(key.secret(), remote), &nonce);
    let (sig, recid) =
        SigningKey::from(ephemeral).sign_prehash_recoverable(&token).map_err(|_| Error::InvalidSignature)?;
    let mut signature = [0u8; 65];
    signature[..64].copy_from_slice(&sig.to_bytes());
    signature[64] = recid.to_byte();
    Ok(Auth { signature, initiator: *key.id().as_bytes(), nonce, version: HANDSHAKE_VERSION })
}

/// Checks the initiator's key and recovers its ephemeral key from the auth signature.
pub(crate) fn recover_initiator(key: &NodeKey, auth: &Auth) -> Result<(NodeId, PublicKey)> {
    let remote =
        public_key_from_64(&auth.initiator).ok_or(Error::InvalidPublicKey { field: "auth initiator key" })?;
    let token = xor32(&ecies::ecdh_x(key.secret(), &remote), &auth.nonce);
    let mut sig = Signature::from_slice(&auth.signature[..64]).map_err(|_| Error::InvalidSignature)?;
    let mut recid = RecoveryId::from_byte(auth.signature[64]).ok_or(Error::InvalidSignature)?;
    // Other implementations may produce a high s; k256 verifies only low s, and (r, n - s)
    // with the other y parity recovers the same key.
    if let Some(low) = sig.normalize_s() {
        sig = low;
        recid = RecoveryId::new(!recid.is_y_odd(), recid.is_x_reduced());
    }
    let ephemeral =
        VerifyingKey::recover_from_prehash(&token, &sig, recid).map_err(|_| Error::InvalidSignature)?;
    Ok((NodeId::from_public_key(&remote), PublicKey::from(&ephemeral)))
}

/// Derives the session secrets (rlpx.md, "Secrets"); `auth_packet` and `ack_packet` are
/// the bytes on the wire, size prefix included.
#[allow(clippy::too_many_arguments)]
pub(crate) fn derive_secrets(
    initiator: bool,
    ephemeral: &SecretKey,
    remote_ephemeral: &PublicKey,
    init_nonce: &[u8; 32],
    resp_nonce: &[u8; 32],
    auth_packet: &[u8],
    ack_packet: &[u8],
    remote: NodeId,
) -> Secrets {
    let ephemeral_key = ecies::ecdh_x(ephemeral, remote_ephemeral);
    let nonce_hash = Keccak256::new().chain_update(resp_nonce).chain_update(init_nonce).finalize();
    let shared = Keccak256::new().chain_update(ephemeral_key).chain_update(nonce_hash).finalize();
    let aes: [u8; 32] = Keccak256::new().chain_update(ephemeral_key).chain_update(shared).finalize().into();
    let mac: [u8; 32] = Keccak256::new().chain_update(ephemeral_key).chain_update(aes).finalize().into();
    // The initiator's egress MAC starts from (mac ^ recipient-nonce) || auth, and the
    // recipient's from (mac ^ initiator-nonce) || ack; each side's ingress is the other's egress.
    let initiator_mac = Keccak256::new().chain_update(xor32(&mac, resp_nonce)).chain_update(auth_packet);
    let recipient_mac = Keccak256::new().chain_update(xor32(&mac, init_nonce)).chain_update(ack_packet);
    let (egress_mac, ingress_mac) =
        if initiator { (initiator_mac, recipient_mac) } else { (recipient_mac, initiator_mac) };
    Secrets { aes, mac, egress_mac, ingress_mac, remote }
}

/// RLP of an auth body.
pub(crate) fn encode_auth(auth: &Auth) -> Vec<u8> {
    let mut s = RlpStream::new_list(4);
    s.append(&auth.signature.as_slice());
    s.append(&auth.initiator.as_slice());
    s.append(&auth.nonce.as_slice());
    s.append(&auth.version);
    s.out().to_vec()
}

/// RLP of an ack body.
fn encode_ack(ack: &Ack) -> Vec<u8> {
    let mut s = RlpStream::new_list(3);
    s.append(&ack.ephemeral.as_slice());
    s.append(&ack.nonce.as_slice());
    s.append(&ack.version);
    s.out().to_vec()
}

/// The first RLP item of `plaintext` (EIP-8 bodies are followed by padding), as a list.
fn body_list<'a>(plaintext: &'a [u8], packet: &'static str) -> Result<Rlp<'a>> {
    let malformed = |reason| Error::MalformedHandshake { packet, reason };
    let info = Rlp::new(plaintext).payload_info().map_err(|_| malformed("not RLP"))?;
    let item = Rlp::new(&plaintext[..info.total()]);
    if !item.is_list() {
        return Err(malformed("not an RLP list"));
    }
    Ok(item)
}

/// A fixed-size byte string at `index` of `list`.
fn fixed<const N: usize>(
    list: &Rlp<'_>,
    index: usize,
    packet: &'static str,
    field: &'static str,
) -> Result<[u8; N]> {
    let bytes = list
        .at(index)
        .and_then(|item| item.data())
        .map_err(|_| Error::MalformedHandshake { packet, reason: field })?;
    bytes.try_into().map_err(|_| Error::MalformedHandshake { packet, reason: field })
}

/// A version number at `index` (forward compatible: any u64).
fn version(list: &Rlp<'_>, index: usize, packet: &'static str) -> Result<u64> {
    list.at(index)
        .and_then(|item| item.as_val::<u64>())
        .map_err(|_| Error::MalformedHandshake { packet, reason: "bad version" })
}

/// Parses an EIP-8 auth body, ignoring extra list elements.
pub(crate) fn decode_auth(plaintext: &[u8]) -> Result<Auth> {
    let list = body_list(plaintext, "auth")?;
    Ok(Auth {
        signature: fixed(&list, 0, "auth", "bad signature field")?,
        initiator: fixed(&list, 1, "auth", "bad initiator key field")?,
        nonce: fixed(&list, 2, "auth", "bad nonce field")?,
        version: version(&list, 3, "auth")?,
    })
}

/// Parses an EIP-8 ack body, ignoring extra list elements.
pub(crate) fn decode_ack(plaintext: &[u8]) -> Result<Ack> {
    let list = body_list(plaintext, "ack")?;
    Ok(Ack {
        ephemeral: fixed(&list, 0, "ack", "bad ephemeral key field")?,
        nonce: fixed(&list, 1, "ack", "bad nonce field")?,
        version: version(&list, 2, "ack")?,
    })
}

/// Parses a pre-EIP-8 auth body: `sig || keccak(ephemeral) || pubkey || nonce || 0x00`.
pub(crate) fn decode_legacy_auth(plaintext: &[u8]) -> Result<Auth> {
    if plaintext.len() != 194 {
        return Err(Error::MalformedHandshake { packet: "auth", reason: "legacy body is not 194 bytes" });
    }
    let mut auth =
        Auth { signature: [0; 65], initiator: [0; 64], nonce: [0; 32], version: HANDSHAKE_VERSION };
    auth.signature.copy_from_slice(&plaintext[..65]);
    auth.initiator.copy_from_slice(&plaintext[97..161]);
    auth.nonce.copy_from_slice(&plaintext[161..193]);
    Ok(auth)
}

/// Parses a pre-EIP-8 ack body: `ephemeral pubkey || nonce || 0x00`.
pub(crate) fn decode_legacy_ack(plaintext: &[u8]) -> Result<Ack> {
    if plaintext.len() != 97 {
        return Err(Error::MalformedHandshake { packet: "ack", reason: "legacy body is not 97 bytes" });
    }
    let mut ack = Ack { ephemeral: [0; 64], nonce: [0; 32], version: HANDSHAKE_VERSION };
    ack.ephemeral.copy_from_slice(&plaintext[..64]);
    ack.nonce.copy_from_slice(&plaintext[64..96]);
    Ok(ack)
}

/// Seals an EIP-8 body: pads it with 100..200 bytes (so that it cannot be mistaken for a
/// legacy packet), prefixes the 2-byte size, which ECIES authenticates.
fn seal_eip8(remote: &PublicKey, body: &[u8]) -> Vec<u8> {
    let padding = 100 + (OsRng.next_u32() % 100) as usize;
    let mut plaintext = body.to_vec();
    plaintext.resize(body.len() + padding, 0);
    let size = u16::try_from(plaintext.len() + ecies::OVERHEAD).expect("handshake bodies are small");
    let prefix = size.to_be_bytes();
    let mut packet = prefix.to_vec();
    packet.extend_from_slice(&ecies::encrypt(remote, &plaintext, &prefix));
    packet
}

#[cfg(test)]
/// Decrypts a whole received packet: legacy if it is exactly the legacy size and opens as
/// such, EIP-8 otherwise.
pub(crate) fn open_packet(key: &NodeKey, packet: &[u8]) -> Result<Opened> {
    if packet.len() >= 2 {
        let size = u16::from_be_bytes([packet[0], packet[1]]) as usize;
        if size + 2 == packet.len() {
            let plaintext = ecies::decrypt(key.secret(), &packet[2..], &packet[..2])?;
            return Ok(Opened { packet: packet.to_vec(), plaintext, legacy: false });
        }
    }
    let plaintext = ecies::decrypt(key.secret(), packet, &[])?;
    Ok(Opened { packet: packet.to_vec(), plaintext, legacy: true })
}

/// Reads one handshake packet. As the spec suggests, it first reads the legacy size and
/// tries to open that as a legacy packet; failing that, the first two bytes are the EIP-8
/// size prefix, bounded by [`MAX_HANDSHAKE_BYTES`] before anything more is read.
async fn read_packet<IO>(io: &mut IO, key: &NodeKey, which: Packet) -> Result<Opened>
where
    IO: AsyncRead + Unpin,
{
    let legacy_bytes = which.legacy_bytes();
    let mut packet = vec![0u8; legacy_bytes];
    read_full(io, &mut packet, which.name()).await?;
    // A legacy packet starts with the 0x04 of the ECIES ephemeral key.
    if packet[0] == 0x04 {
        if let Ok(plaintext) = ecies::decrypt(key.secret(), &packet, &[]) {
            return Ok(Opened { packet, plaintext, legacy: true });
        }
    }
    let size = u16::from_be_bytes([packet[0], packet[1]]) as usize;
    if size > MAX_HANDSHAKE_BYTES {
        return Err(Error::HandshakeTooLarge { size, max: MAX_HANDSHAKE_BYTES });
    }
    if size + 2 < legacy_bytes {
        return Err(Error::HandshakeTooSmall { size, min: legacy_bytes - 2 });
    }
    packet.resize(size + 2, 0);
    read_full(io, &mut packet[legacy_bytes..], which.name()).await?;
    let plaintext = ecies::decrypt(key.secret(), &packet[2..], &packet[..2])?;
    Ok(Opened { packet, plaintext, legacy: false })
}

/// `read_exact` that reports a close as [`Error::Truncated`].
async fn read_full<IO>(io: &mut IO, buf: &mut [u8], during: &'static str) -> Result<()>
where
    IO: AsyncRead + Unpin,
{
    let mut got = 0;
    while got < buf.len() {
        let n = io.read(&mut buf[got..]).await?;
        if n == 0 {
            return Err(Error::Truncated { during, needed: buf.len(), got });
        }
        got += n;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    //! The test vectors of EIP-8 ("Test Vectors"), also in go-ethereum's p2p/rlpx tests.
    use super::*;

    fn unhex(s: &str) -> Vec<u8> {
        hex::decode(s.split_whitespace().collect::<String>()).unwrap()
    }

    fn key(s: &str) -> NodeKey {
        NodeKey::from_hex(s).unwrap()
    }

    fn key_a() -> NodeKey {
        key("49a7b37aa6f6645917e7b807e9d1c00d4fa71f18343b0d4122a4d2df64dd6fee")
    }
    fn key_b() -> NodeKey {
        key("b71c71a67e1177ad4e901695e1b4b9ee17ae16c6668d313eac2f96dbcda3f291")
    }
    fn eph_a() -> NodeKey {
        key("869d6ecf5211f1cc60418a13b9d870b22959d0c16f02bec714c960dd2298a32d")
    }
    fn eph_b() -> NodeKey {
        key("e238eb8e04fee6511ab04c6dd3c89ce097b11f25d584863ac2b6d5b35b1847e4")
    }
    fn nonce_a() -> [u8; 32] {
        unhex("7e968bba13b6c50e2c4cd7f241cc0d64d1ac25c7f5952df231ac6a2bda8ee5d6").try_into().unwrap()
    }
    fn nonce_b() -> [u8; 32] {
        unhex("559aead08264d5795d3909718cdd05abd49572e84fe55590eef31a88a08fdffd").try_into().unwrap()
    }

    const AUTH_1: &str = "
        048ca79ad18e4b0659fab4853fe5bc58eb83992980f4c9cc147d2aa31532efd29a3d3dc6a3d89eaf
        913150cfc777ce0ce4af2758bf4810235f6e6ceccfee1acc6b22c005e9e3a49d6448610a58e98744
        ba3ac0399e82692d67c1f58849050b3024e21a52c9d3b01d871ff5f210817912773e610443a9ef14
        2e91cdba0bd77b5fdf0769b05671fc35f83d83e4d3b0b000c6b2a1b1bba89e0fc51bf4e460df3105
        c444f14be226458940d6061c296350937ffd5e3acaceeaaefd3c6f74be8e23e0f45163cc7ebd7622
        0f0128410fd05250273156d548a414444ae2f7dea4dfca2d43c057adb701a715bf59f6fb66b2d1d2
        0f2c703f851cbf5ac47396d9ca65b6260bd141ac4d53e2de585a73d1750780db4c9ee4cd4d225173
        a4592ee77e2bd94d0be3691f3b406f9bba9b591fc63facc016bfa8";
    pub(crate) const AUTH_2: &str = "
        01b304ab7578555167be8154d5cc456f567d5ba302662433674222360f08d5f1534499d3678b513b
        0fca474f3a514b18e75683032eb63fccb16c156dc6eb2c0b1593f0d84ac74f6e475f1b8d56116b84
        9634a8c458705bf83a626ea0384d4d7341aae591fae42ce6bd5c850bfe0b999a694a49bbbaf3ef6c
        da61110601d3b4c02ab6c30437257a6e0117792631a4b47c1d52fc0f8f89caadeb7d02770bf999cc
        147d2df3b62e1ffb2c9d8c125a3984865356266bca11ce7d3a688663a51d82defaa8aad69da39ab6
        d5470e81ec5f2a7a47fb865ff7cca21516f9299a07b1bc63ba56c7a1a892112841ca44b6e0034dee
        70c9adabc15d76a54f443593fafdc3b27af8059703f88928e199cb122362a4b35f62386da7caad09
        c001edaeb5f8a06d2b26fb6cb93c52a9fca51853b68193916982358fe1e5369e249875bb8d0d0ec3
        6f917bc5e1eafd5896d46bd61ff23f1a863a8a8dcd54c7b109b771c8e61ec9c8908c733c0263440e
        2aa067241aaa433f0bb053c7b31a838504b148f570c0ad62837129e547678c5190341e4f1693956c
        3bf7678318e2d5b5340c9e488eefea198576344afbdf66db5f51204a6961a63ce072c8926c";
    const AUTH_3: &str = "
        01b8044c6c312173685d1edd268aa95e1d495474c6959bcdd10067ba4c9013df9e40ff45f5bfd6f7
        2471f93a91b493f8e00abc4b80f682973de715d77ba3a005a242eb859f9a211d93a347fa64b597bf
        280a6b88e26299cf263b01b8dfdb712278464fd1c25840b995e84d367d743f66c0e54a586725b7bb
        f12acca27170ae3283c1073adda4b6d79f27656993aefccf16e0d0409fe07db2dc398a1b7e8ee93b
        cd181485fd332f381d6a050fba4c7641a5112ac1b0b61168d20f01b479e19adf7fdbfa0905f63352
        bfc7e23cf3357657455119d879c78d3cf8c8c06375f3f7d4861aa02a122467e069acaf513025ff19
        6641f6d2810ce493f51bee9c966b15c5043505350392b57645385a18c78f14669cc4d960446c1757
        1b7c5d725021babbcd786957f3d17089c084907bda22c2b2675b4378b114c601d858802a55345a15
        116bc61da4193996187ed70d16730e9ae6b3bb8787ebcaea1871d850997ddc08b4f4ea668fbf3740
        7ac044b55be0908ecb94d4ed172ece66fd31bfdadf2b97a8bc690163ee11f5b575a4b44e36e2bfb2
        f0fce91676fd64c7773bac6a003f481fddd0bae0a1f31aa27504e2a533af4cef3b623f4791b2cca6
        d490";
    const ACK_1: &str = "
        049f8abcfa9c0dc65b982e98af921bc0ba6e4243169348a236abe9df5f93aa69d99cadddaa387662
        b0ff2c08e9006d5a11a278b1b3331e5aaabf0a32f01281b6f4ede0e09a2d5f585b26513cb794d963
        5a57563921c04a9090b4f14ee42be1a5461049af4ea7a7f49bf4c97a352d39c8d02ee4acc416388c
        1c66cec761d2bc1c72da6ba143477f049c9d2dde846c252c111b904f630ac98e51609b3b1f58168d
        dca6505b7196532e5f85b259a20c45e1979491683fee108e9660edbf38f3add489ae73e3dda2c71b
        d1497113d5c755e942d1";
    const ACK_2: &str = "
        01ea0451958701280a56482929d3b0757da8f7fbe5286784beead59d95089c217c9b917788989470
        b0e330cc6e4fb383c0340ed85fab836ec9fb8a49672712aeabbdfd1e837c1ff4cace34311cd7f4de
        05d59279e3524ab26ef753a0095637ac88f2b499b9914b5f64e143eae548a1066e14cd2f4bd7f814
        c4652f11b254f8a2d0191e2f5546fae6055694aed14d906df79ad3b407d94692694e259191cde171
        ad542fc588fa2b7333313d82a9f887332f1dfc36cea03f831cb9a23fea05b33deb999e85489e645f
        6aab1872475d488d7bd6c7c120caf28dbfc5d6833888155ed69d34dbdc39c1f299be1057810f34fb
        e754d021bfca14dc989753d61c413d261934e1a9c67ee060a25eefb54e81a4d14baff922180c395d
        3f998d70f46f6b58306f969627ae364497e73fc27f6d17ae45a413d322cb8814276be6ddd13b885b
        201b943213656cde498fa0e9ddc8e0b8f8a53824fbd82254f3e2c17e8eaea009c38b4aa0a3f306e8
        797db43c25d68e86f262e564086f59a2fc60511c42abfb3057c247a8a8fe4fb3ccbadde17514b7ac
        8000cdb6a912778426260c47f38919a91f25f4b5ffb455d6aaaf150f7e5529c100ce62d6d92826a7
        1778d809bdf60232ae21ce8a437eca8223f45ac37f6487452ce626f549b3b5fdee26afd2072e4bc7
        5833c2464c805246155289f4";
    const ACK_3: &str = "
        01f004076e58aae772bb101ab1a8e64e01ee96e64857ce82b1113817c6cdd52c09d26f7b90981cd7
        ae835aeac72e1573b8a0225dd56d157a010846d888dac7464baf53f2ad4e3d584531fa203658fab0
        3a06c9fd5e35737e417bc28c1cbf5e5dfc666de7090f69c3b29754725f84f75382891c561040ea1d
        dc0d8f381ed1b9d0d4ad2a0ec021421d847820d6fa0ba66eaf58175f1b235e851c7e2124069fbc20
        2888ddb3ac4d56bcbd1b9b7eab59e78f2e2d400905050f4a92dec1c4bdf797b3fc9b2f8e84a482f3
        d800386186712dae00d5c386ec9387a5e9c9a1aca5a573ca91082c7d68421f388e79127a5177d4f8
        590237364fd348c9611fa39f78dcdceee3f390f07991b7b47e1daa3ebcb6ccc9607811cb17ce51f1
        c8c2c5098dbdd28fca547b3f58c01a424ac05f869f49c6a34672ea2cbbc558428aa1fe48bbfd6115
        8b1b735a65d99f21e70dbc020bfdface9f724a0d1fb5895db971cc81aa7608baa0920abb0a565c9c
        436e2fd13323428296c86385f2384e408a31e104670df0791d93e743a3a5194ee6b076fb6323ca59
        3011b7348c16cf58f66b9633906ba54a2ee803187344b394f75dd2e663a57b956cb830dd7a908d4f
        39a2336a61ef9fda549180d4ccde21514d117b6c6fd07a9102b5efe710a32af4eeacae2cb3b1dec0
        35b9593b48b9d3ca4c13d245d5f04169b0b1";
    const AUTH_SIGNATURE: &str = "299ca6acfd35e3d72d8ba3d1e2b60b5561d5af5218eb5bc182045769eb4226910a301acae3b369fffc4a4899d6b02531e89fd4fe36a2cf0d93607ba470b50f7800";

    /// Reads a packet through the async reader, as a recipient would.
    fn read(packet: &[u8], key: &NodeKey, which: Packet) -> Result<Opened> {
        let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
        let mut io = packet;
        rt.block_on(read_packet(&mut io, key, which))
    }

    #[test]
    fn auth_vectors_decrypt_in_both_formats() {
        for (input, legacy, version) in [(AUTH_1, true, 4), (AUTH_2, false, 4), (AUTH_3, false, 56)] {
            let packet = unhex(input);
            let opened = read(&packet, &key_b(), Packet::Auth).unwrap();
            assert_eq!(opened.legacy, legacy);
            assert_eq!(opened.packet, packet, "the whole packet feeds the MAC");
            let auth =
                if legacy { decode_legacy_auth(&opened.plaintext) } else { decode_auth(&opened.plaintext) }
                    .unwrap();
            assert_eq!(auth.initiator, *key_a().id().as_bytes());
            assert_eq!(auth.nonce, nonce_a());
            assert_eq!(auth.version, version);
            assert_eq!(auth.signature.to_vec(), unhex(AUTH_SIGNATURE));
            let (remote, remote_ephemeral) = recover_initiator(&key_b(), &auth).unwrap();
            assert_eq!(remote, key_a().id());
            assert_eq!(NodeId::from_public_key(&remote_ephemeral), eph_a().id());
        }
    }

    #[test]
    fn ack_vectors_decrypt_in_both_formats() {
        for (input, legacy, version) in [(ACK_1, true, 4), (ACK_2, false, 4), (ACK_3, false, 57)] {
            let packet = unhex(input);
            let opened = read(&packet, &key_a(), Packet::Ack).unwrap();
            assert_eq!(opened.legacy, legacy);
            let ack =
                if legacy { decode_legacy_ack(&opened.plaintext) } else { decode_ack(&opened.plaintext) }
                    .unwrap();
            assert_eq!(ack.ephemeral, *eph_b().id().as_bytes());
            assert_eq!(ack.nonce, nonce_b());
            assert_eq!(ack.version, version);
            // The whole-packet opener agrees.
            assert_eq!(open_packet(&key_a(), &packet).unwrap().plaintext, opened.plaintext);
        }
    }

    #[test]
    fn secrets_of_auth2_ack2_match_the_vectors() {
        let auth = decode_auth(&read(&unhex(AUTH_2), &key_b(), Packet::Auth).unwrap().plaintext).unwrap();
        let (remote, remote_ephemeral) = recover_initiator(&key_b(), &auth).unwrap();
        let mut secrets = derive_secrets(
            false,
            eph_b().secret(),
            &remote_ephemeral,
            &auth.nonce,
            &nonce_b(),
            &unhex(AUTH_2),
            &unhex(ACK_2),
            remote,
        );
        assert_eq!(
            hex::encode(secrets.aes),
            "80e8632c05fed6fc2a13b0f8d31a3cf645366239170ea067065aba8e28bac487"
        );
        assert_eq!(
            hex::encode(secrets.mac),
            "2ea74ec5dae199227dff1af715362700e989d889d7a493cb0639691efb8e5f98"
        );
        secrets.ingress_mac.update(b"foo");
        assert_eq!(
            hex::encode(secrets.ingress_mac.finalize()),
            "0c7ec6340062cc46f5e9f1e3cf86f8c8c403c5a0964f5df0ebd34a75ddc86db5"
        );

        // The initiator side, with A's ephemeral key, derives the mirror image.
        let initiator = derive_secrets(
            true,
            eph_a().secret(),
            &eph_b().secret().public_key(),
            &nonce_a(),
            &nonce_b(),
            &unhex(AUTH_2),
            &unhex(ACK_2),
            key_b().id(),
        );
        assert_eq!(initiator.aes, secrets.aes);
        assert_eq!(initiator.mac, secrets.mac);
        let mut egress = initiator.egress_mac.clone();
        egress.update(b"foo");
        assert_eq!(
            hex::encode(egress.finalize()),
            "0c7ec6340062cc46f5e9f1e3cf86f8c8c403c5a0964f5df0ebd34a75ddc86db5"
        );
    }

    #[test]
    fn our_auth_signs_like_the_vector() {
        // Signing is deterministic (RFC 6979), but the vector's signature may come from
        // another nonce; what must hold is that B recovers A's ephemeral key from ours.
        let auth = make_auth(&key_a(), &key_b().secret().public_key(), eph_a().secret(), nonce_a()).unwrap();
        let (remote, ephemeral) = recover_initiator(&key_b(), &auth).unwrap();
        assert_eq!(remote, key_a().id());
        assert_eq!(NodeId::from_public_key(&ephemeral), eph_a().id());
        assert_eq!(decode_auth(&encode_auth(&auth)).unwrap(), auth);
    }

    #[test]
    fn tampered_auth_fails_the_ecies_mac() {
        let mut packet = unhex(AUTH_2);
        packet[100] ^= 0x01;
        assert!(matches!(read(&packet, &key_b(), Packet::Auth), Err(Error::EciesMac)));
        // Sealed to A, read by B.
        assert!(matches!(read(&unhex(AUTH_2), &key_a(), Packet::Auth), Err(Error::EciesMac)));
    }

    #[test]
    fn oversized_and_undersized_prefixes_are_refused() {
        let mut packet = vec![0xff, 0xff];
        packet.resize(LEGACY_AUTH_BYTES, 7);
        assert!(matches!(
            read(&packet, &key_b(), Packet::Auth),
            Err(Error::HandshakeTooLarge { size: 0xffff, max: MAX_HANDSHAKE_BYTES })
        ));
        let mut packet = vec![0x00, 0x10];
        packet.resize(LEGACY_AUTH_BYTES, 7);
        assert!(matches!(
            read(&packet, &key_b(), Packet::Auth),
            Err(Error::HandshakeTooSmall { size: 16, .. })
        ));
        assert!(matches!(
            read(&unhex(AUTH_2)[..300], &key_b(), Packet::Auth),
            Err(Error::Truncated { during: "auth", needed: LEGACY_AUTH_BYTES, got: 300 })
        ));
    }

    #[test]
    fn bad_signature_is_refused() {
        let mut auth = decode_auth(&read(&unhex(AUTH_2), &key_b(), Packet::Auth).unwrap().plaintext).unwrap();
        auth.signature[..32].fill(0); // r = 0 is no signature
        assert!(matches!(recover_initiator(&key_b(), &auth), Err(Error::InvalidSignature)));
        let mut auth2 = auth.clone();
        auth2.signature[64] = 9;
        assert!(matches!(recover_initiator(&key_b(), &auth2), Err(Error::InvalidSignature)));
        let mut auth3 = auth;
        auth3.initiator[5] ^= 1;
        assert!(matches!(recover_initiator(&key_b(), &auth3), Err(Error::InvalidPublicKey { .. })));
    }

    #[test]
    fn malformed_bodies_are_refused() {
        for body in [&[][..], &[0x80][..], &[0xc0][..], &[0xc3, 0x01, 0x02, 0x03][..], &[0xf8, 0xff][..]] {
            assert!(matches!(decode_auth(body), Err(Error::MalformedHandshake { packet: "auth", .. })));
            assert!(matches!(decode_ack(body), Err(Error::MalformedHandshake { packet: "ack", .. })));
        }
    }

    proptest::proptest! {
        #[test]
        fn body_decoders_never_panic(bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..400)) {
            let _ = decode_auth(&bytes);
            let _ = decode_ack(&bytes);
            let _ = decode_legacy_auth(&bytes);
            let _ = decode_legacy_ack(&bytes);
        }
    }
}
