//! SRTP protection profiles (RFC 5764 §4.1.2, RFC 7714 §14.2).

/// An SRTP protection profile: cipher, authentication and key sizes.
///
/// The four profiles WebRTC uses. The identifiers are the DTLS `use_srtp` values
/// ([`Profile::id`], [`Profile::from_id`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Profile {
    /// `SRTP_AES128_CM_HMAC_SHA1_80`: AES-128 counter mode, HMAC-SHA1 tag of 80 bits
    /// (RFC 5764 §4.1.2, id 0x0001).
    Aes128CmHmacSha1_80,
    /// `SRTP_AES128_CM_HMAC_SHA1_32`: as above with a 32-bit SRTP tag; SRTCP keeps its 80-bit
    /// tag (RFC 5764 §4.1.2, id 0x0002).
    Aes128CmHmacSha1_32,
    /// `SRTP_AEAD_AES_128_GCM`: AES-128-GCM with a 16-byte tag (RFC 7714 §14.2, id 0x0007).
    AeadAes128Gcm,
    /// `SRTP_AEAD_AES_256_GCM`: AES-256-GCM with a 16-byte tag (RFC 7714 §14.2, id 0x0008).
    AeadAes256Gcm,
}

impl Profile {
    /// Every profile this crate implements.
    pub const ALL: [Profile; 4] = [
        Profile::Aes128CmHmacSha1_80,
        Profile::Aes128CmHmacSha1_32,
        Profile::AeadAes128Gcm,
        Profile::AeadAes256Gcm,
    ];

    /// The DTLS-SRTP protection profile identifier.
    pub const fn id(self) -> u16 {
        match self {
            // RFC 5764 §4.1.2
            Profile::Aes128CmHmacSha1_80 => 0x0001,
            Profile::Aes128CmHmacSha1_32 => 0x0002,
            // RFC 7714 §14.2
            Profile::AeadAes128Gcm => 0x0007,
            Profile::AeadAes256Gcm => 0x0008,
        }
    }

    /// The profile with this DTLS-SRTP identifier, if implemented here.
    pub const fn from_id(id: u16) -> Option<Profile> {
        match id {
            0x0001 => Some(Profile::Aes128CmHmacSha1_80),
            0x0002 => Some(Profile::Aes128CmHmacSha1_32),
            0x0007 => Some(Profile::AeadAes128Gcm),
            0x0008 => Some(Profile::AeadAes256Gcm),
            _ => None,
        }
    }

    /// Master key length in bytes (also the session encryption key length).
    pub const fn master_key_len(self) -> usize {
        match self {
            Profile::Aes128CmHmacSha1_80
            | Profile::Aes128CmHmacSha1_32
            | Profile::AeadAes128Gcm => 16,
            Profile::AeadAes256Gcm => 32,
        }
    }

    /// Master salt length in bytes: 112 bits for AES-CM (RFC 3711 §8.2), 96 bits for GCM
    /// (RFC 7714 §12). Session salts have the same length.
    pub const fn master_salt_len(self) -> usize {
        match self {
            Profile::Aes128CmHmacSha1_80 | Profile::Aes128CmHmacSha1_32 => 14,
            Profile::AeadAes128Gcm | Profile::AeadAes256Gcm => 12,
        }
    }

    /// Bytes SRTP appends to an RTP packet (the authentication tag; no MKI).
    pub const fn rtp_overhead(self) -> usize {
        match self {
            Profile::Aes128CmHmacSha1_80 => 10,
            Profile::Aes128CmHmacSha1_32 => 4,
            Profile::AeadAes128Gcm | Profile::AeadAes256Gcm => 16,
        }
    }

    /// Bytes SRTCP appends to an RTCP packet: the authentication tag plus the 4-byte
    /// E flag and SRTCP index (RFC 3711 §3.4; RFC 7714 §9.2).
    pub const fn rtcp_overhead(self) -> usize {
        self.rtcp_tag_len() + 4
    }

    /// SRTCP authentication tag length: 80 bits for both AES-CM profiles (RFC 5764 §4.1.2),
    /// 16 bytes for GCM.
    pub(crate) const fn rtcp_tag_len(self) -> usize {
        match self {
            Profile::Aes128CmHmacSha1_80 | Profile::Aes128CmHmacSha1_32 => 10,
            Profile::AeadAes128Gcm | Profile::AeadAes256Gcm => 16,
        }
    }

    /// Most SRTP packets one master key may protect: 2^48 (RFC 3711 §9.2, RFC 7714 §8.4).
    pub const fn max_rtp_packets(self) -> u64 {
        1 << 48
    }

    /// Most SRTCP packets one master key may protect: 2^31 (RFC 3711 §9.2, RFC 7714 §9.4).
    pub const fn max_rtcp_packets(self) -> u64 {
        1 << 31
    }

    pub(crate) const fn is_aead(self) -> bool {
        matches!(self, Profile::AeadAes128Gcm | Profile::AeadAes256Gcm)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_round_trip() {
        for p in Profile::ALL {
            assert_eq!(Profile::from_id(p.id()), Some(p));
        }
        assert_eq!(Profile::from_id(0x0003), None);
        assert_eq!(Profile::from_id(0x0000), None);
    }

    #[test]
    fn sizes_match_the_rfcs() {
        assert_eq!(Profile::Aes128CmHmacSha1_32.rtp_overhead(), 4);
        assert_eq!(Profile::Aes128CmHmacSha1_32.rtcp_overhead(), 14);
        assert_eq!(Profile::AeadAes256Gcm.master_key_len(), 32);
        assert_eq!(Profile::AeadAes128Gcm.master_salt_len(), 12);
        assert_eq!(Profile::AeadAes128Gcm.rtcp_overhead(), 20);
        assert!(Profile::AeadAes128Gcm.is_aead());
        assert!(!Profile::Aes128CmHmacSha1_80.is_aead());
    }
}
