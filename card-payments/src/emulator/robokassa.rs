//! Robokassa's side of the emulator: the payment page's entry (`/Merchant/Index.aspx`, the
//! signed link checked as the docs say), ResultURL and the redirects, OpStateExt, and the
//! refund API (`/RefundService/Refund/Create`, `/RefundService/Refund/GetState`). Sources are
//! in [`crate::robokassa`].
//!
//! Like a real shop, the emulated one has a hash algorithm (`--robokassa-hash`, MD5 unless
//! given) and a set of test passwords apart from the working ones: a link with `IsTest=1` is
//! checked with the test Password #1, and its payment's ResultURL is signed with the test
//! Password #2 — so a gateway with the wrong hash, or signing test links with its working
//! passwords, is refused as Robokassa would refuse it (error 29).

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use serde_json::value::RawValue;

use crate::form::Fields;
use crate::money;
use crate::robokassa::hash::HashAlgorithm;
use crate::robokassa::op_state::{self, OpState};
use crate::robokassa::signature::{self, PaymentBase};
use crate::robokassa::{CURRENCY, jwt};
use crate::service::{PageLanguage, ServiceKind};

use super::http::html;
use super::notify;
use super::pages;
use super::state::{Emulator, Order, PaymentStatus, Refund, RefundState, Settings};

/// The page's numbered errors used here («Типовые ошибки интерфейса оплаты»).
fn error(language: PageLanguage, code: u16) -> Response {
    let text = match code {
        26 => "Магазин не найден",
        29 => "Неверный параметр SignatureValue",
        30 => "Неверный параметр счёта",
        31 => "Неверная сумма платежа",
        40 => "Повторная оплата счета с тем же номером невозможна",
        _ => "Внутренняя ошибка сервиса",
    };
    tracing::info!(code, text, "Robokassa page error");
    html(
        StatusCode::BAD_REQUEST,
        pages::error_page(
            language,
            &format!("Ошибка {code}"),
            &format!("{code}: {text}"),
        ),
    )
}

/// The page language for a Culture (`ru`, `en`; `kk` too, which the adapter does not send).
fn language(culture: Option<&str>) -> PageLanguage {
    match culture {
        Some("en") => PageLanguage::En,
        Some("kk") => PageLanguage::Kk,
        _ => PageLanguage::Ru,
    }
}

/// The link's parameters, from the query (GET) and the form body (POST).
fn parameters(query: Option<String>, body: &[u8]) -> Fields {
    let mut fields = Fields::parse(query.unwrap_or_default().as_bytes());
    fields.0.extend(Fields::parse(body).0);
    fields
}

/// `GET|POST /Merchant/Index.aspx`: checks the link and opens the card page for it.
pub async fn index(
    State(emulator): State<Arc<Emulator>>,
    RawQuery(query): RawQuery,
    body: Bytes,
) -> Response {
    let fields = parameters(query, &body);
    let settings = &emulator.settings;
    let language = language(fields.get("Culture"));
    if fields.get("MerchantLogin") != Some(settings.robokassa_login.as_str()) {
        return error(language, 26);
    }
    let Some(out_sum) = fields.get("OutSum") else {
        return error(language, 31);
    };
    let amount_tiyn = match money::parse_tenge(out_sum) {
        Ok(tiyn) if tiyn > 0 => tiyn,
        _ => return error(language, 31),
    };
    let inv_id = fields.get("InvId").or(fields.get("InvoiceID"));
    let redirect = |url: &str, method: &str| {
        let url = fields.get(url)?;
        Some((url, fields.get(method).unwrap_or("")))
    };
    let success_url2 = redirect("SuccessUrl2", "SuccessUrl2Method");
    let fail_url2 = redirect("FailUrl2", "FailUrl2Method");
    let methods_given = [success_url2, fail_url2]
        .iter()
        .flatten()
        .all(|(_, method)| matches!(*method, "GET" | "POST"));
    if !methods_given {
        return error(language, 30);
    }
    let user: Vec<(String, String)> = fields
        .0
        .iter()
        .filter(|(name, _)| signature::is_user_parameter(name))
        .cloned()
        .collect();
    let base = PaymentBase {
        login: &settings.robokassa_login,
        out_sum,
        inv_id,
        out_sum_currency: fields.get("OutSumCurrency"),
        user_ip: fields.get("UserIp"),
        receipt: fields.get("Receipt"),
        success_url2,
        fail_url2,
        user: &user,
    };
    // "Для работы в тестовом режиме обязателен параметр IsTest", and a test link is signed
    // with the test Password #1 (docs.robokassa.kz, «Тестовый режим»).
    let test = fields.get("IsTest") == Some("1");
    let password1 = settings.robokassa_password1_for(test);
    let signed = fields.get("SignatureValue").is_some_and(|given| {
        signature::verify(&base.text(&password1.0), given, settings.robokassa_hash)
    });
    if !signed {
        return error(language, 29);
    }
    let id = {
        let mut ledger = emulator.ledger();
        let invoice = match inv_id {
            Some(inv_id) if inv_id != "0" => inv_id.to_owned(),
            // "Если значение параметра пустое, или равно 0 … ему автоматически будет присвоено
            // уникальное значение."
            _ => ledger.next_number().to_string(),
        };
        let paid_before = ledger
            .orders
            .iter()
            .any(|o| o.service == ServiceKind::Robokassa && o.invoice == invoice && o.paid);
        if paid_before {
            drop(ledger);
            return error(language, 40);
        }
        let id = format!("rk{}", ledger.random_id(14));
        let number = ledger.next_number();
        ledger.orders.push(Order {
            service: ServiceKind::Robokassa,
            id: id.clone(),
            number,
            invoice,
            amount: out_sum.to_owned(),
            amount_tiyn,
            currency: CURRENCY.to_owned(),
            description: fields.get("Description").unwrap_or("").to_owned(),
            email: fields.get("Email").map(str::to_owned),
            language,
            culture: fields.get("Culture").map(str::to_owned),
            success_url: success_url2.map(|(url, _)| url.to_owned()),
            fail_url: fail_url2.map(|(url, _)| url.to_owned()),
            test,
            paid: false,
            op_key: None,
            user,
            payments: Vec::new(),
        });
        id
    };
    tracing::info!(order = %id, "Robokassa page opened");
    Redirect::to(&format!("/d/{id}")).into_response()
}

