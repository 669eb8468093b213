//! Guards the top bar's count of waiting payments before the phone has read them (issue 16):
//! until the outbox is read it says `…`, never a zero or nothing — a cashier who glances at it
//! must not believe everything was sent when nobody knows yet. Storage this app cannot open (a
//! newer version's database, a broken profile) is the case where "not read yet" lasts, so it is
//! made here for real; once the storage reads, the count is known and nothing waiting hides it.
#![cfg(target_arch = "wasm32")]

mod support;

use js_sys::Promise;
use support::*;
use tolem_outbox::db::{DB_NAME, DB_VERSION};
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

/// Runs `body` (JavaScript returning a promise) with `name` and `version`.
async fn indexed_db(body: &str, version: u32) {
    let run = js_sys::Function::new_with_args("name, version", body);
    let promise: Promise = run
        .call2(&JsValue::NULL, &DB_NAME.into(), &version.into())
        .unwrap()
        .unchecked_into();
    JsFuture::from(promise).await.unwrap();
}

async fn delete_storage() {
    indexed_db(
        "return new Promise((ok, fail) => { const r = indexedDB.deleteDatabase(name); \
         r.onsuccess = () => ok(); r.onerror = () => fail(r.error); r.onblocked = () => ok(); });",
        0,
    )
    .await;
}

#[wasm_bindgen_test]
async fn until_the_outbox_is_read_the_top_bar_never_says_nothing_waits() {
    delete_storage().await;
    // A database of a newer version than this app's: opening it fails, the outbox stays unread.
    indexed_db(
        "return new Promise((ok, fail) => { const r = indexedDB.open(name, version); \
         r.onupgradeneeded = () => {}; r.onsuccess = () => { r.result.close(); ok(); }; \
         r.onerror = () => fail(r.error); });",
        DB_VERSION + 1,
    )
    .await;
    let app = start_fresh();
    let summary = wait_for("#outbox-summary[data-known='false']", 5).await;
    settle().await;
    assert!(!summary.hidden(), "an unread outbox is not an empty one");
    assert_eq!(text_of("#outbox-summary .outbox-text"), "…");
    assert_eq!(attribute_of("#outbox-summary", "data-count"), None);
    assert!(
        attribute_of("#outbox-summary", "aria-label")
            .unwrap_or_default()
            .contains("ещё читаются"),
        "the screen reader hears why"
    );
    drop(app);

    // Storage this app can read: the count becomes known, and with nothing waiting it hides.
    delete_storage().await;
    let app = start_fresh();
    let summary = wait_for("#outbox-summary[data-known='true']", 10).await;
    assert!(summary.hidden());
    assert_eq!(
        attribute_of("#outbox-summary", "data-count").as_deref(),
        Some("0")
    );
    drop(app);
}
