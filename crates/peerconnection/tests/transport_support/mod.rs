//! Two bundled transports over `ferrtc-netsim`: virtual time, seeded, with trickled
//! candidates carried by the test as a signalling channel would.

#![allow(dead_code)]

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::BytesMut;
use ferrtc_dtls::Certificate;
use ferrtc_netsim::{Datagram, Endpoint, Handle, LinkConfig, Sim};
use ferrtc_peerconnection::transport::*;
use ferrtc_stun_ice::ice::IceRole;
use ferrtc_stun_ice::stun::{Attribute, Class, Message, MessageBuilder, MessageType, Method};
use ferrtc_types::{DtlsRole, Fingerprint, HashAlgorithm};
use rand::SeedableRng;

/// One side: a transport bound at `addr`, with everything it reported.
pub struct Peer {
    pub t: BundleTransport,
    pub addr: SocketAddr,
    pub events: Vec<(Instant, TransportEvent)>,
    /// Local candidates not yet carried to the other side.
    pub outbox: Vec<ferrtc_sdp::Candidate>,
    pub receive_errors: Vec<ReceiveError>,
}

impl Peer {
    fn drain(&mut self, now: Instant) {
        while let Some(ev) = self.t.poll_event() {
            if let TransportEvent::LocalCandidate(c) = &ev {
                self.outbox.push(c.clone());
            }
            self.events.push((now, ev));
        }
    }

    /// The connection states reported, in order.
    pub fn states(&self) -> Vec<ConnectionState> {
        self.events
            .iter()
            .filter_map(|(_, e)| match e {
                TransportEvent::ConnectionState(s, _) => Some(*s),
                _ => None,
            })
            .collect()
    }

    /// The failure reported with a `Failed` state, if any.
    pub fn failure(&self) -> Option<&TransportError> {
        self.events.iter().find_map(|(_, e)| match e {
            TransportEvent::ConnectionState(ConnectionState::Failed, cause) => cause.as_ref(),
            _ => None,
        })
    }

    /// Messages received, per channel, in order.
    pub fn messages(&self) -> Vec<(u16, Vec<u8>)> {
        self.events
            .iter()
            .filter_map(|(_, e)| match e {
                TransportEvent::Channel(ChannelEvent::Message { id, data, .. }) => {
                    Some((*id, data.to_vec()))
                }
                _ => None,
            })
            .collect()
    }

    /// Channels that opened, with whether the peer opened them.
    pub fn opened(&self) -> Vec<(u16, bool)> {
        self.events
            .iter()
            .filter_map(|(_, e)| match e {
                TransportEvent::Channel(ChannelEvent::Open { id, remote }) => Some((*id, *remote)),
                _ => None,
            })
            .collect()
    }

    /// RTP packets received, unprotected.
    pub fn rtp(&self) -> Vec<Vec<u8>> {
        self.events
            .iter()
            .filter_map(|(_, e)| match e {
                TransportEvent::Rtp(p) => Some(p.to_vec()),
                _ => None,
            })
            .collect()
    }

    pub fn connected(&self) -> bool {
        self.t.connection_state() == ConnectionState::Connected
    }
}

impl Endpoint for Peer {
    fn receive(&mut self, now: Instant, from: SocketAddr, to: SocketAddr, data: &[u8]) {
        if let Err(e) = self.t.handle_receive(now, to, from, BytesMut::from(data)) {
            self.receive_errors.push(e);
        }
        self.drain(now);
    }

    fn timeout(&mut self, now: Instant) {
        self.t.handle_timeout(now);
        self.drain(now);
    }

    fn poll_transmit(&mut self, _now: Instant) -> Option<Datagram> {
        self.t.poll_transmit().map(|t| match t.source {
            Some(src) => Datagram::new(src, t.destination, t.contents.to_vec()),
            None => Datagram::any_source(t.destination, t.contents.to_vec()),
        })
    }

    fn poll_timeout(&self) -> Option<Instant> {
        self.t.poll_timeout()
    }
}

/// Answers STUN Binding requests with the source address it saw (for server-reflexive
/// candidates behind NATs).
#[derive(Default)]
pub struct StunServer {
    out: Vec<Datagram>,
    pub answered: usize,
}

