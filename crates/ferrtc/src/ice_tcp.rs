//! ICE-TCP (RFC 6544): the TCP host candidates of a connection and their connections.
//!
//! With [`Configuration::ice_tcp`](crate::Configuration::ice_tcp) on, each host address gets
//! a passive candidate (a [`TcpListener`](tokio::net::TcpListener) on a port the OS picks)
//! and an active one (the address with port 9, RFC 6544 §4.5: it only connects out). The
//! core's agent pairs them with the peer's TCP candidates (passive with active, active with
//! passive) and sends its checks and, once a TCP pair is selected, DTLS and SRTP on them as
//! [`Transmit`]s whose transport is TCP and whose source is the candidate.
//!
//! A connection is keyed by `(local candidate, remote address)`. A passive candidate's
//! connections are those its listener accepts (the remote address is the peer's ephemeral
//! port, which the agent learns as a peer-reflexive candidate from the first check); an
//! active candidate's are opened when the agent first sends to a remote passive candidate.
//! Each connection is a task of its own that frames every datagram with its 16-bit length
//! (RFC 4571, the framer of `ferrtc-stun-ice`) and takes frames out of what it reads; the
//! driver hands each frame to the core as a datagram received over TCP from the connection's
//! remote address on its local candidate.
//!
//! Everything a peer can send is bounded: at most [`MAX_CONNECTIONS`] connections per peer
//! connection (more are closed at once and counted), frames of at most [`MAX_FRAME_LEN`]
//! bytes (a longer length prefix closes the connection), at most [`MAX_QUEUED_FRAMES`]
//! frames of all connections waiting for the driver (past that the tasks stop reading and
//! TCP's flow control holds the peer back) and [`MAX_QUEUED_WRITES`] writes per connection
//! (more are dropped and counted, as UDP would lose them). A connection must prove it is the
//! peer's: until the core has accepted a STUN message on it (a check with our password's
//! MESSAGE-INTEGRITY, or the response to one of our checks), a frame that is not STUN
//! closes it, and so does [`UNAUTHENTICATED_TIMEOUT`] without one. Every close is counted
//! in [`IceTcpStats`] by its [`IceTcpError`].
//!
//! The driver owns all of it: dropping the driver aborts the listener tasks and ends every
//! connection task (their write queues close), so the sockets close with the peer
//! connection.

use std::collections::HashMap;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use bytes::{Buf, Bytes, BytesMut};
use ferrtc_stun_ice::framing::{is_stun, rfc4571};
use ferrtc_types::{TcpType, Transmit, Transport};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

/// The port of an active TCP candidate in SDP: RFC 6544 §4.5 says to use the discard port 9,
/// since an active candidate never accepts a connection.
pub(crate) const ACTIVE_PORT: u16 = 9;

/// The most ICE-TCP connections (accepted and opened together) one peer connection keeps;
/// one more is closed at once and counted. Our choice: a peer needs one per pair it checks
/// (a browser opens one per remote passive candidate and local interface).
pub(crate) const MAX_CONNECTIONS: usize = 16;

/// The longest frame a connection accepts: RFC 4571's 16-bit length could say 65,535, but
/// what travels is what would otherwise be a UDP datagram, and the UDP side reads at most
/// 2,048 bytes a datagram (browsers keep to 1,200-1,500). A longer length closes the
/// connection ([`IceTcpError::FrameTooLong`]) rather than make us buffer it.
pub(crate) const MAX_FRAME_LEN: usize = 8 * 1024;

/// Frames of all connections that may wait for the driver; past that each connection task
/// waits, and stops reading.
pub(crate) const MAX_QUEUED_FRAMES: usize = 64;

/// Writes (each one datagram's frame, or a run of them) that may wait for one connection;
/// more are dropped and counted.
pub(crate) const MAX_QUEUED_WRITES: usize = 256;

