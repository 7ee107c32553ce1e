//! TURN over TCP and TLS: the byte streams to the servers of `turn:...?transport=tcp` and
//! `turns:` URLs (RFC 8656 §3.1).
//!
//! Each stream is a [`Link`]: a tokio task of its own connects to the server (and for
//! `turns:` runs a rustls client session over the connection, the server's certificate
//! checked against the roots of [`Configuration::tls_roots`](crate::Configuration::tls_roots)
//! for the URL's host), then moves bytes both ways until either side ends. The driver hands
//! it what the TURN client sends ([`Streams::send`]) and gets back what the server sent, in
//! chunks of any size, and a last word when the stream ends ([`LinkInput`]).
//!
//! There is no framing here: STUN messages and ChannelData are self-framing on a stream
//! (ChannelData padded to 4 bytes, RFC 8656 §12.5), and the sans-IO TURN client splits the
//! chunks into frames and encodes whole frames itself. Every write is one or more whole
//! frames, so a frame dropped because the stream is backed up (counted) never leaves the
//! stream half-framed.
//!
//! Memory stays bounded: at most [`MAX_QUEUED_WRITES`] writes wait for a stream (more are
//! dropped and counted, as UDP would lose them), and at most [`MAX_QUEUED_CHUNKS`] read
//! chunks of up to [`READ_CHUNK`] bytes wait for the driver (past that the task stops
//! reading and TCP's flow control holds the server back).

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use ferrtc_types::Transport;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::sync::mpsc;

/// How long connecting to a TURN server over TCP, and the TLS handshake after it, may take
/// before the link gives up: our choice (a browser waits about as long before it reports a
/// TURN server unreachable); the TURN client's own timeout for the Allocate over a stream
/// (39.5 s, RFC 8489 §6.2.2) is longer.
pub(crate) const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// Writes that may wait for one stream; more are dropped and counted.
pub(crate) const MAX_QUEUED_WRITES: usize = 256;

/// Read chunks of all the streams of a connection that may wait for its driver.
pub(crate) const MAX_QUEUED_CHUNKS: usize = 32;

/// The most bytes one read takes from a stream.
pub(crate) const READ_CHUNK: usize = 16 * 1024;

/// The most bytes of queued writes gathered into one write to the stream.
const MAX_WRITE_BATCH: usize = 64 * 1024;