impl Endpoint for StunServer {
    fn receive(&mut self, _now: Instant, from: SocketAddr, to: SocketAddr, data: &[u8]) {
        let Ok(msg) = Message::new_checked(data) else {
            return;
        };
        if msg.class() != Class::Request || msg.method() != Method::BINDING {
            return;
        }
        let mut buf = Vec::new();
        let mut b = MessageBuilder::new(
            &mut buf,
            MessageType::new(Class::SuccessResponse, Method::BINDING),
            msg.transaction_id(),
        );
        b.add(&Attribute::XorMappedAddress(from)).unwrap();
        b.add_fingerprint().unwrap();
        b.finish();
        self.answered += 1;
        self.out.push(Datagram::new(to, from, buf));
    }

    fn poll_transmit(&mut self, _now: Instant) -> Option<Datagram> {
        self.out.pop()
    }
}

/// Which side is which in the descriptions.
#[derive(Debug, Clone, Copy)]
pub struct Roles {
    /// A is the offerer (ICE controlling).
    pub a_offers: bool,
    /// A's DTLS role; B takes the other.
    pub a_dtls: DtlsRole,
}

impl Roles {
    /// The usual WebRTC outcome: the offerer says actpass, the answerer takes active.
    pub const A_OFFERS: Roles = Roles {
        a_offers: true,
        a_dtls: DtlsRole::Server,
    };
    /// B offers; A answers and is the DTLS client.
    pub const B_OFFERS: Roles = Roles {
        a_offers: false,
        a_dtls: DtlsRole::Client,
    };
}

pub struct Pair {
    pub sim: Sim,
    pub a: Handle<Peer>,
    pub b: Handle<Peer>,
    /// Signalling delay for trickled candidates.
    pub signalling_delay: Duration,
    pending: Vec<(Instant, bool, ferrtc_sdp::Candidate)>,
    pub certs: (Arc<Certificate>, Arc<Certificate>),
}

pub fn rng(seed: u64) -> Box<rand_chacha::ChaCha20Rng> {
    Box::new(rand_chacha::ChaCha20Rng::seed_from_u64(seed))
}

pub struct Setup {
    pub seed: u64,
    pub link: LinkConfig,
    pub a_addr: SocketAddr,
    pub b_addr: SocketAddr,
    pub roles: Roles,
    pub stun: Option<SocketAddr>,
    /// Fingerprint B expects of A; `None` is A's real one.
    pub wrong_fingerprint_for_a: Option<Fingerprint>,
}

impl Setup {
    pub fn new(seed: u64) -> Setup {
        Setup {
            seed,
            link: LinkConfig::ideal().latency(Duration::from_millis(10)),
            a_addr: "192.0.2.1:5000".parse().unwrap(),
            b_addr: "198.51.100.2:6000".parse().unwrap(),
            roles: Roles::A_OFFERS,
            stun: None,
            wrong_fingerprint_for_a: None,
        }
    }

    pub fn build(self) -> Pair {
        let mut sim = Sim::new(self.seed);
        sim.set_default_link(self.link.clone());
        let now = sim.now();
        let ca = Arc::new(Certificate::generate().unwrap());
        let cb = Arc::new(Certificate::generate().unwrap());
        let cfg = |cert: &Arc<Certificate>| {
            let mut c = TransportConfig::new(Arc::clone(cert));
            c.ice.stun_servers = self.stun.into_iter().collect();
            c
        };
        let mut ta = BundleTransport::new(cfg(&ca), now, rng(self.seed * 2 + 1));
        let mut tb = BundleTransport::new(cfg(&cb), now, rng(self.seed * 2 + 2));
        let sctp = Some(SctpParameters {
            local_port: 5000,
            remote_port: 5000,
            remote_max_message_size: 262_144,
        });
        let (a_ice, b_ice) = if self.roles.a_offers {
            (IceRole::Controlling, IceRole::Controlled)
        } else {
            (IceRole::Controlled, IceRole::Controlling)
        };
        let pa = TransportParameters {
            ice_role: a_ice,
            dtls_role: self.roles.a_dtls,
            remote_credentials: tb.local_credentials().clone(),
            remote_fingerprints: vec![cb.fingerprint(HashAlgorithm::Sha256)],
            sctp,
        };
        let pb = TransportParameters {
            ice_role: b_ice,
            dtls_role: self.roles.a_dtls.opposite(),
            remote_credentials: ta.local_credentials().clone(),
            remote_fingerprints: vec![
                self.wrong_fingerprint_for_a
                    .unwrap_or_else(|| ca.fingerprint(HashAlgorithm::Sha256)),
            ],
            sctp,
        };
        ta.start(now, pa).unwrap();
        tb.start(now, pb).unwrap();
        ta.add_local_address(now, self.a_addr).unwrap();
        tb.add_local_address(now, self.b_addr).unwrap();
        ta.end_of_local_addresses(now);
        tb.end_of_local_addresses(now);
        let peer = |t, addr| Peer {
            t,
            addr,
            events: Vec::new(),
            outbox: Vec::new(),
            receive_errors: Vec::new(),
        };
        let a = sim.add_endpoint([self.a_addr], peer(ta, self.a_addr));
        let b = sim.add_endpoint([self.b_addr], peer(tb, self.b_addr));
        Pair {
            sim,
            a,
            b,
            signalling_delay: Duration::from_millis(50),
            pending: Vec::new(),
            certs: (ca, cb),
        }
    }
}

