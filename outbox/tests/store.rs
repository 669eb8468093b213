//! Guards the payments on the phone in a real browser with real IndexedDB: a new payment is in
//! the history and the outbox at once, or — when the transaction fails — in neither; a session
//! is never stored twice; the history lists newest first and prunes only final payments beyond
//! the last 100; a final state leaves the outbox and is never overwritten by a late non-final
//! one; the due queue is oldest first and honours each payment's schedule; every change is
//! announced on the broadcast channel; a replayer without the private key finds the key card.
#![cfg(target_arch = "wasm32")]

mod common;

use common::heard::Heard;
use common::*;
use tolem_outbox::db::{self, HISTORY, KEYS, OUTBOX, SETTINGS};
use tolem_outbox::record::{Failure, PaymentRecord, State};
use tolem_outbox::settle;
use tolem_outbox::store::{self, HISTORY_KEEP, SENDING_GRACE_MS, StoreError};
use wasm_bindgen::JsValue;
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

/// Empties the payment stores (and the key store) so each test starts from a fresh phone.
async fn fresh_phone() {
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
    db::finish(transaction).await.unwrap();
}

/// A new payment, letter or shift report is written in a transaction that waits for the disk:
/// the browser takes the "strict" durability (its default is "relaxed", which a power cut right
/// after "deferred" on the screen can undo), and what is written through it is there.
#[wasm_bindgen_test]
async fn what_must_not_be_lost_is_written_in_a_strict_transaction() {
    let database = db::open().await.unwrap();
    let transaction = database.durable_transaction(&[SETTINGS]).unwrap();
    let raw = web_sys::IdbTransaction::from(transaction);
    let durability = js_sys::Reflect::get(&raw, &"durability".into()).unwrap();
    assert_eq!(durability.as_string().as_deref(), Some("strict"));
    let transaction = idb::Transaction::from(raw);
    let written = JsValue::from_f64(7.0);
    let key = JsValue::from_str("strict-test");
    transaction
        .object_store(SETTINGS)
        .unwrap()
        .put(&written, Some(&key))
        .unwrap()
        .await
        .unwrap();
    db::finish(transaction).await.unwrap();
    let read = db::read_setting("strict-test").await.unwrap();
    assert_eq!(read.and_then(|v| v.as_f64()), Some(7.0));
}

/// The sessions in a store, read directly (not through the store module).
async fn raw_keys(store_name: &str) -> Vec<String> {
    let database = db::open().await.unwrap();
    let transaction = database
        .transaction(&[store_name], idb::TransactionMode::ReadOnly)
        .unwrap();
    let keys = transaction
        .object_store(store_name)
        .unwrap()
        .get_all_keys(None, None)
        .unwrap()
        .await
        .unwrap();
    db::finish(transaction).await.unwrap();
    keys.iter().filter_map(|k| k.as_string()).collect()
}

async fn raw_put(store_name: &str, value: &JsValue) {
    let database = db::open().await.unwrap();
    let transaction = database
        .transaction(&[store_name], idb::TransactionMode::ReadWrite)
        .unwrap();
    transaction
        .object_store(store_name)
        .unwrap()
        .put(value, None)
        .unwrap()
        .await
        .unwrap();
    db::finish(transaction).await.unwrap();
}

fn with_state(record: &PaymentRecord, state: State) -> PaymentRecord {
    let mut changed = record.clone();
    changed.state = state;
    changed.updated_at_ms += 1;
    changed
}

#[wasm_bindgen_test]
async fn a_new_payment_is_in_the_history_and_the_outbox_at_once() {
    fresh_phone().await;
    let record = store::save_new(signed_at(NOW, 1), NOW).await.unwrap();
    assert_eq!(record.state, State::Deferred);
    let session = record.session().to_string();
    assert_eq!(raw_keys(HISTORY).await, vec![session.clone()]);
    assert_eq!(raw_keys(OUTBOX).await, vec![session]);
    assert_eq!(
        store::get(record.session()).await.unwrap(),
        Some(record.clone())
    );
    assert_eq!(store::waiting().await.unwrap(), vec![record]);
}

