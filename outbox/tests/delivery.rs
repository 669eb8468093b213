//! Guards how the phone keeps an accepted payment's delivery to its provider: the pay answer's
//! delivery (queued) is kept with the payment; a status answer about it reports the delivery,
//! and nothing else does (no answer, a refusal of the query, a forged answer); a delivery never
//! moves backwards (a final one is never replaced by one on its way, an older by a newer); only
//! an accepted payment whose delivery is not final is asked about; and in real IndexedDB, a
//! record stored before delivery existed still loads, and a refresh writes the delivery field
//! and nothing else of the payment's record.
//!
//! The decisions are pure functions: they run natively (`cargo test`) and in the browser; the
//! store tests run in the browser only.

mod common;

use common::*;
use tolem_outbox::record::{PaymentRecord, State, is_newer_delivery};
use tolem_outbox::settle::{Reply, after_pay, delivery_in, read_reply};
use tolem_outbox::transport::{Answer, ApiError, Unclear};
use tolem_protocol::codes::ResultCode;
use tolem_protocol::ids::SessionId;
use tolem_protocol::keys::SecretKey;
use tolem_protocol::messages::{Delivery, DeliveryState, Outcome, ProviderRefusal, Response};
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

fn delivery(state: DeliveryState, updated_at_ms: i64) -> Delivery {
    Delivery {
        state,
        provider_txn: (state == DeliveryState::Delivered).then(|| "KC-99812".into()),
        refusal: (state == DeliveryState::Refunded).then_some(ProviderRefusal::AccountNotFound),
        delayed: false,
        updated_at_ms,
    }
}

/// The gateway's answer accepting the payment of `session`, with `delivery` in its receipt.
fn accepted_with(session: &SessionId, delivery: Option<Delivery>) -> Response {
    let mut response = pay_answer(session, ResultCode::Ok);
    if let Some(Outcome::Payment(receipt)) = response.outcome.as_mut() {
        receipt.delivery = delivery;
    }
    response
}

fn status_reply(record: &PaymentRecord, sent: Result<Answer, ApiError>) -> Reply {
    read_reply("status", sent, &card(), record.session(), NOW + 60_000)
}

fn accepted_record() -> PaymentRecord {
    let record = PaymentRecord::new(signed_at(NOW, 3), NOW);
    let answer = from_gateway(&accepted_with(
        record.session(),
        Some(delivery(DeliveryState::Queued, NOW + 1_000)),
    ));
    let reply = read_reply("pay", Ok(answer), &card(), record.session(), NOW + 2_000);
    after_pay(&record, reply, NOW + 2_000)
}

#[wasm_bindgen_test(unsupported = test)]
fn the_pay_answer_leaves_the_delivery_queued_with_the_payment() {
    let record = accepted_record();
    assert_eq!(record.state, State::Accepted);
    assert_eq!(
        record.delivery.as_ref().map(|d| d.state),
        Some(DeliveryState::Queued)
    );
    assert!(record.delivery_pending());
}

#[wasm_bindgen_test(unsupported = test)]
fn a_status_answer_reports_the_delivery_and_nothing_else_does() {
    let record = accepted_record();
    let delivered = delivery(DeliveryState::Delivered, NOW + 30_000);
    let answered = status_reply(
        &record,
        Ok(from_gateway(&accepted_with(
            record.session(),
            Some(delivered.clone()),
        ))),
    );
    assert_eq!(delivery_in(&answered), Some(delivered.clone()));

    let forged = status_reply(
        &record,
        Ok(signed_by(
            &accepted_with(record.session(), Some(delivered.clone())),
            &SecretKey::from_seed(&[0x66; 32]),
        )),
    );
    let other_session = PaymentRecord::new(signed_at(NOW, 4), NOW);
    let about_another = status_reply(
        &record,
        Ok(from_gateway(&accepted_with(
            other_session.session(),
            Some(delivered),
        ))),
    );
    let unanswered = [
        status_reply(&record, Err(ApiError::Offline)),
        status_reply(&record, Err(ApiError::Unclear(Unclear::Timeout))),
        status_reply(
            &record,
            Ok(from_gateway(&code_answer(
                Some(record.session()),
                ResultCode::TooManyAttempts,
            ))),
        ),
        status_reply(
            &record,
            Ok(from_gateway(&accepted_with(record.session(), None))),
        ),
        forged,
        about_another,
    ];
    for reply in unanswered {
        assert_eq!(delivery_in(&reply), None, "{reply:?}");
    }
}

#[wasm_bindgen_test(unsupported = test)]
fn a_delivery_never_moves_backwards() {
    let queued = delivery(DeliveryState::Queued, NOW + 1_000);
    let retrying = delivery(DeliveryState::Retrying, NOW + 20_000);
    let delivered = delivery(DeliveryState::Delivered, NOW + 30_000);
    let refunded = delivery(DeliveryState::Refunded, NOW + 30_000);

    assert!(is_newer_delivery(None, &queued));
    assert!(is_newer_delivery(Some(&queued), &retrying));
    assert!(is_newer_delivery(Some(&retrying), &delivered));
    assert!(is_newer_delivery(Some(&queued), &refunded));
    // A late answer from before.
    assert!(!is_newer_delivery(Some(&retrying), &queued));
    assert!(!is_newer_delivery(Some(&delivered), &retrying));
    assert!(!is_newer_delivery(Some(&refunded), &queued));
    // The same again: nothing to write.
    assert!(!is_newer_delivery(Some(&delivered), &delivered));
    // Turning delayed without a new state (and without a new time) is news.
    let delayed = Delivery {
        delayed: true,
        ..retrying.clone()
    };
    assert!(is_newer_delivery(Some(&retrying), &delayed));
}

