//! Guards money in, the four-eyes way, and the operator's corrections over real HTTP: a dealer's
//! top-up request changes no balance until the operator confirms it with a one-time code;
//! confirming twice credits once and says so; a replayed code is refused; a reference already
//! asked for or credited is refused with its own message, keeping what was typed; a rejection's
//! reason shows on the dealer's money page; a dealer can no longer credit its own balance by
//! any route (the old top-up forms are gone, an old prepared top-up cannot be confirmed); a
//! correction needs a reason, moves the balance and the ledger together, cannot take more than
//! the balance, and is reversed once only; each action lands in the audit trail.

mod support;

use reqwest::StatusCode;
use support::{
    Gateway,
    browser::{ADMIN, CLERK, OPERATOR},
    payments::DEALER,
    top_ups::today,
};
use tolem_gateway::db::{now_ms, operations};

const TOP_UPS: &str = "/console/operator/top-ups";

async fn audit_count(gateway: &Gateway, action: &str) -> i64 {
    sqlx::query_scalar("SELECT COUNT(*) FROM audit_log WHERE action = $1")
        .bind(action)
        .fetch_one(&gateway.pool)
        .await
        .unwrap()
}

async fn request_state(gateway: &Gateway, id: &str) -> String {
    sqlx::query_scalar("SELECT state FROM top_up_requests WHERE id = $1")
        .bind(id)
        .fetch_one(&gateway.pool)
        .await
        .unwrap()
}

