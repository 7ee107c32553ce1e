//! The driver: one tokio task per connection that moves datagrams between the sockets and a
//! sans-IO core, keeps its time, and applies the commands of its handles.
//!
//! The loop follows the verb contract of the core crates: after every input (a batch of
//! datagrams, a timeout, a command) it writes every `poll_transmit` (batched with GSO), then
//! hands every event to the [`Handler`], then sleeps until `poll_timeout`, a datagram or a
//! command, whichever comes first. `Instant::now()` is read here and nowhere else.
//!
//! Back-pressure towards the network: while the handler says a consumer's queue is full
//! ([`Handler::backpressure`]), the driver still reads the sockets but hands the core only
//! STUN (so ICE consent stays alive) and drops the rest (RFC 7983: DTLS and SRTP), until the
//! consumer makes room. SCTP sees the loss and retransmits what was dropped once reading
//! resumes: memory stays bounded whatever the peer sends, and a reader that is slow for a
//! while loses nothing of a reliable channel.
//!
//! When every handle is gone the command channel closes: the driver closes the core, sends
//! its goodbyes, and ends, dropping the sockets.
//!
//! The sockets are the connection's own ([`Io::Own`], the default), or one shared by many
//! connections ([`Io::Shared`], a [`UdpEndpoint`](crate::UdpEndpoint)): then the endpoint's
//! task reads the socket and hands this driver the datagrams routed to it, this driver sends
//! on the shared socket itself, and tells the endpoint its ICE credentials whenever they
//! change and each STUN request it sends, so the routing stays in step.
//!
//! Beside the sockets, a driver may hold byte streams to TURN servers ([`Streams`], TURN
//! over TCP and TLS): a transmit whose transport is a stream goes to the stream of its
//! destination, and what a stream brings goes to [`Core::handle_stream`]; a stream that
//! ends is told with [`Core::stream_ended`].
//!
//! And a driver may hold ICE-TCP candidates ([`IceTcp`], RFC 6544): a transmit whose source
//! is one of them goes to its TCP connection, and each frame a connection brings goes to
//! [`Core::handle_ice_tcp`].

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use bytes::BytesMut;
use ferrtc_types::Transmit;
use tokio::sync::{Notify, mpsc};
use tracing::Instrument;

use crate::endpoint::Attachment;
use crate::ice_tcp::{IceTcp, TcpInput};
use crate::net::{SendBatch, UdpSocket};
use crate::stream::{LinkInput, Streams};

/// Commands applied in one turn of the loop before the sockets are looked at again.
const MAX_COMMANDS_PER_TURN: usize = 64;

/// Receive batches (each up to `quinn-udp`'s 32 slots, more with GRO) read in one turn of
/// the loop before what they caused is sent and the commands and timers are looked at.
const MAX_BATCHES_PER_TURN: usize = 4;

/// Datagrams taken from a shared endpoint's queue in one turn of the loop (as many as
/// [`MAX_BATCHES_PER_TURN`] batches of 32 would hold).
const MAX_ROUTED_PER_TURN: usize = 128;

/// Where a driver's datagrams come from and go.
pub(crate) enum Io {
    /// Sockets of its own, one per address family.
    Own(Vec<UdpSocket>),
    /// A port of a shared [`UdpEndpoint`](crate::UdpEndpoint).
    Shared(Attachment),
}

impl Io {
    fn sockets(&self) -> &[UdpSocket] {
        match self {
            Io::Own(s) => s,
            Io::Shared(a) => std::slice::from_ref(a.socket()),
        }
    }
}

