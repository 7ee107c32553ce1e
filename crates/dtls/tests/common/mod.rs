//! A two-endpoint harness: both endpoints in one test, a seeded lossy link, virtual time.
#![allow(dead_code)]

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use ferrtc_dtls::{
    Certificate, Config, DtlsRole, Endpoint, Error, Event, HashAlgorithm, ReceiveError,
};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha20Rng;

pub fn rng(seed: u64) -> Box<ChaCha20Rng> {
    Box::new(ChaCha20Rng::seed_from_u64(seed))
}

/// The client's address.
pub const CLIENT: SocketAddr = SocketAddr::new(
    std::net::IpAddr::V4(std::net::Ipv4Addr::new(192, 0, 2, 1)),
    5000,
);
/// The server's address.
pub const SERVER: SocketAddr = SocketAddr::new(
    std::net::IpAddr::V4(std::net::Ipv4Addr::new(192, 0, 2, 2)),
    5000,
);

/// Two configs, client and server, whose fingerprints point at each other.
pub fn configs() -> (Config, Config) {
    let a = Arc::new(Certificate::generate().unwrap());
    let b = Arc::new(Certificate::generate().unwrap());
    (
        Config::new(
            DtlsRole::Client,
            a.clone(),
            vec![b.fingerprint(HashAlgorithm::Sha256)],
        ),
        Config::new(
            DtlsRole::Server,
            b,
            vec![a.fingerprint(HashAlgorithm::Sha256)],
        ),
    )
}

/// A client built from `config` and connected towards [`SERVER`] at `now`.
pub fn client(config: Config, seed: u64, now: Instant) -> Endpoint {
    let mut ep = Endpoint::new(Arc::new(config), now, rng(seed)).unwrap();
    ep.connect(now, SERVER).unwrap();
    ep
}

/// A server built from `config`.
pub fn server(config: Config, seed: u64, now: Instant) -> Endpoint {
    Endpoint::new(Arc::new(config), now, rng(seed)).unwrap()
}

/// Feeds a datagram (copied into a scratch buffer, as a driver's receive buffer) to `ep`;
/// application data decrypted in place comes back as copies.
pub fn receive(
    ep: &mut Endpoint,
    now: Instant,
    from: SocketAddr,
    datagram: &[u8],
) -> Result<Vec<bytes::Bytes>, ReceiveError> {
    let mut buf = datagram.to_vec();
    let ranges = ep.handle_receive(now, from, &mut buf)?;
    Ok(ranges
        .iter()
        .map(|r| bytes::Bytes::copy_from_slice(&buf[r]))
        .collect())
}

/// The transmits `ep` has queued, as datagrams; each is addressed to `to`.
pub fn transmits(ep: &mut Endpoint, to: SocketAddr) -> Vec<Vec<u8>> {
    std::iter::from_fn(|| ep.poll_transmit())
        .map(|t| {
            assert_eq!(t.destination, to, "transmit addressed to the peer");
            assert_eq!(t.source, None);
            t.contents.to_vec()
        })
        .collect()
}

/// What the link does to datagrams.
#[derive(Debug, Clone, Copy, Default)]
pub struct Link {
    pub loss: f64,
    pub duplicate: f64,
    pub reorder: f64,
}

pub struct Pair {
    pub client: Endpoint,
    pub server: Endpoint,
    pub now: Instant,
    pub start: Instant,
    pub link: Link,
    pub rng: ChaCha20Rng,
    /// In flight: (arrival time, to_server, datagram).
    queue: VecDeque<(Instant, bool, Vec<u8>)>,
    pub client_events: Vec<Event>,
    pub server_events: Vec<Event>,
    /// The errors the endpoints failed with (`Event::Failed`).
    pub client_errors: Vec<Error>,
    pub server_errors: Vec<Error>,
    /// Datagrams each endpoint dropped, with the reason.
    pub client_drops: Vec<ReceiveError>,
    pub server_drops: Vec<ReceiveError>,
    pub max_datagram: usize,
    pub datagrams: usize,
}

const LATENCY: Duration = Duration::from_millis(10);

