//! ICE-TCP (RFC 6544) in the facade: two ferrtc peers with TCP host candidates only talk
//! over 127.0.0.1 (one's active candidate connects to the other's passive one, RFC 4571
//! framing both ways), hostile connections to a passive candidate are closed without
//! stopping the call, and dropping the peers closes the listeners and ends every task.

mod common;

use std::net::SocketAddr;

use common::*;
use ferrtc::{
    Configuration, DataChannel, DataChannelInit, IceTcpPolicy, PeerConnection, StatsReport,
    StatsType,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

fn tcp_only() -> Configuration {
    Configuration {
        ice_tcp: IceTcpPolicy::Only,
        ..loopback()
    }
}

/// The `a=candidate` lines of a description, split into words (after `candidate:`).
fn candidates(sdp: &str) -> Vec<Vec<String>> {
    sdp.lines()
        .filter_map(|l| l.strip_prefix("a=candidate:"))
        .map(|l| l.split(' ').map(str::to_owned).collect())
        .collect()
}

/// The address of the passive TCP candidate of a description.
fn passive_address(sdp: &str) -> SocketAddr {
    candidates(sdp)
        .into_iter()
        .find(|c| c.iter().any(|w| w == "passive"))
        .map(|c| SocketAddr::new(c[4].parse().unwrap(), c[5].parse().unwrap()))
        .expect("a passive candidate")
}

/// `protocol` of the local and remote candidates of the selected pair.
fn selected_protocols(report: &StatsReport) -> (String, String) {
    let pair = report
        .of(StatsType::CandidatePair)
        .next()
        .expect("a selected pair");
    let protocol = |member: &str| {
        let id = pair.get_str(member).unwrap();
        report
            .get(id)
            .and_then(|c| c.get_str("protocol"))
            .unwrap()
            .to_owned()
    };
    (protocol("localCandidateId"), protocol("remoteCandidateId"))
}

/// Waits until the peer closes `s` (a read ends, or fails with a reset).
async fn closed_by_peer(s: &mut TcpStream) {
    let mut buf = [0u8; 64];
    loop {
        match s.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(_) => {}
        }
    }
}

/// Two peer connections built from `config`, `a` holding a new channel `label`.
async fn pair_with_channel(
    config: Configuration,
    label: &str,
) -> (PeerConnection, PeerConnection, DataChannel) {
    let a = PeerConnection::new(config.clone()).await.unwrap();
    let b = PeerConnection::new(config).await.unwrap();
    let channel = a
        .create_data_channel(label, DataChannelInit::default())
        .await
        .unwrap();
    (a, b, channel)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tcp_only_peers_talk_over_tcp() {
    let (a, b, da) = pair_with_channel(tcp_only(), "tcp").await;
    negotiate(&a, &b).await;
    for pc in [&a, &b] {
        let sdp = pc.local_description().unwrap().sdp;
        let cands = candidates(&sdp);
        // One passive (a listener's port) and one active (port 9, RFC 6544 §4.5), no UDP.
        assert_eq!(cands.len(), 2, "{sdp}");
        assert!(cands.iter().all(|c| c[2] == "tcp"), "{sdp}");
        let active = cands.iter().find(|c| c.ends_with(&["active".into()]));
        assert_eq!(active.expect("an active candidate")[5], "9", "{sdp}");
        assert!(cands.iter().any(|c| c.ends_with(&["passive".into()])));
    }
    let db = remote_channel(&b).await;
    within("channel open", da.opened()).await.unwrap();
    within("channel open", db.opened()).await.unwrap();
    let started = std::time::Instant::now();
    for i in 0..500 {
        da.send(format!("a{i}")).await.unwrap();
        db.send(format!("b{i}")).await.unwrap();
    }
    for i in 0..500 {
        let m = within("message to b", db.recv()).await.unwrap();
        assert_eq!(m.as_text(), Some(format!("a{i}").as_str()));
        let m = within("message to a", da.recv()).await.unwrap();
        assert_eq!(m.as_text(), Some(format!("b{i}").as_str()));
    }
    eprintln!(
        "500 messages each way over ICE-TCP in {:.1} ms",
        started.elapsed().as_secs_f64() * 1e3
    );
    for pc in [&a, &b] {
        let report = pc.stats().await.unwrap();
        assert_eq!(
            selected_protocols(&report),
            ("tcp".into(), "tcp".into()),
            "{report:?}"
        );
    }
}

/// With UDP and TCP both gathered, the TCP candidates rank below the UDP one (RFC 6544
/// §4.2), and two such peers settle on UDP.
#[tokio::test]
async fn tcp_candidates_rank_below_udp() {
    let config = || Configuration {
        ice_tcp: IceTcpPolicy::Also,
        ..loopback()
    };
    let (a, b, da) = pair_with_channel(config(), "both").await;
    negotiate(&a, &b).await;
    let sdp = a.local_description().unwrap().sdp;
    let cands = candidates(&sdp);
    let priority = |c: &Vec<String>| c[3].parse::<u32>().unwrap();
    let udp: Vec<u32> = cands
        .iter()
        .filter(|c| c[2] == "udp")
        .map(priority)
        .collect();
    let tcp: Vec<u32> = cands
        .iter()
        .filter(|c| c[2] == "tcp")
        .map(priority)
        .collect();
    assert_eq!((udp.len(), tcp.len()), (1, 2), "{sdp}");
    assert!(tcp.iter().all(|t| *t < udp[0]), "{sdp}");
    let _db = remote_channel(&b).await;
    within("channel open", da.opened()).await.unwrap();
    let report = a.stats().await.unwrap();
    assert_eq!(selected_protocols(&report), ("udp".into(), "udp".into()));
}

/// Connections to a passive candidate that are not the peer's: a frame that is not STUN
/// and a length above the limit each close theirs, idle ones make room for the peer's
/// when the connection limit is reached, and the call comes up over TCP all the same.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_connections_are_closed_and_the_call_goes_on() {
    let (a, b, da) = pair_with_channel(tcp_only(), "tcp").await;
    a.set_local_description(None).await.unwrap();
    a.gathering_complete().await.unwrap();
    let offer = a.local_description().unwrap();
    let target = passive_address(&offer.sdp);

    // A frame that is not STUN (a DTLS-looking byte), then an overlong length prefix.
    let mut garbage = TcpStream::connect(target).await.unwrap();
    garbage.write_all(&[0, 4, 22, 0xfe, 0xfd, 0]).await.unwrap();
    within("garbage frame closes", closed_by_peer(&mut garbage)).await;
    let mut overlong = TcpStream::connect(target).await.unwrap();
    overlong.write_all(&[0xff, 0xff, 0, 1]).await.unwrap();
    within("overlong length closes", closed_by_peer(&mut overlong)).await;

    // More idle connections than the limit (16).
    let opened = std::time::Instant::now();
    let mut idle = Vec::new();
    for _ in 0..20 {
        idle.push(TcpStream::connect(target).await.unwrap());
    }
    // The first 4 make room for the last 4 as they are accepted, long before an idle
    // connection would be closed for staying unauthenticated (10 s).
    within("idle connections over the limit close", async {
        for s in idle.iter_mut().take(4) {
            closed_by_peer(s).await;
        }
    })
    .await;
    let evicted = opened.elapsed();
    eprintln!(
        "4 idle connections over the limit closed {:.1} ms after opening",
        evicted.as_secs_f64() * 1e3
    );
    assert!(evicted < std::time::Duration::from_secs(9));

    b.set_remote_description(offer).await.unwrap();
    b.set_local_description(None).await.unwrap();
    b.gathering_complete().await.unwrap();
    a.set_remote_description(b.local_description().unwrap())
        .await
        .unwrap();
    let db = remote_channel(&b).await;
    within("channel open", da.opened()).await.unwrap();
    da.send("over tcp").await.unwrap();
    assert_eq!(
        within("message", db.recv()).await.unwrap().as_text(),
        Some("over tcp")
    );
    let report = a.stats().await.unwrap();
    assert_eq!(selected_protocols(&report), ("tcp".into(), "tcp".into()));
    // b's active candidate connected to a's listener: one more idle connection made room.
    within("one more idle connection closes", async {
        closed_by_peer(&mut idle[4]).await;
    })
    .await;
}

