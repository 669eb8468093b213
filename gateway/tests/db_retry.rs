//! Write transactions that PostgreSQL aborts to break a deadlock (SQLSTATE 40P01) or a
//! serialization failure (40001) are run again by `db::retry`, and the outcome is as if each
//! had run alone: here two transactions lock two rows in opposite orders (what two gateways
//! paying for one dealer while another job touches the same rows can meet), PostgreSQL kills
//! one, and the retry lands both writes exactly once. Issue 15.
//!
//! PostgreSQL only (`TOLEM_TEST_POSTGRES_URL`, set by scripts/test.sh): SQLite never aborts a
//! transaction this way, its writers wait for the database's lock.

use std::sync::atomic::{AtomicU32, Ordering};

use sqlx::AnyPool;
use tokio::sync::Barrier;
use tolem_gateway::db::{
    self, begin_write,
    retry::{Conflict, DEADLOCK_DETECTED, retry},
};

/// The database of the PostgreSQL run, or `None` on the SQLite run.
async fn postgres() -> Option<AnyPool> {
    let Ok(url) = std::env::var("TOLEM_TEST_POSTGRES_URL") else {
        eprintln!("TOLEM_TEST_POSTGRES_URL is not set: the deadlock needs PostgreSQL; skipped");
        return None;
    };
    let pool = db::connect(&url).await.unwrap();
    for statement in [
        "DROP TABLE IF EXISTS retry_probe",
        "DROP TABLE IF EXISTS retry_writes",
        "CREATE TABLE retry_probe (id BIGINT PRIMARY KEY, v BIGINT NOT NULL)",
        "INSERT INTO retry_probe (id, v) VALUES (1, 0), (2, 0)",
        // One row per writer that committed: a write done twice would break its primary key.
        "CREATE TABLE retry_writes (writer TEXT PRIMARY KEY)",
    ] {
        sqlx::query(statement).execute(&pool).await.unwrap();
    }
    Some(pool)
}

/// One transaction of `writer`: adds 1 to row `first`, then (on its first attempt only, after
/// both writers hold their first row) to row `second`, and records itself.
async fn cross(
    pool: &AnyPool,
    writer: &str,
    first: i64,
    second: i64,
    barrier: &Barrier,
    attempts: &AtomicU32,
) -> Result<(), sqlx::Error> {
    let attempt = attempts.fetch_add(1, Ordering::SeqCst) + 1;
    let mut tx = begin_write(pool).await?;
    let add = "UPDATE retry_probe SET v = v + 1 WHERE id = $1";
    sqlx::query(add).bind(first).execute(&mut *tx).await?;
    if attempt == 1 {
        // Both hold one row and now ask for the other's: a lock cycle PostgreSQL must break.
        barrier.wait().await;
    }
    sqlx::query(add).bind(second).execute(&mut *tx).await?;
    sqlx::query("INSERT INTO retry_writes (writer) VALUES ($1)")
        .bind(writer)
        .execute(&mut *tx)
        .await?;
    tx.commit().await
}

async fn values(pool: &AnyPool) -> (Vec<i64>, i64) {
    let v = sqlx::query_scalar("SELECT v FROM retry_probe ORDER BY id")
        .fetch_all(pool)
        .await
        .unwrap();
    let writes = sqlx::query_scalar("SELECT COUNT(*) FROM retry_writes")
        .fetch_one(pool)
        .await
        .unwrap();
    (v, writes)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deadlock_is_retried_and_both_transactions_land_exactly_once() {
    let Some(pool) = postgres().await else { return };
    let barrier = Barrier::new(2);
    let (a_attempts, b_attempts) = (AtomicU32::new(0), AtomicU32::new(0));
    let (pool_ref, barrier_ref) = (&pool, &barrier);
    let (a, b) = tokio::join!(
        retry("writer a", || cross(
            pool_ref,
            "a",
            1,
            2,
            barrier_ref,
            &a_attempts
        )),
        retry("writer b", || cross(
            pool_ref,
            "b",
            2,
            1,
            barrier_ref,
            &b_attempts
        )),
    );
    a.expect("writer a, retried past the deadlock");
    b.expect("writer b, retried past the deadlock");
    let attempts = (
        a_attempts.load(Ordering::SeqCst),
        b_attempts.load(Ordering::SeqCst),
    );
    assert!(
        attempts == (1, 2) || attempts == (2, 1),
        "PostgreSQL aborted exactly one of them, which ran again: {attempts:?}"
    );
    assert_eq!(
        values(&pool).await,
        (vec![2, 2], 2),
        "each writer's two additions and its record, once"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_deadlock_is_recognised_as_a_transient_conflict() {
    let Some(pool) = postgres().await else { return };
    let barrier = Barrier::new(2);
    let (a_attempts, b_attempts) = (AtomicU32::new(0), AtomicU32::new(0));
    // Without the retry: one of them fails, with the error the helper classifies.
    let (a, b) = tokio::join!(
        cross(&pool, "a", 1, 2, &barrier, &a_attempts),
        cross(&pool, "b", 2, 1, &barrier, &b_attempts),
    );
    let failed = match (a, b) {
        (Err(error), Ok(())) | (Ok(()), Err(error)) => error,
        other => panic!("exactly one transaction should meet the deadlock: {other:?}"),
    };
    let code = match &failed {
        sqlx::Error::Database(error) => error.code().map(|c| c.into_owned()),
        _ => None,
    };
    assert_eq!(code.as_deref(), Some(DEADLOCK_DETECTED), "{failed}");
    assert!(failed.is_transient_conflict());
    assert_eq!(values(&pool).await, (vec![1, 1], 1), "the survivor only");
}

#[tokio::test]
async fn other_errors_are_not_retried() {
    let Some(pool) = postgres().await else { return };
    let attempts = AtomicU32::new(0);
    let outcome = retry("duplicate", || async {
        attempts.fetch_add(1, Ordering::SeqCst);
        sqlx::query("INSERT INTO retry_probe (id, v) VALUES (1, 0)")
            .execute(&pool)
            .await
            .map(drop)
    })
    .await;
    let error = outcome.expect_err("a unique violation stays an error");
    assert!(!error.is_transient_conflict(), "{error}");
    assert_eq!(attempts.load(Ordering::SeqCst), 1, "tried once");
}
