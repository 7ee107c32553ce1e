//! Record protection for the AEAD suites: AES-GCM (RFC 5288 §3 with the DTLS nonce of
//! RFC 6347 §4.1.2.1) and ChaCha20-Poly1305 (RFC 7905 §2), both through `ring::aead`.

use ring::aead;

use crate::record::{ContentType, HEADER_LEN, RecordHeader};
use crate::types::BulkCipher;

/// GCM explicit nonce length: 8 bytes, carried in each record (RFC 5288 §3).
pub const GCM_EXPLICIT_NONCE_LEN: usize = 8;
/// AEAD tag length for every suite here.
pub const TAG_LEN: usize = 16;

impl BulkCipher {
    /// (key length, fixed IV length) in the key block (RFC 5288 §3, RFC 7905 §2).
    pub fn key_and_iv_len(self) -> (usize, usize) {
        match self {
            BulkCipher::Aes128Gcm => (16, 4),
            BulkCipher::Aes256Gcm => (32, 4),
            BulkCipher::Chacha20Poly1305 => (32, 12),
        }
    }

    fn algorithm(self) -> &'static aead::Algorithm {
        match self {
            BulkCipher::Aes128Gcm => &aead::AES_128_GCM,
            BulkCipher::Aes256Gcm => &aead::AES_256_GCM,
            BulkCipher::Chacha20Poly1305 => &aead::CHACHA20_POLY1305,
        }
    }

    /// Bytes a protected record adds to its plaintext.
    pub fn overhead(self) -> usize {
        match self {
            BulkCipher::Aes128Gcm | BulkCipher::Aes256Gcm => GCM_EXPLICIT_NONCE_LEN + TAG_LEN,
            BulkCipher::Chacha20Poly1305 => TAG_LEN,
        }
    }
}

/// Protection state for one direction of one epoch.
pub struct RecordCipher {
    bulk: BulkCipher,
    key: aead::LessSafeKey,
    /// GCM: 4-byte salt then zeros; ChaCha20: the 12-byte IV.
    iv: [u8; 12],
}

impl core::fmt::Debug for RecordCipher {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("RecordCipher")
            .field("bulk", &self.bulk)
            .finish_non_exhaustive()
    }
}

/// The 64-bit sequence number of RFC 6347 §4.1: epoch in the high 16 bits.
fn epoch_seq(epoch: u16, seq: u64) -> [u8; 8] {
    ((u64::from(epoch) << 48) | (seq & 0xffff_ffff_ffff)).to_be_bytes()
}

fn aad(epoch: u16, seq: u64, ty: ContentType, version: u16, len: usize) -> aead::Aad<[u8; 13]> {
    let mut a = [0u8; 13];
    a[..8].copy_from_slice(&epoch_seq(epoch, seq));
    a[8] = ty as u8;
    a[9..11].copy_from_slice(&version.to_be_bytes());
    a[11..13].copy_from_slice(&(len as u16).to_be_bytes());
    aead::Aad::from(a)
}

impl RecordCipher {
    /// Builds a cipher from a key and fixed IV of the lengths [`BulkCipher::key_and_iv_len`]
    /// gives; `None` if they do not match.
    pub fn new(bulk: BulkCipher, key: &[u8], fixed_iv: &[u8]) -> Option<Self> {
        let (kl, il) = bulk.key_and_iv_len();
        if key.len() != kl || fixed_iv.len() != il {
            return None;
        }
        let key = aead::LessSafeKey::new(aead::UnboundKey::new(bulk.algorithm(), key).ok()?);
        let mut iv = [0u8; 12];
        iv[..il].copy_from_slice(fixed_iv);
        Some(RecordCipher { bulk, key, iv })
    }

    /// The bulk cipher.
    pub fn bulk(&self) -> BulkCipher {
        self.bulk
    }

    fn nonce(&self, explicit: [u8; 8]) -> aead::Nonce {
        let mut n = self.iv;
        match self.bulk {
            BulkCipher::Aes128Gcm | BulkCipher::Aes256Gcm => n[4..].copy_from_slice(&explicit),
            BulkCipher::Chacha20Poly1305 => {
                for (a, b) in n[4..].iter_mut().zip(explicit) {
                    *a ^= b;
                }
            }
        }
        aead::Nonce::assume_unique_for_key(n)
    }

