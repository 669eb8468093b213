//! Guards the operator's view of the audit trail over real HTTP: the operator reads every
//! party's rows (its own logins, each dealer's actions) and can narrow them to one dealer, with
//! the chain's state on the page when asked for (the walk reads every row) and a CSV; a dealer's
//! user and the operator's create-and-view users get 403 there; a dealer's user keeps seeing
//! only its own dealer's rows (the operator's actions on it included) on its own page.

mod support;

use reqwest::StatusCode;
use support::browser::{ADMIN, OPERATOR, OPERATOR_TOTP_SECRET, text_by_id};

#[tokio::test]
async fn the_operator_reads_the_whole_trail_and_a_dealer_only_its_own() {
    let gateway = support::start().await;
    // Rows of both parties: the dealer admin's and the operator's logins.
    let admin = gateway.console_session(ADMIN).await;
    let operator = gateway.console_session(OPERATOR).await;
    gateway
        .sql(
            "INSERT INTO dealers (code, name, balance_tiyn, active, created_at_ms) \
             VALUES ('D777', 'Другой дилер', 0, 1, 0)",
        )
        .await;
    tolem_gateway::audit::record(
        &gateway.pool,
        &tolem_gateway::audit::Actor::system(Some("D777")),
        &tolem_gateway::audit::Event {
            action: tolem_gateway::audit::Action::CommissionCredited,
            subject: "dealer:D777".into(),
            details: serde_json::json!({}),
        },
        support::now_ms(),
    )
    .await
    .unwrap();

    let (html, _) = gateway
        .console_page("/console/operator/audit?verify=1", &operator)
        .await;
    assert!(
        html.contains("data-ok=\"true\""),
        "the chain is verified: {html}"
    );
    assert!(html.contains(ADMIN.0), "the dealer admin's login is listed");
    assert!(
        html.contains(OPERATOR.0),
        "the operator's own login is listed"
    );
    assert!(
        html.contains("dealer:D777"),
        "another dealer's row is listed"
    );

    let (narrowed, _) = gateway
        .console_page("/console/operator/audit?dealer=D777", &operator)
        .await;
    assert!(narrowed.contains("dealer:D777"));
    assert!(!narrowed.contains(ADMIN.0), "only D777's rows: {narrowed}");
    let csv = gateway
        .console_get("/console/operator/audit.csv?dealer=D777", &operator)
        .await;
    assert_eq!(csv.status(), StatusCode::OK);
    let csv = csv.text().await.unwrap();
    assert!(
        csv.contains("commission.credited") && !csv.contains(ADMIN.0),
        "{csv}"
    );

    for path in ["/console/operator/audit", "/console/operator/audit.csv"] {
        let response = gateway.console_get(path, &admin).await;
        assert_eq!(response.status(), StatusCode::FORBIDDEN, "{path}");
    }
    let (own, _) = gateway.console_page("/console/audit", &admin).await;
    assert!(own.contains(ADMIN.0));
    // The operator's actions on this dealer (registering it, confirming its money) are in its
    // trail; other dealers' rows are not.
    assert!(!own.contains("dealer:D777"), "{own}");
}

/// The CSV is read a page at a time (2 000 rows) while it goes out: a trail of several pages
/// comes whole, oldest first, each row once.
#[tokio::test]
async fn a_trail_longer_than_a_page_is_exported_whole_in_order() {
    let gateway = support::start().await;
    let operator = gateway.console_session(OPERATOR).await;
    let last: i64 = sqlx::query_scalar("SELECT MAX(seq) FROM audit_log")
        .fetch_one(&gateway.pool)
        .await
        .unwrap();
    // Rows as an old, busy trail holds them (the export reads them; it does not verify them).
    gateway
        .sql(&format!(
            "INSERT INTO audit_log (seq, at_ms, actor, dealer_code, ip, action, subject, \
             details, prev_hash, hash) \
             WITH RECURSIVE numbers (n) AS \
             (SELECT 1 UNION ALL SELECT n + 1 FROM numbers WHERE n < 4500) \
             SELECT {last} + n, 1000 + n, 'system', 'D001', '-', 'test.row', 'row:' || n, '{{}}', \
             'x', 'y' FROM numbers"
        ))
        .await;
    let total: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM audit_log")
        .fetch_one(&gateway.pool)
        .await
        .unwrap();
    let csv = gateway
        .console_get("/console/operator/audit.csv", &operator)
        .await;
    assert_eq!(csv.status(), StatusCode::OK);
    let csv = csv.text().await.unwrap();
    let seqs: Vec<i64> = csv
        .split("\r\n")
        .skip(1)
        .filter(|line| !line.is_empty())
        .map(|line| line.split(',').next().unwrap().parse().unwrap())
        .collect();
    assert_eq!(seqs.len() as i64, total);
    assert!(
        seqs.windows(2).all(|w| w[0] < w[1]),
        "oldest first, once each"
    );
}

