//! VP9 payload format (RFC 9628), flexible and non-flexible modes.
//!
//! ```text
//!       0 1 2 3 4 5 6 7
//!      +-+-+-+-+-+-+-+-+
//!      |I|P|L|F|B|E|V|Z| (REQUIRED)
//! I:   |M| PICTURE ID  | (a second octet, EXTENDED PID, when M = 1)
//! L:   | TID |U| SID |D|
//!      |   TL0PICIDX   | (non-flexible mode only)
//! P,F: | P_DIFF      |N| (flexible mode, up to 3 times)
//! V:   | SS            | (scalability structure)
//! ```
//!
//! The packetizer sends one spatial layer: a 15-bit picture id, P from the frame header
//! (clear on key frames), and on key frames a scalability structure naming one layer. The
//! depacketizer reads every field, including layer indices, reference differences and the
//! scalability structure, and joins the frames of all spatial layers of a picture back to
//! back.

use bytes::{BufMut, Bytes, BytesMut};

use super::descriptor::DescriptorReader;
use super::{Depacketizer, FrameInfo, Packetizer};
use crate::error::{DepacketizeError, PacketizeError};

/// RFC 9628 section 4.2: the two ways to describe references.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Vp9Mode {
    /// Non-flexible mode (F = 0): references follow a predefined group of pictures.
    #[default]
    NonFlexible,
    /// Flexible mode (F = 1): each inter picture lists its reference differences.
    Flexible,
}

/// The parsed VP9 payload descriptor.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Vp9Descriptor {
    /// P: the picture uses inter-picture prediction.
    pub inter_predicted: bool,
    /// F: flexible mode.
    pub flexible: bool,
    /// B: first packet of a layer frame.
    pub begin: bool,
    /// E: last packet of a layer frame.
    pub end: bool,
    /// Z: not used for inter-layer prediction.
    pub not_ref_for_upper: bool,
    /// Picture id, 7 or 15 bits.
    pub picture_id: Option<u16>,
    /// Temporal id, switching-up point, spatial id, inter-layer dependency (the L octet).
    pub layer: Option<(u8, bool, u8, bool)>,
    /// TL0PICIDX (non-flexible mode with L).
    pub tl0_pic_idx: Option<u8>,
    /// Reference picture id differences (flexible mode, P = 1), up to 3.
    pub p_diffs: [u8; 3],
    /// How many of `p_diffs` are used.
    pub p_diff_count: u8,
    /// Whether a scalability structure was present.
    pub has_ss: bool,
}

const TRUNCATED: &str = "VP9 descriptor truncated";

fn short() -> DepacketizeError {
    DepacketizeError::Malformed { what: TRUNCATED }
}

/// Skips a scalability structure (RFC 9628 section 4.2.1) at the start of `p`; returns its
/// length.
fn ss_len(p: &[u8]) -> Result<usize, DepacketizeError> {
    let v = *p.first().ok_or_else(short)?;
    let n_s = usize::from(v >> 5) + 1;
    let mut at = 1;
    if v & 0x10 != 0 {
        at += 4 * n_s; // WIDTH and HEIGHT per spatial layer
    }
    if v & 0x08 != 0 {
        let n_g = *p.get(at).ok_or_else(short)?;
        at += 1;
        for _ in 0..n_g {
            let g = *p.get(at).ok_or_else(short)?;
            at += 1 + usize::from((g >> 2) & 0x03);
        }
    }
    if at > p.len() {
        return Err(short());
    }
    Ok(at)
}

impl Vp9Descriptor {
    /// Parses the descriptor at the start of `p`; returns it and its length.
    pub fn parse(p: &[u8]) -> Result<(Vp9Descriptor, usize), DepacketizeError> {
        let mut r = DescriptorReader::new(p, TRUNCATED);
        let b0 = r.next()?;
        let mut d = Vp9Descriptor {
            inter_predicted: b0 & 0x40 != 0,
            flexible: b0 & 0x10 != 0,
            begin: b0 & 0x08 != 0,
            end: b0 & 0x04 != 0,
            has_ss: b0 & 0x02 != 0,
            not_ref_for_upper: b0 & 0x01 != 0,
            ..Default::default()
        };
        if b0 & 0x80 != 0 {
            d.picture_id = Some(r.picture_id()?.0);
        }
        if b0 & 0x20 != 0 {
            let l = r.next()?;
            d.layer = Some((l >> 5, l & 0x10 != 0, (l >> 1) & 0x07, l & 0x01 != 0));
            if !d.flexible {
                d.tl0_pic_idx = Some(r.next()?);
            }
        }
        if d.flexible && d.inter_predicted {
            loop {
                let b = r.next()?;
                if d.p_diff_count == 3 {
                    return Err(DepacketizeError::Malformed {
                        what: "VP9 more than 3 reference indices",
                    });
                }
                d.p_diffs[usize::from(d.p_diff_count)] = b >> 1;
                d.p_diff_count += 1;
                if b & 0x01 == 0 {
                    break;
                }
            }
        }
        if d.has_ss {
            let n = ss_len(r.rest())?;
            r.advance(n);
        }
        Ok((d, r.position()))
    }

