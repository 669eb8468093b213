//! Guards issue 13 item 5 on the phone, in a real browser with real IndexedDB: each cash
//! payment a key signs carries the next number (1, 2, 3…) inside its signed `pay`; the number is
//! taken only together with storing the payment, so two payments saved at once (two tabs) get
//! two numbers and a payment that was not stored leaves no number used.
#![cfg(target_arch = "wasm32")]

mod common;

use common::*;
use tolem_outbox::db::{self, HISTORY, OUTBOX, SETTINGS};
use tolem_outbox::record::SignedPayment;
use tolem_outbox::store::{self, StoreError};
use tolem_protocol::messages::DecodeError;
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

/// A phone with no payments and no numbers used.
async fn fresh_phone() {
    let database = db::open().await.unwrap();
    let transaction = database
        .transaction(
            &[HISTORY, OUTBOX, SETTINGS],
            idb::TransactionMode::ReadWrite,
        )
        .unwrap();
    for name in [HISTORY, OUTBOX, SETTINGS] {
        let store = transaction.object_store(name).unwrap();
        store.clear().unwrap().await.unwrap();
    }
    db::finish(transaction).await.unwrap();
}

fn numbered(seq: i64, n: u8) -> Result<SignedPayment, DecodeError> {
    SignedPayment::sign_numbered(&draft(), &card(), &point_key(), NOW, [n; 8], seq)
}

/// The number inside a stored payment's signed `pay` bytes.
fn signed_seq(payment: &SignedPayment) -> Option<i64> {
    let body: serde_json::Value = serde_json::from_str(&payment.pay.body).unwrap();
    body.get("seq").and_then(serde_json::Value::as_i64)
}

/// Runs two futures interleaved, as two tabs would, until both are done.
async fn both<A: Future, B: Future>(a: A, b: B) -> (A::Output, B::Output) {
    use std::task::Poll;
    let (mut a, mut b) = (Box::pin(a), Box::pin(b));
    let (mut done_a, mut done_b) = (None, None);
    std::future::poll_fn(|cx| {
        if done_a.is_none()
            && let Poll::Ready(out) = a.as_mut().poll(cx)
        {
            done_a = Some(out);
        }
        if done_b.is_none()
            && let Poll::Ready(out) = b.as_mut().poll(cx)
        {
            done_b = Some(out);
        }
        if done_a.is_some() && done_b.is_some() {
            Poll::Ready(())
        } else {
            Poll::Pending
        }
    })
    .await;
    (done_a.unwrap(), done_b.unwrap())
}

#[wasm_bindgen_test]
async fn each_cash_payment_is_numbered_inside_its_signed_pay() {
    fresh_phone().await;
    let serial = card().key_serial;
    let mut numbers = Vec::new();
    for n in 1..=3u8 {
        let record = store::save_numbered(&serial, |seq| numbered(seq, n), NOW)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(record.payment.seq, signed_seq(&record.payment));
        // The status query is no payment: it carries no number.
        assert!(!record.payment.status.body.contains("\"seq\""));
        numbers.push(signed_seq(&record.payment).expect("the pay carries its number"));
    }
    assert_eq!(numbers, vec![1, 2, 3]);
}

#[wasm_bindgen_test]
async fn two_payments_saved_at_once_get_two_numbers() {
    fresh_phone().await;
    let serial = card().key_serial;
    let (a, b) = both(
        store::save_numbered(&serial, |seq| numbered(seq, 11), NOW),
        store::save_numbered(&serial, |seq| numbered(seq, 12), NOW),
    )
    .await;
    let mut numbers = vec![
        a.unwrap().unwrap().payment.seq.unwrap(),
        b.unwrap().unwrap().payment.seq.unwrap(),
    ];
    numbers.sort();
    assert_eq!(numbers, vec![1, 2]);
}

#[wasm_bindgen_test]
async fn a_number_taken_meanwhile_stores_nothing_and_uses_no_number() {
    fresh_phone().await;
    let serial = card().key_serial;
    store::save_numbered(&serial, |seq| numbered(seq, 21), NOW)
        .await
        .unwrap()
        .unwrap();
    // Signed with number 1 again (another tab stored 1 first): refused, nothing stored.
    let stale = numbered(1, 22).unwrap();
    let session = stale.session.clone();
    assert_eq!(
        store::save_new(stale, NOW).await,
        Err(StoreError::SequenceTaken)
    );
    assert_eq!(store::get(&session).await.unwrap(), None);
    let next = store::save_numbered(&serial, |seq| numbered(seq, 23), NOW)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(next.payment.seq, Some(2), "no number was skipped");
}
