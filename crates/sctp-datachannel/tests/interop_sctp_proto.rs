//! Interop with a peer nobody here wrote: the sans-IO `sctp-proto` crate, in-process, over a
//! seeded lossy link with virtual time. Both roles, both directions, fragmented messages,
//! partial reliability and stream reset.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use ferrtc_sctp_datachannel::{Association, Config, Event, Reliability, SendOptions};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use sctp_proto::{
    AssociationHandle, ClientConfig, DatagramEvent, Endpoint, EndpointConfig, Payload,
    PayloadProtocolIdentifier, ReliabilityType, ServerConfig, StreamEvent,
};

const PEER_ADDR: &str = "127.0.0.1:5000";
/// sctp-proto's address as we name it.
const THEIRS: SocketAddr =
    SocketAddr::new(std::net::IpAddr::V4(std::net::Ipv4Addr::LOCALHOST), 5000);

/// The sctp-proto side: an endpoint and its one association.
struct Proto {
    ep: Endpoint,
    assoc: Option<(AssociationHandle, sctp_proto::Association)>,
    connected: bool,
    /// Messages read: (stream, ppid, bytes).
    received: Vec<(u16, u32, Vec<u8>)>,
    finished: Vec<u16>,
}

impl Proto {
    fn server() -> Self {
        Self {
            ep: Endpoint::new(
                Arc::new(EndpointConfig::new()),
                Some(Arc::new(ServerConfig::new())),
            ),
            assoc: None,
            connected: false,
            received: Vec::new(),
            finished: Vec::new(),
        }
    }

    fn client() -> Self {
        let mut ep = Endpoint::new(Arc::new(EndpointConfig::new()), None);
        let assoc = ep
            .connect(ClientConfig::new(), PEER_ADDR.parse().unwrap())
            .unwrap();
        Self {
            ep,
            assoc: Some(assoc),
            connected: false,
            received: Vec::new(),
            finished: Vec::new(),
        }
    }

    fn assoc(&mut self) -> &mut sctp_proto::Association {
        &mut self.assoc.as_mut().expect("association exists").1
    }

    fn receive(&mut self, now: Instant, p: Bytes) {
        let from: SocketAddr = PEER_ADDR.parse().unwrap();
        match self.ep.handle(now, from, None, None, p) {
            Some((h, DatagramEvent::NewAssociation(a))) => self.assoc = Some((h, a)),
            Some((_, DatagramEvent::AssociationEvent(e))) => {
                if let Some((_, a)) = self.assoc.as_mut() {
                    a.handle_event(e);
                }
            }
            None => {}
        }
    }

    fn transmit(&mut self, now: Instant) -> Vec<Bytes> {
        let mut out = Vec::new();
        loop {
            if let Some((h, a)) = self.assoc.as_mut() {
                while let Some(e) = a.poll_endpoint_event() {
                    if let Some(e) = self.ep.handle_event(*h, e) {
                        a.handle_event(e);
                    }
                }
            }
            let t = match self.assoc.as_mut() {
                Some((_, a)) => a.poll_transmit(now),
                None => None,
            }
            .or_else(|| self.ep.poll_transmit());
            let Some(t) = t else { break };
            if let Payload::RawEncode(ps) = t.payload {
                out.extend(ps);
            }
        }
        out
    }

    fn poll(&mut self) {
        let Some((_, a)) = self.assoc.as_mut() else {
            return;
        };
        while let Some(e) = a.poll() {
            match e {
                sctp_proto::Event::Connected => self.connected = true,
                sctp_proto::Event::Stream(StreamEvent::Finished { id }) => self.finished.push(id),
                _ => {}
            }
        }
        while a.accept_stream().is_some() {}
        for id in a.stream_ids() {
            let Ok(mut s) = a.stream(id) else { continue };
            while let Ok(Some(chunks)) = s.read_sctp() {
                let mut buf = vec![0; chunks.len()];
                chunks.read(&mut buf).unwrap();
                self.received.push((id, chunks.ppi as u32, buf));
            }
        }
    }

    fn timeout(&mut self, now: Instant) {
        if let Some((_, a)) = self.assoc.as_mut() {
            a.handle_timeout(now);
        }
    }

