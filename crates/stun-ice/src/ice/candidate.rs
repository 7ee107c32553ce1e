//! ICE candidates: kinds, transports, priorities (RFC 8445 §5.1.2, RFC 6544 §4.2) and
//! foundations (RFC 8445 §5.1.1.3).

use std::fmt;
use std::net::{IpAddr, SocketAddr};

pub use ferrtc_types::{CandidateKind, TcpType, Transport};

/// The RECOMMENDED `direction-pref` of a TCP candidate (RFC 6544 §4.2): host and relayed
/// candidates prefer active, NAT-assisted (reflexive) ones prefer simultaneous open.
pub const fn direction_preference(tcp_type: TcpType, kind: CandidateKind) -> u16 {
    if kind.is_reflexive() {
        match tcp_type {
            TcpType::So => 6,
            TcpType::Active => 4,
            TcpType::Passive => 2,
        }
    } else {
        match tcp_type {
            TcpType::Active => 6,
            TcpType::Passive => 4,
            TcpType::So => 2,
        }
    }
}

/// The transport of a candidate: the shared [`Transport`] (UDP or TCP; never TLS) with, for
/// TCP, the candidate's [`TcpType`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum TransportProtocol {
    /// UDP: STUN and media travel as plain datagrams.
    Udp,
    /// TCP (RFC 6544): the driver frames each STUN and media message with a 16-bit
    /// length (RFC 4571) and owns the connections; the agent sees whole messages.
    Tcp(TcpType),
}

impl TransportProtocol {
    /// Is this TCP?
    pub const fn is_tcp(self) -> bool {
        matches!(self, TransportProtocol::Tcp(_))
    }

    /// The [`Transport`] a [`Transmit`](ferrtc_types::Transmit) on this candidate travels by.
    pub const fn transport(self) -> Transport {
        match self {
            TransportProtocol::Udp => Transport::Udp,
            TransportProtocol::Tcp(_) => Transport::Tcp,
        }
    }

    /// The TCP candidate type, for TCP.
    pub const fn tcp_type(self) -> Option<TcpType> {
        match self {
            TransportProtocol::Udp => None,
            TransportProtocol::Tcp(t) => Some(t),
        }
    }

    /// Can a local candidate on `self` be paired with a remote on `remote`?
    pub const fn pairs_with(self, remote: TransportProtocol) -> bool {
        match (self, remote) {
            (TransportProtocol::Udp, TransportProtocol::Udp) => true,
            (TransportProtocol::Tcp(l), TransportProtocol::Tcp(r)) => l.pairs_with(r),
            _ => false,
        }
    }
}

/// The highest component ID the priority formula admits (RFC 8445 §5.1.2.1: 1..=256).
pub const MAX_COMPONENT: u16 = 256;

/// The candidate priority of RFC 8445 §5.1.2.1:
/// `2^24 * type preference + 2^8 * local preference + (256 - component ID)`.
///
/// `component` is clamped to `1..=256` so the result always fits the formula.
///
/// `type_preference` is at most 126 (RFC 8445 §5.1.2.1); a larger value is clamped to it.
pub const fn priority(type_preference: u32, local_preference: u16, component: u16) -> u32 {
    let type_preference = if type_preference > 126 {
        126
    } else {
        type_preference
    };
    let component = if component == 0 {
        1
    } else if component > MAX_COMPONENT {
        MAX_COMPONENT
    } else {
        component
    };
    (type_preference << 24) + ((local_preference as u32) << 8) + (256 - component as u32)
}

/// The local preference of a UDP candidate on the `index`-th address of its family, as
/// RFC 8445 §5.1.2.1 asks: unique per candidate of one type and component, and following
/// RFC 8421 §4 the families interleave with IPv6 ahead of IPv4 at each rank. IPv6
/// link-local addresses rank below every other address.
pub fn udp_local_preference(ip: IpAddr, index: usize) -> u16 {
    let index = index.min(0x3fff) as u16;
    let rank = 65535 - 2 * index;
    match ip {
        IpAddr::V6(v6) if is_link_local_v6(ip) || v6.is_loopback() => rank.saturating_sub(0x8000),
        IpAddr::V6(_) => rank,
        IpAddr::V4(_) => rank - 1,
    }
}

