//! The dealer's commission (CyberplatMobile manual §18): accrued in real time on every accepted
//! payment, at the dealer's own rate for the provider (`dealer_rates`, set by the operator) or
//! else the provider's `dealer_commission_bp` of that moment, and credited to the
//! dealer's balance once per business day (Kazakhstan, UTC+5; see [`crate::payments`]) as one
//! `commission` ledger entry.
//!
//! * [`accrue_all_into`] runs inside the payment's transaction: an accepted cash payment always
//!   has its accrual, a rejected one never. An accepted card payment's accrual waits for the
//!   provider to take it ([`crate::card::earn`]): at the rate of when the card paid, on the day
//!   it is earned, so a statement's "accrued that day" counts it on the day of its delivery.
//! * [`credit_finished_days`] credits every finished day not credited yet, for all dealers (the
//!   background job, [`crate::jobs`]) or one (the console's button). It is idempotent: a day is
//!   credited at most once, guarded by the primary key of `commission_credits` and by the
//!   ledger entry's id `commission:<dealer>-<YYYY-MM-DD>`, so running it twice, or from two
//!   gateways at once, credits once.
//!
//! Commission is rounded down to the tiyn per payment: the dealer is never credited a fraction
//! the gateway did not earn, and each payment's figure can be checked on its own.

use std::collections::HashMap;

use sqlx::{AnyPool, Row};

use crate::{
    audit::{self, Action, Actor, Event},
    db::{
        batch::{Batch, Done, Slot},
        begin_write,
        ledger::{self, LedgerKind, NewEntry, Posted},
        lists::ROWS_PER_STATEMENT,
    },
    payments::{BUSINESS_DAY_MS, business_date, business_day_start},
};

/// A day is credited only this long after it ended: a payment decided at 23:59:59 may still
/// be committing at midnight, and its accrual must be in the day's sum.
pub const GRACE_MS: i64 = 10 * 60 * 1000;

/// The commission on `amount_tiyn` at `rate_bp` basis points, rounded down to the tiyn.
pub fn commission_tiyn(amount_tiyn: i64, rate_bp: i64) -> i64 {
    let exact = i128::from(amount_tiyn) * i128::from(rate_bp) / 10_000;
    i64::try_from(exact).unwrap_or(i64::MAX)
}

/// The commission of one accepted payment, to accrue.
#[derive(Debug, Clone)]
pub struct Accrual<'a> {
    pub transaction_id: &'a str,
    pub dealer_code: &'a str,
    pub provider: &'a str,
    pub amount_tiyn: i64,
    /// At [`rates_into`]'s rate of this moment.
    pub rate_bp: i64,
    pub accrued_at_ms: i64,
}

/// The dealers' commission rates for the `(dealer, provider)` pairs (at least one; a group's
/// are at most [`crate::payments::group::GROUP_LIMIT`]) now, in basis points, as one statement
/// of `batch` (read its answer with [`rates_found`]): the dealer's own rate where the operator
/// set one (`dealer_rates`), else the provider's (0 for a provider not in the catalogue). Read
/// inside the payments' transaction, once per group ([`crate::payments::group_state`]): one
/// statement for a group's payments to a handful of providers, where each pair's was a round
/// trip of its own to PostgreSQL inside the payment writer's turn (issue 14).
pub fn rates_into<'q>(batch: &mut Batch<'q>, pairs: &[(&'q str, &'q str)]) -> Slot {
    let sql = format!(
        "WITH wanted (dealer_code, provider) AS (VALUES {}) \
         SELECT wanted.dealer_code, wanted.provider, \
         CAST(COALESCE(d.rate_bp, p.dealer_commission_bp, 0) AS BIGINT) AS rate_bp \
         FROM wanted \
         LEFT JOIN dealer_rates d \
         ON d.dealer_code = wanted.dealer_code AND d.provider = wanted.provider \
         LEFT JOIN providers p ON p.code = wanted.provider",
        batch.placeholders().values(pairs.len(), 2)
    );
    let (slot, mut binder) = batch.push(sql);
    for (dealer_code, provider) in pairs {
        binder.bind(*dealer_code).bind(*provider);
    }
    slot
}