/// The verbs of a sans-IO core, as the driver uses them.
pub(crate) trait Core: Send + 'static {
    /// A datagram arrived. A drop is the core's business (it counts it).
    fn handle_receive(&mut self, now: Instant, local: SocketAddr, from: SocketAddr, d: BytesMut);
    /// Timers are due.
    fn handle_timeout(&mut self, now: Instant);
    /// The next datagram to send.
    fn poll_transmit(&mut self) -> Option<Transmit>;
    /// When `handle_timeout` is due.
    fn poll_timeout(&self) -> Option<Instant>;
    /// The next bytes from the stream to TURN server `server` over `transport` (TCP or
    /// TLS), a chunk of any size. While `stalled`, what is not STUN may be dropped.
    fn handle_stream(
        &mut self,
        _now: Instant,
        _server: SocketAddr,
        _transport: ferrtc_types::Transport,
        _chunk: BytesMut,
        _stalled: bool,
    ) {
    }
    /// One frame of an ICE-TCP connection between our TCP candidate `local` and `from`
    /// (RFC 6544, the RFC 4571 length prefix removed). `true` when the core accepted it
    /// (for STUN: a check that passed MESSAGE-INTEGRITY, or the response to one of ours).
    fn handle_ice_tcp(
        &mut self,
        _now: Instant,
        _local: SocketAddr,
        _from: SocketAddr,
        _frame: BytesMut,
    ) -> bool {
        false
    }
    /// The stream to TURN server `server` over `transport` ended (or never began).
    fn stream_ended(
        &mut self,
        _now: Instant,
        _server: SocketAddr,
        _transport: ferrtc_types::Transport,
        _error: crate::stream::StreamError,
    ) {
    }
    /// Logs the core's counters (at the end of the driver, for diagnosis).
    fn log_stats(&self) {}
    /// The local ICE credentials `(ufrag, pwd)` a shared endpoint routes Binding requests
    /// by: those of our descriptions and those the agent checks now (the same but while an
    /// ICE restart is half applied). `None`: the core has no ICE agent of its own.
    fn local_credentials(&self) -> Option<[(&str, &str); 2]> {
        None
    }
}

/// What the driver should do after a handler's step.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Flow {
    /// Keep running.
    Continue,
    /// The connection is closed: flush what is queued and end.
    Stop,
}

/// The connection-specific half of a driver: applies commands and routes events.
pub(crate) trait Handler<C: Core>: Send + 'static {
    /// A command from a handle.
    type Command: Send + 'static;
    /// Applies a command.
    fn command(&mut self, core: &mut C, now: Instant, cmd: Self::Command) -> Flow;
    /// Takes every event the core has.
    fn drain(&mut self, core: &mut C, now: Instant) -> Flow;
    /// `Some` while a consumer's queue is full: only STUN is read until it is notified.
    fn backpressure(&self) -> Option<Arc<Notify>>;
    /// Every handle is gone: close the core.
    fn shutdown(&mut self, core: &mut C, now: Instant);
}

/// The tokio clock as a std `Instant` (so a paused test clock drives the core too).
pub(crate) fn now() -> Instant {
    tokio::time::Instant::now().into_std()
}

/// Runs a core until it closes or its handles are gone. Spawn it.
///
/// The core goes on the heap once, here: an `async fn` keeps its arguments in its future
/// beside the locals they are moved into, so a core passed by value (a peer connection is
/// some 17 KiB inline) would sit in the task two or three times over.
pub(crate) fn run<C: Core, H: Handler<C>>(
    core: C,
    handler: H,
    io: Io,
    streams: Streams,
    tcp: IceTcp,
    commands: mpsc::UnboundedReceiver<H::Command>,
    span: tracing::Span,
) -> impl std::future::Future<Output = ()> + Send + 'static {
    drive(Box::new(core), handler, io, streams, tcp, commands).instrument(span)
}

