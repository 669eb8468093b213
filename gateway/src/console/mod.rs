//! The dealer console (manual §2, §4, §18; the bank's access levels): server-rendered HTML for
//! the dealer administrator's desktop browser, usable on a narrow screen too. Log in with
//! e-mail and password; register points and cashiers; certify keys, activate and block; set
//! limits; ask the operator to credit money paid in and follow the balance in the ledger;
//! search and export payments; follow the points' signed messages by e-mail; read the audit
//! trail. The operator's pages are under `/console/operator` ([`operator`]).
//!
//! ## Access levels (checked on the server, on every request)
//! * Every page needs a live session ([`session::ConsoleUser`]).
//! * *Create and view* (`create_view`) may look at everything but the audit trail, register
//!   points and cashiers, reset a point's password, ask the operator for a top-up and
//!   *prepare* operations (new limits) for a full-access user to confirm.
//! * *Full access* (`full`) may also do what changes money or rights: certify and revoke keys,
//!   activate, block and unblock points and cashiers, change limits and a point's letter quota,
//!   confirm or cancel prepared operations — each with a fresh one-time code from the user's
//!   authenticator app in the same form ([`confirm`]; enrolment in [`totp`]) — run the
//!   commission credit and read the audit trail.
//!
//! Every change is written to the audit trail ([`crate::audit`]) in its own transaction. The
//! dealer's operations themselves (certify, switch a point, limits, cashiers...) are domain
//! functions in [`crate::dealer`]; a page here reads the form, checks the CSRF token and the
//! one-time code, calls one of them and commits.
//!
//! No JavaScript: every action is a plain form POST answered with a redirect back to a page
//! (or, when it shows a password once, with the page itself), so the console works in any
//! browser and a strict Content-Security-Policy costs nothing. Every POST passes [`guard`] (a
//! cross-site `Origin` is refused) and carries the session's CSRF token.

mod audit;
mod card;
mod cashiers;
mod confirm;
mod csv;
mod deliveries;
mod forms;
mod keys;
pub(crate) mod layout;
mod limits;
mod login;
mod messages;
mod money;
mod operations;
mod operator;
mod password;
mod payments;
mod point;
mod points;
mod sequence;
pub mod session;
mod shift;
mod totp;
mod users;

use axum::{
    Router,
    extract::Request,
    http::{HeaderValue, Method, StatusCode, header},
    middleware::{self, Next},
    response::{IntoResponse, Redirect, Response},
    routing::{get, post},
};

use crate::{
    dealer::DealerError, password::PasswordError, secrets::RandomError, state::AppState,
    web::host::request_host,
};

/// Routes of the console, relative to `/console`. Which access level each POST needs is
/// checked in its handler (see the module docs of each page).
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/", get(to_home))
        .route("/login", get(login::form).post(login::submit))
        .route("/logout", post(login::logout))
        .route("/totp", get(totp::page).post(totp::enrol))
        .route("/password", get(password::page).post(password::submit))
        .route("/keys", get(keys::keys_page))
        .route("/keys/{serial}/certify", post(keys::certify))
        .route("/keys/{serial}/revoke", post(keys::revoke))
        .route("/points", get(points::list).post(points::register))
        .route("/points/{code}", get(point::page))
        .route("/points/{code}/activate", post(point::activate))
        .route("/points/{code}/block", post(point::block))
        .route("/points/{code}/unblock", post(point::unblock))
        .route("/points/{code}/limits", post(limits::set_limits))
        .route(
            "/points/{code}/limits/prepare",
            post(limits::prepare_limits),
        )
        .route("/points/{code}/password", post(points::reset_password))
        .route(
            "/points/{code}/message-quota",
            post(point::set_message_quota),
        )
        .route("/points/{code}/cashiers", post(cashiers::register_cashier))
        .route(
            "/points/{code}/cashiers/{cashier}/block",
            post(cashiers::block_cashier),
        )
        .route(
            "/points/{code}/cashiers/{cashier}/unblock",
            post(cashiers::unblock_cashier),
        )
        .route("/money", get(money::page))
        .route("/money/top-up-requests", post(money::request_top_up))
        .route("/money/commission", post(money::credit_commission))
        .route("/money/statement", get(money::statement))
        .route("/operations", get(operations::page))
        .route("/operations/{id}/confirm", post(operations::confirm))
        .route("/operations/{id}/cancel", post(operations::cancel))
        .merge(deliveries::router())
        .merge(card::router())
        .route("/payments", get(payments::list))
        .route("/payments.csv", get(payments::export))
        .route("/payments/{point}/{session}", get(payments::detail))
        .route("/messages", get(messages::list))
        .route("/audit", get(audit::page))
        .route("/audit.csv", get(audit::export))
        .route("/console.css", get(layout::stylesheet))
        .nest("/operator", operator::router())
        .merge(users::router())
        .layer(middleware::from_fn(guard))
        // Outermost, so even the guard's refusals are in the user's language.
        .layer(middleware::from_fn(crate::web::language::remember))
}