/// The rates [`rates_into`]'s statement read, by `(dealer, provider)`.
pub fn rates_found(
    done: &mut [Done],
    slot: Slot,
) -> Result<HashMap<(String, String), i64>, sqlx::Error> {
    slot.take(done)
        .rows
        .iter()
        .map(|row| {
            Ok((
                (row.try_get("dealer_code")?, row.try_get("provider")?),
                row.try_get("rate_bp")?,
            ))
        })
        .collect()
}

/// Accrues the commission of payments inside the transaction that makes them the dealer's
/// (one statement for a whole group), each [`commission_tiyn`] of its amount at its rate,
/// counted on the business day of its `accrued_at_ms`. Written in `batch`.
pub fn accrue_all_into<'q>(batch: &mut Batch<'q>, accruals: &[Accrual<'q>]) {
    for chunk in accruals.chunks(ROWS_PER_STATEMENT) {
        let sql = format!(
            "INSERT INTO commission_accruals (transaction_id, dealer_code, provider, \
             amount_tiyn, rate_bp, commission_tiyn, day_start_ms, accrued_at_ms) VALUES {}",
            batch.placeholders().values(chunk.len(), 8)
        );
        let (_, mut binder) = batch.push(sql);
        for accrual in chunk {
            binder
                .bind(accrual.transaction_id)
                .bind(accrual.dealer_code)
                .bind(accrual.provider)
                .bind(accrual.amount_tiyn)
                .bind(accrual.rate_bp)
                .bind(commission_tiyn(accrual.amount_tiyn, accrual.rate_bp))
                .bind(business_day_start(accrual.accrued_at_ms))
                .bind(accrual.accrued_at_ms);
        }
    }
}

/// Commission accrued on a business day: the sum and the number of payments.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Accrued {
    pub commission_tiyn: i64,
    pub payments: i64,
}

/// What the dealer accrued on the business day that starts at `day_start_ms`, leaving out the
/// payments a provider refused before the day was credited (see [`crate::delivery::reversal`]).
pub async fn accrued_on<'e>(
    executor: impl sqlx::Executor<'e, Database = sqlx::Any>,
    dealer_code: &str,
    day_start_ms: i64,
) -> Result<Accrued, sqlx::Error> {
    // Cast: PostgreSQL's SUM of BIGINT is NUMERIC, which the Any driver cannot read as i64.
    let row = sqlx::query(
        "SELECT CAST(COALESCE(SUM(commission_tiyn), 0) AS BIGINT) AS total, COUNT(*) AS payments \
         FROM commission_accruals WHERE dealer_code = $1 AND day_start_ms = $2 \
         AND reversed_at_ms IS NULL",
    )
    .bind(dealer_code)
    .bind(day_start_ms)
    .fetch_one(executor)
    .await?;
    Ok(Accrued {
        commission_tiyn: row.try_get("total")?,
        payments: row.try_get("payments")?,
    })
}

/// A day credited by a run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Credited {
    pub dealer_code: String,
    pub day_start_ms: i64,
    pub commission_tiyn: i64,
    pub payments: i64,
}

/// The ledger reference of a dealer's commission for a day: `D001-2025-03-01`.
pub fn reference(dealer_code: &str, day_start_ms: i64) -> String {
    format!("{dealer_code}-{}", business_date(day_start_ms))
}

/// Credits every business day that finished (more than [`GRACE_MS`] before `now_ms`) with
/// accruals not credited yet — of `dealer_code`, or of every dealer when `None` — oldest first.
/// Returns what it credited (nothing when everything was credited before).
pub async fn credit_finished_days(
    pool: &AnyPool,
    dealer_code: Option<&str>,
    now_ms: i64,
) -> Result<Vec<Credited>, sqlx::Error> {
    let finished_before = business_day_start(now_ms - GRACE_MS);
    let days = sqlx::query(
        "SELECT DISTINCT a.dealer_code, a.day_start_ms FROM commission_accruals a \
         WHERE a.day_start_ms < $1 AND ($2 IS NULL OR a.dealer_code = $2) \
         AND NOT EXISTS (SELECT 1 FROM commission_credits c \
             WHERE c.dealer_code = a.dealer_code AND c.day_start_ms = a.day_start_ms) \
         ORDER BY a.day_start_ms, a.dealer_code",
    )
    .bind(finished_before)
    .bind(dealer_code)
    .fetch_all(pool)
    .await?;
    let mut credited = Vec::new();
    for row in days {
        let dealer: String = row.try_get("dealer_code")?;
        let day: i64 = row.try_get("day_start_ms")?;
        if let Some(done) = credit_day(pool, &dealer, day, now_ms).await? {
            credited.push(done);
        }
    }
    Ok(credited)
}

