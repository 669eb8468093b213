//! Guards the outbound leg over real HTTP, against the provider emulator (`tolem-providers`)
//! and a real database: an accepted payment is delivered and `status` tells the phone with the
//! provider's number; a provider's final refusal reverses the payment (the balance is back, the
//! commission taken back, the statement reconciles, the audit trail says so); temporary
//! answers, HTTP 500s and answers cut after the provider committed are asked again with the
//! same transaction number and end delivered once; a payment to a provider without a
//! connection waits, and goes once connected; a provider that does not answer keeps no more
//! than its places in flight, and the others' payments go meanwhile; two workers on one
//! database never send the same payment at once.

mod support;

use std::time::Duration;

use support::{
    Gateway,
    delivery::{emulator, quick_retry},
    now_ms,
    payments::{DEALER, kcell},
    phone::Phone,
};
use tolem_gateway::{
    audit::Actor,
    db::{begin_write, ledger},
    delivery::{manual, worker::RetryPolicy},
    payments::{BUSINESS_DAY_MS, business_date, business_day_of},
};
use tolem_protocol::{
    codes::ResultCode,
    messages::{DeliveryState, Payment, ProviderRefusal, Request},
};
use tolem_providers::emulator::faults::Faults;

/// 1 000 tenge.
const THOUSAND: i64 = 100_000;
const WITHIN: Duration = Duration::from_secs(30);

async fn gateway_and_phone() -> (Gateway, Phone) {
    let gateway = support::start().await;
    let phone = gateway.ready_phone(1).await;
    (gateway, phone)
}

#[tokio::test]
async fn an_accepted_payment_is_delivered_and_the_phone_learns_the_providers_number() {
    let (gateway, phone) = gateway_and_phone().await;
    let provider = emulator(&["--open"]).await;
    gateway
        .connect_provider("kcell", &provider.url, 5_000)
        .await;
    gateway.start_delivery(quick_retry());

    let (request, reply) = gateway.pay(&phone, kcell("7011234567", THOUSAND)).await;
    assert_eq!(reply.code(), ResultCode::Ok);
    let queued = reply.receipt().delivery.unwrap();
    assert_eq!(
        queued.state,
        DeliveryState::Queued,
        "the pay answer says queued"
    );

    let delivered = gateway
        .delivery_when(&phone, &request, WITHIN, |d| d.state.is_final())
        .await;
    assert_eq!(delivered.state, DeliveryState::Delivered);
    let held = provider.provider.payments();
    assert_eq!(held.len(), 1, "the provider took it once: {held:?}");
    assert_eq!(held[0].account, "7011234567");
    assert_eq!(held[0].sum_tiyn, THOUSAND);
    assert_eq!(
        delivered.provider_txn,
        held[0].prv_txn.map(|n| n.to_string()),
        "the phone is told the provider's own number"
    );
    assert!(delivered.refusal.is_none() && !delivered.delayed);
    let attempts: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM delivery_attempts")
        .fetch_one(&gateway.pool)
        .await
        .unwrap();
    assert_eq!(attempts, 1);
    gateway.assert_ledger_matches(DEALER).await;
}

#[tokio::test]
async fn a_refused_payment_is_refunded_with_the_reason_and_the_money_is_back() {
    let (gateway, phone) = gateway_and_phone().await;
    let provider = emulator(&["--open", "--missing", "7019999999"]).await;
    gateway
        .connect_provider("kcell", &provider.url, 5_000)
        .await;
    let before = gateway.balance_of(DEALER).await;

    // Accepted first: the balance paid it, the commission accrued.
    let (request, reply) = gateway.pay(&phone, kcell("7019999999", THOUSAND)).await;
    assert_eq!(reply.code(), ResultCode::Ok);
    assert_eq!(gateway.balance_of(DEALER).await, before - THOUSAND);
    gateway.start_delivery(quick_retry());

    let refunded = gateway
        .delivery_when(&phone, &request, WITHIN, |d| d.state.is_final())
        .await;
    assert_eq!(refunded.state, DeliveryState::Refunded);
    assert_eq!(refunded.refusal, Some(ProviderRefusal::AccountNotFound));
    assert!(refunded.provider_txn.is_none());
    // The payment's money is back: the balance is where it was. The commission accrued on it
    // is reversed, so the day's credit will not pay it.
    assert_eq!(gateway.balance_of(DEALER).await, before);
    assert_eq!(gateway.ledger_entries(DEALER, "refund").await, 1);
    let accrued = tolem_gateway::commission::accrued_on(
        &gateway.pool,
        DEALER,
        tolem_gateway::payments::business_day_start(now_ms()),
    )
    .await
    .unwrap();
    assert_eq!(accrued.commission_tiyn, 0, "{accrued:?}");
    gateway.assert_ledger_matches(DEALER).await;
    // The day's statement reconciles and shows the refund.
    let now = now_ms();
    let start = business_day_of(business_date(now));
    let statement = ledger::statement(&gateway.pool, DEALER, start, start + BUSINESS_DAY_MS)
        .await
        .unwrap();
    assert!(statement.reconciles(), "{statement:?}");
    assert_eq!(statement.refunds_tiyn, THOUSAND);
    // The reversal is in the audit trail, by the gateway itself.
    let audited: Vec<(String, String)> =
        sqlx::query_as("SELECT actor, subject FROM audit_log WHERE action = 'payment.refunded'")
            .fetch_all(&gateway.pool)
            .await
            .unwrap();
    let transaction_id = reply.receipt().transaction_id;
    assert_eq!(
        audited,
        vec![("system".to_owned(), format!("payment:{transaction_id}"))]
    );
    // Had the day been credited already, the reversal takes the commission back from the
    // balance: see `a_refund_after_the_days_credit_takes_the_commission_back`.
    // A refunded payment no longer counts against a daily limit of the point or the dealer
    // (the day's sums gave it back) — though a payment past the limit still is refused.
    gateway
        .sql(&format!("UPDATE points SET daily_limit_tiyn = {THOUSAND}"))
        .await;
    gateway
        .sql(&format!("UPDATE dealers SET daily_limit_tiyn = {THOUSAND}"))
        .await;
    let (_, fits) = gateway.pay(&phone, kcell("7011111111", THOUSAND)).await;
    assert_eq!(fits.code(), ResultCode::Ok);
    let (_, past) = gateway.pay(&phone, kcell("7012222222", THOUSAND)).await;
    assert_eq!(past.code(), ResultCode::PointDailyLimit);
    // Nor as a duplicate: the same payment again is not refused with 32.
    gateway
        .sql("UPDATE points SET daily_limit_tiyn = NULL")
        .await;
    gateway
        .sql("UPDATE dealers SET daily_limit_tiyn = NULL")
        .await;
    let (_, again) = gateway.pay(&phone, kcell("7019999999", THOUSAND)).await;
    assert_eq!(again.code(), ResultCode::Ok);
}