impl Pair {
    pub fn new(client: Config, server: Config, seed: u64) -> Self {
        let start = Instant::now();
        Pair {
            client: self::client(client, seed, start),
            server: self::server(server, seed + 1, start),
            now: start,
            start,
            link: Link::default(),
            rng: ChaCha20Rng::seed_from_u64(seed + 2),
            queue: VecDeque::new(),
            client_events: Vec::new(),
            server_events: Vec::new(),
            client_errors: Vec::new(),
            server_errors: Vec::new(),
            client_drops: Vec::new(),
            server_drops: Vec::new(),
            max_datagram: 0,
            datagrams: 0,
        }
    }

    /// Moves transmits onto the link and events into the logs (a failure also into the
    /// errors).
    pub fn drain(&mut self) {
        for d in transmits(&mut self.client, SERVER) {
            self.send(true, d);
        }
        for d in transmits(&mut self.server, CLIENT) {
            self.send(false, d);
        }
        while let Some(e) = self.client.poll_event() {
            if let Event::Failed(err) = &e {
                self.client_errors.push(err.clone());
            }
            self.client_events.push(e);
        }
        while let Some(e) = self.server.poll_event() {
            if let Event::Failed(err) = &e {
                self.server_errors.push(err.clone());
            }
            self.server_events.push(e);
        }
    }

    fn send(&mut self, to_server: bool, d: Vec<u8>) {
        self.max_datagram = self.max_datagram.max(d.len());
        self.datagrams += 1;
        if self.rng.random_bool(self.link.loss) {
            return;
        }
        let copies = if self.rng.random_bool(self.link.duplicate) {
            2
        } else {
            1
        };
        for _ in 0..copies {
            let extra = if self.rng.random_bool(self.link.reorder) {
                Duration::from_millis(self.rng.random_range(1..40))
            } else {
                Duration::ZERO
            };
            let at = self.now + LATENCY + extra;
            let pos = self
                .queue
                .iter()
                .position(|(t, _, _)| *t > at)
                .unwrap_or(self.queue.len());
            self.queue.insert(pos, (at, to_server, d.clone()));
        }
    }

    /// Delivers the next datagram or fires the next timer, whichever is first. Returns
    /// false when nothing is left to do.
    pub fn step(&mut self) -> bool {
        self.drain();
        let next_timer = [self.client.poll_timeout(), self.server.poll_timeout()]
            .into_iter()
            .flatten()
            .min();
        let next_packet = self.queue.front().map(|(t, _, _)| *t);
        match (next_packet, next_timer) {
            (Some(p), t) if t.is_none_or(|t| p <= t) => {
                let _ = p;
                let (at, to_server, d) = self.queue.pop_front().unwrap();
                self.now = self.now.max(at);
                let (ep, from, drops, events) = if to_server {
                    (
                        &mut self.server,
                        CLIENT,
                        &mut self.server_drops,
                        &mut self.server_events,
                    )
                } else {
                    (
                        &mut self.client,
                        SERVER,
                        &mut self.client_drops,
                        &mut self.client_events,
                    )
                };
                // Data decrypted in place is logged as the event it would otherwise be.
                match receive(ep, self.now, from, &d) {
                    Ok(data) => events.extend(data.into_iter().map(Event::ApplicationData)),
                    Err(e) => drops.push(e),
                }
            }
            (_, Some(t)) => {
                // Timer first.
                self.now = self.now.max(t);
                self.client.handle_timeout(self.now);
                self.server.handle_timeout(self.now);
            }
            _ => return false,
        }
        self.drain();
        true
    }

    /// Drops every datagram in flight towards the server (`to_server`) or the client.
    pub fn drop_in_flight(&mut self, to_server: bool) {
        self.queue.retain(|(_, ts, _)| *ts != to_server);
    }

    pub fn both_connected(&self) -> bool {
        self.client.is_connected() && self.server.is_connected()
    }

    /// Steps until both sides are connected (or nothing happens any more).
    pub fn handshake(&mut self) -> bool {
        for _ in 0..10_000 {
            if self.both_connected() {
                self.drain();
                return true;
            }
            if !self.step() {
                break;
            }
        }
        self.both_connected()
    }

    /// Runs until the link is empty (timers are not fired).
    pub fn settle(&mut self) {
        self.drain();
        while !self.queue.is_empty() {
            self.step();
        }
    }
}
