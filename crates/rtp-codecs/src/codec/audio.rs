//! Audio payload formats that carry one frame per packet: Opus (RFC 7587 section 4.2: one
//! Opus packet per RTP packet, never fragmented), G.711 PCMU/PCMA and G.722 (RFC 3551
//! sections 4.5.14, 4.5.2: sample-based; one frame of samples per packet here).

use bytes::Bytes;

use super::{Depacketizer, FrameInfo, Packetizer};
use crate::error::{DepacketizeError, PacketizeError};

/// Which audio format a [`AudioPacketizer`] / [`AudioDepacketizer`] carries. The wire
/// behaviour is the same; the kind documents intent and sets the clock rate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum AudioFormat {
    /// Opus, 48 kHz RTP clock (RFC 7587 section 4.1).
    Opus,
    /// G.711 mu-law, 8 kHz (RFC 3551 section 4.5.14).
    Pcmu,
    /// G.711 A-law, 8 kHz.
    Pcma,
    /// G.722, 8 kHz RTP clock although sampled at 16 kHz (RFC 3551 section 4.5.2).
    G722,
}

impl AudioFormat {
    /// RTP clock rate.
    pub fn clock_rate(self) -> u32 {
        match self {
            AudioFormat::Opus => 48_000,
            AudioFormat::Pcmu | AudioFormat::Pcma | AudioFormat::G722 => 8_000,
        }
    }

    /// Static payload type, if the format has one (RFC 3551 table 4).
    pub fn static_payload_type(self) -> Option<u8> {
        match self {
            AudioFormat::Opus => None,
            AudioFormat::Pcmu => Some(0),
            AudioFormat::Pcma => Some(8),
            AudioFormat::G722 => Some(9),
        }
    }
}

/// Packetizer for one-frame-per-packet audio.
#[derive(Debug, Clone, Copy)]
pub struct AudioPacketizer {
    /// The format carried.
    pub format: AudioFormat,
}

impl AudioPacketizer {
    /// A packetizer for `format`.
    pub fn new(format: AudioFormat) -> Self {
        AudioPacketizer { format }
    }
}

impl Packetizer for AudioPacketizer {
    fn packetize(
        &mut self,
        frame: &[u8],
        max_payload: usize,
        out: &mut Vec<Bytes>,
    ) -> Result<(), PacketizeError> {
        if frame.is_empty() {
            return Err(PacketizeError::MalformedFrame {
                what: "empty audio frame",
            });
        }
        if frame.len() > max_payload {
            return Err(PacketizeError::UnitTooLarge {
                len: frame.len(),
                max_payload,
            });
        }
        out.push(Bytes::copy_from_slice(frame));
        Ok(())
    }
}

/// Depacketizer for one-frame-per-packet audio.
#[derive(Debug, Clone, Copy)]
pub struct AudioDepacketizer {
    /// The format carried.
    pub format: AudioFormat,
}

impl AudioDepacketizer {
    /// A depacketizer for `format`.
    pub fn new(format: AudioFormat) -> Self {
        AudioDepacketizer { format }
    }
}

impl Depacketizer for AudioDepacketizer {
    fn frame_start(&self, _payload: &[u8]) -> Option<bool> {
        Some(true)
    }

    fn whole_packets(&self) -> bool {
        true
    }

    /// Every audio frame counts as a key frame: playback can start at any of them.
    fn depacketize(
        &mut self,
        payloads: &[&[u8]],
        out: &mut Vec<u8>,
    ) -> Result<FrameInfo, DepacketizeError> {
        out.clear();
        match payloads {
            [p] if !p.is_empty() => {
                out.extend_from_slice(p);
                Ok(FrameInfo {
                    keyframe: true,
                    ..Default::default()
                })
            }
            [_] => Err(DepacketizeError::Malformed {
                what: "empty audio payload",
            }),
            _ => Err(DepacketizeError::Malformed {
                what: "audio frame spans several packets",
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_frame_one_packet() {
        let mut p = AudioPacketizer::new(AudioFormat::Opus);
        let mut out = vec![];
        p.packetize(&[0xfc, 1, 2], 1200, &mut out).unwrap();
        assert_eq!(&out[0][..], &[0xfc, 1, 2]);
        assert!(p.packetize(&[0; 1300], 1200, &mut out).is_err());
        assert!(p.packetize(&[], 1200, &mut out).is_err());
        let mut d = AudioDepacketizer::new(AudioFormat::Pcmu);
        let mut f = vec![];
        assert!(d.depacketize(&[&[0xff; 160]], &mut f).unwrap().keyframe);
        assert_eq!(f, vec![0xff; 160]);
        assert!(d.depacketize(&[&[1], &[2]], &mut f).is_err());
        assert!(d.depacketize(&[&[]], &mut f).is_err());
        assert_eq!(AudioFormat::G722.clock_rate(), 8000);
        assert_eq!(AudioFormat::Pcma.static_payload_type(), Some(8));
    }
}
