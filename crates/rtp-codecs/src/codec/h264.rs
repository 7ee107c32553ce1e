//! H.264 payload format (RFC 6184), non-interleaved: single NAL unit packets, STAP-A
//! aggregation and FU-A fragmentation; packetization-mode 0 and 1.
//!
//! Frames are access units in Annex B byte-stream form (NAL units behind `00 00 01` or
//! `00 00 00 01` start codes); the depacketizer writes 4-byte start codes.
//!
//! SPS and PPS: both sides remember the last ones seen. The packetizer puts them in front of
//! an IDR frame that lacks them, and the depacketizer does the same for a received IDR frame
//! whose sender sent them earlier, so that every key frame it reports is decodable alone.

use bytes::{BufMut, Bytes, BytesMut};

use super::{Depacketizer, FrameInfo, Packetizer};
use crate::error::{DepacketizeError, PacketizeError};

/// NAL unit types used here (RFC 6184 section 5.2, ITU-T H.264 table 7-1).
pub mod nal_type {
    /// Coded slice of a non-IDR picture.
    pub const SLICE: u8 = 1;
    /// Coded slice of an IDR picture.
    pub const IDR: u8 = 5;
    /// Supplemental enhancement information.
    pub const SEI: u8 = 6;
    /// Sequence parameter set.
    pub const SPS: u8 = 7;
    /// Picture parameter set.
    pub const PPS: u8 = 8;
    /// Access unit delimiter.
    pub const AUD: u8 = 9;
    /// Single-time aggregation packet A (RFC 6184 section 5.7.1).
    pub const STAP_A: u8 = 24;
    /// Single-time aggregation packet B.
    pub const STAP_B: u8 = 25;
    /// Multi-time aggregation packet, 16-bit offsets.
    pub const MTAP16: u8 = 26;
    /// Multi-time aggregation packet, 24-bit offsets.
    pub const MTAP24: u8 = 27;
    /// Fragmentation unit A (RFC 6184 section 5.8).
    pub const FU_A: u8 = 28;
    /// Fragmentation unit B.
    pub const FU_B: u8 = 29;
}

const START_CODE: [u8; 4] = [0, 0, 0, 1];

/// Iterates the NAL units of an Annex B byte stream (start codes and trailing zero bytes
/// removed). Bytes before the first start code are ignored.
pub fn annex_b_nals(stream: &[u8]) -> impl Iterator<Item = &[u8]> {
    let mut rest = find_start(stream).map(|(_, after)| &stream[after..]);
    core::iter::from_fn(move || {
        let cur = rest?;
        let (nal, next) = match find_start(cur) {
            Some((at, after)) => (&cur[..at], Some(&cur[after..])),
            None => (cur, None),
        };
        rest = next;
        // Zero bytes before a start code are trailing_zero_8bits / zero_byte.
        let end = nal.iter().rposition(|&b| b != 0).map_or(0, |i| i + 1);
        Some(&nal[..end])
    })
    .filter(|n| !n.is_empty())
}

/// Finds the first `00 00 01`; returns its index and the index after it.
fn find_start(s: &[u8]) -> Option<(usize, usize)> {
    let mut i = 0;
    while i + 3 <= s.len() {
        if s[i + 2] > 1 {
            i += 3;
        } else if s[i] == 0 && s[i + 1] == 0 && s[i + 2] == 1 {
            return Some((i, i + 3));
        } else {
            i += 1;
        }
    }
    None
}

/// RFC 6184 section 6: which packet types may be used.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum PacketizationMode {
    /// Mode 0: single NAL unit packets only.
    SingleNal,
    /// Mode 1: single NAL units, STAP-A and FU-A.
    #[default]
    NonInterleaved,
}

/// H.264 packetizer.
#[derive(Debug, Clone, Default)]
pub struct H264Packetizer {
    mode: PacketizationMode,
    sps: Option<Bytes>,
    pps: Option<Bytes>,
    /// NAL unit positions in the current frame (kept to reuse its allocation).
    ranges: Vec<(usize, usize)>,
}

