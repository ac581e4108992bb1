//! A sync slow to take answers: while the shared events channel is full, the peer's reader keeps the
//! session alive (Pings answered, requests answered) instead of waiting on the channel.

use std::sync::Arc;
use std::time::Duration;

use eth_peer::{EthConfig, EthPeer};
use eth_wire::{BlockOrigin, Chain, EthVersion, GetBlockHeaders, Message, MessageId, NodeData, RequestId};
use peers::{peer_events, Peer, PeerEvent, PeerEventReceiver, PeerRequest, PeerResponse};
use rlpx::{Capability, Enode, NodeKey, P2pConfig, Session};
use tokio::sync::mpsc;

/// How often the remote Pings us, and how long it waits for the Pong before it gives up on us (as
/// go-ethereum does, on a much longer clock).
const PING_INTERVAL: Duration = Duration::from_millis(100);
const PING_TIMEOUT: Duration = Duration::from_secs(1);

/// What the test tells the remote to do.
enum Step {
    /// Answer the next GetNodeData with one blob.
    AnswerNodeData,
    /// Receive for this long, expecting nothing (Pings and Pongs are handled underneath): an error,
    /// such as a Pong not arriving in time, fails.
    Idle(Duration),
    /// Ask for block headers and expect the (empty) answer within a second.
    AskHeaders,
    /// Say Disconnect and hang up.
    HangUp,
}

/// The remote's report of each step: `Err` with what went wrong.
type Report = Result<(), String>;

/// A remote eth/66 node that Pings every [`PING_INTERVAL`] and does what it is told: the enode to
/// dial, the step sender and the report receiver.
async fn remote(chain: Chain) -> (Enode, mpsc::Sender<Step>, mpsc::Receiver<Report>) {
    let key = NodeKey::generate();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let enode = Enode { id: key.id(), addr: listener.local_addr().unwrap() };
    let (steps, mut step) = mpsc::channel(8);
    let (reports, report) = mpsc::channel(8);
    tokio::spawn(async move {
        let (stream, _) = listener.accept().await.unwrap();
        let p2p = P2pConfig {
            capabilities: vec![Capability::new("eth", 66, 17)],
            ping_interval: PING_INTERVAL,
            ping_timeout: PING_TIMEOUT,
            ..P2pConfig::default()
        };
        let mut session = Session::accept(stream, &key, &p2p).await.expect("session");
        session.send(0, 0x00, &chain.genesis_status(EthVersion::Eth66).encode()).await.unwrap();
        assert_eq!(session.recv().await.unwrap().msg_id, 0x00, "their Status");
        while let Some(next) = step.recv().await {
            let report = match next {
                Step::AnswerNodeData => match session.recv().await {
                    Ok(incoming) => {
                        match eth_wire::decode(EthVersion::Eth66, incoming.msg_id as u8, &incoming.payload) {
                            Ok(Message::GetNodeData(request)) => {
                                let answer = NodeData {
                                    request_id: request.request_id,
                                    nodes: vec![vec![0xc1, 0x80]],
                                };
                                session
                                    .send(0, u64::from(MessageId::NodeData.id()), &answer.encode())
                                    .await
                                    .map_err(|e| e.to_string())
                            }
                            other => Err(format!("expected GetNodeData, got {other:?}")),
                        }
                    }
                    Err(error) => Err(error.to_string()),
                },
                Step::Idle(quiet) => match tokio::time::timeout(quiet, session.recv()).await {
                    Err(_) => Ok(()),
                    Ok(Ok(incoming)) => Err(format!("unexpected message {:#04x}", incoming.msg_id)),
                    Ok(Err(error)) => Err(error.to_string()),
                },
                Step::HangUp => {
                    let _ = reports.send(Ok(())).await;
                    let _ = session.disconnect(rlpx::DisconnectReason::Requested).await;
                    return;
                }
                Step::AskHeaders => {
                    let ask = GetBlockHeaders {
                        request_id: RequestId(0x0457),
                        origin: BlockOrigin::Number(1),
                        amount: 5,
                        skip: 0,
                        reverse: false,
                    };
                    let id = u64::from(MessageId::GetBlockHeaders.id());
                    match session.send(0, id, &ask.encode()).await {
                        Err(error) => Err(error.to_string()),
                        Ok(()) => match tokio::time::timeout(Duration::from_secs(1), session.recv()).await {
                            Ok(Ok(answer)) if answer.msg_id == u64::from(MessageId::BlockHeaders.id()) => {
                                Ok(())
                            }
                            other => Err(format!("no BlockHeaders: {other:?}")),
                        },
                    }
                }
            };
            let failed = report.is_err();
            let _ = reports.send(report).await;
            if failed {
                return;
            }
        }
    });
    (enode, steps, report)
}

/// Tells the remote to take `step` and waits for its report.
async fn remote_does(steps: &mpsc::Sender<Step>, reports: &mut mpsc::Receiver<Report>, step: Step) -> Report {
    steps.send(step).await.map_err(|_| "the remote is gone".to_string())?;
    tokio::time::timeout(Duration::from_secs(10), reports.recv())
        .await
        .map_err(|_| "no report in 10 s".to_string())?
        .ok_or_else(|| "the remote is gone".to_string())?
}

