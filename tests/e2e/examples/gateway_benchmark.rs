//! The gateway benchmark (issue 14): how many signed `pay` requests per second the release
//! gateway decides, on SQLite and on PostgreSQL, next to the limits of this machine measured in
//! the same run — so the ratio holds even when something else is using the machine.
//!
//! For each database it starts the release gateway (`TOLEM_GATEWAY_BIN`) with demo data, enrols
//! a key the way a phone does, has the dealer admin certify it in the console (a real browser),
//! opens the dealer's balance and limits wide (a benchmark fixture: straight SQL), signs every
//! request *before* the clock starts, and sends them from `CLIENTS` concurrent keep-alive
//! connections, asking for answers bound to their requests as the app does. It prints
//! payments/s and the latency of each request (p50, p95, p99), then checks every answer — its
//! signature under the gateway key, code 0 — and that the gateway holds each payment once. The
//! gateway delivers the payments meanwhile, as in production, to a provider emulator (OSMP).
//! `PROVIDER_DELAY_MS` makes the emulator answer each request that many milliseconds late, as a
//! provider across a network does (default 0: at once, so the deliveries take every processor
//! cycle they can get beside the payments — the hardest case for payments/s); the benchmark
//! prints how many payments were delivered while the measured requests ran, and then, with no
//! payment coming, how fast the deliveries left over drain and what each costs the machine.
//! `PROVIDER_TEMPORARY_RATE=1` has it answer every payment "later" (OSMP 90), as a provider in
//! an outage does: every delivery attempt is then a retry to record, beside the payments.
//! `DEALERS=n` (default 1) spreads the payments over n dealers, each with a point and a phone of
//! its own (the dealers after the first are a fixture: straight SQL), request i from dealer
//! i mod n: with one dealer every payment waits for the one dealer's row, the hardest case;
//! a gateway in service has many.
//! `MIXED=1` has the payments go to the demo's four mobile providers in turn, with daily
//! limits on every point and dealer (high enough to refuse none), as a point's day is: each
//! payment group then reads several providers' commission rates and the day's sums too
//! (default: every payment to Kcell, no limits).
//! From the gateway's `/metrics` it also prints the payment writer's mean group (its payments
//! and the time of each step) and how much of the run the writer spent in groups: near 100 %,
//! the one writer, not the processor, sets the pace.
//!
//! The limits, measured here too:
//! - **Ed25519**: signatures made and checked per second on one core, with the protocol crate's
//!   keys (the gateway's own code); each payment costs the gateway one check and one signature;
//! - **durable commits per second** of the same database on the same disk: one-row `INSERT`
//!   transactions, SQLite in WAL mode with `synchronous=FULL` (the gateway's settings) from one
//!   connection, PostgreSQL with `fsync` on from one connection and from `CLIENTS` at once.
//!
//! `scripts/gateway-benchmark.sh [N]` builds what it needs and runs it (N payments per database,
//! default 5 000); `DATABASES=sqlite` or `DATABASES=postgres` runs one of the two.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use sqlx::{AnyPool, Connection};
use tolem_e2e::{
    Console, Gateway, NativePhone, POINT, Postgres, Signed, free_port, path_from_env,
    start_provider,
};
use tolem_protocol::{
    codes::ResultCode,
    keys::SecretKey,
    messages::{Message, Payment, Response},
    signing::{
        BIND_HEADER, BIND_REQUEST_SHA256, KEY_HEADER, SIGNATURE_HEADER, bound_answer,
        request_digest,
    },
};

/// Concurrent connections sending payments (the issue's 32 clients).
const CLIENTS: usize = 32;
const POINT_PASSWORD: &str = "tolem-demo-1001";
/// 100 tenge: every provider of the demo takes it.
const AMOUNT_TIYN: i64 = 10_000;
/// Payments sent before the measured ones on each database (the same requests' shape; the
/// benchmark analyzes a PostgreSQL database after them). scripts/gateway-profile.sh reads it
/// from the header line.
const WARM_UP: usize = 2_000;
/// The throw-away gateway's `/metrics` token, for reading its payment groups' steps.
const METRICS_TOKEN: &str = "gateway-benchmark";
/// How long each raw-limit measurement runs.
const RAW_SPAN: Duration = Duration::from_secs(2);

#[tokio::main]
async fn main() {
    let n: usize = env_or("N", 5_000);
    let dist = path_from_env("TOLEM_DIST");
    sqlx::any::install_default_drivers();
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());

    println!(
        "gateway benchmark: {n} signed pay requests per database after a warm-up of {WARM_UP}, {CLIENTS} clients, {cores} cores"
    );
    let ed25519 = ed25519_per_core();
    // One check and one signature per payment, on every core, and nothing else.
    let cpu_limit = cores as f64 / (1.0 / ed25519.verify + 1.0 / ed25519.sign);
    println!(
        "  Ed25519, one core: {:.0} checks/s, {:.0} signatures/s → at most {cpu_limit:.0} payments/s on {cores} cores for the signatures alone",
        ed25519.verify, ed25519.sign
    );

    // Both by default; `DATABASES=sqlite` or `DATABASES=postgres` runs one (to profile it).
    let databases = std::env::var("DATABASES").unwrap_or_else(|_| "sqlite,postgres".to_owned());
    let wanted = |name: &str| databases.split(',').any(|d| d.trim() == name);

    if wanted("sqlite") {
        let sqlite_dir = tempfile::tempdir().expect("a temporary directory");
        let sqlite_commits = sqlite_commits_per_second(sqlite_dir.path()).await;
        let sqlite_url = format!(
            "sqlite://{}?mode=rwc",
            sqlite_dir.path().join("tolem.db").display()
        );
        let sqlite = run(&dist, sqlite_dir.path(), &sqlite_url, n).await;
        report("SQLite", &sqlite, sqlite_commits, None, cpu_limit);
    }

    if wanted("postgres") {
        let pg = Postgres::start();
        let (pg_one, pg_many) = postgres_commits_per_second(&pg.url).await;
        let pg_dir = tempfile::tempdir().expect("a temporary directory");
        let postgres = run(&dist, pg_dir.path(), &pg.url, n).await;
        report("PostgreSQL", &postgres, pg_one, Some(pg_many), cpu_limit);
    }
}

