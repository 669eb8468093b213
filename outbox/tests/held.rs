//! Guards "a payment the cashier took cash for is never dropped by the phone" (issue 13 items 1
//! and 2), with real signatures and real bytes: the gateway's "not now" — 902 (key not yet
//! certified), 52/53/54 (dealer, point or cashier blocked), 910 (the phone's clock ahead) —
//! holds the payment, with its reason, counted as waiting; it goes again by itself at its time
//! (a minute, doubling to 15; for 910 the moment the gateway's clock lets it pass), as the very
//! same signed bytes, until it is accepted. 903 (revoked) and a bad signature stay final. The
//! phone learns how far its clock is off from the gateway's and signs with the gateway's time.
//!
//! The decisions are pure functions and run natively too; the replay and the clock run in the
//! browser, against the gateway served in place of the network.

mod common;

use common::*;
use tolem_outbox::record::{PaymentRecord, State};
use tolem_outbox::settle::{
    FIRST_HELD_WAIT_MS, MAX_HELD_WAIT_MS, Reply, after_pay, is_held, read_reply,
};
use tolem_outbox::transport::{Answer, ApiError};
use tolem_protocol::codes::ResultCode;
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

const MINUTE: i64 = 60_000;

fn reply_at(record: &PaymentRecord, sent: Result<Answer, ApiError>, at: i64) -> Reply {
    read_reply("pay", sent, &card(), record.session(), at)
}

/// The record after the gateway answered its pay with `code` (signed, about its session) at `at`.
fn answered(record: &PaymentRecord, code: ResultCode, at: i64) -> PaymentRecord {
    let mut response = pay_answer(record.session(), code);
    if code != ResultCode::Ok {
        // A refusal of the sender carries no receipt: the gateway stored nothing.
        response = code_answer(Some(record.session()), code);
    }
    response.gateway_time_ms = at - 1_000;
    after_pay(
        record,
        reply_at(record, Ok(from_gateway(&response)), at),
        at,
    )
}

#[wasm_bindgen_test(unsupported = test)]
fn a_refusal_for_now_holds_the_payment_with_its_reason() {
    for code in [
        ResultCode::KeyNotCertified,
        ResultCode::DealerBlocked,
        ResultCode::PointBlocked,
        ResultCode::CashierBlocked,
        ResultCode::UnsupportedVersion,
    ] {
        let record = PaymentRecord::new(signed_at(NOW, 1), NOW);
        let after = answered(&record, code, NOW + 2_000);
        assert_eq!(after.state, State::Held(code), "{code:?}");
        assert_eq!(after.state.name(), "held");
        assert!(
            !after.state.is_final(),
            "{code:?} must not drop the payment"
        );
        assert!(!after.state.needs_status(), "the gateway stored nothing");
        assert_eq!(after.next_attempt_at_ms, NOW + 2_000 + FIRST_HELD_WAIT_MS);
        // The signed refusal is kept: the reason the cashier is shown.
        assert_eq!(after.last_answer.as_ref().map(|a| a.code), Some(code));
        assert_eq!(after.payment, record.payment, "the same signed payment");
        assert!(is_held(code));
    }
    // 903 and a bad signature are final: these bytes will never pass.
    for code in [ResultCode::KeyRevoked, ResultCode::BadSignature] {
        let record = PaymentRecord::new(signed_at(NOW, 2), NOW);
        let after = answered(&record, code, NOW + 2_000);
        assert_eq!(after.state, State::Rejected(code), "{code:?}");
        assert!(!is_held(code));
    }
    // A refusal that names no session (refused before the body was read) holds too.
    let record = PaymentRecord::new(signed_at(NOW, 3), NOW);
    let response = code_answer(None, ResultCode::KeyNotCertified);
    let after = after_pay(
        &record,
        reply_at(&record, Ok(from_gateway(&response)), NOW + 2_000),
        NOW + 2_000,
    );
    assert_eq!(after.state, State::Held(ResultCode::KeyNotCertified));
}

#[wasm_bindgen_test(unsupported = test)]
fn a_held_payment_waits_longer_each_time_then_is_accepted() {
    let mut record = PaymentRecord::new(signed_at(NOW, 4), NOW);
    let mut at = NOW + 1_000;
    let mut waits = Vec::new();
    for _ in 0..6 {
        record = answered(&record, ResultCode::PointBlocked, at);
        let wait = record.next_attempt_at_ms - at;
        waits.push(wait);
        at = record.next_attempt_at_ms;
    }
    assert_eq!(
        waits,
        [1, 2, 4, 8, 15, 15].map(|m| m * MINUTE),
        "a minute, doubling, at most {MAX_HELD_WAIT_MS} ms"
    );
    // The dealer unblocked the point: the same pay is accepted.
    let accepted = answered(&record, ResultCode::Ok, at);
    assert_eq!(accepted.state, State::Accepted);
    assert_eq!(accepted.payment, record.payment);
    assert_eq!(accepted.attempts, 7);
}