/// A failure of the browser's storage keeps the browser's own words — its DOMException's name
/// and message, which tell a full phone from a broken request, and all the console and a
/// support call have to go on.
#[wasm_bindgen_test]
async fn a_storage_failure_keeps_the_browsers_own_words() {
    let database = db::open().await.unwrap();
    let refused = database
        .transaction(&["no such store"], idb::TransactionMode::ReadOnly)
        .expect_err("no transaction on a store that does not exist");
    match db::StorageError::from(refused) {
        db::StorageError::Failed(text) => assert!(
            text.starts_with("NotFoundError: ") && text.len() > "NotFoundError: ".len(),
            "{text}"
        ),
        other => panic!("not a failure: {other:?}"),
    }
}

#[wasm_bindgen_test]
async fn nothing_is_written_when_the_transaction_fails() {
    fresh_phone().await;
    let payment = signed_at(NOW, 1);
    // An outbox entry left under this session makes the outbox half of the write fail after
    // the history half succeeded: the whole transaction must go.
    let stray = js_sys::JSON::parse(&format!(
        r#"{{"session":"{}","created_at_ms":1,"amount_tiyn":1}}"#,
        payment.session
    ))
    .unwrap();
    raw_put(OUTBOX, &stray).await;
    let error = store::save_new(payment.clone(), NOW).await.unwrap_err();
    assert!(matches!(error, StoreError::Storage(_)), "{error:?}");
    assert!(
        raw_keys(HISTORY).await.is_empty(),
        "the history half was rolled back"
    );
    assert_eq!(store::get(&payment.session).await.unwrap(), None);
}

#[wasm_bindgen_test]
async fn a_session_is_never_stored_twice() {
    fresh_phone().await;
    let first = store::save_new(signed_at(NOW, 1), NOW).await.unwrap();
    let accepted = store::update(&with_state(&first, State::Accepted))
        .await
        .unwrap();
    assert_eq!(
        store::save_new(signed_at(NOW, 1), NOW + 5).await,
        Err(StoreError::Exists)
    );
    assert_eq!(store::get(first.session()).await.unwrap(), Some(accepted));
}

#[wasm_bindgen_test]
async fn the_history_is_newest_first_and_prunes_only_final_payments() {
    fresh_phone().await;
    let minute = 60_000;
    // The three oldest stay deferred; every later one is accepted right after it is saved.
    let mut waiting = Vec::new();
    for i in 0..3 {
        waiting.push(
            store::save_new(signed_at(NOW + i * minute, 9), NOW)
                .await
                .unwrap(),
        );
    }
    let total = HISTORY_KEEP as i64 + 5;
    for i in 3..total {
        let record = store::save_new(signed_at(NOW + i * minute, 9), NOW)
            .await
            .unwrap();
        store::update(&with_state(&record, State::Accepted))
            .await
            .unwrap();
    }
    let history = store::history().await.unwrap();
    // The 100 newest, and the three unfinished ones although they are older.
    assert_eq!(history.len(), HISTORY_KEEP + 3);
    let times: Vec<i64> = history.iter().map(|r| r.payment.created_at_ms).collect();
    assert!(times.windows(2).all(|w| w[0] > w[1]), "newest first");
    assert_eq!(times[0], NOW + (total - 1) * minute);
    let oldest: Vec<_> = history[HISTORY_KEEP..]
        .iter()
        .map(|r| r.session().clone())
        .collect();
    let mut expected: Vec<_> = waiting.iter().map(|r| r.session().clone()).collect();
    expected.reverse();
    assert_eq!(oldest, expected);
    assert!(
        history[HISTORY_KEEP..]
            .iter()
            .all(|r| r.state == State::Deferred)
    );
    assert_eq!(store::waiting().await.unwrap().len(), 3);
}