async fn drive<C: Core, H: Handler<C>>(
    mut core: Box<C>,
    mut handler: H,
    mut io: Io,
    mut streams: Streams,
    mut tcp: IceTcp,
    mut commands: mpsc::UnboundedReceiver<H::Command>,
) {
    let mut batch = SendBatch::default();
    let mut stalled_drops: u64 = 0;
    // One timer for the whole life of the loop, moved when the core's deadline moves.
    let timer = tokio::time::sleep_until(tokio::time::Instant::now());
    tokio::pin!(timer);
    tracing::debug!(
        sockets = ?io.sockets().iter().map(UdpSocket::local_addr).collect::<Vec<_>>(),
        shared = matches!(io, Io::Shared(_)),
        "driver started"
    );
    loop {
        if flush(&mut *core, &io, &mut streams, &mut tcp, &mut batch)
            .await
            .is_err()
        {
            break;
        }
        if handler.drain(&mut *core, now()) == Flow::Stop {
            let _ = flush(&mut *core, &io, &mut streams, &mut tcp, &mut batch).await;
            break;
        }
        if let (Io::Shared(a), Some(c)) = (&mut io, core.local_credentials()) {
            a.update_credentials(c);
        }
        let deadline = core.poll_timeout().map(tokio::time::Instant::from_std);
        if let Some(d) = deadline {
            if timer.deadline() != d {
                timer.as_mut().reset(d);
            }
        }
        let stall = handler.backpressure();
        // No `biased`: a flood of commands must not starve the sockets, nor the reverse.
        let flow = tokio::select! {
            cmd = commands.recv() => match cmd {
                Some(cmd) => {
                    // Take what else is queued in the same turn (a burst of writes), up to
                    // a bound that keeps the sockets served.
                    let now = now();
                    let mut flow = handler.command(&mut *core, now, cmd);
                    for _ in 0..MAX_COMMANDS_PER_TURN {
                        if flow == Flow::Stop {
                            break;
                        }
                        match commands.try_recv() {
                            Ok(cmd) => flow = handler.command(&mut *core, now, cmd),
                            Err(_) => break,
                        }
                    }
                    flow
                }
                None => {
                    handler.shutdown(&mut *core, now());
                    let _ = flush(&mut *core, &io, &mut streams, &mut tcp, &mut batch).await;
                    tracing::debug!("every handle dropped: closed");
                    break;
                }
            },
            () = async {
                if let Some(n) = &stall { n.notified().await }
            }, if stall.is_some() => Flow::Continue,
            input = streams.recv(), if streams.is_open() => {
                match input {
                    Some(LinkInput::Data { link, chunk }) => {
                        if let Some((server, transport)) = streams.link(link) {
                            core.handle_stream(now(), server, transport, chunk, stall.is_some());
                        }
                    }
                    Some(LinkInput::Closed { link, error }) => {
                        if let Some((server, transport)) = streams.link(link) {
                            core.stream_ended(now(), server, transport, error);
                        }
                    }
                    None => {}
                }
                Flow::Continue
            },
            input = tcp.recv(), if tcp.is_open() => {
                if let Some(input) = input {
                    ice_tcp_input(&mut *core, &mut tcp, input, stall.is_some());
                }
                Flow::Continue
            },
            () = &mut timer, if deadline.is_some() => {
                core.handle_timeout(now());
                Flow::Continue
            },
            res = ready(&mut io) => match res.and_then(|r| match r {
                Ready::Socket(i) => receive(
                    &mut *core, &io.sockets()[i], stall.is_some(), &mut stalled_drops,
                ),
                Ready::Routed(first) => {
                    let Io::Shared(a) = &mut io else { return Ok(()) };
                    receive_routed(&mut *core, a, first, stall.is_some(), &mut stalled_drops);
                    Ok(())
                }
            }) {
                Ok(()) => Flow::Continue,
                Err(e) => {
                    tracing::warn!(error = %e, "socket failed: closing");
                    handler.shutdown(&mut *core, now());
                    Flow::Stop
                }
            },
        };
        if flow == Flow::Stop {
            let _ = flush(&mut *core, &io, &mut streams, &mut tcp, &mut batch).await;
            let _ = handler.drain(&mut *core, now());
            break;
        }
    }
    core.log_stats();
    tracing::debug!(
        stalled_drops,
        stream_dropped_writes = streams.dropped_writes,
        ice_tcp = ?tcp.stats,
        "driver ended"
    );
}

