//! TURN through coturn (the Debian `coturn` package, `turnserver` in PATH) on 127.0.0.1:
//! relayed candidates gathered, signalled and used, with the `relay` policy and beside host
//! candidates, over UDP, TCP (`?transport=tcp`) and TLS (`turns:`, a self-signed
//! certificate made here and trusted through `Configuration::tls_roots`); relays that fail
//! (an untrusted certificate, a server that closes the stream) reported and skipped; and
//! the `stun_turn` example run as a user would run it.
//!
//! Each test starts its own `turnserver` on free ports and kills it at the end. Without
//! `turnserver` the tests fail (install: `apt-get install -y coturn`; `cargo xtask test`
//! installs it).

mod common;

use std::io::{BufRead, BufReader};
use std::net::{TcpListener, UdpSocket};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex, mpsc};
use std::time::Duration;

use common::*;
use ferrtc::net::HostAddresses;
use ferrtc::{
    Configuration, ConfigurationError, DataChannelInit, Error, Event, IceServer,
    IceTransportPolicy, Message, PeerConnection, RelayError, StatsType, StreamError,
};

const USER: &str = "test";
const PASS: &str = "test";

/// A running `turnserver`, killed on drop.
struct Coturn {
    child: Child,
    dir: PathBuf,
    port: u16,
    /// The TLS listener's port and the PEM certificate it presents, when started with TLS.
    tls: Option<(u16, String)>,
    log: Arc<Mutex<Vec<String>>>,
}

impl Drop for Coturn {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

impl Coturn {
    fn url(&self) -> String {
        format!("turn:127.0.0.1:{}", self.port)
    }

    fn tcp_url(&self) -> String {
        format!("turn:127.0.0.1:{}?transport=tcp", self.port)
    }

    fn tls_url(&self) -> String {
        let (port, _) = self.tls.as_ref().expect("started with TLS");
        format!("turns:127.0.0.1:{port}")
    }

    /// The certificate coturn presents, PEM.
    fn cert_pem(&self) -> Vec<u8> {
        let (_, pem) = self.tls.as_ref().expect("started with TLS");
        pem.clone().into_bytes()
    }

    fn log(&self) -> String {
        self.log.lock().map(|l| l.join("\n")).unwrap_or_default()
    }

