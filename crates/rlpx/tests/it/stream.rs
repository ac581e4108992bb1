//! The raw RLPx transport: handshake and messages over loopback TCP, handshake failures.

use rlpx::{Error, NodeKey, RlpxStream, MAX_HANDSHAKE_BYTES};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::util::tcp_pair;

#[tokio::test]
async fn handshake_and_messages_both_ways_over_tcp() {
    let (dialer_io, listener_io) = tcp_pair().await;
    let (alice, bob) = (NodeKey::generate(), NodeKey::generate());
    let (alice_id, bob_id) = (alice.id(), bob.id());
    let (dialed, accepted) =
        tokio::join!(RlpxStream::connect(dialer_io, &alice, bob_id), RlpxStream::accept(listener_io, &bob));
    let (mut a, mut b) = (dialed.unwrap(), accepted.unwrap());
    assert_eq!(a.remote_id(), bob_id);
    assert_eq!(b.remote_id(), alice_id, "the recipient learns the initiator's key");

    for snappy in [false, true] {
        a.set_snappy(snappy);
        b.set_snappy(snappy);
        let big: Vec<u8> = (0..300_000u32).flat_map(|i| (i % 251).to_le_bytes()).collect();
        for (id, payload) in [(0x10u64, &b"ping from a"[..]), (0x1234, &b""[..]), (0x7f, &big[..])] {
            let (sent, received) = tokio::join!(a.send(id, payload), b.recv());
            sent.unwrap();
            assert_eq!(received.unwrap(), (id, payload.to_vec()), "a -> b, snappy {snappy}");
            let (sent, received) = tokio::join!(b.send(id + 1, payload), a.recv());
            sent.unwrap();
            assert_eq!(received.unwrap(), (id + 1, payload.to_vec()), "b -> a, snappy {snappy}");
        }
    }
}

#[tokio::test]
async fn dialing_the_wrong_key_fails_the_recipient_with_an_ecies_mac_error() {
    let (dialer_io, listener_io) = tcp_pair().await;
    let (alice, bob, carol) = (NodeKey::generate(), NodeKey::generate(), NodeKey::generate());
    // Alice thinks she dials Carol, but Bob answers: he cannot open an auth sealed to Carol.
    let (dialed, accepted) = tokio::join!(
        RlpxStream::connect(dialer_io, &alice, carol.id()),
        RlpxStream::accept(listener_io, &bob)
    );
    assert!(matches!(accepted, Err(Error::EciesMac)), "{:?}", accepted.err());
    // Bob dropped the socket: Alice sees the connection end, not a hang.
    let err = dialed.err().unwrap();
    assert!(matches!(err, Error::Truncated { during: "ack", .. } | Error::Io { .. }), "{err:?}");
    assert!(!err.is_peer_fault());
}

#[tokio::test]
async fn garbage_auth_is_refused_and_the_socket_closed() {
    let (mut raw, listener_io) = tcp_pair().await;
    let bob = NodeKey::generate();
    let accept = tokio::spawn(async move { RlpxStream::accept(listener_io, &bob).await.map(|_| ()) });
    // A plausible EIP-8 size prefix (384 bytes) followed by junk.
    let mut garbage = vec![0x01, 0x80];
    garbage.extend((0..384u32).map(|i| (i * 7 + 3) as u8));
    raw.write_all(&garbage).await.unwrap();
    let err = accept.await.unwrap().unwrap_err();
    assert!(
        matches!(err, Error::MalformedEcies { .. } | Error::EciesMac | Error::InvalidPublicKey { .. }),
        "{err:?}"
    );
    assert!(err.is_peer_fault());
    let mut buf = [0u8; 1];
    assert_eq!(raw.read(&mut buf).await.unwrap_or(0), 0, "the recipient closed the socket");
}

#[tokio::test]
async fn oversized_auth_is_refused_before_reading_it() {
    let (mut raw, listener_io) = tcp_pair().await;
    let bob = NodeKey::generate();
    let accept = tokio::spawn(async move { RlpxStream::accept(listener_io, &bob).await.map(|_| ()) });
    // Announce 60000 bytes but send only the legacy-size probe: the recipient must refuse
    // on the prefix alone rather than wait for (or allocate) the rest.
    let mut packet = vec![0xea, 0x60];
    packet.resize(307, 0x55);
    raw.write_all(&packet).await.unwrap();
    let err = accept.await.unwrap().unwrap_err();
    assert!(matches!(err, Error::HandshakeTooLarge { size: 60000, max: MAX_HANDSHAKE_BYTES }), "{err:?}");
}

#[tokio::test]
async fn auth_cut_short_is_a_truncation() {
    let (mut raw, listener_io) = tcp_pair().await;
    let bob = NodeKey::generate();
    let accept = tokio::spawn(async move { RlpxStream::accept(listener_io, &bob).await.map(|_| ()) });
    raw.write_all(&[0x01, 0x80, 1, 2, 3]).await.unwrap();
    raw.shutdown().await.unwrap();
    let err = accept.await.unwrap().unwrap_err();
    assert!(matches!(err, Error::Truncated { during: "auth", got: 5, .. }), "{err:?}");
}
