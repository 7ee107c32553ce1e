//! Transports, candidate kinds and the one [`Transmit`].

use core::fmt;
use std::net::SocketAddr;

use bytes::Bytes;

/// How a [`Transmit`] travels, and the transport of an ICE candidate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Transport {
    /// One UDP datagram.
    Udp,
    /// One message on the TCP connection between source and destination. For ICE-TCP the
    /// driver frames it with a 16-bit length (RFC 6544 §3, RFC 4571); for TURN over TCP the
    /// contents are the next bytes of the stream, already framed.
    Tcp,
    /// The next bytes of the TLS stream to the destination (TURN over TLS, RFC 8656 §3.1).
    Tls,
}

impl Transport {
    /// Whether the transport is a byte stream (TCP or TLS).
    #[must_use]
    pub const fn is_stream(self) -> bool {
        matches!(self, Transport::Tcp | Transport::Tls)
    }
}

/// The TCP candidate type (RFC 6544 §4.5 `tcptype`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum TcpType {
    /// `active`: opens outgoing connections, never accepts.
    Active,
    /// `passive`: accepts incoming connections, never opens.
    Passive,
    /// `so`: simultaneous open.
    So,
}

impl TcpType {
    /// The SDP token (RFC 6544 §4.5).
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            TcpType::Active => "active",
            TcpType::Passive => "passive",
            TcpType::So => "so",
        }
    }

    /// The type an SDP token names, matched without regard to case.
    #[must_use]
    pub fn from_token(token: &str) -> Option<TcpType> {
        [TcpType::Active, TcpType::Passive, TcpType::So]
            .into_iter()
            .find(|t| t.as_str().eq_ignore_ascii_case(token))
    }

    /// Can a local candidate of this type be paired with a remote one of type `remote`
    /// (RFC 6544 §6.2)? Active with passive, passive with active, S-O with S-O.
    #[must_use]
    pub const fn pairs_with(self, remote: TcpType) -> bool {
        matches!(
            (self, remote),
            (TcpType::Active, TcpType::Passive)
                | (TcpType::Passive, TcpType::Active)
                | (TcpType::So, TcpType::So)
        )
    }
}

impl fmt::Display for TcpType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An ICE candidate type (RFC 8445 §5.1.1; SDP `cand-type`, RFC 8839 §5.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum CandidateKind {
    /// `host`: an address of a local interface.
    Host,
    /// `srflx`: our address as a STUN or TURN server saw it.
    ServerReflexive,
    /// `prflx`: our (or the peer's) address as the peer's checks saw it.
    PeerReflexive,
    /// `relay`: an address allocated on a TURN server.
    Relayed,
}

impl CandidateKind {
    /// The SDP token: `host`, `srflx`, `prflx` or `relay`.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            CandidateKind::Host => "host",
            CandidateKind::ServerReflexive => "srflx",
            CandidateKind::PeerReflexive => "prflx",
            CandidateKind::Relayed => "relay",
        }
    }

    /// The kind an SDP token names, matched without regard to case.
    #[must_use]
    pub fn from_token(token: &str) -> Option<CandidateKind> {
        [
            CandidateKind::Host,
            CandidateKind::ServerReflexive,
            CandidateKind::PeerReflexive,
            CandidateKind::Relayed,
        ]
        .into_iter()
        .find(|k| k.as_str().eq_ignore_ascii_case(token))
    }

    /// The recommended type preference (RFC 8445 §5.1.2.2): host 126, peer-reflexive 110,
    /// server-reflexive 100, relayed 0.
    #[must_use]
    pub const fn type_preference(self) -> u32 {
        match self {
            CandidateKind::Host => 126,
            CandidateKind::PeerReflexive => 110,
            CandidateKind::ServerReflexive => 100,
            CandidateKind::Relayed => 0,
        }
    }

    /// Is this a reflexive candidate (sent from its base, never bound itself)?
    #[must_use]
    pub const fn is_reflexive(self) -> bool {
        matches!(
            self,
            CandidateKind::ServerReflexive | CandidateKind::PeerReflexive
        )
    }
}

impl fmt::Display for CandidateKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Something a state machine asks its driver to send: the one output shape of every
/// `poll_transmit` in ferrtc.
///
/// Layers that sit on a network path (ICE, TURN) fill in the addresses they chose. Layers
/// that ride inside another (DTLS over ICE, SCTP over DTLS) address the peer they last heard
/// from or were told to connect to, and leave `source` as `None`: the layer below picks
/// the path.
#[derive(Clone, PartialEq, Eq)]
pub struct Transmit {
    /// The local address to send from, when the layer chose one (an ICE candidate's base).
    pub source: Option<SocketAddr>,
    /// Where to send it.
    pub destination: SocketAddr,
    /// UDP datagram, or bytes of a TCP or TLS stream.
    pub transport: Transport,
    /// The bytes. With `segment_size` set, several datagrams back to back.
    pub contents: Bytes,
    /// When set, `contents` is a batch of datagrams of this size (the last may be shorter),
    /// for the driver to hand to the kernel in one call with UDP GSO; `None` means one
    /// datagram (or one stream write).
    pub segment_size: Option<usize>,
}

impl Transmit {
    /// One UDP datagram from an unspecified local address.
    #[must_use]
    pub fn udp(destination: SocketAddr, contents: Bytes) -> Transmit {
        Transmit {
            source: None,
            destination,
            transport: Transport::Udp,
            contents,
            segment_size: None,
        }
    }

    /// The datagrams in `contents`: one, or `segment_size` chunks.
    pub fn datagrams(&self) -> impl Iterator<Item = &[u8]> {
        let size = self
            .segment_size
            .filter(|&s| s > 0)
            .unwrap_or(self.contents.len().max(1));
        self.contents.chunks(size)
    }
}

impl fmt::Debug for Transmit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Transmit")
            .field("source", &self.source)
            .field("destination", &self.destination)
            .field("transport", &self.transport)
            .field("len", &self.contents.len())
            .field("segment_size", &self.segment_size)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_round_trip() {
        for t in [TcpType::Active, TcpType::Passive, TcpType::So] {
            assert_eq!(TcpType::from_token(&t.as_str().to_uppercase()), Some(t));
        }
        assert!(TcpType::Active.pairs_with(TcpType::Passive));
        assert!(!TcpType::Active.pairs_with(TcpType::So));
        for k in [
            CandidateKind::Host,
            CandidateKind::ServerReflexive,
            CandidateKind::PeerReflexive,
            CandidateKind::Relayed,
        ] {
            assert_eq!(CandidateKind::from_token(k.as_str()), Some(k));
        }
        assert_eq!(CandidateKind::from_token("other"), None);
    }

    #[test]
    fn datagrams_split_by_segment_size() {
        let dst: SocketAddr = "127.0.0.1:9".parse().unwrap();
        let mut t = Transmit::udp(dst, Bytes::from_static(&[1, 2, 3, 4, 5]));
        assert_eq!(t.datagrams().count(), 1);
        t.segment_size = Some(2);
        let parts: Vec<&[u8]> = t.datagrams().collect();
        assert_eq!(parts, vec![&[1, 2][..], &[3, 4], &[5]]);
        assert!(format!("{t:?}").contains("len: 5"));
    }
}
