//! One-off requests outside a sync (a probe for the root before it starts, say): send, match the
//! answer to the request by peer and request id, give up at a deadline.

use std::time::Duration;

use tokio::time::Instant;

use crate::{
    DisconnectCause, Lease, PeerError, PeerEvent, PeerEventReceiver, PeerId, PeerRequest, PeerResponse,
    PeerSet,
};

/// How one request of an [`Exchange`] ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reply {
    /// The peer answered (unverified: the caller hashes blobs and checks proofs).
    Answered {
        /// Who answered.
        peer: PeerId,
        /// The answer.
        response: PeerResponse,
        /// Time from sending to the answer.
        elapsed: Duration,
    },
    /// The peer's connection ended before it answered; it has been unregistered.
    Disconnected {
        /// The peer.
        peer: PeerId,
        /// Why the connection ended.
        cause: DisconnectCause,
    },
}

/// A request sent and not yet answered.
#[derive(Debug)]
struct Outstanding {
    request_id: u64,
    sent: Instant,
    /// Keeps the peer busy with the request's kind until it ends.
    lease: Lease,
}

/// One-off requests to a [`PeerSet`]'s peers, answered on the set's event channel: each takes a
/// [`Lease`] (so a peer is never asked twice at once) and a request id from the set (so it can never
/// match another asker's answers), and [`next`](Self::next) matches answers to them.
///
/// It consumes the events it reads: use it while nothing else reads the channel (before a sync
/// starts). Answers that match nothing outstanding are discarded; peers that disconnect are
/// unregistered. Dropping the exchange gives up on what is still outstanding.
#[derive(Debug)]
pub struct Exchange<'a> {
    set: &'a PeerSet,
    events: &'a mut PeerEventReceiver,
    outstanding: Vec<Outstanding>,
}

impl<'a> Exchange<'a> {
    /// An exchange with `set`'s peers, whose events arrive on `events`.
    pub fn new(set: &'a PeerSet, events: &'a mut PeerEventReceiver) -> Self {
        Self { set, events, outstanding: Vec::new() }
    }

    /// Sends `request` to `peer`. Fails without sending if the peer is not registered
    /// ([`PeerError::Disconnected`]), does not serve the kind ([`PeerError::Unsupported`]) or is
    /// busy with it ([`PeerError::Busy`]); a failed send unregisters a peer whose connection is lost.
    pub async fn send(&mut self, peer: &PeerId, request: PeerRequest) -> Result<(), PeerError> {
        let kind = request.kind();
        let Some(lease) = self.set.lease(peer, kind) else {
            return Err(match self.set.capabilities(peer) {
                None => PeerError::Disconnected { peer: peer.clone() },
                Some(capabilities) if !capabilities.serves(kind) => {
                    PeerError::Unsupported { peer: peer.clone(), kind }
                }
                Some(_) => PeerError::Busy { peer: peer.clone(), kind },
            });
        };
        let request_id = self.set.next_request_id();
        let handle = lease.peer().clone();
        if let Err(error) = handle.request(request_id, request).await {
            if error.is_connection_lost() {
                self.set.unregister(peer);
            }
            return Err(error);
        }
        self.outstanding.push(Outstanding { request_id, sent: Instant::now(), lease });
        Ok(())
    }

    /// Requests sent and not yet ended.
    pub fn outstanding(&self) -> usize {
        self.outstanding.len()
    }

    /// The next request to end, or `None` if none is outstanding or none ends before `deadline`.
    pub async fn next(&mut self, deadline: Instant) -> Option<Reply> {
        while !self.outstanding.is_empty() {
            let event = match tokio::time::timeout_at(deadline, self.events.recv()).await {
                Ok(Some(event)) => event,
                Ok(None) | Err(_) => return None,
            };
            match event {
                PeerEvent::Response { peer, request_id, response } => {
                    let matched = self
                        .outstanding
                        .iter()
                        .position(|out| out.request_id == request_id && *out.lease.peer_id() == peer);
                    let Some(index) = matched else {
                        tracing::debug!(target: "peers::exchange", %peer, request_id, "unmatched answer, discarded");
                        continue;
                    };
                    let out = self.outstanding.swap_remove(index);
                    let elapsed = out.sent.elapsed();
                    out.lease.release(response.items(), elapsed);
                    return Some(Reply::Answered { peer, response, elapsed });
                }
                PeerEvent::Disconnected { peer, cause } => {
                    tracing::debug!(target: "peers::exchange", %peer, %cause, "peer disconnected");
                    self.set.unregister(&peer);
                    let before = self.outstanding.len();
                    self.outstanding.retain(|out| *out.lease.peer_id() != peer);
                    if self.outstanding.len() < before {
                        return Some(Reply::Disconnected { peer, cause });
                    }
                }
            }
        }
        None
    }
}
