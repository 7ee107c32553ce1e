//! WebRTC data channels over an SCTP association: DCEP (RFC 8832) and the channel rules of
//! RFC 8831.
//!
//! [`DataChannels`] owns an [`Association`] and has the same sans-IO verb set and contract
//! (see the [crate docs](crate)); it adds channels with labels, protocols and reliability, the
//! even/odd stream-id rule by DTLS role, PPIDs for string, binary and empty messages,
//! per-channel `buffered_amount` with a low-threshold event, and closing by stream reset
//! (RFC 8831 section 6.7).
//!
//! ```
//! use std::net::SocketAddr;
//! use std::time::Instant;
//! use ferrtc_sctp_datachannel::{Config, DataChannels, DataChannelEvent, DtlsRole, ChannelOptions};
//! use rand::SeedableRng;
//!
//! // SCTP rides in DTLS: these are only the addresses the `Transmit`s carry.
//! let client_addr: SocketAddr = "192.0.2.1:5000".parse().unwrap();
//! let server_addr: SocketAddr = "192.0.2.2:5000".parse().unwrap();
//! let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(1);
//! let now = Instant::now();
//! let mut client = DataChannels::new(Config::default(), DtlsRole::Client, now, &mut rng);
//! let mut server = DataChannels::new(Config::default(), DtlsRole::Server, now, &mut rng);
//! client.connect(now, server_addr);
//! let chat = client.open_channel(now, ChannelOptions::new("chat")).unwrap();
//! client.send_text(now, chat, "hello").unwrap();
//! // The run loop: transmits first, then events, until nothing moves (a real program hands
//! // the transmits to DTLS and sleeps until `poll_timeout`).
//! let mut got = Vec::new();
//! loop {
//!     let mut moved = false;
//!     while let Some(t) = client.poll_transmit(now) {
//!         server.handle_receive(now, client_addr, t.contents).unwrap();
//!         moved = true;
//!     }
//!     while let Some(t) = server.poll_transmit(now) {
//!         client.handle_receive(now, server_addr, t.contents).unwrap();
//!         moved = true;
//!     }
//!     while let Some(ev) = server.poll_event() { got.push(ev); }
//!     while client.poll_event().is_some() {}
//!     if !moved { break; }
//! }
//! assert!(got.iter().any(|e| matches!(e, DataChannelEvent::Message { text: true, data, .. } if &data[..] == b"hello")));
//! ```

use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use bytes::{BufMut, Bytes, BytesMut};
pub use ferrtc_types::DtlsRole;
use ferrtc_types::Transmit;
use rand::RngCore;

use crate::association::{
    Association, CloseReason, Config, Event, Message, Reliability, SendOptions, State,
};
use crate::error::{Error, PeerMisbehaved};

/// Payload protocol identifiers (RFC 8831 section 8; IANA SCTP PPIDs).
pub mod ppid {
    /// WebRTC DCEP.
    pub const DCEP: u32 = 50;
    /// WebRTC String.
    pub const STRING: u32 = 51;
    /// WebRTC Binary.
    pub const BINARY: u32 = 53;
    /// WebRTC String Empty.
    pub const STRING_EMPTY: u32 = 56;
    /// WebRTC Binary Empty.
    pub const BINARY_EMPTY: u32 = 57;
}

/// DCEP message types (RFC 8832 section 8.2.1).
pub mod message_type {
    /// DATA_CHANNEL_ACK.
    pub const ACK: u8 = 0x02;
    /// DATA_CHANNEL_OPEN.
    pub const OPEN: u8 = 0x03;
}

