//! `GET /console/points/{code}` — one point: its state, limits, cashiers and key history —
//! and what can be done to it:
//!
//! * full access with a one-time code (fields `csrf`, `otp`): `POST .../activate`, `.../block`,
//!   `.../unblock`; `POST .../limits` (fields `payment_limit`, `daily_limit` in tenge, empty =
//!   no limit; `offline_max_payment`, `offline_max_total` in tenge; `offline_max_age_hours`);
//!   `POST .../cashiers/{cashier}/block` and `.../unblock`;
//! * any user (field `csrf`): `POST .../limits/prepare` (the same limit fields: a prepared
//!   operation for a full-access user to confirm) and `POST .../cashiers` (field `name`).
//!
//! The offline limits reach the phone on its next key card (and the online ones are enforced by
//! the gateway at once).

use axum::{
    Form,
    extract::{Path, State, rejection::FormRejection},
    response::{IntoResponse, Redirect, Response},
};
use maud::{Markup, html};
use serde::Deserialize;
use tolem_protocol::messages::OfflineLimits;

use super::{
    ConsoleError, confirm, forms,
    keys::{ConfirmForm, key_events},
    layout::{self, button_form, otp_field, tenge_plain, tr, when},
    points::{limit_text, point_state},
    session::ConsoleUser,
};
use crate::{
    audit::{self, Event, change},
    db::{
        keys::{self, state_text},
        network::{self, Limits, Point, Switch},
        now_ms,
        operations::Payload,
    },
    http::{AppState, client_ip::ClientIp},
};

const HOUR_MS: i64 = 60 * 60 * 1000;
/// The longest a deferred payment may be allowed to wait: 30 days.
const MAX_OFFLINE_AGE_HOURS: i64 = 30 * 24;

fn path(code: &str) -> String {
    format!("/console/points/{code}")
}

/// The limits form as posted.
#[derive(Default, Deserialize)]
pub struct LimitsForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    otp: String,
    #[serde(default)]
    payment_limit: String,
    #[serde(default)]
    daily_limit: String,
    #[serde(default)]
    offline_max_payment: String,
    #[serde(default)]
    offline_max_total: String,
    #[serde(default)]
    offline_max_age_hours: String,
}

impl LimitsForm {
    /// The limits typed, or which field is wrong.
    fn limits(&self, back: &str) -> Result<Limits, ConsoleError> {
        let invalid = |key| ConsoleError::invalid(key, back);
        let limit = |text: &str| forms::parse_limit(text).map_err(|()| invalid("points.bad_limit"));
        let offline =
            |text: &str| forms::parse_tenge(text).ok_or_else(|| invalid("points.bad_amount"));
        let hours: i64 = self
            .offline_max_age_hours
            .trim()
            .parse()
            .ok()
            .filter(|h| (0..=MAX_OFFLINE_AGE_HOURS).contains(h))
            .ok_or_else(|| invalid("points.bad_hours"))?;
        Ok(Limits {
            payment_limit_tiyn: limit(&self.payment_limit)?,
            daily_limit_tiyn: limit(&self.daily_limit)?,
            offline: OfflineLimits {
                max_payment_tiyn: offline(&self.offline_max_payment)?,
                max_total_tiyn: offline(&self.offline_max_total)?,
                max_age_ms: hours * HOUR_MS,
            },
        })
    }
}

/// The cashier form as posted.
#[derive(Default, Deserialize)]
pub struct CashierForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    name: String,
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
        (limits_section(&point, &user))
        (cashiers_section(&point, &cashiers, &user))
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

