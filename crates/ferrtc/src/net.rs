//! The network: UDP sockets batched through `quinn-udp`, the host addresses of this machine,
//! and ICE servers given as W3C URLs.
//!
//! [`UdpSocket`] sends with GSO and receives with GRO and `recvmmsg` where the OS allows
//! (Linux), and falls back to one datagram per call elsewhere; `quinn-udp` holds every
//! system call, so this crate needs no `unsafe` at all. [`HostAddresses`] says which local
//! addresses become host candidates. [`IceServerUrl`] parses `stun:`, `stuns:`, `turn:` and
//! `turns:` URLs (RFC 7064, RFC 7065) into typed values and resolves their host names with
//! tokio.

use std::io::{self, IoSliceMut};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::str::FromStr;

use bytes::BytesMut;
use quinn_udp::{RecvMeta, UdpSocketState};
use tokio::io::Interest;

/// The largest UDP payload one receive slot holds without GRO: an Ethernet MTU's worth plus
/// room for jumbo-ish loopback datagrams that WebRTC peers never exceed in practice
/// (browsers keep to 1200-1500 bytes).
const SLOT_SIZE: usize = 2048;

/// The most bytes of receive buffer one socket keeps: the batch is cut to fit, so a GRO
/// socket (64 segments a slot) reads fewer slots per call instead of holding megabytes.
const MAX_RECV_ARENA: usize = 256 * 1024;

/// Bytes reserved at a time for the reused buffer received datagrams are cut from.
const RECV_CHUNK: usize = 64 * 1024;

/// One UDP socket with `quinn-udp`'s batched, offloaded I/O.
#[derive(Debug)]
pub struct UdpSocket {
    io: tokio::net::UdpSocket,
    state: UdpSocketState,
    local: SocketAddr,
    /// Bound to an unspecified address: the source of what we send must be named per
    /// datagram, and the local address of what we receive comes from the packet info.
    wildcard: bool,
}

impl UdpSocket {
    /// Binds a socket. An IPv6 wildcard socket is IPv6-only, so that an IPv4 socket can sit
    /// beside it on any port.
    ///
    /// # Errors
    /// The operating system refused the socket or the address.
    pub fn bind(addr: SocketAddr) -> io::Result<UdpSocket> {
        let domain = socket2::Domain::for_address(addr);
        let socket =
            socket2::Socket::new(domain, socket2::Type::DGRAM, Some(socket2::Protocol::UDP))?;
        if addr.is_ipv6() {
            socket.set_only_v6(true)?;
        }
        socket.set_nonblocking(true)?;
        socket.bind(&addr.into())?;
        let std_socket: std::net::UdpSocket = socket.into();
        let io = tokio::net::UdpSocket::from_std(std_socket)?;
        let state = UdpSocketState::new((&io).into())?;
        let local = io.local_addr()?;
        Ok(UdpSocket {
            io,
            state,
            local,
            wildcard: addr.ip().is_unspecified(),
        })
    }

    /// The address the socket is bound to.
    #[must_use]
    pub fn local_addr(&self) -> SocketAddr {
        self.local
    }

    /// Whether the socket is bound to a wildcard address.
    #[must_use]
    pub fn is_wildcard(&self) -> bool {
        self.wildcard
    }

    /// How many equal-sized datagrams one send may carry (1 without GSO).
    #[must_use]
    pub fn max_gso_segments(&self) -> usize {
        self.state.max_gso_segments()
    }

    /// How many datagrams one receive slot may carry (1 without GRO).
    #[must_use]
    pub fn gro_segments(&self) -> usize {
        self.state.gro_segments()
    }

