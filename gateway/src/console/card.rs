//! Card payments in the console:
//!
//! * `GET /console/card` (a dealer) and `GET /console/operator/card` (the operator, every
//!   dealer): the newest bills paid by card (or waiting), with their refund to the card;
//! * `POST …/card/{transaction}/refund` — refund a card payment to the card: the operator or a
//!   dealer's full-access user, with a one-time code (the rules are in
//!   [`crate::card::refund::console_refund_in`]; it is audited there).

use axum::{
    Form, Router,
    extract::{Path, Query, State, rejection::FormRejection},
    response::{IntoResponse, Redirect, Response},
    routing::{get, post},
};
use maud::{Markup, html};
use serde::Deserialize;

use super::{
    ConsoleError, confirm, forms,
    layout::{self, button_form, tenge, tr, when},
    session::{ConsoleUser, OperatorUser, SignedIn},
};
use crate::{
    card::refund::{CONSOLE_REFUND_DAYS, console_refund_in},
    db::{
        bills::{self, BillState, Listed},
        now_ms,
    },
    state::AppState,
    web::client_ip::ClientIp,
};

const DEALER_PATH: &str = "/console/card";
const OPERATOR_PATH: &str = "/console/operator/card";
/// The most bills the list shows.
const LIST_LIMIT: i64 = 200;

/// The dealer's routes, relative to `/console`.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/card", get(dealer_list))
        .route("/card/{transaction}/refund", post(dealer_refund))
}

/// The operator's routes, relative to `/console/operator`.
pub fn operator_router() -> Router<AppState> {
    Router::new()
        .route("/card", get(operator_list))
        .route("/card/{transaction}/refund", post(operator_refund))
}

/// The list's search: a payment's transaction number or a bill's invoice number.
#[derive(Debug, Default, Deserialize)]
pub struct Search {
    #[serde(default)]
    q: String,
}

/// A confirmed refund's form.
#[derive(Debug, Default, Deserialize)]
pub struct RefundForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    otp: String,
}

/// Whether the list offers the refund button for `row` (the rules decide for good).
fn refundable(row: &Listed, now: i64) -> bool {
    row.bill.state == BillState::Paid
        && row.refund.is_none()
        && now - row.bill.updated_at_ms <= CONSOLE_REFUND_DAYS * 24 * 60 * 60 * 1000
}

