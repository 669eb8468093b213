//! Walking the audit chain ([`verify`], run by `tolem-gateway verify-audit` and the operator's
//! audit page when asked) and keeping it 5 years ([`purge_expired`]).
//!
//! ## Retention
//! Rows are kept 5 calendar years (the Kaspi Business agreement §1.15 keeps its trail that
//! long). [`purge_expired`] deletes only rows older than that, oldest first, and records the
//! last deleted row's `seq` and `hash` as the chain's new *anchor*: verification then starts
//! from the anchor instead of from the genesis, so what remains still verifies, and a row
//! deleted anywhere else is still noticed. The gateway runs it daily ([`crate::jobs`]); the
//! purge itself is audited.

use sqlx::{AnyPool, Row};

use super::{Action, AuditRow, COLUMNS, Event, from_row, record_in};
use crate::db::begin_write;

/// How many rows are read at a time while walking the chain.
const PAGE: i64 = 1000;

/// A chain that verified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified {
    /// Rows checked.
    pub rows: i64,
    /// Where the walk started: the anchor (0 = genesis).
    pub anchor_seq: i64,
    /// The last row's `seq` and hash (the anchor's when the log is empty).
    pub head_seq: i64,
    pub head_hash: String,
}

/// Where and why the chain is broken.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Broken {
    /// A row's stored fields do not give its stored hash: the row was changed.
    #[error("audit row seq {seq}: its hash does not match its contents (the row was changed)")]
    Changed { seq: i64 },
    /// A row does not point at the hash of the row before it.
    #[error(
        "audit row seq {seq}: prev_hash does not match the hash of the row before it \
         (a row before it was changed or replaced)"
    )]
    Unlinked { seq: i64 },
    /// A number is missing: rows were deleted (or inserted with a wrong number).
    #[error("audit row seq {seq}: expected seq {expected} (rows were deleted or inserted)")]
    Gap { seq: i64, expected: i64 },
    /// The newest rows do not reach the recorded head: rows at the end were deleted.
    #[error(
        "audit log ends at seq {last} but its head is seq {head_seq}: the newest rows were \
         deleted or the head was changed"
    )]
    Truncated { last: i64, head_seq: i64 },
}

impl Broken {
    /// The first bad row's `seq` (for a truncation, the first missing one).
    pub fn seq(&self) -> i64 {
        match self {
            Broken::Changed { seq } | Broken::Unlinked { seq } | Broken::Gap { seq, .. } => *seq,
            Broken::Truncated { last, .. } => last + 1,
        }
    }
}

/// Why the chain could not be checked or purged.
#[derive(Debug, thiserror::Error)]
pub enum ChainError {
    /// The chain is broken.
    #[error(transparent)]
    Broken(#[from] Broken),
    /// The database could not be read.
    #[error("cannot read the audit log: {0}")]
    Database(#[from] sqlx::Error),
}

/// The chain's stored ends: the anchor a check starts after and the head it must reach.
pub struct Ends {
    head_seq: i64,
    head_hash: String,
    anchor_seq: i64,
    anchor_hash: String,
}

/// The chain's ends as stored now.
pub async fn ends(pool: &AnyPool) -> Result<Ends, sqlx::Error> {
    let row = sqlx::query(
        "SELECT head_seq, head_hash, anchor_seq, anchor_hash FROM audit_chain WHERE id = 1",
    )
    .fetch_one(pool)
    .await?;
    Ok(Ends {
        head_seq: row.try_get("head_seq")?,
        head_hash: row.try_get("head_hash")?,
        anchor_seq: row.try_get("anchor_seq")?,
        anchor_hash: row.try_get("anchor_hash")?,
    })
}

/// Checks one row against the one before it (`seq`, `hash`).
fn check(row: &AuditRow, prev_seq: i64, prev_hash: &str) -> Result<(), Broken> {
    if row.seq != prev_seq + 1 {
        return Err(Broken::Gap {
            seq: row.seq,
            expected: prev_seq + 1,
        });
    }
    if row.prev_hash != prev_hash {
        return Err(Broken::Unlinked { seq: row.seq });
    }
    if row.expected_hash(&row.prev_hash) != row.hash {
        return Err(Broken::Changed { seq: row.seq });
    }
    Ok(())
}

/// Walks the whole chain from its anchor to its head and reports the first bad row.
pub async fn verify(pool: &AnyPool) -> Result<Verified, ChainError> {
    verify_to(pool, &ends(pool).await?).await
}

/// Walks the chain from the anchor of `ends` to its head and reports the first bad row. Rows
/// written since `ends` were read are not walked: the gateway keeps auditing while a check
/// runs (a login, a refund), and a walk that went on to them would end past the head it read
/// and report the chain cut short — tampering that did not happen.
pub async fn verify_to(pool: &AnyPool, ends: &Ends) -> Result<Verified, ChainError> {
    let (mut seq, mut hash) = (ends.anchor_seq, ends.anchor_hash.clone());
    let mut rows = 0;
    loop {
        let page = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM audit_log WHERE seq > $1 AND seq <= $2 ORDER BY seq LIMIT $3"
        ))
        .bind(seq)
        .bind(ends.head_seq)
        .bind(PAGE)
        .fetch_all(pool)
        .await?;
        if page.is_empty() {
            break;
        }
        for row in &page {
            let row = from_row(row)?;
            check(&row, seq, &hash)?;
            rows += 1;
            seq = row.seq;
            hash = row.hash;
        }
    }
    // Rows below the anchor that are still there would be skipped above: purge deletes them
    // all, so any such row is one that was put back or made up.
    let below: Option<i64> = sqlx::query_scalar("SELECT MIN(seq) FROM audit_log WHERE seq <= $1")
        .bind(ends.anchor_seq)
        .fetch_one(pool)
        .await?;
    if let Some(seq) = below {
        return Err(Broken::Gap {
            seq,
            expected: ends.anchor_seq + 1,
        }
        .into());
    }
    if seq != ends.head_seq || hash != ends.head_hash {
        return Err(Broken::Truncated {
            last: seq,
            head_seq: ends.head_seq,
        }
        .into());
    }
    Ok(Verified {
        rows,
        anchor_seq: ends.anchor_seq,
        head_seq: seq,
        head_hash: hash,
    })
}

