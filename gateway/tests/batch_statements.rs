//! A batch of statements (`db::batch`) answers each statement apart, binds each its own
//! values, and stops at the first that fails — whether SQLite runs the batch in one hand-off
//! or PostgreSQL (`TOLEM_TEST_POSTGRES_URL`) one statement after another — or, for a batch of
//! writes, as one statement. The payment writer writes a whole group this way (issue 14).

use sqlx::{AnyPool, Row};
use tolem_gateway::db::{self, batch::Batch};

/// A database with one table of its own, on PostgreSQL when `TOLEM_TEST_POSTGRES_URL` is set.
async fn database() -> (AnyPool, Option<tempfile::TempDir>) {
    let (url, dir) = match std::env::var("TOLEM_TEST_POSTGRES_URL") {
        Ok(url) => (url, None),
        Err(_) => {
            let dir = tempfile::tempdir().unwrap();
            (
                format!("sqlite://{}/batch.db", dir.path().display()),
                Some(dir),
            )
        }
    };
    let pool = db::connect(&url).await.unwrap();
    for statement in [
        "DROP TABLE IF EXISTS batch_probe_note",
        "DROP TABLE IF EXISTS batch_probe",
        "CREATE TABLE batch_probe (id BIGINT PRIMARY KEY, name TEXT NOT NULL, amount BIGINT \
         CHECK (amount >= 0))",
        "CREATE TABLE batch_probe_note (id BIGINT PRIMARY KEY REFERENCES batch_probe (id), \
         note TEXT NOT NULL)",
    ] {
        sqlx::query(statement).execute(&pool).await.unwrap();
    }
    (pool, dir)
}

#[tokio::test]
async fn each_statement_gets_its_own_values_and_its_own_answer() {
    let (pool, _dir) = database().await;
    let mut conn = pool.acquire().await.unwrap();
    let mut batch = Batch::new(&conn);
    let p = batch.placeholders();

    let (insert, mut binder) = batch.push(format!(
        "INSERT INTO batch_probe (id, name, amount) VALUES {}",
        p.values(3, 3)
    ));
    for (id, name, amount) in [
        (1_i64, "one", Some(100_i64)),
        (2, "two", None),
        (3, "three", Some(300)),
    ] {
        binder.bind(id).bind(name).bind(amount);
    }
    // Numbered in the text, each once and in order: a value wanted twice is bound twice.
    let (update, mut binder) = batch.push_fixed(
        "UPDATE batch_probe SET amount = amount + $1 WHERE amount + $2 > $3 RETURNING id",
    );
    binder.bind(5_i64).bind(5_i64).bind(200_i64);
    let (select, mut binder) =
        batch.push_fixed("SELECT id, name, amount FROM batch_probe WHERE id >= $1 ORDER BY id");
    binder.bind(2_i64);
    let (nothing, mut binder) = batch.push_fixed("DELETE FROM batch_probe WHERE id = $1");
    binder.bind(42_i64);
    assert_eq!(batch.len(), 4);

    let mut done = batch.run(&mut conn).await.unwrap();
    assert_eq!(done.len(), 4);

    let inserted = insert.take(&mut done);
    assert_eq!(inserted.rows_affected, 3);
    assert!(inserted.rows.is_empty());

    let updated = update.take(&mut done);
    assert_eq!(updated.rows_affected, 1, "only 300 + 5 is over 200");
    let ids: Vec<i64> = updated.rows.iter().map(|r| r.get("id")).collect();
    assert_eq!(ids, [3]);

    let selected = select.take(&mut done);
    let rows: Vec<(i64, String, Option<i64>)> = selected
        .rows
        .iter()
        .map(|r| (r.get("id"), r.get("name"), r.get("amount")))
        .collect();
    assert_eq!(
        rows,
        [
            (2, "two".to_owned(), None),
            (3, "three".to_owned(), Some(305))
        ],
        "the select sees the batch's earlier writes, with the values bound to it"
    );

    let deleted = nothing.take(&mut done);
    assert_eq!(deleted.rows_affected, 0);
    assert!(deleted.rows.is_empty());
}