/// Dropping the peers closes their listeners and connections and ends every task.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropping_the_peers_closes_listeners_and_ends_tasks() {
    let metrics = tokio::runtime::Handle::current().metrics();
    let idle_tasks = metrics.num_alive_tasks();
    let (a, b, da) = pair_with_channel(tcp_only(), "tcp").await;
    negotiate(&a, &b).await;
    let db = remote_channel(&b).await;
    within("channel open", da.opened()).await.unwrap();
    let listeners = [
        passive_address(&a.local_description().unwrap().sdp),
        passive_address(&b.local_description().unwrap().sdp),
    ];
    // Drivers, listeners and at least one connection task on each side.
    assert!(metrics.num_alive_tasks() >= idle_tasks + 6);
    drop((a, b, da, db));
    within("every task to end", async {
        while metrics.num_alive_tasks() > idle_tasks {
            tokio::task::yield_now().await;
        }
    })
    .await;
    for l in listeners {
        let e = TcpStream::connect(l).await.expect_err("listener closed");
        assert_eq!(e.kind(), std::io::ErrorKind::ConnectionRefused, "{l}");
    }
}

/// The same over ::1, when the host has it.
#[tokio::test]
async fn tcp_only_peers_over_ipv6_loopback() {
    if std::net::TcpListener::bind("[::1]:0").is_err() {
        eprintln!("no IPv6 loopback here: skipped");
        return;
    }
    let v6 = || Configuration {
        ice_tcp: IceTcpPolicy::Only,
        host_addresses: ferrtc::net::HostAddresses::Explicit(vec!["::1".parse().unwrap()]),
        ..Configuration::default()
    };
    let (a, b, da) = pair_with_channel(v6(), "v6").await;
    negotiate(&a, &b).await;
    assert!(passive_address(&a.local_description().unwrap().sdp).is_ipv6());
    let db = remote_channel(&b).await;
    da.send("over tcp ::1").await.unwrap();
    assert_eq!(
        within("message", db.recv()).await.unwrap().as_text(),
        Some("over tcp ::1")
    );
    let report = b.stats().await.unwrap();
    assert_eq!(selected_protocols(&report), ("tcp".into(), "tcp".into()));
}
