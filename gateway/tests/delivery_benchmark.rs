//! The delivery benchmark (`scripts/delivery-benchmark.sh`; ignored in the test suite, it
//! measures rather than checks): a gateway on SQLite and a provider emulator over real HTTP
//! on this machine, side by side in one run:
//!
//! 1. **accept** — N signed `pay` requests from 32 concurrent clients, no delivery running:
//!    the gateway's own accept rate;
//! 2. **deliver** — the delivery worker drains those N: deliveries per second;
//! 3. **both** — N more payments while the worker runs: the accept rate with delivery running,
//!    and the queue's latency (accepted → delivered) p50 / p95.
//!
//! `TOLEM_BENCH_PAYMENTS` sets N (default 2 000).

mod support;

use std::{sync::Arc, time::Instant};

use support::{
    Gateway,
    delivery::{emulator, quick_retry},
    payments::kcell,
    phone::Phone,
};
use tolem_protocol::{
    codes::ResultCode,
    messages::{Message, Step},
};

const CLIENTS: usize = 32;
const AMOUNT: i64 = 10_000;

/// Sends `count` payments (accounts numbered from `first`) from `CLIENTS` concurrent clients;
/// returns the seconds it took.
async fn pay_all(gateway: &Arc<Gateway>, phone: &Arc<Phone>, first: usize, count: usize) -> f64 {
    let started = Instant::now();
    let mut tasks = Vec::new();
    for client in 0..CLIENTS {
        let (gateway, phone) = (gateway.clone(), phone.clone());
        tasks.push(tokio::spawn(async move {
            for i in (client..count).step_by(CLIENTS) {
                let account = format!("702{:07}", first + i);
                let body = phone.request(Step::Pay(kcell(&account, AMOUNT))).encode();
                let headers = phone.signature_headers(&phone.card.key_serial, &body);
                let reply = gateway.post("pay", body, &headers).await;
                assert_eq!(reply.code(), ResultCode::Ok, "{}", reply.text());
            }
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
    started.elapsed().as_secs_f64()
}

async fn unfinished(gateway: &Gateway) -> i64 {
    sqlx::query_scalar("SELECT COUNT(*) FROM deliveries WHERE state <> 'delivered'")
        .fetch_one(&gateway.pool)
        .await
        .unwrap()
}

async fn wait_all_delivered(gateway: &Gateway) {
    while unfinished(gateway).await > 0 {
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

fn percentile(sorted: &[i64], p: f64) -> i64 {
    let index = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[index.min(sorted.len() - 1)]
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "a benchmark: scripts/delivery-benchmark.sh"]
async fn delivery_benchmark() {
    let n: usize = std::env::var("TOLEM_BENCH_PAYMENTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(2_000);
    let gateway = Arc::new(support::start().await);
    let phone = Arc::new(gateway.ready_phone(1).await);
    // Enough money for every payment of the run.
    gateway
        .set_balance(support::payments::DEALER, (2 * n as i64 + 10) * AMOUNT)
        .await;
    let provider = emulator(&["--open"]).await;
    gateway
        .connect_provider("kcell", &provider.url, 10_000)
        .await;

    let accept_s = pay_all(&gateway, &phone, 0, n).await;
    let started = Instant::now();
    gateway.start_delivery(quick_retry());
    gateway.delivery_queue.wake();
    wait_all_delivered(&gateway).await;
    let deliver_s = started.elapsed().as_secs_f64();

    let both_s = pay_all(&gateway, &phone, n, n).await;
    wait_all_delivered(&gateway).await;
    let mut latencies: Vec<i64> = sqlx::query_scalar(
        "SELECT finished_at_ms - queued_at_ms FROM deliveries d \
         JOIN payments p ON p.transaction_id = d.transaction_id \
         WHERE p.account >= $1 ORDER BY 1",
    )
    .bind(format!("702{n:07}"))
    .fetch_all(&gateway.pool)
    .await
    .unwrap();
    latencies.sort_unstable();
    assert_eq!(latencies.len(), n);
    assert_eq!(provider.provider.payments().len(), 2 * n);

    println!(
        "delivery benchmark, SQLite, {n} payments per phase, {CLIENTS} clients, emulator on 127.0.0.1"
    );
    println!(
        "  accept only:            {:>8.1} payments/s  ({n} in {accept_s:.2} s)",
        n as f64 / accept_s
    );
    println!(
        "  deliver the backlog:    {:>8.1} deliveries/s ({n} in {deliver_s:.2} s)",
        n as f64 / deliver_s
    );
    println!(
        "  accept while delivering:{:>8.1} payments/s  ({n} in {both_s:.2} s)",
        n as f64 / both_s
    );
    println!(
        "  queue latency (accepted → delivered) while both run: p50 {} ms, p95 {} ms",
        percentile(&latencies, 0.5),
        percentile(&latencies, 0.95)
    );
}