    /// Sends `contents` to `destination`: one datagram, or with `segment_size` several of
    /// that size (GSO). `source` picks the local address on a wildcard socket.
    ///
    /// Errors of the network (unreachable, too big) are not returned: UDP is unreliable and
    /// the protocols above retransmit; `quinn-udp` logs them.
    ///
    /// # Errors
    /// Only errors of the socket itself.
    pub async fn send(
        &self,
        source: Option<IpAddr>,
        destination: SocketAddr,
        contents: &[u8],
        segment_size: Option<usize>,
    ) -> io::Result<()> {
        let transmit = quinn_udp::Transmit {
            destination,
            ecn: None,
            contents,
            segment_size: segment_size.filter(|&s| s < contents.len()),
            src_ip: if self.wildcard { source } else { None },
        };
        loop {
            self.io.writable().await?;
            match self.io.try_io(Interest::WRITABLE, || {
                self.state.send((&self.io).into(), &transmit)
            }) {
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                other => return other,
            }
        }
    }

    /// Waits for datagrams and reads a batch of them into `buf`.
    ///
    /// # Errors
    /// Only errors of the socket itself.
    pub async fn recv(&self, buf: &mut RecvBuffer) -> io::Result<()> {
        buf.ready.clear();
        loop {
            self.io.readable().await?;
            let mut slices: Vec<IoSliceMut<'_>> = buf
                .arena
                .chunks_mut(buf.slot)
                .map(IoSliceMut::new)
                .collect();
            let res = self.io.try_io(Interest::READABLE, || {
                self.state
                    .recv((&self.io).into(), &mut slices, &mut buf.meta)
            });
            drop(slices);
            match res {
                Ok(n) => {
                    buf.split(n, self);
                    return Ok(());
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                // An ICMP error queued on the socket (port unreachable after a send):
                // nothing was read; the next call reads on.
                Err(e) if e.kind() == io::ErrorKind::ConnectionRefused => {}
                Err(e) => return Err(e),
            }
        }
    }

    /// A receive buffer sized for this socket's batch and GRO.
    #[must_use]
    pub fn recv_buffer(&self) -> RecvBuffer {
        let slot = SLOT_SIZE * self.gro_segments().max(1);
        let slots = (MAX_RECV_ARENA / slot).clamp(1, quinn_udp::BATCH_SIZE);
        RecvBuffer {
            arena: vec![0; slot * slots],
            slot,
            meta: vec![RecvMeta::default(); slots],
            pool: BytesMut::with_capacity(RECV_CHUNK),
            ready: Vec::with_capacity(slots),
        }
    }
}

/// One datagram read from a socket.
#[derive(Debug)]
pub struct Received {
    /// Our address it arrived on.
    pub local: SocketAddr,
    /// Who sent it.
    pub from: SocketAddr,
    /// The bytes, in a buffer the receiver may decrypt in place and keep slices of.
    pub datagram: BytesMut,
}

/// Where [`UdpSocket::recv`] reads: a kernel-facing arena reused for every call, and a reused
/// pool the datagrams are cut from as `BytesMut` (one copy each, sized to the datagram;
/// the pool's memory comes back once the layers above drop their slices).
#[derive(Debug)]
pub struct RecvBuffer {
    arena: Vec<u8>,
    slot: usize,
    meta: Vec<RecvMeta>,
    pool: BytesMut,
    ready: Vec<Received>,
}

impl RecvBuffer {
    /// The datagrams the last [`UdpSocket::recv`] read.
    pub fn drain(&mut self) -> std::vec::Drain<'_, Received> {
        self.ready.drain(..)
    }

    fn split(&mut self, n: usize, socket: &UdpSocket) {
        for (i, meta) in self.meta.iter().take(n).enumerate() {
            let start = i * self.slot;
            let data = &self.arena[start..start + meta.len.min(self.slot)];
            let local = if socket.wildcard {
                match meta.dst_ip {
                    Some(ip) => SocketAddr::new(ip, socket.local.port()),
                    None => socket.local,
                }
            } else {
                socket.local
            };
            let stride = if meta.stride == 0 {
                data.len().max(1)
            } else {
                meta.stride
            };
            for datagram in data.chunks(stride) {
                if self.pool.capacity() - self.pool.len() < datagram.len() {
                    self.pool.reserve(datagram.len().max(RECV_CHUNK));
                }
                self.pool.extend_from_slice(datagram);
                self.ready.push(Received {
                    local,
                    from: normalize(meta.addr),
                    datagram: self.pool.split(),
                });
            }
        }
    }
}

