//! A two-endpoint harness: both endpoints in one test, a seeded lossy link, virtual time.
#![allow(dead_code)]

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::{Duration, Instant};

use ferrtc_dtls::{Certificate, Config, Endpoint, Error, Event, HashAlgorithm};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha20Rng;

pub fn rng(seed: u64) -> Box<ChaCha20Rng> {
    Box::new(ChaCha20Rng::seed_from_u64(seed))
}

/// Two configs whose fingerprints point at each other.
pub fn configs() -> (Config, Config) {
    let a = Arc::new(Certificate::generate().unwrap());
    let b = Arc::new(Certificate::generate().unwrap());
    (
        Config::new(a.clone(), vec![b.fingerprint(HashAlgorithm::Sha256)]),
        Config::new(b, vec![a.fingerprint(HashAlgorithm::Sha256)]),
    )
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
    pub client_errors: Vec<Error>,
    pub server_errors: Vec<Error>,
    pub max_datagram: usize,
    pub datagrams: usize,
}

const LATENCY: Duration = Duration::from_millis(10);

impl Pair {
    pub fn new(client: Config, server: Config, seed: u64) -> Self {
        let start = Instant::now();
        Pair {
            client: Endpoint::client(Arc::new(client), rng(seed), start).unwrap(),
            server: Endpoint::server(Arc::new(server), rng(seed + 1)).unwrap(),
            now: start,
            start,
            link: Link::default(),
            rng: ChaCha20Rng::seed_from_u64(seed + 2),
            queue: VecDeque::new(),
            client_events: Vec::new(),
            server_events: Vec::new(),
            client_errors: Vec::new(),
            server_errors: Vec::new(),
            max_datagram: 0,
            datagrams: 0,
        }
    }

    /// Moves transmits onto the link and events into the logs.
    pub fn drain(&mut self) {
        while let Some(t) = self.client.poll_transmit() {
            self.send(true, t.contents);
        }
        while let Some(t) = self.server.poll_transmit() {
            self.send(false, t.contents);
        }
        while let Some(e) = self.client.poll_event() {
            self.client_events.push(e);
        }
        while let Some(e) = self.server.poll_event() {
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
                let (ep, errs) = if to_server {
                    (&mut self.server, &mut self.server_errors)
                } else {
                    (&mut self.client, &mut self.client_errors)
                };
                if let Err(e) = ep.handle_receive(self.now, &d) {
                    errs.push(e);
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
