//! One-way links: the impairments a datagram meets between two addresses.

use std::collections::VecDeque;
use std::time::Duration;

use rand::Rng;
use rand_chacha::ChaCha8Rng;

/// How a one-way link treats the datagrams that cross it.
///
/// The default is an ideal link: no latency, no loss, no limits. Build other links with the
/// chained setters:
///
/// ```
/// use std::time::Duration;
/// use ferrtc_netsim::{Bandwidth, LinkConfig};
///
/// let lossy = LinkConfig::ideal()
///     .latency(Duration::from_millis(40))
///     .jitter(Duration::from_millis(5))
///     .loss(0.02)
///     .reorder(0.01, Duration::from_millis(15))
///     .bandwidth(Bandwidth::new(2_000_000, 64 * 1024))
///     .mtu(1200);
/// assert_eq!(lossy.latency, Duration::from_millis(40));
/// ```
///
/// A datagram that enters the link at time `t` meets, in order:
/// 1. the MTU: a datagram whose payload is longer than [`mtu`](Self::mtu) is dropped;
/// 2. the bandwidth cap: it waits in a FIFO queue until the link has sent what was queued
///    before it, then takes `len * 8 / bits_per_second` to send; if the queue already holds
///    [`Bandwidth::queue_bytes`] bytes it is dropped (tail drop);
/// 3. random loss with probability [`loss`](Self::loss), or, with
///    [`burst_loss`](Self::burst_loss), a two-state Gilbert-Elliott model that loses datagrams
///    in bursts;
/// 4. propagation: [`latency`](Self::latency) plus a uniform random extra delay in
///    `0..=jitter`, drawn for each datagram on its own (so jitter alone can reorder, as in
///    netem, unless [`in_order`](Self::in_order) is set);
/// 5. reordering: with probability [`reorder`](Self::reorder) the datagram is held back a
///    further [`reorder_delay`](Self::reorder_delay), so later datagrams overtake it;
/// 6. duplication: with probability [`duplicate`](Self::duplicate) a copy is delivered too,
///    with its own jitter.
///
/// Sizes are UDP payload sizes: the IP and UDP headers are not counted by the MTU or by the
/// bandwidth cap.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub struct LinkConfig {
    /// Fixed one-way delay.
    pub latency: Duration,
    /// Largest extra delay; each datagram gets a uniform random extra delay in `0..=jitter`.
    pub jitter: Duration,
    /// Probability in `0.0..=1.0` that a datagram is lost.
    pub loss: f64,
    /// Probability in `0.0..=1.0` that a datagram is delivered twice.
    pub duplicate: f64,
    /// Probability in `0.0..=1.0` that a datagram is held back by `reorder_delay`.
    pub reorder: f64,
    /// Extra delay of a datagram picked for reordering.
    pub reorder_delay: Duration,
    /// Rate limit and queue, or `None` for unlimited.
    pub bandwidth: Option<Bandwidth>,
    /// Largest payload in bytes, or `None` for unlimited.
    pub mtu: Option<usize>,
    /// Burst loss, replacing `loss` as the loss model when set.
    pub burst_loss: Option<BurstLoss>,
    /// When true, jitter never makes a datagram arrive before one sent earlier on the link
    /// (it waits for it, as on a FIFO path); only the reorder impairment and duplicates
    /// reorder.
    pub in_order: bool,
}

/// The Gilbert-Elliott loss model: a link that is either good or bad.
///
/// Before each datagram the link changes state: good to bad with probability `enter_bad`,
/// bad to good with probability `leave_bad`. A datagram is then lost with probability
/// [`LinkConfig::loss`] when good and `loss_bad` when bad. Bad periods last `1 / leave_bad`
/// datagrams on average, and the link is bad `enter_bad / (enter_bad + leave_bad)` of the
/// time.
#[derive(Clone, Copy, Debug, PartialEq)]
#[non_exhaustive]
pub struct BurstLoss {
    /// Probability of going from good to bad, per datagram.
    pub enter_bad: f64,
    /// Probability of going from bad to good, per datagram.
    pub leave_bad: f64,
    /// Loss probability while bad.
    pub loss_bad: f64,
}

impl BurstLoss {
    /// A burst-loss model (probabilities are clamped to `0.0..=1.0`).
    pub fn new(enter_bad: f64, leave_bad: f64, loss_bad: f64) -> Self {
        BurstLoss {
            enter_bad: probability(enter_bad),
            leave_bad: probability(leave_bad),
            loss_bad: probability(loss_bad),
        }
    }
}

