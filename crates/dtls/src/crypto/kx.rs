//! Ephemeral ECDHE (RFC 8422 §5.10) over X25519, P-256 and P-384 through `ring::agreement`.
//!
//! `ring` seals its `SecureRandom` trait, so the ephemeral scalar cannot come from the
//! caller's seeded generator: it comes from `ring::rand::SystemRandom`. Everything else
//! random in the handshake (hello randoms, the cookie secret) comes from the caller.

use ring::agreement;
use ring::rand::SystemRandom;

use crate::error::{Error, PeerMisbehaved};
use crate::types::NamedGroup;

/// One side's ephemeral key pair, consumed by [`KeyExchange::complete`].
pub struct KeyExchange {
    group: NamedGroup,
    private: agreement::EphemeralPrivateKey,
    public: Vec<u8>,
}

impl core::fmt::Debug for KeyExchange {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("KeyExchange")
            .field("group", &self.group)
            .finish_non_exhaustive()
    }
}

fn algorithm(group: NamedGroup) -> Option<&'static agreement::Algorithm> {
    Some(match group {
        NamedGroup::X25519 => &agreement::X25519,
        NamedGroup::Secp256r1 => &agreement::ECDH_P256,
        NamedGroup::Secp384r1 => &agreement::ECDH_P384,
        NamedGroup::Unknown(_) => return None,
    })
}

impl KeyExchange {
    /// Generates an ephemeral key for `group`.
    pub fn start(group: NamedGroup) -> Result<Self, Error> {
        let alg = algorithm(group).ok_or(Error::InvalidConfig)?;
        let private = agreement::EphemeralPrivateKey::generate(alg, &SystemRandom::new())
            .map_err(|_| Error::Crypto)?;
        let public = private
            .compute_public_key()
            .map_err(|_| Error::Crypto)?
            .as_ref()
            .to_vec();
        Ok(KeyExchange {
            group,
            private,
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
    pub fn complete(self, peer_public: &[u8]) -> Result<Vec<u8>, Error> {
        // `start` only builds a KeyExchange for a group `algorithm` knows.
        let alg = algorithm(self.group).ok_or(Error::Crypto)?;
        let peer = agreement::UnparsedPublicKey::new(alg, peer_public);
        agreement::agree_ephemeral(self.private, &peer, |secret| secret.to_vec())
            .map_err(|_| Error::PeerMisbehaved(PeerMisbehaved::InvalidKeyShare))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_sides_agree_in_every_group() {
        for g in NamedGroup::ALL {
            let a = KeyExchange::start(g).unwrap();
            let b = KeyExchange::start(g).unwrap();
            let (pa, pb) = (a.public_key().to_vec(), b.public_key().to_vec());
            assert_eq!(a.complete(&pb).unwrap(), b.complete(&pa).unwrap());
        }
    }

    #[test]
    fn bad_peer_key_is_typed_error() {
        let a = KeyExchange::start(NamedGroup::Secp256r1).unwrap();
        assert_eq!(
            a.complete(&[4; 65]),
            Err(Error::PeerMisbehaved(PeerMisbehaved::InvalidKeyShare))
        );
    }
}
