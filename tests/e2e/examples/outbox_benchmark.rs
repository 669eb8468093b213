//! The outbox benchmark (issue 5): defer 1 000 payments in headless Chromium with the network
//! down, then let the service worker replay them to the local gateway, and print
//!
//! - the time per deferral, median and 95th percentile: from the cashier's *Confirm* to the
//!   result on screen — signing the pay and status requests, and writing history and outbox in
//!   one IndexedDB transaction — measured in the page, without WebDriver's round trips;
//! - the replay's throughput in payments per second: from the browser's sync event to the last
//!   pay reaching the gateway, alone or in a batch (through the same fault proxy, healthy again);
//!
//! and verify that the gateway holds exactly 1 000 payments, once each, and that the dealer's
//! balance moved by exactly their sum.
//!
//! `scripts/outbox-benchmark.sh` builds what it needs and runs it (`N` payments, default 1000).

use std::collections::HashSet;
use std::time::{Duration, Instant};

use tolem_e2e::{
    Console, Fault, Gateway, Phone, Proxy, defer_in_page, dispatch_sync, free_port, kcell_number,
    path_from_env, sync_registration_id,
};

#[tokio::main]
async fn main() {
    let count: usize = std::env::var("N")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(1000);
    let dist = path_from_env("TOLEM_DIST");
    let data = tempfile::tempdir().unwrap();
    let gateway = Gateway::start(free_port(), &dist, data.path());
    let proxy = Proxy::start(gateway.port).await;
    let mut console = Console::log_in(&gateway.url(), false).await;
    let phone = Phone::certified(&proxy.url(), &mut console).await;
    let balance_before = console.balance_tiyn().await;

    proxy.set_fault(Fault::Down);
    let deferring = Instant::now();
    let mut times = defer_in_page(&phone, 0, count).await;
    let deferring = deferring.elapsed();
    assert_eq!(times.len(), count);
    phone
        .browser
        .wait_for(
            "the header to count every waiting payment",
            &format!(
                "return document.querySelector('#outbox-summary')?.dataset.count === '{count}'"
            ),
        )
        .await;
    let (_, total_shown, _) = phone.outbox_summary().await;

    // The app is closed, the network returns, the browser fires the sync in the worker.
    let registration = sync_registration_id(&phone.browser, &phone.app).await;
    proxy.set_fault(Fault::None);
    proxy.reset_traffic();
    let replaying = Instant::now();
    dispatch_sync(
        &phone.browser,
        phone.app.trim_end_matches('/'),
        &registration,
    )
    .await;
    let deadline = Instant::now() + Duration::from_secs(600);
    while proxy.delivered_payments() < count {
        assert!(Instant::now() < deadline, "the replay did not finish");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let replaying = replaying.elapsed();
    let traffic = proxy.traffic();

    // The gateway holds each exactly once: every payment's number, searched on the console's
    // payments page a hundred at a time (the page lists at most 500). A session is the gateway's
    // idempotency key, so distinct sessions are distinct payments; the balance shows none more.
    let mut sessions = HashSet::new();
    for block in 0..count.div_ceil(100) {
        let prefix = &kcell_number(block * 100)[..8];
        for payment in console.payments_matching(prefix).await {
            assert_eq!(payment.status, "accepted", "{payment:?}");
            sessions.insert(payment.session);
        }
    }
    let balance_after = console.balance_tiyn().await;
    let rows = sessions.len();
    assert_eq!(rows, count, "one payment per deferral");
    assert_eq!(
        proxy.delivered_payments(),
        count,
        "each payment sent once (alone or in a batch)"
    );
    assert_eq!(balance_before - balance_after, total_shown);

    times.sort_by(f64::total_cmp);
    let percentile = |p: f64| times[((times.len() as f64 * p).ceil() as usize).saturating_sub(1)];
    println!("outbox benchmark: {count} payments of 100 ₸");
    println!(
        "  deferral (Confirm → result shown, sign + one IndexedDB transaction): median {:.1} ms, p95 {:.1} ms (all {count} in {:.1} s with the cashier's taps)",
        percentile(0.5),
        percentile(0.95),
        deferring.as_secs_f64()
    );
    println!(
        "  replay by the service worker: {count} payments in {:.2} s = {:.1} payments/s",
        replaying.as_secs_f64(),
        count as f64 / replaying.as_secs_f64()
    );
    // What the replay's time went to: the gateway answering (from the proxy's forwarding of a
    // request to the end of its answer), and the rest — the worker reading and writing
    // IndexedDB, checking answers, and the browser's fetches.
    println!(
        "    of which at the gateway {:.2} s ({} requests), in the browser {:.2} s",
        traffic.at_gateway.as_secs_f64(),
        traffic.requests,
        (replaying.saturating_sub(traffic.at_gateway)).as_secs_f64()
    );
    println!(
        "  gateway holds {rows} payments (distinct sessions), all accepted; balance moved by {} tiyn",
        balance_before - balance_after
    );
    phone.close().await;
    console.close().await;
}
