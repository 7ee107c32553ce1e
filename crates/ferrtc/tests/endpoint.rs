//! The shared `UdpEndpoint` mode (issue 11): one UDP socket, one port, serving many peer
//! connections, over real loopback UDP on 127.0.0.1.
//!
//! - twenty connections on one endpoint, each with a peer of its own (default mode): data
//!   channels echo in order on all, every host candidate is the endpoint's one port;
//! - four endpoints in a mesh, a connection between each two (both sides shared);
//! - churn: connections made and dropped, their routes removed, and the socket closed once
//!   the endpoint and its connections are all dropped;
//! - hostile datagrams at the endpoint's port do not disturb its connections.
//!
//! Every wait is on an event or a count, bounded by a generous deadline; nothing sleeps.

#![cfg(target_os = "linux")]

mod common;

use std::net::SocketAddr;
use std::sync::Arc;

use common::*;
use ferrtc::layers::dtls::Certificate;
use ferrtc::layers::stun_ice::stun::{
    Attribute, Class, IntegrityKey, MessageBuilder, MessageType, Method, TransactionId,
};
use ferrtc::{
    Configuration, ConnectionState, DataChannel, DataChannelInit, EndpointStats, PeerConnection,
    UdpEndpoint,
};
use rand::{Rng, RngCore, SeedableRng};

/// Messages each connection echoes.
const MESSAGES: usize = 40;

async fn endpoint() -> UdpEndpoint {
    UdpEndpoint::bind("127.0.0.1:0".parse().unwrap())
        .await
        .unwrap()
}

fn on(endpoint: &UdpEndpoint, cert: &Arc<Certificate>) -> Configuration {
    Configuration {
        endpoint: Some(endpoint.clone()),
        ..loopback().with_certificate(Arc::clone(cert))
    }
}

/// The ports of a description's candidates.
fn candidate_ports(sdp: &str) -> Vec<u16> {
    sdp.lines()
        .filter_map(|l| l.strip_prefix("a=candidate:"))
        .map(|l| {
            let port = l.split_whitespace().nth(5).expect("candidate port");
            port.parse().expect("numeric port")
        })
        .collect()
}

/// Echoes every message of `dc` back until it closes.
fn echo(dc: DataChannel) {
    tokio::spawn(async move {
        while let Some(m) = dc.recv().await {
            if dc.send(m).await.is_err() {
                break;
            }
        }
    });
}

/// Sends `n` numbered messages on `dc` and checks they come back in order.
async fn round_trip(dc: &DataChannel, tag: &str, n: usize) {
    for i in 0..n {
        dc.send(format!("{tag}-{i}")).await.unwrap();
    }
    for i in 0..n {
        let m = within("an echoed message", dc.recv())
            .await
            .expect("channel open");
        assert_eq!(m.as_text(), Some(format!("{tag}-{i}").as_str()));
    }
}

/// `offerer` opens a channel to `answerer`, which echoes it; returns the offerer's side,
/// open.
async fn connect_echo(offerer: &PeerConnection, answerer: &PeerConnection) -> DataChannel {
    let dc = offerer
        .create_data_channel("echo", DataChannelInit::default())
        .await
        .unwrap();
    negotiate(offerer, answerer).await;
    echo(remote_channel(answerer).await);
    within("channel open", dc.opened()).await.unwrap();
    dc
}