    /// Log lines that contain `needle`.
    fn count(&self, needle: &str) -> usize {
        self.log
            .lock()
            .map(|l| l.iter().filter(|line| line.contains(needle)).count())
            .unwrap_or(0)
    }
}

/// A port free for both TCP and UDP on 127.0.0.1 right now (bound, then released).
fn free_port(taken: &[u16]) -> u16 {
    for _ in 0..100 {
        let tcp = TcpListener::bind("127.0.0.1:0").expect("bind a TCP port");
        let port = tcp.local_addr().unwrap().port();
        if !taken.contains(&port) && UdpSocket::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
    panic!("no free port found on 127.0.0.1");
}

fn start_coturn() -> Coturn {
    start_coturn_with(false)
}

/// coturn on UDP and TCP (one port), and with `tls` on TLS too (a port of its own, a
/// self-signed certificate for 127.0.0.1 made here).
fn start_coturn_with(tls: bool) -> Coturn {
    let found = Command::new("turnserver")
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
    assert!(
        found.is_ok(),
        "`turnserver` is not in PATH: install coturn (apt-get install -y coturn)"
    );
    let port = free_port(&[]);
    let dir =
        std::env::temp_dir().join(format!("ferrtc-facade-turn-{}-{port}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let tls = tls.then(|| {
        let certified =
            rcgen::generate_simple_self_signed(vec!["127.0.0.1".to_owned()]).expect("rcgen");
        let cert = dir.join("cert.pem");
        let key = dir.join("key.pem");
        std::fs::write(&cert, certified.cert.pem()).unwrap();
        std::fs::write(&key, certified.signing_key.serialize_pem()).unwrap();
        (free_port(&[port]), certified.cert.pem(), cert, key)
    });
    let tls_port = tls.as_ref().map_or(0, |t| t.0);
    // A small relay range from a port that was free a moment ago.
    let min_port = free_port(&[port, tls_port]).min(65_400);
    let mut command = Command::new("turnserver");
    match &tls {
        Some((tls_port, _, cert, key)) => command
            .arg(format!("--tls-listening-port={tls_port}"))
            .arg(format!("--cert={}", cert.display()))
            .arg(format!("--pkey={}", key.display())),
        None => command.arg("--no-tls"),
    };
    let mut child = command
        .arg("-n")
        .arg("--listening-ip=127.0.0.1")
        .arg("--relay-ip=127.0.0.1")
        .arg(format!("--listening-port={port}"))
        .arg(format!("--min-port={min_port}"))
        .arg(format!("--max-port={}", min_port + 100))
        .arg("--lt-cred-mech")
        .arg(format!("--user={USER}:{PASS}"))
        .arg("--realm=interop")
        .arg("--allow-loopback-peers")
        .arg("--no-cli")
        .arg("--no-dtls")
        .arg("--log-file=stdout")
        .arg("--simple-log")
        .arg("--verbose")
        .arg(format!(
            "--pidfile={}",
            dir.join("turnserver.pid").display()
        ))
        .arg(format!("--db={}", dir.join("turndb").display()))
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start turnserver");
    let log = Arc::new(Mutex::new(Vec::new()));
    let (tx, rx) = mpsc::channel();
    let stdout = child.stdout.take().expect("piped stdout");
    let sink = Arc::clone(&log);
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if let Ok(mut l) = sink.lock() {
                l.push(line);
            }
            let _ = tx.send(());
        }
    });
    let server = Coturn {
        child,
        dir,
        port,
        tls: tls.map(|(port, pem, _, _)| (port, pem)),
        log,
    };
    let listening = |port: u16| {
        std::net::TcpStream::connect_timeout(
            &std::net::SocketAddr::from(([127, 0, 0, 1], port)),
            Duration::from_secs(1),
        )
        .is_ok()
    };
    // Ready once the UDP listener is taken (binding its port fails) and the TCP (and TLS)
    // ones accept. Each attempt waits up to 100 ms for the server to log something: I/O
    // waiting, bounded to 100 attempts.
    for _ in 0..100 {
        match rx.recv_timeout(Duration::from_millis(100)) {
            Ok(()) | Err(mpsc::RecvTimeoutError::Timeout) => {}
            Err(mpsc::RecvTimeoutError::Disconnected) => {
                panic!("turnserver exited during start-up:\n{}", server.log())
            }
        }
        if UdpSocket::bind(("127.0.0.1", port)).is_err()
            && listening(port)
            && server.tls.as_ref().is_none_or(|(p, _)| listening(*p))
        {
            return server;
        }
    }
    panic!("turnserver did not start listening:\n{}", server.log());
}

fn turn_config(server: &Coturn, policy: IceTransportPolicy) -> Configuration {
    urls_config(vec![server.url()], policy)
}

/// One TURN server at these URLs, with the test's credentials.
fn urls_config(urls: Vec<String>, policy: IceTransportPolicy) -> Configuration {
    Configuration {
        ice_servers: vec![IceServer {
            urls,
            username: Some(USER.into()),
            credential: Some(PASS.into()),
        }],
        ice_transport_policy: policy,
        host_addresses: HostAddresses::loopback(),
        ..Configuration::default()
    }
}

/// The priorities of the candidates of `sdp`.
fn candidate_priorities(sdp: &str) -> Vec<u32> {
    sdp.lines()
        .filter(|l| l.starts_with("a=candidate:"))
        .filter_map(|l| l.split(' ').nth(3))
        .map(|p| p.parse().unwrap())
        .collect()
}

/// Waits for the first `icecandidateerror` of `pc`.
async fn candidate_error(pc: &PeerConnection) -> ferrtc::IceCandidateError {
    within("an ICE candidate error", async {
        loop {
            match pc.next_event().await {
                Some(Event::IceCandidateError(e)) => return e,
                Some(_) => {}
                None => panic!("connection ended"),
            }
        }
    })
    .await
}

