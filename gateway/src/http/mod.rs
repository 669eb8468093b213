//! The HTTP face of the gateway: the JSON API under `/api` and the cashier app everywhere else.
//!
//! [`app`] builds the whole router from an [`AppState`], so tests drive exactly what production
//! serves — in-process with `tower::ServiceExt::oneshot` or bound to port 0.

pub mod health;
pub mod static_files;

use std::{path::PathBuf, sync::Arc, time::Duration};

use axum::{
    Router,
    body::Body,
    http::{HeaderValue, Request, Response, header},
};
use sqlx::AnyPool;
use tower_http::{set_header::SetResponseHeaderLayer, trace::TraceLayer};
use tracing::Span;

use crate::error::Error;
use static_files::StaticFiles;

/// What every handler can reach. Cheap to clone: a pool handle and a pointer.
#[derive(Clone)]
pub struct AppState {
    /// The database.
    pub pool: AnyPool,
    /// The built cashier app.
    pub static_files: Arc<StaticFiles>,
}

impl AppState {
    /// State for a gateway on `pool` serving the app built into `dist`.
    pub fn new(pool: AnyPool, dist: impl Into<PathBuf>) -> Self {
        Self {
            pool,
            static_files: Arc::new(StaticFiles::new(dist.into())),
        }
    }
}

/// The whole gateway: API, static app, request logging and security headers.
pub fn app(state: AppState) -> Router {
    Router::new()
        .nest("/api", api_router())
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
pub fn api_router() -> Router<AppState> {
    Router::new()
        .merge(health::router())
        .fallback(api_not_found)
}

/// `{"error":"not_found"}` for any unknown API path.
async fn api_not_found() -> Error {
    Error::NotFound
}
