//! The day's accepted sums of each point and each dealer, as the daily limits count them: the
//! accepted payments received on one business day that were not refunded since (migration
//! 0014 says why a table and not a sum over the day's payments).
//!
//! A sum moves in the transaction that moves the money, so it always agrees with the payments:
//! up by [`add_all_into`] when a group of payments is written ([`crate::payments::group_state`]),
//! down by [`take_back_in`] when a payment is marked refunded (the provider refused it, or its
//! card payment was refunded from the console).
//!
//! ## Order of locks (PostgreSQL)
//! A sum's row is written only by a transaction that already holds its dealer's row: a group
//! locks its dealers first, and a refund posts its ledger entry (which moves the dealer's
//! balance) before [`take_back_in`]. Taken the other way round, a refund holding a sum's row
//! while it waits for the dealer's, and a group holding the dealer's while it waits for the
//! sum's, would deadlock each other (found by the gateway benchmark: payments and provider
//! refusals at once).

use std::collections::{BTreeMap, HashMap};

use sqlx::{AnyConnection, Row};

use super::{
    batch::{Batch, Done, Slot},
    lists::ROWS_PER_STATEMENT,
};
use crate::payments::business_day_start;

/// Whose payments a sum counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Scope<'a> {
    Point(&'a str),
    Dealer(&'a str),
}

impl<'a> Scope<'a> {
    /// The `scope` and `code` columns of its rows.
    fn columns(self) -> (&'static str, &'a str) {
        match self {
            Scope::Point(code) => ("point", code),
            Scope::Dealer(code) => ("dealer", code),
        }
    }
}

/// The accepted sum of `scope` on the business day that starts at `day_start_ms` (see
/// [`business_day_start`]); 0 for a day without accepted payments.
pub async fn of(
    conn: &mut AnyConnection,
    scope: Scope<'_>,
    day_start_ms: i64,
) -> Result<i64, sqlx::Error> {
    let keys = [(scope, day_start_ms)];
    let mut batch = Batch::new(conn);
    let slot = of_all_into(&mut batch, &keys);
    let mut done = batch.run(conn).await?;
    let [sum] = of_all_found(&mut done, slot, &keys)?[..] else {
        return Err(sqlx::Error::RowNotFound);
    };
    Ok(sum)
}

/// The sums of `keys` (each a scope and the start of its business day; at least one, and as a
/// payment group's, no more than [`ROWS_PER_STATEMENT`]) as one statement of `batch`; read
/// them with [`of_all_found`]. A group's points and dealers with daily limits are one
/// statement, where each sum was a round trip of its own to PostgreSQL inside the payment
/// writer's turn (issue 14).
pub fn of_all_into<'q>(batch: &mut Batch<'q>, keys: &[(Scope<'q>, i64)]) -> Slot {
    let sql = format!(
        "WITH wanted (scope, code, day_start_ms) AS (VALUES {}) \
         SELECT wanted.scope, wanted.code, \
         CAST(wanted.day_start_ms AS BIGINT) AS day_start_ms, \
         CAST(COALESCE(s.accepted_tiyn, 0) AS BIGINT) AS accepted_tiyn \
         FROM wanted LEFT JOIN day_sums s ON s.scope = wanted.scope AND s.code = wanted.code \
         AND s.day_start_ms = wanted.day_start_ms",
        batch.placeholders().values(keys.len(), 3)
    );
    let (slot, mut binder) = batch.push(sql);
    for (scope, day_start_ms) in keys {
        let (kind, code) = scope.columns();
        binder.bind(kind).bind(code).bind(*day_start_ms);
    }
    slot
}

/// The sums [`of_all_into`]'s statement read, in the order of its `keys` (0 for a day
/// without accepted payments).
pub fn of_all_found(
    done: &mut [Done],
    slot: Slot,
    keys: &[(Scope<'_>, i64)],
) -> Result<Vec<i64>, sqlx::Error> {
    let mut read = HashMap::new();
    for row in slot.take(done).rows {
        let key: (String, String, i64) = (
            row.try_get("scope")?,
            row.try_get("code")?,
            row.try_get("day_start_ms")?,
        );
        read.insert(key, row.try_get::<i64, _>("accepted_tiyn")?);
    }
    keys.iter()
        .map(|(scope, day_start_ms)| {
            let (kind, code) = scope.columns();
            read.get(&(kind.to_owned(), code.to_owned(), *day_start_ms))
                .copied()
                .ok_or(sqlx::Error::RowNotFound)
        })
        .collect()
}

/// Adds accepted payments to their day's sums: each `(scope, received_at_ms, amount_tiyn)`
/// counts on the business day it was received. Payments of the same sum are added up first,
/// so each row is written once (PostgreSQL refuses an upsert that touches a row twice).
/// Written in `batch`.
pub fn add_all_into<'q>(
    batch: &mut Batch<'q>,
    payments: impl IntoIterator<Item = (Scope<'q>, i64, i64)>,
) {
    let mut sums: BTreeMap<(Scope<'q>, i64), i64> = BTreeMap::new();
    for (scope, received_at_ms, amount_tiyn) in payments {
        *sums
            .entry((scope, business_day_start(received_at_ms)))
            .or_default() += amount_tiyn;
    }
    let sums: Vec<_> = sums.into_iter().collect();
    for chunk in sums.chunks(ROWS_PER_STATEMENT) {
        let sql = format!(
            "INSERT INTO day_sums (scope, code, day_start_ms, accepted_tiyn) VALUES {} \
             ON CONFLICT (scope, code, day_start_ms) \
             DO UPDATE SET accepted_tiyn = day_sums.accepted_tiyn + excluded.accepted_tiyn",
            batch.placeholders().values(chunk.len(), 4)
        );
        let (_, mut binder) = batch.push(sql);
        for ((scope, day_start_ms), amount_tiyn) in chunk {
            let (kind, code) = scope.columns();
            binder
                .bind(kind)
                .bind(code)
                .bind(*day_start_ms)
                .bind(*amount_tiyn);
        }
    }
}

/// Takes the payment `transaction_id`, just marked refunded in this transaction, out of its
/// point's and its dealer's sums of the day it was received: it no longer counts against a
/// daily limit. A payment that was not accepted was never counted and changes nothing.
pub async fn take_back_in(
    conn: &mut AnyConnection,
    transaction_id: &str,
) -> Result<(), sqlx::Error> {
    let row = sqlx::query(
        "SELECT point_code, dealer_code, received_at_ms, amount_tiyn FROM payments \
         WHERE transaction_id = $1 AND state = 'accepted'",
    )
    .bind(transaction_id)
    .fetch_optional(&mut *conn)
    .await?;
    let Some(row) = row else {
        return Ok(());
    };
    let (point, dealer): (String, String) =
        (row.try_get("point_code")?, row.try_get("dealer_code")?);
    let received_at_ms: i64 = row.try_get("received_at_ms")?;
    let amount_tiyn: i64 = row.try_get("amount_tiyn")?;
    let mut batch = Batch::new(conn);
    add_all_into(
        &mut batch,
        [
            (Scope::Point(&point), received_at_ms, -amount_tiyn),
            (Scope::Dealer(&dealer), received_at_ms, -amount_tiyn),
        ],
    );
    batch.run(conn).await.map(drop)
}
