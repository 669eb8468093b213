//! Issue 14 item 3, batch replay for slow links, in the browser against the gateway served in
//! place of the network, with real signatures and real bytes: a replay sends the waiting
//! payments in one batch, oldest first, each as the very bytes signed at confirmation, and
//! settles each by its own signed answer; a gateway older than batches (404) gets single pays
//! for the pass; a batch whose answer is cut leaves every payment in it unknown, and the next
//! pass settles each by its status (one by one, never in a batch); a payment with no decision
//! does not stop the pass: the others' answers in its batch are kept and the payments after it
//! are still sent and settled (only a failing network or a throttled point stop it); a long
//! outbox goes in
//! batches of at most 50. A batch goes gzipped (the served gateway inflates it, as the real one
//! does).
#![cfg(target_arch = "wasm32")]

mod common;

use std::cell::Cell;
use std::rc::Rc;

use common::heard::Heard;
use common::network::{self, FakeGateway};
use common::phone::fresh_phone;
use common::*;
use tolem_outbox::clock;
use tolem_outbox::lock::Wait;
use tolem_outbox::record::{PaymentRecord, State};
use tolem_outbox::replay::{self, Stop};
use tolem_outbox::store;
use tolem_protocol::batch::MAX_BATCH_ITEMS;
use tolem_protocol::codes::ResultCode;
use tolem_protocol::ids::SessionId;
use tolem_protocol::messages::{Request, Step};
use tolem_protocol::signing::{bound_answer, exchange_digest};
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

fn now() -> i64 {
    js_sys::Date::now() as i64
}

/// `count` payments deferred a minute ago, oldest first.
async fn deferred(count: u8) -> Vec<PaymentRecord> {
    let start = now();
    let mut records = Vec::new();
    for n in 0..count {
        let at = start - 60_000 + i64::from(n) * 10;
        records.push(store::save_new(signed_at(at, n + 1), start).await.unwrap());
    }
    records
}

/// The gateway's answer for a pay: accepted, with its gateway time now; `None` for anything
/// else (a status is answered by [`accepting_status`]).
fn accepted(request: &Request) -> Option<tolem_protocol::messages::Response> {
    let mut answer = pay_answer(&request.session, ResultCode::Ok);
    answer.gateway_time_ms = now();
    Some(answer)
}

async fn state_of(record: &PaymentRecord) -> State {
    store::get(record.session()).await.unwrap().unwrap().state
}

fn pay_bodies(served: &FakeGateway) -> Vec<String> {
    served
        .sent_to("pay")
        .into_iter()
        .map(|sent| sent.body)
        .collect()
}

/// That the gateway was asked about exactly `records`, each alone by its pre-signed status
/// (the very bytes signed with the payment), oldest first.
fn assert_asked_by_status(served: &FakeGateway, records: &[PaymentRecord]) {
    let statuses: Vec<String> = served
        .sent_to("status")
        .into_iter()
        .map(|sent| sent.body)
        .collect();
    let expected: Vec<String> = records
        .iter()
        .map(|r| r.payment.status.body.clone())
        .collect();
    assert_eq!(
        statuses, expected,
        "each asked about by its status, oldest first"
    );
}

#[wasm_bindgen_test]
async fn a_replay_sends_the_waiting_payments_in_one_batch_and_settles_each() {
    fresh_phone().await;
    clock::reset();
    let records = deferred(3).await;
    let served = network::serve(|_, request| accepted(request));

    let report = replay::replay(Wait::Queue).await.unwrap();
    assert_eq!((report.settled, report.left), (3, 0));
    assert_eq!(
        served.sent_to("batch").len(),
        1,
        "one request for all three"
    );
    assert!(
        served.sent_to("batch")[0].gzipped,
        "gzipped: a third of the bytes on a slow link"
    );
    // Oldest first, each the very bytes signed when the cashier confirmed it.
    let expected: Vec<String> = records.iter().map(|r| r.payment.pay.body.clone()).collect();
    assert_eq!(pay_bodies(&served), expected);
    for record in &records {
        let stored = store::get(record.session()).await.unwrap().unwrap();
        assert_eq!(stored.state, State::Accepted);
        assert_eq!(stored.transaction_id.as_deref(), Some("D001-000042"));
        // The signed answer kept is the gateway's, bound to this payment's own request.
        let answer = stored.last_answer.unwrap();
        let pay = &record.payment.pay;
        let digest = exchange_digest("pay", &pay.signer, &pay.signature, pay.bytes());
        gateway_key()
            .public_key()
            .verify(
                &bound_answer(&digest, answer.body.as_bytes()),
                &answer.signature.parse().unwrap(),
            )
            .expect("the item's answer is bound to its own pay");
    }
}

