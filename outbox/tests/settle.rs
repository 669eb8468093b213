//! Guards the outbox's state machine with real signatures and real bytes, no network: a payment
//! is signed once (pay and status, one session, one creation time); each reply moves it exactly
//! as the protocol says — a signed answer decides (accepted with its transaction id, rejected
//! with its code, 32 shown as a duplicate), no connection keeps it deferred with a backoff, and
//! anything that may have arrived without a clear answer (a timeout, a 5xx, a captive portal's
//! page, a forged or replayed answer) makes it unknown; a status query settles an unknown one,
//! and 11 sends the *same* signed pay again. The session and the signed bytes never change.
//!
//! Pure functions: these run natively (`cargo test`) as well as in the browser.

mod common;

use std::collections::HashSet;

use common::*;
use tolem_outbox::record::{Failure, PaymentRecord, State};
use tolem_outbox::settle::{Reply, after_pay, after_status, backoff_ms, read_reply};
use tolem_outbox::store::prune_plan;
use tolem_outbox::transport::{Answer, ApiError, Unclear};
use tolem_protocol::codes::ResultCode;
use tolem_protocol::keys::SecretKey;
use tolem_protocol::messages::{Message, Request, Step};
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

fn stored() -> PaymentRecord {
    PaymentRecord::new(signed_at(NOW, 1), NOW)
}

/// The reply to the pay (or status) of `record`, as the transport would hand it over.
fn reply(record: &PaymentRecord, sent: Result<Answer, ApiError>) -> Reply {
    read_reply("pay", sent, &card(), record.session(), NOW + 2_000)
}

fn paid(record: &PaymentRecord, sent: Result<Answer, ApiError>) -> PaymentRecord {
    after_pay(record, reply(record, sent), NOW + 2_000)
}

fn asked(record: &PaymentRecord, sent: Result<Answer, ApiError>) -> PaymentRecord {
    after_status(record, reply(record, sent), NOW + 2_000)
}

#[wasm_bindgen_test(unsupported = test)]
fn pay_and_status_are_signed_at_once_under_one_session() {
    let payment = signed_at(NOW, 7);
    let pay = Request::decode(payment.pay.bytes()).unwrap();
    let status = Request::decode(payment.status.bytes()).unwrap();
    assert_eq!(pay.session, payment.session);
    assert_eq!(status.session, payment.session);
    assert_eq!((pay.created_at_ms, status.created_at_ms), (NOW, NOW));
    assert_eq!(status.step, Step::Status);
    let Step::Pay(sent) = pay.step else {
        panic!("not a pay: {:?}", pay.step)
    };
    assert_eq!(sent.account, "7011234567");
    assert_eq!(
        (sent.amount_tiyn, sent.customer_amount_tiyn),
        (2_000_00, 2_020_00)
    );
    assert_eq!(
        (payment.amount_tiyn, payment.commission_tiyn),
        (2_000_00, 20_00)
    );
    // Both verify with the point's public key, over exactly the stored bytes.
    for request in [&payment.pay, &payment.status] {
        let signed = request.to_signed().unwrap();
        assert_eq!(signed.signer, "P1001-1");
        assert!(signed.verify(&point_key().public_key()).is_ok());
    }
}

#[wasm_bindgen_test(unsupported = test)]
fn what_the_gateway_would_refuse_as_malformed_is_never_signed() {
    let mut draft = draft();
    draft.split.provider_tiyn = 0;
    draft.split.customer_tiyn = 20_00;
    let signed = tolem_outbox::SignedPayment::sign(&draft, &card(), &point_key(), NOW, [1; 8]);
    assert!(signed.is_err());
}

#[wasm_bindgen_test(unsupported = test)]
fn an_accepted_answer_accepts_with_the_transaction_id() {
    let record = stored();
    let answer = from_gateway(&pay_answer(record.session(), ResultCode::Ok));
    let after = paid(&record, Ok(answer.clone()));
    assert_eq!(after.state, State::Accepted);
    assert_eq!(after.transaction_id.as_deref(), Some("D001-000042"));
    assert_eq!(after.decided_at_ms, Some(NOW + 1_000));
    assert_eq!(after.attempts, 1);
    assert_eq!(after.last_failure, None);
    // The gateway's signed answer is kept as received: proof of its decision.
    let kept = after.last_answer.as_ref().unwrap();
    assert_eq!(kept.body.as_bytes(), answer.body.as_slice());
    assert_eq!(kept.code, ResultCode::Ok);
    assert_eq!(
        after.payment, record.payment,
        "the signed payment never changes"
    );
}