/// The limits form: applied at once with a code by full access, prepared by anyone else.
fn limits_section(point: &Point, user: &ConsoleUser) -> Markup {
    let here = path(&point.code);
    let full = user.has_full_access();
    let action = if full {
        format!("{here}/limits")
    } else {
        format!("{here}/limits/prepare")
    };
    let optional = |v: Option<i64>| v.map(tenge_plain).unwrap_or_default();
    let field = |id: &str, label: &str, value: String, hint: &str| {
        html! {
            label for=(id) { (tr(label)) }
            input id=(id) type="text" name=(id) value=(value) inputmode="decimal"
                placeholder=(tr(hint));
        }
    };
    html! {
        h2 { (tr("points.limits_title")) }
        p.muted {
            (tr("points.limits_now")) ": " (limit_text(point.payment_limit_tiyn)) " / "
            (limit_text(point.daily_limit_tiyn))
        }
        form.limits #limits method="post" action=(action) {
            input type="hidden" name="csrf" value=(user.csrf_token());
            fieldset {
                legend { (tr("points.online")) }
                (field("payment_limit", "points.payment_limit", optional(point.payment_limit_tiyn), "points.no_limit"))
                (field("daily_limit", "points.daily_limit", optional(point.daily_limit_tiyn), "points.no_limit"))
            }
            fieldset {
                legend { (tr("points.offline")) }
                (field("offline_max_payment", "points.offline_max_payment", tenge_plain(point.offline.max_payment_tiyn), "points.tenge"))
                (field("offline_max_total", "points.offline_max_total", tenge_plain(point.offline.max_total_tiyn), "points.tenge"))
                label for="offline_max_age_hours" { (tr("points.offline_max_age_hours")) }
                input #offline_max_age_hours type="number" name="offline_max_age_hours" min="0"
                    max=(MAX_OFFLINE_AGE_HOURS) step="1" value=(point.offline.max_age_ms / HOUR_MS);
            }
            @if full {
                (otp_field())
                button type="submit" { (tr("points.save_limits")) }
            } @else {
                p.muted { (tr("points.prepare_hint")) }
                button type="submit" { (tr("operations.prepare")) }
            }
        }
    }
}

fn cashiers_section(point: &Point, cashiers: &[network::Cashier], user: &ConsoleUser) -> Markup {
    let here = path(&point.code);
    html! {
        h2 { (tr("points.cashiers")) }
        table.cashiers #cashiers {
            thead { tr {
                th { (tr("points.col_code")) }
                th { (tr("points.name")) }
                th { (tr("points.col_state")) }
                th { (tr("keys.col_actions")) }
            } }
            tbody {
                @for cashier in cashiers {
                    tr.cashier data-cashier=(cashier.code) data-active=(cashier.active) {
                        td { (cashier.code) }
                        td { (cashier.name) }
                        td { @if cashier.active { (tr("points.state_active")) } @else { (tr("points.state_blocked")) } }
                        td.actions {
                            @if user.has_full_access() {
                                @let (verb, label) = if cashier.active { ("block", "points.block_cashier") } else { ("unblock", "points.unblock_cashier") };
                                (button_form(verb, &format!("{here}/cashiers/{}/{verb}", cashier.code), label, user, true, None))
                            }
                        }
                    }
                }
            }
        }
        form.register-cashier #register-cashier method="post" action={ (here) "/cashiers" } {
            input type="hidden" name="csrf" value=(user.csrf_token());
            label for="cashier-name" { (tr("points.cashier_name")) }
            input #cashier-name type="text" name="name" required maxlength="100";
            button type="submit" { (tr("points.register_cashier")) }
        }
    }
}

