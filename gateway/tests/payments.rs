//! Guards check, pay and status over real HTTP against a real database: `check` refuses with
//! each of its codes (908, 914, 8, 7, 21, 81–84, 909, 910) and moves nothing; an accepted payment
//! moves the dealer's balance and ledger by exactly its provider amount; the same session is
//! paid once however often it is sent (the identical signed answer again) and refused with 1
//! with other content; the same payment within the hour is rejected with 32, an hour and a
//! minute later it is accepted; every final rejection is stored and reported by `status`
//! (11 for a session the gateway never received); daily limits follow the business day in
//! Kazakhstan; `balance` reports what is left of the point's day; a point, dealer or cashier
//! blocked or a key revoked while a pay waits for the database lock refuses that pay (53, 52,
//! 54, 903), stores nothing and moves nothing.

mod support;

use base64::{Engine, engine::general_purpose::STANDARD};
use reqwest::StatusCode;
use support::{
    Gateway, Reply, now_ms,
    payments::{DEALER, kcell},
    phone::Phone,
};
use tolem_protocol::{
    codes::ResultCode,
    messages::{BalanceInfo, DealerDetails, Message, Outcome, Payment, PaymentState, Step},
};

const MINUTE_MS: i64 = 60 * 1000;
const HOUR_MS: i64 = 60 * MINUTE_MS;
const DAY_MS: i64 = 24 * HOUR_MS;
/// 1 000 tenge.
const THOUSAND: i64 = 100_000;

async fn gateway_and_phone() -> (Gateway, Phone) {
    let gateway = support::start().await;
    let phone = gateway.ready_phone(1).await;
    (gateway, phone)
}

#[tokio::test]
async fn check_refuses_what_cannot_be_paid_and_moves_nothing() {
    let (gateway, phone) = gateway_and_phone().await;
    let balance = gateway.balance_of(DEALER).await;

    assert_eq!(
        gateway.check(&phone, kcell("7011234567", THOUSAND)).await,
        ResultCode::Ok
    );
    // 908: a provider nobody knows; 914: one the operator switched off.
    let mut unknown = kcell("7011234567", THOUSAND);
    unknown.provider = "nope".into();
    assert_eq!(
        gateway.check(&phone, unknown).await,
        ResultCode::UnknownProvider
    );
    gateway
        .sql("UPDATE providers SET active = 0 WHERE code = 'altel'")
        .await;
    let mut altel = kcell("7001234567", THOUSAND);
    altel.provider = "altel".into();
    assert_eq!(
        gateway.check(&phone, altel).await,
        ResultCode::ProviderDisabled
    );
    // 8: a Beeline number paid to Kcell, a number too short.
    for account in ["7051234567", "701123456"] {
        let code = gateway.check(&phone, kcell(account, THOUSAND)).await;
        assert_eq!(code, ResultCode::BadAccount, "{account}");
    }
    // 7: below the provider's minimum (100 tenge) and above its maximum (100 000 tenge).
    for amount in [9_999, 10_000_001] {
        let code = gateway.check(&phone, kcell("7011234567", amount)).await;
        assert_eq!(code, ResultCode::BadAmount, "{amount}");
    }
    // 21: more than the dealer has.
    gateway.set_balance(DEALER, THOUSAND - 1).await;
    assert_eq!(
        gateway.check(&phone, kcell("7011234567", THOUSAND)).await,
        ResultCode::InsufficientFunds
    );
    gateway.set_balance(DEALER, balance).await;

    // 909 and 910: created too long ago, or in the future.
    let too_old = phone.request_at(
        Step::Check(kcell("7011234567", THOUSAND)),
        now_ms() - 73 * HOUR_MS,
    );
    assert_eq!(
        gateway.send(&phone, &too_old).await.code(),
        ResultCode::TooOld
    );
    let ahead = phone.request_at(
        Step::Check(kcell("7011234567", THOUSAND)),
        now_ms() + 6 * MINUTE_MS,
    );
    assert_eq!(
        gateway.send(&phone, &ahead).await.code(),
        ResultCode::ClockAhead
    );

    assert_eq!(gateway.payments_in("accepted").await, 0);
    assert_eq!(gateway.payments_in("rejected").await, 0);
    assert_eq!(gateway.balance_of(DEALER).await, balance);
    gateway.assert_ledger_matches(DEALER).await;
}