/// An IPv4-mapped IPv6 address as the IPv4 address it is.
fn normalize(addr: SocketAddr) -> SocketAddr {
    match addr {
        SocketAddr::V6(v6) => match v6.ip().to_ipv4_mapped() {
            Some(v4) => SocketAddr::new(IpAddr::V4(v4), v6.port()),
            None => addr,
        },
        SocketAddr::V4(_) => addr,
    }
}

/// Coalesces runs of datagrams to one destination into GSO batches.
///
/// Datagrams of one run must have the same length, except the last, which may be shorter
/// (the kernel's rule for `UDP_SEGMENT`). A run is copied once into a reused buffer; a lone
/// datagram is sent from where it lies.
#[derive(Debug, Default)]
pub(crate) struct SendBatch {
    buf: Vec<u8>,
}

impl SendBatch {
    /// Sends every transmit, in order, on the socket of its address family.
    pub(crate) async fn send_all(
        &mut self,
        sockets: &[UdpSocket],
        transmits: &[ferrtc_types::Transmit],
    ) -> io::Result<()> {
        let mut i = 0;
        while i < transmits.len() {
            let t = &transmits[i];
            let Some(socket) = pick_socket(sockets, t.source, t.destination) else {
                tracing::trace!(destination = %t.destination, "no socket of that family: dropped");
                i += 1;
                continue;
            };
            let source = t.source.map(|s| s.ip());
            let size = t.contents.len();
            let max = socket.max_gso_segments();
            let mut end = i + 1;
            if t.segment_size.is_none() && max > 1 && size > 0 {
                while end < transmits.len() && end - i < max {
                    let n = &transmits[end];
                    if n.destination != t.destination
                        || n.source != t.source
                        || n.segment_size.is_some()
                        || n.contents.len() > size
                        || n.transport != t.transport
                    {
                        break;
                    }
                    end += 1;
                    if n.contents.len() < size {
                        break;
                    }
                }
            }
            let destination = t.destination;
            if end - i == 1 {
                socket
                    .send(source, destination, &t.contents, t.segment_size)
                    .await?;
            } else {
                self.buf.clear();
                for n in &transmits[i..end] {
                    self.buf.extend_from_slice(&n.contents);
                }
                socket
                    .send(source, destination, &self.buf, Some(size))
                    .await?;
            }
            i = end;
        }
        Ok(())
    }
}

/// The socket to send from: the one bound to `source` when given, else one of the
/// destination's family.
fn pick_socket(
    sockets: &[UdpSocket],
    source: Option<SocketAddr>,
    destination: SocketAddr,
) -> Option<&UdpSocket> {
    if let Some(src) = source {
        if let Some(s) = sockets.iter().find(|s| {
            s.local.port() == src.port()
                && (s.local.ip() == src.ip() || (s.wildcard && s.local.is_ipv4() == src.is_ipv4()))
        }) {
            return Some(s);
        }
    }
    sockets
        .iter()
        .find(|s| s.local.is_ipv4() == destination.is_ipv4())
}

/// Which local addresses become host candidates.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HostAddresses {
    /// The addresses of the interfaces that are up. Loopback addresses only when
    /// `loopback` is set, or when no other interface has an address (a network namespace
    /// holding nothing but `lo`, as in CI). IPv6 link-local addresses are left out (they
    /// need a scope), and IPv6 altogether unless `ipv6` is set.
    Interfaces {
        /// Include loopback addresses.
        loopback: bool,
        /// Include IPv6 addresses.
        ipv6: bool,
    },
    /// Exactly these addresses (e.g. `127.0.0.1` for tests that must stay on loopback).
    Explicit(Vec<IpAddr>),
}