/// Polls the endpoint's stats until `ok` holds.
async fn stats_until(
    endpoint: &UdpEndpoint,
    what: &str,
    ok: impl Fn(&EndpointStats) -> bool,
) -> EndpointStats {
    within(what, async {
        loop {
            let s = endpoint.stats().await.unwrap();
            if ok(&s) {
                return s;
            }
            tokio::task::yield_now().await;
        }
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_endpoint_serves_twenty_connections() {
    const N: usize = 20;
    let ep = endpoint().await;
    let port = ep.local_addr().port();
    let certs = Arc::new((
        Arc::new(Certificate::generate().unwrap()),
        Arc::new(Certificate::generate().unwrap()),
    ));
    let mut set = tokio::task::JoinSet::new();
    for i in 0..N {
        let (ep, certs) = (ep.clone(), Arc::clone(&certs));
        set.spawn(async move {
            // The peer offers (as a browser calling a server would); the server answers
            // on the shared port.
            let client = PeerConnection::new(loopback().with_certificate(certs.0.clone()))
                .await
                .unwrap();
            let server = PeerConnection::new(on(&ep, &certs.1)).await.unwrap();
            assert_eq!(server.local_addresses(), [ep.local_addr()]);
            let dc = connect_echo(&client, &server).await;
            let answer = server.local_description().unwrap().sdp;
            let ports = candidate_ports(&answer);
            assert!(
                !ports.is_empty() && ports.iter().all(|p| *p == port),
                "{ports:?}"
            );
            assert_ne!(client.local_addresses()[0].port(), port);
            round_trip(&dc, &format!("c{i}"), MESSAGES).await;
            (client, server, dc)
        });
    }
    let mut kept = Vec::new();
    while let Some(r) = set.join_next().await {
        kept.push(r.unwrap());
    }
    // Every connection is still up and echoes again, all at once.
    let mut set = tokio::task::JoinSet::new();
    for (i, (client, server, dc)) in kept.into_iter().enumerate() {
        set.spawn(async move {
            round_trip(&dc, &format!("again{i}"), MESSAGES).await;
            assert_eq!(server.connection_state(), ConnectionState::Connected);
            (client, server, dc)
        });
    }
    let mut kept = Vec::new();
    while let Some(r) = set.join_next().await {
        kept.push(r.unwrap());
    }
    let s = ep.stats().await.unwrap();
    eprintln!("one endpoint, {N} connections: {s:?}");
    assert_eq!(s.connections, N);
    assert_eq!(s.ufrags, N);
    assert!(s.addresses >= N, "each peer's address learned: {s:?}");
    assert!(s.routed_by_ufrag >= N as u64 && s.routed_by_address > 0);
    assert_eq!(s.dropped(), 0, "nothing dropped on a clean run: {s:?}");
    drop(kept);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn endpoints_in_a_mesh_connect_pairwise() {
    // Two connections of one endpoint to the same remote address cannot be told apart
    // (DTLS carries no connection id), so each two endpoints share one connection: four
    // endpoints, three connections each, six pairs, both sides shared.
    const K: usize = 4;
    let cert = Arc::new(Certificate::generate().unwrap());
    let mut eps = Vec::new();
    for _ in 0..K {
        eps.push(endpoint().await);
    }
    let mut set = tokio::task::JoinSet::new();
    for i in 0..K {
        for j in i + 1..K {
            let (a, b, cert) = (eps[i].clone(), eps[j].clone(), Arc::clone(&cert));
            set.spawn(async move {
                let pa = PeerConnection::new(on(&a, &cert)).await.unwrap();
                let pb = PeerConnection::new(on(&b, &cert)).await.unwrap();
                let dc = connect_echo(&pa, &pb).await;
                let ports = candidate_ports(&pa.remote_description().unwrap().sdp);
                assert!(ports.iter().all(|p| *p == b.local_addr().port()));
                round_trip(&dc, &format!("{i}-{j}"), MESSAGES).await;
                (pa, pb, dc)
            });
        }
    }
    let mut kept = Vec::new();
    while let Some(r) = set.join_next().await {
        kept.push(r.unwrap());
    }
    assert_eq!(kept.len(), K * (K - 1) / 2);
    for ep in &eps {
        let s = ep.stats().await.unwrap();
        assert_eq!(s.connections, K - 1, "{s:?}");
        assert_eq!(
            s.addresses,
            K - 1,
            "one remote address per other endpoint: {s:?}"
        );
        assert_eq!(s.dropped(), 0, "{s:?}");
    }
}

/// Waits until at most `tasks` tasks are alive on this runtime.
async fn tasks_settle(tasks: usize) {
    let metrics = tokio::runtime::Handle::current().metrics();
    within("every task to end", async {
        while metrics.num_alive_tasks() > tasks {
            tokio::task::yield_now().await;
        }
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn churn_removes_routes_and_the_last_drop_closes_the_socket() {
    let metrics = tokio::runtime::Handle::current().metrics();
    let idle_tasks = metrics.num_alive_tasks();
    let certs = (
        Arc::new(Certificate::generate().unwrap()),
        Arc::new(Certificate::generate().unwrap()),
    );
    let ep = endpoint().await;
    let addr = ep.local_addr();
    let mut survivors = Vec::new();
    for round in 0..4 {
        let mut batch = Vec::new();
        for i in 0..6 {
            let client = PeerConnection::new(loopback().with_certificate(certs.0.clone()))
                .await
                .unwrap();
            let server = PeerConnection::new(on(&ep, &certs.1)).await.unwrap();
            let dc = connect_echo(&client, &server).await;
            round_trip(&dc, &format!("r{round}-{i}"), 5).await;
            batch.push((client, server, dc));
        }
        let s = ep.stats().await.unwrap();
        assert_eq!(s.connections, survivors.len() + 6, "{s:?}");
        // One of each round survives; the others go, closed or just dropped.
        survivors.push(batch.pop().unwrap());
        for (k, (client, server, dc)) in batch.into_iter().enumerate() {
            if k % 2 == 0 {
                server.close().await;
            }
            drop((client, server, dc));
        }
        let want = survivors.len();
        stats_until(&ep, "dropped connections' routes removed", |s| {
            s.connections == want && s.ufrags == want && s.addresses == want
        })
        .await;
    }
    // The survivors still work.
    for (i, (_, _, dc)) in survivors.iter().enumerate() {
        round_trip(dc, &format!("survivor{i}"), 5).await;
    }
    // A handle left alone keeps the socket; its connections and every handle gone, it
    // closes: the port can be bound again, and nothing is left open.
    drop(survivors);
    stats_until(&ep, "every route removed", |s| {
        s.connections == 0 && s.ufrags == 0 && s.addresses == 0 && s.transactions == 0
    })
    .await;
    assert!(std::net::UdpSocket::bind(addr).is_err(), "still bound");
    drop(ep);
    tasks_settle(idle_tasks).await;
    std::net::UdpSocket::bind(addr).expect("the endpoint's port is free again");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_connection_dropped_before_connecting_leaves_no_route() {
    let ep = endpoint().await;
    let cert = Arc::new(Certificate::generate().unwrap());
    let pc = PeerConnection::new(on(&ep, &cert)).await.unwrap();
    stats_until(&ep, "attached", |s| s.connections == 1 && s.ufrags == 1).await;
    drop(pc);
    stats_until(&ep, "detached", |s| s.connections == 0 && s.ufrags == 0).await;
}

#[tokio::test]
async fn turn_on_a_shared_endpoint_is_refused() {
    let ep = endpoint().await;
    let mut server = ferrtc::IceServer::new("turn:127.0.0.1:3478");
    server.username = Some("u".into());
    server.credential = Some("p".into());
    let config = Configuration {
        ice_servers: vec![server],
        ..Configuration::new().with_endpoint(ep)
    };
    let err = PeerConnection::new(config).await.unwrap_err();
    assert!(
        matches!(
            err,
            ferrtc::Error::Configuration(ferrtc::ConfigurationError::TurnOnSharedEndpoint)
        ),
        "{err:?}"
    );
}

/// The `a=ice-ufrag` of a description.
fn ufrag(sdp: &str) -> String {
    sdp.lines()
        .find_map(|l| l.strip_prefix("a=ice-ufrag:"))
        .expect("ice-ufrag")
        .trim()
        .to_owned()
}

/// A Binding request from `user` with a key that is not the password.
fn bad_request(user: &str, rng: &mut impl RngCore) -> Vec<u8> {
    let mut out = Vec::new();
    let mut txid = [0u8; 12];
    rng.fill_bytes(&mut txid);
    let mut b = MessageBuilder::new(
        &mut out,
        MessageType::new(Class::Request, Method::BINDING),
        TransactionId(txid),
    );
    b.add(&Attribute::Username(user))
        .unwrap()
        .add_message_integrity(&IntegrityKey::short_term("not-the-password-at-all"))
        .unwrap()
        .add_fingerprint()
        .unwrap();
    b.finish().to_vec()
}

/// A hostile datagram of kind `k`: garbage, STUN for a victim's ufrag with a wrong key,
/// STUN for an unknown ufrag, truncated STUN, DTLS-looking, SRTP-looking.
fn hostile(k: usize, victim: &str, rng: &mut impl RngCore) -> Vec<u8> {
    let random = |len: usize, first: u8, rng: &mut dyn RngCore| {
        let mut v = vec![0u8; len];
        rng.fill_bytes(&mut v);
        v[0] = first;
        v
    };
    match k % 6 {
        0 => random(1 + (k * 7919) % 1400, (k % 256) as u8, rng),
        1 => bad_request(&format!("{victim}:attacker"), rng),
        2 => bad_request("nobody:attacker", rng),
        3 => {
            let mut s = bad_request(&format!("{victim}:attacker"), rng);
            s.truncate(24);
            s
        }
        4 => {
            let mut v = random(200, 22, rng);
            v[1] = 0xfe;
            v[2] = 0xfd;
            v
        }
        _ => random(172, 0x80, rng),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_datagrams_do_not_disturb_the_endpoints_connections() {
    const CONNS: usize = 3;
    const ROUNDS: usize = 10;
    const FLOOD: usize = 600;
    let ep = endpoint().await;
    let cert = Arc::new(Certificate::generate().unwrap());
    let mut conns = Vec::new();
    for _ in 0..CONNS {
        let client = PeerConnection::new(loopback().with_certificate(cert.clone()))
            .await
            .unwrap();
        let server = PeerConnection::new(on(&ep, &cert)).await.unwrap();
        let dc = connect_echo(&client, &server).await;
        conns.push((client, server, dc));
    }
    let before = ep.stats().await.unwrap();
    let victim = ufrag(&conns[0].1.local_description().unwrap().sdp);
    let attacker = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let target: SocketAddr = ep.local_addr();
    let mut rng = rand_chacha::ChaCha20Rng::seed_from_u64(11);
    let mut sent = 0u64;
    for round in 0..ROUNDS {
        for k in 0..FLOOD {
            let d = hostile(
                round * FLOOD + k + rng.random_range(0..6),
                &victim,
                &mut rng,
            );
            attacker.send_to(&d, target).await.unwrap();
            sent += 1;
        }
        for (i, (_, _, dc)) in conns.iter().enumerate() {
            round_trip(dc, &format!("h{round}-{i}"), 10).await;
        }
    }
    let after = stats_until(&ep, "the flood counted", |s| {
        // Loopback may drop some of a burst at the socket's buffer: most are enough.
        s.dropped() - before.dropped() >= sent / 2
    })
    .await;
    eprintln!("hostile: {sent} sent; endpoint {after:?}");
    for (_, server, _) in &conns {
        assert_eq!(server.connection_state(), ConnectionState::Connected);
    }
    // Nothing the attacker sent was learned or remembered.
    assert_eq!(after.addresses, before.addresses, "{after:?}");
    assert_eq!(after.connections, CONNS);
    assert!(
        after.unauthenticated > 0 && after.unknown_ufrag > 0,
        "{after:?}"
    );
    assert!(
        after.unknown_address > 0 && after.malformed_stun > 0,
        "{after:?}"
    );
}
