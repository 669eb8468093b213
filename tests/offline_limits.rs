//! Guards the offline limits on the payment form in a real browser, with payments already
//! waiting on the phone: a deferral the cashier asks for before the app has read what waits is
//! checked against what really waits in IndexedDB — not against the outbox's "nothing waits"
//! before its first read — and refused past the point's limits; once read, a deferral that fits
//! goes on to the confirmation as before.
#![cfg(target_arch = "wasm32")]

mod support;

use js_sys::Promise;
use support::card::sample_card;
use support::catalogue::keep_sample_catalogue;
use support::gateway::serve_nothing;
use support::payments::{forget_payments, signed, store_in_state};
use support::*;
use tolem::storage::keystore;
use tolem_outbox::State;
use tolem_outbox::db::DB_NAME;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

const PASSPHRASE: &str = "касса-лимит-1";

/// Keeps a read-write transaction on the outbox store open (from a connection of its own, as
/// another tab's long write would) until the returned function is called: every read of the
/// outbox queues behind it, so the app cannot have read what waits while it is held.
async fn hold_the_outbox() -> js_sys::Function {
    let hold = js_sys::Function::new_with_args(
        "name",
        "return new Promise((ok, fail) => { const r = indexedDB.open(name); \
         r.onerror = () => fail(r.error); \
         r.onsuccess = () => { const db = r.result; \
           const store = db.transaction(['outbox'], 'readwrite').objectStore('outbox'); \
           let held = true; \
           const again = () => { if (held) store.count().onsuccess = again; else db.close(); }; \
           again(); \
           ok(() => { held = false; }); }; });",
    );
    let promise: Promise = hold
        .call1(&JsValue::NULL, &DB_NAME.into())
        .unwrap()
        .unchecked_into();
    JsFuture::from(promise).await.unwrap().unchecked_into()
}

#[wasm_bindgen_test]
async fn a_deferral_before_the_outbox_is_read_is_checked_against_what_waits() {
    forget_key().await;
    keep_sample_catalogue().await;
    forget_payments().await;
    // 180 000 ₸ wait on the phone already; the card lets 200 000 ₸ wait at most.
    let limits = sample_card().offline;
    assert_eq!(limits.max_total_tiyn, 200_000_00);
    let now = js_sys::Date::now() as i64;
    for n in 1..=4 {
        store_in_state(
            signed(("kcell", "Kcell"), "7011234567", 45_000_00, now, n),
            State::Deferred,
        )
        .await;
    }
    keystore::create(&sample_card(), PASSPHRASE).await.unwrap();
    let _offline = serve_nothing();

    let release = hold_the_outbox().await;
    let app = start_in_russian_at("/pay/kcell");
    wait_for("#pay-form", 5).await;
    unlock_with(PASSPHRASE).await;
    // 30 000 ₸ more would make 210 000 ₸; alone it is within the single-payment limit.
    type_into("#pay-account", "7011234567");
    type_into("#pay-amount", "30000");
    tap("#pay-defer");
    settle().await;
    assert!(
        find("#pay-confirm").is_none(),
        "deferred before anyone knew what waits:\n{}",
        page_text()
    );

    release.call0(&JsValue::NULL).unwrap();
    wait_for("#pay-limit", 5).await;
    assert_eq!(
        text_of("#pay-limit"),
        "На телефоне может ждать не больше 200\u{a0}000,00\u{a0}₸; поместится ещё \
         20\u{a0}000,00\u{a0}₸. Сначала отправьте ждущие платежи."
    );
    assert!(find("#pay-confirm").is_none());

    // Read now: an amount that fits goes on to the confirmation, as always.
    wait_for("#outbox-summary[data-known='true']", 5).await;
    type_into("#pay-amount", "20000");
    tap("#pay-defer");
    wait_for("#pay-confirm[data-action=defer]", 5).await;
    assert!(find("#pay-limit").is_none());
    assert_eq!(tolem_outbox::store::waiting().await.unwrap().len(), 4);
    drop(app);
    forget_payments().await;
    forget_key().await;
}
