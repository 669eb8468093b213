//! `GET|POST /console/login` and `POST /console/logout`.
//!
//! Form fields: `email`, `password`, `otp` (login); `csrf` (logout). Once a user has one-time
//! codes set up, logging in takes the password **and** a fresh code (Kaspi §1.4, §1.16). A
//! wrong password, an unknown e-mail, a wrong code and a blocked user get the same message
//! after the same work; attempts are throttled per (e-mail, address) and per address (see
//! [`crate::throttle`]); the address is the client's, behind a trusted proxy too
//! ([`crate::web::client_ip`]). A successful login always starts a new session with a new token,
//! so a token planted in the browser before login is useless; it lands on the user's home page,
//! where the first-login gates (a new password, one-time codes) take over.

use axum::{
    Form,
    extract::{State, rejection::FormRejection},
    http::{StatusCode, header},
    response::{IntoResponse, Redirect, Response},
};
use maud::{Markup, html};
use serde::Deserialize;

use super::{
    ConsoleError,
    layout::{page, tr},
    session::{self, SignedIn},
};
use crate::{
    audit::{self, Action, Actor, Event},
    db::{begin_write, now_ms, sessions},
    password::verify_password_or_dummy,
    secrets::{random_token, sha256_hex},
    throttle::{self, Subject},
    totp::{self, Verdict},
    {state::AppState, web::client_ip::ClientIp},
};

/// The login form as posted.
#[derive(Deserialize)]
pub struct LoginForm {
    #[serde(default)]
    email: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    otp: String,
}

/// A form whose only field is the CSRF token.
#[derive(Deserialize)]
pub struct CsrfForm {
    #[serde(default)]
    pub csrf: String,
}

/// `GET /console/login`.
pub async fn form() -> Markup {
    login_page("", None)
}

/// "Too many failed attempts, try again in N minutes", in the user's language: the login form's
/// and the password page's (whose wrong current passwords count as failed logins).
pub(super) fn blocked_text(blocked: &throttle::Blocked) -> String {
    let minutes = blocked.retry_after_s.div_ceil(60).to_string();
    rust_i18n::t!(
        "login.blocked",
        locale = crate::web::language::current().tag(),
        minutes = minutes
    )
    .into_owned()
}

/// The login form again, 429, saying how many minutes the block lasts.
fn blocked_page(email: &str, blocked: throttle::Blocked) -> Response {
    let mut response = login_page(email, Some(blocked_text(&blocked))).into_response();
    *response.status_mut() = StatusCode::TOO_MANY_REQUESTS;
    response
}

fn login_page(email: &str, problem: Option<String>) -> Markup {
    let content = html! {
        @if let Some(problem) = problem {
            p.error role="alert" { (problem) }
        }
        form.login #login method="post" action="/console/login" {
            label for="email" { (tr("login.email")) }
            input #email type="email" name="email" value=(email) required autofocus
                autocomplete="username";
            label for="password" { (tr("login.password")) }
            input #password type="password" name="password" required
                autocomplete="current-password";
            label for="otp" { (tr("login.otp")) }
            input #otp type="text" name="otp" inputmode="numeric" autocomplete="one-time-code"
                pattern="[0-9 ]{6,7}" maxlength="7";
            p.muted { (tr("login.otp_hint")) }
            button type="submit" { (tr("login.submit")) }
        }
    };
    page(
        "/console/login",
        &tr("login.title"),
        None::<&SignedIn>,
        content,
    )
}