#[wasm_bindgen_test(unsupported = test)]
fn clock_ahead_is_held_until_the_gateway_would_accept_it() {
    // Signed on a phone whose clock ran 7 minutes ahead; the gateway allows 5.
    let record = PaymentRecord::new(signed_at(NOW + 7 * MINUTE, 5), NOW + 7 * MINUTE);
    let mut response = code_answer(Some(record.session()), ResultCode::ClockAhead);
    response.gateway_time_ms = NOW;
    // The answer arrives when the phone's clock says NOW + 7 min + 1 s.
    let phone_at = NOW + 7 * MINUTE + 1_000;
    let after = after_pay(
        &record,
        reply_at(&record, Ok(from_gateway(&response)), phone_at),
        phone_at,
    );
    assert_eq!(after.state, State::Held(ResultCode::ClockAhead));
    // The gateway takes it once its clock reaches creation − 5 min: 2 minutes after NOW (and
    // a margin of 2 s); the phone waits exactly that long by its own clock.
    assert_eq!(after.next_attempt_at_ms, phone_at + 2 * MINUTE + 2_000);
}

#[cfg(target_arch = "wasm32")]
mod in_the_browser {
    use std::cell::Cell;
    use std::rc::Rc;

    use super::*;
    use crate::common::network;
    use crate::common::phone::fresh_phone;
    use tolem_outbox::clock;
    use tolem_outbox::lock::Wait;
    use tolem_outbox::replay;
    use tolem_outbox::settle;
    use tolem_outbox::store;
    use wasm_bindgen::JsCast;

    fn now() -> i64 {
        js_sys::Date::now() as i64
    }

    /// Moves a stored payment's next attempt into the past, as the passing of its wait would.
    async fn make_due(record: &PaymentRecord) {
        let mut due = store::get(record.session()).await.unwrap().unwrap();
        due.next_attempt_at_ms = now() - 1;
        store::update(&due).await.unwrap();
    }

    #[wasm_bindgen_test]
    async fn held_payments_stay_waiting_and_go_by_themselves_once_the_point_is_unblocked() {
        fresh_phone().await;
        clock::reset();
        let start = now();
        let first = store::save_new(signed_at(start - 2 * MINUTE, 1), start)
            .await
            .unwrap();
        let second = store::save_new(signed_at(start - MINUTE, 2), start)
            .await
            .unwrap();
        // The dealer blocked the point while the payments waited on the phone.
        let blocked = Rc::new(Cell::new(true));
        let is_blocked = blocked.clone();
        let served = network::serve(move |step, request| {
            assert_eq!(step, "pay");
            let mut answer = if is_blocked.get() {
                code_answer(Some(&request.session), ResultCode::PointBlocked)
            } else {
                pay_answer(&request.session, ResultCode::Ok)
            };
            answer.gateway_time_ms = now();
            Some(answer)
        });

        let report = replay::replay(Wait::Queue).await.unwrap();
        // Both were sent (a held one does not stop the pass) and both wait, held.
        assert_eq!(served.sent_to("pay").len(), 2);
        for record in [&first, &second] {
            let now_stored = store::get(record.session()).await.unwrap().unwrap();
            assert_eq!(now_stored.state, State::Held(ResultCode::PointBlocked));
        }
        assert_eq!((report.settled, report.left), (0, 2));
        // Still counted as cash waiting on the phone, in the header and the offline limits.
        let summary = store::waiting_summary().await.unwrap();
        assert_eq!((summary.count, summary.total_tiyn), (2, 4_000_00));

        // Before their time, a replay leaves them alone.
        replay::replay(Wait::Queue).await.unwrap();
        assert_eq!(
            served.sent_to("pay").len(),
            2,
            "nothing sent before its time"
        );

        // The dealer unblocks the point; their time comes; the replay sends them by itself.
        blocked.set(false);
        make_due(&first).await;
        make_due(&second).await;
        let report = replay::replay(Wait::Queue).await.unwrap();
        assert_eq!((report.settled, report.left), (2, 0));
        let pays = served.sent_to("pay");
        assert_eq!(pays.len(), 4);
        // Each went again as the very bytes signed when the cashier confirmed it.
        assert_eq!(pays[2].body, first.payment.pay.body);
        assert_eq!(pays[3].body, second.payment.pay.body);
        for record in [&first, &second] {
            let done = store::get(record.session()).await.unwrap().unwrap();
            assert_eq!(done.state, State::Accepted);
        }
    }

