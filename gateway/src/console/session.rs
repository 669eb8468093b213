//! Who is logged in to the console: the `tolem_console` cookie, the session behind it, and
//! the two checks every state-changing form passes (CSRF token, access level).
//!
//! The cookie holds a random 256-bit token; the database only its SHA-256. It is `HttpOnly`
//! (no script can read it), `SameSite=Strict` (no other site's page can make the browser send
//! it), `Path=/console` (the cashier app never sees it), `Secure` behind HTTPS, and lives at
//! most [`ABSOLUTE_MS`]. The server also ends a session after [`IDLE_MS`] without a request:
//! a console left open on an office computer closes itself.

use axum::{
    extract::FromRequestParts,
    http::{HeaderMap, header, request::Parts},
    response::{IntoResponse, Redirect, Response},
};
use cookie::{Cookie, SameSite};

use super::ConsoleError;
use crate::{
    audit::Actor,
    db::{
        now_ms,
        sessions::{self, AccessLevel, Session},
    },
    http::AppState,
    secrets::{constant_time_eq, sha256_hex},
};

/// Name of the session cookie.
pub const COOKIE: &str = "tolem_console";
/// A session ends after this long without a request (sliding).
pub const IDLE_MS: i64 = 30 * 60 * 1000;
/// A session ends this long after login, however active (absolute).
pub const ABSOLUTE_MS: i64 = 12 * 60 * 60 * 1000;
/// Where a request without a live session is sent.
pub const LOGIN_PATH: &str = "/console/login";

/// The value of cookie `name` in a request's `Cookie` headers.
pub fn cookie_value(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(Cookie::split_parse)
        .filter_map(Result::ok)
        .find(|cookie| cookie.name() == name)
        .map(|cookie| cookie.value().to_owned())
}

/// The `Set-Cookie` value that starts a session with `token`.
pub fn session_cookie(token: String, secure: bool) -> String {
    Cookie::build((COOKIE, token))
        .http_only(true)
        .same_site(SameSite::Strict)
        .path("/console")
        .max_age(time::Duration::milliseconds(ABSOLUTE_MS))
        .secure(secure)
        .build()
        .to_string()
}

/// The `Set-Cookie` value that makes the browser forget the session cookie.
pub fn removal_cookie(secure: bool) -> String {
    Cookie::build((COOKIE, ""))
        .http_only(true)
        .same_site(SameSite::Strict)
        .path("/console")
        .max_age(time::Duration::ZERO)
        .secure(secure)
        .build()
        .to_string()
}

/// The logged-in console user of a request. Extracting it slides the session's idle timer;
/// without a live session the request is answered with a redirect to the login page.
#[derive(Debug, Clone)]
pub struct ConsoleUser(pub Session);

impl ConsoleUser {
    /// The user's e-mail.
    pub fn email(&self) -> &str {
        &self.0.email
    }

    /// The user's dealer: everything shown and changed is limited to it.
    pub fn dealer_code(&self) -> &str {
        &self.0.dealer_code
    }

    /// The token every form of this session carries.
    pub fn csrf_token(&self) -> &str {
        &self.0.csrf_token
    }

    /// Whether the user may confirm (certify, activate, block, limits, top up...).
    pub fn has_full_access(&self) -> bool {
        self.0.access_level == AccessLevel::Full
    }

    /// The user as the audit trail names them, acting from `ip`.
    pub fn actor(&self, ip: std::net::IpAddr) -> Actor {
        Actor::new(self.email(), Some(self.dealer_code()), ip)
    }

    /// A POST must carry the session's CSRF token: a page of another site cannot know it.
    pub fn check_csrf(&self, sent: &str) -> Result<(), ConsoleError> {
        if constant_time_eq(sent.as_bytes(), self.0.csrf_token.as_bytes()) {
            Ok(())
        } else {
            tracing::warn!(email = %self.0.email, "console form refused: bad CSRF token");
            Err(ConsoleError::BadCsrf)
        }
    }

    /// Confirming needs full access (checked on the server; the buttons are only a hint).
    pub fn require_full_access(&self) -> Result<(), ConsoleError> {
        if self.has_full_access() {
            Ok(())
        } else {
            tracing::warn!(email = %self.0.email, "console action refused: create-and-view access");
            Err(ConsoleError::Forbidden)
        }
    }
}

impl FromRequestParts<AppState> for ConsoleUser {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Response> {
        let to_login = || {
            (
                [(header::SET_COOKIE, removal_cookie(state.secure_cookies))],
                Redirect::to(LOGIN_PATH),
            )
                .into_response()
        };
        let Some(token) = cookie_value(&parts.headers, COOKIE) else {
            return Err(Redirect::to(LOGIN_PATH).into_response());
        };
        let id_hash = sha256_hex(token.as_bytes());
        match sessions::touch(&state.pool, &id_hash, now_ms(), IDLE_MS).await {
            Ok(Some(session)) => Ok(ConsoleUser(session)),
            Ok(None) => Err(to_login()),
            Err(error) => Err(ConsoleError::from(error).into_response()),
        }
    }
}
