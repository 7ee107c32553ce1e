//! Interop: our ICE agent against aiortc's ICE library `aioice` (PyPI, pinned by
//! `cargo xtask test`), a real process on 127.0.0.1, in both roles, against our lite
//! agent, and with both starting controlling (each tie-breaker outcome). The peer is
//! `tests/aioice_peer.py`; the two exchange credentials and candidates over its
//! stdin/stdout. Our side is a `std::net::UdpSocket` driven by a loop that blocks on the
//! socket until the agent's next timer. Once both agents report the connection, aioice
//! sends a datagram on its nominated pair, echoes ours, and the consent checks of both
//! (RFC 7675) are answered.
//!
//! The interpreter is `FERRTC_INTEROP_PYTHON` (set by `cargo xtask test`), else
//! `target/interop-venv/bin/python` of this workspace; without either the test fails.

use std::io::{BufRead, BufReader, ErrorKind, Read, Write};
use std::net::{SocketAddr, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use ferrtc_stun_ice::ice::{
    Agent, Candidate, ConnectionState, Credentials, Foundation, IceConfig, IceEvent, IceRole,
    IceStats, ReceiveError, SelectedPair, Transport, is_stun,
};
use rand::SeedableRng;

/// Wall-clock bound on gathering, signalling and connecting.
const CONNECT_LIMIT: Duration = Duration::from_secs(20);
/// Wall-clock bound on the data exchange and the first consent checks of both sides
/// (aioice checks every 4 to 6 s, we every 4 to 4.8 s with `consent_interval` at 4 s).
const CONSENT_LIMIT: Duration = Duration::from_secs(15);
/// Datagrams we send for aioice to echo.
const PINGS: u8 = 5;
/// What aioice sends on its nominated pair once `connect()` returned (see the script).
const HELLO: &[u8] = b"\x80hello from aioice";

// ----- the aioice process -----

fn python() -> PathBuf {
    let path = match std::env::var_os("FERRTC_INTEROP_PYTHON") {
        Some(p) => PathBuf::from(p),
        None => Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/interop-venv/bin/python"),
    };
    assert!(
        path.exists(),
        "no Python with aioice at {}: run the tests with `cargo xtask test`, which creates \
         target/interop-venv with aioice and sets FERRTC_INTEROP_PYTHON",
        path.display()
    );
    path
}

/// A running `aioice_peer.py`, killed on drop.
struct Peer {
    child: Child,
    stdin: Option<ChildStdin>,
    /// Its stdout, line by line; disconnected at end of file.
    lines: Receiver<String>,
    /// Its stderr (aioice's log), shown when the test fails.
    log: Arc<Mutex<String>>,
    log_reader: Option<JoinHandle<()>>,
}

impl Drop for Peer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Peer {
    /// Starts aioice in the given role, with a tie-breaker of ours or else its own random
    /// one.
    fn spawn(controlling: bool, tie_breaker: Option<u64>) -> Peer {
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/aioice_peer.py");
        let mut command = Command::new(python());
        command.arg("-u").arg(&script).arg(if controlling {
            "controlling"
        } else {
            "controlled"
        });
        if let Some(t) = tie_breaker {
            command.arg(t.to_string());
        }
        let mut child = command
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", script.display()));
        // Both pipes were asked for just above.
        let stdout = child.stdout.take().expect("piped stdout");
        let mut stderr = child.stderr.take().expect("piped stderr");
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let log = Arc::new(Mutex::new(String::new()));
        let sink = log.clone();
        let log_reader = std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n) = stderr.read(&mut buf) {
                if n == 0 {
                    break;
                }
                if let Ok(mut l) = sink.lock() {
                    l.push_str(&String::from_utf8_lossy(&buf[..n]));
                }
            }
        });
        Peer {
            stdin: child.stdin.take(),
            child,
            lines,
            log,
            log_reader: Some(log_reader),
        }
    }

    fn log(&self) -> String {
        self.log.lock().map(|l| l.clone()).unwrap_or_default()
    }

    fn send(&mut self, line: &str) {
        let stdin = self.stdin.as_mut().expect("stdin is open until the end");
        writeln!(stdin, "{line}")
            .and_then(|()| stdin.flush())
            .unwrap_or_else(|e| panic!("writing to aioice: {e}\n{}", self.log()));
    }

    /// The next line, split into its first word and the rest; fails past `deadline`, at
    /// end of output and on an `error` line.
    fn line(&self, deadline: Instant) -> (String, String) {
        let wait = deadline.saturating_duration_since(Instant::now());
        let line = match self.lines.recv_timeout(wait) {
            Ok(line) => line,
            Err(RecvTimeoutError::Timeout) => {
                panic!("aioice said nothing in time\n{}", self.log())
            }
            Err(RecvTimeoutError::Disconnected) => {
                panic!(
                    "aioice ended its output (is aioice installed? `cargo xtask test` sets \
                     up target/interop-venv)\n{}",
                    self.log()
                )
            }
        };
        self.parse(line)
    }

    /// A line already written, if any.
    fn try_line(&self) -> Option<(String, String)> {
        self.lines.try_recv().ok().map(|l| self.parse(l))
    }

    fn parse(&self, line: String) -> (String, String) {
        let (word, rest) = line.split_once(' ').unwrap_or((&line, ""));
        assert_ne!(word, "error", "aioice failed: {rest}\n{}", self.log());
        (word.to_owned(), rest.to_owned())
    }

    /// Ends the session: `bye`, its answer (the number of datagrams it echoed), end of
    /// output and a successful exit.
    fn bye(mut self, deadline: Instant) -> u32 {
        self.send("bye");
        let (word, rest) = self.line(deadline);
        assert_eq!(word, "bye", "{rest}");
        let echoed = rest.parse().expect("bye N");
        self.stdin = None;
        let wait = deadline.saturating_duration_since(Instant::now());
        assert_eq!(
            self.lines.recv_timeout(wait),
            Err(RecvTimeoutError::Disconnected),
            "aioice output ends after bye"
        );
        let status = self.child.wait().expect("wait for aioice");
        if let Some(reader) = self.log_reader.take() {
            let _ = reader.join();
        }
        assert!(status.success(), "aioice exit: {status}\n{}", self.log());
        echoed
    }
}

