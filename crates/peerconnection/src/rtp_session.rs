//! The RTP session of one peer connection: what RFC 3550, RFC 4585 and RFC 4588 ask of a
//! participant besides moving packets. Sender and receiver statistics, SR and RR at a
//! regular interval, NACKs for what we miss, RTX (or plain retransmission) for what the
//! peer misses, RTX unwrapping on receive, and transport-wide congestion control feedback
//! for what we receive. Built from the pieces of `ferrtc_rtp_codecs::pipeline`.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use ferrtc_rtp_codecs::pipeline::{
    NackConfig, NackGenerator, NtpTime, ReceiverStats, SendHistory, SenderStats, TwccConfig,
    TwccGenerator,
};
use ferrtc_rtp_codecs::rtcp::{
    Compound, List, ReceiverReport, ReportBlock, RtcpPacket, Sdes, SdesChunk, SdesItem,
};
use ferrtc_rtp_codecs::{RtpPacket, rtx};
use ferrtc_types::{ExtensionId, PayloadType, SeqNo, Ssrc};

/// Interval between our RTCP reports. RFC 3550 §6.2 scales it with the session's
/// bandwidth; WebRTC implementations send about one per second for video, which RFC 8834
/// §5.1.3 allows (the 5 s minimum does not apply to reduced minimum intervals).
pub(crate) const REPORT_INTERVAL: Duration = Duration::from_secs(1);
/// Most receive streams tracked (report blocks are at most 31 per packet, RFC 3550 §6.4).
const MAX_RECEIVE_STREAMS: usize = 64;
/// Packets kept for retransmission per send stream.
const HISTORY_PACKETS: usize = 1024;
/// How long a sent packet stays retransmittable.
const HISTORY_AGE: Duration = Duration::from_secs(1);
/// Largest RTP packet kept in the history.
const HISTORY_PACKET_LEN: usize = 1500;

/// What a send stream needs to be set up.
#[derive(Debug, Clone)]
pub(crate) struct SendSpec {
    pub ssrc: Ssrc,
    /// RTX: (the peer's RTX payload type numbers by media payload type, our RTX SSRC).
    pub rtx: Option<(Vec<(PayloadType, PayloadType)>, Ssrc)>,
    /// Clock rate by payload type (the peer's numbers).
    pub clock_rates: Vec<(PayloadType, u32)>,
}

/// What a receive route needs: the payload types it receives.
#[derive(Debug, Clone, Default)]
pub(crate) struct RecvSpec {
    /// (payload type, clock rate, NACK negotiated).
    pub codecs: Vec<(PayloadType, u32, bool)>,
    /// (RTX payload type, the media payload type it repairs).
    pub rtx: Vec<(PayloadType, PayloadType)>,
    /// (RTX SSRC, media SSRC) pairs the peer signalled.
    pub rtx_pairs: Vec<(Ssrc, Ssrc)>,
}

struct SendState {
    spec: SendSpec,
    stats: Option<SenderStats>,
    /// The peer's latest report block about this stream.
    last_report: Option<ReportBlock>,
    nacks_received: u64,
    retransmitted: u64,
    histories: Vec<(PayloadType, SendHistory)>,
    plain_history: SendHistory,
    /// The next sequence number of our RTX stream: retransmissions and padding share it,
    /// so the peer's SRTP index estimate (RFC 3711 section 3.3.1) sees one sequence.
    rtx_seq: u16,
    /// The latest RTP timestamp sent, for padding packets.
    last_timestamp: u32,
}

struct RecvState {
    stats: ReceiverStats,
    /// Payload octets received, padding excluded, repairs included (W3C `bytesReceived`).
    octets: u64,
    nack: Option<NackGenerator>,
    /// The peer's latest SR about this stream: packets, octets, NTP time.
    last_sr: Option<(u32, u32, u64)>,
}

/// What we know of one of our send streams, for `getStats()`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct SendSnapshot {
    pub packets: u32,
    pub octets: u32,
    pub retransmitted: u64,
    pub nacks_received: u64,
    pub remote: Option<ReportBlock>,
    pub rtt: Option<Duration>,
}

/// What we know of one of the peer's streams, for `getStats()`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct RecvSnapshot {
    pub received: u64,
    pub octets: u64,
    pub lost: i64,
    pub jitter: Duration,
    pub nacks_sent: u64,
    pub remote_sr: Option<(u32, u32, u64)>,
}

