//! Stored deliveries: the job that carries an accepted payment to its provider, and every
//! attempt at it. The policy (when to retry, what a refusal does) is in [`crate::delivery`];
//! this module only reads and writes rows.

use sqlx::{AnyConnection, AnyPool, Row, any::AnyRow};

use super::{begin_write, lists::ROWS_PER_STATEMENT, network};

/// The counter that numbers deliveries for the provider (OSMP `txn_id`).
const TXN_COUNTER: &str = "delivery_txn";

/// Where a delivery is (`deliveries.state`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    Queued,
    Sent,
    Retrying,
    Delivered,
    Failed,
}

impl State {
    pub fn as_str(self) -> &'static str {
        match self {
            State::Queued => "queued",
            State::Sent => "sent",
            State::Retrying => "retrying",
            State::Delivered => "delivered",
            State::Failed => "failed",
        }
    }

    fn parse(text: &str) -> Result<State, sqlx::Error> {
        Ok(match text {
            "queued" => State::Queued,
            "sent" => State::Sent,
            "retrying" => State::Retrying,
            "delivered" => State::Delivered,
            "failed" => State::Failed,
            other => {
                return Err(sqlx::Error::Decode(
                    format!("unknown delivery state {other:?}").into(),
                ));
            }
        })
    }
}

/// A delivery as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivery {
    pub transaction_id: String,
    pub provider: String,
    pub state: State,
    pub txn_id: Option<i64>,
    pub attempts: i64,
    pub next_attempt_at_ms: i64,
    pub provider_txn: Option<String>,
    pub result_code: Option<i64>,
    pub comment: Option<String>,
    /// Why it failed (protocol `ProviderRefusal` in snake_case).
    pub refusal: Option<String>,
    pub queued_at_ms: i64,
    pub updated_at_ms: i64,
    pub finished_at_ms: Option<i64>,
    pub marked_by: Option<String>,
}

const COLUMNS: &str = "transaction_id, provider, state, txn_id, attempts, next_attempt_at_ms, \
    provider_txn, result_code, comment, refusal, queued_at_ms, updated_at_ms, finished_at_ms, \
    marked_by";

fn from_row(row: &AnyRow) -> Result<Delivery, sqlx::Error> {
    Ok(Delivery {
        transaction_id: row.try_get("transaction_id")?,
        provider: row.try_get("provider")?,
        state: State::parse(&row.try_get::<String, _>("state")?)?,
        txn_id: row.try_get("txn_id")?,
        attempts: row.try_get("attempts")?,
        next_attempt_at_ms: row.try_get("next_attempt_at_ms")?,
        provider_txn: row.try_get("provider_txn")?,
        result_code: row.try_get("result_code")?,
        comment: row.try_get("comment")?,
        refusal: row.try_get("refusal")?,
        queued_at_ms: row.try_get("queued_at_ms")?,
        updated_at_ms: row.try_get("updated_at_ms")?,
        finished_at_ms: row.try_get("finished_at_ms")?,
        marked_by: row.try_get("marked_by")?,
    })
}

/// Queues the delivery of accepted payments `(transaction id, provider)` received at
/// `now_ms`, inside the transaction that stores them: one statement for a whole group.
pub async fn insert_all_in(
    conn: &mut AnyConnection,
    payments: &[(&str, &str, i64)],
) -> Result<(), sqlx::Error> {
    for chunk in payments.chunks(ROWS_PER_STATEMENT) {
        let sql = format!(
            "INSERT INTO deliveries (transaction_id, provider, state, next_attempt_at_ms, \
             queued_at_ms, updated_at_ms) VALUES {}",
            (0..chunk.len())
                .map(|row| {
                    let (id, provider, at) = (row * 3 + 1, row * 3 + 2, row * 3 + 3);
                    format!("(${id}, ${provider}, 'queued', ${at}, ${at}, ${at})")
                })
                .collect::<Vec<_>>()
                .join(", ")
        );
        let mut query = sqlx::query(&sql);
        for (transaction_id, provider, now_ms) in chunk {
            query = query.bind(*transaction_id).bind(*provider).bind(*now_ms);
        }
        query.execute(&mut *conn).await?;
    }
    Ok(())
}

