//! VP8 payload format (RFC 7741).
//!
//! ```text
//!       0 1 2 3 4 5 6 7
//!      +-+-+-+-+-+-+-+-+
//!      |X|R|N|S|R| PID | (REQUIRED)
//!      +-+-+-+-+-+-+-+-+
//! X:   |I|L|T|K| RSV   | (OPTIONAL)
//! I:   |M| PictureID   | (OPTIONAL, a second octet when M = 1)
//! L:   |   TL0PICIDX   | (OPTIONAL)
//! T/K: |TID|Y| KEYIDX  | (OPTIONAL)
//! ```

use bytes::{BufMut, Bytes, BytesMut};

use super::descriptor::DescriptorReader;
use super::{Depacketizer, FrameInfo, Packetizer};
use crate::error::{DepacketizeError, PacketizeError};

/// The VP8 payload descriptor (RFC 7741 section 4.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Vp8Descriptor {
    /// N: the frame is not a reference frame.
    pub non_reference: bool,
    /// S: start of a VP8 partition.
    pub start: bool,
    /// PID: partition index, 0..=7.
    pub partition_id: u8,
    /// Picture id, 7 or 15 bits.
    pub picture_id: Option<u16>,
    /// Whether the picture id uses the 15-bit form (M = 1).
    pub long_picture_id: bool,
    /// Temporal layer 0 picture index.
    pub tl0_pic_idx: Option<u8>,
    /// Temporal layer index and the layer sync bit Y.
    pub temporal: Option<(u8, bool)>,
    /// Temporal key frame index, 5 bits.
    pub key_idx: Option<u8>,
}

impl Vp8Descriptor {
    /// Parses the descriptor at the start of `p`; returns it and its length.
    pub fn parse(p: &[u8]) -> Result<(Vp8Descriptor, usize), DepacketizeError> {
        let mut r = DescriptorReader::new(p, "VP8 descriptor truncated");
        let b0 = r.next()?;
        let mut d = Vp8Descriptor {
            non_reference: b0 & 0x20 != 0,
            start: b0 & 0x10 != 0,
            partition_id: b0 & 0x07,
            ..Default::default()
        };
        if b0 & 0x80 != 0 {
            let x = r.next()?;
            if x & 0x80 != 0 {
                let (id, long) = r.picture_id()?;
                d.picture_id = Some(id);
                d.long_picture_id = long;
            }
            if x & 0x40 != 0 {
                d.tl0_pic_idx = Some(r.next()?);
            }
            if x & 0x30 != 0 {
                let tk = r.next()?;
                if x & 0x20 != 0 {
                    d.temporal = Some((tk >> 6, tk & 0x20 != 0));
                }
                if x & 0x10 != 0 {
                    d.key_idx = Some(tk & 0x1f);
                }
            }
        }
        Ok((d, r.position()))
    }

    /// Bytes [`write`](Self::write) writes.
    pub fn len(&self) -> usize {
        let ext = self.picture_id.is_some()
            || self.tl0_pic_idx.is_some()
            || self.temporal.is_some()
            || self.key_idx.is_some();
        let pid = match self.picture_id {
            None => 0,
            Some(_) if self.long_picture_id => 2,
            Some(_) => 1,
        };
        1 + usize::from(ext)
            + pid
            + usize::from(self.tl0_pic_idx.is_some())
            + usize::from(self.temporal.is_some() || self.key_idx.is_some())
    }

    /// Always false: a descriptor has at least one octet.
    pub fn is_empty(&self) -> bool {
        false
    }

    /// Appends the descriptor to `out`.
    pub fn write(&self, out: &mut BytesMut) {
        let ext = self.len() > 1;
        out.put_u8(
            (u8::from(ext) << 7)
                | (u8::from(self.non_reference) << 5)
                | (u8::from(self.start) << 4)
                | (self.partition_id & 7),
        );
        if !ext {
            return;
        }
        out.put_u8(
            (u8::from(self.picture_id.is_some()) << 7)
                | (u8::from(self.tl0_pic_idx.is_some()) << 6)
                | (u8::from(self.temporal.is_some()) << 5)
                | (u8::from(self.key_idx.is_some()) << 4),
        );
        if let Some(id) = self.picture_id {
            if self.long_picture_id {
                out.put_u16(0x8000 | (id & 0x7fff));
            } else {
                out.put_u8((id & 0x7f) as u8);
            }
        }
        if let Some(t) = self.tl0_pic_idx {
            out.put_u8(t);
        }
        if self.temporal.is_some() || self.key_idx.is_some() {
            let (tid, y) = self.temporal.unwrap_or((0, false));
            out.put_u8(((tid & 3) << 6) | (u8::from(y) << 5) | (self.key_idx.unwrap_or(0) & 0x1f));
        }
    }
}

