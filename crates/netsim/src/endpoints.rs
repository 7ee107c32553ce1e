//! Small ready-made endpoints for tests: a recorder, a socket the test sends through, a
//! paced sender, an echo and an address reflector.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use crate::{Datagram, Endpoint};

/// A datagram as an endpoint received it.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Received {
    /// Virtual arrival time.
    pub at: Instant,
    /// Source address (after NAT translation).
    pub from: SocketAddr,
    /// Local address it arrived on.
    pub to: SocketAddr,
    /// Payload.
    pub data: Vec<u8>,
}

/// Keeps every datagram it receives and sends nothing.
#[derive(Clone, Debug, Default)]
pub struct Recorder {
    /// What arrived, in arrival order.
    pub received: Vec<Received>,
}

impl Recorder {
    /// An empty recorder.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sequence numbers of the [`Pacer`] datagrams received, in arrival order.
    pub fn sequence_numbers(&self) -> Vec<u64> {
        self.received
            .iter()
            .filter_map(|r| Pacer::sequence_number(&r.data))
            .collect()
    }
}

impl Endpoint for Recorder {
    fn receive(&mut self, now: Instant, from: SocketAddr, to: SocketAddr, data: &[u8]) {
        self.received.push(Received {
            at: now,
            from,
            to,
            data: data.to_vec(),
        });
    }
}

/// A plain socket: the test queues datagrams with [`send`](Self::send) (through
/// [`Sim::endpoint_mut`](crate::Sim::endpoint_mut)); they leave at the next step, and what
/// arrives is kept in [`received`](Self::received).
#[derive(Clone, Debug, Default)]
pub struct Socket {
    outbox: VecDeque<Datagram>,
    /// What arrived, in arrival order.
    pub received: Vec<Received>,
}

impl Socket {
    /// An empty socket.
    pub fn new() -> Self {
        Self::default()
    }

    /// Queues a datagram from `from` to `to`.
    pub fn send(&mut self, from: SocketAddr, to: SocketAddr, data: impl Into<Vec<u8>>) {
        self.outbox.push_back(Datagram::new(from, to, data));
    }

    /// Removes and returns what arrived so far.
    pub fn take_received(&mut self) -> Vec<Received> {
        std::mem::take(&mut self.received)
    }
}

impl Endpoint for Socket {
    fn receive(&mut self, now: Instant, from: SocketAddr, to: SocketAddr, data: &[u8]) {
        self.received.push(Received {
            at: now,
            from,
            to,
            data: data.to_vec(),
        });
    }

    fn poll_transmit(&mut self, _now: Instant) -> Option<Datagram> {
        self.outbox.pop_front()
    }
}

/// Sends `count` datagrams from `from` to `to`, one every `interval`, each starting with its
/// sequence number (8 bytes, big-endian) and padded with zeros to `size` bytes.
///
/// It starts at the first step of the simulation after it was added, or at the time given to
/// [`start_at`](Self::start_at). An interval of zero sends them all at once.
#[derive(Clone, Debug)]
pub struct Pacer {
    from: SocketAddr,
    to: SocketAddr,
    count: u64,
    size: usize,
    interval: Duration,
    next_at: Option<Instant>,
    /// Virtual send time of each datagram, indexed by sequence number.
    pub sent: Vec<Instant>,
}

impl Pacer {
    /// A pacer of `count` 8-byte datagrams, one every `interval`.
    pub fn new(from: SocketAddr, to: SocketAddr, count: u64, interval: Duration) -> Self {
        Pacer {
            from,
            to,
            count,
            size: 8,
            interval,
            next_at: None,
            sent: Vec::new(),
        }
    }

    /// Sets the datagram size; sizes under 8 are raised to 8.
    pub fn size(mut self, size: usize) -> Self {
        self.size = size.max(8);
        self
    }

    /// Sends the first datagram at `start` instead of at the first step.
    pub fn start_at(mut self, start: Instant) -> Self {
        self.next_at = Some(start);
        self
    }

    /// The sequence number carried by a datagram this pacer sent.
    pub fn sequence_number(data: &[u8]) -> Option<u64> {
        let head: [u8; 8] = data.get(..8)?.try_into().ok()?;
        Some(u64::from_be_bytes(head))
    }

    /// Whether every datagram has been sent.
    pub fn done(&self) -> bool {
        self.sent.len() as u64 >= self.count
    }
}

