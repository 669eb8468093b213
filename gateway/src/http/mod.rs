//! The HTTP face of the gateway: the JSON API under `/api` (the signed protocol under
//! `/api/v1`), the dealer console under `/console`, the public page that verifies signed
//! messages at `/verify`, and the cashier app everywhere else.
//!
//! [`app`] builds the whole router from an [`AppState`], so tests drive exactly what production
//! serves — in-process with `tower::ServiceExt::oneshot` or bound to port 0.

pub mod answer;
pub mod client_ip;
pub mod health;
pub mod key_card;
pub mod message;
pub mod payments;
pub mod point_login;
pub mod providers;
pub mod registration;
pub mod signed;
pub mod static_files;
pub mod steps;
pub mod verify;

use std::{path::PathBuf, sync::Arc, time::Duration};

use axum::{
    Router,
    body::Body,
    http::{HeaderValue, Request, Response, header},
    middleware,
    routing::get,
};
use sqlx::AnyPool;
use tower_http::{set_header::SetResponseHeaderLayer, trace::TraceLayer};
use tracing::Span;

use crate::{console, error::Error, gateway_key::GatewayKey, mail::MailQueue};
use static_files::StaticFiles;

/// What every handler can reach. Cheap to clone: a pool handle and pointers.
#[derive(Clone)]
pub struct AppState {
    /// The database.
    pub pool: AnyPool,
    /// The built cashier app.
    pub static_files: Arc<StaticFiles>,
    /// Signs every protocol answer; its public half is on every key card.
    pub gateway_key: Arc<GatewayKey>,
    /// Whether the console cookie is marked `Secure` (served behind HTTPS).
    pub secure_cookies: bool,
    /// The signed messages waiting for the mail worker, and how to wake it.
    pub mail: Arc<MailQueue>,
}

impl AppState {
    /// State for a gateway on `pool` serving the app built into `dist` and signing with
    /// `gateway_key`. Cookies are not `Secure` unless [`Self::with_secure_cookies`] says so.
    pub fn new(pool: AnyPool, dist: impl Into<PathBuf>, gateway_key: GatewayKey) -> Self {
        Self {
            pool,
            static_files: Arc::new(StaticFiles::new(dist.into())),
            gateway_key: Arc::new(gateway_key),
            secure_cookies: false,
            mail: Arc::new(MailQueue::default()),
        }
    }

    /// Uses `queue` for signed messages: the one the delivery worker waits on.
    pub fn with_mail_queue(mut self, queue: Arc<MailQueue>) -> Self {
        self.mail = queue;
        self
    }

    /// Marks the console cookie `Secure` (or not).
    pub fn with_secure_cookies(mut self, secure: bool) -> Self {
        self.secure_cookies = secure;
        self
    }
}

/// The whole gateway: API, dealer console, the public verification page of signed messages,
/// static app, request logging and security headers.
pub fn app(state: AppState) -> Router {
    Router::new()
        .nest("/api", api_router(&state))
        .nest("/console", console::router())
        .merge(verify::router())
        // The nested router's "/" is `/console` only; people type the slash too.
        .route("/console/", get(console::to_keys))
        .fallback(static_files::serve)
        .with_state(state)
        .layer(SetResponseHeaderLayer::if_not_present(
            header::X_CONTENT_TYPE_OPTIONS,
            // Browsers must not guess a type: a cashier-uploaded text must never run as script.
            HeaderValue::from_static("nosniff"),
        ))
        .layer(
            TraceLayer::new_for_http()
                // The path only: query strings may one day carry things that don't belong in logs.
                .make_span_with(|request: &Request<Body>| {
                    tracing::info_span!(
                        "request",
                        method = %request.method(),
                        path = %request.uri().path(),
                    )
                })
                .on_request(())
                .on_response(
                    |response: &Response<Body>, latency: Duration, _span: &Span| {
                        tracing::info!(
                            status = response.status().as_u16(),
                            latency_ms = latency.as_secs_f64() * 1000.0,
                            "response"
                        );
                    },
                ),
        )
}

/// The JSON API. Its own fallback answers unknown `/api/...` paths with a JSON 404 instead of
/// the cashier app's `index.html`, so a client calling a wrong endpoint sees the mistake.
pub fn api_router(state: &AppState) -> Router<AppState> {
    Router::new()
        .merge(health::router())
        .nest("/v1", protocol_router(state))
        .fallback(api_not_found)
}

/// The signed protocol (`/api/v1`): every answer leaves signed by the gateway key.
fn protocol_router(state: &AppState) -> Router<AppState> {
    Router::new()
        .merge(key_card::router())
        .merge(registration::router())
        .merge(providers::router())
        .merge(payments::router())
        .merge(message::router())
        .merge(steps::router())
        .layer(middleware::from_fn_with_state(
            state.clone(),
            answer::sign_answers,
        ))
}

/// `{"error":"not_found"}` for any unknown API path.
async fn api_not_found() -> Error {
    Error::NotFound
}
