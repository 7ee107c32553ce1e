//! The sans-IO DTLS endpoint: record layer, flights, retransmission, reassembly, and the
//! handshake of [`crate::hs`] behind the common verb set.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::{BufMut, Bytes, BytesMut};
use ferrtc_types::{DtlsRole, SrtpKeys, SrtpProfile, Transmit};
use rand::RngCore;

use crate::alert::{Alert, AlertDescription, AlertLevel};
use crate::config::{Config, MIN_MTU};
use crate::crypto::cipher::RecordCipher;
use crate::error::{Error, PeerMisbehaved, ReceiveError};
use crate::handshake::{self, Fragment, HandshakeMessage, HandshakeType, emit_header};
use crate::hs::{self, Common, FlightItem, Hs, Incoming, Keys};
use crate::reassembly::{Insert, Reassembler};
use crate::record::{ContentType, DTLS_1_2, HEADER_LEN, Record, RecordHeader};
use crate::replay::ReplayWindow;
use crate::types::CipherSuite;

/// What the handshake settled.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Negotiated {
    /// The cipher suite.
    pub cipher_suite: CipherSuite,
    /// The SRTP protection profile, if use_srtp was negotiated.
    pub srtp_profile: Option<SrtpProfile>,
    /// The peer's DER certificate (its fingerprint was checked).
    pub peer_certificate: Vec<u8>,
}

/// Something the layer above needs to know.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Event {
    /// The handshake completed.
    Connected(Negotiated),
    /// Application data from the peer.
    ApplicationData(Bytes),
    /// The peer sent a warning alert (other than close_notify).
    AlertReceived(Alert),
    /// The peer closed the connection with close_notify.
    Closed,
    /// The connection failed; no more data flows.
    Failed(Error),
}

/// Counters of an [`Endpoint`]: datagrams taken, and datagrams dropped by
/// [`Endpoint::handle_receive`] with the reason it returned.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Stats {
    /// Datagrams of which at least one record was acted on.
    pub datagrams_accepted: u64,
    /// Dropped: no record parsed ([`ReceiveError::Malformed`]).
    pub dropped_malformed: u64,
    /// Dropped: every record a replay ([`ReceiveError::Replayed`]).
    pub dropped_replayed: u64,
    /// Dropped: records that did not authenticate ([`ReceiveError::Unauthenticated`]).
    pub dropped_unauthenticated: u64,
    /// Dropped: records the current state does not act on ([`ReceiveError::Unexpected`]).
    pub dropped_unexpected: u64,
    /// Dropped: the endpoint is closed or failed ([`ReceiveError::Closed`]).
    pub dropped_closed: u64,
}

impl Stats {
    fn count_drop(&mut self, e: ReceiveError) {
        let c = match e {
            ReceiveError::Malformed => &mut self.dropped_malformed,
            ReceiveError::Replayed => &mut self.dropped_replayed,
            ReceiveError::Unauthenticated => &mut self.dropped_unauthenticated,
            ReceiveError::Unexpected => &mut self.dropped_unexpected,
            ReceiveError::Closed => &mut self.dropped_closed,
        };
        *c += 1;
    }
}

/// Largest fragmented ClientHello a server reassembles before its cookie is checked.
const MAX_CLIENT_HELLO: u32 = 16 * 1024;

/// Most application data records [`Endpoint::handle_receive`] reports per datagram as byte
/// ranges; more become [`Event::ApplicationData`].
pub const MAX_IN_PLACE_RECORDS: usize = 8;

/// Where decrypted application data lies in a datagram given to
/// [`Endpoint::handle_receive`]: byte ranges, in arrival order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AppDataRanges {
    ranges: [(usize, usize); MAX_IN_PLACE_RECORDS],
    len: usize,
}

impl AppDataRanges {
    /// The ranges.
    pub fn iter(&self) -> impl Iterator<Item = core::ops::Range<usize>> + '_ {
        self.ranges[..self.len].iter().map(|&(a, b)| a..b)
    }

    /// Number of application data records.
    pub fn len(&self) -> usize {
        self.len
    }

    /// True when the datagram carried no application data.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}

/// The RFC 5764 §4.2 exporter label.
pub const SRTP_EXPORTER_LABEL: &[u8] = b"EXTRACTOR-dtls_srtp";
/// Largest application data record plaintext (RFC 5246 §6.2.1).
pub const MAX_PLAINTEXT: usize = 1 << 14;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// A client before [`Endpoint::connect`].
    Idle,
    Handshaking,
    Connected,
    Closed,
    Failed,
}