/// `GET /console` and `/console/`: the user's home — the operator's dealers, a dealer's keys.
pub async fn to_home(user: session::SignedIn) -> Redirect {
    Redirect::to(user.home())
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
    /// 404: no such key, point, cashier, payment or operation of this dealer (in the state the
    /// action needs).
    #[error("not found")]
    NotFound,
    /// 303 to the enrolment page: a full-access user without a one-time-code app yet.
    #[error("one-time codes not set up")]
    TotpRequired,
    /// 403: the one-time code is wrong, or (`reused`) was used already.
    #[error("bad one-time code (reused: {reused})")]
    BadCode { reused: bool },
    /// 429: too many wrong one-time codes; try again in this many seconds.
    #[error("too many wrong one-time codes")]
    TooManyCodes { retry_after_s: u32 },
    /// 422: a field is not acceptable; `message` says which and why (translated), `back`
    /// is the page to go back to.
    #[error("invalid input: {message}")]
    Invalid { message: String, back: String },
    /// 500: logged, never shown.
    #[error("internal error: {0}")]
    Internal(String),
}

impl ConsoleError {
    /// An [`ConsoleError::Invalid`] with the text `key`, going back to `back`.
    pub fn invalid(key: &str, back: impl Into<String>) -> ConsoleError {
        ConsoleError::Invalid {
            message: layout::tr(key),
            back: back.into(),
        }
    }
}

impl From<sqlx::Error> for ConsoleError {
    fn from(error: sqlx::Error) -> Self {
        ConsoleError::Internal(error.to_string())
    }
}

impl ConsoleError {
    /// A domain error of a dealer's operation on the page `back`: a person's mistake becomes
    /// [`ConsoleError::Invalid`] with its translated message and a way back there.
    pub fn from_dealer(error: DealerError, back: impl Into<String>) -> ConsoleError {
        match error {
            DealerError::BadMessageQuota => ConsoleError::invalid(error.message_key(), back),
            other => other.into(),
        }
    }
}

impl From<DealerError> for ConsoleError {
    fn from(error: DealerError) -> Self {
        match error {
            DealerError::NotFound => ConsoleError::NotFound,
            DealerError::BadMessageQuota => {
                ConsoleError::invalid(error.message_key(), "/console/points")
            }
            DealerError::Database(error) => error.into(),
        }
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
            ConsoleError::TotpRequired => return Redirect::to(totp::PATH).into_response(),
            ConsoleError::BadCsrf | ConsoleError::Forbidden | ConsoleError::BadCode { .. } => {
                StatusCode::FORBIDDEN
            }
            ConsoleError::NotFound => StatusCode::NOT_FOUND,
            ConsoleError::TooManyCodes { .. } => StatusCode::TOO_MANY_REQUESTS,
            ConsoleError::Invalid { .. } => StatusCode::UNPROCESSABLE_ENTITY,
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
/// `host[:port]` is the host it was sent to.
fn same_origin(request: &Request) -> bool {
    let Some(origin) = request.headers().get(header::ORIGIN) else {
        return true;
    };
    let host = request_host(request.headers(), request.uri());
    let origin_host = origin
        .to_str()
        .ok()
        .and_then(|o| o.split_once("://"))
        .map(|(_, rest)| rest.trim_end_matches('/'));
    matches!((origin_host, host), (Some(o), Some(h)) if o.eq_ignore_ascii_case(h))
}
