//! Guards issue 14 item 4's "index every query on the payment path": every statement the
//! gateway runs while it takes, decides, records and delivers cash payments — the signed
//! request's checks, the payment groups' batches, the delivery worker's claims and outcomes,
//! `status` — finds its rows through an index (SQLite's `EXPLAIN QUERY PLAN` says `SEARCH`),
//! never by reading a whole table (`SCAN`), which under the one write lock would make every
//! payment wait longer as the tables grow. The dealer console's payment search (newest first,
//! by time) is checked the same way: it is what `payments_dealer_received` (migration 0015)
//! is for.
//!
//! The statements are the ones sqlx really ran, caught from its query log (`sqlx::query`
//! events), so a new statement on the path is checked without being listed here. The plans are
//! SQLite's: PostgreSQL's planner chooses by its statistics, and the gateway benchmark
//! analyzes it before measuring; under `TOLEM_TEST_POSTGRES_URL` this test only checks that
//! the payments went through.
//!
//! On PostgreSQL, statistics lag behind the deliveries table, and a plan chosen on them once
//! read the whole backlog of undelivered payments for every batch of outcomes: the second test
//! builds that backlog behind stale statistics and counts the rows the delivery worker's
//! statements read. The third does the same for a plan made while the table was small, which
//! a prepared statement keeps as the table grows. The fourth checks that a provider's registry
//! of a day and the console's troubled deliveries, off the payment path, read the deliveries
//! they list and not the whole table. The worker's reads past the providers at their cap ask
//! for every other provider of a catalogue of hundreds: counted on PostgreSQL with the others,
//! and their SQLite plans checked on their own (they run only while a provider is at its cap).

mod support;

use std::{
    sync::{Mutex, OnceLock},
    time::Duration,
};

use sqlx::Row;
use support::{
    delivery::{emulator, quick_retry},
    payments::{DEALER, kcell},
};
use tolem_gateway::{
    db::{
        batch::Batch,
        deliveries::{self, Attempt, Due, Outcome, OutcomeMark},
        now_ms,
        payments::{self, Search},
    },
    delivery::registry,
    payments::business_date,
};
use tolem_protocol::{codes::ResultCode, messages::DeliveryState};
use tracing_subscriber::{Layer, layer::Context, prelude::*};

/// 1 000 tenge.
const THOUSAND: i64 = 100_000;

/// Held by the tests whose statements are caught (they share the log), so that one does not
/// catch another's.
static CATCHING: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// Every statement sqlx logged since the last [`take_statements`], as it ran.
fn statements() -> &'static Mutex<Vec<String>> {
    static STATEMENTS: OnceLock<Mutex<Vec<String>>> = OnceLock::new();
    STATEMENTS.get_or_init(|| {
        tracing_subscriber::registry().with(QueryLog).init();
        Mutex::default()
    })
}

fn take_statements() -> Vec<String> {
    std::mem::take(&mut *statements().lock().unwrap())
}

/// Keeps the text of each query sqlx runs: `db.statement`, or `summary` when sqlx left the
/// statement out because the summary already is all of it.
struct QueryLog;

impl<S: tracing::Subscriber> Layer<S> for QueryLog {
    fn on_event(&self, event: &tracing::Event<'_>, _: Context<'_, S>) {
        if event.metadata().target() != "sqlx::query" {
            return;
        }
        let mut fields = QueryFields::default();
        event.record(&mut fields);
        let text = if fields.statement.trim().is_empty() {
            fields.summary
        } else {
            fields.statement
        };
        statements().lock().unwrap().push(text);
    }
}

#[derive(Default)]
struct QueryFields {
    summary: String,
    statement: String,
}

impl tracing::field::Visit for QueryFields {
    fn record_str(&mut self, field: &tracing::field::Field, value: &str) {
        match field.name() {
            "summary" => self.summary = value.to_owned(),
            "db.statement" => self.statement = value.to_owned(),
            _ => {}
        }
    }

    fn record_debug(&mut self, _: &tracing::field::Field, _: &dyn std::fmt::Debug) {}
}