#[tokio::test]
async fn a_failing_statement_fails_the_batch_and_its_transaction_keeps_nothing() {
    use sqlx::Connection;

    let (pool, _dir) = database().await;
    let mut conn = pool.acquire().await.unwrap();
    let mut tx = conn.begin().await.unwrap();
    let mut batch = Batch::new(&tx);
    let (_, mut binder) =
        batch.push_fixed("INSERT INTO batch_probe (id, name, amount) VALUES ($1, $2, $3)");
    binder.bind(1_i64).bind("first").bind(1_i64);
    // The same primary key again: refused.
    let (_, mut binder) =
        batch.push_fixed("INSERT INTO batch_probe (id, name, amount) VALUES ($1, $2, $3)");
    binder.bind(1_i64).bind("again").bind(2_i64);
    let (_, mut binder) =
        batch.push_fixed("INSERT INTO batch_probe (id, name, amount) VALUES ($1, $2, $3)");
    binder.bind(2_i64).bind("after").bind(3_i64);

    let error = batch
        .run(&mut tx)
        .await
        .err()
        .expect("a duplicate key is refused");
    assert!(
        error
            .as_database_error()
            .is_some_and(|e| e.is_unique_violation()),
        "the database's own error comes back: {error}"
    );
    tx.rollback().await.unwrap();

    let count: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM batch_probe")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(count, 0, "nothing of the batch was kept");
}

/// Writes of a group's kind: rows inserted beside the rows they refer to, a row moved, a write
/// that touches nothing — each counted apart, as the payment writer reads them.
async fn write_rows(pool: &AnyPool, moved: i64) -> Result<Vec<u64>, sqlx::Error> {
    use sqlx::Connection;

    let mut conn = pool.acquire().await?;
    let mut tx = conn.begin().await?;
    let mut batch = Batch::writes(&tx);
    let p = batch.placeholders();
    let (rows, mut binder) = batch.push(format!(
        "INSERT INTO batch_probe (id, name, amount) VALUES {}",
        p.values(2, 3)
    ));
    binder.bind(10_i64).bind("ten").bind(0_i64);
    binder.bind(11_i64).bind("eleven").bind(0_i64);
    // Refer to the rows just written: on PostgreSQL, written by the same statement.
    let (notes, mut binder) = batch.push(format!(
        "INSERT INTO batch_probe_note (id, note) VALUES {}",
        p.values(2, 2)
    ));
    binder.bind(10_i64).bind("ten").bind(11_i64).bind("eleven");
    let (moved_slot, mut binder) =
        batch.push_fixed("UPDATE batch_probe SET amount = amount + $1 WHERE id = $2");
    binder.bind(moved).bind(1_i64);
    let (nothing, mut binder) = batch.push_fixed("DELETE FROM batch_probe WHERE id = $1");
    binder.bind(42_i64);
    let mut done = batch.run(&mut tx).await?;
    tx.commit().await?;
    Ok([rows, notes, moved_slot, nothing]
        .into_iter()
        .map(|slot| slot.take(&mut done).rows_affected)
        .collect())
}

#[tokio::test]
async fn a_batch_of_writes_counts_each_write_and_keeps_all_or_nothing() {
    let (pool, _dir) = database().await;
    sqlx::query("INSERT INTO batch_probe (id, name, amount) VALUES (1, 'one', 100)")
        .execute(&pool)
        .await
        .unwrap();
    let total = || async {
        let row = sqlx::query(
            "SELECT (SELECT COUNT(*) FROM batch_probe) AS rows, \
             (SELECT COUNT(*) FROM batch_probe_note) AS notes, \
             (SELECT amount FROM batch_probe WHERE id = 1) AS amount",
        )
        .fetch_one(&pool)
        .await
        .unwrap();
        let figures: (i64, i64, i64) = (row.get("rows"), row.get("notes"), row.get("amount"));
        figures
    };

    // Moving the row below zero breaks its check: nothing of the batch is kept.
    let error = write_rows(&pool, -101)
        .await
        .expect_err("the check refuses it");
    assert!(
        error.as_database_error().is_some(),
        "the database's own error comes back: {error}"
    );
    assert_eq!(
        total().await,
        (1, 0, 100),
        "nothing of the failed batch was kept"
    );

    let counted = write_rows(&pool, -40).await.unwrap();
    assert_eq!(
        counted,
        [2, 2, 1, 0],
        "each write answers how many rows it touched"
    );
    assert_eq!(total().await, (3, 2, 60));
}
