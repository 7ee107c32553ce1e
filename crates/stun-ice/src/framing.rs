//! Framing around STUN: first-byte demultiplexing (RFC 7983), TURN ChannelData messages
//! (RFC 8656 section 12.4), and the 2-byte length prefix of RFC 4571 used by ICE-TCP
//! (RFC 6544 section 3).

use crate::stun::{HEADER_LEN, MAGIC_COOKIE};

/// Errors of the framing codecs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum FrameError {
    /// Fewer bytes than the 4-byte ChannelData header.
    #[error("ChannelData truncated: {len} bytes")]
    Truncated {
        /// Bytes available.
        len: usize,
    },
    /// A channel number outside `0x4000..=0x4FFF` (RFC 8656 section 12).
    #[error("channel number 0x{0:04x} outside 0x4000..=0x4fff")]
    InvalidChannel(u16),
    /// The ChannelData length field claims more data than is present
    /// (RFC 8656 section 12.6: the message is discarded).
    #[error("ChannelData length {declared} but {actual} data bytes present")]
    LengthMismatch {
        /// The value of the length field.
        declared: usize,
        /// Bytes present after the header.
        actual: usize,
    },
    /// More than a frame's padding follows the ChannelData payload in a datagram.
    #[error("{0} bytes after the ChannelData payload")]
    TrailingBytes(usize),
    /// The payload does not fit a 16-bit length field.
    #[error("payload of {0} bytes is longer than a 16-bit length allows")]
    TooLong(usize),
    /// On a TURN stream, a message that is neither STUN (first bits `00`) nor ChannelData
    /// (first bits `01`) (RFC 8656 section 12.6).
    #[error("stream bytes are neither STUN nor ChannelData")]
    UnknownStreamMessage,
}

/// What a datagram's first byte says it carries (RFC 7983 section 7).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Protocol {
    /// STUN (first byte 0 to 3).
    Stun,
    /// ZRTP (16 to 19).
    Zrtp,
    /// DTLS (20 to 63).
    Dtls,
    /// TURN ChannelData (64 to 79).
    TurnChannel,
    /// RTP or RTCP (128 to 191).
    Rtp,
    /// None of the above, or empty.
    Unknown,
}

/// Classifies a datagram by its first byte (RFC 7983 section 7).
pub fn classify(datagram: &[u8]) -> Protocol {
    match datagram.first() {
        Some(0..=3) => Protocol::Stun,
        Some(16..=19) => Protocol::Zrtp,
        Some(20..=63) => Protocol::Dtls,
        Some(64..=79) => Protocol::TurnChannel,
        Some(128..=191) => Protocol::Rtp,
        _ => Protocol::Unknown,
    }
}

/// Fast test for "this datagram is STUN": first byte 0 to 3 (RFC 7983 section 7), at least a
/// header's length, and the magic cookie (RFC 8489 section 7). Checks nothing else.
pub fn is_stun(datagram: &[u8]) -> bool {
    match datagram {
        [b0, _, _, _, c0, c1, c2, c3, ..] => {
            datagram.len() >= HEADER_LEN
                && *b0 <= 3
                && u32::from_be_bytes([*c0, *c1, *c2, *c3]) == MAGIC_COOKIE
        }
        _ => false,
    }
}

/// A TURN ChannelData message (RFC 8656 section 12.4): a channel number and application data,
/// borrowed from the buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChannelData<'a> {
    /// The channel number, `0x4000..=0x4FFF`.
    pub channel: u16,
    /// The application data.
    pub data: &'a [u8],
}

impl<'a> ChannelData<'a> {
    /// Smallest valid channel number (RFC 8656 section 12).
    pub const MIN_CHANNEL: u16 = 0x4000;
    /// Largest valid channel number (RFC 8656 section 12).
    pub const MAX_CHANNEL: u16 = 0x4FFF;
    /// Header length.
    pub const HEADER_LEN: usize = 4;

    /// Parses a ChannelData message filling a datagram. Up to 3 bytes of padding after the
    /// data are accepted (RFC 8656 section 12.5: padding MAY be present over UDP).
    pub fn new_checked(datagram: &'a [u8]) -> Result<Self, FrameError> {
        let (cd, used) = Self::read(datagram)?;
        let extra = datagram.len() - used;
        if extra > 3 {
            return Err(FrameError::TrailingBytes(extra));
        }
        Ok(cd)
    }

