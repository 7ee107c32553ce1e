//! The examples, run as a user would run them (the binaries cargo built beside this test),
//! on 127.0.0.1 only.

mod common;

use std::path::PathBuf;
use std::process::Stdio;

use common::*;
use ferrtc::{DataChannelInit, Description, Message, PeerConnection, SdpType};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};

/// Where cargo put the example binaries: `target/<profile>/examples`, beside `deps` where
/// this test runs from.
fn example(name: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("test binary path");
    let dir = exe
        .parent()
        .and_then(|deps| deps.parent())
        .expect("target/<profile>/deps");
    dir.join("examples").join(name)
}

#[tokio::test]
async fn datachannel_example_runs() {
    let out = within(
        "the datachannel example",
        tokio::process::Command::new(example("datachannel"))
            .kill_on_drop(true)
            .output(),
    )
    .await
    .expect("example runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "exit {:?}\n{stdout}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("alice: got \"re: hello 2\""), "{stdout}");
    assert!(stdout.ends_with("done\n"), "{stdout}");
}

/// A minimal HTTP/1.1 POST of JSON; returns the status and the body.
async fn post_json(addr: &str, path: &str, body: &str) -> (u16, String) {
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let request = format!(
        "POST {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut response = Vec::new();
    stream.read_to_end(&mut response).await.unwrap();
    let response = String::from_utf8(response).unwrap();
    let (head, body) = response.split_once("\r\n\r\n").unwrap();
    let status = head.split(' ').nth(1).unwrap().parse().unwrap();
    (status, body.to_owned())
}

struct Server {
    addr: String,
    _child: tokio::process::Child,
}

async fn start_echo_server() -> Server {
    start_echo_server_with(&[]).await
}

async fn start_echo_server_with(extra: &[&str]) -> Server {
    let mut child = tokio::process::Command::new(example("echo_server"))
        .args(["--host", "127.0.0.1", "--port", "0"])
        .args(extra)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("echo_server starts");
    let stdout = child.stdout.take().unwrap();
    let mut line = String::new();
    within(
        "echo_server listening",
        BufReader::new(stdout).read_line(&mut line),
    )
    .await
    .unwrap();
    let addr = line
        .trim()
        .strip_prefix("listening on http://")
        .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
        .to_owned();
    Server {
        addr,
        _child: child,
    }
}

/// Offers `pc`'s description (gathered, no trickle) to the server and applies the answer.
async fn signal(server: &Server, pc: &PeerConnection) -> String {
    pc.set_local_description(None).await.unwrap();
    within("gathering", pc.gathering_complete()).await.unwrap();
    let offer = pc.local_description().unwrap();
    let body = serde_json::json!({ "sdp": offer.sdp, "type": "offer" }).to_string();
    let (status, body) = within("POST /offer", post_json(&server.addr, "/offer", &body)).await;
    assert_eq!(status, 200, "{body}");
    let answer: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(answer["type"], "answer");
    let sdp = answer["sdp"].as_str().unwrap().to_owned();
    pc.set_remote_description(Description {
        sdp_type: SdpType::Answer,
        sdp: sdp.clone(),
    })
    .await
    .unwrap();
    sdp
}

#[tokio::test]
async fn echo_server_echoes_data_channel_messages() {
    let server = start_echo_server().await;
    let pc = PeerConnection::new(loopback()).await.unwrap();
    let dc = pc
        .create_data_channel("echo", DataChannelInit::default())
        .await
        .unwrap();
    let answer = signal(&server, &pc).await;
    assert!(
        answer.contains("a=candidate"),
        "answer without candidates:\n{answer}"
    );
    assert!(answer.contains("127.0.0.1"), "{answer}");
    within("channel open", dc.opened()).await.unwrap();
    for i in 0..50 {
        dc.send(format!("ping {i}")).await.unwrap();
        if i == 10 {
            dc.send(vec![7u8; 1200]).await.unwrap();
        }
        if i == 30 {
            dc.send("x".repeat(16_000)).await.unwrap();
        }
    }
    for i in 0..50 {
        let m = within("echo", dc.recv()).await.unwrap();
        assert_eq!(m, Message::text(format!("pong {i}")));
        if i == 10 {
            let m = within("binary echo", dc.recv()).await.unwrap();
            assert_eq!(m, Message::binary(vec![7u8; 1200]));
        }
        if i == 30 {
            let m = within("long echo", dc.recv()).await.unwrap();
            assert_eq!(m.as_text().map(str::len), Some(16_000));
        }
    }
    // A bad request is refused, and the server lives on.
    let (status, _) = post_json(
        &server.addr,
        "/offer",
        r#"{"sdp":"garbage","type":"offer"}"#,
    )
    .await;
    assert_ne!(status, 200);
    let (status, _) = post_json(&server.addr, "/offer", "not json").await;
    assert_ne!(status, 200);
}

#[tokio::test]
async fn echo_server_with_a_shared_port_serves_every_client_on_it() {
    let server = start_echo_server_with(&["--shared-port", "0"]).await;
    let mut ports = Vec::new();
    let mut kept = Vec::new();
    for client in 0..3 {
        let pc = PeerConnection::new(loopback()).await.unwrap();
        let dc = pc
            .create_data_channel("echo", DataChannelInit::default())
            .await
            .unwrap();
        let answer = signal(&server, &pc).await;
        ports.extend(
            answer
                .lines()
                .filter_map(|l| l.strip_prefix("a=candidate:"))
                .filter_map(|l| l.split_whitespace().nth(5).map(str::to_owned)),
        );
        within("channel open", dc.opened()).await.unwrap();
        for i in 0..10 {
            dc.send(format!("ping {client}{i}")).await.unwrap();
        }
        for i in 0..10 {
            let m = within("echo", dc.recv()).await.unwrap();
            assert_eq!(m, Message::text(format!("pong {client}{i}")));
        }
        kept.push((pc, dc));
    }
    // Every answer's host candidates are on the one shared port.
    assert!(ports.len() >= 3, "{ports:?}");
    assert!(ports.iter().all(|p| *p == ports[0]), "{ports:?}");
}

/// The payload type our offer gave `codec` (from its `a=rtpmap` line).
fn payload_type(sdp: &str, codec: &str) -> u8 {
    sdp.lines()
        .filter_map(|l| l.strip_prefix("a=rtpmap:"))
        .find_map(|l| {
            let (pt, name) = l.split_once(' ')?;
            name.starts_with(codec).then(|| pt.parse().ok())?
        })
        .unwrap_or_else(|| panic!("no {codec} in\n{sdp}"))
}

#[tokio::test]
async fn echo_server_sends_rtp_back_on_the_same_transceiver() {
    let server = start_echo_server().await;
    let pc = PeerConnection::new(loopback()).await.unwrap();
    let audio = pc
        .add_transceiver(ferrtc::MediaKind::Audio, Default::default())
        .await
        .unwrap();
    let answer = signal(&server, &pc).await;
    assert!(answer.contains("a=sendrecv"), "{answer}");
    let pt = payload_type(&pc.local_description().unwrap().sdp, "opus/48000");
    within("connected", pc.connected()).await.unwrap();
    // Paced like audio (20 ms) until the first packet comes back: the server may finish its
    // DTLS handshake a little after us and drop what comes before.
    let mut pacing = tokio::time::interval(std::time::Duration::from_millis(20));
    let mut seq: u16 = 0;
    let echoed = within("an echoed RTP packet", async {
        loop {
            tokio::select! {
                _ = pacing.tick() => {
                    seq += 1;
                    let mut p = vec![0x80, pt];
                    p.extend_from_slice(&seq.to_be_bytes());
                    p.extend_from_slice(&(u32::from(seq) * 960).to_be_bytes());
                    p.extend_from_slice(&0x1234_5678u32.to_be_bytes());
                    p.extend_from_slice(b"opus frame payload");
                    pc.write_rtp(audio, bytes::Bytes::from(p)).unwrap();
                }
                ev = pc.next_event() => match ev {
                    Some(ferrtc::Event::Rtp { transceiver, packet, .. }) => {
                        break (transceiver, packet);
                    }
                    Some(_) => {}
                    None => panic!("connection ended"),
                }
            }
        }
    })
    .await;
    assert_eq!(echoed.0, audio);
    assert_eq!(echoed.1[1] & 0x7f, pt);
    assert!(echoed.1.ends_with(b"opus frame payload"));
}

/// Reads one HTTP/1.1 request with a `Content-Length` body; returns the request line and
/// the body.
async fn read_request(stream: &mut tokio::net::TcpStream) -> (String, String) {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    let head_end = loop {
        let n = stream.read(&mut chunk).await.unwrap();
        assert!(n > 0, "connection closed mid-request");
        buf.extend_from_slice(&chunk[..n]);
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
    };
    let head = String::from_utf8(buf[..head_end].to_vec()).unwrap();
    let length: usize = head
        .lines()
        .find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.eq_ignore_ascii_case("content-length")
                .then(|| v.trim().parse().ok())?
        })
        .expect("Content-Length");
    while buf.len() < head_end + length {
        let n = stream.read(&mut chunk).await.unwrap();
        assert!(n > 0, "connection closed mid-body");
        buf.extend_from_slice(&chunk[..n]);
    }
    let line = head.lines().next().unwrap().to_owned();
    (line, String::from_utf8(buf[head_end..].to_vec()).unwrap())
}

