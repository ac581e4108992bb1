//! The transport abstraction the sync layers talk to.

use async_trait::async_trait;
use primitive_types::H256;

use crate::{Capabilities, DisconnectReason, PeerError, PeerId, PeerRequest};

/// A connected peer, whatever the transport (in-process, wire v1 over TCP, RLPx).
///
/// Requests are fire-and-forget: [`Peer::request`] returns once the request is sent, and the answer
/// arrives later as a [`PeerEvent::Response`](crate::PeerEvent::Response) on the
/// [`PeerEventSender`](crate::PeerEventSender) the transport was created with; the loss of the
/// connection arrives as [`PeerEvent::Disconnected`](crate::PeerEvent::Disconnected). Matching answers to
/// requests, and timing them out, is the caller's job ([`Exchange`](crate::Exchange) does it for
/// one-off requests; a sync's tracker for its own). Take a [`Lease`](crate::Lease) from the
/// [`PeerSet`](crate::PeerSet) before asking a registered peer, so it is never asked twice at once.
#[async_trait]
pub trait Peer: Send + Sync + 'static {
    /// The peer's identity.
    fn id(&self) -> &PeerId;

    /// The kinds of request it serves (fixed once connected: the protocols negotiated).
    fn capabilities(&self) -> Capabilities;

    /// The software the peer says it runs (RLPx's Hello client id), if the transport tells.
    fn client(&self) -> Option<&str> {
        None
    }

    /// Sends `request`, tagged with `request_id`, and returns without waiting for the answer.
    ///
    /// Fails if the connection is gone ([`PeerError::Disconnected`] or an I/O error), or without
    /// sending anything with [`PeerError::Unsupported`] (a kind the peer does not serve) or
    /// [`PeerError::RequestTooLarge`].
    async fn request(&self, request_id: u64, request: PeerRequest) -> Result<(), PeerError>;

    /// Sends a node-data request for `hashes` (at most the transport's limit, such as
    /// [`MAX_HASHES_PER_REQUEST`](crate::MAX_HASHES_PER_REQUEST)): [`Peer::request`] with
    /// [`PeerRequest::NodeData`].
    async fn request_node_data(&self, request_id: u64, hashes: Vec<H256>) -> Result<(), PeerError> {
        self.request(request_id, PeerRequest::NodeData { hashes }).await
    }

    /// Closes the connection, telling the peer why. The transport then emits one
    /// [`PeerEvent::Disconnected`](crate::PeerEvent::Disconnected) (if it has not already) and refuses
    /// further requests. Idempotent.
    async fn disconnect(&self, reason: DisconnectReason);
}
