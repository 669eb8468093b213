//! Issue 14 item 3: deferred payments replayed in batches by the real service worker to the real
//! gateway — twelve payments deferred with the network down go in one batch request (the proxy
//! sees the batch and not a single pay), each reaches the gateway exactly once, all accepted, and
//! the dealer's balance moves by exactly their sum. A gateway older than batches (the proxy
//! answers 404 to the batch URL, as such a gateway does) gets them one by one, each once.

use std::collections::HashSet;
use std::time::{Duration, Instant};

use tolem_e2e::{
    Action, Console, Fault, Gateway, Phone, Proxy, Taken, dispatch_sync, free_port, kcell_number,
    path_from_env, sync_registration_id,
};

const PAYMENTS: usize = 12;
const BATCH: &str = "/api/v1/batch";

/// Defers `PAYMENTS` payments (numbers from `first`) with the network down.
async fn defer_offline(phone: &Phone, proxy: &Proxy, first: usize) -> Vec<Taken> {
    proxy.set_fault(Fault::Down);
    let mut taken = Vec::new();
    for n in first..first + PAYMENTS {
        let payment = phone
            .pay(Action::Defer, &kcell_number(n), &format!("{}", 1_000 + n))
            .await;
        assert_eq!(payment.state, "deferred", "payment {n}: {payment:?}");
        taken.push(payment);
    }
    taken
}

/// The network returns with every page of the app closed; the browser fires the sync in the
/// worker, which replays alone. Waits until the gateway holds `expected` payments.
async fn worker_replays(phone: &Phone, proxy: &Proxy, console: &Console, expected: &[Taken]) {
    let registration = sync_registration_id(&phone.browser, &phone.app).await;
    proxy.set_fault(Fault::None);
    let origin = phone.app.trim_end_matches('/').to_owned();
    dispatch_sync(&phone.browser, &origin, &registration).await;
    let deadline = Instant::now() + Duration::from_secs(40);
    let held = loop {
        let held = console.payments().await;
        if held.len() >= expected.len() || Instant::now() > deadline {
            break held;
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
    };
    let sessions: HashSet<&str> = held.iter().map(|p| p.session.as_str()).collect();
    let wanted: HashSet<&str> = expected.iter().map(|p| p.session.as_str()).collect();
    assert_eq!(held.len(), expected.len(), "one row per payment: {held:?}");
    assert_eq!(sessions, wanted, "the very sessions the phone made");
    assert!(held.iter().all(|p| p.status == "accepted"), "{held:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn the_worker_sends_deferred_payments_in_a_batch_each_once() {
    let started = Instant::now();
    let dist = path_from_env("TOLEM_DIST");
    let data = tempfile::tempdir().unwrap();
    let gateway = Gateway::start(free_port(), &dist, data.path());
    let proxy = Proxy::start(gateway.port).await;
    let mut console = Console::log_in(&gateway.url(), false).await;
    let phone = Phone::certified(&proxy.url(), &mut console).await;
    let balance_before = console.balance_tiyn().await;

    let taken = defer_offline(&phone, &proxy, 0).await;
    assert_eq!(proxy.delivered_payments(), 0, "nothing reached the gateway");
    worker_replays(&phone, &proxy, &console, &taken).await;
    assert_eq!(proxy.delivered(BATCH), 1, "all twelve in one batch");
    assert_eq!(proxy.seen("/api/v1/pay"), 0, "no single pay");
    assert_eq!(proxy.delivered_payments(), PAYMENTS, "each sent once");
    let sum: i64 = taken.iter().map(|p| p.amount_tiyn).sum();
    assert_eq!(console.balance_tiyn().await, balance_before - sum);

    // Back in the app: the history shows them accepted and nothing waits.
    phone.open_payment_form().await;
    let states = phone.wait_until_all_final(Duration::from_secs(5)).await;
    assert!(states.iter().all(|(_, s)| s == "accepted"), "{states:?}");
    phone
        .browser
        .wait_for(
            "the header to show nothing waiting",
            "return document.querySelector('#outbox-summary')?.dataset.count === '0'",
        )
        .await;

    phone.close().await;
    console.close().await;
    eprintln!("took {:?}", started.elapsed());
}

#[tokio::test(flavor = "multi_thread")]
async fn an_older_gateway_gets_the_deferred_payments_one_by_one_each_once() {
    let started = Instant::now();
    let dist = path_from_env("TOLEM_DIST");
    let data = tempfile::tempdir().unwrap();
    let gateway = Gateway::start(free_port(), &dist, data.path());
    let proxy = Proxy::start(gateway.port).await;
    proxy.set_not_found(BATCH, true);
    let mut console = Console::log_in(&gateway.url(), false).await;
    let phone = Phone::certified(&proxy.url(), &mut console).await;
    let balance_before = console.balance_tiyn().await;

    let taken = defer_offline(&phone, &proxy, 100).await;
    worker_replays(&phone, &proxy, &console, &taken).await;
    assert!(proxy.seen(BATCH) >= 1, "the worker tried a batch first");
    assert_eq!(proxy.delivered(BATCH), 0);
    assert_eq!(proxy.delivered("/api/v1/pay"), PAYMENTS, "one pay each");
    assert_eq!(proxy.delivered_payments(), PAYMENTS);
    let sum: i64 = taken.iter().map(|p| p.amount_tiyn).sum();
    assert_eq!(console.balance_tiyn().await, balance_before - sum);

    phone.close().await;
    console.close().await;
    eprintln!("took {:?}", started.elapsed());
}
