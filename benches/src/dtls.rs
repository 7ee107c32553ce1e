//! The DTLS group: ferrtc-dtls beside `webrtc-dtls` 0.12 and beside the crypto floor.
//!
//! - Full handshake (ECDHE X25519, ECDSA P-256 on both sides, mutual authentication, cookie
//!   exchange, use_srtp, extended master secret), in memory, both endpoints in this thread:
//!   ferrtc; webrtc-dtls over its in-memory pipe on a current-thread tokio runtime; and the
//!   floor, the public-key operations any such handshake must do (two X25519 key pairs and
//!   agreements, two ECDSA P-256 signatures and two verifications).
//! - Record protection of a 1200-byte application data record (AES-128-GCM): ferrtc's
//!   record cipher beside ring's raw AEAD seal/open of the same bytes; and the whole
//!   endpoint path (send, transmit, receive, event) beside it.

use std::hint::black_box;
use std::sync::Arc;
use std::time::Instant;

use ferrtc_dtls::crypto::cipher::RecordCipher;
use ferrtc_dtls::record::{ContentType, DTLS_1_2, Record};
use ferrtc_dtls::types::BulkCipher;
use ferrtc_dtls::{Certificate, Config as DtlsConfig, DtlsRole, Endpoint, HashAlgorithm};
use rand::SeedableRng;
use ring::aead;
use ring::rand::SystemRandom;
use ring::signature::{self, EcdsaKeyPair, KeyPair};

use crate::{Case, Config, Row, Unit, compare};

/// Payload size of the record workloads.
pub const RECORD_SIZE: usize = 1200;

/// The addresses the in-memory endpoints stand at.
const CLIENT_ADDR: &str = "192.0.2.1:5000";
const SERVER_ADDR: &str = "192.0.2.2:5000";

/// Two ferrtc configs whose fingerprints point at each other.
pub fn ferrtc_configs() -> (Arc<DtlsConfig>, Arc<DtlsConfig>) {
    let a = Arc::new(Certificate::generate().unwrap());
    let b = Arc::new(Certificate::generate().unwrap());
    let mut ca = DtlsConfig::new(
        DtlsRole::Client,
        a.clone(),
        vec![b.fingerprint(HashAlgorithm::Sha256)],
    );
    let mut cb = DtlsConfig::new(
        DtlsRole::Server,
        b,
        vec![a.fingerprint(HashAlgorithm::Sha256)],
    );
    ca.srtp_profiles = vec![ferrtc_dtls::SrtpProfile::Aes128CmHmacSha1_80];
    cb.srtp_profiles = ca.srtp_profiles.clone();
    (Arc::new(ca), Arc::new(cb))
}

/// Runs one ferrtc handshake to completion, in memory; returns the connected pair.
pub fn ferrtc_handshake(
    c: &Arc<DtlsConfig>,
    s: &Arc<DtlsConfig>,
    seed: u64,
) -> (Endpoint, Endpoint) {
    let now = Instant::now();
    let rng = |s| Box::new(rand_chacha::ChaCha20Rng::seed_from_u64(s));
    let (client_addr, server_addr) = (CLIENT_ADDR.parse().unwrap(), SERVER_ADDR.parse().unwrap());
    let mut client = Endpoint::new(c.clone(), now, rng(seed)).unwrap();
    let mut server = Endpoint::new(s.clone(), now, rng(seed ^ 1)).unwrap();
    client.connect(now, server_addr).unwrap();
    let mut buf = Vec::with_capacity(2048);
    while !(client.is_connected() && server.is_connected()) {
        let mut moved = false;
        while let Some(t) = client.poll_transmit() {
            buf.clear();
            buf.extend_from_slice(&t.contents);
            server.handle_receive(now, client_addr, &mut buf).unwrap();
            moved = true;
        }
        while let Some(t) = server.poll_transmit() {
            buf.clear();
            buf.extend_from_slice(&t.contents);
            client.handle_receive(now, server_addr, &mut buf).unwrap();
            moved = true;
        }
        assert!(moved, "handshake stalled");
    }
    while client.poll_event().is_some() {}
    while server.poll_event().is_some() {}
    (client, server)
}

