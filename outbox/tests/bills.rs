//! Guards bills — card payments the customer makes on their own phone — as the outbox keeps and
//! follows them: a bill is signed like a payment (the `bill` request with its expiry, and its
//! `status` and `cancel` for the same session at the same moment), and its link gives back those
//! exact bytes; it is never posted by this phone. Each gateway answer is filed as the contract
//! says: a receipt is *paid by card*; 915 keeps it waiting and keeps the refused card's reason;
//! 11 keeps it waiting until the bill's expiry plus the grace has passed, then it has expired;
//! 916, 917 and 918 end it unpaid; no answer, a forged one, one about no session, 999 or "too many
//! attempts" keep it waiting. A cancel is answered cancelled, paid-first or expired, and an
//! answer read before the cancel cannot undo it. Records from before bills still read as cash.
//!
//! In real IndexedDB with a gateway served in place of the network: a bill survives a reopened
//! database, waits in the outbox apart from the cash totals, and the replay (under the replay
//! lock, oldest first) asks each bill's status, files every answer, goes on past bills still
//! waiting for the customer to the cash payment behind them, and sends a stored cancel once the
//! network returns.
//!
//! The decisions are pure functions: they run natively (`cargo test`) and in the browser.

mod common;

use common::*;
use tolem_outbox::record::{BILL_GRACE_MS, BILL_LIFETIME_MS, Failure, PaymentRecord, State};
use tolem_outbox::settle::{Reply, after_bill, read_reply};
use tolem_outbox::transport::{Answer, ApiError, Unclear};
use tolem_protocol::bill;
use tolem_protocol::codes::ResultCode;
use tolem_protocol::keys::SecretKey;
use tolem_protocol::messages::{
    BillState, CardRefusal, Message, PaymentMethod, Request, Response, Step,
};
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

fn awaiting() -> PaymentRecord {
    PaymentRecord::new(bill_at(NOW, 1), NOW)
}

/// The record after `response` (signed by the gateway) came back at `now_ms`.
fn answered(record: &PaymentRecord, response: &Response, now_ms: i64) -> PaymentRecord {
    replied(record, Ok(from_gateway(response)), now_ms)
}

fn replied(record: &PaymentRecord, sent: Result<Answer, ApiError>, now_ms: i64) -> PaymentRecord {
    let reply: Reply = read_reply("status", sent, &card(), record.session(), now_ms);
    after_bill(record, reply, now_ms)
}

fn cancelling() -> PaymentRecord {
    let mut record = awaiting();
    record.state = State::Cancelling;
    record
}

#[wasm_bindgen_test(unsupported = test)]
fn a_bill_is_signed_with_its_status_and_cancel_under_one_session() {
    let signed = bill_at(NOW, 7);
    assert!(signed.is_bill());
    assert_eq!(signed.method(), PaymentMethod::Card);
    let terms = signed.bill.as_ref().unwrap();
    assert_eq!(terms.expires_at_ms, NOW + BILL_LIFETIME_MS);
    assert_eq!(BILL_LIFETIME_MS, 30 * 60_000);

    let bill = Request::decode(signed.pay.bytes()).unwrap();
    let status = Request::decode(signed.status.bytes()).unwrap();
    let cancel = Request::decode(terms.cancel.bytes()).unwrap();
    for request in [&bill, &status, &cancel] {
        assert_eq!(request.session, signed.session);
        assert_eq!(request.created_at_ms, NOW);
        assert_eq!(request.key_serial, "P1001-1");
    }
    assert_eq!(status.step, Step::Status);
    assert_eq!(cancel.step, Step::Cancel);
    let Step::Bill(sent) = bill.step else {
        panic!("not a bill: {:?}", bill.step)
    };
    assert_eq!(sent.expires_at_ms, NOW + BILL_LIFETIME_MS);
    assert_eq!(sent.payment.account, "7011234567");
    assert_eq!(
        (sent.payment.amount_tiyn, sent.payment.customer_amount_tiyn),
        (2_000_00, 2_020_00)
    );
    for request in [&signed.pay, &signed.status, &terms.cancel] {
        assert!(
            request
                .to_signed()
                .unwrap()
                .verify(&point_key().public_key())
                .is_ok()
        );
    }
    // A cash payment is no bill, and stored deferred, not awaiting.
    let cash = signed_at(NOW, 7);
    assert!(!cash.is_bill());
    assert_eq!(cash.bill_link("https://pay.tolem.kz"), None);
    assert_eq!(PaymentRecord::new(cash, NOW).state, State::Deferred);
    assert_eq!(PaymentRecord::new(signed, NOW).state, State::AwaitingCard);
}