impl H264Packetizer {
    /// A packetizer for `mode`.
    pub fn new(mode: PacketizationMode) -> Self {
        H264Packetizer {
            mode,
            sps: None,
            pps: None,
            ranges: Vec::new(),
        }
    }

    fn single(&self, nal: &[u8], max: usize, out: &mut Vec<Bytes>) -> Result<(), PacketizeError> {
        if nal.len() > max {
            return Err(PacketizeError::UnitTooLarge {
                len: nal.len(),
                max_payload: max,
            });
        }
        out.push(Bytes::copy_from_slice(nal));
        Ok(())
    }

    fn flush_stap(pending: &mut Vec<&[u8]>, out: &mut Vec<Bytes>) {
        match pending.len() {
            0 => {}
            1 => out.push(Bytes::copy_from_slice(pending[0])),
            _ => {
                let len = 1 + pending.iter().map(|n| 2 + n.len()).sum::<usize>();
                let mut b = BytesMut::with_capacity(len);
                let f = pending.iter().fold(0, |a, n| a | (n[0] & 0x80));
                let nri = pending.iter().map(|n| n[0] & 0x60).max().unwrap_or(0);
                b.put_u8(f | nri | nal_type::STAP_A);
                for n in pending.iter() {
                    // Only NAL units shorter than the payload limit (<= u16::MAX) are aggregated.
                    b.put_u16(n.len() as u16);
                    b.put_slice(n);
                }
                out.push(b.freeze());
            }
        }
        pending.clear();
    }

    fn fragment(nal: &[u8], max: usize, out: &mut Vec<Bytes>) -> Result<(), PacketizeError> {
        if max <= 2 {
            return Err(PacketizeError::PayloadLimitTooSmall { max_payload: max });
        }
        let body = &nal[1..];
        let room = max - 2;
        let n = body.len().div_ceil(room);
        let per = body.len().div_ceil(n);
        let indicator = (nal[0] & 0xe0) | nal_type::FU_A;
        let mut buf = BytesMut::with_capacity(body.len() + 2 * n);
        let count = body.chunks(per).count();
        for (i, chunk) in body.chunks(per).enumerate() {
            let s = if i == 0 { 0x80 } else { 0 };
            let e = if i + 1 == count { 0x40 } else { 0 };
            buf.put_u8(indicator);
            buf.put_u8(s | e | (nal[0] & 0x1f));
            buf.put_slice(chunk);
            out.push(buf.split().freeze());
        }
        Ok(())
    }
}

impl Packetizer for H264Packetizer {
    fn packetize(
        &mut self,
        frame: &[u8],
        max_payload: usize,
        out: &mut Vec<Bytes>,
    ) -> Result<(), PacketizeError> {
        let mut has = [false; 32];
        // One scan of the byte stream; the NAL units are then taken by position.
        let mut ranges = core::mem::take(&mut self.ranges);
        ranges.clear();
        for nal in annex_b_nals(frame) {
            ranges.push((nal.as_ptr() as usize - frame.as_ptr() as usize, nal.len()));
            let t = nal[0] & 0x1f;
            has[usize::from(t)] = true;
            match t {
                nal_type::SPS => self.sps = Some(Bytes::copy_from_slice(nal)),
                nal_type::PPS => self.pps = Some(Bytes::copy_from_slice(nal)),
                _ => {}
            }
        }
        if ranges.is_empty() {
            self.ranges = ranges;
            return Err(PacketizeError::MalformedFrame {
                what: "no NAL unit in H.264 frame",
            });
        }
        let mut prefix: [Option<Bytes>; 2] = [None, None];
        if has[usize::from(nal_type::IDR)] {
            if !has[usize::from(nal_type::SPS)] {
                prefix[0] = self.sps.clone();
            }
            if !has[usize::from(nal_type::PPS)] {
                prefix[1] = self.pps.clone();
            }
        }
        let prefix_nals = prefix.iter().flatten().map(|b| &b[..]);
        let nals = prefix_nals.chain(ranges.iter().map(|&(at, len)| &frame[at..at + len]));
        let result = self.send(nals, max_payload, out);
        self.ranges = ranges;
        result
    }
}

