//! Payload formats: packetizers (frame -> payloads within a size limit) and depacketizers
//! (payloads of one frame -> frame), plus [`FrameAssembler`], which collects RTP packets
//! in any order, finds complete frames and never hands on one with a packet missing.
//!
//! Formats: [`vp8`] (RFC 7741), [`vp9`] (RFC 9628), [`h264`] (RFC 6184), [`av1`] (AV1 RTP
//! specification), [`audio`] (Opus RFC 7587, G.711,
//! G.722: one frame per packet). [`RtpPacketizer`] wraps a payload packetizer to make whole
//! RTP packets within an MTU.
//!
//! ```
//! use ferrtc_rtp_codecs::codec::vp8::{Vp8Depacketizer, Vp8Packetizer};
//! use ferrtc_rtp_codecs::codec::{FrameAssembler, RtpPacketizer};
//! use ferrtc_rtp_codecs::{PayloadType, RtpPacket, SeqNo, Ssrc};
//!
//! let pt = PayloadType::new(96).expect("7 bits");
//! let mut tx = RtpPacketizer::new(Vp8Packetizer::with_picture_id(0), pt, Ssrc(1), SeqNo(100), 1200);
//! let mut rx = FrameAssembler::new(Vp8Depacketizer::new(), 1024);
//!
//! let frame = vec![0x10; 3000]; // a VP8 key frame (P bit clear)
//! let mut packets = Vec::new();
//! tx.packetize(&frame, 90_000, None, &mut packets)?;
//! for p in packets.iter().rev() {
//!     // Any order: the assembler waits until the frame is whole.
//!     rx.push_packet(&RtpPacket::new_checked(&p[..])?);
//! }
//! let got = rx.poll_frame().expect("all packets arrived");
//! assert_eq!(&got.data[..], &frame[..]);
//! assert!(got.info.keyframe);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

pub mod assembler;
pub mod audio;
pub mod av1;
mod descriptor;
pub mod h264;
mod rtp_packetizer;
pub mod vp8;
pub mod vp9;

pub use assembler::{DEFAULT_BYTE_BUDGET, Frame, FrameAssembler};
pub use rtp_packetizer::RtpPacketizer;

use bytes::Bytes;

use crate::error::{DepacketizeError, PacketizeError};

/// What a depacketizer learned about a frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct FrameInfo {
    /// The frame can be decoded without earlier frames.
    pub keyframe: bool,
    /// Picture id, if the format carries one (VP8: 7 or 15 bits).
    pub picture_id: Option<u16>,
    /// Temporal layer 0 picture index, if carried.
    pub tl0_pic_idx: Option<u8>,
    /// Temporal layer id, if carried.
    pub temporal_id: Option<u8>,
}

/// Splits frames into RTP payloads.
pub trait Packetizer {
    /// Appends the payloads of `frame` to `out`, each at most `max_payload` bytes. The
    /// caller sends them with consecutive sequence numbers, one timestamp, and the marker
    /// bit on the last.
    fn packetize(
        &mut self,
        frame: &[u8],
        max_payload: usize,
        out: &mut Vec<Bytes>,
    ) -> Result<(), PacketizeError>;
}

/// Turns the payloads of one frame back into the frame.
pub trait Depacketizer {
    /// Whether `payload` begins a frame: `Some(true)` or `Some(false)` when the format says
    /// so, `None` when it cannot tell from this payload alone.
    fn frame_start(&self, payload: &[u8]) -> Option<bool>;

    /// True when every packet carries whole frames, so a packet is a complete frame on its
    /// own (audio: RFC 3551 §4.3 and §4.4, "RTP packets SHALL contain a whole number of
    /// frames"). A frame then need not wait for the marker bit, which audio uses for the
    /// start of a talkspurt, or for the next packet to show where it ended.
    fn whole_packets(&self) -> bool {
        false
    }

    /// Writes the frame carried by `payloads` (all of one frame, in sequence order) to
    /// `out`, which it clears first. Fails rather than producing a corrupt frame.
    fn depacketize(
        &mut self,
        payloads: &[&[u8]],
        out: &mut Vec<u8>,
    ) -> Result<FrameInfo, DepacketizeError>;
}
