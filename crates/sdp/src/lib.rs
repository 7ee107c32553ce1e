//! SDP (RFC 8866) for WebRTC: a typed model, a parser and a serializer.
//!
//! [`SessionDescription::parse`] reads an offer or answer into a typed model: every line type
//! (`v o s i u e p c b t r z k a m`) and the WebRTC attributes (`rtpmap`, `fmtp`, `rtcp-fb`,
//! `extmap`, `ssrc`, `msid`, `mid`, `group`, `ice-*`, `candidate`, `fingerprint`, `setup`,
//! `sctp-port`, `rid`, `simulcast`, `rtcp-mux`, directions, ...) as [`Attribute`] variants;
//! attributes it does not know are kept verbatim and in order. [`Display`](std::fmt::Display)
//! writes canonical SDP with CRLF line endings, and `parse(serialize(x)) == x`.
//!
//! Identifiers and values are the shared vocabulary of `ferrtc-types`, re-exported here:
//! [`PayloadType`] (7 bits, checked), [`Ssrc`], [`Mid`] and [`Rid`] (checked),
//! [`ExtensionId`], [`Fingerprint`] with its [`HashAlgorithm`], [`CandidateKind`],
//! [`TcpType`] and [`Transport`], so that a model built by hand serializes to text that parses back, and what
//! SDP says is already in the types the other layers speak. This crate depends on no other
//! ferrtc crate.
//!
//! Errors name the line, quote it, and say what is wrong, with a typed [`ParseErrorKind`].
//! Parsing never panics and allocates only what the model holds.
//!
//! ```
//! use ferrtc_sdp::{CandidateType, Direction, PayloadType, SessionDescription};
//!
//! let offer = SessionDescription::parse(
//!     "v=0\r\n\
//!      o=- 4962303333179871722 1 IN IP4 0.0.0.0\r\n\
//!      s=-\r\n\
//!      t=0 0\r\n\
//!      a=group:BUNDLE a1\r\n\
//!      m=audio 9 UDP/TLS/RTP/SAVPF 111\r\n\
//!      c=IN IP4 0.0.0.0\r\n\
//!      a=mid:a1\r\n\
//!      a=sendrecv\r\n\
//!      a=rtpmap:111 opus/48000/2\r\n\
//!      a=fmtp:111 minptime=10;useinbandfec=1\r\n\
//!      a=candidate:1 1 udp 2113929471 203.0.113.100 10100 typ host\r\n",
//! )?;
//! let audio = &offer.media[0];
//! assert_eq!(audio.mid().map(|m| m.as_str()), Some("a1"));
//! assert_eq!(audio.direction(), Some(Direction::SendRecv));
//! let opus = PayloadType::new(111).unwrap();
//! assert_eq!(audio.rtpmap(opus).map(|r| r.clock_rate), Some(48_000));
//! assert_eq!(audio.fmtp(opus).and_then(|f| f.get("useinbandfec")), Some("1"));
//! assert_eq!(audio.candidates().next().map(|c| &c.kind), Some(&CandidateType::HOST));
//!
//! // Serializing gives canonical text that parses back to the same model.
//! let text = offer.to_string();
//! assert_eq!(SessionDescription::parse(&text)?, offer);
//!
//! // A bad line is reported with its number and the reason.
//! let err = SessionDescription::parse("v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\na=rtpmap:x opus/48000\r\n")
//!     .unwrap_err();
//! assert_eq!(err.to_string(), "line 5: payload type is not a decimal number (`a=rtpmap:x opus/48000`)");
//! # Ok::<(), ferrtc_sdp::ParseError>(())
//! ```
#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod attribute;
mod candidate;
#[doc(hidden)]
pub mod check;
mod emit;
mod error;
mod grammar;
mod media;
mod parse;
mod session;
mod validate;

pub use attribute::{
    Attribute, Direction, Extmap, ExtmapId, FeedbackType, FingerprintAttribute, Fmtp, Group,
    GroupSemantics, Msid, Parameter, RidAttribute, RidDirection, Rtcp, RtcpAddress, RtcpFb, Rtpmap,
    Sctpmap, Setup, Simulcast, SimulcastRid, SsrcAttribute, SsrcGroup, SsrcGroupSemantics,
};
pub use candidate::{Candidate, CandidateTransport, CandidateType};
pub use error::{ParseError, ParseErrorKind};
pub use ferrtc_types::{
    CandidateKind, ExtensionId, Fingerprint, HashAlgorithm, Mid, PayloadType, Rid, Ssrc, TcpType,
    Transport, ValueError,
};
pub use media::{Codec, MediaDescription, MediaKind};
pub use session::{
    AddressType, Bandwidth, BandwidthType, Connection, NetworkType, Origin, Repeat, SessionBuilder,
    SessionDescription, TimeUnit, TimeZone, Timing, TypedTime,
};
pub use validate::{BuildError, BuildFault, LineKind};

/// Shorthands for the unit tests.
#[cfg(test)]
pub(crate) mod test_util {
    use crate::{Mid, PayloadType};

    /// The payload type `n`, which must be at most 127.
    pub(crate) fn pt(n: u8) -> PayloadType {
        PayloadType::new(n).expect("test payload types are at most 127")
    }

    /// The identification tag `s`, which must be valid.
    pub(crate) fn mid(s: &str) -> Mid {
        Mid::new(s).expect("test mids are valid")
    }
}