/// VP8 packetizer: one partition mode (all of a frame in partition 0), optional 15-bit
/// picture id incremented per frame, optional TL0PICIDX.
#[derive(Debug, Clone, Default)]
pub struct Vp8Packetizer {
    picture_id: Option<u16>,
    tl0_pic_idx: Option<u8>,
}

impl Vp8Packetizer {
    /// A packetizer writing the minimal one-octet descriptor.
    pub fn new() -> Self {
        Vp8Packetizer::default()
    }

    /// A packetizer writing a 15-bit picture id, starting at `first` and incremented per
    /// frame (as browsers send).
    pub fn with_picture_id(first: u16) -> Self {
        Vp8Packetizer {
            picture_id: Some(first & 0x7fff),
            tl0_pic_idx: None,
        }
    }

    /// Sets the TL0PICIDX written with following frames (`None` to stop writing it).
    pub fn set_tl0_pic_idx(&mut self, v: Option<u8>) {
        self.tl0_pic_idx = v;
    }
}

impl Packetizer for Vp8Packetizer {
    fn packetize(
        &mut self,
        frame: &[u8],
        max_payload: usize,
        out: &mut Vec<Bytes>,
    ) -> Result<(), PacketizeError> {
        if frame.is_empty() {
            return Err(PacketizeError::MalformedFrame {
                what: "empty VP8 frame",
            });
        }
        let mut d = Vp8Descriptor {
            start: true,
            picture_id: self.picture_id,
            long_picture_id: true,
            tl0_pic_idx: self.tl0_pic_idx,
            ..Default::default()
        };
        let dlen = d.len();
        if max_payload <= dlen {
            return Err(PacketizeError::PayloadLimitTooSmall { max_payload });
        }
        let room = max_payload - dlen;
        let n = frame.len().div_ceil(room);
        // Spread the bytes evenly so the last packet is not a runt.
        let per = frame.len().div_ceil(n);
        let mut buf = BytesMut::with_capacity(frame.len() + n * dlen);
        for chunk in frame.chunks(per) {
            d.write(&mut buf);
            buf.extend_from_slice(chunk);
            out.push(buf.split().freeze());
            d.start = false;
        }
        if let Some(id) = &mut self.picture_id {
            *id = (*id + 1) & 0x7fff;
        }
        Ok(())
    }
}

/// VP8 depacketizer.
#[derive(Debug, Clone, Default)]
pub struct Vp8Depacketizer;

impl Vp8Depacketizer {
    /// A depacketizer.
    pub fn new() -> Self {
        Vp8Depacketizer
    }
}

impl Depacketizer for Vp8Depacketizer {
    fn frame_start(&self, payload: &[u8]) -> Option<bool> {
        let (d, _) = Vp8Descriptor::parse(payload).ok()?;
        Some(d.start && d.partition_id == 0)
    }

