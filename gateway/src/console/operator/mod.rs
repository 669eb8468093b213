//! The operator's pages of the console (`/console/operator/...`): dealers, top-up requests and
//! corrections, the provider catalogue, deliveries to providers (in [`super::deliveries`]), and
//! the operator's own console users. Every handler
//! takes [`super::session::OperatorUser`], so a dealer's user gets 403 on all of them; changes
//! of money and rights need full access and a fresh one-time code ([`super::confirm`]).

mod connections;
mod dealers;
mod money;
mod providers;
mod users;

use axum::{Router, routing::get};

use crate::state::AppState;

/// Routes relative to `/console/operator`.
pub fn router() -> Router<AppState> {
    Router::new()
        .merge(dealers::router())
        .merge(money::router())
        .merge(providers::router())
        .merge(connections::router())
        .merge(users::router())
        .merge(super::deliveries::operator_router())
        .merge(super::card::operator_router())
        .route("/audit", get(super::audit::operator_page))
        .route("/audit.csv", get(super::audit::operator_export))
}
