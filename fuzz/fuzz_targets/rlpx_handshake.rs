//! rlpx's handshake decoders: auth and ack packets as read from a dialing or dialed peer (the
//! legacy/EIP-8 size decision and bound, ECIES, the body, the signature), and the bodies alone.
//!
//! The first byte picks what the rest is (see `Mode`). ECIES authenticates a packet, so a
//! fuzzer mutating whole packets stops at the MAC: the `Seal*` modes seal the rest as the
//! plaintext of an auth first, reaching everything after ECIES.
//!
//! Properties: a decoded body re-encodes (as EIP-8) to RLP that decodes to the same fields, the
//! legacy layout included; reading a packet fails only as a peer fault or a truncation; a
//! sealed auth that is read had a decodable body.

#![no_main]

use libfuzzer_sys::fuzz_target;
use rlpx::{fuzzing, Error};

/// What the bytes after the first are.
#[derive(Debug)]
enum Mode {
    /// A decrypted auth body (EIP-8 RLP, or the legacy layout).
    AuthBody { legacy: bool },
    /// A decrypted ack body.
    AckBody { legacy: bool },
    /// A whole auth packet, read as the recipient.
    AuthPacket,
    /// A whole ack packet, read as the initiator.
    AckPacket,
    /// An auth body, sealed (legacy or EIP-8) and then read as the recipient.
    SealedAuth { legacy: bool },
}

fn mode(selector: u8) -> Mode {
    match selector % 8 {
        0 => Mode::AuthBody { legacy: false },
        1 => Mode::AuthBody { legacy: true },
        2 => Mode::AckBody { legacy: false },
        3 => Mode::AckBody { legacy: true },
        4 => Mode::AuthPacket,
        5 => Mode::AckPacket,
        6 => Mode::SealedAuth { legacy: false },
        _ => Mode::SealedAuth { legacy: true },
    }
}

/// What reading a packet from a slice may fail with: the remote's fault, or too few bytes.
fn check_read_error(error: &Error) {
    assert!(error.is_peer_fault() || matches!(error, Error::Truncated { .. }), "{error:?}");
}

fuzz_target!(|data: &[u8]| {
    let Some((&selector, rest)) = data.split_first() else { return };
    match mode(selector) {
        Mode::AuthBody { legacy } => {
            if let Ok(encoded) = fuzzing::auth_body(rest, legacy) {
                assert_eq!(fuzzing::auth_body(&encoded, false).expect("re-encoded auth decodes"), encoded);
            }
        }
        Mode::AckBody { legacy } => {
            if let Ok(encoded) = fuzzing::ack_body(rest, legacy) {
                assert_eq!(fuzzing::ack_body(&encoded, false).expect("re-encoded ack decodes"), encoded);
            }
        }
        Mode::AuthPacket => {
            if let Err(error) = fuzzing::read_auth(rest) {
                check_read_error(&error);
            }
        }
        Mode::AckPacket => {
            if let Err(error) = fuzzing::read_ack(rest) {
                check_read_error(&error);
            }
        }
        Mode::SealedAuth { legacy } => match fuzzing::read_auth(&fuzzing::seal_auth(rest, legacy)) {
            Ok(_) => assert!(fuzzing::auth_body(rest, legacy).is_ok(), "read an auth whose body fails"),
            Err(error) => check_read_error(&error),
        },
    }
});