/// Both peers relay-only through `url` (with `roots` trusted for TLS): one relayed UDP
/// candidate each, data channel messages both ways through the relay, relay to relay.
async fn relay_only_exchange(url: String, roots: Vec<Vec<u8>>) -> (PeerConnection, PeerConnection) {
    let config = || Configuration {
        tls_roots: roots.clone(),
        ..urls_config(vec![url.clone()], IceTransportPolicy::Relay)
    };
    let alice = PeerConnection::new(config()).await.unwrap();
    let bob = PeerConnection::new(config()).await.unwrap();
    let chat = alice
        .create_data_channel("chat", DataChannelInit::default())
        .await
        .unwrap();
    negotiate(&alice, &bob).await;
    for pc in [&alice, &bob] {
        let sdp = pc.local_description().unwrap().sdp;
        assert_eq!(candidate_types(&sdp), ["relay"], "{sdp}");
        // The relay-to-peer leg is UDP whatever the transport to the server.
        assert!(sdp.contains(" udp ") || sdp.contains(" UDP "), "{sdp}");
    }
    let theirs = remote_channel(&bob).await;
    within("channel open", chat.opened()).await.unwrap();
    for i in 0..100 {
        chat.send(format!("a{i}")).await.unwrap();
        if i % 25 == 0 {
            chat.send(vec![i as u8; 10_000]).await.unwrap();
        }
    }
    for i in 0..100 {
        assert_eq!(
            within("a message", theirs.recv()).await.unwrap(),
            Message::text(format!("a{i}"))
        );
        if i % 25 == 0 {
            assert_eq!(
                within("a long message", theirs.recv()).await.unwrap(),
                Message::binary(vec![i as u8; 10_000])
            );
        }
        theirs.send(format!("b{i}")).await.unwrap();
    }
    for i in 0..100 {
        assert_eq!(
            within("a reply", chat.recv()).await.unwrap(),
            Message::text(format!("b{i}"))
        );
    }
    for pc in [&alice, &bob] {
        assert_eq!(
            selected_pair_types(pc).await,
            ("relay".to_owned(), "relay".to_owned())
        );
    }
    (alice, bob)
}

fn candidate_types(sdp: &str) -> Vec<String> {
    sdp.lines()
        .filter(|l| l.starts_with("a=candidate:"))
        .filter_map(|l| l.split(" typ ").nth(1))
        .filter_map(|rest| rest.split(' ').next())
        .map(str::to_owned)
        .collect()
}

/// The candidate types of the selected pair, from the W3C stats.
async fn selected_pair_types(pc: &PeerConnection) -> (String, String) {
    let report = pc.stats().await.unwrap();
    let pair = report
        .of(StatsType::CandidatePair)
        .next()
        .expect("a selected pair");
    let kind = |member: &str| {
        let id = pair.get_str(member).unwrap();
        report
            .get(id)
            .and_then(|c| c.get_str("candidateType"))
            .unwrap()
            .to_owned()
    };
    (kind("localCandidateId"), kind("remoteCandidateId"))
}

