//! Stored deliveries: the job that carries an accepted payment to its provider, and every
//! attempt at it. The policy (when to retry, what a refusal does) is in [`crate::delivery`];
//! this module only reads and writes rows.

use std::collections::{HashMap, HashSet};

use sqlx::{AnyConnection, AnyPool, Row, any::AnyRow};

use super::{
    batch::{Batch, Done, Slot},
    begin_write,
    lists::{self, Placeholders, ROWS_PER_STATEMENT},
    network,
};

/// The counter that numbers deliveries for the provider (OSMP `txn_id`).
const TXN_COUNTER: &str = "delivery_txn";

/// "The delivery `$state` belongs to is not finished", for the statements that name their
/// deliveries by primary key (a claim, an outcome), written so that no index can answer it:
/// the index of unfinished deliveries by due time must not be the way those statements find
/// their rows.
///
/// PostgreSQL's planner picks between the primary key and that index by its statistics, and
/// those lag behind a table that changes as fast as this one: analyzed while nearly every
/// delivery was finished, it believes almost none is queued, reads *every* unfinished delivery
/// through that index (`deliveries_due` then; `deliveries_unfinished` since migration 0016)
/// and keeps the ones the statement names. When deliveries fall behind (a provider down for an
/// hour, or the gateway benchmark's 40 000 payments) that is the whole backlog for every batch
/// of outcomes: 140 ms a statement with 19 700 queued, 10 s of the server's processor in a
/// 10 s run (auto_explain, issue 14) — the worker slowing down exactly when it has most to
/// catch up. `state || ''` is the same value as `state`, but no index is on it, so the primary
/// key is the only way left (the same on SQLite, whose plans `gateway/tests/query_plans.rs`
/// checks; on PostgreSQL it counts the rows read).
macro_rules! unfinished {
    ($state:literal) => {
        concat!($state, " || '' IN ('queued', 'sent', 'retrying')")
    };
}

/// "Still due": the condition a claim takes its jobs by, found by primary key (`unfinished!`;
/// `+ 0` keeps the next attempt's time from `deliveries_unfinished` too). A job another worker
/// claimed since has its lease, later than now, as its next attempt time; a finished one has
/// left the unfinished states. Two `format!` places follow it: now, then the list of ids.
macro_rules! still_due {
    () => {
        concat!(
            unfinished!("state"),
            " AND next_attempt_at_ms + 0 <= {} AND transaction_id IN ({})"
        )
    };
}

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

/// Queues the delivery of accepted payments `(transaction id, provider, received at)`, in
/// `batch` (the transaction that stores them): one statement for a whole group.
pub fn insert_all_into<'q>(batch: &mut Batch<'q>, payments: &[(&'q str, &'q str, i64)]) {
    for chunk in payments.chunks(ROWS_PER_STATEMENT) {
        let sql = format!(
            "INSERT INTO deliveries (transaction_id, provider, state, next_attempt_at_ms, \
             queued_at_ms, updated_at_ms) VALUES {}",
            batch.placeholders().values(chunk.len(), 6)
        );
        let (_, mut binder) = batch.push(sql);
        for (transaction_id, provider, at_ms) in chunk {
            binder
                .bind(*transaction_id)
                .bind(*provider)
                .bind(State::Queued.as_str())
                .bind(*at_ms)
                .bind(*at_ms)
                .bind(*at_ms);
        }
    }
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

/// A delivery due for an attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Due {
    pub transaction_id: String,
}

/// Up to `limit` unfinished deliveries due at `now_ms`, oldest due first.
pub async fn due(pool: &AnyPool, now_ms: i64, limit: i64) -> Result<Vec<Due>, sqlx::Error> {
    due_in(&mut *pool.acquire().await?, now_ms, limit).await
}