/// What one database's run measured.
struct Run {
    /// Accepted payments per second.
    payments_per_s: f64,
    /// Milliseconds per request, sorted.
    latencies_ms: Vec<f64>,
    /// Requests answered with another code than 0, and those codes.
    not_accepted: usize,
    codes: Vec<String>,
    /// Where the machine's processor time went during the measured requests.
    cpu_per_payment: cpu::PerPayment,
    /// Payments delivered to the provider while the measured requests ran.
    delivered_meanwhile: i64,
    /// The deliveries left over, sent with no payment coming.
    drain: Drain,
    /// The payment writer's groups during the measured requests, and the measured span.
    groups: groups::Groups,
    elapsed_s: f64,
    /// From the measured requests' start until the drain found every delivery finished.
    until_delivered_s: f64,
    /// With `STATEMENTS=1` on PostgreSQL: where the server's time went (one line a statement).
    statements: Option<Vec<String>>,
}

fn report(name: &str, run: &Run, commits_one: f64, commits_many: Option<f64>, cpu_limit: f64) {
    let p = |q: f64| percentile(&run.latencies_ms, q);
    println!("{name}:");
    println!(
        "  gateway:            {:>9.0} payments/s   latency p50 {:.1} ms, p95 {:.1} ms, p99 {:.1} ms",
        run.payments_per_s,
        p(0.50),
        p(0.95),
        p(0.99)
    );
    if run.not_accepted > 0 {
        println!(
            "  NOT ACCEPTED:       {:>9} requests (codes {})",
            run.not_accepted,
            run.codes.join(", ")
        );
    }
    println!("  durable commits/s, one connection:       {commits_one:>9.0}");
    if let Some(many) = commits_many {
        println!("  durable commits/s, {CLIENTS} connections:       {many:>9.0}");
    }
    println!(
        "  delivered to the provider meanwhile: {} ({:.0}/s; the provider answers after {} ms, \
         \"later\" to {:.0} % of the payments)",
        run.delivered_meanwhile,
        run.delivered_meanwhile as f64 / run.elapsed_s,
        provider_delay_ms(),
        provider_temporary_rate() * 100.0
    );
    run.drain.report();
    // Every payment must reach its provider too. The pace a gateway keeps up for good is the
    // payments over the time until the last of them was delivered, whatever share of the
    // processor the deliveries took meanwhile — the figure above moves with that share: cheaper
    // deliveries run faster beside the payments and take as much.
    if run.drain.left == 0 {
        let accepted = run.payments_per_s * run.elapsed_s;
        println!(
            "  accepted and delivered, end to end: {:.0} payments/s ({:.1} s from the first payment until the last was delivered)",
            accepted / run.until_delivered_s,
            run.until_delivered_s
        );
    } else {
        println!(
            "  accepted and delivered, end to end: not measured ({} deliveries still waiting after {:.0} s)",
            run.drain.left, run.drain.seconds
        );
    }
    run.groups.report(run.elapsed_s);
    let cpu = &run.cpu_per_payment;
    println!(
        "  processor time per payment: gateway {:.0} µs, this benchmark (clients, provider emulator) {:.0} µs, database server {:.0} µs; machine busy {:.0} %",
        cpu.gateway_us,
        cpu.benchmark_us,
        cpu.database_us,
        cpu.machine_busy * 100.0
    );
    println!(
        "  written to the disk per payment: gateway {:.1} KiB, database server {:.1} KiB",
        cpu.gateway_disk_bytes / 1024.0,
        cpu.database_disk_bytes / 1024.0
    );
    if !cpu.database_roles.is_empty() {
        let roles: Vec<String> = cpu
            .database_roles
            .iter()
            // The background processes that did nothing meanwhile are left out.
            .filter(|role| role.us > 0.0 || role.written_bytes > 0.0)
            .map(|role| {
                format!(
                    "{} {:.0} µs, {:.1} KiB written ({:.1} KiB handed to write calls)",
                    role.name,
                    role.us,
                    role.written_bytes / 1024.0,
                    role.handed_bytes / 1024.0
                )
            })
            .collect();
        println!("  the database server by process: {}", roles.join("; "));
    }
    println!(
        "  the gateway alone on these {} cores: at most {:.0} payments/s",
        cpu.cores,
        cpu.cores as f64 * 1e6 / cpu.gateway_us
    );
    print_statements(run.statements.as_deref(), "  ");
    let best_commits = commits_many.unwrap_or(commits_one).max(commits_one);
    println!(
        "  ratio: payments/s ÷ durable commits/s = {:.2}; ÷ Ed25519 limit = {:.2}",
        run.payments_per_s / best_commits,
        run.payments_per_s / cpu_limit
    );
}

fn percentile(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let index = ((sorted.len() as f64 - 1.0) * q).round() as usize;
    sorted[index.min(sorted.len() - 1)]
}