/// Counters of the RTP session.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RtpSessionStats {
    /// RTCP reports (SR or RR) sent.
    pub reports_sent: u64,
    /// NACK packets sent.
    pub nacks_sent: u64,
    /// NACKs received.
    pub nacks_received: u64,
    /// Packets retransmitted in answer to NACKs.
    pub retransmitted: u64,
    /// RTX packets received and unwrapped.
    pub rtx_received: u64,
    /// Transport-wide feedback packets sent.
    pub twcc_sent: u64,
    /// The latest round-trip time from report blocks.
    pub rtt: Option<Duration>,
}

/// One peer connection's RTP session.
pub(crate) struct RtpSession {
    /// Our SSRC for RTCP when we send nothing (RFC 3550 §8.1: random).
    rtcp_ssrc: Ssrc,
    /// Our CNAME, sent in an SDES with every report (RFC 3550 §6.1, §6.5.1).
    cname: String,
    /// Reduced-size RTCP (RFC 5506) was negotiated: feedback may go alone.
    reduced_size: bool,
    senders: Vec<SendState>,
    receivers: HashMap<Ssrc, RecvState>,
    twcc: Option<(ExtensionId, TwccGenerator)>,
    next_report: Option<Instant>,
    /// The wall clock at `epoch`, for NTP timestamps: given by the caller (sans-IO).
    epoch: Option<(Instant, Duration)>,
    /// Compound RTCP packets and retransmissions to send.
    pub(crate) rtcp_out: Vec<Vec<u8>>,
    pub(crate) rtp_out: Vec<Vec<u8>>,
    stats: RtpSessionStats,
    buf: Vec<u8>,
}

impl RtpSession {
    pub(crate) fn new(rtcp_ssrc: Ssrc, wall_clock: Option<(Instant, Duration)>) -> RtpSession {
        RtpSession {
            rtcp_ssrc,
            cname: String::new(),
            reduced_size: false,
            senders: Vec::new(),
            receivers: HashMap::new(),
            twcc: None,
            next_report: None,
            epoch: wall_clock,
            rtcp_out: Vec::new(),
            rtp_out: Vec::new(),
            stats: RtpSessionStats::default(),
            buf: Vec::new(),
        }
    }

    /// Sets the CNAME our reports carry (the one our descriptions announce).
    pub(crate) fn set_cname(&mut self, cname: &str) {
        cname.clone_into(&mut self.cname);
    }

    /// Whether reduced-size RTCP (RFC 5506, `a=rtcp-rsize`) was negotiated; without it
    /// every RTCP packet we send is compound (RFC 3550 §6.1, RFC 4585 §3.1).
    pub(crate) fn set_reduced_size(&mut self, on: bool) {
        self.reduced_size = on;
    }

    /// Appends an SDES with our CNAME for each of `ssrcs` (at most 31) to a compound packet
    /// being built (RFC 3550 §6.5.1). Nothing without a CNAME.
    pub(crate) fn append_sdes(&self, out: &mut Vec<u8>, ssrcs: &[Ssrc]) {
        if self.cname.is_empty() || self.cname.len() > 255 {
            return;
        }
        let item = [SdesItem {
            kind: SdesItem::CNAME,
            value: self.cname.as_bytes(),
        }];
        let chunks: Vec<SdesChunk<'_>> = ssrcs
            .iter()
            .take(31)
            .map(|&ssrc| SdesChunk {
                ssrc,
                items: List::Items(&item),
            })
            .collect();
        let sdes = Sdes {
            chunks: List::Items(&chunks),
        };
        let _ = RtcpPacket::Sdes(sdes).emit_vec(out);
    }

    /// Queues a feedback packet (NACK, transport feedback): alone under reduced-size RTCP,
    /// else as a compound packet, behind an RR with no report blocks and before our SDES.
    fn push_feedback(&mut self, feedback: Vec<u8>) {
        if self.reduced_size {
            self.rtcp_out.push(feedback);
            return;
        }
        let mut out = Vec::with_capacity(feedback.len() + 40 + self.cname.len());
        let rr = ReceiverReport {
            ssrc: self.rtcp_ssrc,
            reports: List::Items(&[]),
            profile_extension: &[],
        };
        let _ = RtcpPacket::ReceiverReport(rr).emit_vec(&mut out);
        out.extend_from_slice(&feedback);
        self.append_sdes(&mut out, &[self.rtcp_ssrc]);
        self.rtcp_out.push(out);
    }

