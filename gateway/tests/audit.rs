//! Guards the audit trail: console actions and key events from the API are written with who,
//! when, from where and what changed; the real `tolem-gateway verify-audit` binary passes an
//! untouched chain (exit 0) and names the first bad row when a stored row is changed, a row is
//! deleted or the newest rows are cut off (exit 1); the 5-year purge removes only old rows and
//! leaves the rest verifiable; full-access users see the chain's state and export the trail.

mod support;

use std::time::Duration;

use reqwest::StatusCode;
use support::{
    Gateway,
    browser::{ADMIN, text_of},
};
use tolem_gateway::{
    audit::{self, Action, Actor, Event, chain},
    db::now_ms,
};

/// Runs `tolem-gateway verify-audit` on the test's database: (exit code, stdout + stderr).
async fn verify_audit(gateway: &Gateway) -> (Option<i32>, String) {
    let mut command = support::binary();
    command
        .args(["verify-audit", "--database-url", &gateway.database_url])
        .env("RUST_LOG", "warn");
    let output = tokio::time::timeout(Duration::from_secs(60), command.output())
        .await
        .expect("verify-audit should finish")
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    (output.status.code(), text)
}

/// The rows after the first `after`.
async fn actions(gateway: &Gateway, after: i64) -> Vec<(i64, String, String, String)> {
    sqlx::query_as("SELECT seq, actor, action, ip FROM audit_log WHERE seq > $1 ORDER BY seq")
        .bind(after)
        .fetch_all(&gateway.pool)
        .await
        .unwrap()
}

/// How many rows the demo seed wrote (it makes its users, dealer and opening top-up through
/// the audited domain functions); the scenes' rows follow.
async fn seed_rows(gateway: &Gateway) -> i64 {
    sqlx::query_scalar("SELECT COUNT(*) FROM audit_log")
        .fetch_one(&gateway.pool)
        .await
        .unwrap()
}

/// A scene with console actions and key events, and the number of the demo seed's rows
/// before it.
async fn busy_gateway() -> (Gateway, i64) {
    let gateway = support::start().await;
    let base = seed_rows(&gateway).await;
    let phone = gateway.registered_phone(1).await;
    let cookie = gateway.console_session(ADMIN).await;
    let _ = gateway.login((ADMIN.0, "wrong password")).await;
    let (_, csrf) = gateway.keys_page(&cookie).await;
    let serial = phone.card.key_serial.clone();
    let response = gateway
        .confirmed_post(
            &format!("/console/keys/{serial}/certify"),
            &cookie,
            &csrf,
            &[],
        )
        .await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let response = gateway.request_top_up(&cookie, "100", "PP-9").await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    (gateway, base)
}

