//! A hostile sender (issue 11, reliability): garbage, floods of STUN with bad integrity,
//! DTLS ClientHello floods and SRTP-looking replays, sent from a raw socket on 127.0.0.1 to
//! an established connection, do not disturb it, and its memory stays bounded.
//!
//! Two ferrtc peers exchange a numbered stream of data-channel messages while a third
//! socket fires datagrams at the answerer's port, interleaved with the messages. Every
//! message must arrive once, in order; the connection must stay `Connected`; and resident
//! memory, taken after a first round of the flood, must not grow by more than
//! [`RSS_SLACK`] over the next rounds (each round sends more than that in datagrams, so a
//! connection that kept what the attacker sent would fail).

#![cfg(target_os = "linux")]

mod common;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use common::*;
use ferrtc::layers::dtls;
use ferrtc::layers::stun_ice::stun::{
    Attribute, Class, IntegrityKey, MessageBuilder, MessageType, Method, TransactionId,
};
use ferrtc::{ConnectionState, DataChannelInit};
use rand::{Rng, RngCore, SeedableRng};

/// Hostile datagrams per round.
const FLOOD_PER_ROUND: usize = 6000;
/// Rounds of the flood; memory is compared between the end of the first and of the last.
const ROUNDS: usize = 4;
/// Data-channel messages sent per round, between the hostile datagrams.
const MESSAGES_PER_ROUND: usize = 250;
/// How much resident memory may grow over the rounds after the first.
const RSS_SLACK: u64 = 4 * 1024 * 1024;

fn rss_bytes() -> u64 {
    let statm = std::fs::read_to_string("/proc/self/statm").expect("/proc/self/statm");
    let pages: u64 = statm
        .split_whitespace()
        .nth(1)
        .and_then(|p| p.parse().ok())
        .expect("resident pages");
    pages * 4096
}

/// The `a=ice-ufrag` of a description.
fn ufrag(sdp: &str) -> String {
    sdp.lines()
        .find_map(|l| l.strip_prefix("a=ice-ufrag:"))
        .expect("ice-ufrag")
        .trim()
        .to_owned()
}

/// The kinds of hostile datagram, in turn.
struct Attacker {
    rng: rand_chacha::ChaCha20Rng,
    /// Binding requests with the right USERNAME (`victim:peer`) and a wrong key.
    username: String,
    /// A genuine DTLS 1.2 ClientHello flight (from a ferrtc DTLS client).
    client_hello: Vec<Vec<u8>>,
    sent: usize,
}

impl Attacker {
    fn new(victim: SocketAddr, username: String) -> Attacker {
        let cert = Arc::new(dtls::Certificate::generate().unwrap());
        let fingerprint = cert.fingerprint(dtls::HashAlgorithm::Sha256);
        let config = Arc::new(dtls::Config::new(
            dtls::DtlsRole::Client,
            cert,
            vec![fingerprint],
        ));
        let now = Instant::now();
        let mut client = dtls::Endpoint::new(
            config,
            now,
            Box::new(rand_chacha::ChaCha20Rng::seed_from_u64(7)),
        )
        .unwrap();
        client.connect(now, victim).unwrap();
        let mut client_hello = Vec::new();
        while let Some(t) = client.poll_transmit() {
            client_hello.push(t.contents.to_vec());
        }
        assert!(!client_hello.is_empty(), "a ClientHello to replay");
        Attacker {
            rng: rand_chacha::ChaCha20Rng::seed_from_u64(11),
            username,
            client_hello,
            sent: 0,
        }
    }