/// The operator's users of the create-and-view level see everything but the audit trail (the
/// console's access levels): the trail names every dealer's users and where they log in from.
#[tokio::test]
async fn a_create_and_view_operator_user_gets_403_on_the_trail() {
    let gateway = support::start().await;
    // A second operator user, create-and-view, with the demo operator's password and codes.
    gateway
        .sql(
            "INSERT INTO console_users (email, dealer_code, password_hash, access_level, \
             created_at_ms, totp_secret, totp_enrolled_at_ms) \
             SELECT 'viewer@tolem.demo', NULL, password_hash, 'create_view', 0, totp_secret, \
             totp_enrolled_at_ms FROM console_users WHERE email = 'operator@tolem.demo'",
        )
        .await;
    let code = gateway
        .code_of("viewer@tolem.demo", OPERATOR_TOTP_SECRET)
        .await;
    let response = gateway
        .login_with_code(("viewer@tolem.demo", OPERATOR.1), &code)
        .await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let viewer = response.headers()[reqwest::header::SET_COOKIE]
        .to_str()
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_owned();
    // The viewer is in: the operator's other pages open, and the menu offers no trail.
    let response = gateway
        .console_get("/console/operator/dealers", &viewer)
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    let html = response.text().await.unwrap();
    assert!(!html.contains("href=\"/console/operator/audit\""), "{html}");

    for path in [
        "/console/operator/audit",
        "/console/operator/audit?verify=1",
        "/console/operator/audit.csv",
        "/console/operator/audit.csv?dealer=D001",
    ] {
        let response = gateway.console_get(path, &viewer).await;
        assert_eq!(response.status(), StatusCode::FORBIDDEN, "{path}");
        let html = response.text().await.unwrap();
        assert!(!html.contains(ADMIN.0), "{path}: no row leaks: {html}");
        assert!(!html.contains("127.0.0.1"), "{path}: no IP leaks: {html}");
    }

    let operator = gateway.console_session(OPERATOR).await;
    let (html, _) = gateway
        .console_page("/console/operator/dealers", &operator)
        .await;
    assert!(html.contains("href=\"/console/operator/audit\""), "{html}");
    for path in ["/console/operator/audit", "/console/operator/audit.csv"] {
        let response = gateway.console_get(path, &operator).await;
        assert_eq!(response.status(), StatusCode::OK, "{path}");
    }
}

/// Walking the chain reads every row of every dealer: the operator's page does it when asked
/// (the button), not on every visit, and still names the first changed row.
#[tokio::test]
async fn the_operator_verifies_the_chain_when_asked() {
    let gateway = support::start().await;
    let operator = gateway.console_session(OPERATOR).await;

    let (html, _) = gateway
        .console_page("/console/operator/audit", &operator)
        .await;
    assert!(!html.contains("data-ok="), "not walked on a visit: {html}");
    assert!(
        html.contains("name=\"verify\" value=\"1\""),
        "a button asks for the walk: {html}"
    );

    let (html, _) = gateway
        .console_page("/console/operator/audit?verify=1", &operator)
        .await;
    assert!(html.contains("data-ok=\"true\""), "{html}");

    // Someone with write access changes the first row.
    let first: i64 = sqlx::query_scalar("SELECT MIN(seq) FROM audit_log")
        .fetch_one(&gateway.pool)
        .await
        .unwrap();
    gateway
        .sql(&format!(
            "UPDATE audit_log SET ip = '10.9.9.9' WHERE seq = {first}"
        ))
        .await;
    let (html, _) = gateway
        .console_page("/console/operator/audit?verify=1", &operator)
        .await;
    assert!(
        html.contains(&format!("data-ok=\"false\" data-seq=\"{first}\"")),
        "{html}"
    );
    let status = text_by_id(&html, "chain-status").unwrap();
    assert!(status.contains(&format!("seq {first}")), "{status}");
}