/// `POST /console/login`: on success a session cookie and a redirect to the keys page.
pub async fn submit(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    form: Result<Form<LoginForm>, FormRejection>,
) -> Result<Response, ConsoleError> {
    let LoginForm {
        email,
        password,
        otp,
    } = match form {
        Ok(Form(form)) => form,
        // Said as it is: an emptied form would be refused as a wrong password, which it is not.
        Err(rejection) if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE => {
            tracing::warn!(%ip, "console login form too large");
            let mut response = login_page("", Some(tr("errors.too_large"))).into_response();
            *response.status_mut() = StatusCode::PAYLOAD_TOO_LARGE;
            return Ok(response);
        }
        Err(_) => LoginForm {
            email: String::new(),
            password: String::new(),
            otp: String::new(),
        },
    };
    let email = email.trim().to_owned();
    let account = Subject::console_login(&email, ip);
    let address = Subject::address(ip);
    let now = now_ms();

    if let Some(blocked) = throttle::charge(&state.pool, &[&account, &address], now).await? {
        // Not in the audit trail: the failure that blocked is there already, and a flood of
        // attempts against a block must not write a row (and take the write lock) each.
        tracing::warn!(email = %loggable(&email), %ip, retry_after_s = blocked.retry_after_s,
            "console login rate-limited");
        return Ok(blocked_page(&email, blocked));
    }
    let user = sessions::user(&state.pool, &email).await?;
    // The dealer of the account, if there is one: its trail gets the failed attempt too.
    let known = user
        .as_ref()
        .map(|u| u.party.dealer_code().map(str::to_owned));
    let hash = user.as_ref().map(|u| u.password_hash.clone());
    let right = verify_password_or_dummy(password, hash).await?;
    let Some(user) = user.filter(|_| right) else {
        let reason = if known.is_some() {
            "wrong_password"
        } else {
            "unknown_user"
        };
        return refused(
            &state,
            &account,
            &email,
            known.flatten().as_deref(),
            ip,
            reason,
        )
        .await;
    };
    let dealer = user.party.dealer_code();
    if user.blocked {
        return refused(&state, &account, &email, dealer, ip, "blocked").await;
    }
    // With codes set up, the code is the second factor: judged now, used up in the session's
    // own transaction below.
    let enrolment = totp::enrolment(&state.pool, &user.email).await?;
    let code_step = match &enrolment.secret {
        None => None,
        Some(secret) => {
            // The user's codes are counted as a confirmation counts them, whatever the
            // address: with the password known, six digits must not be tried from address
            // after address (each a fresh `account` and `address` to the checks above). Only
            // someone who has the password can spend this count.
            let codes = Subject::one_time_code(&user.email);
            if let Some(blocked) = throttle::charge(&state.pool, &[&codes], now).await? {
                tracing::warn!(email = %user.email, %ip, retry_after_s = blocked.retry_after_s,
                    "console login: one-time codes rate-limited");
                return Ok(blocked_page(&email, blocked));
            }
            match totp::judge(secret, enrolment.last_step, &otp, now) {
                Verdict::Fresh(step) => {
                    throttle::clear(&state.pool, &codes, now).await?;
                    Some(step)
                }
                Verdict::Reused => {
                    return refused(&state, &account, &email, dealer, ip, "code_reused").await;
                }
                _ => return refused(&state, &account, &email, dealer, ip, "wrong_code").await,
            }
        }
    };
    throttle::clear(&state.pool, &account, now).await?;
    throttle::refund(&state.pool, &address).await?;

    sessions::delete_dead(&state.pool, now, session::IDLE_MS).await?;
    let token = random_token()?;
    let csrf = random_token()?;
    let expires = now + session::ABSOLUTE_MS;
    let mut tx = begin_write(&state.pool).await?;
    if let Some(step) = code_step
        && !totp::consume_in(&mut tx, &user.email, step).await?
    {
        // The same code raced in another request and won.
        tx.rollback().await?;
        return refused(&state, &account, &email, dealer, ip, "code_reused").await;
    }
    sessions::create(
        &mut *tx,
        &sha256_hex(token.as_bytes()),
        &user.email,
        &csrf,
        now,
        expires,
    )
    .await?;
    let event = Event {
        action: Action::LoginOk,
        subject: format!("user:{}", user.email),
        details: serde_json::json!({
            "access_level": user.access_level.as_str(),
            "operator": dealer.is_none(),
            "one_time_code": code_step.is_some(),
        }),
    };
    let actor = Actor::new(&user.email, dealer, ip);
    audit::record_in(&mut tx, &actor, &event, now).await?;
    tx.commit().await?;
    tracing::info!(email = %user.email, dealer = dealer.unwrap_or("-"), %ip, "console login");
    let home = if dealer.is_some() {
        session::DEALER_HOME
    } else {
        session::OPERATOR_HOME
    };
    Ok((
        [(
            header::SET_COOKIE,
            session::session_cookie(token, state.secure_cookies),
        )],
        Redirect::to(home),
    )
        .into_response())
}