/// The start of the oldest moment that is still kept at `now_ms`: the same calendar day and
/// time 5 years earlier (29 February becomes 28 February).
pub fn retention_cutoff_ms(now_ms: i64) -> i64 {
    let Ok(now) = time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(now_ms) * 1_000_000)
    else {
        return i64::MIN;
    };
    let year = now.year() - 5;
    let cutoff = now.replace_year(year).unwrap_or_else(|_| {
        // 29 February in a year that has none.
        now.replace_day(28)
            .and_then(|d| d.replace_year(year))
            .unwrap_or(now)
    });
    i64::try_from(cutoff.unix_timestamp_nanos() / 1_000_000).unwrap_or(i64::MIN)
}

/// Deletes the rows written before [`retention_cutoff_ms`] and moves the anchor to the last of
/// them (see the module docs); returns how many were deleted. The chain is verified first:
/// purging a broken chain would destroy the evidence of where it broke.
pub async fn purge_expired(pool: &AnyPool, now_ms: i64) -> Result<i64, ChainError> {
    let cutoff = retention_cutoff_ms(now_ms);
    // The common case, nothing to purge, without walking the chain.
    let expired: Option<i64> =
        sqlx::query_scalar("SELECT MIN(seq) FROM audit_log WHERE at_ms < $1")
            .bind(cutoff)
            .fetch_one(pool)
            .await?;
    if expired.is_none() {
        return Ok(0);
    }
    verify(pool).await?;
    let mut tx = begin_write(pool).await?;
    // Taken first, as every writer does: nothing is appended while the anchor moves.
    sqlx::query("UPDATE audit_chain SET head_seq = head_seq WHERE id = 1")
        .execute(&mut *tx)
        .await?;
    // Oldest first: a row is purged only when every row before it is too, even if a clock
    // jumped back and a later row carries an earlier time.
    let first_kept: Option<i64> =
        sqlx::query_scalar("SELECT MIN(seq) FROM audit_log WHERE at_ms >= $1")
            .bind(cutoff)
            .fetch_one(&mut *tx)
            .await?;
    let last_purged: Option<i64> = match first_kept {
        Some(first) => {
            sqlx::query_scalar("SELECT MAX(seq) FROM audit_log WHERE seq < $1")
                .bind(first)
                .fetch_one(&mut *tx)
                .await?
        }
        None => {
            sqlx::query_scalar("SELECT MAX(seq) FROM audit_log")
                .fetch_one(&mut *tx)
                .await?
        }
    };
    let Some(last) = last_purged else {
        tx.rollback().await?;
        return Ok(0);
    };
    let hash: String = sqlx::query_scalar("SELECT hash FROM audit_log WHERE seq = $1")
        .bind(last)
        .fetch_one(&mut *tx)
        .await?;
    let deleted = sqlx::query("DELETE FROM audit_log WHERE seq <= $1")
        .bind(last)
        .execute(&mut *tx)
        .await?
        .rows_affected();
    sqlx::query(
        "UPDATE audit_chain SET anchor_seq = $1, anchor_hash = $2, purged_at_ms = $3 WHERE id = 1",
    )
    .bind(last)
    .bind(&hash)
    .bind(now_ms)
    .execute(&mut *tx)
    .await?;
    let event = Event {
        action: Action::AuditPurged,
        subject: "audit_log".to_owned(),
        details: serde_json::json!({
            "rows": deleted,
            "through_seq": last,
            "anchor_hash": hash,
            "older_than_ms": cutoff,
        }),
    };
    record_in(&mut tx, &super::Actor::system(None), &event, now_ms).await?;
    tx.commit().await?;
    let deleted = i64::try_from(deleted).unwrap_or(i64::MAX);
    tracing::info!(
        rows = deleted,
        through_seq = last,
        "audit rows past retention purged"
    );
    Ok(deleted)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 2029-03-01 00:00 UTC.
    const MARCH_2029: i64 = 1_867_017_600_000;

    #[test]
    fn five_calendar_years_are_kept() {
        // 2024-03-01 00:00 UTC.
        assert_eq!(retention_cutoff_ms(MARCH_2029), 1_709_251_200_000);
        // 2028-02-29 12:00 UTC → 2023-02-28 12:00 UTC.
        assert_eq!(retention_cutoff_ms(1_835_438_400_000), 1_677_585_600_000);
    }
}