#[wasm_bindgen_test(unsupported = test)]
fn the_link_carries_the_exact_signed_bill() {
    let signed = bill_at(NOW, 2);
    let link = signed.bill_link("https://pay.tolem.kz/").unwrap();
    let token = link.strip_prefix("https://pay.tolem.kz/bill/").unwrap();
    let (body, signature) = bill::parse(token).unwrap();
    assert_eq!(body, signed.pay.bytes());
    assert!(point_key().public_key().verify(&body, &signature).is_ok());
    assert!(matches!(
        Request::decode(&body).unwrap().step,
        Step::Bill(_)
    ));
}

#[wasm_bindgen_test(unsupported = test)]
fn a_receipt_is_paid_by_card() {
    let record = awaiting();
    let after = answered(&record, &paid_by_card(record.session()), NOW + 60_000);
    assert_eq!(after.state, State::Accepted);
    assert!(after.paid_by_card());
    assert_eq!(after.transaction_id.as_deref(), Some("D001-000777"));
    assert_eq!(after.decided_at_ms, Some(NOW + 1_000));
    assert_eq!(after.payment, record.payment);
}

#[wasm_bindgen_test(unsupported = test)]
fn not_paid_yet_keeps_waiting_and_keeps_the_refused_cards_reason() {
    let record = awaiting();
    let opened = answered(
        &record,
        &bill_answer(
            record.session(),
            ResultCode::BillNotPaid,
            BillState::Awaiting,
            None,
        ),
        NOW + 60_000,
    );
    assert_eq!(opened.state, State::AwaitingCard);
    assert_eq!(opened.bill.as_ref().unwrap().refusal, None);

    let refused = answered(
        &opened,
        &bill_answer(
            record.session(),
            ResultCode::BillNotPaid,
            BillState::Awaiting,
            Some(CardRefusal::InsufficientFunds),
        ),
        NOW + 120_000,
    );
    assert_eq!(refused.state, State::AwaitingCard);
    assert_eq!(
        refused.bill.as_ref().unwrap().refusal,
        Some(CardRefusal::InsufficientFunds)
    );
    assert_eq!(
        refused.last_answer.as_ref().unwrap().code,
        ResultCode::BillNotPaid
    );
    assert_eq!(refused.attempts, 2);

    // An answer without the bill's status (a failure) keeps the last one known.
    let still = replied(&refused, Err(ApiError::Offline), NOW + 180_000);
    assert_eq!(
        still.bill.as_ref().unwrap().refusal,
        Some(CardRefusal::InsufficientFunds)
    );
}

#[wasm_bindgen_test(unsupported = test)]
fn not_opened_waits_until_the_expiry_and_the_grace_have_passed() {
    let record = awaiting();
    let expiry = NOW + BILL_LIFETIME_MS;
    // "No such session", signed by a gateway whose clock reads `gateway_ms`.
    let unknown = |gateway_ms: i64| {
        let mut answer = code_answer(Some(record.session()), ResultCode::NoSuchSession);
        answer.gateway_time_ms = gateway_ms;
        answer
    };
    let end = expiry + BILL_GRACE_MS;
    assert_eq!(BILL_GRACE_MS, 5 * 60_000);
    for now in [NOW + 1_000, expiry + 1, end] {
        assert_eq!(
            answered(&record, &unknown(now), now).state,
            State::AwaitingCard,
            "at {now}"
        );
    }
    let expired = answered(&record, &unknown(end + 1), end + 1);
    assert_eq!(expired.state, State::Rejected(ResultCode::BillExpired));
    assert_eq!(expired.state.name(), "expired");
    assert!(expired.state.is_final());
    // This phone's clock runs ahead: the gateway's own clock says the bill may still be opened.
    let ahead = answered(&record, &unknown(expiry - 60_000), end + 1);
    assert_eq!(ahead.state, State::AwaitingCard);
    // Once the gateway's clock is past the expiry too, it is over.
    let agreed = answered(&record, &unknown(expiry + 1), end + 1);
    assert_eq!(agreed.state, State::Rejected(ResultCode::BillExpired));
    // Past the expiry, anything but the gateway's "no such session" proves nothing.
    let down = replied(
        &record,
        Err(ApiError::Unclear(Unclear::ServerError(502))),
        end + 60_000,
    );
    assert_eq!(down.state, State::AwaitingCard);
}

