//! The hosted card page, the same for both services: the customer types a card, the bank's
//! 3-D Secure page asks for a code when the card needs it, then the card is authorized.
//!
//! * `GET /d/{order}`: the card form. `POST /d/{order}`: `card`, `exp`, `cvc`, `email`.
//!   TipTop Pay asks the shop first (Check, sent when the customer presses "Pay"); a refusal
//!   declines the card with the documented 300x ReasonCode.
//! * `GET|POST /acs/{transaction}`: the bank; `action=confirm` with the `code` the page
//!   shows, or `action=cancel` (3-D Secure failed, 5206).
//! * Then: approved, the service notifies the shop (Pay; Robokassa's ResultURL) and the
//!   browser is redirected to the shop's success address; refused, TipTop Pay sends Fail and
//!   the page shows the reason with a link back to the shop's fail address.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};

use crate::form::Fields;
use crate::service::{PageLanguage, ServiceKind};
use crate::tiptop::codes;

use super::cards::{self, Outcome};
use super::http::html;
use super::state::{Emulator, Order, Payment, PaymentStatus, date_time_now};
use super::{pages, robokassa, tiptop};

/// 3-D Secure authentication failed.
const AUTHENTICATION_FAILED: u32 = 5206;
/// Expired Card.
const EXPIRED_CARD: u32 = 5054;

fn not_found() -> Response {
    let texts = pages::texts(PageLanguage::Ru);
    html(
        StatusCode::NOT_FOUND,
        pages::error_page(PageLanguage::Ru, texts.not_found, texts.not_found),
    )
}

/// `GET /d/{order}`.
pub async fn show_order(State(emulator): State<Arc<Emulator>>, Path(id): Path<String>) -> Response {
    match emulator.ledger().order(&id) {
        Some(order) if order.paid => html(StatusCode::OK, pages::paid_page(order)),
        Some(order) => html(StatusCode::OK, pages::card_page(order, None)),
        None => not_found(),
    }
}

/// `POST /d/{order}`: the card form.
pub async fn submit_card(
    State(emulator): State<Arc<Emulator>>,
    Path(id): Path<String>,
    body: Bytes,
) -> Response {
    let fields = Fields::parse(&body);
    let Some(order) = emulator.ledger().order(&id).cloned() else {
        return not_found();
    };
    if order.paid {
        return html(StatusCode::OK, pages::paid_page(&order));
    }
    let texts = pages::texts(order.language);
    let form_error = |message: &str| {
        html(
            StatusCode::BAD_REQUEST,
            pages::card_page(&order, Some(message)),
        )
    };
    let Some(number) = cards::card_number(fields.get("card").unwrap_or("")) else {
        return form_error(texts.bad_card_number);
    };
    let Some((month, year)) = cards::expiry(fields.get("exp").unwrap_or("")) else {
        return form_error(texts.bad_expiry);
    };
    let cvc = fields.get("cvc").unwrap_or("");
    if !(3..=4).contains(&cvc.len()) || !cvc.bytes().all(|b| b.is_ascii_digit()) {
        return form_error(texts.bad_cvc);
    }
    let card = cards::lookup(&number);
    let outcome = if cards::expired(month, year, time::OffsetDateTime::now_utc()) {
        Outcome::Declined(EXPIRED_CARD)
    } else {
        card.outcome
    };
    let transaction_id = {
        let mut ledger = emulator.ledger();
        let transaction_id = ledger.next_number();
        let three_ds_code = card.three_ds.then(|| ledger.random_code());
        let Some(order) = ledger.order_mut(&id) else {
            return not_found();
        };
        order.payments.push(Payment {
            transaction_id,
            card_first_six: number[..6].to_owned(),
            card_last_four: number[number.len() - 4..].to_owned(),
            card_exp: format!("{month:02}/{:02}", year % 100),
            card_type: cards::card_type(&number).to_owned(),
            email: fields.get("email").map(str::to_owned),
            status: PaymentStatus::AwaitingAuthentication,
            reason_code: None,
            reason: None,
            refunded_tiyn: 0,
            date_time: date_time_now(),
            outcome,
            three_ds_code,
        });
        transaction_id
    };
    tracing::info!(order = %id, transaction_id, three_ds = card.three_ds, "card submitted");
    if order.service == ServiceKind::TipTop
        && let Some(reason_code) = tiptop::check(&emulator, &id, transaction_id).await
    {
        return decline(&emulator, transaction_id, reason_code);
    }
    if card.three_ds {
        return Redirect::to(&format!("/acs/{transaction_id}")).into_response();
    }
    authorize(&emulator, transaction_id)
}

