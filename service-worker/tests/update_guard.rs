//! Guards issue 13 item 6 inside a real service worker in Chromium: a new worker version that
//! cannot read what waits in the outbox fails its install — so the browser keeps the running
//! version, which can — and refuses `skipWaiting` when the cashier presses *Update*; with
//! nothing waiting, or everything waiting in a format it reads, it installs as before.
#![cfg(target_arch = "wasm32")]

use tolem_outbox::compat::OUTBOX_FORMAT;
use tolem_outbox::db::{self, HISTORY, OUTBOX};
use wasm_bindgen::JsValue;
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_service_worker);

/// An app shell with nothing to fetch: the install's own work is then only the check.
fn empty_precache() -> JsValue {
    db::to_js(&serde_json::json!({ "immutable": [], "revalidate": [] })).unwrap()
}

async fn empty_outbox() {
    let database = db::open().await.unwrap();
    let transaction = database
        .transaction(&[HISTORY, OUTBOX], idb::TransactionMode::ReadWrite)
        .unwrap();
    for name in [HISTORY, OUTBOX] {
        let store = transaction.object_store(name).unwrap();
        store.clear().unwrap().await.unwrap();
    }
    db::finish(transaction).await.unwrap();
}

/// An outbox entry as a build with format `format` would have written it.
async fn waiting_entry(session: &str, format: u32) {
    let entry = serde_json::json!({
        "session": session, "created_at_ms": 1_795_000_000_000_i64,
        "amount_tiyn": 1_000_00, "kind": "payment", "format": format,
    });
    let database = db::open().await.unwrap();
    let transaction = database
        .transaction(&[OUTBOX], idb::TransactionMode::ReadWrite)
        .unwrap();
    let store = transaction.object_store(OUTBOX).unwrap();
    store
        .put(&db::to_js(&entry).unwrap(), None)
        .unwrap()
        .await
        .unwrap();
    db::finish(transaction).await.unwrap();
}

#[wasm_bindgen_test]
async fn a_version_that_cannot_read_what_waits_is_not_installed() {
    empty_outbox().await;
    waiting_entry("1795000000000aaaaaaa", OUTBOX_FORMAT + 1).await;
    let installed = tolem_sw::install("guard-unreadable".into(), empty_precache()).await;
    assert!(installed.is_err(), "installed over payments it cannot read");
    assert!(
        tolem_sw::may_take_over().await.is_err(),
        "Update would take over"
    );
}

#[wasm_bindgen_test]
async fn a_version_that_reads_what_waits_installs() {
    empty_outbox().await;
    waiting_entry("1795000000000bbbbbbb", OUTBOX_FORMAT).await;
    // An entry from before entries had a format: format 1.
    let old = serde_json::json!({
        "session": "1795000000000ccccccc", "created_at_ms": 1_795_000_000_000_i64,
        "amount_tiyn": 1_000_00,
    });
    let database = db::open().await.unwrap();
    let transaction = database
        .transaction(&[OUTBOX], idb::TransactionMode::ReadWrite)
        .unwrap();
    let store = transaction.object_store(OUTBOX).unwrap();
    store
        .put(&db::to_js(&old).unwrap(), None)
        .unwrap()
        .await
        .unwrap();
    db::finish(transaction).await.unwrap();
    drop(database);

    let installed = tolem_sw::install("guard-readable".into(), empty_precache()).await;
    assert!(installed.is_ok(), "{installed:?}");
    assert!(tolem_sw::may_take_over().await.is_ok());
    empty_outbox().await;
}

#[wasm_bindgen_test]
async fn with_nothing_waiting_any_version_installs() {
    empty_outbox().await;
    let installed = tolem_sw::install("guard-empty".into(), empty_precache()).await;
    assert!(installed.is_ok(), "{installed:?}");
}
