//! The `login_attempts` table, changed only by compare-and-swap (see the parent module).

use sqlx::{AnyPool, Row};

use super::{ACCOUNT, Attempts, Blocked, Subject};

/// How often a change is retried when parallel attempts keep changing the same row. Each retry
/// means another attempt was counted meanwhile, so running out is rare and fails safe (500).
const MAX_RACES: usize = 32;

/// What to do with a subject's row.
enum Change {
    Write(Attempts),
    Keep,
    Refuse(Blocked),
}

/// Charges one attempt to every subject, unless one of them is blocked: then nothing is
/// charged and the longest wait is returned. Call before checking the password; on success
/// call [`clear`] for the account and [`refund`] for the address.
pub async fn charge(
    pool: &AnyPool,
    subjects: &[&Subject],
    now: i64,
) -> Result<Option<Blocked>, sqlx::Error> {
    // Look before writing anything, so a refused attempt does not count against the others.
    let mut longest: Option<Blocked> = None;
    for subject in subjects {
        if let Some(blocked) = load(pool, subject).await?.and_then(|row| row.blocked(now)) {
            longest = longest.max(Some(blocked));
        }
    }
    if longest.is_some() {
        return Ok(longest);
    }
    for subject in subjects {
        let refused = update(pool, subject, |old| {
            match old.and_then(|row| row.blocked(now)) {
                // Blocked by a parallel attempt since we looked.
                Some(blocked) => Change::Refuse(blocked),
                None => Change::Write(Attempts::charged(old, &subject.policy, now)),
            }
        })
        .await?;
        if refused.is_some() {
            return Ok(refused);
        }
    }
    Ok(None)
}

/// The failures counted against `subject` now, forgotten or not (0 without a row): lets a
/// caller note the first failure of a window and the one that blocks, not every one.
pub async fn failures(pool: &AnyPool, subject: &Subject) -> Result<i64, sqlx::Error> {
    Ok(load(pool, subject).await?.map_or(0, |row| row.failures))
}

/// Takes back one charged attempt: the address of a client that knew the password.
pub async fn refund(pool: &AnyPool, subject: &Subject) -> Result<(), sqlx::Error> {
    let free = subject.policy.free_failures;
    update(pool, subject, |old| match old {
        Some(row) if row.failures > 0 => Change::Write(Attempts {
            failures: row.failures - 1,
            blocked_until_ms: if row.failures - 1 < free {
                0
            } else {
                row.blocked_until_ms
            },
            ..row
        }),
        _ => Change::Keep,
    })
    .await
    .map(|_| ())
}

/// Forgets a subject's failures (the right password was given), and rows nobody has failed
/// on for a while, so scanners' addresses do not pile up.
pub async fn clear(pool: &AnyPool, subject: &Subject, now: i64) -> Result<(), sqlx::Error> {
    sqlx::query("DELETE FROM login_attempts WHERE subject = $1")
        .bind(subject.as_str())
        .execute(pool)
        .await?;
    sqlx::query(
        "DELETE FROM login_attempts WHERE last_failure_at_ms < $1 AND blocked_until_ms < $2",
    )
    .bind(now - ACCOUNT.window_ms)
    .bind(now)
    .execute(pool)
    .await?;
    Ok(())
}

/// Applies `decide` to the current row until the write wins against parallel writers.
async fn update(
    pool: &AnyPool,
    subject: &Subject,
    decide: impl Fn(Option<Attempts>) -> Change,
) -> Result<Option<Blocked>, sqlx::Error> {
    for _ in 0..MAX_RACES {
        let old = load(pool, subject).await?;
        let new = match decide(old) {
            Change::Write(new) => new,
            Change::Keep => return Ok(None),
            Change::Refuse(blocked) => return Ok(Some(blocked)),
        };
        let written = match old {
            None => insert(pool, subject, &new).await?,
            Some(old) => swap(pool, subject, &old, &new).await?,
        };
        if written {
            return Ok(None);
        }
    }
    Err(sqlx::Error::Protocol(format!(
        "login_attempts row {} kept changing under us",
        subject.as_str()
    )))
}

async fn load(pool: &AnyPool, subject: &Subject) -> Result<Option<Attempts>, sqlx::Error> {
    let row = sqlx::query(
        "SELECT failures, first_failure_at_ms, last_failure_at_ms, blocked_until_ms \
         FROM login_attempts WHERE subject = $1",
    )
    .bind(subject.as_str())
    .fetch_optional(pool)
    .await?;
    row.map(|row| {
        Ok(Attempts {
            failures: row.try_get(0)?,
            first_failure_at_ms: row.try_get(1)?,
            last_failure_at_ms: row.try_get(2)?,
            blocked_until_ms: row.try_get(3)?,
        })
    })
    .transpose()
}

/// The first row of a subject; false when a parallel attempt inserted it first.
async fn insert(pool: &AnyPool, subject: &Subject, new: &Attempts) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(
        "INSERT INTO login_attempts \
         (subject, failures, first_failure_at_ms, last_failure_at_ms, blocked_until_ms) \
         VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING",
    )
    .bind(subject.as_str())
    .bind(new.failures)
    .bind(new.first_failure_at_ms)
    .bind(new.last_failure_at_ms)
    .bind(new.blocked_until_ms)
    .execute(pool)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Replaces `old` by `new`; false when the row is no longer `old`.
async fn swap(
    pool: &AnyPool,
    subject: &Subject,
    old: &Attempts,
    new: &Attempts,
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(
        "UPDATE login_attempts SET failures = $2, first_failure_at_ms = $3, \
         last_failure_at_ms = $4, blocked_until_ms = $5 \
         WHERE subject = $1 AND failures = $6 AND first_failure_at_ms = $7 \
         AND last_failure_at_ms = $8 AND blocked_until_ms = $9",
    )
    .bind(subject.as_str())
    .bind(new.failures)
    .bind(new.first_failure_at_ms)
    .bind(new.last_failure_at_ms)
    .bind(new.blocked_until_ms)
    .bind(old.failures)
    .bind(old.first_failure_at_ms)
    .bind(old.last_failure_at_ms)
    .bind(old.blocked_until_ms)
    .execute(pool)
    .await?;
    Ok(done.rows_affected() == 1)
}
