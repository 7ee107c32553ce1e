//! Arbitrary datagrams into a connected peer connection: two ferrtc peers negotiate by SDP
//! and finish ICE, DTLS and SCTP in memory (fixed seeds), then the input, cut into
//! datagrams, arrives at one of them from its peer's address or a stranger's, each
//! datagram nudged towards a protocol by its first byte (STUN, DTLS, SRTP, SRTCP). Nothing
//! may panic; afterwards the connection is still connected and a message still goes through.
#![no_main]

use std::net::SocketAddr;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use ferrtc_dtls::Certificate;
use ferrtc_peerconnection::{
    ConnectionState, DataChannelId, DataChannelInit, Description, Event, PeerConfig, PeerConnection,
};
use libfuzzer_sys::fuzz_target;
use rand_chacha::ChaCha20Rng;
use rand_chacha::rand_core::SeedableRng;

const A: &str = "192.0.2.1:5000";
const B: &str = "198.51.100.2:6000";

fn certs() -> &'static (Arc<Certificate>, Arc<Certificate>) {
    static CERTS: OnceLock<(Arc<Certificate>, Arc<Certificate>)> = OnceLock::new();
    CERTS.get_or_init(|| {
        (
            Arc::new(Certificate::generate().expect("ring makes a key")),
            Arc::new(Certificate::generate().expect("ring makes a key")),
        )
    })
}

struct Pair {
    a: PeerConnection,
    b: PeerConnection,
    now: Instant,
    dc: DataChannelId,
    b_got: Vec<Bytes>,
}

impl Pair {
    /// Moves datagrams and runs timers until `cond` or 30 s of virtual time.
    fn run(&mut self, mut cond: impl FnMut(&Pair) -> bool) -> bool {
        let (a_addr, b_addr): (SocketAddr, SocketAddr) = (A.parse().unwrap(), B.parse().unwrap());
        let end = self.now + Duration::from_secs(30);
        while self.now < end {
            let mut moved = false;
            while let Some(t) = self.a.poll_transmit() {
                moved = true;
                let _ = self.b.handle_receive(
                    self.now,
                    b_addr,
                    a_addr,
                    BytesMut::from(&t.contents[..]),
                );
            }
            while let Some(t) = self.b.poll_transmit() {
                moved = true;
                let _ = self.a.handle_receive(
                    self.now,
                    a_addr,
                    b_addr,
                    BytesMut::from(&t.contents[..]),
                );
            }
            while let Some(ev) = self.a.poll_event() {
                if let Event::IceCandidate(Some(c)) = ev {
                    let _ = self.b.add_ice_candidate(self.now, Some(&c));
                }
            }
            while let Some(ev) = self.b.poll_event() {
                match ev {
                    Event::IceCandidate(Some(c)) => {
                        let _ = self.a.add_ice_candidate(self.now, Some(&c));
                    }
                    Event::DataChannelMessage { data, .. } => self.b_got.push(data),
                    _ => {}
                }
            }
            if cond(self) {
                return true;
            }
            if !moved {
                let next = [self.a.poll_timeout(), self.b.poll_timeout()]
                    .into_iter()
                    .flatten()
                    .min();
                match next {
                    Some(t) => self.now = self.now.max(t),
                    None => return false,
                }
                self.a.handle_timeout(self.now);
                self.b.handle_timeout(self.now);
            }
        }
        false
    }
}

fn connected() -> Pair {
    let now = Instant::now();
    let (ca, cb) = certs();
    let pc = |cert: &Arc<Certificate>, seed, addr: &str| {
        let rng = Box::new(ChaCha20Rng::seed_from_u64(seed));
        let mut pc = PeerConnection::new(PeerConfig::new(Arc::clone(cert)), now, rng).unwrap();
        pc.add_local_address(now, addr.parse().unwrap()).unwrap();
        pc.end_of_local_addresses(now);
        pc
    };
    let mut a = pc(ca, 1, A);
    let mut b = pc(cb, 2, B);
    let dc = a
        .create_data_channel(now, DataChannelInit::new("fuzz"))
        .unwrap();
    let offer = a.create_offer().unwrap();
    a.set_local_description(now, &offer).unwrap();
    b.set_remote_description(now, &Description::offer(offer.sdp))
        .unwrap();
    let answer = b.create_answer().unwrap();
    b.set_local_description(now, &answer).unwrap();
    a.set_remote_description(now, &Description::answer(answer.sdp))
        .unwrap();
    let mut p = Pair {
        a,
        b,
        now,
        dc,
        b_got: Vec::new(),
    };
    assert!(p.run(|p| {
        p.a.data_channel(p.dc)
            .is_some_and(|d| d.state == ferrtc_peerconnection::DataChannelState::Open)
    }));
    p
}

fuzz_target!(|data: &[u8]| {
    let mut p = connected();
    let b_addr: SocketAddr = B.parse().unwrap();
    let stranger: SocketAddr = "203.0.113.9:4000".parse().unwrap();
    // Each datagram: a header byte (source, protocol nudge, length) then its bytes.
    let mut rest = data;
    while let Some((&h, tail)) = rest.split_first() {
        let len = usize::from(h & 0x1f) * 8 + 1;
        let (body, next) = tail.split_at(len.min(tail.len()));
        rest = next;
        let mut d = BytesMut::from(body);
        if let Some(first) = d.first_mut() {
            *first = match (h >> 5) & 3 {
                0 => *first & 0x03,          // STUN
                1 => 20 + (*first % 44),     // DTLS
                2 => 0x80 | (*first & 0x3f), // RTP / RTCP
                _ => *first,
            };
        }
        let from = if h & 0x80 != 0 {
            stranger
        } else {
            A.parse().unwrap()
        };
        let _ = p.b.handle_receive(p.now, b_addr, from, d);
    }
    assert_ne!(
        p.b.connection_state(),
        ConnectionState::Failed,
        "bad datagrams never fail the connection"
    );
    // The connection still carries a message.
    let now = p.now;
    p.a.send_data(now, p.dc, Bytes::from_static(b"still"), false)
        .unwrap();
    assert!(p.run(|p| p.b_got.iter().any(|m| &m[..] == b"still")));
});
