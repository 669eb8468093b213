//! Guards §12 in a browser without Background Sync (Firefox, like Safari): nothing fires a sync
//! event when the network returns, so the deferred payments must go from the page — when its
//! health check sees the gateway again — or when the cashier opens the app again. Each reaches
//! the gateway exactly once and the dealer's balance moves by exactly their sum.
//!
//! Real parts only: the release build and its service worker in Firefox ESR, the gateway binary,
//! and an outage made by a proxy that drops every connection.

use std::collections::HashSet;
use std::time::{Duration, Instant};

use tolem_e2e::{
    Action, Console, Engine, Fault, Gateway, GatewayPayment, Phone, Proxy, Taken, free_port,
    kcell_number, path_from_env,
};

/// The page checks the gateway every 30 s and then retries with backoff: what a cashier waits.
const PATIENCE: Duration = Duration::from_secs(120);

#[tokio::test(flavor = "multi_thread")]
async fn firefox_sends_deferred_payments_once_when_the_network_returns() {
    let dist = path_from_env("TOLEM_DIST");
    let data = tempfile::tempdir().unwrap();
    let gateway = Gateway::start(free_port(), &dist, data.path());
    let proxy = Proxy::start(gateway.port).await;
    let mut console = Console::log_in(&gateway.url(), false).await;
    let phone = Phone::certified_in(Engine::Firefox, &proxy.url(), &mut console).await;
    let balance_before = console.balance_tiyn().await;

    // The network goes down; the cashier defers three payments and keeps the app open.
    proxy.set_fault(Fault::Down);
    let mut taken = defer(&phone, 0..3).await;
    assert_eq!(proxy.delivered_payments(), 0, "nothing reached the gateway");

    // The network returns. Nobody touches the phone: the page notices and sends them.
    proxy.set_fault(Fault::None);
    let held = wait_for_payments(&console, taken.len()).await;
    assert_exactly_once(&held, &taken);
    phone
        .browser
        .wait_for(
            "the header to show nothing waiting",
            "return document.querySelector('#outbox-summary')?.dataset.count === '0'",
        )
        .await;

    // Down again; two more deferred, then the app is closed before the network returns.
    proxy.set_fault(Fault::Down);
    phone.open_payment_form().await;
    taken.extend(defer(&phone, 3..5).await);
    phone.browser.client.goto("about:blank").await.unwrap();
    proxy.set_fault(Fault::None);

    // The cashier opens the app again: what waited goes, once.
    phone.browser.client.goto(&phone.app).await.unwrap();
    let held = wait_for_payments(&console, taken.len()).await;
    assert_exactly_once(&held, &taken);
    assert_eq!(
        proxy.delivered_payments(),
        taken.len(),
        "each payment sent once, alone or in a batch"
    );
    let sum: i64 = taken.iter().map(|p| p.amount_tiyn).sum();
    assert_eq!(console.balance_tiyn().await, balance_before - sum);

    phone.close().await;
    console.close().await;
}

/// Defers one Kcell payment per number in `numbers` from the open form.
async fn defer(phone: &Phone, numbers: std::ops::Range<usize>) -> Vec<Taken> {
    let mut taken = Vec::new();
    for n in numbers {
        let payment = phone
            .pay(Action::Defer, &kcell_number(n), &format!("{}", 1_000 + n))
            .await;
        assert_eq!(payment.state, "deferred", "payment {n}: {payment:?}");
        taken.push(payment);
    }
    taken
}

/// Waits until the gateway holds `count` payments (or more: the assertions then say what).
async fn wait_for_payments(console: &Console, count: usize) -> Vec<GatewayPayment> {
    let deadline = Instant::now() + PATIENCE;
    loop {
        let held = console.payments().await;
        if held.len() >= count || Instant::now() > deadline {
            return held;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

/// The gateway holds exactly the payments the phone took, each once, all accepted.
fn assert_exactly_once(held: &[GatewayPayment], taken: &[Taken]) {
    let sessions: HashSet<&str> = held.iter().map(|p| p.session.as_str()).collect();
    let expected: HashSet<&str> = taken.iter().map(|p| p.session.as_str()).collect();
    assert_eq!(held.len(), taken.len(), "one row per payment: {held:?}");
    assert_eq!(sessions, expected, "the very sessions the phone made");
    assert!(held.iter().all(|p| p.status == "accepted"), "{held:?}");
}
