//! Stored deliveries: the job that carries an accepted payment to its provider, and every
//! attempt at it. The policy (when to retry, what a refusal does) is in [`crate::delivery`];
//! this module only reads and writes rows.

use std::collections::{HashMap, HashSet};

use sqlx::{AnyConnection, AnyPool, Row, any::AnyRow};

use super::{
    batch::{Batch, Binder, Done, Slot},
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
    pub provider: String,
    /// When it fell due (its `next_attempt_at_ms` when read).
    pub due_at_ms: i64,
}

/// Up to `limit` unfinished deliveries that fell due from `from_ms` until `now_ms` (both
/// included), oldest due first. `i64::MIN` reads every delivery due.
pub async fn due(
    pool: &AnyPool,
    from_ms: i64,
    now_ms: i64,
    limit: i64,
) -> Result<Vec<Due>, sqlx::Error> {
    due_in(&mut *pool.acquire().await?, from_ms, now_ms, limit).await
}

/// [`due`] on `conn`. The condition and the order are `deliveries_unfinished`'s own (migration
/// 0016), which hands the first `limit` over without reading the rest of the backlog. From
/// `from_ms` on, on PostgreSQL, it begins where due deliveries can be instead of at the index's
/// first entry: every delivery that left the unfinished states left an entry behind there,
/// dead, until the table is vacuumed (see `crate::delivery::worker`'s `Floor`).
pub async fn due_in(
    conn: &mut AnyConnection,
    from_ms: i64,
    now_ms: i64,
    limit: i64,
) -> Result<Vec<Due>, sqlx::Error> {
    let rows = sqlx::query(
        "SELECT transaction_id, provider, next_attempt_at_ms FROM deliveries \
         WHERE state IN ('queued', 'sent', 'retrying') \
         AND next_attempt_at_ms >= $1 AND next_attempt_at_ms <= $2 \
         ORDER BY next_attempt_at_ms, transaction_id LIMIT $3",
    )
    .bind(from_ms)
    .bind(now_ms)
    .bind(limit)
    .fetch_all(conn)
    .await?;
    rows.iter().map(due_from_row).collect()
}

/// Up to `limit` unfinished deliveries of `providers` (at least one) that fell due from
/// `from_ms` until `now_ms`, oldest due first: the due jobs behind those of providers at their
/// cap, which [`due_in`] would read first however many there are. Each provider's first
/// `limit` are read on their own, through `deliveries_unfinished_by_provider` (migration 0019),
/// and the oldest of them kept: the jobs of the providers left out are never read, nor more
/// than `limit` of any provider's (one `IN` list for them all read every due job of each before
/// sorting them: 1.2 ms a read under the gateway benchmark). A claim whose lease ran out (its
/// worker died mid-attempt) is among them.
pub async fn due_of(
    pool: &AnyPool,
    providers: &[&str],
    from_ms: i64,
    now_ms: i64,
    limit: i64,
) -> Result<Vec<Due>, sqlx::Error> {
    due_of_in(
        &mut *pool.acquire().await?,
        providers,
        from_ms,
        now_ms,
        limit,
    )
    .await
}

/// How many providers one statement of [`due_of_in`] reads at most, each a subquery of its
/// `UNION ALL`: SQLite refuses a compound of more than 500 ("too many terms in compound
/// SELECT", `SQLITE_MAX_COMPOUND_SELECT`; with a catalogue of 600 every read past a silent
/// provider failed, and no other provider's payment went until it answered), and each count
/// is a statement of its own in the connection's cache of prepared statements — so the counts
/// are rounded up to a power of two, seven shapes in all.
const PROVIDERS_PER_READ: usize = 64;