#[tokio::test]
async fn a_top_up_is_credited_only_when_the_operator_confirms_it_once() {
    let gateway = support::start().await;
    let balance = gateway.balance_of(DEALER).await;
    let admin = gateway.console_session(ADMIN).await;
    let operator = gateway.console_session(OPERATOR).await;

    let (html, _) = gateway.console_page("/console/money", &admin).await;
    assert!(html.contains("id=\"top-up-request\""), "{html}");
    let response = gateway.request_top_up(&admin, "10 000", "PP-500").await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let id = gateway.request_id(DEALER, "PP-500").await;
    assert_eq!(
        gateway.balance_of(DEALER).await,
        balance,
        "asked, not credited"
    );
    let (html, _) = gateway.console_page("/console/money", &admin).await;
    assert!(
        html.contains(&format!("data-request=\"{id}\" data-state=\"requested\"")),
        "{html}"
    );
    let (html, _) = gateway.console_page(TOP_UPS, &operator).await;
    assert!(
        html.contains(&format!("data-request=\"{id}\" data-state=\"requested\"")),
        "{html}"
    );
    assert!(html.contains("class=\"confirm-top-up\""), "{html}");
    assert!(html.contains("PP-500") && html.contains(ADMIN.0), "{html}");

    let response = gateway.confirm_top_up(&operator, &id).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(gateway.balance_of(DEALER).await, balance + 1_000_000);
    assert_eq!(request_state(&gateway, &id).await, "confirmed");
    assert_eq!(gateway.ledger_entries(DEALER, "top_up").await, 2);
    gateway.assert_ledger_matches(DEALER).await;

    // Confirmed again (a double click, a second operator): nothing more, and it says so.
    let response = gateway.confirm_top_up(&operator, &id).await;
    assert_eq!(response.status(), StatusCode::CONFLICT);
    let html = response.text().await.unwrap();
    assert!(html.contains("Заявка уже рассмотрена"), "{html}");
    assert_eq!(gateway.balance_of(DEALER).await, balance + 1_000_000);

    // A code used once is refused for the next request, which stays waiting.
    let response = gateway.request_top_up(&admin, "1", "PP-501").await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let response = gateway.request_top_up(&admin, "2", "PP-502").await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let (_, csrf) = gateway.console_page(TOP_UPS, &operator).await;
    let code = gateway.operator_code().await;
    let first = gateway.request_id(DEALER, "PP-501").await;
    let second = gateway.request_id(DEALER, "PP-502").await;
    let confirm = |id: String| {
        let (gateway, operator, csrf, code) = (&gateway, &operator, &csrf, &code);
        async move {
            gateway
                .console_post(
                    &format!("{TOP_UPS}/{id}/confirm"),
                    operator,
                    &[("csrf", csrf), ("otp", code)],
                )
                .await
        }
    };
    assert_eq!(confirm(first.clone()).await.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        confirm(second.clone()).await.status(),
        StatusCode::FORBIDDEN
    );
    assert_eq!(request_state(&gateway, &second).await, "requested");
    assert_eq!(gateway.balance_of(DEALER).await, balance + 1_000_100);

    // A reference asked for or credited already: its own message, what was typed kept —
    // typed again another way too (case, spaces, signs, an invisible character pasted along):
    // the operator's list would show two requests for one transfer, credited twice.
    for reference in ["PP-500", "PP-502", "pp 500", "№ PP-502", "PP\u{200b}-500"] {
        let response = gateway.request_top_up(&admin, "777", reference).await;
        assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
        let html = response.text().await.unwrap();
        assert!(
            html.contains("Платёж с таким номером уже заявлен или зачислен."),
            "{html}"
        );
        assert!(html.contains("value=\"777\""), "{html}");
        assert!(html.contains(&format!("value=\"{reference}\"")), "{html}");
    }
    // Other bad input: each refused with its message, nothing asked.
    let (_, dealer_csrf) = gateway.console_page("/console/money", &admin).await;
    for (amount, reference, paid_on, message) in [
        ("0", "PP-9", today(), "Top-up is an amount above zero"),
        ("abc", "PP-9", today(), "Top-up is an amount above zero"),
        ("5", "", today(), "Give the payment order number"),
        ("5", "PP-9", "2999-01-01".to_owned(), "not after today"),
        ("5", "PP-9", "yesterday".to_owned(), "not after today"),
    ] {
        let response = gateway
            .console_post(
                "/console/money/top-up-requests?lang=en",
                &admin,
                &[
                    ("csrf", &dealer_csrf),
                    ("amount", amount),
                    ("reference", reference),
                    ("paid_on", &paid_on),
                ],
            )
            .await;
        assert_eq!(
            response.status(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "{amount} {paid_on}"
        );
        let html = response.text().await.unwrap();
        assert!(
            html.to_lowercase().contains(&message.to_lowercase()),
            "{message}: {html}"
        );
        assert!(html.contains(&format!("value=\"{amount}\"")), "{html}");
    }
    let requests: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM top_up_requests")
        .fetch_one(&gateway.pool)
        .await
        .unwrap();
    // Three more than the demo seed's opening top-up.
    assert_eq!(requests, 4);

    assert_eq!(audit_count(&gateway, "top_up.requested").await, 4);
    // One more than the demo seed's opening top-up.
    assert_eq!(audit_count(&gateway, "money.top_up").await, 3);
    let trail: Option<String> = sqlx::query_scalar(
        "SELECT dealer_code FROM audit_log WHERE action = 'money.top_up' LIMIT 1",
    )
    .fetch_one(&gateway.pool)
    .await
    .unwrap();
    assert_eq!(trail.as_deref(), Some(DEALER), "in the dealer's trail");
}

#[tokio::test]
async fn a_rejection_and_its_reason_show_on_the_dealers_page() {
    let gateway = support::start().await;
    let balance = gateway.balance_of(DEALER).await;
    let clerk = gateway.console_session(CLERK).await;
    let operator = gateway.console_session(OPERATOR).await;
    let response = gateway.request_top_up(&clerk, "25 000,50", "PP-600").await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let id = gateway.request_id(DEALER, "PP-600").await;
    let (_, csrf) = gateway.console_page(TOP_UPS, &operator).await;
    let reject = |reason: &'static str| {
        let (gateway, operator, csrf, id) = (&gateway, &operator, &csrf, &id);
        async move {
            let code = gateway.operator_code().await;
            gateway
                .console_post(
                    &format!("{TOP_UPS}/{id}/reject"),
                    operator,
                    &[("csrf", csrf), ("reason", reason), ("otp", &code)],
                )
                .await
        }
    };
    // Without a reason: refused.
    let response = reject("  ").await;
    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(response.text().await.unwrap().contains("Укажите причину"));
    assert_eq!(request_state(&gateway, &id).await, "requested");

    let response = reject("Нет в выписке за этот день").await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(request_state(&gateway, &id).await, "rejected");
    assert_eq!(gateway.balance_of(DEALER).await, balance);
    let (html, _) = gateway.console_page("/console/money", &clerk).await;
    assert!(
        html.contains(&format!("data-request=\"{id}\" data-state=\"rejected\"")),
        "{html}"
    );
    assert!(html.contains("Нет в выписке за этот день"), "{html}");
    // A rejected one cannot be confirmed after all.
    let response = gateway.confirm_top_up(&operator, &id).await;
    assert_eq!(response.status(), StatusCode::CONFLICT);
    assert_eq!(gateway.balance_of(DEALER).await, balance);
    // The reference may be asked again (the amount corrected) and credited.
    gateway
        .top_up(DEALER, &clerk, &operator, "25 000,05", "PP-600")
        .await;
    assert_eq!(gateway.balance_of(DEALER).await, balance + 2_500_005);
    gateway.assert_ledger_matches(DEALER).await;
    assert_eq!(audit_count(&gateway, "top_up.rejected").await, 1);
}

