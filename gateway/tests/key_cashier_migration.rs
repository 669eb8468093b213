//! Guards migration 0009 on a database that was already in use: every existing key is bound to
//! the cashier its card named, so after the upgrade a phone keeps paying as its own cashier and
//! no other.

use std::borrow::Cow;

use sqlx::migrate::Migrator;
use tolem_gateway::db::{self, MIGRATOR, seed};

#[tokio::test]
async fn existing_keys_take_their_cards_cashier() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}/tolem.db", dir.path().display());
    let pool = db::connect(&url).await.unwrap();

    // The database as it was before keys named a cashier: migrations up to 0008.
    let before = Migrator {
        migrations: Cow::Owned(
            MIGRATOR
                .migrations
                .iter()
                .filter(|m| m.version <= 8)
                .cloned()
                .collect(),
        ),
        ..Migrator::DEFAULT
    };
    before.run(&pool).await.unwrap();
    seed::seed_demo(&pool).await.unwrap();
    let statements = [
        "INSERT INTO cashiers (point_code, code, name, active, created_at_ms) \
         VALUES ('P1001', 'C2', 'Ерлан', 1, 1)",
        "INSERT INTO key_cards (serial, point_code, cashier_code, issued_at_ms) \
         VALUES ('P1001-1', 'P1001', 'C1', 1), ('P1001-2', 'P1001', 'C2', 1)",
        "INSERT INTO keys (serial, point_code, public_key, fingerprint, state, registered_at_ms) \
         VALUES ('P1001-1', 'P1001', 'key-one', 'f1', 'certified', 1), \
                ('P1001-2', 'P1001', 'key-two', 'f2', 'pending', 1)",
    ];
    for statement in statements {
        sqlx::query(statement).execute(&pool).await.unwrap();
    }

    db::migrate(&pool, &url).await.unwrap();
    let bound: Vec<(String, Option<String>)> =
        sqlx::query_as("SELECT serial, cashier_code FROM keys ORDER BY serial")
            .fetch_all(&pool)
            .await
            .unwrap();
    assert_eq!(
        bound,
        [
            ("P1001-1".to_owned(), Some("C1".to_owned())),
            ("P1001-2".to_owned(), Some("C2".to_owned())),
        ]
    );
}
