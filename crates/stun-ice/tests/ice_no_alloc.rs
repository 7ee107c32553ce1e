//! Answering connectivity checks allocates nothing in steady state: the agent encodes each
//! Binding success response into its own buffer and lends it as `Bytes`; once the driver has
//! dropped the transmit it sent, the room is used again. Counted by a global allocator.

use std::net::SocketAddr;
use std::time::Instant;

use ferrtc_stun_ice::ice::{Agent, Credentials, IceConfig, IceRole, Transport};
use ferrtc_stun_ice::stun::{
    Attribute, Class, IntegrityKey, Message, MessageBuilder, MessageType, Method, TransactionId,
};
use ferrtc_test_alloc::allocations;
use rand::SeedableRng;

// The counting allocator lives in `ferrtc-test-alloc`; counts are per thread.
#[global_allocator]
static GLOBAL: ferrtc_test_alloc::Counting = ferrtc_test_alloc::Counting;

const LOCAL: &str = "192.0.2.1:5000";
const PEER: &str = "198.51.100.7:9000";

fn addr(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

/// A Binding request as the controlling peer sends it to `ours`, with transaction id `n`.
fn check(ours: &Credentials, peer: &Credentials, n: u32) -> Vec<u8> {
    let mut txid = [0u8; 12];
    txid[..4].copy_from_slice(&n.to_be_bytes());
    let username = format!("{}:{}", ours.ufrag, peer.ufrag);
    let mut out = Vec::new();
    MessageBuilder::new(
        &mut out,
        MessageType::new(Class::Request, Method::BINDING),
        TransactionId(txid),
    )
    .add(&Attribute::Username(&username))
    .unwrap()
    .add(&Attribute::Priority(0x6e00_01ff))
    .unwrap()
    .add(&Attribute::IceControlling(7))
    .unwrap()
    .add_message_integrity(&IntegrityKey::short_term(&ours.pwd))
    .unwrap()
    .add_fingerprint()
    .unwrap();
    out
}

#[test]
fn answering_checks_allocates_nothing() {
    let now = Instant::now();
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(1);
    let config = IceConfig {
        role: IceRole::Controlled,
        lite: true,
        ..IceConfig::default()
    };
    let mut agent = Agent::new(config, now, &mut rng);
    agent.add_local_host_address(addr(LOCAL)).unwrap();
    agent.end_of_local_host_addresses();
    let peer = Credentials::new("peerufrag", "peerPasswordOfAtLeast22Chars").unwrap();
    agent.set_remote_credentials(peer.clone()).unwrap();
    let ours = agent.local_credentials().clone();
    let checks: Vec<Vec<u8>> = (0..1001).map(|n| check(&ours, &peer, n)).collect();

    // The first check teaches the agent the peer (a peer-reflexive candidate, a pair) and
    // sets the buffers up.
    let answer = |agent: &mut Agent, request: &[u8]| {
        agent
            .handle_receive(now, Transport::Udp, addr(LOCAL), addr(PEER), request)
            .unwrap();
        let t = agent.poll_transmit().expect("the success response");
        assert_eq!(t.source, Some(addr(LOCAL)));
        assert_eq!(t.destination, addr(PEER));
        let msg = Message::new_checked(&t.contents).unwrap();
        assert_eq!(msg.class(), Class::SuccessResponse);
        assert_eq!(
            msg.transaction_id(),
            Message::new_checked(request).unwrap().transaction_id()
        );
        assert!(agent.poll_transmit().is_none());
        while agent.poll_event().is_some() {}
    };
    answer(&mut agent, &checks[0]);

    let before = allocations();
    for request in &checks[1..] {
        answer(&mut agent, request);
    }
    assert_eq!(allocations() - before, 0, "answering a check allocated");
    assert_eq!(agent.stats().responses_sent, 1001);
}
