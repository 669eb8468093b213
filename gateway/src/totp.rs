//! One-time codes for the dealer console (RFC 6238 TOTP: HMAC-SHA-1, 6 digits, 30-second
//! steps — what every authenticator app does by default), which a full-access user types to
//! confirm a sensitive operation (the bank's "confirmation code").
//!
//! * **Enrolment**: the console offers a fresh 160-bit secret as a QR code (and as base32 text)
//!   and stores it as *pending*; it becomes the user's secret only when a first code from the
//!   app matches it, so a misread QR code never locks anyone out. After that the secret is
//!   never shown again and never logged.
//! * **Checking**: a code is accepted for the current step or one step either side (clocks
//!   drift, people type slowly), and only for a step later than the last one accepted from
//!   this user (`console_users.totp_last_step`), so a code, once used, is dead — even one
//!   overheard or replayed within its 30 seconds. [`consume_in`] moves the step forward with a
//!   conditional update, inside the transaction of the operation it confirms.
//!
//! The secret is stored as base32 text: a person who can read the database can make codes,
//! but still needs the user's password (stored only as an Argon2 hash) to log in.

use qrcodegen::{QrCode, QrCodeEcc};
use sqlx::{AnyConnection, AnyPool, Row};
use totp_rs::{Algorithm, Secret, TOTP};

use crate::secrets::{RandomError, constant_time_eq, random_bytes};

/// Digits of a code.
pub const DIGITS: usize = 6;
/// Seconds per step.
pub const STEP_S: i64 = 30;
/// Steps accepted either side of the current one.
pub const SKEW_STEPS: i64 = 1;
/// The issuer an authenticator app shows above the code.
pub const ISSUER: &str = "Tolem";

/// A fresh secret: 160 random bits (RFC 4226's recommendation), base32 without padding.
pub fn new_secret() -> Result<String, RandomError> {
    Ok(encode(&random_bytes::<20>()?))
}

/// `bytes` as unpadded base32, as authenticator apps expect.
pub fn encode(bytes: &[u8]) -> String {
    match Secret::Raw(bytes.to_vec()).to_encoded() {
        Secret::Encoded(text) => text,
        Secret::Raw(_) => unreachable!("to_encoded gives Encoded"),
    }
}

fn generator(secret_base32: &str) -> Option<TOTP> {
    let bytes = Secret::Encoded(secret_base32.to_owned()).to_bytes().ok()?;
    // Step and skew are applied by this module (see `step_of`), so the library's skew is 0.
    TOTP::new(Algorithm::SHA1, DIGITS, 0, STEP_S as u64, bytes).ok()
}

/// The step (unix seconds / 30) of the moment `ms`.
pub fn step_of(ms: i64) -> i64 {
    ms.div_euclid(1000).div_euclid(STEP_S)
}

/// The code of `step` for `secret_base32` (`None` for a secret that is not valid base32 of at
/// least 128 bits).
pub fn code_at_step(secret_base32: &str, step: i64) -> Option<String> {
    let time = u64::try_from(step.checked_mul(STEP_S)?).ok()?;
    Some(generator(secret_base32)?.generate(time))
}

/// What a typed code is worth.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Right, for this step (not used before).
    Fresh(i64),
    /// Right, but for a step already used: a replay.
    Reused,
    /// Not the code of any step around now.
    Wrong,
}

/// Judges `typed` (spaces ignored) against `secret_base32` at `now_ms`, the last step used
/// being `last_step`.
pub fn judge(secret_base32: &str, last_step: i64, typed: &str, now_ms: i64) -> Verdict {
    let typed: String = typed.chars().filter(|c| !c.is_whitespace()).collect();
    if typed.len() != DIGITS || !typed.bytes().all(|b| b.is_ascii_digit()) {
        return Verdict::Wrong;
    }
    let now = step_of(now_ms);
    let mut verdict = Verdict::Wrong;
    // Every step is computed and compared, so the time taken says nothing about which matched.
    for step in (now - SKEW_STEPS..=now + SKEW_STEPS).rev() {
        let Some(code) = code_at_step(secret_base32, step) else {
            return Verdict::Wrong;
        };
        if constant_time_eq(code.as_bytes(), typed.as_bytes()) {
            verdict = match verdict {
                Verdict::Fresh(_) => verdict,
                _ if step > last_step => Verdict::Fresh(step),
                _ => Verdict::Reused,
            };
        }
    }
    verdict
}

/// `otpauth://` URL of a secret: what the QR code holds (Google Authenticator's key URI
/// format, understood by every authenticator app).
pub fn otpauth_url(secret_base32: &str, email: &str) -> String {
    format!(
        "otpauth://totp/{ISSUER}:{}?secret={secret_base32}&issuer={ISSUER}&algorithm=SHA1&digits={DIGITS}&period={STEP_S}",
        percent_encode(email)
    )
}

/// Percent-encodes everything but unreserved characters (RFC 3986).
fn percent_encode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                char::from(b).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// `text` as a QR code in an SVG document: black modules on white, a 4-module quiet zone,
/// crisp at any size. Plain markup, so it passes the console's Content-Security-Policy.
pub fn qr_svg(text: &str) -> Option<String> {
    let qr = QrCode::encode_text(text, QrCodeEcc::Medium).ok()?;
    let border = 4;
    let size = qr.size() + 2 * border;
    let mut path = String::new();
    for y in 0..qr.size() {
        for x in 0..qr.size() {
            if qr.get_module(x, y) {
                path.push_str(&format!("M{},{}h1v1h-1z", x + border, y + border));
            }
        }
    }
    Some(format!(
        r##"<svg xmlns="http://www.w3.org/2000/svg" class="qr" viewBox="0 0 {size} {size}" width="240" height="240" shape-rendering="crispEdges" role="img"><rect width="100%" height="100%" fill="#fff"/><path d="{path}" fill="#000"/></svg>"##
    ))
}

