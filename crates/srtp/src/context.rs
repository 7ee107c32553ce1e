//! [`SrtpContext`]: one master key, its session keys, and the per-SSRC state.

use bytes::BytesMut;

use crate::crypto::{GCM_TAG_LEN, SessionKeys, Transform};
use crate::header::{self, RTCP_UNENCRYPTED_LEN};
use crate::replay::{ReplayWindow, Verdict, estimate_index};
use ferrtc_types::{SrtpKeys, SrtpProfile, Ssrc};

use crate::profile::{MAX_RTCP_PACKETS, MAX_RTP_PACKETS, ProfileExt};
use crate::{Error, Result};

/// The E flag in the SRTCP trailer word: the packet is encrypted (RFC 3711 §3.4).
const SRTCP_E_FLAG: u32 = 0x8000_0000;
/// Largest SRTCP index (31 bits, RFC 3711 §3.4).
const SRTCP_INDEX_MASK: u32 = 0x7fff_ffff;

/// Largest replay window accepted (packets); larger settings are clamped to it. A window costs
/// one bit per packet per SSRC.
pub const MAX_REPLAY_WINDOW: u32 = 1 << 15;

/// Settings of an [`SrtpContext`]. Build with [`Config::default`] and the `with_*` methods.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Config {
    /// SRTP replay window in packets (RFC 3711 §3.3.2). Default 1024, as libwebrtc uses, which
    /// absorbs the reordering of high-rate video.
    pub replay_window: u32,
    /// SRTCP replay window in packets. Default 128.
    pub rtcp_replay_window: u32,
    /// Most SSRCs tracked per direction and per RTP/RTCP; a packet for one more SSRC is dropped
    /// with [`Error::TooManySsrcs`] and counted. Default 256.
    pub max_ssrcs: usize,
    /// Whether `protect_rtcp` encrypts (E = 1) or only authenticates (E = 0). Default true.
    pub encrypt_rtcp: bool,
    /// Most SRTP packets this context protects; never more than the profile allows (2^48).
    pub rtp_packet_limit: u64,
    /// Most SRTCP packets this context protects; never more than the profile allows (2^31).
    pub rtcp_packet_limit: u64,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            replay_window: 1024,
            rtcp_replay_window: 128,
            max_ssrcs: 256,
            encrypt_rtcp: true,
            rtp_packet_limit: u64::MAX,
            rtcp_packet_limit: u64::MAX,
        }
    }
}

impl Config {
    /// Sets the SRTP replay window in packets, clamped to `1..=`[`MAX_REPLAY_WINDOW`]
    /// (RFC 3711 §3.3.2 asks for at least 64).
    pub fn with_replay_window(mut self, packets: u32) -> Self {
        self.replay_window = packets.clamp(1, MAX_REPLAY_WINDOW);
        self
    }

    /// Sets the SRTCP replay window in packets, clamped to `1..=`[`MAX_REPLAY_WINDOW`].
    pub fn with_rtcp_replay_window(mut self, packets: u32) -> Self {
        self.rtcp_replay_window = packets.clamp(1, MAX_REPLAY_WINDOW);
        self
    }

    /// Sets how many SSRCs may be tracked per direction and per RTP/RTCP.
    pub fn with_max_ssrcs(mut self, n: usize) -> Self {
        self.max_ssrcs = n;
        self
    }

    /// Chooses whether SRTCP packets are encrypted (true) or only authenticated.
    pub fn with_rtcp_encryption(mut self, encrypt: bool) -> Self {
        self.encrypt_rtcp = encrypt;
        self
    }

    /// Lowers the number of SRTP and SRTCP packets protected before the context refuses
    /// (to force a rekey earlier than the profile's limit).
    pub fn with_packet_limits(mut self, rtp: u64, rtcp: u64) -> Self {
        self.rtp_packet_limit = rtp;
        self.rtcp_packet_limit = rtcp;
        self
    }
}

/// Counters of an [`SrtpContext`], for monitoring.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Stats {
    /// SRTP packets protected.
    pub rtp_protected: u64,
    /// SRTP packets unprotected successfully.
    pub rtp_unprotected: u64,
    /// SRTCP packets protected.
    pub rtcp_protected: u64,
    /// SRTCP packets unprotected successfully.
    pub rtcp_unprotected: u64,
    /// Packets rejected as replays ([`Error::Replayed`]).
    pub replayed: u64,
    /// Packets rejected as older than the replay window ([`Error::TooOld`]).
    pub too_old: u64,
    /// Packets whose tag did not verify ([`Error::AuthenticationFailed`]).
    pub auth_failed: u64,
    /// Packets too short or with a broken header.
    pub malformed: u64,
    /// Packets dropped because their SSRC would exceed [`Config::max_ssrcs`].
    pub ssrc_limit_dropped: u64,
}

/// The two contexts of a DTLS-SRTP session: ours to protect what we send, the remote's to
/// unprotect what we receive.
#[derive(Debug)]
pub struct DtlsSrtpContexts {
    /// Keyed with our write key: call `protect_*` on it.
    pub local: SrtpContext,
    /// Keyed with the peer's write key: call `unprotect_*` on it.
    pub remote: SrtpContext,
}

impl DtlsSrtpContexts {
    /// Both contexts from the keys the DTLS handshake settled: the RFC 5764 §4.2 split is
    /// already done ([`SrtpKeys::split`]), so `local` is keyed with our write key and salt and
    /// `remote` with the peer's.
    ///
    /// # Errors
    /// None in practice: [`SrtpKeys`] holds keys of the profile's lengths. The `Result` is
    /// [`SrtpContext::new`]'s.
    pub fn new(keys: &SrtpKeys, config: Config) -> Result<DtlsSrtpContexts> {
        let profile = keys.profile();
        Ok(DtlsSrtpContexts {
            local: SrtpContext::new(profile, keys.local_key(), keys.local_salt(), config.clone())?,
            remote: SrtpContext::new(profile, keys.remote_key(), keys.remote_salt(), config)?,
        })
    }
}

/// A small SSRC-keyed table: linear scan over a dense key array with a last-hit shortcut.
/// Streams per context are few (tens), so this beats hashing; its size is bounded by the
/// caller through [`Config::max_ssrcs`].
struct SsrcMap<T> {
    ssrcs: Vec<u32>,
    states: Vec<T>,
    last: usize,
}

impl<T> SsrcMap<T> {
    fn new() -> Self {
        SsrcMap {
            ssrcs: Vec::new(),
            states: Vec::new(),
            last: 0,
        }
    }

