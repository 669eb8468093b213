//! Guards what the cashier sees of an accepted payment's delivery to its provider, in a real
//! browser with the real outbox store: a delivered payment shows the provider's number in the
//! history, on its page and on its receipt; a refunded one shows the provider's reason in
//! Russian and, marked as an alert, that the customer's cash must be given back; a late one is
//! shown as delayed; a record stored before delivery existed still loads; a payment on its way
//! is refreshed by itself while the history is open — its pre-signed status query goes out
//! and the gateway's signed answer (served here in place of the network) turns it delivered,
//! changing nothing else of the record; and the history and a refunded payment's page fit
//! 320 px in Russian, Kazakh and English.
#![cfg(target_arch = "wasm32")]

mod support;

use support::card::{gateway_key, sample_card};
use support::catalogue::keep_sample_catalogue;
use support::payments::{forget_payments, signed, store_in_state};
use support::*;
use tolem_outbox::db::{self, HISTORY};
use tolem_outbox::record::{PaymentRecord, SignedRequest, State};
use tolem_outbox::store;
use tolem_protocol::PROTOCOL_VERSION;
use tolem_protocol::codes::ResultCode;
use tolem_protocol::messages::{
    Delivery, DeliveryState, Message, Outcome, PaymentReceipt, PaymentState, ProviderRefusal,
    Response,
};
use tolem_protocol::signing::{
    GATEWAY_SIGNER, KEY_HEADER, SIGNATURE_HEADER, Signed, bound_answer, exchange_digest,
};
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

const KCELL: (&str, &str) = ("kcell", "Kcell");
const MINUTE: i64 = 60_000;

fn entry(session: &str) -> String {
    format!("#history-list li[data-session='{session}']")
}

fn now() -> i64 {
    js_sys::Date::now() as i64
}

fn delivery(state: DeliveryState, updated_at_ms: i64) -> Delivery {
    Delivery {
        state,
        provider_txn: None,
        refusal: None,
        delayed: false,
        updated_at_ms,
    }
}

/// An accepted payment of 2 000 ₸ (2 020 ₸ from the customer) whose delivery is `delivery`.
async fn accepted_with(delivery: Delivery, n: u8) -> PaymentRecord {
    let payment = signed(KCELL, "7011234567", 2_000_00, now() - MINUTE, n);
    let record = store_in_state(payment, State::Accepted).await;
    store::update_delivery(record.session(), &delivery)
        .await
        .unwrap()
}

#[wasm_bindgen_test]
async fn a_delivered_payment_shows_the_providers_number() {
    keep_sample_catalogue().await;
    forget_payments().await;
    let delivered = Delivery {
        provider_txn: Some("KC-99812".into()),
        ..delivery(DeliveryState::Delivered, now())
    };
    let record = accepted_with(delivered, 1).await;
    let session = record.session().to_string();

    let app = start_in_russian_at("/history");
    wait_for(&entry(&session), 5).await;
    assert_eq!(
        attribute_of(&entry(&session), "data-delivery").as_deref(),
        Some("delivered")
    );
    assert_eq!(
        text_of(&format!("{} .delivery-label", entry(&session))),
        "Доставлен провайдеру, № KC-99812"
    );
    assert!(find(&format!("{} .delivery-refund", entry(&session))).is_none());
    drop(app);

    let app = start_in_russian_at(&format!("/history/{session}"));
    wait_for("#payment-delivery", 5).await;
    assert_eq!(
        text_of("#payment-delivery .delivery-label"),
        "Доставлен провайдеру, № KC-99812"
    );
    tap("#payment-receipt");
    wait_for("#receipt-delivery", 5).await;
    assert_eq!(
        text_of("#receipt-delivery .delivery-label"),
        "Доставлен провайдеру, № KC-99812"
    );
    drop(app);
}

#[wasm_bindgen_test]
async fn a_refunded_payment_says_why_and_that_the_cash_goes_back() {
    keep_sample_catalogue().await;
    forget_payments().await;
    let refunded = Delivery {
        refusal: Some(ProviderRefusal::AccountNotFound),
        ..delivery(DeliveryState::Refunded, now())
    };
    let record = accepted_with(refunded, 2).await;
    let session = record.session().to_string();
    let reason = "Провайдер отказал: абонент или лицевой счёт не найден.";
    let give_back = "Деньги вернулись на баланс дилера — верните покупателю наличные: \
                     2\u{a0}020,00\u{a0}₸.";

    let app = start_in_russian_at("/history");
    wait_for(&entry(&session), 5).await;
    assert_eq!(
        attribute_of(&entry(&session), "data-delivery").as_deref(),
        Some("refunded")
    );
    assert_eq!(
        text_of(&format!("{} .delivery-label", entry(&session))),
        reason
    );
    let refund = format!("{} .delivery-refund", entry(&session));
    assert_eq!(text_of(&refund), give_back);
    assert_eq!(attribute_of(&refund, "role").as_deref(), Some("alert"));
    drop(app);

    let app = start_in_russian_at(&format!("/history/{session}"));
    wait_for("#payment-delivery", 5).await;
    assert_eq!(text_of("#payment-delivery .delivery-label"), reason);
    assert_eq!(text_of("#payment-delivery .delivery-refund"), give_back);
    drop(app);

    // The shared receipt says it too.
    let lines = tolem::pages::history::receipt_lines(
        &store::get(record.session()).await.unwrap().unwrap(),
        "+7 (701) 123-45-67",
        tolem::i18n::Locale::ru,
    );
    assert_eq!(
        lines.last().unwrap(),
        &("Доставка".to_owned(), format!("{reason} {give_back}"))
    );
}

