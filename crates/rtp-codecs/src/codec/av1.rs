//! AV1 payload format (AV1 RTP specification v1.0, Alliance for Open Media, section 4).
//!
//! ```text
//!  0 1 2 3 4 5 6 7
//! +-+-+-+-+-+-+-+-+
//! |Z|Y| W |N|-|-|-|   aggregation header, then OBU elements
//! +-+-+-+-+-+-+-+-+
//! ```
//!
//! Z: the first element continues an OBU fragment from the previous packet; Y: the last
//! element continues in the next packet; W: number of elements (0 = each has a LEB128 length
//! prefix, 1..=3 = all but the last have one); N: first packet of a coded video sequence.
//!
//! Frames are temporal units in the low-overhead bitstream format (OBUs carrying
//! `obu_size`). The packetizer drops temporal delimiters and tile list OBUs and clears
//! `obu_has_size_field` (section 5); the depacketizer writes a temporal delimiter and puts the
//! sizes back, so its output feeds a decoder directly.

use bytes::{BufMut, Bytes, BytesMut};

use super::{Depacketizer, FrameInfo, Packetizer};
use crate::error::{DepacketizeError, PacketizeError};

/// OBU types used here (AV1 bitstream specification section 6.2.2).
pub mod obu_type {
    /// Sequence header.
    pub const SEQUENCE_HEADER: u8 = 1;
    /// Temporal delimiter.
    pub const TEMPORAL_DELIMITER: u8 = 2;
    /// Tile list.
    pub const TILE_LIST: u8 = 8;
}

/// A temporal delimiter OBU with its (zero) size.
const TEMPORAL_DELIMITER: [u8; 2] = [0x12, 0x00];

/// Reads an unsigned LEB128 value (at most 8 bytes, at most 32 bits); returns it and its
/// length.
pub fn read_leb128(b: &[u8]) -> Option<(u32, usize)> {
    let mut v: u64 = 0;
    for (i, &byte) in b.iter().take(8).enumerate() {
        v |= u64::from(byte & 0x7f) << (7 * i);
        if byte & 0x80 == 0 {
            return u32::try_from(v).ok().map(|v| (v, i + 1));
        }
    }
    None
}

/// Length of `v` in LEB128.
pub fn leb128_len(v: usize) -> usize {
    let mut n = 1;
    let mut v = v >> 7;
    while v != 0 {
        n += 1;
        v >>= 7;
    }
    n
}

fn put_leb128(out: &mut impl BufMut, mut v: usize) {
    loop {
        let b = (v & 0x7f) as u8;
        v >>= 7;
        if v == 0 {
            out.put_u8(b);
            return;
        }
        out.put_u8(b | 0x80);
    }
}

/// One OBU of a temporal unit: its header octets (size flag cleared) and payload.
struct Obu<'a> {
    header: u8,
    extension: Option<u8>,
    payload: &'a [u8],
}

impl Obu<'_> {
    fn element_len(&self) -> usize {
        1 + usize::from(self.extension.is_some()) + self.payload.len()
    }
}

fn malformed_frame(what: &'static str) -> PacketizeError {
    PacketizeError::MalformedFrame { what }
}

/// Splits a low-overhead temporal unit into OBUs.
fn split_obus(mut tu: &[u8]) -> Result<Vec<Obu<'_>>, PacketizeError> {
    let mut v = Vec::new();
    while !tu.is_empty() {
        let h = tu[0];
        if h & 0x80 != 0 {
            return Err(malformed_frame("AV1 OBU forbidden bit set"));
        }
        let mut at = 1;
        let extension = if h & 0x04 != 0 {
            let e = *tu
                .get(1)
                .ok_or(malformed_frame("AV1 OBU extension truncated"))?;
            at += 1;
            Some(e)
        } else {
            None
        };
        let payload_len = if h & 0x02 != 0 {
            let (n, l) = read_leb128(&tu[at..]).ok_or(malformed_frame("AV1 obu_size malformed"))?;
            at += l;
            n as usize
        } else {
            // Without a size field the OBU runs to the end.
            tu.len() - at
        };
        let payload = tu
            .get(at..at + payload_len)
            .ok_or(malformed_frame("AV1 OBU overruns the temporal unit"))?;
        v.push(Obu {
            header: h & !0x02,
            extension,
            payload,
        });
        tu = &tu[at + payload_len..];
    }
    Ok(v)
}

