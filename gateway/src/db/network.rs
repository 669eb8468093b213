//! The dealer network: dealers, their points and the points' cashiers — as the protocol reads
//! them, and as the dealer console registers, blocks and configures them.
//!
//! The console's changes run on a connection the caller gives (its transaction, which also
//! writes the audit row) and are limited to the caller's dealer: another dealer's point is
//! "not found", never changed.

use serde::{Deserialize, Serialize};
use sqlx::{AnyConnection, AnyPool, Row, any::AnyRow};
use tolem_protocol::messages::{DealerDetails, OfflineLimits};

use super::{
    batch::{Batch, Slot},
    columns::Columns,
};

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
    /// How its cashiers reach its support (free text, may be empty).
    pub contact: String,
    /// Its business identification number (empty when the operator has given none).
    pub bin: String,
    /// Its legal address (may be empty).
    pub legal_address: String,
}

impl Dealer {
    /// The dealer as its points' payment documents name it.
    pub fn details(&self) -> DealerDetails {
        DealerDetails {
            name: self.name.clone(),
            bin: self.bin.clone(),
            legal_address: self.legal_address.clone(),
        }
    }
}

/// A payment point and the limits its dealer set. The password hash is deliberately not here
/// (see [`point_password`]) so a point can be logged or shown without it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Point {
    pub code: String,
    pub dealer_code: String,
    pub name: String,
    pub address: String,
    pub working_hours: String,
    pub active: bool,
    /// When the dealer blocked it; `None` with `active == false` = not activated yet.
    pub blocked_at_ms: Option<i64>,
    /// The largest single payment; `None` = no limit.
    pub payment_limit_tiyn: Option<i64>,
    /// The most the point may pay per day; `None` = no limit.
    pub daily_limit_tiyn: Option<i64>,
    pub offline: OfflineLimits,
    pub created_at_ms: i64,
    /// The most signed letters its phones may send in any hour (more get 911).
    pub messages_per_hour: i64,
}

impl Point {
    /// The point's limits, as the console edits them.
    pub fn limits(&self) -> Limits {
        Limits {
            payment_limit_tiyn: self.payment_limit_tiyn,
            daily_limit_tiyn: self.daily_limit_tiyn,
            offline: self.offline.clone(),
        }
    }
}

/// What a point may pay: online per payment and per day, and offline (sent on the key card).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Limits {
    /// `None` = no limit.
    pub payment_limit_tiyn: Option<i64>,
    /// `None` = no limit.
    pub daily_limit_tiyn: Option<i64>,
    pub offline: OfflineLimits,
}

/// A point being registered in the console.
#[derive(Debug, Clone)]
pub struct NewPoint<'a> {
    pub dealer_code: &'a str,
    pub name: &'a str,
    pub address: &'a str,
    pub working_hours: &'a str,
    /// Argon2 PHC string of the password handed to the cashier.
    pub password_hash: &'a str,
    /// The point's first cashier (the key card names one).
    pub cashier_name: &'a str,
    pub now_ms: i64,
}

/// The state the console moves a point (or a cashier) to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Switch {
    /// A new point starts working (after its key was certified).
    Activate,
    /// Stop it: its phones' requests are refused (53, 54 for a cashier).
    Block,
    /// Let a blocked one work again.
    Unblock,
}

/// A cashier of a point.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cashier {
    pub point_code: String,
    pub code: String,
    pub name: String,
    pub active: bool,
}

pub(crate) const POINT_COLUMNS: &str = "code, dealer_code, name, address, working_hours, active, \
    blocked_at_ms, payment_limit_tiyn, daily_limit_tiyn, offline_max_payment_tiyn, \
    offline_max_total_tiyn, offline_max_age_ms, created_at_ms, messages_per_hour";

fn point_from_row(row: &AnyRow) -> Result<Point, sqlx::Error> {
    point_from(Columns::of(row))
}

/// A point from its columns (alone, or its part of a joined row).
pub(crate) fn point_from(row: Columns<'_>) -> Result<Point, sqlx::Error> {
    Ok(Point {
        code: row.get("code")?,
        dealer_code: row.get("dealer_code")?,
        name: row.get("name")?,
        address: row.get("address")?,
        working_hours: row.get("working_hours")?,
        active: row.get::<i64>("active")? != 0,
        blocked_at_ms: row.get("blocked_at_ms")?,
        payment_limit_tiyn: row.get("payment_limit_tiyn")?,
        daily_limit_tiyn: row.get("daily_limit_tiyn")?,
        offline: OfflineLimits {
            max_payment_tiyn: row.get("offline_max_payment_tiyn")?,
            max_total_tiyn: row.get("offline_max_total_tiyn")?,
            max_age_ms: row.get("offline_max_age_ms")?,
        },
        created_at_ms: row.get("created_at_ms")?,
        messages_per_hour: row.get("messages_per_hour")?,
    })
}

