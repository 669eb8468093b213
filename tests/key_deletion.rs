//! Guards issue 13 item 4 in a real browser: deleting the key while payments or letters wait
//! in the outbox is refused until the cashier saved them to a file or confirmed twice that they
//! are lost — the page says how many payments wait, for how much, and how many letters; the
//! saved file holds the exact signed requests, ready to replay; and the phone's revocation
//! names the sessions that wait, so the gateway still takes them when they are replayed.
#![cfg(target_arch = "wasm32")]

mod support;

use support::card::sample_card;
use support::gateway::serve;
use support::payments::{forget_payments, signed, store_in_state};
use support::{attribute_of, find, forget_key, start_at, tap, unlock_with, wait_for};
use tolem::storage::keystore;
use tolem_outbox::record::State;
use tolem_protocol::codes::ResultCode;
use tolem_protocol::messages::{Message, Outcome, Request, Response, Step};
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

const DELETE: &str = "/settings/keys/delete";
const KCELL: (&str, &str) = ("kcell", "Kcell");

const PASSPHRASE: &str = "кассир-2026";

/// A phone with a key and one deferred payment of 1 500 ₸ waiting.
async fn phone_with_a_waiting_payment() -> tolem_outbox::PaymentRecord {
    forget_key().await;
    forget_payments().await;
    keystore::create(&sample_card(), PASSPHRASE).await.unwrap();
    let now = js_sys::Date::now() as i64;
    store_in_state(
        signed(KCELL, "7011234567", 1_500_00, now, 41),
        State::Deferred,
    )
    .await
}

async fn key_on_phone() -> bool {
    keystore::load().await.unwrap().is_some()
}

#[wasm_bindgen_test]
async fn deleting_is_refused_while_a_deferred_payment_waits() {
    phone_with_a_waiting_payment().await;
    let _app = start_at(DELETE);
    wait_for("#delete-waiting", 5).await;
    assert_eq!(
        attribute_of("#delete-waiting", "data-payments").as_deref(),
        Some("1")
    );
    assert_eq!(
        attribute_of("#delete-waiting", "data-total-tiyn").as_deref(),
        Some("150000")
    );
    assert!(
        find("#delete-confirm").is_none(),
        "the key can be deleted with a payment waiting"
    );
    assert!(find("#delete-export").is_some() && find("#delete-lose").is_some());
    assert!(key_on_phone().await);
}

#[wasm_bindgen_test]
async fn confirming_the_loss_twice_deletes_the_key() {
    phone_with_a_waiting_payment().await;
    let _app = start_at(DELETE);
    wait_for("#delete-lose", 5).await;
    tap("#delete-lose");
    // The second confirmation names what is lost.
    let question = wait_for("#delete-lose-question", 5).await.inner_text();
    assert!(question.contains('1'), "{question}");
    assert!(find("#delete-confirm").is_none(), "one tap is not enough");
    tap("#delete-lose-confirm");
    wait_for("#delete-confirm", 5).await;
    tap("#delete-confirm");
    wait_for("#delete-result", 10).await;
    assert!(!key_on_phone().await, "the key is still on the phone");
}

#[wasm_bindgen_test]
async fn saving_to_a_file_exports_the_signed_payment_then_allows_deleting() {
    let waiting = phone_with_a_waiting_payment().await;
    // The file the browser is handed, caught where the page makes its Blob URL.
    let catch =
        js_sys::Function::new_with_args("blob", "window.__tolemExported = blob; return 'data:,';");
    let url = js_sys::Reflect::get(&js_sys::global(), &"URL".into()).unwrap();
    let original = js_sys::Reflect::get(&url, &"createObjectURL".into()).unwrap();
    js_sys::Reflect::set(&url, &"createObjectURL".into(), &catch).unwrap();

    let _app = start_at(DELETE);
    wait_for("#delete-export", 5).await;
    tap("#delete-export");
    wait_for("#delete-waiting-settled", 5).await;
    let blob: web_sys::Blob = js_sys::Reflect::get(&js_sys::global(), &"__tolemExported".into())
        .unwrap()
        .unchecked_into();
    let text = wasm_bindgen_futures::JsFuture::from(blob.text())
        .await
        .unwrap()
        .as_string()
        .unwrap();
    let file: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(file["format"], "tolem-outbox-export");
    let exported = &file["payments"][0];
    assert_eq!(exported["session"], waiting.session.to_string());
    // The exact signed bytes and signature, as they would have been sent.
    assert_eq!(exported["pay"]["body"], waiting.payment.pay.body.as_str());
    assert_eq!(
        exported["pay"]["signature"],
        waiting.payment.pay.signature.as_str()
    );
    assert_eq!(
        exported["status"]["body"],
        waiting.payment.status.body.as_str()
    );

    tap("#delete-confirm");
    wait_for("#delete-result", 10).await;
    assert!(!key_on_phone().await);
    js_sys::Reflect::set(&url, &JsValue::from_str("createObjectURL"), &original).unwrap();
}

#[wasm_bindgen_test]
async fn with_nothing_waiting_the_key_is_deleted_as_before() {
    forget_key().await;
    forget_payments().await;
    keystore::create(&sample_card(), PASSPHRASE).await.unwrap();
    let _app = start_at(DELETE);
    wait_for("#delete-confirm", 5).await;
    assert!(find("#delete-waiting").is_none());
}

#[wasm_bindgen_test]
async fn the_revocation_names_the_payments_that_wait_and_no_others() {
    let deferred = phone_with_a_waiting_payment().await;
    let now = js_sys::Date::now() as i64;
    let unknown = store_in_state(
        signed(KCELL, "7011234568", 2_000_00, now, 42),
        State::Unknown,
    )
    .await;
    let accepted = store_in_state(
        signed(KCELL, "7011234569", 3_000_00, now, 43),
        State::Accepted,
    )
    .await;
    // The gateway revokes; a payment the replay may send meanwhile is held (the point blocked),
    // so it still waits.
    let gateway = serve(|step, request| {
        let mut answer = Response::code(Some(request.session.clone()), ResultCode::PointBlocked, 0);
        answer.gateway_time_ms = js_sys::Date::now() as i64;
        if step == "revoke" {
            answer.code = ResultCode::Ok;
            answer.outcome = Some(Outcome::Revoked);
        }
        Some(answer)
    });

    let _app = start_at(DELETE);
    unlock_with(PASSPHRASE).await;
    wait_for("#delete-lose", 5).await;
    tap("#delete-lose");
    wait_for("#delete-lose-confirm", 5).await;
    tap("#delete-lose-confirm");
    wait_for("#delete-confirm", 5).await;
    tap("#delete-confirm");
    wait_for("#delete-result[data-revoked='yes']", 10).await;

    let sent = gateway.sent_to("revoke");
    assert_eq!(sent.len(), 1, "{sent:?}");
    let Step::RevokeWaiting(revocation) = Request::decode(sent[0].body.as_bytes()).unwrap().step
    else {
        panic!("the revocation names nothing: {}", sent[0].body);
    };
    let mut named = revocation.waiting;
    named.sort();
    let mut waiting = vec![deferred.session, unknown.session];
    waiting.sort();
    assert_eq!(named, waiting, "not {}", accepted.session);
    assert!(!key_on_phone().await);
}
