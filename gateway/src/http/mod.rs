//! The JSON face of the gateway: the API under `/api`, the signed protocol under `/api/v1`,
//! described (OpenAPI 3.1, generated from the handlers) at `/api/openapi.json` ([`openapi`]).
//!
//! The console (`/console`), the public pages (`/verify`) and the cashier app's files sit
//! beside this face; [`crate::app`] mounts them all.

pub mod answer;
pub mod batch;
pub mod card;
pub mod health;
pub mod key_card;
pub mod message;
pub mod openapi;
pub mod payments;
pub mod point_login;
pub mod providers;
pub mod registration;
pub mod shift;
pub mod signed;
pub mod steps;

use axum::{Router, middleware};

use crate::{error::Error, state::AppState};

/// The JSON API. Its own fallback answers unknown `/api/...` paths with a JSON 404 instead of
/// the cashier app's `index.html`, so a client calling a wrong endpoint sees the mistake.
pub fn api_router(state: &AppState) -> Router<AppState> {
    Router::new()
        .merge(health::router())
        .merge(openapi::router())
        .merge(card::router())
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
        .merge(batch::router())
        .merge(message::router())
        .merge(steps::router())
        .merge(shift::router())
        .layer(middleware::from_fn_with_state(
            state.clone(),
            answer::sign_answers,
        ))
}

/// `{"error":"not_found"}` for any unknown API path.
async fn api_not_found() -> Error {
    Error::NotFound
}