/// The single statements of the logged queries (a batch runs several as one query on
/// SQLite, joined by `;`), without the transaction's own (`BEGIN`, `COMMIT`, savepoints),
/// each once.
fn single_statements(queries: &[String]) -> Vec<String> {
    let mut singles: Vec<String> = queries
        .iter()
        .flat_map(|query| query.split(';'))
        .map(|statement| statement.split_whitespace().collect::<Vec<_>>().join(" "))
        .filter(|statement| {
            let first = statement.split(' ').next().unwrap_or("").to_uppercase();
            !matches!(
                first.as_str(),
                "" | "BEGIN" | "COMMIT" | "ROLLBACK" | "SAVEPOINT" | "RELEASE" | "PRAGMA"
            )
        })
        .collect();
    singles.sort_unstable();
    singles.dedup();
    singles
}

/// The steps of SQLite's plan for `statement` that read a whole table or index. Reading the
/// statement's own values is no scan of stored rows: a `VALUES` list (`SCAN CONSTANT ROW`,
/// `SCAN 2-ROW VALUES CLAUSE`), a `WITH` list of them by its name (`SCAN marks`), or what a
/// subquery of its own found (`SCAN p0` of `(SELECT …) AS p0`).
async fn scans(conn: &mut sqlx::AnyConnection, statement: &str) -> Vec<String> {
    let plan = sqlx::query(&format!("EXPLAIN QUERY PLAN {statement}"))
        .fetch_all(&mut *conn)
        .await
        .unwrap_or_else(|error| panic!("EXPLAIN QUERY PLAN {statement}: {error}"));
    let own_list = |name: &str| {
        statement.contains(&format!("WITH {name} "))
            || statement.contains(&format!(", {name} ("))
            || statement.contains(&format!("WITH RECURSIVE {name}("))
            || statement.contains(&format!(") AS {name}"))
    };
    plan.iter()
        .map(|row| row.try_get::<String, _>("detail").unwrap())
        .filter(|step| {
            let Some(scanned) = step.strip_prefix("SCAN ") else {
                return false;
            };
            let name = scanned.split(' ').next().unwrap_or("");
            // A VALUES list of several rows is `SCAN 2 CONSTANT ROWS`: its count comes first.
            let counted = scanned.trim_start_matches(|c: char| c.is_ascii_digit() || c == ' ');
            // `(subquery-N)`: the statement's own intermediate rows (a window function's
            // input), never a table.
            let own_values = counted.starts_with("CONSTANT ROW")
                || scanned.ends_with("VALUES CLAUSE")
                || name.starts_with("(subquery-")
                || own_list(name);
            !own_values
        })
        .collect()
}

#[tokio::test]
async fn the_payment_path_and_the_dealers_search_read_by_index() {
    let _catching = CATCHING.lock().await;
    take_statements();
    let gateway = support::start().await;
    let on_sqlite = std::env::var(support::POSTGRES_URL_VARIABLE).is_err();
    let phone = gateway.ready_phone(1).await;
    let provider = emulator(&["--open"]).await;
    gateway
        .connect_provider("kcell", &provider.url, 5_000)
        .await;
    // Daily limits, so that the day's sums are read and written too.
    gateway
        .sql("UPDATE points SET daily_limit_tiyn = 100000000")
        .await;
    gateway
        .sql(&format!(
            "UPDATE dealers SET daily_limit_tiyn = 100000000 WHERE code = '{DEALER}'"
        ))
        .await;
    let _worker = gateway.start_delivery(quick_retry());
    // What setting the test up ran is not the payment path.
    take_statements();

    let mut paid = Vec::new();
    for account in ["7011111111", "7012222222", "7013333333"] {
        let (request, reply) = gateway.pay(&phone, kcell(account, THOUSAND)).await;
        assert_eq!(reply.code(), ResultCode::Ok, "{account}");
        paid.push(request);
    }
    // The same session again (a phone that did not hear the answer), and a duplicate refused.
    let (_, again) = gateway.pay(&phone, kcell("7011111111", THOUSAND)).await;
    assert_ne!(again.code(), ResultCode::Ok, "the duplicate rule");
    for request in &paid {
        gateway
            .delivery_when(&phone, request, Duration::from_secs(30), |delivery| {
                delivery.state == DeliveryState::Delivered
            })
            .await;
    }
    let search = Search {
        dealer_code: DEALER.to_owned(),
        from_ms: Some(0),
        to_ms: Some(i64::MAX),
        point_code: None,
        provider: None,
        account: None,
        state: None,
        code: None,
        session: None,
        after: None,
        limit: 50,
    };
    let listed = payments::search(&gateway.pool, &search).await.unwrap();
    assert_eq!(listed.len(), 4, "three accepted and the duplicate refused");
    // The next page of an export, after the newest.
    let newest = &listed[0];
    let next = Search {
        after: Some((newest.received_at_ms, newest.transaction_id.clone())),
        ..search.clone()
    };
    let older = payments::search(&gateway.pool, &next).await.unwrap();
    assert_eq!(older.len(), 3);

    let ran = single_statements(&take_statements());
    if !on_sqlite {
        return;
    }
    for expected in [
        "INSERT INTO payments",
        "UPDATE deliveries",
        "INSERT INTO day_sums",
        "FROM payments p LEFT JOIN providers",
    ] {
        assert!(
            ran.iter().any(|statement| statement.contains(expected)),
            "no statement with {expected:?} was caught: {ran:#?}"
        );
    }
    let mut conn = gateway.pool.acquire().await.unwrap();
    let mut scanning = Vec::new();
    // The delivery worker's read of every provider's places in flight (`connections::places`)
    // reads the catalogue whole by design, at most once a second however many payments come.
    let once_a_second = |statement: &str| statement.contains("SELECT p.code, c.in_flight_max");
    for statement in ran.iter().filter(|statement| !once_a_second(statement)) {
        let steps = scans(&mut conn, statement).await;
        if !steps.is_empty() {
            scanning.push(format!("{statement}\n    {}", steps.join("\n    ")));
        }
    }
    assert!(
        scanning.is_empty(),
        "statements that read a whole table:\n{}",
        scanning.join("\n")
    );
}

