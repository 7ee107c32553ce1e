//! Interop with coturn (the Debian `coturn` package, `turnserver` in PATH) on 127.0.0.1: the
//! sans-IO TURN client, driven over real sockets, allocates over UDP, TCP and TLS, and a
//! plain UDP socket playing the peer exchanges data with it through the relay, first with
//! a permission and Send/Data indications, then over a channel with ChannelData.
//!
//! The test starts its own `turnserver` on free ports with a temporary configuration and
//! kills it at the end. Without `turnserver` it fails (install: `apt-get install coturn`).

use std::io::{BufRead, BufReader, ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use ferrtc_stun_ice::framing::ChannelData;
use ferrtc_stun_ice::turn::{Client, ClientConfig, Event, StreamFramer, TurnTransport};
use ferrtc_types::Bytes;
use rand::SeedableRng;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, SignatureScheme};

const USER: &str = "test";
const PASS: &str = "test";
/// How long any one step may take before the test fails.
const STEP_LIMIT: Duration = Duration::from_secs(10);
/// The allocation lifetime the client asks for (coturn grants up to an hour).
const REQUESTED_LIFETIME: Duration = Duration::from_secs(1200);

// ----- the server -----

/// A running `turnserver`, killed (and its directory removed) on drop.
struct Coturn {
    child: Child,
    dir: PathBuf,
    port: u16,
    tls_port: u16,
    cert_der: CertificateDer<'static>,
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
    fn log(&self) -> String {
        self.log.lock().map(|l| l.join("\n")).unwrap_or_default()
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
    let found = Command::new("turnserver")
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
    assert!(
        found.is_ok(),
        "`turnserver` is not in PATH: install coturn (apt-get install -y coturn) to run the \
         TURN interop test"
    );

    let dir = std::env::temp_dir().join(format!(
        "ferrtc-turn-coturn-{}-{}",
        std::process::id(),
        free_port(&[])
    ));
    std::fs::create_dir_all(&dir).unwrap();
    let certified = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
    let cert = dir.join("cert.pem");
    let key = dir.join("key.pem");
    std::fs::write(&cert, certified.cert.pem()).unwrap();
    std::fs::write(&key, certified.signing_key.serialize_pem()).unwrap();

    let port = free_port(&[]);
    let tls_port = free_port(&[port]);
    // A small relay range from a port that was free a moment ago.
    let min_port = free_port(&[port, tls_port]).min(65_500);
    let max_port = min_port + 20;
    let mut child = Command::new("turnserver")
        .arg("-n")
        .arg("--listening-ip=127.0.0.1")
        .arg("--relay-ip=127.0.0.1")
        .arg(format!("--listening-port={port}"))
        .arg(format!("--tls-listening-port={tls_port}"))
        .arg(format!("--min-port={min_port}"))
        .arg(format!("--max-port={max_port}"))
        .arg("--lt-cred-mech")
        .arg(format!("--user={USER}:{PASS}"))
        .arg("--realm=interop")
        .arg("--allow-loopback-peers")
        .arg("--no-cli")
        .arg("--no-dtls")
        .arg("--log-file=stdout")
        .arg("--simple-log")
        .arg(format!("--cert={}", cert.display()))
        .arg(format!("--pkey={}", key.display()))
        .arg(format!(
            "--pidfile={}",
            dir.join("turnserver.pid").display()
        ))
        .arg(format!("--db={}", dir.join("turndb").display()))
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start turnserver");

    // Drain the log on a thread (so coturn never blocks on a full pipe) and keep it for
    // failure messages; each line also wakes the readiness loop below.
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
        tls_port,
        cert_der: certified.cert.der().clone(),
        log,
    };

    // Ready once both TCP listeners accept. Each attempt first waits (up to 100 ms) for the
    // server to log something: I/O waiting, bounded to 100 attempts.
    for _ in 0..100 {
        match rx.recv_timeout(Duration::from_millis(100)) {
            Ok(()) | Err(mpsc::RecvTimeoutError::Timeout) => {}
            Err(mpsc::RecvTimeoutError::Disconnected) => {
                panic!("turnserver exited during start-up:\n{}", server.log())
            }
        }
        let up = |p: u16| TcpStream::connect(("127.0.0.1", p)).is_ok();
        if up(port) && up(tls_port) {
            return server;
        }
    }
    panic!("turnserver did not start listening:\n{}", server.log());
}

// ----- transports -----

