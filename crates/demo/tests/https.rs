//! The demo over HTTPS, as a user runs it (the binary cargo built), on 127.0.0.1 only: the
//! page and `POST /offer` over TLS with a made-up certificate (`--https`) and with PEM files
//! (`--cert-file`, `--key-file`), and a broken handshake that does not stop the server.

mod common;

use std::sync::Arc;

use common::*;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};
use tokio::io::AsyncWriteExt;

/// Trusts whatever certificate the server presents as its own root, then checks it the
/// normal way (signature, validity, the name asked for): a self-signed certificate passes
/// only if it is valid for that name.
#[derive(Debug)]
struct SelfSignedIsRoot(Arc<rustls::crypto::CryptoProvider>);

impl ServerCertVerifier for SelfSignedIsRoot {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let mut roots = RootCertStore::empty();
        roots.add(end_entity.clone().into_owned())?;
        rustls::client::WebPkiServerVerifier::builder_with_provider(
            Arc::new(roots),
            Arc::clone(&self.0),
        )
        .build()
        .map_err(|e| rustls::Error::General(e.to_string()))?
        .verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now)
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

fn self_signed_client() -> ClientConfig {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    ClientConfig::builder_with_provider(Arc::clone(&provider))
        .with_safe_default_protocol_versions()
        .expect("default versions")
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(SelfSignedIsRoot(provider)))
        .with_no_client_auth()
}

fn client_trusting(cert: CertificateDer<'static>) -> ClientConfig {
    let mut roots = RootCertStore::empty();
    roots.add(cert).expect("a certificate rustls accepts");
    ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .with_safe_default_protocol_versions()
        .expect("default versions")
        .with_root_certificates(roots)
        .with_no_client_auth()
}

#[tokio::test]
async fn self_signed_https_serves_the_page_and_answers_an_offer() {
    let demo = Demo::start(&["--https"]).await;
    assert!(demo.url.starts_with("https://127.0.0.1:"), "{}", demo.url);
    let client = Arc::new(self_signed_client());
    // The certificate is valid for localhost and for the address it listens on.
    for name in ["localhost", "127.0.0.1"] {
        let (status, body) = request(&demo, &client, name, "GET", "/", "").await;
        assert_eq!(status, 200);
        assert!(body.contains("<title>ferrtc demo</title>"), "{body}");
    }
    let (status, body) = request(&demo, &client, "localhost", "GET", "/client.js", "").await;
    assert_eq!(status, 200);
    assert!(body.contains("RTCPeerConnection"));
    call_with_ping(&demo, &client, "localhost").await;
}

#[tokio::test]
async fn pem_files_serve_https_and_a_broken_handshake_does_not_stop_the_server() {
    let rcgen::CertifiedKey { cert, signing_key } =
        rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).expect("certificate");
    let dir = temp_dir("pem");
    let cert_file = dir.join("cert.pem");
    let key_file = dir.join("key.pem");
    std::fs::write(&cert_file, cert.pem()).unwrap();
    std::fs::write(&key_file, signing_key.serialize_pem()).unwrap();
    let demo = Demo::start(&[
        "--cert-file",
        cert_file.to_str().unwrap(),
        "--key-file",
        key_file.to_str().unwrap(),
    ])
    .await;
    assert!(demo.url.starts_with("https://"), "{}", demo.url);

    // Plain HTTP on the TLS port, and a client that connects and says nothing.
    let mut plain = tokio::net::TcpStream::connect(demo.addr).await.unwrap();
    plain
        .write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let _silent = tokio::net::TcpStream::connect(demo.addr).await.unwrap();

    let client = Arc::new(client_trusting(cert.der().clone()));
    let (status, body) = request(&demo, &client, "localhost", "GET", "/", "").await;
    assert_eq!(status, 200);
    assert!(body.contains("<title>ferrtc demo</title>"));
    call_with_ping(&demo, &client, "localhost").await;
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test]
async fn a_key_that_is_not_the_certificates_is_refused_at_start() {
    let a = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
    let b = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
    let dir = temp_dir("mismatch");
    std::fs::write(dir.join("cert.pem"), a.cert.pem()).unwrap();
    std::fs::write(dir.join("key.pem"), b.signing_key.serialize_pem()).unwrap();
    let out = within(
        "the demo refusing",
        tokio::process::Command::new(env!("CARGO_BIN_EXE_ferrtc-demo"))
            .args(["--port", "0", "--cert-file"])
            .arg(dir.join("cert.pem"))
            .arg("--key-file")
            .arg(dir.join("key.pem"))
            .kill_on_drop(true)
            .output(),
    )
    .await
    .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("do not go together"), "{stderr}");
    let _ = std::fs::remove_dir_all(dir);
}