#[wasm_bindgen_test]
async fn an_older_gateway_gets_single_pays_for_the_pass() {
    fresh_phone().await;
    clock::reset();
    let records = deferred(3).await;
    let served = network::serve_without_batches(|_, request| accepted(request));

    let report = replay::replay(Wait::Queue).await.unwrap();
    assert_eq!((report.settled, report.left), (3, 0));
    // One batch tried (404), then each alone — and no second batch in the same pass.
    assert_eq!(served.sent_to("batch").len(), 1);
    let expected: Vec<String> = records.iter().map(|r| r.payment.pay.body.clone()).collect();
    assert_eq!(pay_bodies(&served), expected);
    assert!(served.sent_to("status").is_empty(), "nothing was unknown");
    for record in &records {
        let stored = store::get(record.session()).await.unwrap().unwrap();
        assert_eq!(stored.state, State::Accepted);
        assert_eq!(stored.attempts, 1, "the refused batch is no attempt");
    }
}

#[wasm_bindgen_test]
async fn a_cut_batch_leaves_its_payments_unknown_and_the_next_pass_settles_each_by_status() {
    fresh_phone().await;
    clock::reset();
    let records = deferred(3).await;
    // The gateway decides every pay, but the answer never comes back.
    let cut = Rc::new(Cell::new(true));
    let is_cut = cut.clone();
    let served = network::serve(move |_, request| match &request.step {
        Step::Pay(_) if is_cut.get() => None,
        _ => accepted(request),
    });

    let report = replay::replay(Wait::Queue).await.unwrap();
    assert_eq!(report.stopped, Some(Stop::NoDecision));
    assert_eq!((report.settled, report.left), (0, 3));
    assert_eq!(served.sent_to("pay").len(), 3, "the gateway got all three");
    for record in &records {
        assert_eq!(state_of(record).await, State::Unknown);
    }

    // Two more are deferred meanwhile; the network is whole again.
    cut.set(false);
    let later = deferred(2).await;
    let report = replay::replay(Wait::Queue).await.unwrap();
    assert_eq!((report.settled, report.left), (5, 0));
    // Each unknown one asked about alone by its pre-signed status, never paid again; the new
    // ones in one batch.
    assert_asked_by_status(&served, &records);
    assert_eq!(served.sent_to("batch").len(), 2);
    assert_eq!(served.sent_to("pay").len(), 5);
    for record in records.iter().chain(&later) {
        assert_eq!(state_of(record).await, State::Accepted);
    }
}

#[wasm_bindgen_test]
async fn a_payment_without_a_decision_in_a_batch_leaves_the_others_answers_kept() {
    fresh_phone().await;
    clock::reset();
    let records = deferred(4).await;
    let sessions: Vec<String> = records.iter().map(|r| r.session().to_string()).collect();
    let served = network::serve(move |_, request| {
        let at = sessions
            .iter()
            .position(|s| s == request.session.as_str())
            .unwrap();
        let mut answer = match at {
            1 => pay_answer(&request.session, ResultCode::InsufficientFunds),
            2 => code_answer(Some(&request.session), ResultCode::Internal),
            _ => pay_answer(&request.session, ResultCode::Ok),
        };
        answer.gateway_time_ms = now();
        Some(answer)
    });

    let report = replay::replay(Wait::Queue).await.unwrap();
    assert_eq!(report.stopped, Some(Stop::NoDecision));
    assert_eq!((report.settled, report.left), (3, 1));
    assert_eq!(served.sent_to("batch").len(), 1);
    assert_eq!(state_of(&records[0]).await, State::Accepted);
    assert_eq!(
        state_of(&records[1]).await,
        State::Rejected(ResultCode::InsufficientFunds)
    );
    assert_eq!(state_of(&records[2]).await, State::Deferred);
    assert_eq!(state_of(&records[3]).await, State::Accepted);
}

