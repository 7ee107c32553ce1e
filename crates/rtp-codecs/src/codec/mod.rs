//! Payload formats: packetizers (frame -> payloads within a size limit) and depacketizers
//! (payloads of one frame -> frame), plus [`FrameAssembler`], which collects RTP packets
//! in any order, finds complete frames and never hands on one with a packet missing.
//!
//! Formats: [`vp8`] (RFC 7741), [`vp9`] (RFC 9628), [`h264`] (RFC 6184), [`av1`] (AV1 RTP
//! specification), [`audio`] (Opus RFC 7587, G.711,
//! G.722: one frame per packet).

pub mod assembler;
pub mod audio;
pub mod av1;
pub mod h264;
pub mod vp8;
pub mod vp9;

pub use assembler::{Frame, FrameAssembler};

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

    /// Writes the frame carried by `payloads` (all of one frame, in sequence order) to
    /// `out`, which it clears first. Fails rather than producing a corrupt frame.
    fn depacketize(
        &mut self,
        payloads: &[&[u8]],
        out: &mut Vec<u8>,
    ) -> Result<FrameInfo, DepacketizeError>;
}
