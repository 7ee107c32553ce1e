//! Drives one ICE agent with an arbitrary sequence of commands, timer runs and datagrams:
//! raw bytes, and well-formed Binding requests and responses built with the peer's real
//! credentials (so the fuzzer reaches nomination, restart and consent). Checks that nothing
//! panics, that every datagram the agent sends is a Binding message with a valid
//! FINGERPRINT sent from one of its candidate bases, and that timers always move forward.
#![no_main]

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use arbitrary::Arbitrary;
use ferrtc_stun_ice::ice::{
    Agent, Candidate, CandidateKind, Credentials, Foundation, IceConfig, IceRole, TcpType,
    Transmit, Transport, TransportProtocol,
};
use ferrtc_stun_ice::stun::{
    Attribute, Class, ErrorCode, IntegrityKey, Message, MessageBuilder, MessageType, Method,
    TransactionId,
};
use libfuzzer_sys::fuzz_target;
use rand_chacha::rand_core::SeedableRng;

const LOCALS: [&str; 4] = [
    "192.0.2.1:5000",
    "192.0.2.2:5000",
    "[2001:db8::1]:5000",
    "10.0.0.1:9",
];
const REMOTES: [&str; 5] = [
    "198.51.100.1:6000",
    "198.51.100.2:6001",
    "[2001:db8::2]:6000",
    "203.0.113.9:7000",
    "203.0.113.100:3478",
];

#[derive(Arbitrary, Debug)]
enum Op {
    AddHost(u8),
    AddTcpHost(u8, u8),
    AddRelayed(u8),
    EndOfLocal,
    AddRemote {
        addr: u8,
        kind: u8,
        priority: u32,
        component: u8,
        tcp: u8,
    },
    EndOfRemote,
    SetRemoteCreds {
        peer: bool,
    },
    Restart,
    Close,
    Advance(u16),
    RunTimers,
    Raw {
        local: u8,
        from: u8,
        data: Vec<u8>,
    },
    PeerCheck {
        local: u8,
        from: u8,
        use_candidate: bool,
        role: u8,
        tie: u64,
        good_key: bool,
        priority: u32,
    },
    Respond {
        which: u8,
        good_key: bool,
        mapped: u8,
        error: Option<u16>,
        swap_from: bool,
    },
}

fn pick<'a>(table: &[&'a str], i: u8) -> SocketAddr {
    table[i as usize % table.len()].parse().unwrap()
}

struct Harness {
    agent: Agent,
    now: Instant,
    peer: Credentials,
    sent: Vec<Transmit>,
}

impl Harness {
    fn drain(&mut self) {
        while let Some(t) = self.agent.poll_transmit() {
            let msg = Message::new_checked(&t.contents).expect("the agent sends valid STUN");
            assert_eq!(msg.method(), Method::BINDING);
            let source = t.source.expect("the agent names the base it sends from");
            assert!(
                self.agent
                    .local_candidates()
                    .iter()
                    .any(|c| c.base == source),
                "sent from {source} which is no candidate base"
            );
            msg.check_fingerprint().expect("FINGERPRINT is valid");
            if self.sent.len() < 64 {
                self.sent.push(t);
            }
        }
        while self.agent.poll_event().is_some() {}
    }

    fn run_timers(&mut self) {
        // Coming back when poll_timeout says must make progress: a few calls at one instant
        // at most, never an endless wake-up at the same time.
        let mut same = 0;
        while let Some(t) = self.agent.poll_timeout() {
            if t > self.now {
                break;
            }
            same += 1;
            assert!(same < 16, "poll_timeout stuck at {t:?}");
            self.agent.handle_timeout(self.now);
            self.drain();
        }
    }
}