/// A DTLS 1.2 endpoint for one peer, without I/O.
///
/// The methods fall in four groups, as in every ferrtc state machine:
/// - inputs: [`handle_receive`](Self::handle_receive) (a datagram from the peer, decrypted
///   in place) and [`handle_timeout`](Self::handle_timeout);
/// - commands: [`connect`](Self::connect) (a client starts), [`send`](Self::send) and
///   [`close`](Self::close);
/// - outputs: [`poll_transmit`](Self::poll_transmit), [`poll_event`](Self::poll_event) and
///   [`poll_timeout`](Self::poll_timeout);
/// - getters: [`is_connected`](Self::is_connected), [`negotiated`](Self::negotiated),
///   [`srtp_keys`](Self::srtp_keys), [`stats`](Self::stats), ...
///
/// After any input or command, drain `poll_transmit` until `None` (send each [`Transmit`]
/// to its destination), then `poll_event` until `None`, then call `handle_timeout` at
/// `poll_timeout` unless a datagram arrives first.
///
/// An `Err` from `handle_receive` means only that the datagram was dropped (it is counted in
/// [`stats`](Self::stats)); it never changes the connection. A fatal failure (a bad
/// fingerprint, a failed handshake, a fatal alert, a timeout) is [`Event::Failed`].
///
/// Transmits carry no source (the layer below picks the path) and go to the peer's address:
/// for a client the one given to `connect`, then for both roles the address the peer's
/// last accepted datagram came from (after the handshake, the last authenticated one).
///
/// ```
/// use std::sync::Arc;
/// use std::time::Instant;
/// use ferrtc_dtls::{Certificate, Config, DtlsRole, Endpoint, Event, HashAlgorithm};
/// use rand::SeedableRng;
///
/// let (a, b) = (Arc::new(Certificate::generate()?), Arc::new(Certificate::generate()?));
/// let ca = Config::new(DtlsRole::Client, a.clone(), vec![b.fingerprint(HashAlgorithm::Sha256)]);
/// let cb = Config::new(DtlsRole::Server, b.clone(), vec![a.fingerprint(HashAlgorithm::Sha256)]);
/// let (client_addr, server_addr) = ("10.0.0.1:5000".parse()?, "10.0.0.2:5000".parse()?);
/// let now = Instant::now();
/// let rng = |s| Box::new(rand_chacha::ChaCha20Rng::seed_from_u64(s));
/// let mut client = Endpoint::new(Arc::new(ca), now, rng(1))?;
/// let mut server = Endpoint::new(Arc::new(cb), now, rng(2))?;
/// client.connect(now, server_addr)?;
/// let mut buf = Vec::new();
/// for _ in 0..8 {
///     while let Some(t) = client.poll_transmit() {
///         buf.clear();
///         buf.extend_from_slice(&t.contents);
///         server.handle_receive(now, client_addr, &mut buf)?;
///     }
///     while let Some(t) = server.poll_transmit() {
///         assert_eq!(t.destination, client_addr);
///         buf.clear();
///         buf.extend_from_slice(&t.contents);
///         client.handle_receive(now, server_addr, &mut buf)?;
///     }
/// }
/// assert!(matches!(client.poll_event(), Some(Event::Connected(_))));
/// assert_eq!(client.srtp_keys()?.local_key(), server.srtp_keys()?.remote_key());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct Endpoint {
    role: DtlsRole,
    phase: Phase,
    /// Where transmits go: see the type's documentation.
    remote: Option<SocketAddr>,
    /// While `handle_receive` runs: the sender, whom answers go to.
    reply_to: Option<SocketAddr>,
    stats: Stats,
    hs: Hs,
    common: Common,
    reassembler: Reassembler,
    // Record layer.
    write_seq: [u64; 2],
    write_cipher: Option<RecordCipher>,
    read_cipher: Option<RecordCipher>,
    replay: ReplayWindow,
    keys: Option<Keys>,
    negotiated: Option<Negotiated>,
    // Flights.
    flight: Vec<FlightItem>,
    /// The peer's next message_seq when our current flight was sent: messages below it
    /// belong to the flight ours answers.
    flight_recv_start: u16,
    /// The first message_seq of the peer's flight that ours answers.
    peer_flight_start: u16,
    retransmit_at: Option<Instant>,
    /// When the current flight was last sent, by whatever cause: bounds retransmissions
    /// triggered by the peer's repeats (see `answer_peer_retransmission`).
    flight_sent_at: Option<Instant>,
    /// What of the peer's flight has been repeated since ours was last sent in answer.
    repeat: RepeatTracker,
    rto: Duration,
    retransmissions: u32,
    sent_close_notify: bool,
    // Outputs.
    transmits: VecDeque<Transmit>,
    /// Application data records sealed by `send` for the next datagram; split off as the
    /// contents of a transmit when it is polled or fills up.
    tx_buf: BytesMut,
    events: VecDeque<Event>,
    scratch: Vec<u8>,
    early_data: Vec<Bytes>,
}

/// Application data records held while the peer's Finished is still missing.
const MAX_EARLY_DATA: usize = 16;

/// Record sequence numbers of a repeated flight remembered, to count each record once. A
/// flight of more records than this is never seen as repeated whole (the half-timeout
/// rule still answers it).
const MAX_REPEAT_RECORDS: usize = 64;
/// Messages in the largest flight (the server's flight 4 has five, RFC 6347 §4.2.4).
const MAX_FLIGHT_MESSAGES: usize = 8;

/// Tells a genuine repeat of the peer's whole flight from replayed or duplicated copies of
/// its datagrams (RFC 6347 §4.2.4).
///
/// A peer that retransmits sends every record again under a fresh record sequence number
/// (RFC 6347 §4.1: numbers never repeat within an epoch), so a repeat is genuine when
/// records numbered above any seen from the peer when we last answered carry, between them,
/// every byte of every message of the flight ours answers. A duplicating link or a
/// replayed capture only brings numbers already seen. Epoch-0 record numbers are not
/// authenticated, so whoever rewrites them in a copy of the peer's whole flight passes for
/// the peer; such copies still earn at most one flight of ours per half initial timeout,
/// the bound the half-timeout rule gave before our timer backed off.
#[derive(Debug, Default)]
struct RepeatTracker {
    /// Highest record sequence number seen from the peer, per epoch (0 and 1).
    max_seen: [Option<u64>; 2],
    /// `max_seen` when we last sent our flight in answer (or a new flight): only records
    /// numbered above it are fresh.
    fresh_above: [Option<u64>; 2],
    /// Fresh records counted so far: (epoch, sequence number).
    counted: Vec<(u16, u64)>,
    /// Per message of the peer's flight (from `peer_flight_start`): (length, bytes
    /// brought by fresh records).
    covered: Vec<(u32, u32)>,
}

impl RepeatTracker {
    /// Starts counting afresh: the peer's flight is `first..end` (message_seq).
    fn restart(&mut self, first: u16, end: u16) {
        self.fresh_above = self.max_seen;
        self.counted.clear();
        self.covered.clear();
        let n = usize::from(end.wrapping_sub(first));
        // A flight has a handful of messages; anything else is never seen as whole.
        if n <= MAX_FLIGHT_MESSAGES {
            self.covered.resize(n, (u32::MAX, 0));
        }
    }

