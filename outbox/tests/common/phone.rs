//! The phone under test, in the browser: its stores emptied and its key card kept as the app
//! keeps it, so the outbox (and a replay) finds the card it checks answers with.

use tolem_outbox::db::{self, HISTORY, KEYS, OUTBOX};

use super::card;

/// A phone with no payments and the key card in its key store (as the app keeps it).
pub async fn fresh_phone() {
    let database = db::open().await.unwrap();
    let transaction = database
        .transaction(&[HISTORY, OUTBOX, KEYS], idb::TransactionMode::ReadWrite)
        .unwrap();
    for name in [HISTORY, OUTBOX, KEYS] {
        transaction
            .object_store(name)
            .unwrap()
            .clear()
            .unwrap()
            .await
            .unwrap();
    }
    let key = serde_json::json!({ "key_serial": "P1001-1", "card": card() });
    transaction
        .object_store(KEYS)
        .unwrap()
        .put(&db::to_js(&key).unwrap(), None)
        .unwrap()
        .await
        .unwrap();
    db::finish(transaction).await.unwrap();
}
