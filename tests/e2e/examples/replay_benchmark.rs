//! The slow-link replay benchmark (issue 14 item 3): defer `N` (default 100) payments in headless
//! Chromium with the network down, then let the service worker replay them to the local gateway
//! through the fault proxy throttled to 128 kbit/s each way with 300 ms round trips — once one by
//! one (the proxy answers 404 to the batch URL, as a gateway older than batches does) and once
//! batched, each phase with its own `N` payments, in one run — and print for each phase the time
//! from the browser's sync event to the last answer reaching the browser, the bytes that crossed
//! the link each way, and the bytes-over-bandwidth lower bound with the time's ratio to it.
//! Verifies that the gateway holds exactly `N` payments of each phase, once each, all accepted,
//! and that the dealer's balance moved by exactly their sum.
//!
//! `scripts/replay-benchmark.sh` builds what it needs and runs it.

use std::collections::HashSet;
use std::time::{Duration, Instant};

use tolem_e2e::{
    Console, Fault, Gateway, Link, Phone, Proxy, Traffic, defer_in_page, dispatch_sync, free_port,
    kcell_number, path_from_env, sync_registration_id,
};

const BATCH: &str = "/api/v1/batch";

/// What one phase measured.
struct Measured {
    seconds: f64,
    traffic: Traffic,
}

/// Defers `count` payments from number `first` with the network down, then fires the sync in
/// the worker with the app closed and the link slow, and waits until every payment reached the
/// gateway and every answer the browser.
async fn phase(phone: &Phone, proxy: &Proxy, first: usize, count: usize) -> Measured {
    proxy.set_link(None);
    proxy.set_fault(Fault::Down);
    phone.open_payment_form().await;
    defer_in_page(phone, first, count).await;
    phone
        .browser
        .wait_for(
            "the header to count every waiting payment",
            &format!(
                "return document.querySelector('#outbox-summary')?.dataset.count === '{count}'"
            ),
        )
        .await;
    let registration = sync_registration_id(&phone.browser, &phone.app).await;
    let delivered_before = proxy.delivered_payments();

    proxy.set_link(Some(Link::SLOW));
    proxy.reset_traffic();
    proxy.set_fault(Fault::None);
    let start = Instant::now();
    dispatch_sync(
        &phone.browser,
        phone.app.trim_end_matches('/'),
        &registration,
    )
    .await;
    let deadline = Instant::now() + Duration::from_secs(900);
    loop {
        let traffic = proxy.traffic();
        if proxy.delivered_payments() >= delivered_before + count && traffic.in_flight == 0 {
            break;
        }
        assert!(Instant::now() < deadline, "the replay did not finish");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let traffic = proxy.traffic();
    assert_eq!(
        proxy.delivered_payments() - delivered_before,
        count,
        "each payment sent once"
    );
    let last = traffic.last_answer_at.expect("answers arrived");
    proxy.set_link(None);
    Measured {
        seconds: (last - start).as_secs_f64(),
        traffic,
    }
}

/// The gateway holds exactly the `count` payments from number `first`, accepted, once each.
async fn assert_held_once(console: &Console, first: usize, count: usize) {
    let mut sessions = HashSet::new();
    let mut rows = 0;
    for block in (first..first + count).step_by(100) {
        let prefix = &kcell_number(block)[..8];
        for payment in console.payments_matching(prefix).await {
            assert_eq!(payment.status, "accepted", "{payment:?}");
            rows += 1;
            sessions.insert(payment.session);
        }
    }
    assert_eq!(rows, count, "one row per payment");
    assert_eq!(sessions.len(), count, "distinct sessions");
}

fn report(name: &str, measured: &Measured, link: Link) {
    let Traffic {
        up,
        down,
        requests,
        at_gateway,
        ..
    } = measured.traffic;
    let bound = up.max(down) as f64 / link.bytes_per_s as f64;
    println!(
        "  {name}: {:.1} s; {requests} requests; {up} bytes up, {down} bytes down; \
         bytes-over-bandwidth lower bound {bound:.1} s (the busier direction); \
         {:.2}× the bound; of the time, {:.1} s waited for the gateway to decide",
        measured.seconds,
        measured.seconds / bound,
        at_gateway.as_secs_f64()
    );
}

#[tokio::main]
async fn main() {
    let count: usize = std::env::var("N")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(100);
    // Each phase's numbers start at a multiple of 100, so a console search by prefix finds
    // exactly one phase's payments.
    let second = count.div_ceil(100) * 100;
    let dist = path_from_env("TOLEM_DIST");
    let data = tempfile::tempdir().unwrap();
    let gateway = Gateway::start(free_port(), &dist, data.path());
    let proxy = Proxy::start(gateway.port).await;
    let mut console = Console::log_in(&gateway.url(), false).await;
    let phone = Phone::certified(&proxy.url(), &mut console).await;
    let balance_before = console.balance_tiyn().await;

    // A gateway older than batches: the worker's batch gets 404 and it sends one by one.
    proxy.set_not_found(BATCH, true);
    let single = phase(&phone, &proxy, 0, count).await;
    assert_eq!(proxy.delivered(BATCH), 0);
    proxy.set_not_found(BATCH, false);
    let batched = phase(&phone, &proxy, second, count).await;
    assert!(
        proxy.delivered(BATCH) >= 1,
        "the batches reached the gateway"
    );

    assert_held_once(&console, 0, count).await;
    assert_held_once(&console, second, count).await;
    let moved = balance_before - console.balance_tiyn().await;
    assert_eq!(moved, 2 * count as i64 * 100_00, "two phases of 100 ₸ each");

    let link = Link::SLOW;
    println!(
        "replay benchmark: {count} deferred payments replayed by the service worker through a \
         {} kbit/s link ({} bytes/s each way) with {} ms round trips",
        link.bytes_per_s * 8 / 1000,
        link.bytes_per_s,
        link.round_trip.as_millis()
    );
    report("one by one (gateway without batches)", &single, link);
    report("batched (up to 50 per request)     ", &batched, link);
    println!(
        "  batched is {:.1}× faster; the gateway holds {count} + {count} payments, once each, \
         all accepted; the balance moved by {moved} tiyn",
        single.seconds / batched.seconds
    );
    phone.close().await;
    console.close().await;
}
