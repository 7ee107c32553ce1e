//! The handshake as a chain of states (RFC 5246 §7.3 with the DTLS cookie exchange of
//! RFC 6347 §4.2.1, extended master secret of RFC 7627, ECDHE of RFC 8422, use_srtp of
//! RFC 5764). Each state is a struct; handling a message consumes it and yields the next,
//! so a message out of place can only be an error.

use std::sync::Arc;

use rand::RngCore;
use ring::hmac;

use crate::alert::AlertDescription;
use crate::config::Config;
use crate::crypto::cipher::RecordCipher;
use crate::crypto::kx::KeyExchange;
use crate::crypto::prf::{self, MASTER_SECRET_LEN};
use crate::crypto::{sign, x509};
use crate::error::{Error, PeerMisbehaved};
use crate::extension::{Extension, POINT_FORMAT_UNCOMPRESSED};
use crate::handshake::{
    CERT_TYPE_ECDSA_SIGN, CERT_TYPE_RSA_SIGN, CertificateRequest, ClientHello, DigitallySigned,
    HELLO_VERIFY_VERSION, HandshakeMessage, HandshakeType, ServerHello, ServerKeyExchange,
    emit_header,
};
use crate::record::DTLS_1_2;
use crate::types::{AuthKind, BulkCipher, CipherSuite, NamedGroup, PrfHash, SignatureScheme};
use ferrtc_types::SrtpProfile;

/// One message of a flight, kept so the flight can be retransmitted.
#[derive(Debug, Clone)]
pub(crate) enum FlightItem {
    /// A handshake message, sent in `epoch`.
    Handshake {
        epoch: u16,
        msg_type: HandshakeType,
        seq: u16,
        body: Vec<u8>,
    },
    /// ChangeCipherSpec (epoch 0).
    ChangeCipherSpec,
}

/// Everything negotiated once the master secret is known.
#[derive(Clone)]
pub(crate) struct Keys {
    pub suite: CipherSuite,
    pub bulk: BulkCipher,
    pub prf: PrfHash,
    pub master_secret: [u8; MASTER_SECRET_LEN],
    pub client_random: [u8; 32],
    pub server_random: [u8; 32],
    pub srtp_profile: Option<SrtpProfile>,
}

impl core::fmt::Debug for Keys {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Keys")
            .field("suite", &self.suite)
            .field("srtp_profile", &self.srtp_profile)
            .finish_non_exhaustive()
    }
}

impl Keys {
    /// (client write, server write) record ciphers from the key block (RFC 5246 §6.3).
    pub fn ciphers(&self) -> Result<(RecordCipher, RecordCipher), Error> {
        let (kl, il) = self.bulk.key_and_iv_len();
        let mut block = vec![0u8; 2 * (kl + il)];
        prf::key_block(
            self.prf,
            &self.master_secret,
            &self.client_random,
            &self.server_random,
            &mut block,
        );
        let (ck, rest) = block.split_at(kl);
        let (sk, rest) = rest.split_at(kl);
        let (civ, siv) = rest.split_at(il);
        let c = RecordCipher::new(self.bulk, ck, civ).ok_or(Error::Crypto)?;
        let s = RecordCipher::new(self.bulk, sk, siv).ok_or(Error::Crypto)?;
        Ok((c, s))
    }

    /// RFC 5705 exporter without context.
    pub fn export(&self, label: &[u8], out: &mut [u8]) {
        prf::export(
            self.prf,
            &self.master_secret,
            label,
            &self.client_random,
            &self.server_random,
            out,
        );
    }
}

/// State shared by all handshake states, and the outputs a step leaves for the endpoint.
pub(crate) struct Common {
    pub config: Arc<Config>,
    pub rng: Box<dyn RngCore + Send>,
    /// Every handshake message so far, unfragmented (RFC 6347 §4.2.6).
    pub transcript: Vec<u8>,
    pub next_send_seq: u16,
    // Outputs of one step.
    pub flight: Option<Vec<FlightItem>>,
    pub flight_is_final: bool,
    pub keys: Option<Keys>,
    pub connected: bool,
    pub hello_verify: Option<Vec<u8>>,
    pub warning: Option<AlertDescription>,
    pub next_recv_seq: Option<u16>,
    pub peer_certificate: Option<Vec<u8>>,
}

