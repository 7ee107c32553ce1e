//! The receive/send pipeline over a simulated network (issue 6): a 30-second, 30 fps VP8-like
//! stream of 5 to 20 packets per frame crosses a link with 5% loss each way and 100 ms RTT.
//! The receiver runs `ReceiverStats`, `NackGenerator` and `JitterBuffer`; the sender runs
//! `SenderStats` and `SendHistory` with RTX. Every frame must come out complete and intact
//! or be reported lost, and retransmissions stay under three times the packets lost.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use ferrtc_netsim::{BurstLoss, Datagram, Endpoint, LinkConfig, Sim};
use ferrtc_rtp_codecs::codec::Packetizer;
use ferrtc_rtp_codecs::codec::vp8::{Vp8Depacketizer, Vp8Packetizer};
use ferrtc_rtp_codecs::pipeline::{
    DlrrResponder, JitterBuffer, JitterConfig, JitterEvent, KeyframeMethod, KeyframeRequester,
    NackConfig, NackGenerator, NtpTime, ReceiverRtt, ReceiverStats, SendHistory, SenderStats,
    TransportSequencer, TwccConfig, TwccGenerator,
};
use ferrtc_rtp_codecs::rtcp::{Compound, List, ReceiverReport, RtcpPacket, Xr, XrBlock};
use ferrtc_rtp_codecs::{
    Csrcs, ExtensionForm, ExtensionId, ExtensionWriter, PayloadType, RtpHeader, RtpPacket, SeqNo,
    SeqUnwrapper, Ssrc,
};

const MEDIA_SSRC: Ssrc = Ssrc(0x1111_1111);
const RTX_SSRC: Ssrc = Ssrc(0x2222_2222);
const RECEIVER_SSRC: Ssrc = Ssrc(0x3333_3333);
const VP8_PT: u8 = 96;
const RTX_PT: u8 = 97;
/// Header extension id of the transport-wide sequence number.
const TWCC_ID: ExtensionId = ExtensionId::new(3).expect("not 0");
const FRAME_INTERVAL: Duration = Duration::from_micros(33_333);
/// Frames checked: 30 s at 30 fps.
const FRAMES: u32 = 900;
/// A few more are sent so that the last checked frames have successors to be judged by.
const TAIL: u32 = 10;

fn is_rtcp(data: &[u8]) -> bool {
    // RFC 5761 section 4: RTCP packet types 192..=223 in the second octet.
    data.len() >= 2 && (192..=223).contains(&data[1])
}

/// xorshift64*: the test's own seeded randomness for frame sizes.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
}

/// What the sender sent of one frame.
struct SentFrame {
    first_ext: u64,
    packets: u64,
    data: Vec<u8>,
}

struct Sender {
    me: SocketAddr,
    peer: SocketAddr,
    epoch: Instant,
    rng: Rng,
    packetizer: Vp8Packetizer,
    seq: SeqNo,
    unwrapper: SeqUnwrapper,
    frame: u32,
    next_frame_at: Instant,
    next_sr_at: Instant,
    force_key: bool,
    history: SendHistory,
    stats: SenderStats,
    out: VecDeque<Vec<u8>>,
    frames: Vec<SentFrame>,
    originals: u64,
    retransmissions: u64,
    plis: u64,
    rtts: Vec<Duration>,
    dlrr: DlrrResponder,
    transport: TransportSequencer,
    /// Send time of each transport sequence number, from 0.
    transport_sent: Vec<Instant>,
    /// Per transport sequence number: reported received (with the arrival time the
    /// feedback gives, relative to the receiver's origin) or lost.
    transport_fb: Vec<Option<Option<Duration>>>,
    transport_unwrap: SeqUnwrapper,
}