    /// The phone's clock was an hour ahead when the gateway held a payment; the cashier set
    /// the clock right (the app warns them to). The payment is due at once — its next attempt
    /// lies further ahead than any wait a held payment is given — not when the clock has
    /// caught up with the hour (by then perhaps past the gateway's maximum request age). One
    /// held for an ordinary while still waits for its time.
    #[wasm_bindgen_test]
    async fn a_payment_held_by_a_clock_that_was_ahead_goes_once_the_clock_is_set_back() {
        fresh_phone().await;
        clock::reset();
        let start = now();
        let ahead = store::save_new(signed_at(start - 2 * MINUTE, 1), start)
            .await
            .unwrap();
        let waiting = store::save_new(signed_at(start - MINUTE, 2), start)
            .await
            .unwrap();
        let hold = |record: &PaymentRecord, until: i64| {
            let mut held = record.clone();
            held.state = State::Held(ResultCode::PointBlocked);
            held.next_attempt_at_ms = until;
            held
        };
        // Held at 12:00 by a clock that said 13:00: due "at 13:01".
        store::update(&hold(&ahead, start + 60 * MINUTE + MINUTE))
            .await
            .unwrap();
        // Held just now for the longest wait there is, less a minute.
        store::update(&hold(&waiting, start + MAX_HELD_WAIT_MS - MINUTE))
            .await
            .unwrap();
        let due: Vec<_> = store::due(now()).await.unwrap();
        assert_eq!(
            due.iter().map(|r| r.session().clone()).collect::<Vec<_>>(),
            vec![ahead.session().clone()]
        );
        let served = network::serve(move |_, request| {
            let mut answer = pay_answer(&request.session, ResultCode::Ok);
            answer.gateway_time_ms = now();
            Some(answer)
        });
        let report = replay::replay(Wait::Queue).await.unwrap();
        let pays = served.sent_to("pay");
        assert_eq!(pays.len(), 1, "only the one scheduled by the wrong clock");
        assert_eq!(
            pays[0].body, ahead.payment.pay.body,
            "the same signed bytes"
        );
        assert_eq!((report.settled, report.left), (1, 1));
        let done = store::get(ahead.session()).await.unwrap().unwrap();
        assert_eq!(done.state, State::Accepted);
        // The page retries no later than the longest held wait from now.
        let next = report.next_held_at_ms.unwrap();
        assert!(next <= now() + MAX_HELD_WAIT_MS, "{next}");
    }

    #[wasm_bindgen_test]
    async fn send_now_sends_a_held_payment_before_its_time() {
        fresh_phone().await;
        clock::reset();
        let start = now();
        let record = store::save_new(signed_at(start, 3), start).await.unwrap();
        let certified = Rc::new(Cell::new(false));
        let is_certified = certified.clone();
        let served = network::serve(move |_, request| {
            let mut answer = if is_certified.get() {
                pay_answer(&request.session, ResultCode::Ok)
            } else {
                code_answer(None, ResultCode::KeyNotCertified)
            };
            answer.gateway_time_ms = now();
            Some(answer)
        });
        let card = store::key_card().await.unwrap().unwrap();
        let held = settle::settle(record.session(), &card).await.unwrap();
        assert_eq!(held.state, State::Held(ResultCode::KeyNotCertified));
        assert!(held.next_attempt_at_ms > now());

        // The dealer certified the key; the cashier presses *Send now*: it goes at once.
        certified.set(true);
        let sent = settle::settle(record.session(), &card).await.unwrap();
        assert_eq!(sent.state, State::Accepted);
        assert_eq!(served.sent_to("pay").len(), 2);
    }

    #[wasm_bindgen_test]
    async fn the_phone_learns_the_gateways_time_and_signs_with_it() {
        clock::reset();
        assert_eq!(clock::offset_ms(), 0);
        let phone = clock::phone_now_ms();
        // The phone's clock is 7 minutes ahead of the gateway's.
        clock::observe(phone - 7 * MINUTE, phone);
        assert_eq!(clock::offset_ms(), -7 * MINUTE);
        assert!(clock::is_wrong());
        let corrected = clock::now_ms();
        assert!((corrected - (clock::phone_now_ms() - 7 * MINUTE)).abs() < 1_000);
        // Kept where a reloaded page finds it.
        let storage: web_sys::Storage =
            js_sys::Reflect::get(&js_sys::global(), &"localStorage".into())
                .unwrap()
                .unchecked_into();
        let stored = storage.get_item(clock::STORAGE_KEY).unwrap();
        assert_eq!(stored.as_deref(), Some("-420000"));
        // A second of latency is no wrong clock.
        clock::observe(phone + 1_000, phone);
        assert_eq!(clock::offset_ms(), 0);
        assert!(!clock::is_wrong());
        clock::reset();
    }

    #[wasm_bindgen_test]
    async fn a_signed_answer_teaches_the_phone_the_gateways_time() {
        fresh_phone().await;
        clock::reset();
        let record = store::save_new(signed_at(now(), 4), now()).await.unwrap();
        let _served = network::serve(move |_, request| {
            let mut answer = pay_answer(&request.session, ResultCode::Ok);
            // The gateway's clock is 10 minutes behind this phone's.
            answer.gateway_time_ms = now() - 10 * MINUTE;
            Some(answer)
        });
        let card = store::key_card().await.unwrap().unwrap();
        settle::settle(record.session(), &card).await.unwrap();
        assert!((clock::offset_ms() + 10 * MINUTE).abs() < 2_000);
        clock::reset();
    }
}