#[tokio::test]
async fn temporary_answers_errors_and_cut_answers_are_asked_again_with_the_same_number() {
    let (gateway, phone) = gateway_and_phone().await;
    // Every pay of the first 300 ms is "not finished yet" (90); after that a third of the
    // answers are HTTP 500 and a third are cut after the provider committed.
    let provider = emulator(&[
        "--open",
        "--temporary-for-ms",
        "300",
        "--status-500-rate",
        "0.3",
        "--cut-after-commit-rate",
        "0.3",
        "--seed",
        "7",
    ])
    .await;
    gateway
        .connect_provider("kcell", &provider.url, 5_000)
        .await;
    gateway.start_delivery(quick_retry());
    let mut requests = Vec::new();
    for i in 0..10 {
        let account = format!("70100000{i:02}");
        let (request, reply) = gateway.pay(&phone, kcell(&account, THOUSAND)).await;
        assert_eq!(reply.code(), ResultCode::Ok);
        requests.push(request);
    }
    for request in &requests {
        let delivered = gateway
            .delivery_when(&phone, request, WITHIN, |d| d.state.is_final())
            .await;
        assert_eq!(delivered.state, DeliveryState::Delivered);
    }
    let held = provider.provider.payments();
    assert_eq!(
        held.len(),
        10,
        "one transaction number per payment: {held:?}"
    );
    assert!(
        held.iter()
            .all(|p| p.result == Some(0) && p.prv_txn.is_some())
    );
    // Numbered when first claimed, and never again when claimed after a fault.
    let mut numbers: Vec<Option<i64>> = sqlx::query_scalar("SELECT txn_id FROM deliveries")
        .fetch_all(&gateway.pool)
        .await
        .unwrap();
    numbers.sort();
    assert_eq!(
        numbers,
        (1..=10).map(Some).collect::<Vec<_>>(),
        "each payment has its own number, none skipped"
    );
    let asked_again = held.iter().filter(|p| p.pays_received > 1).count();
    assert!(
        asked_again > 0,
        "the faults made the gateway ask again: {held:?}"
    );
    // Every attempt is kept, and each payment was delivered exactly once.
    let outcomes: Vec<(String, i64)> = sqlx::query_as(
        "SELECT outcome, COUNT(*) FROM delivery_attempts GROUP BY outcome ORDER BY outcome",
    )
    .fetch_all(&gateway.pool)
    .await
    .unwrap();
    assert!(
        outcomes.contains(&("delivered".to_owned(), 10)),
        "{outcomes:?}"
    );
    assert!(
        outcomes
            .iter()
            .any(|(o, _)| o == "later" || o == "unreachable"),
        "{outcomes:?}"
    );
}

