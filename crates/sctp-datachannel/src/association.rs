//! The sans-IO SCTP association (RFC 9260) with partial reliability (RFC 3758) and stream reset
//! (RFC 6525), as carried over DTLS for WebRTC (RFC 8261).
//!
//! # Driving it
//!
//! [`Association`] never touches a socket or a clock. Its methods fall into four groups:
//!
//! - getters: [`Association::state`], [`Association::buffered_amount`], ...
//! - inputs: [`Association::handle_receive`] (one SCTP packet, i.e. one DTLS record's
//!   plaintext) and [`Association::handle_timeout`];
//! - commands: [`Association::connect`], [`Association::send`], [`Association::reset_streams`],
//!   [`Association::shutdown`], [`Association::abort`];
//! - outputs: [`Association::poll_transmit`], [`Association::poll_event`],
//!   [`Association::poll_timeout`].
//!
//! After any input or command, drain `poll_transmit` until it returns `None`, then
//! `poll_event` until `None`, then sleep until `poll_timeout` and call `handle_timeout` (the
//! ferrtc contract, [`ferrtc_types`]). Reading a message with `poll_event` frees receive buffer;
//! when that reopens the window noticeably the association asks, through `poll_timeout`, to be
//! woken at once so the window update goes out on the next `poll_transmit`.
//!
//! # Addresses
//!
//! SCTP packets ride in DTLS application data (RFC 8261): the association has no address of
//! its own and never picks a path. Each [`Transmit`] is addressed to the peer as the caller
//! named it: the `remote` given to [`Association::connect`] on the side that starts, and
//! otherwise the `from` of the last packet that passed the checksum and verification-tag
//! checks in [`Association::handle_receive`]. `source` is always `None`.
//!
//! # Errors from `handle_receive`
//!
//! An `Err` means only "this packet was dropped": nothing in it was acted on and the state did
//! not change (it may queue the reply RFC 9260 asks for, a stale-cookie or unrecognized-chunk
//! ERROR). Drops are counted in [`Stats::packets_dropped`]. A packet that breaks the protocol
//! badly enough to end the association returns `Ok` and ends it with
//! [`Event::Closed`]`(`[`CloseReason::ProtocolViolation`]`)`. When a later chunk of a packet
//! fails after earlier ones were processed, the rest of the packet is discarded
//! (as RFC 9260 section 3.2 says for unrecognized chunks), `Ok` is returned and the packet is
//! counted in [`Stats::packets_cut_short`].
//!
//! # Memory
//!
//! Every queue is bounded by the [`Config`]: messages waiting to be sent by
//! [`Config::send_buffer`] (`send` fails with [`Error::SendBufferFull`] past it), data received
//! but not yet read by the application (out-of-order chunks, partly reassembled messages and
//! undrained `Message` events together) by the receive window, [`Config::receive_buffer`] (or
//! [`Config::max_message_size`] if larger), kept exactly: a DATA chunk that does not fit the
//! room left is dropped (RFC 9260 section 6.2), and one message by
//! [`Config::max_message_size`]. A peer that advertises a huge window changes nothing about what
//! we hold; a peer that sends endless fragments is aborted once the message passes the maximum
//! size. With I-DATA the fragments held for reassembly, whatever their MIDs and FSNs, are also
//! bounded in number (one per 64 bytes of window, at least 4096).
//!
//! # Loss detection
//!
//! Reordering is not taken for loss. A chunk is declared lost by RACK's time rule (RFC 8985
//! section 6.2, over TSNs and per-chunk send times): a chunk sent after it was delivered, and
//! a reordering window (a quarter of the smallest round trip, widened while retransmissions
//! prove spurious, never past SRTT) has passed since it would have been acknowledged. Until the
//! path has shown reordering, RFC 9260's three miss indications declare it lost too. What
//! follows a loss is RFC 9260's: Fast Recovery halves the window once per round trip, a chunk
//! is fast-retransmitted once, T3 does the rest. A Fast Recovery whose retransmissions all
//! prove spurious (each acknowledged sooner than a round trip after it went out, or before it
//! went out at all) is undone: the window returns to what it was, as RFC 8985 section 9.3
//! and RFC 4015 allow, and is counted in [`Stats::spurious_recoveries`].
//!
//! # Scope and deviations
//!
//! - One path (DTLS has no addresses): no multi-homing, ASCONF or path failover.
//! - RTO.Min defaults to 200 ms rather than RFC 9260's 1 s, as WebRTC stacks do.
//! - An INIT for an established association (a restart) is ignored: over DTLS a restart is a
//!   new DTLS session and a new `Association`.
//! - We renege on gap-acknowledged data only as RFC 9260 section 6.2 says, when a full window
//!   holds out-of-order chunks above one that arrives; a peer that reneges is recovered by T3.
//! - User message interleaving (RFC 8260) is offered when [`Config::interleaving`] is set and
//!   used when the peer offers it too: I-DATA and I-FORWARD-TSN replace DATA and FORWARD
//!   TSN, TSNs are assigned one chunk at a time, and the [`Scheduler`] takes turns between
//!   streams per chunk, so a large message does not hold back small ones on other streams.
//!   Otherwise streams take turns per message. The schedulers are round robin and strict
//!   priority (RFC 8260 sections 3.2, 3.4), not weighted fair queueing (section 3.6). A
//!   message starts beside others only while all started messages fit the window the peer
//!   announced, so that the peer can always finish reassembling them (there is no partial
//!   delivery); a message that fits one chunk always may, since it is whole on arrival.
//! - Unrecognized INIT parameters are ignored, not reported.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use ferrtc_types::{Transmit, Transport};
use rand::RngCore;
use ring::hmac;

use crate::error::{Error, PeerMisbehaved};
use crate::wire::{
    self, COMMON_HEADER_LEN, ChunkRepr, CommonHeader, DATA_FLAG_BEGIN, DATA_FLAG_END,
    DATA_FLAG_IMMEDIATE, DATA_FLAG_UNORDERED, DATA_HEADER_LEN, DataChunk, ErrorCause, GapBlock,
    I_DATA_HEADER_LEN, IDataChunk, InitChunk, InitParam, List, Packet, ReconfigParam, SackChunk,
    StreamMid, StreamSsn, TlvList, cause_code, chunk_type, reconfig_result,
};

/// Settings of an association.
#[derive(Debug, Clone)]
pub struct Config {
    /// Our SCTP port (RFC 8841 default 5000).
    pub local_port: u16,
    /// The peer's SCTP port.
    pub remote_port: u16,
    /// Largest SCTP packet we send (the DTLS payload). 1200 keeps DTLS+UDP+IP under 1280.
    pub mtu: usize,
    /// Largest message either side may send (RFC 8841 `max-message-size`).
    pub max_message_size: usize,
    /// Receive buffer: the receive window, and so what the peer can make us hold (raised to
    /// [`Config::max_message_size`] when smaller, so that a whole message fits).
    pub receive_buffer: usize,
    /// Send buffer: messages queued beyond this are refused with [`Error::SendBufferFull`].
    pub send_buffer: usize,
    /// Number of streams we offer in each direction.
    pub streams: u16,
    /// RTO.Initial (RFC 9260 section 16).
    pub rto_initial: Duration,
    /// RTO.Min. RFC 9260 says 1 s; WebRTC stacks use less, and so does this default.
    pub rto_min: Duration,
    /// RTO.Max.
    pub rto_max: Duration,
    /// Association.Max.Retrans: consecutive timeouts before the association is given up.
    pub max_retransmissions: u32,
    /// Max.Init.Retransmits.
    pub max_init_retransmissions: u32,
    /// Delayed SACK timeout (RFC 9260 section 6.2, at most 500 ms).
    pub delayed_ack: Duration,
    /// HB.interval; `None` disables heartbeats (DTLS already proves liveness).
    pub heartbeat_interval: Option<Duration>,
    /// Valid.Cookie.Life.
    pub cookie_lifetime: Duration,
    /// Announce and use partial reliability (RFC 3758 FORWARD TSN). Without it on both sides,
    /// every message is sent reliably whatever its [`Reliability`].
    pub partial_reliability: bool,
    /// Announce user message interleaving (RFC 8260 I-DATA, and I-FORWARD-TSN with partial
    /// reliability). When the peer announces it too, every message goes in I-DATA chunks and
    /// the [`Config::scheduler`] takes turns between streams per chunk, so a large message
    /// does not hold back small ones on other streams; otherwise DATA chunks are used and
    /// streams take turns per message. Off by default: the peer connection turns it on once
    /// browsers are tested with it.
    pub interleaving: bool,
    /// How outgoing streams take turns (RFC 8260 section 3).
    pub scheduler: Scheduler,
}

/// The stream scheduler: which stream's data goes next when the window allows (RFC 8260
/// section 3). With I-DATA the choice is made per chunk, otherwise per message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum Scheduler {
    /// Round robin over the streams with data waiting (RFC 8260 section 3.2).
    #[default]
    RoundRobin,
    /// Strict priority (RFC 8260 section 3.4): a stream with a higher
    /// [`Association::set_stream_priority`] goes first; equal priorities take turns round
    /// robin. The values are those of the data channel priority (RFC 8831 section 6.4, RFC
    /// 8832 section 5.1: higher is more urgent).
    Priority,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            local_port: 5000,
            remote_port: 5000,
            mtu: 1200,
            max_message_size: 256 * 1024,
            receive_buffer: 1024 * 1024,
            send_buffer: 4 * 1024 * 1024,
            streams: 65535,
            rto_initial: Duration::from_secs(1),
            rto_min: Duration::from_millis(200),
            rto_max: Duration::from_secs(60),
            max_retransmissions: 10,
            max_init_retransmissions: 8,
            delayed_ack: Duration::from_millis(200),
            heartbeat_interval: Some(Duration::from_secs(30)),
            cookie_lifetime: Duration::from_secs(60),
            partial_reliability: true,
            interleaving: false,
            scheduler: Scheduler::RoundRobin,
        }
    }
}

/// Association states (RFC 9260 section 4).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum State {
    /// No association; an incoming INIT is answered statelessly.
    Closed,
    /// INIT sent.
    CookieWait,
    /// COOKIE ECHO sent.
    CookieEchoed,
    /// Data flows.
    Established,
    /// Shutdown asked for; outstanding data still being delivered.
    ShutdownPending,
    /// SHUTDOWN sent.
    ShutdownSent,
    /// SHUTDOWN received; delivering our outstanding data.
    ShutdownReceived,
    /// SHUTDOWN ACK sent.
    ShutdownAckSent,
}

/// How hard the association tries to deliver a message (RFC 3758, RFC 8831 section 6.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Reliability {
    /// Retransmit until acknowledged.
    #[default]
    Reliable,
    /// Give up after this many retransmissions.
    MaxRetransmits(u32),
    /// Give up once this long has passed since `send`.
    MaxLifetime(Duration),
}

/// Options of one message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SendOptions {
    /// Deliver as soon as it arrives, not in stream order.
    pub unordered: bool,
    /// Partial reliability.
    pub reliability: Reliability,
}

/// A message received on a stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    /// Stream identifier.
    pub stream: u16,
    /// Payload protocol identifier.
    pub ppid: u32,
    /// Whether it was sent unordered.
    pub unordered: bool,
    /// The user data.
    pub data: Bytes,
}

/// Why an association ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum CloseReason {
    /// Graceful SHUTDOWN completed.
    Shutdown,
    /// We called [`Association::abort`].
    LocalAbort,
    /// The peer sent ABORT.
    PeerAbort,
    /// Too many retransmissions without an answer.
    Timeout,
    /// The peer broke the protocol and we aborted.
    ProtocolViolation(PeerMisbehaved),
}

/// What the association tells the layer above.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Event {
    /// The handshake completed.
    Connected,
    /// A whole message arrived.
    Message(Message),
    /// The stream's buffered amount fell to or below its low threshold.
    BufferedAmountLow {
        /// Stream identifier.
        stream: u16,
    },
    /// The peer reset these incoming streams (RFC 6525); empty means all.
    IncomingStreamsReset(Vec<u16>),
    /// Our reset of these outgoing streams completed; their ids can be reused.
    OutgoingStreamsReset(Vec<u16>),
    /// The association ended.
    Closed(CloseReason),
}

/// Counters for tests and reports.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Stats {
    /// Packets sent.
    pub packets_sent: u64,
    /// Packets received (checksum and chunk framing passed).
    pub packets_received: u64,
    /// DATA chunks retransmitted.
    pub retransmissions: u64,
    /// Fast retransmit episodes.
    pub fast_retransmits: u64,
    /// T3-rtx expirations.
    pub t3_expirations: u64,
    /// Messages abandoned (partial reliability).
    pub abandoned_messages: u64,
    /// DATA chunks dropped for lack of receive buffer.
    pub dropped_chunks: u64,
    /// Packets [`Association::handle_receive`] dropped whole (it returned an `Err`).
    pub packets_dropped: u64,
    /// Packets whose remaining chunks were discarded after a chunk failed, once earlier
    /// chunks of the same packet had been processed.
    pub packets_cut_short: u64,
    /// Fast recoveries undone because every chunk they retransmitted turned out to have
    /// arrived already (reordering, not loss): the congestion window was restored.
    pub spurious_recoveries: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Timer {
    T1 = 0,
    T2Shutdown,
    T3Rtx,
    DelayedAck,
    Heartbeat,
    Reconfig,
    /// RACK reordering window (RFC 8985 section 6.2): a chunk sent before one that was
    /// delivered is declared lost once the window has passed.
    Rack,
}
const TIMERS: usize = 7;
const ALL_TIMERS: [Timer; TIMERS] = [
    Timer::T1,
    Timer::T2Shutdown,
    Timer::T3Rtx,
    Timer::DelayedAck,
    Timer::Heartbeat,
    Timer::Reconfig,
    Timer::Rack,
];

/// TSN serial-number comparison (RFC 9260 section 1.6).
#[inline]
fn tsn_lt(a: u32, b: u32) -> bool {
    (a.wrapping_sub(b) as i32) < 0
}

