//! The rows of shift reports (migration 0012) and the payments a shift covers. Only reads and
//! writes; the rules are in [`super`].

use base64::{Engine, engine::general_purpose::STANDARD};
use sqlx::{AnyConnection, AnyPool, Row};
use tolem_protocol::shift::ShiftReport;

/// A report to store.
pub struct NewShift<'a> {
    pub point_code: &'a str,
    pub session: &'a str,
    pub dealer_code: &'a str,
    pub cashier_code: &'a str,
    pub key_serial: &'a str,
    pub report: &'a ShiftReport,
    pub report_json: &'a str,
    pub content_hash: &'a str,
    pub request_body: &'a [u8],
    pub request_signature: &'a str,
    pub received_at_ms: i64,
}

/// The content hash and receipt time of the report of `session` at `point`, if stored.
pub async fn find_hash(
    conn: &mut AnyConnection,
    point: &str,
    session: &str,
) -> Result<Option<(String, i64)>, sqlx::Error> {
    let row = sqlx::query(
        "SELECT content_hash, received_at_ms FROM shift_reports \
         WHERE point_code = $1 AND session = $2",
    )
    .bind(point)
    .bind(session)
    .fetch_optional(conn)
    .await?;
    row.map(|row| Ok((row.try_get(0)?, row.try_get(1)?)))
        .transpose()
}

pub async fn insert(conn: &mut AnyConnection, shift: &NewShift<'_>) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO shift_reports (point_code, session, dealer_code, cashier_code, key_serial, \
         opened_at_ms, closed_at_ms, cash_tiyn, report, content_hash, request_body, \
         request_signature, received_at_ms) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)",
    )
    .bind(shift.point_code)
    .bind(shift.session)
    .bind(shift.dealer_code)
    .bind(shift.cashier_code)
    .bind(shift.key_serial)
    .bind(shift.report.opened_at_ms)
    .bind(shift.report.closed_at_ms)
    .bind(shift.report.cash_tiyn)
    .bind(shift.report_json)
    .bind(shift.content_hash)
    .bind(STANDARD.encode(shift.request_body))
    .bind(shift.request_signature)
    .bind(shift.received_at_ms)
    .execute(conn)
    .await?;
    Ok(())
}

/// A stored report, as the console shows it.
#[derive(Debug, Clone)]
pub struct StoredShift {
    pub session: String,
    pub cashier_code: String,
    pub key_serial: String,
    pub report: ShiftReport,
    pub received_at_ms: i64,
}

/// The newest `limit` reports of `point`, newest shift first. A row whose figures no longer
/// read (never expected: they were checked before storing) is left out rather than failing the
/// page.
pub async fn of_point(
    pool: &AnyPool,
    point: &str,
    limit: i64,
) -> Result<Vec<StoredShift>, sqlx::Error> {
    let rows = sqlx::query(
        "SELECT session, cashier_code, key_serial, report, received_at_ms FROM shift_reports \
         WHERE point_code = $1 ORDER BY closed_at_ms DESC, session DESC LIMIT $2",
    )
    .bind(point)
    .bind(limit)
    .fetch_all(pool)
    .await?;
    let mut shifts = Vec::with_capacity(rows.len());
    for row in rows {
        let json: String = row.try_get(3)?;
        let Ok(report) = serde_json::from_str(&json) else {
            tracing::error!(%point, "a stored shift report does not read");
            continue;
        };
        shifts.push(StoredShift {
            session: row.try_get(0)?,
            cashier_code: row.try_get(1)?,
            key_serial: row.try_get(2)?,
            report,
            received_at_ms: row.try_get(4)?,
        });
    }
    Ok(shifts)
}

/// How many reports `point` has stored under `session` (0 or 1: tests and checks).
pub async fn count(pool: &AnyPool, point: &str, session: &str) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar("SELECT COUNT(*) FROM shift_reports WHERE point_code = $1 AND session = $2")
        .bind(point)
        .bind(session)
        .fetch_one(pool)
        .await
}

/// One payment a shift covers, as the gateway decided it.
pub struct ShiftPayment {
    pub provider: String,
    pub customer_amount_tiyn: i64,
    pub accepted: bool,
    pub refunded: bool,
    pub card: bool,
}

/// The payments of `key_serial` at `point` created in `[from_ms, to_ms)`. Read row by row (a
/// shift is a few hundred payments at most) so the grouping stays in Rust, the same on both
/// databases.
pub async fn payments_between(
    pool: &AnyPool,
    point: &str,
    key_serial: &str,
    from_ms: i64,
    to_ms: i64,
) -> Result<Vec<ShiftPayment>, sqlx::Error> {
    let rows = sqlx::query(
        "SELECT provider, customer_amount_tiyn, state, refunded_at_ms, method FROM payments \
         WHERE point_code = $1 AND key_serial = $2 AND created_at_ms >= $3 AND created_at_ms < $4",
    )
    .bind(point)
    .bind(key_serial)
    .bind(from_ms)
    .bind(to_ms)
    .fetch_all(pool)
    .await?;
    rows.into_iter()
        .map(|row| {
            let state: String = row.try_get(2)?;
            let refunded: Option<i64> = row.try_get(3)?;
            let method: String = row.try_get(4)?;
            Ok(ShiftPayment {
                provider: row.try_get(0)?,
                customer_amount_tiyn: row.try_get(1)?,
                accepted: state == "accepted",
                refunded: refunded.is_some(),
                card: method == "card",
            })
        })
        .collect()
}
