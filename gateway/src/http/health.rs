//! `GET /api/health`: is this gateway able to take payments right now?
//!
//! Load balancers, `scripts/run.sh` and the tests poll it. It checks the one dependency a
//! payment cannot do without — the database — and answers 503 when that is gone, so a balancer
//! stops sending cashiers to this instance while the process itself is still up.

use axum::{
    Json, Router,
    extract::State,
    http::{StatusCode, header},
    response::IntoResponse,
    routing::get,
};
use serde::Serialize;

use super::AppState;

/// The body of a health answer.
#[derive(Debug, Serialize)]
pub struct Health {
    /// `ok` when everything works, `degraded` otherwise.
    pub status: &'static str,
    /// The gateway's crate version, to see what is deployed.
    pub version: &'static str,
    /// `ok` or `unavailable`.
    pub database: &'static str,
}

/// Routes of this resource, relative to `/api`.
pub fn router() -> Router<AppState> {
    Router::new().route("/health", get(health))
}

/// Answers 200 when a trivial query succeeds, 503 otherwise. Never cached: a stale "ok" from
/// a cache (or the service worker) would hide an outage.
async fn health(State(state): State<AppState>) -> impl IntoResponse {
    let version = env!("CARGO_PKG_VERSION");
    let (status, body) = match sqlx::query("SELECT 1").execute(&state.pool).await {
        Ok(_) => (
            StatusCode::OK,
            Health {
                status: "ok",
                version,
                database: "ok",
            },
        ),
        Err(error) => {
            tracing::warn!(%error, "health check: database unavailable");
            let body = Health {
                status: "degraded",
                version,
                database: "unavailable",
            };
            (StatusCode::SERVICE_UNAVAILABLE, body)
        }
    };
    (status, [(header::CACHE_CONTROL, "no-store")], Json(body))
}