/// Starts the gateway on `database_url`, delivering to a provider emulator of its own, readies a
/// certified phone and sends it `n` pre-signed payments (after a warm-up of two thousand that
/// are not counted).
async fn run(dist: &Path, data_dir: &Path, database_url: &str, n: usize) -> Run {
    // Deliveries run alongside, as in production: each accepted payment goes to this emulator.
    // One per run: each database numbers its transactions from 1 again, and a provider that
    // saw txn_id 7 for another account refuses it (OSMP 300), so a shared one would turn the
    // second run's deliveries into refusals and refunds that fight the payments for the
    // dealer's row.
    let delay = provider_delay_ms().to_string();
    let temporary_rate = provider_temporary_rate().to_string();
    let provider = start_provider(&[
        "--open",
        "--delay-ms",
        &delay,
        "--temporary-rate",
        &temporary_rate,
    ])
    .await;
    let provider_url = provider.url.as_str();
    let port = free_port();
    let shared = tolem_e2e::Shared {
        database_url: database_url.to_owned(),
        gateway_key_file: data_dir.join("gateway.key"),
        mail_dir: data_dir.join("mail"),
    };
    let flags = [
        "--demo-provider-url",
        provider_url,
        "--metrics-token",
        METRICS_TOKEN,
    ];
    let gateway = Gateway::start_shared(port, dist, &shared, true, &flags);
    let base = gateway.url();
    let phone = NativePhone::enrol(&base, POINT, POINT_PASSWORD, 11).await;
    let mut console = Console::log_in(&base, true).await;
    console.certify_and_activate(&phone.card.key_serial).await;
    console.close().await;

    let pool = AnyPool::connect(database_url)
        .await
        .expect("the benchmark opens the gateway's database");
    let mut phones = vec![Arc::new(phone)];
    let mut points = vec![POINT.to_owned()];
    for k in 2..=dealers() {
        let (dealer, point) = (format!("D{k:03}"), format!("P{k}001"));
        // A fixture: the dealer, its point with the demo point's password and a cashier.
        for sql in [
            format!(
                "INSERT INTO dealers (code, name, created_at_ms) VALUES ('{dealer}', 'Dealer {k}', 0)"
            ),
            format!(
                "INSERT INTO points (code, dealer_code, name, password_hash, created_at_ms) \
                 SELECT '{point}', '{dealer}', 'Point {k}', password_hash, 0 FROM points \
                 WHERE code = '{POINT}'"
            ),
            format!(
                "INSERT INTO cashiers (point_code, code, name, created_at_ms) \
                 VALUES ('{point}', 'C1', 'Cashier', 0)"
            ),
        ] {
            sqlx::query(&sql).execute(&pool).await.expect("fixture SQL");
        }
        let seed = u8::try_from(10 + k).expect("DEALERS up to 245");
        let phone = NativePhone::enrol(&base, &point, POINT_PASSWORD, seed).await;
        // The first phone was certified in the console; these by a fixture.
        for sql in [
            format!(
                "UPDATE keys SET state = 'certified' WHERE serial = '{}'",
                phone.card.key_serial
            ),
            format!("UPDATE points SET active = 1 WHERE code = '{point}'"),
        ] {
            sqlx::query(&sql).execute(&pool).await.expect("fixture SQL");
        }
        phones.push(Arc::new(phone));
        points.push(point);
    }
    // A fixture, not a money movement: enough balance for every payment, and no limits.
    for sql in [
        format!(
            "UPDATE dealers SET balance_tiyn = {}, payment_limit_tiyn = NULL, daily_limit_tiyn = NULL",
            (n + WARM_UP + 10) as i64 * AMOUNT_TIYN
        ),
        "UPDATE points SET payment_limit_tiyn = NULL, daily_limit_tiyn = NULL".to_owned(),
    ] {
        sqlx::query(&sql).execute(&pool).await.expect("fixture SQL");
    }
    if mixed() {
        let far_above = (n + WARM_UP + 10) as i64 * AMOUNT_TIYN * 2;
        for table in ["dealers", "points"] {
            sqlx::query(&format!(
                "UPDATE {table} SET daily_limit_tiyn = {far_above}"
            ))
            .execute(&pool)
            .await
            .expect("fixture SQL");
        }
    }

    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(CLIENTS)
        .timeout(Duration::from_secs(120))
        .build()
        .expect("an HTTP client");
    let sign = |first: usize, count: usize| -> Vec<Signed> {
        (first..first + count)
            .map(|i| phones[i % phones.len()].pay(payment(i), i as u64))
            .collect()
    };
    let warm = sign(0, WARM_UP);
    let warm_answers = send_all(&client, &base, &phones, warm.clone()).await;
    let requests = sign(WARM_UP, n);
    if database_url.starts_with("postgres") {
        // A database in service has statistics; a new one has none until autovacuum's first
        // round, a minute after the changes start. Without them PostgreSQL plans the payment
        // path's look-ups for empty tables (scans), and the gateway's prepared statements keep
        // those plans: the run would measure the gateway's first minute, not its service.
        // Measured (pg_stat_statements, auto_explain): the group's duplicate look-up and the
        // delivery claim's statements scanned every payment, 4–15 ms a statement, and the
        // database server took 2 400–2 550 µs a payment, 1 460–1 800 µs with statistics. Hence
        // also a warm-up of 2 000: analyzed at 300 rows, a claim of 16 was still planned as a
        // scan, which a table of thousands never is.
        sqlx::query("ANALYZE")
            .execute(&pool)
            .await
            .expect("the benchmark analyzes the database");
    }

    let watched = statements::watch(&pool, database_url).await;
    let growth_before = if watched {
        Some(statements::growth_mark(&pool).await)
    } else {
        None
    };
    let groups_before = groups::Groups::scrape(&client, &base).await;
    let delivered_before = delivered(&pool).await;
    let cpu_before = cpu::Snapshot::take(gateway.pid());
    let started = Instant::now();
    let answers = send_all(&client, &base, &phones, requests.clone()).await;
    let elapsed = started.elapsed().as_secs_f64();
    let cpu = cpu::Snapshot::take(gateway.pid()).since(&cpu_before);
    let statements = match growth_before {
        Some(before) => {
            let after = statements::growth_mark(&pool).await;
            let mut lines = vec![statements::growth(before, after, n, "payment")];
            lines.extend(statements::top(&pool, n, "payment").await);
            Some(lines)
        }
        None => None,
    };
    let groups = groups::Groups::scrape(&client, &base)
        .await
        .since(&groups_before);
    // Deliveries run behind the payments; how many went meanwhile shows how much of the
    // processor time above was theirs.
    let delivered_meanwhile = delivered(&pool).await - delivered_before;
    // At once, before this benchmark checks the answers' signatures (seconds of its processor).
    let drain = Drain::measure(&pool, gateway.pid(), watched).await;
    // Up to one poll of the drain late (0.2 s).
    let until_delivered_s = drain.ended.duration_since(started).as_secs_f64();

    // Every answer after the clock: signed by the gateway for its own request. A code other than
    // 0 is counted, not hidden: "not decided" (999) under load is a finding, not noise.
    // Every phone holds the same gateway key.
    let accepted_in_warm_up = codes(&phones[0], &warm, &warm_answers)
        .iter()
        .filter(|code| **code == ResultCode::Ok)
        .count();
    let codes = codes(&phones[0], &requests, &answers);
    let accepted = codes.iter().filter(|code| **code == ResultCode::Ok).count();
    let mut latencies_ms: Vec<f64> = answers.iter().map(|(_, _, ms)| *ms).collect();
    latencies_ms.sort_by(f64::total_cmp);
    let mut stored = 0_i64;
    for point in &points {
        let at_point: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM payments WHERE point_code = $1 AND state = 'accepted'",
        )
        .bind(point)
        .fetch_one(&pool)
        .await
        .expect("count of payments");
        stored += at_point;
    }
    assert_eq!(
        stored,
        (accepted + accepted_in_warm_up) as i64,
        "the gateway holds each accepted payment once"
    );
    pool.close().await;
    gateway.kill();
    let mut refused: Vec<String> = Vec::new();
    for code in codes.iter().filter(|code| **code != ResultCode::Ok) {
        refused.push(code.number().to_string());
    }
    refused.sort();
    refused.dedup_by(|a, b| a == b);
    Run {
        payments_per_s: accepted as f64 / elapsed,
        latencies_ms,
        not_accepted: n - accepted,
        codes: refused,
        cpu_per_payment: cpu.per(n),
        delivered_meanwhile,
        drain,
        groups,
        elapsed_s: elapsed,
        until_delivered_s,
        statements,
    }
}