    /// Notes a handshake record of the peer's (epoch 0 or 1, already authenticated if 1);
    /// `first` is the message_seq of the first message of the peer's flight.
    fn note(&mut self, epoch: u16, record_seq: u64, payload: &[u8], first: u16) {
        let e = usize::from(epoch.min(1));
        self.max_seen[e] = Some(self.max_seen[e].map_or(record_seq, |m| m.max(record_seq)));
        if self.covered.is_empty()
            || self.fresh_above[e].is_some_and(|above| record_seq <= above)
            || self.counted.contains(&(epoch, record_seq))
            || self.counted.len() >= MAX_REPEAT_RECORDS
        {
            return;
        }
        let mut counted = false;
        for frag in Fragment::parse_all(payload).map_while(Result::ok) {
            let idx = usize::from(frag.message_seq.wrapping_sub(first));
            if let Some((len, got)) = self.covered.get_mut(idx) {
                *len = frag.length;
                *got = got.saturating_add(frag.body.len() as u32);
                counted = true;
            }
        }
        if counted {
            self.counted.push((epoch, record_seq));
        }
    }

    /// True once fresh records brought every message of the peer's flight whole.
    fn whole(&self) -> bool {
        !self.covered.is_empty() && self.covered.iter().all(|&(len, got)| got >= len)
    }
}

impl core::fmt::Debug for Endpoint {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Endpoint")
            .field("role", &self.role)
            .field("phase", &self.phase)
            .finish_non_exhaustive()
    }
}

impl Endpoint {
    /// An endpoint for the role in `config`. A server waits for a ClientHello; a client
    /// starts when told where its peer is, with [`connect`](Self::connect).
    ///
    /// `rng` supplies the hello random, the server's cookie secret and the ECDHE scalar;
    /// seed it, and set [`Config::deterministic_signatures`], for a run that replays byte
    /// for byte.
    ///
    /// A server keeps no state for a ClientHello until the client proves it can receive at
    /// its address by echoing a cookie (RFC 6347 §4.2.1). Until then it also ignores
    /// plaintext (epoch 0) alerts, close_notify included: with no peer yet, anyone could
    /// have sent them.
    ///
    /// # Errors
    /// [`Error::InvalidConfig`] for an MTU outside `MIN_MTU..=65535` or an empty list of
    /// cipher suites or groups.
    pub fn new(
        config: Arc<Config>,
        now: Instant,
        rng: Box<dyn RngCore + Send>,
    ) -> Result<Self, Error> {
        // Nothing runs on a timer before the first flight.
        let _ = now;
        if config.mtu < MIN_MTU
            || config.mtu > usize::from(u16::MAX)
            || config.cipher_suites.is_empty()
            || config.groups.is_empty()
        {
            return Err(Error::InvalidConfig);
        }
        let role = config.role;
        let rto = config.initial_rto;
        let max_len = config.max_handshake_message_len;
        let tx_capacity = 2 * config.mtu;
        let mut ep = Endpoint {
            role,
            phase: Phase::Idle,
            remote: None,
            reply_to: None,
            stats: Stats::default(),
            hs: Hs::Poisoned,
            common: Common::new(config, rng),
            reassembler: Reassembler::new(0, max_len),
            write_seq: [0; 2],
            write_cipher: None,
            read_cipher: None,
            replay: ReplayWindow::new(),
            keys: None,
            negotiated: None,
            flight: Vec::new(),
            flight_recv_start: 0,
            peer_flight_start: 0,
            retransmit_at: None,
            flight_sent_at: None,
            repeat: RepeatTracker::default(),
            rto,
            retransmissions: 0,
            sent_close_notify: false,
            transmits: VecDeque::new(),
            tx_buf: BytesMut::with_capacity(tx_capacity),
            events: VecDeque::new(),
            scratch: Vec::new(),
            early_data: Vec::new(),
        };
        if role == DtlsRole::Server {
            ep.hs = hs::server_start(&mut ep.common)?;
            ep.phase = Phase::Handshaking;
        }
        Ok(ep)
    }

    /// A client starts the handshake with the peer at `remote`: its first flight (the
    /// ClientHello) is ready in `poll_transmit` at once, addressed there.
    ///
    /// # Errors
    /// [`Error::InvalidState`] for a server, or a client that already connected.
    pub fn connect(&mut self, now: Instant, remote: SocketAddr) -> Result<(), Error> {
        if self.role != DtlsRole::Client || self.phase != Phase::Idle {
            return Err(Error::InvalidState);
        }
        self.hs = hs::client_start(&mut self.common)?;
        self.remote = Some(remote);
        self.phase = Phase::Handshaking;
        self.after_step(now, 0);
        Ok(())
    }

    /// This endpoint's role.
    pub fn role(&self) -> DtlsRole {
        self.role
    }

    /// True once the handshake completed and until the connection closes or fails.
    pub fn is_connected(&self) -> bool {
        self.phase == Phase::Connected
    }

    /// The counters: datagrams accepted and dropped.
    pub fn stats(&self) -> &Stats {
        &self.stats
    }

    /// The address transmits go to, once known: see the type's documentation.
    pub fn remote(&self) -> Option<SocketAddr> {
        self.remote
    }

    /// What the handshake settled, once connected.
    pub fn negotiated(&self) -> Option<&Negotiated> {
        self.negotiated.as_ref()
    }

    // ---- inputs -------------------------------------------------------------------------

