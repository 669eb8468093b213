//! The checks in front of every console action, in one place so no handler can skip one:
//!
//! * [`begin`] — any logged-in user (register, prepare, reset a password): the session's CSRF
//!   token; then a write transaction for the action and its audit row.
//! * [`begin_confirmed`] — a sensitive action (certify, revoke, activate, block, unblock,
//!   limits, top-up, confirming a prepared operation): the CSRF token, full access, a one-time
//!   code app enrolled (else the user is sent to enrol), and a fresh code from it, used up in
//!   the same transaction as the action — if the action then fails, the code is not spent.
//!
//! Wrong codes are throttled per user like passwords ([`crate::throttle`]) — six digits must
//! not be guessed by trying them all — and every refused code is written to the audit trail.

use std::net::IpAddr;

use super::{ConsoleError, session::SignedIn};
use crate::{
    audit::{self, Action, Event},
    db::{WriteTx, begin_write, now_ms},
    state::AppState,
    throttle::{self, Subject},
    totp::{self, Verdict},
    web::language::tr,
};

/// A write transaction for an action any logged-in user may take, after the CSRF check.
pub async fn begin(state: &AppState, user: &SignedIn, csrf: &str) -> Result<WriteTx, ConsoleError> {
    user.check_csrf(csrf)?;
    Ok(begin_write(&state.pool).await?)
}

/// A wrong or reused one-time code as a refusal of the form it came with: its message, for
/// the form shown again with what was typed (the person types a fresh code, not the whole form
/// again). Every other refusal of [`begin_confirmed`] stays the console's error page.
pub fn code_refusal(error: ConsoleError) -> Result<String, ConsoleError> {
    match error {
        ConsoleError::BadCode { reused: false } => Ok(tr("errors.code_wrong")),
        ConsoleError::BadCode { reused: true } => Ok(tr("errors.code_reused")),
        other => Err(other),
    }
}

/// A write transaction for a sensitive action, after every check of the module docs; the
/// one-time code `otp` is used up inside it.
pub async fn begin_confirmed(
    state: &AppState,
    user: &SignedIn,
    ip: IpAddr,
    csrf: &str,
    otp: &str,
) -> Result<WriteTx, ConsoleError> {
    user.check_csrf(csrf)?;
    user.require_full_access()?;
    let pool = &state.pool;
    let email = user.email();
    let enrolment = totp::enrolment(pool, email).await?;
    let Some(secret) = enrolment.secret else {
        tracing::info!(%email, "sensitive action without one-time codes: sent to enrol");
        return Err(ConsoleError::TotpRequired);
    };

    let subject = Subject::one_time_code(email);
    let now = now_ms();
    if let Some(blocked) = throttle::charge(pool, &[&subject], now).await? {
        tracing::warn!(%email, %ip, retry_after_s = blocked.retry_after_s, "one-time codes rate-limited");
        return Err(ConsoleError::TooManyCodes {
            retry_after_s: blocked.retry_after_s,
        });
    }
    let step = match totp::judge(&secret, enrolment.last_step, otp, now) {
        Verdict::Fresh(step) => step,
        verdict => return Err(refused(state, user, ip, verdict == Verdict::Reused).await),
    };
    // Cleared before the transaction: the throttle writes on its own connection, which on
    // SQLite would wait for this transaction's lock.
    throttle::clear(pool, &subject, now).await?;
    let mut tx = begin_write(pool).await?;
    if !totp::consume_in(&mut tx, email, step).await? {
        // The same code raced in another request and won.
        tx.rollback().await?;
        return Err(refused(state, user, ip, true).await);
    }
    Ok(tx)
}

/// Records a refused code and answers with it.
async fn refused(state: &AppState, user: &SignedIn, ip: IpAddr, reused: bool) -> ConsoleError {
    let reason = if reused { "reused" } else { "wrong" };
    tracing::warn!(email = %user.email(), %ip, reason, "one-time code refused");
    let event = Event {
        action: Action::TotpRefused,
        subject: format!("user:{}", user.email()),
        details: serde_json::json!({ "reason": reason }),
    };
    match audit::record(&state.pool, &user.actor(ip), &event, now_ms()).await {
        Ok(_) => ConsoleError::BadCode { reused },
        Err(error) => error.into(),
    }
}
