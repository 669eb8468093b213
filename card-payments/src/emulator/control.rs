//! `/control/...`: what tests and demos ask the emulator, as JSON.
//!
//! * `GET /control/health`: `ok` once serving.
//! * `GET /control/orders`: every order with its card payments ([`super::state::Order`]).
//! * `GET /control/refunds`: every refund taken.
//! * `GET /control/notifications`: every notification and each delivery attempt.
//! * `GET|POST /control/faults`: the faults in force ([`super::state::Faults`]).
//! * `GET|POST /control/config`: where notifications go and the public address
//!   ([`super::state::Routing`]); a POST changes the fields it gives.
//! * `POST /control/notify` `{"service","invoice","kind","forge"}`: sends one notification for
//!   the invoice's latest order now, once, and answers with its record: the same body as the
//!   last one of that kind (a duplicate), or one built from the order; `"forge": true` signs it
//!   with a wrong key. Tests use it to prove the gateway refuses forgeries and takes
//!   duplicates once.

use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;

use crate::service::ServiceKind;

use super::state::{Emulator, Faults, Payment, PaymentStatus, Routing, date_time_now};
use super::{cards, notify, robokassa, tiptop};

pub fn routes() -> Router<Arc<Emulator>> {
    Router::new()
        .route("/control/health", get(|| async { "ok" }))
        .route(
            "/control/orders",
            get(|State(e): State<Arc<Emulator>>| async move { Json(e.orders()) }),
        )
        .route(
            "/control/refunds",
            get(|State(e): State<Arc<Emulator>>| async move { Json(e.refunds()) }),
        )
        .route(
            "/control/notifications",
            get(|State(e): State<Arc<Emulator>>| async move { Json(e.deliveries()) }),
        )
        .route(
            "/control/faults",
            get(|State(e): State<Arc<Emulator>>| async move { Json(e.faults()) }).post(
                |State(e): State<Arc<Emulator>>, Json(faults): Json<Faults>| async move {
                    tracing::info!(?faults, "faults set");
                    e.set_faults(faults);
                    Json(e.faults())
                },
            ),
        )
        .route(
            "/control/config",
            get(|State(e): State<Arc<Emulator>>| async move { Json(e.routing()) }).post(
                |State(e): State<Arc<Emulator>>, Json(change): Json<Routing>| async move {
                    Json(e.update_routing(change))
                },
            ),
        )
        .route("/control/notify", post(notify_now))
}

/// `POST /control/notify`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NotifyRequest {
    /// `tiptop` or `robokassa`.
    pub service: String,
    pub invoice: String,
    /// `check`, `pay`, `fail`, `refund` (TipTop Pay) or `result` (Robokassa).
    pub kind: String,
    #[serde(default)]
    pub forge: bool,
}

async fn notify_now(
    State(emulator): State<Arc<Emulator>>,
    Json(request): Json<NotifyRequest>,
) -> Response {
    let Some(service) = ServiceKind::from_name(&request.service) else {
        return (StatusCode::BAD_REQUEST, "service is tiptop or robokassa").into_response();
    };
    let valid_kind = match service {
        ServiceKind::TipTop => matches!(request.kind.as_str(), "check" | "pay" | "fail" | "refund"),
        ServiceKind::Robokassa => request.kind == "result",
    };
    if !valid_kind {
        return (
            StatusCode::BAD_REQUEST,
            "no such notification for this service",
        )
            .into_response();
    }
    let built = build(&emulator, service, &request);
    let (order_id, body) = match built {
        Ok(built) => built,
        Err(problem) => return (StatusCode::CONFLICT, problem).into_response(),
    };
    let id = notify::record(
        &emulator,
        service,
        &request.kind,
        &order_id,
        &request.invoice,
        body,
        request.forge,
    );
    notify::deliver_once(&emulator, id, false).await;
    let delivery = emulator.deliveries().into_iter().find(|d| d.id == id);
    Json(delivery).into_response()
}

/// The body to send: the last one of this kind for the order, or one built from the order.
fn build(
    emulator: &Emulator,
    service: ServiceKind,
    request: &NotifyRequest,
) -> Result<(String, String), &'static str> {
    let mut ledger = emulator.ledger();
    let order = ledger
        .latest_order(service, &request.invoice)
        .cloned()
        .ok_or("no order for this invoice")?;
    if service == ServiceKind::Robokassa {
        // The signature is in the body: a forgery is signed with a wrong Password #2.
        let settings = &emulator.settings;
        let mut password = settings.robokassa_password2_for(order.test).0.clone();
        if request.forge {
            password.push_str("-forged");
        }
        let body = robokassa::result_body(&order, &password, settings.robokassa_hash);
        return Ok((order.id.clone(), body));
    }
    let previous = ledger
        .deliveries
        .iter()
        .rev()
        .find(|d| d.order_id == order.id && d.kind == request.kind && !d.forged)
        .map(|d| d.body.clone());
    if let Some(body) = previous {
        return Ok((order.id, body));
    }
    if request.kind == "refund" {
        return Err("no refund of this order to send again");
    }
    // Nothing sent yet: a payment as the card page would have made it.
    let payment = match order.payments.last() {
        Some(payment) => payment.clone(),
        None => Payment {
            transaction_id: ledger.next_number(),
            card_first_six: "424242".into(),
            card_last_four: "4242".into(),
            card_exp: "12/30".into(),
            card_type: "Visa".into(),
            email: None,
            status: PaymentStatus::AwaitingAuthentication,
            reason_code: (request.kind == "fail").then_some(5051),
            reason: None,
            refunded_tiyn: 0,
            date_time: date_time_now(),
            outcome: cards::Outcome::Approved,
            three_ds_code: None,
        },
    };
    Ok((
        order.id.clone(),
        tiptop::payment_body(&request.kind, &order, &payment, order.test),
    ))
}
