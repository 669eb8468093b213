//! `GET /api/health`: is this gateway able to take payments right now?
//!
//! Load balancers, `scripts/run.sh` and the tests poll it. It checks the one dependency a
//! payment cannot do without — the database — and answers 503 when that is gone, so a balancer
//! stops sending cashiers to this instance while the process itself is still up.
//!
//! It asks on its own connection ([`AppState::health_pool`]), not the serving pool: during a
//! burst every serving connection may be waiting for one dealer's lock, and "busy" must not
//! read as "dead" — a balancer would take every instance out at once.

use axum::{
    Json, Router,
    extract::State,
    http::{StatusCode, header},
    response::IntoResponse,
    routing::get,
};
use tolem_protocol::{PROTOCOL_VERSION, health::Health};

use crate::state::AppState;

/// Routes of this resource, relative to `/api`.
pub fn router() -> Router<AppState> {
    Router::new().route("/health", get(health))
}

/// Answers 200 when a trivial query succeeds, 503 otherwise. Never cached: a stale "ok" from
/// a cache (or the service worker) would hide an outage.
#[utoipa::path(
    get,
    path = "/api/health",
    tag = "service",
    responses(
        (status = 200, description = "The gateway and its database work.", body = Health),
        (status = 503, description = "The database does not answer: send cashiers elsewhere.",
            body = Health),
    ),
)]
pub(crate) async fn health(State(state): State<AppState>) -> impl IntoResponse {
    let answer = |status: &str, database: &str| Health {
        status: status.into(),
        version: env!("CARGO_PKG_VERSION").into(),
        database: database.into(),
        protocol: PROTOCOL_VERSION,
        gateway_time_ms: Some(crate::db::now_ms()),
    };
    let (status, body) = match sqlx::query("SELECT 1").execute(&state.health_pool).await {
        Ok(_) => (StatusCode::OK, answer("ok", "ok")),
        Err(error) => {
            tracing::warn!(%error, "health check: database unavailable");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                answer("degraded", "unavailable"),
            )
        }
    };
    (status, [(header::CACHE_CONTROL, "no-store")], Json(body))
}