/// The bytes to and from the server, whatever the transport.
trait Wire {
    fn send(&mut self, bytes: &[u8]);
    /// Waits up to `wait` for bytes from the server.
    fn recv(&mut self, wait: Duration) -> Option<Vec<u8>>;
    fn local_addr(&self) -> SocketAddr;
}

struct UdpWire {
    socket: UdpSocket,
    server: SocketAddr,
}

impl Wire for UdpWire {
    fn send(&mut self, bytes: &[u8]) {
        self.socket.send_to(bytes, self.server).unwrap();
    }
    fn recv(&mut self, wait: Duration) -> Option<Vec<u8>> {
        self.socket.set_read_timeout(Some(wait)).unwrap();
        let mut buf = vec![0u8; 65_536];
        match self.socket.recv_from(&mut buf) {
            Ok((n, from)) if from == self.server => Some(buf[..n].to_vec()),
            Ok(_) => None,
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => None,
            Err(e) => panic!("UDP receive: {e}"),
        }
    }
    fn local_addr(&self) -> SocketAddr {
        self.socket.local_addr().unwrap()
    }
}

/// TCP, or TLS over TCP.
struct StreamWire<S: Read + Write> {
    stream: S,
    tcp: TcpStream,
}

impl<S: Read + Write> Wire for StreamWire<S> {
    fn send(&mut self, bytes: &[u8]) {
        self.stream.write_all(bytes).unwrap();
        self.stream.flush().unwrap();
    }
    fn recv(&mut self, wait: Duration) -> Option<Vec<u8>> {
        self.tcp.set_read_timeout(Some(wait)).unwrap();
        let mut buf = vec![0u8; 16_384];
        match self.stream.read(&mut buf) {
            Ok(0) => panic!("the server closed the stream"),
            Ok(n) => Some(buf[..n].to_vec()),
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => None,
            Err(e) => panic!("stream receive: {e}"),
        }
    }
    fn local_addr(&self) -> SocketAddr {
        self.tcp.local_addr().unwrap()
    }
}

/// Accepts exactly the certificate the test generated for coturn, and checks the handshake
/// signatures with the ring provider.
#[derive(Debug)]
struct PinnedCert {
    cert: CertificateDer<'static>,
    provider: Arc<CryptoProvider>,
}