/// Both peers relay-only: one relayed candidate each, the checks, DTLS and SCTP all through
/// coturn, messages both ways, and the allocations deleted when the peers close.
#[tokio::test]
async fn relay_only_peers_talk_through_coturn() {
    let server = start_coturn();
    let alice = PeerConnection::new(turn_config(&server, IceTransportPolicy::Relay))
        .await
        .unwrap();
    let bob = PeerConnection::new(turn_config(&server, IceTransportPolicy::Relay))
        .await
        .unwrap();
    let chat = alice
        .create_data_channel("chat", DataChannelInit::default())
        .await
        .unwrap();
    negotiate(&alice, &bob).await;
    for pc in [&alice, &bob] {
        let sdp = pc.local_description().unwrap().sdp;
        assert_eq!(candidate_types(&sdp), ["relay"], "{sdp}");
        // The relayed address is coturn's, not one of our sockets.
        assert!(
            !pc.local_addresses()
                .iter()
                .any(|a| sdp.contains(&format!("127.0.0.1 {} typ", a.port()))),
            "{sdp}"
        );
    }
    let theirs = remote_channel(&bob).await;
    within("channel open", chat.opened()).await.unwrap();
    for i in 0..200 {
        chat.send(format!("a{i}")).await.unwrap();
        if i % 50 == 0 {
            chat.send(vec![i as u8; 10_000]).await.unwrap();
        }
    }
    for i in 0..200 {
        assert_eq!(
            within("a message", theirs.recv()).await.unwrap(),
            Message::text(format!("a{i}"))
        );
        if i % 50 == 0 {
            assert_eq!(
                within("a long message", theirs.recv()).await.unwrap(),
                Message::binary(vec![i as u8; 10_000])
            );
        }
        theirs.send(format!("b{i}")).await.unwrap();
    }
    for i in 0..200 {
        assert_eq!(
            within("a reply", chat.recv()).await.unwrap(),
            Message::text(format!("b{i}"))
        );
    }
    assert_eq!(
        selected_pair_types(&alice).await,
        ("relay".to_owned(), "relay".to_owned())
    );
    assert_eq!(
        selected_pair_types(&bob).await,
        ("relay".to_owned(), "relay".to_owned())
    );
    // coturn saw the channels bound (ChannelData is how the bulk went).
    assert!(
        server.count("CHANNEL_BIND") > 0,
        "no channel bound:\n{}",
        server.log()
    );
    alice.close().await;
    bob.close().await;
}

/// With the `all` policy and a TURN server, the relayed candidate comes beside the host
/// one; ICE prefers host to host.
#[tokio::test]
async fn relayed_candidate_beside_host_candidates() {
    let server = start_coturn();
    let alice = PeerConnection::new(turn_config(&server, IceTransportPolicy::All))
        .await
        .unwrap();
    let bob = PeerConnection::new(loopback()).await.unwrap();
    let chat = alice
        .create_data_channel("chat", DataChannelInit::default())
        .await
        .unwrap();
    negotiate(&alice, &bob).await;
    let mut types = candidate_types(&alice.local_description().unwrap().sdp);
    types.sort();
    assert_eq!(types, ["host", "relay"]);
    let theirs = remote_channel(&bob).await;
    within("channel open", chat.opened()).await.unwrap();
    chat.send("hi").await.unwrap();
    assert_eq!(
        within("a message", theirs.recv()).await.unwrap(),
        Message::text("hi")
    );
    assert_eq!(
        selected_pair_types(&alice).await,
        ("host".to_owned(), "host".to_owned())
    );
}

/// A relay-only peer answering a peer with host candidates only: the relay reaches the
/// host.
#[tokio::test]
async fn relay_only_answerer_reaches_a_host_only_offerer() {
    let server = start_coturn();
    let alice = PeerConnection::new(turn_config(&server, IceTransportPolicy::Relay))
        .await
        .unwrap();
    let bob = PeerConnection::new(loopback()).await.unwrap();
    let chat = bob
        .create_data_channel("chat", DataChannelInit::default())
        .await
        .unwrap();
    negotiate(&bob, &alice).await;
    assert_eq!(
        candidate_types(&alice.local_description().unwrap().sdp),
        ["relay"]
    );
    let theirs = remote_channel(&alice).await;
    within("channel open", chat.opened()).await.unwrap();
    chat.send("from the host side").await.unwrap();
    assert_eq!(
        within("a message", theirs.recv()).await.unwrap(),
        Message::text("from the host side")
    );
    theirs.send("from the relay side").await.unwrap();
    assert_eq!(
        within("a reply", chat.recv()).await.unwrap(),
        Message::text("from the relay side")
    );
    assert_eq!(
        selected_pair_types(&alice).await,
        ("relay".to_owned(), "host".to_owned())
    );
}

