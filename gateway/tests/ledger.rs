//! Guards the dealer's money end to end: top-ups asked for by the dealer's users and credited
//! only when the operator confirms them (a bank reference used twice is refused), payments made by a real
//! phone over the signed API, rejections (32 duplicate, 21 insufficient funds) and the daily
//! commission run leave a balance that equals the sum of the ledger and a figure worked out by
//! hand below; the commission accrues per payment at the provider's rate, rounded down, and is
//! credited once however often the run is repeated; the daily statement reconciles.

mod support;

use reqwest::StatusCode;
use support::{
    Gateway,
    browser::{ADMIN, CLERK, OPERATOR},
    now_ms,
    payments::{DEALER, kcell},
};
use tolem_gateway::{commission, payments::business_date};
use tolem_protocol::codes::ResultCode;

const DAY_MS: i64 = 24 * 60 * 60 * 1000;

async fn ledger_count(gateway: &Gateway, kind: &str) -> i64 {
    gateway.ledger_entries(DEALER, kind).await
}

#[tokio::test]
async fn a_day_of_money_adds_up_to_the_hand_calculation() {
    let gateway = support::start().await;
    let phone = gateway.ready_phone(1).await;
    // Beeline pays the dealer 1.5 %; Kcell the default 1 %.
    gateway
        .sql("UPDATE providers SET dealer_commission_bp = 150 WHERE code = 'beeline'")
        .await;

    // 1. The demo dealer opened with 500 000 tenge; an operator's correction brings it to 5 000.
    assert_eq!(gateway.balance_of(DEALER).await, 50_000_000);
    gateway.set_balance(DEALER, 500_000).await;

    // 2. The admin asks for 10 000 tenge; nothing moves until the operator confirms.
    let admin = gateway.console_session(ADMIN).await;
    let (_, csrf) = gateway.console_page("/console/money", &admin).await;
    let operator = gateway.console_session(OPERATOR).await;
    let response = gateway.request_top_up(&admin, "10000", "PP-1001").await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(gateway.balance_of(DEALER).await, 500_000);
    let id = gateway.request_id(DEALER, "PP-1001").await;
    let response = gateway.confirm_top_up(&operator, &id).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    // The same bank reference again is refused, not credited twice.
    let response = gateway.request_top_up(&admin, "10000", "PP-1001").await;
    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);

    // 3. The create-and-view user asks for 5 000 tenge; the operator confirms.
    let clerk = gateway.console_session(CLERK).await;
    gateway
        .top_up(DEALER, &clerk, &operator, "5000", "PP-1002")
        .await;
    assert_eq!(gateway.balance_of(DEALER).await, 2_000_000);

    // 4. Payments from the phone: two accepted, a duplicate (32), one too big (21).
    let (_, reply) = gateway.pay(&phone, kcell("7011234567", 100_000)).await;
    assert_eq!(reply.code(), ResultCode::Ok);
    let mut beeline = kcell("7051234567", 250_050);
    beeline.provider = "beeline".into();
    let (_, reply) = gateway.pay(&phone, beeline).await;
    assert_eq!(reply.code(), ResultCode::Ok);
    let (_, reply) = gateway.pay(&phone, kcell("7011234567", 100_000)).await;
    assert_eq!(reply.code(), ResultCode::Duplicate);
    let (_, reply) = gateway.pay(&phone, kcell("7017654321", 2_500_000)).await;
    assert_eq!(reply.code(), ResultCode::InsufficientFunds);

    // Accrued in real time: 1 % of 1 000.00 = 10.00; 1.5 % of 2 500.50 = 37.5075 → 37.50.
    let (html, _) = gateway.console_page("/console/money", &admin).await;
    assert!(
        html.contains("id=\"accrued-today\" data-tiyn=\"4750\""),
        "{html}"
    );

    // 5. Today's commission is not credited today; after the day it is, once.
    let now = now_ms();
    let today = commission::credit_finished_days(&gateway.pool, None, now)
        .await
        .unwrap();
    assert!(today.is_empty(), "{today:?}");
    // A day after, and the grace after the day's end: crediting waits for that.
    let tomorrow = now + DAY_MS + commission::GRACE_MS;
    let credited = commission::credit_finished_days(&gateway.pool, None, tomorrow)
        .await
        .unwrap();
    assert_eq!(credited.len(), 1);
    assert_eq!(
        (credited[0].commission_tiyn, credited[0].payments),
        (4_750, 2)
    );
    let again = commission::credit_finished_days(&gateway.pool, None, tomorrow + 1)
        .await
        .unwrap();
    assert!(again.is_empty(), "a day is credited once: {again:?}");
    assert_eq!(ledger_count(&gateway, "commission").await, 1);
    // The console's button runs the same, idempotent, function.
    let response = gateway
        .console_post("/console/money/commission", &admin, &[("csrf", &csrf)])
        .await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(ledger_count(&gateway, "commission").await, 1);

    // The hand calculation, in tiyn.
    let expected = 50_000_000 // opening top-up of the demo dealer
        - 49_500_000 // correction to 5 000 tenge
        + 1_000_000 // top-up PP-1001
        + 500_000 // top-up PP-1002, asked by the clerk
        - 100_000 // Kcell 1 000.00
        - 250_050 // Beeline 2 500.50
        + 1_000 // commission 1 % of 1 000.00
        + 3_750; // commission 1.5 % of 2 500.50, rounded down
    assert_eq!(expected, 1_654_700);
    assert_eq!(gateway.balance_of(DEALER).await, expected);
    assert_eq!(gateway.ledger_sum(DEALER).await, expected);
    assert_eq!(ledger_count(&gateway, "payment").await, 2);
    assert_eq!(ledger_count(&gateway, "top_up").await, 3);
    assert_eq!(gateway.payments_in("rejected").await, 2);

    // Today's statement reconciles: everything but the commission, which the run credited
    // "tomorrow" (the time it ran) and which tomorrow's statement therefore shows.
    let statement = |day: String| {
        let (gateway, admin) = (&gateway, &admin);
        async move {
            let (html, _) = gateway
                .console_page(&format!("/console/money/statement?day={day}"), admin)
                .await;
            assert!(html.contains("data-reconciles=\"true\""), "{html}");
            html
        }
    };
    let html = statement(business_date(now).to_string()).await;
    for (figure, tiyn) in [
        ("opening", 0),
        ("top_ups", 51_500_000),
        ("payments", -350_050),
        ("commission", 0),
        ("corrections", -49_500_000),
        ("closing", expected - 4_750),
    ] {
        let shown = format!("id=\"statement-{figure}\" data-tiyn=\"{tiyn}\"");
        assert!(html.contains(&shown), "{shown}: {html}");
    }
    assert!(
        html.contains("id=\"statement-accrued\" data-tiyn=\"4750\""),
        "{html}"
    );
    let html = statement(business_date(tomorrow).to_string()).await;
    for (figure, tiyn) in [
        ("opening", expected - 4_750),
        ("commission", 4_750),
        ("closing", expected),
    ] {
        let shown = format!("id=\"statement-{figure}\" data-tiyn=\"{tiyn}\"");
        assert!(html.contains(&shown), "{shown}: {html}");
    }
}

