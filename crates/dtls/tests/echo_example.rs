//! The `dtls_echo` example, run as a program on loopback: an echo server with an RSA
//! certificate loaded from PEM files (`--cert`/`--key`), and clients with an ECDSA one
//! that send the lines of their stdin, or one `--message`.
//!
//! The example binary is the one `cargo test` builds beside this test; when only this
//! test was built, it is built first with the same cargo. Real processes and sockets:
//! the test waits on their output with a deadline, never sleeps.

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{Receiver, channel};
use std::time::{Duration, Instant};

use ferrtc_dtls::{Certificate, HashAlgorithm};

const DEADLINE: Duration = Duration::from_secs(60);

/// The example binary: `target/<profile>/examples/dtls_echo`, next to this test's
/// `target/<profile>/deps/`.
fn example_binary() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let profile_dir = exe.parent().unwrap().parent().unwrap();
    let bin = profile_dir
        .join("examples")
        .join(format!("dtls_echo{}", std::env::consts::EXE_SUFFIX));
    if !bin.exists() {
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let mut cmd = Command::new(cargo);
        cmd.args(["build", "-p", "ferrtc-dtls", "--example", "dtls_echo"]);
        if profile_dir.file_name().is_some_and(|n| n == "release") {
            cmd.arg("--release");
        }
        let status = cmd.status().expect("run cargo to build the example");
        assert!(status.success(), "cargo build --example dtls_echo");
    }
    assert!(bin.exists(), "{} missing", bin.display());
    bin
}

/// A running example whose stdout lines arrive on a channel.
struct Program {
    child: Child,
    lines: Receiver<String>,
    seen: Vec<String>,
}

impl Program {
    fn spawn(args: &[&str]) -> Self {
        let mut child = Command::new(example_binary())
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("spawn dtls_echo");
        let stdout = child.stdout.take().unwrap();
        let (tx, lines) = channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        Program {
            child,
            lines,
            seen: Vec::new(),
        }
    }

    /// Waits for a line starting with `prefix`; returns the rest of it.
    fn wait_for(&mut self, prefix: &str) -> String {
        let end = Instant::now() + DEADLINE;
        loop {
            if let Some(l) = self.seen.iter().find(|l| l.starts_with(prefix)) {
                return l[prefix.len()..].to_string();
            }
            let left = end.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(l) => self.seen.push(l),
                Err(_) => panic!("no line {prefix:?}; saw {:#?}", self.seen),
            }
        }
    }

    /// Every line until the program ends, and its exit status.
    fn finish(mut self) -> (Vec<String>, bool) {
        drop(self.child.stdin.take());
        let end = Instant::now() + DEADLINE;
        loop {
            let left = end.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(l) => self.seen.push(l),
                Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => break,
                Err(_) => panic!("did not end; saw {:#?}", self.seen),
            }
        }
        let status = self.child.wait().unwrap();
        (std::mem::take(&mut self.seen), status.success())
    }
}

impl Drop for Program {
    fn drop(&mut self) {
        // Only the process this test spawned, by its handle.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Writes a self-signed certificate and its PKCS#8 key as PEM files; returns the
/// fingerprint `Certificate::from_pem` computes for them.
fn write_pem(dir: &Path, name: &str, key: &rcgen::KeyPair) -> (String, String, String) {
    let params = rcgen::CertificateParams::new(vec![format!("{name}.example")]).unwrap();
    let cert = params.self_signed(key).unwrap();
    let cert_pem = pem::encode(&pem::Pem::new("CERTIFICATE", cert.der().to_vec()));
    let key_pem = pem::encode(&pem::Pem::new("PRIVATE KEY", key.serialize_der()));
    let (cp, kp) = (
        dir.join(format!("{name}.pem")),
        dir.join(format!("{name}.key")),
    );
    std::fs::write(&cp, &cert_pem).unwrap();
    std::fs::write(&kp, &key_pem).unwrap();
    let fp = Certificate::from_pem(&cert_pem, &key_pem)
        .unwrap()
        .fingerprint(HashAlgorithm::Sha256)
        .to_string();
    (
        cp.to_str().unwrap().to_owned(),
        kp.to_str().unwrap().to_owned(),
        fp,
    )
}

struct TempDir(PathBuf);

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[test]
fn dtls_echo_with_pem_certificates_echoes_stdin_lines_and_a_message() {
    let dir =
        TempDir(std::env::temp_dir().join(format!("ferrtc-dtls-echo-{}", std::process::id())));
    std::fs::create_dir_all(&dir.0).unwrap();
    let rsa = rcgen::KeyPair::generate_rsa_for(&rcgen::PKCS_RSA_SHA256, rcgen::RsaKeySize::_2048)
        .unwrap();
    let ec = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
    let (rsa_cert, rsa_key, rsa_fp) = write_pem(&dir.0, "rsa", &rsa);
    let (ec_cert, ec_key, ec_fp) = write_pem(&dir.0, "ec", &ec);

    for message in [None, Some("one message")] {
        // The server: our RSA certificate, and it expects the client's ECDSA one.
        let mut server = Program::spawn(&[
            "--listen",
            "127.0.0.1:0",
            "--cert",
            &rsa_cert,
            "--key",
            &rsa_key,
            "--fingerprint",
            &ec_fp,
        ]);
        assert_eq!(server.wait_for("our fingerprint: "), rsa_fp);
        let addr = server.wait_for("listening on ");
        let mut args = vec![
            "--connect",
            &addr,
            "--cert",
            &ec_cert,
            "--key",
            &ec_key,
            "--fingerprint",
            &rsa_fp,
        ];
        if let Some(m) = message {
            args.extend(["--message", m]);
        }
        let mut client = Program::spawn(&args);
        assert_eq!(client.wait_for("our fingerprint: "), ec_fp);
        let lines = ["first line", "second line", "", "third: ünïcode"];
        if message.is_none() {
            let stdin = client.child.stdin.as_mut().unwrap();
            for l in lines {
                writeln!(stdin, "{l}").unwrap();
            }
            stdin.flush().unwrap();
        }
        // An RSA server certificate: the suite is one of the ECDHE_RSA ones.
        let suite = client.wait_for("connected: suite ");
        assert!(suite.starts_with("EcdheRsaWith"), "{suite}");
        assert_eq!(client.wait_for("peer fingerprint: "), rsa_fp);
        let (out, ok) = client.finish();
        assert!(ok, "client failed: {out:#?}");
        let received: Vec<&str> = out
            .iter()
            .filter_map(|l| l.strip_prefix("received: "))
            .collect();
        match message {
            None => assert_eq!(received, lines, "every stdin line echoed, in order"),
            Some(m) => assert_eq!(received, [m]),
        }
        // The server saw the client's ECDSA certificate and the client's close_notify.
        assert_eq!(server.wait_for("peer fingerprint: "), ec_fp);
        let (out, ok) = server.finish();
        assert!(ok, "server failed: {out:#?}");
        assert!(out.iter().any(|l| l == "peer closed"), "{out:#?}");
    }
}