impl Default for HostAddresses {
    fn default() -> Self {
        HostAddresses::Interfaces {
            loopback: false,
            ipv6: true,
        }
    }
}

impl HostAddresses {
    /// Only `127.0.0.1`.
    #[must_use]
    pub fn loopback() -> HostAddresses {
        HostAddresses::Explicit(vec![IpAddr::V4(Ipv4Addr::LOCALHOST)])
    }

    /// The addresses this policy selects on this machine now.
    ///
    /// # Errors
    /// Listing the interfaces failed.
    pub fn resolve(&self) -> io::Result<Vec<IpAddr>> {
        match self {
            HostAddresses::Explicit(list) => Ok(list.clone()),
            HostAddresses::Interfaces { loopback, ipv6 } => {
                let all: Vec<IpAddr> = if_addrs::get_if_addrs()?
                    .into_iter()
                    .map(|i| i.ip())
                    .collect();
                Ok(select_addresses(&all, *loopback, *ipv6))
            }
        }
    }
}

/// The policy of [`HostAddresses::Interfaces`] over a list of interface addresses.
fn select_addresses(all: &[IpAddr], loopback: bool, ipv6: bool) -> Vec<IpAddr> {
    let usable = |ip: &IpAddr| match ip {
        IpAddr::V4(v4) => !v4.is_unspecified() && !v4.is_link_local(),
        IpAddr::V6(v6) => {
            ipv6 && !v6.is_unspecified() && !v6.is_unicast_link_local() && !v6.is_multicast()
        }
    };
    let mut out: Vec<IpAddr> = all
        .iter()
        .copied()
        .filter(|ip| usable(ip) && (loopback || !ip.is_loopback()))
        .collect();
    if out.is_empty() && !loopback {
        out = all
            .iter()
            .copied()
            .filter(|ip| usable(ip) && ip.is_loopback())
            .collect();
    }
    out.sort();
    out.dedup();
    out
}

/// The sockets for a set of host addresses: per address family, one bound to the address
/// when there is one, else one wildcard socket that sends from and tells apart each.
///
/// # Errors
/// Binding failed.
pub fn bind_sockets(addresses: &[IpAddr]) -> io::Result<Vec<UdpSocket>> {
    let mut sockets = Vec::new();
    for v4 in [true, false] {
        let family: Vec<IpAddr> = addresses
            .iter()
            .copied()
            .filter(|a| a.is_ipv4() == v4)
            .collect();
        let bind_ip = match family.as_slice() {
            [] => continue,
            [one] => *one,
            _ if v4 => IpAddr::V4(Ipv4Addr::UNSPECIFIED),
            _ => IpAddr::V6(Ipv6Addr::UNSPECIFIED),
        };
        sockets.push(UdpSocket::bind(SocketAddr::new(bind_ip, 0))?);
    }
    Ok(sockets)
}

/// The host candidate addresses of bound sockets: each selected address with its family's
/// port.
#[must_use]
pub fn host_candidates(addresses: &[IpAddr], sockets: &[UdpSocket]) -> Vec<SocketAddr> {
    addresses
        .iter()
        .filter_map(|ip| {
            sockets
                .iter()
                .find(|s| s.local.is_ipv4() == ip.is_ipv4())
                .map(|s| SocketAddr::new(*ip, s.local.port()))
        })
        .collect()
}

/// An ICE server as the W3C `RTCIceServer` gives it: URLs and, for TURN, credentials.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct IceServer {
    /// `stun:`, `stuns:`, `turn:` or `turns:` URLs of the one server.
    pub urls: Vec<String>,
    /// The TURN username.
    pub username: Option<String>,
    /// The TURN password.
    pub credential: Option<String>,
}

impl IceServer {
    /// A server at one URL, without credentials.
    #[must_use]
    pub fn new(url: impl Into<String>) -> IceServer {
        IceServer {
            urls: vec![url.into()],
            ..IceServer::default()
        }
    }