/// How many dealers the payments are spread over (`DEALERS`, default 1).
fn dealers() -> usize {
    env_or("DEALERS", 1)
}

/// The code of each answer, once its signature holds under the gateway key for its request.
fn codes(
    phone: &NativePhone,
    requests: &[Signed],
    answers: &[(Vec<u8>, String, f64)],
) -> Vec<ResultCode> {
    requests
        .iter()
        .zip(answers)
        .map(|(request, (body, signature, _))| {
            let signature = signature.parse().unwrap_or_else(|_| {
                panic!(
                    "an answer without a signature: {}",
                    String::from_utf8_lossy(body)
                )
            });
            phone
                .card
                .gateway_key
                .verify(
                    &bound_answer(&request_digest(&request.body), body),
                    &signature,
                )
                .expect("the answer is signed by the gateway key for its request");
            Response::decode(body).expect("a protocol answer").code
        })
        .collect()
}

/// Whether the payments go to several providers, under daily limits (`MIXED=1`).
fn mixed() -> bool {
    env_or("MIXED", 0) == 1
}

/// The demo's mobile providers with a prefix of each (`gateway/src/db/seed.rs`).
const MOBILE: [(&str, &str); 4] = [
    ("kcell", "701"),
    ("beeline", "705"),
    ("tele2", "707"),
    ("altel", "700"),
];

fn payment(i: usize) -> Payment {
    let (provider, prefix) = if mixed() {
        MOBILE[i % MOBILE.len()]
    } else {
        MOBILE[0]
    };
    Payment {
        provider: provider.into(),
        // A number of its own for every payment: the duplicate rule never applies.
        account: format!("{prefix}{i:07}"),
        amount_tiyn: AMOUNT_TIYN,
        customer_amount_tiyn: AMOUNT_TIYN,
        comment: None,
    }
}

/// The deliveries left after the measured requests, sent with nothing else for the gateway to
/// do: how fast they go and what each costs the machine — a delivery's own price, which the
/// figures of the payments include for those delivered meanwhile.
struct Drain {
    delivered: i64,
    /// Deliveries still unfinished when the drain stopped waiting.
    left: i64,
    /// When it stopped waiting.
    ended: Instant,
    seconds: f64,
    /// Per delivery ("benchmark": the provider emulator alone now).
    cpu: cpu::PerPayment,
    /// With `STATEMENTS=1` on PostgreSQL: the server's time by statement, per delivery.
    statements: Option<Vec<String>>,
}

impl Drain {
    /// The longest the benchmark waits for the deliveries left (a provider answering late
    /// sends them at the worker's pace, not the processor's).
    const LONGEST: Duration = Duration::from_secs(60);

    /// Waits until no delivery is left, or [`Self::LONGEST`] has passed. It counts those
    /// left, which the deliveries' partial index holds alone, not those delivered (counting
    /// the whole table ten times a second cost the server 30–40 µs a delivery), five times a
    /// second (about 5 µs a delivery).
    async fn measure(pool: &AnyPool, gateway_pid: u32, watched: bool) -> Drain {
        let growth_before = if watched {
            statements::reset(pool).await;
            Some(statements::growth_mark(pool).await)
        } else {
            None
        };
        let before = cpu::Snapshot::take(gateway_pid);
        let first = unfinished(pool).await;
        let started = Instant::now();
        let mut left = first;
        while left > 0 && started.elapsed() < Self::LONGEST {
            tokio::time::sleep(Duration::from_millis(200)).await;
            left = unfinished(pool).await;
        }
        let ended = Instant::now();
        let seconds = ended.duration_since(started).as_secs_f64();
        let used = cpu::Snapshot::take(gateway_pid).since(&before);
        // The provider takes every payment (`--open`): none is refused and reversed.
        let delivered = first - left;
        let count = usize::try_from(delivered).unwrap_or(0);
        let statements = match growth_before {
            Some(before) => {
                let after = statements::growth_mark(pool).await;
                let mut lines = vec![statements::growth(before, after, count, "delivery")];
                lines.extend(statements::top(pool, count, "delivery").await);
                Some(lines)
            }
            None => None,
        };
        Drain {
            delivered,
            left,
            ended,
            seconds,
            cpu: used.per(count),
            statements,
        }
    }

    fn report(&self) {
        println!(
            "  then the deliveries left, nothing else coming: {} in {:.1} s ({:.0}/s); processor time a delivery: gateway {:.0} µs, provider emulator {:.0} µs, database server {:.0} µs",
            self.delivered,
            self.seconds,
            self.delivered as f64 / self.seconds,
            self.cpu.gateway_us,
            self.cpu.benchmark_us,
            self.cpu.database_us
        );
        let roles: Vec<String> = self
            .cpu
            .database_roles
            .iter()
            .filter(|role| role.us >= 1.0)
            .map(|role| format!("{} {:.0} µs", role.name, role.us))
            .collect();
        if !roles.is_empty() {
            println!("    the database server's by process: {}", roles.join("; "));
        }
        print_statements(self.statements.as_deref(), "    ");
    }
}

/// With `STATEMENTS=1` on PostgreSQL: the server's time by statement, under a heading indented
/// by `indent`.
fn print_statements(statements: Option<&[String]>, indent: &str) {
    if let Some(statements) = statements {
        println!("{indent}the database server's time by statement (pg_stat_statements):");
        for line in statements {
            println!("{indent}  {line}");
        }
    }
}

/// Deliveries not finished yet.
async fn unfinished(pool: &AnyPool) -> i64 {
    sqlx::query_scalar(
        "SELECT COUNT(*) FROM deliveries WHERE state IN ('queued', 'sent', 'retrying')",
    )
    .fetch_one(pool)
    .await
    .expect("count of deliveries left")
}

/// The number in the environment variable `name`, or `default` when it is unset or no number.
fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// How late the provider emulator answers (`PROVIDER_DELAY_MS`, default 0).
fn provider_delay_ms() -> u64 {
    env_or("PROVIDER_DELAY_MS", 0)
}

