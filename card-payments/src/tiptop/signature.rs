//! How TipTop Pay signs its notifications, and how we check them.
//!
//! Every notification (Check, Pay, Fail, Confirm, Refund, Recurrent, Cancel) carries two
//! headers, `Content-HMAC` and `X-Content-HMAC`: base64 of HMAC-SHA256 with the API secret as
//! the key, over the UTF-8 message: the request body for POST, the query string for GET. The
//! two differ only in the bytes signed: `Content-HMAC` is over the parameters as sent
//! (URL-encoded), `X-Content-HMAC` over them URL-decoded (developers.cloudpayments.ru,
//! «Проверка уведомлений» / "Notification Validation"; the TipTop Pay Kazakhstan copy,
//! developers.tiptoppay.kz, is the same document).
//!
//! We verify `Content-HMAC` only: it covers the exact bytes we then parse. A signature over
//! the decoded text does not pin the fields: `a=1%26b%3D2` and `a=1&b=2` decode to the same
//! text but parse to different fields, so a captured `X-Content-HMAC` could be replayed over a
//! body rewritten that way.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, Mac};
use sha2::Sha256;

type HmacSha256 = Hmac<Sha256>;

/// The header we verify (lowercase, as [`crate::service::Incoming`] gives header names).
pub const CONTENT_HMAC: &str = "content-hmac";
/// The header over the decoded parameters; sent by the emulator, not verified (see above).
pub const X_CONTENT_HMAC: &str = "x-content-hmac";

fn mac(secret: &[u8]) -> HmacSha256 {
    // HMAC takes a key of any length; this cannot fail.
    HmacSha256::new_from_slice(secret).expect("HMAC accepts keys of any length")
}

/// `Content-HMAC` of `message`: base64(HMAC-SHA256(message, secret)).
pub fn content_hmac(secret: &[u8], message: &[u8]) -> String {
    let mut mac = mac(secret);
    mac.update(message);
    STANDARD.encode(mac.finalize().into_bytes())
}

/// `X-Content-HMAC` of a form body: the same HMAC over the body URL-decoded (`%XX` and `+`).
pub fn x_content_hmac(secret: &[u8], body: &[u8]) -> String {
    content_hmac(secret, &url_decode(body))
}

/// Whether `header` (base64) is the HMAC of `message`, compared in constant time.
pub fn verify(secret: &[u8], message: &[u8], header: &str) -> bool {
    let Ok(given) = STANDARD.decode(header.trim()) else {
        return false;
    };
    let mut mac = mac(secret);
    mac.update(message);
    mac.verify_slice(&given).is_ok()
}

/// Percent-decoding of a whole form body, `+` as space, separators kept.
fn url_decode(body: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(body.len());
    let mut i = 0;
    while i < body.len() {
        match body[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < body.len() => {
                let hex = std::str::from_utf8(&body[i + 1..i + 3]).ok();
                match hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
                    Some(byte) => {
                        out.push(byte);
                        i += 2;
                    }
                    None => out.push(b'%'),
                }
            }
            byte => out.push(byte),
        }
        i += 1;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 4231, test case 2: HMAC-SHA256 with key "Jefe" over "what do ya want for
    /// nothing?" is 5bdcc146…3843; base64 of it checked with
    /// `openssl dgst -sha256 -hmac Jefe -binary | base64`.
    #[test]
    fn known_vector() {
        let header = content_hmac(b"Jefe", b"what do ya want for nothing?");
        assert_eq!(header, "W9zBRr9gdU5qBCQmCJV1x1oAPwidJzmDnexYuWTsOEM=");
        assert!(verify(b"Jefe", b"what do ya want for nothing?", &header));
    }

    /// A notification-shaped body, its HMAC computed by hand with openssl.
    #[test]
    fn notification_vector() {
        let body = b"TransactionId=1&Amount=10.00&InvoiceId=42";
        assert_eq!(
            content_hmac(b"secret", body),
            "Qa4WBlH8wSwMB7/iFCtTG+8djiZQ3g93mZaI93fajP4="
        );
    }

    #[test]
    fn one_byte_changed_does_not_verify() {
        let body = b"TransactionId=1&Amount=10.00&InvoiceId=42".to_vec();
        let header = content_hmac(b"secret", &body);
        assert!(verify(b"secret", &body, &header));
        let mut changed = body.clone();
        changed[25] = b'9';
        assert!(!verify(b"secret", &changed, &header));
        assert!(!verify(b"other", &body, &header));
        assert!(!verify(b"secret", &body, "not base64!"));
        assert!(!verify(b"secret", &body, ""));
    }

    #[test]
    fn x_content_hmac_is_over_the_decoded_text() {
        let encoded = b"Description=%D0%9E%D0%BF%D0%BB%D0%B0%D1%82%D0%B0+1&Email=a%40b.kz";
        let decoded = "Description=Оплата 1&Email=a@b.kz".as_bytes();
        assert_eq!(url_decode(encoded), decoded);
        assert_eq!(x_content_hmac(b"k", encoded), content_hmac(b"k", decoded));
        assert_eq!(url_decode(b"100%"), b"100%");
        assert_eq!(url_decode(b"%zz%4"), b"%zz%4");
    }
}