    /// The URLs, parsed.
    ///
    /// # Errors
    /// The first URL that does not parse.
    pub fn parsed_urls(&self) -> Result<Vec<IceServerUrl>, UrlError> {
        self.urls.iter().map(|u| u.parse()).collect()
    }
}

/// The scheme of an ICE server URL.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Scheme {
    /// `stun:` (RFC 7064): default port 3478.
    Stun,
    /// `stuns:` (RFC 7064): STUN over TLS, default port 5349.
    Stuns,
    /// `turn:` (RFC 7065): default port 3478.
    Turn,
    /// `turns:` (RFC 7065): TURN over TLS, default port 5349.
    Turns,
}

impl Scheme {
    /// Whether the server is a TURN server.
    #[must_use]
    pub const fn is_turn(self) -> bool {
        matches!(self, Scheme::Turn | Scheme::Turns)
    }

    /// Whether the server is reached over TLS.
    #[must_use]
    pub const fn is_secure(self) -> bool {
        matches!(self, Scheme::Stuns | Scheme::Turns)
    }

    /// The default port (RFC 7064 §3.2, RFC 7065 §3.2): 3478, or 5349 over TLS.
    #[must_use]
    pub const fn default_port(self) -> u16 {
        if self.is_secure() { 5349 } else { 3478 }
    }
}

/// The host part of an ICE server URL.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Host {
    /// A literal address (IPv6 written in brackets in the URL).
    Ip(IpAddr),
    /// A name to resolve.
    Name(String),
}

/// An ICE server URL, parsed (RFC 7064 §3.1, RFC 7065 §3.1):
///
/// ```text
/// stunURI = scheme ":" host [ ":" port ]
/// turnURI = scheme ":" host [ ":" port ] [ "?transport=" transport ]
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct IceServerUrl {
    /// `stun`, `stuns`, `turn` or `turns`.
    pub scheme: Scheme,
    /// The server.
    pub host: Host,
    /// The port (the scheme's default when the URL has none).
    pub port: u16,
    /// How TURN is reached: UDP by default for `turn:`, TCP for `turns:` (which is TLS over
    /// TCP); STUN is UDP, `stuns:` TLS.
    pub transport: ferrtc_types::Transport,
}

/// Why an ICE server URL did not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum UrlError {
    /// Not `stun:`, `stuns:`, `turn:` or `turns:`.
    #[error("unknown ICE server URL scheme")]
    Scheme,
    /// No host, or one that is not a name or an address.
    #[error("bad host in ICE server URL")]
    Host,
    /// A port that is not a number from 1 to 65535.
    #[error("bad port in ICE server URL")]
    Port,
    /// A query on a STUN URL, or other than `transport=udp|tcp`.
    #[error("bad query in ICE server URL")]
    Query,
    /// `turns:` with `transport=udp` (TLS runs over TCP).
    #[error("turns: URL with transport=udp")]
    TlsOverUdp,
}

