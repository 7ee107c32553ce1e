//! Two ferrtc peers in one process over real UDP on 127.0.0.1: offer/answer, data channels
//! both ways, order, back-pressure, and what dropping a handle does.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use bytes::Bytes;
use common::*;
use ferrtc::{
    ConnectionState, DataChannelInit, Error, Event, Message, PeerConnection, ReadyState,
    SignalingState,
};

#[tokio::test]
async fn offer_answer_connects_and_echoes_both_ways() {
    let (a, b, da, db) = pair_with_channel("echo", DataChannelInit::default()).await;
    assert_eq!(a.signaling_state(), SignalingState::Stable);
    assert_eq!(b.signaling_state(), SignalingState::Stable);
    within("connected", a.connected()).await.unwrap();
    within("connected", b.connected()).await.unwrap();
    assert_eq!(a.connection_state(), ConnectionState::Connected);
    assert_eq!(db.label(), "echo");
    assert!(db.ordered());
    assert_eq!(da.id(), db.id());
    assert!(da.id().is_some());
    assert_eq!(db.ready_state(), ReadyState::Open);

    // b echoes what it receives; a sends text and binary.
    let echo = tokio::spawn(async move {
        while let Some(m) = db.recv().await {
            db.send(m).await.unwrap();
        }
    });
    da.send("hello").await.unwrap();
    da.send(Bytes::from_static(&[0, 1, 2, 255])).await.unwrap();
    let m = within("echo", da.recv()).await.unwrap();
    assert_eq!(m, Message::text("hello"));
    let m = within("echo", da.recv()).await.unwrap();
    assert_eq!(m, Message::binary(Bytes::from_static(&[0, 1, 2, 255])));

    // And b's side can open a channel too.
    let back = b
        .create_data_channel("back", DataChannelInit::default())
        .await
        .unwrap();
    let got = within("a sees b's channel", async {
        loop {
            match a.next_event().await {
                Some(Event::DataChannel(dc)) => return dc,
                Some(_) => {}
                None => panic!("ended"),
            }
        }
    })
    .await;
    back.send("from b").await.unwrap();
    assert_eq!(
        within("b's message", got.recv()).await.unwrap().as_text(),
        Some("from b")
    );
    // Every handle of a gone: a closes, b's channel sees it, b's echo loop ends.
    drop((a, da, got));
    within("echo task ends", echo).await.unwrap();
    drop((b, back));
}

#[tokio::test]
async fn thousand_messages_arrive_in_order() {
    let (_a, _b, da, db) = pair_with_channel("order", DataChannelInit::default()).await;
    let sender = tokio::spawn(async move {
        for i in 0..1000u32 {
            da.send(format!("message {i}")).await.unwrap();
        }
        da
    });
    for i in 0..1000u32 {
        let m = within("message", db.recv()).await.unwrap();
        assert_eq!(m.as_text(), Some(format!("message {i}").as_str()));
    }
    within("sender", sender).await.unwrap();
}

