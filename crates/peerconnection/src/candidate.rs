//! The one place where ICE candidates and SDP `a=candidate` lines convert (RFC 8839 §5.1).
//!
//! The ICE agent works with [`ferrtc_stun_ice::ice::Candidate`] (socket addresses, a checked
//! foundation); SDP and the W3C API carry [`ferrtc_sdp::Candidate`] (text fields as
//! written). Both share [`CandidateKind`], [`ferrtc_types::TcpType`] and [`Transport`] from
//! `ferrtc-types`.

use std::net::{IpAddr, SocketAddr};

use ferrtc_sdp::{CandidateTransport, CandidateType};
use ferrtc_stun_ice::ice::{self, Foundation, TransportProtocol};
use ferrtc_types::{CandidateKind, Transport};

/// Why a remote SDP candidate cannot be handed to the ICE agent.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CandidateError {
    /// The connection address is a name (e.g. an mDNS `.local` name, RFC 8839 §5.1 allows
    /// FQDNs) that this sans-IO core cannot resolve: the driver resolves it, or the pair is
    /// learned peer-reflexive from the peer's checks.
    #[error("candidate address {0:?} is a name, not an IP address")]
    Unresolved(String),
    /// A transport other than UDP or TCP.
    #[error("candidate transport is neither udp nor tcp")]
    UnsupportedTransport,
    /// A candidate type other than host, srflx, prflx and relay.
    #[error("unknown candidate type")]
    UnknownType,
    /// A TCP candidate without `tcptype` (RFC 6544 §4.5 requires it).
    #[error("tcp candidate without tcptype")]
    MissingTcpType,
    /// A foundation that is not 1 to 32 ice-chars.
    #[error("invalid candidate foundation")]
    InvalidFoundation,
    /// `raddr` that is not an IP address.
    #[error("invalid related address")]
    InvalidRelatedAddress,
}

/// The SDP form of an ICE agent's candidate.
#[must_use]
pub fn to_sdp(c: &ice::Candidate) -> ferrtc_sdp::Candidate {
    let transport = match c.protocol {
        TransportProtocol::Udp => CandidateTransport::Udp,
        TransportProtocol::Tcp(_) => CandidateTransport::Tcp,
    };
    let mut out = ferrtc_sdp::Candidate::new(
        c.foundation.to_string(),
        c.component,
        transport,
        c.priority,
        c.address.ip().to_string(),
        c.address.port(),
        CandidateType::Known(c.kind),
    );
    if let Some(r) = c.related {
        out = out.with_related(r.ip().to_string(), r.port());
    }
    if let TransportProtocol::Tcp(t) = c.protocol {
        out = out.with_tcp_type(t);
    }
    out
}

/// The ICE agent's form of a remote SDP candidate.
///
/// # Errors
/// [`CandidateError`] names what the agent cannot use.
pub fn from_sdp(c: &ferrtc_sdp::Candidate) -> Result<ice::Candidate, CandidateError> {
    let ip: IpAddr = c
        .address
        .parse()
        .map_err(|_| CandidateError::Unresolved(c.address.clone()))?;
    let address = SocketAddr::new(ip, c.port);
    let kind: CandidateKind = c.kind.kind().ok_or(CandidateError::UnknownType)?;
    let protocol = match c.transport.transport() {
        Some(Transport::Udp) => TransportProtocol::Udp,
        Some(Transport::Tcp) => {
            TransportProtocol::Tcp(c.tcp_type.ok_or(CandidateError::MissingTcpType)?)
        }
        _ => return Err(CandidateError::UnsupportedTransport),
    };
    let foundation = Foundation::new(&c.foundation).ok_or(CandidateError::InvalidFoundation)?;
    let related = match (&c.related_address, c.related_port) {
        (Some(a), Some(p)) => Some(SocketAddr::new(
            a.parse()
                .map_err(|_| CandidateError::InvalidRelatedAddress)?,
            p,
        )),
        _ => None,
    };
    Ok(ice::Candidate {
        address,
        base: address,
        kind,
        protocol,
        component: c.component,
        priority: c.priority,
        foundation,
        related,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use ferrtc_types::TcpType;

    #[test]
    fn round_trips_through_sdp_text() {
        let lines = [
            "candidate:1 1 udp 2130706431 192.0.2.1 5000 typ host",
            "candidate:842163049 1 udp 1677729535 198.51.100.7 61120 typ srflx raddr 10.0.0.2 rport 5000",
            "candidate:3 1 tcp 1518280447 2001:db8::5 9 typ host tcptype active",
            "candidate:4 1 udp 16777215 203.0.113.9 3478 typ relay raddr 198.51.100.7 rport 61120",
        ];
        for line in lines {
            let sdp = ferrtc_sdp::Candidate::parse(line).unwrap();
            let ice = from_sdp(&sdp).unwrap();
            assert_eq!(to_sdp(&ice), sdp, "{line}");
            assert_eq!(to_sdp(&ice).to_string(), line);
        }
    }

    #[test]
    fn refuses_what_the_agent_cannot_use() {
        let cases = [
            (
                "candidate:1 1 udp 2130706431 4f2c-abcd.local 5000 typ host",
                CandidateError::Unresolved("4f2c-abcd.local".into()),
            ),
            (
                "candidate:1 1 sctp 2130706431 192.0.2.1 5000 typ host",
                CandidateError::UnsupportedTransport,
            ),
            (
                "candidate:1 1 udp 2130706431 192.0.2.1 5000 typ weird",
                CandidateError::UnknownType,
            ),
            (
                "candidate:1 1 tcp 2130706431 192.0.2.1 9 typ host",
                CandidateError::MissingTcpType,
            ),
        ];
        for (line, err) in cases {
            let sdp = ferrtc_sdp::Candidate::parse(line).unwrap();
            assert_eq!(from_sdp(&sdp), Err(err), "{line}");
        }
        let tcp =
            ferrtc_sdp::Candidate::parse("candidate:1 1 tcp 1 192.0.2.1 9 typ host tcptype so")
                .unwrap();
        assert_eq!(
            from_sdp(&tcp).unwrap().protocol,
            TransportProtocol::Tcp(TcpType::So)
        );
    }
}
