//! Guards the worker's replay inside a real service worker in Chromium: the worker has Web
//! Locks (so it shares the one-replayer lock with the pages); a sync with nothing waiting
//! succeeds; a sync with payments waiting and no gateway in reach fails — so the browser fires it
//! again later — and leaves the payments exactly as they were (nothing sent, nothing lost); a
//! bill awaiting the customer's card keeps the sync alive the same way and is never sent; a sync
//! that found the replay lock held for its whole wait fails too, since its holder may be a pass
//! the browser is about to stop.
#![cfg(target_arch = "wasm32")]

use js_sys::{Function, Promise, Reflect};
use tolem_outbox::db::{self, HISTORY, KEYS, OUTBOX};
use tolem_outbox::lock::{self, Mechanism, Wait};
use tolem_outbox::record::{PaymentDraft, SignedPayment, State};
use tolem_outbox::store;
use tolem_protocol::PROTOCOL_VERSION;
use tolem_protocol::commission::Split;
use tolem_protocol::keys::SecretKey;
use tolem_protocol::messages::{KeyCard, OfflineLimits};
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_service_worker);

const NOW: i64 = 1_795_000_000_000;

fn card() -> KeyCard {
    KeyCard {
        v: PROTOCOL_VERSION,
        dealer: "D001".into(),
        dealer_name: "Демо-дилер".into(),
        point: "P1001".into(),
        point_name: "Демо-касса".into(),
        cashier: "C1".into(),
        key_serial: "P1001-1".into(),
        gateway_key: SecretKey::from_seed(&[0x47; 32]).public_key(),
        offline: OfflineLimits {
            max_payment_tiyn: 50_000_00,
            max_total_tiyn: 200_000_00,
            max_age_ms: 72 * 3_600_000,
        },
        issued_at_ms: NOW,
        dealer_contact: None,
        dealer_details: None,
    }
}

fn payment(n: u8) -> SignedPayment {
    let draft = PaymentDraft {
        provider: "kcell".into(),
        provider_name: "Kcell".into(),
        account: "7011234567".into(),
        split: Split {
            provider_tiyn: 1_000_00,
            commission_tiyn: 0,
            customer_tiyn: 1_000_00,
        },
        comment: None,
    };
    let key = SecretKey::from_seed(&[0x21; 32]);
    SignedPayment::sign(&draft, &card(), &key, NOW + i64::from(n), [n; 8]).unwrap()
}

async fn fresh_phone_with_card() {
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
    // The app's key record, as far as a replayer reads it: the serial and the card.
    let record = serde_json::json!({ "key_serial": "P1001-1", "card": card() });
    transaction
        .object_store(KEYS)
        .unwrap()
        .put(&db::to_js(&record).unwrap(), None)
        .unwrap()
        .await
        .unwrap();
    db::finish(transaction).await.unwrap();
}

#[wasm_bindgen_test]
fn the_worker_shares_the_pages_lock() {
    assert_eq!(lock::available_mechanism(), Mechanism::WebLocks);
}

#[wasm_bindgen_test]
async fn a_sync_with_nothing_waiting_succeeds() {
    fresh_phone_with_card().await;
    assert!(tolem_sw::replay("sync".into()).await.is_ok());
}

#[wasm_bindgen_test]
async fn a_sync_that_cannot_reach_the_gateway_fails_so_the_browser_retries() {
    fresh_phone_with_card().await;
    let first = store::save_new(payment(1), NOW).await.unwrap();
    let second = store::save_new(payment(2), NOW).await.unwrap();

    // The test server is no gateway: its health "answer" is a 404.
    let sync = tolem_sw::replay("sync".into()).await;
    assert!(sync.is_err(), "the sync must fail while payments wait");

    // Nothing was sent, nothing changed: both still deferred, oldest first.
    let waiting = store::waiting().await.unwrap();
    let sessions: Vec<_> = waiting.iter().map(|r| r.session().clone()).collect();
    assert_eq!(
        sessions,
        vec![first.session().clone(), second.session().clone()]
    );
    assert!(
        waiting
            .iter()
            .all(|r| r.state == State::Deferred && r.attempts == 0)
    );

    // A message or the worker's start is not a sync: no failure to report.
    assert!(tolem_sw::replay("message".into()).await.is_ok());
}

#[wasm_bindgen_test]
async fn a_bill_awaiting_the_card_keeps_the_sync_alive_and_is_never_sent() {
    fresh_phone_with_card().await;
    let draft = PaymentDraft {
        provider: "kcell".into(),
        provider_name: "Kcell".into(),
        account: "7011234567".into(),
        split: Split {
            provider_tiyn: 1_000_00,
            commission_tiyn: 0,
            customer_tiyn: 1_000_00,
        },
        comment: None,
    };
    let key = SecretKey::from_seed(&[0x21; 32]);
    let bill = SignedPayment::sign_bill(&draft, &card(), &key, NOW, [9; 8]).unwrap();
    let stored = store::save_new(bill, NOW).await.unwrap();

    // Its outcome is still to be asked: the browser must fire the sync again later.
    let sync = tolem_sw::replay("sync".into()).await;
    assert!(sync.is_err(), "the sync must fail while a bill waits");
    let after = store::get(stored.session()).await.unwrap().unwrap();
    assert_eq!(after.state, State::AwaitingCard);
    assert_eq!(after.attempts, 0, "nothing left the phone");
}

/// A promise and the function that resolves it.
fn signal() -> (Promise, Function) {
    let mut resolver = None;
    let promise = Promise::new(&mut |resolve, _reject| resolver = Some(resolve));
    (promise, resolver.expect("the executor runs at once"))
}

#[wasm_bindgen_test]
async fn a_sync_that_finds_the_lock_busy_fails_so_the_browser_retries() {
    fresh_phone_with_card().await;
    let waiting = store::save_new(payment(3), NOW).await.unwrap();

    // Another replayer (a page, or a pass the browser may stop) holds the lock until released.
    let (taken, took) = signal();
    let (released, release) = signal();
    wasm_bindgen_futures::spawn_local(async move {
        let held = lock::with_replay_lock(Wait::IfFree, move |_| async move {
            let _ = took.call0(&JsValue::NULL);
            let _ = JsFuture::from(released).await;
        })
        .await;
        assert!(held.is_ok());
    });
    JsFuture::from(taken).await.unwrap();

    // A sync queues for the lock for up to lock::MAX_WAIT_MS (60 s, from AbortSignal.timeout):
    // here the wait runs out after 100 ms, so the test does not outlast the runner's timeout.
    let abort_signal = Reflect::get(&js_sys::global(), &"AbortSignal".into()).unwrap();
    let timeout: Function = Reflect::get(&abort_signal, &"timeout".into())
        .unwrap()
        .unchecked_into();
    let (original, this) = (timeout.clone(), abort_signal.clone());
    let short = Closure::<dyn Fn(JsValue) -> JsValue>::new(move |_ms: JsValue| {
        original.call1(&this, &JsValue::from(100)).unwrap()
    });
    Reflect::set(&abort_signal, &"timeout".into(), short.as_ref()).unwrap();
    let sync = tolem_sw::replay("sync".into()).await;
    Reflect::set(&abort_signal, &"timeout".into(), &timeout).unwrap();
    let _ = release.call0(&JsValue::NULL);

    assert!(sync.is_err(), "a busy sync must fail while payments wait");
    let after = store::get(waiting.session()).await.unwrap().unwrap();
    assert_eq!(after.state, State::Deferred);
    assert_eq!(after.attempts, 0, "the busy pass sent nothing");
}