/// Both peers relay-only through coturn over TCP (`turn:...?transport=tcp`): the
/// allocation, the checks, DTLS and SCTP all ride each peer's TCP stream to coturn. Then
/// coturn is killed: both relays end with a typed stream error.
#[tokio::test]
async fn relay_only_peers_talk_through_coturn_over_tcp() {
    let server = start_coturn();
    let (alice, bob) = relay_only_exchange(server.tcp_url(), Vec::new()).await;
    assert!(
        server.count("CHANNEL_BIND") > 0,
        "no channel bound:\n{}",
        server.log()
    );
    assert!(
        server.count("TCP") > 0,
        "coturn logged no TCP session:\n{}",
        server.log()
    );
    // The server goes away mid-call: each peer's stream ends, its relay is gone (a typed
    // error, no panic), and the connections still close cleanly.
    drop(server);
    for pc in [&alice, &bob] {
        let error = candidate_error(pc).await;
        let RelayError::Stream(cause) = &error.error else {
            panic!("not a stream error: {error:?}");
        };
        assert!(
            matches!(**cause, StreamError::Closed | StreamError::Io(_)),
            "{cause:?}"
        );
    }
    alice.close().await;
    bob.close().await;
}

/// Both peers relay-only through coturn over TLS (`turns:`), its self-signed certificate
/// trusted through `Configuration::tls_roots`.
#[tokio::test]
async fn relay_only_peers_talk_through_coturn_over_tls() {
    let server = start_coturn_with(true);
    let (alice, bob) = relay_only_exchange(server.tls_url(), vec![server.cert_pem()]).await;
    assert!(
        server.count("CHANNEL_BIND") > 0,
        "no channel bound:\n{}",
        server.log()
    );
    assert!(
        server.count("TLS") > 0,
        "coturn logged no TLS session:\n{}",
        server.log()
    );
    alice.close().await;
    bob.close().await;
}

/// One server reached over UDP, TCP and TLS: three relayed candidates, ranked UDP above
/// TCP above TLS (the two top bits of the local preference: 2, 1, 0).
#[tokio::test]
async fn relays_over_udp_tcp_and_tls_are_ranked_in_that_order() {
    let server = start_coturn_with(true);
    let config = Configuration {
        tls_roots: vec![server.cert_pem()],
        ..urls_config(
            vec![server.url(), server.tcp_url(), server.tls_url()],
            IceTransportPolicy::Relay,
        )
    };
    let pc = PeerConnection::new(config).await.unwrap();
    let _chat = pc
        .create_data_channel("chat", DataChannelInit::default())
        .await
        .unwrap();
    pc.set_local_description(None).await.unwrap();
    within("gathering", pc.gathering_complete()).await.unwrap();
    let sdp = pc.local_description().unwrap().sdp;
    assert_eq!(candidate_types(&sdp), ["relay", "relay", "relay"], "{sdp}");
    let mut transports: Vec<u32> = candidate_priorities(&sdp)
        .into_iter()
        .map(|p| (p >> 8) >> 14)
        .collect();
    transports.sort_unstable();
    assert_eq!(transports, [0, 1, 2], "{sdp}");
}

/// A `turns:` server whose certificate is not among the trusted roots: that relay fails
/// (a typed TLS error in an `icecandidateerror`, code 701), gathering completes without
/// it, and a TCP relay beside it still gives its candidate.
#[tokio::test]
async fn untrusted_turns_certificate_fails_that_relay_only() {
    let server = start_coturn_with(true);
    let stranger = rcgen::generate_simple_self_signed(vec!["127.0.0.1".to_owned()]).unwrap();
    let config = Configuration {
        tls_roots: vec![stranger.cert.pem().into_bytes()],
        ..urls_config(
            vec![server.tls_url(), server.tcp_url()],
            IceTransportPolicy::Relay,
        )
    };
    let pc = PeerConnection::new(config).await.unwrap();
    let _chat = pc
        .create_data_channel("chat", DataChannelInit::default())
        .await
        .unwrap();
    pc.set_local_description(None).await.unwrap();
    let error = candidate_error(&pc).await;
    assert_eq!(error.url, server.tls_url());
    assert_eq!(error.error_code, ferrtc::UNREACHABLE_ERROR_CODE);
    let RelayError::Stream(cause) = &error.error else {
        panic!("not a stream error: {error:?}");
    };
    assert!(matches!(**cause, StreamError::Tls(_)), "{cause:?}");
    within("gathering", pc.gathering_complete()).await.unwrap();
    let sdp = pc.local_description().unwrap().sdp;
    assert_eq!(candidate_types(&sdp), ["relay"], "{sdp}");
    // The one relay is the TCP one: local preference's top bits 1.
    assert_eq!(candidate_priorities(&sdp)[0] >> 22, 1, "{sdp}");

    // Alone, it leaves no candidate at all, and gathering still completes.
    let stranger_roots = vec![stranger.cert.pem().into_bytes()];
    let config = Configuration {
        tls_roots: stranger_roots,
        ..urls_config(vec![server.tls_url()], IceTransportPolicy::Relay)
    };
    let pc = PeerConnection::new(config).await.unwrap();
    let _chat = pc
        .create_data_channel("chat", DataChannelInit::default())
        .await
        .unwrap();
    pc.set_local_description(None).await.unwrap();
    within("gathering", pc.gathering_complete()).await.unwrap();
    let sdp = pc.local_description().unwrap().sdp;
    assert!(candidate_types(&sdp).is_empty(), "{sdp}");
}

