//! Signatures over the exact bytes that are sent.
//!
//! A signed request is an HTTP POST whose body is the encoded message, with two headers: the
//! signer's key serial and the signature over the body. The gateway looks up the key by serial
//! and verifies the signature *before* it parses a byte of the body; a response that matters is
//! signed the same way by the gateway's key (serial [`GATEWAY_SIGNER`]), and the app verifies it
//! with the gateway key from its key card. Headers keep the body byte-for-byte what was signed:
//! nothing is re-encoded between signing and verifying.
//!
//! ## Answers bound to their request
//! An answer signed over its body alone could be replayed by anyone in the middle as the answer
//! to *another* request — a refusal the gateway gave before it read a session (bad signature,
//! unknown key), say, sent back for a payment to make the phone drop it. So a client asks (header
//! [`BIND_HEADER`]) for answers bound to its request: the gateway then signs
//! [`bound_answer`]`(`[`request_digest`]`(request bytes), answer bytes)` instead of the answer
//! bytes, and the client verifies with the digest of the bytes *it* sent — an answer to anything
//! else does not verify. The gateway names the digest it bound to in [`ANSWERS_HEADER`], for
//! people reading traces; clients never trust it.
//!
//! The body alone is not the whole request, though: someone in the middle who relays a signed
//! `pay` (accepted, the dealer's balance debited) can send the same bytes again to `status`, or
//! without their signature header, and get a genuine refusal (907, 900) bound to those very
//! bytes — which a phone would take as its payment refused, and give the cash back. So today's
//! clients ask for [`BIND_EXCHANGE_SHA256`]: the answer is bound to [`exchange_digest`], over the
//! step the request was sent to, its signer and signature headers and its body, so an answer to
//! the same bytes sent anywhere else, or signed otherwise, does not verify.

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
/// The largest provider catalogue either side accepts: about 2 500 providers of 200 bytes (a
/// name in Cyrillic, its number rules and prefixes). An aggregator's catalogue holds hundreds;
/// at [`MAX_BODY_BYTES`] a phone refused any above about 80, and could then pay none.
pub const MAX_CATALOGUE_BYTES: usize = 512 * 1024;

/// Header by which a client asks for answers bound to its request; its value is
/// [`BIND_EXCHANGE_SHA256`] (or, from older phones, [`BIND_REQUEST_SHA256`]). Without it the
/// gateway signs the answer's bytes alone (the oldest phones).
pub const BIND_HEADER: &str = "x-tolem-bind";
/// Answers bound to the SHA-256 of the request's body bytes ([`request_digest`]): older phones.
pub const BIND_REQUEST_SHA256: &str = "request-sha256";
/// Answers bound to the request as it travelled ([`exchange_digest`]).
pub const BIND_EXCHANGE_SHA256: &str = "exchange-sha256";
/// Header on a bound answer: the request digest it is bound to, as unpadded base64url.
pub const ANSWERS_HEADER: &str = "x-tolem-answers";

/// Domain separation: no other message the gateway signs (a JSON answer, a bill, a receipt)
/// starts with these bytes, so a bound answer's signature is never valid for anything else.
const BOUND_ANSWER_CONTEXT: &[u8] = b"tolem-answer-to-sha256\0";

/// The SHA-256 of a request's body bytes, exactly as sent (empty for a GET).
pub fn request_digest(request_body: &[u8]) -> [u8; 32] {
    use sha2::{Digest, Sha256};
    Sha256::digest(request_body).into()
}

/// Domain separation of [`exchange_digest`] from a plain SHA-256 of some bytes.
const EXCHANGE_CONTEXT: &[u8] = b"tolem-exchange-sha256\0";

/// The SHA-256 of a request as it travelled: the step it was sent to (the last segment of its
/// path), its signer ([`KEY_HEADER`]) and signature ([`SIGNATURE_HEADER`]) headers as sent
/// (empty when absent), and its body bytes — each with its length first, so no two requests
/// that differ anywhere share it.
pub fn exchange_digest(step: &str, signer: &str, signature: &str, body: &[u8]) -> [u8; 32] {
    use sha2::{Digest, Sha256};
    let mut hash = Sha256::new();
    hash.update(EXCHANGE_CONTEXT);
    for part in [
        step.as_bytes(),
        signer.as_bytes(),
        signature.as_bytes(),
        body,
    ] {
        hash.update((part.len() as u64).to_be_bytes());
        hash.update(part);
    }
    hash.finalize().into()
}

/// The bytes the gateway signs for an answer bound to the request with `request_digest` (either
/// digest: [`request_digest`] or [`exchange_digest`]).
pub fn bound_answer(request_digest: &[u8; 32], answer_body: &[u8]) -> Vec<u8> {
    let mut message =
        Vec::with_capacity(BOUND_ANSWER_CONTEXT.len() + request_digest.len() + answer_body.len());
    message.extend_from_slice(BOUND_ANSWER_CONTEXT);
    message.extend_from_slice(request_digest);
    message.extend_from_slice(answer_body);
    message
}

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

    #[test]
    fn an_exchange_digest_changes_with_every_part_of_the_request() {
        let body = br#"{"step":"pay","session":"A"}"#;
        let sent = exchange_digest("pay", "P1001-1", "c2ln", body);
        for other in [
            exchange_digest("status", "P1001-1", "c2ln", body),
            exchange_digest("pay", "P1001-2", "c2ln", body),
            exchange_digest("pay", "P1001-1", "", body),
            exchange_digest("pay", "P1001-1", "c2lo", body),
            exchange_digest("pay", "P1001-1", "c2ln", br#"{"step":"pay","session":"B"}"#),
            // The same bytes split otherwise between the parts.
            exchange_digest("pa", "yP1001-1", "c2ln", body),
            request_digest(body),
        ] {
            assert_ne!(other, sent);
        }
        assert_eq!(exchange_digest("pay", "P1001-1", "c2ln", body), sent);
    }

    #[test]
    fn a_bound_answer_verifies_only_for_its_own_request() {
        let gateway = SecretKey::from_seed(&[7; 32]);
        let answer = br#"{"v":1,"code":6,"gateway_time_ms":1}"#;
        let pay = request_digest(br#"{"step":"pay","session":"A"}"#);
        let other = request_digest(br#"{"step":"pay","session":"B"}"#);
        let signature = gateway.sign(&bound_answer(&pay, answer));
        let key = gateway.public_key();
        assert!(key.verify(&bound_answer(&pay, answer), &signature).is_ok());
        assert!(
            key.verify(&bound_answer(&other, answer), &signature)
                .is_err()
        );
        // Nor is it a signature over the bare answer, which older clients check.
        assert!(key.verify(answer, &signature).is_err());
    }
}