/// How many unfinished deliveries the second test puts behind the statements it watches.
const BACKLOG: usize = 20_000;

/// PostgreSQL only (SQLite's plans are checked above): a claim and a batch of outcomes read
/// the deliveries they name, by primary key, and the worker's look for the next due ones reads
/// as many as it takes, however many deliveries wait behind them and whatever the planner's
/// statistics say — here, statistics taken when every delivery was finished, with 20 000
/// waiting since (a provider that was down, the benchmark's long runs). Through the index by
/// state and due time, each of them read the whole backlog.
#[tokio::test]
async fn the_delivery_worker_reads_its_own_deliveries_behind_a_backlog() {
    // Copies of the one payment and its delivery make the backlog, first all finished and
    // analyzed so, then unfinished again behind the planner's back.
    let Some((_gateway, mut conn)) = a_backlog_on_postgres().await else {
        return;
    };
    run(
        &mut conn,
        "ANALYZE deliveries; \
         UPDATE deliveries SET state = 'queued', provider_txn = NULL, finished_at_ms = NULL",
    )
    .await;
    let named: Vec<String> = (1..=16).map(|n| format!("D001-1-{n}")).collect();
    let due: Vec<Due> = named
        .iter()
        .map(|id| Due {
            transaction_id: id.clone(),
            provider: "kcell".to_owned(),
            due_at_ms: 1,
        })
        .collect();

    run(&mut conn, "BEGIN").await;
    // The counts include this connection's earlier transactions until the server publishes
    // them (the setting up above read the whole table): what counts is the difference.
    let before = rows_read(&mut conn).await;
    let claimed = deliveries::claim_all_in(&mut conn, &due, 1, 2)
        .await
        .unwrap();
    assert_eq!(
        claimed.len(),
        named.len(),
        "every named delivery is claimed"
    );
    let claim_read = rows_read(&mut conn).await - before;
    let marked = mark_delivered(&mut conn, &named).await;
    assert!(marked.iter().all(|m| *m), "every named delivery is marked");
    let marks_read = rows_read(&mut conn).await - before - claim_read;
    // The worker's next hundred, oldest due first (the claimed ones are due again at 2).
    let next = deliveries::due_in(&mut conn, i64::MIN, 1, 100)
        .await
        .unwrap();
    assert_eq!(next.len(), 100, "the backlog is due");
    let due_read = rows_read(&mut conn).await - before - claim_read - marks_read;
    run(&mut conn, "ROLLBACK").await;

    // Each statement reads the 16 rows it names (the claim reads them once more, to mark
    // them, and the outcomes' attempts once more, for their foreign key); a backlog read
    // through `deliveries_due` is thousands.
    assert!(
        claim_read < 100,
        "a claim of {} deliveries read {claim_read} rows of deliveries",
        named.len()
    );
    assert!(
        due_read <= 100,
        "the next 100 due deliveries read {due_read} rows of deliveries"
    );
    assert!(
        marks_read < 100,
        "marking {} deliveries read {marks_read} rows of deliveries",
        named.len()
    );
}