impl Sender {
    fn new(me: SocketAddr, peer: SocketAddr, epoch: Instant) -> Self {
        Sender {
            me,
            peer,
            epoch,
            rng: Rng(0x9e37_79b9_7f4a_7c15),
            packetizer: Vp8Packetizer::with_picture_id(0),
            seq: SeqNo(65_000),
            unwrapper: SeqUnwrapper::new(),
            frame: 0,
            next_frame_at: epoch,
            next_sr_at: epoch + Duration::from_millis(500),
            force_key: true,
            history: SendHistory::new(2048, 1500, Duration::from_secs(2)).with_rtx(
                PayloadType::new(RTX_PT).expect("7-bit"),
                RTX_SSRC,
                SeqNo(40_000),
            ),
            stats: SenderStats::new(MEDIA_SSRC, 90_000),
            out: VecDeque::new(),
            frames: Vec::new(),
            originals: 0,
            retransmissions: 0,
            plis: 0,
            rtts: Vec::new(),
            dlrr: DlrrResponder::new(),
            transport: TransportSequencer::new(SeqNo(0)),
            transport_sent: Vec::new(),
            transport_fb: Vec::new(),
            transport_unwrap: SeqUnwrapper::new(),
        }
    }

    /// Stamps the next transport-wide sequence number into `buf` and queues it.
    fn transmit(&mut self, now: Instant, mut buf: Vec<u8>) {
        let mut p = RtpPacket::new_checked(&mut buf[..]).expect("own packet");
        let t = self
            .transport
            .stamp(&mut p, TWCC_ID)
            .expect("element reserved");
        assert_eq!(t.0 as usize, self.transport_sent.len() % 65536);
        self.transport_sent.push(now);
        self.out.push_back(buf);
    }

    fn rtp_ts(&self, now: Instant) -> u32 {
        (now.duration_since(self.epoch).as_micros() * 9 / 100) as u32
    }

    fn send_frame(&mut self, now: Instant) {
        let n = 5 + self.rng.next() % 16;
        // Key frames every 3 s and on request (VP8: the first frame octet's bit 0 clear).
        let key = std::mem::take(&mut self.force_key) || self.frame % 90 == 0;
        let mut data = vec![0u8; n as usize * 1000];
        data[0] = u8::from(!key);
        data[1..5].copy_from_slice(&self.frame.to_be_bytes());
        for (i, b) in data[5..].iter_mut().enumerate() {
            *b = (i as u32).wrapping_mul(31).wrapping_add(self.frame) as u8;
        }
        let mut payloads = Vec::new();
        self.packetizer
            .packetize(&data, 1100, &mut payloads)
            .expect("frame packetizes");
        let ts = self.rtp_ts(now);
        let first_ext = self.unwrapper.unwrap(self.seq);
        let last = payloads.len() - 1;
        let mut ext_store = [0u8; 4];
        let mut w = ExtensionWriter::new(&mut ext_store, ExtensionForm::OneByte);
        w.push(TWCC_ID, &[0, 0]).expect("fits");
        let ext = w.finish().expect("fits");
        for (i, p) in payloads.iter().enumerate() {
            let h = RtpHeader {
                marker: i == last,
                payload_type: PayloadType::new(VP8_PT).expect("7-bit"),
                sequence_number: self.seq,
                timestamp: ts,
                ssrc: MEDIA_SSRC,
                csrcs: Csrcs::new(),
                extension: Some(ext),
            };
            let mut buf = vec![0u8; h.buffer_len() + p.len()];
            h.emit_packet(p, 0, &mut buf).expect("sized buffer");
            self.history.handle_sent(now, &buf).expect("own packet");
            self.stats.handle_sent(now, ts, p.len());
            self.transmit(now, buf);
            self.seq = self.seq.wrapping_add(1);
            self.originals += 1;
        }
        self.frames.push(SentFrame {
            first_ext,
            packets: payloads.len() as u64,
            data,
        });
        self.frame += 1;
    }
}

