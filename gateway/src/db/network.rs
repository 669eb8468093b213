//! The dealer network as the gateway reads it: dealers, their points and the points' cashiers.

use sqlx::{AnyPool, Row, any::AnyRow};
use tolem_protocol::messages::OfflineLimits;

/// A dealer: owns the money a point pays out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dealer {
    pub code: String,
    pub name: String,
    pub balance_tiyn: i64,
    pub active: bool,
    /// The largest single payment of any of its points; `None` = no limit.
    pub payment_limit_tiyn: Option<i64>,
    /// The most all its points together may pay per day; `None` = no limit.
    pub daily_limit_tiyn: Option<i64>,
}

/// A payment point and the limits its dealer set. The password hash is deliberately not here
/// (see [`point_password_hash`]) so a point can be logged or shown without it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Point {
    pub code: String,
    pub dealer_code: String,
    pub name: String,
    pub active: bool,
    /// The largest single payment; `None` = no limit.
    pub payment_limit_tiyn: Option<i64>,
    /// The most the point may pay per day; `None` = no limit.
    pub daily_limit_tiyn: Option<i64>,
    pub offline: OfflineLimits,
}

/// A cashier of a point.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cashier {
    pub point_code: String,
    pub code: String,
    pub name: String,
    pub active: bool,
}

const POINT_COLUMNS: &str = "code, dealer_code, name, active, payment_limit_tiyn, \
    daily_limit_tiyn, offline_max_payment_tiyn, offline_max_total_tiyn, offline_max_age_ms";

fn point_from_row(row: &AnyRow) -> Result<Point, sqlx::Error> {
    Ok(Point {
        code: row.try_get("code")?,
        dealer_code: row.try_get("dealer_code")?,
        name: row.try_get("name")?,
        active: row.try_get::<i64, _>("active")? != 0,
        payment_limit_tiyn: row.try_get("payment_limit_tiyn")?,
        daily_limit_tiyn: row.try_get("daily_limit_tiyn")?,
        offline: OfflineLimits {
            max_payment_tiyn: row.try_get("offline_max_payment_tiyn")?,
            max_total_tiyn: row.try_get("offline_max_total_tiyn")?,
            max_age_ms: row.try_get("offline_max_age_ms")?,
        },
    })
}

/// The dealer with this code.
pub async fn dealer(pool: &AnyPool, code: &str) -> Result<Option<Dealer>, sqlx::Error> {
    let row = sqlx::query(
        "SELECT code, name, balance_tiyn, active, payment_limit_tiyn, daily_limit_tiyn \
         FROM dealers WHERE code = $1",
    )
    .bind(code)
    .fetch_optional(pool)
    .await?;
    row.map(|row| {
        Ok(Dealer {
            code: row.try_get("code")?,
            name: row.try_get("name")?,
            balance_tiyn: row.try_get("balance_tiyn")?,
            active: row.try_get::<i64, _>("active")? != 0,
            payment_limit_tiyn: row.try_get("payment_limit_tiyn")?,
            daily_limit_tiyn: row.try_get("daily_limit_tiyn")?,
        })
    })
    .transpose()
}

/// The point with this code.
pub async fn point(pool: &AnyPool, code: &str) -> Result<Option<Point>, sqlx::Error> {
    let row = sqlx::query(&format!(
        "SELECT {POINT_COLUMNS} FROM points WHERE code = $1"
    ))
    .bind(code)
    .fetch_optional(pool)
    .await?;
    row.as_ref().map(point_from_row).transpose()
}

/// The points of a dealer, by code.
pub async fn points_of_dealer(
    pool: &AnyPool,
    dealer_code: &str,
) -> Result<Vec<Point>, sqlx::Error> {
    let rows = sqlx::query(&format!(
        "SELECT {POINT_COLUMNS} FROM points WHERE dealer_code = $1 ORDER BY code"
    ))
    .bind(dealer_code)
    .fetch_all(pool)
    .await?;
    rows.iter().map(point_from_row).collect()
}

/// The Argon2 hash of a point's password, for checking a key-card or registration request.
pub async fn point_password_hash(
    pool: &AnyPool,
    code: &str,
) -> Result<Option<String>, sqlx::Error> {
    sqlx::query_scalar("SELECT password_hash FROM points WHERE code = $1")
        .bind(code)
        .fetch_optional(pool)
        .await
}

/// Lets a point's certified keys make requests. Only the point's own dealer may; returns
/// whether a point of `dealer_code` was found.
pub async fn activate_point(
    pool: &AnyPool,
    code: &str,
    dealer_code: &str,
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query("UPDATE points SET active = 1 WHERE code = $1 AND dealer_code = $2")
        .bind(code)
        .bind(dealer_code)
        .execute(pool)
        .await?;
    Ok(done.rows_affected() == 1)
}

const CASHIER_COLUMNS: &str = "point_code, code, name, active";

fn cashier_from_row(row: &AnyRow) -> Result<Cashier, sqlx::Error> {
    Ok(Cashier {
        point_code: row.try_get("point_code")?,
        code: row.try_get("code")?,
        name: row.try_get("name")?,
        active: row.try_get::<i64, _>("active")? != 0,
    })
}

/// The cashier `code` of `point_code`.
pub async fn cashier(
    pool: &AnyPool,
    point_code: &str,
    code: &str,
) -> Result<Option<Cashier>, sqlx::Error> {
    let row = sqlx::query(&format!(
        "SELECT {CASHIER_COLUMNS} FROM cashiers WHERE point_code = $1 AND code = $2"
    ))
    .bind(point_code)
    .bind(code)
    .fetch_optional(pool)
    .await?;
    row.as_ref().map(cashier_from_row).transpose()
}

/// The cashier a new key card names: the point's first active one by code.
pub async fn first_active_cashier(
    pool: &AnyPool,
    point_code: &str,
) -> Result<Option<Cashier>, sqlx::Error> {
    let row = sqlx::query(&format!(
        "SELECT {CASHIER_COLUMNS} FROM cashiers WHERE point_code = $1 AND active = 1 \
         ORDER BY code LIMIT 1"
    ))
    .bind(point_code)
    .fetch_optional(pool)
    .await?;
    row.as_ref().map(cashier_from_row).transpose()
}
