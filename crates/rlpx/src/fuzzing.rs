//! Entry points for the fuzz targets in `fuzz/` (feature `fuzzing`; not for production use).
//!
//! Each function takes bytes a remote peer controls and runs them through the code a live
//! connection runs, with fixed keys and secrets so that every input replays the same way:
//!
//! - the handshake as the recipient ([`read_auth`]) and as the initiator ([`read_ack`]), with
//!   the keys of the EIP-8 test vectors, whose packets make good seeds; [`seal_auth`] seals any
//!   plaintext so that a fuzzer gets past the ECIES MAC, and [`auth_body`] / [`ack_body`]
//!   decode bodies without ECIES;
//! - frames: [`seal_frames`] as a peer's writer would, [`open_frames`] as our reader does
//!   (header MAC, size bound, body MAC), with fixed session secrets;
//! - what a frame carries: [`decode_message`] (message id, snappy with its size check) and
//!   [`decode_disconnect`]. [`Hello::decode`](crate::Hello::decode) is public already.
//!
//! The reader side of [`open_frames`] and [`decode_message`] repeats, step for step, what
//! `RlpxReader::recv` does with a buffered frame, calling the same functions, since a reader
//! needs a handshake and an async transport to exist.

use std::future::Future;
use std::sync::OnceLock;
use std::task::{Context, Poll, Waker};

use sha3::{Digest, Keccak256};

use crate::disconnect::DisconnectReason;
use crate::error::{Error, Result};
use crate::frame::{self, HEADER_BYTES, MAC_BYTES};
use crate::handshake::{self, Secrets};
use crate::node_key::{NodeId, NodeKey};
use crate::{ecies, stream};

/// Key "A" of the EIP-8 test vectors, the initiator: acks are read with it.
const INITIATOR_KEY: &str = "49a7b37aa6f6645917e7b807e9d1c00d4fa71f18343b0d4122a4d2df64dd6fee";
/// Key "B" of the EIP-8 test vectors, the recipient: auths are read with it.
const RECIPIENT_KEY: &str = "b71c71a67e1177ad4e901695e1b4b9ee17ae16c6668d313eac2f96dbcda3f291";
/// Ephemeral key "A" of the EIP-8 test vectors: [`seal_auth`]'s ECIES key, fixed so that a
/// sealed input replays the same way.
const SEALING_KEY: &str = "869d6ecf5211f1cc60418a13b9d870b22959d0c16f02bec714c960dd2298a32d";

/// The three keys, parsed once: parsing costs more than most inputs' decoding.
fn keys() -> &'static [NodeKey; 3] {
    static KEYS: OnceLock<[NodeKey; 3]> = OnceLock::new();
    KEYS.get_or_init(|| {
        [INITIATOR_KEY, RECIPIENT_KEY, SEALING_KEY].map(|hex| NodeKey::from_hex(hex).expect("a valid key"))
    })
}

/// Runs a future whose I/O never waits (it reads a slice and writes to a sink) to completion.
fn run_to_completion<F: Future>(future: F) -> F::Output {
    let mut future = std::pin::pin!(future);
    match future.as_mut().poll(&mut Context::from_waker(Waker::noop())) {
        Poll::Ready(output) => output,
        Poll::Pending => unreachable!("reading a slice and writing to a sink never wait"),
    }
}

/// Reads `packet` as the first bytes a dialing peer sends, as the recipient does: the legacy
/// or EIP-8 size decision and bound, ECIES, the body, the signature recovery. Returns the
/// initiator's proven id. (On success the ack is written to a sink.)
pub fn read_auth(packet: &[u8]) -> Result<NodeId> {
    let mut io = tokio::io::join(packet, tokio::io::sink());
    run_to_completion(handshake::respond(&mut io, &keys()[1])).map(|secrets| secrets.remote)
}

/// Reads `packet` as the answer of the node we dialed, as the initiator does (after sending
/// an auth, to a sink): size decision and bound, ECIES, the body, the ephemeral key. Returns
/// the id of the node dialed.
pub fn read_ack(packet: &[u8]) -> Result<NodeId> {
    let mut io = tokio::io::join(packet, tokio::io::sink());
    run_to_completion(handshake::initiate(&mut io, &keys()[0], keys()[1].id())).map(|secrets| secrets.remote)
}

/// Seals `plaintext` into an auth packet for [`read_auth`]: pre-EIP-8 (ECIES alone) if
/// `legacy`, else EIP-8 (the 2-byte size prefix, authenticated by ECIES). No padding is added.
pub fn seal_auth(plaintext: &[u8], legacy: bool) -> Vec<u8> {
    let [_, recipient, sealing] = keys();
    let recipient = recipient.id().to_public_key().expect("a valid key");
    let iv = [0x5a; 16];
    if legacy {
        return ecies::encrypt_with(&recipient, plaintext, &[], sealing.secret(), iv);
    }
    let size = u16::try_from(plaintext.len() + ecies::OVERHEAD).unwrap_or(u16::MAX);
    let prefix = size.to_be_bytes();
    let mut packet = prefix.to_vec();
    packet.extend_from_slice(&ecies::encrypt_with(&recipient, plaintext, &prefix, sealing.secret(), iv));
    packet
}