#[tokio::test]
async fn check_and_pay_keep_the_point_and_dealer_limits() {
    let (gateway, phone) = gateway_and_phone().await;
    let check = |amount| gateway.check(&phone, kcell("7011234567", amount));

    // 81 / 83: one payment over the point's, then the dealer's, per-payment limit.
    gateway
        .sql("UPDATE points SET payment_limit_tiyn = 500000 WHERE code = 'P1001'")
        .await;
    assert_eq!(check(500_001).await, ResultCode::PointPaymentLimit);
    assert_eq!(check(500_000).await, ResultCode::Ok);
    gateway
        .sql("UPDATE dealers SET payment_limit_tiyn = 400000 WHERE code = 'D001'")
        .await;
    assert_eq!(check(400_001).await, ResultCode::DealerPaymentLimit);
    assert_eq!(check(400_000).await, ResultCode::Ok);

    // 82: 3 000 tenge paid today, the point may pay 5 000 a day.
    let (_, reply) = gateway.pay(&phone, kcell("7011111111", 3 * THOUSAND)).await;
    assert_eq!(reply.code(), ResultCode::Ok);
    gateway
        .sql("UPDATE points SET daily_limit_tiyn = 500000 WHERE code = 'P1001'")
        .await;
    assert_eq!(check(2 * THOUSAND + 1).await, ResultCode::PointDailyLimit);
    assert_eq!(check(2 * THOUSAND).await, ResultCode::Ok);
    let (request, reply) = gateway
        .pay(&phone, kcell("7012222222", 2 * THOUSAND + 1))
        .await;
    assert_eq!(reply.code(), ResultCode::PointDailyLimit);
    assert_eq!(reply.receipt().state, PaymentState::Rejected);
    let status = gateway.status(&phone, &request).await;
    assert_eq!(status.code(), ResultCode::PointDailyLimit);

    // 84: another point of the dealer has paid 1 000 today; the dealer may pay 4 500 a day.
    gateway.add_point("P1002").await;
    let other = gateway.ready_phone_of("P1002", 2).await;
    let (_, reply) = gateway.pay(&other, kcell("7013333333", THOUSAND)).await;
    assert_eq!(reply.code(), ResultCode::Ok);
    gateway
        .sql("UPDATE dealers SET daily_limit_tiyn = 450000 WHERE code = 'D001'")
        .await;
    assert_eq!(check(THOUSAND / 2 + 1).await, ResultCode::DealerDailyLimit);
    assert_eq!(check(THOUSAND / 2).await, ResultCode::Ok);

    // The balance step reports what is left of the point's day: 5 000 - 3 000.
    let reply = gateway.send(&phone, &phone.request(Step::Balance)).await;
    let Some(Outcome::Balance(info)) = reply.response().outcome else {
        panic!("{}", reply.text())
    };
    assert_eq!(
        info,
        BalanceInfo {
            dealer_balance_tiyn: gateway.balance_of(DEALER).await,
            point_day_left_tiyn: Some(2 * THOUSAND),
            point_payment_limit_tiyn: Some(500_000),
            offline: Some(phone.card.offline.clone()),
            dealer: Some(demo_dealer_details()),
        }
    );

    // A new business day: what was paid yesterday no longer counts.
    gateway
        .sql(&format!(
            "UPDATE payments SET received_at_ms = received_at_ms - {DAY_MS}"
        ))
        .await;
    gateway
        .sql(&format!(
            "UPDATE day_sums SET day_start_ms = day_start_ms - {DAY_MS}"
        ))
        .await;
    assert_eq!(check(4 * THOUSAND).await, ResultCode::Ok);
    gateway.assert_ledger_matches(DEALER).await;
}