impl Endpoint for Sender {
    fn receive(&mut self, now: Instant, _: SocketAddr, _: SocketAddr, data: &[u8]) {
        for p in Compound::new(data) {
            match p.expect("the receiver sends valid RTCP") {
                RtcpPacket::ReceiverReport(rr) => {
                    for b in rr.reports.iter() {
                        if let Some(rtt) = self.stats.handle_report_block(now, &b) {
                            self.history.set_rtt(rtt);
                            self.rtts.push(rtt);
                        }
                    }
                }
                RtcpPacket::Nack(nack) => {
                    for seq in nack.lost() {
                        let mut buf = vec![0u8; 1500];
                        if let Some(n) = self
                            .history
                            .retransmit(now, seq, &mut buf)
                            .expect("buffer fits")
                        {
                            buf.truncate(n);
                            // Each transmission has its own transport sequence number.
                            self.transmit(now, buf);
                            self.retransmissions += 1;
                        }
                    }
                }
                RtcpPacket::Pli(_) | RtcpPacket::Fir(_) => {
                    self.force_key = true;
                    self.plis += 1;
                }
                RtcpPacket::TransportFeedback(fb) => {
                    let mut at = i64::from(fb.reference_time) * 64_000;
                    for (seq, status) in fb.statuses() {
                        let ext = self.transport_unwrap.unwrap(seq) - (1 << 16);
                        let ext = usize::try_from(ext).expect("small");
                        if self.transport_fb.len() <= ext {
                            self.transport_fb.resize(ext + 1, None);
                        }
                        let arrival = status.delta().map(|d| {
                            at += i64::from(d) * 250;
                            Duration::from_micros(u64::try_from(at).expect("after origin"))
                        });
                        assert!(
                            self.transport_fb[ext].is_none(),
                            "transport seq {ext} reported twice"
                        );
                        self.transport_fb[ext] = Some(arrival);
                    }
                }
                RtcpPacket::Xr(xr) => {
                    for b in xr.blocks.iter() {
                        if let XrBlock::Rrtr { ntp_time } = b {
                            self.dlrr.handle_rrtr(now, xr.ssrc, NtpTime(ntp_time));
                        }
                    }
                }
                other => panic!("unexpected RTCP {other:?}"),
            }
        }
    }

    fn timeout(&mut self, now: Instant) {
        if self.frame < FRAMES + TAIL && now >= self.next_frame_at {
            self.send_frame(now);
            self.next_frame_at += FRAME_INTERVAL;
        }
        if now >= self.next_sr_at {
            let wall = NtpTime::from_unix(
                Duration::from_secs(1_700_000_000) + now.duration_since(self.epoch),
            );
            let sr = self
                .stats
                .sender_report(now, wall, &[])
                .expect("packets were sent");
            let mut buf = Vec::new();
            RtcpPacket::SenderReport(sr)
                .emit_vec(&mut buf)
                .expect("SR fits");
            // Echo the receiver's reference time (RFC 3611 DLRR) in the same compound.
            let items = self.dlrr.dlrr_items(now);
            if !items.is_empty() {
                RtcpPacket::Xr(Xr {
                    ssrc: MEDIA_SSRC,
                    blocks: List::Items(&[XrBlock::Dlrr(List::Items(items))]),
                })
                .emit_vec(&mut buf)
                .expect("XR fits");
            }
            self.out.push_back(buf);
            self.next_sr_at += Duration::from_millis(500);
        }
    }

    fn poll_transmit(&mut self, _: Instant) -> Option<Datagram> {
        let d = self.out.pop_front()?;
        Some(Datagram::new(self.me, self.peer, d))
    }

    fn poll_timeout(&self) -> Option<Instant> {
        let frame = (self.frame < FRAMES + TAIL).then_some(self.next_frame_at);
        Some(frame.map_or(self.next_sr_at, |f| f.min(self.next_sr_at)))
    }
}

#[derive(Debug)]
enum Got {
    Frame {
        key: bool,
        data: Vec<u8>,
        seq: SeqNo,
    },
    NeedsKeyframe {
        data: Vec<u8>,
        seq: SeqNo,
    },
    Lost {
        first: SeqNo,
        packets: u64,
    },
}

