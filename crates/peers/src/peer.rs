//! The transport abstraction the sync layers talk to.

use async_trait::async_trait;
use primitive_types::H256;

use crate::{DisconnectReason, PeerError, PeerId};

/// A connected peer, whatever the transport (in-process, TCP, later RLPx).
///
/// Requests are fire-and-forget: [`Peer::request_node_data`] returns once the request is sent, and the
/// answer arrives later as a [`PeerEvent::NodeData`](crate::PeerEvent::NodeData) on the
/// [`PeerEventSender`](crate::PeerEventSender) the transport was created with; the loss of the
/// connection arrives as [`PeerEvent::Disconnected`](crate::PeerEvent::Disconnected). Matching answers to
/// requests, and timing them out, is the caller's job.
#[async_trait]
pub trait Peer: Send + Sync + 'static {
    /// The peer's identity.
    fn id(&self) -> &PeerId;

    /// Sends a request for the blobs with `hashes` (at most
    /// [`MAX_HASHES_PER_REQUEST`](crate::MAX_HASHES_PER_REQUEST)), tagged with `request_id`, and returns
    /// without waiting for the answer.
    ///
    /// Fails if the connection is gone ([`PeerError::Disconnected`] or an I/O error), or with
    /// [`PeerError::RequestTooLarge`] without sending anything.
    async fn request_node_data(&self, request_id: u64, hashes: Vec<H256>) -> Result<(), PeerError>;

    /// Closes the connection, telling the peer why. The transport then emits one
    /// [`PeerEvent::Disconnected`](crate::PeerEvent::Disconnected) (if it has not already) and refuses
    /// further requests. Idempotent.
    async fn disconnect(&self, reason: DisconnectReason);
}