#[wasm_bindgen_test(unsupported = test)]
fn a_refusal_rejects_with_its_code_and_32_is_a_duplicate() {
    let record = stored();
    let after = paid(
        &record,
        Ok(from_gateway(&pay_answer(
            record.session(),
            ResultCode::InsufficientFunds,
        ))),
    );
    assert_eq!(after.state, State::Rejected(ResultCode::InsufficientFunds));
    assert_eq!(after.state.name(), "rejected");
    assert_eq!(after.transaction_id.as_deref(), Some("D001-000042"));

    let after = paid(
        &record,
        Ok(from_gateway(&pay_answer(
            record.session(),
            ResultCode::Duplicate,
        ))),
    );
    assert_eq!(after.state, State::Rejected(ResultCode::Duplicate));
    assert_eq!(after.state.name(), "duplicate");
    assert!(after.state.is_final());

    // A refusal of the sender names no session (decided before the body was read): still an
    // answer, and final — the same bytes would be refused every time.
    let after = paid(
        &record,
        Ok(from_gateway(&code_answer(None, ResultCode::KeyRevoked))),
    );
    assert_eq!(after.state, State::Rejected(ResultCode::KeyRevoked));
}

#[wasm_bindgen_test(unsupported = test)]
fn no_connection_keeps_it_deferred_with_a_backoff() {
    let record = stored();
    let after = paid(&record, Err(ApiError::Offline));
    assert_eq!(after.state, State::Deferred);
    assert_eq!(after.attempts, 1);
    assert_eq!(after.last_failure, Some(Failure::Offline));
    assert_eq!(after.next_attempt_at_ms, NOW + 2_000 + 15_000);
    let again = paid(&after, Err(ApiError::Offline));
    assert_eq!(again.attempts, 2);
    assert_eq!(again.next_attempt_at_ms, NOW + 2_000 + 30_000);
}

/// Issue 13 item 11: the gateway refuses a request it cannot authenticate before reading it, so
/// the refusal names no session. Someone in the middle who kept such a refusal (to another
/// request) and sends it back for this payment's pay must not make the phone drop the payment:
/// the answer is bound to the bytes it answered, and these are not the bytes the phone sent.
#[wasm_bindgen_test(unsupported = test)]
fn a_refusal_given_to_another_request_is_no_answer_to_this_one() {
    let record = stored();
    let sent = record.payment.pay.bytes();
    let refusal = code_answer(None, ResultCode::BadSignature);

    let kept = answer_to(b"some other request the gateway refused", &refusal);
    let mut replayed = kept.clone();
    replayed.request_digest = Some(tolem_protocol::signing::request_digest(sent));
    let after = paid(&record, Ok(replayed));
    assert_eq!(
        after.state,
        State::Unknown,
        "a replayed refusal drops nothing"
    );
    assert_eq!(after.last_failure, Some(Failure::NotAnAnswer));

    // The gateway's own refusal of these very bytes is an answer.
    let own = paid(&record, Ok(answer_to(sent, &refusal)));
    assert_eq!(own.state, State::Rejected(ResultCode::BadSignature));
}

#[wasm_bindgen_test(unsupported = test)]
fn what_may_have_arrived_without_a_clear_answer_is_unknown() {
    let record = stored();
    let portal = Answer {
        body: b"<html><body>Wi-Fi login</body></html>".to_vec(),
        signature: None,
        request_digest: None,
    };
    let forged = signed_by(
        &pay_answer(record.session(), ResultCode::Ok),
        &SecretKey::from_seed(&[0x66; 32]),
    );
    let other_session = from_gateway(&pay_answer(&signed_at(NOW, 2).session, ResultCode::Ok));
    let mut tampered = from_gateway(&pay_answer(record.session(), ResultCode::Ok));
    tampered.body = String::from_utf8(tampered.body)
        .unwrap()
        .replace("D001-000042", "D001-000043")
        .into_bytes();
    let cases = [
        (Ok(portal), Failure::NotAnAnswer),
        (Ok(forged), Failure::NotAnAnswer),
        (Ok(other_session), Failure::NotAnAnswer),
        (Ok(tampered), Failure::NotAnAnswer),
        (Err(ApiError::Unclear(Unclear::Timeout)), Failure::Timeout),
        (
            Err(ApiError::Unclear(Unclear::ServerError(502))),
            Failure::ServerError(502),
        ),
        (
            Err(ApiError::Unclear(Unclear::ConnectionLost)),
            Failure::ConnectionLost,
        ),
    ];
    for (sent, failure) in cases {
        let after = paid(&record, sent);
        assert_eq!(after.state, State::Unknown, "{failure:?}");
        assert_eq!(after.last_failure, Some(failure));
        assert_eq!(after.transaction_id, None);
        assert!(after.state.needs_status());
        assert_eq!(after.payment, record.payment);
    }
}

