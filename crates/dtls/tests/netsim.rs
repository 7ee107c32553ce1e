//! DTLS handshakes through `ferrtc-netsim`, the project's simulated network (issue 4):
//! a clean link, 30 % loss with duplication, reordering and jitter, a 576-byte path MTU, a
//! peer that never answers, and a wrong fingerprint over a lossy link.
//!
//! Each side is a [`ferrtc_dtls::Endpoint`] wrapped in a netsim [`Machine`]; the simulator
//! owns the virtual clock, so a 123-second give-up costs microseconds. Every run is seeded
//! (the links' draws, the hello randoms and the ECDHE scalars); with deterministic (RFC
//! 6979) signatures and the same certificates a run replays byte for byte (section 7).
//! Elsewhere signatures are ring's hedged ones and certificates are made per run, so
//! sizes vary by a byte or two between runs (DER integers) while datagram counts and
//! times do not.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use ferrtc_dtls::record::{ContentType, Records};
use ferrtc_dtls::{
    AlertDescription, Certificate, Config, DtlsRole, Endpoint, Error, Event, HashAlgorithm,
    PeerMisbehaved, ReceiveError,
};
use ferrtc_netsim::{Datagram, Handle, LinkConfig, LinkId, LinkStats, Machine, Sim, TraceKind};
use rand::SeedableRng;
use rand_chacha::ChaCha20Rng;

// ---- the harness ------------------------------------------------------------------------

/// A DTLS endpoint with the addresses it talks between and a log of what it sent.
struct Peer {
    ep: Endpoint,
    local: SocketAddr,
    remote: SocketAddr,
    epoch: Instant,
    /// Every datagram handed to the network, with its virtual send time.
    sent: Vec<(Duration, Vec<u8>)>,
    /// Events taken from the endpoint while handling a datagram (and the data it decrypted
    /// in place, as the events it would otherwise be), handed to the simulator next.
    pending: VecDeque<Event>,
    /// Datagrams the endpoint dropped, with the reason.
    drops: Vec<ReceiveError>,
}

type Node = Machine<Peer, Event, Error>;

fn node(ep: Endpoint, local: SocketAddr, remote: SocketAddr, epoch: Instant) -> Node {
    let peer = Peer {
        ep,
        local,
        remote,
        epoch,
        sent: Vec::new(),
        pending: VecDeque::new(),
        drops: Vec::new(),
    };
    Machine::new(peer)
        .on_receive(|p: &mut Peer, now, from, _to, data: &[u8]| {
            // One association per address pair, as a WebRTC transport demultiplexes.
            if from != p.remote {
                return Ok(());
            }
            let mut buf = data.to_vec();
            match p.ep.handle_receive(now, from, &mut buf) {
                Ok(ranges) => {
                    for r in ranges.iter() {
                        p.pending
                            .push_back(Event::ApplicationData(buf[r].to_vec().into()));
                    }
                }
                Err(e) => p.drops.push(e),
            }
            // A failure this datagram caused is recorded as the simulator's receive error
            // (with its time) as well as the `Event::Failed` it is.
            let mut failure = None;
            while let Some(e) = p.ep.poll_event() {
                if let Event::Failed(err) = &e {
                    failure = Some(err.clone());
                }
                p.pending.push_back(e);
            }
            failure.map_or(Ok(()), Err)
        })
        .on_timeout(|p, now| p.ep.handle_timeout(now))
        .on_poll_timeout(|p| p.ep.poll_timeout())
        .on_event(|p| p.pending.pop_front().or_else(|| p.ep.poll_event()))
        .on_transmit(|p, now| {
            let t = p.ep.poll_transmit()?;
            assert_eq!(t.destination, p.remote, "addressed to the peer");
            p.sent.push((now - p.epoch, t.contents.to_vec()));
            Some(Datagram::new(p.local, p.remote, t.contents.to_vec()))
        })
}

const CLIENT: &str = "10.0.0.1:5000";
const SERVER: &str = "10.0.0.2:5000";

fn addr(s: &str) -> SocketAddr {
    s.parse().expect("constant address")
}