/// aioice's description: credentials and its host candidate(s).
struct Description {
    creds: Credentials,
    candidates: Vec<Candidate>,
}

/// Reads `ufrag`, `pwd`, `candidate` lines up to `end-of-candidates`.
fn read_description(peer: &Peer, deadline: Instant) -> Description {
    let (mut ufrag, mut pwd) = (None, None);
    let mut candidates = Vec::new();
    loop {
        let (word, rest) = peer.line(deadline);
        match word.as_str() {
            "ufrag" => ufrag = Some(rest),
            "pwd" => pwd = Some(rest),
            "candidate" => candidates.push(parse_candidate(&rest)),
            "end-of-candidates" => break,
            _ => panic!("unexpected line from aioice: {word} {rest}"),
        }
    }
    let creds = Credentials::new(&ufrag.expect("ufrag"), &pwd.expect("pwd"))
        .expect("aioice credentials are valid ice-chars");
    assert!(!candidates.is_empty(), "aioice gathered a candidate");
    Description { creds, candidates }
}

/// An RFC 8839 §5.1 candidate value as aioice writes it:
/// `FOUNDATION COMPONENT udp PRIORITY IP PORT typ host`.
fn parse_candidate(sdp: &str) -> Candidate {
    let f: Vec<&str> = sdp.split(' ').collect();
    assert!(
        f.len() >= 8 && f[2] == "udp" && f[6] == "typ" && f[7] == "host",
        "aioice gathers UDP host candidates only here: {sdp}"
    );
    let address = SocketAddr::new(f[4].parse().expect("IP"), f[5].parse().expect("port"));
    assert_eq!(address.ip().to_string(), "127.0.0.1", "loopback only");
    let foundation = Foundation::new(f[0]).expect("foundation of ice-chars");
    let mut cand = Candidate::host(address, f[1].parse().expect("component"), 0, foundation);
    cand.priority = f[3].parse().expect("priority");
    cand
}

// ----- our side -----