#[tokio::test]
async fn an_accepted_payment_moves_the_balance_and_ledger_by_its_amount() {
    let (gateway, phone) = gateway_and_phone().await;
    let before = gateway.balance_of(DEALER).await;
    let mut payment = kcell("+7 701 123 45 67", 2 * THOUSAND);
    // The customer also pays the point's extra commission, which is not the dealer's debt.
    payment.customer_amount_tiyn = 2 * THOUSAND + 6_000;
    payment.comment = Some("за март".into());

    let (request, reply) = gateway.pay(&phone, payment).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
    let response = reply.verified(&phone.card.gateway_key);
    assert_eq!(response.code, ResultCode::Ok);
    assert_eq!(response.session, Some(request.session.clone()));
    let receipt = reply.receipt();
    assert_eq!(receipt.state, PaymentState::Accepted);
    assert_eq!(receipt.transaction_id, "D001-1");
    assert_eq!(receipt.amount_tiyn, 2 * THOUSAND);
    assert_eq!(receipt.customer_amount_tiyn, 2 * THOUSAND + 6_000);

    assert_eq!(gateway.balance_of(DEALER).await, before - 2 * THOUSAND);
    assert_eq!(gateway.ledger_entries(DEALER, "payment").await, 1);
    let (amount, after, reference): (i64, i64, String) = sqlx::query_as(
        "SELECT amount_tiyn, balance_after_tiyn, reference FROM ledger_entries \
         WHERE kind = 'payment'",
    )
    .fetch_one(&gateway.pool)
    .await
    .unwrap();
    assert_eq!(
        (amount, after, reference.as_str()),
        (-2 * THOUSAND, before - 2 * THOUSAND, "D001-1")
    );
    gateway.assert_ledger_matches(DEALER).await;

    // Stored with the normalised number, the exact signed request and the exact answer.
    let (account, request_body, response_body): (String, String, String) = sqlx::query_as(
        "SELECT account, request_body, response_body FROM payments WHERE transaction_id = 'D001-1'",
    )
    .fetch_one(&gateway.pool)
    .await
    .unwrap();
    assert_eq!(account, "7011234567");
    assert_eq!(STANDARD.decode(request_body).unwrap(), request.encode());
    assert_eq!(STANDARD.decode(response_body).unwrap(), reply.body);

    // Status tells the same.
    let status = gateway.status(&phone, &request).await;
    assert_eq!(status.code(), ResultCode::Ok);
    assert_eq!(status.receipt(), receipt);
}

#[tokio::test]
async fn a_session_is_paid_once_and_its_content_cannot_change() {
    let (gateway, phone) = gateway_and_phone().await;
    let before = gateway.balance_of(DEALER).await;
    let request = phone.request(Step::Pay(kcell("7011234567", THOUSAND)));
    let body = request.encode();
    let serial = phone.card.key_serial.clone();

    let first = gateway.send_raw(&phone, &serial, "pay", body.clone()).await;
    assert_eq!(first.code(), ResultCode::Ok);
    let decided_at = first.response().gateway_time_ms;
    // The phone never heard the answer and sends the same signed bytes again, twice, later.
    for _ in 0..2 {
        while now_ms() <= decided_at {
            tokio::time::sleep(std::time::Duration::from_millis(1)).await;
        }
        let sent_at = now_ms();
        let again = gateway.send_raw(&phone, &serial, "pay", body.clone()).await;
        assert_eq!(again.decision(), first.decision(), "the same decision");
        // With the gateway's time of now: the phone sets its signing clock from it, and the
        // decision's own time would set it back by as long as the phone took to ask again.
        assert!(
            again.response().gateway_time_ms >= sent_at,
            "the replay's time {} is the decision's {decided_at}, not now ({sent_at})",
            again.response().gateway_time_ms
        );
    }
    assert_eq!(gateway.balance_of(DEALER).await, before - THOUSAND);
    assert_eq!(gateway.ledger_entries(DEALER, "payment").await, 1);

    // The same session with another amount: 1, and nothing changes.
    let mut changed = request.clone();
    changed.step = Step::Pay(kcell("7011234567", 2 * THOUSAND));
    let reply = gateway.send(&phone, &changed).await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.code(), ResultCode::SessionExists);
    assert_eq!(reply.response().outcome, None);
    assert_eq!(gateway.balance_of(DEALER).await, before - THOUSAND);
    assert_eq!(gateway.payments_in("accepted").await, 1);
    assert_eq!(gateway.payments_in("rejected").await, 0);
    assert_eq!(
        gateway.status(&phone, &request).await.receipt(),
        first.receipt()
    );
    gateway.assert_ledger_matches(DEALER).await;
}