/// The share of payments the provider emulator answers "later" (`PROVIDER_TEMPORARY_RATE`,
/// 0.0–1.0, default 0).
fn provider_temporary_rate() -> f64 {
    env_or("PROVIDER_TEMPORARY_RATE", 0.0)
}

/// Payments delivered to the provider so far.
async fn delivered(pool: &AnyPool) -> i64 {
    sqlx::query_scalar("SELECT COUNT(*) FROM deliveries WHERE state = 'delivered'")
        .fetch_one(pool)
        .await
        .expect("count of deliveries")
}

/// Sends `requests` (request i signed by `phones[i mod their count]`) from `CLIENTS`
/// connections, each taking the next request when its last is answered; returns (body,
/// signature header, milliseconds) per request, in request order.
async fn send_all(
    client: &reqwest::Client,
    base: &str,
    phones: &[Arc<NativePhone>],
    requests: Vec<Signed>,
) -> Vec<(Vec<u8>, String, f64)> {
    let requests = Arc::new(requests);
    let next = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let url = format!("{base}api/v1/pay");
    let mut tasks = Vec::new();
    for _ in 0..CLIENTS {
        let (client, url, phones) = (client.clone(), url.clone(), phones.to_vec());
        let (requests, next) = (requests.clone(), next.clone());
        tasks.push(tokio::spawn(async move {
            let mut answered = Vec::new();
            loop {
                let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                let Some(request) = requests.get(i) else {
                    return answered;
                };
                let phone = &phones[i % phones.len()];
                let started = Instant::now();
                let reply = client
                    .post(&url)
                    .header("content-type", "application/json")
                    .header(BIND_HEADER, BIND_REQUEST_SHA256)
                    .header(KEY_HEADER, &phone.card.key_serial)
                    .header(SIGNATURE_HEADER, &request.signature)
                    .body(request.body.clone())
                    .send()
                    .await
                    .expect("the gateway answers");
                let signature = reply
                    .headers()
                    .get(SIGNATURE_HEADER)
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or_default()
                    .to_owned();
                let body = reply.bytes().await.expect("the whole answer").to_vec();
                let ms = started.elapsed().as_secs_f64() * 1000.0;
                answered.push((i, (body, signature, ms)));
            }
        }));
    }
    let mut all = Vec::with_capacity(requests.len());
    for task in tasks {
        all.extend(task.await.expect("a client task"));
    }
    all.sort_by_key(|(i, _)| *i);
    all.into_iter().map(|(_, answer)| answer).collect()
}

/// `STATEMENTS=1` on PostgreSQL (`scripts/gateway-benchmark.sh` loads pg_stat_statements):
/// which statements the server spent the measured requests' time on.
mod statements {
    use sqlx::{AnyPool, Row};

    /// Whether to watch: then the statistics start from nothing now.
    pub async fn watch(pool: &AnyPool, database_url: &str) -> bool {
        if std::env::var_os("STATEMENTS").is_none() || !database_url.starts_with("postgres") {
            return false;
        }
        sqlx::query("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
            .execute(pool)
            .await
            .expect("pg_stat_statements is loaded (scripts/gateway-benchmark.sh)");
        reset(pool).await;
        true
    }

    /// The statistics start from nothing now.
    pub async fn reset(pool: &AnyPool) {
        sqlx::query("SELECT pg_stat_statements_reset()::text")
            .execute(pool)
            .await
            .expect("pg_stat_statements resets");
    }

    /// The database's tables and indexes, in bytes, and the WAL's position: read before and
    /// after the measured requests, the difference is what they made the files grow by and the
    /// WAL the server wrote meanwhile (its statements' and everything else's), and the
    /// transactions that ended meanwhile.
    pub async fn growth_mark(pool: &AnyPool) -> (i64, i64, i64, i64) {
        // pg_stat_database's counters are flushed by each backend at most once a second: the
        // count of transactions is right to about that.
        sqlx::query_as(
            "SELECT CAST(COALESCE(SUM(pg_relation_size(c.oid)), 0) AS BIGINT), \
             CAST(pg_current_wal_lsn() - '0/0' AS BIGINT), \
             (SELECT wal_write FROM pg_stat_wal), \
             (SELECT CAST(xact_commit + xact_rollback AS BIGINT) FROM pg_stat_database \
              WHERE datname = current_database()) \
             FROM pg_class c JOIN pg_namespace ns ON ns.oid = c.relnamespace \
             WHERE c.relkind IN ('r', 'i', 't') \
             AND ns.nspname NOT IN ('pg_catalog', 'information_schema')",
        )
        .fetch_one(pool)
        .await
        .expect("the database's size")
    }

    /// The line that says what [`growth_mark`]s `before` and `after` differ by, per `unit`
    /// (`n` of them).
    pub fn growth(
        before: (i64, i64, i64, i64),
        after: (i64, i64, i64, i64),
        n: usize,
        unit: &str,
    ) -> String {
        let per_unit = |bytes: i64| bytes as f64 / 1024.0 / n as f64;
        format!(
            "tables and indexes grew {:.1} KiB/{unit}; the server's WAL {:.2} KiB/{unit}, \
             written out in {} writes; {:.2} transactions/{unit}",
            per_unit(after.0 - before.0),
            per_unit(after.1 - before.1),
            after.2 - before.2,
            (after.3 - before.3) as f64 / n as f64
        )
    }

    /// How many statements [`top`] lists: `STATEMENTS=<n>`, or 15 (`STATEMENTS=1`).
    fn listed() -> i64 {
        Some(super::env_or("STATEMENTS", 15))
            .filter(|n| *n > 1)
            .unwrap_or(15)
    }

    /// The statements that took the most server time (planning and running) since [`watch`]
    /// or [`reset`], `n` of `unit` measured: microseconds a `unit` and of them planning, share
    /// of the total, calls, the statement's start.
    pub async fn top(pool: &AnyPool, n: usize, unit: &str) -> Vec<String> {
        let rows = sqlx::query(
            "SELECT query, CAST(calls AS BIGINT) AS calls, total_plan_time AS plan_ms, \
             total_plan_time + total_exec_time AS total_ms, \
             CAST(wal_bytes AS DOUBLE PRECISION) AS wal_bytes, CAST(wal_fpi AS BIGINT) AS wal_fpi, \
             CAST(SUM(wal_bytes) OVER () AS DOUBLE PRECISION) AS wal_all, \
             CAST(SUM(wal_fpi) OVER () AS BIGINT) AS fpi_all, \
             CAST(SUM(shared_blks_dirtied) OVER () AS BIGINT) AS dirtied_all, \
             CAST(SUM(shared_blks_written + temp_blks_written) OVER () AS BIGINT) AS written_all, \
             (total_plan_time + total_exec_time) \
             / NULLIF(SUM(total_plan_time + total_exec_time) OVER (), 0) AS share \
             FROM pg_stat_statements WHERE dbid = (SELECT oid FROM pg_database \
             WHERE datname = current_database()) ORDER BY total_ms DESC LIMIT $1",
        )
        .bind(listed())
        .fetch_all(pool)
        .await
        .expect("pg_stat_statements answers");
        // The sums over every statement, not only the ones listed (the window runs before LIMIT).
        let (wal_all, fpi_all, dirtied_all, written_all): (f64, i64, i64, i64) =
            rows.first().map_or((0.0, 0, 0, 0), |row| {
                (
                    row.get("wal_all"),
                    row.get("fpi_all"),
                    row.get("dirtied_all"),
                    row.get("written_all"),
                )
            });
        // Blocks are 8 KiB.
        let blocks_kib = |blocks: i64| blocks as f64 * 8.0 / n as f64;
        let total = format!(
            "all statements: WAL {:.2} KiB/{unit}, {:.2} page images/{unit}; blocks dirtied \
             {:.1} KiB/{unit}, written by the statements themselves {:.1} KiB/{unit}",
            wal_all / 1024.0 / n as f64,
            fpi_all as f64 / n as f64,
            blocks_kib(dirtied_all),
            blocks_kib(written_all)
        );
        std::iter::once(total)
            .chain(rows.iter().map(|row| {
                let query: String = row.get("query");
                let query: String = query.split_whitespace().collect::<Vec<_>>().join(" ");
                let calls: i64 = row.get("calls");
                let (total_ms, plan_ms): (f64, f64) = (row.get("total_ms"), row.get("plan_ms"));
                let share: f64 = row.try_get("share").unwrap_or(0.0);
                let (wal_bytes, wal_fpi): (f64, i64) = (row.get("wal_bytes"), row.get("wal_fpi"));
                let per_unit = |ms: f64| ms * 1000.0 / n as f64;
                format!(
                    "{:>6.1} µs/{unit} (planning {:>5.1}) {:>4.1} % {:>7} calls, \
                     WAL {:>5.2} KiB/{unit} ({:>4.2} page images)  {}",
                    per_unit(total_ms),
                    per_unit(plan_ms),
                    share * 100.0,
                    calls,
                    wal_bytes / 1024.0 / n as f64,
                    wal_fpi as f64 / n as f64,
                    query.chars().take(110).collect::<String>()
                )
            }))
            .collect()
    }
}

/// The payment writer's groups, from the gateway's `/metrics` (`tolem_payment_group_*`): how
/// many, how many payments each, and how long each step took — where a SQLite gateway's
/// payments wait for one another. Read before and after the measured requests, so the warm-up
/// does not count.
mod groups {
    use super::METRICS_TOKEN;

