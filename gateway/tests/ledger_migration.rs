//! Guards migration 0003 on a database that was already in use: every dealer's balance becomes
//! an opening ledger entry (so the balance equals the sum of the ledger from then on), and the
//! demo seed afterwards neither adds a second opening entry nor touches the balance.

use std::borrow::Cow;

use sqlx::migrate::Migrator;
use tolem_gateway::db::{self, MIGRATOR, ledger, seed};

#[tokio::test]
async fn existing_balances_become_opening_entries() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}/tolem.db", dir.path().display());
    let pool = db::connect(&url).await.unwrap();

    // The database as it was before payments: migrations 0001 and 0002 only.
    let before_payments = Migrator {
        migrations: Cow::Owned(MIGRATOR.migrations[..2].to_vec()),
        ..Migrator::DEFAULT
    };
    before_payments.run(&pool).await.unwrap();
    for (code, balance) in [("D001", 12_345_600), ("D002", 0)] {
        sqlx::query(
            "INSERT INTO dealers (code, name, balance_tiyn, created_at_ms) VALUES ($1, $1, $2, 1)",
        )
        .bind(code)
        .bind(balance)
        .execute(&pool)
        .await
        .unwrap();
    }

    db::migrate(&pool, &url).await.unwrap();
    let (id, kind, amount, after): (String, String, i64, i64) = sqlx::query_as(
        "SELECT id, kind, amount_tiyn, balance_after_tiyn FROM ledger_entries \
         WHERE dealer_code = 'D001'",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(
        (id.as_str(), kind.as_str(), amount, after),
        ("top_up:opening-D001", "top_up", 12_345_600, 12_345_600)
    );
    assert_eq!(ledger::sum(&pool, "D002").await.unwrap(), 0);

    // The demo dealer exists already: seeding keeps its balance and its single opening entry.
    seed::seed_demo(&pool).await.unwrap();
    assert_eq!(ledger::sum(&pool, "D001").await.unwrap(), 12_345_600);
    let entries: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM ledger_entries")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(entries, 1);
}