#[tokio::test]
async fn the_same_payment_within_the_hour_is_a_duplicate() {
    let (gateway, phone) = gateway_and_phone().await;
    let now = now_ms();
    let before = gateway.balance_of(DEALER).await;
    let (_, first) = gateway
        .pay_at(&phone, kcell("7011234567", THOUSAND), now - 30 * MINUTE_MS)
        .await;
    assert_eq!(first.code(), ResultCode::Ok);

    // The same number written another way, in a new session, half an hour later.
    let (request, reply) = gateway
        .pay_at(&phone, kcell("8 701 123 4567", THOUSAND), now)
        .await;
    assert_eq!(reply.code(), ResultCode::Duplicate);
    let receipt = reply.receipt();
    assert_eq!(receipt.state, PaymentState::Rejected);
    assert_ne!(receipt.transaction_id, first.receipt().transaction_id);
    let status = gateway.status(&phone, &request).await;
    assert_eq!(status.code(), ResultCode::Duplicate);
    assert_eq!(status.receipt(), receipt);

    // A deferred one created 50 minutes *before* the accepted one is a duplicate too.
    let (_, reply) = gateway
        .pay_at(&phone, kcell("7011234567", THOUSAND), now - 80 * MINUTE_MS)
        .await;
    assert_eq!(reply.code(), ResultCode::Duplicate);
    // Another amount, another number or another provider is another payment.
    for payment in [
        kcell("7011234567", THOUSAND + 100),
        kcell("7011234568", THOUSAND),
        Payment {
            provider: "activ".into(),
            ..kcell("7011234567", THOUSAND)
        },
    ] {
        let (_, reply) = gateway.pay_at(&phone, payment, now).await;
        assert_eq!(reply.code(), ResultCode::Ok);
    }
    assert_eq!(gateway.payments_in("rejected").await, 2);
    assert_eq!(
        gateway.balance_of(DEALER).await,
        before - 4 * THOUSAND - 100
    );
    gateway.assert_ledger_matches(DEALER).await;
}

#[tokio::test]
async fn the_same_payment_61_minutes_later_is_accepted() {
    let (gateway, phone) = gateway_and_phone().await;
    let now = now_ms();
    let (_, first) = gateway
        .pay_at(&phone, kcell("7011234567", THOUSAND), now - 61 * MINUTE_MS)
        .await;
    assert_eq!(first.code(), ResultCode::Ok);
    let (_, second) = gateway
        .pay_at(&phone, kcell("7011234567", THOUSAND), now)
        .await;
    assert_eq!(second.code(), ResultCode::Ok);
    assert_eq!(second.receipt().state, PaymentState::Accepted);
    assert_eq!(gateway.payments_in("accepted").await, 2);
}

#[tokio::test]
async fn status_of_a_session_never_paid_is_11_and_may_be_asked_again() {
    let (gateway, phone) = gateway_and_phone().await;
    // Pre-signed once, sent three times.
    let status = phone.request(Step::Status);
    let body = status.encode();
    for _ in 0..3 {
        let reply = gateway
            .send_raw(&phone, &phone.card.key_serial, "status", body.clone())
            .await;
        assert_eq!(
            reply.status_and_code(),
            (StatusCode::OK, ResultCode::NoSuchSession)
        );
        assert_eq!(reply.response().session, Some(status.session.clone()));
    }
    // Another point's session is not this point's.
    let (request, reply) = gateway.pay(&phone, kcell("7011234567", THOUSAND)).await;
    assert_eq!(reply.code(), ResultCode::Ok);
    gateway.add_point("P1002").await;
    let other = gateway.ready_phone_of("P1002", 2).await;
    assert_eq!(
        gateway.status(&other, &request).await.code(),
        ResultCode::NoSuchSession
    );
}