pub(crate) const DEALER_COLUMNS: &str = "code, name, balance_tiyn, active, payment_limit_tiyn, \
    daily_limit_tiyn, contact, bin, legal_address";

/// A dealer from its columns (alone, or its part of a joined row).
pub(crate) fn dealer_from(row: Columns<'_>) -> Result<Dealer, sqlx::Error> {
    Ok(Dealer {
        code: row.get("code")?,
        name: row.get("name")?,
        balance_tiyn: row.get("balance_tiyn")?,
        active: row.get::<i64>("active")? != 0,
        payment_limit_tiyn: row.get("payment_limit_tiyn")?,
        daily_limit_tiyn: row.get("daily_limit_tiyn")?,
        contact: row.get("contact")?,
        bin: row.get::<Option<String>>("bin")?.unwrap_or_default(),
        legal_address: row.get("legal_address")?,
    })
}

/// The dealer with this code.
pub async fn dealer<'e>(
    executor: impl sqlx::Executor<'e, Database = sqlx::Any>,
    code: &str,
) -> Result<Option<Dealer>, sqlx::Error> {
    let row = sqlx::query(&format!(
        "SELECT {DEALER_COLUMNS} FROM dealers WHERE code = $1"
    ))
    .bind(code)
    .fetch_optional(executor)
    .await?;
    row.as_ref()
        .map(|row| dealer_from(Columns::of(row)))
        .transpose()
}