impl H264Packetizer {
    fn send<'a>(
        &self,
        nals: impl Iterator<Item = &'a [u8]>,
        max_payload: usize,
        out: &mut Vec<Bytes>,
    ) -> Result<(), PacketizeError> {
        match self.mode {
            PacketizationMode::SingleNal => {
                for nal in nals {
                    self.single(nal, max_payload, out)?;
                }
            }
            PacketizationMode::NonInterleaved => {
                let mut pending: Vec<&[u8]> = Vec::new();
                let mut stap_len = 1;
                for nal in nals {
                    if nal.len() > max_payload {
                        Self::flush_stap(&mut pending, out);
                        stap_len = 1;
                        Self::fragment(nal, max_payload, out)?;
                        continue;
                    }
                    let add = 2 + nal.len();
                    let fits = if pending.len() == 1 {
                        1 + (2 + pending[0].len()) + add <= max_payload
                    } else {
                        stap_len + add <= max_payload
                    };
                    if !pending.is_empty() && !fits {
                        Self::flush_stap(&mut pending, out);
                        stap_len = 1;
                    }
                    pending.push(nal);
                    stap_len += add;
                }
                Self::flush_stap(&mut pending, out);
            }
        }
        Ok(())
    }
}

/// H.264 depacketizer (single NAL unit, STAP-A, FU-A).
#[derive(Debug, Clone, Default)]
pub struct H264Depacketizer {
    sps: Option<Vec<u8>>,
    pps: Option<Vec<u8>>,
}

impl H264Depacketizer {
    /// A depacketizer with no parameter sets remembered.
    pub fn new() -> Self {
        H264Depacketizer::default()
    }
}

fn malformed(what: &'static str) -> DepacketizeError {
    DepacketizeError::Malformed { what }
}

fn incomplete(what: &'static str) -> DepacketizeError {
    DepacketizeError::Incomplete { what }
}

/// What a frame held, for keyframe and parameter-set handling.
#[derive(Default)]
struct Seen {
    idr: bool,
    sps: bool,
    pps: bool,
}

impl H264Depacketizer {
    fn nal(
        &mut self,
        nal: &[u8],
        out: &mut Vec<u8>,
        seen: &mut Seen,
    ) -> Result<(), DepacketizeError> {
        let Some(&h) = nal.first() else {
            return Err(malformed("empty NAL unit"));
        };
        match h & 0x1f {
            0 => return Err(malformed("NAL unit type 0")),
            nal_type::IDR => seen.idr = true,
            nal_type::SPS => {
                seen.sps = true;
                self.sps = Some(nal.to_vec());
            }
            nal_type::PPS => {
                seen.pps = true;
                self.pps = Some(nal.to_vec());
            }
            _ => {}
        }
        out.extend_from_slice(&START_CODE);
        out.extend_from_slice(nal);
        Ok(())
    }
}

impl Depacketizer for H264Depacketizer {
    fn frame_start(&self, payload: &[u8]) -> Option<bool> {
        let h = *payload.first()?;
        let first_type = match h & 0x1f {
            nal_type::STAP_A => *payload.get(3)? & 0x1f,
            nal_type::FU_A => {
                let fu = *payload.get(1)?;
                if fu & 0x80 == 0 {
                    return Some(false);
                }
                fu & 0x1f
            }
            t => t,
        };
        matches!(first_type, nal_type::AUD | nal_type::SPS).then_some(true)
    }

