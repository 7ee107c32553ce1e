//! A two-association harness with virtual time and a seeded lossy link (loss, duplication,
//! reordering by random extra delay). Small on purpose: the scenario suites move to
//! `ferrtc-netsim` later.
#![allow(dead_code)]

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::{Duration, Instant};

use bytes::Bytes;
use ferrtc_sctp_datachannel::{
    Association, Config, DataChannelEvent, DataChannels, DtlsRole, Event, Transmit,
};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// The address of `a` as the harness names it (SCTP over DTLS only carries it along).
pub const ADDR_A: SocketAddr = SocketAddr::new(IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1)), 5000);
/// The address of `b`.
pub const ADDR_B: SocketAddr = SocketAddr::new(IpAddr::V4(Ipv4Addr::new(192, 0, 2, 2)), 5000);

/// One direction of the link.
#[derive(Debug, Clone, Copy)]
pub struct LinkParams {
    /// One-way delay.
    pub delay: Duration,
    /// Probability a packet is lost.
    pub loss: f64,
    /// Probability a packet is delivered twice.
    pub duplicate: f64,
    /// Up to this much extra random delay per packet (reorders packets).
    pub jitter: Duration,
}

impl LinkParams {
    pub fn ideal(delay: Duration) -> Self {
        Self {
            delay,
            loss: 0.0,
            duplicate: 0.0,
            jitter: Duration::ZERO,
        }
    }

    pub fn lossy(delay: Duration, loss: f64) -> Self {
        Self {
            delay,
            loss,
            duplicate: loss / 4.0,
            jitter: delay / 4,
        }
    }
}

struct Link {
    params: LinkParams,
    queue: BinaryHeap<Reverse<(Instant, u64, Bytes)>>,
    seq: u64,
}

impl Link {
    fn push(&mut self, rng: &mut ChaCha8Rng, now: Instant, p: Bytes) {
        if rng.random_bool(self.params.loss) {
            return;
        }
        let copies = if rng.random_bool(self.params.duplicate) {
            2
        } else {
            1
        };
        for _ in 0..copies {
            let jitter = if self.params.jitter.is_zero() {
                Duration::ZERO
            } else {
                self.params.jitter.mul_f64(rng.random::<f64>())
            };
            self.seq += 1;
            self.queue.push(Reverse((
                now + self.params.delay + jitter,
                self.seq,
                p.clone(),
            )));
        }
    }

    fn next_at(&self) -> Option<Instant> {
        self.queue.peek().map(|Reverse((t, _, _))| *t)
    }

    fn pop_due(&mut self, now: Instant) -> Option<Bytes> {
        if self.next_at()? <= now {
            self.queue.pop().map(|Reverse((_, _, p))| p)
        } else {
            None
        }
    }
}

/// What the harness needs from an endpoint.
pub trait Endpoint {
    type Ev: PartialEq + std::fmt::Debug;
    fn handle_receive(&mut self, now: Instant, from: SocketAddr, p: Bytes);
    fn handle_timeout(&mut self, now: Instant);
    fn poll_transmit(&mut self, now: Instant) -> Option<Transmit>;
    fn poll_event(&mut self) -> Option<Self::Ev>;
    fn poll_timeout(&self) -> Option<Instant>;
    fn is_established(&self) -> bool;
}

impl Endpoint for Association {
    type Ev = Event;
    fn handle_receive(&mut self, now: Instant, from: SocketAddr, p: Bytes) {
        let _ = Association::handle_receive(self, now, from, p);
    }
    fn handle_timeout(&mut self, now: Instant) {
        Association::handle_timeout(self, now)
    }
    fn poll_transmit(&mut self, now: Instant) -> Option<Transmit> {
        Association::poll_transmit(self, now)
    }
    fn poll_event(&mut self) -> Option<Event> {
        Association::poll_event(self)
    }
    fn poll_timeout(&self) -> Option<Instant> {
        Association::poll_timeout(self)
    }
    fn is_established(&self) -> bool {
        Association::is_established(self)
    }
}

impl Endpoint for DataChannels {
    type Ev = DataChannelEvent;
    fn handle_receive(&mut self, now: Instant, from: SocketAddr, p: Bytes) {
        let _ = DataChannels::handle_receive(self, now, from, p);
    }
    fn handle_timeout(&mut self, now: Instant) {
        DataChannels::handle_timeout(self, now)
    }
    fn poll_transmit(&mut self, now: Instant) -> Option<Transmit> {
        DataChannels::poll_transmit(self, now)
    }
    fn poll_event(&mut self) -> Option<DataChannelEvent> {
        DataChannels::poll_event(self)
    }
    fn poll_timeout(&self) -> Option<Instant> {
        DataChannels::poll_timeout(self)
    }
    fn is_established(&self) -> bool {
        self.association().is_established()
    }
}

/// Two endpoints joined by two links.
pub struct Pair<E: Endpoint = Association> {
    pub a: E,
    pub b: E,
    pub now: Instant,
    pub start: Instant,
    ab: Link,
    ba: Link,
    rng: ChaCha8Rng,
    /// Events read from `a` and `b` (only while `*_reading`).
    pub a_events: Vec<E::Ev>,
    pub b_events: Vec<E::Ev>,
    pub a_reading: bool,
    pub b_reading: bool,
    /// Bytes sent over each direction.
    pub ab_bytes: u64,
    pub ba_bytes: u64,
    /// Wake the application at least this often (for paced senders).
    pub max_step: Option<Duration>,
}