/// webrtc-dtls configs (mutual authentication, EMS, SRTP) and a runtime to run them on.
pub struct WebrtcDtls {
    rt: tokio::runtime::Runtime,
    client: webrtc_dtls::config::Config,
    server: webrtc_dtls::config::Config,
}

impl WebrtcDtls {
    /// Certificates, configs and a current-thread runtime.
    pub fn new() -> Self {
        use webrtc_dtls::config::{ClientAuthType, ExtendedMasterSecretType};
        use webrtc_dtls::extension::extension_use_srtp::SrtpProtectionProfile;
        let config = || webrtc_dtls::config::Config {
            certificates: vec![
                webrtc_dtls::crypto::Certificate::generate_self_signed(vec!["webrtc".to_owned()])
                    .unwrap(),
            ],
            insecure_skip_verify: true,
            extended_master_secret: ExtendedMasterSecretType::Require,
            srtp_protection_profiles: vec![SrtpProtectionProfile::Srtp_Aes128_Cm_Hmac_Sha1_80],
            client_auth: ClientAuthType::RequireAnyClientCert,
            ..Default::default()
        };
        WebrtcDtls {
            rt: tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap(),
            client: config(),
            server: config(),
        }
    }

    /// One full handshake over a fresh in-memory pipe.
    pub fn handshake(&self) {
        use webrtc_dtls::conn::DTLSConn;
        let (c, s) = (self.client.clone(), self.server.clone());
        self.rt.block_on(async move {
            let (a, b) = webrtc_util::conn::conn_pipe::pipe();
            let server =
                tokio::spawn(async move { DTLSConn::new(Arc::new(b), s, false, None).await });
            let client = DTLSConn::new(Arc::new(a), c, true, None).await.unwrap();
            let server = server.await.unwrap().unwrap();
            black_box((&client, &server));
            let _ = client.close().await;
            let _ = server.close().await;
        });
    }
}

impl Default for WebrtcDtls {
    fn default() -> Self {
        Self::new()
    }
}

/// The public-key work of one mutually authenticated ECDHE-ECDSA handshake.
pub struct CryptoFloor {
    rng: SystemRandom,
    keys: [EcdsaKeyPair; 2],
}

impl CryptoFloor {
    /// Two P-256 signing keys.
    pub fn new() -> Self {
        let rng = SystemRandom::new();
        let key = || {
            let pkcs8 =
                EcdsaKeyPair::generate_pkcs8(&signature::ECDSA_P256_SHA256_ASN1_SIGNING, &rng)
                    .unwrap();
            EcdsaKeyPair::from_pkcs8(
                &signature::ECDSA_P256_SHA256_ASN1_SIGNING,
                pkcs8.as_ref(),
                &rng,
            )
            .unwrap()
        };
        CryptoFloor {
            keys: [key(), key()],
            rng,
        }
    }

    /// Two X25519 key pairs and agreements, two signatures, two verifications.
    pub fn handshake(&self) {
        use ring::agreement;
        let a = agreement::EphemeralPrivateKey::generate(&agreement::X25519, &self.rng).unwrap();
        let b = agreement::EphemeralPrivateKey::generate(&agreement::X25519, &self.rng).unwrap();
        let pa = a.compute_public_key().unwrap();
        let pb = b.compute_public_key().unwrap();
        let s1 = agreement::agree_ephemeral(
            a,
            &agreement::UnparsedPublicKey::new(&agreement::X25519, pb.as_ref()),
            |s| s[0],
        )
        .unwrap();
        let s2 = agreement::agree_ephemeral(
            b,
            &agreement::UnparsedPublicKey::new(&agreement::X25519, pa.as_ref()),
            |s| s[0],
        )
        .unwrap();
        black_box((s1, s2));
        for k in &self.keys {
            let msg = [7u8; 200];
            let sig = k.sign(&self.rng, &msg).unwrap();
            signature::UnparsedPublicKey::new(
                &signature::ECDSA_P256_SHA256_ASN1,
                k.public_key().as_ref(),
            )
            .verify(&msg, sig.as_ref())
            .unwrap();
        }
    }
}