/// ResultURL's body: `OutSum`, `InvId`, `Fee`, `EMail`, `SignatureValue` (upper-case hex of
/// the shop's hash of `OutSum:InvId:Пароль#2[:Shp_…]`), `PaymentMethod`, `IncCurrLabel`, the
/// `Shp_` parameters; `IsTest=1` for a test payment, which (per the docs) carries no e-mail.
/// `password2` is the order's: the test one for a test payment
/// ([`super::state::Settings::robokassa_password2_for`]).
pub fn result_body(order: &Order, password2: &str, hash: HashAlgorithm) -> String {
    let text = signature::result_text(&order.amount, &order.invoice, password2, &order.user);
    let mut fields: Vec<(String, String)> = vec![
        ("OutSum".into(), order.amount.clone()),
        ("InvId".into(), order.invoice.clone()),
        ("Fee".into(), "0.00".into()),
    ];
    let email = order
        .payments
        .iter()
        .rev()
        .find_map(|p| p.email.clone())
        .or(order.email.clone());
    if let (Some(email), false) = (email, order.test) {
        fields.push(("EMail".into(), email));
    }
    fields.push(("SignatureValue".into(), hash.hex(&text).to_uppercase()));
    fields.push(("PaymentMethod".into(), "BankCard".into()));
    fields.push(("IncCurrLabel".into(), "BankCard".into()));
    if order.test {
        fields.push(("IsTest".into(), "1".into()));
    }
    fields.extend(order.user.iter().cloned());
    Fields(fields).encode()
}

/// Queues ResultURL for a paid order and delivers it in the background.
pub fn send_result(emulator: &Arc<Emulator>, order_id: &str) {
    let settings = &emulator.settings;
    let built = emulator.ledger().order(order_id).map(|order| {
        let password2 = settings.robokassa_password2_for(order.test);
        (
            order.invoice.clone(),
            result_body(order, &password2.0, settings.robokassa_hash),
        )
    });
    if let Some((invoice, body)) = built {
        let id = notify::record(
            emulator,
            ServiceKind::Robokassa,
            "result",
            order_id,
            &invoice,
            body,
            false,
        );
        notify::spawn(emulator.clone(), id);
    }
}