/// How long a connection may stay without a STUN message the core accepted before it is
/// closed ([`IceTcpError::Unauthenticated`]): our choice, as long as the agent waits for a
/// peer to connect to a passive candidate (10 s).
pub(crate) const UNAUTHENTICATED_TIMEOUT: Duration = Duration::from_secs(10);

/// How long connecting out from an active candidate may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// Bytes read from a connection at a time.
const READ_CHUNK: usize = 4 * 1024;

/// Why an ICE-TCP connection was closed (or refused).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub(crate) enum IceTcpError {
    /// A frame's length prefix said more than [`MAX_FRAME_LEN`] bytes.
    #[error("ICE-TCP frame of {0} bytes is longer than allowed")]
    FrameTooLong(usize),
    /// Before the connection was authenticated, a frame that is not STUN arrived.
    #[error("ICE-TCP frame before authentication is not STUN")]
    NotStun,
    /// No STUN message was accepted on the connection within [`UNAUTHENTICATED_TIMEOUT`].
    #[error("ICE-TCP connection not authenticated in time")]
    Unauthenticated,
    /// [`MAX_CONNECTIONS`] connections were open already.
    #[error("too many ICE-TCP connections")]
    TooManyConnections,
    /// Connecting out (from an active candidate) failed or took too long.
    #[error("ICE-TCP connection could not be made")]
    Connect(#[source] io::Error),
    /// The peer closed the connection.
    #[error("ICE-TCP connection closed by the peer")]
    Closed,
    /// Reading or writing failed.
    #[error("ICE-TCP connection failed")]
    Io(#[source] io::Error),
}

/// The counters of a connection's ICE-TCP side (logged when its driver ends).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub(crate) struct IceTcpStats {
    /// Connections accepted on passive candidates.
    pub(crate) accepted: u64,
    /// Connections opened from active candidates.
    pub(crate) opened: u64,
    /// Connections that became authenticated (a STUN message accepted by the core).
    pub(crate) authenticated: u64,
    /// Frames handed to the core.
    pub(crate) frames_in: u64,
    /// Frames sent.
    pub(crate) frames_out: u64,
    /// Connections refused, or closed to make room: [`IceTcpError::TooManyConnections`].
    pub(crate) refused: u64,
    /// Connections closed: [`IceTcpError::FrameTooLong`].
    pub(crate) too_long: u64,
    /// Connections closed: [`IceTcpError::NotStun`].
    pub(crate) not_stun: u64,
    /// Connections closed: [`IceTcpError::Unauthenticated`].
    pub(crate) unauthenticated: u64,
    /// Connections that ended otherwise (closed by the peer, I/O errors, failed connects).
    pub(crate) ended: u64,
    /// Datagrams dropped on the way out: no connection for them (a passive candidate cannot
    /// open one), the connection's queue was full, or it had ended.
    pub(crate) dropped_writes: u64,
    /// Frames dropped on the way in while the consumer was stalled (not STUN).
    pub(crate) stalled_drops: u64,
}

/// What the tasks tell the driver.
#[derive(Debug)]
pub(crate) enum TcpInput {
    /// A listener accepted a connection.
    Accepted {
        /// The passive candidate.
        local: SocketAddr,
        /// The peer's end.
        remote: SocketAddr,
        /// The connection.
        stream: TcpStream,
    },
    /// A whole frame, its length prefix removed.
    Frame {
        /// The connection's id.
        id: u64,
        /// The frame.
        frame: BytesMut,
    },
    /// The connection ended; nothing more comes from it.
    Closed {
        /// The connection's id.
        id: u64,
        /// Why.
        error: IceTcpError,
    },
}

/// One connection, as the driver holds it.
#[derive(Debug)]
struct Conn {
    /// Our candidate and the remote address.
    key: (SocketAddr, SocketAddr),
    writes: mpsc::Sender<Bytes>,
    authenticated: Arc<AtomicBool>,
    task: JoinHandle<()>,
}