/// A "TURN server" that accepts the TCP connection and closes it at once: the relay is
/// gone (the stream's end, typed), nothing panics, gathering completes.
#[tokio::test]
async fn a_server_that_closes_the_stream_makes_the_relay_gone() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let closer = tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                return;
            };
            drop(stream);
        }
    });
    let url = format!("turn:127.0.0.1:{port}?transport=tcp");
    let pc = PeerConnection::new(urls_config(vec![url.clone()], IceTransportPolicy::Relay))
        .await
        .unwrap();
    let _chat = pc
        .create_data_channel("chat", DataChannelInit::default())
        .await
        .unwrap();
    pc.set_local_description(None).await.unwrap();
    let error = candidate_error(&pc).await;
    assert_eq!(error.url, url);
    let RelayError::Stream(cause) = &error.error else {
        panic!("not a stream error: {error:?}");
    };
    assert!(
        matches!(**cause, StreamError::Closed | StreamError::Io(_)),
        "{cause:?}"
    );
    within("gathering", pc.gathering_complete()).await.unwrap();
    assert!(candidate_types(&pc.local_description().unwrap().sdp).is_empty());
    pc.close().await;
    closer.abort();
}

/// `turns:` needs trusted roots: ferrtc has none built in.
#[tokio::test]
async fn turns_without_roots_is_a_configuration_error() {
    let config = urls_config(
        vec!["turns:127.0.0.1:5349".to_owned()],
        IceTransportPolicy::Relay,
    );
    assert!(matches!(
        PeerConnection::new(config).await,
        Err(Error::Configuration(ConfigurationError::TlsRootsMissing))
    ));
    let config = Configuration {
        tls_roots: vec![b"not a certificate".to_vec()],
        ..urls_config(
            vec!["turns:127.0.0.1:5349".to_owned()],
            IceTransportPolicy::Relay,
        )
    };
    assert!(matches!(
        PeerConnection::new(config).await,
        Err(Error::Configuration(ConfigurationError::TlsRoots))
    ));
}

#[tokio::test]
async fn relay_policy_needs_a_turn_server() {
    let config = Configuration {
        ice_transport_policy: IceTransportPolicy::Relay,
        ..loopback()
    };
    assert!(matches!(
        PeerConnection::new(config).await,
        Err(Error::Configuration(ConfigurationError::RelayPolicy))
    ));
    let config = Configuration {
        ice_servers: vec![IceServer::new("turn:127.0.0.1:3478")],
        ..loopback()
    };
    assert!(matches!(
        PeerConnection::new(config).await,
        Err(Error::Configuration(ConfigurationError::TurnCredentials))
    ));
}

/// Where cargo put the example binaries: `target/<profile>/examples`, beside `deps` where
/// this test runs from.
fn example(name: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("test binary path");
    exe.parent()
        .and_then(|deps| deps.parent())
        .expect("target/<profile>/deps")
        .join("examples")
        .join(name)
}

