//! Data channels (W3C `RTCDataChannel`): a handle with async `send` and `recv`.
//!
//! A [`DataChannel`] shares with the driver only the channel's own state (its queues, its
//! buffered amount and ready state), never the connection: it sends commands down the
//! connection's command channel and reads what the driver put in its inbox.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU8, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use ferrtc_peerconnection::DataChannelId;
use tokio::sync::{Notify, mpsc, oneshot};

use crate::connection::Command;
use crate::error::Error;

/// Default for [`DataChannel::max_buffered_amount`]: `send` waits while more than this is
/// queued (1 MiB, a quarter of SCTP's send buffer).
pub const DEFAULT_MAX_BUFFERED_AMOUNT: usize = 1024 * 1024;

/// Bytes of received messages a channel holds for its reader before the connection stops
/// reading the network.
pub(crate) const INBOX_LIMIT: usize = 1024 * 1024;

/// Messages a channel holds for its reader before the connection stops reading the network
/// (for floods of small messages).
pub(crate) const INBOX_MESSAGES: usize = 4096;

/// How a data channel is created (W3C `RTCDataChannelInit`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DataChannelInit {
    /// Deliver in order (default true).
    pub ordered: bool,
    /// Give up on a message after this many milliseconds (partial reliability).
    pub max_packet_life_time: Option<u16>,
    /// Give up on a message after this many retransmissions (partial reliability).
    pub max_retransmits: Option<u16>,
    /// The sub-protocol.
    pub protocol: String,
    /// Negotiated out of band on this stream id: no DCEP, the peer creates the same.
    pub negotiated: Option<u16>,
}

impl Default for DataChannelInit {
    fn default() -> Self {
        DataChannelInit {
            ordered: true,
            max_packet_life_time: None,
            max_retransmits: None,
            protocol: String::new(),
            negotiated: None,
        }
    }
}

/// The state of a data channel (W3C `RTCDataChannelState`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ReadyState {
    /// Not open yet.
    Connecting,
    /// Messages flow.
    Open,
    /// Closing.
    Closing,
    /// Closed.
    Closed,
}

impl ReadyState {
    fn from_u8(v: u8) -> ReadyState {
        match v {
            0 => ReadyState::Connecting,
            1 => ReadyState::Open,
            2 => ReadyState::Closing,
            _ => ReadyState::Closed,
        }
    }
    fn as_u8(self) -> u8 {
        match self {
            ReadyState::Connecting => 0,
            ReadyState::Open => 1,
            ReadyState::Closing => 2,
            ReadyState::Closed => 3,
        }
    }
}

/// A data-channel message: text (UTF-8 as the peer sent it) or binary.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    /// The bytes.
    pub data: Bytes,
    /// Binary (true) or text.
    pub binary: bool,
}

impl Message {
    /// A text message.
    #[must_use]
    pub fn text(s: impl Into<String>) -> Message {
        Message {
            data: Bytes::from(s.into()),
            binary: false,
        }
    }

    /// A binary message.
    #[must_use]
    pub fn binary(data: impl Into<Bytes>) -> Message {
        Message {
            data: data.into(),
            binary: true,
        }
    }

    /// The text of a text message that is valid UTF-8.
    #[must_use]
    pub fn as_text(&self) -> Option<&str> {
        if self.binary {
            None
        } else {
            std::str::from_utf8(&self.data).ok()
        }
    }
}

impl From<&str> for Message {
    fn from(s: &str) -> Self {
        Message::text(s)
    }
}

impl From<String> for Message {
    fn from(s: String) -> Self {
        Message::text(s)
    }
}

impl From<Bytes> for Message {
    fn from(b: Bytes) -> Self {
        Message::binary(b)
    }
}

impl From<Vec<u8>> for Message {
    fn from(b: Vec<u8>) -> Self {
        Message::binary(b)
    }
}

impl From<&[u8]> for Message {
    fn from(b: &[u8]) -> Self {
        Message::binary(Bytes::copy_from_slice(b))
    }
}

/// What a channel is, fixed at creation.
#[derive(Debug, Clone)]
pub(crate) struct ChannelProps {
    pub(crate) label: String,
    pub(crate) protocol: String,
    pub(crate) ordered: bool,
    pub(crate) max_retransmits: Option<u16>,
    pub(crate) max_packet_life_time: Option<u16>,
    pub(crate) negotiated: bool,
}

#[derive(Debug, Default)]
struct Inbox {
    queue: VecDeque<Message>,
    bytes: usize,
    closed: bool,
}

/// The state a channel's handles share with the driver.
#[derive(Debug)]
pub(crate) struct Shared {
    pub(crate) id: DataChannelId,
    pub(crate) props: ChannelProps,
    /// The SCTP stream id, once known (`u32::MAX` before).
    stream_id: std::sync::atomic::AtomicU32,
    ready_state: AtomicU8,
    buffered: AtomicUsize,
    low_threshold: AtomicUsize,
    max_buffered: AtomicUsize,
    inbox: Mutex<Inbox>,
    /// A message arrived or the channel closed.
    readable: Notify,
    /// The buffered amount fell or the state changed.
    writable: Notify,
    /// The reader made room: the driver may read the network again.
    pub(crate) space: Arc<Notify>,
}