/// [`due_of`] on `conn`. The worker asks for every provider of the catalogue with room; a
/// catalogue has hundreds, a day's deliveries go to a few dozen. Up to [`PROVIDERS_PER_READ`]
/// are read at once, each an index search that finds nothing when the provider has nothing
/// due; of more, only those with unfinished deliveries ([`with_unfinished_in`]), in as many
/// statements as they need.
pub async fn due_of_in(
    conn: &mut AnyConnection,
    providers: &[&str],
    from_ms: i64,
    now_ms: i64,
    limit: i64,
) -> Result<Vec<Due>, sqlx::Error> {
    if providers.len() <= PROVIDERS_PER_READ {
        return due_of_some_in(conn, providers, from_ms, now_ms, limit).await;
    }
    let asked: HashSet<&str> = providers.iter().copied().collect();
    let active = with_unfinished_in(conn).await?;
    let read: Vec<&str> = active
        .iter()
        .map(String::as_str)
        .filter(|code| asked.contains(code))
        .collect();
    let mut due = Vec::new();
    for some in read.chunks(PROVIDERS_PER_READ) {
        due.extend(due_of_some_in(conn, some, from_ms, now_ms, limit).await?);
    }
    due.sort_by(|a, b| (a.due_at_ms, &a.transaction_id).cmp(&(b.due_at_ms, &b.transaction_id)));
    due.truncate(usize::try_from(limit).unwrap_or(0));
    Ok(due)
}

/// The providers with unfinished deliveries, in code order: a loose index scan of
/// `deliveries_unfinished_by_provider`, one search of the index per provider found however
/// many deliveries each has (the recursive form is PostgreSQL's wiki's, "Loose indexscan",
/// https://wiki.postgresql.org/wiki/Loose_indexscan, begun at the empty code, which no provider
/// has, so that SQLite too searches the index at every step). The condition is the index's own,
/// `provider IS NOT NULL` too (migration 0019 says why).
async fn with_unfinished_in(conn: &mut AnyConnection) -> Result<Vec<String>, sqlx::Error> {
    sqlx::query_scalar(
        "WITH RECURSIVE active(code) AS ( \
           SELECT CAST('' AS TEXT) \
           UNION ALL \
           SELECT (SELECT provider FROM deliveries \
                   WHERE state IN ('queued', 'sent', 'retrying') AND provider IS NOT NULL \
                   AND provider > active.code ORDER BY provider LIMIT 1) \
           FROM active WHERE active.code IS NOT NULL) \
         SELECT code FROM active WHERE code <> ''",
    )
    .fetch_all(conn)
    .await
}

/// [`due_of_in`]'s read of `providers` (at most [`PROVIDERS_PER_READ`]) in one statement.
async fn due_of_some_in(
    conn: &mut AnyConnection,
    providers: &[&str],
    from_ms: i64,
    now_ms: i64,
    limit: i64,
) -> Result<Vec<Due>, sqlx::Error> {
    let p = Placeholders::Numbered;
    // Padded with the empty code, which no provider has: its subquery finds nothing.
    let subqueries = providers.len().next_power_of_two();
    // The condition is the index's own, `provider IS NOT NULL` too (migration 0019 says why).
    let each: Vec<String> = (0..subqueries)
        .map(|i| {
            format!(
                "SELECT * FROM (SELECT transaction_id, provider, next_attempt_at_ms \
                 FROM deliveries WHERE provider = {} \
                 AND state IN ('queued', 'sent', 'retrying') AND provider IS NOT NULL \
                 AND next_attempt_at_ms >= $1 AND next_attempt_at_ms <= $2 \
                 ORDER BY next_attempt_at_ms, transaction_id LIMIT $3) AS p{i}",
                p.nth(4 + i)
            )
        })
        .collect();
    let sql = format!(
        "SELECT transaction_id, provider, next_attempt_at_ms FROM ({}) AS due \
         ORDER BY next_attempt_at_ms, transaction_id LIMIT $3",
        each.join(" UNION ALL ")
    );
    let mut query = sqlx::query(&sql).bind(from_ms).bind(now_ms).bind(limit);
    for i in 0..subqueries {
        query = query.bind(providers.get(i).copied().unwrap_or(""));
    }
    query
        .fetch_all(conn)
        .await?
        .iter()
        .map(due_from_row)
        .collect()
}