/// Credits one finished day of one dealer in one transaction; `None` when it was credited
/// already (by a run in parallel).
async fn credit_day(
    pool: &AnyPool,
    dealer_code: &str,
    day_start_ms: i64,
    now_ms: i64,
) -> Result<Option<Credited>, sqlx::Error> {
    debug_assert!(day_start_ms + BUSINESS_DAY_MS <= now_ms);
    let mut tx = begin_write(pool).await?;
    // The dealer's row first: a payment still deciding holds it (PostgreSQL), so the sum read
    // next includes everything committed.
    sqlx::query("UPDATE dealers SET balance_tiyn = balance_tiyn WHERE code = $1")
        .bind(dealer_code)
        .execute(&mut *tx)
        .await?;
    let accrued = accrued_on(&mut *tx, dealer_code, day_start_ms).await?;
    let claimed = sqlx::query(
        "INSERT INTO commission_credits (dealer_code, day_start_ms, commission_tiyn, payments, \
         credited_at_ms) VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING",
    )
    .bind(dealer_code)
    .bind(day_start_ms)
    .bind(accrued.commission_tiyn)
    .bind(accrued.payments)
    .bind(now_ms)
    .execute(&mut *tx)
    .await?;
    if claimed.rows_affected() == 0 {
        tx.rollback().await?;
        return Ok(None);
    }
    let reference = reference(dealer_code, day_start_ms);
    let mut balance_after = None;
    // A zero sum (only 0 % providers) is recorded as credited but needs no ledger entry.
    if accrued.commission_tiyn > 0 {
        let entry = NewEntry {
            dealer_code,
            kind: LedgerKind::Commission,
            amount_tiyn: accrued.commission_tiyn,
            reference: &reference,
            point_code: None,
            created_at_ms: now_ms,
        };
        match ledger::post_in(&mut tx, &entry).await? {
            Posted::Done { balance_after_tiyn } => balance_after = Some(balance_after_tiyn),
            other => {
                tx.rollback().await?;
                tracing::warn!(dealer = dealer_code, %reference, ?other, "commission not credited");
                return Ok(None);
            }
        }
    }
    let event = Event {
        action: Action::CommissionCredited,
        subject: format!(
            "ledger:{}",
            ledger::entry_id(LedgerKind::Commission, &reference)
        ),
        details: serde_json::json!({
            "day": business_date(day_start_ms).to_string(),
            "commission_tiyn": accrued.commission_tiyn,
            "payments": accrued.payments,
            "balance_after_tiyn": balance_after,
        }),
    };
    audit::record_in(&mut tx, &Actor::system(Some(dealer_code)), &event, now_ms).await?;
    tx.commit().await?;
    tracing::info!(dealer = dealer_code, %reference, commission_tiyn = accrued.commission_tiyn,
        payments = accrued.payments, "commission credited");
    Ok(Some(Credited {
        dealer_code: dealer_code.to_owned(),
        day_start_ms,
        commission_tiyn: accrued.commission_tiyn,
        payments: accrued.payments,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commission_is_rounded_down_to_the_tiyn() {
        assert_eq!(commission_tiyn(100_000, 100), 1_000);
        // 2 500.50 tenge at 1.5 % = 37.5075 tenge.
        assert_eq!(commission_tiyn(250_050, 150), 3_750);
        assert_eq!(commission_tiyn(99, 100), 0);
        assert_eq!(commission_tiyn(100_000, 0), 0);
        assert_eq!(commission_tiyn(i64::MAX, 10_000), i64::MAX);
    }
}
