//! Data channels through `ferrtc-netsim`, the project's seeded virtual-time network (issue 7).
//!
//! Each side is a [`DataChannels`] endpoint wrapped in a netsim [`Machine`]; every SCTP packet
//! travels as one UDP datagram between two simulated addresses. DTLS is elided here: in a real
//! peer connection each SCTP packet is one DTLS application-data record, which neither adds
//! nor removes packets, so the link sees the same datagram pattern (minus the record overhead).
//!
//! Payloads are self-describing: a 12-byte header (channel id, message index, length) followed
//! by a slice of a fixed pseudo-random pattern chosen by the index. The receiving endpoint
//! checks every byte of every message against what the sender made, and the tests then check
//! which messages arrived, how often and in which order, and that the link really lost,
//! duplicated and reordered datagrams.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use bytes::Bytes;
use ferrtc_netsim::{Bandwidth, Datagram, Handle, LinkConfig, LinkId, LinkStats, Machine, Sim};
use ferrtc_sctp_datachannel::wire::{Packet, chunk_type};
use ferrtc_sctp_datachannel::{
    ChannelOptions, CloseReason, Config, DataChannelEvent, DataChannels, DtlsRole, Error,
};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

// ------------------------------------------------------------------------------- payloads

/// Bytes of the self-describing header at the start of every message.
const HEADER: usize = 12;
/// Largest message the tests make (the default `max_message_size`).
const MAX_MESSAGE: usize = 256 * 1024;
/// Spread of the pattern offsets.
const OFFSETS: usize = 4096;

fn pattern() -> &'static [u8] {
    static PATTERN: OnceLock<Vec<u8>> = OnceLock::new();
    PATTERN.get_or_init(|| {
        // xorshift64*: any fixed non-repeating sequence will do.
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        (0..MAX_MESSAGE + OFFSETS)
            .map(|_| {
                x ^= x >> 12;
                x ^= x << 25;
                x ^= x >> 27;
                (x.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 56) as u8
            })
            .collect()
    })
}

fn offset(id: u16, index: u32) -> usize {
    (index as usize)
        .wrapping_mul(2_654_435_761)
        .wrapping_add(usize::from(id) * 7919)
        % OFFSETS
}

/// Message `index` of channel `id`, `len` bytes long (at least [`HEADER`]).
fn payload(id: u16, index: u32, len: usize) -> Bytes {
    assert!((HEADER..=MAX_MESSAGE).contains(&len));
    let mut v = Vec::with_capacity(len);
    v.extend_from_slice(&id.to_be_bytes());
    v.extend_from_slice(&[0xa5, 0x5a]);
    v.extend_from_slice(&index.to_be_bytes());
    v.extend_from_slice(&(len as u32).to_be_bytes());
    let off = offset(id, index);
    v.extend_from_slice(&pattern()[off..off + len - HEADER]);
    Bytes::from(v)
}

/// The index of a message that arrived on channel `id`, if every byte of it is what
/// [`payload`] made for that channel and index.
fn verify(id: u16, data: &[u8]) -> Option<u32> {
    if data.len() < HEADER || data.len() > MAX_MESSAGE {
        return None;
    }
    let index = u32::from_be_bytes([data[4], data[5], data[6], data[7]]);
    let len = u32::from_be_bytes([data[8], data[9], data[10], data[11]]) as usize;
    let off = offset(id, index);
    let ok = data[..2] == id.to_be_bytes()
        && data[2..4] == [0xa5, 0x5a]
        && len == data.len()
        && data[HEADER..] == pattern()[off..off + len - HEADER];
    ok.then_some(index)
}

// ------------------------------------------------------------------------------- endpoints

/// What a test sees of a [`DataChannelEvent`]: messages are verified and summarised as they
/// arrive, so a 100 MB run keeps only their indices.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Seen {
    Connected,
    Open { id: u16, remote: bool },
    Msg { id: u16, index: u32, len: usize },
    Corrupt { id: u16, len: usize },
    Low { id: u16 },
    ChannelClosed { id: u16 },
    Closed(CloseReason),
    Other,
}

/// An application that sends `count` messages on channel `id`, sizes given by `size`, as
/// fast as the send buffer takes them.
struct Bulk {
    id: u16,
    count: u32,
    size: fn(u32) -> usize,
    next: u32,
    /// When each message was handed to `send`.
    sent_at: Vec<Instant>,
}

/// Transmissions of the DATA chunks of one stream, by TSN: (count, first, last).
type Tap = HashMap<u32, (u32, Instant, Instant)>;