#[tokio::test]
async fn a_provider_without_a_connection_keeps_its_payments_until_it_is_connected() {
    let (gateway, phone) = gateway_and_phone().await;
    gateway.start_delivery(quick_retry());
    let (request, reply) = gateway.pay(&phone, kcell("7011234567", THOUSAND)).await;
    assert_eq!(reply.code(), ResultCode::Ok);
    let waiting = gateway
        .delivery_when(&phone, &request, WITHIN, |d| {
            d.state == DeliveryState::Retrying
        })
        .await;
    assert!(!waiting.state.is_final());
    let comment: String = sqlx::query_scalar("SELECT comment FROM deliveries")
        .fetch_one(&gateway.pool)
        .await
        .unwrap();
    assert!(comment.contains("no connection"), "{comment}");

    let provider = emulator(&["--open"]).await;
    gateway
        .connect_provider("kcell", &provider.url, 5_000)
        .await;
    // The retry pace without a connection is the idle poll: it goes within it.
    let delivered = gateway
        .delivery_when(&phone, &request, WITHIN, |d| d.state.is_final())
        .await;
    assert_eq!(delivered.state, DeliveryState::Delivered);
    assert_eq!(provider.provider.payments().len(), 1);
}

#[tokio::test]
async fn a_provider_that_does_not_answer_leaves_room_for_the_others() {
    beeline_delivered_while_kcell_does_not_answer(12, None, 0).await;
}

/// More of the silent provider's payments due before the other's than the worker reads at a
/// time (100): they are all of a provider at its cap, and the reads go past them.
#[tokio::test]
async fn a_provider_that_does_not_answer_holds_up_no_other_however_many_of_its_payments_wait() {
    beeline_delivered_while_kcell_does_not_answer(130, None, 0).await;
}

/// The same with a real catalogue's size: 600 more providers, none of them with payments. The
/// reads past Kcell's ask for every provider with room; in one statement of 600 subqueries
/// SQLite refused them ("too many terms in compound SELECT") and Beeline's waited for Kcell.
#[tokio::test]
async fn a_provider_that_does_not_answer_holds_up_no_other_in_a_catalogue_of_hundreds() {
    beeline_delivered_while_kcell_does_not_answer(130, None, 600).await;
}

/// Kcell's contract allows two at a time, set on its connection by the operator: the worker
/// keeps two of its payments on their way to it, not the gateway's four.
#[tokio::test]
async fn a_provider_has_no_more_payments_on_their_way_than_its_connection_allows() {
    beeline_delivered_while_kcell_does_not_answer(12, Some(2), 0).await;
}

/// `to_kcell` payments to a provider that answers after a minute, then one to Beeline, the last
/// to fall due: Beeline's is delivered while Kcell's wait for their answers, Kcell holding
/// its places in flight (`kcell_places` as its connection sets them, else the worker's four)
/// and no more. `more_providers` are added to the catalogue first.
async fn beeline_delivered_while_kcell_does_not_answer(
    to_kcell: usize,
    kcell_places: Option<i64>,
    more_providers: usize,
) {
    let (gateway, phone) = gateway_and_phone().await;
    gateway
        .sql(&format!(
            "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < {more_providers}) \
             INSERT INTO providers (code, name, short_label, grp, account_kind, account_rule, \
             min_tiyn, max_tiyn, active, updated_at_ms) \
             SELECT 'utility' || i, 'Utility ' || i, 'Utility', 'utilities', 'account', \
             'digits=6-12', 100, 100000000, 1, 0 FROM n WHERE i <= {more_providers}"
        ))
        .await;
    // Kcell's side answers after a minute, longer than this test waits; Beeline's at once.
    let silent = emulator(&["--open", "--delay-ms", "60000"]).await;
    let beeline = emulator(&["--open"]).await;
    gateway
        .connect_provider_in_flight("kcell", &silent.url, 90_000, kcell_places)
        .await;
    gateway
        .connect_provider("beeline", &beeline.url, 5_000)
        .await;
    let request = kcell_backlog_then_beeline(&gateway, &phone, to_kcell).await;

    gateway.start_delivery(four_places_to_a_provider());
    let delivered = gateway
        .delivery_when(&phone, &request, WITHIN, |d| d.state.is_final())
        .await;
    assert_eq!(
        delivered.state,
        DeliveryState::Delivered,
        "Beeline's payment went while Kcell's waited for their answers"
    );
    let waiting_for_kcell: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM deliveries WHERE provider = 'kcell' AND state = 'sent'",
    )
    .fetch_one(&gateway.pool)
    .await
    .unwrap();
    assert_eq!(
        waiting_for_kcell,
        kcell_places.unwrap_or(4),
        "Kcell has its places in flight and no more"
    );
}

