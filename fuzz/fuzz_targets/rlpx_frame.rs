//! rlpx's frame codec as our reader runs it: header MAC, the announced size against the limit
//! before the body, body MAC, decryption; over frames sealed with the same fixed secrets as a
//! peer's writer would, then tampered with, truncated or replaced by the raw input.
//!
//! Input: a control byte (mode and frame size limit), two bytes of position, then the frames'
//! data, each as a 2-byte big-endian length and that many bytes (cut short at the end).
//!
//! Properties: honest frames within the limit come back exactly; frames over the limit end
//! reading at that frame; any flipped byte ends reading with an error at the frame holding it,
//! after returning the frames before it intact; a cut stream returns its whole frames, and
//! fails (truncated) unless cut between frames.

#![no_main]

use libfuzzer_sys::fuzz_target;
use rlpx::{fuzzing, Error};

/// Bytes a frame adds to its data: header and header MAC, padding to 16, frame MAC.
fn wire_len(data_len: usize) -> usize {
    32 + data_len.div_ceil(16) * 16 + 16
}

fuzz_target!(|data: &[u8]| {
    let Some(([control, position @ ..], body)) = data.split_first_chunk::<3>() else { return };
    let position = u16::from_be_bytes(*position) as usize;
    // A small limit (0..=31 bytes) when bit 2 is set, so that oversized frames are reachable.
    let max_frame_bytes = if control & 0x04 != 0 { usize::from(control >> 3) } else { rlpx::MAX_FRAME_BYTES };
    let mut frames: Vec<&[u8]> = Vec::new();
    let mut rest = body;
    while let Some((len, after)) = rest.split_first_chunk::<2>() {
        let len = (u16::from_be_bytes(*len) as usize).min(after.len());
        frames.push(&after[..len]);
        rest = &after[len..];
    }
    // Where each frame ends on the wire, and how many fit the limit.
    let ends: Vec<usize> = frames
        .iter()
        .scan(0, |end, frame| {
            *end += wire_len(frame.len());
            Some(*end)
        })
        .collect();
    let within = frames.iter().take_while(|frame| frame.len() <= max_frame_bytes).count();
    let wire = fuzzing::seal_frames(&frames);

    match control % 4 {
        0 => {
            let (opened, result) = fuzzing::open_frames(&wire, max_frame_bytes);
            assert_eq!(opened, frames[..within]);
            if within == frames.len() {
                result.expect("honest frames open");
            } else {
                assert!(matches!(result, Err(Error::FrameTooLarge { .. })), "{result:?}");
            }
        }
        1 if !wire.is_empty() => {
            let at = position % wire.len();
            let mut tampered = wire.clone();
            tampered[at] ^= control | 1;
            let (opened, result) = fuzzing::open_frames(&tampered, max_frame_bytes);
            let hit = ends.iter().take_while(|&&end| end <= at).count();
            assert_eq!(opened, frames[..within.min(hit)]);
            assert!(result.is_err(), "a flipped byte at {at} went unnoticed");
        }
        2 => {
            let cut = position.min(wire.len());
            let (opened, result) = fuzzing::open_frames(&wire[..cut], max_frame_bytes);
            let whole = ends.iter().take_while(|&&end| end <= cut).count();
            assert_eq!(opened, frames[..within.min(whole)]);
            if whole < within && !ends.contains(&cut) && cut != 0 {
                assert!(matches!(result, Err(Error::Truncated { .. })), "{result:?}");
            }
        }
        _ => {
            // The bytes as they are: a stream no writer sealed.
            let (opened, result) = fuzzing::open_frames(body, max_frame_bytes);
            assert!(opened.len() <= body.len() / 48);
            if let Err(error) = result {
                assert!(error.is_peer_fault() || matches!(error, Error::Truncated { .. }), "{error:?}");
            }
        }
    }
});