    /// Processes a datagram from `from`. Application data records are decrypted in place
    /// inside `datagram` and returned as byte ranges of it (valid until `datagram` is
    /// modified); nothing is allocated for them. Beyond [`MAX_IN_PLACE_RECORDS`] records in
    /// one datagram, and for data that arrives before the handshake completes, the data
    /// comes as [`Event::ApplicationData`] instead.
    ///
    /// # Errors
    /// The datagram was dropped, and counted in [`stats`](Self::stats): none of its records
    /// parsed, authenticated, was fresh, or was one this state acts on (RFC 6347 §4.1.2.7
    /// drops such records silently). A drop never changes the connection. Records dropped
    /// beside an accepted one are dropped silently. A fatal failure is not an `Err` but an
    /// [`Event::Failed`], with a fatal alert queued for the peer.
    pub fn handle_receive(
        &mut self,
        now: Instant,
        from: SocketAddr,
        datagram: &mut [u8],
    ) -> Result<AppDataRanges, ReceiveError> {
        let result = self.receive(now, from, datagram);
        match &result {
            Ok(_) => self.stats.datagrams_accepted += 1,
            Err(e) => self.stats.count_drop(*e),
        }
        result
    }

    fn receive(
        &mut self,
        now: Instant,
        from: SocketAddr,
        datagram: &mut [u8],
    ) -> Result<AppDataRanges, ReceiveError> {
        let mut ranges = AppDataRanges::default();
        match self.phase {
            Phase::Closed | Phase::Failed => return Err(ReceiveError::Closed),
            Phase::Idle => return Err(ReceiveError::Unexpected),
            Phase::Handshaking | Phase::Connected => {}
        }
        self.reply_to = Some(from);
        let mut peer_retransmitted = false;
        let mut accepted = false;
        let mut authenticated = false;
        let mut first_drop = None;
        let mut off = 0;
        while off < datagram.len() {
            let rest = &datagram[off..];
            if rest.len() < HEADER_LEN {
                first_drop.get_or_insert(ReceiveError::Malformed);
                break;
            }
            let end = off + HEADER_LEN + usize::from(u16::from_be_bytes([rest[11], rest[12]]));
            let Ok(rec) = Record::new_checked(datagram.get(off..end).unwrap_or(&[])) else {
                first_drop.get_or_insert(ReceiveError::Malformed);
                break;
            };
            let header = rec.repr();
            let in_place = header.epoch == 1
                && header.content_type == ContentType::ApplicationData
                && self.phase == Phase::Connected
                && ranges.len < MAX_IN_PLACE_RECORDS;
            let outcome = if in_place {
                match &self.read_cipher {
                    None => Ok(Some(ReceiveError::Unauthenticated)),
                    Some(_) if !self.replay.check(header.sequence_number) => {
                        Ok(Some(ReceiveError::Replayed))
                    }
                    Some(cipher) => {
                        let start = off + HEADER_LEN;
                        let skip = plaintext_offset(cipher);
                        match cipher.open(&header, &mut datagram[start..end]) {
                            Some(p) => {
                                let len = p.len();
                                self.replay.update(header.sequence_number);
                                ranges.ranges[ranges.len] = (start + skip, start + skip + len);
                                ranges.len += 1;
                                Ok(None)
                            }
                            None => Ok(Some(ReceiveError::Unauthenticated)),
                        }
                    }
                }
            } else {
                self.handle_record(now, rec, &mut peer_retransmitted)
            };
            match outcome {
                Ok(None) => {
                    accepted = true;
                    authenticated |= header.epoch == 1;
                }
                Ok(Some(drop)) => {
                    first_drop.get_or_insert(drop);
                }
                Err(e) => {
                    // Fatal: the connection ends here; the datagram was acted on.
                    self.fail(e);
                    self.reply_to = None;
                    return Ok(ranges);
                }
            }
            if matches!(self.phase, Phase::Closed | Phase::Failed) {
                self.reply_to = None;
                return Ok(ranges);
            }
            off = end;
        }
        if peer_retransmitted {
            self.answer_peer_retransmission(now);
        }
        self.reply_to = None;
        if !accepted {
            return Err(first_drop.unwrap_or(ReceiveError::Malformed));
        }
        // The peer is whoever we heard from: once a server holds handshake state (the
        // cookie checked out), and after the handshake only from authenticated records, so
        // a replayed plaintext datagram cannot redirect the connection.
        if !self.hs.is_stateless_server() && (self.phase != Phase::Connected || authenticated) {
            self.remote = Some(from);
        }
        Ok(ranges)
    }

    /// Retransmits the current flight when its timer expired, doubling the timeout
    /// (RFC 6347 §4.2.4.1); fails the handshake after `max_retransmissions`.
    pub fn handle_timeout(&mut self, now: Instant) {
        let Some(at) = self.retransmit_at else { return };
        if now < at || self.phase != Phase::Handshaking {
            return;
        }
        if self.retransmissions >= self.common.config.max_retransmissions {
            self.retransmit_at = None;
            self.fail(Error::HandshakeTimeout);
            return;
        }
        self.retransmissions += 1;
        self.rto = (self.rto * 2).min(self.common.config.max_rto);
        self.retransmit_at = Some(now + self.rto);
        self.flight_sent_at = Some(now);
        self.send_flight();
    }

    /// Repeats the current flight because the peer repeated the flight it answers: ours
    /// was lost (RFC 6347 §4.2.4: on receipt of a retransmitted flight, retransmit).
    ///
    /// A genuine repeat of the peer's whole flight (see `RepeatTracker`) is answered
    /// unless our flight went out less than half the *initial* timeout ago (the peer's
    /// repeat then crossed it). It does not wait for our own backed-off timer: a peer
    /// whose timer runs faster than ours (one that does not back off, or restarted its
    /// timer) would otherwise wait up to half our current timeout for an answer.
    ///
    /// Anything less, a part of the flight or copies of records already seen, is
    /// answered at most once per half *current* retransmission timeout since the flight
    /// was last sent, by any path: otherwise each replayed copy of one small datagram (a
    /// duplicating link, or an attacker replaying a capture) would make us send a whole
    /// flight, certificate included, an amplification. The timer-driven retransmission
    /// (§4.2.4.1) is unaffected.
    fn answer_peer_retransmission(&mut self, now: Instant) {
        if self.flight.is_empty() {
            return;
        }
        let window = if self.repeat.whole() {
            self.common.config.initial_rto / 2
        } else {
            self.rto / 2
        };
        if self.flight_sent_at.is_some_and(|at| now < at + window) {
            return;
        }
        self.flight_sent_at = Some(now);
        self.repeat
            .restart(self.peer_flight_start, self.flight_recv_start);
        self.send_flight();
    }