/// The `stun_turn` example, run as a user would, against its own coturn: over UDP, TCP
/// (`?transport=tcp`) and TLS (`turns:` with `--ca`).
#[tokio::test]
async fn stun_turn_example_runs() {
    let server = start_coturn_with(true);
    let ca = server.dir.join("ca.pem");
    std::fs::write(&ca, server.cert_pem()).unwrap();
    let ca = ca.display().to_string();
    let runs = [
        (server.url(), None),
        (server.tcp_url(), None),
        (server.tls_url(), Some(ca.as_str())),
    ];
    for (url, ca) in runs {
        let mut command = tokio::process::Command::new(example("stun_turn"));
        command.args(["--turn", &url, "--user", USER, "--pass", PASS]);
        if let Some(ca) = ca {
            command.args(["--ca", ca]);
        }
        let out = within("the stun_turn example", command.kill_on_drop(true).output())
            .await
            .expect("example runs");
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "{url}: exit {:?}\n{stdout}\n{}\ncoturn:\n{}",
            out.status,
            String::from_utf8_lossy(&out.stderr),
            server.log()
        );
        assert!(stdout.contains("typ relay"), "{url}: {stdout}");
        assert!(
            stdout.contains("replies through the relay"),
            "{url}: {stdout}"
        );
        assert!(
            stdout.contains("selected pair relay -> relay"),
            "{url}: {stdout}"
        );
        assert!(stdout.ends_with("done\n"), "{url}: {stdout}");
    }
}

/// A minimal HTTP/1.1 POST of JSON; returns the status and the body.
async fn post_json(addr: &str, body: &str) -> (u16, String) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let request = format!(
        "POST /offer HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut response = Vec::new();
    stream.read_to_end(&mut response).await.unwrap();
    let response = String::from_utf8(response).unwrap();
    let (head, body) = response.split_once("\r\n\r\n").unwrap();
    let status = head.split(' ').nth(1).unwrap().parse().unwrap();
    (status, body.to_owned())
}

/// `echo_server --turn ...` (what the interop `turn-both` cell runs): its answer carries
/// relayed candidates only, and it echoes through the relay.
#[tokio::test]
async fn echo_server_answers_relay_only() {
    use tokio::io::AsyncBufReadExt;
    let server = start_coturn();
    let mut child = tokio::process::Command::new(example("echo_server"))
        .args(["--host", "127.0.0.1", "--port", "0"])
        .args([
            "--turn",
            &server.url(),
            "--turn-user",
            USER,
            "--turn-pass",
            PASS,
        ])
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("echo_server starts");
    let mut line = String::new();
    within(
        "echo_server listening",
        tokio::io::BufReader::new(child.stdout.take().unwrap()).read_line(&mut line),
    )
    .await
    .unwrap();
    let addr = line
        .trim()
        .strip_prefix("listening on http://")
        .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
        .to_owned();
    let pc = PeerConnection::new(loopback()).await.unwrap();
    let dc = pc
        .create_data_channel("echo", DataChannelInit::default())
        .await
        .unwrap();
    pc.set_local_description(None).await.unwrap();
    within("gathering", pc.gathering_complete()).await.unwrap();
    let offer = pc.local_description().unwrap();
    let body = serde_json::json!({ "sdp": offer.sdp, "type": "offer" }).to_string();
    let (status, body) = within("POST /offer", post_json(&addr, &body)).await;
    assert_eq!(status, 200, "{body}");
    let answer: serde_json::Value = serde_json::from_str(&body).unwrap();
    let sdp = answer["sdp"].as_str().unwrap().to_owned();
    assert_eq!(candidate_types(&sdp), ["relay"], "{sdp}");
    pc.set_remote_description(ferrtc::Description {
        sdp_type: ferrtc::SdpType::Answer,
        sdp,
    })
    .await
    .unwrap();
    within("channel open", dc.opened()).await.unwrap();
    for i in 0..20 {
        dc.send(format!("ping {i}")).await.unwrap();
    }
    for i in 0..20 {
        assert_eq!(
            within("an echo", dc.recv()).await.unwrap(),
            Message::text(format!("pong {i}"))
        );
    }
    assert_eq!(
        selected_pair_types(&pc).await,
        ("host".to_owned(), "relay".to_owned())
    );
}