#[tokio::test]
async fn a_dealer_can_no_longer_credit_its_own_balance() {
    let gateway = support::start().await;
    let balance = gateway.balance_of(DEALER).await;
    let admin = gateway.console_session(ADMIN).await;
    let (html, csrf) = gateway.console_page("/console/money", &admin).await;
    assert!(!html.contains("action=\"/console/money/top-up\""), "{html}");
    for path in ["/console/money/top-up", "/console/money/top-up/prepare"] {
        let response = gateway
            .confirmed_post(
                path,
                &admin,
                &csrf,
                &[("amount", "1000"), ("reference", "X-1")],
            )
            .await;
        assert!(
            response.status().is_client_error(),
            "{path}: {}",
            response.status()
        );
    }
    // A top-up prepared under the old rules cannot be confirmed by the dealer.
    let mut conn = gateway.pool.acquire().await.unwrap();
    let payload = operations::Payload::TopUp {
        amount_tiyn: 100_000,
        reference: "OLD-1".to_owned(),
    };
    let id = operations::prepare(&mut conn, DEALER, &payload, CLERK.0, now_ms())
        .await
        .unwrap();
    drop(conn);
    let (html, _) = gateway.console_page("/console/operations", &admin).await;
    assert!(html.contains(&format!("data-operation=\"{id}\"")), "{html}");
    assert!(!html.contains("class=\"confirm\""), "{html}");
    let response = gateway
        .confirmed_post(
            &format!("/console/operations/{id}/confirm"),
            &admin,
            &csrf,
            &[],
        )
        .await;
    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(gateway.balance_of(DEALER).await, balance);
    assert_eq!(gateway.ledger_entries(DEALER, "top_up").await, 1);
}

