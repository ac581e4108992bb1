//! The RLPx server side: answers GetNodeData on eth/66 from a store, for any number of peers up to a
//! cap, with the limits of wire v1's server.

use std::net::SocketAddr;
use std::sync::Arc;

use eth_wire::{Message, MessageId, NodeData};
use kvdb::KeyValueStore;
use peers::{answer_node_data_blocking, MAX_HASHES_PER_REQUEST};
use rlpx::{DisconnectReason, Enode, Session};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinSet;
use tokio::time::timeout;
use tracing::Instrument;

use crate::handshake::{exchange_status, negotiated, refusal};
use crate::{Error, EthConfig, Result};

/// Settings of an [`EthServer`].
#[derive(Debug, Clone)]
pub struct EthServerConfig {
    /// Who we are and the chain we serve.
    pub eth: EthConfig,
    /// Peers served at once; more are refused (their TCP connection closed at once).
    pub max_peers: usize,
}

/// A handle that stops an [`EthServer`].
#[derive(Debug, Clone)]
pub struct EthShutdown {
    signal: Arc<watch::Sender<bool>>,
}

impl EthShutdown {
    /// Stops accepting, tells every connected peer Disconnect{quitting}, and lets
    /// [`EthServer::run`] return. Idempotent.
    pub fn shutdown(&self) {
        self.signal.send_replace(true);
    }
}

/// Serves the trie nodes and code of a store to Ethereum peers over RLPx eth/66 (GetNodeData), as
/// go-ethereum v1.13 did: at most [`MAX_HASHES_PER_REQUEST`] hashes answered per request, answers cut
/// at [`SOFT_RESPONSE_BYTES`](peers::SOFT_RESPONSE_BYTES), missing ones omitted. Other requests get
/// empty answers.
pub struct EthServer {
    listener: TcpListener,
    local_addr: SocketAddr,
    store: Arc<dyn KeyValueStore>,
    config: EthServerConfig,
    shutdown: Arc<watch::Sender<bool>>,
}

impl std::fmt::Debug for EthServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EthServer").field("local_addr", &self.local_addr).finish_non_exhaustive()
    }
}

impl EthServer {
    /// Listens on `addr` (port 0 picks a free port).
    pub async fn bind(
        addr: SocketAddr,
        store: Arc<dyn KeyValueStore>,
        config: EthServerConfig,
    ) -> Result<Self> {
        let listener = TcpListener::bind(addr).await.map_err(|source| Error::Bind { addr, source })?;
        let local_addr = listener.local_addr().map_err(|source| Error::Bind { addr, source })?;
        Ok(Self { listener, local_addr, store, config, shutdown: Arc::new(watch::channel(false).0) })
    }

    /// The address it listens on.
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// Our enode URL: the node key's public key at the address we listen on.
    pub fn enode(&self) -> Enode {
        Enode { id: self.config.eth.node_key.id(), addr: self.local_addr }
    }

    /// A handle that stops the server.
    pub fn shutdown_handle(&self) -> EthShutdown {
        EthShutdown { signal: self.shutdown.clone() }
    }

    /// Serves until shut down, then waits for every connection to close.
    #[tracing::instrument(target = "eth_peer::server", skip_all, fields(addr = %self.local_addr))]
    pub async fn run(self) {
        let mut stop = self.shutdown.subscribe();
        let mut connections = JoinSet::new();
        tracing::info!(target: "eth_peer::server", enode = %self.enode(), "serving node data over RLPx eth/66");
        loop {
            tokio::select! {
                _ = stopped(&mut stop) => break,
                Some(_) = connections.join_next(), if !connections.is_empty() => {}
                accepted = self.listener.accept() => {
                    let Ok((stream, remote)) = accepted else {
                        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                        continue;
                    };
                    if connections.len() >= self.config.max_peers {
                        tracing::info!(target: "eth_peer::server", %remote, "refused: too many peers");
                        drop(stream);
                        continue;
                    }
                    let span = tracing::info_span!(target: "eth_peer::server", "connection", %remote);
                    let serve = serve_connection(stream, self.store.clone(), self.config.eth.clone(), stop.clone());
                    connections.spawn(serve.instrument(span));
                }
            }
        }
        while connections.join_next().await.is_some() {}
    }
}