struct Receiver {
    me: SocketAddr,
    peer: SocketAddr,
    stats: ReceiverStats,
    nack: NackGenerator,
    jitter: JitterBuffer<Vp8Depacketizer>,
    out: VecDeque<Vec<u8>>,
    got: Vec<Got>,
    originals: u64,
    rtx: u64,
    plis: u64,
    keyframe: KeyframeRequester,
    max_missing: usize,
    rtt: ReceiverRtt,
    epoch: Instant,
    rtts: Vec<Duration>,
    max_waiting: usize,
    twcc: TwccGenerator,
    /// Transport sequence numbers seen (extended from 0).
    transport_seen: Vec<bool>,
    transport_unwrap: SeqUnwrapper,
}

impl Receiver {
    fn new(me: SocketAddr, peer: SocketAddr, method: KeyframeMethod, epoch: Instant) -> Self {
        let rtt = Duration::from_millis(100);
        let mut jitter = JitterBuffer::new(
            Vp8Depacketizer::new(),
            90_000,
            JitterConfig {
                // Room for two NACK rounds.
                rtt_factor: 2.5,
                ..JitterConfig::default()
            },
        );
        // A first guess, replaced once RRTR/DLRR measures it.
        jitter.set_rtt(rtt);
        Receiver {
            me,
            peer,
            stats: ReceiverStats::new(MEDIA_SSRC, 90_000),
            nack: NackGenerator::new(
                RECEIVER_SSRC,
                MEDIA_SSRC,
                NackConfig {
                    initial_rtt: rtt,
                    ..NackConfig::default()
                },
            ),
            jitter,
            out: VecDeque::new(),
            got: Vec::new(),
            originals: 0,
            rtx: 0,
            plis: 0,
            keyframe: KeyframeRequester::new(RECEIVER_SSRC, MEDIA_SSRC, method),
            max_missing: 0,
            rtt: ReceiverRtt::new(RECEIVER_SSRC),
            epoch,
            rtts: Vec::new(),
            max_waiting: 0,
            twcc: TwccGenerator::new(RECEIVER_SSRC, MEDIA_SSRC, TwccConfig::default()),
            transport_seen: Vec::new(),
            transport_unwrap: SeqUnwrapper::new(),
        }
    }

    fn drive(&mut self, now: Instant) {
        while let Some(e) = self.jitter.poll_event(now) {
            self.got.push(match e {
                JitterEvent::Frame(f) => Got::Frame {
                    key: {
                        if f.info.keyframe {
                            self.keyframe.keyframe_received();
                        }
                        f.info.keyframe
                    },
                    data: f.data.to_vec(),
                    seq: f.first_seq,
                },
                JitterEvent::NeedsKeyframe(f) => Got::NeedsKeyframe {
                    data: f.data.to_vec(),
                    seq: f.first_seq,
                },
                JitterEvent::Lost { first_seq, packets } => Got::Lost {
                    first: first_seq,
                    packets,
                },
                other => panic!("unknown event {other:?}"),
            });
        }
        while let Some(nack) = self.nack.poll_nack(now) {
            let mut buf = Vec::new();
            RtcpPacket::Nack(nack)
                .emit_vec(&mut buf)
                .expect("NACK fits");
            self.out.push_back(buf);
        }
        let pli = self.nack.poll_pli().is_some() | self.jitter.poll_keyframe_request(now);
        if pli {
            let mut buf = Vec::new();
            self.keyframe
                .request()
                .emit_vec(&mut buf)
                .expect("request fits");
            self.out.push_back(buf);
            self.plis += 1;
        }
        while let Some(fb) = self.twcc.poll_feedback(now) {
            let mut buf = Vec::new();
            RtcpPacket::TransportFeedback(fb)
                .emit_vec(&mut buf)
                .expect("feedback fits");
            self.out.push_back(buf);
        }
        self.max_missing = self.max_missing.max(self.nack.missing_count());
        self.max_waiting = self.max_waiting.max(self.jitter.waiting_frames());
    }
}

