//! Starting the demo binary on 127.0.0.1 and talking to it over HTTP or HTTPS, with a
//! ferrtc peer connection as the browser. Every wait is bounded by a deadline; nothing
//! sleeps.

#![allow(dead_code)]

use std::future::Future;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;

use ferrtc::net::HostAddresses;
use ferrtc::{Configuration, DataChannelInit, Description, Message, PeerConnection, SdpType};
use rustls::ClientConfig;
use rustls::pki_types::ServerName;
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::process::{Child, ChildStdout};

/// How long any one step may take before the test fails.
pub const DEADLINE: Duration = Duration::from_secs(30);

/// `fut`, or a panic naming `what` after [`DEADLINE`].
pub async fn within<T>(what: &str, fut: impl Future<Output = T>) -> T {
    match tokio::time::timeout(DEADLINE, fut).await {
        Ok(v) => v,
        Err(_) => panic!("timed out waiting for {what}"),
    }
}

/// A fresh empty directory under the system's temporary one.
pub fn temp_dir(what: &str) -> PathBuf {
    static N: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let dir = std::env::temp_dir().join(format!(
        "ferrtc-demo-test-{what}-{}-{n}",
        std::process::id()
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("temporary directory");
    dir
}

/// The demo binary, running on 127.0.0.1 with a port of its own.
pub struct Demo {
    /// `http://127.0.0.1:PORT` or `https://...`.
    pub url: String,
    /// Where it listens.
    pub addr: SocketAddr,
    /// The rest of its stdout.
    pub stdout: tokio::io::Lines<BufReader<ChildStdout>>,
    child: Child,
}

impl Demo {
    /// Starts the demo with `args` (beside `--host 127.0.0.1 --port 0`) and reads where it
    /// listens from its first line.
    pub async fn start(args: &[&str]) -> Demo {
        let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_ferrtc-demo"))
            .args(["--host", "127.0.0.1", "--port", "0"])
            .args(args)
            .env("RUST_LOG", "warn")
            .stdout(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .expect("the demo starts");
        let mut stdout = BufReader::new(child.stdout.take().expect("piped")).lines();
        let line = within("the demo listening", stdout.next_line())
            .await
            .expect("stdout readable")
            .expect("a first line");
        let url = line
            .strip_prefix("listening on ")
            .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
            .to_owned();
        let addr = url
            .split_once("://")
            .and_then(|(_, a)| a.parse().ok())
            .unwrap_or_else(|| panic!("no address in {url}"));
        Demo {
            url,
            addr,
            stdout,
            child,
        }
    }

    /// Stops the demo (SIGINT is not needed: nothing is flushed at exit but recordings,
    /// which finish when their call ends).
    pub async fn stop(mut self) {
        let _ = self.child.start_kill();
        let _ = self.child.wait().await;
    }
}

/// One HTTP/1.1 request over `io`; returns the status and the body.
async fn exchange(
    mut io: impl AsyncRead + AsyncWrite + Unpin,
    host: &str,
    method: &str,
    path: &str,
    body: &str,
) -> (u16, String) {
    let request = format!(
        "{method} {path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    io.write_all(request.as_bytes()).await.unwrap();
    io.flush().await.unwrap();
    // Read until the body announced is in (the server may close without close_notify).
    let mut response = Vec::new();
    let mut buf = [0u8; 16384];
    loop {
        if let Some(end) = response.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&response[..end]).to_string();
            let length = head.lines().find_map(|l| {
                let (k, v) = l.split_once(':')?;
                k.eq_ignore_ascii_case("content-length")
                    .then(|| v.trim().parse::<usize>().ok())?
            });
            if let Some(length) = length {
                if response.len() >= end + 4 + length {
                    let status = head.split(' ').nth(1).unwrap().parse().unwrap();
                    let body = String::from_utf8(response[end + 4..end + 4 + length].to_vec())
                        .expect("UTF-8 body");
                    return (status, body);
                }
            }
        }
        let n = io.read(&mut buf).await.expect("response readable");
        assert!(n > 0, "connection closed mid-response: {response:?}");
        response.extend_from_slice(&buf[..n]);
    }
}

/// A request to the demo over plain HTTP.
pub async fn http(demo: &Demo, method: &str, path: &str, body: &str) -> (u16, String) {
    within(path, async {
        let tcp = tokio::net::TcpStream::connect(demo.addr).await.unwrap();
        exchange(tcp, &demo.addr.to_string(), method, path, body).await
    })
    .await
}

/// A request to the demo over TLS, asking for the certificate of `name`.
pub async fn request(
    demo: &Demo,
    client: &Arc<ClientConfig>,
    name: &str,
    method: &str,
    path: &str,
    body: &str,
) -> (u16, String) {
    within(path, async {
        let tcp = tokio::net::TcpStream::connect(demo.addr).await.unwrap();
        let server_name = ServerName::try_from(name.to_owned()).expect("a server name");
        let tls = tokio_rustls::TlsConnector::from(Arc::clone(client))
            .connect(server_name, tcp)
            .await
            .expect("TLS handshake");
        exchange(tls, name, method, path, body).await
    })
    .await
}

/// A configuration that stays on 127.0.0.1.
pub fn loopback() -> Configuration {
    Configuration::new().with_host_addresses(HostAddresses::loopback())
}

/// Offers `pc`'s description (gathered, no trickle) with `POST /offer`, over TLS with
/// `client` when given, and applies the answer.
pub async fn signal(
    demo: &Demo,
    tls: Option<(&Arc<ClientConfig>, &str)>,
    pc: &PeerConnection,
    transform: &str,
) -> String {
    pc.set_local_description(None).await.unwrap();
    within("gathering", pc.gathering_complete()).await.unwrap();
    let offer = pc.local_description().unwrap();
    let body =
        serde_json::json!({ "sdp": offer.sdp, "type": "offer", "video_transform": transform })
            .to_string();
    let (status, body) = match tls {
        Some((client, name)) => request(demo, client, name, "POST", "/offer", &body).await,
        None => http(demo, "POST", "/offer", &body).await,
    };
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

/// A call with a data channel, signalled over TLS with `client`: `ping 7` gets `pong 7`.
pub async fn call_with_ping(demo: &Demo, client: &Arc<ClientConfig>, name: &str) {
    let pc = PeerConnection::new(loopback()).await.unwrap();
    let dc = pc
        .create_data_channel("chat", DataChannelInit::default())
        .await
        .unwrap();
    let answer = signal(demo, Some((client, name)), &pc, "none").await;
    assert!(answer.contains("127.0.0.1"), "{answer}");
    within("channel open", dc.opened()).await.unwrap();
    dc.send("ping 7").await.unwrap();
    let m = within("pong", dc.recv()).await.unwrap();
    assert_eq!(m, Message::text("pong 7"));
    pc.close().await;
}
