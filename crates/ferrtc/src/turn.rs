//! Relayed candidates: the peer connection core with TURN allocations around it.
//!
//! [`Relayed`] is the core the driver runs. It holds the sans-IO peer connection and one
//! sans-IO TURN client ([`ferrtc_stun_ice::turn::Client`]) per TURN server, and stands
//! between them and the sockets:
//!
//! - every client allocates as soon as the connection exists; an allocation becomes a relayed
//!   candidate of the core ([`core::PeerConnection::add_local_relayed_candidate`]), and once
//!   every allocation has succeeded or failed the core is told that no more local candidates
//!   come, so gathering can complete;
//! - what the core sends from a relayed address (checks, DTLS, SCTP, SRTP) goes through that
//!   allocation: a channel is bound to each peer the first time (RFC 8656 §12, which installs
//!   the permission too, §9), the datagram rides in a Send indication until the channel is
//!   confirmed and as ChannelData after;
//! - what the server relays back (ChannelData or Data indications) is handed to the core as
//!   received on the relayed address, from the peer; the client's own responses stay with the
//!   client, and a STUN response it does not know (a STUN server at the same address answering
//!   the core's binding request) goes on to the core;
//! - the clients refresh allocations, permissions and channels themselves (their timers are
//!   part of [`Relayed::poll_timeout`]); on close the allocations are deleted.
//!
//! The client reaches its server over UDP, TCP or TLS (`turn:...?transport=udp|tcp`,
//! `turns:`, RFC 8656 §3.1). Over UDP the datagrams to the server leave from the socket of
//! its address family, the same one every time, so the allocation's 5-tuple holds. Over TCP
//! and TLS the driver holds the stream ([`crate::stream`]): the client's transmits name the
//! transport and go on that stream, and what the stream brings comes back through
//! [`Core::handle_stream`](crate::driver::Core::handle_stream) in chunks the client frames
//! itself (STUN and padded ChannelData are self-framing, RFC 8656 §12.5); the relayed
//! traffic of the allocation rides the same stream. The relayed candidate is UDP whatever
//! the transport to the server (the relay-to-peer leg is UDP); its priority ranks a relay
//! over UDP above one over TCP above one over TLS (RFC 8445 §5.1.2, as browsers do). A
//! stream that ends (the server closed it, the TLS handshake failed) makes its relay gone:
//! no candidate, or none any more, and gathering completes without it.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use bytes::BytesMut;
use ferrtc_peerconnection as core;
use ferrtc_stun_ice::turn::{self, CommandError, TurnError};
use ferrtc_types::{Transmit, Transport};

/// The W3C `errorCode` of an `icecandidateerror` when the server could not be reached (or
/// answered nothing usable): 701, outside the STUN error code range (W3C webrtc-pc,
/// `RTCPeerConnectionIceErrorEvent`).
pub const UNREACHABLE_ERROR_CODE: u16 = 701;

/// A TURN server gave no relayed candidate, or lost the one it gave (W3C
/// `icecandidateerror`, [`Event::IceCandidateError`](crate::Event::IceCandidateError)).
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct IceCandidateError {
    /// The server's URL, as configured.
    pub url: String,
    /// W3C `errorCode`: the STUN error code the server answered with (RFC 8489 §14.8,
    /// RFC 8656 §19), or [`UNREACHABLE_ERROR_CODE`] (701) when it could not be reached.
    pub error_code: u16,
    /// What went wrong, typed.
    pub error: RelayError,
}