/// AV1 packetizer.
#[derive(Debug, Clone, Default)]
pub struct Av1Packetizer;

impl Av1Packetizer {
    /// A packetizer.
    pub fn new() -> Self {
        Av1Packetizer
    }
}

impl Packetizer for Av1Packetizer {
    fn packetize(
        &mut self,
        frame: &[u8],
        max_payload: usize,
        out: &mut Vec<Bytes>,
    ) -> Result<(), PacketizeError> {
        if max_payload < 3 {
            return Err(PacketizeError::PayloadLimitTooSmall { max_payload });
        }
        let obus: Vec<Obu<'_>> = split_obus(frame)?
            .into_iter()
            .filter(|o| {
                let t = (o.header >> 3) & 0x0f;
                t != obu_type::TEMPORAL_DELIMITER && t != obu_type::TILE_LIST
            })
            .collect();
        if obus.is_empty() {
            return Err(malformed_frame("AV1 temporal unit without OBUs to send"));
        }
        let new_sequence = obus
            .iter()
            .any(|o| (o.header >> 3) & 0x0f == obu_type::SEQUENCE_HEADER);
        let total: usize = obus.iter().map(|o| o.element_len() + 4).sum();
        let mut buf = BytesMut::with_capacity(total + total / max_payload + 8);
        let mut first_packet = true;
        // Current packet: start offset in buf, Z flag; element cursor: obu index, offset.
        let mut agg_at = 0;
        let mut z = false;
        let mut elements_in_packet = 0;
        let start_packet = |buf: &mut BytesMut, agg_at: &mut usize| {
            *agg_at = buf.len();
            buf.put_u8(0);
        };
        start_packet(&mut buf, &mut agg_at);
        for (i, o) in obus.iter().enumerate() {
            // The element is the header octets then the payload; it is copied straight into
            // the packets, in pieces when it must be fragmented.
            let hdr = [o.header, o.extension.unwrap_or(0)];
            let hdr = &hdr[..1 + usize::from(o.extension.is_some())];
            let len = o.element_len();
            let mut pos = 0;
            while pos < len {
                let rest = len - pos;
                let room = max_payload - (buf.len() - agg_at);
                if leb128_len(rest) + rest <= room {
                    put_leb128(&mut buf, rest);
                    put_range(&mut buf, hdr, o.payload, pos, len);
                    elements_in_packet += 1;
                    pos = len;
                    // Close the packet when full or at the end.
                    if buf.len() - agg_at + 2 > max_payload && i + 1 < obus.len() {
                        buf[agg_at] =
                            (u8::from(z) << 7) | (u8::from(first_packet && new_sequence) << 3);
                        out.push(buf.split().freeze());
                        first_packet = false;
                        z = false;
                        elements_in_packet = 0;
                        start_packet(&mut buf, &mut agg_at);
                    }
                } else if room >= 2 {
                    // Fragment: the largest k with leb128_len(k) + k <= room.
                    let mut k = room - 1;
                    while leb128_len(k) + k > room {
                        k -= 1;
                    }
                    put_leb128(&mut buf, k);
                    put_range(&mut buf, hdr, o.payload, pos, pos + k);
                    pos += k;
                    buf[agg_at] =
                        (u8::from(z) << 7) | 0x40 | (u8::from(first_packet && new_sequence) << 3);
                    out.push(buf.split().freeze());
                    first_packet = false;
                    z = true;
                    elements_in_packet = 0;
                    start_packet(&mut buf, &mut agg_at);
                } else {
                    // No room for even a one-byte fragment: close this packet.
                    buf[agg_at] =
                        (u8::from(z) << 7) | (u8::from(first_packet && new_sequence) << 3);
                    out.push(buf.split().freeze());
                    first_packet = false;
                    z = false;
                    elements_in_packet = 0;
                    start_packet(&mut buf, &mut agg_at);
                }
            }
        }
        if elements_in_packet > 0 {
            buf[agg_at] = (u8::from(z) << 7) | (u8::from(first_packet && new_sequence) << 3);
            out.push(buf.split().freeze());
        }
        Ok(())
    }
}

/// Appends bytes `from..to` of the element `hdr ++ payload`.
fn put_range(buf: &mut BytesMut, hdr: &[u8], payload: &[u8], from: usize, to: usize) {
    let h = hdr.len();
    if from < h {
        buf.put_slice(&hdr[from..to.min(h)]);
    }
    if to > h {
        buf.put_slice(&payload[from.max(h) - h..to - h]);
    }
}