impl Default for CryptoFloor {
    fn default() -> Self {
        Self::new()
    }
}

/// ferrtc's record cipher sealing and opening 1200-byte records.
pub struct FerrtcRecord {
    tx: RecordCipher,
    rx: RecordCipher,
    payload: Vec<u8>,
    out: Vec<u8>,
    seq: u64,
}

impl FerrtcRecord {
    /// AES-128-GCM both ways with the same key.
    pub fn new() -> Self {
        let key = [0x42u8; 16];
        let iv = [7u8; 4];
        FerrtcRecord {
            tx: RecordCipher::new(BulkCipher::Aes128Gcm, &key, &iv).unwrap(),
            rx: RecordCipher::new(BulkCipher::Aes128Gcm, &key, &iv).unwrap(),
            payload: vec![0xab; RECORD_SIZE],
            out: Vec::with_capacity(RECORD_SIZE + 64),
            seq: 0,
        }
    }

    /// Seals one record (header, explicit nonce, ciphertext, tag) into a reused buffer.
    pub fn seal(&mut self) {
        self.seq += 1;
        self.out.clear();
        self.tx
            .seal(
                ContentType::ApplicationData,
                DTLS_1_2,
                1,
                self.seq,
                &self.payload,
                &mut self.out,
            )
            .unwrap();
        black_box(&self.out);
    }

    /// Seals, then parses and opens the record in place.
    pub fn round_trip(&mut self) {
        self.seal();
        let rec = Record::new_checked(&self.out[..]).unwrap();
        let header = rec.repr();
        let start = ferrtc_dtls::record::HEADER_LEN;
        let frag = &mut self.out[start..];
        black_box(self.rx.open(&header, frag).unwrap());
    }
}

impl Default for FerrtcRecord {
    fn default() -> Self {
        Self::new()
    }
}

/// ring's AES-128-GCM on the same 1200 bytes and 13-byte AAD: the ceiling.
pub struct RingRecord {
    key: aead::LessSafeKey,
    buf: Vec<u8>,
    seq: u64,
}

impl RingRecord {
    /// Key and buffer.
    pub fn new() -> Self {
        RingRecord {
            key: aead::LessSafeKey::new(
                aead::UnboundKey::new(&aead::AES_128_GCM, &[0x42; 16]).unwrap(),
            ),
            buf: vec![0xab; RECORD_SIZE + 16],
            seq: 0,
        }
    }

    fn nonce(&self) -> aead::Nonce {
        let mut n = [7u8; 12];
        n[4..].copy_from_slice(&self.seq.to_be_bytes());
        aead::Nonce::assume_unique_for_key(n)
    }

    /// Seals in place.
    pub fn seal(&mut self) {
        self.seq += 1;
        self.buf.truncate(RECORD_SIZE);
        let tag = self
            .key
            .seal_in_place_separate_tag(self.nonce(), aead::Aad::from([0u8; 13]), &mut self.buf)
            .unwrap();
        self.buf.extend_from_slice(tag.as_ref());
        black_box(&self.buf);
    }

    /// Seals, then opens in place.
    pub fn round_trip(&mut self) {
        self.seal();
        let n = self.nonce();
        black_box(
            self.key
                .open_in_place(n, aead::Aad::from([0u8; 13]), &mut self.buf)
                .unwrap(),
        );
    }
}

impl Default for RingRecord {
    fn default() -> Self {
        Self::new()
    }
}

