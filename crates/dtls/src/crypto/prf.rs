//! The TLS 1.2 PRF (RFC 5246 §5) and the secrets derived with it: extended master secret
//! (RFC 7627 §4), key block (RFC 5246 §6.3), Finished (RFC 5246 §7.4.9) and the exporter
//! (RFC 5705 §4).

use ring::{digest, hmac};

use crate::types::PrfHash;

impl PrfHash {
    fn hmac(self) -> hmac::Algorithm {
        match self {
            PrfHash::Sha256 => hmac::HMAC_SHA256,
            PrfHash::Sha384 => hmac::HMAC_SHA384,
        }
    }

    /// The matching digest.
    pub fn digest(self) -> &'static digest::Algorithm {
        match self {
            PrfHash::Sha256 => &digest::SHA256,
            PrfHash::Sha384 => &digest::SHA384,
        }
    }

    /// Hashes `data` with this suite's hash.
    pub fn hash(self, data: &[u8]) -> Vec<u8> {
        digest::digest(self.digest(), data).as_ref().to_vec()
    }
}

/// `PRF(secret, label, seed)` = `P_<hash>(secret, label + seed)`, filling `out`.
/// `seed` is given in pieces that are concatenated.
pub fn prf(hash: PrfHash, secret: &[u8], label: &[u8], seed: &[&[u8]], out: &mut [u8]) {
    let key = hmac::Key::new(hash.hmac(), secret);
    // A(1) = HMAC(secret, label + seed)
    let mut ctx = hmac::Context::with_key(&key);
    ctx.update(label);
    for s in seed {
        ctx.update(s);
    }
    let mut a = ctx.sign();
    let mut filled = 0;
    while filled < out.len() {
        let mut ctx = hmac::Context::with_key(&key);
        ctx.update(a.as_ref());
        ctx.update(label);
        for s in seed {
            ctx.update(s);
        }
        let block = ctx.sign();
        let n = block.as_ref().len().min(out.len() - filled);
        out[filled..filled + n].copy_from_slice(&block.as_ref()[..n]);
        filled += n;
        a = hmac::sign(&key, a.as_ref());
    }
}

/// Length of the master secret (RFC 5246 §8.1).
pub const MASTER_SECRET_LEN: usize = 48;
/// Length of Finished.verify_data (RFC 5246 §7.4.9).
pub const VERIFY_DATA_LEN: usize = 12;

/// `master_secret = PRF(pre_master_secret, "extended master secret", session_hash)`
/// (RFC 7627 §4).
pub fn extended_master_secret(
    hash: PrfHash,
    pre_master_secret: &[u8],
    session_hash: &[u8],
) -> [u8; MASTER_SECRET_LEN] {
    let mut ms = [0u8; MASTER_SECRET_LEN];
    prf(
        hash,
        pre_master_secret,
        b"extended master secret",
        &[session_hash],
        &mut ms,
    );
    ms
}

/// `key_block = PRF(master_secret, "key expansion", server_random + client_random)`.
pub fn key_block(
    hash: PrfHash,
    master_secret: &[u8],
    client_random: &[u8; 32],
    server_random: &[u8; 32],
    out: &mut [u8],
) {
    prf(
        hash,
        master_secret,
        b"key expansion",
        &[server_random, client_random],
        out,
    );
}

/// `verify_data = PRF(master_secret, finished_label, Hash(handshake_messages))[0..11]`.
pub fn verify_data(
    hash: PrfHash,
    master_secret: &[u8],
    client: bool,
    transcript: &[u8],
) -> [u8; VERIFY_DATA_LEN] {
    let label: &[u8] = if client {
        b"client finished"
    } else {
        b"server finished"
    };
    let mut out = [0u8; VERIFY_DATA_LEN];
    prf(
        hash,
        master_secret,
        label,
        &[&hash.hash(transcript)],
        &mut out,
    );
    out
}

/// RFC 5705 §4 exporter without context:
/// `PRF(master_secret, label, client_random + server_random)[length]`.
pub fn export(
    hash: PrfHash,
    master_secret: &[u8],
    label: &[u8],
    client_random: &[u8; 32],
    server_random: &[u8; 32],
    out: &mut [u8],
) {
    prf(
        hash,
        master_secret,
        label,
        &[client_random, server_random],
        out,
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use hex_literal::hex;

    // The TLS 1.2 PRF test vectors published on the IETF TLS list (Joseph Birr-Pixton's
    // "TLS 1.2 PRF test vectors"), for P_SHA256 and P_SHA384.
    #[test]
    fn prf_sha256_vector() {
        let secret = hex!("9b be 43 6b a9 40 f0 17 b1 76 52 84 9a 71 db 35");
        let seed = hex!("a0 ba 9f 93 6c da 31 18 27 a6 f7 96 ff d5 19 8c");
        let mut out = [0u8; 100];
        prf(PrfHash::Sha256, &secret, b"test label", &[&seed], &mut out);
        assert_eq!(
            out,
            hex!(
                "e3 f2 29 ba 72 7b e1 7b 8d 12 26 20 55 7c d4 53 c2 aa b2 1d 07 c3 d4 95 32 9b 52 d4 e6 1e db 5a
                 6b 30 17 91 e9 0d 35 c9 c9 a4 6b 4e 14 ba f9 af 0f a0 22 f7 07 7d ef 17 ab fd 37 97 c0 56 4b ab
                 4f bc 91 66 6e 9d ef 9b 97 fc e3 4f 79 67 89 ba a4 80 82 d1 22 ee 42 c5 a7 2e 5a 51 10 ff f7 01
                 87 34 7b 66"
            )
        );
    }

    #[test]
    fn prf_sha384_vector() {
        let secret = hex!("b8 0b 73 3d 6c ee fc dc 71 56 6e a4 8e 55 67 df");
        let seed = hex!("cd 66 5c f6 a8 44 7d d6 ff 8b 27 55 5e db 74 65");
        let mut out = [0u8; 148];
        prf(PrfHash::Sha384, &secret, b"test label", &[&seed], &mut out);
        assert_eq!(
            out,
            hex!(
                "7b 0c 18 e9 ce d4 10 ed 18 04 f2 cf a3 4a 33 6a 1c 14 df fb 49 00 bb 5f d7 94 21 07 e8 1c 83 cd
                 e9 ca 0f aa 60 be 9f e3 4f 82 b1 23 3c 91 46 a0 e5 34 cb 40 0f ed 27 00 88 4f 9d c2 36 f8 0e dd
                 8b fa 96 11 44 c9 e8 d7 92 ec a7 22 a7 b3 2f c3 d4 16 d4 73 eb c2 c5 fd 4a bf da d0 5d 91 84 25
                 9b 5b f8 cd 4d 90 fa 0d 31 e2 de c4 79 e4 f1 a2 60 66 f2 ee a9 a6 92 36 a3 e5 26 55 c9 e9 ae e6
                 91 c8 f3 a2 68 54 30 8d 5e aa 3b e8 5e 09 90 70 3d 73 e5 6f"
            )
        );
    }

    #[test]
    fn pieces_of_seed_concatenate() {
        let mut a = [0u8; 40];
        let mut b = [0u8; 40];
        prf(PrfHash::Sha256, b"k", b"l", &[b"ab", b"cd"], &mut a);
        prf(PrfHash::Sha256, b"k", b"l", &[b"abcd"], &mut b);
        assert_eq!(a, b);
    }
}