/// AV1 depacketizer.
#[derive(Debug, Clone, Default)]
pub struct Av1Depacketizer {
    fragment: Vec<u8>,
}

impl Av1Depacketizer {
    /// A depacketizer.
    pub fn new() -> Self {
        Av1Depacketizer::default()
    }
}

fn malformed(what: &'static str) -> DepacketizeError {
    DepacketizeError::Malformed { what }
}

/// Writes one whole OBU element to `out` in low-overhead form (with `obu_size`). Temporal
/// delimiters and tile lists, which a sender should not send (section 5), are dropped: the
/// output has its own delimiter.
fn write_obu(elem: &[u8], out: &mut Vec<u8>) -> Result<(), DepacketizeError> {
    let h = *elem.first().ok_or(malformed("empty AV1 OBU element"))?;
    if h & 0x80 != 0 {
        return Err(malformed("AV1 OBU forbidden bit set"));
    }
    let t = (h >> 3) & 0x0f;
    if t == obu_type::TEMPORAL_DELIMITER || t == obu_type::TILE_LIST {
        return Ok(());
    }
    let hdr_len = 1 + usize::from(h & 0x04 != 0);
    if elem.len() < hdr_len {
        return Err(malformed("AV1 OBU extension truncated"));
    }
    let mut payload = &elem[hdr_len..];
    if h & 0x02 != 0 {
        // The sender kept the size field: it must describe the rest exactly. It is written
        // again below in its shortest form.
        let (n, l) = read_leb128(payload).ok_or(malformed("AV1 obu_size malformed"))?;
        if l + n as usize != payload.len() {
            return Err(malformed("AV1 obu_size does not match the element"));
        }
        payload = &payload[l..];
    }
    out.push(h | 0x02);
    out.extend_from_slice(&elem[1..hdr_len]);
    put_leb128(out, payload.len());
    out.extend_from_slice(payload);
    Ok(())
}

impl Depacketizer for Av1Depacketizer {
    fn frame_start(&self, payload: &[u8]) -> Option<bool> {
        let a = *payload.first()?;
        if a & 0x80 != 0 {
            return Some(false);
        }
        // A new coded video sequence starts a temporal unit; otherwise unknown.
        (a & 0x08 != 0).then_some(true)
    }

