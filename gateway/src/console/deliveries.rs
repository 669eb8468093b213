//! Deliveries to providers in the console:
//!
//! * on a payment's page ([`section`]): where its delivery is, the provider's number, and every
//!   attempt (time, what was sent, what came back, how long it took);
//! * `GET /console/deliveries` (a dealer) and `GET /console/operator/deliveries` (the operator,
//!   every dealer): the delayed and the recently refused deliveries, per provider;
//! * `POST …/deliveries/{transaction}/retry` — *retry now*, full access and a one-time code;
//! * `POST /console/operator/deliveries/{transaction}/delivered` — the operator marks a
//!   delivery delivered with the provider's number after a dispute, with a one-time code;
//! * `POST /console/operator/deliveries/{transaction}/refused` — the operator marks refused,
//!   with a reason and a one-time code, a delivery the provider never answers for good: its
//!   money goes back to the dealer as after a provider's refusal.
//!
//! The rules are in [`crate::delivery::manual`]; every action is audited there.

use axum::{
    Form, Router,
    extract::{Path, State, rejection::FormRejection},
    http::StatusCode,
    response::{IntoResponse, Redirect, Response},
    routing::{get, post},
};
use maud::{Markup, html};
use serde::Deserialize;

use super::{
    ConsoleError, confirm, forms,
    layout::{self, button_form, otp_field, tenge, tr, when},
    session::{ConsoleUser, OperatorUser, SignedIn},
};
use crate::{
    db::{
        deliveries::{self, Delivery, State as DeliveryState},
        now_ms,
    },
    delivery::{
        DELAYED_AFTER_MS,
        manual::{self, ManualError},
    },
    state::AppState,
    web::client_ip::ClientIp,
};

const DEALER_PATH: &str = "/console/deliveries";
const OPERATOR_PATH: &str = "/console/operator/deliveries";
/// Refused deliveries are listed this long after they were refused.
const FAILED_SHOWN_MS: i64 = 7 * 24 * 60 * 60 * 1000;
/// The most deliveries of one provider a list shows (its oldest); the list says how many
/// there are in all.
const PER_PROVIDER: i64 = 100;

/// The dealer's routes, relative to `/console`.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/deliveries", get(dealer_list))
        .route("/deliveries/{transaction}/retry", post(dealer_retry))
}

/// The operator's routes, relative to `/console/operator`.
pub fn operator_router() -> Router<AppState> {
    Router::new()
        .route("/deliveries", get(operator_list))
        .route("/deliveries/{transaction}/retry", post(operator_retry))
        .route("/deliveries/{transaction}/delivered", post(operator_mark))
        .route(
            "/deliveries/{transaction}/refused",
            post(operator_mark_refused),
        )
}

/// A confirmed action's form.
#[derive(Debug, Default, Deserialize)]
pub struct ConfirmForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    otp: String,
    #[serde(default)]
    back: String,
    #[serde(default)]
    provider_txn: String,
    #[serde(default)]
    reason: String,
}

/// The state's words.
fn state_text(delivery: &Delivery) -> String {
    tr(&format!("deliveries.state_{}", delivery.state.as_str()))
}

fn is_unfinished(delivery: &Delivery) -> bool {
    matches!(
        delivery.state,
        DeliveryState::Queued | DeliveryState::Sent | DeliveryState::Retrying
    )
}