/// One side: the data-channel endpoint and a small application around it.
struct Peer {
    dc: DataChannels,
    local: SocketAddr,
    remote: SocketAddr,
    /// Whether the application reads events (a peer that stops reading leaves them queued).
    reading: bool,
    senders: Vec<Bulk>,
    /// Keep calling `send` even when the buffer looks full, to see it refuse.
    probe_full: bool,
    /// `send` calls refused with `SendBufferFull`.
    refused: u64,
    /// Most send-side payload bytes ever held (`buffered_total`).
    max_send_held: usize,
    /// Most receive-side bytes ever held (`receive_buffered`).
    max_recv_held: usize,
    /// DATA chunks sent on these streams, counted on the wire.
    taps: HashMap<u16, Tap>,
}

impl Peer {
    fn pump(&mut self, now: Instant) {
        let limit = self.dc.association().config().send_buffer;
        loop {
            let mut progress = false;
            for s in self.senders.iter_mut().filter(|s| s.next < s.count) {
                let len = (s.size)(s.next);
                if !self.probe_full && self.dc.association().buffered_total() + len > limit {
                    continue;
                }
                match self.dc.send(now, s.id, payload(s.id, s.next, len), false) {
                    Ok(()) => {
                        s.sent_at.push(now);
                        s.next += 1;
                        progress = true;
                    }
                    Err(Error::SendBufferFull) => self.refused += 1,
                    Err(e) => panic!("send on channel {}: {e}", s.id),
                }
            }
            if !progress {
                break;
            }
        }
        self.max_send_held = self
            .max_send_held
            .max(self.dc.association().buffered_total());
    }

    fn tap(&mut self, now: Instant, packet: &[u8]) {
        if self.taps.is_empty() {
            return;
        }
        let p = Packet::new_checked(packet).expect("we send well-formed packets");
        for chunk in p.chunks() {
            let chunk = chunk.expect("we send well-formed chunks");
            if chunk.kind != chunk_type::DATA || chunk.value.len() < 6 {
                continue;
            }
            let v = chunk.value;
            let tsn = u32::from_be_bytes([v[0], v[1], v[2], v[3]]);
            let stream = u16::from_be_bytes([v[4], v[5]]);
            if let Some(tap) = self.taps.get_mut(&stream) {
                let e = tap.entry(tsn).or_insert((0, now, now));
                e.0 += 1;
                e.2 = now;
            }
        }
    }

    fn next_seen(&mut self) -> Option<Seen> {
        if !self.reading {
            return None;
        }
        Some(match self.dc.poll_event()? {
            DataChannelEvent::Connected => Seen::Connected,
            DataChannelEvent::ChannelOpen { id, remote } => Seen::Open { id, remote },
            DataChannelEvent::Message { id, data, .. } => match verify(id, &data) {
                Some(index) => Seen::Msg {
                    id,
                    index,
                    len: data.len(),
                },
                None => Seen::Corrupt {
                    id,
                    len: data.len(),
                },
            },
            DataChannelEvent::BufferedAmountLow { id } => Seen::Low { id },
            DataChannelEvent::ChannelClosed { id } => Seen::ChannelClosed { id },
            DataChannelEvent::Closed(r) => Seen::Closed(r),
            _ => Seen::Other,
        })
    }
}

type Node = Machine<Peer, Seen, Error>;

fn node(dc: DataChannels, local: SocketAddr, remote: SocketAddr) -> Node {
    let peer = Peer {
        dc,
        local,
        remote,
        reading: true,
        senders: Vec::new(),
        probe_full: false,
        refused: 0,
        max_send_held: 0,
        max_recv_held: 0,
        taps: HashMap::new(),
    };
    Machine::new(peer)
        .on_receive(|p: &mut Peer, now, _from, _to, data: &[u8]| {
            let r = p.dc.handle_receive(now, Bytes::copy_from_slice(data));
            p.max_recv_held = p.max_recv_held.max(p.dc.association().receive_buffered());
            r
        })
        .on_timeout(|p, now| p.dc.handle_timeout(now))
        .on_poll_timeout(|p| p.dc.poll_timeout())
        .on_event(|p| p.next_seen())
        .on_transmit(|p, now| {
            p.pump(now);
            let packet = p.dc.poll_transmit(now)?;
            p.tap(now, &packet);
            Some(Datagram::new(p.local, p.remote, packet.to_vec()))
        })
}