impl Pair {
    pub fn a(&self) -> &Peer {
        self.sim.endpoint(self.a)
    }

    pub fn b(&self) -> &Peer {
        self.sim.endpoint(self.b)
    }

    pub fn a_mut(&mut self) -> &mut Peer {
        self.sim.endpoint_mut(self.a)
    }

    pub fn b_mut(&mut self) -> &mut Peer {
        self.sim.endpoint_mut(self.b)
    }

    /// Carries trickled candidates, after the signalling delay.
    fn signal(&mut self) {
        let now = self.sim.now();
        let delay = self.signalling_delay;
        for c in std::mem::take(&mut self.sim.endpoint_mut(self.a).outbox) {
            self.pending.push((now + delay, true, c));
        }
        for c in std::mem::take(&mut self.sim.endpoint_mut(self.b).outbox) {
            self.pending.push((now + delay, false, c));
        }
        let (due, later): (Vec<_>, Vec<_>) =
            self.pending.drain(..).partition(|(at, _, _)| *at <= now);
        self.pending = later;
        for (_, to_b, c) in due {
            let peer = if to_b { self.b } else { self.a };
            let p = self.sim.endpoint_mut(peer);
            // A candidate the agent refuses (e.g. a duplicate) is ignored, as a browser does.
            let _ = p.t.add_remote_candidate(now, &c);
            p.drain(now);
        }
    }

    /// Steps the simulation until `cond` holds, or panics after `limit` of virtual time.
    pub fn run_until(&mut self, limit: Duration, mut cond: impl FnMut(&Pair) -> bool) {
        let deadline = self.sim.now() + limit;
        loop {
            self.signal();
            if cond(self) {
                return;
            }
            let now = self.sim.now();
            if now >= deadline {
                panic!(
                    "condition not reached within {limit:?} (at {:?}); a: {:?}, b: {:?}",
                    self.sim.elapsed(),
                    self.a().t,
                    self.b().t
                );
            }
            let next_signal = self.pending.iter().map(|(at, _, _)| *at).min();
            match self.sim.next_event() {
                Some(t) if t <= deadline && next_signal.is_none_or(|s| t <= s) => {
                    self.sim.step();
                }
                // Nothing due before the next signal or the deadline: jump there.
                _ => self
                    .sim
                    .run_until(next_signal.map_or(deadline, |s| s.min(deadline)).max(now)),
            }
        }
    }

    /// Runs for `d` of virtual time.
    pub fn run_for(&mut self, d: Duration) {
        let end = self.sim.now() + d;
        self.run_until(d, |p| p.sim.now() >= end);
    }

    pub fn both_connected(&self) -> bool {
        self.a().connected() && self.b().connected()
    }
}

/// A plain RTP packet: version 2, payload type 96, the given sequence number and SSRC, and a
/// payload that encodes the sequence number.
pub fn rtp_packet(seq: u16, ssrc: u32, payload_len: usize) -> Vec<u8> {
    let mut p = vec![0x80, 96];
    p.extend_from_slice(&seq.to_be_bytes());
    p.extend_from_slice(&(u32::from(seq) * 3000).to_be_bytes());
    p.extend_from_slice(&ssrc.to_be_bytes());
    p.extend((0..payload_len).map(|i| (i as u16 ^ seq) as u8));
    p
}