/// The answer to a wrong e-mail, password or code, or a blocked user: the same page each way.
/// Only a notable failure of the account ([`Subject::is_notable_failure`]) goes to the audit
/// trail, with the count so far; every one goes to the log.
async fn refused(
    state: &AppState,
    account: &Subject,
    email: &str,
    dealer: Option<&str>,
    ip: std::net::IpAddr,
    reason: &str,
) -> Result<Response, ConsoleError> {
    let failures = throttle::failures(&state.pool, account).await?;
    tracing::warn!(email = %loggable(email), reason, %ip, failures, "console login failed");
    if account.is_notable_failure(failures) {
        record_failure(state, email, dealer, ip, reason, failures).await?;
    }
    let mut response = login_page(email, Some(tr("login.failed"))).into_response();
    *response.status_mut() = StatusCode::UNAUTHORIZED;
    Ok(response)
}

/// The e-mail as typed, fit for one log line: control characters (a `\n` that would forge a
/// line of its own), quotes and backslashes escaped, and cut to 100 characters, since anyone
/// may type anything into the login form.
pub fn loggable(email: &str) -> String {
    const SHOWN: usize = 100;
    let mut shown: String = email
        .chars()
        .take(SHOWN)
        .flat_map(char::escape_debug)
        .collect();
    if email.chars().nth(SHOWN).is_some() {
        shown.push('…');
    }
    shown
}

/// Writes a failed login to the audit trail: under the e-mail as typed (cut to a sane length),
/// in the dealer's trail when the user exists.
async fn record_failure(
    state: &AppState,
    email: &str,
    dealer_code: Option<&str>,
    ip: std::net::IpAddr,
    reason: &str,
    failures: i64,
) -> Result<(), ConsoleError> {
    let typed: String = email.chars().take(254).collect();
    let event = Event {
        action: Action::LoginFailed,
        subject: format!("user:{typed}"),
        details: serde_json::json!({ "reason": reason, "failures": failures }),
    };
    audit::record(
        &state.pool,
        &Actor::new(typed, dealer_code, ip),
        &event,
        now_ms(),
    )
    .await?;
    Ok(())
}

/// `POST /console/logout`: ends the session and forgets the cookie.
pub async fn logout(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    user: SignedIn,
    form: Result<Form<CsrfForm>, FormRejection>,
) -> Result<Response, ConsoleError> {
    let sent = form.map(|Form(f)| f.csrf).unwrap_or_default();
    user.check_csrf(&sent)?;
    let mut tx = begin_write(&state.pool).await?;
    sessions::delete(&mut *tx, &user.0.id_hash).await?;
    let event = Event {
        action: Action::Logout,
        subject: format!("user:{}", user.email()),
        details: serde_json::json!({}),
    };
    audit::record_in(&mut tx, &user.actor(ip), &event, now_ms()).await?;
    tx.commit().await?;
    tracing::info!(email = %loggable(user.email()), "console logout");
    Ok((
        [(
            header::SET_COOKIE,
            session::removal_cookie(state.secure_cookies),
        )],
        Redirect::to(session::LOGIN_PATH),
    )
        .into_response())
}

#[cfg(test)]
mod tests {
    use super::loggable;

    #[test]
    fn a_typed_email_cannot_forge_a_log_line() {
        let shown = loggable("a@b.kz\nINFO console login email=admin@tolem.demo");
        assert!(!shown.contains('\n'), "{shown}");
        assert!(shown.starts_with("a@b.kz\\nINFO"), "{shown}");
        assert_eq!(loggable("\u{1b}[31m\t\"x\""), "\\u{1b}[31m\\t\\\"x\\\"");
        let long = "x".repeat(300);
        assert_eq!(loggable(&long).chars().count(), 101);
        assert_eq!(loggable("кассир@tolem.kz"), "кассир@tolem.kz");
    }
}