    #[inline]
    fn find(&mut self, ssrc: u32) -> Option<usize> {
        if self.ssrcs.get(self.last) == Some(&ssrc) {
            return Some(self.last);
        }
        let i = self.ssrcs.iter().position(|&s| s == ssrc)?;
        self.last = i;
        Some(i)
    }

    fn len(&self) -> usize {
        self.ssrcs.len()
    }

    fn push(&mut self, ssrc: u32, state: T) {
        self.ssrcs.push(ssrc);
        self.states.push(state);
        self.last = self.ssrcs.len() - 1;
    }
}

/// SRTP/SRTCP state for one master key and salt: the session keys (derived once, RFC 3711
/// §4.3), and per SSRC the rollover counter, the SRTCP index and the replay windows.
///
/// Every operation works in place on the caller's buffer and allocates nothing, except the
/// first packet of a new SSRC (its state). A context can protect and unprotect; in a DTLS-SRTP
/// session one context per direction is used ([`DtlsSrtpContexts::new`]).
///
/// Not supported: MKI, key derivation rates other than zero (WebRTC uses neither), the NULL
/// cipher and RFC 6904 header-extension encryption.
///
/// Sending: the SRTP index of an outgoing packet comes from its sequence number (the rollover
/// counter follows the wrap as in RFC 3711 Appendix A). Like libwebrtc, the context does not
/// refuse a sequence number it has already sent; re-sending one with a *different* payload
/// reuses a keystream (and, for GCM, a nonce), so retransmit with RTX (RFC 4588) or the same
/// bytes.
///
/// Key hygiene: the master key and salt are only borrowed. Derived session keys are wiped from
/// temporary buffers; the AES-CTR key schedule, the HMAC-SHA1 pad states and the session salts
/// are wiped when the context is dropped. ring's AES-GCM key schedule is opaque and ring does
/// not wipe it; that is the one copy of key material this crate cannot erase.
///
/// ```
/// use ferrtc_srtp::{Config, SrtpProfile, SrtpContext};
///
/// let key = [7u8; 16];
/// let salt = [9u8; 12];
/// let mut tx = SrtpContext::new(SrtpProfile::AeadAes128Gcm, &key, &salt, Config::default())?;
/// let mut rx = SrtpContext::new(SrtpProfile::AeadAes128Gcm, &key, &salt, Config::default())?;
///
/// // An RTP packet (12-byte header, 4-byte payload) with room for the 16-byte tag.
/// let mut buf = [0u8; 16 + 16];
/// buf[..16].copy_from_slice(&[0x80, 96, 0, 1, 0, 0, 0, 0, 0xca, 0xfe, 0xba, 0xbe, 1, 2, 3, 4]);
/// let srtp_len = tx.protect_rtp(&mut buf, 16)?;
/// assert_eq!(srtp_len, 32);
/// let rtp_len = rx.unprotect_rtp(&mut buf[..srtp_len])?;
/// assert_eq!(&buf[12..rtp_len], &[1, 2, 3, 4]);
/// # Ok::<(), ferrtc_srtp::Error>(())
/// ```
pub struct SrtpContext {
    profile: SrtpProfile,
    config: Config,
    keys: SessionKeys,
    /// Highest SRTP index sent, per SSRC.
    tx_rtp: SsrcMap<u64>,
    /// Next SRTCP index to send, per SSRC.
    tx_rtcp: SsrcMap<u32>,
    rx_rtp: SsrcMap<ReplayWindow>,
    rx_rtcp: SsrcMap<ReplayWindow>,
    stats: Stats,
}

impl core::fmt::Debug for SrtpContext {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        // Never print key material.
        f.debug_struct("SrtpContext")
            .field("profile", &self.profile)
            .field("config", &self.config)
            .field("stats", &self.stats)
            .finish_non_exhaustive()
    }
}

impl SrtpContext {
    /// Derives the session keys from `master_key` and `master_salt` (RFC 3711 §4.3; the key
    /// derivation rate is zero). The master key is not kept.
    pub fn new(
        profile: SrtpProfile,
        master_key: &[u8],
        master_salt: &[u8],
        config: Config,
    ) -> Result<Self> {
        if master_key.len() != profile.master_key_len() {
            return Err(Error::InvalidKeyLength {
                what: "master key",
                expected: profile.master_key_len(),
                actual: master_key.len(),
            });
        }
        if master_salt.len() != profile.master_salt_len() {
            return Err(Error::InvalidKeyLength {
                what: "master salt",
                expected: profile.master_salt_len(),
                actual: master_salt.len(),
            });
        }
        let keys = SessionKeys::derive(profile, master_key, master_salt);
        Ok(SrtpContext::with_keys(profile, keys, config))
    }

    fn with_keys(profile: SrtpProfile, keys: SessionKeys, config: Config) -> Self {
        let mut config = config;
        config.replay_window = config.replay_window.clamp(1, MAX_REPLAY_WINDOW);
        config.rtcp_replay_window = config.rtcp_replay_window.clamp(1, MAX_REPLAY_WINDOW);
        config.rtp_packet_limit = config.rtp_packet_limit.min(MAX_RTP_PACKETS);
        config.rtcp_packet_limit = config.rtcp_packet_limit.min(MAX_RTCP_PACKETS);
        SrtpContext {
            profile,
            keys,
            config,
            tx_rtp: SsrcMap::new(),
            tx_rtcp: SsrcMap::new(),
            rx_rtp: SsrcMap::new(),
            rx_rtcp: SsrcMap::new(),
            stats: Stats::default(),
        }
    }

    /// The protection profile.
    pub fn profile(&self) -> SrtpProfile {
        self.profile
    }

    /// The settings (packet limits already capped to the profile's).
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// The counters.
    pub fn stats(&self) -> &Stats {
        &self.stats
    }

    /// The rollover counter of a received SRTP stream, if that SSRC has been seen.
    pub fn remote_roc(&self, ssrc: Ssrc) -> Option<u32> {
        let i = self.rx_rtp.ssrcs.iter().position(|&s| s == ssrc.0)?;
        Some((self.rx_rtp.states[i].highest() >> 16) as u32)
    }

    /// The rollover counter of a sent SRTP stream, if that SSRC has been sent.
    pub fn local_roc(&self, ssrc: Ssrc) -> Option<u32> {
        let i = self.tx_rtp.ssrcs.iter().position(|&s| s == ssrc.0)?;
        Some((self.tx_rtp.states[i] >> 16) as u32)
    }