impl Common {
    pub fn new(config: Arc<Config>, rng: Box<dyn RngCore + Send>) -> Self {
        Common {
            config,
            rng,
            transcript: Vec::new(),
            next_send_seq: 0,
            flight: None,
            flight_is_final: false,
            keys: None,
            connected: false,
            hello_verify: None,
            warning: None,
            next_recv_seq: None,
            peer_certificate: None,
        }
    }

    /// Appends a message we send to `flight` and the transcript.
    fn push(&mut self, flight: &mut Vec<FlightItem>, epoch: u16, msg: &HandshakeMessage) {
        let seq = self.next_send_seq;
        self.next_send_seq = self.next_send_seq.wrapping_add(1);
        let raw = msg.to_unfragmented(seq);
        self.transcript.extend_from_slice(&raw);
        let mut body = Vec::new();
        msg.encode(&mut body);
        flight.push(FlightItem::Handshake {
            epoch,
            msg_type: msg.typ(),
            seq,
            body,
        });
    }

    /// Signs with our certificate, deterministically when the configuration asks.
    fn sign(
        &self,
        cert: &crate::certificate::Certificate,
        scheme: SignatureScheme,
        msg: &[u8],
    ) -> Result<Vec<u8>, Error> {
        if self.config.deterministic_signatures {
            cert.sign_deterministic(scheme, msg)
        } else {
            cert.sign_with(scheme, msg)
        }
    }

    fn random(&mut self) -> [u8; 32] {
        let mut r = [0u8; 32];
        self.rng.fill_bytes(&mut r);
        r
    }

    /// Checks the peer's leaf certificate against the expected fingerprints and returns
    /// its public key.
    fn accept_certificate(&mut self, chain: &[Vec<u8>]) -> Result<x509::PublicKey, Error> {
        let leaf = chain.first().ok_or(PeerMisbehaved::NoCertificate)?;
        if !self.config.danger_accept_any_certificate
            && !self
                .config
                .remote_fingerprints
                .iter()
                .any(|f| crate::certificate::matches_fingerprint(leaf, f))
        {
            return Err(PeerMisbehaved::FingerprintMismatch.into());
        }
        let key = x509::public_key(leaf).map_err(|_| PeerMisbehaved::UnsupportedCertificate)?;
        self.peer_certificate = Some(leaf.clone());
        Ok(key)
    }
}

/// A received handshake message with its sequence number and unfragmented bytes.
pub(crate) struct Incoming<'a> {
    pub seq: u16,
    pub msg: HandshakeMessage,
    pub raw: &'a [u8],
}

/// Where the handshake is.
pub(crate) enum Hs {
    ClientWaitServerHello(ClientWaitServerHello),
    ClientWaitCertificate(ClientWaitCertificate),
    ClientWaitKeyExchange(ClientWaitKeyExchange),
    ClientWaitHelloDone(ClientWaitHelloDone),
    ClientWaitFinished(WaitFinished),
    ServerWaitClientHello(ServerWaitClientHello),
    ServerWaitCertificate(ServerWaitCertificate),
    ServerWaitKeyExchange(ServerWaitKeyExchange),
    ServerWaitVerify(ServerWaitVerify),
    ServerWaitFinished(WaitFinished),
    Connected,
    /// Left behind while a step runs; a failed step leaves it there.
    Poisoned,
}

fn unexpected(msg: &HandshakeMessage) -> Error {
    PeerMisbehaved::UnexpectedMessage { got: msg.typ() }.into()
}

/// Constant-time comparison of verify_data.
fn ct_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