/// Applies what an ICE-TCP task reported: keeps an accepted connection, hands a frame to the
/// core (only STUN while `stalled`; a STUN message the core accepts authenticates the
/// connection), forgets a connection that ended.
fn ice_tcp_input<C: Core>(core: &mut C, tcp: &mut IceTcp, input: TcpInput, stalled: bool) {
    match input {
        TcpInput::Accepted {
            local,
            remote,
            stream,
        } => tcp.accepted(local, remote, stream),
        TcpInput::Frame { id, frame } => {
            let Some((local, remote)) = tcp.key(id) else {
                return;
            };
            let stun = ferrtc_stun_ice::framing::is_stun(&frame);
            if !stun && stalled {
                tcp.stats.stalled_drops += 1;
                return;
            }
            if !stun && !tcp.is_authenticated(id) {
                // The task checks this too; a frame it let through just before it learnt
                // otherwise cannot be, since only the driver authenticates.
                tcp.close(id, &crate::ice_tcp::IceTcpError::NotStun);
                return;
            }
            tcp.stats.frames_in += 1;
            if core.handle_ice_tcp(now(), local, remote, frame) && stun {
                tcp.authenticate(id);
            }
        }
        TcpInput::Closed { id, error } => tcp.ended(id, &error),
    }
}

/// Hands the core what a readable socket holds: batches read back to back until the
/// socket is empty or [`MAX_BATCHES_PER_TURN`] were read, so the replies to all of them
/// leave together in the next flush. While `stalled`, only STUN goes in.
fn receive<C: Core>(
    core: &mut C,
    socket: &UdpSocket,
    stalled: bool,
    stalled_drops: &mut u64,
) -> std::io::Result<()> {
    for _ in 0..MAX_BATCHES_PER_TURN {
        let now = now();
        let n = socket.try_recv(|r| {
            // RFC 7983 §7: a first byte of 0 to 3 is STUN.
            if !stalled || r.datagram.first().is_some_and(|&b| b < 4) {
                core.handle_receive(now, r.local, r.from, r.datagram);
            } else {
                *stalled_drops += 1;
            }
        })?;
        if n == 0 {
            break;
        }
    }
    Ok(())
}

/// Hands the core what the shared endpoint routed to it: `first` and what else waits, up
/// to [`MAX_ROUTED_PER_TURN`]. While `stalled`, only STUN goes in.
fn receive_routed<C: Core>(
    core: &mut C,
    attachment: &mut Attachment,
    first: crate::net::Received,
    stalled: bool,
    stalled_drops: &mut u64,
) {
    let mut r = first;
    for taken in 1.. {
        // RFC 7983 §7: a first byte of 0 to 3 is STUN.
        if !stalled || r.datagram.first().is_some_and(|&b| b < 4) {
            core.handle_receive(now(), r.local, r.from, r.datagram);
        } else {
            *stalled_drops += 1;
        }
        if taken >= MAX_ROUTED_PER_TURN {
            break;
        }
        match attachment.try_recv() {
            Some(next) => r = next,
            None => break,
        }
    }
}

/// Writes every queued transmit: datagrams on the sockets, stream bytes to their stream's
/// queue. On a shared endpoint each STUN request is noted with it, so that its response
/// finds us.
async fn flush<C: Core>(
    core: &mut C,
    io: &Io,
    streams: &mut Streams,
    tcp: &mut IceTcp,
    batch: &mut SendBatch,
) -> std::io::Result<()> {
    // The next datagram; stream bytes on the way are handed to their stream, or to their
    // ICE-TCP connection.
    let mut next = || {
        loop {
            let t = core.poll_transmit()?;
            if tcp.owns(&t) {
                tcp.send(&t);
            } else if t.transport.is_stream() {
                streams.send(t);
            } else {
                return Some(t);
            }
        }
    };
    let res = match io {
        Io::Own(sockets) => batch.send_all(sockets, next).await,
        Io::Shared(a) => {
            batch
                .send_all(std::slice::from_ref(a.socket()), || {
                    let t = next();
                    if let Some(t) = &t {
                        a.note_transmit(t);
                    }
                    t
                })
                .await
        }
    };
    if let Err(e) = &res {
        tracing::warn!(error = %e, "send failed");
    }
    res
}

/// What [`ready`] found.
enum Ready {
    /// Own socket `i` may be read.
    Socket(usize),
    /// The shared endpoint routed a datagram to us.
    Routed(crate::net::Received),
}

/// Waits until there is something to read.
async fn ready(io: &mut Io) -> std::io::Result<Ready> {
    match io {
        Io::Own(sockets) => readable_any(sockets).await.map(Ready::Socket),
        Io::Shared(a) => a.recv().await.map(Ready::Routed).ok_or_else(|| {
            std::io::Error::new(std::io::ErrorKind::BrokenPipe, "the shared endpoint ended")
        }),
    }
}

