//! Money in, the four-eyes way, the operator's pages:
//!
//! * `GET /console/operator/top-ups` — every dealer's top-up requests, the waiting ones first
//!   (`tr[data-request][data-state]`: dealer, amount, bank reference, date paid, who asked);
//! * `POST /console/operator/top-ups/{id}/confirm` (`form.confirm-top-up`: `csrf`, `otp`) —
//!   after checking the bank statement: the ledger is credited in the same transaction; a
//!   request decided already changes nothing and says so (409);
//! * `POST /console/operator/top-ups/{id}/reject` (`form.reject-top-up`: `csrf`, `reason`,
//!   `otp`) — the reason is shown to the dealer.

use axum::{
    Form, Router,
    extract::{Path, State, rejection::FormRejection},
    http::StatusCode,
    response::{IntoResponse, Redirect, Response},
    routing::{get, post},
};
use maud::{Markup, html};
use serde::Deserialize;

use crate::{
    console::{
        ConsoleError, confirm, forms,
        layout::{self, otp_field, tenge, tr, when},
        session::OperatorUser,
    },
    db::now_ms,
    operator::money::{self, MoneyError},
    state::AppState,
    web::client_ip::ClientIp,
};

const PATH: &str = "/console/operator/top-ups";
/// How many decided requests the page lists.
const DECIDED: i64 = 200;

/// Routes relative to `/console/operator`.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/top-ups", get(page))
        .route("/top-ups/{id}/confirm", post(confirm_request))
        .route("/top-ups/{id}/reject", post(reject_request))
}

/// A confirmation or a rejection as posted.
#[derive(Default, Deserialize)]
pub struct DecisionForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    otp: String,
    #[serde(default)]
    reason: String,
}

