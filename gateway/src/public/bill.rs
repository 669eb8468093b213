//! The customer's pages of a card bill, opened on the customer's own phone from the QR code
//! the cashier shows (no login; Russian by default, `?lang=kk` / `?lang=en`):
//!
//! * `GET /bill/<token>` — what is being paid (provider, account, the amount to pay, the point),
//!   or why it cannot be paid; a field for the receipt's e-mail address and the *Pay by card*
//!   button;
//! * `POST /bill/<token>` — makes the order with the payment service and sends the browser to
//!   its hosted page (where the card is typed and 3-D Secure runs; the card never reaches us);
//! * `GET /card/bill/<invoice>/<check>` — where the payment service sends the browser back: the
//!   outcome as the gateway knows it (paid, waiting for the service's confirmation — the page
//!   refreshes itself —, the card refused and why, expired, cancelled). It settles nothing: only
//!   the service's signed notification does. `<check>` is the start of the bill's signature,
//!   so invoice numbers cannot be walked to read other people's bills.

use axum::{
    Form, Router,
    extract::{Path, Query, State},
    http::{HeaderValue, StatusCode, header},
    middleware,
    response::{IntoResponse, Response},
    routing::get,
};
use maud::html;
use serde::Deserialize;
use tolem_protocol::{
    bill::BILL_PATH,
    codes::{Lang, ResultCode},
    messages::{CardRefusal, Letter},
};

use super::frame::frame;
use crate::{
    card::{
        notify::refusal_from_word,
        open::{self, OpenError, Opened},
        order::{self, CHECK_CHARS, Choices, check_of},
    },
    db::{
        bills::{self, BillState},
        deliveries, now_ms, payments, providers,
    },
    display::{local_time, tenge},
    mail::compose,
    state::AppState,
    web::language::{self, tr},
};

/// The customer's routes, with the public pages' language handling and headers.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/bill/{token}", get(page).post(pay))
        .route("/card/bill/{invoice}/{check}", get(outcome))
        .layer(middleware::from_fn(super::security_headers))
        .layer(middleware::from_fn(language::remember))
}

/// `GET /bill/<token>`.
async fn page(State(state): State<AppState>, Path(token): Path<String>) -> Response {
    match open::open(&state.pool, &token, state.card.bill_lifetime_ms, now_ms()).await {
        Ok(opened) => render_bill(&state, &token, &opened, None, None).await,
        Err(error) => refused(error).await,
    }
}

/// The form as posted.
#[derive(Debug, Default, Deserialize)]
struct PayForm {
    #[serde(default)]
    email: String,
}

/// `POST /bill/<token>`.
async fn pay(
    State(state): State<AppState>,
    Path(token): Path<String>,
    Form(form): Form<PayForm>,
) -> Response {
    let opened = match open::open(&state.pool, &token, state.card.bill_lifetime_ms, now_ms()).await
    {
        Ok(opened) => opened,
        Err(error) => return refused(error).await,
    };
    let email = form.email.trim();
    let email = (!email.is_empty()).then_some(email);
    if let Some(address) = email
        && !valid_address(address)
    {
        let refused = tr("bill.bad_email");
        return render_bill(&state, &token, &opened, Some(&refused), email).await;
    }
    let Some(service) = state.card.service.clone() else {
        return render_bill(&state, &token, &opened, Some(&tr("bill.cards_off")), email).await;
    };
    let choices = Choices {
        email,
        lang: language::current(),
        origin: origin(&state),
    };
    let page = order::start(&state.pool, service.as_ref(), &opened, &choices)
        .await
        .and_then(|page| {
            // Checked when the service answered (`Created::at`); an order stored before that
            // check could still hold an address no header carries.
            HeaderValue::try_from(page).map_err(|_| order::OrderError::PageNotAnAddress)
        });
    match page {
        Ok(page) => (StatusCode::SEE_OTHER, [(header::LOCATION, page)]).into_response(),
        Err(error) => {
            tracing::warn!(invoice = opened.bill.invoice, %error, "card order not made");
            render_bill(
                &state,
                &token,
                &opened,
                Some(&tr("bill.service_unreachable")),
                email,
            )
            .await
        }
    }
}

/// An e-mail address the receipt can go to: the same checks as a signed letter's recipient
/// (the protocol's plain one — one `@`, a dotted domain, nothing that could break a header —
/// and an address the e-mail can be written to).
fn valid_address(address: &str) -> bool {
    Letter {
        to: address.to_owned(),
        text: "-".to_owned(),
    }
    .check()
    .is_ok()
        && compose::can_write_to(address)
}

/// The gateway's address as customers reach it, set at start
/// ([`crate::card::CardPayments::set_public_url`]);
/// a gateway made without one (no card service) has only this machine's.
fn origin(state: &AppState) -> &str {
    state
        .card
        .public_url
        .as_deref()
        .unwrap_or("http://localhost")
}

