//! Guards signed letters in the outbox in a real browser with real IndexedDB: a letter the
//! gateway would refuse is never signed; a new letter is in the letters store and the outbox at
//! once, without counting as a waiting payment; the gateway's answers decide it — queued with its
//! message id, refused with a code — while no answer keeps it for the replay (deferred when
//! nothing left the phone, unknown when it may have: then the same bytes go again).
#![cfg(target_arch = "wasm32")]

mod common;

use common::*;
use tolem_outbox::db::{self, HISTORY, LETTERS, OUTBOX};
use tolem_outbox::letters::{self, LetterSignError, SignedLetter, after_message};
use tolem_outbox::record::{Failure, State};
use tolem_outbox::settle::{Reply, read_reply};
use tolem_outbox::store;
use tolem_outbox::transport::{ApiError, Unclear};
use tolem_protocol::codes::ResultCode;
use tolem_protocol::messages::{Letter, LetterError, Outcome, Response};
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

async fn fresh_phone() {
    let database = db::open().await.unwrap();
    let transaction = database
        .transaction(&[HISTORY, OUTBOX, LETTERS], idb::TransactionMode::ReadWrite)
        .unwrap();
    for name in [HISTORY, OUTBOX, LETTERS] {
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

fn letter() -> Letter {
    Letter {
        to: "dealer@tolem.kz".into(),
        text: "Касса открыта в 9:00".into(),
    }
}

fn signed(n: u8) -> SignedLetter {
    SignedLetter::sign(&letter(), &card(), &point_key(), NOW + i64::from(n), [n; 8]).unwrap()
}

#[wasm_bindgen_test]
fn a_letter_the_gateway_would_refuse_is_never_signed() {
    let bad = Letter {
        to: "not an address".into(),
        text: "x".into(),
    };
    assert_eq!(
        SignedLetter::sign(&bad, &card(), &point_key(), NOW, [1; 8]),
        Err(LetterSignError::Letter(LetterError::BadAddress))
    );
    let signed = signed(1);
    let request = signed.request.to_signed().unwrap();
    point_key()
        .public_key()
        .verify(&request.body, &request.signature)
        .expect("signed by the point key");
    assert!(signed.request.body.contains("\"step\":\"message\""));
}

#[wasm_bindgen_test]
async fn a_new_letter_waits_in_the_outbox_but_not_as_a_payment() {
    fresh_phone().await;
    let record = letters::save_new(signed(1), NOW).await.unwrap();
    assert_eq!(record.state, State::Deferred);
    assert_eq!(letters::waiting().await.unwrap(), vec![record.clone()]);
    assert!(store::waiting().await.unwrap().is_empty(), "not a payment");

    // Queued by the gateway: final, and out of the outbox.
    let mut queued = record.clone();
    queued.state = State::Accepted;
    queued.message_id = Some("M-1".into());
    letters::update(&queued).await.unwrap();
    assert!(letters::waiting().await.unwrap().is_empty());
    // A late unclear result never undoes it.
    let mut late = record.clone();
    late.state = State::Unknown;
    let stored = letters::update(&late).await.unwrap();
    assert_eq!(stored.state, State::Accepted);
    assert_eq!(stored.message_id.as_deref(), Some("M-1"));
}

#[wasm_bindgen_test]
async fn the_gateways_answer_decides_and_no_answer_keeps_the_letter() {
    fresh_phone().await;
    let record = letters::save_new(signed(2), NOW).await.unwrap();
    let session = record.session.clone();
    let answer = |response: &Response| {
        read_reply(
            "message",
            Ok(from_gateway(response)),
            &card(),
            &session,
            NOW,
        )
    };

    let mut queued = code_answer(Some(&session), ResultCode::Ok);
    queued.outcome = Some(Outcome::MessageQueued {
        message_id: "M-42".into(),
    });
    let after = after_message(&record, answer(&queued), NOW);
    assert_eq!(
        (after.state, after.message_id.as_deref()),
        (State::Accepted, Some("M-42"))
    );

    let refused = code_answer(Some(&session), ResultCode::BadRecipient);
    assert_eq!(
        after_message(&record, answer(&refused), NOW).state,
        State::Rejected(ResultCode::BadRecipient)
    );

    let offline = after_message(&record, Reply::Failed(ApiError::Offline), NOW);
    assert_eq!(
        (offline.state, offline.last_failure),
        (State::Deferred, Some(Failure::Offline))
    );
    let cut = after_message(
        &record,
        Reply::Failed(ApiError::Unclear(Unclear::ConnectionLost)),
        NOW,
    );
    assert_eq!(cut.state, State::Unknown);
    // A captive portal's page is no answer either.
    let portal = read_reply(
        "message",
        Ok(tolem_outbox::transport::Answer {
            body: b"<html>Wi-Fi</html>".to_vec(),
            signature: None,
            request_digest: None,
        }),
        &card(),
        &session,
        NOW,
    );
    assert_eq!(after_message(&record, portal, NOW).state, State::Unknown);
    assert_eq!(cut.letter, record.letter, "the signed letter never changes");
}