#[wasm_bindgen_test(unsupported = test)]
fn expired_cancelled_and_no_card_payments_end_the_bill_unpaid() {
    let record = awaiting();
    let cases = [
        (ResultCode::BillExpired, BillState::Expired, "expired"),
        (ResultCode::BillCancelled, BillState::Cancelled, "cancelled"),
    ];
    for (code, state, name) in cases {
        let after = answered(
            &record,
            &bill_answer(record.session(), code, state, None),
            NOW + 60_000,
        );
        assert_eq!(after.state, State::Rejected(code));
        assert_eq!(after.state.name(), name);
        assert_eq!(after.transaction_id, None);
    }
    let off = answered(
        &record,
        &code_answer(Some(record.session()), ResultCode::CardPaymentsOff),
        NOW + 60_000,
    );
    assert_eq!(off.state, State::Rejected(ResultCode::CardPaymentsOff));
}

#[wasm_bindgen_test(unsupported = test)]
fn no_word_from_the_gateway_keeps_the_bill_waiting() {
    let record = awaiting();
    let portal = Answer {
        body: b"<html><body>Wi-Fi login</body></html>".to_vec(),
        signature: None,
        request_digest: None,
    };
    let forged = signed_by(
        &paid_by_card(record.session()),
        &SecretKey::from_seed(&[0x66; 32]),
    );
    let about_another = from_gateway(&paid_by_card(&bill_at(NOW, 9).session));
    // Ends a bill only when it names it: a refusal without a session is about the request.
    let nameless_cancelled = from_gateway(&code_answer(None, ResultCode::BillCancelled));
    let failures = [
        (Err(ApiError::Offline), Some(Failure::Offline)),
        (
            Err(ApiError::Unclear(Unclear::Timeout)),
            Some(Failure::Timeout),
        ),
        (
            Err(ApiError::Unclear(Unclear::ServerError(503))),
            Some(Failure::ServerError(503)),
        ),
        (Ok(portal), Some(Failure::NotAnAnswer)),
        (Ok(forged), Some(Failure::NotAnAnswer)),
        (Ok(about_another), Some(Failure::NotAnAnswer)),
        (Ok(nameless_cancelled), None),
        (
            Ok(from_gateway(&code_answer(
                Some(record.session()),
                ResultCode::Internal,
            ))),
            None,
        ),
        (
            Ok(from_gateway(&code_answer(
                Some(record.session()),
                ResultCode::PointBlocked,
            ))),
            None,
        ),
    ];
    for (sent, failure) in failures {
        let after = replied(&record, sent, NOW + BILL_LIFETIME_MS * 2);
        assert_eq!(after.state, State::AwaitingCard, "{failure:?}");
        assert_eq!(after.last_failure, failure);
        assert!(after.next_attempt_at_ms > NOW + BILL_LIFETIME_MS * 2);
    }
    let mut slow_down = code_answer(Some(record.session()), ResultCode::TooManyAttempts);
    slow_down.retry_after_s = Some(90);
    let after = answered(&record, &slow_down, NOW + 10_000);
    assert_eq!(after.state, State::AwaitingCard);
    assert_eq!(after.next_attempt_at_ms, NOW + 10_000 + 90_000);
}

