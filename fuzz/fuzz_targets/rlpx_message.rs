//! What an rlpx frame carries, as a session decodes it: the message id and payload (snappy
//! decompressed, with the declared size checked first), `Hello::decode` and the Disconnect
//! reason.
//!
//! The first byte picks the decoder and, for messages, the snappy flag and size limit.
//!
//! Properties: a decoded Hello re-encodes to a Hello that decodes to itself; a Disconnect
//! reason decodes again from `[code]` and from a bare code; a message re-encoded with the
//! reference encoders (the `rlp` crate's integer, the `snap` crate's compressor) decodes to
//! the same id and payload, and no payload exceeds the limit.

#![no_main]

use libfuzzer_sys::fuzz_target;
use rlpx::{fuzzing, Hello, MAX_MESSAGE_BYTES};

fuzz_target!(|data: &[u8]| {
    let Some((&selector, rest)) = data.split_first() else { return };
    match selector % 4 {
        0 => {
            if let Ok(hello) = Hello::decode(rest) {
                assert_eq!(Hello::decode(&hello.encode()).expect("re-encoded Hello decodes"), hello);
            }
        }
        1 => {
            if let Some(reason) = fuzzing::decode_disconnect(rest) {
                let code = rlp::encode(&reason.code()).to_vec();
                assert_eq!(fuzzing::decode_disconnect(&code), Some(reason));
                let mut list = vec![0xc0 + code.len() as u8];
                list.extend_from_slice(&code);
                assert_eq!(fuzzing::decode_disconnect(&list), Some(reason));
            }
        }
        _ => {
            let snappy = selector % 4 == 3;
            // Bit 2: a small limit, so that payloads over it are reachable.
            let max = if selector & 0x04 != 0 { usize::from(selector >> 3) * 8 } else { MAX_MESSAGE_BYTES };
            if let Ok((msg_id, payload)) = fuzzing::decode_message(rest, snappy, max) {
                assert!(payload.len() <= max);
                let mut frame = rlp::encode(&msg_id).to_vec();
                if snappy {
                    let compressed = snap::raw::Encoder::new().compress_vec(&payload).expect("compresses");
                    frame.extend_from_slice(&compressed);
                } else {
                    assert_eq!(frame, rest[..frame.len()], "the message id is canonical");
                    frame.extend_from_slice(&payload);
                }
                let again = fuzzing::decode_message(&frame, snappy, max).expect("re-encoded message decodes");
                assert_eq!(again, (msg_id, payload));
            }
        }
    }
});
