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
    db::{now_ms, sessions},
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
    let known = user.is_some();
    let hash = user.as_ref().map(|u| u.password_hash.clone());
    let right = verify_password_or_dummy(password, hash).await?;
    let Some(user) = user.filter(|_| right) else {
        return Ok(refused(&email, known, ip));
    };
    throttle::clear(&state.pool, &account, now).await?;
    throttle::refund(&state.pool, &address).await?;

    sessions::delete_dead(&state.pool, now, session::IDLE_MS).await?;
    let token = random_token()?;
    let csrf = random_token()?;
    let expires = now + session::ABSOLUTE_MS;
    sessions::create(
        &state.pool,
        &sha256_hex(token.as_bytes()),
        &user.email,
        &csrf,
        now,
        expires,
    )
    .await?;
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
fn refused(email: &str, known: bool, ip: std::net::IpAddr) -> Response {
    tracing::warn!(%email, known, %ip, "console login failed");
    let mut response = login_page(email, Some(tr("login.failed"))).into_response();
    *response.status_mut() = StatusCode::UNAUTHORIZED;
    response
}

/// `POST /console/logout`: ends the session and forgets the cookie.
pub async fn logout(
    State(state): State<AppState>,
    user: ConsoleUser,
    form: Result<Form<CsrfForm>, FormRejection>,
) -> Result<Response, ConsoleError> {
    let sent = form.map(|Form(f)| f.csrf).unwrap_or_default();
    user.check_csrf(&sent)?;
    sessions::delete(&state.pool, &user.0.id_hash).await?;
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
