//! Send-side congestion control of the connection's one transport: `ferrtc-bwe`'s
//! [`CongestionController`] fed with what we send and the peer's feedback.
//!
//! When transport-wide congestion control is negotiated (the
//! `draft-holmer-rmcat-transport-wide-cc-extensions-01` header extension and
//! `a=rtcp-fb:* transport-cc`), every RTP packet we send carries a transport-wide sequence
//! number (section 2 of the draft): the element is written into the packet's header
//! extension block, added when the packet has none. The send time of each number is
//! recorded; the peer's transport feedback (section 3.1) and REMB come back into the
//! estimator, whose target bitrate the peer connection hands out as
//! [`Event::TargetBitrate`](crate::Event::TargetBitrate).
//!
//! With pacing on ([`PeerConfig::pacing`](crate::PeerConfig::pacing)), packets wait in the
//! pacer and leave at the pacing rate; probes are padded with padding-only RTX packets.
//! The queued packets are cut from one reused arena, so steady traffic allocates nothing per
//! packet. Without pacing, packets leave at once and are only numbered and recorded.

use std::time::Instant;

use bytes::BytesMut;
use ferrtc_bwe::{BweConfig, BweEvent, CongestionController, Outgoing, PacketKind};
use ferrtc_rtp_codecs::RtpPacket;
use ferrtc_types::{ExtensionId, SeqNo};

/// Header-extension profile of one-byte elements (RFC 8285 section 4.2).
const ONE_BYTE_PROFILE: [u8; 2] = [0xbe, 0xde];
/// Header-extension profile of two-byte elements, appbits 0 (RFC 8285 section 4.3).
const TWO_BYTE_PROFILE: [u8; 2] = [0x10, 0x00];
/// Largest id a one-byte element can carry (RFC 8285 section 4.2: 1..=14).
const ONE_BYTE_MAX_ID: u8 = 14;
/// Fixed RTP header (RFC 3550 section 5.1).
const RTP_HEADER: usize = 12;
/// What a transport-cc element adds to a packet without extensions: the 4-byte extension
/// header and one 4-byte word for the element (RFC 8285 section 4.2).
pub(crate) const ELEMENT_OVERHEAD: usize = 8;
/// Most padding one padding-only packet carries: the count is one octet (RFC 3550 5.1).
pub(crate) const MAX_PADDING_COUNT: usize = 255;
/// Arena for queued packets, grown in chunks of this size.
const ARENA_CHUNK: usize = 64 * 1024;

/// A packet waiting in the pacer: its bytes and where its transport-cc value sits.
#[derive(Debug)]
pub(crate) struct Queued {
    pub(crate) packet: BytesMut,
    pub(crate) seq_at: Option<usize>,
    /// A retransmission: the RTP session does not record it as newly sent.
    pub(crate) repair: bool,
}

/// The congestion state of one transport.
#[derive(Debug)]
pub(crate) struct Congestion {
    pub(crate) cc: CongestionController<Queued>,
    /// The negotiated transport-cc extension id; `None` when only REMB was negotiated.
    pub(crate) ext: Option<ExtensionId>,
    pub(crate) pacing: bool,
    arena: BytesMut,
}

impl Congestion {
    pub(crate) fn new(config: BweConfig, now: Instant, first_seq: SeqNo, pacing: bool) -> Self {
        let mut cc = CongestionController::new(config, now, first_seq);
        // Until a padding stream is known, probes pace media only.
        cc.set_max_padding(None);
        Congestion {
            cc,
            ext: None,
            pacing,
            arena: BytesMut::new(),
        }
    }

    /// Queues `packet` (with its transport-cc value at `seq_at`) for the pacer.
    pub(crate) fn enqueue(
        &mut self,
        now: Instant,
        kind: PacketKind,
        packet: &[u8],
        seq_at: Option<usize>,
        repair: bool,
    ) {
        if self.arena.capacity() < packet.len() {
            self.arena.reserve(packet.len().max(ARENA_CHUNK));
        }
        self.arena.extend_from_slice(packet);
        let packet = self.arena.split();
        let size = packet.len();
        self.cc.enqueue(
            now,
            kind,
            size,
            Queued {
                packet,
                seq_at,
                repair,
            },
        );
    }

    /// The next paced packet.
    pub(crate) fn poll(&mut self) -> Option<Outgoing<Queued>> {
        self.cc.poll_transmit()
    }

    /// The next target, if it changed.
    pub(crate) fn poll_target(&mut self) -> Option<u64> {
        let mut latest = None;
        while let Some(e) = self.cc.poll_event() {
            if let BweEvent::TargetBitrate { bitrate_bps, .. } = e {
                latest = Some(bitrate_bps);
            }
        }
        latest
    }
}

/// Writes `seq` at `at` in `packet`.
pub(crate) fn write_seq(packet: &mut [u8], at: Option<usize>, seq: SeqNo) {
    if let Some(v) = at.and_then(|a| packet.get_mut(a..a + 2)) {
        v.copy_from_slice(&seq.0.to_be_bytes());
    }
}

