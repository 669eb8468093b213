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
    http::{header, request::Parts},
    response::{IntoResponse, Redirect, Response},
};
use cookie::{Cookie, SameSite};

use super::ConsoleError;
pub use crate::web::cookie_value;
use crate::{
    audit::Actor,
    db::{
        now_ms,
        sessions::{self, AccessLevel, Party, Session},
    },
    secrets::{constant_time_eq, sha256_hex},
    state::AppState,
};

/// Name of the session cookie.
pub const COOKIE: &str = "tolem_console";
/// A session ends after this long without a request (sliding).
pub const IDLE_MS: i64 = 30 * 60 * 1000;
/// A session ends this long after login, however active (absolute).
pub const ABSOLUTE_MS: i64 = 12 * 60 * 60 * 1000;
/// Where a request without a live session is sent.
pub const LOGIN_PATH: &str = "/console/login";

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

/// Where a user who must choose a new password is sent.
pub const PASSWORD_PATH: &str = "/console/password";
/// Where a user who must set up one-time codes is sent.
pub const TOTP_PATH: &str = "/console/totp";
/// The operator's home page.
pub const OPERATOR_HOME: &str = "/console/operator/dealers";
/// A dealer user's home page.
pub const DEALER_HOME: &str = "/console/keys";

/// Whoever is logged in, of either party, before the first-login gates: the pages that open
/// those gates (a new password, one-time codes, logging out) take this. Every other page takes
/// [`ConsoleUser`] (a dealer's user) or [`OperatorUser`], which apply the gates.
#[derive(Debug, Clone)]
pub struct SignedIn(pub Session);

impl SignedIn {
    /// The user's e-mail.
    pub fn email(&self) -> &str {
        &self.0.email
    }

    /// The dealer of a dealer's user; `None` for the operator's.
    pub fn dealer(&self) -> Option<&str> {
        self.0.party.dealer_code()
    }

    /// Whether this is a user of the operator.
    pub fn is_operator(&self) -> bool {
        self.0.party == Party::Operator
    }

    /// The page this user starts from.
    pub fn home(&self) -> &'static str {
        if self.is_operator() {
            OPERATOR_HOME
        } else {
            DEALER_HOME
        }
    }

    /// The token every form of this session carries.
    pub fn csrf_token(&self) -> &str {
        &self.0.csrf_token
    }

    /// Whether the user may confirm (certify, activate, block, limits, top up...).
    pub fn has_full_access(&self) -> bool {
        self.0.access_level == AccessLevel::Full
    }

    /// When the session ends at the latest (shown on every page, Kaspi §1.11).
    pub fn expires_at_ms(&self) -> i64 {
        self.0.expires_at_ms
    }

    /// The user as the audit trail names them, acting from `ip`.
    pub fn actor(&self, ip: std::net::IpAddr) -> Actor {
        Actor::new(self.email(), self.dealer(), ip)
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

    /// The first-login gates, in order: a password of one's own, then — for the operator's
    /// users and full-access users, who confirm money and rights — one-time codes.
    /// `Err` is the page to send the user to.
    fn gate(&self) -> Result<(), &'static str> {
        if self.0.must_change_password {
            return Err(PASSWORD_PATH);
        }
        if !self.0.totp_enrolled && (self.is_operator() || self.has_full_access()) {
            return Err(TOTP_PATH);
        }
        Ok(())
    }
}

impl FromRequestParts<AppState> for SignedIn {
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
            Ok(Some(session)) => Ok(SignedIn(session)),
            Ok(None) => Err(to_login()),
            Err(error) => Err(ConsoleError::from(error).into_response()),
        }
    }
}

/// A dealer's user, past the first-login gates. Everything shown and changed is limited to
/// [`ConsoleUser::dealer_code`]. An operator's user is sent to the operator's pages.
#[derive(Debug, Clone)]
pub struct ConsoleUser {
    signed_in: SignedIn,
    dealer_code: String,
}

impl ConsoleUser {
    /// The user's dealer: everything shown and changed is limited to it.
    pub fn dealer_code(&self) -> &str {
        &self.dealer_code
    }
}

impl std::ops::Deref for ConsoleUser {
    type Target = SignedIn;

    fn deref(&self) -> &SignedIn {
        &self.signed_in
    }
}

impl AsRef<SignedIn> for ConsoleUser {
    fn as_ref(&self) -> &SignedIn {
        &self.signed_in
    }
}

impl AsRef<SignedIn> for SignedIn {
    fn as_ref(&self) -> &SignedIn {
        self
    }
}

impl FromRequestParts<AppState> for ConsoleUser {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Response> {
        let signed_in = SignedIn::from_request_parts(parts, state).await?;
        if let Err(to) = signed_in.gate() {
            return Err(Redirect::to(to).into_response());
        }
        match signed_in.dealer().map(str::to_owned) {
            Some(dealer_code) => Ok(ConsoleUser {
                signed_in,
                dealer_code,
            }),
            None => Err(Redirect::to(OPERATOR_HOME).into_response()),
        }
    }
}

/// A user of the operator, past the first-login gates (one-time codes enrolled). A dealer's
/// user asking for an operator page gets 403: the operator's pages are not theirs to see.
#[derive(Debug, Clone)]
pub struct OperatorUser(SignedIn);

impl std::ops::Deref for OperatorUser {
    type Target = SignedIn;

    fn deref(&self) -> &SignedIn {
        &self.0
    }
}

impl AsRef<SignedIn> for OperatorUser {
    fn as_ref(&self) -> &SignedIn {
        &self.0
    }
}

impl FromRequestParts<AppState> for OperatorUser {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Response> {
        let signed_in = SignedIn::from_request_parts(parts, state).await?;
        if !signed_in.is_operator() {
            tracing::warn!(email = %signed_in.email(), path = %parts.uri.path(),
                "operator page refused to a dealer's user");
            return Err(ConsoleError::Forbidden.into_response());
        }
        if let Err(to) = signed_in.gate() {
            return Err(Redirect::to(to).into_response());
        }
        Ok(OperatorUser(signed_in))
    }
}