/// Where the browser goes after a payment: SuccessUrl2 with `OutSum`, `InvId`,
/// `SignatureValue` (the shop's hash of `OutSum:InvId:Пароль#1[:Shp_…]`, the test Password #1
/// for a test payment) and `Culture`.
pub fn success_redirect(order: &Order, settings: &Settings) -> Option<String> {
    let password1 = settings.robokassa_password1_for(order.test);
    let text = signature::success_text(&order.amount, &order.invoice, &password1.0, &order.user);
    let mut fields = vec![
        ("OutSum".to_owned(), order.amount.clone()),
        ("InvId".to_owned(), order.invoice.clone()),
        (
            "SignatureValue".to_owned(),
            settings.robokassa_hash.hex(&text).to_uppercase(),
        ),
    ];
    fields.extend(order.culture.clone().map(|c| ("Culture".to_owned(), c)));
    fields.extend(order.user.iter().cloned());
    order
        .success_url
        .as_deref()
        .map(|url| with_query(url, fields))
}

/// Where the browser goes after a refusal: FailUrl2 with `OutSum`, `InvId`, `Culture`.
pub fn fail_redirect(order: &Order) -> Option<String> {
    let mut fields = vec![
        ("OutSum".to_owned(), order.amount.clone()),
        ("InvId".to_owned(), order.invoice.clone()),
    ];
    fields.extend(order.culture.clone().map(|c| ("Culture".to_owned(), c)));
    fields.extend(order.user.iter().cloned());
    order.fail_url.as_deref().map(|url| with_query(url, fields))
}

fn with_query(url: &str, fields: Vec<(String, String)>) -> String {
    let separator = if url.contains('?') { '&' } else { '?' };
    format!("{url}{separator}{}", Fields(fields).encode())
}

fn xml(body: String) -> Response {
    ([(header::CONTENT_TYPE, "text/xml; charset=utf-8")], body).into_response()
}

/// `GET|POST /Merchant/WebService/Service.asmx/OpStateExt`.
pub async fn op_state_ext(
    State(emulator): State<Arc<Emulator>>,
    RawQuery(query): RawQuery,
    body: Bytes,
) -> Response {
    let fields = parameters(query, &body);
    let settings = &emulator.settings;
    let answer = |result_code: i32, description: &str| OpState {
        result_code,
        result_description: Some(description.to_owned()),
        ..OpState::default()
    };
    let login = fields.get("MerchantLogin").unwrap_or("");
    let invoice = fields.get("InvoiceID").unwrap_or("");
    if login != settings.robokassa_login {
        return xml(answer(op_state::result_code::NO_SHOP, "no such shop").encode());
    }
    // The docs do not say which Password #2 signs a question about a test payment; the
    // emulator takes the test one, which is all a gateway in test mode is given.
    let test = emulator
        .ledger()
        .latest_order(ServiceKind::Robokassa, invoice)
        .is_some_and(|order| order.test);
    let password2 = settings.robokassa_password2_for(test);
    let text = signature::op_state_text(login, invoice, &password2.0);
    if !fields
        .get("Signature")
        .is_some_and(|given| signature::verify(&text, given, settings.robokassa_hash))
    {
        return xml(answer(op_state::result_code::BAD_SIGNATURE, "bad signature").encode());
    }
    let ledger = emulator.ledger();
    let Some(order) = ledger.latest_order(ServiceKind::Robokassa, invoice) else {
        return xml(answer(op_state::result_code::NO_INVOICE, "no such invoice").encode());
    };
    let state = OpState {
        result_code: op_state::result_code::OK,
        result_description: None,
        // 100: paid and credited (50 while being credited, a fault); 5: started, not paid.
        state_code: Some(if !order.paid {
            5
        } else if emulator.take_still_crediting() {
            50
        } else {
            op_state::STATE_COMPLETED
        }),
        op_key: order.op_key.clone(),
        inc_sum: order.paid.then(|| order.amount.clone()),
        out_sum: order.paid.then(|| order.amount.clone()),
    };
    xml(state.encode())
}

/// Refund/Create's payload: `OpKey`, and `RefundSum` for a partial refund.
#[derive(Deserialize)]
struct RefundPayload {
    #[serde(rename = "OpKey")]
    op_key: String,
    #[serde(rename = "RefundSum", default)]
    refund_sum: Option<Box<RawValue>>,
}

fn refund_answer(success: bool, message: Option<&str>, request_id: Option<&str>) -> Response {
    axum::Json(serde_json::json!({
        "success": success,
        "message": message,
        "requestId": request_id,
    }))
    .into_response()
}