/// DCEP channel types (RFC 8832 section 8.2.2).
pub mod channel_type {
    /// DATA_CHANNEL_RELIABLE.
    pub const RELIABLE: u8 = 0x00;
    /// DATA_CHANNEL_RELIABLE_UNORDERED.
    pub const RELIABLE_UNORDERED: u8 = 0x80;
    /// DATA_CHANNEL_PARTIAL_RELIABLE_REXMIT.
    pub const REXMIT: u8 = 0x01;
    /// DATA_CHANNEL_PARTIAL_RELIABLE_REXMIT_UNORDERED.
    pub const REXMIT_UNORDERED: u8 = 0x81;
    /// DATA_CHANNEL_PARTIAL_RELIABLE_TIMED.
    pub const TIMED: u8 = 0x02;
    /// DATA_CHANNEL_PARTIAL_RELIABLE_TIMED_UNORDERED.
    pub const TIMED_UNORDERED: u8 = 0x82;
}

/// A DCEP message (RFC 8832 section 5).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DcepMessage<'a> {
    /// DATA_CHANNEL_OPEN (section 5.1).
    Open {
        /// Channel type, see [`channel_type`].
        channel_type: u8,
        /// Priority.
        priority: u16,
        /// Retransmissions or lifetime in ms, by channel type.
        reliability: u32,
        /// Label (UTF-8 by RFC 8832; kept as bytes here).
        label: &'a [u8],
        /// Sub-protocol.
        protocol: &'a [u8],
    },
    /// DATA_CHANNEL_ACK (section 5.2).
    Ack,
}

impl<'a> DcepMessage<'a> {
    /// Parses a DCEP message; the whole buffer must be used.
    pub fn parse(b: &'a [u8]) -> Result<Self, Error> {
        match b.first() {
            Some(&message_type::ACK) => {
                if b.len() != 1 {
                    return Err(Error::TrailingBytes {
                        what: "DATA_CHANNEL_ACK",
                    });
                }
                Ok(Self::Ack)
            }
            Some(&message_type::OPEN) => {
                if b.len() < 12 {
                    return Err(Error::Truncated {
                        what: "DATA_CHANNEL_OPEN",
                    });
                }
                let label_len = usize::from(u16::from_be_bytes([b[8], b[9]]));
                let proto_len = usize::from(u16::from_be_bytes([b[10], b[11]]));
                if b.len() != 12 + label_len + proto_len {
                    return Err(Error::BadLength {
                        what: "DATA_CHANNEL_OPEN",
                    });
                }
                Ok(Self::Open {
                    channel_type: b[1],
                    priority: u16::from_be_bytes([b[2], b[3]]),
                    reliability: u32::from_be_bytes([b[4], b[5], b[6], b[7]]),
                    label: &b[12..12 + label_len],
                    protocol: &b[12 + label_len..],
                })
            }
            _ => Err(PeerMisbehaved::MalformedDcep.into()),
        }
    }

    /// Appends the encoded message.
    pub fn emit(&self, out: &mut BytesMut) {
        match self {
            Self::Ack => out.put_u8(message_type::ACK),
            Self::Open {
                channel_type,
                priority,
                reliability,
                label,
                protocol,
            } => {
                out.put_u8(message_type::OPEN);
                out.put_u8(*channel_type);
                out.put_u16(*priority);
                out.put_u32(*reliability);
                out.put_u16(u16::try_from(label.len()).unwrap_or(u16::MAX));
                out.put_u16(u16::try_from(protocol.len()).unwrap_or(u16::MAX));
                out.put_slice(label);
                out.put_slice(protocol);
            }
        }
    }
}

/// How to open a channel (the W3C `RTCDataChannelInit`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChannelOptions {
    /// Label.
    pub label: String,
    /// Sub-protocol.
    pub protocol: String,
    /// In-order delivery.
    pub ordered: bool,
    /// Partial reliability.
    pub reliability: Reliability,
    /// Priority (RFC 8832 section 6.4), carried in the OPEN message.
    pub priority: u16,
    /// Pre-negotiated channel on this stream id: no DCEP exchange.
    pub negotiated: Option<u16>,
}