#[wasm_bindgen_test]
async fn a_final_state_leaves_the_outbox_and_is_never_overwritten() {
    fresh_phone().await;
    let record = store::save_new(signed_at(NOW, 1), NOW).await.unwrap();
    let mut accepted = with_state(&record, State::Accepted);
    accepted.transaction_id = Some("D001-000042".into());
    let stored = store::update(&accepted).await.unwrap();
    assert_eq!(stored.state, State::Accepted);
    assert!(raw_keys(OUTBOX).await.is_empty());

    // A slower sender that got no answer finishes later: the accepted state stays.
    let mut late = with_state(&record, State::Unknown);
    late.last_failure = Some(Failure::Timeout);
    let kept = store::update(&late).await.unwrap();
    assert_eq!(kept, stored);
    assert_eq!(
        store::mark_sending(record.session(), NOW).await.unwrap(),
        stored
    );

    // The signed payment itself cannot be changed through an update.
    let fresh = store::save_new(signed_at(NOW, 4), NOW).await.unwrap();
    let mut tampered = with_state(&fresh, State::Unknown);
    tampered.payment.account = "7770000000".into();
    let after = store::update(&tampered).await.unwrap();
    assert_eq!(after.payment.account, "7011234567");
    assert_eq!(after.state, State::Unknown);
}

#[wasm_bindgen_test]
async fn the_due_queue_is_oldest_first_and_keeps_each_schedule() {
    fresh_phone().await;
    let newer = store::save_new(signed_at(NOW + 1_000, 2), NOW)
        .await
        .unwrap();
    let older = store::save_new(signed_at(NOW, 3), NOW).await.unwrap();
    let due: Vec<_> = store::due(NOW).await.unwrap();
    assert_eq!(
        due.iter().map(|r| r.session()).collect::<Vec<_>>(),
        vec![older.session(), newer.session()]
    );

    // A payment being sent is left to its sender until the grace period is over.
    let sending = store::mark_sending(older.session(), NOW).await.unwrap();
    assert_eq!(sending.state, State::Sending);
    let due = store::due(NOW + 1).await.unwrap();
    assert_eq!(due.len(), 1);
    assert_eq!(due[0].session(), newer.session());
    let due = store::due(NOW + SENDING_GRACE_MS).await.unwrap();
    assert_eq!(due[0].session(), older.session(), "interrupted: due again");

    // A backoff after no connection moves the next attempt.
    let mut backed_off = store::get(newer.session()).await.unwrap().unwrap();
    backed_off.next_attempt_at_ms = NOW + settle::backoff_ms(1);
    store::update(&backed_off).await.unwrap();
    assert_eq!(store::due(NOW + 1).await.unwrap().len(), 0);
    assert_eq!(store::waiting().await.unwrap().len(), 2);
}

#[wasm_bindgen_test]
async fn every_change_is_announced_to_other_contexts() {
    fresh_phone().await;
    let heard = Heard::listen();
    let record = store::save_new(signed_at(NOW, 6), NOW).await.unwrap();
    store::mark_sending(record.session(), NOW).await.unwrap();
    store::update(&with_state(&record, State::Accepted))
        .await
        .unwrap();
    // Nothing changes now (the state is final already), so nothing is announced.
    store::update(&with_state(&record, State::Unknown))
        .await
        .unwrap();
    assert_eq!(
        heard.so_far().await,
        vec![vec![record.session().clone()]; 3],
        "saved, sending, accepted: one message each"
    );
}

#[wasm_bindgen_test]
async fn a_replayer_without_the_private_key_finds_the_key_card() {
    fresh_phone().await;
    assert_eq!(store::key_card().await.unwrap(), None);
    let record = js_sys::JSON::parse(
        &serde_json::json!({
            "key_serial": "P1001-1",
            "card": serde_json::to_value(card()).unwrap(),
            "sealed": { "kdf": "PBKDF2-SHA256" },
        })
        .to_string(),
    )
    .unwrap();
    raw_put(KEYS, &record).await;
    assert_eq!(store::key_card().await.unwrap(), Some(card()));
}