/// The local preference of a relayed candidate on the `index`-th allocation of its family,
/// reached over `via` (how the TURN server is reached, not the relay-to-peer leg, which is
/// UDP). RFC 8445 §5.1.2.1 leaves local preferences to the agent and asks them to be
/// unique; §5.1.2.2 suggests preferring cheaper paths. The two top bits say the transport
/// to the server, UDP (2) above TCP (1) above TLS (0), as browsers rank their TURN relays:
/// a relay over UDP adds no head-of-line blocking, TLS adds its records too. The other 14
/// bits rank the allocations as [`udp_local_preference`] ranks addresses (IPv6 ahead of
/// IPv4 at each rank), so every value is unique per transport, family and index.
pub fn relayed_local_preference(via: ferrtc_types::Transport, ip: IpAddr, index: usize) -> u16 {
    let transport: u16 = match via {
        ferrtc_types::Transport::Udp => 2,
        ferrtc_types::Transport::Tcp => 1,
        ferrtc_types::Transport::Tls => 0,
    };
    let index = index.min(0x1fff) as u16;
    let rank = 0x3fff - 2 * index;
    let rank = match ip {
        IpAddr::V6(_) => rank,
        IpAddr::V4(_) => rank - 1,
    };
    (transport << 14) + rank
}

/// The local preference of a TCP candidate (RFC 6544 §4.2):
/// `2^13 * direction-pref + other-pref`, with other-pref `8191 - index` unique per address.
pub fn tcp_local_preference(tcp_type: TcpType, kind: CandidateKind, index: usize) -> u16 {
    let other = 8191 - index.min(8191) as u16;
    (direction_preference(tcp_type, kind) << 13) + other
}

/// The type preference of a host candidate over TCP. RFC 6544 §4.2 has UDP candidates
/// preferred over TCP ones of the same kind (TCP's retransmissions and head-of-line
/// blocking hurt real-time media) and leaves the value to the agent. 90 puts a TCP host
/// candidate below a UDP server-reflexive one (100, RFC 8445 §5.1.2.2) and above a relayed
/// one (0), where libwebrtc puts its own, so the two sides of a browser call rank pairs alike.
pub const TCP_HOST_TYPE_PREFERENCE: u32 = 90;

/// The type preference of a local candidate of `kind` on `protocol`: RFC 8445 §5.1.2.2's
/// recommended value, except a TCP host candidate, which takes
/// [`TCP_HOST_TYPE_PREFERENCE`].
pub const fn type_preference(kind: CandidateKind, protocol: TransportProtocol) -> u32 {
    match (kind, protocol) {
        (CandidateKind::Host, TransportProtocol::Tcp(_)) => TCP_HOST_TYPE_PREFERENCE,
        _ => kind.type_preference(),
    }
}

/// Is `ip` an IPv6 link-local address (fe80::/10)? RFC 8445 §6.1.2.2 pairs those only
/// with each other.
pub fn is_link_local_v6(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V6(v6) => (v6.segments()[0] & 0xffc0) == 0xfe80,
        IpAddr::V4(_) => false,
    }
}

/// Longest foundation RFC 8445 §5.1.1.3 / RFC 8839 §5.1 admit (`1*32ice-char`).
pub const MAX_FOUNDATION_LEN: usize = 32;

/// A candidate foundation: 1 to 32 `ice-char`s (ALPHA / DIGIT / "+" / "/").
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Foundation {
    len: u8,
    bytes: [u8; MAX_FOUNDATION_LEN],
}

impl Foundation {
    /// Checks `s` against the `1*32ice-char` grammar.
    pub fn new(s: &str) -> Option<Foundation> {
        let b = s.as_bytes();
        if b.is_empty() || b.len() > MAX_FOUNDATION_LEN || !b.iter().all(|&c| is_ice_char(c)) {
            return None;
        }
        let mut bytes = [0u8; MAX_FOUNDATION_LEN];
        bytes[..b.len()].copy_from_slice(b);
        Some(Foundation {
            len: b.len() as u8,
            bytes,
        })
    }

    /// A numeric foundation, as the agent assigns to its own candidates.
    pub fn from_index(index: u32) -> Foundation {
        let mut buf = [0u8; 10];
        let mut n = index;
        let mut i = buf.len();
        loop {
            i -= 1;
            buf[i] = b'0' + (n % 10) as u8;
            n /= 10;
            if n == 0 {
                break;
            }
        }
        let mut bytes = [0u8; MAX_FOUNDATION_LEN];
        let digits = &buf[i..];
        bytes[..digits.len()].copy_from_slice(digits);
        Foundation {
            len: digits.len() as u8,
            bytes,
        }
    }

    /// The foundation text.
    pub fn as_str(&self) -> &str {
        // Only ice-chars (ASCII) are ever stored, so this is valid UTF-8.
        std::str::from_utf8(&self.bytes[..self.len as usize]).unwrap_or("")
    }
}