    fn depacketize(
        &mut self,
        payloads: &[&[u8]],
        out: &mut Vec<u8>,
    ) -> Result<FrameInfo, DepacketizeError> {
        out.clear();
        let mut first: Option<Vp8Descriptor> = None;
        for p in payloads {
            let (d, len) = Vp8Descriptor::parse(p)?;
            let data = &p[len..];
            if data.is_empty() {
                return Err(DepacketizeError::Malformed {
                    what: "VP8 packet without payload",
                });
            }
            match &first {
                None => {
                    if !(d.start && d.partition_id == 0) {
                        return Err(DepacketizeError::Incomplete {
                            what: "VP8 frame does not start with S=1, PID=0",
                        });
                    }
                    first = Some(d);
                }
                Some(f) => {
                    if d.start && d.partition_id == 0 {
                        return Err(DepacketizeError::Incomplete {
                            what: "VP8 frame start inside a frame",
                        });
                    }
                    if d.picture_id != f.picture_id {
                        return Err(DepacketizeError::Incomplete {
                            what: "VP8 picture id changes inside a frame",
                        });
                    }
                }
            }
            out.extend_from_slice(data);
        }
        let Some(f) = first else {
            return Err(DepacketizeError::Incomplete {
                what: "no VP8 packets",
            });
        };
        Ok(FrameInfo {
            // RFC 7741 section 4.3: P, the inverse key frame flag, is bit 0 of the first
            // payload header octet.
            keyframe: out.first().is_some_and(|b| b & 0x01 == 0),
            picture_id: f.picture_id,
            tl0_pic_idx: f.tl0_pic_idx,
            temporal_id: f.temporal.map(|t| t.0),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hex_literal::hex;

    #[test]
    fn descriptor_forms() {
        // RFC 7741 section 4.2: X=1, S=1; I=1, L=1, T=1, K=1; M=1 picture id 0x1234;
        // TL0PICIDX 5; TID 2, Y=1, KEYIDX 3.
        let b = hex!("90 f0 92 34 05 a3");
        let (d, n) = Vp8Descriptor::parse(&b).unwrap();
        assert_eq!(n, 6);
        assert!(d.start);
        assert_eq!(d.picture_id, Some(0x1234));
        assert_eq!(d.tl0_pic_idx, Some(5));
        assert_eq!(d.temporal, Some((2, true)));
        assert_eq!(d.key_idx, Some(3));
        let mut out = BytesMut::new();
        d.write(&mut out);
        assert_eq!(&out[..], &b);
        assert_eq!(d.len(), 6);
        // 7-bit picture id.
        let (d, n) = Vp8Descriptor::parse(&hex!("80 80 7f 00")).unwrap();
        assert_eq!((d.picture_id, d.long_picture_id, n), (Some(0x7f), false, 3));
        // Truncated.
        assert!(Vp8Descriptor::parse(&hex!("80 80 80")).is_err());
        assert!(Vp8Descriptor::parse(&[]).is_err());
    }

    #[test]
    fn packetize_and_back() {
        // A key frame (P bit clear) of 2500 bytes.
        let mut frame = vec![0x10u8; 2500];
        frame[0] = 0x50;
        let mut pk = Vp8Packetizer::with_picture_id(0x7ffe);
        pk.set_tl0_pic_idx(Some(9));
        let mut pkts = vec![];
        pk.packetize(&frame, 1000, &mut pkts).unwrap();
        assert_eq!(pkts.len(), 3);
        assert!(pkts.iter().all(|p| p.len() <= 1000));
        // X, S set on the first; picture id 0x7ffe, TL0PICIDX 9.
        assert_eq!(&pkts[0][..5], &hex!("90 c0 ff fe 09"));
        assert_eq!(&pkts[1][..5], &hex!("80 c0 ff fe 09"));
        let refs: Vec<&[u8]> = pkts.iter().map(|p| &p[..]).collect();
        let mut dp = Vp8Depacketizer::new();
        assert_eq!(dp.frame_start(refs[0]), Some(true));
        assert_eq!(dp.frame_start(refs[1]), Some(false));
        let mut out = vec![];
        let info = dp.depacketize(&refs, &mut out).unwrap();
        assert_eq!(out, frame);
        assert!(info.keyframe);
        assert_eq!(info.picture_id, Some(0x7ffe));
        assert_eq!(info.tl0_pic_idx, Some(9));
        // The next frame wraps the 15-bit picture id, and is an interframe.
        pkts.clear();
        pk.packetize(&[0x01, 2, 3], 1000, &mut pkts).unwrap();
        let info = dp.depacketize(&[&pkts[0][..]], &mut out).unwrap();
        assert_eq!(info.picture_id, Some(0x7fff));
        assert!(!info.keyframe);
    }

    #[test]
    fn missing_packets_are_detected() {
        let frame = vec![0x11u8; 3000];
        let mut pkts = vec![];
        Vp8Packetizer::with_picture_id(1)
            .packetize(&frame, 1200, &mut pkts)
            .unwrap();
        let mut dp = Vp8Depacketizer::new();
        let mut out = vec![];
        // First packet lost.
        let tail: Vec<&[u8]> = pkts[1..].iter().map(|p| &p[..]).collect();
        assert!(matches!(
            dp.depacketize(&tail, &mut out),
            Err(DepacketizeError::Incomplete { .. })
        ));
        // Packets of two frames mixed.
        let mut other = vec![];
        Vp8Packetizer::with_picture_id(2)
            .packetize(&frame, 1200, &mut other)
            .unwrap();
        assert!(
            dp.depacketize(&[&pkts[0][..], &other[1][..]], &mut out)
                .is_err()
        );
        assert!(dp.depacketize(&[&hex!("10")[..]], &mut out).is_err());
        assert!(
            Vp8Packetizer::new()
                .packetize(&frame, 1, &mut pkts)
                .is_err()
        );
    }
}