impl Hs {
    /// Runs one message through the current state.
    pub fn handle(self, cx: &mut Common, m: Incoming<'_>) -> Result<Hs, Error> {
        match self {
            Hs::ClientWaitServerHello(s) => s.handle(cx, m),
            Hs::ClientWaitCertificate(s) => s.handle(cx, m),
            Hs::ClientWaitKeyExchange(s) => s.handle(cx, m),
            Hs::ClientWaitHelloDone(s) => s.handle(cx, m),
            Hs::ClientWaitFinished(s) | Hs::ServerWaitFinished(s) => s.handle(cx, m),
            Hs::ServerWaitClientHello(s) => s.handle(cx, m),
            Hs::ServerWaitCertificate(s) => s.handle(cx, m),
            Hs::ServerWaitKeyExchange(s) => s.handle(cx, m),
            Hs::ServerWaitVerify(s) => s.handle(cx, m),
            Hs::Connected => match m.msg {
                // Renegotiation is refused: a ClientHello with a no_renegotiation warning
                // (RFC 5246 §7.2.2), a HelloRequest by ignoring it (§7.4.1.1).
                HandshakeMessage::ClientHello(_) => {
                    cx.warning = Some(AlertDescription::NoRenegotiation);
                    Ok(Hs::Connected)
                }
                HandshakeMessage::HelloRequest => Ok(Hs::Connected),
                other => Err(unexpected(&other)),
            },
            Hs::Poisoned => Err(Error::InvalidState),
        }
    }

    /// True while a server waits for a ClientHello with a valid cookie.
    pub fn is_stateless_server(&self) -> bool {
        matches!(self, Hs::ServerWaitClientHello(_))
    }
}

// ---------------------------------------------------------------------------------------
// Client.

/// Sends the first ClientHello and returns the state waiting for the server's answer.
pub(crate) fn client_start(cx: &mut Common) -> Result<Hs, Error> {
    let config = cx.config.clone();
    if config.cipher_suites.is_empty() || config.groups.is_empty() {
        return Err(Error::InvalidConfig);
    }
    let mut cipher_suites = config.cipher_suites.clone();
    cipher_suites.push(CipherSuite::EmptyRenegotiationInfoScsv);
    let mut extensions = vec![
        Extension::ExtendedMasterSecret,
        Extension::RenegotiationInfo(Vec::new()),
        Extension::SupportedGroups(config.groups.clone()),
        Extension::EcPointFormats(vec![POINT_FORMAT_UNCOMPRESSED]),
        Extension::SignatureAlgorithms(SignatureScheme::VERIFIABLE.to_vec()),
    ];
    if !config.srtp_profiles.is_empty() {
        extensions.push(Extension::UseSrtp {
            profiles: config.srtp_profiles.iter().map(|p| p.id()).collect(),
            mki: Vec::new(),
        });
    }
    let hello = ClientHello {
        version: DTLS_1_2,
        random: cx.random(),
        session_id: Vec::new(),
        cookie: Vec::new(),
        cipher_suites,
        compression_methods: vec![0],
        extensions,
    };
    let mut flight = Vec::new();
    cx.push(
        &mut flight,
        0,
        &HandshakeMessage::ClientHello(hello.clone()),
    );
    cx.flight = Some(flight);
    Ok(Hs::ClientWaitServerHello(ClientWaitServerHello {
        hello,
        verify_requests: 0,
    }))
}

pub(crate) struct ClientWaitServerHello {
    hello: ClientHello,
    verify_requests: u8,
}

/// Most HelloVerifyRequests a client follows before giving up on the server.
const MAX_HELLO_VERIFY: u8 = 4;

impl ClientWaitServerHello {
    fn handle(mut self, cx: &mut Common, m: Incoming<'_>) -> Result<Hs, Error> {
        match m.msg {
            HandshakeMessage::HelloVerifyRequest(hv) if self.verify_requests < MAX_HELLO_VERIFY => {
                // RFC 6347 §4.2.1: resend the same hello with the cookie; neither the first
                // hello nor the HelloVerifyRequest enter the transcript.
                self.hello.cookie = hv.cookie;
                self.verify_requests += 1;
                cx.transcript.clear();
                let mut flight = Vec::new();
                cx.push(
                    &mut flight,
                    0,
                    &HandshakeMessage::ClientHello(self.hello.clone()),
                );
                cx.flight = Some(flight);
                Ok(Hs::ClientWaitServerHello(self))
            }
            HandshakeMessage::ServerHello(sh) => {
                let next = self.on_server_hello(cx, &sh)?;
                cx.transcript.extend_from_slice(m.raw);
                Ok(next)
            }
            other => Err(unexpected(&other)),
        }
    }