impl fmt::Debug for Foundation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Foundation({:?})", self.as_str())
    }
}

impl fmt::Display for Foundation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// `ice-char = ALPHA / DIGIT / "+" / "/"` (RFC 8839 §5.1).
pub(crate) fn is_ice_char(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'+' || c == b'/'
}

/// What makes two local candidates share a foundation (RFC 8445 §5.1.1.3): same type,
/// same base IP address, same STUN/TURN server IP, same transport protocol.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct FoundationKey {
    /// Candidate type.
    pub kind: CandidateKind,
    /// IP address of the base.
    pub base_ip: IpAddr,
    /// IP address of the STUN or TURN server the candidate came from, if any.
    pub server_ip: Option<IpAddr>,
    /// Transport, without the TCP type (one socket family per transport).
    pub tcp: bool,
}

/// Hands out numeric foundations so that candidates with equal [`FoundationKey`]s get
/// equal foundations and others get distinct ones.
#[derive(Debug, Default, Clone)]
pub struct FoundationTable {
    keys: Vec<FoundationKey>,
}

impl FoundationTable {
    /// The foundation for `key`, assigning a new one on first sight.
    pub fn foundation(&mut self, key: FoundationKey) -> Foundation {
        let index = match self.keys.iter().position(|k| *k == key) {
            Some(i) => i,
            None => {
                self.keys.push(key);
                self.keys.len() - 1
            }
        };
        Foundation::from_index(index as u32 + 1)
    }
}

/// One ICE candidate, local or remote (RFC 8445 §5.1, Figure 5).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Candidate {
    /// The transport address of the candidate.
    pub address: SocketAddr,
    /// The base (RFC 8445 §5.1.1.1): where checks are sent from. Equal to `address` for
    /// host and relayed candidates; for remote candidates it is `address` too (unknown).
    pub base: SocketAddr,
    /// Candidate type.
    pub kind: CandidateKind,
    /// UDP or TCP with its tcptype.
    pub protocol: TransportProtocol,
    /// Component ID, 1 for RTP (and everything, with rtcp-mux and BUNDLE).
    pub component: u16,
    /// Priority (RFC 8445 §5.1.2).
    pub priority: u32,
    /// Foundation (RFC 8445 §5.1.1.3).
    pub foundation: Foundation,
    /// Related address (`raddr`/`rport`, RFC 8839 §5.1), for reflexive and relayed ones.
    pub related: Option<SocketAddr>,
}

impl Candidate {
    /// A UDP host candidate on `address` with the given local preference.
    pub fn host(
        address: SocketAddr,
        component: u16,
        local_preference: u16,
        foundation: Foundation,
    ) -> Candidate {
        Candidate {
            address,
            base: address,
            kind: CandidateKind::Host,
            protocol: TransportProtocol::Udp,
            component,
            priority: priority(
                CandidateKind::Host.type_preference(),
                local_preference,
                component,
            ),
            foundation,
            related: None,
        }
    }

    /// Is the candidate's address IPv6?
    pub fn is_ipv6(&self) -> bool {
        self.address.is_ipv6()
    }

    /// Can a local candidate `self` be paired with remote candidate `remote`
    /// (RFC 8445 §6.1.2.2; RFC 6544 §6.2)? Same component, same address family, matching
    /// transports, and IPv6 link-local only with link-local.
    pub fn can_pair_with(&self, remote: &Candidate) -> bool {
        self.component == remote.component
            && self.address.is_ipv4() == remote.address.is_ipv4()
            && self.protocol.pairs_with(remote.protocol)
            && is_link_local_v6(self.address.ip()) == is_link_local_v6(remote.address.ip())
    }

    /// Writes the candidate in the RFC 8839 §5.1 attribute-value form (without the
    /// `a=` prefix and the `candidate:` name), e.g.
    /// `1 1 udp 2130706431 192.0.2.1 5000 typ host`.
    pub fn to_sdp_value(&self) -> String {
        let mut s = format!(
            "{} {} {} {} {} {} typ {}",
            self.foundation,
            self.component,
            if self.protocol.is_tcp() { "tcp" } else { "udp" },
            self.priority,
            self.address.ip(),
            self.address.port(),
            self.kind
        );
        if let Some(r) = self.related {
            s.push_str(&format!(" raddr {} rport {}", r.ip(), r.port()));
        }
        if let TransportProtocol::Tcp(t) = self.protocol {
            s.push_str(" tcptype ");
            s.push_str(t.as_str());
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::{Ipv4Addr, Ipv6Addr};

    fn v4(port: u16) -> SocketAddr {
        SocketAddr::new(IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1)), port)
    }