#[tokio::test]
async fn sender_waits_for_a_reader_that_does_not_read() {
    let (_a, _b, da, db) = pair_with_channel("bulk", DataChannelInit::default()).await;
    const SIZE: usize = 16 * 1024;
    const COUNT: usize = 1024; // 16 MiB in all, many times every bound below
    da.set_max_buffered_amount(256 * 1024);
    let sent = Arc::new(AtomicUsize::new(0));
    let max_buffered = Arc::new(AtomicUsize::new(0));
    let sender = {
        let (da, sent, max_buffered) = (da.clone(), sent.clone(), max_buffered.clone());
        tokio::spawn(async move {
            for i in 0..COUNT {
                let mut m = vec![0u8; SIZE];
                m[..8].copy_from_slice(&(i as u64).to_be_bytes());
                da.send(m).await.unwrap();
                sent.fetch_add(1, Ordering::SeqCst);
                max_buffered.fetch_max(da.buffered_amount(), Ordering::SeqCst);
            }
        })
    };
    // The reader does not read: the sender must get stuck, not run to the end. This is the
    // one wait that can only be a deadline (nothing happens by design).
    let stuck = tokio::time::timeout(Duration::from_secs(3), async {
        while sent.load(Ordering::SeqCst) < COUNT {
            tokio::task::yield_now().await;
        }
    })
    .await;
    assert!(
        stuck.is_err(),
        "the sender ran through a reader that never read"
    );
    let sent_when_stuck = sent.load(Ordering::SeqCst);
    assert!(
        sent_when_stuck < COUNT / 2,
        "sent {sent_when_stuck} of {COUNT}"
    );
    // What is held on each side is bounded: the receiver's unread queue by its limit (plus
    // one batch of datagrams), the sender's buffer by its threshold plus one message.
    assert!(
        db.unread_amount() <= 2 * 1024 * 1024,
        "unread {}",
        db.unread_amount()
    );
    assert!(max_buffered.load(Ordering::SeqCst) <= 256 * 1024 + SIZE);
    // The reader catches up: everything arrives, in order, nothing lost.
    for i in 0..COUNT {
        let m = within("bulk message", db.recv()).await.unwrap();
        assert_eq!(m.data.len(), SIZE);
        assert_eq!(
            u64::from_be_bytes(m.data[..8].try_into().unwrap()),
            i as u64
        );
    }
    within("sender done", sender).await.unwrap();
    // Everything was acknowledged in the end.
    da.set_buffered_amount_low_threshold(0);
    within("buffered amount low", da.buffered_amount_low())
        .await
        .unwrap();
    assert_eq!(da.buffered_amount(), 0);
}

/// Waits until `port` on 127.0.0.1 can be bound again: the socket was freed.
async fn port_freed(port: u16) {
    within("socket freed", async {
        loop {
            if std::net::UdpSocket::bind(("127.0.0.1", port)).is_ok() {
                return;
            }
            tokio::task::yield_now().await;
        }
    })
    .await;
}

#[tokio::test]
async fn dropping_the_last_handle_closes_and_frees_the_socket() {
    // A connection that never negotiated.
    let pc = PeerConnection::new(loopback()).await.unwrap();
    let port = pc.local_addresses()[0].port();
    assert!(std::net::UdpSocket::bind(("127.0.0.1", port)).is_err());
    drop(pc);
    port_freed(port).await;

    // A connected pair: a data channel handle keeps a alive after its PeerConnection is
    // dropped; dropping it too closes a, which b sees.
    let (a, b, da, db) = pair_with_channel("life", DataChannelInit::default()).await;
    let port = a.local_addresses()[0].port();
    drop(a);
    da.send("still here").await.unwrap();
    assert_eq!(
        within("message", db.recv()).await.unwrap().as_text(),
        Some("still here")
    );
    drop(da);
    port_freed(port).await;
    // b's channel ends (a's SCTP abort reached it).
    assert_eq!(within("b's channel closes", db.recv()).await, None);
    assert_eq!(db.ready_state(), ReadyState::Closed);
    assert!(matches!(db.send("x").await, Err(Error::Closed)));
    drop(b);
}

#[tokio::test]
async fn close_ends_the_task_and_channels() {
    let (a, _b, da, db) = pair_with_channel("bye", DataChannelInit::default()).await;
    let port = a.local_addresses()[0].port();
    a.close().await;
    assert_eq!(a.connection_state(), ConnectionState::Closed);
    assert_eq!(da.ready_state(), ReadyState::Closed);
    assert!(matches!(a.create_offer().await, Err(Error::Closed)));
    port_freed(port).await;
    assert!(a.is_finished());
    assert_eq!(within("b's channel closes", db.recv()).await, None);
}

#[tokio::test]
async fn unordered_partially_reliable_channel() {
    let init = DataChannelInit {
        ordered: false,
        max_retransmits: Some(0),
        ..DataChannelInit::default()
    };
    let (_a, _b, da, db) = pair_with_channel("lossy", init).await;
    assert!(!db.ordered());
    assert_eq!(db.max_retransmits(), Some(0));
    let mut got = Vec::new();
    for i in 0..50 {
        da.send(format!("ping {i}")).await.unwrap();
    }
    // Loopback loses nothing: all 50 arrive (in any order).
    while got.len() < 50 {
        got.push(within("message", db.recv()).await.unwrap());
    }
    got.sort_by_key(|m| m.as_text().unwrap()[5..].parse::<u32>().unwrap());
    assert_eq!(got[49].as_text(), Some("ping 49"));
}