/// PostgreSQL only: a delivery that leaves the unfinished states leaves its entry in the index
/// of unfinished deliveries by due time behind, dead, until the table is vacuumed — at the
/// index's start. The worker's reads begin where due deliveries can be (its floor), and step
/// over none of them; a read from the start, as every read was before, steps over them all.
#[tokio::test]
async fn the_worker_s_reads_begin_past_the_entries_finished_deliveries_left() {
    // 20 000 deliveries queued at 1 000 and finished since (one transaction, so the gateway's
    // own worker never sees them due), with autovacuum off; then the one payment's own
    // delivery due at 5 000.
    let Some((_gateway, mut conn)) = a_backlog_on_postgres().await else {
        return;
    };
    run(
        &mut conn,
        "BEGIN; \
         UPDATE deliveries SET state = 'queued', provider_txn = NULL, finished_at_ms = NULL, \
         next_attempt_at_ms = 1000 WHERE transaction_id <> 'D001-1'; \
         UPDATE deliveries SET state = 'delivered', provider_txn = 'p', finished_at_ms = 2000, \
         next_attempt_at_ms = 2000 WHERE transaction_id <> 'D001-1'; \
         COMMIT; \
         UPDATE deliveries SET state = 'queued', provider_txn = NULL, finished_at_ms = NULL, \
         next_attempt_at_ms = 5000 WHERE transaction_id = 'D001-1'",
    )
    .await;
    let ids = |due: &[Due]| {
        due.iter()
            .map(|job| job.transaction_id.clone())
            .collect::<Vec<_>>()
    };
    // A first read from the start marks the dead entries so (as any scan does); the next ones
    // skip them without visiting the table, but still read the index pages they fill.
    let first = deliveries::due_in(&mut conn, i64::MIN, 10_000, 100)
        .await
        .unwrap();
    assert_eq!(ids(&first), ["D001-1"]);

    let before = unfinished_index_blocks(&mut conn).await;
    let from_start = deliveries::due_in(&mut conn, i64::MIN, 10_000, 100)
        .await
        .unwrap();
    let start_blocks = unfinished_index_blocks(&mut conn).await - before;
    let before = unfinished_index_blocks(&mut conn).await;
    // The worker's floor: the margin before the first job its last read found due.
    let from_floor = deliveries::due_in(&mut conn, 3_000, 10_000, 100)
        .await
        .unwrap();
    let floor_blocks = unfinished_index_blocks(&mut conn).await - before;

    assert_eq!(ids(&from_start), ["D001-1"]);
    assert_eq!(ids(&from_floor), ["D001-1"], "the floor keeps the job due");
    assert_eq!(from_floor[0].due_at_ms, 5_000);
    assert!(
        floor_blocks <= 3,
        "a read from the floor read {floor_blocks} pages of the index (from the start: \
         {start_blocks})"
    );
    assert!(
        start_blocks > 50,
        "the 20 000 dead entries fill the index's first pages: {start_blocks} read from the start"
    );
}

