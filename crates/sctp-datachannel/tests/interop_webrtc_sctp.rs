//! Interop with webrtc-rs `webrtc-sctp` 0.17 (async, tokio) over an in-memory `Conn` pipe.
//! Tokio's clock is paused, so its timers and ours run on virtual time and nothing waits on the
//! wall clock. Our side drops every `k`-th packet in each direction when asked, so both
//! implementations retransmit and, on partially reliable streams, skip.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use ferrtc_sctp_datachannel::{Association, Config, Event, Reliability, SendOptions};
use rand::SeedableRng;
use webrtc_sctp::association::{Association as WAssociation, Config as WConfig};
use webrtc_sctp::chunk::chunk_payload_data::PayloadProtocolIdentifier as Ppi;
use webrtc_sctp::stream::ReliabilityType;
use webrtc_util_marshal::Conn;

/// webrtc's address as we name it (the pipe carries no addresses).
const THEIRS: SocketAddr =
    SocketAddr::new(std::net::IpAddr::V4(std::net::Ipv4Addr::LOCALHOST), 5000);

fn now() -> std::time::Instant {
    tokio::time::Instant::now().into_std()
}

fn payload(i: usize, len: usize) -> Vec<u8> {
    let mut v: Vec<u8> = (0..len).map(|k| (i * 31 + k * 7) as u8).collect();
    v[..4].copy_from_slice(&(i as u32).to_be_bytes());
    v
}

/// Our association, driven over one end of the pipe until `done` says so (or virtual time
/// runs out). `drop_every`: drop every k-th packet each way (0: none).
async fn drive(
    ours: &mut Association,
    conn: &(dyn Conn + Send + Sync),
    drop_every: usize,
    limit: Duration,
    mut step: impl FnMut(&mut Association, &mut Vec<Event>) -> bool,
) -> Vec<Event> {
    let mut events = Vec::new();
    let mut buf = vec![0u8; 65536];
    let (mut n_out, mut n_in) = (0usize, 0usize);
    let end = now() + limit;
    loop {
        // The contract: transmits until `None`, then events.
        while let Some(t) = ours.poll_transmit(now()) {
            n_out += 1;
            if drop_every == 0 || n_out % drop_every != 0 {
                conn.send(&t.contents).await.expect("pipe send");
            }
        }
        while let Some(e) = ours.poll_event() {
            events.push(e);
        }
        if step(ours, &mut events) || now() >= end {
            return events;
        }
        // What `step` queued goes out before we wait.
        while let Some(t) = ours.poll_transmit(now()) {
            n_out += 1;
            if drop_every == 0 || n_out % drop_every != 0 {
                conn.send(&t.contents).await.expect("pipe send");
            }
        }
        let deadline = ours
            .poll_timeout()
            .map(tokio::time::Instant::from_std)
            .unwrap_or_else(|| tokio::time::Instant::now() + Duration::from_millis(50));
        tokio::select! {
            r = conn.recv(&mut buf) => {
                let n = r.expect("pipe recv");
                n_in += 1;
                if drop_every == 0 || n_in % drop_every != 0 {
                    let _ = ours.handle_receive(now(), THEIRS, Bytes::copy_from_slice(&buf[..n]));
                }
            }
            _ = tokio::time::sleep_until(deadline) => ours.handle_timeout(now()),
        }
    }
}

fn their_config(conn: Arc<dyn Conn + Send + Sync>) -> WConfig {
    WConfig {
        net_conn: conn,
        max_receive_buffer_size: 0,
        max_message_size: 65536,
        mtu: 1200,
        name: "webrtc-sctp".to_owned(),
        local_port: 5000,
        remote_port: 5000,
    }
}

fn ours() -> Association {
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(9);
    let cfg = Config {
        max_message_size: 65536,
        ..Config::default()
    };
    Association::new(cfg, now(), &mut rng)
}

const SIZES: [usize; 6] = [4, 100, 1200, 5000, 30_000, 65_536];

async fn echo(drop_every: usize, we_connect: bool) {
    let (a_conn, b_conn) = webrtc_util_marshal::conn::conn_pipe::pipe();
    let b_conn: Arc<dyn Conn + Send + Sync> = Arc::new(b_conn);
    let count = 36;
    // webrtc-sctp echoes every message it receives on stream 1 back on stream 2.
    let theirs = tokio::spawn(async move {
        let assoc = if we_connect {
            WAssociation::server(their_config(b_conn)).await
        } else {
            WAssociation::client(their_config(b_conn)).await
        }
        .expect("webrtc-sctp handshake");
        let rx = assoc.accept_stream().await.expect("stream");
        let tx = assoc.open_stream(2, Ppi::Binary).await.expect("open");
        let mut buf = vec![0u8; 65536];
        for _ in 0..count {
            let (n, _) = rx.read_sctp(&mut buf).await.expect("read");
            tx.write_sctp(&Bytes::copy_from_slice(&buf[..n]), Ppi::Binary)
                .await
                .expect("write");
        }
        // Keep the association alive until our side has everything.
        tokio::time::sleep(Duration::from_secs(600)).await;
        drop(assoc);
    });
    let mut a = ours();
    if we_connect {
        a.connect(now(), THEIRS);
    }
    let mut sent = false;
    let events = drive(
        &mut a,
        &a_conn,
        drop_every,
        Duration::from_secs(600),
        |a, ev| {
            if a.is_established() && !sent {
                for i in 0..count {
                    let m = payload(i, SIZES[i % SIZES.len()]);
                    a.send(now(), 1, 53, Bytes::from(m), SendOptions::default())
                        .unwrap();
                }
                sent = true;
            }
            ev.iter()
                .filter(|e| matches!(e, Event::Message(m) if m.stream == 2))
                .count()
                == count
        },
    )
    .await;
    theirs.abort();
    let back: Vec<_> = events
        .iter()
        .filter_map(|e| match e {
            Event::Message(m) if m.stream == 2 => Some(m),
            _ => None,
        })
        .collect();
    assert_eq!(back.len(), count, "echo incomplete");
    for (i, m) in back.iter().enumerate() {
        assert_eq!(
            &m.data[..],
            &payload(i, SIZES[i % SIZES.len()])[..],
            "message {i}"
        );
    }
}