#[tokio::test]
async fn actions_and_key_events_are_recorded() {
    let (gateway, base) = busy_gateway().await;
    let rows = actions(&gateway, base).await;
    let names: Vec<&str> = rows
        .iter()
        .map(|(_, _, action, _)| action.as_str())
        .collect();
    assert_eq!(
        names,
        [
            "key.card_issued",
            "key.registered",
            "login.ok",
            "login.failed",
            "key.certified",
            "top_up.requested",
        ],
        "{rows:?}"
    );
    let seqs: Vec<i64> = rows.iter().map(|(seq, ..)| *seq).collect();
    assert_eq!(seqs, [1, 2, 3, 4, 5, 6].map(|n| base + n));
    assert_eq!(rows[0].1, "point:P1001");
    assert_eq!(rows[4].1, ADMIN.0);
    assert!(rows.iter().all(|(.., ip)| ip == "127.0.0.1"), "{rows:?}");
    let details: String =
        sqlx::query_scalar("SELECT details FROM audit_log WHERE action = 'key.certified'")
            .fetch_one(&gateway.pool)
            .await
            .unwrap();
    assert!(
        details.contains(r#""before":{"state":"pending"}"#)
            && details.contains(r#""after":{"state":"certified"}"#),
        "{details}"
    );

    // The audit page shows the trail and an intact chain; the CSV has every row.
    let cookie = gateway.console_session(ADMIN).await;
    let (html, _) = gateway.console_page("/console/audit", &cookie).await;
    assert!(html.contains("data-ok=\"true\""), "{}", text_of(&html));
    assert!(html.contains("data-action=\"key.certified\""));
    let response = gateway.console_get("/console/audit.csv", &cookie).await;
    assert_eq!(response.status(), StatusCode::OK);
    let csv = response.text().await.unwrap();
    assert!(
        csv.starts_with("\u{feff}seq,at_utc,at_ms,actor,ip,action"),
        "{csv}"
    );
    assert!(csv.contains(",key.certified,key:P1001-1,"), "{csv}");
}

#[tokio::test]
async fn a_changed_row_is_found_by_verify_audit() {
    let (gateway, base) = busy_gateway().await;
    let (code, output) = verify_audit(&gateway).await;
    assert_eq!(code, Some(0), "{output}");
    assert!(output.contains("audit chain OK"), "{output}");

    // Someone with write access makes the top-up request look smaller.
    gateway
        .sql(
            "UPDATE audit_log SET details = REPLACE(details, '10000', '100') \
             WHERE action = 'top_up.requested'",
        )
        .await;
    let (code, output) = verify_audit(&gateway).await;
    assert_eq!(code, Some(1), "{output}");
    assert!(output.contains(&format!("seq {}", base + 6)), "{output}");
    assert!(output.contains("was changed"), "{output}");

    // The console's audit page names the same row.
    let cookie = gateway.console_session(ADMIN).await;
    let (html, _) = gateway.console_page("/console/audit", &cookie).await;
    assert!(
        html.contains(&format!("data-ok=\"false\" data-seq=\"{}\"", base + 6)),
        "{html}"
    );
}

#[tokio::test]
async fn deleted_rows_are_found_too() {
    let (gateway, base) = busy_gateway().await;
    // A row in the middle, with the hashes of the rest recomputed is still a gap.
    gateway
        .sql(&format!("DELETE FROM audit_log WHERE seq = {}", base + 4))
        .await;
    let (code, output) = verify_audit(&gateway).await;
    assert_eq!(code, Some(1), "{output}");
    assert!(output.contains(&format!("seq {}", base + 5)), "{output}");

    // The newest row, cleanly cut off the end: the head no longer matches.
    let (gateway, base) = busy_gateway().await;
    gateway
        .sql(&format!("DELETE FROM audit_log WHERE seq = {}", base + 6))
        .await;
    let (code, output) = verify_audit(&gateway).await;
    assert_eq!(code, Some(1), "{output}");
    assert!(output.contains(&format!("seq {}", base + 6)), "{output}");
}

/// A check that began before rows were written (the gateway audits while an operator's check
/// runs) ends at the head it read, not reporting the chain cut short.
#[tokio::test]
async fn rows_written_while_a_check_runs_are_not_taken_for_tampering() {
    let gateway = support::start().await;
    let pool = &gateway.pool;
    let began = chain::ends(pool).await.unwrap();
    let event = Event {
        action: Action::PointBlocked,
        subject: "test".to_owned(),
        details: serde_json::json!({}),
    };
    let seq = audit::record(pool, &Actor::system(Some("D001")), &event, now_ms())
        .await
        .unwrap();
    let verified = chain::verify_to(pool, &began).await.unwrap();
    assert_eq!(verified.head_seq, seq - 1);
    assert_eq!(chain::verify(pool).await.unwrap().head_seq, seq);
}

#[tokio::test]
async fn the_purge_keeps_five_years_and_a_verifiable_chain() {
    // Without demo data: the trail starts with the old rows the test writes.
    let gateway = support::start_without_demo().await;
    let pool = &gateway.pool;
    let now = now_ms();
    let years = |n: i64| now - n * 366 * 24 * 60 * 60 * 1000;
    let event = |action| Event {
        action,
        subject: "test".to_owned(),
        details: serde_json::json!({}),
    };
    let actor = Actor::system(Some("D001"));
    for (action, at) in [
        (Action::PointRegistered, years(7)),
        (Action::PointActivated, years(6)),
        (Action::PointBlocked, years(4)),
    ] {
        audit::record(pool, &actor, &event(action), at)
            .await
            .unwrap();
    }
    audit::record(pool, &actor, &event(Action::PointUnblocked), now)
        .await
        .unwrap();

    assert_eq!(chain::purge_expired(pool, now).await.unwrap(), 2);
    let left: Vec<String> = sqlx::query_scalar("SELECT action FROM audit_log ORDER BY seq")
        .fetch_all(pool)
        .await
        .unwrap();
    assert_eq!(left, ["point.blocked", "point.unblocked", "audit.purged"]);
    let verified = chain::verify(pool).await.unwrap();
    assert_eq!((verified.anchor_seq, verified.rows), (2, 3));
    let (code, output) = verify_audit(&gateway).await;
    assert_eq!(code, Some(0), "{output}");
    // Nothing more to purge; a purged row put back is noticed.
    assert_eq!(chain::purge_expired(pool, now).await.unwrap(), 0);
    gateway
        .sql(
            "INSERT INTO audit_log (seq, at_ms, actor, ip, action, subject, details, prev_hash, hash) \
             VALUES (1, 0, 'x', '-', 'old.1', 'test', '{}', 'x', 'x')",
        )
        .await;
    let (code, output) = verify_audit(&gateway).await;
    assert_eq!(code, Some(1), "{output}");
    assert!(output.contains("seq 1"), "{output}");
}