/// The ICE-TCP side of one peer connection: its listeners and connections. Empty (and
/// inert) when ICE-TCP is off.
#[derive(Debug, Default)]
pub(crate) struct IceTcp {
    /// Passive candidates (listener addresses).
    passive: Vec<SocketAddr>,
    /// Active candidates (address, port 9) and the address their connections bind to.
    active: Vec<SocketAddr>,
    listeners: Vec<JoinHandle<()>>,
    /// By connection id; at most [`MAX_CONNECTIONS`], so found by key with a scan.
    conns: HashMap<u64, Conn>,
    next_id: u64,
    inputs_tx: Option<mpsc::Sender<TcpInput>>,
    inputs: Option<mpsc::Receiver<TcpInput>>,
    /// The counters.
    pub(crate) stats: IceTcpStats,
}

impl Drop for IceTcp {
    fn drop(&mut self) {
        for l in &self.listeners {
            l.abort();
        }
        for c in self.conns.values() {
            c.task.abort();
        }
    }
}

impl IceTcp {
    /// Binds a listener on each address (port chosen by the OS) and starts its task: a
    /// passive candidate each, and an active one on the same address with port
    /// [`ACTIVE_PORT`]. An address that cannot be bound (an IPv6 address still tentative,
    /// say) gets no TCP candidate, as it would get no UDP one: the others still do.
    pub(crate) async fn bind(addresses: &[std::net::IpAddr]) -> IceTcp {
        let (tx, rx) = mpsc::channel(MAX_QUEUED_FRAMES);
        let mut passive = Vec::new();
        let mut tasks = Vec::new();
        for ip in addresses {
            let bound = TcpListener::bind(SocketAddr::new(*ip, 0))
                .await
                .and_then(|l| Ok((l.local_addr()?, l)));
            match bound {
                Ok((local, l)) => {
                    passive.push(local);
                    tasks.push(tokio::spawn(listen(l, local, tx.clone())));
                }
                Err(e) => tracing::debug!(address = %ip, error = %e, "ICE-TCP listener not bound"),
            }
        }
        let active = passive
            .iter()
            .map(|a| SocketAddr::new(a.ip(), ACTIVE_PORT))
            .collect();
        IceTcp {
            passive,
            active,
            listeners: tasks,
            conns: HashMap::new(),
            next_id: 0,
            inputs_tx: Some(tx),
            inputs: Some(rx),
            stats: IceTcpStats::default(),
        }
    }