/// A user's TOTP state as stored.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Enrolment {
    /// The confirmed secret; `None` until enrolled.
    pub secret: Option<String>,
    /// The secret offered on the enrolment page.
    pub pending: Option<String>,
    pub last_step: i64,
}

/// The TOTP state of the user `email`.
pub async fn enrolment(pool: &AnyPool, email: &str) -> Result<Enrolment, sqlx::Error> {
    let row = sqlx::query(
        "SELECT totp_secret, totp_pending_secret, totp_last_step FROM console_users \
         WHERE email = $1",
    )
    .bind(email)
    .fetch_optional(pool)
    .await?;
    let Some(row) = row else {
        return Ok(Enrolment::default());
    };
    Ok(Enrolment {
        secret: row.try_get("totp_secret")?,
        pending: row.try_get("totp_pending_secret")?,
        last_step: row.try_get("totp_last_step")?,
    })
}

/// The secret to offer `email` on the enrolment page: the pending one, or `fresh` stored as
/// pending when there is none (so reloading the page shows the same QR code).
pub async fn offer(pool: &AnyPool, email: &str, fresh: &str) -> Result<String, sqlx::Error> {
    sqlx::query(
        "UPDATE console_users SET totp_pending_secret = $2 \
         WHERE email = $1 AND totp_pending_secret IS NULL AND totp_secret IS NULL",
    )
    .bind(email)
    .bind(fresh)
    .execute(pool)
    .await?;
    let pending: Option<String> =
        sqlx::query_scalar("SELECT totp_pending_secret FROM console_users WHERE email = $1")
            .bind(email)
            .fetch_one(pool)
            .await?;
    Ok(pending.unwrap_or_else(|| fresh.to_owned()))
}

/// Makes the pending secret `pending` the user's, `step` being the step of the first code
/// (used up by it); returns false when it is no longer pending (enrolled meanwhile).
pub async fn enrol_in(
    conn: &mut AnyConnection,
    email: &str,
    pending: &str,
    step: i64,
    now_ms: i64,
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(
        "UPDATE console_users SET totp_secret = totp_pending_secret, totp_pending_secret = NULL, \
         totp_enrolled_at_ms = $3, totp_last_step = $4 \
         WHERE email = $1 AND totp_secret IS NULL AND totp_pending_secret = $2",
    )
    .bind(email)
    .bind(pending)
    .bind(now_ms)
    .bind(step)
    .execute(conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Uses up `step` for `email`; false when it (or a later one) was used already — another
/// request with the same code won the race.
pub async fn consume_in(
    conn: &mut AnyConnection,
    email: &str,
    step: i64,
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(
        "UPDATE console_users SET totp_last_step = $2 WHERE email = $1 AND totp_last_step < $2",
    )
    .bind(email)
    .bind(step)
    .execute(conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 6238 Appendix B's SHA-1 seed, "12345678901234567890".
    fn rfc_secret() -> String {
        encode(b"12345678901234567890")
    }

    #[test]
    fn codes_are_those_of_rfc_6238() {
        // Appendix B gives 8 digits; the 6-digit code is their last six.
        for (time_s, eight) in [
            (59, "94287082"),
            (1_111_111_109, "07081804"),
            (1_234_567_890, "89005924"),
            (2_000_000_000, "69279037"),
        ] {
            let code = code_at_step(&rfc_secret(), time_s / STEP_S).unwrap();
            assert_eq!(code, &eight[2..], "T = {time_s}");
        }
    }

    #[test]
    fn one_step_either_side_once_each() {
        let secret = rfc_secret();
        let now_ms = 1_234_567_890_000;
        let now = step_of(now_ms);
        let code = |step| code_at_step(&secret, step).unwrap();
        assert_eq!(judge(&secret, 0, &code(now), now_ms), Verdict::Fresh(now));
        assert_eq!(
            judge(&secret, 0, &code(now - 1), now_ms),
            Verdict::Fresh(now - 1)
        );
        assert_eq!(
            judge(&secret, 0, &code(now + 1), now_ms),
            Verdict::Fresh(now + 1)
        );
        assert_eq!(judge(&secret, 0, &code(now - 2), now_ms), Verdict::Wrong);
        assert_eq!(judge(&secret, 0, &code(now + 2), now_ms), Verdict::Wrong);
        // Used: the same code, or an older one, again.
        assert_eq!(judge(&secret, now, &code(now), now_ms), Verdict::Reused);
        assert_eq!(judge(&secret, now, &code(now - 1), now_ms), Verdict::Reused);
        assert_eq!(
            judge(&secret, now, &code(now + 1), now_ms),
            Verdict::Fresh(now + 1)
        );
        let spaced = format!("{} {}", &code(now)[..3], &code(now)[3..]);
        assert_eq!(judge(&secret, 0, &spaced, now_ms), Verdict::Fresh(now));
        for junk in ["", "12345", "1234567", "abcdef"] {
            assert_eq!(judge(&secret, 0, junk, now_ms), Verdict::Wrong, "{junk}");
        }
    }

    #[test]
    fn the_url_and_the_qr_code() {
        let url = otpauth_url("JBSWY3DPEHPK3PXP", "admin@tolem.demo");
        assert_eq!(
            url,
            "otpauth://totp/Tolem:admin%40tolem.demo?secret=JBSWY3DPEHPK3PXP&issuer=Tolem\
             &algorithm=SHA1&digits=6&period=30"
        );
        let svg = qr_svg(&url).unwrap();
        assert!(
            svg.starts_with("<svg") && svg.contains("<path d=\"M"),
            "{svg}"
        );
        assert_eq!(new_secret().unwrap().len(), 32);
    }
}