/// Makes sure the RTP packet in `buf` has a 2-byte element with `id` (the transport-wide
/// sequence number, draft section 2) and returns the offset of its value: an existing
/// element is reused, otherwise one is added to the extension block (RFC 8285), which is
/// added when the packet has none. `None` when the packet cannot take one (not RTP, an
/// element of another length, a header extension of another profile, an id too large for
/// the block's form). Grows `buf` by at most [`ELEMENT_OVERHEAD`] bytes; allocates only
/// when `buf` has no room.
pub(crate) fn ensure_element(buf: &mut Vec<u8>, id: ExtensionId) -> Option<usize> {
    let (ext_at, block) = {
        let p = RtpPacket::new_checked_header(&buf[..]).ok()?;
        if let Some(v) = p.extension_value(id) {
            if v.len() != 2 {
                return None;
            }
            return Some(v.as_ptr() as usize - buf.as_ptr() as usize);
        }
        let ext_at = RTP_HEADER + 4 * usize::from(p.csrc_count());
        (ext_at, p.extension().map(|e| (e.profile, e.data.len())))
    };
    let id = id.get();
    match block {
        None => {
            // RFC 8285 section 4.2 / 4.3: a new block with one element, padded to a word.
            let (profile, element, value_at): ([u8; 2], [u8; 4], usize) = if id <= ONE_BYTE_MAX_ID {
                (ONE_BYTE_PROFILE, [(id << 4) | 1, 0, 0, 0], 5)
            } else {
                (TWO_BYTE_PROFILE, [id, 2, 0, 0], 6)
            };
            let mut add = [0u8; ELEMENT_OVERHEAD];
            add[..2].copy_from_slice(&profile);
            add[2..4].copy_from_slice(&1u16.to_be_bytes());
            add[4..].copy_from_slice(&element);
            buf.splice(ext_at..ext_at, add);
            buf[0] |= 0x10;
            Some(ext_at + value_at)
        }
        Some((profile, len)) => {
            let words = u16::try_from(len / 4 + 1).ok()?;
            let end = ext_at + 4 + len;
            let (element, value_off) = match profile {
                0xbede if id <= ONE_BYTE_MAX_ID => ([(id << 4) | 1, 0, 0, 0], 1),
                p if p & 0xfff0 == 0x1000 => ([id, 2, 0, 0], 2),
                _ => return None,
            };
            // Padding bytes (0) may sit between elements in both forms (RFC 8285 4.2,
            // 4.3), so the new element goes after the block's last word.
            buf.splice(end..end, element);
            buf[ext_at + 2..ext_at + 4].copy_from_slice(&words.to_be_bytes());
            Some(end + value_off)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(n: u8) -> ExtensionId {
        ExtensionId::new(n).unwrap()
    }

    fn packet(ext: &[u8]) -> Vec<u8> {
        let mut p = vec![0x80, 96, 0, 1, 0, 0, 0, 2, 0, 0, 0, 3];
        if !ext.is_empty() {
            p[0] |= 0x10;
            p.extend_from_slice(ext);
        }
        p.extend_from_slice(b"payload");
        p
    }

    #[test]
    fn adds_a_block_when_there_is_none() {
        let mut p = packet(&[]);
        let at = ensure_element(&mut p, id(3)).unwrap();
        write_seq(&mut p, Some(at), SeqNo(0x1234));
        let r = RtpPacket::new_checked(&p[..]).unwrap();
        assert_eq!(r.extension_value(id(3)), Some(&[0x12, 0x34][..]));
        assert_eq!(r.payload(), b"payload");
        // Two-byte form for a large id.
        let mut p = packet(&[]);
        let at = ensure_element(&mut p, id(20)).unwrap();
        write_seq(&mut p, Some(at), SeqNo(7));
        let r = RtpPacket::new_checked(&p[..]).unwrap();
        assert_eq!(r.extension_value(id(20)), Some(&[0, 7][..]));
        assert_eq!(r.payload(), b"payload");
    }

    #[test]
    fn appends_to_an_existing_block_and_reuses_an_element() {
        // One-byte block: mid "a" (id 1), padded.
        let mut p = packet(&[0xbe, 0xde, 0, 1, 0x10, b'a', 0, 0]);
        let at = ensure_element(&mut p, id(5)).unwrap();
        write_seq(&mut p, Some(at), SeqNo(9));
        let r = RtpPacket::new_checked(&p[..]).unwrap();
        assert_eq!(r.extension_value(id(1)), Some(&b"a"[..]));
        assert_eq!(r.extension_value(id(5)), Some(&[0, 9][..]));
        assert_eq!(r.payload(), b"payload");
        // A second time the same element is found, nothing grows.
        let len = p.len();
        assert_eq!(ensure_element(&mut p, id(5)), Some(at));
        assert_eq!(p.len(), len);
        // Two-byte block.
        let mut p = packet(&[0x10, 0x00, 0, 1, 1, 1, b'a', 0]);
        let at = ensure_element(&mut p, id(30)).unwrap();
        write_seq(&mut p, Some(at), SeqNo(1));
        let r = RtpPacket::new_checked(&p[..]).unwrap();
        assert_eq!(r.extension_value(id(30)), Some(&[0, 1][..]));
        assert_eq!(r.extension_value(id(1)), Some(&b"a"[..]));
        // Another profile, an id the block cannot hold, garbage: left alone.
        let mut p = packet(&[0x12, 0x34, 0, 0]);
        assert_eq!(ensure_element(&mut p, id(3)), None);
        let mut p = packet(&[0xbe, 0xde, 0, 0]);
        assert_eq!(ensure_element(&mut p, id(20)), None);
        let mut p = vec![0x80, 1];
        assert_eq!(ensure_element(&mut p, id(3)), None);
    }
}