fn due_from_row(row: &AnyRow) -> Result<Due, sqlx::Error> {
    Ok(Due {
        transaction_id: row.try_get("transaction_id")?,
        provider: row.try_get("provider")?,
        due_at_ms: row.try_get("next_attempt_at_ms")?,
    })
}

/// When the next unfinished delivery due from `from_ms` on falls due, if there is one (from
/// a floor, as [`due_in`] reads, or from `i64::MIN`).
pub async fn next_due_at(pool: &AnyPool, from_ms: i64) -> Result<Option<i64>, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT MIN(next_attempt_at_ms) FROM deliveries \
         WHERE state IN ('queued', 'sent', 'retrying') AND next_attempt_at_ms >= $1",
    )
    .bind(from_ms)
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
    /// A customer's card paid it: its fee is earned once delivered ([`crate::card::earn`]).
    pub card: bool,
}

/// Claims the jobs of `due` that are still due at `now_ms` (another worker may have taken some
/// since they were read), each until `lease_until_ms`, on **PostgreSQL**; numbers those that
/// have no provider number yet (in the order of `due`), and returns what each attempt needs,
/// in the order of `due`. A job not taken is left out. On SQLite a claim rides with the
/// payment groups ([`claim_into`], [`take_claimed_in`]; see `crate::delivery::riders`).
///
/// One statement for the whole batch, not five per job: every statement is a round trip, and
/// with one delivery per accepted payment, per-job statements were most of the gateway's work
/// under load (issue 14).
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
        claim_all_in(&mut *pool.acquire().await?, due, now_ms, lease_until_ms).await
    })
    .await
}

/// [`claim_all`] on `conn` (PostgreSQL), in its transaction if one is open, else as a
/// transaction of its own; `due` holds at least one job.
///
/// One statement: it locks the jobs still due (`FOR UPDATE` waits for a worker of another
/// gateway claiming the same jobs, and reads them again after its claim: a job it took, its
/// lease now its next attempt time, is left out), moves the provider numbers' counter by the
/// count of those with no number yet, and marks each sent, numbered, in one `UPDATE` that
/// returns what sending it needs (data-modifying `WITH`,
/// <https://www.postgresql.org/docs/current/queries-with.html#QUERIES-WITH-MODIFYING>).
/// Before, the same steps were a transaction of six round trips — begin, lock, counter, mark,
/// read, commit — per 16 jobs: under the gateway benchmark's drain (issue 14) 27 µs of the
/// server's time a delivery in the statements alone.
pub async fn claim_all_in(
    conn: &mut AnyConnection,
    due: &[Due],
    now_ms: i64,
    lease_until_ms: i64,
) -> Result<Vec<Claimed>, sqlx::Error> {
    let p = Placeholders::Numbered;
    let ids = p.list_from(4, due.len());
    // Where each job stands in `due`: the order new numbers are given in.
    let places = (0..due.len())
        .map(|i| format!("WHEN {} THEN {}", p.nth(4 + i), i + 1))
        .collect::<Vec<_>>()
        .join(" ");
    let sql = format!(
        concat!(
            "WITH taken AS (SELECT transaction_id, txn_id FROM deliveries WHERE ",
            still_due!(),
            " FOR UPDATE), \
             fresh AS (SELECT transaction_id, \
               ROW_NUMBER() OVER (ORDER BY CASE transaction_id {places} END) AS place \
               FROM taken WHERE txn_id IS NULL), \
             numbered AS (INSERT INTO counters (name, value) SELECT $3, COUNT(*) FROM fresh \
               HAVING COUNT(*) > 0 \
               ON CONFLICT (name) DO UPDATE SET value = counters.value + EXCLUDED.value \
               RETURNING value) \
             UPDATE deliveries d SET state = 'sent', attempts = d.attempts + 1, \
               next_attempt_at_ms = $2, updated_at_ms = $1, \
               txn_id = COALESCE(d.txn_id, \
                 (SELECT value FROM numbered) - (SELECT COUNT(*) FROM fresh) + fresh.place) \
             FROM taken JOIN payments p ON p.transaction_id = taken.transaction_id \
               LEFT JOIN fresh ON fresh.transaction_id = taken.transaction_id \
             WHERE d.transaction_id = taken.transaction_id AND d.transaction_id IN ({ids}) \
             RETURNING d.transaction_id, d.provider, d.txn_id, d.attempts, p.account, \
               p.amount_tiyn, p.accepted_at_ms, p.dealer_code, p.point_code, p.method"
        ),
        p.nth(1),
        ids,
        places = places,
        ids = ids,
    );
    let mut query = sqlx::query(&sql)
        .bind(now_ms)
        .bind(lease_until_ms)
        .bind(TXN_COUNTER);
    for job in due {
        query = query.bind(job.transaction_id.as_str());
    }
    let rows = query.fetch_all(conn).await?;
    in_order_of(due, &rows)
}