#[wasm_bindgen_test]
async fn a_late_delivery_is_shown_as_delayed() {
    keep_sample_catalogue().await;
    forget_payments().await;
    let late = Delivery {
        delayed: true,
        ..delivery(DeliveryState::Retrying, now())
    };
    let record = accepted_with(late, 3).await;
    let session = record.session().to_string();
    let app = start_in_russian_at("/history");
    wait_for(&entry(&session), 5).await;
    let li = entry(&session);
    assert_eq!(
        text_of(&format!("{li} .delivery-label")),
        "Передаётся провайдеру"
    );
    assert_eq!(text_of(&format!("{li} .delivery-delayed")), "Задерживается");
    assert_eq!(
        attribute_of(&format!("{li} .delivery"), "data-delayed").as_deref(),
        Some("true")
    );
    drop(app);
}

#[wasm_bindgen_test]
async fn a_record_stored_before_delivery_existed_still_loads() {
    keep_sample_catalogue().await;
    forget_payments().await;
    let record = store_in_state(
        signed(KCELL, "7011234567", 2_000_00, now() - MINUTE, 4),
        State::Accepted,
    )
    .await;
    // Written as a phone from before delivery wrote it: no `delivery` key at all.
    let mut old = serde_json::to_value(&record).unwrap();
    old.as_object_mut().unwrap().remove("delivery");
    let database = db::open().await.unwrap();
    let transaction = database
        .transaction(&[HISTORY], idb::TransactionMode::ReadWrite)
        .unwrap();
    transaction
        .object_store(HISTORY)
        .unwrap()
        .put(&db::to_js(&old).unwrap(), None)
        .unwrap()
        .await
        .unwrap();
    db::finish(transaction).await.unwrap();

    let session = record.session().to_string();
    let app = start_in_russian_at("/history");
    wait_for(&entry(&session), 5).await;
    assert_eq!(
        attribute_of(&entry(&session), "data-state").as_deref(),
        Some("accepted")
    );
    assert!(find(&format!("{} .delivery", entry(&session))).is_none());
    drop(app);
    let app = start_in_russian_at(&format!("/history/{session}"));
    wait_for("#payment", 5).await;
    assert_eq!(text_of("#payment-transaction"), "D001-002000");
    assert!(find("#payment-delivery").is_none());
    drop(app);
}

/// Serves the gateway's signed `answer` to the status query of its session in place of the
/// network (every other request goes out as usual) — bound to `query`, that signed status
/// query, as the gateway binds its answers; counts the status queries in
/// `globalThis.statusQueries`. Returns a function that puts the real `fetch` back.
fn serve_status_answer(answer: &Response, query: &SignedRequest) -> js_sys::Function {
    let body = answer.encode();
    let digest = exchange_digest("status", &query.signer, &query.signature, query.bytes());
    let signed = Signed {
        signer: GATEWAY_SIGNER.to_owned(),
        signature: gateway_key().sign(&bound_answer(&digest, &body)),
        body,
    };
    let install = js_sys::Function::new_with_args(
        "session, body, keyHeader, key, signatureHeader, signature",
        "const real = globalThis.fetch;
         globalThis.statusQueries = 0;
         globalThis.fetch = function (request, init) {
           const url = typeof request === 'string' ? request : request.url;
           if (!url.includes('/api/v1/status')) return real.call(globalThis, request, init);
           return request.clone().text().then((text) => {
             if (JSON.parse(text).session !== session) return new Response('', { status: 404 });
             globalThis.statusQueries += 1;
             const headers = new Headers();
             headers.set(keyHeader, key);
             headers.set(signatureHeader, signature);
             return new Response(body, { status: 200, headers });
           });
         };
         return () => { globalThis.fetch = real; };",
    );
    let args = js_sys::Array::new();
    for arg in [
        answer.session.as_ref().unwrap().to_string(),
        String::from_utf8(signed.body).unwrap(),
        KEY_HEADER.to_owned(),
        signed.signer,
        SIGNATURE_HEADER.to_owned(),
        signed.signature.to_string(),
    ] {
        args.push(&arg.into());
    }
    install
        .apply(&JsValue::NULL, &args)
        .unwrap()
        .unchecked_into()
}