/// Waits until one of the sockets may be read; returns its index.
async fn readable_any(sockets: &[UdpSocket]) -> std::io::Result<usize> {
    match sockets {
        [a] => a.readable().await.map(|()| 0),
        [a, b] => tokio::select! {
            r = a.readable() => r.map(|()| 0),
            r = b.readable() => r.map(|()| 1),
        },
        // No socket (no host address): nothing ever arrives.
        _ => std::future::pending().await,
    }
}

#[cfg(test)]
mod tests {
    //! The driver under two bundled transports (the core below the peer connection) over
    //! real loopback UDP, with the signalling a test would do by hand.

    use super::*;
    use crate::net;
    use bytes::Bytes;
    use ferrtc_dtls::Certificate;
    use ferrtc_peerconnection::transport::*;
    use ferrtc_sctp_datachannel::ChannelOptions;
    use ferrtc_stun_ice::ice::{self, IceRole};
    use ferrtc_types::{DtlsRole, HashAlgorithm};
    use rand::SeedableRng;
    use std::time::Duration;

    impl Core for BundleTransport {
        fn handle_receive(
            &mut self,
            now: Instant,
            local: SocketAddr,
            from: SocketAddr,
            d: BytesMut,
        ) {
            let _ = BundleTransport::handle_receive(self, now, local, from, d);
        }
        fn handle_timeout(&mut self, now: Instant) {
            BundleTransport::handle_timeout(self, now);
        }
        fn poll_transmit(&mut self) -> Option<Transmit> {
            BundleTransport::poll_transmit(self)
        }
        fn poll_timeout(&self) -> Option<Instant> {
            BundleTransport::poll_timeout(self)
        }
    }

    enum Cmd {
        Start(TransportParameters, Vec<SocketAddr>),
        Candidate(ferrtc_sdp::Candidate),
        Open(&'static str),
        Send(u16, Bytes),
    }

    struct Forward(mpsc::UnboundedSender<TransportEvent>);

    impl Handler<BundleTransport> for Forward {
        type Command = Cmd;
        fn command(&mut self, core: &mut BundleTransport, now: Instant, cmd: Cmd) -> Flow {
            match cmd {
                Cmd::Start(p, hosts) => {
                    core.start(now, p).unwrap();
                    for h in hosts {
                        core.add_local_address(now, h).unwrap();
                    }
                    core.end_of_local_addresses(now);
                }
                Cmd::Candidate(c) => core.add_remote_candidate(now, &c).unwrap(),
                Cmd::Open(label) => {
                    core.open_channel(now, ChannelOptions::new(label)).unwrap();
                }
                Cmd::Send(id, data) => core.send_message(now, id, data, true).unwrap(),
            }
            Flow::Continue
        }
        fn drain(&mut self, core: &mut BundleTransport, _now: Instant) -> Flow {
            while let Some(ev) = core.poll_event() {
                let _ = self.0.send(ev);
            }
            Flow::Continue
        }
        fn backpressure(&self) -> Option<Arc<Notify>> {
            None
        }
        fn shutdown(&mut self, core: &mut BundleTransport, now: Instant) {
            core.close(now);
        }
    }

    struct Side {
        cmd: mpsc::UnboundedSender<Cmd>,
        events: mpsc::UnboundedReceiver<TransportEvent>,
        hosts: Vec<SocketAddr>,
        task: tokio::task::JoinHandle<()>,
    }

    fn side(t: BundleTransport) -> Side {
        let addrs = net::HostAddresses::loopback().resolve().unwrap();
        let sockets = net::bind_sockets(&addrs).unwrap();
        let hosts = net::host_candidates(&addrs, &sockets);
        let (cmd, rx) = mpsc::unbounded_channel();
        let (etx, events) = mpsc::unbounded_channel();
        let task = tokio::spawn(run(
            t,
            Forward(etx),
            Io::Own(sockets),
            Streams::default(),
            IceTcp::default(),
            rx,
            tracing::Span::none(),
        ));
        Side {
            cmd,
            events,
            hosts,
            task,
        }
    }

