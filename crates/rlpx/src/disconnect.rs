//! The devp2p Disconnect reasons (devp2p rlpx.md, "Disconnect (0x01)").

use std::fmt;

/// Why a peer ends the session, as sent in a Disconnect message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum DisconnectReason {
    /// 0x00: disconnect requested.
    Requested = 0x00,
    /// 0x01: TCP sub-system error.
    NetworkError = 0x01,
    /// 0x02: breach of protocol, e.g. a malformed message, bad RLP...
    ProtocolError = 0x02,
    /// 0x03: useless peer (e.g. no shared capability).
    UselessPeer = 0x03,
    /// 0x04: too many peers.
    TooManyPeers = 0x04,
    /// 0x05: already connected.
    AlreadyConnected = 0x05,
    /// 0x06: incompatible p2p protocol version.
    IncompatibleVersion = 0x06,
    /// 0x07: null node identity received (invalid identity).
    InvalidIdentity = 0x07,
    /// 0x08: client quitting.
    ClientQuitting = 0x08,
    /// 0x09: unexpected identity in handshake.
    UnexpectedIdentity = 0x09,
    /// 0x0a: identity is the same as this node (connected to self).
    ConnectedToSelf = 0x0a,
    /// 0x0b: ping timeout.
    PingTimeout = 0x0b,
    /// 0x10: some other reason specific to a subprotocol.
    SubprotocolError = 0x10,
}

impl DisconnectReason {
    /// The reason with wire code `code`, if it is one of the devp2p list.
    pub fn from_code(code: u8) -> Option<Self> {
        use DisconnectReason::*;
        Some(match code {
            0x00 => Requested,
            0x01 => NetworkError,
            0x02 => ProtocolError,
            0x03 => UselessPeer,
            0x04 => TooManyPeers,
            0x05 => AlreadyConnected,
            0x06 => IncompatibleVersion,
            0x07 => InvalidIdentity,
            0x08 => ClientQuitting,
            0x09 => UnexpectedIdentity,
            0x0a => ConnectedToSelf,
            0x0b => PingTimeout,
            0x10 => SubprotocolError,
            _ => return None,
        })
    }

    /// The wire code.
    pub fn code(self) -> u8 {
        self as u8
    }

    /// The Disconnect payload: `rlp([reason])`.
    pub(crate) fn encode(self) -> Vec<u8> {
        let mut s = rlp::RlpStream::new_list(1);
        s.append(&self.code());
        s.out().to_vec()
    }

    /// Reads a Disconnect payload. Clients send `[reason]`, some a bare `reason`, some
    /// nothing at all; all are accepted, and `None` means no (known) reason.
    pub(crate) fn decode(payload: &[u8]) -> Option<Self> {
        let rlp = rlp::Rlp::new(payload);
        let code = if rlp.is_list() { rlp.val_at::<u8>(0).ok()? } else { rlp.as_val::<u8>().ok()? };
        Self::from_code(code)
    }
}

impl fmt::Display for DisconnectReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use DisconnectReason::*;
        f.write_str(match self {
            Requested => "disconnect requested",
            NetworkError => "network error",
            ProtocolError => "breach of protocol",
            UselessPeer => "useless peer",
            TooManyPeers => "too many peers",
            AlreadyConnected => "already connected",
            IncompatibleVersion => "incompatible p2p protocol version",
            InvalidIdentity => "invalid node identity",
            ClientQuitting => "client quitting",
            UnexpectedIdentity => "unexpected identity",
            ConnectedToSelf => "connected to self",
            PingTimeout => "read timeout",
            SubprotocolError => "subprotocol error",
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_round_trip_and_decode_all_forms() {
        for code in 0..=0xffu8 {
            match DisconnectReason::from_code(code) {
                Some(reason) => {
                    assert_eq!(reason.code(), code);
                    assert_eq!(DisconnectReason::decode(&reason.encode()), Some(reason));
                    assert!(!reason.to_string().is_empty());
                }
                None => assert!((0x0c..=0x0f).contains(&code) || code > 0x10),
            }
        }
        assert_eq!(DisconnectReason::decode(&[0x04]), Some(DisconnectReason::TooManyPeers));
        assert_eq!(DisconnectReason::decode(&[0xc1, 0x80]), Some(DisconnectReason::Requested));
        assert_eq!(DisconnectReason::decode(&[0xc0]), None);
        assert_eq!(DisconnectReason::decode(&[]), None);
        assert_eq!(DisconnectReason::decode(&[0xc1, 0x11]), None);
    }
}
