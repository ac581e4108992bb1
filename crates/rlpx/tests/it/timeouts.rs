//! Time: handshake timeout, Pings, silent peers. On tokio's paused clock over in-memory
//! pipes, so the tests are instant and deterministic.

use std::time::Duration;

use rlpx::{Error, NodeKey, P2pConfig, RlpxStream, Session};
use tokio::time::Instant;

use crate::util::{eth_snap, raw_accept};

fn timed() -> P2pConfig {
    P2pConfig {
        ping_interval: Duration::from_secs(15),
        ping_timeout: Duration::from_secs(20),
        handshake_timeout: Duration::from_secs(5),
        ..eth_snap()
    }
}

#[tokio::test(start_paused = true)]
async fn dialer_times_out_when_the_listener_never_answers() {
    let (dialer_io, _silent) = tokio::io::duplex(1 << 16);
    let start = Instant::now();
    let err = Session::connect(dialer_io, &NodeKey::generate(), NodeKey::generate().id(), &timed())
        .await
        .err()
        .unwrap();
    assert!(
        matches!(err, Error::HandshakeTimeout { timeout } if timeout == Duration::from_secs(5)),
        "{err:?}"
    );
    assert!(err.is_timeout());
    assert_eq!(start.elapsed(), Duration::from_secs(5));
}

#[tokio::test(start_paused = true)]
async fn listener_times_out_when_the_dialer_never_speaks() {
    let (_silent, listener_io) = tokio::io::duplex(1 << 16);
    let err = Session::accept(listener_io, &NodeKey::generate(), &timed()).await.err().unwrap();
    assert!(matches!(err, Error::HandshakeTimeout { .. }), "{err:?}");
}

#[tokio::test(start_paused = true)]
async fn listener_times_out_when_no_hello_follows_the_handshake() {
    let (dialer_io, listener_io) = tokio::io::duplex(1 << 16);
    let (alice, bob) = (NodeKey::generate(), NodeKey::generate());
    let bob_id = bob.id();
    let dialer = tokio::spawn(async move {
        // Handshake, then silence (but keep the pipe open).
        let stream = RlpxStream::connect(dialer_io, &alice, bob_id).await.unwrap();
        tokio::time::sleep(Duration::from_secs(3600)).await;
        drop(stream);
    });
    let err = Session::accept(listener_io, &bob, &timed()).await.err().unwrap();
    assert!(matches!(err, Error::HandshakeTimeout { .. }), "{err:?}");
    dialer.abort();
}

#[tokio::test(start_paused = true)]
async fn silent_peer_fails_with_ping_timeout() {
    let (dialer_io, listener_io) = tokio::io::duplex(1 << 16);
    let (alice, bob) = (NodeKey::generate(), NodeKey::generate());
    let bob_id = bob.id();
    let cfg = timed();
    let (a, b) = tokio::join!(
        Session::connect(dialer_io, &alice, bob_id, &cfg),
        Session::accept(listener_io, &bob, &cfg)
    );
    let (mut a, _b_never_driven) = (a.unwrap(), b.unwrap());
    let start = Instant::now();
    let err = a.recv().await.unwrap_err();
    assert!(matches!(err, Error::PingTimeout { timeout } if timeout == Duration::from_secs(20)), "{err:?}");
    assert!(err.is_peer_fault() && err.is_timeout());
    assert_eq!(start.elapsed(), Duration::from_secs(15 + 20), "one ping interval, then the pong timeout");
}

#[tokio::test(start_paused = true)]
async fn session_pings_on_its_interval_and_pongs_keep_it_alive() {
    let (dialer_io, listener_io) = tokio::io::duplex(1 << 16);
    let (alice, bob) = (NodeKey::generate(), NodeKey::generate());
    let bob_id = bob.id();
    let cfg = timed();
    let (session, raw) =
        tokio::join!(Session::connect(dialer_io, &alice, bob_id, &cfg), raw_accept(listener_io, &bob));
    let (mut session, mut raw) = (session.unwrap(), raw);
    let start = Instant::now();
    let driver = tokio::spawn(async move { session.recv().await });
    // Ten pings, each answered: the session must stay up well past interval + timeout.
    for n in 1..=10u32 {
        assert_eq!(raw.recv().await.unwrap(), (0x02, vec![0xc0]), "ping {n}");
        assert_eq!(start.elapsed(), Duration::from_secs(15) * n, "pings come every interval");
        raw.send(0x03, &[0xc0]).await.unwrap();
    }
    raw.send(0x10, b"still here").await.unwrap();
    let got = driver.await.unwrap().unwrap();
    assert_eq!(got.payload, b"still here");
}

#[tokio::test(start_paused = true)]
async fn unanswered_ping_closes_the_connection() {
    let (dialer_io, listener_io) = tokio::io::duplex(1 << 16);
    let (alice, bob) = (NodeKey::generate(), NodeKey::generate());
    let bob_id = bob.id();
    let cfg = timed();
    let (session, raw) =
        tokio::join!(Session::connect(dialer_io, &alice, bob_id, &cfg), raw_accept(listener_io, &bob));
    let (mut session, raw) = (session.unwrap(), raw);
    let driver = tokio::spawn(async move { session.recv().await });
    let (mut reader, _writer) = raw.into_split();
    assert_eq!(reader.recv().await.unwrap().0, 0x02, "a ping arrives");
    let err = driver.await.unwrap().unwrap_err();
    assert!(matches!(err, Error::PingTimeout { .. }), "{err:?}");
    // The session dropped both halves: the raw peer reads the end of the stream.
    let end = reader.recv().await.unwrap_err();
    assert!(matches!(end, Error::Closed), "{end:?}");
}