    fn on_server_hello(self, cx: &mut Common, sh: &ServerHello) -> Result<Hs, Error> {
        if sh.version != DTLS_1_2 {
            return Err(PeerMisbehaved::UnsupportedVersion.into());
        }
        if !self.hello.cipher_suites.contains(&sh.cipher_suite)
            || sh.cipher_suite == CipherSuite::EmptyRenegotiationInfoScsv
            || sh.compression_method != 0
        {
            return Err(PeerMisbehaved::SelectedUnofferedParameter.into());
        }
        let (bulk, prf, auth) = sh
            .cipher_suite
            .params()
            .ok_or(PeerMisbehaved::SelectedUnofferedParameter)?;
        let mut ems = false;
        let mut srtp_profile = None;
        for e in &sh.extensions {
            match e {
                Extension::ExtendedMasterSecret => ems = true,
                Extension::RenegotiationInfo(v) if !v.is_empty() => {
                    return Err(PeerMisbehaved::Renegotiation.into());
                }
                Extension::UseSrtp { profiles, mki } => {
                    let [id] = profiles.as_slice() else {
                        return Err(PeerMisbehaved::SelectedUnofferedParameter.into());
                    };
                    let p = SrtpProfile::from_id(*id)
                        .filter(|p| cx.config.srtp_profiles.contains(p) && mki.is_empty())
                        .ok_or(PeerMisbehaved::SelectedUnofferedParameter)?;
                    srtp_profile = Some(p);
                }
                _ => {}
            }
        }
        if !ems {
            return Err(PeerMisbehaved::ExtendedMasterSecretMissing.into());
        }
        Ok(Hs::ClientWaitCertificate(ClientWaitCertificate {
            n: Negotiation {
                suite: sh.cipher_suite,
                bulk,
                prf,
                auth,
                client_random: self.hello.random,
                server_random: sh.random,
                srtp_profile,
            },
        }))
    }
}

/// What the hellos settled.
#[derive(Debug, Clone)]
pub(crate) struct Negotiation {
    suite: CipherSuite,
    bulk: BulkCipher,
    prf: PrfHash,
    auth: AuthKind,
    client_random: [u8; 32],
    server_random: [u8; 32],
    srtp_profile: Option<SrtpProfile>,
}

impl Negotiation {
    /// Derives the extended master secret from the transcript so far (which must end with
    /// the ClientKeyExchange, RFC 7627 §3).
    fn keys(&self, pre_master_secret: &[u8], transcript: &[u8]) -> Keys {
        let session_hash = self.prf.hash(transcript);
        Keys {
            suite: self.suite,
            bulk: self.bulk,
            prf: self.prf,
            master_secret: prf::extended_master_secret(self.prf, pre_master_secret, &session_hash),
            client_random: self.client_random,
            server_random: self.server_random,
            srtp_profile: self.srtp_profile,
        }
    }
}

pub(crate) struct ClientWaitCertificate {
    n: Negotiation,
}

impl ClientWaitCertificate {
    fn handle(self, cx: &mut Common, m: Incoming<'_>) -> Result<Hs, Error> {
        let HandshakeMessage::Certificate(chain) = &m.msg else {
            return Err(unexpected(&m.msg));
        };
        let key = cx.accept_certificate(chain)?;
        if key.auth_kind() != self.n.auth {
            return Err(PeerMisbehaved::UnsupportedCertificate.into());
        }
        cx.transcript.extend_from_slice(m.raw);
        Ok(Hs::ClientWaitKeyExchange(ClientWaitKeyExchange {
            n: self.n,
            server_key: key,
        }))
    }
}

pub(crate) struct ClientWaitKeyExchange {
    n: Negotiation,
    server_key: x509::PublicKey,
}

impl ClientWaitKeyExchange {
    fn handle(self, cx: &mut Common, m: Incoming<'_>) -> Result<Hs, Error> {
        let HandshakeMessage::ServerKeyExchange(ske) = &m.msg else {
            return Err(unexpected(&m.msg));
        };
        if !cx.config.groups.contains(&ske.group) {
            return Err(PeerMisbehaved::SelectedUnofferedParameter.into());
        }
        if !SignatureScheme::VERIFIABLE.contains(&ske.scheme) {
            return Err(PeerMisbehaved::SelectedUnofferedParameter.into());
        }
        // RFC 8422 §5.4: the signature covers client_random + server_random + params.
        let mut signed = Vec::with_capacity(64 + 4 + ske.public_key.len());
        signed.extend_from_slice(&self.n.client_random);
        signed.extend_from_slice(&self.n.server_random);
        signed.extend_from_slice(&ServerKeyExchange::params(ske.group, &ske.public_key));
        sign::verify(&self.server_key, ske.scheme, &signed, &ske.signature)?;
        let kx = KeyExchange::start(ske.group, &mut *cx.rng)?;
        let public = kx.public_key().to_vec();
        let pre_master_secret = kx.complete(&ske.public_key)?;
        cx.transcript.extend_from_slice(m.raw);
        Ok(Hs::ClientWaitHelloDone(ClientWaitHelloDone {
            n: self.n,
            public,
            pre_master_secret,
            certificate_request: None,
        }))
    }
}

