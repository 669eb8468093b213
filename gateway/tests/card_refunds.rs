//! Guards refunds to the card over real HTTP, against the payment-service emulator and a real
//! database, until the money is back: a refund Robokassa took is not shown done while the
//! service is still carrying it out, nor ever asked for twice, and shows done once it says
//! finished — or failed, with the operator's alarm, when it says canceled; a refund the service
//! keeps not answering (a wrong address) is still tried, and the operator is told once that a
//! customer's refund is stuck; a TipTop Pay refund whose answer was lost is not sent again
//! once the service has forgotten its idempotency key: the payment is asked first.
//!
//! The refund worker is driven by hand, one attempt at a time (`send_due`), with no waits
//! between attempts, so each step's state is seen for certain.

mod support;

use std::{sync::Arc, time::Duration};

use support::{
    Gateway,
    browser::ADMIN,
    card::{self, CardFixture, Service, bill},
    phone::Phone,
};
use tolem_card_payments::{
    PaymentService, ServiceConfig,
    emulator::{Faults, customer::Browser},
    service_for_with_refund_key,
};
use tolem_gateway::card::{CardPayments, refund::Worker};
use tolem_protocol::{
    codes::ResultCode,
    messages::{Payment, Request, Step},
};

const PATIENCE: Duration = Duration::from_secs(30);
/// A card the emulator approves without 3-D Secure.
const GOOD_CARD: &str = "4111 1111 1111 1111";

fn payment(account: &str) -> Payment {
    Payment {
        provider: "kcell".into(),
        account: account.into(),
        amount_tiyn: 100_000,
        customer_amount_tiyn: 102_000,
        comment: None,
    }
}

/// A refund worker on `card`'s service that the test drives, retrying at once.
fn worker(gateway: &Gateway, card: Arc<CardPayments>) -> Worker {
    let mut worker = Worker::new(gateway.pool.clone(), card);
    worker.first_retry = Duration::ZERO;
    worker.lease = Duration::from_secs(3);
    worker
}

/// One attempt of `worker`, which must find a refund due.
async fn attempt(worker: &Worker) {
    assert!(worker.send_due().await.unwrap(), "a refund was due");
}

async fn count(gateway: &Gateway, query: &str) -> i64 {
    sqlx::query_scalar(query)
        .fetch_one(&gateway.pool)
        .await
        .unwrap()
}

/// The one refund's state as stored.
async fn refund_state(gateway: &Gateway) -> String {
    sqlx::query_scalar("SELECT state FROM card_refunds")
        .fetch_one(&gateway.pool)
        .await
        .unwrap()
}