    /// Appends a whole protected record (header, explicit nonce if any, ciphertext, tag) to
    /// `out` (a `Vec<u8>` or a `BytesMut`; nothing is allocated when it has room). The
    /// explicit GCM nonce is the 64-bit epoch + sequence number, unique per key.
    pub fn seal<B: bytes::BufMut + AsMut<[u8]>>(
        &self,
        ty: ContentType,
        version: u16,
        epoch: u16,
        seq: u64,
        plaintext: &[u8],
        out: &mut B,
    ) -> Result<(), crate::Error> {
        let explicit = epoch_seq(epoch, seq);
        let header = RecordHeader {
            content_type: ty,
            version,
            epoch,
            sequence_number: seq,
            length: (plaintext.len() + self.bulk.overhead()) as u16,
        };
        out.put_slice(&header.to_bytes());
        if self.bulk != BulkCipher::Chacha20Poly1305 {
            out.put_slice(&explicit);
        }
        let start = out.as_mut().len();
        out.put_slice(plaintext);
        let tag = self
            .key
            .seal_in_place_separate_tag(
                self.nonce(explicit),
                aad(epoch, seq, ty, version, plaintext.len()),
                &mut out.as_mut()[start..],
            )
            .map_err(|_| crate::Error::Crypto)?;
        out.put_slice(tag.as_ref());
        Ok(())
    }

    /// Decrypts a record's fragment in place and returns the plaintext slice; `None` if it
    /// does not authenticate (the caller drops the record, RFC 6347 §4.1.2.7).
    pub fn open<'a>(&self, header: &RecordHeader, fragment: &'a mut [u8]) -> Option<&'a [u8]> {
        let (nonce, body) = match self.bulk {
            BulkCipher::Aes128Gcm | BulkCipher::Aes256Gcm => {
                if fragment.len() < GCM_EXPLICIT_NONCE_LEN + TAG_LEN {
                    return None;
                }
                let (explicit, body) = fragment.split_at_mut(GCM_EXPLICIT_NONCE_LEN);
                let mut e = [0u8; 8];
                e.copy_from_slice(explicit);
                (self.nonce(e), body)
            }
            BulkCipher::Chacha20Poly1305 => {
                if fragment.len() < TAG_LEN {
                    return None;
                }
                (
                    self.nonce(epoch_seq(header.epoch, header.sequence_number)),
                    fragment,
                )
            }
        };
        let len = body.len() - TAG_LEN;
        let aad = aad(
            header.epoch,
            header.sequence_number,
            header.content_type,
            header.version,
            len,
        );
        let plain = self.key.open_in_place(nonce, aad, body).ok()?;
        Some(plain)
    }
}

/// Size of a protected record carrying `plaintext_len` bytes.
pub fn protected_len(bulk: BulkCipher, plaintext_len: usize) -> usize {
    HEADER_LEN + plaintext_len + bulk.overhead()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::{DTLS_1_2, Record};

    #[test]
    fn seal_open_round_trip_all_ciphers() {
        for bulk in [
            BulkCipher::Aes128Gcm,
            BulkCipher::Aes256Gcm,
            BulkCipher::Chacha20Poly1305,
        ] {
            let (kl, il) = bulk.key_and_iv_len();
            let c = RecordCipher::new(bulk, &vec![1; kl], &vec![2; il]).unwrap();
            let mut out = Vec::new();
            c.seal(
                ContentType::ApplicationData,
                DTLS_1_2,
                1,
                42,
                b"hello",
                &mut out,
            )
            .unwrap();
            assert_eq!(out.len(), protected_len(bulk, 5));
            let rec = Record::new_checked(&out[..]).unwrap();
            let header = rec.repr();
            let mut frag = rec.fragment().to_vec();
            assert_eq!(c.open(&header, &mut frag).unwrap(), b"hello");
            // A flipped bit, or a different sequence number in the header, fails.
            let mut bad = rec.fragment().to_vec();
            let last = bad.len() - 1;
            bad[last] ^= 1;
            assert!(c.open(&header, &mut bad).is_none());
            let mut h2 = header;
            h2.sequence_number = 43;
            let mut frag = rec.fragment().to_vec();
            assert!(c.open(&h2, &mut frag).is_none());
        }
    }
}
