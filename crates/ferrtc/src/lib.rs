//! ferrtc: WebRTC for Rust, with an API shaped like the browser's `RTCPeerConnection`.
//!
//! This crate is the facade over ferrtc's sans-IO protocol crates. A [`PeerConnection`] is
//! a handle to a tokio task (the driver) that owns the connection's sans-IO core and its UDP
//! sockets: the task reads the sockets (batched with GRO and `recvmmsg` through
//! `quinn-udp` where the OS allows), feeds the core, sleeps until the core's next timeout,
//! writes what the core wants sent (equal-sized runs batched with GSO), and forwards the
//! core's events. Handles talk to the task through channels; they hold no reference to it,
//! so dropping the last handle closes the connection and frees its sockets and task.
//!
//! - [`PeerConnection`]: offers and answers, candidates, transceivers, data channels, the
//!   W3C states as getters, events from [`PeerConnection::next_event`] or as a
//!   [`Stream`](futures_core::Stream).
//! - Frame mode: [`PeerConnection::set_receive_frames`] turns a transceiver's received RTP
//!   into whole encoded frames ([`Event::Frame`]), and [`PeerConnection::write_frame`] sends
//!   encoded frames packetized for the negotiated codec; [`Event::KeyframeRequest`] says
//!   when the peer wants a key frame.
#![cfg_attr(
    feature = "media",
    doc = "- [`media`] (cargo feature `media`, on by default): tracks of raw frames.
  [`PeerConnection::add_media_track`] encodes a local track with the negotiated codec and
  sends it (honouring the peer's key-frame requests, at a bitrate that can change);
  [`PeerConnection::remote_media_track`] decodes what the peer sends into a track of
  video or audio frames, as aiortc's `pc.addTrack(track)` and `await track.recv()`."
)]
//! - [`DataChannel`]: `send` with back-pressure (it waits while too much is buffered),
//!   `recv`, the W3C properties.
//! - [`UdpEndpoint`]: one UDP socket (one port) for every peer connection of a process
//!   that names it in [`Configuration::endpoint`]; datagrams are routed to connections by
//!   ICE ufrag, then by the peer's address (the core's `Endpoint` rules).
//! - [`net`]: the sockets, host addresses and ICE server URLs.
//!
//! # Limits
//!
//! - TURN gives relayed candidates over UDP (`turn:`, `?transport=udp`), TCP
//!   (`?transport=tcp`) and TLS (`turns:`, rustls; the trusted roots come from
//!   [`Configuration::tls_roots`], there are no built-in ones): an allocation per URL, made
//!   when the connection is created, refreshed until it closes;
//!   `IceTransportPolicy::Relay` gathers only those. Relays over UDP rank above those over
//!   TCP, above those over TLS. A relay that fails comes as [`Event::IceCandidateError`].
//!   `stuns:` URLs are parsed and checked but not used (a warning is logged).
//! - Only the `max-bundle` policy: everything rides one transport.
//! - By default one connection, one set of sockets (one per address family); a
//!   [`UdpEndpoint`] shares one port among many, without TURN, and tells remote peers apart
//!   by their address (see its module's limits).
//! - A reader that stops reading a data channel makes its connection take only STUN from
//!   the network until it reads again (the peer's SCTP retransmits): media on that
//!   connection pauses meanwhile.
//!
//! # Example
//!
//! Two connections in one process over loopback: one offers a data channel, the other
//! answers and receives a message.
//!
//! ```
//! use ferrtc::{Configuration, DataChannelInit, Event, PeerConnection, net::HostAddresses};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let config = || Configuration::new().with_host_addresses(HostAddresses::loopback());
//! let alice = PeerConnection::new(config()).await?;
//! let bob = PeerConnection::new(config()).await?;
//!
//! let chat = alice.create_data_channel("chat", DataChannelInit::default()).await?;
//! alice.set_local_description(None).await?;
//! alice.gathering_complete().await?;
//! bob.set_remote_description(alice.local_description().unwrap()).await?;
//! bob.set_local_description(None).await?;
//! bob.gathering_complete().await?;
//! alice.set_remote_description(bob.local_description().unwrap()).await?;
//!
//! chat.send("hello").await?;
//! let received = loop {
//!     match bob.next_event().await {
//!         Some(Event::DataChannel(channel)) => break channel,
//!         Some(_) => continue,
//!         None => panic!("bob's connection ended"),
//!     }
//! };
//! let message = received.recv().await.unwrap();
//! assert_eq!(message.as_text(), Some("hello"));
//! # Ok(())
//! # }
//! ```
#![deny(unsafe_code)]
#![warn(missing_docs)]

mod channel;
mod config;
mod connection;
mod driver;
mod endpoint;
mod error;
mod ice_tcp;
#[cfg(feature = "media")]
pub mod media;
pub mod net;
mod queue;
mod stream;
#[cfg_attr(not(feature = "media"), allow(dead_code))]
mod tap;
mod turn;

pub use channel::{DEFAULT_MAX_BUFFERED_AMOUNT, DataChannel, DataChannelInit, Message, ReadyState};
pub use config::{
    BundlePolicy, Configuration, DataChannelSettings, IceTcpPolicy, IceTransportPolicy,
};
pub use connection::{
    Candidate, CodecKind, ConnectionState, Description, Direction, DtlsState, EncodedFrame, Event,
    IceConnectionState, IceGatheringState, MediaKind, PeerConnection, SdpType, SendCodec,
    SignalingState, TransceiverId, TransceiverInfo, TransceiverInit, TransportError,
};
pub use endpoint::{EndpointStats, UdpEndpoint};
pub use error::{ConfigurationError, Error};
pub use ferrtc_peerconnection::{BweConfig, StatsEntry, StatsReport, StatsType, StatsValue};
pub use net::IceServer;
pub use stream::StreamError;
pub use turn::{IceCandidateError, RelayError, UNREACHABLE_ERROR_CODE};

/// The protocol crates ferrtc is built on, for what the facade does not wrap.
pub mod layers {
    pub use ferrtc_dtls as dtls;
    pub use ferrtc_peerconnection as peerconnection;
    pub use ferrtc_rtp_codecs as rtp_codecs;
    pub use ferrtc_sctp_datachannel as sctp;
    pub use ferrtc_sdp as sdp;
    pub use ferrtc_stun_ice as stun_ice;
    pub use ferrtc_types as types;
}