impl ChannelOptions {
    /// A reliable ordered channel with this label.
    pub fn new(label: &str) -> Self {
        Self {
            label: label.to_owned(),
            protocol: String::new(),
            ordered: true,
            reliability: Reliability::Reliable,
            priority: 256,
            negotiated: None,
        }
    }
}

/// What a channel is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChannelInfo {
    /// Stream id.
    pub id: u16,
    /// Label.
    pub label: String,
    /// Sub-protocol.
    pub protocol: String,
    /// In-order delivery.
    pub ordered: bool,
    /// Partial reliability.
    pub reliability: Reliability,
    /// Priority.
    pub priority: u16,
    /// Whether it was pre-negotiated.
    pub negotiated: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ChannelState {
    /// OPEN sent, ACK not yet received: send ordered.
    Opening,
    Open,
    /// Closing by stream reset; flags: our outgoing reset done, peer's reset seen.
    Closing {
        outgoing_done: bool,
        incoming_done: bool,
    },
}

#[derive(Debug)]
struct Channel {
    info: ChannelInfo,
    state: ChannelState,
}

/// Events of [`DataChannels`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum DataChannelEvent {
    /// The association is up.
    Connected,
    /// A channel opened: one we opened (once the association is up) or one the peer opened.
    ChannelOpen {
        /// Stream id.
        id: u16,
        /// Whether the peer opened it.
        remote: bool,
    },
    /// A message arrived.
    Message {
        /// Channel.
        id: u16,
        /// Text (a UTF-8 string) or binary.
        text: bool,
        /// The bytes; empty for an empty message.
        data: Bytes,
    },
    /// The channel's buffered amount fell to or below its low threshold.
    BufferedAmountLow {
        /// Channel.
        id: u16,
    },
    /// The channel is closed in both directions; its id may be reused.
    ChannelClosed {
        /// Channel.
        id: u16,
    },
    /// The association ended.
    Closed(CloseReason),
}

/// Data channels on one SCTP association.
///
/// Built with [`DataChannels::new`]`(config, role, now, rng)`: the DTLS role is a separate
/// argument after the association's [`Config`], since it is settled per connection by the DTLS
/// handshake (SDP `a=setup`), not configured. Same calling contract as [`Association`]: after
/// any input or command, drain [`DataChannels::poll_transmit`] until `None`, then
/// [`DataChannels::poll_event`] until `None`, then call [`DataChannels::handle_timeout`] at
/// [`DataChannels::poll_timeout`]. Transmits are addressed as the association's are (see
/// [`crate::association`]): to the `remote` given to [`DataChannels::connect`], or the sender
/// of the last accepted packet.
#[derive(Debug)]
pub struct DataChannels {
    assoc: Association,
    role: DtlsRole,
    channels: HashMap<u16, Channel>,
    events: VecDeque<DataChannelEvent>,
    last_now: Instant,
}

fn dcep_options(m: &DcepMessage<'_>) -> Option<(bool, Reliability)> {
    let DcepMessage::Open {
        channel_type,
        reliability,
        ..
    } = *m
    else {
        return None;
    };
    let ordered = channel_type & 0x80 == 0;
    let rel = match channel_type & 0x7f {
        0x00 => Reliability::Reliable,
        0x01 => Reliability::MaxRetransmits(reliability),
        0x02 => Reliability::MaxLifetime(Duration::from_millis(u64::from(reliability))),
        _ => return None,
    };
    Some((ordered, rel))
}

impl DataChannels {
    /// Creates the endpoint; `role` is our DTLS role, which picks even (client) or odd
    /// (server) stream ids for the channels we open (RFC 8832 section 6). See
    /// [`Association::new`].
    pub fn new(config: Config, role: DtlsRole, now: Instant, rng: &mut dyn RngCore) -> Self {
        Self {
            assoc: Association::new(config, now, rng),
            role,
            channels: HashMap::new(),
            events: VecDeque::new(),
            last_now: now,
        }
    }

    /// The association underneath.
    pub fn association(&self) -> &Association {
        &self.assoc
    }