#[wasm_bindgen_test(unsupported = test)]
fn a_cancel_is_answered_cancelled_paid_first_or_expired() {
    let record = cancelling();
    let cancelled = answered(
        &record,
        &bill_answer(
            record.session(),
            ResultCode::BillCancelled,
            BillState::Cancelled,
            None,
        ),
        NOW + 60_000,
    );
    assert_eq!(cancelled.state, State::Rejected(ResultCode::BillCancelled));

    // The customer paid before the cancel arrived: it is paid, and says so.
    let paid = answered(&record, &paid_by_card(record.session()), NOW + 60_000);
    assert_eq!(paid.state, State::Accepted);
    assert!(paid.paid_by_card());

    let expired = answered(
        &record,
        &bill_answer(
            record.session(),
            ResultCode::BillExpired,
            BillState::Expired,
            None,
        ),
        NOW + 60_000,
    );
    assert_eq!(expired.state, State::Rejected(ResultCode::BillExpired));

    // No answer: the cancel waits to be sent again.
    for sent in [
        Err(ApiError::Offline),
        Err(ApiError::Unclear(Unclear::Timeout)),
    ] {
        assert_eq!(
            replied(&record, sent, NOW + 60_000).state,
            State::Cancelling
        );
    }
}

#[wasm_bindgen_test(unsupported = test)]
fn a_record_stored_before_bills_existed_reads_as_cash() {
    // A cash record exactly as the app wrote it before card payments: no `bill` anywhere.
    let record = PaymentRecord::new(signed_at(NOW, 4), NOW);
    let text = serde_json::to_string(&record).unwrap();
    assert!(!text.contains("\"bill\""), "{text}");
    let read: PaymentRecord = serde_json::from_str(&text).unwrap();
    assert_eq!(read, record);
    assert!(!read.payment.is_bill());
    assert_eq!(read.payment.method(), PaymentMethod::Cash);
    assert_eq!(read.bill, None);
}

#[cfg(target_arch = "wasm32")]
mod in_indexeddb {
    use super::*;
    use crate::common::network::{self, FakeGateway};
    use crate::common::phone::fresh_phone;
    use tolem_outbox::db::{self, HISTORY, OUTBOX};
    use tolem_outbox::lock::Wait;
    use tolem_outbox::replay::{self, Stop};
    use tolem_outbox::store;
    use wasm_bindgen::JsValue;

    const MINUTE: i64 = 60_000;

    fn now() -> i64 {
        js_sys::Date::now() as i64
    }

    /// A stored object read straight from its store, with a connection of its own.
    async fn raw(store_name: &str, session: &str) -> Option<serde_json::Value> {
        let database = db::open().await.unwrap();
        let transaction = database
            .transaction(&[store_name], idb::TransactionMode::ReadOnly)
            .unwrap();
        let value = transaction
            .object_store(store_name)
            .unwrap()
            .get(JsValue::from_str(session))
            .unwrap()
            .await
            .unwrap();
        db::finish(transaction).await.unwrap();
        value.map(|v| db::from_js(&v).unwrap())
    }

    async fn raw_put(store_name: &str, value: &serde_json::Value) {
        let database = db::open().await.unwrap();
        let transaction = database
            .transaction(&[store_name], idb::TransactionMode::ReadWrite)
            .unwrap();
        transaction
            .object_store(store_name)
            .unwrap()
            .put(&db::to_js(value).unwrap(), None)
            .unwrap()
            .await
            .unwrap();
        db::finish(transaction).await.unwrap();
    }

    async fn state_of(record: &PaymentRecord) -> State {
        store::get(record.session()).await.unwrap().unwrap().state
    }

    #[wasm_bindgen_test]
    async fn a_bill_survives_a_reopened_database_and_waits_apart_from_the_cash() {
        fresh_phone().await;
        let cash = store::save_new(signed_at(now() - MINUTE, 1), now())
            .await
            .unwrap();
        let bill = store::save_new(bill_at(now(), 2), now()).await.unwrap();
        assert_eq!(bill.state, State::AwaitingCard);

        // Every connection above is closed; read it all back through new ones.
        let stored = store::get(bill.session()).await.unwrap().unwrap();
        assert_eq!(stored, bill);
        assert!(stored.payment.is_bill());
        let raw_record = raw(HISTORY, bill.session().as_str()).await.unwrap();
        assert_eq!(raw_record["state"]["kind"], "awaiting_card");
        let entry = raw(OUTBOX, bill.session().as_str()).await.unwrap();
        assert_eq!(entry["kind"], "bill");

        // The replay walks both; the header and the limits count only the cash.
        let waiting = store::waiting().await.unwrap();
        assert_eq!(waiting, vec![cash.clone(), bill.clone()]);
        let summary = store::waiting_summary().await.unwrap();
        assert_eq!(
            (summary.count, summary.total_tiyn, summary.bills),
            (1, 2_000_00, 1)
        );
        assert_eq!(summary.oldest_created_ms, Some(cash.payment.created_at_ms));
        assert_eq!(tolem_outbox::limits::Waiting::of(&waiting), summary);
    }