/// Indices of the intact messages `h` received on channel `id`, in arrival order.
fn received(sim: &Sim, h: Handle<Node>, id: u16) -> Vec<u32> {
    sim.endpoint(h)
        .events
        .iter()
        .filter_map(|(_, e)| match *e {
            Seen::Msg { id: i, index, .. } if i == id => Some(index),
            _ => None,
        })
        .collect()
}

/// Whether `h` saw this event.
fn saw(sim: &Sim, h: Handle<Node>, ev: &Seen) -> bool {
    sim.endpoint(h).events.iter().any(|(_, e)| e == ev)
}

/// Two connected data-channel endpoints over a pair of links with the same impairments:
/// `a` is the DTLS client, `b` the server.
struct Net {
    sim: Sim,
    a: Handle<Node>,
    b: Handle<Node>,
    ab: LinkId,
    ba: LinkId,
}

impl Net {
    fn new(seed: u64, link: LinkConfig, cfg: Config) -> Self {
        let mut sim = Sim::new(seed);
        let (pa, pb): (SocketAddr, SocketAddr) = (
            "10.0.0.1:5000".parse().expect("literal"),
            "10.0.0.2:5000".parse().expect("literal"),
        );
        let (ab, ba) = sim.add_link_pair(pa.ip(), pb.ip(), link);
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let now = sim.now();
        let mut da = DataChannels::new(cfg.clone(), DtlsRole::Client, &mut rng, now);
        let mut db = DataChannels::new(cfg, DtlsRole::Server, &mut rng, now);
        // Both connect, as browsers do.
        da.connect(now);
        db.connect(now);
        let a = sim.add_endpoint([pa], node(da, pa, pb));
        let b = sim.add_endpoint([pb], node(db, pb, pa));
        let mut net = Net { sim, a, b, ab, ba };
        net.run(Duration::from_secs(60), move |sim| {
            saw(sim, a, &Seen::Connected) && saw(sim, b, &Seen::Connected)
        });
        net
    }

    fn peer_mut(&mut self, h: Handle<Node>) -> &mut Peer {
        &mut self.sim.endpoint_mut(h).inner
    }

    /// Runs until `done` holds; fails the test if it does not within `limit` of virtual time.
    fn run(&mut self, limit: Duration, done: impl FnMut(&Sim) -> bool) {
        if let Err(e) = self.sim.run_until_cond(limit, done) {
            panic!(
                "condition not reached: {e:?}; a: {:?}; b: {:?}",
                self.sim.endpoint(self.a).events.last(),
                self.sim.endpoint(self.b).events.last()
            );
        }
    }

    fn open(&mut self, h: Handle<Node>, opts: ChannelOptions) -> u16 {
        let now = self.sim.now();
        self.peer_mut(h)
            .dc
            .open_channel(now, opts)
            .expect("open channel")
    }

    /// Makes `h` send `count` messages on `id`, as fast as its send buffer allows.
    fn send_bulk(&mut self, h: Handle<Node>, id: u16, count: u32, size: fn(u32) -> usize) {
        self.peer_mut(h).senders.push(Bulk {
            id,
            count,
            size,
            next: 0,
            sent_at: Vec::new(),
        });
    }

    fn stats(&self) -> (LinkStats, LinkStats) {
        (self.sim.link_stats(self.ab), self.sim.link_stats(self.ba))
    }

    /// No datagram was refused and no message arrived damaged.
    fn assert_clean(&self) {
        for h in [self.a, self.b] {
            let ep = self.sim.endpoint(h);
            assert!(
                ep.errors.is_empty(),
                "packets refused: {:?}",
                &ep.errors[..ep.errors.len().min(5)]
            );
            let bad: Vec<_> = ep
                .events
                .iter()
                .filter(|(_, e)| matches!(e, Seen::Corrupt { .. } | Seen::Closed(_)))
                .collect();
            assert!(bad.is_empty(), "{bad:?}");
        }
    }
}

// ------------------------------------------------------------------------------- 100 MB

/// 64 KiB messages.
const BULK_MESSAGE: usize = 64 * 1024;
/// 100 MiB in 64 KiB messages.
const BULK_COUNT: u32 = 1600;

/// The link of the matrix: `rtt` round trip, `loss` each way, 1 % duplicated, 2 % held back
/// by a tenth of the RTT (at least 1 ms) so that later datagrams overtake them, a little
/// jitter, and a 100 Mbit/s bottleneck with a queue large enough for the receive window.
fn matrix_link(loss: f64, rtt: Duration) -> LinkConfig {
    LinkConfig::ideal()
        .latency(rtt / 2)
        .jitter(rtt / 20)
        .loss(loss)
        .duplicate(0.01)
        .reorder(0.02, (rtt / 10).max(Duration::from_millis(1)))
        .bandwidth(Bandwidth::new(100_000_000, 4 * 1024 * 1024))
}

