//! Sessions: Hello, capability negotiation, messages, Ping/Pong, Disconnect, identity.

use rlpx::{Capability, DisconnectReason, Error, Incoming, NodeKey, RlpxStream, Session, SharedCapability};

use crate::util::{config, eth_snap, hello, raw_accept, raw_hello, tcp_pair};

/// A connected pair over loopback TCP: (dialer's session, listener's session).
async fn pair(dialer: &rlpx::P2pConfig, listener: &rlpx::P2pConfig) -> (Session, Session) {
    let (dialer_io, listener_io) = tcp_pair().await;
    let (alice, bob) = (NodeKey::generate(), NodeKey::generate());
    let bob_id = bob.id();
    let (a, b) = tokio::join!(
        Session::connect(dialer_io, &alice, bob_id, dialer),
        Session::accept(listener_io, &bob, listener)
    );
    (a.unwrap(), b.unwrap())
}

#[tokio::test]
async fn negotiates_capabilities_and_exchanges_messages_over_tcp() {
    let dialer = config(vec![
        Capability::new("eth", 66, 17),
        Capability::new("eth", 68, 17),
        Capability::new("snap", 1, 8),
    ]);
    let listener = config(vec![
        Capability::new("les", 4, 20),
        Capability::new("snap", 1, 8),
        Capability::new("eth", 67, 17),
        Capability::new("eth", 68, 17),
    ]);
    let (mut a, mut b) = pair(&dialer, &listener).await;

    let want = vec![
        SharedCapability { name: "eth".into(), version: 68, offset: 0x10, messages: 17 },
        SharedCapability { name: "snap".into(), version: 1, offset: 0x21, messages: 8 },
    ];
    assert_eq!(a.shared_capabilities(), want);
    assert_eq!(b.shared_capabilities(), want, "both sides compute the same offsets");
    assert_eq!(a.remote_hello().client_id, "statesync-test/v0");
    assert_eq!(a.remote_hello().listen_port, 30303);
    assert_eq!(a.remote_hello().id, a.remote_id());
    assert_eq!(b.remote_hello().id, b.remote_id());

    // Both directions, both capabilities, a large compressible payload too.
    let big = vec![0xabu8; 2 << 20];
    let cases: [(usize, u64, &[u8]); 4] =
        [(0, 0, b"status"), (0, 16, b"last eth id"), (1, 7, b"snap"), (1, 0, &big)];
    for (cap, id, payload) in cases {
        let (sent, got) = tokio::join!(a.send(cap, id, payload), b.recv());
        sent.unwrap();
        assert_eq!(got.unwrap(), Incoming { capability: cap, msg_id: id, payload: payload.to_vec() });
        let (sent, got) = tokio::join!(b.send(cap, id, payload), a.recv());
        sent.unwrap();
        assert_eq!(got.unwrap(), Incoming { capability: cap, msg_id: id, payload: payload.to_vec() });
    }

    // Local mistakes are refused without touching the connection.
    assert!(matches!(a.send(2, 0, b"").await, Err(Error::UnknownCapability { index: 2 })));
    assert!(matches!(
        a.send(1, 8, b"").await,
        Err(Error::MessageIdOutOfRange { msg_id: 8, messages: 8, .. })
    ));
    let (sent, got) = tokio::join!(a.send(0, 1, b"still fine"), b.recv());
    sent.unwrap();
    assert_eq!(got.unwrap().payload, b"still fine");
}

#[tokio::test]
async fn split_halves_work_from_different_tasks() {
    let (a, b) = pair(&eth_snap(), &eth_snap()).await;
    let (mut a_reader, a_writer, _) = a.into_split();
    let (mut b_reader, b_writer, _) = b.into_split();
    let eth = a_writer.capability_index("eth").unwrap();
    let senders: Vec<_> = (0..4u8)
        .map(|i| {
            let w = a_writer.clone();
            tokio::spawn(async move {
                for j in 0..25u8 {
                    w.send(eth, 3, &[i, j]).await.unwrap();
                }
            })
        })
        .collect();
    let mut seen = Vec::new();
    for _ in 0..100 {
        let msg = b_reader.recv().await.unwrap();
        assert_eq!((msg.capability, msg.msg_id), (0, 3));
        seen.push((msg.payload[0], msg.payload[1]));
        b_writer.send(1, 2, &msg.payload).await.unwrap();
    }
    for s in senders {
        s.await.unwrap();
    }
    seen.sort();
    assert_eq!(seen, (0..4u8).flat_map(|i| (0..25u8).map(move |j| (i, j))).collect::<Vec<_>>());
    for _ in 0..100 {
        assert_eq!(a_reader.recv().await.unwrap().capability, 1);
    }
}