/// Why a relay failed.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum RelayError {
    /// The Allocate transaction failed.
    #[error("TURN allocation failed")]
    Allocation(#[source] turn::RequestError),
    /// The allocation was lost (a refresh failed, or it expired).
    #[error("TURN allocation lost")]
    Lost(#[source] turn::RequestError),
    /// The TCP or TLS stream to the server ended, or never began (an untrusted
    /// certificate fails here).
    #[error("TURN stream ended")]
    Stream(#[source] Arc<crate::stream::StreamError>),
    /// The stream carried bytes that are neither STUN nor ChannelData (RFC 8656 §12.5).
    #[error("TURN stream desynchronized")]
    Desynchronized,
}

impl RelayError {
    /// The W3C `errorCode` for it.
    fn code(&self) -> u16 {
        use turn::RequestError as R;
        let (RelayError::Allocation(e) | RelayError::Lost(e)) = self else {
            return UNREACHABLE_ERROR_CODE;
        };
        match e {
            R::TryAlternate(_) => 300,
            R::Unauthenticated => 401,
            R::Forbidden => 403,
            R::AllocationMismatch => 437,
            R::StaleNonce(_) => 438,
            R::AddressFamilyNotSupported => 440,
            R::WrongCredentials => 441,
            R::UnsupportedTransport => 442,
            R::PeerAddressFamilyMismatch => 443,
            R::AllocationQuotaReached => 486,
            R::InsufficientCapacity => 508,
            R::Server(code) => *code,
            _ => UNREACHABLE_ERROR_CODE,
        }
    }
}

/// The most bytes relayed to a peer in one datagram: a Send indication adds 36 bytes
/// (RFC 8656 §11.1, with FINGERPRINT), and the largest UDP payload is 65,507 bytes.
const MAX_RELAYED_PAYLOAD: usize = 65_507 - 36;

/// Where one allocation stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// The Allocate transaction runs.
    Allocating,
    /// Allocated: peers reach us at this relayed address.
    Allocated(SocketAddr),
    /// Failed or lost: no relayed candidate (any more).
    Gone,
}

/// One TURN server and our allocation on it.
struct Relay {
    client: turn::Client,
    /// The URL it came from, for errors.
    url: String,
    phase: Phase,
    /// How the server is reached.
    transport: Transport,
    /// The relayed address the allocation had, if it got one (kept once gone, so what the
    /// core still sends from it is dropped rather than sent from a socket).
    relayed: Option<SocketAddr>,
    /// The stream to the server ended: the client's timers no longer run.
    stream_ended: bool,
}

impl std::fmt::Debug for Relay {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Relay")
            .field("server", &self.client.server())
            .field("transport", &self.transport)
            .field("phase", &self.phase)
            .finish_non_exhaustive()
    }
}

/// What a relay counted, for the logs.
#[derive(Debug, Default, Clone, Copy)]
struct Counters {
    relayed_out: u64,
    relayed_in: u64,
    refused_out: u64,
    /// Stream data that was not STUN, dropped while the connection's reader was stalled.
    stalled_drops: u64,
}

/// The peer connection core with its TURN allocations. See the module docs.
#[derive(Debug)]
pub(crate) struct Relayed {
    /// The sans-IO peer connection.
    pub(crate) pc: core::PeerConnection,
    relays: Vec<Relay>,
    /// The core has not yet been told that no more local candidates come.
    gathering_open: bool,
    /// Datagrams for the TURN servers, ready to go.
    out: VecDeque<Transmit>,
    /// The latest time an input brought.
    now: Instant,
    counters: Counters,
    /// While a consumer's queue is full, peer data from a stream that is not STUN is
    /// dropped (the driver's rule for sockets, RFC 7983).
    stalled: bool,
    /// Relays that failed, for the application.
    errors: VecDeque<IceCandidateError>,
}

impl Relayed {
    /// A core with an allocation started on each of `servers` (at `now`). Without servers
    /// the core's gathering is closed at once.
    pub(crate) fn new(
        mut pc: core::PeerConnection,
        servers: Vec<(String, turn::ClientConfig)>,
        now: Instant,
        rng: &mut dyn rand::RngCore,
    ) -> Relayed {
        let mut relays = Vec::with_capacity(servers.len());
        for (url, config) in servers {
            let transport = config.transport;
            let mut client = turn::Client::new(config, rng);
            match client.allocate(now) {
                Ok(()) => relays.push(Relay {
                    client,
                    url,
                    phase: Phase::Allocating,
                    transport,
                    relayed: None,
                    stream_ended: false,
                }),
                Err(e) => tracing::warn!(error = %e, "TURN allocation not started"),
            }
        }
        if relays.is_empty() {
            pc.end_of_local_addresses(now);
        }
        let gathering_open = !relays.is_empty();
        let mut this = Relayed {
            pc,
            relays,
            gathering_open,
            out: VecDeque::new(),
            now,
            counters: Counters::default(),
            stalled: false,
            errors: VecDeque::new(),
        };
        this.pump(now);
        this
    }

    /// Records the time of a command applied to the core directly.
    pub(crate) fn touch(&mut self, now: Instant) {
        self.now = self.now.max(now);
    }

    /// Deletes every allocation (at close); the Refresh requests go out with the next flush.
    pub(crate) fn deallocate(&mut self, now: Instant) {
        self.touch(now);
        for r in &mut self.relays {
            if matches!(r.phase, Phase::Allocated(_)) {
                let _ = r.client.deallocate(now);
                r.phase = Phase::Gone;
            }
        }
        self.pump(now);
    }

    /// The next relay failure for the application.
    pub(crate) fn poll_candidate_error(&mut self) -> Option<IceCandidateError> {
        self.errors.pop_front()
    }

    /// Relay `i` is gone, for `error`.
    fn fail(&mut self, i: usize, error: RelayError) {
        let r = &mut self.relays[i];
        r.phase = Phase::Gone;
        tracing::warn!(
            server = %r.client.server(),
            transport = ?r.transport,
            url = %r.url,
            error = %crate::connection::Chain(&error),
            "TURN relay gone"
        );
        self.errors.push_back(IceCandidateError {
            url: r.url.clone(),
            error_code: error.code(),
            error,
        });
    }