/// Our agent on a real UDP socket, recording what it reports and what arrives.
struct Driver {
    socket: UdpSocket,
    local: SocketAddr,
    agent: Agent,
    states: Vec<ConnectionState>,
    selected: Vec<SelectedPair>,
    local_candidates: Vec<Candidate>,
    /// Non-STUN datagrams, with their source.
    data: Vec<(SocketAddr, Vec<u8>)>,
    /// Errors `handle_receive` returned.
    errors: Vec<ReceiveError>,
}

impl Driver {
    fn new(config: IceConfig, seed: u64) -> Driver {
        let socket = UdpSocket::bind("127.0.0.1:0").expect("bind 127.0.0.1");
        let local = socket.local_addr().expect("local address");
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
        let mut agent = Agent::new(config, Instant::now(), &mut rng);
        agent.add_local_host_address(local).expect("host address");
        agent.end_of_local_host_addresses();
        let mut d = Driver {
            socket,
            local,
            agent,
            states: Vec::new(),
            selected: Vec::new(),
            local_candidates: Vec::new(),
            data: Vec::new(),
            errors: Vec::new(),
        };
        d.flush();
        d
    }

    /// Sends what the agent has to send and records its events.
    fn flush(&mut self) {
        while let Some(t) = self.agent.poll_transmit() {
            assert_eq!(t.source, Some(self.local), "our only base");
            self.socket
                .send_to(&t.contents, t.destination)
                .expect("send on loopback");
        }
        while let Some(e) = self.agent.poll_event() {
            match e {
                IceEvent::LocalCandidate(c) => self.local_candidates.push(c),
                IceEvent::ConnectionStateChange(s) => self.states.push(s),
                IceEvent::SelectedPairChange(p) => self.selected.push(p),
                _ => {}
            }
        }
    }

    /// One turn of the run loop: waits on the socket until a datagram arrives, the agent's
    /// next timer or `until`, whichever is first, hands STUN to the agent, keeps the rest,
    /// runs due timers and sends what results.
    fn turn(&mut self, until: Instant) {
        self.flush();
        let wake = self.agent.poll_timeout().map_or(until, |t| t.min(until));
        // A zero read timeout is refused by the socket: wait at least a millisecond.
        let wait = wake
            .saturating_duration_since(Instant::now())
            .max(Duration::from_millis(1));
        self.socket
            .set_read_timeout(Some(wait))
            .expect("set read timeout");
        let mut buf = [0u8; 2048];
        match self.socket.recv_from(&mut buf) {
            Ok((n, from)) => {
                let datagram = &buf[..n];
                if is_stun(datagram) {
                    let now = Instant::now();
                    if let Err(e) =
                        self.agent
                            .handle_receive(now, Transport::Udp, self.local, from, datagram)
                    {
                        self.errors.push(e);
                    }
                } else {
                    self.data.push((from, datagram.to_vec()));
                }
            }
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
            Err(e) => panic!("receiving on {}: {e}", self.local),
        }
        let now = Instant::now();
        if self.agent.poll_timeout().is_some_and(|t| t <= now) {
            self.agent.handle_timeout(now);
        }
        self.flush();
    }

    fn stats(&self) -> IceStats {
        self.agent.stats()
    }
}

// ----- the scenario -----

/// What the scenario varies: our agent's configuration, aioice's role and tie-breaker.
struct Roles {
    ours: IceConfig,
    aioice_controlling: bool,
    aioice_tie_breaker: Option<u64>,
}

impl Roles {
    /// Both start in the same role: one of them must yield (RFC 8445 §7.3.1.1).
    fn conflict(&self) -> bool {
        self.aioice_controlling == (self.ours.role == IceRole::Controlling)
    }
}

/// aioice's report once its `connect()` returned.
struct TheirPair {
    role: String,
    local: SocketAddr,
    remote: SocketAddr,
}

fn parse_connected(rest: &str) -> TheirPair {
    let f: Vec<&str> = rest.split(' ').collect();
    assert_eq!(f.len(), 5, "connected ROLE HOST PORT HOST PORT: {rest}");
    let addr = |h: &str, p: &str| SocketAddr::new(h.parse().expect("IP"), p.parse().expect("port"));
    TheirPair {
        role: f[0].to_owned(),
        local: addr(f[1], f[2]),
        remote: addr(f[3], f[4]),
    }
}