    /// Parses a ChannelData message at the front of `buf` and returns it with the number of
    /// bytes it occupies, not counting padding (on a stream, use [`stream_frame_len`], which
    /// counts the padding).
    pub fn read(buf: &'a [u8]) -> Result<(Self, usize), FrameError> {
        let [c0, c1, l0, l1, rest @ ..] = buf else {
            return Err(FrameError::Truncated { len: buf.len() });
        };
        let channel = u16::from_be_bytes([*c0, *c1]);
        if !(Self::MIN_CHANNEL..=Self::MAX_CHANNEL).contains(&channel) {
            return Err(FrameError::InvalidChannel(channel));
        }
        let len = usize::from(u16::from_be_bytes([*l0, *l1]));
        let data = rest.get(..len).ok_or(FrameError::LengthMismatch {
            declared: len,
            actual: rest.len(),
        })?;
        Ok((ChannelData { channel, data }, Self::HEADER_LEN + len))
    }

    /// Appends the message to `out`; with `pad`, zero-pads it to a multiple of 4 (required
    /// over TCP, RFC 8656 section 12.5). Writes nothing on error.
    pub fn encode(&self, pad: bool, out: &mut Vec<u8>) -> Result<(), FrameError> {
        if !(Self::MIN_CHANNEL..=Self::MAX_CHANNEL).contains(&self.channel) {
            return Err(FrameError::InvalidChannel(self.channel));
        }
        let len =
            u16::try_from(self.data.len()).map_err(|_| FrameError::TooLong(self.data.len()))?;
        out.extend_from_slice(&self.channel.to_be_bytes());
        out.extend_from_slice(&len.to_be_bytes());
        out.extend_from_slice(self.data);
        if pad {
            out.resize(out.len() + (4 - self.data.len() % 4) % 4, 0);
        }
        Ok(())
    }
}

/// On a TURN-over-TCP stream (RFC 8656 section 12.5), the length of the frame at the front
/// of `buf`: a STUN message (header plus length field) or a ChannelData message padded to 4
/// bytes. `Ok(None)` when fewer than 4 bytes have arrived.
pub fn stream_frame_len(buf: &[u8]) -> Result<Option<usize>, FrameError> {
    let [b0, _, l0, l1, ..] = buf else {
        return Ok(None);
    };
    let len = usize::from(u16::from_be_bytes([*l0, *l1]));
    match b0 >> 6 {
        0b00 => Ok(Some(HEADER_LEN + len)),
        0b01 => Ok(Some(ChannelData::HEADER_LEN + ((len + 3) & !3))),
        _ => Err(FrameError::UnknownStreamMessage),
    }
}

/// RFC 4571 framing, used for ICE over TCP (RFC 6544 section 3): each packet is preceded by
/// its length as 16 bits.
pub mod rfc4571 {
    use super::FrameError;

    /// Appends `packet` with its 2-byte length prefix to `out`. Writes nothing on error.
    pub fn encode(packet: &[u8], out: &mut Vec<u8>) -> Result<(), FrameError> {
        let len = u16::try_from(packet.len()).map_err(|_| FrameError::TooLong(packet.len()))?;
        out.extend_from_slice(&len.to_be_bytes());
        out.extend_from_slice(packet);
        Ok(())
    }

