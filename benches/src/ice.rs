//! ICE: the agent's per-check work and a whole connection set-up, ferrtc-stun-ice's agent
//! beside str0m's (`is` 0.12), both sans-IO and driven in memory.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use ferrtc_stun_ice::ice::{
    Agent, ConnectionState, Credentials, IceConfig, IceEvent, IceRole, Transport,
};
use ferrtc_stun_ice::stun::{
    Attribute, Class, IntegrityKey, MessageBuilder, MessageType, Method, TransactionId,
};
use is::stun::{StunMessage, StunPacket};
use is::{IceAgent, IceAgentEvent, IceCreds, Protocol};
use rand::SeedableRng;

use crate::{Case, Config, Row, Unit, compare};

/// The server's address in the workloads.
pub const SERVER: &str = "192.0.2.1:5000";
/// The client's address in the workloads.
pub const CLIENT: &str = "198.51.100.2:6000";
/// The server's ufrag and password.
pub const SERVER_CREDS: (&str, &str) = ("srvufrag", "serverpasswordserverpassword");
/// The client's ufrag and password.
pub const CLIENT_CREDS: (&str, &str) = ("cliufrag", "clientpasswordclientpassword");

fn addr(s: &str) -> SocketAddr {
    s.parse().expect("constant address")
}

/// `n` distinct connectivity checks from the client to the server, as a browser sends them:
/// USERNAME, PRIORITY, ICE-CONTROLLING, USE-CANDIDATE, MESSAGE-INTEGRITY, FINGERPRINT.
pub fn checks(n: usize) -> Vec<Vec<u8>> {
    let key = IntegrityKey::short_term(SERVER_CREDS.1);
    let username = format!("{}:{}", SERVER_CREDS.0, CLIENT_CREDS.0);
    (0..n)
        .map(|i| {
            let mut txid = [0x5a; 12];
            txid[..8].copy_from_slice(&(i as u64).to_be_bytes());
            let mut out = Vec::new();
            let mut b = MessageBuilder::new(
                &mut out,
                MessageType::new(Class::Request, Method::BINDING),
                TransactionId(txid),
            );
            b.add(&Attribute::Username(&username))
                .and_then(|b| b.add(&Attribute::Priority(0x6e7f_1eff)))
                .and_then(|b| b.add(&Attribute::IceControlling(0x0102_0304_0506_0708)))
                .and_then(|b| b.add(&Attribute::UseCandidate))
                .and_then(|b| b.add_message_integrity(&key))
                .and_then(|b| b.add_fingerprint())
                .expect("a well-formed check");
            b.finish();
            out
        })
        .collect()
}

/// A ferrtc ICE-lite server agent that knows the client.
pub fn ferrtc_lite_server(now: Instant) -> Agent {
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(1);
    let config = IceConfig {
        lite: true,
        credentials: Some(
            Credentials::new(SERVER_CREDS.0, SERVER_CREDS.1).expect("valid credentials"),
        ),
        ..IceConfig::default()
    };
    let mut agent = Agent::new(config, now, &mut rng);
    agent
        .add_local_host_address(addr(SERVER))
        .expect("host address");
    agent
        .set_remote_credentials(
            Credentials::new(CLIENT_CREDS.0, CLIENT_CREDS.1).expect("valid credentials"),
        )
        .expect("credentials");
    agent
}

/// ferrtc: one check in, the response out; returns the response length.
pub fn answer_ferrtc(agent: &mut Agent, now: Instant, check: &[u8]) -> usize {
    let _ = agent.handle_receive(now, Transport::Udp, addr(SERVER), addr(CLIENT), check);
    let mut len = 0;
    while let Some(t) = agent.poll_transmit() {
        len += t.contents.len();
    }
    while agent.poll_event().is_some() {}
    len
}

/// A str0m ICE-lite server agent that knows the client.
pub fn str0m_lite_server(now: Instant) -> IceAgent {
    let mut agent = IceAgent::new(IceCreds {
        ufrag: SERVER_CREDS.0.into(),
        pass: SERVER_CREDS.1.into(),
    });
    agent.set_ice_lite(true);
    agent.set_controlling(false);
    agent.add_local_candidate(is::Candidate::host(addr(SERVER), "udp").expect("host"));
    agent.set_remote_credentials(IceCreds {
        ufrag: CLIENT_CREDS.0.into(),
        pass: CLIENT_CREDS.1.into(),
    });
    agent.handle_timeout(now);
    agent
}

/// str0m: one check in, the response out; returns the response length.
pub fn answer_str0m(agent: &mut IceAgent, now: Instant, check: &[u8]) -> usize {
    if let Ok(message) = StunMessage::parse(check) {
        agent.handle_packet(
            now,
            StunPacket {
                proto: Protocol::Udp,
                source: addr(CLIENT),
                destination: addr(SERVER),
                message,
            },
        );
    }
    let mut len = 0;
    while let Some(t) = agent.poll_transmit() {
        len += t.contents.len();
    }
    while agent.poll_event().is_some() {}
    len
}

