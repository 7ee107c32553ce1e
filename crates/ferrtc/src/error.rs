//! The facade's errors: each layer's error kept as `source()`, never flattened.

use ferrtc_peerconnection as pc;

/// Why an operation of a [`PeerConnection`](crate::PeerConnection) or
/// [`DataChannel`](crate::DataChannel) failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The connection (or the data channel) is closed, or its task has ended.
    #[error("closed")]
    Closed,
    /// The configuration asks for something ferrtc does not do.
    #[error("unsupported configuration")]
    Configuration(#[source] ConfigurationError),
    /// A socket or an interface listing failed.
    #[error("network error")]
    Io(#[source] std::io::Error),
    /// Generating the DTLS certificate failed.
    #[error("certificate generation failed")]
    Certificate(#[source] ferrtc_dtls::Error),
    /// An ICE server URL did not parse.
    #[error("bad ICE server URL")]
    IceServerUrl(#[source] crate::net::UrlError),
    /// The peer connection core refused its configuration.
    #[error("peer connection configuration refused")]
    Config(#[source] pc::ConfigError),
    /// The operation is not allowed now (W3C `InvalidStateError` and friends).
    #[error("operation not allowed in this state")]
    Usage(#[source] pc::UsageError),
    /// The peer connection core refused the operation (a bad description or candidate, an
    /// unknown channel, a full buffer, ...).
    #[error("peer connection refused the operation")]
    Peer(#[source] pc::PeerError),
}

/// What a [`Configuration`](crate::Configuration) may ask that ferrtc does not do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigurationError {
    /// Only `max-bundle` is implemented.
    #[error("only the max-bundle policy is supported")]
    BundlePolicy,
    /// The `relay` policy without a TURN server ferrtc can use (a `turn:` or `turns:` URL
    /// that resolves): there would be no candidate at all.
    #[error("relay-only ICE without a usable TURN server")]
    RelayPolicy,
    /// A `turn:` or `turns:` URL without `username` and `credential` (W3C
    /// `InvalidAccessError`).
    #[error("TURN server without username and credential")]
    TurnCredentials,
    /// A `turn:` or `turns:` server for a connection on a shared
    /// [`UdpEndpoint`](crate::UdpEndpoint):
    /// a TURN server tells allocations apart by the client's address and port, which every
    /// connection of the endpoint shares.
    #[error("TURN on a shared UDP endpoint")]
    TurnOnSharedEndpoint,
    /// A `turns:` URL while [`Configuration::tls_roots`](crate::Configuration::tls_roots)
    /// is empty: ferrtc has no built-in root certificates, so nothing could be trusted.
    #[error("turns: server without trusted TLS roots")]
    TlsRootsMissing,
    /// A certificate of [`Configuration::tls_roots`](crate::Configuration::tls_roots) that
    /// is neither DER nor PEM, or that rustls refuses as a trust anchor.
    #[error("bad TLS root certificate")]
    TlsRoots,
}

impl From<pc::UsageError> for Error {
    fn from(e: pc::UsageError) -> Self {
        Error::Usage(e)
    }
}

impl From<pc::PeerError> for Error {
    fn from(e: pc::PeerError) -> Self {
        Error::Peer(e)
    }
}