/// The page, with an error about request `id` (the id, the message) and the reason typed.
async fn render(
    state: &AppState,
    user: &OperatorUser,
    error: Option<(&str, String, &str)>,
) -> Result<Markup, ConsoleError> {
    let requests = money::top_up_requests(&state.pool, DECIDED).await?;
    let content = html! {
        p.intro { (tr("top_ups.operator_intro")) }
        @if let Some((id, message, _)) = &error {
            p.error.form-error #top-up-error data-request=(id) role="alert" { (id) ": " (message) }
        }
        @if requests.is_empty() {
            p.muted #no-top-up-requests { (tr("top_ups.none")) }
        } @else {
            div.table-scroll {
                table.top-up-requests #top-up-requests {
                    thead { tr {
                        th { "№" } th { (tr("dealers.dealer")) } th.amount { (tr("money.col_amount")) }
                        th { (tr("money.reference")) } th { (tr("top_ups.paid_on")) }
                        th { (tr("top_ups.requested_by")) } th { (tr("top_ups.state")) }
                    } }
                    tbody {
                        @for request in &requests {
                            tr data-request=(request.id) data-state=(request.state) data-dealer=(request.dealer_code) {
                                td { code { (request.id) } }
                                td { a href={ "/console/operator/dealers/" (request.dealer_code) } { (request.dealer_code) } }
                                td.amount data-tiyn=(request.amount_tiyn) { (tenge(request.amount_tiyn)) }
                                td { (request.bank_reference) }
                                td { (request.paid_on) }
                                td { (request.requested_by) br; span.muted { (when(request.requested_at_ms)) } }
                                td {
                                    @if request.state == "requested" {
                                        form.confirm-top-up method="post" action={ (PATH) "/" (request.id) "/confirm" } {
                                            input type="hidden" name="csrf" value=(user.csrf_token());
                                            (otp_field())
                                            button type="submit" { (tr("top_ups.confirm")) }
                                        }
                                        form.reject-top-up method="post" action={ (PATH) "/" (request.id) "/reject" } {
                                            input type="hidden" name="csrf" value=(user.csrf_token());
                                            @let typed = error.as_ref().filter(|e| e.0 == request.id).map(|e| e.2).unwrap_or("");
                                            input type="text" name="reason" maxlength="500" required
                                                value=(typed) placeholder=(tr("top_ups.reject_reason"));
                                            (otp_field())
                                            button type="submit" { (tr("top_ups.reject")) }
                                        }
                                    } @else {
                                        (tr(&format!("top_ups.state_{}", request.state))) ": "
                                        (request.decided_by.as_deref().unwrap_or("")) br;
                                        span.muted { (when(request.decided_at_ms.unwrap_or_default())) }
                                        @if !request.decision_note.is_empty() {
                                            br; span.decision-note { (request.decision_note) }
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
        PATH,
        &tr("top_ups.title"),
        Some(user),
        content,
    ))
}

/// `GET /console/operator/top-ups`.
pub async fn page(
    State(state): State<AppState>,
    user: OperatorUser,
) -> Result<Markup, ConsoleError> {
    render(&state, &user, None).await
}

/// What a failed decision answers: the page again with the error.
async fn refused(
    state: &AppState,
    user: &OperatorUser,
    id: &str,
    error: MoneyError,
    reason: &str,
) -> Result<Response, ConsoleError> {
    let status = match error {
        MoneyError::NotFound => return Err(ConsoleError::NotFound),
        MoneyError::Database(error) => return Err(error.into()),
        MoneyError::AlreadyDecided(_) | MoneyError::ReferenceUsed => StatusCode::CONFLICT,
        _ => StatusCode::UNPROCESSABLE_ENTITY,
    };
    let page = render(state, user, Some((id, tr(error.message_key()), reason))).await?;
    Ok((status, page).into_response())
}

/// A wrong or reused one-time code: the list again, the request's form with its message and
/// the reason typed (403); any other error of [`confirm::begin_confirmed`] is the console's
/// error page.
async fn code_refused(
    state: &AppState,
    user: &OperatorUser,
    id: &str,
    error: ConsoleError,
    reason: &str,
) -> Result<Response, ConsoleError> {
    let message = confirm::code_refusal(error)?;
    let page = render(state, user, Some((id, message, reason))).await?;
    Ok((StatusCode::FORBIDDEN, page).into_response())
}

/// `POST /console/operator/top-ups/{id}/confirm`.
pub async fn confirm_request(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    user: OperatorUser,
    Path(id): Path<String>,
    form: Result<Form<DecisionForm>, FormRejection>,
) -> Result<Response, ConsoleError> {
    let form = forms::read(form);
    let mut tx = match confirm::begin_confirmed(&state, &user, ip, &form.csrf, &form.otp).await {
        Ok(tx) => tx,
        Err(error) => return code_refused(&state, &user, &id, error, "").await,
    };
    match money::confirm_top_up_in(&mut tx, &user.actor(ip), &id, now_ms()).await {
        Ok(_) => {
            tx.commit().await?;
            Ok(Redirect::to(PATH).into_response())
        }
        Err(error) => {
            drop(tx);
            refused(&state, &user, &id, error, "").await
        }
    }
}

/// `POST /console/operator/top-ups/{id}/reject`.
pub async fn reject_request(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    user: OperatorUser,
    Path(id): Path<String>,
    form: Result<Form<DecisionForm>, FormRejection>,
) -> Result<Response, ConsoleError> {
    let form = forms::read(form);
    user.check_csrf(&form.csrf)?;
    if form.reason.trim().is_empty() {
        return refused(&state, &user, &id, MoneyError::ReasonRequired, "").await;
    }
    let mut tx = match confirm::begin_confirmed(&state, &user, ip, &form.csrf, &form.otp).await {
        Ok(tx) => tx,
        Err(error) => return code_refused(&state, &user, &id, error, &form.reason).await,
    };
    match money::reject_top_up_in(&mut tx, &user.actor(ip), &id, &form.reason, now_ms()).await {
        Ok(()) => {
            tx.commit().await?;
            Ok(Redirect::to(PATH).into_response())
        }
        Err(error) => {
            drop(tx);
            refused(&state, &user, &id, error, &form.reason).await
        }
    }
}