    // ---- commands -----------------------------------------------------------------------

    /// Sends `data` as one application data record. Records sent one after another share a
    /// datagram while they fit the MTU; [`poll_transmit`](Self::poll_transmit) hands the
    /// datagram out. Nothing is allocated in steady state: records are sealed into a buffer
    /// the endpoint keeps, which it reuses once the transmits lent from it are dropped.
    ///
    /// # Errors
    /// [`Error::NotConnected`] before the handshake completes, [`Error::Closed`] after the
    /// connection closed or failed, [`Error::TooLarge`] for more than 2^14 bytes.
    pub fn send(&mut self, data: &[u8]) -> Result<(), Error> {
        match self.phase {
            Phase::Connected => {}
            Phase::Idle | Phase::Handshaking => return Err(Error::NotConnected),
            Phase::Closed | Phase::Failed => return Err(Error::Closed),
        }
        if data.len() > MAX_PLAINTEXT {
            return Err(Error::TooLarge(data.len()));
        }
        let record_len = HEADER_LEN + data.len() + self.epoch_overhead(1);
        if !self.tx_buf.is_empty() && self.tx_buf.len() + record_len > self.common.config.mtu {
            self.flush_tx_buf();
        }
        let mut buf = std::mem::take(&mut self.tx_buf);
        buf.reserve(record_len);
        let before = buf.len();
        let r = self.seal_record(&mut buf, ContentType::ApplicationData, 1, data);
        if r.is_err() {
            buf.truncate(before);
        }
        self.tx_buf = buf;
        r
    }

    /// Sends close_notify and closes this endpoint.
    pub fn close(&mut self) {
        if matches!(self.phase, Phase::Closed | Phase::Failed | Phase::Idle) {
            return;
        }
        self.send_alert(Alert::close_notify());
        self.phase = Phase::Closed;
        self.retransmit_at = None;
    }

    // ---- outputs ------------------------------------------------------------------------

    /// The next datagram to send, addressed to the peer (see the type's documentation).
    pub fn poll_transmit(&mut self) -> Option<Transmit> {
        if self.transmits.is_empty() {
            self.flush_tx_buf();
        }
        self.transmits.pop_front()
    }

    /// The next event.
    pub fn poll_event(&mut self) -> Option<Event> {
        self.events.pop_front()
    }