#[tokio::test]
async fn a_payment_past_the_offline_age_is_rejected_with_909() {
    let (gateway, phone) = gateway_and_phone().await;
    let before = gateway.balance_of(DEALER).await;
    // The default maximum age is 72 hours.
    let (late, reply) = gateway
        .pay_at(
            &phone,
            kcell("7011234567", THOUSAND),
            now_ms() - 73 * HOUR_MS,
        )
        .await;
    assert_eq!(reply.code(), ResultCode::TooOld);
    assert_eq!(reply.receipt().state, PaymentState::Rejected);
    assert_eq!(
        gateway.status(&phone, &late).await.code(),
        ResultCode::TooOld
    );
    let (_, reply) = gateway
        .pay_at(
            &phone,
            kcell("7011234567", THOUSAND),
            now_ms() - 71 * HOUR_MS,
        )
        .await;
    assert_eq!(reply.code(), ResultCode::Ok);

    // The dealer shortens the point's limit to an hour.
    gateway
        .sql("UPDATE points SET offline_max_age_ms = 3600000 WHERE code = 'P1001'")
        .await;
    let (_, reply) = gateway
        .pay_at(
            &phone,
            kcell("7017654321", THOUSAND),
            now_ms() - 61 * MINUTE_MS,
        )
        .await;
    assert_eq!(reply.code(), ResultCode::TooOld);
    assert_eq!(gateway.balance_of(DEALER).await, before - THOUSAND);
}

#[tokio::test]
async fn a_payment_from_the_future_is_refused_with_910_and_not_stored() {
    let (gateway, phone) = gateway_and_phone().await;
    let (ahead, reply) = gateway
        .pay_at(
            &phone,
            kcell("7011234567", THOUSAND),
            now_ms() + 6 * MINUTE_MS,
        )
        .await;
    assert_eq!(reply.code(), ResultCode::ClockAhead);
    assert_eq!(reply.response().outcome, None);
    assert_eq!(
        gateway.status(&phone, &ahead).await.code(),
        ResultCode::NoSuchSession
    );
    // A clock a few minutes fast is tolerated.
    let (_, reply) = gateway
        .pay_at(
            &phone,
            kcell("7011234567", THOUSAND),
            now_ms() + 4 * MINUTE_MS,
        )
        .await;
    assert_eq!(reply.code(), ResultCode::Ok);
}

#[tokio::test]
async fn final_rejections_of_pay_are_stored_for_status() {
    let (gateway, phone) = gateway_and_phone().await;
    gateway.set_balance(DEALER, THOUSAND).await;
    let mut unknown = kcell("7011234567", THOUSAND);
    unknown.provider = "nope".into();
    let cases = [
        (
            kcell("7011234567", THOUSAND + 1),
            ResultCode::InsufficientFunds,
        ),
        (unknown, ResultCode::UnknownProvider),
        (kcell("7771234567", THOUSAND), ResultCode::BadAccount),
        (kcell("7011234567", 100), ResultCode::BadAmount),
    ];
    for (payment, code) in cases {
        let (request, reply) = gateway.pay(&phone, payment).await;
        assert_eq!(reply.code(), code);
        let receipt = reply.receipt();
        assert_eq!(receipt.state, PaymentState::Rejected);
        let status = gateway.status(&phone, &request).await;
        assert_eq!((status.code(), status.receipt()), (code, receipt));
    }
    assert_eq!(gateway.payments_in("rejected").await, 4);
    // The whole balance can still be paid, down to zero.
    let (_, reply) = gateway.pay(&phone, kcell("7011234567", THOUSAND)).await;
    assert_eq!(reply.code(), ResultCode::Ok);
    assert_eq!(gateway.balance_of(DEALER).await, 0);
    gateway.assert_ledger_matches(DEALER).await;
}

