//! Demultiplexing one UDP flow by the first byte of each datagram (RFC 7983 §7, with the
//! RTP/RTCP split of RFC 5761 §4).

/// What a datagram on the bundled flow is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Packet {
    /// STUN (first byte 0..=3): to the ICE agent.
    Stun,
    /// DTLS (first byte 20..=63): to the DTLS endpoint.
    Dtls,
    /// SRTP (first byte 128..=191, second byte's payload type outside 64..=95).
    Rtp,
    /// SRTCP (first byte 128..=191, packet type 192..=223: RFC 5761 §4).
    Rtcp,
    /// Anything else (TURN channel data 64..=79 never reaches a peer connection: the TURN
    /// client unwraps it): dropped and counted.
    Unknown,
}

/// Classifies a datagram. Never panics; an empty datagram is [`Packet::Unknown`].
///
/// ```
/// use ferrtc_peerconnection::demux::{classify, Packet};
///
/// assert_eq!(classify(&[0x00, 0x01]), Packet::Stun);
/// assert_eq!(classify(&[0x16, 0xfe, 0xfd]), Packet::Dtls);
/// assert_eq!(classify(&[0x80, 0x60]), Packet::Rtp);
/// assert_eq!(classify(&[0x80, 0xc8]), Packet::Rtcp); // SR, payload type 200
/// assert_eq!(classify(&[]), Packet::Unknown);
/// ```
#[must_use]
pub fn classify(datagram: &[u8]) -> Packet {
    match datagram {
        [0..=3, ..] => Packet::Stun,
        [20..=63, ..] => Packet::Dtls,
        [128..=191, second, ..] => {
            // RFC 5761 §4: RTCP packet types 192-223 land on masked payload types 64-95,
            // which RTP payload types on a muxed flow must avoid.
            if (64..=95).contains(&(second & 0x7f)) {
                Packet::Rtcp
            } else {
                Packet::Rtp
            }
        }
        _ => Packet::Unknown,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_first_byte_has_one_class() {
        for b in 0..=255u8 {
            let c = classify(&[b, 0x60]);
            let expected = match b {
                0..=3 => Packet::Stun,
                20..=63 => Packet::Dtls,
                128..=191 => Packet::Rtp,
                _ => Packet::Unknown,
            };
            assert_eq!(c, expected, "first byte {b}");
        }
        for pt in [200u8, 201, 205, 206, 207, 192, 223] {
            assert_eq!(classify(&[0x80, pt]), Packet::Rtcp, "{pt}");
        }
        assert_eq!(classify(&[0x80]), Packet::Unknown);
    }
}
