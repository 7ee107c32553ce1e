//! DCEP interop with webrtc-rs `webrtc-data` 0.17 (over `webrtc-sctp`, tokio with paused time,
//! in-memory pipe): channels opened by either side, labels, protocols, channel types, and
//! string, binary and empty messages both ways.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use ferrtc_sctp_datachannel::{
    ChannelOptions, Config, DataChannelEvent, DataChannels, DtlsRole, Reliability,
};
use rand::SeedableRng;
use webrtc_data::data_channel::{Config as DcConfig, DataChannel};
use webrtc_data::message::message_channel_open::ChannelType;
use webrtc_sctp::association::{Association as WAssociation, Config as WConfig};
use webrtc_util_marshal::Conn;

/// webrtc's address as we name it (the pipe carries no addresses).
const THEIRS: SocketAddr =
    SocketAddr::new(std::net::IpAddr::V4(std::net::Ipv4Addr::LOCALHOST), 5000);

fn now() -> std::time::Instant {
    tokio::time::Instant::now().into_std()
}

/// Drives our endpoint over one end of the pipe until `done`, or virtual time runs out.
async fn drive(
    ours: &mut DataChannels,
    conn: &(dyn Conn + Send + Sync),
    limit: Duration,
    mut done: impl FnMut(&mut DataChannels, &[DataChannelEvent]) -> bool,
) -> Vec<DataChannelEvent> {
    let mut events = Vec::new();
    let mut buf = vec![0u8; 65536];
    let end = now() + limit;
    loop {
        // The contract: transmits until `None`, then events.
        while let Some(t) = ours.poll_transmit(now()) {
            conn.send(&t.contents).await.expect("pipe send");
        }
        while let Some(e) = ours.poll_event() {
            events.push(e);
        }
        if done(ours, &events) || now() >= end {
            return events;
        }
        // What `step` queued goes out before we wait.
        while let Some(t) = ours.poll_transmit(now()) {
            conn.send(&t.contents).await.expect("pipe send");
        }
        let deadline = ours
            .poll_timeout()
            .map(tokio::time::Instant::from_std)
            .unwrap_or_else(|| tokio::time::Instant::now() + Duration::from_millis(50));
        tokio::select! {
            r = conn.recv(&mut buf) => {
                let n = r.expect("pipe recv");
                let _ = ours.handle_receive(now(), THEIRS, Bytes::copy_from_slice(&buf[..n]));
            }
            _ = tokio::time::sleep_until(deadline) => ours.handle_timeout(now()),
        }
    }
}

fn messages(events: &[DataChannelEvent], want: u16) -> Vec<(bool, Bytes)> {
    events
        .iter()
        .filter_map(|e| match e {
            DataChannelEvent::Message { id, text, data } if *id == want => {
                Some((*text, data.clone()))
            }
            _ => None,
        })
        .collect()
}

#[tokio::test(start_paused = true)]
async fn dcep_both_ways_with_webrtc_data() {
    let (a_conn, b_conn) = webrtc_util_marshal::conn::conn_pipe::pipe();
    let b_conn: Arc<dyn Conn + Send + Sync> = Arc::new(b_conn);
    // webrtc-data (DTLS server: odd ids) opens channel 1, sends three messages, waits for
    // our answer, then accepts the channel we open and reads one message from it.
    let theirs = tokio::spawn(async move {
        let assoc = Arc::new(
            WAssociation::server(WConfig {
                net_conn: b_conn,
                max_receive_buffer_size: 0,
                max_message_size: 0,
                mtu: 1200,
                name: "webrtc-data".to_owned(),
                local_port: 5000,
                remote_port: 5000,
            })
            .await
            .expect("handshake"),
        );
        let dc = DataChannel::dial(
            &assoc,
            1,
            DcConfig {
                channel_type: ChannelType::PartialReliableRexmit,
                negotiated: false,
                priority: 128,
                reliability_parameter: 3,
                label: "theirs".to_owned(),
                protocol: "chat/1".to_owned(),
                max_message_size: 0,
            },
        )
        .await
        .expect("dial");
        dc.write_data_channel(&Bytes::from_static(b"hello"), true)
            .await
            .expect("write");
        dc.write_data_channel(&Bytes::from_static(&[1, 2, 3]), false)
            .await
            .expect("write");
        dc.write_data_channel(&Bytes::new(), true)
            .await
            .expect("write");
        let mut buf = vec![0u8; 1024];
        let (n, is_string) = dc.read_data_channel(&mut buf).await.expect("read");
        let answer = (buf[..n].to_vec(), is_string);
        let ours = DataChannel::accept(&assoc, DcConfig::default(), &[] as &[DataChannel])
            .await
            .expect("accept");
        let (n, is_string) = ours.read_data_channel(&mut buf).await.expect("read");
        let on_ours = (buf[..n].to_vec(), is_string);
        let cfg = ours.config.clone();
        tokio::time::sleep(Duration::from_secs(5)).await;
        (answer, on_ours, cfg, assoc)
    });

    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(11);
    let mut ours = DataChannels::new(Config::default(), DtlsRole::Client, now(), &mut rng);
    ours.connect(now(), THEIRS);
    let events = drive(&mut ours, &a_conn, Duration::from_secs(60), |_, ev| {
        messages(ev, 1).len() == 3
    })
    .await;
    assert!(events.contains(&DataChannelEvent::ChannelOpen {
        id: 1,
        remote: true
    }));
    let info = ours.channel(1).expect("channel 1 known").clone();
    assert_eq!(info.label, "theirs");
    assert_eq!(info.protocol, "chat/1");
    assert_eq!(info.priority, 128);
    assert!(info.ordered);
    assert_eq!(info.reliability, Reliability::MaxRetransmits(3));
    assert_eq!(
        messages(&events, 1),
        vec![
            (true, Bytes::from_static(b"hello")),
            (false, Bytes::from_static(&[1, 2, 3])),
            (true, Bytes::new()),
        ]
    );
    // Answer on their channel, then open one of ours (even id) and send on it.
    ours.send_text(now(), 1, "back").unwrap();
    let mut opts = ChannelOptions::new("ours");
    opts.protocol = "json".to_owned();
    opts.ordered = false;
    let id = ours.open_channel(now(), opts).unwrap();
    assert_eq!(id % 2, 0);
    ours.send(now(), id, Bytes::from_static(b"\x00\x01binary"), false)
        .unwrap();
    let _ = drive(&mut ours, &a_conn, Duration::from_secs(10), |_, _| false).await;
    let (answer, on_ours, cfg, _assoc) = theirs.await.expect("webrtc-data side");
    assert_eq!(answer, (b"back".to_vec(), true));
    assert_eq!(on_ours, (b"\x00\x01binary".to_vec(), false));
    assert_eq!(cfg.label, "ours");
    assert_eq!(cfg.protocol, "json");
    assert_eq!(cfg.channel_type, ChannelType::ReliableUnordered);
}
