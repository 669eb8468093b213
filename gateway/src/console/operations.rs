//! `GET /console/operations` — operations prepared for confirmation (a top-up, new limits of a
//! point), the bank's "create and view" → "full access" path — and their two ends:
//!
//! * `POST /console/operations/{id}/confirm` (fields `csrf`, `otp`): full access with a
//!   one-time code; the operation is carried out in the same transaction as its confirmation,
//!   exactly as it was prepared. A top-up prepared under the old rules can no longer be
//!   confirmed (migration 0006 cancelled those waiting): money gets in only through a request
//!   the operator confirms (`/console/money`); old ones stay in the history;
//! * `POST /console/operations/{id}/cancel` (field `csrf`): full access, or the user who
//!   prepared it (changing one's mind needs no one's approval).

use std::net::IpAddr;

use axum::{
    Form,
    extract::{Path, State, rejection::FormRejection},
    response::{IntoResponse, Redirect, Response},
};
use maud::{Markup, html};
use serde::Deserialize;

use super::{
    ConsoleError, confirm, forms,
    keys::ConfirmForm,
    layout::{self, button_form, tenge, tr, when},
    limits::apply_limits,
    points::limit_text,
    session::ConsoleUser,
};
use crate::{
    audit::{self, Action, Event},
    db::{
        now_ms,
        operations::{self, Operation, OperationState, Payload},
    },
    {state::AppState, web::client_ip::ClientIp},
};

/// Where the operations page is.
pub const PATH: &str = "/console/operations";
/// How many decided operations the page lists.
const DECIDED: i64 = 50;

/// A form with only the CSRF token.
#[derive(Default, Deserialize)]
pub struct CsrfOnly {
    #[serde(default)]
    csrf: String,
}

/// Stores `payload` as prepared by `user`, with its audit row, inside `tx`; returns the id.
pub async fn prepare_in(
    tx: &mut sqlx::AnyConnection,
    user: &ConsoleUser,
    ip: IpAddr,
    payload: &Payload,
) -> Result<String, ConsoleError> {
    let now = now_ms();
    let id = operations::prepare(&mut *tx, user.dealer_code(), payload, user.email(), now).await?;
    let event = Event {
        action: Action::OperationPrepared,
        subject: format!("operation:{id}"),
        details: serde_json::json!({ "after": payload }),
    };
    audit::record_in(tx, &user.actor(ip), &event, now).await?;
    tracing::info!(operation = %id, kind = payload.kind(), email = %user.email(), "operation prepared");
    Ok(id)
}

/// What an operation does, in a sentence.
fn describe(payload: &Payload) -> Markup {
    match payload {
        Payload::TopUp {
            amount_tiyn,
            reference,
        } => html! {
            (tr("operations.top_up")) " " strong.amount { (tenge(*amount_tiyn)) " ₸" }
            ", " (tr("operations.reference")) " " strong { (reference) }
        },
        Payload::PointLimits { point, limits } => html! {
            (tr("operations.limits")) " " strong { (point) } ": "
            (tr("points.payment_limit")) " " (limit_text(limits.payment_limit_tiyn)) "; "
            (tr("points.daily_limit")) " " (limit_text(limits.daily_limit_tiyn)) "; "
            (tr("points.offline_max_payment")) " " (tenge(limits.offline.max_payment_tiyn)) "; "
            (tr("points.offline_max_total")) " " (tenge(limits.offline.max_total_tiyn)) "; "
            (tr("points.offline_max_age_hours")) " " (limits.offline.max_age_ms / 3_600_000)
        },
    }
}

fn prepared_row(operation: &Operation, user: &ConsoleUser) -> Markup {
    let base = format!("{PATH}/{}", operation.id);
    html! {
        tr.operation data-operation=(operation.id) data-kind=(operation.payload.kind()) data-state="prepared" {
            td { code { (operation.id) } }
            td { (describe(&operation.payload)) }
            td { (operation.prepared_by) br; span.muted { (when(operation.prepared_at_ms)) } }
            td.actions {
                @if user.has_full_access() && !matches!(operation.payload, Payload::TopUp { .. }) {
                    (button_form("confirm", &format!("{base}/confirm"), "operations.confirm", user, true, None))
                }
                @if user.has_full_access() || operation.prepared_by == user.email() {
                    (button_form("cancel", &format!("{base}/cancel"), "operations.cancel", user, false, None))
                }
            }
        }
    }
}

