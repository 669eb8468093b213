//! Guards the deliveries in the console over real HTTP: a payment's page shows its delivery
//! (state, the provider's number, every attempt); the dealer's and the operator's lists show a
//! delayed delivery; *retry now* with the admin's code makes it due at once and is audited; the
//! operator marks a stuck delivery delivered with the provider's number (a dispute settled),
//! which the phone's `status` then reports; the operator marks refused, with a reason, a
//! delivery the provider never answers for good, and the dealer has its money back once; a
//! dealer's users get 403 on the operator's routes; a bad provider number is refused in the
//! user's language.

mod support;

use std::time::Duration;

use reqwest::StatusCode;
use support::{
    browser::{ADMIN, CLERK, OPERATOR, OPERATOR_TOTP_SECRET, text_of},
    delivery::{emulator, quick_retry},
    payments::{DEALER, kcell},
};
use tolem_protocol::{codes::ResultCode, messages::DeliveryState};

const THOUSAND: i64 = 100_000;

#[tokio::test]
async fn the_console_shows_deliveries_and_the_operator_settles_a_stuck_one() {
    let gateway = support::start().await;
    let phone = gateway.ready_phone(1).await;
    let provider = emulator(&["--open"]).await;
    gateway
        .connect_provider("kcell", &provider.url, 5_000)
        .await;
    gateway.start_delivery(quick_retry());

    // One delivered: its page shows the provider's number and the attempt.
    let (delivered, reply) = gateway.pay(&phone, kcell("7011234567", THOUSAND)).await;
    assert_eq!(reply.code(), ResultCode::Ok);
    let delivery = gateway
        .delivery_when(&phone, &delivered, Duration::from_secs(30), |d| {
            d.state.is_final()
        })
        .await;
    let admin = gateway.console_session(ADMIN).await;
    let page = format!("/console/payments/P1001/{}", delivered.session.as_str());
    let (html, _) = gateway.console_page(&page, &admin).await;
    assert!(html.contains("data-state=\"delivered\""), "{html}");
    assert!(
        html.contains(delivery.provider_txn.as_deref().unwrap()),
        "the provider's number on the page"
    );
    assert!(html.contains("class=\"attempt\""), "the attempt is listed");

    // One stuck: Beeline has no connection, so it waits; aged past the delay threshold.
    let mut beeline = kcell("7051234567", THOUSAND);
    beeline.provider = "beeline".into();
    let (stuck, reply) = gateway.pay(&phone, beeline).await;
    assert_eq!(reply.code(), ResultCode::Ok);
    let transaction = reply.receipt().transaction_id;
    gateway
        .delivery_when(&phone, &stuck, Duration::from_secs(30), |d| {
            d.state == DeliveryState::Retrying
        })
        .await;
    sqlx::query(
        "UPDATE deliveries SET queued_at_ms = queued_at_ms - 3600000 WHERE transaction_id = $1",
    )
    .bind(&transaction)
    .execute(&gateway.pool)
    .await
    .unwrap();
    let late = gateway
        .delivery_when(&phone, &stuck, Duration::from_secs(5), |d| d.delayed)
        .await;
    assert!(!late.state.is_final());
    let (html, csrf) = gateway.console_page("/console/deliveries", &admin).await;
    assert!(
        html.contains(&format!("data-transaction=\"{transaction}\"")),
        "the dealer's list shows the delayed delivery"
    );
    assert!(
        !html.contains("mark-delivered"),
        "only the operator marks deliveries"
    );

    // Retry now, with the admin's code: audited.
    let retried = gateway
        .confirmed_post(
            &format!("/console/deliveries/{transaction}/retry"),
            &admin,
            &csrf,
            &[("back", "/console/deliveries")],
        )
        .await;
    assert_eq!(retried.status(), StatusCode::SEE_OTHER);
    let audited: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM audit_log WHERE action = 'delivery.retried' AND subject = $1",
    )
    .bind(format!("payment:{transaction}"))
    .fetch_one(&gateway.pool)
    .await
    .unwrap();
    assert_eq!(audited, 1);

    // A dealer's users cannot reach the operator's list or actions.
    let clerk = gateway.console_session(CLERK).await;
    for cookie in [&admin, &clerk] {
        let response = gateway
            .console_get("/console/operator/deliveries", cookie)
            .await;
        assert_eq!(response.status(), StatusCode::FORBIDDEN);
    }

    // The operator: a bad number is refused in Russian; the right one settles it.
    let operator = gateway.console_session(OPERATOR).await;
    let (html, csrf) = gateway
        .console_page("/console/operator/deliveries", &operator)
        .await;
    assert!(html.contains(&format!("data-transaction=\"{transaction}\"")));
    // Each provider with its count above the list (one provider's outage cannot push another
    // provider's troubles off a list cut at a fixed length).
    assert!(
        html.contains("data-provider=\"beeline\" data-count=\"1\""),
        "{html}"
    );
    let mark = format!("/console/operator/deliveries/{transaction}/delivered");
    // A wrong code: the list again, the number typed kept on its row.
    let refused = gateway
        .console_post(
            &mark,
            &operator,
            &[
                ("csrf", &csrf),
                ("otp", "000000"),
                ("provider_txn", "BEE-778899"),
            ],
        )
        .await;
    assert_eq!(refused.status(), StatusCode::FORBIDDEN);
    assert!(
        refused
            .text()
            .await
            .unwrap()
            .contains("value=\"BEE-778899\""),
        "the number typed stays"
    );
    let code = gateway.code_of(OPERATOR.0, OPERATOR_TOTP_SECRET).await;
    let refused = gateway
        .console_post(
            &mark,
            &operator,
            &[
                ("csrf", &csrf),
                ("otp", &code),
                ("provider_txn", "no spaces please"),
            ],
        )
        .await;
    assert_eq!(refused.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let html = refused.text().await.unwrap();
    assert!(
        text_of(&html).contains("Номер у провайдера"),
        "the reason in Russian"
    );
    assert!(
        html.contains("value=\"no spaces please\""),
        "what was typed stays"
    );
    let code = gateway.code_of(OPERATOR.0, OPERATOR_TOTP_SECRET).await;
    let marked = gateway
        .console_post(
            &mark,
            &operator,
            &[
                ("csrf", &csrf),
                ("otp", &code),
                ("provider_txn", "BEE-778899"),
            ],
        )
        .await;
    assert_eq!(marked.status(), StatusCode::SEE_OTHER);
    let settled = gateway
        .delivery_when(&phone, &stuck, Duration::from_secs(5), |d| {
            d.state.is_final()
        })
        .await;
    assert_eq!(settled.state, DeliveryState::Delivered);
    assert_eq!(settled.provider_txn.as_deref(), Some("BEE-778899"));
    let audited: String = sqlx::query_scalar(
        "SELECT actor FROM audit_log WHERE action = 'delivery.marked' AND subject = $1",
    )
    .bind(format!("payment:{transaction}"))
    .fetch_one(&gateway.pool)
    .await
    .unwrap();
    assert_eq!(audited, OPERATOR.0);
}

