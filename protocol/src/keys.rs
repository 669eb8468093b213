//! Ed25519 keys of points and of the gateway: how they are written down and compared.

use std::fmt;
use std::str::FromStr;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ed25519_dalek::Signer;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// Why a key or signature could not be used.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    #[error("not a public key: expected 43 characters of base64url")]
    BadPublicKey,
    #[error("not a signature: expected 86 characters of base64url")]
    BadSignatureText,
    #[error("the signature does not match the data and the key")]
    SignatureMismatch,
}

/// A public key, written as unpadded base64url (43 characters) so no `=` of padding can be
/// confused with the `=` that introduces the fingerprint.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct PublicKey([u8; 32]);

impl PublicKey {
    pub fn from_bytes(bytes: [u8; 32]) -> Result<PublicKey, KeyError> {
        ed25519_dalek::VerifyingKey::from_bytes(&bytes).map_err(|_| KeyError::BadPublicKey)?;
        Ok(PublicKey(bytes))
    }

    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// The digits two people read aloud to each other to compare keys.
    pub fn fingerprint(&self) -> Fingerprint {
        Fingerprint::of(self)
    }

    /// The key as the phone and the dealer console show it: `key=fingerprint`.
    pub fn with_fingerprint(&self) -> String {
        format!("{self}={}", self.fingerprint())
    }

    /// Checks that `signature` was made over exactly `data` by this key's private half.
    pub fn verify(&self, data: &[u8], signature: &Signature) -> Result<(), KeyError> {
        let key =
            ed25519_dalek::VerifyingKey::from_bytes(&self.0).map_err(|_| KeyError::BadPublicKey)?;
        let signature = ed25519_dalek::Signature::from_bytes(&signature.0);
        // Strict verification refuses the malleable and small-order cases plain verify accepts.
        key.verify_strict(data, &signature)
            .map_err(|_| KeyError::SignatureMismatch)?;
        Ok(())
    }
}

impl fmt::Display for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&URL_SAFE_NO_PAD.encode(self.0))
    }
}

impl fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PublicKey({self})")
    }
}

impl FromStr for PublicKey {
    type Err = KeyError;
    fn from_str(text: &str) -> Result<PublicKey, KeyError> {
        let bytes = URL_SAFE_NO_PAD
            .decode(text.trim())
            .map_err(|_| KeyError::BadPublicKey)?;
        PublicKey::from_bytes(bytes.try_into().map_err(|_| KeyError::BadPublicKey)?)
    }
}

impl Serialize for PublicKey {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for PublicKey {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        String::deserialize(deserializer)?
            .parse()
            .map_err(serde::de::Error::custom)
    }
}

/// A key's fingerprint: 30 decimal digits from its SHA-256, in six groups of five.
///
/// Digits, because cashiers and dealers compare them by reading aloud in Russian or Kazakh, where
/// Latin letters are easy to mishear; 30 digits carry about 100 bits, far beyond what anyone could
/// match by generating keys until one looks alike.
#[derive(Clone, PartialEq, Eq, Hash, Debug)]
pub struct Fingerprint(String);

impl Fingerprint {
    pub fn of(key: &PublicKey) -> Fingerprint {
        let digest = Sha256::digest(key.0);
        let groups: Vec<String> = digest
            .chunks(5)
            .take(6)
            .map(|chunk| {
                let value = chunk.iter().fold(0u64, |acc, b| (acc << 8) | u64::from(*b));
                format!("{:05}", value % 100_000)
            })
            .collect();
        Fingerprint(groups.join(" "))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Fingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A signature, written as unpadded base64url.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Signature([u8; 64]);

impl Signature {
    pub fn to_bytes(self) -> [u8; 64] {
        self.0
    }
}

impl fmt::Display for Signature {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&URL_SAFE_NO_PAD.encode(self.0))
    }
}

impl fmt::Debug for Signature {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Signature({self})")
    }
}

impl FromStr for Signature {
    type Err = KeyError;
    fn from_str(text: &str) -> Result<Signature, KeyError> {
        let bytes = URL_SAFE_NO_PAD
            .decode(text.trim())
            .map_err(|_| KeyError::BadSignatureText)?;
        Ok(Signature(
            bytes.try_into().map_err(|_| KeyError::BadSignatureText)?,
        ))
    }
}

/// A private key. Made from 32 seed bytes the caller takes from a cryptographic random source;
/// the bytes are wiped from memory when the key is dropped.
pub struct SecretKey(ed25519_dalek::SigningKey);

impl SecretKey {
    pub fn from_seed(seed: &[u8; 32]) -> SecretKey {
        SecretKey(ed25519_dalek::SigningKey::from_bytes(seed))
    }

    /// The seed, for encrypting at rest. Handle with care: this is the key.
    pub fn seed(&self) -> [u8; 32] {
        self.0.to_bytes()
    }

    pub fn public_key(&self) -> PublicKey {
        PublicKey(self.0.verifying_key().to_bytes())
    }

    /// Signs exactly `data`.
    pub fn sign(&self, data: &[u8]) -> Signature {
        Signature(self.0.sign(data).to_bytes())
    }
}

impl fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Never print the secret, even in a debug log.
        write!(f, "SecretKey(public {})", self.public_key())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_text_round_trips_and_has_no_padding() {
        let key = SecretKey::from_seed(&[7; 32]).public_key();
        let text = key.to_string();
        assert_eq!(text.len(), 43);
        assert!(!text.contains('='));
        assert_eq!(text.parse::<PublicKey>(), Ok(key));
    }

    #[test]
    fn fingerprint_is_six_groups_of_five_digits_after_an_equals_sign() {
        let key = SecretKey::from_seed(&[9; 32]).public_key();
        let shown = key.with_fingerprint();
        let (text, fingerprint) = shown.split_once('=').unwrap();
        assert_eq!(text, key.to_string());
        let groups: Vec<&str> = fingerprint.split(' ').collect();
        assert_eq!(groups.len(), 6);
        assert!(
            groups
                .iter()
                .all(|g| g.len() == 5 && g.bytes().all(|b| b.is_ascii_digit()))
        );
        assert_ne!(
            fingerprint,
            SecretKey::from_seed(&[8; 32])
                .public_key()
                .fingerprint()
                .as_str()
        );
    }

    #[test]
    fn signatures_verify_only_for_their_data_and_key() {
        let key = SecretKey::from_seed(&[1; 32]);
        let signature = key.sign(b"pay 100");
        assert_eq!(key.public_key().verify(b"pay 100", &signature), Ok(()));
        assert_eq!(
            key.public_key().verify(b"pay 900", &signature),
            Err(KeyError::SignatureMismatch)
        );
        let other = SecretKey::from_seed(&[2; 32]).public_key();
        assert_eq!(
            other.verify(b"pay 100", &signature),
            Err(KeyError::SignatureMismatch)
        );
        assert_eq!(signature.to_string().parse::<Signature>(), Ok(signature));
    }

    #[test]
    fn debug_output_never_contains_the_seed() {
        let key = SecretKey::from_seed(&[0xAB; 32]);
        let seed_text = URL_SAFE_NO_PAD.encode([0xAB; 32]);
        assert!(!format!("{key:?}").contains(&seed_text));
    }
}