/// `GET /console/operations`.
pub async fn page(
    State(state): State<AppState>,
    user: ConsoleUser,
) -> Result<Markup, ConsoleError> {
    let (prepared, decided) =
        operations::operations_of_dealer(&state.pool, user.dealer_code(), DECIDED).await?;
    let content = html! {
        p.intro { (tr("operations.intro")) }
        h2 { (tr("operations.waiting")) }
        @if prepared.is_empty() {
            p.muted #no-operations { (tr("operations.none")) }
        } @else {
            div.table-scroll {
                table.operations #prepared-operations {
                    thead { tr {
                        th { "№" } th { (tr("operations.what")) } th { (tr("operations.prepared_by")) }
                        th { (tr("keys.col_actions")) }
                    } }
                    tbody { @for operation in &prepared { (prepared_row(operation, &user)) } }
                }
            }
        }
        @if !decided.is_empty() {
            h2 { (tr("operations.decided")) }
            div.table-scroll {
                table.operations #decided-operations {
                    thead { tr {
                        th { "№" } th { (tr("operations.what")) } th { (tr("operations.prepared_by")) }
                        th { (tr("operations.decided_by")) }
                    } }
                    tbody {
                        @for operation in &decided {
                            tr.operation data-operation=(operation.id) data-state=(operation.state.as_str()) {
                                td { code { (operation.id) } }
                                td { (describe(&operation.payload)) }
                                td { (operation.prepared_by) br; span.muted { (when(operation.prepared_at_ms)) } }
                                td {
                                    (tr(&format!("operations.state_{}", operation.state.as_str()))) ": "
                                    (operation.decided_by.as_deref().unwrap_or("")) br;
                                    span.muted { (when(operation.decided_at_ms.unwrap_or_default())) }
                                }
                            }
                        }
                    }
                }
            }
        }
    };
    Ok(layout::page(
        PATH,
        &tr("operations.title"),
        Some(&user),
        content,
    ))
}

/// `POST /console/operations/{id}/confirm`.
pub async fn confirm(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    user: ConsoleUser,
    Path(id): Path<String>,
    form: Result<Form<ConfirmForm>, FormRejection>,
) -> Result<Response, ConsoleError> {
    let form = forms::read(form);
    let mut tx = confirm::begin_confirmed(&state, &user, ip, &form.csrf, &form.otp).await?;
    let now = now_ms();
    let operation = operations::operation(&mut *tx, &id, user.dealer_code())
        .await?
        .filter(|o| o.state == OperationState::Prepared)
        .ok_or(ConsoleError::NotFound)?;
    if matches!(operation.payload, Payload::TopUp { .. }) {
        // Dropping the transaction gives the one-time code back.
        return Err(ConsoleError::invalid("operations.top_up_retired", PATH));
    }
    if !operations::decide(
        &mut tx,
        &id,
        user.dealer_code(),
        OperationState::Confirmed,
        user.email(),
        now,
    )
    .await?
    {
        return Err(ConsoleError::NotFound);
    }
    match &operation.payload {
        Payload::TopUp { .. } => return Err(ConsoleError::NotFound),
        Payload::PointLimits { point, limits } => {
            if !apply_limits(&mut tx, &user, ip, point, limits, Some(&id)).await? {
                return Err(ConsoleError::NotFound);
            }
        }
    }
    let event = Event {
        action: Action::OperationConfirmed,
        subject: format!("operation:{id}"),
        details: serde_json::json!({
            "prepared_by": operation.prepared_by,
            "change": audit::change(
                serde_json::json!({ "state": "prepared" }),
                serde_json::json!({ "state": "confirmed" }),
            ),
        }),
    };
    audit::record_in(&mut tx, &user.actor(ip), &event, now).await?;
    tx.commit().await?;
    tracing::info!(operation = %id, email = %user.email(), "operation confirmed");
    Ok(Redirect::to(PATH).into_response())
}

/// `POST /console/operations/{id}/cancel`.
pub async fn cancel(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    user: ConsoleUser,
    Path(id): Path<String>,
    form: Result<Form<CsrfOnly>, FormRejection>,
) -> Result<Response, ConsoleError> {
    let form = forms::read(form);
    let mut tx = confirm::begin(&state, &user, &form.csrf).await?;
    let now = now_ms();
    let operation = operations::operation(&mut *tx, &id, user.dealer_code())
        .await?
        .ok_or(ConsoleError::NotFound)?;
    if !user.has_full_access() && operation.prepared_by != user.email() {
        return Err(ConsoleError::Forbidden);
    }
    if !operations::decide(
        &mut tx,
        &id,
        user.dealer_code(),
        OperationState::Cancelled,
        user.email(),
        now,
    )
    .await?
    {
        return Err(ConsoleError::NotFound);
    }
    let event = Event {
        action: Action::OperationCancelled,
        subject: format!("operation:{id}"),
        details: audit::change(
            serde_json::json!({ "state": "prepared" }),
            serde_json::json!({ "state": "cancelled" }),
        ),
    };
    audit::record_in(&mut tx, &user.actor(ip), &event, now).await?;
    tx.commit().await?;
    Ok(Redirect::to(PATH).into_response())
}
