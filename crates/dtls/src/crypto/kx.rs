//! Ephemeral ECDHE (RFC 8422 §5.10) over X25519 (RFC 7748 §5), P-256 and P-384
//! (RFC 8422 §5.10, uncompressed points of SEC 1 §2.3.3).
//!
//! The ephemeral scalar is drawn from the caller's generator, so a seeded run replays byte
//! for byte. `ring::agreement` cannot take a caller generator (ring seals its
//! `SecureRandom` trait), so the arithmetic is RustCrypto's: `x25519-dalek`, `p256` and
//! `p384`. Nothing here is hand-written cryptography: the scalar is random bytes handed to
//! those crates.

use rand::RngCore;

use crate::error::{Error, PeerMisbehaved};
use crate::types::NamedGroup;

/// Attempts at drawing a valid NIST scalar before giving up. A random 256- or 384-bit
/// string is out of range (zero or not below the group order) with probability below
/// 2^-32, so a second draw is already a sign of a broken generator.
const MAX_SCALAR_DRAWS: usize = 8;

enum Secret {
    X25519(x25519_dalek::StaticSecret),
    P256(p256::NonZeroScalar),
    P384(p384::NonZeroScalar),
}

/// One side's ephemeral key pair, consumed by [`KeyExchange::complete`].
pub struct KeyExchange {
    group: NamedGroup,
    secret: Secret,
    public: Vec<u8>,
}

impl core::fmt::Debug for KeyExchange {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("KeyExchange")
            .field("group", &self.group)
            .finish_non_exhaustive()
    }
}

/// Draws a scalar for a NIST curve: `N` random bytes taken as a big-endian integer,
/// redrawn while it is zero or not below the order (rejection sampling, FIPS 186-5
/// A.2.2 style), so the scalar is uniform.
fn nist_scalar<const N: usize, S>(
    rng: &mut dyn RngCore,
    parse: impl Fn(&[u8; N]) -> Option<S>,
) -> Result<S, Error> {
    let mut bytes = [0u8; N];
    for _ in 0..MAX_SCALAR_DRAWS {
        rng.fill_bytes(&mut bytes);
        if let Some(s) = parse(&bytes) {
            bytes.fill(0);
            return Ok(s);
        }
    }
    Err(Error::Crypto)
}

impl KeyExchange {
    /// Generates an ephemeral key for `group` from `rng`.
    ///
    /// # Errors
    /// [`Error::InvalidConfig`] for a group this crate does not implement,
    /// [`Error::Crypto`] if the generator keeps producing out-of-range scalars.
    pub fn start(group: NamedGroup, rng: &mut dyn RngCore) -> Result<Self, Error> {
        let (secret, public) = match group {
            NamedGroup::X25519 => {
                let mut bytes = [0u8; 32];
                rng.fill_bytes(&mut bytes);
                // RFC 7748 §5: any 32 bytes are a scalar; clamping happens inside.
                let s = x25519_dalek::StaticSecret::from(bytes);
                bytes.fill(0);
                let public = x25519_dalek::PublicKey::from(&s).as_bytes().to_vec();
                (Secret::X25519(s), public)
            }
            NamedGroup::Secp256r1 => {
                use p256::elliptic_curve::sec1::ToEncodedPoint;
                let s = nist_scalar::<32, _>(rng, |b| {
                    Option::from(p256::NonZeroScalar::from_repr((*b).into()))
                })?;
                let public = p256::PublicKey::from_secret_scalar(&s)
                    .to_encoded_point(false)
                    .as_bytes()
                    .to_vec();
                (Secret::P256(s), public)
            }
            NamedGroup::Secp384r1 => {
                use p384::elliptic_curve::sec1::ToEncodedPoint;
                let s = nist_scalar::<48, _>(rng, |b| {
                    Option::from(p384::NonZeroScalar::from_repr((*b).into()))
                })?;
                let public = p384::PublicKey::from_secret_scalar(&s)
                    .to_encoded_point(false)
                    .as_bytes()
                    .to_vec();
                (Secret::P384(s), public)
            }
            NamedGroup::Unknown(_) => return Err(Error::InvalidConfig),
        };
        Ok(KeyExchange {
            group,
            secret,
            public,
        })
    }

    /// The group.
    pub fn group(&self) -> NamedGroup {
        self.group
    }

    /// Our public key in wire form (32 bytes for X25519, an uncompressed point otherwise).
    pub fn public_key(&self) -> &[u8] {
        &self.public
    }