/// 100 MiB over one reliable ordered channel: every byte arrives, in order, once.
fn hundred_megabytes(loss: f64, rtt: Duration, seed: u64) {
    let wall = Instant::now();
    let mut net = Net::new(seed, matrix_link(loss, rtt), Config::default());
    let id = net.open(net.a, ChannelOptions::new("bulk"));
    let start = net.sim.now();
    net.send_bulk(net.a, id, BULK_COUNT, |_| BULK_MESSAGE);
    let b = net.b;
    // Virtual time: generous, a 20 % loss path at 200 ms moves slowly.
    net.run(Duration::from_secs(48 * 3600), move |sim| {
        received(sim, b, id).len() == BULK_COUNT as usize
    });
    let took = net.sim.now() - start;

    net.assert_clean();
    let got = received(&net.sim, b, id);
    let expected: Vec<u32> = (0..BULK_COUNT).collect();
    assert!(
        got == expected,
        "messages missing, repeated or out of order"
    );
    let bytes: usize = net
        .sim
        .endpoint(b)
        .events
        .iter()
        .map(|(_, e)| match e {
            Seen::Msg { len, .. } => *len,
            _ => 0,
        })
        .sum();
    assert_eq!(bytes, BULK_COUNT as usize * BULK_MESSAGE);

    let (ab, ba) = net.stats();
    if loss > 0.0 {
        assert!(ab.dropped_loss > 0 && ba.dropped_loss > 0, "{ab:?} {ba:?}");
    } else {
        assert_eq!(ab.dropped_loss + ba.dropped_loss, 0);
    }
    assert!(
        ab.duplicated > 0 && ab.reordered > 0 && ab.out_of_order > 0,
        "{ab:?}"
    );
    assert!(ba.duplicated > 0 && ba.reordered > 0, "{ba:?}");
    assert_eq!(ab.dropped_queue + ba.dropped_queue, 0);
    let a = net.sim.endpoint(net.a);
    let cfg = a.inner.dc.association().config();
    assert!(a.inner.max_send_held <= cfg.send_buffer);
    assert!(net.sim.endpoint(b).inner.max_recv_held <= cfg.receive_buffer + cfg.max_message_size);

    let stats = a.inner.dc.association().stats();
    println!(
        "100 MiB, loss {:>2}%, rtt {:>3} ms: {:>9.3} s virtual, goodput {:>7.2} Mbit/s \
         ({:.1} % of the 100 Mbit/s link); a->b {} datagrams, {} lost, {} duplicated, {} \
         reordered; {} retransmissions ({} fast, {} T3); {:.1} s wall",
        (loss * 100.0).round(),
        rtt.as_millis(),
        took.as_secs_f64(),
        bytes as f64 * 8.0 / took.as_secs_f64() / 1e6,
        bytes as f64 * 8.0 / took.as_secs_f64() / 1e6,
        ab.sent,
        ab.dropped_loss,
        ab.duplicated,
        ab.reordered,
        stats.retransmissions,
        stats.fast_retransmits,
        stats.t3_expirations,
        wall.elapsed().as_secs_f64(),
    );
}

const RTT_1MS: Duration = Duration::from_millis(1);
const RTT_200MS: Duration = Duration::from_millis(200);

#[test]
fn hundred_mb_no_loss_1ms() {
    hundred_megabytes(0.0, RTT_1MS, 100);
}

#[test]
fn hundred_mb_no_loss_200ms() {
    hundred_megabytes(0.0, RTT_200MS, 101);
}

#[test]
fn hundred_mb_1pct_loss_1ms() {
    hundred_megabytes(0.01, RTT_1MS, 102);
}

#[test]
fn hundred_mb_1pct_loss_200ms() {
    hundred_megabytes(0.01, RTT_200MS, 103);
}

#[test]
fn hundred_mb_5pct_loss_1ms() {
    hundred_megabytes(0.05, RTT_1MS, 104);
}

#[test]
fn hundred_mb_5pct_loss_200ms() {
    hundred_megabytes(0.05, RTT_200MS, 105);
}

#[test]
fn hundred_mb_20pct_loss_1ms() {
    hundred_megabytes(0.20, RTT_1MS, 106);
}

#[test]
fn hundred_mb_20pct_loss_200ms() {
    hundred_megabytes(0.20, RTT_200MS, 107);
}