#[tokio::test]
async fn events_come_as_a_stream() {
    use futures_core::Stream;
    use std::pin::Pin;
    let mut pc = PeerConnection::new(loopback()).await.unwrap();
    pc.create_data_channel("x", DataChannelInit::default())
        .await
        .unwrap();
    pc.set_local_description(None).await.unwrap();
    // Poll the stream by hand (no StreamExt in the dependencies).
    let ev = within(
        "an event",
        std::future::poll_fn(|cx| Pin::new(&mut pc).poll_next(cx)),
    )
    .await;
    assert!(ev.is_some());
}

#[tokio::test]
async fn trickled_candidates_connect() {
    let a = PeerConnection::new(loopback()).await.unwrap();
    let b = PeerConnection::new(loopback()).await.unwrap();
    let da = a
        .create_data_channel("trickle", DataChannelInit::default())
        .await
        .unwrap();
    // The descriptions go bare (host gathering is done within set_local_description, so
    // the candidates are taken out as a signalling channel that sends the bare offer would);
    // the candidates follow from the events, carried by hand.
    let bare = |d: ferrtc::Description| ferrtc::Description {
        sdp: d
            .sdp
            .split_inclusive("\r\n")
            .filter(|l| !l.starts_with("a=candidate") && !l.starts_with("a=end-of-candidates"))
            .collect(),
        ..d
    };
    a.set_local_description(None).await.unwrap();
    b.set_remote_description(bare(a.local_description().unwrap()))
        .await
        .unwrap();
    b.set_local_description(None).await.unwrap();
    a.set_remote_description(bare(b.local_description().unwrap()))
        .await
        .unwrap();
    let (mut a_done, mut b_done) = (false, false);
    let db = within("trickle and the peer's channel", async {
        loop {
            tokio::select! {
                ev = a.next_event(), if !a_done => match ev {
                    Some(Event::IceCandidate(c)) => {
                        a_done = c.is_none();
                        b.add_ice_candidate(c).await.unwrap();
                    }
                    Some(_) => {}
                    None => panic!("a ended"),
                },
                ev = b.next_event() => match ev {
                    Some(Event::IceCandidate(c)) => {
                        b_done = c.is_none();
                        a.add_ice_candidate(c).await.unwrap();
                    }
                    Some(Event::DataChannel(dc)) => break dc,
                    Some(_) => {}
                    None => panic!("b ended"),
                },
            }
        }
    })
    .await;
    let _ = b_done;
    da.send("over trickled candidates").await.unwrap();
    assert_eq!(
        within("message", db.recv()).await.unwrap().as_text(),
        Some("over trickled candidates")
    );
}

#[tokio::test]
async fn ice_restart_keeps_the_channel() {
    let (a, b, da, db) = pair_with_channel("restart", DataChannelInit::default()).await;
    let before = a.local_description().unwrap().sdp;
    a.restart_ice().await.unwrap();
    negotiate(&a, &b).await;
    let after = a.local_description().unwrap().sdp;
    let ufrag = |sdp: &str| {
        sdp.lines()
            .find(|l| l.starts_with("a=ice-ufrag:"))
            .map(str::to_owned)
    };
    assert_ne!(
        ufrag(&before),
        ufrag(&after),
        "the restart changed no ufrag"
    );
    da.send("after restart").await.unwrap();
    assert_eq!(
        within("message", db.recv()).await.unwrap().as_text(),
        Some("after restart")
    );
    assert_eq!(db.ready_state(), ReadyState::Open);
}

