//! TipTop Pay's side of the emulator: the API the shop calls (`POST /orders/create`,
//! `POST /payments/refund`, Basic auth, `X-Request-ID`) and the notifications it sends (Check,
//! Pay, Fail, Refund), with the parameters of the docs' tables (developers.cloudpayments.ru,
//! «Уведомления»; see [`crate::tiptop::wire`] for the sources).

use std::sync::Arc;
use std::time::Instant;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde_json::value::RawValue;

use crate::form::Fields;
use crate::money;
use crate::service::ServiceKind;
use crate::tiptop::{codes, wire};

use super::http::{basic_auth_is, header};
use super::notify;
use super::state::{
    Emulator, KeptAnswer, Order, Payment, PaymentStatus, Refund, RefundState, date_time_now,
};

/// The documented answer envelope, written with the amount's exact text.
#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct Envelope<M: Serialize> {
    model: Option<M>,
    success: bool,
    message: Option<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct OrderModel {
    id: String,
    number: u64,
    amount: Box<RawValue>,
    currency: String,
    email: Option<String>,
    description: String,
    require_confirmation: bool,
    url: String,
    culture_name: Option<String>,
    status: &'static str,
    status_code: u8,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct RefundModel {
    transaction_id: u64,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct TransactionModel {
    transaction_id: u64,
    amount: Box<RawValue>,
    currency: String,
    invoice_id: String,
    status: &'static str,
    /// A refund is a transaction of its own: the payment stays `Completed`, `Refunded` true.
    refunded: bool,
}

fn refused(message: impl Into<String>) -> String {
    serde_json::to_string(&Envelope::<RefundModel> {
        model: None,
        success: false,
        message: Some(message.into()),
    })
    .unwrap_or_default()
}

fn json(status: StatusCode, body: String) -> Response {
    (
        status,
        [(axum::http::header::CONTENT_TYPE, "application/json")],
        body,
    )
        .into_response()
}

/// A request's parameters as text: a JSON object (numbers as written, strings unquoted) or a
/// form ("key=value"); the API takes both (section «API», "Interface Basics").
fn request_fields(headers: &HeaderMap, body: &[u8]) -> Result<Fields, String> {
    let is_json = header(headers, "content-type").is_some_and(|t| t.contains("json"))
        || body.first() == Some(&b'{');
    if !is_json {
        return Ok(Fields::parse(body));
    }
    let object: std::collections::BTreeMap<String, Box<RawValue>> =
        serde_json::from_slice(body).map_err(|e| format!("the body is not a JSON object: {e}"))?;
    Ok(Fields(
        object
            .into_iter()
            .map(|(name, raw)| {
                let text = match serde_json::from_str::<String>(raw.get()) {
                    Ok(string) => string,
                    Err(_) if raw.get() == "null" => String::new(),
                    Err(_) => raw.get().to_owned(),
                };
                (name, text)
            })
            .collect(),
    ))
}

/// Checks Basic auth and replays an answer already given to this `X-Request-ID`: the request
/// id to remember the answer by, or the response to give now (boxed: a response is large).
fn preamble(
    emulator: &Emulator,
    path: &str,
    headers: &HeaderMap,
) -> Result<Option<String>, Box<Response>> {
    let settings = &emulator.settings;
    if !basic_auth_is(
        headers,
        &settings.tiptop_public_id,
        &settings.tiptop_secret.0,
    ) {
        tracing::info!(path, "TipTop Pay API: credentials refused");
        return Err(Box::new(json(
            StatusCode::UNAUTHORIZED,
            refused("Unauthorized"),
        )));
    }
    let request_id = header(headers, "x-request-id").map(str::to_owned);
    if let Some(id) = &request_id {
        let key = (path.to_owned(), id.clone());
        let window = emulator.idempotency_window();
        let kept = emulator
            .ledger()
            .answered_requests
            .get(&key)
            .filter(|kept| kept.at.elapsed() < window)
            .map(|kept| kept.body.clone());
        if let Some(answer) = kept {
            tracing::info!(path, request_id = %id, "repeated request: the first answer again");
            return Err(Box::new(json(StatusCode::OK, answer)));
        }
    }
    Ok(request_id)
}

/// Keeps a successful answer for a repeat of its request: "Система сохраняет только успешные
/// результаты запросов" — a refused request sent again is processed again.
fn remember(
    emulator: &Emulator,
    path: &str,
    request_id: Option<String>,
    answer: &str,
    success: bool,
) {
    if let (Some(id), true) = (request_id, success) {
        emulator.ledger().answered_requests.insert(
            (path.to_owned(), id),
            KeptAnswer {
                at: Instant::now(),
                body: answer.to_owned(),
            },
        );
    }
}

/// `POST /orders/create`.
pub async fn create_order(
    State(emulator): State<Arc<Emulator>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    const PATH: &str = "orders/create";
    let request_id = match preamble(&emulator, PATH, &headers) {
        Ok(id) => id,
        Err(response) => return *response,
    };
    let fields = match request_fields(&headers, &body) {
        Ok(fields) => fields,
        Err(error) => return json(StatusCode::OK, refused(error)),
    };
    let Some(amount) = fields.get("Amount") else {
        return json(StatusCode::OK, refused("Amount is required"));
    };
    let amount_tiyn = match money::parse_tenge(amount) {
        Ok(tiyn) if tiyn > 0 => tiyn,
        _ => return json(StatusCode::OK, refused("Invalid Amount value")),
    };
    let (Some(currency), Some(description)) = (fields.get("Currency"), fields.get("Description"))
    else {
        return json(
            StatusCode::OK,
            refused("Currency and Description are required"),
        );
    };
    let culture = fields.get("CultureName").map(str::to_owned);
    let public_url = emulator.routing().public_url.unwrap_or_default();
    let answer = {
        let mut ledger = emulator.ledger();
        let id = ledger.random_id(16);
        let number = ledger.next_number();
        let order = Order {
            service: ServiceKind::TipTop,
            id: id.clone(),
            number,
            invoice: fields.get("InvoiceId").unwrap_or("").to_owned(),
            amount: amount.to_owned(),
            amount_tiyn,
            currency: currency.to_owned(),
            description: description.to_owned(),
            email: fields.get("Email").map(str::to_owned),
            language: wire::language_of(culture.as_deref().unwrap_or("")),
            culture: culture.clone(),
            success_url: fields.get("SuccessRedirectUrl").map(str::to_owned),
            fail_url: fields.get("FailRedirectUrl").map(str::to_owned),
            test: emulator.settings.tiptop_test,
            paid: false,
            op_key: None,
            user: Vec::new(),
            payments: Vec::new(),
        };
        let model = OrderModel {
            id: id.clone(),
            number,
            amount: wire::json_amount(amount_tiyn).expect("a positive amount"),
            currency: order.currency.clone(),
            email: order.email.clone(),
            description: order.description.clone(),
            require_confirmation: fields.get("RequireConfirmation") == Some("true"),
            url: format!("{}/d/{id}", public_url.trim_end_matches('/')),
            culture_name: culture,
            status: "Created",
            status_code: 0,
        };
        tracing::info!(order = %id, invoice = %order.invoice, amount, "TipTop Pay order created");
        ledger.orders.push(order);
        serde_json::to_string(&Envelope {
            model: Some(model),
            success: true,
            message: None,
        })
        .unwrap_or_default()
    };
    remember(&emulator, PATH, request_id, &answer, true);
    json(StatusCode::OK, answer)
}

/// `POST /payments/refund`: refunds a completed payment (all or part of what is left), once
/// per `X-Request-ID`, and sends the Refund notification.
pub async fn refund(
    State(emulator): State<Arc<Emulator>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    const PATH: &str = "payments/refund";
    let request_id = match preamble(&emulator, PATH, &headers) {
        Ok(id) => id,
        Err(response) => return *response,
    };
    let fields = match request_fields(&headers, &body) {
        Ok(fields) => fields,
        Err(error) => return json(StatusCode::OK, refused(error)),
    };
    let transaction_id = fields
        .get("TransactionId")
        .and_then(|t| t.parse::<u64>().ok());
    let amount = fields
        .get("Amount")
        .and_then(|a| money::parse_tenge(a).ok());
    let (Some(transaction_id), Some(amount_tiyn)) = (transaction_id, amount) else {
        return json(
            StatusCode::OK,
            refused("TransactionId and Amount are required"),
        );
    };
    let outcome = {
        let mut ledger = emulator.ledger();
        let refund_id = ledger.next_number();
        match ledger.payment_mut(transaction_id) {
            Some((order, index)) if order.service == ServiceKind::TipTop => {
                let payment = &mut order.payments[index];
                let left = order.amount_tiyn - payment.refunded_tiyn;
                if payment.status != PaymentStatus::Completed {
                    Err("The transaction is not completed")
                } else if amount_tiyn <= 0 || amount_tiyn > left {
                    Err("The refund amount exceeds what is left of the payment")
                } else {
                    payment.refunded_tiyn += amount_tiyn;
                    let refund = Refund {
                        service: ServiceKind::TipTop,
                        id: refund_id.to_string(),
                        order_id: order.id.clone(),
                        invoice: order.invoice.clone(),
                        transaction_id,
                        amount: money::tenge_text(amount_tiyn).unwrap_or_default(),
                        request_id: request_id.clone(),
                        state: RefundState::Finished,
                        checks_left: 0,
                        ends_canceled: false,
                    };
                    let body = refund_body(order, &order.payments[index], refund_id, amount_tiyn);
                    let (order_id, invoice) = (order.id.clone(), order.invoice.clone());
                    ledger.refunds.push(refund);
                    Ok((refund_id, order_id, invoice, body))
                }
            }
            _ => Err("Transaction not found"),
        }
    };
    let success = outcome.is_ok();
    let answer = match outcome {
        Ok((refund_id, order_id, invoice, body)) => {
            tracing::info!(transaction_id, refund_id, "TipTop Pay refund");
            let id = notify::record(
                &emulator,
                ServiceKind::TipTop,
                "refund",
                &order_id,
                &invoice,
                body,
                false,
            );
            notify::spawn(emulator.clone(), id);
            serde_json::to_string(&Envelope {
                model: Some(RefundModel {
                    transaction_id: refund_id,
                }),
                success: true,
                message: None,
            })
            .unwrap_or_default()
        }
        Err(message) => refused(message),
    };
    remember(&emulator, PATH, request_id, &answer, success);
    if success && emulator.take_lost_refund_answer() {
        tracing::info!("TipTop Pay refund made; its answer lost (fault)");
        return json(StatusCode::BAD_GATEWAY, String::new());
    }
    json(StatusCode::OK, answer)
}

/// `POST /payments/get` («Просмотр транзакции»): a transaction's amount, invoice and status
/// as the emulator's ledger has them; `Transaction not found` for one it never made.
pub async fn transaction(
    State(emulator): State<Arc<Emulator>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    const PATH: &str = "payments/get";
    if let Err(response) = preamble(&emulator, PATH, &headers) {
        return *response;
    }
    let fields = match request_fields(&headers, &body) {
        Ok(fields) => fields,
        Err(error) => return json(StatusCode::OK, refused(error)),
    };
    let Some(transaction_id) = fields
        .get("TransactionId")
        .and_then(|t| t.parse::<u64>().ok())
    else {
        return json(StatusCode::OK, refused("TransactionId is required"));
    };
    let mut ledger = emulator.ledger();
    let answer = match ledger.payment_mut(transaction_id) {
        Some((order, index)) if order.service == ServiceKind::TipTop => {
            let status = match order.payments[index].status {
                PaymentStatus::Completed => "Completed",
                PaymentStatus::Declined => "Declined",
                PaymentStatus::AwaitingAuthentication => "AwaitingAuthentication",
            };
            let refunded = order.payments[index].refunded_tiyn > 0;
            let model = wire::json_amount(order.amount_tiyn).map(|amount| TransactionModel {
                transaction_id,
                amount,
                currency: order.currency.clone(),
                invoice_id: order.invoice.clone(),
                status,
                refunded,
            });
            match model {
                Ok(model) => serde_json::to_string(&Envelope {
                    model: Some(model),
                    success: true,
                    message: None,
                })
                .unwrap_or_default(),
                Err(error) => refused(error.to_string()),
            }
        }
        _ => refused("Transaction not found"),
    };
    json(StatusCode::OK, answer)
}

/// The body of a Check, Pay or Fail: the parameters of the docs' tables that the emulator
/// knows, in their order.
pub fn payment_body(kind: &str, order: &Order, payment: &Payment, test: bool) -> String {
    let mut fields: Vec<(&str, String)> = vec![
        ("TransactionId", payment.transaction_id.to_string()),
        (
            "Amount",
            money::tenge_text(order.amount_tiyn).unwrap_or_default(),
        ),
        ("Currency", order.currency.clone()),
        ("DateTime", payment.date_time.clone()),
        ("CardFirstSix", payment.card_first_six.clone()),
        ("CardLastFour", payment.card_last_four.clone()),
        ("CardType", payment.card_type.clone()),
        ("CardExpDate", payment.card_exp.clone()),
        ("TestMode", if test { "1" } else { "0" }.to_owned()),
    ];
    match kind {
        "fail" => {
            let code = payment.reason_code.unwrap_or(5005);
            fields.push(("Reason", codes::reason_name(code).to_owned()));
            fields.push(("ReasonCode", code.to_string()));
        }
        _ => fields.push(("Status", "Completed".to_owned())),
    }
    fields.push(("OperationType", "Payment".to_owned()));
    if kind == "pay" {
        fields.push(("GatewayName", "Test".to_owned()));
        fields.push(("TotalFee", "0.00".to_owned()));
    }
    fields.push(("InvoiceId", order.invoice.clone()));
    if let Some(email) = payment.email.as_ref().or(order.email.as_ref()) {
        fields.push(("Email", email.clone()));
    }
    fields.push(("Description", order.description.clone()));
    encode(fields)
}

/// The body of a Refund notification (its table has no Currency).
pub fn refund_body(order: &Order, payment: &Payment, refund_id: u64, amount_tiyn: i64) -> String {
    let mut fields: Vec<(&str, String)> = vec![
        ("TransactionId", refund_id.to_string()),
        ("PaymentTransactionId", payment.transaction_id.to_string()),
        ("Amount", money::tenge_text(amount_tiyn).unwrap_or_default()),
        ("DateTime", date_time_now()),
        ("OperationType", "Refund".to_owned()),
        ("InvoiceId", order.invoice.clone()),
    ];
    if let Some(email) = payment.email.as_ref().or(order.email.as_ref()) {
        fields.push(("Email", email.clone()));
    }
    encode(fields)
}

fn encode(fields: Vec<(&str, String)>) -> String {
    form_urlencoded::Serializer::new(String::new())
        .extend_pairs(fields)
        .finish()
}

/// Sends a Check for a payment and waits for the shop's answer: `None` to go on, or the
/// ReasonCode the payment is declined with ("Check notification processing responses").
/// Without a notification address there is no Check (the shop did not ask for one), nor with
/// the fault [`Faults::no_check`](super::state::Faults::no_check).
pub async fn check(emulator: &Emulator, order_id: &str, transaction_id: u64) -> Option<u32> {
    emulator.routing().tiptop_notify_url.as_ref()?;
    if emulator.faults().no_check {
        return None;
    }
    let (invoice, body) = {
        let ledger = emulator.ledger();
        let order = ledger.order(order_id)?;
        let payment = order
            .payments
            .iter()
            .find(|p| p.transaction_id == transaction_id)?;
        (
            order.invoice.clone(),
            payment_body("check", order, payment, order.test),
        )
    };
    let id = notify::record(
        emulator,
        ServiceKind::TipTop,
        "check",
        order_id,
        &invoice,
        body,
        false,
    );
    let attempt = notify::deliver_once(emulator, id, false).await;
    if !attempt.status.is_some_and(|s| (200..300).contains(&s)) {
        return Some(codes::CHECK_UNABLE_TO_CONNECT.0);
    }
    let code = attempt.answer.as_deref().and_then(notify::answer_code);
    match code.and_then(|c| u16::try_from(c).ok()) {
        Some(code) => codes::check_refusal_reason(code).map(|(reason, _)| reason),
        None => codes::check_refusal_reason(u16::MAX).map(|(reason, _)| reason),
    }
}

/// Queues a Pay or Fail for a payment and delivers it in the background.
pub fn send(emulator: &Arc<Emulator>, kind: &str, order_id: &str, transaction_id: u64) {
    let built = {
        let ledger = emulator.ledger();
        ledger.order(order_id).and_then(|order| {
            let payment = order
                .payments
                .iter()
                .find(|p| p.transaction_id == transaction_id)?;
            Some((
                order.invoice.clone(),
                payment_body(kind, order, payment, order.test),
            ))
        })
    };
    if let Some((invoice, body)) = built {
        let id = notify::record(
            emulator,
            ServiceKind::TipTop,
            kind,
            order_id,
            &invoice,
            body,
            false,
        );
        notify::spawn(emulator.clone(), id);
    }
}
