//! Two ferrtc peers in one process over real loopback UDP, and waiting helpers. Every wait
//! is on an event, bounded by a generous deadline; nothing sleeps.

#![allow(dead_code)]

use std::future::Future;
use std::time::Duration;

use ferrtc::net::HostAddresses;
use ferrtc::{Configuration, DataChannel, DataChannelInit, Event, PeerConnection};

/// How long any one step may take before the test fails.
pub const DEADLINE: Duration = Duration::from_secs(30);

/// `fut`, or a panic naming `what` after [`DEADLINE`].
pub async fn within<T>(what: &str, fut: impl Future<Output = T>) -> T {
    match tokio::time::timeout(DEADLINE, fut).await {
        Ok(v) => v,
        Err(_) => panic!("timed out waiting for {what}"),
    }
}

/// A configuration that stays on 127.0.0.1.
pub fn loopback() -> Configuration {
    Configuration::new().with_host_addresses(HostAddresses::loopback())
}

/// Offer/answer between `offerer` and `answerer`, candidates in the descriptions (no
/// trickle).
pub async fn negotiate(offerer: &PeerConnection, answerer: &PeerConnection) {
    within("negotiation", async {
        offerer.set_local_description(None).await.unwrap();
        offerer.gathering_complete().await.unwrap();
        let offer = offerer.local_description().unwrap();
        assert!(
            offer.sdp.contains("a=candidate"),
            "offer without candidates"
        );
        answerer.set_remote_description(offer).await.unwrap();
        answerer.set_local_description(None).await.unwrap();
        answerer.gathering_complete().await.unwrap();
        let answer = answerer.local_description().unwrap();
        assert!(
            answer.sdp.contains("a=candidate"),
            "answer without candidates"
        );
        offerer.set_remote_description(answer).await.unwrap();
    })
    .await;
}

/// The next data channel the peer opens.
pub async fn remote_channel(pc: &PeerConnection) -> DataChannel {
    within("the peer's data channel", async {
        loop {
            match pc.next_event().await {
                Some(Event::DataChannel(dc)) => return dc,
                Some(_) => {}
                None => panic!("connection ended"),
            }
        }
    })
    .await
}

/// Two connected peers with a channel `label` opened by `a` and seen by `b`.
pub async fn pair_with_channel(
    label: &str,
    init: DataChannelInit,
) -> (PeerConnection, PeerConnection, DataChannel, DataChannel) {
    let a = PeerConnection::new(loopback()).await.unwrap();
    let b = PeerConnection::new(loopback()).await.unwrap();
    let da = a.create_data_channel(label, init).await.unwrap();
    negotiate(&a, &b).await;
    let db = remote_channel(&b).await;
    within("channel open", da.opened()).await.unwrap();
    within("channel open", db.opened()).await.unwrap();
    (a, b, da, db)
}