impl Pair<Association> {
    pub fn new(cfg_a: Config, cfg_b: Config, ab: LinkParams, ba: LinkParams, seed: u64) -> Self {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let now = Instant::now();
        let a = Association::new(cfg_a, now, &mut rng);
        let b = Association::new(cfg_b, now, &mut rng);
        Self::with(a, b, now, ab, ba, rng)
    }

    /// A connected pair (a connects, b answers).
    pub fn connected(cfg: Config, link: LinkParams, seed: u64) -> Self {
        let mut p = Self::new(cfg.clone(), cfg, link, link, seed);
        p.a.connect(p.now, ADDR_B);
        p.wait_connected();
        p.a_events.retain(|e| *e != Event::Connected);
        p.b_events.retain(|e| *e != Event::Connected);
        p
    }
}

impl Pair<DataChannels> {
    /// Connected data-channel endpoints: a is the DTLS client, b the server; both connect
    /// (as browsers do).
    pub fn channels(cfg: Config, link: LinkParams, seed: u64) -> Self {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let now = Instant::now();
        let a = DataChannels::new(cfg.clone(), DtlsRole::Client, now, &mut rng);
        let b = DataChannels::new(cfg, DtlsRole::Server, now, &mut rng);
        let mut p = Self::with(a, b, now, link, link, rng);
        p.a.connect(now, ADDR_B);
        p.b.connect(now, ADDR_A);
        p.wait_connected();
        p.a_events.retain(|e| *e != DataChannelEvent::Connected);
        p.b_events.retain(|e| *e != DataChannelEvent::Connected);
        p
    }
}

impl<E: Endpoint> Pair<E> {
    fn with(a: E, b: E, now: Instant, ab: LinkParams, ba: LinkParams, rng: ChaCha8Rng) -> Self {
        Self {
            a,
            b,
            now,
            start: now,
            ab: Link {
                params: ab,
                queue: BinaryHeap::new(),
                seq: 0,
            },
            ba: Link {
                params: ba,
                queue: BinaryHeap::new(),
                seq: 0,
            },
            rng,
            a_events: Vec::new(),
            b_events: Vec::new(),
            a_reading: true,
            b_reading: true,
            ab_bytes: 0,
            ba_bytes: 0,
            max_step: None,
        }
    }

    pub fn wait_connected(&mut self) {
        self.run_until(Duration::from_secs(60), |p| {
            p.a.is_established() && p.b.is_established()
        });
        assert!(
            self.a.is_established() && self.b.is_established(),
            "handshake failed"
        );
    }

    /// The contract: transmits until `None`, then events until `None`.
    fn drain(&mut self) {
        let now = self.now;
        while let Some(t) = self.a.poll_transmit(now) {
            assert_eq!((t.source, t.destination), (None, ADDR_B));
            self.ab_bytes += t.contents.len() as u64;
            self.ab.push(&mut self.rng, now, t.contents);
        }
        while let Some(t) = self.b.poll_transmit(now) {
            assert_eq!((t.source, t.destination), (None, ADDR_A));
            self.ba_bytes += t.contents.len() as u64;
            self.ba.push(&mut self.rng, now, t.contents);
        }
        if self.a_reading {
            while let Some(e) = self.a.poll_event() {
                self.a_events.push(e);
            }
        }
        if self.b_reading {
            while let Some(e) = self.b.poll_event() {
                self.b_events.push(e);
            }
        }
    }

    /// Handles everything due at the current time.
    fn process(&mut self) {
        let now = self.now;
        self.a.handle_timeout(now);
        self.b.handle_timeout(now);
        self.drain();
        while let Some(p) = self.ab.pop_due(now) {
            self.b.handle_receive(now, ADDR_A, p);
            self.drain();
        }
        while let Some(p) = self.ba.pop_due(now) {
            self.a.handle_receive(now, ADDR_B, p);
            self.drain();
        }
    }

    /// Advances the clock to the next thing that happens and handles it. Returns false when
    /// nothing is left to happen.
    pub fn step(&mut self) -> bool {
        self.process();
        let now = self.now;
        let next = [
            self.ab.next_at(),
            self.ba.next_at(),
            self.a.poll_timeout(),
            self.b.poll_timeout(),
        ]
        .into_iter()
        .flatten()
        .min()
        .map(|t| match self.max_step {
            Some(m) => t.min(now + m),
            None => t,
        });
        match next {
            Some(t) => {
                self.now = self.now.max(t);
                self.process();
                true
            }
            None => false,
        }
    }

    /// Steps until `done` holds, nothing is left to happen, or `limit` of virtual time passed.
    /// `done` sees the state right after the events of one instant were handled.
    pub fn run_until(&mut self, limit: Duration, mut done: impl FnMut(&mut Self) -> bool) {
        let end = self.now + limit;
        while self.now < end {
            if done(self) {
                return;
            }
            if !self.step() {
                return;
            }
        }
    }

    pub fn elapsed(&self) -> Duration {
        self.now - self.start
    }
}

/// Deterministic content for message `i` of `len` bytes.
pub fn message(i: u32, len: usize) -> Bytes {
    let mut v = Vec::with_capacity(len);
    let seed = i.wrapping_mul(2_654_435_761);
    v.extend((0..len).map(|k| (seed.wrapping_add(k as u32 * 31) >> 3) as u8));
    if len >= 4 {
        v[..4].copy_from_slice(&i.to_be_bytes());
    }
    Bytes::from(v)
}

/// The index written at the start of a message made by [`message`].
pub fn index_of(data: &[u8]) -> u32 {
    u32::from_be_bytes([data[0], data[1], data[2], data[3]])
}