#[tokio::test]
async fn disconnect_reaches_the_remote_with_its_reason_and_closes() {
    let (a, mut b) = pair(&eth_snap(), &eth_snap()).await;
    a.disconnect(DisconnectReason::TooManyPeers).await.unwrap();
    let err = b.recv().await.unwrap_err();
    assert!(matches!(err, Error::Disconnected { reason: Some(DisconnectReason::TooManyPeers) }), "{err:?}");
    assert!(!err.is_peer_fault());
    assert!(matches!(b.recv().await, Err(Error::SessionClosed)));
    assert!(matches!(b.send(0, 0, b"x").await, Err(Error::SessionClosed)));
}

#[tokio::test]
async fn ping_is_answered_with_pong() {
    let (dialer_io, listener_io) = tcp_pair().await;
    let (alice, bob) = (NodeKey::generate(), NodeKey::generate());
    let bob_id = bob.id();
    let cfg = eth_snap();
    let (session, raw) =
        tokio::join!(Session::connect(dialer_io, &alice, bob_id, &cfg), raw_accept(listener_io, &bob));
    let (mut session, mut raw) = (session.unwrap(), raw);
    let driver = tokio::spawn(async move { session.recv().await });
    raw.send(0x02, &[0xc0]).await.unwrap();
    assert_eq!(raw.recv().await.unwrap(), (0x03, vec![0xc0]), "Pong with an empty list");
    // Then a capability message still gets through to the driven session.
    raw.send(0x10 + 5, b"after ping").await.unwrap();
    let got = driver.await.unwrap().unwrap();
    assert_eq!((got.capability, got.msg_id, got.payload), (0, 5, b"after ping".to_vec()));
}

#[tokio::test]
async fn message_outside_every_capability_is_a_protocol_error() {
    let (dialer_io, listener_io) = tcp_pair().await;
    let (alice, bob) = (NodeKey::generate(), NodeKey::generate());
    let bob_id = bob.id();
    let cfg = eth_snap();
    let (session, raw) =
        tokio::join!(Session::connect(dialer_io, &alice, bob_id, &cfg), raw_accept(listener_io, &bob));
    let (mut session, mut raw) = (session.unwrap(), raw);
    raw.send(0x0e, b"").await.unwrap(); // reserved base id: ignored
    raw.send(0x29, b"beyond snap").await.unwrap();
    let err = session.recv().await.unwrap_err();
    assert!(matches!(err, Error::UnknownMessageId { id: 0x29 }), "{err:?}");
    assert!(err.is_peer_fault());
}

#[tokio::test]
async fn hello_with_another_id_than_dialed_is_refused_by_the_dialer() {
    let (dialer_io, listener_io) = tcp_pair().await;
    let (alice, bob) = (NodeKey::generate(), NodeKey::generate());
    let (bob_id, impostor) = (bob.id(), NodeKey::generate().id());
    let cfg = eth_snap();
    let listener = tokio::spawn(async move {
        let mut stream = RlpxStream::accept(listener_io, &bob).await.unwrap();
        raw_hello(&mut stream, &hello(impostor, &[("eth", 68)])).await;
        // The dialer tells us why before closing.
        stream.recv().await
    });
    let err = Session::connect(dialer_io, &alice, bob_id, &cfg).await.err().unwrap();
    assert!(
        matches!(&err, Error::UnexpectedIdentity { expected, got } if **expected == bob_id && **got == impostor),
        "{err:?}"
    );
    assert!(err.is_peer_fault());
    let (id, payload) = listener.await.unwrap().unwrap();
    assert_eq!(id, 0x01);
    assert_eq!(payload, DisconnectReasonPayload::of(DisconnectReason::UnexpectedIdentity));
}

