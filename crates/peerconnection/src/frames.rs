//! Encoded frames in and out of a transceiver: the payload formats of `ferrtc-rtp-codecs`
//! chosen by the negotiated codec's name, a packetizer for what we send and a jitter
//! buffer for what we receive.

use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use ferrtc_rtp_codecs::codec::audio::{AudioDepacketizer, AudioFormat, AudioPacketizer};
use ferrtc_rtp_codecs::codec::av1::{Av1Depacketizer, Av1Packetizer};
use ferrtc_rtp_codecs::codec::h264::{H264Depacketizer, H264Packetizer, PacketizationMode};
use ferrtc_rtp_codecs::codec::vp8::{Vp8Depacketizer, Vp8Packetizer};
use ferrtc_rtp_codecs::codec::vp9::{Vp9Depacketizer, Vp9Mode, Vp9Packetizer};
use ferrtc_rtp_codecs::codec::{Depacketizer, FrameInfo, Packetizer, RtpPacketizer};
use ferrtc_rtp_codecs::pipeline::{JitterBuffer, JitterConfig, JitterEvent};
use ferrtc_rtp_codecs::{DepacketizeError, PacketizeError, RtpPacket};
use ferrtc_types::{PayloadType, SeqNo, Ssrc};

/// A codec whose RTP payload format ferrtc implements.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum CodecKind {
    /// VP8 (RFC 7741).
    Vp8,
    /// VP9 (RFC 9628).
    Vp9,
    /// H.264 (RFC 6184), packetization mode 1 (0 when the fmtp says so).
    H264,
    /// AV1 (the AOM RTP payload format).
    Av1,
    /// Opus (RFC 7587).
    Opus,
    /// G.711 mu-law (RFC 3551).
    Pcmu,
    /// G.711 A-law (RFC 3551).
    Pcma,
    /// G.722 (RFC 3551).
    G722,
}

impl CodecKind {
    /// The codec an `a=rtpmap` encoding name names (case-insensitive), if ferrtc has its
    /// payload format.
    #[must_use]
    pub fn from_name(name: &str) -> Option<CodecKind> {
        [
            ("VP8", CodecKind::Vp8),
            ("VP9", CodecKind::Vp9),
            ("H264", CodecKind::H264),
            ("AV1", CodecKind::Av1),
            ("opus", CodecKind::Opus),
            ("PCMU", CodecKind::Pcmu),
            ("PCMA", CodecKind::Pcma),
            ("G722", CodecKind::G722),
        ]
        .into_iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, k)| k)
    }

    fn audio(self) -> Option<AudioFormat> {
        match self {
            CodecKind::Opus => Some(AudioFormat::Opus),
            CodecKind::Pcmu => Some(AudioFormat::Pcmu),
            CodecKind::Pcma => Some(AudioFormat::Pcma),
            CodecKind::G722 => Some(AudioFormat::G722),
            _ => None,
        }
    }
}

/// An encoded frame: what an encoder produced or a decoder takes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EncodedFrame {
    /// The codec.
    pub codec: CodecKind,
    /// The frame's bytes (for H.264, Annex B).
    pub data: Bytes,
    /// Its RTP timestamp (in the codec's clock rate).
    pub rtp_timestamp: u32,
    /// Decodable without earlier frames.
    pub keyframe: bool,
    /// The SSRC it came on (received frames).
    pub ssrc: Ssrc,
}

/// One payload format, for both directions.
pub(crate) enum AnyPacketizer {
    Vp8(Vp8Packetizer),
    Vp9(Vp9Packetizer),
    H264(H264Packetizer),
    Av1(Av1Packetizer),
    Audio(AudioPacketizer),
}

impl AnyPacketizer {
    pub(crate) fn new(kind: CodecKind, h264_mode0: bool) -> AnyPacketizer {
        match kind {
            CodecKind::Vp8 => AnyPacketizer::Vp8(Vp8Packetizer::new()),
            CodecKind::Vp9 => AnyPacketizer::Vp9(Vp9Packetizer::new(Vp9Mode::NonFlexible, 0)),
            CodecKind::H264 => AnyPacketizer::H264(H264Packetizer::new(if h264_mode0 {
                PacketizationMode::SingleNal
            } else {
                PacketizationMode::NonInterleaved
            })),
            CodecKind::Av1 => AnyPacketizer::Av1(Av1Packetizer::new()),
            other => AnyPacketizer::Audio(AudioPacketizer::new(
                other.audio().unwrap_or(AudioFormat::Opus),
            )),
        }
    }
}

impl Packetizer for AnyPacketizer {
    fn packetize(
        &mut self,
        frame: &[u8],
        max_payload: usize,
        out: &mut Vec<Bytes>,
    ) -> Result<(), PacketizeError> {
        match self {
            AnyPacketizer::Vp8(p) => p.packetize(frame, max_payload, out),
            AnyPacketizer::Vp9(p) => p.packetize(frame, max_payload, out),
            AnyPacketizer::H264(p) => p.packetize(frame, max_payload, out),
            AnyPacketizer::Av1(p) => p.packetize(frame, max_payload, out),
            AnyPacketizer::Audio(p) => p.packetize(frame, max_payload, out),
        }
    }
}

pub(crate) enum AnyDepacketizer {
    Vp8(Vp8Depacketizer),
    Vp9(Vp9Depacketizer),
    H264(H264Depacketizer),
    Av1(Av1Depacketizer),
    Audio(AudioDepacketizer),
}