pub(crate) struct ClientWaitHelloDone {
    n: Negotiation,
    public: Vec<u8>,
    pre_master_secret: Vec<u8>,
    certificate_request: Option<CertificateRequest>,
}

impl ClientWaitHelloDone {
    fn handle(mut self, cx: &mut Common, m: Incoming<'_>) -> Result<Hs, Error> {
        match m.msg {
            HandshakeMessage::CertificateRequest(cr) if self.certificate_request.is_none() => {
                self.certificate_request = Some(cr);
                cx.transcript.extend_from_slice(m.raw);
                Ok(Hs::ClientWaitHelloDone(self))
            }
            HandshakeMessage::ServerHelloDone => {
                cx.transcript.extend_from_slice(m.raw);
                self.send_flight(cx)
            }
            other => Err(unexpected(&other)),
        }
    }

    /// Flight 5: [Certificate], ClientKeyExchange, [CertificateVerify], ChangeCipherSpec,
    /// Finished.
    fn send_flight(self, cx: &mut Common) -> Result<Hs, Error> {
        let mut flight = Vec::new();
        let cert = cx.config.certificate.clone();
        if self.certificate_request.is_some() {
            cx.push(
                &mut flight,
                0,
                &HandshakeMessage::Certificate(vec![cert.der().to_vec()]),
            );
        }
        cx.push(
            &mut flight,
            0,
            &HandshakeMessage::ClientKeyExchange(self.public.clone()),
        );
        let keys = self.n.keys(&self.pre_master_secret, &cx.transcript);
        if let Some(cr) = &self.certificate_request {
            // RFC 5246 §7.4.8: a scheme the CertificateRequest lists. If it lists none of
            // ours the server will refuse us whatever we send; our preferred one says why.
            let scheme = cert
                .scheme_for(&cr.signature_schemes)
                .unwrap_or(cert.scheme());
            let signature = cx.sign(&cert, scheme, &cx.transcript)?;
            cx.push(
                &mut flight,
                0,
                &HandshakeMessage::CertificateVerify(DigitallySigned { scheme, signature }),
            );
        }
        flight.push(FlightItem::ChangeCipherSpec);
        let vd = prf::verify_data(keys.prf, &keys.master_secret, true, &cx.transcript);
        cx.push(&mut flight, 1, &HandshakeMessage::Finished(vd.to_vec()));
        cx.flight = Some(flight);
        cx.keys = Some(keys.clone());
        Ok(Hs::ClientWaitFinished(WaitFinished {
            keys,
            peer_is_client: false,
        }))
    }
}

/// Waiting for the peer's Finished (both roles).
pub(crate) struct WaitFinished {
    keys: Keys,
    peer_is_client: bool,
}

impl WaitFinished {
    fn handle(self, cx: &mut Common, m: Incoming<'_>) -> Result<Hs, Error> {
        let HandshakeMessage::Finished(vd) = &m.msg else {
            return Err(unexpected(&m.msg));
        };
        let expected = prf::verify_data(
            self.keys.prf,
            &self.keys.master_secret,
            self.peer_is_client,
            &cx.transcript,
        );
        if !ct_eq(vd, &expected) {
            return Err(PeerMisbehaved::BadFinished.into());
        }
        cx.transcript.extend_from_slice(m.raw);
        if self.peer_is_client {
            // Flight 6: ChangeCipherSpec, Finished. The last flight is not retransmitted
            // on a timer, only when the client repeats flight 5 (RFC 6347 §4.2.4).
            let mut flight = vec![FlightItem::ChangeCipherSpec];
            let vd = prf::verify_data(
                self.keys.prf,
                &self.keys.master_secret,
                false,
                &cx.transcript,
            );
            cx.push(&mut flight, 1, &HandshakeMessage::Finished(vd.to_vec()));
            cx.flight = Some(flight);
            cx.flight_is_final = true;
        }
        cx.connected = true;
        Ok(Hs::Connected)
    }
}