/// The delivery of a payment, if it has one.
pub async fn find(
    conn: &mut AnyConnection,
    transaction_id: &str,
) -> Result<Option<Delivery>, sqlx::Error> {
    let row = sqlx::query(&format!(
        "SELECT {COLUMNS} FROM deliveries WHERE transaction_id = $1"
    ))
    .bind(transaction_id)
    .fetch_optional(conn)
    .await?;
    row.as_ref().map(from_row).transpose()
}

/// A delivery due for an attempt, with the due time the claim must still see.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Due {
    pub transaction_id: String,
    pub next_attempt_at_ms: i64,
}

/// Up to `limit` unfinished deliveries due at `now_ms`, oldest due first.
pub async fn due(pool: &AnyPool, now_ms: i64, limit: i64) -> Result<Vec<Due>, sqlx::Error> {
    let rows = sqlx::query(
        "SELECT transaction_id, next_attempt_at_ms FROM deliveries \
         WHERE state IN ('queued', 'sent', 'retrying') AND next_attempt_at_ms <= $1 \
         ORDER BY next_attempt_at_ms, transaction_id LIMIT $2",
    )
    .bind(now_ms)
    .bind(limit)
    .fetch_all(pool)
    .await?;
    rows.iter()
        .map(|row| {
            Ok(Due {
                transaction_id: row.try_get("transaction_id")?,
                next_attempt_at_ms: row.try_get("next_attempt_at_ms")?,
            })
        })
        .collect()
}

/// When the next unfinished delivery falls due, if there is one.
pub async fn next_due_at(pool: &AnyPool) -> Result<Option<i64>, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT MIN(next_attempt_at_ms) FROM deliveries \
         WHERE state IN ('queued', 'sent', 'retrying')",
    )
    .fetch_one(pool)
    .await
}

/// What a worker needs to send a claimed delivery.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Claimed {
    pub transaction_id: String,
    pub provider: String,
    /// The number the provider knows it by, the same on every attempt.
    pub txn_id: i64,
    /// This attempt's number (1 for the first).
    pub attempt: i64,
    pub account: String,
    pub amount_tiyn: i64,
    /// When the gateway accepted the payment (OSMP `txn_date`).
    pub accepted_at_ms: i64,
    pub dealer_code: String,
    pub point_code: String,
}

/// Takes each of `due` for one attempt, all in one transaction (one commit for a whole round
/// of the worker instead of one per job): marks it `sent` with its due time moved to
/// `lease_until_ms`, if nobody moved it since it was read, and gives it its provider number on
/// its first claim. Jobs another worker (another gateway on the same database) has, or that
/// finished, are left out.
pub async fn claim_all(
    pool: &AnyPool,
    due: &[Due],
    now_ms: i64,
    lease_until_ms: i64,
) -> Result<Vec<Claimed>, sqlx::Error> {
    // Workers of several gateways claim at once; a deadlock between two claims rolls one back
    // whole, and claiming again either takes each job or finds it taken.
    super::retry::retry("delivery claim", || async {
        let mut tx = begin_write(pool).await?;
        let mut claimed = Vec::with_capacity(due.len());
        for job in due {
            claimed.extend(claim_in(&mut tx, job, now_ms, lease_until_ms).await?);
        }
        tx.commit().await?;
        Ok(claimed)
    })
    .await
}