    /// Computes the shared secret (the pre-master secret) with the peer's public key.
    ///
    /// # Errors
    /// [`PeerMisbehaved::InvalidKeyShare`] for a key that is not a valid point of the
    /// group (RFC 8422 §5.11: only uncompressed points), or an X25519 key that yields the
    /// all-zero secret (RFC 7748 §6.1).
    pub fn complete(self, peer_public: &[u8]) -> Result<Vec<u8>, Error> {
        let bad = || Error::PeerMisbehaved(PeerMisbehaved::InvalidKeyShare);
        // RFC 8422 §5.4.1: points are sent uncompressed (0x04 || X || Y).
        let uncompressed = |len: usize| peer_public.len() == len && peer_public[0] == 4;
        match self.secret {
            Secret::X25519(s) => {
                let peer: [u8; 32] = peer_public.try_into().map_err(|_| bad())?;
                let shared = s.diffie_hellman(&x25519_dalek::PublicKey::from(peer));
                if !shared.was_contributory() {
                    return Err(bad());
                }
                Ok(shared.as_bytes().to_vec())
            }
            Secret::P256(s) => {
                if !uncompressed(65) {
                    return Err(bad());
                }
                let peer = p256::PublicKey::from_sec1_bytes(peer_public).map_err(|_| bad())?;
                let shared = p256::ecdh::diffie_hellman(s, peer.as_affine());
                Ok(shared.raw_secret_bytes().to_vec())
            }
            Secret::P384(s) => {
                if !uncompressed(97) {
                    return Err(bad());
                }
                let peer = p384::PublicKey::from_sec1_bytes(peer_public).map_err(|_| bad())?;
                let shared = p384::ecdh::diffie_hellman(s, peer.as_affine());
                Ok(shared.raw_secret_bytes().to_vec())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    fn rng(seed: u64) -> rand_chacha::ChaCha20Rng {
        rand_chacha::ChaCha20Rng::seed_from_u64(seed)
    }

    #[test]
    fn both_sides_agree_in_every_group() {
        for g in NamedGroup::ALL {
            let a = KeyExchange::start(g, &mut rng(1)).unwrap();
            let b = KeyExchange::start(g, &mut rng(2)).unwrap();
            let (pa, pb) = (a.public_key().to_vec(), b.public_key().to_vec());
            assert_ne!(pa, pb);
            assert_eq!(a.complete(&pb).unwrap(), b.complete(&pa).unwrap());
        }
    }

    #[test]
    fn the_same_seed_gives_the_same_key_and_ring_agrees() {
        use ring::agreement;
        let alg = |g| match g {
            NamedGroup::X25519 => &agreement::X25519,
            NamedGroup::Secp256r1 => &agreement::ECDH_P256,
            _ => &agreement::ECDH_P384,
        };
        for g in NamedGroup::ALL {
            let a = KeyExchange::start(g, &mut rng(9)).unwrap();
            let again = KeyExchange::start(g, &mut rng(9)).unwrap();
            assert_eq!(a.public_key(), again.public_key(), "{g:?}");
            // An independent implementation computes the same secret with our public key.
            let sys = ring::rand::SystemRandom::new();
            let theirs = agreement::EphemeralPrivateKey::generate(alg(g), &sys).unwrap();
            let their_public = theirs.compute_public_key().unwrap().as_ref().to_vec();
            let ring_secret = agreement::agree_ephemeral(
                theirs,
                &agreement::UnparsedPublicKey::new(alg(g), a.public_key()),
                |s| s.to_vec(),
            )
            .unwrap();
            assert_eq!(a.complete(&their_public).unwrap(), ring_secret, "{g:?}");
        }
    }

    #[test]
    fn bad_peer_key_is_typed_error() {
        let invalid = Err(Error::PeerMisbehaved(PeerMisbehaved::InvalidKeyShare));
        let a = KeyExchange::start(NamedGroup::Secp256r1, &mut rng(3)).unwrap();
        assert_eq!(a.complete(&[4; 65]), invalid);
        // A compressed point is refused (RFC 8422 §5.4.1), even a valid one.
        let a = KeyExchange::start(NamedGroup::Secp256r1, &mut rng(3)).unwrap();
        let b = KeyExchange::start(NamedGroup::Secp256r1, &mut rng(4)).unwrap();
        let compressed = {
            use p256::elliptic_curve::sec1::ToEncodedPoint;
            p256::PublicKey::from_sec1_bytes(b.public_key())
                .unwrap()
                .to_encoded_point(true)
                .as_bytes()
                .to_vec()
        };
        assert_eq!(a.complete(&compressed), invalid);
        let a = KeyExchange::start(NamedGroup::Secp384r1, &mut rng(3)).unwrap();
        assert_eq!(a.complete(&[]), invalid);
        // The X25519 point of order 1 (all zeros) gives the all-zero secret.
        let a = KeyExchange::start(NamedGroup::X25519, &mut rng(3)).unwrap();
        assert_eq!(a.complete(&[0; 32]), invalid);
        let a = KeyExchange::start(NamedGroup::X25519, &mut rng(3)).unwrap();
        assert_eq!(a.complete(&[1; 31]), invalid);
    }
}