async fn provider_name(state: &AppState, code: &str) -> String {
    let Ok(mut conn) = state.pool.acquire().await else {
        return code.to_owned();
    };
    match providers::payable_provider(&mut conn, code).await {
        Ok(Ok(provider)) => provider.name,
        _ => code.to_owned(),
    }
}

/// The bill's page: `error` above the form when something was refused, and the e-mail address
/// the customer typed, if any, still in its field to correct.
async fn render_bill(
    state: &AppState,
    token: &str,
    opened: &Opened,
    error: Option<&str>,
    typed_email: Option<&str>,
) -> Response {
    let payment = opened.payment();
    let provider = provider_name(state, &payment.provider).await;
    let bill = &opened.bill;
    let refusal = bill.decline.as_deref().map(refusal_from_word);
    let content = html! {
        section.bill #bill data-state="awaiting" {
            dl {
                dt { (tr("bill.provider")) } dd #provider { (provider) }
                dt { (tr("bill.account")) } dd #account { (payment.account) }
                dt { (tr("bill.amount")) } dd #amount { (tenge(payment.amount_tiyn)) " ₸" }
                dt { (tr("bill.commission")) }
                dd #commission { (tenge(payment.customer_amount_tiyn - payment.amount_tiyn)) " ₸" }
                dt { (tr("bill.to_pay")) } dd { strong #to-pay { (tenge(payment.customer_amount_tiyn)) " ₸" } }
                dt { (tr("bill.point")) } dd #point { (opened.sender.point.name) }
                dt { (tr("bill.expires")) } dd #expires { (local_time(bill.expires_at_ms)) }
            }
            @if let Some(refusal) = refusal {
                p.error #refusal data-refusal=(refusal_key(refusal)) {
                    (tr("bill.card_refused")) ": " (tr(&format!("bill.refusal_{}", refusal_key(refusal))))
                }
            }
            @if let Some(error) = error { p.error #error { (error) } }
            form method="post" action={ (BILL_PATH) (token) "?lang=" (language::current().tag()) } {
                label for="email" { (tr("bill.email")) }
                input #email type="email" name="email" autocomplete="email" inputmode="email"
                    value=[typed_email];
                p.muted { (tr("bill.card_note")) }
                button #pay type="submit" { (tr("bill.pay")) " " (tenge(payment.customer_amount_tiyn)) " ₸" }
            }
        }
    };
    let here = format!("{BILL_PATH}{token}");
    let status = if error.is_some() {
        StatusCode::UNPROCESSABLE_ENTITY
    } else {
        StatusCode::OK
    };
    (status, frame(&tr("bill.title"), &here, content)).into_response()
}

/// The page for a bill that cannot be paid.
async fn refused(error: OpenError) -> Response {
    let (status, state_word, text) = match &error {
        OpenError::Damaged => (StatusCode::BAD_REQUEST, "damaged", tr("bill.damaged")),
        OpenError::Expired => (StatusCode::GONE, "expired", tr("bill.expired")),
        OpenError::Cancelled => (StatusCode::GONE, "cancelled", tr("bill.cancelled")),
        OpenError::Paid(_) => (StatusCode::OK, "paid", tr("bill.paid_already")),
        OpenError::Refused(code) => (
            StatusCode::UNPROCESSABLE_ENTITY,
            "refused",
            format!(
                "{} {}",
                tr("bill.refused"),
                customer_reason(*code, language::current())
            ),
        ),
        OpenError::Database(_) | OpenError::Inconsistent(_) => {
            tracing::error!(%error, "bill page failed");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                "unavailable",
                tr("bill.unavailable"),
            )
        }
    };
    let content = html! {
        section.bill #bill data-state=(state_word) {
            p.error #reason { (text) }
            p.muted { (tr("bill.ask_cashier")) }
        }
    };
    (status, frame(&tr("bill.title"), "", content)).into_response()
}

/// A refusal code as the customer reads it: the protocol's own message.
fn customer_reason(code: ResultCode, lang: Lang) -> String {
    format!("({}) {}", code.number(), code.message(lang))
}

fn refusal_key(refusal: CardRefusal) -> String {
    crate::card::notify::refusal_word(refusal)
}

/// Where the payment service sent the browser back from (`?after=paid` or `refused`): only a
/// hint for what to show while the notification is on its way, never a settlement.
#[derive(Debug, Default, Deserialize)]
struct Back {
    #[serde(default)]
    after: String,
}