#[tokio::test]
async fn ipv6_loopback_when_the_host_has_it() {
    if std::net::UdpSocket::bind("[::1]:0").is_err() {
        eprintln!("no IPv6 loopback here: skipped");
        return;
    }
    let v6 = || {
        ferrtc::Configuration::new().with_host_addresses(ferrtc::net::HostAddresses::Explicit(
            vec!["::1".parse().unwrap()],
        ))
    };
    let a = PeerConnection::new(v6()).await.unwrap();
    let b = PeerConnection::new(v6()).await.unwrap();
    assert!(a.local_addresses()[0].is_ipv6());
    let da = a
        .create_data_channel("v6", DataChannelInit::default())
        .await
        .unwrap();
    negotiate(&a, &b).await;
    let db = remote_channel(&b).await;
    da.send("over ::1").await.unwrap();
    assert_eq!(
        within("message", db.recv()).await.unwrap().as_text(),
        Some("over ::1")
    );
}

/// A STUN server on 127.0.0.1 that answers Binding requests with the address it saw, and
/// counts them.
async fn stun_server() -> (u16, Arc<AtomicUsize>) {
    use ferrtc::layers::stun_ice::stun::{
        Attribute, Class, Message as StunMessage, MessageBuilder, MessageType, Method,
    };
    let socket = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let port = socket.local_addr().unwrap().port();
    let answered = Arc::new(AtomicUsize::new(0));
    let count = answered.clone();
    tokio::spawn(async move {
        let mut buf = vec![0u8; 2048];
        while let Ok((n, from)) = socket.recv_from(&mut buf).await {
            let Ok(msg) = StunMessage::new_checked(&buf[..n]) else {
                continue;
            };
            if msg.class() != Class::Request || msg.method() != Method::BINDING {
                continue;
            }
            let mut out = Vec::new();
            let mut b = MessageBuilder::new(
                &mut out,
                MessageType::new(Class::SuccessResponse, Method::BINDING),
                msg.transaction_id(),
            );
            b.add(&Attribute::XorMappedAddress(from)).unwrap();
            b.add_fingerprint().unwrap();
            b.finish();
            count.fetch_add(1, Ordering::SeqCst);
            let _ = socket.send_to(&out, from).await;
        }
    });
    (port, answered)
}

#[tokio::test]
async fn stun_servers_from_w3c_urls_are_asked() {
    let (port, answered) = stun_server().await;
    for url in [
        format!("stun:127.0.0.1:{port}"),
        format!("stun:localhost:{port}"),
    ] {
        let before = answered.load(Ordering::SeqCst);
        let config = ferrtc::Configuration {
            ice_servers: vec![ferrtc::IceServer::new(url.clone())],
            ..loopback()
        };
        let pc = PeerConnection::new(config).await.unwrap();
        pc.create_data_channel("x", DataChannelInit::default())
            .await
            .unwrap();
        pc.set_local_description(None).await.unwrap();
        within("gathering with a STUN server", pc.gathering_complete())
            .await
            .unwrap();
        assert!(
            answered.load(Ordering::SeqCst) > before,
            "{url}: the STUN server was not asked"
        );
    }
    // A URL that does not parse is refused, typed.
    let config = ferrtc::Configuration {
        ice_servers: vec![ferrtc::IceServer::new("stun:")],
        ..loopback()
    };
    assert!(matches!(
        PeerConnection::new(config).await,
        Err(Error::IceServerUrl(_))
    ));
}

/// The `transport` entry's `sctpInterleaving` and `sctpPeerInterleaving`.
async fn interleaving_stats(pc: &PeerConnection) -> (Option<bool>, Option<bool>) {
    let report = pc.stats().await.unwrap();
    let t = report.of(ferrtc::StatsType::Transport).next().unwrap();
    let flag = |name| match t.get(name) {
        Some(ferrtc::StatsValue::Bool(v)) => Some(*v),
        _ => None,
    };
    (flag("sctpInterleaving"), flag("sctpPeerInterleaving"))
}