    /// Answers each bill's status by `answer_for`, and pays every cash payment.
    fn gateway(answer_for: impl Fn(&Request) -> Option<Response> + 'static) -> FakeGateway {
        network::serve(move |step, request| match step {
            "status" | "cancel" => answer_for(request),
            "pay" => Some(pay_answer(&request.session, ResultCode::Ok)),
            _ => None,
        })
    }

    #[wasm_bindgen_test]
    async fn the_replay_asks_each_bills_status_and_files_every_answer() {
        fresh_phone().await;
        let start = now();
        // Oldest first: one that expired unopened long ago, one paid, one whose card was refused,
        // one not opened yet; and a cash payment after them all.
        let expired = store::save_new(bill_at(start - 40 * MINUTE, 1), start)
            .await
            .unwrap();
        let paid = store::save_new(bill_at(start - 3 * MINUTE, 2), start)
            .await
            .unwrap();
        let refused = store::save_new(bill_at(start - 2 * MINUTE, 3), start)
            .await
            .unwrap();
        let unopened = store::save_new(bill_at(start - MINUTE, 4), start)
            .await
            .unwrap();
        let cash = store::save_new(signed_at(start, 5), start).await.unwrap();

        let (paid_session, refused_session) = (paid.session().clone(), refused.session().clone());
        let served = gateway(move |request| {
            let session = &request.session;
            Some(if *session == paid_session {
                paid_by_card(session)
            } else if *session == refused_session {
                bill_answer(
                    session,
                    ResultCode::BillNotPaid,
                    BillState::Awaiting,
                    Some(CardRefusal::NotEnabledForInternet),
                )
            } else {
                let mut answer = code_answer(Some(session), ResultCode::NoSuchSession);
                answer.gateway_time_ms = now();
                answer
            })
        });
        let report = replay::replay(Wait::Queue).await.unwrap();

        assert_eq!(
            state_of(&expired).await,
            State::Rejected(ResultCode::BillExpired)
        );
        let paid_now = store::get(paid.session()).await.unwrap().unwrap();
        assert_eq!(paid_now.state, State::Accepted);
        assert!(paid_now.paid_by_card());
        assert_eq!(paid_now.transaction_id.as_deref(), Some("D001-000777"));
        let refused_now = store::get(refused.session()).await.unwrap().unwrap();
        assert_eq!(refused_now.state, State::AwaitingCard);
        assert_eq!(
            refused_now.bill.and_then(|b| b.refusal),
            Some(CardRefusal::NotEnabledForInternet)
        );
        assert_eq!(state_of(&unopened).await, State::AwaitingCard);
        // Bills still waiting for their customers did not hold the cash payment back.
        assert_eq!(state_of(&cash).await, State::Accepted);
        assert_eq!(report.settled, 3);
        assert_eq!(report.left, 2);
        assert_eq!(report.stopped, None);

        // Each bill was asked about with its own pre-signed status, oldest first; only the cash
        // payment was paid; no bill ever left as a pay, nor as anything but those bytes.
        let asked: Vec<String> = served
            .sent_to("status")
            .into_iter()
            .map(|sent| sent.body)
            .collect();
        let expected: Vec<String> = [&expired, &paid, &refused, &unopened]
            .iter()
            .map(|r| r.payment.status.body.clone())
            .collect();
        assert_eq!(asked, expected);
        let pays = served.sent_to("pay");
        assert_eq!(pays.len(), 1);
        assert_eq!(pays[0].body, cash.payment.pay.body);
        assert!(served.sent().iter().all(|sent| sent.step != "bill"));

        // Final ones have left the outbox; the two waiting bills stay in it.
        let waiting: Vec<_> = store::waiting()
            .await
            .unwrap()
            .into_iter()
            .map(|r| r.session().clone())
            .collect();
        assert_eq!(
            waiting,
            vec![refused.session().clone(), unopened.session().clone()]
        );
    }