/// A bandwidth cap with a tail-drop queue.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Bandwidth {
    /// Link rate in bits per second. Zero means nothing ever gets through.
    pub bits_per_second: u64,
    /// Bytes the queue holds (including the datagram being sent) before it drops arrivals.
    pub queue_bytes: usize,
}

impl Bandwidth {
    /// A cap of `bits_per_second` with a queue of `queue_bytes` bytes.
    pub fn new(bits_per_second: u64, queue_bytes: usize) -> Self {
        Bandwidth {
            bits_per_second,
            queue_bytes,
        }
    }

    /// How long sending `len` bytes takes, rounded up to the nanosecond; `None` when the rate
    /// is zero.
    pub fn serialization_time(&self, len: usize) -> Option<Duration> {
        if self.bits_per_second == 0 {
            return None;
        }
        let bits = len as u128 * 8;
        let nanos = (bits * 1_000_000_000).div_ceil(u128::from(self.bits_per_second));
        Some(Duration::from_nanos(
            u64::try_from(nanos).unwrap_or(u64::MAX),
        ))
    }
}

impl Default for LinkConfig {
    fn default() -> Self {
        Self::ideal()
    }
}

fn probability(p: f64) -> f64 {
    // NaN and out-of-range values are clamped so a draw can never misbehave.
    if p.is_nan() { 0.0 } else { p.clamp(0.0, 1.0) }
}

impl LinkConfig {
    /// A link without delay, loss or limits.
    pub fn ideal() -> Self {
        LinkConfig {
            latency: Duration::ZERO,
            jitter: Duration::ZERO,
            loss: 0.0,
            duplicate: 0.0,
            reorder: 0.0,
            reorder_delay: Duration::ZERO,
            bandwidth: None,
            mtu: None,
            burst_loss: None,
            in_order: false,
        }
    }

    /// Sets the fixed one-way delay.
    pub fn latency(mut self, latency: Duration) -> Self {
        self.latency = latency;
        self
    }

    /// Sets the largest random extra delay.
    pub fn jitter(mut self, jitter: Duration) -> Self {
        self.jitter = jitter;
        self
    }

    /// Sets the loss probability (clamped to `0.0..=1.0`).
    pub fn loss(mut self, p: f64) -> Self {
        self.loss = probability(p);
        self
    }

    /// Sets the duplication probability (clamped to `0.0..=1.0`).
    pub fn duplicate(mut self, p: f64) -> Self {
        self.duplicate = probability(p);
        self
    }

    /// Holds back a fraction `p` (clamped to `0.0..=1.0`) of datagrams by `delay`.
    pub fn reorder(mut self, p: f64, delay: Duration) -> Self {
        self.reorder = probability(p);
        self.reorder_delay = delay;
        self
    }

    /// Sets a bandwidth cap.
    pub fn bandwidth(mut self, bandwidth: Bandwidth) -> Self {
        self.bandwidth = Some(bandwidth);
        self
    }

    /// Sets the largest payload size in bytes.
    pub fn mtu(mut self, mtu: usize) -> Self {
        self.mtu = Some(mtu);
        self
    }

    /// Loses datagrams in bursts (see [`BurstLoss`]); `loss` stays the loss rate of the good
    /// state.
    pub fn burst_loss(mut self, model: BurstLoss) -> Self {
        self.burst_loss = Some(model);
        self
    }

    /// Keeps jittered datagrams in sending order.
    pub fn in_order(mut self, on: bool) -> Self {
        self.in_order = on;
        self
    }
}

/// Counters of one link. Every datagram offered to the link counts once in `sent` and then
/// either in one of the `dropped_*` counters or in `delivered` (plus once more in `delivered`
/// for each duplicate). Datagrams still in flight are in neither.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct LinkStats {
    /// Datagrams offered to the link.
    pub sent: u64,
    /// Payload bytes offered to the link.
    pub bytes_sent: u64,
    /// Datagrams (duplicates included) that reached the far end of the link.
    pub delivered: u64,
    /// Payload bytes (duplicates included) that reached the far end.
    pub bytes_delivered: u64,
    /// Datagrams dropped by random loss.
    pub dropped_loss: u64,
    /// Datagrams dropped for being larger than the MTU.
    pub dropped_mtu: u64,
    /// Datagrams dropped because the bandwidth queue was full.
    pub dropped_queue: u64,
    /// Extra copies made by duplication.
    pub duplicated: u64,
    /// Datagrams the reorder impairment held back.
    pub reordered: u64,
    /// Datagrams that arrived after a datagram sent later on the same link (measured at the
    /// far end, whatever the cause: reordering or jitter).
    pub out_of_order: u64,
}

