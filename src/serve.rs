//! `statesync serve`: answer node-data requests from a database (wire v1, and RLPx eth/66) until
//! told to stop.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use eth_peer::{EthConfig, EthServer, EthServerConfig, EthShutdown};
use kvdb::KeyValueStore;
use peers::{NodeDataServer, PeerError, ServerConfig, ShutdownHandle, TcpConfig};

use crate::fault::{FaultyStore, StoreFault};
use crate::store::recorded_root;
use crate::{Error, Result};

/// Settings of `serve`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServeOptions {
    /// Address to listen on (port 0 picks a free one).
    pub listen: SocketAddr,
    /// Connections served at once; more are refused with Disconnect{too many peers}.
    pub max_peers: usize,
    /// Network id sent in Status; peers on another network are disconnected.
    pub network_id: u64,
    /// Misbehave on purpose (tests and the demo).
    pub fault: Option<StoreFault>,
    /// How long a connected client may stay silent between requests before it is disconnected (its
    /// slot freed).
    pub idle_timeout: Duration,
}

/// A bound server, not yet running: its address is known, so a caller can announce it first.
#[derive(Debug)]
pub struct BoundServer {
    server: NodeDataServer,
}

impl BoundServer {
    /// Binds a server answering from `store` as `options` say; it announces the state root recorded
    /// in the store (or none).
    pub async fn bind(store: Arc<dyn KeyValueStore>, options: &ServeOptions) -> Result<Self> {
        let head_root = recorded_root(store.as_ref())?.unwrap_or_default();
        let store: Arc<dyn KeyValueStore> = match options.fault {
            Some(fault) => Arc::new(FaultyStore::new(store, fault)),
            None => store,
        };
        let config = ServerConfig {
            tcp: TcpConfig {
                network_id: options.network_id,
                head_root,
                idle_timeout: options.idle_timeout,
                ..TcpConfig::default()
            },
            max_peers: options.max_peers,
        };
        let server =
            NodeDataServer::bind(options.listen, store, config).await.map_err(|error| match error {
                PeerError::Bind { addr, source } => Error::Listen { addr, source },
                other => Error::Task(other.to_string()),
            })?;
        if let Some(fault) = options.fault {
            tracing::warn!(target: "statesync::serve", addr = %server.local_addr(), ?fault, "serving with an injected fault");
        }
        Ok(Self { server })
    }

    /// The address it listens on.
    pub fn local_addr(&self) -> SocketAddr {
        self.server.local_addr()
    }

    /// A handle that stops it.
    pub fn shutdown_handle(&self) -> ShutdownHandle {
        self.server.shutdown_handle()
    }

    /// Serves until shut down, then waits for connections to close.
    pub async fn run(self) {
        self.server.run().await;
    }
}

/// A bound RLPx server (eth/66 GetNodeData), not yet running: its enode is known, so a caller can
/// announce it first.
#[derive(Debug)]
pub struct BoundRlpxServer {
    server: EthServer,
}

impl BoundRlpxServer {
    /// Binds an RLPx server on `addr` answering from `store` as `eth` says (our key, the chain), with
    /// `options`' peer cap and fault.
    pub async fn bind(
        store: Arc<dyn KeyValueStore>,
        addr: SocketAddr,
        eth: EthConfig,
        options: &ServeOptions,
    ) -> Result<Self> {
        let store: Arc<dyn KeyValueStore> = match options.fault {
            Some(fault) => Arc::new(FaultyStore::new(store, fault)),
            None => store,
        };
        let config = EthServerConfig { eth, max_peers: options.max_peers };
        let server = EthServer::bind(addr, store, config).await.map_err(|error| match error {
            eth_peer::Error::Bind { addr, source } => Error::Listen { addr, source },
            other => Error::Task(other.to_string()),
        })?;
        Ok(Self { server })
    }

    /// Our enode URL.
    pub fn enode(&self) -> rlpx::Enode {
        self.server.enode()
    }

    /// A handle that stops it.
    pub fn shutdown_handle(&self) -> EthShutdown {
        self.server.shutdown_handle()
    }

    /// Serves until shut down, then waits for connections to close.
    pub async fn run(self) {
        self.server.run().await;
    }
}

/// Installs the SIGINT and SIGTERM handlers now and returns a future that resolves on either
/// (Ctrl-C only, elsewhere than Unix).
///
/// Install before announcing readiness (e.g. before `serve` prints its address): until the handlers
/// are in place, SIGTERM would kill the process instead of stopping it cleanly. Must be called within
/// a tokio runtime.
pub fn shutdown_signal() -> Result<impl std::future::Future<Output = ()>> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        let mut terminate = signal(SignalKind::terminate())
            .map_err(|source| Error::Io { what: "installing the SIGTERM handler", source })?;
        let mut interrupt = signal(SignalKind::interrupt())
            .map_err(|source| Error::Io { what: "installing the SIGINT handler", source })?;
        Ok(async move {
            tokio::select! {
                _ = interrupt.recv() => {}
                _ = terminate.recv() => {}
            }
        })
    }
    #[cfg(not(unix))]
    {
        Ok(async {
            if tokio::signal::ctrl_c().await.is_err() {
                std::future::pending::<()>().await;
            }
        })
    }
}
