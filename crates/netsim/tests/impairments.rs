//! Each link impairment does what it says, measured over many datagrams with fixed seeds.

use std::net::SocketAddr;
use std::time::Duration;

use ferrtc_netsim::endpoints::{Pacer, Recorder};
use ferrtc_netsim::{Bandwidth, Handle, LinkConfig, LinkId, Sim};

const A: &str = "10.0.0.1:5000";
const B: &str = "10.0.0.2:6000";

fn sa(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

struct Run {
    sim: Sim,
    link: LinkId,
    pacer: Handle<Pacer>,
    recorder: Handle<Recorder>,
}

/// `count` datagrams of `size` bytes, one every `interval`, from A to B over `config`.
fn run(seed: u64, config: LinkConfig, count: u64, interval: Duration, size: usize) -> Run {
    let mut sim = Sim::new(seed);
    let (a, b) = (sa(A), sa(B));
    let link = sim.add_link(a.ip(), b.ip(), config);
    let pacer = sim.add_endpoint([a], Pacer::new(a, b, count, interval).size(size));
    let recorder = sim.add_endpoint([b], Recorder::new());
    sim.run_until_idle(Duration::from_secs(3600)).unwrap();
    Run {
        sim,
        link,
        pacer,
        recorder,
    }
}

/// One-way delays of the datagrams B received, in arrival order.
fn delays(r: &Run) -> Vec<Duration> {
    let sent = &r.sim.endpoint(r.pacer).sent;
    r.sim
        .endpoint(r.recorder)
        .received
        .iter()
        .map(|rx| rx.at - sent[Pacer::sequence_number(&rx.data).unwrap() as usize])
        .collect()
}

/// Pairs (i < j) that arrived in the opposite order to the one they were sent in.
fn inversions(seqs: &[u64]) -> u64 {
    let mut n = 0;
    for (i, a) in seqs.iter().enumerate() {
        n += seqs[i + 1..].iter().filter(|b| *b < a).count() as u64;
    }
    n
}

#[test]
fn ten_percent_loss_drops_ten_percent() {
    // 10,000 datagrams at p = 0.1: the standard deviation is 30, so ±150 is five of them.
    for seed in [1, 2, 3, 1234, 0xdead_beef] {
        let r = run(
            seed,
            LinkConfig::ideal().loss(0.1),
            10_000,
            Duration::from_millis(1),
            8,
        );
        let s = r.sim.link_stats(r.link);
        assert_eq!(s.sent, 10_000);
        assert!((850..=1150).contains(&s.dropped_loss), "seed {seed}: {s:?}");
        assert_eq!(s.delivered + s.dropped_loss, 10_000);
        assert_eq!(
            r.sim.endpoint(r.recorder).received.len() as u64,
            s.delivered
        );
        assert_eq!((s.dropped_mtu, s.dropped_queue, s.duplicated), (0, 0, 0));
    }
}

#[test]
fn no_loss_delivers_everything_in_order() {
    let r = run(
        5,
        LinkConfig::ideal(),
        10_000,
        Duration::from_micros(100),
        8,
    );
    let seqs = r.sim.endpoint(r.recorder).sequence_numbers();
    assert_eq!(seqs, (0..10_000).collect::<Vec<_>>());
    assert_eq!(r.sim.link_stats(r.link).out_of_order, 0);
}

#[test]
fn latency_is_exact_without_jitter() {
    let latency = Duration::from_millis(37);
    let r = run(
        9,
        LinkConfig::ideal().latency(latency),
        500,
        Duration::from_millis(3),
        100,
    );
    let d = delays(&r);
    assert_eq!(d.len(), 500);
    assert!(d.iter().all(|&x| x == latency), "{d:?}");
    let seqs = r.sim.endpoint(r.recorder).sequence_numbers();
    assert_eq!(inversions(&seqs), 0);
}

#[test]
fn jitter_spreads_arrivals_within_bounds() {
    let (latency, jitter) = (Duration::from_millis(50), Duration::from_millis(20));
    let cfg = LinkConfig::ideal().latency(latency).jitter(jitter);
    let r = run(11, cfg, 5_000, Duration::from_millis(1), 8);
    let d = delays(&r);
    assert_eq!(d.len(), 5_000);
    let (min, max) = (*d.iter().min().unwrap(), *d.iter().max().unwrap());
    assert!(
        min >= latency && max <= latency + jitter,
        "{min:?}..{max:?}"
    );
    // Uniform over 50..=70 ms: spread over nearly the whole range, centred on 60 ms.
    assert!(
        min < Duration::from_millis(51) && max > Duration::from_millis(69),
        "{min:?}..{max:?}"
    );
    let mean = d.iter().sum::<Duration>() / d.len() as u32;
    assert!(
        mean.abs_diff(Duration::from_millis(60)) < Duration::from_millis(1),
        "{mean:?}"
    );
    // Datagrams 1 ms apart with 20 ms of jitter overtake each other.
    assert!(r.sim.link_stats(r.link).out_of_order > 1000);
}

#[test]
fn reordering_really_reorders() {
    // 1 ms apart, 10% held back by 5 ms: each held-back datagram is overtaken by about five.
    let cfg = LinkConfig::ideal()
        .latency(Duration::from_millis(10))
        .reorder(0.1, Duration::from_millis(5) + Duration::from_micros(500));
    let r = run(21, cfg, 2_000, Duration::from_millis(1), 8);
    let s = r.sim.link_stats(r.link);
    assert!((140..=260).contains(&s.reordered), "{s:?}");
    let seqs = r.sim.endpoint(r.recorder).sequence_numbers();
    assert_eq!(seqs.len(), 2_000, "reordering loses nothing");
    let inv = inversions(&seqs);
    // A held-back datagram is overtaken by the next five unless some of those were held back
    // too, so between 4 and 5 inversions each on average.
    assert!(
        inv >= 4 * s.reordered && inv <= 5 * s.reordered,
        "{inv} inversions, {s:?}"
    );
    // Each held-back datagram arrives after a later one; nothing else does.
    assert_eq!(s.out_of_order, s.reordered);
    // Delays are the latency or the latency plus the reorder delay, nothing else.
    for d in delays(&r) {
        assert!(
            d == Duration::from_millis(10) || d == Duration::from_micros(15_500),
            "{d:?}"
        );
    }
}

#[test]
fn duplication_rate() {
    let r = run(
        31,
        LinkConfig::ideal().duplicate(0.05),
        10_000,
        Duration::from_millis(1),
        8,
    );
    let s = r.sim.link_stats(r.link);
    // sd = sqrt(10000 * 0.05 * 0.95) ≈ 22; ±100 is more than four.
    assert!((400..=600).contains(&s.duplicated), "{s:?}");
    assert_eq!(s.delivered, 10_000 + s.duplicated);
    let mut seqs = r.sim.endpoint(r.recorder).sequence_numbers();
    assert_eq!(seqs.len() as u64, 10_000 + s.duplicated);
    seqs.sort_unstable();
    let mut twice = 0;
    for w in seqs.windows(3) {
        assert!(
            !(w[0] == w[1] && w[1] == w[2]),
            "nothing arrives three times"
        );
    }
    for w in seqs.windows(2) {
        twice += u64::from(w[0] == w[1]);
    }
    assert_eq!(twice, s.duplicated);
    seqs.dedup();
    assert_eq!(seqs, (0..10_000).collect::<Vec<_>>());
}

#[test]
fn bandwidth_cap_sets_the_delivery_rate_and_tail_drops() {
    // 1 Mbit/s and 1000-byte datagrams: one every 8 ms. Offered: one every 2 ms for 2 s.
    let cfg = LinkConfig::ideal()
        .latency(Duration::from_millis(5))
        .bandwidth(Bandwidth::new(1_000_000, 10_000));
    let r = run(41, cfg, 1_000, Duration::from_millis(2), 1000);
    let s = r.sim.link_stats(r.link);
    let rx = &r.sim.endpoint(r.recorder).received;
    assert_eq!(s.delivered, rx.len() as u64);
    assert_eq!(s.delivered + s.dropped_queue, 1_000);
    // The link drains 250 datagrams in the 2 s of sending, plus the ten left in the queue.
    assert!((255..=262).contains(&s.delivered), "{s:?}");
    // Back to back at exactly the serialization time.
    for w in rx.windows(2) {
        assert_eq!(w[1].at - w[0].at, Duration::from_millis(8));
    }
    // The first one: 8 ms to send, 5 ms to propagate.
    assert_eq!(
        rx[0].at - r.sim.endpoint(r.pacer).sent[0],
        Duration::from_millis(13)
    );
    // Bytes per second delivered while saturated: 125,000.
    let span = rx.last().unwrap().at - rx[0].at;
    let rate = (rx.len() as f64 - 1.0) * 1000.0 / span.as_secs_f64();
    assert!((rate - 125_000.0).abs() < 1.0, "{rate}");
}

#[test]
fn bandwidth_under_capacity_drops_nothing() {
    let cfg = LinkConfig::ideal().bandwidth(Bandwidth::new(1_000_000, 1_000));
    let r = run(42, cfg, 1_000, Duration::from_millis(10), 1000);
    let s = r.sim.link_stats(r.link);
    assert_eq!((s.delivered, s.dropped_queue), (1_000, 0));
    assert!(delays(&r).iter().all(|&d| d == Duration::from_millis(8)));
}

#[test]
fn mtu_drops_oversize_only() {
    let big = run(
        51,
        LinkConfig::ideal().mtu(1200),
        100,
        Duration::from_millis(1),
        1201,
    );
    let s = big.sim.link_stats(big.link);
    assert_eq!((s.sent, s.dropped_mtu, s.delivered), (100, 100, 0));
    assert!(big.sim.endpoint(big.recorder).received.is_empty());

    let fits = run(
        51,
        LinkConfig::ideal().mtu(1200),
        100,
        Duration::from_millis(1),
        1200,
    );
    let s = fits.sim.link_stats(fits.link);
    assert_eq!((s.sent, s.dropped_mtu, s.delivered), (100, 0, 100));
}

#[test]
fn links_are_one_way() {
    // a -> b lossy, b -> a clean: the reverse direction uses the default link.
    let mut sim = Sim::new(61);
    let (a, b) = (sa(A), sa(B));
    let ab = sim.add_link(a.ip(), b.ip(), LinkConfig::ideal().loss(1.0));
    sim.add_endpoint([a], Pacer::new(a, b, 10, Duration::from_millis(1)));
    sim.add_endpoint([b], Pacer::new(b, a, 10, Duration::from_millis(1)));
    sim.run_until_idle(Duration::from_secs(1)).unwrap();
    assert_eq!(sim.link_stats(ab).dropped_loss, 10);
    let back = sim.link_stats(Sim::DEFAULT_LINK);
    assert_eq!((back.sent, back.delivered), (10, 10));
}

#[test]
fn reconfiguring_a_link_applies_to_new_datagrams() {
    let mut sim = Sim::new(71);
    let (a, b) = (sa(A), sa(B));
    let link = sim.add_link(
        a.ip(),
        b.ip(),
        LinkConfig::ideal().latency(Duration::from_millis(100)),
    );
    let pacer = sim.add_endpoint([a], Pacer::new(a, b, 2, Duration::from_millis(10)));
    let rec = sim.add_endpoint([b], Recorder::new());
    sim.run_for(Duration::from_millis(5));
    sim.set_link_config(link, LinkConfig::ideal().latency(Duration::from_millis(1)));
    sim.run_until_idle(Duration::from_secs(1)).unwrap();
    // The second datagram (sent at 10 ms with 1 ms latency) overtakes the first.
    assert_eq!(sim.endpoint(rec).sequence_numbers(), vec![1, 0]);
    let sent = &sim.endpoint(pacer).sent;
    let rx = &sim.endpoint(rec).received;
    assert_eq!(rx[0].at - sent[1], Duration::from_millis(1));
    assert_eq!(rx[1].at - sent[0], Duration::from_millis(100));
    assert_eq!(sim.link_stats(link).out_of_order, 1);
}

#[test]
fn in_order_jitter_spreads_delays_without_reordering() {
    let cfg = LinkConfig::ideal()
        .latency(Duration::from_millis(50))
        .jitter(Duration::from_millis(20))
        .in_order(true);
    let r = run(12, cfg, 5_000, Duration::from_millis(5), 8);
    let seqs = r.sim.endpoint(r.recorder).sequence_numbers();
    assert_eq!(seqs, (0..5_000).collect::<Vec<_>>());
    assert_eq!(r.sim.link_stats(r.link).out_of_order, 0);
    let d = delays(&r);
    let (min, max) = (*d.iter().min().unwrap(), *d.iter().max().unwrap());
    // Waiting for an earlier datagram can add at most the jitter less the 5 ms spacing.
    assert!(
        min >= Duration::from_millis(50) && max <= Duration::from_millis(70),
        "{min:?}..{max:?}"
    );
    assert!(max - min > Duration::from_millis(15), "{min:?}..{max:?}");
}

/// Lengths of the runs of consecutive lost datagrams, from the sequence numbers received.
fn loss_runs(seqs: &[u64], count: u64) -> Vec<u64> {
    let mut runs = Vec::new();
    let mut expected = 0;
    for &s in seqs.iter().chain(std::iter::once(&count)) {
        if s > expected {
            runs.push(s - expected);
        }
        expected = s + 1;
    }
    runs
}

#[test]
fn burst_loss_loses_in_bursts() {
    // Bad 1% -> 25%: bad a 1/26 of the time, bursts of 4 on average, everything lost when bad.
    let cfg = LinkConfig::ideal().burst_loss(ferrtc_netsim::BurstLoss::new(0.01, 0.25, 1.0));
    let n = 50_000;
    let r = run(13, cfg, n, Duration::from_millis(1), 8);
    let s = r.sim.link_stats(r.link);
    let rate = s.dropped_loss as f64 / n as f64;
    assert!((0.030..=0.047).contains(&rate), "{rate}");
    let runs = loss_runs(&r.sim.endpoint(r.recorder).sequence_numbers(), n);
    assert_eq!(runs.iter().sum::<u64>(), s.dropped_loss);
    let mean = s.dropped_loss as f64 / runs.len() as f64;
    assert!((3.4..=4.6).contains(&mean), "mean burst {mean}");

    // The same average rate without bursts: runs of about one.
    let r = run(
        13,
        LinkConfig::ideal().loss(rate),
        n,
        Duration::from_millis(1),
        8,
    );
    let s = r.sim.link_stats(r.link);
    let runs = loss_runs(&r.sim.endpoint(r.recorder).sequence_numbers(), n);
    let mean = s.dropped_loss as f64 / runs.len() as f64;
    assert!(mean < 1.1, "mean run {mean}");
}
