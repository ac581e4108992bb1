//! `enode://<node id>@<ip>:<port>` addresses of peers.

use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::str::FromStr;

use crate::error::EnodeError;
use crate::node_key::NodeId;

/// Where a node is and who it is: what we need to dial it and authenticate it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Enode {
    /// The node's public key; the handshake proves the remote holds its secret.
    pub id: NodeId,
    /// Its TCP address (IP only: names are not resolved here).
    pub addr: SocketAddr,
}

impl fmt::Display for Enode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // SocketAddr's Display brackets IPv6 hosts, as the URL form needs.
        write!(f, "enode://{}@{}", self.id, self.addr)
    }
}

impl FromStr for Enode {
    type Err = EnodeError;

    /// Parses `enode://<128 hex>@<ip>:<port>`, with an optional `?discport=N` that is
    /// accepted and ignored (discovery is not our business).
    fn from_str(s: &str) -> Result<Self, EnodeError> {
        let rest = s.strip_prefix("enode://").ok_or(EnodeError::MissingScheme)?;
        let (id, addr) = rest.split_once('@').ok_or(EnodeError::MissingAddress)?;
        let id: NodeId = id.parse()?;
        let addr = match addr.split_once('?') {
            None => addr,
            Some((addr, query)) => {
                let port = query.strip_prefix("discport=");
                if port.and_then(|p| p.parse::<u16>().ok()).is_none() {
                    return Err(EnodeError::BadQuery { query: query.to_string() });
                }
                addr
            }
        };
        Ok(Enode { id, addr: parse_addr(addr)? })
    }
}

/// Parses `ip:port` or `[ipv6]:port` with typed errors for each way it can be wrong.
fn parse_addr(addr: &str) -> Result<SocketAddr, EnodeError> {
    let (host, port) = if let Some(bracketed) = addr.strip_prefix('[') {
        let (host, after) =
            bracketed.split_once(']').ok_or_else(|| EnodeError::NotAnIp { host: addr.to_string() })?;
        let port =
            after.strip_prefix(':').ok_or_else(|| EnodeError::MissingPort { addr: addr.to_string() })?;
        (host, port)
    } else {
        addr.rsplit_once(':').ok_or_else(|| EnodeError::MissingPort { addr: addr.to_string() })?
    };
    if port.is_empty() {
        return Err(EnodeError::MissingPort { addr: addr.to_string() });
    }
    let port: u16 = port.parse().map_err(|_| EnodeError::BadPort { port: port.to_string() })?;
    let ip: IpAddr = host.parse().map_err(|_| EnodeError::NotAnIp { host: host.to_string() })?;
    Ok(SocketAddr::new(ip, port))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::NodeKey;

    #[test]
    fn parses_and_prints() {
        let id = NodeKey::generate().id();
        let text = format!("enode://{id}@127.0.0.1:30303");
        let enode: Enode = text.parse().unwrap();
        assert_eq!(enode.id, id);
        assert_eq!(enode.addr, "127.0.0.1:30303".parse().unwrap());
        assert_eq!(enode.to_string(), text);

        let with_disc: Enode = format!("{text}?discport=30301").parse().unwrap();
        assert_eq!(with_disc, enode);

        let v6: Enode = format!("enode://{id}@[::1]:30303").parse().unwrap();
        assert_eq!(v6.to_string(), format!("enode://{id}@[::1]:30303"));
    }

    #[test]
    fn rejects_malformed() {
        let id = NodeKey::generate().id();
        let cases = [
            (format!("enr://{id}@1.2.3.4:1"), EnodeError::MissingScheme),
            (format!("enode://{id}"), EnodeError::MissingAddress),
            (format!("enode://{}@1.2.3.4:1", &id.to_string()[2..]), EnodeError::WrongLength { got: 126 }),
            (format!("enode://{}x@1.2.3.4:1", &id.to_string()[1..]), EnodeError::BadHex),
            (format!("enode://{}@1.2.3.4:1", "11".repeat(64)), EnodeError::NotOnCurve),
            (format!("enode://{id}@1.2.3.4"), EnodeError::MissingPort { addr: "1.2.3.4".into() }),
            (format!("enode://{id}@1.2.3.4:"), EnodeError::MissingPort { addr: "1.2.3.4:".into() }),
            (format!("enode://{id}@1.2.3.4:70000"), EnodeError::BadPort { port: "70000".into() }),
            (format!("enode://{id}@example.org:1"), EnodeError::NotAnIp { host: "example.org".into() }),
            (format!("enode://{id}@1.2.3.4:1?foo=1"), EnodeError::BadQuery { query: "foo=1".into() }),
        ];
        for (text, want) in cases {
            assert_eq!(text.parse::<Enode>(), Err(want), "{text}");
        }
    }
}