/// Decodes a decrypted auth body, pre-EIP-8 (the fixed layout) if `legacy`, else EIP-8 RLP,
/// and returns the fields read as EIP-8 RLP (which decodes to the same fields again).
pub fn auth_body(plaintext: &[u8], legacy: bool) -> Result<Vec<u8>> {
    let auth =
        if legacy { handshake::decode_legacy_auth(plaintext)? } else { handshake::decode_auth(plaintext)? };
    Ok(handshake::encode_auth(&auth))
}

/// Decodes a decrypted ack body as [`auth_body`] does an auth body; returns the fields read as
/// EIP-8 RLP (`[ephemeral-key, nonce, version]`).
pub fn ack_body(plaintext: &[u8], legacy: bool) -> Result<Vec<u8>> {
    let ack =
        if legacy { handshake::decode_legacy_ack(plaintext)? } else { handshake::decode_ack(plaintext)? };
    let mut stream = rlp::RlpStream::new_list(3);
    stream.append(&ack.ephemeral.as_slice()).append(&ack.nonce.as_slice()).append(&ack.version);
    Ok(stream.out().to_vec())
}

/// The fixed session secrets of [`seal_frames`] and [`open_frames`]: both MAC states start
/// alike, so one side's egress is the other side's ingress.
fn frame_secrets() -> Secrets {
    let mac_state = Keccak256::new().chain_update(b"statesync fuzzing");
    Secrets {
        aes: [0x11; 32],
        mac: [0x22; 32],
        egress_mac: mac_state.clone(),
        ingress_mac: mac_state,
        remote: NodeId([0; 64]),
    }
}

/// Seals each of `frames` (frame data: message id and payload, each below 2^24 bytes) in turn
/// as a peer's writer would, in one session with fixed secrets.
pub fn seal_frames(frames: &[&[u8]]) -> Vec<u8> {
    let (_, mut egress) = frame::split(frame_secrets());
    let mut wire = Vec::new();
    for data in frames {
        egress.seal(data, &mut wire);
    }
    wire
}

/// Reads `wire` as the frames a peer sends in a session with [`seal_frames`]' secrets, as our
/// reader does: header MAC, the announced size against `max_frame_bytes` before the body,
/// body MAC, decryption. Returns the frames' data read, and how reading ended: `Ok` when
/// `wire` ends between frames, else the error (a truncated frame included).
pub fn open_frames(wire: &[u8], max_frame_bytes: usize) -> (Vec<Vec<u8>>, Result<()>) {
    let (mut ingress, _) = frame::split(frame_secrets());
    let mut frames = Vec::new();
    let mut rest = wire;
    while !rest.is_empty() {
        let Some((header, after)) = rest.split_first_chunk::<HEADER_BYTES>() else {
            let error = Error::Truncated { during: "frame", needed: HEADER_BYTES, got: rest.len() };
            return (frames, Err(error));
        };
        let size = match ingress.open_header(header) {
            Ok(size) if size > max_frame_bytes => {
                return (frames, Err(Error::FrameTooLarge { size, max: max_frame_bytes }))
            }
            Ok(size) => size,
            Err(error) => return (frames, Err(error)),
        };
        let body_len = frame::padded(size);
        if after.len() < body_len + MAC_BYTES {
            let error = Error::Truncated { during: "frame", needed: body_len + MAC_BYTES, got: after.len() };
            return (frames, Err(error));
        }
        let mut body = after[..body_len].to_vec();
        if let Err(error) = ingress.open_body(&mut body, &after[body_len..body_len + MAC_BYTES]) {
            return (frames, Err(error));
        }
        body.truncate(size);
        frames.push(body);
        rest = &after[body_len + MAC_BYTES..];
    }
    (frames, Ok(()))
}

/// Decodes a frame's data as our reader does: the canonical RLP message id, then the payload,
/// decompressed if `snappy` once its declared size passed `max_message_bytes`.
pub fn decode_message(frame_data: &[u8], snappy: bool, max_message_bytes: usize) -> Result<(u64, Vec<u8>)> {
    let (msg_id, payload) = stream::split_msg_id(frame_data)?;
    let payload = if snappy {
        let size = snap::raw::decompress_len(payload).map_err(|source| Error::Snappy { source })?;
        if size > max_message_bytes {
            return Err(Error::MessageTooLarge { size, max: max_message_bytes });
        }
        snap::raw::Decoder::new().decompress_vec(payload).map_err(|source| Error::Snappy { source })?
    } else {
        if payload.len() > max_message_bytes {
            return Err(Error::MessageTooLarge { size: payload.len(), max: max_message_bytes });
        }
        payload.to_vec()
    };
    Ok((msg_id, payload))
}

/// Decodes a Disconnect payload as a session does: `[reason]`, a bare `reason` or nothing;
/// `None` for no known reason.
pub fn decode_disconnect(payload: &[u8]) -> Option<DisconnectReason> {
    DisconnectReason::decode(payload)
}
