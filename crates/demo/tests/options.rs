//! The server's options, as a user runs them (the binary cargo built), on 127.0.0.1 only:
//! `--stun` and `--turn` reach the server's own peer connections and the page's
//! `GET /config`; `--record-to` writes the browser's audio to a WAV file.

mod common;

use std::time::Duration;

use common::*;
use ferrtc::{MediaKind, PeerConnection};
use ferrtc_media::G711Law;

/// What a UDP socket standing in for a STUN or TURN server receives first: the STUN
/// message type, checked to be a STUN request (RFC 8489 §5: the magic cookie).
async fn first_stun_request(socket: &tokio::net::UdpSocket) -> u16 {
    let mut buf = [0u8; 1500];
    let (n, _) = within("a STUN request", socket.recv_from(&mut buf))
        .await
        .unwrap();
    assert!(n >= 20, "too short for STUN: {:?}", &buf[..n]);
    assert_eq!(buf[4..8], [0x21, 0x12, 0xa4, 0x42], "no magic cookie");
    u16::from_be_bytes([buf[0], buf[1]])
}

#[tokio::test]
async fn stun_and_turn_servers_reach_the_server_and_the_page() {
    let stun = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let turn = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let stun_url = format!("stun:{}", stun.local_addr().unwrap());
    let turn_url = format!("turn:{}?transport=udp", turn.local_addr().unwrap());
    let demo = Demo::start(&[
        "--stun",
        &stun_url,
        "--turn",
        &turn_url,
        "--turn-username",
        "alice",
        "--turn-password",
        "secret",
    ])
    .await;

    let (status, body) = http(&demo, "GET", "/config", "").await;
    assert_eq!(status, 200, "{body}");
    let config: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(
        config,
        serde_json::json!({ "iceServers": [
            { "urls": [stun_url] },
            { "urls": [turn_url], "username": "alice", "credential": "secret" },
        ]})
    );

    // A call makes the server ask the STUN server for its address and the TURN server
    // for an allocation (neither answers: the answer goes with host candidates).
    let pc = PeerConnection::new(loopback()).await.unwrap();
    let _dc = pc
        .create_data_channel("chat", Default::default())
        .await
        .unwrap();
    let client = tokio::spawn(async move {
        let answer = signal(&demo, None, &pc, "none").await;
        (demo, pc, answer)
    });
    assert_eq!(first_stun_request(&stun).await, 0x0001, "a Binding request");
    assert_eq!(
        first_stun_request(&turn).await,
        0x0003,
        "an Allocate request"
    );
    let (demo, pc, answer) = within("the answer", client).await.unwrap();
    assert!(answer.contains("127.0.0.1"), "{answer}");
    pc.close().await;
    demo.stop().await;
}

#[tokio::test]
async fn without_stun_the_page_gets_no_ice_servers() {
    let demo = Demo::start(&[]).await;
    let (status, body) = http(&demo, "GET", "/config", "").await;
    assert_eq!(status, 200);
    assert_eq!(body, r#"{"iceServers":[]}"#);
    demo.stop().await;
}

#[tokio::test]
async fn bad_ice_server_options_are_refused_at_start() {
    for args in [
        &["--stun", "http://example.org"][..],
        &["--turn", "turn:127.0.0.1:3478"],
        &["--stun", "turn:127.0.0.1:3478"],
        &["--record-to", "call.mp4"],
    ] {
        let out = within(
            "the demo refusing",
            tokio::process::Command::new(env!("CARGO_BIN_EXE_ferrtc-demo"))
                .args(["--port", "0"])
                .args(args)
                .kill_on_drop(true)
                .output(),
        )
        .await
        .unwrap();
        assert!(!out.status.success(), "{args:?} accepted");
    }
}

/// The PCMU payload type of our offer.
fn pcmu_payload_type(sdp: &str) -> u8 {
    sdp.lines()
        .filter_map(|l| l.strip_prefix("a=rtpmap:"))
        .find_map(|l| {
            let (pt, name) = l.split_once(' ')?;
            name.starts_with("PCMU/8000").then(|| pt.parse().ok())?
        })
        .unwrap_or_else(|| panic!("no PCMU in\n{sdp}"))
}

#[tokio::test]
async fn the_browsers_audio_is_recorded_to_wav() {
    let dir = temp_dir("record");
    let file = dir.join("call.wav");
    let mut demo = Demo::start(&["--record-to", file.to_str().unwrap()]).await;
    let pc = PeerConnection::new(loopback()).await.unwrap();
    let audio = pc
        .add_transceiver(MediaKind::Audio, Default::default())
        .await
        .unwrap();
    signal(&demo, None, &pc, "none").await;
    let pt = pcmu_payload_type(&pc.local_description().unwrap().sdp);
    within("connected", pc.connected()).await.unwrap();
    // 1.5 s of a 500 Hz tone at 8 kHz, a packet each 20 ms (paced like audio), after the
    // first echoed packet shows the server has its keys.
    let mut pacing = tokio::time::interval(Duration::from_millis(20));
    let mut sent = 0u16;
    let mut echoed = false;
    while sent < 75 || !echoed {
        tokio::select! {
            _ = pacing.tick() => {
                let mut p = vec![0x80, pt];
                p.extend_from_slice(&sent.to_be_bytes());
                p.extend_from_slice(&(u32::from(sent) * 160).to_be_bytes());
                p.extend_from_slice(&0x1234_5678u32.to_be_bytes());
                for i in 0..160u32 {
                    let t = f64::from(u32::from(sent) * 160 + i) / 8000.0;
                    let s = (t * 500.0 * std::f64::consts::TAU).sin() * 12_000.0;
                    p.push(G711Law::MuLaw.encode(s as i16));
                }
                pc.write_rtp(audio, bytes::Bytes::from(p)).unwrap();
                if echoed { sent += 1; }
                assert!(sent < 1000, "nothing echoed");
            }
            e = pc.next_event() => {
                if matches!(e, Some(ferrtc::Event::Rtp { .. })) { echoed = true; }
            }
        }
    }
    pc.close().await;
    // The call's end finishes the file. The server learns of it from our close's DTLS
    // close_notify, at once; the bound stays below consent expiry (RFC 7675 §5.1: 30 s).
    let line = tokio::time::timeout(Duration::from_secs(20), async {
        loop {
            let line = demo.stdout.next_line().await.unwrap().expect("a line");
            if line.starts_with("recorded to ") {
                return line;
            }
        }
    })
    .await
    .expect("the recording finished within 20 s");
    assert!(line.ends_with("call.wav"), "{line}");
    let wav = std::fs::read(&file).unwrap();
    assert_eq!(&wav[..4], b"RIFF");
    assert_eq!(&wav[8..12], b"WAVE");
    // The PCM after the 44-byte header: 16-bit mono at 8 kHz, at least the 1.5 s sent,
    // as loud as it went.
    let samples: Vec<i16> = wav[44..]
        .chunks_exact(2)
        .map(|c| i16::from_le_bytes([c[0], c[1]]))
        .collect();
    assert_eq!(u32::from_le_bytes(wav[24..28].try_into().unwrap()), 8000);
    assert!(samples.len() >= 12_000, "{} samples", samples.len());
    let rms =
        (samples.iter().map(|&s| f64::from(s).powi(2)).sum::<f64>() / samples.len() as f64).sqrt();
    assert!(rms > 6000.0, "rms {rms}");
    demo.stop().await;
    let _ = std::fs::remove_dir_all(dir);
}