#[tokio::test]
async fn hello_with_another_id_than_the_handshake_is_refused_by_the_listener() {
    let (dialer_io, listener_io) = tcp_pair().await;
    let (alice, bob) = (NodeKey::generate(), NodeKey::generate());
    let (bob_id, alice_id, impostor) = (bob.id(), alice.id(), NodeKey::generate().id());
    let cfg = eth_snap();
    let dialer = tokio::spawn(async move {
        let mut stream = RlpxStream::connect(dialer_io, &alice, bob_id).await.unwrap();
        raw_hello(&mut stream, &hello(impostor, &[("eth", 68)])).await;
    });
    let err = Session::accept(listener_io, &bob, &cfg).await.err().unwrap();
    assert!(
        matches!(&err, Error::UnexpectedIdentity { expected, got } if **expected == alice_id && **got == impostor),
        "{err:?}"
    );
    dialer.await.unwrap();
}

#[tokio::test]
async fn no_shared_capability_is_refused() {
    let (dialer_io, listener_io) = tcp_pair().await;
    let (alice, bob) = (NodeKey::generate(), NodeKey::generate());
    let bob_id = bob.id();
    let (a_cfg, b_cfg) =
        (config(vec![Capability::new("eth", 68, 17)]), config(vec![Capability::new("eth", 69, 18)]));
    let (a, b) = tokio::join!(
        Session::connect(dialer_io, &alice, bob_id, &a_cfg),
        Session::accept(listener_io, &bob, &b_cfg)
    );
    // Each side learns what the other offers, to say why it cannot be used.
    match a.err().unwrap() {
        Error::NoSharedCapability { hello } => {
            assert_eq!((hello.capabilities[0].name.as_str(), hello.capabilities[0].version), ("eth", 69));
        }
        other => panic!("{other:?}"),
    }
    let b = b.err().unwrap();
    assert!(
        matches!(&b, Error::NoSharedCapability { hello } if hello.capabilities[0].version == 68),
        "{b:?}"
    );
    assert!(b.to_string().contains("eth/68"), "{b}");
}

#[tokio::test]
async fn first_message_must_be_hello() {
    let (dialer_io, listener_io) = tcp_pair().await;
    let (alice, bob) = (NodeKey::generate(), NodeKey::generate());
    let bob_id = bob.id();
    let cfg = eth_snap();
    let listener = tokio::spawn(async move {
        let mut stream = RlpxStream::accept(listener_io, &bob).await.unwrap();
        stream.send(0x10, b"too early").await.unwrap();
        let _ = stream.recv().await;
    });
    let err = Session::connect(dialer_io, &alice, bob_id, &cfg).await.err().unwrap();
    assert!(matches!(err, Error::UnexpectedMessage { expected: "Hello", got: 0x10 }), "{err:?}");
    listener.await.unwrap();
}

#[tokio::test]
async fn disconnect_instead_of_hello_is_reported() {
    let (dialer_io, listener_io) = tcp_pair().await;
    let (alice, bob) = (NodeKey::generate(), NodeKey::generate());
    let bob_id = bob.id();
    let cfg = eth_snap();
    let listener = tokio::spawn(async move {
        let mut stream = RlpxStream::accept(listener_io, &bob).await.unwrap();
        stream.send(0x01, &[0xc1, 0x04]).await.unwrap();
        let _ = stream.recv().await;
    });
    let err = Session::connect(dialer_io, &alice, bob_id, &cfg).await.err().unwrap();
    assert!(matches!(err, Error::Disconnected { reason: Some(DisconnectReason::TooManyPeers) }), "{err:?}");
    listener.await.unwrap();
}

/// The Disconnect payload go-ethereum sends: `rlp([reason])`.
struct DisconnectReasonPayload;

impl DisconnectReasonPayload {
    fn of(reason: DisconnectReason) -> Vec<u8> {
        vec![0xc1, reason.code()]
    }
}