/// Why a link dropped a datagram.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum LinkDrop {
    /// Random loss.
    Loss,
    /// Larger than the MTU.
    Mtu,
    /// The bandwidth queue was full.
    Queue,
}

/// What a link does with an admitted datagram.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Admitted {
    /// Sequence number of the datagram on this link (order of admission).
    pub seq: u64,
    /// When the datagram reaches the far end.
    pub arrival: Duration,
    /// When its duplicate reaches the far end, if it was duplicated.
    pub duplicate: Option<Duration>,
}

/// A link's configuration with its state: random generator, queue and counters.
#[derive(Debug)]
pub(crate) struct Link {
    pub config: LinkConfig,
    pub stats: LinkStats,
    rng: ChaCha8Rng,
    /// Finish times and sizes of datagrams still in the bandwidth queue.
    queue: VecDeque<(Duration, usize)>,
    queued_bytes: usize,
    busy_until: Duration,
    next_seq: u64,
    highest_delivered: Option<u64>,
    /// Gilbert-Elliott state.
    bad: bool,
    /// Latest arrival scheduled, for `in_order`.
    last_arrival: Duration,
}

impl Link {
    pub fn new(config: LinkConfig, rng: ChaCha8Rng) -> Self {
        Link {
            config,
            stats: LinkStats::default(),
            rng,
            queue: VecDeque::new(),
            queued_bytes: 0,
            busy_until: Duration::ZERO,
            next_seq: 0,
            highest_delivered: None,
            bad: false,
            last_arrival: Duration::ZERO,
        }
    }

    fn draw(&mut self, p: f64) -> bool {
        p > 0.0 && self.rng.random::<f64>() < p
    }

    fn jitter(&mut self) -> Duration {
        let j = self.config.jitter.as_nanos();
        if j == 0 {
            return Duration::ZERO;
        }
        let j = u64::try_from(j).unwrap_or(u64::MAX);
        Duration::from_nanos(self.rng.random_range(0..=j))
    }

    /// Offers a datagram of `len` bytes to the link at time `now`.
    pub fn admit(&mut self, now: Duration, len: usize) -> Result<Admitted, LinkDrop> {
        self.stats.sent += 1;
        self.stats.bytes_sent += len as u64;
        if self.config.mtu.is_some_and(|mtu| len > mtu) {
            self.stats.dropped_mtu += 1;
            return Err(LinkDrop::Mtu);
        }
        let departure = match self.config.bandwidth {
            None => now,
            Some(bw) => {
                while self.queue.front().is_some_and(|&(done, _)| done <= now) {
                    if let Some((_, n)) = self.queue.pop_front() {
                        self.queued_bytes -= n;
                    }
                }
                let Some(tx) = bw.serialization_time(len) else {
                    self.stats.dropped_queue += 1;
                    return Err(LinkDrop::Queue);
                };
                if self.queued_bytes + len > bw.queue_bytes {
                    self.stats.dropped_queue += 1;
                    return Err(LinkDrop::Queue);
                }
                let done = now.max(self.busy_until) + tx;
                self.busy_until = done;
                self.queue.push_back((done, len));
                self.queued_bytes += len;
                done
            }
        };
        let loss = match self.config.burst_loss {
            None => self.config.loss,
            Some(b) => {
                let flip = if self.bad { b.leave_bad } else { b.enter_bad };
                if self.draw(flip) {
                    self.bad = !self.bad;
                }
                if self.bad {
                    b.loss_bad
                } else {
                    self.config.loss
                }
            }
        };
        if self.draw(loss) {
            self.stats.dropped_loss += 1;
            return Err(LinkDrop::Loss);
        }
        let mut arrival = departure + self.config.latency + self.jitter();
        if self.draw(self.config.reorder) {
            self.stats.reordered += 1;
            arrival += self.config.reorder_delay;
        } else if self.config.in_order {
            arrival = arrival.max(self.last_arrival);
            self.last_arrival = arrival;
        }
        let duplicate = if self.draw(self.config.duplicate) {
            self.stats.duplicated += 1;
            Some(departure + self.config.latency + self.jitter())
        } else {
            None
        };
        let seq = self.next_seq;
        self.next_seq += 1;
        Ok(Admitted {
            seq,
            arrival,
            duplicate,
        })
    }

