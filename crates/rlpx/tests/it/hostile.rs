//! Hostile input after the handshake: each case ends in a typed error on the victim and a
//! closed connection, never a panic, a hang or an unbounded buffer.

use std::sync::{Arc, Mutex};

use rlpx::{Error, NodeKey, P2pConfig, RlpxStream, Session, MAX_MESSAGE_BYTES};
use tokio::net::TcpStream;

use crate::util::{eth_snap, tcp_pair, Plan, Tamper};

/// A session pair where the dialer's outgoing bytes go through a [`Tamper`]:
/// (dialer, listener, the dialer's plan).
async fn tampered_pair(dialer: &P2pConfig, listener: &P2pConfig) -> (Session, Session, Arc<Mutex<Plan>>) {
    let (dialer_io, listener_io) = tcp_pair().await;
    let (tampered, plan): (Tamper<TcpStream>, _) = Tamper::new(dialer_io);
    let (alice, bob) = (NodeKey::generate(), NodeKey::generate());
    let bob_id = bob.id();
    let (a, b) = tokio::join!(
        Session::connect(tampered, &alice, bob_id, dialer),
        Session::accept(listener_io, &bob, listener)
    );
    (a.unwrap(), b.unwrap(), plan)
}

/// The dialer sends one message under `plan`; returns the listener's error, after checking
/// that the listener then closed the connection (the dialer reads an end, not a hang).
async fn victim_error(plan: Plan, payload: &[u8], listener: &P2pConfig) -> Error {
    let (mut a, mut b, tamper) = tampered_pair(&eth_snap(), listener).await;
    *tamper.lock().unwrap() = plan;
    let _ = a.send(0, 1, payload).await;
    let err = b.recv().await.unwrap_err();
    assert!(matches!(b.recv().await, Err(Error::SessionClosed)), "the victim stays closed");
    let closed = a.recv().await.unwrap_err();
    assert!(matches!(closed, Error::Closed | Error::Io { .. }), "dialer sees the close: {closed:?}");
    err
}

#[tokio::test]
async fn bad_header_mac_is_refused() {
    let err = victim_error(Plan::FlipAt(3), b"hello", &eth_snap()).await;
    assert!(matches!(err, Error::BadHeaderMac), "{err:?}");
    assert!(err.is_peer_fault());
}

#[tokio::test]
async fn bad_header_mac_tag_is_refused() {
    // The MAC bytes themselves (offset 16..32) rather than the header ciphertext.
    let err = victim_error(Plan::FlipAt(20), b"hello", &eth_snap()).await;
    assert!(matches!(err, Error::BadHeaderMac), "{err:?}");
}

#[tokio::test]
async fn bad_frame_mac_is_refused() {
    let err = victim_error(Plan::FlipAt(32), b"hello", &eth_snap()).await;
    assert!(matches!(err, Error::BadFrameMac), "{err:?}");
    assert!(err.is_peer_fault());
}

#[tokio::test]
async fn truncated_frame_is_a_clear_error() {
    // Header and 8 bytes of the body, then the connection ends.
    let err = victim_error(Plan::CutAfter(40), &[7u8; 100], &eth_snap()).await;
    assert!(matches!(err, Error::Truncated { during: "frame", got: 8, .. }), "{err:?}");
}

#[tokio::test]
async fn truncated_header_is_a_clear_error() {
    let err = victim_error(Plan::CutAfter(10), b"hello", &eth_snap()).await;
    assert!(matches!(err, Error::Truncated { during: "frame", needed: 32, got: 10 }), "{err:?}");
}

#[tokio::test]
async fn oversized_frame_is_refused_on_its_header_alone() {
    let small = P2pConfig { max_message_bytes: 1024, ..eth_snap() };
    // 64 KiB of incompressible bytes; only the 32-byte header is ever delivered, so an
    // error other than FrameTooLarge (e.g. Truncated) would mean the reader waited for the body.
    let noise: Vec<u8> = (0..65536u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8).collect();
    let err = victim_error(Plan::CutAfter(32), &noise, &small).await;
    let max = snap::raw::max_compress_len(1024) + 9;
    assert!(matches!(err, Error::FrameTooLarge { size, max: m } if size > m && m == max), "{err:?}");
    assert!(err.is_peer_fault());
}

#[tokio::test]
async fn message_over_the_decompressed_limit_is_refused() {
    // 4096 zeros compress to a tiny frame that passes the frame limit; the declared
    // decompressed length is what gets it refused.
    let small = P2pConfig { max_message_bytes: 1024, ..eth_snap() };
    let err = victim_error(Plan::Pass, &[0u8; 4096], &small).await;
    assert!(matches!(err, Error::MessageTooLarge { size: 4096, max: 1024 }), "{err:?}");
}

/// A raw stream pair over an in-memory pipe.
async fn raw_pair() -> (RlpxStream, RlpxStream) {
    let (x, y) = tokio::io::duplex(1 << 20);
    let (alice, bob) = (NodeKey::generate(), NodeKey::generate());
    let bob_id = bob.id();
    let (a, b) = tokio::join!(RlpxStream::connect(x, &alice, bob_id), RlpxStream::accept(y, &bob));
    (a.unwrap(), b.unwrap())
}

/// A snappy block header claiming `len` decompressed bytes (a varint), then junk.
fn snappy_claiming(len: usize) -> Vec<u8> {
    let mut out = Vec::new();
    let mut n = len;
    while n >= 0x80 {
        out.push((n as u8) | 0x80);
        n >>= 7;
    }
    out.push(n as u8);
    out.extend_from_slice(&[0u8; 16]);
    out
}

#[tokio::test]
async fn snappy_bomb_is_refused_before_decompressing() {
    let (mut a, mut b) = raw_pair().await;
    b.set_snappy(true); // a sends the bytes as they are
    let claimed = 32 << 20;
    assert_eq!(snap::raw::decompress_len(&snappy_claiming(claimed)).unwrap(), claimed);
    a.send(0x10, &snappy_claiming(claimed)).await.unwrap();
    let err = b.recv().await.unwrap_err();
    assert!(
        matches!(err, Error::MessageTooLarge { size, max: MAX_MESSAGE_BYTES } if size == claimed),
        "{err:?}"
    );
}

#[tokio::test]
async fn invalid_snappy_is_refused() {
    let (mut a, mut b) = raw_pair().await;
    b.set_snappy(true);
    a.send(0x10, &snappy_claiming(100)).await.unwrap();
    let err = b.recv().await.unwrap_err();
    assert!(matches!(err, Error::Snappy { .. }), "{err:?}");
    assert!(err.is_peer_fault());
}

#[tokio::test]
async fn send_over_the_limit_is_refused_locally() {
    let (mut a, _b) = raw_pair().await;
    a.writer_mut().set_max_message_bytes(10);
    let err = a.send(0x10, &[0u8; 11]).await.unwrap_err();
    assert!(matches!(err, Error::MessageTooLarge { size: 11, max: 10 }), "{err:?}");
}
