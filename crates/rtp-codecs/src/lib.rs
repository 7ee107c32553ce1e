//! RTP/RTCP packets, header extensions and payload formats, sans-IO.
//!
//! - [`rtp`]: a checked zero-copy view of RTP packets ([`RtpPacket`]), the header as values
//!   ([`RtpHeader`]), header extension elements in one-byte and two-byte form (RFC 8285).
//! - [`ext`]: typed header extensions and the id registry ([`ExtensionMap`]).
//! - [`rtcp`]: compound RTCP iteration and typed packets (SR, RR, SDES, BYE, APP, NACK, PLI,
//!   FIR, REMB, transport-wide CC feedback, XR), each parsed and built.
//! - [`rtx`]: retransmission packets (RFC 4588), built and undone in place.
//! - [`codec`]: payload formats (VP8, VP9, H.264, AV1, Opus/G.711/G.722), whole-packet
//!   [`codec::RtpPacketizer`] and the reordering, loss-aware [`codec::FrameAssembler`].
//!
//! - [`pipeline`]: the sans-IO receive and send pipeline (statistics, jitter buffer, NACK/RTX,
//!   key frame requests, transport-wide CC) with the ferrtc `handle_*`/`poll_*` verbs.
//!
//! Nothing here does I/O, reads a clock or allocates while parsing RTP.
//!
//! The identifiers are the shared ones of `ferrtc-types`, re-exported: [`Ssrc`] (which
//! displays in decimal, as SDP writes it), [`SeqNo`], [`PayloadType`] and [`ExtensionId`]
//! (the `a=extmap` number, used by [`ExtensionMap`] and every extension element). MID and
//! RID values in header extensions stay borrowed strings on the zero-copy parse path
//! ([`Extension::Mid`], [`Extension::Rid`]); [`Mid`] and [`Rid`] are re-exported for owned
//! ids.
//!
//! ```
//! use ferrtc_rtp_codecs::{ExtensionId, ExtensionKind, ExtensionMap, Extension, RtpPacket};
//!
//! let mut map = ExtensionMap::new();
//! let id = ExtensionId::new(5).expect("not 0");
//! map.insert_uri(id, "http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01");
//!
//! let datagram = [
//!     0x90, 0x60, 0x00, 0x01, 0x00, 0x00, 0x00, 0x10, 0x11, 0x22, 0x33, 0x44, // header, X=1
//!     0xbe, 0xde, 0x00, 0x01, 0x51, 0x00, 0x2a, 0x00, // one-byte extension: id 5, 2 bytes
//!     0xca, 0xfe, // payload
//! ];
//! let packet = RtpPacket::new_checked(&datagram[..])?;
//! assert_eq!(packet.payload(), &[0xca, 0xfe]);
//! let ext = packet.extension().expect("X bit set");
//! assert_eq!(map.find(&ext, ExtensionKind::TransportCc), Some(Extension::TransportCc(42)));
//! # Ok::<(), ferrtc_rtp_codecs::ParseError>(())
//! ```
//!
//! RTCP: build a compound packet into a `Vec<u8>`, walk it back as typed packets.
//!
//! ```
//! use ferrtc_rtp_codecs::rtcp::{Compound, List, Nack, NackPair, Pli, ReceiverReport, RtcpPacket};
//! use ferrtc_rtp_codecs::{SeqNo, Ssrc};
//!
//! let mut pairs = Vec::new();
//! NackPair::pack([SeqNo(100), SeqNo(101), SeqNo(105)], &mut pairs);
//! let mut datagram = Vec::new();
//! for p in [
//!     RtcpPacket::ReceiverReport(ReceiverReport {
//!         ssrc: Ssrc(1),
//!         reports: List::Items(&[]),
//!         profile_extension: &[],
//!     }),
//!     RtcpPacket::Nack(Nack { sender_ssrc: Ssrc(1), media_ssrc: Ssrc(2), pairs: List::Items(&pairs) }),
//!     RtcpPacket::Pli(Pli { sender_ssrc: Ssrc(1), media_ssrc: Ssrc(2) }),
//! ] {
//!     p.emit_vec(&mut datagram)?;
//! }
//! let mut lost = Vec::new();
//! for packet in Compound::new(&datagram) {
//!     if let RtcpPacket::Nack(n) = packet? {
//!         lost.extend(n.lost());
//!     }
//! }
//! assert_eq!(lost, [SeqNo(100), SeqNo(101), SeqNo(105)]);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod codec;
pub mod error;
pub mod ext;
pub mod pipeline;
pub mod rtcp;
pub mod rtp;
pub mod rtx;
pub mod types;

pub use error::{BuildError, DepacketizeError, PacketizeError, ParseError};
pub use ext::{Extension, ExtensionKind, ExtensionMap};
pub use ferrtc_types::{ExtensionId, Mid, Rid};
pub use rtp::{
    Csrcs, ExtensionElement, ExtensionElements, ExtensionForm, ExtensionWriter, RawExtension,
    RtpHeader, RtpPacket,
};
pub use types::{PayloadType, SeqNo, SeqUnwrapper, Ssrc};
