//! The eth handshake on an established devp2p session: which eth version was negotiated, and the
//! Status exchange.

use eth_wire::{EthVersion, Status};
use rlpx::{DisconnectReason, Hello, Session, SessionReader, SessionWriter, SharedCapability};
use tokio::time::timeout;

use crate::{Error, EthConfig, Result};

/// The negotiated eth capability: its index among the session's shared capabilities and its version.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Negotiated {
    pub(crate) capability: usize,
    pub(crate) version: EthVersion,
}

/// The eth capability the session shares, or [`Error::NoUsableProtocol`] naming what the peer offered.
pub(crate) fn negotiated(session: &Session, config: &EthConfig) -> Result<Negotiated> {
    let found = session.shared_capabilities().iter().enumerate().find_map(|(index, shared)| {
        let version = eth_version(shared)?;
        Some(Negotiated { capability: index, version })
    });
    found.ok_or_else(|| no_usable_protocol(session.remote_hello(), config))
}

/// The eth version of a shared capability, if it is one we implement.
fn eth_version(shared: &SharedCapability) -> Option<EthVersion> {
    (shared.name == "eth").then(|| EthVersion::from_number(shared.version).ok()).flatten()
}

/// The error for a peer with no eth version in common with us.
pub(crate) fn no_usable_protocol(hello: &Hello, config: &EthConfig) -> Error {
    let offered = hello.capabilities.iter().map(|c| format!("{}/{}", c.name, c.version)).collect::<Vec<_>>();
    Error::NoUsableProtocol {
        client: hello.client_id.clone(),
        offered: if offered.is_empty() { "no capabilities".to_owned() } else { offered.join(", ") },
        wanted: config.offered(),
    }
}

/// Sends our Status and reads theirs, which must come first, within the config's status timeout, and
/// fit ours (network, genesis, fork id). Returns theirs.
pub(crate) async fn exchange_status(
    reader: &mut SessionReader,
    writer: &SessionWriter,
    client: &str,
    negotiated: Negotiated,
    config: &EthConfig,
) -> Result<Status> {
    let client = client.to_owned();
    let ours = config.chain.genesis_status(negotiated.version);
    timeout(config.write_timeout, writer.send(negotiated.capability, 0x00, &ours.encode()))
        .await
        .map_err(|_| Error::StatusTimeout { client: client.clone(), timeout: config.write_timeout })??;
    let incoming = match timeout(config.status_timeout, reader.recv()).await {
        Ok(incoming) => incoming?,
        Err(_) => return Err(Error::StatusTimeout { client, timeout: config.status_timeout }),
    };
    if incoming.capability != negotiated.capability || incoming.msg_id != 0x00 {
        return Err(Error::NoStatus { client, id: incoming.msg_id });
    }
    let theirs = Status::decode(negotiated.version, &incoming.payload)
        .map_err(|source| Error::BadStatus { client: client.clone(), source })?;
    let filter = config.chain.fork_filter(config.chain.genesis_head());
    theirs.validate(&ours, &filter).map_err(|source| Error::Status { client, source })?;
    Ok(theirs)
}

/// The Disconnect reason for a failed eth handshake.
pub(crate) fn refusal(error: &Error) -> DisconnectReason {
    match error {
        Error::Status { .. } => DisconnectReason::SubprotocolError,
        Error::StatusTimeout { .. } => DisconnectReason::PingTimeout,
        Error::NoUsableProtocol { .. } => DisconnectReason::UselessPeer,
        _ => DisconnectReason::ProtocolError,
    }
}
