//! `GET /metrics`: the Prometheus text for the operator's monitoring ([`crate::metrics`]).
//!
//! Off unless the gateway is given a token (`--metrics-token`); then only a scraper that sends
//! it as `Authorization: Bearer <token>` is answered. Queue depths and answer counts are no
//! secret from a cashier, but they are nobody else's business either.

use axum::{
    extract::{Request, State},
    http::{HeaderMap, StatusCode, header},
    middleware::Next,
    response::{IntoResponse, Response},
};
use sha2::{Digest, Sha256};

use crate::{metrics::face_of, state::AppState};

/// The endpoint.
pub async fn metrics(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let Some(token) = state.metrics_token.as_deref() else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let presented = headers
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.strip_prefix("Bearer "))
        .unwrap_or_default();
    // Compared as digests: equal-length values, so the comparison's time says nothing of the
    // token's prefix.
    if Sha256::digest(presented.as_bytes()) != Sha256::digest(token.as_bytes()) {
        return (
            StatusCode::UNAUTHORIZED,
            [(header::WWW_AUTHENTICATE, "Bearer")],
        )
            .into_response();
    }
    match state.metrics.render(&state.pool).await {
        Ok(text) => (
            [
                (
                    header::CONTENT_TYPE,
                    "application/openmetrics-text; version=1.0.0; charset=utf-8",
                ),
                (header::CACHE_CONTROL, "no-store"),
            ],
            text,
        )
            .into_response(),
        Err(error) => {
            tracing::error!(%error, "metrics could not be read");
            StatusCode::INTERNAL_SERVER_ERROR.into_response()
        }
    }
}

/// Times every request for the latency histogram, by face.
pub async fn time_requests(
    State(state): State<AppState>,
    request: Request,
    next: Next,
) -> Response {
    let face = face_of(request.uri().path());
    let started = std::time::Instant::now();
    let response = next.run(request).await;
    state.metrics.took(face, started.elapsed());
    response
}