impl Endpoint for Receiver {
    fn receive(&mut self, now: Instant, _: SocketAddr, _: SocketAddr, data: &[u8]) {
        if is_rtcp(data) {
            for p in Compound::new(data) {
                match p.expect("the sender sends valid RTCP") {
                    RtcpPacket::SenderReport(sr) => {
                        self.stats.handle_sender_report(now, NtpTime(sr.ntp_time));
                        let block = self.stats.report_block(now).expect("media arrived");
                        let mut buf = Vec::new();
                        RtcpPacket::ReceiverReport(ReceiverReport {
                            ssrc: RECEIVER_SSRC,
                            reports: List::Items(&[block]),
                            profile_extension: &[],
                        })
                        .emit_vec(&mut buf)
                        .expect("RR fits");
                        // The receiver's own reference time, for its RTT (RFC 3611).
                        let wall = NtpTime::from_unix(
                            Duration::from_secs(1_700_000_000) + now.duration_since(self.epoch),
                        );
                        let rrtr = self.rtt.rrtr(now, wall);
                        RtcpPacket::Xr(Xr {
                            ssrc: RECEIVER_SSRC,
                            blocks: List::Items(&[rrtr]),
                        })
                        .emit_vec(&mut buf)
                        .expect("XR fits");
                        self.out.push_back(buf);
                    }
                    RtcpPacket::Xr(xr) => {
                        for b in xr.blocks.iter() {
                            let XrBlock::Dlrr(items) = b else { continue };
                            for item in items.iter() {
                                if let Some(rtt) = self.rtt.handle_dlrr(now, &item) {
                                    self.nack.set_rtt(rtt);
                                    self.jitter.set_rtt(rtt);
                                    self.rtts.push(rtt);
                                }
                            }
                        }
                    }
                    other => panic!("unexpected RTCP {other:?}"),
                }
            }
            self.drive(now);
            return;
        }
        let mut buf = data.to_vec();
        let raw = RtpPacket::new_checked(&buf[..]).expect("valid RTP");
        let ssrc = raw.ssrc();
        let tseq = SeqNo(u16::from_be_bytes(
            raw.extension_value(TWCC_ID)
                .expect("transport-cc element")
                .try_into()
                .expect("2 bytes"),
        ));
        self.twcc.handle_packet(now, tseq);
        // The sender numbers from 0, so the first seen is within the first cycle.
        let ext = self.transport_unwrap.unwrap(tseq).wrapping_sub(1 << 16);
        let ext = usize::try_from(ext).expect("small");
        if self.transport_seen.len() <= ext {
            self.transport_seen.resize(ext + 1, false);
        }
        self.transport_seen[ext] = true;
        let start = if ssrc == RTX_SSRC {
            self.rtx += 1;
            ferrtc_rtp_codecs::rtx::decapsulate_in_place(
                &mut buf,
                PayloadType::new(VP8_PT).expect("7-bit"),
                MEDIA_SSRC,
            )
            .expect("valid RTX")
        } else {
            self.originals += 1;
            0
        };
        let p = RtpPacket::new_checked(&buf[start..]).expect("valid RTP");
        if ssrc == MEDIA_SSRC {
            // RTX packets are their own stream for reception statistics.
            self.stats
                .handle_packet(now, p.sequence_number(), p.timestamp());
        }
        self.nack.handle_packet(now, p.sequence_number());
        self.jitter.handle_rtp(now, &p);
        self.drive(now);
    }

    fn timeout(&mut self, now: Instant) {
        self.drive(now);
    }

    fn poll_transmit(&mut self, _: Instant) -> Option<Datagram> {
        let d = self.out.pop_front()?;
        Some(Datagram::new(self.me, self.peer, d))
    }

