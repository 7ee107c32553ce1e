//! Two ferrtc peers that may only talk through a TURN server: both use the `relay` ICE
//! transport policy, so each gathers one relayed candidate (its allocation on the server)
//! and nothing else, and every check, handshake and message goes through the relay.
//!
//! ```sh
//! turnserver -n --listening-ip=127.0.0.1 --relay-ip=127.0.0.1 --listening-port=3478 \
//!   --min-port=50000 --max-port=50100 --lt-cred-mech --user=test:test --realm=interop \
//!   --allow-loopback-peers --no-cli
//! cargo run -p ferrtc --example stun_turn -- --turn turn:127.0.0.1:3478 --user test --pass test
//! ```
//!
//! `--turn` takes any TURN URL of the W3C API: `turn:HOST:PORT` (UDP),
//! `turn:HOST:PORT?transport=tcp` (TCP), `turns:HOST:PORT` (TLS over TCP, default port
//! 5349). For `turns:`, `--ca FILE` names the PEM certificate(s) to trust for the server
//! (ferrtc has no built-in roots): coturn started with `--cert=cert.pem --pkey=key.pem`
//! (and without `--no-tls`) is reached with
//! `--turn turns:127.0.0.1:5349 --ca cert.pem`, the certificate naming `127.0.0.1`.
//!
//! It prints each side's candidates, the selected pair's candidate types from `stats`,
//! and the replies; it fails if a candidate is not relayed or a reply does not come back.

use ferrtc::net::HostAddresses;
use ferrtc::{
    Configuration, DataChannelInit, Event, IceServer, IceTransportPolicy, PeerConnection, StatsType,
};

/// Messages sent each way.
const MESSAGES: usize = 20;

struct Args {
    turn: String,
    user: String,
    pass: String,
    /// PEM certificates trusted for a `turns:` server.
    roots: Vec<Vec<u8>>,
}

fn args() -> Result<Args, String> {
    let mut turn = None;
    let mut user = None;
    let mut pass = None;
    let mut roots = Vec::new();
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let value = it.next().ok_or(format!("{flag} needs a value"))?;
        match flag.as_str() {
            "--turn" => turn = Some(value),
            "--user" => user = Some(value),
            "--pass" => pass = Some(value),
            "--ca" => roots.push(std::fs::read(&value).map_err(|e| format!("{value}: {e}"))?),
            _ => return Err(format!("unknown flag {flag}")),
        }
    }
    Ok(Args {
        turn: turn
            .ok_or("--turn turn:HOST:PORT[?transport=udp|tcp] or turns:HOST:PORT is required")?,
        user: user.ok_or("--user is required")?,
        pass: pass.ok_or("--pass is required")?,
        roots,
    })
}

/// The candidate types of the selected pair, from the W3C stats.
async fn selected_pair_types(pc: &PeerConnection) -> Result<(String, String), String> {
    let report = pc.stats().await.map_err(|e| e.to_string())?;
    let pair = report
        .of(StatsType::CandidatePair)
        .next()
        .ok_or("no selected candidate pair")?;
    let kind = |member: &str| -> Result<String, String> {
        let id = pair.get_str(member).ok_or("pair without candidate id")?;
        let c = report.get(id).ok_or("candidate not in the report")?;
        Ok(c.get_str("candidateType").unwrap_or("?").to_owned())
    };
    Ok((kind("localCandidateId")?, kind("remoteCandidateId")?))
}

fn candidates(sdp: &str) -> Vec<&str> {
    sdp.lines()
        .filter(|l| l.starts_with("a=candidate:"))
        .collect()
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args = args()?;
    let config = || Configuration {
        ice_servers: vec![IceServer {
            urls: vec![args.turn.clone()],
            username: Some(args.user.clone()),
            credential: Some(args.pass.clone()),
        }],
        ice_transport_policy: IceTransportPolicy::Relay,
        tls_roots: args.roots.clone(),
        // Where the sockets that reach the TURN server are bound; never candidates here.
        host_addresses: HostAddresses::loopback(),
        ..Configuration::default()
    };
    let alice = PeerConnection::new(config()).await?;
    let bob = PeerConnection::new(config()).await?;
    let chat = alice
        .create_data_channel("chat", DataChannelInit::default())
        .await?;

    // Signalling without trickle: gathering completes once the allocation is made.
    alice.set_local_description(None).await?;
    alice.gathering_complete().await?;
    let offer = alice.local_description().ok_or("no offer")?;
    bob.set_remote_description(offer.clone()).await?;
    bob.set_local_description(None).await?;
    bob.gathering_complete().await?;
    let answer = bob.local_description().ok_or("no answer")?;
    alice.set_remote_description(answer.clone()).await?;
    for (who, d) in [("alice", &offer), ("bob", &answer)] {
        let list = candidates(&d.sdp);
        for c in &list {
            println!("{who}: {c}");
        }
        if list.is_empty() || list.iter().any(|c| !c.contains(" typ relay")) {
            return Err(format!("{who}: expected relayed candidates only").into());
        }
    }

    let bob_task = tokio::spawn(async move {
        while let Some(event) = bob.next_event().await {
            if let Event::DataChannel(channel) = event {
                while let Some(m) = channel.recv().await {
                    let text = m.as_text().unwrap_or("<binary>").to_owned();
                    if channel.send(format!("re: {text}")).await.is_err() {
                        break;
                    }
                }
                break;
            }
        }
        bob
    });

    chat.opened().await?;
    println!("alice: channel {:?} open", chat.label());
    for i in 0..MESSAGES {
        chat.send(format!("hello {i}")).await?;
    }
    for i in 0..MESSAGES {
        let reply = chat.recv().await.ok_or("channel closed")?;
        if reply.as_text() != Some(format!("re: hello {i}").as_str()) {
            return Err(format!("unexpected reply {reply:?}").into());
        }
    }
    println!("alice: {MESSAGES} replies through the relay");
    let (local, remote) = selected_pair_types(&alice).await?;
    println!("alice: selected pair {local} -> {remote}");
    if local != "relay" || remote != "relay" {
        return Err("the selected pair is not relay to relay".into());
    }
    chat.close();
    alice.close().await;
    bob_task.abort();
    println!("done");
    Ok(())
}
