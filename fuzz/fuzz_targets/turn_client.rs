//! The TURN client state machine driven by an arbitrary sequence of commands, timer jumps
//! and server messages: well-formed responses to its own requests (signed with the right
//! key, so the state machine goes deep), corrupted copies of them, and raw bytes, over UDP
//! or a stream. It must never panic, and its outputs must stay well-formed.
#![no_main]

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::{Duration, Instant};

use arbitrary::Arbitrary;
use ferrtc_stun_ice::framing::ChannelData;
use ferrtc_stun_ice::stun::{
    Attribute, Class, ErrorCode, IntegrityKey, Message, MessageBuilder, MessageType,
};
use ferrtc_stun_ice::turn::{Client, ClientConfig, TurnTransport};
use libfuzzer_sys::fuzz_target;
use rand_chacha::rand_core::SeedableRng;

#[derive(Arbitrary, Debug)]
enum Op {
    Allocate,
    CreatePermission(u8),
    BindChannel(u8),
    SendTo(u8, Vec<u8>),
    Deallocate,
    AdvanceMillis(u32),
    /// Answer the oldest unanswered request.
    Respond {
        code: Option<u16>,
        lifetime: Option<u32>,
        sign: bool,
        nonce: u8,
        flip: Option<(u16, u8)>,
    },
    /// ChannelData or a Data indication from a peer.
    PeerData {
        channel: u16,
        peer: u8,
        data: Vec<u8>,
    },
    Raw(Vec<u8>),
}

#[derive(Arbitrary, Debug)]
struct Input {
    stream: bool,
    chunk: u8,
    ops: Vec<Op>,
}

const SERVER: SocketAddr = SocketAddr::new(IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1)), 3478);
const REALM: &str = "fuzz";

fn peer(i: u8) -> SocketAddr {
    SocketAddr::new(
        IpAddr::V4(Ipv4Addr::new(198, 51, 100, i % 4)),
        1000 + u16::from(i % 3),
    )
}

fuzz_target!(|input: Input| {
    let transport = if input.stream {
        TurnTransport::Tcp
    } else {
        TurnTransport::Udp
    };
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(0);
    let mut client = Client::new(ClientConfig::new(SERVER, transport, "u", "p"), &mut rng);
    let key = IntegrityKey::long_term("u", REALM, "p");
    let mut now = Instant::now();
    let mut requests: Vec<Vec<u8>> = Vec::new();

    let deliver = |client: &mut Client, now: Instant, bytes: &[u8]| {
        if input.stream {
            // Cut the stream into chunks to exercise the framer.
            let size = usize::from(input.chunk).max(1);
            for piece in bytes.chunks(size) {
                let _ = client.handle_receive(now, SERVER, piece);
            }
        } else {
            // Twice, as when it had two receive verbs: the second sees the state the first left.
            let _ = client.handle_receive(now, SERVER, bytes);
            let _ = client.handle_receive(now, SERVER, bytes);
        }
    };

    for op in input.ops.into_iter().take(64) {
        match op {
            Op::Allocate => {
                let _ = client.allocate(now);
            }
            Op::CreatePermission(p) => {
                let _ = client.create_permission(now, peer(p).ip());
            }
            Op::BindChannel(p) => {
                let _ = client.bind_channel(now, peer(p));
            }
            Op::SendTo(p, data) => {
                let _ = client.send_to(peer(p), &data);
            }
            Op::Deallocate => {
                let _ = client.deallocate(now);
            }
            Op::AdvanceMillis(ms) => {
                now += Duration::from_millis(u64::from(ms % 700_000));
                client.handle_timeout(now);
                // Nothing due is left behind.
                assert!(client.poll_timeout().is_none_or(|t| t > now));
            }
            Op::Respond {
                code,
                lifetime,
                sign,
                nonce,
                flip,
            } => {
                if requests.is_empty() {
                    continue;
                }
                let request = requests.remove(0);
                let Ok(req) = Message::new_checked(&request) else {
                    continue;
                };
                let nonce = format!("n{}", nonce % 3);
                let mut out = Vec::new();
                let class = if code.is_some() {
                    Class::ErrorResponse
                } else {
                    Class::SuccessResponse
                };
                let mut b = MessageBuilder::new(
                    &mut out,
                    MessageType::new(class, req.method()),
                    req.transaction_id(),
                );
                let mut attrs = vec![
                    Attribute::XorRelayedAddress(SocketAddr::new(SERVER.ip(), 50_000)),
                    Attribute::XorMappedAddress(SocketAddr::new(
                        IpAddr::V4(Ipv4Addr::new(203, 0, 113, 1)),
                        4000,
                    )),
                    Attribute::Realm(REALM),
                    Attribute::Nonce(&nonce),
                ];
                if let Some(code) = code {
                    attrs.push(Attribute::ErrorCode(ErrorCode {
                        code: 300 + code % 300,
                        reason: "",
                    }));
                }
                if let Some(l) = lifetime {
                    attrs.push(Attribute::Lifetime(l));
                }
                for a in &attrs {
                    let _ = b.add(a);
                }
                if sign {
                    let _ = b.add_message_integrity(&key);
                }
                let _ = b.add_fingerprint();
                if let Some((at, x)) = flip {
                    let at = usize::from(at) % out.len();
                    out[at] ^= x;
                }
                deliver(&mut client, now, &out);
            }
            Op::PeerData {
                channel,
                peer: p,
                data,
            } => {
                let mut out = Vec::new();
                if channel % 2 == 0 {
                    let _ = ChannelData {
                        channel: 0x4000 + channel % 8,
                        data: &data,
                    }
                    .encode(input.stream, &mut out);
                } else {
                    let mut b = MessageBuilder::new(
                        &mut out,
                        MessageType::new(Class::Indication, ferrtc_stun_ice::stun::Method::DATA),
                        ferrtc_stun_ice::stun::TransactionId([7; 12]),
                    );
                    let _ = b.add(&Attribute::XorPeerAddress(peer(p)));
                    let _ = b.add(&Attribute::Data(&data));
                }
                deliver(&mut client, now, &out);
            }
            Op::Raw(bytes) => deliver(&mut client, now, &bytes),
        }
        while let Some(t) = client.poll_transmit() {
            assert_eq!(t.destination, SERVER);
            // Over UDP every transmit is one whole message; keep requests to answer.
            if !input.stream {
                if let Ok(m) = Message::new_checked(&t.contents) {
                    if m.class() == Class::Request {
                        requests.push(t.contents.to_vec());
                    }
                } else {
                    assert!(ChannelData::new_checked(&t.contents).is_ok());
                }
            } else if t.contents.first().is_some_and(|b| *b < 4) {
                if let Ok(m) = Message::new_checked(&t.contents) {
                    if m.class() == Class::Request {
                        requests.push(t.contents.to_vec());
                    }
                }
            }
            if requests.len() > 16 {
                requests.remove(0);
            }
        }
        while client.poll_event().is_some() {}
    }
});