    fn depacketize(
        &mut self,
        payloads: &[&[u8]],
        out: &mut Vec<u8>,
    ) -> Result<FrameInfo, DepacketizeError> {
        out.clear();
        self.fragment.clear();
        out.extend_from_slice(&TEMPORAL_DELIMITER);
        let mut keyframe = false;
        let mut open = false;
        for (pi, p) in payloads.iter().enumerate() {
            let (&agg, mut rest) = p.split_first().ok_or(malformed("empty AV1 payload"))?;
            let (z, y, w) = (
                agg & 0x80 != 0,
                agg & 0x40 != 0,
                usize::from((agg >> 4) & 3),
            );
            if pi == 0 {
                keyframe = agg & 0x08 != 0;
            }
            if z != open {
                return Err(DepacketizeError::Incomplete {
                    what: if z {
                        "AV1 continuation without its start"
                    } else {
                        "AV1 OBU fragment never finished"
                    },
                });
            }
            if rest.is_empty() {
                return Err(malformed("AV1 packet without OBU elements"));
            }
            let mut index = 0;
            while !rest.is_empty() {
                index += 1;
                let last_by_count = w != 0 && index == w;
                let elem = if last_by_count {
                    core::mem::take(&mut rest)
                } else {
                    let (n, l) =
                        read_leb128(rest).ok_or(malformed("AV1 element length malformed"))?;
                    let e = rest
                        .get(l..l + n as usize)
                        .ok_or(malformed("AV1 element overruns the packet"))?;
                    rest = &rest[l + n as usize..];
                    e
                };
                if w != 0 && index > w {
                    return Err(malformed("AV1 more elements than W says"));
                }
                let first = index == 1;
                let last = rest.is_empty();
                let continues = first && z;
                let to_next = last && y;
                if continues || to_next {
                    self.fragment.extend_from_slice(elem);
                    if !to_next {
                        write_obu(&self.fragment, out)?;
                        self.fragment.clear();
                    }
                } else {
                    write_obu(elem, out)?;
                }
            }
            if w != 0 && index != w {
                return Err(malformed("AV1 fewer elements than W says"));
            }
            open = y;
        }
        if open {
            return Err(DepacketizeError::Incomplete {
                what: "AV1 OBU fragment never finished",
            });
        }
        if out.len() == TEMPORAL_DELIMITER.len() {
            return Err(DepacketizeError::Incomplete {
                what: "no AV1 packets",
            });
        }
        Ok(FrameInfo {
            keyframe,
            ..Default::default()
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hex_literal::hex;

    #[test]
    fn leb128() {
        assert_eq!(read_leb128(&[0x05]), Some((5, 1)));
        assert_eq!(read_leb128(&[0x80, 0x01]), Some((128, 2)));
        assert_eq!(read_leb128(&[0x80, 0x80]), None);
        assert_eq!(read_leb128(&[0xff, 0xff, 0xff, 0xff, 0x7f]), None);
        assert_eq!(leb128_len(127), 1);
        assert_eq!(leb128_len(128), 2);
        let mut b = BytesMut::new();
        put_leb128(&mut b, 300);
        assert_eq!(&b[..], &[0xac, 0x02]);
    }

    /// A temporal unit: TD, sequence header (4 bytes), frame OBU with an extension octet.
    fn tu(frame_len: usize) -> Vec<u8> {
        let mut f = hex!("12 00 0a 04 00 00 00 01").to_vec();
        f.push(0x36); // OBU_FRAME, extension, has_size
        f.push(0x08); // temporal id 0, spatial id 1
        let mut b = BytesMut::new();
        put_leb128(&mut b, frame_len);
        f.extend_from_slice(&b);
        f.extend((0..frame_len).map(|i| i as u8));
        f
    }

    #[test]
    fn aggregation_and_fragments() {
        let f = tu(3000);
        let mut pkts = vec![];
        Av1Packetizer::new().packetize(&f, 1200, &mut pkts).unwrap();
        assert!(pkts.iter().all(|p| p.len() <= 1200));
        // First packet: N set, Y set (the frame OBU continues); the sequence header element
        // (size flag cleared) comes first with its length.
        assert_eq!(pkts[0][0], 0x48);
        assert_eq!(&pkts[0][1..7], &hex!("05 08 00 00 00 01"));
        assert_eq!(pkts[1][0] & 0xc0, 0xc0);
        assert_eq!(pkts.last().unwrap()[0] & 0xc0, 0x80);
        let refs: Vec<&[u8]> = pkts.iter().map(|b| &b[..]).collect();
        let mut d = Av1Depacketizer::new();
        assert_eq!(d.frame_start(refs[0]), Some(true));
        assert_eq!(d.frame_start(refs[1]), Some(false));
        let mut out = vec![];
        let info = d.depacketize(&refs, &mut out).unwrap();
        assert_eq!(out, f);
        assert!(info.keyframe);
        // Missing first or last packet.
        assert!(d.depacketize(&refs[1..], &mut out).is_err());
        assert!(d.depacketize(&refs[..refs.len() - 1], &mut out).is_err());
    }

    #[test]
    fn w_counted_elements() {
        // W = 2: one length-prefixed element, then a last one without length.
        let p = hex!("20 02 30 aa 18 bb cc");
        let mut out = vec![];
        Av1Depacketizer::new().depacketize(&[&p], &mut out).unwrap();
        assert_eq!(out, hex!("12 00 32 01 aa 1a 02 bb cc"));
        // W = 1: the single element has no length prefix.
        Av1Depacketizer::new()
            .depacketize(&[&hex!("10 30 aa")], &mut out)
            .unwrap();
        assert_eq!(out, hex!("12 00 32 01 aa"));
        // W = 3 with only two elements.
        assert!(
            Av1Depacketizer::new()
                .depacketize(&[&hex!("30 02 30 aa 18 bb")], &mut out)
                .is_err()
        );
        // A temporal delimiter inside is dropped; alone it leaves nothing.
        let mut d = Av1Depacketizer::new();
        d.depacketize(&[&hex!("00 01 10 02 30 aa")], &mut out)
            .unwrap();
        assert_eq!(out, hex!("12 00 32 01 aa"));
        assert!(d.depacketize(&[&hex!("10 10")], &mut out).is_err());
        // Forbidden bit, overrun, empty.
        for bad in [
            &hex!("00 01 80")[..],
            &hex!("00 05 30")[..],
            &hex!("00")[..],
        ] {
            assert!(
                Av1Depacketizer::new()
                    .depacketize(&[bad], &mut out)
                    .is_err()
            );
        }
    }
}