/// The first step of a claim on SQLite, as a statement of `batch` (the write transaction of a
/// payment group, or the riders' own): each job of `due` (at least one) still due now becomes
/// sent, its lease running until `lease_until_ms`. Pass the statement's outcome to
/// [`take_claimed_in`], in the same transaction.
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

/// The rest of a claim on SQLite, after [`claim_into`]'s statement `claimed` ran: the jobs it
/// took get their provider number if they have none yet (consecutive, in the order of `due`),
/// and come back with what sending them needs, in the order of `due` (a job not taken is left
/// out). One more trip to the database.
pub async fn take_claimed_in(
    tx: &mut AnyConnection,
    due: &[Due],
    claimed: Done,
) -> Result<Vec<Claimed>, sqlx::Error> {
    let mut taken: HashMap<String, Option<i64>> = HashMap::new();
    for row in &claimed.rows {
        taken.insert(row.try_get("transaction_id")?, row.try_get("txn_id")?);
    }
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
    if !unnumbered.is_empty() {
        let count = i64::try_from(unnumbered.len()).unwrap_or(i64::MAX);
        network::next_numbers_into(&mut batch, TXN_COUNTER, count);
        let p = batch.placeholders();
        // Jobs numbered by an earlier attempt are not in the list: theirs stays.
        let cases = (0..unnumbered.len())
            .map(|i| format!("WHEN {} THEN {}", p.nth(3 + 2 * i), p.nth(4 + 2 * i)))
            .collect::<Vec<_>>()
            .join(" ");
        let sql = format!(
            "UPDATE deliveries SET txn_id = COALESCE(txn_id, \
             (SELECT value FROM counters WHERE name = {}) - {} + CASE transaction_id {cases} END) \
             WHERE transaction_id IN ({})",
            p.nth(1),
            p.nth(2),
            p.list_from(3 + 2 * unnumbered.len(), unnumbered.len())
        );
        let (_, mut binder) = batch.push(sql);
        binder.bind(TXN_COUNTER).bind(count);
        for (place, id) in (1_i64..).zip(&unnumbered) {
            binder.bind(*id).bind(place);
        }
        for id in &unnumbered {
            binder.bind(*id);
        }
    }
    let read = lists::rows_in_into(
        &mut batch,
        "SELECT d.transaction_id, d.provider, d.txn_id, d.attempts, p.account, p.amount_tiyn, \
         p.accepted_at_ms, p.dealer_code, p.point_code, p.method \
         FROM deliveries d JOIN payments p ON p.transaction_id = d.transaction_id \
         WHERE d.transaction_id",
        &taken_ids,
    );
    let mut done = batch.run(tx).await?;
    in_order_of(due, &read.take(&mut done).rows)
}

