//! The Hello message (rlpx.md, "Hello (0x00)"): the first message each side sends.

use rlp::{Rlp, RlpStream};

use crate::capability::AdvertisedCapability;
use crate::error::{Error, Result};
use crate::node_key::NodeId;

/// The p2p protocol version we speak: 5, where every message after Hello is
/// snappy-compressed.
pub const P2P_VERSION: u64 = 5;

/// The largest Hello (and any message before it) we read, 2 KiB: go-ethereum's bound on
/// base protocol messages; a Hello is a client id and a few capabilities.
pub const MAX_HELLO_BYTES: usize = 2 * 1024;

/// A Hello message: who the node is and what it speaks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hello {
    /// The p2p version ([`P2P_VERSION`] for us; snappy is used when both say at least 5).
    pub protocol_version: u64,
    /// Free-form client name, e.g. "Geth/v1.13.2-stable/linux-amd64/go1.21.1".
    pub client_id: String,
    /// The capabilities it speaks.
    pub capabilities: Vec<AdvertisedCapability>,
    /// The port it listens on (0: none; informational only).
    pub listen_port: u64,
    /// Its node id, which must be the key the handshake proved.
    pub id: NodeId,
}

impl Hello {
    /// The message payload: `rlp([version, client-id, [[cap, version], ...], port, id])`.
    pub fn encode(&self) -> Vec<u8> {
        let mut s = RlpStream::new_list(5);
        s.append(&self.protocol_version);
        s.append(&self.client_id.as_str());
        s.begin_list(self.capabilities.len());
        for cap in &self.capabilities {
            s.begin_list(2);
            s.append(&cap.name.as_str());
            s.append(&cap.version);
        }
        s.append(&self.listen_port);
        s.append(&self.id.as_bytes().as_slice());
        s.out().to_vec()
    }

    /// Reads a Hello payload; extra list elements are ignored (forward compatibility).
    pub fn decode(payload: &[u8]) -> Result<Self> {
        let malformed = |source| Error::MalformedMessage { message: "Hello", source };
        let rlp = Rlp::new(payload);
        if !rlp.is_list() {
            return Err(malformed(rlp::DecoderError::RlpExpectedToBeList));
        }
        let protocol_version: u64 = rlp.val_at(0).map_err(malformed)?;
        let client_id =
            String::from_utf8_lossy(rlp.at(1).and_then(|r| r.data()).map_err(malformed)?).into_owned();
        let caps = rlp.at(2).map_err(malformed)?;
        if !caps.is_list() {
            return Err(malformed(rlp::DecoderError::RlpExpectedToBeList));
        }
        let mut capabilities = Vec::new();
        for cap in caps.iter() {
            let name = cap.at(0).and_then(|r| r.data()).map_err(malformed)?;
            let version: u32 = cap.val_at(1).map_err(malformed)?;
            capabilities
                .push(AdvertisedCapability { name: String::from_utf8_lossy(name).into_owned(), version });
        }
        let listen_port: u64 = rlp.val_at(3).map_err(malformed)?;
        let id = rlp.at(4).and_then(|r| r.data()).map_err(malformed)?;
        let id = NodeId(id.try_into().map_err(|_| Error::InvalidNodeId)?);
        Ok(Hello { protocol_version, client_id, capabilities, listen_port, id })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::NodeKey;

    fn hello() -> Hello {
        Hello {
            protocol_version: P2P_VERSION,
            client_id: "statesync/test".into(),
            capabilities: vec![
                AdvertisedCapability { name: "eth".into(), version: 68 },
                AdvertisedCapability { name: "snap".into(), version: 1 },
            ],
            listen_port: 30303,
            id: NodeKey::generate().id(),
        }
    }

    #[test]
    fn round_trip_and_extra_fields() {
        let h = hello();
        assert_eq!(Hello::decode(&h.encode()).unwrap(), h);
        // An extra element appended to the list is ignored.
        let mut s = RlpStream::new_list(6);
        let inner = Rlp::new(&h.encode()[..]).iter().map(|r| r.as_raw().to_vec()).collect::<Vec<_>>();
        for raw in &inner {
            s.append_raw(raw, 1);
        }
        s.append(&"future");
        assert_eq!(Hello::decode(&s.out()).unwrap(), h);
    }

    #[test]
    fn malformed_is_refused() {
        assert!(matches!(Hello::decode(&[0x80]), Err(Error::MalformedMessage { .. })));
        assert!(matches!(Hello::decode(&[0xc1, 0x05]), Err(Error::MalformedMessage { .. })));
        let mut h = hello().encode();
        let n = h.len();
        h.truncate(n - 1);
        assert!(Hello::decode(&h).is_err());
        // A 63-byte id.
        let mut s = RlpStream::new_list(5);
        s.append(&5u64).append(&"x").begin_list(0);
        s.append(&0u64).append(&[1u8; 63].as_slice());
        assert!(matches!(Hello::decode(&s.out()), Err(Error::InvalidNodeId)));
    }

    proptest::proptest! {
        #[test]
        fn decode_never_panics(bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..300)) {
            let _ = Hello::decode(&bytes);
        }

        #[test]
        fn decode_of_mutated_hello_never_panics(pos in 0usize..200, byte in proptest::prelude::any::<u8>()) {
            let mut h = hello().encode();
            let at = pos % h.len();
            h[at] = byte;
            let _ = Hello::decode(&h);
        }
    }
}
