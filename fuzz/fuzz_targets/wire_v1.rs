//! peers' wire v1 decoders: `decode_frame_header` (the 4-byte length prefix) and
//! `Message::decode` (a frame's payload).
//!
//! Properties: the header's length is the prefix's value, non-zero and within
//! `MAX_FRAME_BYTES`; decoding is strict, so a decoded message re-encodes to exactly the
//! payload, and `encode_frame` gives back prefix and payload.

#![no_main]

use libfuzzer_sys::fuzz_target;
use peers::{decode_frame_header, encode_frame, Message, FRAME_HEADER_BYTES, MAX_FRAME_BYTES};

fuzz_target!(|data: &[u8]| {
    if let Some((header, payload)) = data.split_first_chunk::<FRAME_HEADER_BYTES>() {
        if let Ok(len) = decode_frame_header(*header) {
            assert_eq!(len, u32::from_be_bytes(*header) as usize);
            assert!((1..=MAX_FRAME_BYTES).contains(&len));
        }
        // A whole frame, as a reader sees one: the payload after its own prefix.
        if let Ok(message) = Message::decode(payload) {
            let frame = encode_frame(&message).expect("a decoded message fits a frame");
            assert_eq!(&frame[..FRAME_HEADER_BYTES], (payload.len() as u32).to_be_bytes());
            assert_eq!(&frame[FRAME_HEADER_BYTES..], payload);
        }
    }
    if let Ok(message) = Message::decode(data) {
        assert_eq!(message.encode(), data, "a message re-encodes to its payload: {message:?}");
    }
});
