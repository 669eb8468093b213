//! Guards the outbox side of issue 13 item 6 in a real browser with real IndexedDB: every
//! entry is stored with this build's format, the check reads the formats of what waits without
//! decoding it, and it never creates a database that is not there.
#![cfg(target_arch = "wasm32")]

mod common;

use common::*;
use tolem_outbox::compat::{self, OUTBOX_FORMAT, Unreadable};
use tolem_outbox::db::{self, DB_NAME, DB_VERSION, HISTORY, OUTBOX};
use tolem_outbox::store;
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

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

#[wasm_bindgen_test]
async fn a_stored_payment_carries_this_builds_format_and_passes() {
    empty_outbox().await;
    store::save_new(signed_at(NOW, 51), NOW).await.unwrap();
    let stored = compat::inspect().await.unwrap().unwrap();
    assert_eq!(stored.db_version, DB_VERSION);
    assert_eq!(stored.formats, vec![OUTBOX_FORMAT]);
    assert_eq!(compat::may_take_over().await, Ok(()));
}

#[wasm_bindgen_test]
async fn an_entry_in_a_newer_format_holds_the_update_back() {
    empty_outbox().await;
    let entry = serde_json::json!({
        "session": "1795000000000ddddddd", "created_at_ms": NOW, "amount_tiyn": 100,
        "kind": "payment", "format": OUTBOX_FORMAT + 1,
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
    drop(database);
    assert_eq!(
        compat::may_take_over().await,
        Err(Unreadable::Format {
            format: OUTBOX_FORMAT + 1,
            count: 1
        })
    );
    empty_outbox().await;
}

#[wasm_bindgen_test]
async fn the_check_creates_no_database() {
    let factory = idb::Factory::new().unwrap();
    factory.delete(DB_NAME).unwrap().await.unwrap();
    assert_eq!(compat::inspect().await, Ok(None));
    // Had the check created an empty version-1 database, the stores would now be missing.
    store::save_new(signed_at(NOW, 52), NOW).await.unwrap();
    empty_outbox().await;
}
