//! Guards the dealer's audit page: it checks the rows it shows (each row's hash against its
//! contents, a bounded amount of work) and says nothing of the chain as a whole — not its
//! length, not its head, not another dealer's broken row. Walking the whole chain reads every
//! dealer's rows; that is the operator's page's (when asked) and `verify-audit`'s job, and a
//! dealer's user reloading the page must not set it off.

mod support;

use support::browser::{ADMIN, text_by_id};
use tolem_gateway::audit::{self, Action, Actor, Event};

#[tokio::test]
async fn the_dealer_page_shows_no_figures_of_the_whole_chain() {
    let gateway = support::start().await;
    let admin = gateway.console_session(ADMIN).await;
    gateway
        .sql(
            "INSERT INTO dealers (code, name, balance_tiyn, active, created_at_ms) \
             VALUES ('D777', 'Другой дилер', 0, 1, 0)",
        )
        .await;
    // Another dealer's rows are the newest: the head of the chain is theirs.
    for _ in 0..3 {
        audit::record(
            &gateway.pool,
            &Actor::system(Some("D777")),
            &Event {
                action: Action::CommissionCredited,
                subject: "dealer:D777".into(),
                details: serde_json::json!({}),
            },
            support::now_ms(),
        )
        .await
        .unwrap();
    }
    let (head_seq, head_hash): (i64, String) =
        sqlx::query_as("SELECT head_seq, head_hash FROM audit_chain WHERE id = 1")
            .fetch_one(&gateway.pool)
            .await
            .unwrap();
    let total: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM audit_log")
        .fetch_one(&gateway.pool)
        .await
        .unwrap();

    let (html, _) = gateway.console_page("/console/audit", &admin).await;
    assert!(html.contains("data-ok=\"true\""), "its rows check: {html}");
    assert!(html.contains(ADMIN.0), "its own rows are listed");
    assert!(!html.contains(&head_hash), "no head of the chain: {html}");
    let status = text_by_id(&html, "chain-status").unwrap();
    assert!(!status.contains(&format!("seq {head_seq}")), "{status}");
    assert!(
        !status.contains(&format!(" {total} ")),
        "no count of every dealer's rows: {status}"
    );

    // Another dealer's row changed: the operator's walk finds it, but it is not this dealer's
    // page's to report (it would take walking every dealer's rows).
    gateway
        .sql(&format!(
            "UPDATE audit_log SET details = '{{\"x\":1}}' WHERE seq = {head_seq}"
        ))
        .await;
    let (html, _) = gateway.console_page("/console/audit", &admin).await;
    assert!(html.contains("data-ok=\"true\""), "{html}");
    assert!(
        !html.contains(&format!("data-seq=\"{head_seq}\"")),
        "{html}"
    );

    // One of its own rows changed: the page names it.
    let own: i64 = sqlx::query_scalar(
        "SELECT MAX(seq) FROM audit_log WHERE dealer_code = 'D001' AND action = 'login.ok'",
    )
    .fetch_one(&gateway.pool)
    .await
    .unwrap();
    gateway
        .sql(&format!(
            "UPDATE audit_log SET ip = '10.9.9.9' WHERE seq = {own}"
        ))
        .await;
    let (html, _) = gateway.console_page("/console/audit", &admin).await;
    assert!(
        html.contains(&format!("data-ok=\"false\" data-seq=\"{own}\"")),
        "{html}"
    );
}
