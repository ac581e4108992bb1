//! Capabilities (subprotocols such as eth/68 or snap/1) and their negotiation: which are
//! shared, and where each one's message ids start (rlpx.md, "Message ID-based
//! Multiplexing").

use std::fmt;

/// Message ids 0x00..0x0f belong to the base protocol (Hello, Disconnect, Ping, Pong and
/// reserved ids); the first shared capability starts after them.
pub const BASE_PROTOCOL_MESSAGES: u64 = 0x10;

/// A capability we speak: its name, version and how many message ids it uses (which the
/// devp2p layer cannot know: the subprotocol's crate tells it, e.g. 17 for eth/66).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Capability {
    /// The name, e.g. "eth" (at most 8 ASCII characters by convention).
    pub name: String,
    /// The version, e.g. 68.
    pub version: u32,
    /// The number of message ids it reserves.
    pub messages: u64,
}

impl Capability {
    /// A capability from its parts.
    pub fn new(name: impl Into<String>, version: u32, messages: u64) -> Self {
        Capability { name: name.into(), version, messages }
    }
}

/// A capability as advertised in a Hello: name and version only.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct AdvertisedCapability {
    /// The name.
    pub name: String,
    /// The version.
    pub version: u32,
}

impl fmt::Display for AdvertisedCapability {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.name, self.version)
    }
}

/// A capability both sides speak, with the message-id range it got.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct SharedCapability {
    /// The name.
    pub name: String,
    /// The highest version both sides speak.
    pub version: u32,
    /// Its first absolute message id.
    pub offset: u64,
    /// The number of message ids it reserves (from our [`Capability`]).
    pub messages: u64,
}

impl SharedCapability {
    /// Whether the absolute message id `id` falls in this capability's range.
    pub fn contains(&self, id: u64) -> bool {
        id >= self.offset && id - self.offset < self.messages
    }
}

/// The capabilities shared by `ours` and `theirs`: for each name, the highest version both
/// list; sorted by name; message ids assigned in that order from
/// [`BASE_PROTOCOL_MESSAGES`] on, each taking its `messages` ids. This is what every
/// client computes, so both sides agree on the ids without saying more.
pub fn negotiate(ours: &[Capability], theirs: &[AdvertisedCapability]) -> Vec<SharedCapability> {
    let mut best: Vec<&Capability> = Vec::new();
    for cap in ours {
        if !theirs.iter().any(|t| t.name == cap.name && t.version == cap.version) {
            continue;
        }
        match best.iter_mut().find(|b| b.name == cap.name) {
            Some(b) if b.version < cap.version => *b = cap,
            Some(_) => {}
            None => best.push(cap),
        }
    }
    best.sort_by(|a, b| a.name.cmp(&b.name));
    let mut offset = BASE_PROTOCOL_MESSAGES;
    best.into_iter()
        .map(|cap| {
            let shared = SharedCapability {
                name: cap.name.clone(),
                version: cap.version,
                offset,
                messages: cap.messages,
            };
            offset = offset.saturating_add(cap.messages);
            shared
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn adv(name: &str, version: u32) -> AdvertisedCapability {
        AdvertisedCapability { name: name.into(), version }
    }

    #[test]
    fn highest_shared_version_per_name_sorted_with_offsets() {
        let ours = [
            Capability::new("snap", 1, 8),
            Capability::new("eth", 66, 17),
            Capability::new("eth", 68, 17),
            Capability::new("eth", 69, 18),
            Capability::new("les", 4, 20),
        ];
        let theirs = [adv("eth", 66), adv("eth", 67), adv("eth", 68), adv("snap", 1), adv("wit", 0)];
        let shared = negotiate(&ours, &theirs);
        assert_eq!(
            shared,
            vec![
                SharedCapability { name: "eth".into(), version: 68, offset: 0x10, messages: 17 },
                SharedCapability { name: "snap".into(), version: 1, offset: 0x21, messages: 8 },
            ]
        );
        assert!(shared[0].contains(0x10) && shared[0].contains(0x20) && !shared[0].contains(0x21));
        assert!(shared[1].contains(0x21) && shared[1].contains(0x28) && !shared[1].contains(0x29));
    }

    #[test]
    fn nothing_shared() {
        assert!(negotiate(&[Capability::new("eth", 68, 17)], &[adv("eth", 67)]).is_empty());
        assert!(negotiate(&[], &[adv("eth", 67)]).is_empty());
    }
}