#[tokio::test]
async fn echo_offerer_echoes_what_the_answerer_sends() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/offer?run=1", listener.local_addr().unwrap());
    let _child = tokio::process::Command::new(example("echo_offerer"))
        .args(["--url", url.as_str(), "--audio"])
        .env("RUST_LOG", "warn")
        .kill_on_drop(true)
        .spawn()
        .expect("echo_offerer starts");
    let (mut stream, _) = within("the offer", listener.accept()).await.unwrap();
    let (line, body) = within("the offer", read_request(&mut stream)).await;
    assert_eq!(line, "POST /offer?run=1 HTTP/1.1");
    let offer: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(offer["type"], "offer");
    let sdp = offer["sdp"].as_str().unwrap().to_owned();
    for needed in ["a=candidate", "m=application", "m=audio"] {
        assert!(sdp.contains(needed), "offer without {needed}:\n{sdp}");
    }

    // Answer as the harness's answerers do: with a channel of our own.
    let pc = PeerConnection::new(loopback()).await.unwrap();
    pc.set_remote_description(Description {
        sdp_type: SdpType::Offer,
        sdp,
    })
    .await
    .unwrap();
    let mine = pc
        .create_data_channel("answerer", DataChannelInit::default())
        .await
        .unwrap();
    pc.set_local_description(None).await.unwrap();
    within("gathering", pc.gathering_complete()).await.unwrap();
    let answer = pc.local_description().unwrap();
    let body = serde_json::json!({ "sdp": answer.sdp, "type": "answer" }).to_string();
    let response = format!(
        "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\
         Connection: close\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(response.as_bytes()).await.unwrap();
    drop(stream);

    within("our channel open", mine.opened()).await.unwrap();
    mine.send("ping 3").await.unwrap();
    assert_eq!(
        within("pong", mine.recv()).await.unwrap(),
        Message::text("pong 3")
    );
    mine.send(vec![1u8, 2, 3]).await.unwrap();
    assert_eq!(
        within("binary echo", mine.recv()).await.unwrap(),
        Message::binary(vec![1u8, 2, 3])
    );
    let theirs = remote_channel(&pc).await;
    assert_eq!(theirs.label(), "echo");
    theirs.send("hello").await.unwrap();
    assert_eq!(
        within("echo", theirs.recv()).await.unwrap(),
        Message::text("hello")
    );
}