/// ferrtc: two full agents from signalled candidates to a nominated pair, datagrams
/// delivered at once; returns the virtual time it took, `None` if it did not complete.
pub fn connect_ferrtc(seed: u64) -> Option<Duration> {
    let start = Instant::now();
    let mut now = start;
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    let config = |role| IceConfig {
        role,
        ..IceConfig::default()
    };
    let mut a = Agent::new(config(IceRole::Controlling), now, &mut rng);
    let mut b = Agent::new(config(IceRole::Controlled), now, &mut rng);
    let _ = a.add_local_host_address(addr(SERVER));
    let _ = b.add_local_host_address(addr(CLIENT));
    let _ = a.set_remote_credentials(b.local_credentials().clone());
    let _ = b.set_remote_credentials(a.local_credentials().clone());
    fn signal(from: &mut Agent, to: &mut Agent) {
        while let Some(e) = from.poll_event() {
            if let IceEvent::LocalCandidate(c) = e {
                let _ = to.add_remote_candidate(c);
            }
        }
    }
    signal(&mut a, &mut b);
    signal(&mut b, &mut a);
    fn deliver(now: Instant, from: &mut Agent, to: &mut Agent) {
        while let Some(t) = from.poll_transmit() {
            if let Some(source) = t.source {
                let _ = to.handle_receive(now, t.transport, t.destination, source, &t.contents);
            }
        }
        while from.poll_event().is_some() {}
    }
    for _ in 0..10_000 {
        if a.connection_state() == ConnectionState::Completed
            && b.connection_state() == ConnectionState::Completed
        {
            return Some(now - start);
        }
        deliver(now, &mut a, &mut b);
        deliver(now, &mut b, &mut a);
        let Some(next) = [a.poll_timeout(), b.poll_timeout()]
            .into_iter()
            .flatten()
            .min()
        else {
            break;
        };
        now = next.max(now);
        a.handle_timeout(now);
        b.handle_timeout(now);
    }
    None
}

/// str0m: the same connection set-up with two `is` agents; returns the virtual time, `None`
/// if both did not get a nominated pair.
pub fn connect_str0m() -> Option<Duration> {
    let start = Instant::now();
    let mut now = start;
    let creds = |(u, p): (&str, &str)| IceCreds {
        ufrag: u.into(),
        pass: p.into(),
    };
    let mut a = IceAgent::new(creds(SERVER_CREDS));
    let mut b = IceAgent::new(creds(CLIENT_CREDS));
    a.set_controlling(true);
    b.set_controlling(false);
    a.add_local_candidate(is::Candidate::host(addr(SERVER), "udp").expect("host"));
    b.add_local_candidate(is::Candidate::host(addr(CLIENT), "udp").expect("host"));
    a.set_remote_credentials(creds(CLIENT_CREDS));
    b.set_remote_credentials(creds(SERVER_CREDS));
    a.add_remote_candidate(is::Candidate::host(addr(CLIENT), "udp").expect("host"));
    b.add_remote_candidate(is::Candidate::host(addr(SERVER), "udp").expect("host"));
    a.handle_timeout(now);
    b.handle_timeout(now);
    let mut done = (false, false);
    fn deliver(now: Instant, from: &mut IceAgent, to: &mut IceAgent) {
        while let Some(t) = from.poll_transmit() {
            if let Ok(message) = StunMessage::parse(&t.contents) {
                to.handle_packet(
                    now,
                    StunPacket {
                        proto: Protocol::Udp,
                        source: t.source,
                        destination: t.destination,
                        message,
                    },
                );
            }
        }
    }
    fn nominated(agent: &mut IceAgent) -> bool {
        let mut seen = false;
        while let Some(e) = agent.poll_event() {
            seen |= matches!(e, IceAgentEvent::NominatedSend { .. });
        }
        seen
    }
    for _ in 0..10_000 {
        deliver(now, &mut a, &mut b);
        deliver(now, &mut b, &mut a);
        done.0 |= nominated(&mut a);
        done.1 |= nominated(&mut b);
        if done == (true, true) {
            return Some(now - start);
        }
        let Some(next) = [a.poll_timeout(), b.poll_timeout()]
            .into_iter()
            .flatten()
            .min()
        else {
            break;
        };
        now = next.max(now);
        a.handle_timeout(now);
        b.handle_timeout(now);
    }
    None
}

/// The group's rows.
pub fn rows(cfg: &Config) -> Vec<Row> {
    let now = Instant::now();
    let requests = checks(1024);
    let mut rows = Vec::new();

    let mut ours = ferrtc_lite_server(now);
    let mut theirs = str0m_lite_server(now);
    let (mut i, mut j) = (0usize, 0usize);
    rows.extend(compare(
        cfg,
        "ICE-lite: answer a connectivity check (verify, respond)",
        Unit::Ops,
        Case::new("ferrtc", || {
            i = (i + 1) % requests.len();
            std::hint::black_box(answer_ferrtc(&mut ours, now, &requests[i]));
        }),
        vec![Case::new("is 0.12 (str0m)", || {
            j = (j + 1) % requests.len();
            std::hint::black_box(answer_str0m(&mut theirs, now, &requests[j]));
        })],
    ));

    let mut seed = 0u64;
    rows.extend(compare(
        cfg,
        "full ICE: two agents to a nominated pair (in memory)",
        Unit::Ops,
        Case::new("ferrtc", || {
            seed = seed.wrapping_add(1);
            std::hint::black_box(connect_ferrtc(seed));
        }),
        vec![Case::new("is 0.12 (str0m)", || {
            std::hint::black_box(connect_str0m());
        })],
    ));
    rows
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_agents_answer_every_check() {
        let now = Instant::now();
        let requests = checks(4);
        let mut ours = ferrtc_lite_server(now);
        let mut theirs = str0m_lite_server(now);
        for r in &requests {
            assert!(answer_ferrtc(&mut ours, now, r) > 0);
            assert!(answer_str0m(&mut theirs, now, r) > 0);
        }
        assert_eq!(ours.stats().responses_sent, 4);
    }

    #[test]
    fn both_set_ups_complete() {
        assert!(connect_ferrtc(1).is_some_and(|d| d < Duration::from_secs(5)));
        assert!(connect_str0m().is_some_and(|d| d < Duration::from_secs(5)));
    }
}
