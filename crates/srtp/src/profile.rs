//! What SRTP needs of a protection profile beyond [`SrtpProfile`]'s public sizes.

use ferrtc_types::SrtpProfile;

/// Most SRTP packets one master key may protect: 2^48 (RFC 3711 §9.2, RFC 7714 §8.4). The
/// same for every profile.
pub const MAX_RTP_PACKETS: u64 = 1 << 48;

/// Most SRTCP packets one master key may protect: 2^31 (RFC 3711 §9.2, RFC 7714 §9.4). The
/// same for every profile.
pub const MAX_RTCP_PACKETS: u64 = 1 << 31;

/// SRTP-internal facts about a profile.
pub(crate) trait ProfileExt {
    /// SRTCP authentication tag length: 80 bits for both AES-CM profiles (RFC 5764 §4.1.2),
    /// 16 bytes for GCM.
    fn rtcp_tag_len(&self) -> usize;
    /// AEAD (GCM, RFC 7714) rather than AES-CM with HMAC-SHA1 (RFC 3711).
    fn is_aead(&self) -> bool;
}

impl ProfileExt for SrtpProfile {
    #[inline]
    fn rtcp_tag_len(&self) -> usize {
        // The SRTCP trailer is the 4-byte E flag and index word plus the tag.
        self.rtcp_overhead() - 4
    }

    #[inline]
    fn is_aead(&self) -> bool {
        matches!(
            *self,
            SrtpProfile::AeadAes128Gcm | SrtpProfile::AeadAes256Gcm
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_match_the_rfcs() {
        assert_eq!(SrtpProfile::Aes128CmHmacSha1_32.rtp_overhead(), 4);
        assert_eq!(SrtpProfile::Aes128CmHmacSha1_32.rtcp_overhead(), 14);
        assert_eq!(SrtpProfile::Aes128CmHmacSha1_32.rtcp_tag_len(), 10);
        assert_eq!(SrtpProfile::Aes128CmHmacSha1_80.rtcp_tag_len(), 10);
        assert_eq!(SrtpProfile::AeadAes256Gcm.master_key_len(), 32);
        assert_eq!(SrtpProfile::AeadAes128Gcm.master_salt_len(), 12);
        assert_eq!(SrtpProfile::AeadAes128Gcm.rtcp_overhead(), 20);
        assert_eq!(SrtpProfile::AeadAes256Gcm.rtcp_tag_len(), 16);
        assert!(SrtpProfile::AeadAes128Gcm.is_aead());
        assert!(!SrtpProfile::Aes128CmHmacSha1_80.is_aead());
    }
}
