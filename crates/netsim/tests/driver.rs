//! The driver: time jumps to the next event, state machines plug in with a few lines, and the
//! same seed replays the same run.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use ferrtc_netsim::endpoints::{Echo, Pacer, Recorder, Socket};
use ferrtc_netsim::{
    Bandwidth, Datagram, Endpoint, LinkConfig, Machine, NatConfig, NatKind, Prefix, RunError, Sim,
    TraceEvent, TraceKind, sans_io,
};

fn sa(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

// ---- a toy request/response protocol with the ferrtc sans-IO verb set ----------------------

#[derive(Debug, PartialEq)]
enum ToyError {
    Malformed,
}

#[derive(Debug, PartialEq)]
enum ToyEvent {
    Answered { attempts: u32 },
    GaveUp,
}

struct Transmit {
    destination: SocketAddr,
    contents: Vec<u8>,
}

/// Sends "REQ", retransmits with a doubling timeout (100 ms, 200 ms, ...), gives up after five
/// tries, reports when "RSP" arrives.
struct Requester {
    server: SocketAddr,
    attempts: u32,
    rto: Duration,
    deadline: Option<Instant>,
    pending: Option<Transmit>,
    events: Vec<ToyEvent>,
    done: bool,
}

impl Requester {
    fn new(server: SocketAddr) -> Self {
        Requester {
            server,
            attempts: 0,
            rto: Duration::from_millis(100),
            deadline: None,
            pending: None,
            events: Vec::new(),
            done: false,
        }
    }

    fn start(&mut self, now: Instant) {
        self.send(now);
    }

    fn send(&mut self, now: Instant) {
        self.attempts += 1;
        self.pending = Some(Transmit {
            destination: self.server,
            contents: b"REQ".to_vec(),
        });
        self.deadline = Some(now + self.rto);
        self.rto *= 2;
    }

    fn handle_receive(
        &mut self,
        _now: Instant,
        _from: SocketAddr,
        d: &[u8],
    ) -> Result<(), ToyError> {
        if d != b"RSP" {
            return Err(ToyError::Malformed);
        }
        if !self.done {
            self.done = true;
            self.deadline = None;
            self.events.push(ToyEvent::Answered {
                attempts: self.attempts,
            });
        }
        Ok(())
    }

    fn handle_timeout(&mut self, now: Instant) {
        if self.deadline.is_some_and(|d| d <= now) {
            if self.attempts == 5 {
                self.deadline = None;
                self.done = true;
                self.events.push(ToyEvent::GaveUp);
            } else {
                self.send(now);
            }
        }
    }

    fn poll_transmit(&mut self) -> Option<Transmit> {
        self.pending.take()
    }

    fn poll_event(&mut self) -> Option<ToyEvent> {
        (!self.events.is_empty()).then(|| self.events.remove(0))
    }

    fn poll_timeout(&self) -> Option<Instant> {
        self.deadline
    }
}

/// Answers "REQ" with "RSP" (implements `Endpoint` directly, the other way to plug in).
#[derive(Default)]
struct Responder {
    out: Vec<Datagram>,
    requests: u32,
}

impl Endpoint for Responder {
    fn receive(&mut self, _now: Instant, from: SocketAddr, to: SocketAddr, data: &[u8]) {
        if data == b"REQ" {
            self.requests += 1;
            self.out.push(Datagram::new(to, from, b"RSP".to_vec()));
        }
    }

    fn poll_transmit(&mut self, _now: Instant) -> Option<Datagram> {
        self.out.pop()
    }
}

const CLIENT: &str = "10.0.0.1:4000";
const SERVER: &str = "10.0.0.2:3478";

fn ping_pong(
    seed: u64,
) -> (
    Sim,
    ferrtc_netsim::Handle<Machine<Requester, ToyEvent, ToyError>>,
    ferrtc_netsim::LinkId,
) {
    let mut sim = Sim::new(seed);
    let link = sim.add_link(
        sa(CLIENT).ip(),
        sa(SERVER).ip(),
        LinkConfig::ideal().latency(Duration::from_millis(30)),
    );
    sim.add_link(
        sa(SERVER).ip(),
        sa(CLIENT).ip(),
        LinkConfig::ideal().latency(Duration::from_millis(30)),
    );
    let client = sim.add_endpoint(
        [sa(CLIENT)],
        sans_io!(Requester::new(sa(SERVER)), |t| Datagram::any_source(
            t.destination,
            t.contents
        )),
    );
    sim.add_endpoint([sa(SERVER)], Responder::default());
    let now = sim.now();
    sim.endpoint_mut(client).inner.start(now);
    (sim, client, link)
}

#[test]
fn request_response_takes_one_round_trip() {
    let (mut sim, client, _) = ping_pong(1);
    let t = sim
        .run_until_cond(Duration::from_secs(10), |s| {
            !s.endpoint(client).events.is_empty()
        })
        .unwrap();
    assert_eq!(t - sim.epoch(), Duration::from_millis(60));
    assert_eq!(
        sim.endpoint(client).events,
        vec![(t, ToyEvent::Answered { attempts: 1 })]
    );
    // Two arrivals, nothing else: no polling, no sleeping.
    assert_eq!(sim.stats().steps, 2);
}

#[test]
fn time_jumps_to_each_retransmission_timeout() {
    let (mut sim, client, link) = ping_pong(2);
    sim.set_link_config(link, LinkConfig::ideal().loss(1.0));
    sim.enable_trace();
    let t = sim
        .run_until_cond(Duration::from_secs(60), |s| s.endpoint(client).inner.done)
        .unwrap();
    // Sent at 0, 100, 300, 700 and 1500 ms; the last timer fires at 3100 ms.
    assert_eq!(t - sim.epoch(), Duration::from_millis(3100));
    let timers: Vec<Duration> = sim
        .trace()
        .iter()
        .filter(|e| matches!(e.kind, TraceKind::Timeout { .. }))
        .map(|e| e.at)
        .collect();
    assert_eq!(
        timers,
        [100, 300, 700, 1500, 3100]
            .map(Duration::from_millis)
            .to_vec()
    );
    // One step per timer: the clock never ticks through the gaps.
    assert_eq!(sim.stats().steps, 5);
    assert_eq!(sim.endpoint(client).events, vec![(t, ToyEvent::GaveUp)]);
    assert_eq!(sim.link_stats(link).dropped_loss, 5);
}

#[test]
fn a_retransmission_recovers_a_lost_request() {
    let (mut sim, client, link) = ping_pong(3);
    sim.set_link_config(link, LinkConfig::ideal().loss(1.0));
    // The first two requests (0 ms and 100 ms) are lost...
    sim.run_until_cond(Duration::from_secs(1), |s| {
        s.endpoint(client).inner.attempts == 2
    })
    .unwrap();
    assert_eq!(sim.elapsed(), Duration::from_millis(100));
    // ...then the link heals; the third goes out at 300 ms and is answered at 360 ms.
    sim.set_link_config(link, LinkConfig::ideal().latency(Duration::from_millis(30)));
    let t = sim
        .run_until_cond(Duration::from_secs(10), |s| {
            !s.endpoint(client).events.is_empty()
        })
        .unwrap();
    assert_eq!(t - sim.epoch(), Duration::from_millis(360));
    assert_eq!(
        sim.endpoint(client).events[0].1,
        ToyEvent::Answered { attempts: 3 }
    );
}

#[test]
fn receive_errors_are_collected() {
    let (mut sim, client, _) = ping_pong(4);
    let intruder = sim.add_endpoint([sa("10.0.0.3:1")], Socket::new());
    sim.endpoint_mut(intruder)
        .send(sa("10.0.0.3:1"), sa(CLIENT), b"garbage".to_vec());
    sim.run_until_idle(Duration::from_secs(10)).unwrap();
    let c = sim.endpoint(client);
    assert_eq!(c.errors.len(), 1);
    assert_eq!(c.errors[0].1, ToyError::Malformed);
    assert_eq!(c.events.len(), 1);
}

// ---- run limits ------------------------------------------------------------------------------

#[test]
fn run_until_cond_reports_idle_and_time_limit() {
    let mut sim = Sim::new(1);
    assert_eq!(
        sim.run_until_cond(Duration::from_secs(1), |_| false),
        Err(RunError::Idle {
            elapsed: Duration::ZERO
        })
    );
    // An endpoint with a timer every 10 ms never goes idle: the virtual limit stops it.
    let (a, b) = (sa("10.0.0.1:1"), sa("10.0.0.2:1"));
    sim.add_endpoint([a], Pacer::new(a, b, u64::MAX, Duration::from_millis(10)));
    assert_eq!(
        sim.run_until_cond(Duration::from_secs(2), |_| false),
        Err(RunError::TimeLimit {
            elapsed: Duration::from_secs(2)
        })
    );
    assert!(matches!(
        sim.run_until_idle(Duration::from_secs(1)),
        Err(RunError::TimeLimit { .. })
    ));
    assert_eq!(sim.elapsed(), Duration::from_secs(3));
    // Events at the limit itself still run: sends at 0, 10, ..., 3000 ms.
    assert_eq!(sim.stats().dropped_no_endpoint, 301);
}

#[test]
fn run_until_stops_at_the_deadline() {
    let mut sim = Sim::new(1);
    let (a, b) = (sa("10.0.0.1:1"), sa("10.0.0.2:1"));
    sim.set_default_link(LinkConfig::ideal().latency(Duration::from_millis(5)));
    sim.add_endpoint([a], Pacer::new(a, b, 100, Duration::from_millis(10)));
    let rec = sim.add_endpoint([b], Recorder::new());
    let deadline = sim.now() + Duration::from_millis(105);
    sim.run_until(deadline);
    assert_eq!(sim.now(), deadline);
    // Sent at 0..=100 ms, arrivals at 5..=105 ms.
    assert_eq!(sim.endpoint(rec).received.len(), 11);
    assert_eq!(sim.in_flight(), 0);
    // At 111 ms the datagram sent at 110 ms is on the link.
    sim.run_for(Duration::from_millis(6));
    assert_eq!(sim.endpoint(rec).received.len(), 11);
    assert_eq!(sim.in_flight(), 1);
}

// ---- topology --------------------------------------------------------------------------------

#[test]
fn endpoint_with_several_addresses_of_both_families() {
    let mut sim = Sim::new(1);
    let addrs = [
        sa("10.0.0.1:5000"),
        sa("10.0.1.1:5000"),
        sa("[fd00::1]:5000"),
    ];
    let agent = sim.add_endpoint(addrs, Socket::new());
    let echo4 = sim.add_endpoint([sa("10.0.9.9:1")], Echo::new());
    let echo6 = sim.add_endpoint([sa("[fd00::9]:1")], Echo::new());
    for from in addrs {
        let to = if from.is_ipv4() {
            sa("10.0.9.9:1")
        } else {
            sa("[fd00::9]:1")
        };
        sim.endpoint_mut(agent)
            .send(from, to, from.to_string().into_bytes());
    }
    sim.run_until_idle(Duration::from_secs(1)).unwrap();
    let got = &sim.endpoint(agent).received;
    assert_eq!(got.len(), 3);
    for r in got {
        // Each answer comes back to the address the request left from.
        assert_eq!(r.to.to_string().as_bytes(), &r.data[..]);
    }
    assert_eq!(
        (sim.endpoint(echo4).echoed, sim.endpoint(echo6).echoed),
        (2, 1)
    );
    assert_eq!(sim.addrs(agent.id()), &addrs);
}

#[test]
fn unbinding_and_removing_endpoints() {
    let mut sim = Sim::new(1);
    let (a, b, b2) = (sa("10.0.0.1:1"), sa("10.0.0.2:1"), sa("10.0.0.2:2"));
    let s = sim.add_endpoint([a], Socket::new());
    let r = sim.add_endpoint([b], Recorder::new());
    sim.bind(r.id(), b2);
    sim.endpoint_mut(s).send(a, b, b"1".to_vec());
    sim.endpoint_mut(s).send(a, b2, b"2".to_vec());
    sim.run_until_idle(Duration::from_secs(1)).unwrap();
    assert_eq!(sim.endpoint(r).received.len(), 2);
    assert_eq!(sim.unbind(b), Some(r.id()));
    sim.endpoint_mut(s).send(a, b, b"3".to_vec());
    sim.run_until_idle(Duration::from_secs(1)).unwrap();
    assert_eq!(sim.stats().dropped_no_endpoint, 1);
    let removed = sim.remove_endpoint(r);
    assert_eq!(removed.received.len(), 2);
    sim.endpoint_mut(s).send(a, b2, b"4".to_vec());
    sim.run_until_idle(Duration::from_secs(1)).unwrap();
    assert_eq!(sim.stats().dropped_no_endpoint, 2);
    assert!(sim.addrs(r.id()).is_empty());
}

#[test]
fn sending_from_an_address_not_bound_is_dropped() {
    let mut sim = Sim::new(1);
    let s = sim.add_endpoint([sa("10.0.0.1:1")], Socket::new());
    let r = sim.add_endpoint([sa("10.0.0.2:1")], Recorder::new());
    sim.endpoint_mut(s)
        .send(sa("10.0.0.7:1"), sa("10.0.0.2:1"), b"spoof".to_vec());
    sim.run_until_idle(Duration::from_secs(1)).unwrap();
    assert!(sim.endpoint(r).received.is_empty());
    assert_eq!(sim.stats().dropped_bad_source, 1);
    // A datagram cannot cross IP families.
    let dual = sim.add_endpoint([sa("10.0.0.3:1"), sa("[fd00::3]:1")], Socket::new());
    sim.endpoint_mut(dual)
        .send(sa("[fd00::3]:1"), sa("10.0.0.2:1"), b"x".to_vec());
    sim.run_until_idle(Duration::from_secs(1)).unwrap();
    assert_eq!(sim.stats().dropped_family_mismatch, 1);
    assert!(sim.endpoint(r).received.is_empty());
    // inject() is the way to forge a source on purpose.
    sim.inject(Datagram::new(
        sa("10.0.0.7:1"),
        sa("10.0.0.2:1"),
        b"forged".to_vec(),
    ));
    sim.run_until_idle(Duration::from_secs(1)).unwrap();
    assert_eq!(sim.endpoint(r).received[0].from, sa("10.0.0.7:1"));
}

// ---- determinism -----------------------------------------------------------------------------

/// A busy scenario: every impairment, a NAT, timers, traffic both ways.
fn scenario(seed: u64) -> Vec<TraceEvent> {
    let mut sim = Sim::new(seed);
    sim.enable_trace();
    let cfg = LinkConfig::ideal()
        .latency(Duration::from_millis(20))
        .jitter(Duration::from_millis(8))
        .loss(0.1)
        .duplicate(0.05)
        .reorder(0.05, Duration::from_millis(15))
        .bandwidth(Bandwidth::new(2_000_000, 20_000))
        .mtu(1100);
    sim.add_nat(
        NatConfig::new(
            NatKind::PortRestricted,
            "203.0.113.1".parse().unwrap(),
            "192.168.0.0/16".parse::<Prefix>().unwrap(),
        )
        .port_allocation(ferrtc_netsim::PortAllocation::Random),
    );
    sim.add_link_pair(
        "203.0.113.1".parse::<std::net::IpAddr>().unwrap(),
        Prefix::ANY,
        cfg,
    );
    let (a, b) = (sa("192.168.1.10:5000"), sa("198.51.100.1:6000"));
    sim.add_endpoint(
        [a],
        Pacer::new(a, b, 300, Duration::from_millis(3)).size(1000),
    );
    sim.add_endpoint(
        [sa("192.168.1.10:5001")],
        Pacer::new(sa("192.168.1.10:5001"), b, 50, Duration::from_millis(7)).size(1200),
    );
    sim.add_endpoint([b], Echo::new());
    sim.run_until_idle(Duration::from_secs(60)).unwrap();
    sim.trace().to_vec()
}

#[test]
fn same_seed_same_trace_different_seed_different_trace() {
    let one = scenario(77);
    let two = scenario(77);
    assert!(one.len() > 1000, "{}", one.len());
    assert_eq!(one, two);
    let other = scenario(78);
    assert_ne!(one, other);
    // Every kind of event shows up in the trace.
    let has = |f: fn(&TraceKind) -> bool| one.iter().any(|e| f(&e.kind));
    assert!(has(|k| matches!(k, TraceKind::Sent { .. })));
    assert!(has(|k| matches!(k, TraceKind::Delivered { .. })));
    assert!(has(|k| matches!(k, TraceKind::Dropped { .. })));
    assert!(has(|k| matches!(k, TraceKind::Timeout { .. })));
}

#[test]
fn machine_adapter_by_hand() {
    // The same toy wrapped without the macro, renaming nothing.
    let node = Machine::new(Requester::new(sa(SERVER)))
        .on_receive(|m, now, from, _to, d| m.handle_receive(now, from, d))
        .on_timeout(|m, now| m.handle_timeout(now))
        .on_transmit(|m, _| {
            m.poll_transmit()
                .map(|t| Datagram::new(sa(CLIENT), t.destination, t.contents))
        })
        .on_poll_timeout(|m| m.poll_timeout())
        .on_event(|m| m.poll_event());
    let mut sim = Sim::new(8);
    let client = sim.add_endpoint([sa(CLIENT)], node);
    sim.add_endpoint([sa(SERVER)], Responder::default());
    let now = sim.now();
    sim.endpoint_mut(client).inner.start(now);
    sim.run_until_idle(Duration::from_secs(1)).unwrap();
    assert_eq!(sim.endpoint(client).events.len(), 1);
    assert_eq!(sim.elapsed(), Duration::ZERO, "ideal link, no timer fired");
}

#[test]
fn wildcard_port_binding_receives_and_sends_on_any_port() {
    // A relay-like endpoint owns every port of 198.51.100.5, except one bound by someone else.
    let mut sim = Sim::new(1);
    let relay = sim.add_endpoint([sa("198.51.100.5:0")], Echo::new());
    let other = sim.add_endpoint([sa("198.51.100.5:3478")], Recorder::new());
    let client = sim.add_endpoint([sa("10.0.0.1:1")], Socket::new());
    for port in [49152, 50000, 3478] {
        let to = std::net::SocketAddr::new("198.51.100.5".parse().unwrap(), port);
        sim.endpoint_mut(client)
            .send(sa("10.0.0.1:1"), to, b"x".to_vec());
    }
    sim.run_until_idle(Duration::from_secs(1)).unwrap();
    assert_eq!(sim.endpoint(relay).echoed, 2);
    assert_eq!(sim.endpoint(other).received.len(), 1);
    let back: Vec<u16> = sim
        .endpoint(client)
        .received
        .iter()
        .map(|r| r.from.port())
        .collect();
    assert_eq!(
        back,
        vec![49152, 50000],
        "echoed from the port each one arrived on"
    );
}

#[test]
fn sans_io_macro_captures_local_addresses() {
    // Packets without addresses (as an SCTP association produces) get them from the test.
    let (local, remote) = (sa(CLIENT), sa(SERVER));
    let node = sans_io!(Requester::new(remote), |t| Datagram::new(
        local, remote, t.contents
    ));
    let mut sim = Sim::new(9);
    let client = sim.add_endpoint([local], node);
    let server = sim.add_endpoint([remote], Responder::default());
    let now = sim.now();
    sim.endpoint_mut(client).inner.start(now);
    sim.run_until_idle(Duration::from_secs(1)).unwrap();
    assert_eq!(sim.endpoint(server).requests, 1);
    assert_eq!(
        sim.endpoint(client).events[0].1,
        ToyEvent::Answered { attempts: 1 }
    );
}

#[test]
fn capture_writes_a_pcap_of_what_was_sent() {
    let mut sim = Sim::new(1);
    sim.enable_capture();
    sim.set_default_link(LinkConfig::ideal().latency(Duration::from_millis(1500)));
    let (a, b) = (sa("192.0.2.1:5000"), sa("[2001:db8::2]:6000"));
    let s = sim.add_endpoint([a, sa("[2001:db8::1]:5000")], Socket::new());
    sim.add_endpoint([sa("192.0.2.2:6000"), b], Echo::new());
    sim.endpoint_mut(s)
        .send(a, sa("192.0.2.2:6000"), b"four".to_vec());
    sim.endpoint_mut(s)
        .send(sa("[2001:db8::1]:5000"), b, b"six!!!".to_vec());
    sim.run_until_idle(Duration::from_secs(10)).unwrap();
    let f = sim.pcap();
    let u32_at = |i: usize| u32::from_le_bytes(f[i..i + 4].try_into().unwrap());
    assert_eq!(u32_at(0), 0xa1b2_3c4d);
    // Four records: two requests at 0 s, two echoes at 1.5 s.
    let mut at = 24;
    let mut records = Vec::new();
    while at < f.len() {
        let (secs, nanos, len) = (u32_at(at), u32_at(at + 4), u32_at(at + 8) as usize);
        let packet = &f[at + 16..at + 16 + len];
        records.push((secs, nanos, packet[0] >> 4, len));
        at += 16 + len;
    }
    assert_eq!(at, f.len());
    assert_eq!(
        records,
        vec![
            (0, 0, 4, 32),
            (0, 0, 6, 54),
            (1, 500_000_000, 4, 32),
            (1, 500_000_000, 6, 54)
        ]
    );
}

#[test]
fn many_endpoints() {
    // 500 senders with their own timers and 500 receivers: each step touches only the endpoint
    // concerned, so this stays quick.
    let mut sim = Sim::new(10);
    sim.set_default_link(
        LinkConfig::ideal()
            .latency(Duration::from_millis(15))
            .jitter(Duration::from_millis(5)),
    );
    let mut recorders = Vec::new();
    for i in 0..500u32 {
        let a = std::net::SocketAddr::new(std::net::Ipv4Addr::from(0x0a00_0000 + i).into(), 1000);
        let b = std::net::SocketAddr::new(std::net::Ipv4Addr::from(0x0b00_0000 + i).into(), 2000);
        let interval = Duration::from_micros(10_000 + u64::from(i));
        sim.add_endpoint([a], Pacer::new(a, b, 50, interval));
        recorders.push(sim.add_endpoint([b], Recorder::new()));
    }
    sim.run_until_idle(Duration::from_secs(10)).unwrap();
    assert_eq!(sim.stats().delivered, 25_000);
    assert_eq!(sim.stats().timeouts, 500 * 49);
    assert!(
        recorders
            .iter()
            .all(|&r| sim.endpoint(r).received.len() == 50)
    );
}
