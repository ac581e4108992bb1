//! Shared helpers: loopback sockets, configs, a raw peer, and a byte-tampering transport.

use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{ready, Context, Poll};
use std::time::Duration;

use rlpx::{AdvertisedCapability, Capability, Hello, NodeId, NodeKey, P2pConfig, RlpxStream, P2P_VERSION};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};

/// Two ends of a loopback TCP connection: (dialer, listener).
pub(crate) async fn tcp_pair() -> (TcpStream, TcpStream) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (dialer, accepted) = tokio::join!(TcpStream::connect(addr), listener.accept());
    (dialer.unwrap(), accepted.unwrap().0)
}

/// A config with the given capabilities and short, test-sized durations.
pub(crate) fn config(capabilities: Vec<Capability>) -> P2pConfig {
    P2pConfig {
        client_id: "statesync-test/v0".into(),
        capabilities,
        listen_port: 30303,
        ping_interval: Duration::from_secs(15),
        ping_timeout: Duration::from_secs(20),
        handshake_timeout: Duration::from_secs(5),
        ..P2pConfig::default()
    }
}

/// A config speaking eth/68 (17 messages) and snap/1 (8 messages).
pub(crate) fn eth_snap() -> P2pConfig {
    config(vec![Capability::new("eth", 68, 17), Capability::new("snap", 1, 8)])
}

/// A Hello for a raw peer, with whatever id it wants to claim.
pub(crate) fn hello(id: NodeId, caps: &[(&str, u32)]) -> Hello {
    Hello {
        protocol_version: P2P_VERSION,
        client_id: "raw-peer".into(),
        capabilities: caps
            .iter()
            .map(|(n, v)| AdvertisedCapability { name: n.to_string(), version: *v })
            .collect(),
        listen_port: 0,
        id,
    }
}

/// The Hello exchange done by hand on a raw stream: sends `ours`, reads theirs, turns on
/// snappy. Returns the remote's Hello.
pub(crate) async fn raw_hello(stream: &mut RlpxStream, ours: &Hello) -> Hello {
    stream.send(0x00, &ours.encode()).await.unwrap();
    let (id, payload) = stream.recv().await.unwrap();
    assert_eq!(id, 0x00, "first message is Hello");
    stream.set_snappy(true);
    Hello::decode(&payload).unwrap()
}

/// A raw recipient: handshake, then Hello claiming its true id, speaking eth/68 + snap/1.
pub(crate) async fn raw_accept<IO>(io: IO, key: &NodeKey) -> RlpxStream
where
    IO: AsyncRead + AsyncWrite + Unpin + Send + Sync + 'static,
{
    let mut stream = RlpxStream::accept(io, key).await.unwrap();
    raw_hello(&mut stream, &hello(key.id(), &[("eth", 68), ("snap", 1)])).await;
    stream
}

/// What a [`Tamper`] does to the bytes written from now on.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) enum Plan {
    /// Pass everything through.
    #[default]
    Pass,
    /// Flip the lowest bit of the byte at this offset (counted from when the plan was set).
    FlipAt(usize),
    /// Write this many more bytes, then shut the write side down and swallow the rest.
    CutAfter(usize),
}

/// A transport that passes reads through and tampers with writes according to a plan the
/// test changes at will (e.g. after the handshake).
pub(crate) struct Tamper<T> {
    inner: T,
    plan: Arc<Mutex<Plan>>,
}

impl<T> Tamper<T> {
    pub(crate) fn new(inner: T) -> (Self, Arc<Mutex<Plan>>) {
        let plan = Arc::new(Mutex::new(Plan::Pass));
        (Tamper { inner, plan: plan.clone() }, plan)
    }
}

impl<T: AsyncRead + Unpin> AsyncRead for Tamper<T> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for Tamper<T> {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        let plan = *self.plan.lock().unwrap();
        match plan {
            Plan::Pass => Pin::new(&mut self.inner).poll_write(cx, buf),
            Plan::FlipAt(at) => {
                let written = if at < buf.len() {
                    let mut copy = buf.to_vec();
                    copy[at] ^= 1;
                    ready!(Pin::new(&mut self.inner).poll_write(cx, &copy))?
                } else {
                    ready!(Pin::new(&mut self.inner).poll_write(cx, buf))?
                };
                *self.plan.lock().unwrap() =
                    if written > at { Plan::Pass } else { Plan::FlipAt(at - written) };
                Poll::Ready(Ok(written))
            }
            Plan::CutAfter(0) => {
                ready!(Pin::new(&mut self.inner).poll_shutdown(cx))?;
                Poll::Ready(Ok(buf.len()))
            }
            Plan::CutAfter(left) => {
                let n = left.min(buf.len());
                let written = ready!(Pin::new(&mut self.inner).poll_write(cx, &buf[..n]))?;
                *self.plan.lock().unwrap() = Plan::CutAfter(left - written);
                Poll::Ready(Ok(written))
            }
        }
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}
