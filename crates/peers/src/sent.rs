//! Request ids a transport sent and has not seen answered: answers to anything else are dropped at
//! the transport, before they reach the shared events channel.

use std::collections::VecDeque;
use std::sync::Mutex;

/// Request ids remembered per connection. The sync layer keeps about one request in flight per peer;
/// the rest of the window holds requests it gave up on, whose late answers still deserve delivery.
/// Past this many, the oldest is forgotten (its answer, if it ever comes, counts as unrequested).
pub const MAX_TRACKED_REQUESTS: usize = 256;

/// Answers to request ids never sent (or forgotten, see [`MAX_TRACKED_REQUESTS`]) or already answered
/// that a connection may send before it is closed as a protocol breach. An honest peer sends none; a
/// few are tolerated for the forgotten ones. Each is dropped without reaching the shared events
/// channel, so a flooding peer cannot crowd out the others' answers.
pub const MAX_UNREQUESTED_RESPONSES: usize = 8;

/// The request ids one connection sent and has not seen answered, oldest first, at most
/// [`MAX_TRACKED_REQUESTS`]: what a transport's reader checks an answer against.
#[derive(Debug, Default)]
pub struct SentRequests {
    ids: Mutex<VecDeque<u64>>,
}

impl SentRequests {
    /// Remembers that a request with `request_id` is being sent, forgetting the oldest past
    /// [`MAX_TRACKED_REQUESTS`]. Call it before writing, so that even the fastest answer finds it.
    pub fn track(&self, request_id: u64) {
        let mut ids = self.ids.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if ids.len() == MAX_TRACKED_REQUESTS {
            ids.pop_front();
        }
        ids.push_back(request_id);
    }

    /// Whether an answer with `request_id` answers a tracked request; if so, it no longer is one.
    pub fn settle(&self, request_id: u64) -> bool {
        let mut ids = self.ids.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        match ids.iter().position(|&id| id == request_id) {
            Some(index) => {
                ids.remove(index);
                true
            }
            None => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_answer_settles_once_and_the_oldest_is_forgotten_past_the_window() {
        let sent = SentRequests::default();
        sent.track(1);
        assert!(sent.settle(1));
        assert!(!sent.settle(1), "answered twice");
        assert!(!sent.settle(2), "never sent");
        for id in 10..10 + MAX_TRACKED_REQUESTS as u64 + 1 {
            sent.track(id);
        }
        assert!(!sent.settle(10), "forgotten");
        assert!(sent.settle(11));
    }
}
