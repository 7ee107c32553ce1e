//! webrtc-rs (the `webrtc` crate, 0.17) as a reference peer: two `RTCPeerConnection`s in this
//! process on the caller's tokio runtime, over real UDP on 127.0.0.1, with one data channel
//! opened by the offerer. Used by the `pc` group's memory row and by the `facade` group.
//!
//! Every connection is made with one shared `API` set up as webrtc-rs's own examples do
//! (default codecs and the default interceptors registered), gathering host candidates on
//! 127.0.0.1 only: UDP4, loopback candidates on, mDNS off, no ICE servers. Candidates travel
//! inside the descriptions (each side waits for gathering to complete; no trickle).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use bytes::Bytes;
use tokio::sync::{Notify, mpsc, watch};
use webrtc::api::interceptor_registry::register_default_interceptors;
use webrtc::api::media_engine::MediaEngine;
use webrtc::api::setting_engine::SettingEngine;
use webrtc::api::{API, APIBuilder};
use webrtc::data_channel::RTCDataChannel;
use webrtc::data_channel::data_channel_init::RTCDataChannelInit;
use webrtc::data_channel::data_channel_message::DataChannelMessage;
use webrtc::ice::mdns::MulticastDnsMode;
use webrtc::ice::network_type::NetworkType;
use webrtc::interceptor::registry::Registry;
use webrtc::peer_connection::RTCPeerConnection;
use webrtc::peer_connection::configuration::RTCConfiguration;
use webrtc::peer_connection::sdp::session_description::RTCSessionDescription;

/// The webrtc-rs version, as the rows name it.
pub const WEBRTC_RS: &str = "webrtc-rs 0.17 (webrtc crate)";

/// How long one connection set-up may take before it counts as failed.
pub const DEADLINE: Duration = Duration::from_secs(30);

/// How much a sender lets webrtc-rs buffer before it waits for the buffered-amount-low
/// event (as ferrtc's `DataChannel::send` does by itself at the same figure).
pub const MAX_BUFFERED: usize = 1024 * 1024;

/// The shared webrtc-rs `API`: default codecs and interceptors, loopback UDP4 only. With
/// `detach`, data channels are detached (read with `read_data_channel` into a buffer of our
/// own; webrtc-rs's `on_message` path reads into a 65,535-byte buffer, too small for a
/// 64 KiB message).
pub fn api(detach: bool) -> Arc<API> {
    let mut media = MediaEngine::default();
    media
        .register_default_codecs()
        .expect("webrtc-rs default codecs");
    let registry = register_default_interceptors(Registry::new(), &mut media)
        .expect("webrtc-rs default interceptors");
    let mut settings = SettingEngine::default();
    settings.set_include_loopback_candidate(true);
    settings.set_network_types(vec![NetworkType::Udp4]);
    settings.set_ice_multicast_dns_mode(MulticastDnsMode::Disabled);
    settings.set_ip_filter(Box::new(|ip| ip.is_loopback()));
    if detach {
        settings.detach_data_channels();
    }
    Arc::new(
        APIBuilder::new()
            .with_media_engine(media)
            .with_interceptor_registry(registry)
            .with_setting_engine(settings)
            .build(),
    )
}

/// One end of a webrtc-rs data channel: the channel, its open flag, and what it received
/// (a byte counter, plus the messages themselves when asked for).
pub struct Channel {
    /// The channel.
    pub dc: Arc<RTCDataChannel>,
    opened: watch::Receiver<bool>,
    /// Payload bytes received so far.
    pub received: Arc<AtomicU64>,
    /// Woken on every received message.
    pub arrived: Arc<Notify>,
    low: Arc<Notify>,
}

impl Channel {
    fn new(dc: Arc<RTCDataChannel>) -> Channel {
        let (open_tx, opened) = watch::channel(false);
        dc.on_open(Box::new(move || {
            let _ = open_tx.send(true);
            Box::pin(async {})
        }));
        let received = Arc::new(AtomicU64::new(0));
        let arrived = Arc::new(Notify::new());
        let (r, a) = (Arc::clone(&received), Arc::clone(&arrived));
        dc.on_message(Box::new(move |m: DataChannelMessage| {
            r.fetch_add(m.data.len() as u64, Ordering::AcqRel);
            a.notify_waiters();
            Box::pin(async {})
        }));
        Channel {
            dc,
            opened,
            received,
            arrived,
            low: Arc::new(Notify::new()),
        }
    }

    /// Waits until the channel is open.
    pub async fn opened(&mut self) {
        tokio::time::timeout(DEADLINE, self.opened.wait_for(|o| *o))
            .await
            .expect("webrtc-rs: channel open within the deadline")
            .expect("webrtc-rs: channel dropped before it opened");
    }

    /// For an `api(true)` connection: detaches the open channel and reads it from a task of
    /// our own (128 KiB buffer), counting into [`Channel::received`].
    pub async fn read_detached(&self) {
        let dc = self.dc.detach().await.expect("webrtc-rs: detach");
        let (received, arrived) = (Arc::clone(&self.received), Arc::clone(&self.arrived));
        tokio::spawn(async move {
            let mut buf = vec![0u8; 128 * 1024];
            // An empty read is the stream reset (no empty message is ever sent here).
            while let Ok((n @ 1.., _)) = dc.read_data_channel(&mut buf).await {
                received.fetch_add(n as u64, Ordering::AcqRel);
                arrived.notify_waiters();
            }
        });
    }