/// `Configuration::data_channels` reaches the SCTP association: a 4 MiB message (over the
/// default 256 KiB) goes through once both sides raise the limit, beside a small message on
/// a second channel, and the stats say whether I-DATA was negotiated (both sides on) and
/// what the peer announced. That interleaving keeps small messages moving is shown in
/// netsim (`ferrtc-sctp-datachannel`'s `tests/idata.rs`) and against Firefox (the interop
/// case `dc-interleave`): in one process the reading task cannot see arrival order.
#[tokio::test]
async fn interleaving_and_a_larger_message_size_from_the_configuration() {
    const BIG: usize = 4 * 1024 * 1024;
    for (on_a, on_b) in [(true, true), (true, false)] {
        let config = |on| {
            let mut c = loopback();
            c.data_channels = ferrtc::DataChannelSettings {
                max_message_size: 8 * 1024 * 1024,
                interleaving: on,
            };
            c
        };
        let a = PeerConnection::new(config(on_a)).await.unwrap();
        let b = PeerConnection::new(config(on_b)).await.unwrap();
        let bulk_a = a
            .create_data_channel("bulk", DataChannelInit::default())
            .await
            .unwrap();
        let small_a = a
            .create_data_channel("small", DataChannelInit::default())
            .await
            .unwrap();
        negotiate(&a, &b).await;
        let (c1, c2) = (remote_channel(&b).await, remote_channel(&b).await);
        let (bulk_b, small_b) = if c1.label() == "bulk" {
            (c1, c2)
        } else {
            (c2, c1)
        };
        within("open", bulk_a.opened()).await.unwrap();
        within("open", small_a.opened()).await.unwrap();
        let big: Vec<u8> = (0..BIG).map(|i| (i * 31 % 251) as u8).collect();
        // Both queued together: the small one goes behind the big one's first chunks.
        let (r1, r2) = tokio::join!(bulk_a.send(big.clone()), small_a.send("small"));
        r1.unwrap();
        r2.unwrap();
        let small = within("small message", small_b.recv()).await.unwrap();
        assert_eq!(small.as_text(), Some("small"));
        let got = within("big message", bulk_b.recv()).await.unwrap();
        assert!(got.data == big, "the big message arrived changed");
        let both = on_a && on_b;
        assert_eq!(interleaving_stats(&a).await, (Some(both), Some(on_b)));
        assert_eq!(interleaving_stats(&b).await, (Some(both), Some(on_a)));
    }
}

/// Eight channels each sending 3 MiB at once hold more than the association's send buffer,
/// which they share (4 MiB; each channel waits only above its own 1 MiB): a send that does
/// not fit waits for room instead of failing, and every byte arrives, in order per channel.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn busy_channels_wait_for_the_shared_send_buffer() {
    const CHANNELS: usize = 8;
    const MESSAGES: usize = 48;
    const SIZE: usize = 64 * 1024;
    let (a, b, first, first_remote) = pair_with_channel("c0", DataChannelInit::default()).await;
    let mut senders = vec![first];
    let mut receivers = vec![first_remote];
    for i in 1..CHANNELS {
        let da = a
            .create_data_channel(&format!("c{i}"), DataChannelInit::default())
            .await
            .unwrap();
        let db = remote_channel(&b).await;
        within("channel open", da.opened()).await.unwrap();
        within("channel open", db.opened()).await.unwrap();
        senders.push(da);
        receivers.push(db);
    }
    let sending: Vec<_> = senders
        .into_iter()
        .enumerate()
        .map(|(c, da)| {
            tokio::spawn(async move {
                for n in 0..MESSAGES {
                    let mut m = vec![c as u8; SIZE];
                    m[..4].copy_from_slice(&(n as u32).to_be_bytes());
                    da.send(Bytes::from(m)).await?;
                }
                Ok::<_, Error>(da)
            })
        })
        .collect();
    let reading: Vec<_> = receivers
        .into_iter()
        .enumerate()
        .map(|(c, db)| {
            tokio::spawn(async move {
                for n in 0..MESSAGES {
                    let m = within("a message", db.recv()).await.unwrap();
                    assert_eq!(m.data.len(), SIZE);
                    assert_eq!(&m.data[..4], &(n as u32).to_be_bytes(), "channel {c}");
                    assert!(m.data[4..].iter().all(|&x| x == c as u8));
                }
                db
            })
        })
        .collect();
    let mut kept = Vec::new();
    for s in sending {
        kept.push(within("the sends", s).await.unwrap().expect("send"));
    }
    for r in reading {
        within("the reads", r).await.unwrap();
    }
    drop(kept);
}