/// A connected ferrtc pair passing 1200-byte messages through the whole endpoint API.
pub struct FerrtcEndpoints {
    client: Endpoint,
    server: Endpoint,
    payload: Vec<u8>,
    buf: Vec<u8>,
    now: Instant,
    /// The client's address, where the server's datagrams come from.
    from: std::net::SocketAddr,
}

impl FerrtcEndpoints {
    /// A fresh connected pair.
    pub fn new() -> Self {
        let (c, s) = ferrtc_configs();
        let (client, server) = ferrtc_handshake(&c, &s, 1);
        FerrtcEndpoints {
            client,
            server,
            payload: vec![0xab; RECORD_SIZE],
            buf: Vec::with_capacity(2048),
            now: Instant::now(),
            from: CLIENT_ADDR.parse().unwrap(),
        }
    }

    /// The one data path: `send`, `poll_transmit`, the datagram copied into a reused
    /// receive buffer (as a socket read would fill it), `handle_receive` decrypting in
    /// place. No allocation.
    pub fn send_receive(&mut self) {
        self.client.send(&self.payload).unwrap();
        let t = self.client.poll_transmit().unwrap();
        self.buf.clear();
        self.buf.extend_from_slice(&t.contents);
        drop(t);
        let ranges = self
            .server
            .handle_receive(self.now, self.from, &mut self.buf)
            .unwrap();
        black_box(&self.buf[ranges.iter().next().unwrap()]);
    }
}

impl Default for FerrtcEndpoints {
    fn default() -> Self {
        Self::new()
    }
}

/// The DTLS group's rows.
pub fn rows(cfg: &Config) -> Vec<Row> {
    let mut rows = Vec::new();
    let (c, s) = ferrtc_configs();
    let webrtc = WebrtcDtls::new();
    let floor = CryptoFloor::new();
    let mut seed = 0u64;
    rows.extend(compare(
        cfg,
        "full handshake, ECDHE-ECDSA P-256, mutual auth",
        Unit::Ops,
        Case::new("ferrtc", || {
            seed += 1;
            black_box(ferrtc_handshake(&c, &s, seed));
        }),
        vec![
            Case::new("webrtc-dtls 0.12", || webrtc.handshake()),
            Case::new("crypto floor (ring)", || floor.handshake()),
        ],
    ));
    let mut ours = FerrtcRecord::new();
    let mut raw = RingRecord::new();
    rows.extend(compare(
        cfg,
        "record seal, AES-128-GCM, 1200 B",
        Unit::Bytes(RECORD_SIZE as u64),
        Case::new("ferrtc", || ours.seal()),
        vec![Case::new("ring seal (raw)", || raw.seal())],
    ));
    let mut ours = FerrtcRecord::new();
    let mut raw = RingRecord::new();
    rows.extend(compare(
        cfg,
        "record seal+open, AES-128-GCM, 1200 B",
        Unit::Bytes(RECORD_SIZE as u64),
        Case::new("ferrtc", || ours.round_trip()),
        vec![Case::new("ring seal+open (raw)", || raw.round_trip())],
    ));
    let mut ours = FerrtcEndpoints::new();
    let mut raw = RingRecord::new();
    rows.extend(compare(
        cfg,
        "application data through the endpoints (send, handle_receive in place), 1200 B",
        Unit::Bytes(RECORD_SIZE as u64),
        Case::new("ferrtc", || ours.send_receive()),
        vec![Case::new("ring seal+open (raw)", || raw.round_trip())],
    ));
    rows
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn workloads_run() {
        let (c, s) = ferrtc_configs();
        let (a, b) = ferrtc_handshake(&c, &s, 3);
        assert!(a.is_connected() && b.is_connected());
        WebrtcDtls::new().handshake();
        CryptoFloor::new().handshake();
        FerrtcRecord::new().round_trip();
        RingRecord::new().round_trip();
        FerrtcEndpoints::new().send_receive();
    }
}