    fn poll_timeout(&self) -> Option<Instant> {
        [
            self.nack.poll_timeout(),
            self.jitter.poll_timeout(),
            self.twcc.poll_timeout(),
        ]
        .into_iter()
        .flatten()
        .min()
    }
}

/// What a run measured. Invariants that hold on any link are checked inside [`scenario`].
struct Outcome {
    originals: u64,
    lost_originals: u64,
    retransmissions: u64,
    delivered: u32,
    lost_frames: u32,
    rtts: Vec<Duration>,
    receiver_rtts: Vec<Duration>,
    cumulative_lost: i64,
    receiver_plis: u64,
    sender_plis: u64,
    twcc_reported: usize,
    twcc_sent: usize,
    twcc_lost: usize,
    twcc_lost_but_arrived: usize,
    owd_spread_us: i64,
}

#[test]
fn thirty_seconds_of_video_at_5_percent_loss_and_100ms_rtt() {
    for seed in [2026, 7, 99] {
        // 50 ms each way plus up to 2 ms of jitter (which reorders), 5% loss each way.
        let link = LinkConfig::ideal()
            .latency(Duration::from_millis(50))
            .jitter(Duration::from_millis(2))
            .loss(0.05);
        let o = scenario(seed, link, KeyframeMethod::Pli, None);
        let lost_fraction = o.lost_originals as f64 / o.originals as f64;
        // The link lost about 5% of the media.
        assert!((0.04..0.06).contains(&lost_fraction), "{lost_fraction}");
        assert!(o.retransmissions >= o.lost_originals);
        // Two NACK rounds repair nearly everything: fewer than 2% of frames lost.
        assert!(o.lost_frames * 50 < FRAMES, "{} frames lost", o.lost_frames);
        // Each loss costs the frames up to the requested key frame (one RTT plus the
        // wait): still more than 85% decodable.
        assert!(o.delivered > FRAMES * 85 / 100, "{} decodable", o.delivered);
        // The sender measured the RTT from RR LSR/DLSR: 100 ms plus up to 4 ms of jitter.
        assert!(o.rtts.len() > 40);
        // So did the receiver, from XR RRTR/DLRR.
        assert!(o.receiver_rtts.len() > 40);
        for rtt in o.rtts.iter().chain(&o.receiver_rtts) {
            assert!(
                (Duration::from_millis(99)..=Duration::from_millis(105)).contains(rtt),
                "{rtt:?}"
            );
        }
        // The receiver's report agrees with what the link did to the media stream.
        assert!(
            o.cumulative_lost.abs_diff(o.lost_originals as i64) <= 20,
            "{} vs {}",
            o.cumulative_lost,
            o.lost_originals
        );
        assert!(o.receiver_plis >= 1 && o.receiver_plis <= u64::from(o.lost_frames) + 1);
        // PLIs cross the lossy link too.
        assert!(o.sender_plis >= 1 && o.sender_plis <= o.receiver_plis);
        // Transport-wide feedback: nearly all numbers described, about 5% lost, arrival
        // times within the 2 ms jitter plus the 250 us resolution.
        assert!(o.twcc_reported * 100 > o.twcc_sent * 90);
        let twcc_lost = o.twcc_lost as f64 / o.twcc_reported as f64;
        assert!((0.04..0.06).contains(&twcc_lost), "{twcc_lost}");
        assert!(o.twcc_lost_but_arrived * 100 <= o.twcc_lost);
        assert!(o.owd_spread_us <= 2_250, "{} us", o.owd_spread_us);
    }
}