    #[test]
    fn priority_formula_matches_rfc_8445_5_1_2_1() {
        // host, local pref 65535, component 1: 126<<24 | 65535<<8 | 255.
        assert_eq!(priority(126, 65535, 1), 2_130_706_431);
        assert_eq!(priority(126, 65535, 1), 0x7eff_ffff);
        // srflx, component 2.
        assert_eq!(priority(100, 65535, 2), (100 << 24) + (65535 << 8) + 254);
        // relay has type preference 0.
        assert_eq!(priority(0, 1, 1), 256 + 255);
        // Component is clamped into the formula's domain instead of overflowing.
        assert_eq!(priority(0, 0, 0), 255);
        assert_eq!(priority(0, 0, 1000), 0);
    }

    #[test]
    fn type_preferences_are_the_recommended_ones_and_ordered() {
        assert_eq!(CandidateKind::Host.type_preference(), 126);
        assert_eq!(CandidateKind::PeerReflexive.type_preference(), 110);
        assert_eq!(CandidateKind::ServerReflexive.type_preference(), 100);
        assert_eq!(CandidateKind::Relayed.type_preference(), 0);
    }

    #[test]
    fn local_preference_is_unique_and_interleaves_families() {
        let a6: IpAddr = "2001:db8::1".parse().unwrap();
        let a4: IpAddr = "192.0.2.1".parse().unwrap();
        let ll: IpAddr = "fe80::1".parse().unwrap();
        let mut seen = std::collections::HashSet::new();
        for i in 0..50 {
            assert!(seen.insert(udp_local_preference(a6, i)));
            assert!(seen.insert(udp_local_preference(a4, i)));
        }
        assert_eq!(udp_local_preference(a6, 0), 65535);
        assert_eq!(udp_local_preference(a4, 0), 65534);
        assert!(udp_local_preference(a4, 0) > udp_local_preference(a6, 1));
        assert!(udp_local_preference(ll, 0) < udp_local_preference(a4, 100));
        // Never panics on absurd indexes.
        let _ = udp_local_preference(a4, usize::MAX);
        let _ = udp_local_preference(ll, usize::MAX);
    }

    #[test]
    fn relayed_local_preference_ranks_udp_over_tcp_over_tls() {
        use ferrtc_types::Transport;
        let v4: IpAddr = "192.0.2.1".parse().unwrap();
        let v6: IpAddr = "2001:db8::1".parse().unwrap();
        let mut seen = std::collections::HashSet::new();
        for via in [Transport::Udp, Transport::Tcp, Transport::Tls] {
            for i in 0..100 {
                assert!(seen.insert(relayed_local_preference(via, v4, i)));
                assert!(seen.insert(relayed_local_preference(via, v6, i)));
            }
        }
        // Whatever the index, a UDP relay beats a TCP one, which beats a TLS one.
        let worst_udp = relayed_local_preference(Transport::Udp, v4, usize::MAX);
        let best_tcp = relayed_local_preference(Transport::Tcp, v6, 0);
        let worst_tcp = relayed_local_preference(Transport::Tcp, v4, usize::MAX);
        let best_tls = relayed_local_preference(Transport::Tls, v6, 0);
        assert!(worst_udp > best_tcp && worst_tcp > best_tls);
        assert_eq!(relayed_local_preference(Transport::Udp, v6, 0), 0xbfff);
        assert_eq!(relayed_local_preference(Transport::Tls, v4, usize::MAX), 0);
    }

    #[test]
    fn tcp_local_preference_matches_rfc_6544_4_2() {
        assert_eq!(
            tcp_local_preference(TcpType::Active, CandidateKind::Host, 0),
            (6 << 13) + 8191
        );
        assert_eq!(
            tcp_local_preference(TcpType::Passive, CandidateKind::Host, 1),
            (4 << 13) + 8190
        );
        assert_eq!(
            tcp_local_preference(TcpType::So, CandidateKind::ServerReflexive, 0),
            (6 << 13) + 8191
        );
        let _ = tcp_local_preference(TcpType::Active, CandidateKind::Host, usize::MAX);
    }