/// The newest bills, or the one `search` names: a payment older than the newest
/// [`LIST_LIMIT`] is still found to be refunded within [`CONSOLE_REFUND_DAYS`].
async fn list(
    state: &AppState,
    user: &SignedIn,
    dealer_code: Option<&str>,
    path: &str,
    search: &Search,
) -> Result<Markup, ConsoleError> {
    let wanted = search.q.trim();
    let rows = {
        let mut conn = state.pool.acquire().await?;
        if wanted.is_empty() {
            bills::recent(&mut conn, dealer_code, LIST_LIMIT).await?
        } else {
            bills::find_listed(&mut conn, dealer_code, wanted).await?
        }
    };
    let now = now_ms();
    let content = html! {
        p.muted { (tr("card.hint")) }
        form.bill-search #bill-search method="get" action=(path) {
            label { (tr("card.search")) input type="search" name="q" value=(wanted) size="14"; }
            button type="submit" { (tr("payments.search")) }
        }
        @if rows.is_empty() && !wanted.is_empty() {
            p #no-bills { (tr("card.not_found")) }
        } @else if rows.is_empty() {
            p #no-bills { (tr("card.none")) }
        } @else {
            div.table-scroll {
                table #bills {
                    thead { tr {
                        th { (tr("card.invoice")) }
                        @if dealer_code.is_none() { th { (tr("card.dealer")) } }
                        th { (tr("keys.col_point")) }
                        th { (tr("payments.provider")) }
                        th { (tr("payments.account")) }
                        th.amount { (tr("card.paid_amount")) }
                        th { (tr("card.state")) }
                        th { (tr("payments.transaction")) }
                        th { (tr("card.refund")) }
                        @if user.has_full_access() { th { (tr("deliveries.col_actions")) } }
                    } }
                    tbody {
                        @for row in &rows {
                            @let bill = &row.bill;
                            @let content = bill.content.as_ref();
                            tr.bill data-invoice=(bill.invoice) data-state=(bill.state.as_str())
                                data-transaction=[bill.transaction_id.as_deref()] {
                                td { (bill.invoice) }
                                @if dealer_code.is_none() { td { (bill.dealer_code) } }
                                td { (bill.point_code) }
                                td { (content.map(|c| c.provider.as_str()).unwrap_or("")) }
                                td { (content.map(|c| c.account.as_str()).unwrap_or("")) }
                                td.amount { (tenge(content.map(|c| c.customer_amount_tiyn).unwrap_or(0))) }
                                td { (tr(&format!("card.state_{}", bill.state.as_str()))) br; small { (when(bill.updated_at_ms)) } }
                                td { (bill.transaction_id.as_deref().unwrap_or("—")) }
                                td.refund data-refund=[row.refund.as_ref().map(|r| r.state.as_str())] {
                                    @if let Some(refund) = &row.refund {
                                        (tr(&format!("card.refund_{}", refund.state.as_str())))
                                        " · " (tr(&format!("card.reason_{}", refund.reason)))
                                        @if let Some(error) = &refund.error { br; small { (error) } }
                                    } @else { "—" }
                                }
                                @if user.has_full_access() {
                                    td.actions {
                                        @if let (true, Some(transaction)) = (refundable(row, now), &bill.transaction_id) {
                                            (button_form("refund", &format!("{path}/{transaction}/refund"), "card.refund_button", user, true, None))
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
    Ok(layout::page(path, &tr("card.title"), Some(user), content))
}

/// `GET /console/card`.
async fn dealer_list(
    State(state): State<AppState>,
    user: ConsoleUser,
    Query(search): Query<Search>,
) -> Result<Markup, ConsoleError> {
    let dealer = user.dealer_code().to_owned();
    list(&state, &user, Some(&dealer), DEALER_PATH, &search).await
}

/// `GET /console/operator/card`.
async fn operator_list(
    State(state): State<AppState>,
    user: OperatorUser,
    Query(search): Query<Search>,
) -> Result<Markup, ConsoleError> {
    list(&state, &user, None, OPERATOR_PATH, &search).await
}

/// Refunds `transaction` of `dealer_code` (`None`: the operator, any dealer's), then back.
async fn refund(
    state: &AppState,
    ip: std::net::IpAddr,
    user: &SignedIn,
    dealer_code: Option<&str>,
    transaction: &str,
    form: &RefundForm,
    back: &str,
) -> Result<Response, ConsoleError> {
    let mut tx = confirm::begin_confirmed(state, user, ip, &form.csrf, &form.otp).await?;
    console_refund_in(&mut tx, transaction, dealer_code, &user.actor(ip), now_ms())
        .await
        .map_err(|error| match error {
            crate::card::refund::ConsoleRefundError::Database(error) => error.into(),
            other => ConsoleError::invalid(other.message_key(), back),
        })?;
    tx.commit().await?;
    state.card.refunds.notify_one();
    Ok(Redirect::to(back).into_response())
}

/// `POST /console/card/{transaction}/refund`.
async fn dealer_refund(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    user: ConsoleUser,
    Path(transaction): Path<String>,
    form: Result<Form<RefundForm>, FormRejection>,
) -> Result<Response, ConsoleError> {
    let form = forms::read(form);
    let dealer = user.dealer_code().to_owned();
    refund(
        &state,
        ip,
        &user,
        Some(&dealer),
        &transaction,
        &form,
        DEALER_PATH,
    )
    .await
}

/// `POST /console/operator/card/{transaction}/refund`.
async fn operator_refund(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    user: OperatorUser,
    Path(transaction): Path<String>,
    form: Result<Form<RefundForm>, FormRejection>,
) -> Result<Response, ConsoleError> {
    let form = forms::read(form);
    refund(&state, ip, &user, None, &transaction, &form, OPERATOR_PATH).await
}