fuzz_target!(|input: (u64, bool, bool, Vec<Op>)| {
    let (seed, controlling, lite, ops) = input;
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    let now = Instant::now();
    let config = IceConfig {
        role: if controlling {
            IceRole::Controlling
        } else {
            IceRole::Controlled
        },
        lite,
        stun_servers: vec![pick(&REMOTES, 4)],
        ..IceConfig::default()
    };
    let peer = Credentials::random(&mut rng);
    let mut h = Harness {
        agent: Agent::new(config, now, &mut rng),
        now,
        peer,
        sent: Vec::new(),
    };
    for op in ops.into_iter().take(256) {
        match op {
            Op::AddHost(i) => {
                let _ = h.agent.add_local_host_address(pick(&LOCALS, i));
            }
            Op::AddTcpHost(i, t) => {
                let tcp = [TcpType::Active, TcpType::Passive, TcpType::So][t as usize % 3];
                let _ = h.agent.add_local_tcp_host_address(pick(&LOCALS, i), tcp);
            }
            Op::AddRelayed(i) => {
                let _ =
                    h.agent
                        .add_local_relayed_candidate(pick(&REMOTES, i), None, pick(&REMOTES, 4));
            }
            Op::EndOfLocal => h.agent.end_of_local_host_addresses(),
            Op::AddRemote {
                addr,
                kind,
                priority,
                component,
                tcp,
            } => {
                let kind = [
                    CandidateKind::Host,
                    CandidateKind::ServerReflexive,
                    CandidateKind::PeerReflexive,
                    CandidateKind::Relayed,
                ][kind as usize % 4];
                let protocol = match tcp % 4 {
                    0 | 1 => TransportProtocol::Udp,
                    2 => TransportProtocol::Tcp(TcpType::Passive),
                    _ => TransportProtocol::Tcp(TcpType::Active),
                };
                let address = pick(&REMOTES, addr);
                let _ = h.agent.add_remote_candidate(Candidate {
                    address,
                    base: address,
                    kind,
                    protocol,
                    component: component as u16 % 3,
                    priority,
                    foundation: Foundation::from_index(addr as u32),
                    related: None,
                });
            }
            Op::EndOfRemote => h.agent.end_of_remote_candidates(),
            Op::SetRemoteCreds { peer } => {
                if !peer {
                    h.peer = Credentials::random(&mut rng);
                }
                let _ = h.agent.set_remote_credentials(h.peer.clone());
            }
            Op::Restart => h.agent.restart(),
            Op::Close => h.agent.close(),
            Op::Advance(ms) => {
                h.now += Duration::from_millis(ms as u64 * 4);
                h.agent.handle_timeout(h.now);
            }
            Op::RunTimers => {
                if let Some(t) = h.agent.poll_timeout() {
                    h.now = h.now.max(t);
                }
                h.run_timers();
            }
            Op::Raw { local, from, data } => {
                let _ = h.agent.handle_receive(
                    h.now,
                    Transport::Udp,
                    pick(&LOCALS, local),
                    pick(&REMOTES, from),
                    &data,
                );
            }
            Op::PeerCheck {
                local,
                from,
                use_candidate,
                role,
                tie,
                good_key,
                priority,
            } => {
                let ours = h.agent.local_credentials().clone();
                let mut buf = Vec::new();
                let mut b = MessageBuilder::new(
                    &mut buf,
                    MessageType::new(Class::Request, Method::BINDING),
                    TransactionId::random(&mut rng),
                );
                let username = format!("{}:{}", ours.ufrag, h.peer.ufrag);
                let _ = b.add(&Attribute::Username(&username));
                let _ = b.add(&Attribute::Priority(priority));
                match role % 3 {
                    0 => {
                        let _ = b.add(&Attribute::IceControlling(tie));
                    }
                    1 => {
                        let _ = b.add(&Attribute::IceControlled(tie));
                    }
                    _ => {}
                }
                if use_candidate {
                    let _ = b.add(&Attribute::UseCandidate);
                }
                let key = if good_key {
                    ours.pwd.clone()
                } else {
                    "wrong-password-wrong-pwd".into()
                };
                let _ = b.add_message_integrity(&IntegrityKey::short_term(&key));
                let _ = b.add_fingerprint();
                b.finish();
                let _ = h.agent.handle_receive(
                    h.now,
                    Transport::Udp,
                    pick(&LOCALS, local),
                    pick(&REMOTES, from),
                    &buf,
                );
            }
            Op::Respond {
                which,
                good_key,
                mapped,
                error,
                swap_from,
            } => {
                if h.sent.is_empty() {
                    continue;
                }
                let t = h.sent[which as usize % h.sent.len()].clone();
                let Some(source) = t.source else {
                    continue;
                };
                let Ok(req) = Message::new_checked(&t.contents) else {
                    continue;
                };
                if req.class() != Class::Request {
                    continue;
                }
                let class = if error.is_some() {
                    Class::ErrorResponse
                } else {
                    Class::SuccessResponse
                };
                let mut buf = Vec::new();
                let mut b = MessageBuilder::new(
                    &mut buf,
                    MessageType::new(class, Method::BINDING),
                    req.transaction_id(),
                );
                match error {
                    Some(code) => {
                        let code = [
                            ErrorCode::ROLE_CONFLICT,
                            ErrorCode::FORBIDDEN,
                            400 + code % 200,
                        ][code as usize % 3];
                        let _ = b.add(&Attribute::ErrorCode(ErrorCode { code, reason: "x" }));
                    }
                    None => {
                        let m = if mapped % 2 == 0 {
                            source
                        } else {
                            pick(&REMOTES, mapped)
                        };
                        let _ = b.add(&Attribute::XorMappedAddress(m));
                    }
                }
                let key = if good_key {
                    h.peer.pwd.clone()
                } else {
                    "another-wrong-password".into()
                };
                let _ = b.add_message_integrity(&IntegrityKey::short_term(&key));
                let _ = b.add_fingerprint();
                b.finish();
                let from = if swap_from {
                    pick(&REMOTES, mapped)
                } else {
                    t.destination
                };
                let _ = h
                    .agent
                    .handle_receive(h.now, t.transport, source, from, &buf);
            }
        }
        h.drain();
        if let Some(t) = h.agent.poll_timeout() {
            if t <= h.now {
                h.run_timers();
            }
        }
    }
});