    /// The candidates to hand the core: each passive one, then each active one.
    pub(crate) fn candidates(&self) -> impl Iterator<Item = (SocketAddr, TcpType)> + '_ {
        let passive = self.passive.iter().map(|a| (*a, TcpType::Passive));
        passive.chain(self.active.iter().map(|a| (*a, TcpType::Active)))
    }

    /// Whether a task may still report.
    pub(crate) fn is_open(&self) -> bool {
        self.inputs.is_some()
    }

    /// Waits for the next report of a task.
    pub(crate) async fn recv(&mut self) -> Option<TcpInput> {
        self.inputs.as_mut()?.recv().await
    }

    /// Whether `t` is for one of our TCP candidates.
    pub(crate) fn owns(&self, t: &Transmit) -> bool {
        t.transport == Transport::Tcp
            && t.source
                .is_some_and(|s| self.passive.contains(&s) || self.active.contains(&s))
    }

    /// The candidate and remote address of connection `id`.
    pub(crate) fn key(&self, id: u64) -> Option<(SocketAddr, SocketAddr)> {
        self.conns.get(&id).map(|c| c.key)
    }

    /// Whether connection `id` is authenticated.
    pub(crate) fn is_authenticated(&self, id: u64) -> bool {
        self.conns
            .get(&id)
            .is_some_and(|c| c.authenticated.load(Ordering::Relaxed))
    }

    /// The core accepted a STUN message on connection `id`.
    pub(crate) fn authenticate(&mut self, id: u64) {
        if let Some(c) = self.conns.get(&id) {
            if !c.authenticated.swap(true, Ordering::Relaxed) {
                self.stats.authenticated += 1;
            }
        }
    }

    /// Closes connection `id` for `error` (counted).
    pub(crate) fn close(&mut self, id: u64, error: &IceTcpError) {
        self.count(error);
        if let Some(c) = self.conns.remove(&id) {
            c.task.abort();
            let (local, remote) = c.key;
            tracing::debug!(%local, %remote, error = %error, "ICE-TCP connection closed");
        }
    }

    /// Connection `id` ended by itself.
    pub(crate) fn ended(&mut self, id: u64, error: &IceTcpError) {
        if let Some(c) = self.conns.remove(&id) {
            self.count(error);
            let (local, remote) = c.key;
            tracing::debug!(%local, %remote, error = %error, "ICE-TCP connection ended");
        }
    }

    /// The id of the connection between our candidate `local` and `remote`.
    fn find(&self, key: (SocketAddr, SocketAddr)) -> Option<u64> {
        self.conns
            .iter()
            .find_map(|(id, c)| (c.key == key).then_some(*id))
    }

    fn count(&mut self, error: &IceTcpError) {
        let s = &mut self.stats;
        match error {
            IceTcpError::FrameTooLong(_) => s.too_long += 1,
            IceTcpError::NotStun => s.not_stun += 1,
            IceTcpError::Unauthenticated => s.unauthenticated += 1,
            IceTcpError::TooManyConnections => s.refused += 1,
            IceTcpError::Connect(_) | IceTcpError::Closed | IceTcpError::Io(_) => s.ended += 1,
        }
    }

    /// A listener accepted `stream`: keep it, unless there are enough.
    ///
    /// At [`MAX_CONNECTIONS`] the oldest connection not yet authenticated makes room (a
    /// peer's own connection authenticates within a round trip, so idle connections opened
    /// by someone else cannot keep it out); when all are authenticated the new one is
    /// closed.
    pub(crate) fn accepted(&mut self, local: SocketAddr, remote: SocketAddr, stream: TcpStream) {
        self.stats.accepted += 1;
        if self.find((local, remote)).is_some() {
            self.count(&IceTcpError::TooManyConnections);
            return;
        }
        if self.conns.len() >= MAX_CONNECTIONS {
            let oldest = self
                .conns
                .iter()
                .filter(|(_, c)| !c.authenticated.load(Ordering::Relaxed))
                .map(|(id, _)| *id)
                .min();
            match oldest {
                Some(id) => self.close(id, &IceTcpError::TooManyConnections),
                None => {
                    self.count(&IceTcpError::TooManyConnections);
                    tracing::debug!(%local, %remote, "ICE-TCP connection refused");
                    return;
                }
            }
        }
        let _ = self.spawn(local, remote, Some(stream));
    }

    /// Starts a connection's task; its id, or `None` when ICE-TCP is off.
    fn spawn(
        &mut self,
        local: SocketAddr,
        remote: SocketAddr,
        stream: Option<TcpStream>,
    ) -> Option<u64> {
        let inputs = self.inputs_tx.clone()?;
        let id = self.next_id;
        self.next_id += 1;
        let (writes, write_rx) = mpsc::channel(MAX_QUEUED_WRITES);
        let authenticated = Arc::new(AtomicBool::new(false));
        let task = tokio::spawn(run_conn(
            id,
            (local, remote),
            stream,
            write_rx,
            inputs,
            Arc::clone(&authenticated),
            UNAUTHENTICATED_TIMEOUT,
        ));
        self.conns.insert(
            id,
            Conn {
                key: (local, remote),
                writes,
                authenticated,
                task,
            },
        );
        Some(id)
    }

    /// Sends a transmit of the core on the connection of its source and destination; from
    /// an active candidate, opens that connection first.
    pub(crate) fn send(&mut self, t: &Transmit) {
        let Some(local) = t.source else {
            self.stats.dropped_writes += 1;
            return;
        };
        let id = match self.find((local, t.destination)) {
            Some(id) => Some(id),
            None => {
                if !self.active.contains(&local) || self.conns.len() >= MAX_CONNECTIONS {
                    // A passive candidate waits for the peer to connect (RFC 6544 §6.2).
                    self.stats.dropped_writes += 1;
                    return;
                }
                self.stats.opened += 1;
                self.spawn(local, t.destination, None)
            }
        };
        let mut framed = Vec::with_capacity(t.contents.len() + 2);
        let mut n = 0u64;
        for d in t.datagrams() {
            if rfc4571::encode(d, &mut framed).is_ok() {
                n += 1;
            }
        }
        let sent = id
            .and_then(|id| self.conns.get(&id))
            .is_some_and(|c| c.writes.try_send(Bytes::from(framed)).is_ok());
        if sent {
            self.stats.frames_out += n;
        } else {
            self.stats.dropped_writes += n.max(1);
        }
    }
}