/// The delivery part of a payment's page.
pub async fn section(
    state: &AppState,
    user: &SignedIn,
    transaction_id: &str,
    back: &str,
) -> Result<Markup, ConsoleError> {
    let mut conn = state.pool.acquire().await?;
    let Some(delivery) = deliveries::find(&mut conn, transaction_id).await? else {
        return Ok(html! {});
    };
    drop(conn);
    let attempts = deliveries::attempts(&state.pool, transaction_id).await?;
    Ok(html! {
        h2 { (tr("deliveries.title_one")) }
        dl.delivery #delivery data-state=(delivery.state.as_str()) {
            dt { (tr("deliveries.state")) } dd #delivery-state { (state_text(&delivery)) }
            @if let Some(txn) = delivery.txn_id {
                dt { (tr("deliveries.txn_id")) } dd { code { (txn) } }
            }
            @if let Some(number) = &delivery.provider_txn {
                dt { (tr("deliveries.provider_txn")) } dd #provider-txn { code { (number) } }
            }
            @if let Some(code) = delivery.result_code {
                dt { (tr("deliveries.result")) } dd #delivery-result { (code) " " (delivery.comment.as_deref().unwrap_or("")) }
            }
            @if let Some(by) = &delivery.marked_by {
                dt { (tr("deliveries.marked_by")) } dd { (by) }
            }
        }
        @if is_unfinished(&delivery) && user.has_full_access() && !user.is_operator() {
            (button_form("retry", &format!("{DEALER_PATH}/{transaction_id}/retry"), "deliveries.retry", user, true, Some(back)))
        }
        @if attempts.is_empty() {
            p.muted { (tr("deliveries.no_attempts")) }
        } @else {
            div.table-scroll {
                table #attempts {
                    thead { tr {
                        th { "#" }
                        th { (tr("deliveries.col_time")) }
                        th { (tr("deliveries.col_outcome")) }
                        th { (tr("deliveries.col_request")) }
                        th { (tr("deliveries.col_answer")) }
                        th.amount { (tr("deliveries.col_latency")) }
                    } }
                    tbody {
                        @for a in &attempts {
                            tr.attempt data-outcome=(a.outcome) {
                                td { (a.attempt) }
                                td { (when(a.at_ms)) }
                                td { (tr(&format!("deliveries.outcome_{}", a.outcome))) @if let Some(e) = &a.error { br; small { (e) } } }
                                td { code.wrap { (a.request) } }
                                td { @if let Some(answer) = &a.answer { pre.json { (answer) } } }
                                td.amount { (a.latency_ms) " ms" }
                            }
                        }
                    }
                }
            }
        }
    })
}

/// The operator's two *mark* forms.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mark {
    /// With the provider's number.
    Delivered,
    /// With a reason.
    Refused,
}

/// A *mark* form refused: shown again on its row with what was typed.
struct MarkRefused<'a> {
    transaction: &'a str,
    mark: Mark,
    message: String,
    typed: &'a str,
}