/// A bill the cashier cancels while the customer is on the service's page, whose card is
/// charged all the same (Robokassa does not ask first; TipTop Pay without a Check): the
/// gateway takes the charge and asks for its refund. `faults` are set on the service once the
/// order is made. Returns the bill's invoice once the refund is asked for.
async fn charge_after_cancelling(fx: &CardFixture, phone: &Phone, faults: Faults) -> i64 {
    let gateway = &fx.gateway;
    let (request, token) = bill(phone, payment("7011234581"));
    let page = order(gateway, &token).await;
    let mut cancel = phone.request(Step::Cancel);
    cancel.session = request.session.clone();
    assert_eq!(
        gateway.send(phone, &cancel).await.code(),
        ResultCode::BillCancelled
    );
    fx.emulator.emulator.set_faults(faults);
    fx.customer.pay(&page, GOOD_CARD, "12/30", false).await;
    let started = std::time::Instant::now();
    while count(gateway, "SELECT COUNT(*) FROM card_refunds").await == 0 {
        assert!(started.elapsed() < PATIENCE, "no refund was asked for");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_bill_cancelled(gateway, phone, &request).await;
    sqlx::query_scalar("SELECT invoice FROM card_refunds")
        .fetch_one(&gateway.pool)
        .await
        .unwrap()
}

async fn assert_bill_cancelled(gateway: &Gateway, phone: &Phone, request: &Request) {
    let response = gateway.status(phone, request).await.response();
    assert_eq!(response.code, ResultCode::BillCancelled);
}

/// The customer's "pay" on the bill's page: the service's page it redirects to.
async fn order(gateway: &Gateway, token: &str) -> String {
    let response = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
        .post(format!("{}/bill/{token}", gateway.url))
        .form(&[("email", "buyer@example.kz")])
        .send()
        .await
        .unwrap();
    assert!(response.status().is_redirection(), "{}", response.status());
    response.headers()["location"].to_str().unwrap().to_owned()
}

/// The refund of bill `invoice` as the console's card page shows it (`data-refund`).
async fn console_refund(gateway: &Gateway, cookie: &str, invoice: i64) -> String {
    let (html, _) = gateway.console_page("/console/card", cookie).await;
    let row = html
        .split("<tr class=\"bill\"")
        .find(|row| row.contains(&format!("data-invoice=\"{invoice}\"")))
        .unwrap_or_else(|| panic!("bill {invoice} listed: {html}"));
    row.split("data-refund=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .unwrap_or("none")
        .to_owned()
}

/// Robokassa takes a refund and carries it out later: while its Refund/GetState says
/// `processing`, the console shows the refund pending, the worker asks about it by its request
/// id and never asks for it again; once the service says `finished`, it shows done. Before,
/// Refund/Create's "taken" was recorded done at once.
#[tokio::test]
async fn a_robokassa_refund_is_done_only_once_the_service_finished_it() {
    let fx = card::start(Service::Robokassa).await;
    let gateway = &fx.gateway;
    let phone = gateway.ready_phone(1).await;
    let faults = Faults {
        refund_processing_checks: 2,
        ..Faults::default()
    };
    let invoice = charge_after_cancelling(&fx, &phone, faults).await;
    let cookie = gateway.console_session(ADMIN).await;
    let worker = worker(gateway, gateway.card.clone());

    attempt(&worker).await;
    let taken = fx.emulator.emulator.refunds();
    assert_eq!(taken.len(), 1, "{taken:?}");
    assert_eq!(refund_state(gateway).await, "pending", "taken, not done");
    assert_eq!(console_refund(gateway, &cookie, invoice).await, "pending");
    let kept: Option<String> = sqlx::query_scalar("SELECT refund_id FROM card_refunds")
        .fetch_one(&gateway.pool)
        .await
        .unwrap();
    assert_eq!(
        kept.as_deref(),
        Some(taken[0].id.as_str()),
        "its request id"
    );

    // Twice `processing`: still pending, and asked about, not asked for again.
    for _ in 0..2 {
        attempt(&worker).await;
        assert_eq!(refund_state(gateway).await, "pending");
        assert_eq!(fx.emulator.emulator.refunds().len(), 1);
    }
    attempt(&worker).await;
    assert_eq!(refund_state(gateway).await, "done");
    assert_eq!(console_refund(gateway, &cookie, invoice).await, "done");
    assert_eq!(fx.emulator.emulator.refunds().len(), 1, "refunded once");
    assert_eq!(
        count(
            gateway,
            "SELECT COUNT(*) FROM audit_log WHERE action = 'card.refunded'"
        )
        .await,
        1
    );
    assert!(!worker.send_due().await.unwrap(), "nothing more to do");
}

/// A refund Robokassa took and then canceled gave the customer nothing: it shows failed in the
/// console, for the operator to act on, with the refusal in the audit trail — not done.
#[tokio::test]
async fn a_refund_robokassa_canceled_shows_failed() {
    let fx = card::start(Service::Robokassa).await;
    let gateway = &fx.gateway;
    let phone = gateway.ready_phone(1).await;
    let faults = Faults {
        refund_cancel: true,
        ..Faults::default()
    };
    let invoice = charge_after_cancelling(&fx, &phone, faults).await;
    let cookie = gateway.console_session(ADMIN).await;
    let worker = worker(gateway, gateway.card.clone());

    attempt(&worker).await;
    assert_eq!(refund_state(gateway).await, "pending");
    attempt(&worker).await;
    assert_eq!(refund_state(gateway).await, "failed");
    assert_eq!(console_refund(gateway, &cookie, invoice).await, "failed");
    let (subject, details): (String, String) = sqlx::query_as(
        "SELECT subject, details FROM audit_log WHERE action = 'card.refund_failed'",
    )
    .fetch_one(&gateway.pool)
    .await
    .unwrap();
    assert_eq!(subject, format!("bill:{invoice}"));
    assert!(details.contains("canceled"), "{details}");
    assert_eq!(
        count(
            gateway,
            "SELECT COUNT(*) FROM audit_log WHERE action = 'card.refunded'"
        )
        .await,
        0
    );
    assert!(!worker.send_due().await.unwrap(), "nothing more to do");
}

/// A gateway whose Robokassa refund API address is wrong (the service answers HTTP 404) keeps
/// trying the refund — a corrected address heals it — but after ten attempts the operator is
/// told, once, that a customer's refund is stuck, with the error and not a secret.
#[tokio::test]
async fn a_refund_the_service_keeps_refusing_to_hear_alarms_the_operator_once() {
    let emulator = tolem_card_payments::emulator::start_in_process(&[])
        .await
        .unwrap();
    let (config, password3) = (emulator.robokassa_config(), emulator.robokassa_password3());
    let adapter = |api_url: String| -> Arc<dyn PaymentService> {
        service_for_with_refund_key(
            &ServiceConfig {
                api_url,
                ..config.clone()
            },
            Some(password3.clone()),
        )
        .unwrap()
        .into()
    };
    let gateway = support::start_with_card(CardPayments {
        service: Some(adapter(format!("{}/moved", emulator.url))),
        ..CardPayments::default()
    })
    .await;
    emulator
        .emulator
        .set_robokassa_result_url(format!("{}/api/card/robokassa/result", gateway.url));
    let fx = CardFixture {
        customer: Browser::new(&emulator.url),
        gateway,
        emulator,
    };
    let gateway = &fx.gateway;
    let phone = gateway.ready_phone(1).await;
    let invoice = charge_after_cancelling(&fx, &phone, Faults::default()).await;
    let worker = worker(gateway, gateway.card.clone());
    let alarms = "SELECT COUNT(*) FROM audit_log WHERE action = 'card.refund_stuck'";

    for _ in 0..9 {
        attempt(&worker).await;
    }
    assert_eq!(count(gateway, alarms).await, 0, "not yet");
    attempt(&worker).await;
    assert_eq!(count(gateway, alarms).await, 1, "the tenth attempt tells");
    let (subject, details, actor): (String, String, String) = sqlx::query_as(
        "SELECT subject, details, actor FROM audit_log WHERE action = 'card.refund_stuck'",
    )
    .fetch_one(&gateway.pool)
    .await
    .unwrap();
    assert_eq!(subject, format!("bill:{invoice}"));
    assert!(details.contains("HTTP 404"), "{details}");
    assert!(!details.contains("password"), "{details}");
    assert_eq!(actor, "system");
    for _ in 0..3 {
        attempt(&worker).await;
    }
    assert_eq!(count(gateway, alarms).await, 1, "told once");
    assert_eq!(refund_state(gateway).await, "pending", "still tried");
    assert!(fx.emulator.emulator.refunds().is_empty());

    // The address corrected: the refund goes through, with no more alarms.
    let healed = worker_on(gateway, adapter(fx.emulator.url.clone()));
    attempt(&healed).await;
    attempt(&healed).await;
    assert_eq!(refund_state(gateway).await, "done");
    assert_eq!(fx.emulator.emulator.refunds().len(), 1);
    assert_eq!(count(gateway, alarms).await, 1);
}

fn worker_on(gateway: &Gateway, service: Arc<dyn PaymentService>) -> Worker {
    worker(
        gateway,
        Arc::new(CardPayments {
            service: Some(service),
            ..CardPayments::default()
        }),
    )
}

/// TipTop Pay keeps the answer to an idempotency key for an hour. A refund it made whose answer
/// was lost, tried again after that hour, was taken as a second refund — refused, nothing
/// being left, and shown failed although the customer had the money. Now the payment is asked
/// first (`payments/get`): refunded, so the refund is done and not sent again.
#[tokio::test]
async fn a_tiptop_refund_whose_answer_was_lost_is_not_sent_twice() {
    let fx = card::start(Service::TipTop).await;
    let gateway = &fx.gateway;
    let phone = gateway.ready_phone(1).await;
    let faults = Faults {
        no_check: true,
        lose_refund_answers: 1,
        // The hour has passed by the time the refund is tried again.
        idempotency_window_ms: Some(0),
        ..Faults::default()
    };
    charge_after_cancelling(&fx, &phone, faults).await;
    let mut worker = worker(gateway, gateway.card.clone());
    // Past the time the service keeps its answers, as the attempt below is.
    worker.key_remembered = Duration::ZERO;

    attempt(&worker).await;
    assert_eq!(
        refund_state(gateway).await,
        "pending",
        "no answer came back"
    );
    assert_eq!(fx.emulator.emulator.refunds().len(), 1, "made all the same");
    attempt(&worker).await;
    assert_eq!(refund_state(gateway).await, "done");
    assert_eq!(fx.emulator.emulator.refunds().len(), 1, "not sent twice");
    assert_eq!(
        count(
            gateway,
            "SELECT COUNT(*) FROM audit_log WHERE action = 'card.refund_failed'"
        )
        .await,
        0
    );
}

/// Migration 0023 on a database in use: a refund already tried and still pending keeps being
/// tried, counted as the failures it had (an operator is told of one tried ten times already at
/// its next failure), and is looked for at the service before it is sent again — from the time
/// it was asked for, no later than its first attempt; one never tried has no first attempt.
#[tokio::test]
async fn refunds_pending_before_the_upgrade_keep_their_history() {
    use std::borrow::Cow;

    use sqlx::migrate::Migrator;
    use tolem_gateway::db::{self, MIGRATOR, bills, seed};

    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}/tolem.db", dir.path().display());
    let pool = db::connect(&url).await.unwrap();
    let before = Migrator {
        migrations: Cow::Owned(
            MIGRATOR
                .migrations
                .iter()
                .filter(|m| m.version <= 22)
                .cloned()
                .collect(),
        ),
        ..Migrator::DEFAULT
    };
    before.run(&pool).await.unwrap();
    seed::seed_demo(&pool).await.unwrap();
    let statements = [
        "INSERT INTO bills (invoice, point_code, session, dealer_code, state, created_at_ms, \
         expires_at_ms, updated_at_ms) \
         VALUES (7, 'P1001', 's7', 'D001', 'cancelled', 1, 2, 3), \
                (8, 'P1001', 's8', 'D001', 'cancelled', 1, 2, 3)",
        "INSERT INTO card_refunds (key, invoice, amount_tiyn, state, reason, attempts, \
         next_attempt_at_ms, requested_at_ms) \
         VALUES ('tolem-7-invoice', 7, 100, 'pending', 'not_settled', 11, 5, 1000), \
                ('tolem-8-invoice', 8, 100, 'pending', 'not_settled', 0, 5, 2000)",
    ];
    for statement in statements {
        sqlx::query(statement).execute(&pool).await.unwrap();
    }

    db::migrate(&pool, &url).await.unwrap();
    let mut conn = pool.acquire().await.unwrap();
    let tried = bills::refund_of(&mut conn, "tolem-7-invoice")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (
            tried.first_attempt_at_ms,
            tried.failed_attempts,
            tried.stuck_reported_at_ms
        ),
        (Some(1000), 11, None)
    );
    let untried = bills::refund_of(&mut conn, "tolem-8-invoice")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (untried.first_attempt_at_ms, untried.failed_attempts),
        (None, 0)
    );
}
