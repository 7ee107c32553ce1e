//! Entry points for the cargo-fuzz targets in `fuzz/` (not a stable API).
//!
//! Each parser entry re-encodes what it parsed and asserts the bytes (or the value) come
//! back unchanged; the endpoint entry drives a client and a server with an arbitrary mix
//! of their real datagrams, forged or mutated ones, and time jumps.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use rand::RngCore;

use crate::alert::Alert;
use crate::certificate::Certificate;
use crate::config::Config;
use crate::endpoint::Endpoint;
use crate::handshake::{Fragment, HandshakeMessage, HandshakeType};
use crate::record::Records;
use ferrtc_types::{DtlsRole, HashAlgorithm};

/// Records of a datagram: every record that parses re-emits to its own bytes.
pub fn record(data: &[u8]) {
    for rec in Records::new(data) {
        let Ok(rec) = rec else { break };
        let mut out = Vec::new();
        rec.repr().emit(&mut out);
        out.extend_from_slice(rec.fragment());
        assert_eq!(out, rec.into_inner());
    }
    if let Ok(a) = Alert::decode(data) {
        assert_eq!(&a.encode()[..], data);
    }
}

const TYPES: [HandshakeType; 11] = [
    HandshakeType::HelloRequest,
    HandshakeType::ClientHello,
    HandshakeType::ServerHello,
    HandshakeType::HelloVerifyRequest,
    HandshakeType::Certificate,
    HandshakeType::ServerKeyExchange,
    HandshakeType::CertificateRequest,
    HandshakeType::ServerHelloDone,
    HandshakeType::CertificateVerify,
    HandshakeType::ClientKeyExchange,
    HandshakeType::Finished,
];

/// First byte picks a handshake message type, the rest is its body: a body that decodes
/// re-encodes to a body that decodes to the same message. The whole input is also parsed
/// as handshake fragments, which must re-emit to their bytes.
pub fn handshake(data: &[u8]) {
    if let Some((&t, body)) = data.split_first() {
        let typ = TYPES[usize::from(t) % TYPES.len()];
        if let Ok(m) = HandshakeMessage::decode(typ, body) {
            let mut enc = Vec::new();
            m.encode(&mut enc);
            let again = HandshakeMessage::decode(typ, &enc).expect("re-encoded message decodes");
            assert_eq!(again, m);
            let mut enc2 = Vec::new();
            again.encode(&mut enc2);
            assert_eq!(enc2, enc);
        }
    }
    let mut consumed = 0;
    for f in Fragment::parse_all(data) {
        let Ok(f) = f else { break };
        let mut out = Vec::new();
        f.emit(&mut out);
        assert_eq!(&data[consumed..consumed + out.len()], &out[..]);
        consumed += out.len();
    }
}

/// A small deterministic generator (SplitMix64) so fuzz runs replay exactly.
#[derive(Debug, Clone)]
pub struct SplitMix(pub u64);

impl RngCore for SplitMix {
    fn next_u32(&mut self) -> u32 {
        self.next_u64() as u32
    }
    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    fn fill_bytes(&mut self, dst: &mut [u8]) {
        for chunk in dst.chunks_mut(8) {
            let v = self.next_u64().to_le_bytes();
            chunk.copy_from_slice(&v[..chunk.len()]);
        }
    }
}

fn configs() -> &'static (Arc<Config>, Arc<Config>) {
    static CONFIGS: OnceLock<(Arc<Config>, Arc<Config>)> = OnceLock::new();
    CONFIGS.get_or_init(|| {
        let a = Arc::new(Certificate::generate().expect("certificate generation"));
        let b = Arc::new(Certificate::generate().expect("certificate generation"));
        let mut ca = Config::new(
            DtlsRole::Client,
            a.clone(),
            vec![b.fingerprint(HashAlgorithm::Sha256)],
        );
        let mut cb = Config::new(
            DtlsRole::Server,
            b,
            vec![a.fingerprint(HashAlgorithm::Sha256)],
        );
        ca.mtu = 300;
        cb.mtu = 300;
        (Arc::new(ca), Arc::new(cb))
    })
}