#[tokio::test(start_paused = true)]
async fn echo_through_webrtc_sctp_server() {
    echo(0, true).await;
}

#[tokio::test(start_paused = true)]
async fn echo_through_webrtc_sctp_client() {
    echo(0, false).await;
}

#[tokio::test(start_paused = true)]
async fn echo_with_loss_both_ways() {
    echo(7, true).await;
}

#[tokio::test(start_paused = true)]
async fn partial_reliability_both_ways() {
    let (a_conn, b_conn) = webrtc_util_marshal::conn::conn_pipe::pipe();
    let b_conn: Arc<dyn Conn + Send + Sync> = Arc::new(b_conn);
    let count = 200usize;
    // webrtc-sctp: receives our lossy stream 1 until "done" on stream 3, then sends its own
    // partially reliable stream 2 followed by "done" on stream 4.
    let theirs = tokio::spawn(async move {
        let assoc = WAssociation::server(their_config(b_conn))
            .await
            .expect("handshake");
        let mut got = Vec::new();
        loop {
            let s = assoc.accept_stream().await.expect("stream");
            let mut buf = vec![0u8; 65536];
            if s.stream_identifier() == 3 {
                s.read_sctp(&mut buf).await.expect("read done");
                break;
            }
            let s2 = s.clone();
            // Stream 1 reader runs until the association is dropped.
            tokio::spawn(async move {
                let mut buf = vec![0u8; 65536];
                while let Ok((n, _)) = s2.read_sctp(&mut buf).await {
                    if n == 0 {
                        break;
                    }
                    let _ = n;
                }
            });
            got.push(s.stream_identifier());
        }
        let tx = assoc.open_stream(2, Ppi::Binary).await.expect("open");
        tx.set_reliability_params(false, ReliabilityType::Rexmit, 0);
        for i in 0..count {
            tx.write_sctp(&Bytes::from(payload(i, 2500)), Ppi::Binary)
                .await
                .expect("write");
        }
        tokio::time::sleep(Duration::from_secs(20)).await;
        let done = assoc.open_stream(4, Ppi::Binary).await.expect("open");
        done.write_sctp(&Bytes::from_static(b"done"), Ppi::Binary)
            .await
            .expect("write");
        tokio::time::sleep(Duration::from_secs(600)).await;
        drop(assoc);
    });
    let mut a = ours();
    a.connect(now(), THEIRS);
    let opts = SendOptions {
        unordered: false,
        reliability: Reliability::MaxRetransmits(0),
    };
    let mut phase = 0;
    let events = drive(&mut a, &a_conn, 5, Duration::from_secs(600), |a, ev| {
        if phase == 0 && a.is_established() {
            for i in 0..count {
                a.send(now(), 1, 53, Bytes::from(payload(i, 2500)), opts)
                    .unwrap();
            }
            phase = 1;
        }
        if phase == 1 && a.buffered_total() == 0 {
            a.send(
                now(),
                3,
                51,
                Bytes::from_static(b"done"),
                SendOptions::default(),
            )
            .unwrap();
            phase = 2;
        }
        ev.iter()
            .any(|e| matches!(e, Event::Message(m) if m.stream == 4))
    })
    .await;
    theirs.abort();
    // Our stream 1 was abandoned in part and webrtc-sctp still took stream 3 after it (no
    // stall on our FORWARD TSN); we took its stream 4 after its abandoned stream 2 messages.
    assert!(
        a.stats().abandoned_messages > 0,
        "nothing abandoned with 1 in 5 lost"
    );
    assert!(
        events
            .iter()
            .any(|e| matches!(e, Event::Message(m) if m.stream == 4 && &m.data[..] == b"done")),
        "ferrtc stalled on webrtc-sctp's FORWARD TSN"
    );
    let got: Vec<u32> = events
        .iter()
        .filter_map(|e| match e {
            Event::Message(m) if m.stream == 2 => {
                let i = u32::from_be_bytes([m.data[0], m.data[1], m.data[2], m.data[3]]);
                assert_eq!(&m.data[..], &payload(i as usize, 2500)[..], "intact");
                Some(i)
            }
            _ => None,
        })
        .collect();
    assert!(
        !got.is_empty() && got.len() < count,
        "{} of {count}",
        got.len()
    );
    assert!(
        got.windows(2).all(|w| w[0] < w[1]),
        "reordered or duplicated"
    );
}