fn status_queries() -> f64 {
    js_sys::Reflect::get(&js_sys::global(), &"statusQueries".into())
        .unwrap()
        .as_f64()
        .unwrap_or(0.0)
}

#[wasm_bindgen_test]
async fn a_payment_on_its_way_is_refreshed_while_the_history_is_open() {
    keep_sample_catalogue().await;
    forget_payments().await;
    forget_key().await;
    // The phone's key card names the gateway key that signs the answer; the key itself stays
    // locked: the status query was signed when the payment was.
    tolem::storage::keystore::create(&sample_card(), "сәлем-101")
        .await
        .unwrap();
    let record = accepted_with(delivery(DeliveryState::Queued, now() - MINUTE), 5).await;
    let delivered = Delivery {
        provider_txn: Some("KC-55501".into()),
        ..delivery(DeliveryState::Delivered, now())
    };
    let answer = Response {
        v: PROTOCOL_VERSION,
        session: Some(record.session().clone()),
        code: ResultCode::Ok,
        outcome: Some(Outcome::Payment(PaymentReceipt {
            method: Default::default(),
            transaction_id: record.transaction_id.clone().unwrap(),
            state: PaymentState::Accepted,
            amount_tiyn: record.payment.amount_tiyn,
            customer_amount_tiyn: record.payment.customer_amount_tiyn,
            accepted_at_ms: now() - MINUTE,
            delivery: Some(delivered.clone()),
        })),
        gateway_time_ms: now(),
        retry_after_s: None,
    };
    let restore = serve_status_answer(&answer, &record.payment.status);

    let session = record.session().to_string();
    let app = start_in_russian_at("/history");
    wait_for(&format!("{}[data-delivery=delivered]", entry(&session)), 10).await;
    assert_eq!(
        text_of(&format!("{} .delivery-label", entry(&session))),
        "Доставлен провайдеру, № KC-55501"
    );
    assert!(status_queries() >= 1.0);
    // Only the delivery changed: the payment's own record is as it was.
    let stored = store::get(record.session()).await.unwrap().unwrap();
    let mut expected = record.clone();
    expected.delivery = Some(delivered);
    assert_eq!(stored, expected);

    // Final now: no more queries, however long the history stays open.
    let asked = status_queries();
    gloo_timers_sleep(std::time::Duration::from_secs(6)).await;
    assert_eq!(status_queries(), asked);
    drop(app);
    restore.call0(&JsValue::NULL).unwrap();
    forget_key().await;
}

/// How far the app reaches beyond its 320 px box (0 = it fits).
fn overflow_at_320() -> i32 {
    let root = leptos::prelude::document()
        .get_element_by_id("app-under-test")
        .unwrap();
    root.scroll_width() - root.client_width()
}

#[wasm_bindgen_test]
async fn deliveries_fit_320_pixels_in_every_language() {
    keep_sample_catalogue().await;
    forget_payments().await;
    load_style_sheet();
    let refunded = Delivery {
        refusal: Some(ProviderRefusal::PaymentForbidden),
        ..delivery(DeliveryState::Refunded, now())
    };
    let late = Delivery {
        delayed: true,
        ..delivery(DeliveryState::Retrying, now())
    };
    let delivered = Delivery {
        provider_txn: Some("KCELL-2026-11-30-000099812".into()),
        ..delivery(DeliveryState::Delivered, now())
    };
    let refunded = accepted_with(refunded, 6).await;
    accepted_with(late, 7).await;
    accepted_with(delivered, 8).await;

    for path in [
        "/history".to_owned(),
        format!("/history/{}", refunded.session()),
        format!("/history/{}/receipt", refunded.session()),
    ] {
        for language in ["ru", "kk", "en"] {
            let app = start_in_russian_at(&path);
            let root = app_root();
            root.style().set_property("width", "320px").unwrap();
            root.style().set_property("overflow", "auto").unwrap();
            wait_for(".delivery-refund", 5).await;
            choose_language(language).await;
            settle().await;
            assert!(
                overflow_at_320() <= 0,
                "{path} in {language} is {} px wider than 320 px",
                overflow_at_320()
            );
            drop(app);
        }
    }
    forget_language();
}

fn app_root() -> web_sys::HtmlElement {
    leptos::prelude::document()
        .get_element_by_id("app-under-test")
        .unwrap()
        .unchecked_into()
}