/// PostgreSQL only: a provider that does not answer has 20 000 payments due, ahead of three of
/// another provider's (two waiting for an attempt, one claimed by a worker that died, its lease
/// run out); the worker, its places to the first all taken, reads the other's due jobs past
/// them, reading those three rows and no more of the backlog (statistics taken with the
/// backlog there, as autovacuum would), and leaves the other's claim still held.
#[tokio::test]
async fn the_worker_reads_past_a_silent_providers_backlog() {
    let Some((_gateway, mut conn)) = a_backlog_on_postgres().await else {
        return;
    };
    run(
        &mut conn,
        "UPDATE deliveries SET state = 'queued', provider_txn = NULL, finished_at_ms = NULL, \
         next_attempt_at_ms = 1000; \
         UPDATE deliveries SET provider = 'beeline', next_attempt_at_ms = 2000 \
         WHERE transaction_id IN ('D001-1-1', 'D001-1-2', 'D001-1-3', 'D001-1-4'); \
         UPDATE deliveries SET state = 'sent' WHERE transaction_id = 'D001-1-3'; \
         UPDATE deliveries SET state = 'sent', next_attempt_at_ms = 20000 \
         WHERE transaction_id = 'D001-1-4'; \
         ANALYZE deliveries",
    )
    .await;

    run(&mut conn, "BEGIN").await;
    // The plans the worker's prepared statements settle on after their fifth run.
    run(&mut conn, "SET LOCAL plan_cache_mode = force_generic_plan").await;
    let before = rows_read(&mut conn).await;
    let oldest = deliveries::due_in(&mut conn, i64::MIN, 10_000, 100)
        .await
        .unwrap();
    let oldest_read = rows_read(&mut conn).await - before;
    let others = deliveries::due_of_in(&mut conn, &["beeline"], i64::MIN, 10_000, 100)
        .await
        .unwrap();
    let others_read = rows_read(&mut conn).await - before - oldest_read;
    // The worker asks for every provider of the catalogue with room: with hundreds, only those
    // with unfinished deliveries are read.
    let catalogue = a_catalogue_of_hundreds("beeline");
    let before = rows_read(&mut conn).await;
    let of_hundreds = deliveries::due_of_in(&mut conn, &catalogue, i64::MIN, 10_000, 100)
        .await
        .unwrap();
    let of_hundreds_read = rows_read(&mut conn).await - before;
    run(&mut conn, "ROLLBACK").await;
    assert_eq!(
        of_hundreds, others,
        "asked with 599 more providers, the same found"
    );
    assert!(
        of_hundreds_read <= 10,
        "the other provider's 3 due deliveries, asked among 600, read {of_hundreds_read} rows"
    );

    assert!(
        oldest.iter().all(|job| job.provider == "kcell"),
        "the hundred oldest due are all the silent provider's"
    );
    let mut found: Vec<&str> = others
        .iter()
        .map(|job| job.transaction_id.as_str())
        .collect();
    found.sort_unstable();
    assert_eq!(
        found,
        ["D001-1-1", "D001-1-2", "D001-1-3"],
        "the other provider's two waiting and its claim whose lease ran out (D001-1-3), \
         not the claim still held (D001-1-4)"
    );
    assert!(
        others_read <= 10,
        "the other provider's 3 due deliveries read {others_read} rows of deliveries"
    );
    assert!(
        oldest_read <= 100,
        "the 100 oldest due deliveries read {oldest_read} rows of deliveries"
    );
}

/// `provider` and 599 providers more, as the delivery worker asks [`deliveries::due_of_in`]
/// for every provider of a real catalogue that has room.
fn a_catalogue_of_hundreds(provider: &str) -> Vec<&str> {
    static MORE: OnceLock<Vec<String>> = OnceLock::new();
    let more = MORE.get_or_init(|| (1..600).map(|i| format!("utility{i}")).collect());
    std::iter::once(provider)
        .chain(more.iter().map(String::as_str))
        .collect()
}