// ---------------------------------------------------------------------------------------
// Server.

/// Cookie length: a truncated HMAC-SHA256 (RFC 6347 §4.2.1 leaves the construction open).
const COOKIE_LEN: usize = 20;

pub(crate) struct ServerWaitClientHello {
    cookie_key: hmac::Key,
}

/// The server's initial state; the cookie secret comes from the caller's generator.
pub(crate) fn server_start(cx: &mut Common) -> Result<Hs, Error> {
    if cx.config.cipher_suites.is_empty() || cx.config.groups.is_empty() {
        return Err(Error::InvalidConfig);
    }
    let secret = cx.random();
    Ok(Hs::ServerWaitClientHello(ServerWaitClientHello {
        cookie_key: hmac::Key::new(hmac::HMAC_SHA256, &secret),
    }))
}

impl ServerWaitClientHello {
    /// HMAC over the hello's fields other than the cookie, so a client can only return a
    /// cookie for the hello it sent.
    fn cookie(&self, ch: &ClientHello) -> Vec<u8> {
        let mut ctx = hmac::Context::with_key(&self.cookie_key);
        ctx.update(&ch.version.to_be_bytes());
        ctx.update(&ch.random);
        ctx.update(&[ch.session_id.len() as u8]);
        ctx.update(&ch.session_id);
        for s in &ch.cipher_suites {
            ctx.update(&u16::from(*s).to_be_bytes());
        }
        ctx.update(&ch.compression_methods);
        let mut exts = Vec::new();
        crate::extension::encode_extensions(&mut exts, &ch.extensions);
        ctx.update(&exts);
        ctx.sign().as_ref()[..COOKIE_LEN].to_vec()
    }

    fn handle(self, cx: &mut Common, m: Incoming<'_>) -> Result<Hs, Error> {
        let HandshakeMessage::ClientHello(ch) = &m.msg else {
            // Stateless: anything else is dropped without a word.
            return Ok(Hs::ServerWaitClientHello(self));
        };
        // DTLS versions count down: 1.2 is 0xfefd, 1.0 is 0xfeff.
        if ch.version > DTLS_1_2 {
            return Err(PeerMisbehaved::UnsupportedVersion.into());
        }
        let cookie = self.cookie(ch);
        if !ct_eq(&ch.cookie, &cookie) {
            cx.hello_verify = Some(cookie);
            return Ok(Hs::ServerWaitClientHello(self));
        }
        // The first message of our handshake carries the hello's message_seq.
        cx.transcript.clear();
        cx.transcript.extend_from_slice(m.raw);
        cx.next_send_seq = m.seq;
        cx.next_recv_seq = Some(m.seq.wrapping_add(1));
        server_flight4(cx, ch)
    }
}