    /// When to call `handle_timeout` next.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.retransmit_at
    }

    /// RFC 5705 keying material exporter (no context), available once connected.
    pub fn export_keying_material(&self, label: &[u8], len: usize) -> Result<Vec<u8>, Error> {
        let keys = match (&self.keys, self.phase) {
            (Some(k), Phase::Connected | Phase::Closed) => k,
            _ => return Err(Error::NotConnected),
        };
        let mut out = vec![0u8; len];
        keys.export(label, &mut out);
        Ok(out)
    }

    /// The NSS key log line for this connection (`CLIENT_RANDOM <client random> <master
    /// secret>`, both hex), the format Wireshark reads to decrypt a capture. Available once
    /// the master secret is known. It is the connection's secret: write it only where a
    /// debugging user asked for it.
    pub fn key_log_line(&self) -> Option<String> {
        let keys = self.keys.as_ref()?;
        let hex = |b: &[u8]| b.iter().map(|b| format!("{b:02x}")).collect::<String>();
        Some(format!(
            "CLIENT_RANDOM {} {}",
            hex(&keys.client_random),
            hex(&keys.master_secret)
        ))
    }

    /// DTLS-SRTP keys (RFC 5764 §4.2): the `EXTRACTOR-dtls_srtp` output for the negotiated
    /// profile, split by [`SrtpKeys::split`] for our role (local is what we send).
    ///
    /// # Errors
    /// [`Error::NotConnected`] before the handshake completes or when use_srtp was not
    /// negotiated.
    pub fn srtp_keys(&self) -> Result<SrtpKeys, Error> {
        let profile: SrtpProfile = self
            .keys
            .as_ref()
            .and_then(|k| k.srtp_profile)
            .ok_or(Error::NotConnected)?;
        let material =
            self.export_keying_material(SRTP_EXPORTER_LABEL, profile.keying_material_len())?;
        // The exporter returned exactly the profile's length, all `split` checks.
        SrtpKeys::split(profile, self.role, &material).ok_or(Error::Crypto)
    }

    // ---- record layer -------------------------------------------------------------------

    /// One record: `Ok(None)` when acted on, `Ok(Some(reason))` when dropped, `Err` when
    /// the connection fails.
    fn handle_record(
        &mut self,
        now: Instant,
        rec: Record<&[u8]>,
        peer_retransmitted: &mut bool,
    ) -> Result<Option<ReceiveError>, Error> {
        let header = rec.repr();
        if header.epoch == 0
            && header.content_type == ContentType::Handshake
            && !self.hs.is_stateless_server()
        {
            self.repeat.note(
                0,
                header.sequence_number,
                rec.fragment(),
                self.peer_flight_start,
            );
        }
        match header.epoch {
            0 => {
                // Epoch 0 is unauthenticated: after the handshake it carries nothing we
                // act on but the peer's retransmissions, and a server without cookie
                // state acts on nothing but a ClientHello.
                let payload = rec.fragment();
                match header.content_type {
                    ContentType::Handshake if self.phase == Phase::Connected => {
                        // Only a repeat of the peer's last flight means anything now: it
                        // lost our final flight. New plaintext messages could come from
                        // anyone and are ignored.
                        let start = self.flight_recv_start;
                        let repeat = Fragment::parse_all(payload)
                            .map_while(Result::ok)
                            .any(|f| f.message_seq < start);
                        *peer_retransmitted |= repeat;
                        Ok((!repeat).then_some(ReceiveError::Unexpected))
                    }
                    ContentType::Handshake => {
                        let acted = self.handle_handshake_payload(
                            now,
                            payload,
                            header.sequence_number,
                            peer_retransmitted,
                        )?;
                        Ok((!acted).then_some(ReceiveError::Unexpected))
                    }
                    ContentType::Alert if self.hs.is_stateless_server() => {
                        // Before a ClientHello's cookie checks out the server keeps no
                        // state (RFC 6347 §4.2.1), so it has no peer whose alert it could
                        // believe: acting on one would let a single spoofed datagram end
                        // the endpoint before any handshake starts. Dropped.
                        tracing::debug!(
                            level = ?payload.first(),
                            description = ?payload.get(1),
                            "dtls: epoch-0 alert dropped by a server without cookie state"
                        );
                        Ok(Some(ReceiveError::Unexpected))
                    }
                    // After the cookie exchange a plaintext alert is the peer's only way
                    // to refuse before keys exist (e.g. bad_certificate): acted on.
                    ContentType::Alert if self.phase == Phase::Handshaking => {
                        self.handle_alert(payload)
                    }
                    // A ChangeCipherSpec is part of the peer's flight; its effect comes
                    // with the epoch-1 Finished.
                    ContentType::ChangeCipherSpec if !self.hs.is_stateless_server() => Ok(None),
                    _ => Ok(Some(ReceiveError::Unexpected)),
                }
            }
            1 => {
                if !self.replay.check(header.sequence_number) {
                    return Ok(Some(ReceiveError::Replayed));
                }
                let mut buf = std::mem::take(&mut self.scratch);
                buf.clear();
                buf.extend_from_slice(rec.fragment());
                let range = match &self.read_cipher {
                    None => None,
                    Some(cipher) => {
                        let off = plaintext_offset(cipher);
                        cipher.open(&header, &mut buf).map(|p| off..off + p.len())
                    }
                };
                let Some(range) = range else {
                    self.scratch = buf;
                    return Ok(Some(ReceiveError::Unauthenticated));
                };
                self.replay.update(header.sequence_number);
                let plain = &buf[range];
                if header.content_type == ContentType::Handshake {
                    self.repeat
                        .note(1, header.sequence_number, plain, self.peer_flight_start);
                }
                let result = match header.content_type {
                    ContentType::Handshake => self
                        .handle_handshake_payload(
                            now,
                            plain,
                            header.sequence_number,
                            peer_retransmitted,
                        )
                        .map(|_| None),
                    ContentType::Alert => self.handle_alert(plain),
                    ContentType::ApplicationData => {
                        let data = Bytes::copy_from_slice(plain);
                        if self.phase == Phase::Connected {
                            self.events.push_back(Event::ApplicationData(data));
                        } else if self.early_data.len() < MAX_EARLY_DATA {
                            // Authenticated data that overtook the peer's Finished: held
                            // until the handshake completes.
                            self.early_data.push(data);
                        }
                        Ok(None)
                    }
                    ContentType::ChangeCipherSpec => Ok(None),
                };
                self.scratch = buf;
                result
            }
            _ => Ok(Some(ReceiveError::Unexpected)),
        }
    }

    /// An alert record: `Ok(None)` when acted on, a drop when it does not decode, `Err`
    /// for a fatal alert (the connection failed).
    fn handle_alert(&mut self, payload: &[u8]) -> Result<Option<ReceiveError>, Error> {
        let Ok(alert) = Alert::decode(payload) else {
            return Ok(Some(ReceiveError::Malformed));
        };
        if alert.description == AlertDescription::CloseNotify {
            if !self.sent_close_notify {
                self.send_alert(Alert::close_notify());
            }
            self.phase = Phase::Closed;
            self.retransmit_at = None;
            self.events.push_back(Event::Closed);
            return Ok(None);
        }
        match alert.level {
            AlertLevel::Fatal => {
                self.phase = Phase::Failed;
                self.retransmit_at = None;
                let e = Error::AlertReceived(alert.description);
                self.events.push_back(Event::Failed(e.clone()));
                Err(e)
            }
            AlertLevel::Warning => {
                self.events.push_back(Event::AlertReceived(alert));
                Ok(None)
            }
        }
    }

    /// Handshake fragments; true if any was acted on (a stateless server acts only on a
    /// whole ClientHello).
    fn handle_handshake_payload(
        &mut self,
        now: Instant,
        payload: &[u8],
        record_seq: u64,
        peer_retransmitted: &mut bool,
    ) -> Result<bool, Error> {
        let mut acted = false;
        for frag in Fragment::parse_all(payload) {
            let Ok(frag) = frag else { break };
            // A new handshake restarts message_seq at 0 (RFC 6347 §4.2.2), so these are
            // renegotiation attempts, not retransmissions. A HelloRequest is ignored, as
            // RFC 5246 §7.4.1.1 allows (OpenSSL aborts the connection on a
            // no_renegotiation answer but carries on when ignored); a ClientHello gets a
            // no_renegotiation warning (RFC 5246 §7.2.2).
            if self.phase == Phase::Connected {
                match (self.role, frag.msg_type) {
                    (DtlsRole::Client, HandshakeType::HelloRequest) => {
                        acted = true;
                        continue;
                    }
                    (DtlsRole::Server, HandshakeType::ClientHello) => {
                        self.send_alert(Alert {
                            level: AlertLevel::Warning,
                            description: AlertDescription::NoRenegotiation,
                        });
                        acted = true;
                        continue;
                    }
                    _ => {}
                }
            }
            if self.hs.is_stateless_server() {
                if frag.msg_type != HandshakeType::ClientHello {
                    continue;
                }
                if frag.is_complete() {
                    acted = true;
                    self.handle_message(
                        now,
                        frag.message_seq,
                        frag.msg_type,
                        frag.body,
                        record_seq,
                    )?;
                    continue;
                }
                // A ClientHello too large for one datagram (Chromium's, with a post-quantum
                // key share offered for DTLS 1.3, is about 1.5 kB) comes in fragments that
                // must be reassembled before the cookie can be checked (RFC 9147 §5.1
                // lets the server do so). Only one ClientHello at a time and at most
                // MAX_CLIENT_HELLO bytes are held, so a spoofer can pin no more than that.
                if frag.length > MAX_CLIENT_HELLO {
                    continue;
                }
                if self.reassembler.next_seq() != frag.message_seq {
                    self.reassembler.reset(frag.message_seq);
                }
                acted = true;
                self.reassembler.insert(&frag)?;
                while let Some((seq, typ, body)) = self.reassembler.pop() {
                    self.handle_message(now, seq, typ, &body, record_seq)?;
                    if !self.hs.is_stateless_server() {
                        break;
                    }
                }
                continue;
            }
            // Only a repeat of the flight ours answers means ours was lost; a repeat of
            // the flight still arriving only means the peer's timer fired first.
            acted = true;
            if self.reassembler.insert(&frag)? == Insert::Old
                && frag.message_seq < self.flight_recv_start
            {
                *peer_retransmitted = true;
            }
            while let Some((seq, typ, body)) = self.reassembler.pop() {
                self.handle_message(now, seq, typ, &body, record_seq)?;
                if self.phase != Phase::Handshaking && self.phase != Phase::Connected {
                    return Ok(true);
                }
            }
        }
        Ok(acted)
    }

    fn handle_message(
        &mut self,
        now: Instant,
        seq: u16,
        typ: HandshakeType,
        body: &[u8],
        record_seq: u64,
    ) -> Result<(), Error> {
        let msg = HandshakeMessage::decode(typ, body).map_err(PeerMisbehaved::Malformed)?;
        let raw = hs::unfragmented(typ, seq, body);
        let state = std::mem::replace(&mut self.hs, Hs::Poisoned);
        self.hs = state.handle(
            &mut self.common,
            Incoming {
                seq,
                msg,
                raw: &raw,
            },
        )?;
        self.after_step(now, record_seq);
        Ok(())
    }

    /// Applies what a handshake step left in `common`.
    fn after_step(&mut self, now: Instant, record_seq: u64) {
        if let Some(cookie) = self.common.hello_verify.take() {
            // Stateless reply: record sequence number copied from the ClientHello
            // (RFC 6347 §4.2.1); message_seq 0; not retransmitted.
            let mut payload = Vec::new();
            let msg = hs::hello_verify_request(cookie);
            let mut body = Vec::new();
            msg.encode(&mut body);
            emit_header(
                &mut payload,
                HandshakeType::HelloVerifyRequest,
                body.len() as u32,
                0,
                0,
                body.len() as u32,
            );
            payload.extend_from_slice(&body);
            let mut out = Vec::new();
            RecordHeader {
                content_type: ContentType::Handshake,
                version: DTLS_1_2,
                epoch: 0,
                sequence_number: record_seq,
                length: payload.len() as u16,
            }
            .emit(&mut out);
            out.extend_from_slice(&payload);
            self.write_seq[0] = self.write_seq[0].max(record_seq + 1);
            self.push_datagram(out);
        }
        if let Some(next) = self.common.next_recv_seq.take() {
            self.reassembler.reset(next);
            // The server's first flight answers the ClientHello, the message before.
            self.flight_recv_start = next.wrapping_sub(1);
        }
        if let Some(keys) = self.common.keys.take() {
            // `Keys::ciphers` only fails if ring rejects a key of the length it asked
            // for; treat it as a crypto failure.
            match keys.ciphers() {
                Ok((client_write, server_write)) => {
                    let (w, r) = match self.role {
                        DtlsRole::Client => (client_write, server_write),
                        DtlsRole::Server => (server_write, client_write),
                    };
                    self.write_cipher = Some(w);
                    self.read_cipher = Some(r);
                    self.keys = Some(keys);
                }
                Err(e) => {
                    self.fail(e);
                    return;
                }
            }
        }
        if let Some(flight) = self.common.flight.take() {
            self.flight = flight;
            let peer_flight_start = self.flight_recv_start;
            self.flight_recv_start = self.reassembler.next_seq();
            self.peer_flight_start = peer_flight_start;
            self.repeat
                .restart(peer_flight_start, self.flight_recv_start);
            self.rto = self.common.config.initial_rto;
            self.retransmissions = 0;
            self.retransmit_at = if self.common.flight_is_final {
                None
            } else {
                Some(now + self.rto)
            };
            self.flight_sent_at = Some(now);
            self.send_flight();
        }
        if let Some(w) = self.common.warning.take() {
            self.send_alert(Alert {
                level: AlertLevel::Warning,
                description: w,
            });
        }
        if self.common.connected {
            self.common.connected = false;
            self.phase = Phase::Connected;
            self.retransmit_at = None;
            if self.role == DtlsRole::Client {
                // Nothing of ours is left to repeat once the server's Finished arrived.
                self.flight = Vec::new();
            }
            // The handshake is over: its transcript (both certificates and every message,
            // a few KiB) and any partial message are not needed again; an idle connection
            // should not carry them. A repeated flight from the peer is still recognised
            // by its sequence numbers.
            self.common.transcript = Vec::new();
            let next = self.reassembler.next_seq();
            self.reassembler.reset(next);
            // `connected` is only set after keys were installed (Finished needs them).
            if let Some(keys) = &self.keys {
                let n = Negotiated {
                    cipher_suite: keys.suite,
                    srtp_profile: keys.srtp_profile,
                    peer_certificate: self.common.peer_certificate.take().unwrap_or_default(),
                };
                self.negotiated = Some(n.clone());
                self.events.push_back(Event::Connected(n));
                for d in self.early_data.drain(..) {
                    self.events.push_back(Event::ApplicationData(d));
                }
            }
        }
    }

    fn epoch_overhead(&self, epoch: u16) -> usize {
        match (&self.write_cipher, epoch) {
            (Some(c), 1) => c.bulk().overhead(),
            _ => 0,
        }
    }

    /// Appends one record to `out`, protected when `epoch` is 1.
    fn seal_record<B: BufMut + AsMut<[u8]>>(
        &mut self,
        out: &mut B,
        ty: ContentType,
        epoch: u16,
        payload: &[u8],
    ) -> Result<(), Error> {
        let idx = usize::from(epoch.min(1));
        let seq = self.write_seq[idx];
        self.write_seq[idx] += 1;
        if epoch == 0 {
            let header = RecordHeader {
                content_type: ty,
                version: DTLS_1_2,
                epoch: 0,
                sequence_number: seq,
                length: payload.len() as u16,
            };
            out.put_slice(&header.to_bytes());
            out.put_slice(payload);
            Ok(())
        } else {
            let cipher = self.write_cipher.as_ref().ok_or(Error::InvalidState)?;
            cipher.seal(ty, DTLS_1_2, epoch, seq, payload, out)
        }
    }

    /// Sends the current flight, fragmenting messages to the MTU and packing records into
    /// datagrams (RFC 6347 §4.1.1, §4.2.3). Every (re)transmission uses fresh record
    /// sequence numbers.
    fn send_flight(&mut self) {
        let mtu = self.common.config.mtu;
        let flight = std::mem::take(&mut self.flight);
        let mut dgram = Vec::with_capacity(mtu);
        let mut records: Vec<(ContentType, u16, Vec<u8>)> = Vec::new();
        for item in &flight {
            match item {
                FlightItem::ChangeCipherSpec => {
                    records.push((ContentType::ChangeCipherSpec, 0, vec![1]));
                }
                FlightItem::Handshake {
                    epoch,
                    msg_type,
                    seq,
                    body,
                } => {
                    let overhead = HEADER_LEN + handshake::HEADER_LEN + self.epoch_overhead(*epoch);
                    // A ClientHello is never fragmented: the stateless server will not
                    // reassemble one before the cookie exchange.
                    let max = if *msg_type == HandshakeType::ClientHello {
                        body.len().max(1)
                    } else {
                        mtu.saturating_sub(overhead).max(16)
                    };
                    let mut off = 0;
                    loop {
                        let n = (body.len() - off).min(max);
                        let mut payload = Vec::with_capacity(handshake::HEADER_LEN + n);
                        emit_header(
                            &mut payload,
                            *msg_type,
                            body.len() as u32,
                            *seq,
                            off as u32,
                            n as u32,
                        );
                        payload.extend_from_slice(&body[off..off + n]);
                        records.push((ContentType::Handshake, *epoch, payload));
                        off += n;
                        if off >= body.len() {
                            break;
                        }
                    }
                }
            }
        }
        for (ty, epoch, payload) in records {
            let size = HEADER_LEN + payload.len() + self.epoch_overhead(epoch);
            if !dgram.is_empty() && dgram.len() + size > mtu {
                let full = std::mem::replace(&mut dgram, Vec::with_capacity(mtu));
                self.push_datagram(full);
            }
            // Sealing fails only without a write cipher, which flights in epoch 1 are
            // never built without; such a record is skipped.
            let _ = self.seal_record(&mut dgram, ty, epoch, &payload);
        }
        if !dgram.is_empty() {
            self.push_datagram(dgram);
        }
        self.flight = flight;
    }

    /// Queues a datagram for the peer: the sender of the datagram being handled, or the
    /// remote address. Application data sealed before it goes first. Without an address
    /// (a server that never heard from anyone) there is no one to send to.
    fn push_datagram(&mut self, contents: Vec<u8>) {
        self.flush_tx_buf();
        if let Some(destination) = self.reply_to.or(self.remote) {
            self.transmits
                .push_back(Transmit::udp(destination, Bytes::from(contents)));
        }
    }

    /// Turns the application data records sealed so far into a transmit. The contents are
    /// split off `tx_buf`, which reuses its memory once every transmit lent from it is
    /// dropped: nothing is allocated in steady state.
    fn flush_tx_buf(&mut self) {
        if self.tx_buf.is_empty() {
            return;
        }
        let contents = self.tx_buf.split().freeze();
        if let Some(destination) = self.remote {
            self.transmits
                .push_back(Transmit::udp(destination, contents));
        }
    }

    fn send_alert(&mut self, alert: Alert) {
        let epoch = if self.write_cipher.is_some() && self.keys.is_some() {
            1
        } else {
            0
        };
        let mut out = Vec::new();
        if self
            .seal_record(&mut out, ContentType::Alert, epoch, &alert.encode())
            .is_ok()
        {
            self.push_datagram(out);
        }
        if alert.description == AlertDescription::CloseNotify {
            self.sent_close_notify = true;
        }
    }

    /// Fails the connection: queues the fatal alert the error calls for, emits
    /// `Event::Failed`, and returns the error.
    fn fail(&mut self, e: Error) -> Error {
        if self.phase != Phase::Failed {
            if let Some(d) = e.alert() {
                self.send_alert(Alert::fatal(d));
            }
            if !matches!(e, Error::AlertReceived(_)) {
                self.events.push_back(Event::Failed(e.clone()));
            }
            self.phase = Phase::Failed;
            self.retransmit_at = None;
            self.flight.clear();
        }
        e
    }
}

/// Where the plaintext starts inside a decrypted fragment buffer.
fn plaintext_offset(cipher: &RecordCipher) -> usize {
    match cipher.bulk() {
        crate::types::BulkCipher::Chacha20Poly1305 => 0,
        _ => crate::crypto::cipher::GCM_EXPLICIT_NONCE_LEN,
    }
}