/// What sending each job needs, from `rows` (a claim's: transaction id, provider, provider
/// number, attempts, and the payment's account, amount, acceptance time, dealer and point), in
/// the order of `due`; a job without a row is left out.
fn in_order_of(due: &[Due], rows: &[AnyRow]) -> Result<Vec<Claimed>, sqlx::Error> {
    let mut claimed: HashMap<String, Claimed> = HashMap::with_capacity(rows.len());
    for row in rows {
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
            card: row.try_get::<String, _>("method")? == "card",
        };
        claimed.insert(job.transaction_id.clone(), job);
    }
    Ok(due
        .iter()
        .filter_map(|job| claimed.remove(&job.transaction_id))
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

/// Keeps an attempt, inside the caller's transaction. An attempt kept already is left as it
/// is.
pub async fn insert_attempt_in(
    conn: &mut AnyConnection,
    transaction_id: &str,
    attempt: &Attempt,
) -> Result<(), sqlx::Error> {
    let mut batch = Batch::new(conn);
    insert_attempts_into(&mut batch, &[(transaction_id, attempt)]);
    batch.run(conn).await.map(drop)
}

/// Keeps attempts `(transaction id, attempt)` as statements of `batch`: one for up to
/// [`ROWS_PER_STATEMENT`] of them. An attempt kept already is left as it is.
pub fn insert_attempts_into<'q>(batch: &mut Batch<'q>, attempts: &[(&'q str, &'q Attempt)]) {
    for chunk in attempts.chunks(ROWS_PER_STATEMENT) {
        let sql = insert_attempts_sql(batch.placeholders().values(chunk.len(), 9));
        let (_, mut binder) = batch.push(sql);
        bind_attempts(&mut binder, chunk);
    }
}

/// The statement that keeps attempts, their rows' placeholders `values`.
fn insert_attempts_sql(values: String) -> String {
    format!(
        "INSERT INTO delivery_attempts (transaction_id, attempt, at_ms, request, answer, \
         outcome, result_code, error, latency_ms) VALUES {values} ON CONFLICT DO NOTHING"
    )
}

/// Binds the values of [`insert_attempts_sql`]'s rows, in order.
fn bind_attempts<'q>(binder: &mut Binder<'_, 'q>, attempts: &[(&'q str, &'q Attempt)]) {
    for (transaction_id, attempt) in attempts {
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

/// Where an attempt leaves its delivery, as [`mark_all_into`] records it.
#[derive(Debug, Clone, Copy)]
pub enum Outcome<'a> {
    /// The provider accepted the payment, under its own number if it gave one.
    Delivered { provider_txn: Option<&'a str> },
    /// A temporary answer (its result code) or none at all: the job is due again at
    /// `next_ms`, to be asked with the same number — written only while `claim` (the number
    /// of the attempt it comes from, [`Claimed::attempt`]) is still the delivery's latest
    /// claim (see [`mark_all_into`]).
    Retrying {
        result_code: Option<i64>,
        next_ms: i64,
        claim: i64,
    },
}

/// An attempt of the worker's and where it leaves its delivery.
pub struct OutcomeMark<'a> {
    pub transaction_id: &'a str,
    /// None when no exchange took place (the provider has no usable connection): only the
    /// mark is written.
    pub attempt: Option<&'a Attempt>,
    pub outcome: Outcome<'a>,
    /// The provider's comment, if it gave one (or why it could not be reached).
    pub comment: Option<&'a str>,
    pub at_ms: i64,
}

impl<'a> OutcomeMark<'a> {
    /// The columns of its row in the marks' `VALUES`: state, provider's number, result code,
    /// next attempt, finishing time, and the claim it must still be the latest of (none: any).
    #[allow(clippy::type_complexity)]
    fn row(
        &self,
    ) -> (
        &'static str,
        Option<&'a str>,
        Option<i64>,
        i64,
        Option<i64>,
        Option<i64>,
    ) {
        match self.outcome {
            Outcome::Delivered { provider_txn } => (
                "delivered",
                provider_txn,
                Some(0),
                self.at_ms,
                Some(self.at_ms),
                None,
            ),
            Outcome::Retrying {
                result_code,
                next_ms,
                claim,
            } => ("retrying", None, result_code, next_ms, None, Some(claim)),
        }
    }