impl FromStr for IceServerUrl {
    type Err = UrlError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (scheme, rest) = s.split_once(':').ok_or(UrlError::Scheme)?;
        let scheme = match scheme.to_ascii_lowercase().as_str() {
            "stun" => Scheme::Stun,
            "stuns" => Scheme::Stuns,
            "turn" => Scheme::Turn,
            "turns" => Scheme::Turns,
            _ => return Err(UrlError::Scheme),
        };
        let (authority, query) = match rest.split_once('?') {
            Some((a, q)) => (a, Some(q)),
            None => (rest, None),
        };
        let mut transport = match scheme {
            Scheme::Stun | Scheme::Turn => ferrtc_types::Transport::Udp,
            Scheme::Stuns | Scheme::Turns => ferrtc_types::Transport::Tls,
        };
        if let Some(q) = query {
            if !scheme.is_turn() {
                return Err(UrlError::Query);
            }
            let value = q
                .strip_prefix("transport=")
                .ok_or(UrlError::Query)?
                .to_ascii_lowercase();
            transport = match (value.as_str(), scheme) {
                ("udp", Scheme::Turns) => return Err(UrlError::TlsOverUdp),
                ("udp", _) => ferrtc_types::Transport::Udp,
                ("tcp", Scheme::Turns) => ferrtc_types::Transport::Tls,
                ("tcp", _) => ferrtc_types::Transport::Tcp,
                _ => return Err(UrlError::Query),
            };
        }
        let (host, port) = if let Some(v6) = authority.strip_prefix('[') {
            let (addr, after) = v6.split_once(']').ok_or(UrlError::Host)?;
            let ip: Ipv6Addr = addr.parse().map_err(|_| UrlError::Host)?;
            let port = match after {
                "" => None,
                p => Some(p.strip_prefix(':').ok_or(UrlError::Port)?),
            };
            (Host::Ip(IpAddr::V6(ip)), port)
        } else {
            let (h, p) = match authority.rsplit_once(':') {
                Some((h, p)) => (h, Some(p)),
                None => (authority, None),
            };
            let host = if let Ok(ip) = h.parse::<Ipv4Addr>() {
                Host::Ip(IpAddr::V4(ip))
            } else if !h.is_empty()
                && h.len() <= 253
                && h.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.' || b == b'_')
            {
                Host::Name(h.to_ascii_lowercase())
            } else {
                return Err(UrlError::Host);
            };
            (host, p)
        };
        let port = match port {
            None => scheme.default_port(),
            Some(p) => match p.parse::<u16>() {
                Ok(n) if n > 0 && p.bytes().all(|b| b.is_ascii_digit()) => n,
                _ => return Err(UrlError::Port),
            },
        };
        Ok(IceServerUrl {
            scheme,
            host,
            port,
            transport,
        })
    }
}