/// A worker killed while Beeline had not answered leaves its claim to run out, and the payment
/// is due again behind more of a silent Kcell's than the worker reads at a time (100): the next
/// worker's reads past Kcell's find it too, and it goes — a crash during one provider's outage
/// strands no other's payment until that outage ends.
#[tokio::test]
async fn a_payment_whose_worker_died_mid_attempt_goes_again_behind_a_silent_providers_backlog() {
    let (gateway, phone) = gateway_and_phone().await;
    let silent = emulator(&["--open", "--delay-ms", "60000"]).await;
    // Beeline takes the first attempt's payment and does not answer it: the worker dies
    // waiting, the payment committed at Beeline.
    let beeline = emulator(&["--open", "--delay-ms", "60000", "--delay-after-commit"]).await;
    gateway.connect_provider("kcell", &silent.url, 90_000).await;
    gateway
        .connect_provider("beeline", &beeline.url, 90_000)
        .await;
    let request = kcell_backlog_then_beeline(&gateway, &phone, 130).await;

    let first = gateway.start_delivery(four_places_to_a_provider());
    // Killed once Beeline has the payment (claimed is not yet sent: the request goes out after).
    let started = std::time::Instant::now();
    while beeline.provider.payments().is_empty() {
        assert!(
            started.elapsed() < WITHIN,
            "the first attempt never reached Beeline"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    first.abort();
    assert!(first.await.unwrap_err().is_cancelled());
    // From now on Beeline answers at once; the dead worker's claim runs out after its lease,
    // due then behind the 126 of Kcell's it did not claim.
    beeline
        .provider
        .set_faults(Faults {
            delay_ms: 0,
            ..beeline.provider.faults()
        })
        .unwrap();

    gateway.start_delivery(four_places_to_a_provider());
    let delivered = gateway
        .delivery_when(&phone, &request, WITHIN, |d| d.state.is_final())
        .await;
    assert_eq!(
        delivered.state,
        DeliveryState::Delivered,
        "Beeline's payment went again once its dead worker's claim ran out"
    );
    // Sent again with the number it was first sent with: Beeline answered with the payment
    // it had, and holds it once.
    let held = beeline.provider.payments();
    assert_eq!(held.len(), 1, "one payment at Beeline: {held:?}");
    assert!(held[0].pays_received >= 2, "{held:?}");
    assert_eq!(
        delivered.provider_txn,
        held[0].prv_txn.map(|n| n.to_string()),
        "the first attempt's commit is the payment"
    );
}

/// A provider's answer that echoes another transaction (a front cache that mixed answers up)
/// is not taken for this payment's: the payment is not marked delivered with another's number,
/// it is asked again with its own, and the provider's own answer settles it.
#[tokio::test]
async fn an_answer_for_another_transaction_is_not_taken_as_this_ones() {
    let (gateway, phone) = gateway_and_phone().await;
    let provider = emulator(&["--open"]).await;
    gateway
        .connect_provider("kcell", &provider.url, 5_000)
        .await;
    gateway.start_delivery(quick_retry());
    let (first, _) = gateway.pay(&phone, kcell("7011111111", THOUSAND)).await;
    let first = gateway
        .delivery_when(&phone, &first, WITHIN, |d| d.state.is_final())
        .await;
    assert_eq!(first.state, DeliveryState::Delivered);

    provider
        .provider
        .set_faults(Faults {
            wrong_answer_rate: 1.0,
            ..Faults::default()
        })
        .unwrap();
    let (second, reply) = gateway.pay(&phone, kcell("7012222222", 2 * THOUSAND)).await;
    assert_eq!(reply.code(), ResultCode::Ok);
    let waiting = gateway
        .delivery_when(&phone, &second, WITHIN, |d| {
            d.state == DeliveryState::Retrying
        })
        .await;
    assert_eq!(waiting.provider_txn, None, "not the first payment's number");

    provider.provider.set_faults(Faults::default()).unwrap();
    let second = gateway
        .delivery_when(&phone, &second, WITHIN, |d| d.state.is_final())
        .await;
    assert_eq!(second.state, DeliveryState::Delivered);
    let held = provider.provider.payments();
    assert_eq!(held.len(), 2, "each payment once: {held:?}");
    let own = held
        .iter()
        .find(|payment| payment.account == "7012222222")
        .unwrap();
    assert_eq!(own.sum_tiyn, 2 * THOUSAND);
    assert_eq!(second.provider_txn, own.prv_txn.map(|n| n.to_string()));
    assert_ne!(second.provider_txn, first.provider_txn);
    gateway.assert_ledger_matches(DEALER).await;
}

/// `to_kcell` payments to Kcell, more than a worker may have in flight at all, then one to
/// Beeline, the last to fall due; the request of Beeline's.
async fn kcell_backlog_then_beeline(gateway: &Gateway, phone: &Phone, to_kcell: usize) -> Request {
    for i in 0..to_kcell {
        let (_, reply) = gateway
            .pay(phone, kcell(&format!("7010000{i:03}"), THOUSAND))
            .await;
        assert_eq!(reply.code(), ResultCode::Ok);
    }
    let to_beeline = Payment {
        provider: "beeline".into(),
        account: "7051234567".into(),
        amount_tiyn: THOUSAND,
        customer_amount_tiyn: THOUSAND,
        comment: None,
    };
    let (request, reply) = gateway.pay(phone, to_beeline).await;
    assert_eq!(reply.code(), ResultCode::Ok);
    request
}

/// Eight jobs in flight at most, four to one provider: a few of a silent provider's fill its
/// places.
fn four_places_to_a_provider() -> RetryPolicy {
    RetryPolicy {
        parallel: 8,
        per_provider: 4,
        ..quick_retry()
    }
}

#[tokio::test]
async fn two_workers_on_one_database_never_send_a_payment_twice() {
    let (gateway, phone) = gateway_and_phone().await;
    // Slow answers keep attempts in flight while the other worker looks.
    let provider = emulator(&["--open", "--delay-ms", "30", "--delay-jitter-ms", "30"]).await;
    gateway
        .connect_provider("kcell", &provider.url, 5_000)
        .await;
    let mut requests = Vec::new();
    for i in 0..40 {
        let account = format!("70120000{i:02}");
        let (request, reply) = gateway.pay(&phone, kcell(&account, THOUSAND)).await;
        assert_eq!(reply.code(), ResultCode::Ok);
        requests.push(request);
    }
    gateway.start_delivery(quick_retry());
    gateway.start_delivery(quick_retry());
    gateway.delivery_queue.wake();
    for request in &requests {
        gateway
            .delivery_when(&phone, request, WITHIN, |d| d.state.is_final())
            .await;
    }
    let held = provider.provider.payments();
    assert_eq!(held.len(), 40);
    assert!(
        held.iter().all(|p| p.pays_received == 1),
        "a payment was sent twice: {:?}",
        held.iter()
            .filter(|p| p.pays_received > 1)
            .collect::<Vec<_>>()
    );
    assert_eq!(gateway.deliveries_in("delivered").await, 40);
}

#[tokio::test]
async fn a_refund_after_the_days_credit_takes_the_commission_back() {
    let (gateway, phone) = gateway_and_phone().await;
    let provider = emulator(&["--open", "--missing", "7019999999"]).await;
    gateway
        .connect_provider("kcell", &provider.url, 5_000)
        .await;
    let before = gateway.balance_of(DEALER).await;
    let (request, reply) = gateway.pay(&phone, kcell("7019999999", THOUSAND)).await;
    assert_eq!(reply.code(), ResultCode::Ok);
    // The payment was accepted on a finished day and that day's commission is credited
    // (1 % = 10 ₸) before the provider answers. A day that ended at least the grace ago: in
    // the first minutes after midnight, yesterday is not finished yet.
    let finished_day =
        tolem_gateway::payments::business_day_start(now_ms() - tolem_gateway::commission::GRACE_MS)
            - BUSINESS_DAY_MS;
    sqlx::query("UPDATE commission_accruals SET day_start_ms = $1")
        .bind(finished_day)
        .execute(&gateway.pool)
        .await
        .unwrap();
    let credited =
        tolem_gateway::commission::credit_finished_days(&gateway.pool, Some(DEALER), now_ms())
            .await
            .unwrap();
    assert_eq!(credited.len(), 1, "{credited:?}");
    let commission = credited[0].commission_tiyn;
    assert_eq!(commission, THOUSAND / 100);
    assert_eq!(
        gateway.balance_of(DEALER).await,
        before - THOUSAND + commission
    );

    gateway.start_delivery(quick_retry());
    let refunded = gateway
        .delivery_when(&phone, &request, WITHIN, |d| d.state.is_final())
        .await;
    assert_eq!(refunded.state, DeliveryState::Refunded);
    // The amount back, the credited commission taken back: where the dealer started.
    assert_eq!(gateway.balance_of(DEALER).await, before);
    let taken_back: i64 = sqlx::query_scalar(
        "SELECT amount_tiyn FROM ledger_entries WHERE kind = 'commission' AND reference LIKE 'reversal-%'",
    )
    .fetch_one(&gateway.pool)
    .await
    .unwrap();
    assert_eq!(taken_back, -commission);
    gateway.assert_ledger_matches(DEALER).await;
}

#[tokio::test]
async fn check_asks_the_provider_and_passes_on_the_holders_name_or_its_refusal() {
    use tolem_protocol::messages::{AccountCheck, Outcome, Step};

    let (gateway, phone) = gateway_and_phone().await;
    let provider = emulator(&[
        "--account",
        "7011234567=Иванов И.",
        "--missing",
        "7019999999",
    ])
    .await;
    gateway
        .connect_provider("kcell", &provider.url, 5_000)
        .await;
    let checked = |account: &str| {
        let request = phone.request(Step::Check(kcell(account, THOUSAND)));
        let gateway = &gateway;
        let phone = &phone;
        async move {
            let response = gateway.send(phone, &request).await.response();
            let account = match response.outcome {
                Some(Outcome::Checked { account }) => account,
                other => panic!("not a check answer: {other:?}"),
            };
            (response.code, account)
        }
    };

    let (code, account) = checked("7011234567").await;
    assert_eq!(code, ResultCode::Ok);
    assert_eq!(
        account,
        Some(AccountCheck {
            exists: true,
            holder: Some("Иванов И.".into()),
            fields: Vec::new(),
            refusal: None,
        })
    );
    let (code, account) = checked("7019999999").await;
    assert_eq!(code, ResultCode::BadAccount);
    let account = account.unwrap();
    assert!(!account.exists);
    assert_eq!(account.refusal, Some(ProviderRefusal::AccountNotFound));
    // Nothing was paid, nothing stored.
    assert!(provider.provider.payments().is_empty());
    assert_eq!(gateway.payments_in("accepted").await, 0);

    // A provider without a connection: the gateway's own rules answer alone.
    let mut beeline = kcell("7051234567", THOUSAND);
    beeline.provider = "beeline".into();
    let response = gateway
        .send(&phone, &phone.request(Step::Check(beeline)))
        .await
        .response();
    assert_eq!(response.code, ResultCode::Ok);
    assert_eq!(response.outcome, Some(Outcome::Checked { account: None }));
}

/// A delivered outcome or a claim that cannot be written (here: the database is gone) is
/// reported to the delivery worker that waits for it, which lets the claim run out (or claims
/// again at its next round); an outcome used to wait for a next one to arrive, which after the
/// last delivery of a burst never came.
#[tokio::test]
async fn a_delivery_write_that_cannot_be_made_is_reported_not_left_waiting() {
    use std::sync::Arc;
    use tolem_gateway::{
        db::deliveries::{Attempt, Due},
        delivery::riders::{Delivered, Outcome, Riders},
    };

    let gateway = support::start().await;
    let riders = Arc::new(Riders::default());
    gateway.pool.close().await;
    let delivered = Delivered {
        transaction_id: "T-1".to_owned(),
        attempt: Attempt {
            attempt: 1,
            at_ms: now_ms(),
            request: "GET /pay".to_owned(),
            answer: Some("<response><result>0</result></response>".to_owned()),
            outcome: "delivered".to_owned(),
            result_code: Some(0),
            error: None,
            latency_ms: 5,
        },
        provider_txn: Some("P-1".to_owned()),
        comment: None,
        at_ms: now_ms(),
    };
    let heard = tokio::time::timeout(
        WITHIN,
        riders.record(&gateway.pool, Outcome::Delivered(delivered)),
    )
    .await
    .expect("the delivery must hear that its outcome was not recorded, not wait for ever");
    assert!(
        heard.is_err(),
        "an outcome on a closed database was reported recorded"
    );

    let due = [Due {
        transaction_id: "T-2".to_owned(),
        provider: "kcell".to_owned(),
        due_at_ms: now_ms(),
    }];
    let claimed = tokio::time::timeout(
        WITHIN,
        riders.claim(&gateway.pool, &due, now_ms(), now_ms() + 60_000),
    )
    .await
    .expect("the worker must hear that its claim was not recorded, not wait for ever");
    assert!(
        claimed.is_err(),
        "a claim on a closed database was reported taken"
    );
}

/// A claim shorter than the provider's answer: the attempt gives up when its claim is nearly
/// over (so no other worker sends the payment while this one still waits), whatever the
/// connection's own, longer timeout; asked again with the same number, it is delivered once.
#[tokio::test]
async fn an_attempt_never_outlives_its_claim() {
    let (gateway, phone) = gateway_and_phone().await;
    let provider = emulator(&["--open", "--delay-ms", "5000"]).await;
    gateway
        .connect_provider("kcell", &provider.url, 60_000)
        .await;
    gateway.start_delivery(RetryPolicy {
        lease: Duration::from_secs(1),
        ..quick_retry()
    });
    let (request, reply) = gateway.pay(&phone, kcell("7011234567", THOUSAND)).await;
    assert_eq!(reply.code(), ResultCode::Ok);

    let first = || async {
        sqlx::query_as::<_, (String, Option<String>)>(
            "SELECT outcome, error FROM delivery_attempts WHERE attempt = 1",
        )
        .fetch_optional(&gateway.pool)
        .await
        .unwrap()
    };
    let started = std::time::Instant::now();
    let (outcome, error) = loop {
        if let Some(first) = first().await {
            break first;
        }
        assert!(started.elapsed() < WITHIN, "no attempt recorded");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(outcome, "unreachable", "{error:?}");
    assert!(error.is_some_and(|e| e.contains("in time")));

    provider
        .provider
        .set_faults(Faults {
            delay_ms: 0,
            ..provider.provider.faults()
        })
        .unwrap();
    let delivered = gateway
        .delivery_when(&phone, &request, WITHIN, |d| d.state.is_final())
        .await;
    assert_eq!(delivered.state, DeliveryState::Delivered);
    assert_eq!(provider.provider.payments().len(), 1);
}

/// A provider's final refusal of a payment the operator marked delivered while its attempt was
/// in flight: nothing is reversed (the money stays as marked), but the attempt is kept and the
/// audit trail records the refusal — what a dispute with the provider starts from.
#[tokio::test]
async fn a_refusal_of_a_payment_marked_delivered_meanwhile_is_kept_and_audited() {
    let (gateway, phone) = gateway_and_phone().await;
    // It refuses the account, after a while: long enough to mark it delivered meanwhile.
    let provider = emulator(&["--open", "--missing", "7019999999", "--delay-ms", "1500"]).await;
    gateway
        .connect_provider("kcell", &provider.url, 10_000)
        .await;
    let before = gateway.balance_of(DEALER).await;
    let (request, reply) = gateway.pay(&phone, kcell("7019999999", THOUSAND)).await;
    assert_eq!(reply.code(), ResultCode::Ok);
    let transaction_id = reply.receipt().transaction_id;
    gateway.start_delivery(quick_retry());
    wait_for("the attempt never went out", || async {
        gateway.deliveries_in("sent").await == 1
    })
    .await;

    // The operator marks it delivered while the provider has not answered yet.
    let operator = Actor::new("operator@tolem.kz", None, "127.0.0.1".parse().unwrap());
    let mut tx = begin_write(&gateway.pool).await.unwrap();
    manual::mark_delivered_in(&mut tx, &operator, &transaction_id, "KC-1", now_ms())
        .await
        .unwrap();
    tx.commit().await.unwrap();

    // The refusal comes: its attempt is kept, and the trail says who marked it.
    wait_for("the refusal's attempt was not kept", || async {
        let kept: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM delivery_attempts WHERE transaction_id = $1 \
             AND outcome = 'refused'",
        )
        .bind(&transaction_id)
        .fetch_one(&gateway.pool)
        .await
        .unwrap();
        kept == 1
    })
    .await;
    let audited = gateway
        .audit_rows(
            "delivery.refused_after_marked",
            &format!("payment:{transaction_id}"),
        )
        .await;
    assert_eq!(audited.len(), 1, "{audited:?}");
    assert_eq!(audited[0].0, "system");
    assert!(audited[0].1.contains("operator@tolem.kz"), "{audited:?}");
    assert!(audited[0].1.contains("KC-1"), "{audited:?}");

    // The money stays as marked: delivered, nothing refunded.
    let delivery = gateway
        .delivery_when(&phone, &request, WITHIN, |d| d.state.is_final())
        .await;
    assert_eq!(delivery.state, DeliveryState::Delivered);
    assert_eq!(delivery.provider_txn.as_deref(), Some("KC-1"));
    assert_eq!(gateway.balance_of(DEALER).await, before - THOUSAND);
    assert_eq!(gateway.ledger_entries(DEALER, "refund").await, 0);
    let refunded: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM audit_log WHERE action = 'payment.refunded'")
            .fetch_one(&gateway.pool)
            .await
            .unwrap();
    assert_eq!(refunded, 0);
    gateway.assert_ledger_matches(DEALER).await;
}

/// Waits up to [`WITHIN`] for `done`, failing with `what`.
async fn wait_for<F: Future<Output = bool>>(what: &str, done: impl Fn() -> F) {
    let started = std::time::Instant::now();
    while !done().await {
        assert!(started.elapsed() < WITHIN, "{what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// A worker's attempt whose claim ran out answers late, after another worker (of this gateway
/// or another) claimed the delivery again and is asking the provider: its temporary answer is
/// dropped (its attempt kept), not written over the claim in flight — which would put the
/// delivery back in line, to be sent a third time while the second attempt waits, and let the
/// operator mark it refused as if no attempt were in flight.
#[tokio::test]
async fn a_late_answer_of_a_claim_that_ran_out_leaves_the_next_claim_in_flight() {
    use tolem_gateway::{
        db::deliveries::{self, Attempt, Due},
        delivery::riders::{Later, Outcome},
    };

    let (gateway, phone) = gateway_and_phone().await;
    let (_, reply) = gateway.pay(&phone, kcell("7011234567", THOUSAND)).await;
    assert_eq!(reply.code(), ResultCode::Ok);
    let transaction_id = reply.receipt().transaction_id;
    let riders = gateway.delivery_queue.riders.clone();
    let due = |at_ms| {
        [Due {
            transaction_id: transaction_id.clone(),
            provider: "kcell".to_owned(),
            due_at_ms: at_ms,
        }]
    };

    // Worker A claims it; its claim has run out by the time worker B claims it again.
    let now = now_ms();
    let first = riders
        .claim(&gateway.pool, &due(now), now, now - 1)
        .await
        .unwrap();
    assert_eq!(first.len(), 1);
    assert_eq!(first[0].attempt, 1);
    let lease = now_ms() + 60_000;
    let second = riders
        .claim(&gateway.pool, &due(now - 1), now_ms(), lease)
        .await
        .unwrap();
    assert_eq!(
        second.len(),
        1,
        "the claim that ran out was not claimed again"
    );
    assert_eq!(second[0].attempt, 2);

    // A's temporary answer comes late, while B waits for the provider.
    let at = now_ms();
    let later = Later {
        transaction_id: transaction_id.clone(),
        attempt: Some(Attempt {
            attempt: 1,
            at_ms: at,
            request: "GET /pay".to_owned(),
            answer: Some("<response><result>1</result></response>".to_owned()),
            outcome: "later".to_owned(),
            result_code: Some(1),
            error: None,
            latency_ms: 5,
        }),
        claim: 1,
        result_code: Some(1),
        comment: None,
        next_ms: at,
        at_ms: at,
    };
    let marked = riders
        .record(&gateway.pool, Outcome::Later(later))
        .await
        .unwrap();
    assert!(
        !marked,
        "a stale claim's answer was written over the claim in flight"
    );

    let delivery = deliveries::find(&mut gateway.pool.acquire().await.unwrap(), &transaction_id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(delivery.state, deliveries::State::Sent, "{delivery:?}");
    assert_eq!(delivery.attempts, 2, "{delivery:?}");
    assert_eq!(
        delivery.next_attempt_at_ms, lease,
        "B's claim is not due: {delivery:?}"
    );
    // A's attempt is kept for the record all the same.
    let kept = deliveries::attempts(&gateway.pool, &transaction_id)
        .await
        .unwrap();
    assert_eq!(kept.len(), 1, "{kept:?}");
    assert_eq!(kept[0].outcome, "later");
    // And the operator cannot mark it refused while B is in flight.
    let operator = Actor::new("operator@tolem.kz", None, "127.0.0.1".parse().unwrap());
    let mut tx = begin_write(&gateway.pool).await.unwrap();
    let refused =
        manual::mark_refused_in(&mut tx, &operator, &transaction_id, "gone", now_ms()).await;
    assert!(
        matches!(refused, Err(manual::ManualError::Finished)),
        "{refused:?}"
    );
    drop(tx);
}

/// The mirror of a refusal after a mark: the provider *takes* a payment the operator marked
/// refused while its attempt was in flight (its claim had run out). The dealer has the money
/// back and the provider has it too: nothing is reversed again, but the attempt is kept and the
/// audit trail records it, with who marked it refused — the operator must settle it.
#[tokio::test]
async fn an_acceptance_of_a_payment_marked_refused_meanwhile_is_kept_and_audited() {
    use tolem_gateway::{
        db::deliveries::{self, Attempt, Due},
        delivery::{riders::Delivered, worker},
    };

    let (gateway, phone) = gateway_and_phone().await;
    let before = gateway.balance_of(DEALER).await;
    let (request, reply) = gateway.pay(&phone, kcell("7011234567", THOUSAND)).await;
    assert_eq!(reply.code(), ResultCode::Ok);
    let transaction_id = reply.receipt().transaction_id;
    let riders = gateway.delivery_queue.riders.clone();

    // A worker claims it and asks the provider; its claim runs out before the answer is in.
    let now = now_ms();
    let due = [Due {
        transaction_id: transaction_id.clone(),
        provider: "kcell".to_owned(),
        due_at_ms: now,
    }];
    let claimed = riders
        .claim(&gateway.pool, &due, now, now - 1)
        .await
        .unwrap();
    assert_eq!(claimed.len(), 1);

    // The operator, seeing no attempt in flight, marks it refused: the dealer has it back.
    let operator = Actor::new("operator@tolem.kz", None, "127.0.0.1".parse().unwrap());
    let mut tx = begin_write(&gateway.pool).await.unwrap();
    manual::mark_refused_in(
        &mut tx,
        &operator,
        &transaction_id,
        "provider gone",
        now_ms(),
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
    assert_eq!(gateway.balance_of(DEALER).await, before);

    // Then the provider's acceptance comes in.
    let at = now_ms();
    let delivered = Delivered {
        transaction_id: transaction_id.clone(),
        attempt: Attempt {
            attempt: claimed[0].attempt,
            at_ms: at,
            request: "GET /pay".to_owned(),
            answer: Some("<response><result>0</result></response>".to_owned()),
            outcome: "delivered".to_owned(),
            result_code: Some(0),
            error: None,
            latency_ms: 5,
        },
        provider_txn: Some("KC-77".to_owned()),
        comment: None,
        at_ms: at,
    };
    let marked = worker::record_delivered(&riders, &gateway.pool, &claimed[0], delivered)
        .await
        .unwrap();
    assert!(!marked, "a delivery marked refused was marked delivered");

    // The attempt is kept; the trail says the provider took it, and who marked it refused.
    let kept = deliveries::attempts(&gateway.pool, &transaction_id)
        .await
        .unwrap();
    assert_eq!(kept.len(), 1, "{kept:?}");
    assert_eq!(kept[0].outcome, "delivered");
    let audited = gateway
        .audit_rows(
            "delivery.delivered_after_refused",
            &format!("payment:{transaction_id}"),
        )
        .await;
    assert_eq!(audited.len(), 1, "{audited:?}");
    assert_eq!(audited[0].0, "system");
    assert!(audited[0].1.contains("operator@tolem.kz"), "{audited:?}");
    assert!(audited[0].1.contains("KC-77"), "{audited:?}");
    assert!(audited[0].1.contains(&THOUSAND.to_string()), "{audited:?}");

    // Nothing is reversed or charged again: refunded once, as marked.
    let delivery = gateway
        .delivery_when(&phone, &request, WITHIN, |d| d.state.is_final())
        .await;
    assert_eq!(delivery.state, DeliveryState::Refunded);
    assert_eq!(gateway.balance_of(DEALER).await, before);
    assert_eq!(gateway.ledger_entries(DEALER, "refund").await, 1);
    gateway.assert_ledger_matches(DEALER).await;
}
