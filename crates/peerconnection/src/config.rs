//! What a negotiator offers and accepts, and our ICE credentials.

use ferrtc_types::Fingerprint;
use rand::RngCore;

use crate::codec::{CodecSpec, ExtensionSpec};
use crate::error::ConfigError;

/// What a [`Negotiator`](crate::Negotiator) offers and accepts.
///
/// The policies are fixed: BUNDLE `max-bundle`, RTCP multiplexing `require` (RFC 8829
/// §4.1.1), DTLS-SRTP only.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Config {
    /// The fingerprints of our DTLS certificate (at least one), written as `a=fingerprint`.
    pub fingerprints: Vec<Fingerprint>,
    /// Whether we are an ICE-lite agent (`a=ice-lite`, RFC 8839 §5.3).
    pub ice_lite: bool,
    /// Whether we announce trickle ICE (`a=ice-options:trickle`, RFC 8840).
    pub ice_trickle: bool,
    /// Whether we announce `a=ice-options:renomination` (draft-thatcher-ice-renomination-01
    /// section 3): as the controlled agent ours takes the NOMINATION attribute and lets the
    /// latest nomination win, so a controlling peer (Chromium) may move us to a better
    /// pair. As the controlling agent ours nominates once; the option only says what we
    /// accept.
    pub ice_renomination: bool,
    /// Audio codecs, most preferred first.
    pub audio_codecs: Vec<CodecSpec>,
    /// Video codecs, most preferred first.
    pub video_codecs: Vec<CodecSpec>,
    /// Header extensions we support (the defaults and any the caller registers).
    pub header_extensions: Vec<ExtensionSpec>,
    /// Our SCTP port (`a=sctp-port`, RFC 8841 §5).
    pub sctp_port: u16,
    /// The largest data-channel message we accept (`a=max-message-size`, RFC 8841 §6).
    pub max_message_size: u64,
}

impl Config {
    /// The defaults for a certificate: ferrtc's codecs and extensions, trickle ICE, full
    /// ICE, SCTP port 5000, messages up to 256 KiB.
    #[must_use]
    pub fn new(fingerprint: Fingerprint) -> Config {
        Config {
            fingerprints: vec![fingerprint],
            ice_lite: false,
            ice_trickle: true,
            ice_renomination: true,
            audio_codecs: CodecSpec::default_audio(),
            video_codecs: CodecSpec::default_video(),
            header_extensions: ExtensionSpec::defaults(),
            sctp_port: 5000,
            max_message_size: 262_144,
        }
    }

    pub(crate) fn check(&self) -> Result<(), ConfigError> {
        if self.fingerprints.is_empty() {
            return Err(ConfigError::NoFingerprint);
        }
        for codecs in [&self.audio_codecs, &self.video_codecs] {
            let mut seen = Vec::new();
            for pt in codecs
                .iter()
                .flat_map(|c| std::iter::once(c.payload_type).chain(c.rtx_payload_type))
            {
                if seen.contains(&pt) {
                    return Err(ConfigError::DuplicatePayloadType(pt));
                }
                seen.push(pt);
            }
        }
        let mut uris: Vec<&str> = self
            .header_extensions
            .iter()
            .map(|e| e.uri.as_str())
            .collect();
        uris.sort_unstable();
        uris.dedup();
        if uris.len() > 14 {
            return Err(ConfigError::TooManyHeaderExtensions);
        }
        Ok(())
    }
}

/// ICE credentials (RFC 8839 §5.4): a username fragment and a password.
#[derive(Clone, PartialEq, Eq)]
pub struct IceCredentials {
    /// `a=ice-ufrag`.
    pub ufrag: String,
    /// `a=ice-pwd`.
    pub pwd: String,
}

impl core::fmt::Debug for IceCredentials {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("IceCredentials")
            .field("ufrag", &self.ufrag)
            .finish_non_exhaustive()
    }
}

impl IceCredentials {
    /// Fresh credentials: a 16-character ufrag and a 32-character password of letters and
    /// digits (RFC 8839 §5.4 asks for at least 24 bits and 128 bits of randomness).
    pub fn random(rng: &mut dyn RngCore) -> IceCredentials {
        IceCredentials {
            ufrag: random_token(rng, 16),
            pwd: random_token(rng, 32),
        }
    }
}

/// `len` characters drawn evenly from letters and digits.
pub(crate) fn random_token(rng: &mut dyn RngCore, len: usize) -> String {
    const ALPHABET: &[u8; 62] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    let mut out = String::with_capacity(len);
    while out.len() < len {
        // 62 * 4 = 248: bytes from 248 up are redrawn so each character is equally likely.
        let b = (rng.next_u32() & 0xff) as u8;
        if b < 248 {
            out.push(char::from(ALPHABET[usize::from(b % 62)]));
        }
    }
    out
}
