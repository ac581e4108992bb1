//! Closing a connection from any handle: the first reason given wins, and the task reading the
//! connection learns it (to say Disconnect with it) even while it waits on something else.

use tokio::sync::watch;

use crate::DisconnectReason;

/// Set once, from any handle of a connection, to close it with a reason; see [`CloseSignal::watch`].
#[derive(Debug)]
pub struct CloseSignal {
    sender: watch::Sender<Option<DisconnectReason>>,
}

impl Default for CloseSignal {
    fn default() -> Self {
        Self { sender: watch::channel(None).0 }
    }
}

impl CloseSignal {
    /// Asks for the connection to close with `reason`, unless a close was already asked for (the
    /// first reason is the one given to the peer). Returns whether this call was the first.
    pub fn request(&self, reason: DisconnectReason) -> bool {
        self.sender.send_if_modified(|current| {
            if current.is_some() {
                return false;
            }
            *current = Some(reason);
            true
        })
    }

    /// Whether a close was asked for.
    pub fn is_closed(&self) -> bool {
        self.sender.borrow().is_some()
    }

    /// A watch for the connection's reading task.
    pub fn watch(&self) -> CloseWatch {
        CloseWatch { receiver: self.sender.subscribe() }
    }
}

/// The reading task's side of a [`CloseSignal`].
#[derive(Debug)]
pub struct CloseWatch {
    receiver: watch::Receiver<Option<DisconnectReason>>,
}

impl CloseWatch {
    /// Resolves with the reason once a close is asked for, or with
    /// [`DisconnectReason::Requested`] once the signal is gone (every handle dropped). Cancel-safe:
    /// use it in `select!`.
    pub async fn closed(&mut self) -> DisconnectReason {
        match self.receiver.wait_for(Option::is_some).await {
            Ok(reason) => reason.unwrap_or(DisconnectReason::Requested),
            Err(_) => DisconnectReason::Requested,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_first_reason_wins_and_a_dropped_signal_closes_as_requested() {
        let signal = CloseSignal::default();
        let mut watch = signal.watch();
        assert!(!signal.is_closed());
        assert!(signal.request(DisconnectReason::Timeout));
        assert!(!signal.request(DisconnectReason::ProtocolBreach), "already closing");
        assert!(signal.is_closed());
        assert_eq!(watch.closed().await, DisconnectReason::Timeout);
        let mut orphan = CloseSignal::default().watch();
        assert_eq!(orphan.closed().await, DisconnectReason::Requested);
    }
}