    pub(crate) fn stats(&self) -> RtpSessionStats {
        self.stats
    }

    /// What we know of our send stream `ssrc`.
    pub(crate) fn send_snapshot(&self, ssrc: Ssrc) -> Option<SendSnapshot> {
        let s = self.senders.iter().find(|s| s.spec.ssrc == ssrc)?;
        let stats = s.stats.as_ref();
        Some(SendSnapshot {
            packets: stats.map_or(0, SenderStats::packet_count),
            octets: stats.map_or(0, SenderStats::octet_count),
            retransmitted: s.retransmitted,
            nacks_received: s.nacks_received,
            remote: s.last_report,
            rtt: stats.and_then(SenderStats::rtt),
        })
    }

    /// What we know of the peer's streams.
    pub(crate) fn recv_snapshots(&self) -> impl Iterator<Item = (Ssrc, RecvSnapshot)> + '_ {
        self.receivers.iter().map(|(ssrc, r)| {
            (
                *ssrc,
                RecvSnapshot {
                    received: r.stats.received(),
                    octets: r.octets,
                    lost: r.stats.cumulative_lost(),
                    jitter: r.stats.jitter_duration(),
                    nacks_sent: r.nack.as_ref().map_or(0, NackGenerator::requests),
                    remote_sr: r.last_sr,
                },
            )
        })
    }

    /// Packets and octets sent on `ssrc` (wrapping 32-bit counters, RFC 3550 §6.4.1).
    pub(crate) fn sent(&self, ssrc: Ssrc) -> Option<(u32, u32)> {
        self.senders
            .iter()
            .find(|s| s.spec.ssrc == ssrc)
            .and_then(|s| s.stats.as_ref())
            .map(|s| (s.packet_count(), s.octet_count()))
    }

    /// Packets received, cumulative lost and jitter of the peer's `ssrc`.
    pub(crate) fn received(&self, ssrc: Ssrc) -> Option<(u64, i64, Duration)> {
        self.receivers.get(&ssrc).map(|r| {
            (
                r.stats.received(),
                r.stats.cumulative_lost(),
                r.stats.jitter_duration(),
            )
        })
    }

    /// Sets the send streams after a negotiation; streams that stay keep their state.
    pub(crate) fn set_senders(&mut self, specs: Vec<SendSpec>) {
        let mut old: Vec<SendState> = std::mem::take(&mut self.senders);
        for spec in specs {
            let state = match old.iter().position(|s| s.spec.ssrc == spec.ssrc) {
                Some(i) => {
                    let mut s = old.swap_remove(i);
                    s.spec = spec;
                    s
                }
                None => SendState {
                    histories: Vec::new(),
                    plain_history: SendHistory::new(
                        HISTORY_PACKETS,
                        HISTORY_PACKET_LEN,
                        HISTORY_AGE,
                    ),
                    stats: None,
                    last_report: None,
                    rtx_seq: 0,
                    last_timestamp: 0,
                    nacks_received: 0,
                    retransmitted: 0,
                    spec,
                },
            };
            self.senders.push(state);
        }
    }

    /// Enables transport-wide feedback for what we receive, on header extension `id`.
    pub(crate) fn set_twcc(&mut self, id: Option<ExtensionId>) {
        match (id, &self.twcc) {
            (Some(id), Some((cur, _))) if *cur == id => {}
            (Some(id), _) => {
                self.twcc = Some((
                    id,
                    TwccGenerator::new(self.rtcp_ssrc, Ssrc(0), TwccConfig::default()),
                ));
            }
            (None, _) => self.twcc = None,
        }
    }

    fn schedule(&mut self, now: Instant) {
        if self.next_report.is_none() {
            self.next_report = Some(now + REPORT_INTERVAL);
        }
    }

    /// Records a packet we sent (already carrying our SSRC and the peer's payload type).
    pub(crate) fn on_sent(&mut self, now: Instant, packet: &[u8]) {
        let Ok(p) = RtpPacket::new_checked_header(packet) else {
            return;
        };
        let (ssrc, pt) = (p.ssrc(), p.payload_type());
        let Some(s) = self.senders.iter_mut().find(|s| s.spec.ssrc == ssrc) else {
            return;
        };
        let clock = s
            .spec
            .clock_rates
            .iter()
            .find(|(p, _)| *p == pt)
            .map_or(90_000, |(_, c)| *c);
        let stats = s.stats.get_or_insert_with(|| SenderStats::new(ssrc, clock));
        stats.handle_sent(now, p.timestamp(), p.payload().len());
        s.last_timestamp = p.timestamp();
        let history = match &s.spec.rtx {
            Some((map, rtx_ssrc)) => match map.iter().find(|(media, _)| *media == pt) {
                Some((_, rtx_pt)) => {
                    let i = match s.histories.iter().position(|(p, _)| *p == pt) {
                        Some(i) => i,
                        None => {
                            s.histories.push((
                                pt,
                                SendHistory::new(HISTORY_PACKETS, HISTORY_PACKET_LEN, HISTORY_AGE)
                                    .with_rtx(*rtx_pt, *rtx_ssrc, SeqNo(0)),
                            ));
                            s.histories.len() - 1
                        }
                    };
                    &mut s.histories[i].1
                }
                None => &mut s.plain_history,
            },
            None => &mut s.plain_history,
        };
        // A packet too large for the history just cannot be retransmitted.
        let _ = history.handle_sent(now, packet);
        self.schedule(now);
    }

    /// Records the arrival of an RTP packet (before routing: the sequence is transport-wide,
    /// padding and unroutable packets count too) for transport-wide feedback.
    pub(crate) fn on_transport_packet(&mut self, now: Instant, packet: &[u8]) {
        let Some((id, twcc)) = &mut self.twcc else {
            return;
        };
        let Ok(p) = RtpPacket::new_checked_header(packet) else {
            return;
        };
        if let Some(v) = p.extension_value(*id).and_then(|v| v.get(..2)) {
            // The feedback names the SSRC of a stream it covers: libwebrtc drops transport
            // feedback whose media source is none of its sending SSRCs (RTX included).
            twcc.set_media_ssrc(p.ssrc());
            twcc.handle_packet(now, SeqNo(u16::from_be_bytes([v[0], v[1]])));
        }
    }

    /// Writes a padding-only packet (RFC 3550 section 5.1: the P bit, padding whose last
    /// octet counts it) of `padding` bytes (1..=255) on the RTX stream of our first send
    /// stream that has one (RFC 4588 allows padding on the RTX stream, as browsers send
    /// probes) into `out`. `false` when no stream has RTX yet.
    pub(crate) fn padding_packet(&mut self, padding: usize, out: &mut Vec<u8>) -> bool {
        let Some(s) = self.senders.iter_mut().find(|s| !s.histories.is_empty()) else {
            return false;
        };
        let (Some((map, rtx_ssrc)), Some((media_pt, _))) = (&s.spec.rtx, s.histories.first())
        else {
            return false;
        };
        let Some((_, rtx_pt)) = map.iter().find(|(m, _)| m == media_pt) else {
            return false;
        };
        let padding = padding.clamp(1, 255);
        out.clear();
        // V=2, P=1 (RFC 3550 section 5.1).
        out.extend_from_slice(&[0xa0, rtx_pt.get()]);
        out.extend_from_slice(&s.rtx_seq.to_be_bytes());
        out.extend_from_slice(&s.last_timestamp.to_be_bytes());
        out.extend_from_slice(&rtx_ssrc.0.to_be_bytes());
        out.resize(12 + padding, 0);
        out[11 + padding] = padding as u8;
        s.rtx_seq = s.rtx_seq.wrapping_add(1);
        true
    }

    /// Whether [`RtpSession::padding_packet`] has a stream to pad on.
    pub(crate) fn can_pad(&self) -> bool {
        self.senders
            .iter()
            .any(|s| s.spec.rtx.is_some() && !s.histories.is_empty())
    }

    /// Takes an RTP packet we received, routed to a route whose codecs are `spec`. An RTX
    /// packet is unwrapped into the original; returns the packet to hand up (`None` when it
    /// is dropped: an RTX packet we cannot unwrap).
    pub(crate) fn on_received(
        &mut self,
        now: Instant,
        packet: Bytes,
        spec: &RecvSpec,
    ) -> Option<Bytes> {
        let (ssrc, pt) = {
            let p = RtpPacket::new_checked_header(&packet[..]).ok()?;
            (p.ssrc(), p.payload_type())
        };
        let packet = match spec.rtx.iter().find(|(r, _)| *r == pt) {
            Some((_, media_pt)) => {
                // The original SSRC: the one signalled with this RTX stream (a=ssrc-group
                // FID), else the stream already tracked that is not this one.
                let original = spec
                    .rtx_pairs
                    .iter()
                    .find(|(rtx, _)| *rtx == ssrc)
                    .map(|(_, media)| *media)
                    .or_else(|| self.receivers.keys().find(|s| **s != ssrc).copied())?;
                let mut buf = BytesMut::from(&packet[..]);
                let start = rtx::decapsulate_in_place(&mut buf, *media_pt, original).ok()?;
                self.stats.rtx_received += 1;
                buf.freeze().slice(start..)
            }
            None => packet,
        };
        let p = RtpPacket::new_checked_header(&packet[..]).ok()?;
        let (ssrc, pt, seq, ts) = (
            p.ssrc(),
            p.payload_type(),
            p.sequence_number(),
            p.timestamp(),
        );
        let codec = spec.codecs.iter().find(|(p, _, _)| *p == pt);
        if !self.receivers.contains_key(&ssrc) && self.receivers.len() < MAX_RECEIVE_STREAMS {
            let clock = codec.map_or(90_000, |c| c.1);
            let nack = codec
                .is_some_and(|c| c.2)
                .then(|| NackGenerator::new(self.rtcp_ssrc, ssrc, NackConfig::default()));
            self.receivers.insert(
                ssrc,
                RecvState {
                    stats: ReceiverStats::new(ssrc, clock),
                    octets: 0,
                    nack,
                    last_sr: None,
                },
            );
        }
        // The payload without padding (the packet is unprotected by now).
        let octets = RtpPacket::new_checked(&packet[..]).map_or(0, |p| p.payload().len() as u64);
        if let Some(r) = self.receivers.get_mut(&ssrc) {
            r.stats.handle_packet(now, seq, ts);
            r.octets += octets;
            if let Some(n) = &mut r.nack {
                n.handle_packet(now, seq);
            }
        }
        self.schedule(now);
        Some(packet)
    }

    /// Takes a compound RTCP packet from the peer: report blocks (RTT), SRs (for our LSR),
    /// NACKs (answered from the history). Key frame requests are the caller's.
    pub(crate) fn on_rtcp(&mut self, now: Instant, packet: &[u8]) {
        for p in Compound::new(packet) {
            let Ok(p) = p else { break };
            match p {
                RtcpPacket::SenderReport(sr) => {
                    if let Some(r) = self.receivers.get_mut(&sr.ssrc) {
                        r.stats.handle_sender_report(now, NtpTime(sr.ntp_time));
                        r.last_sr = Some((sr.packet_count, sr.octet_count, sr.ntp_time));
                    }
                    for b in sr.reports.iter() {
                        self.on_report_block(now, &b);
                    }
                }
                RtcpPacket::ReceiverReport(rr) => {
                    for b in rr.reports.iter() {
                        self.on_report_block(now, &b);
                    }
                }
                RtcpPacket::Nack(n) => {
                    self.stats.nacks_received += 1;
                    let Some(s) = self
                        .senders
                        .iter_mut()
                        .find(|s| s.spec.ssrc == n.media_ssrc)
                    else {
                        continue;
                    };
                    s.nacks_received += 1;
                    for seq in n.lost() {
                        self.buf.resize(HISTORY_PACKET_LEN + 2, 0);
                        let mut sent = false;
                        for (_, h) in &mut s.histories {
                            if let Ok(Some(len)) = h.retransmit(now, seq, &mut self.buf) {
                                // The RTX stream's one sequence (padding uses it too).
                                self.buf[2..4].copy_from_slice(&s.rtx_seq.to_be_bytes());
                                s.rtx_seq = s.rtx_seq.wrapping_add(1);
                                self.rtp_out.push(self.buf[..len].to_vec());
                                sent = true;
                                break;
                            }
                        }
                        if !sent {
                            if let Ok(Some(len)) =
                                s.plain_history.retransmit(now, seq, &mut self.buf)
                            {
                                self.rtp_out.push(self.buf[..len].to_vec());
                                sent = true;
                            }
                        }
                        if sent {
                            self.stats.retransmitted += 1;
                            s.retransmitted += 1;
                        }
                    }
                }
                _ => {}
            }
        }
    }

    fn on_report_block(&mut self, now: Instant, b: &ReportBlock) {
        for s in &mut self.senders {
            if s.spec.ssrc == b.ssrc {
                s.last_report = Some(*b);
            }
            if let Some(stats) = &mut s.stats
                && let Some(rtt) = stats.handle_report_block(now, b)
            {
                self.stats.rtt = Some(rtt);
                for (_, h) in &mut s.histories {
                    h.set_rtt(rtt);
                }
                s.plain_history.set_rtt(rtt);
                for r in self.receivers.values_mut() {
                    if let Some(n) = &mut r.nack {
                        n.set_rtt(rtt);
                    }
                }
            }
        }
    }

    /// When [`RtpSession::handle_timeout`] is due.
    pub(crate) fn poll_timeout(&self) -> Option<Instant> {
        let nacks = self
            .receivers
            .values()
            .filter_map(|r| r.nack.as_ref().and_then(NackGenerator::poll_timeout));
        let twcc = self.twcc.as_ref().and_then(|(_, g)| g.poll_timeout());
        nacks.chain(twcc).chain(self.next_report).min()
    }

    /// Sends what is due: NACKs, transport feedback, and every [`REPORT_INTERVAL`] an SR
    /// (when we send) or an RR with a report block per received stream.
    pub(crate) fn handle_timeout(&mut self, now: Instant) {
        let mut feedback = Vec::new();
        for r in self.receivers.values_mut() {
            if let Some(n) = &mut r.nack
                && let Some(nack) = n.poll_nack(now)
            {
                let mut out = Vec::new();
                if RtcpPacket::Nack(nack).emit_vec(&mut out).is_ok() {
                    self.stats.nacks_sent += 1;
                    feedback.push(out);
                }
            }
        }
        if let Some((_, g)) = &mut self.twcc {
            while let Some(fb) = g.poll_feedback(now) {
                let mut out = Vec::new();
                if RtcpPacket::TransportFeedback(fb).emit_vec(&mut out).is_ok() {
                    self.stats.twcc_sent += 1;
                    feedback.push(out);
                }
            }
        }
        for fb in feedback {
            self.push_feedback(fb);
        }
        if self.next_report.is_some_and(|t| t <= now) {
            self.next_report = Some(now + REPORT_INTERVAL);
            self.report(now);
        }
    }

    fn report(&mut self, now: Instant) {
        let blocks: Vec<ReportBlock> = self
            .receivers
            .values_mut()
            .filter_map(|r| r.stats.report_block(now))
            .take(31)
            .collect();
        let wall = self
            .epoch
            .map(|(at, unix)| NtpTime::from_unix(unix + now.saturating_duration_since(at)));
        let mut out = Vec::new();
        let mut first = true;
        let mut reporters = Vec::new();
        for s in &mut self.senders {
            let (Some(stats), Some(wall)) = (&mut s.stats, wall) else {
                continue;
            };
            let reports: &[ReportBlock] = if first { &blocks } else { &[] };
            if let Some(sr) = stats.sender_report(now, wall, reports) {
                let _ = RtcpPacket::SenderReport(sr).emit_vec(&mut out);
                reporters.push(s.spec.ssrc);
                first = false;
            }
        }
        if first {
            let rr = ReceiverReport {
                ssrc: self.rtcp_ssrc,
                reports: List::Items(&blocks),
                profile_extension: &[],
            };
            let _ = RtcpPacket::ReceiverReport(rr).emit_vec(&mut out);
            reporters.push(self.rtcp_ssrc);
        }
        // A compound packet carries an SDES CNAME for its sources (RFC 3550 §6.1); peers
        // that did not negotiate reduced-size RTCP (RFC 5506) may drop one without it.
        self.append_sdes(&mut out, &reporters);
        if !out.is_empty() {
            self.stats.reports_sent += 1;
            self.rtcp_out.push(out);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ferrtc_rtp_codecs::rtcp::check_compound;

    #[test]
    fn reports_are_compound_with_our_cname() {
        let t0 = Instant::now();
        let mut s = RtpSession::new(Ssrc(7), Some((t0, Duration::from_secs(1_800_000_000))));
        s.set_cname("ferrtc-cname");
        s.set_senders(vec![SendSpec {
            ssrc: Ssrc(0x1234),
            rtx: None,
            clock_rates: vec![(PayloadType::new(111).unwrap(), 48_000)],
        }]);
        let mut rtp = vec![0x80, 111, 0, 1, 0, 0, 0, 0, 0, 0, 0x12, 0x34];
        rtp.extend_from_slice(&[0xab; 20]);
        s.on_sent(t0, &rtp);
        let due = s.poll_timeout().expect("a report is scheduled");
        s.handle_timeout(due);
        assert_eq!(s.rtcp_out.len(), 1);
        let report = &s.rtcp_out[0];
        // Without reduced-size RTCP a report must be a full compound (RFC 3550 §6.1).
        check_compound(report, false).unwrap();
        let sdes = Compound::new(report)
            .filter_map(Result::ok)
            .find_map(|p| match p {
                RtcpPacket::Sdes(d) => d.chunks.iter().next(),
                _ => None,
            })
            .expect("an SDES");
        assert_eq!(sdes.ssrc, Ssrc(0x1234));
        let item = sdes.items.iter().next().unwrap();
        assert_eq!(
            (item.kind, item.value),
            (SdesItem::CNAME, &b"ferrtc-cname"[..])
        );
    }

    /// Transport feedback names the media SSRC of the packets it reports, never 0: a
    /// libwebrtc sender (Chromium) drops feedback about an SSRC it does not send, and its
    /// estimate then falls to the floor (interop/rampup.py measured 300 to 30 kbit/s).
    #[test]
    fn transport_feedback_names_the_received_media_ssrc() {
        let t0 = Instant::now();
        let id = ExtensionId::new(4).unwrap();
        let mut s = RtpSession::new(Ssrc(7), None);
        s.set_reduced_size(true);
        s.set_twcc(Some(id));
        for (i, seq) in [1u16, 2, 3].into_iter().enumerate() {
            // V=2, X=1, PT 96, seq, ts 0, SSRC 0xbecfc888; one-byte extension block
            // (RFC 8285 section 4.2) with one element: id 4, 2 bytes, the transport seq.
            let mut rtp = vec![0x90, 96, 0, seq as u8, 0, 0, 0, 0, 0xbe, 0xcf, 0xc8, 0x88];
            rtp.extend_from_slice(&[0xbe, 0xde, 0, 1, 0x41, 0, seq as u8, 0]);
            rtp.extend_from_slice(&[0xab; 100]);
            s.on_transport_packet(t0 + Duration::from_millis(5 * i as u64), &rtp);
        }
        let due = s.poll_timeout().expect("feedback is scheduled");
        s.handle_timeout(due);
        let fb = s
            .rtcp_out
            .iter()
            .flat_map(|c| Compound::new(c).filter_map(Result::ok).collect::<Vec<_>>())
            .find_map(|p| match p {
                RtcpPacket::TransportFeedback(f) => Some((f.sender_ssrc, f.media_ssrc, f.base_seq)),
                _ => None,
            })
            .expect("a transport feedback message");
        assert_eq!(fb, (Ssrc(7), Ssrc(0xbecf_c888), SeqNo(1)));
    }

    #[test]
    fn feedback_is_compound_unless_reduced_size() {
        for reduced in [false, true] {
            let mut s = RtpSession::new(Ssrc(7), None);
            s.set_cname("c");
            s.set_reduced_size(reduced);
            let lost = [ferrtc_rtp_codecs::rtcp::NackPair {
                pid: SeqNo(5),
                blp: 0,
            }];
            let mut nack = Vec::new();
            RtcpPacket::Nack(ferrtc_rtp_codecs::rtcp::Nack {
                sender_ssrc: Ssrc(7),
                media_ssrc: Ssrc(9),
                pairs: List::Items(&lost),
            })
            .emit_vec(&mut nack)
            .unwrap();
            s.push_feedback(nack.clone());
            let out = s.rtcp_out.pop().unwrap();
            check_compound(&out, reduced).unwrap();
            if reduced {
                assert_eq!(out, nack);
            } else {
                // Alone it is not a compound packet; wrapped it is, and still carries it.
                assert!(check_compound(&nack, false).is_err());
                assert!(out.windows(nack.len()).any(|w| w == nack));
            }
        }
    }
}