#[tokio::test]
async fn a_correction_needs_a_reason_and_is_reversed_once() {
    let gateway = support::start().await;
    let balance = gateway.balance_of(DEALER).await;
    let operator = gateway.console_session(OPERATOR).await;
    let page = format!("/console/operator/dealers/{DEALER}");
    let (html, csrf) = gateway.console_page(&page, &operator).await;
    assert!(html.contains("id=\"correction\""), "{html}");
    let correct = |amount: &'static str, reason: &'static str| {
        let (gateway, operator, csrf, page) = (&gateway, &operator, &csrf, &page);
        async move {
            let code = gateway.operator_code().await;
            gateway
                .console_post(
                    &format!("{page}/corrections"),
                    operator,
                    &[
                        ("csrf", csrf),
                        ("amount", amount),
                        ("reason", reason),
                        ("otp", &code),
                    ],
                )
                .await
        }
    };
    // No reason: refused, the amount kept.
    let response = correct("-1000", "").await;
    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let html = response.text().await.unwrap();
    assert!(html.contains("Укажите причину"), "{html}");
    assert!(html.contains("value=\"-1000\""), "{html}");
    // More than the balance: refused clearly.
    let response = correct("-9 999 999", "Ошибка").await;
    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let html = response.text().await.unwrap();
    assert!(
        html.contains("баланс не может стать отрицательным"),
        "{html}"
    );
    assert_eq!(gateway.balance_of(DEALER).await, balance);

    // A wrong one-time code: the form again with what was typed; only a fresh code is needed.
    let response = gateway
        .console_post(
            &format!("{page}/corrections"),
            &operator,
            &[
                ("csrf", &csrf),
                ("amount", "-1000"),
                ("reason", "Двойное зачисление 12.03"),
                ("otp", "12345"),
            ],
        )
        .await;
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    let html = response.text().await.unwrap();
    assert!(html.contains("Неверный одноразовый код"), "{html}");
    assert!(html.contains("value=\"-1000\""), "{html}");
    assert!(html.contains("Двойное зачисление 12.03"), "{html}");
    assert_eq!(gateway.balance_of(DEALER).await, balance);

    let response = correct("-1000", "Двойное зачисление 12.03").await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(gateway.balance_of(DEALER).await, balance - 100_000);
    assert_eq!(gateway.ledger_entries(DEALER, "correction").await, 1);
    gateway.assert_ledger_matches(DEALER).await;
    let (html, _) = gateway.console_page(&page, &operator).await;
    assert!(
        html.contains("data-correction=\"K1\" data-reversed=\"false\""),
        "{html}"
    );
    assert!(html.contains("Двойное зачисление 12.03"), "{html}");

    let reverse = || {
        let (gateway, operator, csrf, page) = (&gateway, &operator, &csrf, &page);
        async move {
            let code = gateway.operator_code().await;
            gateway
                .console_post(
                    &format!("{page}/corrections/K1/reverse"),
                    operator,
                    &[("csrf", csrf), ("reason", "Ошибочная"), ("otp", &code)],
                )
                .await
        }
    };
    // A wrong code on the reversal: its reason stays in its form.
    let response = gateway
        .console_post(
            &format!("{page}/corrections/K1/reverse"),
            &operator,
            &[("csrf", &csrf), ("reason", "Ошибочная"), ("otp", "12345")],
        )
        .await;
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    let html = response.text().await.unwrap();
    assert!(html.contains("value=\"Ошибочная\""), "{html}");
    assert!(html.contains("Неверный одноразовый код"), "{html}");
    assert_eq!(reverse().await.status(), StatusCode::SEE_OTHER);
    assert_eq!(gateway.balance_of(DEALER).await, balance);
    assert_eq!(gateway.ledger_entries(DEALER, "correction").await, 2);
    gateway.assert_ledger_matches(DEALER).await;
    // A second reversal does nothing and says so.
    let response = reverse().await;
    assert_eq!(response.status(), StatusCode::CONFLICT);
    assert!(response.text().await.unwrap().contains("уже сторнирована"));
    assert_eq!(gateway.balance_of(DEALER).await, balance);
    assert_eq!(gateway.ledger_entries(DEALER, "correction").await, 2);

    assert_eq!(audit_count(&gateway, "money.correction").await, 1);
    assert_eq!(audit_count(&gateway, "money.correction_reversed").await, 1);
}

/// One bank transfer asked for twice at the same moment, its reference typed two ways: the
/// second request waits for the first and is refused, so one transfer cannot be confirmed —
/// and credited — twice. (On SQLite writers take turns anyway; on PostgreSQL the second would
/// read the requests before the first committed.)
#[tokio::test]
async fn the_same_transfer_asked_for_twice_at_once_is_refused_once() {
    use tolem_gateway::{
        audit::Actor,
        db::begin_write,
        dealer::top_ups::{self, NewRequest, TopUpError},
        payments::business_date,
    };
    let gateway = support::start().await;
    let today = business_date(now_ms());
    let pool = gateway.pool.clone();
    let ask = move |reference: &'static str| {
        let pool = pool.clone();
        async move {
            let mut tx = begin_write(&pool).await.unwrap();
            let request = NewRequest {
                amount_tiyn: 5_000_000,
                bank_reference: reference,
                paid_on: today,
            };
            let asked =
                top_ups::request_in(&mut tx, &Actor::cli(), DEALER, &request, today, now_ms())
                    .await;
            (tx, asked)
        }
    };
    let (first, asked) = ask("PP-500").await;
    assert!(asked.is_ok(), "{asked:?}");
    let second = tokio::spawn(async move {
        let (tx, asked) = ask("pp 500").await;
        tx.commit().await.unwrap();
        asked.map(|_| ())
    });
    // The second runs until it waits for the first (PostgreSQL: a lock; SQLite: the write
    // lock before it begins) — or, wrongly, until it is done.
    if !gateway.database_url.starts_with("sqlite:") {
        let waiting = "SELECT COUNT(*) FROM pg_stat_activity \
                       WHERE datname = current_database() AND wait_event_type = 'Lock'";
        let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(30);
        while !second.is_finished() {
            let blocked: i64 = sqlx::query_scalar(waiting)
                .fetch_one(&gateway.pool)
                .await
                .unwrap();
            if blocked > 0 {
                break;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "the second never ran"
            );
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
    }
    first.commit().await.unwrap();
    assert!(matches!(
        second.await.unwrap(),
        Err(TopUpError::ReferenceUsed)
    ));
}