    fn poll_timeout(&self) -> Option<Instant> {
        self.assoc.as_ref().and_then(|(_, a)| a.poll_timeout())
    }
}

/// Ours, sctp-proto's, and a link with loss and a fixed delay.
struct Net {
    ours: Association,
    theirs: Proto,
    now: Instant,
    rng: ChaCha8Rng,
    loss: f64,
    delay: Duration,
    to_theirs: VecDeque<(Instant, Bytes)>,
    to_ours: VecDeque<(Instant, Bytes)>,
    events: Vec<Event>,
}

impl Net {
    fn new(theirs: Proto, loss: f64, seed: u64) -> Self {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let now = Instant::now();
        // sctp-proto's default maximum message size is 64 KiB.
        let cfg = Config {
            max_message_size: 65536,
            ..Config::default()
        };
        Self {
            ours: Association::new(cfg, now, &mut rng),
            theirs,
            now,
            rng,
            loss,
            delay: Duration::from_millis(5),
            to_theirs: VecDeque::new(),
            to_ours: VecDeque::new(),
            events: Vec::new(),
        }
    }

    fn step(&mut self) {
        let now = self.now;
        self.ours.handle_timeout(now);
        self.theirs.timeout(now);
        loop {
            let mut moved = false;
            // Ours follows the contract: transmits until `None`, then events.
            while let Some(t) = self.ours.poll_transmit(now) {
                assert_eq!(t.destination, THEIRS);
                if !self.rng.random_bool(self.loss) {
                    self.to_theirs.push_back((now + self.delay, t.contents));
                }
            }
            while let Some(e) = self.ours.poll_event() {
                self.events.push(e);
            }
            self.theirs.poll();
            for p in self.theirs.transmit(now) {
                if !self.rng.random_bool(self.loss) {
                    self.to_ours.push_back((now + self.delay, p));
                }
            }
            while self.to_theirs.front().is_some_and(|(t, _)| *t <= now) {
                let (_, p) = self.to_theirs.pop_front().unwrap();
                self.theirs.receive(now, p);
                moved = true;
            }
            while self.to_ours.front().is_some_and(|(t, _)| *t <= now) {
                let (_, p) = self.to_ours.pop_front().unwrap();
                let _ = self.ours.handle_receive(now, THEIRS, p);
                moved = true;
            }
            if !moved {
                break;
            }
        }
        let next = [
            self.to_theirs.front().map(|(t, _)| *t),
            self.to_ours.front().map(|(t, _)| *t),
            self.ours.poll_timeout(),
            self.theirs.poll_timeout(),
        ]
        .into_iter()
        .flatten()
        .min()
        .unwrap_or(now + Duration::from_millis(10));
        self.now = next.max(now);
    }

    fn run_until(&mut self, limit: Duration, mut done: impl FnMut(&mut Self) -> bool) {
        let end = self.now + limit;
        while self.now < end && !done(self) {
            self.step();
        }
    }

    fn connect(&mut self) {
        self.run_until(Duration::from_secs(60), |n| {
            n.ours.is_established() && n.theirs.connected
        });
        assert!(self.ours.is_established(), "ferrtc did not connect");
        assert!(self.theirs.connected, "sctp-proto did not connect");
    }
}

fn payload(i: usize, len: usize) -> Vec<u8> {
    (0..len).map(|k| (i * 7 + k * 13) as u8).collect()
}

fn sizes() -> impl Iterator<Item = usize> {
    [1usize, 100, 1100, 1200, 5000, 30_000, 65_536]
        .into_iter()
        .cycle()
}

