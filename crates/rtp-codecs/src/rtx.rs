//! RTP retransmission payload format (RFC 4588 section 4): a retransmission packet carries
//! the original packet's header fields (timestamp, marker, CSRCs, extensions) under the
//! retransmission stream's payload type, SSRC and sequence number, and a payload of the
//! 2-octet original sequence number (OSN) followed by the original payload.
//!
//! Both directions work on caller buffers without allocating; decapsulation is in place.

use crate::error::{BuildError, ParseError, need};
use crate::rtp::{RtpHeader, RtpPacket};
use crate::types::{PayloadType, SeqNo, Ssrc};

/// Length of the retransmission payload header (the OSN).
pub const OSN_LEN: usize = 2;

/// Writes the retransmission of `original` into `out`: same timestamp, marker, CSRCs and
/// header extensions; `rtx_pt`, `rtx_ssrc`, `rtx_seq`; payload OSN + original payload
/// (original padding dropped). Returns its length.
pub fn encapsulate<T: AsRef<[u8]>>(
    original: &RtpPacket<T>,
    rtx_pt: PayloadType,
    rtx_ssrc: Ssrc,
    rtx_seq: SeqNo,
    out: &mut [u8],
) -> Result<usize, BuildError> {
    let mut h = RtpHeader::parse(original);
    let osn = h.sequence_number;
    h.payload_type = rtx_pt;
    h.ssrc = rtx_ssrc;
    h.sequence_number = rtx_seq;
    let hl = h.buffer_len();
    let payload = original.payload();
    let total = hl + OSN_LEN + payload.len();
    need(out, total)?;
    h.emit(out)?;
    out[hl..hl + OSN_LEN].copy_from_slice(&osn.0.to_be_bytes());
    out[hl + OSN_LEN..total].copy_from_slice(payload);
    Ok(total)
}

/// Turns the retransmission packet in `buf` back into the original packet, in place: the
/// header moves forward over the OSN and takes `original_pt`, `original_ssrc` and the OSN as
/// sequence number. Returns the offset where the original packet now starts (it runs to the
/// end of `buf`).
pub fn decapsulate_in_place(
    buf: &mut [u8],
    original_pt: PayloadType,
    original_ssrc: Ssrc,
) -> Result<usize, ParseError> {
    let p = RtpPacket::new_checked(&buf[..])?;
    let header_len = p.header_len();
    let payload = p.payload();
    if payload.len() < OSN_LEN {
        return Err(ParseError::TooShort {
            what: "RTX payload",
            len: payload.len(),
            needed: OSN_LEN,
        });
    }
    let osn = SeqNo(u16::from_be_bytes([payload[0], payload[1]]));
    buf.copy_within(0..header_len, OSN_LEN);
    let start = OSN_LEN;
    // The moved header was checked above, so the view over it is valid.
    let mut q = RtpPacket::new_checked_header(&mut buf[start..])?;
    q.set_payload_type(original_pt);
    q.set_ssrc(original_ssrc);
    q.set_sequence_number(osn);
    Ok(start)
}

#[cfg(test)]
mod tests {
    use super::*;
    use ferrtc_types::ExtensionId;
    use hex_literal::hex;

    /// A test's extension id (never 0).
    fn ext_id(n: u8) -> ExtensionId {
        ExtensionId::new(n).expect("test ids are not 0")
    }

    #[test]
    fn round_trip_keeps_everything_but_stream_fields() {
        // Marker, PT 96, seq 0x1234, one CSRC, a one-byte extension, 3-byte payload,
        // 2 bytes of padding.
        let original = hex!(
            "b1 e0 12 34 00 00 03 e8 de ad be ef 00 00 00 07"
            "be de 00 01 10 aa 00 00 01 02 03 00 02"
        );
        let p = RtpPacket::new_checked(&original[..]).unwrap();
        let mut out = [0u8; 64];
        let n = encapsulate(
            &p,
            PayloadType::new(97).unwrap(),
            Ssrc(0xcafe),
            SeqNo(9),
            &mut out,
        )
        .unwrap();
        let r = RtpPacket::new_checked(&out[..n]).unwrap();
        assert_eq!(r.payload_type().get(), 97);
        assert_eq!(r.ssrc(), Ssrc(0xcafe));
        assert_eq!(r.sequence_number(), SeqNo(9));
        assert_eq!(r.timestamp(), 1000);
        assert!(r.marker());
        assert_eq!(r.payload(), &hex!("12 34 01 02 03"));
        assert_eq!(r.extension_value(ext_id(1)), Some(&[0xaa][..]));

        let mut buf = out;
        let at = decapsulate_in_place(
            &mut buf[..n],
            PayloadType::new(96).unwrap(),
            Ssrc(0xdead_beef),
        )
        .unwrap();
        let back = RtpPacket::new_checked(&buf[at..n]).unwrap();
        assert_eq!(RtpHeader::parse(&back), RtpHeader::parse(&p));
        assert_eq!(back.payload(), p.payload());

        assert!(matches!(
            encapsulate(
                &p,
                PayloadType::new(97).unwrap(),
                Ssrc(1),
                SeqNo(1),
                &mut out[..20]
            ),
            Err(BuildError::BufferTooSmall { .. })
        ));
        // An RTX packet without an OSN.
        let mut short = hex!("80 61 00 01 00 00 00 00 00 00 00 01 12");
        assert!(decapsulate_in_place(&mut short, PayloadType::new(96).unwrap(), Ssrc(1)).is_err());
    }
}