/// The point with this code.
pub async fn point<'e>(
    executor: impl sqlx::Executor<'e, Database = sqlx::Any>,
    code: &str,
) -> Result<Option<Point>, sqlx::Error> {
    let row = sqlx::query(&format!(
        "SELECT {POINT_COLUMNS} FROM points WHERE code = $1"
    ))
    .bind(code)
    .fetch_optional(executor)
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

/// A point's password as stored, for checking a key-card or registration request.
#[derive(Clone, Debug)]
pub struct PointPassword {
    /// The Argon2 hash (PHC string).
    pub hash: String,
    /// Whether a key was already registered with it: a password enrols one key.
    pub used: bool,
}

/// The password of point `code`, if the point exists.
pub async fn point_password(
    pool: &AnyPool,
    code: &str,
) -> Result<Option<PointPassword>, sqlx::Error> {
    let row = sqlx::query("SELECT password_hash, password_used_at_ms FROM points WHERE code = $1")
        .bind(code)
        .fetch_optional(pool)
        .await?;
    row.map(|row| {
        Ok(PointPassword {
            hash: row.try_get("password_hash")?,
            used: row
                .try_get::<Option<i64>, _>("password_used_at_ms")?
                .is_some(),
        })
    })
    .transpose()
}

/// Marks the point's password used by a key registration, inside the registration's write
/// transaction. `false` when it was already used: a parallel registration with the same
/// password got there first, and this one must not stand.
pub async fn use_point_password(
    conn: &mut AnyConnection,
    code: &str,
    now_ms: i64,
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(
        "UPDATE points SET password_used_at_ms = $2 \
         WHERE code = $1 AND password_used_at_ms IS NULL",
    )
    .bind(code)
    .bind(now_ms)
    .execute(conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// The point `code` if it belongs to `dealer_code`.
pub async fn point_of_dealer(
    conn: &mut AnyConnection,
    code: &str,
    dealer_code: &str,
) -> Result<Option<Point>, sqlx::Error> {
    let row = sqlx::query(&format!(
        "SELECT {POINT_COLUMNS} FROM points WHERE code = $1 AND dealer_code = $2"
    ))
    .bind(code)
    .bind(dealer_code)
    .fetch_optional(conn)
    .await?;
    row.as_ref().map(point_from_row).transpose()
}

/// The next number of counter `name` (1 the first time), inside the caller's transaction.
pub async fn next_number(conn: &mut AnyConnection, name: &str) -> Result<i64, sqlx::Error> {
    next_numbers(conn, name, 1).await
}

/// Takes the next `count` (at least 1) numbers of the counter `name` at once, inside the
/// caller's transaction: the numbers are `first ..= first + count - 1`, and `first` is returned.
/// One statement however many are taken (the delivery claims number a whole batch).
pub async fn next_numbers(
    conn: &mut AnyConnection,
    name: &str,
    count: i64,
) -> Result<i64, sqlx::Error> {
    debug_assert!(count >= 1);
    let mut batch = Batch::new(conn);
    let slot = next_numbers_into(&mut batch, name, count);
    let mut done = batch.run(conn).await?;
    let last: i64 = slot
        .take(&mut done)
        .scalar()?
        .ok_or(sqlx::Error::RowNotFound)?;
    Ok(last - count + 1)
}

/// [`next_numbers`] as a statement of `batch`; it returns the counter's new value (`value`),
/// the last number taken.
pub fn next_numbers_into<'q>(batch: &mut Batch<'q>, name: &'q str, count: i64) -> Slot {
    let (slot, mut binder) = batch.push_fixed(
        "INSERT INTO counters (name, value) VALUES ($1, $2) \
         ON CONFLICT (name) DO UPDATE SET value = counters.value + $3 RETURNING value",
    );
    binder.bind(name).bind(count).bind(count);
    slot
}

/// Registers a point (inactive, like every new point) with its first cashier `C1`; returns
/// its code, `P<1000 + n>`, skipping codes already taken (the demo's `P1001`, imported ones).
pub async fn register_point(
    conn: &mut AnyConnection,
    point: &NewPoint<'_>,
) -> Result<String, sqlx::Error> {
    loop {
        let code = format!("P{}", 1000 + next_number(&mut *conn, "point").await?);
        let inserted = sqlx::query(
            "INSERT INTO points (code, dealer_code, name, address, working_hours, \
             password_hash, active, created_at_ms) VALUES ($1, $2, $3, $4, $5, $6, 0, $7) \
             ON CONFLICT DO NOTHING",
        )
        .bind(&code)
        .bind(point.dealer_code)
        .bind(point.name)
        .bind(point.address)
        .bind(point.working_hours)
        .bind(point.password_hash)
        .bind(point.now_ms)
        .execute(&mut *conn)
        .await?;
        if inserted.rows_affected() == 1 {
            insert_cashier(
                &mut *conn,
                &code,
                "C1",
                point.cashier_name,
                true,
                point.now_ms,
            )
            .await?;
            return Ok(code);
        }
    }
}

/// Moves a point of `dealer_code` to `switch`'s state; returns whether it was in a state that
/// allows it (activate: new; block: not blocked; unblock: blocked).
pub async fn switch_point(
    conn: &mut AnyConnection,
    code: &str,
    dealer_code: &str,
    switch: Switch,
    now_ms: i64,
) -> Result<bool, sqlx::Error> {
    let (set, when) = match switch {
        Switch::Activate => (
            "active = 1, blocked_at_ms = NULL",
            "active = 0 AND blocked_at_ms IS NULL",
        ),
        Switch::Block => ("active = 0, blocked_at_ms = $3", "blocked_at_ms IS NULL"),
        Switch::Unblock => (
            "active = 1, blocked_at_ms = NULL",
            "blocked_at_ms IS NOT NULL",
        ),
    };
    let sql = format!("UPDATE points SET {set} WHERE code = $1 AND dealer_code = $2 AND {when}");
    let mut query = sqlx::query(&sql).bind(code).bind(dealer_code);
    if switch == Switch::Block {
        query = query.bind(now_ms);
    }
    Ok(query.execute(conn).await?.rows_affected() == 1)
}

/// Sets a point's limits; returns whether a point of `dealer_code` was found.
pub async fn set_limits(
    conn: &mut AnyConnection,
    code: &str,
    dealer_code: &str,
    limits: &Limits,
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(
        "UPDATE points SET payment_limit_tiyn = $3, daily_limit_tiyn = $4, \
         offline_max_payment_tiyn = $5, offline_max_total_tiyn = $6, offline_max_age_ms = $7 \
         WHERE code = $1 AND dealer_code = $2",
    )
    .bind(code)
    .bind(dealer_code)
    .bind(limits.payment_limit_tiyn)
    .bind(limits.daily_limit_tiyn)
    .bind(limits.offline.max_payment_tiyn)
    .bind(limits.offline.max_total_tiyn)
    .bind(limits.offline.max_age_ms)
    .execute(conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Sets how many signed letters a point may send per hour; returns whether a point of
/// `dealer_code` was found.
pub async fn set_message_quota(
    conn: &mut AnyConnection,
    code: &str,
    dealer_code: &str,
    per_hour: i64,
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(
        "UPDATE points SET messages_per_hour = $3 WHERE code = $1 AND dealer_code = $2",
    )
    .bind(code)
    .bind(dealer_code)
    .bind(per_hour)
    .execute(conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Replaces a point's password hash with a new, unused password; returns whether a point of
/// `dealer_code` was found.
pub async fn set_point_password(
    conn: &mut AnyConnection,
    code: &str,
    dealer_code: &str,
    password_hash: &str,
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(
        "UPDATE points SET password_hash = $3, password_used_at_ms = NULL \
         WHERE code = $1 AND dealer_code = $2",
    )
    .bind(code)
    .bind(dealer_code)
    .bind(password_hash)
    .execute(conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

pub(crate) const CASHIER_COLUMNS: &str = "point_code, code, name, active";

fn cashier_from_row(row: &AnyRow) -> Result<Cashier, sqlx::Error> {
    cashier_from(Columns::of(row))
}

/// A cashier from their columns (alone, or their part of a joined row).
pub(crate) fn cashier_from(row: Columns<'_>) -> Result<Cashier, sqlx::Error> {
    Ok(Cashier {
        point_code: row.get("point_code")?,
        code: row.get("code")?,
        name: row.get("name")?,
        active: row.get::<i64>("active")? != 0,
    })
}

/// The cashier `code` of `point_code`.
pub async fn cashier<'e>(
    executor: impl sqlx::Executor<'e, Database = sqlx::Any>,
    point_code: &str,
    code: &str,
) -> Result<Option<Cashier>, sqlx::Error> {
    let row = sqlx::query(&format!(
        "SELECT {CASHIER_COLUMNS} FROM cashiers WHERE point_code = $1 AND code = $2"
    ))
    .bind(point_code)
    .bind(code)
    .fetch_optional(executor)
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

/// The cashiers of a point, by code.
pub async fn cashiers_of_point(
    pool: &AnyPool,
    point_code: &str,
) -> Result<Vec<Cashier>, sqlx::Error> {
    let rows = sqlx::query(&format!(
        "SELECT {CASHIER_COLUMNS} FROM cashiers WHERE point_code = $1 ORDER BY created_at_ms, code"
    ))
    .bind(point_code)
    .fetch_all(pool)
    .await?;
    rows.iter().map(cashier_from_row).collect()
}

async fn insert_cashier(
    conn: &mut AnyConnection,
    point_code: &str,
    code: &str,
    name: &str,
    active: bool,
    now_ms: i64,
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(
        "INSERT INTO cashiers (point_code, code, name, active, created_at_ms) \
         VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING",
    )
    .bind(point_code)
    .bind(code)
    .bind(name)
    .bind(i16::from(active))
    .bind(now_ms)
    .execute(conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Registers a cashier of a point of `dealer_code`, `active` or not, under the next free code
/// `C<n>`; returns the code, or `None` when the point is not the dealer's.
pub async fn register_cashier(
    conn: &mut AnyConnection,
    point_code: &str,
    dealer_code: &str,
    name: &str,
    active: bool,
    now_ms: i64,
) -> Result<Option<String>, sqlx::Error> {
    let ours: Option<String> =
        sqlx::query_scalar("SELECT code FROM points WHERE code = $1 AND dealer_code = $2")
            .bind(point_code)
            .bind(dealer_code)
            .fetch_optional(&mut *conn)
            .await?;
    if ours.is_none() {
        return Ok(None);
    }
    let existing: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM cashiers WHERE point_code = $1")
        .bind(point_code)
        .fetch_one(&mut *conn)
        .await?;
    let mut number = existing + 1;
    loop {
        let code = format!("C{number}");
        if insert_cashier(&mut *conn, point_code, &code, name, active, now_ms).await? {
            return Ok(Some(code));
        }
        number += 1;
    }
}

/// Blocks (`active = false`) or unblocks a cashier of a point of `dealer_code`; returns
/// whether it was found in the other state.
pub async fn set_cashier_active(
    conn: &mut AnyConnection,
    point_code: &str,
    dealer_code: &str,
    code: &str,
    active: bool,
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(
        "UPDATE cashiers SET active = $4 WHERE point_code = $1 AND code = $3 AND active <> $4 \
         AND point_code IN (SELECT code FROM points WHERE dealer_code = $2)",
    )
    .bind(point_code)
    .bind(dealer_code)
    .bind(code)
    .bind(i64::from(active))
    .execute(conn)
    .await?;
    Ok(done.rows_affected() == 1)
}
