//! TURN client (RFC 8656), sans-IO: allocations with long-term credentials, refreshes,
//! permissions, channels, Send/Data indications and ChannelData, over UDP, TCP or TLS.
//!
//! - [`Client`]: one allocation on one server. The caller owns the socket, stream or TLS
//!   session; the client turns commands and received bytes into bytes to send and
//!   [`Event`]s.
//! - [`StreamFramer`]: splits a TCP or TLS byte stream into STUN and ChannelData frames
//!   (the client uses it itself for [`TurnTransport::Tcp`] and [`TurnTransport::Tls`]).
//!
//! A run loop over UDP, with the relay used for one peer:
//!
//! ```no_run
//! use std::net::UdpSocket;
//! use std::time::Instant;
//! use ferrtc_stun_ice::turn::{Client, ClientConfig, Event, TurnTransport};
//! use rand::SeedableRng;
//!
//! let socket = UdpSocket::bind("0.0.0.0:0")?;
//! let server = "192.0.2.1:3478".parse()?;
//! let peer = "198.51.100.7:9000".parse()?;
//! // Seed from the operating system in production; transaction ids must be unpredictable.
//! let mut rng = rand_chacha::ChaCha20Rng::seed_from_u64(0x5eed);
//! let config = ClientConfig::new(server, TurnTransport::Udp, "user", "secret");
//! let mut client = Client::new(config, &mut rng);
//! client.allocate(Instant::now())?;
//! let mut buf = [0u8; 65536];
//! loop {
//!     while let Some(t) = client.poll_transmit() {
//!         socket.send_to(&t.contents, t.destination)?;
//!     }
//!     while let Some(event) = client.poll_event() {
//!         match event {
//!             Event::Allocated { .. } => { client.bind_channel(Instant::now(), peer)?; }
//!             Event::ChannelBound { .. } => client.send_to(peer, b"hello")?,
//!             _ => {}
//!         }
//!     }
//!     let wait = client.poll_timeout().map(|t| t.saturating_duration_since(Instant::now()));
//!     socket.set_read_timeout(wait.filter(|w| !w.is_zero()))?;
//!     match socket.recv_from(&mut buf) {
//!         Ok((n, from)) => {
//!             // Relayed data comes back borrowed from `buf`; an `Err` is a dropped datagram.
//!             if let Ok(Some((peer, data))) = client.handle_receive(Instant::now(), from, &buf[..n]) {
//!                 println!("{peer}: {data:?}");
//!             }
//!         }
//!         Err(_) => client.handle_timeout(Instant::now()),
//!     }
//! }
//! # #[allow(unreachable_code)]
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod client;
mod error;
mod framer;

pub use client::{
    CHANNEL_LIFETIME, CHANNEL_REFRESH, Client, ClientConfig, ClientStats, DEFAULT_LIFETIME, Event,
    MAX_STALE_NONCE_RETRIES, PERMISSION_LIFETIME, PERMISSION_REFRESH, PROTOCOL_UDP, TurnTransport,
};
pub use error::{CommandError, RequestError, TurnError};
pub use ferrtc_types::{Transmit, Transport};
pub use framer::StreamFramer;
