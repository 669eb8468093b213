//! `GET /console/points/{code}` — one point: its state, limits ([`super::limits`]), cashiers
//! ([`super::cashiers`]), shift reports ([`super::shift`]) and key history — and switching it on and off: `POST .../activate`,
//! `.../block`, `.../unblock` (fields `csrf`, `otp`, optional `back`; full access and a
//! one-time code).
//!
//! A new point is *activated* once its key is certified; a working point can be *blocked*
//! (its phones get 53) and *unblocked*. Only the point's own dealer sees or changes it.
//!
//! `POST /console/points/{code}/message-quota` (fields `csrf`, `otp`, `messages_per_hour`;
//! full access and a one-time code) sets how many signed letters the point's phones may send
//! in any hour (1–1000; more get 911).

use axum::{
    Form,
    extract::{Path, State, rejection::FormRejection},
    http::StatusCode,
    response::{IntoResponse, Redirect, Response},
};
use maud::{Markup, html};
use serde::Deserialize;

use super::{
    ConsoleError, cashiers, confirm, forms,
    keys::{ConfirmForm, key_events},
    layout::{self, button_form, otp_field, tr, when},
    limits,
    points::point_state,
    session::ConsoleUser,
    shift,
};
use crate::{
    db::{
        keys::{self, state_text},
        network::{self, Point, Switch},
        now_ms, sequence,
    },
    dealer::{self, points::MESSAGE_QUOTA},
    {state::AppState, web::client_ip::ClientIp},
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
    render(&state, &user, &code, None).await
}

/// The page of point `code`, its limits form showing a refused one's input if given.
pub async fn render(
    state: &AppState,
    user: &ConsoleUser,
    code: &str,
    refused: Option<&Refused<'_>>,
) -> Result<Markup, ConsoleError> {
    let refused_limits = match refused {
        Some(Refused::Limits(limits)) => Some(limits),
        _ => None,
    };
    let refused_quota = match refused {
        Some(Refused::Quota { typed, message }) => Some((*typed, message.as_str())),
        _ => None,
    };
    let mut conn = state.pool.acquire().await?;
    let point = network::point_of_dealer(&mut conn, code, user.dealer_code())
        .await?
        .ok_or(ConsoleError::NotFound)?;
    drop(conn);
    let cashiers = network::cashiers_of_point(&state.pool, code).await?;
    let history = keys::history_of_point(&state.pool, code).await?;
    let gaps = sequence::gaps_of_point(&state.pool, code).await?;
    let lost = sequence::lost_outboxes(&state.pool, code).await?;
    let shifts = shift::load(&state.pool, code).await?;
    let here = path(code);
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
                        "new" => (button_form("activate", &format!("{here}/activate"), "keys.activate", user, true, None)),
                        "blocked" => (button_form("unblock", &format!("{here}/unblock"), "points.unblock", user, true, None)),
                        _ => (button_form("block", &format!("{here}/block"), "points.block", user, true, None)),
                    }
                }
                (button_form("reset-password", &format!("{here}/password"), "points.reset_password", user, false, None))
            }
        }
        (super::sequence::section(&gaps, &lost))
        (limits::section(&point, user, refused_limits))
        (message_quota_section(&point, user, refused_quota))
        (cashiers::section(&point, &cashiers, user))
        (shift::section(&shifts))
        h2 { (tr("points.key_history")) }
        @if history.is_empty() {
            p.muted { (tr("keys.no_keys")) }
        } @else {
            div.table-scroll { table.key-history #key-history {
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
            } }
        }
    };
    let title = format!("{} {}", tr("points.point"), point.code);
    Ok(layout::page(&here, &title, Some(user), content))
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
    let actor = user.actor(ip);
    dealer::points::switch_point_in(&mut tx, &actor, user.dealer_code(), &code, switch, now_ms())
        .await?;
    tx.commit().await?;
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

/// The letter quota form as posted.
#[derive(Default, Deserialize)]
pub struct MessageQuotaForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    otp: String,
    #[serde(default)]
    messages_per_hour: String,
}

/// A form of the point's page refused: shown again with what was typed and why.
pub enum Refused<'a> {
    Limits(limits::Refused<'a>),
    /// The letter quota as typed.
    Quota {
        typed: &'a str,
        message: String,
    },
}

/// The point's letter quota: a form for full access, the number for anyone else; `refused`
/// is what was typed and why it was refused.
fn message_quota_section(
    point: &Point,
    user: &ConsoleUser,
    refused: Option<(&str, &str)>,
) -> Markup {
    let shown = point.messages_per_hour.to_string();
    let (value, problem) = match refused {
        Some((typed, message)) => (typed, Some(message)),
        None => (shown.as_str(), None),
    };
    html! {
        h2 { (tr("points.message_quota_title")) }
        p.muted { (tr("points.message_quota_intro")) }
        @if user.has_full_access() {
            @if let Some(problem) = problem {
                p.error #message-quota-error role="alert" { (problem) }
            }
            form.message-quota #message-quota method="post"
                action={ (path(&point.code)) "/message-quota" } {
                input type="hidden" name="csrf" value=(user.csrf_token());
                label for="messages_per_hour" { (tr("points.messages_per_hour")) }
                input #messages_per_hour type="number" name="messages_per_hour"
                    min=(MESSAGE_QUOTA.start()) max=(MESSAGE_QUOTA.end()) step="1" required
                    value=(value);
                (otp_field())
                button type="submit" { (tr("points.save_message_quota")) }
            }
        } @else {
            p #message-quota-now {
                (tr("points.messages_per_hour")) ": " strong { (point.messages_per_hour) }
            }
        }
    }
}

/// `POST /console/points/{code}/message-quota`: full access, with a one-time code. A number
/// out of range is refused before the code is used, so it can be typed again.
pub async fn set_message_quota(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    user: ConsoleUser,
    Path(code): Path<String>,
    form: Result<Form<MessageQuotaForm>, FormRejection>,
) -> Result<Response, ConsoleError> {
    let form = forms::read(form);
    user.check_csrf(&form.csrf)?;
    user.require_full_access()?;
    let here = path(&code);
    // Refused: the point's page again, the number typed kept.
    let again = async |status: StatusCode, message: String| {
        let refused = Refused::Quota {
            typed: &form.messages_per_hour,
            message,
        };
        let page = render(&state, &user, &code, Some(&refused)).await?;
        Ok::<_, ConsoleError>((status, page).into_response())
    };
    let per_hour = form
        .messages_per_hour
        .trim()
        .parse()
        .ok()
        .filter(|n| MESSAGE_QUOTA.contains(n));
    let Some(per_hour) = per_hour else {
        let message = tr("points.bad_message_quota");
        return again(StatusCode::UNPROCESSABLE_ENTITY, message).await;
    };
    let mut tx = match confirm::begin_confirmed(&state, &user, ip, &form.csrf, &form.otp).await {
        Ok(tx) => tx,
        Err(error) => return again(StatusCode::FORBIDDEN, confirm::code_refusal(error)?).await,
    };
    let actor = user.actor(ip);
    dealer::points::set_message_quota_in(
        &mut tx,
        &actor,
        user.dealer_code(),
        &code,
        per_hour,
        now_ms(),
    )
    .await
    .map_err(|error| ConsoleError::from_dealer(error, &here))?;
    tx.commit().await?;
    Ok(to_point(&code))
}