/// SQLite: the reads past the providers at their cap, asked for a catalogue of hundreds, find
/// each provider's due deliveries through an index, the providers with deliveries too — none
/// reads the deliveries whole (PostgreSQL's reads are counted above).
#[tokio::test]
async fn the_reads_past_the_capped_search_an_index_in_a_catalogue_of_hundreds() {
    if std::env::var(support::POSTGRES_URL_VARIABLE).is_ok() {
        return;
    }
    let _catching = CATCHING.lock().await;
    let (_gateway, mut conn) = one_payment().await;
    run(
        &mut conn,
        "UPDATE deliveries SET state = 'queued', provider_txn = NULL, finished_at_ms = NULL, \
         next_attempt_at_ms = 1000",
    )
    .await;
    take_statements();
    let due = deliveries::due_of_in(
        &mut conn,
        &a_catalogue_of_hundreds("kcell"),
        i64::MIN,
        10_000,
        100,
    )
    .await
    .unwrap();
    let ran = single_statements(&take_statements());
    assert_eq!(
        due.iter()
            .map(|job| job.transaction_id.as_str())
            .collect::<Vec<_>>(),
        ["D001-1"],
        "Kcell's one due delivery, found among 600 providers asked"
    );
    assert!(
        ran.iter()
            .any(|statement| statement.contains("WITH RECURSIVE")),
        "the providers with deliveries were looked for: {ran:#?}"
    );
    for statement in &ran {
        let steps = scans(&mut conn, statement).await;
        assert!(
            steps.is_empty(),
            "{statement}\n    {}",
            steps.join("\n    ")
        );
    }

    // A hundred providers more with a delivery due each, the later the provider's number the
    // earlier: more than one statement reads them, and the oldest of them all come first.
    copy_the_payment(&mut conn, "many-", 100).await;
    run(
        &mut conn,
        "UPDATE deliveries SET state = 'queued', provider_txn = NULL, finished_at_ms = NULL, \
         provider = 'utility' || substr(transaction_id, 13), \
         next_attempt_at_ms = 5000 - CAST(substr(transaction_id, 13) AS INTEGER) \
         WHERE transaction_id LIKE 'D001-1-many-%'",
    )
    .await;
    let due = deliveries::due_of_in(
        &mut conn,
        &a_catalogue_of_hundreds("kcell"),
        i64::MIN,
        10_000,
        4,
    )
    .await
    .unwrap();
    assert_eq!(
        due.iter()
            .map(|job| (job.transaction_id.as_str(), job.provider.as_str()))
            .collect::<Vec<_>>(),
        [
            ("D001-1", "kcell"),
            ("D001-1-many-100", "utility100"),
            ("D001-1-many-99", "utility99"),
            ("D001-1-many-98", "utility98"),
        ],
        "the four due first of 101 providers' deliveries"
    );
}

/// PostgreSQL only: a batch of outcomes finds its deliveries by primary key with a plan made
/// while the table was small — which a prepared statement keeps as the table grows, until the
/// next `ANALYZE`. The gateway benchmark analyzes after 2 000 payments and then takes 40 000 in
/// seconds; its outcomes' statement, planned then to read the table whole and hash it, read
/// every delivery in every batch (2.5–8 ms a statement, auto_explain, issue 14).
#[tokio::test]
async fn a_plan_made_while_deliveries_were_few_still_finds_them_by_primary_key() {
    if std::env::var(support::POSTGRES_URL_VARIABLE).is_err() {
        return;
    }
    // The benchmark's moment: 2 000 deliveries, analyzed. Every statement from now on keeps
    // the plan its first run makes, as a prepared statement does once PostgreSQL settles on a
    // generic plan (after five runs).
    let (_gateway, mut conn) = one_payment().await;
    copy_the_payment(&mut conn, "few-", 2_000).await;
    run(
        &mut conn,
        "ANALYZE deliveries; SET plan_cache_mode = force_generic_plan",
    )
    .await;
    let few: Vec<String> = (1..=16).map(|n| format!("D001-1-few-{n}")).collect();
    mark_delivered(&mut conn, &few).await;
    // Then the backlog grows tenfold, unfinished, with no ANALYZE since (nor any change of the
    // table's definition, which would have the statement planned anew).
    copy_the_payment(&mut conn, "many-", BACKLOG).await;
    run(
        &mut conn,
        "UPDATE deliveries SET state = 'queued', provider_txn = NULL, finished_at_ms = NULL \
         WHERE transaction_id LIKE 'D001-1-many-%'",
    )
    .await;
    let many: Vec<String> = (1..=16).map(|n| format!("D001-1-many-{n}")).collect();

    run(&mut conn, "BEGIN").await;
    let before = rows_read(&mut conn).await;
    let marked = mark_delivered(&mut conn, &many).await;
    let marks_read = rows_read(&mut conn).await - before;
    run(&mut conn, "ROLLBACK").await;
    assert!(marked.iter().all(|m| *m), "every named delivery is marked");
    assert!(
        marks_read < 100,
        "marking {} deliveries read {marks_read} rows of deliveries",
        many.len()
    );
}