/// Sends a pay from `phone` while the test holds the database's write lock, runs `change` in
/// that same transaction once the pay waits for the lock, then commits: the pay is decided on
/// the state it commits on, not on the state it was authorised with.
async fn pay_while_changed(gateway: &Gateway, phone: &Phone, change: &str) -> Reply {
    use tolem_gateway::db::begin_write;

    let mut tx = begin_write(&gateway.pool).await.unwrap();
    // On PostgreSQL the pay waits for the dealer's row, not for a database lock: hold it too.
    sqlx::query("UPDATE dealers SET name = name WHERE code = $1")
        .bind(DEALER)
        .execute(&mut *tx)
        .await
        .unwrap();
    let body = phone
        .request(Step::Pay(kcell("7011234567", THOUSAND)))
        .encode();
    let headers = phone.signature_headers(&phone.card.key_serial, &body);
    let pay = gateway.post("pay", body, &headers);
    let change_and_commit = async {
        // The pay waits for the lock when the payment writer holds it (authorised, screened)
        // and cannot finish: a group of one is decided in milliseconds, so one still being
        // decided at 20 looks in a row, 10 ms apart, is the wait.
        let mut busy_looks = 0;
        // Bounded below the 5 s a writer waits for the lock, so a pay that never waits fails
        // here loudly.
        for _ in 0..400 {
            if busy_looks == 20 {
                break;
            }
            let waiting = gateway.payments.deciding() == 1;
            busy_looks = if waiting { busy_looks + 1 } else { 0 };
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
        assert_eq!(busy_looks, 20, "the pay never waited for the lock");
        sqlx::query(change).execute(&mut *tx).await.unwrap();
        tx.commit().await.unwrap();
    };
    tokio::join!(pay, change_and_commit).0
}

#[tokio::test]
async fn a_sender_blocked_while_its_pay_waits_for_the_lock_is_refused_and_nothing_moves() {
    let (gateway, phone) = gateway_and_phone().await;
    let balance = gateway.balance_of(DEALER).await;
    let point = phone.card.point.clone();
    let serial = phone.card.key_serial.clone();
    let cases = [
        (
            format!("UPDATE points SET active = 0 WHERE code = '{point}'"),
            format!("UPDATE points SET active = 1 WHERE code = '{point}'"),
            ResultCode::PointBlocked,
        ),
        (
            format!("UPDATE dealers SET active = 0 WHERE code = '{DEALER}'"),
            format!("UPDATE dealers SET active = 1 WHERE code = '{DEALER}'"),
            ResultCode::DealerBlocked,
        ),
        (
            format!("UPDATE cashiers SET active = 0 WHERE point_code = '{point}'"),
            format!("UPDATE cashiers SET active = 1 WHERE point_code = '{point}'"),
            ResultCode::CashierBlocked,
        ),
        (
            format!("UPDATE keys SET state = 'revoked' WHERE serial = '{serial}'"),
            String::new(),
            ResultCode::KeyRevoked,
        ),
    ];
    for (block, unblock, expected) in cases {
        let reply = pay_while_changed(&gateway, &phone, &block).await;
        assert_eq!(reply.code(), expected, "{block}");
        // Refused like a request that arrived after the block: nothing stored (the phone keeps
        // the payment and sends it again once the block is lifted), nothing debited.
        assert_eq!(gateway.payments_in("accepted").await, 0, "{block}");
        assert_eq!(gateway.payments_in("rejected").await, 0, "{block}");
        assert_eq!(gateway.balance_of(DEALER).await, balance, "{block}");
        if !unblock.is_empty() {
            gateway.sql(&unblock).await;
        }
    }
    gateway.assert_ledger_matches(DEALER).await;
}

/// The demo dealer as the operator registered it: what its receipts name.
fn demo_dealer_details() -> DealerDetails {
    DealerDetails {
        name: "Демо-дилер".into(),
        bin: "080640001122".into(),
        legal_address: "Алматы, пр. Абая, 10".into(),
    }
}
