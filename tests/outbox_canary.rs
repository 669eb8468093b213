//! Guards the app's side of issue 13 item 5 in a real browser: cash payments taken on the form
//! are numbered 1, 2… inside their signed `pay`; a phone with a key keeps a canary in IndexedDB
//! and a marker in `localStorage`; when the marker outlives the canary (the browser cleared the
//! database) every page shows a loud banner, and the next signed request carries the report;
//! a key deleted on purpose is no loss.
#![cfg(target_arch = "wasm32")]

mod support;

use support::card::sample_card;
use support::catalogue::keep_sample_catalogue;
use support::payments::forget_payments;
use support::*;
use tolem::storage::keystore;
use tolem_outbox::{canary, db, sequence};
use tolem_protocol::messages::{Message, Request, Step};
use wasm_bindgen::JsValue;
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

const PASSPHRASE: &str = "касса-смена-1";
const MARKER: &str = "tolem.outbox";
const LOST: &str = "tolem.outbox_lost";

fn local() -> web_sys::Storage {
    web_sys::window().unwrap().local_storage().unwrap().unwrap()
}

/// A phone that never had a key, a number, a canary or a marker.
async fn blank_phone() {
    forget_key().await;
    forget_payments().await;
    let serial = sample_card().key_serial;
    db::write_setting(&sequence::setting(&serial), &JsValue::from_f64(0.0))
        .await
        .unwrap();
    canary::remove().await.unwrap();
    for name in [MARKER, LOST, "tolem.outbox_lost_hidden"] {
        local().remove_item(name).unwrap();
    }
}

async fn defer_on_the_form(account: &str) {
    type_into("#pay-account", account);
    type_into("#pay-amount", "1000");
    tap("#pay-defer");
    wait_for("#pay-confirm[data-action=defer]", 5).await;
    tap("#confirm-submit");
    wait_for("#pay-result", 10).await;
    tap("#pay-new");
    wait_for("#pay-form", 5).await;
}

#[wasm_bindgen_test]
async fn payments_taken_on_the_form_are_numbered_inside_their_signed_pay() {
    blank_phone().await;
    keep_sample_catalogue().await;
    keystore::create(&sample_card(), PASSPHRASE).await.unwrap();
    let app = start_in_russian_at("/pay/kcell");
    unlock_with(PASSPHRASE).await;
    defer_on_the_form("7011234567").await;
    defer_on_the_form("7017654321").await;

    let mut numbers: Vec<i64> = tolem_outbox::store::waiting()
        .await
        .unwrap()
        .iter()
        .map(|record| {
            let pay = Request::decode(record.payment.pay.bytes()).unwrap();
            assert!(matches!(pay.step, Step::Pay(_)));
            assert_eq!(pay.seq, record.payment.seq);
            pay.seq.expect("the pay carries its number")
        })
        .collect();
    numbers.sort();
    assert_eq!(numbers, vec![1, 2]);
    drop(app);
    blank_phone().await;
}

#[wasm_bindgen_test]
async fn a_phone_with_a_key_keeps_a_canary_and_a_marker() {
    blank_phone().await;
    keystore::create(&sample_card(), PASSPHRASE).await.unwrap();
    let planted = canary::read()
        .await
        .unwrap()
        .expect("a canary in IndexedDB");
    assert_eq!(planted.key_serial, sample_card().key_serial);
    let marker = local()
        .get_item(MARKER)
        .unwrap()
        .expect("a marker outside IndexedDB");
    assert!(marker.contains(&planted.key_serial), "{marker}");
    blank_phone().await;
}

#[wasm_bindgen_test]
async fn a_vanished_outbox_is_shown_on_every_page_and_reported_with_the_next_request() {
    blank_phone().await;
    keystore::create(&sample_card(), PASSPHRASE).await.unwrap();
    // The browser clears the database: key, payments and canary go; `localStorage` stays.
    let factory = idb::Factory::new().unwrap();
    factory.delete(db::DB_NAME).unwrap().await.unwrap();

    let app = start_in_russian_at("/");
    let banner = wait_for("#outbox-lost", 5).await;
    assert_eq!(
        banner.get_attribute("data-key"),
        Some(sample_card().key_serial)
    );
    assert!(banner.inner_text().contains("Браузер стёр данные кассы"));
    let report = tolem::canary::lost_report().expect("a report to send");
    assert_eq!(report.key_serial, sample_card().key_serial);
    let request = tolem::api::new_request(&sample_card(), Step::Balance);
    assert_eq!(request.outbox_lost, Some(report));
    drop(app);
    blank_phone().await;
}

#[wasm_bindgen_test]
async fn a_key_deleted_on_purpose_is_no_loss() {
    blank_phone().await;
    keystore::create(&sample_card(), PASSPHRASE).await.unwrap();
    keystore::delete().await.unwrap();
    assert_eq!(local().get_item(MARKER).unwrap(), None);
    assert_eq!(canary::read().await.unwrap(), None);
    let app = start_in_russian_at("/");
    wait_for(".menu", 5).await;
    settle().await;
    assert!(find("#outbox-lost").is_none());
    drop(app);
}
