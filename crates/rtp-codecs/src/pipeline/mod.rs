//! The receive and send pipeline around the packet layer, sans-IO: every input carries the
//! time it happened (`now: Instant`), nothing reads a clock, and every structure holds a
//! bounded amount of memory whatever the peer sends.
//!
//! - [`stats`]: reception statistics and reception report blocks (RFC 3550 section 6.4.1,
//!   appendix A.3 and A.8), sender reports with the NTP/RTP timestamp mapping, round-trip
//!   time from LSR/DLSR, and for a receiver that sends no media from XR RRTR/DLRR
//!   (RFC 3611).
//! - [`jitter`]: the jitter buffer around [`FrameAssembler`](crate::codec::FrameAssembler):
//!   frames in order, a bounded adaptive wait for missing packets, loss and key frame
//!   reporting.
//! - [`keyframe`]: key frame requests by PLI or FIR, with the FIR command sequence number.
//! - [`nack`]: NACK generation with RTT-spaced retries and give-up (RFC 4585), and the
//!   bounded send history answering NACKs by RTX (RFC 4588) or plain retransmission.
//! - [`twcc`]: transport-wide sequence numbering on send and transport-wide congestion
//!   control feedback generation on receive.
//!
//! Each piece follows the ferrtc verb contract (see `ferrtc-types`) as far as it applies:
//! `handle_*` inputs with the time they happened, then drain the `poll_*` outputs until
//! `None`, and come back at `poll_timeout(&self)`. These pieces send nothing themselves (what
//! they produce is RTCP or frames for the caller to send or decode), so there is no
//! `poll_transmit`; and their outputs fall due at times rather than on inputs, so the `poll_*`
//! that can release something by time take `now` and stand in for `handle_timeout`: polling
//! at or after `poll_timeout` is the timeout. A loss repaired by NACK and RTX:
//!
//! ```
//! use std::time::{Duration, Instant};
//! use ferrtc_rtp_codecs::codec::{Packetizer, vp8::{Vp8Depacketizer, Vp8Packetizer}};
//! use ferrtc_rtp_codecs::pipeline::{
//!     JitterBuffer, JitterConfig, JitterEvent, NackConfig, NackGenerator, SendHistory,
//! };
//! use ferrtc_rtp_codecs::{rtx, Csrcs, PayloadType, RtpHeader, RtpPacket, SeqNo, Ssrc};
//!
//! let (vp8, rtx_pt) = (PayloadType::new(96).unwrap(), PayloadType::new(97).unwrap());
//! let t0 = Instant::now();
//! // Sender: a key frame (first octet's bit 0 clear) in 3 packets, kept in the history.
//! let mut history = SendHistory::new(256, 1500, Duration::from_secs(1))
//!     .with_rtx(rtx_pt, Ssrc(0xbbbb), SeqNo(500));
//! let mut payloads = Vec::new();
//! Vp8Packetizer::new().packetize(&[0u8; 2500], 1000, &mut payloads)?;
//! let mut wire = Vec::new();
//! for (i, p) in payloads.iter().enumerate() {
//!     let h = RtpHeader {
//!         marker: i + 1 == payloads.len(),
//!         payload_type: vp8,
//!         sequence_number: SeqNo(10 + i as u16),
//!         timestamp: 3000,
//!         ssrc: Ssrc(0xaaaa),
//!         csrcs: Csrcs::new(),
//!         extension: None,
//!     };
//!     let mut buf = vec![0u8; h.buffer_len() + p.len()];
//!     h.emit_packet(p, 0, &mut buf)?;
//!     history.handle_sent(t0, &buf)?;
//!     wire.push(buf);
//! }
//!
//! // Receiver: the middle packet is lost on the way.
//! let mut nack = NackGenerator::new(Ssrc(1), Ssrc(0xaaaa), NackConfig::default());
//! let mut jitter = JitterBuffer::new(Vp8Depacketizer::new(), 90_000, JitterConfig::default());
//! let arrive = t0 + Duration::from_millis(50);
//! for buf in [&wire[0], &wire[2]] {
//!     let p = RtpPacket::new_checked(&buf[..])?;
//!     nack.handle_packet(arrive, p.sequence_number());
//!     jitter.handle_rtp(arrive, &p);
//! }
//! assert!(jitter.poll_event(arrive).is_none());
//! // After the reorder delay the receiver asks for 11...
//! let at = nack.poll_timeout().unwrap();
//! let lost: Vec<SeqNo> = nack.poll_nack(at).unwrap().lost().collect();
//! assert_eq!(lost, [SeqNo(11)]);
//! // ...the sender answers with an RTX packet...
//! let mut out = [0u8; 1500];
//! let n = history.retransmit(at, lost[0], &mut out)?.unwrap();
//! // ...which the receiver turns back into the original and completes the frame.
//! let start = rtx::decapsulate_in_place(&mut out[..n], vp8, Ssrc(0xaaaa))?;
//! let p = RtpPacket::new_checked(&out[start..n])?;
//! let later = at + Duration::from_millis(100);
//! nack.handle_packet(later, p.sequence_number());
//! jitter.handle_rtp(later, &p);
//! let Some(JitterEvent::Frame(frame)) = jitter.poll_event(later) else { panic!() };
//! assert_eq!(frame.data.len(), 2500);
//! assert!(frame.info.keyframe && nack.missing_count() == 0);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

pub mod jitter;
pub mod keyframe;
pub mod nack;
pub mod stats;
pub mod twcc;

pub use jitter::{JitterBuffer, JitterConfig, JitterEvent};
pub use keyframe::{KeyframeMethod, KeyframeRequester};
pub use nack::{HistoryError, NackConfig, NackGenerator, SendHistory};
pub use stats::{
    DlrrResponder, MAX_DROPOUT, MAX_MISORDER, MIN_SEQUENTIAL, NtpTime, ReceiverRtt, ReceiverStats,
    SenderStats, SeqVerdict,
};
pub use twcc::{StampError, TransportSequencer, TwccConfig, TwccGenerator};