/// One job of [`claim_all`], inside its transaction; a job not taken writes nothing.
async fn claim_in(
    tx: &mut AnyConnection,
    due: &Due,
    now_ms: i64,
    lease_until_ms: i64,
) -> Result<Option<Claimed>, sqlx::Error> {
    let taken = sqlx::query(
        "UPDATE deliveries SET state = 'sent', attempts = attempts + 1, \
         next_attempt_at_ms = $1, updated_at_ms = $2 \
         WHERE transaction_id = $3 AND next_attempt_at_ms = $4 \
         AND state IN ('queued', 'sent', 'retrying')",
    )
    .bind(lease_until_ms)
    .bind(now_ms)
    .bind(&due.transaction_id)
    .bind(due.next_attempt_at_ms)
    .execute(&mut *tx)
    .await?;
    if taken.rows_affected() != 1 {
        return Ok(None);
    }
    let numbered: Option<i64> =
        sqlx::query_scalar("SELECT txn_id FROM deliveries WHERE transaction_id = $1")
            .bind(&due.transaction_id)
            .fetch_one(&mut *tx)
            .await?;
    if numbered.is_none() {
        let txn_id = network::next_number(&mut *tx, TXN_COUNTER).await?;
        sqlx::query("UPDATE deliveries SET txn_id = $1 WHERE transaction_id = $2")
            .bind(txn_id)
            .bind(&due.transaction_id)
            .execute(&mut *tx)
            .await?;
    }
    let row = sqlx::query(
        "SELECT d.transaction_id, d.provider, d.txn_id, d.attempts, p.account, p.amount_tiyn, \
         p.accepted_at_ms, p.dealer_code, p.point_code \
         FROM deliveries d JOIN payments p ON p.transaction_id = d.transaction_id \
         WHERE d.transaction_id = $1",
    )
    .bind(&due.transaction_id)
    .fetch_one(&mut *tx)
    .await?;
    let claimed = Claimed {
        transaction_id: row.try_get("transaction_id")?,
        provider: row.try_get("provider")?,
        txn_id: row.try_get("txn_id")?,
        attempt: row.try_get("attempts")?,
        account: row.try_get("account")?,
        amount_tiyn: row.try_get("amount_tiyn")?,
        accepted_at_ms: row.try_get("accepted_at_ms")?,
        dealer_code: row.try_get("dealer_code")?,
        point_code: row.try_get("point_code")?,
    };
    Ok(Some(claimed))
}

/// One exchange with the provider, as kept for the console.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attempt {
    pub attempt: i64,
    pub at_ms: i64,
    pub request: String,
    pub answer: Option<String>,
    /// `delivered`, `later`, `refused` or `unreachable`.
    pub outcome: String,
    pub result_code: Option<i64>,
    pub error: Option<String>,
    pub latency_ms: i64,
}

/// Keeps an attempt, inside the caller's transaction.
pub async fn insert_attempt_in(
    conn: &mut AnyConnection,
    transaction_id: &str,
    attempt: &Attempt,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO delivery_attempts (transaction_id, attempt, at_ms, request, answer, \
         outcome, result_code, error, latency_ms) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) \
         ON CONFLICT DO NOTHING",
    )
    .bind(transaction_id)
    .bind(attempt.attempt)
    .bind(attempt.at_ms)
    .bind(&attempt.request)
    .bind(&attempt.answer)
    .bind(&attempt.outcome)
    .bind(attempt.result_code)
    .bind(&attempt.error)
    .bind(attempt.latency_ms)
    .execute(conn)
    .await?;
    Ok(())
}

/// The attempts of a delivery, first first.
pub async fn attempts(pool: &AnyPool, transaction_id: &str) -> Result<Vec<Attempt>, sqlx::Error> {
    let rows = sqlx::query(
        "SELECT attempt, at_ms, request, answer, outcome, result_code, error, latency_ms \
         FROM delivery_attempts WHERE transaction_id = $1 ORDER BY attempt",
    )
    .bind(transaction_id)
    .fetch_all(pool)
    .await?;
    rows.iter()
        .map(|row| {
            Ok(Attempt {
                attempt: row.try_get("attempt")?,
                at_ms: row.try_get("at_ms")?,
                request: row.try_get("request")?,
                answer: row.try_get("answer")?,
                outcome: row.try_get("outcome")?,
                result_code: row.try_get("result_code")?,
                error: row.try_get("error")?,
                latency_ms: row.try_get("latency_ms")?,
            })
        })
        .collect()
}

