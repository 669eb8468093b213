//! Random tokens, their hashes, and comparing secrets without leaking where they differ.
//!
//! Everything random in the gateway (its signing key, console session tokens, CSRF tokens) comes
//! straight from the operating system's generator through `getrandom`: no user-space generator
//! to seed, fork or forget to reseed.

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use sha2::{Digest, Sha256};

/// The OS could not give random bytes (a very early boot, a sandbox without `getrandom(2)`).
#[derive(Debug, thiserror::Error)]
#[error("the operating system's random source failed: {0}")]
pub struct RandomError(getrandom::Error);

/// `N` bytes from the OS's cryptographic random source.
pub fn random_bytes<const N: usize>() -> Result<[u8; N], RandomError> {
    let mut bytes = [0u8; N];
    getrandom::fill(&mut bytes).map_err(RandomError)?;
    Ok(bytes)
}

/// A fresh 256-bit token as 43 characters of unpadded base64url: safe in a cookie, a URL or a
/// hidden form field without escaping.
pub fn random_token() -> Result<String, RandomError> {
    Ok(URL_SAFE_NO_PAD.encode(random_bytes::<32>()?))
}

/// Letters and digits a person cannot confuse when reading them aloud or typing them on a
/// phone: no `0`/`o`, `1`/`l`/`i`.
const READABLE: &[u8] = b"abcdefghjkmnpqrstuvwxyz23456789";

/// A fresh point password, `xxxx-xxxx-xxxx`: 12 characters of [`READABLE`] (about 59 bits, and
/// guessing is throttled), lower case so a phone keyboard needs no shift.
pub fn point_password() -> Result<String, RandomError> {
    let mut chars = Vec::with_capacity(12);
    while chars.len() < 12 {
        for byte in random_bytes::<16>()? {
            // Rejection sampling: only bytes below the largest multiple of the alphabet's size,
            // so every character is equally likely.
            let limit = 256 - 256 % READABLE.len();
            if usize::from(byte) < limit && chars.len() < 12 {
                chars.push(READABLE[usize::from(byte) % READABLE.len()]);
            }
        }
    }
    let text = String::from_utf8_lossy(&chars).into_owned();
    Ok(format!("{}-{}-{}", &text[..4], &text[4..8], &text[8..]))
}

/// SHA-256 of `data` as lower-case hex. A session token is stored only this way: 256 random
/// bits need no salt or slow hash, and the stored form cannot be used as a cookie.
pub fn sha256_hex(data: &[u8]) -> String {
    Sha256::digest(data)
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect()
}

/// Whether `a == b`, taking the same time wherever they differ, so an attacker timing many
/// guesses of a CSRF token learns nothing about how many leading characters were right.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |diff, (x, y)| diff | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_long_unique_and_url_safe() {
        let a = random_token().unwrap();
        let b = random_token().unwrap();
        assert_eq!(a.len(), 43);
        assert_ne!(a, b);
        assert!(
            a.bytes()
                .all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'_')
        );
    }

    #[test]
    fn point_passwords_are_readable_and_unique() {
        let a = point_password().unwrap();
        assert_eq!(a.len(), 14);
        assert_eq!(a.matches('-').count(), 2);
        assert!(a.bytes().all(|c| c == b'-' || READABLE.contains(&c)), "{a}");
        assert_ne!(a, point_password().unwrap());
    }

    #[test]
    fn sha256_matches_a_known_vector() {
        assert_eq!(
            sha256_hex(b"abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn equality() {
        assert!(constant_time_eq(b"token", b"token"));
        assert!(!constant_time_eq(b"token", b"tokem"));
        assert!(!constant_time_eq(b"token", b"token2"));
        assert!(constant_time_eq(b"", b""));
    }
}