    fn count(&mut self, e: &Error) {
        let s = &mut self.stats;
        match e {
            Error::Replayed { .. } => s.replayed += 1,
            Error::TooOld { .. } => s.too_old += 1,
            Error::AuthenticationFailed { .. } => s.auth_failed += 1,
            Error::TooManySsrcs { .. } => s.ssrc_limit_dropped += 1,
            Error::Truncated { .. } | Error::BadVersion(_) | Error::HeaderOverrun { .. } => {
                s.malformed += 1
            }
            _ => {}
        }
    }

    /// Counts the outcome of one operation: `ok` names the success counter; an error goes
    /// to the counter of its kind. The one shape behind the four `protect_*`/`unprotect_*`
    /// methods.
    #[inline]
    fn counted(&mut self, r: Result<usize>, ok: fn(&mut Stats) -> &mut u64) -> Result<usize> {
        match &r {
            Ok(_) => *ok(&mut self.stats) += 1,
            Err(e) => self.count(e),
        }
        r
    }

    /// Protects the RTP packet in `buf[..len]` in place: encrypts the payload and writes the
    /// tag after it. `buf` must have [`SrtpProfile::rtp_overhead`] spare bytes after `len`.
    /// Returns the SRTP packet length (`len + overhead`).
    pub fn protect_rtp(&mut self, buf: &mut [u8], len: usize) -> Result<usize> {
        let r = self.protect_rtp_inner(buf, len);
        self.counted(r, |s| &mut s.rtp_protected)
    }

    /// Unprotects the SRTP packet filling `buf` in place: checks replay and tag, decrypts.
    /// Returns the RTP packet length; the RTP packet is `buf[..returned]`.
    pub fn unprotect_rtp(&mut self, buf: &mut [u8]) -> Result<usize> {
        let r = self.unprotect_rtp_inner(buf);
        self.counted(r, |s| &mut s.rtp_unprotected)
    }

    /// Protects the RTCP compound packet in `buf[..len]` in place; `buf` must have
    /// [`SrtpProfile::rtcp_overhead`] spare bytes after `len`. Returns the SRTCP packet length.
    pub fn protect_rtcp(&mut self, buf: &mut [u8], len: usize) -> Result<usize> {
        let r = self.protect_rtcp_inner(buf, len);
        self.counted(r, |s| &mut s.rtcp_protected)
    }

    /// Unprotects the SRTCP packet filling `buf` in place (encrypted or, with E = 0, only
    /// authenticated). Returns the RTCP compound packet length.
    pub fn unprotect_rtcp(&mut self, buf: &mut [u8]) -> Result<usize> {
        let r = self.unprotect_rtcp_inner(buf);
        self.counted(r, |s| &mut s.rtcp_unprotected)
    }

    /// Grows `buf` by `overhead`, runs `protect` on it and truncates it to the result (or
    /// back to the input on error): the shape of both `protect_*_bytes`.
    fn protect_bytes(
        &mut self,
        buf: &mut BytesMut,
        overhead: usize,
        protect: fn(&mut Self, &mut [u8], usize) -> Result<usize>,
    ) -> Result<()> {
        let len = buf.len();
        buf.resize(len + overhead, 0);
        match protect(self, buf, len) {
            Ok(n) => {
                buf.truncate(n);
                Ok(())
            }
            Err(e) => {
                buf.truncate(len);
                Err(e)
            }
        }
    }

    /// [`SrtpContext::protect_rtp`] on a `BytesMut` holding the RTP packet; grows it by the
    /// overhead (no allocation when its capacity has room).
    pub fn protect_rtp_bytes(&mut self, buf: &mut BytesMut) -> Result<()> {
        self.protect_bytes(buf, self.profile.rtp_overhead(), Self::protect_rtp)
    }

    /// [`SrtpContext::unprotect_rtp`] on a `BytesMut`; truncates it to the RTP packet.
    pub fn unprotect_rtp_bytes(&mut self, buf: &mut BytesMut) -> Result<()> {
        let n = self.unprotect_rtp(buf)?;
        buf.truncate(n);
        Ok(())
    }

    /// [`SrtpContext::protect_rtcp`] on a `BytesMut` holding the RTCP packet.
    pub fn protect_rtcp_bytes(&mut self, buf: &mut BytesMut) -> Result<()> {
        self.protect_bytes(buf, self.profile.rtcp_overhead(), Self::protect_rtcp)
    }

    /// [`SrtpContext::unprotect_rtcp`] on a `BytesMut`; truncates it to the RTCP packet.
    pub fn unprotect_rtcp_bytes(&mut self, buf: &mut BytesMut) -> Result<()> {
        let n = self.unprotect_rtcp(buf)?;
        buf.truncate(n);
        Ok(())
    }

    fn protect_rtp_inner(&mut self, buf: &mut [u8], len: usize) -> Result<usize> {
        let overhead = self.profile.rtp_overhead();
        let total = len.saturating_add(overhead);
        if total > buf.len() {
            return Err(Error::BufferTooSmall {
                needed: total,
                available: buf.len(),
            });
        }
        let view = header::rtp(&buf[..len])?;
        if self.stats.rtp_protected >= self.config.rtp_packet_limit {
            return Err(Error::PacketLimitReached);
        }
        let slot = self.tx_rtp.find(view.ssrc);
        let index = match slot {
            Some(i) => {
                estimate_index(self.tx_rtp.states[i], view.seq).ok_or(Error::PacketLimitReached)?
            }
            None => {
                if self.tx_rtp.len() >= self.config.max_ssrcs {
                    return Err(Error::TooManySsrcs {
                        ssrc: Ssrc(view.ssrc),
                    });
                }
                u64::from(view.seq)
            }
        };
        let (packet, trailer) = buf.split_at_mut(len);
        let trailer = &mut trailer[..overhead];
        match &self.keys.rtp {
            Transform::AesCm(cm) => {
                cm.apply(view.ssrc, index, &mut packet[view.header_len..]);
                let roc = ((index >> 16) as u32).to_be_bytes();
                cm.sign(packet, &roc, trailer);
            }
            Transform::Gcm(gcm) => {
                let (head, payload) = packet.split_at_mut(view.header_len);
                let tag = gcm.seal(view.ssrc, index, head, payload);
                // A fixed-size copy: GCM profiles' SRTP overhead is exactly one 16-byte tag.
                let out: &mut [u8; GCM_TAG_LEN] =
                    trailer.try_into().expect("GCM overhead is one tag");
                *out = tag;
            }
        }
        match slot {
            Some(i) => {
                let highest = &mut self.tx_rtp.states[i];
                *highest = (*highest).max(index);
            }
            None => self.tx_rtp.push(view.ssrc, index),
        }
        Ok(total)
    }

