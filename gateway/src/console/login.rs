//! `GET|POST /console/login` and `POST /console/logout`.
//!
//! Form fields: `email`, `password` (login); `csrf` (logout). A wrong password and an unknown
//! e-mail get the same message after the same work; attempts are throttled per e-mail and per
//! address like point passwords (see [`crate::throttle`]). A successful login always starts a
//! new session with a new token, so a token planted in the browser before login is useless.

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
    session::{self, ConsoleUser},
};
use crate::{
    audit::{self, Actor, Event},
    db::{begin_write, now_ms, sessions},
    http::{AppState, client_ip::ClientIp},
    password::verify_password_or_dummy,
    secrets::{random_token, sha256_hex},
    throttle::{self, Subject},
};

/// The login form as posted.
#[derive(Deserialize)]
pub struct LoginForm {
    #[serde(default)]
    email: String,
    #[serde(default)]
    password: String,
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
            button type="submit" { (tr("login.submit")) }
        }
    };
    page("/console/login", &tr("login.title"), None, content)
}

/// `POST /console/login`: on success a session cookie and a redirect to the keys page.
pub async fn submit(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    form: Result<Form<LoginForm>, FormRejection>,
) -> Result<Response, ConsoleError> {
    let LoginForm { email, password } = form.map(|Form(f)| f).unwrap_or(LoginForm {
        email: String::new(),
        password: String::new(),
    });
    let email = email.trim().to_owned();
    let account = Subject::console_user(&email);
    let address = Subject::address(ip);
    let now = now_ms();

    if let Some(blocked) = throttle::charge(&state.pool, &[&account, &address], now).await? {
        tracing::warn!(%email, %ip, retry_after_s = blocked.retry_after_s, "console login rate-limited");
        record_failure(&state, &email, None, ip, "throttled").await?;
        let minutes = blocked.retry_after_s.div_ceil(60).to_string();
        let message = rust_i18n::t!(
            "login.blocked",
            locale = super::language::current().tag(),
            minutes = minutes
        );
        let mut response = login_page(&email, Some(message.into_owned())).into_response();
        *response.status_mut() = StatusCode::TOO_MANY_REQUESTS;
        return Ok(response);
    }
    let user = sessions::user(&state.pool, &email).await?;
    // The dealer of the account, if there is one: its trail gets the failed attempt too.
    let known = user.as_ref().map(|u| u.dealer_code.clone());
    let hash = user.as_ref().map(|u| u.password_hash.clone());
    let right = verify_password_or_dummy(password, hash).await?;
    let Some(user) = user.filter(|_| right) else {
        return refused(&state, &email, known.as_deref(), ip).await;
    };
    throttle::clear(&state.pool, &account, now).await?;
    throttle::refund(&state.pool, &address).await?;

    sessions::delete_dead(&state.pool, now, session::IDLE_MS).await?;
    let token = random_token()?;
    let csrf = random_token()?;
    let expires = now + session::ABSOLUTE_MS;
    let mut tx = begin_write(&state.pool).await?;
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
        action: "login.ok",
        subject: format!("user:{}", user.email),
        details: serde_json::json!({ "access_level": user.access_level.as_str() }),
    };
    let actor = Actor::new(&user.email, Some(&user.dealer_code), ip);
    audit::record_in(&mut tx, &actor, &event, now).await?;
    tx.commit().await?;
    tracing::info!(email = %user.email, dealer = %user.dealer_code, %ip, "console login");
    Ok((
        [(
            header::SET_COOKIE,
            session::session_cookie(token, state.secure_cookies),
        )],
        Redirect::to("/console/keys"),
    )
        .into_response())
}

/// The answer to a wrong e-mail or password: the same page either way.
async fn refused(
    state: &AppState,
    email: &str,
    known: Option<&str>,
    ip: std::net::IpAddr,
) -> Result<Response, ConsoleError> {
    tracing::warn!(%email, known = known.is_some(), %ip, "console login failed");
    let reason = if known.is_some() {
        "wrong_password"
    } else {
        "unknown_user"
    };
    record_failure(state, email, known, ip, reason).await?;
    let mut response = login_page(email, Some(tr("login.failed"))).into_response();
    *response.status_mut() = StatusCode::UNAUTHORIZED;
    Ok(response)
}

/// Writes a failed login to the audit trail: under the e-mail as typed (cut to a sane length),
/// in the dealer's trail when the user exists.
async fn record_failure(
    state: &AppState,
    email: &str,
    dealer_code: Option<&str>,
    ip: std::net::IpAddr,
    reason: &str,
) -> Result<(), ConsoleError> {
    let typed: String = email.chars().take(254).collect();
    let event = Event {
        action: "login.failed",
        subject: format!("user:{typed}"),
        details: serde_json::json!({ "reason": reason }),
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
    user: ConsoleUser,
    form: Result<Form<CsrfForm>, FormRejection>,
) -> Result<Response, ConsoleError> {
    let sent = form.map(|Form(f)| f.csrf).unwrap_or_default();
    user.check_csrf(&sent)?;
    let mut tx = begin_write(&state.pool).await?;
    sessions::delete(&mut *tx, &user.0.id_hash).await?;
    let event = Event {
        action: "logout",
        subject: format!("user:{}", user.email()),
        details: serde_json::json!({}),
    };
    audit::record_in(&mut tx, &user.actor(ip), &event, now_ms()).await?;
    tx.commit().await?;
    tracing::info!(email = %user.email(), "console logout");
    Ok((
        [(
            header::SET_COOKIE,
            session::removal_cookie(state.secure_cookies),
        )],
        Redirect::to(session::LOGIN_PATH),
    )
        .into_response())
}
