//! The dealer console (manual §2, §4): server-rendered HTML for the dealer administrator's
//! desktop browser. Log in with e-mail and password, see the keys the points registered with
//! their fingerprints, certify a key after comparing it with the phone, activate a point,
//! revoke a key.
//!
//! No JavaScript: every action is a plain form POST answered with a redirect back to the page,
//! so the console works in any browser and a strict Content-Security-Policy costs nothing.
//! Every POST passes [`guard`] (a cross-site `Origin` is refused) and carries the session's
//! CSRF token; confirming actions need full access, checked on the server.

mod keys;
mod language;
mod layout;
mod login;
pub mod session;

use axum::{
    Router,
    extract::Request,
    http::{HeaderValue, Method, StatusCode, header},
    middleware::{self, Next},
    response::{IntoResponse, Redirect, Response},
    routing::{get, post},
};

use crate::{http::AppState, password::PasswordError, secrets::RandomError};

/// Routes of the console, relative to `/console`.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/", get(to_keys))
        .route("/login", get(login::form).post(login::submit))
        .route("/logout", post(login::logout))
        .route("/keys", get(keys::keys_page))
        .route("/keys/{serial}/certify", post(keys::certify))
        .route("/keys/{serial}/revoke", post(keys::revoke))
        .route("/points/{code}/activate", post(keys::activate))
        .route("/console.css", get(layout::stylesheet))
        .layer(middleware::from_fn(guard))
        // Outermost, so even the guard's refusals are in the user's language.
        .layer(middleware::from_fn(language::remember))
}

/// `GET /console` and `/console/`: the keys page is the console's home.
pub async fn to_keys() -> Redirect {
    Redirect::to("/console/keys")
}

/// What a console request can fail with; rendered as a short page in the user's language.
#[derive(Debug, thiserror::Error)]
pub enum ConsoleError {
    /// 403: the form's CSRF token is missing or wrong, or it came from another site.
    #[error("bad CSRF token or foreign origin")]
    BadCsrf,
    /// 403: the user's access level does not allow this.
    #[error("forbidden")]
    Forbidden,
    /// 404: no such key or point of this dealer (in the state the action needs).
    #[error("not found")]
    NotFound,
    /// 500: logged, never shown.
    #[error("internal error: {0}")]
    Internal(String),
}

impl From<sqlx::Error> for ConsoleError {
    fn from(error: sqlx::Error) -> Self {
        ConsoleError::Internal(error.to_string())
    }
}

impl From<PasswordError> for ConsoleError {
    fn from(error: PasswordError) -> Self {
        ConsoleError::Internal(error.to_string())
    }
}

impl From<RandomError> for ConsoleError {
    fn from(error: RandomError) -> Self {
        ConsoleError::Internal(error.to_string())
    }
}

impl IntoResponse for ConsoleError {
    fn into_response(self) -> Response {
        let status = match self {
            ConsoleError::BadCsrf | ConsoleError::Forbidden => StatusCode::FORBIDDEN,
            ConsoleError::NotFound => StatusCode::NOT_FOUND,
            ConsoleError::Internal(ref error) => {
                tracing::error!(%error, "console request failed");
                StatusCode::INTERNAL_SERVER_ERROR
            }
        };
        (status, layout::error_page(&self)).into_response()
    }
}

/// Refuses a POST whose `Origin` names another site (a second line behind the CSRF token and
/// `SameSite`), and adds the headers every console page needs: never cached (pages show keys
/// and tokens), never framed (a framed "Certify" button could be clicked by trickery), no
/// scripts or foreign resources at all.
async fn guard(request: Request, next: Next) -> Response {
    if request.method() == Method::POST && !same_origin(&request) {
        tracing::warn!(path = %request.uri().path(), "console POST refused: foreign Origin");
        return ConsoleError::BadCsrf.into_response();
    }
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    let fixed = [
        (header::CACHE_CONTROL, "no-store"),
        (
            header::CONTENT_SECURITY_POLICY,
            "default-src 'none'; style-src 'self'; form-action 'self'; \
             frame-ancestors 'none'; base-uri 'none'",
        ),
        (header::X_FRAME_OPTIONS, "DENY"),
        (header::REFERRER_POLICY, "same-origin"),
    ];
    for (name, value) in fixed {
        headers.insert(name, HeaderValue::from_static(value));
    }
    response
}

/// Whether the request has no `Origin` (old browsers, same-origin GETs) or one whose
/// `host[:port]` is the `Host` it was sent to.
fn same_origin(request: &Request) -> bool {
    let Some(origin) = request.headers().get(header::ORIGIN) else {
        return true;
    };
    let host = request
        .headers()
        .get(header::HOST)
        .and_then(|h| h.to_str().ok());
    let origin_host = origin
        .to_str()
        .ok()
        .and_then(|o| o.split_once("://"))
        .map(|(_, rest)| rest.trim_end_matches('/'));
    matches!((origin_host, host), (Some(o), Some(h)) if o.eq_ignore_ascii_case(h))
}
