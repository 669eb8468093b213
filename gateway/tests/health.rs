//! Guards the database layer end to end on a real SQLite file: migrations apply (and re-apply
//! as a no-op), WAL is on, `/api/health` reports the database honestly, and the demo seed is
//! idempotent and stores passwords only as Argon2id hashes.

use axum::{
    Router,
    body::Body,
    http::{Request, StatusCode, header},
};
use http_body_util::BodyExt;
use serde_json::{Value, json};
use sqlx::AnyPool;
use tempfile::TempDir;
use tolem_gateway::{
    AppState, app,
    db::{self, seed},
    gateway_key::GatewayKey,
    password::verify_password_blocking,
};
use tower::ServiceExt;

/// A migrated database in a fresh directory (a nested one, to check it gets created).
async fn fresh_database() -> (TempDir, AnyPool) {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}/data/tolem.db", dir.path().display());
    let pool = db::connect(&url).await.unwrap();
    db::migrate(&pool, &url).await.unwrap();
    (dir, pool)
}

async fn get_json(app: Router, path: &str) -> (StatusCode, Option<String>, Value) {
    let request = Request::get(path).body(Body::empty()).unwrap();
    let response = app.oneshot(request).await.unwrap();
    let status = response.status();
    let cache = response
        .headers()
        .get(header::CACHE_CONTROL)
        .map(|v| v.to_str().unwrap().into());
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    (status, cache, serde_json::from_slice(&bytes).unwrap())
}

async fn count(pool: &AnyPool, table: &str) -> i64 {
    sqlx::query_scalar(&format!("SELECT COUNT(*) FROM {table}"))
        .fetch_one(pool)
        .await
        .unwrap()
}

#[tokio::test]
async fn health_is_ok_on_a_fresh_database() {
    let (dir, pool) = fresh_database().await;
    let state = AppState::new(
        pool.clone(),
        dir.path().join("dist"),
        GatewayKey::from_seed(&[1; 32]),
    );

    let before = db::now_ms();
    let (status, cache, mut body) = get_json(app(state), "/api/health").await;
    let after = db::now_ms();
    assert_eq!(status, StatusCode::OK);
    assert_eq!(cache.as_deref(), Some("no-store"));
    // The gateway's clock, so a phone whose clock is wrong learns it before signing anything.
    let gateway_time = body
        .as_object_mut()
        .and_then(|o| o.remove("gateway_time_ms"))
        .and_then(|t| t.as_i64())
        .expect("gateway_time_ms in the health answer");
    assert!(
        (before..=after).contains(&gateway_time),
        "{gateway_time} not in {before}..={after}"
    );
    assert_eq!(
        body,
        json!({"status": "ok", "version": env!("CARGO_PKG_VERSION"), "database": "ok", "protocol": tolem_protocol::PROTOCOL_VERSION})
    );

    let mode: String = sqlx::query_scalar("PRAGMA journal_mode")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(mode, "wal");
    // Running the migrations again is a no-op, as on every restart. (The URL argument is only
    // used in error messages.)
    db::migrate(&pool, "sqlite://test").await.unwrap();
    assert_eq!(count(&pool, "dealers").await, 0);
}

#[tokio::test]
async fn health_reports_an_unavailable_database() {
    let (dir, pool) = fresh_database().await;
    let state = AppState::new(
        pool.clone(),
        dir.path().join("dist"),
        GatewayKey::from_seed(&[1; 32]),
    );
    pool.close().await;

    let (status, _, body) = get_json(app(state), "/api/health").await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(body["status"], "degraded");
    assert_eq!(body["database"], "unavailable");
}

#[tokio::test]
async fn demo_seed_is_idempotent_and_hashes_passwords() {
    let (_dir, pool) = fresh_database().await;
    let demo = seed::seed_demo(&pool).await.unwrap();

    let tables = [
        "dealers",
        "points",
        "console_users",
        "providers",
        "cashiers",
    ];
    let mut first = Vec::new();
    for table in tables {
        first.push(count(&pool, table).await);
    }
    assert_eq!(first, [1, 1, 3, 7, 1]);
    let stored_hash = || {
        sqlx::query_scalar::<_, String>("SELECT password_hash FROM points WHERE code = $1")
            .bind(demo.point_code)
            .fetch_one(&pool)
    };
    let hash_before = stored_hash().await.unwrap();

    seed::seed_demo(&pool).await.unwrap();
    for (table, before) in tables.iter().zip(&first) {
        assert_eq!(count(&pool, table).await, *before, "{table}");
    }
    let hash = stored_hash().await.unwrap();
    assert_eq!(
        hash, hash_before,
        "a second seed must not replace the stored hash"
    );

    assert!(hash.starts_with("$argon2id$"), "{hash}");
    assert!(!hash.contains(demo.point_password));
    assert!(verify_password_blocking(demo.point_password, &hash).unwrap());
    assert!(!verify_password_blocking("tolem-demo-1002", &hash).unwrap());

    let balance: i64 = sqlx::query_scalar("SELECT balance_tiyn FROM dealers WHERE code = 'D001'")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(balance, 50_000_000, "500 000 tenge in tiyn");
    let admin_level: String =
        sqlx::query_scalar("SELECT access_level FROM console_users WHERE email = $1")
            .bind(demo.admin_email)
            .fetch_one(&pool)
            .await
            .unwrap();
    assert_eq!(admin_level, "full");
}

#[tokio::test]
async fn schema_rejects_what_it_must() {
    let (_dir, pool) = fresh_database().await;
    seed::seed_demo(&pool).await.unwrap();
    // A point of a dealer that does not exist: foreign keys are enforced on SQLite too.
    let orphan = sqlx::query(
        "INSERT INTO points (code, dealer_code, name, password_hash, created_at_ms) \
         VALUES ('P9', 'NOPE', 'x', 'x', 0)",
    )
    .execute(&pool)
    .await;
    assert!(orphan.is_err());
    // A balance may not go below zero.
    let overdrawn = sqlx::query("UPDATE dealers SET balance_tiyn = -1 WHERE code = 'D001'")
        .execute(&pool)
        .await;
    assert!(overdrawn.is_err());
}

/// A burst of payments can hold every serving connection while they queue for one dealer's
/// lock. The balancer's health check must still hear "ok" (busy is not dead), or it takes the
/// instance — and, in a burst, every instance — out of rotation.
#[tokio::test]
async fn health_answers_while_every_serving_connection_is_busy() {
    let (dir, _) = fresh_database().await;
    let url = format!("sqlite://{}/data/tolem.db", dir.path().display());
    let serving = sqlx::any::AnyPoolOptions::new()
        .max_connections(2)
        .acquire_timeout(std::time::Duration::from_millis(500))
        .connect(&url)
        .await
        .unwrap();
    let busy = (
        serving.acquire().await.unwrap(),
        serving.acquire().await.unwrap(),
    );
    let state = AppState::new(
        serving.clone(),
        dir.path().join("dist"),
        GatewayKey::from_seed(&[1; 32]),
    )
    .with_health_pool(db::connect_health(&url).await.unwrap());

    let (status, _, body) = get_json(app(state), "/api/health").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["database"], "ok");
    drop(busy);
}
