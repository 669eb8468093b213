//! Identifiers that travel in every request.

use std::fmt;

use serde::{Deserialize, Serialize};

/// The longest session id: Cyberplat's limit, kept so ids fit the dealer's reports.
pub const SESSION_MAX_LEN: usize = 20;
/// The longest dealer, point or cashier code.
pub const CODE_MAX_LEN: usize = 32;

/// Why an identifier was refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum IdError {
    #[error("a session id must be 1 to {SESSION_MAX_LEN} characters of A–Z, a–z, 0–9, '-' or '_'")]
    BadSession,
    #[error("a code must be 1 to {CODE_MAX_LEN} characters of A–Z, a–z, 0–9, '-' or '_'")]
    BadCode,
}

fn is_id_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '-' || c == '_'
}

/// A session id, made on the phone and unique per point: the idempotency key of a payment.
///
/// The same session with the same content returns the original outcome; with different content
/// it is refused. After an unclear answer the phone asks for the status of the *same* session and
/// never pays again under a new one.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct SessionId(String);

impl SessionId {
    /// A new session id from the phone's clock and 8 random bytes: 8 characters of time (so ids
    /// sort by creation) and 12 of randomness (so two phones, or one phone after a clock reset,
    /// never collide in practice).
    pub fn generate(now_ms: i64, random: [u8; 8]) -> SessionId {
        const ALPHABET: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";
        let mut id = String::with_capacity(SESSION_MAX_LEN);
        let time = now_ms.max(0) as u64;
        for shift in (0..8).rev() {
            id.push(ALPHABET[((time >> (shift * 5 + 5)) & 31) as usize] as char);
        }
        let bits = u64::from_be_bytes(random);
        for shift in (0..12).rev() {
            id.push(ALPHABET[((bits >> (shift * 5)) & 31) as usize] as char);
        }
        SessionId(id)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for SessionId {
    type Error = IdError;
    fn try_from(value: String) -> Result<Self, IdError> {
        if (1..=SESSION_MAX_LEN).contains(&value.len()) && value.chars().all(is_id_char) {
            Ok(SessionId(value))
        } else {
            Err(IdError::BadSession)
        }
    }
}

impl From<SessionId> for String {
    fn from(id: SessionId) -> String {
        id.0
    }
}

impl fmt::Display for SessionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Checks a dealer, point or cashier code (they share one alphabet and limit).
pub fn check_code(code: &str) -> Result<(), IdError> {
    if (1..=CODE_MAX_LEN).contains(&code.len()) && code.chars().all(is_id_char) {
        Ok(())
    } else {
        Err(IdError::BadCode)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_sessions_are_valid_and_sort_by_time() {
        let a = SessionId::generate(1_700_000_000_000, [1; 8]);
        let b = SessionId::generate(1_700_000_060_000, [0; 8]);
        assert_eq!(a.as_str().len(), SESSION_MAX_LEN);
        assert!(SessionId::try_from(a.to_string()).is_ok());
        assert!(a < b, "{a} should sort before {b}");
        assert_ne!(
            SessionId::generate(1, [1; 8]),
            SessionId::generate(1, [2; 8])
        );
    }

    #[test]
    fn bad_sessions_are_refused() {
        for bad in [
            "",
            "123456789012345678901",
            "with space",
            "кириллица",
            "a/b",
        ] {
            assert_eq!(
                SessionId::try_from(bad.to_string()),
                Err(IdError::BadSession),
                "{bad:?}"
            );
        }
    }
}