    fn next(&mut self) -> Vec<u8> {
        self.sent += 1;
        match self.sent % 5 {
            // Garbage of any first byte and length, up to a jumbo datagram.
            0 => {
                let len = self.rng.random_range(0..4000);
                let mut d = vec![0; len];
                self.rng.fill_bytes(&mut d);
                d
            }
            // STUN with the right names and a wrong key (and a fresh transaction each).
            1 => {
                let mut out = Vec::new();
                let mut txid = [0; 12];
                self.rng.fill_bytes(&mut txid);
                let mut b = MessageBuilder::new(
                    &mut out,
                    MessageType::new(Class::Request, Method::BINDING),
                    TransactionId(txid),
                );
                b.add(&Attribute::Username(&self.username))
                    .unwrap()
                    .add(&Attribute::Priority(0x6e00_01ff))
                    .unwrap()
                    .add(&Attribute::IceControlling(self.rng.next_u64()))
                    .unwrap()
                    .add_message_integrity(&IntegrityKey::short_term("not the password"))
                    .unwrap()
                    .add_fingerprint()
                    .unwrap();
                let len = b.finish().len();
                out.truncate(len);
                out
            }
            // A ClientHello flood: the genuine flight, again and again.
            2 => self.client_hello[self.sent % self.client_hello.len()].clone(),
            // SRTP-looking packets (RTP version 2, a media payload type) with a sequence
            // number and SSRC that repeat: replays of one packet.
            3 => {
                let mut d = vec![0u8; 200];
                d[0] = 0x80;
                d[1] = 111;
                d[2..4].copy_from_slice(&7u16.to_be_bytes());
                d[8..12].copy_from_slice(&0x1234_5678u32.to_be_bytes());
                d
            }
            // SRTCP-looking (sender report type, RFC 5761 range) and DTLS application data
            // records of epoch 1 that no key opens.
            _ => {
                let mut d = vec![0u8; 120];
                self.rng.fill_bytes(&mut d);
                if self.rng.random_bool(0.5) {
                    d[0] = 0x80;
                    d[1] = 200;
                } else {
                    d[0] = 23;
                    d[1..3].copy_from_slice(&[0xfe, 0xfd]);
                    d[3..5].copy_from_slice(&1u16.to_be_bytes());
                    d[11..13].copy_from_slice(&107u16.to_be_bytes());
                }
                d
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hostile_sender_does_not_disturb_an_established_connection() {
    let (a, b, da, db) = pair_with_channel("steady", DataChannelInit::default()).await;
    within("connected", b.connected()).await.unwrap();
    let victim = b.local_addresses()[0];
    let username = format!(
        "{}:{}",
        ufrag(&b.local_description().unwrap().sdp),
        ufrag(&a.local_description().unwrap().sdp)
    );
    let attacker_socket = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let mut attacker = Attacker::new(victim, username);

    // The reader checks order as messages come.
    let reader = tokio::spawn(async move {
        let mut next = 0usize;
        while next < ROUNDS * MESSAGES_PER_ROUND {
            let m = within("a message under attack", db.recv()).await.unwrap();
            assert_eq!(
                m.as_text(),
                Some(format!("message {next}").as_str()),
                "in order, each once"
            );
            next += 1;
        }
        db
    });

    let mut rss_after_first = 0;
    let mut message = 0usize;
    for round in 0..ROUNDS {
        for i in 0..FLOOD_PER_ROUND {
            let d = attacker.next();
            // A full socket buffer on the way is the attacker's loss, not the test's.
            let _ = attacker_socket.send_to(&d, victim).await;
            if i % (FLOOD_PER_ROUND / MESSAGES_PER_ROUND) == 0
                && message < (round + 1) * MESSAGES_PER_ROUND
            {
                da.send(format!("message {message}")).await.unwrap();
                message += 1;
            }
        }
        while message < (round + 1) * MESSAGES_PER_ROUND {
            da.send(format!("message {message}")).await.unwrap();
            message += 1;
        }
        // The connection answers a round trip after each round: it is alive, not just
        // queuing.
        let stats = within("stats under attack", b.stats()).await.unwrap();
        drop(stats);
        if round == 0 {
            rss_after_first = rss_bytes();
        }
    }
    let db = within("every message", reader).await.unwrap();
    let rss_end = rss_bytes();
    eprintln!(
        "{} hostile datagrams; RSS {:.1} MiB after the first round, {:.1} MiB at the end",
        attacker.sent,
        rss_after_first as f64 / 1048576.0,
        rss_end as f64 / 1048576.0
    );
    assert_eq!(a.connection_state(), ConnectionState::Connected);
    assert_eq!(b.connection_state(), ConnectionState::Connected);
    // Still a working channel both ways after the flood.
    db.send("still here").await.unwrap();
    assert_eq!(
        within("a reply after the flood", da.recv())
            .await
            .unwrap()
            .as_text(),
        Some("still here")
    );
    assert!(
        rss_end <= rss_after_first + RSS_SLACK,
        "resident memory grew by {} KiB under the flood",
        rss_end.saturating_sub(rss_after_first) / 1024
    );
}
