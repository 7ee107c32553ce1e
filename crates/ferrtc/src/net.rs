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

/// The most bytes of the receive arena one thread keeps: the batch is cut to fit, so a GRO
/// socket (64 segments a slot) reads fewer slots per call instead of holding megabytes.
const MAX_RECV_ARENA: usize = 256 * 1024;

/// The most payload bytes one GSO send carries: what one IP packet's length field can say,
/// 65,535 bytes less a 40-byte IPv6 header (RFC 8200 §3; IPv4's 20 bytes leave more) and the
/// 8-byte UDP header (RFC 768). The Linux kernel here (6.18) takes longer runs on loopback,
/// but whether every kernel and device does is not known to us, and a refused run is lost
/// whole (`quinn-udp` swallows `EMSGSIZE`); the cap costs one more system call per 54
/// datagrams of 1,200 bytes.
const MAX_GSO_BYTES: usize = 65_535 - 40 - 8;

/// The most bytes allocated at once for the datagrams of one batch; a batch that holds more
/// is copied into several such blocks.
const RECV_CHUNK: usize = 64 * 1024;

/// Where the kernel writes a batch: one arena per thread, not per socket.
///
/// The arena is borrowed only inside [`UdpSocket::try_recv`], which runs to its end without
/// an `.await` (the system call, then copying each datagram out and handing it on), so every
/// socket a thread serves can share it: a thousand idle connections hold no receive buffer
/// at all, and the arena's pages are the ones the last batch touched (hot in cache).
#[derive(Default)]
struct Arena {
    bytes: Vec<u8>,
    meta: Vec<RecvMeta>,
}