#[wasm_bindgen_test(unsupported = test)]
fn too_many_attempts_waits_as_asked_and_decides_nothing() {
    let record = stored();
    let mut answer = code_answer(None, ResultCode::TooManyAttempts);
    answer.retry_after_s = Some(90);
    let after = paid(&record, Ok(from_gateway(&answer)));
    assert_eq!(after.state, State::Deferred);
    assert_eq!(after.next_attempt_at_ms, NOW + 2_000 + 90_000);
}

#[wasm_bindgen_test(unsupported = test)]
fn status_settles_an_unknown_payment() {
    let record = paid(&stored(), Err(ApiError::Unclear(Unclear::Timeout)));
    assert_eq!(record.state, State::Unknown);

    let accepted = asked(
        &record,
        Ok(from_gateway(&pay_answer(record.session(), ResultCode::Ok))),
    );
    assert_eq!(accepted.state, State::Accepted);
    assert_eq!(accepted.transaction_id.as_deref(), Some("D001-000042"));

    let duplicate = asked(
        &record,
        Ok(from_gateway(&pay_answer(
            record.session(),
            ResultCode::Duplicate,
        ))),
    );
    assert_eq!(duplicate.state, State::Rejected(ResultCode::Duplicate));

    // Still no answer: it stays unknown, to be asked again later.
    for sent in [
        Err(ApiError::Offline),
        Err(ApiError::Unclear(Unclear::ServerError(503))),
    ] {
        let still = asked(&record, sent);
        assert_eq!(still.state, State::Unknown);
        assert!(still.next_attempt_at_ms > NOW + 2_000);
    }
    // A refusal of the query itself (no receipt) decides nothing about the payment.
    let blocked = asked(
        &record,
        Ok(from_gateway(&code_answer(
            Some(record.session()),
            ResultCode::PointBlocked,
        ))),
    );
    assert_eq!(blocked.state, State::Unknown);
}

#[wasm_bindgen_test(unsupported = test)]
fn a_payment_the_gateway_never_got_is_sent_again_as_the_same_bytes() {
    let record = stored();
    let unknown = paid(&record, Err(ApiError::Unclear(Unclear::ConnectionLost)));
    let again = asked(
        &unknown,
        Ok(from_gateway(&code_answer(
            Some(record.session()),
            ResultCode::NoSuchSession,
        ))),
    );
    assert_eq!(again.state, State::Deferred);
    assert_eq!(again.next_attempt_at_ms, NOW + 2_000, "due at once");
    let accepted = paid(
        &again,
        Ok(from_gateway(&pay_answer(record.session(), ResultCode::Ok))),
    );
    assert_eq!(accepted.state, State::Accepted);
    assert_eq!(accepted.attempts, 3);
    assert_eq!(accepted.session(), record.session());
    assert_eq!(
        accepted.payment.pay, record.payment.pay,
        "the very same signed bytes"
    );
}

#[wasm_bindgen_test(unsupported = test)]
fn backoff_doubles_up_to_a_quarter_of_an_hour() {
    assert_eq!(backoff_ms(1), 15_000);
    assert_eq!(backoff_ms(2), 30_000);
    assert_eq!(backoff_ms(3), 60_000);
    assert_eq!(backoff_ms(7), 900_000);
    assert_eq!(backoff_ms(70), 900_000);
}

#[wasm_bindgen_test(unsupported = test)]
fn pruning_keeps_the_newest_and_every_unfinished_payment() {
    let keys: Vec<String> = (0..8)
        .map(|i| signed_at(NOW + i * 60_000, 3).session.to_string())
        .collect();
    // Oldest first, as IndexedDB lists them: keys[0] is the oldest. keys[0] and keys[2] are
    // still waiting.
    let waiting = [keys[0].clone(), keys[2].clone()].into_iter().collect();
    let mut ascending = keys.clone();
    ascending.sort();
    assert_eq!(
        ascending, keys,
        "a session's key sorts by its creation time"
    );
    assert_eq!(prune_plan(&keys, &waiting, 5), vec![keys[1].clone()]);
    assert_eq!(
        prune_plan(&keys, &HashSet::new(), 5),
        vec![keys[2].clone(), keys[1].clone(), keys[0].clone()]
    );
    assert!(prune_plan(&keys, &waiting, 100).is_empty());
}