    /// Splits the first complete packet off the front of a received byte stream: returns the
    /// packet and the bytes consumed (prefix included), or `None` if it has not fully arrived.
    pub fn decode(stream: &[u8]) -> Option<(&[u8], usize)> {
        let [l0, l1, rest @ ..] = stream else {
            return None;
        };
        let len = usize::from(u16::from_be_bytes([*l0, *l1]));
        rest.get(..len).map(|packet| (packet, 2 + len))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classify_by_first_byte() {
        assert_eq!(classify(&[0x00, 0x01]), Protocol::Stun);
        assert_eq!(classify(&[0x03]), Protocol::Stun);
        assert_eq!(classify(&[0x04]), Protocol::Unknown);
        assert_eq!(classify(&[17]), Protocol::Zrtp);
        assert_eq!(classify(&[22, 0xfe, 0xfd]), Protocol::Dtls);
        assert_eq!(classify(&[0x40, 0x00]), Protocol::TurnChannel);
        assert_eq!(classify(&[0x80, 0x60]), Protocol::Rtp);
        assert_eq!(classify(&[0xc0]), Protocol::Unknown);
        assert_eq!(classify(&[]), Protocol::Unknown);
    }

    #[test]
    fn is_stun_needs_cookie_and_length() {
        let mut m = [0u8; 20];
        m[1] = 1;
        m[4..8].copy_from_slice(&MAGIC_COOKIE.to_be_bytes());
        assert!(is_stun(&m));
        assert!(!is_stun(&m[..19]));
        m[0] = 0x04;
        assert!(!is_stun(&m));
        m[0] = 0;
        m[7] ^= 1;
        assert!(!is_stun(&m));
    }

    #[test]
    fn channel_data_round_trip_and_errors() {
        let cd = ChannelData {
            channel: 0x4001,
            data: b"hello",
        };
        let mut out = Vec::new();
        cd.encode(true, &mut out).unwrap();
        assert_eq!(
            out,
            [
                0x40, 0x01, 0x00, 0x05, b'h', b'e', b'l', b'l', b'o', 0, 0, 0
            ]
        );
        assert_eq!(ChannelData::new_checked(&out), Ok(cd));
        assert_eq!(ChannelData::new_checked(&out[..9]), Ok(cd));
        assert_eq!(
            ChannelData::new_checked(&out[..8]),
            Err(FrameError::LengthMismatch {
                declared: 5,
                actual: 4
            })
        );
        let mut long = out.clone();
        long.push(0);
        assert_eq!(
            ChannelData::new_checked(&long),
            Err(FrameError::TrailingBytes(4))
        );
        assert_eq!(
            ChannelData::new_checked(&[0x50, 0, 0, 0]),
            Err(FrameError::InvalidChannel(0x5000))
        );
        assert_eq!(
            ChannelData::new_checked(&[0x40]),
            Err(FrameError::Truncated { len: 1 })
        );
        let bad = ChannelData {
            channel: 0x3fff,
            data: &[],
        };
        let mut none = Vec::new();
        assert_eq!(
            bad.encode(false, &mut none),
            Err(FrameError::InvalidChannel(0x3fff))
        );
        assert!(none.is_empty());
        // Zero-length data is valid (RFC 8656 section 12.4).
        assert_eq!(
            ChannelData::new_checked(&[0x4f, 0xff, 0, 0]),
            Ok(ChannelData {
                channel: 0x4fff,
                data: &[]
            })
        );
    }

    #[test]
    fn stream_frames() {
        assert_eq!(stream_frame_len(&[0x00, 0x01, 0x00]), Ok(None));
        assert_eq!(stream_frame_len(&[0x00, 0x01, 0x00, 0x08]), Ok(Some(28)));
        assert_eq!(stream_frame_len(&[0x40, 0x00, 0x00, 0x05]), Ok(Some(12)));
        assert_eq!(stream_frame_len(&[0x40, 0x00, 0x00, 0x08]), Ok(Some(12)));
        assert_eq!(
            stream_frame_len(&[0x80, 0, 0, 0]),
            Err(FrameError::UnknownStreamMessage)
        );
    }

    #[test]
    fn rfc4571_round_trip() {
        let mut stream = Vec::new();
        rfc4571::encode(b"abc", &mut stream).unwrap();
        rfc4571::encode(b"", &mut stream).unwrap();
        assert_eq!(rfc4571::decode(&stream[..4]), None);
        let (p, used) = rfc4571::decode(&stream).unwrap();
        assert_eq!((p, used), (&b"abc"[..], 5));
        assert_eq!(rfc4571::decode(&stream[used..]), Some((&b""[..], 2)));
        assert_eq!(rfc4571::decode(&stream[..1]), None);
        let big = vec![0u8; 65536];
        assert_eq!(
            rfc4571::encode(&big, &mut stream),
            Err(FrameError::TooLong(65536))
        );
    }
}