/// Marks a delivery delivered, inside the caller's transaction. `false` if it had finished
/// already (another worker, or someone by hand).
pub async fn mark_delivered_in(
    conn: &mut AnyConnection,
    transaction_id: &str,
    provider_txn: &str,
    comment: Option<&str>,
    marked_by: Option<&str>,
    now_ms: i64,
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(
        "UPDATE deliveries SET state = 'delivered', provider_txn = $1, result_code = 0, \
         comment = $2, marked_by = $3, finished_at_ms = $4, updated_at_ms = $4, \
         next_attempt_at_ms = $4 \
         WHERE transaction_id = $5 AND state IN ('queued', 'sent', 'retrying')",
    )
    .bind(provider_txn)
    .bind(comment)
    .bind(marked_by)
    .bind(now_ms)
    .bind(transaction_id)
    .execute(conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Puts a delivery back in line for `next_ms` after a temporary answer or none, inside the
/// caller's transaction.
pub async fn mark_retrying_in(
    conn: &mut AnyConnection,
    transaction_id: &str,
    result_code: Option<i64>,
    comment: Option<&str>,
    next_ms: i64,
    now_ms: i64,
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(
        "UPDATE deliveries SET state = 'retrying', result_code = $1, comment = $2, \
         next_attempt_at_ms = $3, updated_at_ms = $4 \
         WHERE transaction_id = $5 AND state IN ('queued', 'sent', 'retrying')",
    )
    .bind(result_code)
    .bind(comment)
    .bind(next_ms)
    .bind(now_ms)
    .bind(transaction_id)
    .execute(conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Marks a delivery failed (a final refusal), inside the reversal's transaction. `false` if it
/// had finished already.
pub async fn mark_failed_in(
    conn: &mut AnyConnection,
    transaction_id: &str,
    result_code: i64,
    comment: Option<&str>,
    refusal: &str,
    now_ms: i64,
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(
        "UPDATE deliveries SET state = 'failed', result_code = $1, comment = $2, refusal = $5, \
         finished_at_ms = $3, updated_at_ms = $3, next_attempt_at_ms = $3 \
         WHERE transaction_id = $4 AND state IN ('queued', 'sent', 'retrying')",
    )
    .bind(result_code)
    .bind(comment)
    .bind(now_ms)
    .bind(transaction_id)
    .bind(refusal)
    .execute(conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Makes an unfinished delivery due now (*retry now* in the console). `false` if it finished
/// or an attempt is in flight (its claim has not run out).
pub async fn make_due_now(
    conn: &mut AnyConnection,
    transaction_id: &str,
    now_ms: i64,
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(
        "UPDATE deliveries SET next_attempt_at_ms = $1, updated_at_ms = $1 \
         WHERE transaction_id = $2 AND (state IN ('queued', 'retrying') \
         OR (state = 'sent' AND next_attempt_at_ms < $1))",
    )
    .bind(now_ms)
    .bind(transaction_id)
    .execute(conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Unfinished deliveries queued before `before_ms` and failed ones finished since
/// `failed_since_ms`, of one dealer or (operator) all, oldest first, at most `limit`.
pub async fn troubled(
    pool: &AnyPool,
    dealer_code: Option<&str>,
    before_ms: i64,
    failed_since_ms: i64,
    limit: i64,
) -> Result<Vec<(Delivery, String, i64)>, sqlx::Error> {
    let columns = COLUMNS
        .split(", ")
        .map(|c| format!("d.{}", c.trim()))
        .collect::<Vec<_>>()
        .join(", ");
    // A dealer sees its own; the operator (None) everybody's.
    let (whose, dealer) = match dealer_code {
        Some(code) => ("p.dealer_code = $4", code),
        None => ("$4 = $4", ""),
    };
    let rows = sqlx::query(&format!(
        "SELECT {columns}, p.account, p.amount_tiyn FROM deliveries d \
         JOIN payments p ON p.transaction_id = d.transaction_id \
         WHERE {whose} \
         AND ((d.state IN ('queued', 'sent', 'retrying') AND d.queued_at_ms < $1) \
              OR (d.state = 'failed' AND d.finished_at_ms >= $2)) \
         ORDER BY d.provider, d.queued_at_ms LIMIT $3"
    ))
    .bind(before_ms)
    .bind(failed_since_ms)
    .bind(limit)
    .bind(dealer)
    .fetch_all(pool)
    .await?;
    rows.iter()
        .map(|row| {
            Ok((
                from_row(row)?,
                row.try_get("account")?,
                row.try_get("amount_tiyn")?,
            ))
        })
        .collect()
}