    /// Which mark wins when two name the same delivery: one that finishes it (delivered) over
    /// one that puts it back in line, then the later claim's, then the first.
    fn rank(&self) -> (bool, i64) {
        match self.outcome {
            Outcome::Delivered { .. } => (true, 0),
            Outcome::Retrying { claim, .. } => (false, claim),
        }
    }
}

/// For each of `marks`, whether it is the one [`mark_all_into`] writes for its delivery (a
/// delivery named twice is marked once: see [`OutcomeMark::rank`]).
fn written_marks(marks: &[OutcomeMark<'_>]) -> Vec<bool> {
    let mut best: HashMap<&str, usize> = HashMap::new();
    for (i, mark) in marks.iter().enumerate() {
        best.entry(mark.transaction_id)
            .and_modify(|kept| {
                if mark.rank() > marks[*kept].rank() {
                    *kept = i;
                }
            })
            .or_insert(i);
    }
    (0..marks.len())
        .map(|i| best.get(marks[i].transaction_id) == Some(&i))
        .collect()
}

/// Keeps the attempts of the worker's deliveries and marks each delivered or back in line
/// ([`Outcome`]), in `batch` (the caller's transaction, or on PostgreSQL a statement on its
/// own): one statement for up to [`ROWS_PER_STATEMENT`] of them on PostgreSQL, two on SQLite
/// (where a batch is one trip anyway). A delivery finished meanwhile (by hand, or by another
/// worker) is left as it is; so is one put back in line by an attempt whose claim is no longer
/// the latest ([`Outcome::Retrying`]). Read with [`marked_found`] which it marked.
///
/// Why a stale claim's temporary answer is dropped: its claim ran out and another worker (of
/// this gateway or another) claimed the delivery again and is asking the provider right now.
/// Written, it would put the delivery back in line — claimed and sent a third time while that
/// attempt is in flight, two requests for one `txn_id` at the provider at once — and make it
/// look idle to the operator's *mark refused*, whose guard is "no attempt in flight". Its
/// attempt is kept all the same. A stale *delivered* is written (if the delivery is still
/// unfinished): the provider said it has the payment, and the latest attempt asks with the same
/// number, so it can only hear the same. (A stale final refusal is the provider's last word on
/// that number too, and is written as any: [`mark_failed_in`].)
pub fn mark_all_into<'q>(batch: &mut Batch<'q>, marks: &[OutcomeMark<'q>]) -> Vec<Slot> {
    // A delivery marked twice in one statement would be reported twice; one mark is written
    // ([`written_marks`]): a delivered one, else the latest claim's, else the first — not a
    // stale one that would leave the latest claim's unwritten. Every attempt is kept (one
    // already kept is left).
    let written = written_marks(marks);
    let mut slots = Vec::new();
    for (chunk, written) in marks
        .chunks(ROWS_PER_STATEMENT)
        .zip(written.chunks(ROWS_PER_STATEMENT))
    {
        let attempts: Vec<(&'q str, &'q Attempt)> = chunk
            .iter()
            .filter_map(|mark| Some((mark.transaction_id, mark.attempt?)))
            .collect();
        let unique: Vec<&OutcomeMark<'q>> = chunk
            .iter()
            .zip(written)
            .filter_map(|(mark, written)| written.then_some(mark))
            .collect();
        let p = batch.placeholders();
        // On PostgreSQL the attempts are a data-modifying `WITH` of the marks' statement: one
        // round trip, and with nothing else to write, no transaction of its own to begin and
        // commit (before: four trips per batch of outcomes, issue 14). The attempts' foreign
        // key to their delivery is checked at the statement's end, after its mark.
        let keep_attempts = match p {
            Placeholders::Numbered if attempts.is_empty() => None,
            Placeholders::Numbered if !unique.is_empty() => Some(format!(
                ", attempts AS ({})",
                insert_attempts_sql(p.values_from(
                    unique.len() * (MARK_COLUMNS + 1) + 1,
                    attempts.len(),
                    9
                ))
            )),
            _ => {
                insert_attempts_into(batch, &attempts);
                None
            }
        };
        if unique.is_empty() {
            continue;
        }
        // Each row's own values come from a VALUES list joined in (`UPDATE … FROM`, which
        // SQLite has since 3.33 and PostgreSQL always had). The ids are named once more in an
        // `IN` list, which PostgreSQL looks up by primary key unless the table is tiny (a scan
        // would compare every row with the whole list). Joined to the VALUES alone, a plan made
        // while the table was small — and a prepared statement keeps its plan as the table
        // grows — read every delivery and hashed it: under the gateway benchmark 2.5–8 ms a
        // statement, 90 µs of the server's time a delivery (issue 14).
        let sql = format!(
            concat!(
                "WITH marks (id, state, provider_txn, result_code, comment, next_ms, \
                 finished_ms, at_ms, claim) AS (VALUES {}){} \
                 UPDATE deliveries SET state = marks.state, provider_txn = marks.provider_txn, \
                 result_code = marks.result_code, comment = marks.comment, marked_by = NULL, \
                 finished_at_ms = marks.finished_ms, updated_at_ms = marks.at_ms, \
                 next_attempt_at_ms = marks.next_ms \
                 FROM marks WHERE deliveries.transaction_id = marks.id \
                 AND deliveries.transaction_id IN ({}) \
                 AND (marks.claim IS NULL OR deliveries.attempts = marks.claim) AND ",
                unfinished!("deliveries.state"),
                " RETURNING deliveries.transaction_id"
            ),
            p.values(unique.len(), MARK_COLUMNS),
            keep_attempts.as_deref().unwrap_or_default(),
            p.list_from(unique.len() * MARK_COLUMNS + 1, unique.len())
        );
        let (slot, mut binder) = batch.push(sql);
        for mark in &unique {
            let (state, provider_txn, result_code, next_ms, finished_ms, claim) = mark.row();
            binder
                .bind(mark.transaction_id)
                .bind(state)
                .bind(provider_txn)
                .bind(result_code)
                .bind(mark.comment)
                .bind(next_ms)
                .bind(finished_ms)
                .bind(mark.at_ms)
                .bind(claim);
        }
        for mark in &unique {
            binder.bind(mark.transaction_id);
        }
        if keep_attempts.is_some() {
            bind_attempts(&mut binder, &attempts);
        }
        slots.push(slot);
    }
    slots
}

/// The values of a mark's row in [`mark_all_into`]'s `VALUES`.
const MARK_COLUMNS: usize = 9;

/// For each of `marks`, in order, whether [`mark_all_into`]'s statements marked it (`false`:
/// it had finished already, its claim was no longer the latest, or another mark of the same
/// delivery in `marks` was the one written).
pub fn marked_found(
    done: &mut [Done],
    slots: &[Slot],
    marks: &[OutcomeMark<'_>],
) -> Result<Vec<bool>, sqlx::Error> {
    let mut marked = HashSet::new();
    for slot in slots {
        for row in slot.take(done).rows {
            marked.insert(row.try_get::<String, _>("transaction_id")?);
        }
    }
    Ok(marks
        .iter()
        .zip(written_marks(marks))
        .map(|(mark, written)| written && marked.contains(mark.transaction_id))
        .collect())
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

/// How many of `provider`'s deliveries are unfinished (queued, sent or retrying): what a
/// provider switched off still has to deliver.
pub async fn unfinished_of_provider<'e>(
    executor: impl sqlx::Executor<'e, Database = sqlx::Any>,
    provider: &str,
) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT COUNT(*) FROM deliveries \
         WHERE provider = $1 AND state IN ('queued', 'sent', 'retrying')",
    )
    .bind(provider)
    .fetch_one(executor)
    .await
}