    /// The spatial layer id (0 without layer indices).
    pub fn spatial_id(&self) -> u8 {
        self.layer.map_or(0, |l| l.2)
    }
}

/// Whether a VP9 frame is a key frame, from its uncompressed header (VP9 bitstream
/// specification section 6.2: frame_marker, profile, show_existing_frame, frame_type).
pub fn is_keyframe(frame: &[u8]) -> bool {
    let Some(&b) = frame.first() else {
        return false;
    };
    if b >> 6 != 0b10 {
        return false;
    }
    let profile = ((b >> 5) & 1) | (((b >> 4) & 1) << 1);
    // Profile 3 has a reserved zero bit after the profile bits.
    let mut bit = if profile == 3 { 3 } else { 4 };
    let show_existing = (b >> (7 - bit)) & 1;
    if show_existing == 1 {
        return false;
    }
    bit += 1;
    // frame_type 0 is KEY_FRAME.
    (b >> (7 - bit)) & 1 == 0
}

/// VP9 packetizer (one spatial layer).
#[derive(Debug, Clone)]
pub struct Vp9Packetizer {
    mode: Vp9Mode,
    picture_id: u16,
}

impl Vp9Packetizer {
    /// A packetizer for `mode`, with a 15-bit picture id starting at `first_picture_id`.
    pub fn new(mode: Vp9Mode, first_picture_id: u16) -> Self {
        Vp9Packetizer {
            mode,
            picture_id: first_picture_id & 0x7fff,
        }
    }
}

impl Packetizer for Vp9Packetizer {
    fn packetize(
        &mut self,
        frame: &[u8],
        max_payload: usize,
        out: &mut Vec<Bytes>,
    ) -> Result<(), PacketizeError> {
        if frame.is_empty() {
            return Err(PacketizeError::MalformedFrame {
                what: "empty VP9 frame",
            });
        }
        let key = is_keyframe(frame);
        let flexible = self.mode == Vp9Mode::Flexible;
        // First octet without B/E/V, picture id, P_DIFF (flexible inter), SS (key frames:
        // one spatial layer, no resolution, no group description).
        let mut b0 = 0x80u8;
        if !key {
            b0 |= 0x40;
        }
        if flexible {
            b0 |= 0x10;
        }
        let pid = 0x8000 | self.picture_id;
        let inter_refs = flexible && !key;
        let base_len = 3 + usize::from(inter_refs);
        let first_len = base_len + usize::from(key);
        if max_payload <= first_len {
            return Err(PacketizeError::PayloadLimitTooSmall { max_payload });
        }
        let room = max_payload - first_len;
        let n = frame.len().div_ceil(room);
        let per = frame.len().div_ceil(n);
        let mut buf = BytesMut::with_capacity(frame.len() + n * first_len);
        let count = frame.chunks(per).count();
        for (i, chunk) in frame.chunks(per).enumerate() {
            let mut b = b0;
            if i == 0 {
                b |= 0x08;
                if key {
                    b |= 0x02;
                }
            }
            if i + 1 == count {
                b |= 0x04;
            }
            buf.put_u8(b);
            buf.put_u16(pid);
            if inter_refs {
                // One reference: the previous picture.
                buf.put_u8(1 << 1);
            }
            if i == 0 && key {
                // N_S = 0 (one spatial layer), Y = 0, G = 0.
                buf.put_u8(0x00);
            }
            buf.put_slice(chunk);
            out.push(buf.split().freeze());
        }
        self.picture_id = (self.picture_id + 1) & 0x7fff;
        Ok(())
    }
}

/// VP9 depacketizer.
#[derive(Debug, Clone, Default)]
pub struct Vp9Depacketizer;

impl Vp9Depacketizer {
    /// A depacketizer.
    pub fn new() -> Self {
        Vp9Depacketizer
    }
}

impl Depacketizer for Vp9Depacketizer {
    fn frame_start(&self, payload: &[u8]) -> Option<bool> {
        let (d, _) = Vp9Descriptor::parse(payload).ok()?;
        if !d.begin {
            return Some(false);
        }
        // A B packet starts the picture only in its lowest spatial layer; above that the
        // picture started earlier, unless the layer is the only one (not known here).
        (d.spatial_id() == 0).then_some(true)
    }