#[test]
fn thirty_seconds_of_video_through_bursty_loss() {
    // Gilbert-Elliott loss: bursts averaging 25 packets, 6-7% overall; 60 ms each way and
    // 5 ms of jitter; and a 3 s outage of the media direction at 10 s, more than the NACK
    // list (1000) and the send history (2 s) cover: frames are lost and a key frame is
    // requested, by FIR here. (A 600 ms outage is repaired completely.)
    for seed in [1, 2] {
        let link = LinkConfig::ideal()
            .latency(Duration::from_millis(60))
            .jitter(Duration::from_millis(5))
            .burst_loss(BurstLoss::new(0.004, 0.04, 0.9));
        let o = scenario(
            seed,
            link,
            KeyframeMethod::Fir,
            Some((Duration::from_secs(10), Duration::from_secs(3))),
        );
        assert!(o.lost_originals > 100, "{}", o.lost_originals);
        // Bursts cost whole frames, but most still get through and decode.
        assert!(o.delivered > FRAMES * 2 / 3, "{} decodable", o.delivered);
        // The outage's 90 frames are gone; the bursts cost few more.
        assert!(
            (85..90 + FRAMES / 20).contains(&o.lost_frames),
            "{} frames lost",
            o.lost_frames
        );
        assert!(o.receiver_rtts.len() > 40);
        for rtt in o.rtts.iter().chain(&o.receiver_rtts) {
            assert!(
                (Duration::from_millis(119)..=Duration::from_millis(131)).contains(rtt),
                "{rtt:?}"
            );
        }
        assert!(o.twcc_lost_but_arrived * 100 <= o.twcc_lost);
        // The outage: frames lost, a FIR sent and received, the stream recovered.
        assert!(o.receiver_plis >= 1 && o.sender_plis >= 1);
        assert!(o.retransmissions < 3 * o.lost_originals);
    }
}