    /// Moves the clients' transmits out and applies their events to the core.
    fn pump(&mut self, now: Instant) {
        for i in 0..self.relays.len() {
            while let Some(t) = self.relays[i].client.poll_transmit() {
                self.out.push_back(t);
            }
            while let Some(ev) = self.relays[i].client.poll_event() {
                self.on_event(now, i, ev);
            }
            // Events may have queued more (a channel bound after a permission, ...).
            while let Some(t) = self.relays[i].client.poll_transmit() {
                self.out.push_back(t);
            }
        }
        if self.gathering_open && self.relays.iter().all(|r| r.phase != Phase::Allocating) {
            self.gathering_open = false;
            self.pc.end_of_local_addresses(now);
        }
    }

    fn on_event(&mut self, now: Instant, i: usize, ev: turn::Event) {
        let server = self.relays[i].client.server();
        match ev {
            turn::Event::Allocated {
                relayed,
                mapped,
                lifetime,
            } => {
                let via = self.relays[i].transport;
                tracing::debug!(%server, ?via, %relayed, ?mapped, ?lifetime, "TURN allocation made");
                self.relays[i].phase = Phase::Allocated(relayed);
                self.relays[i].relayed = Some(relayed);
                if let Err(e) = self
                    .pc
                    .add_local_relayed_candidate_via(now, relayed, mapped, server, via)
                {
                    tracing::warn!(%relayed, error = %e, "relayed candidate refused");
                }
            }
            turn::Event::AllocationFailed(e) => self.fail(i, RelayError::Allocation(e)),
            turn::Event::AllocationLost(e) => self.fail(i, RelayError::Lost(e)),
            turn::Event::Data { peer, data } => {
                // Over a stream only; UDP data comes back from `handle_receive` itself.
                if let Phase::Allocated(relayed) = self.relays[i].phase {
                    // RFC 7983 §7: a first byte of 0 to 3 is STUN.
                    if self.stalled && data.first().is_none_or(|&b| b > 3) {
                        self.counters.stalled_drops += 1;
                        return;
                    }
                    self.counters.relayed_in += 1;
                    let _ = self
                        .pc
                        .handle_receive(now, relayed, peer, BytesMut::from(&data[..]));
                }
            }
            turn::Event::StreamDesynchronized => {
                self.relays[i].stream_ended = true;
                self.fail(i, RelayError::Desynchronized);
            }
            other => tracing::trace!(%server, event = ?other, "TURN"),
        }
    }

    /// The relay on the stream to `server` over `transport`.
    fn stream_relay(&self, server: SocketAddr, transport: Transport) -> Option<usize> {
        self.relays
            .iter()
            .position(|r| r.client.server() == server && r.transport == transport)
    }

    /// Sends one datagram of the core's from `relay`'s allocation to `peer`.
    fn relay_out(&mut self, i: usize, peer: SocketAddr, datagram: &[u8]) {
        let now = self.now;
        let client = &mut self.relays[i].client;
        if datagram.len() > MAX_RELAYED_PAYLOAD {
            self.counters.refused_out += 1;
            return;
        }
        if client.channel(peer).is_none() {
            // The first datagram to this peer: bind a channel (it installs the permission as
            // well); until it is confirmed datagrams go in Send indications, which the server
            // relays once it has applied the ChannelBind sent before them.
            match client.bind_channel(now, peer) {
                Ok(_) => {}
                Err(CommandError::ChannelsExhausted) => {
                    let _ = client.create_permission(now, peer.ip());
                }
                Err(e) => {
                    self.counters.refused_out += 1;
                    tracing::trace!(%peer, error = %e, "not relayed");
                    return;
                }
            }
        }
        match client.send_to(peer, datagram) {
            Ok(()) => self.counters.relayed_out += 1,
            Err(e) => {
                self.counters.refused_out += 1;
                tracing::trace!(%peer, error = %e, "not relayed");
            }
        }
        while let Some(t) = self.relays[i].client.poll_transmit() {
            self.out.push_back(t);
        }
    }
}