    /// Arms the back-pressure of [`Channel::send`]: the buffered-amount-low event at half of
    /// [`MAX_BUFFERED`].
    pub async fn arm_back_pressure(&self) {
        self.dc
            .set_buffered_amount_low_threshold(MAX_BUFFERED / 2)
            .await;
        let low = Arc::clone(&self.low);
        self.dc
            .on_buffered_amount_low(Box::new(move || {
                low.notify_waiters();
                Box::pin(async {})
            }))
            .await;
    }

    /// Sends `data` as a binary message, first waiting while more than [`MAX_BUFFERED`] is
    /// buffered (webrtc-rs's own send queue is bounded only at 128 MiB).
    pub async fn send(&self, data: &Bytes) {
        loop {
            let low = self.low.notified();
            tokio::pin!(low);
            low.as_mut().enable();
            if self.dc.buffered_amount().await <= MAX_BUFFERED {
                break;
            }
            low.await;
        }
        self.dc.send(data).await.expect("webrtc-rs: send");
    }

    /// Waits until at least `total` payload bytes have been received.
    pub async fn received_at_least(&self, total: u64) {
        loop {
            let arrived = self.arrived.notified();
            tokio::pin!(arrived);
            arrived.as_mut().enable();
            if self.received.load(Ordering::Acquire) >= total {
                return;
            }
            arrived.await;
        }
    }
}

/// Two connected webrtc-rs peer connections with a data channel `a` opened and `b` saw.
pub struct Pair {
    /// The offerer.
    pub a: Arc<RTCPeerConnection>,
    /// The answerer.
    pub b: Arc<RTCPeerConnection>,
    /// The offerer's end of the channel.
    pub da: Channel,
    /// The answerer's end of the channel.
    pub db: Channel,
}

/// Two unconnected webrtc-rs peer connections, the answerer already listening for the
/// offerer's data channel.
pub struct Unconnected {
    a: Arc<RTCPeerConnection>,
    b: Arc<RTCPeerConnection>,
    channels: mpsc::UnboundedReceiver<Arc<RTCDataChannel>>,
}

/// Builds two webrtc-rs peer connections (nothing negotiated yet).
pub async fn peers(api: &API) -> Unconnected {
    let a = Arc::new(
        api.new_peer_connection(RTCConfiguration::default())
            .await
            .expect("webrtc-rs peer connection"),
    );
    let b = Arc::new(
        api.new_peer_connection(RTCConfiguration::default())
            .await
            .expect("webrtc-rs peer connection"),
    );
    let (tx, channels) = mpsc::unbounded_channel();
    b.on_data_channel(Box::new(move |dc| {
        let _ = tx.send(dc);
        Box::pin(async {})
    }));
    Unconnected { a, b, channels }
}

/// Sets `d` as `pc`'s local description and waits for gathering to end; the SDP with its
/// candidates.
async fn set_local(pc: &RTCPeerConnection, d: RTCSessionDescription) -> String {
    let mut gathered = pc.gathering_complete_promise().await;
    pc.set_local_description(d)
        .await
        .expect("webrtc-rs set_local_description");
    let _ = tokio::time::timeout(DEADLINE, gathered.recv()).await;
    pc.local_description()
        .await
        .expect("webrtc-rs local description")
        .sdp
}

impl Unconnected {
    /// The offerer creates a reliable ordered channel `label`, offers, the answerer
    /// answers; returns once the channel is open at both ends.
    pub async fn connect(self, label: &str) -> Pair {
        let Unconnected { a, b, mut channels } = self;
        let dc = a
            .create_data_channel(label, Some(RTCDataChannelInit::default()))
            .await
            .expect("webrtc-rs create_data_channel");
        let mut da = Channel::new(dc);
        let offer = a.create_offer(None).await.expect("webrtc-rs create_offer");
        let offer = set_local(&a, offer).await;
        b.set_remote_description(RTCSessionDescription::offer(offer).expect("offer"))
            .await
            .expect("webrtc-rs set_remote_description (offer)");
        let answer = b
            .create_answer(None)
            .await
            .expect("webrtc-rs create_answer");
        let answer = set_local(&b, answer).await;
        a.set_remote_description(RTCSessionDescription::answer(answer).expect("answer"))
            .await
            .expect("webrtc-rs set_remote_description (answer)");
        let dc = tokio::time::timeout(DEADLINE, channels.recv())
            .await
            .expect("webrtc-rs: the peer's channel within the deadline")
            .expect("webrtc-rs: connection ended");
        let mut db = Channel::new(dc);
        da.opened().await;
        db.opened().await;
        Pair { a, b, da, db }
    }
}

impl Pair {
    /// Two webrtc-rs peer connections connected with one open channel.
    pub async fn new(api: &API) -> Pair {
        peers(api).await.connect("bench").await
    }

    /// Closes both ends (webrtc-rs's tasks end only on close).
    pub async fn close(self) {
        let _ = self.a.close().await;
        let _ = self.b.close().await;
    }
}