impl AnyDepacketizer {
    fn new(kind: CodecKind) -> AnyDepacketizer {
        match kind {
            CodecKind::Vp8 => AnyDepacketizer::Vp8(Vp8Depacketizer::new()),
            CodecKind::Vp9 => AnyDepacketizer::Vp9(Vp9Depacketizer::new()),
            CodecKind::H264 => AnyDepacketizer::H264(H264Depacketizer::new()),
            CodecKind::Av1 => AnyDepacketizer::Av1(Av1Depacketizer::new()),
            other => AnyDepacketizer::Audio(AudioDepacketizer::new(
                other.audio().unwrap_or(AudioFormat::Opus),
            )),
        }
    }
}

impl Depacketizer for AnyDepacketizer {
    fn frame_start(&self, payload: &[u8]) -> Option<bool> {
        match self {
            AnyDepacketizer::Vp8(d) => d.frame_start(payload),
            AnyDepacketizer::Vp9(d) => d.frame_start(payload),
            AnyDepacketizer::H264(d) => d.frame_start(payload),
            AnyDepacketizer::Av1(d) => d.frame_start(payload),
            AnyDepacketizer::Audio(d) => d.frame_start(payload),
        }
    }

    fn whole_packets(&self) -> bool {
        matches!(self, AnyDepacketizer::Audio(_))
    }

    fn depacketize(
        &mut self,
        payloads: &[&[u8]],
        out: &mut Vec<u8>,
    ) -> Result<FrameInfo, DepacketizeError> {
        match self {
            AnyDepacketizer::Vp8(d) => d.depacketize(payloads, out),
            AnyDepacketizer::Vp9(d) => d.depacketize(payloads, out),
            AnyDepacketizer::H264(d) => d.depacketize(payloads, out),
            AnyDepacketizer::Av1(d) => d.depacketize(payloads, out),
            AnyDepacketizer::Audio(d) => d.depacketize(payloads, out),
        }
    }
}

/// The send side of a transceiver in frame mode.
pub(crate) struct FrameSender {
    pub(crate) codec: CodecKind,
    pub(crate) payload_type: PayloadType,
    packetizer: RtpPacketizer<AnyPacketizer>,
    packets: Vec<BytesMut>,
}

impl FrameSender {
    pub(crate) fn new(
        codec: CodecKind,
        h264_mode0: bool,
        pt: PayloadType,
        ssrc: Ssrc,
        first_seq: SeqNo,
        mtu: usize,
    ) -> FrameSender {
        FrameSender {
            codec,
            payload_type: pt,
            packetizer: RtpPacketizer::new(
                AnyPacketizer::new(codec, h264_mode0),
                pt,
                ssrc,
                first_seq,
                mtu,
            ),
            packets: Vec::new(),
        }
    }

    /// The sequence number of the next packet.
    pub(crate) fn next_sequence_number(&self) -> SeqNo {
        self.packetizer.next_sequence_number()
    }

    /// The RTP packets of one frame.
    pub(crate) fn packetize(
        &mut self,
        frame: &[u8],
        rtp_timestamp: u32,
    ) -> Result<impl Iterator<Item = BytesMut> + '_, PacketizeError> {
        self.packets.clear();
        self.packetizer
            .packetize(frame, rtp_timestamp, None, &mut self.packets)?;
        Ok(self.packets.drain(..))
    }
}

/// The receive side of one incoming stream in frame mode.
pub(crate) struct FrameReceiver {
    pub(crate) codec: CodecKind,
    ssrc: Ssrc,
    /// The newest sequence number seen (RFC 3550 A.1's wrap-aware order).
    newest: Option<u16>,
    jitter: JitterBuffer<AnyDepacketizer>,
}

/// What a frame receiver hands out.
pub(crate) enum Received {
    Frame(EncodedFrame),
    /// Packets given up on.
    Lost(u64),
}

impl FrameReceiver {
    pub(crate) fn new(codec: CodecKind, ssrc: Ssrc, clock_rate: u32) -> FrameReceiver {
        let mut config = JitterConfig::default();
        if codec.audio().is_some() {
            // Audio frames are single packets: never hold one back for long.
            config.max_delay = Duration::from_millis(100);
        }
        FrameReceiver {
            codec,
            ssrc,
            newest: None,
            jitter: JitterBuffer::new(AnyDepacketizer::new(codec), clock_rate, config),
        }
    }

    pub(crate) fn handle_rtp(&mut self, now: Instant, packet: &[u8]) {
        if let Ok(p) = RtpPacket::new_checked(packet) {
            let seq = p.sequence_number().0;
            if self.is_newer(seq) {
                self.newest = Some(seq);
            }
            self.jitter.handle_rtp(now, &p);
        }
    }

    /// Whether `seq` comes after every sequence number seen so far (within half the
    /// sequence space, as RFC 3550 A.1 orders them).
    pub(crate) fn is_newer(&self, seq: u16) -> bool {
        self.newest
            .is_none_or(|n| seq != n && seq.wrapping_sub(n) < 0x8000)
    }

    pub(crate) fn set_rtt(&mut self, rtt: Duration) {
        self.jitter.set_rtt(rtt);
    }

    pub(crate) fn poll(&mut self, now: Instant) -> Option<Received> {
        loop {
            return match self.jitter.poll_event(now)? {
                JitterEvent::Frame(f) => Some(Received::Frame(EncodedFrame {
                    codec: self.codec,
                    data: f.data,
                    rtp_timestamp: f.timestamp,
                    keyframe: f.info.keyframe,
                    ssrc: self.ssrc,
                })),
                JitterEvent::Lost { packets, .. } => Some(Received::Lost(packets)),
                // A frame a decoder cannot use until the next key frame: skipped.
                _ => continue,
            };
        }
    }

    pub(crate) fn wants_keyframe(&mut self, now: Instant) -> bool {
        self.jitter.poll_keyframe_request(now)
    }

    pub(crate) fn poll_timeout(&self) -> Option<Instant> {
        self.jitter.poll_timeout()
    }
}
