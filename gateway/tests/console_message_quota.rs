//! Guards a point's letter quota in the dealer console: a full-access user sets it with a
//! one-time code (`form#message-quota`) and a phone's letter beyond the new quota gets 911;
//! the change is in the audit trail with the quota before and after; a number outside 1–1000
//! is refused (422) and changes nothing; a create-and-view user sees the number but no form
//! and cannot post it (403); another dealer's point is "not found".

mod support;

use reqwest::StatusCode;
use support::browser::{ADMIN, CLERK};
use tolem_protocol::{
    codes::ResultCode,
    messages::{Letter, Outcome, Step},
};

const PATH: &str = "/console/points/P1001/message-quota";

fn letter(text: &str) -> Step {
    Step::Message(Letter {
        to: "a@tolem.kz".into(),
        text: text.into(),
    })
}

async fn quota(gateway: &support::Gateway, point: &str) -> i64 {
    sqlx::query_scalar("SELECT messages_per_hour FROM points WHERE code = $1")
        .bind(point)
        .fetch_one(&gateway.pool)
        .await
        .unwrap()
}

#[tokio::test]
async fn a_new_quota_is_enforced_and_audited() {
    let gateway = support::start().await;
    let phone = gateway.ready_phone(1).await;
    let admin = gateway.console_session(ADMIN).await;
    let (html, csrf) = gateway.console_page("/console/points/P1001", &admin).await;
    assert!(html.contains("id=\"message-quota\""), "{html}");
    assert!(html.contains(&format!("action=\"{PATH}\"")), "{html}");
    assert!(html.contains("name=\"messages_per_hour\""), "{html}");
    assert_eq!(quota(&gateway, "P1001").await, 20, "the default");

    let response = gateway
        .confirmed_post(PATH, &admin, &csrf, &[("messages_per_hour", " 2 ")])
        .await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(quota(&gateway, "P1001").await, 2);
    let (html, _) = gateway.console_page("/console/points/P1001", &admin).await;
    assert!(
        html.contains("value=\"2\""),
        "the form shows the quota: {html}"
    );

    for text in ["первое", "второе"] {
        let reply = gateway.send(&phone, &phone.request(letter(text))).await;
        assert!(
            matches!(
                reply.response().outcome,
                Some(Outcome::MessageQueued { .. })
            ),
            "{}",
            reply.text()
        );
    }
    let third = gateway.send(&phone, &phone.request(letter("третье"))).await;
    assert_eq!(third.code(), ResultCode::TooManyMessages);

    let (actor, details): (String, String) = sqlx::query_as(
        "SELECT actor, details FROM audit_log WHERE action = 'point.message_quota' \
         AND subject = 'point:P1001'",
    )
    .fetch_one(&gateway.pool)
    .await
    .unwrap();
    assert_eq!(actor, ADMIN.0);
    let details: serde_json::Value = serde_json::from_str(&details).unwrap();
    assert_eq!(
        details,
        serde_json::json!({
            "before": { "messages_per_hour": 20 },
            "after": { "messages_per_hour": 2 },
        })
    );
}

#[tokio::test]
async fn bad_numbers_and_the_wrong_user_change_nothing() {
    let gateway = support::start().await;
    let admin = gateway.console_session(ADMIN).await;
    let (_, csrf) = gateway.console_page("/console/points/P1001", &admin).await;
    for bad in ["0", "1001", "-3", "", "много", "2.5"] {
        let response = gateway
            .confirmed_post(PATH, &admin, &csrf, &[("messages_per_hour", bad)])
            .await;
        assert_eq!(
            response.status(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "{bad:?}"
        );
        // The point's page again, the number typed kept and the reason beside it.
        let html = response.text().await.unwrap();
        assert!(html.contains("id=\"message-quota-error\""), "{html}");
        assert!(
            html.contains(&format!("value=\"{bad}\"")),
            "{bad:?}: {html}"
        );
    }
    assert_eq!(quota(&gateway, "P1001").await, 20);

    // A wrong one-time code: 403, nothing changed.
    let response = gateway
        .console_post(
            PATH,
            &admin,
            &[
                ("csrf", &csrf),
                ("otp", "000000"),
                ("messages_per_hour", "5"),
            ],
        )
        .await;
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    let html = response.text().await.unwrap();
    assert!(
        html.contains("id=\"message-quota-error\"") && html.contains("value=\"5\""),
        "the form again with what was typed: {html}"
    );
    assert_eq!(quota(&gateway, "P1001").await, 20);

    // Create and view: the number, no form, and a post is refused.
    let clerk = gateway.console_session(CLERK).await;
    let (html, clerk_csrf) = gateway.console_page("/console/points/P1001", &clerk).await;
    assert!(!html.contains("id=\"message-quota\""), "{html}");
    assert!(html.contains("id=\"message-quota-now\""), "{html}");
    let response = gateway
        .console_post(
            PATH,
            &clerk,
            &[
                ("csrf", &clerk_csrf),
                ("otp", "123456"),
                ("messages_per_hour", "5"),
            ],
        )
        .await;
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    assert_eq!(quota(&gateway, "P1001").await, 20);

    // Another dealer's point is not found, and keeps its quota.
    gateway
        .sql(
            "INSERT INTO dealers (code, name, balance_tiyn, created_at_ms) \
             VALUES ('D9', 'Other', 0, 1)",
        )
        .await;
    gateway
        .sql(
            "INSERT INTO points (code, dealer_code, name, password_hash, created_at_ms) \
             VALUES ('P9001', 'D9', 'Other point', 'x', 0)",
        )
        .await;
    let response = gateway
        .confirmed_post(
            "/console/points/P9001/message-quota",
            &admin,
            &csrf,
            &[("messages_per_hour", "5")],
        )
        .await;
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    assert_eq!(quota(&gateway, "P9001").await, 20);
}