#[tokio::test]
async fn the_operator_connects_a_provider_and_its_password_never_shows() {
    let gateway = support::start().await;
    let phone = gateway.ready_phone(1).await;
    let provider = emulator(&[
        "--open",
        "--username",
        "tolem",
        "--password",
        "s3cret-basic",
    ])
    .await;
    gateway.start_delivery(quick_retry());
    let operator = gateway.console_session(OPERATOR).await;
    let page = "/console/operator/providers/kcell/connection";
    let (html, csrf) = gateway.console_page(page, &operator).await;
    assert!(html.contains("data-connected=\"false\""));
    // An empty field means the running worker's own figure, and the page says which:
    // `quick_retry`'s 16, not the gateway's usual 32.
    assert!(
        places_field(&html).contains("placeholder=\"пусто: 16 (настройка шлюза)\""),
        "{}",
        places_field(&html)
    );

    // The form as the operator fills it, with the URL and the places in flight given, and a
    // fresh one-time code.
    let save = async |url: &str, in_flight_max: &str| {
        let code = gateway.code_of(OPERATOR.0, OPERATOR_TOTP_SECRET).await;
        gateway
            .console_post(
                page,
                &operator,
                &[
                    ("csrf", &csrf),
                    ("otp", &code),
                    ("url", url),
                    ("username", "tolem"),
                    ("password", "s3cret-basic"),
                    ("timeout_ms", "5000"),
                    ("in_flight_max", in_flight_max),
                ],
            )
            .await
    };

    // A URL that is not one is refused in Russian, keeping what was typed.
    let refused = save("provider.kz/osmp", "").await;
    assert_eq!(refused.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let html = refused.text().await.unwrap();
    assert!(text_of(&html).contains("http:// или https://"), "{html}");
    assert!(html.contains("provider.kz/osmp"), "what was typed stays");
    assert!(
        !html.contains("s3cret-basic"),
        "the password is never sent back"
    );

    // So is more payments on their way at once than there can be.
    let refused = save(&provider.url, "10 000").await;
    assert_eq!(refused.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let html = refused.text().await.unwrap();
    assert!(text_of(&html).contains("от 1 до 4096"), "{html}");
    assert!(html.contains("10 000"), "what was typed stays");

    let saved = save(&provider.url, "8").await;
    assert_eq!(saved.status(), StatusCode::SEE_OTHER);
    let (html, _) = gateway.console_page(page, &operator).await;
    assert!(html.contains("data-connected=\"true\""));
    assert!(!html.contains("s3cret-basic"));
    let field = places_field(&html);
    assert!(
        field.contains("value=\"8\""),
        "the contract's 8 at once shows: {field}"
    );
    let audited: String =
        sqlx::query_scalar("SELECT details FROM audit_log WHERE action = 'provider.connected'")
            .fetch_one(&gateway.pool)
            .await
            .unwrap();
    assert!(audited.contains("password_set") && !audited.contains("s3cret-basic"));
    assert!(audited.contains("\"in_flight_max\":8"), "{audited}");

    // The provider changed its password; the operator types the new one and a wrong code. The
    // form comes back without it (never sent back), asking for it again: left empty, it is
    // refused, not taken for "keep the stored one" (which the provider now refuses).
    let rotate = async |otp: &str, password: &str, retype: &str| {
        gateway
            .console_post(
                page,
                &operator,
                &[
                    ("csrf", &csrf),
                    ("otp", otp),
                    ("url", &provider.url),
                    ("username", "tolem"),
                    ("password", password),
                    ("password_retype", retype),
                    ("timeout_ms", "5000"),
                    ("in_flight_max", "8"),
                ],
            )
            .await
    };
    let refused = rotate("000000", "rotated-basic", "").await;
    assert_eq!(refused.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let html = refused.text().await.unwrap();
    assert!(html.contains("id=\"password-retype\""), "{html}");
    assert!(!html.contains("rotated-basic"));
    let code = gateway.code_of(OPERATOR.0, OPERATOR_TOTP_SECRET).await;
    let refused = rotate(&code, "", "1").await;
    assert_eq!(refused.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(text_of(&refused.text().await.unwrap()).contains("ещё раз"));

    // The emulator wants HTTP Basic: the payment goes through with the saved credentials.
    let (request, reply) = gateway.pay(&phone, kcell("7011234567", THOUSAND)).await;
    assert_eq!(reply.code(), ResultCode::Ok);
    let delivered = gateway
        .delivery_when(&phone, &request, Duration::from_secs(30), |d| {
            d.state.is_final()
        })
        .await;
    assert_eq!(delivered.state, DeliveryState::Delivered);
}

/// The connection form's field of the payments on their way at once, as served.
fn places_field(html: &str) -> &str {
    html.split("id=\"in_flight_max\"")
        .nth(1)
        .and_then(|rest| rest.split('>').next())
        .expect("the form has the field")
}

/// A delivery stuck retrying (its provider never answers for good) is marked refused by the
/// operator, with a reason and a one-time code: the dealer's balance has the payment back once,
/// the delivery is failed (the phone is told it was refunded), the audit trail says who and
/// why; a second submit changes nothing, and a dealer's user cannot do it.
#[tokio::test]
async fn the_operator_marks_a_delivery_that_never_ends_refused_and_the_money_goes_back_once() {
    let gateway = support::start().await;
    let phone = gateway.ready_phone(1).await;
    let before = gateway.balance_of(DEALER).await;
    // Beeline has no connection: its payment is tried, and waits, again and again.
    let worker = gateway.start_delivery(quick_retry());
    let mut beeline = kcell("7051234567", THOUSAND);
    beeline.provider = "beeline".into();
    let (stuck, reply) = gateway.pay(&phone, beeline).await;
    assert_eq!(reply.code(), ResultCode::Ok);
    let transaction = reply.receipt().transaction_id;
    gateway
        .delivery_when(&phone, &stuck, Duration::from_secs(30), |d| {
            d.state == DeliveryState::Retrying
        })
        .await;
    // No attempt in flight when the operator acts (one is refused: the provider may yet take
    // it): the worker stopped, its claim, if it held one, run out.
    worker.abort();
    let _ = worker.await;
    let started = std::time::Instant::now();
    loop {
        let (state, next): (String, i64) = sqlx::query_as(
            "SELECT state, next_attempt_at_ms FROM deliveries WHERE transaction_id = $1",
        )
        .bind(&transaction)
        .fetch_one(&gateway.pool)
        .await
        .unwrap();
        if state == "retrying" || next < support::now_ms() {
            break;
        }
        assert!(started.elapsed() < Duration::from_secs(10), "{state}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // Aged past the delay threshold: the list shows it.
    sqlx::query(
        "UPDATE deliveries SET queued_at_ms = queued_at_ms - 3600000 WHERE transaction_id = $1",
    )
    .bind(&transaction)
    .execute(&gateway.pool)
    .await
    .unwrap();
    assert_eq!(gateway.balance_of(DEALER).await, before - THOUSAND);
    let refuse = format!("/console/operator/deliveries/{transaction}/refused");

    // A dealer's full-access user cannot.
    let admin = gateway.console_session(ADMIN).await;
    let (_, admin_csrf) = gateway.console_page("/console/deliveries", &admin).await;
    let denied = gateway
        .confirmed_post(&refuse, &admin, &admin_csrf, &[("reason", "provider gone")])
        .await;
    assert_eq!(denied.status(), StatusCode::FORBIDDEN);

    // The operator: the form beside *mark delivered*; a reason is required.
    let operator = gateway.console_session(OPERATOR).await;
    let (html, csrf) = gateway
        .console_page("/console/operator/deliveries", &operator)
        .await;
    assert!(
        html.contains(&format!("action=\"{refuse}\"")),
        "the mark refused form: {html}"
    );
    let code = gateway.code_of(OPERATOR.0, OPERATOR_TOTP_SECRET).await;
    let refused = gateway
        .console_post(
            &refuse,
            &operator,
            &[("csrf", &csrf), ("otp", &code), ("reason", "   ")],
        )
        .await;
    assert_eq!(refused.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(text_of(&refused.text().await.unwrap()).contains("Причина"));
    assert_eq!(gateway.balance_of(DEALER).await, before - THOUSAND);

    let reason = "Beeline closed the gateway, settled by letter 17";
    let code = gateway.code_of(OPERATOR.0, OPERATOR_TOTP_SECRET).await;
    let marked = gateway
        .console_post(
            &refuse,
            &operator,
            &[("csrf", &csrf), ("otp", &code), ("reason", reason)],
        )
        .await;
    assert_eq!(marked.status(), StatusCode::SEE_OTHER);
    let settled = gateway
        .delivery_when(&phone, &stuck, Duration::from_secs(5), |d| {
            d.state.is_final()
        })
        .await;
    assert_eq!(settled.state, DeliveryState::Refunded);
    assert_eq!(gateway.deliveries_in("failed").await, 1);
    assert_eq!(gateway.balance_of(DEALER).await, before);
    assert_eq!(gateway.ledger_entries(DEALER, "refund").await, 1);
    gateway.assert_ledger_matches(DEALER).await;
    let audited = gateway
        .audit_rows("delivery.marked_refused", &format!("payment:{transaction}"))
        .await;
    assert_eq!(audited.len(), 1, "{audited:?}");
    assert_eq!(audited[0].0, OPERATOR.0);
    assert!(audited[0].1.contains(reason), "{audited:?}");

    // Again: nothing changes.
    let code = gateway.code_of(OPERATOR.0, OPERATOR_TOTP_SECRET).await;
    let again = gateway
        .console_post(
            &refuse,
            &operator,
            &[("csrf", &csrf), ("otp", &code), ("reason", reason)],
        )
        .await;
    assert_ne!(again.status(), StatusCode::SEE_OTHER);
    assert_eq!(gateway.balance_of(DEALER).await, before);
    assert_eq!(gateway.ledger_entries(DEALER, "refund").await, 1);
    let audited: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM audit_log WHERE action = 'delivery.marked_refused'",
    )
    .fetch_one(&gateway.pool)
    .await
    .unwrap();
    assert_eq!(audited, 1);
    gateway.assert_ledger_matches(DEALER).await;
}