    /// The steps a group's time is split into, as the gateway labels them, and as printed.
    const STEPS: [(&str, &str); 4] = [
        ("turn", "its turn"),
        ("decide", "deciding"),
        ("riders", "riding deliveries"),
        ("commit", "commit"),
    ];

    /// Sums of the histograms: groups, payments in them, and seconds per step.
    #[derive(Clone, Copy, Debug, Default)]
    pub struct Groups {
        count: f64,
        payments: f64,
        seconds: [f64; STEPS.len()],
    }

    impl Groups {
        pub async fn scrape(client: &reqwest::Client, base: &str) -> Groups {
            let text = client
                .get(format!("{base}metrics"))
                .bearer_auth(METRICS_TOKEN)
                .send()
                .await
                .and_then(|reply| reply.error_for_status())
                .expect("the gateway's /metrics")
                .text()
                .await
                .expect("the metrics text");
            let sample = |series: &str| {
                text.lines()
                    .find_map(|line| line.strip_prefix(series)?.strip_prefix(' '))
                    .and_then(|value| value.parse::<f64>().ok())
                    // No group yet: the histogram has no samples.
                    .unwrap_or(0.0)
            };
            Groups {
                count: sample("tolem_payment_group_payments_count"),
                payments: sample("tolem_payment_group_payments_sum"),
                seconds: STEPS.map(|(step, _)| {
                    sample(&format!(
                        r#"tolem_payment_group_step_seconds_sum{{step="{step}"}}"#
                    ))
                }),
            }
        }

        /// What happened between `before` and this.
        pub fn since(&self, before: &Groups) -> Groups {
            Groups {
                count: self.count - before.count,
                payments: self.payments - before.payments,
                seconds: std::array::from_fn(|i| self.seconds[i] - before.seconds[i]),
            }
        }

        /// Prints the mean group and how much of `elapsed_s` the writer spent in groups.
        pub fn report(&self, elapsed_s: f64) {
            if self.count == 0.0 {
                return;
            }
            let steps: Vec<String> = STEPS
                .iter()
                .zip(self.seconds)
                .map(|((_, shown), s)| format!("{shown} {:.2} ms", s * 1000.0 / self.count))
                .collect();
            let busy: f64 = self.seconds.iter().sum();
            println!(
                "  payment groups: {:.0}, {:.1} payments each; a group: {} = {:.2} ms; the writer in a group {:.0} % of the run",
                self.count,
                self.payments / self.count,
                steps.join(", "),
                busy * 1000.0 / self.count,
                busy / elapsed_s * 100.0
            );
        }
    }
}

/// Processor time by program, from Linux's `/proc`: the gateway shares the machine with the
/// benchmark's own clients and emulator (and PostgreSQL's server), so payments/s alone does not
/// say how much of the machine the gateway needed. With it, the bytes the gateway and the
/// database server gave the disk: unlike the times, they hardly move with the machine's load,
/// so a change in what each payment writes (an index more or less) shows in one run.
mod cpu {
    use std::collections::HashMap;

    /// Clock ticks per second of `/proc`'s times (`getconf CLK_TCK`, 100 on Linux).
    const TICKS_PER_S: f64 = 100.0;

    /// What each process has used so far, and the machine's busy and total ticks.
    pub struct Snapshot {
        gateway_pid: u32,
        processes: HashMap<u32, Process>,
        machine_busy: u64,
        machine_total: u64,
    }

    /// One process: its program's name, its role if it is PostgreSQL's ([`server_role`]),
    /// and what it used.
    struct Process {
        name: String,
        role: Option<String>,
        counts: Counts,
    }