/// Why a stream to a TURN server ended.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StreamError {
    /// The TCP connection could not be made.
    #[error("TCP connection to the TURN server failed")]
    Connect(#[source] io::Error),
    /// The TLS handshake failed: an untrusted or mismatched certificate, or a protocol
    /// error (the rustls error is the source's source).
    #[error("TLS handshake with the TURN server failed")]
    Tls(#[source] io::Error),
    /// Connecting (with the TLS handshake) took longer than 10 s.
    #[error("TURN server did not answer in time")]
    Timeout,
    /// The server closed the stream.
    #[error("TURN server closed the stream")]
    Closed,
    /// Reading or writing failed.
    #[error("TURN stream failed")]
    Io(#[source] io::Error),
}

/// How to reach one TURN server over a stream.
#[derive(Debug, Clone)]
pub(crate) struct Target {
    /// The server's address.
    pub(crate) server: SocketAddr,
    /// `Tcp`, or `Tls` with what it needs.
    pub(crate) tls: Option<Tls>,
}

/// What a TLS session to a `turns:` server needs.
#[derive(Clone)]
pub(crate) struct Tls {
    /// The rustls client configuration (the trusted roots).
    pub(crate) config: Arc<rustls::ClientConfig>,
    /// The name the certificate must carry: the URL's host.
    pub(crate) name: rustls::pki_types::ServerName<'static>,
}

impl std::fmt::Debug for Tls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tls")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

impl Target {
    /// `Tcp` or `Tls`.
    pub(crate) fn transport(&self) -> Transport {
        if self.tls.is_some() {
            Transport::Tls
        } else {
            Transport::Tcp
        }
    }
}

/// What a link tells the driver.
#[derive(Debug)]
pub(crate) enum LinkInput {
    /// The next bytes from the server.
    Data {
        /// The link's index.
        link: usize,
        /// The bytes.
        chunk: BytesMut,
    },
    /// The stream ended (or never began); nothing more comes from this link.
    Closed {
        /// The link's index.
        link: usize,
        /// Why.
        error: StreamError,
    },
}

/// One stream to a TURN server, as the driver holds it.
#[derive(Debug)]
struct Link {
    server: SocketAddr,
    transport: Transport,
    writes: mpsc::Sender<Bytes>,
}

/// The streams of one connection.
#[derive(Debug, Default)]
pub(crate) struct Streams {
    links: Vec<Link>,
    /// What every link reports; `None` without links or once every link has ended.
    inputs: Option<mpsc::Receiver<LinkInput>>,
    /// Writes dropped: the link's queue was full, or it had ended.
    pub(crate) dropped_writes: u64,
}

impl Streams {
    /// Starts a link (a task, on the current tokio runtime) to each target.
    pub(crate) fn open(targets: Vec<Target>) -> Streams {
        if targets.is_empty() {
            return Streams::default();
        }
        let (input_tx, inputs) = mpsc::channel(MAX_QUEUED_CHUNKS);
        let links = targets
            .into_iter()
            .enumerate()
            .map(|(i, target)| {
                let (writes, write_rx) = mpsc::channel(MAX_QUEUED_WRITES);
                let link = Link {
                    server: target.server,
                    transport: target.transport(),
                    writes,
                };
                tokio::spawn(run_link(i, target, write_rx, input_tx.clone()));
                link
            })
            .collect();
        Streams {
            links,
            inputs: Some(inputs),
            dropped_writes: 0,
        }
    }

    /// The server and transport of link `i`.
    pub(crate) fn link(&self, i: usize) -> Option<(SocketAddr, Transport)> {
        self.links.get(i).map(|l| (l.server, l.transport))
    }

    /// Queues a transmit of the TURN client for the stream it names (by destination and
    /// transport); dropped and counted if there is none or it is backed up.
    pub(crate) fn send(&mut self, t: ferrtc_types::Transmit) {
        let link = self
            .links
            .iter()
            .find(|l| l.server == t.destination && l.transport == t.transport);
        match link.map(|l| l.writes.try_send(t.contents)) {
            Some(Ok(())) => {}
            _ => {
                self.dropped_writes += 1;
                tracing::trace!(destination = %t.destination, "stream write dropped");
            }
        }
    }

    /// Waits for the next input of any link; `None` once every link has ended (then
    /// pending forever is the caller's choice: see [`Streams::is_open`]).
    pub(crate) async fn recv(&mut self) -> Option<LinkInput> {
        let inputs = self.inputs.as_mut()?;
        let input = inputs.recv().await;
        if input.is_none() {
            self.inputs = None;
        }
        input
    }

    /// Whether some link may still report.
    pub(crate) fn is_open(&self) -> bool {
        self.inputs.is_some()
    }
}

/// A link's task: connect, then pump until either side ends. Its last input is
/// [`LinkInput::Closed`] unless the driver ended first.
async fn run_link(
    link: usize,
    target: Target,
    mut writes: mpsc::Receiver<Bytes>,
    inputs: mpsc::Sender<LinkInput>,
) {
    let server = target.server;
    let result = async {
        let tcp = tokio::time::timeout(CONNECT_TIMEOUT, tokio::net::TcpStream::connect(server))
            .await
            .map_err(|_| StreamError::Timeout)?
            .map_err(StreamError::Connect)?;
        // Frames are small and latency matters (checks, media): no Nagle.
        let _ = tcp.set_nodelay(true);
        match target.tls {
            None => {
                tracing::debug!(%server, "TURN stream connected (TCP)");
                pump(tcp, link, &mut writes, &inputs).await
            }
            Some(tls) => {
                let connector = tokio_rustls::TlsConnector::from(tls.config);
                let session =
                    tokio::time::timeout(CONNECT_TIMEOUT, connector.connect(tls.name, tcp))
                        .await
                        .map_err(|_| StreamError::Timeout)?
                        .map_err(StreamError::Tls)?;
                tracing::debug!(%server, "TURN stream connected (TLS)");
                pump(session, link, &mut writes, &inputs).await
            }
        }
    }
    .await;
    match result {
        Ok(()) => tracing::trace!(%server, "TURN stream link ended with its driver"),
        Err(error) => {
            let _ = inputs.send(LinkInput::Closed { link, error }).await;
        }
    }
}

/// Moves bytes between the stream and the driver. `Ok` when the driver is gone (what it
/// queued last, the deallocation, is written first); `Err` when the stream ended.
async fn pump<S: AsyncRead + AsyncWrite>(
    stream: S,
    link: usize,
    writes: &mut mpsc::Receiver<Bytes>,
    inputs: &mpsc::Sender<LinkInput>,
) -> Result<(), StreamError> {
    let (mut rd, mut wr) = tokio::io::split(stream);
    let mut read_buf = BytesMut::new();
    let mut batch: Vec<u8> = Vec::new();
    loop {
        tokio::select! {
            first = writes.recv() => {
                let Some(first) = first else {
                    let _ = wr.shutdown().await;
                    return Ok(());
                };
                batch.extend_from_slice(&first);
                while batch.len() < MAX_WRITE_BATCH {
                    match writes.try_recv() {
                        Ok(more) => batch.extend_from_slice(&more),
                        Err(_) => break,
                    }
                }
                wr.write_all(&batch).await.map_err(StreamError::Io)?;
                wr.flush().await.map_err(StreamError::Io)?;
                batch.clear();
                if batch.capacity() > MAX_WRITE_BATCH * 2 {
                    batch = Vec::new();
                }
            }
            n = async {
                read_buf.reserve(READ_CHUNK);
                rd.read_buf(&mut read_buf).await
            } => {
                match n {
                    Ok(0) => return Err(StreamError::Closed),
                    Ok(_) => {
                        let chunk = read_buf.split();
                        if inputs.send(LinkInput::Data { link, chunk }).await.is_err() {
                            // The driver is gone.
                            return Ok(());
                        }
                    }
                    Err(e) => return Err(StreamError::Io(e)),
                }
            }
        }
    }
}