impl ServerCertVerifier for PinnedCert {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        if end_entity.as_ref() == self.cert.as_ref() {
            Ok(ServerCertVerified::assertion())
        } else {
            Err(rustls::Error::InvalidCertificate(
                rustls::CertificateError::UnknownIssuer,
            ))
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

fn connect(server: &Coturn, transport: TurnTransport) -> (Box<dyn Wire>, SocketAddr) {
    match transport {
        TurnTransport::Udp => {
            let addr: SocketAddr = ([127, 0, 0, 1], server.port).into();
            let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
            (
                Box::new(UdpWire {
                    socket,
                    server: addr,
                }),
                addr,
            )
        }
        TurnTransport::Tcp => {
            let addr: SocketAddr = ([127, 0, 0, 1], server.port).into();
            let tcp = TcpStream::connect(addr).unwrap();
            tcp.set_nodelay(true).unwrap();
            let stream = tcp.try_clone().unwrap();
            (Box::new(StreamWire { stream, tcp }), addr)
        }
        TurnTransport::Tls => {
            let addr: SocketAddr = ([127, 0, 0, 1], server.tls_port).into();
            let provider = Arc::new(rustls::crypto::ring::default_provider());
            let config = rustls::ClientConfig::builder_with_provider(Arc::clone(&provider))
                .with_safe_default_protocol_versions()
                .unwrap()
                .dangerous()
                .with_custom_certificate_verifier(Arc::new(PinnedCert {
                    cert: server.cert_der.clone(),
                    provider,
                }))
                .with_no_client_auth();
            let conn = rustls::ClientConnection::new(
                Arc::new(config),
                ServerName::try_from("localhost").unwrap(),
            )
            .unwrap();
            let tcp = TcpStream::connect(addr).unwrap();
            tcp.set_nodelay(true).unwrap();
            let stream = rustls::StreamOwned::new(conn, tcp.try_clone().unwrap());
            (Box::new(StreamWire { stream, tcp }), addr)
        }
    }
}

// ----- the driver -----

/// Runs the sans-IO client over a real transport with the wall clock.
struct Driver {
    client: Client,
    wire: Box<dyn Wire>,
    server: SocketAddr,
    events: Vec<Event>,
    /// Peer data `handle_receive` returned over UDP, as the events the stream path gives.
    pending: std::collections::VecDeque<Event>,
    /// Everything received from the server, for counting ChannelData frames afterwards.
    received: Vec<Vec<u8>>,
    errors: Vec<String>,
}

impl Driver {
    fn new(server: &Coturn, transport: TurnTransport, seed: u64) -> Self {
        let (wire, addr) = connect(server, transport);
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
        let mut config = ClientConfig::new(addr, transport, USER, PASS);
        config.software = Some("ferrtc turn interop test".into());
        config.lifetime = Some(REQUESTED_LIFETIME);
        Driver {
            client: Client::new(config, &mut rng),
            wire,
            server: addr,
            events: Vec::new(),
            pending: std::collections::VecDeque::new(),
            received: Vec::new(),
            errors: Vec::new(),
        }
    }

    /// Drives the client until an event matching `want` comes; returns it.
    fn until(&mut self, what: &str, want: impl Fn(&Event) -> bool) -> Event {
        let start = Instant::now();
        loop {
            while let Some(t) = self.client.poll_transmit() {
                assert_eq!(t.destination, self.server);
                self.wire.send(&t.contents);
            }
            while let Some(e) = self
                .pending
                .pop_front()
                .or_else(|| self.client.poll_event())
            {
                self.events.push(e.clone());
                if want(&e) {
                    return e;
                }
            }
            assert!(
                start.elapsed() < STEP_LIMIT,
                "no {what} within {STEP_LIMIT:?}; events {:?}; errors {:?}",
                self.events,
                self.errors
            );
            let now = Instant::now();
            let wait = self
                .client
                .poll_timeout()
                .map_or(Duration::from_millis(100), |t| {
                    t.saturating_duration_since(now)
                })
                .clamp(Duration::from_millis(1), Duration::from_millis(100));
            match self.wire.recv(wait) {
                Some(bytes) => {
                    match self
                        .client
                        .handle_receive(Instant::now(), self.server, &bytes)
                    {
                        Ok(Some((peer, data))) => self.pending.push_back(Event::Data {
                            peer,
                            data: Bytes::copy_from_slice(data),
                        }),
                        Ok(None) => {}
                        Err(e) => self.errors.push(e.to_string()),
                    }
                    self.received.push(bytes);
                }
                None => self.client.handle_timeout(Instant::now()),
            }
        }
    }

    fn flush(&mut self) {
        while let Some(t) = self.client.poll_transmit() {
            self.wire.send(&t.contents);
        }
    }

    /// ChannelData frames received from the server so far.
    fn channel_data_frames(&self, stream: bool) -> usize {
        let is_cd = |f: &[u8]| matches!(f.first(), Some(0x40..=0x4F));
        if !stream {
            return self.received.iter().filter(|d| is_cd(d)).count();
        }
        let mut framer = StreamFramer::new();
        let mut n = 0;
        for chunk in &self.received {
            framer
                .push(chunk, |f| {
                    if is_cd(f) {
                        n += 1;
                    }
                })
                .unwrap();
        }
        n
    }
}

/// The peer: a plain UDP socket on loopback.
fn peer_recv(peer: &UdpSocket) -> (SocketAddr, Vec<u8>) {
    peer.set_read_timeout(Some(STEP_LIMIT)).unwrap();
    let mut buf = vec![0u8; 65_536];
    let (n, from) = peer
        .recv_from(&mut buf)
        .expect("the peer receives data through the relay");
    (from, buf[..n].to_vec())
}

fn exchange_through_relay(server: &Coturn, transport: TurnTransport, seed: u64) {
    let mut d = Driver::new(server, transport, seed);
    let local = d.wire.local_addr();
    d.client.allocate(Instant::now()).unwrap();
    let Event::Allocated {
        relayed,
        mapped,
        lifetime,
    } = d.until("allocation", |e| {
        matches!(e, Event::Allocated { .. } | Event::AllocationFailed(_))
    })
    else {
        panic!("allocation failed: {:?}\n{}", d.events, server.log());
    };
    assert_eq!(relayed.ip(), local.ip(), "{transport:?}");
    assert_ne!(relayed.port(), 0);
    // The server-reflexive address is the client's own socket on loopback.
    assert_eq!(mapped, Some(local), "{transport:?}");
    assert_eq!(lifetime, REQUESTED_LIFETIME, "{transport:?}");
    // A Refresh on demand (the same request the client sends a minute before expiry).
    d.client.refresh(Instant::now()).unwrap();
    let refreshed = d.until("refresh", |e| {
        matches!(e, Event::Refreshed { .. } | Event::AllocationLost(_))
    });
    assert_eq!(
        refreshed,
        Event::Refreshed {
            lifetime: REQUESTED_LIFETIME
        }
    );

    let peer = UdpSocket::bind("127.0.0.1:0").unwrap();
    let peer_addr = peer.local_addr().unwrap();

    // Permission, Send indication out, Data indication back.
    d.client
        .create_permission(Instant::now(), peer_addr.ip())
        .unwrap();
    let created = d.until("permission", |e| {
        matches!(
            e,
            Event::PermissionCreated(_) | Event::PermissionFailed { .. }
        )
    });
    assert_eq!(created, Event::PermissionCreated(peer_addr.ip()));
    d.client.send_to(peer_addr, b"via Send indication").unwrap();
    d.flush();
    assert_eq!(
        peer_recv(&peer),
        (relayed, b"via Send indication".to_vec()),
        "{transport:?}"
    );
    peer.send_to(b"via Data indication", relayed).unwrap();
    let got = d.until("data indication", |e| matches!(e, Event::Data { .. }));
    assert_eq!(
        got,
        Event::Data {
            peer: peer_addr,
            data: Bytes::from_static(b"via Data indication")
        }
    );
    assert_eq!(d.channel_data_frames(transport.is_stream()), 0);

    // Channel, ChannelData both ways (odd lengths exercise the padding over streams).
    let channel = d.client.bind_channel(Instant::now(), peer_addr).unwrap();
    let bound = d.until("channel", |e| {
        matches!(
            e,
            Event::ChannelBound { .. } | Event::ChannelBindFailed { .. }
        )
    });
    assert_eq!(
        bound,
        Event::ChannelBound {
            peer: peer_addr,
            channel
        }
    );
    for (i, len) in [1usize, 5, 7, 1000].into_iter().enumerate() {
        let up = vec![i as u8 + 1; len];
        d.client.send_to(peer_addr, &up).unwrap();
        d.flush();
        assert_eq!(peer_recv(&peer), (relayed, up), "{transport:?}");
        let down = vec![i as u8 + 100; len + 2];
        peer.send_to(&down, relayed).unwrap();
        let got = d.until("channel data", |e| matches!(e, Event::Data { .. }));
        assert_eq!(
            got,
            Event::Data {
                peer: peer_addr,
                data: Bytes::from(down)
            }
        );
    }
    // coturn used the channel towards us (RFC 8656 section 12.5: it must).
    assert_eq!(
        d.channel_data_frames(transport.is_stream()),
        4,
        "{transport:?}"
    );
    assert!((ChannelData::MIN_CHANNEL..=ChannelData::MAX_CHANNEL).contains(&channel));

    d.client.deallocate(Instant::now()).unwrap();
    d.until("deallocation", |e| matches!(e, Event::Deallocated));
    assert!(!d.client.is_allocated());
    assert!(
        d.errors.is_empty(),
        "{transport:?}: errors {:?}\n{}",
        d.errors,
        server.log()
    );
}

#[test]
fn coturn_relays_over_udp() {
    let server = start_coturn();
    exchange_through_relay(&server, TurnTransport::Udp, 1);
}

#[test]
fn coturn_relays_over_tcp() {
    let server = start_coturn();
    exchange_through_relay(&server, TurnTransport::Tcp, 2);
}

#[test]
fn coturn_relays_over_tls() {
    let server = start_coturn();
    exchange_through_relay(&server, TurnTransport::Tls, 3);
}

#[test]
fn coturn_rejects_a_wrong_password() {
    let server = start_coturn();
    let (wire, addr) = connect(&server, TurnTransport::Udp);
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(4);
    let config = ClientConfig::new(addr, TurnTransport::Udp, USER, "not the password");
    let mut d = Driver {
        client: Client::new(config, &mut rng),
        wire,
        server: addr,
        events: Vec::new(),
        pending: std::collections::VecDeque::new(),
        received: Vec::new(),
        errors: Vec::new(),
    };
    d.client.allocate(Instant::now()).unwrap();
    let failed = d.until("failure", |e| {
        matches!(e, Event::Allocated { .. } | Event::AllocationFailed(_))
    });
    assert_eq!(
        failed,
        Event::AllocationFailed(ferrtc_stun_ice::turn::RequestError::Unauthenticated)
    );
}