/// A provider's registry of one business day and the console's troubled deliveries (unfinished
/// for long, or failed lately) read the deliveries they list, whatever else the table holds:
/// before migration 0017 the registry read every delivery ever delivered to the provider, and
/// the troubled list the whole table. On SQLite by their plans; on PostgreSQL by the rows they
/// read, with 20 000 deliveries finished long ago behind them.
#[tokio::test]
async fn a_day_s_registry_and_the_troubled_deliveries_read_only_theirs() {
    let _catching = CATCHING.lock().await;
    let on_postgres = std::env::var(support::POSTGRES_URL_VARIABLE).is_ok();
    // `D001-1`, queued now: troubled (for the list, anything queued before now + 1 is late).
    // Copies of it finished long ago, and among them one delivered today and one failed today.
    let (_gateway, mut conn) = one_payment().await;
    copy_the_payment(&mut conn, "old-", if on_postgres { BACKLOG } else { 100 }).await;
    let now = now_ms();
    run(
        &mut conn,
        &format!(
            "UPDATE deliveries SET finished_at_ms = {now}, txn_id = 7 \
             WHERE transaction_id = 'D001-1-old-1'; \
             UPDATE deliveries SET state = 'failed', provider_txn = NULL, finished_at_ms = {now} \
             WHERE transaction_id = 'D001-1-old-2'; \
             ANALYZE deliveries"
        ),
    )
    .await;
    take_statements();

    if on_postgres {
        run(&mut conn, "BEGIN").await;
    }
    let before = if on_postgres {
        rows_read(&mut conn).await
    } else {
        0
    };
    let lines = registry::of_day(&mut *conn, "kcell", business_date(now))
        .await
        .unwrap();
    let registry_read = if on_postgres {
        rows_read(&mut conn).await - before
    } else {
        0
    };
    let troubled = deliveries::troubled(&mut *conn, None, now + 1, now - 1_000, 50)
        .await
        .unwrap();
    let troubled_read = if on_postgres {
        rows_read(&mut conn).await - before - registry_read
    } else {
        0
    };
    if on_postgres {
        run(&mut conn, "ROLLBACK").await;
    }
    let txn_ids: Vec<i64> = lines.iter().map(|line| line.txn_id).collect();
    assert_eq!(txn_ids, [7], "today's registry is the one delivered today");
    let mut listed: Vec<&str> = troubled
        .iter()
        .map(|troubled| troubled.delivery.transaction_id.as_str())
        .collect();
    listed.sort_unstable();
    assert_eq!(
        listed,
        ["D001-1", "D001-1-old-2"],
        "the queued and the failed"
    );

    if on_postgres {
        assert!(
            registry_read < 100,
            "a day's registry read {registry_read} rows of deliveries"
        );
        assert!(
            troubled_read < 100,
            "the troubled deliveries read {troubled_read} rows of deliveries"
        );
        return;
    }
    let ran: Vec<String> = single_statements(&take_statements())
        .into_iter()
        .filter(|statement| statement.contains("FROM deliveries d"))
        .collect();
    assert_eq!(ran.len(), 2, "the registry's and the list's: {ran:#?}");
    for statement in &ran {
        // The unfinished deliveries' own index holds only them: read whole, it is the backlog.
        let steps: Vec<String> = scans(&mut conn, statement)
            .await
            .into_iter()
            .filter(|step| !step.ends_with("USING INDEX deliveries_unfinished"))
            .collect();
        assert!(
            steps.is_empty(),
            "{statement}\n    {}",
            steps.join("\n    ")
        );
    }
}

/// A gateway with one payment, `D001-1`, whose delivery stays queued (no provider connected,
/// no worker started), and a connection of its pool with the deliveries table kept out of
/// PostgreSQL's autovacuum's way (it would analyze the copies anew): one connection, since
/// the copies' table is its own.
async fn one_payment() -> (support::Gateway, sqlx::pool::PoolConnection<sqlx::Any>) {
    let gateway = support::start().await;
    let phone = gateway.ready_phone(1).await;
    let (_, reply) = gateway.pay(&phone, kcell("7011111111", THOUSAND)).await;
    assert_eq!(reply.code(), ResultCode::Ok);
    let mut conn = gateway.pool.acquire().await.unwrap();
    if std::env::var(support::POSTGRES_URL_VARIABLE).is_ok() {
        run(
            &mut conn,
            "ALTER TABLE deliveries SET (autovacuum_enabled = false)",
        )
        .await;
    }
    (gateway, conn)
}

