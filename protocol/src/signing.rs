//! Signatures over the exact bytes that are sent.
//!
//! A signed request is an HTTP POST whose body is the encoded message, with two headers: the
//! signer's key serial and the signature over the body. The gateway looks up the key by serial
//! and verifies the signature *before* it parses a byte of the body; a response that matters is
//! signed the same way by the gateway's key (serial [`GATEWAY_SIGNER`]), and the app verifies it
//! with the gateway key from its key card. Headers keep the body byte-for-byte what was signed:
//! nothing is re-encoded between signing and verifying.

use crate::keys::{KeyError, PublicKey, SecretKey, Signature};

/// Header naming whose key signed the body: a key serial, or [`GATEWAY_SIGNER`].
pub const KEY_HEADER: &str = "x-tolem-key";
/// Header carrying the signature over the body, as unpadded base64url.
pub const SIGNATURE_HEADER: &str = "x-tolem-signature";
/// The signer name the gateway uses on its own answers.
pub const GATEWAY_SIGNER: &str = "gateway";
/// The largest body either side accepts: a payment is a few hundred bytes, a message a few
/// kilobytes; anything bigger is refused before it is read into memory.
pub const MAX_BODY_BYTES: usize = 16 * 1024;

/// Body bytes with the signature that makes them trustworthy.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Signed {
    /// The key serial of the signer (or [`GATEWAY_SIGNER`]).
    pub signer: String,
    /// Exactly the bytes that were signed and are sent.
    pub body: Vec<u8>,
    pub signature: Signature,
}

impl Signed {
    /// Signs `body` as it is.
    pub fn sign(signer: &str, body: Vec<u8>, key: &SecretKey) -> Signed {
        let signature = key.sign(&body);
        Signed {
            signer: signer.to_owned(),
            body,
            signature,
        }
    }

    /// Checks the signature against `key`; only then may the body be parsed.
    pub fn verify(&self, key: &PublicKey) -> Result<&[u8], KeyError> {
        key.verify(&self.body, &self.signature)?;
        Ok(&self.body)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn any_changed_byte_is_refused() {
        let key = SecretKey::from_seed(&[3; 32]);
        let signed = Signed::sign("P1001-1", br#"{"amount_tiyn":10000}"#.to_vec(), &key);
        assert!(signed.verify(&key.public_key()).is_ok());
        for i in 0..signed.body.len() {
            let mut tampered = signed.clone();
            tampered.body[i] ^= 0x01;
            assert_eq!(
                tampered.verify(&key.public_key()),
                Err(KeyError::SignatureMismatch),
                "byte {i}"
            );
        }
    }
}