/// The order of a transaction waiting for 3-D Secure, and the code it waits for; or the
/// page to show instead (boxed: a response is large next to the order).
fn waiting(emulator: &Emulator, transaction_id: u64) -> Result<(Order, String), Box<Response>> {
    let mut ledger = emulator.ledger();
    let Some((order, index)) = ledger.payment_mut(transaction_id) else {
        return Err(Box::new(not_found()));
    };
    let payment = &order.payments[index];
    match (&payment.status, &payment.three_ds_code) {
        (PaymentStatus::AwaitingAuthentication, Some(code)) => Ok((order.clone(), code.clone())),
        _ if order.paid => Err(Box::new(html(StatusCode::OK, pages::paid_page(order)))),
        _ => Err(Box::new(
            Redirect::to(&format!("/d/{}", order.id)).into_response(),
        )),
    }
}

/// `GET /acs/{transaction}`: the bank's page.
pub async fn show_bank(
    State(emulator): State<Arc<Emulator>>,
    Path(transaction_id): Path<u64>,
) -> Response {
    match waiting(&emulator, transaction_id) {
        Ok((order, code)) => html(
            StatusCode::OK,
            pages::three_ds_page(&order, transaction_id, &code, None),
        ),
        Err(response) => *response,
    }
}

/// `POST /acs/{transaction}`: confirm with the code, or cancel.
pub async fn submit_bank(
    State(emulator): State<Arc<Emulator>>,
    Path(transaction_id): Path<u64>,
    body: Bytes,
) -> Response {
    let fields = Fields::parse(&body);
    let (order, code) = match waiting(&emulator, transaction_id) {
        Ok(waiting) => waiting,
        Err(response) => return *response,
    };
    if fields.get("action") == Some("cancel") {
        return decline(&emulator, transaction_id, AUTHENTICATION_FAILED);
    }
    if fields.get("code").map(str::trim) != Some(code.as_str()) {
        let wrong = pages::texts(order.language).wrong_code;
        return html(
            StatusCode::BAD_REQUEST,
            pages::three_ds_page(&order, transaction_id, &code, Some(wrong)),
        );
    }
    authorize(&emulator, transaction_id)
}

/// Authorizes a card that is through 3-D Secure (or needs none): the card's outcome, once.
fn authorize(emulator: &Arc<Emulator>, transaction_id: u64) -> Response {
    let approved = {
        let mut ledger = emulator.ledger();
        let op_key = format!("{}-{}", ledger.random_guid(), ledger.random_id(10));
        let Some((order, index)) = ledger.payment_mut(transaction_id) else {
            return not_found();
        };
        let payment = &mut order.payments[index];
        if payment.status != PaymentStatus::AwaitingAuthentication {
            // A form sent twice: the first one decided.
            return Redirect::to(&format!("/d/{}", order.id)).into_response();
        }
        match payment.outcome {
            Outcome::Declined(code) => Err(code),
            // Paid meanwhile, with another card in another tab: not a second charge.
            Outcome::Approved if order.paid => {
                payment.status = PaymentStatus::Declined;
                payment.reason = Some("the order is paid already".into());
                return html(StatusCode::OK, pages::paid_page(order));
            }
            Outcome::Approved => {
                payment.status = PaymentStatus::Completed;
                payment.reason_code = Some(0);
                payment.reason = Some(codes::reason_name(0).to_owned());
                order.paid = true;
                if order.service == ServiceKind::Robokassa {
                    order.op_key = Some(op_key);
                }
                Ok(order.clone())
            }
        }
    };
    let order = match approved {
        Ok(order) => order,
        Err(code) => return decline(emulator, transaction_id, code),
    };
    tracing::info!(order = %order.id, transaction_id, "card approved");
    let redirect = match order.service {
        ServiceKind::TipTop => {
            tiptop::send(emulator, "pay", &order.id, transaction_id);
            order.success_url.clone()
        }
        ServiceKind::Robokassa => {
            robokassa::send_result(emulator, &order.id);
            robokassa::success_redirect(&order, &emulator.settings)
        }
    };
    match redirect {
        Some(url) => Redirect::to(&url).into_response(),
        None => html(StatusCode::OK, pages::success_page(&order)),
    }
}

/// Refuses a card: records why, sends Fail (TipTop Pay), shows the reason.
fn decline(emulator: &Arc<Emulator>, transaction_id: u64, reason_code: u32) -> Response {
    let order = {
        let mut ledger = emulator.ledger();
        let Some((order, index)) = ledger.payment_mut(transaction_id) else {
            return not_found();
        };
        let payment = &mut order.payments[index];
        payment.status = PaymentStatus::Declined;
        payment.reason_code = Some(reason_code);
        payment.reason = Some(codes::reason_name(reason_code).to_owned());
        order.clone()
    };
    tracing::info!(order = %order.id, transaction_id, reason_code, "card declined");
    let fail_url = match order.service {
        ServiceKind::TipTop => {
            tiptop::send(emulator, "fail", &order.id, transaction_id);
            order.fail_url.clone()
        }
        // Robokassa sends no notification of a refusal; the browser goes to FailURL.
        ServiceKind::Robokassa => robokassa::fail_redirect(&order),
    };
    html(
        StatusCode::OK,
        pages::refused_page(&order, reason_code, fail_url.as_deref()),
    )
}