    #[wasm_bindgen_test]
    async fn a_cancel_is_stored_and_sent_when_the_network_returns() {
        fresh_phone().await;
        let bill = store::save_new(bill_at(now(), 6), now()).await.unwrap();
        let cancelling = store::mark_cancelling(bill.session(), now()).await.unwrap();
        assert_eq!(cancelling.state, State::Cancelling);
        assert_eq!(state_of(&bill).await, State::Cancelling);

        // Offline: nothing leaves, the cancel waits in the outbox.
        let offline = network::serve_nothing();
        let report = replay::replay(Wait::Queue).await.unwrap();
        assert_eq!(report.stopped, Some(Stop::Offline));
        assert_eq!(report.left, 1);
        assert_eq!(state_of(&bill).await, State::Cancelling);
        drop(offline);

        let served = gateway(|request| {
            Some(bill_answer(
                &request.session,
                ResultCode::BillCancelled,
                BillState::Cancelled,
                None,
            ))
        });
        let report = replay::replay(Wait::Queue).await.unwrap();
        assert_eq!(report.settled, 1);
        assert_eq!(report.left, 0);
        assert_eq!(
            state_of(&bill).await,
            State::Rejected(ResultCode::BillCancelled)
        );
        let cancels = served.sent_to("cancel");
        assert_eq!(cancels.len(), 1);
        assert_eq!(
            cancels[0].body,
            bill.payment.bill.as_ref().unwrap().cancel.body
        );
        assert!(served.sent_to("status").is_empty());
        assert!(raw(OUTBOX, bill.session().as_str()).await.is_none());
    }

    #[wasm_bindgen_test]
    async fn an_answer_read_before_the_cancel_does_not_undo_it_but_paid_wins() {
        fresh_phone().await;
        let bill = store::save_new(bill_at(now(), 7), now()).await.unwrap();
        // A status query went out before the cashier pressed Cancel; its answer comes after.
        store::mark_cancelling(bill.session(), now()).await.unwrap();
        let late = answered(
            &bill,
            &bill_answer(
                bill.session(),
                ResultCode::BillNotPaid,
                BillState::Awaiting,
                None,
            ),
            now(),
        );
        assert_eq!(late.state, State::AwaitingCard);
        let stored = store::update(&late).await.unwrap();
        assert_eq!(stored.state, State::Cancelling);
        assert!(stored.bill.is_some(), "the gateway's word is kept");
        // Cancel twice: nothing changes.
        assert_eq!(
            store::mark_cancelling(bill.session(), now())
                .await
                .unwrap()
                .state,
            State::Cancelling
        );

        // The customer had paid: that answer wins over the cancel.
        let paid = answered(&bill, &paid_by_card(bill.session()), now());
        let stored = store::update(&paid).await.unwrap();
        assert_eq!(stored.state, State::Accepted);
        // And a paid bill cannot be cancelled any more.
        assert_eq!(
            store::mark_cancelling(bill.session(), now())
                .await
                .unwrap()
                .state,
            State::Accepted
        );
    }

    #[wasm_bindgen_test]
    async fn a_record_and_entry_stored_before_bills_existed_still_load() {
        fresh_phone().await;
        let record = PaymentRecord::new(signed_at(now(), 8), now());
        // As the previous version wrote them: no `bill` in the record, no `kind` in the entry.
        let mut old = serde_json::to_value(&record).unwrap();
        let payment = old["payment"].as_object_mut().unwrap();
        payment.remove("bill");
        let old_entry = serde_json::json!({
            "session": record.session().as_str(),
            "created_at_ms": record.payment.created_at_ms,
            "amount_tiyn": record.payment.amount_tiyn,
        });
        raw_put(HISTORY, &old).await;
        raw_put(OUTBOX, &old_entry).await;

        let loaded = store::get(record.session()).await.unwrap().unwrap();
        assert_eq!(loaded, record);
        assert!(!loaded.payment.is_bill());
        assert_eq!(loaded.state, State::Deferred);
        assert_eq!(store::waiting().await.unwrap(), vec![record]);
        let summary = store::waiting_summary().await.unwrap();
        assert_eq!((summary.count, summary.bills), (1, 0));
    }
}