#[wasm_bindgen_test]
async fn a_long_outbox_goes_in_batches_of_at_most_fifty() {
    fresh_phone().await;
    clock::reset();
    let records = deferred(60).await;
    let served = network::serve(|_, request| accepted(request));

    let report = replay::replay(Wait::Queue).await.unwrap();
    assert_eq!((report.settled, report.left), (60, 0));
    let batches = served.sent_to("batch");
    assert_eq!(batches.len(), 2);
    let sizes: Vec<usize> = batches
        .iter()
        .map(|sent| {
            serde_json::from_str::<tolem_protocol::batch::BatchRequest>(&sent.body)
                .unwrap()
                .items
                .len()
        })
        .collect();
    assert_eq!(sizes, [MAX_BATCH_ITEMS, 10]);
    let expected: Vec<String> = records.iter().map(|r| r.payment.pay.body.clone()).collect();
    assert_eq!(pay_bodies(&served), expected, "oldest first");
}

#[wasm_bindgen_test]
async fn interrupted_after_the_batch_was_sent_the_next_pass_settles_each_by_status() {
    fresh_phone().await;
    clock::reset();
    let records = deferred(3).await;
    let served = network::serve(|_, request| accepted(request));

    // A pass marks its batch as being sent, the batch reaches the gateway (which decides every
    // payment in it) — and the worker is stopped before it stores the answers.
    let sessions: Vec<_> = records.iter().map(PaymentRecord::session).collect();
    let marked = store::mark_sending_all(&sessions, now()).await.unwrap();
    assert!(marked.iter().all(|r| r.state == State::Sending));
    let items: Vec<(&str, &str, &str)> = marked
        .iter()
        .map(|r| {
            let pay = &r.payment.pay;
            (
                pay.signer.as_str(),
                pay.body.as_str(),
                pay.signature.as_str(),
            )
        })
        .collect();
    tolem_outbox::transport::post_batch(&items).await.unwrap();
    assert_eq!(served.sent_to("pay").len(), 3);

    // The next pass (the lock was freed with the worker) asks about each by its status, one by
    // one, and pays none of them again.
    let report = replay::replay(Wait::Queue).await.unwrap();
    assert_eq!((report.settled, report.left), (3, 0));
    assert_asked_by_status(&served, &records);
    assert_eq!(served.sent_to("batch").len(), 1, "no batch again");
    assert_eq!(served.sent_to("pay").len(), 3, "no pay again");
    for record in &records {
        assert_eq!(state_of(record).await, State::Accepted);
    }
}

#[wasm_bindgen_test]
async fn a_batch_is_marked_and_its_answers_stored_all_or_none() {
    fresh_phone().await;
    let records = deferred(2).await;
    // A payment signed but never stored: the phone does not have it.
    let stranger = PaymentRecord::new(signed_at(now() - 30_000, 99), now());
    let unknown = stranger.session().clone();
    let sessions = [records[0].session(), &unknown, records[1].session()];
    assert_eq!(
        store::mark_sending_all(&sessions, now()).await,
        Err(store::StoreError::NotFound)
    );
    for record in &records {
        assert_eq!(state_of(record).await, State::Deferred, "nothing marked");
    }

    // The same for the answers: none is stored when one cannot be.
    let mut answered: Vec<PaymentRecord> = records
        .iter()
        .map(|r| {
            let mut r = r.clone();
            r.state = State::Accepted;
            r
        })
        .collect();
    answered.insert(1, stranger);
    assert_eq!(
        store::update_all(&answered).await,
        Err(store::StoreError::NotFound)
    );
    for record in &records {
        assert_eq!(state_of(record).await, State::Deferred, "nothing stored");
    }
    assert_eq!(store::outbox_len().await.unwrap(), 2, "both still waiting");
}

#[wasm_bindgen_test]
async fn a_replayed_batch_is_announced_to_open_pages_in_one_message_per_step() {
    fresh_phone().await;
    clock::reset();
    let records = deferred(3).await;
    let sessions: Vec<SessionId> = records.iter().map(|r| r.session().clone()).collect();
    let served = network::serve(|_, request| accepted(request));
    let heard = Heard::listen();

    let report = replay::replay(Wait::Queue).await.unwrap();
    assert_eq!((report.settled, report.left), (3, 0));
    assert_eq!(served.sent_to("batch").len(), 1);
    // One message when the batch was marked as being sent, one when its answers were stored —
    // each naming all three payments, oldest first — not one per payment and step: an open page
    // reads the payments again twice for the batch, not six times.
    assert_eq!(heard.so_far().await, vec![sessions.clone(), sessions]);
}