fn exchange(mut net: Net) {
    net.connect();
    // ferrtc -> sctp-proto: ordered, fragmented and not.
    let count = 60;
    let msgs: Vec<Vec<u8>> = sizes()
        .take(count)
        .enumerate()
        .map(|(i, n)| payload(i, n))
        .collect();
    for m in &msgs {
        net.ours
            .send(
                net.now,
                1,
                53,
                Bytes::from(m.clone()),
                SendOptions::default(),
            )
            .unwrap();
    }
    net.run_until(Duration::from_secs(600), |n| {
        n.theirs.received.len() == count
    });
    let got: Vec<&Vec<u8>> = net
        .theirs
        .received
        .iter()
        .filter(|(s, p, _)| *s == 1 && *p == 53)
        .map(|(_, _, d)| d)
        .collect();
    assert_eq!(got.len(), count, "sctp-proto did not receive everything");
    for (i, m) in msgs.iter().enumerate() {
        assert_eq!(got[i], m, "message {i} differs at sctp-proto");
    }

    // sctp-proto -> ferrtc on another stream.
    {
        let a = net.theirs.assoc();
        let mut s = a.open_stream(2, PayloadProtocolIdentifier::String).unwrap();
        for (i, n) in sizes().take(count).enumerate() {
            s.write_sctp(
                &Bytes::from(payload(i + 1000, n)),
                PayloadProtocolIdentifier::String,
            )
            .unwrap();
        }
    }
    net.run_until(Duration::from_secs(600), |n| {
        n.events
            .iter()
            .filter(|e| matches!(e, Event::Message(m) if m.stream == 2))
            .count()
            == count
    });
    let back: Vec<_> = net
        .events
        .iter()
        .filter_map(|e| match e {
            Event::Message(m) if m.stream == 2 => Some(m),
            _ => None,
        })
        .collect();
    assert_eq!(back.len(), count, "ferrtc did not receive everything");
    for (i, (m, n)) in back.iter().zip(sizes()).enumerate() {
        assert_eq!(m.ppid, 51);
        assert_eq!(
            &m.data[..],
            &payload(i + 1000, n)[..],
            "message {i} differs at ferrtc"
        );
    }
}

#[test]
fn ferrtc_client_to_sctp_proto_server() {
    let mut net = Net::new(Proto::server(), 0.0, 1);
    net.ours.connect(net.now, THEIRS);
    exchange(net);
}

#[test]
fn sctp_proto_client_to_ferrtc_server() {
    let net = Net::new(Proto::client(), 0.0, 2);
    exchange(net);
}

#[test]
fn lossy_both_ways() {
    let mut net = Net::new(Proto::server(), 0.05, 3);
    net.ours.connect(net.now, THEIRS);
    exchange(net);
    let net = Net::new(Proto::client(), 0.05, 4);
    exchange(net);
}

#[test]
fn partial_reliability_ferrtc_to_sctp_proto() {
    let mut net = Net::new(Proto::server(), 0.2, 5);
    net.ours.connect(net.now, THEIRS);
    net.connect();
    let opts = SendOptions {
        unordered: false,
        reliability: Reliability::MaxRetransmits(0),
    };
    let count = 200;
    for i in 0..count {
        net.ours
            .send(net.now, 3, 53, Bytes::from(payload(i, 2500)), opts)
            .unwrap();
    }
    net.run_until(Duration::from_secs(600), |n| n.ours.buffered_total() == 0);
    assert_eq!(net.ours.buffered_total(), 0, "sender never finished");
    net.ours
        .send(
            net.now,
            4,
            51,
            Bytes::from_static(b"done"),
            SendOptions::default(),
        )
        .unwrap();
    net.run_until(Duration::from_secs(600), |n| {
        n.theirs.received.iter().any(|(s, _, _)| *s == 4)
    });
    assert!(
        net.theirs
            .received
            .iter()
            .any(|(s, _, d)| *s == 4 && d == b"done"),
        "sctp-proto stalled after FORWARD TSN"
    );
    let got: Vec<&Vec<u8>> = net
        .theirs
        .received
        .iter()
        .filter(|(s, _, _)| *s == 3)
        .map(|(_, _, d)| d)
        .collect();
    assert!(
        !got.is_empty() && got.len() < count,
        "{} of {count}",
        got.len()
    );
    // What arrived is intact and in order.
    let mut last = None;
    for d in got {
        let i = (0..count)
            .find(|&i| payload(i, 2500) == *d)
            .expect("intact");
        assert!(last.is_none_or(|l| i > l), "reordered");
        last = Some(i);
    }
    assert!(net.ours.stats().abandoned_messages > 0);
}

