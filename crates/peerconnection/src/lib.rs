//! The sans-IO WebRTC peer connection: JSEP offer/answer (RFC 8829), and the bundled
//! transport that joins ICE, DTLS, SRTP and SCTP data channels on one flow.
//!
//! A [`Negotiator`] holds what a W3C `RTCPeerConnection` negotiates: the signaling state,
//! the transceivers with their directions and mids, and the data-channel m-line. It writes
//! offers and answers and reads the peer's, and each successful
//! [`set_local_description`](Negotiator::set_local_description) or
//! [`set_remote_description`](Negotiator::set_remote_description) that completes an exchange
//! (an answer or a provisional answer) yields a [`Negotiation`]: per transport, the peer's ICE
//! credentials, candidates and certificate fingerprints and our DTLS role; per m-line, the
//! agreed codecs with their payload types both ways, RTX, RED, RTCP feedback, header
//! extension ids and the peer's SSRCs; and the SCTP parameters of the data channels. The
//! connection core feeds that to its ICE agent, DTLS endpoint, SRTP contexts, SCTP
//! association and RTP pipelines.
//!
//! What ferrtc negotiates: BUNDLE with the `max-bundle` policy (one transport, the m-lines
//! after the first marked `bundle-only` in the initial offer, RFC 8843), RTCP multiplexing
//! required (RFC 5761, RFC 8858), DTLS-SRTP with `a=setup:actpass` in offers and `active`
//! in answers to `actpass` (RFC 8842), trickle ICE, ICE-lite when configured (RFC 8839), and
//! data channels over one `UDP/DTLS/SCTP webrtc-datachannel` m-line (RFC 8841).
//!
//! Nothing here does I/O, reads a clock or starts a thread; randomness (session id, ICE
//! credentials, SSRCs, CNAME) comes from the caller's generator. Errors that are the
//! caller's ([`UsageError`]) are kept apart from those that are the peer's
//! ([`RemoteDescriptionError`]); after any error the negotiator is as it was.
//!
//!
//! The transport half is in [`transport`]: a [`BundleTransport`] takes what a
//! [`Negotiation`] settled and runs the data path (RFC 7983 demultiplexing in [`demux`],
//! the one ICE/SDP candidate conversion in [`candidate`]).
//!
//! # The contract
//!
//! Every state machine here has the same verbs as the protocol crates below it
//! (`ferrtc_types` writes the contract down): after any `handle_*` call or command, drain
//! `poll_transmit` until `None`, then `poll_event` until `None`, then call `handle_timeout`
//! at `poll_timeout`. An `Err` from `handle_receive` only means the datagram was dropped
//! (and counted); a fatal failure is a `Failed` connection state carrying its cause.
//!
//! ```
//! use ferrtc_peerconnection::{Config, Description, MediaKind, Negotiator, SignalingState};
//! use ferrtc_types::{Fingerprint, HashAlgorithm};
//! use rand::SeedableRng;
//!
//! let mut rng = rand_chacha::ChaCha20Rng::seed_from_u64(1);
//! let cert = |b| Fingerprint::new(HashAlgorithm::Sha256, &[b; 32]).unwrap();
//! let mut alice = Negotiator::new(Config::new(cert(1)), &mut rng)?;
//! let mut bob = Negotiator::new(Config::new(cert(2)), &mut rng)?;
//!
//! alice.add_transceiver(MediaKind::Audio, Default::default())?;
//! alice.create_data_channel()?;
//! assert!(alice.negotiation_needed());
//!
//! let offer = alice.create_offer(&mut rng)?;
//! alice.set_local_description(&offer)?;
//! bob.set_remote_description(&offer)?;
//! let answer = bob.create_answer(&mut rng)?;
//! let bob_view = bob.set_local_description(&answer)?.expect("an answer completes the exchange");
//! let alice_view = alice.set_remote_description(&answer)?.unwrap();
//!
//! assert_eq!(alice.signaling_state(), SignalingState::Stable);
//! assert_eq!(alice_view.transports.len(), 1);
//! assert_eq!(alice_view.media[0].codecs[0].name, "opus");
//! assert_eq!(
//!     alice_view.transports[0].dtls_role,
//!     bob_view.transports[0].dtls_role.opposite()
//! );
//! assert_eq!(bob_view.data.as_ref().map(|d| d.remote_sctp_port), Some(5000));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod candidate;
pub mod demux;
pub mod endpoint;
pub mod frames;
pub mod peer;
mod rtp_session;
pub mod stats;
pub mod transport;

mod build;
mod codec;
mod config;
mod congestion;
mod description;
mod error;
mod negotiated;
mod negotiator;
mod remote;
mod transceiver;

pub use codec::{CodecSpec, ExtensionSpec, Feedback, uri};
pub use config::{Config, IceCredentials};
pub use description::{Description, SdpType, SignalingState};
pub use endpoint::{
    ConnectionHandle, ConnectionMut, Endpoint, EndpointConfig, EndpointError, EndpointStats,
};
pub use error::{
    AddCandidateError, CandidateError, ConfigError, Operation, RemoteDescriptionError,
    SetRemoteError, UsageError,
};
pub use ferrtc_bwe::BweConfig;
pub use ferrtc_sdp::{Candidate, Direction, Msid, Parameter};
pub use frames::{CodecKind, EncodedFrame};
pub use negotiated::{
    IceParameters, NegotiatedCodec, NegotiatedData, NegotiatedExtension, NegotiatedMedia,
    NegotiatedTransport, Negotiation, PayloadTypes, RemoteSource, SendStream,
};
pub use negotiator::{Negotiator, RemoteCandidate, TrickledCandidate};
pub use peer::{
    DataChannelId, DataChannelInfo, DataChannelInit, DataChannelState, Event, PeerConfig,
    PeerConnection, PeerError, PeerStats, SendCodec,
};
pub use rtp_session::RtpSessionStats;
pub use stats::{StatsEntry, StatsReport, StatsType, StatsValue};
pub use transceiver::{MediaKind, TrackInfo, Transceiver, TransceiverId, TransceiverInit};
pub use transport::{
    BundleTransport, ChannelEvent, CommandError, ConnectionState, DtlsState, ReceiveError,
    SctpParameters, TransportConfig, TransportError, TransportEvent, TransportParameters,
    TransportStats,
};