    async fn next_matching<T>(
        s: &mut Side,
        mut f: impl FnMut(&TransportEvent) -> Option<T>,
        out: &mut Vec<ferrtc_sdp::Candidate>,
    ) -> T {
        let fut = async {
            loop {
                let ev = s.events.recv().await.expect("driver alive");
                if let TransportEvent::LocalCandidate(c) = &ev {
                    out.push(c.clone());
                }
                if let Some(v) = f(&ev) {
                    return v;
                }
            }
        };
        tokio::time::timeout(Duration::from_secs(20), fut)
            .await
            .expect("event in time")
    }

    #[tokio::test]
    async fn two_bundle_transports_over_loopback_udp() {
        let rng = |seed| Box::new(rand_chacha::ChaCha20Rng::seed_from_u64(seed));
        let (ca, cb) = (
            Arc::new(Certificate::generate().unwrap()),
            Arc::new(Certificate::generate().unwrap()),
        );
        let now = now();
        let ta = BundleTransport::new(TransportConfig::new(ca.clone()), now, rng(1));
        let tb = BundleTransport::new(TransportConfig::new(cb.clone()), now, rng(2));
        let (cred_a, cred_b) = (
            ta.local_credentials().clone(),
            tb.local_credentials().clone(),
        );
        let sctp = Some(SctpParameters {
            local_port: 5000,
            remote_port: 5000,
            remote_max_message_size: 0,
        });
        let mut a = side(ta);
        let mut b = side(tb);
        let pa = TransportParameters {
            ice_role: IceRole::Controlling,
            dtls_role: DtlsRole::Server,
            remote_credentials: cred_b,
            remote_fingerprints: vec![cb.fingerprint(HashAlgorithm::Sha256)],
            sctp,
        };
        let pb = TransportParameters {
            ice_role: IceRole::Controlled,
            dtls_role: DtlsRole::Client,
            remote_credentials: cred_a,
            remote_fingerprints: vec![ca.fingerprint(HashAlgorithm::Sha256)],
            sctp,
        };
        a.cmd.send(Cmd::Start(pa, a.hosts.clone())).ok().unwrap();
        b.cmd.send(Cmd::Start(pb, b.hosts.clone())).ok().unwrap();
        let (mut ca_out, mut cb_out) = (Vec::new(), Vec::new());
        let done = |e: &TransportEvent| {
            matches!(
                e,
                TransportEvent::IceGatheringState(ice::GatheringState::Complete)
            )
            .then_some(())
        };
        next_matching(&mut a, done, &mut ca_out).await;
        next_matching(&mut b, done, &mut cb_out).await;
        assert!(!ca_out.is_empty() && !cb_out.is_empty());
        for c in ca_out.drain(..) {
            b.cmd.send(Cmd::Candidate(c)).ok().unwrap();
        }
        for c in cb_out.drain(..) {
            a.cmd.send(Cmd::Candidate(c)).ok().unwrap();
        }
        a.cmd.send(Cmd::Open("chat")).ok().unwrap();
        let id = next_matching(
            &mut a,
            |e| match e {
                TransportEvent::Channel(ChannelEvent::Open { id, .. }) => Some(*id),
                _ => None,
            },
            &mut ca_out,
        )
        .await;
        for i in 0..100u32 {
            a.cmd
                .send(Cmd::Send(id, Bytes::from(format!("m{i}"))))
                .ok()
                .unwrap();
        }
        let mut got = Vec::new();
        while got.len() < 100 {
            let m = next_matching(
                &mut b,
                |e| match e {
                    TransportEvent::Channel(ChannelEvent::Message { data, .. }) => {
                        Some(data.clone())
                    }
                    _ => None,
                },
                &mut cb_out,
            )
            .await;
            got.push(m);
        }
        for (i, m) in got.iter().enumerate() {
            assert_eq!(&m[..], format!("m{i}").as_bytes());
        }
        // Dropping the only handle ends the task.
        drop(a.cmd);
        tokio::time::timeout(Duration::from_secs(10), a.task)
            .await
            .expect("task ends")
            .unwrap();
        drop(b);
    }
}