/// Negotiates from the ClientHello and sends flight 4: ServerHello, Certificate,
/// ServerKeyExchange, CertificateRequest, ServerHelloDone.
fn server_flight4(cx: &mut Common, ch: &ClientHello) -> Result<Hs, Error> {
    let config = cx.config.clone();
    let cert = config.certificate.clone();
    let mut ems = false;
    let mut secure_renegotiation = ch
        .cipher_suites
        .contains(&CipherSuite::EmptyRenegotiationInfoScsv);
    let mut groups = None;
    let mut srtp_offer = None;
    let mut point_formats = false;
    // RFC 5246 §7.4.1.4.1: without signature_algorithms the client takes SHA-1, which we
    // do not sign with; our preferred scheme is the best we can do.
    let mut scheme = cert.scheme();
    for e in &ch.extensions {
        match e {
            Extension::ExtendedMasterSecret => ems = true,
            Extension::RenegotiationInfo(v) => {
                if !v.is_empty() {
                    return Err(PeerMisbehaved::Renegotiation.into());
                }
                secure_renegotiation = true;
            }
            Extension::SupportedGroups(g) => groups = Some(g.clone()),
            // RFC 5246 §7.4.1.4.1: our ServerKeyExchange must be signed with a scheme the
            // client listed.
            Extension::SignatureAlgorithms(schemes) => {
                scheme = cert
                    .scheme_for(schemes)
                    .ok_or(PeerMisbehaved::NoCommonCipherSuite)?;
            }
            Extension::UseSrtp { profiles, .. } => srtp_offer = Some(profiles.clone()),
            Extension::EcPointFormats(f) => {
                point_formats = true;
                if !f.contains(&POINT_FORMAT_UNCOMPRESSED) {
                    return Err(PeerMisbehaved::NoCommonGroup.into());
                }
            }
            _ => {}
        }
    }
    if !ems {
        return Err(PeerMisbehaved::ExtendedMasterSecretMissing.into());
    }
    // RFC 8422 §4: without supported_groups, assume the client can do P-256.
    let offered_groups = groups.unwrap_or_else(|| vec![NamedGroup::Secp256r1]);
    // RFC 8422 §5.1.1: the groups also bound the curve of an ECDSA certificate, so our
    // ECDSA suites are only on offer if the client lists our key's curve.
    if cert
        .ecdsa_curve()
        .is_some_and(|curve| !offered_groups.contains(&curve))
    {
        return Err(PeerMisbehaved::NoCommonCipherSuite.into());
    }
    // Only suites our certificate can authenticate: TLS_ECDHE_ECDSA_* for an ECDSA key,
    // TLS_ECDHE_RSA_* for an RSA key (RFC 8422 §2, §5.3).
    let suite = config
        .cipher_suites
        .iter()
        .copied()
        .find(|s| {
            ch.cipher_suites.contains(s)
                && s.params()
                    .is_some_and(|(_, _, auth)| auth == cert.auth_kind())
        })
        .ok_or(PeerMisbehaved::NoCommonCipherSuite)?;
    let group = config
        .groups
        .iter()
        .copied()
        .find(|g| offered_groups.contains(g))
        .ok_or(PeerMisbehaved::NoCommonGroup)?;
    let srtp_profile = match (&srtp_offer, config.srtp_profiles.is_empty()) {
        (Some(offer), false) => Some(
            config
                .srtp_profiles
                .iter()
                .copied()
                .find(|p| offer.contains(&p.id()))
                .ok_or(PeerMisbehaved::NoCommonSrtpProfile)?,
        ),
        _ => None,
    };
    let (bulk, prf, auth) = suite.params().ok_or(Error::Crypto)?;

    let mut extensions = vec![Extension::ExtendedMasterSecret];
    if secure_renegotiation {
        extensions.push(Extension::RenegotiationInfo(Vec::new()));
    }
    if point_formats {
        extensions.push(Extension::EcPointFormats(vec![POINT_FORMAT_UNCOMPRESSED]));
    }
    if let Some(p) = srtp_profile {
        extensions.push(Extension::UseSrtp {
            profiles: vec![p.id()],
            mki: Vec::new(),
        });
    }
    let server_random = cx.random();
    let n = Negotiation {
        suite,
        bulk,
        prf,
        auth,
        client_random: ch.random,
        server_random,
        srtp_profile,
    };
    let mut flight = Vec::new();
    cx.push(
        &mut flight,
        0,
        &HandshakeMessage::ServerHello(ServerHello {
            version: DTLS_1_2,
            random: server_random,
            session_id: Vec::new(),
            cipher_suite: suite,
            compression_method: 0,
            extensions,
        }),
    );
    cx.push(
        &mut flight,
        0,
        &HandshakeMessage::Certificate(vec![cert.der().to_vec()]),
    );
    let kx = KeyExchange::start(group, &mut *cx.rng)?;
    let params = ServerKeyExchange::params(group, kx.public_key());
    let mut signed = Vec::with_capacity(64 + params.len());
    signed.extend_from_slice(&ch.random);
    signed.extend_from_slice(&server_random);
    signed.extend_from_slice(&params);
    let signature = cx.sign(&cert, scheme, &signed)?;
    cx.push(
        &mut flight,
        0,
        &HandshakeMessage::ServerKeyExchange(ServerKeyExchange {
            group,
            public_key: kx.public_key().to_vec(),
            scheme,
            signature,
        }),
    );
    if config.require_client_certificate {
        cx.push(
            &mut flight,
            0,
            &HandshakeMessage::CertificateRequest(CertificateRequest {
                certificate_types: vec![CERT_TYPE_ECDSA_SIGN, CERT_TYPE_RSA_SIGN],
                signature_schemes: SignatureScheme::VERIFIABLE.to_vec(),
                authorities: Vec::new(),
            }),
        );
    }
    cx.push(&mut flight, 0, &HandshakeMessage::ServerHelloDone);
    cx.flight = Some(flight);
    if config.require_client_certificate {
        Ok(Hs::ServerWaitCertificate(ServerWaitCertificate { n, kx }))
    } else {
        Ok(Hs::ServerWaitKeyExchange(ServerWaitKeyExchange {
            n,
            kx,
            client_key: None,
        }))
    }
}