    /// What processes used so far: processor ticks, bytes written to storage (`/proc/<pid>/io`'s
    /// `write_bytes`, counted as the page cache takes them) and bytes handed to write calls
    /// (`wchar`).
    #[derive(Clone, Copy, Default)]
    struct Counts {
        ticks: u64,
        written: u64,
        handed: u64,
    }

    impl Counts {
        fn since(self, before: Counts) -> Counts {
            Counts {
                ticks: self.ticks.saturating_sub(before.ticks),
                written: self.written.saturating_sub(before.written),
                handed: self.handed.saturating_sub(before.handed),
            }
        }

        fn add(&mut self, other: Counts) {
            self.ticks += other.ticks;
            self.written += other.written;
            self.handed += other.handed;
        }
    }

    /// What one PostgreSQL process does, from the title it gives itself (`postgres:
    /// walwriter`, `postgres: tolem tolem_test 127.0.0.1(…) idle`): the background processes
    /// by name, the connections' backends together, the postmaster apart.
    fn server_role(cmdline: &str) -> String {
        const BACKGROUND: [&str; 7] = [
            "checkpointer",
            "background writer",
            "walwriter",
            "autovacuum launcher",
            "autovacuum worker",
            "logical replication launcher",
            "stats collector",
        ];
        match cmdline.strip_prefix("postgres: ") {
            Some(title) => BACKGROUND
                .iter()
                .find(|name| title.starts_with(*name))
                .map_or("client backends", |name| name)
                .to_owned(),
            None => "postmaster".to_owned(),
        }
    }

    /// What the server's processes of one role used during a span.
    struct RoleUsed {
        name: String,
        seconds: f64,
        written: u64,
        handed: u64,
    }

    /// A server role's share of a span, per payment.
    pub struct Role {
        pub name: String,
        pub us: f64,
        pub written_bytes: f64,
        /// What its write calls handed the kernel (`/proc/<pid>/io`'s `wchar`, sockets too).
        /// Measured 2026-12-05: PostgreSQL's client backends handed over 4.4× fewer bytes than
        /// `write_bytes` counts for them (strace: the WAL, one write a commit, and the tables'
        /// new pages): what the kernel counts in `write_bytes` is its own accounting of them.
        pub handed_bytes: f64,
    }

    /// Microseconds of processor time per payment, by side.
    pub struct PerPayment {
        pub gateway_us: f64,
        pub benchmark_us: f64,
        pub database_us: f64,
        /// Bytes written to the disk per payment: by the gateway (SQLite's WAL, its checkpoints
        /// and the database file) and by PostgreSQL's server processes.
        pub gateway_disk_bytes: f64,
        pub database_disk_bytes: f64,
        /// The database server's share by process role, the busiest first (PostgreSQL only).
        pub database_roles: Vec<Role>,
        /// Share of all cores busy during the run (0–1).
        pub machine_busy: f64,
        pub cores: usize,
    }

    impl Snapshot {
        /// The gateway is the process `gateway_pid` (its binary may have any name).
        pub fn take(gateway_pid: u32) -> Self {
            let mut processes = HashMap::new();
            for entry in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
                let Some(pid) = entry
                    .file_name()
                    .to_str()
                    .and_then(|n| n.parse::<u32>().ok())
                else {
                    continue;
                };
                let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else {
                    continue;
                };
                // `pid (name) state ppid …`: the name may hold spaces, so split at the last ')'.
                let (Some(open), Some(close)) = (stat.find('('), stat.rfind(')')) else {
                    continue;
                };
                let fields: Vec<&str> = stat[close + 1..].split_whitespace().collect();
                // utime and stime are fields 14 and 15 of the line, 12 and 13 after the name.
                let ticks = |i: usize| fields.get(i).and_then(|v| v.parse::<u64>().ok());
                let name = stat[open + 1..close].to_owned();
                let (written, handed) = io_counts(&entry.path());
                let role = (name == "postgres").then(|| {
                    let cmdline = std::fs::read(entry.path().join("cmdline")).unwrap_or_default();
                    server_role(String::from_utf8_lossy(&cmdline).trim_end_matches('\0'))
                });
                let counts = Counts {
                    ticks: match (ticks(11), ticks(12)) {
                        (Some(user), Some(system)) => user + system,
                        _ => 0,
                    },
                    written,
                    handed,
                };
                processes.insert(pid, Process { name, role, counts });
            }
            let machine = std::fs::read_to_string("/proc/stat").unwrap_or_default();
            let times: Vec<u64> = machine
                .lines()
                .next()
                .unwrap_or_default()
                .split_whitespace()
                .skip(1)
                .filter_map(|v| v.parse().ok())
                .collect();
            // user nice system idle iowait irq softirq steal …: idle and iowait are not busy.
            let total: u64 = times.iter().take(8).sum();
            let idle = times.get(3).copied().unwrap_or(0) + times.get(4).copied().unwrap_or(0);
            Snapshot {
                gateway_pid,
                processes,
                machine_busy: total - idle,
                machine_total: total,
            }
        }

        /// What was used between `before` and this snapshot, process by process: a process
        /// started meanwhile counts whole; one that ended meanwhile is not counted (what it
        /// used is gone with it — the database server's connections the gateway's pool closes
        /// are such). Summed by program name instead, an ended process took its past use out
        /// of the sum and hid what the others used.
        pub fn since(&self, before: &Snapshot) -> Used {
            let mut by_program: HashMap<&str, Counts> = HashMap::new();
            let mut by_role: HashMap<&str, Counts> = HashMap::new();
            let mut gateway = Counts::default();
            for (pid, now) in &self.processes {
                let used = match before.processes.get(pid) {
                    // A pid taken by another program meanwhile is a new process.
                    Some(then) if then.name == now.name => now.counts.since(then.counts),
                    _ => now.counts,
                };
                if *pid == self.gateway_pid {
                    gateway = used;
                }
                by_program.entry(now.name.as_str()).or_default().add(used);
                if let Some(role) = &now.role {
                    by_role.entry(role.as_str()).or_default().add(used);
                }
            }
            let seconds = |counts: Counts| counts.ticks as f64 / TICKS_PER_S;
            let program = |name: &str| by_program.get(name).copied().unwrap_or_default();
            let mut database_roles: Vec<RoleUsed> = by_role
                .iter()
                .map(|(name, used)| RoleUsed {
                    name: (*name).to_owned(),
                    seconds: seconds(*used),
                    written: used.written,
                    handed: used.handed,
                })
                .collect();
            database_roles.sort_by(|a, b| {
                b.seconds
                    .total_cmp(&a.seconds)
                    .then(b.written.cmp(&a.written))
            });
            Used {
                database_roles,
                gateway_s: seconds(gateway),
                gateway_written: gateway.written,
                database_written: program("postgres").written,
                // The kernel cuts a program's name to 15 bytes.
                benchmark_s: seconds(program("gateway_benchma")),
                database_s: seconds(program("postgres")),
                machine_busy: (self.machine_busy - before.machine_busy) as f64
                    / (self.machine_total - before.machine_total).max(1) as f64,
            }
        }
    }