/// On PostgreSQL only (`None` on SQLite): [`one_payment`] and [`BACKLOG`] copies of it and
/// its delivery, delivered, for a test to turn into the backlog it needs.
async fn a_backlog_on_postgres() -> Option<(support::Gateway, sqlx::pool::PoolConnection<sqlx::Any>)>
{
    std::env::var(support::POSTGRES_URL_VARIABLE).ok()?;
    let (gateway, mut conn) = one_payment().await;
    copy_the_payment(&mut conn, "", BACKLOG).await;
    Some((gateway, conn))
}

/// Marks the deliveries of `ids` delivered, as a batch of the worker's outcomes does (each
/// with its first attempt, at time 1); whether each was marked.
async fn mark_delivered(conn: &mut sqlx::AnyConnection, ids: &[String]) -> Vec<bool> {
    let attempt = Attempt {
        attempt: 1,
        at_ms: 1,
        request: "GET /pay".to_owned(),
        answer: Some("<response><result>0</result></response>".to_owned()),
        outcome: "delivered".to_owned(),
        result_code: Some(0),
        error: None,
        latency_ms: 1,
    };
    let marks: Vec<OutcomeMark<'_>> = ids
        .iter()
        .map(|id| OutcomeMark {
            transaction_id: id,
            attempt: Some(&attempt),
            outcome: Outcome::Delivered {
                provider_txn: Some("p"),
            },
            comment: None,
            at_ms: 1,
        })
        .collect();
    let mut batch = Batch::new(conn);
    let slots = deliveries::mark_all_into(&mut batch, &marks);
    let mut done = batch.run(conn).await.unwrap();
    deliveries::marked_found(&mut done, &slots, &marks).unwrap()
}

/// Inserts `count` copies of the database's one payment `D001-1` and of its delivery,
/// delivered, named `D001-1-{tag}{n}`.
async fn copy_the_payment(conn: &mut sqlx::AnyConnection, tag: &str, count: usize) {
    run(
        conn,
        &format!(
            "CREATE TEMP TABLE copies AS WITH RECURSIVE numbers (n) AS \
             (SELECT 1 UNION ALL SELECT n + 1 FROM numbers WHERE n < {count}) \
             SELECT p.*, n FROM payments p, numbers WHERE p.transaction_id = 'D001-1'; \
             UPDATE copies SET session = session || '-{tag}' || n, \
             transaction_id = transaction_id || '-{tag}' || n; \
             ALTER TABLE copies DROP COLUMN n; \
             INSERT INTO payments SELECT * FROM copies; \
             INSERT INTO deliveries (transaction_id, provider, state, next_attempt_at_ms, \
             provider_txn, queued_at_ms, updated_at_ms, finished_at_ms) \
             SELECT transaction_id, provider, 'delivered', 0, 'p', 0, 0, 0 FROM copies; \
             DROP TABLE copies"
        ),
    )
    .await;
}

/// Runs `sql` (one statement or several) on `conn`, as a person at psql would.
async fn run(conn: &mut sqlx::AnyConnection, sql: &str) {
    sqlx::raw_sql(sql)
        .execute(&mut *conn)
        .await
        .unwrap_or_else(|error| panic!("{sql}: {error}"));
}

/// PostgreSQL: the pages of `deliveries_unfinished` this server has read so far. Statistics
/// reach the shared counters when a connection is idle, at most once a second unless forced:
/// forced here, so the count includes every statement of `conn` before this call.
async fn unfinished_index_blocks(conn: &mut sqlx::AnyConnection) -> i64 {
    run(conn, "SELECT pg_stat_force_next_flush()").await;
    sqlx::query_scalar(
        "SELECT CAST(idx_blks_hit + idx_blks_read AS BIGINT) FROM pg_statio_user_indexes \
         WHERE indexrelname = 'deliveries_unfinished'",
    )
    .fetch_one(&mut *conn)
    .await
    .unwrap()
}

/// The rows of `deliveries` this connection has read and not yet reported to the server's
/// statistics (its transaction's, at least), whole-table scans and index scans together.
async fn rows_read(conn: &mut sqlx::AnyConnection) -> i64 {
    sqlx::query_scalar(
        "SELECT CAST(COALESCE(seq_tup_read, 0) + COALESCE(idx_tup_fetch, 0) AS BIGINT) \
         FROM pg_stat_xact_user_tables WHERE relname = 'deliveries'",
    )
    .fetch_one(&mut *conn)
    .await
    .unwrap()
}