/// Resolves once shutdown is asked for (or the server is gone).
async fn stopped(stop: &mut watch::Receiver<bool>) {
    let _ = stop.wait_for(|stopped| *stopped).await;
}

/// Serves one connection until it ends or the server stops.
async fn serve_connection(
    stream: TcpStream,
    store: Arc<dyn KeyValueStore>,
    config: EthConfig,
    mut stop: watch::Receiver<bool>,
) {
    let _ = stream.set_nodelay(true);
    let session = match Session::accept(stream, &config.node_key, &config.p2p()).await {
        Ok(session) => session,
        Err(error) => {
            tracing::info!(target: "eth_peer::server", %error, "handshake failed");
            return;
        }
    };
    let negotiated = match negotiated(&session, &config) {
        Ok(negotiated) => negotiated,
        Err(error) => {
            tracing::info!(target: "eth_peer::server", %error, "no eth version in common");
            let _ = session.disconnect(DisconnectReason::UselessPeer).await;
            return;
        }
    };
    let (mut reader, writer, hello) = session.into_split();
    let client = hello.client_id;
    let goodbye = |reason| timeout(config.write_timeout, writer.disconnect(reason));
    if let Err(error) = exchange_status(&mut reader, &writer, &client, negotiated, &config).await {
        tracing::info!(target: "eth_peer::server", %client, %error, "status refused");
        let _ = goodbye(refusal(&error)).await;
        return;
    }
    tracing::info!(target: "eth_peer::server", %client, "peer connected");
    let (mut requests, mut blobs_served) = (0u64, 0u64);
    let outcome: String = loop {
        let incoming = tokio::select! {
            biased;
            _ = stopped(&mut stop) => {
                let _ = goodbye(DisconnectReason::ClientQuitting).await;
                break "server shutting down".into();
            }
            incoming = reader.recv() => incoming,
        };
        let incoming = match incoming {
            Ok(incoming) => incoming,
            Err(error) => break error.to_string(),
        };
        if incoming.capability != negotiated.capability {
            continue;
        }
        let message =
            u8::try_from(incoming.msg_id).map_err(|_| "message id out of range".to_owned()).and_then(|id| {
                eth_wire::decode(negotiated.version, id, &incoming.payload).map_err(|e| e.to_string())
            });
        let message = match message {
            Ok(message) => message,
            Err(error) => {
                let _ = goodbye(DisconnectReason::ProtocolError).await;
                break format!("protocol breach: {error}");
            }
        };
        let answer = match message {
            Message::GetNodeData(request) => {
                requests += 1;
                let mut hashes = request.hashes;
                hashes.truncate(MAX_HASHES_PER_REQUEST);
                // A panicking engine (redb's, on a page damaged outside it) ends this connection, not
                // the server.
                let nodes = match answer_node_data_blocking(store.clone(), hashes).await {
                    Ok(nodes) => nodes,
                    Err(error) => {
                        tracing::error!(target: "eth_peer::server", %error, "no answer");
                        let _ = goodbye(DisconnectReason::Requested).await;
                        break error.to_string();
                    }
                };
                blobs_served += nodes.len() as u64;
                Some((MessageId::NodeData, NodeData { request_id: request.request_id, nodes }.encode()))
            }
            Message::Status(_) => {
                let _ = goodbye(DisconnectReason::ProtocolError).await;
                break "protocol breach: a second Status".into();
            }
            other => other.empty_answer().map(|answer| (answer.id, answer.payload)),
        };
        if let Some((id, payload)) = answer {
            let sent = timeout(
                config.write_timeout,
                writer.send(negotiated.capability, u64::from(id.id()), &payload),
            );
            match sent.await {
                Ok(Ok(())) => {}
                Ok(Err(error)) => break error.to_string(),
                Err(_) => break "write timed out".into(),
            }
        }
    };
    tracing::info!(target: "eth_peer::server", %client, requests, blobs_served, %outcome, "peer disconnected");
}