fn to_point(code: &str) -> Response {
    Redirect::to(&path(code)).into_response()
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

/// Applies new limits inside `tx` and writes the audit row; false when the point is not the
/// dealer's. Shared with confirming a prepared limits operation.
pub async fn apply_limits(
    tx: &mut sqlx::AnyConnection,
    user: &ConsoleUser,
    ip: std::net::IpAddr,
    code: &str,
    limits: &Limits,
    operation: Option<&str>,
) -> Result<bool, ConsoleError> {
    let Some(before) = network::point_of_dealer(&mut *tx, code, user.dealer_code()).await? else {
        return Ok(false);
    };
    if !network::set_limits(&mut *tx, code, user.dealer_code(), limits).await? {
        return Ok(false);
    }
    let event = Event {
        action: "point.limits",
        subject: format!("point:{code}"),
        details: serde_json::json!({
            "operation": operation,
            "change": change(serde_json::json!(before.limits()), serde_json::json!(limits)),
        }),
    };
    audit::record_in(tx, &user.actor(ip), &event, now_ms()).await?;
    Ok(true)
}

/// `POST /console/points/{code}/limits`: full access, with a one-time code.
pub async fn set_limits(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    user: ConsoleUser,
    Path(code): Path<String>,
    form: Result<Form<LimitsForm>, FormRejection>,
) -> Result<Response, ConsoleError> {
    let form = forms::read(form);
    user.check_csrf(&form.csrf)?;
    user.require_full_access()?;
    let limits = form.limits(&path(&code))?;
    let mut tx = confirm::begin_confirmed(&state, &user, ip, &form.csrf, &form.otp).await?;
    if !apply_limits(&mut tx, &user, ip, &code, &limits, None).await? {
        return Err(ConsoleError::NotFound);
    }
    tx.commit().await?;
    tracing::info!(point = %code, email = %user.email(), "point limits changed");
    Ok(to_point(&code))
}

/// `POST /console/points/{code}/limits/prepare`: any user; a full-access user confirms.
pub async fn prepare_limits(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    user: ConsoleUser,
    Path(code): Path<String>,
    form: Result<Form<LimitsForm>, FormRejection>,
) -> Result<Response, ConsoleError> {
    let form = forms::read(form);
    user.check_csrf(&form.csrf)?;
    let limits = form.limits(&path(&code))?;
    let mut tx = confirm::begin(&state, &user, &form.csrf).await?;
    if network::point_of_dealer(&mut tx, &code, user.dealer_code())
        .await?
        .is_none()
    {
        return Err(ConsoleError::NotFound);
    }
    let payload = Payload::PointLimits {
        point: code.clone(),
        limits,
    };
    super::operations::prepare_in(&mut tx, &user, ip, &payload).await?;
    tx.commit().await?;
    Ok(Redirect::to(super::operations::PATH).into_response())
}

/// `POST /console/points/{code}/cashiers`: any user.
pub async fn register_cashier(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    user: ConsoleUser,
    Path(code): Path<String>,
    form: Result<Form<CashierForm>, FormRejection>,
) -> Result<Response, ConsoleError> {
    let form = forms::read(form);
    user.check_csrf(&form.csrf)?;
    let name = forms::required_text(&form.name, 100)
        .ok_or_else(|| ConsoleError::invalid("points.bad_name", path(&code)))?;
    let mut tx = confirm::begin(&state, &user, &form.csrf).await?;
    let now = now_ms();
    let Some(cashier) =
        network::register_cashier(&mut tx, &code, user.dealer_code(), &name, now).await?
    else {
        return Err(ConsoleError::NotFound);
    };
    let event = Event {
        action: "cashier.registered",
        subject: format!("cashier:{code}/{cashier}"),
        details: serde_json::json!({ "after": { "name": name, "active": true } }),
    };
    audit::record_in(&mut tx, &user.actor(ip), &event, now).await?;
    tx.commit().await?;
    Ok(to_point(&code))
}

async fn set_cashier(
    state: AppState,
    ip: std::net::IpAddr,
    user: ConsoleUser,
    (code, cashier): (String, String),
    form: ConfirmForm,
    active: bool,
) -> Result<Response, ConsoleError> {
    let mut tx = confirm::begin_confirmed(&state, &user, ip, &form.csrf, &form.otp).await?;
    if !network::set_cashier_active(&mut tx, &code, user.dealer_code(), &cashier, active).await? {
        return Err(ConsoleError::NotFound);
    }
    let event = Event {
        action: if active {
            "cashier.unblocked"
        } else {
            "cashier.blocked"
        },
        subject: format!("cashier:{code}/{cashier}"),
        details: change(
            serde_json::json!({ "active": !active }),
            serde_json::json!({ "active": active }),
        ),
    };
    audit::record_in(&mut tx, &user.actor(ip), &event, now_ms()).await?;
    tx.commit().await?;
    Ok(to_point(&code))
}

/// `POST /console/points/{code}/cashiers/{cashier}/block`.
pub async fn block_cashier(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    user: ConsoleUser,
    Path(ids): Path<(String, String)>,
    form: Result<Form<ConfirmForm>, FormRejection>,
) -> Result<Response, ConsoleError> {
    set_cashier(state, ip, user, ids, forms::read(form), false).await
}

/// `POST /console/points/{code}/cashiers/{cashier}/unblock`.
pub async fn unblock_cashier(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    user: ConsoleUser,
    Path(ids): Path<(String, String)>,
    form: Result<Form<ConfirmForm>, FormRejection>,
) -> Result<Response, ConsoleError> {
    set_cashier(state, ip, user, ids, forms::read(form), true).await
}