    fn depacketize(
        &mut self,
        payloads: &[&[u8]],
        out: &mut Vec<u8>,
    ) -> Result<FrameInfo, DepacketizeError> {
        out.clear();
        let mut first: Option<Vp9Descriptor> = None;
        let mut in_layer_frame = false;
        for p in payloads {
            let (d, len) = Vp9Descriptor::parse(p)?;
            if d.begin == in_layer_frame {
                return Err(DepacketizeError::Incomplete {
                    what: if d.begin {
                        "VP9 layer frame begins before the previous one ended"
                    } else {
                        "VP9 packet without its layer frame's beginning"
                    },
                });
            }
            match &first {
                None => first = Some(d),
                Some(f) if f.picture_id != d.picture_id => {
                    return Err(DepacketizeError::Incomplete {
                        what: "VP9 picture id changes inside a picture",
                    });
                }
                Some(_) => {}
            }
            let data = &p[len..];
            if data.is_empty() {
                return Err(DepacketizeError::Malformed {
                    what: "VP9 packet without payload",
                });
            }
            out.extend_from_slice(data);
            in_layer_frame = !d.end;
        }
        let Some(f) = first else {
            return Err(DepacketizeError::Incomplete {
                what: "no VP9 packets",
            });
        };
        if in_layer_frame {
            return Err(DepacketizeError::Incomplete {
                what: "VP9 layer frame without its end",
            });
        }
        Ok(FrameInfo {
            keyframe: !f.inter_predicted && f.spatial_id() == 0,
            picture_id: f.picture_id,
            tl0_pic_idx: f.tl0_pic_idx,
            temporal_id: f.layer.map(|l| l.0),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hex_literal::hex;

    #[test]
    fn descriptor_fields() {
        // Non-flexible: I, L, B, E; 15-bit picture id 0x0102; TID 2, U, SID 1, D; TL0PICIDX 7.
        let b = hex!("ac 81 02 53 07 aa");
        let (d, n) = Vp9Descriptor::parse(&b).unwrap();
        assert_eq!(n, 5);
        assert_eq!(d.picture_id, Some(0x0102));
        assert_eq!(d.layer, Some((2, true, 1, true)));
        assert_eq!(d.tl0_pic_idx, Some(7));
        assert!(d.begin && d.end && !d.flexible);
        // Flexible, P: two references (N set on the first), 7-bit picture id.
        let (d, n) = Vp9Descriptor::parse(&hex!("d8 05 03 04 aa")).unwrap();
        assert_eq!(n, 4);
        assert_eq!(d.picture_id, Some(5));
        assert_eq!(&d.p_diffs[..usize::from(d.p_diff_count)], &[1, 2]);
        // Scalability structure: N_S = 1, Y (two resolutions), G with one entry of one ref.
        let (d, n) =
            Vp9Descriptor::parse(&hex!("8a 01 38 02 80 01 e0 01 40 00 f0 01 04 01 aa")).unwrap();
        assert!(d.has_ss);
        assert_eq!(n, 14);
        // Four references, truncated fields, truncated SS.
        assert!(Vp9Descriptor::parse(&hex!("58 03 03 03 02")).is_err());
        assert!(Vp9Descriptor::parse(&hex!("80 80")).is_err());
        assert!(Vp9Descriptor::parse(&hex!("8a 01 10 00")).is_err());
    }

    #[test]
    fn keyframe_header() {
        // frame_marker 10, profile 0, show_existing 0, frame_type 0 (key).
        assert!(is_keyframe(&[0x82, 0x49, 0x83, 0x42]));
        // frame_type 1 (inter).
        assert!(!is_keyframe(&[0x86]));
        // show_existing_frame.
        assert!(!is_keyframe(&[0x88]));
        assert!(!is_keyframe(&[0x00]));
    }

    #[test]
    fn round_trip_both_modes() {
        for mode in [Vp9Mode::NonFlexible, Vp9Mode::Flexible] {
            let mut key = vec![0x82u8; 3000];
            key[1] = 0x49;
            let inter = vec![0x86u8; 2000];
            let mut pk = Vp9Packetizer::new(mode, 0x7fff);
            let mut dp = Vp9Depacketizer::new();
            for (f, want_key, want_pid) in [(&key, true, 0x7fff), (&inter, false, 0)] {
                let mut pkts = vec![];
                pk.packetize(f, 1000, &mut pkts).unwrap();
                assert!(pkts.iter().all(|p| p.len() <= 1000));
                let refs: Vec<&[u8]> = pkts.iter().map(|b| &b[..]).collect();
                assert_eq!(dp.frame_start(refs[0]), Some(true));
                assert_eq!(dp.frame_start(refs[1]), Some(false));
                let mut out = vec![];
                let info = dp.depacketize(&refs, &mut out).unwrap();
                assert_eq!(&out, f);
                assert_eq!(info.keyframe, want_key);
                assert_eq!(info.picture_id, Some(want_pid));
                // A missing first or last packet is detected here; a gap in the middle shows
                // in the sequence numbers, which the frame assembler checks.
                for skip in [0, refs.len() - 1] {
                    let mut part = refs.clone();
                    part.remove(skip);
                    assert!(dp.depacketize(&part, &mut out).is_err());
                }
            }
        }
    }
}