pub(crate) struct ServerWaitCertificate {
    n: Negotiation,
    kx: KeyExchange,
}

impl ServerWaitCertificate {
    fn handle(self, cx: &mut Common, m: Incoming<'_>) -> Result<Hs, Error> {
        let HandshakeMessage::Certificate(chain) = &m.msg else {
            return Err(match m.msg {
                HandshakeMessage::ClientKeyExchange(_) => PeerMisbehaved::NoCertificate.into(),
                other => unexpected(&other),
            });
        };
        let key = cx.accept_certificate(chain)?;
        cx.transcript.extend_from_slice(m.raw);
        Ok(Hs::ServerWaitKeyExchange(ServerWaitKeyExchange {
            n: self.n,
            kx: self.kx,
            client_key: Some(key),
        }))
    }
}

pub(crate) struct ServerWaitKeyExchange {
    n: Negotiation,
    kx: KeyExchange,
    client_key: Option<x509::PublicKey>,
}

impl ServerWaitKeyExchange {
    fn handle(self, cx: &mut Common, m: Incoming<'_>) -> Result<Hs, Error> {
        let HandshakeMessage::ClientKeyExchange(public) = &m.msg else {
            return Err(unexpected(&m.msg));
        };
        let pre_master_secret = self.kx.complete(public)?;
        cx.transcript.extend_from_slice(m.raw);
        let keys = self.n.keys(&pre_master_secret, &cx.transcript);
        cx.keys = Some(keys.clone());
        Ok(match self.client_key {
            Some(client_key) => Hs::ServerWaitVerify(ServerWaitVerify { keys, client_key }),
            None => Hs::ServerWaitFinished(WaitFinished {
                keys,
                peer_is_client: true,
            }),
        })
    }
}

pub(crate) struct ServerWaitVerify {
    keys: Keys,
    client_key: x509::PublicKey,
}

impl ServerWaitVerify {
    fn handle(self, cx: &mut Common, m: Incoming<'_>) -> Result<Hs, Error> {
        let HandshakeMessage::CertificateVerify(ds) = &m.msg else {
            return Err(unexpected(&m.msg));
        };
        if !SignatureScheme::VERIFIABLE.contains(&ds.scheme) {
            return Err(PeerMisbehaved::SelectedUnofferedParameter.into());
        }
        sign::verify(&self.client_key, ds.scheme, &cx.transcript, &ds.signature)?;
        cx.transcript.extend_from_slice(m.raw);
        Ok(Hs::ServerWaitFinished(WaitFinished {
            keys: self.keys,
            peer_is_client: true,
        }))
    }
}

/// The unfragmented form of a received message (RFC 6347 §4.2.6), for the transcript.
pub(crate) fn unfragmented(typ: HandshakeType, seq: u16, body: &[u8]) -> Vec<u8> {
    let mut raw = Vec::with_capacity(crate::handshake::HEADER_LEN + body.len());
    emit_header(&mut raw, typ, body.len() as u32, seq, 0, body.len() as u32);
    raw.extend_from_slice(body);
    raw
}

/// A HelloVerifyRequest body carrying `cookie`.
pub(crate) fn hello_verify_request(cookie: Vec<u8>) -> HandshakeMessage {
    HandshakeMessage::HelloVerifyRequest(crate::handshake::HelloVerifyRequest {
        version: HELLO_VERIFY_VERSION,
        cookie,
    })
}
