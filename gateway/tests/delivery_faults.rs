//! Guards "never lost, never paid twice" on the outbound leg, with the real `tolem-gateway`
//! binary: 1 000 accepted payments are delivered to a provider emulator that answers HTTP
//! 500, "not finished yet" (90) and cuts answers after it committed, at random; one in twenty
//! goes to an account the provider does not know. In the middle of the deliveries the gateway
//! is killed with SIGKILL and started again on the same database. In the end every payment is
//! delivered or refunded, the provider holds each transaction number at most once (and each
//! delivered payment with the number the gateway recorded), the ledger equals the sum of its
//! entries, and the dealer's balance is exactly the hand-calculated figure.

mod support;

use std::{collections::HashMap, path::Path, process::Stdio, time::Duration};

use support::{
    Gateway,
    delivery::emulator,
    payments::{DEALER, kcell},
};
use tokio::{
    io::{AsyncBufReadExt, BufReader},
    process::{Child, Command},
};
use tolem_protocol::codes::ResultCode;

const PAYMENTS: usize = 1_000;
/// Every this many-th payment goes to an account the provider does not know.
const UNKNOWN_EVERY: usize = 20;
/// 100 tenge each.
const AMOUNT: i64 = 10_000;

/// The binary with a clean environment, in `dir`, delivering to `provider_url` with quick
/// retries and a short claim (so the restarted gateway takes over what the killed one held),
/// long enough for the provider's slow answers below (an attempt waits four fifths of it).
fn gateway_command(dir: &Path, provider_url: &str) -> Command {
    let mut command = support::binary_in(dir);
    command
        .env("RUST_LOG", "warn")
        .args([
            "--port",
            "0",
            "--demo",
            "--demo-provider-url",
            provider_url,
            "--delivery-first-retry-ms",
            "50",
            "--delivery-lease-ms",
            "5000",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
    command
}

/// Starts the binary and returns it with its URL, once it prints its banner.
async fn start(dir: &Path, provider_url: &str) -> (Child, String) {
    let mut child = gateway_command(dir, provider_url).spawn().unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap()).lines();
    let url = tokio::time::timeout(Duration::from_secs(60), async {
        while let Some(line) = stdout.next_line().await.unwrap() {
            if let Some(url) = line.strip_prefix("Tolem gateway listening on ") {
                return url.to_owned();
            }
        }
        panic!("the gateway ended without a banner");
    })
    .await
    .unwrap();
    // Keep reading so the banner's remaining lines never block the gateway.
    tokio::spawn(async move { while let Ok(Some(_)) = stdout.next_line().await {} });
    (child, url)
}

async fn scalar(gateway: &Gateway, query: &str) -> i64 {
    sqlx::query_scalar(query)
        .fetch_one(&gateway.pool)
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_payments_survive_faults_and_a_killed_gateway_delivered_or_refunded_once() {
    let unknown: Vec<String> = (0..PAYMENTS)
        .filter(|i| i % UNKNOWN_EVERY == 0)
        .map(|i| format!("701{i:07}"))
        .collect();
    let mut args = vec![
        "--open",
        "--status-500-rate",
        "0.1",
        "--temporary-rate",
        "0.1",
        "--cut-after-commit-rate",
        "0.1",
        "--delay-jitter-ms",
        "10",
        "--seed",
        "11",
    ];
    for account in &unknown {
        args.extend(["--missing", account.as_str()]);
    }
    let provider = emulator(&args).await;

    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().to_owned();
    let (mut first, url) = start(&path, &provider.url).await;
    let gateway = Gateway::attach(url, dir).await;
    let phone = gateway.ready_phone(1).await;
    let before = gateway.balance_of(DEALER).await;

    // While the payments are taken the provider answers slowly (well inside the gateway's
    // 10 s timeout), so however long a busy machine takes to pay, most deliveries are still
    // ahead when the faults below start: the kill must land in the middle of them.
    let faults = provider.provider.faults();
    provider
        .provider
        .set_faults(tolem_providers::emulator::faults::Faults {
            delay_ms: 2_000,
            ..faults.clone()
        })
        .unwrap();
    for i in 0..PAYMENTS {
        let (_, reply) = gateway
            .pay(&phone, kcell(&format!("701{i:07}"), AMOUNT))
            .await;
        assert_eq!(
            reply.code(),
            ResultCode::Ok,
            "payment {i}: {}",
            reply.text()
        );
    }

    provider.provider.set_faults(faults).unwrap();

    // Kill it in the middle of the deliveries: some are done, some are in flight.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(120);
    while scalar(
        &gateway,
        "SELECT COUNT(*) FROM deliveries WHERE state IN ('delivered', 'failed')",
    )
    .await
        < (PAYMENTS / 3) as i64
    {
        assert!(
            tokio::time::Instant::now() < deadline,
            "deliveries do not move"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    first.kill().await.unwrap();
    let unfinished_at_kill = scalar(
        &gateway,
        "SELECT COUNT(*) FROM deliveries WHERE state NOT IN ('delivered', 'failed')",
    )
    .await;
    assert!(
        unfinished_at_kill > 0,
        "the kill came too late to prove anything"
    );

    let (_second, _) = start(&path, &provider.url).await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(300);
    loop {
        let unfinished = scalar(
            &gateway,
            "SELECT COUNT(*) FROM deliveries WHERE state NOT IN ('delivered', 'failed')",
        )
        .await;
        if unfinished == 0 {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{unfinished} deliveries never finished"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    let refunded = unknown.len() as i64;
    let delivered = PAYMENTS as i64 - refunded;
    assert_eq!(gateway.deliveries_in("delivered").await, delivered);
    assert_eq!(gateway.deliveries_in("failed").await, refunded);
    let refused_other_than_unknown = scalar(
        &gateway,
        "SELECT COUNT(*) FROM deliveries d JOIN payments p ON p.transaction_id = d.transaction_id \
         WHERE d.state = 'failed' AND (d.refusal <> 'account_not_found' OR d.result_code <> 5)",
    )
    .await;
    assert_eq!(refused_other_than_unknown, 0);

    // The provider holds each number once, and every delivered payment with the number the
    // gateway recorded; nothing it committed is unknown to the gateway.
    let ours: Vec<(i64, String)> =
        sqlx::query_as("SELECT txn_id, provider_txn FROM deliveries WHERE state = 'delivered'")
            .fetch_all(&gateway.pool)
            .await
            .unwrap();
    let ours: HashMap<u64, String> = ours.into_iter().map(|(t, p)| (t as u64, p)).collect();
    let held = provider.provider.payments();
    let committed: Vec<_> = held.iter().filter(|p| p.result == Some(0)).collect();
    assert_eq!(committed.len() as i64, delivered, "committed once each");
    for payment in &committed {
        assert_eq!(
            ours.get(&payment.txn_id),
            payment.prv_txn.map(|n| n.to_string()).as_ref(),
            "txn_id {} committed by the provider as {:?}",
            payment.txn_id,
            payment.prv_txn
        );
    }
    let mut accounts: Vec<&str> = held.iter().map(|p| p.account.as_str()).collect();
    accounts.sort_unstable();
    accounts.dedup();
    assert_eq!(
        accounts.len(),
        PAYMENTS,
        "one provider transaction per payment"
    );
    assert!(
        held.iter().any(|p| p.pays_received > 1),
        "the faults and the kill made the gateway ask again"
    );

    // The money: all paid, the refused ones back (their commission, not credited yet, is
    // reversed, so it never reaches the balance).
    gateway.assert_ledger_matches(DEALER).await;
    assert_eq!(
        gateway.balance_of(DEALER).await,
        before - PAYMENTS as i64 * AMOUNT + refunded * AMOUNT
    );
}
