//! Shared test data: stores, a raw wire v1 client, servers.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use kvdb::{KeyValueStore, MemoryStore, Namespace, WriteBatch};
use peers::{
    decode_frame_header, encode_frame, Message, NodeDataServer, ServerConfig, ShutdownHandle,
    FRAME_HEADER_BYTES, H256, PROTOCOL_VERSION,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::task::JoinHandle;

/// The hash under which node `i` of [`store`] is stored (the tests need no real keccak: this crate never
/// hashes).
pub(crate) fn node_hash(i: u64) -> H256 {
    H256::from_low_u64_be(i + 1)
}

/// The blob of node `i`.
pub(crate) fn node_blob(i: u64) -> Vec<u8> {
    format!("node-{i}").into_bytes()
}

/// The hash of the one code blob in [`store`].
pub(crate) fn code_hash() -> H256 {
    H256::repeat_byte(0xc0)
}

/// The code blob.
pub(crate) fn code_blob() -> Vec<u8> {
    b"\x60\x80\x60\x40 contract code".to_vec()
}

/// A hash stored nowhere.
pub(crate) fn missing_hash(i: u64) -> H256 {
    H256::from_low_u64_be(0xdead_0000 + i)
}

/// Puts nodes `0..nodes` and the code blob into `store`.
pub(crate) fn fill(store: &dyn KeyValueStore, nodes: u64) {
    let mut batch = WriteBatch::new();
    for i in 0..nodes {
        batch.put(Namespace::TrieNodes, node_hash(i).as_bytes().to_vec(), node_blob(i));
    }
    batch.put(Namespace::Code, code_hash().as_bytes().to_vec(), code_blob());
    store.write(batch).unwrap();
}

/// A memory store with nodes `0..nodes` and the code blob.
pub(crate) fn store(nodes: u64) -> Arc<MemoryStore> {
    let store = Arc::new(MemoryStore::new());
    fill(store.as_ref(), nodes);
    store
}

/// A running server on 127.0.0.1 and how to stop it.
pub(crate) struct RunningServer {
    pub(crate) addr: SocketAddr,
    pub(crate) stop: ShutdownHandle,
    pub(crate) task: JoinHandle<()>,
}

impl RunningServer {
    /// Stops it and waits until every connection is closed.
    pub(crate) async fn shut_down(self) {
        self.stop.shutdown();
        tokio::time::timeout(Duration::from_secs(10), self.task).await.expect("server stops").unwrap();
    }
}

/// Starts a server over `store` on a free loopback port.
pub(crate) async fn serve(store: Arc<dyn KeyValueStore>, config: ServerConfig) -> RunningServer {
    let server = NodeDataServer::bind("127.0.0.1:0".parse().unwrap(), store, config).await.unwrap();
    let (addr, stop) = (server.local_addr(), server.shutdown_handle());
    RunningServer { addr, stop, task: tokio::spawn(server.run()) }
}

/// Network 1's Status with a zero head root.
pub(crate) fn status(version: u64, network_id: u64) -> Message {
    Message::Status { version, network_id, head_root: H256::zero() }
}

/// A hand-driven wire v1 connection, to send what a well-behaved client would not.
pub(crate) struct RawClient {
    pub(crate) stream: TcpStream,
}

/// What [`RawClient::recv`] got.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Received {
    Message(Message),
    /// The connection closed (EOF or reset).
    Closed,
}

impl RawClient {
    /// Connects without a handshake.
    pub(crate) async fn connect(addr: SocketAddr) -> Self {
        let stream = TcpStream::connect(addr).await.unwrap();
        // Every message leaves at once: a Nagle delay would be real time, which paused-time tests skip.
        stream.set_nodelay(true).unwrap();
        Self { stream }
    }

    /// Connects and exchanges Status for network 1, checking the server's.
    pub(crate) async fn handshaken(addr: SocketAddr) -> Self {
        let mut client = Self::connect(addr).await;
        client.send(&status(PROTOCOL_VERSION, 1)).await;
        match client.recv().await {
            Received::Message(Message::Status { version: 1, network_id: 1, .. }) => {}
            other => panic!("expected the server's Status, got {other:?}"),
        }
        client
    }

    /// Sends one message.
    pub(crate) async fn send(&mut self, message: &Message) {
        self.send_raw(&encode_frame(message).unwrap()).await;
    }

    /// Sends raw bytes.
    pub(crate) async fn send_raw(&mut self, bytes: &[u8]) {
        self.stream.write_all(bytes).await.unwrap();
    }

    /// Sends a frame with this payload.
    pub(crate) async fn send_payload(&mut self, payload: &[u8]) {
        let mut frame = (payload.len() as u32).to_be_bytes().to_vec();
        frame.extend_from_slice(payload);
        self.send_raw(&frame).await;
    }

    /// The next message, or `Closed`; panics after 10 s of silence (nothing here should take that long).
    pub(crate) async fn recv(&mut self) -> Received {
        self.recv_within(Duration::from_secs(10)).await
    }

    /// The next message, or `Closed`; panics after `limit` of silence. For tests in paused time, where
    /// the limit must outlast the timeouts under test.
    pub(crate) async fn recv_within(&mut self, limit: Duration) -> Received {
        tokio::time::timeout(limit, self.recv_inner()).await.expect("an answer in time")
    }

    /// Expects a GetNodeData and returns its request id.
    pub(crate) async fn expect_request(&mut self) -> u64 {
        match self.recv().await {
            Received::Message(Message::GetNodeData { request_id, .. }) => request_id,
            other => panic!("expected GetNodeData, got {other:?}"),
        }
    }

    /// Sends one message, ignoring a failed write (the other side may have closed already).
    pub(crate) async fn try_send(&mut self, message: &Message) -> bool {
        self.stream.write_all(&encode_frame(message).unwrap()).await.is_ok()
    }

    async fn recv_inner(&mut self) -> Received {
        let mut header = [0u8; FRAME_HEADER_BYTES];
        if self.stream.read_exact(&mut header).await.is_err() {
            return Received::Closed;
        }
        let len = decode_frame_header(header).expect("the server sends valid frames");
        let mut payload = vec![0; len];
        if self.stream.read_exact(&mut payload).await.is_err() {
            return Received::Closed;
        }
        Received::Message(Message::decode(&payload).expect("the server sends valid messages"))
    }

    /// Expects Disconnect with `reason`, then the connection closing.
    pub(crate) async fn expect_disconnect(&mut self, reason: peers::DisconnectReason) {
        assert_eq!(self.recv().await, Received::Message(Message::Disconnect { reason }));
        assert_eq!(self.recv().await, Received::Closed);
    }
}
