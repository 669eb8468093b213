//! How a signed [`Bill`](crate::messages::Bill) travels from the cashier's phone to the gateway
//! by way of the customer's phone: a link, shown as a QR code, whose last path segment carries
//! the exact signed bytes and their signature. The cashier's phone needs no network to make it;
//! the gateway verifies the signature over the bytes before it parses them, as for any signed
//! request (the signer's key serial is inside the signed body).
//!
//! The token is `<body>.<signature>`, both unpadded base64url (RFC 4648 §5): only characters a
//! URL path keeps as they are, so no encoder or QR reader can change a byte.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use crate::keys::Signature;
use crate::signing::MAX_BODY_BYTES;

/// The path under which the gateway serves bills: `<origin>/bill/<token>`.
pub const BILL_PATH: &str = "/bill/";

/// Why a bill token could not be read.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum BillTokenError {
    #[error("the bill link is damaged (it must be two base64url parts joined by a dot)")]
    Damaged,
    #[error("the bill is larger than {MAX_BODY_BYTES} bytes")]
    TooLarge,
}

/// The token for `body` signed with `signature`.
pub fn token(body: &[u8], signature: &Signature) -> String {
    format!("{}.{signature}", URL_SAFE_NO_PAD.encode(body))
}

/// The link the QR code carries: `origin` is the gateway's public address (no trailing slash).
pub fn link(origin: &str, body: &[u8], signature: &Signature) -> String {
    format!(
        "{}{BILL_PATH}{}",
        origin.trim_end_matches('/'),
        token(body, signature)
    )
}

/// The signed bytes and the signature from a token, checked only for form: the caller verifies.
pub fn parse(token: &str) -> Result<(Vec<u8>, Signature), BillTokenError> {
    let (body, signature) = token.split_once('.').ok_or(BillTokenError::Damaged)?;
    // Base64 takes 4 characters for every 3 bytes: refuse an oversized body before decoding it.
    if body.len() > MAX_BODY_BYTES / 3 * 4 + 4 {
        return Err(BillTokenError::TooLarge);
    }
    let body = URL_SAFE_NO_PAD
        .decode(body)
        .map_err(|_| BillTokenError::Damaged)?;
    let signature = signature
        .parse::<Signature>()
        .map_err(|_| BillTokenError::Damaged)?;
    Ok((body, signature))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::SecretKey;

    #[test]
    fn a_link_gives_back_the_exact_signed_bytes() {
        let key = SecretKey::from_seed(&[7; 32]);
        let body = br#"{"v":1,"step":"bill"}"#.to_vec();
        let signature = key.sign(&body);
        let link = link("https://pay.tolem.kz/", &body, &signature);
        let token = link.strip_prefix("https://pay.tolem.kz/bill/").unwrap();
        assert!(
            token
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
        );
        let (read, read_signature) = parse(token).unwrap();
        assert_eq!(read, body);
        assert!(key.public_key().verify(&read, &read_signature).is_ok());
    }

    #[test]
    fn damaged_and_oversized_tokens_are_refused() {
        for bad in ["", "abc", "a.b", "!!.AAAA", "eyJ9"] {
            assert_eq!(parse(bad), Err(BillTokenError::Damaged), "{bad}");
        }
        let huge = format!("{}.x", "A".repeat(MAX_BODY_BYTES * 2));
        assert_eq!(parse(&huge), Err(BillTokenError::TooLarge));
    }
}