thread_local! {
    static ARENA: std::cell::RefCell<Arena> = std::cell::RefCell::new(Arena::default());
}

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

    /// Asks the kernel for a receive buffer of `bytes`; returns what it granted (Linux caps
    /// the request at `net.core.rmem_max` and reports twice the size, its bookkeeping
    /// included).
    ///
    /// # Errors
    /// The operating system refused the option.
    pub(crate) fn set_recv_buffer_size(&self, bytes: usize) -> io::Result<usize> {
        let s = socket2::SockRef::from(&self.io);
        s.set_recv_buffer_size(bytes)?;
        s.recv_buffer_size()
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

    /// Waits until the socket may have datagrams to read.
    ///
    /// # Errors
    /// Only errors of the socket itself.
    pub async fn readable(&self) -> io::Result<()> {
        self.io.readable().await
    }

    /// Reads one batch of datagrams without waiting and hands each to `deliver`, in the
    /// order they arrived; returns how many were handed on. `Ok(0)`: nothing to read now
    /// (wait with [`UdpSocket::readable`]), or only an ICMP error was queued.
    ///
    /// The kernel writes into a receive arena shared by every socket of this thread; each
    /// datagram is then copied once into a block allocated for the rest of the batch (at
    /// most `RECV_CHUNK` bytes at a time) and handed on as a `BytesMut` of its own, which
    /// the receiver may decrypt in place and keep slices of. Nothing stays allocated per
    /// socket between batches: a block is freed once the layers above drop their slices.
    ///
    /// # Errors
    /// Only errors of the socket itself.
    pub fn try_recv(&self, mut deliver: impl FnMut(Received)) -> io::Result<usize> {
        let slot = SLOT_SIZE * self.gro_segments().max(1);
        let slots = (MAX_RECV_ARENA / slot).clamp(1, quinn_udp::BATCH_SIZE);
        let arena = ARENA.try_with(|cell| {
            // Never borrowed across an await nor re-entered (deliver hands datagrams to a
            // sans-IO core, which knows nothing of sockets): the borrow cannot fail, but
            // if it ever did, a fresh arena for this one call is correct, only slower.
            let mut fresh;
            let mut guard = cell.try_borrow_mut();
            let arena: &mut Arena = match &mut guard {
                Ok(a) => a,
                Err(_) => {
                    fresh = Arena::default();
                    &mut fresh
                }
            };
            self.read_batch(arena, slot, slots, &mut deliver)
        });
        match arena {
            Ok(res) => res,
            // The thread is shutting down (its thread-locals are gone).
            Err(_) => self.read_batch(&mut Arena::default(), slot, slots, &mut deliver),
        }
    }

    fn read_batch(
        &self,
        arena: &mut Arena,
        slot: usize,
        slots: usize,
        deliver: &mut impl FnMut(Received),
    ) -> io::Result<usize> {
        if arena.bytes.len() < slot * slots {
            arena.bytes.resize(slot * slots, 0);
        }
        if arena.meta.len() < slots {
            arena.meta.resize(slots, RecvMeta::default());
        }
        let Arena { bytes, meta } = arena;
        let mut chunks = bytes.chunks_mut(slot);
        let mut slices: [IoSliceMut<'_>; quinn_udp::BATCH_SIZE] =
            std::array::from_fn(|_| IoSliceMut::new(chunks.next().unwrap_or(&mut [])));
        let res = self.io.try_io(Interest::READABLE, || {
            self.state
                .recv((&self.io).into(), &mut slices[..slots], &mut meta[..slots])
        });
        let n = match res {
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(0),
            // An ICMP error queued on the socket (port unreachable after a send): nothing
            // was read; the next call reads on.
            Err(e) if e.kind() == io::ErrorKind::ConnectionRefused => return Ok(0),
            Err(e) => return Err(e),
        };
        let meta = &meta[..n];
        let mut left: usize = meta.iter().map(|m| m.len.min(slot)).sum();
        let mut block = BytesMut::new();
        let mut count = 0;
        for (i, m) in meta.iter().enumerate() {
            let start = i * slot;
            let data = &bytes[start..start + m.len.min(slot)];
            let local = match (self.wildcard, m.dst_ip) {
                (true, Some(ip)) => SocketAddr::new(ip, self.local.port()),
                _ => self.local,
            };
            let from = normalize(m.addr);
            let stride = if m.stride == 0 {
                data.len().max(1)
            } else {
                m.stride
            };
            for datagram in data.chunks(stride) {
                if block.capacity() < datagram.len() {
                    block = BytesMut::with_capacity(left.min(RECV_CHUNK).max(datagram.len()));
                }
                block.extend_from_slice(datagram);
                left -= datagram.len();
                count += 1;
                deliver(Received {
                    local,
                    from,
                    datagram: block.split(),
                });
            }
        }
        Ok(count)
    }

    /// Waits for datagrams and hands a batch of them to `deliver` (see
    /// [`UdpSocket::try_recv`]); returns how many.
    ///
    /// # Errors
    /// Only errors of the socket itself.
    pub async fn recv(&self, mut deliver: impl FnMut(Received)) -> io::Result<usize> {
        loop {
            self.readable().await?;
            let n = self.try_recv(&mut deliver)?;
            if n > 0 {
                return Ok(n);
            }
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

/// Sends what a sans-IO core yields, coalescing runs of datagrams to one destination into
/// GSO batches.
///
/// Datagrams of one run must have the same length, except the last, which may be shorter
/// (the kernel's rule for `UDP_SEGMENT`). A run is copied once into a send buffer shared by
/// the sockets of this thread (it is borrowed only for the system call, never across an
/// `.await`); a lone datagram is sent from where it lies. The batcher itself keeps nothing
/// between calls but an empty list, so an idle connection holds no send buffer.
#[derive(Debug, Default)]
pub(crate) struct SendBatch {
    run: Vec<ferrtc_types::Transmit>,
}

thread_local! {
    static SEND_SCRATCH: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
}

impl SendBatch {
    /// Sends every transmit `next` yields, in order, on the socket of its address family,
    /// until it yields `None`.
    pub(crate) async fn send_all(
        &mut self,
        sockets: &[UdpSocket],
        mut next: impl FnMut() -> Option<ferrtc_types::Transmit>,
    ) -> io::Result<()> {
        let mut pending = next();
        while let Some(first) = pending.take() {
            let Some(socket) = pick_socket(sockets, first.source, first.destination) else {
                tracing::trace!(destination = %first.destination, "no socket of that family: dropped");
                pending = next();
                continue;
            };
            let size = first.contents.len();
            let max = socket.max_gso_segments().min(MAX_GSO_BYTES / size.max(1));
            let joinable = first.segment_size.is_none() && max > 1 && size > 0;
            self.run.push(first);
            loop {
                pending = next();
                let Some(n) = &pending else { break };
                let head = &self.run[0];
                if !joinable
                    || self.run.len() >= max
                    || n.destination != head.destination
                    || n.source != head.source
                    || n.segment_size.is_some()
                    || n.contents.len() > size
                    || n.transport != head.transport
                {
                    break;
                }
                let shorter = n.contents.len() < size;
                self.run.extend(pending.take());
                if shorter {
                    // Only the last of a run may be shorter.
                    pending = next();
                    break;
                }
            }
            let res = socket.send_run(&self.run).await;
            self.run.clear();
            res?;
        }
        // A burst may have grown the list; an idle connection keeps none of it.
        if self.run.capacity() > 0 {
            self.run = Vec::new();
        }
        Ok(())
    }
}

impl UdpSocket {
    /// Sends a run of transmits to one destination: one datagram as it lies, several as
    /// one GSO batch copied into the thread's send buffer.
    async fn send_run(&self, run: &[ferrtc_types::Transmit]) -> io::Result<()> {
        let [first, ..] = run else { return Ok(()) };
        if run.len() == 1 {
            return self
                .send(
                    first.source.map(|s| s.ip()),
                    first.destination,
                    &first.contents,
                    first.segment_size,
                )
                .await;
        }
        let source = if self.wildcard {
            first.source.map(|s| s.ip())
        } else {
            None
        };
        let size = first.contents.len();
        let send = |buf: &mut Vec<u8>| {
            buf.clear();
            for t in run {
                buf.extend_from_slice(&t.contents);
            }
            let transmit = quinn_udp::Transmit {
                destination: first.destination,
                ecn: None,
                contents: buf,
                segment_size: Some(size),
                src_ip: source,
            };
            self.io.try_io(Interest::WRITABLE, || {
                self.state.send((&self.io).into(), &transmit)
            })
        };
        loop {
            self.io.writable().await?;
            let res = SEND_SCRATCH
                .try_with(|cell| match cell.try_borrow_mut() {
                    Ok(mut buf) => send(&mut buf),
                    // Not reachable (the borrow ends before any await and nothing in it
                    // sends), but a buffer of its own is as correct.
                    Err(_) => send(&mut Vec::new()),
                })
                .unwrap_or_else(|_| send(&mut Vec::new()));
            match res {
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                other => return other,
            }
        }
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
        let mut queue = transmits.into_iter();
        batch
            .send_all(std::slice::from_ref(&a), || queue.next())
            .await
            .unwrap();
        let mut got = Vec::new();
        while got.len() < 5 {
            let deliver = |r: Received| {
                assert_eq!(r.from, a.local_addr());
                assert_eq!(r.local, dst);
                got.push(r.datagram);
            };
            tokio::time::timeout(std::time::Duration::from_secs(10), b.recv(deliver))
                .await
                .unwrap()
                .unwrap();
        }
        for (i, d) in got.iter().enumerate() {
            assert_eq!(d.len(), if i == 4 { 50 } else { 100 });
            assert!(d.iter().all(|&x| usize::from(x) == i));
        }
    }

    /// 60 datagrams of 1,200 bytes (72,000 bytes, more than one IP packet can carry) to one
    /// destination: every one arrives, whether the socket batches them with GSO or not.
    #[tokio::test]
    async fn a_run_longer_than_an_ip_packet_arrives_whole() {
        let a = UdpSocket::bind("127.0.0.1:0".parse().unwrap()).unwrap();
        let b = UdpSocket::bind("127.0.0.1:0".parse().unwrap()).unwrap();
        let dst = b.local_addr();
        let count = 60u8;
        let mut queue = (0..count)
            .map(|i| ferrtc_types::Transmit::udp(dst, Bytes::from(vec![i; 1200])))
            .collect::<Vec<_>>()
            .into_iter();
        SendBatch::default()
            .send_all(std::slice::from_ref(&a), || queue.next())
            .await
            .unwrap();
        let mut got = Vec::new();
        while got.len() < usize::from(count) {
            tokio::time::timeout(
                std::time::Duration::from_secs(10),
                b.recv(|r| got.push(r.datagram)),
            )
            .await
            .expect("every datagram of the run")
            .unwrap();
        }
        for (i, d) in got.iter().enumerate() {
            assert_eq!(d.len(), 1200);
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
        let mut r: Vec<Received> = Vec::new();
        a.recv(|d| r.push(d)).await.unwrap();
        assert_eq!(r.len(), 1);
        assert_eq!(r[0].local, to_a);
        assert_eq!(&r[0].datagram[..], b"hi");
    }
}