    fn depacketize(
        &mut self,
        payloads: &[&[u8]],
        out: &mut Vec<u8>,
    ) -> Result<FrameInfo, DepacketizeError> {
        out.clear();
        let mut seen = Seen::default();
        // Type of the NAL unit being reassembled from FU-A fragments.
        let mut fu: Option<u8> = None;
        for p in payloads {
            let Some(&h) = p.first() else {
                return Err(malformed("empty payload"));
            };
            let t = h & 0x1f;
            if fu.is_some() && t != nal_type::FU_A {
                return Err(incomplete("FU-A fragments without the end"));
            }
            match t {
                1..=23 => self.nal(p, out, &mut seen)?,
                nal_type::STAP_A => {
                    let mut rest = &p[1..];
                    if rest.is_empty() {
                        return Err(malformed("empty STAP-A"));
                    }
                    while !rest.is_empty() {
                        let [a, b, ..] = *rest else {
                            return Err(malformed("STAP-A size truncated"));
                        };
                        let n = usize::from(u16::from_be_bytes([a, b]));
                        let nal = rest
                            .get(2..2 + n)
                            .ok_or(malformed("STAP-A unit overruns the packet"))?;
                        self.nal(nal, out, &mut seen)?;
                        rest = &rest[2 + n..];
                    }
                }
                nal_type::FU_A => {
                    let [ind, hdr, ..] = **p else {
                        return Err(malformed("FU-A header truncated"));
                    };
                    let (s, e, ty) = (hdr & 0x80 != 0, hdr & 0x40 != 0, hdr & 0x1f);
                    if s && e {
                        return Err(malformed("FU-A with both S and E"));
                    }
                    if s {
                        // The reconstructed NAL header: F and NRI from the indicator.
                        let header = (ind & 0xe0) | ty;
                        self.nal(&[header], out, &mut seen)?;
                        fu = Some(ty);
                    } else if fu != Some(ty) {
                        return Err(incomplete("FU-A fragment without its start"));
                    }
                    out.extend_from_slice(&p[2..]);
                    if e {
                        fu = None;
                    }
                }
                nal_type::STAP_B | nal_type::MTAP16 | nal_type::MTAP24 | nal_type::FU_B => {
                    return Err(DepacketizeError::Unsupported {
                        what: "interleaved-mode H.264 packet",
                    });
                }
                _ => return Err(malformed("NAL unit type 0, 30 or 31")),
            }
        }
        if fu.is_some() {
            return Err(incomplete("FU-A fragments without the end"));
        }
        if out.is_empty() {
            return Err(incomplete("no H.264 payload"));
        }
        let mut keyframe = false;
        if seen.idr {
            let need_sps = !seen.sps;
            let need_pps = !seen.pps;
            let sps = if need_sps {
                self.sps.as_deref()
            } else {
                Some(&[][..])
            };
            let pps = if need_pps {
                self.pps.as_deref()
            } else {
                Some(&[][..])
            };
            if let (Some(sps), Some(pps)) = (sps, pps) {
                keyframe = true;
                let mut prefix = Vec::with_capacity(sps.len() + pps.len() + 8);
                for p in [sps, pps] {
                    if !p.is_empty() {
                        prefix.extend_from_slice(&START_CODE);
                        prefix.extend_from_slice(p);
                    }
                }
                if !prefix.is_empty() {
                    out.splice(0..0, prefix);
                }
            }
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

    fn refs(p: &[Bytes]) -> Vec<&[u8]> {
        p.iter().map(|b| &b[..]).collect()
    }

    #[test]
    fn annex_b_splitting() {
        let s = hex!("00 00 00 01 67 42 00 00 01 68 ce 00 00 00 00 01 65 88 00");
        let nals: Vec<_> = annex_b_nals(&s).collect();
        assert_eq!(
            nals,
            vec![&hex!("67 42")[..], &hex!("68 ce")[..], &hex!("65 88")[..]]
        );
        assert_eq!(annex_b_nals(&hex!("67 42")).count(), 0);
    }

    #[test]
    fn stap_a_and_fu_a() {
        // SPS, PPS, then an IDR of 3000 bytes: SPS+PPS aggregate, the IDR fragments.
        let mut frame =
            hex!("00 00 00 01 67 42 c0 1f 00 00 00 01 68 ce 3c 80 00 00 00 01 65").to_vec();
        frame.extend(std::iter::repeat_n(0x11, 3000));
        let mut p = H264Packetizer::new(PacketizationMode::NonInterleaved);
        let mut pkts = vec![];
        p.packetize(&frame, 1200, &mut pkts).unwrap();
        // RFC 6184 section 5.7.1: STAP-A header, then size-prefixed units.
        assert_eq!(
            &pkts[0][..],
            &hex!("78 00 04 67 42 c0 1f 00 04 68 ce 3c 80")
        );
        assert_eq!(&pkts[1][..2], &hex!("7c 85"));
        assert_eq!(&pkts.last().unwrap()[..2], &hex!("7c 45"));
        assert!(pkts.iter().all(|p| p.len() <= 1200));
        let mut d = H264Depacketizer::new();
        assert_eq!(d.frame_start(&pkts[0]), Some(true));
        assert_eq!(d.frame_start(&pkts[2]), Some(false));
        let mut out = vec![];
        let info = d.depacketize(&refs(&pkts), &mut out).unwrap();
        assert_eq!(out, frame);
        assert!(info.keyframe);
    }

    #[test]
    fn parameter_sets_are_carried_to_later_idr() {
        let first = hex!("00 00 00 01 67 42 00 00 00 01 68 ce 00 00 00 01 65 01");
        let later = hex!("00 00 00 01 65 02");
        let mut p = H264Packetizer::default();
        let mut pkts = vec![];
        p.packetize(&first, 1200, &mut pkts).unwrap();
        pkts.clear();
        p.packetize(&later, 1200, &mut pkts).unwrap();
        let mut d = H264Depacketizer::new();
        let mut out = vec![];
        d.depacketize(&refs(&pkts), &mut out).unwrap();
        assert_eq!(
            out,
            hex!("00 00 00 01 67 42 00 00 00 01 68 ce 00 00 00 01 65 02")
        );

        // A receiver that saw SPS/PPS once adds them to an IDR frame sent without them.
        let mut d = H264Depacketizer::new();
        assert!(
            !d.depacketize(&[&hex!("65 02")[..]], &mut out)
                .unwrap()
                .keyframe
        );
        d.depacketize(&[&hex!("67 42")[..], &hex!("68 ce")[..]], &mut out)
            .unwrap();
        let info = d.depacketize(&[&hex!("65 03")[..]], &mut out).unwrap();
        assert!(info.keyframe);
        assert_eq!(
            out,
            hex!("00 00 00 01 67 42 00 00 00 01 68 ce 00 00 00 01 65 03")
        );
    }

    #[test]
    fn mode_0_single_nal_only() {
        let frame = hex!("00 00 00 01 67 42 00 00 00 01 68 ce 00 00 00 01 41 01 02");
        let mut p = H264Packetizer::new(PacketizationMode::SingleNal);
        let mut pkts = vec![];
        p.packetize(&frame, 1200, &mut pkts).unwrap();
        assert_eq!(
            refs(&pkts),
            vec![
                &hex!("67 42")[..],
                &hex!("68 ce")[..],
                &hex!("41 01 02")[..]
            ]
        );
        assert_eq!(
            p.packetize(&frame, 2, &mut pkts),
            Err(PacketizeError::UnitTooLarge {
                len: 3,
                max_payload: 2
            })
        );
    }

    #[test]
    fn broken_fragments_are_refused() {
        let mut d = H264Depacketizer::new();
        let mut out = vec![];
        // Middle fragment without start.
        assert!(matches!(
            d.depacketize(&[&hex!("7c 05 11")[..], &hex!("7c 45 11")[..]], &mut out),
            Err(DepacketizeError::Incomplete { .. })
        ));
        // Start without end.
        assert!(matches!(
            d.depacketize(&[&hex!("7c 85 11")[..]], &mut out),
            Err(DepacketizeError::Incomplete { .. })
        ));
        // Start, then a single NAL before the end.
        assert!(
            d.depacketize(&[&hex!("7c 85 11")[..], &hex!("41 00")[..]], &mut out)
                .is_err()
        );
        // STAP-A unit overrun, STAP-B, FU-B, type 0, S and E together.
        for bad in [
            &hex!("78 00 05 67 42")[..],
            &hex!("79 00 00 00 01 67")[..],
            &hex!("7d 85 00 00 11")[..],
            &hex!("00 11")[..],
            &hex!("7c c5 11")[..],
            &hex!("78")[..],
        ] {
            assert!(d.depacketize(&[bad], &mut out).is_err(), "{bad:02x?}");
        }
    }
}