impl crate::driver::Core for Relayed {
    fn handle_receive(&mut self, now: Instant, local: SocketAddr, from: SocketAddr, d: BytesMut) {
        self.touch(now);
        let Some(i) = self.relays.iter().position(|r| {
            r.client.server() == from && r.transport == Transport::Udp && r.phase != Phase::Gone
        }) else {
            crate::driver::Core::handle_receive(&mut self.pc, now, local, from, d);
            return;
        };
        let relayed = match self.relays[i].phase {
            Phase::Allocated(a) => Some(a),
            _ => None,
        };
        // Where the peer's bytes lie inside `d`, so they go on without a copy.
        let outcome = match self.relays[i].client.handle_receive(now, from, &d) {
            Ok(Some((peer, data))) => {
                let start = data.as_ptr().addr() - d.as_ptr().addr();
                Ok(Some((peer, start, data.len())))
            }
            Ok(None) => Ok(None),
            Err(e) => Err(e),
        };
        match outcome {
            Ok(Some((peer, start, len))) => {
                if let Some(relayed) = relayed {
                    self.counters.relayed_in += 1;
                    let mut d = d;
                    let _ = d.split_to(start);
                    d.truncate(len);
                    crate::driver::Core::handle_receive(&mut self.pc, now, relayed, peer, d);
                }
            }
            Ok(None) => {}
            // Not the client's: a STUN server at the same address answering the core.
            Err(TurnError::UnknownTransaction | TurnError::NotTurn) => {
                crate::driver::Core::handle_receive(&mut self.pc, now, local, from, d);
            }
            Err(e) => tracing::trace!(%from, error = %e, "TURN datagram dropped"),
        }
        self.pump(now);
    }

    fn handle_ice_tcp(
        &mut self,
        now: Instant,
        local: SocketAddr,
        from: SocketAddr,
        frame: BytesMut,
    ) -> bool {
        self.touch(now);
        let ok = crate::driver::Core::handle_ice_tcp(&mut self.pc, now, local, from, frame);
        self.pump(now);
        ok
    }

    fn handle_stream(
        &mut self,
        now: Instant,
        server: SocketAddr,
        transport: Transport,
        chunk: BytesMut,
        stalled: bool,
    ) {
        self.touch(now);
        let Some(i) = self.stream_relay(server, transport) else {
            return;
        };
        if let Err(e) = self.relays[i].client.handle_receive(now, server, &chunk) {
            tracing::trace!(%server, error = %e, "TURN stream bytes dropped");
        }
        self.stalled = stalled;
        self.pump(now);
        self.stalled = false;
    }

    fn stream_ended(
        &mut self,
        now: Instant,
        server: SocketAddr,
        transport: Transport,
        error: crate::stream::StreamError,
    ) {
        self.touch(now);
        let Some(i) = self.stream_relay(server, transport) else {
            return;
        };
        self.relays[i].stream_ended = true;
        if self.relays[i].phase == Phase::Gone {
            tracing::debug!(%server, ?transport, error = %crate::connection::Chain(&error), "TURN stream ended");
        } else {
            self.fail(i, RelayError::Stream(Arc::new(error)));
        }
        self.pump(now);
    }

    fn handle_timeout(&mut self, now: Instant) {
        self.touch(now);
        self.pc.handle_timeout(now);
        for r in &mut self.relays {
            if !r.stream_ended && r.client.poll_timeout().is_some_and(|t| t <= now) {
                r.client.handle_timeout(now);
            }
        }
        self.pump(now);
    }

    fn poll_transmit(&mut self) -> Option<Transmit> {
        loop {
            if let Some(t) = self.out.pop_front() {
                return Some(t);
            }
            let t = self.pc.poll_transmit()?;
            let relay = t
                .source
                .and_then(|s| self.relays.iter().position(|r| r.relayed == Some(s)));
            let Some(i) = relay else {
                return Some(t);
            };
            if !matches!(self.relays[i].phase, Phase::Allocated(_)) {
                // From a relay that is gone: nowhere to send it.
                self.counters.refused_out += 1;
                continue;
            }
            for datagram in t.datagrams() {
                self.relay_out(i, t.destination, datagram);
            }
        }
    }

    fn poll_timeout(&self) -> Option<Instant> {
        self.relays
            .iter()
            .filter(|r| !r.stream_ended)
            .filter_map(|r| r.client.poll_timeout())
            .chain(self.pc.poll_timeout())
            .min()
    }

    fn log_stats(&self) {
        crate::driver::Core::log_stats(&self.pc);
        for r in &self.relays {
            tracing::debug!(
                server = %r.client.server(),
                transport = ?r.transport,
                phase = ?r.phase,
                client = ?r.client.stats(),
                "TURN counters"
            );
        }
        if !self.relays.is_empty() {
            tracing::debug!(counters = ?self.counters, "relayed");
        }
    }

    fn local_credentials(&self) -> Option<[(&str, &str); 2]> {
        let negotiated = self.pc.negotiator().local_ice_credentials();
        let applied = self.pc.transport().local_credentials();
        Some([
            (&negotiated.ufrag, &negotiated.pwd),
            (&applied.ufrag, &applied.pwd),
        ])
    }
}
