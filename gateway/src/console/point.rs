//! `GET /console/points/{code}` — one point: its state, limits ([`super::limits`]), cashiers
//! ([`super::cashiers`]) and key history — and switching it on and off: `POST .../activate`,
//! `.../block`, `.../unblock` (fields `csrf`, `otp`, optional `back`; full access and a
//! one-time code).
//!
//! A new point is *activated* once its key is certified; a working point can be *blocked*
//! (its phones get 53) and *unblocked*. Only the point's own dealer sees or changes it.

use axum::{
    Form,
    extract::{Path, State, rejection::FormRejection},
    response::{IntoResponse, Redirect, Response},
};
use maud::{Markup, html};

use super::{
    ConsoleError, cashiers, confirm, forms,
    keys::{ConfirmForm, key_events},
    layout::{self, button_form, tr, when},
    limits,
    points::point_state,
    session::ConsoleUser,
};
use crate::{
    audit::{self, Event, change},
    db::{
        keys::{self, state_text},
        network::{self, Switch},
        now_ms,
    },
    http::{AppState, client_ip::ClientIp},
};

/// Where the page of point `code` is.
pub fn path(code: &str) -> String {
    format!("/console/points/{code}")
}

/// Back to the page of point `code`.
pub fn to_point(code: &str) -> Response {
    Redirect::to(&path(code)).into_response()
}

/// `GET /console/points/{code}`.
pub async fn page(
    State(state): State<AppState>,
    user: ConsoleUser,
    Path(code): Path<String>,
) -> Result<Markup, ConsoleError> {
    let mut conn = state.pool.acquire().await?;
    let point = network::point_of_dealer(&mut conn, &code, user.dealer_code())
        .await?
        .ok_or(ConsoleError::NotFound)?;
    drop(conn);
    let cashiers = network::cashiers_of_point(&state.pool, &code).await?;
    let history = keys::history_of_point(&state.pool, &code).await?;
    let here = path(&code);
    let full = user.has_full_access();
    let content = html! {
        section.point-card #point data-point=(point.code) data-state=(point_state(&point)) {
            p {
                span class={ "point-state " (point_state(&point)) } {
                    (tr(&format!("points.state_{}", point_state(&point))))
                }
                " " strong.name { (point.name) }
            }
            dl {
                dt { (tr("points.address")) } dd { (point.address) }
                dt { (tr("points.working_hours")) } dd { (point.working_hours) }
                dt { (tr("points.created")) } dd { (when(point.created_at_ms)) }
                @if let Some(blocked) = point.blocked_at_ms {
                    dt { (tr("points.blocked_at")) } dd { (when(blocked)) }
                }
            }
            div.actions {
                @if full {
                    @match point_state(&point) {
                        "new" => (button_form("activate", &format!("{here}/activate"), "keys.activate", &user, true, None)),
                        "blocked" => (button_form("unblock", &format!("{here}/unblock"), "points.unblock", &user, true, None)),
                        _ => (button_form("block", &format!("{here}/block"), "points.block", &user, true, None)),
                    }
                }
                (button_form("reset-password", &format!("{here}/password"), "points.reset_password", &user, false, None))
            }
        }
        (limits::section(&point, &user))
        (cashiers::section(&point, &cashiers, &user))
        h2 { (tr("points.key_history")) }
        @if history.is_empty() {
            p.muted { (tr("keys.no_keys")) }
        } @else {
            table.key-history #key-history {
                thead { tr {
                    th { (tr("keys.col_serial")) }
                    th { (tr("points.col_cashier")) }
                    th { (tr("points.card_issued")) }
                    th { (tr("keys.col_registered")) }
                    th { (tr("keys.col_state")) }
                    th { (tr("points.fingerprint")) }
                } }
                tbody {
                    @for card in &history {
                        tr data-serial=(card.serial)
                            data-state=(card.key.as_ref().map_or("card", |k| state_text(k.state))) {
                            td { code { (card.serial) } }
                            td { (card.cashier_code) }
                            td { (when(card.issued_at_ms)) }
                            @if let Some(key) = &card.key {
                                td { (when(key.registered_at_ms)) }
                                td {
                                    (tr(&format!("keys.state_{}", state_text(key.state))))
                                    @for line in key_events(key) { br; span.muted { (line) } }
                                }
                                td { code.fingerprint-small { (key.public_key.fingerprint()) } }
                            } @else {
                                td colspan="3" .muted { (tr("points.card_unused")) }
                            }
                        }
                    }
                }
            }
        }
    };
    let title = format!("{} {}", tr("points.point"), point.code);
    Ok(layout::page(&here, &title, Some(&user), content))
}

/// Activates, blocks or unblocks a point (see the module docs).
async fn switch(
    state: AppState,
    ip: std::net::IpAddr,
    user: ConsoleUser,
    code: String,
    form: ConfirmForm,
    switch: Switch,
) -> Result<Response, ConsoleError> {
    let mut tx = confirm::begin_confirmed(&state, &user, ip, &form.csrf, &form.otp).await?;
    let now = now_ms();
    let before = network::point_of_dealer(&mut tx, &code, user.dealer_code())
        .await?
        .ok_or(ConsoleError::NotFound)?;
    if !network::switch_point(&mut tx, &code, user.dealer_code(), switch, now).await? {
        return Err(ConsoleError::NotFound);
    }
    let (action, after) = match switch {
        Switch::Activate => ("point.activated", "active"),
        Switch::Block => ("point.blocked", "blocked"),
        Switch::Unblock => ("point.unblocked", "active"),
    };
    let event = Event {
        action,
        subject: format!("point:{code}"),
        details: change(
            serde_json::json!({ "state": point_state(&before) }),
            serde_json::json!({ "state": after }),
        ),
    };
    audit::record_in(&mut tx, &user.actor(ip), &event, now).await?;
    tx.commit().await?;
    tracing::info!(point = %code, email = %user.email(), action, "point switched");
    let back = forms::back_to(&form.back, &path(&code));
    Ok(Redirect::to(&back).into_response())
}

/// `POST /console/points/{code}/activate`.
pub async fn activate(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    user: ConsoleUser,
    Path(code): Path<String>,
    form: Result<Form<ConfirmForm>, FormRejection>,
) -> Result<Response, ConsoleError> {
    switch(state, ip, user, code, forms::read(form), Switch::Activate).await
}

/// `POST /console/points/{code}/block`.
pub async fn block(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    user: ConsoleUser,
    Path(code): Path<String>,
    form: Result<Form<ConfirmForm>, FormRejection>,
) -> Result<Response, ConsoleError> {
    switch(state, ip, user, code, forms::read(form), Switch::Block).await
}

/// `POST /console/points/{code}/unblock`.
pub async fn unblock(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    user: ConsoleUser,
    Path(code): Path<String>,
    form: Result<Form<ConfirmForm>, FormRejection>,
) -> Result<Response, ConsoleError> {
    switch(state, ip, user, code, forms::read(form), Switch::Unblock).await
}