fn run(roles: Roles, seed: u64) {
    let start = Instant::now();
    let connect_deadline = start + CONNECT_LIMIT;
    let lite = roles.ours.lite;
    let our_role = roles.ours.role;
    let conflict = roles.conflict();

    let mut peer = Peer::spawn(roles.aioice_controlling, roles.aioice_tie_breaker);
    let theirs = read_description(&peer, connect_deadline);
    assert_eq!(theirs.candidates.len(), 1, "one loopback host candidate");
    let their_addr = theirs.candidates[0].address;

    let mut d = Driver::new(roles.ours, seed);
    d.agent
        .set_remote_credentials(theirs.creds.clone())
        .expect("credentials");
    for c in &theirs.candidates {
        d.agent.add_remote_candidate(c.clone()).expect("candidate");
    }
    d.agent.end_of_remote_candidates();
    d.flush();

    // Our description, after which aioice runs connect().
    let ours = d.agent.local_credentials().clone();
    peer.send(&format!("ufrag {}", ours.ufrag));
    peer.send(&format!("pwd {}", ours.pwd));
    assert_eq!(d.local_candidates.len(), 1, "one host candidate");
    for c in &d.local_candidates {
        assert_eq!(c.address, d.local);
        peer.send(&format!("candidate {}", c.to_sdp_value()));
    }
    peer.send("end-of-candidates");

    // Connect: until our agent completes and aioice's hello arrives on its nominated pair.
    // aioice reports its connection just before sending the hello, whose arrival wakes
    // our socket; its report is read when already there, else awaited once we are done.
    let mut their_pair = None;
    while d.agent.connection_state() != ConnectionState::Completed || d.data.is_empty() {
        assert!(
            Instant::now() < connect_deadline,
            "no connection within {CONNECT_LIMIT:?}: states {:?}, stats {:?}, errors {:?}, \
             data {:?}\n{}",
            d.states,
            d.stats(),
            d.errors,
            d.data,
            peer.log()
        );
        if their_pair.is_none()
            && let Some((word, rest)) = peer.try_line()
        {
            assert_eq!(word, "connected", "{rest}");
            their_pair = Some(parse_connected(&rest));
        }
        d.turn(connect_deadline);
    }
    let their_pair = their_pair.unwrap_or_else(|| {
        let (word, rest) = peer.line(connect_deadline);
        assert_eq!(word, "connected", "{rest}");
        parse_connected(&rest)
    });
    let connected_at = Instant::now();

    // Both agents picked the one pair there is, the roles held, and aioice's first
    // datagram came from its candidate.
    let pair = d.agent.selected_pair().expect("a selected pair").clone();
    assert_eq!(pair.local.base, d.local);
    assert_eq!(pair.remote.address, their_addr, "aioice's candidate");
    assert!(pair.nominated);
    assert_eq!(d.selected.last(), Some(&pair));
    assert_eq!((their_pair.local, their_pair.remote), (their_addr, d.local));
    let they_control = match their_pair.role.as_str() {
        "controlling" => true,
        "controlled" => false,
        other => panic!("aioice role {other}"),
    };
    let we_control = d.agent.role() == IceRole::Controlling;
    assert_ne!(they_control, we_control, "one controls, the other follows");
    if !conflict {
        assert_eq!(
            they_control, roles.aioice_controlling,
            "aioice kept its role"
        );
        assert_eq!(d.agent.role(), our_role, "we kept ours");
    } else {
        // Both controlling: the larger tie-breaker keeps the role (RFC 8445 §7.3.1.1).
        // Ours is random, so aioice gets one of the extremes.
        match roles.aioice_tie_breaker {
            Some(0) => assert!(we_control, "aioice's tie-breaker 0 loses"),
            Some(u64::MAX) => {
                assert!(they_control, "aioice's tie-breaker 2^64-1 wins");
                assert!(
                    d.stats().role_conflicts >= 1,
                    "we saw the conflict: aioice answered 487 or sent ICE-CONTROLLING"
                );
            }
            _ => {}
        }
    }
    assert_eq!(d.data, [(their_addr, HELLO.to_vec())]);
    d.data.clear();

    // Data on the selected pair (RTP-range first byte, RFC 7983; shorter than a STUN
    // header so aioice's parser never takes it for STUN), echoed by aioice.
    let pings: Vec<Vec<u8>> = (0..PINGS)
        .map(|i| [&[0x80][..], format!("ping {i}").as_bytes()].concat())
        .collect();
    for p in &pings {
        assert!(!is_stun(p));
        d.socket.send_to(p, pair.remote.address).expect("send data");
    }

    // Consent (RFC 7675): each side's checks on the selected pair are answered by the
    // other. A lite agent sends none (RFC 8445 §2.5), it only answers.
    let answered_at_connect = d.stats().responses_sent;
    let consent_deadline = connected_at + CONSENT_LIMIT;
    let done = |d: &Driver| {
        d.data.len() >= pings.len()
            && d.stats().responses_sent > answered_at_connect
            && (lite || d.stats().consent_responses >= 1)
    };
    while !done(&d) {
        assert!(
            Instant::now() < consent_deadline,
            "echoes and consent not done within {CONSENT_LIMIT:?}: data {:?}, stats {:?}, \
             states {:?}\n{}",
            d.data,
            d.stats(),
            d.states,
            peer.log()
        );
        d.turn(consent_deadline);
    }
    let echoes: Vec<(SocketAddr, Vec<u8>)> = pings
        .iter()
        .map(|p| (their_addr, [b"echo:".as_slice(), p].concat()))
        .collect();
    assert_eq!(
        d.data, echoes,
        "every datagram echoed, in order, from aioice's candidate"
    );

    let stats = d.stats();
    assert!(d.errors.is_empty(), "{:?}", d.errors);
    assert_eq!(
        (
            stats.bad_integrity,
            stats.unknown_username,
            stats.missing_credentials,
            stats.malformed,
        ),
        (0, 0, 0, 0),
        "{stats:?}"
    );
    if !conflict {
        assert_eq!(stats.role_conflicts, 0, "{stats:?}");
    }
    use ConnectionState::*;
    if lite {
        assert_eq!(
            (stats.checks_sent, stats.consent_checks_sent),
            (0, 0),
            "a lite agent sends no check"
        );
    }
    // aioice nominates aggressively (USE-CANDIDATE on every check it sends as
    // controlling): for a lite agent its first check makes the pair valid and nominated at
    // once, and the agent still reports Checking first, as the W3C state machine says.
    assert_eq!(d.states, [Checking, Connected, Completed], "{stats:?}");
    assert_eq!(d.selected.last(), Some(&pair), "the pair never changed");

    let echoed = peer.bye(connected_at + CONSENT_LIMIT + Duration::from_secs(5));
    assert_eq!(echoed, u32::from(PINGS));
}