/// A delivery the console lists as troubled, with its payment's account and amount, and how
/// many troubled deliveries its provider has in all (the list shows at most some of each).
#[derive(Debug, Clone)]
pub struct Troubled {
    pub delivery: Delivery,
    pub account: String,
    pub amount_tiyn: i64,
    pub of_provider: i64,
}

/// Unfinished deliveries queued before `before_ms` and failed ones finished since
/// `failed_since_ms`, of one dealer or (operator) all: at most `per_provider` of each provider,
/// by provider, oldest first. Each provider has its share, so one provider's outage does not
/// push every other provider's troubles out of a list cut at a fixed length.
pub async fn troubled<'e>(
    executor: impl sqlx::Executor<'e, Database = sqlx::Any>,
    dealer_code: Option<&str>,
    before_ms: i64,
    failed_since_ms: i64,
    per_provider: i64,
) -> Result<Vec<Troubled>, sqlx::Error> {
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
    // Two halves, each read through the index of just its rows (`deliveries_unfinished`,
    // `deliveries_failed`): joined by `OR` in one condition, both databases read every
    // delivery ever made to find them (migration 0017). Ordered outside them, where the
    // columns go by their names on both databases.
    let select = format!(
        "SELECT {columns}, p.account, p.amount_tiyn FROM deliveries d \
         JOIN payments p ON p.transaction_id = d.transaction_id WHERE {whose}"
    );
    let rows = sqlx::query(&format!(
        "SELECT * FROM ( \
         SELECT troubled.*, \
         ROW_NUMBER() OVER (PARTITION BY provider ORDER BY queued_at_ms, transaction_id) AS nth, \
         COUNT(*) OVER (PARTITION BY provider) AS of_provider FROM ( \
         {select} AND d.state IN ('queued', 'sent', 'retrying') AND d.queued_at_ms < $1 \
         UNION ALL \
         {select} AND d.state = 'failed' AND d.finished_at_ms >= $2 \
         ) AS troubled) AS ranked WHERE nth <= $3 ORDER BY provider, queued_at_ms"
    ))
    .bind(before_ms)
    .bind(failed_since_ms)
    .bind(per_provider)
    .bind(dealer)
    .fetch_all(executor)
    .await?;
    rows.iter()
        .map(|row| {
            Ok(Troubled {
                delivery: from_row(row)?,
                account: row.try_get("account")?,
                amount_tiyn: row.try_get("amount_tiyn")?,
                of_provider: row.try_get("of_provider")?,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mark(id: &'static str, outcome: Outcome<'static>) -> OutcomeMark<'static> {
        OutcomeMark {
            transaction_id: id,
            attempt: None,
            outcome,
            comment: None,
            at_ms: 1,
        }
    }

    fn later(claim: i64) -> Outcome<'static> {
        Outcome::Retrying {
            result_code: None,
            next_ms: 1,
            claim,
        }
    }

    /// Two outcomes of one delivery in one batch: a stale claim's temporary answer that comes
    /// first must not stand in for the latest claim's, nor for a delivered one (it would not be
    /// written, and neither would they).
    #[test]
    fn a_delivery_named_twice_is_marked_by_its_latest_or_delivered_outcome() {
        let delivered = Outcome::Delivered {
            provider_txn: Some("p"),
        };
        let marks = [
            mark("T-1", later(1)),
            mark("T-1", delivered),
            mark("T-2", later(1)),
            mark("T-2", later(2)),
            mark("T-3", later(3)),
            mark("T-3", later(3)),
            mark("T-4", delivered),
            mark("T-4", later(5)),
        ];
        assert_eq!(
            written_marks(&marks),
            [false, true, false, true, true, false, true, false]
        );
    }
}
