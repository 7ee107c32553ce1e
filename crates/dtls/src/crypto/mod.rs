//! Cryptography, all through `ring`: the PRF and the secrets derived from it, record
//! protection, ECDHE, signatures, and the bit of X.509 needed to find a peer's key.

pub mod cipher;
pub mod kx;
pub mod prf;
pub mod sign;
pub mod x509;