/// Our peer, connected to a scripted remote, with an events channel of one event that the test
/// alone reads.
struct Connected {
    peer: Arc<EthPeer>,
    steps: mpsc::Sender<Step>,
    reports: mpsc::Receiver<Report>,
    inbox: PeerEventReceiver,
}

async fn connect() -> Connected {
    let chain = Chain::mainnet();
    let (enode, steps, reports) = remote(chain.clone()).await;
    let (events, inbox) = peer_events(1);
    let config = EthConfig::new(Arc::new(NodeKey::generate()), chain);
    let peer = EthPeer::connect(&enode, &config, events).await.expect("connect");
    Connected { peer, steps, reports, inbox }
}

async fn answer(inbox: &mut PeerEventReceiver) -> u64 {
    match tokio::time::timeout(Duration::from_secs(5), inbox.recv()).await.expect("in time") {
        Some(PeerEvent::Response { request_id, response: PeerResponse::NodeData { blobs }, .. }) => {
            assert_eq!(blobs, vec![vec![0xc1, 0x80]]);
            request_id
        }
        other => panic!("expected an answer, got {other:?}"),
    }
}

/// The events channel holds one event and nobody takes it: a first answer fills it, a second waits.
/// For 2.5 s (a Ping every 100 ms after each Pong, each given 1 s for its Pong) the remote must not
/// time us out, and its requests must still be answered; then both answers arrive, in order, and the
/// session still carries more.
#[tokio::test]
async fn pings_and_requests_are_answered_while_the_events_channel_is_full() {
    let Connected { peer, steps, mut reports, mut inbox } = connect().await;
    let hash = peers::H256::repeat_byte(1);

    for request_id in [1, 2] {
        peer.request(request_id, PeerRequest::node_data(vec![hash])).await.expect("request");
        remote_does(&steps, &mut reports, Step::AnswerNodeData).await.expect("answered");
    }
    // Nothing takes the events: the first answer is in the channel, the second waits for room.
    remote_does(&steps, &mut reports, Step::Idle(Duration::from_millis(2500)))
        .await
        .expect("every Ping got its Pong while the events channel was full");
    remote_does(&steps, &mut reports, Step::AskHeaders).await.expect("a request answered meanwhile");
    assert!(!peer.is_closed());

    assert_eq!(answer(&mut inbox).await, 1);
    assert_eq!(answer(&mut inbox).await, 2, "the waiting answer was kept");
    peer.request(3, PeerRequest::node_data(vec![hash])).await.expect("request");
    remote_does(&steps, &mut reports, Step::AnswerNodeData).await.expect("answered");
    assert_eq!(answer(&mut inbox).await, 3, "the session still works");
}

async fn next_event(inbox: &mut PeerEventReceiver) -> PeerEvent {
    tokio::time::timeout(Duration::from_secs(5), inbox.recv()).await.expect("in time").expect("an event")
}

/// Answers read while the events channel is full and before the remote hangs up are delivered
/// before the disconnection, as they were when the reader waited on the channel.
#[tokio::test]
async fn answers_read_before_the_remote_hangs_up_are_delivered_first() {
    let Connected { peer, steps, mut reports, mut inbox } = connect().await;
    let hash = peers::H256::repeat_byte(1);
    for request_id in [1, 2] {
        peer.request(request_id, PeerRequest::node_data(vec![hash])).await.expect("request");
        remote_does(&steps, &mut reports, Step::AnswerNodeData).await.expect("answered");
    }
    remote_does(&steps, &mut reports, Step::HangUp).await.expect("hung up");
    // Time for the reader to read the Disconnect while the second answer waits.
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(answer(&mut inbox).await, 1);
    assert_eq!(answer(&mut inbox).await, 2, "the waiting answer was not dropped");
    match next_event(&mut inbox).await {
        PeerEvent::Disconnected { cause: peers::DisconnectCause::Remote { .. }, .. } => {}
        other => panic!("expected the remote's disconnection, got {other:?}"),
    }
}

/// Memory stays bounded: with one answer in the channel and one waiting, a third answer is held and
/// the session is read no further until the channel has room (so the remote, not answered, gives
/// up on us); every answer read is still delivered once there is room.
#[tokio::test]
async fn past_two_waiting_answers_the_session_is_read_no_further() {
    let Connected { peer, steps, mut reports, mut inbox } = connect().await;
    let hash = peers::H256::repeat_byte(1);
    for request_id in [1, 2, 3] {
        peer.request(request_id, PeerRequest::node_data(vec![hash])).await.expect("request");
        remote_does(&steps, &mut reports, Step::AnswerNodeData).await.expect("answered");
    }
    let idle = remote_does(&steps, &mut reports, Step::Idle(Duration::from_millis(2500))).await;
    let error = idle.expect_err("nothing reads the session, so no Pong comes");
    assert!(error.contains("Pong"), "{error}");
    for request_id in [1, 2, 3] {
        assert_eq!(answer(&mut inbox).await, request_id);
    }
    assert!(matches!(next_event(&mut inbox).await, PeerEvent::Disconnected { .. }));
}