#[wasm_bindgen_test(unsupported = test)]
fn only_an_accepted_payment_on_its_way_is_asked_about() {
    let mut record = accepted_record();
    assert!(record.delivery_pending());
    for state in [DeliveryState::Sent, DeliveryState::Retrying] {
        record.delivery = Some(delivery(state, NOW + 5_000));
        assert!(record.delivery_pending(), "{state:?}");
    }
    for state in [DeliveryState::Delivered, DeliveryState::Refunded] {
        record.delivery = Some(delivery(state, NOW + 5_000));
        assert!(!record.delivery_pending(), "{state:?}");
    }
    // Accepted by a gateway older than delivery: it will never say more.
    record.delivery = None;
    assert!(!record.delivery_pending());
    // Not accepted: nothing is delivered.
    let deferred = PaymentRecord::new(signed_at(NOW, 5), NOW);
    assert!(!deferred.delivery_pending());
}

#[wasm_bindgen_test(unsupported = test)]
fn a_record_written_before_delivery_existed_still_reads() {
    let record = accepted_record();
    let mut old: serde_json::Value = serde_json::to_value(&record).unwrap();
    old.as_object_mut().unwrap().remove("delivery");
    let read: PaymentRecord = serde_json::from_value(old).unwrap();
    assert_eq!(read.delivery, None);
    assert_eq!(read.state, State::Accepted);
    // And a record without a delivery is written without the field.
    let written = serde_json::to_value(&read).unwrap();
    assert!(written.get("delivery").is_none(), "{written}");
}

#[cfg(target_arch = "wasm32")]
mod in_indexeddb {
    use super::*;
    use tolem_outbox::db::{self, HISTORY, OUTBOX};
    use tolem_outbox::store;

    async fn fresh_phone() {
        let database = db::open().await.unwrap();
        let transaction = database
            .transaction(&[HISTORY, OUTBOX], idb::TransactionMode::ReadWrite)
            .unwrap();
        for name in [HISTORY, OUTBOX] {
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

    /// Stores the payment and brings it to accepted through the store, as a sender would.
    async fn stored_accepted() -> PaymentRecord {
        let accepted = accepted_record();
        store::save_new(accepted.payment.clone(), NOW)
            .await
            .unwrap();
        store::update(&accepted).await.unwrap()
    }

    #[wasm_bindgen_test]
    async fn an_old_record_without_delivery_loads_from_indexeddb() {
        fresh_phone().await;
        let record = stored_accepted().await;
        // Written as a phone from before delivery wrote it: no `delivery` key at all.
        let mut old = serde_json::to_value(&record).unwrap();
        old.as_object_mut().unwrap().remove("delivery");
        let database = db::open().await.unwrap();
        let transaction = database
            .transaction(&[HISTORY], idb::TransactionMode::ReadWrite)
            .unwrap();
        transaction
            .object_store(HISTORY)
            .unwrap()
            .put(&db::to_js(&old).unwrap(), None)
            .unwrap()
            .await
            .unwrap();
        db::finish(transaction).await.unwrap();

        let loaded = store::get(record.session()).await.unwrap().unwrap();
        assert_eq!(loaded.delivery, None);
        assert_eq!(loaded.state, State::Accepted);
        assert_eq!(store::history().await.unwrap().len(), 1);
    }

    #[wasm_bindgen_test]
    async fn a_refresh_writes_the_delivery_and_nothing_else() {
        fresh_phone().await;
        let record = stored_accepted().await;
        assert_eq!(
            record.delivery.as_ref().map(|d| d.state),
            Some(DeliveryState::Queued)
        );

        let delivered = delivery(DeliveryState::Delivered, NOW + 30_000);
        let after = store::update_delivery(record.session(), &delivered)
            .await
            .unwrap();
        assert_eq!(after.delivery.as_ref(), Some(&delivered));
        let mut expected = record.clone();
        expected.delivery = Some(delivered.clone());
        assert_eq!(after, expected, "only the delivery changed");

        // A late answer from before cannot take it back.
        let late = store::update_delivery(
            record.session(),
            &delivery(DeliveryState::Retrying, NOW + 20_000),
        )
        .await
        .unwrap();
        assert_eq!(late.delivery, Some(delivered));

        // A payment the gateway did not accept gets no delivery.
        let deferred = store::save_new(signed_at(NOW + 1, 9), NOW).await.unwrap();
        let untouched =
            store::update_delivery(deferred.session(), &delivery(DeliveryState::Queued, NOW))
                .await
                .unwrap();
        assert_eq!(untouched.delivery, None);
    }
}