/// Two configurations whose fingerprints point at each other.
fn configs() -> (Config, Config) {
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

fn rng(seed: u64) -> Box<ChaCha20Rng> {
    Box::new(ChaCha20Rng::seed_from_u64(seed))
}

/// A client connected towards the server's address at `now`.
fn client_endpoint(config: Config, seed: u64, now: Instant) -> Endpoint {
    let mut ep = Endpoint::new(Arc::new(config), now, rng(seed)).unwrap();
    ep.connect(now, addr(SERVER)).unwrap();
    ep
}

/// A client and (optionally) a server on two one-way links with the same impairments.
struct Net {
    sim: Sim,
    client: Handle<Node>,
    server: Option<Handle<Node>>,
    /// Client to server.
    up: LinkId,
    /// Server to client.
    down: LinkId,
}

impl Net {
    fn new(seed: u64, link: LinkConfig, client: Config, server: Option<Config>) -> Self {
        let mut sim = Sim::new(seed);
        let (c, s) = (addr(CLIENT), addr(SERVER));
        let (up, down) = sim.add_link_pair(c.ip(), s.ip(), link);
        let epoch = sim.epoch();
        let server = server.map(|cfg| {
            let ep = Endpoint::new(Arc::new(cfg), sim.now(), rng(seed ^ 0x5e)).unwrap();
            sim.add_endpoint([s], node(ep, s, c, epoch))
        });
        let ep = client_endpoint(client, seed ^ 0xc1, sim.now());
        let client = sim.add_endpoint([c], node(ep, c, s, epoch));
        Net {
            sim,
            client,
            server,
            up,
            down,
        }
    }

    fn client(&self) -> &Node {
        self.sim.endpoint(self.client)
    }

    fn server(&self) -> &Node {
        self.sim.endpoint(self.server.expect("a server was added"))
    }

    fn both_connected(sim: &Sim, c: Handle<Node>, s: Handle<Node>) -> bool {
        sim.endpoint(c).inner.ep.is_connected() && sim.endpoint(s).inner.ep.is_connected()
    }

    /// Runs until both sides are connected or one has failed; returns the virtual time taken.
    fn handshake(&mut self) -> Duration {
        let (c, s) = (self.client, self.server.expect("a server was added"));
        let start = self.sim.now();
        let at = self
            .sim
            .run_until_cond(Duration::from_secs(3600), |sim| {
                Net::both_connected(sim, c, s) || failed(sim.endpoint(c)) || failed(sim.endpoint(s))
            })
            .expect("the handshake ends one way or the other before the time limit");
        at - start
    }

    /// Sends `n` numbered messages each way after the handshake and runs until the network
    /// is idle. Returns what the server and the client received.
    fn exchange(&mut self, n: usize) -> (Vec<Vec<u8>>, Vec<Vec<u8>>) {
        let s = self.server.expect("a server was added");
        let (before_c, before_s) = (app_data(self.client()).len(), app_data(self.server()).len());
        for i in 0..n {
            let up = format!("client->server {i}");
            let down = format!("server->client {i}");
            let c = &mut self.sim.endpoint_mut(self.client).inner.ep;
            c.send(up.as_bytes()).unwrap();
            let sv = &mut self.sim.endpoint_mut(s).inner.ep;
            sv.send(down.as_bytes()).unwrap();
            // Spread the messages out so each meets the link on its own.
            self.sim.run_for(Duration::from_millis(5));
        }
        self.sim
            .run_until_idle(Duration::from_secs(10))
            .expect("connected endpoints keep no timer, so the network drains");
        let at_server = app_data(self.server()).split_off(before_s);
        let at_client = app_data(self.client()).split_off(before_c);
        (at_server, at_client)
    }

    fn handshake_datagrams(&self) -> usize {
        let count = |n: &Node| {
            n.inner
                .sent
                .iter()
                .filter(|(_, d)| is_handshake_traffic(d))
                .count()
        };
        count(self.client()) + count(self.server())
    }
}

/// True for a datagram that carries no application data record.
fn is_handshake_traffic(d: &[u8]) -> bool {
    Records::new(d)
        .map_while(Result::ok)
        .all(|r| r.content_type() != ContentType::ApplicationData)
}

fn failed(n: &Node) -> bool {
    !n.errors.is_empty() || n.events.iter().any(|(_, e)| matches!(e, Event::Failed(_)))
}

fn app_data(n: &Node) -> Vec<Vec<u8>> {
    n.events
        .iter()
        .filter_map(|(_, e)| match e {
            Event::ApplicationData(d) => Some(d.to_vec()),
            _ => None,
        })
        .collect()
}

fn connected_events(n: &Node) -> Vec<&ferrtc_dtls::Negotiated> {
    n.events
        .iter()
        .filter_map(|(_, e)| match e {
            Event::Connected(neg) => Some(neg),
            _ => None,
        })
        .collect()
}

/// Both sides connected once, agree on what was negotiated, and hold mirrored SRTP keys.
fn assert_connected_with_matching_keys(net: &Net, what: &str) {
    let (c, s) = (net.client(), net.server());
    assert!(c.inner.ep.is_connected(), "{what}: client not connected");
    assert!(s.inner.ep.is_connected(), "{what}: server not connected");
    assert!(c.errors.is_empty(), "{what}: client errors {:?}", c.errors);
    assert!(s.errors.is_empty(), "{what}: server errors {:?}", s.errors);
    let (cn, sn) = (connected_events(c), connected_events(s));
    assert_eq!((cn.len(), sn.len()), (1, 1), "{what}: one Connected each");
    assert_eq!(cn[0].cipher_suite, sn[0].cipher_suite, "{what}");
    assert_eq!(cn[0].srtp_profile, sn[0].srtp_profile, "{what}");
    assert!(cn[0].srtp_profile.is_some(), "{what}: use_srtp negotiated");
    let ck = c.inner.ep.srtp_keys().unwrap();
    let sk = s.inner.ep.srtp_keys().unwrap();
    assert_eq!(ck.profile(), sk.profile(), "{what}");
    let len = ck.profile().keying_material_len();
    let label = ferrtc_dtls::SRTP_EXPORTER_LABEL;
    assert_eq!(
        c.inner.ep.export_keying_material(label, len),
        s.inner.ep.export_keying_material(label, len),
        "{what}"
    );
    assert_eq!(ck.local_key(), sk.remote_key(), "{what}");
    assert_eq!(ck.local_salt(), sk.remote_salt(), "{what}");
    assert_eq!(ck.remote_key(), sk.local_key(), "{what}");
    assert_eq!(ck.remote_salt(), sk.local_salt(), "{what}");
    assert_ne!(
        ck.local_key(),
        ck.remote_key(),
        "{what}: one key per direction"
    );
}

/// What went across a lossy link: every message at most once (the anti-replay window
/// drops the link's duplicates), only messages that were sent, at least one of them.
fn assert_lossy_delivery(received: &[Vec<u8>], prefix: &str, n: usize, what: &str) {
    let sent: Vec<Vec<u8>> = (0..n)
        .map(|i| format!("{prefix} {i}").into_bytes())
        .collect();
    assert!(!received.is_empty(), "{what}: no {prefix} data arrived");
    for m in received {
        assert!(sent.contains(m), "{what}: unexpected data {m:?}");
    }
    let mut unique = received.to_vec();
    unique.sort();
    unique.dedup();
    assert_eq!(
        unique.len(),
        received.len(),
        "{what}: a duplicate got through"
    );
}

/// The RFC 6347 §4.2.4.1 schedule of the configuration: the offsets (from the first
/// transmission of a flight) at which the flight is sent, and when the endpoint gives up.
fn back_off(cfg: &Config) -> (Vec<Duration>, Duration) {
    let mut rto = cfg.initial_rto;
    let mut at = Duration::ZERO;
    let mut sends = vec![at];
    for _ in 0..cfg.max_retransmissions {
        at += rto;
        sends.push(at);
        rto = (rto * 2).min(cfg.max_rto);
    }
    (sends, at + rto)
}

/// The single alert record in `d`, as (epoch, plaintext body when epoch 0).
fn alert_record(d: &[u8]) -> Option<(u16, Vec<u8>)> {
    let records: Vec<_> = Records::new(d).map_while(Result::ok).collect();
    match records.as_slice() {
        [r] if r.content_type() == ContentType::Alert => Some((r.epoch(), r.fragment().to_vec())),
        _ => None,
    }
}

/// netsim's trace digest (FNV-1a, 64 bits), to tell whether a given datagram was delivered.
fn fnv1a(data: &[u8]) -> u64 {
    data.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

fn delivered_to(sim: &Sim, to: Handle<Node>, datagram: &[u8]) -> bool {
    let digest = fnv1a(datagram);
    sim.trace().iter().any(|e| {
        matches!(e.kind, TraceKind::Delivered { endpoint, digest: d, .. }
            if endpoint == to.id() && d == digest)
    })
}

/// Link counters that do not depend on datagram contents (sizes vary with ECDSA signatures).
fn counts(s: LinkStats) -> [u64; 7] {
    [
        s.sent,
        s.delivered,
        s.dropped_loss,
        s.dropped_mtu,
        s.duplicated,
        s.reordered,
        s.out_of_order,
    ]
}

// ---- 1. clean link ----------------------------------------------------------------------

const LATENCY: Duration = Duration::from_millis(10);

#[test]
fn clean_link_is_six_datagrams_in_sixty_milliseconds() {
    for seed in 0..3 {
        let (c, s) = configs();
        let mut net = Net::new(seed, LinkConfig::ideal().latency(LATENCY), c, Some(s));
        let took = net.handshake();
        assert_connected_with_matching_keys(&net, "clean");
        // ClientHello, HelloVerifyRequest, ClientHello with cookie, flight 4, flight 5,
        // flight 6: six one-way trips of 10 ms, no timer fired.
        assert_eq!(took, 6 * LATENCY, "seed {seed}");
        assert_eq!(net.sim.link_stats(net.up).sent, 3, "seed {seed}");
        assert_eq!(net.sim.link_stats(net.down).sent, 3, "seed {seed}");
        assert_eq!(net.sim.stats().timeouts, 0, "seed {seed}");
        // The server connected one trip earlier, on the client's Finished.
        let server_at = net.server().events[0].0 - net.sim.epoch();
        assert!(matches!(net.server().events[0].1, Event::Connected(_)));
        assert_eq!(server_at, 5 * LATENCY, "seed {seed}");

        let (at_server, at_client) = net.exchange(5);
        let expect = |p: &str| {
            (0..5)
                .map(|i| format!("{p} {i}").into_bytes())
                .collect::<Vec<_>>()
        };
        assert_eq!(at_server, expect("client->server"), "seed {seed}");
        assert_eq!(at_client, expect("server->client"), "seed {seed}");
        // Each message crossed in one trip.
        let first = net
            .server()
            .events
            .iter()
            .find(|(_, e)| matches!(e, Event::ApplicationData(_)))
            .unwrap()
            .0;
        assert_eq!(first - net.sim.epoch(), took + LATENCY);
        let up = net.sim.link_stats(net.up);
        assert_eq!((up.sent, up.delivered, up.dropped_loss), (8, 8, 0));
    }
}

// ---- 2. 30 % loss, duplication, reordering, jitter ----------------------------------------

/// 30 % loss each way; of what gets through, 20 % duplicated and 20 % held back 30 ms;
/// 20 ms plus up to 10 ms of jitter.
fn rough_link() -> LinkConfig {
    LinkConfig::ideal()
        .latency(Duration::from_millis(20))
        .jitter(Duration::from_millis(10))
        .loss(0.3)
        .duplicate(0.2)
        .reorder(0.2, Duration::from_millis(30))
}

/// One lossy run's outcome, in terms that do not depend on datagram contents.
#[derive(Debug, PartialEq, Eq)]
struct LossyRun {
    took: Duration,
    timeouts: u64,
    handshake_lost: u64,
    retransmissions: usize,
    up: [u64; 7],
    down: [u64; 7],
    received: (usize, usize),
}

fn lossy_run(seed: u64) -> LossyRun {
    let (c, s) = configs();
    let (_, give_up) = back_off(&c);
    let mut net = Net::new(seed, rough_link(), c, Some(s));
    let took = net.handshake();
    let what = format!("lossy seed {seed}");
    assert_connected_with_matching_keys(&net, &what);
    // The client sends flights 1, 3 and 5; each is answered before the client would give up
    // on it (1 + 2 + 4 + 8 + 16 + 32 + 60 = 123 s), or the handshake fails.
    let bound = 3 * give_up;
    assert!(took <= bound, "{what}: {took:?} > {bound:?}");
    // Every flight fits in one datagram here, so a clean handshake is six datagrams and
    // anything beyond is a retransmission: on a timer, or because the peer repeated the
    // flight ours answers (RFC 6347 §4.2.4), which a duplicated datagram also looks like.
    // Whenever the link lost part of the handshake, flights had to go out again. (A seed
    // may lose nothing before the handshake is over: 0.7^6 is 12 %.)
    let timeouts = net.sim.stats().timeouts;
    let handshake_datagrams = net.handshake_datagrams();
    let retransmissions = handshake_datagrams - 6;
    let handshake_lost =
        net.sim.link_stats(net.up).dropped_loss + net.sim.link_stats(net.down).dropped_loss;
    if handshake_lost > 0 {
        assert!(
            retransmissions > 0,
            "{what}: lost {handshake_lost}, no repeat"
        );
    }
    if timeouts > 0 {
        assert!(
            retransmissions > 0,
            "{what}: a timer fired without a repeat"
        );
    }

    let (at_server, at_client) = net.exchange(20);
    assert_lossy_delivery(&at_server, "client->server", 20, &what);
    assert_lossy_delivery(&at_client, "server->client", 20, &what);
    let (up, down) = (net.sim.link_stats(net.up), net.sim.link_stats(net.down));
    for (dir, l) in [("up", up), ("down", down)] {
        assert!(l.dropped_loss > 0, "{what} {dir}: nothing lost");
        assert_eq!(l.dropped_mtu, 0, "{what} {dir}");
        assert_eq!(
            l.sent,
            l.delivered - l.duplicated + l.dropped_loss,
            "{what}"
        );
    }
    assert!(
        up.duplicated + down.duplicated > 0,
        "{what}: nothing duplicated"
    );
    assert!(
        up.reordered + down.reordered > 0,
        "{what}: nothing reordered"
    );
    assert!(up.out_of_order + down.out_of_order > 0, "{what}");
    LossyRun {
        took,
        timeouts,
        handshake_lost,
        retransmissions,
        up: counts(up),
        down: counts(down),
        received: (at_server.len(), at_client.len()),
    }
}

#[test]
fn thirty_percent_loss_with_duplication_and_reordering_completes_for_20_seeds() {
    let runs: Vec<LossyRun> = (0..20).map(lossy_run).collect();
    let slowest = runs.iter().map(|r| r.took).max().unwrap();
    let timeouts: u64 = runs.iter().map(|r| r.timeouts).sum();
    let lost: u64 = runs.iter().map(|r| r.up[2] + r.down[2]).sum();
    let sent: u64 = runs.iter().map(|r| r.up[0] + r.down[0]).sum();
    let retransmissions: usize = runs.iter().map(|r| r.retransmissions).sum();
    let retransmitting = runs.iter().filter(|r| r.retransmissions > 0).count();
    let on_timer = runs.iter().filter(|r| r.timeouts > 0).count();
    // About 30 % of everything sent was lost; most handshakes had to retransmit, many of
    // them on a timer.
    assert!(
        (sent * 2 / 10..sent * 4 / 10).contains(&lost),
        "{lost}/{sent}"
    );
    assert!(retransmitting >= 15, "{retransmitting} of 20");
    assert!(on_timer >= 5, "{on_timer} of 20");
    eprintln!(
        "30% loss, 20 seeds: slowest handshake {slowest:?}; {retransmissions} datagrams \
         repeated in {retransmitting} handshakes, {timeouts} timer firings in {on_timer}; \
         {lost} of {sent} datagrams lost"
    );
}

#[test]
fn lossy_runs_replay_with_the_same_seed() {
    assert_eq!(lossy_run(7), lossy_run(7));
}

// ---- 3. a 576-byte path MTU -------------------------------------------------------------

/// An IPv4 path MTU of 576 bytes leaves 548 for the UDP payload (20 + 8 header bytes);
/// netsim's MTU counts payload bytes.
const PATH_MTU: usize = 576;
const UDP_PAYLOAD: usize = PATH_MTU - 20 - 8;

/// A P-256 certificate of about 1.1 kB (thirty subject alternative names), so that the
/// Certificate message alone is twice the path's payload. The browsers' WebRTC
/// certificates (about 300 bytes, like `Certificate::generate`) fit in one datagram
/// even here, and would only show flights split across datagrams, not messages split
/// into fragments.
fn big_certificate(name: &str) -> Arc<Certificate> {
    let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
    let names = (0..30)
        .map(|i| format!("{name}-{i:02}.media-relay.example.org"))
        .collect::<Vec<_>>();
    let der = rcgen::CertificateParams::new(names)
        .unwrap()
        .self_signed(&key)
        .unwrap()
        .der()
        .to_vec();
    assert!(der.len() > 2 * UDP_PAYLOAD, "{}", der.len());
    Arc::new(Certificate::from_der(der, &key.serialize_der()).unwrap())
}

fn big_configs(mtu: usize) -> (Config, Config) {
    let (a, b) = (big_certificate("client"), big_certificate("server"));
    let mut c = Config::new(
        DtlsRole::Client,
        a.clone(),
        vec![b.fingerprint(HashAlgorithm::Sha256)],
    );
    let mut s = Config::new(
        DtlsRole::Server,
        b,
        vec![a.fingerprint(HashAlgorithm::Sha256)],
    );
    c.mtu = mtu;
    s.mtu = mtu;
    (c, s)
}

/// The Certificate message fragments (offset, length, total) in an epoch-0 datagram.
fn certificate_fragments(d: &[u8]) -> Vec<(u32, u32, u32)> {
    let u24 = |b: &[u8]| u32::from_be_bytes([0, b[0], b[1], b[2]]);
    Records::new(d)
        .map_while(Result::ok)
        .filter(|r| r.epoch() == 0 && r.content_type() == ContentType::Handshake)
        .filter_map(|r| {
            // Handshake header (RFC 6347 §4.2.2): type, length, message_seq, offset,
            // fragment length; 11 is certificate.
            let h = r.fragment().get(..12)?;
            (h[0] == 11).then(|| (u24(&h[6..9]), u24(&h[9..12]), u24(&h[1..4])))
        })
        .collect()
}

fn mtu_link() -> LinkConfig {
    LinkConfig::ideal()
        .latency(LATENCY)
        .jitter(Duration::from_millis(5))
        .loss(0.1)
        .duplicate(0.1)
        .reorder(0.2, Duration::from_millis(15))
        .mtu(UDP_PAYLOAD)
}

#[test]
fn certificates_fragmented_to_a_576_byte_path_mtu_get_through() {
    for seed in 0..5 {
        let what = format!("mtu seed {seed}");
        let (c, s) = big_configs(UDP_PAYLOAD);
        let mut net = Net::new(seed, mtu_link(), c, Some(s));
        net.handshake();
        assert_connected_with_matching_keys(&net, &what);
        let (at_server, at_client) = net.exchange(10);
        assert_lossy_delivery(&at_server, "client->server", 10, &what);
        assert_lossy_delivery(&at_client, "server->client", 10, &what);
        let (up, down) = (net.sim.link_stats(net.up), net.sim.link_stats(net.down));
        assert_eq!((up.dropped_mtu, down.dropped_mtu), (0, 0), "{what}");
        assert!(up.dropped_loss + down.dropped_loss > 0, "{what}");
        for n in [net.client(), net.server()] {
            let largest = n.inner.sent.iter().map(|(_, d)| d.len()).max().unwrap();
            assert!(largest <= UDP_PAYLOAD, "{what}: {largest}");
            // Each certificate went out in several fragments that together cover it.
            let frags: Vec<_> = n
                .inner
                .sent
                .iter()
                .flat_map(|(_, d)| certificate_fragments(d))
                .collect();
            let total = frags[0].2;
            assert!(frags.len() >= 3, "{what}: {frags:?}");
            assert!(frags.iter().all(|f| f.1 < total), "{what}: a whole message");
            let mut covered = 0;
            let mut sorted = frags.clone();
            sorted.sort();
            for (off, len, _) in sorted {
                assert!(off <= covered, "{what}: gap in {frags:?}");
                covered = covered.max(off + len);
            }
            assert_eq!(covered, total, "{what}");
        }
    }
}

#[test]
fn unfragmented_flights_die_on_a_576_byte_path_mtu() {
    // The control: the same certificates, endpoints left at the 1200-byte default, the
    // same path without loss. The ClientHello fits; every copy of the server's flight 4
    // loses its full-size datagrams (the certificate, fragmented to 1200 bytes); the client
    // gives up with a typed timeout and its internal_error alert ends the server too. (The
    // alert lands on the very instant the server's own schedule for flight 4, sent at
    // 30 ms, runs out; netsim delivers arrivals before timers, so the alert is what ends
    // it.)
    for seed in 0..3 {
        let what = format!("mtu control seed {seed}");
        let (c, s) = big_configs(1200);
        let (sends, give_up) = back_off(&c);
        let link = LinkConfig::ideal().latency(LATENCY).mtu(UDP_PAYLOAD);
        let mut net = Net::new(seed, link, c, Some(s));
        net.handshake();
        let idle_at = net.sim.run_until_idle(Duration::from_secs(3600)).unwrap();
        let (up, down) = (net.sim.link_stats(net.up), net.sim.link_stats(net.down));
        assert_eq!(up.dropped_mtu, 0, "{what}: ClientHellos fit");
        assert!(down.dropped_mtu >= sends.len() as u64, "{what}: {down:?}");
        assert!(!net.client().inner.ep.is_connected(), "{what}");
        assert!(!net.server().inner.ep.is_connected(), "{what}");
        // Flight 3 goes out at 20 ms; the client gives up on it one schedule later.
        let timeout_at = net.sim.epoch() + 2 * LATENCY + give_up;
        assert_eq!(
            net.client().events,
            vec![(timeout_at, Event::Failed(Error::HandshakeTimeout))],
            "{what}"
        );
        let alert = Error::AlertReceived(AlertDescription::InternalError);
        assert_eq!(
            net.server().errors,
            vec![(timeout_at + LATENCY, alert)],
            "{what}"
        );
        assert_eq!(idle_at, timeout_at + LATENCY, "{what}");
    }
}

// ---- 4. a peer that never answers -------------------------------------------------------

/// Runs a client that hears nothing until it fails; checks the schedule, the error and that the
/// simulation ends by itself.
fn assert_client_gives_up(net: &mut Net, what: &str) {
    let c = net.client;
    let (sends, give_up) = back_off(&Config::new(
        DtlsRole::Client,
        Arc::new(Certificate::generate().unwrap()),
        vec![],
    ));
    let limit = Duration::from_secs(3600);
    let at = net
        .sim
        .run_until_cond(limit, |sim| failed(sim.endpoint(c)))
        .unwrap_or_else(|e| panic!("{what}: {e}"));
    assert_eq!(at - net.sim.epoch(), give_up, "{what}: 1+2+4+8+16+32+60 s");
    assert_eq!(give_up, Duration::from_secs(123));
    let client = net.client();
    assert_eq!(
        client.events,
        vec![(at, Event::Failed(Error::HandshakeTimeout))],
        "{what}"
    );
    assert!(client.errors.is_empty(), "{what}");
    assert!(!client.inner.ep.is_connected());
    assert_eq!(
        client.inner.ep.poll_timeout(),
        None,
        "{what}: no timer left"
    );
    let times: Vec<Duration> = client.inner.sent.iter().map(|(t, _)| *t).collect();
    assert_eq!(
        times[..sends.len()],
        sends[..],
        "{what}: 0, 1, 3, 7, 15, 31, 63 s"
    );
    // The ClientHello seven times, then the internal_error alert.
    assert_eq!(times.len(), sends.len() + 1, "{what}");
    let (epoch, body) = alert_record(&client.inner.sent.last().unwrap().1).unwrap();
    assert_eq!((epoch, body.as_slice()), (0, &[2, 0x50][..]), "{what}");
    // Nothing is left to happen: the simulation goes idle instead of spinning.
    let idle = net.sim.run_until_idle(limit).unwrap();
    assert!(idle - net.sim.epoch() <= give_up + LATENCY, "{what}");
    let ep = &mut net.sim.endpoint_mut(c).inner.ep;
    assert_eq!(ep.send(b"x"), Err(Error::Closed), "{what}");
}

#[test]
fn client_without_a_server_times_out_at_123_seconds() {
    for seed in 0..3 {
        let (c, _) = configs();
        let mut net = Net::new(seed, LinkConfig::ideal().latency(LATENCY), c, None);
        assert_client_gives_up(&mut net, &format!("no server, seed {seed}"));
        let stats = net.sim.stats();
        assert_eq!(stats.dropped_no_endpoint, 8, "7 ClientHellos and the alert");
        assert_eq!(stats.delivered, 0);
    }
}

#[test]
fn client_behind_a_black_hole_times_out_at_123_seconds() {
    for seed in 0..3 {
        let (c, s) = configs();
        let link = LinkConfig::ideal().latency(LATENCY).loss(1.0);
        let mut net = Net::new(seed, link, c, Some(s));
        assert_client_gives_up(&mut net, &format!("black hole, seed {seed}"));
        assert_eq!(net.sim.link_stats(net.up).dropped_loss, 8);
        assert!(net.server().events.is_empty() && net.server().inner.sent.is_empty());
    }
}

#[test]
fn client_whose_answers_are_all_lost_times_out_and_the_stateless_server_arms_no_timer() {
    for seed in 0..3 {
        let (c, s) = configs();
        let retry = c.clone();
        let mut net = Net::new(seed, LinkConfig::ideal().latency(LATENCY), c, Some(s));
        net.sim
            .set_link_config(net.down, LinkConfig::ideal().latency(LATENCY).loss(1.0));
        net.sim.enable_trace();
        assert_client_gives_up(&mut net, &format!("one-way black hole, seed {seed}"));
        // The server answered every ClientHello with a HelloVerifyRequest and, being
        // stateless before the cookie, armed no timer: the seven timer calls were the
        // client's (six retransmissions, then giving up).
        assert_eq!(net.sim.stats().timeouts, 7);
        let server = net.server();
        assert_eq!(server.inner.sent.len(), 7);
        assert_eq!(net.sim.link_stats(net.down).dropped_loss, 7);
        assert_eq!(server.inner.ep.poll_timeout(), None);
        // The client's parting internal_error alert reaches it too, in plaintext, while it
        // still holds no cookie state. It used to fail the server on it; it no longer
        // does: with no verified peer, a plaintext alert could come from anyone, and one
        // spoofed datagram must not end an endpoint no handshake has started on. The
        // server ignores it and stays ready for a ClientHello.
        let s = net.server.expect("a server was added");
        let up = net.sim.link_stats(net.up);
        assert_eq!(up.delivered, 8, "seven ClientHellos and the alert");
        let (_, parting) = net.client().inner.sent.last().unwrap();
        assert!(delivered_to(&net.sim, s, parting));
        let server = net.server();
        assert!(server.errors.is_empty(), "{:?}", server.errors);
        assert!(server.events.is_empty(), "{:?}", server.events);
        assert!(!failed(server));
        assert_eq!(server.inner.sent.len(), 7, "the alert is not answered");
        // Proof it is still usable: once the way back works, the client's application
        // tries again from the same address and the same server endpoint completes.
        net.sim
            .set_link_config(net.down, LinkConfig::ideal().latency(LATENCY));
        let now = net.sim.now();
        let client = net.sim.endpoint_mut(net.client);
        client.inner.ep = client_endpoint(retry, seed ^ 0xa5, now);
        client.events.clear();
        net.handshake();
        assert!(Net::both_connected(&net.sim, net.client, s), "seed {seed}");
        assert_connected_with_matching_keys(&net, &format!("retry, seed {seed}"));
    }
}

// ---- 5. a wrong fingerprint over a lossy link -------------------------------------------

/// Which side expects a fingerprint the other's certificate does not have.
#[derive(Debug, Clone, Copy)]
enum Checker {
    Client,
    Server,
}

/// Returns whether the alert reached the other side, and how many datagrams the link lost.
fn wrong_fingerprint_run(seed: u64, checker: Checker) -> (bool, u64) {
    let what = format!("{checker:?} checks, seed {seed}");
    let (mut c, mut s) = configs();
    let stranger = Certificate::generate()
        .unwrap()
        .fingerprint(HashAlgorithm::Sha256);
    match checker {
        Checker::Client => c.remote_fingerprints = vec![stranger],
        Checker::Server => s.remote_fingerprints = vec![stranger],
    }
    let (_, give_up) = back_off(&c);
    let mut net = Net::new(seed, rough_link(), c, Some(s));
    net.sim.enable_trace();
    let end = net
        .sim
        .run_until_idle(Duration::from_secs(3600))
        .unwrap_or_else(|e| panic!("{what}: {e}"));
    assert!(end - net.sim.epoch() < 4 * give_up, "{what}");
    let server = net.server.unwrap();
    let (checking, other, other_handle) = match checker {
        Checker::Client => (net.client(), net.server(), server),
        Checker::Server => (net.server(), net.client(), net.client),
    };
    let mismatch = Error::PeerMisbehaved(PeerMisbehaved::FingerprintMismatch);
    assert_eq!(checking.errors.len(), 1, "{what}");
    assert_eq!(checking.errors[0].1, mismatch, "{what}");
    let failures: Vec<_> = checking
        .events
        .iter()
        .filter(|(_, e)| matches!(e, Event::Failed(_)))
        .collect();
    assert_eq!(
        failures,
        vec![&(checking.errors[0].0, Event::Failed(mismatch))]
    );
    // Its last datagram is the fatal bad_certificate alert, sent as it failed; nothing
    // after it (no retransmission from a failed endpoint).
    let (sent_at, alert) = checking.inner.sent.last().unwrap();
    assert_eq!(net.sim.epoch() + *sent_at, checking.errors[0].0, "{what}");
    // The Certificate message is checked before any key exists, so the alert is plaintext.
    let (epoch, body) = alert_record(alert).expect("an alert record");
    assert_eq!(
        (epoch, body.as_slice()),
        (0, &[2, 42][..]),
        "{what}: fatal bad_certificate"
    );
    assert!(!net.client().inner.ep.is_connected() && !net.server().inner.ep.is_connected());
    // The other side learns of it from the alert, or, when the link lost every copy,
    // gives up on its flight.
    if delivered_to(&net.sim, other_handle, alert) {
        assert_eq!(
            other
                .errors
                .iter()
                .map(|(_, e)| e.clone())
                .collect::<Vec<_>>(),
            vec![Error::AlertReceived(AlertDescription::BadCertificate)],
            "{what}"
        );
    } else {
        assert!(other.errors.is_empty(), "{what}");
        assert_eq!(
            other.events.last().map(|(_, e)| e),
            Some(&Event::Failed(Error::HandshakeTimeout)),
            "{what}"
        );
    }
    let alert_arrived = delivered_to(&net.sim, other_handle, alert);
    let lost = net.sim.link_stats(net.up).dropped_loss + net.sim.link_stats(net.down).dropped_loss;
    (alert_arrived, lost)
}

#[test]
fn wrong_fingerprint_over_a_lossy_link_fails_typed_with_an_alert() {
    let mut outcomes = Vec::new();
    for seed in 0..8 {
        outcomes.push(wrong_fingerprint_run(seed, Checker::Client));
        outcomes.push(wrong_fingerprint_run(seed, Checker::Server));
    }
    // The seeds cover both endings on the other side, and the link really was lossy.
    assert!(outcomes.iter().any(|o| o.0), "{outcomes:?}");
    assert!(outcomes.iter().any(|o| !o.0), "{outcomes:?}");
    assert!(
        outcomes.iter().filter(|o| o.1 > 0).count() >= 8,
        "{outcomes:?}"
    );
}

// ---- 6. a genuine repeat after our timer backed off ---------------------------------------

/// RFC 6347 §4.2.4: a retransmitted flight from the peer means ours was lost, and is
/// answered with our flight. Here the server's flight 4 is lost for 7.5 s, so its timer
/// backs off (sends at 0, 1, 3 and 7 s; the next would be 15 s). The client's timer does
/// not back off (its ceiling is its initial 1 s, as Pion's flights repeat every second),
/// so its hello keeps coming once a second. When the link heals, the first repeat of the
/// client's hello must be answered at once, not when the server's backed-off timer fires
/// or half of it has passed since its last send (4 s).
#[test]
fn a_genuine_repeat_is_answered_before_our_backed_off_timer() {
    let (mut c, s) = configs();
    c.initial_rto = Duration::from_secs(1);
    c.max_rto = Duration::from_secs(1);
    c.max_retransmissions = 30;
    let link = LinkConfig::ideal().latency(LATENCY);
    let mut net = Net::new(3, link.clone(), c, Some(s));
    // The cookie exchange gets through: run until the client has sent its second hello.
    let client = net.client;
    net.sim
        .run_until_cond(Duration::from_secs(1), |sim| {
            sim.endpoint(client).inner.sent.len() >= 2
        })
        .expect("the HelloVerifyRequest arrives");
    net.sim.set_link_config(net.down, link.clone().loss(1.0));
    net.sim.run_for(Duration::from_millis(7500));
    let lost = net.sim.link_stats(net.down).dropped_loss;
    let server_sends: Vec<Duration> = net.server().inner.sent.iter().map(|(t, _)| *t).collect();
    // HVR, then flight 4 on the timer at least at 0, 1, 3 and 7 s after the hello.
    assert!(lost >= 4, "server datagrams lost: {lost}");
    let last_server_send = *server_sends.last().unwrap();
    assert!(
        last_server_send >= Duration::from_secs(7),
        "the server's timer backed off to its 7 s send: {server_sends:?}"
    );
    // The server's timer has backed off to 8 s: its next send is due at 15 s.
    let server_timer = net.server().inner.ep.poll_timeout().unwrap() - net.sim.epoch();
    assert!(
        server_timer >= Duration::from_secs(15),
        "server timer due at {server_timer:?}"
    );
    net.sim.set_link_config(net.down, link);
    let healed = net.sim.elapsed();
    let took = net.handshake();
    assert_connected_with_matching_keys(&net, "after the outage");
    // The client repeats its hello within 1 s of the healing; the server answers that
    // repeat, and flights 5 and 6 take one more round trip (40 ms).
    assert!(
        took <= Duration::from_millis(1100),
        "connected {took:?} after the link healed at {healed:?}; server sent at \
         {:?}",
        net.server()
            .inner
            .sent
            .iter()
            .map(|(t, _)| *t)
            .collect::<Vec<_>>()
    );
    // Answered at once: the server's first datagram after the healing went out as the
    // client's repeat arrived, 10 ms after the client sent it.
    let first_after = net
        .server()
        .inner
        .sent
        .iter()
        .map(|(t, _)| *t)
        .find(|t| *t > healed)
        .unwrap();
    let client_repeat = net
        .client()
        .inner
        .sent
        .iter()
        .map(|(t, _)| *t)
        .find(|t| *t > healed)
        .unwrap();
    assert_eq!(first_after, client_repeat + LATENCY);
    eprintln!(
        "link healed at {healed:?}; connected {took:?} later; the server's backed-off \
         timer was due {:?} after the healing",
        server_timer - healed
    );
}

// ---- 7. byte-for-byte replay ------------------------------------------------------------

/// Every random choice of a run comes from the seeds (the links' draws, hello randoms,
/// cookie secret, ECDHE scalars) and, with `deterministic_signatures`, signatures are RFC
/// 6979 ones, so the same seeded run sends the same datagrams at the same times, byte for
/// byte, both ways, and derives the same keys. (The certificates are made once, outside
/// the runs.)
#[test]
fn a_seeded_run_replays_byte_for_byte() {
    let (mut c, mut s) = configs();
    c.deterministic_signatures = true;
    s.deterministic_signatures = true;
    type Sent = Vec<(Duration, Vec<u8>)>;
    let run = |seed: u64| -> (Sent, Sent, Vec<u8>) {
        let mut net = Net::new(seed, rough_link(), c.clone(), Some(s.clone()));
        net.handshake();
        assert_connected_with_matching_keys(&net, &format!("replay seed {seed}"));
        let (at_server, at_client) = net.exchange(10);
        assert!(!at_server.is_empty() && !at_client.is_empty());
        let keys = net
            .client()
            .inner
            .ep
            .export_keying_material(ferrtc_dtls::SRTP_EXPORTER_LABEL, 60)
            .unwrap();
        (
            net.client().inner.sent.clone(),
            net.server().inner.sent.clone(),
            keys,
        )
    };
    let first = run(11);
    let again = run(11);
    // More than a clean handshake's six datagrams: the lossy link made both sides repeat.
    assert!(first.0.len() + first.1.len() > 6 + 20);
    assert_eq!(first.0.len(), again.0.len());
    assert_eq!(first.1.len(), again.1.len());
    for (i, (a, b)) in first.0.iter().zip(&again.0).enumerate() {
        assert_eq!(a, b, "client datagram {i}");
    }
    for (i, (a, b)) in first.1.iter().zip(&again.1).enumerate() {
        assert_eq!(a, b, "server datagram {i}");
    }
    assert_eq!(first.2, again.2, "the same exported keys");
    // Another seed is another run: other hello randoms, ECDHE keys, keys.
    let other = run(12);
    assert_ne!(first.0[0].1, other.0[0].1);
    assert_ne!(first.2, other.2);
}