/// Drives a client and a server with operations read from `data`: deliver, drop, mutate
/// or forge datagrams, jump time, send data, close. Never panics; if both sides connect,
/// their keying material agrees. Returns whether both sides connected.
pub fn endpoint(data: &[u8]) -> bool {
    let (cc, sc) = configs();
    let t0 = Instant::now();
    let mut now = t0;
    let client_addr = SocketAddr::from(([10, 0, 0, 1], 5000));
    let server_addr = SocketAddr::from(([10, 0, 0, 2], 5000));
    let Ok(mut client) = Endpoint::new(cc.clone(), now, Box::new(SplitMix(1))) else {
        return false;
    };
    let Ok(mut server) = Endpoint::new(sc.clone(), now, Box::new(SplitMix(2))) else {
        return false;
    };
    if client.connect(now, server_addr).is_err() {
        return false;
    }
    let mut to_server: VecDeque<Vec<u8>> = VecDeque::new();
    let mut to_client: VecDeque<Vec<u8>> = VecDeque::new();
    let mut bytes = data.iter().copied();
    let mut next = move || bytes.next();
    while let Some(op) = next() {
        while let Some(t) = client.poll_transmit() {
            assert_eq!(t.destination, server_addr);
            to_server.push_back(t.contents.to_vec());
        }
        while let Some(t) = server.poll_transmit() {
            assert_eq!(t.destination, client_addr);
            to_client.push_back(t.contents.to_vec());
        }
        while client.poll_event().is_some() {}
        while server.poll_event().is_some() {}
        let towards_server = op & 1 == 0;
        let (ep, queue, from) = if towards_server {
            (&mut server, &mut to_server, client_addr)
        } else {
            (&mut client, &mut to_client, server_addr)
        };
        match (op >> 1) % 6 {
            0 => {
                if let Some(mut d) = queue.pop_front() {
                    // A drop (an `Err`) must leave the endpoint as it was.
                    let connected = ep.is_connected();
                    match ep.handle_receive(now, from, &mut d) {
                        Ok(ranges) => {
                            for r in ranges.iter() {
                                assert!(r.start <= r.end && r.end <= d.len());
                            }
                        }
                        Err(_) => assert_eq!(ep.is_connected(), connected),
                    }
                }
            }
            1 => {
                queue.pop_front();
            }
            2 => {
                if let Some(mut d) = queue.pop_front() {
                    let pos = usize::from(next().unwrap_or(0));
                    let x = next().unwrap_or(1);
                    if !d.is_empty() {
                        let i = pos % d.len();
                        d[i] ^= x;
                    }
                    let cut = usize::from(next().unwrap_or(255)) * 4;
                    d.truncate(cut.max(1));
                    let _ = ep.handle_receive(now, from, &mut d);
                }
            }
            3 => {
                let len = usize::from(next().unwrap_or(0));
                let mut forged: Vec<u8> = (0..len).map_while(|_| next()).collect();
                let _ = ep.handle_receive(now, from, &mut forged);
            }
            4 => {
                now += Duration::from_millis(u64::from(next().unwrap_or(0)) * 50);
                client.handle_timeout(now);
                server.handle_timeout(now);
            }
            _ => match next().unwrap_or(0) % 3 {
                0 => {
                    let _ = ep.send(b"fuzz");
                }
                1 => {
                    if let Some(mut d) = queue.back().cloned() {
                        let _ = ep.handle_receive(now, from, &mut d);
                    }
                }
                _ => ep.close(),
            },
        }
    }
    let connected = client.is_connected() && server.is_connected();
    if connected {
        let a = client.export_keying_material(b"EXTRACTOR-dtls_srtp", 60);
        let b = server.export_keying_material(b"EXTRACTOR-dtls_srtp", 60);
        assert_eq!(a, b);
        if let (Ok(c), Ok(s)) = (client.srtp_keys(), server.srtp_keys()) {
            assert_eq!(c.local_key(), s.remote_key());
            assert_eq!(c.remote_salt(), s.local_salt());
        }
    }
    connected
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entry_points_accept_anything() {
        record(&[]);
        record(&[0x16, 0xfe, 0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0]);
        handshake(&[]);
        handshake(&[1, 0xfe, 0xfd]);
        handshake(&[0x0e, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
        // Deliver alternately until done, with a forged datagram and a time jump.
        let mut ops = vec![0u8, 1, 6, 3, 0x41, 0x16, 0xfe, 8, 2];
        ops.extend([0u8, 1].repeat(40));
        assert!(endpoint(&ops), "plain delivery connects");
        assert!(
            !endpoint(&[3u8, 1].repeat(40)),
            "dropping everything does not"
        );
    }
}