#[inline]
fn tsn_le(a: u32, b: u32) -> bool {
    a == b || tsn_lt(a, b)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum TxState {
    Unsent,
    InFlight,
    /// Marked for retransmission; not counted in flight.
    Rtx,
    /// Acknowledged by a gap block.
    GapAcked,
    Abandoned,
}

#[derive(Debug)]
struct TxChunk {
    data: Bytes,
    stream: u16,
    /// The SSN (DATA) or the MID (I-DATA).
    mid: u32,
    /// The FSN (I-DATA only).
    fsn: u32,
    ppid: u32,
    flags: u8,
    state: TxState,
    tx_count: u32,
    misses: u8,
    /// When it was last transmitted (RACK, RFC 8985 section 6.1).
    sent_at: Instant,
    /// The fast recovery that retransmitted it (see `Undo`).
    episode: u32,
    /// Not counted in the stream's buffered amount (see `send_control`).
    control: bool,
    reliability: Reliability,
    expires: Option<Instant>,
}

impl TxChunk {
    fn should_abandon(&self, now: Instant) -> bool {
        match self.reliability {
            Reliability::Reliable => false,
            Reliability::MaxRetransmits(n) => self.tx_count > n,
            Reliability::MaxLifetime(_) => self.expires.is_some_and(|e| now >= e),
        }
    }
}

/// What loss detection needs of a chunk just acknowledged.
#[derive(Debug, Clone, Copy)]
struct Delivered {
    tsn: u32,
    sent_at: Instant,
    tx_count: u32,
    fast_retransmitted: bool,
    episode: u32,
    /// Marked for retransmission and not yet sent again.
    marked: bool,
}

impl Delivered {
    fn of(c: &TxChunk, tsn: u32, marked: bool) -> Self {
        Self {
            tsn,
            sent_at: c.sent_at,
            tx_count: c.tx_count,
            fast_retransmitted: c.misses == FAST_RTX_DONE,
            episode: c.episode,
            marked,
        }
    }
}

#[derive(Debug)]
struct OutMessage {
    stream: u16,
    ppid: u32,
    data: Bytes,
    opts: SendOptions,
    expires: Option<Instant>,
    control: bool,
    /// I-DATA: the message has its MID and some fragments have TSNs (RFC 8260 section 2.2.2:
    /// at most one such message per stream).
    started: bool,
    /// I-DATA: bytes already fragmented, the MID and the next FSN.
    off: usize,
    mid: u32,
    fsn: u32,
}

#[derive(Debug, Default)]
struct OutStream {
    /// Next SSN (DATA) or ordered MID (I-DATA).
    next_ssn: u32,
    /// Next unordered MID (I-DATA).
    next_umid: u32,
    buffered: usize,
    low_threshold: usize,
    resetting: bool,
    priority: u16,
}

#[derive(Debug)]
struct RxChunk {
    stream: u16,
    ssn: u16,
    ppid: u32,
    flags: u8,
    /// Empty once delivered early (unordered); kept so gap reports stay right. Always empty
    /// with I-DATA, whose data waits in `Association::reasm`.
    data: Bytes,
    /// DATA: handed up (or discarded). I-DATA: no longer held in `Association::reasm`.
    delivered: bool,
    /// I-DATA: the MID and FSN, to find the fragment in `Association::reasm`.
    mid: u32,
    fsn: u32,
}

/// Key of an I-DATA message being reassembled: stream, unordered, MID (RFC 8260 section
/// 2.2.3: the receiver reassembles by these and the FSN, not by TSN).
type MsgKey = (u16, bool, u32);

/// An I-DATA fragment held for reassembly.
#[derive(Debug)]
struct Frag {
    fsn: u32,
    /// Its TSN, extended, so that delivering the message can update `ooo`.
    tsn_ext: u64,
    data: Bytes,
}

/// What has arrived of one I-DATA message: its fragments sorted by FSN.
#[derive(Debug, Default)]
struct RxMsg {
    parts: Vec<Frag>,
    bytes: usize,
    /// The FSN of the fragment with the E bit, once it arrived.
    last: Option<u32>,
    /// The PPID, from the fragment with the B bit.
    ppid: u32,
}

impl RxMsg {
    /// Every fragment from FSN 0 to the last is here (the FSNs are distinct and sorted, so
    /// the count and the largest one say so).
    fn complete(&self) -> bool {
        self.last.is_some_and(|l| {
            self.parts.last().is_some_and(|f| f.fsn == l)
                && u64::from(l) + 1 == self.parts.len() as u64
        })
    }
}

#[derive(Debug, Default)]
struct Assembly {
    active: bool,
    stream: u16,
    ssn: u16,
    ppid: u32,
    unordered: bool,
    len: usize,
    parts: Vec<Bytes>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum AckState {
    Idle,
    Delayed,
    Immediate,
}

/// Parameters of the peer learned from INIT / INIT ACK or from our cookie.
#[derive(Debug, Clone, Copy)]
struct PeerInit {
    vtag: u32,
    initial_tsn: u32,
    a_rwnd: u32,
    outbound_streams: u16,
    inbound_streams: u16,
    forward_tsn: bool,
    reconfig: bool,
    /// Lists I-DATA in Supported Extensions (RFC 8260 section 2.2.1).
    idata: bool,
    /// Lists I-FORWARD-TSN (RFC 8260 section 2.3.1).
    iforward: bool,
}

/// What a fast recovery changed, kept so it can be undone when every chunk it retransmitted
/// proves to have arrived already (RFC 8985 section 9.3 and RFC 4015's response, adapted:
/// SCTP has no timestamps, so a retransmission is proven spurious when it is acknowledged
/// sooner than any round trip could bring it back, or reported as a duplicate).
#[derive(Debug, Clone, Copy)]
struct Undo {
    episode: u32,
    cwnd: usize,
    ssthresh: usize,
    /// Chunks the recovery marked for retransmission.
    marked: u32,
    /// Of those, acknowledged and proven spurious.
    spurious: u32,
}

/// RACK state (RFC 8985 section 6.1), per association (one path).
#[derive(Debug, Clone, Copy)]
struct Rack {
    /// Send time and TSN of the most recently sent chunk that was delivered.
    xmit: Option<(Instant, u32)>,
    /// The round trip of that chunk.
    rtt: Duration,
    /// Smallest round trip seen.
    min_rtt: Option<Duration>,
    /// Highest TSN delivered (cumulatively or in a gap block).
    fack: Option<u32>,
    /// A chunk was delivered after a later-sent one: the path reorders.
    reordering_seen: bool,
    /// The reordering window in quarters of min_RTT.
    reo_wnd_mult: u32,
    /// Recoveries left before `reo_wnd_mult` returns to 1.
    reo_wnd_persist: u32,
}

/// The stream list of a FORWARD TSN (SSNs of ordered streams) or I-FORWARD-TSN (MIDs).
#[derive(Debug)]
enum Skips {
    Ssn(Vec<StreamSsn>),
    Mid(Vec<StreamMid>),
}

impl Skips {
    /// Bytes the chunk takes.
    fn wire_len(&self) -> usize {
        match self {
            Self::Ssn(s) => 8 + 4 * s.len(),
            Self::Mid(s) => 8 + 8 * s.len(),
        }
    }
}

#[derive(Debug)]
struct OutReset {
    seq: u32,
    streams: Vec<u16>,
    last_tsn: u32,
    /// Needs (re)sending.
    send: bool,
}

const COOKIE_BODY: usize = 36;
const COOKIE_MAC: usize = 32;
const MAX_DUPS: usize = 16;
/// `TxChunk::misses` value of a chunk that was fast-retransmitted once.
const FAST_RTX_DONE: u8 = u8::MAX;
/// Miss indications that declare a chunk lost while no reordering has been seen: RFC 9260
/// section 7.2.4's three (RFC 8985 section 6.2 calls it DupThresh).
const DUP_THRESH: u8 = 3;
/// Largest multiple of min_RTT/4 the reordering window grows to (RFC 8985 section 6.2 step 4
/// bounds it by SRTT as well).
const MAX_REO_WND_MULT: u32 = 16;
/// Loss recoveries after which a grown reordering window shrinks back (RFC 8985 section 6.2,
/// `RACK.reo_wnd_persist`).
const REO_WND_PERSIST: u32 = 16;
/// Most control packets held for `poll_transmit` at once.
const MAX_CONTROL_QUEUE: usize = 64;
/// How far beyond the cumulative TSN we keep out-of-order chunks; gap offsets are 16 bits.
const MAX_TSN_AHEAD: u32 = 0xffff;

/// Most I-DATA fragments held for reassembly at once, per byte of receive window: a hostile
/// peer sending one-byte fragments is held to a fragment per 64 bytes of window (a fragment
/// costs about that much bookkeeping), and at least 4096.
const FRAG_WINDOW_BYTES: usize = 64;
const MIN_FRAGS: usize = 4096;
/// Parts vectors kept for reuse by I-DATA reassembly.
const MAX_SPARE_PARTS: usize = 16;

/// Packets' worth of room the send arena reserves at a time.
const ARENA_PACKETS: usize = 4;

/// A sans-IO SCTP association.
///
/// Built with [`Association::new`]`(config, now, rng)`. After any `handle_*` call or command,
/// drain [`Association::poll_transmit`] until `None`, then [`Association::poll_event`] until
/// `None`, then call [`Association::handle_timeout`] at [`Association::poll_timeout`]. See the
/// [module docs](self) for the whole contract, where [`Transmit`]s are addressed and what an
/// `Err` from [`Association::handle_receive`] means.
#[derive(Debug)]
pub struct Association {
    cfg: Config,
    state: State,
    epoch: Instant,
    /// The latest `now` any input or command brought: the deadline of a wake-up asked for by
    /// `poll_event`, which has no clock of its own.
    last_now: Instant,
    /// Where our packets go: given to `connect`, or the sender of the last accepted packet.
    remote: Option<SocketAddr>,
    cookie_key: hmac::Key,
    my_vtag: u32,
    my_initial_tsn: u32,
    peer: Option<PeerInit>,
    cookie: Option<Bytes>,
    /// The association ended (it was established or attempted, then closed).
    ended: bool,
    init_retransmits: u32,
    timers: [Option<Instant>; TIMERS],
    tx_queue: VecDeque<Bytes>,
    out_buf: BytesMut,
    events: VecDeque<Event>,
    stats: Stats,
    // Negotiated.
    out_streams: u16,
    in_streams: u16,
    peer_forward_tsn: bool,
    /// I-DATA negotiated (RFC 8260 section 2.2.1): I-DATA and I-FORWARD-TSN replace DATA and
    /// FORWARD TSN for the whole association.
    idata: bool,
    max_payload: usize,

    // Sender.
    next_tsn: u32,
    cum_ack: u32,
    outstanding: VecDeque<TxChunk>,
    next_unsent: usize,
    /// Messages without TSNs yet, per stream; streams take turns (round robin by message),
    /// so a bulk channel does not starve the others.
    pending: HashMap<u16, VecDeque<OutMessage>>,
    /// Streams with pending messages, in turn order.
    pending_ring: VecDeque<u16>,
    pending_msgs: usize,
    /// I-DATA: total size of the messages started and not yet wholly fragmented.
    in_progress: usize,
    buffered_total: usize,
    out_streams_state: HashMap<u16, OutStream>,
    flight_size: usize,
    cwnd: usize,
    ssthresh: usize,
    partial_bytes_acked: usize,
    peer_rwnd: usize,
    fast_recovery_exit: Option<u32>,
    fast_rtx_now: bool,
    /// Where in the packet being built the last DATA or I-DATA chunk starts.
    last_data_at: Option<usize>,
    rack: Rack,
    /// Fast recoveries started so far (numbers `TxChunk::episode`).
    episode: u32,
    undo: Option<Undo>,
    rtx_pending: usize,
    srtt: Option<Duration>,
    rttvar: Duration,
    rto: Duration,
    rtt_probe: Option<(u32, Instant)>,
    error_count: u32,
    advanced_peer_ack: u32,
    forward_tsn_due: bool,
    heartbeat_outstanding: bool,

    // Receiver.
    peer_cum: u32,
    peer_cum_ext: u64,
    ooo: BTreeMap<u64, RxChunk>,
    /// Next expected SSN per incoming stream (absent: 0).
    in_ssn: HashMap<u16, u16>,
    assembly: Assembly,
    /// I-DATA: next expected ordered MID per incoming stream (absent: 0).
    in_mid: HashMap<u16, u32>,
    /// I-DATA: per incoming stream, one past the largest unordered MID an I-FORWARD-TSN
    /// skipped: a late fragment below it belongs to a message given up.
    umid_floor: HashMap<u16, u32>,
    /// I-DATA: what has arrived of each message being reassembled.
    reasm_msgs: BTreeMap<MsgKey, RxMsg>,
    /// I-DATA: fragments held in `reasm_msgs`, bounded by `max_frags`.
    reasm_frags: usize,
    /// Parts vectors of delivered messages, reused.
    spare_parts: Vec<Vec<Frag>>,
    rx_buffered: usize,
    app_held: usize,
    last_adv_rwnd: usize,
    ack_state: AckState,
    packets_unacked: u32,
    dups: Vec<u32>,
    gap_scratch: Vec<GapBlock>,

    // Stream reset (RFC 6525).
    my_reconfig_seq: u32,
    peer_reconfig_seq: u32,
    reset_wanted: Vec<u16>,
    out_reset: Option<OutReset>,
    deferred_reset: Option<(u32, u32, Vec<u16>)>,
    reconfig_responses: VecDeque<(u32, u32)>,
    last_peer_result: Option<(u32, u32)>,
}

impl Association {
    /// Creates an association in the `Closed` state. `rng` supplies the verification tag, the
    /// initial TSN and the cookie secret, so a seeded generator replays a run.
    pub fn new(cfg: Config, now: Instant, rng: &mut dyn RngCore) -> Self {
        let mut secret = [0u8; 32];
        rng.fill_bytes(&mut secret);
        let my_vtag = rng.next_u32().max(1);
        let my_initial_tsn = rng.next_u32();
        let mtu = cfg.mtu.clamp(256, 65535);
        // The largest DATA payload that fits a packet alone, a multiple of four.
        let max_payload = (mtu - COMMON_HEADER_LEN - DATA_HEADER_LEN) & !3;
        let cwnd = (4 * mtu).min((2 * mtu).max(4380));
        let rto = cfg.rto_initial;
        let rb = cfg.receive_buffer;
        Self {
            state: State::Closed,
            epoch: now,
            last_now: now,
            remote: None,
            cookie_key: hmac::Key::new(hmac::HMAC_SHA256, &secret),
            my_vtag,
            my_initial_tsn,
            peer: None,
            cookie: None,
            ended: false,
            init_retransmits: 0,
            timers: [None; TIMERS],
            tx_queue: VecDeque::new(),
            out_buf: BytesMut::new(),
            events: VecDeque::new(),
            stats: Stats::default(),
            out_streams: 0,
            in_streams: 0,
            peer_forward_tsn: false,
            idata: false,
            max_payload,
            next_tsn: my_initial_tsn,
            cum_ack: my_initial_tsn.wrapping_sub(1),
            outstanding: VecDeque::new(),
            next_unsent: 0,
            pending: HashMap::new(),
            pending_ring: VecDeque::new(),
            pending_msgs: 0,
            in_progress: 0,
            buffered_total: 0,
            out_streams_state: HashMap::new(),
            flight_size: 0,
            cwnd,
            ssthresh: usize::MAX,
            partial_bytes_acked: 0,
            peer_rwnd: 0,
            fast_recovery_exit: None,
            fast_rtx_now: false,
            last_data_at: None,
            rack: Rack {
                xmit: None,
                rtt: Duration::ZERO,
                min_rtt: None,
                fack: None,
                reordering_seen: false,
                reo_wnd_mult: 1,
                reo_wnd_persist: 0,
            },
            episode: 0,
            undo: None,
            rtx_pending: 0,
            srtt: None,
            rttvar: Duration::ZERO,
            rto,
            rtt_probe: None,
            error_count: 0,
            advanced_peer_ack: my_initial_tsn.wrapping_sub(1),
            forward_tsn_due: false,
            heartbeat_outstanding: false,
            peer_cum: 0,
            peer_cum_ext: 0,
            ooo: BTreeMap::new(),
            in_ssn: HashMap::new(),
            assembly: Assembly::default(),
            in_mid: HashMap::new(),
            umid_floor: HashMap::new(),
            reasm_msgs: BTreeMap::new(),
            reasm_frags: 0,
            spare_parts: Vec::new(),
            rx_buffered: 0,
            app_held: 0,
            last_adv_rwnd: rb,
            ack_state: AckState::Idle,
            packets_unacked: 0,
            dups: Vec::new(),
            gap_scratch: Vec::new(),
            my_reconfig_seq: my_initial_tsn,
            peer_reconfig_seq: 0,
            reset_wanted: Vec::new(),
            out_reset: None,
            deferred_reset: None,
            reconfig_responses: VecDeque::new(),
            last_peer_result: None,
            cfg: Config { mtu, ..cfg },
        }
    }

    // ---------------------------------------------------------------- getters

    /// The current state.
    pub fn state(&self) -> State {
        self.state
    }

    /// Whether data can be sent and received.
    pub fn is_established(&self) -> bool {
        self.state == State::Established
    }

    /// Counters.
    pub fn stats(&self) -> Stats {
        self.stats
    }

    /// The configuration in use.
    pub fn config(&self) -> &Config {
        &self.cfg
    }

    /// Bytes of messages on `stream` that were accepted by `send` and are not yet acknowledged
    /// (or abandoned) by the peer.
    pub fn buffered_amount(&self, stream: u16) -> usize {
        self.out_streams_state
            .get(&stream)
            .map_or(0, |s| s.buffered)
    }

    /// Bytes held for all streams: what the send side of this association costs in payload.
    pub fn buffered_total(&self) -> usize {
        self.buffered_total
    }

    /// Bytes the receive side holds: out-of-order chunks, partial messages and undrained
    /// message events.
    pub fn receive_buffered(&self) -> usize {
        self.rx_buffered + self.app_held
    }

    /// Number of outbound streams negotiated (0 before the handshake completes).
    pub fn outbound_streams(&self) -> u16 {
        self.out_streams
    }

    /// Whether user message interleaving (RFC 8260 I-DATA) was negotiated: both sides
    /// announced it ([`Config::interleaving`]).
    pub fn interleaving(&self) -> bool {
        self.idata
    }

    /// Whether the peer announced user message interleaving (I-DATA in the Supported
    /// Extensions of its INIT or INIT ACK, RFC 8260 section 2.2.1), whatever our
    /// [`Config::interleaving`]; `false` before its INIT or INIT ACK arrived.
    pub fn peer_interleaving(&self) -> bool {
        self.peer.is_some_and(|p| p.idata)
    }

    /// Current congestion window in bytes.
    pub fn cwnd(&self) -> usize {
        self.cwnd
    }

    /// Current retransmission timeout.
    pub fn rto(&self) -> Duration {
        self.rto
    }

    // ---------------------------------------------------------------- commands

    /// Starts the handshake by sending INIT (the active side) to `remote`, the peer's address
    /// as the caller names it (SCTP rides in DTLS, so it is only the address the
    /// [`Transmit`]s carry; see the [module docs](self)). The passive side needs no call: it
    /// answers an incoming INIT, to the address it came from. In WebRTC both sides may connect
    /// at once; the collision is resolved as RFC 9260 section 5.2.1 says.
    pub fn connect(&mut self, now: Instant, remote: SocketAddr) {
        self.last_now = now;
        if self.state != State::Closed {
            return;
        }
        self.remote = Some(remote);
        self.state = State::CookieWait;
        self.init_retransmits = 0;
        self.send_init();
        self.set_timer(Timer::T1, now + self.rto);
    }

    /// Sets the low threshold of `stream`'s buffered amount; [`Event::BufferedAmountLow`] fires
    /// when acknowledgements bring the amount from above to at or below it.
    pub fn set_buffered_amount_low_threshold(&mut self, stream: u16, threshold: usize) {
        self.out_streams_state
            .entry(stream)
            .or_default()
            .low_threshold = threshold;
    }

    /// Sets the priority of outgoing `stream` for [`Scheduler::Priority`] (higher goes first;
    /// the data channel priorities of RFC 8832 section 5.1 are 128, 256, 512 and 1024). Streams
    /// start at 0.
    pub fn set_stream_priority(&mut self, stream: u16, priority: u16) {
        self.out_streams_state.entry(stream).or_default().priority = priority;
    }

    /// Queues one message. `data` must not be empty. Fails with [`Error::SendBufferFull`] when
    /// the send buffer is full (back-pressure: wait for [`Event::BufferedAmountLow`]).
    pub fn send(
        &mut self,
        now: Instant,
        stream: u16,
        ppid: u32,
        data: Bytes,
        opts: SendOptions,
    ) -> Result<(), Error> {
        self.enqueue(now, stream, ppid, data, opts, false)
    }

    /// Queues a reliable ordered message of the layer above (a DCEP message, say) that does
    /// not count in the stream's [`Association::buffered_amount`]; it still counts against
    /// the send buffer.
    pub fn send_control(
        &mut self,
        now: Instant,
        stream: u16,
        ppid: u32,
        data: Bytes,
    ) -> Result<(), Error> {
        self.enqueue(now, stream, ppid, data, SendOptions::default(), true)
    }

    fn enqueue(
        &mut self,
        now: Instant,
        stream: u16,
        ppid: u32,
        data: Bytes,
        opts: SendOptions,
        control: bool,
    ) -> Result<(), Error> {
        self.last_now = now;
        match self.state {
            State::CookieWait | State::CookieEchoed | State::Established => {}
            // Before the handshake, messages queue and go once it completes.
            State::Closed if !self.ended => {}
            State::Closed => return Err(Error::Closed),
            _ => return Err(Error::NotEstablished),
        }
        if data.is_empty() {
            return Err(Error::EmptyMessage);
        }
        if data.len() > self.cfg.max_message_size {
            return Err(Error::MessageTooLarge {
                len: data.len(),
                max: self.cfg.max_message_size,
            });
        }
        if self.out_streams != 0 && stream >= self.out_streams {
            return Err(Error::InvalidStream(stream));
        }
        if self.buffered_total + data.len() > self.cfg.send_buffer {
            return Err(Error::SendBufferFull);
        }
        let st = self.out_streams_state.entry(stream).or_default();
        if st.resetting {
            return Err(Error::InvalidStream(stream));
        }
        if !control {
            st.buffered += data.len();
        }
        self.buffered_total += data.len();
        let expires = match opts.reliability {
            Reliability::MaxLifetime(d) => Some(now + d),
            _ => None,
        };
        let queue = self.pending.entry(stream).or_default();
        if queue.is_empty() {
            self.pending_ring.push_back(stream);
        }
        self.pending_msgs += 1;
        queue.push_back(OutMessage {
            stream,
            ppid,
            data,
            opts,
            expires,
            control,
            started: false,
            off: 0,
            mid: 0,
            fsn: 0,
        });
        Ok(())
    }

    /// Resets outgoing streams (RFC 6525 section 5.1.2): the peer learns, after every message
    /// already queued on them, that they are closed. [`Event::OutgoingStreamsReset`] reports
    /// completion; `send` on them fails meanwhile.
    pub fn reset_streams(&mut self, streams: &[u16]) -> Result<(), Error> {
        if self.state != State::Established {
            return Err(Error::NotEstablished);
        }
        if !self.peer.is_some_and(|p| p.reconfig) {
            return Err(Error::UnsupportedByPeer);
        }
        for &s in streams {
            let st = self.out_streams_state.entry(s).or_default();
            if !st.resetting {
                st.resetting = true;
                self.reset_wanted.push(s);
            }
        }
        Ok(())
    }

    /// Starts a graceful shutdown (RFC 9260 section 9.2): queued data is still delivered.
    pub fn shutdown(&mut self, now: Instant) {
        self.last_now = now;
        match self.state {
            State::Established => {
                self.state = State::ShutdownPending;
                self.progress_shutdown(now);
            }
            State::CookieWait | State::CookieEchoed => self.abort(),
            _ => {}
        }
    }

    /// Aborts the association at once (RFC 9260 section 9.1).
    pub fn abort(&mut self) {
        if self.state == State::Closed {
            return;
        }
        self.abort_with(cause_code::USER_ABORT, CloseReason::LocalAbort);
    }

    // ---------------------------------------------------------------- outputs

    /// The next event for the layer above. Drain it after [`Association::poll_transmit`].
    ///
    /// Taking a [`Event::Message`] frees its bytes from the receive buffer; if that reopens the
    /// window noticeably, [`Association::poll_timeout`] asks for an immediate wake-up so the
    /// peer hears of it.
    pub fn poll_event(&mut self) -> Option<Event> {
        let ev = self.pop_event()?;
        if let Event::Message(m) = &ev {
            self.release_received(m.data.len());
        }
        Some(ev)
    }

    /// The next event, with a message's bytes still counted as held (see
    /// [`Association::release_received`]).
    pub(crate) fn pop_event(&mut self) -> Option<Event> {
        self.events.pop_front()
    }

    /// The layer above took `len` bytes of received messages: they no longer count against
    /// the receive buffer.
    pub(crate) fn release_received(&mut self, len: usize) {
        self.app_held = self.app_held.saturating_sub(len);
        // Reading reopens the window: tell the peer once it has grown noticeably. This runs
        // after the caller drained `poll_transmit`, so ask to be woken at once.
        let rwnd = self.rwnd();
        if self.state == State::Established
            && rwnd >= self.last_adv_rwnd + self.cfg.receive_buffer / 4
            && self.ack_state != AckState::Immediate
        {
            self.ack_state = AckState::Immediate;
            self.set_timer(Timer::DelayedAck, self.last_now);
        }
    }

    /// When [`Association::handle_timeout`] should be called next.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.timers.iter().flatten().min().copied()
    }

    /// The next SCTP packet to send, as one DTLS application-data record: a UDP
    /// [`Transmit`] to the peer (see the [module docs](self) for the address), `source`
    /// `None`. `now` stamps retransmission timers, RTT probes and message lifetimes.
    pub fn poll_transmit(&mut self, now: Instant) -> Option<Transmit> {
        // Invariant: a packet is only ever queued or built after `connect` or an accepted
        // `handle_receive`, and both set the remote address.
        let destination = self.remote?;
        self.last_now = now;
        let p = match self.tx_queue.pop_front() {
            Some(p) => p,
            None => self.build_packet(now)?,
        };
        self.stats.packets_sent += 1;
        Some(Transmit {
            source: None,
            destination,
            transport: Transport::Udp,
            contents: p,
            segment_size: None,
        })
    }

    // ---------------------------------------------------------------- inputs

    /// Processes expired timers.
    pub fn handle_timeout(&mut self, now: Instant) {
        self.last_now = now;
        for t in ALL_TIMERS {
            if self.timers[t as usize].is_some_and(|d| d <= now) {
                self.timers[t as usize] = None;
                self.on_timer(t, now);
            }
        }
    }

    /// Processes one received SCTP packet (one DTLS record's plaintext) that came from `from`,
    /// the peer's address as the caller names it; the association remembers it and addresses
    /// its [`Transmit`]s there.
    ///
    /// An `Err` means only that the packet was dropped, unchanged state aside (see the
    /// [module docs](self#errors-from-handle_receive)); fatal protocol violations end the
    /// association with an [`Event::Closed`] and return `Ok`.
    ///
    /// Unfragmented messages are delivered as slices of `packet`, without copying. Hand in
    /// packets backed by a shared buffer (`BytesMut::split().freeze()`, as a DTLS layer that
    /// decrypts into its receive buffer does): a `Bytes` made from a `Vec` costs one allocation
    /// the first time it is sliced.
    pub fn handle_receive(
        &mut self,
        now: Instant,
        from: SocketAddr,
        packet: Bytes,
    ) -> Result<(), Error> {
        self.last_now = now;
        let was_ended = self.ended;
        let mut acted = false;
        match self.receive(now, from, &packet, &mut acted) {
            Ok(()) => Ok(()),
            // The packet ended the association: that is its outcome, reported as an event.
            Err(_) if self.ended && !was_ended => Ok(()),
            Err(e) if acted => {
                tracing::debug!(error = %e, "rest of SCTP packet discarded");
                self.stats.packets_cut_short += 1;
                Ok(())
            }
            Err(e) => {
                self.stats.packets_dropped += 1;
                Err(e)
            }
        }
    }

    /// The body of [`Association::handle_receive`]; `acted` turns true once a chunk has been
    /// processed, after which an error only cuts the packet short.
    fn receive(
        &mut self,
        now: Instant,
        from: SocketAddr,
        packet: &Bytes,
        acted: &mut bool,
    ) -> Result<(), Error> {
        let p = Packet::new_checked(&packet[..])?;
        p.verify_checksum()?;
        let vtag = p.verification_tag();
        // Check the whole packet's framing before acting on any of it, so that a malformed
        // packet is dropped whole.
        let mut count = 0usize;
        let mut init_seen = false;
        for c in p.chunks() {
            let c = c?;
            ChunkRepr::parse(c)?;
            count += 1;
            init_seen |= c.kind == chunk_type::INIT;
        }
        self.stats.packets_received += 1;
        let mut chunks = p.chunks();
        let first = match chunks.next() {
            Some(c) => c?,
            None => return Ok(()),
        };
        // INIT must be alone and carry tag 0 (RFC 9260 sections 6.10, 8.5.1).
        if init_seen && count > 1 {
            return Err(PeerMisbehaved::IllegalBundling.into());
        }
        if first.kind == chunk_type::INIT {
            if vtag != 0 {
                return Err(PeerMisbehaved::WrongVerificationTag.into());
            }
            if let ChunkRepr::Init(init) = ChunkRepr::parse(first)? {
                // The INIT ACK goes where the INIT came from; an INIT that is ignored (an
                // established association) or refused moves nothing.
                let answering = matches!(
                    self.state,
                    State::Closed | State::CookieWait | State::CookieEchoed
                );
                let remote = self.remote;
                if answering {
                    self.remote = Some(from);
                }
                let r = self.on_init(now, &init);
                if r.is_err() {
                    self.remote = remote;
                }
                r?;
            }
            return Ok(());
        }
        let reflected = first.flags & wire::FLAG_T != 0;
        let tag_ok = if (first.kind == chunk_type::ABORT
            || first.kind == chunk_type::SHUTDOWN_COMPLETE)
            && reflected
        {
            self.peer.is_some_and(|p| p.vtag == vtag)
        } else {
            vtag == self.my_vtag
        };
        if !tag_ok {
            return Err(PeerMisbehaved::WrongVerificationTag.into());
        }
        // The packet is from our peer: answer where it came from.
        self.remote = Some(from);
        let mut had_data = false;
        let mut immediate = false;
        // A packet that fills all or part of a gap is acknowledged at once (RFC 9260 section
        // 6.7 reports gaps at once; RFC 5681 section 4.2 says the same of filling one): the
        // sender is timing its retransmission.
        let gap_before = !self.ooo.is_empty();
        // A chunk that fails after others were processed cuts the packet short; the DATA
        // already taken is still acknowledged below.
        let process = || -> Result<(), Error> {
            for c in core::iter::once(Ok(first)).chain(chunks) {
                let c = c?;
                let repr = ChunkRepr::parse(c)?;
                self.on_chunk(now, repr, packet, &mut had_data, &mut immediate)?;
                *acted = true;
                if self.state == State::Closed {
                    return Ok(());
                }
            }
            Ok(())
        };
        let result = process();
        if had_data {
            self.packets_unacked += 1;
            if immediate
                || self.packets_unacked >= 2
                || gap_before
                || !self.ooo.is_empty()
                || !self.dups.is_empty()
            {
                self.ack_state = AckState::Immediate;
            } else if self.ack_state == AckState::Idle {
                self.ack_state = AckState::Delayed;
                self.set_timer(Timer::DelayedAck, now + self.cfg.delayed_ack);
            }
        }
        result
    }

    /// Acts on one chunk of an accepted packet.
    fn on_chunk(
        &mut self,
        now: Instant,
        repr: ChunkRepr<'_>,
        packet: &Bytes,
        had_data: &mut bool,
        immediate: &mut bool,
    ) -> Result<(), Error> {
        match repr {
            ChunkRepr::Data(d) => {
                *had_data = true;
                *immediate |= d.flags & DATA_FLAG_IMMEDIATE != 0;
                if self.idata {
                    return self.wrong_data_chunk();
                }
                self.on_data(&d, packet)?;
            }
            ChunkRepr::IData(d) => {
                *had_data = true;
                *immediate |= d.flags & DATA_FLAG_IMMEDIATE != 0;
                self.on_idata(&d, packet)?;
            }
            ChunkRepr::Init(_) => return Err(PeerMisbehaved::IllegalBundling.into()),
            ChunkRepr::InitAck(i) => self.on_init_ack(now, &i)?,
            ChunkRepr::Sack(s) => self.on_sack(now, &s)?,
            ChunkRepr::Heartbeat(info) => {
                if self.peer.is_some() {
                    self.queue_control(&[ChunkRepr::HeartbeatAck(info)]);
                }
            }
            ChunkRepr::HeartbeatAck(info) => self.on_heartbeat_ack(now, info),
            ChunkRepr::Abort { .. } => {
                if self.state != State::Closed {
                    self.close(CloseReason::PeerAbort);
                }
                return Ok(());
            }
            ChunkRepr::Shutdown { cum_tsn } => self.on_shutdown(now, cum_tsn)?,
            ChunkRepr::ShutdownAck => self.on_shutdown_ack(),
            ChunkRepr::ShutdownComplete { .. } => {
                if self.state == State::ShutdownAckSent {
                    self.close(CloseReason::Shutdown);
                }
            }
            ChunkRepr::Error { causes } => {
                for cause in causes.iter().flatten() {
                    tracing::debug!(code = cause.code, "SCTP ERROR from peer");
                    if cause.code == cause_code::STALE_COOKIE && self.state == State::CookieEchoed {
                        // Start over (RFC 9260 section 5.2.6).
                        self.state = State::CookieWait;
                        self.cookie = None;
                        self.peer = None;
                        self.send_init();
                        self.set_timer(Timer::T1, now + self.rto);
                    }
                }
            }
            ChunkRepr::CookieEcho(cookie) => self.on_cookie_echo(now, cookie)?,
            ChunkRepr::CookieAck => {
                if self.state == State::CookieEchoed {
                    self.establish(now);
                }
            }
            ChunkRepr::ForwardTsn {
                new_cum_tsn,
                streams,
            } => {
                if self.idata {
                    return self.wrong_data_chunk();
                }
                self.on_forward_tsn(new_cum_tsn, streams)?;
                self.ack_state = AckState::Immediate;
            }
            ChunkRepr::IForwardTsn {
                new_cum_tsn,
                streams,
            } => {
                self.on_iforward_tsn(new_cum_tsn, streams)?;
                self.ack_state = AckState::Immediate;
            }
            ChunkRepr::ReConfig { params } => self.on_reconfig(params),
            ChunkRepr::Unknown(c) => {
                // The two high bits say what to do (RFC 9260 section 3.2).
                if c.kind & 0x40 != 0 && self.peer.is_some() {
                    let mut raw = BytesMut::with_capacity(4 + c.value.len());
                    ChunkRepr::Unknown(c).emit(&mut raw);
                    self.queue_control(&[ChunkRepr::Error {
                        causes: TlvList::Items(&[ErrorCause {
                            code: cause_code::UNRECOGNIZED_CHUNK,
                            info: &raw,
                        }]),
                    }]);
                }
                if c.kind & 0x80 == 0 {
                    return Err(PeerMisbehaved::UnrecognizedChunk(c.kind).into());
                }
            }
        }
        Ok(())
    }

    // ---------------------------------------------------------------- handshake

    /// The extensions we announce in INIT and INIT ACK: RE-CONFIG always, FORWARD TSN with
    /// partial reliability, I-DATA with interleaving (and I-FORWARD-TSN with both, RFC 8260
    /// section 2.3.1).
    fn extension_params(&self) -> &'static [InitParam<'static>] {
        const WITH_PR: [InitParam<'static>; 2] = [
            InitParam::ForwardTsnSupported,
            InitParam::SupportedExtensions(&[chunk_type::FORWARD_TSN, chunk_type::RE_CONFIG]),
        ];
        const WITHOUT_PR: [InitParam<'static>; 1] =
            [InitParam::SupportedExtensions(&[chunk_type::RE_CONFIG])];
        const WITH_PR_IDATA: [InitParam<'static>; 2] = [
            InitParam::ForwardTsnSupported,
            InitParam::SupportedExtensions(&[
                chunk_type::FORWARD_TSN,
                chunk_type::RE_CONFIG,
                chunk_type::I_DATA,
                chunk_type::I_FORWARD_TSN,
            ]),
        ];
        const WITHOUT_PR_IDATA: [InitParam<'static>; 1] = [InitParam::SupportedExtensions(&[
            chunk_type::RE_CONFIG,
            chunk_type::I_DATA,
        ])];
        match (self.cfg.partial_reliability, self.cfg.interleaving) {
            (true, false) => &WITH_PR,
            (false, false) => &WITHOUT_PR,
            (true, true) => &WITH_PR_IDATA,
            (false, true) => &WITHOUT_PR_IDATA,
        }
    }

    fn send_init(&mut self) {
        let params = self.extension_params();
        let init = InitChunk {
            initiate_tag: self.my_vtag,
            a_rwnd: u32::try_from(self.cfg.receive_buffer).unwrap_or(u32::MAX),
            outbound_streams: self.cfg.streams,
            inbound_streams: self.cfg.streams,
            initial_tsn: self.my_initial_tsn,
            params: TlvList::Items(params),
        };
        self.queue_packet(0, &[ChunkRepr::Init(init)]);
    }

    fn now_ms(&self, now: Instant) -> u64 {
        u64::try_from(now.saturating_duration_since(self.epoch).as_millis()).unwrap_or(u64::MAX)
    }

    fn on_init(&mut self, now: Instant, init: &InitChunk<'_>) -> Result<(), Error> {
        if init.initiate_tag == 0 || init.outbound_streams == 0 || init.inbound_streams == 0 {
            return Err(PeerMisbehaved::InvalidInit.into());
        }
        match self.state {
            State::Closed | State::CookieWait | State::CookieEchoed => {}
            // An INIT in an established association would be a restart; not supported, and the
            // tie-tag machinery is not needed over DTLS, where a restart is a new DTLS session.
            _ => return Ok(()),
        }
        let peer = PeerInit {
            vtag: init.initiate_tag,
            initial_tsn: init.initial_tsn,
            a_rwnd: init.a_rwnd,
            outbound_streams: init.outbound_streams,
            inbound_streams: init.inbound_streams,
            forward_tsn: init.forward_tsn_supported(),
            reconfig: init.supports_extension(chunk_type::RE_CONFIG),
            idata: init.supports_extension(chunk_type::I_DATA),
            iforward: init.supports_extension(chunk_type::I_FORWARD_TSN),
        };
        let mut cookie = [0u8; COOKIE_BODY + COOKIE_MAC];
        cookie[0..4].copy_from_slice(&self.my_vtag.to_be_bytes());
        cookie[4..8].copy_from_slice(&peer.vtag.to_be_bytes());
        cookie[8..12].copy_from_slice(&self.my_initial_tsn.to_be_bytes());
        cookie[12..16].copy_from_slice(&peer.initial_tsn.to_be_bytes());
        cookie[16..20].copy_from_slice(&peer.a_rwnd.to_be_bytes());
        cookie[20..22].copy_from_slice(&peer.outbound_streams.to_be_bytes());
        cookie[22..24].copy_from_slice(&peer.inbound_streams.to_be_bytes());
        cookie[24] = u8::from(peer.forward_tsn)
            | (u8::from(peer.reconfig) << 1)
            | (u8::from(peer.idata) << 2)
            | (u8::from(peer.iforward) << 3);
        cookie[28..36].copy_from_slice(&self.now_ms(now).to_be_bytes());
        let tag = hmac::sign(&self.cookie_key, &cookie[..COOKIE_BODY]);
        cookie[COOKIE_BODY..].copy_from_slice(tag.as_ref());
        // Handshake only: one small allocation is fine here.
        let mut params = vec![InitParam::StateCookie(&cookie)];
        params.extend_from_slice(self.extension_params());
        let ack = InitChunk {
            initiate_tag: self.my_vtag,
            a_rwnd: u32::try_from(self.cfg.receive_buffer).unwrap_or(u32::MAX),
            outbound_streams: self.cfg.streams,
            inbound_streams: self.cfg.streams,
            initial_tsn: self.my_initial_tsn,
            params: TlvList::Items(&params),
        };
        self.queue_packet(peer.vtag, &[ChunkRepr::InitAck(ack)]);
        Ok(())
    }

    fn on_init_ack(&mut self, now: Instant, ack: &InitChunk<'_>) -> Result<(), Error> {
        if self.state != State::CookieWait {
            return Ok(());
        }
        if ack.initiate_tag == 0 || ack.outbound_streams == 0 || ack.inbound_streams == 0 {
            return Err(PeerMisbehaved::InvalidInit.into());
        }
        let cookie = ack
            .state_cookie()
            .ok_or(PeerMisbehaved::MissingStateCookie)?;
        self.peer = Some(PeerInit {
            vtag: ack.initiate_tag,
            initial_tsn: ack.initial_tsn,
            a_rwnd: ack.a_rwnd,
            outbound_streams: ack.outbound_streams,
            inbound_streams: ack.inbound_streams,
            forward_tsn: ack.forward_tsn_supported(),
            reconfig: ack.supports_extension(chunk_type::RE_CONFIG),
            idata: ack.supports_extension(chunk_type::I_DATA),
            iforward: ack.supports_extension(chunk_type::I_FORWARD_TSN),
        });
        let cookie = Bytes::copy_from_slice(cookie);
        self.queue_packet(ack.initiate_tag, &[ChunkRepr::CookieEcho(&cookie)]);
        self.cookie = Some(cookie);
        self.state = State::CookieEchoed;
        self.init_retransmits = 0;
        self.set_timer(Timer::T1, now + self.rto);
        Ok(())
    }

    fn on_cookie_echo(&mut self, now: Instant, cookie: &[u8]) -> Result<(), Error> {
        if cookie.len() != COOKIE_BODY + COOKIE_MAC {
            return Err(PeerMisbehaved::BadStateCookie.into());
        }
        let (body, mac) = cookie.split_at(COOKIE_BODY);
        hmac::verify(&self.cookie_key, body, mac).map_err(|_| PeerMisbehaved::BadStateCookie)?;
        let be32 = |i: usize| u32::from_be_bytes([body[i], body[i + 1], body[i + 2], body[i + 3]]);
        let be16 = |i: usize| u16::from_be_bytes([body[i], body[i + 1]]);
        let mut created = [0u8; 8];
        created.copy_from_slice(&body[28..36]);
        let age = self.now_ms(now).saturating_sub(u64::from_be_bytes(created));
        let lifetime = u64::try_from(self.cfg.cookie_lifetime.as_millis()).unwrap_or(u64::MAX);
        if age > lifetime {
            // Tell the peer how stale, in microseconds (RFC 9260 section 3.3.10.3), so it
            // starts over with a new INIT.
            let stale_us = (age - lifetime)
                .saturating_mul(1000)
                .min(u64::from(u32::MAX)) as u32;
            let tag = be32(4);
            if self.state == State::Closed || self.state == State::CookieWait {
                self.queue_packet(
                    tag,
                    &[ChunkRepr::Error {
                        causes: TlvList::Items(&[ErrorCause {
                            code: cause_code::STALE_COOKIE,
                            info: &stale_us.to_be_bytes(),
                        }]),
                    }],
                );
            }
            return Err(PeerMisbehaved::BadStateCookie.into());
        }
        if be32(0) != self.my_vtag {
            return Err(PeerMisbehaved::BadStateCookie.into());
        }
        let peer = PeerInit {
            vtag: be32(4),
            initial_tsn: be32(12),
            a_rwnd: be32(16),
            outbound_streams: be16(20),
            inbound_streams: be16(22),
            forward_tsn: body[24] & 1 != 0,
            reconfig: body[24] & 2 != 0,
            idata: body[24] & 4 != 0,
            iforward: body[24] & 8 != 0,
        };
        match self.state {
            State::Closed | State::CookieWait | State::CookieEchoed => {
                if let Some(p) = self.peer
                    && p.vtag != peer.vtag
                {
                    // Our INIT ACK to a colliding INIT carried a different peer tag than the
                    // INIT ACK the peer sent us; the cookie the peer echoes wins.
                    tracing::debug!("INIT collision: adopting peer tag from cookie");
                }
                self.peer = Some(peer);
                self.queue_control(&[ChunkRepr::CookieAck]);
                self.establish(now);
            }
            _ => {
                // Duplicate COOKIE ECHO for this association (section 5.2.4 case D).
                if self.peer.is_some_and(|p| p.vtag == peer.vtag) {
                    self.queue_control(&[ChunkRepr::CookieAck]);
                }
            }
        }
        Ok(())
    }

    fn establish(&mut self, now: Instant) {
        let Some(peer) = self.peer else { return };
        self.state = State::Established;
        self.timers[Timer::T1 as usize] = None;
        self.cookie = None;
        self.out_streams = self.cfg.streams.min(peer.inbound_streams);
        self.in_streams = self.cfg.streams.min(peer.outbound_streams);
        // Interleaving is used when both sides announced it (RFC 8260 section 2.2.1); partial
        // reliability then needs I-FORWARD-TSN on both sides (section 2.3.1).
        self.idata = peer.idata && self.cfg.interleaving;
        self.peer_forward_tsn = self.cfg.partial_reliability
            && if self.idata {
                peer.iforward
            } else {
                peer.forward_tsn
            };
        let header = if self.idata {
            I_DATA_HEADER_LEN
        } else {
            DATA_HEADER_LEN
        };
        self.max_payload = (self.cfg.mtu - COMMON_HEADER_LEN - header) & !3;
        self.peer_rwnd = peer.a_rwnd as usize;
        self.peer_cum = peer.initial_tsn.wrapping_sub(1);
        self.peer_cum_ext = (1u64 << 32) + u64::from(self.peer_cum);
        self.peer_reconfig_seq = peer.initial_tsn;
        self.error_count = 0;
        if let Some(hb) = self.cfg.heartbeat_interval {
            self.set_timer(Timer::Heartbeat, now + hb);
        }
        self.events.push_back(Event::Connected);
    }

    // ---------------------------------------------------------------- receive side

    /// The receive window's size: [`Config::receive_buffer`], or one maximum message when that
    /// is larger (a message must fit whole for reassembly to finish).
    fn rx_capacity(&self) -> usize {
        self.cfg.receive_buffer.max(self.cfg.max_message_size)
    }

    /// Room left in the receive window: what the next SACK advertises (RFC 9260 section 6.2).
    fn rwnd(&self) -> usize {
        self.rx_capacity()
            .saturating_sub(self.rx_buffered + self.app_held)
    }

    /// Frees room for a chunk of `len` bytes that lies below out-of-order chunks we hold, by
    /// dropping the highest of them (RFC 9260 section 6.2: with the window full, a chunk
    /// below the largest TSN held SHOULD replace it; otherwise out-of-order data could fill
    /// the window for good). Chunks already handed to the application stay. Returns whether
    /// the chunk now fits.
    fn make_room(&mut self, ext: u64, len: usize) -> bool {
        let cap = self.rx_capacity();
        while self.rx_buffered + self.app_held + len > cap
            || (self.idata && self.reasm_frags >= self.max_frags())
        {
            let Some(&k) = self
                .ooo
                .iter()
                .rev()
                .find(|(k, c)| **k > ext && !c.delivered)
                .map(|(k, _)| k)
            else {
                return false;
            };
            if let Some(c) = self.ooo.remove(&k) {
                if self.idata {
                    self.renege_idata(&c);
                } else {
                    self.rx_buffered -= c.data.len();
                }
                self.stats.dropped_chunks += 1;
            }
        }
        true
    }

    fn on_data(&mut self, d: &DataChunk<'_>, packet: &Bytes) -> Result<(), Error> {
        if !matches!(
            self.state,
            State::Established | State::ShutdownPending | State::ShutdownSent
        ) {
            return Ok(());
        }
        if d.data.is_empty() {
            self.abort_with(
                cause_code::NO_USER_DATA,
                CloseReason::ProtocolViolation(PeerMisbehaved::NoUserData),
            );
            return Err(PeerMisbehaved::NoUserData.into());
        }
        let len = d.data.len();
        let Some((offset, ext)) = self.admit(d.tsn, len, d.stream) else {
            return Ok(());
        };
        let chunk = RxChunk {
            stream: d.stream,
            ssn: d.ssn,
            ppid: d.ppid,
            flags: d.flags,
            data: packet.slice_ref(d.data),
            delivered: d.stream >= self.in_streams,
            mid: 0,
            fsn: 0,
        };
        if !chunk.delivered {
            self.rx_buffered += len;
        }
        if offset == 1 {
            self.advance_cum();
            self.in_sequence(chunk)?;
            self.drain_ooo()?;
        } else {
            self.ooo.insert(ext, chunk);
            if self.try_early(ext)? && !d.unordered() {
                self.deliver_waiting(d.stream)?;
            }
        }
        Ok(())
    }

    /// The checks a DATA or I-DATA chunk with `tsn` and `len` bytes of user data passes before
    /// it is taken: not a duplicate (noted for the SACK), not too far ahead, within the window
    /// (kept exactly, RFC 9260 section 6.2; for I-DATA, the fragment count too). Returns the
    /// TSN's offset from the cumulative TSN and its extended value, or `None` when it is not
    /// taken.
    fn admit(&mut self, tsn: u32, len: usize, stream: u16) -> Option<(u32, u64)> {
        let offset = tsn.wrapping_sub(self.peer_cum);
        if offset == 0 || offset > u32::MAX / 2 {
            // At or below the cumulative TSN: a duplicate.
            if self.dups.len() < MAX_DUPS {
                self.dups.push(tsn);
            }
            return None;
        }
        if offset > MAX_TSN_AHEAD {
            self.stats.dropped_chunks += 1;
            return None;
        }
        let ext = self.peer_cum_ext + u64::from(offset);
        if offset > 1 && self.ooo.contains_key(&ext) {
            if self.dups.len() < MAX_DUPS {
                self.dups.push(tsn);
            }
            return None;
        }
        // The window is kept exactly: nothing past it is accepted (RFC 9260 section 6.2).
        let full = self.rx_buffered + self.app_held + len > self.rx_capacity()
            || (self.idata && self.reasm_frags >= self.max_frags());
        if full && !self.make_room(ext, len) {
            self.stats.dropped_chunks += 1;
            // A dropped chunk is answered at once with the window as it is.
            self.ack_state = AckState::Immediate;
            return None;
        }
        if stream >= self.in_streams {
            // Acknowledge and discard (RFC 9260 section 6.5): count it as received.
            self.queue_control(&[ChunkRepr::Error {
                causes: TlvList::Items(&[ErrorCause {
                    code: cause_code::INVALID_STREAM,
                    info: &[(stream >> 8) as u8, stream as u8, 0, 0],
                }]),
            }]);
        }
        Some((offset, ext))
    }

    /// Most I-DATA fragments held for reassembly (see [`FRAG_WINDOW_BYTES`]).
    fn max_frags(&self) -> usize {
        (self.rx_capacity() / FRAG_WINDOW_BYTES).max(MIN_FRAGS)
    }

    /// Ends the association: a DATA or FORWARD TSN chunk where I-DATA was negotiated, or the
    /// reverse (RFC 8260 sections 2.2.3 and 2.3.1 say to abort).
    fn wrong_data_chunk(&mut self) -> Result<(), Error> {
        self.abort_with(
            cause_code::PROTOCOL_VIOLATION,
            CloseReason::ProtocolViolation(PeerMisbehaved::WrongDataChunkType),
        );
        Err(PeerMisbehaved::WrongDataChunkType.into())
    }

    /// An I-DATA chunk (RFC 8260 section 2.2.3): taken by TSN as DATA is, reassembled by
    /// stream, U bit, MID and FSN, delivered by MID order on ordered streams.
    fn on_idata(&mut self, d: &IDataChunk<'_>, packet: &Bytes) -> Result<(), Error> {
        if !matches!(
            self.state,
            State::Established | State::ShutdownPending | State::ShutdownSent
        ) {
            return Ok(());
        }
        if !self.idata {
            return self.wrong_data_chunk();
        }
        if d.data.is_empty() {
            self.abort_with(
                cause_code::NO_USER_DATA,
                CloseReason::ProtocolViolation(PeerMisbehaved::NoUserData),
            );
            return Err(PeerMisbehaved::NoUserData.into());
        }
        let len = d.data.len();
        let Some((offset, ext)) = self.admit(d.tsn, len, d.stream) else {
            return Ok(());
        };
        let unordered = d.unordered();
        let next = self.in_mid.get(&d.stream).copied().unwrap_or(0);
        let mkey: MsgKey = (d.stream, unordered, d.mid);
        // What the data is: a whole message to hand up at once, one to discard (an invalid
        // stream, an ordered MID already delivered or skipped, a fragment seen under another
        // TSN), or a fragment to hold.
        let floor = if unordered {
            self.umid_floor.get(&d.stream).copied()
        } else {
            Some(next)
        };
        let stale = floor.is_some_and(|f| (d.mid.wrapping_sub(f) as i32) < 0);
        let pos = match self.reasm_msgs.get(&mkey) {
            Some(m) => m.parts.binary_search_by_key(&d.fsn, |f| f.fsn),
            None => Err(0),
        };
        let discard = d.stream >= self.in_streams || stale || pos.is_ok();
        let whole = !discard && d.begin() && d.end() && (unordered || d.mid == next);
        let held = !discard && !whole;
        if offset == 1 {
            self.advance_cum();
        } else {
            self.ooo.insert(
                ext,
                RxChunk {
                    stream: d.stream,
                    ssn: 0,
                    ppid: 0,
                    flags: d.flags,
                    data: Bytes::new(),
                    delivered: !held,
                    mid: d.mid,
                    fsn: d.fsn,
                },
            );
        }
        let data = packet.slice_ref(d.data);
        if whole {
            self.rx_buffered += len;
            self.deliver(d.stream, d.ppid, unordered, data);
            if !unordered {
                self.in_mid.insert(d.stream, d.mid.wrapping_add(1));
                self.deliver_waiting_idata(d.stream);
            }
        } else if held {
            self.rx_buffered += len;
            self.reasm_frags += 1;
            let spare = &mut self.spare_parts;
            let m = self.reasm_msgs.entry(mkey).or_insert_with(|| RxMsg {
                parts: spare.pop().unwrap_or_default(),
                ..RxMsg::default()
            });
            let at = pos.unwrap_or_else(|e| e);
            m.parts.insert(
                at,
                Frag {
                    fsn: d.fsn,
                    tsn_ext: ext,
                    data,
                },
            );
            m.bytes += len;
            if d.end() {
                m.last = Some(d.fsn);
            }
            if d.begin() {
                m.ppid = d.ppid;
            }
            let (complete, bytes) = (m.complete(), m.bytes);
            if bytes > self.cfg.max_message_size {
                self.abort_with(
                    cause_code::PROTOCOL_VIOLATION,
                    CloseReason::ProtocolViolation(PeerMisbehaved::MessageTooLarge),
                );
                return Err(PeerMisbehaved::MessageTooLarge.into());
            }
            if complete && (unordered || d.mid == next) {
                self.deliver_idata(mkey);
                if !unordered {
                    self.in_mid.insert(d.stream, d.mid.wrapping_add(1));
                    self.deliver_waiting_idata(d.stream);
                }
            }
        }
        if offset == 1 {
            self.drain_ooo()?;
        }
        Ok(())
    }

    /// Takes an I-DATA message out of reassembly: its fragments' TSNs (those still above the
    /// cumulative TSN) no longer hold data. Returns it with its bytes still in `rx_buffered`.
    fn take_idata(&mut self, key: MsgKey) -> Option<RxMsg> {
        let m = self.reasm_msgs.remove(&key)?;
        self.reasm_frags -= m.parts.len();
        for f in &m.parts {
            if let Some(c) = self.ooo.get_mut(&f.tsn_ext) {
                c.delivered = true;
            }
        }
        Some(m)
    }

    /// Keeps a parts vector for the next message, so steady reassembly allocates only each
    /// message's buffer.
    fn recycle_parts(&mut self, mut parts: Vec<Frag>) {
        parts.clear();
        if self.spare_parts.len() < MAX_SPARE_PARTS {
            self.spare_parts.push(parts);
        }
    }

    /// Hands up a complete I-DATA message.
    fn deliver_idata(&mut self, key: MsgKey) {
        let Some(mut m) = self.take_idata(key) else {
            return;
        };
        let data = if m.parts.len() == 1 {
            m.parts.pop().map(|f| f.data).unwrap_or_default()
        } else {
            let mut buf = BytesMut::with_capacity(m.bytes);
            m.parts.iter().for_each(|f| buf.extend_from_slice(&f.data));
            buf.freeze()
        };
        let (stream, unordered, _) = key;
        self.deliver(stream, m.ppid, unordered, data);
        self.recycle_parts(m.parts);
    }

    /// Drops what arrived of an I-DATA message (skipped by I-FORWARD-TSN, or its stream reset).
    fn drop_idata(&mut self, key: MsgKey) {
        if let Some(m) = self.take_idata(key) {
            self.rx_buffered -= m.bytes;
            self.recycle_parts(m.parts);
        }
    }

    /// Delivers, in MID order, the complete ordered I-DATA messages of `stream` whose turn
    /// has come.
    fn deliver_waiting_idata(&mut self, stream: u16) {
        loop {
            let next = self.in_mid.get(&stream).copied().unwrap_or(0);
            let key = (stream, false, next);
            if !self.reasm_msgs.get(&key).is_some_and(RxMsg::complete) {
                return;
            }
            self.deliver_idata(key);
            self.in_mid.insert(stream, next.wrapping_add(1));
        }
    }

    /// Drops the I-DATA fragment held under `c`'s TSN to make room (reneging, RFC 9260
    /// section 6.2); returns its length.
    fn renege_idata(&mut self, c: &RxChunk) -> usize {
        let key = (c.stream, c.flags & DATA_FLAG_UNORDERED != 0, c.mid);
        let Some(m) = self.reasm_msgs.get_mut(&key) else {
            return 0;
        };
        let Ok(i) = m.parts.binary_search_by_key(&c.fsn, |f| f.fsn) else {
            return 0;
        };
        let f = m.parts.remove(i);
        let len = f.data.len();
        m.bytes -= len;
        if m.last == Some(c.fsn) {
            m.last = None;
        }
        let empty = m.parts.is_empty();
        self.reasm_frags -= 1;
        self.rx_buffered -= len;
        if empty && let Some(m) = self.reasm_msgs.remove(&key) {
            self.recycle_parts(m.parts);
        }
        len
    }

    /// I-FORWARD-TSN (RFC 8260 section 2.3.1): the cumulative TSN moves to `new_cum`, and on
    /// each listed stream the messages up to the MID given (ordered or unordered, by the U
    /// bit) are given up.
    fn on_iforward_tsn(&mut self, new_cum: u32, streams: List<'_, StreamMid>) -> Result<(), Error> {
        if !matches!(
            self.state,
            State::Established | State::ShutdownPending | State::ShutdownSent
        ) {
            return Ok(());
        }
        if !self.idata {
            return self.wrong_data_chunk();
        }
        let offset = new_cum.wrapping_sub(self.peer_cum);
        if offset > MAX_TSN_AHEAD && offset <= u32::MAX / 2 {
            // Beyond anything the peer could have sent within our window: not believed.
            return Ok(());
        }
        if offset != 0 && offset <= u32::MAX / 2 {
            let target = self.peer_cum_ext + u64::from(offset);
            // The TSNs up to the new cumulative TSN are settled; their fragments stay held
            // unless their message is skipped below.
            while let Some(entry) = self.ooo.first_entry() {
                if *entry.key() > target {
                    break;
                }
                entry.remove();
            }
            self.peer_cum = new_cum;
            self.peer_cum_ext = target;
        }
        // The skipped messages are acted on even when the TSN is not new: with late TSN
        // assignment a message can be given up after every fragment that had a TSN arrived
        // (the rest never got one), and then only this list says its beginning is orphaned.
        for StreamMid {
            stream,
            unordered,
            mid,
        } in streams.iter()
        {
            // Every message of this stream and ordering up to `mid` (serial arithmetic,
            // RFC 8260 section 2.1) is given up.
            let skipped: Vec<MsgKey> = self
                .reasm_msgs
                .range((stream, unordered, 0)..=(stream, unordered, u32::MAX))
                .map(|(k, _)| *k)
                .filter(|k| (mid.wrapping_sub(k.2) as i32) >= 0)
                .collect();
            for k in skipped {
                self.drop_idata(k);
            }
            // What follows of those messages, if anything, is discarded on arrival.
            let marks = if unordered {
                &mut self.umid_floor
            } else {
                &mut self.in_mid
            };
            let next = marks.get(&stream).copied();
            if next.is_none_or(|n| (mid.wrapping_sub(n) as i32) >= 0) {
                marks.insert(stream, mid.wrapping_add(1));
            }
        }
        self.drain_ooo()?;
        for StreamMid { stream, .. } in streams.iter() {
            self.deliver_waiting_idata(stream);
        }
        Ok(())
    }

    fn advance_cum(&mut self) {
        self.peer_cum = self.peer_cum.wrapping_add(1);
        self.peer_cum_ext += 1;
    }

    fn drain_ooo(&mut self) -> Result<(), Error> {
        while let Some(entry) = self.ooo.first_entry() {
            if *entry.key() != self.peer_cum_ext + 1 {
                break;
            }
            let c = entry.remove();
            self.advance_cum();
            self.in_sequence(c)?;
        }
        self.check_deferred_reset();
        Ok(())
    }

    /// A chunk whose TSN just became cumulative.
    fn in_sequence(&mut self, c: RxChunk) -> Result<(), Error> {
        // I-DATA fragments wait in `reasm_msgs` whatever their TSN.
        if c.delivered || self.idata {
            return Ok(());
        }
        let begin = c.flags & DATA_FLAG_BEGIN != 0;
        let end = c.flags & DATA_FLAG_END != 0;
        let unordered = c.flags & DATA_FLAG_UNORDERED != 0;
        if begin && end {
            if self.assembly.active {
                self.drop_assembly();
            }
            self.deliver(c.stream, c.ppid, unordered, c.data);
            if !unordered {
                self.ordered_delivered(c.stream, c.ssn)?;
            }
            return Ok(());
        }
        if begin {
            if self.assembly.active {
                self.drop_assembly();
            }
            let a = &mut self.assembly;
            a.active = true;
            a.stream = c.stream;
            a.ssn = c.ssn;
            a.ppid = c.ppid;
            a.unordered = unordered;
            a.len = 0;
        } else if !self.assembly.active || self.assembly.stream != c.stream {
            // A fragment without its beginning (after a FORWARD TSN, or a broken peer).
            self.rx_buffered -= c.data.len();
            return Ok(());
        }
        self.assembly.len += c.data.len();
        self.assembly.parts.push(c.data);
        if self.assembly.len > self.cfg.max_message_size {
            self.abort_with(
                cause_code::PROTOCOL_VIOLATION,
                CloseReason::ProtocolViolation(PeerMisbehaved::MessageTooLarge),
            );
            return Err(PeerMisbehaved::MessageTooLarge.into());
        }
        if end {
            let a = &mut self.assembly;
            let mut buf = BytesMut::with_capacity(a.len);
            for p in a.parts.drain(..) {
                buf.extend_from_slice(&p);
            }
            a.active = false;
            let (stream, ssn, ppid, unordered, len) = (a.stream, a.ssn, a.ppid, a.unordered, a.len);
            a.len = 0;
            self.rx_buffered -= len;
            self.app_held += len;
            self.events.push_back(Event::Message(Message {
                stream,
                ppid,
                unordered,
                data: buf.freeze(),
            }));
            if !unordered {
                self.ordered_delivered(stream, ssn)?;
            }
        }
        Ok(())
    }

    fn drop_assembly(&mut self) {
        self.rx_buffered -= self.assembly.len;
        self.assembly.len = 0;
        self.assembly.parts.clear();
        self.assembly.active = false;
    }

    fn deliver(&mut self, stream: u16, ppid: u32, unordered: bool, data: Bytes) {
        self.rx_buffered -= data.len();
        self.app_held += data.len();
        self.events.push_back(Event::Message(Message {
            stream,
            ppid,
            unordered,
            data,
        }));
    }

    /// An ordered message of `stream` with `ssn` was delivered: its successor may already be
    /// waiting above a gap (messages of other streams do not block it).
    fn ordered_delivered(&mut self, stream: u16, ssn: u16) -> Result<(), Error> {
        self.in_ssn.insert(stream, ssn.wrapping_add(1));
        if self.ooo.is_empty() {
            return Ok(());
        }
        self.deliver_waiting(stream)
    }

    /// Delivers, in order, the complete ordered messages of `stream` waiting out of sequence
    /// whose turn has come.
    fn deliver_waiting(&mut self, stream: u16) -> Result<(), Error> {
        loop {
            let next = self.in_ssn.get(&stream).copied().unwrap_or(0);
            let found = self.ooo.iter().find(|(_, c)| {
                !c.delivered
                    && c.stream == stream
                    && c.ssn == next
                    && c.flags & (DATA_FLAG_UNORDERED | DATA_FLAG_BEGIN) == DATA_FLAG_BEGIN
            });
            let Some((&key, _)) = found else {
                return Ok(());
            };
            if !self.try_early(key)? {
                return Ok(());
            }
        }
    }

    /// A chunk arrived out of sequence: deliver its message at once if it is complete and
    /// either unordered or next in its stream. Returns whether a message was delivered.
    fn try_early(&mut self, ext: u64) -> Result<bool, Error> {
        let Some(c) = self.ooo.get(&ext) else {
            return Ok(false);
        };
        let (stream, ssn) = (c.stream, c.ssn);
        let unordered = c.flags & DATA_FLAG_UNORDERED != 0;
        if c.delivered || (!unordered && self.in_ssn.get(&stream).copied().unwrap_or(0) != ssn) {
            return Ok(false);
        }
        let same = |c: &RxChunk| {
            !c.delivered
                && c.stream == stream
                && (c.flags & DATA_FLAG_UNORDERED != 0) == unordered
                && (unordered || c.ssn == ssn)
        };
        // Walk back to the first fragment, forward to the last.
        let mut first = ext;
        loop {
            let Some(c) = self.ooo.get(&first) else {
                return Ok(false);
            };
            if !same(c) {
                return Ok(false);
            }
            if c.flags & DATA_FLAG_BEGIN != 0 {
                break;
            }
            first -= 1;
        }
        let mut last = ext;
        loop {
            let Some(c) = self.ooo.get(&last) else {
                return Ok(false);
            };
            if !same(c) {
                return Ok(false);
            }
            if c.flags & DATA_FLAG_END != 0 {
                break;
            }
            last += 1;
        }
        let mut total = 0usize;
        let mut parts = Vec::new();
        let mut ppid = 0;
        for (_, c) in self.ooo.range_mut(first..=last) {
            total += c.data.len();
            ppid = c.ppid;
            parts.push(core::mem::take(&mut c.data));
            c.delivered = true;
        }
        if total > self.cfg.max_message_size {
            self.abort_with(
                cause_code::PROTOCOL_VIOLATION,
                CloseReason::ProtocolViolation(PeerMisbehaved::MessageTooLarge),
            );
            return Err(PeerMisbehaved::MessageTooLarge.into());
        }
        let data = if parts.len() == 1 {
            parts.pop().unwrap_or_default()
        } else {
            let mut buf = BytesMut::with_capacity(total);
            parts.iter().for_each(|p| buf.extend_from_slice(p));
            buf.freeze()
        };
        self.deliver(stream, ppid, unordered, data);
        if !unordered {
            self.in_ssn.insert(stream, ssn.wrapping_add(1));
        }
        Ok(true)
    }

    fn on_forward_tsn(&mut self, new_cum: u32, streams: List<'_, StreamSsn>) -> Result<(), Error> {
        if !matches!(
            self.state,
            State::Established | State::ShutdownPending | State::ShutdownSent
        ) {
            return Ok(());
        }
        let offset = new_cum.wrapping_sub(self.peer_cum);
        if offset == 0 || offset > u32::MAX / 2 {
            return Ok(());
        }
        let target = self.peer_cum_ext + u64::from(offset);
        // Chunks up to the new cumulative TSN: deliver whole messages, drop the rest.
        let mut expect = self.peer_cum_ext + 1;
        while let Some(entry) = self.ooo.first_entry() {
            let key = *entry.key();
            if key > target {
                break;
            }
            let c = entry.remove();
            if key != expect && self.assembly.active {
                self.drop_assembly();
            }
            expect = key + 1;
            self.in_sequence(c)?;
        }
        if self.assembly.active {
            self.drop_assembly();
        }
        self.peer_cum = new_cum;
        self.peer_cum_ext = target;
        // Skip the abandoned stream sequence numbers (RFC 3758 section 3.6).
        for StreamSsn { stream, ssn } in streams.iter() {
            let next = self.in_ssn.get(&stream).copied().unwrap_or(0);
            if (ssn.wrapping_sub(next) as i16) >= 0 {
                self.in_ssn.insert(stream, ssn.wrapping_add(1));
            }
        }
        self.drain_ooo()?;
        for StreamSsn { stream, .. } in streams.iter() {
            self.deliver_waiting(stream)?;
        }
        Ok(())
    }

    fn emit_sack(&mut self, buf: &mut BytesMut, room: usize) {
        let mut gaps = core::mem::take(&mut self.gap_scratch);
        gaps.clear();
        let max_gaps = room.saturating_sub(16 + 4 * self.dups.len()) / 4;
        let base = self.peer_cum_ext;
        let mut run: Option<(u64, u64)> = None;
        for &k in self.ooo.keys() {
            match run {
                Some((s, e)) if k == e + 1 => run = Some((s, k)),
                _ => {
                    if let Some((s, e)) = run {
                        gaps.push(GapBlock {
                            start: (s - base) as u16,
                            end: (e - base) as u16,
                        });
                    }
                    run = Some((k, k));
                }
            }
            if gaps.len() >= max_gaps {
                break;
            }
        }
        if let Some((s, e)) = run
            && gaps.len() < max_gaps
        {
            gaps.push(GapBlock {
                start: (s - base) as u16,
                end: (e - base) as u16,
            });
        }
        let rwnd = self.rwnd();
        ChunkRepr::Sack(SackChunk {
            cum_tsn: self.peer_cum,
            a_rwnd: u32::try_from(rwnd).unwrap_or(u32::MAX),
            gap_blocks: List::Items(&gaps),
            dup_tsns: List::Items(&self.dups),
        })
        .emit(buf);
        self.last_adv_rwnd = rwnd;
        self.dups.clear();
        self.gap_scratch = gaps;
        self.ack_state = AckState::Idle;
        self.packets_unacked = 0;
        self.timers[Timer::DelayedAck as usize] = None;
    }

    // ---------------------------------------------------------------- send side

    fn on_sack(&mut self, now: Instant, s: &SackChunk<'_>) -> Result<(), Error> {
        if !matches!(
            self.state,
            State::Established
                | State::ShutdownPending
                | State::ShutdownReceived
                | State::ShutdownSent
        ) {
            return Ok(());
        }
        let cum = s.cum_tsn;
        if tsn_lt(cum, self.cum_ack) {
            return Ok(()); // Out of date (section 6.2.1 D i).
        }
        let highest_sent = self.next_tsn.wrapping_sub(1);
        if tsn_lt(highest_sent, cum) {
            self.abort_with(
                cause_code::PROTOCOL_VIOLATION,
                CloseReason::ProtocolViolation(PeerMisbehaved::AckOfUnsentTsn),
            );
            return Err(PeerMisbehaved::AckOfUnsentTsn.into());
        }
        let flight_before = self.flight_size;
        let cum_moved = tsn_lt(self.cum_ack, cum);
        let advanced = self.ack_cumulative(now, cum);
        // Gap blocks.
        let mut highest_newly_acked: Option<usize> = None;
        let mut gap_acked_bytes = 0usize;
        // Blocks must ascend without overlap (RFC 9260 section 3.3.4); skipping any that do
        // not bounds the work of one SACK by the number of chunks outstanding.
        let mut last_end = 0u16;
        for g in s.gap_blocks.iter() {
            if g.start <= last_end || g.end < g.start {
                continue;
            }
            last_end = g.end;
            for off in g.start..=g.end {
                let idx = usize::from(off) - 1;
                let Some(c) = self.outstanding.get_mut(idx) else {
                    break;
                };
                match c.state {
                    TxState::InFlight | TxState::Rtx => {
                        let marked = c.state == TxState::Rtx;
                        if marked {
                            self.rtx_pending -= 1;
                        } else {
                            self.flight_size -= c.data.len();
                        }
                        c.state = TxState::GapAcked;
                        gap_acked_bytes += c.data.len();
                        highest_newly_acked = Some(highest_newly_acked.map_or(idx, |h| h.max(idx)));
                        let tsn = self.cum_ack.wrapping_add(1 + idx as u32);
                        let delivered = Delivered::of(c, tsn, marked);
                        if delivered.tx_count == 1 {
                            self.rtt_sample(now, tsn);
                        }
                        self.chunk_delivered(now, delivered);
                    }
                    _ => {}
                }
            }
        }
        let _ = gap_acked_bytes;
        // The first chunk past the cumulative ack was gap-acknowledged, yet this SACK says the
        // peer lacks it: the peer reneged (RFC 9260 section 6.2.1 D iv, our receiver does so
        // when its window is full). Send it again rather than wait for T3.
        if let Some(c) = self.outstanding.front_mut()
            && c.state == TxState::GapAcked
        {
            c.state = TxState::Rtx;
            self.rtx_pending += 1;
            if self.timers[Timer::T3Rtx as usize].is_none() {
                self.set_timer(Timer::T3Rtx, now + self.rto);
            }
        }
        // Congestion window (section 7.2.1, 7.2.2).
        if advanced > 0 {
            if let Some(exit) = self.fast_recovery_exit
                && tsn_le(exit, self.cum_ack)
            {
                self.fast_recovery_exit = None;
            }
            if self.fast_recovery_exit.is_none() {
                if self.cwnd <= self.ssthresh {
                    if flight_before >= self.cwnd {
                        self.cwnd += advanced.min(self.cfg.mtu);
                    }
                } else {
                    self.partial_bytes_acked += advanced;
                    if self.partial_bytes_acked >= self.cwnd && flight_before >= self.cwnd {
                        self.partial_bytes_acked -= self.cwnd;
                        self.cwnd += self.cfg.mtu;
                    }
                }
            }
        }
        // Miss indications (section 7.2.4), after the cwnd update above as its note says.
        // In Fast Recovery, a SACK that advances the cumulative ack counts a miss for every
        // TSN it reports missing, below its highest gap-acked TSN.
        let highest_reported = if self.fast_recovery_exit.is_some() && cum_moved {
            self.outstanding
                .iter()
                .rposition(|c| c.state == TxState::GapAcked)
                .map(|i| highest_newly_acked.map_or(i, |h| h.max(i)))
        } else {
            highest_newly_acked
        };
        if let Some(h) = highest_reported {
            for i in 0..h {
                let c = &mut self.outstanding[i];
                // `FAST_RTX_DONE` marks a chunk already fast-retransmitted: ineligible again
                // (item 5); only T3 retransmits it further.
                if c.state == TxState::InFlight && c.misses < DUP_THRESH {
                    c.misses += 1;
                }
            }
        }
        // Which of the chunks still in flight are lost: RACK's time rule, or the three miss
        // indications while the path has not shown it reorders.
        self.detect_losses(now);
        self.peer_rwnd = (s.a_rwnd as usize).saturating_sub(self.flight_size);
        // Heartbeats probe idle paths only (section 8.3): acknowledged data proves this one.
        if cum_moved
            && let (Some(hb), Some(_)) = (
                self.cfg.heartbeat_interval,
                self.timers[Timer::Heartbeat as usize],
            )
        {
            self.heartbeat_outstanding = false;
            self.set_timer(Timer::Heartbeat, now + hb + self.rto);
        }
        // T3 (section 6.3.2 R2, R3).
        if self.flight_size == 0 {
            self.timers[Timer::T3Rtx as usize] = None;
        } else if cum_moved {
            self.set_timer(Timer::T3Rtx, now + self.rto);
        }
        self.advance_peer_ack_point();
        if tsn_lt(self.cum_ack, self.advanced_peer_ack) {
            // RFC 3758 section 3.5 C3: repeat FORWARD TSN until the peer's ack reaches it.
            self.forward_tsn_due = true;
        }
        self.progress_shutdown(now);
        Ok(())
    }

    /// Removes chunks up to `cum` and returns the bytes newly acknowledged by it.
    fn ack_cumulative(&mut self, now: Instant, cum: u32) -> usize {
        if tsn_lt(self.cum_ack, cum) {
            self.error_count = 0;
        }
        let mut acked = 0usize;
        while tsn_lt(self.cum_ack, cum) {
            let Some(c) = self.outstanding.pop_front() else {
                break;
            };
            self.cum_ack = self.cum_ack.wrapping_add(1);
            if self.next_unsent > 0 {
                self.next_unsent -= 1;
            }
            match c.state {
                TxState::InFlight => {
                    self.flight_size -= c.data.len();
                    acked += c.data.len();
                    if c.tx_count == 1 {
                        self.rtt_sample(now, self.cum_ack);
                    }
                    self.chunk_delivered(now, Delivered::of(&c, self.cum_ack, false));
                }
                TxState::Rtx => {
                    self.rtx_pending -= 1;
                    acked += c.data.len();
                    self.chunk_delivered(now, Delivered::of(&c, self.cum_ack, true));
                }
                TxState::GapAcked => {}
                TxState::Abandoned | TxState::Unsent => {}
            }
            if c.state != TxState::Abandoned {
                self.release(c.stream, c.data.len(), c.control);
            }
        }
        if tsn_lt(self.advanced_peer_ack, self.cum_ack) {
            self.advanced_peer_ack = self.cum_ack;
        }
        acked
    }

    /// RACK's update for a chunk newly acknowledged (RFC 8985 section 6.2 steps 1-3), and the
    /// undo bookkeeping of the fast recovery that retransmitted it.
    fn chunk_delivered(&mut self, now: Instant, d: Delivered) {
        let rtt = now.saturating_duration_since(d.sent_at);
        let retransmitted = d.tx_count > 1;
        // Acknowledged sooner than a round trip after its retransmission: the original
        // arrived (step 2 ignores such a sample).
        let too_soon = retransmitted && self.rack.min_rtt.is_some_and(|m| rtt < m);
        if !too_soon {
            if !retransmitted {
                self.rack.min_rtt = Some(self.rack.min_rtt.map_or(rtt, |m| m.min(rtt)));
            }
            let newer = self
                .rack
                .xmit
                .is_none_or(|(t, tsn)| d.sent_at > t || (d.sent_at == t && tsn_lt(tsn, d.tsn)));
            if newer {
                self.rack.xmit = Some((d.sent_at, d.tsn));
                self.rack.rtt = rtt;
            }
        }
        // Step 3: a chunk sent once, delivered below the highest TSN delivered before it.
        if d.tx_count <= 1 && self.rack.fack.is_some_and(|f| tsn_lt(d.tsn, f)) {
            self.rack.reordering_seen = true;
        }
        if self.rack.fack.is_none_or(|f| tsn_lt(f, d.tsn)) {
            self.rack.fack = Some(d.tsn);
        }
        if !d.fast_retransmitted {
            return;
        }
        let Some(u) = self.undo.as_mut() else {
            return;
        };
        if u.episode != d.episode {
            return;
        }
        // Marked but acknowledged before it went out again, or acknowledged too soon after
        // going out again: the original arrived, so marking it lost was a mistake.
        if d.marked || too_soon {
            u.spurious += 1;
            if u.spurious >= u.marked {
                self.undo_recovery(now);
            }
        } else {
            // It may really have been lost: the recovery stands.
            self.undo = None;
        }
    }

    /// Every chunk the last fast recovery retransmitted had arrived: restore the congestion
    /// state from before it, end it, and widen the reordering window (RFC 8985 section 6.2
    /// step 4 widens on DSACK; an early acknowledgement is SCTP's evidence of the same).
    fn undo_recovery(&mut self, now: Instant) {
        let Some(u) = self.undo.take() else {
            return;
        };
        let _ = now;
        self.cwnd = self.cwnd.max(u.cwnd);
        self.ssthresh = self.ssthresh.max(u.ssthresh);
        self.partial_bytes_acked = 0;
        self.fast_recovery_exit = None;
        self.stats.spurious_recoveries += 1;
        self.rack.reo_wnd_mult = (self.rack.reo_wnd_mult + 1).min(MAX_REO_WND_MULT);
        self.rack.reo_wnd_persist = REO_WND_PERSIST;
    }

    /// RACK's reordering window (RFC 8985 section 6.2 step 4): a multiple of a quarter of the
    /// smallest round trip, at most SRTT.
    fn reo_wnd(&self) -> Duration {
        let Some(min) = self.rack.min_rtt else {
            return Duration::ZERO;
        };
        let w = min / 4 * self.rack.reo_wnd_mult;
        self.srtt.map_or(w, |s| w.min(s))
    }

    /// Loss detection (RFC 8985 section 6.2 step 5, with RFC 9260 section 7.2.4's response).
    ///
    /// A chunk in flight is lost when a chunk sent after it was delivered and the reordering
    /// window has passed since it would have been acknowledged; while the path has shown no
    /// reordering, three miss indications also declare it lost, as RFC 9260 says. Chunks
    /// found lost are marked for fast retransmission once each (RFC 9260 section 7.2.4 item
    /// 5: later losses of them are left to T3); the first marking enters Fast Recovery and
    /// halves the window. The RACK timer is armed for the earliest chunk not yet due.
    fn detect_losses(&mut self, now: Instant) {
        self.timers[Timer::Rack as usize] = None;
        let Some((xt, xtsn)) = self.rack.xmit else {
            return;
        };
        let wait = self.rack.rtt + self.reo_wnd();
        let classic = !self.rack.reordering_seen;
        let entering = self.fast_recovery_exit.is_none();
        let episode = if entering {
            self.episode.wrapping_add(1)
        } else {
            self.episode
        };
        let mut newly = 0u32;
        let mut earliest: Option<Instant> = None;
        let end = self.next_unsent.min(self.outstanding.len());
        for i in 0..end {
            let tsn = self.cum_ack.wrapping_add(1 + i as u32);
            let c = &mut self.outstanding[i];
            let before = c.sent_at < xt || (c.sent_at == xt && tsn_lt(tsn, xtsn));
            if !before {
                // Every chunk after one sent once was first sent after it: none is before.
                if c.tx_count == 1 {
                    break;
                }
                continue;
            }
            if c.state != TxState::InFlight || c.misses == FAST_RTX_DONE {
                continue;
            }
            let due = c.sent_at + wait;
            if now >= due || (classic && c.misses >= DUP_THRESH) {
                c.misses = FAST_RTX_DONE;
                c.state = TxState::Rtx;
                c.episode = episode;
                self.flight_size -= c.data.len();
                self.rtx_pending += 1;
                newly += 1;
            } else {
                earliest = Some(earliest.map_or(due, |e| e.min(due)));
            }
        }
        self.timers[Timer::Rack as usize] = earliest;
        if newly == 0 {
            return;
        }
        self.stats.fast_retransmits += 1;
        if entering {
            self.episode = episode;
            self.undo = Some(Undo {
                episode,
                cwnd: self.cwnd,
                ssthresh: self.ssthresh,
                marked: newly,
                spurious: 0,
            });
            self.ssthresh = (self.cwnd / 2).max(4 * self.cfg.mtu);
            self.cwnd = self.ssthresh;
            self.partial_bytes_acked = 0;
            // The highest TSN outstanding, i.e. sent (RFC 9260 section 7.2.4 item 2), not the
            // highest assigned: with DATA a large message has TSNs long before they are sent,
            // and an exit point at its end kept the window from ever being cut again.
            self.fast_recovery_exit = Some(self.cum_ack.wrapping_add(self.next_unsent as u32));
            // One packet regardless of cwnd, only when entering Fast Recovery (item 3).
            self.fast_rtx_now = true;
            if self.rack.reo_wnd_persist > 0 {
                self.rack.reo_wnd_persist -= 1;
                if self.rack.reo_wnd_persist == 0 {
                    self.rack.reo_wnd_mult = 1;
                }
            }
        } else if let Some(u) = self.undo.as_mut()
            && u.episode == episode
        {
            u.marked += newly;
        }
    }

    fn release(&mut self, stream: u16, len: usize, control: bool) {
        self.buffered_total -= len;
        if control {
            return;
        }
        if let Some(st) = self.out_streams_state.get_mut(&stream) {
            let before = st.buffered;
            st.buffered -= len;
            if before > st.low_threshold && st.buffered <= st.low_threshold {
                self.events.push_back(Event::BufferedAmountLow { stream });
            }
        }
    }

    fn rtt_sample(&mut self, now: Instant, tsn: u32) {
        let Some((probe, sent)) = self.rtt_probe else {
            return;
        };
        if probe != tsn {
            return;
        }
        self.rtt_probe = None;
        self.update_rto(now.saturating_duration_since(sent));
    }

    /// RTO computation (RFC 9260 section 6.3.1).
    fn update_rto(&mut self, r: Duration) {
        match self.srtt {
            None => {
                self.srtt = Some(r);
                self.rttvar = r / 2;
            }
            Some(srtt) => {
                let diff = srtt.abs_diff(r);
                self.rttvar = self.rttvar * 3 / 4 + diff / 4;
                self.srtt = Some(srtt * 7 / 8 + r / 8);
            }
        }
        let srtt = self.srtt.unwrap_or(r);
        self.rto = (srtt + (4 * self.rttvar).max(Duration::from_millis(1)))
            .clamp(self.cfg.rto_min, self.cfg.rto_max);
    }

    /// Marks a whole message abandoned, given the index of any of its chunks.
    fn abandon_message(&mut self, idx: usize) {
        if self.idata {
            return self.abandon_idata_message(idx);
        }
        let mut first = idx;
        while first > 0 && self.outstanding[first].flags & DATA_FLAG_BEGIN == 0 {
            first -= 1;
        }
        let mut i = first;
        let mut released: Vec<(u16, usize, bool)> = Vec::new();
        while let Some(c) = self.outstanding.get_mut(i) {
            match c.state {
                TxState::InFlight => self.flight_size -= c.data.len(),
                TxState::Rtx => self.rtx_pending -= 1,
                TxState::Abandoned => {}
                TxState::GapAcked | TxState::Unsent => {}
            }
            if c.state != TxState::Abandoned {
                released.push((c.stream, c.data.len(), c.control));
                c.state = TxState::Abandoned;
            }
            let end = c.flags & DATA_FLAG_END != 0;
            i += 1;
            if end {
                break;
            }
        }
        for (s, l, control) in released {
            self.release(s, l, control);
        }
        self.stats.abandoned_messages += 1;
    }

    /// I-DATA: a message's chunks are not consecutive; they share stream, U bit and MID. Its
    /// part without TSNs yet is dropped from the stream's queue.
    fn abandon_idata_message(&mut self, idx: usize) {
        let Some(c) = self.outstanding.get(idx) else {
            return;
        };
        let (stream, mid, u) = (c.stream, c.mid, c.flags & DATA_FLAG_UNORDERED);
        let mut released = 0usize;
        let mut control = false;
        for c in self.outstanding.iter_mut() {
            if c.stream != stream
                || c.mid != mid
                || c.flags & DATA_FLAG_UNORDERED != u
                || c.state == TxState::Abandoned
            {
                continue;
            }
            match c.state {
                TxState::InFlight => self.flight_size -= c.data.len(),
                TxState::Rtx => self.rtx_pending -= 1,
                TxState::Abandoned | TxState::GapAcked | TxState::Unsent => {}
            }
            released += c.data.len();
            control = c.control;
            c.state = TxState::Abandoned;
        }
        if let Some(queue) = self.pending.get_mut(&stream)
            && let Some(m) = queue.front()
            && m.started
            && m.mid == mid
            && (m.opts.unordered == (u != 0))
        {
            released += m.data.len() - m.off;
            self.in_progress -= m.data.len();
            let (fsn, ppid, reliability, expires) = (m.fsn, m.ppid, m.opts.reliability, m.expires);
            queue.pop_front();
            self.pending_msgs -= 1;
            if queue.is_empty() {
                self.pending_ring.retain(|&s| s != stream);
            }
            // The rest of the message never gets a TSN. One empty placeholder, abandoned and
            // never sent, takes the next TSN in its name, so the I-FORWARD-TSN that skips the
            // message moves the peer's cumulative TSN past everything it has: even when every
            // fragment that was sent arrives, the peer learns that the message ends there.
            self.outstanding.push_back(TxChunk {
                data: Bytes::new(),
                stream,
                mid,
                fsn,
                ppid,
                flags: u,
                state: TxState::Abandoned,
                tx_count: 0,
                misses: 0,
                sent_at: self.last_now,
                episode: 0,
                control,
                reliability,
                expires,
            });
            self.next_tsn = self.next_tsn.wrapping_add(1);
        }
        self.release(stream, released, control);
        self.stats.abandoned_messages += 1;
    }

    /// RFC 3758 section 3.5 C1-C2.
    fn advance_peer_ack_point(&mut self) {
        if !self.peer_forward_tsn {
            return;
        }
        let mut i = self.advanced_peer_ack.wrapping_sub(self.cum_ack) as usize;
        while let Some(c) = self.outstanding.get(i) {
            if c.state != TxState::Abandoned {
                break;
            }
            i += 1;
        }
        let new = self.cum_ack.wrapping_add(i as u32);
        if tsn_lt(self.cum_ack, new) {
            self.advanced_peer_ack = new;
            self.forward_tsn_due = true;
        }
    }

    /// The stream list of the FORWARD TSN (or I-FORWARD-TSN) to send, at most `room` bytes
    /// of chunk.
    fn forward_tsn_streams(&self, room: usize) -> Skips {
        let n = self.advanced_peer_ack.wrapping_sub(self.cum_ack) as usize;
        if self.idata {
            // Ordered and unordered messages alike, each stream and U bit with its largest
            // MID (RFC 8260 section 2.3.1); a stream's MIDs grow with its TSNs.
            let mut streams: Vec<StreamMid> = Vec::new();
            for c in self.outstanding.iter().take(n) {
                let unordered = c.flags & DATA_FLAG_UNORDERED != 0;
                match streams
                    .iter_mut()
                    .find(|s| s.stream == c.stream && s.unordered == unordered)
                {
                    Some(s) => s.mid = c.mid,
                    None => streams.push(StreamMid {
                        stream: c.stream,
                        unordered,
                        mid: c.mid,
                    }),
                }
            }
            streams.truncate(room.saturating_sub(8) / 8);
            return Skips::Mid(streams);
        }
        let mut streams: Vec<StreamSsn> = Vec::new();
        for c in self.outstanding.iter().take(n) {
            if c.flags & DATA_FLAG_UNORDERED == 0 {
                let ssn = c.mid as u16;
                match streams.iter_mut().find(|s| s.stream == c.stream) {
                    Some(s) => s.ssn = ssn,
                    None => streams.push(StreamSsn {
                        stream: c.stream,
                        ssn,
                    }),
                }
            }
        }
        let max = room.saturating_sub(8) / 4;
        streams.truncate(max);
        Skips::Ssn(streams)
    }

    fn emit_forward_tsn(&mut self, buf: &mut BytesMut, streams: &Skips) {
        let chunk = match streams {
            Skips::Ssn(s) => ChunkRepr::ForwardTsn {
                new_cum_tsn: self.advanced_peer_ack,
                streams: List::Items(s),
            },
            Skips::Mid(s) => ChunkRepr::IForwardTsn {
                new_cum_tsn: self.advanced_peer_ack,
                streams: List::Items(s),
            },
        };
        chunk.emit(buf);
        self.forward_tsn_due = false;
    }

    /// The stream whose turn it is (RFC 8260 section 3), taken out of the ring: round robin
    /// takes the first in ring order, priority the first of the highest priority. With
    /// I-DATA, a stream whose next message has not started is passed over while starting it
    /// would put more bytes in reassembly at the peer than its window (the peer holds every
    /// started message's fragments until the message is whole; with no message started, one
    /// always may start, as with DATA). A message that fits one chunk is never passed over:
    /// it is whole when it arrives, so it never waits in reassembly, and a channel's small
    /// messages go beside another's large one even when that one is as large as the window.
    fn pick_stream(&mut self) -> Option<u16> {
        let window = self.peer.map_or(0, |p| p.a_rwnd as usize);
        let mut best: Option<(usize, u16)> = None;
        for (i, &stream) in self.pending_ring.iter().enumerate() {
            if self.idata && self.in_progress > 0 {
                let head = self.pending.get(&stream).and_then(VecDeque::front);
                if head.is_some_and(|m| {
                    !m.started
                        && m.data.len() > self.max_payload
                        && self.in_progress + m.data.len() > window
                }) {
                    continue;
                }
            }
            let prio = match self.cfg.scheduler {
                Scheduler::RoundRobin => 0,
                Scheduler::Priority => self
                    .out_streams_state
                    .get(&stream)
                    .map_or(0, |st| st.priority),
            };
            if best.is_none_or(|(_, p)| prio > p) {
                best = Some((i, prio));
            }
            if self.cfg.scheduler == Scheduler::RoundRobin {
                break;
            }
        }
        let (i, _) = best?;
        self.pending_ring.remove(i)
    }

    /// The next message to give TSNs to, whole (DATA): the front of the scheduled stream's
    /// queue.
    fn next_pending(&mut self) -> Option<OutMessage> {
        let stream = self.pick_stream()?;
        let queue = self.pending.get_mut(&stream)?;
        let m = queue.pop_front()?;
        if !queue.is_empty() {
            self.pending_ring.push_back(stream);
        }
        self.pending_msgs -= 1;
        Some(m)
    }

    /// Without FORWARD TSN the peer could never skip an abandoned TSN: a message with a TSN
    /// is then sent reliably (RFC 3758 section 3.3).
    fn reliability_of(&self, m: &OutMessage) -> Reliability {
        if self.peer_forward_tsn {
            m.opts.reliability
        } else {
            Reliability::Reliable
        }
    }

    /// Moves queued data into the TSN space. With DATA, the next message whole, fragmented;
    /// with I-DATA, one fragment of the scheduled stream's message (late TSN assignment,
    /// RFC 8260 section 2.2.2), so streams take turns per chunk. Returns false when none.
    fn fragment_next(&mut self, now: Instant) -> bool {
        if self.idata {
            return self.fragment_one(now);
        }
        while let Some(m) = self.next_pending() {
            if m.expires.is_some_and(|e| now >= e) {
                self.release(m.stream, m.data.len(), m.control);
                self.stats.abandoned_messages += 1;
                continue;
            }
            let st = self.out_streams_state.entry(m.stream).or_default();
            let ssn = if m.opts.unordered {
                0
            } else {
                let s = st.next_ssn;
                st.next_ssn = (s + 1) & 0xffff;
                s
            };
            let base_flags = if m.opts.unordered {
                DATA_FLAG_UNORDERED
            } else {
                0
            };
            let reliability = self.reliability_of(&m);
            let total = m.data.len();
            let mut off = 0;
            while off < total {
                let n = (total - off).min(self.max_payload);
                let mut flags = base_flags;
                if off == 0 {
                    flags |= DATA_FLAG_BEGIN;
                }
                if off + n == total {
                    flags |= DATA_FLAG_END;
                }
                self.outstanding.push_back(TxChunk {
                    data: m.data.slice(off..off + n),
                    stream: m.stream,
                    mid: ssn,
                    fsn: 0,
                    ppid: m.ppid,
                    flags,
                    state: TxState::Unsent,
                    tx_count: 0,
                    misses: 0,
                    sent_at: now,
                    episode: 0,
                    control: m.control,
                    reliability,
                    expires: m.expires,
                });
                self.next_tsn = self.next_tsn.wrapping_add(1);
                off += n;
            }
            return true;
        }
        false
    }

    /// I-DATA: gives the next fragment of the scheduled stream's message a TSN. A stream
    /// processes one message at a time (RFC 8260 section 2.2.2); its MIDs count ordered and
    /// unordered messages apart (section 2.1).
    fn fragment_one(&mut self, now: Instant) -> bool {
        while let Some(stream) = self.pick_stream() {
            let Some(queue) = self.pending.get_mut(&stream) else {
                continue;
            };
            let Some(m) = queue.front_mut() else {
                continue;
            };
            if !m.started {
                if m.expires.is_some_and(|e| now >= e) {
                    let (len, control) = (m.data.len(), m.control);
                    queue.pop_front();
                    if !queue.is_empty() {
                        self.pending_ring.push_back(stream);
                    }
                    self.pending_msgs -= 1;
                    self.release(stream, len, control);
                    self.stats.abandoned_messages += 1;
                    continue;
                }
                let st = self.out_streams_state.entry(stream).or_default();
                let counter = if m.opts.unordered {
                    &mut st.next_umid
                } else {
                    &mut st.next_ssn
                };
                m.mid = *counter;
                *counter = counter.wrapping_add(1);
                m.started = true;
                self.in_progress += m.data.len();
            }
            let total = m.data.len();
            let n = (total - m.off).min(self.max_payload);
            let mut flags = if m.opts.unordered {
                DATA_FLAG_UNORDERED
            } else {
                0
            };
            if m.off == 0 {
                flags |= DATA_FLAG_BEGIN;
            }
            let end = m.off + n == total;
            if end {
                flags |= DATA_FLAG_END;
            }
            let reliability = if self.peer_forward_tsn {
                m.opts.reliability
            } else {
                Reliability::Reliable
            };
            self.outstanding.push_back(TxChunk {
                data: m.data.slice(m.off..m.off + n),
                stream,
                mid: m.mid,
                fsn: m.fsn,
                ppid: m.ppid,
                flags,
                state: TxState::Unsent,
                tx_count: 0,
                misses: 0,
                sent_at: now,
                episode: 0,
                control: m.control,
                reliability,
                expires: m.expires,
            });
            self.next_tsn = self.next_tsn.wrapping_add(1);
            m.off += n;
            m.fsn = m.fsn.wrapping_add(1);
            if end {
                queue.pop_front();
                self.pending_msgs -= 1;
                self.in_progress -= total;
            }
            if !queue.is_empty() {
                self.pending_ring.push_back(stream);
            }
            return true;
        }
        false
    }

    fn can_send_data(&self) -> bool {
        matches!(
            self.state,
            State::Established | State::ShutdownPending | State::ShutdownReceived
        )
    }

    fn build_packet(&mut self, now: Instant) -> Option<Bytes> {
        if !matches!(
            self.state,
            State::Established
                | State::ShutdownPending
                | State::ShutdownReceived
                | State::ShutdownSent
        ) {
            return None;
        }
        let peer_vtag = self.peer?.vtag;
        let mtu = self.cfg.mtu;
        let mut buf = core::mem::take(&mut self.out_buf);
        if buf.capacity() < mtu {
            // Packets are cut from this arena and lent out as `Bytes`; once the caller
            // drops them the space is reclaimed here. A few packets' worth keeps an idle
            // association small (it is a large part of an idle peer connection's memory)
            // while a caller that holds a short batch still costs one allocation per batch.
            buf.reserve(mtu * ARENA_PACKETS);
        }
        CommonHeader {
            src_port: self.cfg.local_port,
            dst_port: self.cfg.remote_port,
            verification_tag: peer_vtag,
        }
        .emit(&mut buf);
        let mut any = false;
        let room = |buf: &BytesMut| mtu.saturating_sub(buf.len());

        let data_waiting = self.can_send_data()
            && (self.rtx_pending > 0
                || self.next_unsent < self.outstanding.len()
                || self.pending_msgs > 0);
        if self.ack_state == AckState::Immediate
            || (self.ack_state == AckState::Delayed && data_waiting)
        {
            let r = room(&buf);
            self.emit_sack(&mut buf, r);
            any = true;
        }
        // A FORWARD TSN goes last in the packet, after any DATA: webrtc-sctp 0.17 cannot parse
        // one followed by other chunks, and the order does not matter to the RFC (the DATA
        // bundled here all lie above the new cumulative TSN).
        let forward = (self.forward_tsn_due && tsn_lt(self.cum_ack, self.advanced_peer_ack))
            .then(|| self.forward_tsn_streams(room(&buf) / 2));
        let data_limit = mtu - forward.as_ref().map_or(0, Skips::wire_len);
        any |= self.emit_reconfig(now, &mut buf, data_limit);
        if self.can_send_data() {
            any |= self.emit_retransmissions(now, &mut buf, data_limit);
            any |= self.emit_new_data(now, &mut buf, data_limit);
            // The packet ends a flight (the window is full, or nothing more waits): ask for
            // its SACK at once with the I bit, which RFC 7053 lets the sending implementation
            // set, rather than leave the peer's delayed-ack timer (up to 200 ms) to clock the
            // next flight.
            if let Some(at) = self.last_data_at.take() {
                let more = self.rtx_pending > 0
                    || self.next_unsent < self.outstanding.len()
                    || self.pending_msgs > 0;
                if self.flight_size >= self.cwnd || !more {
                    buf[at + 1] |= DATA_FLAG_IMMEDIATE;
                }
            }
        }
        if let Some(streams) = forward {
            self.emit_forward_tsn(&mut buf, &streams);
            any = true;
            if self.timers[Timer::T3Rtx as usize].is_none() {
                self.set_timer(Timer::T3Rtx, now + self.rto);
            }
        }
        if !any {
            buf.clear();
            self.out_buf = buf;
            return None;
        }
        wire::finish_packet(&mut buf);
        let p = buf.split().freeze();
        self.out_buf = buf;
        Some(p)
    }

    fn emit_data(buf: &mut BytesMut, c: &TxChunk, tsn: u32, idata: bool) {
        if idata {
            wire::emit_idata_header(
                buf,
                c.flags,
                tsn,
                c.stream,
                c.mid,
                c.fsn,
                c.ppid,
                c.data.len(),
            );
        } else {
            // The SSN is 16 bits (RFC 9260 section 3.3.1); `mid` holds it.
            let ssn = c.mid as u16;
            wire::emit_data_header(buf, c.flags, tsn, c.stream, ssn, c.ppid, c.data.len());
        }
        buf.extend_from_slice(&c.data);
        wire::pad_chunk(buf);
    }

    /// Bytes of a data chunk's header: DATA's or I-DATA's.
    fn data_header_len(&self) -> usize {
        if self.idata {
            I_DATA_HEADER_LEN
        } else {
            DATA_HEADER_LEN
        }
    }

    fn emit_retransmissions(&mut self, now: Instant, buf: &mut BytesMut, mtu: usize) -> bool {
        if self.rtx_pending == 0 {
            return false;
        }
        let ignore_cwnd = core::mem::take(&mut self.fast_rtx_now);
        let mut any = false;
        let mut restart = false;
        let mut i = 0;
        while self.rtx_pending > 0 && i < self.outstanding.len() {
            if self.outstanding[i].state != TxState::Rtx {
                i += 1;
                continue;
            }
            if self.outstanding[i].should_abandon(now) {
                self.abandon_message(i);
                self.advance_peer_ack_point();
                i += 1;
                continue;
            }
            if !ignore_cwnd && self.flight_size >= self.cwnd {
                break;
            }
            let len = self.outstanding[i].data.len();
            if self.data_header_len() + len > mtu.saturating_sub(buf.len()) {
                break;
            }
            let tsn = self.cum_ack.wrapping_add(1 + i as u32);
            let idata = self.idata;
            self.last_data_at = Some(buf.len());
            let c = &mut self.outstanding[i];
            Self::emit_data(buf, c, tsn, idata);
            c.state = TxState::InFlight;
            c.tx_count += 1;
            c.sent_at = now;
            if c.misses != FAST_RTX_DONE {
                c.misses = 0;
            }
            self.rtx_pending -= 1;
            self.flight_size += len;
            self.peer_rwnd = self.peer_rwnd.saturating_sub(len);
            self.stats.retransmissions += 1;
            if self.rtt_probe.is_some_and(|(t, _)| t == tsn) {
                self.rtt_probe = None; // Karn's rule.
            }
            // Retransmitting the first outstanding chunk restarts T3 (RFC 9260 section 7.2.4
            // item 4): its timer measured the original, which is now known lost.
            restart |= i == 0;
            any = true;
            i += 1;
        }
        if restart || (any && self.timers[Timer::T3Rtx as usize].is_none()) {
            self.set_timer(Timer::T3Rtx, now + self.rto);
        }
        any
    }

    fn emit_new_data(&mut self, now: Instant, buf: &mut BytesMut, mtu: usize) -> bool {
        let mut any = false;
        loop {
            if self.flight_size >= self.cwnd {
                break;
            }
            if self.next_unsent == self.outstanding.len() && !self.fragment_next(now) {
                break;
            }
            let i = self.next_unsent;
            let c = &self.outstanding[i];
            if c.state == TxState::Abandoned {
                self.next_unsent += 1;
                continue;
            }
            if c.should_abandon(now) {
                self.abandon_message(i);
                self.advance_peer_ack_point();
                continue;
            }
            let len = c.data.len();
            if self.peer_rwnd < len && self.flight_size > 0 {
                break;
            }
            if self.data_header_len() + len > mtu.saturating_sub(buf.len()) {
                break;
            }
            let tsn = self.cum_ack.wrapping_add(1 + i as u32);
            let idata = self.idata;
            self.last_data_at = Some(buf.len());
            let c = &mut self.outstanding[i];
            Self::emit_data(buf, c, tsn, idata);
            c.state = TxState::InFlight;
            c.tx_count = 1;
            c.sent_at = now;
            self.flight_size += len;
            self.peer_rwnd = self.peer_rwnd.saturating_sub(len);
            self.next_unsent += 1;
            if self.rtt_probe.is_none() {
                self.rtt_probe = Some((tsn, now));
            }
            any = true;
        }
        if any && self.timers[Timer::T3Rtx as usize].is_none() {
            self.set_timer(Timer::T3Rtx, now + self.rto);
        }
        any
    }

    // ---------------------------------------------------------------- stream reset

    fn emit_reconfig(&mut self, now: Instant, buf: &mut BytesMut, mtu: usize) -> bool {
        if self.state != State::Established {
            return false;
        }
        // Start a request once the streams' queued messages all have TSNs.
        if self.out_reset.is_none() && !self.reset_wanted.is_empty() {
            let wanted = &self.reset_wanted;
            let pending = &self.pending;
            let blocked = wanted
                .iter()
                .any(|s| pending.get(s).is_some_and(|q| !q.is_empty()));
            if !blocked {
                let streams = core::mem::take(&mut self.reset_wanted);
                self.out_reset = Some(OutReset {
                    seq: self.my_reconfig_seq,
                    streams,
                    last_tsn: self.next_tsn.wrapping_sub(1),
                    send: true,
                });
                self.my_reconfig_seq = self.my_reconfig_seq.wrapping_add(1);
            }
        }
        let response = self.reconfig_responses.front().copied();
        let request = self.out_reset.as_ref().filter(|r| r.send);
        if response.is_none() && request.is_none() {
            return false;
        }
        let mut params: [Option<ReconfigParam<'_>>; 2] = [None, None];
        if let Some((seq, result)) = response {
            params[0] = Some(ReconfigParam::Response {
                response_seq: seq,
                result,
                next_tsns: None,
            });
        }
        if let Some(r) = request {
            params[1] = Some(ReconfigParam::OutgoingReset {
                request_seq: r.seq,
                response_seq: self.peer_reconfig_seq.wrapping_sub(1),
                last_tsn: r.last_tsn,
                streams: List::Items(&r.streams),
            });
        }
        let list: Vec<ReconfigParam<'_>> = params.into_iter().flatten().collect();
        let chunk = ChunkRepr::ReConfig {
            params: TlvList::Items(&list),
        };
        if chunk.buffer_len() > mtu.saturating_sub(buf.len()) {
            return false;
        }
        chunk.emit(buf);
        let sent_request = request.is_some();
        if response.is_some() {
            self.reconfig_responses.pop_front();
        }
        if sent_request {
            if let Some(r) = self.out_reset.as_mut() {
                r.send = false;
            }
            self.set_timer(Timer::Reconfig, now + self.rto);
        }
        true
    }

    fn on_reconfig(&mut self, params: TlvList<'_, ReconfigParam<'_>>) {
        if self.state != State::Established {
            return;
        }
        for p in params.iter().flatten() {
            match p {
                ReconfigParam::OutgoingReset {
                    request_seq,
                    last_tsn,
                    streams,
                    ..
                } => {
                    let expected = self.peer_reconfig_seq;
                    if request_seq == expected {
                        if self.deferred_reset.is_none() {
                            self.deferred_reset =
                                Some((request_seq, last_tsn, streams.iter().collect()));
                        }
                        if !self.check_deferred_reset() {
                            self.reconfig_responses
                                .push_back((request_seq, reconfig_result::IN_PROGRESS));
                        }
                    } else if request_seq == expected.wrapping_sub(1) {
                        if let Some((s, r)) = self.last_peer_result {
                            self.reconfig_responses.push_back((s, r));
                        }
                    } else {
                        self.reconfig_responses
                            .push_back((request_seq, reconfig_result::ERROR_BAD_SEQ));
                    }
                }
                ReconfigParam::IncomingReset {
                    request_seq,
                    streams,
                } => {
                    // The peer asks us to reset our outgoing streams: do so with an outgoing
                    // request of our own (RFC 6525 section 5.2.3).
                    if request_seq == self.peer_reconfig_seq {
                        self.peer_reconfig_seq = self.peer_reconfig_seq.wrapping_add(1);
                        self.last_peer_result =
                            Some((request_seq, reconfig_result::SUCCESS_PERFORMED));
                        for s in streams.iter() {
                            let st = self.out_streams_state.entry(s).or_default();
                            if !st.resetting {
                                st.resetting = true;
                                self.reset_wanted.push(s);
                            }
                        }
                    }
                }
                ReconfigParam::Response {
                    response_seq,
                    result,
                    ..
                } => {
                    let Some(r) = self.out_reset.as_ref() else {
                        continue;
                    };
                    if r.seq != response_seq {
                        continue;
                    }
                    match result {
                        reconfig_result::IN_PROGRESS => {}
                        reconfig_result::SUCCESS_PERFORMED | reconfig_result::SUCCESS_NOTHING => {
                            self.timers[Timer::Reconfig as usize] = None;
                            if let Some(r) = self.out_reset.take() {
                                for s in &r.streams {
                                    if let Some(st) = self.out_streams_state.get_mut(s) {
                                        st.next_ssn = 0;
                                        st.next_umid = 0;
                                        st.resetting = false;
                                    }
                                }
                                self.events
                                    .push_back(Event::OutgoingStreamsReset(r.streams));
                            }
                        }
                        _ => {
                            self.timers[Timer::Reconfig as usize] = None;
                            if let Some(r) = self.out_reset.take() {
                                for s in &r.streams {
                                    if let Some(st) = self.out_streams_state.get_mut(s) {
                                        st.resetting = false;
                                    }
                                }
                            }
                        }
                    }
                }
                ReconfigParam::Unknown { .. } => {}
            }
        }
    }

    /// Performs a deferred incoming reset once every TSN before it has arrived.
    fn check_deferred_reset(&mut self) -> bool {
        let Some((seq, last_tsn, _)) = &self.deferred_reset else {
            return false;
        };
        if !tsn_le(*last_tsn, self.peer_cum) {
            return false;
        }
        let seq = *seq;
        let Some((_, _, streams)) = self.deferred_reset.take() else {
            return false;
        };
        self.peer_reconfig_seq = self.peer_reconfig_seq.wrapping_add(1);
        self.last_peer_result = Some((seq, reconfig_result::SUCCESS_PERFORMED));
        self.reconfig_responses
            .push_back((seq, reconfig_result::SUCCESS_PERFORMED));
        // The streams' sequence numbers restart at 0 (RFC 6525 section 5.2.2).
        // With I-DATA, the MIDs do (RFC 8260 section 2.3.2), and what is left of their
        // messages is gone.
        let reset: Vec<MsgKey> = self
            .reasm_msgs
            .keys()
            .filter(|k| streams.is_empty() || streams.contains(&k.0))
            .copied()
            .collect();
        for k in reset {
            self.drop_idata(k);
        }
        if streams.is_empty() {
            self.in_ssn.clear();
            self.in_mid.clear();
            self.umid_floor.clear();
        } else {
            for s in &streams {
                self.in_ssn.remove(s);
                self.in_mid.remove(s);
                self.umid_floor.remove(s);
            }
        }
        self.events.push_back(Event::IncomingStreamsReset(streams));
        true
    }

    // ---------------------------------------------------------------- shutdown

    fn all_acked(&self) -> bool {
        self.outstanding.is_empty() && self.pending_msgs == 0
    }

    fn progress_shutdown(&mut self, now: Instant) {
        match self.state {
            State::ShutdownPending if self.all_acked() => {
                self.state = State::ShutdownSent;
                self.send_shutdown(now);
            }
            State::ShutdownReceived if self.all_acked() => {
                self.state = State::ShutdownAckSent;
                self.send_shutdown_ack(now);
            }
            _ => {}
        }
    }

    fn send_shutdown(&mut self, now: Instant) {
        let cum = self.peer_cum;
        self.queue_control(&[ChunkRepr::Shutdown { cum_tsn: cum }]);
        self.set_timer(Timer::T2Shutdown, now + self.rto);
    }

    fn send_shutdown_ack(&mut self, now: Instant) {
        self.queue_control(&[ChunkRepr::ShutdownAck]);
        self.set_timer(Timer::T2Shutdown, now + self.rto);
    }

    fn on_shutdown(&mut self, now: Instant, cum: u32) -> Result<(), Error> {
        match self.state {
            State::Established | State::ShutdownPending | State::ShutdownSent => {}
            State::ShutdownReceived | State::ShutdownAckSent => return Ok(()),
            _ => return Ok(()),
        }
        if tsn_le(self.cum_ack, cum) && tsn_le(cum, self.next_tsn.wrapping_sub(1)) {
            self.ack_cumulative(now, cum);
        }
        if self.state == State::ShutdownSent {
            // Both sides shut down at once (section 9.2): answer with SHUTDOWN ACK.
            self.state = State::ShutdownAckSent;
            self.send_shutdown_ack(now);
            return Ok(());
        }
        self.state = State::ShutdownReceived;
        self.progress_shutdown(now);
        Ok(())
    }

    fn on_shutdown_ack(&mut self) {
        if self.state == State::Closed {
            // Our SHUTDOWN COMPLETE was lost: answer the retransmitted SHUTDOWN ACK with one
            // carrying its own tag and the T bit (RFC 9260 section 8.4, item 5).
            if self.peer.is_some() {
                let tag = self.my_vtag;
                self.queue_packet(tag, &[ChunkRepr::ShutdownComplete { reflected: true }]);
            }
            return;
        }
        if matches!(self.state, State::ShutdownSent | State::ShutdownAckSent) {
            if let Some(p) = self.peer {
                self.queue_packet(p.vtag, &[ChunkRepr::ShutdownComplete { reflected: false }]);
            }
            self.close(CloseReason::Shutdown);
        }
    }

    // ---------------------------------------------------------------- timers

    fn set_timer(&mut self, t: Timer, at: Instant) {
        self.timers[t as usize] = Some(at);
    }

    fn back_off(&mut self) {
        self.rto = (self.rto * 2).min(self.cfg.rto_max);
    }

    fn on_timer(&mut self, t: Timer, now: Instant) {
        match t {
            Timer::T1 => {
                self.init_retransmits += 1;
                if self.init_retransmits > self.cfg.max_init_retransmissions {
                    self.close(CloseReason::Timeout);
                    return;
                }
                self.back_off();
                match self.state {
                    State::CookieWait => self.send_init(),
                    State::CookieEchoed => {
                        if let (Some(c), Some(p)) = (self.cookie.clone(), self.peer) {
                            self.queue_packet(p.vtag, &[ChunkRepr::CookieEcho(&c)]);
                        }
                    }
                    _ => return,
                }
                self.set_timer(Timer::T1, now + self.rto);
            }
            Timer::T2Shutdown => {
                if !self.count_error() {
                    return;
                }
                self.back_off();
                match self.state {
                    State::ShutdownSent => self.send_shutdown(now),
                    State::ShutdownAckSent => self.send_shutdown_ack(now),
                    _ => {}
                }
            }
            Timer::T3Rtx => self.on_t3(now),
            Timer::DelayedAck => {
                if self.ack_state == AckState::Delayed {
                    self.ack_state = AckState::Immediate;
                }
            }
            Timer::Heartbeat => {
                if self.state != State::Established {
                    return;
                }
                if self.heartbeat_outstanding && !self.count_error() {
                    return;
                }
                let Some(hb) = self.cfg.heartbeat_interval else {
                    return;
                };
                let info = self.now_ms(now).to_be_bytes();
                self.queue_control(&[ChunkRepr::Heartbeat(&info)]);
                self.heartbeat_outstanding = true;
                self.set_timer(Timer::Heartbeat, now + hb + self.rto);
            }
            Timer::Reconfig => {
                if let Some(r) = self.out_reset.as_mut() {
                    r.send = true;
                    self.back_off();
                }
            }
            Timer::Rack => {
                if self.can_send_data() || self.state == State::ShutdownSent {
                    self.detect_losses(now);
                }
            }
        }
    }

    /// Counts an unanswered retransmission; closes the association past the limit.
    fn count_error(&mut self) -> bool {
        self.error_count += 1;
        if self.error_count > self.cfg.max_retransmissions {
            self.abort_with(cause_code::USER_ABORT, CloseReason::Timeout);
            return false;
        }
        true
    }

    /// T3-rtx expiry (RFC 9260 section 6.3.3).
    fn on_t3(&mut self, now: Instant) {
        let forward_pending = tsn_lt(self.cum_ack, self.advanced_peer_ack);
        if self.flight_size == 0 && self.rtx_pending == 0 && !forward_pending {
            // Only gap-acked chunks remain: the peer may have reneged; resend the first.
            if let Some(c) = self.outstanding.front_mut()
                && c.state == TxState::GapAcked
            {
                c.state = TxState::Rtx;
                self.rtx_pending += 1;
            } else {
                return;
            }
        }
        self.stats.t3_expirations += 1;
        if !self.count_error() {
            return;
        }
        self.ssthresh = (self.cwnd / 2).max(4 * self.cfg.mtu);
        self.cwnd = self.cfg.mtu;
        self.partial_bytes_acked = 0;
        self.fast_recovery_exit = None;
        self.undo = None;
        self.back_off();
        self.rtt_probe = None;
        let mut i = 0;
        while i < self.outstanding.len() {
            if self.outstanding[i].state == TxState::InFlight {
                let c = &mut self.outstanding[i];
                c.state = TxState::Rtx;
                self.flight_size -= c.data.len();
                self.rtx_pending += 1;
                if c.should_abandon(now) {
                    self.abandon_message(i);
                }
            }
            i += 1;
        }
        self.advance_peer_ack_point();
        if tsn_lt(self.cum_ack, self.advanced_peer_ack) {
            self.forward_tsn_due = true;
        }
        self.set_timer(Timer::T3Rtx, now + self.rto);
    }

    fn on_heartbeat_ack(&mut self, now: Instant, info: &[u8]) {
        self.heartbeat_outstanding = false;
        self.error_count = 0;
        if let Ok(b) = <[u8; 8]>::try_from(info) {
            let sent = u64::from_be_bytes(b);
            let rtt = self.now_ms(now).saturating_sub(sent);
            self.update_rto(Duration::from_millis(rtt));
        }
    }

    // ---------------------------------------------------------------- packets and closing

    fn queue_packet(&mut self, vtag: u32, chunks: &[ChunkRepr<'_>]) {
        // Control answers (ERROR, HEARTBEAT ACK, ...) a peer provokes are bounded: past this
        // many unsent, further ones are dropped; the protocol recovers from their loss.
        if self.tx_queue.len() >= MAX_CONTROL_QUEUE {
            tracing::debug!("control packet dropped: queue full");
            return;
        }
        let mut buf = BytesMut::with_capacity(
            COMMON_HEADER_LEN + chunks.iter().map(ChunkRepr::buffer_len).sum::<usize>(),
        );
        CommonHeader {
            src_port: self.cfg.local_port,
            dst_port: self.cfg.remote_port,
            verification_tag: vtag,
        }
        .emit(&mut buf);
        for c in chunks {
            c.emit(&mut buf);
        }
        wire::finish_packet(&mut buf);
        self.tx_queue.push_back(buf.freeze());
    }

    fn queue_control(&mut self, chunks: &[ChunkRepr<'_>]) {
        if let Some(p) = self.peer {
            self.queue_packet(p.vtag, chunks);
        }
    }

    fn abort_with(&mut self, code: u16, reason: CloseReason) {
        if let Some(p) = self.peer {
            let abort = ChunkRepr::Abort {
                reflected: false,
                causes: TlvList::Items(&[ErrorCause { code, info: &[] }]),
            };
            self.queue_packet(p.vtag, &[abort]);
        }
        self.close(reason);
    }

    fn close(&mut self, reason: CloseReason) {
        self.state = State::Closed;
        self.ended = true;
        self.timers = [None; TIMERS];
        self.outstanding.clear();
        self.pending.clear();
        self.pending_ring.clear();
        self.pending_msgs = 0;
        self.ooo.clear();
        self.assembly = Assembly::default();
        self.reasm_msgs.clear();
        self.reasm_frags = 0;
        self.in_progress = 0;
        self.rx_buffered = 0;
        self.flight_size = 0;
        self.rtx_pending = 0;
        self.next_unsent = 0;
        self.buffered_total = 0;
        for st in self.out_streams_state.values_mut() {
            st.buffered = 0;
        }
        self.events.push_back(Event::Closed(reason));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    const A: SocketAddr = SocketAddr::new(std::net::IpAddr::V4(std::net::Ipv4Addr::LOCALHOST), 1);
    const B: SocketAddr = SocketAddr::new(std::net::IpAddr::V4(std::net::Ipv4Addr::LOCALHOST), 2);

    fn pair() -> (Association, Association, Instant) {
        let now = Instant::now();
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(7);
        let a = Association::new(Config::default(), now, &mut rng);
        let b = Association::new(Config::default(), now, &mut rng);
        (a, b, now)
    }

    fn pump(a: &mut Association, b: &mut Association, now: Instant) {
        for _ in 0..1000 {
            let mut moved = false;
            while let Some(t) = a.poll_transmit(now) {
                assert_eq!((t.source, t.destination), (None, B));
                let _ = b.handle_receive(now, A, t.contents);
                moved = true;
            }
            while let Some(t) = b.poll_transmit(now) {
                assert_eq!((t.source, t.destination), (None, A));
                let _ = a.handle_receive(now, B, t.contents);
                moved = true;
            }
            if !moved {
                return;
            }
        }
    }

    #[test]
    fn serial_arithmetic() {
        assert!(tsn_lt(u32::MAX, 0));
        assert!(tsn_lt(1, 2));
        assert!(!tsn_lt(2, 2));
        assert!(tsn_le(2, 2));
        assert!(!tsn_lt(0, u32::MAX));
    }

    #[test]
    fn handshake_and_one_message() {
        let (mut a, mut b, now) = pair();
        a.connect(now, B);
        pump(&mut a, &mut b, now);
        assert_eq!(a.poll_event(), Some(Event::Connected));
        assert_eq!(b.poll_event(), Some(Event::Connected));
        a.send(
            now,
            1,
            51,
            Bytes::from_static(b"hello"),
            SendOptions::default(),
        )
        .unwrap();
        pump(&mut a, &mut b, now);
        match b.poll_event() {
            Some(Event::Message(m)) => {
                assert_eq!(m.stream, 1);
                assert_eq!(m.ppid, 51);
                assert_eq!(&m.data[..], b"hello");
            }
            e => panic!("unexpected {e:?}"),
        }
    }

    #[test]
    fn simultaneous_open() {
        let (mut a, mut b, now) = pair();
        a.connect(now, B);
        b.connect(now, A);
        pump(&mut a, &mut b, now);
        assert!(a.is_established());
        assert!(b.is_established());
        a.send(
            now,
            0,
            53,
            Bytes::from(vec![7u8; 5000]),
            SendOptions::default(),
        )
        .unwrap();
        pump(&mut a, &mut b, now);
        let got: Vec<_> = core::iter::from_fn(|| b.poll_event()).collect();
        assert!(
            got.iter()
                .any(|e| matches!(e, Event::Message(m) if m.data.len() == 5000))
        );
    }

    #[test]
    fn forged_cookie_is_rejected() {
        let (mut a, _b, now) = pair();
        let mut buf = BytesMut::new();
        CommonHeader {
            src_port: 5000,
            dst_port: 5000,
            verification_tag: a.my_vtag,
        }
        .emit(&mut buf);
        ChunkRepr::CookieEcho(&[0u8; COOKIE_BODY + COOKIE_MAC]).emit(&mut buf);
        wire::finish_packet(&mut buf);
        assert_eq!(
            a.handle_receive(now, B, buf.freeze()),
            Err(PeerMisbehaved::BadStateCookie.into())
        );
        assert_eq!(a.state(), State::Closed);
        assert_eq!(a.stats().packets_dropped, 1);
        assert!(a.poll_transmit(now).is_none());
    }

    #[test]
    fn an_ignored_init_does_not_move_the_remote() {
        let (mut a, mut b, now) = pair();
        a.connect(now, B);
        pump(&mut a, &mut b, now);
        assert!(a.is_established());
        let mut buf = BytesMut::new();
        CommonHeader {
            src_port: 5000,
            dst_port: 5000,
            verification_tag: 0,
        }
        .emit(&mut buf);
        ChunkRepr::Init(InitChunk {
            initiate_tag: 9,
            a_rwnd: 65536,
            outbound_streams: 1,
            inbound_streams: 1,
            initial_tsn: 1,
            params: TlvList::Items(&[]),
        })
        .emit(&mut buf);
        wire::finish_packet(&mut buf);
        let elsewhere = SocketAddr::new(std::net::IpAddr::V4(std::net::Ipv4Addr::LOCALHOST), 3);
        assert_eq!(a.handle_receive(now, elsewhere, buf.freeze()), Ok(()));
        a.send(now, 0, 51, Bytes::from_static(b"x"), SendOptions::default())
            .unwrap();
        assert_eq!(a.poll_transmit(now).map(|t| t.destination), Some(B));
    }

    #[test]
    fn rto_follows_rfc_formula() {
        let (mut a, _b, _now) = pair();
        a.update_rto(Duration::from_millis(400));
        // SRTT = 400, RTTVAR = 200, RTO = 400 + 800.
        assert_eq!(a.rto(), Duration::from_millis(1200));
        a.update_rto(Duration::from_millis(400));
        // RTTVAR = 150, SRTT = 400, RTO = 1000.
        assert_eq!(a.rto(), Duration::from_millis(1000));
    }
}
