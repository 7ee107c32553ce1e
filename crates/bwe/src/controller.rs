//! The estimator and the pacer together: what a peer connection drives.

use std::time::Instant;

use ferrtc_rtp_codecs::rtcp::TransportFeedback;
use ferrtc_types::SeqNo;

use crate::pacer::{Paced, Pacer, PacketKind};
use crate::probe::ProbeClusterId;
use crate::send::{BweConfig, BweEvent, SendSideBwe};

/// A packet (or a padding request) the caller should send now, with the transport-wide
/// sequence number to write into its transport-cc header extension.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outgoing<T> {
    /// Transport-wide sequence number for the packet
    /// (draft-holmer-rmcat-transport-wide-cc-extensions-01 section 2).
    pub transport_seq: SeqNo,
    /// What to send.
    pub paced: Paced<T>,
}

/// Send-side congestion control for one transport: the [`SendSideBwe`] estimator and a
/// [`Pacer`] over the caller's packets `T`.
///
/// Drive it like every ferrtc state machine:
/// - inputs: [`enqueue`](Self::enqueue) each RTP packet ready to go (after it is built,
///   before SRTP), [`handle_transport_feedback`](Self::handle_transport_feedback) for each
///   TWCC message, [`handle_remb`](Self::handle_remb) for the peer's REMB,
///   [`handle_timeout`](Self::handle_timeout) at [`poll_timeout`](Self::poll_timeout);
/// - outputs: drain [`poll_transmit`](Self::poll_transmit) (stamp the sequence number,
///   protect, send; a [`Paced::Padding`] asks for a padding packet of that size), then
///   [`poll_event`](Self::poll_event) (hand [`BweEvent::TargetBitrate`] to the encoders),
///   then sleep until [`poll_timeout`](Self::poll_timeout).
#[derive(Debug)]
pub struct CongestionController<T> {
    bwe: SendSideBwe,
    pacer: Pacer<T>,
    epoch: Instant,
    now: Instant,
    next_seq: u16,
}

impl<T> CongestionController<T> {
    /// A controller at `now`, numbering packets from `first_seq`.
    pub fn new(config: BweConfig, now: Instant, first_seq: SeqNo) -> Self {
        let bwe = SendSideBwe::new(config, now);
        let pacer = Pacer::new(bwe.pacing_bitrate_bps());
        CongestionController {
            bwe,
            pacer,
            epoch: now,
            now,
            next_seq: first_seq.0,
        }
    }

    fn us(&self, now: Instant) -> i64 {
        i64::try_from(now.saturating_duration_since(self.epoch).as_micros()).unwrap_or(i64::MAX)
    }

    fn tick(&mut self, now: Instant) {
        self.now = self.now.max(now);
        while let Some(c) = self.bwe.poll_probe(self.now) {
            self.pacer.add_probe(c);
        }
        self.pacer.set_rate(self.bwe.pacing_bitrate_bps());
    }

    /// The estimator.
    pub fn bwe(&self) -> &SendSideBwe {
        &self.bwe
    }

    /// The pacer.
    pub fn pacer(&self) -> &Pacer<T> {
        &self.pacer
    }

    /// The largest padding packet the caller can send (see [`Pacer::set_max_padding`]).
    pub fn set_max_padding(&mut self, max: Option<usize>) {
        self.pacer.set_max_padding(max);
    }

    /// The target bitrate for all media, bit/s.
    pub fn target_bitrate_bps(&self) -> u64 {
        self.bwe.target_bitrate_bps()
    }

    /// Queues a packet of `size` bytes for paced sending.
    pub fn enqueue(&mut self, now: Instant, kind: PacketKind, size: usize, item: T) {
        self.tick(now);
        let now_us = self.us(self.now);
        self.pacer.enqueue(now_us, kind, size, item);
    }

    /// Takes a transport-wide feedback message.
    pub fn handle_transport_feedback(&mut self, now: Instant, fb: &TransportFeedback<'_>) {
        self.bwe.handle_transport_feedback(now, fb);
        self.tick(now);
    }

    /// Takes feedback from another source (see [`SendSideBwe::handle_feedback`]).
    pub fn handle_feedback(
        &mut self,
        now: Instant,
        items: impl IntoIterator<Item = (SeqNo, Option<i64>)>,
    ) {
        self.bwe.handle_feedback(now, items);
        self.tick(now);
    }

    /// Takes the peer's REMB bitrate.
    pub fn handle_remb(&mut self, now: Instant, bitrate_bps: u64) {
        self.bwe.handle_remb(now, bitrate_bps);
        self.tick(now);
    }

    /// Runs timers.
    pub fn handle_timeout(&mut self, now: Instant) {
        self.bwe.handle_timeout(now);
        self.tick(now);
    }

    /// The next packet to send now, if the pacer lets one go. Drain until `None`.
    pub fn poll_transmit(&mut self) -> Option<Outgoing<T>> {
        let now_us = self.us(self.now);
        let paced = self.pacer.poll(now_us)?;
        let seq = SeqNo(self.next_seq);
        self.next_seq = self.next_seq.wrapping_add(1);
        let (size, probe, media): (usize, Option<ProbeClusterId>, bool) = match &paced {
            Paced::Packet { size, probe, .. } => (*size, *probe, true),
            Paced::Padding { size, probe } => (*size, Some(*probe), false),
        };
        self.bwe.on_packet_sent(self.now, seq, size, probe, media);
        Some(Outgoing {
            transport_seq: seq,
            paced,
        })
    }

    /// Numbers and records a packet of `size` bytes the caller sends at `now` without the
    /// pacer (a caller that does not pace): returns the transport-wide sequence number to
    /// write into it. Probes then have nothing to pace; the estimate still follows the
    /// feedback.
    pub fn send_unpaced(&mut self, now: Instant, size: usize) -> SeqNo {
        self.tick(now);
        let seq = SeqNo(self.next_seq);
        self.next_seq = self.next_seq.wrapping_add(1);
        self.bwe.on_packet_sent(self.now, seq, size, None, true);
        seq
    }

    /// The next event.
    pub fn poll_event(&mut self) -> Option<BweEvent> {
        self.bwe.poll_event()
    }

    /// When to call [`handle_timeout`](Self::handle_timeout) next.
    pub fn poll_timeout(&self) -> Option<Instant> {
        let pacer = self
            .pacer
            .next_send_us()
            .map(|us| self.epoch + std::time::Duration::from_micros(us.max(0) as u64));
        match (pacer, self.bwe.poll_timeout()) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }
}
