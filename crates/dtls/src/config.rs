//! Endpoint configuration.

use std::sync::Arc;
use std::time::Duration;

use ferrtc_types::{DtlsRole, Fingerprint, SrtpProfile};

use crate::certificate::Certificate;
use crate::types::{CipherSuite, NamedGroup};

/// Smallest path MTU accepted: enough for a record and handshake header plus some body.
pub const MIN_MTU: usize = 128;

/// How an endpoint behaves: its role, its certificate and what it expects of the peer.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Config {
    /// Our side of the handshake: SDP `a=setup:active` is the client, `passive` the server
    /// (RFC 8842 §5).
    pub role: DtlsRole,
    /// Our certificate and key.
    pub certificate: Arc<Certificate>,
    /// The peer's certificate must have one of these fingerprints (from the remote SDP).
    pub remote_fingerprints: Vec<Fingerprint>,
    /// Accept any peer certificate whose signatures verify, ignoring
    /// `remote_fingerprints`. Only for tools and tests: WebRTC's security rests on the
    /// fingerprint check.
    pub danger_accept_any_certificate: bool,
    /// Cipher suites in preference order (the client offers them; the server picks its
    /// first that the client offered and its certificate can serve: `TLS_ECDHE_ECDSA_*`
    /// for an ECDSA certificate, `TLS_ECDHE_RSA_*` for an RSA one).
    pub cipher_suites: Vec<CipherSuite>,
    /// ECDHE groups in preference order.
    pub groups: Vec<NamedGroup>,
    /// SRTP protection profiles in preference order; empty: do not negotiate use_srtp.
    pub srtp_profiles: Vec<SrtpProfile>,
    /// Largest datagram we send (path MTU minus IP and UDP headers).
    pub mtu: usize,
    /// First retransmission timeout (RFC 6347 §4.2.4.1 recommends 1 s).
    pub initial_rto: Duration,
    /// Ceiling for the doubled timeout (RFC 6347 §4.2.4.1: 60 s).
    pub max_rto: Duration,
    /// Retransmissions of one flight before the handshake fails with a timeout.
    pub max_retransmissions: u32,
    /// As server, demand a client certificate (WebRTC needs both sides authenticated).
    pub require_client_certificate: bool,
    /// Largest handshake message accepted (a certificate chain is the largest).
    pub max_handshake_message_len: u32,
    /// Sign with deterministic ECDSA (RFC 6979) instead of ring's nonces hedged from the
    /// system generator, so that with a seeded `rng` a run replays byte for byte (the
    /// ECDHE scalars already come from `rng`). Off by default: RustCrypto's P-256
    /// signing takes about nine times ring's (0.3 ms against 0.03 ms here), which halves
    /// the handshake rate. RSA PKCS#1 v1.5 signatures are deterministic either way.
    pub deterministic_signatures: bool,
}

impl Config {
    /// A WebRTC configuration: our role, our certificate, the fingerprints the peer's SDP
    /// announced, every implemented suite (those our certificate's key type
    /// authenticates first), group and SRTP profile, a 1200-byte MTU.
    pub fn new(
        role: DtlsRole,
        certificate: Arc<Certificate>,
        remote_fingerprints: Vec<Fingerprint>,
    ) -> Self {
        let mut cipher_suites = CipherSuite::ALL.to_vec();
        let ours = certificate.auth_kind();
        // Stable: within each key type the order of `ALL` stays.
        cipher_suites.sort_by_key(|s| s.params().map(|(_, _, auth)| auth != ours));
        Config {
            role,
            certificate,
            remote_fingerprints,
            danger_accept_any_certificate: false,
            cipher_suites,
            groups: NamedGroup::ALL.to_vec(),
            srtp_profiles: SrtpProfile::ALL.to_vec(),
            mtu: 1200,
            initial_rto: Duration::from_secs(1),
            max_rto: Duration::from_secs(60),
            max_retransmissions: 6,
            require_client_certificate: true,
            max_handshake_message_len: 1 << 16,
            deterministic_signatures: false,
        }
    }
}
