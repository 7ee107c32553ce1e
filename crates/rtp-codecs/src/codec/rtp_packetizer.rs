//! Whole RTP packets from frames: a payload packetizer plus the RTP header.

use bytes::BytesMut;

use super::Packetizer;
use crate::error::PacketizeError;
use crate::rtp::{Csrcs, RawExtension, RtpHeader};
use crate::types::{PayloadType, SeqNo, Ssrc};

/// Turns frames into RTP packets of at most `mtu` bytes: consecutive sequence numbers, the
/// frame's timestamp on every packet, the marker bit on the last (RFC 3550 section 5.1; the
/// video payload formats' convention).
#[derive(Debug)]
pub struct RtpPacketizer<P> {
    packetizer: P,
    payload_type: PayloadType,
    ssrc: Ssrc,
    next_seq: SeqNo,
    mtu: usize,
    payloads: Vec<bytes::Bytes>,
}

impl<P: Packetizer> RtpPacketizer<P> {
    /// A packetizer sending `payload_type` on `ssrc`, starting at `first_seq` (pick it at
    /// random, RFC 3550 section 5.1), with packets of at most `mtu` bytes.
    pub fn new(
        packetizer: P,
        payload_type: PayloadType,
        ssrc: Ssrc,
        first_seq: SeqNo,
        mtu: usize,
    ) -> Self {
        RtpPacketizer {
            packetizer,
            payload_type,
            ssrc,
            next_seq: first_seq,
            mtu,
            payloads: Vec::new(),
        }
    }

    /// The sequence number the next packet gets.
    pub fn next_sequence_number(&self) -> SeqNo {
        self.next_seq
    }

    /// The payload packetizer.
    pub fn packetizer_mut(&mut self) -> &mut P {
        &mut self.packetizer
    }

    /// Appends the packets of `frame` to `out`. `extension`, if given, is written into every
    /// packet (its size comes off the payload room); per-packet values such as a
    /// transport-wide sequence number are then rewritten in place with
    /// [`RtpPacket::extension_value_mut`](crate::RtpPacket::extension_value_mut).
    pub fn packetize(
        &mut self,
        frame: &[u8],
        timestamp: u32,
        extension: Option<RawExtension<'_>>,
        out: &mut Vec<BytesMut>,
    ) -> Result<(), PacketizeError> {
        let mut header = RtpHeader {
            marker: false,
            payload_type: self.payload_type,
            sequence_number: self.next_seq,
            timestamp,
            ssrc: self.ssrc,
            csrcs: Csrcs::new(),
            extension,
        };
        let header_len = header.buffer_len();
        let max_payload = self
            .mtu
            .checked_sub(header_len)
            .filter(|&m| m > 0)
            .ok_or(PacketizeError::PayloadLimitTooSmall { max_payload: 0 })?;
        self.payloads.clear();
        self.packetizer
            .packetize(frame, max_payload, &mut self.payloads)?;
        let total: usize = self.payloads.iter().map(|p| header_len + p.len()).sum();
        let mut buf = BytesMut::zeroed(total);
        let n = self.payloads.len();
        for (i, p) in self.payloads.iter().enumerate() {
            header.marker = i + 1 == n;
            let len = header_len + p.len();
            let mut pkt = buf.split_to(len);
            // The buffer was sized for exactly these packets.
            header
                .emit_packet(p, 0, &mut pkt)
                .map_err(|_| PacketizeError::PayloadLimitTooSmall { max_payload })?;
            out.push(pkt);
            header.sequence_number = header.sequence_number.wrapping_add(1);
        }
        self.next_seq = header.sequence_number;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::FrameAssembler;
    use crate::codec::h264::{H264Depacketizer, H264Packetizer};
    use crate::rtp::{ExtensionForm, ExtensionWriter, RtpPacket};
    use ferrtc_types::ExtensionId;

    /// A test's extension id (never 0).
    fn ext_id(n: u8) -> ExtensionId {
        ExtensionId::new(n).expect("test ids are not 0")
    }

    #[test]
    fn frames_to_packets_and_back() {
        let mut store = [0u8; 8];
        let mut w = ExtensionWriter::new(&mut store, ExtensionForm::OneByte);
        w.push(ext_id(3), &[0, 0]).unwrap();
        let ext = w.finish().unwrap();
        let mut tx = RtpPacketizer::new(
            H264Packetizer::default(),
            PayloadType::new(102).unwrap(),
            Ssrc(7),
            SeqNo(65534),
            1200,
        );
        let mut frame = vec![
            0, 0, 0, 1, 0x67, 0x42, 0, 0, 0, 1, 0x68, 0xce, 0, 0, 0, 1, 0x65,
        ];
        frame.extend(std::iter::repeat_n(9u8, 5000));
        let mut pkts = vec![];
        tx.packetize(&frame, 3000, Some(ext), &mut pkts).unwrap();
        assert_eq!(
            tx.next_sequence_number(),
            SeqNo(65534).wrapping_add(pkts.len() as u16)
        );
        let mut rx = FrameAssembler::new(H264Depacketizer::new(), 64);
        let count = pkts.len();
        for (i, b) in pkts.iter_mut().enumerate() {
            assert!(b.len() <= 1200);
            let mut p = RtpPacket::new_checked(&mut b[..]).unwrap();
            p.extension_value_mut(ext_id(3))
                .unwrap()
                .copy_from_slice(&(i as u16).to_be_bytes());
            let p = RtpPacket::new_checked(&b[..]).unwrap();
            assert_eq!(p.marker(), i + 1 == count);
            assert_eq!(p.timestamp(), 3000);
            assert_eq!(
                p.extension_value(ext_id(3)),
                Some(&(i as u16).to_be_bytes()[..])
            );
            rx.push_packet(&p);
        }
        let f = rx.poll_frame().unwrap();
        assert_eq!(&f.data[..], &frame[..]);
        assert!(f.info.keyframe);
        // An MTU that leaves no room after the 12-byte header.
        let mut tiny = RtpPacketizer::new(
            H264Packetizer::default(),
            PayloadType::new(102).unwrap(),
            Ssrc(7),
            SeqNo(0),
            12,
        );
        assert!(tiny.packetize(&frame, 0, None, &mut pkts).is_err());
    }
}