#[test]
fn partial_reliability_sctp_proto_to_ferrtc() {
    let mut net = Net::new(Proto::server(), 0.2, 6);
    net.ours.connect(net.now, THEIRS);
    net.connect();
    let count = 200;
    {
        let a = net.theirs.assoc();
        let mut s = a.open_stream(5, PayloadProtocolIdentifier::Binary).unwrap();
        s.set_reliability_params(false, ReliabilityType::Rexmit, 0)
            .unwrap();
        for i in 0..count {
            s.write_sctp(
                &Bytes::from(payload(i, 2500)),
                PayloadProtocolIdentifier::Binary,
            )
            .unwrap();
        }
    }
    net.run_until(Duration::from_secs(120), |_| false);
    {
        let a = net.theirs.assoc();
        let mut s = a.open_stream(6, PayloadProtocolIdentifier::Binary).unwrap();
        s.write_sctp(
            &Bytes::from_static(b"done"),
            PayloadProtocolIdentifier::Binary,
        )
        .unwrap();
    }
    net.run_until(Duration::from_secs(600), |n| {
        n.events
            .iter()
            .any(|e| matches!(e, Event::Message(m) if m.stream == 6))
    });
    assert!(
        net.events
            .iter()
            .any(|e| matches!(e, Event::Message(m) if m.stream == 6 && &m.data[..] == b"done")),
        "ferrtc stalled on sctp-proto's FORWARD TSN"
    );
    let got: Vec<&Bytes> = net
        .events
        .iter()
        .filter_map(|e| match e {
            Event::Message(m) if m.stream == 5 => Some(&m.data),
            _ => None,
        })
        .collect();
    assert!(
        !got.is_empty() && got.len() < count,
        "{} of {count}",
        got.len()
    );
    let mut last = None;
    for d in got {
        let i = (0..count)
            .find(|&i| payload(i, 2500) == d[..])
            .expect("intact");
        assert!(last.is_none_or(|l| i > l), "reordered");
        last = Some(i);
    }
}

#[test]
fn stream_reset_both_ways() {
    let mut net = Net::new(Proto::server(), 0.0, 7);
    net.ours.connect(net.now, THEIRS);
    net.connect();
    net.ours
        .send(
            net.now,
            8,
            51,
            Bytes::from_static(b"bye"),
            SendOptions::default(),
        )
        .unwrap();
    net.ours.reset_streams(&[8]).unwrap();
    net.run_until(Duration::from_secs(60), |n| {
        n.events.contains(&Event::OutgoingStreamsReset(vec![8]))
    });
    assert!(net.events.contains(&Event::OutgoingStreamsReset(vec![8])));
    assert!(
        net.theirs
            .received
            .iter()
            .any(|(s, _, d)| *s == 8 && d == b"bye")
    );
    // sctp-proto closes a stream of its own; we see the incoming reset.
    {
        let a = net.theirs.assoc();
        let mut s = a.open_stream(9, PayloadProtocolIdentifier::String).unwrap();
        s.write_sctp(&Bytes::from_static(b"x"), PayloadProtocolIdentifier::String)
            .unwrap();
    }
    net.run_until(Duration::from_secs(10), |n| {
        n.events
            .iter()
            .any(|e| matches!(e, Event::Message(m) if m.stream == 9))
    });
    net.theirs.assoc().stream(9).unwrap().close().unwrap();
    net.run_until(Duration::from_secs(60), |n| {
        n.events.contains(&Event::IncomingStreamsReset(vec![9]))
    });
    assert!(net.events.contains(&Event::IncomingStreamsReset(vec![9])));
}

#[test]
fn graceful_shutdown_with_sctp_proto() {
    let mut net = Net::new(Proto::server(), 0.0, 8);
    net.ours.connect(net.now, THEIRS);
    net.connect();
    for i in 0..5 {
        net.ours
            .send(
                net.now,
                1,
                53,
                Bytes::from(payload(i, 3000)),
                SendOptions::default(),
            )
            .unwrap();
    }
    net.ours.shutdown(net.now);
    net.run_until(Duration::from_secs(60), |n| {
        n.events.contains(&Event::Closed(
            ferrtc_sctp_datachannel::CloseReason::Shutdown,
        ))
    });
    assert!(net.events.contains(&Event::Closed(
        ferrtc_sctp_datachannel::CloseReason::Shutdown
    )));
    assert_eq!(
        net.theirs
            .received
            .iter()
            .filter(|(s, _, _)| *s == 1)
            .count(),
        5,
        "queued data delivered before the shutdown"
    );
}