impl Endpoint for Pacer {
    fn receive(&mut self, _now: Instant, _from: SocketAddr, _to: SocketAddr, _data: &[u8]) {}

    fn poll_transmit(&mut self, now: Instant) -> Option<Datagram> {
        if self.done() {
            return None;
        }
        let at = *self.next_at.get_or_insert(now);
        if at > now {
            return None;
        }
        let seq = self.sent.len() as u64;
        self.sent.push(now);
        self.next_at = Some(at + self.interval);
        let mut data = vec![0; self.size];
        data[..8].copy_from_slice(&seq.to_be_bytes());
        Some(Datagram::new(self.from, self.to, data))
    }

    fn poll_timeout(&self) -> Option<Instant> {
        if self.done() { None } else { self.next_at }
    }
}

/// Sends every datagram back to where it came from, from the address it arrived on.
#[derive(Clone, Debug, Default)]
pub struct Echo {
    out: VecDeque<Datagram>,
    /// Datagrams echoed so far.
    pub echoed: u64,
}

impl Echo {
    /// A new echo endpoint.
    pub fn new() -> Self {
        Self::default()
    }
}

impl Endpoint for Echo {
    fn receive(&mut self, _now: Instant, from: SocketAddr, to: SocketAddr, data: &[u8]) {
        self.echoed += 1;
        self.out.push_back(Datagram::new(to, from, data.to_vec()));
    }

    fn poll_transmit(&mut self, _now: Instant) -> Option<Datagram> {
        self.out.pop_front()
    }
}

/// Answers every datagram with the source address it saw, as text (`"203.0.113.1:49152"`):
/// a stand-in for a STUN server when testing NATs.
#[derive(Clone, Debug, Default)]
pub struct Reflector {
    out: VecDeque<Datagram>,
    /// Source addresses seen, in arrival order.
    pub seen: Vec<SocketAddr>,
}

impl Reflector {
    /// A new reflector.
    pub fn new() -> Self {
        Self::default()
    }

    /// Parses a reflector's answer.
    pub fn parse_answer(data: &[u8]) -> Option<SocketAddr> {
        std::str::from_utf8(data).ok()?.parse().ok()
    }
}

impl Endpoint for Reflector {
    fn receive(&mut self, _now: Instant, from: SocketAddr, to: SocketAddr, _data: &[u8]) {
        self.seen.push(from);
        self.out
            .push_back(Datagram::new(to, from, from.to_string().into_bytes()));
    }

    fn poll_transmit(&mut self, _now: Instant) -> Option<Datagram> {
        self.out.pop_front()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pacer_schedules_and_numbers() {
        let t0 = Instant::now();
        let a: SocketAddr = "10.0.0.1:1".parse().unwrap();
        let mut p = Pacer::new(a, a, 3, Duration::from_millis(10)).size(20);
        assert_eq!(p.poll_timeout(), None);
        let d = p.poll_transmit(t0).unwrap();
        assert_eq!(d.data.len(), 20);
        assert_eq!(Pacer::sequence_number(&d.data), Some(0));
        assert_eq!(p.poll_transmit(t0), None);
        assert_eq!(p.poll_timeout(), Some(t0 + Duration::from_millis(10)));
        let d = p.poll_transmit(t0 + Duration::from_millis(10)).unwrap();
        assert_eq!(Pacer::sequence_number(&d.data), Some(1));
        assert!(p.poll_transmit(t0 + Duration::from_millis(20)).is_some());
        assert!(p.done());
        assert_eq!(p.poll_timeout(), None);
        assert_eq!(p.poll_transmit(t0 + Duration::from_secs(1)), None);
        assert_eq!(Pacer::sequence_number(b"short"), None);
    }

    #[test]
    fn reflector_answers_with_the_source() {
        let t0 = Instant::now();
        let (a, b): (SocketAddr, SocketAddr) =
            ("10.0.0.1:1".parse().unwrap(), "10.0.0.2:2".parse().unwrap());
        let mut r = Reflector::new();
        r.receive(t0, a, b, b"?");
        let d = r.poll_transmit(t0).unwrap();
        assert_eq!((d.from, d.to), (b, a));
        assert_eq!(Reflector::parse_answer(&d.data), Some(a));
        assert_eq!(Reflector::parse_answer(b"\xff"), None);
    }
}