/// The delayed and recently refused deliveries, as a table; `operator` adds the dealer column
/// and the *mark delivered* and *mark refused* forms.
async fn list(
    state: &AppState,
    user: &SignedIn,
    dealer_code: Option<&str>,
    path: &str,
    refused: Option<&MarkRefused<'_>>,
) -> Result<Markup, ConsoleError> {
    let now = now_ms();
    let rows = deliveries::troubled(
        &state.pool,
        dealer_code,
        now - DELAYED_AFTER_MS,
        now - FAILED_SHOWN_MS,
        PER_PROVIDER,
    )
    .await?;
    let operator = dealer_code.is_none();
    // Each provider once, with its count: a provider with more than the list shows says so.
    let mut providers: Vec<(&str, i64)> = rows
        .iter()
        .map(|t| (t.delivery.provider.as_str(), t.of_provider))
        .collect();
    providers.dedup();
    let content = html! {
        p.muted { (tr("deliveries.hint")) }
        @if rows.is_empty() {
            p #no-deliveries { (tr("deliveries.none")) }
        } @else {
            ul #provider-counts {
                @for (provider, count) in &providers {
                    li data-provider=(provider) data-count=(count) {
                        (provider) ": " (count)
                        @if *count > PER_PROVIDER {
                            " " span.muted { (shown_first()) }
                        }
                    }
                }
            }
            div.table-scroll {
                table #deliveries {
                    thead { tr {
                        th { (tr("payments.provider")) }
                        th { (tr("payments.transaction")) }
                        th { (tr("payments.account")) }
                        th.amount { (tr("payments.amount")) }
                        th { (tr("deliveries.state")) }
                        th { (tr("deliveries.col_queued")) }
                        th { (tr("deliveries.col_attempts")) }
                        th { (tr("deliveries.result")) }
                        @if user.has_full_access() { th { (tr("deliveries.col_actions")) } }
                    } }
                    tbody {
                        @for t in &rows {
                            @let (d, account, amount) = (&t.delivery, &t.account, &t.amount_tiyn);
                            @let refusal = refused.filter(|r| r.transaction == d.transaction_id && r.mark == Mark::Delivered);
                            @let refusal_of_refused = refused.filter(|r| r.transaction == d.transaction_id && r.mark == Mark::Refused);
                            tr.delivery data-transaction=(d.transaction_id) data-state=(d.state.as_str()) {
                                td { (d.provider) }
                                td { (d.transaction_id) }
                                td { (account) }
                                td.amount { (tenge(*amount)) }
                                td { (state_text(d)) }
                                td { (when(d.queued_at_ms)) }
                                td { (d.attempts) }
                                td { @if let Some(code) = d.result_code { (code) " " } (d.comment.as_deref().unwrap_or("")) }
                                @if user.has_full_access() {
                                    td.actions {
                                        @if is_unfinished(d) {
                                            (button_form("retry", &format!("{path}/{}/retry", d.transaction_id), "deliveries.retry", user, true, None))
                                            @if operator {
                                                form.mark-delivered method="post" action=(format!("{path}/{}/delivered", d.transaction_id)) {
                                                    input type="hidden" name="csrf" value=(user.csrf_token());
                                                    @if let Some(refusal) = refusal {
                                                        p.error.mark-error role="alert" { (refusal.message) }
                                                    }
                                                    input type="text" name="provider_txn" required maxlength="64" size="12"
                                                        value=[refusal.map(|r| r.typed)]
                                                        placeholder=(tr("deliveries.provider_txn")) aria-label=(tr("deliveries.provider_txn"));
                                                    (otp_field())
                                                    button type="submit" { (tr("deliveries.mark_delivered")) }
                                                }
                                                form.mark-refused method="post" action=(format!("{path}/{}/refused", d.transaction_id)) {
                                                    input type="hidden" name="csrf" value=(user.csrf_token());
                                                    @if let Some(refusal) = refusal_of_refused {
                                                        p.error.mark-error role="alert" { (refusal.message) }
                                                    }
                                                    input type="text" name="reason" required maxlength="500" size="16"
                                                        value=[refusal_of_refused.map(|r| r.typed)]
                                                        placeholder=(tr("deliveries.refuse_reason")) aria-label=(tr("deliveries.refuse_reason"));
                                                    (otp_field())
                                                    button type="submit" { (tr("deliveries.mark_refused")) }
                                                }
                                            }
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
    };
    Ok(layout::page(
        path,
        &tr("deliveries.title"),
        Some(user),
        content,
    ))
}

/// "only the oldest N are shown", in the user's language.
fn shown_first() -> String {
    rust_i18n::t!(
        "deliveries.shown_first",
        locale = crate::web::language::current().tag(),
        n = PER_PROVIDER
    )
    .into_owned()
}

/// `GET /console/deliveries`.
async fn dealer_list(
    State(state): State<AppState>,
    user: ConsoleUser,
) -> Result<Markup, ConsoleError> {
    list(&state, &user, Some(user.dealer_code()), DEALER_PATH, None).await
}

/// `GET /console/operator/deliveries`.
async fn operator_list(
    State(state): State<AppState>,
    user: OperatorUser,
) -> Result<Markup, ConsoleError> {
    list(&state, &user, None, OPERATOR_PATH, None).await
}

fn refused(error: ManualError, back: &str) -> ConsoleError {
    match error {
        ManualError::NotFound => ConsoleError::NotFound,
        ManualError::Database(error) => error.into(),
        ManualError::Earn(error) => ConsoleError::Internal(error.to_string()),
        ManualError::Reversal(error) => ConsoleError::Internal(error.to_string()),
        other => ConsoleError::invalid(other.message_key(), back),
    }
}

/// *Retry now* for `dealer_code`'s delivery (`None`: the operator, any dealer's), then back.
async fn retry(
    state: &AppState,
    ip: std::net::IpAddr,
    user: &SignedIn,
    dealer_code: Option<&str>,
    transaction: &str,
    form: &ConfirmForm,
    back: &str,
) -> Result<Response, ConsoleError> {
    let mut tx = confirm::begin_confirmed(state, user, ip, &form.csrf, &form.otp).await?;
    manual::retry_now_in(&mut tx, &user.actor(ip), dealer_code, transaction, now_ms())
        .await
        .map_err(|e| refused(e, back))?;
    tx.commit().await?;
    state.delivery.wake();
    Ok(Redirect::to(back).into_response())
}

/// `POST /console/deliveries/{transaction}/retry`.
async fn dealer_retry(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    user: ConsoleUser,
    Path(transaction): Path<String>,
    form: Result<Form<ConfirmForm>, FormRejection>,
) -> Result<Response, ConsoleError> {
    let form = forms::read(form);
    let back = forms::back_to(&form.back, DEALER_PATH);
    let dealer = Some(user.dealer_code());
    retry(&state, ip, &user, dealer, &transaction, &form, &back).await
}

/// `POST /console/operator/deliveries/{transaction}/retry`.
async fn operator_retry(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    user: OperatorUser,
    Path(transaction): Path<String>,
    form: Result<Form<ConfirmForm>, FormRejection>,
) -> Result<Response, ConsoleError> {
    let form = forms::read(form);
    retry(&state, ip, &user, None, &transaction, &form, OPERATOR_PATH).await
}

/// `POST /console/operator/deliveries/{transaction}/delivered`.
async fn operator_mark(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    user: OperatorUser,
    Path(transaction): Path<String>,
    form: Result<Form<ConfirmForm>, FormRejection>,
) -> Result<Response, ConsoleError> {
    mark(
        &state,
        ip,
        &user,
        &transaction,
        &forms::read(form),
        Mark::Delivered,
    )
    .await
}

/// `POST /console/operator/deliveries/{transaction}/refused`.
async fn operator_mark_refused(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    user: OperatorUser,
    Path(transaction): Path<String>,
    form: Result<Form<ConfirmForm>, FormRejection>,
) -> Result<Response, ConsoleError> {
    mark(
        &state,
        ip,
        &user,
        &transaction,
        &forms::read(form),
        Mark::Refused,
    )
    .await
}

/// The operator's *mark delivered* or *mark refused* of `transaction`, then the list.
async fn mark(
    state: &AppState,
    ip: std::net::IpAddr,
    user: &SignedIn,
    transaction: &str,
    form: &ConfirmForm,
    which: Mark,
) -> Result<Response, ConsoleError> {
    let typed = match which {
        Mark::Delivered => &form.provider_txn,
        Mark::Refused => &form.reason,
    };
    // A refusal the operator can mend shows the list again, what was typed kept on its row.
    let again = async |status: StatusCode, message: String| {
        let refused = MarkRefused {
            transaction,
            mark: which,
            message,
            typed,
        };
        let page = list(state, user, None, OPERATOR_PATH, Some(&refused)).await?;
        Ok::<_, ConsoleError>((status, page).into_response())
    };
    let mut tx = match confirm::begin_confirmed(state, user, ip, &form.csrf, &form.otp).await {
        Ok(tx) => tx,
        Err(error) => return again(StatusCode::FORBIDDEN, confirm::code_refusal(error)?).await,
    };
    let actor = user.actor(ip);
    let marked = match which {
        Mark::Delivered => {
            manual::mark_delivered_in(&mut tx, &actor, transaction, typed, now_ms()).await
        }
        Mark::Refused => {
            manual::mark_refused_in(&mut tx, &actor, transaction, typed, now_ms()).await
        }
    };
    match marked {
        Ok(()) => {
            tx.commit().await?;
            Ok(Redirect::to(OPERATOR_PATH).into_response())
        }
        Err(error @ (ManualError::BadProviderTxn | ManualError::BadReason)) => {
            tx.rollback().await?;
            again(StatusCode::UNPROCESSABLE_ENTITY, tr(error.message_key())).await
        }
        Err(error) => Err(refused(error, OPERATOR_PATH)),
    }
}