#[test]
fn we_control_aioice_follows() {
    run(
        Roles {
            ours: IceConfig {
                role: IceRole::Controlling,
                consent_interval: Duration::from_secs(4),
                ..IceConfig::default()
            },
            aioice_controlling: false,
            aioice_tie_breaker: None,
        },
        1,
    );
}

#[test]
fn aioice_controls_we_follow() {
    run(
        Roles {
            ours: IceConfig {
                role: IceRole::Controlled,
                consent_interval: Duration::from_secs(4),
                ..IceConfig::default()
            },
            aioice_controlling: true,
            aioice_tie_breaker: None,
        },
        2,
    );
}

#[test]
fn our_lite_agent_serves_aioice() {
    run(
        Roles {
            ours: IceConfig {
                role: IceRole::Controlled,
                lite: true,
                ..IceConfig::default()
            },
            aioice_controlling: true,
            aioice_tie_breaker: None,
        },
        3,
    );
}

/// Both start controlling; aioice's tie-breaker is given.
fn both_controlling(aioice_tie_breaker: u64) -> Roles {
    Roles {
        ours: IceConfig {
            role: IceRole::Controlling,
            consent_interval: Duration::from_secs(4),
            ..IceConfig::default()
        },
        aioice_controlling: true,
        aioice_tie_breaker: Some(aioice_tie_breaker),
    }
}

#[test]
fn role_conflict_we_keep_control() {
    run(both_controlling(0), 4);
}

#[test]
fn role_conflict_aioice_keeps_control() {
    run(both_controlling(u64::MAX), 5);
}