/// Stores `record` as left by an earlier pass whose pay got no clear answer: unknown.
async fn make_unknown(record: &PaymentRecord) {
    let mut unknown = store::get(record.session()).await.unwrap().unwrap();
    unknown.state = State::Unknown;
    unknown.attempts = 1;
    store::update(&unknown).await.unwrap();
}

/// The oldest payment cannot be decided: its status says "no such session" (11), its very same
/// signed pay goes again and its connection is cut again, every time. The payment after it is
/// still sent and settled in the same pass — not held behind it until it passes the gateway's
/// maximum request age (909 with the cash in the drawer).
#[wasm_bindgen_test]
async fn a_payment_that_cannot_be_decided_does_not_hold_the_ones_after_it() {
    fresh_phone().await;
    clock::reset();
    let records = deferred(2).await;
    make_unknown(&records[0]).await;
    let stuck = records[0].session().clone();
    let served = network::serve(move |_, request| {
        if request.session != stuck {
            return accepted(request);
        }
        match &request.step {
            Step::Pay(_) => None,
            _ => {
                let mut answer = code_answer(Some(&request.session), ResultCode::NoSuchSession);
                answer.gateway_time_ms = now();
                Some(answer)
            }
        }
    });

    let report = replay::replay(Wait::Queue).await.unwrap();
    assert_eq!(report.stopped, Some(Stop::NoDecision), "the caller retries");
    assert_eq!((report.settled, report.left), (1, 1));
    assert_eq!(state_of(&records[0]).await, State::Unknown);
    assert_eq!(state_of(&records[1]).await, State::Accepted);
    // Oldest first, each the very bytes signed at confirmation; nothing re-signed.
    assert_asked_by_status(&served, &records[..1]);
    assert_eq!(
        pay_bodies(&served),
        vec![
            records[0].payment.pay.body.clone(),
            records[1].payment.pay.body.clone()
        ]
    );
    let kept = store::get(records[0].session()).await.unwrap().unwrap();
    assert_eq!(kept.payment, records[0].payment, "the same signed payment");
}

/// The same in a batch: a payment in it the gateway gives no decision about (a 5xx) does not
/// stop the pass — the unknown payment after the batch is still settled by its status.
#[wasm_bindgen_test]
async fn a_payment_without_a_decision_in_a_batch_does_not_hold_the_ones_after_it() {
    fresh_phone().await;
    clock::reset();
    let records = deferred(3).await;
    make_unknown(&records[2]).await;
    let undecided = records[0].session().clone();
    let served = network::serve(move |_, request| {
        if request.session == undecided {
            let mut answer = code_answer(Some(&request.session), ResultCode::Internal);
            answer.gateway_time_ms = now();
            return Some(answer);
        }
        accepted(request)
    });

    let report = replay::replay(Wait::Queue).await.unwrap();
    assert_eq!(report.stopped, Some(Stop::NoDecision));
    assert_eq!((report.settled, report.left), (2, 1));
    assert_eq!(served.sent_to("batch").len(), 1);
    assert_eq!(state_of(&records[0]).await, State::Deferred);
    assert_eq!(state_of(&records[1]).await, State::Accepted);
    assert_eq!(state_of(&records[2]).await, State::Accepted);
    assert_asked_by_status(&served, &records[2..]);
}

/// A gateway that throttles the point (905, "too many attempts") still stops the pass: every
/// further request would be refused the same way and prolong the block.
#[wasm_bindgen_test]
async fn a_throttled_point_still_stops_the_pass() {
    fresh_phone().await;
    clock::reset();
    let records = deferred(2).await;
    make_unknown(&records[0]).await;
    let served = network::serve(|_, _| {
        let mut answer = code_answer(None, ResultCode::TooManyAttempts);
        answer.retry_after_s = Some(60);
        answer.gateway_time_ms = now();
        Some(answer)
    });

    let report = replay::replay(Wait::Queue).await.unwrap();
    assert_eq!(report.stopped, Some(Stop::NoDecision));
    assert_eq!((report.settled, report.left), (0, 2));
    assert_eq!(served.sent_to("status").len(), 1);
    assert!(served.sent_to("pay").is_empty(), "nothing after the block");
    assert_eq!(state_of(&records[1]).await, State::Deferred);
}