/// A listener's task: hands every connection it accepts to the driver.
async fn listen(listener: TcpListener, local: SocketAddr, inputs: mpsc::Sender<TcpInput>) {
    loop {
        match listener.accept().await {
            Ok((stream, remote)) => {
                if inputs
                    .send(TcpInput::Accepted {
                        local,
                        remote,
                        stream,
                    })
                    .await
                    .is_err()
                {
                    return;
                }
            }
            Err(e) => {
                // Out of descriptors and the like: try again, but not in a tight loop.
                tracing::debug!(%local, error = %e, "ICE-TCP accept failed");
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }
}

/// Takes the first whole frame off the front of `buf`: `Ok(None)` until it has fully
/// arrived, an error for a length above [`MAX_FRAME_LEN`]. `buf` never needs to hold more
/// than one frame and its prefix.
pub(crate) fn next_frame(buf: &mut BytesMut) -> Result<Option<BytesMut>, IceTcpError> {
    if let [l0, l1, ..] = buf[..] {
        let len = usize::from(u16::from_be_bytes([l0, l1]));
        if len > MAX_FRAME_LEN {
            return Err(IceTcpError::FrameTooLong(len));
        }
    }
    let Some((_, consumed)) = rfc4571::decode(buf) else {
        return Ok(None);
    };
    let mut frame = buf.split_to(consumed);
    frame.advance(2);
    Ok(Some(frame))
}

/// A connection's task: connects (for an active candidate), then moves frames both ways
/// until either side ends, the driver closes it, or it stays unauthenticated too long. Its
/// last report is [`TcpInput::Closed`] unless the driver ended first. `unauthenticated` is
/// [`UNAUTHENTICATED_TIMEOUT`] but in tests.
async fn run_conn(
    id: u64,
    (local, remote): (SocketAddr, SocketAddr),
    stream: Option<TcpStream>,
    mut writes: mpsc::Receiver<Bytes>,
    inputs: mpsc::Sender<TcpInput>,
    authenticated: Arc<AtomicBool>,
    unauthenticated: Duration,
) {
    let result = async {
        let stream = match stream {
            Some(s) => s,
            None => connect(local, remote).await?,
        };
        // Frames are small and latency matters (checks, media): no Nagle.
        let _ = stream.set_nodelay(true);
        pump(
            id,
            stream,
            &mut writes,
            &inputs,
            &authenticated,
            unauthenticated,
        )
        .await
    }
    .await;
    if let Err(error) = result {
        let _ = inputs.send(TcpInput::Closed { id, error }).await;
    }
}

/// Connects from an active candidate's address (any port) to `remote`.
async fn connect(local: SocketAddr, remote: SocketAddr) -> Result<TcpStream, IceTcpError> {
    let socket = if remote.is_ipv4() {
        tokio::net::TcpSocket::new_v4()
    } else {
        tokio::net::TcpSocket::new_v6()
    }
    .map_err(IceTcpError::Connect)?;
    socket
        .bind(SocketAddr::new(local.ip(), 0))
        .map_err(IceTcpError::Connect)?;
    tokio::time::timeout(CONNECT_TIMEOUT, socket.connect(remote))
        .await
        .map_err(|_| IceTcpError::Connect(io::ErrorKind::TimedOut.into()))?
        .map_err(IceTcpError::Connect)
}

/// Moves frames between the connection and the driver. `Ok` when the driver is gone.
async fn pump(
    id: u64,
    stream: TcpStream,
    writes: &mut mpsc::Receiver<Bytes>,
    inputs: &mpsc::Sender<TcpInput>,
    authenticated: &AtomicBool,
    unauthenticated: Duration,
) -> Result<(), IceTcpError> {
    let (mut rd, mut wr) = stream.into_split();
    let mut buf = BytesMut::new();
    let deadline = tokio::time::sleep(unauthenticated);
    tokio::pin!(deadline);
    let mut waiting = true;
    loop {
        tokio::select! {
            w = writes.recv() => {
                let Some(w) = w else {
                    let _ = wr.shutdown().await;
                    return Ok(());
                };
                wr.write_all(&w).await.map_err(IceTcpError::Io)?;
            }
            n = async {
                buf.reserve(READ_CHUNK);
                rd.read_buf(&mut buf).await
            } => {
                match n {
                    Ok(0) => return Err(IceTcpError::Closed),
                    Ok(_) => {
                        while let Some(frame) = next_frame(&mut buf)? {
                            if !authenticated.load(Ordering::Relaxed) && !is_stun(&frame) {
                                return Err(IceTcpError::NotStun);
                            }
                            if inputs.send(TcpInput::Frame { id, frame }).await.is_err() {
                                return Ok(());
                            }
                        }
                    }
                    Err(e) => return Err(IceTcpError::Io(e)),
                }
            }
            () = &mut deadline, if waiting => {
                if !authenticated.load(Ordering::Relaxed) {
                    return Err(IceTcpError::Unauthenticated);
                }
                waiting = false;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_come_out_whole_and_in_order() {
        let mut wire = Vec::new();
        rfc4571::encode(b"one", &mut wire).unwrap();
        rfc4571::encode(b"", &mut wire).unwrap();
        rfc4571::encode(&[7; 1200], &mut wire).unwrap();
        let mut buf = BytesMut::new();
        let mut out = Vec::new();
        // One byte at a time: a frame is never handed out before it has fully arrived.
        for b in wire {
            buf.extend_from_slice(&[b]);
            while let Some(f) = next_frame(&mut buf).unwrap() {
                out.push(f);
            }
        }
        assert_eq!(out.len(), 3);
        assert_eq!(&out[0][..], b"one");
        assert!(out[1].is_empty());
        assert_eq!(out[2].len(), 1200);
        assert!(buf.is_empty());
    }

    /// A connection task on an accepted connection from a test client, with a short
    /// unauthenticated timeout.
    async fn accepted_conn(
        authenticated: bool,
        timeout: Duration,
    ) -> (TcpStream, mpsc::Receiver<TcpInput>, mpsc::Sender<Bytes>) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let local = listener.local_addr().unwrap();
        let client = TcpStream::connect(local).await.unwrap();
        let (server, remote) = listener.accept().await.unwrap();
        let (tx, rx) = mpsc::channel(MAX_QUEUED_FRAMES);
        let (writes, write_rx) = mpsc::channel(MAX_QUEUED_WRITES);
        tokio::spawn(run_conn(
            0,
            (local, remote),
            Some(server),
            write_rx,
            tx,
            Arc::new(AtomicBool::new(authenticated)),
            timeout,
        ));
        (client, rx, writes)
    }

    async fn next_input(rx: &mut mpsc::Receiver<TcpInput>) -> TcpInput {
        tokio::time::timeout(Duration::from_secs(30), rx.recv())
            .await
            .expect("an input in time")
            .expect("the task reports")
    }

    #[tokio::test]
    async fn a_connection_that_never_authenticates_is_closed_at_its_timeout() {
        let timeout = Duration::from_millis(200);
        let started = tokio::time::Instant::now();
        let (mut client, mut rx, _writes) = accepted_conn(false, timeout).await;
        // A STUN-looking frame passes (the driver judges it), but authenticates nothing.
        let mut stun = vec![0, 1, 0, 0, 0x21, 0x12, 0xa4, 0x42];
        stun.extend_from_slice(&[0; 12]);
        let mut wire = Vec::new();
        rfc4571::encode(&stun, &mut wire).unwrap();
        client.write_all(&wire).await.unwrap();
        assert!(matches!(next_input(&mut rx).await, TcpInput::Frame { .. }));
        assert!(matches!(
            next_input(&mut rx).await,
            TcpInput::Closed {
                error: IceTcpError::Unauthenticated,
                ..
            }
        ));
        assert!(started.elapsed() >= timeout);
        let mut byte = [0u8; 1];
        assert!(matches!(client.read(&mut byte).await, Ok(0) | Err(_)));
    }

    #[tokio::test]
    async fn frames_pass_both_ways_and_garbage_before_authentication_closes() {
        let (mut client, mut rx, writes) = accepted_conn(false, UNAUTHENTICATED_TIMEOUT).await;
        // Ours, framed, arrives whole.
        let mut framed = Vec::new();
        rfc4571::encode(b"hello", &mut framed).unwrap();
        writes.send(Bytes::from(framed)).await.unwrap();
        let mut got = [0u8; 7];
        client.read_exact(&mut got).await.unwrap();
        assert_eq!(&got, b"\x00\x05hello");
        // A frame that is not STUN, before the driver authenticated the connection.
        client.write_all(&[0, 3, 22, 0xfe, 0xfd]).await.unwrap();
        assert!(matches!(
            next_input(&mut rx).await,
            TcpInput::Closed {
                error: IceTcpError::NotStun,
                ..
            }
        ));
    }

    #[tokio::test]
    async fn after_authentication_any_frame_goes_to_the_driver() {
        let (mut client, mut rx, _writes) = accepted_conn(true, UNAUTHENTICATED_TIMEOUT).await;
        client.write_all(&[0, 3, 22, 0xfe, 0xfd]).await.unwrap();
        match next_input(&mut rx).await {
            TcpInput::Frame { frame, .. } => assert_eq!(&frame[..], &[22, 0xfe, 0xfd]),
            other => panic!("{other:?}"),
        }
        // An overlong length closes, even now.
        client.write_all(&[0xff, 0xff]).await.unwrap();
        assert!(matches!(
            next_input(&mut rx).await,
            TcpInput::Closed {
                error: IceTcpError::FrameTooLong(65535),
                ..
            }
        ));
    }

    #[test]
    fn an_overlong_length_is_an_error_before_any_byte_of_it_is_buffered() {
        let mut buf = BytesMut::from(&[0xff, 0xff][..]);
        assert!(matches!(
            next_frame(&mut buf),
            Err(IceTcpError::FrameTooLong(65535))
        ));
        let len = u16::try_from(MAX_FRAME_LEN).unwrap();
        let mut buf = BytesMut::from(&len.to_be_bytes()[..]);
        assert!(matches!(next_frame(&mut buf), Ok(None)));
        let mut buf = BytesMut::from(&(len + 1).to_be_bytes()[..]);
        assert!(next_frame(&mut buf).is_err());
        // A lone first byte says nothing yet.
        let mut buf = BytesMut::from(&[0xff][..]);
        assert!(matches!(next_frame(&mut buf), Ok(None)));
    }
}
