//! The operator's console users, and — for the rescue when a dealer's only administrator lost
//! their phone — any dealer's (the rendering and the handlers' bodies are the dealer page's,
//! `console/users.rs`; the domain decides who may act on whom).
//!
//! Routes (relative to `/console/operator`), for the operator's full-access users (a dealer's
//! user gets 403, as on every operator page):
//! * `GET /users` — the operator's users; `GET /users?dealer=D001` — dealer D001's users
//!   (404 for an unknown dealer). Same elements as the dealer's page (`table#users`,
//!   `tr.user[data-user]`, `form#invite-user`, `#one-time-password`), plus `form#dealer-users`
//!   to pick a dealer;
//! * `POST /users` (fields `csrf`, `email`, `access_level`, `otp`, and `dealer` — a hidden
//!   field in the dealer view, empty for the operator's own users): invite;
//! * `POST /users/{email}/block|unblock|reset-password|reset-totp` (fields `csrf`, `otp`,
//!   hidden `dealer` only to come back to the dealer view): the user is found by e-mail
//!   whichever party it belongs to.

use axum::{
    Form, Router,
    extract::{Path, Query, State, rejection::FormRejection},
    http::StatusCode,
    response::Response,
    routing::{get, post},
};
use serde::Deserialize;

use super::super::{
    ConsoleError, forms,
    session::OperatorUser,
    users::{self, ActForm, Extra, InviteForm, View},
};
use crate::{db::sessions::Party, state::AppState, users::manage, web::client_ip::ClientIp};

const PATH: &str = "/console/operator/users";

/// Routes relative to `/console/operator`.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/users", get(page).post(invite))
        .route("/users/{email}/{verb}", post(act))
}

/// `?dealer=` of the page.
#[derive(Default, Deserialize)]
struct DealerQuery {
    #[serde(default)]
    dealer: String,
}

/// The operator's users, or (`dealer` not empty) that dealer's: 404 when there is no such.
async fn view_of(state: &AppState, dealer: &str) -> Result<View, ConsoleError> {
    let dealer = dealer.trim();
    if dealer.is_empty() {
        return Ok(View {
            base: PATH,
            party: Party::Operator,
            dealer_field: None,
        });
    }
    let mut conn = state.pool.acquire().await?;
    if !manage::dealer_exists(&mut conn, dealer)
        .await
        .map_err(|error| users::refusal(error, PATH.to_owned()))?
    {
        return Err(ConsoleError::NotFound);
    }
    Ok(View {
        base: PATH,
        party: Party::Dealer(dealer.to_owned()),
        dealer_field: Some(dealer.to_owned()),
    })
}

/// `GET /console/operator/users[?dealer=…]`.
async fn page(
    State(state): State<AppState>,
    user: OperatorUser,
    Query(query): Query<DealerQuery>,
) -> Result<Response, ConsoleError> {
    let view = view_of(&state, &query.dealer).await?;
    users::show(&state, &user, &view, Extra::default(), StatusCode::OK).await
}

/// `POST /console/operator/users`.
async fn invite(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    user: OperatorUser,
    form: Result<Form<InviteForm>, FormRejection>,
) -> Result<Response, ConsoleError> {
    let form = forms::read(form);
    user.check_csrf(&form.csrf)?;
    let view = view_of(&state, &form.dealer).await?;
    users::invite(&state, ip, &user, &view, form).await
}

/// `POST /console/operator/users/{email}/{verb}`.
async fn act(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    user: OperatorUser,
    Path(target): Path<(String, String)>,
    form: Result<Form<ActForm>, FormRejection>,
) -> Result<Response, ConsoleError> {
    let form = forms::read(form);
    user.check_csrf(&form.csrf)?;
    let view = view_of(&state, &form.dealer).await?;
    users::act(&state, ip, &user, &view, target, form).await
}