    /// Processor seconds used, and bytes written to storage, during a span.
    pub struct Used {
        /// PostgreSQL's processes by role, the busiest first.
        database_roles: Vec<RoleUsed>,
        gateway_s: f64,
        gateway_written: u64,
        database_written: u64,
        benchmark_s: f64,
        database_s: f64,
        machine_busy: f64,
    }

    /// `write_bytes` and `wchar` of the process at `proc_dir` (0 when they cannot be read).
    fn io_counts(proc_dir: &std::path::Path) -> (u64, u64) {
        let io = std::fs::read_to_string(proc_dir.join("io")).unwrap_or_default();
        let field = |name: &str| {
            io.lines()
                .find_map(|line| line.strip_prefix(name))
                .and_then(|value| value.trim().parse().ok())
                .unwrap_or(0)
        };
        (field("write_bytes:"), field("wchar:"))
    }

    impl Used {
        pub fn per(&self, payments: usize) -> PerPayment {
            let us = |seconds: f64| seconds * 1e6 / payments.max(1) as f64;
            PerPayment {
                gateway_us: us(self.gateway_s),
                benchmark_us: us(self.benchmark_s),
                database_us: us(self.database_s),
                gateway_disk_bytes: self.gateway_written as f64 / payments.max(1) as f64,
                database_disk_bytes: self.database_written as f64 / payments.max(1) as f64,
                database_roles: self
                    .database_roles
                    .iter()
                    .map(|role| Role {
                        name: role.name.clone(),
                        us: us(role.seconds),
                        written_bytes: role.written as f64 / payments.max(1) as f64,
                        handed_bytes: role.handed as f64 / payments.max(1) as f64,
                    })
                    .collect(),
                machine_busy: self.machine_busy,
                cores: std::thread::available_parallelism().map_or(1, |n| n.get()),
            }
        }
    }
}

struct Ed25519Rate {
    sign: f64,
    verify: f64,
}

/// Signatures made and checked per second on one core, over a pay request's size of body.
fn ed25519_per_core() -> Ed25519Rate {
    let key = SecretKey::from_seed(&[7; 32]);
    let public = key.public_key();
    let body = vec![b'x'; 420];
    let rate = |work: &mut dyn FnMut()| {
        let started = Instant::now();
        let mut count = 0u64;
        while started.elapsed() < RAW_SPAN {
            for _ in 0..100 {
                work();
            }
            count += 100;
        }
        count as f64 / started.elapsed().as_secs_f64()
    };
    let signature = key.sign(&body);
    Ed25519Rate {
        sign: rate(&mut || {
            std::hint::black_box(key.sign(std::hint::black_box(&body)));
        }),
        verify: rate(&mut || {
            public
                .verify(std::hint::black_box(&body), &signature)
                .expect("a valid signature");
        }),
    }
}

/// One-row transactions committed per second by SQLite in `dir` (same disk as the gateway's
/// database), in WAL mode with `synchronous=FULL`, from one connection.
async fn sqlite_commits_per_second(dir: &Path) -> f64 {
    let url = format!("sqlite://{}?mode=rwc", dir.join("raw.db").display());
    let mut conn = sqlx::AnyConnection::connect(&url)
        .await
        .expect("a SQLite file");
    for sql in [
        "PRAGMA journal_mode = WAL",
        "PRAGMA synchronous = FULL",
        "CREATE TABLE commits (n BIGINT PRIMARY KEY, payload TEXT NOT NULL)",
    ] {
        sqlx::query(sql).execute(&mut conn).await.expect(sql);
    }
    let started = Instant::now();
    let mut n = 0i64;
    while started.elapsed() < RAW_SPAN {
        sqlx::query("INSERT INTO commits (n, payload) VALUES ($1, $2)")
            .bind(n)
            .bind("a payment's worth of bytes")
            .execute(&mut conn)
            .await
            .expect("an insert");
        n += 1;
    }
    n as f64 / started.elapsed().as_secs_f64()
}

/// One-row transactions committed per second by the PostgreSQL server at `url` (fsync on, as
/// `scripts/postgres.sh` starts it): from one connection, and from `CLIENTS` at once (the
/// server flushes the write-ahead log of concurrent commits together).
async fn postgres_commits_per_second(url: &str) -> (f64, f64) {
    let pool = sqlx::any::AnyPoolOptions::new()
        .max_connections(CLIENTS as u32)
        .connect(url)
        .await
        .expect("the PostgreSQL server");
    sqlx::query("CREATE TABLE raw_commits (n BIGINT PRIMARY KEY, payload TEXT NOT NULL)")
        .execute(&pool)
        .await
        .expect("a table");
    let next = Arc::new(std::sync::atomic::AtomicI64::new(0));
    let measure = |connections: usize| {
        let (pool, next) = (pool.clone(), next.clone());
        async move {
            let started = Instant::now();
            let mut tasks = Vec::new();
            for _ in 0..connections {
                let (pool, next) = (pool.clone(), next.clone());
                tasks.push(tokio::spawn(async move {
                    let mut done = 0u64;
                    while started.elapsed() < RAW_SPAN {
                        let n = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        sqlx::query("INSERT INTO raw_commits (n, payload) VALUES ($1, $2)")
                            .bind(n)
                            .bind("a payment's worth of bytes")
                            .execute(&pool)
                            .await
                            .expect("an insert");
                        done += 1;
                    }
                    done
                }));
            }
            let mut done = 0;
            for task in tasks {
                done += task.await.expect("a commit task");
            }
            done as f64 / started.elapsed().as_secs_f64()
        }
    };
    let one = measure(1).await;
    let many = measure(CLIENTS).await;
    sqlx::query("DROP TABLE raw_commits")
        .execute(&pool)
        .await
        .expect("drop");
    pool.close().await;
    (one, many)
}