impl IceServerUrl {
    /// The server's addresses: the literal one, or what the name resolves to (tokio's
    /// `lookup_host`, which asks the system resolver on a blocking thread).
    ///
    /// # Errors
    /// The name did not resolve.
    pub async fn resolve(&self) -> io::Result<Vec<SocketAddr>> {
        match &self.host {
            Host::Ip(ip) => Ok(vec![SocketAddr::new(*ip, self.port)]),
            Host::Name(name) => Ok(tokio::net::lookup_host((name.as_str(), self.port))
                .await?
                .collect()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;

    #[test]
    fn urls_parse() {
        let u: IceServerUrl = "stun:stun.example.org".parse().unwrap();
        assert_eq!(u.scheme, Scheme::Stun);
        assert_eq!(u.host, Host::Name("stun.example.org".into()));
        assert_eq!(u.port, 3478);
        let u: IceServerUrl = "turn:192.0.2.1:19302?transport=tcp".parse().unwrap();
        assert_eq!(u.host, Host::Ip("192.0.2.1".parse().unwrap()));
        assert_eq!(u.port, 19302);
        assert_eq!(u.transport, ferrtc_types::Transport::Tcp);
        let u: IceServerUrl = "turns:[2001:db8::1]".parse().unwrap();
        assert_eq!(u.port, 5349);
        assert_eq!(u.transport, ferrtc_types::Transport::Tls);
        let u: IceServerUrl = "TURN:[2001:db8::1]:3479?transport=udp".parse().unwrap();
        assert_eq!(u.scheme, Scheme::Turn);
        assert_eq!(u.port, 3479);
        assert_eq!(u.transport, ferrtc_types::Transport::Udp);
    }

    #[test]
    fn bad_urls_are_typed() {
        assert_eq!("http://x".parse::<IceServerUrl>(), Err(UrlError::Scheme));
        assert_eq!("stun:".parse::<IceServerUrl>(), Err(UrlError::Host));
        assert_eq!("stun:h:0".parse::<IceServerUrl>(), Err(UrlError::Port));
        assert_eq!("stun:h:+1".parse::<IceServerUrl>(), Err(UrlError::Port));
        assert_eq!("stun:h:99999".parse::<IceServerUrl>(), Err(UrlError::Port));
        assert_eq!(
            "stun:h?transport=udp".parse::<IceServerUrl>(),
            Err(UrlError::Query)
        );
        assert_eq!(
            "turn:h?transport=sctp".parse::<IceServerUrl>(),
            Err(UrlError::Query)
        );
        assert_eq!(
            "turns:h?transport=udp".parse::<IceServerUrl>(),
            Err(UrlError::TlsOverUdp)
        );
        assert_eq!("turn:[::1".parse::<IceServerUrl>(), Err(UrlError::Host));
        assert_eq!("turn:a b".parse::<IceServerUrl>(), Err(UrlError::Host));
    }

    #[test]
    fn address_policy() {
        let lo: IpAddr = "127.0.0.1".parse().unwrap();
        let lo6: IpAddr = "::1".parse().unwrap();
        let eth: IpAddr = "192.0.2.7".parse().unwrap();
        let ll6: IpAddr = "fe80::1".parse().unwrap();
        let g6: IpAddr = "2001:db8::7".parse().unwrap();
        let all = [lo, lo6, eth, ll6, g6];
        assert_eq!(select_addresses(&all, false, true), vec![eth, g6]);
        assert_eq!(select_addresses(&all, false, false), vec![eth]);
        assert_eq!(select_addresses(&all, true, true), vec![lo, eth, lo6, g6]);
        // Only loopback up (CI's namespace): loopback it is.
        assert_eq!(select_addresses(&[lo, lo6], false, true), vec![lo, lo6]);
    }

    #[tokio::test]
    async fn loopback_batch_round_trip() {
        let a = UdpSocket::bind("127.0.0.1:0".parse().unwrap()).unwrap();
        let b = UdpSocket::bind("127.0.0.1:0".parse().unwrap()).unwrap();
        let dst = b.local_addr();
        let transmits: Vec<ferrtc_types::Transmit> = (0..5u8)
            .map(|i| {
                let len = if i == 4 { 50 } else { 100 };
                ferrtc_types::Transmit::udp(dst, Bytes::from(vec![i; len]))
            })
            .collect();
        let mut batch = SendBatch::default();
        batch
            .send_all(std::slice::from_ref(&a), &transmits)
            .await
            .unwrap();
        let mut buf = b.recv_buffer();
        let mut got = Vec::new();
        while got.len() < 5 {
            tokio::time::timeout(std::time::Duration::from_secs(10), b.recv(&mut buf))
                .await
                .unwrap()
                .unwrap();
            for r in buf.drain() {
                assert_eq!(r.from, a.local_addr());
                assert_eq!(r.local, dst);
                got.push(r.datagram);
            }
        }
        for (i, d) in got.iter().enumerate() {
            assert_eq!(d.len(), if i == 4 { 50 } else { 100 });
            assert!(d.iter().all(|&x| usize::from(x) == i));
        }
    }

    #[tokio::test]
    async fn wildcard_socket_reports_local_address() {
        let a = UdpSocket::bind("0.0.0.0:0".parse().unwrap()).unwrap();
        assert!(a.is_wildcard());
        let b = UdpSocket::bind("127.0.0.1:0".parse().unwrap()).unwrap();
        let to_a = SocketAddr::new(Ipv4Addr::LOCALHOST.into(), a.local_addr().port());
        b.send(None, to_a, b"hi", None).await.unwrap();
        let mut buf = a.recv_buffer();
        a.recv(&mut buf).await.unwrap();
        let r: Vec<Received> = buf.drain().collect();
        assert_eq!(r.len(), 1);
        assert_eq!(r[0].local, to_a);
        assert_eq!(&r[0].datagram[..], b"hi");
    }
}