    fn unprotect_rtp_inner(&mut self, buf: &mut [u8]) -> Result<usize> {
        let overhead = self.profile.rtp_overhead();
        let len = buf.len();
        let min = header::RTP_FIXED_HEADER_LEN + overhead;
        if len < min {
            return Err(Error::Truncated { len, min });
        }
        let body_len = len - overhead;
        let view = header::rtp(&buf[..body_len])?;
        let ssrc = view.ssrc;
        let slot = self.rx_rtp.find(ssrc);
        let index = match slot {
            Some(i) => {
                let window = &self.rx_rtp.states[i];
                let index =
                    estimate_index(window.highest(), view.seq).ok_or(Error::PacketLimitReached)?;
                match window.check(index) {
                    Verdict::Fresh => index,
                    Verdict::Replayed => {
                        return Err(Error::Replayed {
                            ssrc: Ssrc(ssrc),
                            index,
                        });
                    }
                    Verdict::TooOld => {
                        return Err(Error::TooOld {
                            ssrc: Ssrc(ssrc),
                            index,
                        });
                    }
                }
            }
            None => {
                if self.rx_rtp.len() >= self.config.max_ssrcs {
                    return Err(Error::TooManySsrcs { ssrc: Ssrc(ssrc) });
                }
                // First packet of the stream: ROC 0 (RFC 3711 §3.3.1).
                u64::from(view.seq)
            }
        };
        match &self.keys.rtp {
            Transform::AesCm(cm) => {
                let (packet, tag) = buf.split_at_mut(body_len);
                let roc = ((index >> 16) as u32).to_be_bytes();
                if !cm.verify(packet, &roc, tag) {
                    return Err(Error::AuthenticationFailed { ssrc: Ssrc(ssrc) });
                }
                cm.apply(ssrc, index, &mut packet[view.header_len..]);
            }
            Transform::Gcm(gcm) => {
                let (head, rest) = buf.split_at_mut(view.header_len);
                if gcm.open(ssrc, index, head, rest).is_none() {
                    return Err(Error::AuthenticationFailed { ssrc: Ssrc(ssrc) });
                }
            }
        }
        match slot {
            Some(i) => self.rx_rtp.states[i].accept(index),
            None => self
                .rx_rtp
                .push(ssrc, ReplayWindow::new(self.config.replay_window, index)),
        }
        Ok(body_len)
    }

    fn protect_rtcp_inner(&mut self, buf: &mut [u8], len: usize) -> Result<usize> {
        let overhead = self.profile.rtcp_overhead();
        let total = len.saturating_add(overhead);
        if total > buf.len() {
            return Err(Error::BufferTooSmall {
                needed: total,
                available: buf.len(),
            });
        }
        let ssrc = header::rtcp_ssrc(&buf[..len])?;
        if self.stats.rtcp_protected >= self.config.rtcp_packet_limit {
            return Err(Error::PacketLimitReached);
        }
        let slot = self.tx_rtcp.find(ssrc);
        let index = match slot {
            Some(i) => self.tx_rtcp.states[i],
            None => {
                if self.tx_rtcp.len() >= self.config.max_ssrcs {
                    return Err(Error::TooManySsrcs { ssrc: Ssrc(ssrc) });
                }
                // The SRTCP index starts at zero (RFC 3711 §3.4).
                0
            }
        };
        if index > SRTCP_INDEX_MASK {
            // This SSRC used all 2^31 indices: reusing one would reuse a keystream.
            return Err(Error::PacketLimitReached);
        }
        let encrypt = self.config.encrypt_rtcp;
        let e_index = if encrypt { SRTCP_E_FLAG | index } else { index }.to_be_bytes();
        let index64 = u64::from(index);
        match &self.keys.rtcp {
            Transform::AesCm(cm) => {
                // packet || E+index || tag (RFC 3711 §3.4).
                let (packet, trailer) = buf.split_at_mut(len);
                if encrypt {
                    cm.apply(ssrc, index64, &mut packet[RTCP_UNENCRYPTED_LEN..]);
                }
                trailer[..4].copy_from_slice(&e_index);
                let (authenticated, tag) = buf[..total].split_at_mut(len + 4);
                cm.sign(authenticated, &[], tag);
            }
            Transform::Gcm(gcm) => {
                // packet || tag || E+index (RFC 7714 §9.2, §17).
                if encrypt {
                    let mut aad = [0u8; RTCP_UNENCRYPTED_LEN + 4];
                    aad[..RTCP_UNENCRYPTED_LEN].copy_from_slice(&buf[..RTCP_UNENCRYPTED_LEN]);
                    aad[RTCP_UNENCRYPTED_LEN..].copy_from_slice(&e_index);
                    let tag = gcm.seal(ssrc, index64, &aad, &mut buf[RTCP_UNENCRYPTED_LEN..len]);
                    buf[len..len + GCM_TAG_LEN].copy_from_slice(&tag);
                } else {
                    // The AAD is the whole packet followed by the E+index word: lay it out
                    // contiguously first, then move the word behind the tag.
                    buf[len..len + 4].copy_from_slice(&e_index);
                    let tag = gcm.seal(ssrc, index64, &buf[..len + 4], &mut []);
                    buf[len..len + GCM_TAG_LEN].copy_from_slice(&tag);
                }
                buf[len + GCM_TAG_LEN..total].copy_from_slice(&e_index);
            }
        }
        match slot {
            Some(i) => self.tx_rtcp.states[i] = index + 1,
            None => self.tx_rtcp.push(ssrc, 1),
        }
        Ok(total)
    }