/// [`due`] on `conn`. The condition and the order are `deliveries_unfinished`'s own (migration
/// 0016), which hands the first `limit` over without reading the rest of the backlog.
pub async fn due_in(
    conn: &mut AnyConnection,
    now_ms: i64,
    limit: i64,
) -> Result<Vec<Due>, sqlx::Error> {
    let rows = sqlx::query(
        "SELECT transaction_id FROM deliveries \
         WHERE state IN ('queued', 'sent', 'retrying') AND next_attempt_at_ms <= $1 \
         ORDER BY next_attempt_at_ms, transaction_id LIMIT $2",
    )
    .bind(now_ms)
    .bind(limit)
    .fetch_all(conn)
    .await?;
    rows.iter()
        .map(|row| {
            Ok(Due {
                transaction_id: row.try_get("transaction_id")?,
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

/// Claims the jobs of `due` that are still due at `now_ms` (another worker may have taken some
/// since they were read), each until `lease_until_ms`, in one transaction; numbers those that
/// have no provider number yet (in the order of `due`), and returns what each attempt needs,
/// in the order of `due`. A job not taken is left out.
///
/// A handful of statements for the whole batch, not five per job: every statement is a
/// hand-off to the database's thread (SQLite) or a round trip (PostgreSQL), and with one
/// delivery per accepted payment, per-job statements were most of the gateway's work under
/// load (issue 14).
pub async fn claim_all(
    pool: &AnyPool,
    due: &[Due],
    now_ms: i64,
    lease_until_ms: i64,
) -> Result<Vec<Claimed>, sqlx::Error> {
    if due.is_empty() {
        return Ok(Vec::new());
    }
    // Workers of several gateways claim at once; a deadlock between two claims rolls one back
    // whole, and claiming again either takes each job or finds it taken.
    super::retry::retry("delivery claim", || async {
        let mut tx = begin_write(pool).await?;
        let claimed = claim_all_in(&mut tx, due, now_ms, lease_until_ms).await?;
        tx.commit().await?;
        Ok(claimed)
    })
    .await
}

/// [`claim_all`] inside the caller's transaction; `due` holds at least one job.
///
/// The jobs still due are found and locked first, then marked sent *and* numbered in one
/// `UPDATE`: a claim that marked them and then numbered them wrote each new job's row twice,
/// each time a new version of it in every index of the table (its provider number and its
/// state are both indexed). Under the gateway benchmark on PostgreSQL (issue 14) the two
/// statements took 20 µs of the server's time a payment and 0.37 KiB of its WAL; the one, 8 µs
/// and 0.18 KiB.
pub async fn claim_all_in(
    tx: &mut AnyConnection,
    due: &[Due],
    now_ms: i64,
    lease_until_ms: i64,
) -> Result<Vec<Claimed>, sqlx::Error> {
    // On PostgreSQL a worker of another gateway may claim the same jobs at once: `FOR UPDATE`
    // waits for its claim and reads the rows again after it, so a job it took (its lease now
    // its next attempt time) is left out here. On SQLite the write transaction already keeps
    // every other writer out.
    let p = Placeholders::of(tx);
    let lock = match p {
        Placeholders::Numbered => " FOR UPDATE",
        Placeholders::Anonymous => "",
    };
    let sql = format!(
        concat!(
            "SELECT transaction_id, txn_id FROM deliveries WHERE ",
            still_due!(),
            "{}"
        ),
        p.nth(1),
        p.list_from(2, due.len()),
        lock
    );
    let mut query = sqlx::query(&sql).bind(now_ms);
    for job in due {
        query = query.bind(job.transaction_id.as_str());
    }
    let rows = query.fetch_all(&mut *tx).await?;
    let mut taken: HashMap<String, Option<i64>> = HashMap::with_capacity(rows.len());
    for row in &rows {
        taken.insert(row.try_get("transaction_id")?, row.try_get("txn_id")?);
    }
    send_taken_in(tx, due, &taken, Some((now_ms, lease_until_ms))).await
}

/// The first step of [`claim_all_in`] as a statement of `batch`: each job of `due` (at least
/// one) still due now becomes sent, its lease running until `lease_until_ms`. Pass the
/// statement's outcome to [`take_claimed_in`], in the same transaction.
pub fn claim_into<'q>(
    batch: &mut Batch<'q>,
    due: &'q [Due],
    now_ms: i64,
    lease_until_ms: i64,
) -> Slot {
    let p = batch.placeholders();
    let sql = format!(
        concat!(
            "UPDATE deliveries SET state = 'sent', attempts = attempts + 1, \
             next_attempt_at_ms = {}, updated_at_ms = {} WHERE ",
            still_due!(),
            " RETURNING transaction_id, txn_id"
        ),
        p.nth(1),
        p.nth(2),
        p.nth(3),
        p.list_from(4, due.len())
    );
    let (slot, mut binder) = batch.push(sql);
    binder.bind(lease_until_ms).bind(now_ms).bind(now_ms);
    for job in due {
        binder.bind(job.transaction_id.as_str());
    }
    slot
}

/// The rest of a claim, after [`claim_into`]'s statement `claimed` ran: the jobs it took get
/// their provider number if they have none yet, and come back with what sending them needs, in
/// the order of `due` (a job not taken is left out). One more trip to the database.
pub async fn take_claimed_in(
    tx: &mut AnyConnection,
    due: &[Due],
    claimed: Done,
) -> Result<Vec<Claimed>, sqlx::Error> {
    let mut taken: HashMap<String, Option<i64>> = HashMap::new();
    for row in &claimed.rows {
        taken.insert(row.try_get("transaction_id")?, row.try_get("txn_id")?);
    }
    send_taken_in(tx, due, &taken, None).await
}

/// The jobs of `due` a claim took (`taken`, each with its provider number if it has one): with
/// `lease` (now, until) they are marked sent here, without it the claim marked them already.
/// Those without a provider number get theirs, consecutive in the order of `due`, and all come
/// back with what sending them needs, in the order of `due`. One trip to the database.
async fn send_taken_in(
    tx: &mut AnyConnection,
    due: &[Due],
    taken: &HashMap<String, Option<i64>>,
    lease: Option<(i64, i64)>,
) -> Result<Vec<Claimed>, sqlx::Error> {
    if taken.is_empty() {
        return Ok(Vec::new());
    }
    let taken_ids: Vec<&str> = due
        .iter()
        .map(|job| job.transaction_id.as_str())
        .filter(|id| taken.contains_key(*id))
        .collect();
    // First attempts get their provider number now, consecutive in the order jobs fell due:
    // the counter moves by their count, and each takes its place below the counter's new
    // value, in the same trip.
    let unnumbered: Vec<&str> = taken_ids
        .iter()
        .copied()
        .filter(|id| taken[*id].is_none())
        .collect();
    let mut batch = Batch::new(tx);
    if lease.is_some() || !unnumbered.is_empty() {
        let count = i64::try_from(unnumbered.len()).unwrap_or(i64::MAX);
        let p = batch.placeholders();
        let mut next = 1;
        let mut set = Vec::new();
        if lease.is_some() {
            set.push(format!(
                "state = 'sent', attempts = attempts + 1, next_attempt_at_ms = {}, \
                 updated_at_ms = {}",
                p.nth(1),
                p.nth(2)
            ));
            next = 3;
        }
        if !unnumbered.is_empty() {
            network::next_numbers_into(&mut batch, TXN_COUNTER, count);
            // Jobs numbered by an earlier attempt are not in the list: theirs stays.
            let cases = (0..unnumbered.len())
                .map(|i| {
                    format!(
                        "WHEN {} THEN {}",
                        p.nth(next + 2 + 2 * i),
                        p.nth(next + 3 + 2 * i)
                    )
                })
                .collect::<Vec<_>>()
                .join(" ");
            set.push(format!(
                "txn_id = COALESCE(txn_id, \
                 (SELECT value FROM counters WHERE name = {}) - {} + CASE transaction_id {cases} END)",
                p.nth(next),
                p.nth(next + 1)
            ));
            next += 2 + 2 * unnumbered.len();
        }
        // Only the jobs being numbered when the claim marked them already.
        let targets: &[&str] = if lease.is_some() {
            &taken_ids
        } else {
            &unnumbered
        };
        let sql = format!(
            "UPDATE deliveries SET {} WHERE transaction_id IN ({})",
            set.join(", "),
            p.list_from(next, targets.len())
        );
        let (_, mut binder) = batch.push(sql);
        if let Some((now_ms, lease_until_ms)) = lease {
            binder.bind(lease_until_ms).bind(now_ms);
        }
        if !unnumbered.is_empty() {
            binder.bind(TXN_COUNTER).bind(count);
            for (place, id) in (1_i64..).zip(&unnumbered) {
                binder.bind(*id).bind(place);
            }
        }
        for id in targets {
            binder.bind(*id);
        }
    }
    let read = lists::rows_in_into(
        &mut batch,
        "SELECT d.transaction_id, d.provider, d.txn_id, d.attempts, p.account, p.amount_tiyn, \
         p.accepted_at_ms, p.dealer_code, p.point_code \
         FROM deliveries d JOIN payments p ON p.transaction_id = d.transaction_id \
         WHERE d.transaction_id",
        &taken_ids,
    );
    let mut done = batch.run(tx).await?;
    let rows = read.take(&mut done).rows;
    let mut claimed: HashMap<String, Claimed> = HashMap::with_capacity(rows.len());
    for row in &rows {
        let job = Claimed {
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
        claimed.insert(job.transaction_id.clone(), job);
    }
    Ok(taken_ids
        .iter()
        .filter_map(|id| claimed.remove(*id))
        .collect())
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
    insert_attempts_in(conn, &[(transaction_id, attempt)]).await
}

/// Keeps attempts `(transaction id, attempt)`, inside the caller's transaction: one statement
/// for up to [`ROWS_PER_STATEMENT`] of them. An attempt kept already is left as it is.
pub async fn insert_attempts_in(
    conn: &mut AnyConnection,
    attempts: &[(&str, &Attempt)],
) -> Result<(), sqlx::Error> {
    let mut batch = Batch::new(conn);
    insert_attempts_into(&mut batch, attempts);
    batch.run(conn).await.map(drop)
}

/// [`insert_attempts_in`]'s statements in `batch`.
pub fn insert_attempts_into<'q>(batch: &mut Batch<'q>, attempts: &[(&'q str, &'q Attempt)]) {
    for chunk in attempts.chunks(ROWS_PER_STATEMENT) {
        let sql = format!(
            "INSERT INTO delivery_attempts (transaction_id, attempt, at_ms, request, answer, \
             outcome, result_code, error, latency_ms) VALUES {} ON CONFLICT DO NOTHING",
            batch.placeholders().values(chunk.len(), 9)
        );
        let (_, mut binder) = batch.push(sql);
        for (transaction_id, attempt) in chunk {
            binder
                .bind(*transaction_id)
                .bind(attempt.attempt)
                .bind(attempt.at_ms)
                .bind(&attempt.request)
                .bind(&attempt.answer)
                .bind(&attempt.outcome)
                .bind(attempt.result_code)
                .bind(&attempt.error)
                .bind(attempt.latency_ms);
        }
    }
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
    let done = sqlx::query(concat!(
        "UPDATE deliveries SET state = 'delivered', provider_txn = $1, result_code = 0, \
         comment = $2, marked_by = $3, finished_at_ms = $4, updated_at_ms = $4, \
         next_attempt_at_ms = $4 \
         WHERE transaction_id = $5 AND ",
        unfinished!("state")
    ))
    .bind(provider_txn)
    .bind(comment)
    .bind(marked_by)
    .bind(now_ms)
    .bind(transaction_id)
    .execute(conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// A delivery the provider accepted, as [`mark_all_delivered_in`] records it.
pub struct DeliveredMark<'a> {
    pub transaction_id: &'a str,
    pub provider_txn: &'a str,
    pub comment: Option<&'a str>,
    pub at_ms: i64,
}

/// Marks deliveries delivered by the worker, in `batch` (the caller's transaction): one
/// statement for up to [`ROWS_PER_STATEMENT`] of them. Read with [`marked_found`] which it
/// marked.
pub fn mark_all_delivered_into<'q>(
    batch: &mut Batch<'q>,
    marks: &[DeliveredMark<'q>],
) -> Vec<Slot> {
    // A delivery marked twice in one statement would be reported twice; the first mark wins,
    // as it would one statement at a time.
    let mut first = HashSet::new();
    let unique: Vec<&DeliveredMark<'q>> = marks
        .iter()
        .filter(|mark| first.insert(mark.transaction_id))
        .collect();
    let mut slots = Vec::new();
    for chunk in unique.chunks(ROWS_PER_STATEMENT) {
        // Each row's own values come from a VALUES list joined in (`UPDATE … FROM`, which
        // SQLite has since 3.33 and PostgreSQL always had). The ids are named once more in an
        // `IN` list, which PostgreSQL looks up by primary key unless the table is tiny (a scan
        // would compare every row with the whole list). Joined to the VALUES alone, a plan made
        // while the table was small — and a prepared statement keeps its plan as the table
        // grows — read every delivery and hashed it: under the gateway benchmark 2.5–8 ms a
        // statement, 90 µs of the server's time a delivery (issue 14).
        let placeholders = batch.placeholders();
        let sql = format!(
            concat!(
                "WITH marks (id, provider_txn, comment, at_ms) AS (VALUES {}) \
                 UPDATE deliveries SET state = 'delivered', provider_txn = marks.provider_txn, \
                 result_code = 0, comment = marks.comment, marked_by = NULL, \
                 finished_at_ms = marks.at_ms, updated_at_ms = marks.at_ms, \
                 next_attempt_at_ms = marks.at_ms \
                 FROM marks WHERE deliveries.transaction_id = marks.id \
                 AND deliveries.transaction_id IN ({}) AND ",
                unfinished!("deliveries.state"),
                " RETURNING deliveries.transaction_id"
            ),
            placeholders.values(chunk.len(), 4),
            placeholders.list_from(chunk.len() * 4 + 1, chunk.len())
        );
        let (slot, mut binder) = batch.push(sql);
        for mark in chunk {
            binder
                .bind(mark.transaction_id)
                .bind(mark.provider_txn)
                .bind(mark.comment)
                .bind(mark.at_ms);
        }
        for mark in chunk {
            binder.bind(mark.transaction_id);
        }
        slots.push(slot);
    }
    slots
}

/// For each of `marks`, in order, whether [`mark_all_delivered_into`]'s statements marked it
/// (`false`: it had finished already, or the same delivery came earlier in `marks`).
pub fn marked_found(
    done: &mut [Done],
    slots: &[Slot],
    marks: &[DeliveredMark<'_>],
) -> Result<Vec<bool>, sqlx::Error> {
    let mut marked = HashSet::new();
    for slot in slots {
        for row in slot.take(done).rows {
            marked.insert(row.try_get::<String, _>("transaction_id")?);
        }
    }
    Ok(marks
        .iter()
        .map(|mark| marked.remove(mark.transaction_id))
        .collect())
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
    let done = sqlx::query(concat!(
        "UPDATE deliveries SET state = 'retrying', result_code = $1, comment = $2, \
         next_attempt_at_ms = $3, updated_at_ms = $4 \
         WHERE transaction_id = $5 AND ",
        unfinished!("state")
    ))
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
    let done = sqlx::query(concat!(
        "UPDATE deliveries SET state = 'failed', result_code = $1, comment = $2, refusal = $5, \
         finished_at_ms = $3, updated_at_ms = $3, next_attempt_at_ms = $3 \
         WHERE transaction_id = $4 AND ",
        unfinished!("state")
    ))
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