    /// The association underneath, for its own commands (shutdown, abort).
    pub fn association_mut(&mut self) -> &mut Association {
        &mut self.assoc
    }

    /// A channel's description.
    pub fn channel(&self, id: u16) -> Option<&ChannelInfo> {
        self.channels.get(&id).map(|c| &c.info)
    }

    /// Ids of the channels that exist.
    pub fn channel_ids(&self) -> impl Iterator<Item = u16> + '_ {
        self.channels.keys().copied()
    }

    /// Bytes sent on the channel and not yet acknowledged.
    pub fn buffered_amount(&self, id: u16) -> usize {
        self.assoc.buffered_amount(id)
    }

    /// Sets the threshold for [`DataChannelEvent::BufferedAmountLow`].
    pub fn set_buffered_amount_low_threshold(&mut self, id: u16, threshold: usize) {
        self.assoc.set_buffered_amount_low_threshold(id, threshold);
    }

    /// Starts the SCTP handshake towards `remote` (see [`Association::connect`]).
    pub fn connect(&mut self, now: Instant, remote: SocketAddr) {
        self.last_now = now;
        self.assoc.connect(now, remote);
    }

    /// Feeds one SCTP packet (DTLS application data) that came from `from`. An `Err` means
    /// only that the packet was dropped (see [`Association::handle_receive`]).
    pub fn handle_receive(
        &mut self,
        now: Instant,
        from: SocketAddr,
        packet: Bytes,
    ) -> Result<(), Error> {
        self.last_now = now;
        let r = self.assoc.handle_receive(now, from, packet);
        self.take_assoc_events();
        r
    }

    /// Processes timers.
    pub fn handle_timeout(&mut self, now: Instant) {
        self.last_now = now;
        self.assoc.handle_timeout(now);
        self.take_assoc_events();
    }

    /// Next packet to send, as a [`Transmit`] for DTLS to carry.
    pub fn poll_transmit(&mut self, now: Instant) -> Option<Transmit> {
        self.last_now = now;
        self.assoc.poll_transmit(now)
    }

    /// When to call [`DataChannels::handle_timeout`].
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.assoc.poll_timeout()
    }

    /// Next event. Drain it after [`DataChannels::poll_transmit`].
    pub fn poll_event(&mut self) -> Option<DataChannelEvent> {
        // Events from association commands called through `association_mut`.
        self.take_assoc_events();
        let ev = self.events.pop_front()?;
        if let DataChannelEvent::Message { data, .. } = &ev {
            self.assoc.release_received(data.len());
        }
        Some(ev)
    }

    /// Moves the association's events into ours as they happen, so that what they call for
    /// (a DCEP ACK, our half of a stream reset) is queued before the caller polls transmits.
    /// A message's bytes stay counted in the receive buffer until `poll_event` hands it out.
    fn take_assoc_events(&mut self) {
        while let Some(ev) = self.assoc.pop_event() {
            self.on_assoc_event(ev);
        }
    }

    fn next_free_id(&self) -> Result<u16, Error> {
        let limit = match self.assoc.outbound_streams() {
            0 => u16::MAX,
            n => n,
        };
        let mut id: u16 = match self.role {
            DtlsRole::Client => 0,
            DtlsRole::Server => 1,
        };
        while id < limit {
            if !self.channels.contains_key(&id) {
                return Ok(id);
            }
            id = id.checked_add(2).ok_or(Error::NoFreeStream)?;
        }
        Err(Error::NoFreeStream)
    }

    /// Opens a channel and returns its stream id. Unless pre-negotiated, sends
    /// DATA_CHANNEL_OPEN; messages may be sent at once (they follow the OPEN in order).
    pub fn open_channel(&mut self, now: Instant, opts: ChannelOptions) -> Result<u16, Error> {
        self.last_now = now;
        let id = match opts.negotiated {
            Some(id) => {
                if self.channels.contains_key(&id) {
                    return Err(Error::InvalidStream(id));
                }
                id
            }
            None => self.next_free_id()?,
        };
        let info = ChannelInfo {
            id,
            label: opts.label,
            protocol: opts.protocol,
            ordered: opts.ordered,
            reliability: opts.reliability,
            priority: opts.priority,
            negotiated: opts.negotiated.is_some(),
        };
        let state = if info.negotiated {
            ChannelState::Open
        } else {
            let (ct, param) = match info.reliability {
                Reliability::Reliable => (channel_type::RELIABLE, 0),
                Reliability::MaxRetransmits(n) => (channel_type::REXMIT, n),
                Reliability::MaxLifetime(d) => (
                    channel_type::TIMED,
                    u32::try_from(d.as_millis()).unwrap_or(u32::MAX),
                ),
            };
            let ct = if info.ordered { ct } else { ct | 0x80 };
            let mut buf = BytesMut::with_capacity(12 + info.label.len() + info.protocol.len());
            DcepMessage::Open {
                channel_type: ct,
                priority: info.priority,
                reliability: param,
                label: info.label.as_bytes(),
                protocol: info.protocol.as_bytes(),
            }
            .emit(&mut buf);
            self.assoc.send_control(now, id, ppid::DCEP, buf.freeze())?;
            ChannelState::Opening
        };
        // The channel priority drives the association's priority scheduler (RFC 8831 section
        // 6.4), when it is the one configured.
        self.assoc.set_stream_priority(id, info.priority);
        self.channels.insert(id, Channel { info, state });
        if self.assoc.is_established() {
            self.events
                .push_back(DataChannelEvent::ChannelOpen { id, remote: false });
        }
        Ok(id)
    }

    /// Sends a message: text (UTF-8) or binary. An empty message is sent as the "empty" PPID
    /// with one zero byte (RFC 8831 section 6.6).
    pub fn send(&mut self, now: Instant, id: u16, data: Bytes, text: bool) -> Result<(), Error> {
        self.last_now = now;
        let ch = self.channels.get(&id).ok_or(Error::UnknownChannel(id))?;
        let ordered = match ch.state {
            ChannelState::Opening => true,
            ChannelState::Open => ch.info.ordered,
            ChannelState::Closing { .. } => return Err(Error::InvalidStream(id)),
        };
        let opts = SendOptions {
            unordered: !ordered,
            reliability: ch.info.reliability,
        };
        let (p, data) = match (data.is_empty(), text) {
            (false, true) => (ppid::STRING, data),
            (false, false) => (ppid::BINARY, data),
            (true, true) => (ppid::STRING_EMPTY, Bytes::from_static(&[0])),
            (true, false) => (ppid::BINARY_EMPTY, Bytes::from_static(&[0])),
        };
        self.assoc.send(now, id, p, data, opts)
    }

    /// Sends a text message.
    pub fn send_text(&mut self, now: Instant, id: u16, text: &str) -> Result<(), Error> {
        self.send(now, id, Bytes::copy_from_slice(text.as_bytes()), true)
    }

    /// Closes a channel by resetting its outgoing stream; the peer resets its side in turn
    /// and [`DataChannelEvent::ChannelClosed`] follows.
    pub fn close_channel(&mut self, id: u16) -> Result<(), Error> {
        let ch = self
            .channels
            .get_mut(&id)
            .ok_or(Error::UnknownChannel(id))?;
        if matches!(ch.state, ChannelState::Closing { .. }) {
            return Ok(());
        }
        if self.assoc.state() != State::Established {
            self.channels.remove(&id);
            self.events
                .push_back(DataChannelEvent::ChannelClosed { id });
            return Ok(());
        }
        ch.state = ChannelState::Closing {
            outgoing_done: false,
            incoming_done: false,
        };
        self.assoc.reset_streams(&[id])
    }

    fn on_assoc_event(&mut self, ev: Event) {
        match ev {
            Event::Connected => {
                self.events.push_back(DataChannelEvent::Connected);
                let mut ids: Vec<u16> = self.channels.keys().copied().collect();
                ids.sort_unstable();
                for id in ids {
                    self.events
                        .push_back(DataChannelEvent::ChannelOpen { id, remote: false });
                }
            }
            Event::Message(m) => self.on_message(m),
            Event::BufferedAmountLow { stream } => {
                if self.channels.contains_key(&stream) {
                    self.events
                        .push_back(DataChannelEvent::BufferedAmountLow { id: stream });
                }
            }
            Event::IncomingStreamsReset(streams) => {
                let ids: Vec<u16> = if streams.is_empty() {
                    self.channels.keys().copied().collect()
                } else {
                    streams
                };
                for id in ids {
                    let Some(ch) = self.channels.get_mut(&id) else {
                        continue;
                    };
                    match ch.state {
                        ChannelState::Closing { outgoing_done, .. } => {
                            ch.state = ChannelState::Closing {
                                outgoing_done,
                                incoming_done: true,
                            };
                        }
                        _ => {
                            // The peer closed: reset our side too (RFC 8831 section 6.7).
                            ch.state = ChannelState::Closing {
                                outgoing_done: false,
                                incoming_done: true,
                            };
                            let _ = self.assoc.reset_streams(&[id]);
                        }
                    }
                    self.finish_close(id);
                }
            }
            Event::OutgoingStreamsReset(streams) => {
                for id in streams {
                    if let Some(ch) = self.channels.get_mut(&id)
                        && let ChannelState::Closing { incoming_done, .. } = ch.state
                    {
                        ch.state = ChannelState::Closing {
                            outgoing_done: true,
                            incoming_done,
                        };
                    }
                    self.finish_close(id);
                }
            }
            Event::Closed(r) => {
                let mut ids: Vec<u16> = self.channels.keys().copied().collect();
                ids.sort_unstable();
                self.channels.clear();
                for id in ids {
                    self.events
                        .push_back(DataChannelEvent::ChannelClosed { id });
                }
                self.events.push_back(DataChannelEvent::Closed(r));
            }
        }
    }

    fn finish_close(&mut self, id: u16) {
        if let Some(ch) = self.channels.get(&id)
            && ch.state
                == (ChannelState::Closing {
                    outgoing_done: true,
                    incoming_done: true,
                })
        {
            self.channels.remove(&id);
            self.events
                .push_back(DataChannelEvent::ChannelClosed { id });
        }
    }

    fn on_message(&mut self, m: Message) {
        let id = m.stream;
        let len = m.data.len();
        let (text, data) = match m.ppid {
            ppid::DCEP => {
                self.assoc.release_received(len);
                self.on_dcep(id, &m.data);
                return;
            }
            ppid::STRING | 54 => (true, m.data),
            ppid::BINARY | 52 => (false, m.data),
            ppid::STRING_EMPTY => (true, Bytes::new()),
            ppid::BINARY_EMPTY => (false, Bytes::new()),
            _ => {
                self.assoc.release_received(len);
                return;
            }
        };
        // What the event carries stays held until `poll_event` hands it out; the rest (the
        // one byte of an empty message, a message for no channel) is released now.
        let Some(ch) = self.channels.get_mut(&id) else {
            self.assoc.release_received(len);
            return;
        };
        // Any message on an opening channel implies the peer got our OPEN (RFC 8832
        // section 6).
        if ch.state == ChannelState::Opening {
            ch.state = ChannelState::Open;
        }
        self.assoc.release_received(len - data.len());
        self.events
            .push_back(DataChannelEvent::Message { id, text, data });
    }

    fn on_dcep(&mut self, id: u16, data: &[u8]) {
        let Ok(msg) = DcepMessage::parse(data) else {
            tracing::debug!(stream = id, "malformed DCEP message dropped");
            return;
        };
        match msg {
            DcepMessage::Ack => {
                if let Some(ch) = self.channels.get_mut(&id)
                    && ch.state == ChannelState::Opening
                {
                    ch.state = ChannelState::Open;
                }
            }
            DcepMessage::Open {
                priority,
                label,
                protocol,
                ..
            } => {
                if self.channels.contains_key(&id) {
                    tracing::debug!(stream = id, "DATA_CHANNEL_OPEN on a stream in use");
                    return;
                }
                let Some((ordered, reliability)) = dcep_options(&msg) else {
                    return;
                };
                let info = ChannelInfo {
                    id,
                    label: String::from_utf8_lossy(label).into_owned(),
                    protocol: String::from_utf8_lossy(protocol).into_owned(),
                    ordered,
                    reliability,
                    priority,
                    negotiated: false,
                };
                let mut ack = BytesMut::with_capacity(1);
                DcepMessage::Ack.emit(&mut ack);
                if self
                    .assoc
                    .send_control(self.last_now, id, ppid::DCEP, ack.freeze())
                    .is_err()
                {
                    return;
                }
                self.assoc.set_stream_priority(id, priority);
                self.channels.insert(
                    id,
                    Channel {
                        info,
                        state: ChannelState::Open,
                    },
                );
                self.events
                    .push_back(DataChannelEvent::ChannelOpen { id, remote: true });
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn open_wire_bytes() {
        // RFC 8832 section 5.1 layout.
        let mut b = BytesMut::new();
        DcepMessage::Open {
            channel_type: channel_type::REXMIT_UNORDERED,
            priority: 256,
            reliability: 3,
            label: b"chat",
            protocol: b"x",
        }
        .emit(&mut b);
        assert_eq!(
            &b[..],
            &[
                3, 0x81, 1, 0, 0, 0, 0, 3, 0, 4, 0, 1, b'c', b'h', b'a', b't', b'x'
            ]
        );
        assert_eq!(DcepMessage::parse(&[2]).unwrap(), DcepMessage::Ack);
        assert!(DcepMessage::parse(&[2, 0]).is_err());
        assert!(DcepMessage::parse(&b[..b.len() - 1]).is_err());
        assert!(DcepMessage::parse(&[]).is_err());
        assert!(DcepMessage::parse(&[9]).is_err());
    }

    #[test]
    fn channel_types_map_to_reliability() {
        let open = |ct, r| DcepMessage::Open {
            channel_type: ct,
            priority: 0,
            reliability: r,
            label: b"",
            protocol: b"",
        };
        assert_eq!(
            dcep_options(&open(channel_type::RELIABLE, 0)),
            Some((true, Reliability::Reliable))
        );
        assert_eq!(
            dcep_options(&open(channel_type::REXMIT_UNORDERED, 5)),
            Some((false, Reliability::MaxRetransmits(5)))
        );
        assert_eq!(
            dcep_options(&open(channel_type::TIMED, 150)),
            Some((true, Reliability::MaxLifetime(Duration::from_millis(150))))
        );
        assert_eq!(dcep_options(&open(0x7f, 0)), None);
    }

    proptest! {
        #[test]
        fn prop_open_round_trip(ct: u8, priority: u16, reliability: u32,
                                label in proptest::collection::vec(any::<u8>(), 0..40),
                                protocol in proptest::collection::vec(any::<u8>(), 0..40)) {
            let m = DcepMessage::Open { channel_type: ct, priority, reliability, label: &label, protocol: &protocol };
            let mut b = BytesMut::new();
            m.emit(&mut b);
            prop_assert_eq!(DcepMessage::parse(&b).unwrap(), m);
        }

        #[test]
        fn prop_parse_never_panics(b in proptest::collection::vec(any::<u8>(), 0..64)) {
            if let Ok(m) = DcepMessage::parse(&b) {
                let mut out = BytesMut::new();
                m.emit(&mut out);
                prop_assert_eq!(&out[..], &b[..]);
            }
        }
    }
}