/// `POST /RefundService/Refund/Create`: a JWT signed with Password #3.
pub async fn refund_create(State(emulator): State<Arc<Emulator>>, body: Bytes) -> Response {
    let token = String::from_utf8_lossy(&body);
    let payload = match jwt::verify(&token, emulator.settings.robokassa_password3.0.as_bytes()) {
        Ok(payload) => payload,
        Err(error) => {
            tracing::info!(%error, "Robokassa refund: token refused");
            return refund_answer(false, Some("InvalidToken"), None);
        }
    };
    let Ok(payload) = serde_json::from_str::<RefundPayload>(&payload) else {
        return refund_answer(false, Some("InvalidRequest"), None);
    };
    let requested = match &payload.refund_sum {
        None => None,
        Some(raw) => match money::parse_tenge(raw.get()) {
            Ok(tiyn) => Some(tiyn),
            Err(_) => return refund_answer(false, Some("InvalidRefundSum"), None),
        },
    };
    let faults = emulator.faults();
    let mut ledger = emulator.ledger();
    let request_id = ledger.random_guid();
    let Some(order) = ledger.orders.iter_mut().find(|o| {
        o.service == ServiceKind::Robokassa && o.op_key.as_deref() == Some(&payload.op_key)
    }) else {
        return refund_answer(false, Some("OperationNotFound"), None);
    };
    let Some(payment) = order
        .payments
        .iter_mut()
        .find(|p| p.status == PaymentStatus::Completed)
    else {
        return refund_answer(false, Some("OperationNotFound"), None);
    };
    let left = order.amount_tiyn - payment.refunded_tiyn;
    // No RefundSum: a full refund, of what is left.
    let amount_tiyn = requested.unwrap_or(left);
    if amount_tiyn <= 0 || amount_tiyn > left {
        tracing::info!(op_key = %payload.op_key, "Robokassa refund: nothing left");
        return refund_answer(false, Some("NotEnoughOperationFunds"), None);
    }
    payment.refunded_tiyn += amount_tiyn;
    let refund = Refund {
        service: ServiceKind::Robokassa,
        id: request_id.clone(),
        order_id: order.id.clone(),
        invoice: order.invoice.clone(),
        transaction_id: payment.transaction_id,
        amount: money::tenge_text(amount_tiyn).unwrap_or_default(),
        request_id: None,
        // Taken, not done: Refund/GetState follows it.
        state: RefundState::Processing,
        checks_left: faults.refund_processing_checks,
        ends_canceled: faults.refund_cancel,
    };
    tracing::info!(invoice = %refund.invoice, amount = %refund.amount, "Robokassa refund");
    ledger.refunds.push(refund);
    refund_answer(true, None, Some(&request_id))
}

/// Refund/GetState's answer; the amount as its exact decimal text.
#[derive(serde::Serialize)]
#[serde(rename_all = "camelCase")]
struct GetStateAnswer {
    request_id: String,
    amount: Option<Box<RawValue>>,
    label: &'static str,
}

/// `GET /RefundService/Refund/GetState?id=…`: a refund is `processing` for as many questions
/// as the fault in force when it was taken said, then `finished` — or `canceled`, which gives
/// the payment its amount back (the money stayed with the shop).
pub async fn refund_state(
    State(emulator): State<Arc<Emulator>>,
    RawQuery(query): RawQuery,
) -> Response {
    let fields = Fields::parse(query.unwrap_or_default().as_bytes());
    let id = fields.get("id").unwrap_or("");
    let mut ledger = emulator.ledger();
    let Some(refund) = ledger
        .refunds
        .iter_mut()
        .find(|r| r.service == ServiceKind::Robokassa && r.id == id)
    else {
        return (
            StatusCode::BAD_REQUEST,
            axum::Json(
                serde_json::json!({"message": "Id is invalid or request id does not exist"}),
            ),
        )
            .into_response();
    };
    let mut canceled = None;
    if refund.state == RefundState::Processing {
        if refund.checks_left > 0 {
            refund.checks_left -= 1;
        } else if refund.ends_canceled {
            refund.state = RefundState::Canceled;
            canceled = Some((refund.transaction_id, refund.amount.clone()));
        } else {
            refund.state = RefundState::Finished;
        }
    }
    let answer = GetStateAnswer {
        request_id: refund.id.clone(),
        amount: RawValue::from_string(refund.amount.clone()).ok(),
        label: refund.state.label(),
    };
    tracing::info!(request_id = %answer.request_id, label = answer.label, "Robokassa refund state");
    if let Some((transaction_id, amount)) = canceled
        && let Some((order, index)) = ledger.payment_mut(transaction_id)
    {
        let payment = &mut order.payments[index];
        payment.refunded_tiyn -= money::parse_tenge(&amount).unwrap_or(0);
    }
    axum::Json(answer).into_response()
}
