//! Named wire values: cipher suites, groups, signature schemes. (SRTP protection profiles
//! are `ferrtc_types::SrtpProfile`; the use_srtp codec keeps unknown ids as raw `u16`.)

macro_rules! wire_enum {
    ($(#[$m:meta])* $name:ident : $repr:ty { $($(#[$vm:meta])* $var:ident = $val:expr,)* }) => {
        $(#[$m])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        #[non_exhaustive]
        pub enum $name {
            $($(#[$vm])* $var,)*
            /// A value this crate does not name.
            Unknown($repr),
        }
        impl From<$repr> for $name {
            fn from(v: $repr) -> Self {
                match v { $($val => $name::$var,)* other => $name::Unknown(other) }
            }
        }
        impl From<$name> for $repr {
            fn from(v: $name) -> $repr {
                match v { $($name::$var => $val,)* $name::Unknown(other) => other }
            }
        }
    };
}
pub(crate) use wire_enum;

wire_enum! {
    /// CipherSuite (RFC 5289 §3, RFC 7905 §2, RFC 5746 §3.3).
    CipherSuite: u16 {
        /// TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256 (0xc02b), mandatory for WebRTC (RFC 8827 §6.5).
        EcdheEcdsaWithAes128GcmSha256 = 0xc02b,
        /// TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384 (0xc02c).
        EcdheEcdsaWithAes256GcmSha384 = 0xc02c,
        /// TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256 (0xc02f).
        EcdheRsaWithAes128GcmSha256 = 0xc02f,
        /// TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384 (0xc030).
        EcdheRsaWithAes256GcmSha384 = 0xc030,
        /// TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256 (0xcca8).
        EcdheRsaWithChacha20Poly1305Sha256 = 0xcca8,
        /// TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256 (0xcca9).
        EcdheEcdsaWithChacha20Poly1305Sha256 = 0xcca9,
        /// TLS_EMPTY_RENEGOTIATION_INFO_SCSV (0x00ff), a signal, not a suite.
        EmptyRenegotiationInfoScsv = 0x00ff,
    }
}

/// The bulk cipher of a suite.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum BulkCipher {
    /// AES-128-GCM (RFC 5288).
    Aes128Gcm,
    /// AES-256-GCM (RFC 5288).
    Aes256Gcm,
    /// ChaCha20-Poly1305 (RFC 7905).
    Chacha20Poly1305,
}

/// The PRF hash of a suite.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PrfHash {
    /// SHA-256.
    Sha256,
    /// SHA-384.
    Sha384,
}

/// The certificate key type a suite authenticates with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AuthKind {
    /// ECDSA.
    Ecdsa,
    /// RSA.
    Rsa,
}

impl CipherSuite {
    /// Every suite this crate implements, in default preference order.
    pub const ALL: [CipherSuite; 6] = [
        CipherSuite::EcdheEcdsaWithAes128GcmSha256,
        CipherSuite::EcdheEcdsaWithAes256GcmSha384,
        CipherSuite::EcdheEcdsaWithChacha20Poly1305Sha256,
        CipherSuite::EcdheRsaWithAes128GcmSha256,
        CipherSuite::EcdheRsaWithAes256GcmSha384,
        CipherSuite::EcdheRsaWithChacha20Poly1305Sha256,
    ];

    /// (bulk cipher, PRF hash, authentication) for an implemented suite.
    pub fn params(self) -> Option<(BulkCipher, PrfHash, AuthKind)> {
        use CipherSuite as C;
        Some(match self {
            C::EcdheEcdsaWithAes128GcmSha256 => {
                (BulkCipher::Aes128Gcm, PrfHash::Sha256, AuthKind::Ecdsa)
            }
            C::EcdheEcdsaWithAes256GcmSha384 => {
                (BulkCipher::Aes256Gcm, PrfHash::Sha384, AuthKind::Ecdsa)
            }
            C::EcdheEcdsaWithChacha20Poly1305Sha256 => (
                BulkCipher::Chacha20Poly1305,
                PrfHash::Sha256,
                AuthKind::Ecdsa,
            ),
            C::EcdheRsaWithAes128GcmSha256 => {
                (BulkCipher::Aes128Gcm, PrfHash::Sha256, AuthKind::Rsa)
            }
            C::EcdheRsaWithAes256GcmSha384 => {
                (BulkCipher::Aes256Gcm, PrfHash::Sha384, AuthKind::Rsa)
            }
            C::EcdheRsaWithChacha20Poly1305Sha256 => {
                (BulkCipher::Chacha20Poly1305, PrfHash::Sha256, AuthKind::Rsa)
            }
            _ => return None,
        })
    }
}

wire_enum! {
    /// NamedGroup (RFC 8422 §5.1.1).
    NamedGroup: u16 {
        /// secp256r1 (0x0017).
        Secp256r1 = 0x0017,
        /// secp384r1 (0x0018).
        Secp384r1 = 0x0018,
        /// x25519 (0x001d).
        X25519 = 0x001d,
    }
}

impl NamedGroup {
    /// Groups implemented, in default preference order.
    pub const ALL: [NamedGroup; 3] = [
        NamedGroup::X25519,
        NamedGroup::Secp256r1,
        NamedGroup::Secp384r1,
    ];
}

wire_enum! {
    /// SignatureAndHashAlgorithm as one code point (RFC 5246 §7.4.1.4.1, RFC 8446 §4.2.3
    /// numbering, which TLS 1.2 peers also use for RSA-PSS).
    SignatureScheme: u16 {
        /// rsa_pkcs1_sha256 (0x0401).
        RsaPkcs1Sha256 = 0x0401,
        /// ecdsa_secp256r1_sha256 (0x0403).
        EcdsaSecp256r1Sha256 = 0x0403,
        /// rsa_pkcs1_sha384 (0x0501).
        RsaPkcs1Sha384 = 0x0501,
        /// ecdsa_secp384r1_sha384 (0x0503).
        EcdsaSecp384r1Sha384 = 0x0503,
        /// rsa_pkcs1_sha512 (0x0601).
        RsaPkcs1Sha512 = 0x0601,
        /// rsa_pss_rsae_sha256 (0x0804).
        RsaPssRsaeSha256 = 0x0804,
        /// rsa_pss_rsae_sha384 (0x0805).
        RsaPssRsaeSha384 = 0x0805,
        /// rsa_pss_rsae_sha512 (0x0806).
        RsaPssRsaeSha512 = 0x0806,
    }
}

impl SignatureScheme {
    /// Schemes we can verify, in the order we advertise them.
    pub const VERIFIABLE: [SignatureScheme; 8] = [
        SignatureScheme::EcdsaSecp256r1Sha256,
        SignatureScheme::EcdsaSecp384r1Sha384,
        SignatureScheme::RsaPssRsaeSha256,
        SignatureScheme::RsaPssRsaeSha384,
        SignatureScheme::RsaPssRsaeSha512,
        SignatureScheme::RsaPkcs1Sha256,
        SignatureScheme::RsaPkcs1Sha384,
        SignatureScheme::RsaPkcs1Sha512,
    ];
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wire_values_round_trip() {
        for s in CipherSuite::ALL {
            assert_eq!(CipherSuite::from(u16::from(s)), s);
            assert!(s.params().is_some());
        }
        assert_eq!(
            u16::from(CipherSuite::EcdheEcdsaWithAes128GcmSha256),
            0xc02b
        );
        assert_eq!(CipherSuite::from(0x1234), CipherSuite::Unknown(0x1234));
        assert_eq!(NamedGroup::from(0x001d), NamedGroup::X25519);
    }
}