    #[test]
    fn tcp_host_candidates_rank_below_udp_server_reflexive_and_above_relayed() {
        let tcp = |t| {
            priority(
                type_preference(CandidateKind::Host, TransportProtocol::Tcp(t)),
                tcp_local_preference(t, CandidateKind::Host, 0),
                1,
            )
        };
        let srflx = priority(
            type_preference(CandidateKind::ServerReflexive, TransportProtocol::Udp),
            0,
            1,
        );
        let relayed = priority(
            type_preference(CandidateKind::Relayed, TransportProtocol::Udp),
            65535,
            1,
        );
        let udp_host = priority(
            type_preference(CandidateKind::Host, TransportProtocol::Udp),
            0,
            1,
        );
        for t in [TcpType::Active, TcpType::Passive, TcpType::So] {
            assert!(tcp(t) < srflx, "{t:?} TCP host outranks UDP srflx");
            assert!(tcp(t) > relayed, "{t:?} TCP host below relayed");
            assert!(tcp(t) < udp_host);
        }
        assert_eq!(tcp(TcpType::Active) >> 24, 90);
    }

    #[test]
    fn tcp_types_pair_as_rfc_6544_says() {
        use TcpType::*;
        assert!(Active.pairs_with(Passive));
        assert!(Passive.pairs_with(Active));
        assert!(So.pairs_with(So));
        assert!(!Active.pairs_with(Active));
        assert!(!Passive.pairs_with(Passive));
        assert!(!TransportProtocol::Udp.pairs_with(TransportProtocol::Tcp(Passive)));
    }

    #[test]
    fn foundations_follow_rfc_8445_5_1_1_3() {
        let mut t = FoundationTable::default();
        let ip: IpAddr = "192.0.2.1".parse().unwrap();
        let key = FoundationKey {
            kind: CandidateKind::Host,
            base_ip: ip,
            server_ip: None,
            tcp: false,
        };
        let f1 = t.foundation(key);
        assert_eq!(t.foundation(key), f1);
        let f2 = t.foundation(FoundationKey { tcp: true, ..key });
        assert_ne!(f1, f2);
        let srflx = FoundationKey {
            kind: CandidateKind::ServerReflexive,
            server_ip: Some("198.51.100.1".parse().unwrap()),
            ..key
        };
        let f3 = t.foundation(srflx);
        assert_ne!(f3, f1);
        let other_server = FoundationKey {
            server_ip: Some("198.51.100.2".parse().unwrap()),
            ..srflx
        };
        assert_ne!(t.foundation(other_server), f3);
        assert_eq!(f1.as_str(), "1");
    }

    #[test]
    fn foundation_grammar() {
        assert!(Foundation::new("").is_none());
        assert!(Foundation::new("abc+/09").is_some());
        assert!(Foundation::new("a b").is_none());
        assert!(Foundation::new(&"a".repeat(32)).is_some());
        assert!(Foundation::new(&"a".repeat(33)).is_none());
        assert_eq!(Foundation::from_index(0).as_str(), "0");
        assert_eq!(Foundation::from_index(4_294_967_295).as_str(), "4294967295");
    }

    #[test]
    fn pairing_rules() {
        let f = Foundation::from_index(1);
        let l4 = Candidate::host(v4(1), 1, 65535, f.clone());
        let r4 = Candidate::host(v4(2), 1, 65535, f.clone());
        let r6 = Candidate::host(
            SocketAddr::new(IpAddr::V6(Ipv6Addr::LOCALHOST), 2),
            1,
            65535,
            f.clone(),
        );
        let ll = Candidate::host("[fe80::1]:3".parse().unwrap(), 1, 65535, f.clone());
        let g6 = Candidate::host("[2001:db8::2]:3".parse().unwrap(), 1, 65535, f.clone());
        assert!(l4.can_pair_with(&r4));
        assert!(!l4.can_pair_with(&r6));
        assert!(!ll.can_pair_with(&g6));
        assert!(ll.can_pair_with(&ll));
        let r4c2 = Candidate {
            component: 2,
            ..r4.clone()
        };
        assert!(!l4.can_pair_with(&r4c2));
    }

    #[test]
    fn sdp_value() {
        let mut c = Candidate::host(v4(5000), 1, 65535, Foundation::from_index(1));
        assert_eq!(
            c.to_sdp_value(),
            "1 1 udp 2130706431 192.0.2.1 5000 typ host"
        );
        c.kind = CandidateKind::ServerReflexive;
        c.related = Some(v4(6000));
        c.protocol = TransportProtocol::Tcp(TcpType::Passive);
        assert_eq!(
            c.to_sdp_value(),
            "1 1 tcp 2130706431 192.0.2.1 5000 typ srflx raddr 192.0.2.1 rport 6000 tcptype passive"
        );
    }
}
