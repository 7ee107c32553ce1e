//! SRTP and SRTCP protect and unprotect in place (RFC 3711, RFC 7714).
//!
//! The profiles WebRTC negotiates over DTLS-SRTP: `AES_CM_128_HMAC_SHA1_80`,
//! `AES_CM_128_HMAC_SHA1_32`, `AEAD_AES_128_GCM` and `AEAD_AES_256_GCM` ([`SrtpProfile`]), for
//! SRTP and SRTCP. An [`SrtpContext`] holds the session keys derived from one master key
//! (RFC 3711 §4.3) and, per SSRC, the rollover counter (RFC 3711 Appendix A) and a sliding
//! replay window. Protect and unprotect work on the caller's buffer, copy no payload and
//! allocate nothing per packet; AES-GCM comes from `ring`, AES-CTR from RustCrypto `aes`/`ctr`
//! (AES-NI detected at run time), HMAC-SHA1 from RustCrypto `hmac`/`sha1` (SHA-NI detected at
//! run time).
//!
//! This crate does no I/O, reads no clock and needs no randomness. Its vocabulary comes from
//! `ferrtc-types`: the profile is [`SrtpProfile`], SSRCs are [`Ssrc`], and a DTLS-SRTP
//! session is keyed from the [`SrtpKeys`] the DTLS handshake hands over (the RFC 5764 §4.2
//! split is done there, once).
//!
//! ```
//! use ferrtc_srtp::{Config, DtlsSrtpContexts, SrtpKeys, SrtpProfile};
//! use ferrtc_types::DtlsRole;
//!
//! // 2 * (16 + 12) bytes exported by DTLS with the label "EXTRACTOR-dtls_srtp"; the DTLS
//! // endpoint splits them into `SrtpKeys` for its role.
//! let material = [0x42u8; 56];
//! let profile = SrtpProfile::AeadAes128Gcm;
//! let client = SrtpKeys::split(profile, DtlsRole::Client, &material).unwrap();
//! let server = SrtpKeys::split(profile, DtlsRole::Server, &material).unwrap();
//! let mut ours = DtlsSrtpContexts::new(&client, Config::default())?;
//! let mut theirs = DtlsSrtpContexts::new(&server, Config::default())?;
//!
//! // Outbound: an RTP packet in a buffer with room for the tag, protected in place.
//! let rtp = [0x80, 111, 0x12, 0x34, 0, 0, 0, 160, 0, 0, 0, 1, 0xde, 0xad, 0xbe, 0xef];
//! let mut buf = vec![0u8; rtp.len() + profile.rtp_overhead()];
//! buf[..rtp.len()].copy_from_slice(&rtp);
//! let n = ours.local.protect_rtp(&mut buf, rtp.len())?;
//!
//! // Inbound at the peer: unprotected in place.
//! let mut replay = buf[..n].to_vec();
//! let m = theirs.remote.unprotect_rtp(&mut buf[..n])?;
//! assert_eq!(&buf[..m], &rtp);
//!
//! // A replay is refused and counted.
//! assert!(matches!(theirs.remote.unprotect_rtp(&mut replay), Err(ferrtc_srtp::Error::Replayed { .. })));
//! assert_eq!(theirs.remote.stats().replayed, 1);
//! # Ok::<(), ferrtc_srtp::Error>(())
//! ```
#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod context;
mod crypto;
mod error;
mod header;
mod profile;
mod replay;

pub use context::{Config, DtlsSrtpContexts, MAX_REPLAY_WINDOW, SrtpContext, Stats};
pub use error::{Error, Result};
pub use ferrtc_types::{SrtpKeys, SrtpProfile, Ssrc};
pub use profile::{MAX_RTCP_PACKETS, MAX_RTP_PACKETS};