    /// Records that datagram `seq` of `len` bytes reached the far end.
    pub fn arrived(&mut self, seq: u64, len: usize) {
        self.stats.delivered += 1;
        self.stats.bytes_delivered += len as u64;
        match self.highest_delivered {
            Some(h) if seq < h => self.stats.out_of_order += 1,
            _ => self.highest_delivered = Some(seq),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    fn link(config: LinkConfig) -> Link {
        Link::new(config, ChaCha8Rng::seed_from_u64(7))
    }

    #[test]
    fn ideal_link_is_instant() {
        let mut l = link(LinkConfig::ideal());
        let a = l.admit(Duration::from_secs(3), 1500).unwrap();
        assert_eq!(a.arrival, Duration::from_secs(3));
        assert_eq!(a.duplicate, None);
        assert_eq!(a.seq, 0);
        assert_eq!(l.admit(Duration::from_secs(3), 1).unwrap().seq, 1);
    }

    #[test]
    fn serialization_time_rounds_up() {
        let bw = Bandwidth::new(1_000_000, 10_000);
        assert_eq!(bw.serialization_time(125), Some(Duration::from_millis(1)));
        assert_eq!(bw.serialization_time(1), Some(Duration::from_nanos(8_000)));
        assert_eq!(
            Bandwidth::new(3, 1).serialization_time(1),
            Some(Duration::from_nanos(2_666_666_667))
        );
        assert_eq!(Bandwidth::new(0, 1).serialization_time(1), None);
    }

    #[test]
    fn queue_tail_drops_and_drains() {
        // 1000 bytes take 8 ms at 1 Mbit/s; the queue holds three of them.
        let mut l = link(LinkConfig::ideal().bandwidth(Bandwidth::new(1_000_000, 3000)));
        let t0 = Duration::ZERO;
        let arrivals: Vec<_> = (0..3).map(|_| l.admit(t0, 1000).unwrap().arrival).collect();
        assert_eq!(arrivals, [8, 16, 24].map(Duration::from_millis).to_vec());
        assert_eq!(l.admit(t0, 1000), Err(LinkDrop::Queue));
        assert_eq!(l.stats.dropped_queue, 1);
        // After the first one is sent there is room for one more, queued behind the others.
        let a = l.admit(Duration::from_millis(8), 1000).unwrap();
        assert_eq!(a.arrival, Duration::from_millis(32));
    }

    #[test]
    fn zero_rate_drops_everything() {
        let mut l = link(LinkConfig::ideal().bandwidth(Bandwidth::new(0, 1 << 20)));
        assert_eq!(l.admit(Duration::ZERO, 10), Err(LinkDrop::Queue));
    }

    #[test]
    fn mtu_drops_only_oversize() {
        let mut l = link(LinkConfig::ideal().mtu(1200));
        assert!(l.admit(Duration::ZERO, 1200).is_ok());
        assert_eq!(l.admit(Duration::ZERO, 1201), Err(LinkDrop::Mtu));
        assert_eq!(l.stats.dropped_mtu, 1);
        assert_eq!(l.stats.sent, 2);
    }

    #[test]
    fn probabilities_are_clamped() {
        let c = LinkConfig::ideal()
            .loss(f64::NAN)
            .duplicate(2.0)
            .reorder(-1.0, Duration::ZERO);
        assert_eq!((c.loss, c.duplicate, c.reorder), (0.0, 1.0, 0.0));
        let mut l = link(LinkConfig::ideal().loss(1.0));
        assert_eq!(l.admit(Duration::ZERO, 1), Err(LinkDrop::Loss));
    }

    #[test]
    fn out_of_order_is_measured() {
        let mut l = link(LinkConfig::ideal());
        l.arrived(0, 1);
        l.arrived(2, 1);
        l.arrived(1, 1);
        l.arrived(3, 1);
        assert_eq!(l.stats.out_of_order, 1);
        assert_eq!(l.stats.delivered, 4);
    }
}