/// Runs the stream over `link` (both ways); during `outage` (start, length) the media
/// direction loses everything.
fn scenario(
    seed: u64,
    link: LinkConfig,
    method: KeyframeMethod,
    outage: Option<(Duration, Duration)>,
) -> Outcome {
    let mut sim = Sim::new(seed);
    let a: SocketAddr = "10.0.0.1:5000".parse().unwrap();
    let b: SocketAddr = "10.0.0.2:5000".parse().unwrap();
    let (media_link, _) = sim.add_link_pair(a.ip(), b.ip(), link.clone());
    let epoch = sim.epoch();
    let sender = sim.add_endpoint([a], Sender::new(a, b, epoch));
    let receiver = sim.add_endpoint([b], Receiver::new(b, a, method, epoch));
    if let Some((start, len)) = outage {
        sim.run_until(epoch + start);
        // Always in the bad state, always lost (replaces any loss model).
        sim.set_link_config(
            media_link,
            link.clone().burst_loss(BurstLoss::new(1.0, 0.0, 1.0)),
        );
        sim.run_until(epoch + start + len);
        sim.set_link_config(media_link, link);
    }
    sim.run_until(epoch + Duration::from_secs(32));

    let s = sim.endpoint(sender);
    let r = sim.endpoint(receiver);
    assert_eq!(s.frames.len() as u32, FRAMES + TAIL);

    // Walk the receiver's events in order against what was sent: each frame is either
    // handed out whole and unchanged, or inside a range reported lost.
    let mut unwrapper = SeqUnwrapper::new();
    // Same origin as the sender's unwrapper: its first packet.
    unwrapper.unwrap(SeqNo(65_000));
    let mut delivered = 0;
    let mut needed_key = 0;
    let mut lost_frames = 0;
    let mut events = r.got.iter();
    let mut lost_until = 0u64;
    let mut after_loss = false;
    for (k, f) in s.frames.iter().take(FRAMES as usize).enumerate() {
        if f.first_ext < lost_until {
            assert!(
                f.first_ext + f.packets <= lost_until,
                "frame {k} straddles a lost range"
            );
            lost_frames += 1;
            continue;
        }
        match events.next() {
            Some(Got::Lost { first, packets }) => {
                let first = unwrapper.unwrap(*first);
                assert_eq!(first, f.first_ext, "loss reported at frame {k}'s start");
                lost_until = first + packets;
                assert!(f.first_ext + f.packets <= lost_until);
                lost_frames += 1;
                after_loss = true;
            }
            Some(Got::Frame { key, data, seq }) => {
                assert_eq!(unwrapper.unwrap(*seq), f.first_ext, "frame {k} in order");
                assert_eq!(data, &f.data, "frame {k} intact");
                if after_loss {
                    assert!(*key, "frame {k}: first decodable frame after a loss is key");
                    after_loss = false;
                }
                delivered += 1;
            }
            Some(Got::NeedsKeyframe { data, seq }) => {
                assert_eq!(unwrapper.unwrap(*seq), f.first_ext, "frame {k} in order");
                assert_eq!(data, &f.data, "frame {k} intact");
                assert_eq!(data[0] & 1, 1, "frame {k} is not a key frame");
                needed_key += 1;
            }
            None => panic!("frame {k} neither delivered nor reported lost"),
        }
    }
    assert_eq!(delivered + needed_key + lost_frames, FRAMES);

    let lost_originals = s.originals - r.originals;
    let lost_fraction = lost_originals as f64 / s.originals as f64;
    println!(
        "seed {seed}: originals {} lost {} ({:.2}%), retransmissions {} (received {}), frames delivered {} \
         needing key {} lost {}, PLIs {}, RTT samples {:?}..{:?}, max missing {}, max waiting {}",
        s.originals,
        lost_originals,
        100.0 * lost_fraction,
        s.retransmissions,
        r.rtx,
        delivered,
        needed_key,
        lost_frames,
        r.plis,
        s.rtts.iter().min(),
        s.rtts.iter().max(),
        r.max_missing,
        r.max_waiting,
    );
    // Retransmissions stay bounded by the losses.
    assert!(s.retransmissions < 3 * lost_originals);
    assert!(r.max_missing <= 1000);
    assert!(r.max_waiting <= JitterConfig::default().max_frames + 1);

    // Transport-wide feedback: every transmission (originals and RTX) was numbered; the
    // feedback that got through describes each number once, says "received" only for
    // packets that arrived, and its arrival times reproduce the link's one-way delay to
    // within its 2 ms jitter plus the 250 us resolution.
    let sent = s.transport_sent.len();
    assert_eq!(sent as u64, s.originals + s.retransmissions);
    let reported = s.transport_fb.iter().flatten().count();
    let mut wrong_received = 0;
    let mut reported_lost = 0;
    let mut lost_but_arrived = 0;
    let mut owd = Vec::new();
    for (ext, fb) in s.transport_fb.iter().enumerate() {
        let seen = r.transport_seen.get(ext).copied().unwrap_or(false);
        match fb {
            Some(Some(arrival)) => {
                wrong_received += usize::from(!seen);
                let sent_at = s.transport_sent[ext].duration_since(epoch);
                owd.push(arrival.as_micros() as i64 - sent_at.as_micros() as i64);
            }
            Some(None) => {
                reported_lost += 1;
                // Arrived after the message that called it lost had gone.
                lost_but_arrived += usize::from(seen);
            }
            None => {}
        }
    }
    let min = *owd.iter().min().unwrap();
    let max = *owd.iter().max().unwrap();
    println!(
        "seed {seed}: transport seqs {sent}, reported {reported}, lost {reported_lost} \
         ({lost_but_arrived} arrived late), one-way delay spread {} us",
        max - min
    );
    assert_eq!(wrong_received, 0);
    Outcome {
        originals: s.originals,
        lost_originals,
        retransmissions: s.retransmissions,
        delivered,
        lost_frames,
        rtts: s.rtts.clone(),
        receiver_rtts: r.rtts.clone(),
        cumulative_lost: r.stats.cumulative_lost(),
        receiver_plis: r.plis,
        sender_plis: s.plis,
        twcc_reported: reported,
        twcc_sent: sent,
        twcc_lost: reported_lost,
        twcc_lost_but_arrived: lost_but_arrived,
        owd_spread_us: max - min,
    }
}