/// Today's statement of a busy dealer is read while payments keep coming: every read must
/// reconcile. The opening, the closing and the sums of each kind were once three reads, and an
/// entry written between them showed the dealer a red "does not reconcile" for a ledger that
/// was fine.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_statement_reconciles_while_entries_are_written() {
    use std::sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    };
    use tolem_gateway::{
        db::ledger::{self, LedgerKind, NewEntry, Posted},
        payments::{BUSINESS_DAY_MS, business_day_of},
    };

    const READS: usize = 200;
    let gateway = support::start().await;
    // Every entry is written at one moment of today, so each lands inside today's statement
    // whenever the test runs.
    let at = now_ms();
    let start = business_day_of(business_date(at));
    let end = start + BUSINESS_DAY_MS;

    // The writer posts until told to stop and counts its entries, top-ups and payments in
    // turn (the demo dealer's 500 000 tenge cover every payment).
    let stop = Arc::new(AtomicBool::new(false));
    let (posted_tx, mut posted) = tokio::sync::watch::channel(0_u64);
    let writer = tokio::spawn({
        let (pool, stop) = (gateway.pool.clone(), stop.clone());
        async move {
            let mut count = 0_u64;
            while !stop.load(Ordering::Relaxed) {
                let reference = format!("busy-{count}");
                let (kind, amount_tiyn) = if count.is_multiple_of(2) {
                    (LedgerKind::TopUp, 1_000)
                } else {
                    (LedgerKind::Payment, -700)
                };
                let entry = NewEntry {
                    dealer_code: DEALER,
                    kind,
                    amount_tiyn,
                    reference: &reference,
                    point_code: None,
                    created_at_ms: at,
                };
                let done = ledger::post(&pool, &entry).await.unwrap();
                assert!(matches!(done, Posted::Done { .. }), "{done:?}");
                count += 1;
                posted_tx.send_replace(count);
            }
        }
    });

    for read in 0..READS {
        // Each read starts only once the writer has posted again since the last one, so the
        // writer is busy around every read, however the two tasks are scheduled.
        posted.changed().await.unwrap();
        let statement = ledger::statement(&gateway.pool, DEALER, start, end)
            .await
            .unwrap();
        assert!(
            statement.reconciles(),
            "read {read} of {READS} does not reconcile: {statement:?}"
        );
    }
    stop.store(true, Ordering::Relaxed);
    writer.await.unwrap();
    let posted = *posted.borrow();
    assert!(posted >= READS as u64, "{posted} entries for {READS} reads");

    // Once quiet, the statement ends where the ledger does.
    let statement = ledger::statement(&gateway.pool, DEALER, start, end)
        .await
        .unwrap();
    assert!(statement.reconciles(), "{statement:?}");
    assert_eq!(statement.closing_tiyn, gateway.ledger_sum(DEALER).await);
}
