//! The little of RTP and RTCP this crate needs to read: where the RTP header ends, the SSRC
//! and the sequence number (RFC 3550 §5.1, §6.4). Checked once, no copies.

use crate::{Error, Result};

/// RTP fixed header length (RFC 3550 §5.1).
pub(crate) const RTP_FIXED_HEADER_LEN: usize = 12;
/// Bytes of an RTCP packet that SRTCP never encrypts: the first header word and the sender
/// SSRC (RFC 3711 §3.4).
pub(crate) const RTCP_UNENCRYPTED_LEN: usize = 8;
/// RTP/RTCP protocol version (RFC 3550 §5.1).
const VERSION: u8 = 2;

/// What SRTP needs from an RTP packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct RtpView {
    /// Fixed header, CSRC list and header extension: everything SRTP leaves in the clear.
    pub header_len: usize,
    /// Synchronization source (bytes 8..12).
    pub ssrc: u32,
    /// Sequence number (bytes 2..4).
    pub seq: u16,
}

/// Reads the RTP header of `packet` (which excludes any SRTP trailer).
pub(crate) fn rtp(packet: &[u8]) -> Result<RtpView> {
    let len = packet.len();
    let Some(fixed) = packet.first_chunk::<RTP_FIXED_HEADER_LEN>() else {
        return Err(Error::Truncated {
            len,
            min: RTP_FIXED_HEADER_LEN,
        });
    };
    let version = fixed[0] >> 6;
    if version != VERSION {
        return Err(Error::BadVersion(version));
    }
    let csrc_count = usize::from(fixed[0] & 0x0f);
    let has_extension = fixed[0] & 0x10 != 0;
    let mut header_len = RTP_FIXED_HEADER_LEN + 4 * csrc_count;
    if has_extension {
        // 16-bit profile-defined field, then the extension length in 32-bit words
        // (RFC 3550 §5.3.1).
        let Some(words) = packet.get(header_len + 2..header_len + 4) else {
            return Err(Error::HeaderOverrun {
                header_len: header_len + 4,
                len,
            });
        };
        header_len += 4 + 4 * usize::from(u16::from_be_bytes([words[0], words[1]]));
    }
    if header_len > len {
        return Err(Error::HeaderOverrun { header_len, len });
    }
    Ok(RtpView {
        header_len,
        ssrc: u32::from_be_bytes([fixed[8], fixed[9], fixed[10], fixed[11]]),
        seq: u16::from_be_bytes([fixed[2], fixed[3]]),
    })
}

/// Reads the sender SSRC of the first RTCP packet in `packet` (a compound packet, no trailer).
pub(crate) fn rtcp_ssrc(packet: &[u8]) -> Result<u32> {
    let Some(head) = packet.first_chunk::<RTCP_UNENCRYPTED_LEN>() else {
        return Err(Error::Truncated {
            len: packet.len(),
            min: RTCP_UNENCRYPTED_LEN,
        });
    };
    let version = head[0] >> 6;
    if version != VERSION {
        return Err(Error::BadVersion(version));
    }
    Ok(u32::from_be_bytes([head[4], head[5], head[6], head[7]]))
}

#[cfg(test)]
mod tests {
    use super::*;
    use hex_literal::hex;

    #[test]
    fn plain_header() {
        let p = hex!("8040f17b 8041f8d3 5501a0b2 47616c6c");
        let v = rtp(&p).unwrap();
        assert_eq!(
            v,
            RtpView {
                header_len: 12,
                ssrc: 0x5501_a0b2,
                seq: 0xf17b
            }
        );
    }

    #[test]
    fn csrcs_and_extension() {
        // CC = 2, X = 1, extension of 1 word, then 2 payload bytes.
        let p = hex!("92 60 0001 00000002 00000003 11111111 22222222 bede0001 10ff0000 abcd");
        let v = rtp(&p).unwrap();
        assert_eq!(v.header_len, 12 + 8 + 4 + 4);
        assert_eq!(v.ssrc, 3);
        assert_eq!(v.seq, 1);
    }

    #[test]
    fn overruns_are_errors() {
        assert!(matches!(
            rtp(&hex!("80 60 0001")),
            Err(Error::Truncated { .. })
        ));
        assert_eq!(
            rtp(&hex!("40 60 0001 00000002 00000003")),
            Err(Error::BadVersion(1))
        );
        // CC = 1 but no CSRC.
        assert!(matches!(
            rtp(&hex!("81 60 0001 00000002 00000003")),
            Err(Error::HeaderOverrun { .. })
        ));
        // X = 1, no extension header.
        assert!(matches!(
            rtp(&hex!("90 60 0001 00000002 00000003 bede")),
            Err(Error::HeaderOverrun { .. })
        ));
        // Extension claims 2 words, 1 present.
        assert!(matches!(
            rtp(&hex!("90 60 0001 00000002 00000003 bede0002 00000000")),
            Err(Error::HeaderOverrun { .. })
        ));
        assert!(matches!(
            rtcp_ssrc(&hex!("80c8 0006 0000")),
            Err(Error::Truncated { .. })
        ));
        assert_eq!(rtcp_ssrc(&hex!("80c8 0006 01020304")), Ok(0x0102_0304));
    }
}