impl Shared {
    pub(crate) fn new(id: DataChannelId, props: ChannelProps, stream_id: Option<u16>) -> Shared {
        Shared {
            id,
            props,
            stream_id: std::sync::atomic::AtomicU32::new(stream_id.map_or(u32::MAX, u32::from)),
            ready_state: AtomicU8::new(ReadyState::Connecting.as_u8()),
            buffered: AtomicUsize::new(0),
            low_threshold: AtomicUsize::new(0),
            max_buffered: AtomicUsize::new(DEFAULT_MAX_BUFFERED_AMOUNT),
            inbox: Mutex::new(Inbox::default()),
            readable: Notify::new(),
            writable: Notify::new(),
            space: Arc::new(Notify::new()),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inbox> {
        // A panic while holding this short lock (never across an await) would be a bug in
        // this module; the queue is still consistent, so go on with it.
        self.inbox
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    pub(crate) fn ready_state(&self) -> ReadyState {
        ReadyState::from_u8(self.ready_state.load(Ordering::Acquire))
    }

    pub(crate) fn set_stream_id(&self, id: Option<u16>) {
        if let Some(id) = id {
            self.stream_id.store(u32::from(id), Ordering::Release);
        }
    }

    pub(crate) fn set_ready_state(&self, s: ReadyState) {
        self.ready_state.store(s.as_u8(), Ordering::Release);
        if s == ReadyState::Closed {
            self.lock().closed = true;
            self.readable.notify_waiters();
        }
        self.writable.notify_waiters();
    }

    /// The driver's view of the buffered amount, after each step.
    pub(crate) fn set_buffered(&self, n: usize) {
        let old = self.buffered.swap(n, Ordering::AcqRel);
        if n < old {
            self.writable.notify_waiters();
        }
    }

    /// Hands a message to the reader.
    pub(crate) fn deliver(&self, m: Message) {
        {
            let mut inbox = self.lock();
            if inbox.closed {
                return;
            }
            inbox.bytes += m.data.len();
            inbox.queue.push_back(m);
        }
        self.readable.notify_waiters();
    }

    /// Whether the reader's queue is over its limits.
    pub(crate) fn is_full(&self) -> bool {
        let inbox = self.lock();
        inbox.bytes >= INBOX_LIMIT || inbox.queue.len() >= INBOX_MESSAGES
    }
}

/// A data channel (W3C `RTCDataChannel`).
///
/// Cloning gives another handle to the same channel. A handle keeps the connection alive
/// (it can still send), but holds nothing of it but its command queue: dropping the last
/// handle of the connection closes it.
#[derive(Debug, Clone)]
pub struct DataChannel {
    shared: Arc<Shared>,
    commands: mpsc::UnboundedSender<Command>,
}

impl DataChannel {
    pub(crate) fn new(shared: Arc<Shared>, commands: mpsc::UnboundedSender<Command>) -> Self {
        DataChannel { shared, commands }
    }

    /// The label.
    #[must_use]
    pub fn label(&self) -> &str {
        &self.shared.props.label
    }

    /// The sub-protocol.
    #[must_use]
    pub fn protocol(&self) -> &str {
        &self.shared.props.protocol
    }

    /// The SCTP stream id, once known (W3C `id`; `None` until the DTLS role is).
    #[must_use]
    pub fn id(&self) -> Option<u16> {
        u16::try_from(self.shared.stream_id.load(Ordering::Acquire)).ok()
    }

    /// Whether messages are delivered in order.
    #[must_use]
    pub fn ordered(&self) -> bool {
        self.shared.props.ordered
    }

    /// The retransmission limit, for a partially reliable channel.
    #[must_use]
    pub fn max_retransmits(&self) -> Option<u16> {
        self.shared.props.max_retransmits
    }

    /// The lifetime limit in milliseconds, for a partially reliable channel.
    #[must_use]
    pub fn max_packet_life_time(&self) -> Option<u16> {
        self.shared.props.max_packet_life_time
    }

    /// Whether the channel was negotiated out of band.
    #[must_use]
    pub fn negotiated(&self) -> bool {
        self.shared.props.negotiated
    }

    /// The state.
    #[must_use]
    pub fn ready_state(&self) -> ReadyState {
        self.shared.ready_state()
    }

    /// Bytes queued for sending and not yet acknowledged.
    #[must_use]
    pub fn buffered_amount(&self) -> usize {
        self.shared.buffered.load(Ordering::Acquire)
    }

    /// Bytes received and not yet read with [`DataChannel::recv`]. Bounded: past about a
    /// megabyte the connection stops taking data from the network until the reader catches
    /// up (the peer's SCTP retransmits, nothing is lost).
    #[must_use]
    pub fn unread_amount(&self) -> usize {
        self.shared.lock().bytes
    }

    /// The threshold of the buffered-amount-low notification.
    #[must_use]
    pub fn buffered_amount_low_threshold(&self) -> usize {
        self.shared.low_threshold.load(Ordering::Acquire)
    }

    /// Sets the buffered-amount-low threshold.
    pub fn set_buffered_amount_low_threshold(&self, threshold: usize) {
        self.shared
            .low_threshold
            .store(threshold, Ordering::Release);
        let _ = self.commands.send(Command::SetLowThreshold {
            id: self.shared.id,
            threshold,
        });
    }

    /// Waits until the buffered amount is at or below the low threshold (the W3C
    /// `bufferedamountlow` event, as a future).
    ///
    /// # Errors
    /// [`Error::Closed`] if the channel closes first.
    pub async fn buffered_amount_low(&self) -> Result<(), Error> {
        loop {
            let notified = self.shared.writable.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if self.buffered_amount() <= self.buffered_amount_low_threshold() {
                return Ok(());
            }
            if matches!(self.ready_state(), ReadyState::Closed) || self.commands.is_closed() {
                return Err(Error::Closed);
            }
            notified.await;
        }
    }

    /// How much may be buffered before [`DataChannel::send`] waits.
    #[must_use]
    pub fn max_buffered_amount(&self) -> usize {
        self.shared.max_buffered.load(Ordering::Acquire)
    }

    /// Sets how much may be buffered before [`DataChannel::send`] waits.
    pub fn set_max_buffered_amount(&self, n: usize) {
        self.shared.max_buffered.store(n, Ordering::Release);
        self.shared.writable.notify_waiters();
    }

    /// Waits until the channel is open.
    ///
    /// # Errors
    /// [`Error::Closed`] if it closed first.
    pub async fn opened(&self) -> Result<(), Error> {
        loop {
            let notified = self.shared.writable.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            match self.ready_state() {
                ReadyState::Open => return Ok(()),
                ReadyState::Closing | ReadyState::Closed => return Err(Error::Closed),
                ReadyState::Connecting => {}
            }
            notified.await;
        }
    }

    /// Sends a message: a `&str` or `String` as text, `Bytes`, `Vec<u8>` or `&[u8]` as
    /// binary. Waits until the channel is open, and while more than
    /// [`DataChannel::max_buffered_amount`] is buffered (back-pressure: a sender faster than
    /// the network waits instead of growing memory).
    ///
    /// # Errors
    /// [`Error::Closed`] when the channel or connection closed, [`Error::Peer`] if the
    /// core refused the message (too large for the peer, ...).
    pub async fn send(&self, message: impl Into<Message>) -> Result<(), Error> {
        let message = message.into();
        loop {
            let notified = self.shared.writable.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            match self.ready_state() {
                ReadyState::Closing | ReadyState::Closed => return Err(Error::Closed),
                ReadyState::Open
                    if self.buffered_amount() <= self.max_buffered_amount()
                        || self.buffered_amount() == 0 =>
                {
                    break;
                }
                _ => {}
            }
            if self.commands.is_closed() {
                return Err(Error::Closed);
            }
            notified.await;
        }
        self.shared
            .buffered
            .fetch_add(message.data.len(), Ordering::AcqRel);
        let (reply, rx) = oneshot::channel();
        self.commands
            .send(Command::Send {
                id: self.shared.id,
                message,
                reply,
            })
            .map_err(|_| Error::Closed)?;
        rx.await.map_err(|_| Error::Closed)?
    }

    /// The next message; `None` once the channel is closed and every message was read.
    pub async fn recv(&self) -> Option<Message> {
        loop {
            let notified = self.shared.readable.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            {
                let mut inbox = self.shared.lock();
                if let Some(m) = inbox.queue.pop_front() {
                    let was_full =
                        inbox.bytes >= INBOX_LIMIT || inbox.queue.len() + 1 >= INBOX_MESSAGES;
                    inbox.bytes -= m.data.len();
                    drop(inbox);
                    if was_full {
                        self.shared.space.notify_one();
                    }
                    return Some(m);
                }
                if inbox.closed {
                    return None;
                }
            }
            if self.commands.is_closed() {
                return None;
            }
            notified.await;
        }
    }

    /// Closes the channel (W3C `close()`): the stream is reset and the peer sees it close.
    pub fn close(&self) {
        if matches!(self.ready_state(), ReadyState::Closing | ReadyState::Closed) {
            return;
        }
        self.shared
            .ready_state
            .store(ReadyState::Closing.as_u8(), Ordering::Release);
        self.shared.writable.notify_waiters();
        let _ = self
            .commands
            .send(Command::CloseChannel { id: self.shared.id });
    }
}