/// The outcome page when the database could not be read: 503, "try again in a moment" — never
/// a guess (a paid bill whose delivery could not be read is not a refunded one).
fn outcome_unavailable(error: &sqlx::Error) -> Response {
    tracing::error!(%error, "bill outcome page failed");
    (
        StatusCode::SERVICE_UNAVAILABLE,
        frame(
            &tr("bill.title"),
            "",
            html! {
                p.error #reason { (tr("bill.unavailable")) }
            },
        ),
    )
        .into_response()
}

/// The delivery of the bill's payment `transaction_id` as the customer is told it, if it has
/// one (a paid bill without one was refused at settlement and refunded): its state, or
/// "refunded" for a payment delivered and then refunded to the card from the console (as the
/// cashier's status says).
async fn delivery_word(
    state: &AppState,
    transaction_id: &str,
) -> Result<Option<&'static str>, sqlx::Error> {
    let mut conn = state.pool.acquire().await?;
    let Some(found) = deliveries::find(&mut conn, transaction_id).await? else {
        return Ok(None);
    };
    if found.state == deliveries::State::Delivered
        && payments::refunded_at(&mut conn, transaction_id)
            .await?
            .is_some()
    {
        return Ok(Some("refunded"));
    }
    Ok(Some(found.state.as_str()))
}

/// `GET /card/bill/<invoice>/<check>`.
async fn outcome(
    State(state): State<AppState>,
    Path((invoice, check)): Path<(i64, String)>,
    Query(back): Query<Back>,
) -> Response {
    let bill = match state.pool.acquire().await {
        Ok(mut conn) => bills::by_invoice(&mut conn, invoice).await,
        Err(error) => Err(error),
    };
    let bill = match bill {
        Ok(Some(bill)) if check.len() == CHECK_CHARS && check_of(&bill) == check => bill,
        Ok(_) => {
            return (
                StatusCode::NOT_FOUND,
                frame(
                    &tr("bill.title"),
                    "",
                    html! {
                        p.error #reason { (tr("bill.not_found")) }
                    },
                ),
            )
                .into_response();
        }
        Err(error) => return outcome_unavailable(&error),
    };
    let now = now_ms();
    let here = format!("/card/bill/{invoice}/{check}");
    let delivery = match &bill.transaction_id {
        Some(id) => match delivery_word(&state, id).await {
            Ok(word) => word,
            Err(error) => return outcome_unavailable(&error),
        },
        None => None,
    };
    let amount = bill
        .content
        .as_ref()
        .map(|c| c.customer_amount_tiyn)
        .unwrap_or(0);
    let (word, waiting) = match bill.state {
        BillState::Paid if delivery.is_some() => ("paid", false),
        BillState::Paid => ("refunded", false),
        BillState::Awaiting if now >= bill.expires_at_ms => ("expired", false),
        // Back from a success: the notification is on its way; an earlier card's refusal is
        // not this payment's outcome.
        BillState::Awaiting if back.after == "paid" => ("waiting", true),
        BillState::Awaiting if bill.decline.is_some() => ("declined", false),
        BillState::Awaiting => ("waiting", true),
        BillState::Expired => ("expired", false),
        BillState::Cancelled => ("cancelled", false),
    };
    let refusal = bill.decline.as_deref().map(refusal_from_word);
    let content = html! {
        section.bill #outcome data-state=(word) {
            @match word {
                "paid" => {
                    p.ok #message { "✓ " (tr("bill.outcome_paid")) " " (tenge(amount)) " ₸" }
                    dl {
                        dt { (tr("bill.transaction")) } dd #transaction { (bill.transaction_id.as_deref().unwrap_or("")) }
                        @if let Some(delivery) = delivery {
                            dt { (tr("bill.delivery")) }
                            dd #delivery data-delivery=(delivery) { (tr(&format!("bill.delivery_{delivery}"))) }
                        }
                    }
                    @if bill.email.is_some() { p.muted { (tr("bill.receipt_sent")) } }
                }
                "refunded" => { p.error #message { (tr("bill.outcome_refunded")) } }
                "declined" => {
                    p.error #message data-refusal=[refusal.map(refusal_key)] {
                        (tr("bill.card_refused")) ": "
                        @if let Some(refusal) = refusal { (tr(&format!("bill.refusal_{}", refusal_key(refusal)))) }
                    }
                    @if let Some(page) = &bill.page_url { p { a #retry href=(page) { (tr("bill.try_again")) } } }
                }
                "waiting" => {
                    p #message { (tr("bill.outcome_waiting")) }
                }
                "expired" => { p.error #message { (tr("bill.expired")) } }
                _ => { p.error #message { (tr("bill.cancelled")) } }
            }
        }
    };
    let mut response = frame(&tr("bill.title"), &here, content).into_response();
    if waiting {
        // No script on public pages: the browser asks again by itself until the service's
        // notification has arrived.
        response
            .headers_mut()
            .insert("refresh", header::HeaderValue::from_static("3"));
    }
    response
}