    fn unprotect_rtcp_inner(&mut self, buf: &mut [u8]) -> Result<usize> {
        let tag_len = self.profile.rtcp_tag_len();
        let overhead = self.profile.rtcp_overhead();
        let len = buf.len();
        let min = RTCP_UNENCRYPTED_LEN + overhead;
        if len < min {
            return Err(Error::Truncated { len, min });
        }
        let body_len = len - overhead;
        let ssrc = header::rtcp_ssrc(&buf[..body_len])?;
        let word_at = match self.keys.rtcp {
            Transform::AesCm(_) => body_len,
            Transform::Gcm(_) => len - 4,
        };
        let e_index = [
            buf[word_at],
            buf[word_at + 1],
            buf[word_at + 2],
            buf[word_at + 3],
        ];
        let word = u32::from_be_bytes(e_index);
        let encrypted = word & SRTCP_E_FLAG != 0;
        let index = word & SRTCP_INDEX_MASK;
        let index64 = u64::from(index);
        let slot = self.rx_rtcp.find(ssrc);
        match slot {
            Some(i) => match self.rx_rtcp.states[i].check(index64) {
                Verdict::Fresh => {}
                Verdict::Replayed => {
                    return Err(Error::Replayed {
                        ssrc: Ssrc(ssrc),
                        index: index64,
                    });
                }
                Verdict::TooOld => {
                    return Err(Error::TooOld {
                        ssrc: Ssrc(ssrc),
                        index: index64,
                    });
                }
            },
            None => {
                if self.rx_rtcp.len() >= self.config.max_ssrcs {
                    return Err(Error::TooManySsrcs { ssrc: Ssrc(ssrc) });
                }
            }
        }
        match &self.keys.rtcp {
            Transform::AesCm(cm) => {
                let (authenticated, tag) = buf.split_at_mut(len - tag_len);
                if !cm.verify(authenticated, &[], tag) {
                    return Err(Error::AuthenticationFailed { ssrc: Ssrc(ssrc) });
                }
                if encrypted {
                    cm.apply(
                        ssrc,
                        index64,
                        &mut authenticated[RTCP_UNENCRYPTED_LEN..body_len],
                    );
                }
            }
            Transform::Gcm(gcm) => {
                let ok = if encrypted {
                    let mut aad = [0u8; RTCP_UNENCRYPTED_LEN + 4];
                    aad[..RTCP_UNENCRYPTED_LEN].copy_from_slice(&buf[..RTCP_UNENCRYPTED_LEN]);
                    aad[RTCP_UNENCRYPTED_LEN..].copy_from_slice(&e_index);
                    gcm.open(ssrc, index64, &aad, &mut buf[RTCP_UNENCRYPTED_LEN..len - 4])
                        .is_some()
                } else {
                    // AAD = packet || E+index; the tag sits between them on the wire. Copy
                    // the tag out and lay the AAD out contiguously.
                    let mut tag = [0u8; GCM_TAG_LEN];
                    tag.copy_from_slice(&buf[body_len..body_len + GCM_TAG_LEN]);
                    buf[body_len..body_len + 4].copy_from_slice(&e_index);
                    gcm.open(ssrc, index64, &buf[..body_len + 4], &mut tag)
                        .is_some()
                };
                if !ok {
                    return Err(Error::AuthenticationFailed { ssrc: Ssrc(ssrc) });
                }
            }
        }
        match slot {
            Some(i) => self.rx_rtcp.states[i].accept(index64),
            None => self.rx_rtcp.push(
                ssrc,
                ReplayWindow::new(self.config.rtcp_replay_window, index64),
            ),
        }
        Ok(body_len)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::Gcm;
    use ferrtc_types::DtlsRole;
    use hex_literal::hex;

    const KEY128: [u8; 16] = hex!("000102030405060708090a0b0c0d0e0f");
    const KEY256: [u8; 32] =
        hex!("000102030405060708090a0b0c0d0e0f 101112131415161718191a1b1c1d1e1f");
    /// "Quid pro quo" (RFC 7714 §16).
    const SALT: [u8; 12] = hex!("51756964 2070726f 2071756f");
    /// RFC 7714 §16: "Gallia est omnis divisa in partes tres".
    const RTP: [u8; 50] = hex!(
        "8040f17b 8041f8d3 5501a0b2 47616c6c 69612065 7374206f 6d6e6973 20646976"
        "69736120 696e2070 61727465 73207472 6573"
    );
    /// RFC 7714 §17.1 RTCP packet.
    const RTCP: [u8; 52] = hex!(
        "81c8000d 4d617273 4e545031 4e545032 52545020 0000042a 0000e930 4c756e61"
        "deadbeef deadbeef deadbeef deadbeef deadbeef"
    );

    /// A context keyed directly with RFC 7714's session key and salt for SRTP and SRTCP.
    fn gcm_context(key: &[u8], config: Config) -> SrtpContext {
        let profile = if key.len() == 32 {
            SrtpProfile::AeadAes256Gcm
        } else {
            SrtpProfile::AeadAes128Gcm
        };
        let keys = SessionKeys {
            rtp: Transform::Gcm(Gcm::from_session_keys(key, &SALT)),
            rtcp: Transform::Gcm(Gcm::from_session_keys(key, &SALT)),
        };
        SrtpContext::with_keys(profile, keys, config)
    }

    fn check_rtp_vector(key: &[u8], expected: &[u8]) {
        let mut ctx = gcm_context(key, Config::default());
        let mut buf = [0u8; 66];
        buf[..50].copy_from_slice(&RTP);
        let n = ctx.protect_rtp(&mut buf, 50).unwrap();
        assert_eq!(&buf[..n], expected);
        // Decryption vector (the same packet back).
        let mut rx = gcm_context(key, Config::default());
        let mut buf = expected.to_vec();
        let m = rx.unprotect_rtp(&mut buf).unwrap();
        assert_eq!(&buf[..m], &RTP);
    }

    /// RFC 7714 §16.1.1 and §16.1.2.
    #[test]
    fn rfc7714_srtp_aes_128_gcm() {
        check_rtp_vector(
            &KEY128,
            &hex!(
                "8040f17b 8041f8d3 5501a0b2 f24de3a3 fb34de6c acba861c 9d7e4bca be633bd5"
                "0d294e6f 42a5f47a 51c7d19b 36de3adf 8833899d 7f27beb1 6a9152cf 765ee439"
                "0cce"
            ),
        );
    }

    /// RFC 7714 §16.2.1 and §16.2.2.
    #[test]
    fn rfc7714_srtp_aes_256_gcm() {
        check_rtp_vector(
            &KEY256,
            &hex!(
                "8040f17b 8041f8d3 5501a0b2 32b1de78 a822fe12 ef9f78fa 332e33aa b1801238"
                "9a58e2f3 b50b2a02 76ffae0f 1ba63799 b87b7aa3 db36dfff d6b0f9bb 7878d7a7"
                "6c13"
            ),
        );
    }

    /// RFC 7714 §16.1.3/§16.1.4 and §16.2.3/§16.2.4: GMAC over the whole packet (the
    /// transform's tagging-only mode; SRTP itself always encrypts).
    #[test]
    fn rfc7714_srtp_tagging_only() {
        for (key, tag) in [
            (&KEY128[..], hex!("22493f82d2bce397e9d79e3b19aa4216")),
            (&KEY256[..], hex!("a866d5910f887463067ceefec45215d4")),
        ] {
            let gcm = Gcm::from_session_keys(key, &SALT);
            assert_eq!(gcm.seal(0x5501_a0b2, 0xf17b, &RTP, &mut []), tag);
            let mut t = tag;
            assert_eq!(gcm.open(0x5501_a0b2, 0xf17b, &RTP, &mut t), Some(0));
        }
    }

    const SRTCP_128: [u8; 72] = hex!(
        "81c8000d 4d617273 63e94885 dcdab67c a727d766 2f6b7e99 7ff5c0f7 6c06f32d"
        "c676a5f1 730d6fda 4ce09b46 86303ded 0bb9275b c84aa458 96cf4d2f c5abf872"
        "45d9eade 800005d4"
    );
    const SRTCP_256: [u8; 72] = hex!(
        "81c8000d 4d617273 d50ae4d1 f5ce5d30 4ba297e4 7d470c28 2c3ece5d bffe0a50"
        "a2eaa5c1 110555be 8415f658 c61de047 6f1b6fad 1d1eb30c 4446839f 57ff6f6c"
        "b26ac3be 800005d4"
    );

    fn protect_rtcp_at(ctx: &mut SrtpContext, index: u32) -> Vec<u8> {
        ctx.tx_rtcp.push(0x4d61_7273, index);
        let mut buf = [0u8; 72];
        buf[..52].copy_from_slice(&RTCP);
        let n = ctx.protect_rtcp(&mut buf, 52).unwrap();
        buf[..n].to_vec()
    }

    /// RFC 7714 §17.1: SRTCP AES-128-GCM encryption and tagging, index 0x5d4.
    #[test]
    fn rfc7714_srtcp_aes_128_gcm_encrypt() {
        let mut ctx = gcm_context(&KEY128, Config::default());
        assert_eq!(protect_rtcp_at(&mut ctx, 0x5d4), SRTCP_128);
        let mut rx = gcm_context(&KEY128, Config::default());
        let mut buf = SRTCP_128;
        let n = rx.unprotect_rtcp(&mut buf).unwrap();
        assert_eq!(&buf[..n], &RTCP);
    }

    /// RFC 7714 §17.2: SRTCP AES-256-GCM verification and decryption.
    #[test]
    fn rfc7714_srtcp_aes_256_gcm_decrypt() {
        let mut rx = gcm_context(&KEY256, Config::default());
        let mut buf = SRTCP_256;
        let n = rx.unprotect_rtcp(&mut buf).unwrap();
        assert_eq!(&buf[..n], &RTCP);
        let mut tx = gcm_context(&KEY256, Config::default());
        assert_eq!(protect_rtcp_at(&mut tx, 0x5d4), SRTCP_256);
    }

    /// RFC 7714 §17.3 and §17.4: SRTCP tagging only (E = 0).
    #[test]
    fn rfc7714_srtcp_tagging_only() {
        for (key, tag) in [
            (&KEY128[..], hex!("841dd968 3dd78ec9 2ae58790 125f62b3")),
            (&KEY256[..], hex!("91db4afb feee5a97 8fab4393 ed2615fe")),
        ] {
            let mut expected = RTCP.to_vec();
            expected.extend_from_slice(&tag);
            expected.extend_from_slice(&hex!("000005d4"));
            let mut tx = gcm_context(key, Config::default().with_rtcp_encryption(false));
            assert_eq!(protect_rtcp_at(&mut tx, 0x5d4), expected);
            let mut rx = gcm_context(key, Config::default());
            let mut buf = expected.clone();
            let n = rx.unprotect_rtcp(&mut buf).unwrap();
            assert_eq!(&buf[..n], &RTCP);
        }
    }

    fn rtp_packet(ssrc: u32, seq: u16, payload: &[u8], room: usize) -> (Vec<u8>, usize) {
        let mut p = vec![0x80, 96];
        p.extend_from_slice(&seq.to_be_bytes());
        p.extend_from_slice(&u32::from(seq).wrapping_mul(90).to_be_bytes());
        p.extend_from_slice(&ssrc.to_be_bytes());
        p.extend_from_slice(payload);
        let len = p.len();
        p.resize(len + room, 0);
        (p, len)
    }

    fn pair(profile: SrtpProfile, config: Config) -> (SrtpContext, SrtpContext) {
        let key = vec![0x11; profile.master_key_len()];
        let salt = vec![0x22; profile.master_salt_len()];
        (
            SrtpContext::new(profile, &key, &salt, config.clone()).unwrap(),
            SrtpContext::new(profile, &key, &salt, config).unwrap(),
        )
    }

    fn protect(tx: &mut SrtpContext, ssrc: u32, seq: u16) -> Vec<u8> {
        let (mut p, len) = rtp_packet(ssrc, seq, &[seq as u8; 40], tx.profile.rtp_overhead());
        let n = tx.protect_rtp(&mut p, len).unwrap();
        p.truncate(n);
        p
    }

    #[test]
    fn aes_cm_profiles_round_trip_and_reject_tampering() {
        for profile in [
            SrtpProfile::Aes128CmHmacSha1_80,
            SrtpProfile::Aes128CmHmacSha1_32,
        ] {
            let (mut tx, mut rx) = pair(profile, Config::default());
            let (plain, len) = rtp_packet(7, 1, b"hello world", profile.rtp_overhead());
            let mut p = plain.clone();
            let n = tx.protect_rtp(&mut p, len).unwrap();
            assert_eq!(n, len + profile.rtp_overhead());
            assert_ne!(&p[12..len], &plain[12..len], "payload encrypted");
            assert_eq!(&p[..12], &plain[..12], "header in the clear");
            let mut bad = p.clone();
            bad[14] ^= 1;
            assert_eq!(
                rx.unprotect_rtp(&mut bad),
                Err(Error::AuthenticationFailed { ssrc: Ssrc(7) })
            );
            assert_eq!(rx.stats().auth_failed, 1);
            // The failure left no state behind: the genuine packet is accepted.
            let m = rx.unprotect_rtp(&mut p).unwrap();
            assert_eq!(&p[..m], &plain[..len]);
        }
    }

    #[test]
    fn roc_follows_the_wrap_with_reordering_and_late_packets() {
        for profile in SrtpProfile::ALL {
            let (mut tx, mut rx) = pair(profile, Config::default());
            let seqs: Vec<u16> = (65_500u16..=65_535).chain(0..40).collect();
            let packets: Vec<(u16, Vec<u8>)> =
                seqs.iter().map(|&s| (s, protect(&mut tx, 9, s))).collect();
            assert_eq!(tx.local_roc(Ssrc(9)), Some(1));
            // Deliver in a scrambled order: first some early ones, then post-wrap packets
            // before pre-wrap ones (late across the wrap).
            let mut order: Vec<usize> = (0..10).collect();
            order.extend((40..packets.len()).rev());
            order.extend(10..40);
            for i in order {
                let (seq, p) = &packets[i];
                let mut p = p.clone();
                let n = rx
                    .unprotect_rtp(&mut p)
                    .unwrap_or_else(|e| panic!("{profile:?} seq {seq}: {e}"));
                assert_eq!(&p[12..n], &[*seq as u8; 40][..]);
            }
            assert_eq!(rx.remote_roc(Ssrc(9)), Some(1));
            // Everything again: all replays.
            for (_, p) in &packets {
                let mut p = p.clone();
                assert!(matches!(
                    rx.unprotect_rtp(&mut p),
                    Err(Error::Replayed { ssrc: Ssrc(9), .. })
                ));
            }
            assert_eq!(rx.stats().replayed, packets.len() as u64);
        }
    }

    #[test]
    fn second_wrap_and_big_forward_jumps() {
        let (mut tx, mut rx) = pair(SrtpProfile::AeadAes128Gcm, Config::default());
        // 14 packets 20000 apart: the last index is 13 * 20000 = 260000, ROC 3.
        for i in 0..14u32 {
            let mut p = protect(&mut tx, 1, (i * 20_000) as u16);
            rx.unprotect_rtp(&mut p).unwrap();
        }
        assert_eq!(tx.local_roc(Ssrc(1)), Some(3));
        assert_eq!(rx.remote_roc(Ssrc(1)), Some(3));
    }

    #[test]
    fn too_old_packets_are_refused_and_counted() {
        let (mut tx, mut rx) = pair(
            SrtpProfile::Aes128CmHmacSha1_80,
            Config::default().with_replay_window(64),
        );
        let old = protect(&mut tx, 3, 10);
        for seq in 11..=80 {
            let mut p = protect(&mut tx, 3, seq);
            rx.unprotect_rtp(&mut p).unwrap();
        }
        let mut p = old;
        assert_eq!(
            rx.unprotect_rtp(&mut p),
            Err(Error::TooOld {
                ssrc: Ssrc(3),
                index: 10
            })
        );
        assert_eq!(rx.stats().too_old, 1);
        let mut next = protect(&mut tx, 3, 81);
        assert!(rx.unprotect_rtp(&mut next).is_ok());
    }

    #[test]
    fn ssrc_limit_drops_and_counts() {
        let (mut tx, mut rx) = pair(
            SrtpProfile::AeadAes128Gcm,
            Config::default().with_max_ssrcs(2),
        );
        for ssrc in 1..=2 {
            let mut p = protect(&mut tx, ssrc, 1);
            rx.unprotect_rtp(&mut p).unwrap();
        }
        let (mut p, len) = rtp_packet(3, 1, b"x", 16);
        assert_eq!(
            tx.protect_rtp(&mut p, len),
            Err(Error::TooManySsrcs { ssrc: Ssrc(3) })
        );
        let (mut tx2, _) = pair(SrtpProfile::AeadAes128Gcm, Config::default());
        let mut p = protect(&mut tx2, 3, 1);
        assert_eq!(
            rx.unprotect_rtp(&mut p),
            Err(Error::TooManySsrcs { ssrc: Ssrc(3) })
        );
        assert_eq!(rx.stats().ssrc_limit_dropped, 1);
        // Known SSRCs keep working.
        let mut p = protect(&mut tx, 2, 2);
        assert!(rx.unprotect_rtp(&mut p).is_ok());
    }

    #[test]
    fn failed_first_packet_creates_no_state() {
        let (mut tx, _) = pair(SrtpProfile::AeadAes128Gcm, Config::default());
        let (_, mut rx) = pair(
            SrtpProfile::AeadAes128Gcm,
            Config::default().with_max_ssrcs(1),
        );
        let mut forged = protect(&mut tx, 5, 1);
        let n = forged.len();
        forged[n - 1] ^= 0x80;
        assert!(matches!(
            rx.unprotect_rtp(&mut forged),
            Err(Error::AuthenticationFailed { .. })
        ));
        assert_eq!(rx.remote_roc(Ssrc(5)), None);
        let mut p = protect(&mut tx, 6, 1);
        assert!(
            rx.unprotect_rtp(&mut p).is_ok(),
            "the only SSRC slot is still free"
        );
    }

    #[test]
    fn packet_limits_are_enforced() {
        for profile in SrtpProfile::ALL {
            let (mut tx, _) = pair(profile, Config::default().with_packet_limits(3, 2));
            for seq in 0..3 {
                protect(&mut tx, 1, seq);
            }
            let (mut p, len) = rtp_packet(1, 3, b"x", profile.rtp_overhead());
            assert_eq!(tx.protect_rtp(&mut p, len), Err(Error::PacketLimitReached));
            let mut rtcp = [0u8; 8 + 20];
            rtcp[..8].copy_from_slice(&hex!("80c90001 00000001"));
            assert!(tx.protect_rtcp(&mut rtcp, 8).is_ok());
            assert!(tx.protect_rtcp(&mut rtcp, 8).is_ok());
            assert_eq!(
                tx.protect_rtcp(&mut rtcp, 8),
                Err(Error::PacketLimitReached)
            );
            // The configured limit is capped at the profile's.
            let (big, _) = pair(profile, Config::default());
            assert_eq!(big.config().rtp_packet_limit, 1 << 48);
            assert_eq!(big.config().rtcp_packet_limit, 1 << 31);
        }
    }

    #[test]
    fn replay_windows_are_clamped() {
        assert_eq!(
            Config::default().with_replay_window(u32::MAX).replay_window,
            MAX_REPLAY_WINDOW
        );
        assert_eq!(
            Config::default()
                .with_rtcp_replay_window(0)
                .rtcp_replay_window,
            1
        );
        // Fields set directly (as a caller can on a `Config` value) are clamped too.
        let config = Config {
            replay_window: u32::MAX,
            rtcp_replay_window: 0,
            ..Config::default()
        };
        let (ctx, _) = pair(SrtpProfile::AeadAes128Gcm, config);
        assert_eq!(ctx.config().replay_window, MAX_REPLAY_WINDOW);
        assert_eq!(ctx.config().rtcp_replay_window, 1);
    }

    #[test]
    fn srtcp_index_exhaustion_is_refused() {
        let (mut tx, _) = pair(SrtpProfile::Aes128CmHmacSha1_80, Config::default());
        tx.tx_rtcp.push(1, SRTCP_INDEX_MASK);
        let mut rtcp = [0u8; 8 + 14];
        rtcp[..8].copy_from_slice(&hex!("80c90001 00000001"));
        assert!(
            tx.protect_rtcp(&mut rtcp, 8).is_ok(),
            "the last index is usable"
        );
        assert_eq!(
            tx.protect_rtcp(&mut rtcp, 8),
            Err(Error::PacketLimitReached)
        );
    }

    #[test]
    fn rtcp_round_trip_replay_and_unencrypted_mode() {
        for profile in SrtpProfile::ALL {
            for encrypt in [true, false] {
                let (mut tx, mut rx) =
                    pair(profile, Config::default().with_rtcp_encryption(encrypt));
                let mut sent = Vec::new();
                for _ in 0..3 {
                    let mut buf = RTCP.to_vec();
                    buf.resize(52 + profile.rtcp_overhead(), 0);
                    let n = tx.protect_rtcp(&mut buf, 52).unwrap();
                    assert_eq!(n, 52 + profile.rtcp_overhead());
                    assert_eq!(buf[8..52] != RTCP[8..], encrypt, "{profile:?}");
                    sent.push(buf);
                }
                for p in sent.iter().rev() {
                    let mut p = p.clone();
                    let n = rx.unprotect_rtcp(&mut p).unwrap();
                    assert_eq!(&p[..n], &RTCP);
                }
                let mut again = sent[1].clone();
                assert_eq!(
                    rx.unprotect_rtcp(&mut again),
                    Err(Error::Replayed {
                        ssrc: Ssrc(0x4d61_7273),
                        index: 1
                    })
                );
                let mut fresh = RTCP.to_vec();
                fresh.resize(52 + profile.rtcp_overhead(), 0);
                tx.protect_rtcp(&mut fresh, 52).unwrap();
                let mut forged = fresh.clone();
                forged[9] ^= 1;
                assert_eq!(
                    rx.unprotect_rtcp(&mut forged),
                    Err(Error::AuthenticationFailed {
                        ssrc: Ssrc(0x4d61_7273)
                    })
                );
                assert!(rx.unprotect_rtcp(&mut fresh).is_ok());
            }
        }
    }

    #[test]
    fn short_and_malformed_inputs_are_typed_errors() {
        for profile in SrtpProfile::ALL {
            let (mut tx, mut rx) = pair(profile, Config::default());
            for len in 0..40 {
                let mut b = vec![0x80u8; len];
                assert!(rx.unprotect_rtp(&mut b).is_err());
                let mut b = vec![0x80u8; len];
                assert!(rx.unprotect_rtcp(&mut b).is_err());
            }
            let (mut p, len) = rtp_packet(1, 1, b"abc", 0);
            assert_eq!(
                tx.protect_rtp(&mut p, len),
                Err(Error::BufferTooSmall {
                    needed: len + profile.rtp_overhead(),
                    available: len
                })
            );
            assert!(matches!(
                tx.protect_rtp(&mut [0u8; 64], 100),
                Err(Error::BufferTooSmall { .. })
            ));
            assert_eq!(
                tx.protect_rtp(&mut [0u8; 64], 20),
                Err(Error::BadVersion(0))
            );
            assert!(rx.stats().malformed > 0);
        }
    }

    #[test]
    fn dtls_keying_material_split_follows_rfc5764() {
        let profile = SrtpProfile::Aes128CmHmacSha1_80;
        let material: Vec<u8> = (0..60).collect();
        let client = DtlsSrtpContexts::new(
            &SrtpKeys::split(profile, DtlsRole::Client, &material).unwrap(),
            Config::default(),
        )
        .unwrap();
        let server = DtlsSrtpContexts::new(
            &SrtpKeys::split(profile, DtlsRole::Server, &material).unwrap(),
            Config::default(),
        )
        .unwrap();
        let (mut c_local, mut s_remote) = (client.local, server.remote);
        let (mut s_local, mut c_remote) = (server.local, client.remote);
        // Client key = bytes 0..16, client salt = bytes 32..46.
        let mut explicit = SrtpContext::new(
            profile,
            &material[..16],
            &material[32..46],
            Config::default(),
        )
        .unwrap();
        let a = protect(&mut c_local, 1, 1);
        let b = protect(&mut explicit, 1, 1);
        assert_eq!(a, b);
        let mut a2 = a.clone();
        s_remote.unprotect_rtp(&mut a2).unwrap();
        let mut c = protect(&mut s_local, 2, 1);
        c_remote.unprotect_rtp(&mut c).unwrap();
        // Material of the wrong length is refused by the one split, in ferrtc-types.
        assert!(SrtpKeys::split(profile, DtlsRole::Client, &material[..59]).is_none());
        assert!(matches!(
            SrtpContext::new(profile, &[0; 15], &[0; 14], Config::default()),
            Err(Error::InvalidKeyLength { .. })
        ));
        assert!(matches!(
            SrtpContext::new(profile, &[0; 16], &[0; 12], Config::default()),
            Err(Error::InvalidKeyLength { .. })
        ));
    }

    #[test]
    fn bytes_mut_variants() {
        let (mut tx, mut rx) = pair(SrtpProfile::AeadAes256Gcm, Config::default());
        let (p, len) = rtp_packet(4, 100, b"payload", 0);
        let mut b = BytesMut::with_capacity(256);
        b.extend_from_slice(&p[..len]);
        tx.protect_rtp_bytes(&mut b).unwrap();
        assert_eq!(b.len(), len + 16);
        rx.unprotect_rtp_bytes(&mut b).unwrap();
        assert_eq!(&b[..], &p[..len]);
        let mut r = BytesMut::from(&RTCP[..]);
        tx.protect_rtcp_bytes(&mut r).unwrap();
        rx.unprotect_rtcp_bytes(&mut r).unwrap();
        assert_eq!(&r[..], &RTCP);
    }

    #[test]
    fn aes_cm_session_keys_are_independent_per_label() {
        // SRTP and SRTCP keys differ: an SRTCP tag does not verify as SRTP.
        let keys = SessionKeys::derive(SrtpProfile::Aes128CmHmacSha1_80, &[1; 16], &[2; 14]);
        let (Transform::AesCm(rtp), Transform::AesCm(rtcp)) = (&keys.rtp, &keys.rtcp) else {
            panic!("AES-CM profile derives AES-CM transforms");
        };
        let mut t = [0u8; 10];
        rtp.sign(b"data", &[], &mut t);
        assert!(rtp.verify(b"data", &[], &t));
        assert!(!rtcp.verify(b"data", &[], &t));
    }
}
